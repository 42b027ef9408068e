//! Stage 5 — `apply`: runs the plan inside the caller's transaction and writes the ledger.
//!
//! ```text
//! read + normalize (pure) ─ issues? ─> blocked
//!   └ advisory lock (serializes every schema change) ─ ledger: same version applied?
//!        same hash -> noop · other hash -> conflict (unless force_apply)
//!   └ validate against the live catalog, evolve (renames, drops) ─ issues? -> blocked
//!   └ plan (evolution steps first) ─ risks? -> blocked (unless allow_destructive)
//!   └ SAVEPOINT; lock_timeout; DDL; verify catalog == spec; RELEASE
//!        error -> ROLLBACK TO SAVEPOINT, ledger row `failed` (+ sqlstate) -> failed
//!   └ ledger row `applied` (its trigger writes the event) -> applied
//! ```
//!
//! `fast` answers noop/conflict from the jsonb's bytes before this pipeline (`memo`: what it
//! remembers); `pg_catalog` is the live catalog reader (the `Catalog` of `schema`), `shadow` how
//! Postgres deparses the spec.
//!
//! May call: `crate::schema`, `crate::citus`, `crate::ledger` (the writer phases),
//! `crate::error`, `crate::ident`. Never `api`.

pub mod answer;
pub mod app_role;
pub mod citus_rows;
pub mod conflict;
pub mod direct;
pub mod expression_names;
pub mod failure;
pub mod fast;
pub mod fingerprint;
pub mod history;
pub mod ledger_probe;
pub mod memo;
pub mod objects;
pub mod online;
pub mod pg_catalog;
pub mod rehearse;
pub mod row_scan;
pub mod shadow;

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Instant;

use crate::citus::distribute;
use crate::citus::in_place;
use crate::citus::metadata::citus_state;
use crate::error::{code, Issue, Status};
use crate::ident::sha256_hex;
use crate::ledger::writer;
use crate::schema::additions;
use crate::schema::argument;
use crate::schema::catalog;
use crate::schema::evolve;
use crate::schema::grants;
use crate::schema::model::Catalog;
use crate::schema::normalize::{
    canonical_json, normalize, schema_hash, DEFAULT_LOCK_TIMEOUT_MS, MAX_LOCK_TIMEOUT_MS,
};
use crate::schema::online::{pending_view, OnlinePlan};
use crate::schema::plan::plan;
use crate::schema::plan_text;
use crate::schema::spec::{
    check_payload_text, read_schema, split_envelope, Envelope, MAX_PAYLOAD_BYTES,
};
use crate::schema::steps::Plan;
use crate::schema::verify::{verify_with, Verification};
use answer::{blocked, envelope, new_run_id, Outcome};
use pg_catalog::{subtransaction, PgCatalog};

/// Key of the transaction-level advisory lock that serializes schema changes ('revos').
pub const ADVISORY_KEY: i64 = crate::deferred::APPLY_LOCK;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Apply,
    Plan,
}

/// The whole call: JSON in, envelope out. Errors a caller can cause come back in the envelope;
/// only internal failures raise.
pub fn run(input: &Value, mode: Mode, workflow_name: &str) -> Value {
    let started = Instant::now();
    let input_text = canonical_json(input);
    let inputs_hash = sha256_hex(input_text.as_bytes());
    let mut issues: Vec<Issue> = vec![];
    // an array or a whole n8n item is one mistake with one issue, not a schema read wrong
    let misshapen = argument::misshapen(input);
    let (env, payload) = split_envelope(input, &mut issues);
    // The payload's own hash: without an envelope the payload is the input.
    let payload_hash = if input.get("payload").is_none() {
        inputs_hash.clone()
    } else {
        sha256_hex(canonical_json(&payload).as_bytes())
    };
    let run_id = env.workflow_run_id.clone().unwrap_or_else(new_run_id);

    let outcome = if input_text.len() > MAX_PAYLOAD_BYTES {
        let msg = format!(
            "the payload is {} bytes; the limit is {MAX_PAYLOAD_BYTES}",
            input_text.len()
        );
        blocked(vec![Issue::new("$", code::PAYLOAD_TOO_LARGE, msg)], vec![])
    } else if let Some(issue) = misshapen {
        blocked(vec![issue], vec![])
    } else {
        decide(&payload, &payload_hash, &env, &run_id, mode, issues)
    };

    envelope(workflow_name, &run_id, started, &inputs_hash, outcome)
}

/// The SQL entry point: the payload's JSON text is checked for size and depth
/// (`spec::check_payload_text`) before it is parsed, canonicalized or hashed.
pub fn run_text(text: &str, mode: Mode, workflow_name: &str) -> Value {
    let started = Instant::now();
    let parsed = match check_payload_text(text) {
        Some(issue) => Err(issue),
        None => serde_json::from_str::<Value>(text).map_err(|e| {
            Issue::new(
                "$",
                code::WRONG_TYPE,
                format!("the payload is not JSON: {e}"),
            )
        }),
    };
    match parsed {
        Ok(v) => run(&v, mode, workflow_name),
        Err(issue) => rejected(issue, text, workflow_name, started),
    }
}

/// Parses one jsonb argument's text after the same checks; the `Err` is the `blocked` envelope.
pub fn read_checked(text: &str, workflow_name: &str) -> Result<Value, Value> {
    let started = Instant::now();
    match check_payload_text(text) {
        Some(issue) => Err(rejected(issue, text, workflow_name, started)),
        None => serde_json::from_str(text).map_err(|e| {
            let issue = Issue::new("$", code::WRONG_TYPE, format!("not JSON: {e}"));
            rejected(issue, text, workflow_name, started)
        }),
    }
}

/// The envelope for input refused before it was parsed.
fn rejected(issue: Issue, text: &str, workflow_name: &str, started: Instant) -> Value {
    let inputs_hash = sha256_hex(text.as_bytes());
    let outcome = blocked(vec![issue], vec![]);
    envelope(workflow_name, &new_run_id(), started, &inputs_hash, outcome)
}

/// The no-op fast path: the version's last applied row was applied from exactly this payload
/// (same canonical JSON hash, recorded in its metadata): a noop, without reading, normalizing and
/// hashing the schema.
fn fast_noop(payload: &Value, payload_hash: &str, mode: Mode) -> Option<Outcome> {
    let obj = payload.as_object()?;
    let version = obj
        .get("schema_version")
        .or_else(|| obj.get("version"))?
        .as_str()?;
    if obj
        .get("force_apply")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        return None;
    }
    if mode == Mode::Apply {
        let timeout = obj
            .get("options")
            .and_then(|o| o.get("lock_timeout_ms"))
            .and_then(Value::as_u64)
            .filter(|n| *n <= MAX_LOCK_TIMEOUT_MS as u64)
            .unwrap_or(DEFAULT_LOCK_TIMEOUT_MS);
        if let Err(e) = apply_lock(timeout) {
            return Some(lock_wait_failed(e));
        }
    }
    let (id, hash, applied_at, prev) = last_applied(version)?;
    if prev.as_deref() != Some(payload_hash) {
        return None;
    }
    Some(noop(version, &hash, &id, &applied_at, mode, true))
}

