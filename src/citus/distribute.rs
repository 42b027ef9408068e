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

use crate::citus::in_place;
use crate::error::{code, Issue};
use crate::ident::{quote_literal, Name};
use crate::schema::catalog::CatalogState;
use crate::schema::model::{Distribute, FkAction, Schema, Table};
use crate::schema::steps::{Plan, Step};

pub use crate::citus::state::{CitusState, Placement};

/// Why a tenancy mode cannot be placed on Citus (issue 25: neither is supported there yet): the
/// membership policy is a sub-select over another table, the claims policy a sub-select too (the
/// array cast once per statement), and Citus refuses a sub-select in a distributed table's policy.
fn tenancy_refused(t: &crate::schema::model::Tenancy) -> Option<&'static str> {
    use crate::schema::model::Tenancy;
    match t {
        Tenancy::Transaction => None,
        Tenancy::Membership(_) => Some(
            "the membership tenancy mode is not supported on Citus (its policy reads the membership table in a sub-select, which Citus refuses in a distributed table's policy); set \"distribute\": false to apply it on this node alone",
        ),
        Tenancy::Claims => Some(
            "the claims tenancy mode is not supported on Citus (its policy compares with revos.current_tenant_ids() in a sub-select, which Citus refuses in a distributed table's policy, and Citus routes a query by one tenant); set \"distribute\": false to apply it on this node alone",
        ),
    }
}

