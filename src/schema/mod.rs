//! The declarative pipeline: a JSON schema in, a plan of SQL steps out, and the check that the
//! catalog matches it afterwards. Pure Rust: no SPI, no pgrx; questions only Postgres can answer
//! go through the [`model::Catalog`] trait, which `apply::pg_catalog` implements and the unit
//! tests answer from memory (`cargo test --lib` runs all of it without a server).
//!
//! ```text
//! spec (read JSON) -> normalize -> validate (+ Catalog) -> evolve -> plan (SQL) -> [apply] -> verify
//!                                                                    compare: what "matches" means
//! ```
//!
//! May call: `crate::error`, `crate::ident` and the modules of this folder. Never `apply`,
//! `ledger`, `citus` or `api` (the `layering` test fails on it).

pub mod additions;
pub mod argument;
pub mod canonical;
pub mod catalog;
pub mod children;
pub mod compare;
pub mod derived_names;
pub mod differences;
pub mod evolve;
pub mod grants;
pub mod jsonb_text;
pub mod locate;
pub mod membership;
pub mod model;
pub mod normalize;
pub mod objects;
pub mod online;
pub mod own_columns;
pub mod plan;
pub mod plan_hash;
pub mod plan_text;
pub mod properties;
pub mod serial;
pub mod spec;
pub mod steps;
pub mod suggest;
pub mod tenancy;
pub mod trigger_firing;
pub mod trusted_names;
pub mod validate;
pub mod verify;
pub mod versions;

#[cfg(test)]
mod additions_tests;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod membership_tests;
#[cfg(test)]
mod partition_trigger_tests;
#[cfg(test)]
mod serial_tests;
