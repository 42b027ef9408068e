//! What revos keeps on a managed table without comparing it is said in the apply's warnings,
//! never passed over in silence: partitions, inheritance children and rules the payload does not
//! declare (the truth review of d9c3a68, 7), and revos's own columns (`id`, `created_at`,
//! `updated_at`, `deleted_at`) that no longer have the form revos creates them with (8). Each case
//! alone, in a database of its own; each was `applied` without a word before stop 48.

mod common;
use common::*;
use serde_json::json;

/// A database name of its own for case `name`.
fn db_of(prefix: &str, name: &str) -> String {
    let tag: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(24)
        .collect();
    format!("{prefix}_{}", tag.to_lowercase())
}

/// The truth review of d9c3a68, 7: what a managed table has below it that the payload does not
/// declare — a partition or inheritance child attached by hand, a rewrite rule — was recorded by
/// the drift capture and kept, but the next apply said nothing of it. Each is kept and named in
/// the apply's warnings; a child of a tenant table without row security of its own is named as
/// such (a role with privileges on it reads every tenant's rows there). Each case alone; the
/// `guard` case (a declared partition, nothing to say) held before.
#[test]
fn what_a_managed_table_has_below_it_undeclared_is_named_in_the_warnings() {
    let cases: Vec<(&str, String, &'static str)> = vec![
        (
            "an RLS-less partition attached by hand",
            "CREATE TABLE public.events_2030 (LIKE public.events);
             ALTER TABLE public.events ATTACH PARTITION public.events_2030 FOR VALUES FROM ('2030-01-01') TO ('2031-01-01')"
                .into(),
            "the partition \"public\".\"events_2030\" that the schema does not declare; it is kept, and it has no row security of its own",
        ),
        (
            "a partition in another schema, with row security",
            "CREATE SCHEMA side;
             CREATE TABLE side.events_2024 PARTITION OF public.events FOR VALUES FROM ('2031-01-01') TO ('2032-01-01');
             ALTER TABLE side.events_2024 ENABLE ROW LEVEL SECURITY"
                .into(),
            "the partition \"side\".\"events_2024\" that the schema does not declare; it is kept (it has row security of its own",
        ),
        (
            // the review of the stop 48 change, L2: who holds privileges on the child itself
            "a partition attached by hand and granted to PUBLIC",
            "CREATE TABLE public.events_2030 (LIKE public.events);
             ALTER TABLE public.events ATTACH PARTITION public.events_2030 FOR VALUES FROM ('2030-01-01') TO ('2031-01-01');
             GRANT SELECT, TRUNCATE ON public.events_2030 TO PUBLIC"
                .into(),
            "every tenant's rows there; privileges on \"public\".\"events_2030\" itself are held by PUBLIC",
        ),
        (
            // the review of 419eb1a, 1: revos's trigger off on a partition revos does not compare
            "revos's trigger disabled on a partition attached by hand",
            "CREATE TABLE public.events_2030 PARTITION OF public.events FOR VALUES FROM ('2030-01-01') TO ('2031-01-01');
             ALTER TABLE public.events_2030 DISABLE TRIGGER revos_touch_updated_at"
                .into(),
            "revos's `updated_at` trigger does not fire there",
        ),
        (
            "a rule",
            "CREATE RULE events_note AS ON INSERT TO public.events DO ALSO NOTIFY revos_pd".into(),
            "the rule \"events_note\" that the schema does not declare",
        ),
        (
            // the review of the stop 48 change, M2: the declared partition made partitioned by
            // hand, with a partition of its own (any name) below it
            "a partition of the declared partition",
            "ALTER TABLE public.events DETACH PARTITION public.events_2024;
             DROP TABLE public.events_2024;
             CREATE TABLE public.events_2024 PARTITION OF public.events
               FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') PARTITION BY RANGE (day);
             CREATE TABLE public.events_2024_h1 PARTITION OF public.events_2024 DEFAULT"
                .into(),
            "the partition \"public\".\"events_2024_h1\", a partition of \"public\".\"events_2024\", that the schema does not declare; it is kept, and it has no row security of its own",
        ),
        ("guard: nothing below the table", String::new(), ""),
    ];
    each_alone(cases, |name, sql, want| {
        let mut c = fresh_db(&db_of("kn_child", name));
        let env = apply(&mut c, &events("c1"));
        assert_eq!(status(&env), "applied", "{name}: {env:#}");
        if !sql.is_empty() {
            c.batch_execute(sql)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let env = apply(&mut c, &events("c2"));
        assert_eq!(status(&env), "applied", "{name}: {env:#}");
        let named: Vec<String> = warnings(&env)
            .into_iter()
            .filter(|w| w.contains("does not declare"))
            .collect();
        if want.is_empty() {
            assert_eq!(named, Vec::<String>::new(), "{name}");
        } else {
            assert!(
                named.iter().any(|w| w.contains(want)),
                "{name}: no warning with {want:?} in {named:?}"
            );
        }
    });
}

/// An inheritance child of a (not partitioned) tenant table, named the same way.
#[test]
fn an_inheritance_child_of_a_tenant_table_is_named_in_the_warnings() {
    let payload = |v: &str| {
        json!({"schema_version": v, "description": "a tenant table",
            "tables": [{"name": "notes_i", "columns": [{"name": "body", "type": "text"}]}]})
    };
    let mut c = fresh_db("kn_inherits");
    assert_eq!(status(&apply(&mut c, &payload("1"))), "applied");
    c.batch_execute("CREATE TABLE public.notes_i_old () INHERITS (public.notes_i)")
        .unwrap();
    let env = apply(&mut c, &payload("2"));
    assert_eq!(status(&env), "applied", "{env:#}");
    assert!(
        warnings(&env).iter().any(|w| w.contains(
            "the inheritance child \"public\".\"notes_i_old\" that the schema does not declare; it is kept, and it has no row security"
        )),
        "{:?}",
        warnings(&env)
    );
}

/// The truth review of d9c3a68, 8: revos's own columns keep what they have (an adopted table's
/// are taken as they are), so their defaults and NOT NULL were not compared — and not mentioned.
/// Each change alone; the same version's plan names the column, and the `guard` case (the table
/// as revos made it) says nothing.
#[test]
fn revos_own_columns_changed_out_of_band_are_named_in_the_warnings() {
    let payload = |v: &str| {
        json!({"schema_version": v, "description": "a tenant table with soft delete",
            "tables": [{"name": "notes_o", "soft_delete": true, "columns": [{"name": "body", "type": "text"}]}]})
    };
    let cases: Vec<(&str, String, &'static str)> = vec![
        ("id default a constant", "ALTER TABLE public.notes_o ALTER id SET DEFAULT '00000000-0000-0000-0000-000000000000'".into(), "\"id\""),
        ("id default dropped", "ALTER TABLE public.notes_o ALTER id DROP DEFAULT".into(), "\"id\""),
        ("created_at default a constant", "ALTER TABLE public.notes_o ALTER created_at SET DEFAULT '2000-01-01'".into(), "\"created_at\""),
        ("updated_at nullable", "ALTER TABLE public.notes_o ALTER updated_at DROP NOT NULL".into(), "\"updated_at\""),
        ("deleted_at not null", "ALTER TABLE public.notes_o ALTER deleted_at SET NOT NULL".into(), "\"deleted_at\""),
        ("deleted_at default now", "ALTER TABLE public.notes_o ALTER deleted_at SET DEFAULT now()".into(), "\"deleted_at\""),
        ("guard: as revos made it", String::new(), ""),
        (
            "guard: created_at CURRENT_TIMESTAMP",
            "ALTER TABLE public.notes_o ALTER created_at SET DEFAULT CURRENT_TIMESTAMP".into(),
            "",
        ),
    ];
    each_alone(cases, |name, sql, column| {
        let mut c = fresh_db(&db_of("kn_own", name));
        assert_eq!(status(&apply(&mut c, &payload("1"))), "applied", "{name}");
        if !sql.is_empty() {
            c.batch_execute(sql)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let env = apply(&mut c, &payload("2"));
        assert_eq!(status(&env), "applied", "{name}: {env:#}");
        let named: Vec<String> = warnings(&env)
            .into_iter()
            .filter(|w| w.contains("is revos's own column"))
            .collect();
        if column.is_empty() {
            assert_eq!(named, Vec::<String>::new(), "{name}");
        } else {
            assert_eq!(named.len(), 1, "{name}: {named:?}");
            assert!(
                named[0].contains(&format!(
                    "\"public\".\"notes_o\".{column} is revos's own column"
                )),
                "{name}: {named:?}"
            );
        }
    });
}

/// The review of the stop 48 change, F1 (older than it): an adopted table whose `id` is an
/// identity, or whose `created_at` is generated, had it dropped — `DROP IDENTITY` / `DROP
/// EXPRESSION`, no risk — and the next insert that left `id` out failed. revos's own columns are
/// kept as they are, those too. Each alone.
#[test]
fn an_adopted_identity_or_generated_own_column_is_kept() {
    let cases: Vec<(&str, String, &'static str)> = vec![
        (
            "identity id",
            "CREATE TABLE public.orders (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, total numeric)".into(),
            "INSERT INTO public.orders (total) VALUES (3)",
        ),
        (
            "generated created_at",
            "CREATE TABLE public.orders (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), total numeric,
               made timestamptz NOT NULL DEFAULT now(),
               created_at timestamptz GENERATED ALWAYS AS (made) STORED)"
                .into(),
            "INSERT INTO public.orders (total) VALUES (3)",
        ),
    ];
    each_alone(cases, |name, table, insert| {
        let mut c = fresh_db(&db_of("kn_adopt", name));
        c.batch_execute(table).unwrap();
        let payload = json!({"schema_version": "1", "description": "adopt",
            "tables": [{"name": "orders", "tenant_scoped": false, "columns": [{"name": "total", "type": "numeric"}]}]});
        let planned = plan(&mut c, &payload);
        let sql = planned["result"]["plan"]["sql"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            !sql.contains("DROP IDENTITY") && !sql.contains("DROP EXPRESSION"),
            "{name}: {sql}"
        );
        let env = apply(&mut c, &payload);
        assert_eq!(status(&env), "applied", "{name}: {env:#}");
        c.batch_execute(insert)
            .unwrap_or_else(|e| panic!("{name}: the insert failed after the apply: {e}"));
        let again = plan(
            &mut c,
            &json!({"schema_version": "2", "description": "adopt",
            "tables": [{"name": "orders", "tenant_scoped": false, "columns": [{"name": "total", "type": "numeric"}]}]}),
        );
        let steps = again["result"]["plan"]["steps"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(steps, 0, "{name}: {again:#}");
    });
}

/// The third review of the stop 48 change, 2 (older than it): an adopted own column's collation
/// was not adopted — `id text COLLATE "C"` was planned `TYPE text COLLATE "default"`, its primary
/// key rebuilt, without a risk. And 1: an adopted `updated_at` whose type cannot hold a timestamp
/// took revos's updated_at trigger, and every UPDATE failed after `applied`; now a validation
/// error names the column. Each alone.
#[test]
fn an_adopted_own_columns_collation_is_kept_and_an_untouchable_updated_at_refused() {
    let payload = json!({"schema_version": "1", "description": "adopt",
        "tables": [{"name": "things", "tenant_scoped": false, "soft_delete": false,
                    "columns": [{"name": "body", "type": "text"}]}]});
    let mut c = fresh_db("kn_adopt_collation");
    c.batch_execute(
        "CREATE TABLE public.things (id text COLLATE \"C\" PRIMARY KEY DEFAULT gen_random_uuid()::text, body text)",
    )
    .unwrap();
    let planned = plan(&mut c, &payload);
    let sql = planned["result"]["plan"]["sql"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(!sql.contains("COLLATE"), "{sql}");
    assert_eq!(status(&apply(&mut c, &payload)), "applied");
    let collation = text(
        &mut c,
        "SELECT collname FROM pg_attribute a JOIN pg_collation l ON l.oid = a.attcollation
          WHERE a.attrelid = 'public.things'::regclass AND a.attname = 'id'",
    );
    assert_eq!(collation.as_deref(), Some("C"));

    let mut c = fresh_db("kn_adopt_updated_at");
    c.batch_execute(
        "CREATE TABLE public.things (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), body text,
           updated_at bigint NOT NULL DEFAULT 0)",
    )
    .unwrap();
    let env = apply(&mut c, &payload);
    assert_eq!(status(&env), "blocked", "{env:#}");
    assert!(
        env.to_string().contains("\\\"updated_at\\\" is bigint"),
        "{env:#}"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.things'::regclass AND NOT tgisinternal"
        ),
        0
    );
}
