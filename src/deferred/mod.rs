//! Deferred steps (contract §14): what an online apply cannot run in the caller's transaction
//! (`CREATE INDEX CONCURRENTLY`) or runs better in a transaction of its own (`VALIDATE
//! CONSTRAINT`, the `SET NOT NULL` a validated check proves), run after the commit by revos itself.
//!
//! ```text
//! apply_schema (caller's transaction)                 revos deferred worker (after the commit)
//!   launch::start  (a dynamic background worker) ──────> connects as the role that applied
//!   online forms in the transaction                      waits for the apply lock (= the commit)
//!   store::record -> revos.deferred_steps (pending)      one worker per role: session lock
//!   envelope: applied, `pending` steps                   orphans (running, worker gone): cleaned, again
//!                                                        each pending step, in order:
//!                                                          running -> its SQL at top level
//!                                                            (a backfill: its batches) -> check
//!                                                          -> done | failed (+ cleanup, chain skipped)
//! revos.deferred_status(): pending / running / done / failed, and a worker started when needed
//! ```
//!
//! The worker is started before the apply's first statement (`apply::online::launch`): its
//! start-up (a process, the library, a connection) usually ends while the statements run, before
//! the late steps' lock. It waits for the apply lock (no lock_timeout or statement_timeout of the
//! role's applies to that wait) until the apply's transaction ends; then it takes the role's worker
//! lock as any worker does and runs the role's pending steps — none of that apply's when it failed,
//! was blocked or rolled back. While another worker of the role holds that lock, the new one ends
//! at once: the running worker reads the pending steps again after it releases the lock and takes
//! it back for them (a hand-over; the review of 51a6a29, F1, and of b6da30e, G1). The steps are
//! recorded for the role it was started as (the apply fails if the payload's code switched the
//! current role meanwhile).
//!
//! Why a background worker: the steps must run outside any transaction block, after the caller
//! commits, without a client — a dynamic background worker is a server process revos starts itself
//! (`RegisterDynamicBackgroundWorker`, no `shared_preload_libraries` and no restart needed), and it
//! can connect as a given role by OID, which a loopback libpq connection (passwords, pg_hba) cannot.
//! It does not survive a server restart, and nothing of revos runs at server start without
//! preloading: steps left pending or running are found and resumed by the next `apply_schema` or
//! `revos.deferred_status()` call in that database (docs/security.md, README "Online changes").
//!
//! May call: `crate::ledger` (the ledger writer, revos's own statements), `crate::schema` (the
//! online forms' types), `crate::privilege`, `crate::error`, `crate::ident`. Never `apply` or `api`.

pub mod backfill;
pub mod exec;
pub mod launch;
pub mod role_lock;
pub mod settings;
pub mod shape;
pub mod status;
pub mod store;
pub mod successor;
pub mod wait;
pub mod worker;

/// The transaction-level advisory lock that serializes schema changes (`apply` takes it; the
/// worker takes it once to wait for the apply that launched it to end).
pub const APPLY_LOCK: i64 = 0x0072_6576_6f73;

/// The first key of the session-level lock `(WORKER_LOCK, role oid)` (`role_lock`, a key space no
/// SQL function reaches) a worker holds while it runs the role's steps: one worker per role and
/// database; a step `running` while its role's worker holds the lock is an orphan (`store::orphans`).
pub const WORKER_LOCK: i32 = 0x7276_6466;

/// How often a step is started before it counts as failed (a worker killed mid-step, a lock
/// timeout on a busy table).
pub const MAX_ATTEMPTS: i32 = 3;
