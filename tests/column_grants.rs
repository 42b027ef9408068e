//! Column privileges on a relation whose `grants` the payload declares: the declared grants are
//! its whole ACL besides the owner, and a column privilege (`GRANT SELECT (col) …`, kept in
//! `pg_attribute.attacl`) lets its grantee read or write that column whatever the relation's own
//! ACL says. A grant names no column, so every column privilege is a difference: the next version
//! revokes it (`REVOKE ALL … FROM grantee CASCADE`), verifies the catalog, and then plans nothing.
//! Each case in a database of its own, the catalog checked afterwards. Beside them, the same promise
//! on creation: what the creator's default privileges give a new relation is revoked too.
mod common;

use common::*;
use postgres::Client;
use serde_json::{json, Value};

const READER: &str = "cg_reader";

/// Table `cg_items`, view `cg_view` and sequence `cg_seq`, each declaring its grants to cg_reader.
fn payload(version: &str) -> Value {
    json!({"schema_version": version, "description": "column grants",
        "sequences": [{"name": "cg_seq", "grants": [{"to": [READER], "privileges": ["USAGE"]}]}],
        "views": [{"name": "cg_view", "query": "SELECT label, secret FROM public.cg_items",
                   "grants": [{"to": [READER], "privileges": ["SELECT"]}]}],
        "tables": [{"name": "cg_items", "tenant_scoped": false,
                    "columns": [{"name": "label", "type": "text"}, {"name": "secret", "type": "text"}],
                    "grants": [{"to": [READER], "privileges": ["SELECT"]}]}]})
}

/// A fresh database with the payload applied (as the superuser: the owner is postgres).
fn declared_db(db: &str) -> Client {
    let mut c = fresh_db(db);
    for r in [READER, "cg_writer", "cg_granter", "cg_other", "cg_nobody"] {
        ensure_role(&mut c, r, "");
    }
    let env = apply(&mut c, &payload("1"));
    assert_eq!(status(&env), "applied", "{env:#}");
    c
}

