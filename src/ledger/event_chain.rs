//! `revos.events_chain()`: the BEFORE INSERT trigger of revos.events, in Rust.
//!
//! Every event (log_event, the migration trigger, the drift capture) passes through it, so it is
//! the ledger's hot path. What it does is what sql/ledger.sql documents beside the trigger:
//!
//! ```text
//! NEW arrives with id and hash  -> a restored row: revos.events_chain_restore(NEW) (PL/pgSQL)
//! otherwise                     -> chain = 'tenant:<id>' | 'global'
//!   upsert the chain's head row (locks it: writers of one chain serialize; ids grow along it)
//!     -> id = nextval(revos.events_id_seq), prev_id = the chain's previous last_id
//!   prev_hash = hash of event prev_id, one probe of the primary key with a fresh snapshot (the
//!               previous writer committed before we got the lock); 64 zeros for a chain's first
//!   recorded_at = clock_timestamp(), occurred_at defaults to it, hash = event_hash(NEW)
//! ```
//!
//! As a PL/pgSQL function it cost about a third of a log_event call: the record variable NEW
//! rebuilt on every assignment and two statements through PL/pgSQL. Here the head's upsert is a
//! plan prepared once per backend, the previous hash one index probe (no executor), the row is
//! deformed once and formed once, and the hash is computed from the datums with the same encoder
//! as `revos.event_hash`.

use pgrx::datum::DatumWithOid;
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::OwnedPreparedStatement;
use pgrx::{Internal, PgOid};
use std::cell::RefCell;

use crate::ledger::chain_head::Finished;
use crate::ledger::event_hash::{hash_fields, layout_of, text_bytes};
use crate::ledger::index_scan::{begin_key_scan, primary_key};

const HEAD_SQL: &str = "INSERT INTO revos.event_chain_heads AS h (chain, last_id, prev_id)
    VALUES ($1, NULL, NULL)
    ON CONFLICT (chain) DO UPDATE
        SET prev_id = h.last_id,
            last_id = pg_catalog.nextval('revos.events_id_seq'::pg_catalog.regclass)
    RETURNING h.last_id, h.prev_id";
const FIRST_SQL: &str = "UPDATE revos.event_chain_heads
    SET last_id = pg_catalog.nextval('revos.events_id_seq'::pg_catalog.regclass)
    WHERE chain OPERATOR(pg_catalog.=) $1 RETURNING last_id";
/// A chain's first event: its hash into the head it inserted, where the table has `last_hash` (0.3.0):
/// the next event reads it there, and the head takes its full width at once — the table's
/// fillfactor then leaves five or six heads on a page (bench/FINDINGS.md, 2026-12-07 01:34: thirteen
/// narrow heads a page bloated).
const LAST_HASH_SQL: &str = "UPDATE revos.event_chain_heads SET last_hash = $2
    WHERE chain OPERATOR(pg_catalog.=) $1 AND last_id OPERATOR(pg_catalog.=) $3";

/// The statement path's plans, prepared once per backend (again when the head table changes).
struct Plans {
    /// the head table they were prepared for, and whether it has `last_hash`
    shape: (pg_sys::Oid, bool),
    head: OwnedPreparedStatement,
    first: OwnedPreparedStatement,
    /// None where the head table has no `last_hash` (a database not updated to 0.3.0 yet)
    last_hash: Option<OwnedPreparedStatement>,
}

thread_local! {
    static PLANS: RefCell<Option<Plans>> = const { RefCell::new(None) };
}

// Declared in sql/ledger.sql (`LANGUAGE c … 'events_chain_wrapper'`, RETURNS trigger): a plain
// V1 C function (what `#[pg_trigger]` generates, but returning the tuple formed here).
crate::v1_c_function!(pg_finfo_events_chain_wrapper, events_chain_wrapper, fire);

fn refuse(msg: &str) -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        msg.to_string()
    );
}

