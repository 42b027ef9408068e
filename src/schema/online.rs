//! Online forms (contract §14): the plan's steps that would stop writers for a whole scan of an
//! existing table, in their lock-light forms, and the steps that must run after the apply's
//! transaction commits (*deferred*). Pure: a transformation of a finished [`Plan`].
//!
//! | planned step (blocking form)                  | in the caller's transaction            | deferred, each in its own transaction, in order |
//! |-----------------------------------------------|----------------------------------------|-------------------------------------------------|
//! | `CREATE [UNIQUE] INDEX` (SHARE, scans)        | —                                      | `CREATE [UNIQUE] INDEX CONCURRENTLY`            |
//! | `ADD CONSTRAINT … UNIQUE` (ACCESS EXCL., scans)| —                                     | `CREATE UNIQUE INDEX CONCURRENTLY`, `ADD CONSTRAINT … UNIQUE USING INDEX` |
//! | `ADD CONSTRAINT … CHECK` (ACCESS EXCL., scans) | `… NOT VALID` (no scan)               | `VALIDATE CONSTRAINT` (SHARE UPDATE EXCLUSIVE)  |
//! | `ADD … FOREIGN KEY` (SHARE ROW EXCL., scans)  | `… NOT VALID` (no scan)                | `VALIDATE CONSTRAINT` (SHARE UPDATE EXCLUSIVE)  |
//! | `SET NOT NULL` (ACCESS EXCL., scans)          | `ADD CONSTRAINT <helper> CHECK (c IS NOT NULL) NOT VALID` (no scan) | `VALIDATE` the helper, `SET NOT NULL` (the validated check spares the scan, PostgreSQL ≥ 12), `DROP CONSTRAINT <helper>` |
//! | `ADD COLUMN c … DEFAULT (<volatile>)` (ACCESS EXCL., rewrites) | `ADD COLUMN c <type>` (nullable, no default), `ALTER COLUMN c SET DEFAULT (…)` (both catalog only) | the batched backfill (`UPDATE … SET c = DEFAULT WHERE c IS NULL` by ctid page ranges, ROW EXCLUSIVE, one transaction per batch: `crate::deferred::backfill`); NOT NULL declared: then `ADD CONSTRAINT <helper> CHECK (c IS NOT NULL) NOT VALID` (after the backfill: in the transaction it would refuse updates of rows not filled yet) and the three NOT NULL steps |
//!
//! Every `ADD … NOT VALID` stays in the caller's transaction: from the commit on, new rows are checked
//! (only the existing ones wait for the deferred `VALIDATE`). They are the plan's last steps
//! ([`Plan::last`]): run after every other statement ran and was verified, so that the lock writers
//! wait for is held from them to the commit only; what they add is verified after them. Added by the worker, nothing would check
//! them until it ran (the adversarial review of 765e4d8, A); the exception is NOT NULL's helper after a
//! batched backfill, which in the transaction would refuse updates of the rows not filled yet.
//!
//! A changed check or foreign key (`DROP CONSTRAINT, ADD CONSTRAINT` in one statement) takes the
//! same form. Everything else stays where it was: steps on tables this plan creates (empty, so
//! nothing to scan), catalog-only steps, and steps that have no lock-light form — a type change, an
//! `ADD COLUMN` of a stored generated or identity column, an `ADD COLUMN` with a volatile default
//! on a table whose forced tenant policy would hide its rows from the applying role (neither a
//! superuser nor BYPASSRLS: the backfill is an UPDATE run as that role), a primary key added to an existing table, a unique key a
//! foreign key of this plan needs at once, and the tenant backfill of a retrofit (it must fill the
//! column before the tenant policy, created in the same transaction, hides the rows from anyone
//! who is not a superuser). Those are named in a warning.
//!
//! Which tables: `options.online: true` every existing table, `false` none, absent those estimated
//! above [`ONLINE_ROWS`] rows (`est_rows`, `pg_class.reltuples`; a never-analyzed table counts as
//! below it, with a warning).

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

use crate::error::{code, Issue};
use crate::ident::Name;
pub use crate::schema::derived_names::not_null_helper;
use crate::schema::model::{
    Check, Column, Declared, ForeignKey, Index, Online, Schema, Table, Unique,
};
use crate::schema::plan::{col_list, column_sql, fk_sql, index_sql};
use crate::schema::steps::{Cost, Lock, Plan, Step};

/// Tables estimated above this many rows get the online forms when `options.online` is absent.
/// Measured on this project's 2-core machine (PostgreSQL 15, 2026-12-04): at 100,000 rows a
/// blocking `CREATE INDEX` holds writers off for 0.26–0.29 s (a CHECK validation 0.05 s), at
/// 1,000,000 rows 2.5–2.7 s — plus, inside apply, everything after the step until the commit. A
/// quarter of a second is about a web request's whole latency budget: above it the online forms
/// pay; below it the blocking form is over in tens of milliseconds and keeps the whole change in
/// the caller's transaction (`applied` then means complete, nothing is left for after the commit).
pub const ONLINE_ROWS: i64 = 100_000;

/// The batched backfill: each batch's UPDATE takes ROW EXCLUSIVE (writers go on; the batch's own
/// rows stay locked until it commits), and every page is read; no rewrite of the table (each row
/// gets one new version, as any UPDATE gives it).
const BATCHED_BACKFILL: Cost = Cost {
    lock: Some(Lock::RowExclusive),
    rewrites: false,
    scans: true,
};
/// A deferred step's lock: SHARE UPDATE EXCLUSIVE (writers go on), reads every row.
const CONCURRENT_SCAN: Cost = Cost {
    lock: Some(Lock::ShareUpdateExclusive),
    rewrites: false,
    scans: true,
};
/// `ADD … NOT VALID`: the same lock as the blocking form, no scan.
const NOT_VALID_FK: Cost = Cost::lock(Some(Lock::ShareRowExclusive));

/// How a deferred step is checked when it completes (an invalid or missing index, a constraint
/// still not validated, a column still nullable: the step failed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Completion {
    /// A valid, ready index `name` on the table (unique when `unique`) — the planned one:
    /// `pg_get_indexdef` from ` USING ` on is `definition` (a declared index, as the shadow of the
    /// table deparsed it: `apply::shadow`), or, for a unique key's index, `USING btree (<key>)`
    /// (`key`, quoted by Postgres's `quote_ident` as `pg_get_indexdef` quotes). Neither recorded
    /// (the declared index could not be deparsed; a row recorded before they were): an index of
    /// that name that the step did not build cannot be compared, and the step fails (the
    /// adversarial review of ab5a423, 1: another role's index of that name, on other columns,
    /// counted as the step's and the step `done`).
    Index {
        schema: String,
        table: String,
        name: String,
        unique: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<Vec<String>>,
    },
    /// A validated constraint `name` on the table — the planned one: `pg_get_constraintdef`
    /// (without `NOT VALID`) is `definition` (a declared check, as the shadow deparsed it; any
    /// other constraint the apply added `NOT VALID` — a foreign key, revos's NOT NULL helper — as
    /// the catalog showed it once added, `deferred::store::record_definitions`), or `UNIQUE
    /// (<key>)` (a unique key attached to its index). Neither recorded (a row recorded before
    /// they were): by name.
    Validated {
        schema: String,
        table: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        definition: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<Vec<String>>,
    },
    /// The column is NOT NULL.
    NotNull {
        schema: String,
        table: String,
        column: String,
    },
    /// The constraint `name` is on the table, validated or not (revos's NOT NULL helper, added
    /// `NOT VALID` after a backfill) — and, when `column` is recorded, it is that helper: a check
    /// of exactly `CHECK ((<column> IS NOT NULL))`. A caller's check under the name was counted as
    /// the helper, validated, then dropped at the chain's end with every step `done` (the review of
    /// 0a4279f, 4); now the step runs its ADD, which fails on the name, and the chain stops.
    Added {
        schema: String,
        table: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        column: Option<String>,
    },
    /// The constraint `name` is gone from the table (revos's NOT NULL helper).
    Dropped {
        schema: String,
        table: String,
        name: String,
    },
    /// No row of the table has `column` NULL (a batched backfill filled every row; the worker
    /// runs it, `crate::deferred::backfill`, and checks this after its last pass).
    Backfilled {
        schema: String,
        table: String,
        column: String,
    },
}

