//! Unit tests of `schema::membership` (`options.tenancy`, issue 25), through `spec` and
//! `normalize` as a payload is read (a file of its own: `normalize` calls `membership`).

use crate::error::Issue;
use crate::schema::model::Tenancy;
use serde_json::{json, Value};

fn normalized(tenancy: Value) -> (crate::schema::model::Schema, Vec<Issue>) {
    let payload = json!({"schema_version": "1", "description": "membership", "schema": "app",
        "options": {"tenant_column": "account_id", "tenancy": tenancy},
        "tables": [
            {"name": "account_user", "tenant_scoped": false, "primary_key": ["user_id", "account_id"],
             "columns": [{"name": "user_id", "type": "uuid"}, {"name": "account_id", "type": "uuid"},
                         {"name": "role", "type": "numeric"}, {"name": "team_no", "type": "integer"}]},
            {"name": "notes", "columns": [{"name": "body", "type": "text"}]}]});
    let mut issues = vec![];
    let raw = crate::schema::spec::read_schema(&payload, &mut issues);
    let s = crate::schema::normalize::normalize(&raw, &mut issues);
    (s, issues)
}

fn only_issue(tenancy: Value) -> (String, String) {
    let (_, issues) = normalized(tenancy);
    assert_eq!(issues.len(), 1, "{issues:?}");
    (issues[0].path.clone(), issues[0].code.to_string())
}

#[test]
fn membership_mode_marks_the_table_and_builds_qualified_predicates() {
    let (s, issues) = normalized(json!({"mode": "membership", "table": "account_user"}));
    assert!(issues.is_empty(), "{issues:?}");
    let m = s.options.tenancy.membership().expect("membership");
    assert_eq!(
        (
            m.tenant_column.as_str(),
            m.user_column.as_str(),
            m.user_type
        ),
        ("account_id", "user_id", "uuid")
    );
    let t = &s.tables[0];
    assert!(t.membership && t.rls && !t.force_rls && t.has_revos_policy());
    assert!(!s.tables[1].membership && s.tables[1].has_revos_policy());
    assert_eq!(
        crate::schema::membership::tenant_predicate(m, &s.options.tenant_column),
        r#"("account_id" OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT m."account_id" FROM "app"."account_user" m WHERE m."user_id" OPERATOR(pg_catalog.=) (SELECT (revos.current_user_id())::uuid))))"#
    );
    assert_eq!(
        crate::schema::membership::own_rows_predicate(m),
        r#"("user_id" OPERATOR(pg_catalog.=) (SELECT (revos.current_user_id())::uuid))"#
    );
    let (s, issues) = normalized(json!("transaction"));
    assert!(
        issues.is_empty() && s.options.tenancy == Tenancy::Transaction,
        "{issues:?}"
    );
}

#[test]
fn each_bad_tenancy_alone_names_its_path() {
    let bad = |t: Value| only_issue(t);
    let at = |p: &str, c: &str| (p.to_string(), c.to_string());
    assert_eq!(
        bad(json!({"mode": "membership"})),
        at("options.tenancy.table", "missing_key")
    );
    assert_eq!(
        bad(json!({"mode": "membership", "table": "members"})),
        at("options.tenancy.table", "unknown_reference")
    );
    assert_eq!(
        bad(json!({"mode": "membership", "table": "account_user", "user_column": "member"})),
        at("options.tenancy.user_column", "unknown_column")
    );
    assert_eq!(
        bad(json!({"mode": "membership", "table": "account_user", "tenant_column": "team_id"})),
        at("options.tenancy.tenant_column", "unknown_column")
    );
    assert_eq!(
        bad(json!({"mode": "membership", "table": "account_user", "user_column": "role"})),
        at("options.tenancy.user_column", "unknown_type")
    );
    assert_eq!(
        bad(json!({"mode": "membership", "table": "account_user", "tenant_column": "team_no"})),
        at("options.tenancy.tenant_column", "invalid_value")
    );
    assert_eq!(
        bad(json!({"mode": "membership", "table": "account_user; drop"})),
        at("options.tenancy.table", "invalid_name")
    );
    assert_eq!(
        bad(json!({"mode": "per_user"})),
        at("options.tenancy.mode", "invalid_value")
    );
    assert_eq!(
        bad(json!({"table": "account_user"})),
        at("options.tenancy.mode", "missing_key")
    );
    assert_eq!(
        bad(json!({"mode": "transaction", "table": "account_user"})),
        at("options.tenancy.table", "invalid_value")
    );
    assert_eq!(
        bad(json!({"mode": "membership", "table": "account_user", "users": "x"})),
        at("options.tenancy.users", "unknown_key")
    );
    assert_eq!(bad(json!(7)), at("options.tenancy", "wrong_type"));
}

/// Issue 25, the claims mode: no table is marked, every tenant table's policy compares its
/// tenant with `revos.current_tenant_ids()` cast to the tenant type's array, both ways.
#[test]
fn claims_mode_builds_a_qualified_array_predicate() {
    for written in [json!({"mode": "claims"}), json!("claims")] {
        let (s, issues) = normalized(written);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(s.options.tenancy, Tenancy::Claims);
        assert!(s.tables.iter().all(|t| !t.membership));
        let notes = &s.tables[1];
        assert!(notes.has_revos_policy() && !s.tables[0].has_revos_policy());
        assert_eq!(
            crate::schema::tenancy::tenant_policy_sql("\"app\".\"notes\"", notes, &s.options),
            r#"CREATE POLICY "revos_tenant_isolation" ON "app"."notes" AS PERMISSIVE FOR ALL TO PUBLIC USING ("account_id" OPERATOR(pg_catalog.=) ANY ((SELECT revos.current_tenant_ids())::uuid[])) WITH CHECK ("account_id" OPERATOR(pg_catalog.=) ANY ((SELECT revos.current_tenant_ids())::uuid[]))"#
        );
    }
}

#[test]
fn claims_mode_refuses_the_keys_of_the_membership_mode_each_alone() {
    let at = |p: &str, c: &str| (p.to_string(), c.to_string());
    for key in ["table", "tenant_column", "user_column"] {
        assert_eq!(
            only_issue(json!({"mode": "claims", key: "account_user"})),
            at(&format!("options.tenancy.{key}"), "invalid_value")
        );
    }
    assert_eq!(
        only_issue(json!({"mode": "claims", "claim": "tenant_ids"})),
        at("options.tenancy.claim", "unknown_key")
    );
    assert_eq!(
        only_issue(json!({"mode": "Claims"})),
        at("options.tenancy.mode", "invalid_value")
    );
}
