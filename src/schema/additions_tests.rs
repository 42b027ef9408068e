//! Unit tests of `additions` (issue 25, "clashes with revos's additions"): what normalize, validate
//! and plan make of a column named like one of revos's and of `unique_scope`. A file of its own:
//! they call normalize, validate and plan, which call `additions` (no import cycle).

use crate::error::{code, Issue};
use crate::ident::Name;
use crate::schema::additions::as_hashed;
use crate::schema::model::*;
use crate::schema::normalize::{normalize, schema_hash};
use crate::schema::plan::plan;
use crate::schema::spec::read_schema;
use crate::schema::validate::tests::{run, MemCatalog};
use serde_json::{json, Value};

fn norm(v: Value) -> (Schema, Vec<Issue>) {
    let mut issues = vec![];
    let raw = read_schema(&v, &mut issues);
    let s = normalize(&raw, &mut issues);
    (s, issues)
}

fn one(cols: Value) -> Value {
    json!({"schema_version": "1", "description": "d", "tables": [{"name": "t", "columns": cols}]})
}

fn paths(issues: &[Issue]) -> Vec<(&str, &str)> {
    issues.iter().map(|i| (i.path.as_str(), i.code)).collect()
}

fn golden_payloads() -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!({"schema_version": "1", "description": "d", "tables": [{"name": "t",
            "columns": [{"name": "email", "type": "text", "unique": true}, {"name": "a", "type": "int"},
                        {"name": "b", "type": "int"}, {"name": "code", "type": "text"}],
            "unique": [["a", "b"]],
            "indexes": [{"columns": ["code"], "unique": true}, {"columns": ["a"]},
                        {"name": "uq_lower", "columns": [{"expression": "lower(code)"}], "unique": true}]}]}),
        json!({"schema_version": "1", "description": "d", "tables": [{"name": "t",
            "columns": [{"name": "tenant_id", "type": "uuid"}, {"name": "x", "type": "text"}]}]}),
        json!({"schema_version": "1", "description": "d", "options": {"tenant_column": "account_id"},
            "tables": [{"name": "t", "columns": [{"name": "account_id", "type": "uuid", "not_null": true},
                                                 {"name": "x", "type": "text", "unique": true}]}]}),
        json!({"schema_version": "1", "description": "d", "tables": [{"name": "t",
            "columns": [{"name": "created_at", "type": "timestamptz"}, {"name": "updated_at", "type": "timestamp"}]}]}),
        json!({"schema_version": "1", "description": "d", "tables": [{"name": "s", "tenant_scoped": false,
            "columns": [{"name": "code", "type": "text", "unique": true}], "unique": [["code", "id"]],
            "indexes": [{"columns": ["code"], "unique": true}]}]}),
    ]
}

/// Payloads that do not say `unique_scope`, declare a tenant column without a default or
/// timestamps of their own keep the hashes they had before issue 25's changes (computed by
/// main at c1feaa9): a version applied then re-applies as noop.
#[test]
fn hashes_of_payloads_that_do_not_say_are_those_of_before() {
    let before = [
        "d4b2b0d3b775ae77f8106b7191bc0e1eecee3ad95e1cff38be29621dbc1b84c6",
        "1171f590b74a7f0b1f7f89aef4293e206fd6eacb56294708385ea152c6590dc1",
        "1ecf6fb7735dd4c92679f023ab7d8e1e63e79285e347f023f688f9440f61a094",
        "6218b3b27092e2c43bb779d304411c9cdc2f40865a00d3da3f653d189665806e",
        "3705193d943e5bbacda9c8e71bc94657d770cc3ebbea16cf0f9f0b4be7192265",
    ];
    for (v, want) in golden_payloads().into_iter().zip(before) {
        let (s, issues) = norm(v.clone());
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(schema_hash(&s), want, "{v}");
    }
}

