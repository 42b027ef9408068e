//! Starting revos's deferred workers, and whether one is running.
//!
//! A worker is a dynamic background worker of this database connected as one role (the role
//! that applied the steps it runs), found by its session-level worker lock (`role_lock`): while a
//! worker lives it holds that lock, so a free lock means no worker of that role runs here.

use pgrx::bgworkers::BackgroundWorkerBuilder;
use pgrx::prelude::*;

use crate::deferred::{role_lock, store};

/// Whether this server can run deferred steps for the current user: None when it can, else why
/// not (the online forms then stay off; `options.online: true` is refused with the reason).
pub fn unavailable() -> Option<String> {
    if !store::installed() {
        return Some(
            "this database's revos has no revos.deferred_steps yet: run ALTER EXTENSION revos UPDATE"
                .into(),
        );
    }
    let role = unsafe { pg_sys::GetUserId() };
    let row = Spi::get_two_with_args::<bool, bool>(
        "SELECT r.rolcanlogin, pg_catalog.has_database_privilege(r.oid, d.oid, 'CONNECT')
           FROM pg_catalog.pg_roles r, pg_catalog.pg_database d
          WHERE r.oid OPERATOR(pg_catalog.=) $1 AND d.oid OPERATOR(pg_catalog.=) $2",
        &[role.into(), unsafe { pg_sys::MyDatabaseId }.into()],
    );
    let (can_login, can_connect) = match row {
        Ok((Some(l), Some(c))) => (l, c),
        _ => return Some("the current role could not be read from pg_roles".into()),
    };
    if !can_connect {
        return Some(format!(
            "the role {} has no CONNECT privilege on this database, which the deferred worker needs to connect as it",
            crate::privilege::current_user_name()
        ));
    }
    if !can_login && !WORKER_BYPASSES_LOGIN_CHECK {
        return Some(format!(
            "the role {} cannot log in, and before PostgreSQL 17 a background worker can only connect as a role that can (apply as a LOGIN role, or set options.online: false)",
            crate::privilege::current_user_name()
        ));
    }
    None
}

/// PostgreSQL 17 and later let a background worker connect as a NOLOGIN role
/// (`BGWORKER_BYPASS_ROLELOGINCHECK`).
#[cfg(any(feature = "pg15", feature = "pg16"))]
pub const WORKER_BYPASSES_LOGIN_CHECK: bool = false;
#[cfg(not(any(feature = "pg15", feature = "pg16")))]
pub const WORKER_BYPASSES_LOGIN_CHECK: bool = true;

/// The library the worker's code is in: the one this database's revos functions load
/// (`pg_proc.probin` of `revos.deferred_status`, `$libdir/revos` unless relocated).
fn library() -> String {
    let oid = crate::privilege::revos_function("deferred_status", &[pg_sys::TEXTOID]);
    oid.and_then(|oid| {
        Spi::get_one_with_args::<String>(
            "SELECT p.probin FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) $1",
            &[oid.into()],
        )
        .ok()
        .flatten()
    })
    .unwrap_or_else(|| "$libdir/revos".into())
}

/// Starts the deferred worker of `role` in this database. False when the server has no free
/// background worker slot (`max_worker_processes`).
pub fn start(role: pg_sys::Oid) -> bool {
    let db = unsafe { pg_sys::MyDatabaseId };
    BackgroundWorkerBuilder::new(&format!("revos deferred steps (role {})", u32::from(role)))
        .set_type("revos deferred")
        .set_library(&library())
        .set_function("revos_deferred_main")
        .enable_spi_access()
        .set_restart_time(None)
        .set_extra(&format!("{} {}", u32::from(db), u32::from(role)))
        .load_dynamic()
        .is_ok()
}

/// Whether a worker of `role` runs in this database (it holds the role's worker lock), or is
/// starting (a `revos deferred` process of that role is there).
pub fn alive(role: pg_sys::Oid) -> bool {
    if !role_lock::free(role) {
        return true;
    }
    starting(role)
}

/// A `revos deferred` process of `role` in this database that does not hold the lock yet (it
/// waits for the apply that started it, or for the worker before it).
fn starting(role: pg_sys::Oid) -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_activity a
                         WHERE a.backend_type OPERATOR(pg_catalog.=) 'revos deferred'
                           AND a.datid OPERATOR(pg_catalog.=) $1 AND a.usesysid OPERATOR(pg_catalog.=) $2)",
        &[unsafe { pg_sys::MyDatabaseId }.into(), role.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Starts a worker for every role that has steps pending or running and no worker: steps left
/// by a worker that died (terminated, the server restarted) are taken up again. Returns how many
/// were started, and how many could not be (no free slot).
pub fn resume() -> (usize, usize) {
    let (mut started, mut refused) = (0, 0);
    for role in store::roles_with_open_steps() {
        if alive(role) {
            continue;
        }
        if start(role) {
            started += 1;
        } else {
            refused += 1;
        }
    }
    (started, refused)
}
