//! Stage 4b — `distribute`: the same schema placed on a Citus cluster (contract §13). Pure.
//!
//! ```text
//! validate ─> distribute::prepare (mode from options.distribute + the Citus state of the catalog;
//!                                  tenant primary keys lead with the tenant column; what Citus
//!                                  would refuse is reported as `not_distributable`)
//!          ─> plan ─> distribute::add_steps (settings first; create_reference_table, then
//!                                            create_distributed_table after the tables, indexes,
//!                                            triggers, RLS and policies, before the foreign keys)
//!          ─> apply ─> verify + distribute::verify_placement (metadata, in the same transaction)
//! ```
//!
//! Every tenant table is distributed by the tenant column, all of them in one co-location group
//! (so tenant foreign keys `(tenant, col) → (tenant, id)` and joins stay on one worker); every
//! non-tenant table becomes a reference table (a copy on every node, so any table may reference it).
//! The tables are distributed while still empty, with their keys, indexes, trigger, RLS and policy
//! (each shard is created with all of them), and before the foreign keys (which need both ends
//! distributed; Citus propagates them to every shard), in the same transaction.

use std::collections::{BTreeMap, HashMap};

use crate::error::{code, Issue};
use crate::ident::{quote_literal, Name};
use crate::schema::catalog::CatalogState;
use crate::schema::model::{Distribute, FkAction, Schema, Table};
use crate::schema::steps::{Plan, Step};

/// How a table is placed on Citus (`pg_dist_partition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Hash-distributed by `column`, in co-location group `colocation`.
    Distributed {
        column: String,
        colocation: u32,
    },
    Reference,
    /// A Citus local table (or any other kind revos does not create).
    Other,
}

/// What the catalog says about Citus: read by `citus::metadata::citus_state`.
#[derive(Debug, Clone, Default)]
pub struct CitusState {
    /// The `citus` extension is installed in this database.
    pub installed: bool,
    /// This node is the coordinator (DDL and distribution happen here).
    pub coordinator: bool,
    /// Active primary worker nodes (the coordinator's group excluded).
    pub workers: usize,
    /// Citus tables by (schema, table).
    pub tables: HashMap<(String, String), Placement>,
}

impl CitusState {
    pub fn placement(&self, schema: &Name, table: &Name) -> Option<&Placement> {
        self.tables
            .get(&(schema.as_str().to_string(), table.as_str().to_string()))
    }
    /// A cluster to distribute on: Citus, on its coordinator, with workers.
    pub fn usable(&self) -> bool {
        self.installed && self.coordinator && self.workers > 0
    }
}

