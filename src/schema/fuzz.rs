//! Property tests of the pure pipeline (issue 5, item 7), with proptest.
//!
//! * Arbitrary JSON — random trees whose keys are drawn from revos's own vocabulary so that they
//!   reach deep into the reader — never panics any stage (spec, normalize, validate, plan, verify).
//! * For valid generated schemas (random names: camelCase, spaces, dashes, SQL keywords), every
//!   identifier in the generated SQL is double-quoted: with quoted identifiers and string literals
//!   removed, only a fixed set of SQL keywords, the catalog's type names and punctuation remain.
//!
//! CI runs the default case count. The long run (`PROPTEST_CASES=1000000 cargo test --lib fuzz`)
//! and its result are recorded in the README.

use proptest::prelude::*;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

use crate::schema::normalize::normalize;
use crate::schema::plan::plan;
use crate::schema::spec::{
    read_schema, split_envelope, CHECK_KEYS, COLUMN_KEYS, ENUM_KEYS, INDEX_KEYS, OPTION_KEYS,
    REFERENCE_KEYS, SCHEMA_KEYS, TABLE_KEYS,
};
use crate::schema::validate::tests::MemCatalog;
use crate::schema::validate::validate;
use crate::schema::verify::verify;

/// Every key of the schema language (from `spec`) and of the envelope.
fn keys() -> Vec<&'static str> {
    let mut k: Vec<&'static str> = ["payload", "meta", "subject", "context"].to_vec();
    for list in [
        SCHEMA_KEYS,
        OPTION_KEYS,
        ENUM_KEYS,
        TABLE_KEYS,
        CHECK_KEYS,
        COLUMN_KEYS,
        REFERENCE_KEYS,
        INDEX_KEYS,
    ] {
        for key in list {
            if !k.contains(key) {
                k.push(key);
            }
        }
    }
    k
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "text", "uuid", "int", "id", "t", "a;b", "1); drop", "x.y", "", "cascade", "gin"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(keys()).prop_map(str::to_string),
                    inner.clone()
                ),
                0..8
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
            prop::collection::vec((".{0,6}", inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Runs every pure stage; returns the SQL when the input was valid.
fn pipeline(input: &Value) -> Option<String> {
    let mut issues = vec![];
    let (_, payload) = split_envelope(input, &mut issues);
    let raw = read_schema(&payload, &mut issues);
    let mut schema = normalize(&raw, &mut issues);
    let _ = crate::schema::normalize::schema_hash(&schema);
    let cat = MemCatalog::default();
    let (more, mut state) = validate(&mut schema, &cat);
    issues.extend(more);
    let evolution = crate::schema::evolve::evolve(&schema, &mut state);
    issues.extend(evolution.issues.iter().cloned());
    // plan and verify must not panic even on a schema with issues once types are known
    if issues.is_empty() {
        let mut p = plan(&schema, &state);
        evolution.prepend_to(&mut p);
        let _ = verify(&schema, &HashMap::new(), &HashMap::new());
        return Some(p.script());
    }
    None
}

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_]{0,10}",
        "[A-Z][a-zA-Z0-9]{0,10}",
        "[a-z]{1,5}[ -][a-z]{1,5}",
        prop::sample::select(vec![
            "select", "Order", "user", "table", "from", "group", "Default", "check", "end"
        ])
        .prop_map(str::to_string),
    ]
}

const TYPES: &[&str] = &[
    "text",
    "uuid",
    "integer",
    "bigint",
    "boolean",
    "date",
    "jsonb",
    "numeric(8,2)",
    "timestamptz",
    "text[]",
];

