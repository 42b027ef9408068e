//! The small statements apply ran through SPI, as direct calls of the same PostgreSQL functions.
//!
//! `SELECT current_setting($1, true)`, `SELECT set_config($1, $2, true)`,
//! `SELECT pg_catalog.pg_try_advisory_xact_lock($1)` and `SELECT gen_random_uuid()::text` each
//! cost a parse, an analysis, a plan and an executor run per call — in a new session, with cold
//! catalog caches, a few hundred microseconds each, which was most of a no-op's first call after
//! the library load (bench/FINDINGS.md, 2026-12-04). Here each calls the C function behind the SQL
//! one (`show_config_by_name_missing_ok`, `set_config_by_name`,
//! `pg_try_advisory_xact_lock_int8`, `gen_random_uuid`) with the same arguments: same behaviour,
//! same errors, no SQL and so no name resolution at all.

use pgrx::fcinfo::direct_function_call_as_datum;
use pgrx::pg_sys;
use std::ffi::CStr;

fn text(s: &str) -> pg_sys::Datum {
    unsafe {
        pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
            s.as_ptr().cast(),
            s.len() as i32,
        ))
    }
}

unsafe fn text_to_string(d: pg_sys::Datum) -> String {
    let c = pg_sys::text_to_cstring(d.cast_mut_ptr());
    let s = CStr::from_ptr(c).to_string_lossy().into_owned();
    pg_sys::pfree(c.cast());
    s
}

/// `current_setting(name, true)`: None when the setting does not exist (or is NULL).
pub fn setting(name: &str) -> Option<String> {
    unsafe {
        let d = direct_function_call_as_datum(
            pg_sys::show_config_by_name_missing_ok,
            &[Some(text(name)), Some(pg_sys::Datum::from(true))],
        )?;
        Some(text_to_string(d))
    }
}

/// `set_config(name, value, true)`: for the rest of the transaction (or of the GUC nest level).
pub fn set_local(name: &str, value: &str) {
    unsafe {
        direct_function_call_as_datum(
            pg_sys::set_config_by_name,
            &[
                Some(text(name)),
                Some(text(value)),
                Some(pg_sys::Datum::from(true)),
            ],
        );
    }
}

/// `pg_catalog.pg_try_advisory_xact_lock(key)`.
pub fn try_advisory_xact_lock(key: i64) -> bool {
    unsafe {
        direct_function_call_as_datum(
            pg_sys::pg_try_advisory_xact_lock_int8,
            &[Some(pg_sys::Datum::from(key))],
        )
        .is_some_and(|d| d.value() != 0)
    }
}

/// `gen_random_uuid()::text`.
pub fn random_uuid() -> String {
    unsafe {
        let Some(u) = direct_function_call_as_datum(pg_sys::gen_random_uuid, &[]) else {
            pgrx::error!("revos: gen_random_uuid returned NULL");
        };
        let out = direct_function_call_as_datum(pg_sys::uuid_out, &[Some(u)])
            .expect("uuid_out returns a string");
        CStr::from_ptr(out.cast_mut_ptr::<std::ffi::c_char>())
            .to_string_lossy()
            .into_owned()
    }
}
