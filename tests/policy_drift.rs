//! The tenant policy is compared in full wherever it guards tenant rows (contract §10): on a
//! declared partition (its own policy: command, permissive, roles, USING, WITH CHECK; RLS enabled
//! and forced; and any policy revos did not declare on it, as on the parent) and on a table the
//! apply itself created (a function called during the apply — here from a materialized view's
//! query, contract §11 — can change it: "created by this apply" is not "as declared").
//!
//! Generated cases, each alone in a database of its own (`each_alone`: one failing case does not
//! hide the others). Every case below was seen failing on the code before the fix (ab5a423, the
//! adversarial review's High 1 and High 2), except those marked `guard` (already caught then; kept
//! so that the fix does not lose them).

mod common;
use common::*;
use serde_json::{json, Value};

const T1: &str = "11111111-1111-1111-1111-111111111111";
const T2: &str = "22222222-2222-2222-2222-222222222222";
const APP: &str = "revos_pd_app";

/// The risk codes of an answer, and the statements a plan_schema answer plans.
fn codes_and_steps(env: &Value) -> (Vec<String>, usize) {
    let codes = risks(env).into_iter().map(|r| r.0).collect();
    let steps = env["result"]["plan"]["steps"]
        .as_array()
        .map_or(0, Vec::len);
    (codes, steps)
}

/// The policies and RLS flags of `rel`, one line each: what the test compares before and after.
fn guard_state(c: &mut postgres::Client, rel: &str) -> String {
    text(
        c,
        &format!(
            "SELECT (SELECT relrowsecurity || ' ' || relforcerowsecurity FROM pg_class WHERE oid = '{rel}'::regclass) || E'\\n' ||
                    coalesce(string_agg(polname || ' ' || polcmd::text || ' ' || polpermissive::text || ' ' || polroles::regrole[]::text || ' '
                        || coalesce(pg_get_expr(polqual, polrelid), '-') || ' ' || coalesce(pg_get_expr(polwithcheck, polrelid), '-'),
                        E'\\n' ORDER BY polname), '')
               FROM pg_policy WHERE polrelid = '{rel}'::regclass"
        ),
    )
    .unwrap_or_default()
}

/// The tenants a revos_app member sees in `rel` with the tenant set to T1; None when it may not
/// read `rel` at all (a declared partition of a tenant table is its owner's only since stop 48).
fn tenants_seen(db: &str, rel: &str) -> Option<i64> {
    let mut app = connect_as(db, APP);
    let mut tx = app.transaction().unwrap();
    tx.execute("SELECT revos.set_tenant($1)", &[&T1]).unwrap();
    let n = match tx.query_one(&format!("SELECT count(DISTINCT tenant_id) FROM {rel}"), &[]) {
        Ok(row) => Some(row.get(0)),
        Err(e) if sqlstate(&e) == "42501" => None,
        Err(e) => panic!("{rel}: {e}"),
    };
    tx.rollback().unwrap();
    n
}

/// What the re-apply must answer after the drift.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Blocked with the risk `foreign_policy`; allowed, the policy is dropped.
    ForeignPolicy,
    /// Applied with a warning naming the policy (a RESTRICTIVE one only narrows access).
    Warning(&'static str),
    /// Applied with statements that bring the partition's policy and flags back.
    Restored,
}

