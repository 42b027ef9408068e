//! Issue 19 — each risk gates on its own. One test per risk code (`<code>_alone`), each with a
//! payload that raises that risk and no other, on a table with rows: `apply_schema` without
//! `allow_destructive` answers `blocked` with exactly that risk, and nothing changed — the catalog
//! of schema public read back object by object, every table's rows (count and checksum), no
//! ledger row and no event for the version; with `allow_destructive` the gate lets it through.
//!
//! A planted bug that ignored drop risks passed every suite, because the only blocked drops put
//! three drop risks in one payload and the one left kept it blocked. Here nothing else can.
//! `src/error.rs` (`every_risk_code_has_a_gate_test_of_its_own`) fails when `RiskCode` gains a
//! variant without a test named `<code>_alone` in this file.

mod common;
use common::*;
use postgres::Client;
use serde_json::{json, Value};

const T1: &str = "11111111-1111-1111-1111-111111111111";
const T2: &str = "22222222-2222-2222-2222-222222222222";

/// 30 rows over two tenants in `items`; `cols` and `vals` are the extra columns and their values
/// (SQL over `g`, 1..30).
fn rows(cols: &str, vals: &str) -> String {
    format!(
        "INSERT INTO items (tenant_id{cols}) SELECT CASE WHEN g % 2 = 0 THEN '{T1}'::uuid ELSE '{T2}'::uuid END{vals} FROM generate_series(1, 30) g;"
    )
}

fn payload(version: &str, body: Value) -> Value {
    let mut p = json!({"schema_version": version, "description": "risk gate"});
    for (k, v) in body.as_object().expect("an object").iter() {
        p[k] = v.clone();
    }
    p
}

