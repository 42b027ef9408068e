//! What "the catalog matches the spec" means, property by property: one predicate per row of
//! the property table (`properties`), used by `plan` (to decide what to change on an existing
//! table) and by `verify` (to prove the change landed). Pure.
//!
//! Expressions are compared as Postgres deparses them, never by name or substring: the catalog
//! side comes from the snapshot (`pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`,
//! `pg_get_triggerdef`, the policy's `polqual` / `polwithcheck`), the spec side from
//! [`Declared`] — the same functions run on a shadow of the table built from the spec
//! (`apply::shadow`), both under `search_path = pg_catalog, pg_temp`. Keys are compared
//! structurally (columns, target, actions, match, deferrable, validated), comments and types as
//! text.
//!
//! Each predicate answers a [`Verdict`]: `Same`, `Differs`, or `Unknown(why)` when one side could
//! not be read or deparsed (no privilege to build the shadow, a lock timeout, a deparse error).
//! `Unknown` is never equal: `plan` turns it into the risk `cannot_compare`, `verify` into a
//! mismatch.

use crate::ident::Name;
use crate::schema::model::*;

/// How one comparison came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Same,
    Differs,
    /// One side could not be read or deparsed: why.
    Unknown(String),
}

impl Verdict {
    pub fn of(same: bool) -> Verdict {
        if same {
            Verdict::Same
        } else {
            Verdict::Differs
        }
    }
    pub fn is_same(&self) -> bool {
        *self == Verdict::Same
    }
    pub fn differs(&self) -> bool {
        *self == Verdict::Differs
    }
    /// `Same` and `Differs` as they are; `Unknown` through `f`.
    pub fn or_else(self, f: impl FnOnce(String) -> Verdict) -> Verdict {
        match self {
            Verdict::Unknown(why) => f(why),
            v => v,
        }
    }
}

/// The spec side of an existing table, or why there is none.
fn declared<'a>(sn: &'a TableSnapshot, d: Option<&'a Declared>) -> Result<&'a Declared, String> {
    d.ok_or_else(|| {
        sn.unreadable
            .clone()
            .unwrap_or_else(|| "the declared form was not deparsed".into())
    })
}

/// One deparsed object of the spec side, or why Postgres could not build it on the shadow.
fn declared_form<'a>(
    sn: &'a TableSnapshot,
    d: Option<&'a Declared>,
    map: impl FnOnce(&'a Declared) -> Option<&'a String>,
    key: &str,
) -> Result<&'a String, String> {
    let d = declared(sn, d)?;
    map(d).ok_or_else(|| {
        d.failed
            .get(key)
            .cloned()
            .unwrap_or_else(|| format!("{key} was not deparsed"))
    })
}

/// The live side's expressions, or why they could not be read.
fn live_readable(sn: &TableSnapshot) -> Result<(), String> {
    match &sn.unreadable {
        Some(why) => Err(why.clone()),
        None => Ok(()),
    }
}

/// The column type, as Postgres renders it (`format_type`; user types schema-qualified).
pub fn column_type(c: &Column, live: &ColumnSnapshot) -> Verdict {
    Verdict::of(live.sql_type == c.sql_type.as_deref().unwrap_or_default())
}

/// NOT NULL, both ways: declared (or in the primary key) and in the catalog.
pub fn not_null(want: bool, live: &ColumnSnapshot) -> Verdict {
    Verdict::of(want == live.not_null)
}

