//! `revos.event_hash(revos.events)`: the ledger's canonical encoding and hash, in Rust.
//!
//! The same bytes as the SQL expression documented in sql/ledger.sql (and tested against it in
//! pg_test/sql/ledger_event_hash.sql):
//!
//! ```sql
//! encode(sha256(convert_to(array_to_json(ARRAY[id::text, event_id::text, tenant_id, event_type,
//!     subject_type, subject_id, actor_id, payload::text, idempotency_key,
//!     to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
//!     to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
//!     prev_hash])::text, 'UTF8')), 'hex')
//! ```
//!
//! In SQL that costs about 9 µs per event (two to_char, the array, array_to_json, convert_to),
//! paid by every log_event (the chain trigger) and by verify_ledger for every event it checks.
//! Here: the payload's jsonb_out text written from its binary form (jsonb_out), everything else
//! without the executor. Timestamps outside the
//! years 1–9999 go through PostgreSQL's own to_char.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{Internal, PgTupleDesc};
use sha2::{Digest, Sha256};

use crate::ledger::jsonb_out::json_string;

/// The encoded fields, in order (columns of revos.events).
// Positions in FIELDS of the fields not encoded as plain text.
const ID: usize = 0;
const EVENT_ID: usize = 1;
const PAYLOAD: usize = 7;
const OCCURRED_AT: usize = 9;
const RECORDED_AT: usize = 10;

const FIELDS: [&str; 12] = [
    "id",
    "event_id",
    "tenant_id",
    "event_type",
    "subject_type",
    "subject_id",
    "actor_id",
    "payload",
    "idempotency_key",
    "occurred_at",
    "recorded_at",
    "prev_hash",
];
const TS_FORMAT: &str = "YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"";
/// Microseconds from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_DAYS_FROM_UNIX: i64 = 10_957;
const USECS_PER_DAY: i64 = 86_400_000_000;

/// Declared in sql/ledger.sql (`LANGUAGE c … 'event_hash_wrapper'`), next to the table it reads.
#[pg_extern(sql = false)]
fn event_hash(e: Internal) -> Option<String> {
    let datum = e.into_datum()?;
    Some(unsafe { hash_row(datum) })
}

thread_local! {
    /// (row type, its typmod) -> the attribute index of each of FIELDS: the row type's layout is
    /// looked up once per backend; every use re-checks the names (an ALTER TABLE moves them).
    static LAYOUT: std::cell::RefCell<Option<(pg_sys::Oid, i32, [Option<usize>; 12])>> =
        const { std::cell::RefCell::new(None) };
}

/// Does attribute `i` of `desc` exist, live, and carry `name`? (byte compare, no UTF-8 check)
unsafe fn attr_is(desc: &PgTupleDesc, i: usize, name: &str) -> bool {
    match desc.get(i) {
        Some(a) if !a.attisdropped => {
            let raw = std::ffi::CStr::from_ptr(a.attname.data.as_ptr()).to_bytes();
            raw == name.as_bytes()
        }
        _ => false,
    }
}

unsafe fn layout(desc: &PgTupleDesc, typ: pg_sys::Oid, typmod: i32) -> [Option<usize>; 12] {
    let n = desc.len();
    let cached = LAYOUT.with(|l| *l.borrow());
    if let Some((t, m, idx)) = cached {
        if t == typ
            && m == typmod
            && FIELDS
                .iter()
                .zip(idx.iter())
                .all(|(f, i)| i.is_some_and(|i| i < n && attr_is(desc, i, f)))
        {
            return idx;
        }
    }
    let mut idx = [None; 12];
    for (k, f) in FIELDS.iter().enumerate() {
        idx[k] = (0..n).find(|&i| attr_is(desc, i, f));
    }
    LAYOUT.with(|l| *l.borrow_mut() = Some((typ, typmod, idx)));
    idx
}

/// The positions of FIELDS and of the `hash` column in a revos.events row descriptor.
pub(crate) unsafe fn layout_of(
    desc: &PgTupleDesc,
    typ: pg_sys::Oid,
    typmod: i32,
) -> ([Option<usize>; 12], Option<usize>) {
    let idx = layout(desc, typ, typmod);
    let hash = (0..desc.len()).rev().find(|&i| attr_is(desc, i, "hash"));
    (idx, hash)
}

/// A text datum's bytes (detoasted; no UTF-8 check: the database's encoding is what is hashed).
/// An inline, uncompressed value (nearly every field of an event) is read where it is, without
/// a call into PostgreSQL.
pub(crate) unsafe fn text_bytes<'a>(v: pg_sys::Datum) -> &'a [u8] {
    let mut t = v.cast_mut_ptr::<pg_sys::varlena>();
    if !plain(t) {
        t = pg_sys::pg_detoast_datum_packed(t);
    }
    std::slice::from_raw_parts(
        pgrx::varlena::vardata_any(t) as *const u8,
        pgrx::varlena::varsize_any_exhdr(t),
    )
}

