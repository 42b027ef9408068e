//! `revos.verify_chains(tenant)`: the one pass over the event ledger behind
//! `revos.verify_ledger()` (sql/ledger.sql), in Rust.
//!
//! ```text
//! revos.events in id order (the primary key; one tenant: the (tenant_id, id) index)
//!   └ per row: hash = event_hash(row)?  prev_hash = the stored hash of the chain's previous row
//!              (64 zeros for a chain's first row)?   chain = tenant_id (NULL = the global chain)
//!   └ {"events": n, "first_bad": the smallest id that fails, "tails": {chain: its last id}}
//! ```
//!
//! Id order is chain order inside every chain (the chain trigger assigns ids under the chain's
//! lock), so one forward scan with the last row of each chain in a small map replaces the SQL
//! window (`PARTITION BY tenant_id ORDER BY id`), which sorted every whole row of the ledger:
//! about 6 µs per event in SQL, most of it the sort. The rows come straight from an index scan
//! (the primary key; for one tenant the (tenant_id, id) index) in the caller's snapshot, hashed
//! from the slot's datums with the same encoder as `revos.event_hash`: no executor, no copy of
//! the row. Through an SPI cursor, copying every row into a batch (and the batch's fresh pages)
//! was about a fifth of the pass. Memory is one row's scratch plus one entry per chain. The whole
//! pass sees one state of the ledger, like the single SQL statement it replaces.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::Internal;
use std::collections::HashMap;

use crate::ledger::event_hash::{
    collect, database_is_utf8, hash_fields, layout_of, text_bytes, Kind,
};
use crate::ledger::hash_worker::{Batch, Worker, BATCH};
use crate::ledger::index_scan::{begin_index_scan, primary_key};
use crate::ledger::jsonb_out::json_string;
use crate::ledger::readahead::Readahead;

const GENESIS: [u8; 64] = [b'0'; 64];

/// The newest row seen so far of one chain (`id == i64::MIN`: none yet, the next row is the
/// chain's first and must start from GENESIS).
struct Tail {
    id: i64,
    hash: Vec<u8>,
}

impl Tail {
    fn fresh() -> Tail {
        Tail {
            id: i64::MIN,
            hash: Vec::new(),
        }
    }
}

/// What the pass found (tails keyed by tenant id bytes; `global` = the chain without tenant).
#[derive(Default)]
struct Pass {
    events: i64,
    first_bad: Option<i64>,
    tenants: HashMap<Vec<u8>, Tail>,
    global: Option<Tail>,
    /// the tenant of the previous row
    last: Option<Vec<u8>>,
}

impl Pass {
    /// One row: checks it against its chain's tail, then makes it the tail.
    /// `hash_ok`: the row's stored hash is its hash (the hash worker checks that on its own and
    /// reports through `merge_hash_check`: then true here).
    fn step(
        &mut self,
        id: i64,
        tenant: Option<&[u8]>,
        hash_ok: bool,
        stored: Option<&[u8]>,
        prev: Option<&[u8]>,
    ) {
        self.events += 1;
        let tail = match tenant {
            None => self.global.get_or_insert_with(Tail::fresh),
            Some(t) => {
                // rows of one chain come in runs: the last chain's entry first
                if self.last.as_deref() != Some(t) {
                    if !self.tenants.contains_key(t) {
                        self.tenants.insert(t.to_vec(), Tail::fresh());
                    }
                    self.last = Some(t.to_vec());
                }
                self.tenants.get_mut(t).expect("inserted above")
            }
        };
        Self::link(&mut self.first_bad, tail, id, hash_ok, stored, prev);
    }

    /// The hash worker's answer: the smallest id whose stored hash is not its hash.
    fn merge_hash_check(&mut self, bad: Option<i64>) {
        self.first_bad = match (self.first_bad, bad) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    fn link(
        first_bad: &mut Option<i64>,
        tail: &mut Tail,
        id: i64,
        hash_ok: bool,
        stored: Option<&[u8]>,
        prev: Option<&[u8]>,
    ) {
        let expected_prev: &[u8] = if tail.id == i64::MIN {
            &GENESIS
        } else {
            &tail.hash
        };
        let ok = hash_ok && prev == Some(expected_prev);
        if !ok && first_bad.is_none() {
            *first_bad = Some(id);
        }
        tail.id = id;
        tail.hash.clear();
        // lag(hash) of the SQL definition: the next row chains onto the STORED hash
        tail.hash.extend_from_slice(stored.unwrap_or(b""));
    }

    /// `{"events": n, "first_bad": id|null, "tails": {"tenant:<id>"|"global": last id}}` as JSON
    /// text in the database's encoding (tenant ids are not necessarily UTF-8 here).
    fn json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.tenants.len() * 32);
        out.extend_from_slice(format!("{{\"events\": {}, \"first_bad\": ", self.events).as_bytes());
        match self.first_bad {
            Some(id) => out.extend_from_slice(id.to_string().as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b", \"tails\": {");
        let mut first = true;
        if let Some(g) = &self.global {
            out.extend_from_slice(format!("\"global\": {}", g.id).as_bytes());
            first = false;
        }
        for (t, tail) in &self.tenants {
            if !first {
                out.extend_from_slice(b", ");
            }
            first = false;
            let mut key = b"tenant:".to_vec();
            key.extend_from_slice(t);
            json_string(&mut out, &key);
            out.extend_from_slice(format!(": {}", tail.id).as_bytes());
        }
        out.extend_from_slice(b"}}");
        out
    }
}

