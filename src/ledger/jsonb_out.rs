//! jsonb_out's text of a jsonb value, written by walking its binary form.
//!
//! The ledger's hash encodes `payload::text` (sql/ledger.sql). Calling jsonb_out for it cost, per
//! event, an iterator allocation per container level, a StringInfo, a palloc'd copy of every
//! string (escape_json takes a C string) and a call through fmgr; verify_ledger pays that for
//! every event it checks. This walks the container the way `JsonbToCStringWorker` does (without
//! indentation) and writes the same bytes:
//!
//! ```text
//! object  {"k": v, "k2": v2}      keys in stored order; key i's value is child count + i
//! array   [v, v2]                 a raw scalar (the FSCALAR pseudo-array) prints its element only
//! string  escape_json             \b \f \n \r \t \" \\, other bytes below 0x20 as \u00XX
//! number  numeric_out             (PostgreSQL's, through fmgr: numbers are rare in events)
//! true false null
//! ```
//!
//! Only numbers call PostgreSQL. tests: pg_test/sql/event_hash.sql compares event_hash with its
//! SQL definition (which uses jsonb_out) over generated payloads.

use pgrx::pg_sys;

const JB_CMASK: u32 = 0x0FFF_FFFF;
const JB_FSCALAR: u32 = 0x1000_0000;
const JB_FOBJECT: u32 = 0x2000_0000;
const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
const JENTRY_TYPEMASK: u32 = 0x7000_0000;
const JENTRY_HAS_OFF: u32 = 0x8000_0000;
const JENTRY_ISSTRING: u32 = 0x0000_0000;
const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
const JENTRY_ISNULL: u32 = 0x4000_0000;

/// Containers nested deeper than this are left to jsonb_out (which walks them without
/// recursion): false, and `out` holds a partial text.
const MAX_DEPTH: usize = 64;

/// Writes jsonb_out's text of the jsonb whose container starts at `c` (a detoasted jsonb's
/// VARDATA, 4-byte aligned); false when it is nested deeper than MAX_DEPTH.
///
/// # Safety
/// `c` points at a well-formed jsonb container (as stored in a table).
pub(crate) unsafe fn write(out: &mut Vec<u8>, c: *const u8) -> bool {
    container(out, c, 0)
}

unsafe fn container(out: &mut Vec<u8>, c: *const u8, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let header = read(c);
    let count = (header & JB_CMASK) as usize;
    let object = header & JB_FOBJECT != 0;
    let n = if object { 2 * count } else { count };
    let children = c.add(4);
    let base = children.add(4 * n);
    // (start, length) of every child, offsets accumulated as getJsonbOffset/getJsonbLength do
    let mut spans = Vec::with_capacity(n);
    let mut offset = 0usize;
    for i in 0..n {
        let e = read(children.add(4 * i));
        let field = (e & JENTRY_OFFLENMASK) as usize;
        let end = if e & JENTRY_HAS_OFF != 0 {
            field
        } else {
            offset + field
        };
        spans.push((e, offset, end - offset));
        offset = end;
    }
    let entry = |out: &mut Vec<u8>, i: usize| {
        let (e, start, len) = spans[i];
        element(out, e, base, start, len, depth)
    };
    if object {
        out.push(b'{');
        for i in 0..count {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            entry(out, i);
            out.extend_from_slice(b": ");
            if !entry(out, count + i) {
                return false;
            }
        }
        out.push(b'}');
    } else if header & JB_FSCALAR != 0 && count == 1 {
        return entry(out, 0);
    } else {
        out.push(b'[');
        for i in 0..count {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            if !entry(out, i) {
                return false;
            }
        }
        out.push(b']');
    }
    true
}

unsafe fn element(
    out: &mut Vec<u8>,
    e: u32,
    base: *const u8,
    start: usize,
    len: usize,
    depth: usize,
) -> bool {
    match e & JENTRY_TYPEMASK {
        JENTRY_ISSTRING => escape_json(out, std::slice::from_raw_parts(base.add(start), len)),
        JENTRY_ISNUMERIC => numeric(out, base.add(int_align(start))),
        JENTRY_ISBOOL_FALSE => out.extend_from_slice(b"false"),
        JENTRY_ISBOOL_TRUE => out.extend_from_slice(b"true"),
        JENTRY_ISNULL => out.extend_from_slice(b"null"),
        _ => return container(out, base.add(int_align(start)), depth + 1),
    }
    true
}

fn int_align(x: usize) -> usize {
    (x + 3) & !3
}

unsafe fn read(p: *const u8) -> u32 {
    std::ptr::read_unaligned(p as *const u32)
}

