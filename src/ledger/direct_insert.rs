//! Inserting `log_event`'s row into revos.events without a statement: what
//!
//! ```sql
//! INSERT INTO revos.events (id, tenant_id, event_type, subject_type, subject_id, actor_id,
//!     payload, idempotency_key, occurred_at, event_id) VALUES (NULL, $1, …, $9) RETURNING id
//! ```
//!
//! does, done the way logical replication applies a row (`ExecSimpleRelationInsert`): the BEFORE
//! ROW trigger (the chain), the table's constraints, the heap, every index (with its predicate),
//! the AFTER ROW triggers. What is left out is the statement's machinery — SPI, the cached plan's
//! revalidation, the executor's start and end, the RETURNING projection — about a tenth of a
//! log_event call (bench/FINDINGS.md, P4).
//!
//! [`insert`] answers only where it does exactly what the statement would; otherwise None and
//! log_event runs the statement: a read-only or parallel transaction, a role without INSERT on
//! the table (a column grant is the statement's business), a table that is not the one revos
//! creates (other columns or types, a generated column, row level security, a partition), or a
//! trigger on INSERT other than revos's chain trigger (a statement-level trigger, a transition
//! table, a WHEN clause, a second row trigger: the statement would fire them as a statement does).
//! Before the chain trigger, `recorded_at` is NULL instead of its default `now()`: the chain
//! trigger, the only one that sees the row before it is stored, sets it in every case.

use pgrx::pg_sys;
use std::ffi::CStr;

use crate::privilege::{revos_function, revos_relation};

const LOCK: pg_sys::LOCKMODE = pg_sys::RowExclusiveLock as pg_sys::LOCKMODE;

/// Columns of revos.events, in order (sql/ledger.sql).
pub(crate) const COLUMNS: [(&str, pg_sys::Oid); 13] = [
    ("id", pg_sys::INT8OID),
    ("event_id", pg_sys::UUIDOID),
    ("tenant_id", pg_sys::TEXTOID),
    ("event_type", pg_sys::TEXTOID),
    ("subject_type", pg_sys::TEXTOID),
    ("subject_id", pg_sys::TEXTOID),
    ("actor_id", pg_sys::TEXTOID),
    ("payload", pg_sys::JSONBOID),
    ("idempotency_key", pg_sys::TEXTOID),
    ("occurred_at", pg_sys::TIMESTAMPTZOID),
    ("recorded_at", pg_sys::TIMESTAMPTZOID),
    ("prev_hash", pg_sys::TEXTOID),
    ("hash", pg_sys::TEXTOID),
];

/// Inserts the row `values` (in [`COLUMNS`] order, None = NULL; id, recorded_at, prev_hash and
/// hash are the chain trigger's) and returns its id; None when this path does not apply.
pub(crate) unsafe fn insert(values: &[Option<pg_sys::Datum>; 13]) -> Option<i64> {
    if pg_sys::XactReadOnly || pg_sys::IsInParallelMode() {
        return None; // the statement raises the error a read-only transaction gets
    }
    let relid = revos_relation("events")?;
    let chain = revos_function("events_chain", &[])?;
    let insert_right = pg_sys::ACL_INSERT as pg_sys::AclMode;
    if pg_sys::pg_class_aclcheck(relid, pg_sys::GetUserId(), insert_right)
        != pg_sys::AclResult::ACLCHECK_OK
    {
        return None;
    }
    let rel = pg_sys::table_open(relid, LOCK);
    if !the_events_table(rel) || !only_the_chain_trigger(rel, chain) {
        pg_sys::table_close(rel, LOCK);
        return None;
    }
    let id = store(rel, values);
    // the lock is kept to the end of the transaction, as a statement keeps it
    pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
    Some(id)
}

