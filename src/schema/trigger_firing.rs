//! Where revos's `updated_at` trigger fires `ENABLE ALWAYS` after a repair (the review of
//! 7e4c192, T1; of f468776 and 419eb1a). A repair enables the trigger recursively — `ALTER TABLE
//! <table or declared partition> ENABLE TRIGGER` reaches every clone below it, so every row fires
//! it again (the review of 419eb1a, 1: `ALTER TABLE ONLY` left the clones of a partition's own
//! partitions disabled, and `applied` said nothing) — or drops and creates it (every clone comes
//! back ENABLE). Either sets an `ENABLE ALWAYS` back to ENABLE; this step says where to set it
//! again, each relation by `ALTER TABLE ONLY` (a plain one on a partitioned partition reaches its
//! partitions: the review of f468776, 1).
//!
//! The rule (the same as for a declared trigger, `objects::build::trigger_always_kept`): ALWAYS
//! where it was; a clone that did not fire (DISABLE, ENABLE REPLICA) takes its parent's firing
//! after the repair, as a partition attached then would; ENABLE everywhere else. Read two levels
//! down (`TableSnapshot::partition_triggers`); a third level comes back ENABLE. Pure.

use crate::ident::Name;
use crate::schema::model::{PartitionTriggerState, Table, TableSnapshot};

/// What a repair of revos's trigger on `t` reaches: the whole table (enabled on the table, or
/// dropped and created), or one declared partition and its own partitions.
pub enum Scope<'a> {
    Table,
    Partition(&'a Name),
}

/// The relations of `t` (qualified, `ONLY` to be put before them) and the trigger's name there on
/// which revos's trigger is to be set `ENABLE ALWAYS` after a repair that reached `scope`, in
/// catalog order: the table first, then its partitions, then theirs. `created`: the trigger was
/// dropped and created, so its clones have the table's trigger's name now.
pub fn always_after_repair(
    t: &Table,
    sn: &TableSnapshot,
    scope: &Scope,
    created: bool,
) -> Vec<(String, Name)> {
    let name = Table::trigger_name();
    let table_always = sn.triggers_always.iter().any(|n| n == name.as_str());
    let clones: Vec<&PartitionTriggerState> = sn
        .partition_triggers
        .iter()
        .filter(|c| c.trigger == name.as_str())
        .collect();
    let state = |schema: &str, rel: &str| {
        clones
            .iter()
            .find(|c| c.schema == schema && c.partition == rel)
            .map_or('O', |c| c.enabled)
    };
    // the firing after the repair: ALWAYS kept; a clone that did not fire takes its parent's
    let after =
        |own: char, parent_always: bool| own == 'A' || (matches!(own, 'D' | 'R') && parent_always);
    let level1_always = |schema: &str, rel: &str| after(state(schema, rel), table_always);
    let mut out = vec![];
    if table_always && matches!(scope, Scope::Table) {
        out.push((t.qualified(), name.clone()));
    }
    for c in &clones {
        let always = match c.level {
            1 => after(c.enabled, table_always),
            _ => after(c.enabled, level1_always(&c.parent.0, &c.parent.1)),
        };
        let inside = match scope {
            Scope::Table => true,
            Scope::Partition(p) => {
                let top = if c.level == 1 {
                    &c.partition
                } else {
                    &c.parent.1
                };
                let schema = if c.level == 1 { &c.schema } else { &c.parent.0 };
                schema == t.schema.as_str() && top == p.as_str()
            }
        };
        if always && inside {
            let rel = format!(
                "{}.{}",
                Name::from_catalog(&c.schema),
                Name::from_catalog(&c.partition)
            );
            let trigger = if created {
                name.clone()
            } else {
                Name::from_catalog(&c.clone)
            };
            out.push((rel, trigger));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `logs`, with the declared partitions `logs_a` and `logs_b`.
    fn table() -> Table {
        crate::schema::partition_trigger_tests::logs().tables[0].clone()
    }

    /// A clone of revos's trigger: (partition, state, level, parent).
    fn snap(table_always: bool, clones: &[(&str, char, i64, &str)]) -> TableSnapshot {
        let name = Table::trigger_name().as_str().to_string();
        TableSnapshot {
            triggers_always: if table_always {
                vec![name.clone()]
            } else {
                vec![]
            },
            partition_triggers: clones
                .iter()
                .map(|(p, e, level, parent)| PartitionTriggerState {
                    schema: "public".into(),
                    partition: p.to_string(),
                    trigger: name.clone(),
                    enabled: *e,
                    clone: name.clone(),
                    level: *level,
                    parent: ("public".into(), parent.to_string()),
                })
                .collect(),
            ..Default::default()
        }
    }

    fn rels(v: Vec<(String, Name)>) -> Vec<String> {
        v.into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn always_kept_and_a_clone_that_did_not_fire_takes_its_parents() {
        let t = table();
        // the table ALWAYS; logs_a disabled with its partition logs_a1; logs_b ALWAYS; logs_c (not
        // declared) ENABLE with logs_c1 disabled (its parent fires ENABLE: not ALWAYS)
        let sn = snap(
            true,
            &[
                ("logs_a", 'D', 1, "logs"),
                ("logs_b", 'A', 1, "logs"),
                ("logs_a1", 'D', 2, "logs_a"),
                ("logs_c1", 'D', 2, "logs_c"),
            ],
        );
        assert_eq!(
            rels(always_after_repair(&t, &sn, &Scope::Table, true)),
            [
                "\"public\".\"logs\"",
                "\"public\".\"logs_a\"",
                "\"public\".\"logs_b\"",
                "\"public\".\"logs_a1\""
            ]
        );
        let a = Name::from_catalog("logs_a");
        assert_eq!(
            rels(always_after_repair(&t, &sn, &Scope::Partition(&a), false)),
            ["\"public\".\"logs_a\"", "\"public\".\"logs_a1\""]
        );
    }

    #[test]
    fn under_a_table_that_is_not_always_only_always_is_kept() {
        let t = table();
        let sn = snap(
            false,
            &[
                ("logs_a", 'D', 1, "logs"),
                ("logs_b", 'A', 1, "logs"),
                ("logs_b1", 'R', 2, "logs_b"),
                ("logs_a1", 'A', 2, "logs_a"),
            ],
        );
        assert_eq!(
            rels(always_after_repair(&t, &sn, &Scope::Table, false)),
            [
                "\"public\".\"logs_b\"",
                "\"public\".\"logs_b1\"",
                "\"public\".\"logs_a1\""
            ]
        );
    }
}
