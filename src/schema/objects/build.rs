//! Stage 2 for the objects beside tables: names checked and snake_cased, each object turned into
//! the SQL that creates it, replaces it and deparses it. Caller text enters SQL only as a checked
//! [`Name`] (quoted), a quoted literal, a dollar-quoted function body (its tag chosen so that the
//! body cannot end it), or an expression / fragment that `check` has Postgres' parser accept.

use crate::error::{code, Issue};
use crate::ident::{quote_ident, quote_literal, Name, MAX_IDENT_BYTES};
use crate::schema::model::{Options, Schema, Table};
use crate::schema::objects::raw::*;
use crate::schema::objects::{Fragment, FragmentKind, Kind, Object, Phase};

/// A name of the format (snake_cased), or an issue.
fn name(raw: &str, path: String, issues: &mut Vec<Issue>) -> Option<Name> {
    Name::normalize(raw, path).map_err(|i| issues.push(i)).ok()
}

fn schema_of(raw: &Option<String>, default: &Name, path: &str, issues: &mut Vec<Issue>) -> Name {
    match raw {
        Some(s) => name(s, format!("{path}.schema"), issues).unwrap_or_else(|| default.clone()),
        None => default.clone(),
    }
}

/// `name` or `schema.name` (each part a name of the format), quoted: a function, type or table
/// another object refers to. A bare name is resolved by Postgres under revos's pinned search_path
/// (pg_catalog first), so objects outside pg_catalog are written qualified.
pub fn qualified_ref(raw: &str, path: &str, issues: &mut Vec<Issue>) -> Option<String> {
    let parts: Vec<&str> = raw.trim().split('.').collect();
    if parts.is_empty() || parts.len() > 2 {
        issues.push(Issue::new(
            path,
            code::INVALID_NAME,
            format!("{raw:?} is not `name` or `schema.name`"),
        ));
        return None;
    }
    let mut out = vec![];
    for p in parts {
        out.push(name(p, path.to_string(), issues)?.to_string());
    }
    Some(out.join("."))
}

/// A role as written (roles exist already: their names are not snake_cased), quoted; `public`
/// in any case is the keyword PUBLIC.
pub fn role(raw: &str, path: &str, issues: &mut Vec<Issue>) -> Option<String> {
    if raw.eq_ignore_ascii_case("public") {
        return Some("PUBLIC".into());
    }
    let ok = !raw.is_empty()
        && raw.len() <= MAX_IDENT_BYTES
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        issues.push(Issue::new(
            path,
            code::INVALID_NAME,
            format!("role {raw:?}: a role name of 1–63 letters, digits, '_' or '-'"),
        ));
        return None;
    }
    Some(quote_ident(raw))
}

/// A policy name as written (Postgres policy names are often sentences: `"Accounts are viewable
/// by members"`): 1–63 bytes, no control characters; quoted, never snake_cased.
pub fn verbatim_name(raw: &str, path: &str, issues: &mut Vec<Issue>) -> Option<String> {
    let ok = !raw.trim().is_empty()
        && raw.len() <= MAX_IDENT_BYTES
        && !raw.chars().any(|c| c.is_control());
    if !ok {
        let code = if raw.len() > MAX_IDENT_BYTES {
            code::NAME_TOO_LONG
        } else {
            code::INVALID_NAME
        };
        issues.push(Issue::new(
            path,
            code,
            format!("policy name {raw:?}: 1–63 bytes without control characters (kept as written, never truncated)"),
        ));
        return None;
    }
    Some(raw.to_string())
}

/// A collation as written (`C`, `und-x-icu`, `schema.name`), quoted part by part.
pub fn collation_sql(text: &str) -> String {
    text.split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".")
}

/// A dollar-quote tag that does not occur in `body`.
fn dollar_tag(body: &str) -> String {
    let mut n = 0;
    loop {
        let tag = if n == 0 {
            "$revos$".to_string()
        } else {
            format!("$revos{n}$")
        };
        if !body.contains(&tag) {
            return tag;
        }
        n += 1;
    }
}

/// A literal in a deparse query.
fn lit(s: &str) -> String {
    quote_literal(s)
}

/// `schema.name` as a literal for to_regclass / to_regtype: the quoted, qualified form.
fn reg(schema: &Name, n: &Name) -> String {
    lit(&format!("{schema}.{n}"))
}

/// The grants of one object: `GRANT … TO …` statements, after every live grantee's privileges
/// are revoked (the declared grants are the object's whole ACL besides its owner).
struct GrantTarget {
    /// `TABLE "s"."t"`, `FUNCTION "s"."f"`, `SCHEMA "s"`, `SEQUENCE "s"."q"`.
    on: String,
    /// The ACL read: `(acl, owner, acldefault kind)` columns from a FROM clause.
    acl_query: String,
    /// A relation's column privileges; None for a function or a schema, which have no columns.
    columns: Option<ColumnAcl>,
    /// Its `pg_default_acl.defaclobjtype` (`r` relations, `S` sequences, `f` functions, `n`
    /// schemas) and the schema it is created in: the default privileges a new one gets.
    defaults: (&'static str, String),
    allowed: &'static [&'static str],
}

/// The column privileges of a table, view or sequence (`pg_attribute.attacl`). A grant can name
/// no column, so every one is outside the declared ACL.
struct ColumnAcl {
    /// `(acl, owner, col)` rows, one per user column with an `attacl`.
    query: String,
    /// `TABLE "s"."t"`: how a column GRANT names the relation (a sequence's too).
    on: String,
}

/// A trigger's firing state after its `pg_get_triggerdef` (which leaves it out): nothing when it
/// fires in an ordinary session (`tgenabled` 'O', and 'A': ENABLE ALWAYS fires in every session,
/// replicas' too — a deliberate setting, kept), a suffix when it does not ('D' disabled, 'R' ENABLE
/// REPLICA: only under session_replication_role = replica). The declared form is 'O' (CREATE OR
/// REPLACE TRIGGER sets it), so a trigger disabled out of band differs and is replaced, enabled.
/// The same suffix as the table snapshot's (`apply::pg_catalog`, revos's `updated_at` trigger).
const TRIGGER_FIRING: &str =
    "CASE t.tgenabled WHEN 'D' THEN ' -- DISABLED' WHEN 'R' THEN ' -- ENABLE REPLICA' ELSE '' END";

const TABLE_PRIVS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "TRUNCATE",
    "REFERENCES",
    "TRIGGER",
    "MAINTAIN",
    "ALL",
];
const FUNCTION_PRIVS: &[&str] = &["EXECUTE", "ALL"];
const SCHEMA_PRIVS: &[&str] = &["USAGE", "CREATE", "ALL"];
const SEQUENCE_PRIVS: &[&str] = &["USAGE", "SELECT", "UPDATE", "ALL"];

/// A table's, view's or sequence's grants. Its columns' privileges (`GRANT SELECT (col) …`, in
/// `pg_attribute.attacl`; a sequence takes them too) are part of its ACL: a role holding one
/// reads or writes that column whatever the relation's own ACL says — system columns too
/// (`GRANT SELECT (ctid, xmin)`: where rows lie and which transaction wrote them; the review of
/// 975044a, 4).
fn relation_grants(schema: &Name, n: &Name, privs_kind: &str) -> GrantTarget {
    GrantTarget {
        on: format!("{privs_kind} {schema}.{n}"),
        acl_query: format!(
            "SELECT c.relacl AS acl, c.relowner AS owner, {} AS k FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass({})",
            if privs_kind == "SEQUENCE" { "'s'" } else { "'r'" },
            reg(schema, n)
        ),
        columns: Some(ColumnAcl {
            query: format!(
                "SELECT t.attacl AS acl, r.relowner AS owner, t.attname AS col FROM pg_catalog.pg_class r JOIN pg_catalog.pg_attribute t ON t.attrelid = r.oid WHERE r.oid = pg_catalog.to_regclass({}) AND t.attnum <> 0 AND NOT t.attisdropped AND t.attacl IS NOT NULL",
                reg(schema, n)
            ),
            on: format!("TABLE {schema}.{n}"),
        }),
        defaults: (
            if privs_kind == "SEQUENCE" { "S" } else { "r" },
            schema.as_str().to_string(),
        ),
        allowed: if privs_kind == "SEQUENCE" { SEQUENCE_PRIVS } else { TABLE_PRIVS },
    }
}