impl Completion {
    /// The table the step changes: (schema, table).
    pub fn table(&self) -> (&str, &str) {
        match self {
            Completion::Index { schema, table, .. }
            | Completion::Validated { schema, table, .. }
            | Completion::NotNull { schema, table, .. }
            | Completion::Dropped { schema, table, .. }
            | Completion::Added { schema, table, .. }
            | Completion::Backfilled { schema, table, .. } => (schema, table),
        }
    }
}

/// What is undone when a chain fails: an index left INVALID by a failed concurrent build is
/// dropped (only when it is invalid: a valid index of that name was not built by this step), and
/// revos's own NOT NULL helper check is dropped. A declared check or foreign key that failed to
/// validate stays `NOT VALID` (new rows are checked) and is reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "drop", rename_all = "snake_case")]
pub enum Cleanup {
    InvalidIndex {
        schema: String,
        name: String,
    },
    Constraint {
        schema: String,
        table: String,
        name: String,
    },
}

/// One step run after the commit, by revos's deferred worker.
#[derive(Debug, Clone, Serialize)]
pub struct Deferred {
    #[serde(flatten)]
    pub step: Step,
    /// The steps of one chain run in order; a failure skips the rest of its chain.
    pub chain: usize,
    pub completion: Completion,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<Cleanup>,
}

/// The online part of a plan: the deferred steps, the tables that took online forms, and what
/// could not.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OnlinePlan {
    pub deferred: Vec<Deferred>,
    pub tables: Vec<String>,
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl OnlinePlan {
    /// The deferred statements, as a script (not runnable by `psql -1`: they run outside a
    /// transaction block, one by one).
    pub fn script(&self) -> String {
        self.deferred
            .iter()
            .map(|d| format!("{};\n", d.step.sql))
            .collect()
    }
}

/// A recognized step in its online form.
struct Form {
    in_tx: Vec<Step>,
    /// In the transaction too, but last: after every other statement ran and was verified
    /// ([`Plan::last`]). An `ADD … NOT VALID` (check, foreign key, NOT NULL's helper) holds a lock
    /// writers wait for from that statement to the commit.
    last: Vec<Step>,
    deferred: Vec<(Step, Completion)>,
    cleanup: Option<Cleanup>,
}

/// Rewrites `p`'s steps into their online forms where the table is online (see the module
/// comment) and returns the deferred steps. `unavailable`: why this server or role cannot run
/// deferred steps (then `options.online: true` is an issue, and the size threshold keeps the
/// blocking forms with a warning). `sees_every_row`: the applying role is a superuser or has
/// BYPASSRLS (the deferred worker runs as it: a batched backfill is an UPDATE, which a forced
/// tenant policy would limit to no rows).
pub fn transform(
    p: &mut Plan,
    s: &Schema,
    unavailable: Option<&str>,
    sees_every_row: bool,
    foreign_owned: &HashSet<String>,
) -> Result<OnlinePlan, Issue> {
    let created: HashSet<String> = p
        .steps
        .iter()
        .filter(|x| x.kind == "table")
        .map(|x| x.object.clone())
        .collect();
    let mut out = OnlinePlan::default();
    let mut forms: Vec<Option<Form>> = Vec::with_capacity(p.steps.len());
    // each table by its step name, formatted once (per step and table, it was a twentieth of
    // P1's apply: 1,332 steps × 123 tables; bench/FINDINGS.md)
    let mut by_object: HashMap<String, &Table> = HashMap::with_capacity(s.tables.len());
    for t in &s.tables {
        by_object.entry(object(t)).or_insert(t);
    }
    for step in &p.steps {
        let t = by_object.get(&step.object).copied();
        // a partitioned table keeps the blocking forms: PostgreSQL builds no index on it
        // concurrently (and, before 18, adds no foreign key to it NOT VALID)
        let form = t
            .filter(|_| !created.contains(&step.object))
            .filter(|t| t.partition_by.is_none())
            // a table another role owns: between the commit and a deferred step that role could
            // change what the step runs (a default, a check, a rule, a trigger) and have it run
            // with this role's privileges; its steps stay in the transaction, under its locks
            .filter(|t| !foreign_owned.contains(&object(t)))
            .filter(|_| wants_online(s.options.online, step.est_rows))
            .and_then(|t| recognize(step, t, s, sees_every_row, foreign_owned, &p.declared));
        if form.is_none() && (step.scans || step.rewrites) && !created.contains(&step.object) {
            if let Some(t) = t.filter(|_| wants_online(s.options.online, step.est_rows)) {
                let owned = foreign_owned.contains(&object(t))
                    || to_foreign_table(step, t, s, foreign_owned);
                out.warnings.push(blocking_warning(step, t, owned));
            }
        }
        forms.push(form);
    }
    unanalyzed_warnings(p, s, &created, &mut out.warnings);
    if forms.iter().all(Option::is_none) {
        return Ok(out);
    }
    if let Some(why) = unavailable {
        if s.options.online == Online::On {
            return Err(Issue::new(
                "options.online",
                code::ONLINE_UNAVAILABLE,
                format!("the online forms cannot run here: {why}"),
            ));
        }
        out.warnings.retain(|w| !w.contains("no lock-light form"));
        out.warnings.push(format!(
            "tables above {ONLINE_ROWS} rows keep the blocking forms: {why}"
        ));
        return Ok(out);
    }
    let old = std::mem::take(&mut p.steps);
    let mut validated: Vec<String> = vec![];
    let mut tail: Vec<Step> = vec![];
    for (step, form) in old.into_iter().zip(forms) {
        let Some(form) = form else {
            p.steps.push(step);
            continue;
        };
        if !out.tables.contains(&step.object) {
            out.tables.push(step.object.clone());
        }
        p.steps.extend(form.in_tx);
        let chain = out.deferred.last().map_or(0, |d| d.chain + 1);
        tail.extend(form.last);
        for (st, completion) in form.deferred {
            if let Completion::Validated {
                schema,
                table,
                name,
                ..
            } = &completion
            {
                validated.push(name.clone());
                p.validated_later
                    .insert((schema.clone(), table.clone(), name.clone()));
            }
            out.deferred.push(Deferred {
                step: st,
                chain,
                completion,
                cleanup: form.cleanup.clone(),
            });
        }
    }
    p.last = tail.len();
    p.steps.extend(tail);
    stale_cost_warnings(p, &out.tables, &validated);
    Ok(out)
}