/// The default: the spec's deparsed default against `pg_get_expr(adbin)`.
pub fn default(
    c: &Column,
    live: &ColumnSnapshot,
    sn: &TableSnapshot,
    d: Option<&Declared>,
) -> Verdict {
    if live.identity.is_some() || c.identity.is_some() {
        // an identity column's value comes from its sequence (see `identity`)
        return Verdict::of(c.default.is_none() && live.default.is_none());
    }
    match (&c.default, &live.default) {
        (None, None) if !live.has_default => Verdict::Same,
        (None, _) => Verdict::Differs,
        (Some(_), None) if !live.has_default => Verdict::Differs,
        (Some(_), None) => Verdict::Unknown("the live default was not read".into()),
        (Some(_), Some(have)) => {
            match declared_form(sn, d, |d| d.defaults.get(c.name.as_str()), c.name.as_str()) {
                Ok(want) => Verdict::of(want == have),
                Err(why) => Verdict::Unknown(why),
            }
        }
    }
}

/// The generated expression (`GENERATED ALWAYS AS (…) STORED`).
pub fn generated(
    c: &Column,
    live: &ColumnSnapshot,
    sn: &TableSnapshot,
    d: Option<&Declared>,
) -> Verdict {
    match (&c.generated, live.generated) {
        (None, false) => Verdict::Same,
        (None, true) | (Some(_), false) => Verdict::Differs,
        // stored or virtual (PostgreSQL 18): another kind is another column
        (Some(_), true)
            if live
                .generated_kind
                .is_some_and(|k| k != if c.virtual_ { 'v' } else { 's' }) =>
        {
            Verdict::Differs
        }
        (Some(_), true) => {
            if let Err(why) = live_readable(sn) {
                return Verdict::Unknown(why);
            }
            match declared_form(sn, d, |d| d.generated.get(c.name.as_str()), c.name.as_str()) {
                Ok(want) => Verdict::of(live.expression.as_ref() == Some(want)),
                Err(why) => Verdict::Unknown(why),
            }
        }
    }
}

/// Identity (`GENERATED ALWAYS | BY DEFAULT AS IDENTITY`): declared or not, and which.
pub fn identity(c: &Column, live: &ColumnSnapshot) -> Verdict {
    Verdict::of(c.identity.map(Identity::catalog_char) == live.identity)
}

/// The collation: declared (None: the type's default) against the catalog's.
pub fn collation(c: &Column, live: &ColumnSnapshot) -> Verdict {
    Verdict::of(c.collation == live.collation)
}

/// A comment compares only when the spec declares one; `""` declares "no comment".
pub fn comment(want: &Option<String>, have: &Option<String>) -> Verdict {
    match want.as_deref() {
        None => Verdict::Same,
        Some("") => Verdict::of(have.is_none()),
        Some(w) => Verdict::of(have.as_deref() == Some(w)),
    }
}

/// The primary key's columns, in order.
pub fn primary_key(t: &Table, sn: &TableSnapshot) -> Verdict {
    let want: Vec<&str> = t.primary_key.iter().map(Name::as_str).collect();
    match sn.constraints.iter().find(|c| c.kind == 'p') {
        None => Verdict::of(want.is_empty()),
        Some(pk) => Verdict::of(pk.columns == want && !pk.deferrable),
    }
}

/// A check constraint, by `pg_get_constraintdef` (without `NOT VALID`: whether it is validated
/// is its own property, [`validated`]).
pub fn check(c: &Check, sn: &TableSnapshot, d: Option<&Declared>) -> Verdict {
    let Some(live) = sn.constraint(c.name.as_str()) else {
        return Verdict::Differs;
    };
    if live.kind != 'c' {
        return Verdict::Differs;
    }
    let Some(have) = live.definition.as_deref() else {
        return Verdict::Unknown(format!("the definition of {} was not read", c.name));
    };
    match declared_form(sn, d, |d| d.checks.get(c.name.as_str()), c.name.as_str()) {
        Ok(want) => Verdict::of(have.strip_suffix(" NOT VALID").unwrap_or(have) == want),
        Err(why) => Verdict::Unknown(why),
    }
}

/// A constraint that exists is validated (`convalidated`): its rows were all checked.
pub fn validated(name: &Name, sn: &TableSnapshot) -> Verdict {
    match sn.constraint(name.as_str()) {
        None => Verdict::Differs,
        Some(c) => Verdict::of(!c.not_valid),
    }
}