/// Declared in sql/ledger.sql (`LANGUAGE c … 'verify_chains_wrapper'`, RETURNS jsonb), called by
/// revos.verify_ledger only (not executable by PUBLIC). The argument is a text datum or NULL
/// (all chains); it is passed to the query as it is.
#[pg_extern(sql = false)]
fn verify_chains(tenant: Option<Internal>) -> Internal {
    let tenant = tenant.and_then(|t| t.unwrap());
    let pass = unsafe { scan(tenant) };
    let mut json = pass.json();
    json.push(0);
    let datum = unsafe {
        pgrx::fcinfo::direct_function_call_as_datum(
            pg_sys::jsonb_in,
            &[Some(pg_sys::Datum::from(
                json.as_ptr() as *const std::ffi::c_char
            ))],
        )
    };
    Internal::from(datum)
}

fn stopped() -> ! {
    pgrx::error!("revos.verify_ledger: the hashing thread failed")
}

/// The one pass over revos.events (only tenant `tenant`'s rows when given) in the caller's
/// snapshot.
unsafe fn scan(tenant: Option<pg_sys::Datum>) -> Pass {
    let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
    let nsp = pg_sys::get_namespace_oid(c"revos".as_ptr(), false);
    let rel = pg_sys::table_open(events_relid(nsp), lock);
    let desc = (*rel).rd_att;
    let cols = columns_of(rel);
    let (index, by_tenant) = open_index(rel, nsp, tenant, &cols, lock);
    let scan = start_scan(rel, index, tenant.filter(|_| by_tenant));
    // one tenant without its index: the primary key and a filter on tenant_id
    let wanted: Option<&[u8]> = match (tenant, by_tenant) {
        (Some(t), false) => Some(text_bytes(t)),
        _ => None,
    };
    let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
    // all chains: the primary key's order is about the heap's (ids grow as rows are added)
    let ahead = if tenant.is_none() {
        Readahead::of(rel)
    } else {
        None
    };
    let pass = read_rows(scan, slot, (*desc).natts as usize, &cols, wanted, ahead);
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    pg_sys::index_endscan(scan);
    pg_sys::index_close(index, lock);
    pg_sys::table_close(rel, lock);
    pass
}

/// revos.events (in schema `nsp`), which the caller may read.
unsafe fn events_relid(nsp: pg_sys::Oid) -> pg_sys::Oid {
    let relid = pg_sys::get_relname_relid(c"events".as_ptr(), nsp);
    if relid == pg_sys::InvalidOid {
        pgrx::error!("revos.verify_ledger: revos.events does not exist");
    }
    // What the SELECT this replaces would have checked (the caller is verify_ledger, SECURITY
    // DEFINER: the ledger's owner; revos.events has no row level security).
    if pg_sys::pg_class_aclcheck(
        relid,
        pg_sys::GetUserId(),
        pg_sys::ACL_SELECT as pg_sys::AclMode,
    ) != pg_sys::AclResult::ACLCHECK_OK
    {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "permission denied for table events"
        );
    }
    relid
}

/// Where the pass finds what it reads in a row of revos.events (attribute numbers from 0).
struct Columns {
    /// the fields of the hash (`event_hash::layout_of`)
    idx: [Option<usize>; 12],
    id: usize,
    tenant: usize,
    prev: usize,
    hash: usize,
}

/// The columns of revos.events (`rel`); an error when one of the ledger's is missing.
unsafe fn columns_of(rel: pg_sys::Relation) -> Columns {
    let pdesc = pgrx::PgTupleDesc::from_pg_unchecked((*rel).rd_att);
    let (idx, hash_at) = layout_of(&pdesc, (*(*rel).rd_rel).reltype, -1);
    let (Some(id), Some(tenant), Some(prev), Some(hash)) = (idx[0], idx[2], idx[11], hash_at)
    else {
        pgrx::error!("revos.verify_ledger: revos.events lacks a ledger column");
    };
    Columns {
        idx,
        id,
        tenant,
        prev,
        hash,
    }
}

