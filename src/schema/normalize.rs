//! Stage 2 — `normalize`: names to snake_case, revos's own columns and indexes added, every
//! constraint given a name, and the canonical schema hash.
//!
//! Pure: no catalog access. Problems found here (bad names, bad option values) are collected as
//! issues; the schema is still built as far as possible so that `validate` can report more.

use serde_json::Value;

use crate::error::{code, Issue};
use crate::ident::{sha256_hex, Name};
use crate::schema::additions;
use crate::schema::model::*;
use crate::schema::spec::{RawColumn, RawIndex, RawOptions, RawSchema, RawTable};

/// Schemas revos will not create tables or types in.
const RESERVED_SCHEMAS: &[&str] = &[
    "revos",
    "revos_shadow",
    "pg_catalog",
    "information_schema",
    "pg_toast",
];

/// Upper bound for `lock_timeout_ms` (10 minutes).
pub const MAX_LOCK_TIMEOUT_MS: i64 = 600_000;
/// `lock_timeout_ms` when the schema gives none.
pub const DEFAULT_LOCK_TIMEOUT_MS: u64 = 5000;

pub fn normalize(raw: &RawSchema, issues: &mut Vec<Issue>) -> Schema {
    let version = raw.version.clone().unwrap_or_default();
    if raw.version.is_some() && !valid_version(&version) {
        issues.push(Issue::new(
            "schema_version",
            code::INVALID_VALUE,
            format!("schema_version {version:?} must be 1-100 characters of letters, digits, '.', '_' and '-'"),
        ));
    }
    let default_schema = schema_name(raw.schema.as_deref(), "schema", issues)
        .unwrap_or_else(|| Name::from_catalog("public"));
    let options = normalize_options(&raw.options, "options", issues);

    let enums = raw
        .enums
        .iter()
        .filter_map(|e| {
            let name = Name::normalize(&e.name, format_args!("{}.name", e.path))
                .map_err(|i| issues.push(i))
                .ok()?;
            let schema = match &e.schema {
                Some(s) => schema_name(Some(s), &format!("{}.schema", e.path), issues)?,
                None => default_schema.clone(),
            };
            Some(EnumType {
                path: e.path.clone(),
                schema,
                name,
                values: e.values.clone(),
            })
        })
        .collect();

    let tables = raw
        .tables
        .iter()
        .map(|t| normalize_table(t, &default_schema, &options, issues))
        .collect();

    let drop_tables = dropped_tables(&raw.drop_tables, &default_schema, issues);
    let mut schema = Schema {
        version,
        description: raw.description.clone().unwrap_or_default(),
        force_apply: raw.force_apply,
        options,
        enums,
        tables,
        drop_tables,
        objects: vec![],
    };
    crate::schema::membership::resolve(
        raw.options.tenancy.as_ref(),
        &default_schema,
        &mut schema,
        issues,
    );
    let (objects, table_objects) = {
        let mut r = crate::schema::spec::Reader::new(issues);
        let objects = crate::schema::objects::raw::read(&mut r, &raw.objects_json);
        let tables: Vec<_> = raw
            .tables
            .iter()
            .map(|t| crate::schema::objects::raw::read_table(&mut r, &t.objects_json, &t.path))
            .collect();
        (objects, tables)
    };
    let table_objects: Vec<_> = table_objects.iter().collect();
    crate::schema::objects::build::normalize(
        &objects,
        &table_objects,
        &default_schema,
        &mut schema,
        issues,
    );
    schema
}

/// `drop_tables`: `table` (in the payload's schema) or `schema.table`, each name checked.
fn dropped_tables(
    list: &[(String, String)],
    default_schema: &Name,
    issues: &mut Vec<Issue>,
) -> Vec<DroppedTable> {
    list.iter()
        .filter_map(|(text, path)| {
            let (schema, name) = match text.split_once('.') {
                Some((s, n)) => (schema_name(Some(s), path, issues)?, n),
                None => (default_schema.clone(), text.as_str()),
            };
            let name = Name::normalize(name, path)
                .map_err(|i| issues.push(i))
                .ok()?;
            Some(DroppedTable {
                path: path.clone(),
                schema,
                name,
            })
        })
        .collect()
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

pub fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 100
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn schema_name(raw: Option<&str>, path: &str, issues: &mut Vec<Issue>) -> Option<Name> {
    let n = Name::normalize(raw?, path)
        .map_err(|i| issues.push(i))
        .ok()?;
    if RESERVED_SCHEMAS.contains(&n.as_str()) || n.as_str().starts_with("pg_") {
        issues.push(Issue::new(
            path,
            code::RESERVED_NAME,
            format!(
                "schema {:?} is reserved (revos, pg_*, information_schema)",
                n.as_str()
            ),
        ));
        return None;
    }
    Some(n)
}

pub fn normalize_options(o: &RawOptions, path: &str, issues: &mut Vec<Issue>) -> Options {
    let tenant_column = o
        .tenant_column
        .as_deref()
        .and_then(|t| {
            Name::normalize(t, format_args!("{path}.tenant_column"))
                .map_err(|i| issues.push(i))
                .ok()
        })
        .unwrap_or_else(|| Name::from_catalog("tenant_id"));
    let tenant_type = normalize_tenant_type(o, path, issues);
    let lock_timeout_ms = match o.lock_timeout_ms {
        None => DEFAULT_LOCK_TIMEOUT_MS,
        Some(n) if (0..=MAX_LOCK_TIMEOUT_MS).contains(&n) => n as u64,
        Some(n) => {
            issues.push(Issue::new(
                format!("{path}.lock_timeout_ms"),
                code::INVALID_VALUE,
                format!("lock_timeout_ms {n} must be between 0 and {MAX_LOCK_TIMEOUT_MS}"),
            ));
            DEFAULT_LOCK_TIMEOUT_MS
        }
    };
    check_backfill_tenant(o, tenant_type, path, issues);
    let column_order = match o.column_order.as_deref() {
        None | Some("revos_first") => ColumnOrder::RevosFirst,
        Some("declared") => ColumnOrder::Declared,
        Some(other) => {
            issues.push(Issue::new(
                format!("{path}.column_order"),
                code::INVALID_VALUE,
                format!("column_order is \"revos_first\" or \"declared\", not {other:?}"),
            ));
            ColumnOrder::RevosFirst
        }
    };
    let expected_plan_hash = o
        .expected_plan_hash
        .as_ref()
        .map(|h| h.to_ascii_lowercase());
    if let Some(h) = &expected_plan_hash {
        if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            issues.push(Issue::new(
                format!("{path}.expected_plan_hash"),
                code::INVALID_VALUE,
                "expected_plan_hash must be the 64 hex digits of a plan_hash from plan_schema",
            ));
        }
    }
    Options {
        column_order,
        tenant_column,
        tenant_type,
        soft_delete: o.soft_delete.unwrap_or(true),
        timestamps: o.timestamps.unwrap_or(true),
        rls: o.rls.unwrap_or(true),
        force_rls: o.force_rls.unwrap_or(true),
        default_indexes: o.default_indexes.unwrap_or(true),
        unique_scope: additions::option_scope(o, path, issues),
        lock_timeout_ms,
        allow_destructive: o.allow_destructive.unwrap_or(false),
        backfill_tenant: o.backfill_tenant.clone(),
        distribute: o.distribute.unwrap_or_default(),
        citus: false,
        online: match o.online {
            None => Online::Auto,
            Some(true) => Online::On,
            Some(false) => Online::Off,
        },
        expected_plan_hash,
        tenancy: Tenancy::Transaction,
    }
}