/// The answer for a version already applied with this content; deferred steps of it that are
/// not done are listed (`pending`) and said in the summary, and apply starts a worker where they
/// wait without one.
/// `deferred`: the applied row may have deferred steps (else they are not looked for).
fn noop(
    version: &str,
    hash: &str,
    id: &str,
    applied_at: &str,
    mode: Mode,
    deferred: bool,
) -> Outcome {
    let mut o = Outcome::new(
        Status::Noop,
        format!("Schema v{version} is already applied (since {applied_at})"),
    );
    let pending = deferred
        .then(|| online::noop_pending(id, mode == Mode::Apply))
        .flatten();
    if let Some((steps, said)) = pending {
        o.summary.push_str(&said);
        o.extra.insert("pending".into(), json!(steps));
    }
    o.outputs.insert("schema_version".into(), json!(version));
    o.outputs.insert("schema_hash".into(), json!(hash));
    o.outputs.insert("migration_log_id".into(), json!(id));
    o.outputs
        .insert("already_applied_at".into(), json!(applied_at));
    o.extra
        .insert("already_applied_at".into(), json!(applied_at));
    o
}

fn decide(
    payload: &Value,
    payload_hash: &str,
    env: &Envelope,
    run_id: &str,
    mode: Mode,
    mut issues: Vec<Issue>,
) -> Outcome {
    if let Some(o) = fast_noop(payload, payload_hash, mode) {
        return o;
    }
    let raw = read_schema(payload, &mut issues);
    let mut schema = normalize(&raw, &mut issues);
    let hash = schema_hash(&schema);
    if issues.is_empty() && !schema.force_apply {
        memo::remember(&schema.version, &hash, payload_hash);
    }
    let cat = PgCatalog::new(schema.options.tenant_column.as_str());
    let timeout = format!("{}ms", schema.options.lock_timeout_ms);

    if !issues.is_empty() {
        // Report the catalog's problems too: every problem at once.
        let saved = setting("lock_timeout");
        set_local("lock_timeout", &timeout);
        let (more, _) = objects::validated(&mut schema, &cat);
        set_local("lock_timeout", saved.as_deref().unwrap_or("0"));
        issues.extend(more);
        return blocked_at_version(issues, &schema.version);
    }

    if mode == Mode::Apply {
        // Waiting for another schema change is subject to lock_timeout_ms like every other
        // wait: no call may hang behind another session.
        if let Err(e) = apply_lock(schema.options.lock_timeout_ms) {
            return lock_wait_failed(e);
        }
        // Another caller may have changed the catalog while we waited: read it again.
        cat.forget();
    }
    let saved_timeout = setting("lock_timeout");
    set_local("lock_timeout", &timeout);
    let outcome = decide_locked(schema, hash, payload_hash, cat, env, run_id, mode, issues);
    set_local("lock_timeout", saved_timeout.as_deref().unwrap_or("0"));
    outcome
}

/// The catalog could not be read (another session held a table past lock_timeout): failed as the
/// DDL would have, named; recorded by apply_schema.
fn preload_failed(
    schema: &crate::schema::model::Schema,
    hash: &str,
    payload_hash: &str,
    env: &Envelope,
    run_id: &str,
    mode: Mode,
    e: (String, String),
) -> Outcome {
    if mode == Mode::Plan {
        return failed_before_planning(e);
    }
    let outputs = plan_outputs(schema, &Plan::default(), &OnlinePlan::default(), hash);
    execute_and_record(
        schema,
        &Plan::default(),
        &OnlinePlan::default(),
        outputs,
        hash,
        payload_hash,
        env,
        run_id,
        Some(e),
        &serde_json::to_value(&*additions::as_hashed(schema)).unwrap_or_default(),
    )
}

/// Under the advisory lock: the ledger first (noop / conflict without reading the catalog), then
/// validate → evolve → plan → risks → (plan_schema: the plan) → execute → ledger.
#[allow(clippy::too_many_arguments)]
fn decide_locked(
    mut schema: crate::schema::model::Schema,
    hash: String,
    payload_hash: &str,
    cat: PgCatalog,
    env: &Envelope,
    run_id: &str,
    mode: Mode,
    mut issues: Vec<Issue>,
) -> Outcome {
    if mode == Mode::Apply && issues.is_empty() && !schema.force_apply {
        memo::persist(&schema.version, &hash, payload_hash);
    }
    if let Some(o) = ledger_decides(&schema, &hash, mode) {
        return o;
    }
    // Only now is the catalog needed (a noop or conflict never reads it): one query for all
    // tables, their old names and the tables to drop. First, the schema revos's own search_path
    // reads must be the extension owner's alone.
    crate::dependencies::check_revos_schema();
    if let Err(e) = cat.preload(&catalog::catalog_keys(&schema)) {
        return preload_failed(&schema, &hash, payload_hash, env, run_id, mode, e);
    }
    // the normalized schema as hashed (validate adopts live forms into it), for the ledger row
    let normalized = if mode == Mode::Apply {
        serde_json::to_value(&*additions::as_hashed(&schema)).unwrap_or_default()
    } else {
        Value::Null
    };
    let (more, mut state) = objects::validated(&mut schema, &cat);
    issues.extend(more);
    // nothing of the payload is tried or evaluated (objects::read's trials) while it names a schema
    // another role controls (schema::trusted_names)
    if issues
        .iter()
        .any(|i| i.code == crate::error::code::UNTRUSTED_NAME)
    {
        return blocked_at_version(issues, &schema.version);
    }
    let evolution = evolve::evolve(&schema, &mut state);
    issues.extend(evolution.issues.iter().cloned());
    // extensions, functions, views, triggers, policies, grants: live and declared forms
    issues.extend(objects::read(&schema, &mut state));
    // again after the trials, which may wait for a lock: nothing is evaluated (the counts, the
    // shadows) while a schema created or given away meanwhile is another role's (the fifth
    // adversarial review, F4)
    crate::schema::trusted_names::check(&schema, &cat, &mut issues);
    // Citus (contract §13): the mode, and what Citus would refuse, before anything runs.
    let mut citus = citus_state();
    let (more, citus_warnings) = distribute::prepare(&mut schema, &state, &citus);
    issues.extend(more);
    if !issues.is_empty() {
        return blocked_at_version(issues, &schema.version);
    }
    citus.rows = citus_rows::count(&cat, &state, &in_place::moving(&schema, &state, &citus));
    // How Postgres deparses what the spec declares for the tables that exist (compare.rs).
    shadow::declare(&schema, &mut state);
    let mut p = plan(&schema, &state);
    evolution.prepend_to(&mut p);
    distribute::add_steps(&mut p, &schema, &state, &citus);
    p.warnings.extend(citus_warnings);
    // the quick start's tables usable by the application role (schema::grants)
    grants::add_steps(&mut p, &schema);
    // loud about what the ledger's history shows (apply::history)
    p.warnings.extend(history::warnings(&schema));
    let (online, plan_hash, conflicts) = match online_part(&schema, &mut p, mode) {
        Ok(x) => x,
        Err(o) => return o,
    };
    if mode == Mode::Plan {
        return plan_answer(&schema, p, &online, &hash, plan_hash, conflicts);
    }
    let risks: Vec<Value> = p.risks.iter().map(|r| json!(r)).collect();
    let mut outputs = plan_outputs(&schema, &p, &online, &hash);
    if let Some(h) = plan_hash {
        outputs.insert("plan_hash".into(), json!(h));
    }
    // Another session held a table past lock_timeout while its live forms were read: the apply
    // fails as the DDL would have (55P03, recorded), naming the table — not "cannot compare".
    let waited = lock_timed_out(&state);
    if waited.is_none() && !risks.is_empty() && !schema.options.allow_destructive {
        return blocked(vec![], risks);
    }
    execute_and_record(
        &schema,
        &p,
        &online,
        outputs,
        &hash,
        payload_hash,
        env,
        run_id,
        waited,
        &normalized,
    )
}

