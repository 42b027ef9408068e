//! Issue 5 — a hostile-input corpus over every field that can reach SQL. Each case must come back
//! `blocked`, with an error at the expected path, nothing executed, no ledger row, and the
//! sentinel table intact. Then the isolation matrix: every table from erp-agent and the core
//! schemas × SELECT/INSERT/UPDATE/DELETE × own/other/no tenant × app role/owner, plus the
//! foreign-key channel.

mod common;
use common::*;
use serde_json::{json, Value};

fn base() -> Value {
    json!({"schema_version": "h-1", "description": "hostile", "schema": "app",
           "enums": [{"name": "mood", "values": ["ok"]}],
           "options": {"lock_timeout_ms": 1000},
           "tables": [
              {"name": "a", "comment": "c", "columns": [
                  {"name": "x", "type": "text", "default": "'d'", "check": "x <> ''"},
                  {"name": "n", "type": "integer", "generated": "1 + 1"},
                  {"name": "r", "type": "uuid", "references": {"table": "b", "schema": "app", "column": "id", "on_delete": "cascade", "on_update": "cascade"}}],
               "indexes": [{"name": "ix", "columns": ["x"], "method": "btree", "where": "x IS NOT NULL", "include": ["n"]}],
               "checks": [{"name": "ck", "expression": "n > 0"}],
               "unique": [["x", "n"]], "primary_key": ["id"]},
              {"name": "b", "columns": [{"name": "y", "type": "mood"}]}]})
}

/// Sets `value` at a JSON pointer of the base payload.
fn with(ptr: &str, value: Value) -> Value {
    let mut v = base();
    let (parent, key) = ptr.rsplit_once('/').unwrap();
    match v
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("no {parent}"))
    {
        Value::Object(m) => {
            m.insert(key.to_string(), value);
        }
        Value::Array(a) => a[key.parse::<usize>().unwrap()] = value,
        _ => panic!("{parent} is not a container"),
    }
    v
}

const INJECT: &str = "x\"; DROP TABLE public.sentinel; --";

