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
}

impl Issue {
    pub fn new(path: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Issue {
            path: path.into(),
            code,
            message: message.into(),
        }
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
    /// The HTTP status PostgREST answers with.
    pub fn http(self) -> &'static str {
        match self {
            Status::Applied | Status::Noop | Status::Planned => "200",
            Status::Blocked => "400",
            Status::Conflict => "409",
            Status::Failed => "500",
        }
    }
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
}
