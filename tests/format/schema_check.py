#!/usr/bin/env python3
"""The JSON Schema (schema/revos.schema.json) against revos itself, on a real server.

    tests/format/schema_check.py DSN                    fixtures, docs, pg_test payloads, mutations, probes
    tests/format/schema_check.py --harvest DIR          the payloads the in-database tests sent (tests/common)

Every payload gets two verdicts: the JSON Schema's (valid or not) and revos's (revos.plan_schema in a
fresh database, or the status the harvested call got: `blocked` with validation errors, or not).
They must agree. Where they legitimately differ — what only PostgreSQL or the snake_cased names can
tell, and where revos is more lenient than the schema — the difference must be explained by one of
RULES below, each of which is also listed in docs/format.md ("What the JSON Schema cannot check")
and must be met by at least one payload of the run, so that the list stays true.
Mutations: every key of a payload that uses every key revos accepts is removed, replaced by values of
every JSON type and by bad names, and every object gets an unknown key; the payload is tried bare and
inside the {meta, subject, payload, context} envelope.
Needs the Python package jsonschema (tests/format/run.sh installs it into target/).
"""
import concurrent.futures
import copy
import json
import os
import re
import subprocess
import sys

import jsonschema

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DB = "format_schema"
# REVOS_SCHEMA_REPORT=FILE: every payload's two verdicts, one JSON a line
REPORT = open(os.environ["REVOS_SCHEMA_REPORT"], "w") if os.environ.get("REVOS_SCHEMA_REPORT") else None


# ---- what revos says ----------------------------------------------------------------------------

def psql(dsn, sql, stdin_sql=True):
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn],
                       input=sql, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"psql failed: {p.stderr}")
    return p.stdout


def db_dsn(dsn, db):
    return dsn.rpartition("/")[0] + "/" + db


def fresh_db(dsn):
    psql(dsn, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE);\nCREATE DATABASE {DB};")
    d = db_dsn(dsn, DB)
    psql(d, "CREATE EXTENSION revos;")
    return d


PLAN_SQL = """CREATE FUNCTION pg_temp.try_plan(text) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN RETURN revos.plan_schema($1::jsonb);
EXCEPTION WHEN OTHERS THEN RETURN jsonb_build_object('raised', SQLERRM, 'sqlstate', SQLSTATE);
END $$;
CREATE TEMP TABLE cases (id int, payload text);
COPY cases FROM STDIN;
{rows}
\\.
SELECT id, pg_temp.try_plan(payload) FROM cases ORDER BY id;
"""


def revos_envelopes(dsn, payloads, sessions=2):
    """revos.plan_schema of each payload (a raised error comes back as {"raised": message}), in a few
    concurrent sessions."""
    rows = []
    for i, p in enumerate(payloads):
        text = json.dumps(p, ensure_ascii=False)
        rows.append(f"{i}\t" + text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n"))
    def run(k):
        sql = PLAN_SQL.replace("{rows}", "\n".join(rows[k::sessions]))
        return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", dsn],
                              input=sql, capture_output=True, text=True)
    out = {}
    with concurrent.futures.ThreadPoolExecutor(sessions) as pool:
        for p in pool.map(run, range(sessions)):
            if p.returncode != 0:
                sys.exit(f"psql failed: {p.stderr}")
            for line in p.stdout.splitlines():
                i, _, env = line.partition("|")
                out[int(i)] = json.loads(env)
    return [out[i] for i in range(len(payloads))]


def revos_issues(result):
    """The validation errors of a blocked answer; [] when revos accepted the format."""
    if result.get("status") != "blocked":
        return []
    return result.get("validation_errors") or []


# ---- where the two may differ -------------------------------------------------------------------

class Rule:
    """A documented difference. side "revos": revos blocks and the schema accepts; each of revos's
    issues must match. side "schema": the schema rejects and revos accepts; each schema error must
    match."""

    def __init__(self, rid, side, why, match):
        self.id, self.side, self.why, self.match = rid, side, why, match
        self.hits = 0


def issue(codes, message=None, path=None):
    def m(i, _payload):
        return (i["code"] in codes and (message is None or re.search(message, i["message"]))
                and (path is None or re.search(path, i["path"])))
    return m


def at_path(pattern, keyword=None):
    def m(e, _payload):
        p = "/" + "/".join(str(x) for x in e.absolute_path)
        return re.fullmatch(pattern, p) is not None and (keyword is None or e.validator == keyword)
    return m


