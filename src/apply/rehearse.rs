//! plan_schema as a true dry run, and apply's answer when PostgreSQL refuses a statement
//! (issue 20).
//!
//! * `rehearse`: plan_schema runs the plan exactly as apply_schema would — `execute`: the same
//!   statements in the same order, each DDL statement announced to the drift capture as revos's
//!   own, under the pinned search_path, `standard_conforming_strings = on` and the call's
//!   `lock_timeout`, then the same verification of the catalog — inside a subtransaction that is
//!   always rolled back. It takes the locks each step takes (README, "What each step costs") and
//!   releases them when the subtransaction rolls back, before plan_schema answers.
//! * `refused`: what a refusal means, wherever it happened (the rehearsal, or apply's own run):
//!   the step PostgreSQL refused (`failure`), the payload path it comes from and a hint
//!   (`schema::locate`), completed here with what only the catalog knows (the schemas that do
//!   have a function, type or table of the name the error says is missing).
//!
//! A refusal is one of three kinds. A planned statement the payload makes impossible (SQLSTATE
//! class 42 — a column, function or type that does not exist, a bare word in a default, a
//! privilege — or 0A, a feature PostgreSQL does not support there) is a validation error: plan_schema answers
//! `blocked`, and so does apply_schema — its savepoint rolls everything back and nothing is
//! recorded, the answer plan_schema would have given. What only the data reveals (rows violating
//! a check, a key or NOT NULL, a value that does not convert; any other error) is a validation
//! error of plan_schema too (`rows_violate`, `statement_refused`), and apply answers `failed`,
//! recorded in the ledger as before; so is what is refused after the statements ran (the check of
//! what the apply leaves depending on, `dependencies`; the verification). A wait that ran out (lock_timeout, a deadlock:
//! `error::is_transient`) is `failed` for both, naming the table waited for (HTTP 503).

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::failure::{self, Failure};
use super::pg_catalog::rolled_back;
use crate::error::{code, is_transient, Issue};
use crate::schema::locate::{locate, Missing, Refusal};
use crate::schema::model::Schema;
use crate::schema::steps::Plan;

/// What a refusal is to the caller (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The payload asks for what PostgreSQL refuses (classes 42, 0A): blocked, nothing recorded.
    Payload,
    /// What the data or the state of the database refuses: apply fails (recorded).
    Data,
    /// A wait ran out: failed for both, retry later.
    Transient,
}

/// A statement PostgreSQL refused, as the caller hears of it.
#[derive(Debug, Clone)]
pub struct Refused {
    pub kind: Kind,
    pub message: String,
    pub sqlstate: String,
    /// The issue: the payload path, a code, the message with the step, a hint.
    pub issue: Issue,
    /// The table (or object) of the step refused, when it was a step.
    pub table: Option<String>,
    pub step: Option<usize>,
}

impl Refused {
    /// `failed`'s `error`: PostgreSQL's message and SQLSTATE, and where it comes from.
    pub fn error_json(&self) -> Value {
        json!({
            "message": self.message,
            "sqlstate": self.sqlstate,
            "path": self.issue.path,
            "hint": self.issue.hint,
            "table": self.table,
            "step": self.step.map(|i| i + 1),
        })
    }

    /// The message with the table a transient failure waited for.
    pub fn message_naming_table(&self) -> String {
        match (&self.table, self.step) {
            (Some(t), Some(i)) => format!("{} (step {} of the plan, on {t})", self.message, i + 1),
            _ => self.message.clone(),
        }
    }
}

/// plan_schema's rehearsal of `p` (see the module's documentation): `execute` is apply's run of
/// the plan; Ok when every statement and the verification went through.
pub fn rehearse<V>(
    schema: &Schema,
    p: &Plan,
    execute: impl FnOnce() -> Result<V, (String, String)>,
) -> Result<(), Refused> {
    let result = rolled_back(|| {
        // the rehearsal's NOTICEs (CREATE SCHEMA IF NOT EXISTS … skipping) are apply's to say
        Spi::run("SET LOCAL client_min_messages = warning")
            .unwrap_or_else(|e| pgrx::error!("revos: rehearsal: {e}"));
        execute()
    })
    .and_then(|r| r.map(|_| ()));
    let failed_at = failure::take_last();
    result.map_err(|e| refused(schema, p, e, failed_at))
}