/// What the allowed apply does: applies (and this checks the catalog after it), or is refused by
/// Postgres at execution with this SQLSTATE (the gate let it through; everything rolled back).
enum Allowed {
    Applies(fn(&mut Client)),
    FailsWith(&'static str),
}

struct Case {
    db: &'static str,
    v1: Value,
    /// Rows, and any out-of-band change, after version 1.
    setup: String,
    v2: Value,
    code: &'static str,
    path: &'static str,
    /// The rows the risk states (None: it states none).
    rows: Option<i64>,
    allowed: Allowed,
}

/// Schema public as the catalog holds it, one line per object and property: relations and their
/// RLS flags, columns (position, type, NOT NULL, generated, default), constraints (definition,
/// validated), indexes, policies, triggers, enum labels in order.
fn catalog(c: &mut Client) -> String {
    text(
        c,
        r#"SELECT string_agg(x, E'\n' ORDER BY x) FROM (
  SELECT format('rel %s %s rls=%s force=%s', c.oid::regclass, c.relkind, c.relrowsecurity, c.relforcerowsecurity)
    FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('col %s.%s #%s %s notnull=%s generated=%s default=%s', a.attrelid::regclass, a.attname, a.attnum,
                pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attgenerated,
                pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('con %s %s %s validated=%s', conrelid::regclass, conname, pg_get_constraintdef(oid), convalidated)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('idx %s valid=%s', pg_get_indexdef(i.indexrelid), i.indisvalid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('pol %s %s permissive=%s cmd=%s using=%s check=%s', p.polrelid::regclass, p.polname, p.polpermissive,
                p.polcmd, pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
    FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT format('trg %s', pg_get_triggerdef(t.oid))
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal
  UNION ALL
  SELECT format('enum %s %s %s', e.enumtypid::regtype, e.enumsortorder, e.enumlabel)
    FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typnamespace = 'public'::regnamespace
) s(x)"#,
    )
    .unwrap_or_default()
}

/// Every table of schema public: its row count and an md5 of its rows (as text, sorted).
fn data(c: &mut Client) -> Vec<String> {
    let tables: Vec<String> = c
        .query(
            "SELECT c.oid::regclass::text FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    tables
        .iter()
        .map(|t| {
            let row = c
                .query_one(
                    &format!("SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {t} t"),
                    &[],
                )
                .unwrap();
            let (n, sum): (i64, String) = (row.get(0), row.get(1));
            format!("{t}: {n} rows, md5 {sum}")
        })
        .collect()
}

/// The version's rows in the migration ledger, by status; and the events recorded.
fn ledger(c: &mut Client, version: &str) -> (i64, i64, i64) {
    let row = c
        .query_one(
            "SELECT count(*) FILTER (WHERE status = 'applied'), count(*),
                    (SELECT count(*) FROM revos.events)
               FROM revos.schema_migrations WHERE version = $1",
            &[&version],
        )
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// The gate, for one case: blocked with exactly its one risk and nothing changed; then allowed.
fn gate(case: Case) {
    let mut c = fresh_db(case.db);
    let env = apply(&mut c, &case.v1);
    assert_eq!(status(&env), "applied", "version 1: {env:#}");
    c.batch_execute(&case.setup).unwrap();
    let (cat, rows) = (catalog(&mut c), data(&mut c));
    assert!(
        rows.iter().any(|r| !r.contains(": 0 rows")),
        "the case has rows: {rows:?}"
    );
    let version = case.v2["schema_version"].as_str().unwrap().to_string();
    let (_, _, events) = ledger(&mut c, &version);
    let want = vec![(case.code.to_string(), case.path.to_string(), case.rows)];

    // plan_schema shows the one risk; apply_schema is blocked by it
    let planned = plan(&mut c, &case.v2);
    assert_eq!(status(&planned), "planned", "{planned:#}");
    assert_eq!(risks(&planned), want, "the plan's risks: {planned:#}");
    let env = apply(&mut c, &case.v2);
    assert_eq!(
        status(&env),
        "blocked",
        "{} alone must block: {env:#}",
        case.code
    );
    assert_eq!(risks(&env), want, "{env:#}");
    assert_eq!(
        env["result"]["validation_errors"]
            .as_array()
            .map_or(0, Vec::len),
        0,
        "blocked by the risk, not by a validation error: {env:#}"
    );
    assert_eq!(
        catalog(&mut c),
        cat,
        "{}: blocked, yet the catalog changed",
        case.code
    );
    assert_eq!(
        data(&mut c),
        rows,
        "{}: blocked, yet the data changed",
        case.code
    );
    assert_eq!(
        ledger(&mut c, &version),
        (0, 0, events),
        "{}: blocked, yet recorded",
        case.code
    );

    // allowed: the gate lets it through
    let env = apply(&mut c, &allow(case.v2.clone()));
    match case.allowed {
        Allowed::Applies(check) => {
            assert_eq!(status(&env), "applied", "{env:#}");
            assert_eq!(env["result"]["verification"]["ok"], true, "{env:#}");
            assert_eq!(ledger(&mut c, &version).0, 1, "one applied row");
            assert_ne!(
                catalog(&mut c),
                cat,
                "{}: applied, the catalog changed",
                case.code
            );
            check(&mut c);
        }
        Allowed::FailsWith(sqlstate) => {
            assert_eq!(status(&env), "failed", "{env:#}");
            assert_eq!(env["result"]["error"]["sqlstate"], sqlstate, "{env:#}");
            assert_eq!(catalog(&mut c), cat, "rolled back");
            assert_eq!(data(&mut c), rows, "rolled back");
            assert_eq!(ledger(&mut c, &version).0, 0, "no applied row");
        }
    }
}

fn items(columns: Value) -> Value {
    json!({"name": "items", "columns": columns})
}

#[test]
fn drop_column_alone() {
    gate(Case {
        db: "gate_drop_column",
        v1: payload(
            "1",
            json!({"tables": [items(json!([{"name": "code", "type": "text"}, {"name": "note", "type": "text"}]))]}),
        ),
        setup: rows(", code, note", ", 'c' || g, 'n' || g"),
        v2: payload(
            "2",
            json!({"tables": [{"name": "items", "drop_columns": ["note"],
                               "columns": [{"name": "code", "type": "text"}]}]}),
        ),
        code: "drop_column",
        path: "tables[0].drop_columns[0]",
        rows: Some(30),
        allowed: Allowed::Applies(|c| {
            assert_eq!(count(c, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'note' AND NOT attisdropped"), 0);
            assert_eq!(
                count(c, "SELECT count(*) FROM items WHERE code LIKE 'c%'"),
                30
            );
        }),
    });
}

#[test]
fn drop_table_alone() {
    gate(Case {
        db: "gate_drop_table",
        v1: payload(
            "1",
            json!({"tables": [items(json!([{"name": "code", "type": "text"}])),
                              {"name": "scratch", "columns": [{"name": "x", "type": "integer"}]}]}),
        ),
        setup: format!(
            "{} INSERT INTO scratch (tenant_id, x) SELECT '{T1}', g FROM generate_series(1, 40) g;",
            rows(", code", ", 'c' || g")
        ),
        v2: payload(
            "2",
            json!({"drop_tables": ["scratch"], "tables": [items(json!([{"name": "code", "type": "text"}]))]}),
        ),
        code: "drop_table",
        path: "drop_tables[0]",
        rows: Some(40),
        allowed: Allowed::Applies(|c| {
            assert_eq!(text(c, "SELECT to_regclass('scratch')::text"), None);
            assert_eq!(count(c, "SELECT count(*) FROM items"), 30);
        }),
    });
}

#[test]
fn drop_index_alone() {
    let mut v1 = items(json!([{"name": "code", "type": "text"}]));
    v1["indexes"] = json!([{"name": "idx_items_code", "columns": ["code"]}]);
    gate(Case {
        db: "gate_drop_index",
        v1: payload("1", json!({"tables": [v1]})),
        setup: rows(", code", ", 'c' || g"),
        v2: payload(
            "2",
            json!({"tables": [{"name": "items", "drop_indexes": ["idx_items_code"],
                               "columns": [{"name": "code", "type": "text"}]}]}),
        ),
        code: "drop_index",
        path: "tables[0].drop_indexes[0]",
        rows: Some(30),
        allowed: Allowed::Applies(|c| {
            assert_eq!(text(c, "SELECT to_regclass('idx_items_code')::text"), None);
            assert_eq!(count(c, "SELECT count(*) FROM items"), 30);
        }),
    });
}

#[test]
fn drop_enum_value_alone() {
    let enums = |values: Value| json!([{"name": "mood", "values": values}]);
    let tables = json!([items(
        json!([{"name": "mood", "type": "mood", "not_null": true, "default": "'happy'"}])
    )]);
    gate(Case {
        db: "gate_drop_enum_value",
        v1: payload(
            "1",
            json!({"enums": enums(json!(["happy", "sad", "meh"])), "tables": tables}),
        ),
        // no row uses 'meh' (a value in use is refused outright, enum_value_in_use)
        setup: rows(
            ", mood",
            ", CASE WHEN g % 3 = 0 THEN 'sad' ELSE 'happy' END::mood",
        ),
        v2: payload(
            "2",
            json!({"enums": enums(json!(["happy", "sad"])), "tables": tables}),
        ),
        code: "drop_enum_value",
        path: "enums[0].values",
        rows: Some(0),
        allowed: Allowed::Applies(|c| {
            assert_eq!(
                text(c, "SELECT string_agg(enumlabel::text, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'mood'::regtype").as_deref(),
                Some("happy,sad")
            );
            assert_eq!(
                text(c, "SELECT string_agg(mood::text || '=' || n, ',' ORDER BY mood) FROM (SELECT mood, count(*) AS n FROM items GROUP BY mood) s").as_deref(),
                Some("happy=20,sad=10")
            );
        }),
    });
}

#[test]
fn type_change_alone() {
    let qty = |t: &str| {
        let mut col = json!({"name": "qty", "type": t});
        if t == "integer" {
            col["using"] = json!("qty::integer");
        }
        payload(
            if t == "integer" { "2" } else { "1" },
            json!({"tables": [items(json!([{"name": "code", "type": "text"}, col]))]}),
        )
    };
    gate(Case {
        db: "gate_type_change",
        v1: qty("text"),
        setup: rows(", code, qty", ", 'c' || g, g::text"),
        v2: qty("integer"),
        code: "type_change",
        path: "tables[0].columns[1].type",
        rows: None,
        allowed: Allowed::Applies(|c| {
            assert_eq!(
                text(c, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'qty'").as_deref(),
                Some("integer")
            );
            assert_eq!(count(c, "SELECT sum(qty)::int8 FROM items"), 465);
        }),
    });
}

/// SET NOT NULL on a column whose rows hold NULL: blocked with their count; allowed, Postgres
/// refuses it at execution (23502) and everything rolls back — the gate let it through, and
/// nothing lost.
#[test]
fn set_not_null_alone() {
    let note = |nn: bool, version: &str| {
        payload(
            version,
            json!({"tables": [items(json!([{"name": "code", "type": "text"},
                                           {"name": "note", "type": "text", "not_null": nn}]))]}),
        )
    };
    gate(Case {
        db: "gate_set_not_null",
        v1: note(false, "1"),
        setup: rows(
            ", code, note",
            ", 'c' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'n' || g END",
        ),
        v2: note(true, "2"),
        code: "set_not_null",
        path: "tables[0].columns[1].not_null",
        rows: Some(10),
        allowed: Allowed::FailsWith("23502"),
    });
}

/// A PERMISSIVE policy created by hand on a tenant-scoped table widens what a tenant sees.
#[test]
fn foreign_policy_alone() {
    let t = json!({"tables": [items(json!([{"name": "code", "type": "text"}]))]});
    gate(Case {
        db: "gate_foreign_policy",
        v1: payload("1", t.clone()),
        setup: format!(
            "{} CREATE POLICY everyone ON items USING (true);",
            rows(", code", ", 'c' || g")
        ),
        v2: payload("2", t),
        code: "foreign_policy",
        path: "tables[0]",
        rows: None,
        allowed: Allowed::Applies(|c| {
            assert_eq!(
                text(c, "SELECT string_agg(polname, ',' ORDER BY polname) FROM pg_policy WHERE polrelid = 'items'::regclass").as_deref(),
                Some("revos_tenant_isolation")
            );
            assert_eq!(count(c, "SELECT count(*) FROM items"), 30);
        }),
    });
}

#[test]
fn generated_change_alone() {
    let total = |expr: &str, version: &str| {
        payload(
            version,
            json!({"tables": [items(json!([{"name": "price", "type": "integer"},
                                           {"name": "total", "type": "integer", "generated": expr}]))]}),
        )
    };
    gate(Case {
        db: "gate_generated_change",
        v1: total("price * 2", "1"),
        setup: rows(", price", ", g"),
        v2: total("price * 3", "2"),
        code: "generated_change",
        path: "tables[0].columns[1].generated",
        rows: None,
        allowed: Allowed::Applies(|c| {
            assert_eq!(count(c, "SELECT sum(total)::int8 FROM items"), 3 * 465);
            assert_eq!(count(c, "SELECT count(*) FROM items"), 30);
        }),
    });
}

/// A check that 10 of the 30 rows violate: blocked with their count; allowed, it is added NOT
/// VALID (new rows are checked, those rows are kept).
#[test]
fn check_change_alone() {
    let qty = |check: &str, version: &str| {
        payload(
            version,
            json!({"tables": [items(json!([{"name": "qty", "type": "integer", "check": check}]))]}),
        )
    };
    gate(Case {
        db: "gate_check_change",
        v1: qty("qty > 0", "1"),
        setup: rows(", qty", ", g"),
        v2: qty("qty > 10", "2"),
        code: "check_change",
        path: "tables[0].columns[0].check",
        rows: Some(10),
        allowed: Allowed::Applies(|c| {
            assert_eq!(
                text(c, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'c'").as_deref(),
                Some("CHECK ((qty > 10)) NOT VALID")
            );
            assert_eq!(count(c, "SELECT count(*) FROM items"), 30);
        }),
    });
}

/// Another primary key declared over an existing one: blocked; allowed, the key is replaced.
#[test]
fn primary_key_change_alone() {
    let t = |pk: Value, version: &str| {
        payload(
            version,
            json!({"tables": [{"name": "items", "primary_key": pk, "columns": [
                {"name": "id", "type": "uuid", "not_null": true, "default": "gen_random_uuid()"},
                {"name": "code", "type": "text", "not_null": true}]}]}),
        )
    };
    gate(Case {
        db: "gate_primary_key_change",
        v1: t(json!(["id"]), "1"),
        setup: rows(", code", ", 'c' || g"),
        v2: t(json!(["code"]), "2"),
        code: "primary_key_change",
        path: "tables[0].primary_key",
        rows: None,
        allowed: Allowed::Applies(|c| {
            assert_eq!(
                text(c, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'p'").as_deref(),
                Some("PRIMARY KEY (code)")
            );
            assert_eq!(count(c, "SELECT count(*) FROM items"), 30);
        }),
    });
}

/// The same labels declared in another order: blocked; allowed, the type is recreated in the
/// declared order and every row keeps its label.
#[test]
fn enum_order_alone() {
    let enums = |values: Value| json!([{"name": "mood", "values": values}]);
    let tables = json!([items(json!([{"name": "mood", "type": "mood"}]))]);
    gate(Case {
        db: "gate_enum_order",
        v1: payload(
            "1",
            json!({"enums": enums(json!(["happy", "sad"])), "tables": tables}),
        ),
        setup: rows(
            ", mood",
            ", CASE WHEN g % 3 = 0 THEN 'sad' ELSE 'happy' END::mood",
        ),
        v2: payload(
            "2",
            json!({"enums": enums(json!(["sad", "happy"])), "tables": tables}),
        ),
        code: "enum_order",
        path: "enums[0].values",
        rows: None,
        allowed: Allowed::Applies(|c| {
            assert_eq!(
                text(c, "SELECT string_agg(enumlabel::text, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'mood'::regtype").as_deref(),
                Some("sad,happy")
            );
            assert_eq!(
                text(c, "SELECT string_agg(mood::text || '=' || n, ',' ORDER BY mood) FROM (SELECT mood, count(*) AS n FROM items GROUP BY mood) s").as_deref(),
                Some("sad=10,happy=20")
            );
        }),
    });
}

/// A declared check that is NOT VALID with rows violating it: blocked with their count. Allowed,
/// nothing can make it valid without changing those rows (revos never deletes them): it stays
/// NOT VALID and verification says so (`not_validated`), the rest of the version applies.
#[test]
fn not_validated_alone() {
    let v = |version: &str| {
        payload(
            version,
            json!({"tables": [items(json!([{"name": "qty", "type": "integer", "check": "qty >= 0"}]))]}),
        )
    };
    let mut c = fresh_db("gate_not_validated");
    assert_eq!(status(&apply(&mut c, &v("1"))), "applied");
    c.batch_execute(&format!(
        "{} ALTER TABLE items DROP CONSTRAINT ck_items_qty;
         UPDATE items SET qty = -1 WHERE qty <= 4;
         ALTER TABLE items ADD CONSTRAINT ck_items_qty CHECK (qty >= 0) NOT VALID;",
        rows(", qty", ", g")
    ))
    .unwrap();
    let (cat, rows) = (catalog(&mut c), data(&mut c));
    let env = apply(&mut c, &v("2"));
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(
        risks(&env),
        [(
            "not_validated".to_string(),
            "tables[0].columns[0].check".to_string(),
            Some(4)
        )],
        "{env:#}"
    );
    assert_eq!((catalog(&mut c), data(&mut c)), (cat.clone(), rows.clone()));
    assert_eq!(ledger(&mut c, "2").1, 0);
    let env = apply(&mut c, &allow(v("2")));
    assert_eq!(status(&env), "applied", "{env:#}");
    let nv = env["result"]["verification"]["not_validated"].to_string();
    assert!(nv.contains("ck_items_qty"), "{env:#}");
    assert_eq!(
        (catalog(&mut c), data(&mut c)),
        (cat, rows),
        "kept as it was"
    );
    // and once the rows are fixed, the next version validates it
    c.batch_execute("UPDATE items SET qty = 0 WHERE qty < 0")
        .unwrap();
    let env = apply(&mut c, &v("3"));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(
        text(
            &mut c,
            "SELECT convalidated::text FROM pg_constraint WHERE conname = 'ck_items_qty'"
        )
        .as_deref(),
        Some("true")
    );
}

/// A property that cannot be compared (here: a caller who may neither create temporary tables
/// nor build in revos_shadow, so no declared form can be deparsed) blocks; the risks are
/// `cannot_compare` and nothing else, one per property, naming it and why. Allowed, the declared
/// forms are applied and verification lists what it could not compare — never counted as equal.
#[test]
fn cannot_compare_alone() {
    let v = |version: &str| {
        payload(
            version,
            json!({"tables": [items(json!([{"name": "qty", "type": "integer", "default": "1"}]))]}),
        )
    };
    let mut c = fresh_db("gate_cannot_compare");
    assert_eq!(status(&apply(&mut c, &v("1"))), "applied");
    ensure_role(&mut c, "gate_caller", "");
    c.batch_execute(&format!(
        "{} ALTER TABLE items ALTER COLUMN qty SET DEFAULT 5;
         GRANT revos_admin TO gate_caller; GRANT CREATE ON SCHEMA public TO gate_caller;
         ALTER TABLE items OWNER TO gate_caller;
         REVOKE TEMP ON DATABASE gate_cannot_compare FROM PUBLIC;
         REVOKE CREATE ON SCHEMA revos_shadow FROM revos_admin;",
        rows(", qty", ", g")
    ))
    .unwrap();
    let (cat, rows) = (catalog(&mut c), data(&mut c));
    let mut caller = connect_as("gate_cannot_compare", "gate_caller");
    let env = apply(&mut caller, &v("2"));
    assert_eq!(status(&env), "blocked", "{env:#}");
    let found = risks(&env);
    assert!(!found.is_empty(), "{env:#}");
    assert!(
        found.iter().all(|r| r.0 == "cannot_compare"),
        "only cannot_compare: {found:?}"
    );
    let text_of = env["result"]["risks"].to_string();
    for want in [
        "column.default",
        "index",
        "policy.tenant",
        "temporary tables",
    ] {
        assert!(text_of.contains(want), "{want}: {text_of}");
    }
    assert_eq!((catalog(&mut c), data(&mut c)), (cat.clone(), rows.clone()));
    assert_eq!(ledger(&mut c, "2").1, 0);
    let env = apply(&mut caller, &allow(v("2")));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert!(
        env["result"]["verification"]["unverified"]
            .as_array()
            .is_some_and(|a| !a.is_empty()),
        "{env:#}"
    );
    assert_eq!(
        text(&mut c, "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'items'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'qty')").as_deref(),
        Some("1"),
        "the declared default, applied"
    );
    assert_eq!(data(&mut c), rows);
}
