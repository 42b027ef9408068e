//! Running one statement of revos's own at the top level of the deferred worker, as a client's
//! simple query would run: in a transaction of its own, not inside a transaction block, so that
//! `CREATE INDEX CONCURRENTLY` (which commits and starts transactions while it runs) is allowed.
//! SPI cannot: it runs every statement as part of a query ("cannot be executed from a function").

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::ffi::{CStr, CString};

use crate::ledger::writer::own_toplevel_statement;
use crate::schema::online::Completion;

/// Runs `sql` (exactly one statement) at the top level: Ok, or its error as (message, SQLSTATE)
/// with its transaction aborted. The statement is announced to the drift capture as revos's own
/// (`own_toplevel_statement`) and shown in `pg_stat_activity` while it runs.
pub fn toplevel(sql: &str) -> Result<(), (String, String)> {
    run(sql, None, || ())
}

/// A deferred step's statement: [`toplevel`], run only when its parse tree is the statement
/// `expect` allows (`crate::deferred::shape`), with `before` run first in the statement's own
/// transaction (what it locks stays locked while the statement runs; an error it raises is the
/// step's).
pub fn step_statement(
    sql: &str,
    expect: &Completion,
    before: impl FnOnce(),
) -> Result<(), (String, String)> {
    run(sql, Some(expect), before)
}

fn run(
    sql: &str,
    expect: Option<&Completion>,
    before: impl FnOnce(),
) -> Result<(), (String, String)> {
    let text = CString::new(sql).map_err(|_| {
        (
            "a NUL byte in the statement".to_string(),
            "22021".to_string(),
        )
    })?;
    own_transaction(&text, || {
        before();
        own_toplevel_statement(|| unsafe { utility(&text, expect) });
    })
}

/// Runs `f` in a transaction of its own (started and committed here, at the worker's top level,
/// outside any other): Ok with what it returned once committed, or the error it raised as
/// (message, SQLSTATE) with the transaction aborted. `activity` is shown in `pg_stat_activity`
/// meanwhile. `f` pushes the snapshot it needs (an active one left is popped before the commit).
pub fn own_transaction<R>(activity: &CStr, f: impl FnOnce() -> R) -> Result<R, (String, String)> {
    // What `f` parses must outlive the transactions a statement commits itself (a concurrent
    // build's tree is read again after its first commit): a context of its own, as a client's
    // query is parsed in MessageContext.
    let cxt = unsafe {
        pg_sys::AllocSetContextCreateExtended(
            pg_sys::TopMemoryContext,
            c"revos deferred statement".as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        )
    };
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::MemoryContextSwitchTo(cxt);
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_RUNNING, activity.as_ptr());
    }
    let r = PgTryBuilder::new(std::panic::AssertUnwindSafe(|| {
        let out = f();
        unsafe {
            if pg_sys::ActiveSnapshotSet() {
                pg_sys::PopActiveSnapshot();
            }
            pg_sys::CommitTransactionCommand();
        }
        Ok(out)
    }))
    .catch_others(|e| Err(caught(&e)))
    .execute();
    unsafe {
        pg_sys::MemoryContextSwitchTo(pg_sys::TopMemoryContext);
        if r.is_err() {
            pg_sys::AbortCurrentTransaction();
        }
        pg_sys::MemoryContextDelete(cxt);
        pg_sys::pgstat_report_activity(pg_sys::BackendState::STATE_IDLE, std::ptr::null());
    }
    r
}

/// Parses `sql` and hands its one utility statement to `ProcessUtility` as the top-level command
/// (`PROCESS_UTILITY_TOPLEVEL`), with an active snapshot (some commands pop it themselves) —
/// when `expect` is given, only the statement it allows (`crate::deferred::shape`).
unsafe fn utility(sql: &CStr, expect: Option<&Completion>) {
    pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    let list = pg_sys::pg_parse_query(sql.as_ptr());
    if list.is_null() || (*list).length != 1 {
        pgrx::error!("revos: a deferred step must be exactly one statement");
    }
    let raw = (*(*list).elements).ptr_value as *mut pg_sys::RawStmt;
    if let Some(c) = expect {
        crate::deferred::shape::check((*raw).stmt, c);
    }
    let pstmt =
        pg_sys::palloc0(std::mem::size_of::<pg_sys::PlannedStmt>()) as *mut pg_sys::PlannedStmt;
    (*pstmt).type_ = pg_sys::NodeTag::T_PlannedStmt;
    (*pstmt).commandType = pg_sys::CmdType::CMD_UTILITY;
    (*pstmt).canSetTag = true;
    (*pstmt).utilityStmt = (*raw).stmt;
    (*pstmt).stmt_location = (*raw).stmt_location;
    (*pstmt).stmt_len = (*raw).stmt_len;
    let dest = pg_sys::CreateDestReceiver(pg_sys::CommandDest::DestNone);
    pg_sys::ProcessUtility(
        pstmt,
        sql.as_ptr(),
        false,
        pg_sys::ProcessUtilityContext::PROCESS_UTILITY_TOPLEVEL,
        std::ptr::null_mut(),
        std::ptr::null_mut(),
        dest,
        std::ptr::null_mut(),
    );
}

/// (message with its detail, SQLSTATE) of a caught Postgres error.
pub fn caught(e: &pg_sys::panic::CaughtError) -> (String, String) {
    use pg_sys::panic::CaughtError::*;
    match e {
        PostgresError(r) | ErrorReport(r) | RustPanic { ereport: r, .. } => {
            let mut msg = r.message().to_string();
            if let Some(d) = r.detail() {
                msg.push_str(&format!(" ({d})"));
            }
            (msg, sqlstate_text(r.sql_error_code() as i32))
        }
    }
}

/// Unpacks Postgres' MAKE_SQLSTATE encoding into the five characters.
pub fn sqlstate_text(mut code: i32) -> String {
    let mut s = String::with_capacity(5);
    for _ in 0..5 {
        s.push((((code & 0x3F) as u8) + b'0') as char);
        code >>= 6;
    }
    s
}