def float_lock_timeout(i, payload):
    """lock_timeout_ms written as a whole number with a fraction (5000.0)."""
    if i["path"] != "options.lock_timeout_ms" or i["code"] != "wrong_type":
        return False
    body = payload.get("payload", payload) if isinstance(payload, dict) else {}
    v = (body.get("options") or {}).get("lock_timeout_ms") if isinstance(body, dict) else None
    return isinstance(v, float) and v.is_integer()


RULES = [
    Rule("rehearsal", "revos",
         "what PostgreSQL refuses when the plan runs: plan_schema rehearses it (issue 20) and reports a "
         "check naming a column the table does not have, a function outside revos's search_path, a bare "
         "word in a default, rows violating a new check; the schema cannot know any of it",
         issue({"unknown_column", "unknown_function", "unknown_type", "unknown_reference",
                "invalid_expression", "rows_violate", "statement_refused"}, r"^PostgreSQL refused step")),
    Rule("type-exists", "revos",
         "whether a type exists (and what an enum of the database is called) is PostgreSQL's to say: "
         "the schema checks the characters of a type, revos asks parseTypeString",
         issue({"unknown_type"}, r"^PostgreSQL does not know type")),
    Rule("sql-expression", "revos",
         "default, check, generated, using, where and checks[].expression must be one SQL expression "
         "as PostgreSQL's parser reads it; the schema checks only that they are not blank or too long",
         issue({"invalid_expression"})),
    Rule("trusted-schemas", "revos",
         "a schema an expression or a type names must exist (or be created by the payload) and be "
         "controlled only by trusted roles (its owner, who may CREATE there, who owns objects of the "
         "name there): the database's roles decide, not the payload's shape",
         issue({"untrusted_name"})),
    Rule("reference-exists", "revos",
         "a referenced table must be in the payload or the database, with the referenced column",
         issue({"unknown_reference"})),
    Rule("normalized-names", "revos",
         "names are compared after snake_case: two names that become one (duplicate_name), a key or index "
         "naming a column the table will not have (unknown_column), renames and drops that contradict "
         "the declarations (conflicting_definition, invalid_value 'renamed from itself')",
         lambda i, p: issue({"duplicate_name", "unknown_column"})(i, p)
         or issue({"conflicting_definition"}, r"declares|declared and dropped|renamed and dropped")(i, p)
         or issue({"invalid_value"}, r"renamed from itself")(i, p)),
    Rule("snake-case-length", "revos",
         "a name must fit in 63 bytes after snake_case; the schema refuses names with 64 letters and digits "
         "or more, but cannot count the underscores snake_case adds (aVeryLongCamelCaseName…)",
         issue({"name_too_long"}, r"becomes")),
    Rule("snake-case-reserved", "revos",
         "schemas revos, pg_* and information_schema are reserved after snake_case; the schema knows the "
         "usual spellings (pg_x, PgX, Revos), not every one snake_case maps there (PGCatalog -> pg_catalog)",
         issue({"reserved_name"})),
    Rule("database-state", "revos",
         "what the database holds decides: Citus placement (not_distributable), rows that need a tenant "
         "(backfill_required), rows that cannot be counted (rows_unreadable), enum values in use, a "
         "rename whose old and new names both exist, a reviewed plan the catalog no longer gives (stale_plan), "
         "an existing updated_at whose type cannot hold revos's trigger's timestamp",
         lambda i, p: issue({"not_distributable", "backfill_required", "rows_unreadable", "enum_value_in_use",
                             "stale_plan"})(i, p)
         or issue({"conflicting_definition"}, r"cannot rename one onto the other")(i, p)
         or issue({"invalid_value"}, r"revos's updated_at trigger sets it to now\(\)")(i, p)),
    Rule("bytes-not-characters", "revos",
         "revos counts bytes (comments 8192, expressions 4096, enum values 63, text tenant ids 200); JSON "
         "Schema's maxLength counts characters, so text with multi-byte characters can pass the schema",
         issue({"invalid_value", "invalid_expression"}, r"bytes")),
    Rule("number-range", "revos",
         "a bigint backfill_tenant must fit in 64 bits; the schema checks only that it is an integer",
         issue({"invalid_value"}, r"not a valid bigint tenant id", r"backfill_tenant")),
    Rule("tenant-column-type", "revos",
         "a column named like the tenant column (options.tenant_column, snake_cased) must have the tenant "
         "type; the schema cannot tie a column's name and type to the options",
         issue({"conflicting_definition"}, r"is the tenant column")),
    Rule("integral-number", "revos",
         "lock_timeout_ms must be written as an integer: 5000.0 is an integer to JSON Schema, and jsonb "
         "keeps it as 5000.0, which revos refuses",
         float_lock_timeout),
    Rule("text-limits", "revos",
         "8 MiB of JSON text and 64 levels of nesting (meta, subject and context may hold anything)",
         issue({"payload_too_large", "payload_too_deep"})),
    Rule("membership-columns", "revos",
         "options.tenancy in the membership mode names a table of the payload: its tenant column must "
         "have options.tenant_type and its user column a type revos.current_user_id() is cast to (uuid, "
         "text, bigint, integer); the schema sees names only",
         issue({"unknown_type", "invalid_value"}, None, r"^options\.tenancy\.")),
    Rule("policy-column-collation", "revos",
         "a column the tenant policies compare (the tenant column, the membership table's tenant and "
         "user columns) takes its type's own collation; the schema cannot tell which columns those are",
         issue({"conflicting_definition"}, r"is compared by the tenant policy", r"\.collation$")),
    Rule("version-alias-ignored", "schema",
         "revos reads `version` only when `schema_version` is absent, so a bad `version` beside a good "
         "`schema_version` passes revos; the schema flags it",
         at_path(r"(/payload)?/version")),
]


