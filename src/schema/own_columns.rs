//! revos's own columns (`id`, `created_at`, `updated_at`, `deleted_at`: `Column::auto`, not the
//! tenant column) keep what they have on a table that has them: an existing table is adopted as it
//! is (`validate::adopt_live_auto_columns`: retrofitting never changes a column the caller did not
//! name), so their type, default and NOT NULL are not compared. That used to be silent: a
//! `created_at` whose default became a constant, an `id` whose default became one fixed uuid, a
//! `deleted_at` made NOT NULL (soft delete can no longer mark a row alive) — each re-applied as
//! `applied` with nothing said (the truth review of d9c3a68, 8). Each is now a warning naming the
//! column, what revos creates it with and what it has; declaring the column in `columns` makes it
//! compared and repaired as any other. Pure.

use crate::error::{code, Issue};
use crate::schema::catalog::CatalogState;
use crate::schema::model::{ColumnSnapshot, Schema, Table, TableSnapshot};

/// How revos creates its own column `name`: (default as `pg_get_expr` deparses it under
/// `search_path = pg_catalog`, NOT NULL).
fn revos_form(name: &str) -> Option<(Option<&'static str>, bool)> {
    match name {
        "id" => Some((Some("gen_random_uuid()"), true)),
        "created_at" | "updated_at" => Some((Some("now()"), true)),
        "deleted_at" => Some((None, false)),
        _ => None,
    }
}

/// A default that is a constant: a literal, perhaps cast (`'2000-01-01'::timestamp with time zone`,
/// `NULL::uuid`, `0`) — every row gets the same value. `CURRENT_TIMESTAMP` and calls are not.
fn is_constant(d: &str) -> bool {
    let bare = d.trim().trim_start_matches('(');
    let head = bare
        .split("::")
        .next()
        .unwrap_or_default()
        .trim_end_matches(')');
    // 'now' cast to a timestamp is read at each insert (the third review, 5)
    let special = ["'now'", "'today'", "'tomorrow'", "'yesterday'"];
    (head.starts_with('\'') && !special.iter().any(|x| head.eq_ignore_ascii_case(x)))
        || head.eq_ignore_ascii_case("NULL")
        || (!head.is_empty()
            && head
                .trim_start_matches('-')
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.'))
}

/// A call of `now()` or `gen_random_uuid()` qualified with another schema than pg_catalog (which
/// the deparse leaves out), anywhere in the default — under a cast, an operator, a `COALESCE`: a
/// look-alike of the function revos creates the default with.
fn is_look_alike(d: &str, want: &str) -> bool {
    let call = want.trim_end_matches(')');
    d.contains(&format!(".{call}"))
}

/// What is wrong with a live default where revos creates `want`, if anything.
fn default_problem(want: Option<&str>, live: &ColumnSnapshot) -> Option<&'static str> {
    if live.name == "updated_at" && live.generated {
        return Some("a generated expression (revos's updated_at trigger cannot set it)");
    }
    if live.identity.is_some() || live.generated {
        return None; // values it makes of its own, kept as any other form
    }
    match (want, live.default.as_deref()) {
        (Some(_), None) if !live.has_default => Some("no default"),
        (None, Some(_)) => Some("a default (a new row is not born alive)"),
        (Some(_), Some(d)) if is_constant(d) => {
            Some("a constant default (every row gets one value)")
        }
        (Some(w), Some(d)) if is_look_alike(d, w) => {
            Some("a look-alike of revos's function as its default")
        }
        _ => None,
    }
}

/// Whether a column of type `ty` (as `format_type` writes it) takes the `timestamptz` that revos's
/// `updated_at` trigger assigns (an assignment cast exists).
fn takes_a_timestamp(ty: &str) -> bool {
    ty.starts_with("timestamp")
        || ty.starts_with("time ")
        || ty.starts_with("time(")
        || ty == "date"
        || ty == "text"
        || ty.starts_with("character varying")
}

/// A table revos keeps `updated_at` current on (`timestamps`) whose existing `updated_at` cannot
/// take a timestamp: the trigger revos adds would fail every UPDATE of the table (the third review
/// of the stop 48 change, 1: an adopted `updated_at bigint` — `applied`, then 22P02 on every
/// UPDATE). A validation error: declare `timestamps: false`, or change the column's type.
pub fn check_touched_type(s: &Schema, state: &CatalogState, issues: &mut Vec<Issue>) {
    for t in s.tables.iter().filter(|t| t.touch_trigger) {
        let own = t
            .columns
            .iter()
            .any(|c| c.auto && c.name.as_str() == "updated_at");
        let Some(live) = crate::schema::catalog::live_key(t, state)
            .and_then(|k| state.tables.get(&k))
            .and_then(|sn| sn.column("updated_at"))
        else {
            continue;
        };
        if own && !takes_a_timestamp(&live.sql_type) {
            issues.push(Issue::new(
                format!("{}.timestamps", t.path),
                code::INVALID_VALUE,
                format!(
                    "{}.\"updated_at\" is {}: revos's updated_at trigger sets it to now() on every UPDATE, which that type cannot hold; declare \"timestamps\": false for this table, or change the column's type",
                    t.qualified(),
                    live.sql_type
                ),
            ));
        }
    }
}

