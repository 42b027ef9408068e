//! Moving an existing chain's head without the executor: what the chain trigger's upsert
//!
//! ```sql
//! INSERT INTO revos.event_chain_heads AS h (chain, last_id, prev_id) VALUES ($1, NULL, NULL)
//!     ON CONFLICT (chain) DO UPDATE SET prev_id = h.last_id, last_id = nextval('revos.events_id_seq')
//!     RETURNING h.last_id, h.prev_id
//! ```
//!
//! does when the chain's head row exists (every event but a chain's first), done the way the
//! executor's ON CONFLICT DO UPDATE does it, minus the plan: find the row through the primary key
//! with a fresh snapshot, lock it (FOR NO KEY UPDATE, waiting for a concurrent writer of the same
//! chain; if that writer committed, look again), `nextval`, update the row (HOT when it fits),
//! insert the index entry only when the update was not HOT. The upsert through SPI cost about a
//! tenth of a log_event call (its executor start and end, the ON CONFLICT arbiter); bench/FINDINGS.md.
//!
//! [`advance`] answers only where it does exactly what the statement would; otherwise None, and
//! the trigger runs the statement: the chain's first event (no visible head row), REPEATABLE READ
//! or SERIALIZABLE (a concurrent update there is a serialization failure, which the statement
//! raises), a head table that is not the one revos creates (other indexes, triggers, row level
//! security, check constraints, other columns), or a row that keeps changing under us.

use pgrx::pg_sys;
use std::ffi::CStr;

use crate::ledger::index_scan::begin_key_scan;
use crate::privilege::revos_relation;

const LOCK: pg_sys::LOCKMODE = pg_sys::RowExclusiveLock as pg_sys::LOCKMODE;
/// Columns of revos.event_chain_heads, in order: chain text, last_id bigint, prev_id bigint.
const COLUMNS: [(&str, pg_sys::Oid); 3] = [
    ("chain", pg_sys::TEXTOID),
    ("last_id", pg_sys::INT8OID),
    ("prev_id", pg_sys::INT8OID),
];

/// (the new event's id, the chain's previous last id) for an existing chain, or None.
pub(crate) unsafe fn advance(chain: pg_sys::Datum) -> Option<(i64, Option<i64>)> {
    if pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32 {
        return None;
    }
    let relid = revos_relation("event_chain_heads")?;
    let seq = revos_relation("events_id_seq")?;
    let rel = pg_sys::table_open(relid, LOCK);
    let out = match the_heads_index(rel) {
        Some(index_oid) => {
            let index = pg_sys::index_open(index_oid, LOCK);
            let out = (0..5)
                .find_map(|_| attempt(rel, index, chain, seq))
                .flatten();
            pg_sys::index_close(index, LOCK);
            out
        }
        None => None,
    };
    pg_sys::table_close(rel, LOCK);
    out
}

/// The table's only index, when the table is exactly the one revos creates: three columns
/// (chain text, last_id, prev_id bigint), no trigger, no row level security, no constraint but
/// NOT NULL, and one valid unique btree on (chain).
unsafe fn the_heads_index(rel: pg_sys::Relation) -> Option<pg_sys::Oid> {
    let form = (*rel).rd_rel;
    let desc = (*rel).rd_att;
    if (*form).relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char
        || (*form).relrowsecurity
        || !(*rel).trigdesc.is_null()
        || (*desc).natts != 3
        || (!(*desc).constr.is_null() && (*(*desc).constr).num_check > 0)
    {
        return None;
    }
    let attrs = pgrx::PgTupleDesc::from_pg_unchecked(desc);
    for (i, (name, typ)) in COLUMNS.iter().enumerate() {
        let a = attrs.get(i)?;
        if a.attisdropped
            || a.atttypid != *typ
            || CStr::from_ptr(a.attname.data.as_ptr()).to_bytes() != name.as_bytes()
        {
            return None;
        }
    }
    let list = pg_sys::RelationGetIndexList(rel);
    if list.is_null() || (*list).length != 1 {
        return None;
    }
    let index_oid = pg_sys::list_nth_oid(list, 0);
    let index = pg_sys::index_open(index_oid, LOCK);
    let f = (*index).rd_index;
    let ok = (*f).indisunique
        && (*f).indisvalid
        && (*f).indnatts == 1
        && (*f).indkey.values.as_slice(1)[0] == 1
        && (*(*index).rd_rel).relam == pg_sys::BTREE_AM_OID
        && pg_sys::heap_attisnull(
            (*index).rd_indextuple,
            pg_sys::Anum_pg_index_indpred as i32,
            std::ptr::null_mut(),
        )
        && pg_sys::heap_attisnull(
            (*index).rd_indextuple,
            pg_sys::Anum_pg_index_indexprs as i32,
            std::ptr::null_mut(),
        );
    pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
    ok.then_some(index_oid)
}