def pointer(e):
    return "/" + "/".join(str(x) for x in e.absolute_path)


def revos_pointer(path):
    """tables[0].columns[2].type -> /tables/0/columns/2/type ($ -> /); envelopes: under /payload."""
    p = re.sub(r"\[(\d+)\]", r".\1", path.lstrip("$")).strip(".")
    return "/" + p.replace(".", "/") if p else "/"


def related(errors, issues):
    """Some schema error and some revos issue are about one place: one path lies within the other's
    object (the path itself or a sibling of it: generated beside default, not_null beside references)."""
    def within(a, b):
        return a == b or b == "/" or a.startswith(b.rstrip("/") + "/")

    def parent(p):
        return p.rsplit("/", 1)[0] or "/"
    for e in errors:
        pe = pointer(e)
        for i in issues:
            for pi in (revos_pointer(i["path"]), "/payload" + revos_pointer(i["path"]).rstrip("/")):
                if within(pe, parent(pi)) or within(pi, parent(pe)):
                    return True
    return False


def explained(case, schema_errors, issues):
    """The rules that explain a disagreement, or None when none does."""
    side, items = ("revos", issues) if issues and not schema_errors else ("schema", schema_errors)
    used = []
    for it in items:
        rule = next((r for r in RULES if r.side == side and r.match(it, case["payload"])), None)
        if rule is None:
            return None
        used.append(rule)
    return used


# ---- the payloads -------------------------------------------------------------------------------

T1 = "11111111-1111-1111-1111-111111111111"

