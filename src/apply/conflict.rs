//! A `conflict` says what differs (issue 20): the first differences between the normalized schema
//! applied then (kept in the applied row's `normalized_schema` column since 0.3.0) and this
//! payload's, by path (`schema::differences`). plan_schema's conflict shows them too.
//!
//! The fast path (`fast`) answers a conflict from the payload's bytes without normalizing it;
//! it can list the differences only when this backend computed them before for these bytes and
//! that applied row (`remembered`); otherwise it leaves the call to the normal path, which
//! computes and remembers them — so a repeated conflict stays as fast as before.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;

use super::answer::Outcome;
use crate::error::Status;
use crate::schema::differences::{differences, Difference, MAX_LISTED};

/// Bound on the remembered answers (cleared when full).
const REMEMBERED_MAX: usize = 64;

/// The differences against an applied row: listed, or why they cannot be.
pub type Found = Result<Vec<Difference>, String>;

thread_local! {
    /// (payload bytes hash, applied row id) -> the differences.
    static REMEMBERED: RefCell<HashMap<(String, String), Found>> = RefCell::new(HashMap::new());
}

/// What the fast path may answer with: the differences computed before for these bytes and row.
pub fn remembered(bin: &str, row_id: &str) -> Option<Found> {
    REMEMBERED.with(|r| {
        r.borrow()
            .get(&(bin.to_string(), row_id.to_string()))
            .cloned()
    })
}

fn remember(row_id: &str, found: &Found) {
    let Some(bin) = super::memo::current() else {
        return;
    };
    REMEMBERED.with(|r| {
        let mut r = r.borrow_mut();
        if r.len() >= REMEMBERED_MAX {
            r.clear();
        }
        r.insert((bin, row_id.to_string()), found.clone());
    });
}

/// The differences between the applied row `row_id` and `now` (this payload's normalized schema).
pub fn against_applied(row_id: &str, now: &Value) -> Found {
    // (before ALTER EXTENSION revos UPDATE the table has no such column: the row kept it in metadata)
    let sql = if super::ledger_probe::document_columns() {
        "SELECT coalesce(normalized_schema, metadata OPERATOR(pg_catalog.->) 'normalized_schema')
           FROM revos.schema_migrations WHERE id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid"
    } else {
        "SELECT metadata OPERATOR(pg_catalog.->) 'normalized_schema'
           FROM revos.schema_migrations WHERE id OPERATOR(pg_catalog.=) $1::pg_catalog.uuid"
    };
    let applied: Option<JsonB> = Spi::get_one_with_args(sql, &[row_id.into()]).ok().flatten();
    let found = match applied {
        Some(JsonB(v)) if v.is_object() => Ok(differences(&v, now)),
        _ => Err("the applied row was written before revos recorded the normalized schema (0.3.0): what differs is not known".into()),
    };
    remember(row_id, &found);
    found
}

/// The `conflict` answer: this payload's hash, the applied row, and what differs.
pub fn outcome(
    version: &str,
    hash: &str,
    row_id: &str,
    applied_at: &str,
    applied_hash: &str,
    found: Found,
) -> Outcome {
    let what = match &found {
        Ok(d) if d.is_empty() => {
            " (the normalized schemas are equal: only their hash differs)".to_string()
        }
        Ok(d) => format!(
            " — {}{}",
            d[0].sentence(),
            if d.len() > 1 {
                format!(" (and {} more difference(s))", d.len() - 1)
            } else {
                String::new()
            }
        ),
        Err(why) => format!(" ({why})"),
    };
    let mut o = Outcome::new(
        Status::Conflict,
        format!("Schema v{version} was already applied with other content{what}; change the version or set force_apply"),
    );
    o.outputs.insert("schema_version".into(), json!(version));
    o.outputs.insert("schema_hash".into(), json!(hash));
    o.outputs.insert("migration_log_id".into(), json!(row_id));
    o.extra
        .insert("applied_schema_hash".into(), json!(applied_hash));
    o.extra
        .insert("already_applied_at".into(), json!(applied_at));
    let listed: Vec<&Difference> = found.iter().flatten().take(MAX_LISTED).collect();
    o.extra.insert("differences".into(), json!(listed));
    o
}
