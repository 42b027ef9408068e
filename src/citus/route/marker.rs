//! The tenant a routed plan was made for, and what keeps a plan from running for another tenant.
//!
//! A routed plan holds the tenant as a constant (Citus chose the shard from it). The plan cache
//! keeps generic plans (a prepared statement without parameters always runs its generic plan), so
//! a plan made for tenant A must never be reused once the tenant is B:
//!
//! * **Invalidation**: revos defines `app.current_tenant_id` (until then a placeholder) with an
//!   assign hook. PostgreSQL calls it on every change of the value — `SET`, `SET LOCAL`,
//!   `set_config()`, `RESET`, a function's `SET` clause, the end of a (sub)transaction putting the
//!   old value back. When the value changes and routed plans exist, every routed plan is marked
//!   invalid (each carries a `PROCOID` dependency with [`ROUTE_HASH`]; `CallSyscacheCallbacks`
//!   runs the plan cache's own invalidation for that item), so its next use plans again, for the
//!   new tenant.
//! * **Check**: the plan carries the tenant's bytes (items with cache id [`MARK`], which no cache
//!   callback ever matches); `ExecutorStart` and `ExecutorRun` refuse a plan whose tenant is not
//!   the current one (a portal bound for one tenant and run after the tenant changed).

use std::ffi::{c_char, c_void, CStr};

use pgrx::pg_sys;
use pgrx::prelude::*;

/// `app.current_tenant_id`, once revos defines it (PostgreSQL keeps the value here).
static mut TENANT: *mut c_char = std::ptr::null_mut();

/// Set when a routed plan was made, cleared when they were all invalidated.
static mut ROUTED_PLANS: bool = false;

/// The invalidation item every routed plan carries: `(PROCOID, ROUTE_HASH)`. Any nonzero value
/// (0 means "every entry"); a function whose OID hashes to it would be replanned too, harmlessly.
pub const ROUTE_HASH: u32 = 0x5245_564f;

/// The cache id of the items that carry the tenant's bytes: no syscache has a negative id, so no
/// invalidation ever matches them.
pub const MARK: i32 = -0x5256;

/// The longest tenant a plan is routed for (set_tenant() allows 200 characters).
const MAX_TENANT: usize = 1024;

/// Defines `app.current_tenant_id` as revos's own string setting with the assign hook (any value
/// already set — a placeholder's, `SET LOCAL`s included — carries over). False when another
/// module already defines it: then no routing (without the hook a change could go unseen).
pub unsafe fn define_tenant_setting() -> bool {
    let name = c"app.current_tenant_id";
    let flags = pg_sys::GetConfigOptionFlags(name.as_ptr(), true);
    let placeholder = flags & pg_sys::GUC_CUSTOM_PLACEHOLDER as i32 != 0;
    if !placeholder && !pg_sys::GetConfigOption(name.as_ptr(), true, false).is_null() {
        return false;
    }
    pg_sys::DefineCustomStringVariable(
        name.as_ptr(),
        c"The tenant of this transaction (revos.set_tenant() sets it with SET LOCAL).".as_ptr(),
        c"Read by revos.current_tenant_id(); revos routes tenant queries on Citus by it.".as_ptr(),
        &raw mut TENANT,
        std::ptr::null(),
        pg_sys::GucContext::PGC_USERSET,
        pg_sys::GUC_NOT_IN_SAMPLE as i32,
        None,
        Some(assign_tenant),
        None,
    );
    true
}

unsafe fn bytes<'a>(p: *const c_char) -> &'a [u8] {
    if p.is_null() {
        &[]
    } else {
        CStr::from_ptr(p).to_bytes()
    }
}

/// The tenant to route for: `app.current_tenant_id` when set (then it is exactly what
/// `revos.current_tenant_id()` returns; the JWT claims are read only when it is empty).
pub fn current_tenant() -> Option<Vec<u8>> {
    let t = unsafe { bytes(TENANT) };
    (!t.is_empty() && t.len() <= MAX_TENANT).then(|| t.to_vec())
}

#[pg_guard]
unsafe extern "C-unwind" fn assign_tenant(newval: *const c_char, _extra: *mut c_void) {
    // Called before PostgreSQL stores the new value: TENANT is still the old one. No catalog
    // access and nothing that can fail: the plan cache's callback only marks plans invalid.
    if ROUTED_PLANS && bytes(TENANT) != bytes(newval) {
        invalidate_routed_plans();
    }
}

