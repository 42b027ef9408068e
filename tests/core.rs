//! Issue 2 — the core, in a real database: apply, catalog, idempotency, failure, concurrency,
//! lock timeout, tenant isolation with real roles, tenant_table.

mod common;
use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn patients_payload() -> Value {
    fixture("wf106-patients.json")
}

#[test]
fn patients_apply_with_catalog_checked_then_noop_conflict_force() {
    let mut c = fresh_db("core_patients");
    let env = apply(&mut c, &patients_payload());
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["meta_out"]["success"], true);
    assert_eq!(
        env["meta_out"]["workflow_run_id"], "wr_example_001",
        "run id taken from meta"
    );
    assert_eq!(env["meta_out"]["inputs_hash"].as_str().unwrap().len(), 64);
    assert_eq!(env["meta_out"]["outputs_hash"].as_str().unwrap().len(), 64);
    let po = &env["result"]["primary_outputs"];
    assert_eq!(
        (
            po["tables_created"].as_i64(),
            po["indexes_created"].as_i64(),
            po["policies_created"].as_i64()
        ),
        (Some(1), Some(3), Some(1))
    );
    assert_eq!(env["result"]["verification"]["ok"], true);
    let log_id = po["migration_log_id"].as_str().unwrap().to_string();
    assert_eq!(
        env["audit"]["data_written"][0]["record_id"],
        log_id.as_str()
    );

    // Column order: auto columns in contract order, then the caller's.
    let cols: Vec<String> = c
        .query("SELECT column_name::text FROM information_schema.columns WHERE table_name = 'patients' ORDER BY ordinal_position", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        cols,
        [
            "id",
            "tenant_id",
            "created_at",
            "updated_at",
            "deleted_at",
            "first_name",
            "last_name",
            "phone"
        ]
    );
    let idx: Vec<String> = c
        .query(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'patients' ORDER BY indexname",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        idx,
        [
            "CREATE INDEX idx_patients_created_at ON public.patients USING btree (tenant_id, created_at)",
            "CREATE INDEX idx_patients_phone ON public.patients USING btree (phone)",
            "CREATE INDEX idx_patients_tenant_id ON public.patients USING btree (tenant_id)",
            "CREATE UNIQUE INDEX patients_pkey ON public.patients USING btree (id)",
        ]
    );
    let row = c.query_one("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'patients'::regclass", &[]).unwrap();
    assert!(
        row.get::<_, bool>(0) && row.get::<_, bool>(1),
        "RLS enabled and forced"
    );
    let pol = c
        .query_one("SELECT polcmd::text, pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) FROM pg_policy WHERE polrelid = 'patients'::regclass", &[])
        .unwrap();
    let want = "(tenant_id = ( SELECT (revos.current_tenant_id())::uuid AS current_tenant_id))";
    assert_eq!(
        (
            pol.get::<_, String>(0),
            pol.get::<_, String>(1),
            pol.get::<_, String>(2)
        ),
        ("*".into(), want.into(), want.into())
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'patients'::regclass AND tgname = 'revos_touch_updated_at'"), 1);

    // The ledger row.
    let r = c
        .query_one("SELECT version, status, tenant_id, workflow_run_id, length(checksum), sql_script LIKE 'CREATE TABLE \"public\".\"patients\"%' FROM revos.schema_migrations WHERE id = $1::text::uuid", &[&log_id])
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "001");
    assert_eq!(r.get::<_, String>(1), "applied");
    assert_eq!(r.get::<_, Option<String>>(2).as_deref(), Some("t_001"));
    assert_eq!(
        r.get::<_, Option<String>>(3).as_deref(),
        Some("wr_example_001")
    );
    assert_eq!(r.get::<_, i32>(4), 64);
    assert!(r.get::<_, bool>(5));

    // Same schema again -> noop, nothing runs.
    let env = apply(&mut c, &patients_payload());
    assert_eq!(status(&env), "noop", "{env:#}");
    assert!(env["result"]["already_applied_at"].is_string());
    // Same schema, other key order, name casing and whitespace -> same hash -> noop.
    let reordered = json!({"tables": [{"indexes": [{"columns": ["phone"], "name": "idx_patients_phone"}], "columns": [
            {"not_null": true, "type": "text", "name": "firstName"}, {"type": " TEXT", "name": "LastName", "not_null": true},
            {"type": "text", "name": "Phone"}], "name": "Patients"}],
        "description": "other words", "schema_version": "001"});
    assert_eq!(status(&apply(&mut c, &reordered)), "noop");
    // Same version, other content -> conflict, nothing runs.
    let mut changed = patients_payload();
    changed["payload"]["tables"][0]["columns"][2]["type"] = json!("varchar(20)");
    let env = apply(&mut c, &changed);
    assert_eq!(status(&env), "conflict", "{env:#}");
    assert_eq!(env["meta_out"]["success"], false);
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM revos.schema_migrations"),
        1
    );
    // force_apply: the change is applied (a type change is a risk, so allow it too).
    changed["payload"]["force_apply"] = json!(true);
    let env = apply(&mut c, &changed);
    assert_eq!(status(&env), "blocked", "type change is risky: {env:#}");
    assert_eq!(env["result"]["risks"][0]["code"], "type_change");
    changed["payload"]["options"] = json!({"allow_destructive": true});
    let env = apply(&mut c, &changed);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(text(&mut c, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'patients'::regclass AND attname = 'phone'").as_deref(), Some("character varying(20)"));
    assert_eq!(count(&mut c, "SELECT count(*) FROM revos.schema_migrations WHERE version = '001' AND status = 'applied'"), 2);
}

#[test]
fn smoke_test_002_applies_with_snake_case() {
    let mut c = fresh_db("core_smoke");
    let env = apply(&mut c, &fixture("smoke-test-002.json"));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = 'test_success'"), 1);
    assert_eq!(
        text(&mut c, "SELECT version FROM revos.schema_migrations").as_deref(),
        Some("test-002")
    );
}

#[test]
fn execution_failure_rolls_back_everything_and_records_failed() {
    let mut c = fresh_db("core_failed");
    assert_eq!(status(&apply(&mut c, &patients_payload())), "applied");
    c.batch_execute(
        "SET app.current_tenant_id = '11111111-1111-1111-1111-111111111111';
         INSERT INTO patients (first_name, last_name, phone) VALUES ('a', 'b', '555'), ('c', 'd', '555');",
    )
    .unwrap();
    // v002 adds a new table, a column, and a unique index that the existing rows violate.
    let env = apply(
        &mut c,
        &json!({"schema_version": "002", "description": "unique phones", "tables": [
            {"name": "patients", "columns": [{"name": "first_name", "type": "text", "not_null": true}, {"name": "last_name", "type": "text", "not_null": true},
                                              {"name": "phone", "type": "text"}, {"name": "nickname", "type": "text"}],
             "indexes": [{"name": "idx_patients_phone", "columns": ["phone"]}, {"name": "uq_patients_phone", "columns": ["phone"], "unique": true}]},
            {"name": "visits", "columns": [{"name": "patient_id", "type": "uuid", "references": "patients"}]}]}),
    );
    assert_eq!(status(&env), "failed", "{env:#}");
    assert_eq!(env["result"]["error"]["sqlstate"], "23505");
    assert_eq!(env["meta_out"]["success"], false);
    // Nothing half-applied: no new table, no new column, no new index.
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relname IN ('visits', 'uq_patients_phone')"
        ),
        0
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'patients'::regclass AND attname = 'nickname'"), 0);
    let r = c.query_one("SELECT status, sqlstate, error_message FROM revos.schema_migrations WHERE version = '002'", &[]).unwrap();
    assert_eq!(r.get::<_, String>(0), "failed");
    assert_eq!(r.get::<_, Option<String>>(1).as_deref(), Some("23505"));
    assert!(r
        .get::<_, Option<String>>(2)
        .unwrap()
        .contains("uq_patients_phone"));
    // The caller's transaction is still usable, and a fixed v002 applies.
    assert_eq!(count(&mut c, "SELECT 1::bigint"), 1);
}

