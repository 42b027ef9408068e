//! The answer before the pipeline: `noop` and `conflict` from one hash and one ledger lookup.
//!
//! A re-apply of a version that is already applied is the most frequent call (every deploy sends
//! the whole schema again). Turning a 100 KB jsonb into text, parsing, canonicalizing and
//! normalizing it costs milliseconds; this module answers from the jsonb's binary form instead:
//!
//! ```text
//! jsonb datum (detoasted) ─ a bare payload object (no envelope)? ─ sha256 of its bytes = bin
//!   └ try the apply lock (Apply mode; busy -> the normal path, which waits by the rules)
//!   └ the version's last applied row (one prepared statement per backend)
//!        row.metadata.payload_jsonb_sha256 == bin            -> noop
//!        this backend normalized bin before (MEMO), or another one did (revos.payload_memo):
//!            memo.schema_hash == row.schema_hash             -> noop
//!            otherwise                                       -> conflict, when this backend
//!                                                               worked out what differs before
//!                                                               (`conflict::remembered`)
//!   └ anything else -> the normal path (`run_text`), which records bin in the applied row and,
//!     in apply_schema, in revos.payload_memo (`persist`)
//! ```
//!
//! Guarantees: the answer is the one the normal path gives. The ledger decides (a row only revos
//! can write, read under the apply lock); MEMO only caches a pure function of the payload's
//! bytes (its normalized schema hash), never a ledger answer. A payload that differs only in key
//! order, whitespace or case of keys has other bytes: it takes the normal path the first time any
//! backend sees it (apply_schema; plan_schema records nothing, so once per backend there), then
//! MEMO or revos.payload_memo answers. revos.payload_memo is written only by revos, as the
//! ledger's owner, and nobody else may write it: a forged row could turn
//! a conflict into a noop, like a forged ledger row. Envelopes (`{"meta", "payload", …}`) always take the normal path: their
//! `inputs_hash` covers the whole input in canonical form.

use pgrx::pg_sys;
use pgrx::spi::OwnedPreparedStatement;
use serde_json::Value;
use std::cell::RefCell;
use std::time::Instant;

use super::ledger_probe::Probe;
use super::memo::{first_row, stored_memo, Current, MEMO};
use super::{conflict, envelope, new_run_id, noop, run_text, Mode, ADVISORY_KEY};
use crate::ident::sha256_hex;

thread_local! {
    static LEDGER_STMT: RefCell<Option<OwnedPreparedStatement>> = const { RefCell::new(None) };
}

const LEDGER_SQL: &str =
    "SELECT id::text, schema_hash, applied_at::text, metadata ->> 'payload_hash',
        metadata ->> 'payload_jsonb_sha256', metadata ->> 'deferred_steps'
   FROM revos.schema_migrations
  WHERE version = $1 AND status = 'applied' ORDER BY created_at DESC LIMIT 1";

/// The SQL entry of apply_schema / plan_schema: the fast answer when there is one, else the
/// normal path on the jsonb's text.
pub fn run_jsonb(datum: Option<pg_sys::Datum>, mode: Mode, workflow_name: &str) -> Value {
    let started = Instant::now();
    let Some(datum) = datum else {
        return run_text("", mode, workflow_name);
    };
    let raw = unsafe { pg_sys::pg_detoast_datum_packed(datum.cast_mut_ptr::<pg_sys::varlena>()) };
    let bin = unsafe { bare_payload(raw) }.then(|| sha256_hex(unsafe { bytes(raw) }));
    if let Some(bin) = &bin {
        if let Some(v) = unsafe { answer(raw, bin, mode, workflow_name, started) } {
            return v;
        }
    }
    let text = unsafe {
        pgrx::fcinfo::direct_function_call::<&std::ffi::CStr>(
            pg_sys::jsonb_out,
            &[Some(pg_sys::Datum::from(raw))],
        )
    }
    .map(|t| t.to_string_lossy().into_owned())
    .unwrap_or_default();
    let _current = Current::set(bin);
    run_text(&text, mode, workflow_name)
}

/// The jsonb's container bytes (header excluded).
unsafe fn bytes<'a>(raw: *mut pg_sys::varlena) -> &'a [u8] {
    std::slice::from_raw_parts(
        pgrx::varlena::vardata_any(raw) as *const u8,
        pgrx::varlena::varsize_any_exhdr(raw),
    )
}

fn container(raw: *mut pg_sys::varlena) -> *mut pg_sys::JsonbContainer {
    unsafe { pgrx::varlena::vardata_any(raw) as *mut pg_sys::JsonbContainer }
}

