//! The rows of the tables an apply distributes in place on Citus (`citus::in_place`), for the
//! plan's cost and the `distribute_existing` risk.

use std::collections::HashMap;

use pgrx::prelude::*;

use crate::apply::pg_catalog::rolled_back;
use crate::schema::model::Table;

/// Each table's rows: `count(*)` as the caller when row security does not apply to the caller on
/// that table (`row_security_active`: a superuser, BYPASSRLS, an owner without FORCE), else — or
/// when the count fails — `pg_class.reltuples`, marked not counted. Each read in a subtransaction
/// rolled back.
pub fn count(tables: &[&Table]) -> HashMap<(String, String), (i64, bool)> {
    tables
        .iter()
        .map(|t| {
            let q = t.qualified();
            let counted = rolled_back(|| count_if_visible(&q)).ok().flatten();
            let rows = match counted {
                Some(n) => (n, true),
                None => (estimate(&q), false),
            };
            (t.key(), rows)
        })
        .collect()
}

fn count_if_visible(q: &str) -> Option<i64> {
    let hidden: Option<bool> = Spi::get_one_with_args(
        "SELECT pg_catalog.row_security_active($1::pg_catalog.regclass)",
        &[q.into()],
    )
    .unwrap_or_else(|e| pgrx::error!("revos: row_security_active({q}): {e}"));
    if hidden != Some(false) {
        return None;
    }
    Spi::get_one::<i64>(&format!("SELECT pg_catalog.count(*) FROM {q}"))
        .unwrap_or_else(|e| pgrx::error!("revos: counting the rows of {q}: {e}"))
}

fn estimate(q: &str) -> i64 {
    rolled_back(|| {
        Spi::get_one_with_args::<f32>(
            "SELECT c.reltuples FROM pg_catalog.pg_class c
              WHERE c.oid OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
            &[q.into()],
        )
        .ok()
        .flatten()
    })
    .ok()
    .flatten()
    .map_or(0, |r| r.max(0.0) as i64)
}