/// The column privileges of `rel`'s columns, system columns too (every `attacl`, `name:acl`).
fn column_acls(c: &mut Client, rel: &str) -> Vec<String> {
    c.query(
        "SELECT attname || ':' || attacl::text FROM pg_attribute
          WHERE attrelid = $1::text::regclass AND attnum <> 0 AND NOT attisdropped AND attacl IS NOT NULL
          ORDER BY attnum",
        &[&rel],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn has_column(c: &mut Client, role: &str, rel: &str, col: &str, privilege: &str) -> bool {
    c.query_one(
        "SELECT has_column_privilege($1, $2::text::regclass, $3, $4)",
        &[&role, &rel, &col, &privilege],
    )
    .unwrap()
    .get(0)
}

fn step_sql(env: &Value) -> Vec<String> {
    env["result"]["plan"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["sql"].as_str().map(str::to_string))
        .collect()
}

/// After `mutation` (column privileges on `rel`): the plan of the next version revokes them,
/// its apply is `applied` with the catalog verified, no column privilege is left on `rel`, and
/// the declared grant is still there; the same version again is a noop, and the next identical
/// one plans nothing.
fn revoked_back(c: &mut Client, rel: &str, mutation: &str) {
    c.batch_execute(mutation)
        .unwrap_or_else(|e| panic!("the mutation failed: {e}\n{mutation}"));
    assert!(
        !column_acls(c, rel).is_empty(),
        "the mutation left no column privilege"
    );
    let planned = plan(c, &payload("2"));
    assert!(
        step_sql(&planned)
            .iter()
            .any(|s| s.starts_with("REVOKE ALL ON") && s.contains("\"public\".")),
        "the plan shows no REVOKE: {planned:#}"
    );
    let env = apply(c, &payload("2"));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["result"]["verification"]["ok"], json!(true), "{env:#}");
    assert_eq!(column_acls(c, rel), Vec::<String>::new(), "{env:#}");
    assert_eq!(status(&apply(c, &payload("2"))), "noop");
    let again = plan(c, &payload("3"));
    assert_eq!(step_sql(&again), Vec::<String>::new(), "{again:#}");
}

/// Whether `role` holds `privilege` on column `col` of the declared table.
fn on_items(c: &mut Client, role: &str, col: &str, privilege: &str) -> bool {
    has_column(c, role, "public.cg_items", col, privilege)
}

#[test]
fn a_column_select_granted_to_public_on_a_declared_table_is_revoked() {
    let mut c = declared_db("cg_public");
    revoked_back(
        &mut c,
        "public.cg_items",
        "GRANT SELECT (secret) ON public.cg_items TO PUBLIC",
    );
    assert!(!on_items(&mut c, "cg_nobody", "secret", "SELECT"));
    assert!(on_items(&mut c, READER, "secret", "SELECT"));
}

/// System columns have privileges too (the review of 975044a, 4: `ctid` and `xmin` tell where a
/// row lies and which transaction wrote it; they were not read).
#[test]
fn a_system_column_select_granted_on_a_declared_table_is_revoked() {
    let mut c = declared_db("cg_system");
    revoked_back(
        &mut c,
        "public.cg_items",
        "GRANT SELECT (ctid), SELECT (xmin) ON public.cg_items TO cg_writer",
    );
    for col in ["ctid", "xmin"] {
        assert!(!on_items(&mut c, "cg_writer", col, "SELECT"), "{col}");
    }
}

#[test]
fn a_column_update_granted_to_a_role_on_a_declared_table_is_revoked() {
    let mut c = declared_db("cg_update");
    revoked_back(
        &mut c,
        "public.cg_items",
        "GRANT UPDATE (secret), INSERT (label), REFERENCES (label) ON public.cg_items TO cg_writer",
    );
    for (col, privilege) in [
        ("secret", "UPDATE"),
        ("label", "INSERT"),
        ("label", "REFERENCES"),
    ] {
        assert!(
            !on_items(&mut c, "cg_writer", col, privilege),
            "{privilege} ({col})"
        );
    }
}

/// A column privilege of the declared grantee itself: with grant option, beside its declared
/// table-level SELECT. Afterwards it holds exactly SELECT, without grant option.
#[test]
fn a_column_grant_with_grant_option_to_the_declared_grantee_is_revoked() {
    let mut c = declared_db("cg_option");
    revoked_back(
        &mut c,
        "public.cg_items",
        "GRANT UPDATE (secret) ON public.cg_items TO cg_reader WITH GRANT OPTION",
    );
    assert!(!on_items(&mut c, READER, "secret", "UPDATE"));
    assert!(!on_items(
        &mut c,
        READER,
        "secret",
        "SELECT WITH GRANT OPTION"
    ));
    assert!(on_items(&mut c, READER, "secret", "SELECT"));
}

/// cg_granter, holding `option` from the owner (the owner's grant option, outside the declared
/// ACL), grants SELECT (secret) to cg_other: afterwards neither reads the column.
fn granted_onwards(db: &str, option: &str) {
    let mut c = declared_db(db);
    revoked_back(
        &mut c,
        "public.cg_items",
        &format!(
            "GRANT {option} ON public.cg_items TO cg_granter WITH GRANT OPTION;
             SET ROLE cg_granter; GRANT SELECT (secret) ON public.cg_items TO cg_other; RESET ROLE"
        ),
    );
    for role in ["cg_granter", "cg_other"] {
        assert!(!on_items(&mut c, role, "secret", "SELECT"), "{role}");
    }
}

/// A column privilege granted by a role other than the owner, under the column's grant option:
/// the owner's REVOKE from cg_other alone would not touch it; cg_granter's, with CASCADE, does.
#[test]
fn a_column_grant_by_a_grantor_other_than_the_owner_is_revoked() {
    granted_onwards("cg_grantor", "SELECT (secret)");
}

/// The same under a table-level grant option: Postgres keeps the column privilege when that
/// option is revoked, even with CASCADE (the column ACL is not the table's), and only its grantor
/// could revoke it then. revos first gives cg_granter the column's grant option from the owner,
/// so that its REVOKE … CASCADE takes the column privilege along.
#[test]
fn a_column_grant_made_through_a_table_grant_option_is_revoked() {
    granted_onwards("cg_table_option", "SELECT");
}

#[test]
fn a_column_grant_on_a_declared_view_is_revoked() {
    let mut c = declared_db("cg_view");
    revoked_back(
        &mut c,
        "public.cg_view",
        "GRANT SELECT (secret) ON public.cg_view TO cg_other",
    );
    assert!(!has_column(
        &mut c,
        "cg_other",
        "public.cg_view",
        "secret",
        "SELECT"
    ));
}

/// A sequence takes column privileges too: SELECT (last_value) reads it.
#[test]
fn a_column_grant_on_a_declared_sequence_is_revoked() {
    let mut c = declared_db("cg_sequence");
    revoked_back(
        &mut c,
        "public.cg_seq",
        "GRANT SELECT (last_value) ON public.cg_seq TO cg_other",
    );
    assert!(!has_column(
        &mut c,
        "cg_other",
        "public.cg_seq",
        "last_value",
        "SELECT"
    ));
}

/// Without column privileges the declared ACL is the same: the next version plans nothing.
#[test]
fn a_declared_table_without_column_grants_plans_nothing() {
    let mut c = declared_db("cg_none");
    let again = plan(&mut c, &payload("2"));
    assert_eq!(status(&again), "planned", "{again:#}");
    assert_eq!(step_sql(&again), Vec::<String>::new(), "{again:#}");
    assert_eq!(column_acls(&mut c, "public.cg_items"), Vec::<String>::new());
}

/// A column privilege granted between `plan_schema` and `apply_schema` with its plan hash:
/// `stale_plan`, nothing run.
#[test]
fn a_column_grant_between_plan_and_apply_is_a_stale_plan() {
    let mut c = declared_db("cg_stale");
    let reviewed = plan(&mut c, &payload("2"));
    let hash = reviewed["result"]["plan_hash"]
        .as_str()
        .unwrap()
        .to_string();
    c.batch_execute("GRANT SELECT (secret) ON public.cg_items TO PUBLIC")
        .unwrap();
    let mut p = payload("2");
    p["options"] = json!({"expected_plan_hash": hash});
    let env = apply(&mut c, &p);
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(
        env["result"]["validation_errors"][0]["code"],
        json!("stale_plan"),
        "{env:#}"
    );
    assert_eq!(column_acls(&mut c, "public.cg_items").len(), 1);
}

/// Relations created with declared grants get the creator's default privileges
/// (`ALTER DEFAULT PRIVILEGES … GRANT`) too: revoked before the declared GRANTs, so the first
/// apply is exact — cg_anon holds nothing, cg_reader exactly what is declared — and verified.
#[test]
fn default_privileges_of_created_declared_relations_are_revoked() {
    let mut c = fresh_db("cg_defaults");
    for r in [READER, "cg_anon"] {
        ensure_role(&mut c, r, "");
    }
    c.batch_execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO cg_anon, cg_reader;
         ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO cg_anon",
    )
    .unwrap();
    let env = apply(&mut c, &payload("1"));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["result"]["verification"]["ok"], json!(true), "{env:#}");
    for rel in ["public.cg_items", "public.cg_view", "public.cg_seq"] {
        let anon: bool = c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_class c, aclexplode(c.relacl) a
                  WHERE c.oid = $1::text::regclass AND a.grantee = 'cg_anon'::regrole)",
                &[&rel],
            )
            .unwrap()
            .get(0);
        assert!(!anon, "{rel}: cg_anon kept its default privileges");
    }
    let reader: String = c
        .query_one(
            "SELECT string_agg(a.privilege_type, ',' ORDER BY a.privilege_type) FROM pg_class c, aclexplode(c.relacl) a
              WHERE c.oid = 'public.cg_items'::regclass AND a.grantee = 'cg_reader'::regrole",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(reader, "SELECT");
    let again = plan(&mut c, &payload("2"));
    assert_eq!(step_sql(&again), Vec::<String>::new(), "{again:#}");
}

