//! The envelope every call answers with, one shape for every status (issue 20): `result` always
//! has the same keys, and `primary_outputs` always the same keys — empty arrays, zeros and nulls
//! where nothing happened — so that a caller (n8n, PostgREST) can branch on `result.status` and
//! read any key without checking that it is there.
//!
//! The counts say what was kept: they are the plan's for `applied` and `planned` (what would be
//! kept), and zero for every other status (nothing was kept, whatever was attempted).

use serde_json::{json, Map, Value};
use std::time::Instant;

use crate::apply::direct;
use crate::error::{Issue, Status};
use crate::ident::sha256_hex;
use crate::schema::normalize::canonical_json;

/// The counts of `primary_outputs`, in their order.
pub const COUNTS: &[&str] = &[
    "tables_created",
    "tables_altered",
    "indexes_created",
    "policies_created",
    "enums_created",
    "tables_renamed",
    "columns_renamed",
    "tables_dropped",
    "columns_dropped",
    "indexes_dropped",
    "enums_recreated",
];

/// Everything the envelope reports, gathered along the way.
pub struct Outcome {
    pub status: Status,
    pub summary: String,
    pub outputs: Map<String, Value>,
    pub extra: Map<String, Value>,
    pub data_written: Vec<Value>,
}

impl Outcome {
    pub fn new(status: Status, summary: String) -> Self {
        Outcome {
            status,
            summary,
            outputs: Default::default(),
            extra: Default::default(),
            data_written: vec![],
        }
    }
}

/// `blocked`: the validation errors (the first one in the summary) and/or the risks.
pub fn blocked(issues: Vec<Issue>, risks: Vec<Value>) -> Outcome {
    let summary = match issues.first() {
        None => format!(
            "Blocked: {} risky change(s); set options.allow_destructive to apply them",
            risks.len()
        ),
        Some(first) => format!(
            "Blocked: {} validation error(s){}: {}: {}{}; nothing was executed",
            issues.len(),
            if issues.len() > 1 { ", the first" } else { "" },
            first.path,
            first.message,
            first
                .hint
                .as_ref()
                .map(|h| format!(" (hint: {h})"))
                .unwrap_or_default()
        ),
    };
    let mut o = Outcome::new(Status::Blocked, summary);
    o.extra.insert("validation_errors".into(), json!(issues));
    o.extra.insert("risks".into(), json!(risks));
    o
}

/// `result`'s keys besides status, summary and primary_outputs, with their value when the status
/// has none.
fn result_defaults() -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in [
        ("validation_errors", json!([])),
        ("risks", json!([])),
        ("error", Value::Null),
        ("verification", Value::Null),
        ("plan", Value::Null),
        ("already_applied_at", Value::Null),
        ("applied_schema_hash", Value::Null),
        ("differences", json!([])),
        // online changes (contract §14): the deferred steps of the version not done yet, the
        // plan hash (plan_schema; a stale_plan answer), earlier versions' steps open on its tables
        ("pending", json!([])),
        ("plan_hash", Value::Null),
        ("deferred_pending", json!([])),
    ] {
        m.insert(k.into(), v);
    }
    m
}

/// `primary_outputs` with every key: the counts (zero unless the status keeps or plans
/// something), the version and hashes (null when unknown), the warnings.
fn outputs(status: Status, given: Map<String, Value>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("schema_version".into(), Value::Null);
    let counted = matches!(status, Status::Applied | Status::Planned);
    for k in COUNTS {
        let n = given.get(*k).filter(|_| counted).cloned();
        m.insert((*k).into(), n.unwrap_or(json!(0)));
    }
    for k in [
        "migration_log_id",
        "schema_hash",
        "checksum",
        "already_applied_at",
    ] {
        m.insert(k.into(), Value::Null);
    }
    m.insert("plan_hash".into(), Value::Null);
    m.insert("deferred_steps".into(), json!(0));
    m.insert("warnings".into(), json!([]));
    for (k, v) in given {
        if !COUNTS.contains(&k.as_str()) {
            m.insert(k, v);
        }
    }
    m
}

pub fn envelope(
    workflow_name: &str,
    run_id: &str,
    started: Instant,
    inputs_hash: &str,
    o: Outcome,
) -> Value {
    let success = o.status.success();
    let sqlstate = o
        .extra
        .get("error")
        .and_then(|e| e.get("sqlstate"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut result = Map::new();
    result.insert("status".into(), json!(o.status));
    result.insert("summary".into(), json!(o.summary));
    result.insert(
        "primary_outputs".into(),
        Value::Object(outputs(o.status, o.outputs)),
    );
    result.extend(result_defaults());
    for (k, v) in o.extra {
        result.insert(k, v);
    }
    let result = Value::Object(result);
    let outputs_hash = sha256_hex(canonical_json(&result).as_bytes());
    set_response_status(o.status.http_for(sqlstate.as_deref()));
    json!({
        "meta_out": {
            "workflow_name": workflow_name,
            "workflow_run_id": run_id,
            "latency_ms": started.elapsed().as_millis() as u64,
            "success": success,
            "inputs_hash": inputs_hash,
            "outputs_hash": outputs_hash,
        },
        "result": result,
        "audit": {"phi_touched": false, "data_written": o.data_written, "external_calls": []},
    })
}

/// Under PostgREST (`request.method` is set) the HTTP status follows the outcome.
fn set_response_status(code: &str) {
    if direct::setting("request.method").is_some_and(|m| !m.is_empty()) {
        direct::set_local("response.status", code);
    }
}

pub fn new_run_id() -> String {
    format!("wr_{}", direct::random_uuid())
}
