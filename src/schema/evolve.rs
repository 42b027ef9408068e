//! Stage 3½ — `evolve`: what a version does to objects that already exist, before the tables are
//! diffed. Pure: it reads the [`CatalogState`] that `validate` gathered and returns the steps,
//! risks and warnings, and leaves the state as the catalog will be *after* those steps, so that
//! `plan` diffs the tables against what will be there (a renamed table under its new name, a
//! dropped column gone).
//!
//! ```text
//! drop_tables → table renamed_from → column renamed_from → derived names renamed along
//!   → drop_indexes → drop_columns → enum values removed → NOT NULL on rows
//! ```
//!
//! Every key is idempotent: a rename whose old name is gone and new name is there, a drop of
//! something already gone, an enum that already lacks the value — nothing to do, so re-running
//! a version (or a later version that keeps the key) does nothing for it. Both the old and the
//! new name present is `conflicting_definition`. Drops and removed enum values are risks
//! (`drop_table`, `drop_column`, `drop_index`, `drop_enum_value`) with the rows affected; a new
//! NOT NULL that rows would violate is `set_not_null` with the count of those rows.

use std::collections::HashMap;

use crate::error::{code, Issue, RiskCode};
use crate::ident::{quote_literal, Name};
use crate::schema::catalog::{removed_enum_values, CatalogState};
use crate::schema::model::*;
use crate::schema::steps::{Cost, Plan, Risk, Step, LARGE_TABLE_ROWS};
use crate::schema::suggest;

/// What evolution does; [`Evolution::prepend_to`] puts it in front of the table plan.
#[derive(Debug, Clone, Default)]
pub struct Evolution {
    pub steps: Vec<Step>,
    pub risks: Vec<Risk>,
    pub warnings: Vec<String>,
    /// Problems only the catalog shows (old and new name both present, a removed enum value
    /// still in use): validation errors, the call is blocked.
    pub issues: Vec<Issue>,
}

impl Evolution {
    /// Renames and drops are catalog changes under ACCESS EXCLUSIVE (no rewrite, no scan).
    fn step(&mut self, kind: &'static str, object: String, sql: String) {
        self.costed(kind, object, sql, Cost::ALTER);
    }

    /// `est_rows` is filled in at the end of [`evolve`], from the table the step names.
    fn costed(&mut self, kind: &'static str, object: String, sql: String, cost: Cost) {
        self.steps.push(Step::costed(kind, object, sql, cost, None));
    }

    /// The evolution steps run after the schemas are created and before every other step (enums,
    /// tables, keys, indexes); risks and warnings join the plan's.
    pub fn prepend_to(self, p: &mut Plan) {
        let at = p.steps.iter().take_while(|s| s.kind == "schema").count();
        let rest = p.steps.split_off(at);
        // the plan's own rule for large tables (plan::cost_warnings), for these steps
        let mut warned = std::collections::BTreeSet::new();
        for st in &self.steps {
            if let (Some(lock), Some(rows)) = (st.lock, st.est_rows) {
                if lock.blocks_writes()
                    && rows > LARGE_TABLE_ROWS
                    && warned.insert(st.object.clone())
                {
                    p.warnings.push(format!(
                        "{} holds about {rows} rows and is locked ACCESS EXCLUSIVE while it changes; plan a quiet moment",
                        st.object
                    ));
                }
            }
        }
        p.steps.extend(self.steps);
        p.steps.extend(rest);
        let risks = std::mem::take(&mut p.risks);
        p.risks = self.risks;
        p.risks.extend(risks);
        p.warnings.extend(self.warnings);
    }
}

/// What evolution did, counted from the plan's steps (for the envelope's `primary_outputs`).
pub fn counts(p: &Plan) -> Vec<(&'static str, usize)> {
    let n = |kind: &str| p.steps.iter().filter(|st| st.kind == kind).count();
    vec![
        ("tables_renamed", n("rename_table")),
        ("columns_renamed", n("rename_column")),
        ("tables_dropped", n("drop_table")),
        ("columns_dropped", n("drop_column")),
        ("indexes_dropped", n("drop_index")),
        (
            "enums_recreated",
            p.steps
                .iter()
                .filter(|st| st.kind == "enum_recreate" && st.sql.starts_with("CREATE TYPE"))
                .count(),
        ),
    ]
}

/// How many rows a change touches, and how that number was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rows {
    /// `pg_class.reltuples` (the table was analyzed or vacuumed).
    Estimate(i64),
    /// `count(*)`, read while planning.
    Counted(i64),
}

impl Rows {
    pub fn n(self) -> i64 {
        match self {
            Rows::Estimate(n) | Rows::Counted(n) => n,
        }
    }
    fn words(self) -> String {
        match self {
            Rows::Estimate(n) => format!("about {n} row(s), estimated from pg_class.reltuples"),
            Rows::Counted(n) => format!("{n} row(s), counted"),
        }
    }
}

/// Rows in the table (for drops): reltuples when known, else the count `validate` read.
fn table_rows(state: &CatalogState, key: &(String, String)) -> Option<Rows> {
    if let Some(n) = state.tables.get(key).and_then(|t| t.est_rows) {
        return Some(Rows::Estimate(n));
    }
    state
        .row_counts
        .get(&(key.0.clone(), key.1.clone(), None))
        .map(|n| Rows::Counted(*n))
}

/// The evolution of `s` against `state`; `state` becomes the catalog as it will be after it.
pub fn evolve(s: &Schema, state: &mut CatalogState) -> Evolution {
    let mut e = Evolution::default();
    let mut est: HashMap<String, Option<i64>> = estimates(state);
    drop_tables(s, state, &mut e);
    rename_tables(s, state, &mut e);
    rename_columns(s, state, &mut e);
    rename_derived(s, state, &mut e);
    drop_indexes(s, state, &mut e);
    drop_columns(s, state, &mut e);
    drop_enum_values(s, state, &mut e);
    not_null_on_rows(s, state, &mut e);
    using_without_values(s, state, &mut e);
    // each step's est_rows: its table as it was (drops) or as it will be (renames)
    est.extend(estimates(state));
    for st in &mut e.steps {
        st.est_rows = est.get(&st.object).copied().flatten();
    }
    e
}

/// `"schema"."table"` → `pg_class.reltuples` of every table in the state.
fn estimates(state: &CatalogState) -> HashMap<String, Option<i64>> {
    state
        .tables
        .iter()
        .map(|((sc, tn), snap)| (qualified(sc, tn), snap.est_rows))
        .collect()
}

