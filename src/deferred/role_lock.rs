//! The role's worker lock: one deferred worker per role and database holds it while it runs that
//! role's steps, so a step `running` while this worker holds its role's lock is an orphan (unless a
//! live worker of an older build runs it: `store::orphans`), and a free lock means no worker of the
//! role runs (`launch::alive`, which also counts a worker still starting).
//!
//! A session-level lock of the advisory lock method, keyed `(database, WORKER_LOCK, role)` like
//! `pg_advisory_lock(WORKER_LOCK, role)` — but with a fourth key no SQL function uses
//! (`pg_advisory_lock` and its kin set it to 1 for a bigint key, 2 for two integers), so only
//! revos's C code takes it. Until 2026-12-06 it was that SQL advisory lock, which any role that can
//! connect could take: the role's workers then waited, each in a background worker slot, without
//! limit (docs/security.md, the review of 5798187, D; F1 stayed open in that case), and
//! `deferred_status()` believed a worker ran. `pg_locks` shows it as an `advisory` lock with
//! `classid` = `WORKER_LOCK`, `objid` = the role's OID and `objsubid` = [`SPACE`].

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::deferred::WORKER_LOCK;

/// The fourth key ('rv'): `objsubid` in `pg_locks`. Not 1 or 2, the keys of the SQL functions.
pub const SPACE: u16 = 0x7276;

fn tag(role: pg_sys::Oid) -> pg_sys::LOCKTAG {
    pg_sys::LOCKTAG {
        locktag_field1: u32::from(unsafe { pg_sys::MyDatabaseId }),
        locktag_field2: WORKER_LOCK as u32,
        locktag_field3: u32::from(role),
        locktag_field4: SPACE,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    }
}

/// Takes `role`'s worker lock for this session without waiting: true when this session holds it
/// now (a second take is counted, as `pg_try_advisory_lock`'s; each needs its [`release`]).
pub fn try_take(role: pg_sys::Oid) -> bool {
    let tag = tag(role);
    let got =
        unsafe { pg_sys::LockAcquire(&tag, pg_sys::ExclusiveLock as pg_sys::LOCKMODE, true, true) };
    got != pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL
}

/// Releases one take of `role`'s worker lock by this session.
pub fn release(role: pg_sys::Oid) {
    let tag = tag(role);
    unsafe {
        pg_sys::LockRelease(&tag, pg_sys::ExclusiveLock as pg_sys::LOCKMODE, true);
    }
}

/// Whether nobody holds `role`'s worker lock (taken and released at once).
pub fn free(role: pg_sys::Oid) -> bool {
    if try_take(role) {
        release(role);
        true
    } else {
        false
    }
}

/// For tests only, and only a superuser can reach it: the extension does not declare it, and a C
/// function can only be declared by a superuser (tests/online.sh and tests/attacks.sh declare it in
/// `pg_temp` to hold a role's worker back, as a worker of that role that is slow to start would).
/// Takes `role`'s worker lock for the calling session, without waiting; held until the session ends.
#[pg_extern(sql = false)]
fn hold_worker_lock(role: pg_sys::Oid) -> bool {
    try_take(role)
}
