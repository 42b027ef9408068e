//! `revos.deferred_steps`: every read and write revos makes of it. Writes run as the ledgers'
//! owner in the ledger phase (`ledger::writer::as_ledger_writer`), so that the table's trigger
//! records each status in `revos.events`; nobody else holds INSERT or UPDATE on it.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

use crate::ledger::writer::as_ledger_writer;
use crate::schema::online::{Cleanup, Completion, Deferred};

/// One step as the worker runs it.
#[derive(Debug, Clone)]
pub struct StepRow {
    pub id: i64,
    pub migration_id: String,
    pub chain: i32,
    pub sql: String,
    pub blocks_writes: bool,
    pub completion: Completion,
    pub cleanup: Option<Cleanup>,
    pub role_name: String,
    pub lock_timeout_ms: i32,
    pub attempts: i32,
    /// What a batched backfill recorded so far (`crate::deferred::backfill::Progress`).
    pub progress: Option<Value>,
    /// The apply's settings the step is read under (`crate::deferred::settings`).
    pub settings: Option<Value>,
}

/// Whether this database has `revos.deferred_steps` (it has not before `ALTER EXTENSION revos
/// UPDATE` to 0.3.0: this build then runs without online forms, and nothing is pending).
pub fn installed() -> bool {
    crate::privilege::revos_relation("deferred_steps").is_some()
}

fn spi_error(what: &str, e: pgrx::spi::Error) -> ! {
    pgrx::error!("revos: {what} (revos.deferred_steps): {e}")
}

/// Records `deferred` as pending steps of migration `migration_id`, to be run as the current
/// user. Returns each step as the envelope lists it.
pub fn record(
    migration_id: &str,
    version: &str,
    tenant: Option<&str>,
    deferred: &[Deferred],
    lock_timeout_ms: u64,
) -> Vec<Value> {
    let role = unsafe { pg_sys::GetUserId() };
    // read as the caller, before the ledger writer's context: what the plan was read under
    let settings = crate::deferred::settings::current();
    as_ledger_writer(|role_name| {
        deferred
            .iter()
            .map(|d| {
                let (schema, table) = d.completion.table();
                let lock = d.step.lock.and_then(|l| serde_json::to_value(l).ok());
                let id: Option<i64> = Spi::get_one_with_args(
                    "INSERT INTO revos.deferred_steps
                       (migration_id, version, tenant_id, chain, kind, schema_name, table_name, sql, lock,
                        completion, cleanup, role_oid, role_name, lock_timeout_ms, settings)
                     VALUES ($1::pg_catalog.uuid, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
                     RETURNING id",
                    &[
                        migration_id.into(),
                        version.into(),
                        tenant.into(),
                        (d.chain as i32).into(),
                        d.step.kind.into(),
                        schema.into(),
                        table.into(),
                        d.step.sql.as_str().into(),
                        lock.as_ref().and_then(Value::as_str).into(),
                        JsonB(json!(d.completion)).into(),
                        d.cleanup.as_ref().map(|c| JsonB(json!(c))).into(),
                        role.into(),
                        role_name.into(),
                        (lock_timeout_ms.min(i32::MAX as u64) as i32).into(),
                        JsonB(settings.clone()).into(),
                    ],
                )
                .unwrap_or_else(|e| spi_error("recording a deferred step failed", e));
                json!({"id": id, "kind": d.step.kind, "object": d.step.object, "sql": d.step.sql,
                       "lock": d.step.lock, "scans": d.step.scans, "status": "pending"})
            })
            .collect()
    })
}

/// After the steps that run last, in the apply's transaction: each `VALIDATE` step of migration
/// `migration_id` whose planned definition was not recorded with it (a foreign key, revos's NOT
/// NULL helper — added `NOT VALID` by those steps) records the definition of the constraint the
/// apply just added (`pg_get_constraintdef` without ` NOT VALID`, under `search_path =
/// pg_catalog, pg_temp`), so that the worker takes no other constraint of that name for it
/// ([`Completion::Validated`]; the adversarial review of ab5a423, 1).
pub fn record_definitions(migration_id: &str) {
    crate::privilege::catalog_path(|| {
        as_ledger_writer(|_| {
            Spi::run_with_args(
            "UPDATE revos.deferred_steps d
                SET completion = d.completion OPERATOR(pg_catalog.||) pg_catalog.jsonb_build_object('definition',
                      pg_catalog.regexp_replace(pg_catalog.pg_get_constraintdef(con.oid), ' NOT VALID$', ''))
               FROM pg_catalog.pg_constraint con
               JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) con.conrelid
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
              WHERE d.migration_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid
                AND d.completion OPERATOR(pg_catalog.->>) 'check' OPERATOR(pg_catalog.=) 'validated'
                AND NOT d.completion OPERATOR(pg_catalog.?) 'definition' AND NOT d.completion OPERATOR(pg_catalog.?) 'key'
                AND n.nspname OPERATOR(pg_catalog.=) d.schema_name AND c.relname OPERATOR(pg_catalog.=) d.table_name
                AND con.conname OPERATOR(pg_catalog.=) (d.completion OPERATOR(pg_catalog.->>) 'name')
                AND con.contype OPERATOR(pg_catalog.<>) 't'",
            &[migration_id.into()],
        )
        .unwrap_or_else(|e| spi_error("recording the deferred constraints' definitions failed", e))
        })
    })
}

