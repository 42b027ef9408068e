//! The plan's types: a [`Plan`] is [`Step`]s of SQL, each with its [`Cost`] (the [`Lock`] it
//! takes, whether it rewrites or scans its table, the table's estimated rows), and the [`Risk`]s
//! that block it. Pure; below `evolve`, `plan` and `citus::distribute`, which all build steps.

use serde::Serialize;

use crate::error::RiskCode;
use crate::ident::sha256_hex;
use crate::schema::model::Declared;

/// A table-level lock mode, as Postgres names it (the strongest one a statement takes on the
/// table it changes; see the "Explicit Locking" chapter and each statement's page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Lock {
    #[serde(rename = "ROW EXCLUSIVE")]
    RowExclusive,
    #[serde(rename = "SHARE UPDATE EXCLUSIVE")]
    ShareUpdateExclusive,
    #[serde(rename = "SHARE")]
    Share,
    #[serde(rename = "SHARE ROW EXCLUSIVE")]
    ShareRowExclusive,
    /// Only SELECT goes on (Citus's create_distributed_table while it copies the rows).
    #[serde(rename = "EXCLUSIVE")]
    Exclusive,
    #[serde(rename = "ACCESS EXCLUSIVE")]
    AccessExclusive,
}

impl Lock {
    /// Locks that conflict with the ROW EXCLUSIVE lock every INSERT, UPDATE and DELETE takes:
    /// SHARE, SHARE ROW EXCLUSIVE (ADD FOREIGN KEY, CREATE TRIGGER) and ACCESS EXCLUSIVE. Writers
    /// wait from the moment the step takes it until the transaction ends (apply's transaction
    /// holds every lock to its commit), not only while the statement runs.
    pub fn blocks_writes(self) -> bool {
        matches!(
            self,
            Lock::Share | Lock::ShareRowExclusive | Lock::Exclusive | Lock::AccessExclusive
        )
    }
}

/// What a statement costs on its table: the lock it takes, and whether it rewrites every row
/// or reads every row (to build an index or check a constraint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    pub lock: Option<Lock>,
    pub rewrites: bool,
    pub scans: bool,
}

impl Cost {
    /// No table lock (CREATE SCHEMA, CREATE TYPE, ALTER TYPE … ADD VALUE).
    pub const NONE: Cost = Cost::lock(None);
    /// A catalog-only ALTER TABLE (SET/DROP DEFAULT, DROP CONSTRAINT, RLS flags, policies).
    pub const ALTER: Cost = Cost::lock(Some(Lock::AccessExclusive));
    /// ALTER TABLE that reads every row under ACCESS EXCLUSIVE (SET NOT NULL, ADD CHECK,
    /// ADD PRIMARY KEY / UNIQUE, which also build an index).
    pub const ALTER_SCAN: Cost = Cost {
        lock: Some(Lock::AccessExclusive),
        rewrites: false,
        scans: true,
    };
    /// ALTER TABLE that writes every row again (ALTER TYPE that is not binary-coercible,
    /// ADD COLUMN with a volatile default or a stored generated expression).
    pub const REWRITE: Cost = Cost {
        lock: Some(Lock::AccessExclusive),
        rewrites: true,
        scans: true,
    };
    /// CREATE INDEX (without CONCURRENTLY, which cannot run in a transaction): SHARE, reads all rows.
    pub const CREATE_INDEX: Cost = Cost {
        lock: Some(Lock::Share),
        rewrites: false,
        scans: true,
    };
    /// ADD FOREIGN KEY: SHARE ROW EXCLUSIVE on both tables (the step states the referencing
    /// one), reads the referencing table's rows to validate them.
    pub const ADD_FOREIGN_KEY: Cost = Cost {
        lock: Some(Lock::ShareRowExclusive),
        rewrites: false,
        scans: true,
    };
    /// ALTER TABLE … VALIDATE CONSTRAINT: SHARE UPDATE EXCLUSIVE (writers go on), reads every row.
    pub const VALIDATE: Cost = Cost {
        lock: Some(Lock::ShareUpdateExclusive),
        rewrites: false,
        scans: true,
    };
    /// CREATE TRIGGER: SHARE ROW EXCLUSIVE.
    pub const CREATE_TRIGGER: Cost = Cost::lock(Some(Lock::ShareRowExclusive));
    /// COMMENT ON: SHARE UPDATE EXCLUSIVE.
    pub const COMMENT: Cost = Cost::lock(Some(Lock::ShareUpdateExclusive));
    /// UPDATE of every row (a backfill): ROW EXCLUSIVE, every row gets a new version.
    pub const UPDATE_ALL: Cost = Cost {
        lock: Some(Lock::RowExclusive),
        rewrites: true,
        scans: true,
    };