/// A valid schema: 1-4 tables, unique names after normalization, references to earlier tables.
fn arb_valid_schema() -> impl Strategy<Value = Value> {
    let table = (
        ident(),
        prop::collection::vec(
            (
                ident(),
                prop::sample::select(TYPES.to_vec()),
                any::<bool>(),
                any::<bool>(),
            ),
            0..5,
        ),
        any::<bool>(),
        prop::option::of(".{0,20}"),
    );
    (prop::collection::vec(table, 1..5), prop::option::of(ident())).prop_map(|(tables, schema)| {
        let mut seen_tables = std::collections::HashSet::new();
        let mut out: Vec<Value> = vec![];
        for (i, (name, cols, tenant, comment)) in tables.into_iter().enumerate() {
            let tname = crate::ident::snake_case(&name);
            if !seen_tables.insert(tname.clone()) {
                continue;
            }
            let mut seen_cols: std::collections::HashSet<String> =
                ["id", "tenant_id", "created_at", "updated_at", "deleted_at"].iter().map(|s| s.to_string()).collect();
            let mut columns = vec![];
            for (cname, ty, not_null, unique) in cols {
                if !seen_cols.insert(crate::ident::snake_case(&cname)) {
                    continue;
                }
                columns.push(json!({"name": cname, "type": ty, "not_null": not_null, "unique": unique && ty != "jsonb"}));
            }
            if let Some(prev) = out.last() {
                if seen_cols.insert(format!("ref_{i}")) {
                    columns.push(json!({"name": format!("ref_{i}"), "type": "uuid", "references": prev["name"].clone()}));
                }
            }
            let idx: Vec<Value> = columns.iter().take(1).map(|c| json!({"columns": [c["name"].clone()]})).collect();
            out.push(json!({"name": name, "tenant_scoped": tenant, "columns": columns, "indexes": idx, "comment": comment}));
        }
        let mut s = json!({"schema_version": "1", "description": "fuzz", "tables": out,
                           "enums": [{"name": "Mood it", "values": ["a'b", "c\"d", "e;f"]}]});
        if let Some(sc) = schema {
            s["schema"] = json!(format!("s_{sc}")); // never pg_*, which is reserved
        }
        s
    })
}