/// Opens the index the pass reads in order, and says whether it is the tenant's. All chains: the
/// primary key (id order). One tenant: the (tenant_id, id) index, whose first column is compared
/// with the tenant (or, should it be missing, the primary key and a filter on tenant_id). An
/// error when it is not the index it should be.
unsafe fn open_index(
    rel: pg_sys::Relation,
    nsp: pg_sys::Oid,
    tenant: Option<pg_sys::Datum>,
    cols: &Columns,
    lock: pg_sys::LOCKMODE,
) -> (pg_sys::Relation, bool) {
    let by_tenant = tenant.and_then(|_| {
        let i = pg_sys::get_relname_relid(c"events_tenant_id_idx".as_ptr(), nsp);
        (i != pg_sys::InvalidOid).then_some(i)
    });
    let index_oid = match by_tenant {
        Some(i) => i,
        None => primary_key(rel),
    };
    if index_oid == pg_sys::InvalidOid {
        pgrx::error!("revos.verify_ledger: revos.events has no primary key");
    }
    let index = pg_sys::index_open(index_oid, lock);
    let index_form = (*index).rd_index;
    let key_cols = (*index_form)
        .indkey
        .values
        .as_slice((*index_form).indnatts as usize);
    let expected: &[usize] = if by_tenant.is_some() {
        &[cols.tenant, cols.id]
    } else {
        &[cols.id]
    };
    if key_cols.len() < expected.len()
        || key_cols
            .iter()
            .zip(expected)
            .any(|(&k, &at)| k as usize != at + 1)
    {
        pgrx::error!(
            "revos.verify_ledger: index {index_oid:?} of revos.events is not the expected one"
        );
    }
    (index, by_tenant.is_some())
}

/// Starts the scan of `index` in the active snapshot; `key`: the tenant its first column equals.
unsafe fn start_scan(
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    key: Option<pg_sys::Datum>,
) -> pg_sys::IndexScanDesc {
    let snapshot = pg_sys::GetActiveSnapshot();
    let nkeys = key.is_some() as i32;
    let scan = begin_index_scan(rel, index, snapshot, nkeys);
    let mut scan_key: pg_sys::ScanKeyData = std::mem::zeroed();
    if let Some(t) = key {
        pg_sys::ScanKeyInit(
            &mut scan_key,
            1,
            pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
            pg_sys::Oid::from(pg_sys::F_TEXTEQ),
            t,
        );
        scan_key.sk_collation = *(*index).rd_indcollation;
    }
    pg_sys::index_rescan(scan, &mut scan_key, nkeys, std::ptr::null_mut(), 0);
    scan
}

fn block_of(tid: &pg_sys::ItemPointerData) -> pg_sys::BlockNumber {
    (u32::from(tid.ip_blkid.bi_hi) << 16) | u32::from(tid.ip_blkid.bi_lo)
}