#[test]
fn plan_schema_executes_and_records_nothing() {
    let mut c = fresh_db("core_plan");
    let env = plan(&mut c, &patients_payload());
    assert_eq!(status(&env), "planned", "{env:#}");
    let sql = env["result"]["plan"]["sql"].as_str().unwrap();
    assert!(
        sql.starts_with("CREATE TABLE \"public\".\"patients\""),
        "{sql}"
    );
    assert!(sql.contains("CREATE POLICY"));
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relname = 'patients'"
        ),
        0
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM revos.schema_migrations"),
        0
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM revos.events"), 0);
    // The plan's checksum is the one apply records for the same SQL.
    let checksum = env["result"]["primary_outputs"]["checksum"].clone();
    let applied = apply(&mut c, &patients_payload());
    assert_eq!(applied["result"]["primary_outputs"]["checksum"], checksum);
}

#[test]
fn eight_concurrent_callers_exactly_one_applies() {
    let mut c = fresh_db("core_concurrent");
    drop(c.batch_execute("SELECT 1"));
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let b = barrier.clone();
            std::thread::spawn(move || {
                let mut c = connect("core_concurrent");
                let payload = fixture("erp-agent.json");
                b.wait();
                let env = apply(&mut c, &payload);
                status(&env).to_string()
            })
        })
        .collect();
    let mut statuses: Vec<String> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        ["applied", "noop", "noop", "noop", "noop", "noop", "noop", "noop"]
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM revos.schema_migrations"),
        1
    );
}

