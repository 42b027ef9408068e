//! `revos.current_tenant_ids()` (issue 25, the claims tenancy mode): the tenants a request acts
//! for — the JWT claim array `tenant_ids` of `request.jwt.claims` (top level, else
//! `app_metadata.tenant_ids`), each element as `->>` reads it; without such an array the one
//! tenant of `revos.current_tenant_id()` (`set_tenant`, the `tenant_id` claim); else an empty
//! array. What it answers is decided by `schema::tenancy::tenant_ids` (pure, unit-tested). C,
//! like `revos.current_tenant_id()`: no SQL, no name resolution, never an error (PARALLEL SAFE;
//! every tenant policy of the claims mode calls it).

use pgrx::pg_sys;
use std::ffi::CStr;

crate::v1_c_function!(
    pg_finfo_current_tenant_ids_wrapper,
    current_tenant_ids_wrapper,
    current_tenant_ids
);

unsafe fn current_tenant_ids(_fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let v = pg_sys::GetConfigOption(c"request.jwt.claims".as_ptr(), true, false);
    let claims = (!v.is_null())
        .then(|| CStr::from_ptr(v).to_str().ok())
        .flatten();
    let ids = crate::schema::tenancy::tenant_ids(claims, || {
        let t = crate::ledger::log_event::current_tenant()?;
        String::from_utf8(t).ok()
    });
    text_array(&ids)
}

/// A `text[]` of `items` (one dimension, lower bound 1; `{}` when there are none).
unsafe fn text_array(items: &[String]) -> pg_sys::Datum {
    let mut elems: Vec<pg_sys::Datum> = items
        .iter()
        .map(|s| {
            pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
                s.as_ptr().cast(),
                s.len() as i32,
            ))
        })
        .collect();
    let a = pg_sys::construct_array(
        elems.as_mut_ptr(),
        elems.len() as i32,
        pg_sys::TEXTOID,
        -1,
        false,
        pg_sys::TYPALIGN_INT as std::ffi::c_char,
    );
    pg_sys::Datum::from(a)
}
