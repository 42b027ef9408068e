//! The drift capture's three event triggers (sql/ledger.sql), gated in C.
//!
//! Every DDL statement in the database fires `ddl_command_start` and `ddl_command_end` (and
//! `sql_drop` for drops), revos's own apply included: 1,200 statements for a 123-table schema.
//! While revos runs its own DDL (or after a restore, or on a Citus worker) the capture is paused,
//! and a PL/pgSQL SECURITY DEFINER function with `SET search_path` cost ~25 µs per call just to
//! find that out — about 15 % of a large apply. Here the pause is checked in Rust (the flag the
//! apply itself set, `ledger::writer`), and only DDL that is really captured reaches the PL/pgSQL
//! workers `revos.drift_snapshot_run`, `revos.drift_ddl_end_run` and `revos.drift_sql_drop_run`
//! (SECURITY DEFINER, search_path pinned, not executable by PUBLIC: called here through fmgr,
//! as a trigger function is, without an EXECUTE check).

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::CStr;

// Declared in sql/ledger.sql for the three event triggers (`LANGUAGE c … 'drift_gate_wrapper'`).
crate::v1_c_function!(pg_finfo_drift_gate_wrapper, drift_gate_wrapper, gate);

/// The worker for an event trigger event.
fn worker(event: &[u8]) -> Option<&'static str> {
    match event {
        b"ddl_command_start" => Some("revos.drift_snapshot_run(text)"),
        b"ddl_command_end" => Some("revos.drift_ddl_end_run(text)"),
        b"sql_drop" => Some("revos.drift_sql_drop_run(text)"),
        _ => None,
    }
}

unsafe fn gate(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let none = pg_sys::Datum::from(0usize);
    let ctx = (*fcinfo).context;
    if ctx.is_null() || (*ctx).type_ != pg_sys::NodeTag::T_EventTriggerData {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "revos's drift capture functions are event triggers"
        );
    }
    if crate::ledger::writer::drift_paused() {
        return none;
    }
    let data = ctx as *mut pg_sys::EventTriggerData;
    let Some(worker) = worker(CStr::from_ptr((*data).event).to_bytes()) else {
        return none;
    };
    let oid = Spi::get_one_with_args::<pg_sys::Oid>(
        "SELECT pg_catalog.to_regprocedure($1)::pg_catalog.oid",
        &[worker.into()],
    )
    .ok()
    .flatten()
    .filter(|o| *o != pg_sys::InvalidOid);
    let Some(oid) = oid else {
        pgrx::warning!("revos: drift capture: {worker} is missing; this DDL is not recorded");
        return none;
    };
    let tag = pg_sys::GetCommandTagName((*data).tag);
    let tag = pg_sys::cstring_to_text(tag);
    pg_sys::OidFunctionCall1Coll(oid, pg_sys::InvalidOid, pg_sys::Datum::from(tag));
    none
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_event_has_its_worker() {
        assert_eq!(
            super::worker(b"ddl_command_start"),
            Some("revos.drift_snapshot_run(text)")
        );
        assert_eq!(
            super::worker(b"ddl_command_end"),
            Some("revos.drift_ddl_end_run(text)")
        );
        assert_eq!(
            super::worker(b"sql_drop"),
            Some("revos.drift_sql_drop_run(text)")
        );
        assert_eq!(super::worker(b"table_rewrite"), None);
    }
}
