//! Issue 20 — usable from the README alone: plan_schema rehearses the plan (what apply would fail
//! on is a validation error with a path and a hint), the plan as text, renames that carry every
//! derived name, loud no-ops, conflicts that say what differs, one error channel with sensible
//! HTTP statuses, set_tenant that refuses a bad tenant, one envelope shape, tables usable by
//! revos_app, and one clear error for a whole n8n item.

mod common;
use common::*;
use postgres::{Client, NoTls};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

fn errors(env: &Value) -> Vec<Value> {
    env["result"]["validation_errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn ledger_rows(c: &mut Client) -> i64 {
    count(c, "SELECT count(*) FROM revos.schema_migrations")
}

fn invoices_with(check: &str) -> Value {
    json!({"schema_version": "004", "description": "invoices",
           "tables": [{"name": "invoices", "columns": [{"name": "total", "type": "bigint"}],
                       "checks": [{"expression": check}]}]})
}

/// A check naming a column the table does not have: plan_schema reports it (it used to answer
/// `planned`), with the path of the check and the table's columns as the hint; apply_schema
/// answers the same, before anything is kept or recorded.
#[test]
fn plan_schema_reports_what_apply_would_fail_on() {
    let mut c = fresh_db("usab_rehearse");
    let payload = invoices_with("amount_cents > 0");
    for (call, env) in [
        ("plan", plan(&mut c, &payload)),
        ("apply", apply(&mut c, &payload)),
    ] {
        assert_eq!(status(&env), "blocked", "{call}: {env:#}");
        let e = &errors(&env)[0];
        assert_eq!(
            e["path"], "tables[0].checks[0].expression",
            "{call}: {env:#}"
        );
        assert_eq!(e["code"], "unknown_column", "{call}");
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("column \"amount_cents\" does not exist"),
            "{call}: {e}"
        );
        assert!(e["hint"].as_str().unwrap().contains("total"), "{call}: {e}");
        assert!(
            env["result"]["summary"]
                .as_str()
                .unwrap()
                .contains("tables[0].checks[0].expression"),
            "the first error in the summary: {env:#}"
        );
    }
    assert_eq!(ledger_rows(&mut c), 0, "nothing recorded");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relname = 'invoices'"
        ),
        0
    );

    // the same payload, correct: planned, and the rehearsal left nothing behind
    let events = count(&mut c, "SELECT count(*) FROM revos.events");
    let env = plan(&mut c, &invoices_with("total > 0"));
    assert_eq!(status(&env), "planned", "{env:#}");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_class WHERE relname = 'invoices'"
        ),
        0
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM revos.events"),
        events,
        "the rehearsal's DDL is revos's own: no drift event"
    );
}

/// A bare word in a default, and a function that exists only outside revos's search_path.
#[test]
fn a_bare_default_and_an_unqualified_function_get_a_hint() {
    let mut c = fresh_db("usab_hints");
    c.batch_execute(
        "CREATE FUNCTION public.is_code(text) RETURNS boolean LANGUAGE sql AS 'SELECT true'",
    )
    .unwrap();
    let payload = json!({"schema_version": "1", "description": "orders", "tables": [
        {"name": "orders", "columns": [{"name": "state", "type": "text", "default": "pending"}]}]});
    let env = plan(&mut c, &payload);
    assert_eq!(status(&env), "blocked", "{env:#}");
    let e = &errors(&env)[0];
    assert_eq!(e["path"], "tables[0].columns[0].default");
    assert_eq!(e["code"], "invalid_expression");
    assert!(
        e["hint"]
            .as_str()
            .unwrap()
            .contains("\"default\": \"'pending'\""),
        "{e}"
    );

    let payload = json!({"schema_version": "1", "description": "orders", "tables": [
        {"name": "orders", "columns": [{"name": "code", "type": "text", "check": "is_code(code)"}]}]});
    for env in [plan(&mut c, &payload), apply(&mut c, &payload)] {
        assert_eq!(status(&env), "blocked", "{env:#}");
        let e = &errors(&env)[0];
        assert_eq!(e["path"], "tables[0].columns[0].check");
        assert_eq!(e["code"], "unknown_function");
        let hint = e["hint"].as_str().unwrap();
        assert!(
            hint.contains("search_path = pg_catalog, revos, pg_temp"),
            "{hint}"
        );
        assert!(
            hint.contains("schema public: write public.is_code"),
            "{hint}"
        );
    }
    assert_eq!(ledger_rows(&mut c), 0);
}

