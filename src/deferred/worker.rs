//! The deferred worker: a dynamic background worker connected to one database as one role (the
//! role that applied the steps it runs, by OID — never a superuser it was not), which runs that
//! role's pending steps one by one after the apply that recorded them committed.
//!
//! ```text
//! connect (db, role) ─ search_path pinned for the session ─ nice 10, no parallel workers (it yields
//!   to the application's writers) ─ wait for the apply lock (= the commit) ─ 5 ms more (the
//!   writers queued behind the apply's lock run first)
//!   ─ session lock (WORKER_LOCK, role), tried outside any transaction: one worker per role; while
//!     held, a running step is ours. Held by another worker of the role: this one ends (that one
//!     reads the steps again after releasing it); held by anything else: tried again every 200 ms
//!   ─ orphans (running, their worker died): INVALID index dropped; pending again, or failed after
//!     MAX_ATTEMPTS
//!   ─ each pending step, oldest first:
//!       already complete? -> done
//!       running -> under the apply's settings (settings::restore; one that cannot be set fails it),
//!                  its SQL at top level, only as recorded (exec::step_statement, shape), or a
//!                  backfill's batches (backfill::run)
//!       -> completion checked -> done
//!       error: lock timeout / deadlock -> pending again (backoff) up to MAX_ATTEMPTS; else failed:
//!              cleanup (an INVALID index dropped, revos's NOT NULL helper dropped), the rest of
//!              its chain failed unrun
//!   ─ lock released; steps pending or running meanwhile (handed over)? -> the lock again, else end
//! ```
//!
//! SIGTERM (`pg_terminate_backend`, a shutdown) ends the worker at once, like any backend (`die`):
//! the step it ran stays `running` and is recovered by the next worker — which the terminated one
//! starts as it exits (`successor`; none at a shutdown). SIGINT
//! (`pg_cancel_backend`) cancels the step: it fails (57014), with its cleanup — in its back-off
//! after a lock timeout too; while the worker waits for the apply's end or its role's lock, or
//! writes its bookkeeping, it is dropped.

use pgrx::bgworkers::BackgroundWorker;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::time::Duration;

use crate::deferred::backfill;
use crate::deferred::exec::{step_statement, toplevel};
use crate::deferred::settings;
use crate::deferred::store::{self, StepRow};
use crate::deferred::successor;
use crate::deferred::wait::{ignore_cancel_between_steps, nap};
use crate::deferred::{role_lock, APPLY_LOCK, MAX_ATTEMPTS, WORKER_LOCK};
use crate::ident::quote_ident;
use crate::privilege::PINNED_SEARCH_PATH;
use crate::schema::online::{Cleanup, Completion};

/// The worker's entry point (`bgw_function_name`); `bgw_extra` is "<database oid> <role oid>".
#[pg_guard]
#[no_mangle]
pub extern "C-unwind" fn revos_deferred_main(arg: pg_sys::Datum) {
    // SIGTERM: PostgreSQL's `die`, and a successor started at exit (before connecting: see there)
    successor::arm();
    unsafe { pg_sys::BackgroundWorkerUnblockSignals() };
    let mut ids = BackgroundWorker::get_extra()
        .split(' ')
        .map(|x| x.parse::<u32>().unwrap_or(0));
    let (db, role) = (ids.next().unwrap_or(0), ids.next().unwrap_or(0));
    if db == 0 || role == 0 {
        pgrx::error!("revos deferred worker: started without a database and a role");
    }
    let (db, role) = (pg_sys::Oid::from(db), pg_sys::Oid::from(role));
    #[cfg(any(feature = "pg15", feature = "pg16"))]
    let flags = 0;
    #[cfg(not(any(feature = "pg15", feature = "pg16")))]
    let flags = pg_sys::BGWORKER_BYPASS_ROLELOGINCHECK;
    // a successor: not at once (a session that terminated the database's sessions acts first)
    successor::delay(successor::generation(arg));
    unsafe { pg_sys::BackgroundWorkerInitializeConnectionByOid(db, role, flags) };
    run(role);
}

extern "C-unwind" {
    /// utils/timeout.h (not in pgrx's bindings): reads a timeout's indicator, and resets it.
    fn get_timeout_indicator(id: std::ffi::c_uint, reset_indicator: bool) -> bool;
}
/// `TimeoutId`'s LOCK_TIMEOUT and STATEMENT_TIMEOUT: the same in PostgreSQL 15 to 18's timeout.h.
const LOCK_TIMEOUT: std::ffi::c_uint = 2;
const STATEMENT_TIMEOUT: std::ffi::c_uint = 3;