fn routine_grants(schema: &Name, n: &Name) -> GrantTarget {
    GrantTarget {
        on: format!("FUNCTION {schema}.{n}"),
        acl_query: format!(
            "SELECT p.proacl AS acl, p.proowner AS owner, 'f' AS k FROM pg_catalog.pg_proc p WHERE p.proname = {} AND p.pronamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = {})",
            lit(n.as_str()),
            lit(schema.as_str())
        ),
        columns: None,
        defaults: ("f", schema.as_str().to_string()),
        allowed: FUNCTION_PRIVS,
    }
}

fn schema_grants(schema: &Name) -> GrantTarget {
    GrantTarget {
        on: format!("SCHEMA {schema}"),
        acl_query: format!(
            "SELECT n.nspacl AS acl, n.nspowner AS owner, 'n' AS k FROM pg_catalog.pg_namespace n WHERE n.nspname = {}",
            lit(schema.as_str())
        ),
        columns: None,
        defaults: ("n", schema.as_str().to_string()),
        allowed: SCHEMA_PRIVS,
    }
}

/// The grantee of `aclexplode` row `a` as GRANT names it: PUBLIC or the quoted role.
const GRANTEE: &str = "CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)::text) END";
/// `*` when `aclexplode` row `a` is held with grant option.
const GRANTABLE: &str = "CASE WHEN a.is_grantable THEN '*' ELSE '' END";

/// The queries that read `target`'s ACL: its deparsed form (one text: the entries sorted, `,`
/// between; NULL when the object does not exist) and the statements that clear it (`text[]`,
/// `Object::names`). An entry is `grantee:PRIVILEGE`, `*` after it with grant option, and a column
/// privilege `grantee:PRIVILEGE(column)`; the owner's own entries are left out (the declared
/// grants are the whole ACL besides the owner).
fn acl_queries(target: &GrantTarget) -> (String, String) {
    let mut with = format!("WITH o AS ({})", target.acl_query);
    let mut entries = format!(
        "SELECT {GRANTEE} AS who, ({GRANTEE}) || ':' || a.privilege_type || {GRANTABLE} AS g FROM o, pg_catalog.aclexplode(coalesce(o.acl, pg_catalog.acldefault(o.k::\"char\", o.owner))) a WHERE a.grantee <> o.owner"
    );
    let (mut first, mut grantors) = (String::new(), String::new());
    if let Some(columns) = &target.columns {
        with.push_str(&format!(", c AS ({})", columns.query));
        entries.push_str(&format!(
            " UNION ALL SELECT {GRANTEE}, ({GRANTEE}) || ':' || a.privilege_type || '(' || pg_catalog.quote_ident(c.col::text) || ')' || {GRANTABLE} FROM c, pg_catalog.aclexplode(c.acl) a WHERE a.grantee <> c.owner"
        ));
        first = column_grantors_first(columns);
        grantors = " UNION SELECT pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantor)::text) FROM c, pg_catalog.aclexplode(c.acl) a WHERE a.grantor <> c.owner".into();
    }
    let deparse = format!(
        "{with} SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM o) THEN NULL ELSE (SELECT coalesce(pg_catalog.string_agg(x.g, ',' ORDER BY x.g), '') FROM ({entries}) x) END"
    );
    // every grantee (and column grantor) loses everything, CASCADE: what it granted onwards is in
    // this ACL too, and a table-level REVOKE takes its column privileges along
    let revoke = lit(&format!("REVOKE ALL ON {} FROM ", target.on));
    let statements = format!(
        "{with} SELECT coalesce(pg_catalog.array_agg(s.sql ORDER BY s.k, s.sql), '{{}}') FROM ({first}SELECT 1 AS k, {revoke} || w.who || ' CASCADE' AS sql FROM (SELECT DISTINCT x.who FROM ({entries}) x{grantors}) w) s"
    );
    (deparse, statements)
}

/// The statements that take back what the creator's default privileges (`ALTER DEFAULT
/// PRIVILEGES … GRANT`, `pg_default_acl`: the global ones and its schema's) give a new object of
/// `target`'s kind, run before `create` when it does not exist yet: `create` (in the schema hash)
/// revokes PUBLIC's only. `REVOKE ALL … FROM grantee CASCADE` per grantee but the creator (its
/// owner); `text[]`.
fn default_acl_query(target: &GrantTarget) -> String {
    let revoke = lit(&format!("REVOKE ALL ON {} FROM ", target.on));
    let (kind, schema) = &target.defaults;
    format!(
        "SELECT coalesce(pg_catalog.array_agg(DISTINCT {revoke} || ({GRANTEE}) || ' CASCADE'), '{{}}') FROM pg_catalog.pg_default_acl d, pg_catalog.aclexplode(d.defaclacl) a WHERE d.defaclrole = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER) AND d.defaclobjtype = '{kind}' AND d.defaclnamespace IN (0, (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = {})) AND a.grantee <> d.defaclrole",
        lit(schema)
    )
}

/// The statements (rows `(0, sql)`, then `UNION ALL`) that give every column grantor other than
/// the owner, from the owner, the grant option of what it granted on each column. Postgres keeps
/// a column privilege granted under a table-level grant option when that option is revoked (even
/// with CASCADE: the column ACL is not the table's), and only its grantor could revoke it then;
/// granted the column's option from the owner, the grantor's REVOKE … CASCADE takes it along.
fn column_grantors_first(columns: &ColumnAcl) -> String {
    format!(
        "SELECT 0 AS k, 'GRANT ' || g.privilege_type || ' (' || pg_catalog.string_agg(pg_catalog.quote_ident(g.col::text), ', ' ORDER BY g.col) || {} || pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantor)::text) || ' WITH GRANT OPTION' AS sql FROM (SELECT DISTINCT c.col, a.grantor, a.privilege_type FROM c, pg_catalog.aclexplode(c.acl) a WHERE a.grantor <> c.owner) g GROUP BY g.grantor, g.privilege_type UNION ALL ",
        lit(&format!(") ON {} TO ", columns.on))
    )
}

/// The grants object of `target`: `None` when the declaration has no `grants` key (the ACL is
/// then not managed).
fn grants_object(
    target: GrantTarget,
    grants: &Option<Vec<RawGrant>>,
    path: &str,
    label: &str,
    table: Option<(Name, Name)>,
    issues: &mut Vec<Issue>,
) -> Option<Object> {
    let grants = grants.as_ref()?;
    let mut statements = vec![];
    for g in grants {
        let mut privs = vec![];
        for (i, p) in g.privileges.iter().enumerate() {
            let up = p.trim().to_ascii_uppercase();
            if target.allowed.contains(&up.as_str()) {
                privs.push(if up == "ALL" {
                    "ALL PRIVILEGES".into()
                } else {
                    up
                });
            } else {
                issues.push(Issue::new(
                    format!("{}.privileges[{i}]", g.path),
                    code::INVALID_VALUE,
                    format!(
                        "privilege {p:?} on {}: one of {}",
                        target.on,
                        target.allowed.join(", ")
                    ),
                ));
            }
        }
        let roles: Vec<String> =
            g.to.iter()
                .enumerate()
                .filter_map(|(i, r)| role(r, &format!("{}.to[{i}]", g.path), issues))
                .collect();
        if privs.is_empty() || roles.is_empty() {
            issues.push(Issue::new(
                &g.path,
                code::INVALID_VALUE,
                "a grant needs at least one privilege and one role",
            ));
            continue;
        }
        statements.push(format!(
            "GRANT {} ON {} TO {}",
            privs.join(", "),
            target.on,
            roles.join(", ")
        ));
    }
    let (acl, names) = acl_queries(&target);
    let mut create = vec![format!("REVOKE ALL ON {} FROM PUBLIC", target.on)];
    create.extend(statements.iter().cloned());
    Some(Object {
        path: format!("{path}.grants"),
        kind: Kind::Grants,
        key: format!("grants {}", target.on),
        label: format!("the grants on {label}"),
        phase: Phase::AfterTables,
        schema: None,
        table,
        create,
        replace: statements,
        // `names` reads whole statements (`acl_queries`): nothing before them
        drop_live: Some(String::new()),
        names: Some(names),
        names_if_created: Some(default_acl_query(&target)),
        kept_after: None,
        recreate: vec![],
        deparse: acl,
        expected: None,
        function_body: false,
        immutable: None,
        tenant_partition: false,
        fragments: vec![],
    })
}