/// `options.tenant_type`: uuid (the default), text or bigint.
fn normalize_tenant_type(o: &RawOptions, path: &str, issues: &mut Vec<Issue>) -> TenantType {
    match o
        .tenant_type
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
    {
        None => TenantType::Uuid,
        Some(t) if t == "uuid" => TenantType::Uuid,
        Some(t) if t == "text" => TenantType::Text,
        Some(t) if t == "bigint" || t == "int8" => TenantType::Bigint,
        Some(t) => {
            issues.push(Issue::new(
                format!("{path}.tenant_type"),
                code::INVALID_VALUE,
                format!("tenant_type {t:?} must be uuid, text or bigint"),
            ));
            TenantType::Uuid
        }
    }
}

/// `options.backfill_tenant` is a tenant id of the tenant type.
fn check_backfill_tenant(
    o: &RawOptions,
    tenant_type: TenantType,
    path: &str,
    issues: &mut Vec<Issue>,
) {
    if let Some(b) = &o.backfill_tenant {
        let ok = match tenant_type {
            TenantType::Uuid => is_uuid(b),
            TenantType::Bigint => b.parse::<i64>().is_ok(),
            TenantType::Text => !b.is_empty() && b.len() <= 200,
        };
        if !ok {
            issues.push(Issue::new(
                format!("{path}.backfill_tenant"),
                code::INVALID_VALUE,
                format!(
                    "backfill_tenant {b:?} is not a valid {} tenant id",
                    tenant_type.sql()
                ),
            ));
        }
    }
}

/// Collapses whitespace and lower-cases a type as written, for hashing and enum matching.
pub fn normalize_type_text(t: &str) -> String {
    // Already normalized (printable ASCII, no upper case, single inner spaces): as it is.
    let b = t.as_bytes();
    if b.iter()
        .all(|c| (b' '..=b'~').contains(c) && !c.is_ascii_uppercase())
        && b.first() != Some(&b' ')
        && b.last() != Some(&b' ')
        && !t.contains("  ")
    {
        return t.to_string();
    }
    t.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

fn auto_column(name: &str, ty: &str, not_null: bool, default: Option<String>) -> Column {
    Column {
        path: String::new(),
        name: Name::from_catalog(name),
        type_text: ty.to_string(),
        sql_type: Some(ty_sql(ty)),
        not_null,
        default,
        generated: None,
        virtual_: false,
        comment: None,
        auto: true,
        renamed_from: None,
        using: None,
        identity: None,
        collation_text: None,
        collation: None,
        as_written: None,
    }
}

fn ty_sql(t: &str) -> String {
    match t {
        "timestamptz" => "timestamp with time zone".into(),
        other => other.into(),
    }
}

fn names(list: &[String], path: &str, issues: &mut Vec<Issue>) -> Vec<Name> {
    list.iter()
        .enumerate()
        .filter_map(|(i, c)| {
            Name::normalize(c, format_args!("{path}[{i}]"))
                .map_err(|e| issues.push(e))
                .ok()
        })
        .collect()
}

fn join(names: &[Name]) -> String {
    names.iter().map(Name::as_str).collect::<Vec<_>>().join("_")
}

/// What every step of [`normalize_table`] needs to know about the table being normalized.
struct TableCtx<'a> {
    raw: &'a RawTable,
    schema: Name,
    name: Name,
    /// the table name as text (derived names are built from it)
    tn: String,
    tenant_scoped: bool,
    tcol: String,
    /// `options.unique_scope`
    unique_scope: Option<UniqueScope>,
}

/// One table: identity, columns (revos's and the caller's), keys, constraints, indexes, and the
/// evolution keys — each a step below, in the order the table is built.
fn normalize_table(
    t: &RawTable,
    default_schema: &Name,
    o: &Options,
    issues: &mut Vec<Issue>,
) -> Table {
    let cx = table_identity(t, default_schema, o, issues);
    let mut table = build_table(&cx, o, issues);
    evolution_keys(&cx, &mut table, issues);
    table.derived_renames = derived_renames(&cx, &table, default_schema, o);
    table
}

