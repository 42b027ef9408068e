//! The schema objects beside tables (issue 25, contract §15): extensions, schemas and their
//! grants, sequences, domains, functions, aggregates, views and materialized views, triggers,
//! declared policies and grants. Pure: what each object is, the SQL that creates it, the SQL that
//! brings an existing one to the declared form, and the query that deparses it.
//!
//! How an existing object is compared (the same rule for every kind): its live form is read as
//! Postgres deparses it (`pg_get_functiondef`, `pg_get_viewdef`, `pg_get_triggerdef`, the policy's
//! `pg_get_expr`, the ACL by `aclexplode`, …); the declared form is what the same query reads after
//! the object's `replace` statements ran on it in a subtransaction that is always rolled back
//! (`apply::objects`); equal text is the same object. A replace Postgres refuses (a function whose
//! result type changes, a view that loses columns) is tried as drop + create instead. A
//! declaration that could not be deparsed is "cannot compare", never equal.

pub mod build;
pub mod check;
pub mod plan;
pub mod raw;

use serde::Serialize;

use crate::ident::Name;

/// What an object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Extension,
    Schema,
    Sequence,
    Domain,
    Function,
    Aggregate,
    View,
    MaterializedView,
    Trigger,
    Policy,
    Grants,
    Partition,
    PartitionKey,
}

impl Kind {
    /// The plan step kind.
    pub fn step(self) -> &'static str {
        match self {
            Kind::Extension => "extension",
            Kind::Schema => "schema",
            Kind::Sequence => "sequence",
            Kind::Domain => "domain",
            Kind::Function => "function",
            Kind::Aggregate => "aggregate",
            Kind::View => "view",
            Kind::MaterializedView => "materialized_view",
            Kind::Trigger => "trigger",
            Kind::Policy => "policy",
            Kind::Grants => "grant",
            Kind::Partition => "partition",
            Kind::PartitionKey => "partition_key",
        }
    }
}

/// When, relative to the tables, the object is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Extensions, schemas, sequences, domains, and functions a table expression calls.
    BeforeTables,
    /// Functions, aggregates, views, triggers, policies, grants: after every table.
    AfterTables,
}

/// One declared object. Hashed: its kind, key and the statements that create it.
#[derive(Debug, Clone, Serialize)]
pub struct Object {
    #[serde(skip)]
    pub path: String,
    pub kind: Kind,
    /// Unique among the payload's objects: kind and qualified name (and table, for triggers and
    /// policies).
    pub key: String,
    /// How plans, risks and verification name it.
    #[serde(skip)]
    pub label: String,
    #[serde(skip)]
    pub phase: Phase,
    /// The schema it lives in (created when missing).
    #[serde(skip)]
    pub schema: Option<Name>,
    /// The table it is on (triggers, policies, a table's grants): its cost and rows.
    #[serde(skip)]
    pub table: Option<(Name, Name)>,
    /// Statements that create it when it does not exist.
    pub create: Vec<String>,
    /// Statements that bring an existing one to the declared form (after `drop_live`).
    #[serde(skip)]
    pub replace: Vec<String>,
    /// A statement prefix run once for every name `names` reads from the live object before
    /// `replace` (`ALTER DOMAIN … DROP CONSTRAINT ` per check; nothing for grants, whose `names`
    /// are statements).
    #[serde(skip)]
    pub drop_live: Option<String>,
    /// A query returning the live names `drop_live` needs (`text[]`); for grants, whole
    /// statements (`drop_live` is empty): `REVOKE ALL … FROM grantee CASCADE` per grantee, after
    /// the column grant options that make a column privilege revocable (`build::acl_queries`).
    #[serde(skip)]
    pub names: Option<String>,
    /// A query returning statements (`text[]`) run before `create` when the object does not
    /// exist yet: for grants, `REVOKE ALL … FROM grantee CASCADE` for every grantee the
    /// creator's default privileges (`pg_default_acl`) give a new object, which `create` does not
    /// know (`build::default_acl_query`).
    #[serde(skip)]
    pub names_if_created: Option<String>,
    /// A query returning statements (`text[]`) run after `replace` on an existing object: what
    /// `replace` resets that the live object has on purpose and revos keeps (a declared trigger's
    /// `ENABLE ALWAYS` on its table and on its clones, which `CREATE OR REPLACE TRIGGER` sets back
    /// to `ENABLE`: the review of 7e4c192, T1).
    #[serde(skip)]
    pub kept_after: Option<String>,
    /// When Postgres refuses `replace` (a function's result type, a view's columns): drop and
    /// create instead.
    #[serde(skip)]
    pub recreate: Vec<String>,
    /// A query returning the object's deparsed form (one `text`), NULL when it does not exist.
    #[serde(skip)]
    pub deparse: String,
    /// The declared form when it is known without Postgres (extensions, schemas).
    #[serde(skip)]
    pub expected: Option<String>,
    /// A function whose body is created with `check_function_bodies = off` (as pg_dump does:
    /// bodies may name objects declared later) and validated by its language once everything
    /// exists (`apply::objects::verify`).
    #[serde(skip)]
    pub function_body: bool,
    /// The caller's text inside the statements, checked before the whole statement is parsed.
    #[serde(skip)]
    pub fragments: Vec<Fragment>,
    /// Why an existing object cannot be changed in place (a table's partition key): a difference
    /// is then "cannot compare" (the risk), never a change.
    #[serde(skip)]
    pub immutable: Option<String>,
    /// A partition of a table with revos's tenant policy: a query on it is fenced by its own
    /// policies, so every policy on it but revos's is foreign (`apply::objects` reads them: a
    /// PERMISSIVE one is the risk `foreign_policy`, as on the parent; a RESTRICTIVE one a warning).
    #[serde(skip)]
    pub tenant_partition: bool,
}