/// Why a scanning or rewriting step on an online table keeps its blocking form.
fn blocking_warning(step: &Step, t: &Table, foreign_owned: bool) -> String {
    let why = if foreign_owned {
        "the table (or the table its foreign key references) is owned by a role this one does not trust (neither this role, nor a superuser, nor listed in revos.trusted_roles): after the commit that role could change what a deferred step runs (a default, a check, a rule, a trigger, an index predicate the planner evaluates) and have it run with this role's privileges, so the step is not deferred"
    } else if t.partition_by.is_some() {
        "a partitioned table: its steps have no lock-light form"
    } else if t
        .columns
        .iter()
        .any(|c| backfill_form(step, t, c).is_some())
    {
        "the tenant policy (FORCE ROW LEVEL SECURITY) would hide the rows from a batched backfill run as this role (neither a superuser nor BYPASSRLS): this step has no lock-light form here"
    } else {
        "this step has no lock-light form"
    };
    format!(
        "{}: {why} and runs in the transaction as planned (lock {}, rewrites: {}, scans: {}): {}",
        object(t),
        lock_name(step.lock),
        step.rewrites,
        step.scans,
        short(&step.sql)
    )
}

/// The plan's cost warnings that the online forms made untrue: "<table> holds about N rows and is
/// locked …" for a table whose scanning steps now run after the commit (a step that still blocks
/// has its own "no lock-light form" warning), and "… locked SHARE ROW EXCLUSIVE too while the rows
/// … are checked against it (foreign key F)" for a foreign key validated after the commit.
fn stale_cost_warnings(p: &mut Plan, tables: &[String], validated: &[String]) {
    p.warnings.retain(|w| {
        !tables
            .iter()
            .any(|t| w.starts_with(&format!("{t} holds about ")))
            && !validated.iter().any(|n| {
                w.ends_with(&format!(
                    "(foreign key {}); writers to it wait as well",
                    Name::from_catalog(n)
                ))
            })
    });
}

/// `"schema"."table"`, as a step's `object`.
fn object(t: &Table) -> String {
    format!("{}.{}", t.schema, t.name)
}

/// The table a foreign key references, named as [`object`] names a table.
pub fn fk_target(f: &ForeignKey) -> String {
    format!("{}.{}", f.target_schema, f.target_table)
}

/// Whether `step` adds a foreign key of `t` that references a table in `foreign_owned`: its
/// validation runs a query over that table, whose owner chooses code the planner runs (an
/// immutable function in an index predicate is evaluated while the query is planned), so it is
/// never deferred (adversarial review 5).
fn to_foreign_table(step: &Step, t: &Table, s: &Schema, foreign_owned: &HashSet<String>) -> bool {
    t.foreign_keys
        .iter()
        .filter(|f| foreign_owned.contains(&fk_target(f)))
        .any(|f| fk_form(step, t, f, s).is_some())
}

fn wants_online(mode: Online, est_rows: Option<i64>) -> bool {
    match mode {
        Online::On => true,
        Online::Off => false,
        Online::Auto => est_rows.is_some_and(|n| n > ONLINE_ROWS),
    }
}

fn lock_name(lock: Option<Lock>) -> String {
    lock.and_then(|l| serde_json::to_value(l).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| "none".into())
}

fn short(sql: &str) -> String {
    let mut s: String = sql.chars().take(120).collect();
    if s.len() < sql.len() {
        s.push('…');
    }
    s
}

/// Without `options.online`, a table that was never analyzed (no estimate) keeps the blocking
/// forms: say so when the plan scans it.
fn unanalyzed_warnings(p: &Plan, s: &Schema, created: &HashSet<String>, w: &mut Vec<String>) {
    if s.options.online != Online::Auto {
        return;
    }
    let mut seen = HashSet::new();
    for st in &p.steps {
        if st.scans
            && st.est_rows.is_none()
            && !created.contains(&st.object)
            && seen.insert(st.object.clone())
        {
            w.push(format!(
                "{} was never analyzed (no row estimate): its steps keep the blocking forms; set options.online to choose",
                st.object
            ));
        }
    }
}

/// The step's online form, when it is one of the forms revos plans (the SQL must be exactly what
/// `plan` writes; anything else keeps its blocking form).
fn recognize(
    step: &Step,
    t: &Table,
    s: &Schema,
    sees_every_row: bool,
    foreign_owned: &HashSet<String>,
    declared: &HashMap<(String, String), Declared>,
) -> Option<Form> {
    // the declared forms of the table, as the shadow deparsed them: what a deferred step's
    // object is compared with when it completes
    let d = declared.get(&keyed(t));
    let backfill = || {
        let hidden = t.rls && t.force_rls && !sees_every_row;
        t.columns
            .iter()
            .find_map(|c| backfill_form(step, t, c))
            .filter(|_| !hidden)
    };
    t.indexes
        .iter()
        .find_map(|x| index_form(step, t, x, d))
        .or_else(|| t.uniques.iter().find_map(|u| unique_form(step, t, u, s)))
        .or_else(|| t.checks.iter().find_map(|c| check_form(step, t, c, d)))
        .or_else(|| {
            t.foreign_keys
                .iter()
                .filter(|f| !foreign_owned.contains(&fk_target(f)))
                .find_map(|f| fk_form(step, t, f, s))
        })
        .or_else(|| t.columns.iter().find_map(|c| not_null_form(step, t, c)))
        .or_else(backfill)
}

fn keyed(t: &Table) -> (String, String) {
    (t.schema.as_str().to_string(), t.name.as_str().to_string())
}

fn like(step: &Step, kind: &'static str, sql: String, cost: Cost) -> Step {
    Step::costed(kind, step.object.clone(), sql, cost, step.est_rows)
}

/// `CREATE [UNIQUE] INDEX` → deferred `CREATE [UNIQUE] INDEX CONCURRENTLY`. Not when an expression
/// or the `where` qualifies a name with a schema (or uses `OPERATOR`): the worker would resolve it again after the commit, when another role may have planted a
/// better-matching overload there — and a concurrent build runs it, committed before any check
/// could refuse it (docs/security.md). Such an index is built in the transaction, where the
/// dependency check refuses such an overload and everything is rolled back.
fn index_form(step: &Step, t: &Table, x: &Index, d: Option<&Declared>) -> Option<Form> {
    let sql = index_sql(t, x);
    if step.sql != sql || !resolvable_later(x) {
        return None;
    }
    let (schema, table) = keyed(t);
    let concurrent = sql.replacen("INDEX ", "INDEX CONCURRENTLY ", 1);
    Some(Form {
        in_tx: vec![],
        last: vec![],
        deferred: vec![(
            like(step, "index", concurrent, CONCURRENT_SCAN),
            Completion::Index {
                schema: schema.clone(),
                table,
                name: x.name.as_str().to_string(),
                unique: x.unique,
                definition: d.and_then(|d| d.indexes.get(x.name.as_str()).cloned()),
                key: None,
            },
        )],
        cleanup: Some(Cleanup::InvalidIndex {
            schema,
            name: x.name.as_str().to_string(),
        }),
    })
}

/// Whether the worker may parse this index again after the commit: its expressions and predicate
/// qualify no name with a schema. Unqualified names resolve under the worker's pinned search_path
/// (`pg_catalog, revos, pg_temp`: functions and operators are never looked up in pg_temp), where
/// no other role can create; a qualified name (`public.norm(code)`) or an `OPERATOR(schema.op)`
/// could meet an overload planted after the apply's check.
fn resolvable_later(x: &Index) -> bool {
    x.where_
        .iter()
        .chain(x.keys.iter().filter_map(|k| k.expression.as_ref()))
        .all(|e| !names_other_schema(e))
}

