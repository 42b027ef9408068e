//! apply's part of online changes (contract §14): the online forms of a plan, the plan hash and
//! the stale-plan check, steps of an earlier version still pending on the tables this one
//! changes, and the deferred steps recorded and their worker started.

use pgrx::prelude::*;
use serde_json::{json, Value};
use std::collections::HashSet;

use crate::apply::fingerprint::fingerprint;
use crate::deferred::{launch, store};
use crate::error::{code, Issue};
use crate::schema::model::{Online, Schema};
use crate::schema::online::{fk_target, transform, OnlinePlan, ONLINE_ROWS};
use crate::schema::plan_hash::{plan_hash, touched};
use crate::schema::steps::Plan;

/// The plan's online forms (`schema::online`), where this server and role can run deferred
/// steps; `Err` when `options.online: true` asks for them and they cannot run.
pub fn forms(p: &mut Plan, schema: &Schema) -> Result<OnlinePlan, Issue> {
    let wanted = match schema.options.online {
        Online::Off => false,
        Online::On => true,
        Online::Auto => p
            .steps
            .iter()
            .any(|x| x.est_rows.is_some_and(|n| n > ONLINE_ROWS)),
    };
    let unavailable = if !wanted {
        None
    } else if schema.options.citus {
        Some(
            "the online forms are not used on Citus yet (its shards take the blocking forms)"
                .into(),
        )
    } else {
        launch::unavailable()
    };
    let foreign = if wanted {
        foreign_owned(schema)
    } else {
        HashSet::new()
    };
    let o = transform(
        p,
        schema,
        unavailable.as_deref(),
        sees_every_row(),
        &foreign,
    )?;
    p.warnings.extend(o.warnings.iter().cloned());
    Ok(o)
}