/// The ACL of each declared partition of `t` when `t` declares its `grants` or has row security:
/// its owner's only (the review of 975044a, 3). A partition is a table of its own to a role that names it: GRANT and
/// REVOKE on the parent do not reach it, and a role holding a privilege there — from the creator's
/// default privileges, or granted by hand — reads or truncates that partition's rows whatever the
/// parent's ACL says (`TRUNCATE` ignores row security). Nor would the parent's grants do: a
/// partition has the tenant policy, not the parent's declared policies or its statement triggers
/// (the review of the first form of this fix, H1: the parent's grants copied to each partition let
/// a role read through the partition the rows a declared policy hid). So every role reaches a
/// declared partition's rows through its table — under its ACL, policies and triggers — and the
/// partition's own ACL is kept empty besides its owner: created so, compared, repaired. A table
/// with row security and no `grants` too (the review of the stop 48 change, F2: a partition the
/// apply created took the creator's default privileges — Supabase's give every table to `anon` —
/// and `anon` read through it the rows the table's declared policy hid); a table with neither
/// has nothing to read around, and its partitions keep what they have. Reported under the
/// table's `grants` path.
fn partition_grants(t: &Table, declares_grants: bool) -> Vec<Object> {
    if !declares_grants && !t.rls {
        return vec![];
    }
    t.partitions
        .iter()
        .filter_map(|p| {
            let target = relation_grants(&t.schema, p, "TABLE");
            let label = format!(
                "partition {}.{p} (no privileges besides its owner's: it is reached through its table)",
                t.schema
            );
            grants_object(
                target,
                &Some(vec![]),
                &t.path,
                &label,
                Some((t.schema.clone(), p.clone())),
                &mut vec![],
            )
        })
        .collect()
}

/// Every object of the payload, in creation order within each phase.
pub fn normalize(
    raw: &RawObjects,
    tables: &[&RawTableObjects],
    default: &Name,
    s: &mut Schema,
    issues: &mut Vec<Issue>,
) {
    let mut out = vec![];
    for e in &raw.extensions {
        out.extend(extension(e, default, issues));
    }
    for d in &raw.schemas {
        out.extend(schema_decl(d, issues));
    }
    for q in &raw.sequences {
        out.extend(sequence(q, default, issues));
    }
    for d in &raw.domains {
        out.extend(domain(d, default, issues));
    }
    let calls = table_expressions(s);
    for f in &raw.functions {
        out.extend(function(f, default, &calls, issues));
    }
    for a in &raw.aggregates {
        out.extend(aggregate(a, default, issues));
    }
    for v in &raw.views {
        out.extend(view(v, default, issues));
    }
    for t in &raw.triggers {
        out.extend(trigger(t, default, issues));
    }
    let options = s.options.clone();
    for (i, objs) in tables.iter().enumerate() {
        let Some(t) = s.tables.get_mut(i) else {
            continue;
        };
        for p in &objs.policies {
            if let Some(o) = policy(p, t, issues) {
                t.policies.push(p.name.clone());
                out.push(o);
            }
        }
        if let Some(pb) = &objs.partition_by {
            if let Some((sql, key)) = partition_by(pb, t, issues) {
                t.partition_by = Some(sql);
                out.push(key);
            }
        }
        for p in &objs.partitions {
            if let Some(o) = partition(p, t, &options, issues) {
                t.partitions.extend(o.table.iter().map(|(_, n)| n.clone()));
                out.push(o);
            }
        }
        let target = relation_grants(&t.schema, &t.name, "TABLE");
        let label = t.qualified();
        out.extend(grants_object(
            target,
            &objs.grants,
            &t.path,
            &label,
            Some((t.schema.clone(), t.name.clone())),
            issues,
        ));
        out.extend(partition_grants(t, objs.grants.is_some()));
    }
    for o in &mut out {
        if o.kind == Kind::Trigger {
            if let Some((sc, tn)) = &o.table {
                if let Some(t) = s
                    .tables
                    .iter_mut()
                    .find(|t| &t.schema == sc && &t.name == tn)
                {
                    let n = trigger_name_of(&o.key);
                    o.deparse = trigger_deparse(sc, tn, &n, &t.partitions);
                    t.triggers.push(n);
                }
            }
        }
    }
    duplicates(&out, issues);
    // grants last: every object they name exists by then
    // partitions first after the tables (views and triggers may read them), grants last
    out.sort_by_key(|o| (o.phase, o.kind != Kind::Partition, o.kind == Kind::Grants));
    s.objects = out;
}

fn trigger_name_of(key: &str) -> String {
    key.rsplit_once(' ')
        .map(|(_, n)| n.to_string())
        .unwrap_or_default()
}

fn duplicates(objs: &[Object], issues: &mut Vec<Issue>) {
    let mut seen = std::collections::HashMap::new();
    for o in objs {
        if let Some(first) = seen.insert(o.key.clone(), o.path.clone()) {
            issues.push(Issue::new(
                &o.path,
                code::DUPLICATE_NAME,
                format!("{} is declared twice (first at {first})", o.label),
            ));
        }
    }
}

/// The text of every table expression (defaults, checks, generated): a function named there is
/// created before the tables.
fn table_expressions(s: &Schema) -> String {
    let mut text = String::new();
    for t in &s.tables {
        for c in &t.columns {
            for e in [&c.default, &c.generated].into_iter().flatten() {
                text.push_str(e);
                text.push('\n');
            }
        }
        for c in &t.checks {
            text.push_str(&c.expression);
            text.push('\n');
        }
    }
    text.to_ascii_lowercase()
}

fn extension(e: &RawExtension, default: &Name, issues: &mut Vec<Issue>) -> Option<Object> {
    let schema = schema_of(&e.schema, default, &e.path, issues);
    if e.name.trim().is_empty()
        || !e
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        issues.push(Issue::new(
            format!("{}.name", e.path),
            code::INVALID_NAME,
            format!("extension {:?}: letters, digits, '_' and '-'", e.name),
        ));
        return None;
    }
    let n = quote_ident(&e.name);
    let version = e.version.as_deref().map(quote_literal);
    let mut create = format!("CREATE EXTENSION IF NOT EXISTS {n} WITH SCHEMA {schema}");
    let mut replace = vec![format!("ALTER EXTENSION {n} SET SCHEMA {schema}")];
    let mut deparse = "n.nspname::text".to_string();
    let mut expected = schema.as_str().to_string();
    if let (Some(v), Some(raw)) = (&version, &e.version) {
        create.push_str(&format!(" VERSION {v}"));
        replace.push(format!("ALTER EXTENSION {n} UPDATE TO {v}"));
        deparse.push_str(" || ' ' || e.extversion");
        expected.push_str(&format!(" {raw}"));
    }
    Some(Object {
        path: e.path.clone(),
        kind: Kind::Extension,
        key: format!("extension {}", e.name),
        label: format!("extension {n}"),
        phase: Phase::BeforeTables,
        schema: Some(schema),
        table: None,
        create: vec![create],
        replace,
        drop_live: None,
        names: None,
        names_if_created: None,
        kept_after: None,
        recreate: vec![],
        deparse: format!(
            "SELECT {deparse} FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = {}",
            lit(&e.name)
        ),
        expected: Some(expected),
        function_body: false,
        immutable: None,
        tenant_partition: false,
        fragments: vec![],
    })
}

fn schema_decl(d: &RawSchemaDecl, issues: &mut Vec<Issue>) -> Vec<Object> {
    let Some(n) = name(&d.name, format!("{}.name", d.path), issues) else {
        return vec![];
    };
    let mut out = vec![Object {
        path: d.path.clone(),
        kind: Kind::Schema,
        key: format!("schema {}", n.as_str()),
        label: format!("schema {n}"),
        phase: Phase::BeforeTables,
        schema: None,
        table: None,
        create: vec![format!("CREATE SCHEMA IF NOT EXISTS {n}")],
        replace: vec![],
        drop_live: None,
        names: None,
        names_if_created: None,
        kept_after: None,
        recreate: vec![],
        deparse: format!(
            "SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname = {}",
            lit(n.as_str())
        ),
        expected: Some(n.as_str().to_string()),
        function_body: false,
        immutable: None,
        tenant_partition: false,
        fragments: vec![],
    }];
    let label = format!("schema {n}");
    out.extend(grants_object(
        schema_grants(&n),
        &d.grants,
        &d.path,
        &label,
        None,
        issues,
    ));
    out
}

