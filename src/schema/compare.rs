//! What "the catalog matches the spec" means, property by property: one predicate per declared
//! property, used by `plan` (to decide what to change on an existing table) and by `verify` (to
//! prove the change landed). Pure.
//!
//! Expressions are compared as Postgres deparses them, never by name or substring: the catalog
//! side comes from the snapshot (`pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`, the
//! policy's `polqual` / `polwithcheck`), the spec side from [`Declared`] — the same functions run
//! on a shadow of the table built from the spec (`apply::shadow`), both under
//! `search_path = pg_catalog`. Foreign keys are compared structurally (columns, target,
//! `confdeltype` / `confupdtype` / `confdelsetcols`), comments and types as text.
//!
//! Each predicate answers `Some(true)` (matches), `Some(false)` (differs) or `None` (cannot tell:
//! the spec side was not deparsed — a table this call creates, or a shadow Postgres refused).

use crate::ident::Name;
use crate::schema::model::*;

/// The default: the spec's deparsed default against `pg_get_expr(adbin)`.
pub fn default_matches(c: &Column, live: &ColumnSnapshot, d: Option<&Declared>) -> Option<bool> {
    match (&c.default, &live.default) {
        // a snapshot read without expressions knows only that there is a default
        (_, None) if live.has_default => None,
        (None, None) => Some(true),
        (None, Some(_)) => Some(false),
        (Some(_), None) => Some(false),
        (Some(_), Some(have)) => d
            .and_then(|d| d.defaults.get(c.name.as_str()))
            .map(|want| want == have),
    }
}

/// The generated expression (`GENERATED ALWAYS AS (…) STORED`).
pub fn generated_matches(c: &Column, live: &ColumnSnapshot, d: Option<&Declared>) -> Option<bool> {
    match (&c.generated, live.generated) {
        (None, false) => Some(true),
        (None, true) | (Some(_), false) => Some(false),
        (Some(_), true) => {
            let want = d.and_then(|d| d.generated.get(c.name.as_str()))?;
            Some(live.expression.as_ref() == Some(want))
        }
    }
}

/// A comment compares only when the spec declares one (an undeclared comment is left alone).
pub fn comment_matches(want: &Option<String>, have: &Option<String>) -> bool {
    want.is_none() || want == have
}

/// A check constraint, by `pg_get_constraintdef`. A constraint added `NOT VALID` (a changed
/// check that existing rows violate, applied with allow_destructive) matches its definition.
pub fn check_matches(c: &Check, sn: &TableSnapshot, d: Option<&Declared>) -> Option<bool> {
    let live = sn.constraint(c.name.as_str())?;
    if live.kind != 'c' {
        return Some(false);
    }
    let want = d.and_then(|d| d.checks.get(c.name.as_str()))?;
    let have = live.definition.as_deref()?;
    Some(have.strip_suffix(" NOT VALID").unwrap_or(have) == want)
}

/// A unique constraint: a `u` constraint whose index has exactly these key columns, not partial.
pub fn unique_matches(u: &Unique, sn: &TableSnapshot) -> Option<bool> {
    let live = sn.constraint(u.name.as_str())?;
    let cols: Vec<&str> = u.columns.iter().map(Name::as_str).collect();
    let index = sn.index(u.name.as_str());
    Some(live.kind == 'u' && index.is_some_and(|i| i.unique && !i.partial && i.columns == cols))
}

/// The structure a foreign key must have in `pg_constraint`.
pub fn fk_expected(fk: &ForeignKey, o: &Options) -> ForeignKeySnapshot {
    let (from, to) = if fk.tenant_bound {
        (
            vec![o.tenant_column.clone(), fk.column.clone()],
            vec![o.tenant_column.clone(), fk.target_column.clone()],
        )
    } else {
        (vec![fk.column.clone()], vec![fk.target_column.clone()])
    };
    let names = |v: &[Name]| v.iter().map(|n| n.as_str().to_string()).collect::<Vec<_>>();
    let set_cols = match fk.on_delete {
        Some(FkAction::SetNull | FkAction::SetDefault) if fk.tenant_bound => {
            vec![fk.column.as_str().to_string()]
        }
        _ => vec![],
    };
    ForeignKeySnapshot {
        columns: names(&from),
        target_schema: fk.target_schema.as_str().to_string(),
        target_table: fk.target_table.as_str().to_string(),
        target_columns: names(&to),
        on_delete: fk.on_delete.unwrap_or(FkAction::NoAction).catalog_char(),
        on_update: fk.on_update.unwrap_or(FkAction::NoAction).catalog_char(),
        delete_set_columns: set_cols,
    }
}