/// A unique constraint: a `u` constraint whose index has exactly these key columns, not partial,
/// valid, not deferrable, NULLS DISTINCT (a payload cannot declare NULLS NOT DISTINCT, which
/// refuses rows the declared key accepts).
pub fn unique(u: &Unique, sn: &TableSnapshot) -> Verdict {
    let Some(live) = sn.constraint(u.name.as_str()) else {
        return Verdict::Differs;
    };
    let cols: Vec<&str> = u.columns.iter().map(Name::as_str).collect();
    let index = sn.index(u.name.as_str());
    Verdict::of(
        live.kind == 'u'
            && !live.deferrable
            && index.is_some_and(|i| {
                i.unique && !i.partial && !i.invalid && !i.nulls_not_distinct && i.columns == cols
            }),
    )
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
        match_type: 's',
    }
}

/// A foreign key: columns, target table and columns, actions, MATCH SIMPLE, not deferrable —
/// structurally (whether it is validated is [`validated`]).
pub fn foreign_key(fk: &ForeignKey, o: &Options, sn: &TableSnapshot) -> Verdict {
    let Some(live) = sn.constraint(fk.name.as_str()) else {
        return Verdict::Differs;
    };
    Verdict::of(live.foreign_key.as_ref() == Some(&fk_expected(fk, o)) && !live.deferrable)
}

/// Whether only the actions, the match type or deferrability differ (the same columns and
/// target): then the key is replaced without the risk `fk_change`.
pub fn fk_same_target(fk: &ForeignKey, o: &Options, sn: &TableSnapshot) -> bool {
    let want = fk_expected(fk, o);
    sn.constraint(fk.name.as_str())
        .and_then(|c| c.foreign_key.as_ref())
        .is_some_and(|f| {
            f.columns == want.columns
                && f.target_schema == want.target_schema
                && f.target_table == want.target_table
                && f.target_columns == want.target_columns
        })
}

/// An index: valid, uniqueness, then method, keys, INCLUDE and WHERE as `pg_get_indexdef` shows
/// them. On a table this call created from the spec's own text (`created`, and no deparsed spec
/// side for the index), the structure Postgres keeps (method, key columns, uniqueness, whether it
/// is partial) is compared.
pub fn index(x: &Index, sn: &TableSnapshot, d: Option<&Declared>, created: bool) -> Verdict {
    let Some(live) = sn.index(x.name.as_str()) else {
        return Verdict::Differs;
    };
    // NULLS NOT DISTINCT: also in pg_get_indexdef, but not in the structure compared below
    if live.unique != x.unique || live.invalid || live.nulls_not_distinct {
        return Verdict::Differs;
    }
    if created && d.is_none_or(|d| !d.indexes.contains_key(x.name.as_str())) {
        return Verdict::of(
            live.method == x.method.sql()
                && live.columns == x.key_names()
                && live.partial == x.where_.is_some(),
        );
    }
    let Some(have) = &live.definition else {
        return Verdict::Unknown(
            sn.unreadable
                .clone()
                .unwrap_or_else(|| format!("the definition of index {} was not read", x.name)),
        );
    };
    match declared_form(sn, d, |d| d.indexes.get(x.name.as_str()), x.name.as_str()) {
        Ok(want) => Verdict::of(want == have),
        Err(why) => Verdict::Unknown(why),
    }
}

/// The `updated_at` trigger's definition as the snapshot reads it (`pg_get_triggerdef`, the table's
/// name left out), enabled.
fn touch_trigger_def() -> String {
    format!(
        "CREATE TRIGGER {} BEFORE UPDATE ON <table> FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at()",
        Table::trigger_name().as_str()
    )
}

