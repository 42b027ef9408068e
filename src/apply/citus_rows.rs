//! The rows of the tables an apply distributes in place on Citus (`citus::in_place`), for the
//! plan's cost and the `distribute_existing` risk.

use std::collections::HashMap;

use crate::schema::catalog::CatalogState;
use crate::schema::model::{Catalog, Table};

/// Each table's rows: counted as every count that gates is (`Catalog::count_rows`: as the
/// extension's owner, never through the caller's row security), or — when the count fails —
/// `pg_class.reltuples`, marked not counted.
pub fn count(
    cat: &impl Catalog,
    st: &CatalogState,
    tables: &[&Table],
) -> HashMap<(String, String), (i64, bool)> {
    tables
        .iter()
        .map(|t| {
            let rows = match cat.count_rows(t.schema.as_str(), t.name.as_str(), None) {
                Ok(n) => (n, true),
                Err(_) => (
                    st.table(&t.schema, &t.name)
                        .and_then(|sn| sn.est_rows)
                        .unwrap_or(0),
                    false,
                ),
            };
            (t.key(), rows)
        })
        .collect()
}