fn sequence(q: &RawSequence, default: &Name, issues: &mut Vec<Issue>) -> Vec<Object> {
    let schema = schema_of(&q.schema, default, &q.path, issues);
    let Some(n) = name(&q.name, format!("{}.name", q.path), issues) else {
        return vec![];
    };
    let ty = match q.type_.as_deref().map(|t| t.trim().to_ascii_lowercase()) {
        None => "bigint".to_string(),
        Some(t)
            if [
                "smallint", "integer", "bigint", "int2", "int4", "int8", "int",
            ]
            .contains(&t.as_str()) =>
        {
            t
        }
        Some(t) => {
            issues.push(Issue::new(
                format!("{}.type", q.path),
                code::INVALID_VALUE,
                format!("a sequence is smallint, integer or bigint, not {t:?}"),
            ));
            return vec![];
        }
    };
    let opt = |k: &str, v: Option<i64>, none: &str| match v {
        Some(v) => format!(" {k} {v}"),
        None => format!(" {none}"),
    };
    let params = format!(
        "AS {ty}{}{}{}{}{}{}",
        opt("INCREMENT BY", q.increment, "INCREMENT BY 1"),
        opt("MINVALUE", q.min, "NO MINVALUE"),
        opt("MAXVALUE", q.max, "NO MAXVALUE"),
        q.start
            .map(|v| format!(" START WITH {v}"))
            .unwrap_or_default(),
        opt("CACHE", q.cache, "CACHE 1"),
        if q.cycle { " CYCLE" } else { " NO CYCLE" }
    );
    let label = format!("sequence {schema}.{n}");
    let mut out = vec![Object {
        path: q.path.clone(),
        kind: Kind::Sequence,
        key: format!("sequence {}.{}", schema.as_str(), n.as_str()),
        label: label.clone(),
        phase: Phase::BeforeTables,
        schema: Some(schema.clone()),
        table: None,
        create: vec![format!("CREATE SEQUENCE {schema}.{n} {params}")],
        replace: vec![format!("ALTER SEQUENCE {schema}.{n} {params}")],
        drop_live: None,
        names: None,
        names_if_created: None,
        kept_after: None,
        recreate: vec![],
        deparse: format!(
            "SELECT pg_catalog.format_type(s.seqtypid, NULL) || ' start ' || s.seqstart || ' increment ' || s.seqincrement || ' min ' || s.seqmin || ' max ' || s.seqmax || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle FROM pg_catalog.pg_sequence s WHERE s.seqrelid = pg_catalog.to_regclass({})",
            reg(&schema, &n)
        ),
        expected: None,
        function_body: false,
        immutable: None,
        tenant_partition: false,
        fragments: vec![],
    }];
    out.extend(grants_object(
        relation_grants(&schema, &n, "SEQUENCE"),
        &q.grants,
        &q.path,
        &label,
        None,
        issues,
    ));
    out
}

fn domain(d: &RawDomain, default: &Name, issues: &mut Vec<Issue>) -> Option<Object> {
    let schema = schema_of(&d.schema, default, &d.path, issues);
    let n = name(&d.name, format!("{}.name", d.path), issues)?;
    let q = format!("{schema}.{n}");
    let mut frags = vec![Fragment::new(
        format!("{}.type", d.path),
        &d.type_,
        FragmentKind::Type,
    )];
    if let Some(e) = &d.default {
        frags.push(Fragment::new(
            format!("{}.default", d.path),
            e,
            FragmentKind::Expression,
        ));
    }
    for c in &d.checks {
        frags.push(Fragment::new(
            format!("{}.expression", c.path),
            &c.expression,
            FragmentKind::Expression,
        ));
    }
    let mut create = format!("CREATE DOMAIN {q} AS {}", d.type_.trim());
    let mut replace = vec![];
    if let Some(c) = &d.collation {
        create.push_str(&format!(" COLLATE {}", collation_sql(c)));
    }
    match &d.default {
        Some(e) => {
            create.push_str(&format!(" DEFAULT ({e})"));
            replace.push(format!("ALTER DOMAIN {q} SET DEFAULT ({e})"));
        }
        None => replace.push(format!("ALTER DOMAIN {q} DROP DEFAULT")),
    }
    if d.not_null {
        create.push_str(" NOT NULL");
        replace.push(format!("ALTER DOMAIN {q} SET NOT NULL"));
    } else {
        replace.push(format!("ALTER DOMAIN {q} DROP NOT NULL"));
    }
    for (i, c) in d.checks.iter().enumerate() {
        let cname = match &c.name {
            Some(raw) => name(raw, format!("{}.name", c.path), issues)?,
            None => Name::derived(&format!("ck_{}_{}", n.as_str(), i + 1)),
        };
        let expr = c.expression.trim();
        create.push_str(&format!(" CONSTRAINT {cname} CHECK ({expr})"));
        replace.push(format!(
            "ALTER DOMAIN {q} ADD CONSTRAINT {cname} CHECK ({expr})"
        ));
    }
    Some(Object {
        path: d.path.clone(),
        kind: Kind::Domain,
        key: format!("type {}.{}", schema.as_str(), n.as_str()),
        label: format!("domain {q}"),
        phase: Phase::BeforeTables,
        schema: Some(schema.clone()),
        table: None,
        create: vec![create],
        replace,
        drop_live: Some(format!("ALTER DOMAIN {q} DROP CONSTRAINT ")),
        names: Some(format!(
            "SELECT coalesce(pg_catalog.array_agg(pg_catalog.quote_ident(c.conname::text)), '{{}}') FROM pg_catalog.pg_constraint c WHERE c.contypid = pg_catalog.to_regtype({}) AND c.contype = 'c'",
            reg(&schema, &n)
        )),
        names_if_created: None,
        kept_after: None,
        recreate: vec![],
        deparse: format!(
            "SELECT pg_catalog.format_type(t.typbasetype, t.typtypmod) || ' not null ' || t.typnotnull || ' default ' || coalesce(t.typdefault, '-') || ' collation ' || t.typcollation::regcollation::text || ' checks ' || coalesce((SELECT pg_catalog.string_agg(c.conname || ' ' || pg_catalog.pg_get_constraintdef(c.oid), '; ' ORDER BY c.conname) FROM pg_catalog.pg_constraint c WHERE c.contypid = t.oid AND c.contype = 'c'), '') FROM pg_catalog.pg_type t WHERE t.oid = pg_catalog.to_regtype({}) AND t.typtype = 'd'",
            reg(&schema, &n)
        ),
        expected: None,
        function_body: false,
        immutable: None,
        tenant_partition: false,
        fragments: frags,
    })
}

fn routine_deparse(schema: &Name, n: &Name, what: &str) -> String {
    format!(
        "SELECT pg_catalog.string_agg({what}, E'\\n--\\n' ORDER BY p.oid) FROM pg_catalog.pg_proc p WHERE p.proname = {} AND p.pronamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = {})",
        lit(n.as_str()),
        lit(schema.as_str())
    )
}

fn function(f: &RawFunction, default: &Name, calls: &str, issues: &mut Vec<Issue>) -> Vec<Object> {
    let schema = schema_of(&f.schema, default, &f.path, issues);
    let Some(n) = name(&f.name, format!("{}.name", f.path), issues) else {
        return vec![];
    };
    let q = format!("{schema}.{n}");
    let Some(sql) = function_sql(f, &schema, &q, issues) else {
        return vec![];
    };
    // Created before the tables when a table expression calls it (a default, a check).
    let called = calls.contains(&format!("{}(", n.as_str()))
        || calls.contains(&format!("{}.{}(", schema.as_str(), n.as_str()));
    let phase = if called {
        Phase::BeforeTables
    } else {
        Phase::AfterTables
    };
    let label = format!("function {q}");
    let mut create = vec![sql.clone()];
    if let Some(c) = &f.comment {
        create.push(format!("COMMENT ON FUNCTION {q} IS {}", quote_literal(c)));
    }
    let mut out = vec![Object {
        path: f.path.clone(),
        kind: Kind::Function,
        key: format!("function {}.{}", schema.as_str(), n.as_str()),
        label: label.clone(),
        phase,
        schema: Some(schema.clone()),
        table: None,
        replace: create.clone(),
        recreate: [vec![format!("DROP FUNCTION {q}")], create.clone()].concat(),
        create,
        drop_live: None,
        names: None,
        names_if_created: None,
        kept_after: None,
        deparse: routine_deparse(
            &schema,
            &n,
            "pg_catalog.pg_get_functiondef(p.oid) || coalesce(' comment ' || pg_catalog.obj_description(p.oid, 'pg_proc'), '')",
        ),
        expected: None,
        function_body: true,
        immutable: None,
        tenant_partition: false,
        fragments: vec![
            Fragment::new(format!("{}.arguments", f.path), &f.arguments, FragmentKind::List),
            Fragment::new(format!("{}.returns", f.path), &f.returns, FragmentKind::List),
        ],
    }];
    out.extend(grants_object(
        routine_grants(&schema, &n),
        &f.grants,
        &f.path,
        &label,
        None,
        issues,
    ));
    out
}

