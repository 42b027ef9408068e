//! Who is writing: backend-local state that revos's own SQL (the ledger triggers and the drift
//! capture) trusts, and that no SQL caller can set.
//!
//! * revos's own DDL statements (`own_statement`, `own_call`): the drift capture skips exactly
//!   those commands (they are not drift); any other DDL, nested in them or not, is captured.
//! * `Phase::Ledger` while `apply` inserts its `revos.schema_migrations` row: the row's trigger
//!   writes the `schema_migration_*` event. A row inserted any other way (only the tables' owner
//!   can, e.g. pg_restore / psql replaying a dump) writes no event.
//! * `restored`: this session inserted ledger rows that revos did not write (a dump being
//!   restored, by the tables' owner or a superuser): for the rest of the session the drift capture
//!   does not record DDL (the restore recreating managed tables' indexes, triggers and policies).
//!
//! The phases live in Rust statics, are set only around revos's own code, and are cleared at the
//! end of the transaction and when a subtransaction that was open when they were set aborts (a
//! caller catching apply's error in an EXCEPTION block cannot inherit them). SQL sees them only
//! through the functions below, none of which is executable by PUBLIC.

use pgrx::pg_sys;
use pgrx::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Phase {
    Idle = 0,
    Ledger = 2,
}

static PHASE: AtomicU8 = AtomicU8::new(0);
/// The subtransaction that was current when the phase was set.
static PHASE_SUBXACT: AtomicU32 = AtomicU32::new(0);
static RESTORED: AtomicBool = AtomicBool::new(false);
static CALLBACKS: AtomicBool = AtomicBool::new(false);

pub fn phase() -> Phase {
    match PHASE.load(Ordering::Relaxed) {
        2 => Phase::Ledger,
        _ => Phase::Idle,
    }
}

/// Runs `f` with the phase set; the phase is cleared afterwards whatever happens (error included:
/// the transaction callbacks clear it when the error aborts the (sub)transaction).
pub fn with_phase<R>(p: Phase, f: impl FnOnce() -> R) -> R {
    register_callbacks();
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    PHASE_SUBXACT.store(subxact, Ordering::Relaxed);
    PHASE.store(p as u8, Ordering::Relaxed);
    pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .finally(|| PHASE.store(Phase::Idle as u8, Ordering::Relaxed))
        .execute()
}

/// Runs `f` (revos's insert into its ledger) as the owner of `revos.schema_migrations`, in
/// `Phase::Ledger`: nobody else holds INSERT on the ledgers, so this is the only way a row gets
/// there besides the owner's own inserts. Returns the caller's role name (for `applied_by`) too.
/// The owner is read from the relation cache and the caller's name from the role cache (no SQL
/// before the switch); the switch is a security-restricted operation under the pinned
/// search_path (`privilege::as_role`).
pub fn as_ledger_writer<R>(f: impl FnOnce(&str) -> R) -> R {
    let owner = crate::privilege::revos_relation_owner("schema_migrations");
    let caller = crate::privilege::current_user_name();
    crate::privilege::as_role(owner, || with_phase(Phase::Ledger, || f(&caller)))
}

// ---- revos's own DDL: exempt from the drift capture, one statement at a time ------------------
//
// Every DDL command fires `ddl_command_start` before it runs and `ddl_command_end` after it
// (`sql_drop` in between for drops), for nested commands too (DDL run by a function that a
// command calls). The gate keeps a stack of the commands under way in this backend: a frame is
// pushed at `ddl_command_start` and popped at `ddl_command_end` (frames of a subtransaction that
// aborts are dropped with it). A frame is revos's own only when revos announced exactly that
// command: `own_statement` arms a token for the next command started at the current depth, and
// the command that takes it is exempt. Anything else — DDL run by a function in a caller's
// check, default or `using` expression while revos's statement runs (one frame deeper), or any
// DDL before or after — is captured. `own_call` (a trusted function such as Citus's
// `create_distributed_table`, whose internal DDL is all revos's) exempts every command started
// while it runs.

#[derive(Clone)]
struct Frame {
    own: bool,
    subxact: pg_sys::SubTransactionId,
    /// The role whose privileges run the command (a SECURITY DEFINER function's DDL is its
    /// owner's): the drift event's actor.
    actor: String,
    /// What ddl_command_start saw of the managed tables (classid:objid -> table), for what the
    /// command drops: this command's own, never another's, and no setting anybody could set.
    snapshot: Option<String>,
    /// The start of the top-level statement the command belongs to
    /// (`GetCurrentStatementStartTimestamp`, which the commits inside a statement leave alone).
    stmt: pg_sys::TimestampTz,
    /// Carried over a commit made inside the command itself (`CREATE INDEX CONCURRENTLY`, `DROP
    /// INDEX CONCURRENTLY`, `DETACH PARTITION … CONCURRENTLY`, `REINDEX … CONCURRENTLY`): its
    /// `sql_drop` and `ddl_command_end` run in a later transaction than its `ddl_command_start`, and
    /// without the frame they lost its snapshot and its actor (the drift review of d9c3a68, M1: a
    /// managed index dropped so was not recorded). Forgotten at the next statement.
    carried: bool,
}

