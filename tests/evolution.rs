//! Issue 9, items 3 and 4 — schema evolution in a real database: renames (tables, columns) that
//! keep data, RLS, the policy and indexes; drops blocked with their rows and applied when allowed;
//! enum value removal; `using`; NOT NULL on rows counted in the plan. Every key run twice.

mod common;
use common::*;
use serde_json::{json, Value};

const T1: &str = "11111111-1111-1111-1111-111111111111";
const T2: &str = "22222222-2222-2222-2222-222222222222";

fn v(version: &str, tables: Value) -> Value {
    json!({"schema_version": version, "description": "evolution", "tables": tables})
}

fn errors(env: &Value) -> Vec<(String, String)> {
    env["result"]["validation_errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap_or_default().to_string(),
                e["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn app_role(c: &mut postgres::Client, db: &str) {
    ensure_role(c, "revos_evo_app", "");
    c.batch_execute(&format!(
        "GRANT CONNECT ON DATABASE {db} TO revos_evo_app;
         GRANT USAGE ON SCHEMA public TO revos_evo_app;
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO revos_evo_app;"
    ))
    .unwrap();
}

/// Rows one tenant sees through the policy, as a non-superuser.
fn seen_by(db: &str, tenant: &str, sql: &str) -> i64 {
    let mut a = connect_as(db, "revos_evo_app");
    let mut tx = a.transaction().unwrap();
    tx.execute("SELECT revos.set_tenant($1)", &[&tenant])
        .unwrap();
    let n: i64 = tx.query_one(sql, &[]).unwrap().get(0);
    tx.commit().unwrap();
    n
}

#[test]
fn table_and_column_renames_keep_data_rls_policy_and_indexes() {
    let db = "evo_rename";
    let mut c = fresh_db(db);
    let v1 = v(
        "1",
        json!([{"name": "people", "columns": [
            {"name": "email", "type": "text", "unique": true},
            {"name": "full_name", "type": "text"}]}]),
    );
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    c.batch_execute(&format!(
        "INSERT INTO people (tenant_id, email, full_name) VALUES ('{T1}', 'a@x', 'Ann'), ('{T1}', 'b@x', 'Bob'), ('{T2}', 'c@x', 'Cy')"
    ))
    .unwrap();
    let oid_before = count(&mut c, "SELECT 'people'::regclass::oid::bigint");

    let v2 = v(
        "2",
        json!([{"name": "persons", "renamed_from": "people", "columns": [
            {"name": "mail", "renamed_from": "email", "type": "text", "unique": true},
            {"name": "display_name", "renamed_from": "fullName", "type": "text"}]}]),
    );
    let planned = plan(&mut c, &v2);
    let sql = planned["result"]["plan"]["sql"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        sql.starts_with("ALTER TABLE \"public\".\"people\" RENAME TO \"persons\";\n"),
        "{sql}"
    );
    assert!(!sql.contains("CREATE"), "a rename creates nothing: {sql}");
    let env = apply(&mut c, &v2);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["result"]["verification"]["ok"], true);
    // the same table (same oid), its rows, under the new names
    assert_eq!(
        count(&mut c, "SELECT 'persons'::regclass::oid::bigint"),
        oid_before
    );
    assert_eq!(text(&mut c, "SELECT to_regclass('people')::text"), None);
    assert_eq!(
        text(
            &mut c,
            "SELECT string_agg(mail || '=' || display_name, ',' ORDER BY mail) FROM persons"
        )
        .as_deref(),
        Some("a@x=Ann,b@x=Bob,c@x=Cy")
    );
    // what revos named after the old names was renamed along, and nothing was duplicated
    let idx = text(
        &mut c,
        "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'persons'",
    )
    .unwrap();
    assert_eq!(
        idx,
        "idx_persons_created_at,idx_persons_tenant_id,persons_pkey,uq_persons_mail"
    );
    // RLS still forced, the policy still isolates tenants, the unique key still per tenant
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM pg_class WHERE relname = 'persons' AND relrowsecurity AND relforcerowsecurity"),
        1
    );
    app_role(&mut c, db);
    assert_eq!(seen_by(db, T1, "SELECT count(*) FROM persons"), 2);
    assert_eq!(seen_by(db, T2, "SELECT count(*) FROM persons"), 1);
    let dup = c.batch_execute(&format!(
        "INSERT INTO persons (tenant_id, mail) VALUES ('{T1}', 'a@x')"
    ));
    assert_eq!(sqlstate(&dup.unwrap_err()), "23505", "unique key works");

    // again: noop; a later version that keeps the keys does nothing for them
    assert_eq!(status(&apply(&mut c, &v2)), "noop");
    let mut v3 = v2.clone();
    v3["schema_version"] = json!("3");
    v3["tables"][0]["columns"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "phone", "type": "text"}));
    let env = plan(&mut c, &v3);
    assert_eq!(
        env["result"]["plan"]["sql"],
        "ALTER TABLE \"public\".\"persons\" ADD COLUMN \"phone\" text;\n"
    );
    assert_eq!(status(&apply(&mut c, &v3)), "applied");

    // old and new both present: conflicting_definition, nothing runs
    c.batch_execute("CREATE TABLE people (id uuid PRIMARY KEY)")
        .unwrap();
    let mut v4 = v3.clone();
    v4["schema_version"] = json!("4");
    let env = apply(&mut c, &v4);
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(
        errors(&env),
        [(
            "tables[0].renamed_from".to_string(),
            "conflicting_definition".to_string()
        )]
    );
    c.batch_execute("ALTER TABLE persons ADD COLUMN email text")
        .unwrap();
    c.batch_execute("DROP TABLE people").unwrap();
    let env = apply(&mut c, &v4);
    assert_eq!(
        errors(&env),
        [(
            "tables[0].columns[0].renamed_from".to_string(),
            "conflicting_definition".to_string()
        )]
    );
}

