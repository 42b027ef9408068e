//! Never a second genesis: before the chain trigger starts a chain (an event with no previous
//! one), it looks for an event of that chain already in revos.events. One is there when the
//! chain's head row was deleted or reset by hand, or changed by a trigger on the head table (the
//! review of 56b3afe, L2); the event is then refused (event_chain.rs, `forked_chain`).
//!
//! The look is a probe of `events_tenant_id_idx` (tenant_id, id) without the executor, under a
//! dirty snapshot: every event counts, committed or in progress, whatever the transaction's own
//! snapshot (REPEATABLE READ would miss the events committed after it), and a non-MVCC snapshot
//! takes no predicate lock (SERIALIZABLE first events of two tenants would otherwise conflict on
//! the index page). Where that index is missing or changed, a sequential scan under the same
//! snapshot (slow, and only ever for a chain's first event).

use pgrx::pg_sys;

use crate::ledger::event_hash::text_bytes;
use crate::ledger::index_scan::{begin_key_scan, begin_null_scan, plain_btree};

const LOCK: pg_sys::LOCKMODE = pg_sys::AccessShareLock as pg_sys::LOCKMODE;

/// Whether revos.events (`rel`, its tenant column at `tenant_at`, zero-based) holds an event of
/// tenant `tenant` (None: the global chain, tenant_id NULL).
pub(crate) unsafe fn chain_has_events(
    rel: pg_sys::Relation,
    tenant_at: usize,
    tenant: Option<pg_sys::Datum>,
) -> bool {
    let mut dirty: pg_sys::SnapshotData = std::mem::zeroed();
    dirty.snapshot_type = pg_sys::SnapshotType::SNAPSHOT_DIRTY;
    let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
    let found = match tenant_index(rel, tenant_at) {
        Some(index_oid) => probe(rel, index_oid, &mut dirty, tenant, slot),
        None => scan(rel, tenant_at, &mut dirty, tenant, slot),
    };
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    found
}

/// The first index probe: `tenant_id = $1`, or `tenant_id IS NULL`.
unsafe fn probe(
    rel: pg_sys::Relation,
    index_oid: pg_sys::Oid,
    snapshot: pg_sys::Snapshot,
    tenant: Option<pg_sys::Datum>,
    slot: *mut pg_sys::TupleTableSlot,
) -> bool {
    let index = pg_sys::index_open(index_oid, LOCK);
    let scan = match tenant {
        Some(t) => begin_key_scan(rel, index, snapshot, t, pg_sys::F_TEXTEQ),
        None => begin_null_scan(rel, index, snapshot),
    };
    let found = pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot);
    pg_sys::index_endscan(scan);
    pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
    found
}

/// Without the index: every row, its tenant compared byte for byte (text equality under a
/// deterministic collation, which the index's is).
unsafe fn scan(
    rel: pg_sys::Relation,
    tenant_at: usize,
    snapshot: pg_sys::Snapshot,
    tenant: Option<pg_sys::Datum>,
    slot: *mut pg_sys::TupleTableSlot,
) -> bool {
    let want = tenant.map(|t| text_bytes(t).to_vec());
    let scan = pg_sys::table_beginscan(rel, snapshot, 0, std::ptr::null_mut());
    let mut found = false;
    while pg_sys::table_scan_getnextslot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
        let mut isnull = false;
        let value = pg_sys::slot_getattr(slot, tenant_at as i32 + 1, &mut isnull);
        found = match (&want, isnull) {
            (None, true) => true,
            (Some(w), false) => text_bytes(value) == w.as_slice(),
            _ => false,
        };
        if found {
            break;
        }
    }
    pg_sys::table_endscan(scan);
    found
}

/// `events_tenant_id_idx` as revos creates it: a valid btree on revos.events whose first key is
/// the tenant column, without predicate or expressions.
unsafe fn tenant_index(rel: pg_sys::Relation, tenant_at: usize) -> Option<pg_sys::Oid> {
    let oid = crate::privilege::revos_relation("events_tenant_id_idx")?;
    if pg_sys::get_rel_relkind(oid) != pg_sys::RELKIND_INDEX as std::ffi::c_char {
        return None;
    }
    let index = pg_sys::index_open(oid, LOCK);
    let f = (*index).rd_index;
    let ok = (*f).indrelid == (*rel).rd_id
        && (*f).indnatts >= 1
        && i32::from((*f).indkey.values.as_slice(1)[0]) == tenant_at as i32 + 1
        && plain_btree(index)
        && deterministic(*(*index).rd_indcollation);
    pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
    ok.then_some(oid)
}

/// Whether collation `coll` compares text byte for byte (the fallback scan's comparison), as the
/// column's default collation does: otherwise the fallback scan.
unsafe fn deterministic(coll: pg_sys::Oid) -> bool {
    coll != pg_sys::InvalidOid && pg_sys::get_collation_isdeterministic(coll)
}
