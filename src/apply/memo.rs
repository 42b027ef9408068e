//! What apply's fast answer (`fast`) remembers about payloads it has seen: per backend (MEMO,
//! keyed by the sha256 of a payload's jsonb bytes) and across backends (`revos.payload_memo`),
//! filled in by the normal path (`apply::run_text`: `remember`, `persist`) while the call under
//! way's hash is CURRENT. Only ever a cache of a pure function of the payload's bytes; the
//! ledger decides (see `fast`).

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::OwnedPreparedStatement;
use std::cell::RefCell;
use std::collections::HashMap;

/// Bound on MEMO's entries (each ~200 bytes); cleared when full.
const MEMO_MAX: usize = 256;

/// What the normal path learnt about one payload (keyed by the sha256 of its jsonb bytes).
#[derive(Clone)]
pub(super) struct Memo {
    pub(super) version: String,
    pub(super) schema_hash: String,
    pub(super) payload_hash: String,
}

thread_local! {
    pub(super) static MEMO: RefCell<HashMap<String, Memo>> = RefCell::new(HashMap::new());
    /// The binary hash of the payload of the call under way (None: envelope, tenant_table, tests).
    static CURRENT: RefCell<Option<String>> = const { RefCell::new(None) };
    static MEMO_STMT: RefCell<Option<OwnedPreparedStatement>> = const { RefCell::new(None) };
}

const MEMO_SQL: &str = "SELECT version, schema_hash, payload_hash FROM revos.payload_memo
  WHERE jsonb_sha256 = $1";

/// The binary hash of the call under way, for the ledger row's metadata.
pub fn current() -> Option<String> {
    CURRENT.with(|c| c.borrow().clone())
}

/// The normal path computed this payload's schema hash (no issues, not forced): remember it.
pub fn remember(version: &str, schema_hash: &str, payload_hash: &str) {
    let Some(bin) = current() else { return };
    MEMO.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MEMO_MAX {
            m.clear();
        }
        m.insert(
            bin,
            Memo {
                version: version.to_string(),
                schema_hash: schema_hash.to_string(),
                payload_hash: payload_hash.to_string(),
            },
        );
    });
}

/// Under the apply lock, in `apply_schema` only (plan_schema records nothing): keep what the
/// normal path learnt about this payload's bytes in `revos.payload_memo`, so that another backend
/// answers the same bytes without normalizing them. Written as the ledger's owner (nobody else
/// may write it), in a subtransaction: a read-only transaction or any other failure only means
/// nothing is cached.
pub fn persist(version: &str, schema_hash: &str, payload_hash: &str) {
    let Some(bin) = current() else { return };
    let _ = super::pg_catalog::subtransaction(|| {
        crate::ledger::writer::as_ledger_writer(|_| {
            Spi::run_with_args(
                "INSERT INTO revos.payload_memo (jsonb_sha256, version, schema_hash, payload_hash)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (jsonb_sha256) DO NOTHING",
                &[
                    bin.as_str().into(),
                    version.into(),
                    schema_hash.into(),
                    payload_hash.into(),
                ],
            )
        })
    });
}

/// What `revos.payload_memo` says about these bytes (a row only revos writes).
pub(super) fn stored_memo(bin: &str) -> Option<Memo> {
    let mut r = first_row(&MEMO_STMT, MEMO_SQL, bin, 3)?.into_iter();
    let mut next = || r.next().flatten().unwrap_or_default();
    Some(Memo {
        version: next(),
        schema_hash: next(),
        payload_hash: next(),
    })
}

/// The first row of a one-argument (text) statement prepared once per backend in `stmt`, its
/// first `ncols` columns as text.
pub(super) fn first_row(
    stmt: &'static std::thread::LocalKey<RefCell<Option<OwnedPreparedStatement>>>,
    sql: &str,
    arg: &str,
    ncols: usize,
) -> Option<Vec<Option<String>>> {
    stmt.with(|cell| {
        Spi::connect(|c| {
            let mut slot = cell.borrow_mut();
            if slot.is_none() {
                *slot = Some(c.prepare(sql, &[PgOid::from(pg_sys::TEXTOID)])?.keep());
            }
            let t = c.select(slot.as_ref().unwrap(), Some(1), &[arg.into()])?;
            for row in t {
                let cols = (1..=ncols).map(|i| row.get::<String>(i));
                return Ok::<_, pgrx::spi::Error>(Some(cols.collect::<Result<Vec<_>, _>>()?));
            }
            Ok(None)
        })
    })
    .unwrap_or_else(|e| pgrx::error!("revos: reading the ledger failed: {e}"))
}

/// Sets CURRENT for the duration of the normal path; cleared on drop (errors included).
pub(super) struct Current;

impl Current {
    pub(super) fn set(bin: Option<String>) -> Current {
        CURRENT.with(|c| *c.borrow_mut() = bin);
        Current
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}
