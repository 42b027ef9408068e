//! Distribution in place (contract §13, issue 22): revos tables that exist on one node, with their
//! rows, distributed by a later version. Pure: the steps and the risk; the rows are counted by
//! `citus::metadata::count_rows` before the plan is made.
//!
//! ```text
//! settings ─> drop the declared foreign keys that touch a moving table (Citus refuses to
//!             distribute a table a local table references, or that references one)
//!          ─> the tenant policy in Citus's form (no sub-select)
//!          ─> [plan's own steps: the primary key (id) → (tenant_id, id) — the plan's risk
//!             primary_key_change, gated as every primary key change is —, unique indexes per
//!             tenant, …]
//!          ─> create_reference_table / create_distributed_table: Citus copies the rows to the
//!             shards (one co-location group with the tenant tables already distributed)
//!          ─> truncate_local_data_after_distributing_table: the coordinator's copy, no longer
//!             read, is removed
//!          ─> the foreign keys again, with the actions Citus accepts
//! ```
//!
//! All in the apply's transaction: nothing is lost if any step fails (the transaction rolls
//! back, the tables stay local with their rows). What it costs is in the plan: each table's rows
//! (copied once), its ACCESS EXCLUSIVE lock held by the ALTER TABLE steps until the apply commits
//! (reads and writes of the table wait), and with `"distribute": "auto"` the risk
//! `distribute_existing` (blocked unless `allow_destructive`); `"distribute": true` asks for the
//! copy. A tenant table whose primary key changes for it is the risk `primary_key_change` in
//! either mode (issue 19's gate, never waived here).
//!
//! A tenant table that is not revos's yet (no tenant column or no tenant policy) is refused:
//! `revos.tenant_table()` makes it one first.

use std::collections::{HashMap, HashSet};

use crate::citus::state::CitusState;
use crate::error::RiskCode;
use crate::ident::quote_literal;
use crate::schema::catalog::CatalogState;
use crate::schema::model::{Distribute, Schema, Table, TableSnapshot};
use crate::schema::plan::{fk_sql, policy_sql};
use crate::schema::steps::{Cost, Lock, Plan, Step};

/// Why an existing table without a Citus placement cannot be distributed in place (None: it can).
pub fn refusal(t: &Table, sn: &TableSnapshot, tenant: &str) -> Option<String> {
    if !t.tenant_scoped {
        return None;
    }
    let has_tenant = sn.column(tenant).is_some();
    let has_policy = sn
        .policies
        .iter()
        .any(|p| p.name == Table::policy_name().as_str());
    (!(has_tenant && has_policy)).then(|| {
        format!(
            "{q} exists and is not revos's yet (no {tenant} column or no tenant policy): make it a \
             tenant table on this node first — revos.tenant_table('{q}', '[]', \
             '{{\"distribute\": false, \"backfill_tenant\": …}}') — then apply this version again \
             to distribute it with its rows",
            q = t.qualified()
        )
    })
}

/// The payload's tables this apply distributes in place: they exist as plain local tables (no
/// Citus placement) and are revos's.
pub fn moving<'a>(s: &'a Schema, st: &CatalogState, citus: &CitusState) -> Vec<&'a Table> {
    if !s.options.citus {
        return vec![];
    }
    let tenant = s.options.tenant_column.as_str();
    s.tables
        .iter()
        .filter(|t| citus.placement(&t.schema, &t.name).is_none())
        .filter(|t| {
            st.table(&t.schema, &t.name)
                .is_some_and(|sn| refusal(t, sn, tenant).is_none())
        })
        .collect()
}

/// The rows of `t` (counted, or estimated) as apply found them; the estimate when not counted.
fn rows(t: &Table, st: &CatalogState, citus: &CitusState) -> (Option<i64>, bool) {
    match citus.rows.get(&t.key()) {
        Some(&(n, counted)) => (Some(n), counted),
        None => (
            st.table(&t.schema, &t.name).and_then(|sn| sn.est_rows),
            false,
        ),
    }
}

/// The declared foreign keys that exist and touch a moving table (from it or to it): dropped
/// before the placement, added again after it. (schema.table, constraint name)
fn touching(
    s: &Schema,
    st: &CatalogState,
    moving: &HashSet<(String, String)>,
) -> Vec<(String, String)> {
    let mut out = vec![];
    for t in &s.tables {
        let Some(sn) = st.table(&t.schema, &t.name) else {
            continue;
        };
        for fk in &t.foreign_keys {
            let target = (
                fk.target_schema.as_str().to_string(),
                fk.target_table.as_str().to_string(),
            );
            if (moving.contains(&t.key()) || moving.contains(&target))
                && sn.has_constraint(fk.name.as_str())
            {
                out.push((t.qualified(), fk.name.to_string()));
            }
        }
    }
    out
}