/// basejump's `account_id`: declared by the application, without a default. It keeps revos's
/// default and NOT NULL (on main it had neither: inserts without it failed the tenant policy).
#[test]
fn an_app_declared_tenant_column_keeps_revos_default_and_not_null() {
    let (s, issues) = norm(json!({"schema_version": "1", "description": "d",
        "options": {"tenant_column": "account_id"},
        "tables": [{"name": "t", "columns": [{"name": "account_id", "type": "uuid"}]}]}));
    assert!(issues.is_empty(), "{issues:?}");
    let t = &s.tables[0];
    let c = t.column(&Name::from_catalog("account_id")).unwrap();
    assert!(!c.auto);
    assert_eq!(
        c.default.as_deref(),
        Some("(revos.current_tenant_id())::uuid")
    );
    assert!(c.not_null);
    assert!(
        t.notes
            .iter()
            .any(|n| n.starts_with("tables[0].columns[0]: account_id is the tenant column")),
        "{:?}",
        t.notes
    );
    // hashed as written: what `as_hashed` gives back is the caller's column
    let h = as_hashed(&s);
    let hc = h.tables[0]
        .column(&Name::from_catalog("account_id"))
        .unwrap();
    assert_eq!((hc.not_null, hc.default.as_deref()), (false, None));
}

#[test]
fn a_tenant_column_with_its_own_default_is_as_written() {
    let (s, _) = norm(one(json!([
        {"name": "tenant_id", "type": "uuid", "default": "'11111111-1111-1111-1111-111111111111'"}])));
    let c = &s.tables[0].columns[1];
    assert_eq!(c.name.as_str(), "tenant_id");
    assert_eq!(
        c.default.as_deref(),
        Some("'11111111-1111-1111-1111-111111111111'")
    );
    assert!(!c.not_null && c.as_written.is_none());
    assert!(s.tables[0].notes.is_empty(), "{:?}", s.tables[0].notes);
    // on a shared table a column named like the tenant column is an ordinary column
    let (s, _) = norm(
        json!({"schema_version": "1", "description": "d", "tables": [
        {"name": "t", "tenant_scoped": false, "columns": [{"name": "tenant_id", "type": "uuid"}]}]}),
    );
    let c = s.tables[0]
        .column(&Name::from_catalog("tenant_id"))
        .unwrap();
    assert!(c.default.is_none() && !c.not_null);
}

/// The tenant policy compares the column with `current_tenant_id()::<tenant_type>`: another
/// type is refused with its path (on main it reached CREATE POLICY and failed there).
#[test]
fn a_tenant_column_of_another_type_is_refused_with_its_path() {
    let cat = MemCatalog::default();
    let (_, _, issues) = run(one(json!([{"name": "tenant_id", "type": "text"}])), &cat);
    assert_eq!(
        paths(&issues),
        [("tables[0].columns[0].type", code::CONFLICTING_DEFINITION)],
        "{issues:?}"
    );
    assert!(
        issues[0].message.contains("tenant type uuid"),
        "{}",
        issues[0].message
    );
    let (_, _, issues) = run(
        json!({"schema_version": "1", "description": "d", "options": {"tenant_type": "text"},
               "tables": [{"name": "t", "columns": [{"name": "tenant_id", "type": "text"}]}]}),
        &cat,
    );
    assert!(issues.is_empty(), "{issues:?}");
}

/// A table applied by the old rule (the app's tenant column without a default): the next
/// version's plan adds revos's default, one SET DEFAULT step, and nothing fails.
#[test]
fn a_table_applied_by_the_old_rule_gets_the_default_in_the_next_plan() {
    use crate::schema::model::{ColumnSnapshot, ConstraintSnapshot, TableSnapshot};
    let mut cat = MemCatalog::default();
    let col = |n: &str, t: &str, nn: bool, d: bool| ColumnSnapshot {
        name: n.into(),
        sql_type: t.into(),
        not_null: nn,
        has_default: d,
        ..Default::default()
    };
    let ts = "timestamp with time zone";
    cat.tables.insert(
        ("public".into(), "t".into()),
        crate::schema::catalog::testing::as_applied(TableSnapshot {
            columns: vec![
                col("id", "uuid", true, true),
                col("account_id", "uuid", true, false),
                col("created_at", ts, true, true),
                col("updated_at", ts, true, true),
                col("deleted_at", ts, false, false),
            ],
            constraints: vec![ConstraintSnapshot {
                name: "t_pkey".into(),
                kind: 'p',
                columns: vec!["id".into()],
                ..Default::default()
            }],
            rls_enabled: true,
            rls_forced: true,
            triggers: vec!["revos_touch_updated_at".into()],
            has_rows: true,
            ..Default::default()
        }),
    );
    let (s, st, issues) = run(
        json!({"schema_version": "2", "description": "d",
               "options": {"tenant_column": "account_id", "default_indexes": false},
               "tables": [{"name": "t", "columns": [{"name": "account_id", "type": "uuid", "not_null": true}]}]}),
        &cat,
    );
    assert!(issues.is_empty(), "{issues:?}");
    let p = plan(&s, &st);
    let alters: Vec<&str> = p
        .steps
        .iter()
        .map(|x| x.sql.as_str())
        .filter(|q| q.starts_with("ALTER TABLE") && q.contains("\"account_id\""))
        .collect();
    assert_eq!(
        alters,
        [
            r#"ALTER TABLE "public"."t" ALTER COLUMN "account_id" SET DEFAULT ((revos.current_tenant_id())::uuid)"#
        ],
        "{}",
        p.script()
    );
    assert!(p.risks.is_empty(), "{:?}", p.risks);
}

