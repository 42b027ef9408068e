//! The event ledger's C-level code (its SQL is sql/ledger.sql) and the drift capture's gate:
//! `revos.log_event`, the chain trigger of `revos.events`, the event hash, `verify_ledger`'s pass,
//! and who is writing (the phases revos's own SQL trusts, set around apply's DDL and ledger row).
//!
//! May call: `crate::schema`, `crate::citus` (is this node a Citus worker), `crate::error`,
//! `crate::ident`. Never `apply` or `api`.

pub mod chain_head;
pub mod direct_insert;
pub mod drift_begun;
pub mod drift_gate;
pub mod event_chain;
pub mod event_hash;
pub mod fork_guard;
pub mod hash_worker;
pub mod index_scan;
pub mod jsonb_out;
pub mod log_event;
pub mod readahead;
pub mod verify_chains;
pub mod writer;
pub mod written_by_revos;
