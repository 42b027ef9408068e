//! The drift capture's three event triggers (sql/ledger.sql), gated in C.
//!
//! Every DDL statement in the database fires `ddl_command_start` and `ddl_command_end` (and
//! `sql_drop` for drops), revos's own apply included: 1,200 statements for a 123-table schema.
//! Exactly revos's own planned statements are exempt (`ledger::writer`'s command frames: a token
//! taken by the one command revos announced; DDL nested in it, from a function in a caller's
//! expression, is captured), and so is everything after a restore or on a Citus worker. A
//! PL/pgSQL SECURITY DEFINER function with `SET search_path` cost ~25 µs per call just to find
//! that out — about 15 % of a large apply — so the gate decides in Rust, and only DDL that is
//! really captured reaches the PL/pgSQL workers `revos.drift_snapshot_run`,
//! `revos.drift_ddl_end_run` and `revos.drift_sql_drop_run` (SECURITY DEFINER, search_path
//! pinned, not executable by PUBLIC: called here through fmgr, as a trigger function is, without
//! an EXECUTE check), found by OID and run under the pinned search_path. When a worker cannot be
//! found or fails, the DDL fails: the capture is never skipped.

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::CStr;

use crate::ledger::{drift_begun, writer};

// Declared in sql/ledger.sql for the three event triggers (`LANGUAGE c … 'drift_gate_wrapper'`).
crate::v1_c_function!(pg_finfo_drift_gate_wrapper, drift_gate_wrapper, gate);

/// The worker for an event trigger event (a function `revos.<worker>(text)`).
fn worker(event: &[u8]) -> Option<&'static str> {
    match event {
        b"ddl_command_start" => Some("drift_snapshot_run"),
        b"ddl_command_end" => Some("drift_ddl_end_run"),
        b"sql_drop" => Some("drift_sql_drop_run"),
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
    let data = ctx as *mut pg_sys::EventTriggerData;
    let event = CStr::from_ptr((*data).event).to_bytes();
    let Some(worker) = worker(event) else {
        return none;
    };
    // The command's frame: pushed at its start, popped at its end (after its worker ran, which
    // asks revos.drift_paused() about this very command).
    let own = if event == b"ddl_command_start" {
        writer::command_started()
    } else {
        writer::command_is_own()
    };
    if !own {
        let tag = pg_sys::GetCommandTagName((*data).tag);
        let actor = crate::privilege::current_user_name();
        // resolved here, as the caller, before revos's settings are pinned: the command's own names
        let begun = if event == b"ddl_command_start" {
            if writer::watching()
                && !pg_sys::creating_extension
                && !creates_temporary_table((*data).parsetree)
                && !writer::drift_paused()
                && !citus_installed()
            {
                // an apply under way no longer takes what it created as built from its own text
                // (an extension's script, run by revos's own CREATE EXTENSION, is not other DDL;
                // with Citus, its own re-runs of revos's statements on the coordinator's placements
                // are nested DDL this gate cannot tell from a function's — the review of 975044a,
                // 1: every apply creating a reference table failed — so it notes none there)
                writer::note_foreign_ddl(&std::ffi::CStr::from_ptr(tag).to_string_lossy());
            }
            if writer::drift_paused() {
                vec![]
            } else {
                drift_begun::concurrent_tables((*data).parsetree)
            }
        } else {
            vec![]
        };
        writer::with_gate_actor(actor, || {
            crate::privilege::pinned(|| {
                run_worker(worker, tag);
                for table in begun {
                    run_begun_worker(tag, table);
                }
            })
        });
    }
    if event == b"ddl_command_end" {
        writer::command_ended();
    }
    none
}

/// Calls `revos.<worker>(tag)` (SECURITY DEFINER, search_path pinned, not executable by PUBLIC:
/// called through fmgr, as a trigger function is). Found by OID in the `revos` schema with the
/// argument type `pg_catalog.text` given by OID: nothing in the session (a temporary domain
/// named `text`, a function on the search_path) can redirect the lookup. A worker that is
/// missing fails the DDL: a command the ledger cannot record does not run.
unsafe fn run_worker(worker: &str, tag: *const std::ffi::c_char) {
    if writer::drift_paused() {
        return;
    }
    let Some(oid) = crate::privilege::revos_function(worker, &[pg_sys::TEXTOID]) else {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!("revos: drift capture cannot record this command: revos.{worker}(text) is missing"),
            "Reinstall the extension (ALTER EXTENSION revos UPDATE, or DROP and CREATE EXTENSION revos)."
        );
    };
    let tag = pg_sys::cstring_to_text(tag);
    pg_sys::OidFunctionCall1Coll(oid, pg_sys::InvalidOid, pg_sys::Datum::from(tag));
}

/// `CREATE TEMP TABLE` (or `… AS`): a function's scratch table changes nothing the apply makes
/// (and nothing the apply leaves may depend on a temporary object: `dependencies::check_after`),
/// so it is not other DDL to the apply (the review of 523b683, 2).
unsafe fn creates_temporary_table(tree: *mut pg_sys::Node) -> bool {
    let rel = match tree.as_ref().map(|n| n.type_) {
        Some(pg_sys::NodeTag::T_CreateStmt) => (*(tree as *mut pg_sys::CreateStmt)).relation,
        Some(pg_sys::NodeTag::T_CreateTableAsStmt) => {
            let into = (*(tree as *mut pg_sys::CreateTableAsStmt)).into;
            if into.is_null() {
                return false;
            }
            (*into).rel
        }
        _ => return false,
    };
    !rel.is_null() && (*rel).relpersistence as u8 == pg_sys::RELPERSISTENCE_TEMP
}

/// Whether this database has the Citus extension (the catalog cache; nothing in the session
/// decides it).
fn citus_installed() -> bool {
    unsafe { pg_sys::get_extension_oid(c"citus".as_ptr(), true) != pg_sys::InvalidOid }
}

/// Calls `revos.drift_begun_run(tag, table)` (`ledger::drift_begun`: a concurrent command on
/// `table` recorded at its start), found and called as `run_worker` calls its worker.
unsafe fn run_begun_worker(tag: *const std::ffi::c_char, table: pg_sys::Oid) {
    if writer::drift_paused() {
        return;
    }
    // Missing while the database's revos is older than this library (between installing a build
    // and ALTER EXTENSION revos UPDATE): the command is recorded at its end, as that version did
    // (the review of 4998950, F3: every concurrent command failed, on any table).
    let Some(oid) =
        crate::privilege::revos_function("drift_begun_run", &[pg_sys::TEXTOID, pg_sys::OIDOID])
    else {
        return;
    };
    let tag = pg_sys::cstring_to_text(tag);
    pg_sys::OidFunctionCall2Coll(
        oid,
        pg_sys::InvalidOid,
        pg_sys::Datum::from(tag),
        pg_sys::Datum::from(table),
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_event_has_its_worker() {
        assert_eq!(
            super::worker(b"ddl_command_start"),
            Some("drift_snapshot_run")
        );
        assert_eq!(super::worker(b"ddl_command_end"), Some("drift_ddl_end_run"));
        assert_eq!(super::worker(b"sql_drop"), Some("drift_sql_drop_run"));
        assert_eq!(super::worker(b"table_rewrite"), None);
    }
}