fn qualified(schema: &str, name: &str) -> String {
    format!(
        "{}.{}",
        Name::from_catalog(schema),
        Name::from_catalog(name)
    )
}

/// `drop_tables`: each existing table is the risk `drop_table` and `DROP TABLE` (no CASCADE:
/// a foreign key from another table makes it fail, and roll back, rather than drop more).
fn drop_tables(s: &Schema, state: &mut CatalogState, e: &mut Evolution) {
    for d in &s.drop_tables {
        let key = d.key();
        if !state.tables.contains_key(&key) {
            e.warnings.push(format!(
                "{}: table {}.{} does not exist (already dropped, or a misspelt name?); nothing is dropped{}",
                d.path,
                key.0,
                key.1,
                suggest::did_you_mean(&key.1, s.tables.iter().map(|t| t.name.as_str()))
            ));
            continue;
        }
        let q = qualified(&key.0, &key.1);
        let rows = table_rows(state, &key);
        e.risks.push(risk(
            &d.path,
            RiskCode::DropTable,
            format!(
                "table {}.{} is dropped with its data{}",
                key.0,
                key.1,
                rows.map(|r| format!(" ({})", r.words()))
                    .unwrap_or_default()
            ),
            rows,
        ));
        e.step("drop_table", q.clone(), format!("DROP TABLE {q}"));
        state.tables.remove(&key);
    }
}

/// Table `renamed_from`: the old table there and the new one not → `ALTER TABLE … RENAME TO`,
/// and the snapshot moves to the new name; both there → `conflicting_definition`; only the new
/// one (already renamed) or neither (a new table) → nothing here.
fn rename_tables(s: &Schema, state: &mut CatalogState, e: &mut Evolution) {
    for t in &s.tables {
        let Some(old) = &t.renamed_from else {
            continue;
        };
        let old_key = (t.schema.as_str().to_string(), old.as_str().to_string());
        let has_old = state.tables.contains_key(&old_key);
        let has_new = state.tables.contains_key(&t.key());
        if has_old && has_new {
            e.issues.push(Issue::new(
                format!("{}.renamed_from", t.path),
                code::CONFLICTING_DEFINITION,
                format!(
                    "both {}.{} and {}.{} exist: revos cannot rename one onto the other",
                    t.schema.as_str(),
                    old.as_str(),
                    t.schema.as_str(),
                    t.name.as_str()
                ),
            ));
        } else if has_old {
            let snap = state.tables.remove(&old_key).expect("checked");
            e.step(
                "rename_table",
                t.qualified(),
                format!("ALTER TABLE {}.{old} RENAME TO {}", t.schema, t.name),
            );
            state.tables.insert(t.key(), snap);
            retarget_foreign_keys(
                state,
                t.schema.as_str(),
                (old.as_str(), t.name.as_str()),
                None,
            );
        } else if !has_new {
            e.warnings.push(format!(
                "{}.renamed_from: neither {}.{} nor {} exists; {} is created as a new table",
                t.path,
                t.schema.as_str(),
                old.as_str(),
                t.qualified(),
                t.qualified()
            ));
        }
    }
}

/// Column `renamed_from`, on a table that exists: old there and new not → `RENAME COLUMN`; both
/// → `conflicting_definition`; neither → the column is added as new, with a warning naming the
/// old name (so a misspelt old name is seen, and the old column is reported as undeclared).
fn rename_columns(s: &Schema, state: &mut CatalogState, e: &mut Evolution) {
    for t in &s.tables {
        let mut renamed: Vec<(&str, &str)> = vec![];
        let Some(snap) = state.tables.get_mut(&t.key()) else {
            continue;
        };
        for c in &t.columns {
            let Some(old) = &c.renamed_from else {
                continue;
            };
            let has_old = snap.column(old.as_str()).is_some();
            let has_new = snap.column(c.name.as_str()).is_some();
            match (has_old, has_new) {
                (true, true) => e.issues.push(Issue::new(
                    format!("{}.renamed_from", c.path),
                    code::CONFLICTING_DEFINITION,
                    format!(
                        "{} has both columns {:?} and {:?}: revos cannot rename one onto the other",
                        t.qualified(),
                        old.as_str(),
                        c.name.as_str()
                    ),
                )),
                (true, false) => {
                    e.step(
                        "rename_column",
                        t.qualified(),
                        format!(
                            "ALTER TABLE {} RENAME COLUMN {old} TO {}",
                            t.qualified(),
                            c.name
                        ),
                    );
                    rename_column_in(snap, old.as_str(), c.name.as_str());
                    renamed.push((old.as_str(), c.name.as_str()));
                }
                (false, false) => e.warnings.push(format!(
                    "{}.{}: renamed_from {:?}, but neither column exists; it is added as a new column",
                    t.qualified(),
                    c.name.as_str(),
                    old.as_str()
                )),
                (false, true) => {}
            }
        }
        for (old, new) in renamed {
            let name = t.name.as_str();
            retarget_foreign_keys(state, t.schema.as_str(), (name, name), Some((old, new)));
        }
    }
}

/// The snapshot after `RENAME COLUMN`, as Postgres will show it then: the column, index key
/// columns, foreign key columns, and every deparsed expression that names it (defaults,
/// generated expressions, index and constraint definitions, policies).
fn rename_column_in(snap: &mut TableSnapshot, old: &str, new: &str) {
    let re = |e: &mut String| *e = rename_identifier(e, old, new);
    for col in &mut snap.columns {
        if col.name == old {
            col.name = new.to_string();
        }
        col.default
            .iter_mut()
            .chain(col.expression.iter_mut())
            .for_each(re);
    }
    for x in &mut snap.indexes {
        for k in x.columns.iter_mut().filter(|k| *k == old) {
            *k = new.to_string();
        }
        x.definition.iter_mut().for_each(re);
    }
    for c in &mut snap.constraints {
        c.definition.iter_mut().for_each(re);
        for k in c.columns.iter_mut().filter(|k| *k == old) {
            *k = new.to_string();
        }
        if let Some(fk) = &mut c.foreign_key {
            for k in fk
                .columns
                .iter_mut()
                .chain(fk.delete_set_columns.iter_mut())
            {
                if k == old {
                    *k = new.to_string();
                }
            }
        }
    }
    for p in &mut snap.policies {
        p.using
            .iter_mut()
            .chain(p.with_check.iter_mut())
            .for_each(re);
    }
}

