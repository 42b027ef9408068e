//! Issue 3 — the schema language in a real database: erp-agent, tenant-consistent foreign keys,
//! each feature, declarative changes to existing tables, scale, and verification.

mod common;
use common::*;
use serde_json::{json, Value};

const T1: &str = "11111111-1111-1111-1111-111111111111";
const T2: &str = "22222222-2222-2222-2222-222222222222";

#[test]
fn erp_agent_applies_in_one_call_with_catalog_counts() {
    let mut c = fresh_db("lang_erp");
    let env = apply(&mut c, &fixture("erp-agent.json"));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["result"]["verification"]["ok"], true);
    assert!(
        env["result"]["verification"]["objects_checked"]
            .as_i64()
            .unwrap()
            > 500
    );
    let n = |c: &mut postgres::Client, sql: &str| count(c, sql);
    assert_eq!(
        n(
            &mut c,
            "SELECT count(*) FROM pg_tables WHERE schemaname IN ('erp', 'agent')"
        ),
        38
    );
    // every `references` in the payload is a foreign key (cross-schema, self, cyclic)
    let refs = fixture("erp-agent.json")["tables"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t["columns"].as_array().unwrap().iter())
        .filter(|c| c.get("references").is_some())
        .count() as i64;
    assert_eq!(refs, 34);
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_constraint co JOIN pg_namespace s ON s.oid = co.connamespace WHERE co.contype = 'f' AND s.nspname IN ('erp', 'agent')"), refs);
    // the cycle agent.facts <-> agent.events
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'agent.events'::regclass AND confrelid = 'agent.facts'::regclass"), 1);
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'agent.facts'::regclass AND confrelid = 'agent.events'::regclass"), 1);
    // cross-schema
    assert!(n(&mut c, "SELECT count(*) FROM pg_constraint co JOIN pg_class a ON a.oid = co.conrelid JOIN pg_class b ON b.oid = co.confrelid WHERE co.contype = 'f' AND a.relnamespace <> b.relnamespace") > 0);
    // generated column
    assert_eq!(text(&mut c, "SELECT attgenerated::text FROM pg_attribute WHERE attrelid = 'erp.execution_runs'::regclass AND attname = 'variance_pct'").as_deref(), Some("s"));
    // composite primary key, no id column
    assert_eq!(n(&mut c, "SELECT array_length(conkey, 1)::bigint FROM pg_constraint WHERE conrelid = 'agent.profile_tools'::regclass AND contype = 'p'"), 2);
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'agent.profile_tools'::regclass AND attname = 'id'"), 0);
    // partial unique index
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_index WHERE indexrelid = 'agent.uq_block_actions_default'::regclass AND indisunique AND indpred IS NOT NULL"), 1);
    // gin index
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'erp' AND tablename = 'tasks' AND indexdef LIKE '%USING gin (tags)%'"), 1);
    // non-tenant tables: no tenant column, no RLS, no policy
    for t in ["agent.tools", "agent.prompt_templates"] {
        assert_eq!(n(&mut c, &format!("SELECT count(*) FROM pg_attribute WHERE attrelid = '{t}'::regclass AND attname = 'tenant_id'")), 0, "{t}");
        assert_eq!(
            n(
                &mut c,
                &format!("SELECT count(*) FROM pg_policy WHERE polrelid = '{t}'::regclass")
            ),
            0,
            "{t}"
        );
    }
    // every tenant table has its policy, RLS forced
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname IN ('erp','agent') AND c.relkind = 'r' AND c.relrowsecurity AND c.relforcerowsecurity"), 36);
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace s ON s.oid = c.relnamespace WHERE s.nspname IN ('erp','agent')"), 36);
    // a check constraint from a column and a named table check
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_constraint WHERE conrelid = 'erp.projects'::regclass AND contype = 'c' AND conname IN ('ck_projects_status', 'projects_dates_ordered')"), 2);
    // payload order does not matter: reversed, it applies too
    let mut reversed = fixture("erp-agent.json");
    reversed["tables"].as_array_mut().unwrap().reverse();
    reversed["schema_version"] = json!("erp-agent-reversed");
    let mut c2 = fresh_db("lang_erp_reversed");
    assert_eq!(status(&apply(&mut c2, &reversed)), "applied");
}