/// One of the worker's own transactions (bookkeeping, catalog reads; a step runs in
/// `exec::own_transaction`). A cancel meanwhile is held off, then dropped: there is no step to
/// cancel, and it ended the worker, stranding the steps handed over to it (the review of 253be3a,
/// 2, and of cdbae80, L2: a second cancel while a canceled step was marked failed). A lock or
/// statement timeout is a cancel too (PostgreSQL's handlers raise one): held off, it is dropped
/// the same way, its indicator cleared (the next cancel would read as one).
fn tx<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe + std::panic::RefUnwindSafe) -> R {
    unsafe { pg_sys::QueryCancelHoldoffCount += 1 };
    let r = BackgroundWorker::transaction(f);
    unsafe {
        pg_sys::QueryCancelHoldoffCount -= 1;
        get_timeout_indicator(LOCK_TIMEOUT, true);
        get_timeout_indicator(STATEMENT_TIMEOUT, true);
    }
    ignore_cancel_between_steps();
    r
}

fn run(role: pg_sys::Oid) {
    // no revos call from what a step runs (the review of the stop 48 change, F4)
    crate::ledger::writer::refuse_calls_in_this_process();
    // Before any other SQL: the pinned search_path for the whole session, over the role's and the
    // database's settings (`ALTER ROLE … SET search_path`), which the connection applied.
    tx(pin_search_path);
    yield_to_writers();
    // The apply that started this worker holds the apply lock until its transaction ends: once it
    // is ours, the steps it recorded are committed (or were rolled back, and are not there).
    // The wait spans the whole apply (the worker is started before its first statement): no
    // lock_timeout or statement_timeout of the role's or the database's settings ends it (the
    // review of 51a6a29, F2: a role's `lock_timeout = 1s` and an apply that waited 2 s for a writer
    // ended the worker, the steps left pending without one). Each step sets its own lock_timeout.
    // (PostgreSQL 17+: nor `transaction_timeout`, which would end the whole process — the review of
    // b6da30e, G2: 0 for the whole session, `yield_to_writers` above)
    wait_for_apply_end();
    // The writers that queued behind the apply's lock (an online check's or key's `ADD … NOT
    // VALID` holds it to the commit) were woken by the same commit as this worker: they go first.
    nap(AFTER_COMMIT);
    // One worker per role, handing over: a worker that finds the role's lock held by another worker
    // of the role ends (that one looks for pending steps again after it releases the lock); the
    // one holding it runs every pending step, releases it, and takes it again when steps were
    // recorded meanwhile (the review of 51a6a29, F1, and of b6da30e, G1: a worker started for an
    // apply that failed waited for the running worker, holding a background worker slot).
    while take_role_lock(role) {
        let worked = run_steps(role);
        release_role_lock(role);
        if !tx(|| store::has_open_steps(role)) {
            break;
        }
        if !worked {
            // open steps, none of which this pass could run or recover: not again at once (a row
            // this pass could not act on would make it spin; the review of 253be3a, 1)
            nap(Duration::from_millis(200));
        }
    }
}

/// Waits for the apply lock (= the end of the apply that started this worker), then lets it go.
/// A `pg_cancel_backend` meanwhile is held off and dropped (the review of b6da30e, G3: it ended
/// the worker, the apply's steps left pending until a later call started one): there is no step
/// to cancel yet. A SIGTERM ends the worker, as anywhere.
///
/// The wait is a transaction that takes no snapshot (the lock taken as `pg_advisory_xact_lock`
/// takes it, without SQL): any role may take the apply lock (it is documented, other tools
/// serialize with revos through it) and keep it after the apply ends, and a worker waiting with a
/// snapshot held back every `CREATE INDEX CONCURRENTLY` of the database and vacuum's horizon for as
/// long (the review of bd2108e, 2).
fn wait_for_apply_end() {
    // no lock_timeout of the role's or the database's for the wait, and theirs again after it (the
    // recovery before the first step obeys it: the review of ff36c21, 3)
    let saved = tx(|| {
        let saved = Spi::get_one::<String>("SELECT pg_catalog.current_setting('lock_timeout')")
            .unwrap_or_else(|e| pgrx::error!("revos deferred worker: {e}"))
            .unwrap_or_else(|| "0".into());
        Spi::run("SELECT pg_catalog.set_config('lock_timeout', '0', false)")
            .unwrap_or_else(|e| pgrx::error!("revos deferred worker: {e}"));
        saved
    });
    let key = APPLY_LOCK as u64;
    // SET_LOCKTAG_INT64, as pg_advisory_xact_lock(bigint) sets it
    let tag = pg_sys::LOCKTAG {
        locktag_field1: u32::from(unsafe { pg_sys::MyDatabaseId }),
        locktag_field2: (key >> 32) as u32,
        locktag_field3: key as u32,
        locktag_field4: 1,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    };
    unsafe {
        pg_sys::StartTransactionCommand();
        // held off around the wait only: ProcSleep's CHECK_FOR_INTERRUPTS leaves a cancel pending
        // (and waits on), a die is still taken; an error here ends the worker, count and all
        pg_sys::QueryCancelHoldoffCount += 1;
        pg_sys::LockAcquire(
            &tag,
            pg_sys::ExclusiveLock as pg_sys::LOCKMODE,
            false,
            false,
        );
        pg_sys::CommitTransactionCommand();
        pg_sys::QueryCancelHoldoffCount -= 1;
    }
    ignore_cancel_between_steps();
    tx(|| {
        Spi::run_with_args(
            "SELECT pg_catalog.set_config('lock_timeout', $1, false)",
            &[saved.as_str().into()],
        )
        .unwrap_or_else(|e| pgrx::error!("revos deferred worker: {e}"))
    });
}

