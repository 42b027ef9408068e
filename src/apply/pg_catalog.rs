//! The [`Catalog`] answered by the running server: Postgres' own type parser, Postgres' own SQL
//! parser, and one catalog query per batch of tables.

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgTryBuilder;
use serde_json::Value;
use std::collections::HashMap;
use std::ffi::CString;

use super::row_scan;
use crate::schema::model::*;

pub struct PgCatalog {
    /// `has_rows` is only looked up for tables that lack this column (a tenant retrofit), so that
    /// reading the catalog never scans or waits on a table it does not have to.
    tenant_column: String,
    /// Types resolved so far: a schema repeats a handful of types over many columns.
    types: std::cell::RefCell<HashMap<String, Result<String, String>>>,
    /// Snapshots loaded in one query up front, keyed by (schema, table).
    cache: std::cell::RefCell<HashMap<(String, String), Option<TableSnapshot>>>,
    /// `dependencies::trusted_owners()`, read once, before anything of the payload ran.
    trusted: std::cell::OnceCell<Vec<pg_sys::Oid>>,
}

/// A Postgres error caught while asking the catalog or parser: message and SQLSTATE.
pub use crate::deferred::exec::caught as caught_message;

/// Runs `f` in an internal subtransaction: released when `f` succeeds, rolled back when it raises
/// (the error then comes back as message and SQLSTATE). Catching a Postgres error is only safe
/// together with such a rollback: it releases whatever the failed code held (locks, buffer pins,
/// cache references, memory) and undoes what it wrote.
pub fn subtransaction<R>(f: impl FnOnce() -> R) -> Result<R, (String, String)> {
    in_subtransaction(f, true)
}

/// Runs `f` in a subtransaction that is always rolled back (whatever `f` created is gone);
/// `f`'s result must own its data.
pub fn rolled_back<R>(f: impl FnOnce() -> R) -> Result<R, (String, String)> {
    in_subtransaction(f, false)
}

fn in_subtransaction<R>(f: impl FnOnce() -> R, keep: bool) -> Result<R, (String, String)> {
    unsafe {
        let old_cxt = pg_sys::CurrentMemoryContext;
        let old_owner = pg_sys::CurrentResourceOwner;
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(old_cxt);
        let r = PgTryBuilder::new(std::panic::AssertUnwindSafe(|| Ok(f())))
            .catch_others(|e| Err(caught_message(&e)))
            .execute();
        if keep && r.is_ok() {
            pg_sys::ReleaseCurrentSubTransaction();
        } else {
            pg_sys::RollbackAndReleaseCurrentSubTransaction();
        }
        pg_sys::MemoryContextSwitchTo(old_cxt);
        pg_sys::CurrentResourceOwner = old_owner;
        r
    }
}

impl PgCatalog {
    pub fn new(tenant_column: &str) -> Self {
        PgCatalog {
            tenant_column: tenant_column.to_string(),
            types: Default::default(),
            cache: Default::default(),
            trusted: Default::default(),
        }
    }

    /// Loads the snapshots of many tables with one query (missing tables are remembered as such).
    /// Deparsing a check opens its table, so another session holding one past lock_timeout makes
    /// the read fail: Err is that error (message naming the tables, SQLSTATE), as a value.
    pub fn preload(&self, keys: &[(String, String)]) -> Result<(), (String, String)> {
        let todo: Vec<&(String, String)> = keys
            .iter()
            .filter(|k| !self.cache.borrow().contains_key(*k))
            .collect();
        if todo.is_empty() {
            return Ok(());
        }
        let schemas: Vec<String> = todo.iter().map(|k| k.0.clone()).collect();
        let names: Vec<String> = todo.iter().map(|k| k.1.clone()).collect();
        let found =
            subtransaction(|| load_snapshots(&schemas, &names, Some(&self.tenant_column), false))
                .map_err(|(message, sqlstate)| {
                let tables: Vec<String> = todo.iter().map(|k| format!("{}.{}", k.0, k.1)).collect();
                (
                    format!(
                        "reading the catalog of {} failed: {message}",
                        tables.join(", ")
                    ),
                    sqlstate,
                )
            })?;
        let mut cache = self.cache.borrow_mut();
        for k in todo {
            cache.insert(k.clone(), found.get(k).cloned());
        }
        Ok(())
    }

    pub fn forget(&self) {
        self.cache.borrow_mut().clear();
    }

    /// The count itself (errors raise; `count_rows` runs it in a subtransaction).
    fn count_rows_now(&self, schema: &str, table: &str, null_in: Option<&str>) -> i64 {
        let q = crate::ident::quote_ident;
        let sql = match null_in {
            None => format!("SELECT count(*) FROM {}.{}", q(schema), q(table)),
            Some(c) => format!(
                "SELECT count(*) FROM {}.{} WHERE {} IS NULL",
                q(schema),
                q(table),
                q(c)
            ),
        };
        owner_view(
            schema,
            table,
            |rels| Ok(Some(row_scan::count(rels, null_in))),
            || Spi::get_one::<i64>(&sql),
            not_read(schema, table),
        )
        .unwrap_or_else(|e| pgrx::error!("revos: counting rows of {schema}.{table} failed: {e}"))
        .unwrap_or(0)
    }

    /// The rows whose value the conversion `from` -> `to` changes: converted and back, the value
    /// differs (rounding, truncation); `timestamptz` <-> `timestamp`: every value (its meaning
    /// depends on the TimeZone setting). Between built-in types it is read as the extension's
    /// owner (the casts are Postgres's own); a user type's conversion is read as the caller.
    fn count_changed_now(
        &self,
        schema: &str,
        table: &str,
        column: &str,
        from: &str,
        to: &str,
    ) -> i64 {
        let q = crate::ident::quote_ident;
        let col = q(column);
        let zone = ["timestamp with time zone", "timestamp without time zone"];
        let all = zone.contains(&from) && zone.contains(&to);
        let on = |v: &str| {
            if all {
                "true".to_string()
            } else {
                format!("(({v})::{to})::{from} IS DISTINCT FROM {v}")
            }
        };
        let (changed, condition) = (on(&col), on("v"));
        let sql = format!(
            "SELECT pg_catalog.count(*) FROM {}.{} WHERE {col} IS NOT NULL AND {changed}",
            q(schema),
            q(table)
        );
        let builtin = |t: &str| !t.contains("\".\"");
        let count = || Spi::get_one::<i64>(&sql);
        let n = if builtin(from) && builtin(to) {
            owner_view(
                schema,
                table,
                |rels| Ok(Some(row_scan::count_where(rels, column, &condition))),
                count,
                not_read(schema, table),
            )
        } else if caller_may_read(schema, table)
            && caller_trusts_code(schema, table)
            && types_trusted(&[from, to])
        {
            count()
        } else {
            pgrx::error!("revos: {schema}.{table} is not the caller's and has row-level security: its rows are not read as the caller")
        };
        n.unwrap_or_else(|e| pgrx::error!("revos: counting changed values failed: {e}"))
            .unwrap_or(0)
    }

