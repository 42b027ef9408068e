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
//! conflict never gets here (P2) — but for the tenant policy of the tables an apply created,
//! made again on one of them and deparsed, once per distinct policy, for verification
//! ([`declare_created_policies`]). Nothing of it survives the call: the subtransaction is rolled
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
use crate::schema::tenancy::tenant_policy_sql;

/// Fills `declared` of every existing table of the schema in `state`; where the declared forms
/// or the live expressions cannot be read, `unreadable` says why (every comparison that needs
/// them is then "cannot compare", never equal).
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
    let place = shadow_place();
    // The shadows are revos's own DDL (always rolled back): each statement is announced
    // (`own_statement`), so the drift capture skips it like apply's DDL (its workers cost ~2 ms
    // per shadow otherwise) and still records any other DDL that runs meanwhile.
    let found = rolled_back(|| {
        let live: Vec<_> = existing
            .iter()
            .map(|(_, t)| (t.key(), read_live(t)))
            .collect();
        let Ok(place) = &place else {
            return (live, vec![]);
        };
        for e in &new_enums {
            let vals = e
                .values
                .iter()
                .map(|v| crate::ident::quote_literal(v))
                .collect::<Vec<_>>()
                .join(", ");
            let _ = try_sql(&format!("CREATE SCHEMA IF NOT EXISTS {}", e.schema));
            let _ = try_sql(&format!(
                "CREATE TYPE {}.{} AS ENUM ({vals})",
                e.schema, e.name
            ));
        }
        let built = existing
            .iter()
            .map(|(i, t)| (t.key(), shadow_of(s, place, *i, t)))
            .collect::<Vec<_>>();
        (live, deparse_all(built))
    });
    let mut failure = place.clone().err();
    let (live, declared) = found.unwrap_or_else(|(msg, state)| {
        failure = Some(format!(
            "building the shadows failed: {msg} (SQLSTATE {state})"
        ));
        (vec![], vec![])
    });
    for (_, t) in &existing {
        let key = t.key();
        let Some(sn) = state.tables.get_mut(&key) else {
            continue;
        };
        match declared.iter().find(|(k, _)| *k == key) {
            Some((_, Ok(d))) => sn.declared = Some(d.clone()),
            Some((_, Err(why))) => sn.unreadable = Some(why.clone()),
            None => {
                sn.unreadable = Some(
                    failure
                        .clone()
                        .unwrap_or_else(|| "the declared forms could not be deparsed".into()),
                )
            }
        }
    }
    // The live side: only a table whose generated expressions, policies and index definitions
    // could be read (not locked by another session past lock_timeout) is compared by them.
    for (key, read) in live {
        let Some(sn) = state.tables.get_mut(&key) else {
            continue;
        };
        match read {
            Ok((generated, policies, indexes)) => {
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
            }
            Err(why) => sn.unreadable = Some(why),
        }
    }
    count_check_violations(s, state);
}

/// Where shadows can be built: `pg_temp` when the caller may create temporary tables, else
/// revos's scratch schema `revos_shadow` (CREATE granted to revos_admin; everything built there is
/// rolled back), else nowhere — and why.
fn shadow_place() -> Result<String, String> {
    let can = |sql: &str| Spi::get_one::<bool>(sql).ok().flatten().unwrap_or(false);
    if can("SELECT pg_catalog.has_database_privilege(pg_catalog.current_database(), 'TEMP')") {
        return Ok("pg_temp".into());
    }
    if can("SELECT pg_catalog.has_schema_privilege('revos_shadow', 'CREATE')") {
        return Ok("revos_shadow".into());
    }
    Err(format!(
        "{} may neither create temporary tables in this database nor create tables in schema revos_shadow, so the declared forms cannot be deparsed (GRANT revos_admin to it, or TEMP on the database)",
        crate::privilege::current_user_name()
    ))
}

/// The live expressions of `t` in a subtransaction (a lock timeout, say, becomes the reason).
fn read_live(t: &Table) -> Result<LiveExpressions, String> {
    match subtransaction(|| live_expressions(t)) {
        Ok(Some(x)) => Ok(x),
        Ok(None) => Err(format!("{} is not there to read", t.qualified())),
        Err((msg, state)) => Err(format!(
            "its live expressions could not be read: {msg} (SQLSTATE {state})"
        )),
    }
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
    // under the names evolution gives them: an index revos named after the table's old name
    // (`idx_people_tenant_id`) is renamed with it
    let derived = |k: &String| {
        t.derived_renames
            .iter()
            .find(|r| r.from.as_str() == k)
            .map(|r| r.to.as_str().to_string())
            .unwrap_or_else(|| k.clone())
    };
    let indexes = j["indexes"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|v| (derived(k), renamed(v.to_string()))))
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