/// A declared created_at / updated_at unlike revos's is kept as written, with a warning that
/// names it and what revos would have made; for updated_at, that the trigger still sets it.
#[test]
fn declared_timestamps_are_kept_with_a_warning() {
    let (s, _) = norm(one(json!([{"name": "created_at", "type": "timestamptz"}])));
    let t = &s.tables[0];
    let c = t.column(&Name::from_catalog("created_at")).unwrap();
    assert!(!c.not_null && c.default.is_none(), "kept as written");
    assert_eq!(t.notes.len(), 1, "{:?}", t.notes);
    let n = &t.notes[0];
    assert!(
        n.starts_with(
            "tables[0].columns[0]: created_at is kept as declared (nullable, no default)"
        ),
        "{n}"
    );
    assert!(
        n.contains("timestamptz NOT NULL DEFAULT now()") && n.contains("stores NULL"),
        "{n}"
    );

    let (s, _) = norm(one(
        json!([{"name": "updated_at", "type": "timestamp", "not_null": true, "default": "now()"}]),
    ));
    let t = &s.tables[0];
    assert!(t.touch_trigger, "revos's trigger still keeps it current");
    assert_eq!(t.notes.len(), 1, "{:?}", t.notes);
    let n = &t.notes[0];
    assert!(
        n.contains("updated_at is kept as declared (type timestamp)"),
        "{n}"
    );
    assert!(n.contains("revos_touch_updated_at still sets it"), "{n}");

    // the same as revos's (any spelling of timestamptz), or timestamps off: nothing to say
    let (s, _) = norm(one(json!([
        {"name": "created_at", "type": "timestamp with time zone", "not_null": true, "default": "now()"}])));
    assert!(s.tables[0].notes.is_empty(), "{:?}", s.tables[0].notes);
    let (s, _) = norm(
        json!({"schema_version": "1", "description": "d", "tables": [
        {"name": "t", "timestamps": false, "columns": [{"name": "created_at", "type": "date"}]}]}),
    );
    assert!(s.tables[0].notes.is_empty(), "{:?}", s.tables[0].notes);
}

fn key_columns(s: &Schema) -> (Vec<Vec<&str>>, Vec<Vec<&str>>) {
    let t = &s.tables[0];
    fn names(v: &[Name]) -> Vec<&str> {
        v.iter().map(Name::as_str).collect()
    }
    (
        t.uniques.iter().map(|u| names(&u.columns)).collect(),
        t.indexes
            .iter()
            .filter(|x| !x.auto)
            .map(|x| names(&x.columns))
            .collect(),
    )
}