fn corpus() -> Vec<(&'static str, Value, &'static str)> {
    let s = |x: &str| json!(x);
    vec![
        // names
        (
            "table name with quote",
            with("/tables/0/name", s(INJECT)),
            "tables[0].name",
        ),
        (
            "table name with dot",
            with("/tables/0/name", s("public.sentinel")),
            "tables[0].name",
        ),
        (
            "table name with parenthesis",
            with("/tables/0/name", s("a()")),
            "tables[0].name",
        ),
        (
            "table name too long",
            with("/tables/0/name", s(&"t".repeat(64))),
            "tables[0].name",
        ),
        (
            "table name unicode",
            with("/tables/0/name", s("tåble")),
            "tables[0].name",
        ),
        (
            "table name newline",
            with("/tables/0/name", s("a\nb")),
            "tables[0].name",
        ),
        (
            "column name with semicolon",
            with(
                "/tables/0/columns/0/name",
                s("x; DROP TABLE public.sentinel"),
            ),
            "tables[0].columns[0].name",
        ),
        (
            "column name with quote",
            with("/tables/0/columns/0/name", s(INJECT)),
            "tables[0].columns[0].name",
        ),
        (
            "index name injection",
            with("/tables/0/indexes/0/name", s(INJECT)),
            "tables[0].indexes[0].name",
        ),
        (
            "check name injection",
            with("/tables/0/checks/0/name", s(INJECT)),
            "tables[0].checks[0].name",
        ),
        (
            "enum name injection",
            with("/enums/0/name", s(INJECT)),
            "enums[0].name",
        ),
        (
            "enum schema injection",
            with("/enums/0/schema", s("app; DROP TABLE public.sentinel")),
            "enums[0].schema",
        ),
        ("schema injection", with("/schema", s(INJECT)), "schema"),
        (
            "table schema injection",
            with("/tables/0/schema", s("x\" CASCADE; --")),
            "tables[0].schema",
        ),
        (
            "reserved schema",
            with("/schema", s("pg_catalog")),
            "schema",
        ),
        (
            "revos schema",
            with("/tables/0/schema", s("revos")),
            "tables[0].schema",
        ),
        (
            "primary key column injection",
            with("/tables/0/primary_key", json!([INJECT])),
            "tables[0].primary_key[0]",
        ),
        (
            "unique column injection",
            with("/tables/0/unique", json!([[INJECT]])),
            "tables[0].unique[0][0]",
        ),
        (
            "index column injection",
            with("/tables/0/indexes/0/columns", json!([INJECT])),
            "tables[0].indexes[0].columns[0]",
        ),
        (
            "include column injection",
            with("/tables/0/indexes/0/include", json!(["n) WHERE (true"])),
            "tables[0].indexes[0].include[0]",
        ),
        // types
        (
            "type with statement",
            with(
                "/tables/0/columns/0/type",
                s("text; DROP TABLE public.sentinel"),
            ),
            "tables[0].columns[0].type",
        ),
        (
            "type with comment",
            with("/tables/0/columns/0/type", s("text -- x")),
            "tables[0].columns[0].type",
        ),
        (
            "type with quote",
            with("/tables/0/columns/0/type", s("text\" ")),
            "tables[0].columns[0].type",
        ),
        (
            "type with default clause",
            with("/tables/0/columns/0/type", s("text DEFAULT (1)")),
            "tables[0].columns[0].type",
        ),
        (
            "unknown type",
            with("/tables/0/columns/0/type", s("sentinel_type")),
            "tables[0].columns[0].type",
        ),
        (
            "pseudo type",
            with("/tables/0/columns/0/type", s("trigger")),
            "tables[0].columns[0].type",
        ),
        // expressions
        (
            "default closes paren",
            with(
                "/tables/0/columns/0/default",
                s("'d'); DROP TABLE public.sentinel; --"),
            ),
            "tables[0].columns[0].default",
        ),
        (
            "default with comment",
            with("/tables/0/columns/0/default", s("'d' /* x */")),
            "tables[0].columns[0].default",
        ),
        (
            "default two expressions",
            with("/tables/0/columns/0/default", s("'a', 'b'")),
            "tables[0].columns[0].default",
        ),
        (
            "default dollar quote",
            with("/tables/0/columns/0/default", s("$$d$$")),
            "tables[0].columns[0].default",
        ),
        (
            "default with FROM",
            with("/tables/0/columns/0/default", s("x FROM public.sentinel")),
            "tables[0].columns[0].default",
        ),
        (
            "check closes paren",
            with(
                "/tables/0/columns/0/check",
                s("true)) NOT VALID; DROP TABLE public.sentinel; --"),
            ),
            "tables[0].columns[0].check",
        ),
        (
            "check syntax error",
            with("/tables/0/columns/0/check", s("x <>")),
            "tables[0].columns[0].check",
        ),
        (
            "table check injection",
            with(
                "/tables/0/checks/0/expression",
                s("n > 0); DROP TABLE public.sentinel; --"),
            ),
            "tables[0].checks[0].expression",
        ),
        (
            "generated injection",
            with(
                "/tables/0/columns/1/generated",
                s("1) STORED; DROP TABLE public.sentinel; --"),
            ),
            "tables[0].columns[1].generated",
        ),
        (
            "generated with union",
            with("/tables/0/columns/1/generated", s("1 UNION SELECT 2")),
            "tables[0].columns[1].generated",
        ),
        (
            "where injection",
            with(
                "/tables/0/indexes/0/where",
                s("true; DROP TABLE public.sentinel"),
            ),
            "tables[0].indexes[0].where",
        ),
        (
            "where with order by",
            with("/tables/0/indexes/0/where", s("true ORDER BY 1")),
            "tables[0].indexes[0].where",
        ),
        (
            "where escape string",
            with(
                "/tables/0/indexes/0/where",
                s("E'\\'' ; DROP TABLE public.sentinel; --'"),
            ),
            "tables[0].indexes[0].where",
        ),
        // index method, references, actions
        (
            "index method injection",
            with(
                "/tables/0/indexes/0/method",
                s("btree; DROP TABLE public.sentinel"),
            ),
            "tables[0].indexes[0].method",
        ),
        (
            // spgist is one the server has (any method in pg_am is accepted, issue 25)
            "index method unknown",
            with("/tables/0/indexes/0/method", s("no_such_method")),
            "tables[0].indexes[0].method",
        ),
        (
            "references table injection",
            with("/tables/0/columns/2/references/table", s(INJECT)),
            "tables[0].columns[2].references.table",
        ),
        (
            "references schema injection",
            with("/tables/0/columns/2/references/schema", s(INJECT)),
            "tables[0].columns[2].references.schema",
        ),
        (
            "references column injection",
            with("/tables/0/columns/2/references/column", s(INJECT)),
            "tables[0].columns[2].references.column",
        ),
        (
            "references unknown table",
            with("/tables/0/columns/2/references/table", s("sentinel_nope")),
            "tables[0].columns[2].references.table",
        ),
        (
            "on_delete injection",
            with(
                "/tables/0/columns/2/references/on_delete",
                s("cascade; DROP TABLE public.sentinel"),
            ),
            "tables[0].columns[2].references.on_delete",
        ),
        (
            "on_update injection",
            with(
                "/tables/0/columns/2/references/on_update",
                s("set null) --"),
            ),
            "tables[0].columns[2].references.on_update",
        ),
        // enum values and comments
        (
            "enum value too long",
            with("/enums/0/values", json!(["v".repeat(64)])),
            "enums[0].values[0]",
        ),
        (
            "enum value empty",
            with("/enums/0/values", json!([""])),
            "enums[0].values[0]",
        ),
        (
            "enum values duplicate",
            with("/enums/0/values", json!(["a", "a"])),
            "enums[0].values[1]",
        ),
        (
            "comment too long",
            with("/tables/0/comment", s(&"c".repeat(9000))),
            "tables[0].comment",
        ),
        // option values
        (
            "lock_timeout_ms as string",
            with(
                "/options/lock_timeout_ms",
                s("1; DROP TABLE public.sentinel"),
            ),
            "options.lock_timeout_ms",
        ),
        (
            "lock_timeout_ms negative",
            with("/options/lock_timeout_ms", json!(-5)),
            "options.lock_timeout_ms",
        ),
        (
            "lock_timeout_ms huge",
            with("/options/lock_timeout_ms", json!(99999999999i64)),
            "options.lock_timeout_ms",
        ),
        (
            "tenant_type injection",
            with(
                "/options",
                json!({"tenant_type": "uuid; DROP TABLE public.sentinel"}),
            ),
            "options.tenant_type",
        ),
        (
            "tenant_column injection",
            with("/options", json!({"tenant_column": INJECT})),
            "options.tenant_column",
        ),
        (
            "backfill_tenant injection",
            with(
                "/options",
                json!({"backfill_tenant": "x'; DROP TABLE public.sentinel; --"}),
            ),
            "options.backfill_tenant",
        ),
        (
            "version injection",
            with("/schema_version", s("1'; DROP TABLE public.sentinel; --")),
            "schema_version",
        ),
        (
            "unknown key",
            with(
                "/tables/0/columns/0",
                json!({"name": "x", "type": "text", "sql": "DROP TABLE public.sentinel"}),
            ),
            "tables[0].columns[0].sql",
        ),
    ]
}