    pub const fn lock(lock: Option<Lock>) -> Cost {
        Cost {
            lock,
            rewrites: false,
            scans: false,
        }
    }
}

/// Tables estimated above this many rows get a warning when a step locks them for writes.
pub const LARGE_TABLE_ROWS: i64 = 1_000_000;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub kind: &'static str,
    pub object: String,
    pub sql: String,
    pub lock: Option<Lock>,
    pub rewrites: bool,
    pub scans: bool,
    /// `pg_class.reltuples` of the table (0 for a table this plan creates; null when the table
    /// was never analyzed, or the step touches no table).
    pub est_rows: Option<i64>,
}

impl Step {
    /// A step whose cost is not stated (no table lock known; prefer [`Step::costed`]).
    pub fn new(kind: &'static str, object: String, sql: String) -> Step {
        Step::costed(kind, object, sql, Cost::NONE, None)
    }
    /// A step with its cost: the lock it takes on `object`, and the table's estimated rows.
    pub fn costed(
        kind: &'static str,
        object: String,
        sql: String,
        cost: Cost,
        est_rows: Option<i64>,
    ) -> Step {
        Step {
            kind,
            object,
            sql,
            lock: cost.lock,
            rewrites: cost.rewrites,
            scans: cost.scans,
            est_rows,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Risk {
    pub path: String,
    pub code: RiskCode,
    pub message: String,
    /// Rows the change touches (drops, removed enum values, NOT NULL on rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,
    /// Whether `rows` was counted (true) or estimated from `pg_class.reltuples` (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_counted: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub tables_created: usize,
    pub tables_altered: usize,
    pub indexes_created: usize,
    pub policies_created: usize,
    pub enums_created: usize,
    pub warnings: Vec<String>,
    pub risks: Vec<Risk>,
    /// What the spec declares for each existing table, deparsed (see [`Declared`]): `verify`
    /// compares the catalog after the DDL with the same forms.
    #[serde(skip)]
    pub declared: std::collections::HashMap<(String, String), Declared>,
    /// The payload's tables that existed before this plan, with why their declared forms could
    /// not be read (None: they were): `verify` compares those by the deparsed forms.
    #[serde(skip)]
    pub existed: std::collections::HashMap<(String, String), Option<String>>,
    /// Object key (schema objects beside tables, issue 25) -> the deparsed form verification
    /// expects: the declared form when the object existed and was compared, None when this plan
    /// creates it (then verified by presence, as a table it creates).
    #[serde(skip)]
    pub object_forms: std::collections::BTreeMap<String, Option<String>>,
    /// Constraints added `NOT VALID` whose `VALIDATE` runs after the commit (the online forms,
    /// `schema::online`): (schema, table, constraint). `verify` accepts them not validated yet.
    #[serde(skip)]
    pub validated_later: std::collections::HashSet<(String, String, String)>,
    /// How many steps at the end run last: the online forms' `ADD … NOT VALID` (`schema::online`),
    /// run after every other step ran and everything else was verified, right before the commit
    /// (`apply::execute`): the lock writers wait for is held from them to the commit. Their
    /// tables are verified after them.
    #[serde(skip)]
    pub last: usize,
}

impl Plan {
    /// The whole plan as one SQL script (what `psql -1 -f` would run).
    pub fn script(&self) -> String {
        let mut s = String::new();
        for st in &self.steps {
            s.push_str(&st.sql);
            s.push_str(";\n");
        }
        s
    }
    pub fn checksum(&self) -> String {
        sha256_hex(self.script().as_bytes())
    }
    /// A step that touches no table.
    pub(crate) fn push_global(&mut self, kind: &'static str, object: String, sql: String) {
        self.steps.push(Step {
            kind,
            object,
            sql,
            lock: None,
            rewrites: false,
            scans: false,
            est_rows: None,
        });
    }
    pub fn risk(&mut self, path: String, code: RiskCode, message: String) {
        self.risks.push(Risk {
            path,
            code,
            message,
            rows: None,
            rows_counted: None,
        });
    }
}
