//! The plan hash (contract §14): what a reviewer saw in `plan_schema`, so that `apply_schema` with
//! `options.expected_plan_hash` runs exactly that or nothing (`stale_plan`). Pure.
//!
//! `plan_hash` = SHA-256 (hex) of the canonical JSON of
//! `{"statements": [the SQL run in the caller's transaction, in order],
//!   "deferred": [the SQL run after commit, in order],
//!   "catalog": <fingerprint of the catalog objects the plan reads or changes>}`.
//! The fingerprint is computed by `apply` (the catalog is read there): the structure of every
//! table in [`touched`] (columns, constraints with their deparsed definitions and whether they are
//! validated, indexes with theirs and whether they are valid, RLS flags, policies, triggers and
//! the firing state of their clones on the table's partitions, comments, and the relation's OID,
//! so a table dropped and created again differs) and every enum's labels in order. ACLs are not in
//! it: a declared `grants` object's statements name every grantee its ACL (column privileges
//! included) has when it differs, so a grant added between plan and apply changes the statements
//! (a new grantee, or a change where the plan had none); one to a grantee the plan already revokes
//! from changes nothing that runs. Statistics (`reltuples`, which `est_rows` shows) and row
//! contents are not in it: an `ANALYZE` between review and apply does not make a plan stale, while
//! a change that alters a statement (a row count that turns a check `NOT VALID`, a table crossing
//! the online threshold) does, through the statements.

use crate::ident::sha256_hex;
use crate::schema::canonical;
use crate::schema::catalog::catalog_keys;
use crate::schema::model::Schema;
use crate::schema::online::OnlinePlan;
use crate::schema::steps::Plan;

/// (schema, name) pairs.
pub type Keys = Vec<(String, String)>;

/// The tables and enums the plan reads or changes, each once, sorted: the payload's tables,
/// their old names, the tables to drop, the tables its foreign keys point at, and its enums.
pub fn touched(s: &Schema) -> (Keys, Keys) {
    let mut tables = catalog_keys(s);
    for f in s.tables.iter().flat_map(|t| &t.foreign_keys) {
        tables.push((
            f.target_schema.as_str().to_string(),
            f.target_table.as_str().to_string(),
        ));
    }
    tables.sort();
    tables.dedup();
    let mut enums: Vec<(String, String)> = s
        .enums
        .iter()
        .map(|e| (e.schema.as_str().to_string(), e.name.as_str().to_string()))
        .collect();
    enums.sort();
    enums.dedup();
    (tables, enums)
}

/// The hash of the plan's statements (in the transaction and deferred) and the catalog
/// fingerprint.
pub fn plan_hash(p: &Plan, online: &OnlinePlan, fingerprint: &str) -> String {
    let statements: Vec<&str> = p.steps.iter().map(|x| x.sql.as_str()).collect();
    let deferred: Vec<&str> = online
        .deferred
        .iter()
        .map(|d| d.step.sql.as_str())
        .collect();
    let doc = serde_json::json!({
        "statements": statements,
        "deferred": deferred,
        "catalog": fingerprint,
    });
    sha256_hex(canonical::of_value(&doc).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::steps::Step;

    fn plan_of(sql: &[&str]) -> Plan {
        Plan {
            steps: sql
                .iter()
                .map(|s| Step::new("x", "o".into(), s.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn the_hash_follows_statements_order_and_catalog() {
        let none = OnlinePlan::default();
        let a = plan_hash(&plan_of(&["A", "B"]), &none, "f");
        assert_eq!(a.len(), 64);
        assert_eq!(a, plan_hash(&plan_of(&["A", "B"]), &none, "f"));
        assert_ne!(a, plan_hash(&plan_of(&["B", "A"]), &none, "f"));
        assert_ne!(a, plan_hash(&plan_of(&["A", "B"]), &none, "g"));
        assert_ne!(a, plan_hash(&plan_of(&["A"]), &none, "f"));
        // est_rows (statistics) is not hashed
        let mut p = plan_of(&["A", "B"]);
        p.steps[0].est_rows = Some(123);
        assert_eq!(a, plan_hash(&p, &none, "f"));
    }

    #[test]
    fn touched_names_foreign_key_targets_once() {
        let v = serde_json::json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "a", "columns": [{"name": "b_id", "type": "uuid", "references": "other.b"}]},
            {"name": "c", "columns": [{"name": "b2", "type": "uuid", "references": "other.b"}]}],
            "enums": [{"name": "e", "values": ["x"]}]});
        let mut issues = vec![];
        let raw = crate::schema::spec::read_schema(&v, &mut issues);
        let s = crate::schema::normalize::normalize(&raw, &mut issues);
        let (t, e) = touched(&s);
        assert_eq!(
            t,
            [
                ("other".into(), "b".into()),
                ("public".into(), "a".into()),
                ("public".into(), "c".into())
            ]
        );
        assert_eq!(e, [("public".to_string(), "e".to_string())]);
    }
}
