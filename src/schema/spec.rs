//! Stage 1 — `spec`: the payload as the caller wrote it, read into typed structs.
//!
//! Reading never stops at the first problem: every missing key, wrong JSON type and unknown key is
//! collected as an [`Issue`] with its path (`tables[0].columns[2].type`). Unknown keys are errors,
//! because a misspelt `"not_nul": true` silently ignored is exactly the kind of skip revos exists
//! to prevent. Nothing here knows about SQL.

use serde_json::{Map, Value};
use std::fmt::{self, Display};

use crate::error::{code, Issue};

/// Largest payload accepted (bytes of JSON text), so one call cannot pin a backend for minutes.
pub const MAX_PAYLOAD_BYTES: usize = 8 * 1024 * 1024;

/// Deepest nesting of arrays and objects accepted. A schema needs about 6; serde_json stops at
/// 128 and canonicalization recurses, so anything deeper is refused before it is parsed.
pub const MAX_PAYLOAD_DEPTH: usize = 64;

/// Checks the payload's JSON text (as PostgreSQL prints the jsonb) before anything parses or
/// canonicalizes it: at most [`MAX_PAYLOAD_BYTES`] bytes and [`MAX_PAYLOAD_DEPTH`] levels.
pub fn check_payload_text(text: &str) -> Option<Issue> {
    if text.len() > MAX_PAYLOAD_BYTES {
        let msg = format!(
            "the payload is {} bytes of JSON text; the limit is {MAX_PAYLOAD_BYTES}",
            text.len()
        );
        return Some(Issue::new("$", code::PAYLOAD_TOO_LARGE, msg));
    }
    let depth = json_depth(text);
    if depth > MAX_PAYLOAD_DEPTH {
        let msg =
            format!("the payload is nested {depth} levels deep; the limit is {MAX_PAYLOAD_DEPTH}");
        return Some(Issue::new("$", code::PAYLOAD_TOO_DEEP, msg));
    }
    None
}

/// Deepest nesting of `[` / `{` in a JSON text (brackets inside strings do not count); one
/// pass, no recursion.
pub fn json_depth(text: &str) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for b in text.bytes() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// The keys each object of the schema language may have (anything else is `unknown_key`).
pub const SCHEMA_KEYS: &[&str] = &[
    "schema_version",
    "version",
    "description",
    "tables",
    "schema",
    "enums",
    "force_apply",
    "options",
    "drop_tables",
    "extensions",
    "schemas",
    "sequences",
    "domains",
    "functions",
    "aggregates",
    "views",
    "triggers",
];
/// The schema keys of the objects beside tables (issue 25).
pub const OBJECT_KEYS: &[&str] = &[
    "extensions",
    "schemas",
    "sequences",
    "domains",
    "functions",
    "aggregates",
    "views",
    "triggers",
];
/// The table keys of the objects on a table (issue 25).
pub const TABLE_OBJECT_KEYS: &[&str] = &["policies", "grants", "partition_by", "partitions"];
pub const OPTION_KEYS: &[&str] = &[
    "tenant_column",
    "tenant_type",
    "soft_delete",
    "timestamps",
    "rls",
    "force_rls",
    "default_indexes",
    "unique_scope",
    "lock_timeout_ms",
    "allow_destructive",
    "backfill_tenant",
    "distribute",
    "column_order",
    "online",
    "expected_plan_hash",
    "tenancy",
];
pub const ENUM_KEYS: &[&str] = &["name", "values", "schema"];
pub const TABLE_KEYS: &[&str] = &[
    "name",
    "schema",
    "tenant_scoped",
    "columns",
    "primary_key",
    "indexes",
    "unique",
    "checks",
    "comment",
    "soft_delete",
    "timestamps",
    "rls",
    "renamed_from",
    "drop_columns",
    "drop_indexes",
    "policies",
    "grants",
    "partition_by",
    "partitions",
];
pub const CHECK_KEYS: &[&str] = &["name", "expression"];
pub const COLUMN_KEYS: &[&str] = &[
    "name",
    "type",
    "not_null",
    "default",
    "unique",
    "primary_key",
    "references",
    "check",
    "generated",
    "comment",
    "renamed_from",
    "using",
    "identity",
    "collation",
    "virtual",
    "unique_scope",
];
pub const REFERENCE_KEYS: &[&str] = &["table", "schema", "column", "on_delete", "on_update"];
pub const INDEX_KEYS: &[&str] = &[
    "name",
    "columns",
    "unique",
    "method",
    "where",
    "include",
    "nulls_not_distinct",
    "unique_scope",
];
/// A table-level `unique` entry written as an object.
pub const UNIQUE_KEYS: &[&str] = &["columns", "unique_scope"];
/// An index key written as an object.
pub const INDEX_KEY_KEYS: &[&str] = &[
    "column",
    "expression",
    "collation",
    "opclass",
    "order",
    "nulls",
];

