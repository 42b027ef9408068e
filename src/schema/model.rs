//! The normalized schema (output of `normalize`, input of `validate` and `plan`), and the
//! catalog view the pure stages need: the [`Catalog`] trait and [`TableSnapshot`].
//!
//! The serialized form of [`Schema`] (fields not marked `skip`) is what the schema hash covers.

use serde::Serialize;

use crate::ident::Name;

#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    #[serde(skip)]
    pub version: String,
    #[serde(skip)]
    pub description: String,
    #[serde(skip)]
    pub force_apply: bool,
    pub options: Options,
    pub enums: Vec<EnumType>,
    pub tables: Vec<Table>,
    /// `drop_tables` (evolution): hashed, because it changes what a version does.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drop_tables: Vec<DroppedTable>,
    /// Extensions, sequences, domains, functions, views, triggers, policies, grants (issue 25),
    /// in creation order. Hashed when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<crate::schema::objects::Object>,
}

/// A name in `drop_columns` or `drop_indexes`, with where it was written. Hashed as the name.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropped {
    pub path: String,
    pub name: Name,
}

impl Serialize for Dropped {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.name.serialize(s)
    }
}

/// A table in `drop_tables`. Hashed as `schema.table`.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedTable {
    pub path: String,
    pub schema: Name,
    pub name: Name,
}

impl DroppedTable {
    pub fn key(&self) -> (String, String) {
        (
            self.schema.as_str().to_string(),
            self.name.as_str().to_string(),
        )
    }
}

impl Serialize for DroppedTable {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}.{}", self.schema.as_str(), self.name.as_str()))
    }
}

/// What a revos-derived object (index or constraint) was called before a rename of its table or
/// columns, so that evolution renames it along instead of adding a twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DerivedKind {
    Index,
    Constraint,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DerivedRename {
    pub kind: DerivedKind,
    pub from: Name,
    pub to: Name,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantType {
    Uuid,
    Text,
    Bigint,
}

impl TenantType {
    pub fn sql(self) -> &'static str {
        match self {
            TenantType::Uuid => "uuid",
            TenantType::Text => "text",
            TenantType::Bigint => "bigint",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Options {
    pub tenant_column: Name,
    pub tenant_type: TenantType,
    pub soft_delete: bool,
    pub timestamps: bool,
    pub rls: bool,
    pub force_rls: bool,
    pub default_indexes: bool,
    /// `options.unique_scope` (issue 25): the scope of every unique form that does not say. Not
    /// hashed: what it decides is in the keys' columns (none said keeps the hash of before).
    #[serde(skip)]
    pub unique_scope: Option<UniqueScope>,
    #[serde(skip)]
    pub lock_timeout_ms: u64,
    #[serde(skip)]
    pub allow_destructive: bool,
    #[serde(skip)]
    pub backfill_tenant: Option<String>,
    /// `options.distribute`: how to place the tables on a Citus cluster (contract §13). Not hashed:
    /// it says where the schema lives, not what it is.
    #[serde(skip)]
    pub distribute: Distribute,
    /// Decided by the `distribute` stage from the catalog: this apply distributes on Citus (bare
    /// policy form, `(tenant, id)` primary keys, distribution steps).
    #[serde(skip)]
    pub citus: bool,
    /// `options.column_order`: revos's columns first (the default, as every earlier version
    /// hashed its tables), or the caller's columns as declared, revos's after them. Hashed only
    /// when declared.
    #[serde(skip_serializing_if = "ColumnOrder::is_default")]
    pub column_order: ColumnOrder,
    /// `options.online` (contract §14): how steps that scan an existing table run. Not hashed:
    /// it says how a change is made, not what the schema is.
    #[serde(skip)]
    pub online: Online,
    /// `options.expected_plan_hash`: apply answers `stale_plan` when its plan hash differs. Not
    /// hashed: a reviewed payload carrying it must not conflict with itself.
    #[serde(skip)]
    pub expected_plan_hash: Option<String>,
    /// `options.tenancy` (issue 25): one tenant per transaction (the default), or the tenants a
    /// user belongs to through a membership table, or of a JWT claim array. Hashed unless it is
    /// the transaction mode.
    #[serde(skip_serializing_if = "Tenancy::is_transaction")]
    pub tenancy: Tenancy,
}

/// `options.tenancy`: which tenants a request may act for (`schema::membership`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Tenancy {
    /// The tenant of the transaction: `revos.current_tenant_id()`.
    #[default]
    Transaction,
    /// Every tenant the user (`revos.current_user_id()`) has a row for in the membership table.
    Membership(Membership),
    /// Every tenant of the JWT's `tenant_ids` claim array (`revos.current_tenant_ids()`).
    Claims,
}

impl Tenancy {
    pub fn is_transaction(&self) -> bool {
        matches!(self, Tenancy::Transaction)
    }
    pub fn membership(&self) -> Option<&Membership> {
        match self {
            Tenancy::Membership(m) => Some(m),
            Tenancy::Transaction | Tenancy::Claims => None,
        }
    }
}

/// The membership table of `options.tenancy` (a table of the payload), its columns, and the
/// user column's type (`uuid`, `text`, `bigint` or `integer`: what `current_user_id()` is cast to).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Membership {
    pub schema: Name,
    pub table: Name,
    pub tenant_column: Name,
    pub user_column: Name,
    pub user_type: &'static str,
}

/// `options.column_order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnOrder {
    #[default]
    RevosFirst,
    Declared,
}

