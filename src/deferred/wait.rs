//! The deferred worker's waits outside a step: a nap that a SIGTERM ends and a cancel only cuts
//! short (used between passes, in a step's back-off, by a successor before it connects), and what
//! becomes of a cancel that comes where there is no step to cancel.

use pgrx::pg_sys;
use std::time::Duration;

/// A `pg_cancel_backend` of the worker cancels the step it runs (it fails, 57014, with its
/// cleanup). One that arrives between steps — during a retry's back-off, a wait for the lock —
/// has no step to cancel: it is dropped here instead of failing the worker's next bookkeeping
/// transaction, which ended the worker with the steps handed over to it (the review of 253be3a, 2).
pub fn ignore_cancel_between_steps() {
    unsafe {
        pg_sys::QueryCancelPending = 0;
    }
}

/// Waits `d` outside any transaction; true when a cancel came meanwhile (the wait then ends, and
/// the cancel is dropped: [`ignore_cancel_between_steps`]; pgrx's `wait_latch` raised it). A
/// SIGTERM ends the worker, the postmaster's death too.
pub fn nap(d: Duration) -> bool {
    let until = std::time::Instant::now() + d;
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        unsafe {
            pg_sys::WaitLatch(
                pg_sys::MyLatch,
                (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
                left.as_millis().max(1) as std::ffi::c_long,
                pg_sys::PG_WAIT_EXTENSION,
            );
            pg_sys::ResetLatch(pg_sys::MyLatch);
            // a SIGTERM ends the worker here; a cancel stays pending meanwhile (held off), then is
            // taken and dropped below (read and cleared after: one arriving between the check and
            // the clear is not raised outside any transaction; the review of 45fb852)
            pg_sys::QueryCancelHoldoffCount += 1;
        }
        pg_sys::check_for_interrupts!();
        let canceled = unsafe {
            pg_sys::QueryCancelHoldoffCount -= 1;
            pg_sys::QueryCancelPending != 0
        };
        if canceled {
            ignore_cancel_between_steps();
            return true;
        }
    }
}