/// Whether the `updated_at` trigger is revos's but does not fire in an ordinary session: disabled,
/// or ENABLE REPLICA (the snapshot's suffix after `pg_get_triggerdef`; ENABLE ALWAYS fires, and
/// is the same). `ALTER TABLE … ENABLE TRIGGER` brings it back (on the table and, PostgreSQL 15 to
/// 18 alike, on every partition's clone).
pub fn touch_trigger_not_firing(sn: &TableSnapshot) -> bool {
    sn.trigger_defs
        .get(Table::trigger_name().as_str())
        .and_then(|have| have.strip_prefix(&touch_trigger_def()))
        .is_some_and(|rest| matches!(rest, " -- DISABLED" | " -- ENABLE REPLICA"))
}

/// The declared partitions of `t` on which revos's `updated_at` trigger does not fire in an
/// ordinary session: its clone there DISABLEd or ENABLE REPLICA (`ALTER TABLE <partition> …`
/// sets a clone apart from the table's trigger; a partition's rows fire the partition's clone), or
/// on one of its own partitions when it was made partitioned by hand (one level below it; a
/// further level is not read). ENABLE ALWAYS fires, and is the same. A partition the payload does
/// not declare is not compared (`schema::children` names it).
pub fn touch_trigger_off_on_partitions<'a>(t: &'a Table, sn: &TableSnapshot) -> Vec<&'a Name> {
    let name = Table::trigger_name();
    t.partitions
        .iter()
        .filter(|p| {
            sn.partition_triggers.iter().any(|o| {
                let on_p = match o.level {
                    1 => o.schema == t.schema.as_str() && o.partition == p.as_str(),
                    // a partition of the declared partition (made partitioned by hand): its rows
                    // fire that clone (the review of 2e63b4d, 1)
                    _ => o.parent.0 == t.schema.as_str() && o.parent.1 == p.as_str(),
                };
                on_p && o.trigger == name.as_str() && matches!(o.enabled, 'D' | 'R')
            })
        })
        .collect()
}

/// The name of revos's `updated_at` trigger's clone on the declared partition `p` of `t`: the
/// trigger's own, unless the clone was renamed (a database upgraded from PostgreSQL 14 or older,
/// which let a clone be renamed: the review of f468776, 4).
pub fn touch_trigger_clone(t: &Table, sn: &TableSnapshot, p: &Name) -> Name {
    let name = Table::trigger_name();
    sn.partition_triggers
        .iter()
        .find(|o| {
            o.level == 1
                && o.trigger == name.as_str()
                && o.schema == t.schema.as_str()
                && o.partition == p.as_str()
        })
        .map_or(name, |o| Name::from_catalog(&o.clone))
}

/// How the `updated_at` trigger is brought back when it differs.
#[derive(Debug, PartialEq)]
pub enum TouchFix<'a> {
    /// revos's, not firing on the table: `ALTER TABLE ONLY <table> ENABLE TRIGGER`, and the
    /// declared partitions' clones that do not fire enabled each.
    Enable,
    /// revos's and firing on the table, not on these declared partitions: `ALTER TABLE ONLY
    /// <partition> ENABLE TRIGGER` on each (the clone; nothing dropped, no other partition locked).
    EnableOn(Vec<&'a Name>),
    /// missing or not revos's: (dropped and) created.
    Create,
}

/// What brings the `updated_at` trigger of `t` back to revos's (once [`touch_trigger`] differs).
pub fn touch_trigger_fix<'a>(t: &'a Table, sn: &TableSnapshot) -> TouchFix<'a> {
    if touch_trigger_not_firing(sn) {
        return TouchFix::Enable;
    }
    let off = touch_trigger_off_on_partitions(t, sn);
    let revos = sn.trigger_defs.get(Table::trigger_name().as_str()) == Some(&touch_trigger_def());
    if revos && !off.is_empty() {
        return TouchFix::EnableOn(off);
    }
    TouchFix::Create
}