    fn enum_usage_now(&self, schema: &str, name: &str, removed: &[String]) -> Vec<EnumUse> {
        // Defaults are deparsed schema-qualified (search_path = pg_catalog), so the same text
        // names the recreated type.
        let saved = with_catalog_search_path();
        let cols: Result<Vec<(String, String, String, bool, Option<String>)>, pgrx::spi::Error> =
            Spi::connect(|c| {
                let t = c.select(
                    "SELECT n.nspname::text, c.relname::text, a.attname::text, a.atttypid = t.typarray,
                            pg_catalog.pg_get_expr(d.adbin, d.adrelid)
                       FROM pg_catalog.pg_type t
                       JOIN pg_catalog.pg_namespace tn ON tn.oid = t.typnamespace
                       JOIN pg_catalog.pg_attribute a ON a.atttypid IN (t.oid, t.typarray) AND a.attnum > 0 AND NOT a.attisdropped
                       JOIN pg_catalog.pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p')
                       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                      WHERE tn.nspname = $1 AND t.typname = $2
                      ORDER BY 1, 2, a.attnum",
                    None,
                    &[schema.into(), name.into()],
                )?;
                let mut out = vec![];
                for row in t {
                    out.push((
                        row.get::<String>(1)?.unwrap_or_default(),
                        row.get::<String>(2)?.unwrap_or_default(),
                        row.get::<String>(3)?.unwrap_or_default(),
                        row.get::<bool>(4)?.unwrap_or(false),
                        row.get::<String>(5)?,
                    ));
                }
                Ok(out)
            });
        restore_search_path(saved);
        let cols = cols.unwrap_or_else(|e| pgrx::error!("revos: reading enum usage failed: {e}"));
        let labels = enum_label_oids(schema, name, removed);
        let q = crate::ident::quote_ident;
        cols.into_iter()
            .map(|(s, t, col, array, default)| {
                let test = if array {
                    format!("{}::pg_catalog.text[] OPERATOR(pg_catalog.&&) $1", q(&col))
                } else {
                    format!(
                        "{}::pg_catalog.text OPERATOR(pg_catalog.=) ANY($1)",
                        q(&col)
                    )
                };
                let sql = format!(
                    "SELECT pg_catalog.count(*) FROM {}.{} WHERE {test}",
                    q(&s),
                    q(&t)
                );
                let rows = owner_view(
                    &s,
                    &t,
                    |rels| Ok(Some(row_scan::count_labels(rels, &col, array, &labels))),
                    || Spi::get_one_with_args::<i64>(&sql, &[removed.to_vec().into()]),
                    not_read(&s, &t),
                )
                .unwrap_or_else(|e| pgrx::error!("revos: counting enum values failed: {e}"))
                .unwrap_or(0);
                EnumUse {
                    schema: s,
                    table: t,
                    column: col,
                    array,
                    default,
                    rows,
                }
            })
            .collect()
    }
}

impl Catalog for PgCatalog {
    fn resolve_type(&self, type_text: &str) -> Result<String, String> {
        if let Some(known) = self.types.borrow().get(type_text) {
            return known.clone();
        }
        let resolved = resolve_type_uncached(type_text);
        self.types
            .borrow_mut()
            .insert(type_text.to_string(), resolved.clone());
        resolved
    }

    fn resolve_collation(&self, text: &str) -> Result<String, String> {
        let (schema, name) = match text.split_once('.') {
            Some((s, n)) => (s.trim_matches('"'), n.trim_matches('"')),
            None => ("pg_catalog", text.trim_matches('"')),
        };
        let found: Option<String> = Spi::get_one_with_args(
            "SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.collname)
               FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.collnamespace
              WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.collname OPERATOR(pg_catalog.=) $2
                AND c.collencoding IN (-1, pg_catalog.pg_char_to_encoding(pg_catalog.getdatabaseencoding()))
              LIMIT 1",
            &[schema.into(), name.into()],
        )
        .map_err(|e| e.to_string())?;
        found.ok_or_else(|| {
            format!("no collation {name:?} in schema {schema:?} for this database's encoding")
        })
    }

    fn count_changed(
        &self,
        schema: &str,
        table: &str,
        column: &str,
        from: &str,
        to: &str,
    ) -> Result<i64, String> {
        rolled_back(|| self.count_changed_now(schema, table, column, from, to))
            .map_err(|(message, sqlstate)| format!("{message} (SQLSTATE {sqlstate})"))
    }

