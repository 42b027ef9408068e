//! revos — declarative, tenant-aware schema changes inside PostgreSQL.
//!
//! The pipeline, one module per stage (everything before `apply` is plain Rust, tested by
//! `cargo test` without a server):
//!
//! ```text
//! spec (read JSON) -> normalize -> validate (+ Catalog) -> evolve -> plan (SQL) -> apply (SPI, ledger)
//! ```
//!
//! `api` is the thin `#[pg_extern]` layer that Postgres calls.

pub mod canonical;
pub mod compare;
pub mod distribute;
pub mod error;
pub mod evolve;
pub mod ident;
pub mod model;
pub mod normalize;
pub mod plan;
pub mod spec;
pub mod validate;
pub mod verify;

#[cfg(test)]
mod fuzz;

/// A V1 C function taking the raw `fcinfo` (triggers and event triggers that return a tuple or
/// nothing, which `#[pg_extern]` cannot declare): `$finfo` and `$name` are the exported symbols,
/// `$body` an `unsafe fn(FunctionCallInfo) -> Datum` run under pgrx's error guard.
#[macro_export]
macro_rules! v1_c_function {
    ($finfo:ident, $name:ident, $body:path) => {
        #[no_mangle]
        #[doc(hidden)]
        pub extern "C" fn $finfo() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
            const V1: ::pgrx::pg_sys::Pg_finfo_record =
                ::pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }

        /// # Safety
        /// Called by PostgreSQL with a valid `fcinfo`.
        #[no_mangle]
        #[doc(hidden)]
        pub unsafe extern "C-unwind" fn $name(
            fcinfo: ::pgrx::pg_sys::FunctionCallInfo,
        ) -> ::pgrx::pg_sys::Datum {
            ::pgrx::pg_sys::submodules::panic::pgrx_extern_c_guard(move || unsafe { $body(fcinfo) })
        }
    };
}

pub mod api;
pub mod apply;
pub mod drift_gate;
pub mod event_chain;
pub mod event_hash;
pub mod log_event;
pub mod verify_chains;

::pgrx::pg_module_magic!(name, version);

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
