//! Truthful apply (issue 9 items 1 and 2): every declared property of an existing object is
//! compared with the catalog as Postgres deparses it, changed when safe, a risk when not; the
//! catalog is read back to prove it. Real server, real roles (REVOS_TEST_DSN, see scripts/test).

mod common;
use common::*;
use serde_json::{json, Value};

const T1: &str = "11111111-1111-1111-1111-111111111111";
const T2: &str = "22222222-2222-2222-2222-222222222222";

fn v(version: &str, tables: Value) -> Value {
    json!({"schema_version": version, "description": "compare", "tables": tables})
}

fn risk_codes(env: &Value) -> Vec<String> {
    env["result"]["risks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| r["code"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn one(c: &mut postgres::Client, sql: &str) -> String {
    text(c, sql).unwrap_or_else(|| "<null>".into())
}

/// The issue's first paragraph: check, default, FK action and index predicate all change on a
/// new version, and the catalog shows the new definitions (on the code before, every one came
/// back `applied` and the catalog still held the old ones).
#[test]
fn changed_check_default_fk_and_index_reach_the_catalog() {
    let mut c = fresh_db("cmp_issue");
    let items = |check: &str, default: &str, on_delete: &str, pred: &str| {
        json!([
            {"name": "warehouses", "columns": [{"name": "code", "type": "text"}]},
            {"name": "items", "columns": [
                {"name": "code", "type": "text"},
                {"name": "qty", "type": "integer", "default": default, "check": check},
                {"name": "warehouse_id", "type": "uuid", "references": {"table": "warehouses", "on_delete": on_delete}}],
             "indexes": [{"name": "idx_items_code", "columns": ["code"], "where": pred}]}])
    };
    let v1 = v("1", items("qty >= 0", "1", "cascade", "deleted_at IS NULL"));
    assert_eq!(status(&apply(&mut c, &v1)), "applied");
    let v2 = v("2", items("qty >= 10", "5", "restrict", "code IS NOT NULL"));
    let planned = plan(&mut c, &v2);
    assert_eq!(status(&planned), "planned", "{planned:#}");
    let env = apply(&mut c, &v2);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["result"]["verification"]["ok"], true);

    assert_eq!(
        one(&mut c, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'c'"),
        "CHECK ((qty >= 10))"
    );
    assert_eq!(
        one(&mut c, "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'items'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'items'::regclass AND attname = 'qty')"),
        "5"
    );
    assert_eq!(
        one(&mut c, "SELECT confdeltype::text FROM pg_constraint WHERE conrelid = 'items'::regclass AND contype = 'f'"),
        "r"
    );
    assert_eq!(
        one(&mut c, "SELECT pg_get_expr(indpred, indrelid) FROM pg_index WHERE indexrelid = 'idx_items_code'::regclass"),
        "(code IS NOT NULL)"
    );
    // the same version again is a noop, and the next identical spec plans nothing
    assert_eq!(status(&apply(&mut c, &v2)), "noop");
    let again = plan(
        &mut c,
        &v("3", items("qty >= 10", "5", "restrict", "code IS NOT NULL")),
    );
    assert_eq!(again["result"]["plan"]["steps"], json!([]), "{again:#}");
}

/// A check that existing rows violate is the risk `check_change` with the count; allowed, it is
/// added NOT VALID. Generated expression changes are `generated_change`, applied when allowed.
#[test]
fn unsafe_changes_block_until_allowed() {
    let mut c = fresh_db("cmp_unsafe");
    let t = |check: &str, gen: &str| {
        json!([{"name": "lines", "columns": [
            {"name": "qty", "type": "integer", "check": check},
            {"name": "price", "type": "numeric"},
            {"name": "total", "type": "numeric", "generated": gen}]}])
    };
    assert_eq!(
        status(&apply(&mut c, &v("1", t("qty >= 0", "qty * price")))),
        "applied"
    );
    c.batch_execute(&format!(
        "INSERT INTO lines (tenant_id, qty, price) VALUES ('{T1}', 1, 2), ('{T1}', 20, 2)"
    ))
    .unwrap();
    let v2 = v("2", t("qty >= 10", "qty * price * 2"));
    let env = apply(&mut c, &v2);
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(risk_codes(&env), ["generated_change", "check_change"]);
    assert_eq!(env["result"]["risks"][1]["rows"], 1, "{env:#}");
    // nothing changed
    assert_eq!(
        one(&mut c, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'lines'::regclass AND contype = 'c'"),
        "CHECK ((qty >= 0))"
    );
    let env = apply(&mut c, &allow(v2));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(
        one(&mut c, "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'lines'::regclass AND contype = 'c'"),
        "CHECK ((qty >= 10)) NOT VALID"
    );
    // every row recomputed with the new expression: 1*2*2 + 20*2*2
    assert_eq!(count(&mut c, "SELECT sum(total)::int8 FROM lines"), 84);
    let gen = one(&mut c, "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'lines'::regclass AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = 'lines'::regclass AND attname = 'total' AND NOT attisdropped)");
    assert!(gen.contains("* (2)::numeric"), "{gen}");
}

/// Comments, an index's uniqueness and INCLUDE, and a default removed: each reaches the catalog.
#[test]
fn comments_index_shape_and_dropped_default() {
    let mut c = fresh_db("cmp_more");
    let t = |comment: &str, col_comment: &str, default: Option<&str>, unique: bool| {
        let mut code = json!({"name": "code", "type": "text", "comment": col_comment});
        if let Some(d) = default {
            code["default"] = json!(d);
        }
        json!([{"name": "skus", "comment": comment, "columns": [code, {"name": "n", "type": "integer"}],
                "indexes": [{"name": "idx_skus_code", "columns": ["code"], "unique": unique, "include": if unique { json!(["n"]) } else { json!([]) }}]}])
    };
    assert_eq!(
        status(&apply(
            &mut c,
            &v("1", t("old", "old col", Some("'x'"), false))
        )),
        "applied"
    );
    let env = apply(&mut c, &v("2", t("new", "new col", None, true)));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(
        one(
            &mut c,
            "SELECT obj_description('skus'::regclass, 'pg_class')"
        ),
        "new"
    );
    assert_eq!(
        one(&mut c, "SELECT col_description('skus'::regclass, 2 + 4)"),
        "new col"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_attrdef WHERE adrelid = 'skus'::regclass AND adnum = 6"
        ),
        0
    );
    assert_eq!(
        one(&mut c, "SELECT pg_get_indexdef('idx_skus_code'::regclass)"),
        "CREATE UNIQUE INDEX idx_skus_code ON public.skus USING btree (code) INCLUDE (n)"
    );
}

/// Out-of-band changes are reported on the next version: a default changed by hand is put back,
/// an extra index, constraint and trigger are warnings with their names.
#[test]
fn out_of_band_changes_are_reported_on_the_next_version() {
    let mut c = fresh_db("cmp_oob");
    let t =
        json!([{"name": "notes", "columns": [{"name": "body", "type": "text", "default": "''"}]}]);
    assert_eq!(status(&apply(&mut c, &v("1", t.clone()))), "applied");
    c.batch_execute(
        "ALTER TABLE notes ALTER COLUMN body SET DEFAULT 'hand';
         CREATE INDEX notes_by_hand ON notes (body);
         ALTER TABLE notes ADD CONSTRAINT body_short CHECK (length(body) < 100);
         CREATE FUNCTION noop_trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
         CREATE TRIGGER by_hand BEFORE INSERT ON notes FOR EACH ROW EXECUTE FUNCTION noop_trg();",
    )
    .unwrap();
    let env = apply(&mut c, &v("2", t));
    assert_eq!(status(&env), "applied", "{env:#}");
    let w = warnings(&env).join("\n");
    for name in ["notes_by_hand", "body_short", "by_hand"] {
        assert!(w.contains(name), "{name} not reported: {w}");
    }
    assert_eq!(
        one(&mut c, "SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef WHERE adrelid = 'notes'::regclass AND adnum = 6"),
        "''::text"
    );
}

/// tenant_table() on a table with a leftover `USING (true)` policy: the risk `foreign_policy`
/// blocks; allowed, the policy is dropped and two tenants are isolated for a non-owner role.
#[test]
fn leftover_permissive_policy_is_a_risk_then_removed() {
    let db = "cmp_policy";
    let mut c = fresh_db(db);
    c.batch_execute(&format!(
        "CREATE TABLE leads (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), email text);
         ALTER TABLE leads ENABLE ROW LEVEL SECURITY;
         CREATE POLICY everyone ON leads USING (true) WITH CHECK (true);
         INSERT INTO leads (email) VALUES ('a@x'), ('b@x');"
    ))
    .unwrap();
    let env: Value = c
        .query_one(
            "SELECT revos.tenant_table('leads', '[]', $1::jsonb)",
            &[&json!({"backfill_tenant": T1})],
        )
        .unwrap()
        .get(0);
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert_eq!(risk_codes(&env), ["foreign_policy"]);
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_policy WHERE polrelid = 'leads'::regclass"
        ),
        1
    );
    let env: Value = c
        .query_one(
            "SELECT revos.tenant_table('leads', '[]', $1::jsonb)",
            &[&json!({"backfill_tenant": T1, "allow_destructive": true})],
        )
        .unwrap()
        .get(0);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(
        one(
            &mut c,
            "SELECT string_agg(polname, ',') FROM pg_policy WHERE polrelid = 'leads'::regclass"
        ),
        "revos_tenant_isolation"
    );
    ensure_role(&mut c, "revos_cmp_app", "");
    c.batch_execute(&format!(
        "GRANT CONNECT ON DATABASE {db} TO revos_cmp_app; GRANT USAGE ON SCHEMA public TO revos_cmp_app;
         GRANT SELECT, INSERT ON leads TO revos_cmp_app;"
    ))
    .unwrap();
    let mut app = connect_as(db, "revos_cmp_app");
    let seen = |app: &mut postgres::Client, tenant: &str| -> i64 {
        let mut tx = app.transaction().unwrap();
        tx.execute("SELECT revos.set_tenant($1)", &[&tenant])
            .unwrap();
        let n: i64 = tx
            .query_one("SELECT count(*) FROM leads", &[])
            .unwrap()
            .get(0);
        tx.commit().unwrap();
        n
    };
    assert_eq!(seen(&mut app, T1), 2);
    assert_eq!(seen(&mut app, T2), 0);
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT revos.set_tenant($1)", &[&T2]).unwrap();
    tx.execute("INSERT INTO leads (email) VALUES ('c@y')", &[])
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(seen(&mut app, T2), 1);
    assert_eq!(seen(&mut app, T1), 2);
}

