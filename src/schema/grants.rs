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

use crate::schema::model::{Schema, Table};
use crate::schema::objects::Kind;
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
    // each table's name formatted once, not once per created table
    let mut by_name: std::collections::HashMap<String, &Table> = Default::default();
    for t in &s.tables {
        by_name.entry(t.qualified()).or_insert(t);
    }
    for object in created {
        // a declared table only (a partition goes through its parent's privileges), and not one
        // whose grants the payload declares: its ACL is then exactly what it declares (issue 25)
        let Some(&t) = by_name.get(&object) else {
            continue;
        };
        if declares_grants(s, t) {
            continue;
        }
        let sql = format!(
            "GRANT {} ON TABLE {object} TO {APP_ROLE}",
            privileges(t.tenant_scoped)
        );
        p.steps
            .push(Step::costed("grant", object, sql, Cost::NONE, Some(0)));
    }
}

/// Whether the payload declares `grants` for table `t` (issue 25, `schema::objects`).
fn declares_grants(s: &Schema, t: &Table) -> bool {
    s.objects.iter().any(|o| {
        o.kind == Kind::Grants
            && o.table
                .as_ref()
                .is_some_and(|(schema, name)| *schema == t.schema && *name == t.name)
    })
}

/// The grants to `revos_app` of a plan: (table as the step names it, privileges). Declared
/// grants (issue 25) share the step kind `grant`; only a grant to `revos_app` on a table is one.
pub fn granted(p: &Plan) -> Vec<(&str, &str)> {
    let to = format!(" TO {APP_ROLE}");
    p.steps
        .iter()
        .filter(|st| st.kind == "grant" && st.sql.ends_with(&to))
        .filter_map(|st| {
            let (privs, _) = st.sql.strip_prefix("GRANT ")?.split_once(" ON TABLE ")?;
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

    /// A table whose grants the payload declares keeps exactly those (issue 25): no revos_app
    /// step; a created table the payload does not declare (a partition) gets none either; a
    /// declared grant is not taken for one to revos_app.
    #[test]
    fn declared_grants_and_partitions_get_no_app_grant() {
        let mut issues = vec![];
        let s = normalize(
            &read_schema(
                &json!({"schema_version": "1", "description": "d",
                        "tables": [{"name": "a", "grants": [{"to": ["reader"], "privileges": ["SELECT"]}]}]}),
                &mut issues,
            ),
            &mut issues,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let mut p = Plan::default();
        for t in ["\"public\".\"a\"", "\"public\".\"a_2024\""] {
            p.steps.push(Step::new(
                "table",
                t.into(),
                format!("CREATE TABLE {t} (\n)"),
            ));
        }
        p.steps.push(Step::new(
            "grant",
            "public.a".into(),
            "GRANT SELECT ON TABLE \"public\".\"a\" TO reader".into(),
        ));
        add_steps(&mut p, &s);
        assert_eq!(p.steps.iter().filter(|x| x.kind == "grant").count(), 1);
        assert!(granted(&p).is_empty());
    }
}