impl ColumnOrder {
    pub fn is_default(&self) -> bool {
        *self == ColumnOrder::RevosFirst
    }
}

/// `unique_scope` (issue 25): a unique key of a tenant table holds per tenant (the tenant column
/// goes first: `UNIQUE (tenant_id, …)`) or across all tenants (its columns as written).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UniqueScope {
    Tenant,
    Global,
}

impl UniqueScope {
    pub fn parse(s: &str) -> Option<UniqueScope> {
        match s {
            "tenant" => Some(UniqueScope::Tenant),
            "global" => Some(UniqueScope::Global),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            UniqueScope::Tenant => "tenant",
            UniqueScope::Global => "global",
        }
    }
}

/// `options.online`: `true` (every existing table the plan scans gets the lock-light forms),
/// `false` (never), absent (tables estimated above `online::ONLINE_ROWS` rows get them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Online {
    #[default]
    Auto,
    On,
    Off,
}

/// `options.distribute`: `"auto"` (default: distribute when the database is a Citus coordinator
/// with workers), `true` (distribute, or block when it cannot), `false` (plain local tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Distribute {
    #[default]
    Auto,
    On,
    Off,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnumType {
    #[serde(skip)]
    pub path: String,
    pub schema: Name,
    pub name: Name,
    pub values: Vec<String>,
}

