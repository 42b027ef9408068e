//! The batched backfill (contract §14, issue 23): the deferred step of an `ADD COLUMN` whose
//! default is volatile, run by the deferred worker as the role that applied it. The apply's
//! transaction added the column nullable and set its default (catalog only: rows written since
//! get it); here every existing row gets it:
//!
//! ```text
//! refuse when row security applies to the role on the table (the UPDATE would skip hidden rows)
//! pass 1: end = the relation's size in pages now; from the recorded page (0, or where a killed
//!         worker's last committed batch ended) to end, batch_pages pages at a time:
//!           UPDATE t SET c = DEFAULT WHERE ctid >= '(a,0)' AND ctid < '(b,0)' AND c IS NULL
//!           + the step's progress (rows, batches, next page), in the batch's own transaction
//! check:  no row with c IS NULL -> Ok; else another pass over the whole table (a concurrent
//!         UPDATE of a row not filled yet may move it behind the pass), at most MAX_PASSES
//! ```
//!
//! Batches are page ranges (a TID range scan, PostgreSQL ≥ 14), not row counts: a batch reads
//! exactly its pages, whatever rows were filled before or are dead, so its cost is bounded without
//! an index or a sort, and resuming needs only the next page. `revos.backfill_batch_pages`
//! (default [`DEFAULT_BATCH_PAGES`], 2 MB of 8 kB pages: a few thousand to tens of thousands of
//! narrow rows, each locked only until its batch commits) is read when a pass starts, from the
//! worker's session (the role's or the database's setting: `ALTER ROLE … IN DATABASE … SET`).
//!
//! Every trigger of the table fires on each batch's UPDATE (application triggers included: they
//! see one update of every row) — so each batch first refuses what the applying role does not
//! trust ([`guard`]); revos's own `touch_updated_at` does not change `updated_at`
//! while [`in_batch`] (a flag of the worker's process, set only here: no SQL can set it).
//! A NULL an application writes explicitly into the new column before its row's batch is filled
//! with the default too (the column is new: no row had a value before the apply).

use pgrx::pg_sys;
use pgrx::prelude::*;
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::ffi::CString;

use crate::deferred::exec::own_transaction;
use crate::deferred::store::{self, StepRow};
use crate::ident::quote_ident;
use crate::schema::online::Completion;

/// Pages per batch unless `revos.backfill_batch_pages` says otherwise.
pub const DEFAULT_BATCH_PAGES: i64 = 256;
/// Passes over the table before rows still NULL fail the step.
pub const MAX_PASSES: i64 = 3;

thread_local! {
    static IN_BATCH: Cell<bool> = const { Cell::new(false) };
}

/// Whether this process is running a backfill batch's UPDATE (`revos.backfilling()`, which
/// `revos.touch_updated_at()` reads).
pub fn in_batch() -> bool {
    IN_BATCH.with(Cell::get)
}

/// What the step has done so far, recorded with each batch (`revos.deferred_steps.progress`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Progress {
    pub rows: i64,
    pub batches: i64,
    pub pass: i64,
    pub next_page: i64,
    pub end_page: i64,
    pub batch_pages: i64,
}

/// The table and column of a backfill step, as the worker finds them now.
struct Target {
    oid: pg_sys::Oid,
    table: String,
    column: String,
}

/// Runs the backfill of `step` (see the module comment): Ok once no row of the table has the
/// column NULL, or the error of the batch that failed (its transaction rolled back; the batches
/// before it stay committed and counted).
pub fn run(step: &StepRow) -> Result<(), (String, String)> {
    let t = target(&step.completion)?;
    let mut p: Progress = step
        .progress
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .filter(|p: &Progress| p.pass > 0)
        .unwrap_or_default();
    if p.pass == 0 {
        p = next_pass(&t, &p)?;
    }
    loop {
        while p.next_page < p.end_page {
            let to = (p.next_page + p.batch_pages).min(p.end_page);
            p = batch(step.id, &t, &p, to)?;
        }
        match filled(&step.completion) {
            Ok(()) => return Ok(()),
            Err(why) if p.pass >= MAX_PASSES => {
                return Err((format!("{why} after {} passes", p.pass), "P0004".into()))
            }
            Err(_) => p = next_pass(&t, &p)?,
        }
    }
}

