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
    /// (schema, table, column) in the payload's names -> the rows a declared type change would
    /// change the value of (counted), or Err(()) when they could not be counted.
    pub conversions: HashMap<(String, String, String), Result<i64, ()>>,
    /// The schema objects beside tables (issue 25), by key: their live and declared forms.
    pub objects: HashMap<String, crate::schema::objects::ObjectState>,
    /// The schemas that exist (of those the payload names).
    pub schemas: std::collections::HashSet<String>,
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

/// The values an existing enum has that the payload's `en` does not list, with the enum's key,
/// when the type must be recreated: it loses values, or its existing values are declared in
/// another order (then the list may be empty). None when the enum is new or keeps its values in
/// order (new values are added in place).
pub fn removed_enum_values(
    en: &EnumType,
    state: &CatalogState,
) -> Option<((String, String), Vec<String>)> {
    let key = (en.schema.as_str().to_string(), en.name.as_str().to_string());
    let live = state.enums.get(&key)?;
    let removed: Vec<String> = live
        .iter()
        .filter(|v| !en.values.contains(v))
        .cloned()
        .collect();
    let reordered = !en.keeps_order(live);
    (!removed.is_empty() || reordered).then_some((key, removed))
}
/// Test fixtures: a snapshot as the catalog shows a table that revos applied and nobody changed
/// since — every declared form deparsed the same on both sides.
#[cfg(test)]
pub mod testing {
    use crate::schema::model::*;

    /// Fills what a hand-written snapshot leaves out the way a real catalog read would: the
    /// primary key's and unique keys' columns (from their indexes), the `updated_at` trigger's
    /// definition, index definitions, the tenant policy's expressions, and the declared forms
    /// (`declared`) equal to the live ones.
    pub fn as_applied(mut sn: TableSnapshot) -> TableSnapshot {
        let index_cols: Vec<(String, Vec<String>)> = sn
            .indexes
            .iter()
            .map(|i| (i.name.clone(), i.columns.clone()))
            .collect();
        for c in sn
            .constraints
            .iter_mut()
            .filter(|c| matches!(c.kind, 'p' | 'u'))
        {
            if c.columns.is_empty() {
                if let Some((_, cols)) = index_cols.iter().find(|(n, _)| *n == c.name) {
                    c.columns = cols.clone();
                }
            }
        }
        let trigger = Table::trigger_name().as_str().to_string();
        if sn.triggers.contains(&trigger) && !sn.trigger_defs.contains_key(&trigger) {
            sn.trigger_defs.insert(
                trigger.clone(),
                format!("CREATE TRIGGER {trigger} BEFORE UPDATE ON <table> FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at()"),
            );
        }
        let mut d = sn.declared.clone().unwrap_or_default();
        for i in sn.indexes.iter_mut() {
            let def = i.definition.get_or_insert_with(|| {
                let method = if i.method.is_empty() {
                    "btree"
                } else {
                    i.method.as_str()
                };
                format!("{method} ({})", i.columns.join(", "))
            });
            d.indexes
                .entry(i.name.clone())
                .or_insert_with(|| def.clone());
        }
        let pred = "(tenant_id = ( SELECT (revos.current_tenant_id())::uuid AS current_tenant_id))";
        for p in sn
            .policies
            .iter_mut()
            .filter(|p| p.name == Table::policy_name().as_str())
        {
            p.using.get_or_insert_with(|| pred.into());
            p.with_check.get_or_insert_with(|| pred.into());
            if p.roles.is_empty() {
                p.roles = vec!["public".into()];
            }
            p.permissive = true;
            d.policy
                .get_or_insert((p.using.clone(), p.with_check.clone()));
        }
        for c in sn
            .columns
            .iter_mut()
            .filter(|c| c.has_default && c.default.is_none())
        {
            // a default the fixture did not spell out: the same unknown text on both sides
            // (digits only: a rename of an identifier in the live texts leaves it alone)
            let n: u32 = c
                .name
                .bytes()
                .fold(7, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
            c.default = Some(format!("{}", n % 1_000_000));
        }
        for c in &sn.columns {
            if let Some(def) = &c.default {
                d.defaults
                    .entry(c.name.clone())
                    .or_insert_with(|| def.clone());
            }
            if let Some(g) = &c.expression {
                d.generated
                    .entry(c.name.clone())
                    .or_insert_with(|| g.clone());
            }
        }
        for c in sn.constraints.iter().filter(|c| c.kind == 'c') {
            if let Some(def) = &c.definition {
                d.checks
                    .entry(c.name.clone())
                    .or_insert_with(|| def.clone());
            }
        }
        sn.declared = Some(d);
        sn
    }
}