#[test]
fn drops_are_blocked_with_their_rows_then_applied_and_idempotent() {
    let mut c = fresh_db("evo_drop");
    let v1 = json!({"schema_version": "1", "description": "d", "tables": [
        {"name": "orders", "columns": [{"name": "note", "type": "text"}, {"name": "code", "type": "text"}],
         "indexes": [{"name": "idx_orders_code", "columns": ["code"]}]},
        {"name": "scratch", "columns": [{"name": "x", "type": "int"}]}]});
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    c.batch_execute(&format!(
        "INSERT INTO orders (tenant_id, note, code) SELECT '{T1}', 'n' || g, 'c' || g FROM generate_series(1, 25) g;
         INSERT INTO scratch (tenant_id, x) SELECT '{T1}', g FROM generate_series(1, 40) g;"
    ))
    .unwrap();
    let v2 = json!({"schema_version": "2", "description": "d", "drop_tables": ["scratch"], "tables": [
        {"name": "orders", "drop_columns": ["note"], "drop_indexes": ["idx_orders_code"],
         "columns": [{"name": "code", "type": "text"}]}]});
    // never analyzed: the rows are counted
    let env = apply(&mut c, &v2);
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(
        risks(&env),
        [
            ("drop_table".into(), "drop_tables[0]".into(), Some(40)),
            (
                "drop_index".into(),
                "tables[0].drop_indexes[0]".into(),
                Some(25)
            ),
            (
                "drop_column".into(),
                "tables[0].drop_columns[0]".into(),
                Some(25)
            ),
        ]
    );
    assert_eq!(env["result"]["risks"][0]["rows_counted"], true);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM scratch"),
        40,
        "nothing ran"
    );
    // analyzed: pg_class.reltuples, an estimate
    c.batch_execute("ANALYZE orders; ANALYZE scratch").unwrap();
    let env = plan(&mut c, &v2);
    assert_eq!(env["result"]["risks"][0]["rows"], 40);
    assert_eq!(env["result"]["risks"][0]["rows_counted"], false);
    // allowed: dropped, and verified gone
    let env = apply(&mut c, &allow(v2.clone()));
    assert_eq!(status(&env), "applied", "{env:#}");
    let out = &env["result"]["primary_outputs"];
    assert_eq!(
        (
            &out["tables_dropped"],
            &out["columns_dropped"],
            &out["indexes_dropped"]
        ),
        (&json!(1), &json!(1), &json!(1))
    );
    assert!(
        env["result"]["summary"]
            .as_str()
            .unwrap()
            .ends_with("; evolution: 1 tables dropped, 1 columns dropped, 1 indexes dropped"),
        "{env:#}"
    );
    assert_eq!(text(&mut c, "SELECT to_regclass('scratch')::text"), None);
    assert_eq!(
        text(&mut c, "SELECT to_regclass('idx_orders_code')::text"),
        None
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'orders'::regclass AND attname = 'note' AND NOT attisdropped"), 0);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM orders"),
        25,
        "rows kept"
    );
    // again: noop; a later version keeping the keys: nothing to drop, no risk
    assert_eq!(status(&apply(&mut c, &allow(v2.clone()))), "noop");
    let mut v3 = v2.clone();
    v3["schema_version"] = json!("3");
    let env = apply(&mut c, &v3);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(risks(&env), []);
    assert_eq!(
        env["result"]["primary_outputs"]["tables_altered"], 0,
        "{env:#}"
    );
}

