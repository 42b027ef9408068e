//! A declared check or foreign key on an online table, added `NOT VALID` after the commit
//! (contract §14). Pure: a pass over the online plan [`crate::schema::online::transform`] made.
//!
//! `transform` leaves a new check's or foreign key's `ADD … NOT VALID` in the caller's transaction
//! and defers its `VALIDATE`. That `ADD` takes ACCESS EXCLUSIVE (a check) or SHARE ROW EXCLUSIVE on
//! both tables (a foreign key), and in the transaction the lock is held from it through revos's
//! verification and ledger row to the commit: every insert into the table waits that out
//! (bench/FINDINGS.md, P7). Here the `ADD` moves to the worker, at the head of the constraint's
//! chain, when the worker can prove that what it added is what the apply declared:
//!
//! - every step: the worker parses the statement under the settings the apply ran with
//!   (`crate::deferred::settings`: `standard_conforming_strings` on, `DateStyle`, `TimeZone`, …,
//!   not the database's or the role's defaults), and runs it only when its parse tree is that one
//!   `ADD CONSTRAINT <name> CHECK (…) NOT VALID` / `FOREIGN KEY … REFERENCES <schema>.<table> …
//!   NOT VALID` on that table (`crate::deferred::shape`): no other subcommand can ride along in the
//!   text (the eighteenth adversarial review, A);
//! - a check: before its commit, the worker compares the constraint it added with `definition`,
//!   `pg_get_constraintdef` of the same check built on the apply's shadow table
//!   (`crate::apply::shadow`); another meaning (a literal read otherwise, a function resolved
//!   elsewhere) rolls the `ADD` back and fails the chain;
//! - a foreign key: before its commit, the worker compares the key it added with `expected`
//!   (columns, referenced table and columns, actions, match type, as verify compares a key:
//!   `compare::fk_expected`) and its referenced table's OID with the one the apply's transaction
//!   referenced (`target_oid`, recorded with the step): a table put under the referenced name
//!   after the commit is not it.
//!
//! What stays in the transaction: a check whose expression qualifies a name or uses `OPERATOR`
//! (the rule an index's expression follows, `online::names_other_schema`), a check the shadow
//! could not build (no definition to compare with), and a replacing `DROP CONSTRAINT, ADD …`
//! statement (the drop and the add go together).

use crate::schema::compare::fk_expected;
use crate::schema::model::{Check, Schema, Table};
use crate::schema::online::{names_other_schema, Completion, Deferred, OnlinePlan};
use crate::schema::plan::fk_sql;
use crate::schema::steps::Plan;

/// Moves each eligible check's and foreign key's `ADD … NOT VALID` from the plan's statements to
/// the head of its deferred chain (see the module). `definition` gives a check's deparsed form,
/// when known.
pub fn add_later(
    p: &mut Plan,
    s: &Schema,
    o: &mut OnlinePlan,
    definition: impl Fn(&Table, &Check) -> Option<String>,
) {
    for t in &s.tables {
        let (schema, table) = t.key();
        for c in &t.checks {
            let add = format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK (({})) NOT VALID",
                t.qualified(),
                c.name,
                c.expression
            );
            if names_other_schema(&c.expression) {
                continue;
            }
            let completion = || {
                Some(Completion::Added {
                    schema: schema.clone(),
                    table: table.clone(),
                    name: c.name.as_str().to_string(),
                    definition: Some(definition(t, c)?),
                })
            };
            move_to_chain(p, o, t, c.name.as_str(), &add, completion);
        }
        for f in &t.foreign_keys {
            let add = format!(
                "ALTER TABLE {} ADD {} NOT VALID",
                t.qualified(),
                fk_sql(f, &s.options)
            );
            let completion = || {
                Some(Completion::ForeignKeyAdded {
                    schema: schema.clone(),
                    table: table.clone(),
                    name: f.name.as_str().to_string(),
                    expected: fk_expected(f, &s.options),
                    target_oid: None,
                })
            };
            move_to_chain(p, o, t, f.name.as_str(), &add, completion);
        }
    }
}

/// Moves the plan's statement `add` to the head of the deferred chain that validates constraint
/// `name` of `t`, with the completion `completion` gives — when both are there.
fn move_to_chain(
    p: &mut Plan,
    o: &mut OnlinePlan,
    t: &Table,
    name: &str,
    add: &str,
    completion: impl FnOnce() -> Option<Completion>,
) {
    let Some(i) = p.steps.iter().position(|x| x.sql == add) else {
        return;
    };
    let Some(j) = o.deferred.iter().position(|d| validates(d, t, name)) else {
        return;
    };
    let Some(completion) = completion() else {
        return;
    };
    let head = Deferred {
        step: p.steps.remove(i),
        chain: o.deferred[j].chain,
        completion,
        cleanup: o.deferred[j].cleanup.clone(),
    };
    o.deferred.insert(j, head);
}