    fn check_expression(&self, expr: &str) -> Result<(), String> {
        // Wrapped in parentheses: the parser must read exactly one statement, a bare SELECT with
        // exactly one target and no other clause.
        let sql = CString::new(format!("SELECT ({expr})")).map_err(|_| "NUL byte".to_string())?;
        // Parsed under standard_conforming_strings = on, like apply executes it: with it off,
        // 'a\' || x || ' would be one string literal here and an expression there.
        let scs = unsafe { pg_sys::standard_conforming_strings };
        unsafe { pg_sys::standard_conforming_strings = true };
        PgTryBuilder::new(|| unsafe {
            let list = pg_sys::raw_parser(sql.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
            if list.is_null() || (*list).length != 1 {
                return Err("it is not exactly one statement".to_string());
            }
            let raw = (*(*list).elements).ptr_value as *mut pg_sys::RawStmt;
            let node = (*raw).stmt;
            if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_SelectStmt {
                return Err("it is not an expression".to_string());
            }
            let s = node as *mut pg_sys::SelectStmt;
            let s = &*s;
            let one_target = !s.targetList.is_null() && (*s.targetList).length == 1;
            let bare = s.distinctClause.is_null()
                && s.intoClause.is_null()
                && s.fromClause.is_null()
                && s.whereClause.is_null()
                && s.groupClause.is_null()
                && s.havingClause.is_null()
                && s.windowClause.is_null()
                && s.valuesLists.is_null()
                && s.sortClause.is_null()
                && s.limitOffset.is_null()
                && s.limitCount.is_null()
                && s.lockingClause.is_null()
                && s.withClause.is_null()
                && s.op == pg_sys::SetOperation::SETOP_NONE;
            if !(one_target && bare) {
                return Err("it is more than one expression".to_string());
            }
            // `(a, b)` parses as one implicit row constructor: a list, not one expression.
            let target = (*(*s.targetList).elements).ptr_value as *mut pg_sys::ResTarget;
            let val = (*target).val;
            if !val.is_null() && (*val).type_ == pg_sys::NodeTag::T_RowExpr {
                let row = val as *mut pg_sys::RowExpr;
                if (*row).row_format == pg_sys::CoercionForm::COERCE_IMPLICIT_CAST {
                    return Err("it is a list of expressions, not one".to_string());
                }
            }
            Ok(())
        })
        .catch_others(|e| Err(caught_message(&e).0))
        .finally(|| unsafe { pg_sys::standard_conforming_strings = scs })
        .execute()
    }

    fn untrusted_names(
        &self,
        text: &str,
        ctx: NameContext,
        declared: &[&str],
    ) -> Result<(), String> {
        let trusted = self
            .trusted
            .get_or_init(crate::dependencies::trusted_owners);
        super::expression_names::untrusted(text, ctx, declared, trusted)
    }

    fn untrusted_schema(&self, name: &str) -> Result<(), String> {
        let trusted = self
            .trusted
            .get_or_init(crate::dependencies::trusted_owners);
        crate::dependencies::schema_owner(name, trusted)
    }

    fn untrusted_owner(&self, o: &Owned) -> Result<(), String> {
        let trusted = self
            .trusted
            .get_or_init(crate::dependencies::trusted_owners);
        crate::dependencies::object_owner(o.class, &o.schema, &o.name, trusted, o.as_table)
    }

    fn untrusted_creators(&self, name: &str) -> Result<(), String> {
        let trusted = self
            .trusted
            .get_or_init(crate::dependencies::trusted_owners);
        crate::dependencies::schema_creators(name, trusted)
    }

    fn extension_required_schemas(&self, name: &str) -> Vec<String> {
        crate::dependencies::extension_required_schemas(name)
    }

    fn check_statement(&self, sql: &str, tag: &str) -> Result<(), String> {
        parse_one(sql, tag)
    }

    fn index_method_exists(&self, name: &str) -> Result<bool, String> {
        Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_am WHERE amname = $1 AND amtype = 'i')",
            &[name.into()],
        )
        .map(|b| b.unwrap_or(false))
        .map_err(|e| e.to_string())
    }

    fn table(&self, schema: &str, name: &str) -> Option<TableSnapshot> {
        let key = (schema.to_string(), name.to_string());
        if let Err((message, sqlstate)) = self.preload(std::slice::from_ref(&key)) {
            pgrx::error!("revos: {message} (SQLSTATE {sqlstate})");
        }
        self.cache.borrow().get(&key).cloned().flatten()
    }

    fn count_rows(&self, schema: &str, table: &str, null_in: Option<&str>) -> Result<i64, String> {
        // In a subtransaction: a count the caller may not make (no SELECT privilege, a lock
        // timeout) becomes a `rows_unreadable` issue, not an error of the whole call.
        rolled_back(|| self.count_rows_now(schema, table, null_in))
            .map_err(|(message, sqlstate)| format!("{message} (SQLSTATE {sqlstate})"))
    }

    fn enum_usage(
        &self,
        schema: &str,
        name: &str,
        removed: &[String],
    ) -> Result<Vec<EnumUse>, String> {
        rolled_back(|| self.enum_usage_now(schema, name, removed))
            .map_err(|(message, sqlstate)| format!("{message} (SQLSTATE {sqlstate})"))
    }

    fn enum_labels(&self, schema: &str, name: &str) -> Option<Vec<String>> {
        let labels: Option<Vec<String>> = Spi::get_one_with_args(
            "SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
               FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
               JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid
              WHERE n.nspname = $1 AND t.typname = $2",
            &[schema.into(), name.into()],
        )
        .ok()
        .flatten();
        labels
    }
}

/// Postgres' own type parser, then revos's rendering of the type (`revos.type_sql`).
fn resolve_type_uncached(type_text: &str) -> Result<String, String> {
    let c = CString::new(type_text).map_err(|_| "type contains a NUL byte".to_string())?;
    // parseTypeString raises for unknown types and bad modifiers (which run the type's typmodin):
    // caught inside a subtransaction, so that whatever it held or did is rolled back.
    let parsed = subtransaction(|| unsafe {
        let mut oid = pg_sys::InvalidOid;
        let mut typmod: i32 = -1;
        // PostgreSQL 16 replaced `missing_ok` with a soft-error context; NULL means "raise".
        #[cfg(feature = "pg15")]
        pg_sys::parseTypeString(c.as_ptr(), &mut oid, &mut typmod, false);
        #[cfg(not(feature = "pg15"))]
        pg_sys::parseTypeString(c.as_ptr(), &mut oid, &mut typmod, std::ptr::null_mut());
        (oid, typmod)
    })
    .map_err(|e| e.0)?;
    let (oid, typmod) = parsed;
    // Pseudo-types (record, trigger, void, any*) and shell types cannot be column types.
    let kind: Option<String> = Spi::get_one_with_args(
        "SELECT t.typtype::text || CASE WHEN t.typisdefined THEN '' ELSE '!' END FROM pg_catalog.pg_type t WHERE t.oid = $1",
        &[oid.into()],
    )
    .map_err(|e| e.to_string())?;
    match kind.as_deref() {
        Some("p") => return Err("it is a pseudo-type, not a column type".into()),
        Some(k) if k.ends_with('!') => return Err("it is only a shell type".into()),
        None => return Err("type not found".into()),
        _ => {}
    }
    let rendered: Option<String> = Spi::get_one_with_args(
        "SELECT revos.type_sql($1, $2)",
        &[oid.into(), typmod.into()],
    )
    .map_err(|e| e.to_string())?;
    rendered.ok_or_else(|| "type not found".to_string())
}