/// Decides the mode (sets `options.citus`) and makes the schema one Citus accepts: the primary
/// key of a tenant table leads with the tenant column, and so do its unique indexes. Returns what
/// Citus would refuse (issues) and what was adapted (warnings).
pub fn prepare(s: &mut Schema, st: &CatalogState, citus: &CitusState) -> (Vec<Issue>, Vec<String>) {
    let mut issues = vec![];
    let mut warnings = vec![];
    s.options.citus = mode(s.options.distribute, citus, &mut issues);
    if !s.options.citus {
        return (issues, warnings);
    }
    if let Some(why) = tenancy_refused(&s.options.tenancy) {
        issues.push(Issue::new("options.tenancy", code::NOT_DISTRIBUTABLE, why));
        return (issues, warnings);
    }
    let tenant = s.options.tenant_column.clone();
    let tenant_tables: HashMap<(String, String), bool> = s
        .tables
        .iter()
        .map(|t| (t.key(), t.tenant_scoped))
        .collect();
    for t in s.tables.iter_mut() {
        if let Some(why) = existing_refused(t, st, citus, tenant.as_str()) {
            issues.push(Issue::new(t.path.clone(), code::NOT_DISTRIBUTABLE, why));
        }
        if t.tenant_scoped {
            lead_with_tenant(t, &tenant, &mut warnings);
        }
        warnings.extend(no_action_on_citus(t));
        for fk in &t.foreign_keys {
            if let Some(p) = foreign_key_refused(t, fk, &tenant_tables, citus) {
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

/// Whether the schema is placed on Citus (`options.citus`) under its `distribute` mode; "true"
/// where Citus is not usable is an issue that says why.
fn mode(distribute: Distribute, citus: &CitusState, issues: &mut Vec<Issue>) -> bool {
    match distribute {
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
    }
}

/// A tenant table's primary key and unique indexes lead with the tenant column; each unique index
/// so widened is a warning.
fn lead_with_tenant(t: &mut Table, tenant: &Name, warnings: &mut Vec<String>) {
    if !t.primary_key.is_empty() && !t.primary_key.contains(tenant) {
        t.primary_key.insert(0, tenant.clone());
    }
    // A unique index is enforced per shard: on a tenant table it is per tenant, as
    // `unique` columns already are (README: unique on a tenant-scoped table).
    let q = t.qualified();
    for x in t.indexes.iter_mut().filter(|x| x.unique) {
        if !x.columns.contains(tenant) {
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

/// Why Citus would refuse foreign key `fk` of table `t` (what its target "is"), if it would: the
/// target's placement comes from the schema (`tenant_tables`: scoped or not), else from Citus.
fn foreign_key_refused(
    t: &Table,
    fk: &crate::schema::model::ForeignKey,
    tenant_tables: &HashMap<(String, String), bool>,
    citus: &CitusState,
) -> Option<&'static str> {
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
    match target_tenant {
        None => Some(
            "is a local table; on Citus a table may reference only reference tables and \
             co-located distributed tables",
        ),
        Some(true) if !t.tenant_scoped => Some(
            "is distributed by tenant; a table without a tenant (a reference table) cannot \
             reference it on Citus",
        ),
        Some(true) if !fk.tenant_bound => {
            Some("is distributed by tenant, and this key does not include the tenant column")
        }
        _ => None,
    }
}

/// Why an existing table of the payload cannot be placed as the schema wants: placed otherwise
/// by Citus (distributed by another column, a reference table where a tenant table is declared, a
/// Citus local table), or a local table that is not revos's yet. A local revos table is fine: it
/// is distributed in place (`in_place`).
fn existing_refused(
    t: &Table,
    st: &CatalogState,
    citus: &CitusState,
    tenant: &str,
) -> Option<String> {
    let sn = st.table(&t.schema, &t.name)?;
    let placement = citus.placement(&t.schema, &t.name);
    let ok = match (t.tenant_scoped, placement) {
        (_, None) => return in_place::refusal(t, sn, tenant),
        (true, Some(Placement::Distributed { column, .. })) => column == tenant,
        (false, Some(Placement::Reference)) => true,
        _ => false,
    };
    let want = if t.tenant_scoped {
        format!("distributed by {tenant}")
    } else {
        "a reference table".to_string()
    };
    (!ok).then(|| {
        format!(
            "{} exists and is placed by Citus otherwise ({placement:?}), not {want}: change its \
             placement with Citus first (undistribute_table, then apply again) or set \
             options.distribute to false",
            t.qualified()
        )
    })
}

/// What a tenant key's referential action does that Citus refuses (ON DELETE SET NULL / SET
/// DEFAULT, ON UPDATE SET NULL / SET DEFAULT / CASCADE on a key that includes the distribution
/// column, even in the column-list form: they could change the tenant column), and what the user
/// loses when it is NO ACTION instead. Decided: NO ACTION with this warning. A trigger emulating
/// SET NULL would have to update another table's co-located shard from a trigger on a shard, past
/// Citus's executor — not done.
fn loss(fk: &crate::schema::model::ForeignKey, on_delete: bool, a: FkAction, q: &str) -> String {
    let target = format!("{}.{}", fk.target_schema, fk.target_table);
    let col = fk.column.as_str();
    let instead = match (on_delete, a) {
        (_, FkAction::SetNull) => format!("setting {q}.{col} to NULL"),
        (_, FkAction::SetDefault) => format!("setting {q}.{col} to its default"),
        _ => format!("changing {q}.{col} with it"),
    };
    let (what, fix) = if on_delete {
        (
            format!("deleting a row of {target}"),
            format!("set {col} to NULL (or another row) on those rows first"),
        )
    } else {
        (
            format!("changing {target}.{} of a row", fk.target_column),
            format!("change {col} on those rows first"),
        )
    };
    format!(
        "foreign key {} on {q} ({col}): ON {} {} is not supported by Citus on a key that includes \
         the distribution column, so it is NO ACTION on this cluster: {what} that rows of {q} \
         still reference fails with foreign_key_violation (SQLSTATE 23503) instead of {instead}; \
         {fix}",
        fk.name.as_str(),
        if on_delete { "DELETE" } else { "UPDATE" },
        a.sql()
    )
}

/// Makes each tenant key's actions ones Citus accepts (NO ACTION for what it refuses) and says,
/// for each, what the user loses.
fn no_action_on_citus(t: &mut Table) -> Vec<String> {
    let q = t.qualified();
    let mut warnings = vec![];
    for fk in t.foreign_keys.iter_mut().filter(|f| f.tenant_bound) {
        if let Some(a @ (FkAction::SetNull | FkAction::SetDefault)) = fk.on_delete {
            warnings.push(loss(fk, true, a, &q));
            fk.on_delete = None;
        }
        if let Some(a @ (FkAction::SetNull | FkAction::SetDefault | FkAction::Cascade)) =
            fk.on_update
        {
            warnings.push(loss(fk, false, a, &q));
            fk.on_update = None;
        }
    }
    warnings
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
/// other step but the foreign keys (the tables are still empty); the tables that exist on one node
/// are distributed in place with their rows (`in_place`). On a Citus coordinator every plan runs
/// with `citus.enable_ddl_propagation` on, whatever the caller's session set (issue 19): with it
/// off, the shards of an existing distributed table would miss the change while the apply answers
/// `applied`.
pub fn add_steps(p: &mut Plan, s: &Schema, st: &CatalogState, citus: &CitusState) {
    if s.options.citus {
        place(p, s, st, citus);
    }
    if citus.installed && citus.coordinator && !p.steps.is_empty() {
        p.steps
            .insert(0, setting("citus.enable_ddl_propagation", "on"));
    }
}

/// A new (empty) table's placement: no rows to copy, no cost stated (as before).
fn new_placement(t: &Table, tenant: &str, anchor: &str) -> Step {
    in_place::placement_step(t, tenant, anchor, crate::schema::steps::Cost::NONE, None)
}

fn place(p: &mut Plan, s: &Schema, st: &CatalogState, citus: &CitusState) {
    let tenant = s.options.tenant_column.as_str();
    let new: Vec<&Table> = s
        .tables
        .iter()
        .filter(|t| st.table(&t.schema, &t.name).is_none())
        .collect();
    // One co-location group: with a tenant table of this schema that is already distributed, else
    // Citus's default group for the tenant type (the first new table), and the first new one.
    let mut anchor: Option<String> = s
        .tables
        .iter()
        .filter(|t| t.tenant_scoped && st.table(&t.schema, &t.name).is_some())
        .find(|t| {
            matches!(citus.placement(&t.schema, &t.name), Some(Placement::Distributed { column, .. })
                if column == tenant)
        })
        .map(Table::qualified);
    let mut reference: Vec<Step> = new
        .iter()
        .filter(|t| !t.tenant_scoped)
        .map(|t| new_placement(t, tenant, ""))
        .collect();
    let mut distributed = vec![];
    for t in new.iter().filter(|t| t.tenant_scoped) {
        let with = anchor.clone().unwrap_or_else(|| "default".to_string());
        distributed.push(new_placement(t, tenant, &with));
        anchor.get_or_insert_with(|| t.qualified());
    }
    let mut moving = in_place::steps(p, s, st, citus, &mut anchor);
    reference.extend(std::mem::take(&mut moving.reference));
    distributed.extend(std::mem::take(&mut moving.distributed));
    let mut settings = vec![];
    if !p.steps.is_empty() || !moving.before.is_empty() {
        // One connection per worker for the whole apply: DDL on a table created and distributed
        // in the same transaction, foreign keys to reference tables and triggers all follow it.
        settings.push(setting("citus.multi_shard_modify_mode", "sequential"));
    }
    if moving.has_triggers || p.steps.iter().any(|x| x.kind == "trigger") {
        // The updated_at trigger only sets NEW.updated_at on the row's own shard.
        settings.push(setting("citus.enable_unsafe_triggers", "on"));
    }
    // Distributed after everything but the foreign keys: create_distributed_table then creates each
    // shard with all its indexes, trigger, RLS and policy in one go (one round trip per shard instead of
    // one per statement and shard); the foreign keys need both ends distributed, so they come last and
    // Citus propagates them.
    let (fks, rest): (Vec<Step>, Vec<Step>) = std::mem::take(&mut p.steps)
        .into_iter()
        .filter(|x| !moving.supersedes(x))
        .partition(|x| x.kind == "foreign_key");
    p.steps = settings;
    p.steps.extend(std::mem::take(&mut moving.before));
    p.steps.extend(rest);
    p.steps.extend(reference);
    p.steps.extend(distributed);
    p.steps.extend(std::mem::take(&mut moving.after));
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
            ..Default::default()
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

    /// A payload whose tenancy mode Citus cannot take: on a cluster, `not_distributable` at
    /// options.tenancy and nothing else; with distribute false, or without Citus, it plans.
    fn refused_on_citus_only(v: serde_json::Value) {
        let (_, _, issues) = planned(v.clone(), &cluster());
        let got: Vec<_> = issues.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert_eq!(got, [("options.tenancy", code::NOT_DISTRIBUTABLE)]);
        let mut off = v.clone();
        off["options"]["distribute"] = json!(false);
        let (s, _, issues) = planned(off, &cluster());
        assert!(issues.is_empty() && !s.options.citus, "{issues:?}");
        assert!(planned(v, &CitusState::default()).2.is_empty());
    }

    /// Issue 25: the membership tenancy mode is refused on a Citus cluster (its policy reads the
    /// membership table in a sub-select), at options.tenancy; with distribute false it plans.
    #[test]
    fn the_membership_mode_is_not_distributable() {
        let v = json!({"schema_version": "1", "description": "d",
            "options": {"tenancy": {"mode": "membership", "table": "members", "tenant_column": "tenant_id"}},
            "tables": [{"name": "members", "tenant_scoped": false, "primary_key": ["user_id", "tenant_id"],
                        "columns": [{"name": "user_id", "type": "uuid"}, {"name": "tenant_id", "type": "uuid"}]},
                       {"name": "t", "columns": []}]});
        refused_on_citus_only(v);
    }

    /// Issue 25: the claims tenancy mode is refused on a Citus cluster too, at options.tenancy;
    /// with distribute false, or without Citus, it plans.
    #[test]
    fn the_claims_mode_is_not_distributable() {
        let v = json!({"schema_version": "1", "description": "d",
            "options": {"tenancy": {"mode": "claims"}},
            "tables": [{"name": "t", "columns": []}]});
        refused_on_citus_only(v);
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
        // and the index that did not say its unique_scope is named (issue 25): the Citus note
        // after it says what Citus makes of it
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(p.warnings[0].starts_with("tables[0].indexes[0].unique:"));
        assert!(p.warnings[1].contains("is per tenant on Citus"));
    }

    /// A table as revos left it on one node (or on Citus): its columns but `skip`, the tenant
    /// policy in `policy` form, the updated_at trigger, primary key `t_pkey` on `pk`, and the
    /// declared foreign keys.
    fn snapshot(
        t: &Table,
        skip: &str,
        policy: Option<String>,
        pk: &[&str],
    ) -> crate::schema::model::TableSnapshot {
        use crate::schema::model::*;
        let mut constraints = vec![ConstraintSnapshot {
            name: format!("{}_pkey", t.name.as_str()),
            kind: 'p',
            ..Default::default()
        }];
        constraints.extend(t.foreign_keys.iter().map(|f| ConstraintSnapshot {
            name: f.name.as_str().into(),
            kind: 'f',
            ..Default::default()
        }));
        let mut indexes: Vec<IndexSnapshot> = t
            .indexes
            .iter()
            .map(|x| IndexSnapshot {
                name: x.name.as_str().into(),
                unique: x.unique,
                method: x.method.sql().into(),
                columns: x.columns.iter().map(|c| c.as_str().to_string()).collect(),
                ..Default::default()
            })
            .collect();
        indexes.push(IndexSnapshot {
            name: format!("{}_pkey", t.name.as_str()),
            unique: true,
            method: "btree".into(),
            columns: pk.iter().map(|c| c.to_string()).collect(),
            constraint: true,
            ..Default::default()
        });
        let sn = TableSnapshot {
            columns: t
                .columns
                .iter()
                .filter(|c| c.name.as_str() != skip)
                .map(|c| ColumnSnapshot {
                    name: c.name.as_str().into(),
                    sql_type: c.sql_type.clone().unwrap(),
                    not_null: c.not_null,
                    has_default: c.default.is_some(),
                    ..Default::default()
                })
                .collect(),
            indexes,
            constraints,
            rls_enabled: policy.is_some(),
            rls_forced: policy.is_some(),
            policies: policy
                .map(|pred| PolicySnapshot {
                    name: "revos_tenant_isolation".into(),
                    command: '*',
                    using: Some(pred.clone()),
                    with_check: Some(pred),
                    permissive: true,
                    roles: vec!["public".into()],
                })
                .into_iter()
                .collect(),
            triggers: if t.tenant_scoped {
                vec!["revos_touch_updated_at".into()]
            } else {
                vec![]
            },
            has_rows: true,
            est_rows: Some(10),
            ..Default::default()
        };
        crate::schema::catalog::testing::as_applied(sn)
    }

    #[test]
    fn existing_tables_are_altered_not_redistributed() {
        let mut cat = MemCatalog::default();
        let v = json!({"schema_version": "2", "description": "d", "tables": [{"name": "t", "columns": [
            {"name": "b", "type": "text"}]}]});
        let (s0, _, _) = run(v.clone(), &cat);
        // the table as v1 left it on Citus: every column but b, its primary key (tenant_id, id)
        let pred = Some(format!("({})", citus_tenant_predicate(&s0.options)));
        let snap = snapshot(&s0.tables[0], "b", pred, &["tenant_id", "id"]);
        cat.tables.insert(("public".into(), "t".into()), snap);
        let (mut s, st, issues) = run(v, &cat);
        assert!(issues.is_empty(), "{issues:?}");
        let mut citus = cluster();
        // placed otherwise by Citus (a reference table where a tenant table is declared): refused
        citus
            .tables
            .insert(("public".into(), "t".into()), Placement::Reference);
        let refused = prepare(&mut s.clone(), &st, &citus).0;
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert!(refused[0].message.contains("placed by Citus otherwise"));
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
        assert_eq!(
            kinds,
            ["citus_setting", "citus_setting", "column"],
            "{}",
            p.script()
        );
        // apply's DDL propagates whatever the caller's session set (issue 19), first of all
        assert_eq!(
            p.steps[0].sql,
            "SELECT pg_catalog.set_config('citus.enable_ddl_propagation', 'on', true)"
        );
        assert_eq!(verify_placement(&s, &citus).1, Vec::<String>::new());
        citus
            .tables
            .insert(("public".into(), "t".into()), Placement::Reference);
        assert_eq!(verify_placement(&s, &citus).1.len(), 1);
    }

    /// Tables revos made on one node (primary key (id), the policy with its sub-select, a tenant
    /// key ON DELETE SET NULL), with rows, on a Citus coordinator: distributed in place.
    fn one_node_tables(distribute: serde_json::Value) -> (Schema, CatalogState, CitusState) {
        one_node_tables_keyed(distribute, &["id"])
    }

    /// The same, the tenant table's primary key on `pk` in the database.
    fn one_node_tables_keyed(
        distribute: serde_json::Value,
        pk: &[&str],
    ) -> (Schema, CatalogState, CitusState) {
        let mut cat = MemCatalog::default();
        let v = json!({"schema_version": "2", "description": "d", "options": {"distribute": distribute},
            "tables": [
            {"name": "t", "columns": [{"name": "parent_id", "type": "uuid",
                "references": {"table": "t", "on_delete": "set null"}}]},
            {"name": "kinds", "tenant_scoped": false, "columns": [{"name": "label", "type": "text"}]}]});
        let (s0, _, _) = run(v.clone(), &cat);
        let one_node = Some(format!(
            "({})",
            crate::schema::tenancy::tenant_predicate(&s0.options)
        ));
        for t in &s0.tables {
            let policy = t.tenant_scoped.then(|| one_node.clone().unwrap());
            let key = if t.tenant_scoped { pk } else { &["id"][..] };
            cat.tables.insert(t.key(), snapshot(t, "", policy, key));
        }
        let (s, st, issues) = run(v, &cat);
        assert!(issues.is_empty(), "{issues:?}");
        let mut citus = cluster();
        citus.rows.insert(("public".into(), "t".into()), (10, true));
        citus
            .rows
            .insert(("public".into(), "kinds".into()), (3, true));
        (s, st, citus)
    }

    fn planned_in_place(distribute: serde_json::Value) -> Plan {
        planned_in_place_keyed(distribute, &["id"])
    }

    fn planned_in_place_keyed(distribute: serde_json::Value, pk: &[&str]) -> Plan {
        let (mut s, st, citus) = one_node_tables_keyed(distribute, pk);
        let (issues, warnings) = prepare(&mut s, &st, &citus);
        assert!(issues.is_empty(), "{issues:?}");
        let mut p = plan(&s, &st);
        p.warnings.extend(warnings);
        add_steps(&mut p, &s, &st, &citus);
        p
    }

    #[test]
    fn existing_local_tables_are_distributed_in_place() {
        let p = planned_in_place(json!("auto"));
        let kinds: Vec<&str> = p.steps.iter().map(|x| x.kind).collect();
        let at = |k: &str| {
            kinds
                .iter()
                .position(|x| *x == k)
                .unwrap_or_else(|| panic!("{k}: {kinds:?}"))
        };
        let last = |k: &str| kinds.iter().rposition(|x| *x == k).unwrap();
        // the foreign key dropped first, the primary key led by the tenant, the policy in Citus's
        // form, then the placement (reference first), the local copies removed, the key again
        let pk = kinds
            .iter()
            .zip(&p.steps)
            .position(|(k, x)| *k == "constraint" && x.sql.contains("PRIMARY KEY"))
            .unwrap_or_else(|| panic!("{kinds:?}"));
        assert!(at("in_place_drop_foreign_key") < pk, "{kinds:?}");
        assert!(pk < at("distributed_table"), "{kinds:?}");
        assert!(last("policy") < at("reference_table"), "{kinds:?}");
        assert!(at("reference_table") < at("distributed_table"), "{kinds:?}");
        assert!(
            at("distributed_table") < at("in_place_truncate_local"),
            "{kinds:?}"
        );
        assert!(
            last("in_place_truncate_local") < last("foreign_key"),
            "{kinds:?}"
        );
        assert_eq!(
            kinds.iter().filter(|k| **k == "foreign_key").count(),
            1,
            "{kinds:?}"
        );
        let sql = p.script();
        assert!(sql.contains(r#"ALTER TABLE "public"."t" DROP CONSTRAINT "t_pkey", ADD CONSTRAINT "t_pkey" PRIMARY KEY ("tenant_id", "id")"#), "{sql}");
        assert!(sql.contains("create_distributed_table('\"public\".\"t\"', 'tenant_id', colocate_with => 'default')"), "{sql}");
        assert!(
            sql.contains("create_reference_table('\"public\".\"kinds\"')"),
            "{sql}"
        );
        assert!(
            sql.contains("truncate_local_data_after_distributing_table('\"public\".\"t\"')"),
            "{sql}"
        );
        assert!(!sql.contains("SET NULL"), "{sql}");
        assert!(
            sql.contains("set_config('citus.enable_unsafe_triggers', 'on', true)"),
            "{sql}"
        );
        // what it costs: the rows, the locks; with "auto", the risk that gates it
        let d = p
            .steps
            .iter()
            .find(|x| x.kind == "distributed_table")
            .unwrap();
        assert_eq!(
            (d.est_rows, d.lock),
            (Some(10), Some(crate::schema::steps::Lock::Exclusive))
        );
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("copies 13 rows") && w.contains("ACCESS EXCLUSIVE")),
            "{:?}",
            p.warnings
        );
        use crate::error::RiskCode::{DistributeExisting, PrimaryKeyChange};
        let codes = |p: &Plan| p.risks.iter().map(|r| r.code).collect::<Vec<_>>();
        // the copy is distribute_existing; the key (id) -> (tenant_id, id) is the plan's own
        // primary_key_change, gated as every primary key change is (issue 19)
        assert_eq!(
            codes(&p),
            [PrimaryKeyChange, DistributeExisting],
            "{:?}",
            p.risks
        );
        let copy = &p.risks[1];
        assert_eq!((copy.rows, copy.rows_counted), (Some(13), Some(true)));
        assert!(
            p.risks[0].message.contains("distributing it in place"),
            "{}",
            p.risks[0].message
        );
        // "distribute": true asks for the copy: the same steps, the key change still gated
        let on = planned_in_place(json!(true));
        assert_eq!(on.script(), sql);
        assert_eq!(codes(&on), [PrimaryKeyChange], "{:?}", on.risks);
    }

    #[test]
    fn each_gate_of_distribution_in_place_alone() {
        use crate::error::RiskCode::DistributeExisting;
        // the key already led by the tenant column: only the copy is gated, and only with "auto"
        let auto = planned_in_place_keyed(json!("auto"), &["tenant_id", "id"]);
        let codes: Vec<_> = auto.risks.iter().map(|r| r.code).collect();
        assert_eq!(codes, [DistributeExisting], "{:?}", auto.risks);
        let on = planned_in_place_keyed(json!(true), &["tenant_id", "id"]);
        assert!(on.risks.is_empty(), "{:?}", on.risks);
        assert!(on.steps.iter().any(|x| x.kind == "distributed_table"));
    }

    #[test]
    fn a_table_that_is_not_revos_yet_goes_through_tenant_table_first() {
        let (mut s, mut st, citus) = one_node_tables(json!(true));
        st.tables
            .get_mut(&("public".into(), "t".into()))
            .unwrap()
            .policies
            .clear();
        let issues = prepare(&mut s, &st, &citus).0;
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].code, code::NOT_DISTRIBUTABLE);
        assert!(
            issues[0].message.contains("revos.tenant_table("),
            "{}",
            issues[0].message
        );
    }
}