/// A foreign key: columns, target table and columns, actions — structurally.
pub fn fk_matches(fk: &ForeignKey, o: &Options, sn: &TableSnapshot) -> Option<bool> {
    let live = sn.constraint(fk.name.as_str())?;
    Some(live.foreign_key.as_ref() == Some(&fk_expected(fk, o)))
}

/// An index: uniqueness, then method, keys, INCLUDE and WHERE as `pg_get_indexdef` shows them.
/// Without a deparsed spec side, the structure Postgres keeps (method, key columns, uniqueness,
/// whether it is partial) is compared.
pub fn index_matches(x: &Index, sn: &TableSnapshot, d: Option<&Declared>) -> Option<bool> {
    let live = sn.index(x.name.as_str())?;
    if live.unique != x.unique {
        return Some(false);
    }
    match (
        d.and_then(|d| d.indexes.get(x.name.as_str())),
        &live.definition,
    ) {
        (Some(want), Some(have)) => Some(want == have),
        _ => {
            let cols: Vec<&str> = x.columns.iter().map(Name::as_str).collect();
            Some(
                live.method == x.method.sql()
                    && live.columns == cols
                    && live.partial == x.where_.is_some(),
            )
        }
    }
}

/// The tenant policy: FOR ALL, PERMISSIVE, TO PUBLIC, and USING / WITH CHECK as deparsed.
/// Without a deparsed spec side, only its shape (command, permissive, roles, both expressions
/// present) is compared.
pub fn policy_matches(sn: &TableSnapshot, d: Option<&Declared>) -> Option<bool> {
    let live = sn
        .policies
        .iter()
        .find(|p| p.name == Table::policy_name().as_str())?;
    // A policy always has a role: no roles means a snapshot read without policy details.
    if live.roles.is_empty() {
        return Some(live.command == '*');
    }
    let shape = live.command == '*' && live.permissive && live.roles == ["public"];
    if !shape {
        return Some(false);
    }
    match d.and_then(|d| d.policy.as_ref()) {
        Some((using, check)) => Some(&live.using == using && &live.with_check == check),
        None => Some(live.using.is_some() && live.with_check.is_some()),
    }
}

/// Policies on a tenant-scoped table other than revos's: a PERMISSIVE one is OR-ed with the
/// tenant policy and widens what a tenant sees (`foreign_policy`); a RESTRICTIVE one only
/// narrows it (a warning).
pub fn foreign_policies<'a>(t: &Table, sn: &'a TableSnapshot) -> Vec<&'a PolicySnapshot> {
    sn.policies
        .iter()
        .filter(|p| p.name != Table::policy_name().as_str())
        .filter(|p| t.tenant_scoped && t.rls && p.permissive)
        .collect()
}