/// Steps 1–6 (without the evolution keys): what the table is to be.
fn build_table(cx: &TableCtx, o: &Options, issues: &mut Vec<Issue>) -> Table {
    let t = cx.raw;
    let soft_delete = t.soft_delete.unwrap_or(o.soft_delete);
    let timestamps = t.timestamps.unwrap_or(o.timestamps);
    // A tenant table follows options.rls; a shared table has RLS only when it says so itself
    // (`"rls": true`: its declared policies then decide what a role sees).
    let rls = if cx.tenant_scoped {
        t.rls.unwrap_or(o.rls)
    } else {
        t.rls.unwrap_or(false)
    };

    let mut caller = caller_columns(t, issues);
    let serial_notes = crate::schema::serial::expand(&mut caller, issues);
    let mut pk = primary_key(t, &caller, issues);
    // `"primary_key": []`: a table without a primary key (and without revos's `id`)
    let keyless = t.keyless;
    let mut columns = assemble_columns(cx, o, caller, &mut pk, timestamps, soft_delete, keyless);
    if o.column_order == ColumnOrder::Declared {
        declared_order(&mut columns, t);
    }
    // issue 25: what revos still does for a column the caller declared in its place
    let mut notes = serial_notes;
    notes.extend(additions::complete_tenant_column(
        &mut columns,
        cx.tenant_scoped,
        o,
    ));
    notes.extend(additions::timestamp_notes(&columns, timestamps));
    notes.extend(additions::unique_scope_notes(
        t,
        cx.tenant_scoped,
        o,
        issues,
    ));
    let (mut uniques, mut checks, foreign_keys) = column_constraints(cx, &columns, issues);
    uniques.extend(table_uniques(cx, issues));
    notes.extend(merge_primary_key_uniques(cx, &pk, &mut uniques));
    checks.extend(table_checks(cx, issues));
    let indexes = indexes(cx, o, &columns, issues);

    let touch_trigger = timestamps && columns.iter().any(|c| c.name.as_str() == "updated_at");
    Table {
        path: t.path.clone(),
        schema: cx.schema.clone(),
        name: cx.name.clone(),
        tenant_scoped: cx.tenant_scoped,
        rls,
        force_rls: rls && o.force_rls,
        columns,
        primary_key: pk,
        primary_key_path: format!("{}.primary_key", t.path),
        uniques,
        checks,
        foreign_keys,
        indexes,
        comment: t.comment.clone(),
        touch_trigger,
        renamed_from: None,
        drop_columns: vec![],
        drop_indexes: vec![],
        derived_renames: vec![],
        partition_by: None,
        policies: vec![],
        triggers: vec![],
        partitions: vec![],
        notes,
        membership: false,
    }
}

/// Step 1: the table's name and schema, and whether it is tenant-scoped.
///
/// A bad table or schema name is reported, and the table is still normalized under a stand-in
/// name so that the problems inside it are reported too (the payload is blocked either way).
fn table_identity<'a>(
    t: &'a RawTable,
    default_schema: &Name,
    o: &Options,
    issues: &mut Vec<Issue>,
) -> TableCtx<'a> {
    let name = Name::normalize(&t.name, format_args!("{}.name", t.path)).unwrap_or_else(|i| {
        issues.push(i);
        Name::derived(&format!(
            "_invalid_{}",
            t.path.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        ))
    });
    let schema = match &t.schema {
        Some(s) => schema_name(Some(s), &format!("{}.schema", t.path), issues)
            .unwrap_or_else(|| default_schema.clone()),
        None => default_schema.clone(),
    };
    TableCtx {
        raw: t,
        tn: name.as_str().to_string(),
        schema,
        name,
        tenant_scoped: t.tenant_scoped.unwrap_or(true),
        tcol: o.tenant_column.as_str().to_string(),
        unique_scope: o.unique_scope,
    }
}

/// Step 2: the caller's columns, normalized (a column with a bad name is reported and left out).
fn caller_columns<'a>(t: &'a RawTable, issues: &mut Vec<Issue>) -> Vec<(Column, &'a RawColumn)> {
    let mut caller = vec![];
    for c in &t.columns {
        let Ok(cname) =
            Name::normalize(&c.name, format_args!("{}.name", c.path)).map_err(|i| issues.push(i))
        else {
            continue;
        };
        let renamed_from = c.renamed_from.as_deref().and_then(|r| {
            Name::normalize(r, format_args!("{}.renamed_from", c.path))
                .map_err(|i| issues.push(i))
                .ok()
        });
        caller.push((
            Column {
                path: c.path.clone(),
                name: cname,
                type_text: normalize_type_text(&c.type_),
                sql_type: None,
                not_null: c.not_null || c.primary_key,
                default: c.default.as_deref().map(|d| d.trim().to_string()),
                generated: c.generated.as_deref().map(|g| g.trim().to_string()),
                virtual_: c.virtual_,
                comment: c.comment.clone(),
                auto: false,
                renamed_from,
                using: c.using.as_deref().map(|u| u.trim().to_string()),
                identity: identity(c, issues),
                collation_text: c.collation.as_deref().map(|x| x.trim().to_string()),
                collation: None,
                as_written: None,
            },
            c,
        ));
    }
    caller
}

/// `"identity": "always" | "by_default"`.
fn identity(c: &RawColumn, issues: &mut Vec<Issue>) -> Option<Identity> {
    match c.identity.as_deref()? {
        "always" => Some(Identity::Always),
        "by_default" => Some(Identity::ByDefault),
        other => {
            issues.push(Issue::new(
                format!("{}.identity", c.path),
                code::INVALID_VALUE,
                format!("identity is \"always\" or \"by_default\", not {other:?}"),
            ));
            None
        }
    }
}

/// Step 3: the primary key as given — a table-level list or column flags (not both); empty when
/// neither, and [`assemble_columns`] then adds the auto `id`.
fn primary_key(
    t: &RawTable,
    caller: &[(Column, &RawColumn)],
    issues: &mut Vec<Issue>,
) -> Vec<Name> {
    if t.primary_key.is_some() && caller.iter().any(|(_, r)| r.primary_key) {
        issues.push(Issue::new(
            format!("{}.primary_key", t.path),
            code::CONFLICTING_DEFINITION,
            "give the primary key either as a table-level list or as column flags, not both",
        ));
    }
    match &t.primary_key {
        Some(list) => names(list, &format!("{}.primary_key", t.path), issues),
        None => caller
            .iter()
            .filter(|(_, r)| r.primary_key)
            .map(|(c, _)| c.name.clone())
            .collect(),
    }
}