/// The steps of a migration that are not done (pending, running or failed), as the envelope
/// lists them, read as the caller (`revos_admin` may read the table).
pub fn unfinished(migration_id: &str) -> Vec<Value> {
    if !installed() {
        return vec![];
    }
    rows_json(
        "SELECT pg_catalog.jsonb_build_object('id', d.id, 'kind', d.kind,
                    'object', pg_catalog.quote_ident(d.schema_name) || '.' || pg_catalog.quote_ident(d.table_name),
                    'sql', d.sql, 'status', d.status, 'attempts', d.attempts,
                    'error_message', d.error_message, 'sqlstate', d.sqlstate)
           FROM revos.deferred_steps d
          WHERE d.migration_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid
            AND d.status OPERATOR(pg_catalog.<>) 'done'
          ORDER BY d.id",
        &[migration_id.into()],
    )
}

/// Steps pending or running on any of `tables` ((schema, table) pairs).
pub fn open_on(tables: &[(String, String)]) -> Vec<Value> {
    if !installed() {
        return vec![];
    }
    let schemas: Vec<&str> = tables.iter().map(|t| t.0.as_str()).collect();
    let names: Vec<&str> = tables.iter().map(|t| t.1.as_str()).collect();
    rows_json(
        "SELECT pg_catalog.jsonb_build_object('id', d.id, 'version', d.version, 'status', d.status,
                    'schema', d.schema_name, 'table', d.table_name, 'sql', d.sql)
           FROM revos.deferred_steps d
           JOIN ROWS FROM (pg_catalog.unnest($1::pg_catalog.text[]), pg_catalog.unnest($2::pg_catalog.text[])) AS k(s, t)
             ON k.s OPERATOR(pg_catalog.=) d.schema_name AND k.t OPERATOR(pg_catalog.=) d.table_name
          WHERE d.status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'running'])
          ORDER BY d.id",
        &[schemas.into(), names.into()],
    )
}

/// The roles that have steps pending or running (their worker may have to be started); a role
/// that no longer exists has none (its steps are shown by deferred_status, `role_gone`).
pub fn roles_with_open_steps() -> Vec<pg_sys::Oid> {
    if !installed() {
        return vec![];
    }
    Spi::connect(|c| {
        let t = c.select(
            "SELECT DISTINCT d.role_oid FROM revos.deferred_steps d
               JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) d.role_oid
              WHERE d.status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'running'])",
            None,
            &[],
        )?;
        let mut out = vec![];
        for row in t {
            if let Some(oid) = row.get::<pg_sys::Oid>(1)? {
                out.push(oid);
            }
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_else(|e| spi_error("reading the open steps failed", e))
}