/// One batch, in its own transaction: the UPDATE of pages `[p.next_page, to)` and the progress
/// it makes. Returns the progress after it.
///
/// `UPDATE ONLY`: the pages are this table's, and so are the parts [`guard`] checks. Without ONLY
/// the UPDATE also updated the rows of every table that inherits from it — a table its owner can
/// create at any moment (`CREATE TABLE … () INHERITS`), with a trigger of its own that no check
/// read and that ran with the applying role's privileges. An inheriting table's rows stay NULL
/// (its pages are not the parent's): the completion check, which reads them, fails the step.
fn batch(id: i64, t: &Target, p: &Progress, to: i64) -> Result<Progress, (String, String)> {
    let sql = format!(
        "WITH filled AS (UPDATE ONLY {table} SET {c} = DEFAULT
                          WHERE ctid OPERATOR(pg_catalog.>=) '({from},0)'::pg_catalog.tid
                            AND ctid OPERATOR(pg_catalog.<) '({to},0)'::pg_catalog.tid
                            AND {c} IS NULL RETURNING 1)
         SELECT pg_catalog.count(*) FROM filled",
        table = t.table,
        c = t.column,
        from = p.next_page,
    );
    let activity = CString::new(sql.as_str()).map_err(|_| nul())?;
    IN_BATCH.with(|f| f.set(true));
    let r = own_transaction(&activity, || {
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
        guard(t);
        let n = Spi::get_one::<i64>(&sql)
            .unwrap_or_else(|e| pgrx::error!("revos backfill: {e}"))
            .unwrap_or(0);
        IN_BATCH.with(|f| f.set(false));
        let next = Progress {
            rows: p.rows + n,
            batches: p.batches + 1,
            next_page: to,
            ..p.clone()
        };
        store::progress(id, &serde_json::json!(next));
        next
    });
    IN_BATCH.with(|f| f.set(false));
    r
}

/// Before each batch's UPDATE, with the table locked ROW EXCLUSIVE (no trigger, check or index can
/// be added until the batch commits: each needs a lock that conflicts with it): what the UPDATE
/// runs besides the default — triggers, rules, checks, index expressions — may depend on nothing the
/// applying role does not trust (`crate::dependencies`: a function of a role that is neither a
/// superuser, nor the applying role, nor one listed in `revos.trusted_roles`). The table's owner may be such a
/// role (a superuser applied a change to another role's table): its trigger would otherwise run
/// with the applying role's privileges, which the blocking form (a rewrite fires no trigger) never
/// gave it. Refused: the batch fails (42501), and with it the step.
///
/// The batch's statements name the table; the lock taken by that name must be on the table found
/// when the step started (`t.oid`), whose dependencies are checked: otherwise its owner could
/// rename it between two batches and put a table of its own, with a trigger of its own, under its
/// name — the check would read the old table while the UPDATE ran the new one's trigger as the
/// applying role. Once locked, the name cannot change hands until the batch commits.
///
/// The table's schema is locked first (`dependencies::hold_schemas`), and the name compared again
/// after the check's waits: a schema swapped under the name while the check waited for the
/// swapper's transaction made a batch's UPDATE run on the swapper's table, with its trigger, as the
/// applying role (the adversarial review of 08eb1c3, H1).
fn guard(t: &Target) {
    crate::dependencies::hold_schemas(&[t.table.as_str()]);
    Spi::run(&format!("LOCK TABLE {} IN ROW EXCLUSIVE MODE", t.table))
        .unwrap_or_else(|e| pgrx::error!("revos backfill: {e}"));
    same_table(t);
    let trusted = crate::dependencies::trusted_owners();
    crate::dependencies::check_owner(t.oid, &trusted);
    crate::dependencies::check(&[t.oid], &trusted);
    same_table(t);
}

