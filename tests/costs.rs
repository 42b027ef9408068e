//! Issue 13 (P7), contract §10 — every planned step states its lock, whether it rewrites or
//! scans its table, and the table's estimated rows. Checked against the server for the six
//! changes bench/run's P7 makes to a table with rows: a nullable column, a column with a constant
//! default, an index, a foreign key, a check, NOT NULL on a clean column (and a NOT NULL column
//! with a constant default, which reads no row). For each:
//! - the step's SQL alone, in a transaction rolled back: the strongest lock this backend then
//!   holds on the table (pg_locks), whether its relfilenode changed (a rewrite), and the rows the
//!   transaction read from it (pg_stat_xact_user_tables: a scan reads every row);
//! - the apply itself, in the caller's transaction: revos holds no stronger lock than the plan
//!   states, rewrites and reads the rows only when it says so, and a writer (lock_timeout
//!   100 ms) cannot insert until the apply's transaction commits when the lock blocks writes.

mod common;
use common::*;
use serde_json::{json, Value};

const ROWS: i64 = 5000;
const TENANTS: [&str; 2] = [
    "11111111-1111-1111-1111-111111111111",
    "22222222-2222-2222-2222-222222222222",
];

/// Postgres's lock modes, weakest first, as pg_locks names them.
const MODES: [&str; 8] = [
    "AccessShareLock",
    "RowShareLock",
    "RowExclusiveLock",
    "ShareUpdateExclusiveLock",
    "ShareLock",
    "ShareRowExclusiveLock",
    "ExclusiveLock",
    "AccessExclusiveLock",
];

/// "SHARE ROW EXCLUSIVE" (the plan's name) -> "ShareRowExclusiveLock" (pg_locks's).
fn pg_mode(plan_lock: &str) -> String {
    let mut s: String = plan_lock
        .split(' ')
        .map(|w| w[..1].to_string() + &w[1..].to_lowercase())
        .collect();
    s.push_str("Lock");
    s
}

/// The strongest lock this backend holds on `rel` (None: no lock).
fn strongest_lock(c: &mut impl postgres::GenericClient, rel: &str) -> Option<String> {
    c.query_opt(
        "SELECT mode FROM pg_locks
          WHERE pid = pg_backend_pid() AND locktype = 'relation' AND granted
            AND relation = $1::text::regclass
          ORDER BY array_position($2::text[], mode) DESC LIMIT 1",
        &[&rel, &MODES.to_vec()],
    )
    .unwrap()
    .map(|r| r.get(0))
}

/// (relfilenode, rows this transaction read from `public.big` by sequential or index scans).
fn file_and_reads(c: &mut impl postgres::GenericClient) -> (i64, i64) {
    let r = c
        .query_one(
            "SELECT pg_relation_filenode('public.big')::bigint,
                    (s.seq_tup_read + coalesce(s.idx_tup_fetch, 0))::bigint
               FROM pg_stat_xact_user_tables s WHERE s.relid = 'public.big'::regclass",
            &[],
        )
        .unwrap();
    (r.get(0), r.get(1))
}

fn v1() -> Value {
    json!({"schema_version": "costs-001", "description": "a table with rows", "tables": [
        {"name": "parent", "columns": [{"name": "label", "type": "text"}],
         "unique": [["tenant_id", "id"]]},
        {"name": "big", "columns": [
            {"name": "a", "type": "integer"}, {"name": "b", "type": "text"},
            {"name": "c", "type": "text"}, {"name": "ref_id", "type": "uuid"}]}]})
}

fn column<'a>(big: &'a mut Value, name: &str) -> &'a mut Value {
    big["columns"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["name"] == name)
        .unwrap()
}

/// The changes, each with what Postgres does (lock on big, rewrites, scans).
#[allow(clippy::type_complexity)]
fn changes() -> Vec<(&'static str, fn(&mut Value), &'static str, bool, bool)> {
    vec![
        (
            "nullable column",
            |t| {
                t["columns"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "n1", "type": "text"}))
            },
            "ACCESS EXCLUSIVE",
            false,
            false,
        ),
        (
            "column with a constant default",
            |t| {
                t["columns"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "d1", "type": "integer", "default": "7"}))
            },
            "ACCESS EXCLUSIVE",
            false,
            false,
        ),
        (
            "index",
            |t| t["indexes"] = json!([{"columns": ["c"]}]),
            "SHARE",
            false,
            true,
        ),
        (
            "foreign key",
            |t| column(t, "ref_id")["references"] = json!("parent"),
            "SHARE ROW EXCLUSIVE",
            false,
            true,
        ),
        (
            "check",
            |t| t["checks"] = json!([{"name": "big_a_nonneg", "expression": "a >= 0"}]),
            "ACCESS EXCLUSIVE",
            false,
            true,
        ),
        (
            "NOT NULL on a clean column",
            |t| column(t, "c")["not_null"] = json!(true),
            "ACCESS EXCLUSIVE",
            false,
            true,
        ),
        // a volatile default is evaluated for every row: the table is rewritten (a built-in
        // volatile function has no pg_depend row, so this was once planned as no rewrite)
        (
            "column with a volatile built-in default",
            |t| {
                t["columns"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"name": "v1", "type": "uuid", "default": "gen_random_uuid()"}))
            },
            "ACCESS EXCLUSIVE",
            true,
            true,
        ),
        // not in P7: a NOT NULL column with a constant default reads no row (Postgres 11+)
        (
            "NOT NULL column with a constant default",
            |t| {
                t["columns"].as_array_mut().unwrap().push(
                    json!({"name": "d2", "type": "integer", "not_null": true, "default": "7"}),
                )
            },
            "ACCESS EXCLUSIVE",
            false,
            false,
        ),
    ]
}

