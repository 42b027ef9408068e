//! The version's last applied row of `revos.schema_migrations`, read straight from its index
//! `schema_migrations_version_idx (version, created_at DESC)`: the row
//!
//! ```sql
//! SELECT id::text, schema_hash, applied_at::text, metadata ->> 'payload_hash',
//!        metadata ->> 'payload_jsonb_sha256', metadata ->> 'deferred_steps'
//!   FROM revos.schema_migrations
//!  WHERE version = $1 AND status = 'applied' ORDER BY created_at DESC LIMIT 1
//! ```
//!
//! returns, with the same snapshot a new SPI statement takes, the same casts (`uuid_out`,
//! `timestamptz_out`, `jsonb_object_field_text`: the functions behind `::text` and `->>`) and
//! the same locks (ACCESS SHARE on the table and the index), but no parse, analysis or plan. In
//! a new session that statement cost ~1.3 ms of the no-op's first call (catalog caches cold for
//! the planner: every index of the table, operators, statistics); warm, a tenth of a no-op.
//!
//! It answers only when it can answer exactly as the SQL would; otherwise [`Probe::Unavailable`]
//! and the caller runs the SQL: the index is missing, partial, invalid or not on (version,
//! created_at DESC); a column is missing or of another type; the caller lacks SELECT on the
//! table; the table has row level security for the caller.

use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::pg_sys;
use std::ffi::CStr;

use crate::ledger::index_scan::begin_key_scan;
use crate::privilege::revos_relation;

pub enum Probe {
    /// id, schema_hash, applied_at, payload_hash, payload_jsonb_sha256, deferred_steps (as the
    /// SQL's text)
    Found([Option<String>; 6]),
    NotFound,
    Unavailable,
}

const COLUMNS: [(&str, pg_sys::Oid); 7] = [
    ("id", pg_sys::UUIDOID),
    ("schema_hash", pg_sys::TEXTOID),
    ("applied_at", pg_sys::TIMESTAMPTZOID),
    ("metadata", pg_sys::JSONBOID),
    ("version", pg_sys::TEXTOID),
    ("status", pg_sys::TEXTOID),
    ("created_at", pg_sys::TIMESTAMPTZOID),
];
type At = [usize; 7];
const LOCK: pg_sys::LOCKMODE = pg_sys::AccessShareLock as pg_sys::LOCKMODE;

pub fn last_applied(version: &str) -> Probe {
    let (Some(relid), Some(idx)) = (
        revos_relation("schema_migrations"),
        revos_relation("schema_migrations_version_idx"),
    ) else {
        return Probe::Unavailable;
    };
    unsafe {
        if !readable(relid) {
            return Probe::Unavailable;
        }
        let rel = pg_sys::table_open(relid, LOCK);
        let index = pg_sys::index_open(idx, LOCK);
        let out = match positions(rel) {
            Some(at) if expected_index(index, relid, &at) => scan(rel, index, version, &at),
            _ => Probe::Unavailable,
        };
        pg_sys::index_close(index, LOCK);
        pg_sys::table_close(rel, LOCK);
        out
    }
}

/// SELECT on the table for the current user, and no row level security for them.
unsafe fn readable(relid: pg_sys::Oid) -> bool {
    pg_sys::pg_class_aclcheck(
        relid,
        pg_sys::GetUserId(),
        pg_sys::ACL_SELECT as pg_sys::AclMode,
    ) == pg_sys::AclResult::ACLCHECK_OK
        && pg_sys::check_enable_rls(relid, pg_sys::InvalidOid, true)
            == pg_sys::CheckEnableRlsResult::RLS_NONE as i32
}

/// The attribute index of each of COLUMNS (live, of the expected type).
unsafe fn positions(rel: pg_sys::Relation) -> Option<At> {
    let desc = pgrx::PgTupleDesc::from_pg_unchecked((*rel).rd_att);
    let mut at = [0usize; 7];
    for (k, (name, typ)) in COLUMNS.iter().enumerate() {
        at[k] = (0..desc.len()).find(|&i| {
            desc.get(i).is_some_and(|a| {
                !a.attisdropped
                    && a.atttypid == *typ
                    && CStr::from_ptr(a.attname.data.as_ptr()).to_bytes() == name.as_bytes()
            })
        })?;
    }
    Some(at)
}