/// High 1 of the review of ab5a423: drift on a declared partition of a tenant table, each alone.
/// Re-applying the same payload under a new version never answers "applied, 0 statements" over
/// it: a foreign PERMISSIVE policy is the risk `foreign_policy` (as on the parent), a RESTRICTIVE
/// one a warning, and any change to revos's own policy or RLS flags is changed back; afterwards a
/// revos_app member sees one tenant's rows through the partition.
#[test]
fn drift_on_a_declared_partition_is_never_applied_as_is() {
    let cases: Vec<(&str, String, Expect)> = vec![
        (
            "extra_permissive",
            "CREATE POLICY leak ON events_2024 USING (true)".into(),
            Expect::ForeignPolicy,
        ),
        (
            "extra_permissive_select_to_app",
            format!("CREATE POLICY leak ON events_2024 AS PERMISSIVE FOR SELECT TO {APP} USING (true)"),
            Expect::ForeignPolicy,
        ),
        (
            "extra_restrictive",
            "CREATE POLICY narrow ON events_2024 AS RESTRICTIVE USING (day >= '2024-01-01')".into(),
            Expect::Warning("narrow"),
        ),
        (
            "roles_changed",
            format!("ALTER POLICY revos_tenant_isolation ON events_2024 TO {APP}"),
            Expect::Restored,
        ),
        // guard: the USING was in the partition's deparse before
        (
            "using_changed",
            "ALTER POLICY revos_tenant_isolation ON events_2024 USING (true)".into(),
            Expect::Restored,
        ),
        (
            "permissive_flag_changed",
            "DO $$ DECLARE q text; w text; BEGIN
               SELECT pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) INTO q, w
                 FROM pg_policy WHERE polrelid = 'events_2024'::regclass AND polname = 'revos_tenant_isolation';
               DROP POLICY revos_tenant_isolation ON events_2024;
               EXECUTE format('CREATE POLICY revos_tenant_isolation ON events_2024 AS RESTRICTIVE USING (%s) WITH CHECK (%s)', q, w);
             END $$"
                .into(),
            Expect::Restored,
        ),
        // guard: the RLS flags were in the partition's deparse before
        (
            "rls_disabled",
            "ALTER TABLE events_2024 DISABLE ROW LEVEL SECURITY".into(),
            Expect::Restored,
        ),
        (
            "rls_not_forced",
            "ALTER TABLE events_2024 NO FORCE ROW LEVEL SECURITY".into(),
            Expect::Restored,
        ),
    ];
    each_alone(cases, |name, drift, expect| {
        let db = format!("pd_part_{name}");
        let mut c = fresh_db(&db);
        ensure_role(&mut c, APP, "");
        let env = apply(&mut c, &events("1"));
        assert_eq!(status(&env), "applied", "{name}: {env:#}");
        let declared = guard_state(&mut c, "events_2024");
        c.batch_execute(&format!(
            "GRANT revos_app TO {APP}; GRANT CONNECT ON DATABASE {db} TO {APP};
             GRANT USAGE ON SCHEMA public TO {APP}; GRANT SELECT ON events, events_2024 TO {APP};
             INSERT INTO events (tenant_id, day) VALUES ('{T1}', '2024-03-01'), ('{T2}', '2024-07-01');
             {drift};"
        ))
        .unwrap();
        let (_, planned) = codes_and_steps(&plan(&mut c, &events("2")));
        let env = apply(&mut c, &events("2"));
        let ok_and_silent = status(&env) == "applied" && planned == 0;
        assert!(
            !ok_and_silent || matches!(expect, Expect::Warning(_)),
            "{name}: the drift passed as applied with 0 statements: {env:#}"
        );
        match expect {
            Expect::ForeignPolicy => {
                assert_eq!(status(&env), "blocked", "{name}: {env:#}");
                assert_eq!(
                    codes_and_steps(&env).0,
                    ["foreign_policy"],
                    "{name}: {env:#}"
                );
                let env = apply(&mut c, &allow(events("2")));
                assert_eq!(status(&env), "applied", "{name}: {env:#}");
                assert_eq!(env["result"]["verification"]["ok"], true, "{name}");
                assert_eq!(guard_state(&mut c, "events_2024"), declared, "{name}");
            }
            Expect::Warning(policy) => {
                assert_eq!(status(&env), "applied", "{name}: {env:#}");
                let w = warnings(&env).join("\n");
                assert!(
                    w.contains(policy) && w.contains("events_2024"),
                    "{name}: the policy {policy} on the partition is not reported: {env:#}"
                );
            }
            Expect::Restored => {
                assert_eq!(status(&env), "applied", "{name}: {env:#}");
                assert!(planned > 0, "{name}: {env:#}");
                assert_eq!(env["result"]["verification"]["ok"], true, "{name}");
                assert_eq!(guard_state(&mut c, "events_2024"), declared, "{name}");
            }
        }
        // through the table, one tenant; through the partition, nothing: the apply revoked the
        // SELECT granted on it above (the partition is its owner's only)
        assert_eq!(tenants_seen(&db, "events"), Some(1), "{name}: tenants leak");
        assert_eq!(
            tenants_seen(&db, "events_2024"),
            None,
            "{name}: the partition is readable"
        );
    });
}