/// The payload's existing tables (as `schema::online` names them: `schema.table`) whose owner is
/// not a role the current one trusts (`dependencies::trusted_owners`: a superuser, this role, a
/// role listed in `revos.trusted_roles`). Their steps are never deferred: after the commit the owner could
/// change what a deferred step runs — `SET DEFAULT`, a check, a rule, a trigger — and the worker
/// would run it with the applying role's privileges (adversarial review, F1).
fn foreign_owned(schema: &Schema) -> HashSet<String> {
    // each table under its name, and a renamed one under its old name too (the table the plan
    // renames is still there under it while the plan is made)
    let (mut keys, mut names) = (vec![], vec![]);
    for t in &schema.tables {
        let key = format!("{}.{}", t.schema, t.name);
        for name in std::iter::once(&t.name).chain(t.renamed_from.as_ref()) {
            keys.push(key.clone());
            names.push(format!("{}.{}", t.schema, name));
        }
        // the tables its foreign keys reference: validating one plans a query over that table
        for f in &t.foreign_keys {
            keys.push(fk_target(f));
            names.push(fk_target(f));
        }
    }
    let trusted = crate::dependencies::trusted_owners();
    Spi::connect(|c| {
        let rows = c.select(
            "SELECT x.k FROM ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[])) AS x(k, q)
               JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) pg_catalog.to_regclass(x.q)
              WHERE r.relowner OPERATOR(pg_catalog.<>) ALL ($3::pg_catalog.oid[])",
            None,
            &[keys.into(), names.into(), trusted.into()],
        )?;
        let mut out = HashSet::new();
        for row in rows {
            if let Some(k) = row.get::<String>(1)? {
                out.insert(k);
            }
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_else(|e| pgrx::error!("revos: reading the tables' owners failed: {e}"))
}

/// Whether the current role sees every row whatever the tables' policies (a superuser, or
/// BYPASSRLS): the deferred worker runs a batched backfill as this role.
fn sees_every_row() -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT r.rolsuper OR r.rolbypassrls FROM pg_catalog.pg_roles r
          WHERE r.oid OPERATOR(pg_catalog.=) $1",
        &[unsafe { pgrx::pg_sys::GetUserId() }.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// The plan hash of `p` against the catalog as it is now.
pub fn hash(schema: &Schema, p: &Plan, o: &OnlinePlan) -> String {
    let (tables, enums) = touched(schema);
    plan_hash(p, o, &fingerprint(&tables, &enums))
}

/// `options.expected_plan_hash` against the plan apply would run now (under the apply lock):
/// the issue when they differ.
pub fn stale(schema: &Schema, now: &str) -> Option<Issue> {
    let expected = schema.options.expected_plan_hash.as_deref()?;
    (expected != now).then(|| {
        Issue::new(
            "options.expected_plan_hash",
            code::STALE_PLAN,
            format!(
                "the plan apply_schema would run now (plan_hash {now}) is not the one reviewed ({expected}): the catalog or the plan changed since plan_schema; review the new plan"
            ),
        )
    })
}

/// Deferred steps of earlier versions still pending or running on a table this version reads or
/// changes: one issue each (the change would race their build or validation).
pub fn pending_conflicts(schema: &Schema) -> Vec<Issue> {
    let (tables, _) = touched(schema);
    store::open_on(&tables)
        .into_iter()
        .map(|s| {
            Issue::new(
                format!("{}.{}", s["schema"].as_str().unwrap_or(""), s["table"].as_str().unwrap_or("")),
                code::DEFERRED_PENDING,
                format!(
                    "deferred step {} of version {} is {} on this table ({}); wait until revos.deferred_status() shows it done or failed",
                    s["id"], s["version"].as_str().unwrap_or(""), s["status"].as_str().unwrap_or(""),
                    s["sql"].as_str().unwrap_or("")
                ),
            )
        })
        .collect()
}

/// Starts the worker of this role for a plan with deferred steps, before its statements run:
/// the worker's start (a process forked by the postmaster, the library loaded, a connection) is
/// CPU the writers' backends share, and started after the statements it overlapped the lock the
/// late steps hold until the commit (bench/FINDINGS.md, 2026-12-06). The worker waits for the
/// apply lock — the apply's commit — before it reads any step; when the apply fails there is none,
/// and it ends. `None` without deferred steps; else whether a worker could be started.
pub fn launch(o: &OnlinePlan) -> Option<Launched> {
    (!o.deferred.is_empty()).then(|| {
        let role = unsafe { pgrx::pg_sys::GetUserId() };
        Launched {
            role,
            started: launch::start(role),
        }
    })
}

/// The worker [`launch`] started: as which role, and whether a background worker slot was free.
pub struct Launched {
    pub role: pgrx::pg_sys::Oid,
    pub started: bool,
}

/// Records the deferred steps of the applied migration, for the worker [`launch`] started.
/// Returns the steps as the envelope lists them, and a warning when no worker could be started.
/// The steps are recorded for the current user, which must still be the role the worker was
/// started as: the payload's own code may have switched it (`set_config('role', …)` in a default
/// evaluated by a rewrite) — the steps would wait for a worker of that role that nobody starts
/// (the review of 51a6a29, F3). Then the apply fails (42501), nothing kept.
pub fn record(
    migration_id: &str,
    schema: &Schema,
    tenant: Option<&str>,
    o: &OnlinePlan,
    launched: Option<&Launched>,
) -> (Vec<Value>, Option<String>) {
    let Some(launched) = launched.filter(|_| !o.deferred.is_empty()) else {
        return (vec![], None);
    };
    let now = unsafe { pgrx::pg_sys::GetUserId() };
    if now != launched.role {
        pgrx::ereport!(
            ERROR,
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "revos: the current role changed during the apply (role {} when it began, {} now: a set_config('role', …) or SET ROLE in code the payload ran?); the deferred steps would run as neither — nothing is kept",
                u32::from(launched.role),
                u32::from(now)
            )
        );
    }
    let started = launched.started;
    let steps = store::record(
        migration_id,
        &schema.version,
        tenant,
        &o.deferred,
        schema.options.lock_timeout_ms,
    );
    let warning = (!started).then(|| {
        "the deferred worker could not be started (no free background worker slot, max_worker_processes): the steps stay pending until the next apply_schema or revos.deferred_status() call starts it".to_string()
    });
    (steps, warning)
}

/// For a `noop`: the migration's steps that are not done, and the sentence that says so; with
/// `resume` (apply_schema, not plan_schema) a worker is started where steps wait without one.
pub fn noop_pending(migration_id: &str, resume: bool) -> Option<(Vec<Value>, String)> {
    let steps = store::unfinished(migration_id);
    if steps.is_empty() {
        return None;
    }
    if resume {
        launch::resume();
    }
    let count = |st: &str| steps.iter().filter(|s| s["status"] == st).count();
    let open = count("pending") + count("running");
    let failed = count("failed");
    let mut parts = vec![];
    if open > 0 {
        parts.push(format!("{open} deferred step(s) still pending or running"));
    }
    if failed > 0 {
        parts.push(format!("{failed} deferred step(s) failed"));
    }
    Some((
        steps,
        format!("; {} (revos.deferred_status())", parts.join(", ")),
    ))
}

/// The online part of plan_schema's plan.
pub fn plan_json(o: &OnlinePlan, schema: &Schema) -> Value {
    json!({
        "mode": match schema.options.online { Online::On => "on", Online::Off => "off", Online::Auto => "by_size" },
        "threshold_rows": ONLINE_ROWS,
        "tables": o.tables,
    })
}