# Every key revos accepts, once (plans cleanly in an empty database).
BASELINE = {
    "schema_version": "k1",
    "description": "every key of the format",
    "schema": "kit",
    "force_apply": False,
    "options": {"tenant_column": "tenant_id", "tenant_type": "uuid", "soft_delete": True, "timestamps": True,
                "rls": True, "force_rls": True, "default_indexes": True, "lock_timeout_ms": 5000,
                "allow_destructive": False, "backfill_tenant": T1, "distribute": "auto", "unique_scope": "tenant"},
    "enums": [{"name": "lead_state", "schema": "kit", "values": ["new", "won", "lost"]}],
    "tables": [
        {"name": "accounts", "schema": "kit", "tenant_scoped": True, "comment": "customer accounts",
         "soft_delete": True, "timestamps": True, "rls": True,
         "renamed_from": "old_accounts", "drop_columns": ["fax"], "drop_indexes": ["idx_old"],
         "columns": [
             {"name": "email", "type": "text", "not_null": True, "unique": True, "unique_scope": "tenant",
              "comment": "login", "renamed_from": "mail", "check": "email <> ''"},
             {"name": "state", "type": "lead_state", "default": "'new'"},
             {"name": "score", "type": "integer", "default": 0, "check": "score >= 0", "using": "score::integer"},
             {"name": "double_score", "type": "integer", "generated": "score * 2"},
             {"name": "parent_id", "type": "uuid",
              "references": {"table": "accounts", "schema": "kit", "column": "id",
                             "on_delete": "set null", "on_update": "cascade"}}],
         "primary_key": None,
         "indexes": [{"name": "idx_accounts_state", "columns": ["state"], "unique": False, "method": "btree",
                      "where": "deleted_at IS NULL", "include": ["score"]},
                     {"name": "uq_accounts_score", "columns": ["score"], "unique": True, "unique_scope": "global"}],
         "unique": [["email", "state"], {"columns": ["state", "score"], "unique_scope": "global"}],
         "checks": [{"name": "score_small", "expression": "score < 1000"}]},
        {"name": "notes", "columns": [{"name": "account_id", "type": "uuid", "references": "kit.accounts"},
                                      {"name": "body", "type": "text"}]},
        {"name": "codes", "tenant_scoped": False, "columns": [{"name": "code", "type": "text", "primary_key": True}]},
        {"name": "pairs", "tenant_scoped": False, "primary_key": ["a", "b"],
         "columns": [{"name": "a", "type": "text"}, {"name": "b", "type": "text"}]},
    ],
    "drop_tables": ["old_imports", "kit.older"],
}

ENVELOPE = {"meta": {"tenant_id": T1, "idempotency_key": "k1-run", "workflow_run_id": "wr_k1",
                     "trigger_source": "n8n"},
            "subject": {"tenant_id": T1},
            "payload": BASELINE,
            "context": {"actor_id": "user_1", "validation_profile": "safe"}}

# What a value is replaced with: one value of every JSON type, and more of the kind it is.
OF_EVERY_TYPE = [None, True, 7, "zz_text", ["zz_text"], {"zz": 1}]
MORE = {
    str: ["", "   ", "Zz Text", "1abc", "a.b", "a;b", "x" * 64, "pgThing", False],
    bool: [False, "true", 0],
    int: [-1, 1.5, 600001, "5000"],
    list: [[], [7], [{}], [None]],
    dict: [{}, []],
}


def variants(value):
    out = []
    for v in OF_EVERY_TYPE + MORE.get(type(value), []):
        if not (v == value and type(v) is type(value)) and v not in out:
            out.append(v)
    return out