/// The same explicit choice for the column, table and index forms (on main `unique_scope`
/// was an unknown key, and the forms disagreed silently).
#[test]
fn unique_scope_is_the_same_choice_for_every_form() {
    let table = |scope: Value, opt: Value| {
        json!({"schema_version": "1", "description": "d", "options": opt, "tables": [{"name": "t",
            "columns": [{"name": "email", "type": "text", "unique": true, "unique_scope": scope}],
            "unique": [{"columns": ["email", "id"], "unique_scope": scope}],
            "indexes": [{"columns": ["email"], "unique": true, "unique_scope": scope}]}]})
    };
    let (s, issues) = norm(table(json!("tenant"), json!({})));
    assert!(issues.is_empty(), "{issues:?}");
    let tenant = vec!["tenant_id", "email"];
    assert_eq!(
        key_columns(&s),
        (
            vec![tenant.clone(), vec!["tenant_id", "email", "id"]],
            vec![tenant.clone()]
        )
    );
    assert!(
        s.tables[0].notes.is_empty(),
        "said: no warning {:?}",
        s.tables[0].notes
    );
    let (s, issues) = norm(table(json!("global"), json!({})));
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(
        key_columns(&s),
        (
            vec![vec!["email"], vec!["email", "id"]],
            vec![vec!["email"]]
        )
    );
    // options.unique_scope for every form that does not say
    let (s, issues) = norm(table(Value::Null, json!({"unique_scope": "tenant"})));
    assert!(issues.is_empty(), "{issues:?}");
    assert_eq!(key_columns(&s).1, vec![tenant.clone()]);
    assert!(s.tables[0].notes.is_empty(), "{:?}", s.tables[0].notes);
    let (s, _) = norm(table(Value::Null, json!({"unique_scope": "global"})));
    assert_eq!(key_columns(&s).0[0], vec!["email"]);
    // an index whose keys are objects gets the tenant column as its first key
    let (s, issues) = norm(
        json!({"schema_version": "1", "description": "d", "tables": [{"name": "t",
        "columns": [{"name": "code", "type": "text"}],
        "indexes": [{"name": "uq_lower", "columns": [{"expression": "lower(code)"}], "unique": true, "unique_scope": "tenant"}]}]}),
    );
    assert!(issues.is_empty(), "{issues:?}");
    let x = s.tables[0].indexes.iter().find(|x| !x.auto).unwrap();
    assert_eq!(x.key_names(), ["tenant_id", ""]);
}

/// A unique form of a tenant table that does not say its scope: a warning naming its path
/// and the scope chosen (the defaults of before). A shared table gets none.
#[test]
fn a_unique_form_that_does_not_say_is_warned_about() {
    let (s, _) = norm(golden_payloads()[0].clone());
    let notes = &s.tables[0].notes;
    let at: Vec<&str> = notes
        .iter()
        .map(|n| n.split(": ").next().unwrap())
        .collect();
    assert_eq!(
        at,
        [
            "tables[0].columns[0].unique",
            "tables[0].unique[0]",
            "tables[0].indexes[0].unique",
            "tables[0].indexes[2].unique"
        ],
        "{notes:?}"
    );
    assert!(
        notes[0].contains("unique per tenant (tenant_id, email), unique_scope \"tenant\""),
        "{}",
        notes[0]
    );
    assert!(
        notes[2].contains("unique across all tenants (code), unique_scope \"global\""),
        "{}",
        notes[2]
    );
    let (s, _) = norm(golden_payloads()[4].clone());
    assert!(s.tables[0].notes.is_empty(), "{:?}", s.tables[0].notes);
}

/// Bad values, each alone, with their paths.
#[test]
fn bad_unique_scopes_are_reported_with_their_paths() {
    let cases = [
        (
            json!({"options": {"unique_scope": "tenants"}}),
            "options.unique_scope",
            code::INVALID_VALUE,
        ),
        (
            json!({"columns": [{"name": "a", "type": "int", "unique": true, "unique_scope": "all"}]}),
            "tables[0].columns[0].unique_scope",
            code::INVALID_VALUE,
        ),
        (
            json!({"columns": [{"name": "a", "type": "int", "unique_scope": "global"}]}),
            "tables[0].columns[0].unique_scope",
            code::CONFLICTING_DEFINITION,
        ),
        (
            json!({"indexes": [{"columns": ["a"], "unique_scope": "tenant"}]}),
            "tables[0].indexes[0].unique_scope",
            code::CONFLICTING_DEFINITION,
        ),
        (
            json!({"tenant_scoped": false, "unique": [{"columns": ["a"], "unique_scope": "tenant"}]}),
            "tables[0].unique[0].unique_scope",
            code::CONFLICTING_DEFINITION,
        ),
        (
            json!({"unique": [{"columns": ["a"], "scope": "tenant"}]}),
            "tables[0].unique[0].scope",
            code::UNKNOWN_KEY,
        ),
    ];
    for (patch, path, want) in cases {
        let mut v = one(json!([{"name": "a", "type": "int"}]));
        for (k, x) in patch.as_object().unwrap() {
            if k == "options" {
                v["options"] = x.clone();
            } else {
                v["tables"][0][k] = x.clone();
            }
        }
        let (_, issues) = norm(v);
        assert_eq!(paths(&issues), [(path, want)], "{issues:?}");
    }
}