/// Takes the role's worker lock (session level): true once held. False when another worker of
/// the role holds it (or runs without it: an older build's, [`held_by_worker`]). While anything
/// else holds it (a backend's `launch::alive` probe, a superuser's test hook), tried again every
/// 200 ms — outside any transaction: a worker waiting in
/// pg_advisory_lock kept a virtual transaction that the running worker's CREATE INDEX
/// CONCURRENTLY waited for, which waited for the lock, a deadlock (two applies in a row, each
/// starting a worker; tests/online.sh, "a step without recorded settings").
///
/// No step is lost when this worker ends: its try failed while the other worker held the lock,
/// after the apply that started it ended (the apply lock); the other worker reads the steps
/// again, in a new transaction, after it releases the lock — so after this apply's commit.
fn take_role_lock(role: pg_sys::Oid) -> bool {
    loop {
        let (held, worker_holds) = tx(|| {
            let held = role_lock::try_take(role);
            let worker_holds = held_by_worker(role);
            if held && worker_holds {
                // a worker of an older build runs for the role (it holds the SQL advisory lock
                // that was the role's lock before 2026-12-06): it keeps the steps (the review of
                // bd2108e, 1: both ran, and this one took that one's running step for an orphan)
                role_lock::release(role);
            }
            (held && !worker_holds, worker_holds)
        });
        if held {
            return true;
        }
        if worker_holds {
            return false;
        }
        nap(Duration::from_millis(200));
    }
}

/// Whether another revos deferred worker of `role` in this database holds the role's worker lock
/// — or the SQL advisory lock `(WORKER_LOCK, role)` that was the role's lock before 2026-12-06
/// (`objsubid` 2: a worker of an older build, still running during an upgrade).
fn held_by_worker(role: pg_sys::Oid) -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks l
                          JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid
                         WHERE l.locktype OPERATOR(pg_catalog.=) 'advisory' AND l.granted
                           AND l.database OPERATOR(pg_catalog.=) $1 AND l.classid OPERATOR(pg_catalog.=) $2
                           AND l.objid OPERATOR(pg_catalog.=) $3 AND l.objsubid OPERATOR(pg_catalog.=) ANY (ARRAY[$4, 2])
                           AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()
                           AND a.backend_type OPERATOR(pg_catalog.=) 'revos deferred'
                           AND a.usesysid OPERATOR(pg_catalog.=) $3)",
        &[
            unsafe { pg_sys::MyDatabaseId }.into(),
            pg_sys::Oid::from(WORKER_LOCK as u32).into(),
            role.into(),
            i32::from(role_lock::SPACE).into(),
        ],
    )
    .unwrap_or_else(|e| pgrx::error!("revos deferred worker: {e}"))
    .unwrap_or(false)
}

fn release_role_lock(role: pg_sys::Oid) {
    tx(|| role_lock::release(role));
}

/// With the role's worker lock held: the steps this build cannot read failed, the orphans
/// recovered, then every pending step, in order. Whether it did anything.
fn run_steps(role: pg_sys::Oid) -> bool {
    if unsafe { pg_sys::GetUserId() } != role {
        pgrx::error!("revos deferred worker: connected as another role than the one that applied the steps (a role setting changed it); nothing runs");
    }
    // nothing runs while another role may create in the schema the pinned search_path reads, or
    // change the recorded steps (the eleventh adversarial review, S and D)
    tx(crate::dependencies::check_revos_schema);
    tx(crate::dependencies::check_steps_table);
    let mut worked = tx(|| store::fail_unreadable(role)) > 0;
    worked |= recover(role);
    while let Some(step) = {
        ignore_cancel_between_steps();
        tx(|| store::next_pending(role))
    } {
        run_step(&step);
        worked = true;
        successor::note_progress();
        // what the step read and wrote shows in pg_stat_user_tables now, not at the worker's exit
        unsafe { pg_sys::pgstat_report_stat(true) };
    }
    worked
}

