//! Moving an existing chain's head without the executor: what the chain trigger's upsert
//!
//! ```sql
//! INSERT INTO revos.event_chain_heads AS h (chain, last_id, prev_id) VALUES ($1, NULL, NULL)
//!     ON CONFLICT (chain) DO UPDATE SET prev_id = h.last_id, last_id = nextval('revos.events_id_seq')
//!     RETURNING h.last_id, h.prev_id
//! ```
//!
//! does when the chain's head row exists (every event but a chain's first), done the way the
//! executor's UPDATE does it in READ COMMITTED, minus the plan: [`begin`] finds the row through the
//! primary key with a fresh snapshot and takes the new event's id (`nextval`); the trigger computes
//! the event's hash; [`finish`] updates the version found (HOT when it fits; the index entry only
//! when not), waiting for a concurrent writer of the same chain — if that writer committed first,
//! the trigger starts again (ids may skip, and still grow along the chain). The updated row stays
//! locked to the transaction's end, so writers of one chain serialize as with the statement. The
//! upsert through SPI cost about a tenth of a log_event call; locking the row before updating it,
//! a WAL record of its own (bench/FINDINGS.md).
//!
//! The head also keeps the hash of its last event (`last_hash`, written `<last_id>:<hex>`), so
//! that the next event need not read it from revos.events: the value counts only when its id is
//! the row's `last_id` — whatever moves the head without it (the statement below, a restore, a
//! database not updated to 0.3.0, a hand edit) leaves a value that no longer matches and is read
//! from the event instead.
//!
//! [`begin`] answers only where it does exactly what the statement would; otherwise None, and
//! the trigger runs the statement: the chain's first event (no visible head row, or one without
//! last_id: the statement checks the chain has no event before it starts it again), REPEATABLE READ
//! or SERIALIZABLE (a concurrent update there is a serialization failure, which the statement
//! raises), a head table that is not the one revos creates (other indexes, triggers than revos's
//! guard, row level security, check constraints, other columns), or a row that keeps changing
//! under us. The guard's check (only the table's owner or a superuser writes it,
//! `written_by_revos`) is made here, as the trigger would.

use pgrx::pg_sys;
use std::ffi::CStr;

use crate::ledger::index_scan::begin_key_scan;
use crate::privilege::revos_relation;

const LOCK: pg_sys::LOCKMODE = pg_sys::RowExclusiveLock as pg_sys::LOCKMODE;
/// Columns of revos.event_chain_heads, in order: chain text, last_id bigint, prev_id bigint,
/// last_hash text (0.3.0; a database not updated yet has the first three).
const COLUMNS: [(&str, pg_sys::Oid); 4] = [
    ("chain", pg_sys::TEXTOID),
    ("last_id", pg_sys::INT8OID),
    ("prev_id", pg_sys::INT8OID),
    ("last_hash", pg_sys::TEXTOID),
];

/// A chain's head row found and the new event's id taken: what [`finish`] writes.
pub(crate) struct Pending {
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    tid: pg_sys::ItemPointerData,
    /// the row as found, deformed
    values: [pg_sys::Datum; 4],
    nulls: [bool; 4],
    natts: usize,
    /// the new event's id
    pub id: i64,
    /// the chain's previous event (the row's last_id)
    pub prev_id: Option<i64>,
    /// the hash of event `prev_id`, when the row holds it for that id
    pub prev_hash: Option<Vec<u8>>,
}

/// How [`finish`] went.
pub(crate) enum Finished {
    Done,
    /// a concurrent writer of the chain committed first: begin again
    Changed,
    /// not for this path: the statement
    Other,
}