#[test]
fn a_dropped_table_referenced_by_another_fails_and_rolls_back() {
    let mut c = fresh_db("evo_drop_fk");
    let v1 = v(
        "1",
        json!([{"name": "parents", "columns": []},
               {"name": "kids", "columns": [{"name": "parent_id", "type": "uuid", "references": "parents"}]}]),
    );
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    let v2 = allow(
        json!({"schema_version": "2", "description": "d", "drop_tables": ["parents"],
                          "tables": [{"name": "kids", "columns": [{"name": "parent_id", "type": "uuid"}]}]}),
    );
    let env = apply(&mut c, &v2);
    assert_eq!(status(&env), "failed", "{env:#}");
    assert_eq!(env["result"]["error"]["sqlstate"], "2BP01", "no CASCADE");
    assert!(text(&mut c, "SELECT to_regclass('parents')::text").is_some());
}

#[test]
fn enum_value_removal_recreates_the_type_and_refuses_values_in_use() {
    let mut c = fresh_db("evo_enum");
    let v1 = json!({"schema_version": "1", "description": "d",
        "enums": [{"name": "mood", "values": ["happy", "sad", "meh"]}],
        "tables": [{"name": "diary", "columns": [
            {"name": "mood", "type": "mood", "not_null": true, "default": "'happy'"},
            {"name": "moods", "type": "mood[]"}],
          "indexes": [{"columns": ["mood"]}]}]});
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    c.batch_execute(&format!(
        "INSERT INTO diary (tenant_id, mood, moods) VALUES ('{T1}', 'happy', '{{sad,happy}}'), ('{T1}', 'meh', '{{meh}}'), ('{T2}', 'sad', NULL)"
    ))
    .unwrap();
    let v2 = json!({"schema_version": "2", "description": "d",
        "enums": [{"name": "mood", "values": ["happy", "sad", "ok"]}],
        "tables": [{"name": "diary", "columns": [
            {"name": "mood", "type": "mood", "not_null": true, "default": "'happy'"},
            {"name": "moods", "type": "mood[]"}],
          "indexes": [{"columns": ["mood"]}]}]});
    // 'meh' is used by one row in mood and one in moods: refused even when allowed
    let env = apply(&mut c, &allow(v2.clone()));
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(
        errors(&env),
        [(
            "enums[0].values".to_string(),
            "enum_value_in_use".to_string()
        )]
    );
    let msg = env["result"]["validation_errors"][0]["message"]
        .as_str()
        .unwrap();
    assert!(
        msg.contains("public.diary.mood (1 rows)") && msg.contains("public.diary.moods (1 rows)"),
        "{msg}"
    );
    // the rows changed: a risk with 0 rows, then recreated when allowed
    c.batch_execute("UPDATE diary SET mood = 'sad' WHERE mood = 'meh'; UPDATE diary SET moods = '{sad}' WHERE moods = '{meh}'")
        .unwrap();
    let env = apply(&mut c, &v2);
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(
        risks(&env),
        [("drop_enum_value".into(), "enums[0].values".into(), Some(0))]
    );
    let env = apply(&mut c, &allow(v2.clone()));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(
        text(&mut c, "SELECT string_agg(enumlabel::text, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'mood'::regtype").as_deref(),
        Some("happy,sad,ok")
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_type WHERE typname LIKE 'mood_revos_old%'"
        ),
        0
    );
    assert_eq!(
        text(&mut c, "SELECT string_agg(mood::text || ':' || coalesce(moods::text, '-'), ',' ORDER BY mood, moods::text) FROM diary").as_deref(),
        Some("happy:{sad,happy},sad:{sad},sad:-")
    );
    // the default still works, with the new type
    c.batch_execute(&format!("INSERT INTO diary (tenant_id) VALUES ('{T1}')"))
        .unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM diary WHERE mood = 'happy'"),
        2
    );
    assert_eq!(
        text(&mut c, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'diary'::regclass AND attname = 'mood'").as_deref(),
        Some("mood")
    );
    // again: noop; a later version: the value is already gone, nothing to do
    assert_eq!(status(&apply(&mut c, &allow(v2.clone()))), "noop");
    let mut v3 = v2.clone();
    v3["schema_version"] = json!("3");
    let env = apply(&mut c, &v3);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(risks(&env), []);
}