unsafe fn fire(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    const MISUSE: &str = "revos.events_chain() is the trigger of revos.events only";
    let ctx = (*fcinfo).context;
    if ctx.is_null() || (*ctx).type_ != pg_sys::NodeTag::T_TriggerData {
        refuse(MISUSE);
    }
    let td = ctx as *mut pg_sys::TriggerData;
    let event = (*td).tg_event;
    let rel = (*td).tg_relation;
    let before_row_insert = event & pg_sys::TRIGGER_EVENT_OPMASK == pg_sys::TRIGGER_EVENT_INSERT
        && event & pg_sys::TRIGGER_EVENT_ROW != 0
        && event & pg_sys::TRIGGER_EVENT_TIMINGMASK == pg_sys::TRIGGER_EVENT_BEFORE;
    if !before_row_insert || !is_revos_events(rel) {
        refuse(MISUSE);
    }
    // a privilege granted on revos.events does not let another role add to the ledger
    crate::ledger::written_by_revos::check_writer(rel, "INSERT");
    let desc = (*rel).rd_att;
    let natts = (*desc).natts as usize;
    if natts > 64 {
        pgrx::error!("revos.events_chain: revos.events has more than 64 columns");
    }
    let tuple = (*td).tg_trigtuple;
    let mut values = [pg_sys::Datum::from(0usize); 64];
    let mut nulls = [true; 64];
    pg_sys::heap_deform_tuple(tuple, desc, values.as_mut_ptr(), nulls.as_mut_ptr());
    let pdesc = pgrx::PgTupleDesc::from_pg_unchecked(desc);
    let (idx, hash_at) = layout_of(&pdesc, (*(*rel).rd_rel).reltype, -1);
    let (Some(id_at), Some(tenant_at), Some(prev_at), Some(occ_at), Some(rec_at), Some(hash_at)) =
        (idx[0], idx[2], idx[11], idx[9], idx[10], hash_at)
    else {
        pgrx::error!("revos.events_chain: revos.events lacks a ledger column");
    };

    if !nulls[hash_at] && !nulls[id_at] {
        // A restored row (see sql/ledger.sql): kept as it is, checked in PL/pgSQL.
        restore(tuple, desc, (*(*rel).rd_rel).reltype);
        return pg_sys::Datum::from(tuple);
    }

    let chain = chain_of((!nulls[tenant_at]).then(|| values[tenant_at]));
    let now = pg_sys::GetCurrentTimestamp();
    values[rec_at] = pg_sys::Datum::from(now);
    nulls[rec_at] = false;
    if nulls[occ_at] {
        values[occ_at] = pg_sys::Datum::from(now);
        nulls[occ_at] = false;
    }
    let at = Layout {
        idx,
        id: id_at,
        prev: prev_at,
        hash: hash_at,
    };
    let mut buf = Vec::with_capacity(512);
    // an existing chain, in READ COMMITTED: without the executor (chain_head), again when a
    // concurrent writer of the chain committed first
    for _ in 0..5 {
        let Some(head) = crate::ledger::chain_head::begin(chain) else {
            break;
        };
        let known = head.prev_hash.clone();
        let hash = complete(
            rel,
            &at,
            &mut values,
            &mut nulls,
            head.id,
            head.prev_id,
            known,
            &mut buf,
        );
        match crate::ledger::chain_head::finish(head, &hash) {
            Finished::Done => {
                let out = pg_sys::heap_form_tuple(desc, values.as_mut_ptr(), nulls.as_mut_ptr());
                return pg_sys::Datum::from(out);
            }
            Finished::Changed => continue,
            Finished::Other => break,
        }
    }
    let tenant = (!nulls[tenant_at]).then(|| values[tenant_at]);
    let (id, prev_id) = link(chain, rel, tenant_at, tenant);
    let hash = complete(
        rel,
        &at,
        &mut values,
        &mut nulls,
        id,
        prev_id,
        None,
        &mut buf,
    );
    if prev_id.is_none() {
        first_hash(chain, id, &hash);
    }
    let out = pg_sys::heap_form_tuple(desc, values.as_mut_ptr(), nulls.as_mut_ptr());
    pg_sys::Datum::from(out)
}

