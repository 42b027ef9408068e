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

pub mod api;
pub mod apply;
pub mod drift_gate;
pub mod event_chain;
pub mod event_hash;
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
