//! What a managed table has below it that the payload does not declare: partitions and
//! inheritance children (`pg_inherits`), and rewrite rules (`pg_rewrite`). revos keeps them — a
//! partition manager (pg_partman) attaches partitions of its own, and dropping one would drop its
//! rows — but never in silence: each is a warning of the plan and of the apply (the truth review
//! of d9c3a68, 7: the drift capture recorded them, the envelope said nothing).
//!
//! A child of a tenant table is one more way to its rows: row security is a property of each
//! table, and a role that names the child is checked against the child's own (the tenant policy of
//! the parent applies to rows read through the parent only). A child without row security of its
//! own is therefore named as such; one with it is named too — revos compares the policies of the
//! partitions it declares, not of these. And the roles that hold privileges on such a child
//! itself are named (`TRUNCATE` ignores row security), as on a child of any table with row
//! security: by its own name, the child's rows are under neither the table's ACL nor its
//! policies (the review of the stop 48 change, L2). Pure.

use crate::ident::Name;
use std::collections::HashSet;

use crate::schema::compare;
use crate::schema::model::{ChildTable, Table, TableSnapshot};

/// Children named one by one; past them, one warning counts the rest (a partition manager, or
/// TimescaleDB's chunks, can give a table thousands).
pub const NAMED: usize = 10;

/// The warnings for `t`'s undeclared children and rules, in catalog order.
pub fn warnings(t: &Table, sn: &TableSnapshot) -> Vec<String> {
    let q = t.qualified();
    let touch = TouchOff::of(t, sn);
    let mut out = vec![];
    let undeclared: Vec<&ChildTable> = sn
        .children
        .iter()
        .filter(|c| {
            !(c.partition
                && c.level <= 1
                && c.schema == t.schema.as_str()
                && t.partitions.iter().any(|p| p.as_str() == c.name))
        })
        .collect();
    let mut counted = None;
    if undeclared.len() > NAMED {
        let rest = &undeclared[NAMED..];
        let bare = rest.iter().filter(|c| !c.rls_enabled).count();
        let mut notes = vec![];
        if t.has_revos_policy() && bare > 0 {
            notes.push(format!("{bare} of them without row security of their own"));
        }
        let granted = rest.iter().filter(|c| !c.grantees.is_empty()).count();
        if t.rls && granted > 0 {
            notes.push(format!(
                "{granted} of them with privileges held by roles other than their owner"
            ));
        }
        let off = rest.iter().filter(|c| touch.named(c)).count();
        if t.touch_trigger && off > 0 {
            notes.push(format!(
                "{off} of them where revos's `updated_at` trigger does not fire"
            ));
        }
        let note = if notes.is_empty() {
            String::new()
        } else {
            format!(" ({})", notes.join("; "))
        };
        counted = Some(format!(
            "{q} has {} more partitions or inheritance children that the schema does not declare{note}; they are kept",
            rest.len()
        ));
    }
    out.extend(
        undeclared
            .into_iter()
            .take(NAMED)
            .map(|c| child_warning(&q, t, &touch, c)),
    );
    out.extend(counted);
    for r in &sn.rules {
        out.push(format!(
            "{q} has the rule {} that the schema does not declare; it is kept (a rule rewrites what statements on {q} do)",
            Name::from_catalog(r)
        ));
    }
    out
}

/// One undeclared child's warning (`q`: `t` quoted).
fn child_warning(q: &str, t: &Table, touch: &TouchOff, c: &ChildTable) -> String {
    let what = if c.partition {
        "the partition"
    } else {
        "the inheritance child"
    };
    let child = qualified(&c.schema, &c.name);
    let below = if c.level > 1 {
        format!(", a partition of {},", qualified(&c.parent.0, &c.parent.1))
    } else {
        String::new()
    };
    let tail = kept_because(q, t, touch, c, &child);
    format!("{q} has {what} {child}{below} that the schema does not declare{tail}")
}