/// The chain's name as a text datum: `tenant:<tenant_id>`, or `global` for an event without one.
unsafe fn chain_of(tenant: Option<pg_sys::Datum>) -> pg_sys::Datum {
    let chain: Vec<u8> = match tenant {
        None => b"global".to_vec(),
        Some(t) => [b"tenant:".as_slice(), text_bytes(t)].concat(),
    };
    let text = pg_sys::cstring_to_text_with_len(chain.as_ptr().cast(), chain.len() as i32);
    pg_sys::Datum::from(text)
}

/// Where the trigger writes in the row: the hash's fields, id, prev_hash, hash.
struct Layout {
    idx: [Option<usize>; 12],
    id: usize,
    prev: usize,
    hash: usize,
}

/// Sets the row's id, prev_hash (`known`, else the stored hash of event `prev_id`; 64 zeros for a
/// chain's first event) and hash; returns the hash.
#[allow(clippy::too_many_arguments)]
unsafe fn complete(
    rel: pg_sys::Relation,
    at: &Layout,
    values: &mut [pg_sys::Datum; 64],
    nulls: &mut [bool; 64],
    id: i64,
    prev_id: Option<i64>,
    known: Option<Vec<u8>>,
    buf: &mut Vec<u8>,
) -> [u8; 64] {
    if let Some(p) = prev_id.filter(|p| id <= *p) {
        moved_back(id, p);
    }
    let prev_hash = match (prev_id, known) {
        (None, _) => vec![b'0'; 64],
        (Some(_), Some(h)) => h,
        // Only if the previous event was removed behind revos's back (triggers disabled): the
        // chain goes on and verify_ledger reports the break here.
        (Some(p), None) => stored_hash(rel, p, at.hash).unwrap_or_else(|| b"missing".to_vec()),
    };
    if let Some(p) = prev_id.filter(|_| prev_hash.iter().all(|b| *b == b'0')) {
        zero_hash(p);
    }
    values[at.id] = pg_sys::Datum::from(id);
    nulls[at.id] = false;
    values[at.prev] = pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
        prev_hash.as_ptr().cast(),
        prev_hash.len() as i32,
    ));
    nulls[at.prev] = false;
    let hash = hash_fields(&values[..], &nulls[..], &at.idx, buf);
    values[at.hash] = pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
        hash.as_ptr().cast(),
        hash.len() as i32,
    ));
    nulls[at.hash] = false;
    hash
}

/// The chain's last event has 64 zeros for its hash (a row restored or changed by hand: no event's
/// hash is that): the next event's prev_hash would make it look like the chain's first (the review
/// of bef818c). Refused, as a head that names no last event is.
fn zero_hash(prev: i64) -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("revos.events_chain: the chain's last event {prev} has 64 zeros for its hash (a row restored or changed by hand): the event would look like the chain's first"),
        "verify_ledger() reports that row; the ledger's owner restores it as it was."
    );
}

/// Ids grow along a chain (verify_ledger walks it in id order): an id not above the chain's last
/// one means that revos.events_id_seq was set back (`setval`, by its owner or a member of
/// pg_write_all_data). The event is refused, rather than written where the chain would break.
fn moved_back(id: i64, prev: i64) -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("revos.events_chain: revos.events_id_seq gave {id}, not above the chain's last event {prev}: the sequence was set back"),
        "The extension's owner sets it past the ledger's last id: SELECT setval('revos.events_id_seq', (SELECT max(id) FROM revos.events));"
    );
}

/// Is `rel` revos.events? (its name and schema; the trigger refuses any other table)
unsafe fn is_revos_events(rel: pg_sys::Relation) -> bool {
    let form = (*rel).rd_rel;
    let name = std::ffi::CStr::from_ptr((*form).relname.data.as_ptr());
    if name.to_bytes() != b"events" {
        return false;
    }
    let nsp = pg_sys::get_namespace_name((*form).relnamespace);
    !nsp.is_null() && std::ffi::CStr::from_ptr(nsp).to_bytes() == b"revos"
}

