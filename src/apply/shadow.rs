//! How Postgres deparses what the spec declares for tables that already exist ([`Declared`]).
//!
//! For each existing table of the payload, a shadow table is built in `pg_temp` inside a
//! subtransaction that is always rolled back: the spec's columns and types, generated
//! expressions, defaults, checks, indexes and tenant policy, each created under the caller's
//! search_path (so names resolve exactly as they will in the real DDL), then read back with the
//! same functions the catalog snapshot uses (`pg_get_expr`, `pg_get_constraintdef`,
//! `pg_get_indexdef`) under `search_path = pg_catalog`. What Postgres refuses to build on the
//! shadow (an expression naming something the plan creates first) is left out, and compared as
//! "different" (it is then replaced, and verify checks it by presence).
//!
//! Only existing tables pay for this: a fresh create has nothing to compare (P1), and a noop or
//! conflict never gets here (P2). Nothing of it survives the call: the subtransaction is rolled
//! back, and the temporary table with it.

use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;
use std::collections::HashMap;

use super::pg_catalog::{
    restore_search_path, rolled_back, subtransaction, with_catalog_search_path,
};
use crate::ident::quote_ident;
use crate::ledger::writer::own_statement;
use crate::schema::catalog::CatalogState;
use crate::schema::compare;
use crate::schema::model::*;
use crate::schema::plan::col_list;
use crate::schema::tenancy::tenant_predicate;

/// Fills `declared` of every existing table of the schema in `state`.
pub fn declare(s: &Schema, state: &mut CatalogState) {
    let existing: Vec<(usize, &Table)> = s
        .tables
        .iter()
        .enumerate()
        .filter(|(_, t)| state.tables.contains_key(&t.key()))
        .collect();
    if existing.is_empty() {
        return;
    }
    let new_enums: Vec<&EnumType> = s
        .enums
        .iter()
        .filter(|e| {
            !state
                .enums
                .contains_key(&(e.schema.as_str().to_string(), e.name.as_str().to_string()))
        })
        .collect();
    // The shadows are revos's own DDL (pg_temp, always rolled back): each statement is announced
    // (`own_statement`), so the drift capture skips it like apply's DDL (its workers cost ~2 ms
    // per shadow otherwise) and still records any other DDL that runs meanwhile.
    let found = {
        rolled_back(|| {
            let mut live = vec![];
            for (_, t) in &existing {
                if let Ok(Some(x)) = subtransaction(|| live_expressions(t)) {
                    live.push((t.key(), x));
                }
            }
            for e in &new_enums {
                let vals = e
                    .values
                    .iter()
                    .map(|v| crate::ident::quote_literal(v))
                    .collect::<Vec<_>>()
                    .join(", ");
                try_sql(&format!("CREATE SCHEMA IF NOT EXISTS {}", e.schema));
                try_sql(&format!(
                    "CREATE TYPE {}.{} AS ENUM ({vals})",
                    e.schema, e.name
                ));
            }
            let built = existing
                .iter()
                .filter_map(|(i, t)| shadow_of(s, *i, t).map(|(rel, ix)| (t.key(), rel, ix)))
                .collect::<Vec<_>>();
            (live, deparse_all(built))
        })
    }
    .unwrap_or_default();
    let (live, declared) = found;
    // Only a table whose generated expressions and policies could be read (not locked by
    // another session past lock_timeout) is compared by its deparsed forms.
    for (key, (generated, policies, indexes)) in live {
        let Some(sn) = state.tables.get_mut(&key) else {
            continue;
        };
        for c in sn.columns.iter_mut().filter(|c| c.generated) {
            c.expression = generated.get(&c.name).cloned();
        }
        for x in sn.indexes.iter_mut() {
            x.definition = indexes.get(&x.name).cloned();
        }
        for p in sn.policies.iter_mut() {
            if let Some((u, w)) = policies.get(&p.name) {
                p.using = u.clone();
                p.with_check = w.clone();
            }
        }
        if let Some((_, d)) = declared.iter().find(|(k, _)| *k == key) {
            sn.declared = Some(d.clone());
        }
    }
    count_check_violations(s, state);
}

type LiveExpressions = (
    HashMap<String, String>,
    HashMap<String, (Option<String>, Option<String>)>,
    HashMap<String, String>,
);