/// Whether `d` is the deferred `VALIDATE` of constraint `name` on `t`.
fn validates(d: &Deferred, t: &Table, name: &str) -> bool {
    matches!(&d.completion, Completion::Validated { schema, table, name: n }
        if schema == t.schema.as_str() && table == t.name.as_str() && n == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::online::tests::{planned_plain as planned, v2};
    use crate::schema::online::{pending_view, transform};
    use crate::schema::steps::Lock;
    use serde_json::json;
    use std::collections::HashSet;

    fn table<'a>(s: &'a Schema, name: &str) -> &'a Table {
        s.tables.iter().find(|t| t.name.as_str() == name).unwrap()
    }

    /// `big` (existing, above the threshold) gains the check `ck_big_a` (`a >= 0`).
    fn later(expr: &str, known: bool) -> (Plan, OnlinePlan, Schema) {
        let mut v = v2(Some(true));
        v["tables"][1]["columns"][0]["check"] = json!(expr);
        let (mut p, s) = planned(v, Some(10));
        let mut o = transform(&mut p, &s, None, true, &HashSet::new()).unwrap();
        add_later(&mut p, &s, &mut o, |_, c| {
            known.then(|| format!("CHECK ({}) -- {}", c.expression, c.name.as_str()))
        });
        (p, o, s)
    }

    #[test]
    fn a_check_with_a_known_definition_is_added_by_the_worker_before_its_validation() {
        let (p, o, s) = later("a >= 0", true);
        assert!(
            !p.steps.iter().any(|x| x.sql.contains("ck_big_a")),
            "{:#?}",
            p.steps
        );
        let i = o
            .deferred
            .iter()
            .position(|d| d.step.sql.contains(r#"ADD CONSTRAINT "ck_big_a""#))
            .expect("deferred ADD");
        let (add, validate) = (&o.deferred[i], &o.deferred[i + 1]);
        assert!(add.step.sql.ends_with("NOT VALID"), "{add:#?}");
        assert_eq!(add.step.lock, Some(Lock::AccessExclusive));
        assert!(!add.step.scans);
        assert_eq!(add.chain, validate.chain);
        assert!(
            validate
                .step
                .sql
                .ends_with(r#"VALIDATE CONSTRAINT "ck_big_a""#),
            "{validate:#?}"
        );
        match &add.completion {
            Completion::Added {
                name, definition, ..
            } => {
                assert_eq!(name, "ck_big_a");
                assert_eq!(definition.as_deref(), Some("CHECK (a >= 0) -- ck_big_a"));
            }
            c => panic!("{c:?}"),
        }
        // not there at the commit: verify does not look for it then
        let view = pending_view(&s, &o);
        let big = table(&view, "big");
        assert!(big.checks.is_empty(), "{:?}", big.checks);
    }

    #[test]
    fn a_foreign_key_is_added_by_the_worker_with_what_it_must_be() {
        let (p, o, s) = later("a >= 0", true);
        // nothing is added NOT VALID in the transaction any more
        assert!(
            !p.steps.iter().any(|x| x.sql.ends_with("NOT VALID")),
            "{:#?}",
            p.steps
        );
        let i = o
            .deferred
            .iter()
            .position(|d| {
                d.step
                    .sql
                    .contains(r#"ADD CONSTRAINT "fk_big_ref_id" FOREIGN KEY"#)
            })
            .expect("deferred ADD of the foreign key");
        let (add, validate) = (&o.deferred[i], &o.deferred[i + 1]);
        assert!(add.step.sql.ends_with("NOT VALID"), "{add:#?}");
        assert_eq!(add.step.lock, Some(Lock::ShareRowExclusive));
        assert!(!add.step.scans);
        assert_eq!(add.chain, validate.chain);
        assert!(validate
            .step
            .sql
            .ends_with(r#"VALIDATE CONSTRAINT "fk_big_ref_id""#));
        match &add.completion {
            Completion::ForeignKeyAdded {
                name,
                expected,
                target_oid,
                ..
            } => {
                assert_eq!(name, "fk_big_ref_id");
                assert_eq!(expected.columns, ["ref_id"]);
                assert_eq!(
                    (
                        expected.target_schema.as_str(),
                        expected.target_table.as_str()
                    ),
                    ("public", "parent")
                );
                assert_eq!(expected.target_columns, ["id"]);
                assert_eq!(*target_oid, None, "filled by the apply, after its DDL");
            }
            c => panic!("{c:?}"),
        }
        // not there at the commit
        let big = table(&pending_view(&s, &o), "big").clone();
        assert!(big.foreign_keys.is_empty(), "{:?}", big.foreign_keys);
    }

    #[test]
    fn a_check_stays_in_the_transaction_without_a_definition_or_with_a_qualified_name() {
        for (expr, known) in [
            ("a >= 0", false),
            ("public.f(a) > 0", true),
            ("a OPERATOR(pg_catalog.>=) 0", true),
            ("a::pg_catalog.int8 > 0", true),
            ("a > 0 . 5", true),
        ] {
            let (p, o, s) = later(expr, known);
            let in_tx = p
                .steps
                .iter()
                .filter(|x| x.sql.contains(r#"ADD CONSTRAINT "ck_big_a""#))
                .count();
            assert_eq!(in_tx, 1, "{expr}: {:#?}", p.steps);
            assert!(
                !o.deferred.iter().any(|d| matches!(
                    d.completion,
                    Completion::Added {
                        definition: Some(_),
                        ..
                    }
                )),
                "{expr}: {:#?}",
                o.deferred
            );
            // validated after the commit all the same, and there at the commit
            assert!(o
                .deferred
                .iter()
                .any(|d| d.step.sql.ends_with(r#"VALIDATE CONSTRAINT "ck_big_a""#)));
            let view = pending_view(&s, &o);
            let big = table(&view, "big");
            assert_eq!(big.checks.len(), 1, "{expr}");
        }
    }
}