/// One query for any number of tables: columns, indexes, constraints, RLS flags, policies,
/// triggers (and their clones on the table's partitions that do not fire), comments and estimated rows, as JSON per table (`json`, not `jsonb`: the text is all
/// that is read, and building it as text was a fifth of the query's time — bench/FINDINGS.md).
/// An estimate of NaN or beyond bigint (`pg_class.reltuples` is a float4 its owner can set through
/// `pg_restore_relation_stats` on PostgreSQL 18) reads as unknown or 9e18, not as an error that
/// stops the apply (the review of 8666076, L1). Only catalogs are read: `pg_get_expr`
/// with a table (generated expressions, policies) and `pg_get_indexdef` open it with ACCESS SHARE, so it runs only
/// when `$3` is true (verify, which holds the table's lock already; `pg_get_indexdef`, about 0.1 ms an
/// index, only for the tables whose `$4` flag is set: those with a deparsed spec side to compare
/// with); plan reads them in
/// `apply::shadow`, in a subtransaction. Defaults name no column: deparsed without the table;
/// `pg_get_constraintdef` reads only catalogs (`pg_get_indexdef` locks the table, like pg_get_expr). [`load_snapshots`]
/// runs it under `search_path = pg_catalog`: every deparsed name is schema-qualified.
const SNAPSHOT_SQL: &str = r#"
SELECT n.nspname::text, c.relname::text, json_build_object(
  'rls_enabled', c.relrowsecurity,
  'rls_forced',  c.relforcerowsecurity,
  'est_rows', CASE WHEN c.reltuples = 'NaN'::float4 OR c.reltuples < 0 THEN NULL
                   WHEN c.reltuples >= 9.0e18 THEN 9000000000000000000::int8
                   ELSE c.reltuples::int8 END,
  'comment', (SELECT ds.description FROM pg_catalog.pg_description ds
               WHERE ds.objoid = c.oid AND ds.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ds.objsubid = 0),
  'columns', coalesce((SELECT json_agg(json_build_array(a.attname::text,
                       CASE WHEN bt.typnamespace = 11 THEN pg_catalog.format_type(a.atttypid, a.atttypmod)
                            ELSE '"' OPERATOR(pg_catalog.||) pg_catalog.replace(bn.nspname, '"', '""') OPERATOR(pg_catalog.||) '"."' OPERATOR(pg_catalog.||) pg_catalog.replace(bt.typname, '"', '""') OPERATOR(pg_catalog.||) '"'
                                 OPERATOR(pg_catalog.||) CASE WHEN a.atttypmod OPERATOR(pg_catalog.>=) 0
                                      THEN pg_catalog.substr(pg_catalog.format_type(bt.oid, a.atttypmod), pg_catalog.length(pg_catalog.format_type(bt.oid, NULL)) OPERATOR(pg_catalog.+) 1)
                                      ELSE '' END
                                 OPERATOR(pg_catalog.||) CASE WHEN bt.oid OPERATOR(pg_catalog.<>) tt.oid THEN '[]' ELSE '' END END,
                       a.attnotnull, a.atthasdef, a.attgenerated <> '',
                       CASE WHEN ad.oid IS NULL THEN NULL
                            WHEN a.attgenerated = '' THEN pg_catalog.pg_get_expr(ad.adbin, 0)
                            WHEN $3 THEN pg_catalog.pg_get_expr(ad.adbin, ad.adrelid) END,
                       (SELECT ds.description FROM pg_catalog.pg_description ds
                         WHERE ds.objoid = c.oid AND ds.classoid = 'pg_catalog.pg_class'::pg_catalog.regclass AND ds.objsubid = a.attnum),
                       a.attidentity::text,
                       CASE WHEN a.attcollation OPERATOR(pg_catalog.<>) tt.typcollation THEN
                         (SELECT pg_catalog.quote_ident(cn.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(cl.collname)
                            FROM pg_catalog.pg_collation cl JOIN pg_catalog.pg_namespace cn ON cn.oid = cl.collnamespace
                           WHERE cl.oid = a.attcollation) END,
                       a.attgenerated::text)
                       ORDER BY a.attnum)
                FROM pg_catalog.pg_attribute a
                JOIN pg_catalog.pg_type tt ON tt.oid = a.atttypid
                JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN tt.typcategory = 'A' AND tt.typelem <> 0 THEN tt.typelem ELSE tt.oid END
                JOIN pg_catalog.pg_namespace bn ON bn.oid = bt.typnamespace
                LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
                WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '[]'),
  'indexes', coalesce((SELECT json_agg(json_build_array(ic.relname::text, i.indisunique, am.amname::text,
                       (SELECT coalesce(json_agg(coalesce(att.attname::text, '') ORDER BY k.ord), '[]')
                          FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
                          LEFT JOIN pg_catalog.pg_attribute att ON att.attrelid = i.indrelid AND att.attnum = k.attnum
                         WHERE k.ord <= i.indnkeyatts),
                       i.indpred IS NOT NULL,
                       EXISTS (SELECT 1 FROM pg_catalog.pg_constraint ico WHERE ico.conindid = i.indexrelid AND ico.conrelid = c.oid),
                       CASE WHEN $3 AND want.index_defs THEN (SELECT pg_catalog.substr(d.def, pg_catalog.strpos(d.def, ' USING ') + 1)
                          FROM (SELECT pg_catalog.pg_get_indexdef(i.indexrelid) AS def) d) END,
                       i.indisvalid, i.indnullsnotdistinct))
                FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
                JOIN pg_catalog.pg_am am ON am.oid = ic.relam WHERE i.indrelid = c.oid), '[]'),
  'constraints', coalesce((SELECT json_agg(json_build_array(co.conname::text, co.contype::text,
                       pg_catalog.pg_get_constraintdef(co.oid),
                       CASE WHEN co.contype = 'f' THEN json_build_array(
                         (SELECT json_agg(fa.attname::text ORDER BY k.ord) FROM unnest(co.conkey) WITH ORDINALITY k(attnum, ord)
                            JOIN pg_catalog.pg_attribute fa ON fa.attrelid = co.conrelid AND fa.attnum = k.attnum),
                         fn.nspname::text, fc.relname::text,
                         (SELECT json_agg(fa.attname::text ORDER BY k.ord) FROM unnest(co.confkey) WITH ORDINALITY k(attnum, ord)
                            JOIN pg_catalog.pg_attribute fa ON fa.attrelid = co.confrelid AND fa.attnum = k.attnum),
                         co.confdeltype::text, co.confupdtype::text,
                         (SELECT coalesce(json_agg(fa.attname::text ORDER BY k.ord), '[]') FROM unnest(co.confdelsetcols) WITH ORDINALITY k(attnum, ord)
                            JOIN pg_catalog.pg_attribute fa ON fa.attrelid = co.conrelid AND fa.attnum = k.attnum),
                         co.confmatchtype::text) END,
                       (SELECT coalesce(json_agg(ka.attname::text ORDER BY k.ord), '[]') FROM unnest(co.conkey) WITH ORDINALITY k(attnum, ord)
                          JOIN pg_catalog.pg_attribute ka ON ka.attrelid = co.conrelid AND ka.attnum = k.attnum),
                       co.convalidated, co.condeferrable, co.condeferred))
                FROM pg_catalog.pg_constraint co
                LEFT JOIN pg_catalog.pg_class fc ON fc.oid = co.confrelid
                LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace
                WHERE co.conrelid = c.oid), '[]'),
  'policies', coalesce((SELECT json_agg(json_build_array(p.polname::text, p.polcmd::text,
                       CASE WHEN $3 THEN pg_catalog.pg_get_expr(p.polqual, p.polrelid) END,
                       CASE WHEN $3 THEN pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid) END,
                       p.polpermissive,
                       (SELECT coalesce(json_agg(CASE WHEN r.role = 0 THEN 'public' ELSE pr.rolname::text END ORDER BY 1), '[]')
                          FROM unnest(p.polroles) AS r(role) LEFT JOIN pg_catalog.pg_roles pr ON pr.oid = r.role)))
                FROM pg_catalog.pg_policy p WHERE p.polrelid = c.oid), '[]'),
  'triggers', coalesce((SELECT json_agg(json_build_array(t.tgname::text,
                       pg_catalog.replace(pg_catalog.pg_get_triggerdef(t.oid),
                                          ' ON ' OPERATOR(pg_catalog.||) c.oid::pg_catalog.regclass::pg_catalog.text OPERATOR(pg_catalog.||) ' ',
                                          ' ON <table> ')
                       OPERATOR(pg_catalog.||) CASE t.tgenabled WHEN 'D' THEN ' -- DISABLED'
                                                                WHEN 'R' THEN ' -- ENABLE REPLICA' ELSE '' END))
                FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = c.oid AND NOT t.tgisinternal), '[]'),
  'triggers_always', coalesce((SELECT json_agg(t.tgname::text ORDER BY t.tgname) FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgenabled = 'A'), '[]'),
  'partition_triggers', CASE WHEN c.relhassubclass THEN coalesce((SELECT json_agg(json_build_array(pn.nspname::text,
                       pc.relname::text, x.trigger, x.tgenabled::text, x.clone, x.level, qn.nspname::text, qc.relname::text)
                       ORDER BY x.level, pn.nspname, pc.relname, x.trigger)
                FROM (SELECT pt.tgrelid, t.tgname::text AS trigger, pt.tgenabled, pt.tgname::text AS clone, 1 AS level,
                             c.oid AS parent
                        FROM pg_catalog.pg_inherits i
                        JOIN pg_catalog.pg_trigger pt ON pt.tgrelid = i.inhrelid AND pt.tgenabled IN ('D', 'R', 'A')
                        JOIN pg_catalog.pg_trigger t ON t.oid = pt.tgparentid AND t.tgrelid = c.oid
                       WHERE i.inhparent = c.oid
                      UNION ALL
                      -- the clone's parent clone by a scalar subquery: joined, the planner looped over
                      -- every trigger and scanned pg_inherits for each (5 s at 3,000 partitions)
                      SELECT p2.tgrelid, t.tgname::text, p2.tgenabled, p2.tgname::text, 2, i.inhrelid
                        FROM pg_catalog.pg_inherits i
                        JOIN pg_catalog.pg_inherits j ON j.inhparent = i.inhrelid
                        JOIN pg_catalog.pg_trigger p2 ON p2.tgrelid = j.inhrelid AND p2.tgenabled IN ('D', 'R', 'A')
                        JOIN pg_catalog.pg_trigger t
                          ON t.oid = (SELECT p1.tgparentid FROM pg_catalog.pg_trigger p1 WHERE p1.oid = p2.tgparentid)
                       WHERE i.inhparent = c.oid AND t.tgrelid = c.oid) x
                JOIN pg_catalog.pg_class pc ON pc.oid = x.tgrelid
                JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
                JOIN pg_catalog.pg_class qc ON qc.oid = x.parent
                JOIN pg_catalog.pg_namespace qn ON qn.oid = qc.relnamespace), '[]') ELSE '[]' END,
  'children', CASE WHEN c.relhassubclass THEN coalesce((SELECT json_agg(json_build_array(pn.nspname::text,
                       pc.relname::text, pc.relrowsecurity, pc.relispartition, k.level, qn.nspname::text, qc.relname::text,
                       (SELECT coalesce(json_agg(DISTINCT CASE WHEN a.grantee = 0 THEN NULL
                                                 ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END), '[]')
                          FROM pg_catalog.aclexplode(pc.relacl) a WHERE a.grantee <> pc.relowner))
                       ORDER BY k.level, pn.nspname, pc.relname)
                FROM (SELECT i.inhrelid AS relid, 1 AS level, i.inhparent AS parent
                        FROM pg_catalog.pg_inherits i WHERE i.inhparent = c.oid
                      UNION ALL
                      SELECT j.inhrelid, 2, j.inhparent
                        FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_inherits j ON j.inhparent = i.inhrelid
                       WHERE i.inhparent = c.oid) k
                JOIN pg_catalog.pg_class pc ON pc.oid = k.relid
                JOIN pg_catalog.pg_namespace pn ON pn.oid = pc.relnamespace
                JOIN pg_catalog.pg_class qc ON qc.oid = k.parent
                JOIN pg_catalog.pg_namespace qn ON qn.oid = qc.relnamespace), '[]') ELSE '[]' END,
  'rules', CASE WHEN c.relhasrules THEN coalesce((SELECT json_agg(r.rulename::text ORDER BY r.rulename)
                FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid), '[]') ELSE '[]' END)
FROM unnest($1::text[], $2::text[], $4::boolean[]) AS want(schema_name, table_name, index_defs)
JOIN pg_catalog.pg_namespace n ON n.nspname = want.schema_name
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = want.table_name AND c.relkind IN ('r', 'p')
"#;

pub fn load_snapshots(
    schemas: &[String],
    names: &[String],
    rows_unless_column: Option<&str>,
    with_policy_expressions: bool,
) -> HashMap<(String, String), TableSnapshot> {
    let index_defs = vec![with_policy_expressions; names.len()];
    load_snapshots_with(
        schemas,
        names,
        rows_unless_column,
        with_policy_expressions,
        &index_defs,
    )
}

/// [`load_snapshots`] with `pg_get_indexdef` per table: `index_defs[i]` for `names[i]` (only
/// when `with_policy_expressions` too).
pub fn load_snapshots_with(
    schemas: &[String],
    names: &[String],
    rows_unless_column: Option<&str>,
    with_policy_expressions: bool,
    index_defs: &[bool],
) -> HashMap<(String, String), TableSnapshot> {
    let saved_path = with_catalog_search_path();
    // its plan kept for the backend: verification reads it again while the apply's locks are held
    let rows: Vec<(String, String, Value)> = Spi::connect(|_| unsafe {
        crate::dependencies::kept::rows(
            SNAPSHOT_SQL,
            &[
                (schemas.to_vec().into_datum(), pg_sys::TEXTARRAYOID),
                (names.to_vec().into_datum(), pg_sys::TEXTARRAYOID),
                (with_policy_expressions.into_datum(), pg_sys::BOOLOID),
                (index_defs.to_vec().into_datum(), pg_sys::BOOLARRAYOID),
            ],
            crate::dependencies::kept::Snap::Statement,
            3,
        )
    })
    .into_iter()
    .map(|mut r| {
        let j = r.pop().flatten().map_or(Value::Null, |t| {
            serde_json::from_str(&t)
                .unwrap_or_else(|e| pgrx::error!("revos: reading the catalog failed: {e}"))
        });
        let n = r.pop().flatten().unwrap_or_default();
        let s = r.pop().flatten().unwrap_or_default();
        (s, n, j)
    })
    .collect();
    restore_search_path(saved_path);
    let mut map = HashMap::new();
    for (s, n, j) in rows {
        let mut snap = parse_snapshot(&j);
        if let Some(col) = rows_unless_column {
            if snap.column(col).is_none() {
                snap.has_rows = table_has_rows(&s, &n);
            }
        }
        map.insert((s, n), snap);
    }
    map
}

/// The `pg_enum` OIDs of `schema.name`'s labels among `labels` (an enum datum holds its label's OID).
fn enum_label_oids(schema: &str, name: &str, labels: &[String]) -> Vec<pg_sys::Oid> {
    Spi::get_one_with_args::<Vec<pg_sys::Oid>>(
        "SELECT pg_catalog.array_agg(e.oid) FROM pg_catalog.pg_enum e
           JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) e.enumtypid
           JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) t.typnamespace
          WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND t.typname OPERATOR(pg_catalog.=) $2
            AND e.enumlabel OPERATOR(pg_catalog.=) ANY ($3::pg_catalog.name[])",
        &[schema.into(), name.into(), labels.to_vec().into()],
    )
    .unwrap_or_else(|e| pgrx::error!("revos: reading enum labels failed: {e}"))
    .unwrap_or_default()
}