/// A valid, non-partial btree of the table on exactly (version, created_at DESC).
unsafe fn expected_index(index: pg_sys::Relation, relid: pg_sys::Oid, at: &At) -> bool {
    let form = (*index).rd_index;
    if (*form).indrelid != relid
        || !(*form).indisvalid
        || (*form).indnatts != 2
        || (*(*index).rd_rel).relam != pg_sys::BTREE_AM_OID
    {
        return false;
    }
    let no_predicate = pg_sys::heap_attisnull(
        (*index).rd_indextuple,
        pg_sys::Anum_pg_index_indpred as i32,
        std::ptr::null_mut(),
    );
    let keys = (*form).indkey.values.as_slice(2);
    let options = std::slice::from_raw_parts((*index).rd_indoption, 2);
    let desc = pg_sys::INDOPTION_DESC as i16;
    no_predicate
        && keys[0] as usize == at[4] + 1
        && keys[1] as usize == at[6] + 1
        && options[0] & desc == 0
        && options[1] & desc != 0
}

unsafe fn scan(rel: pg_sys::Relation, index: pg_sys::Relation, version: &str, at: &At) -> Probe {
    // What a new SPI statement sees: the effects of earlier commands, a fresh snapshot (READ
    // COMMITTED; the transaction's own under REPEATABLE READ).
    pg_sys::CommandCounterIncrement();
    let snapshot = pg_sys::RegisterSnapshot(pg_sys::GetTransactionSnapshot());
    let key_text = pg_sys::cstring_to_text_with_len(version.as_ptr().cast(), version.len() as i32);
    let scan = begin_key_scan(
        rel,
        index,
        snapshot,
        pg_sys::Datum::from(key_text),
        pg_sys::F_TEXTEQ,
    );
    let slot = pg_sys::table_slot_create(rel, std::ptr::null_mut());
    let mut out = Probe::NotFound;
    while pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot) {
        pg_sys::slot_getallattrs(slot);
        let n = (*(*rel).rd_att).natts as usize;
        let values = std::slice::from_raw_parts((*slot).tts_values, n);
        let nulls = std::slice::from_raw_parts((*slot).tts_isnull, n);
        if nulls[at[5]] || crate::ledger::event_hash::text_bytes(values[at[5]]) != b"applied" {
            continue;
        }
        out = Probe::Found(row(values, nulls, at));
        break;
    }
    pg_sys::ExecDropSingleTupleTableSlot(slot);
    pg_sys::index_endscan(scan);
    pg_sys::UnregisterSnapshot(snapshot);
    out
}

unsafe fn row(values: &[pg_sys::Datum], nulls: &[bool], at: &At) -> [Option<String>; 6] {
    let out = |f: unsafe fn(pg_sys::FunctionCallInfo) -> pg_sys::Datum, k: usize| {
        (!nulls[at[k]]).then(|| {
            let c = direct_function_call_as_datum(f, &[Some(values[at[k]])])
                .expect("an output function");
            CStr::from_ptr(c.cast_mut_ptr::<std::ffi::c_char>())
                .to_string_lossy()
                .into_owned()
        })
    };
    let text = |k: usize| {
        (!nulls[at[k]]).then(|| {
            String::from_utf8_lossy(crate::ledger::event_hash::text_bytes(values[at[k]]))
                .into_owned()
        })
    };
    // metadata detoasted once for its three fields (each call would decompress it again)
    let metadata = (!nulls[at[3]]).then(|| {
        pg_sys::Datum::from(pg_sys::pg_detoast_datum(
            values[at[3]].cast_mut_ptr::<pg_sys::varlena>(),
        ))
    });
    let field = |name: &str| -> Option<String> {
        let metadata = metadata?;
        let key = pg_sys::cstring_to_text_with_len(name.as_ptr().cast(), name.len() as i32);
        let d = direct_function_call_as_datum(
            pg_sys::jsonb_object_field_text,
            &[Some(metadata), Some(pg_sys::Datum::from(key))],
        )?;
        let c = pg_sys::text_to_cstring(d.cast_mut_ptr());
        Some(CStr::from_ptr(c).to_string_lossy().into_owned())
    };
    [
        out(pg_sys::uuid_out, 0),
        text(1),
        out(pg_sys::timestamptz_out, 2),
        field("payload_hash"),
        field("payload_jsonb_sha256"),
        field("deferred_steps"),
    ]
}

/// Whether `schema_migrations` has the columns of a version's documents (`normalized_schema`,
/// `plan_text`, since 0.3.0): a database still on an earlier release's SQL (before `ALTER
/// EXTENSION revos UPDATE`) runs this library without them, and its rows then carry the
/// documents in `metadata`, as 0.3.0's first builds wrote them.
pub fn document_columns() -> bool {
    let Some(rel) = revos_relation("schema_migrations") else {
        return false;
    };
    ["normalized_schema", "plan_text"].iter().all(|c| {
        let name = std::ffi::CString::new(*c).expect("no NUL");
        unsafe { pg_sys::get_attnum(rel, name.as_ptr()) > 0 }
    })
}