/// The SQL without its double-quoted identifiers and single-quoted literals.
fn strip_quoted(sql: &str) -> String {
    let mut out = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' || c == '\'' {
            loop {
                match chars.next() {
                    None => break,
                    Some(x) if x == c => {
                        if chars.peek() == Some(&c) {
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    Some(_) => {}
                }
            }
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

const SQL_WORDS: &[&str] = &[
    "CREATE",
    "SCHEMA",
    "IF",
    "NOT",
    "EXISTS",
    "TABLE",
    "NULL",
    "DEFAULT",
    "gen_random_uuid",
    "OPERATOR",
    "pg_catalog",
    "revos",
    "current_tenant_id",
    "touch_updated_at",
    "uuid",
    "now",
    "timestamp",
    "with",
    "time",
    "zone",
    "CONSTRAINT",
    "PRIMARY",
    "KEY",
    "UNIQUE",
    "INDEX",
    "ON",
    "USING",
    "btree",
    "TRIGGER",
    "BEFORE",
    "UPDATE",
    "FOR",
    "EACH",
    "ROW",
    "EXECUTE",
    "FUNCTION",
    "ALTER",
    "ENABLE",
    "LEVEL",
    "SECURITY",
    "FORCE",
    "POLICY",
    "AS",
    "PERMISSIVE",
    "ALL",
    "TO",
    "PUBLIC",
    "WITH",
    "CHECK",
    "SELECT",
    "ADD",
    "FOREIGN",
    "REFERENCES",
    "COMMENT",
    "IS",
    "COLUMN",
    "TYPE",
    "ENUM",
    "text",
    "integer",
    "bigint",
    "boolean",
    "date",
    "jsonb",
    "numeric",
    "8",
    "2",
    // evolution
    "RENAME",
    "DROP",
];

/// The catalog as it would be after `schema` applied (names, types, indexes, keys), so that a
/// second version can evolve it.
fn catalog_after(schema: &crate::schema::model::Schema) -> MemCatalog {
    use crate::schema::model::*;
    let mut cat = MemCatalog::default();
    for t in &schema.tables {
        let mut constraints = vec![];
        let mut indexes: Vec<IndexSnapshot> = t
            .indexes
            .iter()
            .map(|x| IndexSnapshot {
                name: x.name.as_str().into(),
                columns: x.columns.iter().map(|c| c.as_str().into()).collect(),
                method: x.method.sql().into(),
                ..Default::default()
            })
            .collect();
        for (name, kind, cols) in std::iter::once((t.pk_name(), 'p', &t.primary_key))
            .chain(t.uniques.iter().map(|u| (u.name.clone(), 'u', &u.columns)))
        {
            let cols: Vec<String> = cols.iter().map(|c| c.as_str().to_string()).collect();
            indexes.push(IndexSnapshot {
                name: name.as_str().into(),
                unique: true,
                columns: cols.clone(),
                ..Default::default()
            });
            constraints.push(ConstraintSnapshot {
                name: name.as_str().into(),
                kind,
                columns: cols,
                ..Default::default()
            });
        }
        let snap = TableSnapshot {
            columns: t
                .columns
                .iter()
                .map(|c| ColumnSnapshot {
                    name: c.name.as_str().into(),
                    sql_type: c.sql_type.clone().unwrap_or_default(),
                    not_null: c.not_null,
                    has_default: c.default.is_some(),
                    ..Default::default()
                })
                .collect(),
            indexes,
            constraints,
            est_rows: Some(3),
            ..Default::default()
        };
        cat.tables
            .insert(t.key(), crate::schema::catalog::testing::as_applied(snap));
    }
    cat
}

/// Version 2 of a generated schema: every table renamed, its first column renamed, its caller
/// index dropped, a table that does not exist dropped.
fn evolved(v1: &Value) -> Value {
    let mut v2 = v1.clone();
    v2["schema_version"] = json!("2");
    v2["drop_tables"] = json!(["no such table"]);
    for t in v2["tables"].as_array_mut().unwrap() {
        let old = t["name"].as_str().unwrap().to_string();
        t["renamed_from"] = json!(old);
        t["name"] = json!(format!("{old} v2"));
        if let Some(c) = t["columns"].as_array_mut().unwrap().first_mut() {
            let old = c["name"].as_str().unwrap().to_string();
            c["renamed_from"] = json!(old);
            c["name"] = json!(format!("{old} v2"));
        }
        t["indexes"] = json!([]);
    }
    v2
}

proptest! {
    #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_stage_panics_on_arbitrary_json(v in arb_json()) {
        let _ = pipeline(&v);
        let _ = pipeline(&json!({"payload": v.clone()}));
        let _ = pipeline(&json!({"schema_version": "1", "description": "d", "tables": [v]}));
    }

    #[test]
    fn every_identifier_in_evolution_sql_is_quoted(s in arb_valid_schema()) {
        let mut issues = vec![];
        let raw = read_schema(&s, &mut issues);
        let mut v1 = normalize(&raw, &mut issues);
        let (more, _) = validate(&mut v1, &MemCatalog::default());
        prop_assert!(issues.is_empty() && more.is_empty(), "{issues:?} {more:?}");
        let cat = catalog_after(&v1);
        let v2 = evolved(&s);
        let raw = read_schema(&v2, &mut issues);
        let mut schema = normalize(&raw, &mut issues);
        let (more, mut state) = validate(&mut schema, &cat);
        issues.extend(more);
        let e = crate::schema::evolve::evolve(&schema, &mut state);
        issues.extend(e.issues.iter().cloned());
        prop_assert!(issues.is_empty(), "{issues:?}");
        let renames = e.steps.iter().filter(|st| st.kind == "rename_table").count();
        prop_assert_eq!(renames, schema.tables.len());
        let mut p = plan(&schema, &state);
        e.prepend_to(&mut p);
        let sql = p.script();
        prop_assert!(!sql.contains("CREATE TABLE"), "a renamed table is not created again:\n{sql}");
        let bare = strip_quoted(&sql);
        for word in bare.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()) {
            prop_assert!(SQL_WORDS.contains(&word), "unquoted word {word:?} in\n{sql}");
        }
    }

    /// schema_hash is written straight from the Schema's serialization (canonical::of): the
    /// same bytes as the canonical JSON of its serde_json::Value, for valid and invalid payloads.
    #[test]
    fn the_schema_hash_text_is_the_canonical_json_of_its_value(s in arb_valid_schema(), junk in arb_json()) {
        for input in [s.clone(), junk, json!({"schema_version": "1", "description": "d", "tables": [s]})] {
            let mut issues = vec![];
            let (_, payload) = split_envelope(&input, &mut issues);
            let schema = normalize(&read_schema(&payload, &mut issues), &mut issues);
            let want = crate::schema::canonical::tests::reference(&serde_json::to_value(&schema).unwrap());
            prop_assert_eq!(crate::schema::canonical::of(&schema).unwrap(), want);
        }
    }

    #[test]
    fn every_identifier_in_valid_sql_is_quoted(s in arb_valid_schema()) {
        let sql = pipeline(&s);
        prop_assert!(sql.is_some(), "generated schema was not valid: {s}");
        let sql = sql.unwrap();
        let bare = strip_quoted(&sql);
        for word in bare.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| !w.is_empty()) {
            prop_assert!(SQL_WORDS.contains(&word), "unquoted word {word:?} in\n{sql}");
        }
    }
}
