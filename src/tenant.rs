//! `revos.set_tenant(text)`: the transaction's tenant (issue 20: tenant mistakes used to surface
//! later as generic errors).
//!
//! * It refuses (22023) a tenant the tables cannot hold: the tenant types in use are read from the
//!   catalog — the columns whose default calls `revos.current_tenant_id()` (revos's tenant column
//!   of every tenant table, `pg_depend` of the default), by type — and the value must be valid
//!   input for each of them (`schema::tenancy::accepts`: PostgreSQL's own `uuid_in`, `int8in`),
//!   since every tenant policy casts `current_tenant_id()` to its table's type and a value that
//!   does not cast makes every query on those tables fail. A database without tenant tables
//!   accepts any value (up to 200 characters, as before).
//! * It warns when called outside a transaction block: `SET LOCAL` then lasts only until the
//!   statement ends, and the next statement sees no tenant.
//! * Then `app.current_tenant_id` for the transaction, as `SET LOCAL` sets it (through the GUC API,
//!   no statement); on Citus, where `SET LOCAL` statements are what it propagates to the workers,
//!   `SET LOCAL citus.propagate_set_commands = 'local'` and `SET LOCAL app.current_tenant_id` as
//!   statements, as before.
//!
//! Runs as the caller (SECURITY INVOKER) under the pinned search_path; reads only the catalog (one
//! query, planned once per backend), and keeps what it read until PostgreSQL signals a change
//! that could alter it (`register_forget`).

use pgrx::prelude::*;

use crate::ident::quote_literal;
use crate::schema::tenancy::accepts;

/// The longest tenant id set_tenant takes (characters).
pub const MAX_TENANT_CHARS: usize = 200;

/// `set_tenant(tenant)`: checks, warns, sets; returns the tenant.
pub fn set(tenant: Option<&str>) -> Option<String> {
    let value = tenant.unwrap_or_default();
    if value.chars().count() > MAX_TENANT_CHARS {
        refuse("revos: tenant id is longer than 200 characters".into());
    }
    if !value.is_empty() {
        check_against_tables(value);
    }
    if !unsafe { pg_sys::IsTransactionBlock() } {
        pgrx::warning!(
            "revos.set_tenant: called outside a transaction block, so the tenant lasts only until this statement ends; the next statement sees no tenant. Call it after BEGIN, in the transaction that reads and writes"
        );
    }
    // Citus defines its settings when its library loads (a read of the GUC table, no SQL)
    if !unsafe { pg_sys::GetConfigOption(c"citus.propagate_set_commands".as_ptr(), true, false) }
        .is_null()
    {
        // Citus propagates SET LOCAL to its workers from the statement (its utility hook): the
        // statements, as before
        Spi::run("SET LOCAL citus.propagate_set_commands = 'local'")
            .unwrap_or_else(|e| pgrx::error!("revos: set_tenant: {e}"));
        Spi::run(&format!(
            "SET LOCAL app.current_tenant_id = {}",
            literal(value)
        ))
        .unwrap_or_else(|e| pgrx::error!("revos: set_tenant: {e}"));
    } else {
        crate::privilege::set_local(TENANT_SETTING, value);
    }
    tenant.map(str::to_string)
}

/// The setting the tenant is kept in for the transaction (read by `revos.current_tenant_id()`).
const TENANT_SETTING: &std::ffi::CStr = c"app.current_tenant_id";

/// Refuses a tenant that some tenant table's type cannot hold, naming the type and a table.
fn check_against_tables(value: &str) {
    for (type_name, table, tables) in tenant_types() {
        if accepts(&type_name, value) == Some(false) {
            refuse(format!(
                "revos: set_tenant: {value:?} is not a valid {type_name}: the tenant tables of this database hold a {type_name} tenant ({table}{}), and their policy casts the tenant to it",
                if tables > 1 {
                    format!(" and {} more", tables - 1)
                } else {
                    String::new()
                }
            ));
        }
    }
}