/// Inline and uncompressed (a 4-byte header, or a 1-byte one that is not a TOAST pointer).
unsafe fn plain(t: *const pg_sys::varlena) -> bool {
    pgrx::varlena::varatt_is_4b_u(t)
        || (pgrx::varlena::varatt_is_1b(t) && !pgrx::varlena::varatt_is_1b_e(t))
}

/// A jsonb datum's container, detoasted and 4-byte aligned: a 4-byte-header inline value is
/// used in place, a short inline one (1-byte header, unaligned) copied into `aligned`, anything
/// else (compressed, out of line) detoasted by PostgreSQL.
unsafe fn jsonb_container(v: pg_sys::Datum, aligned: &mut Vec<u64>) -> *const u8 {
    let t = v.cast_mut_ptr::<pg_sys::varlena>();
    if pgrx::varlena::varatt_is_4b_u(t) {
        return pgrx::varlena::vardata_any(t) as *const u8;
    }
    if plain(t) {
        let n = pgrx::varlena::varsize_any_exhdr(t);
        aligned.clear();
        aligned.resize(n.div_ceil(8), 0);
        std::ptr::copy_nonoverlapping(
            pgrx::varlena::vardata_any(t) as *const u8,
            aligned.as_mut_ptr() as *mut u8,
            n,
        );
        return aligned.as_ptr() as *const u8;
    }
    pgrx::varlena::vardata_any(pg_sys::pg_detoast_datum(t)) as *const u8
}

thread_local! {
    /// The encoding being hashed (reused from event to event).
    static ENCODED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// A short payload's aligned copy (reused from event to event).
    static ALIGNED: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Whether the database's encoding is UTF-8 (it never changes in a backend).
    static UTF8: std::cell::Cell<Option<bool>> = const { std::cell::Cell::new(None) };
}

pub(crate) fn database_is_utf8() -> bool {
    UTF8.with(|u| {
        *u.get().get_or_insert_with(|| unsafe {
            pg_sys::GetDatabaseEncoding() == pg_sys::pg_enc::PG_UTF8 as i32
        })
    })
}

unsafe fn hash_row(datum: pg_sys::Datum) -> String {
    let htup = pg_sys::pg_detoast_datum(datum.cast_mut_ptr::<pg_sys::varlena>())
        as pg_sys::HeapTupleHeader;
    let typ = pgrx::heap_tuple_header_get_type_id(htup);
    let typmod = pgrx::heap_tuple_header_get_typmod(htup);
    let desc = PgTupleDesc::from_pg(pg_sys::lookup_rowtype_tupdesc(typ, typmod));
    let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
    tuple.t_len = pgrx::heap_tuple_header_get_datum_length(htup) as u32;
    tuple.t_data = htup;
    let n = desc.len();
    let mut values = [pg_sys::Datum::from(0usize); 64];
    let mut nulls = [true; 64];
    if n > 64 {
        pgrx::error!("revos.event_hash: revos.events has more than 64 columns");
    }
    pg_sys::heap_deform_tuple(
        &mut tuple,
        desc.as_ptr(),
        values.as_mut_ptr(),
        nulls.as_mut_ptr(),
    );
    let idx = layout(&desc, typ, typmod);
    let mut buf = Vec::with_capacity(512);
    let hex = hash_fields(&values, &nulls, &idx, &mut buf);
    String::from_utf8_unchecked(hex.to_vec())
}

/// One field of an event as the hash encodes it, copied out of the row: encoding and hashing
/// it needs no PostgreSQL (verify_ledger hashes on a second thread).
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Null,
    Int(i64),
    Uuid([u8; 16]),
    /// bytes[start..start + len] of the row's byte buffer, written as a JSON string
    Text(u32, u32),
    /// microseconds since 2000-01-01 UTC, within the years 1–9999
    Ts(i64),
}

/// The hash (64 lowercase hex bytes) of one event given as deformed datums: `idx[k]` is the
/// position of FIELDS[k] in `values`/`nulls` (None: the column is missing, encoded as null).
/// `buf` is scratch space for the encoding (cleared here; reused by callers that hash many rows).
pub(crate) unsafe fn hash_fields(
    values: &[pg_sys::Datum],
    nulls: &[bool],
    idx: &[Option<usize>; 12],
    buf: &mut Vec<u8>,
) -> [u8; 64] {
    let mut kinds = [Kind::Null; 12];
    buf.clear();
    collect(values, nulls, idx, &mut kinds, buf);
    ENCODED.with(|e| {
        let out = &mut *e.borrow_mut();
        encode(&kinds, buf, out);
        if database_is_utf8() {
            digest_hex(out)
        } else {
            let conv = pg_sys::pg_server_to_any(
                out.as_ptr() as *const std::ffi::c_char,
                out.len() as i32,
                pg_sys::pg_enc::PG_UTF8 as i32,
            );
            digest_hex(std::ffi::CStr::from_ptr(conv).to_bytes())
        }
    })
}