/// The head row of `chain` (an existing chain, in READ COMMITTED) and the new event's id, or None.
pub(crate) unsafe fn begin(chain: pg_sys::Datum) -> Option<Pending> {
    if pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32 {
        return None;
    }
    let relid = revos_relation("event_chain_heads")?;
    let seq = revos_relation("events_id_seq")?;
    let rel = pg_sys::table_open(relid, LOCK);
    let Some(index_oid) = the_heads_index(rel) else {
        pg_sys::table_close(rel, LOCK);
        return None;
    };
    // what the head table's guard trigger (`revos.written_by_revos()`) would check of the UPDATE
    crate::ledger::written_by_revos::check_writer(rel, "UPDATE");
    let index = pg_sys::index_open(index_oid, LOCK);
    // what a new statement would see: earlier commands' effects, a fresh snapshot
    pg_sys::CommandCounterIncrement();
    let Some((tid, old)) = find(rel, index, chain) else {
        // the chain's first event (or its head not visible yet): the statement
        pg_sys::index_close(index, LOCK);
        pg_sys::table_close(rel, LOCK);
        return None;
    };
    let natts = (*(*rel).rd_att).natts as usize;
    let mut values = [pg_sys::Datum::from(0usize); 4];
    let mut nulls = [true; 4];
    pg_sys::heap_deform_tuple(old, (*rel).rd_att, values.as_mut_ptr(), nulls.as_mut_ptr());
    if nulls[1] {
        // a head without last_id (reset by hand): the statement, which checks the chain has no
        // event yet before it starts it (event_chain.rs, `forked_chain`)
        pg_sys::index_close(index, LOCK);
        pg_sys::table_close(rel, LOCK);
        return None;
    }
    let prev_id = Some(values[1].value() as i64);
    let prev_hash = if natts == 4 && !nulls[3] {
        own_hash(crate::ledger::event_hash::text_bytes(values[3]), prev_id)
    } else {
        None
    };
    let id = pgrx::fcinfo::direct_function_call_as_datum(
        pg_sys::nextval_oid,
        &[Some(pg_sys::Datum::from(seq))],
    )
    .expect("nextval returns a value")
    .value() as i64;
    Some(Pending {
        rel,
        index,
        tid,
        values,
        nulls,
        natts,
        id,
        prev_id,
        prev_hash,
    })
}

/// The hash in `last_hash` (`<id>:<64 hex>`) when its id is `last_id`.
fn own_hash(text: &[u8], last_id: Option<i64>) -> Option<Vec<u8>> {
    let at = text.iter().position(|b| *b == b':')?;
    let id: i64 = std::str::from_utf8(&text[..at]).ok()?.parse().ok()?;
    let hash = &text[at + 1..];
    // 64 zeros is a genesis's prev_hash, never an event's hash: a head given it by hand would make
    // the next event a genesis look-alike (the review of the L2 fix, L-b); the stored hash then
    (Some(id) == last_id && hash.len() == 64 && hash.iter().any(|b| *b != b'0'))
        .then(|| hash.to_vec())
}

/// Writes the head's new version (last_id = the new event's id, prev_id = the old last_id,
/// last_hash = its `hash`) over the version [`begin`] found; closes what it opened.
pub(crate) unsafe fn finish(p: Pending, hash: &[u8]) -> Finished {
    let Pending {
        rel,
        index,
        mut tid,
        mut values,
        mut nulls,
        natts,
        id,
        ..
    } = p;
    values[2] = values[1];
    nulls[2] = nulls[1];
    values[1] = pg_sys::Datum::from(id);
    nulls[1] = false;
    if natts == 4 {
        let text = format!("{id}:{}", String::from_utf8_lossy(hash));
        values[3] = pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
            text.as_ptr().cast(),
            text.len() as i32,
        ));
        nulls[3] = false;
    }
    let new = pg_sys::heap_form_tuple((*rel).rd_att, values.as_mut_ptr(), nulls.as_mut_ptr());
    let out = match write(rel, &mut tid, new) {
        Written::Indexes => {
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
            Finished::Done
        }
        Written::Hot => Finished::Done,
        Written::Changed => Finished::Changed,
        Written::Other => Finished::Other,
    };
    pg_sys::index_close(index, LOCK);
    pg_sys::table_close(rel, LOCK);
    out
}