#[test]
fn every_hostile_input_is_blocked_with_its_path_and_the_sentinel_survives() {
    let mut c = fresh_db("hostile_corpus");
    c.batch_execute(
        "CREATE TABLE public.sentinel (v int); INSERT INTO public.sentinel VALUES (42);",
    )
    .unwrap();
    // the base payload itself is fine
    let mut plan_base = base();
    plan_base["schema_version"] = json!("h-base");
    assert_eq!(
        status(&plan(&mut c, &plan_base)),
        "planned",
        "{:#}",
        plan(&mut c, &plan_base)
    );
    let cases = corpus();
    assert!(cases.len() >= 40, "{}", cases.len());
    let tables_before = count(&mut c, "SELECT count(*) FROM pg_class");
    for (what, payload, path) in &cases {
        let env = apply(&mut c, payload);
        assert_eq!(status(&env), "blocked", "{what}: {env:#}");
        let errors = env["result"]["validation_errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| e["path"] == *path),
            "{what}: no error at {path}: {errors:#?}"
        );
        assert_eq!(
            count(&mut c, "SELECT sum(v)::bigint FROM public.sentinel"),
            42,
            "{what}"
        );
    }
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM pg_class"),
        tables_before,
        "nothing was created"
    );
    assert_eq!(
        count(&mut c, "SELECT count(*) FROM revos.schema_migrations"),
        0
    );
    println!(
        "hostile corpus: {} cases, all blocked with their path",
        cases.len()
    );

    // Text that only ever becomes a quoted literal is accepted verbatim, not executed.
    let mut v = base();
    v["tables"][0]["comment"] = json!(INJECT);
    v["tables"][0]["columns"][0]["comment"] = json!("it's; DROP TABLE public.sentinel; --");
    v["enums"][0]["values"] = json!(["o'k", "x\"; DROP TABLE public.sentinel; --"]);
    let env = apply(&mut c, &v);
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(
        text(&mut c, "SELECT obj_description('app.a'::regclass)").as_deref(),
        Some(INJECT)
    );
    assert_eq!(text(&mut c, "SELECT string_agg(enumlabel, '|' ORDER BY enumsortorder) FROM pg_enum WHERE enumtypid = 'app.mood'::regtype").as_deref(),
        Some("o'k|x\"; DROP TABLE public.sentinel; --"));
    assert_eq!(
        count(&mut c, "SELECT sum(v)::bigint FROM public.sentinel"),
        42
    );
}