// ---- declared partitions (the review of 975044a, 3): a partition is a table of its own to a
// role that names it — GRANT and REVOKE on the parent do not reach it, `TRUNCATE` of it ignores
// row security, and it has the tenant policy but not the table's declared policies — so when the
// table declares `grants`, a declared partition's ACL is its owner's only: every role reaches its
// rows through the table.

const PARTS: [&str; 2] = ["public.cg_days_2024", "public.cg_days_2025"];

/// A tenant table partitioned by day with two declared partitions; `grants` declared or not.
fn days(version: &str, declared: bool) -> Value {
    let mut t = json!({"name": "cg_days", "primary_key": ["id", "day"],
        "columns": [{"name": "day", "type": "date", "not_null": true}, {"name": "note", "type": "text"}],
        "partition_by": {"method": "range", "columns": ["day"]},
        "partitions": [{"name": "cg_days_2024", "values": "FROM ('2024-01-01') TO ('2025-01-01')"},
                       {"name": "cg_days_2025", "values": "FROM ('2025-01-01') TO ('2026-01-01')"}]});
    if declared {
        t["grants"] = json!([{"to": [READER], "privileges": ["SELECT", "INSERT"]}]);
    }
    json!({"schema_version": version, "description": "partition grants", "tables": [t]})
}