/// The `updated_at` trigger, by its definition (`pg_get_triggerdef`, the table's name left out):
/// BEFORE UPDATE, FOR EACH ROW, no WHEN, revos.touch_updated_at() — and firing: a trigger
/// disabled or ENABLE REPLICA differs (the snapshot reads `tgenabled` after the definition), on
/// the table or, its clone, on a declared partition ([`touch_trigger_off_on_partitions`]).
pub fn touch_trigger(t: &Table, sn: &TableSnapshot) -> Verdict {
    let want = touch_trigger_def();
    if !sn
        .triggers
        .iter()
        .any(|n| n == Table::trigger_name().as_str())
    {
        return Verdict::Differs;
    }
    match sn.trigger_defs.get(Table::trigger_name().as_str()) {
        Some(have) => {
            Verdict::of(*have == want && touch_trigger_off_on_partitions(t, sn).is_empty())
        }
        None => Verdict::Unknown("the trigger's definition was not read".into()),
    }
}

/// What a property's verdict asks of a plan: true when the declared form must be (re)applied —
/// it differs, or it could not be compared (then also the risk `cannot_compare`, which blocks
/// unless `allow_destructive`: the declared form is then applied without knowing whether it
/// differed, and verification reports what it could not compare).
pub fn needs_change(
    p: &mut crate::schema::steps::Plan,
    v: Verdict,
    path: &str,
    prop: crate::schema::properties::Prop,
    object: &str,
) -> bool {
    match v {
        Verdict::Same => false,
        Verdict::Differs => true,
        Verdict::Unknown(why) => {
            p.risk(
                path.to_string(),
                crate::error::RiskCode::CannotCompare,
                format!(
                    "cannot compare {} of {object}: {why}; it is never counted as equal (allow_destructive applies the declared form without comparing)",
                    crate::schema::properties::row(prop).name
                ),
            );
            true
        }
    }
}

/// revos's policy on `t`: PERMISSIVE, TO PUBLIC, FOR ALL (FOR SELECT on the membership table,
/// `Table::policy_command`), and USING / WITH CHECK as deparsed — on a table this apply created
/// too (a function called during the apply may have changed it, contract §11): without the
/// declared deparse, it cannot be compared, never "the same because revos created it".
pub fn policy(t: &Table, sn: &TableSnapshot, d: Option<&Declared>) -> Verdict {
    let Some(live) = sn
        .policies
        .iter()
        .find(|p| p.name == Table::policy_name().as_str())
    else {
        return Verdict::Differs;
    };
    if !(live.command == t.policy_command().0 && live.permissive && live.roles == ["public"]) {
        return Verdict::Differs;
    }
    if let Err(why) = live_readable(sn) {
        return Verdict::Unknown(why);
    }
    if live.using.is_none() || (live.with_check.is_none() && live.command == '*') {
        return Verdict::Differs;
    }
    match declared(sn, d).and_then(|d| {
        d.policy.as_ref().ok_or_else(|| {
            d.failed
                .get(Table::policy_name().as_str())
                .cloned()
                .unwrap_or_else(|| "the tenant policy was not deparsed".into())
        })
    }) {
        Ok((using, check)) => Verdict::of(&live.using == using && &live.with_check == check),
        Err(why) => Verdict::Unknown(why),
    }
}

/// An enum's values: the same set, in the same order.
pub fn enum_values(e: &EnumType, labels: &[String]) -> Verdict {
    Verdict::of(e.values == labels)
}