thread_local! {
    static FRAMES: std::cell::RefCell<Vec<Frame>> = const { std::cell::RefCell::new(Vec::new()) };
    /// The role that ran the DDL, as the event trigger's gate saw it before it called its SECURITY
    /// DEFINER worker: the actor when no frame is left (inside the worker, the current user is the
    /// ledger's owner).
    static GATE_ACTOR: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}
thread_local! {
    /// The first DDL command that was not revos's own since the apply began to watch (its tag):
    /// what the apply created is then not taken as built from the spec's own text.
    static FOREIGN_DDL: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Whether an apply's (or a plan's rehearsal's) statements are under way in this backend.
static WATCHING: AtomicBool = AtomicBool::new(false);

/// Runs `f`, an apply's statements and their verification, watching for DDL that is not revos's
/// own (what an earlier call saw is forgotten first). Refused (55000) inside another one: an
/// apply or plan called from a function the outer apply's statements run would start the watch
/// afresh, and run statements of revos's own on the outer apply's tables (the review of 975044a,
/// 2: `applied` over a created table a nested apply had changed).
pub fn watch_foreign_ddl<R>(f: impl FnOnce() -> R) -> R {
    register_callbacks();
    if WATCHING.swap(true, Ordering::Relaxed) {
        nested_refused();
    }
    FOREIGN_DDL.with(|f| *f.borrow_mut() = None);
    pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .finally(|| WATCHING.store(false, Ordering::Relaxed))
        .execute()
}

/// Whether an apply_schema, plan_schema or tenant_table call is under way in this backend.
static IN_CALL: AtomicBool = AtomicBool::new(false);

/// Runs `f`, one apply_schema, plan_schema or tenant_table call, refusing (55000) one made while
/// another is under way in this session — from a function a payload's expression calls, at any
/// point of the outer call: its planning (a check's violations counted, a default's rows), its
/// statements, its verification. A nested call during the outer one's planning ran, committed its
/// ledger row with the outer transaction and left its changes (the review of the stop 48 change,
/// M1: a nested apply's grants kept after the outer one failed; `planned` after a nested apply);
/// a nested plan's rehearsal answered with a rehearsal error (the review of 523b683, F7); and
/// `tenant_table`, which does not go through `run_jsonb`, answered `noop` (M3). Cleared when `f`
/// returns or fails (an error caught by the caller included) and at every transaction end.
pub fn one_call<R>(f: impl FnOnce() -> R) -> R {
    register_callbacks();
    if NO_CALLS.load(Ordering::Relaxed) {
        nested_refused_in(
            "revos's deferred worker (from a function a deferred step's statement calls)",
        );
    }
    if IN_CALL.swap(true, Ordering::Relaxed) || WATCHING.load(Ordering::Relaxed) {
        nested_refused();
    }
    pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .finally(|| IN_CALL.store(false, Ordering::Relaxed))
        .execute()
}

/// Set for good in a process that makes no call of its own: the deferred worker, whose steps run
/// the payload's expressions (a check's during `VALIDATE`) outside any call (the review of the
/// stop 48 change, F4: an apply_schema there ran and committed).
static NO_CALLS: AtomicBool = AtomicBool::new(false);

/// Refuses every apply_schema, plan_schema and tenant_table call in this process from now on.
pub fn refuse_calls_in_this_process() {
    NO_CALLS.store(true, Ordering::Relaxed);
}

fn nested_refused_in(place: &str) -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!("revos: apply_schema, plan_schema or tenant_table called in {place}: refused"),
        "Call revos's functions one after another, never from a payload's expressions."
    );
}

fn nested_refused() {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        "revos: apply_schema, plan_schema or tenant_table called while another revos call is under way in this session (from a function a payload's expression calls): refused",
        "Call revos's functions one after another, never from a payload's expressions."
    );
}

/// Whether an apply's statements are under way (the gate notes foreign DDL only then).
pub fn watching() -> bool {
    WATCHING.load(Ordering::Relaxed)
}

/// The gate, at the start of a DDL command that is not revos's own and that the capture records:
/// keeps the first one's tag.
pub fn note_foreign_ddl(tag: &str) {
    FOREIGN_DDL.with(|f| {
        f.borrow_mut().get_or_insert_with(|| tag.to_string());
    });
}

