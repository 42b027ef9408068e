//! Stage 2 — `normalize`: names to snake_case, revos's own columns and indexes added, every
//! constraint given a name, and the canonical schema hash.
//!
//! Pure: no catalog access. Problems found here (bad names, bad option values) are collected as
//! issues; the schema is still built as far as possible so that `validate` can report more.

use serde_json::Value;

use crate::error::{code, Issue};
use crate::ident::{sha256_hex, Name};
use crate::model::*;
use crate::spec::{RawColumn, RawOptions, RawSchema, RawTable};

/// Schemas revos will not create tables or types in.
const RESERVED_SCHEMAS: &[&str] = &["revos", "pg_catalog", "information_schema", "pg_toast"];

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
            let name = Name::normalize(&e.name, &format!("{}.name", e.path))
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

    Schema {
        version,
        description: raw.description.clone().unwrap_or_default(),
        force_apply: raw.force_apply,
        options,
        enums,
        tables,
    }
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
            Name::normalize(t, &format!("{path}.tenant_column"))
                .map_err(|i| issues.push(i))
                .ok()
        })
        .unwrap_or_else(|| Name::from_catalog("tenant_id"));
    let tenant_type = match o
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
    };
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
    Options {
        tenant_column,
        tenant_type,
        soft_delete: o.soft_delete.unwrap_or(true),
        timestamps: o.timestamps.unwrap_or(true),
        rls: o.rls.unwrap_or(true),
        force_rls: o.force_rls.unwrap_or(true),
        default_indexes: o.default_indexes.unwrap_or(true),
        lock_timeout_ms,
        allow_destructive: o.allow_destructive.unwrap_or(false),
        backfill_tenant: o.backfill_tenant.clone(),
    }
}

/// Collapses whitespace and lower-cases a type as written, for hashing and enum matching.
pub fn normalize_type_text(t: &str) -> String {
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
        comment: None,
        auto: true,
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
            Name::normalize(c, &format!("{path}[{i}]"))
                .map_err(|e| issues.push(e))
                .ok()
        })
        .collect()
}

fn join(names: &[Name]) -> String {
    names.iter().map(Name::as_str).collect::<Vec<_>>().join("_")
}