/// Whether `expr` may name something in a schema another role can create in: any `.` that is not
/// a decimal point (a qualified name, quoted or not, with comments or spaces around the dot, in a
/// cast or a call), and any `OPERATOR`. Conservative on purpose: a false alarm only keeps the
/// blocking form; reading the text any finer (string literals, dollar quotes, `E'\''`, comments)
/// is where a check like this is bypassed.
fn names_other_schema(expr: &str) -> bool {
    let b = expr.as_bytes();
    let decimal_point = |i: usize| {
        i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit)
    };
    expr.to_ascii_lowercase().contains("operator")
        || b.iter()
            .enumerate()
            .any(|(i, c)| *c == b'.' && !decimal_point(i))
}

/// `ADD CONSTRAINT … UNIQUE` → deferred unique index built concurrently, then the constraint on
/// it (`USING INDEX`: no scan). Not when a foreign key of this schema points at those columns
/// (its `ADD` in the transaction needs the key at once).
fn unique_form(step: &Step, t: &Table, u: &Unique, s: &Schema) -> Option<Form> {
    let q = t.qualified();
    let cols = col_list(&u.columns);
    if step.sql != format!("ALTER TABLE {q} ADD CONSTRAINT {} UNIQUE ({cols})", u.name) {
        return None;
    }
    let tenant = &s.options.tenant_column;
    let referenced = s.tables.iter().flat_map(|x| &x.foreign_keys).any(|f| {
        let key = if f.tenant_bound {
            vec![tenant.clone(), f.target_column.clone()]
        } else {
            vec![f.target_column.clone()]
        };
        f.target_schema == t.schema && f.target_table == t.name && u.columns == key
    });
    if referenced {
        return None;
    }
    let (schema, table) = keyed(t);
    let name = u.name.as_str().to_string();
    let key: Vec<String> = u.columns.iter().map(|c| c.as_str().to_string()).collect();
    let index = format!(
        "CREATE UNIQUE INDEX CONCURRENTLY {} ON {q} ({cols})",
        u.name
    );
    let attach = format!(
        "ALTER TABLE {q} ADD CONSTRAINT {} UNIQUE USING INDEX {}",
        u.name, u.name
    );
    Some(Form {
        in_tx: vec![],
        last: vec![],
        deferred: vec![
            (
                like(step, "index", index, CONCURRENT_SCAN),
                Completion::Index {
                    schema: schema.clone(),
                    table: table.clone(),
                    name: name.clone(),
                    unique: true,
                    definition: None,
                    key: Some(key.clone()),
                },
            ),
            (
                like(step, "constraint", attach, Cost::ALTER),
                Completion::Validated {
                    schema: schema.clone(),
                    table,
                    name: name.clone(),
                    definition: None,
                    key: Some(key),
                },
            ),
        ],
        cleanup: Some(Cleanup::InvalidIndex { schema, name }),
    })
}

/// A statement that adds `add` (new, or replacing the constraint in one statement): the same
/// statement with `NOT VALID`, and a deferred `VALIDATE CONSTRAINT`.
/// `definition`: the constraint's `pg_get_constraintdef` as planned, when known (see
/// [`Completion::Validated`]).
fn validate_later(
    step: &Step,
    t: &Table,
    add: &str,
    name: &Name,
    cost: Cost,
    definition: Option<String>,
) -> Option<Form> {
    let q = t.qualified();
    let plain = step.sql == format!("ALTER TABLE {q} {add}");
    let replaced = step
        .sql
        .starts_with(&format!("ALTER TABLE {q} DROP CONSTRAINT "))
        && step.sql.ends_with(&format!(", {add}"));
    if !plain && !replaced {
        return None;
    }
    // a replaced constraint is dropped where the plan drops it (what the plan runs after it may
    // depend on that: an index the old key used, dropped next — the review of 7cb8d66, C; and the
    // verification before the steps that run last sees what the DROP took: a key of the same
    // name, A); only the ADD runs last
    let drop = replaced.then(|| {
        let until_add = step.sql.len() - add.len() - 2;
        like(
            step,
            step.kind,
            step.sql[..until_add].to_string(),
            Cost::ALTER,
        )
    });
    let (schema, table) = keyed(t);
    Some(Form {
        in_tx: drop.into_iter().collect(),
        last: vec![like(
            step,
            step.kind,
            format!("ALTER TABLE {q} {add} NOT VALID"),
            cost,
        )],
        deferred: vec![(
            like(
                step,
                step.kind,
                format!("ALTER TABLE {q} VALIDATE CONSTRAINT {name}"),
                CONCURRENT_SCAN,
            ),
            Completion::Validated {
                schema,
                table,
                name: name.as_str().to_string(),
                definition,
                key: None,
            },
        )],
        cleanup: None,
    })
}

fn check_form(step: &Step, t: &Table, c: &Check, d: Option<&Declared>) -> Option<Form> {
    let add = format!("ADD CONSTRAINT {} CHECK (({}))", c.name, c.expression);
    let definition = d.and_then(|d| d.checks.get(c.name.as_str()).cloned());
    validate_later(step, t, &add, &c.name, Cost::ALTER, definition)
}

fn fk_form(step: &Step, t: &Table, f: &ForeignKey, s: &Schema) -> Option<Form> {
    let add = format!("ADD {}", fk_sql(f, &s.options));
    validate_later(step, t, &add, &f.name, NOT_VALID_FK, None)
}

/// `SET NOT NULL` → a `CHECK (c IS NOT NULL) NOT VALID` in the transaction (NULLs are refused from
/// the commit on); deferred: validate it, `SET NOT NULL` (proved by the validated check, no scan),
/// drop the check. Its `ADD` stays in the transaction, as a declared check's and a foreign key's
/// do: added by the worker after the commit, nothing would refuse a NULL until it ran — and the
/// worker may run long after (busy with an earlier step, or held back: the adversarial review of
/// 765e4d8, A). A short ACCESS EXCLUSIVE from the `ADD` to the commit is the price.
///
/// When the chain fails (rows already NULL, a lock timeout), the helper stays, `NOT VALID`: new
/// rows are still refused a NULL, as a declared check that does not validate stays and checks new
/// rows (the review of 12af7f9, 1: dropping it left the column enforced by nothing). The next
/// plan drops a helper left that way (`plan`, `helpers_left`) and plans the column's NOT NULL as
/// declared.
fn not_null_form(step: &Step, t: &Table, c: &Column) -> Option<Form> {
    let q = t.qualified();
    if step.sql != format!("ALTER TABLE {q} ALTER COLUMN {} SET NOT NULL", c.name) {
        return None;
    }
    let helper = not_null_helper(&c.name);
    let (schema, table) = keyed(t);
    let column = c.name.as_str().to_string();
    let add = helper_add(&q, c);
    let gone = Completion::Dropped {
        schema: schema.clone(),
        table: table.clone(),
        name: helper.as_str().to_string(),
    };
    Some(Form {
        in_tx: vec![],
        last: vec![like(step, "column", add, Cost::ALTER)],
        deferred: vec![
            (
                like(
                    step,
                    "column",
                    format!("ALTER TABLE {q} VALIDATE CONSTRAINT {helper}"),
                    CONCURRENT_SCAN,
                ),
                Completion::Validated {
                    schema: schema.clone(),
                    table: table.clone(),
                    name: helper.as_str().to_string(),
                    definition: None,
                    key: None,
                },
            ),
            (
                like(step, "column", step.sql.clone(), Cost::ALTER),
                Completion::NotNull {
                    schema: schema.clone(),
                    table: table.clone(),
                    column,
                },
            ),
            (
                like(
                    step,
                    "column",
                    format!("ALTER TABLE {q} DROP CONSTRAINT {helper}"),
                    Cost::ALTER,
                ),
                gone,
            ),
        ],
        cleanup: None,
    })
}