/// The tenant types in use: (type as `format_type` names it, one table, how many tables).
/// Only the tables revos manages (revos.managed_tables, written only by revos) count: any role can
/// create a table, or a temporary one, whose default calls `revos.current_tenant_id()`, and would
/// otherwise decide the tenant type for everyone (and have set_tenant name it). The registry is
/// read as the extension's owner (a fixed query under the pinned search_path; docs/security.md).
///
/// Kept per backend until PostgreSQL signals a change that could alter it ([`forget`]): the
/// query read ~15 catalog relations on every call — set_tenant runs once per request — and the
/// request's next statements were slower after it (bench/FINDINGS.md, P3). The answer is the
/// same for every caller (it is read as the extension's owner).
fn tenant_types() -> Vec<(String, String, i64)> {
    register_forget();
    if let Some(known) = KNOWN.with(|k| k.borrow().clone()) {
        return known;
    }
    let before = GENERATION.with(std::cell::Cell::get);
    // Kept only when nothing was forgotten while it was read, and it was read under a snapshot
    // newer than every change already forgotten: never a transaction's snapshot (REPEATABLE READ,
    // SERIALIZABLE: read under it, as before, and not kept), which may predate them (the review
    // of 9b59286, 1).
    let repeatable = unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32;
    let read = if repeatable {
        crate::privilege::as_extension_owner(tenant_types_of_managed_tables)
    } else {
        read_now()
    };
    if GENERATION.with(std::cell::Cell::get) == before && !repeatable {
        KNOWN.with(|k| *k.borrow_mut() = Some(read.clone()));
    }
    read
}

/// The tenant types under a snapshot taken now: the read-only query runs under the active
/// snapshot, which is the calling statement's (taken before an invalidation this backend may
/// have processed since); a subtransaction with an id gets a new one from SPI anyway.
fn read_now() -> Vec<(String, String, i64)> {
    unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetLatestSnapshot()) };
    let read = crate::privilege::as_extension_owner(tenant_types_of_managed_tables);
    // popped on success only: an error aborts the (sub)transaction, whose cleanup pops what it
    // pushed (SPI's own snapshot may be on top of it then)
    unsafe { pg_sys::PopActiveSnapshot() };
    read
}

thread_local! {
    /// [`tenant_types`] as last read, until [`forget`].
    static KNOWN: std::cell::RefCell<Option<Vec<(String, String, i64)>>> =
        const { std::cell::RefCell::new(None) };
    /// How many times [`forget`] ran (a read that saw it change is not kept).
    static GENERATION: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    static REGISTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Forgets the tenant types on every invalidation that could change them: any relation's
/// (a table created, dropped, renamed, a column's type or default changed — every one sends
/// it; and revos.managed_tables', which apply sends whenever it writes the registry; through
/// revos's one relcache callback, `crate::invalidation`), a function's
/// (`revos.current_tenant_id()` dropped and created again), a type's or a schema's (the names
/// `format_type` prints). Over-eager on purpose: any relation's invalidation (VACUUM's
/// statistics too) costs one read of the query, as every call did before. A backend processes
/// another session's invalidations when its transaction starts or it takes a lock: within one
/// transaction, set_tenant answers from what it kept (another session's commit is seen from the
/// next transaction on); rows written into the registry other than by apply (by hand, a
/// data-only restore, logical replication) are seen at the next invalidation.
fn register_forget() {
    if REGISTERED.with(std::cell::Cell::get) {
        return;
    }
    crate::invalidation::on_relation(forget_relation);
    unsafe {
        for cache in [
            pg_sys::SysCacheIdentifier::PROCOID,
            pg_sys::SysCacheIdentifier::TYPEOID,
            pg_sys::SysCacheIdentifier::NAMESPACEOID,
        ] {
            pg_sys::CacheRegisterSyscacheCallback(
                cache as i32,
                Some(forget_syscache),
                pg_sys::Datum::from(0usize),
            );
        }
    }
    REGISTERED.with(|r| r.set(true));
}

fn forget() {
    GENERATION.with(|g| g.set(g.get() + 1));
    KNOWN.with(|k| *k.borrow_mut() = None);
}

fn forget_relation(_relid: pg_sys::Oid) {
    forget();
}

#[pg_guard]
unsafe extern "C-unwind" fn forget_syscache(
    _arg: pg_sys::Datum,
    _cache: std::ffi::c_int,
    _hash: u32,
) {
    forget();
}

const TENANT_TYPES_SQL: &str = "SELECT pg_catalog.format_type(a.atttypid, NULL) AS t,
        pg_catalog.min(ad.adrelid::pg_catalog.regclass::pg_catalog.text),
        pg_catalog.count(DISTINCT ad.adrelid)
   FROM pg_catalog.pg_depend d
   JOIN pg_catalog.pg_attrdef ad ON ad.oid OPERATOR(pg_catalog.=) d.objid
   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) ad.adrelid
                                AND a.attnum OPERATOR(pg_catalog.=) ad.adnum
   JOIN revos.managed_tables mt ON mt.rel::pg_catalog.oid OPERATOR(pg_catalog.=) ad.adrelid
  WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass
    AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
    AND d.refobjid OPERATOR(pg_catalog.=) (
        SELECT p.oid FROM pg_catalog.pg_proc p
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
         WHERE n.nspname OPERATOR(pg_catalog.=) 'revos'
           AND p.proname OPERATOR(pg_catalog.=) 'current_tenant_id'
           AND p.pronargs OPERATOR(pg_catalog.=) 0)
  GROUP BY 1 ORDER BY 1";