def walk(v, path=()):
    yield path, v
    if isinstance(v, dict):
        for k, x in v.items():
            yield from walk(x, path + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            yield from walk(x, path + (i,))


def get(v, path):
    for p in path:
        v = v[p]
    return v


def mutated(base, path, fn):
    v = copy.deepcopy(base)
    if not path:
        return fn(v)
    parent = get(v, path[:-1])
    result = fn(parent[path[-1]])
    if result is REMOVE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = result
    return v


REMOVE = object()


def mutations(base, label, skip=()):
    """Every key removed, every value replaced (see variants), an unknown key in every object, every
    list emptied and with its first item twice. Paths under `skip` are left alone."""
    out = []
    for path, value in walk(base):
        if any(path[:len(s)] == s and len(path) > len(s) for s in skip):
            continue
        where = label + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
        if path and isinstance(path[-1], str):
            out.append((f"{where}: removed", mutated(base, path, lambda _: REMOVE)))
        if isinstance(value, dict):
            out.append((f"{where}: unknown key", mutated(base, path, lambda d: {**d, "zz_unknown": 1})))
        if isinstance(value, list) and value:
            out.append((f"{where}: first item twice", mutated(base, path, lambda l: l + l[:1])))
        for var in variants(value):
            out.append((f"{where} = {json.dumps(var)[:20]}", mutated(base, path, lambda _, v=var: copy.deepcopy(v))))
    return out


def with_table(**over):
    p = copy.deepcopy(BASELINE)
    p["tables"][0].update(over)
    return p


def more_columns(*columns):
    """The baseline with more columns in its first table."""
    p = copy.deepcopy(BASELINE)
    p["tables"][0]["columns"] += copy.deepcopy(list(columns))
    return p


def new_column(**fields):
    return more_columns({"name": "probe", "type": "text", **fields})


def options(**over):
    p = copy.deepcopy(BASELINE)
    p["options"].update(over)
    return p


# Payloads aimed at each rule and at checks the mutations do not reach.
PROBES = [
    ("type that does not exist", new_column(type="no_such_type")),
    ("tenant column of another type", new_column(name="tenant_id", type="text")),
    ("tenant column with a collation", {**options(tenant_type="text"), "tables": [
        {**BASELINE["tables"][0], "columns": BASELINE["tables"][0]["columns"]
         + [{"name": "tenant_id", "type": "text", "collation": "C"}]}] + BASELINE["tables"][1:]}),
    ("unique_scope without unique", new_column(unique_scope="global")),
    ("unique_scope tenant on a shared table", {**BASELINE, "tables": BASELINE["tables"][:2] + [
        {**BASELINE["tables"][2], "columns": [{"name": "code", "type": "text", "primary_key": True,
                                               "unique": True, "unique_scope": "tenant"}]}] + BASELINE["tables"][3:]}),
    ("unique_scope on a unique entry of a shared table", {**BASELINE, "tables": BASELINE["tables"][:3] + [
        {**BASELINE["tables"][3], "unique": [{"columns": ["b"], "unique_scope": "global"}]}]}),
    ("check naming a column the table lacks", new_column(check="no_such_column > 0")),
    ("expression that is two", new_column(check="a b c")),
    ("default that is a subquery with ';'", new_column(default="1; DROP TABLE x")),
    ("reference to a table nowhere", new_column(references="nowhere")),
    ("two columns that snake_case to one", more_columns({"name": "firstName", "type": "text"}, {"name": "first_name", "type": "text"})),
    ("index on a column the table lacks", with_table(indexes=[{"columns": ["nope"]}])),
    ("renamed from itself", with_table(renamed_from="Accounts")),
    ("camelCase name of 50 letters", new_column(name="aB" * 25)),
    ("64 letters", new_column(name="a" * 64)),
    ("63 letters", new_column(name="a" * 63)),
    ("schema PGCatalog", {**BASELINE, "schema": "PGCatalog"}),
    ("schema pg_toast", {**BASELINE, "schema": "pg_toast"}),
    ("schema Revos", {**BASELINE, "schema": "Revos"}),
    ("schema information schema", {**BASELINE, "schema": "information schema"}),
    ("drop_tables in schema revos", {**BASELINE, "drop_tables": ["revos.x"]}),
    ("distribute true without Citus", options(distribute=True)),
    ("comment of 5000 two-byte characters", with_table(comment="é" * 5000)),
    ("comment of 8193 characters", with_table(comment="c" * 8193)),
    ("enum value of 40 two-byte characters", {**BASELINE, "enums": [{"name": "lead_state", "values": ["new", "won", "lost", "é" * 40]}]}),
    ("enum value of 64 characters", {**BASELINE, "enums": [{"name": "lead_state", "values": ["new", "won", "lost", "v" * 64]}]}),
    ("enum values twice", {**BASELINE, "enums": [{"name": "lead_state", "values": ["new", "won", "lost", "won"]}]}),
    ("bigint tenant id past 64 bits", options(tenant_type="bigint", backfill_tenant="99999999999999999999")),
    ("bigint tenant id", options(tenant_type="BIGINT ", backfill_tenant="+42")),
    ("bigint tenant id not a number", options(tenant_type="int8", backfill_tenant="4x2")),
    ("text tenant id", options(tenant_type="text", backfill_tenant="acme")),
    ("text tenant id empty", options(tenant_type="text", backfill_tenant="")),
    ("text tenant id of 201", options(tenant_type="text", backfill_tenant="t" * 201)),
    ("uuid tenant id that is not one", options(backfill_tenant="acme")),
    ("tenancy membership", options(tenant_type="text", tenancy={"mode": "membership", "table": "pairs", "tenant_column": "a", "user_column": "b"})),
    ("tenancy membership, a table nowhere", options(tenancy={"mode": "membership", "table": "nowhere"})),
    ("tenancy membership, a column the table lacks", options(tenant_type="text", tenancy={"mode": "membership", "table": "kit.pairs", "tenant_column": "a", "user_column": "nope"})),
    ("tenancy membership, a tenant column of another type", options(tenancy={"mode": "membership", "table": "pairs", "tenant_column": "a", "user_column": "b"})),
    ("tenancy membership without a table", options(tenancy={"mode": "membership"})),
    ("tenancy transaction", options(tenancy="transaction")),
    ("tenancy transaction with a table", options(tenancy={"mode": "transaction", "table": "pairs"})),
    ("tenancy per_user", options(tenancy={"mode": "per_user"})),
    ("tenancy claims", options(tenancy={"mode": "claims"})),
    ("tenancy claims as a string", options(tenancy="claims")),
    ("tenancy claims with a table", options(tenancy={"mode": "claims", "table": "pairs"})),
    ("tenancy claims with a user column", options(tenancy={"mode": "claims", "user_column": "b"})),
    ("tenancy claims with a claim name", options(tenancy={"mode": "claims", "claim": "tenants"})),
    ("lock_timeout_ms 5000.0", options(lock_timeout_ms=5000.0)),
    ("lock_timeout_ms 0", options(lock_timeout_ms=0)),
    ("lock_timeout_ms 600000", options(lock_timeout_ms=600000)),
    ("meta nested 70 deep", {**ENVELOPE, "meta": json.loads("[" * 70 + "]" * 70)}),
    ("version beside schema_version", {**BASELINE, "version": 5}),
    ("version alone", {k: v for k, v in {**BASELINE, "version": "k1"}.items() if k != "schema_version"}),
    ("schema_version null", {**BASELINE, "schema_version": None}),
    ("schema_version of 101", {**BASELINE, "schema_version": "v" * 101}),
    ("schema_version with a space", {**BASELINE, "schema_version": "v 1"}),
    ("tables null, an enum", {**BASELINE, "tables": None}),
    ("tables null, nothing else", {"schema_version": "k1", "description": "d", "tables": None}),
    ("tables empty, drop_tables only", {"schema_version": "k1", "description": "d", "tables": [], "drop_tables": ["x"]}),
    ("method GIN, unique", with_table(indexes=[{"columns": ["state"], "method": "GIN", "unique": True}])),
    ("method gin, include", with_table(indexes=[{"columns": ["state"], "method": " gin ", "include": ["score"]}])),
    ("method gist, include", with_table(indexes=[{"columns": ["state"], "method": "gist", "include": ["score"]}])),
    ("method hash", with_table(indexes=[{"columns": ["state"], "method": "hash"}])),
    ("method spgist", with_table(indexes=[{"columns": ["state"], "method": "spgist"}])),
    ("on_delete SET_NULL on a not_null column", new_column(type="uuid", not_null=True, references={"table": "accounts", "on_delete": "SET_NULL"})),
    ("on_delete no-action", new_column(type="uuid", references={"table": "accounts", "on_delete": "no-action"})),
    ("on_delete nothing", new_column(type="uuid", references={"table": "accounts", "on_delete": "nothing"})),
    ("references schema twice", new_column(type="uuid", references={"table": "kit.accounts", "schema": "kit"})),
    ("references a.b.c", new_column(type="uuid", references="a.b.c")),
    ("references null", new_column(references=None)),
    ("generated with default", new_column(type="int", generated="1", default="2")),
    ("generated with null default", new_column(type="int", generated="1", default=None)),
    ("generated with using", new_column(type="int", generated="1", using="2")),
    ("primary key twice", with_table(primary_key=["email"], columns=more_columns({"name": "probe", "type": "text", "primary_key": True})["tables"][0]["columns"])),
    ("primary key null beside a flag", with_table(primary_key=None, columns=more_columns({"name": "probe", "type": "text", "primary_key": True})["tables"][0]["columns"])),
    ("type with a tab", new_column(type="numeric(10,\t2)")),
    ("type with a quote", new_column(type="text'")),
    ("type of 201 characters", new_column(type="t" * 201)),
    ("name with a dash first", new_column(name="-email")),
    ("name _", new_column(name="_")),
    ("name - 1a", new_column(name="- 1a")),
    ("top-level array", [BASELINE]),
    ("an n8n item", {"headers": {}, "params": {}, "query": {}, "body": BASELINE}),
    ("envelope without payload", {k: v for k, v in ENVELOPE.items() if k != "payload"}),
    ("envelope with a string meta", {**ENVELOPE, "meta": "x"}),
    ("envelope with a numeric tenant", {**ENVELOPE, "meta": {"tenant_id": 5}}),
    ("$schema in the payload", {"$schema": "../schema/revos.schema.json", **BASELINE}),
]


def pg_test_payloads():
    """The JSON literals pg_test/sql passes to apply_schema and plan_schema (or \\set for them)."""
    out = []
    lit = re.compile(r"revos\.(?:apply|plan)_schema\('((?:[^']|'')*)'|\\set \w+ '((?:[^'\\]|'')*)'", re.S)
    d = os.path.join(ROOT, "pg_test", "sql")
    for f in sorted(os.listdir(d)):
        text = open(os.path.join(d, f), encoding="utf-8").read()
        for m in lit.finditer(text):
            raw = (m.group(1) or m.group(2) or "").replace("''", "'")
            try:
                v = json.loads(raw)
            except ValueError:
                continue
            if isinstance(v, dict) and ("tables" in v or "payload" in v or "schema_version" in v):
                out.append((f"pg_test/sql/{f}:{text[:m.start()].count(chr(10)) + 1}", v))
    return out


def documented_payloads():
    """The fixtures and the payloads of the docs' marked examples (scripts/check-docs --payloads), with
    whether they must apply (fixtures, and payload blocks marked expect=applied)."""
    out = []
    d = os.path.join(ROOT, "tests", "fixtures")
    for f in sorted(os.listdir(d)):
        if f.endswith(".json"):
            out.append((f"tests/fixtures/{f}", json.load(open(os.path.join(d, f), encoding="utf-8")), True))
    # real schemas (tests/fixtures/real/) need their platform (tests/real_schemas.rs applies them):
    # here the JSON Schema must accept them
    r = os.path.join(d, "real")
    for f in sorted(os.listdir(r)) if os.path.isdir(r) else []:
        if f.endswith(".json"):
            out.append((f"tests/fixtures/real/{f}", json.load(open(os.path.join(r, f), encoding="utf-8")),
                        "schema"))
    p = subprocess.run([os.path.join(ROOT, "scripts", "check-docs"), "--payloads"],
                       capture_output=True, text=True, check=True)
    for line in p.stdout.splitlines():
        d = json.loads(line)
        out.append((d["where"], d["payload"], d["expect"] in ("applied", "noop", "planned")))
    return out


# ---- the comparison -----------------------------------------------------------------------------

def schema_validator():
    schema = json.load(open(os.path.join(ROOT, "schema", "revos.schema.json"), encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def ajv_verdicts(payloads):
    """ajv's verdict on each payload (tests/format/ajv_verdicts.js; REVOS_AJV_NODE_PATH: its
    node_modules, set by run.sh), or None when not asked for."""
    modules = os.environ.get("REVOS_AJV_NODE_PATH")
    if not modules:
        return None
    p = subprocess.run(["node", os.path.join(ROOT, "tests", "format", "ajv_verdicts.js"),
                        os.path.join(ROOT, "schema", "revos.schema.json")],
                       input="".join(json.dumps(x) + "\n" for x in payloads), capture_output=True,
                       text=True, env={**os.environ, "NODE_PATH": modules})
    if p.returncode != 0:
        sys.exit(f"ajv failed: {p.stderr}")
    return [v == "valid" for v in p.stdout.split()]


def compare(cases, results, validator):
    """cases: [{name, payload, must_apply}], results: revos's `result` objects. Returns failures."""
    failures, agree, differ = [], 0, 0
    ajv = ajv_verdicts([c["payload"] for c in cases])
    for n, (case, result) in enumerate(zip(cases, results)):
        if "raised" in result:
            failures.append(f"{case['name']}: revos raised an error: {result['raised']}")
            continue
        errors = list(validator.iter_errors(case["payload"]))
        issues = revos_issues(result)
        if ajv is not None and ajv[n] != (not errors):
            failures.append(f"{case['name']}: ajv says {'valid' if ajv[n] else 'invalid'}, Python's "
                            f"jsonschema {[e.message[:160] for e in errors][:3] or 'valid'}")
        if REPORT is not None:
            REPORT.write(json.dumps({"case": case["name"], "schema": [e.message[:160] for e in errors],
                                     "revos": [f"{i['path']}: {i['code']}" for i in issues],
                                     "status": result.get("status")}, ensure_ascii=False) + "\n")
        if case.get("must_apply") == "schema":
            if errors:
                failures.append(f"{case['name']}: the JSON Schema refuses a real schema's translation: "
                                f"{[e.message[:160] for e in errors][:3]}")
            continue
        if case.get("must_apply") and (errors or issues):
            failures.append(f"{case['name']}: applies in its tests/docs, but the schema says "
                            f"{[e.message[:120] for e in errors][:3]} and revos {issues[:3]}")
            continue
        if bool(errors) == bool(issues):
            if errors and not related(errors, issues):
                failures.append(f"{case['name']}: both refuse it, but not at one place: the schema at "
                                f"{[pointer(e) for e in errors][:4]}, revos at {[i['path'] for i in issues][:4]}")
                continue
            agree += 1
            continue
        rules = explained(case, errors, issues)
        if rules is None:
            what = (f"revos blocks ({json.dumps(issues)[:600]}), the schema accepts" if issues else
                    "the schema rejects (" + "; ".join(
                        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:4])
                    + "), revos accepts")
            failures.append(f"{case['name']}: {what}")
            continue
        differ += 1
        for r in set(rules):
            r.hits += 1
    return failures, agree, differ


def run_corpus(dsn, validator):
    cases = [{"name": n, "payload": p, "must_apply": m} for n, p, m in documented_payloads()]
    n_applied = len(cases)
    cases += [{"name": n, "payload": p} for n, p in pg_test_payloads()]
    n_pg = len(cases) - n_applied
    cases += [{"name": "baseline", "payload": BASELINE, "must_apply": True},
              {"name": "baseline in an envelope", "payload": ENVELOPE, "must_apply": True}]
    muts = mutations(BASELINE, "$") + mutations(ENVELOPE, "envelope", skip=[("payload",)])
    cases += [{"name": n, "payload": p} for n, p in muts]
    cases += [{"name": "probe: " + n, "payload": p} for n, p in PROBES]
    d = fresh_db(dsn)
    results = [env.get("result", env) for env in revos_envelopes(d, [c["payload"] for c in cases])]
    failures, agree, differ = compare(cases, results, validator)
    docs = open(os.path.join(ROOT, "docs", "format.md"), encoding="utf-8").read()
    for r in RULES:
        if r.hits == 0:
            failures.append(f"rule {r.id}: no payload of this run differs that way any more; "
                            "take it out of RULES and docs/format.md")
        if f"`{r.id}`" not in docs:
            failures.append(f"rule {r.id}: not listed in docs/format.md")
    print(f"json-schema: {len(cases)} payloads ({n_applied} from fixtures and docs; {n_pg} from "
          f"pg_test; {len(muts)} mutations; {len(PROBES)} probes): {agree} verdicts agree, {differ} differ "
          f"as documented, {len(failures)} failures")
    for r in RULES:
        print(f"  {r.side:6} {r.id:22} {r.hits:4} payload(s)")
    psql(dsn, f"DROP DATABASE IF EXISTS {DB} WITH (FORCE);")
    return failures


def run_harvest(directory, validator):
    """Payloads the in-database tests sent, with the status revos gave them there."""
    cases, results = [], []
    for f in sorted(os.listdir(directory)):
        for line in open(os.path.join(directory, f), encoding="utf-8"):
            h = json.loads(line)
            cases.append({"name": f"{h['test']} ({h['call']})", "payload": h["payload"],
                          "must_apply": h["status"] in ("applied", "noop", "planned")})
            results.append({"status": h["status"], "validation_errors": h.get("validation_errors")})
    if not cases:
        return None
    failures, agree, differ = compare(cases, results, validator)
    applied = sum(1 for c in cases if c["must_apply"])
    print(f"json-schema harvest: {len(cases)} payloads sent by the in-database tests ({applied} applied, "
          f"noop or planned): {agree} agree, {differ} differ as documented, {len(failures)} failures")
    return failures


def main(argv):
    if not argv or (argv[0] == "--harvest" and len(argv) != 2):
        print(__doc__)
        return 2
    validator = schema_validator()
    if argv[0] == "--harvest":
        failures = run_harvest(argv[1], validator) if os.path.isdir(argv[1]) else None
        if failures is None:
            print(f"SKIPPED: no payloads harvested in {argv[1]} (the in-database tests did not run)")
            return 77
    else:
        failures = run_corpus(argv[0], validator)
    for f in failures:
        print(f"FAILED {f}")
    print(f"json-schema: {0 if failures else 1} passed, {1 if failures else 0} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