/// The online part of a plan (contract §14): the lock-light forms, the plan hash (always for
/// plan_schema; for apply only when it is to be checked — it reads the catalog once more — here,
/// under the apply lock, before anything runs) and the earlier versions' deferred steps still
/// open on its tables. Err: apply's answer when the online forms cannot run here, when the plan
/// is not the reviewed one (`stale_plan`), or when such steps are open (`deferred_pending`).
fn online_part(
    schema: &crate::schema::model::Schema,
    p: &mut Plan,
    mode: Mode,
) -> Result<(OnlinePlan, Option<String>, Vec<Issue>), Outcome> {
    let online = online::forms(p, schema).map_err(|issue| blocked(vec![issue], vec![]))?;
    let plan_hash = (mode == Mode::Plan || schema.options.expected_plan_hash.is_some())
        .then(|| online::hash(schema, p, &online));
    let conflicts = online::pending_conflicts(schema);
    if mode == Mode::Plan {
        return Ok((online, plan_hash, conflicts));
    }
    if let Some(issue) = plan_hash.as_deref().and_then(|h| online::stale(schema, h)) {
        let mut o = blocked(vec![issue], vec![]);
        o.extra.insert("plan_hash".into(), json!(plan_hash));
        return Err(o);
    }
    if !conflicts.is_empty() {
        return Err(blocked(conflicts, vec![]));
    }
    Ok((online, plan_hash, conflicts))
}

/// `blocked` by validation errors, with the version when the payload gave a valid one.
fn blocked_at_version(issues: Vec<Issue>, version: &str) -> Outcome {
    let mut o = blocked(issues, vec![]);
    if crate::schema::normalize::valid_version(version) {
        o.outputs.insert("schema_version".into(), json!(version));
    }
    o
}

/// The first table whose live forms could not be read because another session held it past
/// lock_timeout: the error to record (message naming the table, 55P03).
fn lock_timed_out(state: &crate::schema::catalog::CatalogState) -> Option<(String, String)> {
    let mut waited: Vec<(&(String, String), &String)> = state
        .tables
        .iter()
        .filter_map(|(k, sn)| sn.unreadable.as_ref().map(|why| (k, why)))
        .filter(|(_, why)| why.contains("(SQLSTATE 55P03)"))
        .collect();
    waited.sort();
    let ((schema, table), why) = waited.first()?;
    Some((
        format!("{schema}.{table} was locked by another session past lock_timeout_ms: {why}"),
        "55P03".to_string(),
    ))
}

/// The SQL a version runs, as recorded: the statements of the caller's transaction, then (as
/// comments, so that the script still runs with `psql -1`) the deferred ones.
fn script(p: &Plan, online: &OnlinePlan) -> String {
    let mut s = p.script();
    if !online.deferred.is_empty() {
        s.push_str("-- deferred: run after the commit by revos, one statement per transaction (revos.deferred_steps)\n");
        for line in online.script().lines() {
            s.push_str("-- ");
            s.push_str(line);
            s.push('\n');
        }
    }
    s
}

/// Idempotency: the version's ledger row decides before anything else is looked at — the same
/// schema hash is a `noop`, another one a `conflict` (unless `force_apply`).
fn ledger_decides(
    schema: &crate::schema::model::Schema,
    hash: &str,
    mode: Mode,
) -> Option<Outcome> {
    let (id, prev_hash, applied_at, _) = last_applied(&schema.version)?;
    if schema.force_apply {
        return None;
    }
    if prev_hash == hash {
        return Some(noop(&schema.version, hash, &id, &applied_at, mode, true));
    }
    let now = serde_json::to_value(&*additions::as_hashed(schema)).unwrap_or_default();
    let found = conflict::against_applied(&id, &now);
    Some(conflict::outcome(
        &schema.version,
        hash,
        &id,
        &applied_at,
        &prev_hash,
        found,
    ))
}

/// The counts and hashes every envelope of a plan reports.
fn plan_outputs(
    schema: &crate::schema::model::Schema,
    p: &Plan,
    online: &OnlinePlan,
    hash: &str,
) -> serde_json::Map<String, Value> {
    let mut outputs = serde_json::Map::new();
    outputs.insert("schema_version".into(), json!(schema.version));
    outputs.insert("tables_created".into(), json!(p.tables_created));
    outputs.insert("tables_altered".into(), json!(p.tables_altered));
    outputs.insert("indexes_created".into(), json!(p.indexes_created));
    outputs.insert("policies_created".into(), json!(p.policies_created));
    outputs.insert("enums_created".into(), json!(p.enums_created));
    for (key, n) in evolve::counts(p) {
        outputs.insert(key.into(), json!(n));
    }
    outputs.insert("schema_hash".into(), json!(hash));
    outputs.insert(
        "checksum".into(),
        json!(sha256_hex(script(p, online).as_bytes())),
    );
    if !online.deferred.is_empty() {
        outputs.insert("deferred_steps".into(), json!(online.deferred.len()));
    }
    outputs.insert("warnings".into(), json!(p.warnings));
    outputs
}

/// `; 3 deferred step(s) pending: …` — the steps revos runs after the commit.
fn pending_summary(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("; {n} deferred step(s) pending: revos runs them after the commit (revos.deferred_status())")
    }
}

/// `; evolution: 1 tables renamed, 2 columns dropped` — only what happened.
fn evolution_summary(p: &Plan) -> String {
    let done: Vec<String> = evolve::counts(p)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {}", k.replace('_', " ")))
        .collect();
    if done.is_empty() {
        String::new()
    } else {
        format!("; evolution: {}", done.join(", "))
    }
}

/// plan_schema's answer: the steps, the SQL and the risks; nothing executed or recorded.
fn planned(
    schema: &crate::schema::model::Schema,
    p: &Plan,
    online: &OnlinePlan,
    outputs: serde_json::Map<String, Value>,
    risks: Vec<Value>,
    conflicts: Vec<Issue>,
) -> Outcome {
    let blocks = if risks.is_empty() || schema.options.allow_destructive {
        String::new()
    } else {
        format!(
            "; {} risky change(s) would block apply_schema unless options.allow_destructive",
            risks.len()
        )
    };
    let mut o = Outcome::new(
        Status::Planned,
        format!(
            "Plan for schema v{}: {} statements, {} tables to create, {} to alter{blocks}",
            schema.version,
            p.steps.len(),
            p.tables_created,
            p.tables_altered
        ),
    );
    if !online.deferred.is_empty() {
        o.summary.push_str(&format!(
            "; {} deferred step(s) would run after the commit",
            online.deferred.len()
        ));
    }
    if let Some(h) = outputs.get("plan_hash") {
        o.extra.insert("plan_hash".into(), h.clone());
    }
    o.outputs = outputs;
    o.extra.insert("risks".into(), json!(risks));
    if !conflicts.is_empty() {
        // apply_schema would be blocked by these until the earlier steps finish
        o.extra.insert("deferred_pending".into(), json!(conflicts));
    }
    o.extra.insert("plan".into(), plan_json(schema, p, online));
    o
}

