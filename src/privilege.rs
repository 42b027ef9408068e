//! How revos acts: under a search_path nobody but revos chooses, and as another role only in a
//! security-restricted operation (docs/security.md lists every place).
//!
//! * [`pinned`]: every SQL entry point runs its body with `search_path = pg_catalog, revos,
//!   pg_temp` in a GUC nest level of its own (what a `SET search_path` clause on a function
//!   does, and what PostgreSQL 17's maintenance commands do with `RestrictSearchPath()`). The
//!   caller's functions, operators and types on their own path never resolve inside revos;
//!   `pg_temp` is last, so a temp table or domain named like a catalog or a core type never
//!   shadows it. The caller's own expressions (checks, defaults, generated, `where`, `using`)
//!   resolve under this path too, in plan, apply and verify alike.
//! * [`as_role`]: runs `f` as another role (the ledgers' owner) the way PostgreSQL runs index
//!   expressions of a maintenance command: `SetUserIdAndSecContext` with
//!   `SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION`, inside a pinned path, and
//!   the previous user and context restored afterwards, error or not.

use pgrx::pg_sys;
use std::ffi::{CStr, CString};

/// The search_path revos runs under: PostgreSQL's catalog, revos's own schema, and the session's
/// temporary schema explicitly last (never first, as it is when a path leaves it out).
pub const PINNED_SEARCH_PATH: &str = "pg_catalog, revos, pg_temp";

/// Runs `f` with the search_path pinned to [`PINNED_SEARCH_PATH`], `standard_conforming_strings`
/// on and `quote_all_identifiers` off, in a GUC nest level of its own:
/// the caller's search_path is back afterwards; settings `f` changes with `SET LOCAL` (or
/// `set_config(…, true)`) other than search_path last until the end of the transaction as usual.
pub fn pinned<R>(f: impl FnOnce() -> R) -> R {
    nested(
        || {
            set_search_path(PINNED_SEARCH_PATH);
            // every text revos runs is written for standard strings: a caller's `off` turned a
            // literal's backslash into an escape, and the rest of a payload's check into more
            // subcommands of the shadow table's ALTER, run as the caller (the adversarial review
            // of 5798187, C)
            set_setting("standard_conforming_strings", "on");
            // what revos compares as text (deparsed definitions: the live ones with the shadow's)
            // is read with PostgreSQL's own quoting; a session's `on` failed verification (the
            // review of 765e4d8, B)
            set_setting("quote_all_identifiers", "off");
        },
        f,
    )
}

/// Runs `f` with the search_path `pg_catalog, pg_temp` and `quote_all_identifiers` off, in a GUC
/// nest level of its own: a deparse (`pg_get_indexdef`, `pg_get_constraintdef`) reads every name
/// qualified and quoted as the shadows' and the snapshot's deparses were read (`apply::shadow`),
/// so that the two compare as text.
pub fn catalog_path<R>(f: impl FnOnce() -> R) -> R {
    nested(
        || {
            set_search_path("pg_catalog, pg_temp");
            set_setting("quote_all_identifiers", "off");
        },
        f,
    )
}

/// `f` after `set`, in a GUC nest level of its own (what `set` changed is undone afterwards).
fn nested<R>(set: impl FnOnce(), f: impl FnOnce() -> R) -> R {
    let nest = unsafe { pg_sys::NewGUCNestLevel() };
    set();
    pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
        .finally(|| unsafe { pg_sys::AtEOXact_GUC(true, nest) })
        .execute()
}

fn set_search_path(path: &str) {
    set_setting("search_path", path);
}

/// Sets `name` to `value` in the current GUC nest level (undone with it).
fn set_setting(name: &str, value: &str) {
    set_config(
        &CString::new(name).expect("no NUL"),
        value,
        pg_sys::GucContext::PGC_USERSET,
        pg_sys::GucAction::GUC_ACTION_SAVE,
    );
}

/// `SET LOCAL name = value` as the statement does it (`ExecSetVariableStmt`: the caller's context,
/// a session source, to the transaction's end) without a statement parsed and run for it.
pub fn set_local(name: &CStr, value: &str) {
    let context = if unsafe { pg_sys::superuser() } {
        pg_sys::GucContext::PGC_SUSET
    } else {
        pg_sys::GucContext::PGC_USERSET
    };
    set_config(name, value, context, pg_sys::GucAction::GUC_ACTION_LOCAL);
}

