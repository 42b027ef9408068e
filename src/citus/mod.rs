//! Citus (contract §13): the same schema placed on a Citus cluster — the mode, the keys and
//! policy Citus accepts, the distribution steps (pure, `distribute`) — and the placement check
//! after apply.
//!
//! May call: `crate::schema`, `crate::error`, `crate::ident`. Never `apply`, `ledger` or `api`.

pub mod distribute;