/// Objects on a managed table that the spec does not declare, by kind and name (columns are
/// reported by `plan`'s column diff): constraints, indexes that back no constraint, triggers,
/// and policies that are not a `foreign_policy`.
pub fn undeclared(s: &Schema, t: &Table, sn: &TableSnapshot) -> Vec<(&'static str, String)> {
    let mut out = vec![];
    let tenant_key_prefix = format!(
        "uq_{}_{}_",
        t.name.as_str(),
        s.options.tenant_column.as_str()
    );
    let declared_constraint = |n: &str| {
        t.uniques.iter().any(|u| u.name.as_str() == n)
            || t.checks.iter().any(|c| c.name.as_str() == n)
            || t.foreign_keys.iter().any(|f| f.name.as_str() == n)
            || n.starts_with(&tenant_key_prefix)
            || t.derived_renames.iter().any(|r| r.from.as_str() == n)
    };
    for c in &sn.constraints {
        // primary keys are adopted as they are; `n` is PostgreSQL 18's NOT NULL constraint
        if matches!(c.kind, 'p' | 'n') || declared_constraint(&c.name) {
            continue;
        }
        out.push(("constraint", c.name.clone()));
    }
    for x in sn.indexes.iter().filter(|x| !x.constraint) {
        if !t.indexes.iter().any(|i| i.name.as_str() == x.name)
            && !t.drop_indexes.iter().any(|d| d.name.as_str() == x.name)
        {
            out.push(("index", x.name.clone()));
        }
    }
    for tg in &sn.triggers {
        if tg != Table::trigger_name().as_str() {
            out.push(("trigger", tg.clone()));
        }
    }
    let foreign: Vec<&str> = foreign_policies(t, sn)
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    for p in &sn.policies {
        if p.name != Table::policy_name().as_str() && !foreign.contains(&p.name.as_str()) {
            out.push(("policy", p.name.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::validate::tests::{run, MemCatalog};
    use serde_json::json;

    fn table() -> (Schema, Table) {
        let (s, _, issues) = run(
            json!({"schema_version": "1", "description": "d", "tables": [
                {"name": "parts", "tenant_scoped": false, "columns": []},
                {"name": "items", "columns": [
                    {"name": "qty", "type": "integer", "default": "1", "check": "qty >= 0"},
                    {"name": "part_id", "type": "uuid", "references": {"table": "parts", "on_delete": "cascade"}}]}]}),
            &MemCatalog::default(),
        );
        assert!(issues.is_empty(), "{issues:?}");
        let t = s.tables[1].clone();
        (s, t)
    }

    #[test]
    fn defaults_compare_deparsed_text_and_presence() {
        let (_, t) = table();
        let c = t.column(&Name::from_catalog("qty")).unwrap();
        let live = |d: Option<&str>| ColumnSnapshot {
            name: "qty".into(),
            default: d.map(str::to_string),
            ..Default::default()
        };
        let mut d = Declared::default();
        d.defaults.insert("qty".into(), "1".into());
        assert_eq!(default_matches(c, &live(Some("1")), Some(&d)), Some(true));
        assert_eq!(default_matches(c, &live(Some("5")), Some(&d)), Some(false));
        assert_eq!(default_matches(c, &live(None), Some(&d)), Some(false));
        assert_eq!(default_matches(c, &live(Some("1")), None), None);
    }

    #[test]
    fn foreign_keys_compare_structurally() {
        let (s, t) = table();
        let fk = &t.foreign_keys[0];
        let mut live = fk_expected(fk, &s.options);
        assert_eq!(live.on_delete, 'c');
        let sn = |f: ForeignKeySnapshot| TableSnapshot {
            constraints: vec![ConstraintSnapshot {
                name: fk.name.as_str().into(),
                kind: 'f',
                foreign_key: Some(f),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(fk_matches(fk, &s.options, &sn(live.clone())), Some(true));
        live.on_delete = 'r';
        assert_eq!(fk_matches(fk, &s.options, &sn(live.clone())), Some(false));
        live.on_delete = 'c';
        live.target_table = "other".into();
        assert_eq!(fk_matches(fk, &s.options, &sn(live)), Some(false));
        assert_eq!(fk_matches(fk, &s.options, &TableSnapshot::default()), None);
    }

    #[test]
    fn permissive_policies_other_than_revos_are_foreign() {
        let (s, t) = table();
        let pol = |n: &str, permissive: bool| PolicySnapshot {
            name: n.into(),
            command: '*',
            permissive,
            roles: vec!["public".into()],
            using: Some("true".into()),
            with_check: None,
        };
        let sn = TableSnapshot {
            policies: vec![
                pol("revos_tenant_isolation", true),
                pol("leftover", true),
                pol("narrow", false),
            ],
            triggers: vec!["revos_touch_updated_at".into(), "audit".into()],
            ..Default::default()
        };
        let f: Vec<&str> = foreign_policies(&t, &sn)
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(f, ["leftover"]);
        assert_eq!(
            undeclared(&s, &t, &sn),
            [
                ("trigger", "audit".to_string()),
                ("policy", "narrow".to_string())
            ]
        );
        // the revos policy with USING (true) is not the tenant policy
        let mut bad = sn.clone();
        bad.policies[0].with_check = None;
        assert_eq!(policy_matches(&bad, None), Some(false));
    }
}