/// A shadow built: its relation, its index names (shadow -> spec) and the objects Postgres
/// refused to build on it, with why.
type Built = (String, HashMap<String, String>, HashMap<String, String>);

/// Builds the shadow of `t` in `place` (`pg_temp` or `revos_shadow`); Err says why it could not.
fn shadow_of(s: &Schema, place: &str, i: usize, t: &Table) -> Result<Built, String> {
    let name = format!("revos_shadow_{}_{i}", std::process::id());
    let shadow = format!("{place}.{}", quote_ident(&name));
    let (in_one, mut failed) = create_shadow_table(&shadow, t)?;
    let stmts = object_statements(s, t, &name, &shadow, in_one);
    let index_names = build_objects(&stmts, &mut failed);
    Ok((shadow, index_names, failed))
}

/// A statement that builds one object on the shadow, the spec object it builds, and the shadow
/// index name when an index.
type ObjectStatement = (String, String, Option<String>);

/// Creates the shadow relation `shadow` of `t`: whether it was built whole (columns with their
/// defaults and generated expressions, checks) in one statement, and the generated columns
/// Postgres refused (with why) when it was not; Err when not even the plain columns could be built.
fn create_shadow_table(shadow: &str, t: &Table) -> Result<(bool, HashMap<String, String>), String> {
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
    let mut failed: HashMap<String, String> = HashMap::new();
    let in_one = try_sql(&format!("CREATE TABLE {shadow} ({})", whole.join(", "))).is_ok();
    if !in_one {
        if let Err(why) = try_sql(&format!("CREATE TABLE {shadow} ({})", columns(true))) {
            let plain = try_sql(&format!("CREATE TABLE {shadow} ({})", columns(false)));
            plain.map_err(|e| format!("the table's columns could not be built: {e}"))?;
            for c in t.columns.iter().filter(|c| c.generated.is_some()) {
                failed.insert(c.name.as_str().to_string(), why.clone());
            }
        }
    }
    Ok((in_one, failed))
}

/// Every declared object of `t` not already in the shadow relation (built `in_one` or not) as one
/// statement on `shadow`; its indexes are named after `name`.
fn object_statements(
    s: &Schema,
    t: &Table,
    name: &str,
    shadow: &str,
    in_one: bool,
) -> Vec<ObjectStatement> {
    let mut stmts: Vec<ObjectStatement> = vec![];
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
                c.name.as_str().to_string(),
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
            c.name.as_str().to_string(),
            None,
        ));
    }
    for (j, x) in t.indexes.iter().enumerate() {
        let iname = format!("{name}_{j}");
        let sql = crate::schema::plan::index_sql_on(&quote_ident(&iname), shadow, x);
        stmts.push((sql, x.name.as_str().to_string(), Some(iname)));
    }
    if t.has_revos_policy() {
        stmts.push((
            tenant_policy_sql(shadow, t, &s.options),
            Table::policy_name().as_str().to_string(),
            None,
        ));
    }
    stmts
}

/// Runs the statements: tried all at once (one subtransaction), and one by one only when Postgres
/// refuses one of them (each statement in its own subtransaction would cost a subtransaction per
/// object). What was refused goes into `failed` with why; returns the index names built
/// (shadow -> spec).
fn build_objects(
    stmts: &[ObjectStatement],
    failed: &mut HashMap<String, String>,
) -> HashMap<String, String> {
    let all = subtransaction(|| {
        for (sql, _, _) in stmts {
            own_statement(|| Spi::run(sql))?;
        }
        Ok::<_, pgrx::spi::Error>(())
    });
    let mut index_names = HashMap::new();
    for (sql, object, index) in stmts {
        let built = if matches!(all, Ok(Ok(()))) {
            Ok(())
        } else {
            try_sql(sql)
        };
        match (built, index) {
            (Ok(()), Some(shadow_name)) => {
                index_names.insert(shadow_name.clone(), object.clone());
            }
            (Ok(()), None) => {}
            (Err(why), _) => {
                failed.insert(object.clone(), why);
            }
        }
    }
    index_names
}