thread_local! {
    /// [`TENANT_TYPES_SQL`], planned once per backend (a four-way catalog join planned on every
    /// call was most of set_tenant's time, and left the next query of the transaction ~60 µs
    /// slower: bench/FINDINGS.md). The plan cache revalidates it when what it reads changes (the
    /// extension dropped and created again included: its names are parsed again).
    static TENANT_TYPES: std::cell::RefCell<Option<pgrx::spi::OwnedPreparedStatement>> =
        const { std::cell::RefCell::new(None) };
}

fn tenant_types_of_managed_tables() -> Vec<(String, String, i64)> {
    // the function is found by name in the query, on every execution: a constant OID in the kept
    // plan (a `regprocedure` literal) is not revalidated by the plan cache, and a function dropped
    // and created again kept its old OID there (the review of c6eb313, A1); a parameter made the
    // plan cache plan it again for the first calls of each backend, and on every call under
    // `plan_cache_mode = force_custom_plan` (the review of 45fb852)
    Spi::connect(|c| {
        TENANT_TYPES.with(|slot| {
            let mut slot = slot.borrow_mut();
            if slot.is_none() {
                *slot = Some(c.prepare(TENANT_TYPES_SQL, &[])?.keep());
            }
            let rows = c.select(slot.as_ref().expect("prepared above"), None, &[])?;
            let mut out = vec![];
            for row in rows {
                out.push((
                    row.get::<String>(1)?.unwrap_or_default(),
                    row.get::<String>(2)?.unwrap_or_default(),
                    row.get::<i64>(3)?.unwrap_or_default(),
                ));
            }
            Ok::<_, pgrx::spi::Error>(out)
        })
    })
    .unwrap_or_else(|e| pgrx::error!("revos: set_tenant: reading the tenant types failed: {e}"))
}

/// A string literal whatever `standard_conforming_strings` is, as PostgreSQL's `quote_literal`
/// (and PL/pgSQL's `format('%L')`, which set_tenant used before) writes it: `E'…'` with
/// backslashes doubled when the value has one.
fn literal(v: &str) -> String {
    if v.contains('\\') {
        format!("E{}", quote_literal(&v.replace('\\', "\\\\")))
    } else {
        quote_literal(v)
    }
}

fn refuse(message: String) -> ! {
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        message
    );
}
