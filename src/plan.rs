//! Stage 4 — `plan`: the SQL, generated from the validated schema and the catalog state. Pure.
//!
//! Order: schemas → enums → tables (no foreign keys) → keys that foreign keys need → foreign keys
//! → indexes → triggers → RLS → policies → comments. Creating every table before any foreign key
//! is what lets cyclic and cross-schema references apply in any payload order.
//!
//! A table that already exists is diffed, never skipped: missing columns, constraints, indexes,
//! RLS and policy are added; columns only in the database are reported as warnings; changes that
//! could lose data or fail on existing rows are reported as [`Risk`]s (the caller blocks on them
//! unless `allow_destructive`). Every name is a quoted [`Name`], every literal is quoted, and the
//! only caller text pasted in is expressions that `validate` had Postgres' parser accept.

use serde::Serialize;
use std::collections::{BTreeSet, HashSet};

use crate::ident::{quote_literal, sha256_hex, Name};
use crate::model::*;
use crate::validate::CatalogState;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub kind: &'static str,
    pub object: String,
    pub sql: String,
}

impl Step {
    pub fn new(kind: &'static str, object: String, sql: String) -> Step {
        Step { kind, object, sql }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Risk {
    pub path: String,
    pub code: &'static str,
    pub message: String,
    /// Rows the change touches (drops, removed enum values, NOT NULL on rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<i64>,
    /// Whether `rows` was counted (true) or estimated from `pg_class.reltuples` (false).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows_counted: Option<bool>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub tables_created: usize,
    pub tables_altered: usize,
    pub indexes_created: usize,
    pub policies_created: usize,
    pub enums_created: usize,
    pub warnings: Vec<String>,
    pub risks: Vec<Risk>,
}

impl Plan {
    /// The whole plan as one SQL script (what `psql -1 -f` would run).
    pub fn script(&self) -> String {
        let mut s = String::new();
        for st in &self.steps {
            s.push_str(&st.sql);
            s.push_str(";\n");
        }
        s
    }
    pub fn checksum(&self) -> String {
        sha256_hex(self.script().as_bytes())
    }
    pub(crate) fn push(&mut self, kind: &'static str, object: String, sql: String) {
        self.steps.push(Step { kind, object, sql });
    }
}

/// The tenant predicate, in the sub-select form Postgres evaluates once per statement; on Citus
/// (`o.citus`) the bare form, because Citus refuses sub-selects in a distributed table's policy.
pub fn tenant_predicate(o: &Options) -> String {
    if o.citus {
        return crate::distribute::tenant_predicate(o);
    }
    format!(
        "({} = (SELECT (revos.current_tenant_id())::{}))",
        o.tenant_column,
        o.tenant_type.sql()
    )
}

fn col_list(cols: &[Name]) -> String {
    cols.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn column_sql(c: &Column) -> String {
    let mut s = format!(
        "{} {}",
        c.name,
        c.sql_type.as_deref().expect("validated column has a type")
    );
    if let Some(g) = &c.generated {
        s.push_str(&format!(" GENERATED ALWAYS AS (({g})) STORED"));
    }
    if c.not_null {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        s.push_str(&format!(" DEFAULT ({d})"));
    }
    s
}

fn fk_sql(fk: &ForeignKey, o: &Options) -> String {
    let (from, to) = if fk.tenant_bound {
        (
            vec![o.tenant_column.clone(), fk.column.clone()],
            vec![o.tenant_column.clone(), fk.target_column.clone()],
        )
    } else {
        (vec![fk.column.clone()], vec![fk.target_column.clone()])
    };
    let mut s = format!(
        "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {}.{} ({})",
        fk.name,
        col_list(&from),
        fk.target_schema,
        fk.target_table,
        col_list(&to)
    );
    if let Some(a) = fk.on_delete {
        s.push_str(" ON DELETE ");
        s.push_str(a.sql());
        // Only the referencing column is nulled/defaulted, never the tenant column.
        if fk.tenant_bound && matches!(a, FkAction::SetNull | FkAction::SetDefault) {
            s.push_str(&format!(" ({})", fk.column));
        }
    }
    if let Some(a) = fk.on_update {
        s.push_str(" ON UPDATE ");
        s.push_str(a.sql());
    }
    s
}

fn index_sql(t: &Table, x: &Index) -> String {
    let mut s = format!(
        "CREATE {}INDEX {} ON {} USING {} ({})",
        if x.unique { "UNIQUE " } else { "" },
        x.name,
        t.qualified(),
        x.method.sql(),
        col_list(&x.columns)
    );
    if !x.include.is_empty() {
        s.push_str(&format!(" INCLUDE ({})", col_list(&x.include)));
    }
    if let Some(w) = &x.where_ {
        s.push_str(&format!(" WHERE ({w})"));
    }
    s
}

/// The `(tenant, column)` keys that tenant-bound foreign keys point at: name and columns.
fn tenant_target_key(tenant: &Name, table: &Name, column: &Name) -> (Name, Vec<Name>) {
    (
        Name::derived(&format!(
            "uq_{}_{}_{}",
            table.as_str(),
            tenant.as_str(),
            column.as_str()
        )),
        vec![tenant.clone(), column.clone()],
    )
}

pub fn plan(s: &Schema, st: &CatalogState) -> Plan {
    let mut p = Plan::default();
    let o = &s.options;

    // 1. schemas
    let mut schemas = BTreeSet::new();
    for t in &s.tables {
        schemas.insert(t.schema.clone());
    }
    for e in &s.enums {
        schemas.insert(e.schema.clone());
    }
    for sc in schemas.iter().filter(|n| n.as_str() != "public") {
        p.push(
            "schema",
            sc.as_str().to_string(),
            format!("CREATE SCHEMA IF NOT EXISTS {sc}"),
        );
    }

    // 2. enums
    for e in &s.enums {
        let q = format!("{}.{}", e.schema, e.name);
        match st
            .enums
            .get(&(e.schema.as_str().to_string(), e.name.as_str().to_string()))
        {
            None => {
                let vals = e
                    .values
                    .iter()
                    .map(|v| quote_literal(v))
                    .collect::<Vec<_>>()
                    .join(", ");
                p.push(
                    "enum",
                    q.clone(),
                    format!("CREATE TYPE {q} AS ENUM ({vals})"),
                );
                p.enums_created += 1;
            }
            Some(existing) => {
                for v in e.values.iter().filter(|v| !existing.contains(v)) {
                    p.push(
                        "enum_value",
                        q.clone(),
                        format!(
                            "ALTER TYPE {q} ADD VALUE IF NOT EXISTS {}",
                            quote_literal(v)
                        ),
                    );
                }
                for v in existing.iter().filter(|v| !e.values.contains(v)) {
                    p.warnings.push(format!(
                        "enum {q} has value {v:?} that the schema does not list; it is kept"
                    ));
                }
            }
        }
    }

    // Keys that tenant-bound foreign keys need on their targets.
    let mut needed_keys: Vec<(Name, Name, Name)> = vec![]; // (schema, table, column)
    for t in &s.tables {
        for fk in t.foreign_keys.iter().filter(|f| f.tenant_bound) {
            let k = (
                fk.target_schema.clone(),
                fk.target_table.clone(),
                fk.target_column.clone(),
            );
            if !needed_keys.contains(&k) {
                needed_keys.push(k);
            }
        }
    }
    let payload_tables: HashSet<(String, String)> = s.tables.iter().map(Table::key).collect();

    // 3. tables
    let mut new_tables: HashSet<(String, String)> = HashSet::new();
    for t in &s.tables {
        match st.table(&t.schema, &t.name) {
            None => {
                create_table(&mut p, t, &needed_keys, o);
                new_tables.insert(t.key());
            }
            Some(snap) => alter_table(&mut p, s, t, snap),
        }
    }
    // keys on tables that are not in the payload (or exist already) and lack them
    for (sc, tn, col) in &needed_keys {
        let key = (sc.as_str().to_string(), tn.as_str().to_string());
        if new_tables.contains(&key) {
            continue;
        }
        let (kname, kcols) = tenant_target_key(&o.tenant_column, tn, col);
        let snap = st.tables.get(&key);
        let has =
            snap.is_some_and(|sn| has_unique_on(sn, &kcols) || sn.has_constraint(kname.as_str()));
        if !has {
            let spec_has = s
                .tables
                .iter()
                .find(|t| t.key() == key)
                .is_some_and(|t| t.uniques.iter().any(|u| u.columns == kcols));
            if !spec_has || !payload_tables.contains(&key) {
                p.push(
                    "constraint",
                    format!("{sc}.{tn}"),
                    format!(
                        "ALTER TABLE {sc}.{tn} ADD CONSTRAINT {kname} UNIQUE ({})",
                        col_list(&kcols)
                    ),
                );
            }
        }
    }

    // 4. foreign keys
    for t in &s.tables {
        let snap = st.table(&t.schema, &t.name);
        for fk in &t.foreign_keys {
            if snap.is_some_and(|sn| sn.has_constraint(fk.name.as_str())) {
                continue;
            }
            p.push(
                "foreign_key",
                t.qualified(),
                format!("ALTER TABLE {} ADD {}", t.qualified(), fk_sql(fk, o)),
            );
        }
    }

    // 5. indexes
    for t in &s.tables {
        let snap = st.table(&t.schema, &t.name);
        for x in &t.indexes {
            if let Some(existing) = snap.and_then(|sn| sn.index(x.name.as_str())) {
                let want: Vec<&str> = x.columns.iter().map(Name::as_str).collect();
                if existing.columns != want
                    || existing.unique != x.unique
                    || existing.method != x.method.sql()
                {
                    p.warnings.push(format!(
                        "index {} on {} exists with another definition ({} {:?}); it is kept as it is",
                        x.name.as_str(),
                        t.qualified(),
                        existing.method,
                        existing.columns
                    ));
                }
                continue;
            }
            p.push("index", t.qualified(), index_sql(t, x));
            p.indexes_created += 1;
        }
    }

    // 6. triggers, 7. RLS, 8. policies
    for t in &s.tables {
        let snap = st.table(&t.schema, &t.name);
        if t.touch_trigger
            && !snap.is_some_and(|sn| {
                sn.triggers
                    .iter()
                    .any(|n| n == Table::trigger_name().as_str())
            })
        {
            p.push(
                "trigger",
                t.qualified(),
                format!(
                    "CREATE TRIGGER {} BEFORE UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at()",
                    Table::trigger_name(),
                    t.qualified()
                ),
            );
        }
        if t.rls {
            if !snap.is_some_and(|sn| sn.rls_enabled) {
                p.push(
                    "rls",
                    t.qualified(),
                    format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY", t.qualified()),
                );
            }
            if t.force_rls && !snap.is_some_and(|sn| sn.rls_forced) {
                p.push(
                    "rls",
                    t.qualified(),
                    format!("ALTER TABLE {} FORCE ROW LEVEL SECURITY", t.qualified()),
                );
            }
            if t.tenant_scoped
                && !snap.is_some_and(|sn| {
                    sn.policies
                        .iter()
                        .any(|x| x.name == Table::policy_name().as_str())
                })
            {
                let pred = tenant_predicate(o);
                p.push(
                    "policy",
                    t.qualified(),
                    format!(
                        "CREATE POLICY {} ON {} AS PERMISSIVE FOR ALL TO PUBLIC USING {pred} WITH CHECK {pred}",
                        Table::policy_name(),
                        t.qualified()
                    ),
                );
                p.policies_created += 1;
            }
        }
    }

    // 9. comments
    for t in &s.tables {
        if let Some(c) = &t.comment {
            p.push(
                "comment",
                t.qualified(),
                format!("COMMENT ON TABLE {} IS {}", t.qualified(), quote_literal(c)),
            );
        }
        for c in &t.columns {
            if let Some(cm) = &c.comment {
                p.push(
                    "comment",
                    t.qualified(),
                    format!(
                        "COMMENT ON COLUMN {}.{} IS {}",
                        t.qualified(),
                        c.name,
                        quote_literal(cm)
                    ),
                );
            }
        }
    }
    p
}

fn has_unique_on(sn: &TableSnapshot, cols: &[Name]) -> bool {
    let want: Vec<&str> = cols.iter().map(Name::as_str).collect();
    sn.indexes
        .iter()
        .any(|i| i.unique && !i.partial && i.columns == want)
}

fn create_table(p: &mut Plan, t: &Table, needed_keys: &[(Name, Name, Name)], o: &Options) {
    let mut parts: Vec<String> = t.columns.iter().map(column_sql).collect();
    if !t.primary_key.is_empty() {
        parts.push(format!(
            "CONSTRAINT {} PRIMARY KEY ({})",
            t.pk_name(),
            col_list(&t.primary_key)
        ));
    }
    for u in &t.uniques {
        parts.push(format!(
            "CONSTRAINT {} UNIQUE ({})",
            u.name,
            col_list(&u.columns)
        ));
    }
    for (sc, tn, col) in needed_keys {
        if sc == &t.schema && tn == &t.name {
            let (kname, kcols) = tenant_target_key(&o.tenant_column, tn, col);
            if !t.uniques.iter().any(|u| u.columns == kcols) && t.primary_key != kcols {
                parts.push(format!("CONSTRAINT {kname} UNIQUE ({})", col_list(&kcols)));
            }
        }
    }
    for c in &t.checks {
        parts.push(format!("CONSTRAINT {} CHECK (({}))", c.name, c.expression));
    }
    p.push(
        "table",
        t.qualified(),
        format!(
            "CREATE TABLE {} (\n  {}\n)",
            t.qualified(),
            parts.join(",\n  ")
        ),
    );
    p.tables_created += 1;
}

fn alter_table(p: &mut Plan, s: &Schema, t: &Table, sn: &TableSnapshot) {
    let o = &s.options;
    let q = t.qualified();
    let before = p.steps.len();
    let keeps_own_pk = sn.primary_key().is_some()
        && sn.column("id").is_none()
        && t.primary_key == [Name::from_catalog("id")];
    if keeps_own_pk {
        p.warnings.push(format!(
            "{q} keeps its primary key {:?}; no id column is added",
            sn.primary_key().unwrap_or_default()
        ));
    }
    for c in &t.columns {
        if keeps_own_pk && c.auto && c.name.as_str() == "id" {
            continue;
        }
        match sn.column(c.name.as_str()) {
            None => {
                let is_tenant = t.tenant_scoped && c.name == o.tenant_column;
                match (&o.backfill_tenant, is_tenant && sn.has_rows) {
                    (Some(tenant), true) => {
                        let ty = o.tenant_type.sql();
                        p.push(
                            "column",
                            q.clone(),
                            format!("ALTER TABLE {q} ADD COLUMN {} {ty}", c.name),
                        );
                        p.push(
                            "backfill",
                            q.clone(),
                            format!(
                                "UPDATE {q} SET {} = {}::{ty}",
                                c.name,
                                quote_literal(tenant)
                            ),
                        );
                        p.push(
                            "column",
                            q.clone(),
                            format!("ALTER TABLE {q} ALTER COLUMN {} SET NOT NULL", c.name),
                        );
                        if let Some(d) = &c.default {
                            p.push(
                                "column",
                                q.clone(),
                                format!(
                                    "ALTER TABLE {q} ALTER COLUMN {} SET DEFAULT ({d})",
                                    c.name
                                ),
                            );
                        }
                    }
                    _ => p.push(
                        "column",
                        q.clone(),
                        format!("ALTER TABLE {q} ADD COLUMN {}", column_sql(c)),
                    ),
                }
            }
            Some(live) => {
                let want = c.sql_type.as_deref().unwrap_or_default();
                if live.sql_type != want {
                    p.risks.push(Risk {
                        path: format!("{}.type", c.path),
                        code: "type_change",
                        message: format!(
                            "{q}.{} is {} in the database and {want} in the schema",
                            c.name, live.sql_type
                        ),
                        rows: None,
                        rows_counted: None,
                    });
                    // `using` (checked by validate like any expression) converts the values;
                    // without it, a cast.
                    let using = match &c.using {
                        Some(u) => format!("({u})"),
                        None => format!("{}::{want}", c.name),
                    };
                    p.push(
                        "column",
                        q.clone(),
                        format!(
                            "ALTER TABLE {q} ALTER COLUMN {} TYPE {want} USING {using}",
                            c.name
                        ),
                    );
                }
                // NOT NULL on rows holding NULL is the risk `set_not_null`, with their count
                // (evolve::not_null_on_rows).
                if c.not_null && !live.not_null {
                    p.push(
                        "column",
                        q.clone(),
                        format!("ALTER TABLE {q} ALTER COLUMN {} SET NOT NULL", c.name),
                    );
                }
                if !c.not_null && live.not_null && !c.auto {
                    p.warnings.push(format!(
                        "{q}.{} is NOT NULL in the database; it is kept NOT NULL",
                        c.name
                    ));
                }
            }
        }
    }
    for live in &sn.columns {
        if t.column(&Name::from_catalog(&live.name)).is_none() {
            p.warnings.push(format!(
                "{q}.{} exists in the database but not in the schema; it is kept (never dropped)",
                live.name
            ));
        }
    }
    if !keeps_own_pk && !t.primary_key.is_empty() && sn.primary_key().is_none() {
        p.push(
            "constraint",
            q.clone(),
            format!(
                "ALTER TABLE {q} ADD CONSTRAINT {} PRIMARY KEY ({})",
                t.pk_name(),
                col_list(&t.primary_key)
            ),
        );
    }
    for u in &t.uniques {
        if !sn.has_constraint(u.name.as_str()) {
            p.push(
                "constraint",
                q.clone(),
                format!(
                    "ALTER TABLE {q} ADD CONSTRAINT {} UNIQUE ({})",
                    u.name,
                    col_list(&u.columns)
                ),
            );
        }
    }
    for c in &t.checks {
        if !sn.has_constraint(c.name.as_str()) {
            p.push(
                "constraint",
                q.clone(),
                format!(
                    "ALTER TABLE {q} ADD CONSTRAINT {} CHECK (({}))",
                    c.name, c.expression
                ),
            );
        }
    }
    if p.steps.len() > before {
        p.tables_altered += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::tests::{run, MemCatalog};
    use serde_json::json;

    fn patients() -> serde_json::Value {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/wf106-patients.json")).unwrap();
        v["payload"].clone()
    }

    #[test]
    fn patients_plan_is_exactly_this_sql() {
        let cat = MemCatalog::default();
        let (s, st, issues) = run(patients(), &cat);
        assert!(issues.is_empty(), "{issues:?}");
        let p = plan(&s, &st);
        let want = r#"CREATE TABLE "public"."patients" (
  "id" uuid NOT NULL DEFAULT (gen_random_uuid()),
  "tenant_id" uuid NOT NULL DEFAULT ((revos.current_tenant_id())::uuid),
  "created_at" timestamp with time zone NOT NULL DEFAULT (now()),
  "updated_at" timestamp with time zone NOT NULL DEFAULT (now()),
  "deleted_at" timestamp with time zone,
  "first_name" text NOT NULL,
  "last_name" text NOT NULL,
  "phone" text,
  CONSTRAINT "patients_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "idx_patients_tenant_id" ON "public"."patients" USING btree ("tenant_id");
CREATE INDEX "idx_patients_created_at" ON "public"."patients" USING btree ("tenant_id", "created_at");
CREATE INDEX "idx_patients_phone" ON "public"."patients" USING btree ("phone");
CREATE TRIGGER "revos_touch_updated_at" BEFORE UPDATE ON "public"."patients" FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at();
ALTER TABLE "public"."patients" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "public"."patients" FORCE ROW LEVEL SECURITY;
CREATE POLICY "revos_tenant_isolation" ON "public"."patients" AS PERMISSIVE FOR ALL TO PUBLIC USING ("tenant_id" = (SELECT (revos.current_tenant_id())::uuid)) WITH CHECK ("tenant_id" = (SELECT (revos.current_tenant_id())::uuid));
"#;
        assert_eq!(p.script(), want);
        assert_eq!(
            (p.tables_created, p.indexes_created, p.policies_created),
            (1, 3, 1)
        );
        assert_eq!(p.checksum().len(), 64);
    }

    #[test]
    fn cyclic_and_tenant_bound_foreign_keys_come_after_all_tables() {
        let cat = MemCatalog::default();
        let (s, st, issues) = run(
            json!({"schema_version": "1", "description": "d", "tables": [
                {"name": "facts", "schema": "agent", "columns": [{"name": "event_id", "type": "uuid", "references": {"table": "agent.events", "on_delete": "set null"}}]},
                {"name": "events", "schema": "agent", "columns": [{"name": "fact_id", "type": "uuid", "references": "agent.facts"}]},
                {"name": "tools", "schema": "agent", "tenant_scoped": false, "columns": []},
                {"name": "uses", "schema": "agent", "columns": [{"name": "tool_id", "type": "uuid", "references": "agent.tools"}]}]}),
            &cat,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let p = plan(&s, &st);
        let kinds: Vec<&str> = p.steps.iter().map(|x| x.kind).collect();
        let last_table = kinds.iter().rposition(|k| *k == "table").unwrap();
        let first_fk = kinds.iter().position(|k| *k == "foreign_key").unwrap();
        assert!(last_table < first_fk, "{kinds:?}");
        assert_eq!(kinds[0], "schema");
        let sql = p.script();
        assert!(sql.contains(r#"FOREIGN KEY ("tenant_id", "event_id") REFERENCES "agent"."events" ("tenant_id", "id") ON DELETE SET NULL ("event_id")"#), "{sql}");
        assert!(
            sql.contains(r#"CONSTRAINT "uq_events_tenant_id_id" UNIQUE ("tenant_id", "id")"#),
            "{sql}"
        );
        assert!(
            sql.contains(r#"FOREIGN KEY ("tool_id") REFERENCES "agent"."tools" ("id")"#),
            "{sql}"
        );
        assert!(!sql.contains(r#"CREATE POLICY "revos_tenant_isolation" ON "agent"."tools""#));
    }

    #[test]
    fn existing_table_is_diffed_not_skipped() {
        let mut cat = MemCatalog::default();
        let col = |n: &str, t: &str, nn: bool| ColumnSnapshot {
            name: n.into(),
            sql_type: t.into(),
            not_null: nn,
            has_default: true,
            generated: false,
        };
        cat.tables.insert(
            ("public".into(), "t".into()),
            TableSnapshot {
                columns: vec![
                    col("id", "uuid", true),
                    col("tenant_id", "uuid", true),
                    col("created_at", "timestamp with time zone", true),
                    col("updated_at", "timestamp with time zone", true),
                    col("deleted_at", "timestamp with time zone", false),
                    col("a", "integer", false),
                    col("legacy", "text", false),
                ],
                indexes: vec![IndexSnapshot {
                    name: "idx_t_tenant_id".into(),
                    unique: false,
                    method: "btree".into(),
                    columns: vec!["tenant_id".into()],
                    partial: false,
                }],
                constraints: vec![("t_pkey".into(), 'p')],
                rls_enabled: true,
                rls_forced: false,
                policies: vec![],
                triggers: vec!["revos_touch_updated_at".into()],
                has_rows: true,
                est_rows: None,
            },
        );
        let (s, st, issues) = run(
            json!({"schema_version": "2", "description": "d", "tables": [{"name": "t", "columns": [
                {"name": "a", "type": "bigint", "not_null": true}, {"name": "b", "type": "text"}]}]}),
            &cat,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let p = plan(&s, &st);
        let sql = p.script();
        assert!(!sql.contains("CREATE TABLE"), "{sql}");
        assert!(
            sql.contains(r#"ALTER TABLE "public"."t" ADD COLUMN "b" text"#),
            "{sql}"
        );
        assert!(
            sql.contains(r#"ALTER COLUMN "a" TYPE bigint USING "a"::bigint"#),
            "{sql}"
        );
        assert!(sql.contains(r#"CREATE INDEX "idx_t_created_at""#), "{sql}");
        assert!(!sql.contains(r#"CREATE INDEX "idx_t_tenant_id""#), "{sql}");
        assert!(
            sql.contains("FORCE ROW LEVEL SECURITY") && !sql.contains("ENABLE ROW LEVEL SECURITY"),
            "{sql}"
        );
        assert!(sql.contains("CREATE POLICY"), "{sql}");
        assert!(!sql.contains("CREATE TRIGGER"), "{sql}");
        let risks: Vec<&str> = p.risks.iter().map(|r| r.code).collect();
        // set_not_null needs the count of NULLs: evolve's (see evolve::tests)
        assert_eq!(risks, ["type_change"]);
        assert!(sql.contains(r#"ALTER COLUMN "a" SET NOT NULL"#), "{sql}");
        assert!(
            p.warnings.iter().any(|w| w.contains("legacy")),
            "{:?}",
            p.warnings
        );
        assert_eq!(p.tables_altered, 1);
    }

    #[test]
    fn every_identifier_is_quoted_and_literals_escaped() {
        let cat = MemCatalog::default();
        let (s, st, issues) = run(
            json!({"schema_version": "1", "description": "d", "enums": [{"name": "mood", "values": ["it's", "ok"]}],
                   "tables": [{"name": "Order", "comment": "O'Brien's", "columns": [{"name": "select", "type": "mood"}]}]}),
            &cat,
        );
        assert!(issues.is_empty(), "{issues:?}");
        let sql = plan(&s, &st).script();
        assert!(
            sql.contains(r#"CREATE TYPE "public"."mood" AS ENUM ('it''s', 'ok')"#),
            "{sql}"
        );
        assert!(sql.contains(r#"CREATE TABLE "public"."order""#), "{sql}");
        assert!(sql.contains(r#""select" "public"."mood""#), "{sql}");
        assert!(sql.contains(r#"IS 'O''Brien''s'"#), "{sql}");
    }
}