/// The warnings for `t`'s own columns that revos's form of them would not allow: a default gone,
/// constant or a look-alike's; a `deleted_at` with a default or NOT NULL; NOT NULL dropped. Other
/// forms (a `CURRENT_TIMESTAMP`, `uuid_generate_v4()`, an identity, another type) are an adopted
/// table's own, and not named.
pub fn warnings(s: &Schema, t: &Table, sn: &TableSnapshot) -> Vec<String> {
    let q = t.qualified();
    t.columns
        .iter()
        .filter(|c| c.auto && !(t.tenant_scoped && c.name == s.options.tenant_column))
        .filter_map(|c| {
            let (default, not_null) = revos_form(c.name.as_str())?;
            let live = sn.column(c.name.as_str())?;
            let mut problems: Vec<&str> = default_problem(default, live).into_iter().collect();
            if live.not_null != not_null {
                problems.push(if live.not_null { "NOT NULL" } else { "no NOT NULL" });
            }
            (!problems.is_empty()).then(|| {
                format!(
                    "{q}.{} is revos's own column, which revos creates{}{}; here it has {}{} — kept (revos's columns keep what they have on a table that has them; declare the column in `columns`, with its default, to have it compared and repaired)",
                    c.name,
                    default.map(|d| format!(" with DEFAULT {d}")).unwrap_or_default(),
                    if not_null { " NOT NULL" } else { " nullable, without a default" },
                    problems.join(" and "),
                    live.default.as_deref().map(|d| format!(" (DEFAULT {d})")).unwrap_or_default(),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::normalize::normalize;
    use crate::schema::spec::read_schema;

    fn schema(extra: serde_json::Value) -> Schema {
        let mut issues = vec![];
        let mut t = serde_json::json!({"name": "notes", "soft_delete": true,
            "columns": [{"name": "body", "type": "text"}]});
        if let Some(o) = extra.as_object() {
            for (k, v) in o {
                t[k] = v.clone();
            }
        }
        let s = normalize(
            &read_schema(
                &serde_json::json!({"schema_version": "1", "description": "d", "tables": [t]}),
                &mut issues,
            ),
            &mut issues,
        );
        assert!(issues.is_empty(), "{issues:?}");
        s
    }

    fn col(name: &str, ty: &str, default: Option<&str>, not_null: bool) -> ColumnSnapshot {
        ColumnSnapshot {
            name: name.into(),
            sql_type: ty.into(),
            not_null,
            has_default: default.is_some(),
            default: default.map(str::to_string),
            ..Default::default()
        }
    }

    /// The table as revos creates it.
    fn as_created() -> Vec<ColumnSnapshot> {
        vec![
            col("id", "uuid", Some("gen_random_uuid()"), true),
            col(
                "tenant_id",
                "uuid",
                Some("(revos.current_tenant_id())::uuid"),
                true,
            ),
            col(
                "created_at",
                "timestamp with time zone",
                Some("now()"),
                true,
            ),
            col(
                "updated_at",
                "timestamp with time zone",
                Some("now()"),
                true,
            ),
            col("deleted_at", "timestamp with time zone", None, false),
            col("body", "text", None, false),
        ]
    }

    fn with(change: impl FnOnce(&mut Vec<ColumnSnapshot>)) -> Vec<String> {
        let s = schema(serde_json::json!({}));
        let mut columns = as_created();
        change(&mut columns);
        let sn = TableSnapshot {
            columns,
            ..Default::default()
        };
        warnings(&s, &s.tables[0], &sn)
    }

    #[test]
    fn a_table_as_revos_creates_it_says_nothing() {
        assert_eq!(with(|_| {}), Vec::<String>::new());
    }

    #[test]
    fn each_difference_alone_is_named() {
        type Change = Box<dyn Fn(&mut Vec<ColumnSnapshot>)>;
        let cases: Vec<(&str, Change)> = vec![
            (
                "\"id\"",
                Box::new(|c| {
                    c[0].default = Some("'00000000-0000-0000-0000-000000000000'::uuid".into())
                }),
            ),
            (
                "\"id\"",
                Box::new(|c| {
                    c[0].default = None;
                    c[0].has_default = false
                }),
            ),
            (
                "\"created_at\"",
                Box::new(|c| {
                    c[2].default = Some("'2000-01-01 00:00:00+00'::timestamp with time zone".into())
                }),
            ),
            (
                "\"created_at\"",
                Box::new(|c| c[2].default = Some("public.now()".into())),
            ),
            (
                "\"id\"",
                Box::new(|c| c[0].default = Some("evil.gen_random_uuid()".into())),
            ),
            ("\"updated_at\"", Box::new(|c| c[3].not_null = false)),
            ("\"deleted_at\"", Box::new(|c| c[4].not_null = true)),
            (
                "\"deleted_at\"",
                Box::new(|c| {
                    c[4].default = Some("now()".into());
                    c[4].has_default = true
                }),
            ),
            (
                "\"created_at\"",
                Box::new(|c| c[2].default = Some("(public.now() + '00:00:00'::interval)".into())),
            ),
            (
                "\"updated_at\"",
                Box::new(|c| c[3].default = Some("COALESCE(public.now(), now())".into())),
            ),
            (
                "\"updated_at\"",
                Box::new(|c| {
                    c[3].generated = true;
                    c[3].default = None;
                    c[3].expression = Some("created_at".into())
                }),
            ),
        ];
        for (i, (column, change)) in cases.into_iter().enumerate() {
            let w = with(|c| change(c));
            assert_eq!(w.len(), 1, "case {i}: {w:?}");
            assert!(
                w[0].contains(&format!(".{column} is revos's own column")),
                "case {i}: {w:?}"
            );
        }
    }

    /// An adopted table's own forms that work as revos's do are not named on every apply (the
    /// review of the stop 48 change, F5: Prisma's `CURRENT_TIMESTAMP`, Supabase's
    /// `extensions.uuid_generate_v4()`, …).
    #[test]
    fn working_forms_of_an_adopted_table_are_not_named() {
        let cases: Vec<Box<dyn Fn(&mut Vec<ColumnSnapshot>)>> = vec![
            Box::new(|c| c[2].default = Some("CURRENT_TIMESTAMP".into())),
            Box::new(|c| c[2].default = Some("('now'::text)::timestamp with time zone".into())),
            Box::new(|c| c[2].default = Some("clock_timestamp()".into())),
            Box::new(|c| c[0].default = Some("extensions.uuid_generate_v4()".into())),
            Box::new(|c| c[2].sql_type = "timestamp(6) without time zone".into()),
            Box::new(|c| {
                c[0].sql_type = "bigint".into();
                c[0].default = None;
                c[0].has_default = false;
                c[0].identity = Some('d')
            }),
            Box::new(|c| {
                c[0].sql_type = "bigint".into();
                c[0].default = Some("nextval('notes_id_seq'::regclass)".into())
            }),
        ];
        for (i, change) in cases.into_iter().enumerate() {
            assert_eq!(with(|c| change(c)), Vec::<String>::new(), "case {i}");
        }
    }

    #[test]
    fn constants_are_told_from_calls() {
        for d in [
            "'x'::text",
            "NULL::uuid",
            "0",
            "('2000-01-01'::date)::timestamp with time zone",
            "-1",
        ] {
            assert!(is_constant(d), "{d}");
        }
        for d in [
            "now()",
            "CURRENT_TIMESTAMP",
            "(now() - '1 day'::interval)",
            "gen_random_uuid()",
        ] {
            assert!(!is_constant(d), "{d}");
        }
    }

    #[test]
    fn the_tenant_column_and_declared_columns_are_not_named_here() {
        // the tenant column's default is compared by the plan itself
        let w = with(|c| c[1].default = Some("'x'".into()));
        assert_eq!(w, Vec::<String>::new());
        // a created_at the payload declares is the caller's: compared and repaired by the plan
        let s = schema(
            serde_json::json!({"columns": [{"name": "created_at", "type": "timestamptz", "default": "'2000-01-01'"}]}),
        );
        let mut columns = as_created();
        columns[2].default = Some("'2000-01-01'".into());
        let sn = TableSnapshot {
            columns,
            ..Default::default()
        };
        assert_eq!(warnings(&s, &s.tables[0], &sn), Vec::<String>::new());
    }
}

#[cfg(test)]
mod type_tests {
    use super::takes_a_timestamp;

    #[test]
    fn types_that_take_the_triggers_timestamp() {
        for t in [
            "timestamp with time zone",
            "timestamp(6) without time zone",
            "date",
            "text",
            "character varying(40)",
        ] {
            assert!(takes_a_timestamp(t), "{t}");
        }
        for t in ["bigint", "integer", "uuid", "boolean", "jsonb", "numeric"] {
            assert!(!takes_a_timestamp(t), "{t}");
        }
    }
}