/// `rel`'s ACL entries other than its owner's, `grantee:PRIVILEGE`, column privileges as
/// `grantee:PRIVILEGE(col)`, sorted.
fn acl(c: &mut Client, rel: &str) -> Vec<String> {
    c.query(
        "SELECT x FROM (
           SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || ':' || a.privilege_type AS x
             FROM pg_class r, aclexplode(coalesce(r.relacl, acldefault('r', r.relowner))) a
            WHERE r.oid = $1::text::regclass AND a.grantee <> r.relowner
           UNION ALL
           SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END
                  || ':' || a.privilege_type || '(' || t.attname || ')'
             FROM pg_class r JOIN pg_attribute t ON t.attrelid = r.oid, aclexplode(t.attacl) a
            WHERE r.oid = $1::text::regclass AND t.attacl IS NOT NULL AND a.grantee <> r.relowner) e
         ORDER BY x",
        &[&rel],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

fn reader_only() -> Vec<String> {
    vec![format!("{READER}:INSERT"), format!("{READER}:SELECT")]
}

/// The table's ACL is the declared one, each partition's its owner's only.
fn as_declared(c: &mut Client, why: &str) {
    assert_eq!(acl(c, "public.cg_days"), reader_only(), "{why}");
    for p in PARTS {
        assert_eq!(acl(c, p), Vec::<String>::new(), "{p}: {why}");
    }
}

/// A fresh database with the roles and [`days`] applied (declared grants).
fn days_db(db: &str) -> Client {
    let mut c = fresh_db(db);
    for r in [READER, "cg_anon"] {
        ensure_role(&mut c, r, "");
    }
    let env = apply(&mut c, &days("1", true));
    assert_eq!(status(&env), "applied", "{env:#}");
    c
}

/// After one `mutation` of one partition's privileges, the next version — `applied`, verified —
/// leaves every partition with its owner's privileges only, and then plans nothing.
/// The plan and the apply name the partition and what is revoked there (`granted`, an ACL entry
/// as [`acl`] writes it).
fn partition_restored(db: &str, mutation: &str, part: &str, granted: &str) {
    let mut c = days_db(db);
    as_declared(&mut c, "before the mutation");
    c.batch_execute(mutation)
        .unwrap_or_else(|e| panic!("the mutation failed: {e}\n{mutation}"));
    assert_ne!(
        PARTS.iter().map(|p| acl(&mut c, p)).collect::<Vec<_>>(),
        vec![Vec::<String>::new(), vec![]],
        "the mutation changed nothing"
    );
    let planned = plan(&mut c, &days("2", true));
    assert_eq!(status(&planned), "planned", "{planned:#}");
    let env = apply(&mut c, &days("2", true));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["result"]["verification"]["ok"], json!(true), "{env:#}");
    for e in [&planned, &env] {
        let named = e["result"]["primary_outputs"]["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str())
            .filter(|w| {
                w.starts_with(&format!(
                    "\"public\".\"{part}\": the privileges granted on this partition"
                ))
            })
            .collect::<Vec<_>>();
        assert_eq!(named.len(), 1, "the revoke named once: {e:#}");
        assert!(named[0].contains(granted), "{granted} named: {e:#}");
    }
    as_declared(&mut c, &format!("{env:#}"));
    let again = plan(&mut c, &days("3", true));
    assert_eq!(step_sql(&again), Vec::<String>::new(), "{again:#}");
}

#[test]
fn partitions_created_with_declared_grants_have_their_owners_privileges_only() {
    let mut c = fresh_db("cg_part_create");
    for r in [READER, "cg_anon"] {
        ensure_role(&mut c, r, "");
    }
    // the creator's default privileges give every new table ALL to cg_anon: TRUNCATE of a
    // partition would empty every tenant's rows there
    c.batch_execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO cg_anon")
        .unwrap();
    let env = apply(&mut c, &days("1", true));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["result"]["verification"]["ok"], json!(true), "{env:#}");
    as_declared(&mut c, &format!("{env:#}"));
    let again = plan(&mut c, &days("2", true));
    assert_eq!(step_sql(&again), Vec::<String>::new(), "{again:#}");
}

