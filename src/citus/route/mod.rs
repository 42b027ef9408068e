//! Tenant routing on Citus (contract §13, issue 22): a tenant's query on revos's distributed
//! tenant tables goes to that tenant's shard without `tenant_id` in the query.
//!
//! Citus prunes shards only on `distribution column = constant` (or an external parameter) in the
//! query; the tenant policy `tenant_id = revos.current_tenant_id()::T` reaches it as a function
//! call among the row-security quals, so every query fans out to every shard (citusdata/citus#6712,
//! #7415; Citus 13.2.2 evaluates only parameters, not stable functions, before pruning a SELECT:
//! `CitusBeginReadOnlyScan`, "TODO: evaluate stable functions").
//!
//! ```text
//! planner hook (before Citus's)                       executor hooks
//!  relation with revos's policy among its security     a plan that carries a tenant runs only
//!  quals, hash-distributed by that column  ──────────>  while app.current_tenant_id is that tenant
//!  + the policy's own comparison with the value
//!    current_tenant_id() has now (a constant)          app.current_tenant_id (revos's GUC)
//!  Citus prunes on it: Task Count 1                     any change invalidates every routed plan
//! ```
//!
//! * [`rewrite`]: which relations, which qual, where in the join tree (pure tree work).
//! * [`relations`]: whether a relation is hash-distributed by that column (pg_dist_partition,
//!   read once per relation, forgotten on relcache invalidation).
//! * [`marker`]: the tenant a plan was made for, kept in the plan (copied with it by the plan
//!   cache); the invalidation of routed plans when the tenant changes; the check before a plan runs.
//!
//! Installed by `_PG_init` only where Citus is loaded (its settings exist): on one node nothing of
//! this runs. docs/security.md lists what it reads and what pins it.

pub mod marker;
pub mod relations;
pub mod rewrite;

use std::ffi::{c_char, c_int};

use pgrx::pg_sys;
use pgrx::prelude::*;

static mut PREV_PLANNER: pg_sys::planner_hook_type = None;
static mut PREV_EXECUTOR_START: pg_sys::ExecutorStart_hook_type = None;
static mut PREV_EXECUTOR_RUN: pg_sys::ExecutorRun_hook_type = None;

/// `revos.tenant_routing` (default on): off plans every query as Citus alone would. A user may
/// turn it off for their session: routing only ever narrows which shards are asked.
static mut ENABLED: bool = true;

/// Planner calls under way for a statement that is not routed (an INSERT, MERGE, a data-modifying
/// CTE): the planner calls Citus makes inside them (the SELECT of an INSERT … SELECT) are not
/// routed either.
static mut NOT_ROUTED_DEPTH: u32 = 0;

/// Whether the hooks are installed in this process (Citus is loaded and revos owns the setting).
static mut INSTALLED: bool = false;

/// Installs the routing hooks when Citus is loaded in this process; called from `_PG_init`.
/// Citus must come first (`shared_preload_libraries = 'citus,revos'`): revos's planner hook then
/// runs before Citus's `distributed_planner` and hands it the query with the tenant's equality.
pub fn init() {
    unsafe {
        if INSTALLED || !citus_loaded() || !marker::define_tenant_setting() {
            return;
        }
        pg_sys::DefineCustomBoolVariable(
            c"revos.tenant_routing".as_ptr(),
            c"Route a tenant's queries on revos's distributed tables to that tenant's shard (Citus)."
                .as_ptr(),
            c"Off: every query is planned as Citus alone plans it (all shards). Never changes which rows a query returns."
                .as_ptr(),
            &raw mut ENABLED,
            true,
            pg_sys::GucContext::PGC_USERSET,
            0,
            None,
            None,
            None,
        );
        relations::register_invalidation();
        PREV_PLANNER = pg_sys::planner_hook;
        pg_sys::planner_hook = Some(planner);
        PREV_EXECUTOR_START = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start);
        PREV_EXECUTOR_RUN = pg_sys::ExecutorRun_hook;
        pg_sys::ExecutorRun_hook = Some(executor_run);
        INSTALLED = true;
    }
}

/// Citus defines its settings when its library loads: one of them exists exactly when Citus is
/// loaded in this process. (A read of the GUC table: no SQL, no catalog.)
unsafe fn citus_loaded() -> bool {
    !pg_sys::GetConfigOption(c"citus.propagate_set_commands".as_ptr(), true, false).is_null()
}

#[pg_guard]
unsafe extern "C-unwind" fn planner(
    parse: *mut pg_sys::Query,
    query_string: *const c_char,
    cursor_options: c_int,
    bound_params: pg_sys::ParamListInfo,
) -> *mut pg_sys::PlannedStmt {
    let prev = || match PREV_PLANNER {
        Some(prev) => prev(parse, query_string, cursor_options, bound_params),
        None => pg_sys::standard_planner(parse, query_string, cursor_options, bound_params),
    };
    if !ENABLED || NOT_ROUTED_DEPTH > 0 {
        return prev();
    }
    if !rewrite::routable(parse) {
        NOT_ROUTED_DEPTH += 1;
        return PgTryBuilder::new(prev)
            .finally(|| NOT_ROUTED_DEPTH -= 1)
            .execute();
    }
    // Only a query the rewriter applied row security to can hold revos's policy.
    if !(*parse).hasRowSecurity {
        return prev();
    }
    let tenant = marker::current_tenant();
    let routed = tenant.is_some() && rewrite::route(parse) > 0;
    let stmt = prev();
    if let (true, Some(t)) = (routed, tenant) {
        marker::mark(stmt, &t);
    }
    stmt
}

#[pg_guard]
unsafe extern "C-unwind" fn executor_start(query_desc: *mut pg_sys::QueryDesc, eflags: c_int) {
    marker::check((*query_desc).plannedstmt);
    match PREV_EXECUTOR_START {
        Some(prev) => prev(query_desc, eflags),
        None => pg_sys::standard_ExecutorStart(query_desc, eflags),
    }
}

#[cfg(any(feature = "pg15", feature = "pg16", feature = "pg17"))]
#[pg_guard]
unsafe extern "C-unwind" fn executor_run(
    query_desc: *mut pg_sys::QueryDesc,
    direction: pg_sys::ScanDirection::Type,
    count: u64,
    execute_once: bool,
) {
    marker::check((*query_desc).plannedstmt);
    match PREV_EXECUTOR_RUN {
        Some(prev) => prev(query_desc, direction, count, execute_once),
        None => pg_sys::standard_ExecutorRun(query_desc, direction, count, execute_once),
    }
}

#[cfg(feature = "pg18")]
#[pg_guard]
unsafe extern "C-unwind" fn executor_run(
    query_desc: *mut pg_sys::QueryDesc,
    direction: pg_sys::ScanDirection::Type,
    count: u64,
) {
    marker::check((*query_desc).plannedstmt);
    match PREV_EXECUTOR_RUN {
        Some(prev) => prev(query_desc, direction, count),
        None => pg_sys::standard_ExecutorRun(query_desc, direction, count),
    }
}