fn table_has_rows(schema: &str, name: &str) -> bool {
    let sql = format!(
        "SELECT EXISTS (SELECT 1 FROM {}.{})",
        crate::ident::quote_ident(schema),
        crate::ident::quote_ident(name)
    );
    // as the extension's owner: the caller's row-level security must not hide the rows that
    // decide whether a tenant backfill is required
    // (not readable as the owner and hidden from the caller: counted as having rows, the
    // conservative answer — a retrofit then asks for backfill_tenant)
    owner_view(
        schema,
        name,
        |rels| Ok(Some(row_scan::any(rels))),
        || Spi::get_one::<bool>(&sql),
        |_| Ok(Some(true)),
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Whether revos may run a query of the caller's (an expression of the payload's) on
/// `schema.table` as the caller: the caller owns it, or it has no row-level security. Otherwise
/// reading it would run its policies — another role's code — with the caller's privileges.
pub fn caller_may_read(schema: &str, table: &str) -> bool {
    Spi::get_one_with_args::<bool>(
        "SELECT c.relowner OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r
                                                    WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
                OR NOT c.relrowsecurity
           FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
          WHERE n.nspname OPERATOR(pg_catalog.=) $1 AND c.relname OPERATOR(pg_catalog.=) $2",
        &[schema.into(), table.into()],
    )
    .ok()
    .flatten()
    .unwrap_or(false)
}

/// Reads a count of revos's own on `schema.table` so that the caller's row-level security hides
/// no row from it, and no code of the table's owner runs with anyone's privileges:
/// `here(relations)` scans the rows without a planner (`row_scan`; the sixth adversarial review
/// made an owner's `IMMUTABLE` function run as a superuser while a count was planned, around the
/// check that was to prevent it). A table with a foreign table among its partitions or children
/// is counted by `f` as the caller (reading it as the owner would use the owner's user mapping on
/// a remote server); one Citus places, by `f` as in [`elsewhere`].
fn owner_view<R>(
    schema: &str,
    table: &str,
    here: impl FnOnce(&[pg_sys::Oid]) -> R,
    f: impl FnOnce() -> R,
    hidden: impl FnOnce(&str) -> R,
) -> R {
    match row_scan::locate(schema, table) {
        row_scan::Found::Here(rels) => here(&rels),
        row_scan::Found::Missing => f(),
        row_scan::Found::Elsewhere(rels, foreign) => {
            elsewhere(schema, table, &rels, foreign, f, hidden)
        }
    }
}

/// A count whose rows Citus holds: planned, as the extension's owner only when no part of the
/// table, of its partitions or of its partition ancestors depends on code of a role other than a
/// superuser (`dependencies::refused_code`, which locks them all first and reads the catalogs
/// under the latest snapshot), with `constraint_exclusion` pinned (`as_extension_owner`);
/// otherwise as the caller when that code is the caller's own and no row-level security hides
/// rows from it; else not at all: `hidden` says what to do without it.
fn elsewhere<R>(
    schema: &str,
    table: &str,
    oids: &[pg_sys::Oid],
    foreign: bool,
    f: impl FnOnce() -> R,
    hidden: impl FnOnce(&str) -> R,
) -> R {
    let mut refused =
        crate::dependencies::refused_code_now(oids, Some(&crate::dependencies::superusers()));
    // under those locks the name must still be the table checked
    if row_scan::relation(schema, table) != oids.first().copied() {
        refused.push(format!(
            "{schema}.{table} was replaced while it was checked"
        ));
    }
    // a foreign table is never read as the extension's owner (its user mapping would be used)
    if refused.is_empty() && !foreign {
        return crate::privilege::as_extension_owner(f);
    }
    // the caller's own (or trusted) code runs as the caller; anyone else's is not run at all
    let mut by_caller = crate::dependencies::refused_code_now(oids, None);
    by_caller.extend(
        refused
            .iter()
            .filter(|r| r.ends_with("while it was checked"))
            .cloned(),
    );
    match by_caller.first() {
        None if caller_may_read(schema, table) => f(),
        None => hidden(
            refused
                .first()
                .map_or("row-level security hides rows from the caller", |r| r),
        ),
        Some(why) => hidden(why),
    }
}

/// Whether every part of `schema.table`, of its descendants and of its partition ancestors
/// depends only on code of roles the caller trusts (itself, its roles, superusers): a query the
/// caller plans over it (a check's violations, a user type's conversion) then runs nobody else's
/// code with the caller's privileges (the adversarial review of 1d8f8d6: a superuser's
/// `plan_schema` counted a check's violations over a plain role's table with an index predicate
/// calling that role's function). Checked under the locks `dependencies` takes.
pub fn caller_trusts_code(schema: &str, table: &str) -> bool {
    let oids = match row_scan::locate(schema, table) {
        row_scan::Found::Here(o) | row_scan::Found::Elsewhere(o, _) => o,
        row_scan::Found::Missing => return true,
    };
    // under the locks the check took, the name must still be the table checked (a schema or
    // table swapped in meanwhile would be what the caller's query reads)
    crate::dependencies::refused_code_now(&oids, None).is_empty()
        && row_scan::relation(schema, table) == oids.first().copied()
}

/// Whether each of `types` (SQL type names, as the plan writes them) is owned by a role the caller
/// trusts, and a domain's base type too: a type's input, output and cast functions, and a domain's
/// checks, run in a conversion.
fn types_trusted(types: &[&str]) -> bool {
    let trusted = crate::dependencies::trusted_owners();
    types.iter().all(|t| {
        Spi::get_one_with_args::<bool>(
            "SELECT y.typowner OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[])
                    AND (y.typbasetype OPERATOR(pg_catalog.=) 0::pg_catalog.oid
                         OR (SELECT b.typowner FROM pg_catalog.pg_type b WHERE b.oid OPERATOR(pg_catalog.=) y.typbasetype)
                            OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[]))
               FROM pg_catalog.pg_type y WHERE y.oid OPERATOR(pg_catalog.=) pg_catalog.to_regtype($1)",
            &[(*t).into(), trusted.clone().into()],
        )
        .ok()
        .flatten()
        .unwrap_or(false)
    })
}