/// What an undeclared child's warning says after "that the schema does not declare".
fn kept_because(q: &str, t: &Table, off: &TouchOff, c: &ChildTable, child: &str) -> String {
    let held = held_by(c, child);
    let touch = if off.named(c) {
        "; revos's `updated_at` trigger does not fire there (its clone is DISABLEd or ENABLE REPLICA)"
    } else {
        ""
    };
    let kept = match (t.has_revos_policy(), t.rls, c.rls_enabled) {
        (true, _, false) => format!(
            "; it is kept, and it has no row security of its own: the tenant policy covers its rows read through {q} only, and a role with privileges on {child} itself reads and writes every tenant's rows there{held} (declare it in `partitions`, or give it row security and the tenant policy)"
        ),
        (true, _, true) => format!(
            "; it is kept (it has row security of its own; revos does not compare its policies){held}"
        ),
        (false, true, _) if !held.is_empty() => format!(
            "; it is kept; read by its own name its rows are not under {q}'s policies{held}"
        ),
        _ => "; it is kept".to_string(),
    };
    format!("{kept}{touch}")
}

/// The children on which revos's `updated_at` trigger's clone is DISABLEd or ENABLE REPLICA (the
/// snapshot's `partition_triggers`, two levels down) and stays so after this plan: not when the
/// plan enables the trigger on the table or on the declared partition above a child, which reaches
/// it (the review of 2e63b4d, 2). Worked out once per table: per child, it made a plan of a table
/// with 3,000 children take seconds (the review of 86c21cf, 1).
struct TouchOff {
    off: HashSet<(String, String)>,
    /// None: the plan enables it on the whole table; else the declared partitions it enables it on.
    repaired_under: Option<HashSet<String>>,
    /// The table's schema, the declared partitions'.
    schema: String,
}

impl TouchOff {
    fn of(t: &Table, sn: &TableSnapshot) -> TouchOff {
        let name = Table::trigger_name();
        let off = if t.touch_trigger {
            sn.partition_triggers
                .iter()
                .filter(|o| o.trigger == name.as_str() && matches!(o.enabled, 'D' | 'R'))
                .map(|o| (o.schema.clone(), o.partition.clone()))
                .collect()
        } else {
            HashSet::new()
        };
        let repaired_under = if off.is_empty() || !compare::touch_trigger(t, sn).differs() {
            Some(HashSet::new())
        } else {
            match compare::touch_trigger_fix(t, sn) {
                compare::TouchFix::Enable | compare::TouchFix::Create => None,
                compare::TouchFix::EnableOn(parts) => {
                    Some(parts.iter().map(|p| p.as_str().to_string()).collect())
                }
            }
        };
        TouchOff {
            off,
            repaired_under,
            schema: t.schema.as_str().to_string(),
        }
    }

    /// Whether child `c`'s warning says revos's trigger does not fire there.
    fn named(&self, c: &ChildTable) -> bool {
        let Some(under) = &self.repaired_under else {
            return false;
        };
        self.off.contains(&(c.schema.clone(), c.name.clone()))
            && !(c.level > 1 && c.parent.0 == self.schema && under.contains(&c.parent.1))
    }
}

/// "; privileges on <child> itself are held by <roles>" (PUBLIC as such, a role named "PUBLIC"
/// quoted), or nothing when only its owner holds any.
fn held_by(c: &ChildTable, child: &str) -> String {
    if c.grantees.is_empty() {
        return String::new();
    }
    let roles: Vec<String> = c
        .grantees
        .iter()
        .map(|r| match r {
            None => "PUBLIC".to_string(),
            Some(r) => Name::from_catalog(r).to_string(),
        })
        .collect();
    format!(
        "; privileges on {child} itself are held by {}",
        roles.join(", ")
    )
}

