#!/usr/bin/env python3
"""Deterministic schema payloads for the revos benchmark (bench/run).

    gen_schema.py mixed  [TABLES] [ENUMS] [VERSION]   the P1/P2 schema (default 123 tables, 20 enums)
    gen_schema.py checked TABLES [ENUMS] [VERSION]    mixed, plus CHECK constraints (P5's mixed schema)
    gen_schema.py simple TABLES [VERSION]             P5's simple schema (3 plain columns per table)

`mixed`: tables with 5-12 columns of mixed types (text, varchar(n), integer, bigint,
numeric(p,s), boolean, date, timestamptz, jsonb, uuid, text[], enum columns), about one table in
two has 1-2 foreign keys to EARLIER tables (tenant-bound by revos: composite FK plus a
UNIQUE (tenant_id, id) on the target), and about two extra indexes per table (some composite,
some unique, a few partial). With revos's two default indexes per table (tenant_id and
(tenant_id, created_at)) and the primary keys, 123 tables give well over 250 indexes.
The same arguments always give the same JSON (seeded random.Random).

`checked`: the same tables, and about one table in two gets 1-2 CHECK constraints on its own
columns (a range on a number, a length on a text, a date order), as a user's schema has them
(they come from a second seeded generator, so the rest is exactly `mixed`).
"""
import json
import random
import sys

PLAIN_TYPES = [
    ("text", None),
    ("varchar(100)", None),
    ("integer", "0"),
    ("bigint", None),
    ("numeric(12,2)", "0"),
    ("boolean", "false"),
    ("date", None),
    ("timestamptz", "now()"),
    ("jsonb", "'{}'::jsonb"),
    ("uuid", None),
    ("text[]", None),
]
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo"]


def mixed(n_tables=123, n_enums=20, version="bench-p1-001", seed=20240601):
    rnd = random.Random(seed)
    enums = []
    for e in range(n_enums):
        k = rnd.randint(3, 7)
        enums.append({"name": f"bench_enum_{e:02d}",
                      "values": [f"{rnd.choice(WORDS)}_{v}" for v in range(k)]})
    tables = []
    for t in range(n_tables):
        name = f"bench_t{t:04d}"
        ncols = rnd.randint(5, 12)
        cols = []
        for c in range(ncols):
            col = {"name": f"c{c:02d}"}
            r = rnd.random()
            if r < 0.15 and enums:
                col["type"] = rnd.choice(enums)["name"]
            else:
                ty, default = rnd.choice(PLAIN_TYPES)
                col["type"] = ty
                if default is not None and rnd.random() < 0.4:
                    col["default"] = default
            if rnd.random() < 0.3:
                col["not_null"] = True
                if "default" not in col and col["type"] in ("text", "varchar(100)"):
                    col["default"] = "''"
            cols.append(col)
        # foreign keys to earlier tables (about one table in two, one or two each)
        if t > 0 and rnd.random() < 0.5:
            for k in range(rnd.randint(1, 2)):
                target = f"bench_t{rnd.randrange(0, t):04d}"
                cols.append({"name": f"ref{k}_id", "type": "uuid", "references": target})
        # about two extra indexes per table
        indexable = [c["name"] for c in cols
                     if c["type"] not in ("jsonb", "text[]")]
        idx = []
        for k in range(2 if rnd.random() < 0.8 else rnd.choice([1, 3])):
            if not indexable:
                break
            width = 1 if rnd.random() < 0.6 else 2
            icols = rnd.sample(indexable, min(width, len(indexable)))
            if any(sorted(icols) == sorted(x["columns"]) for x in idx):
                continue
            x = {"columns": icols}
            if rnd.random() < 0.15:
                x["unique"] = True
            elif rnd.random() < 0.1:
                x["where"] = "deleted_at IS NULL"
            idx.append(x)
        tables.append({"name": name, "schema": "public", "columns": cols, "indexes": idx})
    return {"schema_version": version,
            "description": f"benchmark: {n_tables} generated tables, {n_enums} enums",
            "enums": enums, "tables": tables}


def checked(n_tables, n_enums=20, version=None, seed=20240601):
    """`mixed` with CHECK constraints on about one table in two."""
    p = mixed(n_tables, n_enums, version or f"bench-p5c-{n_tables}", seed)
    rnd = random.Random(seed + 1)
    forms = {"integer": "{c} >= 0", "bigint": "{c} >= 0", "numeric(12,2)": "{c} BETWEEN 0 AND 1000000",
             "text": "char_length({c}) <= 500", "varchar(100)": "char_length({c}) >= 0", "date": "{c} >= DATE '2000-01-01'"}
    for t in p["tables"]:
        cand = [c["name"] for c in t["columns"] if c["type"] in forms]
        if not cand or rnd.random() >= 0.5:
            continue
        for k, c in enumerate(rnd.sample(cand, min(len(cand), rnd.randint(1, 2)))):
            ty = next(x["type"] for x in t["columns"] if x["name"] == c)
            t.setdefault("checks", []).append({"name": f"{t['name']}_chk{k}", "expression": forms[ty].format(c=c)})
    p["description"] = f"benchmark: {n_tables} generated tables with checks, {n_enums} enums"
    return p


def simple(n_tables, version=None):
    version = version or f"bench-p5-{n_tables}"
    tables = [{"name": f"grow_t{t:05d}", "schema": "public", "columns": [
        {"name": "name", "type": "text", "not_null": True},
        {"name": "qty", "type": "integer"},
        {"name": "note", "type": "text"}]} for t in range(n_tables)]
    return {"schema_version": version, "description": f"benchmark: {n_tables} simple tables",
            "tables": tables}


def stats(payload):
    """Counts a payload's objects: tables, enums, columns, fks, explicit indexes."""
    t = payload["tables"]
    return {
        "tables": len(t),
        "enums": len(payload.get("enums", [])),
        "columns": sum(len(x["columns"]) for x in t),
        "foreign_keys": sum(1 for x in t for c in x["columns"] if "references" in c),
        "extra_indexes": sum(len(x.get("indexes", [])) for x in t),
        "checks": sum(len(x.get("checks", [])) for x in t),
    }


if __name__ == "__main__":
    a = sys.argv[1:]
    if not a or a[0] not in ("mixed", "checked", "simple"):
        sys.exit(__doc__)
    if a[0] == "mixed":
        p = mixed(*(int(x) for x in a[1:3]), *a[3:4])
    elif a[0] == "checked":
        p = checked(*(int(x) for x in a[1:3]), *a[3:4])
    else:
        p = simple(int(a[1]), *a[2:3])
    json.dump(p, sys.stdout, indent=1)
    sys.stdout.write("\n")
