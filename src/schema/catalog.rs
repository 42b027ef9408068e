//! The catalog view the stages share: what `validate` read from the catalog ([`CatalogState`]),
//! which tables it must read, and which rows it must count for `evolve`. Pure; below `validate`,
//! `evolve` and `plan`, which all read it.

use std::collections::HashMap;

use crate::ident::Name;
use crate::schema::model::*;

/// What the catalog showed, keyed by (schema, name).
#[derive(Debug, Clone, Default)]
pub struct CatalogState {
    pub tables: HashMap<(String, String), TableSnapshot>,
    pub enums: HashMap<(String, String), Vec<String>>,
    /// Exact row counts evolution needs (see [`counts_needed`]), in the payload's names.
    pub row_counts: HashMap<RowCountKey, i64>,
    /// Columns using an enum that loses values, keyed by the enum.
    pub enum_usage: HashMap<(String, String), Vec<EnumUse>>,
}

impl CatalogState {
    pub fn table(&self, schema: &Name, name: &Name) -> Option<&TableSnapshot> {
        self.tables
            .get(&(schema.as_str().to_string(), name.as_str().to_string()))
    }
}

/// Every table the catalog must be read for: the payload's tables, their old names, and the
/// tables to drop.
pub fn catalog_keys(s: &Schema) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = s.tables.iter().map(Table::key).collect();
    for t in &s.tables {
        if let Some(old) = &t.renamed_from {
            keys.push((t.schema.as_str().to_string(), old.as_str().to_string()));
        }
    }
    keys.extend(s.drop_tables.iter().map(DroppedTable::key));
    keys
}

/// The table as it exists now: under its name, else (when it is renamed) under its old name.
pub fn live_key(t: &Table, state: &CatalogState) -> Option<(String, String)> {
    if state.tables.contains_key(&t.key()) {
        return Some(t.key());
    }
    let old = (
        t.schema.as_str().to_string(),
        t.renamed_from.as_ref()?.as_str().to_string(),
    );
    state.tables.contains_key(&old).then_some(old)
}

/// The column as it exists now: under its name, else (when it is renamed) under its old name.
pub fn live_column<'a>(c: &Column, snap: &'a TableSnapshot) -> Option<&'a ColumnSnapshot> {
    snap.column(c.name.as_str()).or_else(|| {
        c.renamed_from
            .as_ref()
            .and_then(|old| snap.column(old.as_str()))
    })
}

/// A count `validate` reads for evolution: every row (`null_in: None`) or the rows where a
/// column is NULL, of the table as it exists now (`schema`, `table`, `null_in` are live names),
/// stored under the payload's names (`key`) for `evolve`.
#[derive(Debug, Clone, PartialEq)]
pub struct CountRequest {
    pub schema: String,
    pub table: String,
    pub null_in: Option<String>,
    pub key: RowCountKey,
}

/// (schema, table, column) in the payload's names; no column: every row of the table.
pub type RowCountKey = (String, String, Option<String>);

/// The rows `validate` must count because no estimate will do: tables to drop (or with columns
/// or indexes to drop) that were never analyzed, and the rows a new NOT NULL would violate.
pub fn counts_needed(s: &Schema, state: &CatalogState) -> Vec<CountRequest> {
    let mut out: Vec<CountRequest> = vec![];
    let unanalyzed =
        |k: &(String, String)| state.tables.get(k).is_some_and(|t| t.est_rows.is_none());
    let all = |live: &(String, String), key: &(String, String)| CountRequest {
        schema: live.0.clone(),
        table: live.1.clone(),
        null_in: None,
        key: (key.0.clone(), key.1.clone(), None),
    };
    for d in &s.drop_tables {
        if unanalyzed(&d.key()) {
            out.push(all(&d.key(), &d.key()));
        }
    }
    let tcol = s.options.tenant_column.as_str();
    for t in &s.tables {
        let Some(live) = live_key(t, state) else {
            continue;
        };
        let snap = &state.tables[&live];
        // a dropped index states its table's rows too, also when it is the only drop
        let drops = t
            .drop_columns
            .iter()
            .any(|d| snap.column(d.name.as_str()).is_some())
            || t.drop_indexes
                .iter()
                .any(|d| snap.index(d.name.as_str()).is_some());
        if drops && unanalyzed(&live) {
            out.push(all(&live, &t.key()));
        }
        for c in t.columns.iter().filter(|c| c.not_null) {
            match live_column(c, snap) {
                None if c.default.is_none()
                    && c.generated.is_none()
                    && !(t.tenant_scoped && c.name.as_str() == tcol) =>
                {
                    out.push(all(&live, &t.key()))
                }
                Some(col) if !col.not_null => out.push(CountRequest {
                    schema: live.0.clone(),
                    table: live.1.clone(),
                    null_in: Some(col.name.clone()),
                    key: (
                        t.schema.as_str().to_string(),
                        t.name.as_str().to_string(),
                        Some(c.name.as_str().to_string()),
                    ),
                }),
                _ => {}
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|r| seen.insert(r.key.clone()));
    out
}

/// The values an existing enum has that the payload's `en` does not list, with the enum's key;
/// None when the enum is new or loses nothing.
pub fn removed_enum_values(
    en: &EnumType,
    state: &CatalogState,
) -> Option<((String, String), Vec<String>)> {
    let key = (en.schema.as_str().to_string(), en.name.as_str().to_string());
    let removed: Vec<String> = state
        .enums
        .get(&key)?
        .iter()
        .filter(|v| !en.values.contains(v))
        .cloned()
        .collect();
    (!removed.is_empty()).then_some((key, removed))
}
