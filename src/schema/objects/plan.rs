//! Stage 4 for the objects beside tables: each is created when it does not exist, brought to
//! the declared form when its deparsed form differs, and left alone when it is the same. Two
//! stages of the plan: before the tables (extensions, schemas, sequences, domains, functions a
//! table expression calls) and after them (everything else; grants last).

use std::collections::BTreeSet;

use crate::schema::catalog::CatalogState;
use crate::schema::compare::{needs_change, Verdict};
use crate::schema::model::Schema;
use crate::schema::objects::{Kind, Object, ObjectState, Phase};
use crate::schema::properties::Prop;
use crate::schema::steps::{Cost, Plan, Step};

/// What the object stages read and write.
pub struct Planner<'a> {
    pub s: &'a Schema,
    pub st: &'a CatalogState,
    pub p: &'a mut Plan,
}

/// The property row each kind is compared under.
pub fn prop(k: Kind) -> Prop {
    match k {
        Kind::Extension => Prop::Extension,
        Kind::Schema => Prop::SchemaObject,
        Kind::Sequence => Prop::Sequence,
        Kind::Domain => Prop::Domain,
        Kind::Function => Prop::Function,
        Kind::Aggregate => Prop::Aggregate,
        Kind::View => Prop::View,
        Kind::MaterializedView => Prop::MaterializedView,
        Kind::Trigger => Prop::Trigger,
        Kind::Policy => Prop::Policy,
        Kind::Grants => Prop::Grants,
        Kind::Partition => Prop::Partition,
        Kind::PartitionKey => Prop::PartitionKey,
    }
}

/// The comparison of one existing object: its live form against the declared one.
pub fn verdict(o: &Object, st: &ObjectState) -> Verdict {
    let Some(live) = &st.live else {
        return Verdict::Differs;
    };
    if let Some(e) = &o.expected {
        return match &o.immutable {
            Some(why) if e != live => {
                Verdict::Unknown(format!("{why} (it is {live}, declared {e})"))
            }
            _ => Verdict::of(e == live),
        };
    }
    match &st.declared {
        Some(Ok(d)) => Verdict::of(d == live),
        Some(Err(why)) => Verdict::Unknown(why.clone()),
        None => Verdict::Unknown("its declared form was not deparsed".into()),
    }
}

/// The stage before the tables, and the warnings normalization left on the tables.
pub fn before_tables(s: &Schema, st: &CatalogState, p: &mut Plan) {
    let pl = &mut Planner { s, st, p };
    for t in &pl.s.tables {
        pl.p.warnings.extend(t.notes.iter().cloned());
        // the membership table has revos's own policy (a user reads their rows, issue 25)
        if t.rls && !t.tenant_scoped && !t.membership && t.policies.is_empty() {
            pl.p.warnings.push(format!(
                "{}: row-level security is on and the table declares no policy: every role but its owner (and a superuser) sees no rows",
                t.qualified()
            ));
        }
    }
    object_schemas(pl);
    for o in
        pl.s.objects
            .iter()
            .filter(|o| o.phase == Phase::BeforeTables)
    {
        plan_object(pl, o);
    }
}

/// The stage after the tables.
pub fn after_tables(s: &Schema, st: &CatalogState, p: &mut Plan) {
    let pl = &mut Planner { s, st, p };
    for o in
        pl.s.objects
            .iter()
            .filter(|o| o.phase == Phase::AfterTables)
    {
        plan_object(pl, o);
    }
}

/// `CREATE SCHEMA IF NOT EXISTS` for the schemas objects live in that neither the tables nor the
/// enums brought, and that do not exist.
fn object_schemas(pl: &mut Planner) {
    let mut done: BTreeSet<String> =
        pl.s.tables
            .iter()
            .map(|t| t.schema.as_str().to_string())
            .collect();
    done.extend(pl.s.enums.iter().map(|e| e.schema.as_str().to_string()));
    done.insert("public".into());
    for o in &pl.s.objects {
        if o.kind == Kind::Schema {
            done.insert(o.key.trim_start_matches("schema ").to_string());
        }
    }
    for o in &pl.s.objects {
        let Some(sc) = &o.schema else { continue };
        if done.insert(sc.as_str().to_string()) && !pl.st.schemas.contains(sc.as_str()) {
            pl.p.push_global(
                "schema",
                sc.as_str().to_string(),
                format!("CREATE SCHEMA IF NOT EXISTS {sc}"),
            );
        }
    }
}