/// Marks every routed plan of this backend invalid: its next use plans again.
pub fn invalidate_routed_plans() {
    unsafe {
        pg_sys::CallSyscacheCallbacks(pg_sys::SysCacheIdentifier::PROCOID as i32, ROUTE_HASH);
        ROUTED_PLANS = false;
    }
}

unsafe fn item(cache_id: i32, value: u32) -> *mut c_void {
    let it =
        pg_sys::palloc0(std::mem::size_of::<pg_sys::PlanInvalItem>()) as *mut pg_sys::PlanInvalItem;
    (*it).type_ = pg_sys::NodeTag::T_PlanInvalItem;
    (*it).cacheId = cache_id;
    (*it).hashValue = value;
    it.cast()
}

/// The words that carry `tenant` in a plan: its length, then its bytes four at a time.
pub fn encode(tenant: &[u8]) -> Vec<u32> {
    let mut words = vec![tenant.len() as u32];
    words.extend(tenant.chunks(4).map(|c| {
        let mut w = [0u8; 4];
        w[..c.len()].copy_from_slice(c);
        u32::from_le_bytes(w)
    }));
    words
}

/// The tenant back from [`encode`]'s words; None when they are not a whole encoding.
pub fn decode(words: &[u32]) -> Option<Vec<u8>> {
    let (&len, rest) = words.split_first()?;
    let len = len as usize;
    if rest.len() != len.div_ceil(4) {
        return None;
    }
    let mut out: Vec<u8> = rest.iter().flat_map(|w| w.to_le_bytes()).collect();
    out.truncate(len);
    Some(out)
}

/// Records in `stmt` that it was routed for `tenant`.
pub unsafe fn mark(stmt: *mut pg_sys::PlannedStmt, tenant: &[u8]) {
    let mut items = (*stmt).invalItems;
    items = pg_sys::lappend(
        items,
        item(pg_sys::SysCacheIdentifier::PROCOID as i32, ROUTE_HASH),
    );
    for w in encode(tenant) {
        items = pg_sys::lappend(items, item(MARK, w));
    }
    (*stmt).invalItems = items;
    ROUTED_PLANS = true;
}

/// The tenant `stmt` was routed for, if it was.
pub unsafe fn routed_for(stmt: *mut pg_sys::PlannedStmt) -> Option<Vec<u8>> {
    if stmt.is_null() {
        return None;
    }
    let list = (*stmt).invalItems;
    if list.is_null() {
        return None;
    }
    let mut words = vec![];
    for i in 0..(*list).length as usize {
        let it = (*(*list).elements.add(i)).ptr_value as *mut pg_sys::PlanInvalItem;
        if (*it).cacheId == MARK {
            words.push((*it).hashValue);
        }
    }
    if words.is_empty() {
        return None;
    }
    // A plan whose marker cannot be read is treated as routed for no tenant: refused.
    Some(decode(&words).unwrap_or_default())
}

/// Refuses to run a plan routed for a tenant other than the current one.
pub unsafe fn check(stmt: *mut pg_sys::PlannedStmt) {
    let Some(planned) = routed_for(stmt) else {
        return;
    };
    if current_tenant().as_deref() != Some(planned.as_slice()) {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "revos: this statement was routed to the shard of another tenant than the current one",
            "The tenant (app.current_tenant_id) changed after the statement was planned or started; run it again."
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_round_trip_through_plan_words() {
        for t in [
            &b""[..],
            b"a",
            b"abcd",
            b"abcde",
            b"00000000-0000-4000-8000-000000000001",
            "tenant-\u{e9}".as_bytes(),
        ] {
            let w = encode(t);
            assert_eq!(w[0] as usize, t.len());
            assert_eq!(decode(&w).as_deref(), Some(t));
        }
        // a word missing or one too many is no encoding
        let w = encode(b"abcdefg");
        assert_eq!(decode(&w[..w.len() - 1]), None);
        assert_eq!(decode(&[w.clone(), vec![0]].concat()), None);
        assert_eq!(decode(&[]), None);
    }
}