impl EnumType {
    /// Whether the existing labels keep their declared relative order (new values can then be
    /// added `BEFORE` / `AFTER` their neighbours; otherwise the type must be recreated).
    pub fn keeps_order(&self, labels: &[String]) -> bool {
        let declared: Vec<&String> = self.values.iter().filter(|v| labels.contains(v)).collect();
        let live: Vec<&String> = labels.iter().filter(|v| self.values.contains(v)).collect();
        declared == live
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    #[serde(skip)]
    pub path: String,
    pub schema: Name,
    pub name: Name,
    pub tenant_scoped: bool,
    pub rls: bool,
    pub force_rls: bool,
    pub columns: Vec<Column>,
    pub primary_key: Vec<Name>,
    #[serde(skip)]
    pub primary_key_path: String,
    pub uniques: Vec<Unique>,
    pub checks: Vec<Check>,
    pub foreign_keys: Vec<ForeignKey>,
    pub indexes: Vec<Index>,
    pub comment: Option<String>,
    /// `updated_at` is kept current by a trigger.
    pub touch_trigger: bool,
    /// Evolution: the table's previous name (same schema). Hashed when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<Name>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drop_columns: Vec<Dropped>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub drop_indexes: Vec<Dropped>,
    /// Derived index and constraint names as they were before the renames (see [`DerivedRename`]).
    #[serde(skip)]
    pub derived_renames: Vec<DerivedRename>,
    /// `PARTITION BY …` of a partitioned table (its SQL, names quoted). Hashed when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_by: Option<String>,
    /// Names of the policies and triggers the payload declares on this table (`objects`): they
    /// are revos's to compare, never foreign or undeclared.
    #[serde(skip)]
    pub policies: Vec<String>,
    #[serde(skip)]
    pub triggers: Vec<String>,
    /// The declared partitions (`partitions`, in this table's schema): the triggers revos
    /// declares on this table must fire on each (their clones there, `compare::touch_trigger`).
    #[serde(skip)]
    pub partitions: Vec<Name>,
    /// What normalization changed or kept that the caller should know (warnings of the plan).
    #[serde(skip)]
    pub notes: Vec<String>,
    /// The membership table of `options.tenancy` (set by `schema::membership`; hashed through
    /// the options): RLS on, its revos policy lets a user see their own rows.
    #[serde(skip)]
    pub membership: bool,
}

impl Table {
    /// Whether revos owns a policy on this table (`revos_tenant_isolation`): a tenant table with
    /// RLS, or the membership table.
    pub fn has_revos_policy(&self) -> bool {
        self.rls && (self.tenant_scoped || self.membership)
    }
    /// The command of revos's policy, as `pg_policy.polcmd` and as SQL: FOR ALL on a tenant
    /// table; FOR SELECT on the membership table (a user reads their own memberships; who may
    /// add or remove one is for the application's own policies or its owner to decide, never
    /// the user alone).
    pub fn policy_command(&self) -> (char, &'static str) {
        if self.membership {
            ('r', "SELECT")
        } else {
            ('*', "ALL")
        }
    }

    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }
    pub fn key(&self) -> (String, String) {
        (
            self.schema.as_str().to_string(),
            self.name.as_str().to_string(),
        )
    }
    pub fn column(&self, name: &Name) -> Option<&Column> {
        self.columns.iter().find(|c| &c.name == name)
    }
    pub fn pk_name(&self) -> Name {
        Name::derived(&format!("{}_pkey", self.name.as_str()))
    }
    pub fn policy_name() -> Name {
        Name::derived("revos_tenant_isolation")
    }
    pub fn trigger_name() -> Name {
        Name::derived("revos_touch_updated_at")
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    #[serde(skip)]
    pub path: String,
    pub name: Name,
    /// The type as written (trimmed, lower-cased, whitespace collapsed): hashed.
    #[serde(rename = "type")]
    pub type_text: String,
    /// The type as Postgres renders it (`format_type`), filled in by `validate`.
    #[serde(skip)]
    pub sql_type: Option<String>,
    pub not_null: bool,
    pub default: Option<String>,
    pub generated: Option<String>,
    /// `"virtual": true`: `GENERATED ALWAYS AS (…) VIRTUAL` (PostgreSQL 18+), computed when read.
    /// Hashed when given.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub virtual_: bool,
    pub comment: Option<String>,
    /// Added by revos (id, tenant, timestamps), not written by the caller.
    pub auto: bool,
    /// Evolution: the column's previous name. Hashed when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<Name>,
    /// Evolution: how a type change converts existing values. Hashed when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub using: Option<String>,
    /// `GENERATED ALWAYS | BY DEFAULT AS IDENTITY`. Hashed when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// The column's collation (None: its type's default), as Postgres names it
    /// (`"schema"."name"`, filled in by `validate`); the text as written is hashed when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collation_text: Option<String>,
    #[serde(skip)]
    pub collation: Option<String>,
    /// The caller's own NOT NULL and default, when revos filled them in (an app-declared tenant
    /// column without a default: `schema::additions`). The schema hash covers these, the column
    /// as written, so that a version applied before keeps its hash.
    #[serde(skip)]
    pub as_written: Option<AsWritten>,
}

/// What the caller wrote for a column revos completed (see [`Column::as_written`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsWritten {
    pub not_null: bool,
    pub default: Option<String>,
}

/// An identity column's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Identity {
    Always,
    ByDefault,
}