#[test]
fn each_steps_lock_rewrite_scan_and_rows_are_what_postgres_does() {
    let db = "revos_costs";
    let mut c = fresh_db(db);
    let mut payload = v1();
    assert_eq!(status(&apply(&mut c, &payload)), "applied");
    c.batch_execute(&format!(
        "INSERT INTO public.parent (tenant_id, label)
           SELECT t::uuid, 'p' || i FROM unnest(ARRAY['{}', '{}']) t, generate_series(1, 10) i;
         INSERT INTO public.big (tenant_id, a, b, c, ref_id)
           SELECT p.tenant_id, i % 1000, 'row ' || i, 'c' || (i % 50), p.id
             FROM generate_series(1, {ROWS}) i
             JOIN (SELECT tenant_id, id, row_number() OVER (ORDER BY tenant_id, id) - 1 AS k
                     FROM public.parent) p ON p.k = i % 20;",
        TENANTS[0], TENANTS[1]
    ))
    .unwrap();
    c.batch_execute("VACUUM ANALYZE public.parent").unwrap();
    c.batch_execute("VACUUM ANALYZE public.big").unwrap();
    let insert = format!(
        "INSERT INTO public.big (tenant_id, a, b, c) VALUES ('{}', 1, 'writer', 'w')",
        TENANTS[0]
    );
    let mut writer = connect(db);

    for (k, (what, change, lock, rewrites, scans)) in changes().into_iter().enumerate() {
        payload["schema_version"] = json!(format!("costs-{:03}", k + 2));
        change(&mut payload["tables"][1]);
        if what.starts_with("NOT NULL") {
            payload["options"] = json!({"allow_destructive": true});
        }
        let env = plan(&mut c, &payload);
        assert_eq!(status(&env), "planned", "{what}: {env}");
        let steps: Vec<Value> = env["result"]["plan"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["sql"].as_str().unwrap_or_default().contains("\"big\""))
            .cloned()
            .collect();
        assert_eq!(steps.len(), 1, "{what}: one step on big: {steps:?}");
        let step = &steps[0];
        let sql = step["sql"].as_str().unwrap();
        // what the plan says is what Postgres does (the table above) ...
        assert_eq!(
            (
                step["lock"].as_str(),
                step["rewrites"].as_bool(),
                step["scans"].as_bool()
            ),
            (Some(lock), Some(rewrites), Some(scans)),
            "{what}: {sql}"
        );
        let rows = count(&mut c, "SELECT count(*) FROM public.big");
        assert_eq!(step["est_rows"].as_i64(), Some(rows), "{what}: est_rows");

        // ... measured on the step's statement alone
        let mut tx = c.transaction().unwrap();
        let (file0, read0) = file_and_reads(&mut tx);
        tx.batch_execute(sql).unwrap();
        let (file1, read1) = file_and_reads(&mut tx);
        let held = strongest_lock(&mut tx, "public.big");
        let held_parent = strongest_lock(&mut tx, "public.parent");
        tx.rollback().unwrap();
        assert_eq!(held, Some(pg_mode(lock)), "{what}: lock held by {sql}");
        assert_eq!(file1 != file0, rewrites, "{what}: relfilenode after {sql}");
        assert_eq!(
            read1 - read0 >= rows,
            scans,
            "{what}: {} rows read by {sql}",
            read1 - read0
        );
        if what == "foreign key" {
            // the referenced table is locked as strongly (the step names the referencing one)
            assert_eq!(held_parent, Some(pg_mode(lock)), "{what}: lock on parent");
        }

        // ... and by the apply, in the caller's transaction
        let mut tx = c.transaction().unwrap();
        let (file0, read0) = file_and_reads(&mut tx);
        let env: Value = tx
            .query_one("SELECT revos.apply_schema($1::jsonb)", &[&payload])
            .unwrap()
            .get(0);
        assert_eq!(status(&env), "applied", "{what}: {env}");
        let (file1, read1) = file_and_reads(&mut tx);
        assert_eq!(
            strongest_lock(&mut tx, "public.big"),
            Some(pg_mode(lock)),
            "{what}: apply holds no stronger lock than its plan states"
        );
        assert_eq!(file1 != file0, rewrites, "{what}: relfilenode after apply");
        // revos's own checks included, the apply reads the rows only when the plan says it scans
        assert_eq!(
            read1 - read0 >= rows,
            scans,
            "{what}: {} rows read by the apply",
            read1 - read0
        );
        // a writer waits for the apply's commit, not only for the statement
        let mut w = writer.transaction().unwrap();
        w.batch_execute("SET LOCAL lock_timeout = '100ms'").unwrap();
        let blocked = w.batch_execute(&insert).map_err(|e| sqlstate(&e));
        w.rollback().unwrap();
        assert_eq!(
            blocked,
            Err("55P03".to_string()),
            "{what}: a {lock} lock held until commit blocks INSERT"
        );
        tx.commit().unwrap();
        let mut w = writer.transaction().unwrap();
        w.batch_execute(&insert)
            .unwrap_or_else(|e| panic!("{what}: the writer after the commit: {e}"));
        w.rollback().unwrap();
    }
}