/// The table's only index, when the table is exactly the one revos creates: its columns
/// ([`COLUMNS`], or the first three), no trigger but revos's guard (whose check `begin` makes), no
/// row level security, no constraint but NOT NULL, and one valid unique btree on (chain).
unsafe fn the_heads_index(rel: pg_sys::Relation) -> Option<pg_sys::Oid> {
    let form = (*rel).rd_rel;
    let desc = (*rel).rd_att;
    if (*form).relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char
        || (*form).relrowsecurity
        || !crate::ledger::written_by_revos::only_guard_triggers(rel)
        || !matches!((*desc).natts, 3 | 4)
        || (!(*desc).constr.is_null() && (*(*desc).constr).num_check > 0)
    {
        return None;
    }
    let attrs = pgrx::PgTupleDesc::from_pg_unchecked(desc);
    for (i, (name, typ)) in COLUMNS.iter().take((*desc).natts as usize).enumerate() {
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
        && (*f).indnatts == 1
        && (*f).indkey.values.as_slice(1)[0] == 1
        && crate::ledger::index_scan::plain_btree(index);
    pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
    ok.then_some(index_oid)
}

/// The visible head row of `chain` under a fresh snapshot (its TID and a copy), if any.
unsafe fn find(
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    chain: pg_sys::Datum,
) -> Option<(pg_sys::ItemPointerData, pg_sys::HeapTuple)> {
    let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot());
    let scan = begin_key_scan(rel, index, snapshot, chain, pg_sys::F_TEXTEQ);
    let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
    let found =
        if pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
            let mut should_free = false;
            let tuple = pg_sys::ExecFetchSlotHeapTuple(slot, false, &mut should_free);
            Some(((*slot).tts_tid, pg_sys::heap_copytuple(tuple)))
        } else {
            None
        };
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    pg_sys::index_endscan(scan);
    pg_sys::UnregisterSnapshot(snapshot);
    found
}

/// What `heap_update` did with the head's new version.
enum Written {
    /// updated, HOT: no index entry needed
    Hot,
    /// updated, not HOT: the index needs an entry for the new version
    Indexes,
    /// a concurrent writer updated (or deleted) the row first and committed: read it again
    Changed,
    /// anything else (the statement handles it)
    Other,
}

unsafe fn outcome(r: pg_sys::TM_Result::Type, hot: bool) -> Written {
    match r {
        pg_sys::TM_Result::TM_Ok if hot => Written::Hot,
        pg_sys::TM_Result::TM_Ok => Written::Indexes,
        pg_sys::TM_Result::TM_Updated | pg_sys::TM_Result::TM_Deleted => Written::Changed,
        _ => Written::Other,
    }
}

/// `heap_update` of the row at `tid`, waiting for a concurrent writer of it.
#[cfg(feature = "pg15")]
unsafe fn write(
    rel: pg_sys::Relation,
    tid: &mut pg_sys::ItemPointerData,
    new: pg_sys::HeapTuple,
) -> Written {
    let mut tmfd: pg_sys::TM_FailureData = std::mem::zeroed();
    let mut mode: pg_sys::LockTupleMode::Type = 0;
    let cid = pg_sys::GetCurrentCommandId(true);
    let r = pg_sys::heap_update(
        rel,
        tid,
        new,
        cid,
        std::ptr::null_mut(),
        true,
        &mut tmfd,
        &mut mode,
    );
    outcome(
        r,
        (*(*new).t_data).t_infomask2 & pg_sys::HEAP_ONLY_TUPLE as u16 != 0,
    )
}

#[cfg(not(feature = "pg15"))]
unsafe fn write(
    rel: pg_sys::Relation,
    tid: &mut pg_sys::ItemPointerData,
    new: pg_sys::HeapTuple,
) -> Written {
    let mut tmfd: pg_sys::TM_FailureData = std::mem::zeroed();
    let mut mode: pg_sys::LockTupleMode::Type = 0;
    let mut update_indexes: pg_sys::TU_UpdateIndexes::Type = pg_sys::TU_UpdateIndexes::TU_None;
    let cid = pg_sys::GetCurrentCommandId(true);
    let r = pg_sys::heap_update(
        rel,
        tid,
        new,
        cid,
        std::ptr::null_mut(),
        true,
        &mut tmfd,
        &mut mode,
        &mut update_indexes,
    );
    outcome(r, update_indexes == pg_sys::TU_UpdateIndexes::TU_None)
}