/// The orchestration envelope around a schema (all optional).
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    pub tenant_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub workflow_run_id: Option<String>,
    pub trigger_source: Option<String>,
    pub actor_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawSchema {
    pub version: Option<String>,
    pub description: Option<String>,
    pub schema: Option<String>,
    pub force_apply: bool,
    pub options: RawOptions,
    pub enums: Vec<RawEnum>,
    pub tables: Vec<RawTable>,
    /// `drop_tables`: `table` or `schema.table`, each with its path.
    pub drop_tables: Vec<(String, String)>,
    /// The keys of the objects beside tables (issue 25: extensions, sequences, domains,
    /// functions, views, triggers …) as written; `normalize` reads them (`objects::raw`).
    pub objects_json: Map<String, Value>,
}

#[derive(Debug, Clone, Default)]
pub struct RawOptions {
    pub tenant_column: Option<String>,
    pub tenant_type: Option<String>,
    pub soft_delete: Option<bool>,
    pub timestamps: Option<bool>,
    pub rls: Option<bool>,
    pub force_rls: Option<bool>,
    pub default_indexes: Option<bool>,
    /// `unique_scope`: `tenant` or `global`, for every unique form that does not say (issue 25).
    pub unique_scope: Option<String>,
    pub lock_timeout_ms: Option<i64>,
    pub allow_destructive: Option<bool>,
    pub backfill_tenant: Option<String>,
    pub distribute: Option<crate::schema::model::Distribute>,
    pub column_order: Option<String>,
    /// `online`: lock-light forms (true), never (false), or by table size (absent).
    pub online: Option<bool>,
    /// `expected_plan_hash`: the `plan_hash` a reviewer saw (checked by apply).
    pub expected_plan_hash: Option<String>,
    /// `tenancy`: `"transaction"` or `{"mode": "membership", …}` (`schema::membership`).
    pub tenancy: Option<RawTenancy>,
}

