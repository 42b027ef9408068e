//! revos — declarative, tenant-aware schema changes inside PostgreSQL.
//!
//! One folder per subsystem; a module may call only the ones below it:
//!
//! ```text
//! api            the #[pg_extern] SQL surface (thin)
//!  ├ apply/      running a plan inside the caller's transaction (SPI)
//!  ├ ledger/     the event ledger and drift capture, in C (Rust)
//!  └ citus/      placement on a Citus cluster and the placement check
//! schema/        the declarative pipeline, pure Rust (no SPI): spec -> normalize -> validate ->
//!                evolve -> plan -> compare/verify; `cargo test --lib` runs it without a server
//! error, ident   the base every module uses: issues and SQLSTATEs, checked identifiers
//! ```

pub mod error;
pub mod ident;
pub mod schema;

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
pub mod citus;
pub mod ledger;

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