#[test]
fn a_truncate_granted_on_a_declared_partition_is_revoked() {
    partition_restored(
        "cg_part_truncate",
        "GRANT TRUNCATE ON public.cg_days_2024 TO cg_anon",
        "cg_days_2024",
        "cg_anon:TRUNCATE",
    );
}

#[test]
fn a_select_granted_to_public_on_a_declared_partition_is_revoked() {
    partition_restored(
        "cg_part_public",
        "GRANT SELECT ON public.cg_days_2025 TO PUBLIC",
        "cg_days_2025",
        "PUBLIC:SELECT",
    );
}

#[test]
fn a_column_grant_on_a_declared_partition_is_revoked() {
    partition_restored(
        "cg_part_column",
        "GRANT UPDATE (note) ON public.cg_days_2024 TO cg_anon",
        "cg_days_2024",
        "cg_anon:UPDATE(note)",
    );
}

/// The table's own grantee is no exception: on the partition it would read around the table's
/// declared policies.
#[test]
fn the_tables_grantee_granted_on_a_partition_is_revoked() {
    partition_restored(
        "cg_part_grantee",
        &format!("GRANT SELECT ON public.cg_days_2025 TO {READER}"),
        "cg_days_2025",
        &format!("{READER}:SELECT"),
    );
}

