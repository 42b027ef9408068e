//! A worker ended by SIGTERM (`pg_terminate_backend`) starts its successor as it exits: the steps
//! it ran or was handed (by workers of the role's later applies, which ended at once) are taken up
//! again without waiting for a later `apply_schema` or `deferred_status()` call (docs/security.md,
//! the review of 253be3a, 2: they stayed until one came).
//!
//! ```text
//! SIGTERM ─ on_sigterm: noted, then PostgreSQL's `die` (the process ends at its next interrupt check)
//! exit    ─ the session's exit callbacks (its transaction aborted, its locks released) ─
//!           start_successor: the same worker registered again (library, function, database and
//!           role from this worker's own entry; its generation + 1), when its generation is below
//!           MAX_GENERATION; the postmaster starts none while it shuts down
//! start   ─ a successor waits SUCCESSOR_DELAY before it connects
//! ```
//!
//! The successor is an ordinary worker: it takes the role's lock, recovers the step the terminated
//! one ran as an orphan (its INVALID index dropped; failed after `MAX_ATTEMPTS` starts) and runs
//! what is pending. Bounds (the review of cdbae80, M1: a terminated worker always came back):
//! - a chain of successors ends at generation [`MAX_GENERATION`]: a worker terminated again and
//!   again without ending a step — while it waits, where no step's starts are counted — stops
//!   coming back, and its steps wait for a later call, as before this module (a worker that ended a
//!   step counts from 1 again);
//! - a successor waits [`SUCCESSOR_DELAY`] before it connects: "terminate the database's sessions,
//!   then `DROP DATABASE` (or `ALTER DATABASE … RENAME`, or use it as a template)" is not raced by
//!   it (`DROP DATABASE … WITH (FORCE)` never is);
//! - only a SIGTERM starts one: a worker that ends by an error does not (a failure that repeats
//!   would start workers without end), and a server shutdown starts none.
//!
//! To stop a step, cancel it (`pg_cancel_backend`: failed, 57014).

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How many successors follow one another at most (a worker's generation is its `bgw_main_arg`:
/// 0 for a worker an apply or `deferred_status()` started).
pub const MAX_GENERATION: i64 = 3;

/// How long a successor waits before it connects.
pub const SUCCESSOR_DELAY: Duration = Duration::from_secs(1);

static TERMINATED: AtomicBool = AtomicBool::new(false);
static PROGRESSED: AtomicBool = AtomicBool::new(false);

/// A step of this worker's ran to an outcome (done, failed, or put back for a retry): its successor
/// counts from 1 again — the bound is on workers terminated in a row without getting anywhere (the
/// review of ff36c21, 4).
pub fn note_progress() {
    PROGRESSED.store(true, Ordering::Relaxed);
}

extern "C-unwind" {
    /// PostgreSQL's SIGTERM handler for backends (`die`): the process ends at its next
    /// interrupt check, in any wait or scan. (pgrx's own bgworker handler only sets a flag.)
    #[link_name = "die"]
    fn backend_die(postgres_signal_arg: std::ffi::c_int);
}

/// SIGTERM: noted for [`start_successor`], then `die`.
unsafe extern "C-unwind" fn on_sigterm(postgres_signal_arg: std::ffi::c_int) {
    TERMINATED.store(true, Ordering::Relaxed);
    backend_die(postgres_signal_arg);
}

/// This worker's generation (its `bgw_main_arg`).
pub fn generation(arg: pg_sys::Datum) -> i64 {
    arg.value() as i64
}

/// A successor's wait before it connects (nothing for a worker of generation 0); a SIGTERM or the
/// postmaster's death ends it (`wait::nap`).
pub fn delay(generation: i64) {
    if generation > 0 {
        crate::deferred::wait::nap(SUCCESSOR_DELAY);
    }
}

/// Installs the SIGTERM handler and the exit callback. Called before the worker connects: exit
/// callbacks run last registered first, so this one runs after those the connection registers
/// (its transaction aborted, the role's lock released) — the successor finds that lock free.
pub fn arm() {
    unsafe {
        #[cfg(not(feature = "pg18"))]
        pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(on_sigterm));
        #[cfg(feature = "pg18")]
        pg_sys::pqsignal_be(pg_sys::SIGTERM as i32, Some(on_sigterm));
        pg_sys::before_shmem_exit(Some(start_successor), pg_sys::Datum::from(0));
    }
}

/// At exit after a SIGTERM: this worker registered again, as a new dynamic background worker (a
/// copy of its own entry, its generation + 1), unless its generation is [`MAX_GENERATION`]. When
/// no slot is free (the dying worker still holds its own), the log says so and the steps wait for
/// a later call.
#[pg_guard]
unsafe extern "C-unwind" fn start_successor(_code: std::ffi::c_int, _arg: pg_sys::Datum) {
    // (a postmaster that died is not signalled: its PID may be another process's by now)
    if !TERMINATED.load(Ordering::Relaxed)
        || pg_sys::MyBgworkerEntry.is_null()
        || libc::getppid() != pg_sys::PostmasterPid
    {
        return;
    }
    let mut next = *pg_sys::MyBgworkerEntry;
    let generation = if PROGRESSED.load(Ordering::Relaxed) {
        0
    } else {
        generation(next.bgw_main_arg)
    };
    if generation >= MAX_GENERATION {
        pgrx::log!("revos deferred worker: terminated; its steps wait for the next apply_schema or deferred_status() call ({MAX_GENERATION} successors in a row already)");
        return;
    }
    next.bgw_notify_pid = 0;
    next.bgw_main_arg = pg_sys::Datum::from(generation + 1);
    if !pg_sys::RegisterDynamicBackgroundWorker(&mut next, std::ptr::null_mut()) {
        pgrx::log!("revos deferred worker: terminated; no background worker slot for its successor (max_worker_processes): its steps wait for the next apply_schema or deferred_status() call");
    }
}