/// Every row of a one-column jsonb query.
pub fn rows_json(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Vec<Value> {
    Spi::connect(|c| {
        let t = c.select(sql, None, args)?;
        let mut out = vec![];
        for row in t {
            if let Some(JsonB(v)) = row.get::<JsonB>(1)? {
                out.push(v);
            }
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_else(|e| spi_error("reading the deferred steps failed", e))
}

// ---- the worker's transitions (each as the ledgers' owner, in the worker's own transaction) ---

const STEP_COLUMNS: &str = "d.id, d.migration_id::text, d.chain, d.sql,
    d.lock OPERATOR(pg_catalog.=) ANY (ARRAY['SHARE', 'SHARE ROW EXCLUSIVE', 'ACCESS EXCLUSIVE']),
    d.completion, d.cleanup, d.role_name, d.lock_timeout_ms, d.attempts, d.progress, d.settings";

fn step_rows(sql: &str, args: &[pgrx::datum::DatumWithOid]) -> Vec<StepRow> {
    Spi::connect(|c| {
        let t = c.select(sql, None, args)?;
        let mut out = vec![];
        for row in t {
            let completion: Option<JsonB> = row.get(6)?;
            let cleanup: Option<JsonB> = row.get(7)?;
            let Some(completion) = completion.and_then(|j| serde_json::from_value(j.0).ok()) else {
                continue;
            };
            out.push(StepRow {
                id: row.get(1)?.unwrap_or_default(),
                migration_id: row.get(2)?.unwrap_or_default(),
                chain: row.get(3)?.unwrap_or_default(),
                sql: row.get(4)?.unwrap_or_default(),
                blocks_writes: row.get(5)?.unwrap_or(false),
                completion,
                cleanup: cleanup.and_then(|j| serde_json::from_value(j.0).ok()),
                role_name: row.get(8)?.unwrap_or_default(),
                lock_timeout_ms: row.get(9)?.unwrap_or_default(),
                attempts: row.get(10)?.unwrap_or_default(),
                progress: row.get::<JsonB>(11)?.map(|j| j.0),
                settings: row.get::<JsonB>(12)?.map(|j| j.0),
            });
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_else(|e| spi_error("reading a step failed", e))
}

/// Steps of `role` marked running whose worker is gone (with the role's worker lock held by this
/// worker: orphans of a worker that died). One whose `worker_pid` is a live revos deferred process
/// other than this one — of this database and role, started before the step (not a process that
/// took a dead worker's PID: the review of ff36c21, 1) — is not: a worker of an older build,
/// running during an upgrade without the lock this build takes, keeps its step (the review of
/// bd2108e, 1: its concurrent build was taken for an orphan, and its index dropped once valid).
pub fn orphans(role: pg_sys::Oid) -> Vec<StepRow> {
    as_ledger_writer(|_| {
        step_rows(
            &format!(
                "SELECT {STEP_COLUMNS} FROM revos.deferred_steps d
                  WHERE d.role_oid OPERATOR(pg_catalog.=) $1 AND d.status OPERATOR(pg_catalog.=) 'running'
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                                     WHERE a.pid OPERATOR(pg_catalog.=) d.worker_pid
                                       AND a.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
                                       AND a.backend_type OPERATOR(pg_catalog.=) 'revos deferred'
                                       AND a.datid OPERATOR(pg_catalog.=) $2
                                       AND a.usesysid OPERATOR(pg_catalog.=) d.role_oid
                                       AND a.backend_start OPERATOR(pg_catalog.<=) d.started_at)
                  ORDER BY d.id"
            ),
            &[role.into(), unsafe { pg_sys::MyDatabaseId }.into()],
        )
    })
}

/// The next pending step of `role`, in the order the plans recorded them.
pub fn next_pending(role: pg_sys::Oid) -> Option<StepRow> {
    as_ledger_writer(|_| {
        step_rows(
            &format!(
                "SELECT {STEP_COLUMNS} FROM revos.deferred_steps d
                  WHERE d.role_oid OPERATOR(pg_catalog.=) $1 AND d.status OPERATOR(pg_catalog.=) 'pending'
                  ORDER BY d.id LIMIT 1"
            ),
            &[role.into()],
        )
        .into_iter()
        .next()
    })
}

/// Whether `role` has steps pending or running (read by a worker after it released the role's
/// lock: recorded meanwhile, it takes the lock again).
pub fn has_open_steps(role: pg_sys::Oid) -> bool {
    as_ledger_writer(|_| {
        Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT 1 FROM revos.deferred_steps d
                             WHERE d.role_oid OPERATOR(pg_catalog.=) $1
                               AND d.status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'running']))",
            &[role.into()],
        )
        .unwrap_or_else(|e| spi_error("reading the open steps failed", e))
        .unwrap_or(false)
    })
}

/// Fails (0A000) every pending or running step of `role` whose recorded completion this build of
/// revos cannot read (written by another build: a downgrade, rows restored from a newer one, a hand
/// edit), the rest of its chain with it; returns how many. Skipped silently, such a row stayed open
/// for ever: the worker found nothing to run while the role still had an open step, and took its
/// lock again at once, without end (the review of 253be3a, 1).
pub fn fail_unreadable(role: pg_sys::Oid) -> usize {
    as_ledger_writer(|_| {
        let rows: Vec<(i64, String, i32, String)> = Spi::connect(|c| {
            let t = c.select(
                "SELECT d.id, d.migration_id::pg_catalog.text, d.chain, d.completion::pg_catalog.text
                   FROM revos.deferred_steps d
                  WHERE d.role_oid OPERATOR(pg_catalog.=) $1
                    AND d.status OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'running'])
                  ORDER BY d.id",
                None,
                &[role.into()],
            )?;
            let mut out = vec![];
            for row in t {
                out.push((
                    row.get::<i64>(1)?.unwrap_or_default(),
                    row.get::<String>(2)?.unwrap_or_default(),
                    row.get::<i32>(3)?.unwrap_or_default(),
                    row.get::<String>(4)?.unwrap_or_default(),
                ));
            }
            Ok::<_, pgrx::spi::Error>(out)
        })
        .unwrap_or_else(|e| spi_error("reading the open steps failed", e));
        let mut n = 0;
        for (id, migration_id, chain, completion) in rows {
            if serde_json::from_str::<Completion>(&completion).is_ok() {
                continue;
            }
            failed(
                id,
                "not run: its recorded completion is not one this build of revos reads (recorded by another build?)",
                "0A000",
            );
            skip_chain(&migration_id, chain, id);
            n += 1;
        }
        n
    })
}