#[test]
fn a_locked_table_fails_the_call_within_the_lock_timeout() {
    let mut c = fresh_db("core_locked");
    assert_eq!(status(&apply(&mut c, &patients_payload())), "applied");
    let mut holder = connect("core_locked");
    holder
        .batch_execute("BEGIN; LOCK TABLE patients IN ACCESS EXCLUSIVE MODE;")
        .unwrap();
    let t0 = Instant::now();
    let env = apply(
        &mut c,
        &json!({"schema_version": "002", "description": "add column", "options": {"lock_timeout_ms": 700},
                "tables": [{"name": "patients", "columns": [{"name": "first_name", "type": "text", "not_null": true},
                    {"name": "last_name", "type": "text", "not_null": true}, {"name": "phone", "type": "text"}, {"name": "email", "type": "text"}],
                    "indexes": [{"name": "idx_patients_phone", "columns": ["phone"]}]}]}),
    );
    let took = t0.elapsed();
    holder.batch_execute("ROLLBACK").unwrap();
    assert_eq!(status(&env), "failed", "{env:#}");
    assert_eq!(
        env["result"]["error"]["sqlstate"], "55P03",
        "lock_not_available"
    );
    assert!(
        took < Duration::from_secs(5),
        "returned after {took:?}, lock timeout was 700 ms"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM revos.schema_migrations WHERE version = '002' AND status = 'failed'"), 1);
}

const T1: &str = "11111111-1111-1111-1111-111111111111";
const T2: &str = "22222222-2222-2222-2222-222222222222";

#[test]
fn tenant_isolation_for_an_app_role_and_the_owner() {
    let mut su = fresh_db("core_tenancy");
    ensure_role(&mut su, "revos_test_owner", "");
    ensure_role(&mut su, "revos_test_app", "");
    su.batch_execute(
        "GRANT revos_admin TO revos_test_owner;
         GRANT CREATE ON SCHEMA public TO revos_test_owner;",
    )
    .unwrap();
    // The schema is applied by a non-superuser (superusers bypass RLS; owners do not under FORCE).
    let mut owner = connect_as("core_tenancy", "revos_test_owner");
    assert_eq!(status(&apply(&mut owner, &patients_payload())), "applied");
    owner
        .batch_execute("GRANT SELECT, INSERT, UPDATE, DELETE ON patients TO revos_test_app")
        .unwrap();

    let mut app = connect_as("core_tenancy", "revos_test_app");
    // Each tenant inserts its rows; tenant_id comes from the default.
    for (t, n) in [(T1, 3), (T2, 2)] {
        let mut tx = app.transaction().unwrap();
        tx.query_one("SELECT revos.set_tenant($1)", &[&t]).unwrap();
        for i in 0..n {
            tx.execute(
                "INSERT INTO patients (first_name, last_name) VALUES ($1, 'x')",
                &[&format!("p{i}")],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let seen = |c: &mut postgres::Client, tenant: Option<&str>| -> (i64, i64) {
        let mut tx = c.transaction().unwrap();
        if let Some(t) = tenant {
            tx.query_one("SELECT revos.set_tenant($1)", &[&t]).unwrap();
        }
        let r = tx.query_one("SELECT count(*), count(*) FILTER (WHERE tenant_id::text <> coalesce(revos.current_tenant_id(), '')) FROM patients", &[]).unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(
        seen(&mut app, Some(T1)),
        (3, 0),
        "tenant 1 sees its 3 rows and no other"
    );
    assert_eq!(seen(&mut app, Some(T2)), (2, 0));
    assert_eq!(seen(&mut app, None), (0, 0), "no tenant -> no rows");
    assert_eq!(
        seen(&mut owner, None),
        (0, 0),
        "the owner is fenced too (FORCE)"
    );
    assert_eq!(seen(&mut owner, Some(T2)), (2, 0));
    assert_eq!(
        count(&mut su, "SELECT count(*) FROM patients"),
        5,
        "the superuser sees everything (it bypasses RLS)"
    );

    // set_tenant lasts for the transaction only.
    assert_eq!(text(&mut app, "SELECT revos.current_tenant_id()"), None);

    // No tenant -> cannot insert.
    let e = app
        .execute(
            "INSERT INTO patients (first_name, last_name) VALUES ('n', 'o')",
            &[],
        )
        .unwrap_err();
    // The default is NULL without a tenant; the policy's WITH CHECK (run before NOT NULL) refuses it.
    assert_eq!(sqlstate(&e), "42501", "no tenant, no insert: {e}");
    // Writing into another tenant is refused; updating/deleting another tenant's rows touches none.
    let mut tx = app.transaction().unwrap();
    tx.query_one("SELECT revos.set_tenant($1)", &[&T1]).unwrap();
    let e = tx
        .execute(
            &format!(
                "INSERT INTO patients (tenant_id, first_name, last_name) VALUES ('{T2}', 'n', 'o')"
            ),
            &[],
        )
        .unwrap_err();
    assert_eq!(
        sqlstate(&e),
        "42501",
        "WITH CHECK refuses another tenant: {e}"
    );
    drop(tx);
    let mut tx = app.transaction().unwrap();
    tx.query_one("SELECT revos.set_tenant($1)", &[&T1]).unwrap();
    assert_eq!(
        tx.execute(
            &format!("UPDATE patients SET last_name = 'hacked' WHERE tenant_id = '{T2}'"),
            &[]
        )
        .unwrap(),
        0
    );
    assert_eq!(
        tx.execute(
            &format!("DELETE FROM patients WHERE tenant_id = '{T2}'"),
            &[]
        )
        .unwrap(),
        0
    );
    let e = tx
        .execute(&format!("UPDATE patients SET tenant_id = '{T2}'"), &[])
        .unwrap_err();
    assert_eq!(
        sqlstate(&e),
        "42501",
        "moving rows to another tenant is refused: {e}"
    );
    drop(tx);
    assert_eq!(
        count(
            &mut su,
            "SELECT count(*) FROM patients WHERE last_name = 'hacked'"
        ),
        0
    );

    // The JWT claim PostgREST sets works as a tenant source, top level and app_metadata.
    for claims in [
        json!({"tenant_id": T2}),
        json!({"app_metadata": {"tenant_id": T2}}),
    ] {
        let mut tx = app.transaction().unwrap();
        tx.query_one(
            "SELECT set_config('request.jwt.claims', $1, true)",
            &[&claims.to_string()],
        )
        .unwrap();
        assert_eq!(
            tx.query_one("SELECT count(*) FROM patients", &[])
                .unwrap()
                .get::<_, i64>(0),
            2,
            "{claims}"
        );
    }
    // app.current_tenant_id wins over claims; empty strings count as unset; bad JSON is unset.
    let mut tx = app.transaction().unwrap();
    tx.batch_execute(&format!("SELECT set_config('request.jwt.claims', '{{\"tenant_id\": \"{T2}\"}}', true); SELECT revos.set_tenant('{T1}')")).unwrap();
    assert_eq!(
        tx.query_one("SELECT revos.current_tenant_id()", &[])
            .unwrap()
            .get::<_, Option<String>>(0)
            .as_deref(),
        Some(T1)
    );
    tx.batch_execute(
        "SELECT revos.set_tenant(''); SELECT set_config('request.jwt.claims', 'not json', true)",
    )
    .unwrap();
    assert_eq!(
        tx.query_one("SELECT revos.current_tenant_id()", &[])
            .unwrap()
            .get::<_, Option<String>>(0),
        None
    );
    drop(tx);

    // An app role cannot change the schema through revos.
    let e = app
        .query_one(
            "SELECT revos.apply_schema($1::jsonb)",
            &[&patients_payload()],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42501", "{e}");
}

#[test]
fn tenant_table_creates_and_retrofits() {
    let mut c = fresh_db("core_tenant_table");
    let env: Value = c
        .query_one(
            "SELECT revos.tenant_table('crm.Leads', $1::jsonb, '{\"comment\": \"sales leads\"}')",
            &[&json!([{"name": "email", "type": "text", "not_null": true}])],
        )
        .unwrap()
        .get(0);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["meta_out"]["workflow_name"], "revos.tenant_table");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_policy WHERE polrelid = 'crm.leads'::regclass"
        ),
        1
    );
    assert_eq!(
        text(&mut c, "SELECT obj_description('crm.leads'::regclass)").as_deref(),
        Some("sales leads")
    );
    let again: Value = c
        .query_one(
            "SELECT revos.tenant_table('crm.Leads', $1::jsonb, '{\"comment\": \"sales leads\"}')",
            &[&json!([{"name": "email", "type": "text", "not_null": true}])],
        )
        .unwrap()
        .get(0);
    assert_eq!(status(&again), "noop");

    // Retrofit a plain table that has rows (its own integer id and primary key are kept).
    c.batch_execute("CREATE TABLE legacy (id serial PRIMARY KEY, name text); INSERT INTO legacy (name) VALUES ('a'), ('b');").unwrap();
    let env: Value = c
        .query_one("SELECT revos.tenant_table('legacy')", &[])
        .unwrap()
        .get(0);
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(
        env["result"]["validation_errors"][0]["code"],
        "backfill_required"
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'legacy'::regclass AND attname = 'tenant_id'"), 0);
    let env: Value = c
        .query_one(
            "SELECT revos.tenant_table('legacy', '[]', $1::jsonb)",
            &[&json!({"backfill_tenant": T1})],
        )
        .unwrap()
        .get(0);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(
        count(
            &mut c,
            &format!("SELECT count(*) FROM legacy WHERE tenant_id = '{T1}'")
        ),
        2,
        "existing rows got the tenant"
    );
    let r = c.query_one("SELECT relrowsecurity AND relforcerowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = 'legacy'::regclass) FROM pg_class WHERE oid = 'legacy'::regclass", &[]).unwrap();
    assert!(r.get::<_, bool>(0));
    assert_eq!(r.get::<_, i64>(1), 1);
    assert_eq!(text(&mut c, "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'legacy'::regclass AND attname = 'id'").as_deref(), Some("integer"));
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_attribute WHERE attrelid = 'legacy'::regclass AND attname IN ('created_at', 'updated_at', 'deleted_at')"), 3);
    assert_eq!(count(&mut c, "SELECT count(*) FROM pg_indexes WHERE tablename = 'legacy' AND indexname IN ('idx_legacy_tenant_id', 'idx_legacy_created_at')"), 2);
}

#[test]
fn invalid_input_is_blocked_with_every_problem_and_nothing_runs() {
    let mut c = fresh_db("core_blocked");
    c.batch_execute("CREATE TABLE sentinel (x int); INSERT INTO sentinel VALUES (1);")
        .unwrap();
    let env = apply(
        &mut c,
        &json!({"schema_version": "001", "description": "bad", "tables": [
            {"name": "x\"; DROP TABLE sentinel; --", "columns": [{"name": "a", "type": "text", "default": "1); DROP TABLE sentinel; --"}]},
            {"name": "ok", "columns": [{"name": "b", "type": "not_a_type"}, {"name": "c", "type": "int", "check": "c > 0; DROP TABLE sentinel"},
                                        {"name": "d", "type": "uuid", "references": "nowhere"}],
             "indexes": [{"columns": ["ghost"]}, {"columns": ["c"], "where": "true) OR (1=1"}]}]}),
    );
    assert_eq!(status(&env), "blocked", "{env:#}");
    let errs: Vec<(String, String)> = env["result"]["validation_errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["path"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in [
        ("tables[0].name", "invalid_name"),
        ("tables[0].columns[0].default", "invalid_expression"),
        ("tables[1].columns[0].type", "unknown_type"),
        ("tables[1].columns[1].check", "invalid_expression"),
        ("tables[1].columns[2].references.table", "unknown_reference"),
        ("tables[1].indexes[0].columns", "unknown_column"),
        ("tables[1].indexes[1].where", "invalid_expression"),
    ] {
        assert!(
            errs.contains(&(want.0.to_string(), want.1.to_string())),
            "missing {want:?} in {errs:#?}"
        );
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM sentinel"), 1);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_tables WHERE tablename = 'ok'"
        ),
        0
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM revos.schema_migrations"),
        0
    );
    // Postgres' own parser decides what an expression is.
    let env = apply(
        &mut c,
        &json!({"schema_version": "002", "description": "d", "tables": [{"name": "t", "columns": [
        {"name": "a", "type": "int", "default": "1 +"}, {"name": "b", "type": "int", "default": "(SELECT 1 FROM sentinel)"},
        {"name": "c", "type": "record"}]}]}),
    );
    let errs = env["result"]["validation_errors"].to_string();
    assert!(
        errs.contains("tables[0].columns[0].default") && errs.contains("syntax error"),
        "{errs}"
    );
    assert!(
        errs.contains("tables[0].columns[2].type") && errs.contains("pseudo-type"),
        "{errs}"
    );
    // A subquery is one expression to the parser; Postgres itself refuses it in DEFAULT at execution.
    assert!(!errs.contains("tables[0].columns[1].default"), "{errs}");
    // A payload that is not an object at all.
    let env = apply(&mut c, &json!([1, 2]));
    assert_eq!(status(&env), "blocked");
    assert_eq!(env["result"]["validation_errors"][0]["code"], "wrong_type");
}

#[test]
fn response_status_is_set_under_postgrest() {
    let mut c = fresh_db("core_postgrest");
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SELECT set_config('request.method', 'POST', true)")
        .unwrap();
    let env: Value = tx
        .query_one(
            "SELECT revos.apply_schema($1::jsonb)",
            &[&json!({"schema_version": "1"})],
        )
        .unwrap()
        .get(0);
    assert_eq!(status(&env), "blocked");
    let s: Option<String> = tx
        .query_one("SELECT current_setting('response.status', true)", &[])
        .unwrap()
        .get(0);
    assert_eq!(s.as_deref(), Some("400"));
    tx.query_one(
        "SELECT revos.apply_schema($1::jsonb)",
        &[&patients_payload()],
    )
    .unwrap();
    let s: Option<String> = tx
        .query_one("SELECT current_setting('response.status', true)", &[])
        .unwrap()
        .get(0);
    assert_eq!(s.as_deref(), Some("200"));
    drop(tx);
    // Outside PostgREST nothing is set.
    let s: Option<String> = c
        .query_one(
            "SELECT nullif(current_setting('response.status', true), '')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(s, None);
}

#[test]
fn privileges_admin_changes_schemas_app_logs_events_public_neither() {
    let mut su = fresh_db("core_privileges");
    ensure_role(&mut su, "revos_priv_admin", "");
    ensure_role(&mut su, "revos_priv_app", "");
    ensure_role(&mut su, "revos_priv_nobody", "");
    su.batch_execute(
        "GRANT revos_admin TO revos_priv_admin; GRANT CREATE ON SCHEMA public TO revos_priv_admin;
         GRANT revos_app TO revos_priv_app;",
    )
    .unwrap();
    let event = json!({"event_type": "call.completed", "tenant_id": T1, "payload": {"secs": 42}});
    for (role, can_apply, can_log) in [
        ("revos_priv_admin", true, true),
        ("revos_priv_app", false, true),
        ("revos_priv_nobody", false, false),
    ] {
        let mut c = connect_as("core_privileges", role);
        let applied = c.query_one(
            "SELECT revos.apply_schema($1::jsonb)",
            &[&fixture("smoke-test-002.json")],
        );
        assert_eq!(
            applied.is_ok(),
            can_apply,
            "{role} apply_schema: {applied:?}"
        );
        if let Err(e) = applied {
            assert_eq!(sqlstate(&e), "42501", "{role}");
        }
        let planned = c.query_one(
            "SELECT revos.plan_schema($1::jsonb)",
            &[&fixture("smoke-test-002.json")],
        );
        assert_eq!(planned.is_ok(), can_apply, "{role} plan_schema");
        let logged = c.query_one("SELECT revos.log_event($1::jsonb)", &[&event]);
        assert_eq!(logged.is_ok(), can_log, "{role} log_event: {logged:?}");
        // everyone can use the tenant functions (every policy calls current_tenant_id)
        let mut tx = c.transaction().unwrap();
        tx.query_one("SELECT revos.set_tenant($1)", &[&T1]).unwrap();
        let t: Option<String> = tx
            .query_one("SELECT revos.current_tenant_id()", &[])
            .unwrap()
            .get(0);
        assert_eq!(t.as_deref(), Some(T1));
        drop(tx);
        // nobody but revos writes the ledger tables directly
        let e = c
            .execute(
                "INSERT INTO revos.events (event_type) VALUES ('forged')",
                &[],
            )
            .unwrap_err();
        assert_eq!(sqlstate(&e), "42501", "{role}");
    }
    // the admin's table is owned by the admin: DDL ran as the caller, not as a definer
    let owner: String = su
        .query_one(
            "SELECT tableowner::text FROM pg_tables WHERE tablename = 'test_success'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(owner, "revos_priv_admin");
}