/// A JSON object without a `payload` key (the payload itself, not an envelope).
unsafe fn bare_payload(raw: *mut pg_sys::varlena) -> bool {
    if pgrx::varlena::varsize_any_exhdr(raw) < 4 {
        return false;
    }
    let header = std::ptr::read_unaligned(container(raw) as *const u32);
    header & pg_sys::JB_FOBJECT != 0 && key(raw, "payload").is_none()
}

/// One top-level key's value.
unsafe fn key(raw: *mut pg_sys::varlena, k: &str) -> Option<pg_sys::JsonbValue> {
    let mut v: pg_sys::JsonbValue = std::mem::zeroed();
    let found = pg_sys::getKeyJsonValueFromContainer(
        container(raw),
        k.as_ptr() as *const std::ffi::c_char,
        k.len() as i32,
        &mut v,
    );
    (!found.is_null()).then_some(v)
}

unsafe fn string(v: &pg_sys::JsonbValue) -> Option<String> {
    if v.type_ != pg_sys::jbvType::jbvString {
        return None;
    }
    let s = v.val.string;
    let b = std::slice::from_raw_parts(s.val as *const u8, s.len as usize);
    std::str::from_utf8(b).ok().map(str::to_string)
}

struct Applied {
    id: String,
    schema_hash: String,
    applied_at: String,
    payload_hash: Option<String>,
    bin: Option<String>,
    /// how many steps the apply deferred (online changes); absent before 0.3.0, when none were
    deferred: Option<String>,
}

/// The version's last applied row: straight from its index (`ledger_probe`), or, where that
/// cannot answer exactly, through a statement prepared once per backend.
fn last_applied(version: &str) -> Option<Applied> {
    let cols: Vec<Option<String>> = match super::ledger_probe::last_applied(version) {
        Probe::Found(cols) => cols.into(),
        Probe::NotFound => return None,
        Probe::Unavailable => first_row(&LEDGER_STMT, LEDGER_SQL, version, 6)?,
    };
    let mut r = cols.into_iter();
    let mut next = || r.next().flatten();
    Some(Applied {
        id: next().unwrap_or_default(),
        schema_hash: next().unwrap_or_default(),
        applied_at: next().unwrap_or_default(),
        payload_hash: next(),
        bin: next(),
        deferred: next(),
    })
}

/// `Some(envelope)` when the ledger answers `noop` or `conflict` for this payload.
unsafe fn answer(
    raw: *mut pg_sys::varlena,
    bin: &str,
    mode: Mode,
    workflow_name: &str,
    started: Instant,
) -> Option<Value> {
    // force_apply (any value but false) and anything unusual: the normal path decides.
    if let Some(f) = key(raw, "force_apply") {
        if !(f.type_ == pg_sys::jbvType::jbvBool && !f.val.boolean) {
            return None;
        }
    }
    let memo = MEMO.with(|m| m.borrow().get(bin).cloned());
    let version = match &memo {
        Some(m) => m.version.clone(),
        None => key(raw, "schema_version")
            .or_else(|| key(raw, "version"))
            .and_then(|v| string(&v))?,
    };
    // Busy: the normal path waits for it under lock_timeout_ms.
    if mode == Mode::Apply && !super::direct::try_advisory_xact_lock(ADVISORY_KEY) {
        return None;
    }
    let row = last_applied(&version)?;
    // Not this backend's memo: what another backend learnt (revos.payload_memo), if anything.
    let memo = match memo {
        Some(m) => Some(m),
        None if row.bin.as_deref() != Some(bin) => {
            stored_memo(bin).filter(|m| m.version == version)
        }
        None => None,
    };
    let (status, schema_hash, inputs_hash) = if row.bin.as_deref() == Some(bin) {
        ("noop", row.schema_hash.clone(), row.payload_hash.clone()?)
    } else if let Some(m) = memo {
        let s = if m.schema_hash == row.schema_hash {
            "noop"
        } else {
            "conflict"
        };
        (s, m.schema_hash, m.payload_hash)
    } else {
        return None;
    };
    let o = if status == "noop" {
        // only a version that deferred steps can have some not done: no query otherwise
        let deferred = row.deferred.as_deref().is_some_and(|n| n != "0");
        noop(
            &version,
            &schema_hash,
            &row.id,
            &row.applied_at,
            mode,
            deferred,
        )
    } else {
        // what differs, when this backend worked it out before for these bytes and this row;
        // else the normal path answers (and works it out)
        let found = conflict::remembered(bin, &row.id)?;
        conflict::outcome(
            &version,
            &schema_hash,
            &row.id,
            &row.applied_at,
            &row.schema_hash,
            found,
        )
    };
    Some(envelope(
        workflow_name,
        &new_run_id(),
        started,
        &inputs_hash,
        o,
    ))
}
