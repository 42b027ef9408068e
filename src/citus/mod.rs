//! Citus (contract §13): the same schema placed on a Citus cluster — the mode, the keys and
//! policy Citus accepts, the distribution steps and the placement check (pure, `distribute`) —
//! and what the database says about Citus (SPI, `metadata`).
//!
//! May call: `crate::schema`, `crate::error`, `crate::ident`. Never `apply`, `ledger` or `api`.

pub mod distribute;
pub mod metadata;