impl Identity {
    /// `attidentity`.
    pub fn catalog_char(self) -> char {
        match self {
            Identity::Always => 'a',
            Identity::ByDefault => 'd',
        }
    }
    pub fn sql(self) -> &'static str {
        match self {
            Identity::Always => "ALWAYS",
            Identity::ByDefault => "BY DEFAULT",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Unique {
    #[serde(skip)]
    pub path: String,
    pub name: Name,
    pub columns: Vec<Name>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    #[serde(skip)]
    pub path: String,
    pub name: Name,
    pub expression: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FkAction {
    Cascade,
    Restrict,
    NoAction,
    SetNull,
    SetDefault,
}

impl FkAction {
    pub fn parse(s: &str) -> Option<FkAction> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['_', '-'], " ")
            .as_str()
        {
            "cascade" => Some(FkAction::Cascade),
            "restrict" => Some(FkAction::Restrict),
            "no action" => Some(FkAction::NoAction),
            "set null" => Some(FkAction::SetNull),
            "set default" => Some(FkAction::SetDefault),
            _ => None,
        }
    }
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::Cascade => "CASCADE",
            FkAction::Restrict => "RESTRICT",
            FkAction::NoAction => "NO ACTION",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ForeignKey {
    #[serde(skip)]
    pub path: String,
    pub name: Name,
    pub column: Name,
    pub target_schema: Name,
    pub target_table: Name,
    pub target_column: Name,
    pub on_delete: Option<FkAction>,
    pub on_update: Option<FkAction>,
    /// Both ends tenant-scoped: the key is `(tenant, column) -> (tenant, target_column)`.
    /// Decided by `validate` (the target may live only in the database).
    #[serde(skip)]
    pub tenant_bound: bool,
}

/// An index access method: PostgreSQL's five, or another the server has (`pg_am`: `hnsw` when
/// pgvector is installed), its name checked and snake_cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexMethod {
    Btree,
    Hash,
    Gin,
    Gist,
    Brin,
    Other(String),
}

impl Serialize for IndexMethod {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.sql())
    }
}

impl IndexMethod {
    pub fn parse(s: &str) -> Option<IndexMethod> {
        match s.trim().to_ascii_lowercase().as_str() {
            "btree" => Some(IndexMethod::Btree),
            "hash" => Some(IndexMethod::Hash),
            "gin" => Some(IndexMethod::Gin),
            "gist" => Some(IndexMethod::Gist),
            "brin" => Some(IndexMethod::Brin),
            _ => None,
        }
    }
    pub fn sql(&self) -> &str {
        match self {
            IndexMethod::Btree => "btree",
            IndexMethod::Hash => "hash",
            IndexMethod::Gin => "gin",
            IndexMethod::Gist => "gist",
            IndexMethod::Brin => "brin",
            IndexMethod::Other(m) => m,
        }
    }
}

/// One key of an index written as an object: a column or an expression, with its collation,
/// operator class, order and NULLs placement. Rendered by `plan::index_sql`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IndexKey {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<Name>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// `"C"` / `schema.name`, quoted part by part.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
    /// `name` or `schema.name`, quoted part by part (`"public"."vector_cosine_ops"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opclass: Option<String>,
    pub descending: bool,
    /// `Some(true)`: NULLS FIRST, `Some(false)`: NULLS LAST.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Index {
    #[serde(skip)]
    pub path: String,
    pub name: Name,
    pub columns: Vec<Name>,
    pub unique: bool,
    pub method: IndexMethod,
    #[serde(rename = "where")]
    pub where_: Option<String>,
    pub include: Vec<Name>,
    pub auto: bool,
    /// Keys written as objects (expressions, operator classes, order): then the whole key list,
    /// in order. Empty when every key is a plain column (`columns`). Hashed when given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<IndexKey>,
    /// `NULLS NOT DISTINCT` (PostgreSQL 15+): a unique index treats NULLs as equal.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub nulls_not_distinct: bool,
}

