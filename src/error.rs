//! Errors a caller can cause, each with a stable code and a SQLSTATE.
//!
//! Two kinds exist:
//! * [`Issue`]: one problem found in a payload, reported with its JSON path. A payload with issues
//!   is answered with status `blocked` and the full list (every issue at once, nothing runs).
//! * [`RevosError`]: a call that cannot even be answered with an envelope (unreadable arguments,
//!   misuse of a helper function). The `#[pg_extern]` layer raises it as a Postgres ERROR with the
//!   SQLSTATE given by [`RevosError::sqlstate`].

use serde::Serialize;
use std::fmt;

/// One problem in a payload: where, what kind, and a sentence for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub path: String,
    pub code: &'static str,
    pub message: String,
    /// What to do about it, when revos knows (a statement PostgreSQL refused: quote the default,
    /// schema-qualify the function …). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Issue {
    pub fn new(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Issue {
            path: path.into(),
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

/// The validation codes, in one place so that docs and tests can enumerate them.
pub mod code {
    pub const MISSING_KEY: &str = "missing_key";
    pub const UNKNOWN_KEY: &str = "unknown_key";
    pub const WRONG_TYPE: &str = "wrong_type";
    pub const INVALID_VALUE: &str = "invalid_value";
    pub const INVALID_NAME: &str = "invalid_name";
    pub const NAME_TOO_LONG: &str = "name_too_long";
    pub const RESERVED_NAME: &str = "reserved_name";
    pub const DUPLICATE_NAME: &str = "duplicate_name";
    pub const UNKNOWN_COLUMN: &str = "unknown_column";
    pub const UNKNOWN_TYPE: &str = "unknown_type";
    pub const INVALID_EXPRESSION: &str = "invalid_expression";
    pub const UNKNOWN_REFERENCE: &str = "unknown_reference";
    pub const EMPTY_ENUM: &str = "empty_enum";
    pub const DUPLICATE_VALUE: &str = "duplicate_value";
    pub const EMPTY_SCHEMA: &str = "empty_schema";
    pub const CONFLICTING_DEFINITION: &str = "conflicting_definition";
    pub const BACKFILL_REQUIRED: &str = "backfill_required";
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    pub const PAYLOAD_TOO_DEEP: &str = "payload_too_deep";
    pub const ENUM_VALUE_IN_USE: &str = "enum_value_in_use";
    /// Citus cannot place the schema as asked (contract §13; `distribute`).
    pub const NOT_DISTRIBUTABLE: &str = "not_distributable";
    /// A row count the plan needs (NOT NULL, drops, enum values) could not be read, e.g. the
    /// caller may not SELECT from the table.
    pub const ROWS_UNREADABLE: &str = "rows_unreadable";
    /// PostgreSQL refused a planned statement (plan_schema's rehearsal, or apply before anything
    /// is kept) because a function an expression calls does not exist on revos's search_path.
    pub const UNKNOWN_FUNCTION: &str = "unknown_function";
    /// The rehearsal found rows that violate what the plan adds (a check, a key, NOT NULL).
    pub const ROWS_VIOLATE: &str = "rows_violate";
    /// PostgreSQL refused a planned statement for another reason (a privilege, a feature): the
    /// message has its words and SQLSTATE.
    pub const STATEMENT_REFUSED: &str = "statement_refused";
    /// `options.expected_plan_hash` is not the plan apply would run now (contract §14).
    pub const STALE_PLAN: &str = "stale_plan";
    /// `options.online: true`, and this server or role cannot run deferred steps.
    pub const ONLINE_UNAVAILABLE: &str = "online_unavailable";
    /// Deferred steps of an earlier version are still pending or running on a table this
    /// version changes.
    pub const DEFERRED_PENDING: &str = "deferred_pending";
    /// An expression or type names a schema another role owns or may create in (or an object
    /// there of another role's), or a schema that does not exist: what it binds could be that
    /// role's code, run as the caller (`schema::trusted_names`).
    pub const UNTRUSTED_NAME: &str = "untrusted_name";

    /// Every code above; the unit tests check that each is produced by some input.
    pub const ALL: &[&str] = &[
        MISSING_KEY,
        UNKNOWN_KEY,
        WRONG_TYPE,
        INVALID_VALUE,
        INVALID_NAME,
        NAME_TOO_LONG,
        RESERVED_NAME,
        DUPLICATE_NAME,
        UNKNOWN_COLUMN,
        UNKNOWN_TYPE,
        INVALID_EXPRESSION,
        UNKNOWN_REFERENCE,
        EMPTY_ENUM,
        DUPLICATE_VALUE,
        EMPTY_SCHEMA,
        CONFLICTING_DEFINITION,
        BACKFILL_REQUIRED,
        PAYLOAD_TOO_LARGE,
        PAYLOAD_TOO_DEEP,
        ENUM_VALUE_IN_USE,
        ROWS_UNREADABLE,
        NOT_DISTRIBUTABLE,
        UNKNOWN_FUNCTION,
        ROWS_VIOLATE,
        STATEMENT_REFUSED,
        STALE_PLAN,
        ONLINE_UNAVAILABLE,
        DEFERRED_PENDING,
        UNTRUSTED_NAME,
    ];
}

/// Errors raised as Postgres ERRORs (not answered with an envelope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevosError {
    /// The argument is not usable at all (for example a JSON array where an object is needed).
    InvalidArgument(String),
    /// The payload was rejected; the issues are in the message.
    Blocked(Vec<Issue>),
    /// Something inside revos failed that a caller cannot fix.
    Internal(String),
}

impl RevosError {
    /// The five-character SQLSTATE for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            RevosError::InvalidArgument(_) => "22023", // invalid_parameter_value
            RevosError::Blocked(_) => "22023",
            RevosError::Internal(_) => "XX000", // internal_error
        }
    }
}