/// `CREATE OR REPLACE FUNCTION …`: the search_path is always pinned (`SET search_path`), to the
/// declared schemas or else the function's own schema, with `pg_temp` explicitly last. SECURITY
/// DEFINER only when declared, and then only with a declared `search_path`.
fn function_sql(
    f: &RawFunction,
    schema: &Name,
    q: &str,
    issues: &mut Vec<Issue>,
) -> Option<String> {
    let p = |k: &str| format!("{}.{k}", f.path);
    let lang = f.language.trim().to_ascii_lowercase();
    if lang.is_empty() || !lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        issues.push(Issue::new(
            p("language"),
            code::INVALID_VALUE,
            format!("language {:?}", f.language),
        ));
        return None;
    }
    let mut attrs = vec![format!("LANGUAGE {}", quote_ident(&lang))];
    match f
        .volatility
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("volatile") => attrs.push("VOLATILE".into()),
        Some("stable") => attrs.push("STABLE".into()),
        Some("immutable") => attrs.push("IMMUTABLE".into()),
        Some(other) => {
            issues.push(Issue::new(
                p("volatility"),
                code::INVALID_VALUE,
                format!("volatility is volatile, stable or immutable, not {other:?}"),
            ));
        }
    }
    if f.strict {
        attrs.push("STRICT".into());
    }
    match f
        .parallel
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("unsafe") => {}
        Some(x @ ("safe" | "restricted")) => {
            attrs.push(format!("PARALLEL {}", x.to_ascii_uppercase()))
        }
        Some(other) => issues.push(Issue::new(
            p("parallel"),
            code::INVALID_VALUE,
            format!("parallel is unsafe, restricted or safe, not {other:?}"),
        )),
    }
    if f.security_definer {
        if f.search_path.is_none() {
            issues.push(Issue::new(
                p("security_definer"),
                code::CONFLICTING_DEFINITION,
                "a SECURITY DEFINER function runs with its owner's privileges: declare its search_path too (docs/security.md)",
            ));
        }
        attrs.push("SECURITY DEFINER".into());
    }
    let path: Vec<String> = match &f.search_path {
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, s)| name(s, format!("{}.search_path[{i}]", f.path), issues))
            .map(|n| n.to_string())
            .collect(),
        None => vec![schema.to_string()],
    };
    let mut path = path;
    path.push("pg_temp".into());
    attrs.push(format!("SET search_path = {}", path.join(", ")));
    let tag = dollar_tag(&f.body);
    Some(format!(
        "CREATE OR REPLACE FUNCTION {q}({}) RETURNS {} {} AS {tag}{}{tag}",
        f.arguments.trim(),
        f.returns.trim(),
        attrs.join(" "),
        f.body
    ))
}

fn aggregate(a: &RawAggregate, default: &Name, issues: &mut Vec<Issue>) -> Vec<Object> {
    let schema = schema_of(&a.schema, default, &a.path, issues);
    let Some(n) = name(&a.name, format!("{}.name", a.path), issues) else {
        return vec![];
    };
    let q = format!("{schema}.{n}");
    let Some(sfunc) = qualified_ref(&a.sfunc, &format!("{}.sfunc", a.path), issues) else {
        return vec![];
    };
    let mut opts = vec![
        format!("SFUNC = {sfunc}"),
        format!("STYPE = {}", a.stype.trim()),
    ];
    let mut finalfunc = None;
    if let Some(ff) = &a.finalfunc {
        let Some(ff) = qualified_ref(ff, &format!("{}.finalfunc", a.path), issues) else {
            return vec![];
        };
        opts.push(format!("FINALFUNC = {ff}"));
        finalfunc = Some(ff);
    }
    if let Some(ic) = &a.initcond {
        opts.push(format!("INITCOND = {}", quote_literal(ic)));
    }
    let sql = format!(
        "CREATE OR REPLACE AGGREGATE {q}({}) ({})",
        a.arguments.trim(),
        opts.join(", ")
    );
    let label = format!("aggregate {q}");
    let mut out = vec![Object {
        path: a.path.clone(),
        kind: Kind::Aggregate,
        key: format!("function {}.{}", schema.as_str(), n.as_str()),
        label: label.clone(),
        phase: Phase::AfterTables,
        schema: Some(schema.clone()),
        table: None,
        create: vec![sql.clone()],
        replace: vec![sql.clone()],
        recreate: vec![format!("DROP AGGREGATE {q}({})", a.arguments.trim()), sql],
        drop_live: None,
        names: None,
        names_if_created: None,
        kept_after: None,
        deparse: format!(
            "SELECT pg_catalog.string_agg(pg_catalog.pg_get_function_identity_arguments(p.oid) || ' sfunc ' || g.aggtransfn::regprocedure::text || ' stype ' || pg_catalog.format_type(g.aggtranstype, NULL) || ' final ' || g.aggfinalfn::text || ' init ' || coalesce(g.agginitval, '-'), E'\\n' ORDER BY p.oid) FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_aggregate g ON g.aggfnoid = p.oid WHERE p.proname = {} AND p.pronamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = {})",
            lit(n.as_str()),
            lit(schema.as_str())
        ),
        expected: None,
        function_body: false,
        immutable: None,
        tenant_partition: false,
        fragments: [
            Fragment::new(format!("{}.arguments", a.path), &a.arguments, FragmentKind::List),
            Fragment::new(format!("{}.stype", a.path), &a.stype, FragmentKind::Type),
            Fragment::new(format!("{}.sfunc", a.path), &sfunc, FragmentKind::Name),
        ]
        .into_iter()
        .chain(finalfunc.iter().map(|ff| {
            Fragment::new(format!("{}.finalfunc", a.path), ff, FragmentKind::Name)
        }))
        .collect(),
    }];
    out.extend(grants_object(
        routine_grants(&schema, &n),
        &a.grants,
        &a.path,
        &label,
        None,
        issues,
    ));
    out
}

fn view(v: &RawView, default: &Name, issues: &mut Vec<Issue>) -> Vec<Object> {
    let schema = schema_of(&v.schema, default, &v.path, issues);
    let Some(n) = name(&v.name, format!("{}.name", v.path), issues) else {
        return vec![];
    };
    let q = format!("{schema}.{n}");
    let query = v.query.trim();
    let (kind, create) = view_create(v, &q, query, issues);
    let drop = if v.materialized {
        format!("DROP MATERIALIZED VIEW {q}")
    } else {
        format!("DROP VIEW {q}")
    };
    let recreate = [vec![drop], create.clone()].concat();
    let replace = if v.materialized {
        recreate.clone()
    } else {
        create.clone()
    };
    let label = format!(
        "{} {q}",
        if v.materialized {
            "materialized view"
        } else {
            "view"
        }
    );
    let mut out = vec![Object {
        path: v.path.clone(),
        kind,
        key: format!("relation {}.{}", schema.as_str(), n.as_str()),
        label: label.clone(),
        phase: Phase::AfterTables,
        schema: Some(schema.clone()),
        table: None,
        create,
        replace,
        recreate,
        drop_live: None,
        names: None,
        names_if_created: None,
        kept_after: None,
        deparse: format!(
            "SELECT c.relkind::text || ' ' || coalesce(pg_catalog.array_to_string(c.reloptions, ','), '') || ' ' || pg_catalog.pg_get_viewdef(c.oid) || ' indexes ' || coalesce((SELECT pg_catalog.string_agg(pg_catalog.pg_get_indexdef(i.indexrelid), '; ' ORDER BY pg_catalog.pg_get_indexdef(i.indexrelid)) FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid), '') || coalesce(' comment ' || pg_catalog.obj_description(c.oid, 'pg_class'), '') FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass({})",
            reg(&schema, &n)
        ),
        expected: None,
        function_body: false,
        immutable: None,
        tenant_partition: false,
        fragments: vec![Fragment::new(format!("{}.query", v.path), &v.query, FragmentKind::List)],
    }];
    out.extend(grants_object(
        relation_grants(&schema, &n, "TABLE"),
        &v.grants,
        &v.path,
        &label,
        None,
        issues,
    ));
    out
}