/// The helper's `ADD … NOT VALID` (in the transaction; after a batched backfill by the worker,
/// where `deferred::shape` allows this one subcommand and nothing else).
fn helper_add(q: &str, c: &Column) -> String {
    format!(
        "ALTER TABLE {q} ADD CONSTRAINT {} CHECK (({} IS NOT NULL)) NOT VALID",
        not_null_helper(&c.name),
        c.name
    )
}

/// `ADD COLUMN c <type> [NOT NULL] DEFAULT (<volatile>)` (a rewrite under ACCESS EXCLUSIVE) → in
/// the transaction `ADD COLUMN c <type>` (nullable, no default: catalog only) and `SET DEFAULT`
/// (rows written from now on get it: catalog only); deferred: the batched backfill
/// (`crate::deferred::backfill`: `UPDATE … SET c = DEFAULT WHERE c IS NULL` over ctid page ranges,
/// each batch its own transaction). NOT NULL: then the NOT NULL form ([`not_null_form`]: its
/// helper check added `NOT VALID`, validated, `SET NOT NULL`, dropped, after the backfill, in the
/// same chain — a failed backfill skips them and drops the helper). The helper is
/// added `NOT VALID` after the backfill, not in the transaction: it would refuse every update of
/// a row not filled yet.
fn backfill_form(step: &Step, t: &Table, c: &Column) -> Option<Form> {
    let q = t.qualified();
    let default = c.default.as_ref()?;
    if !step.rewrites
        || c.generated.is_some()
        || c.identity.is_some()
        || step.sql != format!("ALTER TABLE {q} ADD COLUMN {}", column_sql(c))
    {
        return None;
    }
    let bare = Column {
        not_null: false,
        default: None,
        ..c.clone()
    };
    let in_tx = vec![
        like(
            step,
            "column",
            format!("ALTER TABLE {q} ADD COLUMN {}", column_sql(&bare)),
            Cost::ALTER,
        ),
        like(
            step,
            "column",
            format!(
                "ALTER TABLE {q} ALTER COLUMN {} SET DEFAULT ({default})",
                c.name
            ),
            Cost::ALTER,
        ),
    ];
    let (schema, table) = keyed(t);
    let mut deferred = vec![(
        like(
            step,
            "backfill",
            backfill_sql(&q, &c.name),
            BATCHED_BACKFILL,
        ),
        Completion::Backfilled {
            schema,
            table,
            column: c.name.as_str().to_string(),
        },
    )];
    if c.not_null {
        // the helper check comes after the backfill: added in the transaction, it would refuse
        // every update of a row not filled yet
        let set = format!("ALTER TABLE {q} ALTER COLUMN {} SET NOT NULL", c.name);
        let nn = not_null_form(&like(step, "column", set, Cost::ALTER_SCAN), t, c)?;
        // its helper added by the worker, after the backfill; kept when a later step fails (as
        // the plain form's: new NULLs stay refused), dropped by the next plan
        let (schema, table) = keyed(t);
        let name = not_null_helper(&c.name).as_str().to_string();
        let add = like(step, "column", helper_add(&q, c), Cost::ALTER);
        let completion = Completion::Added {
            schema: schema.clone(),
            table: table.clone(),
            name: name.clone(),
            column: Some(c.name.as_str().to_string()),
        };
        deferred.push((add, completion));
        deferred.extend(nn.deferred);
    }
    Some(Form {
        in_tx,
        last: vec![],
        deferred,
        cleanup: None,
    })
}

/// The backfill step's SQL, as the plan shows it: what each batch runs, the page range left out.
/// (Not run as written: the worker adds `ctid >= '(a,0)' AND ctid < '(b,0)'` per batch.)
pub fn backfill_sql(table: &str, column: &Name) -> String {
    format!(
        "UPDATE {table} SET {column} = DEFAULT WHERE {column} IS NULL /* in batches of revos.backfill_batch_pages pages by ctid range, each in its own transaction */"
    )
}

/// The schema split for the verification around the steps that run last (`last`, the online
/// forms' `ADD … NOT VALID`): the schema without their tables (verified before them), and their
/// tables alone, whole (verified after them: what those statements — or anything they set off,
/// an event trigger — changed on them; the review of 7cb8d66, A and B).
pub fn split_last(s: &Schema, last: &[Step]) -> (Schema, Schema) {
    let late = |t: &Table| last.iter().any(|x| x.object == object(t));
    let mut before = s.clone();
    before.tables.retain(|t| !late(t));
    let mut after = s.clone();
    after.tables.retain(late);
    after.enums.clear();
    after.drop_tables.clear();
    (before, after)
}