/// `owner_view`'s answer for a count that can be read neither as the extension's owner nor by
/// the caller: an error (the count's subtransaction reports the rows as not counted).
fn not_read<'a, R>(schema: &'a str, table: &'a str) -> impl FnOnce(&str) -> R + 'a {
    move |why: &str| {
        pgrx::error!(
            "revos: the rows of {schema}.{table} are not counted: {why} (read as the extension's owner, planning the count would run it with a superuser's rights; and row-level security hides rows from the caller)"
        )
    }
}

/// Sets `search_path = pg_catalog, pg_temp` for this transaction and returns the previous value:
/// under it Postgres deparses every name outside pg_catalog schema-qualified (pg_temp explicitly
/// last, so a temporary table or domain named like a catalog or a core type changes nothing).
pub fn with_catalog_search_path() -> Option<String> {
    let saved: Option<String> = Spi::get_one("SELECT pg_catalog.current_setting('search_path')")
        .ok()
        .flatten();
    Spi::run("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)")
        .unwrap_or_else(|e| pgrx::error!("revos: setting search_path failed: {e}"));
    saved
}

pub fn restore_search_path(saved: Option<String>) {
    Spi::run_with_args(
        "SELECT pg_catalog.set_config('search_path', $1, true)",
        &[saved.unwrap_or_default().into()],
    )
    .unwrap_or_else(|e| pgrx::error!("revos: restoring search_path failed: {e}"));
}