/// Step 4: revos's columns in the contract's order (id, tenant, created_at, updated_at,
/// deleted_at), each replaced in its slot by a caller column of the same name, then the caller's.
fn assemble_columns(
    cx: &TableCtx,
    o: &Options,
    mut caller: Vec<(Column, &RawColumn)>,
    pk: &mut Vec<Name>,
    timestamps: bool,
    soft_delete: bool,
    keyless: bool,
) -> Vec<Column> {
    let explicit_pk = !pk.is_empty() || keyless;
    let tcol = cx.tcol.as_str();
    let mut columns: Vec<Column> = vec![];
    let mut take_or_auto = |n: &str, auto: Column, columns: &mut Vec<Column>| {
        if let Some(pos) = caller.iter().position(|(c, _)| c.name.as_str() == n) {
            columns.push(caller.remove(pos).0);
        } else {
            columns.push(auto);
        }
    };
    if !explicit_pk || pk.iter().any(|p| p.as_str() == "id") {
        if !explicit_pk {
            *pk = vec![Name::from_catalog("id")];
        }
        take_or_auto(
            "id",
            auto_column("id", "uuid", true, Some("gen_random_uuid()".into())),
            &mut columns,
        );
    }
    if cx.tenant_scoped {
        let default = format!("(revos.current_tenant_id())::{}", o.tenant_type.sql());
        take_or_auto(
            tcol,
            auto_column(tcol, o.tenant_type.sql(), true, Some(default)),
            &mut columns,
        );
    }
    if timestamps {
        for ts in ["created_at", "updated_at"] {
            take_or_auto(
                ts,
                auto_column(ts, "timestamptz", true, Some("now()".into())),
                &mut columns,
            );
        }
    }
    if soft_delete {
        take_or_auto(
            "deleted_at",
            auto_column("deleted_at", "timestamptz", false, None),
            &mut columns,
        );
    }
    columns.extend(caller.into_iter().map(|(c, _)| c));
    columns
}

/// `options.column_order: "declared"`: the caller's columns in the order written (a column named
/// like one of revos's keeps its declared place), then the columns revos adds. An application that
/// inserts or copies by position keeps working; only a table this plan creates gets the order
/// (Postgres cannot reorder the columns of an existing table).
fn declared_order(columns: &mut [Column], t: &RawTable) {
    let place = |c: &Column| -> usize {
        if c.auto {
            return usize::MAX;
        }
        t.columns
            .iter()
            .position(|r| r.path == c.path)
            .unwrap_or(usize::MAX)
    };
    columns.sort_by_key(place);
}

/// A unique key in its scope (`unique_scope`, `options.unique_scope`, else the form's default):
/// per tenant on a tenant-scoped table puts the tenant column first.
fn tenant_prefix(
    cx: &TableCtx,
    cols: Vec<Name>,
    said: Option<&str>,
    form_default: UniqueScope,
) -> Vec<Name> {
    let scope = additions::scope_of(said, cx.unique_scope, form_default);
    additions::scoped(cols, scope, cx.tenant_scoped, &cx.tcol)
}

/// Step 5a: the unique keys, checks and foreign keys that columns declare.
fn column_constraints(
    cx: &TableCtx,
    columns: &[Column],
    issues: &mut Vec<Issue>,
) -> (Vec<Unique>, Vec<Check>, Vec<ForeignKey>) {
    let tn = &cx.tn;
    let (mut uniques, mut checks, mut fks) = (vec![], vec![], vec![]);
    for col in columns.iter().filter(|c| !c.auto) {
        let Some(rc) = cx.raw.columns.iter().find(|r| r.path == col.path) else {
            continue;
        };
        if rc.unique {
            uniques.push(Unique {
                path: format!("{}.unique", rc.path),
                name: Name::derived(&format!("uq_{tn}_{}", col.name.as_str())),
                columns: tenant_prefix(
                    cx,
                    vec![col.name.clone()],
                    rc.unique_scope.as_deref(),
                    UniqueScope::Tenant,
                ),
            });
        }
        if let Some(chk) = &rc.check {
            checks.push(Check {
                path: format!("{}.check", rc.path),
                name: Name::derived(&format!("ck_{tn}_{}", col.name.as_str())),
                expression: chk.trim().to_string(),
            });
        }
        if let Some(r) = &rc.references {
            if let Some(fk) = normalize_reference(r, tn, &col.name, &cx.schema, issues) {
                fks.push(fk);
            }
        }
    }
    (uniques, checks, fks)
}

/// Step 5b: the table-level `unique` lists.
fn table_uniques(cx: &TableCtx, issues: &mut Vec<Issue>) -> Vec<Unique> {
    let t = cx.raw;
    let mut uniques = vec![];
    for (i, u) in t.unique.iter().enumerate() {
        let cols = names(u, &format!("{}.unique[{i}]", t.path), issues);
        if cols.is_empty() {
            issues.push(Issue::new(
                format!("{}.unique[{i}]", t.path),
                code::INVALID_VALUE,
                "a unique constraint needs at least one column",
            ));
            continue;
        }
        uniques.push(Unique {
            path: format!("{}.unique[{i}]", t.path),
            name: Name::derived(&format!("uq_{}_{}", cx.tn, join(&cols))),
            columns: tenant_prefix(
                cx,
                cols,
                t.unique_scopes.get(i).and_then(|s| s.as_deref()),
                UniqueScope::Tenant,
            ),
        });
    }
    uniques
}

/// A unique key on exactly the primary key's columns (in its order) is the primary key: Postgres
/// creates no second constraint for it, so it is left out, with a warning saying so.
fn merge_primary_key_uniques(cx: &TableCtx, pk: &[Name], uniques: &mut Vec<Unique>) -> Vec<String> {
    let mut notes = vec![];
    uniques.retain(|u| {
        if u.columns != pk {
            return true;
        }
        notes.push(format!(
            "{}: the unique key {} is the primary key of {}.{} (the same columns): the primary key enforces it, no second constraint is made",
            u.path, u.name, cx.schema, cx.name
        ));
        false
    });
    notes
}

/// Step 5c: the table-level `checks` (unnamed ones are `ck_<table>_<n>`).
fn table_checks(cx: &TableCtx, issues: &mut Vec<Issue>) -> Vec<Check> {
    let mut checks = vec![];
    for (i, c) in cx.raw.checks.iter().enumerate() {
        let name = match &c.name {
            Some(n) => match Name::normalize(n, format_args!("{}.name", c.path)) {
                Ok(n) => n,
                Err(e) => {
                    issues.push(e);
                    continue;
                }
            },
            None => Name::derived(&format!("ck_{}_{}", cx.tn, i + 1)),
        };
        checks.push(Check {
            path: format!("{}.expression", c.path),
            name,
            expression: c.expression.trim().to_string(),
        });
    }
    checks
}