/// Foreign keys of every table in the state that point at a renamed table (or column) point at
/// the new name, as Postgres will show them after the rename.
fn retarget_foreign_keys(
    state: &mut CatalogState,
    schema: &str,
    table: (&str, &str),
    column: Option<(&str, &str)>,
) {
    for snap in state.tables.values_mut() {
        for c in &mut snap.constraints {
            let Some(fk) = &mut c.foreign_key else {
                continue;
            };
            if fk.target_schema != schema || fk.target_table != table.0 {
                continue;
            }
            fk.target_table = table.1.to_string();
            if let Some((old, new)) = column {
                for k in fk.target_columns.iter_mut().filter(|k| *k == old) {
                    *k = new.to_string();
                }
            }
        }
    }
}

/// `text` (SQL as Postgres deparses it) with every reference to column `old` changed to `new`:
/// bare or double-quoted identifiers equal to `old`, not inside string literals, not qualified
/// (`x.old`), not a type after `::`, not a function name (followed by `(`). So that a snapshot
/// reads after `RENAME COLUMN` as Postgres will deparse it then.
pub fn rename_identifier(text: &str, old: &str, new: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let bare_ok = |s: &str| {
        s.bytes()
            .enumerate()
            .all(|(k, c)| c == b'_' || c.is_ascii_lowercase() || (k > 0 && c.is_ascii_digit()))
    };
    let replacement = if bare_ok(new) {
        new.to_string()
    } else {
        crate::ident::quote_ident(new)
    };
    let qualified_before = |start: usize| {
        let before = text[..start].trim_end();
        before.ends_with('.') || before.ends_with("::")
    };
    let call_after = |end: usize| text[end..].trim_start().starts_with('(');
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            let start = i;
            i += 1;
            while i < b.len() {
                if b[i] == b'\'' {
                    if i + 1 < b.len() && b[i + 1] == b'\'' {
                        i += 2;
                        continue;
                    }
                    break;
                }
                i += 1;
            }
            i = (i + 1).min(b.len());
            out.push_str(&text[start..i]);
        } else if c == b'"' {
            let start = i;
            i += 1;
            let mut ident = String::new();
            while i < b.len() {
                if b[i] == b'"' {
                    if i + 1 < b.len() && b[i + 1] == b'"' {
                        ident.push('"');
                        i += 2;
                        continue;
                    }
                    break;
                }
                ident.push(b[i] as char);
                i += 1;
            }
            i = (i + 1).min(b.len());
            if ident == old && !qualified_before(start) && !call_after(i) {
                out.push_str(&replacement);
            } else {
                out.push_str(&text[start..i]);
            }
        } else if c == b'_' || c.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && (b[i] == b'_' || b[i] == b'$' || b[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            let word = &text[start..i];
            if word == old && !qualified_before(start) && !call_after(i) {
                out.push_str(&replacement);
            } else {
                out.push_str(word);
            }
        } else {
            let ch = text[i..].chars().next().expect("in bounds");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Indexes and constraints whose names revos derived from the old table or column names are
/// renamed along (`idx_old_tenant_id` → `idx_new_tenant_id`), so a rename never leaves a twin.
fn rename_derived(s: &Schema, state: &mut CatalogState, e: &mut Evolution) {
    for t in &s.tables {
        let Some(snap) = state.tables.get_mut(&t.key()) else {
            continue;
        };
        for r in &all_derived_renames(t, snap) {
            let (from, to) = (r.from.as_str(), r.to.as_str());
            let present = match r.kind {
                DerivedKind::Index => snap.index(from).is_some() && !snap.has_constraint(from),
                DerivedKind::Constraint => snap.has_constraint(from),
            };
            let taken = snap.index(to).is_some() || snap.has_constraint(to);
            if !present || taken {
                continue;
            }
            let sql = match r.kind {
                DerivedKind::Index => {
                    format!("ALTER INDEX {}.{} RENAME TO {}", t.schema, r.from, r.to)
                }
                DerivedKind::Constraint => format!(
                    "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                    t.qualified(),
                    r.from,
                    r.to
                ),
            };
            e.step("rename_derived", t.qualified(), sql);
            // Renaming a unique or primary key constraint renames its index too.
            for x in snap.indexes.iter_mut().filter(|x| x.name == from) {
                x.name = to.to_string();
            }
            for c in snap.constraints.iter_mut().filter(|c| c.name == from) {
                c.name = to.to_string();
            }
            // (the declared forms, when already read, follow the names)
            if let Some(d) = snap.declared.as_mut() {
                for m in [&mut d.indexes, &mut d.checks] {
                    if let Some(v) = m.remove(from) {
                        m.insert(to.to_string(), v);
                    }
                }
            }
        }
    }
}

/// The derived names to rename on `t`: those of the objects this version declares again
/// (`normalize`), and every other name revos derived from the old table or column names, read
/// off the catalog (`derived_names`).
fn all_derived_renames(t: &Table, snap: &TableSnapshot) -> Vec<DerivedRename> {
    let columns: Vec<(String, String)> = t
        .columns
        .iter()
        .filter_map(|c| {
            Some((
                c.renamed_from.as_ref()?.as_str().to_string(),
                c.name.as_str().to_string(),
            ))
        })
        .collect();
    if t.renamed_from.is_none() && columns.is_empty() {
        return t.derived_renames.clone();
    }
    let old_table = t.renamed_from.as_ref().unwrap_or(&t.name).as_str();
    let mut all = t.derived_renames.clone();
    for r in crate::schema::derived_names::renames(t, snap, old_table, &columns) {
        if !all.iter().any(|a| a.from == r.from || a.to == r.to) {
            all.push(r);
        }
    }
    all
}

/// `drop_indexes`: each existing index is the risk `drop_index` and `DROP INDEX` (or, for the
/// index behind a unique or primary key, `ALTER TABLE … DROP CONSTRAINT`).
fn drop_indexes(s: &Schema, state: &mut CatalogState, e: &mut Evolution) {
    for t in &s.tables {
        let key = t.key();
        let rows = table_rows(state, &key);
        let Some(snap) = state.tables.get_mut(&key) else {
            nothing_to_drop_on_new_table(t, &t.drop_indexes, "index", e);
            continue;
        };
        for d in &t.drop_indexes {
            if snap.index(d.name.as_str()).is_none() {
                let names = snap.indexes.iter().map(|x| x.name.as_str());
                e.warnings
                    .push(nothing_to_drop(t, d, "index or key", names));
                continue;
            }
            let is_constraint = snap.has_constraint(d.name.as_str());
            e.risks.push(risk(
                &d.path,
                RiskCode::DropIndex,
                format!(
                    "index {} on {} is dropped{}{}",
                    d.name.as_str(),
                    t.qualified(),
                    if is_constraint {
                        " with the constraint it backs"
                    } else {
                        ""
                    },
                    rows.map(|r| format!(" (the table has {})", r.words()))
                        .unwrap_or_default()
                ),
                rows,
            ));
            let sql = if is_constraint {
                format!("ALTER TABLE {} DROP CONSTRAINT {}", t.qualified(), d.name)
            } else {
                format!("DROP INDEX {}.{}", t.schema, d.name)
            };
            e.step("drop_index", t.qualified(), sql);
            snap.indexes.retain(|x| x.name != d.name.as_str());
            snap.constraints.retain(|c| c.name != d.name.as_str());
        }
    }
}

/// The warning for a `drop_columns` / `drop_indexes` entry the table does not have, with the
/// closest name it has (a misspelling is seen, not skipped).
fn nothing_to_drop<'a>(
    t: &Table,
    d: &Dropped,
    what: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> String {
    format!(
        "{}: {} has no {what} {:?} (already dropped, or a misspelt name?); nothing is dropped{}",
        d.path,
        t.qualified(),
        d.name.as_str(),
        suggest::did_you_mean(d.name.as_str(), names)
    )
}

/// `drop_columns` / `drop_indexes` on a table this version creates: there is nothing to drop, and
/// the caller hears so (a misspelt table name or `renamed_from` shows up here).
fn nothing_to_drop_on_new_table(t: &Table, drops: &[Dropped], what: &str, e: &mut Evolution) {
    for d in drops {
        e.warnings.push(format!(
            "{}: {} does not exist yet (it is created by this version), so it has no {what} {:?}; nothing is dropped",
            d.path,
            t.qualified(),
            d.name.as_str()
        ));
    }
}

/// `drop_columns`: each existing column is the risk `drop_column` and `ALTER TABLE … DROP
/// COLUMN` (no CASCADE: Postgres drops the indexes and constraints of the table that use it, and
/// refuses when a view or another table's foreign key depends on it).
fn drop_columns(s: &Schema, state: &mut CatalogState, e: &mut Evolution) {
    for t in &s.tables {
        let key = t.key();
        let rows = table_rows(state, &key);
        let Some(snap) = state.tables.get_mut(&key) else {
            nothing_to_drop_on_new_table(t, &t.drop_columns, "column", e);
            continue;
        };
        for d in &t.drop_columns {
            if snap.column(d.name.as_str()).is_none() {
                let names = snap.columns.iter().map(|c| c.name.as_str());
                e.warnings.push(nothing_to_drop(t, d, "column", names));
                continue;
            }
            e.risks.push(risk(
                &d.path,
                RiskCode::DropColumn,
                format!(
                    "column {}.{} is dropped with its values{}",
                    t.qualified(),
                    d.name.as_str(),
                    rows.map(|r| format!(" ({})", r.words()))
                        .unwrap_or_default()
                ),
                rows,
            ));
            e.step(
                "drop_column",
                t.qualified(),
                format!("ALTER TABLE {} DROP COLUMN {}", t.qualified(), d.name),
            );
            snap.columns.retain(|c| c.name != d.name.as_str());
            snap.indexes
                .retain(|x| !x.columns.iter().any(|k| k == d.name.as_str()));
        }
    }
}

/// An enum in the payload without a value the database has: the value is removed, which
/// Postgres can only do by recreating the type — rename the old one, create the new one, convert
/// every column that uses it (`USING col::text::new`, defaults dropped and set again), drop the
/// old one. The risk `drop_enum_value` says how many rows use the removed values (counted); if
/// any do, the conversion would fail, so it is refused outright (`enum_value_in_use`).
fn drop_enum_values(s: &Schema, state: &mut CatalogState, e: &mut Evolution) {
    for en in &s.enums {
        let Some((key, removed)) = removed_enum_values(en, state) else {
            continue;
        };
        let uses: Vec<EnumUse> = state
            .enum_usage
            .get(&key)
            .into_iter()
            .flatten()
            .filter_map(|u| after_evolution(s, u))
            .collect();
        let live = state.enums.get(&key);
        e.risks.push(enum_recreate_risk(en, live, &removed, &uses));
        e.issues.extend(enum_value_in_use(en, &removed, &uses));
        recreate_enum(en, &uses, e);
        state.enums.insert(key, en.values.clone());
    }
}

/// The risk of recreating enum `en` (its `live` values in the database): `enum_order` when no
/// value is `removed` (only the order changes), else `drop_enum_value` with the rows of `uses`
/// that hold one of them, counted.
fn enum_recreate_risk(
    en: &EnumType,
    live: Option<&Vec<String>>,
    removed: &[String],
    uses: &[EnumUse],
) -> Risk {
    let in_use: i64 = uses.iter().map(|u| u.rows).sum();
    if removed.is_empty() {
        let live = live.cloned().unwrap_or_default();
        risk(
            &format!("{}.values", en.path),
            RiskCode::EnumOrder,
            format!(
                "enum {}.{} has its values in the order {live:?}; the schema declares {:?}: the type is recreated in the declared order and {} column(s) converted (comparisons and ORDER BY on them change)",
                en.schema.as_str(),
                en.name.as_str(),
                en.values,
                uses.len()
            ),
            None,
        )
    } else {
        risk(
            &format!("{}.values", en.path),
            RiskCode::DropEnumValue,
            format!(
                "enum {}.{} loses value(s) {removed:?}; the type is recreated and {} column(s) converted; {in_use} row(s) use the removed value(s), counted",
                en.schema.as_str(),
                en.name.as_str(),
                uses.len()
            ),
            Some(Rows::Counted(in_use)),
        )
    }
}

/// `enum_value_in_use` when a row of `uses` still holds a `removed` value of enum `en`: the
/// conversion would fail.
fn enum_value_in_use(en: &EnumType, removed: &[String], uses: &[EnumUse]) -> Option<Issue> {
    let in_use: i64 = uses.iter().map(|u| u.rows).sum();
    if in_use == 0 {
        return None;
    }
    let at: Vec<String> = uses
        .iter()
        .filter(|u| u.rows > 0)
        .map(|u| format!("{}.{}.{} ({} rows)", u.schema, u.table, u.column, u.rows))
        .collect();
    Some(Issue::new(
        format!("{}.values", en.path),
        code::ENUM_VALUE_IN_USE,
        format!(
            "enum {}.{} value(s) {removed:?} are still used: {}; change those rows first",
            en.schema.as_str(),
            en.name.as_str(),
            at.join(", ")
        ),
    ))
}

/// The steps that recreate enum `en` in its declared values: rename the old type, create the new
/// one, convert each column of `uses` (its default dropped and set again), drop the old type.
fn recreate_enum(en: &EnumType, uses: &[EnumUse], e: &mut Evolution) {
    let q = format!("{}.{}", en.schema, en.name);
    let old = Name::derived(&format!("{}_revos_old", en.name.as_str()));
    e.costed(
        "enum_recreate",
        q.clone(),
        format!("ALTER TYPE {q} RENAME TO {old}"),
        Cost::NONE,
    );
    let vals: Vec<String> = en.values.iter().map(|v| quote_literal(v)).collect();
    e.costed(
        "enum_recreate",
        q.clone(),
        format!("CREATE TYPE {q} AS ENUM ({})", vals.join(", ")),
        Cost::NONE,
    );
    for u in uses {
        let tq = qualified(&u.schema, &u.table);
        let col = Name::from_catalog(&u.column);
        let ty = if u.array { format!("{q}[]") } else { q.clone() };
        let via = if u.array { "text[]" } else { "text" };
        if u.default.is_some() {
            e.step(
                "enum_recreate",
                tq.clone(),
                format!("ALTER TABLE {tq} ALTER COLUMN {col} DROP DEFAULT"),
            );
        }
        e.costed(
            "enum_recreate",
            tq.clone(),
            format!("ALTER TABLE {tq} ALTER COLUMN {col} TYPE {ty} USING {col}::{via}::{ty}"),
            Cost::REWRITE,
        );
        if let Some(d) = &u.default {
            e.step(
                "enum_recreate",
                tq.clone(),
                format!("ALTER TABLE {tq} ALTER COLUMN {col} SET DEFAULT {d}"),
            );
        }
    }
    e.costed(
        "enum_recreate",
        q.clone(),
        format!("DROP TYPE {}.{old}", en.schema),
        Cost::NONE,
    );
}

/// A column using an enum, as it will be named when the type is recreated (evolution renamed
/// its table or itself before); None when evolution drops it (nothing to convert or refuse).
fn after_evolution(s: &Schema, u: &EnumUse) -> Option<EnumUse> {
    if s.drop_tables
        .iter()
        .any(|d| d.schema.as_str() == u.schema && d.name.as_str() == u.table)
    {
        return None;
    }
    let mut out = u.clone();
    let table = s.tables.iter().find(|t| {
        t.schema.as_str() == u.schema
            && (t
                .renamed_from
                .as_ref()
                .is_some_and(|o| o.as_str() == u.table)
                || t.name.as_str() == u.table)
    });
    let Some(t) = table else {
        return Some(out);
    };
    out.table = t.name.as_str().to_string();
    if t.drop_columns.iter().any(|d| d.name.as_str() == u.column) {
        return None;
    }
    if let Some(c) = t.columns.iter().find(|c| {
        c.renamed_from
            .as_ref()
            .is_some_and(|o| o.as_str() == u.column)
    }) {
        out.column = c.name.as_str().to_string();
    }
    Some(out)
}

/// NOT NULL where rows would violate it: a new NOT NULL column without a default (every row
/// would hold NULL) or `not_null` on a column holding NULLs. The risk `set_not_null` gives the
/// count read while planning; allowed anyway, the statement fails and everything rolls back.
fn not_null_on_rows(s: &Schema, state: &CatalogState, e: &mut Evolution) {
    let tcol = s.options.tenant_column.as_str();
    for t in &s.tables {
        let Some(snap) = state.tables.get(&t.key()) else {
            continue;
        };
        let count = |col: Option<&str>| {
            state
                .row_counts
                .get(&(
                    t.schema.as_str().to_string(),
                    t.name.as_str().to_string(),
                    col.map(str::to_string),
                ))
                .copied()
        };
        for c in t.columns.iter().filter(|c| c.not_null) {
            let (n, what) = match snap.column(c.name.as_str()) {
                None if c.default.is_none()
                    && c.generated.is_none()
                    && !(t.tenant_scoped && c.name.as_str() == tcol) =>
                {
                    (
                        count(None),
                        "is a new NOT NULL column without a default; every existing row would hold NULL",
                    )
                }
                Some(live) if !live.not_null => (
                    count(Some(c.name.as_str())),
                    "becomes NOT NULL and rows hold NULL in it",
                ),
                _ => continue,
            };
            let Some(n) = n.filter(|n| *n > 0) else {
                continue;
            };
            e.risks.push(risk(
                &format!("{}.not_null", c.path),
                RiskCode::SetNotNull,
                format!(
                    "{}.{} {what}: {n} row(s), counted; give a default, or fill them first",
                    t.qualified(),
                    c.name.as_str()
                ),
                Some(Rows::Counted(n)),
            ));
        }
    }
}

/// `using` converts values a column already has; on a column the table does not have yet there
/// are none, so it does nothing — said with a warning, not skipped silently. (On a column whose
/// type already matches it does nothing either: the conversion already happened.)
fn using_without_values(s: &Schema, state: &CatalogState, e: &mut Evolution) {
    for t in &s.tables {
        let Some(snap) = state.tables.get(&t.key()) else {
            continue;
        };
        for c in t.columns.iter().filter(|c| c.using.is_some()) {
            if snap.column(c.name.as_str()).is_none() {
                e.warnings.push(format!(
                    "{}.{}: using is for converting existing values; the column is new, so it is not used",
                    t.qualified(),
                    c.name.as_str()
                ));
            }
        }
    }
}

fn risk(path: &str, code: RiskCode, message: String, rows: Option<Rows>) -> Risk {
    Risk {
        path: path.to_string(),
        code,
        message,
        rows: rows.map(Rows::n),
        rows_counted: rows.map(|r| matches!(r, Rows::Counted(_))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::code;
    use crate::schema::plan::plan;
    use crate::schema::validate::tests::{run, MemCatalog};
    use serde_json::{json, Value};

    fn col(n: &str, t: &str, nn: bool) -> ColumnSnapshot {
        ColumnSnapshot {
            name: n.into(),
            sql_type: t.into(),
            not_null: nn,
            has_default: nn,
            generated: false,
            ..Default::default()
        }
    }

    fn idx(n: &str, cols: &[&str], unique: bool) -> IndexSnapshot {
        IndexSnapshot {
            name: n.into(),
            unique,
            method: "btree".into(),
            columns: cols.iter().map(|c| c.to_string()).collect(),
            partial: false,
            ..Default::default()
        }
    }

    /// Table `name` as revos v1 made it, with a caller column `email` (unique per tenant).
    fn revos_table(name: &str, est_rows: Option<i64>) -> TableSnapshot {
        let ts = "timestamp with time zone";
        crate::schema::catalog::testing::as_applied(TableSnapshot {
            columns: vec![
                col("id", "uuid", true),
                col("tenant_id", "uuid", true),
                col("created_at", ts, true),
                col("updated_at", ts, true),
                col("deleted_at", ts, false),
                col("email", "text", false),
            ],
            indexes: vec![
                idx(&format!("{name}_pkey"), &["id"], true),
                idx(&format!("idx_{name}_tenant_id"), &["tenant_id"], false),
                idx(
                    &format!("idx_{name}_created_at"),
                    &["tenant_id", "created_at"],
                    false,
                ),
                idx(&format!("uq_{name}_email"), &["tenant_id", "email"], true),
            ],
            constraints: vec![
                ConstraintSnapshot {
                    name: format!("{name}_pkey"),
                    kind: 'p',
                    ..Default::default()
                },
                ConstraintSnapshot {
                    name: format!("uq_{name}_email"),
                    kind: 'u',
                    ..Default::default()
                },
            ],
            rls_enabled: true,
            rls_forced: true,
            policies: vec![PolicySnapshot {
                name: "revos_tenant_isolation".into(),
                command: '*',
                using: None,
                with_check: None,
                ..Default::default()
            }],
            triggers: vec!["revos_touch_updated_at".into()],
            has_rows: true,
            est_rows,
            ..Default::default()
        })
    }

    fn cat_with(tables: &[(&str, TableSnapshot)]) -> MemCatalog {
        let mut cat = MemCatalog::default();
        for (n, t) in tables {
            cat.tables
                .insert(("public".into(), n.to_string()), t.clone());
        }
        cat
    }

    fn payload(tables: Value) -> Value {
        json!({"schema_version": "2", "description": "d", "tables": tables})
    }

    /// validate → evolve → plan, as `apply` runs them.
    fn pipeline(v: Value, cat: &MemCatalog) -> (Plan, Vec<Issue>) {
        let (s, mut state, mut issues) = run(v, cat);
        let e = evolve(&s, &mut state);
        issues.extend(e.issues.iter().cloned());
        let mut p = plan(&s, &state);
        e.prepend_to(&mut p);
        (p, issues)
    }

    fn codes(p: &Plan) -> Vec<&str> {
        p.risks.iter().map(|r| r.code.as_str()).collect()
    }

    #[test]
    fn table_rename_renames_the_table_and_what_revos_named_after_it() {
        let cat = cat_with(&[("people", revos_table("people", Some(10)))]);
        let (p, issues) = pipeline(
            payload(json!([{"name": "persons", "renamed_from": "people",
                            "columns": [{"name": "email", "type": "text", "unique": true}]}])),
            &cat,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let sql = p.script();
        let want = [
            r#"ALTER TABLE "public"."people" RENAME TO "persons""#,
            r#"ALTER TABLE "public"."persons" RENAME CONSTRAINT "people_pkey" TO "persons_pkey""#,
            r#"ALTER TABLE "public"."persons" RENAME CONSTRAINT "uq_people_email" TO "uq_persons_email""#,
            r#"ALTER INDEX "public"."idx_people_tenant_id" RENAME TO "idx_persons_tenant_id""#,
            r#"ALTER INDEX "public"."idx_people_created_at" RENAME TO "idx_persons_created_at""#,
        ];
        for w in want {
            assert!(sql.contains(w), "missing {w} in\n{sql}");
        }
        // nothing else: the renamed table already is what the schema says
        assert_eq!(p.steps.len(), want.len(), "{sql}");
        assert!(p.risks.is_empty(), "{:?}", p.risks);
    }

    #[test]
    fn table_rename_is_idempotent_and_refuses_two_tables() {
        let v = payload(json!([{"name": "persons", "renamed_from": "people",
                                "columns": [{"name": "email", "type": "text", "unique": true}]}]));
        // already renamed: nothing to do
        let cat = cat_with(&[("persons", revos_table("persons", Some(10)))]);
        let (p, issues) = pipeline(v.clone(), &cat);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            p.script(),
            "",
            "a rename that already happened does nothing"
        );
        // both there
        let cat = cat_with(&[
            ("persons", revos_table("persons", Some(10))),
            ("people", revos_table("people", Some(10))),
        ]);
        let (_, issues) = pipeline(v.clone(), &cat);
        assert_eq!(
            issues
                .iter()
                .map(|i| (i.path.as_str(), i.code))
                .collect::<Vec<_>>(),
            [("tables[0].renamed_from", code::CONFLICTING_DEFINITION)]
        );
        // neither: the table is created
        let (p, issues) = pipeline(v, &MemCatalog::default());
        assert!(issues.is_empty(), "{issues:?}");
        assert!(p.script().starts_with(r#"CREATE TABLE "public"."persons""#));
    }

    #[test]
    fn column_rename_keeps_the_column_and_renames_its_key() {
        let v = payload(json!([{"name": "people",
            "columns": [{"name": "mail", "renamed_from": "email", "type": "text", "unique": true}]}]));
        let cat = cat_with(&[("people", revos_table("people", Some(10)))]);
        let (p, issues) = pipeline(v.clone(), &cat);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            p.script(),
            "ALTER TABLE \"public\".\"people\" RENAME COLUMN \"email\" TO \"mail\";\n\
             ALTER TABLE \"public\".\"people\" RENAME CONSTRAINT \"uq_people_email\" TO \"uq_people_mail\";\n"
        );
        // both columns there
        let mut both = revos_table("people", Some(10));
        both.columns.push(col("mail", "text", false));
        let (_, issues) = pipeline(v.clone(), &cat_with(&[("people", both)]));
        assert_eq!(issues[0].path, "tables[0].columns[0].renamed_from");
        assert_eq!(issues[0].code, code::CONFLICTING_DEFINITION);
        // neither: added as a new column, with a warning naming the old name
        let mut neither = revos_table("people", Some(10));
        neither.columns.retain(|c| c.name != "email");
        let (p, issues) = pipeline(v, &cat_with(&[("people", neither)]));
        assert!(issues.is_empty(), "{issues:?}");
        assert!(
            p.script().contains(r#"ADD COLUMN "mail" text"#),
            "{}",
            p.script()
        );
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("renamed_from \"email\"")),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn drops_are_risks_with_rows_and_idempotent() {
        let mut people = revos_table("people", Some(1234));
        people
            .indexes
            .push(idx("idx_people_legacy", &["email"], false));
        let cat = cat_with(&[
            ("people", people),
            ("old_stuff", revos_table("old_stuff", None)),
        ]);
        let mut cat = cat;
        cat.counts
            .insert(("public".into(), "old_stuff".into(), None), 7);
        let v = json!({"schema_version": "2", "description": "d", "drop_tables": ["old_stuff", "gone_already"],
            "tables": [{"name": "people", "drop_columns": ["email", "neverThere"],
                        "drop_indexes": ["idx_people_legacy", "uq_people_email", "no_such_index"], "columns": []}]});
        let (p, issues) = pipeline(v, &cat);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(
            codes(&p),
            ["drop_table", "drop_index", "drop_index", "drop_column"]
        );
        let r = &p.risks[0];
        assert_eq!(
            (r.rows, r.rows_counted),
            (Some(7), Some(true)),
            "never analyzed: counted"
        );
        assert_eq!(r.path, "drop_tables[0]");
        let r = &p.risks[3];
        assert_eq!(
            (r.rows, r.rows_counted),
            (Some(1234), Some(false)),
            "estimated from reltuples"
        );
        assert_eq!(r.path, "tables[0].drop_columns[0]");
        let sql = p.script();
        for w in [
            r#"DROP TABLE "public"."old_stuff""#,
            r#"DROP INDEX "public"."idx_people_legacy""#,
            r#"ALTER TABLE "public"."people" DROP CONSTRAINT "uq_people_email""#,
            r#"ALTER TABLE "public"."people" DROP COLUMN "email""#,
        ] {
            assert!(sql.contains(w), "missing {w} in\n{sql}");
        }
        assert!(
            !sql.contains("gone_already")
                && !sql.contains("never_there")
                && !sql.contains("no_such_index"),
            "{sql}"
        );
        // the table analyzed: reltuples, not a count
        assert!(
            !cat.asked.borrow().iter().any(|q| q.contains("people")),
            "{:?}",
            cat.asked.borrow()
        );
    }

    #[test]
    fn enum_value_removal_recreates_the_type_or_refuses_when_used() {
        let mut cat = cat_with(&[]);
        cat.enums.insert(
            ("public".into(), "mood".into()),
            vec!["happy".into(), "sad".into(), "meh".into()],
        );
        let use_ = |rows| EnumUse {
            schema: "public".into(),
            table: "diary".into(),
            column: "mood".into(),
            array: false,
            default: Some("'happy'::public.mood".into()),
            rows,
        };
        cat.usage
            .insert(("public".into(), "mood".into()), vec![use_(0)]);
        let v = json!({"schema_version": "2", "description": "d", "tables": [],
                       "enums": [{"name": "mood", "values": ["happy", "sad", "ok"]}]});
        let (p, issues) = pipeline(v.clone(), &cat);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(codes(&p), ["drop_enum_value"]);
        assert_eq!(p.risks[0].rows, Some(0));
        assert_eq!(
            p.script(),
            "ALTER TYPE \"public\".\"mood\" RENAME TO \"mood_revos_old\";\n\
             CREATE TYPE \"public\".\"mood\" AS ENUM ('happy', 'sad', 'ok');\n\
             ALTER TABLE \"public\".\"diary\" ALTER COLUMN \"mood\" DROP DEFAULT;\n\
             ALTER TABLE \"public\".\"diary\" ALTER COLUMN \"mood\" TYPE \"public\".\"mood\" USING \"mood\"::text::\"public\".\"mood\";\n\
             ALTER TABLE \"public\".\"diary\" ALTER COLUMN \"mood\" SET DEFAULT 'happy'::public.mood;\n\
             DROP TYPE \"public\".\"mood_revos_old\";\n",
            "recreated, so no ADD VALUE for 'ok' either"
        );
        cat.usage
            .insert(("public".into(), "mood".into()), vec![use_(3)]);
        let (_, issues) = pipeline(v.clone(), &cat);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(
            (issues[0].path.as_str(), issues[0].code),
            ("enums[0].values", code::ENUM_VALUE_IN_USE)
        );
        assert!(issues[0].message.contains("public.diary.mood (3 rows)"));
        // the column's table renamed and the column renamed before: converted under the new
        // names; a dropped column is neither converted nor counted
        let mut v2 = v.clone();
        v2["tables"] = json!([{"name": "journal", "renamed_from": "diary", "drop_columns": ["old_mood"],
            "columns": [{"name": "feeling", "renamed_from": "mood", "type": "mood"}]}]);
        let mut dropped = use_(5);
        dropped.column = "old_mood".into();
        cat.usage
            .insert(("public".into(), "mood".into()), vec![use_(0), dropped]);
        let mut diary = TableSnapshot::default();
        diary.columns = vec![
            col("mood", "\"public\".\"mood\"", false),
            col("old_mood", "\"public\".\"mood\"", false),
        ];
        cat.tables.insert(("public".into(), "diary".into()), diary);
        let (p, issues) = pipeline(v2, &cat);
        assert!(issues.is_empty(), "{issues:?}");
        let sql = p.script();
        assert!(
            sql.contains(r#"ALTER TABLE "public"."journal" ALTER COLUMN "feeling" TYPE "public"."mood" USING "feeling"::text"#),
            "{sql}"
        );
        assert!(!sql.contains("old_mood\" TYPE"), "{sql}");
        let convert = p
            .steps
            .iter()
            .find(|st| st.sql.contains("\"feeling\" TYPE"))
            .unwrap();
        assert!(convert.rewrites, "ALTER COLUMN … TYPE rewrites the table");
    }

    #[test]
    fn not_null_on_rows_is_a_risk_with_the_count() {
        let mut cat = cat_with(&[("people", revos_table("people", Some(10)))]);
        cat.counts
            .insert(("public".into(), "people".into(), None), 10);
        cat.counts
            .insert(("public".into(), "people".into(), Some("email".into())), 4);
        let v = payload(json!([{"name": "people", "columns": [
            {"name": "email", "type": "text", "unique": true, "not_null": true},
            {"name": "code", "type": "text", "not_null": true},
            {"name": "flag", "type": "boolean", "not_null": true, "default": "false"}]}]));
        let (p, issues) = pipeline(v, &cat);
        assert!(issues.is_empty(), "{issues:?}");
        let got: Vec<(&str, Option<i64>)> =
            p.risks.iter().map(|r| (r.path.as_str(), r.rows)).collect();
        assert_eq!(
            got,
            [
                ("tables[0].columns[0].not_null", Some(4)),
                ("tables[0].columns[1].not_null", Some(10))
            ],
            "a NOT NULL with a default is no risk"
        );
        // no NULLs: nothing to risk
        let mut cat = cat_with(&[("people", revos_table("people", Some(10)))]);
        cat.counts
            .insert(("public".into(), "people".into(), Some("email".into())), 0);
        let v = payload(json!([{"name": "people", "columns": [
            {"name": "email", "type": "text", "unique": true, "not_null": true}]}]));
        let (p, _) = pipeline(v, &cat);
        assert!(p.risks.is_empty(), "{:?}", p.risks);
        assert!(p.script().contains(r#"ALTER COLUMN "email" SET NOT NULL"#));
    }

    #[test]
    fn rows_that_cannot_be_counted_block_with_an_issue() {
        let mut cat = cat_with(&[("people", revos_table("people", Some(10)))]);
        cat.unreadable.push(("public".into(), "people".into()));
        let v = payload(json!([{"name": "people", "columns": [
            {"name": "email", "type": "text", "unique": true, "not_null": true}]}]));
        let (_, issues) = pipeline(v, &cat);
        let got: Vec<(&str, &str)> = issues.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert_eq!(got, [("$.tables[0]", code::ROWS_UNREADABLE)], "{issues:?}");
        assert!(issues[0].message.contains("public.people"));
        assert!(issues[0].message.contains("42501"));
    }

    #[test]
    fn after_a_rename_the_snapshot_reads_as_postgres_will_show_it() {
        let mut people = revos_table("people", Some(2_000_000));
        people.columns[5].default = Some("lower(email)".into());
        people.indexes[3].definition = Some("btree (tenant_id, email)".into());
        people.constraints.push(ConstraintSnapshot {
            name: "ck_people_email".into(),
            kind: 'c',
            definition: Some("CHECK ((email <> ''::text))".into()),
            foreign_key: None,
            ..Default::default()
        });
        let mut kids = revos_table("kids", Some(5));
        kids.constraints.push(ConstraintSnapshot {
            name: "fk_kids_parent".into(),
            kind: 'f',
            definition: None,
            foreign_key: Some(ForeignKeySnapshot {
                columns: vec!["tenant_id".into(), "parent".into()],
                target_schema: "public".into(),
                target_table: "people".into(),
                target_columns: vec!["tenant_id".into(), "email".into()],
                ..Default::default()
            }),
            ..Default::default()
        });
        let cat = cat_with(&[("people", people), ("kids", kids)]);
        let (s, mut state, issues) = run(
            payload(json!([
                {"name": "persons", "renamed_from": "people", "columns": [
                    {"name": "mail", "renamed_from": "email", "type": "text", "unique": true}]},
                {"name": "kids", "columns": [{"name": "parent", "type": "text"}]}])),
            &cat,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let e = evolve(&s, &mut state);
        let sn = &state.tables[&("public".to_string(), "persons".to_string())];
        assert_eq!(sn.columns[5].name, "mail");
        assert_eq!(sn.columns[5].default.as_deref(), Some("lower(mail)"));
        assert_eq!(
            sn.index("uq_persons_mail").unwrap().definition.as_deref(),
            Some("btree (tenant_id, mail)")
        );
        assert_eq!(
            sn.constraints.last().unwrap().definition.as_deref(),
            Some("CHECK ((mail <> ''::text))")
        );
        let fk = state.tables[&("public".to_string(), "kids".to_string())]
            .constraints
            .last()
            .unwrap()
            .foreign_key
            .clone()
            .unwrap();
        assert_eq!(
            (fk.target_table.as_str(), fk.target_columns),
            ("persons", vec!["tenant_id".to_string(), "mail".to_string()])
        );
        // every step states its cost: ACCESS EXCLUSIVE, no rewrite, the table's rows
        assert!(e
            .steps
            .iter()
            .all(|st| st.est_rows == Some(2_000_000) && !st.rewrites && st.lock.is_some()));
        let mut p = Plan::default();
        e.prepend_to(&mut p);
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("\"public\".\"persons\" holds about 2000000 rows")),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn renaming_an_identifier_in_deparsed_sql() {
        for (text, want) in [
            ("(email <> ''::text)", "(mail <> ''::text)"),
            ("lower(email)", "lower(mail)"),
            ("UNIQUE (tenant_id, email)", "UNIQUE (tenant_id, mail)"),
            ("(\"email\" = 'email')", "(mail = 'email')"),
            ("(x.email = email(1))", "(x.email = email(1))"),
            (
                "('a''email' || email_2 || email)",
                "('a''email' || email_2 || mail)",
            ),
            ("(v)::email", "(v)::email"),
        ] {
            assert_eq!(rename_identifier(text, "email", "mail"), want, "{text}");
        }
        assert_eq!(
            rename_identifier("(a > 0)", "a", "Odd Name"),
            "(\"Odd Name\" > 0)"
        );
    }

    #[test]
    fn using_converts_a_type_change() {
        let cat = cat_with(&[("people", revos_table("people", Some(10)))]);
        let v = payload(json!([{"name": "people", "columns": [
            {"name": "email", "type": "integer", "unique": true, "using": "nullif(email, '')::integer"}]}]));
        let (p, issues) = pipeline(v, &cat);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(codes(&p), ["type_change"]);
        assert!(
            p.script().contains(
                r#"ALTER COLUMN "email" TYPE integer USING (nullif(email, '')::integer)"#
            ),
            "{}",
            p.script()
        );
        assert!(
            cat.asked
                .borrow()
                .contains(&"nullif(email, '')::integer".to_string()),
            "using is parsed by the catalog like any expression"
        );
        // on a new column there is nothing to convert: said, not skipped silently
        let v = payload(json!([{"name": "people", "columns": [
            {"name": "email", "type": "text", "unique": true},
            {"name": "age", "type": "integer", "using": "1"}]}]));
        let (p, _) = pipeline(v, &cat);
        assert!(
            p.warnings.iter().any(|w| w.contains("age: using")),
            "{:?}",
            p.warnings
        );
        // a hostile using never reaches SQL
        let v = payload(json!([{"name": "people", "columns": [
            {"name": "email", "type": "integer", "using": "1); DROP TABLE people; --"}]}]));
        let (_, issues) = pipeline(v, &cat);
        assert_eq!(
            issues
                .iter()
                .map(|i| (i.path.as_str(), i.code))
                .collect::<Vec<_>>(),
            [("tables[0].columns[0].using", code::INVALID_EXPRESSION)]
        );
    }
}