fn push(pl: &mut Planner, o: &Object, sql: String) {
    if o.function_body && !pl.p.steps.iter().any(|s| s.kind == "setting") {
        // as pg_dump does: a body may name what is declared after it; each body is validated by
        // its language once everything exists (apply::objects::verify)
        pl.p.push_global(
            "setting",
            "check_function_bodies".into(),
            "SET LOCAL check_function_bodies = off".into(),
        );
    }
    match &o.table {
        Some((s, t)) => {
            let cost = match o.kind {
                Kind::Trigger => Cost::CREATE_TRIGGER,
                _ => Cost::ALTER,
            };
            // 0 rows for a table this plan creates, as the table stages count them
            let rows = match pl.st.table(s, t) {
                Some(sn) => sn.est_rows,
                None => Some(0),
            };
            let step = Step::costed(o.kind.step(), format!("{s}.{t}"), sql, cost, rows);
            pl.p.steps.push(step);
        }
        None => pl.p.push_global(o.kind.step(), o.label.clone(), sql),
    }
}

fn plan_object(pl: &mut Planner, o: &Object) {
    let st = pl.st.objects.get(&o.key).cloned().unwrap_or_default();
    if st.live.is_none() {
        if let Some(Err(why)) = &st.declared {
            // what a new one gets by default could not be read
            needs_change(
                pl.p,
                Verdict::Unknown(why.clone()),
                &o.path,
                prop(o.kind),
                &o.label,
            );
        }
        // `names_if_created`: what the creator's default privileges give it, revoked first
        for sql in st.names.iter().chain(&o.create) {
            push(pl, o, sql.clone());
        }
        pl.p.object_forms.insert(o.key.clone(), None);
        return;
    }
    let v = verdict(o, &st);
    let expected = match (&o.expected, &st.declared) {
        (Some(e), _) => Some(e.clone()),
        (None, Some(Ok(d))) => Some(d.clone()),
        _ => None,
    };
    if needs_change(pl.p, v, &o.path, prop(o.kind), &o.label) {
        partition_privileges_revoked(pl, o, &st);
        for sql in o.change_statements(&st.names, &st.kept, st.recreate) {
            push(pl, o, sql);
        }
    }
    foreign_policies(pl, o, &st);
    pl.p.object_forms.insert(o.key.clone(), expected);
}

/// A declared partition's own privileges that the plan revokes (`build::partition_grants`: kept
/// its owner's only when its table declares `grants` or has row security) are named: nothing in
/// the payload says so, and a role that read the partition by name — `pg_dump -t`, a publication
/// with `publish_via_partition_root = false`, a grant made by hand — loses it at this apply (the
/// review of the stop 48 change, 4).
fn partition_privileges_revoked(pl: &mut Planner, o: &Object, st: &ObjectState) {
    let (Kind::Grants, Some((schema, part)), Some(live)) = (o.kind, &o.table, &st.live) else {
        return;
    };
    let Some(t) =
        pl.s.tables
            .iter()
            .find(|t| &t.schema == schema && t.partitions.contains(part))
    else {
        return;
    };
    if live.is_empty() {
        return;
    }
    pl.p.warnings.push(format!(
        "{schema}.{part}: the privileges granted on this partition ({live}) are revoked: a declared partition of {} is its owner's only, and every role reaches its rows through the table (under its grants and policies)",
        t.qualified()
    ));
}