/// One try: Some(answer), Some(None) = not for this path (fall back), None = the row changed
/// under us (a concurrent writer of the chain committed): try again with a new snapshot.
unsafe fn attempt(
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    chain: pg_sys::Datum,
    seq: pg_sys::Oid,
) -> Option<Option<(i64, Option<i64>)>> {
    // what a new statement would see: earlier commands' effects, a fresh snapshot
    pg_sys::CommandCounterIncrement();
    let Some(tid) = find(rel, index, chain) else {
        return Some(None); // the chain's first event (or its head not visible yet): the statement
    };
    let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
    tuple.t_self = tid;
    let mut buffer: pg_sys::Buffer = 0;
    let mut tmfd: pg_sys::TM_FailureData = std::mem::zeroed();
    let cid = pg_sys::GetCurrentCommandId(true);
    let result = pg_sys::heap_lock_tuple(
        rel,
        &mut tuple,
        cid,
        pg_sys::LockTupleMode::LockTupleNoKeyExclusive,
        pg_sys::LockWaitPolicy::LockWaitBlock,
        false,
        &mut buffer,
        &mut tmfd,
    );
    if result != pg_sys::TM_Result::TM_Ok {
        if buffer != 0 {
            pg_sys::ReleaseBuffer(buffer);
        }
        return match result {
            pg_sys::TM_Result::TM_Updated | pg_sys::TM_Result::TM_Deleted => None,
            _ => Some(None),
        };
    }
    let old = pg_sys::heap_copytuple(&mut tuple);
    pg_sys::ReleaseBuffer(buffer);
    Some(Some(update(rel, index, old, tid, seq)))
}

/// The visible head row of `chain` under a fresh snapshot (its TID), if any.
unsafe fn find(
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    chain: pg_sys::Datum,
) -> Option<pg_sys::ItemPointerData> {
    let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot());
    let scan = begin_key_scan(rel, index, snapshot, chain, pg_sys::F_TEXTEQ);
    let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
    let found = pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot)
        .then(|| (*slot).tts_tid);
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    pg_sys::index_endscan(scan);
    pg_sys::UnregisterSnapshot(snapshot);
    found
}

/// prev_id = last_id, last_id = nextval(revos.events_id_seq) on the locked row.
unsafe fn update(
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    old: pg_sys::HeapTuple,
    mut tid: pg_sys::ItemPointerData,
    seq: pg_sys::Oid,
) -> (i64, Option<i64>) {
    let desc = (*rel).rd_att;
    let mut values = [pg_sys::Datum::from(0usize); 3];
    let mut nulls = [false; 3];
    pg_sys::heap_deform_tuple(old, desc, values.as_mut_ptr(), nulls.as_mut_ptr());
    let prev = (!nulls[1]).then(|| values[1].value() as i64);
    let id = pgrx::fcinfo::direct_function_call_as_datum(
        pg_sys::nextval_oid,
        &[Some(pg_sys::Datum::from(seq))],
    )
    .expect("nextval returns a value")
    .value() as i64;
    values[2] = values[1];
    nulls[2] = nulls[1];
    values[1] = pg_sys::Datum::from(id);
    nulls[1] = false;
    let new = pg_sys::heap_form_tuple(desc, values.as_mut_ptr(), nulls.as_mut_ptr());
    if write(rel, &mut tid, new) {
        // not HOT: the primary key's entry for the new version
        let info = pg_sys::BuildIndexInfo(index);
        pg_sys::index_insert(
            index,
            values.as_mut_ptr(),
            nulls.as_mut_ptr(),
            &mut (*new).t_self,
            rel,
            pg_sys::IndexUniqueCheck::UNIQUE_CHECK_YES,
            true,
            info,
        );
    }
    (id, prev)
}

/// simple_heap_update (we hold the row's lock: it cannot fail for a concurrent update); true
/// when the indexes need an entry for the new version (not a HOT update).
#[cfg(feature = "pg15")]
unsafe fn write(
    rel: pg_sys::Relation,
    tid: &mut pg_sys::ItemPointerData,
    new: pg_sys::HeapTuple,
) -> bool {
    pg_sys::simple_heap_update(rel, tid, new);
    (*(*new).t_data).t_infomask2 & pg_sys::HEAP_ONLY_TUPLE as u16 == 0
}

#[cfg(not(feature = "pg15"))]
unsafe fn write(
    rel: pg_sys::Relation,
    tid: &mut pg_sys::ItemPointerData,
    new: pg_sys::HeapTuple,
) -> bool {
    let mut update_indexes: pg_sys::TU_UpdateIndexes::Type = pg_sys::TU_UpdateIndexes::TU_None;
    pg_sys::simple_heap_update(rel, tid, new, &mut update_indexes);
    update_indexes != pg_sys::TU_UpdateIndexes::TU_None
}