/// Rows violating a new check: plan_schema says so (rows_violate, the check's path); apply_schema
/// still runs it and fails (recorded), since only the rows refuse it.
#[test]
fn rows_violating_a_change_are_reported_by_the_rehearsal() {
    let mut c = fresh_db("usab_rows");
    let v1 = json!({"schema_version": "1", "description": "t", "tables": [
        {"name": "items", "tenant_scoped": false, "columns": [{"name": "qty", "type": "int"}]}]});
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    c.batch_execute("INSERT INTO items (qty) VALUES (-1)")
        .unwrap();
    let v2 = json!({"schema_version": "2", "description": "t", "tables": [
        {"name": "items", "tenant_scoped": false, "columns": [{"name": "qty", "type": "int", "check": "qty >= 0"}]}]});
    let env = plan(&mut c, &v2);
    assert_eq!(status(&env), "blocked", "{env:#}");
    let e = &errors(&env)[0];
    assert_eq!(
        (e["path"].as_str(), e["code"].as_str()),
        (Some("tables[0].columns[0].check"), Some("rows_violate")),
        "{env:#}"
    );
    assert!(
        env["result"]["plan"]["sql"]
            .as_str()
            .unwrap()
            .contains("CHECK"),
        "the plan is shown"
    );
    let env = apply(&mut c, &v2);
    assert_eq!(status(&env), "failed", "{env:#}");
    assert_eq!(env["result"]["error"]["sqlstate"], "23514");
    assert_eq!(env["result"]["error"]["path"], "tables[0].columns[0].check");
    let po = &env["result"]["primary_outputs"];
    assert_eq!(po["tables_altered"], 0, "nothing was kept: {env:#}");
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM revos.schema_migrations WHERE status = 'failed'"
        ),
        1
    );
}