#[derive(Debug, Clone, Default)]
pub struct RawEnum {
    pub path: String,
    pub name: String,
    pub schema: Option<String>,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawTable {
    pub path: String,
    pub name: String,
    pub schema: Option<String>,
    pub tenant_scoped: Option<bool>,
    pub columns: Vec<RawColumn>,
    pub primary_key: Option<Vec<String>>,
    pub indexes: Vec<RawIndex>,
    pub unique: Vec<Vec<String>>,
    /// The `unique_scope` of each `unique` entry written as an object (None: a plain list, or
    /// not said), in the order of `unique`.
    pub unique_scopes: Vec<Option<String>>,
    pub checks: Vec<RawCheck>,
    pub comment: Option<String>,
    pub soft_delete: Option<bool>,
    pub timestamps: Option<bool>,
    pub rls: Option<bool>,
    /// The table's previous name (same schema): renamed when only that one exists.
    pub renamed_from: Option<String>,
    /// `drop_columns` and `drop_indexes`: names with their paths.
    pub drop_columns: Vec<(String, String)>,
    pub drop_indexes: Vec<(String, String)>,
    /// `"primary_key": []`: no primary key, and no `id` (issue 25).
    pub keyless: bool,
    /// The table's `policies` and `grants` as written (issue 25); read by `normalize`.
    pub objects_json: Map<String, Value>,
}

#[derive(Debug, Clone, Default)]
pub struct RawColumn {
    pub path: String,
    pub name: String,
    pub type_: String,
    pub not_null: bool,
    pub default: Option<String>,
    pub unique: bool,
    pub primary_key: bool,
    pub references: Option<RawReference>,
    pub check: Option<String>,
    pub generated: Option<String>,
    pub comment: Option<String>,
    /// The column's previous name: renamed when only that one exists.
    pub renamed_from: Option<String>,
    /// The expression a type change converts existing values with (`ALTER … TYPE … USING`).
    pub using: Option<String>,
    /// `always` or `by_default`: an identity column.
    pub identity: Option<String>,
    /// A collation name (`"C"`, `"und-x-icu"`, `schema.name`).
    pub collation: Option<String>,
    /// `"virtual": true`: a virtual generated column (PostgreSQL 18+).
    pub virtual_: bool,
    /// `unique_scope`: `tenant` or `global` (issue 25).
    pub unique_scope: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawReference {
    pub path: String,
    /// `table` or `schema.table`
    pub table: String,
    pub schema: Option<String>,
    pub column: Option<String>,
    pub on_delete: Option<String>,
    pub on_update: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawIndex {
    pub path: String,
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub unique: bool,
    pub method: Option<String>,
    pub where_: Option<String>,
    pub include: Vec<String>,
    /// Keys written as objects (`{"column"|"expression", "opclass"?, "order"?, …}`), in their place
    /// among the columns; empty when every key is a column name.
    pub keys: Vec<RawIndexKey>,
    pub nulls_not_distinct: bool,
    /// `unique_scope`: `tenant` or `global` (issue 25).
    pub unique_scope: Option<String>,
}

/// One index key: a column name, or an object.
#[derive(Debug, Clone, Default)]
pub struct RawIndexKey {
    pub path: String,
    pub column: Option<String>,
    pub expression: Option<String>,
    pub collation: Option<String>,
    pub opclass: Option<String>,
    pub order: Option<String>,
    pub nulls: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RawCheck {
    pub path: String,
    pub name: Option<String>,
    pub expression: String,
}

/// Splits the envelope from the schema. Anything with a `payload` key is an envelope. The
/// payload is borrowed from the input (null when the input is not an object).
pub fn split_envelope<'a>(input: &'a Value, issues: &mut Vec<Issue>) -> (Envelope, &'a Value) {
    static NULL: Value = Value::Null;
    let Some(obj) = input.as_object() else {
        issues.push(Issue::new(
            "$",
            code::WRONG_TYPE,
            "the argument must be a JSON object",
        ));
        return (Envelope::default(), &NULL);
    };
    let Some(payload) = obj.get("payload") else {
        return (Envelope::default(), input);
    };
    let mut env = Envelope::default();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    if let Some(meta) = obj.get("meta").and_then(Value::as_object) {
        env.tenant_id = text(meta.get("tenant_id"));
        env.idempotency_key = text(meta.get("idempotency_key"));
        env.workflow_run_id = text(meta.get("workflow_run_id"));
        env.trigger_source = text(meta.get("trigger_source"));
    }
    if env.tenant_id.is_none() {
        env.tenant_id = obj.get("subject").and_then(|s| text(s.get("tenant_id")));
    }
    env.actor_id = obj.get("context").and_then(|c| text(c.get("actor_id")));
    for key in obj.keys() {
        if !["meta", "subject", "payload", "context"].contains(&key.as_str()) {
            issues.push(Issue::new(
                format!("$.{key}"),
                code::UNKNOWN_KEY,
                format!("unknown envelope key {key:?}; expected meta, subject, payload, context"),
            ));
        }
    }
    (env, payload)
}

/// Reads the schema object. Always returns a (possibly partial) schema plus every issue found.
pub fn read_schema(v: &Value, issues: &mut Vec<Issue>) -> RawSchema {
    let mut r = Reader { issues };
    let mut s = RawSchema::default();
    let Some(obj) = r.object(v, "payload") else {
        return s;
    };
    r.known_keys(obj, "", SCHEMA_KEYS);
    // null counts as "not given" (issue 20: `"schema_version": null` was planned as an empty
    // version); `version` is the alias when schema_version is not given
    let given = |k: &str| obj.get(k).filter(|v| !v.is_null());
    s.version = r.string(
        given("schema_version").or_else(|| given("version")),
        "schema_version",
    );
    if given("schema_version").is_none() && given("version").is_none() {
        r.missing("schema_version");
    }
    s.description = r.req_string(obj, "description", "description");
    s.schema = r.string(obj.get("schema"), "schema");
    s.force_apply = r
        .boolean(obj.get("force_apply"), "force_apply")
        .unwrap_or(false);
    if let Some(o) = obj.get("options") {
        s.options = read_options(&mut r, o, "options");
    }
    if let Some(list) = r.array(obj.get("enums"), "enums") {
        for (i, e) in list.iter().enumerate() {
            s.enums.push(read_enum(&mut r, e, &format!("enums[{i}]")));
        }
    }
    match obj.get("tables") {
        None => r.missing("tables"),
        Some(t) => {
            if let Some(list) = r.array(Some(t), "tables") {
                for (i, t) in list.iter().enumerate() {
                    s.tables
                        .push(read_table(&mut r, t, &format!("tables[{i}]")));
                }
            }
        }
    }
    s.drop_tables = r.named_list(obj.get("drop_tables"), "drop_tables");
    s.objects_json = keys_of(obj, OBJECT_KEYS);
    s
}

pub fn read_options(r: &mut Reader, v: &Value, path: &str) -> RawOptions {
    let mut o = RawOptions::default();
    let Some(obj) = r.object(v, path) else {
        return o;
    };
    r.known_keys(obj, path, OPTION_KEYS);
    let p = |k: &'static str| At(path, k);
    o.tenant_column = r.string(obj.get("tenant_column"), &p("tenant_column"));
    o.tenant_type = r.string(obj.get("tenant_type"), &p("tenant_type"));
    o.soft_delete = r.boolean(obj.get("soft_delete"), &p("soft_delete"));
    o.timestamps = r.boolean(obj.get("timestamps"), &p("timestamps"));
    o.rls = r.boolean(obj.get("rls"), &p("rls"));
    o.force_rls = r.boolean(obj.get("force_rls"), &p("force_rls"));
    o.default_indexes = r.boolean(obj.get("default_indexes"), &p("default_indexes"));
    o.unique_scope = r.string(obj.get("unique_scope"), &p("unique_scope"));
    o.allow_destructive = r.boolean(obj.get("allow_destructive"), &p("allow_destructive"));
    o.backfill_tenant = r.string(obj.get("backfill_tenant"), &p("backfill_tenant"));
    o.column_order = r.string(obj.get("column_order"), &p("column_order"));
    o.online = r.boolean(obj.get("online"), &p("online"));
    o.expected_plan_hash = r.string(obj.get("expected_plan_hash"), &p("expected_plan_hash"));
    if let Some(v) = obj.get("tenancy") {
        o.tenancy = read_tenancy(r, v, &p("tenancy").to_string());
    }
    if let Some(v) = obj.get("distribute") {
        use crate::schema::model::Distribute;
        match v {
            Value::Bool(true) => o.distribute = Some(Distribute::On),
            Value::Bool(false) => o.distribute = Some(Distribute::Off),
            Value::String(s) if s == "auto" => o.distribute = Some(Distribute::Auto),
            _ => r.wrong(&p("distribute"), "true, false or \"auto\"", v),
        }
    }
    if let Some(v) = obj.get("lock_timeout_ms") {
        match v.as_i64() {
            Some(n) => o.lock_timeout_ms = Some(n),
            None => r.wrong(
                &p("lock_timeout_ms"),
                "an integer number of milliseconds",
                v,
            ),
        }
    }
    o
}

/// `options.tenancy` as written.
#[derive(Debug, Clone, Default)]
pub struct RawTenancy {
    pub mode: Option<String>,
    pub table: Option<String>,
    pub tenant_column: Option<String>,
    pub user_column: Option<String>,
}

/// The keys of `options.tenancy` written as an object.
pub const TENANCY_KEYS: &[&str] = &["mode", "table", "tenant_column", "user_column"];

/// Reads `options.tenancy`: a string (the mode alone) or an object.
pub fn read_tenancy(r: &mut Reader, v: &Value, path: &str) -> Option<RawTenancy> {
    match v {
        Value::Null => None,
        Value::String(mode) => Some(RawTenancy {
            mode: Some(mode.clone()),
            ..Default::default()
        }),
        Value::Object(obj) => {
            r.known_keys(obj, path, TENANCY_KEYS);
            let at = |k: &str| format!("{path}.{k}");
            Some(RawTenancy {
                mode: r.string(obj.get("mode"), at("mode")),
                table: r.string(obj.get("table"), at("table")),
                tenant_column: r.string(obj.get("tenant_column"), at("tenant_column")),
                user_column: r.string(obj.get("user_column"), at("user_column")),
            })
        }
        other => {
            r.wrong(path, "\"transaction\" or an object with \"mode\"", other);
            None
        }
    }
}

fn read_enum(r: &mut Reader, v: &Value, path: &str) -> RawEnum {
    let mut e = RawEnum {
        path: path.to_string(),
        ..Default::default()
    };
    let Some(obj) = r.object(v, path) else {
        return e;
    };
    r.known_keys(obj, path, ENUM_KEYS);
    e.name = r
        .req_string(obj, "name", At(path, "name"))
        .unwrap_or_default();
    e.schema = r.string(obj.get("schema"), At(path, "schema"));
    match obj.get("values") {
        None => r.missing(At(path, "values")),
        Some(vals) => e.values = r.string_list(Some(vals), At(path, "values")),
    }
    e
}

fn read_table(r: &mut Reader, v: &Value, path: &str) -> RawTable {
    let mut t = RawTable {
        path: path.to_string(),
        ..Default::default()
    };
    let Some(obj) = r.object(v, path) else {
        return t;
    };
    r.known_keys(obj, path, TABLE_KEYS);
    let p = |k: &'static str| At(path, k);
    t.name = r.req_string(obj, "name", &p("name")).unwrap_or_default();
    t.schema = r.string(obj.get("schema"), &p("schema"));
    t.tenant_scoped = r.boolean(obj.get("tenant_scoped"), &p("tenant_scoped"));
    t.comment = r.string(obj.get("comment"), &p("comment"));
    t.soft_delete = r.boolean(obj.get("soft_delete"), &p("soft_delete"));
    t.timestamps = r.boolean(obj.get("timestamps"), &p("timestamps"));
    t.rls = r.boolean(obj.get("rls"), &p("rls"));
    t.renamed_from = r.string(obj.get("renamed_from"), &p("renamed_from"));
    t.drop_columns = r.named_list(obj.get("drop_columns"), &p("drop_columns"));
    t.drop_indexes = r.named_list(obj.get("drop_indexes"), &p("drop_indexes"));
    // `"primary_key": []` (not null): a table without a primary key
    t.keyless = obj
        .get("primary_key")
        .is_some_and(|v| v.as_array().is_some_and(|a| a.is_empty()));
    if obj.contains_key("primary_key") {
        t.primary_key = Some(r.string_list(obj.get("primary_key"), &p("primary_key")));
    }
    if let Some(cols) = r.array(obj.get("columns"), &p("columns")) {
        for (i, c) in cols.iter().enumerate() {
            t.columns
                .push(read_column(r, c, &format!("{path}.columns[{i}]")));
        }
    }
    if let Some(list) = r.array(obj.get("indexes"), &p("indexes")) {
        for (i, x) in list.iter().enumerate() {
            t.indexes
                .push(read_index(r, x, &format!("{path}.indexes[{i}]")));
        }
    }
    if let Some(list) = r.array(obj.get("unique"), &p("unique")) {
        for (i, u) in list.iter().enumerate() {
            let (cols, scope) = read_unique(r, u, &format!("{path}.unique[{i}]"));
            t.unique.push(cols);
            t.unique_scopes.push(scope);
        }
    }
    t.objects_json = keys_of(obj, TABLE_OBJECT_KEYS);
    if let Some(list) = r.array(obj.get("checks"), &p("checks")) {
        for (i, c) in list.iter().enumerate() {
            let cp = format!("{path}.checks[{i}]");
            let mut chk = RawCheck {
                path: cp.clone(),
                ..Default::default()
            };
            if let Some(co) = r.object(c, &cp) {
                r.known_keys(co, &cp, CHECK_KEYS);
                chk.name = r.string(co.get("name"), At(&cp, "name"));
                chk.expression = r
                    .req_string(co, "expression", At(&cp, "expression"))
                    .unwrap_or_default();
            }
            t.checks.push(chk);
        }
    }
    t
}

/// A table-level `unique` entry: a list of column names, or `{"columns": [...], "unique_scope"}`.
fn read_unique(r: &mut Reader, v: &Value, path: &str) -> (Vec<String>, Option<String>) {
    let Value::Object(o) = v else {
        return (r.string_list(Some(v), path), None);
    };
    r.known_keys(o, path, UNIQUE_KEYS);
    let cols = match o.get("columns") {
        None => {
            r.missing(At(path, "columns"));
            vec![]
        }
        Some(c) => r.string_list(Some(c), At(path, "columns")),
    };
    (
        cols,
        r.string(o.get("unique_scope"), At(path, "unique_scope")),
    )
}

fn read_column(r: &mut Reader, v: &Value, path: &str) -> RawColumn {
    let mut c = RawColumn {
        path: path.to_string(),
        ..Default::default()
    };
    let Some(obj) = r.object(v, path) else {
        return c;
    };
    r.known_keys(obj, path, COLUMN_KEYS);
    let p = |k: &'static str| At(path, k);
    c.name = r.req_string(obj, "name", &p("name")).unwrap_or_default();
    c.type_ = r.req_string(obj, "type", &p("type")).unwrap_or_default();
    c.not_null = r
        .boolean(obj.get("not_null"), &p("not_null"))
        .unwrap_or(false);
    c.unique = r.boolean(obj.get("unique"), &p("unique")).unwrap_or(false);
    c.primary_key = r
        .boolean(obj.get("primary_key"), &p("primary_key"))
        .unwrap_or(false);
    c.default = r.scalar_text(obj.get("default"), &p("default"));
    c.check = r.string(obj.get("check"), &p("check"));
    c.generated = r.string(obj.get("generated"), &p("generated"));
    c.comment = r.string(obj.get("comment"), &p("comment"));
    c.renamed_from = r.string(obj.get("renamed_from"), &p("renamed_from"));
    c.using = r.string(obj.get("using"), &p("using"));
    c.identity = r.string(obj.get("identity"), &p("identity"));
    c.collation = r.string(obj.get("collation"), &p("collation"));
    c.virtual_ = r
        .boolean(obj.get("virtual"), &p("virtual"))
        .unwrap_or(false);
    c.unique_scope = r.string(obj.get("unique_scope"), &p("unique_scope"));
    if let Some(refv) = obj.get("references") {
        let rp = p("references").to_string();
        let mut rf = RawReference {
            path: rp.clone(),
            ..Default::default()
        };
        match refv {
            Value::String(s) => rf.table = s.clone(),
            Value::Object(ro) => {
                r.known_keys(ro, &rp, REFERENCE_KEYS);
                rf.table = r
                    .req_string(ro, "table", At(&rp, "table"))
                    .unwrap_or_default();
                rf.schema = r.string(ro.get("schema"), At(&rp, "schema"));
                rf.column = r.string(ro.get("column"), At(&rp, "column"));
                rf.on_delete = r.string(ro.get("on_delete"), At(&rp, "on_delete"));
                rf.on_update = r.string(ro.get("on_update"), At(&rp, "on_update"));
            }
            other => r.wrong(&rp, "a table name or an object {\"table\", ...}", other),
        }
        c.references = Some(rf);
    }
    c
}

fn read_index(r: &mut Reader, v: &Value, path: &str) -> RawIndex {
    let mut x = RawIndex {
        path: path.to_string(),
        ..Default::default()
    };
    let Some(obj) = r.object(v, path) else {
        return x;
    };
    r.known_keys(obj, path, INDEX_KEYS);
    let p = |k: &'static str| At(path, k);
    x.name = r.string(obj.get("name"), &p("name"));
    match obj.get("columns") {
        None => r.missing(&p("columns")),
        Some(Value::Array(items)) if items.iter().any(Value::is_object) => {
            read_index_keys(r, items, &p("columns").to_string(), &mut x)
        }
        Some(c) => x.columns = r.string_list(Some(c), &p("columns")),
    }
    x.unique = r.boolean(obj.get("unique"), &p("unique")).unwrap_or(false);
    x.nulls_not_distinct = r
        .boolean(obj.get("nulls_not_distinct"), &p("nulls_not_distinct"))
        .unwrap_or(false);
    x.method = r.string(obj.get("method"), &p("method"));
    x.unique_scope = r.string(obj.get("unique_scope"), &p("unique_scope"));
    x.where_ = r.string(obj.get("where"), &p("where"));
    if obj.contains_key("include") {
        x.include = r.string_list(obj.get("include"), &p("include"));
    }
    x
}

/// An index's `columns` with at least one object: every key kept in order (a name is a key with
/// only `column`), the plain column names in `columns` too.
fn read_index_keys(r: &mut Reader, items: &[Value], path: &str, x: &mut RawIndex) {
    for (i, item) in items.iter().enumerate() {
        let kp = format!("{path}[{i}]");
        let mut k = RawIndexKey {
            path: kp.clone(),
            ..Default::default()
        };
        match item {
            Value::String(c) => k.column = Some(c.clone()),
            Value::Object(o) => {
                r.known_keys(o, &kp, INDEX_KEY_KEYS);
                let at = |f: &str| format!("{kp}.{f}");
                k.column = r.string(o.get("column"), at("column"));
                k.expression = r.string(o.get("expression"), at("expression"));
                k.collation = r.string(o.get("collation"), at("collation"));
                k.opclass = r.string(o.get("opclass"), at("opclass"));
                k.order = r.string(o.get("order"), at("order"));
                k.nulls = r.string(o.get("nulls"), at("nulls"));
            }
            other => r.wrong(&kp, "a column name or a key object", other),
        }
        if let Some(c) = &k.column {
            x.columns.push(c.clone());
        }
        x.keys.push(k);
    }
}

/// The keys of `obj` that are in `keys`, as written.
fn keys_of(obj: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    obj.iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `{base}.{key}`: a path written only when an issue needs it (reading the 123-table payload made
/// thousands of these strings that nobody read).
#[derive(Clone, Copy)]
struct At<'a>(&'a str, &'static str);

impl Display for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// Walks JSON values, recording issues instead of failing.
pub struct Reader<'a> {
    pub issues: &'a mut Vec<Issue>,
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Reader<'a> {
    pub fn new(issues: &'a mut Vec<Issue>) -> Self {
        Reader { issues }
    }

    pub(crate) fn missing(&mut self, path: impl Display) {
        let path = path.to_string();
        self.issues.push(Issue::new(
            &path,
            code::MISSING_KEY,
            format!("{path} is required"),
        ));
    }

    pub(crate) fn wrong(&mut self, path: impl Display, want: &str, got: &Value) {
        let path = path.to_string();
        self.issues.push(Issue::new(
            &path,
            code::WRONG_TYPE,
            format!("{path} must be {want}, not {}", json_kind(got)),
        ));
    }

    pub(crate) fn known_keys(&mut self, obj: &Map<String, Value>, path: &str, known: &[&str]) {
        for k in obj.keys() {
            if !known.contains(&k.as_str()) {
                let at = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                self.issues.push(Issue::new(
                    at,
                    code::UNKNOWN_KEY,
                    format!("unknown key {k:?}; expected one of: {}", known.join(", ")),
                ));
            }
        }
    }

    pub fn object<'v>(&mut self, v: &'v Value, path: &str) -> Option<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Some(m),
            other => {
                self.wrong(if path.is_empty() { "$" } else { path }, "an object", other);
                None
            }
        }
    }