/// `plan`: the steps, the SQL script, and the text a person reads (schema::plan_text); the
/// deferred steps and the online decision (contract §14).
fn plan_json(schema: &crate::schema::model::Schema, p: &Plan, online: &OnlinePlan) -> Value {
    json!({"steps": p.steps, "sql": p.script(), "text": plan_text::render(schema, p),
           "deferred": online.deferred, "deferred_sql": online.script(),
           "online": online::plan_json(online, schema)})
}

/// plan_schema's answer: the whole plan, risks included, rehearsed (apply::rehearse) — what
/// apply_schema would refuse or fail on is a validation error here. While risks would block
/// apply_schema (no `allow_destructive`), a refusal by the data (a risky step that rows would
/// fail, like NOT NULL on rows holding NULL) is a warning on the plan: apply would answer
/// `blocked` with those risks, and fail this way once they are allowed.
fn plan_answer(
    schema: &crate::schema::model::Schema,
    mut p: Plan,
    online: &OnlinePlan,
    hash: &str,
    plan_hash: Option<String>,
    conflicts: Vec<Issue>,
) -> Outcome {
    // the deferred steps are not rehearsed (they run outside a transaction); the rest is
    // verified as it will be before they run
    let view = (!online.deferred.is_empty()).then(|| pending_view(schema, online));
    let rehearsed = view.as_ref().unwrap_or(schema);
    let refused = rehearse::rehearse(schema, &p, || execute(rehearsed, &p, &mut || {})).err();
    let risks: Vec<Value> = p.risks.iter().map(|r| json!(r)).collect();
    let gated = !risks.is_empty() && !schema.options.allow_destructive;
    match refused {
        Some(r) if !(gated && r.kind == rehearse::Kind::Data) => {
            rehearsal_refused(schema, &p, online, r, risks)
        }
        r => {
            if let Some(r) = r {
                p.warnings.push(format!(
                    "with options.allow_destructive, the apply would fail at {}: {}{}",
                    r.issue.path,
                    r.issue.message,
                    r.issue
                        .hint
                        .as_ref()
                        .map(|h| format!(" ({h})"))
                        .unwrap_or_default()
                ));
            }
            let mut outputs = plan_outputs(schema, &p, online, hash);
            if let Some(h) = plan_hash {
                outputs.insert("plan_hash".into(), json!(h));
            }
            planned(schema, &p, online, outputs, risks, conflicts)
        }
    }
}

/// plan_schema's rehearsal was refused: what apply would fail on, as apply would answer it but
/// with the data's refusals as validation errors too; a wait that ran out is `failed`. The plan
/// is shown either way.
fn rehearsal_refused(
    schema: &crate::schema::model::Schema,
    p: &Plan,
    online: &OnlinePlan,
    r: rehearse::Refused,
    risks: Vec<Value>,
) -> Outcome {
    let mut o = if r.kind == rehearse::Kind::Transient {
        let mut o = failed_before_planning((r.message_naming_table(), r.sqlstate.clone()));
        o.summary = format!(
            "The rehearsal of the plan could not finish: {}",
            r.message_naming_table()
        );
        o.extra.insert("error".into(), r.error_json());
        o.extra.insert("risks".into(), json!(risks));
        o
    } else {
        blocked(vec![r.issue], risks)
    };
    o.outputs
        .insert("schema_version".into(), json!(schema.version));
    o.outputs.insert("warnings".into(), json!(p.warnings));
    o.extra.insert("plan".into(), plan_json(schema, p, online));
    o
}

/// Runs the plan under its savepoint, verifies, and writes the ledger row: `applied`, or
/// `failed` (rolled back, with the message and SQLSTATE; `preempted`: nothing ran, for that
/// error).
#[allow(clippy::too_many_arguments)]
fn execute_and_record(
    schema: &crate::schema::model::Schema,
    p: &Plan,
    online: &OnlinePlan,
    mut outputs: serde_json::Map<String, Value>,
    hash: &str,
    payload_hash: &str,
    env: &Envelope,
    run_id: &str,
    preempted: Option<(String, String)>,
    normalized: &Value,
) -> Outcome {
    let sql = script(p, online);
    let checksum = sha256_hex(sql.as_bytes());
    // the ledger row's documents before the DDL: not made while its locks are held
    let mut metadata = ledger_metadata(schema, p, env, payload_hash);
    metadata["plan_hash"] = json!(outputs.get("plan_hash"));
    metadata["online_tables"] = json!(online.tables);
    metadata["deferred_steps"] = json!(online.deferred.len());
    let documents = Documents::of(schema, p, normalized);
    let ledger = LedgerRow {
        version: &schema.version,
        description: &schema.description,
        schema_hash: hash,
        checksum: &checksum,
        env,
        run_id,
        sql,
        elapsed_ms: std::cell::Cell::new(0.0),
        metadata,
        documents,
    };
    let t0 = Instant::now();
    let ms = || t0.elapsed().as_secs_f64() * 1000.0;
    // What is deferred is not there before the commit: verified as it will be then, and each
    // deferred object when its step completes (deferred::worker).
    let view = (!online.deferred.is_empty()).then(|| pending_view(schema, online));
    let mut written = None;
    let (result, failed_at) = match preempted {
        Some(e) => (Err(e), None),
        None => {
            // the worker for the deferred steps starts now, while the statements run (its start
            // is over before the late steps' lock is taken); it waits for the commit
            let launched = online::launch(online);
            // the `applied` row and the deferred steps, written inside the apply's subtransaction
            // before the steps that run last (and taken back with everything if anything fails)
            let mut write = || {
                ledger.elapsed_ms.set(ms());
                written = Some(write_applied(
                    &ledger,
                    schema,
                    env,
                    online,
                    launched.as_ref(),
                ));
            };
            let r = execute(view.as_ref().unwrap_or(schema), p, &mut write);
            record_definitions(r.is_ok(), written.as_ref());
            (r, failure::take_last())
        }
    };
    // What PostgreSQL refused: a statement the payload makes impossible is answered as
    // plan_schema's rehearsal answers it — blocked, nothing kept, nothing recorded.
    let refused = result
        .as_ref()
        .err()
        .map(|e| rehearse::refused(schema, p, e.clone(), failed_at));
    if let Some(r) = refused
        .as_ref()
        .filter(|r| r.kind == rehearse::Kind::Payload)
    {
        return blocked_by_refusal(schema, p, r);
    }
    let mut o = match (result, written) {
        (Ok(verification), Some(w)) => applied_answer(w, schema, p, verification, &mut outputs),
        (Ok(_), None) => unreachable!("execute calls write before it returns Ok"),
        (Err((message, sqlstate)), _) => {
            ledger.elapsed_ms.set(ms());
            let id = ledger.insert("failed", Some((&message, &sqlstate)));
            let r = refused.expect("an error was refused");
            let mut o = Outcome::new(
                Status::Failed,
                format!(
                    "Schema v{} failed and was rolled back: {}",
                    schema.version,
                    r.message_naming_table()
                ),
            );
            outputs.insert("migration_log_id".into(), json!(id));
            o.extra.insert("error".into(), r.error_json());
            o
        }
    };
    let id = outputs["migration_log_id"].clone();
    o.outputs = outputs;
    o.data_written
        .push(json!({"table": "revos.schema_migrations", "record_id": id}));
    o
}

