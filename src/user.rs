//! `revos.current_user_id()` (issue 25, the membership tenancy mode): the user a request acts
//! as — `request.jwt.claim.sub`, else the `sub` claim of `request.jwt.claims` (PostgREST's two
//! ways of passing a JWT); empty strings count as unset, claims that are not JSON too. NULL when
//! unset. C, like `revos.current_tenant_id()`: no SQL, no name resolution, never an error
//! (PARALLEL SAFE; every membership policy calls it).

use pgrx::pg_sys;
use std::ffi::CStr;

crate::v1_c_function!(
    pg_finfo_current_user_id_wrapper,
    current_user_id_wrapper,
    current_user_id
);

unsafe fn current_user_id(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    match current_user() {
        Some(u) => pg_sys::Datum::from(pg_sys::cstring_to_text_with_len(
            u.as_ptr().cast(),
            u.len() as i32,
        )),
        None => {
            (*fcinfo).isnull = true;
            pg_sys::Datum::from(0usize)
        }
    }
}

/// A setting's value, None when unset or empty.
unsafe fn setting(name: &CStr) -> Option<Vec<u8>> {
    let v = pg_sys::GetConfigOption(name.as_ptr(), true, false);
    (!v.is_null())
        .then(|| CStr::from_ptr(v).to_bytes().to_vec())
        .filter(|v| !v.is_empty())
}

unsafe fn current_user() -> Option<Vec<u8>> {
    setting(c"request.jwt.claim.sub").or_else(|| {
        let claims = setting(c"request.jwt.claims")?;
        crate::schema::tenancy::claims_user(std::str::from_utf8(&claims).ok()?)
            .map(String::into_bytes)
    })
}
