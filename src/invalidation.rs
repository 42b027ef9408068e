//! revos's one relcache callback. PostgreSQL keeps ten relcache callbacks per backend and ends the
//! session (FATAL) when an eleventh is registered; Citus about five (its sources), PostgreSQL's own caches two or
//! three. So every cache of revos's that must forget catalog answers when a relation changes
//! (Citus's distribution columns, `citus::route::relations`; set_tenant's tenant types, `tenant`)
//! registers a function here, and one callback calls them all (the review of 9b59286, 3).

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::RefCell;

thread_local! {
    static LISTENERS: RefCell<Vec<fn(pg_sys::Oid)>> = const { RefCell::new(Vec::new()) };
}

/// Calls `f` with the relation's OID (InvalidOid: every relation) on every relcache
/// invalidation this backend processes, from now on. Registering the same function twice calls
/// it once.
pub fn on_relation(f: fn(pg_sys::Oid)) {
    LISTENERS.with(|l| {
        let mut l = l.borrow_mut();
        if l.is_empty() {
            unsafe {
                pg_sys::CacheRegisterRelcacheCallback(Some(relation), pg_sys::Datum::from(0usize))
            };
        }
        if !l.iter().any(|g| std::ptr::fn_addr_eq(*g, f)) {
            l.push(f);
        }
    });
}

#[pg_guard]
unsafe extern "C-unwind" fn relation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // one listener at a time, the borrow ended before it runs; nothing allocated here
    let mut i = 0;
    while let Some(f) = LISTENERS.with(|l| l.borrow().get(i).copied()) {
        f(relid);
        i += 1;
    }
}