impl fmt::Display for RevosError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RevosError::InvalidArgument(m) => write!(f, "revos: {m}"),
            RevosError::Internal(m) => write!(f, "revos internal error: {m}"),
            RevosError::Blocked(issues) => {
                write!(f, "revos: input rejected ({} problem(s))", issues.len())?;
                for i in issues {
                    write!(f, "; {} [{}]: {}", i.path, i.code, i.message)?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for RevosError {}

/// The `result.status` of every call (contract §8), serialized as its lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Applied,
    Noop,
    Blocked,
    Conflict,
    Failed,
    /// `plan_schema`: the plan was made, nothing ran.
    Planned,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Applied => "applied",
            Status::Noop => "noop",
            Status::Blocked => "blocked",
            Status::Conflict => "conflict",
            Status::Failed => "failed",
            Status::Planned => "planned",
        }
    }
    /// `meta_out.success`: the caller got what it asked for.
    pub fn success(self) -> bool {
        matches!(self, Status::Applied | Status::Noop | Status::Planned)
    }
    /// The HTTP status PostgREST answers with (`response.status`), given the error's SQLSTATE
    /// for `failed`: a wait that ran out (a lock held by another session past lock_timeout_ms, a
    /// deadlock, a serialization failure, a statement timeout, the server out of resources) is
    /// 503 — nothing is wrong with the request, the same call later may pass (n8n's "retry on
    /// fail" and HTTP clients retry a 503, never a 4xx); rows the change cannot keep (a check,
    /// key or NOT NULL they violate, a value that does not convert: SQLSTATE classes 23 and 22)
    /// are 409, the request conflicting with the data, fixed by changing the data or the
    /// payload; any other failure is 500.
    pub fn http_for(self, sqlstate: Option<&str>) -> &'static str {
        match self {
            Status::Applied | Status::Noop | Status::Planned => "200",
            Status::Blocked => "400",
            Status::Conflict => "409",
            Status::Failed => match sqlstate.unwrap_or_default() {
                s if is_transient(s) => "503",
                s if s.starts_with("23") || s.starts_with("22") => "409",
                _ => "500",
            },
        }
    }
}