/// numeric_out of the numeric varlena at `p`.
unsafe fn numeric(out: &mut Vec<u8>, p: *const u8) {
    let text = pgrx::fcinfo::direct_function_call_as_datum(
        pg_sys::numeric_out,
        &[Some(pg_sys::Datum::from(p))],
    )
    .expect("numeric_out returns a string");
    let c = text.cast_mut_ptr::<std::ffi::c_char>();
    out.extend_from_slice(std::ffi::CStr::from_ptr(c).to_bytes());
    pg_sys::pfree(c.cast());
}

/// PostgreSQL's escape_json of a string, quotes included.
fn escape_json(out: &mut Vec<u8>, s: &[u8]) {
    json_string(out, s)
}

/// A JSON string as PostgreSQL's escape_json writes it (byte-wise: \b \f \n \r \t \" \\, other
/// bytes below 0x20 as \u00XX, everything else as it is).
pub(crate) fn json_string(out: &mut Vec<u8>, s: &[u8]) {
    /// 0: as it is; 1: \u00XX; anything else: a backslash and that byte.
    const ESC: [u8; 256] = {
        let mut t = [0u8; 256];
        let mut c = 0;
        while c < 0x20 {
            t[c] = 1;
            c += 1;
        }
        t[0x08] = b'b';
        t[0x0c] = b'f';
        t[b'\n' as usize] = b'n';
        t[b'\r' as usize] = b'r';
        t[b'\t' as usize] = b't';
        t[b'"' as usize] = b'"';
        t[b'\\' as usize] = b'\\';
        t
    };
    const H: &[u8; 16] = b"0123456789abcdef";
    out.reserve(s.len() + 2);
    out.push(b'"');
    // Nearly every string has nothing to escape: skip it 8 bytes at a time.
    let clean = clean_prefix(s);
    let mut run = 0;
    for (i, &c) in s.iter().enumerate().skip(clean) {
        let e = ESC[c as usize];
        if e == 0 {
            continue;
        }
        out.extend_from_slice(&s[run..i]);
        run = i + 1;
        if e == 1 {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                H[(c >> 4) as usize],
                H[(c & 15) as usize],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', e]);
        }
    }
    out.extend_from_slice(&s[run..]);
    out.push(b'"');
}

/// How many leading bytes of `s` (a multiple of 8) certainly need no escaping: no byte below
/// 0x20, no '"' and no '\\' in them (SWAR: a zero byte of x ^ c, or a byte below 0x20, sets
/// that byte's high bit in the test word; bytes >= 0x80 are never escaped and never flagged).
fn clean_prefix(s: &[u8]) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let below = |x: u64, n: u64| x.wrapping_sub(LO * n) & !x & HI;
    let mut i = 0;
    while i + 8 <= s.len() {
        let x = u64::from_le_bytes(s[i..i + 8].try_into().expect("8 bytes"));
        let hit =
            below(x, 0x20) | below(x ^ (LO * b'"' as u64), 1) | below(x ^ (LO * b'\\' as u64), 1);
        if hit != 0 {
            break;
        }
        i += 8;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_prefix_never_skips_a_byte_to_escape() {
        for c in 0u8..=255 {
            for at in 0..16 {
                let mut s = vec![b'a'; 16];
                s[at] = c;
                let needs = c < 0x20 || c == b'"' || c == b'\\';
                let k = clean_prefix(&s);
                assert!(k % 8 == 0 && k <= 16);
                if needs {
                    assert!(k <= at, "byte {c:#x} at {at} skipped (prefix {k})");
                } else {
                    assert_eq!(k, 16, "byte {c:#x} at {at} stopped the scan");
                }
            }
        }
    }

    proptest::proptest! {
        // escape_json's rules are serde_json's for UTF-8 text (control characters, '"', '\\')
        #[test]
        fn json_string_is_escape_json(s in "\\PC*|[\\x00-\\x7f]*") {
            let mut out = vec![];
            json_string(&mut out, s.as_bytes());
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&s).unwrap());
        }
    }

    #[test]
    fn json_escaping() {
        let mut out = vec![];
        json_string(&mut out, "a\"b\\c\n\u{1}é\u{7f}".as_bytes());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001é\u{7f}\""
        );
        // every byte below 0x20 and the two escaped printable ones, against serde_json's
        // escaping (which writes the same forms as PostgreSQL's escape_json for these bytes)
        let all: Vec<u8> = (0u8..0x20).chain(*b"\"\\ az").collect();
        let mut out = vec![];
        json_string(&mut out, &all);
        let expect = serde_json::to_string(std::str::from_utf8(&all).unwrap()).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), expect);
    }
}