/// Decides the mode (sets `options.citus`) and makes the schema one Citus accepts: the primary
/// key of a tenant table leads with the tenant column, and so do its unique indexes. Returns what
/// Citus would refuse (issues) and what was adapted (warnings).
pub fn prepare(s: &mut Schema, st: &CatalogState, citus: &CitusState) -> (Vec<Issue>, Vec<String>) {
    let mut issues = vec![];
    let mut warnings = vec![];
    s.options.citus = match s.options.distribute {
        Distribute::Off => false,
        Distribute::Auto => citus.usable(),
        Distribute::On => {
            if !citus.usable() {
                let why = if !citus.installed {
                    "this database has no citus extension"
                } else if !citus.coordinator {
                    "this node is not the Citus coordinator"
                } else {
                    "the Citus coordinator has no active worker nodes (citus_add_node)"
                };
                issues.push(Issue::new(
                    "options.distribute",
                    code::NOT_DISTRIBUTABLE,
                    format!("distribute is true but {why}"),
                ));
            }
            citus.usable()
        }
    };
    if !s.options.citus {
        return (issues, warnings);
    }
    let tenant = s.options.tenant_column.clone();
    let tenant_tables: HashMap<(String, String), bool> = s
        .tables
        .iter()
        .map(|t| (t.key(), t.tenant_scoped))
        .collect();
    for t in s.tables.iter_mut() {
        let exists = st.table(&t.schema, &t.name).is_some();
        let placement = citus.placement(&t.schema, &t.name);
        if exists {
            let ok = match (t.tenant_scoped, placement) {
                (true, Some(Placement::Distributed { column, .. })) => column == tenant.as_str(),
                (false, Some(Placement::Reference)) => true,
                _ => false,
            };
            if !ok {
                let want = if t.tenant_scoped {
                    format!("distributed by {}", tenant.as_str())
                } else {
                    "a reference table".to_string()
                };
                issues.push(Issue::new(
                    t.path.clone(),
                    code::NOT_DISTRIBUTABLE,
                    format!(
                        "{} exists and is not {want}; distribute it first (create_distributed_table / \
                         create_reference_table) or set options.distribute to false",
                        t.qualified()
                    ),
                ));
            }
        }
        if t.tenant_scoped {
            if !t.primary_key.is_empty() && !t.primary_key.contains(&tenant) {
                t.primary_key.insert(0, tenant.clone());
            }
            // A unique index is enforced per shard: on a tenant table it is per tenant, as
            // `unique` columns already are (README: unique on a tenant-scoped table).
            let q = t.qualified();
            for x in t.indexes.iter_mut().filter(|x| x.unique) {
                if !x.columns.contains(&tenant) {
                    x.columns.insert(0, tenant.clone());
                    warnings.push(format!(
                        "unique index {} on {q} is per tenant on Citus: ({})",
                        x.name.as_str(),
                        x.columns
                            .iter()
                            .map(Name::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        // Citus refuses, on a key that includes the distribution column, ON DELETE SET NULL /
        // SET DEFAULT and ON UPDATE SET NULL / SET DEFAULT / CASCADE (they could change the
        // tenant column): such a tenant key is NO ACTION on Citus, and the envelope says so.
        let q = t.qualified();
        for fk in t.foreign_keys.iter_mut().filter(|f| f.tenant_bound) {
            let del = matches!(fk.on_delete, Some(FkAction::SetNull | FkAction::SetDefault));
            let upd = matches!(
                fk.on_update,
                Some(FkAction::SetNull | FkAction::SetDefault | FkAction::Cascade)
            );
            for (on, action) in [
                ("DELETE", del.then_some(fk.on_delete)),
                ("UPDATE", upd.then_some(fk.on_update)),
            ] {
                if let Some(Some(a)) = action {
                    warnings.push(format!(
                        "foreign key {} on {q}: ON {on} {} is not supported by Citus on a key that \
                         includes the distribution column; it is NO ACTION on this cluster",
                        fk.name.as_str(),
                        a.sql()
                    ));
                }
            }
            if del {
                fk.on_delete = None;
            }
            if upd {
                fk.on_update = None;
            }
        }
        for fk in &t.foreign_keys {
            let key = (
                fk.target_schema.as_str().to_string(),
                fk.target_table.as_str().to_string(),
            );
            let target_tenant = match tenant_tables.get(&key) {
                Some(scoped) => Some(*scoped),
                None => match citus.tables.get(&key) {
                    Some(Placement::Distributed { .. }) => Some(true),
                    Some(Placement::Reference) => Some(false),
                    _ => None,
                },
            };
            let problem = match target_tenant {
                None => Some(
                    "is a local table; on Citus a table may reference only reference tables and \
                     co-located distributed tables",
                ),
                Some(true) if !t.tenant_scoped => Some(
                    "is distributed by tenant; a table without a tenant (a reference table) cannot \
                     reference it on Citus",
                ),
                Some(true) if !fk.tenant_bound => Some(
                    "is distributed by tenant, and this key does not include the tenant column",
                ),
                _ => None,
            };
            if let Some(p) = problem {
                issues.push(Issue::new(
                    fk.path.clone(),
                    code::NOT_DISTRIBUTABLE,
                    format!(
                        "{} references {}.{}, which {p}",
                        t.qualified(),
                        fk.target_schema,
                        fk.target_table
                    ),
                ));
            }
        }
    }
    (issues, warnings)
}

/// The Citus settings the distribution steps need, each set for this transaction only.
fn setting(name: &str, value: &str) -> Step {
    Step::new(
        "citus_setting",
        name.to_string(),
        format!(
            "SELECT pg_catalog.set_config({}, {}, true)",
            quote_literal(name),
            quote_literal(value)
        ),
    )
}

/// Adds the distribution steps to the plan: the settings first; `create_reference_table` for the
/// new non-tenant tables, then `create_distributed_table` for the new tenant tables, after every
/// other step but the foreign keys (the tables are still empty).
pub fn add_steps(p: &mut Plan, s: &Schema, st: &CatalogState, citus: &CitusState) {
    if !s.options.citus {
        return;
    }
    let new: Vec<&Table> = s
        .tables
        .iter()
        .filter(|t| st.table(&t.schema, &t.name).is_none())
        .collect();
    let mut place: Vec<Step> = vec![];
    for t in new.iter().filter(|t| !t.tenant_scoped) {
        place.push(Step::new(
            "reference_table",
            t.qualified(),
            format!(
                "SELECT pg_catalog.create_reference_table({})",
                quote_literal(&t.qualified())
            ),
        ));
    }
    // One co-location group: with a tenant table of this schema that is already distributed, else
    // Citus's default group for the tenant type (the first new table), and the first new one.
    let mut anchor: Option<String> = s
        .tables
        .iter()
        .filter(|t| t.tenant_scoped && st.table(&t.schema, &t.name).is_some())
        .find(|t| {
            matches!(citus.placement(&t.schema, &t.name), Some(Placement::Distributed { column, .. })
                if column == s.options.tenant_column.as_str())
        })
        .map(Table::qualified);
    for t in new.iter().filter(|t| t.tenant_scoped) {
        let with = anchor.clone().unwrap_or_else(|| "default".to_string());
        place.push(Step::new(
            "distributed_table",
            t.qualified(),
            format!(
                "SELECT pg_catalog.create_distributed_table({}, {}, colocate_with => {})",
                quote_literal(&t.qualified()),
                quote_literal(s.options.tenant_column.as_str()),
                quote_literal(&with)
            ),
        ));
        anchor.get_or_insert_with(|| t.qualified());
    }
    let mut settings = vec![];
    if !p.steps.is_empty() {
        // One connection per worker for the whole apply: DDL on a table created and distributed
        // in the same transaction, foreign keys to reference tables and triggers all follow it.
        settings.push(setting("citus.multi_shard_modify_mode", "sequential"));
    }
    if p.steps.iter().any(|x| x.kind == "trigger") {
        // The updated_at trigger only sets NEW.updated_at on the row's own shard.
        settings.push(setting("citus.enable_unsafe_triggers", "on"));
    }
    // Distributed after everything but the foreign keys: create_distributed_table then creates each
    // shard with all its indexes, trigger, RLS and policy in one go (one round trip per shard instead of
    // one per statement and shard); the foreign keys need both ends distributed, so they come last and
    // Citus propagates them.
    let (fks, rest): (Vec<Step>, Vec<Step>) = std::mem::take(&mut p.steps)
        .into_iter()
        .partition(|x| x.kind == "foreign_key");
    p.steps = settings;
    p.steps.extend(rest);
    p.steps.extend(place);
    p.steps.extend(fks);
}

/// After the DDL, in the same transaction: every tenant table is distributed by the tenant
/// column, all in one co-location group, every other table is a reference table.
pub fn verify_placement(s: &Schema, citus: &CitusState) -> (usize, Vec<String>) {
    let mut mismatches = vec![];
    let mut groups: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for t in &s.tables {
        match (t.tenant_scoped, citus.placement(&t.schema, &t.name)) {
            (true, Some(Placement::Distributed { column, colocation }))
                if column == s.options.tenant_column.as_str() =>
            {
                groups.entry(*colocation).or_default().push(t.qualified());
            }
            (false, Some(Placement::Reference)) => {}
            (true, got) => mismatches.push(format!(
                "{} is {got:?} on Citus, not distributed by {}",
                t.qualified(),
                s.options.tenant_column.as_str()
            )),
            (false, got) => mismatches.push(format!(
                "{} is {got:?} on Citus, not a reference table",
                t.qualified()
            )),
        }
    }
    if groups.len() > 1 {
        mismatches.push(format!(
            "the tenant tables are in {} co-location groups, not one: {groups:?}",
            groups.len()
        ));
    }
    (s.tables.len(), mismatches)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::plan::plan;
    use crate::schema::tenancy::citus_tenant_predicate;
    use crate::schema::validate::tests::{run, MemCatalog};
    use serde_json::json;

    fn cluster() -> CitusState {
        CitusState {
            installed: true,
            coordinator: true,
            workers: 2,
            tables: HashMap::new(),
        }
    }

    /// erp-agent's shapes: two schemas, a non-tenant table referenced by a tenant table, tenant
    /// foreign keys both ways (a cycle), caller uniques.
    fn erp() -> serde_json::Value {
        json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "facts", "schema": "agent", "columns": [
                {"name": "event_id", "type": "uuid", "references": {"table": "agent.events", "on_delete": "set null"}},
                {"name": "code", "type": "text", "unique": true}]},
            {"name": "events", "schema": "agent", "columns": [{"name": "fact_id", "type": "uuid", "references": "agent.facts"}]},
            {"name": "tools", "schema": "agent", "tenant_scoped": false, "columns": [{"name": "label", "type": "text", "unique": true}]},
            {"name": "people", "schema": "erp", "columns": [{"name": "tool_id", "type": "uuid", "references": "agent.tools"}]}]})
    }

    fn planned(v: serde_json::Value, citus: &CitusState) -> (Schema, Plan, Vec<Issue>) {
        let cat = MemCatalog::default();
        let v = if v.get("payload").is_some() {
            v["payload"].clone()
        } else {
            v
        };
        let (mut s, st, issues) = run(v, &cat);
        assert!(issues.is_empty(), "{issues:?}");
        let (issues, warnings) = prepare(&mut s, &st, citus);
        let mut p = plan(&s, &st);
        p.warnings.extend(warnings);
        add_steps(&mut p, &s, &st, citus);
        (s, p, issues)
    }

    #[test]
    fn auto_distributes_only_on_a_coordinator_with_workers() {
        let v = json!({"schema_version": "1", "description": "d", "tables": [{"name": "t", "columns": []}]});
        for (st, want) in [
            (CitusState::default(), false),
            (
                CitusState {
                    workers: 0,
                    ..cluster()
                },
                false,
            ),
            (
                CitusState {
                    coordinator: false,
                    ..cluster()
                },
                false,
            ),
            (cluster(), true),
        ] {
            let (s, p, issues) = planned(v.clone(), &st);
            assert!(issues.is_empty());
            assert_eq!(s.options.citus, want, "{st:?}");
            assert_eq!(p.steps.iter().any(|x| x.kind == "distributed_table"), want);
        }
        let mut off = v.clone();
        off["options"] = json!({"distribute": false});
        assert!(!planned(off, &cluster()).0.options.citus);
        let mut on = v.clone();
        on["options"] = json!({"distribute": true});
        let (_, _, issues) = planned(on, &CitusState::default());
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].code, code::NOT_DISTRIBUTABLE);
        assert_eq!(issues[0].path, "options.distribute");
    }

    #[test]
    fn erp_agent_is_distributed_in_one_group_with_reference_tables_first() {
        let (s, p, issues) = planned(erp(), &cluster());
        assert!(issues.is_empty(), "{issues:?}");
        let kinds: Vec<&str> = p.steps.iter().map(|x| x.kind).collect();
        assert_eq!(kinds[0], "citus_setting");
        // settings, then the tables with their indexes, triggers, RLS and policies, then the
        // placement (reference tables first), then the foreign keys
        let first_place = kinds
            .iter()
            .position(|k| *k == "reference_table" || *k == "distributed_table")
            .unwrap();
        let last_place = kinds
            .iter()
            .rposition(|k| *k == "reference_table" || *k == "distributed_table")
            .unwrap();
        for (i, k) in kinds.iter().enumerate() {
            let want_before =
                !matches!(*k, "reference_table" | "distributed_table" | "foreign_key");
            assert_eq!(i < first_place, want_before, "{i} {k}: {kinds:?}");
        }
        assert!(
            kinds[last_place + 1..].iter().all(|k| *k == "foreign_key"),
            "{kinds:?}"
        );
        assert!(kinds.contains(&"foreign_key") && kinds.contains(&"policy"));
        if let Some(last_ref) = kinds.iter().rposition(|k| *k == "reference_table") {
            let first_dist = kinds
                .iter()
                .position(|k| *k == "distributed_table")
                .unwrap();
            assert!(last_ref < first_dist, "{kinds:?}");
        }
        let tenant_tables: Vec<&Table> = s.tables.iter().filter(|t| t.tenant_scoped).collect();
        let dist: Vec<&Step> = p
            .steps
            .iter()
            .filter(|x| x.kind == "distributed_table")
            .collect();
        assert_eq!(dist.len(), tenant_tables.len());
        let first = &tenant_tables[0];
        assert!(
            dist[0]
                .sql
                .ends_with("'tenant_id', colocate_with => 'default')"),
            "{}",
            dist[0].sql
        );
        let anchor = quote_literal(&first.qualified());
        for d in &dist[1..] {
            assert!(
                d.sql
                    .ends_with(&format!("'tenant_id', colocate_with => {anchor})")),
                "{}",
                d.sql
            );
        }
        let sql = p.script();
        assert!(
            sql.contains("set_config('citus.enable_unsafe_triggers', 'on', true)"),
            "{sql}"
        );
        // the bare policy form, and primary keys that lead with the tenant column
        assert!(
            !sql.contains("(SELECT (revos.current_tenant_id())"),
            "{sql}"
        );
        assert!(
            sql.contains(
                r#"USING ("tenant_id" OPERATOR(pg_catalog.=) (revos.current_tenant_id())::uuid)"#
            ),
            "{sql}"
        );
        for t in &tenant_tables {
            assert_eq!(t.primary_key[0].as_str(), "tenant_id", "{}", t.qualified());
            assert!(sql.contains(&format!(
                r#"CONSTRAINT "{}_pkey" PRIMARY KEY ("tenant_id", "id")"#,
                t.name.as_str()
            )));
        }
        // ON DELETE SET NULL is refused by Citus on a tenant key: NO ACTION, with a warning
        assert!(!sql.contains("SET NULL"), "{sql}");
        assert!(
            p.warnings.iter().any(|w| w.contains("ON DELETE SET NULL")),
            "{:?}",
            p.warnings
        );
        // the (tenant, id) key a tenant foreign key needs is the primary key itself now
        assert!(!sql.contains(r#"UNIQUE ("tenant_id", "id")"#), "{sql}");
    }

    #[test]
    fn single_node_plan_is_unchanged() {
        let (_, p_off, _) = planned(erp(), &CitusState::default());
        let cat = MemCatalog::default();
        let (s, st, _) = run(erp(), &cat);
        assert_eq!(p_off.script(), plan(&s, &st).script());
        assert!(p_off
            .script()
            .contains("(SELECT (revos.current_tenant_id())"));
    }

    #[test]
    fn what_citus_refuses_is_reported_before_anything_runs() {
        let v = json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "tenants_data", "columns": [{"name": "code", "type": "text"}],
             "indexes": [{"columns": ["code"], "unique": true}]},
            {"name": "lookup", "tenant_scoped": false, "columns": [
                {"name": "owner", "type": "uuid", "references": "tenants_data"}]}]});
        let (_, p, issues) = planned(v, &cluster());
        let paths: Vec<(&str, &str)> = issues.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert_eq!(
            paths,
            [("tables[1].columns[0].references", code::NOT_DISTRIBUTABLE)],
            "{issues:?}"
        );
        // a unique index of a tenant table becomes per tenant, and says so
        assert!(
            p.script().contains(r#"USING btree ("tenant_id", "code")"#),
            "{}",
            p.script()
        );
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    }

    #[test]
    fn existing_tables_are_altered_not_redistributed() {
        let mut cat = MemCatalog::default();
        let v = json!({"schema_version": "2", "description": "d", "tables": [{"name": "t", "columns": [
            {"name": "b", "type": "text"}]}]});
        let (s0, st0, _) = run(v.clone(), &cat);
        // the table as v1 left it: every column but b, its primary key (tenant_id, id)
        let t0 = &s0.tables[0];
        let pred = Some(format!("({})", citus_tenant_predicate(&s0.options)));
        let snap = crate::schema::model::TableSnapshot {
            columns: t0
                .columns
                .iter()
                .filter(|c| c.name.as_str() != "b")
                .map(|c| crate::schema::model::ColumnSnapshot {
                    name: c.name.as_str().into(),
                    sql_type: c.sql_type.clone().unwrap(),
                    not_null: c.not_null,
                    has_default: c.default.is_some(),
                    generated: false,
                    ..Default::default()
                })
                .collect(),
            indexes: t0
                .indexes
                .iter()
                .map(|x| crate::schema::model::IndexSnapshot {
                    name: x.name.as_str().into(),
                    unique: x.unique,
                    method: x.method.sql().into(),
                    columns: x.columns.iter().map(|c| c.as_str().to_string()).collect(),
                    partial: false,
                    ..Default::default()
                })
                .collect(),
            constraints: vec![crate::schema::model::ConstraintSnapshot {
                name: "t_pkey".into(),
                kind: 'p',
                columns: vec!["tenant_id".into(), "id".into()],
                ..Default::default()
            }],
            rls_enabled: true,
            rls_forced: true,
            policies: vec![crate::schema::model::PolicySnapshot {
                name: "revos_tenant_isolation".into(),
                command: '*',
                using: pred.clone(),
                with_check: pred,
                ..Default::default()
            }],
            triggers: vec!["revos_touch_updated_at".into()],
            ..Default::default()
        };
        let snap = crate::schema::catalog::testing::as_applied(snap);
        cat.tables.insert(("public".into(), "t".into()), snap);
        drop(st0);
        let (mut s, st, issues) = run(v, &cat);
        assert!(issues.is_empty(), "{issues:?}");
        let mut citus = cluster();
        // local: refused
        assert_eq!(prepare(&mut s.clone(), &st, &citus).0.len(), 1);
        citus.tables.insert(
            ("public".into(), "t".into()),
            Placement::Distributed {
                column: "tenant_id".into(),
                colocation: 3,
            },
        );
        assert!(prepare(&mut s, &st, &citus).0.is_empty());
        let mut p = plan(&s, &st);
        add_steps(&mut p, &s, &st, &citus);
        let kinds: Vec<&str> = p.steps.iter().map(|x| x.kind).collect();
        assert_eq!(kinds, ["citus_setting", "column"], "{}", p.script());
        assert_eq!(verify_placement(&s, &citus).1, Vec::<String>::new());
        citus
            .tables
            .insert(("public".into(), "t".into()), Placement::Reference);
        assert_eq!(verify_placement(&s, &citus).1.len(), 1);
    }
}