impl Index {
    /// The key columns as the catalog lists them (an expression key is "").
    pub fn key_names(&self) -> Vec<&str> {
        if self.keys.is_empty() {
            return self.columns.iter().map(Name::as_str).collect();
        }
        self.keys
            .iter()
            .map(|k| k.column.as_ref().map(Name::as_str).unwrap_or(""))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// What the pure stages may ask of the database.
// ---------------------------------------------------------------------------------------------

/// One existing table as the catalog shows it. Expressions are as Postgres deparses them
/// (`pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`) under `search_path = pg_catalog`,
/// so every name outside `pg_catalog` is schema-qualified and a caller's search_path never
/// changes the text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableSnapshot {
    pub columns: Vec<ColumnSnapshot>,
    /// Indexes (including those backing constraints).
    pub indexes: Vec<IndexSnapshot>,
    pub constraints: Vec<ConstraintSnapshot>,
    pub rls_enabled: bool,
    pub rls_forced: bool,
    pub policies: Vec<PolicySnapshot>,
    /// Names of the user (not internal) triggers.
    pub triggers: Vec<String>,
    /// Trigger name -> `pg_get_triggerdef`, with the table's name as `<table>`.
    pub trigger_defs: std::collections::HashMap<String, String>,
    /// The names of the table's own triggers set `ENABLE ALWAYS` (`tgenabled` 'A'): they fire as
    /// an enabled one does, and a repair keeps the setting (the review of 7e4c192, T1).
    pub triggers_always: Vec<String>,
    /// The clones of the table's triggers on its partitions, two levels down (`pg_inherits` by its
    /// index, only when `relhassubclass`), whose firing is not the plain ENABLE: DISABLE or ENABLE
    /// REPLICA (they do not fire in an ordinary session), or ENABLE ALWAYS (kept by a repair). Each
    /// clone has a firing state of its own, and a row of a partition fires the partition's clone,
    /// never the table's trigger.
    pub partition_triggers: Vec<PartitionTriggerState>,
    /// The table's partitions and inheritance children (`pg_inherits`, one level down).
    pub children: Vec<ChildTable>,
    /// The names of the table's rewrite rules (`pg_rewrite`).
    pub rules: Vec<String>,
    pub has_rows: bool,
    /// `pg_class.reltuples`; None when the table was never vacuumed or analyzed.
    pub est_rows: Option<i64>,
    /// `obj_description` of the table.
    pub comment: Option<String>,
    /// How Postgres deparses what the spec declares for this table, filled in by `apply` (the
    /// shadow table, `apply::shadow`) before `plan`; None when nothing was deparsed.
    pub declared: Option<Declared>,
    /// Why the declared forms or the live expressions (generated, policies, index definitions)
    /// could not be read, when they could not: every comparison that needs them is then
    /// "cannot compare" (never equal).
    pub unreadable: Option<String>,
}

/// A clone of a table's trigger on one of its partitions (`pg_trigger.tgparentid`) whose firing
/// is not the plain ENABLE: `tgenabled` 'D' (DISABLE), 'R' (ENABLE REPLICA) or 'A' (ENABLE ALWAYS).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartitionTriggerState {
    pub schema: String,
    pub partition: String,
    /// The table's trigger it is a clone of.
    pub trigger: String,
    /// Its own name (the table's trigger's, unless renamed before PostgreSQL 15).
    pub clone: String,
    /// 1 on the table's own partitions, 2 on theirs.
    pub level: i64,
    /// The partition's parent: (schema, name) — the table itself at level 1.
    pub parent: (String, String),
    pub enabled: char,
}

