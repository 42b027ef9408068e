//! The plan as a person reads it at a glance (issue 20): `plan.text` of plan_schema, and
//! `schema_migrations.plan_text` of every applied or failed version — a diff per object,
//! the way pgschema and Atlas print plans:
//!
//! ```text
//! Plan for schema v011: 4 statements; 1 risk(s) block apply_schema unless options.allow_destructive
//!
//! → "public"."contacts" (renamed from leads; ~120 rows)
//!     → ALTER TABLE "public"."leads" RENAME TO "contacts"  [ACCESS EXCLUSIVE]
//!     - DROP COLUMN "fax"  [ACCESS EXCLUSIVE]
//!     ! drop_column: column "public"."contacts".fax is dropped with its values (120 row(s), counted)
//! + "public"."invoices" (new table)
//!     + CREATE TABLE: id, tenant_id, created_at, updated_at, deleted_at, total  [ACCESS EXCLUSIVE]
//!     + CREATE INDEX "idx_invoices_tenant_id" USING btree ("tenant_id")  [SHARE, scans]
//! ```
//!
//! `+` new, `~` changed, `-` dropped, `→` renamed; each statement with the lock it takes on its
//! table and whether it rewrites or scans it; under each object the risks that point into it
//! (`!`), and at the end the warnings. Pure: built from the plan and the schema alone.

use std::fmt::Write;

use crate::schema::model::Schema;
use crate::schema::steps::{Plan, Risk, Step};

/// A statement longer than this is cut, ending in `…`.
const MAX_LINE: usize = 110;

/// The text rendering of `p` (see the module's documentation).
pub fn render(s: &Schema, p: &Plan) -> String {
    let mut out = title(s, p);
    // the steps grouped by object, in the order each object first appears (one pass: searched per
    // step and filtered per object, a 1,000-table plan compared ten million names)
    let mut at: std::collections::HashMap<&str, usize> = Default::default();
    let mut groups: Vec<(&str, Vec<&Step>)> = vec![];
    for st in &p.steps {
        let i = *at.entry(st.object.as_str()).or_insert_with(|| {
            groups.push((st.object.as_str(), vec![]));
            groups.len() - 1
        });
        groups[i].1.push(st);
    }
    let mut shown = vec![false; p.risks.len()];
    for (object, steps) in groups {
        out.push('\n');
        out.push_str(&header(s, object, &steps));
        for st in &steps {
            let _ = writeln!(out, "    {}", step_line(st));
        }
        for (i, r) in p.risks.iter().enumerate() {
            if !shown[i] && risk_object(s, r).as_deref() == Some(object) {
                shown[i] = true;
                let _ = writeln!(out, "    ! {}: {}", r.code, r.message);
            }
        }
    }
    let rest: Vec<&Risk> = p
        .risks
        .iter()
        .enumerate()
        .filter(|(i, _)| !shown[*i])
        .map(|(_, r)| r)
        .collect();
    if !rest.is_empty() {
        out.push_str("\nrisks:\n");
        for r in rest {
            let _ = writeln!(out, "    ! {} at {}: {}", r.code, r.path, r.message);
        }
    }
    if !p.warnings.is_empty() {
        out.push_str("\nwarnings:\n");
        for w in &p.warnings {
            let _ = writeln!(out, "    * {w}");
        }
    }
    out
}

fn title(s: &Schema, p: &Plan) -> String {
    if p.steps.is_empty() {
        return format!(
            "Plan for schema v{}: nothing to change (the database already matches)\n",
            s.version
        );
    }
    let blocks = if p.risks.is_empty() {
        String::new()
    } else if s.options.allow_destructive {
        format!("; {} risk(s), allowed", p.risks.len())
    } else {
        format!(
            "; {} risk(s) block apply_schema unless options.allow_destructive",
            p.risks.len()
        )
    };
    format!(
        "Plan for schema v{}: {} statement(s), {} table(s) to create, {} to alter{blocks}\n",
        s.version,
        p.steps.len(),
        p.tables_created,
        p.tables_altered
    )
}