fn normalize_table(
    t: &RawTable,
    default_schema: &Name,
    o: &Options,
    issues: &mut Vec<Issue>,
) -> Table {
    // A bad table or schema name is reported, and the table is still normalized under a stand-in
    // name so that the problems inside it are reported too (the payload is blocked either way).
    let stand_in = || {
        Name::derived(&format!(
            "_invalid_{}",
            t.path.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        ))
    };
    let name = Name::normalize(&t.name, &format!("{}.name", t.path)).unwrap_or_else(|i| {
        issues.push(i);
        stand_in()
    });
    let schema = match &t.schema {
        Some(s) => schema_name(Some(s), &format!("{}.schema", t.path), issues)
            .unwrap_or_else(|| default_schema.clone()),
        None => default_schema.clone(),
    };
    let tn = name.as_str().to_string();
    let tenant_scoped = t.tenant_scoped.unwrap_or(true);
    let soft_delete = t.soft_delete.unwrap_or(o.soft_delete);
    let timestamps = t.timestamps.unwrap_or(o.timestamps);
    // RLS without a tenant policy would hide every row from everyone; non-tenant tables get none.
    let rls = tenant_scoped && t.rls.unwrap_or(o.rls);

    // Caller columns first (normalized), so auto columns can defer to them.
    let mut caller: Vec<(Column, &RawColumn)> = vec![];
    for c in &t.columns {
        let Ok(cname) =
            Name::normalize(&c.name, &format!("{}.name", c.path)).map_err(|i| issues.push(i))
        else {
            continue;
        };
        caller.push((
            Column {
                path: c.path.clone(),
                name: cname,
                type_text: normalize_type_text(&c.type_),
                sql_type: None,
                not_null: c.not_null || c.primary_key,
                default: c.default.as_deref().map(|d| d.trim().to_string()),
                generated: c.generated.as_deref().map(|g| g.trim().to_string()),
                comment: c.comment.clone(),
                auto: false,
            },
            c,
        ));
    }

    // Primary key: table-level list, else column flags, else the auto `id`.
    let mut pk: Vec<Name> = match &t.primary_key {
        Some(list) => names(list, &format!("{}.primary_key", t.path), issues),
        None => caller
            .iter()
            .filter(|(_, r)| r.primary_key)
            .map(|(c, _)| c.name.clone())
            .collect(),
    };
    if t.primary_key.is_some() && caller.iter().any(|(_, r)| r.primary_key) {
        issues.push(Issue::new(
            format!("{}.primary_key", t.path),
            code::CONFLICTING_DEFINITION,
            "give the primary key either as a table-level list or as column flags, not both",
        ));
    }
    let explicit_pk = !pk.is_empty();
    let tcol = o.tenant_column.as_str();

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
            pk = vec![Name::from_catalog("id")];
        }
        take_or_auto(
            "id",
            auto_column("id", "uuid", true, Some("gen_random_uuid()".into())),
            &mut columns,
        );
    }
    if tenant_scoped {
        let default = format!("(revos.current_tenant_id())::{}", o.tenant_type.sql());
        take_or_auto(
            tcol,
            auto_column(tcol, o.tenant_type.sql(), true, Some(default)),
            &mut columns,
        );
    }
    if timestamps {
        take_or_auto(
            "created_at",
            auto_column("created_at", "timestamptz", true, Some("now()".into())),
            &mut columns,
        );
        take_or_auto(
            "updated_at",
            auto_column("updated_at", "timestamptz", true, Some("now()".into())),
            &mut columns,
        );
    }
    if soft_delete {
        take_or_auto(
            "deleted_at",
            auto_column("deleted_at", "timestamptz", false, None),
            &mut columns,
        );
    }
    let caller_rest: Vec<(Column, &RawColumn)> = std::mem::take(&mut caller);
    let raw_by_name = |n: &Name| {
        t.columns
            .iter()
            .find(|c| Name::normalize(&c.name, "").ok().as_ref() == Some(n))
    };
    for (c, _) in &caller_rest {
        columns.push(c.clone());
    }

    // Constraints that columns declare.
    let tenant_prefix = |cols: Vec<Name>| -> Vec<Name> {
        if tenant_scoped && !cols.iter().any(|c| c.as_str() == tcol) {
            let mut v = vec![Name::from_catalog(tcol)];
            v.extend(cols);
            v
        } else {
            cols
        }
    };
    let mut uniques = vec![];
    let mut checks = vec![];
    let mut fks = vec![];
    for col in &columns {
        let Some(rc) = raw_by_name(&col.name) else {
            continue;
        };
        if col.auto {
            continue;
        }
        if rc.unique {
            let cols = tenant_prefix(vec![col.name.clone()]);
            uniques.push(Unique {
                path: format!("{}.unique", rc.path),
                name: Name::derived(&format!("uq_{tn}_{}", col.name.as_str())),
                columns: cols,
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
            if let Some(fk) = normalize_reference(r, &tn, &col.name, &schema, issues) {
                fks.push(fk);
            }
        }
    }
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
            name: Name::derived(&format!("uq_{tn}_{}", join(&cols))),
            columns: tenant_prefix(cols),
        });
    }
    for (i, c) in t.checks.iter().enumerate() {
        let name = match &c.name {
            Some(n) => match Name::normalize(n, &format!("{}.name", c.path)) {
                Ok(n) => n,
                Err(e) => {
                    issues.push(e);
                    continue;
                }
            },
            None => Name::derived(&format!("ck_{tn}_{}", i + 1)),
        };
        checks.push(Check {
            path: format!("{}.expression", c.path),
            name,
            expression: c.expression.trim().to_string(),
        });
    }

    // Indexes: revos's defaults, then the caller's.
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
        };
        if tenant_scoped {
            indexes.push(auto_idx(&[tcol], format!("idx_{tn}_{tcol}")));
        }
        if columns.iter().any(|c| c.name.as_str() == "created_at") {
            if tenant_scoped {
                indexes.push(auto_idx(
                    &[tcol, "created_at"],
                    format!("idx_{tn}_created_at"),
                ));
            } else {
                indexes.push(auto_idx(&["created_at"], format!("idx_{tn}_created_at")));
            }
        }
    }
    for x in &t.indexes {
        let cols = names(&x.columns, &format!("{}.columns", x.path), issues);
        if x.columns.is_empty() {
            issues.push(Issue::new(
                format!("{}.columns", x.path),
                code::INVALID_VALUE,
                "an index needs at least one column",
            ));
            continue;
        }
        let method = match x.method.as_deref() {
            None => IndexMethod::Btree,
            Some(m) => match IndexMethod::parse(m) {
                Some(m) => m,
                None => {
                    issues.push(Issue::new(
                        format!("{}.method", x.path),
                        code::INVALID_VALUE,
                        format!("index method {m:?} must be one of btree, hash, gin, gist, brin"),
                    ));
                    continue;
                }
            },
        };
        let name = match &x.name {
            Some(n) => match Name::normalize(n, &format!("{}.name", x.path)) {
                Ok(n) => n,
                Err(e) => {
                    issues.push(e);
                    continue;
                }
            },
            // The method is part of a generated name unless it is btree, so that an unnamed gin or
            // brin index never takes the name of revos's own btree index on the same columns.
            None => Name::derived(&format!(
                "{}_{tn}_{}{}",
                if x.unique { "uq" } else { "idx" },
                join(&cols),
                if method == IndexMethod::Btree {
                    String::new()
                } else {
                    format!("_{}", method.sql())
                }
            )),
        };
        indexes.push(Index {
            path: x.path.clone(),
            name,
            columns: cols,
            unique: x.unique,
            method,
            where_: x.where_.as_deref().map(|w| w.trim().to_string()),
            include: names(&x.include, &format!("{}.include", x.path), issues),
            auto: false,
        });
    }

    let touch_trigger = timestamps && columns.iter().any(|c| c.name.as_str() == "updated_at");
    Table {
        path: t.path.clone(),
        schema,
        name,
        tenant_scoped,
        rls,
        force_rls: rls && o.force_rls,
        columns,
        primary_key: pk,
        primary_key_path: format!("{}.primary_key", t.path),
        uniques,
        checks,
        foreign_keys: fks,
        indexes,
        comment: t.comment.clone(),
        touch_trigger,
    }
}

fn normalize_reference(
    r: &crate::spec::RawReference,
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
    let target_table = Name::normalize(table_text, &format!("{}.table", r.path))
        .map_err(|i| issues.push(i))
        .ok()?;
    let target_schema = match schema_text {
        Some(s) => Name::normalize(s, &format!("{}.schema", r.path))
            .map_err(|i| issues.push(i))
            .ok()?,
        None => own_schema.clone(),
    };
    let target_column = match &r.column {
        Some(c) => Name::normalize(c, &format!("{}.column", r.path))
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
pub fn schema_hash(s: &Schema) -> String {
    let v = serde_json::to_value(s).expect("schema serializes");
    sha256_hex(canonical_json(&v).as_bytes())
}

/// JSON with object keys sorted at every level and no insignificant whitespace.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&m[*k], out);
            }
            out.push('}');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::read_schema;
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