/// The table revos creates: a plain table (not a partition), exactly [`COLUMNS`], no generated
/// column, no row level security.
unsafe fn the_events_table(rel: pg_sys::Relation) -> bool {
    let form = (*rel).rd_rel;
    let desc = (*rel).rd_att;
    if (*form).relkind != pg_sys::RELKIND_RELATION as std::ffi::c_char
        || (*form).relrowsecurity
        || (*form).relispartition
        || (*desc).natts as usize != COLUMNS.len()
        || (!(*desc).constr.is_null() && (*(*desc).constr).has_generated_stored)
    {
        return false;
    }
    let attrs = pgrx::PgTupleDesc::from_pg_unchecked(desc);
    COLUMNS.iter().enumerate().all(|(i, (name, typ))| {
        attrs.get(i).is_some_and(|a| {
            !a.attisdropped
                && a.atttypid == *typ
                && a.attgenerated == 0
                && CStr::from_ptr(a.attname.data.as_ptr()).to_bytes() == name.as_bytes()
        })
    })
}

/// The table's only trigger on INSERT is revos's chain trigger: BEFORE, FOR EACH ROW, no WHEN.
unsafe fn only_the_chain_trigger(rel: pg_sys::Relation, chain: pg_sys::Oid) -> bool {
    let td = (*rel).trigdesc;
    if td.is_null() {
        return false;
    }
    let on_insert = pg_sys::TRIGGER_TYPE_INSERT as i16;
    let before_row = (pg_sys::TRIGGER_TYPE_BEFORE | pg_sys::TRIGGER_TYPE_ROW) as i16;
    let triggers = std::slice::from_raw_parts((*td).triggers, (*td).numtriggers as usize);
    let mut chains = 0;
    for t in triggers.iter().filter(|t| t.tgtype & on_insert != 0) {
        let ours = t.tgfoid == chain
            && t.tgtype & before_row == before_row
            && t.tgqual.is_null()
            && t.tgnewtable.is_null()
            && t.tgoldtable.is_null();
        if !ours {
            return false;
        }
        chains += 1;
    }
    chains == 1
}

/// The insertion itself, as `ExecSimpleRelationInsert` does it for logical replication, with
/// what SPI does around a statement that is not read-only (a new command id, a new snapshot).
unsafe fn store(rel: pg_sys::Relation, values: &[Option<pg_sys::Datum>; 13]) -> i64 {
    pg_sys::CommandCounterIncrement();
    pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    let estate = pg_sys::CreateExecutorState();
    (*estate).es_output_cid = pg_sys::GetCurrentCommandId(true);
    let rri = pg_sys::palloc0(std::mem::size_of::<pg_sys::ResultRelInfo>())
        .cast::<pg_sys::ResultRelInfo>();
    pg_sys::InitResultRelInfo(rri, rel, 0, std::ptr::null_mut(), 0);
    pg_sys::ExecOpenIndices(rri, false);
    pg_sys::AfterTriggerBeginQuery();
    let slot =
        pg_sys::ExecInitExtraTupleSlot(estate, (*rel).rd_att, &raw const pg_sys::TTSOpsVirtual);
    for (i, v) in values.iter().enumerate() {
        *(*slot).tts_values.add(i) = v.unwrap_or(pg_sys::Datum::from(0usize));
        *(*slot).tts_isnull.add(i) = v.is_none();
    }
    pg_sys::ExecStoreVirtualTuple(slot);
    pg_sys::ExecSimpleRelationInsert(rri, estate, slot);
    let stored = (*slot).tts_tid.ip_posid != 0;
    let mut isnull = true;
    let id = if stored {
        pg_sys::slot_getattr(slot, 1, &mut isnull)
    } else {
        pg_sys::Datum::from(0usize)
    };
    pg_sys::AfterTriggerEndQuery(estate);
    pg_sys::ExecCloseIndices(rri);
    pg_sys::ExecResetTupleTable((*estate).es_tupleTable, false);
    pg_sys::FreeExecutorState(estate);
    pg_sys::PopActiveSnapshot();
    pg_sys::CommandCounterIncrement();
    if !stored || isnull {
        pgrx::error!(
            "revos.log_event: the event was not stored (a trigger of revos.events skipped it)"
        );
    }
    id.value() as i64
}