fn parse_snapshot(j: &Value) -> TableSnapshot {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let os = |v: &Value| v.as_str().map(str::to_string);
    let b = |v: &Value| v.as_bool().unwrap_or(false);
    let ch = |v: &Value| v.as_str().and_then(|x| x.chars().next()).unwrap_or('?');
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(s).collect())
            .unwrap_or_default()
    };
    let arr = |k: &str| {
        j.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    TableSnapshot {
        rls_enabled: b(&j["rls_enabled"]),
        rls_forced: b(&j["rls_forced"]),
        est_rows: j["est_rows"].as_i64(),
        comment: os(&j["comment"]),
        columns: arr("columns")
            .iter()
            .map(|c| {
                let generated = b(&c[4]);
                ColumnSnapshot {
                    name: s(&c[0]),
                    sql_type: s(&c[1]),
                    not_null: b(&c[2]),
                    has_default: b(&c[3]) && !generated,
                    generated,
                    default: if generated { None } else { os(&c[5]) },
                    expression: if generated { os(&c[5]) } else { None },
                    comment: os(&c[6]),
                    identity: c[7].as_str().and_then(|x| x.chars().next()),
                    collation: os(&c[8]),
                    generated_kind: c[9].as_str().and_then(|x| x.chars().next()),
                }
            })
            .collect(),
        indexes: arr("indexes")
            .iter()
            .map(|i| IndexSnapshot {
                name: s(&i[0]),
                unique: b(&i[1]),
                method: s(&i[2]),
                columns: names(&i[3]),
                partial: b(&i[4]),
                constraint: b(&i[5]),
                definition: os(&i[6]),
                invalid: i[7].as_bool() == Some(false),
                // read, never assumed: a value that is not `false` is not the declared form
                nulls_not_distinct: i[8].as_bool() != Some(false),
            })
            .collect(),
        constraints: arr("constraints")
            .iter()
            .map(|c| ConstraintSnapshot {
                name: s(&c[0]),
                kind: ch(&c[1]),
                definition: os(&c[2]),
                foreign_key: c[3].as_array().map(|f| ForeignKeySnapshot {
                    columns: names(&f[0]),
                    target_schema: s(&f[1]),
                    target_table: s(&f[2]),
                    target_columns: names(&f[3]),
                    on_delete: ch(&f[4]),
                    on_update: ch(&f[5]),
                    delete_set_columns: names(&f[6]),
                    match_type: ch(&f[7]),
                }),
                columns: names(&c[4]),
                not_valid: c[5].as_bool() == Some(false),
                deferrable: b(&c[6]),
                deferred: b(&c[7]),
            })
            .collect(),
        policies: policies(&arr("policies")),
        triggers: arr("triggers").iter().map(|t| s(&t[0])).collect(),
        trigger_defs: arr("triggers")
            .iter()
            .map(|t| (s(&t[0]), s(&t[1])))
            .collect(),
        triggers_always: names(&j["triggers_always"]),
        partition_triggers: partition_triggers(&arr("partition_triggers")),
        children: children(&arr("children")),
        rules: names(&j["rules"]),
        has_rows: false,
        declared: None,
        unreadable: None,
    }
}