/// The tenant policy in the form Citus accepts (no sub-select), whatever the comparison of the
/// plan concluded (it may not have been able to deparse): Citus refuses to distribute a table
/// whose policy has a sub-select.
fn policy(s: &Schema, t: &Table) -> Vec<Step> {
    let q = t.qualified();
    vec![
        Step::costed(
            "policy",
            q.clone(),
            format!("DROP POLICY IF EXISTS {} ON {q}", Table::policy_name()),
            Cost::ALTER,
            None,
        ),
        Step::costed("policy", q, policy_sql(t, &s.options), Cost::ALTER, None),
    ]
}

/// The steps before the placement: foreign keys dropped, the tenant policy in Citus's form. (The
/// primary key led by the tenant column is the plan's own step: `prepare` declared it so.)
fn before(s: &Schema, moving: &[&Table], fks: &[(String, String)]) -> Vec<Step> {
    let mut steps: Vec<Step> = fks
        .iter()
        .map(|(q, name)| {
            Step::costed(
                "in_place_drop_foreign_key",
                q.clone(),
                format!("ALTER TABLE {q} DROP CONSTRAINT {name}"),
                Cost::ALTER,
                None,
            )
        })
        .collect();
    for t in moving.iter().filter(|t| t.tenant_scoped) {
        steps.extend(policy(s, t));
    }
    steps
}

/// Citus copies the rows: EXCLUSIVE on the table (only SELECT goes on), every row read and
/// written to its shard.
const COPY_ROWS: Cost = Cost {
    lock: Some(Lock::Exclusive),
    rewrites: true,
    scans: true,
};

/// The step that places `t`: `create_distributed_table(…, tenant, colocate_with => anchor)` for a
/// tenant table, `create_reference_table` for the others (new tables and moving ones alike).
pub fn placement_step(
    t: &Table,
    tenant: &str,
    anchor: &str,
    cost: Cost,
    est_rows: Option<i64>,
) -> Step {
    let (kind, sql) = if t.tenant_scoped {
        (
            "distributed_table",
            format!(
                "SELECT pg_catalog.create_distributed_table({}, {}, colocate_with => {})",
                quote_literal(&t.qualified()),
                quote_literal(tenant),
                quote_literal(anchor)
            ),
        )
    } else {
        (
            "reference_table",
            format!(
                "SELECT pg_catalog.create_reference_table({})",
                quote_literal(&t.qualified())
            ),
        )
    };
    Step::costed(kind, t.qualified(), sql, cost, est_rows)
}

/// What the in-place distribution adds to a plan (see the module doc): returns the steps to run
/// before everything else, the placement steps of the moving tables (reference tables first; the
/// tenant tables colocated with `anchor`, or with the first of them), the steps after the
/// placement (local data removed, foreign keys again), and the foreign keys it re-adds (to be
/// taken out of the plan's own steps).
pub struct InPlaceSteps {
    pub before: Vec<Step>,
    pub reference: Vec<Step>,
    pub distributed: Vec<Step>,
    pub after: Vec<Step>,
    pub readded: HashSet<(String, String)>,
    /// The moving tenant tables, whose tenant policy this module re-creates.
    pub policies: HashSet<String>,
    pub has_triggers: bool,
}

