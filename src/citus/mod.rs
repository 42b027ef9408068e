//! Citus (contract §13): the same schema placed on a Citus cluster — the mode, the keys and
//! policy Citus accepts, the distribution steps and the placement check (pure, `distribute`) —
//! what the database says about Citus (SPI, `metadata`), and tenant routing: the planner and
//! executor hooks that send a tenant's queries to its shard (`route`).
//!
//! May call: `crate::schema`, `crate::privilege`, `crate::error`, `crate::ident`. Never `apply`,
//! `ledger` or `api`.

pub mod distribute;
pub mod in_place;
pub mod metadata;
pub mod route;
pub mod state;