/// What the payload of the created-table cases declares besides the function and the view.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// `notes`, a tenant table.
    Plain,
    /// `notes` partitioned by day, with the partition `notes_2024`.
    Partitioned,
    /// `notes` in the membership mode, with the membership table `account_user` (its own policy:
    /// a user reads their own rows).
    Membership,
    /// `notes` in the claims mode (`tenant_ids` of the JWT).
    Claims,
    /// `notes` and a non-tenant table `shelf` with RLS and a declared policy `shelf_read`.
    DeclaredPolicy,
}

fn notes(version: &str, sneaky: &str, shape: Shape) -> Value {
    let mut tables = vec![json!({"name": "notes", "columns": [{"name": "body", "type": "text"}]})];
    let mut options = json!({});
    match shape {
        Shape::Plain => {}
        Shape::Partitioned => {
            tables[0] = json!({"name": "notes", "primary_key": ["id", "day"],
                "columns": [{"name": "body", "type": "text"}, {"name": "day", "type": "date", "not_null": true}],
                "partition_by": {"method": "range", "columns": ["day"]},
                "partitions": [{"name": "notes_2024", "values": "FROM ('2024-01-01') TO ('2025-01-01')"}]});
        }
        Shape::Membership => {
            tables.insert(
                0,
                json!({"name": "account_user", "tenant_scoped": false, "timestamps": false,
                "soft_delete": false, "primary_key": ["user_id", "account_id"],
                "columns": [{"name": "user_id", "type": "text", "not_null": true},
                            {"name": "account_id", "type": "uuid", "not_null": true}]}),
            );
            options = json!({"tenant_column": "account_id",
                "tenancy": {"mode": "membership", "table": "account_user"}});
        }
        Shape::Claims => options = json!({"tenancy": {"mode": "claims"}}),
        Shape::DeclaredPolicy => tables.push(json!({"name": "shelf", "tenant_scoped": false,
            "rls": true, "columns": [{"name": "label", "type": "text"}],
            "policies": [{"name": "shelf_read", "command": "select", "using": "label <> ''"}]})),
    }
    json!({"schema_version": version, "description": "a function changes what the apply creates",
        "options": options, "tables": tables,
        "functions": [{"name": "sneaky", "returns": "integer", "language": "plpgsql",
                       "body": format!("BEGIN {sneaky}; RETURN 1; END")}],
        "views": [{"name": format!("note_stats_{version}"), "materialized": true,
                   "query": "SELECT public.sneaky() AS x"}]})
}