/// What creates view `v` (`q`, its query `query`): its kind, the CREATE (a materialized view's
/// indexes after it) and its comment.
fn view_create(v: &RawView, q: &str, query: &str, issues: &mut Vec<Issue>) -> (Kind, Vec<String>) {
    let indexes: Vec<String> = v
        .indexes
        .iter()
        .filter_map(|x| simple_index(x, q, issues).map(|(_, sql)| sql))
        .collect();
    let (kind, create) = if v.materialized {
        if v.security_invoker.is_some() {
            issues.push(Issue::new(format!("{}.security_invoker", v.path), code::CONFLICTING_DEFINITION, "a materialized view runs its query when refreshed, as the refreshing role: security_invoker is for views"));
        }
        let data = if v.with_data.unwrap_or(true) {
            "WITH DATA"
        } else {
            "WITH NO DATA"
        };
        let mut c = vec![format!("CREATE MATERIALIZED VIEW {q} AS {query} {data}")];
        c.extend(indexes.iter().cloned());
        (Kind::MaterializedView, c)
    } else {
        if !v.indexes.is_empty() || v.with_data.is_some() {
            issues.push(Issue::new(
                format!("{}.indexes", v.path),
                code::CONFLICTING_DEFINITION,
                "indexes and with_data are for materialized views",
            ));
        }
        // security_invoker by default: the view reads its tables as the querying role, so their
        // row-level security holds through it
        let invoker = v.security_invoker.unwrap_or(true);
        (
            Kind::View,
            vec![format!(
                "CREATE OR REPLACE VIEW {q} WITH (security_invoker = {invoker}) AS {query}"
            )],
        )
    };
    let mut create = create;
    if let Some(c) = &v.comment {
        let what = if v.materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        create.push(format!("COMMENT ON {what} {q} IS {}", quote_literal(c)));
    }
    (kind, create)
}

/// An index of a materialized view or a partition: its quoted name and `CREATE INDEX`.
fn simple_index(x: &RawViewIndex, on: &str, issues: &mut Vec<Issue>) -> Option<(Name, String)> {
    let xn = name(&x.name, format!("{}.name", x.path), issues)?;
    let cols: Vec<String> = x
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| name(c, format!("{}.columns[{i}]", x.path), issues))
        .map(|c| c.to_string())
        .collect();
    let method = match &x.method {
        Some(m) => name(m, format!("{}.method", x.path), issues)?.to_string(),
        None => "btree".into(),
    };
    let sql = format!(
        "CREATE {}INDEX {xn} ON {on} USING {method} ({})",
        if x.unique { "UNIQUE " } else { "" },
        cols.join(", ")
    );
    Some((xn, sql))
}

/// `table` or `schema.table` of a trigger: (schema, table).
fn table_ref(
    raw: &str,
    default: &Name,
    path: &str,
    issues: &mut Vec<Issue>,
) -> Option<(Name, Name)> {
    match raw.split_once('.') {
        Some((s, t)) => Some((
            name(s, path.to_string(), issues)?,
            name(t, path.to_string(), issues)?,
        )),
        None => Some((default.clone(), name(raw, path.to_string(), issues)?)),
    }
}

fn trigger(t: &RawTrigger, default: &Name, issues: &mut Vec<Issue>) -> Option<Object> {
    let p = |k: &str| format!("{}.{k}", t.path);
    let n = name(&t.name, p("name"), issues)?;
    let (ts, tn) = table_ref(&t.table, default, &p("table"), issues)?;
    let timing = match t
        .timing
        .trim()
        .to_ascii_lowercase()
        .replace('_', " ")
        .as_str()
    {
        "before" => "BEFORE",
        "after" => "AFTER",
        "instead of" => "INSTEAD OF",
        other => {
            issues.push(Issue::new(
                p("timing"),
                code::INVALID_VALUE,
                format!("timing is before, after or instead of, not {other:?}"),
            ));
            return None;
        }
    };
    let events = trigger_events(t, issues)?;
    let level = match t.level.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("row") => "ROW",
        Some("statement") => "STATEMENT",
        Some(other) => {
            issues.push(Issue::new(
                p("level"),
                code::INVALID_VALUE,
                format!("level is row or statement, not {other:?}"),
            ));
            return None;
        }
    };
    let func = qualified_ref(&t.function, &p("function"), issues)?;
    let args: Vec<String> = t.arguments.iter().map(|a| quote_literal(a)).collect();
    let when = t
        .when
        .as_deref()
        .map(|w| format!(" WHEN ({})", w.trim()))
        .unwrap_or_default();
    let sql = format!(
        "CREATE OR REPLACE TRIGGER {n} {timing} {} ON {ts}.{tn} FOR EACH {level}{when} EXECUTE FUNCTION {func}({})",
        events.join(" OR "),
        args.join(", ")
    );
    Some(Object {
        path: t.path.clone(),
        kind: Kind::Trigger,
        key: format!("trigger {}.{} {}", ts.as_str(), tn.as_str(), n.as_str()),
        label: format!("trigger {n} on {ts}.{tn}"),
        phase: Phase::AfterTables,
        schema: None,
        table: Some((ts.clone(), tn.clone())),
        create: vec![sql.clone()],
        replace: vec![sql],
        recreate: vec![],
        drop_live: None,
        names: None,
        names_if_created: None,
        kept_after: Some(trigger_always_kept(&ts, &tn, n.as_str())),
        deparse: trigger_deparse(&ts, &tn, n.as_str(), &[]),
        expected: None,
        function_body: false,
        immutable: None,
        tenant_partition: false,
        fragments: t
            .when
            .iter()
            .map(|w| Fragment::new(format!("{}.when", t.path), w, FragmentKind::Expression))
            .chain([Fragment::new(p("function"), &func, FragmentKind::Name)])
            .collect(),
    })
}

/// A declared trigger's deparse: `pg_get_triggerdef` and its firing state ([`TRIGGER_FIRING`]),
/// then, for each of the table's declared `partitions` on which its clone does not fire (DISABLE or
/// ENABLE REPLICA set on the partition alone) — or the clone on one of its own partitions, when it
/// was made partitioned by hand (the review of 2e63b4d, 1) — ` -- on <partition> DISABLED` /
/// `ENABLE REPLICA`.
/// The declared form (CREATE OR REPLACE TRIGGER on the table, which PostgreSQL 15 to 18 carry to
/// every partition's clone, enabled) has none, so such a clone differs and the trigger is replaced.
fn trigger_deparse(ts: &Name, tn: &Name, trigger: &str, partitions: &[Name]) -> String {
    let clones = if partitions.is_empty() {
        String::new()
    } else {
        let regs: Vec<String> = partitions
            .iter()
            .map(|p| format!("pg_catalog.to_regclass({})", reg(ts, p)))
            .collect();
        format!(
            " OPERATOR(pg_catalog.||) coalesce((SELECT pg_catalog.string_agg(' -- on ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(pc.relname::text) OPERATOR(pg_catalog.||) CASE p.tgenabled WHEN 'D' THEN ' DISABLED' ELSE ' ENABLE REPLICA' END, '' ORDER BY pc.relname) FROM pg_catalog.pg_trigger p JOIN pg_catalog.pg_class pc ON pc.oid = p.tgrelid WHERE p.tgenabled IN ('D', 'R') AND ((p.tgparentid = t.oid AND p.tgrelid = ANY (ARRAY[{regs}])) OR p.tgparentid IN (SELECT p1.oid FROM pg_catalog.pg_trigger p1 WHERE p1.tgparentid = t.oid AND p1.tgrelid = ANY (ARRAY[{regs}])))), '')",
            regs = regs.join(", ")
        )
    };
    format!(
        "SELECT pg_catalog.pg_get_triggerdef(t.oid) OPERATOR(pg_catalog.||) {TRIGGER_FIRING}{clones} FROM pg_catalog.pg_trigger t WHERE t.tgrelid = pg_catalog.to_regclass({}) AND t.tgname = {} AND NOT t.tgisinternal",
        reg(ts, tn),
        lit(trigger)
    )
}