/// Fails (42501) when `t.table` no longer names the table the step started on.
fn same_table(t: &Target) {
    let now = Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
        &[t.table.as_str().into()],
    )
    .unwrap_or_else(|e| pgrx::error!("revos backfill: {e}"));
    if now != Some(t.oid) {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "revos backfill refused: {} is no longer the table the step started on (renamed or replaced since)",
                t.table
            )
        );
    }
}

/// The next pass: from page 0 to the relation's size now, with the batch size set now (the first
/// pass starts here too).
fn next_pass(t: &Target, p: &Progress) -> Result<Progress, (String, String)> {
    let (pages, setting) = own_transaction(c"revos backfill: the table's size", || {
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
        Spi::get_two_with_args::<i64, String>(
            "SELECT pg_catalog.pg_relation_size($1)
                      OPERATOR(pg_catalog./) pg_catalog.current_setting('block_size')::pg_catalog.int8,
                    pg_catalog.current_setting('revos.backfill_batch_pages', true)",
            &[t.oid.into()],
        )
        .unwrap_or_else(|e| pgrx::error!("revos backfill: {e}"))
    })?;
    let batch_pages = setting
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_BATCH_PAGES)
        .min(i64::from(u32::MAX));
    Ok(Progress {
        pass: p.pass + 1,
        next_page: 0,
        end_page: pages.unwrap_or(0),
        batch_pages,
        ..p.clone()
    })
}

/// The step's table (by name, as recorded; by OID from here on) and column, quoted; Err when the
/// table is gone, or when row security applies to this role on it (its UPDATE would skip the
/// rows the policy hides, and the check would not see them).
fn target(c: &Completion) -> Result<Target, (String, String)> {
    let Completion::Backfilled {
        schema,
        table,
        column,
    } = c
    else {
        return Err(("not a backfill step".into(), "XX000".into()));
    };
    let found = own_transaction(c"revos backfill: the table", || {
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
        Spi::get_two_with_args::<pg_sys::Oid, bool>(
            "SELECT c.oid, pg_catalog.row_security_active(c.oid) FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
              WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2",
            &[schema.as_str().into(), table.as_str().into()],
        )
        .unwrap_or((None, None))
    })?;
    match found {
        (Some(oid), Some(false)) => Ok(Target {
            oid,
            table: format!("{}.{}", quote_ident(schema), quote_ident(table)),
            column: quote_ident(column),
        }),
        (Some(_), _) => Err((
            format!("row level security applies to this role on {schema}.{table}: a backfill run as it would not see every row (apply as a superuser or a BYPASSRLS role, or with options.online: false)"),
            "42501".into(),
        )),
        (None, _) => Err((format!("the table {schema}.{table} is gone"), "42P01".into())),
    }
}

/// The completion check: no row of the table has the column NULL (Err says how it is not: row
/// security hiding rows from this role counts as not checked).
///
/// The query is planned over the table only after the batch's [`guard`] in the same transaction:
/// the schema held, the table locked by name and compared with the one found, its owner and parts
/// checked. Without it the check planned `… FROM "w"."bf"` over whatever table a schema swap had
/// put under the name — the planner evaluated that table's index predicate, its owner's function,
/// as the applying role — and answered "filled" from that table: the step was recorded done while
/// the real table kept every NULL (the adversarial review of cf35c2f, F3). `guard` fails the step
/// (42501) instead.
pub fn filled(c: &Completion) -> Result<(), String> {
    let t = target(c).map_err(|(m, _)| m)?;
    let sql = format!(
        "SELECT NOT EXISTS (SELECT 1 FROM {} WHERE {} IS NULL)",
        t.table, t.column
    );
    let activity = CString::new(sql.as_str()).map_err(|_| nul().0)?;
    let ok = own_transaction(&activity, || {
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
        guard(&t);
        Spi::get_one::<bool>(&sql).unwrap_or_else(|e| pgrx::error!("revos backfill: {e}"))
    })
    .map_err(|(m, _)| m)?;
    match ok {
        Some(true) => Ok(()),
        _ => Err(format!("{}: rows with {} NULL remain", t.table, t.column)),
    }
}

fn nul() -> (String, String) {
    ("a NUL byte in a name".into(), "22021".into())
}