/// After the steps that ran last (`ok`: they ran): the constraints they added NOT VALID recorded
/// with the deferred VALIDATE steps as the catalog shows them (`deferred::store::record_definitions`).
fn record_definitions(ok: bool, written: Option<&Written>) {
    if let Some(w) = written.filter(|w| ok && !w.pending.is_empty()) {
        crate::deferred::store::record_definitions(&w.id);
    }
}

/// What `applied` wrote: the ledger row's id, the deferred steps recorded, a warning when no
/// worker could be started for them.
struct Written {
    id: String,
    pending: Vec<Value>,
    warning: Option<String>,
}

/// The ledger row of a plan that ran and verified (with the version's tables), PostgREST told to
/// reload, the deferred steps recorded (for the worker `online::launch` started). Run inside the apply's subtransaction (`execute`), before
/// the steps that run last.
fn write_applied(
    ledger: &LedgerRow<'_>,
    schema: &crate::schema::model::Schema,
    env: &Envelope,
    online: &OnlinePlan,
    launched: Option<&online::Launched>,
) -> Written {
    let id = ledger.insert_applied(&declared_tables(schema));
    let _ = Spi::run("NOTIFY pgrst, 'reload schema'");
    let (pending, warning) =
        online::record(&id, schema, env.tenant_id.as_deref(), online, launched);
    Written {
        id,
        pending,
        warning,
    }
}

/// The `applied` answer: what [`write_applied`] wrote, the verification; the row's id into
/// `outputs`.
fn applied_answer(
    Written {
        id,
        pending,
        warning,
    }: Written,
    schema: &crate::schema::model::Schema,
    p: &Plan,
    verification: Verification,
    outputs: &mut serde_json::Map<String, Value>,
) -> Outcome {
    let mut o = Outcome::new(
        Status::Applied,
        format!(
            "Applied schema v{}: {} tables ({} created, {} altered){}{}",
            schema.version,
            schema.tables.len(),
            p.tables_created,
            p.tables_altered,
            evolution_summary(p),
            pending_summary(pending.len())
        ),
    );
    if !pending.is_empty() {
        o.extra.insert("pending".into(), json!(pending));
    }
    if let Some(w) = warning {
        if let Some(Value::Array(ws)) = outputs.get_mut("warnings") {
            ws.push(json!(w));
        }
    }
    outputs.insert("migration_log_id".into(), json!(id));
    o.extra.insert(
        "verification".into(),
        json!({"ok": verification.ok, "objects_checked": verification.objects_checked,
               "unverified": verification.unverified,
               "not_validated": verification.not_validated}),
    );
    if !verification.validated_later.is_empty() {
        // checks and foreign keys NOT VALID until their deferred VALIDATE runs
        o.extra["verification"]["validated_later"] = json!(verification.validated_later);
    }
    o
}

/// A statement PostgreSQL refused because of the payload: blocked, as plan_schema's rehearsal
/// answers it (nothing kept, nothing recorded).
fn blocked_by_refusal(
    schema: &crate::schema::model::Schema,
    p: &Plan,
    r: &rehearse::Refused,
) -> Outcome {
    let mut o = blocked(vec![r.issue.clone()], vec![]);
    o.outputs
        .insert("schema_version".into(), json!(schema.version));
    o.outputs.insert("warnings".into(), json!(p.warnings));
    o
}

/// `schema_migrations.metadata` of a run: its counts, who asked, the hashes, and (issue 20) what
/// differs on a later conflict, the tables a later version should mention, and the plan as a
/// person reads it.
fn ledger_metadata(
    schema: &crate::schema::model::Schema,
    p: &Plan,
    env: &Envelope,
    payload_hash: &str,
) -> Value {
    json!({
        "table_count": schema.tables.len(),
        "tables_created": p.tables_created,
        "tables_altered": p.tables_altered,
        "indexes_created": p.indexes_created,
        "policies_created": p.policies_created,
        "force_apply": schema.force_apply,
        "actor_id": env.actor_id,
        "trigger_source": env.trigger_source,
        "warnings": p.warnings,
        "payload_hash": payload_hash,
        "payload_jsonb_sha256": memo::current(),
        // issue 20: the tables a later version should mention (the normalized schema and the
        // plan as a person reads it have their own columns: `Documents`)
        "tables": history::tables_of(schema),
    })
}

/// What a later conflict is compared with and the plan as a person reads it (issue 20), kept in
/// `schema_migrations.normalized_schema` and `.plan_text`: documents of hundreds of kilobytes
/// that the small `metadata` (read by every no-op's ledger probe and by the migration's event)
/// must not carry.
struct Documents {
    normalized_schema: Value,
    plan_text: String,
}

impl Documents {
    fn of(schema: &crate::schema::model::Schema, p: &Plan, normalized: &Value) -> Self {
        Documents {
            normalized_schema: normalized.clone(),
            plan_text: plan_text::render(schema, p),
        }
    }

    /// For a table without the columns: into `metadata`.
    fn put_into(&self, metadata: &mut Value) {
        metadata["normalized_schema"] = self.normalized_schema.clone();
        metadata["plan_text"] = json!(self.plan_text);
    }
}

/// Takes the transaction-level advisory lock that serializes schema changes, waiting at most
/// `timeout_ms` (0 = no limit, as for lock_timeout). Free: one pg_try_advisory_xact_lock. Busy:
/// pg_advisory_xact_lock under lock_timeout in a subtransaction, so that running out of time
/// (55P03) comes back as a value, not a raised error.
fn apply_lock(timeout_ms: u64) -> Result<(), (String, String)> {
    if direct::try_advisory_xact_lock(ADVISORY_KEY) {
        return Ok(());
    }
    let saved = setting("lock_timeout");
    set_local("lock_timeout", &format!("{timeout_ms}ms"));
    let r = subtransaction(|| {
        Spi::run_with_args(
            "SELECT pg_catalog.pg_advisory_xact_lock($1)",
            &[ADVISORY_KEY.into()],
        )
        .unwrap_or_else(|e| pgrx::error!("revos: advisory lock failed: {e}"))
    });
    set_local("lock_timeout", saved.as_deref().unwrap_or("0"));
    r
}

/// plan_schema could not read the catalog (another session held a table past lock_timeout):
/// `failed`, with the error naming the tables; nothing recorded.
fn failed_before_planning((message, sqlstate): (String, String)) -> Outcome {
    let mut o = Outcome::new(Status::Failed, format!("Nothing was planned: {message}"));
    o.extra.insert(
        "error".into(),
        json!({"message": message, "sqlstate": sqlstate}),
    );
    o
}

/// Another schema change held the apply lock past lock_timeout_ms: nothing ran, nothing is
/// recorded; the caller may retry.
fn lock_wait_failed((message, sqlstate): (String, String)) -> Outcome {
    let mut o = Outcome::new(
        Status::Failed,
        format!("Another schema change held the apply lock past lock_timeout_ms ({message}); nothing was executed"),
    );
    o.extra.insert(
        "error".into(),
        json!({"message": message, "sqlstate": sqlstate}),
    );
    o
}

