//! Helpers for the in-database tests: a real server (REVOS_TEST_DSN, a superuser on a throwaway
//! cluster started by `scripts/test`), one fresh database per test, real roles.
#![allow(dead_code)]

use postgres::{Client, NoTls};
use serde_json::Value;

pub fn base_dsn() -> String {
    std::env::var("REVOS_TEST_DSN").expect(
        "REVOS_TEST_DSN is not set: the in-database tests need a server; run them with scripts/test",
    )
}

/// The DSN of database `db` on the test server.
pub fn dsn_for(db: &str) -> String {
    let base = base_dsn();
    let (head, _) = base.rsplit_once('/').expect("DSN ends with /database");
    format!("{head}/{db}")
}

pub fn connect(db: &str) -> Client {
    Client::connect(&dsn_for(db), NoTls).unwrap_or_else(|e| panic!("connect to {db}: {e}"))
}

pub fn connect_as(db: &str, user: &str) -> Client {
    let dsn = dsn_for(db).replacen("postgres@", &format!("{user}@"), 1);
    Client::connect(&dsn, NoTls).unwrap_or_else(|e| panic!("connect to {db} as {user}: {e}"))
}

/// Drops and creates database `name` with the extension installed; returns a superuser client.
pub fn fresh_db(name: &str) -> Client {
    let mut admin = Client::connect(&base_dsn(), NoTls).expect("connect to the test server");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let mut c = connect(name);
    c.batch_execute("CREATE EXTENSION revos").unwrap();
    c
}

/// Creates a LOGIN role if it does not exist (roles are cluster-wide; tests running at once may
/// create the same one: the second's duplicate is not an error).
pub fn ensure_role(c: &mut Client, role: &str, extra: &str) {
    c.batch_execute(&format!(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN CREATE ROLE {role} LOGIN {extra}; END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ))
    .unwrap();
}

pub fn apply(c: &mut Client, payload: &Value) -> Value {
    let env: Value = c
        .query_one("SELECT revos.apply_schema($1::jsonb)", &[payload])
        .unwrap()
        .get(0);
    harvest("apply_schema", payload, &env);
    env
}

pub fn plan(c: &mut Client, payload: &Value) -> Value {
    let env: Value = c
        .query_one("SELECT revos.plan_schema($1::jsonb)", &[payload])
        .unwrap()
        .get(0);
    harvest("plan_schema", payload, &env);
    env
}

/// With `REVOS_HARVEST_DIR` set (scripts/test sets it for this suite), every payload sent through
/// [`apply`] and [`plan`] is appended, with the answer's status and validation errors, to
/// `<dir>/<process id>.jsonl`; `tests/format/schema_check.py --harvest` then checks the JSON
/// Schema against each of them (suite schema_harvest).
fn harvest(call: &str, payload: &Value, env: &Value) {
    use std::io::Write;
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let Some(dir) = std::env::var_os("REVOS_HARVEST_DIR") else {
        return;
    };
    let line = serde_json::json!({
        "call": call,
        "test": std::thread::current().name().unwrap_or("?"),
        "payload": payload,
        "status": env["result"]["status"],
        "validation_errors": env["result"]["validation_errors"],
    });
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let path = std::path::Path::new(&dir).join(format!("{}.jsonl", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("harvest file {}: {e}", path.display()));
    writeln!(f, "{line}").expect("write the harvest file");
}

pub fn status(env: &Value) -> &str {
    env["result"]["status"].as_str().unwrap_or("<none>")
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

pub fn count(c: &mut Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap().get(0)
}

pub fn text(c: &mut Client, sql: &str) -> Option<String> {
    c.query_one(sql, &[]).unwrap().get(0)
}

/// The SQLSTATE of a failed statement.
pub fn sqlstate(e: &postgres::Error) -> String {
    e.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("no sqlstate: {e}"))
}

/// The payload with `options.allow_destructive` (its risks do not block it).
pub fn allow(mut p: Value) -> Value {
    p["options"] = serde_json::json!({"allow_destructive": true});
    p
}

/// An envelope's risks as (code, path, rows).
pub fn risks(env: &Value) -> Vec<(String, String, Option<i64>)> {
    env["result"]["risks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r["code"].as_str().unwrap_or_default().to_string(),
                r["path"].as_str().unwrap_or_default().to_string(),
                r["rows"].as_i64(),
            )
        })
        .collect()
}

/// An envelope's warnings.
pub fn warnings(env: &Value) -> Vec<String> {
    env["result"]["primary_outputs"]["warnings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|w| w.as_str().unwrap_or_default().to_string())
        .collect()
}

/// Runs every case, each alone (a failing one does not hide the others), then fails naming those
/// that failed.
pub fn each_alone<X: Copy>(cases: Vec<(&str, String, X)>, f: impl Fn(&str, &str, X)) {
    let failed: Vec<&str> = cases
        .iter()
        .filter(|(name, sql, x)| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(name, sql, *x))).is_err()
        })
        .map(|(name, _, _)| *name)
        .collect();
    assert!(failed.is_empty(), "failed cases: {failed:?}");
}

/// A tenant table `events` partitioned by day, with the declared partition `events_2024`.
pub fn events(version: &str) -> Value {
    serde_json::json!({"schema_version": version, "description": "a tenant table partitioned by day",
        "tables": [{"name": "events", "primary_key": ["id", "day"],
            "columns": [{"name": "day", "type": "date", "not_null": true}],
            "partition_by": {"method": "range", "columns": ["day"]},
            "partitions": [{"name": "events_2024", "values": "FROM ('2024-01-01') TO ('2025-01-01')"}]}]})
}