/// sha256 as 64 lowercase hex bytes.
pub(crate) fn digest_hex(encoded: &[u8]) -> [u8; 64] {
    hex64(&Sha256::digest(encoded))
}

/// Copies one event's fields (deformed datums, `idx` as in hash_fields) into `kinds`, their
/// bytes appended to `bytes`. Everything that needs PostgreSQL happens here: detoasting, a
/// number's numeric_out, a payload nested too deep, a timestamp outside the years 1–9999.
pub(crate) unsafe fn collect(
    values: &[pg_sys::Datum],
    nulls: &[bool],
    idx: &[Option<usize>; 12],
    kinds: &mut [Kind; 12],
    bytes: &mut Vec<u8>,
) {
    let span =
        |bytes: &Vec<u8>, start: usize| Kind::Text(start as u32, (bytes.len() - start) as u32);
    for k in 0..FIELDS.len() {
        let Some(i) = idx[k].filter(|&i| !nulls[i]) else {
            kinds[k] = Kind::Null;
            continue;
        };
        let v = values[i];
        let start = bytes.len();
        kinds[k] = match k {
            ID => Kind::Int(v.value() as i64),
            EVENT_ID => {
                let mut u = [0u8; 16];
                std::ptr::copy_nonoverlapping(
                    v.cast_mut_ptr::<u8>() as *const u8,
                    u.as_mut_ptr(),
                    16,
                );
                Kind::Uuid(u)
            }
            PAYLOAD => {
                payload_text(bytes, v);
                span(bytes, start)
            }
            OCCURRED_AT | RECORDED_AT => {
                let us = v.value() as i64;
                if us == i64::MIN || us == i64::MAX {
                    Kind::Null
                } else if date_bytes(us.div_euclid(USECS_PER_DAY)).is_some() {
                    // within the years 1–9999 (what format_utc_bytes formats)
                    Kind::Ts(us)
                } else {
                    match timestamp_text(v) {
                        Some(t) => {
                            bytes.extend_from_slice(t.as_bytes());
                            span(bytes, start)
                        }
                        None => Kind::Null,
                    }
                }
            }
            _ => {
                bytes.extend_from_slice(text_bytes(v));
                span(bytes, start)
            }
        };
    }
}

/// jsonb_out's text of the payload, appended to `bytes`.
unsafe fn payload_text(bytes: &mut Vec<u8>, v: pg_sys::Datum) {
    ALIGNED.with(|a| {
        let start = bytes.len();
        if !crate::ledger::jsonb_out::write(bytes, jsonb_container(v, &mut a.borrow_mut())) {
            // nested deeper than jsonb_out.rs walks: PostgreSQL's own jsonb_out
            bytes.truncate(start);
            let c = pgrx::fcinfo::direct_function_call::<&std::ffi::CStr>(
                pg_sys::jsonb_out,
                &[Some(v)],
            );
            bytes.extend_from_slice(c.map(|c| c.to_bytes()).unwrap_or(b"null"));
        }
    })
}

/// The encoding the hash covers: a JSON array of the 12 fields (see the module comment).
pub(crate) fn encode(kinds: &[Kind; 12], bytes: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.push(b'[');
    for (k, kind) in kinds.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        match *kind {
            Kind::Null => out.extend_from_slice(b"null"),
            Kind::Int(n) => {
                out.push(b'"');
                push_int(out, n);
                out.push(b'"');
            }
            Kind::Uuid(u) => json_string(out, &uuid_text(&u)),
            Kind::Text(start, len) => {
                json_string(out, &bytes[start as usize..(start + len) as usize])
            }
            Kind::Ts(us) => match format_utc_bytes(us) {
                Some(s) => {
                    out.push(b'"');
                    out.extend_from_slice(&s);
                    out.push(b'"');
                }
                None => out.extend_from_slice(b"null"),
            },
        }
    }
    out.push(b']');
}

/// 32 bytes -> 64 lowercase hex digits.
fn hex64(d: &[u8]) -> [u8; 64] {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = [0u8; 64];
    for (i, b) in d.iter().take(32).enumerate() {
        s[2 * i] = H[(b >> 4) as usize];
        s[2 * i + 1] = H[(b & 15) as usize];
    }
    s
}

