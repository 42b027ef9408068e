//! `revos.deferred_status(version)`: what is pending, running, done or failed; a step `running`
//! whose worker is gone is reported `interrupted`, and a worker is started for every role with
//! open steps and none running (so a step left by a killed worker or a restart is taken up again
//! here, never forgotten).

use serde_json::{json, Value};

use crate::deferred::{launch, store};

/// The report (see the module comment): counts by status (of `version`, or of every version), and
/// the steps — of `version` when given (all of them), else every step not done and the 100 most
/// recent done.
pub fn report(version: Option<&str>) -> Value {
    let steps = store::rows_json(
        "SELECT pg_catalog.jsonb_build_object('id', d.id, 'version', d.version,
                    'migration_id', d.migration_id, 'chain', d.chain, 'kind', d.kind,
                    'object', pg_catalog.quote_ident(d.schema_name) || '.' || pg_catalog.quote_ident(d.table_name),
                    'sql', d.sql, 'lock', d.lock, 'status', d.status, 'attempts', d.attempts,
                    'role', d.role_name, 'role_oid', d.role_oid::pg_catalog.int8, 'worker_pid', d.worker_pid,
                    'started_at', d.started_at, 'finished_at', d.finished_at,
                    'error_message', d.error_message, 'sqlstate', d.sqlstate, 'created_at', d.created_at,
                    'progress', d.progress,
                    'role_gone', NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                                              WHERE r.oid OPERATOR(pg_catalog.=) d.role_oid
                                                AND r.rolname OPERATOR(pg_catalog.=) d.role_name))
           FROM revos.deferred_steps d
          WHERE CASE WHEN $1::pg_catalog.text IS NULL
                     THEN d.status OPERATOR(pg_catalog.<>) 'done'
                          OR d.id OPERATOR(pg_catalog.=) ANY (ARRAY(
                               SELECT x.id FROM revos.deferred_steps x
                                WHERE x.status OPERATOR(pg_catalog.=) 'done' ORDER BY x.id DESC LIMIT 100))
                     ELSE d.version OPERATOR(pg_catalog.=) $1 END
          ORDER BY d.id",
        &[version.into()],
    );
    let mut counts = json!({"pending": 0, "running": 0, "done": 0, "failed": 0, "interrupted": 0});
    for (status, n) in status_counts(version) {
        counts[status.as_str()] = json!(n);
    }
    let mut alive = std::collections::HashMap::new();
    let steps: Vec<Value> = steps
        .into_iter()
        .map(|mut s| {
            if s["status"] == "running" {
                let oid = s["role_oid"].as_u64().unwrap_or(0) as u32;
                let up = *alive
                    .entry(oid)
                    .or_insert_with(|| launch::alive(pgrx::pg_sys::Oid::from(oid)));
                s["worker_alive"] = json!(up);
                if !up {
                    s["status"] = json!("interrupted");
                }
            }
            s
        })
        .collect();
    // a step shown interrupted is counted so, not as running
    let interrupted = steps
        .iter()
        .filter(|s| s["status"] == "interrupted")
        .count() as i64;
    let running = counts["running"].as_i64().unwrap_or(0);
    counts["running"] = json!((running - interrupted).max(0));
    counts["interrupted"] = json!(interrupted);
    // after the steps were read: a worker started now does not hide an interrupted step
    let (started, refused) = launch::resume();
    counts["workers_started"] = json!(started);
    if refused > 0 {
        counts["warning"] = json!(format!(
            "{refused} deferred worker(s) could not be started: no free background worker slot (max_worker_processes); call again later"
        ));
    }
    counts["steps"] = json!(steps);
    counts
}

/// Steps by status: of `version`, or of every version.
fn status_counts(version: Option<&str>) -> Vec<(String, i64)> {
    store::rows_json(
        "SELECT pg_catalog.jsonb_build_object('s', d.status, 'n', pg_catalog.count(*))
           FROM revos.deferred_steps d
          WHERE $1::pg_catalog.text IS NULL OR d.version OPERATOR(pg_catalog.=) $1
          GROUP BY d.status",
        &[version.into()],
    )
    .into_iter()
    .filter_map(|v| Some((v["s"].as_str()?.to_string(), v["n"].as_i64()?)))
    .collect()
}
