//! Unit tests of the firing state of revos's `updated_at` trigger and of a declared trigger on a
//! table's declared partitions (`compare::touch_trigger`, `compare::touch_trigger_fix`, the
//! declared trigger's deparse): no server, a payload read and normalized as apply reads it.

use crate::schema::compare::{self, TouchFix, Verdict};
use crate::schema::model::{PartitionTriggerState, Schema, Table, TableSnapshot};
use crate::schema::objects::Kind;
use serde_json::json;

/// `logs` partitioned by kind with the declared partitions `logs_a` and `logs_b`, revos's trigger
/// and the declared trigger `logs_trg` on it.
pub(crate) fn logs() -> Schema {
    let payload = json!({"schema_version": "1", "description": "d",
        "functions": [{"name": "logs_touch", "returns": "trigger", "language": "plpgsql",
                       "body": "BEGIN RETURN NEW; END"}],
        "triggers": [{"name": "logs_trg", "table": "logs", "timing": "before", "events": ["insert"],
                      "function": "public.logs_touch"}],
        "tables": [{"name": "logs", "tenant_scoped": false, "primary_key": ["id", "kind"],
            "columns": [{"name": "kind", "type": "text", "not_null": true}],
            "partition_by": {"method": "list", "columns": ["kind"]},
            "partitions": [{"name": "logs_a", "values": "IN ('a')"}, {"name": "logs_b", "values": "IN ('b')"}]}]});
    let mut issues = vec![];
    let raw = crate::schema::spec::read_schema(&payload, &mut issues);
    let s = crate::schema::normalize::normalize(&raw, &mut issues);
    assert!(issues.is_empty(), "{issues:?}");
    s
}

/// The snapshot of `logs` with revos's trigger enabled on the table, and the clones `off` (schema,
/// partition, trigger, tgenabled) not firing.
fn snapshot(off: &[(&str, &str, &str, char)]) -> TableSnapshot {
    let name = Table::trigger_name();
    TableSnapshot {
        triggers: vec![name.as_str().into()],
        trigger_defs: [(
            name.as_str().to_string(),
            format!("CREATE TRIGGER {} BEFORE UPDATE ON <table> FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at()", name.as_str()),
        )]
        .into(),
        partition_triggers: off
            .iter()
            .map(|(s, p, t, e)| PartitionTriggerState {
                schema: s.to_string(),
                partition: p.to_string(),
                trigger: t.to_string(),
                enabled: *e,
                clone: t.to_string(),
                level: 1,
                parent: (s.to_string(), "logs".into()),
            })
            .collect(),
        ..Default::default()
    }
}

#[test]
fn the_declared_partitions_are_the_tables() {
    let s = logs();
    let names: Vec<&str> = s.tables[0].partitions.iter().map(|p| p.as_str()).collect();
    assert_eq!(names, ["logs_a", "logs_b"]);
}

#[test]
fn revos_trigger_off_on_a_declared_partition_differs_and_is_enabled_there() {
    let s = logs();
    let t = &s.tables[0];
    for state in ['D', 'R'] {
        let sn = snapshot(&[("public", "logs_b", "revos_touch_updated_at", state)]);
        assert_eq!(compare::touch_trigger(t, &sn), Verdict::Differs, "{state}");
        match compare::touch_trigger_fix(t, &sn) {
            TouchFix::EnableOn(parts) => {
                let names: Vec<&str> = parts.iter().map(|p| p.as_str()).collect();
                assert_eq!(names, ["logs_b"], "{state}");
            }
            other => panic!("{state}: {other:?}"),
        }
    }
}

#[test]
fn revos_trigger_enabled_everywhere_or_off_elsewhere_is_the_same() {
    let s = logs();
    let t = &s.tables[0];
    for off in [
        vec![],
        // ENABLE ALWAYS fires: the snapshot never reads it, and it would not count
        vec![("public", "logs_a", "revos_touch_updated_at", 'A')],
        // a partition the payload does not declare, or of that name in another schema
        vec![("public", "logs_by_hand", "revos_touch_updated_at", 'D')],
        vec![("other", "logs_a", "revos_touch_updated_at", 'D')],
        // another trigger's clone
        vec![("public", "logs_a", "logs_trg", 'D')],
    ] {
        assert_eq!(
            compare::touch_trigger(t, &snapshot(&off)),
            Verdict::Same,
            "{off:?}"
        );
    }
}

#[test]
fn revos_trigger_off_on_the_table_is_enabled_on_the_table() {
    let s = logs();
    let t = &s.tables[0];
    let mut sn = snapshot(&[("public", "logs_a", "revos_touch_updated_at", 'D')]);
    for d in sn.trigger_defs.values_mut() {
        d.push_str(" -- DISABLED");
    }
    assert_eq!(compare::touch_trigger(t, &sn), Verdict::Differs);
    // ALTER TABLE <table> ENABLE TRIGGER reaches every partition's clone (PostgreSQL 15 to 18)
    assert_eq!(compare::touch_trigger_fix(t, &sn), TouchFix::Enable);
    // not revos's (a WHEN clause): created again, which makes the clones again too
    for d in sn.trigger_defs.values_mut() {
        *d = d
            .replace(" -- DISABLED", "")
            .replace(" FOR EACH ROW", " FOR EACH ROW WHEN (false)");
    }
    assert_eq!(compare::touch_trigger_fix(t, &sn), TouchFix::Create);
}

#[test]
fn a_declared_trigger_reads_its_clones_on_the_declared_partitions() {
    let s = logs();
    let o = s.objects.iter().find(|o| o.kind == Kind::Trigger).unwrap();
    assert!(
        o.deparse
            .contains("p.tgenabled IN ('D', 'R') AND ((p.tgparentid = t.oid AND p.tgrelid = ANY"),
        "{}",
        o.deparse
    );
    assert!(
        o.deparse.contains(
            r#"ARRAY[pg_catalog.to_regclass('"public"."logs_a"'), pg_catalog.to_regclass('"public"."logs_b"')]"#
        ),
        "{}",
        o.deparse
    );
}
