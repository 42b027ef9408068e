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
//! about 6 µs per event in SQL, most of it the sort. The rows come through one SPI cursor in
//! batches, hashed from their datums with the same encoder as `revos.event_hash`; memory is one
//! batch plus one entry per chain. Read-only SPI in the caller's snapshot: the whole pass sees
//! one state of the ledger, like the single SQL statement it replaces.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::Internal;
use std::collections::HashMap;
use std::ffi::CStr;

use crate::event_hash::{hash_fields, json_string, text_bytes};

/// FIELDS order (columns 1–12), then the stored hash (13).
const ALL: &CStr = c"SELECT id, event_id, tenant_id, event_type, subject_type, subject_id, actor_id, payload, idempotency_key, occurred_at, recorded_at, prev_hash, hash FROM revos.events ORDER BY id";
const ONE: &CStr = c"SELECT id, event_id, tenant_id, event_type, subject_type, subject_id, actor_id, payload, idempotency_key, occurred_at, recorded_at, prev_hash, hash FROM revos.events WHERE tenant_id OPERATOR(pg_catalog.=) $1 ORDER BY id";
const IDX: [Option<usize>; 12] = [
    Some(0),
    Some(1),
    Some(2),
    Some(3),
    Some(4),
    Some(5),
    Some(6),
    Some(7),
    Some(8),
    Some(9),
    Some(10),
    Some(11),
];
/// Rows per fetch: a batch's tuples stay well below malloc's mmap threshold (a bigger batch
/// was mapped and unmapped on every fetch, a fifth of the time in page faults).
const BATCH: i64 = 1000;
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
}

impl Pass {
    /// One row: checks it against its chain's tail, then makes it the tail.
    fn step(
        &mut self,
        id: i64,
        tenant: Option<&[u8]>,
        computed: &[u8],
        stored: Option<&[u8]>,
        prev: Option<&[u8]>,
    ) {
        self.events += 1;
        let tail = match tenant {
            None => self.global.get_or_insert_with(Tail::fresh),
            Some(t) => {
                if !self.tenants.contains_key(t) {
                    self.tenants.insert(t.to_vec(), Tail::fresh());
                }
                self.tenants.get_mut(t).expect("inserted above")
            }
        };
        Self::link(&mut self.first_bad, tail, id, computed, stored, prev);
    }

    fn link(
        first_bad: &mut Option<i64>,
        tail: &mut Tail,
        id: i64,
        computed: &[u8],
        stored: Option<&[u8]>,
        prev: Option<&[u8]>,
    ) {
        let expected_prev: &[u8] = if tail.id == i64::MIN {
            &GENESIS
        } else {
            &tail.hash
        };
        let ok = stored == Some(computed) && prev == Some(expected_prev);
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

unsafe fn scan(tenant: Option<pg_sys::Datum>) -> Pass {
    if pg_sys::SPI_connect() != pg_sys::SPI_OK_CONNECT as i32 {
        pgrx::error!("revos.verify_ledger: SPI_connect failed");
    }
    let mut argtypes = [pg_sys::TEXTOID];
    let mut args = [tenant.unwrap_or(pg_sys::Datum::from(0usize))];
    let nulls = [b' ' as std::ffi::c_char];
    let portal = match tenant {
        Some(_) => pg_sys::SPI_cursor_open_with_args(
            std::ptr::null(),
            ONE.as_ptr(),
            1,
            argtypes.as_mut_ptr(),
            args.as_mut_ptr(),
            nulls.as_ptr(),
            true,
            0,
        ),
        None => pg_sys::SPI_cursor_open_with_args(
            std::ptr::null(),
            ALL.as_ptr(),
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null(),
            true,
            0,
        ),
    };
    // Per-row scratch memory (jsonb_out and detoasting allocate for every row), reset after each
    // row: it stays inside the context's first block, no malloc per row.
    let scratch = pg_sys::AllocSetContextCreateExtended(
        pg_sys::CurrentMemoryContext,
        c"revos verify_chains".as_ptr(),
        pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
        pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
        pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
    );
    let mut pass = Pass::default();
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    let mut values = [pg_sys::Datum::from(0usize); 13];
    let mut isnull = [true; 13];
    loop {
        pg_sys::SPI_cursor_fetch(portal, true, BATCH);
        let n = pg_sys::SPI_processed as usize;
        let table = pg_sys::SPI_tuptable;
        if n == 0 || table.is_null() {
            break;
        }
        let desc = (*table).tupdesc;
        if (*desc).natts != 13 {
            pgrx::error!("revos.verify_ledger: unexpected row shape");
        }
        let old = pg_sys::MemoryContextSwitchTo(scratch);
        for i in 0..n {
            let tup = *(*table).vals.add(i);
            pg_sys::heap_deform_tuple(tup, desc, values.as_mut_ptr(), isnull.as_mut_ptr());
            let computed = hash_fields(&values, &isnull, &IDX, &mut buf);
            let text = |k: usize| (!isnull[k]).then(|| text_bytes(values[k]));
            pass.step(
                values[0].value() as i64,
                text(2),
                &computed,
                text(12),
                text(11),
            );
            pg_sys::MemoryContextReset(scratch);
        }
        pg_sys::MemoryContextSwitchTo(old);
        pg_sys::SPI_freetuptable(table);
        pgrx::check_for_interrupts!();
    }
    pg_sys::MemoryContextDelete(scratch);
    pg_sys::SPI_cursor_close(portal);
    pg_sys::SPI_finish();
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
        p.step(1, Some(b"a"), &h(b'1'), Some(&h(b'1')), Some(&GENESIS));
        // global chain interleaved
        p.step(2, None, &h(b'2'), Some(&h(b'2')), Some(&GENESIS));
        p.step(3, Some(b"a"), &h(b'3'), Some(&h(b'3')), Some(&h(b'1')));
        assert_eq!(p.first_bad, None);
        // a row whose stored hash is not its computed hash
        p.step(4, Some(b"b"), &h(b'4'), Some(&h(b'x')), Some(&GENESIS));
        assert_eq!(p.first_bad, Some(4));
        // the next row chains onto the stored (wrong) hash: that link itself is fine, first_bad stays
        p.step(5, Some(b"b"), &h(b'5'), Some(&h(b'5')), Some(&h(b'x')));
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
        p.step(1, Some(b"a"), &h(b'1'), Some(&h(b'1')), Some(&GENESIS));
        // a first row that does not start from genesis
        p.step(2, Some(b"c"), &h(b'2'), Some(&h(b'2')), Some(&h(b'1')));
        assert_eq!(p.first_bad, Some(2));
        let mut q = Pass::default();
        q.step(7, None, &h(b'7'), Some(&h(b'7')), Some(&GENESIS));
        // prev_hash NULL or missing stored hash: broken
        q.step(8, None, &h(b'8'), Some(&h(b'8')), None);
        assert_eq!(q.first_bad, Some(8));
        let j: serde_json::Value = serde_json::from_slice(&q.json()).unwrap();
        assert_eq!(j["tails"]["global"], 8);
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&Pass::default().json()).unwrap(),
            serde_json::json!({"events": 0, "first_bad": null, "tails": {}})
        );
    }
}
