//! Loud on what the ledger shows (issue 20): the latest applied version (by `applied_at`) is read
//! once per call, and a warning is added when this version sorts before it, and for each table it
//! declared (`metadata.tables`, recorded since 0.3.0) that still exists and that this version
//! neither declares, renames nor drops (`schema::versions`). `tenant_table` calls (versions
//! `tenant_table.*`, one table each) are neither checked nor compared with.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

use crate::schema::model::Schema;
use crate::schema::versions;

const TENANT_TABLE_PREFIX: &str = "tenant_table.";

/// The warnings for `s` against the latest applied version.
pub fn warnings(s: &Schema) -> Vec<String> {
    if s.version.starts_with(TENANT_TABLE_PREFIX) {
        return vec![];
    }
    let Some((version, tables)) = latest(&s.version) else {
        return vec![];
    };
    let mut out = vec![];
    out.extend(versions::older_version(&s.version, &version));
    let previous: Vec<(String, String)> = tables
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some((
                t.get(0)?.as_str()?.to_string(),
                t.get(1)?.as_str()?.to_string(),
            ))
        })
        .collect();
    for t in versions::not_mentioned(s, &previous) {
        if exists(&t) {
            out.push(versions::not_mentioned_warning(&t, &version));
        }
    }
    out
}

/// The tables of `s` as `metadata.tables` records them: `[[schema, name], …]`.
pub fn tables_of(s: &Schema) -> Value {
    Value::Array(
        s.tables
            .iter()
            .map(|t| serde_json::json!([t.schema.as_str(), t.name.as_str()]))
            .collect(),
    )
}

/// The latest applied version other than `this` (and other than tenant_table's): version and its
/// `metadata.tables` (null for rows written before 0.3.0).
fn latest(this: &str) -> Option<(String, Value)> {
    Spi::connect(|c| {
        let rows = c.select(
            "SELECT version, metadata -> 'tables' FROM revos.schema_migrations
              WHERE status OPERATOR(pg_catalog.=) 'applied' AND version OPERATOR(pg_catalog.<>) $1
                AND pg_catalog.left(version, 13) OPERATOR(pg_catalog.<>) 'tenant_table.'
              ORDER BY applied_at DESC LIMIT 1",
            None,
            &[this.into()],
        )?;
        for row in rows {
            let tables = row.get::<JsonB>(2)?.map(|j| j.0).unwrap_or(Value::Null);
            return Ok::<_, pgrx::spi::Error>(Some((
                row.get::<String>(1)?.unwrap_or_default(),
                tables,
            )));
        }
        Ok(None)
    })
    .unwrap_or_else(|e| pgrx::error!("revos: reading the ledger failed: {e}"))
}

fn exists((schema, name): &(String, String)) -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n
                          ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                        WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2
                          AND c.relkind IN ('r', 'p'))",
        &[schema.as_str().into(), name.as_str().into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}
