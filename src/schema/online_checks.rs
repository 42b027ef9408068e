//! A declared check on an online table, added `NOT VALID` after the commit (contract §14). Pure:
//! a pass over the online plan [`crate::schema::online::transform`] made.
//!
//! `transform` leaves a new check's `ADD CONSTRAINT … CHECK (…) NOT VALID` in the caller's
//! transaction and defers its `VALIDATE`. That `ADD` takes ACCESS EXCLUSIVE, and in the
//! transaction the lock is held from it through revos's verification and ledger row to the commit:
//! every insert into the table waits that out (bench/FINDINGS.md, P7). Here the `ADD` moves to the
//! worker, at the head of the check's chain, when the apply knows what the check must be once
//! added — its `definition`, `pg_get_constraintdef` of the same check built on the shadow table
//! (`crate::apply::shadow`) — so that the worker can prove it:
//!
//! - the worker parses the statement under the settings the apply ran with
//!   (`crate::deferred::settings`: `standard_conforming_strings` on, `DateStyle`, `TimeZone`, …,
//!   not the database's or the role's defaults), and runs it only when its parse tree is that one
//!   `ADD CONSTRAINT <name> CHECK (…) NOT VALID` on that table (`crate::deferred::shape`): no
//!   other subcommand can ride along in the text (the eighteenth adversarial review, A);
//! - before its commit, it compares the constraint it added with `definition`: another meaning
//!   (a literal read otherwise, a function resolved elsewhere) rolls the `ADD` back and fails the
//!   chain; the step is never `done` on a check other than the declared one.
//!
//! What stays in the transaction: a check whose expression qualifies a name or uses `OPERATOR`
//! (the rule an index's expression follows, `online::names_other_schema`), a check the shadow
//! could not build (no definition to compare with), and a replacing `DROP CONSTRAINT, ADD …`
//! statement (the drop and the add go together).

use crate::schema::model::{Check, Schema, Table};
use crate::schema::online::{names_other_schema, Completion, Deferred, OnlinePlan};
use crate::schema::steps::Plan;

/// Moves each eligible check's `ADD … NOT VALID` from the plan's statements to the head of its
/// deferred chain (see the module). `definition` gives the check's deparsed form, when known.
pub fn add_later(
    p: &mut Plan,
    s: &Schema,
    o: &mut OnlinePlan,
    definition: impl Fn(&Table, &Check) -> Option<String>,
) {
    for t in &s.tables {
        for c in &t.checks {
            let add = format!(
                "ALTER TABLE {} ADD CONSTRAINT {} CHECK (({})) NOT VALID",
                t.qualified(),
                c.name,
                c.expression
            );
            let Some(i) = p.steps.iter().position(|x| x.sql == add) else {
                continue;
            };
            let Some(j) = o.deferred.iter().position(|d| validates(d, t, c)) else {
                continue;
            };
            if names_other_schema(&c.expression) {
                continue;
            }
            let Some(definition) = definition(t, c) else {
                continue;
            };
            let step = p.steps.remove(i);
            let (schema, table) = t.key();
            let head = Deferred {
                step,
                chain: o.deferred[j].chain,
                completion: Completion::Added {
                    schema,
                    table,
                    name: c.name.as_str().to_string(),
                    definition: Some(definition),
                },
                cleanup: o.deferred[j].cleanup.clone(),
            };
            o.deferred.insert(j, head);
        }
    }
}

/// Whether `d` is the deferred `VALIDATE` of check `c` on `t`.
fn validates(d: &Deferred, t: &Table, c: &Check) -> bool {
    matches!(&d.completion, Completion::Validated { schema, table, name }
        if schema == t.schema.as_str() && table == t.name.as_str() && name == c.name.as_str())
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