/// The policies revos did not declare on a tenant partition, as on its parent (`plan::policies`,
/// `compare::undeclared`): a PERMISSIVE one is OR-ed with the tenant policy and lets a tenant see
/// other tenants' rows through the partition — the risk `foreign_policy`, dropped when allowed; a
/// RESTRICTIVE one only narrows what a tenant sees — a warning, kept. Policies that could not be
/// read are "cannot compare".
fn foreign_policies(pl: &mut Planner, o: &Object, st: &ObjectState) {
    if !o.tenant_partition {
        return;
    }
    if let Some(why) = &st.foreign_unread {
        needs_change(
            pl.p,
            Verdict::Unknown(why.clone()),
            &o.path,
            Prop::ForeignPolicy,
            &o.label,
        );
        return;
    }
    let Some((schema, table)) = &o.table else {
        return;
    };
    let q = format!("{schema}.{table}");
    for fp in &st.foreign {
        let name = crate::ident::Name::from_catalog(&fp.name);
        if !fp.permissive {
            pl.p.warnings.push(format!(
                "{q} has the RESTRICTIVE policy {name} that the schema does not declare; it is kept (it only narrows what a tenant sees)"
            ));
            continue;
        }
        pl.p.risk(
            o.path.clone(),
            crate::error::RiskCode::ForeignPolicy,
            format!(
                "{q} (a partition of a tenant table) has the PERMISSIVE policy {name} (USING {}), which the schema does not declare; it is OR-ed with the tenant policy and lets a tenant see other rows through the partition; allow_destructive drops it",
                fp.using.as_deref().unwrap_or("-")
            ),
        );
        push(pl, o, format!("DROP POLICY {name} ON {q}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::normalize::normalize;
    use crate::schema::spec::read_schema;
    use serde_json::json;

    /// A payload whose table `a`, view `v`, sequence `q` and function `f` declare their grants.
    fn declared() -> Schema {
        let mut issues = vec![];
        let grants = json!([{"to": ["reader"], "privileges": ["SELECT"]}]);
        let s = normalize(
            &read_schema(
                &json!({"schema_version": "1", "description": "d",
                        "sequences": [{"name": "q", "grants": [{"to": ["reader"], "privileges": ["USAGE"]}]}],
                        "functions": [{"name": "f", "returns": "integer", "language": "sql", "body": "SELECT 1",
                                       "grants": [{"to": ["public"], "privileges": ["EXECUTE"]}]}],
                        "views": [{"name": "v", "query": "SELECT 1 AS one", "grants": grants}],
                        "tables": [{"name": "a", "grants": grants}]}),
                &mut issues,
            ),
            &mut issues,
        );
        assert!(issues.is_empty(), "{issues:?}");
        s
    }

    /// The statements the after-tables stage plans on table `a` when its grants are `st`.
    fn planned_on_a(s: &Schema, st: ObjectState) -> (Vec<String>, Plan) {
        let mut state = CatalogState::default();
        state
            .objects
            .insert("grants TABLE \"public\".\"a\"".into(), st);
        let mut p = Plan::default();
        after_tables(s, &state, &mut p);
        let sql = p
            .steps
            .iter()
            .filter(|x| x.object == "\"public\".\"a\"")
            .map(|x| x.sql.clone())
            .collect();
        (sql, p)
    }

    fn grants_on<'a>(s: &'a Schema, on: &str) -> &'a Object {
        let key = format!("grants {on}");
        s.objects.iter().find(|o| o.key == key).expect(&key)
    }

    /// The ACL of a table, view or sequence is read with its columns' privileges (a grant names
    /// no column: each is outside the declared ACL); a function's has no columns.
    #[test]
    fn a_relation_acl_reads_its_user_columns_privileges() {
        let s = declared();
        for on in [
            "TABLE \"public\".\"a\"",
            "TABLE \"public\".\"v\"",
            "SEQUENCE \"public\".\"q\"",
        ] {
            let o = grants_on(&s, on);
            for q in [&o.deparse, o.names.as_ref().unwrap()] {
                assert!(q.contains("t.attacl AS acl"), "{on}: {q}");
                assert!(
                    q.contains("t.attnum <> 0 AND NOT t.attisdropped"),
                    "{on}: {q}"
                );
                assert!(q.contains("pg_catalog.aclexplode(c.acl)"), "{on}: {q}");
            }
            let names = o.names.as_ref().unwrap();
            assert!(
                names.contains("') ON TABLE \"public\".") && names.contains(" WITH GRANT OPTION'"),
                "{on}: the column grantors' options first: {names}"
            );
            assert!(names.contains(" CASCADE'"), "{on}: {names}");
            assert_eq!(o.drop_live.as_deref(), Some(""));
        }
        let f = grants_on(&s, "FUNCTION \"public\".\"f\"");
        assert!(!f.deparse.contains("attacl"), "{}", f.deparse);
        assert!(!f.names.as_ref().unwrap().contains("GRANT OPTION"));
    }

    /// A live column privilege is a difference; the change runs the statements read from the
    /// catalog (a column grantor's grant option, then everything revoked from every live grantee
    /// and grantor), then grants the declared privileges.
    #[test]
    fn a_column_privilege_is_a_difference_revoked_from_its_grantee() {
        let s = declared();
        let (sql, p) = planned_on_a(
            &s,
            ObjectState {
                live: Some("PUBLIC:SELECT(\"B c\"),reader:SELECT,\"r b\":UPDATE(a)*".into()),
                names: vec![
                    "GRANT UPDATE (a) ON TABLE \"public\".\"a\" TO \"r b\" WITH GRANT OPTION"
                        .into(),
                    "REVOKE ALL ON TABLE \"public\".\"a\" FROM PUBLIC CASCADE".into(),
                    "REVOKE ALL ON TABLE \"public\".\"a\" FROM \"r b\" CASCADE".into(),
                    "REVOKE ALL ON TABLE \"public\".\"a\" FROM reader CASCADE".into(),
                ],
                declared: Some(Ok("reader:SELECT".into())),
                ..Default::default()
            },
        );
        assert_eq!(
            sql,
            vec![
                "GRANT UPDATE (a) ON TABLE \"public\".\"a\" TO \"r b\" WITH GRANT OPTION",
                "REVOKE ALL ON TABLE \"public\".\"a\" FROM PUBLIC CASCADE",
                "REVOKE ALL ON TABLE \"public\".\"a\" FROM \"r b\" CASCADE",
                "REVOKE ALL ON TABLE \"public\".\"a\" FROM reader CASCADE",
                "GRANT SELECT ON TABLE \"public\".\"a\" TO \"reader\"",
            ]
        );
        assert_eq!(
            p.object_forms.get("grants TABLE \"public\".\"a\""),
            Some(&Some("reader:SELECT".to_string()))
        );
    }

    /// A relation that does not exist yet: what the creator's default privileges will give it is
    /// revoked first (`names_if_created`, read from pg_default_acl), then `create`.
    #[test]
    fn a_created_relation_loses_its_default_privileges_before_its_grants() {
        let s = declared();
        assert!(grants_on(&s, "TABLE \"public\".\"a\"")
            .names_if_created
            .as_ref()
            .is_some_and(|q| q.contains("pg_catalog.pg_default_acl d")
                && q.contains("d.defaclobjtype = 'r'")));
        let (sql, _) = planned_on_a(
            &s,
            ObjectState {
                names: vec!["REVOKE ALL ON TABLE \"public\".\"a\" FROM anon CASCADE".into()],
                ..Default::default()
            },
        );
        assert_eq!(
            sql,
            vec![
                "REVOKE ALL ON TABLE \"public\".\"a\" FROM anon CASCADE",
                "REVOKE ALL ON TABLE \"public\".\"a\" FROM PUBLIC",
                "GRANT SELECT ON TABLE \"public\".\"a\" TO \"reader\"",
            ]
        );
    }

    /// The same ACL, column privileges none: nothing to do.
    #[test]
    fn an_acl_without_column_privileges_as_declared_is_left_alone() {
        let (sql, _) = planned_on_a(
            &declared(),
            ObjectState {
                live: Some("reader:SELECT".into()),
                names: vec!["REVOKE ALL ON TABLE \"public\".\"a\" FROM reader CASCADE".into()],
                declared: Some(Ok("reader:SELECT".into())),
                ..Default::default()
            },
        );
        assert_eq!(sql, Vec::<String>::new());
    }
}