/// Locks the chain's head and moves it: (the new event's id, the id of the chain's previous
/// event; None for the chain's first event). `rel`: revos.events, its tenant column at
/// `tenant_at`; `tenant`: the event's, None for the global chain.
unsafe fn link(
    chain: pg_sys::Datum,
    rel: pg_sys::Relation,
    tenant_at: usize,
    tenant: Option<pg_sys::Datum>,
) -> (i64, Option<i64>) {
    PLANS
        .with(|slot| {
            Spi::connect_mut(|c| {
                let Ok(mut slot) = slot.try_borrow_mut() else {
                    reentered()
                };
                let shape = heads_shape();
                if slot.as_ref().is_none_or(|p| p.shape != shape) {
                    *slot = Some(prepare(c, shape)?);
                }
                let Plans { head, first, .. } = slot.as_ref().expect("prepared above");
                let arg = || DatumWithOid::new(Internal::from(Some(chain)), pg_sys::TEXTOID);
                let rows = c.update(head, Some(1), &[arg()])?;
                if rows.is_empty() {
                    // the upsert wrote nothing (a trigger on the head table skipped it): never a
                    // new genesis for an existing chain
                    unwritten();
                }
                let row = rows.first();
                let last: Option<i64> = row.get(1)?;
                let prev_id: Option<i64> = row.get(2)?;
                if last.is_none() || prev_id.is_none() {
                    // The chain's first event — or a head that was deleted, or had (or was given
                    // by a trigger) no last_id: never a second genesis of a chain with events.
                    if crate::ledger::fork_guard::chain_has_events(rel, tenant_at, tenant) {
                        forked_chain(chain);
                    }
                }
                let Some(id) = last else {
                    // The chain's first event: we inserted (and so hold) its head row. A concurrent
                    // first writer waited on our insert and continues through the DO UPDATE branch.
                    let rows = c.update(first, Some(1), &[arg()])?;
                    let id: Option<i64> = if rows.is_empty() {
                        None
                    } else {
                        rows.first().get(1)?
                    };
                    let Some(id) = id else { unwritten() };
                    return Ok::<_, pgrx::spi::Error>((id, None));
                };
                Ok((id, prev_id))
            })
        })
        .unwrap_or_else(|e| pgrx::error!("revos.events_chain: {e}"))
}

/// An event written by something the chain trigger's own statement set off (a trigger on
/// revos.event_chain_heads that logs one): refused, the plans being in use (the review of 1186671, L2).
fn reentered() -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        "revos.events_chain: an event cannot be written from inside the chain trigger's own statement (a trigger on revos.event_chain_heads?)"
    );
}

/// A chain with events whose head row was missing or had no `last_id`: its next event would start
/// it again (a second genesis, which `verify_ledger` reports). Refused; the head is rebuilt as
/// docs/ledger.md says.
unsafe fn forked_chain(chain: pg_sys::Datum) -> ! {
    let name = String::from_utf8_lossy(text_bytes(chain)).into_owned();
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("revos.events_chain: chain {name} has events but its head in revos.event_chain_heads is missing or has no last_id (deleted or reset, or emptied by a trigger on that table): the event would start the chain again"),
        "Its head is rebuilt from its newest event as docs/ledger.md says (\"A lost chain head\")."
    );
}

fn unwritten() -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        "revos.events_chain: the chain's head was not written (a trigger on revos.event_chain_heads skipped it?)"
    );
}

/// The head table's OID and whether it has `last_hash` (a database not updated to 0.3.0 has not;
/// the extension dropped and created again at another version in this session changes both).
fn heads_shape() -> (pg_sys::Oid, bool) {
    match crate::privilege::revos_relation("event_chain_heads") {
        Some(relid) => (relid, unsafe {
            pg_sys::get_attnum(relid, c"last_hash".as_ptr()) > 0
        }),
        None => (pg_sys::InvalidOid, false),
    }
}