/// The rehearsal's locks end with it: after plan_schema, inside the caller's transaction, no
/// ACCESS EXCLUSIVE lock on the table is left (apply's would last until COMMIT).
#[test]
fn the_rehearsal_releases_its_locks() {
    let mut c = fresh_db("usab_locks");
    let v1 = json!({"schema_version": "1", "description": "t", "tables": [{"name": "t"}]});
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    let v2 = json!({"schema_version": "2", "description": "t", "tables": [
        {"name": "t", "columns": [{"name": "x", "type": "text"}]}]});
    let mut bad = v2.clone();
    bad["tables"][0]["checks"] = json!([{"expression": "nope > 0"}]);
    let mut tx = c.transaction().unwrap();
    let plan_in = |tx: &mut postgres::Transaction, p: &Value| -> Value {
        tx.query_one("SELECT revos.plan_schema($1::jsonb)", &[p])
            .unwrap()
            .get(0)
    };
    let env = plan_in(&mut tx, &bad);
    assert_eq!(
        status(&env),
        "blocked",
        "the rehearsal ran the ALTER TABLE: {env:#}"
    );
    let env = plan_in(&mut tx, &v2);
    assert_eq!(status(&env), "planned", "{env:#}");
    let held: i64 = tx
        .query_one(
            "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND relation = 't'::regclass
               AND mode = 'AccessExclusiveLock'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        held, 0,
        "the rehearsal's ACCESS EXCLUSIVE lock was released"
    );
    let cols: i64 = tx
        .query_one(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'x'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(cols, 0);
    tx.commit().unwrap();
}

fn readme_v010() -> Value {
    json!({"schema_version": "010", "description": "crm",
      "enums": [{"name": "lead_state", "values": ["new", "won", "lost"]}],
      "tables": [
        {"name": "Leads", "columns": [
           {"name": "email", "type": "text", "not_null": true, "unique": true},
           {"name": "state", "type": "lead_state", "default": "'new'"},
           {"name": "score", "type": "integer", "check": "score BETWEEN 0 AND 100"}],
         "indexes": [{"columns": ["state"], "where": "deleted_at IS NULL"}]},
        {"name": "notes", "columns": [{"name": "lead_id", "type": "uuid", "references": {"table": "leads", "on_delete": "cascade"}},
                                       {"name": "body", "type": "text"}]}]})
}

fn readme_v011() -> Value {
    json!({"schema_version": "011", "description": "leads become contacts",
      "options": {"allow_destructive": true}, "drop_tables": ["old_imports"],
      "tables": [{"name": "contacts", "renamed_from": "leads", "drop_columns": ["fax"],
                  "columns": [{"name": "mail", "renamed_from": "email", "type": "text", "unique": true},
                              {"name": "score", "type": "integer", "using": "nullif(score, '')::integer"}]},
                 {"name": "notes", "columns": [{"name": "lead_id", "type": "uuid", "references": {"table": "contacts", "on_delete": "cascade"}},
                                                {"name": "body", "type": "text"}]}]})
}

fn names_on(c: &mut Client, table: &str) -> Vec<String> {
    c.query(
        "SELECT conname::text FROM pg_constraint WHERE conrelid = $1::text::regclass
         UNION SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::text::regclass ORDER BY 1",
        &[&table],
    )
    .unwrap()
    .iter()
    .map(|r| r.get(0))
    .collect()
}

/// The README's v011: every name revos derived from `leads` follows the rename — the index and
/// check v011 does not declare again, the (tenant, id) key notes' foreign key needs, the primary
/// key; nothing keeps the old name, and declaring the index and check again adds no twin.
#[test]
fn a_rename_carries_every_derived_name() {
    let mut c = fresh_db("usab_rename");
    assert_eq!(status(&apply(&mut c, &readme_v010())), "applied");
    let env = apply(&mut c, &readme_v011());
    assert_eq!(status(&env), "applied", "{env:#}");
    let names = names_on(&mut c, "contacts");
    for want in [
        "contacts_pkey",
        "idx_contacts_state",
        "ck_contacts_score",
        "uq_contacts_tenant_id_id",
        "uq_contacts_mail",
        "idx_contacts_tenant_id",
        "idx_contacts_created_at",
    ] {
        assert!(
            names.contains(&want.to_string()),
            "{want} missing: {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n.contains("leads")),
        "an old name is left: {names:?}"
    );
    assert!(
        !warnings(&env).iter().any(|w| w.contains("uq_")),
        "revos's own key is not warned about: {:?}",
        warnings(&env)
    );
    let v012 = json!({"schema_version": "012", "description": "declared again",
      "enums": [{"name": "lead_state", "values": ["new", "won", "lost"]}], "tables": [
        {"name": "contacts", "columns": [{"name": "mail", "type": "text", "unique": true},
                                         {"name": "state", "type": "lead_state", "default": "'new'"},
                                         {"name": "score", "type": "integer", "check": "score BETWEEN 0 AND 100"}],
         "indexes": [{"columns": ["state"], "where": "deleted_at IS NULL"}]},
        {"name": "notes", "columns": [{"name": "lead_id", "type": "uuid", "references": {"table": "contacts", "on_delete": "cascade"}},
                                       {"name": "body", "type": "text"}]}]});
    let env = apply(&mut c, &v012);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(names_on(&mut c, "contacts"), names, "no twin: {env:#}");
    assert_eq!(
        env["result"]["primary_outputs"]["indexes_created"], 0,
        "{env:#}"
    );
}

/// Every request that does nothing says so: drops of what is not there (with a close name), a
/// table of the previous version left out, a version older than the latest one applied.
#[test]
fn no_op_requests_are_loud() {
    let mut c = fresh_db("usab_loud");
    let v1 = json!({"schema_version": "090", "description": "t", "tables": [
        {"name": "people", "columns": [{"name": "phone", "type": "text"}]}, {"name": "imports"}]});
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    let v2 = json!({"schema_version": "091", "description": "t", "drop_tables": ["old_imports"],
        "tables": [{"name": "people", "drop_columns": ["phnoe"], "drop_indexes": ["idx_nope"],
                    "columns": [{"name": "phone", "type": "text"}]}]});
    let env = apply(&mut c, &v2);
    assert_eq!(status(&env), "applied", "{env:#}");
    let w = warnings(&env).join("\n");
    assert!(
        w.contains("drop_tables[0]: table public.old_imports does not exist"),
        "{w}"
    );
    assert!(
        w.contains("tables[0].drop_columns[0]") && w.contains("did you mean \"phone\"?"),
        "{w}"
    );
    assert!(
        w.contains("tables[0].drop_indexes[0]") && w.contains("\"idx_nope\""),
        "{w}"
    );
    assert!(
        w.contains("public.imports: declared by version \"090\"") && w.contains("renamed_from"),
        "{w}"
    );
    let v_old = json!({"schema_version": "005", "description": "old", "tables": [
        {"name": "people", "columns": [{"name": "phone", "type": "text"}]}, {"name": "imports"}]});
    let env = apply(&mut c, &v_old);
    assert!(
        warnings(&env)
            .iter()
            .any(|w| w.contains("\"005\" sorts before \"091\"")),
        "{env:#}"
    );
}

/// A conflict lists what differs, by path — from apply_schema and plan_schema, and again from
/// the fast path in the same session.
#[test]
fn a_conflict_says_what_differs() {
    let mut c = fresh_db("usab_conflict");
    let v1 = json!({"schema_version": "001", "description": "patients", "tables": [
        {"name": "patients", "columns": [{"name": "firstName", "type": "text", "not_null": true}]}]});
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    let other = json!({"schema_version": "001", "description": "with a phone", "tables": [
        {"name": "patients", "columns": [{"name": "firstName", "type": "text"},
                                         {"name": "phone", "type": "text"}]}]});
    for (call, env) in [
        ("apply", apply(&mut c, &other)),
        ("plan", plan(&mut c, &other)),
        ("apply again (fast path)", apply(&mut c, &other)),
    ] {
        assert_eq!(status(&env), "conflict", "{call}: {env:#}");
        let paths: Vec<&str> = env["result"]["differences"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            [
                "tables[public.patients].columns[first_name].not_null",
                "tables[public.patients].columns[phone]"
            ],
            "{call}: {env:#}"
        );
        assert!(
            env["result"]["summary"]
                .as_str()
                .unwrap()
                .contains("columns[first_name].not_null"),
            "{call}"
        );
    }
}

/// A lock timeout is `failed` with HTTP 503 and names the table; a top-level array or a whole
/// n8n item is one issue.
#[test]
fn one_channel_with_sensible_statuses() {
    let mut c = fresh_db("usab_channel");
    let v1 = json!({"schema_version": "1", "description": "t", "tables": [{"name": "t"}]});
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    let mut holder = connect("usab_channel");
    let mut hold = holder.transaction().unwrap();
    hold.batch_execute("LOCK TABLE t IN ACCESS SHARE MODE")
        .unwrap();
    let v2 = json!({"schema_version": "2", "description": "t", "options": {"lock_timeout_ms": 200},
                    "tables": [{"name": "t", "columns": [{"name": "x", "type": "text"}]}]});
    let mut tx = c.transaction().unwrap();
    tx.batch_execute("SELECT set_config('request.method', 'POST', true)")
        .unwrap();
    let env: Value = tx
        .query_one("SELECT revos.apply_schema($1::jsonb)", &[&v2])
        .unwrap()
        .get(0);
    let http: String = tx
        .query_one("SELECT current_setting('response.status', true)", &[])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    hold.rollback().unwrap();
    assert_eq!(status(&env), "failed", "{env:#}");
    assert_eq!(env["result"]["error"]["sqlstate"], "55P03");
    assert_eq!(
        env["result"]["error"]["table"], "\"public\".\"t\"",
        "{env:#}"
    );
    assert!(env["result"]["summary"]
        .as_str()
        .unwrap()
        .contains("\"public\".\"t\""));
    assert_eq!(http, "503", "a lock timeout is retryable: 503, not 500");

    // "schema_version": null is not a version (it was planned as an empty one)
    let env = plan(
        &mut c,
        &json!({"schema_version": null, "description": "t", "tables": [{"name": "t"}]}),
    );
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(
        (
            errors(&env)[0]["path"].as_str(),
            errors(&env)[0]["code"].as_str()
        ),
        (Some("schema_version"), Some("missing_key"))
    );

    let item = json!({"headers": {"host": "n8n"}, "params": {}, "query": {}, "body": v1});
    for arg in [item.clone(), json!([item]), json!([v1])] {
        let env = plan(&mut c, &arg);
        assert_eq!(status(&env), "blocked");
        let e = errors(&env);
        assert_eq!(e.len(), 1, "one issue: {env:#}");
        assert_eq!(e[0]["path"], "$");
        assert!(
            e[0]["message"].as_str().unwrap().contains("did you mean `"),
            "{env:#}"
        );
    }
}

/// set_tenant refuses what the tenant tables cannot hold, and warns outside a transaction block.
#[test]
fn set_tenant_checks_the_tenant_and_warns_outside_a_transaction() {
    let mut c = fresh_db("usab_tenant");
    c.query_one("SELECT revos.set_tenant('acme')", &[])
        .expect("no tenant tables yet: any tenant");
    let v1 = json!({"schema_version": "1", "description": "t", "tables": [{"name": "patients"}]});
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    let e = c
        .query_one("SELECT revos.set_tenant('acme')", &[])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{e}");
    let msg = e.as_db_error().unwrap().message().to_string();
    assert!(
        msg.contains("not a valid uuid") && msg.contains("public.patients"),
        "{msg}"
    );

    let notices = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = notices.clone();
    let mut cfg: postgres::Config = dsn_for("usab_tenant").parse().unwrap();
    cfg.notice_callback(move |n| seen.lock().unwrap().push(n.message().to_string()));
    let mut s = cfg.connect(NoTls).unwrap();
    let t = "11111111-1111-1111-1111-111111111111";
    s.query_one("SELECT revos.set_tenant($1)", &[&t]).unwrap();
    assert!(
        notices
            .lock()
            .unwrap()
            .iter()
            .any(|m| m.contains("outside a transaction block")),
        "{:?}",
        notices.lock().unwrap()
    );
    notices.lock().unwrap().clear();
    let mut tx = s.transaction().unwrap();
    tx.query_one("SELECT revos.set_tenant($1)", &[&t]).unwrap();
    let now: String = tx
        .query_one("SELECT revos.current_tenant_id()", &[])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    assert_eq!(now, t);
    assert!(
        notices.lock().unwrap().is_empty(),
        "{:?}",
        notices.lock().unwrap()
    );
}

/// set_tenant sets the tenant as `SET LOCAL` does (through the GUC API since it stopped running the
/// statement): undone with a rolled-back savepoint, with the transaction, cleared by NULL; and the
/// tenant types it reads with a plan kept per backend are read again after the extension is dropped
/// and created anew in the same session.
#[test]
fn set_tenant_is_a_set_local_and_its_kept_plan_follows_the_catalog() {
    let mut c = fresh_db("usab_tenant_local");
    let (t1, t2) = (
        "11111111-1111-1111-1111-111111111111",
        "22222222-2222-2222-2222-222222222222",
    );
    let v1 = json!({"schema_version": "1", "description": "t", "tables": [{"name": "patients"}]});
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT revos.set_tenant($1)", &[&t1]).unwrap();
    tx.batch_execute("SAVEPOINT a").unwrap();
    tx.query_one("SELECT revos.set_tenant($1)", &[&t2]).unwrap();
    let inner: String = tx
        .query_one("SELECT revos.current_tenant_id()", &[])
        .unwrap()
        .get(0);
    tx.batch_execute("ROLLBACK TO SAVEPOINT a").unwrap();
    let after: String = tx
        .query_one("SELECT revos.current_tenant_id()", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        (inner.as_str(), after.as_str()),
        (t2, t1),
        "a savepoint's tenant is undone with it"
    );
    tx.query_one("SELECT revos.set_tenant(NULL)", &[]).unwrap();
    let cleared: (Option<String>, String) = {
        let r = tx
            .query_one(
                "SELECT revos.current_tenant_id(), current_setting('app.current_tenant_id')",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(cleared, (None, String::new()), "NULL clears it");
    tx.query_one("SELECT revos.set_tenant($1)", &[&t1]).unwrap();
    tx.commit().unwrap();
    let gone: Option<String> = c
        .query_one("SELECT revos.current_tenant_id()", &[])
        .unwrap()
        .get(0);
    assert_eq!(gone, None, "the transaction's only");

    // the same session: the extension dropped and created again, text tenants, then uuid tenants
    c.batch_execute(
        "DROP EXTENSION revos CASCADE; DROP TABLE IF EXISTS patients; CREATE EXTENSION revos",
    )
    .unwrap();
    c.query_one("SELECT revos.set_tenant('acme')", &[])
        .expect("no tenant tables in the new extension: any tenant");
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    let e = c
        .query_one("SELECT revos.set_tenant('acme')", &[])
        .unwrap_err();
    assert_eq!(
        sqlstate(&e),
        "22023",
        "the new tenant table's type is read: {e}"
    );
}

/// The SQLSTATE set_tenant('acme') fails with (a panic when it succeeds).
fn acme_refused(c: &mut impl postgres::GenericClient) -> String {
    sqlstate(
        &c.query_one("SELECT revos.set_tenant('acme')", &[])
            .unwrap_err(),
    )
}

/// set_tenant keeps the tenant types per backend (src/tenant.rs): what another session commits —
/// a tenant table applied, that table dropped by hand, a second apply changing the tenant type —
/// is seen by this backend's next call, as is its own apply inside a transaction and that
/// transaction's rollback.
#[test]
fn set_tenant_follows_tenant_tables_other_sessions_change() {
    let mut a = fresh_db("usab_tenant_kept");
    for _ in 0..2 {
        a.query_one("SELECT revos.set_tenant('acme')", &[])
            .expect("no tenant tables: any tenant (the second call from what the backend kept)");
    }
    let mut b = Client::connect(&dsn_for("usab_tenant_kept"), NoTls).unwrap();
    let v1 = json!({"schema_version": "1", "description": "t", "tables": [{"name": "patients"}]});
    assert_eq!(status(&apply(&mut b, &v1)), "applied");
    assert_eq!(
        acme_refused(&mut a),
        "22023",
        "another session's tenant table"
    );
    b.batch_execute("DROP TABLE public.patients").unwrap();
    a.query_one("SELECT revos.set_tenant('acme')", &[])
        .expect("the table dropped in another session: any tenant again");

    // this backend's own apply in a transaction, then its rollback
    let mut tx = a.transaction().unwrap();
    tx.query_one("SELECT revos.set_tenant('acme')", &[])
        .unwrap();
    let v2 = json!({"schema_version": "2", "description": "t", "tables": [{"name": "patients"}]});
    let env: Value = tx
        .query_one("SELECT revos.apply_schema($1::jsonb)", &[&v2])
        .unwrap()
        .get(0);
    assert_eq!(status(&env), "applied");
    tx.batch_execute("SAVEPOINT s").unwrap();
    assert_eq!(
        acme_refused(&mut tx),
        "22023",
        "its own apply, same transaction"
    );
    tx.batch_execute("ROLLBACK TO SAVEPOINT s").unwrap();
    tx.rollback().unwrap();
    a.query_one("SELECT revos.set_tenant('acme')", &[])
        .expect("the apply rolled back: any tenant again");

    // text tenants from another session: any value again; then uuid tenants once more
    let text = json!({"schema_version": "2", "description": "t", "options": {"tenant_type": "text"},
                      "tables": [{"name": "notes"}]});
    assert_eq!(status(&apply(&mut b, &text)), "applied");
    a.query_one("SELECT revos.set_tenant('acme')", &[])
        .expect("text tenant tables only: any tenant");
    b.batch_execute("DROP TABLE public.notes").unwrap();
    let v3 = json!({"schema_version": "3", "description": "t", "tables": [{"name": "visits"}]});
    assert_eq!(status(&apply(&mut b, &v3)), "applied");
    assert_eq!(acme_refused(&mut a), "22023", "uuid tenants again");

    // an apply inside a savepoint, rolled back to it: forgotten with it
    let mut tx = a.transaction().unwrap();
    tx.batch_execute("SAVEPOINT s").unwrap();
    b.batch_execute("DROP TABLE public.visits").unwrap();
    let _ = tx.query_one("SELECT count(*) FROM pg_catalog.pg_am", &[]);
    let v4 = json!({"schema_version": "4", "description": "t", "tables": [{"name": "rooms"}]});
    let env: Value = tx
        .query_one("SELECT revos.apply_schema($1::jsonb)", &[&v4])
        .unwrap()
        .get(0);
    assert_eq!(status(&env), "applied");
    tx.batch_execute("SAVEPOINT t").unwrap();
    assert_eq!(acme_refused(&mut tx), "22023");
    tx.batch_execute("ROLLBACK TO SAVEPOINT t; ROLLBACK TO SAVEPOINT s")
        .unwrap();
    tx.query_one("SELECT revos.set_tenant('acme')", &[])
        .expect("the apply rolled back to its savepoint: any tenant again");
    tx.rollback().unwrap();

    // A REPEATABLE READ transaction's snapshot predates another session's apply that this backend
    // has already taken in: what it reads there is its snapshot's answer, never kept for later
    // transactions (the review of 9b59286, 1)
    let mut rr = a
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .start()
        .unwrap();
    rr.query_one("SELECT 1", &[]).unwrap();
    let v5 = json!({"schema_version": "5", "description": "t", "tables": [{"name": "rooms"}]});
    assert_eq!(status(&apply(&mut b, &v5)), "applied");
    // the first lock on a catalog not read yet takes the invalidation in
    rr.query_one("SELECT count(*) FROM pg_catalog.pg_am", &[])
        .unwrap();
    rr.query_one("SELECT revos.set_tenant('acme')", &[])
        .expect("the transaction's snapshot has no tenant table yet");
    rr.commit().unwrap();
    assert_eq!(
        acme_refused(&mut a),
        "22023",
        "the next transaction sees the table"
    );

    // READ COMMITTED, run under an active snapshot older than an invalidation already taken in
    // (a cursor's): read under a newer one, and what it reads is what is kept
    b.batch_execute("DROP TABLE public.rooms").unwrap();
    a.query_one("SELECT revos.set_tenant('acme')", &[])
        .expect("no tenant table: any tenant");
    let mut tx = a.transaction().unwrap();
    tx.batch_execute("DECLARE c NO SCROLL CURSOR FOR SELECT revos.set_tenant('acme')")
        .unwrap();
    let v6 = json!({"schema_version": "6", "description": "t", "tables": [{"name": "desks"}]});
    assert_eq!(status(&apply(&mut b, &v6)), "applied");
    tx.query_one("SELECT count(*) FROM pg_catalog.pg_am", &[])
        .unwrap();
    let e = tx.batch_execute("FETCH c").unwrap_err();
    assert_eq!(
        sqlstate(&e),
        "22023",
        "the cursor's call sees the new table: {e}"
    );
    tx.rollback().unwrap();
    assert_eq!(
        acme_refused(&mut a),
        "22023",
        "and so does the next transaction"
    );
}

/// Where tenants are text, any value is a tenant — written as a literal whatever the session's
/// standard_conforming_strings, never as SQL.
#[test]
fn set_tenant_writes_a_crafted_text_tenant_as_a_value() {
    let mut c = fresh_db("usab_tenant_text");
    let v1 = json!({"schema_version": "1", "description": "t", "options": {"tenant_type": "text"},
                    "tables": [{"name": "notes"}]});
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    for scs in ["on", "off"] {
        let mut tx = c.transaction().unwrap();
        tx.batch_execute(&format!("SET LOCAL standard_conforming_strings = {scs}"))
            .unwrap();
        let crafted = "x\\'; RESET ROLE; SELECT 1; --";
        tx.query_one("SELECT revos.set_tenant($1)", &[&crafted])
            .unwrap();
        let now: String = tx
            .query_one("SELECT revos.current_tenant_id()", &[])
            .unwrap()
            .get(0);
        tx.commit().unwrap();
        assert_eq!(now, crafted, "standard_conforming_strings = {scs}");
    }
}

/// Every status answers with the same keys; counts are zero when nothing was kept.
#[test]
fn the_envelope_has_one_shape() {
    let mut c = fresh_db("usab_shape");
    let v1 = json!({"schema_version": "1", "description": "t", "tables": [
        {"name": "t", "tenant_scoped": false, "columns": [{"name": "q", "type": "int"}]}]});
    let mut envs = vec![
        ("planned", plan(&mut c, &v1)),
        ("applied", apply(&mut c, &v1)),
        ("noop", apply(&mut c, &v1)),
    ];
    let mut other = v1.clone();
    other["tables"][0]["columns"][0]["type"] = json!("bigint");
    envs.push(("conflict", apply(&mut c, &other)));
    envs.push((
        "blocked",
        apply(&mut c, &json!({"schema_version": "2", "tables": []})),
    ));
    let drop = json!({"schema_version": "3", "description": "t", "tables": [
        {"name": "t", "tenant_scoped": false, "drop_columns": ["q"]}]});
    envs.push(("blocked", apply(&mut c, &drop)));
    c.batch_execute("INSERT INTO t (q) VALUES (-1)").unwrap();
    let check = json!({"schema_version": "4", "description": "t", "tables": [
        {"name": "t", "tenant_scoped": false, "columns": [{"name": "q", "type": "int", "check": "q > 0"}]},
        {"name": "u", "tenant_scoped": false}]});
    envs.push(("failed", apply(&mut c, &check)));
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let (result_keys, output_keys) = (
        keys(&envs[0].1["result"]),
        keys(&envs[0].1["result"]["primary_outputs"]),
    );
    for (want, env) in &envs {
        assert_eq!(status(env), *want, "{env:#}");
        assert_eq!(keys(&env["result"]), result_keys, "{want}: {env:#}");
        assert_eq!(
            keys(&env["result"]["primary_outputs"]),
            output_keys,
            "{want}: {env:#}"
        );
        assert!(env["result"]["risks"].is_array() && env["result"]["validation_errors"].is_array());
    }
    let failed = &envs[6].1["result"]["primary_outputs"];
    assert_eq!(
        (
            failed["tables_created"].as_i64(),
            failed["indexes_created"].as_i64()
        ),
        (Some(0), Some(0)),
        "{failed:#}"
    );
    let noop = &envs[2].1["result"]["primary_outputs"];
    assert_eq!(noop["tables_created"], 0);
    assert!(noop["warnings"].is_array());
    let blocked = &envs[4].1["result"];
    assert!(
        blocked["summary"].as_str().unwrap().contains("description"),
        "{blocked:#}"
    );
}

/// The quick start's tables are usable by revos_app members, whoever applied them: a
/// non-superuser migrator creates them, an API role that is only a member of revos_app reads and
/// writes its tenant's rows (the policy still fences them) and reads a shared table.
#[test]
fn created_tables_are_usable_by_the_application_role() {
    let mut c = fresh_db("usab_grants");
    ensure_role(&mut c, "usab_migrator", "");
    ensure_role(&mut c, "usab_api", "");
    c.batch_execute(
        "GRANT revos_admin TO usab_migrator; GRANT CREATE ON SCHEMA public TO usab_migrator;
         GRANT revos_app TO usab_api",
    )
    .unwrap();
    let mut m = connect_as("usab_grants", "usab_migrator");
    let v1 = json!({"schema_version": "1", "description": "t", "tables": [
        {"name": "patients", "columns": [{"name": "name", "type": "text"}]},
        {"name": "codes", "tenant_scoped": false, "primary_key": ["code"], "columns": [{"name": "code", "type": "text"}]}]});
    let env = apply(&mut m, &v1);
    assert_eq!(status(&env), "applied", "{env:#}");
    c.batch_execute("INSERT INTO codes (code) VALUES ('a')")
        .unwrap();
    let mut api = connect_as("usab_grants", "usab_api");
    let t1 = "11111111-1111-1111-1111-111111111111";
    let mut tx = api.transaction().unwrap();
    tx.query_one("SELECT revos.set_tenant($1)", &[&t1]).unwrap();
    tx.batch_execute("INSERT INTO patients (name) VALUES ('ann')")
        .unwrap();
    let n: i64 = tx
        .query_one("SELECT count(*) FROM patients", &[])
        .unwrap()
        .get(0);
    let codes: i64 = tx
        .query_one("SELECT count(*) FROM codes", &[])
        .unwrap()
        .get(0);
    tx.commit().unwrap();
    assert_eq!((n, codes), (1, 1));
    let mut tx = api.transaction().unwrap();
    tx.query_one(
        "SELECT revos.set_tenant($1)",
        &[&"22222222-2222-2222-2222-222222222222"],
    )
    .unwrap();
    let other: i64 = tx
        .query_one("SELECT count(*) FROM patients", &[])
        .unwrap()
        .get(0);
    assert_eq!(other, 0, "the tenant policy still fences the rows");
    let e = tx
        .batch_execute("INSERT INTO codes (code) VALUES ('b')")
        .unwrap_err();
    assert_eq!(
        sqlstate(&e),
        "42501",
        "a shared table is read-only to revos_app"
    );
    drop(tx);
}

/// plan.text: the change as a diff per table, with locks and risks; the same text is kept in the
/// ledger row.
#[test]
fn the_plan_reads_at_a_glance() {
    let mut c = fresh_db("usab_text");
    assert_eq!(status(&apply(&mut c, &readme_v010())), "applied");
    let mut v011 = readme_v011();
    v011["options"] = json!({});
    v011["tables"][0]["drop_columns"] = json!(["state"]);
    let env = plan(&mut c, &v011);
    assert_eq!(status(&env), "planned", "{env:#}");
    let text = env["result"]["plan"]["text"].as_str().unwrap();
    assert!(text.starts_with("Plan for schema v011:"), "{text}");
    assert!(
        text.contains("→ \"public\".\"contacts\" (renamed from leads"),
        "{text}"
    );
    assert!(
        text.contains(
            "    → ALTER TABLE \"public\".\"leads\" RENAME TO \"contacts\"  [ACCESS EXCLUSIVE]"
        ),
        "{text}"
    );
    assert!(
        text.contains("    - DROP COLUMN \"state\"  [ACCESS EXCLUSIVE]"),
        "{text}"
    );
    assert!(text.contains("    ! drop_column: "), "{text}");
    let mut v011 = readme_v011();
    v011["tables"][0]["drop_columns"] = json!(["state"]);
    let env = apply(&mut c, &v011);
    assert_eq!(status(&env), "applied", "{env:#}");
    let kept = text_of(
        &mut c,
        "SELECT plan_text FROM revos.schema_migrations WHERE version = '011'",
    );
    assert!(kept.contains("- DROP COLUMN \"state\""), "{kept}");
}

fn text_of(c: &mut Client, sql: &str) -> String {
    text(c, sql).unwrap_or_default()
}