/// The tag of the first DDL command not revos's own since [`watch_foreign_ddl`], if any ran
/// (rolled back or not: a function's DDL caught by its own EXCEPTION block counts too).
pub fn foreign_ddl() -> Option<String> {
    FOREIGN_DDL.with(|f| f.borrow().clone())
}

/// The token: the next command started at depth `OWN_DEPTH` is revos's own.
static OWN_NEXT: AtomicBool = AtomicBool::new(false);
static OWN_DEPTH: AtomicU32 = AtomicU32::new(0);
/// While `own_call` runs: every command started at depth >= `DEEP_DEPTH` is revos's own.
static DEEP: AtomicBool = AtomicBool::new(false);
static DEEP_DEPTH: AtomicU32 = AtomicU32::new(0);
/// `own_toplevel_statement`: the next command started at depth 0 is revos's own (armed), and
/// then is under way (own) until `f` returns — across the commits it makes itself, which empty
/// the frame stack. Not cleared at transaction end, unlike the token above.
static TOPLEVEL_ARMED: AtomicBool = AtomicBool::new(false);
static TOPLEVEL_OWN: AtomicBool = AtomicBool::new(false);

fn depth() -> u32 {
    prune();
    FRAMES.with(|f| f.borrow().len() as u32)
}

/// Forgets a frame carried over a commit once its statement is over (a command whose end never
/// fired must not stay under way for the statements after it).
fn prune() {
    let now = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    FRAMES.with(|f| f.borrow_mut().retain(|x| !x.carried || x.stmt == now));
}

/// Runs `f` (the gate's call of its worker) with `actor` as the role that ran the DDL.
pub fn with_gate_actor<R>(actor: String, f: impl FnOnce() -> R) -> R {
    GATE_ACTOR.with(|a| *a.borrow_mut() = Some(actor));
    pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .finally(|| GATE_ACTOR.with(|a| *a.borrow_mut() = None))
        .execute()
}

/// Runs `f`, which executes exactly one statement of revos's own (a planned step, a shadow): the
/// DDL command that statement is, and only that one, is not drift.
pub fn own_statement<R>(f: impl FnOnce() -> R) -> R {
    register_callbacks();
    OWN_DEPTH.store(depth(), Ordering::Relaxed);
    OWN_NEXT.store(true, Ordering::Relaxed);
    pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .finally(|| OWN_NEXT.store(false, Ordering::Relaxed))
        .execute()
}

/// Runs `f`, which executes exactly one statement of revos's own at the top level of revos's
/// deferred worker (`deferred::exec`): that command is not drift, even when it commits and starts
/// transactions while it runs (`CREATE INDEX CONCURRENTLY`, `DROP INDEX CONCURRENTLY`), which
/// empties the frame stack; any other command, nested in it or not, is captured.
pub fn own_toplevel_statement<R>(f: impl FnOnce() -> R) -> R {
    register_callbacks();
    TOPLEVEL_OWN.store(false, Ordering::Relaxed);
    TOPLEVEL_ARMED.store(true, Ordering::Relaxed);
    pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .finally(|| {
            TOPLEVEL_ARMED.store(false, Ordering::Relaxed);
            TOPLEVEL_OWN.store(false, Ordering::Relaxed);
        })
        .execute()
}

/// Runs `f`, a call of a trusted function (never the caller's) whose every DDL command is revos's
/// own: Citus's distribution functions.
pub fn own_call<R>(f: impl FnOnce() -> R) -> R {
    register_callbacks();
    DEEP_DEPTH.store(depth(), Ordering::Relaxed);
    DEEP.store(true, Ordering::Relaxed);
    pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .finally(|| DEEP.store(false, Ordering::Relaxed))
        .execute()
}

/// `ddl_command_start`: pushes the command's frame; true when it is revos's own.
pub fn command_started() -> bool {
    register_callbacks();
    let d = depth();
    let token = OWN_NEXT.load(Ordering::Relaxed) && OWN_DEPTH.load(Ordering::Relaxed) == d;
    if token {
        OWN_NEXT.store(false, Ordering::Relaxed);
    }
    let top = d == 0 && TOPLEVEL_ARMED.swap(false, Ordering::Relaxed);
    if top {
        TOPLEVEL_OWN.store(true, Ordering::Relaxed);
    }
    let own =
        token || top || (DEEP.load(Ordering::Relaxed) && d >= DEEP_DEPTH.load(Ordering::Relaxed));
    let subxact = unsafe { pg_sys::GetCurrentSubTransactionId() };
    let actor = crate::privilege::current_user_name();
    let stmt = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    FRAMES.with(|f| {
        f.borrow_mut().push(Frame {
            own,
            subxact,
            actor,
            snapshot: None,
            stmt,
            carried: false,
        })
    });
    own
}