/// The statement path's plans; LAST_HASH_SQL where the head table has `last_hash`.
fn prepare(
    c: &mut pgrx::spi::SpiClient<'_>,
    shape: (pg_sys::Oid, bool),
) -> Result<Plans, pgrx::spi::Error> {
    let text = [PgOid::from(pg_sys::TEXTOID)];
    let last_hash = if shape.1 {
        let args = [
            PgOid::from(pg_sys::TEXTOID),
            PgOid::from(pg_sys::TEXTOID),
            PgOid::from(pg_sys::INT8OID),
        ];
        Some(c.prepare_mut(LAST_HASH_SQL, &args)?.keep())
    } else {
        None
    };
    Ok(Plans {
        shape,
        head: c.prepare_mut(HEAD_SQL, &text)?.keep(),
        first: c.prepare_mut(FIRST_SQL, &text)?.keep(),
        last_hash,
    })
}

/// A chain's first event (`id`, `hash`) written into the head row its statement inserted, where
/// the table has `last_hash`: `<id>:<hash>`, as the direct path writes it for every later event.
unsafe fn first_hash(chain: pg_sys::Datum, id: i64, hash: &[u8]) {
    let value = format!("{id}:{}", String::from_utf8_lossy(hash));
    PLANS
        .with(|slot| {
            Spi::connect_mut(|c| {
                let Ok(slot) = slot.try_borrow() else {
                    reentered()
                };
                let Some(plan) = slot.as_ref().and_then(|p| p.last_hash.as_ref()) else {
                    return Ok::<_, pgrx::spi::Error>(());
                };
                let args = [
                    DatumWithOid::new(Internal::from(Some(chain)), pg_sys::TEXTOID),
                    DatumWithOid::new(value.as_str(), pg_sys::TEXTOID),
                    DatumWithOid::new(id, pg_sys::INT8OID),
                ];
                c.update(plan, None, &args)?;
                Ok(())
            })
        })
        .unwrap_or_else(|e| pgrx::error!("revos.events_chain: {e}"))
}

/// The stored hash of event `id`, read through the primary key with a fresh snapshot (what a
/// new statement sees under READ COMMITTED: the previous writer of the chain committed before
/// this transaction got the chain's head). One index probe instead of a statement.
unsafe fn stored_hash(rel: pg_sys::Relation, id: i64, hash_at: usize) -> Option<Vec<u8>> {
    let pk = primary_key(rel);
    if pk == pg_sys::InvalidOid {
        pgrx::error!("revos.events_chain: revos.events has no primary key");
    }
    let index = pg_sys::index_open(pk, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetLatestSnapshot());
    let scan = begin_key_scan(
        rel,
        index,
        snapshot,
        pg_sys::Datum::from(id),
        pg_sys::F_INT8EQ,
    );
    let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
    let mut found = None;
    if pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
        let mut should_free = false;
        let tuple = pg_sys::ExecFetchSlotHeapTuple(slot, false, &mut should_free);
        let desc = (*rel).rd_att;
        let mut values = [pg_sys::Datum::from(0usize); 64];
        let mut nulls = [true; 64];
        pg_sys::heap_deform_tuple(tuple, desc, values.as_mut_ptr(), nulls.as_mut_ptr());
        if !nulls[hash_at] {
            found = Some(text_bytes(values[hash_at]).to_vec());
        }
    }
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    pg_sys::index_endscan(scan);
    pg_sys::UnregisterSnapshot(snapshot);
    pg_sys::index_close(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    found
}

/// A restored row: revos.events_chain_restore(NEW) checks it and moves the head and sequence.
unsafe fn restore(tuple: pg_sys::HeapTuple, desc: pg_sys::TupleDesc, rowtype: pg_sys::Oid) {
    let row = pg_sys::heap_copy_tuple_as_datum(tuple, desc);
    Spi::connect_mut(|c| {
        let arg = DatumWithOid::new(Internal::from(Some(row)), rowtype);
        c.update("SELECT revos.events_chain_restore($1)", None, &[arg])
            .map(|_| ())
    })
    .unwrap_or_else(|e| pgrx::error!("revos.events_chain: {e}"));
}