/// Every shadow read back in one query (see [`DEPARSE_SQL`]).
fn deparse_all(
    built: Vec<((String, String), Result<Built, String>)>,
) -> Vec<((String, String), Result<Declared, String>)> {
    let rels: Vec<String> = built
        .iter()
        .filter_map(|(_, b)| b.as_ref().ok().map(|b| b.0.clone()))
        .collect();
    let mut rows: HashMap<String, Value> = HashMap::new();
    if !rels.is_empty() {
        let saved = with_catalog_search_path();
        let read: Result<Vec<(String, Value)>, pgrx::spi::Error> = Spi::connect(|c| {
            let mut out = vec![];
            for row in c.select(DEPARSE_SQL, None, &[rels.into()])? {
                let rel: String = row.get(1)?.unwrap_or_default();
                let j: JsonB = row.get(2)?.unwrap_or(JsonB(Value::Null));
                out.push((rel, j.0));
            }
            Ok(out)
        });
        restore_search_path(saved);
        rows = read.unwrap_or_default().into_iter().collect();
    }
    built
        .into_iter()
        .map(|(key, b)| {
            let d = b.and_then(|(rel, index_names, failed)| {
                rows.get(&rel)
                    .map(|j| declared_from(j, &index_names, failed))
                    .ok_or_else(|| "the shadow could not be read back".to_string())
            });
            (key, d)
        })
        .collect()
}

fn declared_from(
    j: &Value,
    index_names: &HashMap<String, String>,
    failed: HashMap<String, String>,
) -> Declared {
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
        failed,
    }
}