/// How long the worker waits after the apply's commit before its first statement. The commit
/// releases the apply lock this worker waits for and the table lock the application's writers wait
/// for at the same moment; on a busy CPU the scheduler often ran the worker's start (its lock, its
/// recovery, the step's bookkeeping and scan, at nice +10 but woken first) while a woken writer
/// waited ~2 ms for a CPU (`perf sched timehist`). 5 ms lets the writers' queue drain first: over 9
/// runs each of bench/online, the writers' p99 during an online check went from a median 7.2× to
/// 4.4× their p99 alone, NOT NULL 5.2× to 4.0× (bench/FINDINGS.md, 2026-12-06 22:10).
const AFTER_COMMIT: Duration = Duration::from_millis(5);

/// How much the worker lowers its CPU priority (nice): the steps it runs are the online forms, whose
/// point is that the application's writers go on as if nothing ran.
const NICE: i32 = 10;

/// The worker yields to the application's backends: its own process is niced by [`NICE`] (a step's
/// scan or build takes longer when the CPU is busy; writers are not kept waiting behind it), and its
/// statements use no parallel workers (each would be a process at normal priority, started by the
/// postmaster, competing with the writers — on a 2-core machine one validation took every core).
/// The blocking forms (options.online false) run in the caller's own backend, as before.
fn yield_to_writers() {
    unsafe {
        // getpriority may return -1 as a value: errno tells; on any error the worker keeps its priority
        *libc::__errno_location() = 0;
        let now = libc::getpriority(libc::PRIO_PROCESS, 0);
        if *libc::__errno_location() == 0 {
            libc::setpriority(libc::PRIO_PROCESS, 0, (now + NICE).min(19));
        }
    }
    tx(|| {
        Spi::run(
            "SELECT pg_catalog.set_config('max_parallel_workers_per_gather', '0', false),
                    pg_catalog.set_config('max_parallel_maintenance_workers', '0', false)",
        )
        // PostgreSQL 17+: no `transaction_timeout` of the role's or the database's for the whole
        // session — it ends the process (FATAL), a long concurrent build's phase included, and the
        // steps handed over to this worker with it (the review of 253be3a, 2). A step's own limit is
        // its lock_timeout.
        .and_then(|_| {
            Spi::run(
                "SELECT pg_catalog.set_config('transaction_timeout', '0', false)
                  WHERE pg_catalog.current_setting('transaction_timeout', true) IS NOT NULL",
            )
        })
        .unwrap_or_else(|e| pgrx::error!("revos deferred worker: {e}"))
    });
}

fn pin_search_path() {
    Spi::run_with_args(
        "SELECT pg_catalog.set_config('search_path', $1, false)",
        &[PINNED_SEARCH_PATH.into()],
    )
    .unwrap_or_else(|e| pgrx::error!("revos deferred worker: {e}"));
}

/// The session's settings for one step: the pinned search_path (again before every step: nothing
/// a step's expressions do lasts into the next), `standard_conforming_strings = on`, and `lock_timeout` for a step whose lock stops
/// writers (queued behind a long transaction, it would hold every writer behind it), none for
/// the others (a concurrent build waits for older transactions; writers go on meanwhile).
fn session_settings(step: &StepRow) {
    let timeout = if step.blocks_writes {
        format!("{}ms", step.lock_timeout_ms)
    } else {
        "0".into()
    };
    // standard_conforming_strings as the apply parsed the statement (a database's or role's `off` turned
    // a literal's backslash into an escape, and the rest of a check's text into more ALTER TABLE
    // subcommands run as the applying role: the adversarial review of 5798187, A)
    Spi::run_with_args(
        "SELECT pg_catalog.set_config('search_path', $1, false), pg_catalog.set_config('lock_timeout', $2, false),
                pg_catalog.set_config('standard_conforming_strings', 'on', false)",
        &[PINNED_SEARCH_PATH.into(), timeout.into()],
    )
    .unwrap_or_else(|e| pgrx::error!("revos deferred worker: {e}"));
}

/// Steps left `running` by a worker that died: what a killed concurrent build left (an INVALID
/// index) is dropped, and the step runs again — or fails, after MAX_ATTEMPTS starts.
fn recover(role: pg_sys::Oid) -> bool {
    let orphans = tx(|| store::orphans(role));
    for o in &orphans {
        let mut note = String::new();
        if let Some(c @ Cleanup::InvalidIndex { .. }) = &o.cleanup {
            note = drop_invalid(c);
        }
        let why = format!(
            "interrupted: the worker running it ended (terminated, or the server restarted){note}"
        );
        if o.attempts >= MAX_ATTEMPTS {
            fail_chain(
                o,
                &format!("{why}; {} attempts, given up", o.attempts),
                "57P01",
            );
        } else {
            tx(|| store::again(o.id, &why, "57P01"));
        }
    }
    !orphans.is_empty()
}