/// The live table's generated expressions and policy expressions (`pg_get_expr` opens the table:
/// ACCESS SHARE, under lock_timeout), under the names evolution gives them. None when the table
/// is not there under its new or old name.
fn live_expressions(t: &Table) -> Option<LiveExpressions> {
    let mut rel = format!("{}.{}", t.schema, t.name);
    let exists = |r: &str| {
        Spi::get_one_with_args::<bool>("SELECT pg_catalog.to_regclass($1) IS NOT NULL", &[r.into()])
            .ok()
            .flatten()
            .unwrap_or(false)
    };
    if !exists(&rel) {
        rel = format!("{}.{}", t.schema, t.renamed_from.as_ref()?);
        if !exists(&rel) {
            return None;
        }
    }
    let saved = with_catalog_search_path();
    let read = Spi::get_one_with_args::<JsonB>(LIVE_SQL, &[rel.into()]);
    restore_search_path(saved);
    let j = read.ok().flatten()?.0;
    let renamed = |mut text: String| {
        for c in &t.columns {
            if let Some(old) = &c.renamed_from {
                text =
                    crate::schema::evolve::rename_identifier(&text, old.as_str(), c.name.as_str());
            }
        }
        text
    };
    let mut generated = HashMap::new();
    for (k, v) in j["generated"].as_object().into_iter().flatten() {
        let name = t
            .columns
            .iter()
            .find(|c| c.renamed_from.as_ref().is_some_and(|o| o.as_str() == k))
            .map(|c| c.name.as_str().to_string())
            .unwrap_or_else(|| k.clone());
        if let Some(v) = v.as_str() {
            generated.insert(name, renamed(v.to_string()));
        }
    }
    let mut policies = HashMap::new();
    for (k, v) in j["policies"].as_object().into_iter().flatten() {
        let e = |i: usize| {
            v.get(i)
                .and_then(Value::as_str)
                .map(|x| renamed(x.to_string()))
        };
        policies.insert(k.clone(), (e(0), e(1)));
    }
    let indexes = j["indexes"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), renamed(v.to_string()))))
        .collect();
    Some((generated, policies, indexes))
}

const LIVE_SQL: &str = r#"
SELECT jsonb_build_object(
  'generated', (SELECT jsonb_object_agg(a.attname, pg_get_expr(d.adbin, d.adrelid))
                 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                WHERE d.adrelid = $1::regclass AND a.attgenerated <> ''),
  'policies', (SELECT jsonb_object_agg(p.polname, jsonb_build_array(pg_get_expr(p.polqual, p.polrelid),
                                                                    pg_get_expr(p.polwithcheck, p.polrelid)))
                 FROM pg_policy p WHERE p.polrelid = $1::regclass),
  'indexes', (SELECT jsonb_object_agg(ic.relname, substr(x.def, strpos(x.def, ' USING ') + 1))
                FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid,
                     LATERAL (SELECT pg_get_indexdef(i.indexrelid) AS def) x
               WHERE i.indrelid = $1::regclass))
"#;