/// High 2 of the review of ab5a423: a function called during the apply (a materialized view's
/// query) changes the tenant policy or the RLS flags of a table (or partition) the same apply
/// created. The apply never answers "applied" over it: verification compares the created table's
/// policy with the declared one in full, and fails (everything rolled back).
#[test]
fn a_policy_changed_during_the_apply_that_created_it_fails_verification() {
    use Shape::*;
    let cases: Vec<(&str, String, Shape)> = vec![
        (
            "using_and_check",
            "ALTER POLICY revos_tenant_isolation ON public.notes USING (true) WITH CHECK (true)"
                .into(),
            Plain,
        ),
        (
            "using",
            "ALTER POLICY revos_tenant_isolation ON public.notes USING (true)".into(),
            Plain,
        ),
        (
            "with_check",
            "ALTER POLICY revos_tenant_isolation ON public.notes WITH CHECK (true)".into(),
            Plain,
        ),
        // guard: roles and the permissive flag were compared before
        (
            "roles",
            format!("ALTER POLICY revos_tenant_isolation ON public.notes TO {APP}"),
            Plain,
        ),
        (
            "permissive",
            "DROP POLICY revos_tenant_isolation ON public.notes;
             CREATE POLICY revos_tenant_isolation ON public.notes AS RESTRICTIVE USING (true) WITH CHECK (true)"
                .into(),
            Plain,
        ),
        // guard: the RLS flags were checked before
        (
            "rls_disabled",
            "ALTER TABLE public.notes DISABLE ROW LEVEL SECURITY".into(),
            Plain,
        ),
        (
            "extra_permissive",
            "CREATE POLICY leak ON public.notes USING (true)".into(),
            Plain,
        ),
        // a partition the apply created
        (
            "partition_using",
            "ALTER POLICY revos_tenant_isolation ON public.notes_2024 USING (true)".into(),
            Partitioned,
        ),
        (
            "partition_roles",
            format!("ALTER POLICY revos_tenant_isolation ON public.notes_2024 TO {APP}"),
            Partitioned,
        ),
        (
            "partition_extra_permissive",
            "CREATE POLICY leak ON public.notes_2024 USING (true)".into(),
            Partitioned,
        ),
        (
            "membership_tenant_policy",
            "ALTER POLICY revos_tenant_isolation ON public.notes USING (true)".into(),
            Membership,
        ),
        (
            "membership_table_own_rows",
            "ALTER POLICY revos_tenant_isolation ON public.account_user USING (true)".into(),
            Membership,
        ),
        (
            "claims_tenant_policy",
            "ALTER POLICY revos_tenant_isolation ON public.notes WITH CHECK (true)".into(),
            Claims,
        ),
        // guard: an existing declared policy was compared after the apply before
        (
            "declared_policy",
            "ALTER POLICY shelf_read ON public.shelf USING (true)".into(),
            DeclaredPolicy,
        ),
        (
            "declared_policy_roles",
            format!("ALTER POLICY shelf_read ON public.shelf TO {APP}"),
            DeclaredPolicy,
        ),
    ];
    each_alone(cases, |name, sneaky, shape| {
        let db = format!("pd_new_{name}");
        let mut c = fresh_db(&db);
        ensure_role(&mut c, APP, "");
        // a declared policy is created after the views: the function changes it on the next
        // version (a new materialized view), where it exists — and is read back as it is now, not
        // under the snapshot of revos's last statement
        let version = if shape == DeclaredPolicy {
            let env = apply(&mut c, &notes("1", "PERFORM 1", shape));
            assert_eq!(status(&env), "applied", "{name}: {env:#}");
            "2"
        } else {
            "1"
        };
        let env = apply(&mut c, &notes(version, sneaky, shape));
        assert_eq!(status(&env), "failed", "{name}: {env:#}");
        assert_eq!(
            env["result"]["error"]["sqlstate"], "P0004",
            "{name}: {env:#}"
        );
        let gone = format!(
            "SELECT count(*) FROM pg_class WHERE relname IN ('notes', 'note_stats_{version}')"
        );
        let left = if version == "1" { 0 } else { 1 };
        assert_eq!(count(&mut c, &gone), left, "{name}: rolled back");
    });
    // the control: the same apply with a function that changes nothing is applied
    for shape in [Plain, Partitioned, Membership, Claims, DeclaredPolicy] {
        let mut c = fresh_db(&format!("pd_new_control_{shape:?}").to_lowercase());
        let env = apply(&mut c, &notes("1", "PERFORM 1", shape));
        assert_eq!(status(&env), "applied", "{env:#}");
        assert_eq!(env["result"]["verification"]["ok"], true);
    }
}