#[test]
fn foreign_keys_never_cross_tenants_and_set_null_keeps_the_tenant() {
    let mut c = fresh_db("lang_fk");
    let env = apply(
        &mut c,
        &json!({"schema_version": "1", "description": "fk", "tables": [
            {"name": "projects", "columns": [{"name": "name", "type": "text"}]},
            {"name": "tasks", "columns": [{"name": "project_id", "type": "uuid", "references": {"table": "projects", "on_delete": "set null"}},
                                           {"name": "parent_id", "type": "uuid", "references": "tasks"}]}]}),
    );
    assert_eq!(status(&env), "applied", "{env:#}");
    let p1: String = c
        .query_one(
            &format!(
                "INSERT INTO projects (tenant_id, name) VALUES ('{T1}', 'p1') RETURNING id::text"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    // Tenant 2 referencing tenant 1's project: refused by the (tenant_id, project_id) key, even for a superuser.
    let e = c
        .execute(
            &format!("INSERT INTO tasks (tenant_id, project_id) VALUES ('{T2}', '{p1}')"),
            &[],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23503", "{e}");
    // Same tenant is fine; deleting the project nulls project_id only, the tenant stays.
    let t: String = c.query_one(&format!("INSERT INTO tasks (tenant_id, project_id) VALUES ('{T1}', '{p1}') RETURNING id::text"), &[]).unwrap().get(0);
    c.execute(
        &format!("INSERT INTO tasks (tenant_id, parent_id) VALUES ('{T1}', '{t}')"),
        &[],
    )
    .unwrap();
    let e = c
        .execute(
            &format!("INSERT INTO tasks (tenant_id, parent_id) VALUES ('{T2}', '{t}')"),
            &[],
        )
        .unwrap_err();
    assert_eq!(
        sqlstate(&e),
        "23503",
        "self-reference across tenants refused: {e}"
    );
    c.execute("DELETE FROM projects", &[]).unwrap();
    let r = c
        .query_one(
            &format!("SELECT project_id IS NULL, tenant_id::text FROM tasks WHERE id = '{t}'"),
            &[],
        )
        .unwrap();
    assert!(r.get::<_, bool>(0));
    assert_eq!(r.get::<_, String>(1), T1);
    let def = text(
        &mut c,
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fk_tasks_project_id'",
    )
    .unwrap();
    assert_eq!(def, "FOREIGN KEY (tenant_id, project_id) REFERENCES projects(tenant_id, id) ON DELETE SET NULL (project_id)");
}

#[test]
fn every_language_feature() {
    let mut c = fresh_db("lang_features");
    let env = apply(
        &mut c,
        &json!({"schema_version": "1", "description": "features", "schema": "app",
            "enums": [{"name": "priority", "values": ["low", "high"]}],
            "tables": [
                {"name": "Items", "comment": "things", "columns": [
                    {"name": "sku", "type": "text", "not_null": true, "comment": "stock keeping unit"},
                    {"name": "priority", "type": "priority", "default": "'low'"},
                    {"name": "qty", "type": "integer", "check": "qty >= 0", "default": 0},
                    {"name": "price", "type": "numeric(10,2)"},
                    {"name": "total", "type": "numeric", "generated": "qty * price"},
                    {"name": "body", "type": "tsvector"},
                    {"name": "during", "type": "tstzrange"},
                    {"name": "kind", "type": "text"}, {"name": "color", "type": "text"}],
                 "unique": [["kind", "color"]],
                 "checks": [{"name": "price_positive", "expression": "price IS NULL OR price > 0"}],
                 "indexes": [
                    {"columns": ["sku"], "unique": true, "include": ["qty"]},
                    {"columns": ["kind"], "method": "hash"},
                    {"columns": ["body"], "method": "gin"},
                    {"columns": ["during"], "method": "gist"},
                    {"columns": ["created_at"], "method": "brin"},
                    {"name": "idx_items_open", "columns": ["qty"], "where": "deleted_at IS NULL AND qty > 0"}]},
                {"name": "item_codes", "primary_key": ["code", "lang"], "tenant_scoped": false, "soft_delete": false,
                 "columns": [{"name": "code", "type": "text"}, {"name": "lang", "type": "char(2)"},
                             {"name": "item_id", "type": "uuid", "references": {"table": "items", "on_delete": "cascade", "on_update": "cascade"}}]}]}),
    );
    assert_eq!(status(&env), "applied", "{env:#}");
    let n = |c: &mut postgres::Client, sql: &str| count(c, sql);
    assert_eq!(text(&mut c, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'app.items'::regclass AND attname = 'priority'").as_deref(), Some("app.priority"));
    assert_eq!(
        text(&mut c, "SELECT obj_description('app.items'::regclass)").as_deref(),
        Some("things")
    );
    assert_eq!(
        text(&mut c, "SELECT col_description('app.items'::regclass, 6)").as_deref(),
        Some("stock keeping unit")
    );
    for (method, col) in [
        ("hash", "kind"),
        ("gin", "body"),
        ("gist", "during"),
        ("brin", "created_at"),
    ] {
        assert_eq!(n(&mut c, &format!("SELECT count(*) FROM pg_indexes WHERE tablename = 'items' AND indexdef LIKE '%USING {method} ({col})%'")), 1, "{method}");
    }
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_indexes WHERE indexname = 'uq_items_sku' AND indexdef LIKE 'CREATE UNIQUE INDEX%(sku) INCLUDE (qty)'"), 1);
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_index WHERE indexrelid = 'app.idx_items_open'::regclass AND indpred IS NOT NULL"), 1);
    assert_eq!(text(&mut c, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'uq_items_kind_color'").as_deref(), Some("UNIQUE (tenant_id, kind, color)"));
    assert_eq!(text(&mut c, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'app.item_codes'::regclass AND contype = 'p'").as_deref(), Some("PRIMARY KEY (code, lang)"));
    assert_eq!(text(&mut c, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'fk_item_codes_item_id'").as_deref(),
        Some("FOREIGN KEY (item_id) REFERENCES app.items(id) ON UPDATE CASCADE ON DELETE CASCADE"), "non-tenant -> tenant table: plain key");
    // The constraints hold.
    c.batch_execute(&format!(
        "SET app.current_tenant_id = '{T1}'; SET search_path = app, public;"
    ))
    .unwrap();
    let e = c
        .execute("INSERT INTO items (sku, qty) VALUES ('a', -1)", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23514");
    let e = c
        .execute("INSERT INTO items (sku, price) VALUES ('a', 0)", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23514");
    c.execute(
        "INSERT INTO items (sku, qty, price, priority) VALUES ('a', 3, 2.5, 'high')",
        &[],
    )
    .unwrap();
    assert_eq!(
        text(&mut c, "SELECT total::text FROM items").as_deref(),
        Some("7.50")
    );
    let e = c
        .execute(
            "INSERT INTO items (sku, priority) VALUES ('b', 'urgent')",
            &[],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22P02", "not an enum value");

    // v2: a new enum value, a new column, a new index on the existing table.
    let env = apply(
        &mut c,
        &json!({"schema_version": "2", "description": "more", "schema": "app",
            "enums": [{"name": "priority", "values": ["low", "high", "urgent"]}],
            "tables": [{"name": "items", "columns": [{"name": "sku", "type": "text", "not_null": true}, {"name": "note", "type": "text"}],
                        "indexes": [{"columns": ["note"]}]}]}),
    );
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(text(&mut c, "SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'app.priority'::regtype").as_deref(), Some("low,high,urgent"));
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'app.items'::regclass AND attname = 'note'"), 1);
    assert_eq!(
        n(
            &mut c,
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_items_note'"
        ),
        1
    );
    let warnings = env["result"]["primary_outputs"]["warnings"].to_string();
    assert!(
        warnings.contains("app.items\\\".\\\"price") || warnings.contains("price"),
        "columns not in the spec are reported, never dropped: {warnings}"
    );
    assert_eq!(n(&mut c, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'app.items'::regclass AND attname = 'price' AND NOT attisdropped"), 1);
}

fn patients(version: &str, phone_type: &str, extra: Value) -> Value {
    let mut cols = vec![
        json!({"name": "name", "type": "text"}),
        json!({"name": "phone", "type": phone_type}),
    ];
    if let Value::Array(more) = extra {
        cols.extend(more);
    }
    json!({"schema_version": version, "description": "p", "tables": [{"name": "patients", "columns": cols}]})
}

#[test]
fn existing_tables_are_diffed_and_risky_changes_blocked() {
    let mut c = fresh_db("lang_diff");
    assert_eq!(
        status(&apply(&mut c, &patients("1", "text", json!([])))),
        "applied"
    );
    c.batch_execute(&format!("INSERT INTO patients (tenant_id, name, phone) VALUES ('{T1}', 'a', '123'), ('{T1}', NULL, '456')")).unwrap();
    // add a column and an index
    let mut v2 = patients("2", "text", json!([{"name": "email", "type": "text"}]));
    v2["tables"][0]["indexes"] = json!([{"columns": ["email"]}]);
    let p = plan(&mut c, &v2);
    let sql = p["result"]["plan"]["sql"].as_str().unwrap();
    assert_eq!(sql, "ALTER TABLE \"public\".\"patients\" ADD COLUMN \"email\" text;\nCREATE INDEX \"idx_patients_email\" ON \"public\".\"patients\" USING btree (\"email\");\n");
    assert_eq!(status(&apply(&mut c, &v2)), "applied");
    // type change: blocked with risks, nothing runs; then allowed
    let v3 = patients("3", "bigint", json!([{"name": "email", "type": "text"}]));
    let env = apply(&mut c, &v3);
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(env["result"]["risks"][0]["code"], "type_change");
    assert_eq!(
        env["result"]["risks"][0]["path"],
        "tables[0].columns[1].type"
    );
    let planned = plan(&mut c, &v3);
    assert_eq!(
        planned["result"]["risks"][0]["code"], "type_change",
        "plan_schema shows risks"
    );
    assert_eq!(text(&mut c, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'patients'::regclass AND attname = 'phone'").as_deref(), Some("text"));
    let mut v3 = v3;
    v3["options"] = json!({"allow_destructive": true});
    // without `using`, Postgres's assignment conversion: text has none to bigint, so it refuses
    // (42804) and nothing changes — revos never writes an explicit cast of its own. The payload
    // asks for what PostgreSQL refuses: blocked, at the column's type, with a hint (issue 20)
    let env = apply(&mut c, &v3);
    assert_eq!(status(&env), "blocked", "{env:#}");
    let e = &env["result"]["validation_errors"][0];
    assert_eq!(e["path"], "tables[0].columns[1].type", "{env:#}");
    assert!(
        e["message"].as_str().unwrap().contains("SQLSTATE 42804"),
        "{env:#}"
    );
    assert!(e["hint"].as_str().unwrap().contains("\"using\""), "{env:#}");
    assert_eq!(text(&mut c, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'patients'::regclass AND attname = 'phone'").as_deref(), Some("text"));
    v3["tables"][0]["columns"][1]["using"] = json!("phone::bigint");
    assert_eq!(status(&apply(&mut c, &v3)), "applied");
    assert_eq!(text(&mut c, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'patients'::regclass AND attname = 'phone'").as_deref(), Some("bigint"));
    assert_eq!(
        count(&mut c, "SELECT sum(phone)::bigint FROM patients"),
        579,
        "data converted"
    );
    // NOT NULL on a column holding NULLs: a risk; allowed, it fails at execution and rolls back
    let mut v4 = patients("4", "bigint", json!([{"name": "email", "type": "text"}]));
    v4["tables"][0]["columns"][0]["not_null"] = json!(true);
    let env = apply(&mut c, &v4);
    assert_eq!(env["result"]["risks"][0]["code"], "set_not_null", "{env:#}");
    v4["options"] = json!({"allow_destructive": true});
    let env = apply(&mut c, &v4);
    assert_eq!(status(&env), "failed", "{env:#}");
    assert_eq!(env["result"]["error"]["sqlstate"], "23502");
    // a column dropped from the spec is kept, with a warning
    let v5 = patients("5", "bigint", json!([]));
    let env = apply(&mut c, &v5);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert!(env["result"]["primary_outputs"]["warnings"]
        .to_string()
        .contains("email"));
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'patients'::regclass AND attname = 'email' AND NOT attisdropped"), 1);
}

/// A schema the size of the user's "gold standard": 123 tables, 20 enums, 250+ indexes.
pub fn big_schema(tables: usize, enums: usize) -> Value {
    let enums_json: Vec<Value> = (0..enums)
        .map(|e| json!({"name": format!("kind_{e}"), "values": ["a", "b", "c", format!("v{e}")]}))
        .collect();
    let tables_json: Vec<Value> = (0..tables)
        .map(|i| {
            let mut cols = vec![
                json!({"name": "title", "type": "text", "not_null": true}),
                json!({"name": "kind", "type": format!("kind_{}", i % enums.max(1))}),
                json!({"name": "amount", "type": "numeric(12,2)", "check": "amount >= 0"}),
                json!({"name": "payload", "type": "jsonb", "default": "'{}'::jsonb"}),
                json!({"name": "code", "type": "text", "unique": true}),
            ];
            if i > 0 {
                cols.push(json!({"name": "parent_id", "type": "uuid", "references": format!("t_{:03}", i / 2)}));
            }
            json!({"name": format!("t_{i:03}"), "columns": cols,
                   "indexes": [{"columns": ["title"]}, {"columns": ["payload"], "method": "gin"}]})
        })
        .collect();
    json!({"schema_version": format!("big-{tables}"), "description": "generated", "enums": enums_json, "tables": tables_json})
}

#[test]
fn a_123_table_schema_applies_in_one_transaction() {
    let mut c = fresh_db("lang_big");
    let env = apply(&mut c, &big_schema(123, 20));
    assert_eq!(status(&env), "applied", "{env:#}");
    let po = &env["result"]["primary_outputs"];
    assert_eq!(po["tables_created"], 123);
    assert_eq!(po["enums_created"], 20);
    // revos's 2 default indexes + the caller's 2, per table
    assert_eq!(po["indexes_created"], 123 * 4, "{po}");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_tables WHERE tablename LIKE 't\\_%'"
        ),
        123
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_type WHERE typname LIKE 'kind\\_%' AND typtype = 'e'"
        ),
        20
    );
    // + the primary key and the (tenant_id, code) unique key of each table; (tenant_id, id) keys for references
    assert!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_indexes WHERE tablename LIKE 't\\_%'"
        ) >= 123 * 6
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM revos.schema_migrations"),
        1,
        "one call, one ledger row"
    );
    assert_eq!(status(&apply(&mut c, &big_schema(123, 20))), "noop");
}

#[test]
fn verification_catches_a_catalog_that_differs_from_the_spec() {
    let mut c = fresh_db("lang_verify");
    // A saboteur: drops every policy as soon as it is created.
    c.batch_execute(
        "CREATE FUNCTION saboteur() RETURNS event_trigger LANGUAGE plpgsql AS $$
         DECLARE r record;
         BEGIN
           FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE POLICY' LOOP
             EXECUTE 'DROP POLICY revos_tenant_isolation ON ' || (SELECT string_agg(x, '.') FROM (SELECT unnest(string_to_array(r.object_identity, ' on ')) x OFFSET 1) s);
           END LOOP;
         END $$;
         CREATE EVENT TRIGGER saboteur ON ddl_command_end WHEN TAG IN ('CREATE POLICY') EXECUTE FUNCTION saboteur();",
    )
    .unwrap();
    let env = apply(&mut c, &fixture("wf106-patients.json"));
    assert_eq!(status(&env), "failed", "{env:#}");
    let msg = env["result"]["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("verification failed") && msg.contains("tenant policy on public.patients"),
        "{msg}"
    );
    assert_eq!(env["result"]["error"]["sqlstate"], "P0004");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relname = 'patients'"
        ),
        0,
        "rolled back"
    );
    assert_eq!(
        text(&mut c, "SELECT status FROM revos.schema_migrations").as_deref(),
        Some("failed")
    );
    c.batch_execute("DROP EVENT TRIGGER saboteur").unwrap();
    assert_eq!(
        status(&apply(&mut c, &fixture("wf106-patients.json"))),
        "applied"
    );
}