/// Builds the shadow of `t` and reads back how Postgres deparses it.
fn shadow_of(s: &Schema, i: usize, t: &Table) -> Option<(String, HashMap<String, String>)> {
    let name = format!("revos_shadow_{i}");
    let shadow = format!("pg_temp.{}", quote_ident(&name));
    let columns = |generated: bool| {
        t.columns
            .iter()
            .map(|c| {
                let mut sql = format!("{} {}", c.name, c.sql_type.as_deref().unwrap_or("text"));
                if let (true, Some(g)) = (generated, &c.generated) {
                    sql.push_str(&format!(" GENERATED ALWAYS AS (({g})) STORED"));
                }
                sql
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    // First the whole table in one statement (columns with their defaults and generated
    // expressions, checks): DDL on the shadow is most of its cost. Only when Postgres refuses it,
    // the columns alone and then each object on its own.
    let mut whole: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let mut sql = format!("{} {}", c.name, c.sql_type.as_deref().unwrap_or("text"));
            match (&c.generated, &c.default) {
                (Some(g), _) => sql.push_str(&format!(" GENERATED ALWAYS AS (({g})) STORED")),
                (None, Some(d)) => sql.push_str(&format!(" DEFAULT ({d})")),
                _ => {}
            }
            sql
        })
        .collect();
    whole.extend(
        t.checks
            .iter()
            .map(|c| format!("CONSTRAINT {} CHECK (({}))", c.name, c.expression)),
    );
    let in_one = try_sql(&format!("CREATE TABLE {shadow} ({})", whole.join(", ")));
    if !in_one
        && !try_sql(&format!("CREATE TABLE {shadow} ({})", columns(true)))
        && !try_sql(&format!("CREATE TABLE {shadow} ({})", columns(false)))
    {
        return None;
    }
    // Every declared object as one statement; tried all at once (one subtransaction), and one by
    // one only when Postgres refuses one of them (each statement in its own subtransaction
    // would cost a subtransaction per object).
    let mut stmts: Vec<(String, Option<(String, String)>)> = vec![];
    for c in t
        .columns
        .iter()
        .filter(|c| c.generated.is_none() && !in_one)
    {
        if let Some(d) = &c.default {
            stmts.push((
                format!(
                    "ALTER TABLE {shadow} ALTER COLUMN {} SET DEFAULT ({d})",
                    c.name
                ),
                None,
            ));
        }
    }
    for c in t.checks.iter().filter(|_| !in_one) {
        stmts.push((
            format!(
                "ALTER TABLE {shadow} ADD CONSTRAINT {} CHECK (({}))",
                c.name, c.expression
            ),
            None,
        ));
    }
    for (j, x) in t.indexes.iter().enumerate() {
        let iname = format!("{name}_{j}");
        let mut sql = format!(
            "CREATE {}INDEX {} ON {shadow} USING {} ({})",
            if x.unique { "UNIQUE " } else { "" },
            quote_ident(&iname),
            x.method.sql(),
            col_list(&x.columns)
        );
        if !x.include.is_empty() {
            sql.push_str(&format!(" INCLUDE ({})", col_list(&x.include)));
        }
        if let Some(w) = &x.where_ {
            sql.push_str(&format!(" WHERE ({w})"));
        }
        stmts.push((sql, Some((iname, x.name.as_str().to_string()))));
    }
    if t.rls && t.tenant_scoped {
        let pred = tenant_predicate(&s.options);
        stmts.push((
            format!(
                "CREATE POLICY {} ON {shadow} AS PERMISSIVE FOR ALL TO PUBLIC USING {pred} WITH CHECK {pred}",
                Table::policy_name()
            ),
            None,
        ));
    }
    let all = subtransaction(|| {
        for (sql, _) in &stmts {
            own_statement(|| Spi::run(sql))?;
        }
        Ok::<_, pgrx::spi::Error>(())
    });
    let mut index_names = HashMap::new();
    for (sql, index) in &stmts {
        let ok = matches!(all, Ok(Ok(()))) || try_sql(sql);
        if let (true, Some((shadow_name, spec_name))) = (ok, index) {
            index_names.insert(shadow_name.clone(), spec_name.clone());
        }
    }
    Some((shadow, index_names))
}

/// Every shadow read back in one query (see [`DEPARSE_SQL`]).
fn deparse_all(
    built: Vec<((String, String), String, HashMap<String, String>)>,
) -> Vec<((String, String), Declared)> {
    if built.is_empty() {
        return vec![];
    }
    let rels: Vec<String> = built.iter().map(|b| b.1.clone()).collect();
    let saved = with_catalog_search_path();
    let rows: Result<Vec<(String, Value)>, pgrx::spi::Error> = Spi::connect(|c| {
        let mut out = vec![];
        for row in c.select(DEPARSE_SQL, None, &[rels.into()])? {
            let rel: String = row.get(1)?.unwrap_or_default();
            let j: JsonB = row.get(2)?.unwrap_or(JsonB(Value::Null));
            out.push((rel, j.0));
        }
        Ok(out)
    });
    restore_search_path(saved);
    let rows: HashMap<String, Value> = rows.unwrap_or_default().into_iter().collect();
    built
        .into_iter()
        .filter_map(|(key, rel, index_names)| {
            rows.get(&rel)
                .map(|j| (key, declared_from(j, &index_names)))
        })
        .collect()
}

fn declared_from(j: &Value, index_names: &HashMap<String, String>) -> Declared {
    let map = |k: &str| -> HashMap<String, String> {
        j[k].as_object()
            .map(|o| {
                o.iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let policy = j["policy"].as_array().map(|a| {
        (
            a.first().and_then(Value::as_str).map(str::to_string),
            a.get(1).and_then(Value::as_str).map(str::to_string),
        )
    });
    Declared {
        defaults: map("defaults"),
        generated: map("generated"),
        checks: map("checks"),
        indexes: map("indexes")
            .into_iter()
            .filter_map(|(k, v)| index_names.get(&k).map(|n| (n.clone(), v)))
            .collect(),
        policy,
        volatile_defaults: j["volatile"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default(),
        check_violations: HashMap::new(),
    }
}

/// The shadow read back, under `search_path = pg_catalog`. A default is volatile when it calls
/// a volatile function, directly or through an operator (its dependencies in `pg_depend`).
const DEPARSE_SQL: &str = r#"
SELECT r.rel, jsonb_build_object(
  'defaults', (SELECT jsonb_object_agg(a.attname, pg_get_expr(d.adbin, d.adrelid))
                 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                WHERE d.adrelid = o.oid AND a.attgenerated = ''),
  'generated', (SELECT jsonb_object_agg(a.attname, pg_get_expr(d.adbin, d.adrelid))
                 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                WHERE d.adrelid = o.oid AND a.attgenerated <> ''),
  'volatile', (SELECT jsonb_agg(DISTINCT a.attname)
                 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                 JOIN pg_depend dep ON dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid
                 LEFT JOIN pg_operator op ON dep.refclassid = 'pg_operator'::regclass AND op.oid = dep.refobjid
                 JOIN pg_proc p ON p.oid = CASE WHEN dep.refclassid = 'pg_proc'::regclass THEN dep.refobjid ELSE op.oprcode END
                WHERE d.adrelid = o.oid AND a.attgenerated = '' AND p.provolatile = 'v'),
  'checks', (SELECT jsonb_object_agg(co.conname, pg_get_constraintdef(co.oid))
               FROM pg_constraint co WHERE co.conrelid = o.oid AND co.contype = 'c'),
  'indexes', (SELECT jsonb_object_agg(ic.relname, substr(x.def, strpos(x.def, ' USING ') + 1))
                FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid,
                     LATERAL (SELECT pg_get_indexdef(i.indexrelid) AS def) x
               WHERE i.indrelid = o.oid),
  'policy', (SELECT jsonb_build_array(pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
               FROM pg_policy p WHERE p.polrelid = o.oid))
  FROM unnest($1::text[]) AS r(rel) CROSS JOIN LATERAL (SELECT r.rel::regclass AS oid) o
"#;

/// For every check whose definition changes, the rows the new expression rejects (counted:
/// `NOT (expr)`; a NULL result passes a check, as in Postgres). The count reads the rows this
/// caller can see; the real ADD CONSTRAINT still validates every row.
fn count_check_violations(s: &Schema, state: &mut CatalogState) {
    for t in &s.tables {
        let Some(sn) = state.tables.get(&t.key()) else {
            continue;
        };
        let changed: Vec<&Check> = t
            .checks
            .iter()
            .filter(|c| compare::check_matches(c, sn, sn.declared.as_ref()) == Some(false))
            .collect();
        let mut counts = HashMap::new();
        for c in changed {
            let sql = format!(
                "SELECT count(*) FROM {} WHERE NOT (({}))",
                t.qualified(),
                c.expression
            );
            if let Ok(Ok(Some(n))) = subtransaction(|| Spi::get_one::<i64>(&sql)) {
                counts.insert(c.name.as_str().to_string(), n);
            }
        }
        if let Some(d) = state
            .tables
            .get_mut(&t.key())
            .and_then(|sn| sn.declared.as_mut())
        {
            d.check_violations = counts;
        }
    }
}

/// One statement in its own subtransaction: true when Postgres accepted it.
/// Runs one statement of revos's own (a shadow's DDL) in a subtransaction: whether it worked.
fn try_sql(sql: &str) -> bool {
    matches!(
        subtransaction(|| own_statement(|| Spi::run(sql))),
        Ok(Ok(()))
    )
}