/// The version's last applied row: id, schema_hash, applied_at, and the payload hash it was
/// applied from (`metadata.payload_hash`; absent on rows written before it was recorded).
fn last_applied(version: &str) -> Option<(String, String, String, Option<String>)> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT id::text, schema_hash, applied_at::text, metadata ->> 'payload_hash' FROM revos.schema_migrations
              WHERE version = $1 AND status = 'applied' ORDER BY created_at DESC LIMIT 1",
            None,
            &[version.into()],
        )?;
        for row in t {
            return Ok::<_, pgrx::spi::Error>(Some((
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
                row.get::<String>(3)?.unwrap_or_default(),
                row.get::<String>(4)?,
            )));
        }
        Ok(None)
    })
    .unwrap_or_else(|e| pgrx::error!("revos: reading the ledger failed: {e}"))
}

/// The applied or failed row, as revos writes it (`$15`, `$16`: the documents' columns).
const INSERT_ROW: &str = "INSERT INTO revos.schema_migrations
       (version, description, schema_hash, checksum, status, applied_at, tenant_id, idempotency_key,
        workflow_run_id, sql_script, error_message, sqlstate, execution_time_ms, metadata, applied_by,
        normalized_schema, plan_text)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 OPERATOR(pg_catalog.=) 'applied' THEN pg_catalog.now() END,
             $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     RETURNING id::text";

/// The same, into the table of an earlier release's SQL (no documents' columns).
const INSERT_ROW_BEFORE_UPDATE: &str = "INSERT INTO revos.schema_migrations
       (version, description, schema_hash, checksum, status, applied_at, tenant_id, idempotency_key,
        workflow_run_id, sql_script, error_message, sqlstate, execution_time_ms, metadata, applied_by)
     VALUES ($1, $2, $3, $4, $5, CASE WHEN $5 OPERATOR(pg_catalog.=) 'applied' THEN pg_catalog.now() END,
             $6, $7, $8, $9, $10, $11, $12, $13, $14)
     RETURNING id::text";

struct LedgerRow<'a> {
    version: &'a str,
    description: &'a str,
    schema_hash: &'a str,
    checksum: &'a str,
    env: &'a Envelope,
    run_id: &'a str,
    sql: String,
    elapsed_ms: std::cell::Cell<f64>,
    metadata: Value,
    documents: Documents,
}

impl LedgerRow<'_> {
    /// Only revos writes this table: the insert runs as the table's owner (see `writer`), under the
    /// pinned search_path, with its operator and function schema-qualified besides.
    fn insert(&self, status: &str, error: Option<(&str, &str)>) -> String {
        writer::as_ledger_writer(|caller| self.insert_as_owner(status, error, caller))
    }

    /// The `applied` row, and the version's tables in revos.managed_tables (what the drift
    /// capture watches; tables that no longer exist leave it). Both as the ledgers' owner.
    fn insert_applied(&self, tables: &[pg_sys::Oid]) -> String {
        // (an install of an earlier release, before ALTER EXTENSION UPDATE, has no registry)
        if crate::privilege::revos_relation("managed_tables").is_none() {
            return self.insert("applied", None);
        }
        writer::as_ledger_writer(|caller| {
            Spi::run_with_args(
                "INSERT INTO revos.managed_tables (rel)
                 SELECT t::pg_catalog.regclass FROM pg_catalog.unnest($1::pg_catalog.oid[]) t
                 ON CONFLICT DO NOTHING",
                &[tables.to_vec().into()],
            )
            .and_then(|_| {
                Spi::run(
                    "DELETE FROM revos.managed_tables m WHERE NOT EXISTS (
                       SELECT 1 FROM pg_catalog.pg_class c
                        WHERE c.oid OPERATOR(pg_catalog.=) m.rel::pg_catalog.oid)",
                )
            })
            .unwrap_or_else(|e| pgrx::error!("revos: registering the managed tables failed: {e}"));
            // a row there changes set_tenant's tenant types, and a row alone sends no
            // invalidation: every backend forgets them at its next transaction (src/tenant.rs)
            if let Some(registry) = crate::privilege::revos_relation("managed_tables") {
                unsafe { pg_sys::CacheInvalidateRelcacheByRelid(registry) };
            }
            self.insert_as_owner("applied", None, caller)
        })
    }

    fn insert_as_owner(&self, status: &str, error: Option<(&str, &str)>, caller: &str) -> String {
        let columns = ledger_probe::document_columns();
        let mut metadata = self.metadata.clone();
        let (sql, documents) = if columns {
            (INSERT_ROW, Some(&self.documents))
        } else {
            self.documents.put_into(&mut metadata);
            (INSERT_ROW_BEFORE_UPDATE, None)
        };
        let mut args: Vec<pgrx::datum::DatumWithOid> = vec![
            self.version.into(),
            self.description.into(),
            self.schema_hash.into(),
            self.checksum.into(),
            status.into(),
            self.env.tenant_id.clone().into(),
            self.env.idempotency_key.clone().into(),
            self.run_id.into(),
            self.sql.clone().into(),
            error.map(|e| e.0.to_string()).into(),
            error.map(|e| e.1.to_string()).into(),
            self.elapsed_ms.get().into(),
            JsonB(metadata).into(),
            caller.into(),
        ];
        if let Some(d) = documents {
            args.push(JsonB(d.normalized_schema.clone()).into());
            args.push(d.plan_text.as_str().into());
        }
        let id: Option<String> = Spi::get_one_with_args(sql, &args)
            .unwrap_or_else(|e| pgrx::error!("revos: writing the ledger failed: {e}"));
        id.unwrap_or_default()
    }
}

fn setting(name: &str) -> Option<String> {
    direct::setting(name)
}

fn set_local(name: &str, value: &str) {
    direct::set_local(name, value)
}

/// Runs the plan in a subtransaction and verifies the result; on any error rolls the
/// subtransaction back and returns (message, sqlstate).
/// The schema a `schema` step creates: its object is the name (a table's or an object's schema),
/// or the label `schema "name"` of a schema the payload declares (the sixth adversarial review,
/// N3: the label was looked up as a name, found nothing, and passed).
fn schema_of(object: &str) -> String {
    let name = object.strip_prefix("schema ").unwrap_or(object);
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => name.to_string(),
    }
}

/// Right before a declared extension's statement runs: its script's search_path, as the catalog is
/// now, holds only what trusted roles control (`dependencies::check_extension_step`).
fn check_extension_step(
    schema: &crate::schema::model::Schema,
    step: &crate::schema::steps::Step,
    trusted: &[pg_sys::Oid],
) {
    let label = step
        .object
        .strip_prefix("extension ")
        .unwrap_or(&step.object);
    let name = match label.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\"\"", "\""),
        None => label.to_string(),
    };
    let homes = crate::schema::trusted_names::extension_homes(schema);
    let Some((_, home, _)) = homes.iter().find(|(_, _, n)| *n == name) else {
        // fail closed (the fifteenth adversarial review, H3)
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("revos: refused: the plan's step on {} matches no extension of the payload, so its script's search_path cannot be checked", step.object)
        );
    };
    let creating = step.sql.starts_with("CREATE EXTENSION");
    crate::dependencies::check_extension_step(&name, home, creating, trusted);
}