/// pending -> running (one more attempt, this worker's pid, started now).
pub fn start(id: i64) {
    update(
        "UPDATE revos.deferred_steps SET status = 'running', attempts = attempts OPERATOR(pg_catalog.+) 1,
                worker_pid = pg_catalog.pg_backend_pid(), started_at = pg_catalog.clock_timestamp(),
                finished_at = NULL, error_message = NULL, sqlstate = NULL
          WHERE id OPERATOR(pg_catalog.=) $1",
        id,
        None,
    );
}

/// A running step's progress (a batched backfill's rows and batches so far), in the transaction of
/// the batch it counts: its status does not change, so no event is written for it.
pub fn progress(id: i64, progress: &Value) {
    as_ledger_writer(|_| {
        Spi::run_with_args(
            "UPDATE revos.deferred_steps SET progress = $2 WHERE id OPERATOR(pg_catalog.=) $1",
            &[id.into(), JsonB(progress.clone()).into()],
        )
        .unwrap_or_else(|e| spi_error("recording a step's progress failed", e))
    })
}

/// running -> done.
pub fn done(id: i64) {
    update(
        "UPDATE revos.deferred_steps SET status = 'done', finished_at = pg_catalog.clock_timestamp()
          WHERE id OPERATOR(pg_catalog.=) $1",
        id,
        None,
    );
}

/// -> failed, with the error and its SQLSTATE.
pub fn failed(id: i64, message: &str, sqlstate: &str) {
    update(
        "UPDATE revos.deferred_steps SET status = 'failed', finished_at = pg_catalog.clock_timestamp(),
                error_message = $2, sqlstate = $3
          WHERE id OPERATOR(pg_catalog.=) $1",
        id,
        Some((message, sqlstate)),
    );
}

/// running -> pending again (its worker died, or it waited for a lock past its timeout): the
/// reason is kept until it runs again.
pub fn again(id: i64, message: &str, sqlstate: &str) {
    update(
        "UPDATE revos.deferred_steps SET status = 'pending', worker_pid = NULL,
                error_message = $2, sqlstate = $3
          WHERE id OPERATOR(pg_catalog.=) $1",
        id,
        Some((message, sqlstate)),
    );
}

/// The pending steps after a failed one in its chain fail too, unrun (only those after it: an
/// unreadable step's chain may have earlier ones still pending, which run; the review of
/// c6eb313, B2).
pub fn skip_rest_of_chain(failed: &StepRow) {
    skip_chain(&failed.migration_id, failed.chain, failed.id)
}

fn skip_chain(migration_id: &str, chain: i32, failed_id: i64) {
    as_ledger_writer(|_| {
        Spi::run_with_args(
            "UPDATE revos.deferred_steps SET status = 'failed', finished_at = pg_catalog.clock_timestamp(),
                    error_message = 'not run: step ' || $3 || ' of its chain failed'
              WHERE migration_id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid
                AND chain OPERATOR(pg_catalog.=) $2 AND status OPERATOR(pg_catalog.=) 'pending'
                AND id OPERATOR(pg_catalog.>) $4",
            &[
                migration_id.into(),
                chain.into(),
                failed_id.to_string().into(),
                failed_id.into(),
            ],
        )
        .unwrap_or_else(|e| spi_error("skipping a chain failed", e))
    })
}

fn update(sql: &str, id: i64, error: Option<(&str, &str)>) {
    as_ledger_writer(|_| {
        let r = match error {
            None => Spi::run_with_args(sql, &[id.into()]),
            Some((m, s)) => Spi::run_with_args(sql, &[id.into(), m.into(), s.into()]),
        };
        r.unwrap_or_else(|e| spi_error("updating a step failed", e))
    })
}
