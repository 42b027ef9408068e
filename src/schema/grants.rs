//! Tables revos creates are usable by the application role `revos_app` from the start (issue 20:
//! the quick start's tables were unusable by API roles until someone granted them by hand).
//! Every table a plan creates gets, as its last statement, run as the caller (the table's new
//! owner — the owner may always grant on its table; nothing privileged):
//!
//! * a tenant table: `GRANT SELECT, INSERT, UPDATE, DELETE … TO revos_app` — every row a member
//!   reads or writes still goes through the tenant policy (RLS is forced);
//! * a shared table (`tenant_scoped: false`, no policy): `GRANT SELECT … TO revos_app` only —
//!   a write there changes what every tenant sees, so it is the owner's to grant.
//!
//! Grant `revos_app` to the roles your application logs in as (docs/callers.md). Pure.

use crate::schema::model::Schema;
use crate::schema::steps::{Cost, Plan, Step};

/// The application role (created by `CREATE EXTENSION revos`, sql/bootstrap.sql).
pub const APP_ROLE: &str = "revos_app";

/// The privileges a created table gets for `revos_app`, as `has_table_privilege` takes them.
pub fn privileges(tenant_scoped: bool) -> &'static str {
    if tenant_scoped {
        "SELECT, INSERT, UPDATE, DELETE"
    } else {
        "SELECT"
    }
}

/// Appends the GRANT of every table the plan creates.
pub fn add_steps(p: &mut Plan, s: &Schema) {
    let created: Vec<String> = p
        .steps
        .iter()
        .filter(|st| st.kind == "table" && st.sql.starts_with("CREATE TABLE"))
        .map(|st| st.object.clone())
        .collect();
    for object in created {
        let tenant = s
            .tables
            .iter()
            .find(|t| t.qualified() == object)
            .is_none_or(|t| t.tenant_scoped);
        let sql = format!(
            "GRANT {} ON TABLE {object} TO {APP_ROLE}",
            privileges(tenant)
        );
        p.steps
            .push(Step::costed("grant", object, sql, Cost::NONE, Some(0)));
    }
}

/// The grant steps of a plan: (table as the step names it, privileges).
pub fn granted(p: &Plan) -> Vec<(&str, &str)> {
    p.steps
        .iter()
        .filter(|st| st.kind == "grant")
        .filter_map(|st| {
            let privs = st.sql.strip_prefix("GRANT ")?.split(" ON TABLE ").next()?;
            Some((st.object.as_str(), privs))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::normalize::normalize;
    use crate::schema::spec::read_schema;
    use serde_json::json;

    #[test]
    fn created_tables_are_granted_to_the_app_role() {
        let mut issues = vec![];
        let s = normalize(
            &read_schema(
                &json!({"schema_version": "1", "description": "d",
                        "tables": [{"name": "a"}, {"name": "codes", "tenant_scoped": false}, {"name": "b"}]}),
                &mut issues,
            ),
            &mut issues,
        );
        let mut p = Plan::default();
        let a = "\"public\".\"a\"";
        let codes = "\"public\".\"codes\"";
        p.steps.push(Step::new(
            "table",
            a.into(),
            format!("CREATE TABLE {a} (\n)"),
        ));
        p.steps.push(Step::new(
            "table",
            codes.into(),
            format!("CREATE TABLE {codes} (\n)"),
        ));
        p.steps.push(Step::new(
            "column",
            "\"public\".\"b\"".into(),
            "ALTER TABLE \"public\".\"b\" ADD COLUMN \"x\" text".into(),
        ));
        add_steps(&mut p, &s);
        let sql: Vec<&str> = p
            .steps
            .iter()
            .filter(|x| x.kind == "grant")
            .map(|x| x.sql.as_str())
            .collect();
        assert_eq!(
            sql,
            vec![
                "GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE \"public\".\"a\" TO revos_app",
                "GRANT SELECT ON TABLE \"public\".\"codes\" TO revos_app",
            ]
        );
        assert_eq!(
            granted(&p),
            vec![(a, "SELECT, INSERT, UPDATE, DELETE"), (codes, "SELECT")]
        );
    }
}