#[test]
fn using_converts_the_data_of_a_type_change() {
    let mut c = fresh_db("evo_using");
    let v1 = v(
        "1",
        json!([{"name": "items", "columns": [{"name": "qty", "type": "text"}]}]),
    );
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    c.batch_execute(&format!(
        "INSERT INTO items (tenant_id, qty) VALUES ('{T1}', '12'), ('{T1}', ' 7 '), ('{T1}', '')"
    ))
    .unwrap();
    let v2 = allow(v(
        "2",
        json!([{"name": "items", "columns": [
            {"name": "qty", "type": "integer", "using": "nullif(trim(qty), '')::integer"}]}]),
    ));
    let env = apply(&mut c, &v2);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(
        text(
            &mut c,
            "SELECT string_agg(coalesce(qty::text, 'NULL'), ',' ORDER BY qty) FROM items"
        )
        .as_deref(),
        Some("7,12,NULL")
    );
    assert_eq!(
        text(&mut c, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'qty'").as_deref(),
        Some("integer")
    );
    // again, and a later version keeping `using`: the type already matches, nothing runs
    assert_eq!(status(&apply(&mut c, &v2)), "noop");
    let mut v3 = v2.clone();
    v3["schema_version"] = json!("3");
    let env = plan(&mut c, &v3);
    assert_eq!(env["result"]["plan"]["sql"], "");
    // a hostile `using` is refused before Postgres runs anything
    let mut bad = v2.clone();
    bad["schema_version"] = json!("4");
    bad["tables"][0]["columns"][0]["type"] = json!("bigint");
    bad["tables"][0]["columns"][0]["using"] = json!("qty); DROP TABLE items; --");
    let env = apply(&mut c, &bad);
    assert_eq!(
        errors(&env),
        [(
            "tables[0].columns[0].using".to_string(),
            "invalid_expression".to_string()
        )]
    );
    bad["tables"][0]["columns"][0]["using"] = json!("qty FROM pg_class");
    let env = apply(&mut c, &bad);
    assert_eq!(
        errors(&env),
        [(
            "tables[0].columns[0].using".to_string(),
            "invalid_expression".to_string()
        )]
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM items"), 3);
}

#[test]
fn not_null_on_rows_is_counted_in_the_plan() {
    let mut c = fresh_db("evo_not_null");
    let v1 = v(
        "1",
        json!([{"name": "contacts", "columns": [{"name": "phone", "type": "text"}]}]),
    );
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    c.batch_execute(&format!(
        "INSERT INTO contacts (tenant_id, phone) SELECT '{T1}', CASE WHEN g % 3 = 0 THEN NULL ELSE 'p' || g END FROM generate_series(1, 10) g"
    ))
    .unwrap();
    // a new NOT NULL column without a default: every row would hold NULL
    let v2 = v(
        "2",
        json!([{"name": "contacts", "columns": [{"name": "phone", "type": "text", "not_null": true},
                                                 {"name": "kind", "type": "text", "not_null": true}]}]),
    );
    // plan_schema shows the plan and its risks (apply_schema would be blocked)
    let env = plan(&mut c, &v2);
    assert_eq!(status(&env), "planned", "{env:#}");
    assert!(env["result"]["summary"]
        .as_str()
        .unwrap()
        .contains("2 risky change(s) would block apply_schema"));
    assert_eq!(status(&apply(&mut c, &v2)), "blocked");
    assert_eq!(
        risks(&env),
        [
            (
                "set_not_null".into(),
                "tables[0].columns[0].not_null".into(),
                Some(3)
            ),
            (
                "set_not_null".into(),
                "tables[0].columns[1].not_null".into(),
                Some(10)
            ),
        ]
    );
    // allowed anyway: it fails at execution and everything rolls back
    let env = apply(&mut c, &allow(v2));
    assert_eq!(status(&env), "failed", "{env:#}");
    assert_eq!(env["result"]["error"]["sqlstate"], "23502");
    // with a default, a new NOT NULL column is no risk; with the NULLs filled, neither is phone
    c.batch_execute("UPDATE contacts SET phone = 'none' WHERE phone IS NULL")
        .unwrap();
    let v3 = v(
        "3",
        json!([{"name": "contacts", "columns": [{"name": "phone", "type": "text", "not_null": true},
                                                 {"name": "kind", "type": "text", "not_null": true, "default": "'person'"}]}]),
    );
    let env = apply(&mut c, &v3);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM contacts WHERE kind = 'person'"
        ),
        10
    );
    // an empty table: a NOT NULL column without a default is no risk
    c.batch_execute("DELETE FROM contacts").unwrap();
    let v4 = v(
        "4",
        json!([{"name": "contacts", "columns": [{"name": "phone", "type": "text", "not_null": true},
                                                 {"name": "kind", "type": "text", "not_null": true, "default": "'person'"},
                                                 {"name": "code", "type": "text", "not_null": true}]}]),
    );
    assert_eq!(status(&apply(&mut c, &v4)), "applied");
}