fn run_step(step: &StepRow) {
    // The role is found by OID; its name was recorded with the step. A role renamed since, or
    // another role with that OID (the rows restored into another cluster): nothing runs.
    let me = tx(crate::privilege::current_user_name);
    if me != step.role_name {
        let why = format!(
            "not run: it was applied by the role {}, and the role with that OID is now {me}",
            step.role_name
        );
        tx(|| {
            store::failed(step.id, &why, "28000");
            store::skip_rest_of_chain(step);
        });
        return;
    }
    tx(|| {
        store::start(step.id);
        session_settings(step);
    });
    // the apply's settings, in a transaction of their own: one this server no longer accepts (a time
    // zone or locale gone, rows restored elsewhere) fails the step, not the worker (the review of
    // 12af7f9, 3: the worker died on it, and every worker after it)
    let restored = crate::deferred::exec::own_transaction(c"revos deferred: settings", || {
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
        settings::restore(step.settings.as_ref())
    });
    if let Err((msg, state)) = restored {
        fail_chain(
            step,
            &format!("the apply's settings cannot be set here: {msg}"),
            &state,
        );
        return;
    }
    // an object of the step's name that is not the one planned (another role's index on other
    // columns, a constraint of another definition): the step fails, and that object is kept —
    // revos did not build it, so no cleanup runs, not even an INVALID index's drop (the
    // adversarial review of ab5a423, 1: it was recorded done)
    if let Some(why) = tx(|| other_object(&step.completion)) {
        tx(|| {
            store::failed(step.id, &why, "42710");
            store::skip_rest_of_chain(step);
        });
        return;
    }
    if check(&step.completion).is_ok() {
        // complete as the catalog reads by name: only on the table of a role the applier trusts —
        // a schema swapped in under the name before the worker ran (its owner paused it with its
        // advisory lock then; a worker slow to start leaves the same time) showed a look-alike's
        // validated constraint, and the step was recorded done while the real one stayed NOT VALID
        // (the fifth adversarial review, F5)
        if let Err((msg, state)) = owner_trusted(step) {
            fail_chain(step, &msg, &state);
            return;
        }
        finish(step);
        return;
    }
    match perform(step) {
        Ok(()) => match verified(step) {
            Ok(()) => finish(step),
            Err(why) => fail_chain(
                step,
                &format!("verification after the step: {why}"),
                "P0004",
            ),
        },
        Err((msg, state)) if retryable(&state) && step.attempts + 1 < MAX_ATTEMPTS => {
            // what a concurrent build left behind (an INVALID index under the step's name) would make
            // the next attempt fail with "already exists": dropped first, as for an orphan
            let note = match &step.cleanup {
                Some(c @ Cleanup::InvalidIndex { .. }) => drop_invalid(c),
                _ => String::new(),
            };
            tx(|| store::again(step.id, &format!("{msg}{note}"), &state));
            let wait = Duration::from_secs(2u64.pow((step.attempts + 1) as u32));
            if nap(wait) {
                // a cancel during the step's back-off cancels the step (the review of c6eb313, B3)
                fail_chain(
                    step,
                    &format!("canceled during its back-off after: {msg}"),
                    "57014",
                );
            }
        }
        Err((msg, state)) => fail_chain(step, &msg, &state),
    }
}

/// A step whose object is complete: done — unless what it built depends on what revos refuses
/// (`crate::dependencies`, as apply checks the objects it leaves: an overload another role planted
/// next to a function an index's expression or predicate names). Such an index is dropped and the
/// step fails (42501), with the rest of its chain.
fn finish(step: &StepRow) {
    let Completion::Index { schema, name, .. } = &step.completion else {
        tx(|| store::done(step.id));
        return;
    };
    // in a transaction of its own, as a step's: it waits for the table's lock, and a cancel (or the
    // step's lock_timeout) there fails the step — the index it could not vet dropped — instead of
    // being held off as in the worker's bookkeeping (the review of ff36c21, 2)
    let refused = crate::deferred::exec::own_transaction(
        c"revos deferred: what the index depends on",
        || {
            unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
            let (s, t) = step.completion.table();
            table_oid(s, t)
                .map(|oid| crate::dependencies::refused(&[oid], None))
                .unwrap_or_default()
        },
    )
    .map(|r| (r, "42501".to_string()))
    .unwrap_or_else(|(msg, state)| {
        (
            vec![format!(
                "the check of what it depends on did not end: {msg}"
            )],
            state,
        )
    });
    let (refused, sqlstate) = refused;
    if refused.is_empty() {
        tx(|| store::done(step.id));
        return;
    }
    let note = match drop_index(schema, name) {
        Ok(()) => format!("; the index {name} was dropped"),
        Err((m, _)) => format!("; the index {name} could not be dropped: {m}"),
    };
    let message = format!("revos: refused: {}{note}", refused.join("; "));
    tx(|| {
        store::failed(step.id, &message, &sqlstate);
        store::skip_rest_of_chain(step);
    });
}

