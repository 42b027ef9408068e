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