/// Reads every row of the scan into `slot` (`natts` attributes) and checks it against its chain:
/// only the rows of tenant `wanted` when given.
unsafe fn read_rows(
    scan: pg_sys::IndexScanDesc,
    slot: *mut pg_sys::TupleTableSlot,
    natts: usize,
    cols: &Columns,
    wanted: Option<&[u8]>,
    mut ahead: Option<Readahead>,
) -> Pass {
    // Scratch memory for the rows' work (detoasting a compressed or out-of-line field, a number's
    // numeric_out), reset every 256 rows.
    let scratch = pg_sys::AllocSetContextCreateExtended(
        pg_sys::CurrentMemoryContext,
        c"revos verify_chains".as_ptr(),
        pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
        pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
        pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
    );
    let mut pass = Pass::default();
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    // The hashes on a second thread (UTF-8 databases: the others convert the encoding through
    // PostgreSQL before hashing); on this one when it cannot start.
    let mut worker = if database_is_utf8() {
        Worker::start()
    } else {
        None
    };
    // The readahead goes to that thread with the first batch (its system calls off the scan's
    // thread); it stays here when there is none.
    let mut batch = Batch::default();
    if worker.is_some() {
        batch.ahead = ahead.take();
    }
    let mut rows = 0u64;
    // The scan itself runs in the caller's context: the index AM allocates state lazily while it
    // scans (btree's killed-items array once it meets dead tuples, for one), which must outlive
    // every row. Only the per-row work runs in the scratch context.
    while pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
        let block = block_of(&(*slot).tts_tid);
        match &mut ahead {
            Some(a) => a.at(block),
            None => batch.at_block = Some(block),
        }
        pg_sys::slot_getallattrs(slot);
        let values = std::slice::from_raw_parts((*slot).tts_values, natts);
        let isnull = std::slice::from_raw_parts((*slot).tts_isnull, natts);
        let old = pg_sys::MemoryContextSwitchTo(scratch);
        let text = |k: usize| (!isnull[k]).then(|| text_bytes(values[k]));
        let row_tenant = text(cols.tenant);
        if wanted.is_none() || row_tenant == wanted {
            let id = values[cols.id].value() as i64;
            let (stored, prev) = (text(cols.hash), text(cols.prev));
            let hash_ok = match &mut worker {
                Some(w) => {
                    let mut kinds = [Kind::Null; 12];
                    collect(values, isnull, &cols.idx, &mut kinds, &mut batch.bytes);
                    let stored = stored.and_then(|h| <[u8; 64]>::try_from(h).ok());
                    batch.rows.push((id, stored, kinds));
                    if batch.rows.len() == BATCH {
                        batch = w
                            .send(std::mem::take(&mut batch))
                            .unwrap_or_else(|_| stopped());
                    }
                    true
                }
                None => stored == Some(&hash_fields(values, isnull, &cols.idx, &mut buf)[..]),
            };
            pass.step(id, row_tenant, hash_ok, stored, prev);
        }
        pg_sys::MemoryContextSwitchTo(old);
        rows += 1;
        // Most rows allocate nothing (inline fields are read in place): reset now and then.
        if rows % 256 == 0 {
            pg_sys::MemoryContextReset(scratch);
        }
        if rows % 1024 == 0 {
            pgrx::check_for_interrupts!();
        }
    }
    if let Some(mut w) = worker {
        let _ = w.send(batch);
        pass.merge_hash_check(w.finish().unwrap_or_else(|_| stopped()));
    }
    pg_sys::MemoryContextDelete(scratch);
    pass
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(c: u8) -> Vec<u8> {
        vec![c; 64]
    }

    #[test]
    fn chains_link_on_stored_hashes() {
        let mut p = Pass::default();
        // tenant a: genesis, then a row chaining onto it
        p.step(1, Some(b"a"), true, Some(&h(b'1')), Some(&GENESIS));
        // global chain interleaved
        p.step(2, None, h(b'2') == h(b'2'), Some(&h(b'2')), Some(&GENESIS));
        p.step(
            3,
            Some(b"a"),
            h(b'3') == h(b'3'),
            Some(&h(b'3')),
            Some(&h(b'1')),
        );
        assert_eq!(p.first_bad, None);
        // a row whose stored hash is not its computed hash
        p.step(
            4,
            Some(b"b"),
            h(b'4') == h(b'x'),
            Some(&h(b'x')),
            Some(&GENESIS),
        );
        assert_eq!(p.first_bad, Some(4));
        // the next row chains onto the stored (wrong) hash: that link itself is fine, first_bad stays
        p.step(
            5,
            Some(b"b"),
            h(b'5') == h(b'5'),
            Some(&h(b'5')),
            Some(&h(b'x')),
        );
        assert_eq!(p.first_bad, Some(4));
        assert_eq!(p.events, 5);
        let j: serde_json::Value = serde_json::from_slice(&p.json()).unwrap();
        assert_eq!(j["events"], 5);
        assert_eq!(j["first_bad"], 4);
        assert_eq!(j["tails"]["tenant:a"], 3);
        assert_eq!(j["tails"]["tenant:b"], 5);
        assert_eq!(j["tails"]["global"], 2);
    }

    #[test]
    fn broken_links_are_found() {
        let mut p = Pass::default();
        p.step(1, Some(b"a"), true, Some(&h(b'1')), Some(&GENESIS));
        // a first row that does not start from genesis
        p.step(
            2,
            Some(b"c"),
            h(b'2') == h(b'2'),
            Some(&h(b'2')),
            Some(&h(b'1')),
        );
        assert_eq!(p.first_bad, Some(2));
        let mut q = Pass::default();
        q.step(7, None, h(b'7') == h(b'7'), Some(&h(b'7')), Some(&GENESIS));
        // prev_hash NULL or missing stored hash: broken
        q.step(8, None, h(b'8') == h(b'8'), Some(&h(b'8')), None);
        assert_eq!(q.first_bad, Some(8));
        let j: serde_json::Value = serde_json::from_slice(&q.json()).unwrap();
        assert_eq!(j["tails"]["global"], 8);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&Pass::default().json()).unwrap(),
            serde_json::json!({"events": 0, "first_bad": null, "tails": {}})
        );
    }
}