/// The snapshot's `partition_triggers`: `[schema, partition, trigger, tgenabled, clone's name, level,
/// parent's schema, parent's name]` each.
fn partition_triggers(rows: &[Value]) -> Vec<PartitionTriggerState> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    rows.iter()
        .map(|t| PartitionTriggerState {
            schema: s(&t[0]),
            partition: s(&t[1]),
            trigger: s(&t[2]),
            enabled: s(&t[3]).chars().next().unwrap_or('?'),
            clone: s(&t[4]),
            level: t[5].as_i64().unwrap_or(1),
            parent: (s(&t[6]), s(&t[7])),
        })
        .collect()
}

/// The snapshot's `policies`: `[name, polcmd, USING, WITH CHECK, permissive, roles]` each.
fn policies(rows: &[Value]) -> Vec<PolicySnapshot> {
    let os = |v: &Value| v.as_str().map(str::to_string);
    rows.iter()
        .map(|p| PolicySnapshot {
            name: p[0].as_str().unwrap_or_default().to_string(),
            command: p[1].as_str().and_then(|x| x.chars().next()).unwrap_or('?'),
            using: os(&p[2]),
            with_check: os(&p[3]),
            permissive: p[4].as_bool().unwrap_or(false),
            roles: p[5]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|r| r.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// The snapshot's `children`: `[schema, name, relrowsecurity, relispartition, level, parent's
/// schema, parent]` each.
fn children(rows: &[Value]) -> Vec<ChildTable> {
    let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
    rows.iter()
        .map(|t| ChildTable {
            schema: s(&t[0]),
            name: s(&t[1]),
            rls_enabled: t[2].as_bool().unwrap_or(false),
            partition: t[3].as_bool().unwrap_or(false),
            level: t[4].as_i64().unwrap_or(1),
            parent: (s(&t[5]), s(&t[6])),
            // PUBLIC comes as null: a role may be named "PUBLIC"
            grantees: t[7]
                .as_array()
                .into_iter()
                .flatten()
                .map(|g| g.as_str().map(str::to_string))
                .collect(),
        })
        .collect()
}

/// Whether Postgres' parser reads `sql` as exactly one statement whose node is `tag` (under
/// `standard_conforming_strings = on`, as apply runs it).
pub fn parse_one(sql: &str, tag: &str) -> Result<(), String> {
    use pg_sys::NodeTag::*;
    let want = match tag {
        "CreateExtensionStmt" => T_CreateExtensionStmt,
        "CreateSchemaStmt" => T_CreateSchemaStmt,
        "CreateSeqStmt" => T_CreateSeqStmt,
        "CreateDomainStmt" => T_CreateDomainStmt,
        "CreateFunctionStmt" => T_CreateFunctionStmt,
        "DefineStmt" => T_DefineStmt,
        "ViewStmt" => T_ViewStmt,
        "CreateTableAsStmt" => T_CreateTableAsStmt,
        "CreateTrigStmt" => T_CreateTrigStmt,
        "CreatePolicyStmt" => T_CreatePolicyStmt,
        "GrantStmt" => T_GrantStmt,
        "CreateStmt" => T_CreateStmt,
        other => return Err(format!("no statement kind {other}")),
    };
    let c = std::ffi::CString::new(sql).map_err(|_| "NUL byte".to_string())?;
    let scs = unsafe { pg_sys::standard_conforming_strings };
    unsafe { pg_sys::standard_conforming_strings = true };
    let r = subtransaction(|| unsafe {
        let list = pg_sys::raw_parser(c.as_ptr(), pg_sys::RawParseMode::RAW_PARSE_DEFAULT);
        if list.is_null() || (*list).length != 1 {
            return Err("it is not exactly one statement".to_string());
        }
        let raw = (*(*list).elements).ptr_value as *mut pg_sys::RawStmt;
        let node = (*raw).stmt;
        if node.is_null() || (*node).type_ != want {
            return Err(format!("it is not a {tag}"));
        }
        Ok(())
    });
    unsafe { pg_sys::standard_conforming_strings = scs };
    match r {
        Ok(v) => v,
        Err((m, _)) => Err(m),
    }
}