/// The statements that set `ENABLE ALWAYS` again where the trigger had it — on the table itself
/// and on each clone of it down the partition tree, each `ALTER TABLE ONLY` (on a partitioned
/// partition a plain one reaches its partitions' clones: the review of f468776, 1) — after its
/// `CREATE OR REPLACE TRIGGER`, which sets the table's and every clone's firing back to `ENABLE`.
/// ALWAYS fires in every session, as the declared ENABLE does (the comparison takes them as the
/// same); it is someone's choice — a logical replication subscriber's apply worker fires only
/// ALWAYS triggers — and a repair keeps it (the review of 7e4c192, T1). A clone DISABLEd or ENABLE
/// REPLICA takes the firing its parent has after the repair (ALWAYS under an ALWAYS one, down the
/// tree: the review of 419eb1a, 2), as a partition attached then would, and as revos's own
/// trigger does (`schema::trigger_firing`). `text[]`.
fn trigger_always_kept(ts: &Name, tn: &Name, trigger: &str) -> String {
    format!(
        "WITH RECURSIVE tr AS (SELECT t.oid, t.tgrelid, t.tgname, (t.tgenabled = 'A') AS always, 0 AS depth FROM pg_catalog.pg_trigger t WHERE t.tgrelid = pg_catalog.to_regclass({}) AND t.tgname = {} AND NOT t.tgisinternal UNION ALL SELECT c.oid, c.tgrelid, c.tgname, (c.tgenabled = 'A' OR (c.tgenabled IN ('D', 'R') AND tr.always)), tr.depth + 1 FROM pg_catalog.pg_trigger c JOIN tr ON c.tgparentid = tr.oid) SELECT coalesce(pg_catalog.array_agg('ALTER TABLE ONLY ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(n.nspname::text) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(r.relname::text) OPERATOR(pg_catalog.||) ' ENABLE ALWAYS TRIGGER ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(tr.tgname::text) ORDER BY tr.depth, n.nspname, r.relname), '{{}}') FROM tr JOIN pg_catalog.pg_class r ON r.oid = tr.tgrelid JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace WHERE tr.always",
        reg(ts, tn),
        lit(trigger)
    )
}

/// The events of trigger `t` (`INSERT`, `UPDATE OF cols`, …); None when it has none.
fn trigger_events(t: &RawTrigger, issues: &mut Vec<Issue>) -> Option<Vec<String>> {
    let p = |k: &str| format!("{}.{k}", t.path);
    let mut events = vec![];
    for (i, e) in t.events.iter().enumerate() {
        match e.trim().to_ascii_lowercase().as_str() {
            "insert" => events.push("INSERT".to_string()),
            "delete" => events.push("DELETE".to_string()),
            "truncate" => events.push("TRUNCATE".to_string()),
            "update" if t.update_of.is_empty() => events.push("UPDATE".to_string()),
            "update" => {
                let cols: Vec<String> = t
                    .update_of
                    .iter()
                    .enumerate()
                    .filter_map(|(j, c)| name(c, format!("{}[{j}]", p("update_of")), issues))
                    .map(|c| c.to_string())
                    .collect();
                events.push(format!("UPDATE OF {}", cols.join(", ")));
            }
            other => issues.push(Issue::new(
                format!("{}[{i}]", p("events")),
                code::INVALID_VALUE,
                format!("an event is insert, update, delete or truncate, not {other:?}"),
            )),
        }
    }
    if events.is_empty() {
        issues.push(Issue::new(
            p("events"),
            code::INVALID_VALUE,
            "a trigger needs at least one event",
        ));
        return None;
    }
    Some(events)
}

fn policy(p: &RawPolicy, t: &Table, issues: &mut Vec<Issue>) -> Option<Object> {
    let at = |k: &str| format!("{}.{k}", p.path);
    let pname = verbatim_name(&p.name, &at("name"), issues)?;
    let command = match p.command.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("all") => "ALL",
        Some("select") => "SELECT",
        Some("insert") => "INSERT",
        Some("update") => "UPDATE",
        Some("delete") => "DELETE",
        Some(other) => {
            issues.push(Issue::new(
                at("command"),
                code::INVALID_VALUE,
                format!("command is all, select, insert, update or delete, not {other:?}"),
            ));
            return None;
        }
    };
    let roles = policy_roles(p, issues)?;
    if !policy_clauses_fit(p, command, issues) {
        return None;
    }
    let kind = if p.permissive.unwrap_or(true) {
        "PERMISSIVE"
    } else {
        "RESTRICTIVE"
    };
    let q = t.qualified();
    let qn = quote_ident(&pname);
    let mut sql = format!(
        "CREATE POLICY {qn} ON {q} AS {kind} FOR {command} TO {}",
        roles.join(", ")
    );
    if let Some(u) = &p.using {
        sql.push_str(&format!(" USING ({})", u.trim()));
    }
    if let Some(c) = &p.with_check {
        sql.push_str(&format!(" WITH CHECK ({})", c.trim()));
    }
    let drop = format!("DROP POLICY IF EXISTS {qn} ON {q}");
    Some(Object {
        path: p.path.clone(),
        kind: Kind::Policy,
        key: format!("policy {}.{} {}", t.schema.as_str(), t.name.as_str(), pname),
        label: format!("policy {qn} on {q}"),
        phase: Phase::AfterTables,
        schema: None,
        table: Some((t.schema.clone(), t.name.clone())),
        create: vec![sql.clone()],
        replace: vec![drop, sql],
        recreate: vec![],
        drop_live: None,
        names: None,
        names_if_created: None,
        kept_after: None,
        deparse: format!(
            "SELECT p.polcmd::text || ' ' || p.polpermissive::text || ' ' || (SELECT pg_catalog.string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)::text) END, ',' ORDER BY CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)::text) END) FROM pg_catalog.unnest(p.polroles) r) || ' using ' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '-') || ' check ' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '-') FROM pg_catalog.pg_policy p WHERE p.polrelid = pg_catalog.to_regclass({}) AND p.polname = {}",
            lit(&q),
            lit(&pname)
        ),
        expected: None,
        function_body: false,
        immutable: None,
        tenant_partition: false,
        fragments: [("using", &p.using), ("with_check", &p.with_check)]
            .into_iter()
            .filter_map(|(k, e)| e.as_ref().map(|e| Fragment::new(format!("{}.{k}", p.path), e, FragmentKind::Expression)))
            .collect(),
    })
}

/// The roles policy `p` applies to (`PUBLIC` when it names none); None when the list is empty.
fn policy_roles(p: &RawPolicy, issues: &mut Vec<Issue>) -> Option<Vec<String>> {
    let at = |k: &str| format!("{}.{k}", p.path);
    let roles: Vec<String> = match &p.roles {
        None => vec!["PUBLIC".into()],
        Some(list) => list
            .iter()
            .enumerate()
            .filter_map(|(i, r)| role(r, &format!("{}[{i}]", at("roles")), issues))
            .collect(),
    };
    if roles.is_empty() {
        issues.push(Issue::new(
            at("roles"),
            code::INVALID_VALUE,
            "a policy applies to at least one role",
        ));
        return None;
    }
    Some(roles)
}

/// Policy `p` has `using`, `with_check` or both, as its `command` takes them.
fn policy_clauses_fit(p: &RawPolicy, command: &str, issues: &mut Vec<Issue>) -> bool {
    if p.using.is_none() && p.with_check.is_none() {
        issues.push(Issue::new(
            &p.path,
            code::MISSING_KEY,
            "a policy needs using, with_check or both",
        ));
        return false;
    }
    if command == "INSERT" && p.using.is_some()
        || command == "SELECT" && p.with_check.is_some()
        || command == "DELETE" && p.with_check.is_some()
    {
        issues.push(Issue::new(
            &p.path,
            code::CONFLICTING_DEFINITION,
            format!(
                "a {command} policy takes {}",
                if command == "INSERT" {
                    "only with_check"
                } else {
                    "only using"
                }
            ),
        ));
        return false;
    }
    true
}