/// The review of the first form of this fix (H1; a guard: it held before the fix, whose first
/// form broke it): a shared table with row security, a declared policy and declared grants. Its grantee reads its own rows through the table and nothing through
/// the partition (the partition has no policy of the table's: with the table's grants copied to it,
/// the grantee read every row there).
#[test]
fn a_declared_policy_is_not_read_around_through_a_partition() {
    let mut c = fresh_db("cg_part_policy");
    for r in [READER, "cg_alice"] {
        ensure_role(&mut c, r, "");
    }
    let payload = json!({"schema_version": "1", "description": "a policy and grants",
        "tables": [{"name": "cg_notes", "tenant_scoped": false, "rls": true, "primary_key": ["id", "day"],
            "columns": [{"name": "day", "type": "date", "not_null": true},
                        {"name": "owner_name", "type": "text"}, {"name": "body", "type": "text"}],
            "partition_by": {"method": "range", "columns": ["day"]},
            "partitions": [{"name": "cg_notes_all", "values": "DEFAULT"}],
            "policies": [{"name": "own rows", "command": "select", "roles": [READER],
                          "using": "owner_name = current_user"}],
            "grants": [{"to": [READER], "privileges": ["SELECT"]}]}]});
    let env = apply(&mut c, &payload);
    assert_eq!(status(&env), "applied", "{env:#}");
    c.batch_execute(&format!(
        "INSERT INTO public.cg_notes (day, owner_name, body) VALUES
           ('2024-01-01', '{READER}', 'mine'), ('2024-01-02', 'cg_alice', 'secret of alice')"
    ))
    .unwrap();
    let mut reader = connect_as("cg_part_policy", READER);
    let through_table: Vec<String> = reader
        .query("SELECT body FROM public.cg_notes ORDER BY body", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(through_table, vec!["mine"]);
    let direct = reader.query("SELECT body FROM public.cg_notes_all", &[]);
    assert_eq!(
        direct
            .as_ref()
            .map_err(|e| e.code().map(|c| c.code().to_string()))
            .err(),
        Some(Some("42501".to_string())),
        "the partition answered {direct:?}"
    );
}

/// The review of the stop 48 change, F2: a table with row security and a declared policy but no
/// `grants` — the partition the apply creates took the creator's default privileges (Supabase's give
/// every table to `anon`), and that role read through it the rows the policy hid. Its declared
/// partitions are its owner's only too.
#[test]
fn a_partition_of_a_table_with_row_security_and_no_grants_is_its_owners_only() {
    let mut c = fresh_db("cg_part_rls");
    for r in [READER, "cg_anon"] {
        ensure_role(&mut c, r, "");
    }
    c.batch_execute("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON TABLES TO cg_anon")
        .unwrap();
    let payload = |v: &str| {
        json!({"schema_version": v, "description": "a policy, no grants",
            "tables": [{"name": "cg_docs", "tenant_scoped": false, "rls": true, "primary_key": ["id", "day"],
                "columns": [{"name": "day", "type": "date", "not_null": true}, {"name": "owner_name", "type": "text"}],
                "partition_by": {"method": "range", "columns": ["day"]},
                "partitions": [{"name": "cg_docs_all", "values": "DEFAULT"}],
                "policies": [{"name": "own rows", "command": "select", "roles": ["cg_anon"],
                              "using": "owner_name = current_user"}]}]})
    };
    let env = apply(&mut c, &payload("1"));
    assert_eq!(status(&env), "applied", "{env:#}");
    c.batch_execute(
        "INSERT INTO public.cg_docs (day, owner_name) VALUES ('2024-01-01', 'someone else')",
    )
    .unwrap();
    assert_eq!(acl(&mut c, "public.cg_docs_all"), Vec::<String>::new());
    let mut anon = connect_as("cg_part_rls", "cg_anon");
    let n: i64 = anon
        .query_one("SELECT count(*) FROM public.cg_docs", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 0, "the policy hides the row through the table");
    assert!(anon.query("SELECT 1 FROM public.cg_docs_all", &[]).is_err());
    // granted by hand: revoked by the next version
    c.batch_execute("GRANT SELECT ON public.cg_docs_all TO cg_anon")
        .unwrap();
    let env = apply(&mut c, &payload("2"));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(acl(&mut c, "public.cg_docs_all"), Vec::<String>::new());
}

/// A table with neither `grants` nor row security keeps what its partitions have, as before:
/// nothing to read around, nothing planned.
#[test]
fn partitions_of_a_table_without_grants_or_row_security_keep_their_privileges() {
    let mut c = fresh_db("cg_part_undeclared");
    ensure_role(&mut c, "cg_anon", "");
    let payload = |v: &str| {
        json!({"schema_version": v, "description": "plain", "tables": [{"name": "cg_plain",
            "tenant_scoped": false, "primary_key": ["id", "day"],
            "columns": [{"name": "day", "type": "date", "not_null": true}],
            "partition_by": {"method": "range", "columns": ["day"]},
            "partitions": [{"name": "cg_plain_all", "values": "DEFAULT"}]}]})
    };
    let env = apply(&mut c, &payload("1"));
    assert_eq!(status(&env), "applied", "{env:#}");
    c.batch_execute("GRANT SELECT ON public.cg_plain_all TO cg_anon")
        .unwrap();
    let again = plan(&mut c, &payload("2"));
    assert_eq!(step_sql(&again), Vec::<String>::new(), "{again:#}");
    assert_eq!(acl(&mut c, "public.cg_plain_all"), vec!["cg_anon:SELECT"]);
}