// ------------------------------------------------------------------------------------------------

const TA: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const TB: &str = "bbbbbbbb-0000-0000-0000-000000000002";

/// Runs `sql` in a transaction as `client` with `tenant` set; returns rows affected/seen or the SQLSTATE.
fn attempt(client: &mut postgres::Client, tenant: Option<&str>, sql: &str) -> Result<u64, String> {
    let mut tx = client.transaction().unwrap();
    if let Some(t) = tenant {
        tx.query_one("SELECT revos.set_tenant($1)", &[&t]).unwrap();
    }
    let r = if sql.starts_with("SELECT") {
        tx.query(sql, &[]).map(|rows| rows.len() as u64)
    } else {
        tx.execute(sql, &[])
    };
    drop(tx); // roll back: every cell starts from the same data
    r.map_err(|e| sqlstate(&e))
}

#[test]
fn tenant_isolation_matrix_has_no_leak() {
    let mut su = fresh_db("isolation_matrix");
    ensure_role(&mut su, "revos_matrix_owner", "");
    ensure_role(&mut su, "revos_matrix_app", "");
    su.batch_execute("GRANT revos_admin TO revos_matrix_owner; GRANT CREATE ON DATABASE isolation_matrix TO revos_matrix_owner; GRANT CREATE ON SCHEMA public TO revos_matrix_owner;").unwrap();
    let mut owner = connect_as("isolation_matrix", "revos_matrix_owner");
    for p in [
        fixture("erp-agent.json"),
        fixture("wf106-patients.json"),
        fixture("smoke-test-002.json"),
    ] {
        assert_eq!(status(&apply(&mut owner, &p)), "applied");
    }
    owner
        .batch_execute(
            "GRANT USAGE ON SCHEMA erp, agent TO revos_matrix_app;
             GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA erp, agent, public TO revos_matrix_app;",
        )
        .unwrap();
    // Every tenant-scoped table revos created, with one row per tenant (inserted through RLS by the owner).
    let tables: Vec<(String, String)> = su
        .query(
            "SELECT n.nspname::text, c.relname::text FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace WHERE p.polname = 'revos_tenant_isolation' ORDER BY 1, 2",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        tables.len(),
        36 + 2,
        "erp-agent's 36 tenant tables + patients + test_success"
    );
    // rows: only tables whose required columns all have defaults can take a bare insert
    let mut seeded = vec![];
    for (s, t) in &tables {
        let mut ok = true;
        for tenant in [TA, TB] {
            let mut tx = owner.transaction().unwrap();
            tx.query_one("SELECT revos.set_tenant($1)", &[&tenant])
                .unwrap();
            let required: Vec<String> = tx
                .query(
                    "SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass
                       AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND NOT a.atthasdef AND a.attgenerated = ''",
                    &[s, t],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            // fill required text/boolean columns with literals; skip tables needing other values (FK ids)
            let types: Vec<(String, String)> = tx
                .query(
                    "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
                      WHERE a.attrelid = format('%I.%I', $1::text, $2::text)::regclass AND a.attname = ANY($3)",
                    &[s, t, &required],
                )
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            if types.iter().any(|(_, ty)| ty != "text") {
                ok = false;
                break;
            }
            let cols: Vec<String> = types.iter().map(|(n, _)| format!("\"{n}\"")).collect();
            let vals: Vec<String> = types.iter().map(|_| "'v'".to_string()).collect();
            let sql = if cols.is_empty() {
                format!("INSERT INTO \"{s}\".\"{t}\" DEFAULT VALUES")
            } else {
                format!(
                    "INSERT INTO \"{s}\".\"{t}\" ({}) VALUES ({})",
                    cols.join(", "),
                    vals.join(", ")
                )
            };
            if tx.execute(&sql, &[]).is_err() {
                ok = false;
                break;
            }
            tx.commit().unwrap();
        }
        if ok {
            seeded.push((s.clone(), t.clone()));
        }
    }
    assert!(
        seeded.len() >= 25,
        "only {} of {} tables could be seeded",
        seeded.len(),
        tables.len()
    );

    let mut app = connect_as("isolation_matrix", "revos_matrix_app");
    let mut cells = 0;
    let mut leaks = vec![];
    for (s, t) in &tables {
        let q = format!("\"{s}\".\"{t}\"");
        let has_rows = seeded.contains(&(s.clone(), t.clone()));
        let n_rows = if has_rows { 1 } else { 0 };
        for (who, client) in [("app", &mut app), ("owner", &mut owner)] {
            for (tenant_label, tenant) in [("own", Some(TA)), ("none", None)] {
                // SELECT: own tenant sees exactly its row; the other tenant's row never; no tenant: nothing.
                let seen = attempt(client, tenant, &format!("SELECT * FROM {q}")).unwrap();
                let want = if tenant.is_some() { n_rows } else { 0 };
                if seen != want {
                    leaks.push(format!(
                        "{who}/{tenant_label}: SELECT {q} saw {seen}, want {want}"
                    ));
                }
                let other = attempt(
                    client,
                    tenant,
                    &format!("SELECT * FROM {q} WHERE tenant_id = '{TB}'"),
                )
                .unwrap();
                if other != 0 {
                    leaks.push(format!(
                        "{who}/{tenant_label}: SELECT other tenant of {q} saw {other}"
                    ));
                }
                // UPDATE / DELETE of the other tenant's rows touch nothing.
                for verb in [
                    "UPDATE {q} SET updated_at = now() WHERE tenant_id = '{TB}'",
                    "DELETE FROM {q} WHERE tenant_id = '{TB}'",
                ] {
                    let sql = verb.replace("{q}", &q).replace("{TB}", TB);
                    match attempt(client, tenant, &sql) {
                        Ok(0) => {}
                        Ok(n) => leaks.push(format!("{who}/{tenant_label}: {sql} touched {n}")),
                        Err(state) if state == "23503" => {} // a referencing row blocked the delete: still nothing touched
                        Err(state) => {
                            leaks.push(format!("{who}/{tenant_label}: {sql} failed with {state}"))
                        }
                    }
                }
                // INSERT into the other tenant is refused (RLS WITH CHECK, or NOT NULL first).
                match attempt(
                    client,
                    tenant,
                    &format!("INSERT INTO {q} (tenant_id) VALUES ('{TB}')"),
                ) {
                    Err(state) if state == "42501" => {}
                    Err(state) if state == "23502" && tenant.is_some() => {} // a required column was empty: refused anyway
                    Err(state) if state == "23502" => {}
                    other => leaks.push(format!(
                        "{who}/{tenant_label}: INSERT into other tenant of {q}: {other:?}"
                    )),
                }
                // UPDATE moving own rows to the other tenant is refused.
                match attempt(
                    client,
                    tenant,
                    &format!("UPDATE {q} SET tenant_id = '{TB}'"),
                ) {
                    Ok(0) if tenant.is_none() || !has_rows => {}
                    Err(state) if state == "42501" => {}
                    other => leaks.push(format!(
                        "{who}/{tenant_label}: UPDATE to other tenant of {q}: {other:?}"
                    )),
                }
                cells += 7;
            }
        }
    }
    // The foreign-key channel: a row of tenant A referencing tenant B's id is refused.
    let b_project: String = {
        let mut tx = owner.transaction().unwrap();
        tx.query_one("SELECT revos.set_tenant($1)", &[&TB]).unwrap();
        let id: String = tx
            .query_one(
                "INSERT INTO erp.projects (name) VALUES ('b') RETURNING id::text",
                &[],
            )
            .unwrap()
            .get(0);
        tx.commit().unwrap();
        id
    };
    for (who, client) in [("app", &mut app), ("owner", &mut owner)] {
        match attempt(
            client,
            Some(TA),
            &format!("INSERT INTO erp.tasks (title, project_id) VALUES ('t', '{b_project}')"),
        ) {
            Err(state) if state == "23503" => {}
            other => leaks.push(format!(
                "{who}: a task of tenant A referencing tenant B's project: {other:?}"
            )),
        }
        cells += 1;
    }
    println!(
        "isolation matrix: {} tables x {cells} cells checked, {} leaks",
        tables.len(),
        leaks.len()
    );
    assert!(leaks.is_empty(), "{leaks:#?}");
    assert!(cells >= 38 * 2 * 2 * 7);
}