fn qualified(schema: &str, name: &str) -> String {
    format!(
        "{}.{}",
        Name::from_catalog(schema),
        Name::from_catalog(name)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::normalize::normalize;
    use crate::schema::spec::read_schema;

    fn table(tenant: bool, partitions: &[&str]) -> Table {
        let mut issues = vec![];
        let parts: Vec<_> = partitions
            .iter()
            .enumerate()
            .map(|(i, p)| serde_json::json!({"name": p, "values": format!("IN ({i})")}))
            .collect();
        let s = normalize(
            &read_schema(
                &serde_json::json!({"schema_version": "1", "description": "d",
                    "tables": [{"name": "events", "tenant_scoped": tenant, "primary_key": ["id", "n"],
                                "columns": [{"name": "n", "type": "integer", "not_null": true}],
                                "partition_by": {"method": "list", "columns": ["n"]},
                                "partitions": parts}]}),
                &mut issues,
            ),
            &mut issues,
        );
        assert!(issues.is_empty(), "{issues:?}");
        s.tables[0].clone()
    }

    fn child(schema: &str, name: &str, rls: bool, partition: bool) -> ChildTable {
        ChildTable {
            schema: schema.into(),
            name: name.into(),
            rls_enabled: rls,
            partition,
            level: 1,
            parent: ("public".into(), "events".into()),
            grantees: vec![],
        }
    }

    fn snapshot(children: Vec<ChildTable>, rules: &[&str]) -> TableSnapshot {
        TableSnapshot {
            children,
            rules: rules.iter().map(|r| r.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn declared_partitions_are_not_named() {
        let t = table(true, &["events_2024"]);
        let sn = snapshot(vec![child("public", "events_2024", true, true)], &[]);
        assert_eq!(warnings(&t, &sn), Vec::<String>::new());
    }

    #[test]
    fn a_partition_of_the_same_name_in_another_schema_is_not_the_declared_one() {
        let t = table(false, &["events_2024"]);
        let sn = snapshot(vec![child("other", "events_2024", false, true)], &[]);
        let w = warnings(&t, &sn);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("\"other\".\"events_2024\""), "{w:?}");
    }

    #[test]
    fn an_rls_less_child_of_a_tenant_table_is_named_as_such() {
        let t = table(true, &[]);
        for partition in [true, false] {
            let sn = snapshot(vec![child("public", "events_x", false, partition)], &[]);
            let w = warnings(&t, &sn);
            assert_eq!(w.len(), 1, "{w:?}");
            assert!(w[0].contains("no row security of its own"), "{w:?}");
            assert!(
                w[0].contains(if partition {
                    "the partition"
                } else {
                    "the inheritance child"
                }),
                "{w:?}"
            );
        }
        let sn = snapshot(vec![child("public", "events_x", true, true)], &[]);
        let w = warnings(&t, &sn);
        assert!(w[0].contains("has row security of its own"), "{w:?}");
    }

    #[test]
    fn a_child_of_a_shared_table_is_kept_without_a_row_security_note() {
        let t = table(false, &[]);
        let sn = snapshot(vec![child("public", "events_x", false, true)], &[]);
        let w = warnings(&t, &sn);
        assert_eq!(w.len(), 1);
        assert!(!w[0].contains("row security"), "{w:?}");
    }

    #[test]
    fn past_ten_children_the_rest_are_counted() {
        let t = table(true, &["events_0"]);
        let mut children: Vec<ChildTable> = (0..14)
            .map(|i| child("public", &format!("events_{i}"), i % 2 == 0, true))
            .collect();
        children.push(child("public", "events_old", false, false));
        let w = warnings(&t, &snapshot(children, &[]));
        // events_0 is declared: 14 undeclared, 10 named, 4 counted (events_11, 13 and events_old
        // without RLS)
        assert_eq!(w.len(), 11, "{w:?}");
        assert!(
            w[10].contains("has 4 more partitions or inheritance children")
                && w[10].contains("(3 of them without row security of their own)"),
            "{w:?}"
        );
        assert!(!w.iter().any(|x| x.contains("\"events_0\"")), "{w:?}");
    }

    /// The review of the stop 48 change, M2: a declared partition made partitioned by hand hid
    /// its own partitions, of any name.
    #[test]
    fn a_partition_of_a_declared_partition_is_named_whatever_its_name() {
        let t = table(true, &["events_2024", "events_2024_sub"]);
        let sub = ChildTable {
            level: 2,
            parent: ("public".into(), "events_2024".into()),
            ..child("public", "events_2024_sub", false, true)
        };
        let sn = snapshot(vec![child("public", "events_2024", true, true), sub], &[]);
        let w = warnings(&t, &sn);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].contains("the partition \"public\".\"events_2024_sub\", a partition of \"public\".\"events_2024\", that")
                && w[0].contains("no row security of its own"),
            "{w:?}"
        );
    }

    /// The review of the stop 48 change, L2: the roles holding privileges on an undeclared child
    /// of a table with row security are named, whatever the child's own row security; a child of
    /// a table without row security has nothing to read around.
    #[test]
    fn the_roles_holding_privileges_on_a_child_are_named() {
        let with = |rls: bool| ChildTable {
            grantees: vec![Some("PUBLIC".into()), Some("anon".into()), None],
            ..child("public", "events_x", rls, true)
        };
        let named =
            "privileges on \"public\".\"events_x\" itself are held by \"PUBLIC\", \"anon\", PUBLIC";
        for rls in [false, true] {
            let w = warnings(&table(true, &[]), &snapshot(vec![with(rls)], &[]));
            assert!(w[0].contains(named), "tenant table, child rls {rls}: {w:?}");
        }
        let mut shared = table(false, &[]);
        shared.rls = true;
        let w = warnings(&shared, &snapshot(vec![with(false)], &[]));
        assert!(
            w[0].contains(named)
                && w[0].contains("its rows are not under \"public\".\"events\"'s policies"),
            "{w:?}"
        );
        shared.rls = false;
        let w = warnings(&shared, &snapshot(vec![with(false)], &[]));
        assert!(!w[0].contains("are held by"), "{w:?}");
        let w = warnings(
            &table(true, &[]),
            &snapshot(vec![child("public", "events_x", false, true)], &[]),
        );
        assert!(
            !w[0].contains("are held by"),
            "no grantee, none named: {w:?}"
        );
    }

    /// The review of 419eb1a, 1, and of 2e63b4d, 2: revos's trigger off on an undeclared child is
    /// named — unless this plan enables it on the table, which reaches the child too.
    #[test]
    fn revos_trigger_off_on_a_child_is_named_unless_the_plan_enables_it() {
        let t = table(false, &[]);
        let name = Table::trigger_name().as_str().to_string();
        let def = format!("CREATE TRIGGER {name} BEFORE UPDATE ON <table> FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at()");
        let mut sn = snapshot(vec![child("public", "events_x", false, true)], &[]);
        sn.triggers = vec![name.clone()];
        sn.trigger_defs = [(name.clone(), def.clone())].into();
        sn.partition_triggers = vec![crate::schema::model::PartitionTriggerState {
            schema: "public".into(),
            partition: "events_x".into(),
            trigger: name.clone(),
            enabled: 'D',
            clone: name.clone(),
            level: 1,
            parent: ("public".into(), "events".into()),
        }];
        let w = warnings(&t, &sn);
        assert!(w[0].contains("trigger does not fire there"), "{w:?}");
        sn.trigger_defs = [(name.clone(), format!("{def} -- DISABLED"))].into();
        let w = warnings(&t, &sn);
        assert!(
            !w[0].contains("does not fire"),
            "enabled on the table: {w:?}"
        );
    }

    #[test]
    fn rules_are_named() {
        let t = table(false, &[]);
        let sn = snapshot(vec![], &["redirect"]);
        let w = warnings(&t, &sn);
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("the rule \"redirect\""), "{w:?}");
    }
}