/// What is checked before the first statement, inside the apply's subtransaction.
fn checks_before(
    schema: &crate::schema::model::Schema,
    statements: &[&str],
    trusted: &[pg_sys::Oid],
) {
    // every schema the statements name keeps its name from here on, before any name is
    // resolved (a schema swapped in under a checked table's name: docs/security.md)
    crate::dependencies::hold_schemas(statements);
    // before anything runs: no other role's function where the statements could bind it
    crate::dependencies::check_before(statements, trusted);
    // nor a table another role owns, or a trigger, index, default … of another role's
    // on one: the statements (a backfill UPDATE, a rewrite) would run them as the caller
    // (the tables the statements name are locked first, so that nothing is added to them
    // between the check and the statements; the others are checked as they are)
    let before = tables_before(schema);
    crate::dependencies::check_named(&before, statements, trusted);
    let referenced = referenced_tables(schema);
    crate::dependencies::check_code(&referenced, trusted);
    // and the names still name what was checked (a table renamed before its lock)
    same_tables(&before, &tables_before(schema));
    same_tables(&referenced, &referenced_tables(schema));
    // and, after those waits, the schemas the payload names are still controlled by trusted
    // roles only (one created meanwhile under a name the payload creates: the fifth review, F4)
    let mut issues = vec![];
    let cat = PgCatalog::new(schema.options.tenant_column.as_str());
    crate::schema::trusted_names::check(schema, &cat, &mut issues);
    if let Some(i) = issues.first() {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "revos: refused before running anything: {}: {}",
                i.path, i.message
            )
        );
    }
}

/// Fails the apply's subtransaction (P0004) when the verification found a mismatch.
fn verified_or_fail(v: &Verification) {
    if !v.ok {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_ASSERT_FAILURE,
            format!(
                "revos: verification failed after apply: {}",
                v.mismatches.join("; ")
            )
        );
    }
}

/// Runs `steps` (the plan's, from index `offset`), each as revos's own statement under a pinned
/// search_path; an error names the step (`failure::track`).
fn run_steps(
    schema: &crate::schema::model::Schema,
    steps: &[crate::schema::steps::Step],
    offset: usize,
    trusted: &[pg_sys::Oid],
) {
    Spi::connect_mut(|c| {
        for (i, step) in steps.iter().enumerate() {
            if step.kind == "extension" {
                check_extension_step(schema, step, trusted);
            }
            // Each step under a search_path pinned afresh: a caller's function that an
            // earlier step (or the plan) ran may have set another one for the rest of
            // the call (`set_config('search_path', …, true)` inside revos's nest level),
            // and the step's unqualified names would resolve through it.
            let mut run =
                || crate::privilege::pinned(|| c.update(step.sql.as_str(), None, &[])).map(|_| ());
            // which step PostgreSQL refuses, and where (issue 20: failure)
            failure::track(offset + i, || {
                if matches!(step.kind, "distributed_table" | "reference_table") {
                    writer::own_call(run)
                } else if is_ddl(&step.sql) {
                    writer::own_statement(run)
                } else {
                    // not a DDL command (a backfill's UPDATE, a setting): nothing to
                    // exempt, and DDL a trigger of the caller's runs meanwhile is captured
                    // (a token armed for it would go to the first DDL a trigger or rule
                    // of the table runs)
                    run()
                }
            })?;
            if step.kind == "schema" {
                // the schema is the caller's, or was already another trusted role's: a
                // role that created it first (while the apply waited) owns what is in it
                crate::dependencies::check_schema(&schema_of(&step.object), trusted);
            }
        }
        Ok::<_, pgrx::spi::Error>(())
    })
    .unwrap_or_else(|e| pgrx::error!("{e}"));
}

fn execute(
    schema: &crate::schema::model::Schema,
    p: &Plan,
    write: &mut dyn FnMut(),
) -> Result<Verification, (String, String)> {
    let saved = setting("standard_conforming_strings");
    set_local("standard_conforming_strings", "on");
    // Settings the plan sets for itself (Citus's) are put back afterwards.
    let plan_settings: Vec<(&str, Option<String>)> = p
        .steps
        .iter()
        .filter(|x| matches!(x.kind, "citus_setting" | "setting"))
        .map(|x| (x.object.as_str(), setting(&x.object)))
        .collect();

    // Each step is announced to the drift capture as revos's own (`writer::own_statement`; a
    // Citus distribution call with all its internal DDL: `own_call`); DDL that anything else runs
    // meanwhile (a function in a caller's expression) is recorded as drift.
    // the roles whose objects the result may depend on, before any statement could change them
    let trusted = crate::dependencies::trusted_owners();
    let statements: Vec<&str> = p.steps.iter().map(|s| s.sql.as_str()).collect();
    // The steps that run last (the online forms' `ADD … NOT VALID`, `Plan::last`): after every
    // other one ran and everything else was verified, right before the commit — the lock writers
    // wait for is held from them to the commit. Their tables are verified, whole, after them.
    let (first, last) = p.steps.split_at(p.steps.len() - p.last);
    let split = (!last.is_empty()).then(|| crate::schema::online::split_last(schema, last));
    // from here on, DDL that is not revos's own makes what the apply creates unverifiable by
    // construction (`verify::Context::foreign_ddl`); another apply or plan inside is refused
    let result = writer::watch_foreign_ddl(|| {
        subtransaction(|| {
            checks_before(schema, &statements, &trusted);
            run_steps(schema, first, 0, &trusted);
            let mut v = verify_catalog(split.as_ref().map_or(schema, |s| &s.0), p);
            verified_or_fail(&v);
            let foreign_before_late = writer::foreign_ddl();
            // apply: the ledger row and the deferred steps — before the steps that run last, so
            // that their lock is held only through them, their verification and the commit
            write();
            run_steps(schema, last, first.len(), &trusted);
            // nothing the apply leaves may depend on a temporary or an untrusted object (read as
            // it is: no statement of the apply follows that could run the tables' code)
            crate::dependencies::check_after(&declared_tables(schema), &trusted);
            // nor adopt an object of the payload another role owns (one created while the apply
            // waited, which `CREATE OR REPLACE` kept as that role's)
            owners_after(schema, &trusted);
            if let Some((_, late_tables)) = &split {
                let late = verify_tables(late_tables, p);
                v.objects_checked += late.objects_checked;
                v.mismatches.extend(late.mismatches);
                v.unverified.extend(late.unverified);
                v.not_validated.extend(late.not_validated);
                v.validated_later.extend(late.validated_later);
                // other DDL during the late steps (a superuser's event trigger): what the apply
                // created was verified before it (the review of 55e129f, F3)
                // (any: what was verified before them is not verified again; the review of 523b683, 5)
                if let (None, Some(tag)) = (&foreign_before_late, writer::foreign_ddl()) {
                    v.mismatches.push(format!(
                        "{tag} that revos did not plan ran during the apply's last statements, after the rest was verified: not taken as declared"
                    ));
                }
                v.ok = v.mismatches.is_empty();
                verified_or_fail(&v);
            }
            v
        })
    });
    set_local(
        "standard_conforming_strings",
        saved.as_deref().unwrap_or("on"),
    );
    for (name, value) in plan_settings {
        if let Some(v) = value {
            set_local(name, &v);
        }
    }
    result
}