/// Step 6: revos's default indexes (tenant, tenant + created_at), then the caller's.
fn indexes(cx: &TableCtx, o: &Options, columns: &[Column], issues: &mut Vec<Issue>) -> Vec<Index> {
    let (tn, tcol) = (&cx.tn, cx.tcol.as_str());
    let mut indexes = vec![];
    if o.default_indexes {
        let auto_idx = |cols: &[&str], name: String| Index {
            path: String::new(),
            name: Name::derived(&name),
            columns: cols.iter().map(|c| Name::from_catalog(c)).collect(),
            unique: false,
            method: IndexMethod::Btree,
            where_: None,
            include: vec![],
            auto: true,
            keys: vec![],
            nulls_not_distinct: false,
        };
        if cx.tenant_scoped {
            indexes.push(auto_idx(&[tcol], format!("idx_{tn}_{tcol}")));
        }
        if columns.iter().any(|c| c.name.as_str() == "created_at") {
            let cols: &[&str] = if cx.tenant_scoped {
                &[tcol, "created_at"]
            } else {
                &["created_at"]
            };
            indexes.push(auto_idx(cols, format!("idx_{tn}_created_at")));
        }
    }
    for x in &cx.raw.indexes {
        if let Some(index) = caller_index(cx, x, issues) {
            indexes.push(index);
        }
    }
    indexes
}

fn caller_index(cx: &TableCtx, x: &RawIndex, issues: &mut Vec<Issue>) -> Option<Index> {
    let cols = names(&x.columns, &format!("{}.columns", x.path), issues);
    // an expression key is a key too: `[{"expression": "lower(email)"}]` alone is an index
    if x.columns.is_empty() && x.keys.is_empty() {
        issues.push(Issue::new(
            format!("{}.columns", x.path),
            code::INVALID_VALUE,
            "an index needs at least one column",
        ));
        return None;
    }
    let method = match x.method.as_deref() {
        None => IndexMethod::Btree,
        // another method the server has (hnsw, ivfflat, …): its name, checked against pg_am
        // when the payload is validated (objects::check)
        Some(m) => match IndexMethod::parse(m) {
            Some(m) => m,
            None => IndexMethod::Other(
                Name::normalize(m, format_args!("{}.method", x.path))
                    .map_err(|e| issues.push(e))
                    .ok()?
                    .as_str()
                    .to_string(),
            ),
        },
    };
    let keys = index_keys(x, issues);
    if x.name.is_none() && keys.iter().any(|k| k.expression.is_some()) {
        issues.push(Issue::new(
            format!("{}.name", x.path),
            code::MISSING_KEY,
            "an index with an expression key needs a name",
        ));
        return None;
    }
    let name = match &x.name {
        Some(n) => Name::normalize(n, format_args!("{}.name", x.path))
            .map_err(|e| issues.push(e))
            .ok()?,
        // The method is part of a generated name unless it is btree, so that an unnamed gin or
        // brin index never takes the name of revos's own btree index on the same columns.
        None => Name::derived(&format!(
            "{}_{}_{}{}",
            if x.unique { "uq" } else { "idx" },
            cx.tn,
            join(&cols),
            if method == IndexMethod::Btree {
                String::new()
            } else {
                format!("_{}", method.sql())
            }
        )),
    };
    let mut index = Index {
        path: x.path.clone(),
        name,
        columns: cols,
        unique: x.unique,
        method,
        where_: x.where_.as_deref().map(|w| w.trim().to_string()),
        include: names(&x.include, &format!("{}.include", x.path), issues),
        auto: false,
        keys,
        nulls_not_distinct: x.nulls_not_distinct,
    };
    // a unique index is global unless it (or options.unique_scope) says "tenant" (issue 25)
    let scope = additions::scope_of(
        x.unique_scope.as_deref(),
        cx.unique_scope,
        UniqueScope::Global,
    );
    additions::scoped_index(&mut index, scope, cx.tenant_scoped, &cx.tcol);
    Some(index)
}

/// An index's keys written as objects: a column (checked, snake_cased) or an expression (checked
/// by `validate` with the others), its collation and operator class quoted part by part, its
/// order and NULLs placement. Empty when every key is a plain column name.
fn index_keys(x: &RawIndex, issues: &mut Vec<Issue>) -> Vec<IndexKey> {
    let mut keys = vec![];
    for k in &x.keys {
        let at = |f: &str| format!("{}.{f}", k.path);
        let column = k.column.as_deref().and_then(|c| {
            Name::normalize(c, at("column"))
                .map_err(|e| issues.push(e))
                .ok()
        });
        if k.column.is_some() == k.expression.is_some() {
            issues.push(Issue::new(
                &k.path,
                code::CONFLICTING_DEFINITION,
                "an index key is a column or an expression, exactly one of them",
            ));
            continue;
        }
        let descending = match k.order.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(o) => {
                issues.push(Issue::new(
                    at("order"),
                    code::INVALID_VALUE,
                    format!("order is asc or desc, not {o:?}"),
                ));
                false
            }
        };
        let nulls_first = match k.nulls.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None => None,
            Some("first") => Some(true),
            Some("last") => Some(false),
            Some(o) => {
                issues.push(Issue::new(
                    at("nulls"),
                    code::INVALID_VALUE,
                    format!("nulls is first or last, not {o:?}"),
                ));
                None
            }
        };
        let quoted = |text: &Option<String>, f: &str, issues: &mut Vec<Issue>| -> Option<String> {
            let t = text.as_deref()?;
            let parts: Vec<&str> = t.split('.').collect();
            let ok = parts.len() <= 2
                && parts.iter().all(|p| {
                    !p.is_empty()
                        && p.len() <= crate::ident::MAX_IDENT_BYTES
                        && p.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                });
            if !ok {
                issues.push(Issue::new(
                    at(f),
                    code::INVALID_NAME,
                    format!("{t:?} is not `name` or `schema.name`"),
                ));
                return None;
            }
            Some(
                parts
                    .iter()
                    .map(|p| crate::ident::quote_ident(p))
                    .collect::<Vec<_>>()
                    .join("."),
            )
        };
        keys.push(IndexKey {
            column,
            expression: k.expression.as_deref().map(|e| e.trim().to_string()),
            collation: quoted(&k.collation, "collation", issues),
            opclass: quoted(&k.opclass, "opclass", issues),
            descending,
            nulls_first,
        });
    }
    keys
}

