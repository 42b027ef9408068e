//! A worker ended by SIGTERM (`pg_terminate_backend`) starts its successor as it exits: the steps
//! it ran or was handed (by workers of the role's later applies, which ended at once) are taken up
//! again without waiting for a later `apply_schema` or `deferred_status()` call (docs/security.md,
//! the review of 253be3a, 2: they stayed until one came). So does a worker that a cancel ended
//! (one that came while it wrote a step's bookkeeping, where there is no step to cancel).
//!
//! ```text
//! SIGTERM ─ on_sigterm: noted, then PostgreSQL's `die` (the process ends at its next interrupt check)
//! SIGINT  ─ on_sigint: noted, then PostgreSQL's cancel handler (a step canceled fails, 57014; a
//!           cancel while the worker writes its bookkeeping ends it by an error)
//! exit    ─ the session's exit callbacks (its transaction aborted, its locks released, its
//!           pg_stat_activity row gone) ─ start_successor: the same worker registered again
//!           (library, function, database and role from this worker's own entry), not started
//!           by the postmaster while it shuts down
//! ```
//!
//! The successor is an ordinary worker: it takes the role's lock, recovers the step the terminated
//! one ran as an orphan (its INVALID index dropped; failed after `MAX_ATTEMPTS` starts, so a worker
//! terminated again and again ends with the step failed) and runs what is pending. Only a SIGTERM,
//! or an error exit of a worker that was sent a cancel, starts one: a worker that ends by any other
//! error does not (a failure that repeats would start workers without end; each successor here
//! needs a signal of its own), and a server shutdown starts none. To stop a step, cancel it
//! (`pg_cancel_backend`: failed, 57014).

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

static TERMINATED: AtomicBool = AtomicBool::new(false);
static CANCELED: AtomicBool = AtomicBool::new(false);

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

/// SIGINT: noted for [`start_successor`], then PostgreSQL's cancel handler (what a background
/// worker with a database connection has).
unsafe extern "C-unwind" fn on_sigint(postgres_signal_arg: std::ffi::c_int) {
    CANCELED.store(true, Ordering::Relaxed);
    pg_sys::StatementCancelHandler(postgres_signal_arg);
}

/// Installs the SIGTERM and SIGINT handlers and the exit callback. Called before the worker connects: exit
/// callbacks run last registered first, so this one runs after those the connection registers
/// (the session's locks released, its `pg_stat_activity` row removed) — the successor finds the
/// role's lock free, and no worker of the role it would hand its steps to.
pub fn arm() {
    unsafe {
        #[cfg(not(feature = "pg18"))]
        {
            pg_sys::pqsignal(pg_sys::SIGTERM as i32, Some(on_sigterm));
            pg_sys::pqsignal(pg_sys::SIGINT as i32, Some(on_sigint));
        }
        #[cfg(feature = "pg18")]
        {
            pg_sys::pqsignal_be(pg_sys::SIGTERM as i32, Some(on_sigterm));
            pg_sys::pqsignal_be(pg_sys::SIGINT as i32, Some(on_sigint));
        }
        pg_sys::before_shmem_exit(Some(start_successor), pg_sys::Datum::from(0));
    }
}

/// At exit after a SIGTERM, or by an error after a cancel (one that came while the worker wrote a
/// step's bookkeeping, not during a step: the review of 253be3a, 2): this worker registered again,
/// as a new dynamic background worker (a copy of its own entry). Nothing when no slot is free: the
/// steps then wait for a later call, as before.
#[pg_guard]
unsafe extern "C-unwind" fn start_successor(code: std::ffi::c_int, _arg: pg_sys::Datum) {
    let canceled_out = CANCELED.load(Ordering::Relaxed) && code != 0;
    if !(TERMINATED.load(Ordering::Relaxed) || canceled_out) || pg_sys::MyBgworkerEntry.is_null() {
        return;
    }
    let mut next = *pg_sys::MyBgworkerEntry;
    next.bgw_notify_pid = 0;
    pg_sys::RegisterDynamicBackgroundWorker(&mut next, std::ptr::null_mut());
}
