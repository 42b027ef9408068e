//! The membership tenancy mode on a database that already has tenant tables (issue 25): existing
//! tenant tables switch from the transaction's tenant to the user's tenants, their rows kept; the
//! membership table and the switch in one version cannot compare the new policy before the table
//! exists (`cannot_compare`), which docs/format.md says; no collation on a column the policies compare.
mod common;

use common::*;
use serde_json::{json, Value};

fn payload(version: &str, membership: bool, with_members_table: bool) -> Value {
    let mut tables = vec![json!({"name": "notes", "soft_delete": false,
        "columns": [{"name": "body", "type": "text", "not_null": true}]})];
    if with_members_table {
        tables.insert(
            0,
            json!({"name": "account_user", "tenant_scoped": false, "timestamps": false,
            "soft_delete": false, "primary_key": ["user_id", "account_id"],
            "columns": [{"name": "user_id", "type": "text", "not_null": true},
                        {"name": "account_id", "type": "uuid", "not_null": true}]}),
        );
    }
    let mut options = json!({"tenant_column": "account_id"});
    if membership {
        options["tenancy"] = json!({"mode": "membership", "table": "account_user"});
    }
    json!({"schema_version": version, "description": "switch", "schema": "sw",
           "options": options, "tables": tables})
}

const T1: &str = "10000000-0000-0000-0000-000000000001";
const T2: &str = "20000000-0000-0000-0000-000000000002";

#[test]
fn existing_tenant_tables_switch_to_the_membership_mode() {
    let mut c = fresh_db("membership_switch");
    let env = apply(&mut c, &payload("1", false, true));
    assert_eq!(status(&env), "applied", "{env:#}");
    ensure_role(&mut c, "membership_reader", "");
    c.batch_execute(&format!(
        "INSERT INTO sw.notes (account_id, body) VALUES ('{T1}', 'one'), ('{T2}', 'two');
         INSERT INTO sw.account_user (user_id, account_id) VALUES ('ann', '{T1}');
         GRANT USAGE ON SCHEMA sw TO membership_reader;
         GRANT SELECT ON sw.notes, sw.account_user TO membership_reader;"
    ))
    .unwrap();
    // the switch: both policies replaced or created, verified, then noop
    let env = apply(&mut c, &payload("2", true, true));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["result"]["verification"]["ok"], json!(true), "{env:#}");
    // the membership table has revos's own policy: no warning says it has none
    let warnings = env["result"]["primary_outputs"]["warnings"].to_string();
    assert!(!warnings.contains("declares no policy"), "{warnings}");
    assert_eq!(status(&apply(&mut c, &payload("2", true, true))), "noop");
    let p = plan(&mut c, &payload("3", true, true));
    assert_eq!(p["result"]["plan"]["steps"], json!([]), "{p:#}");
    // a text user id (no uuid cast): ann sees tenant 1's row only
    let mut tx = c.transaction().unwrap();
    tx.batch_execute(
        "SET LOCAL ROLE membership_reader; SELECT set_config('request.jwt.claims', '{\"sub\": \"ann\"}', true)",
    )
    .unwrap();
    let seen: Vec<String> = tx
        .query("SELECT body FROM sw.notes ORDER BY body", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seen, ["one"]);
}

#[test]
fn the_membership_table_and_the_switch_in_one_version_cannot_compare() {
    let mut c = fresh_db("membership_switch_one_version");
    assert_eq!(
        status(&apply(&mut c, &payload("1", false, false))),
        "applied"
    );
    let env = apply(&mut c, &payload("2", true, true));
    let codes: Vec<String> = risks(&env).into_iter().map(|r| r.0).collect();
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert!(codes.contains(&"cannot_compare".to_string()), "{env:#}");
    // in two versions it applies
    assert_eq!(
        status(&apply(&mut c, &payload("2", false, true))),
        "applied"
    );
    assert_eq!(status(&apply(&mut c, &payload("3", true, true))), "applied");
}

/// The adversarial review: a nondeterministic collation on a column the tenant policy compares
/// made tenant `Acme` read tenant `acme`'s rows. A collation on the tenant column, or on the
/// membership table's tenant or user column, is refused (each alone), before anything runs.
#[test]
fn a_collation_on_a_compared_column_is_refused() {
    let mut c = fresh_db("membership_collation");
    let tenant = json!({"schema_version": "1", "description": "c", "schema": "co",
        "options": {"tenant_type": "text"},
        "tables": [{"name": "docs", "columns": [
            {"name": "tenant_id", "type": "text", "collation": "C"},
            {"name": "body", "type": "text", "collation": "C"}]}]});
    let mut member_user = payload("1", true, true);
    member_user["tables"][0]["columns"][0]["collation"] = json!("C");
    let mut member_tenant = payload("1", true, true);
    member_tenant["options"]["tenant_type"] = json!("text");
    member_tenant["tables"][0]["columns"][1] =
        json!({"name": "account_id", "type": "text", "not_null": true, "collation": "C"});
    for (what, p, at) in [
        (
            "the tenant column",
            tenant,
            "tables[0].columns[0].collation",
        ),
        (
            "the membership user column",
            member_user,
            "tables[0].columns[0].collation",
        ),
        (
            "the membership tenant column",
            member_tenant,
            "tables[0].columns[1].collation",
        ),
    ] {
        let env = plan(&mut c, &p);
        assert_eq!(status(&env), "blocked", "{what}: {env:#}");
        let errors = &env["result"]["validation_errors"];
        let paths: Vec<&str> = errors
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["code"] == "conflicting_definition")
            .filter_map(|e| e["path"].as_str())
            .collect();
        assert_eq!(paths, [at], "{what}: {errors:#}");
    }
}
