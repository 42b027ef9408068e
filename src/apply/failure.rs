//! Which planned step PostgreSQL refused, and where in its text (issue 20): the error that comes
//! back from a subtransaction is only a message and a SQLSTATE, so while each step runs an error
//! context callback of ours is on PostgreSQL's `error_context_stack`. PostgreSQL calls it while
//! it builds the report of any error raised under the step — before the error unwinds — and it
//! notes the step and the error's position (`geterrposition`, or `getinternalerrposition`: SPI
//! moves a statement's position there). The last error noted is the one that unwound.
//!
//! Backend-local; reset at the start of every run of the steps.

use pgrx::pg_sys;
use std::cell::Cell;

/// The step that raised, and the 1-based character position PostgreSQL gave (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub step: usize,
    pub position: Option<usize>,
}

thread_local! {
    static CURRENT: Cell<usize> = const { Cell::new(usize::MAX) };
    static LAST: Cell<Option<Failure>> = const { Cell::new(None) };
}

/// Forget any earlier failure (before the steps run).
pub fn reset() {
    LAST.with(|l| l.set(None));
}

/// The step that raised during the last run, if one did (and forgets it).
pub fn take_last() -> Option<Failure> {
    LAST.with(Cell::take)
}

/// Runs step `index` (`f`) with the callback on the error context stack; it is taken off
/// whatever happens (the error unwinds through here as a Rust panic).
pub fn track<R>(index: usize, f: impl FnOnce() -> R) -> R {
    struct Pop(*mut pg_sys::ErrorContextCallback);
    impl Drop for Pop {
        fn drop(&mut self) {
            // SAFETY: the frame below was pushed by `track` and is still alive (this guard is
            // dropped before it); putting back its `previous` restores the stack as it was.
            unsafe {
                if pg_sys::error_context_stack == self.0 {
                    pg_sys::error_context_stack = (*self.0).previous;
                }
            }
        }
    }
    CURRENT.with(|c| c.set(index));
    let mut frame = pg_sys::ErrorContextCallback {
        // SAFETY: reading the backend's error context stack (main thread).
        previous: unsafe { pg_sys::error_context_stack },
        callback: Some(note),
        arg: std::ptr::null_mut(),
    };
    // SAFETY: `frame` outlives its time on the stack: `Pop` takes it off before `frame` is dropped.
    unsafe { pg_sys::error_context_stack = &mut frame };
    let _pop = Pop(&mut frame);
    reset();
    let r = f();
    // the step went through: what was noted meanwhile (a NOTICE's position) is no failure
    reset();
    r
}

/// The error context callback: notes the step under way and the error's position. It must not
/// raise: it only reads two integers of the error being built.
unsafe extern "C-unwind" fn note(_arg: *mut std::ffi::c_void) {
    let pos = unsafe {
        let p = pg_sys::geterrposition();
        if p > 0 {
            p
        } else {
            pg_sys::getinternalerrposition()
        }
    };
    LAST.with(|l| {
        l.set(Some(Failure {
            step: CURRENT.with(Cell::get),
            position: (pos > 0).then_some(pos as usize),
        }))
    });
}