/// The schema as the catalog will show it when the apply's transaction commits, before the
/// deferred steps ran: what they create is not there yet (indexes, unique keys built
/// concurrently), NOT NULL columns whose `SET NOT NULL` waits are still nullable. `verify` checks
/// this at apply; each deferred object is checked when its step completes.
pub fn pending_view(s: &Schema, o: &OnlinePlan) -> Schema {
    let mut v = s.clone();
    for d in &o.deferred {
        let (sc, tn) = d.completion.table();
        let Some(t) = v
            .tables
            .iter_mut()
            .find(|t| t.schema.as_str() == sc && t.name.as_str() == tn)
        else {
            continue;
        };
        match &d.completion {
            Completion::Index { name, .. } => {
                t.indexes.retain(|x| x.name.as_str() != name);
                t.uniques.retain(|u| u.name.as_str() != name);
            }
            Completion::NotNull { column, .. } => {
                for c in t.columns.iter_mut().filter(|c| c.name.as_str() == column) {
                    c.not_null = false;
                }
            }
            _ => {}
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::catalog::CatalogState;
    use crate::schema::model::{ColumnSnapshot, ConstraintSnapshot, TableSnapshot};
    use crate::schema::normalize::normalize;
    use crate::schema::plan::plan;
    use crate::schema::spec::read_schema;
    use crate::schema::steps::LARGE_TABLE_ROWS;
    use serde_json::{json, Value};

    fn schema(v: Value) -> Schema {
        let mut issues = vec![];
        let raw = read_schema(&v, &mut issues);
        let mut s = normalize(&raw, &mut issues);
        assert!(issues.is_empty(), "{issues:?}");
        // what validate does against a server: the type as Postgres writes it
        for c in s.tables.iter_mut().flat_map(|t| t.columns.iter_mut()) {
            c.sql_type = Some(c.type_text.clone());
        }
        s
    }

    /// `big` exists with `rows` estimated rows and columns a, c, ref_id (nullable); `parent`
    /// exists with its key.
    fn state(s: &Schema, rows: Option<i64>) -> CatalogState {
        let mut st = CatalogState::default();
        for t in &s.tables {
            let mut sn = TableSnapshot {
                constraints: vec![ConstraintSnapshot {
                    name: format!("{}_pkey", t.name.as_str()),
                    kind: 'p',
                    columns: vec!["id".into()],
                    ..Default::default()
                }],
                est_rows: rows,
                has_rows: true,
                rls_enabled: true,
                rls_forced: true,
                ..Default::default()
            };
            for c in &t.columns {
                if c.name.as_str() == "email" {
                    continue; // new in v2
                }
                sn.columns.push(ColumnSnapshot {
                    name: c.name.as_str().into(),
                    sql_type: c.sql_type.clone().unwrap_or_default(),
                    not_null: c.auto && c.not_null,
                    has_default: c.default.is_some(),
                    ..Default::default()
                });
            }
            st.tables.insert(t.key(), sn);
        }
        st
    }

    fn v2(online: Option<bool>) -> Value {
        let mut v = json!({"schema_version": "2", "description": "d", "tables": [
            {"name": "parent", "tenant_scoped": false,
             "timestamps": false, "soft_delete": false, "rls": false, "columns": []},
            {"name": "big", "tenant_scoped": false, "timestamps": false, "soft_delete": false,
             "rls": false,
             "columns": [{"name": "a", "type": "integer", "not_null": true,
                          "check": "a >= 0"},
                         {"name": "c", "type": "text", "unique": true},
                         {"name": "ref_id", "type": "uuid", "references": "parent"}],
             "indexes": [{"columns": ["a"], "unique": true}]}]});
        v["options"] = json!({"default_indexes": false});
        if let Some(b) = online {
            v["options"]["online"] = json!(b);
        }
        v
    }

    fn planned(
        v: Value,
        rows: Option<i64>,
        unavailable: Option<&str>,
    ) -> (Plan, Result<OnlinePlan, Issue>) {
        let s = schema(v);
        let st = state(&s, rows);
        let mut p = plan(&s, &st);
        let o = transform(&mut p, &s, unavailable, true, &HashSet::new());
        (p, o)
    }

    /// An expression key or a predicate would be resolved again by the worker, after the commit
    /// (docs/security.md): each alone keeps the blocking form; a plain-column index beside them is
    /// still deferred.
    #[test]
    fn an_index_with_an_expression_or_a_predicate_is_built_in_the_transaction() {
        for index in [
            json!({"name": "by_where", "columns": ["a"], "where": "public.norm(b) <> 'x'"}),
            json!({"name": "by_expr", "columns": ["a", {"expression": "public.norm(b)"}]}),
            json!({"name": "by_expr_only", "columns": [{"expression": "public.norm(b)"}]}),
            json!({"name": "by_operator", "columns": ["a"], "where": "b OPERATOR(public.=) 'x'"}),
        ] {
            let v = json!({"schema_version": "2", "description": "d",
                "options": {"default_indexes": false, "online": true},
                "tables": [{"name": "big", "tenant_scoped": false, "timestamps": false,
                    "soft_delete": false, "rls": false,
                    "columns": [{"name": "a", "type": "integer"}, {"name": "b", "type": "text"}],
                    "indexes": [index.clone(), {"name": "plain", "columns": ["a"]}]}]});
            let (p, o) = planned(v, Some(10), None);
            let o = o.unwrap();
            let deferred: Vec<&str> = o.deferred.iter().map(|d| d.step.sql.as_str()).collect();
            assert_eq!(deferred.len(), 1, "{index}: {deferred:?}");
            assert!(deferred[0].contains("\"plain\""), "{index}: {deferred:?}");
            assert!(
                p.steps.iter().any(|s| s.sql.starts_with("CREATE INDEX ")
                    && s.sql.contains(index["name"].as_str().unwrap())),
                "{index}: {:?}",
                p.steps
            );
            assert!(
                o.warnings.iter().any(|w| w.contains("no lock-light form")),
                "{index}: {:?}",
                o.warnings
            );
        }
    }

    #[test]
    fn a_qualified_name_or_an_operator_keeps_an_index_in_the_transaction() {
        for (e, risky) in [
            ("deleted_at IS NULL", false),
            ("lower(b) <> 'x'", false),
            ("price > 0.5 AND qty < 10", false),
            ("public.norm(b) <> 'x'", true),
            ("\"Public\" . \"norm\" (b)", true),
            ("public./* a comment */norm(b)", true),
            ("$$'$$ || public.norm(b) IS NOT NULL", true),
            ("E'\\'' || public.norm(b) IS NOT NULL", true),
            ("b OPERATOR(public.=) 'x'", true),
            ("b::public.mood IS NOT NULL", true),
            ("pg_catalog.lower(b) <> 'x'", true),
        ] {
            assert_eq!(names_other_schema(e), risky, "{e}");
        }
    }

    #[test]
    fn a_partitioned_table_keeps_the_blocking_forms_and_says_why() {
        let v = json!({"schema_version": "2", "description": "d",
            "options": {"default_indexes": false, "online": true},
            "tables": [{"name": "big", "tenant_scoped": false, "timestamps": false,
                "soft_delete": false, "rls": false,
                "partition_by": {"method": "hash", "columns": ["id"]},
                "columns": [{"name": "a", "type": "integer"}],
                "indexes": [{"columns": ["a"]}]}]});
        let (p, o) = planned(v, Some(10), None);
        let o = o.unwrap();
        assert!(o.deferred.is_empty(), "{:?}", o.deferred);
        assert!(
            p.steps.iter().any(|s| s.sql.starts_with("CREATE INDEX ")),
            "{:?}",
            p.steps
        );
        assert!(
            o.warnings.iter().any(|w| w.contains("a partitioned table")),
            "{:?}",
            o.warnings
        );
    }

    #[test]
    fn every_scanning_step_takes_its_online_form() {
        let (blocking, _) = {
            let s = schema(v2(Some(false)));
            let st = state(&s, Some(10));
            (plan(&s, &st), ())
        };
        let scanning: Vec<&str> = blocking
            .steps
            .iter()
            .filter(|x| x.scans)
            .map(|x| x.sql.as_str())
            .collect();
        assert_eq!(scanning.len(), 5, "{scanning:#?}");
        let (p, o) = planned(v2(Some(true)), Some(10), None);
        let o = o.unwrap();
        assert!(p.steps.iter().all(|x| !x.scans), "{:#?}", p.steps);
        let sql: Vec<&str> = o.deferred.iter().map(|d| d.step.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                r#"ALTER TABLE "public"."big" VALIDATE CONSTRAINT "revos_nn_a""#,
                r#"ALTER TABLE "public"."big" ALTER COLUMN "a" SET NOT NULL"#,
                r#"ALTER TABLE "public"."big" DROP CONSTRAINT "revos_nn_a""#,
                r#"CREATE UNIQUE INDEX CONCURRENTLY "uq_big_c" ON "public"."big" ("c")"#,
                r#"ALTER TABLE "public"."big" ADD CONSTRAINT "uq_big_c" UNIQUE USING INDEX "uq_big_c""#,
                r#"ALTER TABLE "public"."big" VALIDATE CONSTRAINT "ck_big_a""#,
                r#"ALTER TABLE "public"."big" VALIDATE CONSTRAINT "fk_big_ref_id""#,
                r#"CREATE UNIQUE INDEX CONCURRENTLY "uq_big_a" ON "public"."big" USING btree ("a")"#,
            ],
            "{:#?}",
            o.deferred
        );
        let chains: Vec<usize> = o.deferred.iter().map(|d| d.chain).collect();
        assert_eq!(chains, [0, 0, 0, 1, 1, 2, 3, 4]);
        // a failed NOT NULL chain keeps its helper (new rows stay checked); the next plan drops a
        // helper left that way, and adds its own again last
        assert!(o.deferred[..3].iter().all(|d| d.cleanup.is_none()));
        let helper_add = r#"ALTER TABLE "public"."big" ADD CONSTRAINT "revos_nn_a" CHECK"#;
        assert!(p.steps.iter().any(|x| x.sql.starts_with(helper_add)));
        let s = schema(v2(Some(true)));
        let mut st = state(&s, Some(10));
        let big = st.tables.get_mut(&("public".into(), "big".into())).unwrap();
        big.constraints.push(ConstraintSnapshot {
            name: "revos_nn_a".into(),
            kind: 'c',
            definition: Some("CHECK ((a IS NOT NULL)) NOT VALID".into()),
            not_valid: true,
            ..Default::default()
        });
        let mut again = plan(&s, &st);
        transform(&mut again, &s, None, true, &HashSet::new()).unwrap();
        let sql: Vec<&str> = again.steps.iter().map(|x| x.sql.as_str()).collect();
        let dropped = sql
            .iter()
            .position(|x| *x == r#"ALTER TABLE "public"."big" DROP CONSTRAINT "revos_nn_a""#);
        let added = sql.iter().position(|x| x.starts_with(helper_add));
        assert!(dropped.is_some() && dropped < added, "{sql:#?}");
        assert!(again.warnings.iter().all(|w| !w.contains("revos_nn_a")));
        // a check of that name but another definition, or one the schema declares, is not revos's
        let big = st.tables.get_mut(&("public".into(), "big".into())).unwrap();
        big.constraints.last_mut().unwrap().definition = Some("CHECK ((a > 0))".into());
        let other = plan(&s, &st);
        assert!(other
            .steps
            .iter()
            .all(|x| !x.sql.contains("DROP CONSTRAINT \"revos_nn_a\"")));
        // the forms left in the transaction: NOT NULL's helper, the check and the foreign key, each
        // NOT VALID (enforced on new rows from the commit on), no scan
        let in_tx: Vec<&Step> = p
            .steps
            .iter()
            .filter(|x| x.sql.contains("NOT VALID"))
            .collect();
        assert_eq!(in_tx.len(), 3, "{in_tx:#?}");
        for name in ["revos_nn_a", "ck_big_a", "fk_big_ref_id"] {
            assert!(
                in_tx.iter().any(|x| x.sql.contains(name) && !x.scans),
                "{name}: {in_tx:#?}"
            );
        }
        // nothing deferred adds a constraint (a NOT VALID ADD is the transaction's)
        assert!(
            !o.deferred
                .iter()
                .any(|d| matches!(d.completion, Completion::Added { .. })),
            "{:#?}",
            o.deferred
        );
        for d in &o.deferred {
            assert_ne!(d.step.lock, Some(Lock::Share));
            assert!(!d.step.rewrites);
        }
        assert_eq!(o.tables, [r#""public"."big""#]);
    }

    #[test]
    fn the_not_valid_adds_run_last_and_are_verified_after_them() {
        let s = schema(v2(Some(true)));
        let (p, _) = planned(v2(Some(true)), Some(10), None);
        // the three ADD … NOT VALID are the plan's last steps, and only they
        assert_eq!(p.last, 3, "{:#?}", p.steps);
        let tail = &p.steps[p.steps.len() - p.last..];
        assert!(
            tail.iter().all(|x| x.sql.ends_with(" NOT VALID")),
            "{tail:#?}"
        );
        assert!(
            p.steps[..p.steps.len() - p.last]
                .iter()
                .all(|x| !x.sql.contains("NOT VALID")),
            "{:#?}",
            p.steps
        );
        // their table is verified after them, whole; every other table before them
        let (before, after) = split_last(&s, tail);
        let names = |v: &Schema| {
            v.tables
                .iter()
                .map(|t| t.name.as_str().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&after), ["big"]);
        assert_eq!(names(&before), ["parent"]);
        let all = s.tables.iter().find(|t| t.name.as_str() == "big").unwrap();
        assert_eq!(after.tables[0].checks.len(), all.checks.len());
        assert_eq!(after.tables[0].foreign_keys.len(), all.foreign_keys.len());
        assert_eq!(after.tables[0].columns.len(), all.columns.len());
        assert!(after.enums.is_empty() && after.drop_tables.is_empty());
        // without the online forms nothing runs last
        let (blocking, _) = planned(v2(Some(false)), Some(10), None);
        assert_eq!(blocking.last, 0);
    }

    #[test]
    fn cost_warnings_the_online_forms_made_untrue_are_gone() {
        let big = LARGE_TABLE_ROWS * 2;
        let s = schema(v2(Some(false)));
        let blocking = plan(&s, &state(&s, Some(big)));
        let about = |p: &Plan| {
            p.warnings
                .iter()
                .filter(|w| w.contains("holds about") || w.contains("are checked against it"))
                .count()
        };
        assert!(about(&blocking) >= 2, "{:?}", blocking.warnings);
        let (p, o) = planned(v2(Some(true)), Some(big), None);
        assert!(!o.unwrap().deferred.is_empty());
        assert_eq!(about(&p), 0, "{:?}", p.warnings);
    }

    #[test]
    fn the_threshold_decides_without_the_option() {
        let (_, small) = planned(v2(None), Some(ONLINE_ROWS), None);
        assert!(small.unwrap().deferred.is_empty());
        let (_, big) = planned(v2(None), Some(ONLINE_ROWS + 1), None);
        assert_eq!(big.unwrap().deferred.len(), 8);
        let (_, off) = planned(v2(Some(false)), Some(ONLINE_ROWS * 10), None);
        assert!(off.unwrap().deferred.is_empty());
        let (_, unknown) = planned(v2(None), None, None);
        let unknown = unknown.unwrap();
        assert!(unknown.deferred.is_empty());
        assert!(
            unknown
                .warnings
                .iter()
                .any(|w| w.contains("never analyzed")),
            "{:?}",
            unknown.warnings
        );
    }

    #[test]
    fn unavailable_blocks_when_asked_and_warns_by_size() {
        let (_, asked) = planned(v2(Some(true)), Some(10), Some("no worker"));
        assert_eq!(asked.unwrap_err().code, code::ONLINE_UNAVAILABLE);
        let (p, by_size) = planned(v2(None), Some(ONLINE_ROWS * 2), Some("no worker"));
        let by_size = by_size.unwrap();
        assert!(by_size.deferred.is_empty());
        assert!(by_size.warnings.iter().any(|w| w.contains("no worker")));
        assert!(p.steps.iter().any(|x| x.scans));
    }

    /// A table another role owns (one the applying role does not trust) keeps every blocking
    /// form, with a warning that says why; the same plan with a trusted owner defers its steps.
    #[test]
    fn a_table_of_an_untrusted_owner_defers_nothing() {
        let s = schema(v2(Some(true)));
        let st = state(&s, Some(10));
        let mut trusted = plan(&s, &st);
        let o = transform(&mut trusted, &s, None, true, &HashSet::new()).unwrap();
        assert!(!o.deferred.is_empty());
        let owned: HashSet<String> = s.tables.iter().map(object).collect();
        let mut p = plan(&s, &st);
        let before = p.script();
        let o = transform(&mut p, &s, None, true, &owned).unwrap();
        assert!(o.deferred.is_empty());
        assert_eq!(p.script(), before);
        assert!(
            o.warnings.iter().any(|w| w.contains("does not trust")),
            "{:?}",
            o.warnings
        );
    }

    /// A foreign key to a table of an untrusted role is validated in the transaction (validating
    /// it plans a query over that table, whose index predicates the planner evaluates: adversarial
    /// review 5); the referencing table's other steps are still deferred.
    #[test]
    fn a_foreign_key_to_an_untrusted_table_is_not_deferred() {
        let s = schema(v2(Some(true)));
        let st = state(&s, Some(10));
        let fk = |o: &OnlinePlan| {
            o.deferred
                .iter()
                .filter(|d| d.step.kind == "foreign_key")
                .count()
        };
        let mut trusted = plan(&s, &st);
        let o = transform(&mut trusted, &s, None, true, &HashSet::new()).unwrap();
        assert_eq!(fk(&o), 1, "{:?}", o.deferred);
        let parent: HashSet<String> = [fk_target(&s.tables[1].foreign_keys[0])].into();
        let mut p = plan(&s, &st);
        let o = transform(&mut p, &s, None, true, &parent).unwrap();
        assert_eq!(fk(&o), 0, "{:?}", o.deferred);
        assert!(!o.deferred.is_empty());
        assert!(o.warnings.iter().any(|w| w.contains("does not trust")));
    }

    #[test]
    fn a_table_created_by_the_plan_keeps_its_steps() {
        let s = schema(v2(Some(true)));
        let mut p = plan(&s, &CatalogState::default());
        let before = p.script();
        let o = transform(&mut p, &s, None, true, &HashSet::new()).unwrap();
        assert!(o.deferred.is_empty());
        assert_eq!(p.script(), before);
    }

    #[test]
    fn the_pending_view_leaves_out_what_is_deferred() {
        let s = schema(v2(Some(true)));
        let (_, o) = planned(v2(Some(true)), Some(10), None);
        let v = pending_view(&s, &o.unwrap());
        let big = v.tables.iter().find(|t| t.name.as_str() == "big").unwrap();
        assert!(big.indexes.iter().all(|x| x.name.as_str() != "uq_big_a"));
        assert!(big.uniques.is_empty());
        assert!(!big.column(&Name::from_catalog("a")).unwrap().not_null);
        assert_eq!(big.checks.len(), 1);
    }
    /// `big` exists (with rows, per `state`); `email` is new, with a volatile default.
    fn with_new_column(column: Value, rls: bool) -> Value {
        json!({"schema_version": "2", "description": "d",
            "options": {"default_indexes": false, "online": true},
            "tables": [{"name": "big", "tenant_scoped": false, "timestamps": false,
                "soft_delete": false, "rls": rls,
                "columns": [{"name": "a", "type": "integer"}, column]}]})
    }

    fn sqls(steps: &[Step]) -> Vec<&str> {
        steps.iter().map(|x| x.sql.as_str()).collect()
    }

    #[test]
    fn a_volatile_default_is_added_in_the_catalog_and_backfilled_in_batches() {
        let col = json!({"name": "email", "type": "text", "not_null": true,
                         "default": "gen_random_uuid()::text"});
        let v = with_new_column(col, false);
        let s = schema(v.clone());
        let blocking = plan(&s, &state(&s, Some(10)));
        let add = blocking
            .steps
            .iter()
            .find(|x| x.sql.contains("ADD COLUMN"))
            .unwrap();
        assert!(
            add.rewrites && add.lock == Some(Lock::AccessExclusive),
            "{add:?}"
        );
        let (p, o) = planned(v, Some(10), None);
        let o = o.unwrap();
        let q = r#""public"."big""#;
        assert_eq!(
            sqls(&p.steps),
            [
                format!(r#"ALTER TABLE {q} ADD COLUMN "email" text"#),
                format!(
                    r#"ALTER TABLE {q} ALTER COLUMN "email" SET DEFAULT (gen_random_uuid()::text)"#
                ),
            ]
        );
        // in the transaction: catalog only, nothing scans or rewrites
        assert!(
            p.steps.iter().all(|x| !x.scans && !x.rewrites),
            "{:#?}",
            p.steps
        );
        let deferred: Vec<&Step> = o.deferred.iter().map(|d| &d.step).collect();
        assert_eq!(
            deferred.iter().map(|x| x.sql.as_str()).collect::<Vec<_>>(),
            [
                backfill_sql(q, &Name::from_catalog("email")).as_str(),
                // after the backfill: in the transaction it would refuse updates of unfilled rows
                r#"ALTER TABLE "public"."big" ADD CONSTRAINT "revos_nn_email" CHECK (("email" IS NOT NULL)) NOT VALID"#,
                r#"ALTER TABLE "public"."big" VALIDATE CONSTRAINT "revos_nn_email""#,
                r#"ALTER TABLE "public"."big" ALTER COLUMN "email" SET NOT NULL"#,
                r#"ALTER TABLE "public"."big" DROP CONSTRAINT "revos_nn_email""#,
            ]
        );
        // the backfill: ROW EXCLUSIVE per batch, reads every page, no rewrite
        let b = deferred[0];
        assert_eq!(
            (b.kind, b.lock, b.rewrites, b.scans),
            ("backfill", Some(Lock::RowExclusive), false, true)
        );
        assert_eq!(
            o.deferred[0].completion,
            Completion::Backfilled {
                schema: "public".into(),
                table: "big".into(),
                column: "email".into()
            }
        );
        // one chain: a failed backfill skips the NOT NULL steps; a helper added is kept (the next
        // plan drops it)
        assert!(o.deferred.iter().all(|d| d.chain == 0));
        assert!(o.deferred.iter().all(|d| d.cleanup.is_none()));
        assert!(
            o.warnings.iter().all(|w| !w.contains("no lock-light form")),
            "{:?}",
            o.warnings
        );
        // what verify sees at the commit: the column there, still nullable
        let view = pending_view(&s, &o);
        let big = view
            .tables
            .iter()
            .find(|t| t.name.as_str() == "big")
            .unwrap();
        assert!(!big.column(&Name::from_catalog("email")).unwrap().not_null);
    }

    #[test]
    fn a_nullable_volatile_default_is_only_backfilled() {
        let col = json!({"name": "email", "type": "text", "default": "clock_timestamp()::text"});
        let (p, o) = planned(with_new_column(col, false), Some(10), None);
        let o = o.unwrap();
        assert_eq!(p.steps.len(), 2, "{:#?}", p.steps);
        assert_eq!(o.deferred.len(), 1);
        assert_eq!(o.deferred[0].step.kind, "backfill");
        assert!(o.deferred[0].cleanup.is_none());
    }

    /// The backfill is an UPDATE run as the applying role: a forced tenant policy would hide the
    /// rows from a role that is neither a superuser nor BYPASSRLS. Such a column keeps the blocking
    /// form, and the warning says why; a stored generated column has no batched form either.
    #[test]
    fn a_backfill_the_policy_would_hide_or_a_generated_column_stays_blocking() {
        let col = json!({"name": "email", "type": "text", "default": "gen_random_uuid()::text"});
        let s = schema(with_new_column(col.clone(), true));
        let mut p = plan(&s, &state(&s, Some(10)));
        let o = transform(&mut p, &s, None, false, &HashSet::new()).unwrap();
        assert!(o.deferred.is_empty(), "{:?}", o.deferred);
        assert!(p
            .steps
            .iter()
            .any(|x| x.rewrites && x.sql.contains("ADD COLUMN")));
        assert!(
            o.warnings
                .iter()
                .any(|w| w.contains("tenant policy") && w.contains("no lock-light form")),
            "{:?}",
            o.warnings
        );
        // a superuser or BYPASSRLS role: batched
        let mut p = plan(&s, &state(&s, Some(10)));
        let o = transform(&mut p, &s, None, true, &HashSet::new()).unwrap();
        assert_eq!(o.deferred.len(), 1);
        let generated = json!({"name": "email", "type": "text", "generated": "md5(a::text)"});
        let (p, o) = planned(with_new_column(generated, false), Some(10), None);
        let o = o.unwrap();
        assert!(o.deferred.is_empty());
        assert!(p.steps.iter().any(|x| x.rewrites));
        assert!(o.warnings.iter().any(|w| w.contains("no lock-light form")));
    }
}