/// A decimal integer, as int8out writes it.
fn push_int(out: &mut Vec<u8>, n: i64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        tmp[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&tmp[i..]);
}

fn uuid_text(b: &[u8; 16]) -> [u8; 36] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = [b'-'; 36];
    let mut j = 0;
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            j += 1;
        }
        s[j] = HEX[(x >> 4) as usize];
        s[j + 1] = HEX[(x & 15) as usize];
        j += 2;
    }
    s
}

/// to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'); NULL for ±infinity.
unsafe fn timestamp_text(v: pg_sys::Datum) -> Option<String> {
    let us = v.value() as i64;
    if us == i64::MIN || us == i64::MAX {
        return None;
    }
    if let Some(s) = format_utc(us) {
        return Some(s);
    }
    // Outside the years 1–9999: PostgreSQL's to_char (the timestamptz's value is the UTC
    // timestamp's value).
    pgrx::fcinfo::direct_function_call::<String>(
        pg_sys::timestamp_to_char,
        &[Some(v), TS_FORMAT.into_datum()],
    )
}

/// Microseconds since 2000-01-01 00:00 UTC -> "YYYY-MM-DDTHH:MI:SS.ffffffZ" for years 1–9999.
pub fn format_utc(us: i64) -> Option<String> {
    format_utc_bytes(us).map(|b| b.iter().map(|&c| c as char).collect())
}

/// format_utc without allocating: "YYYY-MM-DDTHH:MI:SS.ffffffZ" (27 bytes) for years 1–9999.
pub fn format_utc_bytes(us: i64) -> Option<[u8; 27]> {
    let days = us.div_euclid(USECS_PER_DAY);
    let rem = us.rem_euclid(USECS_PER_DAY);
    let mut s = *b"0000-00-00T00:00:00.000000Z";
    s[..10].copy_from_slice(&date_bytes(days)?);
    let secs = rem / 1_000_000;
    let frac = rem % 1_000_000;
    let mut put = |at: usize, width: usize, mut n: i64| {
        for k in (0..width).rev() {
            s[at + k] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(11, 2, secs / 3600);
    put(14, 2, secs / 60 % 60);
    put(17, 2, secs % 60);
    put(20, 6, frac);
    Some(s)
}

thread_local! {
    /// The last day formatted (consecutive events are nearly always of the same day).
    static LAST_DAY: std::cell::Cell<(i64, [u8; 10])> = const { std::cell::Cell::new((i64::MIN, [0; 10])) };
}

/// "YYYY-MM-DD" of a day since 2000-01-01, for the years 1–9999.
fn date_bytes(days: i64) -> Option<[u8; 10]> {
    let (last, text) = LAST_DAY.with(|c| c.get());
    if last == days {
        return Some(text);
    }
    let (y, m, d) = civil_from_days(days + PG_EPOCH_DAYS_FROM_UNIX);
    if !(1..=9999).contains(&y) {
        return None;
    }
    let mut s = *b"0000-00-00";
    let mut put = |at: usize, width: usize, mut n: i64| {
        for k in (0..width).rev() {
            s[at + k] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, y);
    put(5, 2, m as i64);
    put(8, 2, d as i64);
    LAST_DAY.with(|c| c.set((days, s)));
    Some(s)
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0).unwrap(), "2000-01-01T00:00:00.000000Z");
        assert_eq!(format_utc(-1).unwrap(), "1999-12-31T23:59:59.999999Z");
        // 2024-05-01 12:00:00.123456 UTC
        let us = (8887 * 86_400 + 12 * 3600) * 1_000_000 + 123_456;
        assert_eq!(format_utc(us).unwrap(), "2024-05-01T12:00:00.123456Z");
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-719_162), (1, 1, 1));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
        assert!(format_utc((-719_163 - 10_957) * USECS_PER_DAY).is_none());
    }

    #[test]
    fn integers_and_hex() {
        for n in [0i64, 7, -7, 10, 1_000_000, i64::MAX, i64::MIN] {
            let mut out = vec![];
            push_int(&mut out, n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
        let d: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(37)).collect();
        assert_eq!(
            String::from_utf8(hex64(&d).to_vec()).unwrap(),
            crate::ident::hex(&d)
        );
    }

    #[test]
    fn field_positions() {
        assert_eq!(
            [
                FIELDS[ID],
                FIELDS[EVENT_ID],
                FIELDS[PAYLOAD],
                FIELDS[OCCURRED_AT],
                FIELDS[RECORDED_AT]
            ],
            ["id", "event_id", "payload", "occurred_at", "recorded_at"]
        );
    }
}