/// What a created table holds beside its policy, changed by a function during the apply that
/// created it (the same materialized view as above): a default, a check, an index's predicate,
/// a grant. These were verified "by construction" — presence and structure, the table having been
/// built from the spec's own text — so the apply answered `applied` over them. Any DDL that is
/// not revos's own during the apply now makes that unverifiable: the apply fails, everything rolled
/// back (each case alone; each answered `applied` on 0d0e998).
#[test]
fn anything_changed_during_the_apply_that_created_it_is_not_taken_as_declared() {
    let cases: Vec<(&str, String, ())> = vec![
        (
            "default",
            "ALTER TABLE public.notes ALTER COLUMN body SET DEFAULT 'leaked'".into(),
            (),
        ),
        (
            "check",
            "ALTER TABLE public.notes DROP CONSTRAINT notes_short, ADD CONSTRAINT notes_short CHECK (true)".into(),
            (),
        ),
        (
            "index_predicate",
            "DROP INDEX public.notes_body_idx; CREATE INDEX notes_body_idx ON public.notes (body) WHERE body IS NULL".into(),
            (),
        ),
        (
            "grant",
            "GRANT SELECT ON public.notes TO PUBLIC".into(),
            (),
        ),
        (
            "ddl_elsewhere",
            "CREATE TABLE public.unrelated (a int)".into(),
            (),
        ),
    ];
    let payload = |version: &str, sneaky: &str| {
        let mut p = notes(version, sneaky, Shape::Plain);
        p["tables"][0] = json!({"name": "notes",
            "columns": [{"name": "body", "type": "text", "default": "'empty'"}],
            "checks": [{"name": "notes_short", "expression": "length(body) < 100"}],
            "indexes": [{"name": "notes_body_idx", "columns": ["body"], "where": "body <> ''"}]});
        p
    };
    each_alone(cases, |name, sneaky, ()| {
        let db = format!("pd_built_{name}");
        let mut c = fresh_db(&db);
        let env = apply(&mut c, &payload("1", sneaky));
        assert_eq!(status(&env), "failed", "{name}: {env:#}");
        let msg = env["result"]["error"].to_string();
        assert!(
            msg.contains("that revos did not plan ran during the apply"),
            "{name}: the error does not say why: {env:#}"
        );
        let gone = "SELECT count(*) FROM pg_class WHERE relname IN ('notes', 'unrelated')";
        assert_eq!(count(&mut c, gone), 0, "{name}: rolled back");
    });
    // the control: the same payload with a function that runs no DDL is applied
    let mut c = fresh_db("pd_built_control");
    let env = apply(&mut c, &payload("1", "PERFORM 1"));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert_eq!(env["result"]["verification"]["ok"], true);
}