/// A change that does not land fails verification (P0004) and rolls back: an event trigger puts
/// the old default back after every ALTER TABLE of the table, so the catalog never takes it.
#[test]
fn a_change_that_did_not_land_fails_verification() {
    let mut c = fresh_db("cmp_verify");
    let t = |d: &str| json!([{"name": "jobs", "columns": [{"name": "state", "type": "text", "default": d}]}]);
    assert_eq!(status(&apply(&mut c, &v("1", t("'new'")))), "applied");
    c.batch_execute(
        "CREATE FUNCTION undo_default() RETURNS event_trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF current_setting('cmp.busy', true) = 'on' THEN RETURN; END IF;
           PERFORM set_config('cmp.busy', 'on', true);
           IF EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands() WHERE object_identity = 'public.jobs') THEN
             EXECUTE 'ALTER TABLE public.jobs ALTER COLUMN state SET DEFAULT ''new''';
           END IF;
           PERFORM set_config('cmp.busy', 'off', true);
         END $$;
         CREATE EVENT TRIGGER undo_default ON ddl_command_end WHEN TAG IN ('ALTER TABLE') EXECUTE FUNCTION undo_default();",
    )
    .unwrap();
    let env = apply(&mut c, &v("2", t("'queued'")));
    assert_eq!(status(&env), "failed", "{env:#}");
    assert_eq!(env["result"]["error"]["sqlstate"], "P0004", "{env:#}");
    let msg = env["result"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(msg.contains("jobs.state has default 'new'::text"), "{msg}");
}
