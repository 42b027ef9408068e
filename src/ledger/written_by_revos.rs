//! Who may write the tables whose rows revos trusts: only their owner (the extension's owner, as
//! whom revos writes them — `writer::as_ledger_writer`, or a SECURITY DEFINER function of the
//! ledger) and superusers (a dump being restored). A privilege granted on them does not let
//! another role write them.
//!
//! The table's ACL is not enough: a row written while another role could write the table stayed
//! after the privilege was revoked, and revos then trusted it (the twelfth adversarial review, T: a
//! `revos.deferred_steps` row forged by a `pg_write_all_data` member ran as the superuser it named,
//! after the membership was revoked). So each such table has the trigger
//! `revos.written_by_revos()` (BEFORE each row INSERT, UPDATE, DELETE and statement TRUNCATE,
//! `ENABLE ALWAYS`, so a replica's apply and `session_replication_role` do not skip it), and
//! `revos.events`' chain trigger makes the same check ([`check_writer`]). Only the table's owner
//! can drop or disable the trigger.

use pgrx::pg_sys;
use pgrx::prelude::*;

// Declared in sql/finalize.sql (`LANGUAGE c … 'written_by_revos_wrapper'`, RETURNS trigger).
crate::v1_c_function!(
    pg_finfo_written_by_revos_wrapper,
    written_by_revos_wrapper,
    fire
);

unsafe fn fire(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let ctx = (*fcinfo).context;
    if ctx.is_null() || (*ctx).type_ != pg_sys::NodeTag::T_TriggerData {
        misuse();
    }
    let td = ctx as *mut pg_sys::TriggerData;
    let event = (*td).tg_event;
    let rel = (*td).tg_relation;
    if event & pg_sys::TRIGGER_EVENT_TIMINGMASK != pg_sys::TRIGGER_EVENT_BEFORE || !in_revos(rel) {
        misuse();
    }
    let op = match event & pg_sys::TRIGGER_EVENT_OPMASK {
        pg_sys::TRIGGER_EVENT_INSERT => "INSERT",
        pg_sys::TRIGGER_EVENT_UPDATE => "UPDATE",
        pg_sys::TRIGGER_EVENT_DELETE => "DELETE",
        _ => "TRUNCATE",
    };
    check_writer(rel, op);
    if event & pg_sys::TRIGGER_EVENT_ROW == 0 {
        return pg_sys::Datum::from(0usize);
    }
    // a BEFORE ROW trigger returns the row to go on with: the new one for an UPDATE
    if op == "UPDATE" {
        pg_sys::Datum::from((*td).tg_newtuple)
    } else {
        pg_sys::Datum::from((*td).tg_trigtuple)
    }
}

/// Fails (42501) unless the current user (whose privileges run the statement) owns `rel` or is a
/// superuser.
pub(crate) unsafe fn check_writer(rel: pg_sys::Relation, op: &str) {
    let user = pg_sys::GetUserId();
    if user == (*(*rel).rd_rel).relowner || pg_sys::superuser_arg(user) {
        return;
    }
    let table = std::ffi::CStr::from_ptr((*(*rel).rd_rel).relname.data.as_ptr()).to_string_lossy();
    let who = pg_sys::GetUserNameFromId(user, true);
    let who = if who.is_null() {
        format!("role {}", user.to_u32())
    } else {
        std::ffi::CStr::from_ptr(who).to_string_lossy().into_owned()
    };
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("revos.{table} is written only by revos: {op} by {who} refused"),
        "revos writes it as the extension's owner, and trusts its rows; a privilege granted on it (or pg_write_all_data) does not let another role write it."
    );
}

fn misuse() -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        "revos.written_by_revos() is a BEFORE trigger of revos's own tables only".to_string()
    );
}

/// Are `rel`'s triggers only revos's own guard (this module's `revos.written_by_revos()`: a C
/// function of that name in the table's schema whose symbol is `written_by_revos_wrapper`)? What `chain_head` requires of `revos.event_chain_heads` before it
/// moves a head without the executor: it makes the guard's check itself ([`check_writer`]), and any
/// other trigger sends it to the statement.
pub(crate) unsafe fn only_guard_triggers(rel: pg_sys::Relation) -> bool {
    const C_LANGUAGE: u32 = 13; // ClanguageId (pg_language.dat)
    let desc = (*rel).trigdesc;
    if desc.is_null() {
        return true;
    }
    let triggers = std::slice::from_raw_parts((*desc).triggers, (*desc).numtriggers as usize);
    triggers.iter().all(|t| {
        // the hot path (every event): a function found to be the guard once is not looked up again
        let key = (t.tgfoid, (*(*rel).rd_rel).relnamespace);
        if GUARDS.with(|g| g.borrow().contains(&key)) {
            return true;
        }
        let cached = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::PROCOID as i32,
            pg_sys::Datum::from(t.tgfoid),
        );
        if cached.is_null() {
            return false;
        }
        let form = pg_sys::GETSTRUCT(cached) as *const pg_sys::FormData_pg_proc;
        let mut no_src = true;
        let src = pg_sys::SysCacheGetAttr(
            pg_sys::SysCacheIdentifier::PROCOID as i32,
            cached,
            pg_sys::Anum_pg_proc_prosrc as pg_sys::AttrNumber,
            &mut no_src,
        );
        // named so, in the table's schema, and this library's C symbol (the review of 1291b30)
        let ours = std::ffi::CStr::from_ptr((*form).proname.data.as_ptr()).to_bytes()
            == b"written_by_revos"
            && (*form).pronamespace == (*(*rel).rd_rel).relnamespace
            && (*form).prolang == pg_sys::Oid::from(C_LANGUAGE)
            && !no_src
            && crate::ledger::event_hash::text_bytes(src) == b"written_by_revos_wrapper";
        pg_sys::ReleaseSysCache(cached);
        if ours {
            GUARDS.with(|g| g.borrow_mut().push(key));
        }
        ours
    })
}

thread_local! {
    /// (function, schema) pairs found to be the guard in this backend
    static GUARDS: std::cell::RefCell<Vec<(pg_sys::Oid, pg_sys::Oid)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Is `rel` in schema `revos`?
unsafe fn in_revos(rel: pg_sys::Relation) -> bool {
    let nsp = pg_sys::get_namespace_name((*(*rel).rd_rel).relnamespace);
    !nsp.is_null() && std::ffi::CStr::from_ptr(nsp).to_bytes() == b"revos"
}