/// The review of 975044a, 2: an apply or plan called from a function during an apply started the
/// outer apply's watch afresh (and a nested apply ran statements of revos's own on its tables):
/// `applied` over a default the function had changed, or one the nested apply declared. Both are
/// refused now: uncaught, the outer apply fails; caught by the function, nothing of the nested
/// call stays and the outer apply is verified as declared.
#[test]
fn an_apply_or_plan_called_during_an_apply_is_refused() {
    let nested = |f: &str, default: &str| {
        format!(
            "PERFORM revos.{f}('{{\"schema_version\": \"9\", \"description\": \"n\", \"options\": {{\"allow_destructive\": true}},
               \"tables\": [{{\"name\": \"notes\", \"columns\": [{{\"name\": \"body\", \"type\": \"text\", \"default\": \"''{default}''\"}}]}}]}}'::jsonb)"
        )
    };
    let cases: Vec<(&str, String, bool)> = vec![
        (
            "plan_after_a_change",
            // the review's own case: the nested plan's rehearsal creates a table of its own
            "ALTER TABLE public.notes ALTER COLUMN body SET DEFAULT 'leaked';
             PERFORM revos.plan_schema('{\"schema_version\": \"7\", \"description\": \"n\",
               \"tables\": [{\"name\": \"zz\", \"columns\": [{\"name\": \"a\", \"type\": \"text\"}]}]}')"
                .into(),
            false,
        ),
        ("nested_apply", nested("apply_schema", "leaked"), false),
        (
            // F7 of the review of 523b683: the nested plan's rehearsal caught the refusal and
            // answered with a rehearsal error; now the call itself is refused, 55000
            "nested_plan_sqlstate",
            format!(
                "BEGIN {} ; RAISE EXCEPTION 'the nested plan answered'; EXCEPTION WHEN object_not_in_prerequisite_state THEN NULL; END",
                nested("plan_schema", "empty")
            ),
            true,
        ),
        (
            "nested_apply_caught",
            format!(
                "BEGIN {} ; EXCEPTION WHEN OTHERS THEN NULL; END",
                nested("apply_schema", "leaked")
            ),
            true,
        ),
    ];
    each_alone(cases, |name, sneaky, caught| {
        let mut c = fresh_db(&format!("pd_nested_{name}"));
        let mut p = notes("1", sneaky, Shape::Plain);
        p["tables"][0] = json!({"name": "notes",
            "columns": [{"name": "body", "type": "text", "default": "'empty'"}]});
        let env = apply(&mut c, &p);
        if caught {
            assert_eq!(status(&env), "applied", "{name}: {env:#}");
            let default = text(
                &mut c,
                "SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a
                   ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                  WHERE d.adrelid = 'public.notes'::regclass AND a.attname = 'body'",
            );
            assert_eq!(default.as_deref(), Some("'empty'::text"), "{name}");
        } else {
            assert_eq!(status(&env), "failed", "{name}: {env:#}");
            let why = env["result"]["error"].to_string();
            assert!(
                why.contains("called while another revos call is under way")
                    || why.contains("that revos did not plan ran during the apply"),
                "{name}: {env:#}"
            );
            assert_eq!(
                count(
                    &mut c,
                    "SELECT count(*) FROM pg_class WHERE relname = 'notes'"
                ),
                0,
                "{name}: rolled back"
            );
        }
    });
}

/// The review of 55e129f, F1 and F2: objects the apply creates (functions, views, sequences…) were
/// checked for presence even when other DDL ran during the apply, and a created table with nothing
/// compared "by construction" (no default, check or index of the payload's) passed whatever was
/// done to it. Each alone: a declared function replaced by another function during the apply; a
/// created shared table's revos `created_at` default changed. Both answered `applied` on 55e129f.
#[test]
fn what_an_apply_creates_is_not_taken_as_declared_when_other_ddl_ran() {
    let fun = |name: &str, body: &str| json!({"name": name, "returns": "integer", "language": "plpgsql", "body": body});
    let view =
        json!({"name": "odd_stats", "materialized": true, "query": "SELECT public.sneaky() AS x"});
    let cases: Vec<(&str, String, ())> = vec![
        (
            "created_function_replaced",
            serde_json::to_string(&json!({"schema_version": "1", "description": "objects only",
                "tables": [{"name": "shelf", "tenant_scoped": false, "columns": [{"name": "label", "type": "text"}]}],
                "functions": [fun("target", "BEGIN RETURN 1; END"),
                              fun("sneaky", "BEGIN CREATE OR REPLACE FUNCTION public.target() RETURNS integer LANGUAGE plpgsql AS $x$ BEGIN RETURN 2; END $x$; RETURN 1; END")],
                "views": [view.clone()]}))
            .unwrap(),
            (),
        ),
        (
            "created_table_auto_default",
            serde_json::to_string(&json!({"schema_version": "1", "description": "a bare shared table",
                "options": {"default_indexes": false},
                "tables": [{"name": "shelf", "tenant_scoped": false,
                            "columns": [{"name": "label", "type": "text"}]}],
                "functions": [fun("sneaky", "BEGIN ALTER TABLE public.shelf ALTER COLUMN created_at SET DEFAULT 'epoch'; RETURN 1; END")],
                "views": [view.clone()]}))
            .unwrap(),
            (),
        ),
    ];
    each_alone(cases, |name, payload, ()| {
        let mut c = fresh_db(&format!("pd_made_{name}"));
        let p: Value = serde_json::from_str(payload).unwrap();
        if name == "created_function_replaced" {
            // the table exists before: only the objects are created by the apply
            let mut v0 = p.clone();
            v0["schema_version"] = json!("0");
            v0.as_object_mut().unwrap().remove("functions");
            v0.as_object_mut().unwrap().remove("views");
            assert_eq!(status(&apply(&mut c, &v0)), "applied", "{name}: v0");
        }
        let env = apply(&mut c, &p);
        assert_eq!(status(&env), "failed", "{name}: {env:#}");
        let want = if name == "created_table_auto_default" {
            "table public.shelf could not be compared as a whole"
        } else {
            "target"
        };
        let why = env["result"]["error"].to_string();
        assert!(
            why.contains(want) && why.contains("that revos did not plan ran during the apply"),
            "{name}: {env:#}"
        );
    });
}

/// The review of 523b683, 1: what fails closed must not fail ordinary applies — an extension
/// created by the apply, with a superuser's event trigger that GRANTs after CREATE EXTENSION
/// (Supabase ships such triggers for pg_net, pg_cron, pg_graphql), is compared with its known form:
/// applied (failed on 523b683).
#[test]
fn an_extension_whose_event_trigger_grants_does_not_fail_the_apply() {
    let mut c = fresh_db("pd_ordinary_extension");
    let ext: String = ["citext", "vector", "hstore"]
        .iter()
        .find(|e| {
            count(
                &mut c,
                &format!("SELECT count(*) FROM pg_available_extensions WHERE name = '{e}'"),
            ) == 1
        })
        .expect("this server has none of citext, vector, hstore: the test cannot run")
        .to_string();
    c.batch_execute(
        "CREATE FUNCTION public.grant_after() RETURNS event_trigger LANGUAGE plpgsql AS
           $f$ BEGIN GRANT USAGE ON SCHEMA public TO PUBLIC; END $f$;
         CREATE EVENT TRIGGER a_grant_after ON ddl_command_end WHEN TAG IN ('CREATE EXTENSION')
           EXECUTE FUNCTION public.grant_after()",
    )
    .unwrap();
    let shelf = json!([{"name": "shelf", "tenant_scoped": false, "columns": [{"name": "label", "type": "text"}]}]);
    let v0 = json!({"schema_version": "0", "description": "a table", "tables": shelf});
    assert_eq!(status(&apply(&mut c, &v0)), "applied");
    let v1 = json!({"schema_version": "1", "description": "an extension",
        "tables": shelf, "extensions": [{"name": ext}]});
    let env = apply(&mut c, &v1);
    assert_eq!(status(&env), "applied", "{ext}: {env:#}");
}

/// The review of 523b683, 2, alone: a function called during the apply that makes a temporary
/// scratch table (a materialized view's query may not: a new column's volatile default on an
/// existing table with a row calls it here) does not fail the table the apply creates.
#[test]
fn a_temporary_scratch_table_during_an_apply_does_not_fail_it() {
    let shelf = json!([{"name": "shelf", "tenant_scoped": false, "columns": [{"name": "label", "type": "text"}]}]);
    let v0 = json!({"schema_version": "0", "description": "a table", "tables": shelf});
    let mut c = fresh_db("pd_ordinary_temp");
    let scratch = json!([{"name": "scratch_n", "returns": "integer", "language": "plpgsql", "volatility": "volatile",
                          "body": "BEGIN CREATE TEMP TABLE IF NOT EXISTS scratch (a int); RETURN 1; END"}]);
    let mut v0 = v0.clone();
    v0["functions"] = scratch.clone();
    assert_eq!(status(&apply(&mut c, &v0)), "applied");
    c.batch_execute("INSERT INTO public.shelf (label) VALUES ('a')")
        .unwrap();
    let v1 = json!({"schema_version": "1", "description": "a scratch table",
        "tables": [{"name": "shelf", "tenant_scoped": false, "columns": [{"name": "label", "type": "text"},
                        {"name": "n", "type": "integer", "default": "public.scratch_n()"}]},
                   {"name": "box", "tenant_scoped": false, "columns": [{"name": "label", "type": "text", "default": "'x'"}]}],
        "functions": scratch});
    let env = apply(&mut c, &v1);
    assert_eq!(status(&env), "applied", "{env:#}");
}

/// The review of the stop 48 change, M1 and M3: the refusal above held only while the outer apply
/// ran its statements. A nested call made while the outer one *planned* (a new check's violations
/// counted on the rows already there run the check's function) ran and stayed — its ledger row, its
/// table — even under a `plan_schema`, which records nothing; and `tenant_table` (another entry)
/// was not refused at all. Each alone: nothing of the nested call may stay, whatever the outer
/// call answers.
#[test]
fn an_apply_called_while_another_plans_is_refused() {
    let cases: Vec<(&str, String, bool)> = vec![
        (
            "apply_during_apply",
            "PERFORM revos.apply_schema('{\"schema_version\": \"side-1\", \"description\": \"s\", \"tables\": [{\"name\": \"side_t\", \"tenant_scoped\": false}]}')".into(),
            true,
        ),
        (
            "apply_during_plan",
            "PERFORM revos.apply_schema('{\"schema_version\": \"side-1\", \"description\": \"s\", \"tables\": [{\"name\": \"side_t\", \"tenant_scoped\": false}]}')".into(),
            false,
        ),
        ("tenant_table_during_apply", "PERFORM revos.tenant_table('side_t')".into(), true),
    ];
    each_alone(cases, |name, nested, outer_apply| {
        let mut c = fresh_db(&format!("pd_plannest_{name}"));
        let table = |check: &str| {
            json!({"name": "nums", "tenant_scoped": false,
                   "columns": [{"name": "n", "type": "integer", "check": check}]})
        };
        // a changed check: its violations are counted on the rows while the outer call plans
        let v1 = json!({"schema_version": "1", "description": "n", "tables": [table("n > 0")]});
        assert_eq!(status(&apply(&mut c, &v1)), "applied", "{name}");
        c.batch_execute(&format!(
            "INSERT INTO public.nums (n) SELECT g FROM generate_series(1, 3) g;
             CREATE FUNCTION public.pd_sneaky(n integer) RETURNS boolean LANGUAGE plpgsql AS $f$
             BEGIN {nested}; RETURN true; END $f$"
        ))
        .unwrap();
        let v2 = json!({"schema_version": "2", "description": "n",
            "tables": [table("public.pd_sneaky(n)")]});
        // the outer call's answer is not the point (a refusal inside a count can fail it or be
        // reported); the nested call must leave nothing
        let _ = if outer_apply {
            c.query_one(
                "SELECT revos.apply_schema($1::text::jsonb)",
                &[&v2.to_string()],
            )
        } else {
            c.query_one(
                "SELECT revos.plan_schema($1::text::jsonb)",
                &[&v2.to_string()],
            )
        };
        assert_eq!(
            count(
                &mut c,
                "SELECT count(*) FROM pg_class WHERE relname = 'side_t'"
            ),
            0,
            "{name}: the nested call's table stayed"
        );
        assert_eq!(
            count(
                &mut c,
                "SELECT count(*) FROM revos.schema_migrations WHERE version NOT IN ('1', '2')"
            ),
            0,
            "{name}: the nested call's ledger row stayed"
        );
    });
}