/// `sql_drop`: whether the command under way is revos's own. No frame left while a top-level
/// statement of revos's own runs: its own commits emptied the stack, and it is the command.
pub fn command_is_own() -> bool {
    prune();
    FRAMES.with(|f| match f.borrow().last() {
        Some(x) => x.own,
        None => TOPLEVEL_OWN.load(Ordering::Relaxed),
    })
}

/// `ddl_command_end`: pops the command's frame; true when it was revos's own.
pub fn command_ended() -> bool {
    prune();
    FRAMES.with(|f| match f.borrow_mut().pop() {
        Some(x) => x.own,
        None => TOPLEVEL_OWN.load(Ordering::Relaxed),
    })
}

fn register_callbacks() {
    if CALLBACKS.swap(true, Ordering::Relaxed) {
        return;
    }
    unsafe {
        pg_sys::RegisterXactCallback(Some(xact_callback), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(subxact_callback), std::ptr::null_mut());
    }
}

unsafe extern "C-unwind" fn xact_callback(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    // Any end of the transaction (commit, abort, prepare) ends a phase and every command — but a
    // commit made inside the one top-level command under way (a CONCURRENTLY form; a command ends,
    // and pops its frame, before any other commit), which goes on in the next transaction.
    PHASE.store(Phase::Idle as u8, Ordering::Relaxed);
    WATCHING.store(false, Ordering::Relaxed);
    IN_CALL.store(false, Ordering::Relaxed);
    let commit = event == pg_sys::XactEvent::XACT_EVENT_PRE_COMMIT
        || event == pg_sys::XactEvent::XACT_EVENT_COMMIT;
    FRAMES.with(|f| {
        let mut frames = f.borrow_mut();
        match frames.as_mut_slice() {
            [top] if commit => {
                top.carried = true;
                top.subxact = 1; // TopSubTransactionId: the next transaction's
            }
            _ => frames.clear(),
        }
    });
    OWN_NEXT.store(false, Ordering::Relaxed);
    DEEP.store(false, Ordering::Relaxed);
}

unsafe extern "C-unwind" fn subxact_callback(
    event: pg_sys::SubXactEvent::Type,
    my_subid: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    if event != pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        return;
    }
    if my_subid <= PHASE_SUBXACT.load(Ordering::Relaxed) {
        PHASE.store(Phase::Idle as u8, Ordering::Relaxed);
    }
    // Commands started in the aborted subtransaction (or a later one) end with it.
    FRAMES.with(|f| f.borrow_mut().retain(|x| x.subxact < my_subid));
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.writing_ledger() RETURNS boolean
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.writing_ledger() IS
    'Internal (revos''s triggers): true while revos itself inserts its schema_migrations row.';
"#)]
pub fn writing_ledger() -> bool {
    phase() == Phase::Ledger
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.drift_paused() RETURNS boolean
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.drift_paused() IS
    'Internal (drift capture): true while the DDL command under way is one of revos''s own planned statements, after this session restored ledger rows, or on a Citus worker.';
"#)]
pub fn drift_paused() -> bool {
    command_is_own() || RESTORED.load(Ordering::Relaxed) || crate::citus::metadata::citus_worker()
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.drift_frame_snapshot(snapshot text) RETURNS text
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.drift_frame_snapshot(text) IS
    'Internal (drift capture): sets (non-NULL) or reads (NULL) the snapshot of the DDL command under way, kept in backend memory.';
"#)]
pub fn drift_frame_snapshot(snapshot: Option<&str>) -> Option<String> {
    prune();
    FRAMES.with(|f| {
        let mut frames = f.borrow_mut();
        let top = frames.last_mut()?;
        if let Some(s) = snapshot {
            top.snapshot = Some(s.to_string());
        }
        top.snapshot.clone()
    })
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.drift_actor() RETURNS text
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.drift_actor() IS
    'Internal (drift capture): the role whose privileges run the DDL command under way.';
"#)]
pub fn drift_actor() -> String {
    prune();
    FRAMES
        .with(|f| f.borrow().last().map(|x| x.actor.clone()))
        .or_else(|| GATE_ACTOR.with(|a| a.borrow().clone()))
        .unwrap_or_else(crate::privilege::current_user_name)
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.note_restore() RETURNS void
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.note_restore() IS
    'Internal (ledger triggers): this session inserted ledger rows revos did not write (a restore).';
"#)]
pub fn note_restore() {
    RESTORED.store(true, Ordering::Relaxed);
}
