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