fn set_config(
    name: &CStr,
    value: &str,
    context: pg_sys::GucContext::Type,
    action: pg_sys::GucAction::Type,
) {
    let value = CString::new(value).expect("a text value has no NUL");
    unsafe {
        pg_sys::set_config_option(
            name.as_ptr(),
            value.as_ptr(),
            context,
            pg_sys::GucSource::PGC_S_SESSION,
            action,
            true,
            pg_sys::PGERROR as i32,
            false,
        );
    }
}

/// Runs `f` as `role` in a security-restricted operation under the pinned search_path; the
/// current user and security context are restored afterwards, error or not.
pub fn as_role<R>(role: pg_sys::Oid, f: impl FnOnce() -> R) -> R {
    pinned(|| {
        let (mut uid, mut ctx) = (pg_sys::InvalidOid, 0);
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut uid, &mut ctx);
            pg_sys::SetUserIdAndSecContext(role, ctx | RESTRICTED);
        }
        pgrx::PgTryBuilder::new(std::panic::AssertUnwindSafe(f))
            .finally(|| unsafe { pg_sys::SetUserIdAndSecContext(uid, ctx) })
            .execute()
    })
}

/// Runs `f` as the owner of revos's ledgers (the extension's owner, a superuser): row counts that
/// gate a change are read there, so the caller's row-level security cannot hide rows from them.
/// Only revos-built SQL runs there (counts of rows, of NULLs, of enum labels, of built-in type
/// conversions) — never an expression of the caller's.
///
/// `constraint_exclusion` is pinned to its default, `partition`, there: under `on` (a caller's
/// setting) planning a count over a partition evaluates its parent's partition key expression,
/// and a table's checks — code of the table's owner (the sixth adversarial review).
pub fn as_extension_owner<R>(f: impl FnOnce() -> R) -> R {
    as_role(revos_relation_owner("schema_migrations"), || {
        set_setting("constraint_exclusion", "partition");
        f()
    })
}

const RESTRICTED: i32 =
    (pg_sys::SECURITY_LOCAL_USERID_CHANGE | pg_sys::SECURITY_RESTRICTED_OPERATION) as i32;

/// The name of the current user (no SQL, so no name resolution).
pub fn current_user_name() -> String {
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetUserId(), false);
        std::ffi::CStr::from_ptr(name)
            .to_string_lossy()
            .into_owned()
    }
}

/// The OID of `revos.<name>`'s owner, read from the relation cache by OID (no SQL, so nothing
/// the caller defines can answer instead). Raises when the relation is missing.
pub fn revos_relation_owner(name: &str) -> pg_sys::Oid {
    let rel =
        revos_relation(name).unwrap_or_else(|| pgrx::error!("revos: revos.{name} is missing"));
    unsafe {
        let r = pg_sys::RelationIdGetRelation(rel);
        if r.is_null() {
            pgrx::error!("revos: revos.{name} is missing");
        }
        let owner = (*(*r).rd_rel).relowner;
        pg_sys::RelationClose(r);
        owner
    }
}

/// The OID of relation `revos.<name>`, looked up in the `revos` schema by name (no search_path).
pub fn revos_relation(name: &str) -> Option<pg_sys::Oid> {
    let nsp = revos_namespace()?;
    let c = CString::new(name).ok()?;
    let oid = unsafe { pg_sys::get_relname_relid(c.as_ptr(), nsp) };
    (oid != pg_sys::InvalidOid).then_some(oid)
}

/// The OID of function `revos.<name>(<args>)` with argument types given by OID, read from the
/// catalog cache by schema OID, name and argument types: neither the search_path, nor a session's
/// temporary types, nor a schema privilege check take part.
pub fn revos_function(name: &str, args: &[pg_sys::Oid]) -> Option<pg_sys::Oid> {
    let nsp = revos_namespace()?;
    let fname = CString::new(name).ok()?;
    let oid = unsafe {
        let argv = pg_sys::buildoidvector(args.as_ptr(), args.len() as i32);
        pg_sys::GetSysCacheOid(
            pg_sys::SysCacheIdentifier::PROCNAMEARGSNSP as i32,
            pg_sys::Anum_pg_proc_oid as pg_sys::AttrNumber,
            pg_sys::Datum::from(fname.as_ptr()),
            pg_sys::Datum::from(argv),
            pg_sys::Datum::from(nsp),
            pg_sys::Datum::from(0usize),
        )
    };
    (oid != pg_sys::InvalidOid).then_some(oid)
}

fn revos_namespace() -> Option<pg_sys::Oid> {
    let oid = unsafe { pg_sys::get_namespace_oid(c"revos".as_ptr(), true) };
    (oid != pg_sys::InvalidOid).then_some(oid)
}
