//! The settings a deferred step is read under: the apply's, recorded with each step, not the
//! worker session's.
//!
//! The worker parses a step's text again after the commit. Its session starts from the database's
//! and the role's defaults (`ALTER DATABASE … SET`, `ALTER ROLE … SET`: the database owner's or the
//! role's own choice), not from the session that applied the plan: under another `DateStyle` the
//! literal `'01/02/2020'` of an index predicate or a check is another date, under another
//! `TimeZone` a `timestamptz` literal another instant, under `transform_null_equals` `x = NULL`
//! another test — and the step was recorded `done` on an index the caller never declared
//! (tests/online.sh: on 4df862e, five of these settings, each alone, changed a deferred index's
//! predicate).
//! So the apply records what it ran under ([`current`], in its transaction), and the worker sets
//! the same before each step ([`restore`]), session-level (each step sets its own).
//! `standard_conforming_strings` and `search_path` are pinned, not recorded (`privilege::pinned`,
//! the worker's `session_settings`).

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

/// What changes how PostgreSQL reads a statement's literals and expressions: `DateStyle`,
/// `IntervalStyle`, `TimeZone`, `timezone_abbreviations` (dates, times and intervals),
/// `transform_null_equals`, `array_nulls` (array literals), `backslash_quote` (whether `\'` is
/// accepted), `xmloption` (XML literals), `lc_monetary` (money literals).
pub const RECORDED: &[&str] = &[
    "DateStyle",
    "IntervalStyle",
    "TimeZone",
    "timezone_abbreviations",
    "transform_null_equals",
    "array_nulls",
    "backslash_quote",
    "xmloption",
    "lc_monetary",
];

/// The current values of [`RECORDED`], as a JSON object (name → value).
pub fn current() -> Value {
    Spi::get_one_with_args::<JsonB>(
        "SELECT pg_catalog.jsonb_object_agg(n, pg_catalog.current_setting(n))
           FROM pg_catalog.unnest($1::pg_catalog.text[]) AS n",
        &[RECORDED.to_vec().into()],
    )
    .ok()
    .flatten()
    .map(|j| j.0)
    .unwrap_or_else(|| pgrx::error!("revos: reading the session's settings failed"))
}

/// Sets each of [`RECORDED`] as `recorded` has it (session-level), and resets the others to the
/// session's default: nothing of an earlier step's settings carries over into this one (the review
/// of 12af7f9, 4). A name outside the list is ignored: only revos writes the steps, and only what
/// the list names is ever set. An error (a value this server no longer accepts) is raised.
pub fn restore(recorded: Option<&Value>) {
    let map = recorded.and_then(Value::as_object);
    for name in RECORDED {
        match map.and_then(|m| m.get(*name)).and_then(Value::as_str) {
            Some(v) => Spi::run_with_args(
                "SELECT pg_catalog.set_config($1, $2, false)",
                &[(*name).into(), v.into()],
            ),
            // the name is one of RECORDED's, written here: a fixed identifier
            None => Spi::run(&format!("RESET {name}")),
        }
        .unwrap_or_else(|e| {
            pgrx::error!("revos deferred worker: setting {name} as the apply had it: {e}")
        });
    }
}