/// Policies on a tenant-scoped table other than revos's: a PERMISSIVE one is OR-ed with the
/// tenant policy and widens what a tenant sees (`foreign_policy`); a RESTRICTIVE one only
/// narrows it (a warning).
pub fn foreign_policies<'a>(t: &Table, sn: &'a TableSnapshot) -> Vec<&'a PolicySnapshot> {
    sn.policies
        .iter()
        .filter(|p| p.name != Table::policy_name().as_str() && !t.policies.contains(&p.name))
        .filter(|p| t.has_revos_policy() && p.permissive)
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
        if tg != Table::trigger_name().as_str() && !t.triggers.contains(tg) {
            out.push(("trigger", tg.clone()));
        }
    }
    let foreign: Vec<&str> = foreign_policies(t, sn)
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    for p in &sn.policies {
        if p.name != Table::policy_name().as_str()
            && !foreign.contains(&p.name.as_str())
            && !t.policies.contains(&p.name)
        {
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
        let sn = TableSnapshot::default();
        assert_eq!(default(c, &live(Some("1")), &sn, Some(&d)), Verdict::Same);
        assert_eq!(
            default(c, &live(Some("5")), &sn, Some(&d)),
            Verdict::Differs
        );
        assert_eq!(default(c, &live(None), &sn, Some(&d)), Verdict::Differs);
        // no spec side: never equal
        assert!(matches!(
            default(c, &live(Some("1")), &sn, None),
            Verdict::Unknown(_)
        ));
        let locked = TableSnapshot {
            unreadable: Some("canceling statement due to lock timeout".into()),
            ..Default::default()
        };
        assert_eq!(
            default(c, &live(Some("1")), &locked, None),
            Verdict::Unknown("canceling statement due to lock timeout".into())
        );
        // Postgres refused to build it on the shadow: that reason
        let mut refused = Declared::default();
        refused
            .failed
            .insert("qty".into(), "function f() does not exist".into());
        assert_eq!(
            default(c, &live(Some("1")), &sn, Some(&refused)),
            Verdict::Unknown("function f() does not exist".into())
        );
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
        assert_eq!(
            foreign_key(fk, &s.options, &sn(live.clone())),
            Verdict::Same
        );
        live.on_delete = 'r';
        assert_eq!(
            foreign_key(fk, &s.options, &sn(live.clone())),
            Verdict::Differs
        );
        live.on_delete = 'c';
        live.match_type = 'f';
        assert_eq!(
            foreign_key(fk, &s.options, &sn(live.clone())),
            Verdict::Differs
        );
        live.match_type = 's';
        live.target_table = "other".into();
        assert_eq!(foreign_key(fk, &s.options, &sn(live)), Verdict::Differs);
        assert_eq!(
            foreign_key(fk, &s.options, &TableSnapshot::default()),
            Verdict::Differs
        );
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
        assert_eq!(policy(&t, &bad, None), Verdict::Differs);
    }

    /// Issue 25: on the membership table revos's policy is FOR SELECT without WITH CHECK (a user
    /// never adds a membership alone); a FOR ALL one there differs, and the SELECT shape on a
    /// tenant table differs too.
    #[test]
    fn the_membership_tables_policy_is_for_select() {
        let (_, mut t) = table();
        let select = PolicySnapshot {
            name: "revos_tenant_isolation".into(),
            command: 'r',
            permissive: true,
            roles: vec!["public".into()],
            using: Some("(user_id = 1)".into()),
            with_check: None,
        };
        let declared = Declared {
            policy: Some((select.using.clone(), None)),
            ..Default::default()
        };
        let sn = |p: PolicySnapshot| TableSnapshot {
            policies: vec![p],
            ..Default::default()
        };
        let d = Some(&declared);
        assert_eq!(policy(&t, &sn(select.clone()), d), Verdict::Differs);
        t.membership = true;
        assert_eq!(policy(&t, &sn(select.clone()), d), Verdict::Same);
        let all = PolicySnapshot {
            command: '*',
            with_check: select.using.clone(),
            ..select.clone()
        };
        assert_eq!(policy(&t, &sn(all), d), Verdict::Differs);
        // without the declared deparse (a table this apply created: a function called during
        // the apply may have changed it), never the same
        assert!(matches!(
            policy(&t, &sn(select.clone()), None),
            Verdict::Unknown(_)
        ));
        let widened = PolicySnapshot {
            using: Some("true".into()),
            ..select
        };
        assert_eq!(policy(&t, &sn(widened), d), Verdict::Differs);
    }
}