/// A fragment of caller text inside an object's SQL, with its path.
#[derive(Debug, Clone)]
pub struct Fragment {
    pub path: String,
    pub text: String,
    pub kind: FragmentKind,
}

/// An expression (one value), a list fragment (arguments, a query: read whole by the parser
/// afterwards), or a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentKind {
    Expression,
    List,
    Type,
    /// a function's qualified name, already checked (`build::qualified_ref`): read only for the
    /// schemas it names (`schema::trusted_names`)
    Name,
}

impl Fragment {
    pub fn new(path: String, text: &str, kind: FragmentKind) -> Fragment {
        Fragment {
            path,
            text: text.to_string(),
            kind,
        }
    }
}

impl Object {
    /// The statements that bring an existing object to the declared form, given the names
    /// `names` read from it, what `kept_after` read, and whether the trial showed that it must be
    /// recreated.
    pub fn change_statements(
        &self,
        live_names: &[String],
        kept: &[String],
        recreate: bool,
    ) -> Vec<String> {
        let mut out = if recreate {
            self.recreate.clone()
        } else {
            let mut out = vec![];
            if let Some(prefix) = &self.drop_live {
                for n in live_names {
                    out.push(format!("{prefix}{n}"));
                }
            }
            out.extend(self.replace.iter().cloned());
            out
        };
        out.extend(kept.iter().cloned());
        out
    }
}

/// A policy on a tenant partition that revos did not declare: its name, whether it is PERMISSIVE,
/// and its USING as deparsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ForeignPolicy {
    pub name: String,
    pub permissive: bool,
    pub using: Option<String>,
}

/// What the catalog shows for one object (filled in by `apply::objects` before `plan`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectState {
    /// The live deparsed form; None when the object does not exist.
    pub live: Option<String>,
    /// What `names` read.
    pub names: Vec<String>,
    /// What `kept_after` read.
    pub kept: Vec<String>,
    /// The declared form (the trial's deparse), or why it could not be made.
    pub declared: Option<Result<String, String>>,
    /// The trial needed drop + create (`recreate`).
    pub recreate: bool,
    /// On a tenant partition (`Object::tenant_partition`): the policies revos did not declare.
    pub foreign: Vec<ForeignPolicy>,
    /// Why `foreign` could not be read, when it could not.
    pub foreign_unread: Option<String>,
}