/// `+ "public"."t" (new table)`, `→ "public"."t" (renamed from old; ~12 rows)`, …
fn header(s: &Schema, object: &str, steps: &[&Step]) -> String {
    let has = |kind: &str| steps.iter().any(|st| st.kind == kind);
    let created = steps
        .iter()
        .any(|st| st.kind == "table" && st.sql.starts_with("CREATE TABLE"));
    let (sym, what) = if created {
        ("+", "new table".to_string())
    } else if has("drop_table") {
        ("-", "dropped".to_string())
    } else if has("rename_table") {
        let old = s
            .tables
            .iter()
            .find(|t| t.qualified() == object)
            .and_then(|t| t.renamed_from.as_ref())
            .map(|o| format!("renamed from {}", o.as_str()))
            .unwrap_or_else(|| "renamed".into());
        ("→", old)
    } else if has("enum") || has("schema") {
        (
            "+",
            if has("enum") {
                "new enum"
            } else {
                "new schema"
            }
            .into(),
        )
    } else if has("enum_recreate") || has("enum_value") {
        ("~", "enum".into())
    } else {
        ("~", "changed".into())
    };
    let rows = steps
        .iter()
        .find(|st| st.lock.is_some())
        .map(|st| match st.est_rows {
            Some(0) if created => String::new(),
            Some(n) => format!("; ~{n} rows"),
            None => "; rows unknown (never analyzed)".into(),
        })
        .unwrap_or_default();
    format!("{sym} {object} ({what}{rows})\n")
}

/// One statement: its symbol, the statement without the `ALTER TABLE <object>` it shares with its
/// neighbours, the lock and what it does to the rows.
fn step_line(st: &Step) -> String {
    let prefix = format!("ALTER TABLE {} ", st.object);
    let body = st.sql.strip_prefix(&prefix).unwrap_or(&st.sql);
    // the object is in the header: `CREATE INDEX "i" USING btree ("c")`, `GRANT … TO revos_app`
    let body = &body
        .replace(&format!(" ON TABLE {}", st.object), "")
        .replace(&format!(" ON {}", st.object), "");
    let desc = if body.starts_with("CREATE TABLE") {
        let cols: Vec<&str> = body
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| l.starts_with('"'))
            .filter_map(|l| l.split('"').nth(1))
            .collect();
        format!("CREATE TABLE: {}", cols.join(", "))
    } else {
        one_line(body)
    };
    let mut cost = vec![];
    if let Some(lock) = st.lock {
        cost.push(
            serde_json::to_value(lock)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        );
    }
    if st.rewrites {
        cost.push("rewrites".into());
    } else if st.scans {
        cost.push("scans".into());
    }
    let line = format!("{} {desc}", symbol(body));
    if cost.is_empty() {
        line
    } else {
        format!("{line}  [{}]", cost.join(", "))
    }
}

fn one_line(sql: &str) -> String {
    let flat = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= MAX_LINE {
        return flat;
    }
    let cut: String = flat.chars().take(MAX_LINE - 1).collect();
    format!("{cut}…")
}

/// `+` creates or adds, `-` drops, `→` renames, `~` anything else (a drop and an add in one
/// statement is a change).
fn symbol(body: &str) -> &'static str {
    let b = body.trim_start();
    let replaces = b.contains(", ADD ");
    if b.starts_with("RENAME") || b.contains(" RENAME ") {
        "→"
    } else if (b.starts_with("DROP") || b.starts_with("ALTER TYPE") && b.contains("DROP"))
        && !replaces
    {
        "-"
    } else if (b.starts_with("CREATE") || b.starts_with("ADD") || b.starts_with("GRANT"))
        && !replaces
    {
        "+"
    } else {
        "~"
    }
}