/// Err (42501) when the step's table, found by name, is owned by a role the applying role does not
/// trust (`dependencies::check_owner`); Ok when it is gone (the step's own check says so).
fn owner_trusted(step: &StepRow) -> Result<(), (String, String)> {
    crate::deferred::exec::own_transaction(c"revos deferred: the table's owner", || {
        unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
        let (s, t) = step.completion.table();
        if let Some(oid) = table_oid(s, t) {
            crate::dependencies::check_owner(oid, &crate::dependencies::trusted_owners());
        }
    })
}

fn table_oid(schema: &str, table: &str) -> Option<pg_sys::Oid> {
    Spi::get_one_with_args(
        "SELECT c.oid FROM pg_catalog.pg_class c
           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
          WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2",
        &[schema.into(), table.into()],
    )
    .unwrap_or(None)
}

/// Runs the step: its SQL at the top level — only the statement its completion allows
/// (`crate::deferred::shape`) — or, for a backfill, its batches (`crate::deferred::backfill`).
fn perform(step: &StepRow) -> Result<(), (String, String)> {
    let c = &step.completion;
    match c {
        Completion::Backfilled { .. } => backfill::run(step),
        // revos's NOT NULL helper, added NOT VALID: the table checked as before a VALIDATE (found by
        // name and locked, its owner trusted, what it depends on)
        Completion::Validated { schema, table, .. } | Completion::Added { schema, table, .. } => {
            step_statement(&step.sql, c, || before_validate(schema, table))
        }
        _ => step_statement(&step.sql, c, || ()),
    }
}

/// Before `VALIDATE CONSTRAINT`, in its transaction: the table locked as VALIDATE locks it (SHARE
/// UPDATE EXCLUSIVE: writers go on; the constraint cannot be dropped, added or the table renamed
/// until the commit), then what it depends on checked (`crate::dependencies`, 42501). The
/// constraint validated is found by name after the apply's commit: the table's owner may have
/// dropped revos's and added one of the same name `NOT VALID` calling a function of its own,
/// which VALIDATE would run with the applying role's privileges.
/// The table's schema is locked first and the name compared again after the check's waits (the
/// adversarial review of 08eb1c3: a schema swapped under the name while the check waited).
fn before_validate(schema: &str, table: &str) {
    unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
    let name = format!("{}.{}", quote_ident(schema), quote_ident(table));
    crate::dependencies::hold_schemas(&[name.as_str()]);
    Spi::run(&format!("LOCK TABLE {name} IN SHARE UPDATE EXCLUSIVE MODE"))
        .unwrap_or_else(|e| pgrx::error!("revos deferred: {e}"));
    if let Some(oid) = table_oid(schema, table) {
        let trusted = crate::dependencies::trusted_owners();
        crate::dependencies::check_owner(oid, &trusted);
        crate::dependencies::check(&[oid], &trusted);
        if table_oid(schema, table) != Some(oid) {
            pgrx::ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                format!("revos deferred: {name} was replaced while it was checked; the step does not run")
            );
        }
    }
    unsafe { pg_sys::PopActiveSnapshot() };
}

/// Whether the step's object is complete (see [`completed`]); a backfill's check runs in
/// transactions of its own (`backfill::filled`).
fn check(c: &Completion) -> Result<(), String> {
    match c {
        Completion::Backfilled { .. } => backfill::filled(c),
        _ => tx(|| completed(c)),
    }
}

/// The check after a step ran: a backfill's run ends with its completion check (`backfill::run`
/// returns Ok only once no row is NULL), which is not read again; every other step's object is
/// checked here.
fn verified(step: &StepRow) -> Result<(), String> {
    match step.completion {
        Completion::Backfilled { .. } => Ok(()),
        _ => check(&step.completion),
    }
}

/// Lock timeouts, deadlocks and serialization failures: the step runs again later.
fn retryable(sqlstate: &str) -> bool {
    matches!(sqlstate, "55P03" | "40P01" | "40001")
}

/// The step failed: its chain's cleanup, the step failed with the error (and what the cleanup
/// did), the rest of its chain failed unrun.
fn fail_chain(step: &StepRow, message: &str, sqlstate: &str) {
    let note = match &step.cleanup {
        Some(c @ Cleanup::InvalidIndex { .. }) => drop_invalid(c),
        Some(Cleanup::Constraint {
            schema,
            table,
            name,
        }) => {
            let sql = format!(
                "ALTER TABLE {}.{} DROP CONSTRAINT IF EXISTS {}",
                quote_ident(schema),
                quote_ident(table),
                quote_ident(name)
            );
            match toplevel(&sql) {
                Ok(()) => format!("; revos's helper constraint {name} was dropped"),
                Err((m, _)) => {
                    format!("; revos's helper constraint {name} could not be dropped: {m}")
                }
            }
        }
        None => String::new(),
    };
    let message = format!("{message}{note}");
    tx(|| {
        store::failed(step.id, &message, sqlstate);
        store::skip_rest_of_chain(step);
    });
}