#[test]
fn renaming_a_table_other_tables_reference_keeps_the_foreign_keys() {
    let mut c = fresh_db("evo_rename_fk");
    let v1 = v(
        "1",
        json!([{"name": "parents", "columns": [{"name": "name", "type": "text"}]},
               {"name": "kids", "columns": [{"name": "parent_id", "type": "uuid", "references": {"table": "parents", "on_delete": "cascade"}}]}]),
    );
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    c.batch_execute(&format!(
        "INSERT INTO parents (id, tenant_id, name) VALUES ('aaaaaaaa-0000-0000-0000-000000000001', '{T1}', 'P');
         INSERT INTO kids (tenant_id, parent_id) VALUES ('{T1}', 'aaaaaaaa-0000-0000-0000-000000000001')"
    ))
    .unwrap();
    let v2 = v(
        "2",
        json!([{"name": "guardians", "renamed_from": "parents", "columns": [{"name": "name", "type": "text"}]},
               {"name": "kids", "columns": [{"name": "guardian_id", "renamed_from": "parent_id", "type": "uuid",
                                             "references": {"table": "guardians", "on_delete": "cascade"}}]}]),
    );
    let env = apply(&mut c, &v2);
    assert_eq!(status(&env), "applied", "{env:#}");
    let sql = text(
        &mut c,
        "SELECT sql_script FROM revos.schema_migrations WHERE version = '2'",
    )
    .unwrap();
    assert!(!sql.contains("ADD CONSTRAINT"), "no twin key: {sql}");
    assert!(
        sql.contains("RENAME CONSTRAINT \"fk_kids_parent_id\" TO \"fk_kids_guardian_id\""),
        "{sql}"
    );
    // one foreign key, to the renamed table, still cascading and tenant-bound
    assert_eq!(
        text(&mut c, "SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), '; ') FROM pg_constraint WHERE conrelid = 'kids'::regclass AND contype = 'f'").as_deref(),
        Some("fk_kids_guardian_id FOREIGN KEY (tenant_id, guardian_id) REFERENCES guardians(tenant_id, id) ON DELETE CASCADE")
    );
    c.batch_execute("DELETE FROM guardians").unwrap();
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM kids"),
        0,
        "cascade works"
    );
    assert_eq!(status(&apply(&mut c, &v2)), "noop");
}