pub fn steps(
    p: &mut Plan,
    s: &Schema,
    st: &CatalogState,
    citus: &CitusState,
    anchor: &mut Option<String>,
) -> InPlaceSteps {
    let moving = moving(s, st, citus);
    let keys: HashSet<(String, String)> = moving.iter().map(|t| t.key()).collect();
    let fks = touching(s, st, &keys);
    let tenant = s.options.tenant_column.as_str();
    let mut out = InPlaceSteps {
        before: before(s, &moving, &fks),
        reference: vec![],
        distributed: vec![],
        after: vec![],
        readded: fks.iter().cloned().collect(),
        policies: moving
            .iter()
            .filter(|t| t.tenant_scoped)
            .map(|t| t.qualified())
            .collect(),
        has_triggers: false,
    };
    let mut total = 0i64;
    let mut described = vec![];
    for t in &moving {
        let (n, counted) = rows(t, st, citus);
        total += n.unwrap_or(0);
        described.push(format!(
            "{} ({} rows{})",
            t.qualified(),
            n.map_or("an unknown number of".to_string(), |n| n.to_string()),
            if counted { "" } else { ", estimated" }
        ));
        out.has_triggers |= st
            .table(&t.schema, &t.name)
            .is_some_and(|sn| !sn.triggers.is_empty());
        if t.tenant_scoped {
            let with = anchor.clone().unwrap_or_else(|| "default".to_string());
            out.distributed
                .push(placement_step(t, tenant, &with, COPY_ROWS, n));
            anchor.get_or_insert_with(|| t.qualified());
        } else {
            out.reference
                .push(placement_step(t, tenant, "", COPY_ROWS, n));
        }
        out.after.push(Step::costed(
            "in_place_truncate_local",
            t.qualified(),
            format!(
                "SELECT pg_catalog.truncate_local_data_after_distributing_table({})",
                quote_literal(&t.qualified())
            ),
            Cost::ALTER,
            n,
        ));
    }
    out.after.extend(readd(s, &fks));
    if moving.is_empty() {
        return out;
    }
    explain_primary_key_changes(p, &moving);
    let cost = format!(
        "distributes in place {} existing table(s) with their rows: {}; Citus copies {total} rows to \
         the shards and the coordinator's local copy is then removed; each table is locked ACCESS \
         EXCLUSIVE by the apply's ALTER TABLE steps until it commits (its reads and writes wait); \
         a tenant table's primary key becomes (tenant_id, id); {} foreign key(s) are dropped and \
         added again around it",
        moving.len(),
        described.join(", "),
        fks.len()
    );
    p.warnings.push(cost.clone());
    if s.options.distribute == Distribute::Auto && total > 0 {
        p.risks.push(crate::schema::steps::Risk {
            path: "options.distribute".into(),
            code: RiskCode::DistributeExisting,
            message: format!(
                "this apply {cost}; set options.allow_destructive, or \"distribute\": true, to do it"
            ),
            rows: Some(total),
            rows_counted: Some(moving.iter().all(|t| rows(t, st, citus).1)),
        });
    }
    out
}

/// The primary key `(id)` → `(tenant_id, id)` that distributing a tenant table requires is the
/// plan's own risk `primary_key_change`, gated as every primary key change is (issue 19: blocked
/// unless `allow_destructive`, whatever `"distribute"` says): its message says why it is planned.
fn explain_primary_key_changes(p: &mut Plan, moving: &[&Table]) {
    let keys: HashSet<&str> = moving.iter().map(|t| t.primary_key_path.as_str()).collect();
    for r in p.risks.iter_mut() {
        if r.code == RiskCode::PrimaryKeyChange && keys.contains(r.path.as_str()) {
            r.message.push_str(
                " (distributing it in place: Citus needs the distribution column in the primary key)",
            );
        }
    }
}

/// The dropped foreign keys, added again (with the actions Citus accepts: `prepare` made them so).
fn readd(s: &Schema, fks: &[(String, String)]) -> Vec<Step> {
    let wanted: HashSet<&(String, String)> = fks.iter().collect();
    let by_table: HashMap<String, &Table> = s.tables.iter().map(|t| (t.qualified(), t)).collect();
    let mut out = vec![];
    for (q, name) in fks {
        let Some(t) = by_table.get(q) else {
            continue;
        };
        for fk in t
            .foreign_keys
            .iter()
            .filter(|f| &f.name.to_string() == name)
        {
            if wanted.contains(&(q.clone(), name.clone())) {
                out.push(Step::costed(
                    "foreign_key",
                    q.clone(),
                    format!("ALTER TABLE {q} ADD {}", fk_sql(fk, &s.options)),
                    Cost::ADD_FOREIGN_KEY,
                    None,
                ));
            }
        }
    }
    out
}

impl InPlaceSteps {
    /// Whether a step of the plan's own does what this module does already: a foreign key it
    /// re-adds, the tenant policy of a moving table.
    pub fn supersedes(&self, step: &Step) -> bool {
        match step.kind {
            "foreign_key" => self
                .readded
                .iter()
                .any(|(q, name)| &step.object == q && step.sql.contains(name.as_str())),
            "policy" => {
                self.policies.contains(&step.object)
                    && step.sql.contains(Table::policy_name().as_str())
            }
            _ => false,
        }
    }
}