/// Drops the index of `c` when it is there and INVALID (a failed or killed concurrent build left
/// it; a valid index of that name was not built by the step and is kept). Says what it did.
fn drop_invalid(c: &Cleanup) -> String {
    let Cleanup::InvalidIndex { schema, name } = c else {
        return String::new();
    };
    let valid: Option<bool> = tx(|| {
        Spi::get_one_with_args(
            "SELECT i.indisvalid FROM pg_catalog.pg_index i
               JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.indexrelid
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
              WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2",
            &[schema.as_str().into(), name.as_str().into()],
        )
        .unwrap_or(None)
    });
    if valid != Some(false) {
        return String::new();
    }
    match drop_index(schema, name) {
        Ok(()) => format!("; the INVALID index {name} it left was dropped"),
        Err((m, _)) => format!("; the INVALID index {name} it left could not be dropped: {m}"),
    }
}

/// `DROP INDEX CONCURRENTLY` of `schema.name`, at the top level (writers go on meanwhile).
fn drop_index(schema: &str, name: &str) -> Result<(), (String, String)> {
    toplevel(&format!(
        "DROP INDEX CONCURRENTLY IF EXISTS {}.{}",
        quote_ident(schema),
        quote_ident(name)
    ))
}

/// Whether the catalog shows the step's object complete: Err says what is missing.
fn completed(c: &Completion) -> Result<(), String> {
    let (schema, table) = c.table();
    let (sql, name, what) = match c {
        Completion::Index { name, unique, .. } => (
            format!(
                "SELECT i.indisvalid AND i.indisready AND i.indisunique OPERATOR(pg_catalog.=) {unique}
                   FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class x ON x.oid OPERATOR(pg_catalog.=) i.indexrelid
                  WHERE i.indrelid OPERATOR(pg_catalog.=) (SELECT c.oid FROM pg_catalog.pg_class c
                          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                         WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2)
                    AND x.relname OPERATOR(pg_catalog.=) $3"
            ),
            name,
            if *unique { "a valid unique index" } else { "a valid index" },
        ),
        // not a constraint trigger of that name (its row in pg_constraint is "validated" too: the
        // adversarial review of 5798187, B — a role with only TRIGGER on the table made both of a
        // check's steps report done)
        Completion::Validated { name, .. } => (
            constraint_query("con.convalidated AND con.contype OPERATOR(pg_catalog.<>) 't'"),
            name,
            "a validated constraint",
        ),
        // revos's helper: a check of exactly that definition (validated or not), not a caller's
        // check under its name (a row recorded without the column: by name, as before)
        Completion::Added {
            column: Some(_),
            name,
            ..
        } => (
            constraint_query(
                "con.contype OPERATOR(pg_catalog.=) 'c' AND pg_catalog.regexp_replace(
                   pg_catalog.pg_get_constraintdef(con.oid), ' NOT VALID$', '')
                   OPERATOR(pg_catalog.=) ('CHECK ((' OPERATOR(pg_catalog.||) pg_catalog.quote_ident($4)
                   OPERATOR(pg_catalog.||) ' IS NOT NULL))')",
            ),
            name,
            "revos's NOT NULL helper",
        ),
        Completion::Added { name, .. } => (
            constraint_query("con.contype OPERATOR(pg_catalog.=) 'c'"),
            name,
            "a check constraint",
        ),
        Completion::Dropped { name, .. } => (
            format!("SELECT NOT EXISTS ({})", constraint_query("true")),
            name,
            "no constraint",
        ),
        Completion::Backfilled { .. } => return Err("checked by backfill::filled".into()),
        Completion::NotNull { column, .. } => (
            "SELECT a.attnotnull FROM pg_catalog.pg_attribute a
              WHERE a.attrelid OPERATOR(pg_catalog.=) (SELECT c.oid FROM pg_catalog.pg_class c
                      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                     WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2)
                AND a.attname OPERATOR(pg_catalog.=) $3 AND NOT a.attisdropped"
                .to_string(),
            column,
            "a NOT NULL column",
        ),
    };
    // $4: the helper's column (unused by the other forms' queries)
    let column = match c {
        Completion::Added {
            column: Some(col), ..
        } => col.as_str(),
        _ => "",
    };
    let ok: Option<bool> = Spi::get_one_with_args(
        &sql,
        &[
            schema.into(),
            table.into(),
            name.as_str().into(),
            column.into(),
        ],
    )
    .unwrap_or(None);
    if ok != Some(true) {
        return Err(format!("{schema}.{table}: expected {what} {name}"));
    }
    // and the one planned, where its definition was recorded
    match (planned(c), live_definition(c)) {
        (Some(want), Some(have)) if want != have => Err(format!(
            "{schema}.{table}: {name} is not the one planned: {have}, planned {want}"
        )),
        (Some(_), None) => Err(format!(
            "{schema}.{table}: the definition of {name} could not be read"
        )),
        _ => Ok(()),
    }
}

