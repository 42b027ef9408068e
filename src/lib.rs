//! revos — declarative, tenant-aware schema changes inside PostgreSQL.
//!
//! One folder per subsystem. A module may call only those below it in this list, and no module
//! imports another that imports it back (both checked by `layering`, a unit test):
//!
//! ```text
//! api            the #[pg_extern] SQL surface (thin)
//! apply/         running a plan inside the caller's transaction (SPI): lock, DDL, verify, ledger row
//! deferred/      the steps of an online apply run after its commit by revos's background worker
//! dependencies   what the objects apply and the deferred worker leave may depend on (SPI)
//! ledger/        the event ledger and drift capture, in C (Rust); who is writing (apply's phases)
//! citus/         placement on a Citus cluster (pure) and what the database says about Citus (SPI)
//! schema/        the declarative pipeline, pure Rust (no SPI): spec -> normalize -> validate ->
//!                evolve -> plan -> compare/verify; `cargo test --lib` runs it without a server
//! tenant         set_tenant: the transaction's tenant, checked against the tenant tables
//! user, tenant_ids  current_user_id / current_tenant_ids: who a request is, which tenants it has
//! privilege      how revos acts: the pinned search_path, another role (docs/security.md)
//! invalidation   revos's one relcache callback, shared by its caches of catalog answers
//! ident, error   the base every module uses: checked identifiers, issues and SQLSTATEs
//! ```

pub mod error;
pub mod ident;
pub mod invalidation;
pub mod privilege;
pub mod schema;
pub mod tenant;
pub mod tenant_ids;
pub mod user;

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
pub mod deferred;
pub mod dependencies;
pub mod ledger;

#[cfg(test)]
mod layering;

::pgrx::pg_module_magic!(name, version);

/// Runs once in each process that loads revos.so: `shared_preload_libraries = 'citus,revos'`
/// (the postmaster, inherited by every backend), `session_preload_libraries`, or the first call of
/// one of revos's C functions. Installs tenant routing where Citus is loaded (`citus::route`).
#[::pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    citus::route::init();
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