/// The shadow read back, under `search_path = pg_catalog, pg_temp`. A default is volatile when its
/// expression tree calls a volatile function, directly or through an operator: the `funcid` and
/// `opfuncid` of the stored tree (`pg_depend` records no dependency on built-in functions, so
/// `gen_random_uuid()` or `clock_timestamp()` would not show there).
const DEPARSE_SQL: &str = r#"
SELECT r.rel, jsonb_build_object(
  'defaults', (SELECT jsonb_object_agg(a.attname, pg_get_expr(d.adbin, d.adrelid))
                 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                WHERE d.adrelid = o.oid AND a.attgenerated = ''),
  'generated', (SELECT jsonb_object_agg(a.attname, pg_get_expr(d.adbin, d.adrelid))
                 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                WHERE d.adrelid = o.oid AND a.attgenerated <> ''),
  'volatile', (SELECT jsonb_agg(DISTINCT a.attname)
                 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum,
                      LATERAL regexp_matches(d.adbin::text, ':(?:funcid|opfuncid) ([0-9]+)', 'g') f(m)
                 JOIN pg_proc p ON p.oid = f.m[1]::oid
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

/// For every check whose definition changes or that is NOT VALID, the rows the declared
/// expression rejects (counted: `NOT (expr)`; a NULL result passes a check, as in Postgres).
/// The expression is the caller's, so the count runs as the caller (never as another role) and
/// reads the rows this caller can see; the real ADD / VALIDATE CONSTRAINT still checks every row
/// (and fails the apply, with the SQLSTATE, when one violates it).
fn count_check_violations(s: &Schema, state: &mut CatalogState) {
    for t in &s.tables {
        let Some(sn) = state.tables.get(&t.key()) else {
            continue;
        };
        // the caller's expression runs as the caller: only on a table whose policies are the
        // caller's own, or that has none (else the ADD / VALIDATE CONSTRAINT itself tells)
        if !super::pg_catalog::caller_may_read(t.schema.as_str(), t.name.as_str()) {
            continue;
        }
        let changed: Vec<&Check> = t
            .checks
            .iter()
            .filter(|c| {
                sn.has_constraint(c.name.as_str())
                    && (compare::check(c, sn, sn.declared.as_ref()).differs()
                        || compare::validated(&c.name, sn).differs())
            })
            .collect();
        if changed.is_empty() {
            continue;
        }
        // nor over a table whose parts run code of a role the caller does not trust: planning
        // the count evaluates its index predicates' constant calls with the caller's privileges
        // (a superuser's plan_schema ran a plain role's function so; adversarial review of 1d8f8d6)
        // (in a subtransaction: a lock it cannot take in time leaves the count not made, not
        // the call failed; the locks it takes last until the transaction ends)
        let trusts = subtransaction(|| {
            super::pg_catalog::caller_trusts_code(t.schema.as_str(), t.name.as_str())
        });
        if trusts != Ok(true) {
            continue;
        }
        let mut counts = HashMap::new();
        for c in changed {
            let sql = format!(
                "SELECT count(*) FROM {} WHERE NOT (({}))",
                t.qualified(),
                c.expression
            );
            // The caller's expression runs here: pinned afresh, so that a search_path it sets
            // does not last into revos's next statements.
            let n = subtransaction(|| crate::privilege::pinned(|| Spi::get_one::<i64>(&sql)));
            if let Ok(Ok(Some(n))) = n {
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

/// Runs one statement of revos's own (a shadow's DDL) in a subtransaction: Err says why Postgres
/// refused it.
fn try_sql(sql: &str) -> Result<(), String> {
    match subtransaction(|| own_statement(|| Spi::run(sql))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err((msg, state)) => Err(format!("{msg} (SQLSTATE {state})")),
    }
}

/// The tenant policy's USING and WITH CHECK as declared, for the tables with revos's policy that
/// this apply created (`created`), filled into their snapshots' `declared.policy`: a function
/// called during the apply may have changed the policy it created (contract §11), so verification
/// compares it in full, as on a table that existed. The declared policy is made again on the table
/// itself (the caller just created it; no TEMP privilege needed) in a subtransaction that is always
/// rolled back, and read back by `pg_get_expr` under `search_path = pg_catalog, pg_temp` — once
/// per distinct policy (its statement and the types of the columns it names), not once per table:
/// every tenant table of a payload shares one. Where it cannot be made, `declared.failed` says why
/// (then "cannot compare", never equal).
pub fn declare_created_policies(
    s: &Schema,
    tables: &mut HashMap<(String, String), TableSnapshot>,
    created: impl Fn(&(String, String)) -> bool,
) {
    const ON: &str = "revos_policy_relation";
    // (policy statement on ON, the columns it names with their live types, the table it is made
    // on, the tables it stands for)
    type Group<'a> = (
        String,
        Vec<(String, String)>,
        &'a Table,
        Vec<(String, String)>,
    );
    let mut groups: Vec<Group> = vec![];
    for t in s.tables.iter().filter(|t| t.has_revos_policy()) {
        let key = t.key();
        let Some(sn) = tables.get(&key).filter(|_| created(&key)) else {
            continue;
        };
        let sql = tenant_policy_sql(ON, t, &s.options);
        let cols: Vec<(String, String)> = sn
            .columns
            .iter()
            .filter(|c| sql.contains(&quote_ident(&c.name)))
            .map(|c| (c.name.clone(), c.sql_type.clone()))
            .collect();
        match groups.iter_mut().find(|g| g.0 == sql && g.1 == cols) {
            Some(g) => g.3.push(key),
            None => groups.push((sql, cols, t, vec![key])),
        }
    }
    if groups.is_empty() {
        return;
    }
    let built = rolled_back(|| {
        let mut out = vec![];
        for (_, _, t, _) in &groups {
            let rel = t.qualified();
            let made = try_sql(&format!(
                "DROP POLICY IF EXISTS {} ON {rel}",
                Table::policy_name()
            ))
            .and_then(|_| try_sql(&tenant_policy_sql(&rel, t, &s.options)));
            out.push(made.and_then(|_| {
                let saved = with_catalog_search_path();
                let read = Spi::get_two_with_args::<String, String>(
                    "SELECT pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid) FROM pg_policy p WHERE p.polrelid = $1::regclass AND p.polname = $2",
                    &[rel.as_str().into(), Table::policy_name().as_str().into()],
                );
                restore_search_path(saved);
                read.map_err(|e| format!("the declared policy could not be read back: {e}"))
            }));
        }
        out
    });
    let built = built.unwrap_or_else(|(msg, state)| {
        vec![
            Err(format!(
                "making the declared policy failed: {msg} (SQLSTATE {state})"
            ));
            groups.len()
        ]
    });
    for ((_, _, _, keys), form) in groups.iter().zip(built) {
        for key in keys {
            let Some(sn) = tables.get_mut(key) else {
                continue;
            };
            let d = sn.declared.get_or_insert_with(Declared::default);
            match &form {
                Ok(pair) => d.policy = Some(pair.clone()),
                Err(why) => {
                    d.failed
                        .insert(Table::policy_name().as_str().to_string(), why.clone());
                }
            }
        }
    }
}