/// The definition planned for the step's index or constraint, as Postgres deparses it (see
/// [`Completion::Index`], [`Completion::Validated`]; an index's led by `UNIQUE ` when it is
/// unique, as [`live_definition`] reads it); None when it was not recorded.
fn planned(c: &Completion) -> Option<String> {
    let (definition, key, unique, prefix) = match c {
        Completion::Index {
            definition,
            key,
            unique,
            ..
        } => (definition, key, *unique, "USING btree ("),
        Completion::Validated {
            definition, key, ..
        } => (definition, key, false, "UNIQUE ("),
        _ => return None,
    };
    let lead = if unique { "UNIQUE " } else { "" };
    if let Some(d) = definition {
        return Some(format!("{lead}{d}"));
    }
    let key = key.as_ref()?;
    let prefix = format!("{lead}{prefix}");
    // quoted as pg_get_indexdef and pg_get_constraintdef quote a column, under the settings
    // live_definition reads them with (a role's or database's quote_all_identifiers = on quoted
    // every column here and failed every unique key's step: the review of db85aeb, M2)
    crate::privilege::catalog_path(|| {
        Spi::get_one_with_args::<String>(
            "SELECT $1 OPERATOR(pg_catalog.||) pg_catalog.string_agg(pg_catalog.quote_ident(k.c), ', ' ORDER BY k.o)
                    OPERATOR(pg_catalog.||) ')'
               FROM pg_catalog.unnest($2::pg_catalog.text[]) WITH ORDINALITY AS k(c, o)",
            &[prefix.as_str().into(), key.clone().into()],
        )
        .unwrap_or(None)
    })
}

/// The step's index (`pg_get_indexdef` from ` USING ` on, led by `UNIQUE ` when it is unique) or constraint (`pg_get_constraintdef`
/// without ` NOT VALID`) of its name on its table, deparsed as the shadow deparsed the declared
/// forms (`search_path = pg_catalog, pg_temp`); None when there is none.
fn live_definition(c: &Completion) -> Option<String> {
    let (schema, table) = c.table();
    let (sql, name) = match c {
        Completion::Index { name, .. } => (
            "SELECT CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END
                    OPERATOR(pg_catalog.||) pg_catalog.substr(d.def, pg_catalog.strpos(d.def, ' USING ') OPERATOR(pg_catalog.+) 1)
               FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class x ON x.oid OPERATOR(pg_catalog.=) i.indexrelid,
                    LATERAL (SELECT pg_catalog.pg_get_indexdef(i.indexrelid) AS def) d
              WHERE i.indrelid OPERATOR(pg_catalog.=) (SELECT c.oid FROM pg_catalog.pg_class c
                      JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                     WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2)
                AND x.relname OPERATOR(pg_catalog.=) $3"
                .to_string(),
            name,
        ),
        Completion::Validated { name, .. } => (
            constraint_query(
                "CASE WHEN con.contype OPERATOR(pg_catalog.=) 't' THEN 'a constraint trigger'
                      ELSE pg_catalog.regexp_replace(pg_catalog.pg_get_constraintdef(con.oid), ' NOT VALID$', '') END",
            ),
            name,
        ),
        _ => return None,
    };
    crate::privilege::catalog_path(|| {
        Spi::get_one_with_args::<String>(&sql, &[schema.into(), table.into(), name.as_str().into()])
            .unwrap_or(None)
    })
}

/// An index or constraint of the step's name on its table that is not the one planned, before
/// the step runs: why (the step then fails, and the object is kept: revos did not build it).
/// An index there whose planned definition was not recorded cannot be compared: the same.
fn other_object(c: &Completion) -> Option<String> {
    let (schema, table) = c.table();
    let (kind, name) = match c {
        Completion::Index { name, .. } => ("an index", name),
        Completion::Validated { name, .. } => ("a constraint", name),
        _ => return None,
    };
    let have = live_definition(c)?;
    match planned(c) {
        Some(want) if want == have => None,
        Some(want) => Some(format!(
            "{kind} {name} is on {schema}.{table}, and it is not the one planned: it is {have}, planned {want}; revos did not build it and leaves it as it is"
        )),
        None if matches!(c, Completion::Index { .. }) => Some(format!(
            "{kind} {name} is on {schema}.{table} before the step ran ({have}), and the planned definition was not recorded to compare it with; revos did not build it and leaves it as it is"
        )),
        None => None,
    }
}

fn constraint_query(column: &str) -> String {
    format!(
        "SELECT {column} FROM pg_catalog.pg_constraint con
          WHERE con.conrelid OPERATOR(pg_catalog.=) (SELECT c.oid FROM pg_catalog.pg_class c
                  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                 WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2)
            AND con.conname OPERATOR(pg_catalog.=) $3"
    )
}