/// The object (as steps name it) a risk points into: its table (by the payload path), a table
/// to drop, an enum.
fn risk_object(s: &Schema, r: &Risk) -> Option<String> {
    let within = |base: &str| r.path == base || r.path.starts_with(&format!("{base}."));
    if let Some(t) = s.tables.iter().find(|t| within(&t.path)) {
        return Some(t.qualified());
    }
    if let Some(d) = s.drop_tables.iter().find(|d| within(&d.path)) {
        return Some(format!("{}.{}", d.schema, d.name));
    }
    s.enums
        .iter()
        .find(|e| within(&e.path))
        .map(|e| format!("{}.{}", e.schema, e.name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RiskCode;
    use crate::schema::normalize::normalize;
    use crate::schema::spec::read_schema;
    use crate::schema::steps::{Cost, Lock};
    use serde_json::json;

    #[test]
    fn a_diff_per_table_with_locks_and_risks() {
        let mut issues = vec![];
        let s = normalize(
            &read_schema(
                &json!({"schema_version": "011", "description": "d", "drop_tables": ["old"],
                    "tables": [{"name": "contacts", "renamed_from": "leads", "drop_columns": ["fax"],
                                "columns": [{"name": "phone", "type": "text"}]},
                               {"name": "invoices"}]}),
                &mut issues,
            ),
            &mut issues,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let c = "\"public\".\"contacts\"";
        let mut p = Plan::default();
        let step = |kind, object: &str, sql: &str, cost, rows| {
            Step::costed(kind, object.into(), sql.into(), cost, rows)
        };
        p.steps = vec![
            step("drop_table", "\"public\".\"old\"", "DROP TABLE \"public\".\"old\"", Cost::ALTER, Some(5)),
            step("rename_table", c, "ALTER TABLE \"public\".\"leads\" RENAME TO \"contacts\"", Cost::ALTER, Some(120)),
            step("drop_column", c, &format!("ALTER TABLE {c} DROP COLUMN \"fax\""), Cost::ALTER, Some(120)),
            step("column", c, &format!("ALTER TABLE {c} ADD COLUMN \"phone\" text"), Cost::ALTER, Some(120)),
            step("table", "\"public\".\"invoices\"", "CREATE TABLE \"public\".\"invoices\" (\n  \"id\" uuid NOT NULL,\n  \"tenant_id\" uuid NOT NULL\n)", Cost::lock(Some(Lock::AccessExclusive)), Some(0)),
            step("index", "\"public\".\"invoices\"", "CREATE INDEX \"idx_invoices_tenant_id\" ON \"public\".\"invoices\" USING btree (\"tenant_id\")", Cost::CREATE_INDEX, Some(0)),
        ];
        p.tables_created = 1;
        p.tables_altered = 1;
        p.risk(
            "tables[0].drop_columns[0]".into(),
            RiskCode::DropColumn,
            "fax goes".into(),
        );
        p.risk(
            "drop_tables[0]".into(),
            RiskCode::DropTable,
            "old goes".into(),
        );
        p.warnings.push("a warning".into());
        let text = render(&s, &p);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Plan for schema v011: 6 statement(s), 1 table(s) to create, 1 to alter; 2 risk(s) block"), "{text}");
        assert!(
            text.contains(
                "- \"public\".\"old\" (dropped; ~5 rows)\n    - DROP TABLE \"public\".\"old\""
            ),
            "{text}"
        );
        assert!(text.contains("    ! drop_table: old goes"), "{text}");
        assert!(
            text.contains("→ \"public\".\"contacts\" (renamed from leads; ~120 rows)"),
            "{text}"
        );
        assert!(text.contains("    - DROP COLUMN \"fax\""), "{text}");
        assert!(text.contains("    + ADD COLUMN \"phone\" text"), "{text}");
        assert!(text.contains("    ! drop_column: fax goes"), "{text}");
        assert!(
            text.contains(
                "+ \"public\".\"invoices\" (new table)\n    + CREATE TABLE: id, tenant_id"
            ),
            "{text}"
        );
        assert!(
            text.contains("    + CREATE INDEX \"idx_invoices_tenant_id\" USING btree (\"tenant_id\")  [SHARE, scans]"),
            "{text}"
        );
        assert!(text.contains("warnings:\n    * a warning"), "{text}");
        assert_eq!(
            symbol("DROP CONSTRAINT \"c\", ADD CONSTRAINT \"c\" CHECK (x)"),
            "~"
        );
        assert_eq!(symbol("ALTER COLUMN \"a\" SET DEFAULT (1)"), "~");
    }

    #[test]
    fn steps_of_one_object_apart_in_the_plan_are_shown_together_in_first_seen_order() {
        let mut issues = vec![];
        let s = normalize(
            &read_schema(
                &json!({"schema_version": "012", "description": "d",
                    "tables": [{"name": "b"}, {"name": "a"}]}),
                &mut issues,
            ),
            &mut issues,
        );
        let (a, b) = ("\"public\".\"a\"", "\"public\".\"b\"");
        let step = |kind, object: &str, sql: String| {
            Step::costed(kind, object.into(), sql, Cost::ALTER, Some(0))
        };
        let mut p = Plan::default();
        p.steps = vec![
            step("table", b, format!("CREATE TABLE {b} (\n  \"x\" int\n)")),
            step("table", a, format!("CREATE TABLE {a} (\n  \"y\" int\n)")),
            step(
                "index",
                b,
                format!("CREATE INDEX \"ib\" ON {b} USING btree (\"x\")"),
            ),
            step(
                "index",
                a,
                format!("CREATE INDEX \"ia\" ON {a} USING btree (\"y\")"),
            ),
            step(
                "grant",
                b,
                format!("GRANT SELECT ON TABLE {b} TO revos_app"),
            ),
        ];
        let text = render(&s, &p);
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {text}"))
        };
        let (hb, ib, gb) = (at(&format!("+ {b} (new table)")), at("\"ib\""), at("GRANT"));
        let (ha, ia) = (at(&format!("+ {a} (new table)")), at("\"ia\""));
        assert!(hb < ib && ib < gb && gb < ha && ha < ia, "{text}");
        assert_eq!(text.matches("(new table)").count(), 2, "{text}");
    }
}