/// Step 7 (evolution): `renamed_from`, `drop_columns`, `drop_indexes`, names checked and
/// snake_cased like every other name. What they do is decided by `evolve`, against the catalog.
fn evolution_keys(cx: &TableCtx, table: &mut Table, issues: &mut Vec<Issue>) {
    let t = cx.raw;
    table.renamed_from = t.renamed_from.as_deref().and_then(|r| {
        Name::normalize(r, format_args!("{}.renamed_from", t.path))
            .map_err(|i| issues.push(i))
            .ok()
    });
    let dropped = |list: &[(String, String)], issues: &mut Vec<Issue>| -> Vec<Dropped> {
        list.iter()
            .filter_map(|(n, path)| {
                Name::normalize(n, path)
                    .map_err(|i| issues.push(i))
                    .ok()
                    .map(|name| Dropped {
                        path: path.clone(),
                        name,
                    })
            })
            .collect()
    };
    table.drop_columns = dropped(&t.drop_columns, issues);
    table.drop_indexes = dropped(&t.drop_indexes, issues);
}

/// Step 8 (evolution): the names revos derived for this table's indexes and constraints as they
/// were before its renames — the table normalized again under its old name and old column names,
/// paired with the new by position (normalization is deterministic, so the lists line up).
fn derived_renames(
    cx: &TableCtx,
    table: &Table,
    default_schema: &Name,
    o: &Options,
) -> Vec<DerivedRename> {
    let t = cx.raw;
    let col_renamed = t.columns.iter().any(|c| c.renamed_from.is_some());
    if t.renamed_from.is_none() && !col_renamed {
        return vec![];
    }
    // new column name -> old column name, as raw text (normalization snake_cases both)
    let old_of: Vec<(Name, String)> = t
        .columns
        .iter()
        .filter_map(|c| {
            let new = Name::normalize(&c.name, "").ok()?;
            Some((new, c.renamed_from.clone()?))
        })
        .collect();
    let back = |n: &String| -> String {
        match Name::normalize(n, "") {
            Ok(name) => old_of
                .iter()
                .find(|(new, _)| *new == name)
                .map(|(_, old)| old.clone())
                .unwrap_or_else(|| n.clone()),
            Err(_) => n.clone(),
        }
    };
    let mut before = t.clone();
    if let Some(old) = &t.renamed_from {
        before.name = old.clone();
    }
    for c in &mut before.columns {
        if let Some(old) = c.renamed_from.take() {
            c.name = old;
        }
    }
    if let Some(pk) = &mut before.primary_key {
        *pk = pk.iter().map(back).collect();
    }
    for u in &mut before.unique {
        *u = u.iter().map(back).collect();
    }
    for x in &mut before.indexes {
        x.columns = x.columns.iter().map(back).collect();
    }
    let mut ignored = vec![];
    let bcx = table_identity(&before, default_schema, o, &mut ignored);
    let old = build_table(&bcx, o, &mut ignored);
    if !ignored.is_empty() {
        return vec![];
    }
    let mut out = vec![];
    let mut pair = |kind, from: &Name, to: &Name| {
        if from != to {
            out.push(DerivedRename {
                kind,
                from: from.clone(),
                to: to.clone(),
            });
        }
    };
    if !table.primary_key.is_empty() && !old.primary_key.is_empty() {
        pair(DerivedKind::Constraint, &old.pk_name(), &table.pk_name());
    }
    for (a, b) in old.uniques.iter().zip(&table.uniques) {
        pair(DerivedKind::Constraint, &a.name, &b.name);
    }
    for (a, b) in old.checks.iter().zip(&table.checks) {
        pair(DerivedKind::Constraint, &a.name, &b.name);
    }
    for (a, b) in old.foreign_keys.iter().zip(&table.foreign_keys) {
        pair(DerivedKind::Constraint, &a.name, &b.name);
    }
    for (a, b) in old.indexes.iter().zip(&table.indexes) {
        pair(DerivedKind::Index, &a.name, &b.name);
    }
    out
}

fn normalize_reference(
    r: &crate::schema::spec::RawReference,
    table: &str,
    column: &Name,
    own_schema: &Name,
    issues: &mut Vec<Issue>,
) -> Option<ForeignKey> {
    // "schema.table" is the one place a dot is allowed: it separates two names.
    let (schema_text, table_text) = match (&r.schema, r.table.split_once('.')) {
        (Some(s), None) => (Some(s.as_str()), r.table.as_str()),
        (None, Some((s, t))) => (Some(s), t),
        (None, None) => (None, r.table.as_str()),
        (Some(_), Some(_)) => {
            issues.push(Issue::new(
                format!("{}.table", r.path),
                code::CONFLICTING_DEFINITION,
                "give the schema either as \"schema\" or in \"schema.table\", not both",
            ));
            return None;
        }
    };
    let target_table = Name::normalize(table_text, format_args!("{}.table", r.path))
        .map_err(|i| issues.push(i))
        .ok()?;
    let target_schema = match schema_text {
        Some(s) => Name::normalize(s, format_args!("{}.schema", r.path))
            .map_err(|i| issues.push(i))
            .ok()?,
        None => own_schema.clone(),
    };
    let target_column = match &r.column {
        Some(c) => Name::normalize(c, format_args!("{}.column", r.path))
            .map_err(|i| issues.push(i))
            .ok()?,
        None => Name::from_catalog("id"),
    };
    let mut action = |v: &Option<String>, key: &str| -> Option<Option<FkAction>> {
        match v {
            None => Some(None),
            Some(s) => match FkAction::parse(s) {
                Some(a) => Some(Some(a)),
                None => {
                    issues.push(Issue::new(
                        format!("{}.{key}", r.path),
                        code::INVALID_VALUE,
                        format!("{key} {s:?} must be one of cascade, restrict, no action, set null, set default"),
                    ));
                    None
                }
            },
        }
    };
    let on_delete = action(&r.on_delete, "on_delete")?;
    let on_update = action(&r.on_update, "on_update")?;
    Some(ForeignKey {
        path: r.path.clone(),
        name: Name::derived(&format!("fk_{table}_{}", column.as_str())),
        column: column.clone(),
        target_schema,
        target_table,
        target_column,
        on_delete,
        on_update,
        tenant_bound: false,
    })
}

/// SHA-256 (hex) of the canonical JSON (keys sorted, no whitespace) of the normalized schema.
/// Version, description and force_apply are not part of it: they name a change, they are not it.
/// A column revos completed is hashed as written (`additions::as_hashed`).
pub fn schema_hash(s: &Schema) -> String {
    let text = crate::schema::canonical::of(&*additions::as_hashed(s)).expect("schema serializes");
    sha256_hex(text.as_bytes())
}