    pub(crate) fn array<'v>(
        &mut self,
        v: Option<&'v Value>,
        path: impl Display,
    ) -> Option<&'v Vec<Value>> {
        match v? {
            Value::Array(a) => Some(a),
            Value::Null => None,
            other => {
                self.wrong(path, "an array", other);
                None
            }
        }
    }

    pub fn string(&mut self, v: Option<&Value>, path: impl Display) -> Option<String> {
        match v? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => {
                self.wrong(path, "a string", other);
                None
            }
        }
    }

    pub(crate) fn req_string(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: impl Display,
    ) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                self.missing(path);
                None
            }
            v => self.string(v, path),
        }
    }

    /// A default may be written as a JSON number or boolean too (`"default": 0`).
    pub(crate) fn scalar_text(&mut self, v: Option<&Value>, path: impl Display) -> Option<String> {
        match v? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => None,
            other => {
                self.wrong(
                    path,
                    "an SQL expression as a string (or a number or boolean)",
                    other,
                );
                None
            }
        }
    }

    pub fn boolean(&mut self, v: Option<&Value>, path: impl Display) -> Option<bool> {
        match v? {
            Value::Bool(b) => Some(*b),
            Value::Null => None,
            other => {
                self.wrong(path, "true or false", other);
                None
            }
        }
    }

    /// A list of strings, each with its own path (`drop_columns[1]`), for keys whose items are
    /// checked one by one later.
    fn named_list(&mut self, v: Option<&Value>, path: impl Display) -> Vec<(String, String)> {
        let Some(list) = self.array(v, &path) else {
            return vec![];
        };
        let mut out = vec![];
        for (i, x) in list.iter().enumerate() {
            match x {
                Value::String(s) => out.push((s.clone(), format!("{path}[{i}]"))),
                other => self.wrong(&format!("{path}[{i}]"), "a string", other),
            }
        }
        out
    }

    pub(crate) fn string_list(&mut self, v: Option<&Value>, path: impl Display) -> Vec<String> {
        let Some(list) = self.array(v, &path) else {
            return vec![];
        };
        let mut out = vec![];
        for (i, x) in list.iter().enumerate() {
            match x {
                Value::String(s) => out.push(s.clone()),
                other => self.wrong(&format!("{path}[{i}]"), "a string", other),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn payload_text_limits() {
        assert_eq!(json_depth(r#"{"a": [1, {"b": "[[[{{"}], "c": "\\\"["}"#), 3);
        assert_eq!(json_depth("1"), 0);
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        assert_eq!(
            check_payload_text(&deep).unwrap().code,
            code::PAYLOAD_TOO_DEEP
        );
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(check_payload_text(&ok).is_none());
        let big = format!("\"{}\"", "x".repeat(MAX_PAYLOAD_BYTES));
        assert_eq!(
            check_payload_text(&big).unwrap().code,
            code::PAYLOAD_TOO_LARGE
        );
    }

    #[test]
    fn reads_every_problem_at_once() {
        let mut issues = vec![];
        let v = json!({
            "schema_version": 7,
            "tables": [
                {"name": "a", "columns": [{"name": "x"}, {"type": "text", "not_nul": true}]},
                "oops"
            ]
        });
        read_schema(&v, &mut issues);
        let got: Vec<(&str, &str)> = issues.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert!(
            got.contains(&("schema_version", code::WRONG_TYPE)),
            "{got:?}"
        );
        assert!(got.contains(&("description", code::MISSING_KEY)), "{got:?}");
        assert!(
            got.contains(&("tables[0].columns[0].type", code::MISSING_KEY)),
            "{got:?}"
        );
        assert!(
            got.contains(&("tables[0].columns[1].name", code::MISSING_KEY)),
            "{got:?}"
        );
        assert!(
            got.contains(&("tables[0].columns[1].not_nul", code::UNKNOWN_KEY)),
            "{got:?}"
        );
        assert!(got.contains(&("tables[1]", code::WRONG_TYPE)), "{got:?}");
    }

    #[test]
    fn envelope_or_bare() {
        let mut issues = vec![];
        let input = json!({"meta": {"workflow_run_id": "wr_1"}, "subject": {"tenant_id": "t"},
                           "payload": {"x": 1}, "context": {"actor_id": "u"}});
        let (env, payload) = split_envelope(&input, &mut issues);
        assert!(issues.is_empty());
        assert_eq!(env.workflow_run_id.as_deref(), Some("wr_1"));
        assert_eq!(env.tenant_id.as_deref(), Some("t"));
        assert_eq!(env.actor_id.as_deref(), Some("u"));
        assert_eq!(*payload, json!({"x": 1}));
        let input = json!({"tables": []});
        let (_, bare) = split_envelope(&input, &mut issues);
        assert_eq!(*bare, json!({"tables": []}));
        split_envelope(&json!([1]), &mut issues);
        assert_eq!(issues[0].code, code::WRONG_TYPE);
    }

    #[test]
    fn version_alias_and_reference_forms() {
        let mut issues = vec![];
        let s = read_schema(
            &json!({"version": "v1", "description": "d", "tables": [{"name": "t", "columns": [
                {"name": "a", "type": "uuid", "references": "other"},
                {"name": "b", "type": "uuid", "references": {"table": "s.other", "on_delete": "cascade"}},
                {"name": "c", "type": "int", "default": 0}
            ]}]}),
            &mut issues,
        );
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(s.version.as_deref(), Some("v1"));
        assert_eq!(
            s.tables[0].columns[0].references.as_ref().unwrap().table,
            "other"
        );
        assert_eq!(
            s.tables[0].columns[1]
                .references
                .as_ref()
                .unwrap()
                .on_delete
                .as_deref(),
            Some("cascade")
        );
        assert_eq!(s.tables[0].columns[2].default.as_deref(), Some("0"));
    }
}
