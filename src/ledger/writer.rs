//! Who is writing: backend-local state that revos's own SQL (the ledger triggers and the drift
//! capture) trusts, and that no SQL caller can set.
//!
//! * `Phase::Ddl` while `apply` runs its DDL: the drift capture skips it (it is not drift).
//! * `Phase::Ledger` while `apply` inserts its `revos.schema_migrations` row: the row's trigger
//!   writes the `schema_migration_*` event. A row inserted any other way (only the tables' owner
//!   can, e.g. pg_restore / psql replaying a dump) writes no event.
//! * `restored`: this session inserted ledger rows that revos did not write (a dump being
//!   restored, by the tables' owner or a superuser): for the rest of the session the drift capture
//!   does not record DDL (the restore recreating managed tables' indexes, triggers and policies).
//!
//! The phases live in Rust statics, are set only around revos's own code, and are cleared at the
//! end of the transaction and when a subtransaction that was open when they were set aborts (a
//! caller catching apply's error in an EXCEPTION block cannot inherit them). SQL sees them only
//! through the functions below, none of which is executable by PUBLIC.

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Idle = 0,
    Ddl = 1,
    Ledger = 2,
}

static PHASE: AtomicU8 = AtomicU8::new(0);
/// The subtransaction that was current when the phase was set.
static PHASE_SUBXACT: AtomicU32 = AtomicU32::new(0);
static RESTORED: AtomicBool = AtomicBool::new(false);
static CALLBACKS: AtomicBool = AtomicBool::new(false);

pub fn phase() -> Phase {
    match PHASE.load(Ordering::Relaxed) {
        1 => Phase::Ddl,
        2 => Phase::Ledger,
        _ => Phase::Idle,
    }
}

/// Runs `f` with the phase set; the phase is cleared afterwards whatever happens (error included:
/// the transaction callbacks clear it when the error aborts the (sub)transaction).
pub fn with_phase<R>(p: Phase, f: impl FnOnce() -> R) -> R {
    register_callbacks();
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    PHASE_SUBXACT.store(subxact, Ordering::Relaxed);
    PHASE.store(p as u8, Ordering::Relaxed);
    pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .finally(|| PHASE.store(Phase::Idle as u8, Ordering::Relaxed))
        .execute()
}

/// Runs `f` (revos's insert into its ledger) as the owner of `revos.schema_migrations`, in
/// `Phase::Ledger`: nobody else holds INSERT on the ledgers, so this is the only way a row gets
/// there besides the owner's own inserts. Returns the caller's role name (for `applied_by`) too.
pub fn as_ledger_writer<R>(f: impl FnOnce(&str) -> R) -> R {
    let owner: pg_sys::Oid = Spi::get_one(
        "SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = 'revos.schema_migrations'::pg_catalog.regclass",
    )
    .ok()
    .flatten()
    .unwrap_or_else(|| pgrx::error!("revos: revos.schema_migrations is missing"));
    let caller: String = Spi::get_one("SELECT current_user::text")
        .ok()
        .flatten()
        .unwrap_or_default();
    let (mut uid, mut ctx) = (pg_sys::InvalidOid, 0);
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut uid, &mut ctx);
        pg_sys::SetUserIdAndSecContext(owner, ctx | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
    }
    pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(|| {
        with_phase(Phase::Ledger, || f(&caller))
    }))
    .finally(|| unsafe { pg_sys::SetUserIdAndSecContext(uid, ctx) })
    .execute()
}

fn register_callbacks() {
    if CALLBACKS.swap(true, Ordering::Relaxed) {
        return;
    }
    unsafe {
        pg_sys::RegisterXactCallback(Some(xact_callback), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(subxact_callback), std::ptr::null_mut());
    }
}

unsafe extern "C-unwind" fn xact_callback(
    _event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    // Any end of the transaction (commit, abort, prepare) ends a phase.
    PHASE.store(Phase::Idle as u8, Ordering::Relaxed);
}

unsafe extern "C-unwind" fn subxact_callback(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB
        && my_subid <= PHASE_SUBXACT.load(Ordering::Relaxed)
    {
        PHASE.store(Phase::Idle as u8, Ordering::Relaxed);
    }
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.writing_ledger() RETURNS boolean
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.writing_ledger() IS
    'Internal (revos''s triggers): true while revos itself inserts its schema_migrations row.';
"#)]
pub fn writing_ledger() -> bool {
    phase() == Phase::Ledger
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.drift_paused() RETURNS boolean
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.drift_paused() IS
    'Internal (drift capture): true while revos runs its own DDL, after this session restored ledger rows, or on a Citus worker.';
"#)]
pub fn drift_paused() -> bool {
    phase() == Phase::Ddl
        || RESTORED.load(Ordering::Relaxed)
        || crate::citus::metadata::citus_worker()
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.note_restore() RETURNS void
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.note_restore() IS
    'Internal (ledger triggers): this session inserted ledger rows revos did not write (a restore).';
"#)]
pub fn note_restore() {
    RESTORED.store(true, Ordering::Relaxed);
}