/// SQLSTATEs of a wait that ran out or a transient clash: lock_not_available (55P03: lock_timeout),
/// deadlock_detected, serialization_failure, query_canceled (57014: statement_timeout), and class
/// 53 (insufficient resources). The same call may pass later.
pub fn is_transient(sqlstate: &str) -> bool {
    matches!(sqlstate, "55P03" | "40P01" | "40001" | "57014") || sqlstate.starts_with("53")
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a planned change blocks until `options.allow_destructive` (a [`crate::schema::steps::Risk`]'s code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskCode {
    /// A column's type changes (rewrites the table; may fail or lose precision).
    TypeChange,
    /// A column becomes NOT NULL (fails on rows holding NULL).
    SetNotNull,
    /// A column's generated expression changes (the column is dropped and added again).
    GeneratedChange,
    /// A check constraint changes and existing rows violate the new one.
    CheckChange,
    /// A foreign key changes its columns or target (existing rows may not match the new target).
    FkChange,
    /// A unique index changes (existing rows may hold duplicates).
    IndexChange,
    /// An undeclared PERMISSIVE policy on a tenant-scoped table: it widens what a tenant sees.
    ForeignPolicy,
    DropColumn,
    DropTable,
    DropIndex,
    DropEnumValue,
    /// A declared property of an existing object could not be read or deparsed (no privilege
    /// to build the shadow, a lock timeout, a deparse error): never counted as equal.
    CannotCompare,
    /// A declared constraint is NOT VALID in the catalog and existing rows violate it.
    NotValidated,
    /// The primary key's columns differ from the declared ones.
    PrimaryKeyChange,
    /// An enum's existing values are declared in another order (the type is recreated).
    EnumOrder,
    /// Citus: tables that exist on one node with rows are distributed in place (their rows are
    /// copied to the shards under locks held until commit).
    DistributeExisting,
}

impl RiskCode {
    pub fn as_str(self) -> &'static str {
        match self {
            RiskCode::TypeChange => "type_change",
            RiskCode::SetNotNull => "set_not_null",
            RiskCode::GeneratedChange => "generated_change",
            RiskCode::CheckChange => "check_change",
            RiskCode::FkChange => "fk_change",
            RiskCode::IndexChange => "index_change",
            RiskCode::ForeignPolicy => "foreign_policy",
            RiskCode::DropColumn => "drop_column",
            RiskCode::DropTable => "drop_table",
            RiskCode::DropIndex => "drop_index",
            RiskCode::DropEnumValue => "drop_enum_value",
            RiskCode::CannotCompare => "cannot_compare",
            RiskCode::NotValidated => "not_validated",
            RiskCode::PrimaryKeyChange => "primary_key_change",
            RiskCode::EnumOrder => "enum_order",
            RiskCode::DistributeExisting => "distribute_existing",
        }
    }
}

impl fmt::Display for RiskCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_risk_codes_serialize_as_their_names() {
        for s in [
            Status::Applied,
            Status::Noop,
            Status::Blocked,
            Status::Conflict,
            Status::Failed,
            Status::Planned,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        for r in [
            RiskCode::TypeChange,
            RiskCode::SetNotNull,
            RiskCode::ForeignPolicy,
            RiskCode::DropEnumValue,
            RiskCode::GeneratedChange,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }

    #[test]
    fn http_statuses_follow_the_outcome_and_the_sqlstate() {
        assert_eq!(Status::Applied.http_for(None), "200");
        assert_eq!(Status::Planned.http_for(None), "200");
        assert_eq!(Status::Blocked.http_for(None), "400");
        assert_eq!(Status::Conflict.http_for(None), "409");
        for transient in ["55P03", "40P01", "40001", "57014", "53200"] {
            assert_eq!(
                Status::Failed.http_for(Some(transient)),
                "503",
                "{transient}"
            );
        }
        assert_eq!(Status::Failed.http_for(Some("23514")), "409");
        assert_eq!(Status::Failed.http_for(Some("22P02")), "409");
        assert_eq!(Status::Failed.http_for(Some("P0004")), "500");
        assert_eq!(Status::Failed.http_for(None), "500");
    }

    /// Risk codes raised only on a Citus coordinator: their gate test of its own is in the Citus
    /// suite (a cluster; `cargo test --tests` has none), named here with the file.
    const GATED_IN_CITUS_SUITE: &[(&str, &str)] =
        &[("DistributeExisting", "tests/citus/in_place.sh")];

    /// Risk codes that no stage raises (yet): each must stay unraised, and leaves this list the
    /// day a stage raises it — with its test in tests/risk_gates.rs.
    const NEVER_RAISED: &[&str] = &["FkChange", "IndexChange"];

    /// The variants of `RiskCode`, read from this file's source (so a new one cannot be missed).
    fn risk_code_variants() -> Vec<String> {
        let src = include_str!("error.rs");
        let body = src
            .split_once("pub enum RiskCode {")
            .and_then(|(_, rest)| rest.split_once("\n}"))
            .expect("pub enum RiskCode { … } in src/error.rs")
            .0;
        body.lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("//") && !l.starts_with('#') && !l.is_empty())
            .map(|l| l.trim_end_matches(',').to_string())
            .collect()
    }