/// JSON with object keys sorted at every level and no insignificant whitespace.
pub fn canonical_json(v: &Value) -> String {
    crate::schema::canonical::of_value(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::spec::read_schema;
    use serde_json::json;

    fn norm(v: Value) -> (Schema, Vec<Issue>) {
        let mut issues = vec![];
        let raw = read_schema(&v, &mut issues);
        let s = normalize(&raw, &mut issues);
        (s, issues)
    }

    fn col_names(t: &Table) -> Vec<&str> {
        t.columns.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn auto_columns_in_contract_order_then_callers() {
        let (s, issues) = norm(
            json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "Patients", "columns": [{"name": "firstName", "type": "TEXT", "not_null": true}]}]}),
        );
        assert!(issues.is_empty(), "{issues:?}");
        let t = &s.tables[0];
        assert_eq!(t.name.as_str(), "patients");
        assert_eq!(
            col_names(t),
            [
                "id",
                "tenant_id",
                "created_at",
                "updated_at",
                "deleted_at",
                "first_name"
            ]
        );
        assert_eq!(t.primary_key, [Name::from_catalog("id")]);
        assert_eq!(
            t.columns[1].default.as_deref(),
            Some("(revos.current_tenant_id())::uuid")
        );
        assert!(t.columns[1].not_null);
        assert!(t.rls && t.force_rls && t.touch_trigger);
        let idx: Vec<(&str, Vec<&str>)> = t
            .indexes
            .iter()
            .map(|i| {
                (
                    i.name.as_str(),
                    i.columns.iter().map(Name::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            idx,
            [
                ("idx_patients_tenant_id", vec!["tenant_id"]),
                ("idx_patients_created_at", vec!["tenant_id", "created_at"])
            ]
        );
    }

    #[test]
    fn non_tenant_table_gets_no_tenant_column_policy_or_rls() {
        let (s, _) = norm(
            json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "tools", "tenant_scoped": false, "columns": [{"name": "name", "type": "text", "unique": true}]}]}),
        );
        let t = &s.tables[0];
        assert_eq!(
            col_names(t),
            ["id", "created_at", "updated_at", "deleted_at", "name"]
        );
        assert!(!t.rls);
        assert_eq!(t.indexes.len(), 1);
        assert_eq!(t.indexes[0].columns, [Name::from_catalog("created_at")]);
        assert_eq!(
            t.uniques[0].columns,
            [Name::from_catalog("name")],
            "global unique on a non-tenant table"
        );
    }

    #[test]
    fn explicit_primary_key_drops_id_and_options_turn_things_off() {
        let (s, _) = norm(json!({"schema_version": "1", "description": "d",
            "options": {"soft_delete": false, "timestamps": false, "tenant_type": "text", "tenant_column": "orgId"},
            "tables": [{"name": "pt", "primary_key": ["a", "b"], "columns": [
                {"name": "a", "type": "uuid"}, {"name": "b", "type": "uuid"}, {"name": "n", "type": "text", "unique": true}]}]}));
        let t = &s.tables[0];
        assert_eq!(col_names(t), ["org_id", "a", "b", "n"]);
        assert_eq!(
            t.primary_key.iter().map(Name::as_str).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(t.columns[0].type_text, "text");
        assert!(!t.touch_trigger);
        assert_eq!(t.indexes.len(), 1, "no created_at index without timestamps");
        assert_eq!(
            t.uniques[0]
                .columns
                .iter()
                .map(Name::as_str)
                .collect::<Vec<_>>(),
            ["org_id", "n"],
            "unique is per tenant on a tenant table"
        );
    }

    #[test]
    fn caller_definition_of_an_auto_column_wins_in_its_slot() {
        let (s, _) = norm(
            json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "t", "columns": [{"name": "x", "type": "int"}, {"name": "createdAt", "type": "timestamp"}]}]}),
        );
        let t = &s.tables[0];
        assert_eq!(
            col_names(t),
            [
                "id",
                "tenant_id",
                "created_at",
                "updated_at",
                "deleted_at",
                "x"
            ]
        );
        assert!(!t.columns[2].auto);
        assert_eq!(t.columns[2].type_text, "timestamp");
    }

    #[test]
    fn hash_ignores_key_order_casing_and_whitespace() {
        let a = json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "Patients", "columns": [{"name": "firstName", "type": "TEXT", "not_null": true}]}]});
        let b = json!({"tables": [{"columns": [{"not_null": true, "type": " text ", "name": "first_name"}], "name": "patients"}],
            "description": "other words", "schema_version": "1"});
        let c = json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "patients", "columns": [{"name": "first_name", "type": "text"}]}]});
        let (sa, _) = norm(a);
        let (sb, _) = norm(b);
        let (sc, _) = norm(c);
        assert_eq!(schema_hash(&sa), schema_hash(&sb));
        assert_ne!(schema_hash(&sa), schema_hash(&sc));
        assert_eq!(schema_hash(&sa).len(), 64);
    }

    proptest::proptest! {
        /// The shortcut for type texts already normalized changes no result.
        #[test]
        fn type_text_shortcut_agrees(t in "( {0,2}[a-zA-Z0-9(),\\[\\]\t\u{a0}\u{b}]{0,3}){0,4} ?") {
            let slow = t.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase();
            proptest::prop_assert_eq!(normalize_type_text(&t), slow);
        }
    }

    /// The hash of the fixtures' schemas is the sha256 of the canonical JSON of their
    /// serde_json::Value (what every ledger row's schema_hash was computed from).
    #[test]
    fn hash_of_the_fixtures_is_that_of_their_canonical_value() {
        for text in [
            include_str!("../../tests/fixtures/wf106-patients.json"),
            include_str!("../../tests/fixtures/erp-agent.json"),
            include_str!("../../tests/fixtures/smoke-test-002.json"),
        ] {
            let v: Value = serde_json::from_str(text).unwrap();
            let mut issues = vec![];
            let (_, payload) = crate::schema::spec::split_envelope(&v, &mut issues);
            let (s, _) = norm(payload.clone());
            let value = serde_json::to_value(&s).unwrap();
            let text = crate::schema::canonical::tests::reference(&value);
            assert_eq!(schema_hash(&s), sha256_hex(text.as_bytes()));
            assert_eq!(canonical_json(&value), text);
        }
    }

    #[test]
    fn evolution_keys_are_hashed_and_absent_ones_change_no_hash() {
        let base = json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "t", "columns": [{"name": "a", "type": "int"}]}]});
        let (s, _) = norm(base.clone());
        let text = serde_json::to_string(&s).unwrap();
        for k in [
            "renamed_from",
            "drop_columns",
            "drop_indexes",
            "drop_tables",
            "using",
        ] {
            assert!(
                !text.contains(k),
                "{k} in the hashed form of a schema without it"
            );
        }
        let h = schema_hash(&s);
        for (ptr, v) in [
            ("/tables/0/renamed_from", json!("old")),
            ("/tables/0/drop_columns", json!(["b"])),
            ("/tables/0/drop_indexes", json!(["i"])),
            ("/drop_tables", json!(["x"])),
            ("/tables/0/columns/0/renamed_from", json!("b")),
            ("/tables/0/columns/0/using", json!("a::int")),
        ] {
            let mut v2 = base.clone();
            let (parent, key) = ptr.rsplit_once('/').unwrap();
            let target = if parent.is_empty() {
                &mut v2
            } else {
                v2.pointer_mut(parent).unwrap()
            };
            target[key] = v;
            let (s2, issues) = norm(v2);
            assert!(issues.is_empty(), "{issues:?}");
            assert_ne!(schema_hash(&s2), h, "{ptr} changes what a version does");
        }
    }

    #[test]
    fn derived_names_before_a_rename_are_paired_with_the_new_ones() {
        let (s, issues) = norm(
            json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "persons", "renamed_from": "People", "unique": [["mail", "nick"]],
             "indexes": [{"columns": ["mail"]}, {"name": "my_idx", "columns": ["mail"]}],
             "columns": [{"name": "mail", "renamedFrom": "x", "renamed_from": "eMail", "type": "text", "check": "mail <> ''"},
                         {"name": "nick", "type": "text"},
                         {"name": "org_id", "renamed_from": "company_id", "type": "uuid", "references": "orgs"}]}]}),
        );
        assert_eq!(
            issues.iter().map(|i| i.path.as_str()).collect::<Vec<_>>(),
            ["tables[0].columns[0].renamedFrom"],
            "unknown keys are still errors"
        );
        let got: Vec<(DerivedKind, &str, &str)> = s.tables[0]
            .derived_renames
            .iter()
            .map(|r| (r.kind, r.from.as_str(), r.to.as_str()))
            .collect();
        use DerivedKind::*;
        assert_eq!(
            got,
            [
                (Constraint, "people_pkey", "persons_pkey"),
                (Constraint, "uq_people_e_mail_nick", "uq_persons_mail_nick"),
                (Constraint, "ck_people_e_mail", "ck_persons_mail"),
                (Constraint, "fk_people_company_id", "fk_persons_org_id"),
                (Index, "idx_people_tenant_id", "idx_persons_tenant_id"),
                (Index, "idx_people_created_at", "idx_persons_created_at"),
                (Index, "idx_people_e_mail", "idx_persons_mail"),
            ],
            "my_idx was named by the caller: not renamed"
        );
    }

    #[test]
    fn online_and_expected_plan_hash_are_not_part_of_the_schema_hash() {
        let base = json!({"schema_version": "1", "description": "d",
            "tables": [{"name": "t", "columns": [{"name": "a", "type": "text"}]}]});
        let (plain, issues) = norm(base.clone());
        assert!(issues.is_empty());
        let mut with = base.clone();
        with["options"] = json!({"online": true, "expected_plan_hash": "AB".repeat(32)});
        let (s, issues) = norm(with);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(s.options.online, Online::On);
        assert_eq!(
            s.options.expected_plan_hash.as_deref(),
            Some("ab".repeat(32).as_str())
        );
        assert_eq!(schema_hash(&s), schema_hash(&plain));
        let mut bad = base;
        bad["options"] = json!({"online": "yes", "expected_plan_hash": "abc"});
        let (_, issues) = norm(bad);
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            ["options.online", "options.expected_plan_hash"],
            "{issues:?}"
        );
    }

    #[test]
    fn bad_version_and_options_are_reported() {
        let (_, issues) = norm(
            json!({"schema_version": "1; drop", "description": "d", "tables": [],
            "options": {"tenant_type": "json", "lock_timeout_ms": -1}, "schema": "pg_temp"}),
        );
        let codes: Vec<(&str, &str)> = issues.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert!(
            codes.contains(&("schema_version", code::INVALID_VALUE)),
            "{codes:?}"
        );
        assert!(
            codes.contains(&("options.tenant_type", code::INVALID_VALUE)),
            "{codes:?}"
        );
        assert!(
            codes.contains(&("options.lock_timeout_ms", code::INVALID_VALUE)),
            "{codes:?}"
        );
        assert!(
            codes.contains(&("schema", code::RESERVED_NAME)),
            "{codes:?}"
        );
    }

    #[test]
    fn a_bad_table_name_still_reports_problems_inside_the_table() {
        let (s, issues) = norm(
            json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "x;y", "columns": [{"name": "a b;", "type": "text"}]}]}),
        );
        let got: Vec<(&str, &str)> = issues.iter().map(|i| (i.path.as_str(), i.code)).collect();
        assert_eq!(
            got,
            [
                ("tables[0].name", code::INVALID_NAME),
                ("tables[0].columns[0].name", code::INVALID_NAME)
            ]
        );
        assert_eq!(s.tables.len(), 1);
    }

    #[test]
    fn references_in_all_forms() {
        let (s, issues) = norm(
            json!({"schema_version": "1", "description": "d", "schema": "erp", "tables": [
            {"name": "a", "columns": [
                {"name": "p", "type": "uuid", "references": "people"},
                {"name": "q", "type": "uuid", "references": "agent.facts"},
                {"name": "r", "type": "uuid", "references": {"table": "x", "schema": "s", "column": "code", "on_delete": "set null"}},
                {"name": "z", "type": "uuid", "references": {"table": "x", "on_delete": "explode"}}]}]}),
        );
        let fk = &s.tables[0].foreign_keys;
        assert_eq!(fk.len(), 3);
        assert_eq!(
            (fk[0].target_schema.as_str(), fk[0].target_table.as_str()),
            ("erp", "people")
        );
        assert_eq!(
            (fk[1].target_schema.as_str(), fk[1].target_table.as_str()),
            ("agent", "facts")
        );
        assert_eq!(fk[2].target_column.as_str(), "code");
        assert_eq!(fk[2].on_delete, Some(FkAction::SetNull));
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, "tables[0].columns[3].references.on_delete");
    }
}