/// Fails the apply (42501) when an object of the payload is owned by a role it may not be
/// (`schema::trusted_names::owned`; read as it is after the statements, with the roles trusted before
/// them): `CREATE OR REPLACE` (a view, a function, an aggregate) keeps the owner of an object another
/// role created between the check before the statements and them.
fn owners_after(schema: &crate::schema::model::Schema, trusted: &[pg_sys::Oid]) {
    let found: Vec<String> = crate::schema::trusted_names::owned(schema)
        .into_iter()
        .filter_map(|o| {
            crate::dependencies::object_owner(o.class, &o.schema, &o.name, trusted, o.as_table)
                .err()
                .map(|why| format!("{}: {why}", o.path))
        })
        .collect();
    if !found.is_empty() {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("revos: refused: {}", found.join("; "))
        );
    }
}

/// The OIDs of the tables a schema declares, as they exist now (after its DDL), read as the caller
/// under the pinned search_path from quoted, schema-qualified names.
fn declared_tables(schema: &crate::schema::model::Schema) -> Vec<pg_sys::Oid> {
    table_oids(schema.tables.iter().map(|t| t.qualified()).collect())
}

/// The payload's tables that exist before its statements run: under their names, and under the
/// name a table is renamed from.
fn tables_before(schema: &crate::schema::model::Schema) -> Vec<pg_sys::Oid> {
    let mut names: Vec<String> = schema.tables.iter().map(|t| t.qualified()).collect();
    names.extend(schema.tables.iter().filter_map(|t| {
        t.renamed_from
            .as_ref()
            .map(|old| format!("{}.{old}", t.schema))
    }));
    table_oids(names)
}

/// The tables the payload's foreign keys reference: adding or validating a key plans a query
/// over the referenced table, and planning evaluates its index predicates' and expressions'
/// constant calls (the fifth adversarial review: a plain role's IMMUTABLE function ran as a
/// superuser). Their parts' code is checked before any statement runs (not their owners: a key
/// may reference a table of another role, Supabase's auth.users).
fn referenced_tables(schema: &crate::schema::model::Schema) -> Vec<pg_sys::Oid> {
    table_oids(
        schema
            .tables
            .iter()
            .flat_map(|t| {
                t.foreign_keys
                    .iter()
                    .map(|k| format!("{}.{}", k.target_schema, k.target_table))
            })
            .collect(),
    )
}

/// The OIDs of the relations named (qualified, quoted) that exist.
/// Fails (40001) when the tables the payload names are not, after the check locked them, the
/// ones it checked: a table renamed away and another put under its name before the lock.
fn same_tables(checked: &[pg_sys::Oid], now: &[pg_sys::Oid]) {
    if checked != now {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
            "revos: a table the plan names was renamed or replaced while it was checked; nothing ran, retry"
        );
    }
}

fn table_oids(names: Vec<String>) -> Vec<pg_sys::Oid> {
    // `to_regclass` called directly, as the SQL `to_regclass(name)` was (no query planned: two of
    // these run while an online `ADD … NOT VALID` holds its lock; bench/FINDINGS.md 2026-12-07),
    // and read at least as fresh as that query read it. What running it through pgrx's SPI did is
    // done here too (the review of 3d3889e, two Lows): a transaction id assigned (pgrx runs every
    // later query of the transaction read-write, each under a new snapshot) and the command
    // counter advanced (this transaction's own changes seen); then what other sessions committed is
    // taken in and the catalog snapshot dropped (a new query took a new one in READ COMMITTED)
    unsafe {
        let _ = pg_sys::GetCurrentTransactionId();
        pg_sys::CommandCounterIncrement();
        pg_sys::AcceptInvalidationMessages();
        pg_sys::InvalidateCatalogSnapshot();
    }
    names
        .iter()
        .filter_map(|name| unsafe {
            pgrx::fcinfo::direct_function_call::<pg_sys::Oid>(
                pg_sys::to_regclass,
                &[name.as_str().into_datum()],
            )
        })
        .filter(|o| *o != pg_sys::InvalidOid)
        .collect()
}

/// Whether a planned statement is a DDL command (the only kind the drift capture sees, so the
/// only kind announced as revos's own).
fn is_ddl(sql: &str) -> bool {
    let first = sql
        .trim_start()
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    matches!(
        first.as_str(),
        "CREATE" | "ALTER" | "DROP" | "COMMENT" | "GRANT" | "REVOKE"
    )
}

/// Reads back every table and enum of the schema and compares (see `verify`); then the schema
/// objects, the application role's grants and (Citus) the placement.
fn verify_catalog(schema: &crate::schema::model::Schema, p: &Plan) -> Verification {
    let mut v = verify_tables(schema, p);
    objects::verify(schema, p, &mut v);
    let (n, mismatches) = app_role::verify(p);
    v.objects_checked += n;
    v.mismatches.extend(mismatches);
    v.ok = v.mismatches.is_empty();
    if schema.options.citus {
        let (n, mismatches) = distribute::verify_placement(schema, &citus_state());
        v.objects_checked += n;
        v.mismatches.extend(mismatches);
        v.ok = v.mismatches.is_empty();
    }
    v
}

/// The tables and enums of the schema, read back and compared (see `verify`).
fn verify_tables(schema: &crate::schema::model::Schema, p: &Plan) -> Verification {
    let declared = &p.declared;
    // the payload's tables, and the old names and dropped tables that must be gone
    let keys = catalog::catalog_keys(schema);
    let schemas: Vec<String> = keys.iter().map(|k| k.0.clone()).collect();
    let names: Vec<String> = keys.iter().map(|k| k.1.clone()).collect();
    // Index definitions are deparsed only where the plan deparsed the spec's (tables that existed
    // before): a table created by this apply is compared by structure (compare::index_matches).
    let index_defs: Vec<bool> = keys.iter().map(|k| declared.contains_key(k)).collect();
    let mut tables = pg_catalog::load_snapshots_with(&schemas, &names, None, true, &index_defs);
    // compared with the forms the plan compared with (the same deparse of the spec); a table
    // whose forms could not be deparsed stays "cannot compare", with the plan's reason
    for (k, why) in &p.existed {
        if let Some(sn) = tables.get_mut(k) {
            sn.declared = declared.get(k).cloned();
            sn.unreadable = if sn.declared.is_some() {
                None
            } else {
                Some(
                    why.clone()
                        .unwrap_or_else(|| "the declared forms were not deparsed".into()),
                )
            };
        }
    }
    // a table this apply created: its tenant policy compared in full too (a function called
    // during the apply may have changed it), against the declared policy deparsed now
    shadow::declare_created_policies(schema, &mut tables, |k| !p.existed.contains_key(k));
    let cat = PgCatalog::new(schema.options.tenant_column.as_str());
    let mut enums = HashMap::new();
    for e in &schema.enums {
        if let Some(l) = cat.enum_labels(e.schema.as_str(), e.name.as_str()) {
            enums.insert(
                (e.schema.as_str().to_string(), e.name.as_str().to_string()),
                l,
            );
        }
    }
    let cx = crate::schema::verify::Context {
        existed: p.existed.keys().cloned().collect(),
        allow_destructive: schema.options.allow_destructive,
        validated_later: p.validated_later.clone(),
        foreign_ddl: writer::foreign_ddl(),
    };
    verify_with(schema, &tables, &enums, &cx)
}