    /// Every `.rs` file under `dir`: (path, text).
    fn sources(dir: &str) -> Vec<(String, String)> {
        let mut out = vec![];
        let mut dirs = vec![std::path::PathBuf::from(dir)];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).expect("src/ is readable") {
                let path = e.expect("a directory entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&path).expect("a source file");
                    out.push((path.to_string_lossy().into_owned(), text));
                }
            }
        }
        out
    }

    /// Issue 19: each risk gates on its own. Every `RiskCode` that a stage raises has an
    /// in-database test of its own, `fn <code>_alone()` in tests/risk_gates.rs (a payload with
    /// that one risk: blocked, nothing changed; applied when allowed). A variant added without
    /// such a test fails here.
    #[test]
    fn every_risk_code_has_a_gate_test_of_its_own() {
        let root = env!("CARGO_MANIFEST_DIR");
        let gates = std::fs::read_to_string(format!("{root}/tests/risk_gates.rs"))
            .expect("tests/risk_gates.rs");
        let variants = risk_code_variants();
        assert!(variants.len() >= 11, "{variants:?}");
        for n in NEVER_RAISED {
            assert!(
                variants.iter().any(|v| v == n),
                "{n} is no longer a RiskCode"
            );
        }
        let raised_in = |variant: &str| -> Vec<String> {
            sources(&format!("{root}/src"))
                .into_iter()
                .filter(|(path, text)| {
                    !path.ends_with("/src/error.rs")
                        && text
                            .lines()
                            .map(|l| l.split("//").next().unwrap_or_default())
                            .any(|l| l.contains(&format!("RiskCode::{variant}")))
                })
                .map(|(path, _)| path)
                .collect()
        };
        let mut missing = vec![];
        for v in &variants {
            let code = heck::ToSnakeCase::to_snake_case(v.as_str());
            if NEVER_RAISED.contains(&v.as_str()) {
                let at = raised_in(v);
                assert!(
                    at.is_empty(),
                    "RiskCode::{v} is raised in {at:?}: take it out of NEVER_RAISED and write fn {code}_alone() in tests/risk_gates.rs"
                );
                continue;
            }
            if let Some((_, file)) = GATED_IN_CITUS_SUITE.iter().find(|(n, _)| n == v) {
                let suite = std::fs::read_to_string(format!("{root}/{file}")).unwrap_or_default();
                // the check that this risk alone blocks: "blocked by <code> alone"
                assert!(
                    suite.contains(&format!("blocked by {code} alone")),
                    "{file} has no gate test of RiskCode::{v} alone"
                );
                continue;
            }
            // the test of its own exists, and asserts that very code
            let body = gates
                .split(&format!("fn {code}_alone()"))
                .nth(1)
                .map(|rest| rest.split("#[test]").next().unwrap_or(rest));
            if !body.is_some_and(|b| b.contains(&format!("\"{code}\""))) {
                missing.push(code);
            }
        }
        assert!(
            missing.is_empty(),
            "risk codes without a gate test of their own in tests/risk_gates.rs: {missing:?}"
        );
    }
}