/// What the refusal `(message, sqlstate)` means; `at`: the step that raised (None: the error came
/// from outside the steps, e.g. the verification).
pub fn refused(
    schema: &Schema,
    p: &Plan,
    (message, sqlstate): (String, String),
    at: Option<Failure>,
) -> Refused {
    // a refusal of a planned statement for a reason in the payload; what is refused after the
    // statements ran (the dependency check, the verification) is a finding about what the apply
    // would leave: it fails, as it always did
    let kind = if is_transient(&sqlstate) {
        Kind::Transient
    } else if at.is_some() && (sqlstate.starts_with("42") || sqlstate.starts_with("0A")) {
        Kind::Payload
    } else {
        Kind::Data
    };
    let step = at.and_then(|f| p.steps.get(f.step).map(|st| (f, st)));
    let issue = match step {
        Some((f, st)) => {
            let l = locate(
                schema,
                &Refusal {
                    step: st,
                    message: &message,
                    sqlstate: &sqlstate,
                    position: f.position,
                },
            );
            let hint = match (&l.missing, l.hint) {
                (Some(m), Some(h)) => Some(format!("{h}{}", found_elsewhere(m))),
                (_, h) => h,
            };
            Issue::new(
                l.path,
                l.code,
                format!(
                    "PostgreSQL refused step {} of the plan ({} on {}): {message} (SQLSTATE {sqlstate})",
                    f.step + 1,
                    st.sql.split_whitespace().take(2).collect::<Vec<_>>().join(" "),
                    st.object
                ),
            )
            .with_hint(hint)
        }
        None => Issue::new(
            "$",
            code::STATEMENT_REFUSED,
            format!("{message} (SQLSTATE {sqlstate})"),
        ),
    };
    Refused {
        kind,
        message,
        sqlstate,
        issue,
        table: step.map(|(_, st)| st.object.clone()),
        step: step.map(|(f, _)| f.step),
    }
}

/// `; a function named f exists in schema public: write public.f(…)` — the schemas that have
/// what the error says is missing (revos's search_path holds only pg_catalog, revos, pg_temp).
fn found_elsewhere(m: &Missing) -> String {
    let (sql, what, name) = match m {
        Missing::Function(n) => (
            "SELECT string_agg(DISTINCT n.nspname, ', ' ORDER BY n.nspname) FROM pg_catalog.pg_proc x
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) x.pronamespace
              WHERE x.proname OPERATOR(pg_catalog.=) $1",
            "a function",
            n,
        ),
        Missing::Type(n) => (
            "SELECT string_agg(DISTINCT n.nspname, ', ' ORDER BY n.nspname) FROM pg_catalog.pg_type x
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) x.typnamespace
              WHERE x.typname OPERATOR(pg_catalog.=) $1",
            "a type",
            n,
        ),
        Missing::Relation(n) => (
            "SELECT string_agg(DISTINCT n.nspname, ', ' ORDER BY n.nspname) FROM pg_catalog.pg_class x
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) x.relnamespace
              WHERE x.relname OPERATOR(pg_catalog.=) $1",
            "a table",
            n,
        ),
    };
    let bare = name.rsplit('.').next().unwrap_or(name).trim_matches('"');
    let schemas: Option<String> = Spi::get_one_with_args(sql, &[bare.into()]).ok().flatten();
    let list = schemas.unwrap_or_default();
    let schemas: Vec<&str> = list.split(", ").filter(|s| !s.is_empty()).collect();
    let visible: Vec<&str> = schemas
        .iter()
        .copied()
        .filter(|s| matches!(*s, "pg_catalog" | "revos"))
        .collect();
    let elsewhere: Vec<&str> = schemas
        .iter()
        .copied()
        .filter(|s| !visible.contains(s) && !s.starts_with("pg_"))
        .collect();
    if let Some(first) = elsewhere.first() {
        format!(
            "; {what} named {bare} exists in schema {}: write {first}.{bare}",
            elsewhere.join(", ")
        )
    } else if !visible.is_empty() {
        format!(
            "; {what} named {bare} exists in {} with other argument types: check the types of the arguments (cast them)",
            visible.join(", ")
        )
    } else {
        String::new()
    }
}