/// A partition or inheritance child of a managed table (`pg_inherits.inhrelid`), or a partition
/// further down its partition tree.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChildTable {
    pub schema: String,
    pub name: String,
    /// `relrowsecurity`: row security is enabled on the child itself.
    pub rls_enabled: bool,
    /// `relispartition`: a partition (else a table that `INHERIT`s).
    pub partition: bool,
    /// 1 for the table's own children, 2 for theirs (`pg_inherits`, two levels by its index —
    /// catalogs only, no lock on a child: `pg_partition_tree` locked every partition, the second
    /// review of the stop 48 change, F3; a recursive query made the snapshot's estimated cost
    /// cross `jit_above_cost`, the third, 3). revos declares one level; a third is not read.
    pub level: i64,
    /// The child's parent: (schema, name).
    pub parent: (String, String),
    /// The roles other than its owner that hold a privilege on the child itself (`relacl`; None
    /// for PUBLIC), sorted: named by its own name, its rows are not under the table's ACL nor its
    /// policies (the review of the stop 48 change, L2). Column privileges are not read: a
    /// subquery per child over `pg_attribute` took the snapshot over `jit_above_cost` at 3,000
    /// partitions (the review of 2e63b4d, 3).
    pub grantees: Vec<Option<String>>,
}

/// A table column whose type is an enum (or an array of it), for removing enum values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EnumUse {
    pub schema: String,
    pub table: String,
    pub column: String,
    pub array: bool,
    /// The column default as Postgres deparses it (schema-qualified), set again after the type
    /// is recreated.
    pub default: Option<String>,
    /// Rows holding one of the values being removed (counted).
    pub rows: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnSnapshot {
    pub name: String,
    /// `format_type(atttypid, atttypmod)` (qualified and quoted outside pg_catalog)
    pub sql_type: String,
    pub not_null: bool,
    pub has_default: bool,
    pub generated: bool,
    /// `pg_get_expr(adbin)` of the default (a generated column's expression is in `expression`).
    pub default: Option<String>,
    /// `pg_get_expr(adbin)` of a generated column.
    pub expression: Option<String>,
    /// `col_description`
    pub comment: Option<String>,
    /// `attidentity`: `a` (ALWAYS), `d` (BY DEFAULT); None when not an identity column.
    pub identity: Option<char>,
    /// `attgenerated`: `s` (STORED), `v` (VIRTUAL, PostgreSQL 18); None when not generated.
    pub generated_kind: Option<char>,
    /// The column's collation when it is not its type's default (`schema.name`, quoted).
    pub collation: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexSnapshot {
    pub name: String,
    pub unique: bool,
    pub method: String,
    /// Key column names in order (expression keys show as empty strings).
    pub columns: Vec<String>,
    pub partial: bool,
    /// The index backs a constraint (primary key, unique, exclusion).
    pub constraint: bool,
    /// `pg_get_indexdef` from ` USING ` on: method, keys, INCLUDE, WITH, WHERE, without the
    /// index and table names, so that two tables' indexes compare.
    pub definition: Option<String>,
    /// `NOT indisvalid`: an index whose concurrent build failed (it is not used, and a unique one
    /// does not enforce uniqueness).
    pub invalid: bool,
    /// `indnullsnotdistinct` (PostgreSQL 15+): a unique index that also refuses a second row
    /// whose key has a NULL. A payload cannot declare it: a unique key or unique index that has
    /// it is not the one declared.
    pub nulls_not_distinct: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConstraintSnapshot {
    pub name: String,
    /// `p`, `u`, `f`, `c`, `x`
    pub kind: char,
    /// `pg_get_constraintdef`
    pub definition: Option<String>,
    /// The structure of a foreign key.
    pub foreign_key: Option<ForeignKeySnapshot>,
    /// `conkey`: the constrained columns in order.
    pub columns: Vec<String>,
    /// `NOT convalidated`: a constraint added `NOT VALID` and never validated (existing rows were
    /// not checked).
    pub not_valid: bool,
    /// `condeferrable`, `condeferred`.
    pub deferrable: bool,
    pub deferred: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ForeignKeySnapshot {
    pub columns: Vec<String>,
    pub target_schema: String,
    pub target_table: String,
    pub target_columns: Vec<String>,
    /// `confdeltype` / `confupdtype`: `a` no action, `r` restrict, `c` cascade, `n` set null,
    /// `d` set default.
    pub on_delete: char,
    pub on_update: char,
    /// `confdelsetcols`: the columns `ON DELETE SET NULL/DEFAULT (…)` names (empty: all).
    pub delete_set_columns: Vec<String>,
    /// `confmatchtype`: `s` SIMPLE, `f` FULL, `p` PARTIAL.
    pub match_type: char,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicySnapshot {
    pub name: String,
    /// `polcmd`: `*` for ALL, `r`, `a`, `w`, `d`.
    pub command: char,
    pub using: Option<String>,
    pub with_check: Option<String>,
    pub permissive: bool,
    /// Role names; `public` for PUBLIC.
    pub roles: Vec<String>,
}

/// What the spec declares for an existing table, deparsed by Postgres the same way as the
/// catalog (see [`TableSnapshot`]): built on a shadow table in a rolled-back subtransaction.
/// A key missing from a map means Postgres could not build that object on the shadow (it
/// depends on something the plan creates first); it is then compared as "different".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Declared {
    /// Column -> deparsed default.
    pub defaults: std::collections::HashMap<String, String>,
    /// Column -> deparsed generated expression.
    pub generated: std::collections::HashMap<String, String>,
    /// Check constraint name -> `pg_get_constraintdef`.
    pub checks: std::collections::HashMap<String, String>,
    /// Index name -> definition from ` USING ` on (see [`IndexSnapshot::definition`]).
    pub indexes: std::collections::HashMap<String, String>,
    /// The tenant policy's USING and WITH CHECK.
    pub policy: Option<(Option<String>, Option<String>)>,
    /// Columns whose declared default is volatile (ADD COLUMN then rewrites the table).
    pub volatile_defaults: std::collections::HashSet<String>,
    /// Check name -> rows that violate its declared expression, counted for checks whose
    /// definition changes or that are not validated.
    pub check_violations: std::collections::HashMap<String, i64>,
    /// Object (column, check, index or policy name) -> why Postgres could not build it on the
    /// shadow: it is then "cannot compare", never equal.
    pub failed: std::collections::HashMap<String, String>,
}

impl FkAction {
    /// The `confdeltype` / `confupdtype` letter.
    pub fn catalog_char(self) -> char {
        match self {
            FkAction::Cascade => 'c',
            FkAction::Restrict => 'r',
            FkAction::NoAction => 'a',
            FkAction::SetNull => 'n',
            FkAction::SetDefault => 'd',
        }
    }
}

impl TableSnapshot {
    pub fn column(&self, name: &str) -> Option<&ColumnSnapshot> {
        self.columns.iter().find(|c| c.name == name)
    }
    pub fn index(&self, name: &str) -> Option<&IndexSnapshot> {
        self.indexes.iter().find(|i| i.name == name)
    }
    pub fn has_constraint(&self, name: &str) -> bool {
        self.constraints.iter().any(|c| c.name == name)
    }
    pub fn primary_key(&self) -> Option<&str> {
        self.constraints
            .iter()
            .find(|c| c.kind == 'p')
            .map(|c| c.name.as_str())
    }
    pub fn constraint(&self, name: &str) -> Option<&ConstraintSnapshot> {
        self.constraints.iter().find(|c| c.name == name)
    }
}

/// An object the payload declares that may exist already, for `Catalog::untrusted_owner`: its path,
/// its catalog class (`relation`, `routine` — every routine of the name —, `type`), schema and name,
/// and whether its owner is held to the rule for tables (a relation that runs no code: a sequence, a
/// partition) rather than the rule for code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub path: String,
    pub class: &'static str,
    pub schema: String,
    pub name: String,
    pub as_table: bool,
}

/// What a text of the payload is, for reading the names in it (`Catalog::untrusted_names`): where
/// it goes in the SQL revos writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameContext {
    /// one expression (a default, a check, an index's `where` …)
    Expression,
    /// a type
    Type,
    /// a view's query
    Query,
    /// a partition's bound (`FOR VALUES …`)
    Bound,
    /// a function's or aggregate's argument list
    Arguments,
    /// a function's `RETURNS`
    Returns,
    /// a function's qualified name (a trigger's function, an aggregate's support functions)
    Function,
}

/// The questions `validate` and `plan` ask of Postgres. The extension answers them from the
/// live catalog and parser (`apply::pg_catalog`); unit tests answer from memory.
pub trait Catalog {
    /// Resolves a type as written to Postgres' own rendering of it (`format_type`), or says why not.
    fn resolve_type(&self, type_text: &str) -> Result<String, String>;
    /// Parses an SQL expression with Postgres' parser; Ok when it is exactly one expression.
    fn check_expression(&self, expr: &str) -> Result<(), String>;
    /// Err (why) when `text` — read as `ctx` says — names a schema that a role other than the
    /// trusted ones controls, or one that does not exist and is not in `declared`
    /// (`schema::trusted_names`). A catalog without roles (the unit tests') finds none.
    fn untrusted_names(
        &self,
        _text: &str,
        _ctx: NameContext,
        _declared: &[&str],
    ) -> Result<(), String> {
        Ok(())
    }
    /// Err (why) when schema `name` exists and is owned by a role other than the trusted ones: that
    /// role may drop and replace whatever revos creates in it (`schema::trusted_names`). A catalog
    /// without roles (the unit tests') finds none.
    fn untrusted_schema(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }
    /// Err (why) when the payload's object `o` exists and is owned by a role other than the trusted
    /// ones (and, for a relation that runs no code, by no `revos_admin` member either, as a table):
    /// declaring it would adopt it with its owner (`schema::trusted_names`). A catalog without roles
    /// (the unit tests') finds none.
    fn untrusted_owner(&self, _o: &Owned) -> Result<(), String> {
        Ok(())
    }
    /// Err (why) when schema `name` exists and a role other than the trusted ones — PUBLIC
    /// included — may create in it: an extension's script runs as the caller with that schema first
    /// on its search_path, where such a role's function could be called instead of the one the
    /// script means (`schema::trusted_names`, for the schemas extensions are created in). A catalog
    /// without roles (the unit tests') finds none.
    fn untrusted_creators(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }
    /// The schemas of the installed extensions extension `name` requires (in any version, and what
    /// those require): they are on its script's search_path too. A catalog without extensions (the
    /// unit tests') has none.
    fn extension_required_schemas(&self, _name: &str) -> Vec<String> {
        vec![]
    }
    /// The table as it exists now, if it does.
    fn table(&self, schema: &str, name: &str) -> Option<TableSnapshot>;
    /// The labels of an existing enum type, if it exists.
    fn enum_labels(&self, schema: &str, name: &str) -> Option<Vec<String>>;
    /// Exact count of a table's rows, or of those where `null_in` is NULL; Err says why it could
    /// not be counted (e.g. no SELECT privilege), which blocks the call.
    fn count_rows(&self, schema: &str, table: &str, null_in: Option<&str>) -> Result<i64, String>;
    /// A collation as written (`"C"`, `und-x-icu`, `schema.name`) as Postgres names it
    /// (`"schema"."name"`), or why it is not one.
    fn resolve_collation(&self, text: &str) -> Result<String, String>;
    /// The rows of `schema.table` whose `column` (of type `from`) would hold another value once
    /// converted to `to`; Err says why they could not be counted.
    fn count_changed(
        &self,
        schema: &str,
        table: &str,
        column: &str,
        from: &str,
        to: &str,
    ) -> Result<i64, String>;
    /// Whether `sql` is exactly one statement that Postgres' parser reads as a `tag` node
    /// (`CreateFunctionStmt`, `ViewStmt`, …): the objects beside tables are checked whole.
    /// An in-memory catalog parses nothing.
    fn check_statement(&self, sql: &str, tag: &str) -> Result<(), String> {
        let _ = (sql, tag);
        Ok(())
    }
    /// Whether the server has the index access method `name` (`pg_am`); an in-memory catalog
    /// knows none beyond PostgreSQL's five.
    fn index_method_exists(&self, name: &str) -> Result<bool, String> {
        let _ = name;
        Ok(false)
    }
    /// The table columns of an enum type, with the rows holding any of `removed`; Err as above.
    fn enum_usage(
        &self,
        schema: &str,
        name: &str,
        removed: &[String],
    ) -> Result<Vec<EnumUse>, String>;
}