/// `partition_by`: the table's `PARTITION BY` clause, and the object comparing its key (a key
/// cannot be changed in place).
fn partition_by(
    pb: &RawPartitionBy,
    t: &Table,
    issues: &mut Vec<Issue>,
) -> Option<(String, Object)> {
    let method = match pb.method.trim().to_ascii_lowercase().as_str() {
        m @ ("range" | "list" | "hash") => m.to_ascii_uppercase(),
        other => {
            issues.push(Issue::new(
                format!("{}.method", pb.path),
                code::INVALID_VALUE,
                format!("a partition method is range, list or hash, not {other:?}"),
            ));
            return None;
        }
    };
    let cols: Vec<Name> = pb
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| name(c, format!("{}.columns[{i}]", pb.path), issues))
        .collect();
    if cols.is_empty() {
        issues.push(Issue::new(
            format!("{}.columns", pb.path),
            code::INVALID_VALUE,
            "a partition key needs at least one column",
        ));
        return None;
    }
    for (i, c) in cols.iter().enumerate() {
        if t.column(c).is_none() {
            issues.push(Issue::new(
                format!("{}.columns[{i}]", pb.path),
                code::UNKNOWN_COLUMN,
                format!("{} has no column {c}", t.qualified()),
            ));
        }
    }
    let quoted: Vec<String> = cols.iter().map(|c| c.to_string()).collect();
    let sql = format!("{method} ({})", quoted.join(", "));
    // pg_get_partkeydef writes snake_case names unquoted (a keyword would be quoted: then the
    // comparison says it cannot compare, never equal)
    let plain: Vec<&str> = cols.iter().map(Name::as_str).collect();
    let key = Object {
        path: pb.path.clone(),
        kind: Kind::PartitionKey,
        key: format!("partition key {}.{}", t.schema.as_str(), t.name.as_str()),
        label: format!("the partition key of {}", t.qualified()),
        phase: Phase::AfterTables,
        schema: None,
        table: Some((t.schema.clone(), t.name.clone())),
        create: vec![],
        replace: vec![],
        recreate: vec![],
        drop_live: None,
        names: None,
        names_if_created: None,
        kept_after: None,
        deparse: format!(
            "SELECT pg_catalog.pg_get_partkeydef(c.oid) FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass({})",
            reg(&t.schema, &t.name)
        ),
        expected: Some(format!("{method} ({})", plain.join(", "))),
        function_body: false,
        fragments: vec![],
        immutable: Some("the partition key of an existing table cannot be changed in place".into()),
        tenant_partition: false,
    };
    Some((sql, key))
}

/// A partition's own foreign key: `ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY`, and its name.
fn partition_fk(
    k: &RawPartitionFk,
    q: &str,
    part: &Name,
    t: &Table,
    issues: &mut Vec<Issue>,
) -> Option<(Name, String)> {
    let list = |names: &[Name]| {
        names
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cols: Vec<Name> = k
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| name(c, format!("{}.columns[{i}]", k.path), issues))
        .collect();
    let target = qualified_ref(&k.table, &format!("{}.references.table", k.path), issues)?;
    let target = if k.table.contains('.') {
        target
    } else {
        format!("{}.{target}", t.schema)
    };
    let refs: Vec<Name> = k
        .ref_columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| name(c, format!("{}.references.columns[{i}]", k.path), issues))
        .collect();
    let fname = match &k.name {
        Some(raw) => name(raw, format!("{}.name", k.path), issues)?,
        None => Name::derived(&format!(
            "fk_{}_{}",
            part.as_str(),
            cols.iter().map(Name::as_str).collect::<Vec<_>>().join("_")
        )),
    };
    let mut sql = format!(
        "ALTER TABLE {q} ADD CONSTRAINT {fname} FOREIGN KEY ({}) REFERENCES {target}",
        list(&cols)
    );
    if !refs.is_empty() {
        sql.push_str(&format!(" ({})", list(&refs)));
    }
    for (kw, a, f) in [
        ("ON DELETE", &k.on_delete, "on_delete"),
        ("ON UPDATE", &k.on_update, "on_update"),
    ] {
        if let Some(a) = a {
            match crate::schema::model::FkAction::parse(a) {
                Some(a) => sql.push_str(&format!(" {kw} {}", a.sql())),
                None => issues.push(Issue::new(
                    format!("{}.{f}", k.path),
                    code::INVALID_VALUE,
                    format!("{a:?} is not a foreign key action"),
                )),
            }
        }
    }
    Some((fname, sql))
}

/// One declared partition: `CREATE TABLE … PARTITION OF … FOR VALUES …` with its own indexes and
/// foreign keys, and, on a tenant table with RLS, the tenant policy (a query on the partition
/// itself is fenced like one through the parent). Its deparse shows each policy in full (command,
/// permissive, roles, USING, WITH CHECK), so a changed tenant policy differs; policies revos did
/// not declare on it are read apart (`tenant_partition`).
fn partition(p: &RawPartition, t: &Table, o: &Options, issues: &mut Vec<Issue>) -> Option<Object> {
    let n = name(&p.name, format!("{}.name", p.path), issues)?;
    let q = format!("{}.{n}", t.schema);
    let parent = t.qualified();
    let values = p.values.trim();
    let default = values.eq_ignore_ascii_case("default");
    let bound = if default {
        "DEFAULT".to_string()
    } else {
        format!("FOR VALUES {values}")
    };
    let mut own: Vec<String> = p
        .indexes
        .iter()
        .filter_map(|x| simple_index(x, &q, issues).map(|(_, sql)| sql))
        .collect();
    let mut fk_names = vec![];
    for k in &p.foreign_keys {
        let (fname, sql) = partition_fk(k, &q, &n, t, issues)?;
        fk_names.push(fname);
        own.push(sql);
    }
    let tenant = t.has_revos_policy();
    if tenant {
        own.push(format!("ALTER TABLE {q} ENABLE ROW LEVEL SECURITY"));
        if t.force_rls {
            own.push(format!("ALTER TABLE {q} FORCE ROW LEVEL SECURITY"));
        }
        own.push(crate::schema::tenancy::tenant_policy_sql(&q, t, o));
    }
    let mut create = vec![format!("CREATE TABLE {q} PARTITION OF {parent} {bound}")];
    create.extend(own.iter().cloned());
    let mut replace = vec![
        format!("ALTER TABLE {parent} DETACH PARTITION {q}"),
        format!("ALTER TABLE {parent} ATTACH PARTITION {q} {bound}"),
    ];
    for f in &fk_names {
        replace.push(format!("ALTER TABLE {q} DROP CONSTRAINT IF EXISTS {f}"));
    }
    if tenant {
        replace.push(format!(
            "DROP POLICY IF EXISTS {} ON {q}",
            Table::policy_name()
        ));
    }
    replace.extend(own);
    Some(Object {
        path: p.path.clone(),
        kind: Kind::Partition,
        key: format!("relation {}.{}", t.schema.as_str(), n.as_str()),
        label: format!("partition {q} of {parent}"),
        phase: Phase::AfterTables,
        schema: None,
        table: Some((t.schema.clone(), n.clone())),
        create,
        replace,
        recreate: vec![],
        // its own indexes (not those it has through the parent's) are dropped, then the declared
        // ones created
        drop_live: Some("DROP INDEX ".into()),
        names: Some(format!(
            "SELECT coalesce(pg_catalog.array_agg(pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(ci.relname)), '{{}}') FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class ci ON ci.oid = x.indexrelid JOIN pg_catalog.pg_namespace n ON n.oid = ci.relnamespace WHERE x.indrelid = pg_catalog.to_regclass({}) AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid = x.indexrelid)",
            reg(&t.schema, &n)
        )),
        names_if_created: None,
        kept_after: None,
        deparse: format!(
            "SELECT pg_catalog.pg_get_expr(c.relpartbound, c.oid) || ' of ' || (SELECT i.inhparent::regclass::text FROM pg_catalog.pg_inherits i WHERE i.inhrelid = c.oid) || ' rls ' || c.relrowsecurity::text || ' ' || c.relforcerowsecurity::text || ' indexes ' || coalesce((SELECT pg_catalog.string_agg(pg_catalog.pg_get_indexdef(x.indexrelid), '; ' ORDER BY pg_catalog.pg_get_indexdef(x.indexrelid)) FROM pg_catalog.pg_index x WHERE x.indrelid = c.oid), '') || ' keys ' || coalesce((SELECT pg_catalog.string_agg(k.conname || ' ' || pg_catalog.pg_get_constraintdef(k.oid), '; ' ORDER BY k.conname) FROM pg_catalog.pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.conparentid = 0), '') || ' policies ' || coalesce((SELECT pg_catalog.string_agg(p.polname || ' ' || p.polcmd::text || ' ' || CASE WHEN p.polpermissive THEN 'permissive' ELSE 'restrictive' END || ' to ' || (SELECT pg_catalog.string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)::text) END, ',' ORDER BY CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(r)::text) END) FROM pg_catalog.unnest(p.polroles) r) || ' using ' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '-') || ' ' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '-'), '; ' ORDER BY p.polname) FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid{}), '') FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass({}) AND c.relispartition",
            // on a tenant partition, revos's policy: the others are foreign (`tenant_partition`)
            if tenant {
                format!(" AND p.polname = {}", lit(Table::policy_name().as_str()))
            } else {
                String::new()
            },
            reg(&t.schema, &n)
        ),
        expected: None,
        function_body: false,
        fragments: if default {
            vec![]
        } else {
            vec![Fragment::new(format!("{}.values", p.path), values, FragmentKind::List)]
        },
        immutable: None,
        tenant_partition: tenant,
    })
}
