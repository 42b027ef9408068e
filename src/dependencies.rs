//! What the objects an apply leaves may depend on (issue 17).
//!
//! A table's columns, defaults, checks, indexes, policies and triggers run the functions,
//! operators and types they depend on whenever anyone reads or writes the table. After the DDL,
//! before verification, every dependency of the payload's tables is checked, and the apply fails
//! (42501, rolled back, recorded) when one of them is
//! * a temporary object of this session: it is dropped, with whatever depends on it, when the
//!   session ends — no event trigger fires, and the ledger would say "applied" of a table that
//!   lost a column or a check (a `pg_temp` domain or function the pinned search_path reaches last);
//! * a function, operator, type or collation owned by a role that is neither a superuser nor the
//!   caller nor listed in `revos.trusted_roles` (not every role a superuser "has", as `pg_has_role`
//!   says: a superuser applying is refused such an overload too — a superuser's apply was the worst
//!   victim of one, since the overload runs with its privileges while an index is built): an overload another role planted
//!   in a shared schema (`public.is_email(varchar)` beside the caller's `public.is_email(text)`)
//!   would otherwise capture the call, and every role that uses the table would run that role's
//!   code (the class of CVE-2018-1058);
//! * a table of the payload, or a table a policy reads (the membership table of the membership
//!   tenancy mode, issue 25), owned by such a role that is not a `revos_admin` member either (a
//!   migration role, whose tables a superuser may change — the online backfill needs one): its
//!   owner bypasses the tenant policy (it may `set_tenant` any tenant, or turn RLS off), and the
//!   membership table's owner decides, by writing rows no policy checks, which tenants every user
//!   sees. A table pre-created by another role in a schema it can create in, then declared by a
//!   payload, was adopted as is (the adversarial review). A policy on its own table and a foreign
//!   key to another role's table are not refused. A default of such a table naming a relation (a
//!   sequence, `nextval('s'::regclass)`) owned by such a role is refused too.
//!
//! Checked before the statements run (the payload's tables as they exist, and under the name a
//! table is renamed from) and again after: a trigger of another role's on an existing table runs
//! with the privileges of whoever writes it, and revos's backfill UPDATE ran a plain role's
//! trigger as a superuser (`COPY … TO PROGRAM`), in `plan_schema` too.

use pgrx::pg_sys;
use pgrx::prelude::*;

pub mod kept;
use kept::Snap;

/// The roles whose objects what an apply leaves may depend on, read **before** its statements
/// run: the superusers, the caller and the roles listed in `revos.trusted_roles`. Read afterwards, an overload
/// that ran while an index was built (as the caller) could have made its owner a superuser or
/// granted its owner to the caller, and would then pass as trusted (the adversarial review did
/// the former); the failed check rolls that back with everything else.
pub fn trusted_owners() -> Vec<pg_sys::Oid> {
    // the list counts only while it is the extension's own, as its scripts made it (the tenth
    // adversarial review, P1 and P2): an extension still at 0.2.0 or older has none; a table of that
    // name someone else created, one default privileges let another role write, or one with a
    // trigger, rule or policy is not read — no role is listed, and a warning says why
    let why_not = statement_value(&LIST_INTACT_SQL);
    let sql = match why_not.as_deref() {
        None => TRUSTED_SQL,
        Some("absent") => UNLISTED_SQL,
        Some(why) => {
            pgrx::warning!("revos: revos.trusted_roles is not read, so no role is trusted through it: {why} (the extension's owner can restore it: REVOKE the other grants, DROP what was added — and review every row: one written meanwhile stays)");
            UNLISTED_SQL
        }
    };
    statement_value(sql).map(|a| oids(&a)).unwrap_or_default()
}

/// The first column of `sql`'s first row (a read without arguments, under a statement's snapshot;
/// its plan kept).
fn statement_value(sql: &str) -> Option<String> {
    Spi::connect(|_| unsafe { kept::rows(sql, &[], Snap::Statement, 1) })
        .into_iter()
        .next()
        .and_then(|mut r| r.remove(0))
}

/// An `oid[]` in its text form (`{10,16384}`).
fn oids(text: &str) -> Vec<pg_sys::Oid> {
    text.trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .filter_map(|o| o.trim().parse::<u32>().ok().map(pg_sys::Oid::from))
        .collect()
}

/// Fails (42501) unless only the extension's owner may create in schema `revos` (and in
/// `revos_shadow`, besides `revos_admin`): revos's pinned search_path reads `revos`, so a role that may
/// create there could put `revos.lower(varchar)` before `pg_catalog.lower(text)` and have an apply run
/// it (the eleventh adversarial review, S: default privileges on schemas reached it at CREATE
/// EXTENSION). Called before anything of a payload is read, and by the deferred worker.
pub fn check_revos_schema() {
    // owned by the extension's owner, holding no function or operator that is not the extension's
    // (the twelfth adversarial review, P and O: a schema revos a database owner created before the
    // install, or a function planted while another role could create there, survived the reset)
    let foreign: Option<String> = Spi::get_one(
        "SELECT pg_catalog.string_agg(x.what, ', ') FROM (
            SELECT pg_catalog.format('schema %s is owned by %s', n.nspname, pg_catalog.pg_get_userbyid(n.nspowner)) AS what
              FROM pg_catalog.pg_namespace n, pg_catalog.pg_extension e
             WHERE e.extname OPERATOR(pg_catalog.=) 'revos'
               AND n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['revos', 'revos_shadow']::pg_catalog.name[])
               AND n.nspowner OPERATOR(pg_catalog.<>) e.extowner
            UNION ALL
            SELECT pg_catalog.format('%s is not the extension''s', p.oid::pg_catalog.regprocedure)
              FROM pg_catalog.pg_proc p
             WHERE p.pronamespace OPERATOR(pg_catalog.=) 'revos'::pg_catalog.regnamespace
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                  AND d.objid OPERATOR(pg_catalog.=) p.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')
            UNION ALL
            SELECT pg_catalog.format('operator %s is not the extension''s', o.oid::pg_catalog.regoperator)
              FROM pg_catalog.pg_operator o
             WHERE o.oprnamespace OPERATOR(pg_catalog.=) 'revos'::pg_catalog.regnamespace
               AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                                WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_operator'::pg_catalog.regclass
                                  AND d.objid OPERATOR(pg_catalog.=) o.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')) x",
    )
    .unwrap_or_else(|e| pgrx::error!("revos: reading schema revos failed: {e}"));
    if let Some(foreign) = foreign {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("revos: refused: {foreign}: revos's own search_path reads schema revos, and what another role put there chooses what revos's statements run"),
            "As the extension's owner: drop what is not the extension's from schema revos (ALTER SCHEMA … OWNER TO the extension's owner)."
        );
    }
    let who: Option<String> = Spi::get_one(
        "SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%s on %s',
                  CASE WHEN a.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                       ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(a.grantee)::pg_catalog.text) END,
                  n.nspname), ', ')
           FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
          WHERE n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['revos', 'revos_shadow']::pg_catalog.name[])
            AND a.privilege_type OPERATOR(pg_catalog.=) 'CREATE'
            AND a.grantee OPERATOR(pg_catalog.<>) n.nspowner
            AND NOT (n.nspname OPERATOR(pg_catalog.=) 'revos_shadow'
                     AND a.grantee OPERATOR(pg_catalog.=) 'revos_admin'::pg_catalog.regrole)",
    )
    .unwrap_or_else(|e| pgrx::error!("revos: reading schema revos's privileges failed: {e}"));
    if let Some(who) = who {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("revos: refused: CREATE is granted to {who}: revos's own search_path reads schema revos, and a role that may create there chooses what revos's statements run"),
            "As the extension's owner: REVOKE CREATE ON SCHEMA revos FROM …; (default privileges on schemas reach it when CREATE EXTENSION runs)."
        );
    }
}

/// Fails (42501) when a role other than revos.deferred_steps' owner may change it — a privilege but
/// SELECT on the table or a column, or a non-superuser member of `pg_write_all_data`: the deferred
/// worker runs the statements recorded there as the role a row names (the eleventh adversarial
/// review, D: a revos_admin member given INSERT by default privileges, and a `pg_write_all_data`
/// member, each made itself a superuser through a forged row).
pub fn check_steps_table() {
    let why: Option<String> = Spi::get_one(&format!(
        "SELECT CASE {WRITABLE_BY_OTHERS} END FROM pg_catalog.pg_class c
          WHERE c.oid OPERATOR(pg_catalog.=) 'revos.deferred_steps'::pg_catalog.regclass"
    ))
    .unwrap_or_else(|e| {
        pgrx::error!("revos: reading revos.deferred_steps' privileges failed: {e}")
    });
    if let Some(why) = why {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("revos deferred worker: refused: no step runs while {why} (revos.deferred_steps: the worker runs what it records)"),
            "As the extension's owner: REVOKE the other privileges on revos.deferred_steps (default privileges reach it when CREATE EXTENSION runs), and review its pending rows."
        );
    }
}

/// The superusers (the roles whose objects a superuser's work may depend on): what the
/// extension's owner trusts when revos reads a table as it (`apply::pg_catalog::owner_view`).
pub fn superusers() -> Vec<pg_sys::Oid> {
    Spi::get_one::<Vec<pg_sys::Oid>>(
        "SELECT pg_catalog.array_agg(r.oid) FROM pg_catalog.pg_roles r WHERE r.rolsuper",
    )
    .unwrap_or_else(|e| pgrx::error!("revos: reading the superusers failed: {e}"))
    .unwrap_or_default()
}

/// The dependencies of `tables`' parts that revos refuses, described (empty: none); `trusted`:
/// the roles read by `trusted_owners` before the statements ran (None: read now).
pub fn refused(tables: &[pg_sys::Oid], trusted: Option<&[pg_sys::Oid]>) -> Vec<String> {
    refused_parts(tables, trusted, true, Lock::Wait)
}

/// As [`refused`], without the tables' owners: only what their parts' code depends on (for a
/// table revos reads or plans a query over without changing it: a foreign key's target).
pub fn refused_code(tables: &[pg_sys::Oid], trusted: Option<&[pg_sys::Oid]>) -> Vec<String> {
    refused_parts(tables, trusted, false, Lock::Wait)
}

/// As [`refused_code`] for a count revos would plan over the tables (in a subtransaction that
/// is rolled back afterwards): when a lock the check needs is held by another session (an index
/// built concurrently), it does not wait: the tables count as refused ("busy"), and the count is
/// reported as not made.
pub fn refused_code_now(tables: &[pg_sys::Oid], trusted: Option<&[pg_sys::Oid]>) -> Vec<String> {
    refused_parts(tables, trusted, false, Lock::Skip)
}

/// How a check locks what it reads (see [`lock_hierarchy`]).
#[derive(Clone, Copy, PartialEq)]
enum Lock {
    /// Lock, waiting for other sessions.
    Wait,
    /// Lock without waiting; a lock held elsewhere makes the tables "busy".
    Skip,
    /// Read as they are (the check after the apply's statements: nothing that follows in the
    /// transaction runs the tables' code, and a lock taken there would be held to the commit).
    Off,
}

fn refused_parts(
    tables: &[pg_sys::Oid],
    trusted: Option<&[pg_sys::Oid]>,
    owners: bool,
    lock: Lock,
) -> Vec<String> {
    if tables.is_empty() {
        return vec![];
    }
    let trusted = trusted.map_or_else(trusted_owners, <[pg_sys::Oid]>::to_vec);
    let Some(parts_of) = lock_hierarchy(tables, lock) else {
        return vec!["the table is busy (another session holds a lock that keeps its parts from being checked)".into()];
    };
    Spi::connect(|_| unsafe {
        latest(
            REFUSED_SQL,
            &[
                (tables.to_vec().into_datum(), pg_sys::OIDARRAYOID),
                (trusted.into_datum(), pg_sys::OIDARRAYOID),
                (owners.into_datum(), pg_sys::BOOLOID),
                (parts_of.into_datum(), pg_sys::OIDARRAYOID),
            ],
        )
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Locks `tables`, then their inheritance and partition descendants and their partition
/// ancestors, SHARE UPDATE EXCLUSIVE until the transaction ends, and returns them all. That lock
/// keeps every part the check reads as it is until the statements that follow have run: it
/// conflicts with `CREATE INDEX` (concurrently or not), `CREATE STATISTICS`, `CREATE TRIGGER`,
/// `CREATE POLICY`, `CREATE RULE`, `ALTER TABLE` and attaching a partition, and not with reads or
/// writes of rows (the sixth adversarial review: an owner that held a lock on its table added an
/// index after the check and before the count, which then ran its function as a superuser).
/// The ancestors count because planning a query over a partition can evaluate the partitioned
/// parent's key expression (under `constraint_exclusion = on`).
/// With `Lock::Skip`, None as soon as a lock is held elsewhere; with `Lock::Off`, nothing locked.
fn lock_hierarchy(tables: &[pg_sys::Oid], how: Lock) -> Option<Vec<pg_sys::Oid>> {
    let mode = pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE;
    let wait = how == Lock::Wait;
    let lock = |o: pg_sys::Oid| unsafe {
        if how == Lock::Off {
            true
        } else if wait {
            pg_sys::LockRelationOid(o, mode);
            true
        } else {
            pg_sys::ConditionalLockRelationOid(o, mode)
        }
    };
    if !tables.iter().all(|&t| lock(t)) {
        return None;
    }
    let all: Vec<pg_sys::Oid> = Spi::connect(|_| unsafe {
        latest(
            HIERARCHY_SQL,
            &[(tables.to_vec().into_datum(), pg_sys::OIDARRAYOID)],
        )
    })
    .into_iter()
    .flatten()
    .filter_map(|o| o.parse::<u32>().ok().map(pg_sys::Oid::from))
    .collect();
    if !all.iter().filter(|o| !tables.contains(o)).all(|&o| lock(o)) {
        return None;
    }
    tables
        .iter()
        .all(|&o| how == Lock::Off || unsafe { lock_schema_row(o, wait) })
        .then_some(all)
}

/// Keeps the schema of table `rel` under its name until the transaction ends (see
/// [`lock_namespace`]); the adversarial review of 1d8f8d6 (F4): while one of the apply's statements
/// waited for another session's lock on the checked table, the schema's owner swapped in a schema
/// of its own under the name, and the statements that followed (a backfill `UPDATE`) ran on its
/// table, with its trigger, as the applier.
unsafe fn lock_schema_row(rel: pg_sys::Oid, wait: bool) -> bool {
    let nsp = pg_sys::get_rel_namespace(rel);
    nsp == pg_sys::InvalidOid || lock_namespace(nsp, wait)
}

/// Keeps the schema `nsp` under its name until the transaction ends: no lock of PostgreSQL's on a
/// table stops `ALTER SCHEMA … RENAME`. A lock on the schema object (ACCESS SHARE: the rename's
/// lock on it conflicts with it, in the servers revos is tested on) and a share lock on its
/// `pg_namespace` row (which the rename updates) make a rename wait for this transaction. With
/// `wait` false, false as soon as one would wait (and no lock on the schema object: PostgreSQL 16
/// has no conditional form of it; the row lock alone keeps the name).
unsafe fn lock_namespace(nsp: pg_sys::Oid, wait: bool) -> bool {
    if wait {
        let share = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
        pg_sys::LockDatabaseObject(pg_sys::NamespaceRelationId, nsp, 0, share);
    }
    // a row updated (renamed, committed) since the cache read it: read it again and lock that
    // version (the adversarial review of 5057330, G4: the lock was reported held without it)
    for _ in 0..5 {
        match lock_namespace_row(nsp, wait) {
            Some(pg_sys::TM_Result::TM_Ok) | None => return true,
            Some(pg_sys::TM_Result::TM_WouldBlock) => return false,
            Some(_) => pg_sys::AcceptInvalidationMessages(),
        }
    }
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
        "revos: a schema the plan names keeps changing while it is locked; retry"
    );
}

/// One attempt at the share lock on `nsp`'s `pg_namespace` row (None: no such schema).
unsafe fn lock_namespace_row(nsp: pg_sys::Oid, wait: bool) -> Option<pg_sys::TM_Result::Type> {
    let cached = pg_sys::SearchSysCache1(
        pg_sys::SysCacheIdentifier::NAMESPACEOID as i32,
        pg_sys::Datum::from(nsp),
    );
    if cached.is_null() {
        return None;
    }
    let mut tuple: pg_sys::HeapTupleData = std::mem::zeroed();
    tuple.t_self = (*cached).t_self;
    pg_sys::ReleaseSysCache(cached);
    let catalog = pg_sys::table_open(
        pg_sys::NamespaceRelationId,
        pg_sys::RowShareLock as pg_sys::LOCKMODE,
    );
    let mut buffer: pg_sys::Buffer = 0;
    let mut failure: pg_sys::TM_FailureData = std::mem::zeroed();
    let result = pg_sys::heap_lock_tuple(
        catalog,
        &mut tuple,
        pg_sys::GetCurrentCommandId(true),
        pg_sys::LockTupleMode::LockTupleShare,
        if wait {
            pg_sys::LockWaitPolicy::LockWaitBlock
        } else {
            pg_sys::LockWaitPolicy::LockWaitSkip
        },
        false,
        &mut buffer,
        &mut failure,
    );
    if buffer != 0 {
        pg_sys::ReleaseBuffer(buffer);
    }
    pg_sys::table_close(catalog, pg_sys::NoLock as pg_sys::LOCKMODE);
    Some(result)
}

/// Keeps every existing schema the plan's statements name (a word before a `.`, coarse as
/// [`squatted`]) under its name until the transaction ends, **before** any of the names is
/// resolved to a table (the adversarial review of 5057330, G1–G3: names resolved before a lock
/// wait, a rename committed while revos waited, the schema of an enum or a function in a default
/// never locked). Each schema is locked by the OID its name has, then its name is looked up again:
/// a rename that committed while revos waited is seen, and the new schema under the name is
/// locked instead (40001 when it keeps changing).
pub fn hold_schemas(statements: &[&str]) {
    let text = lowered(statements);
    // the latest catalog, not the caller's statement's snapshot (taken before any wait of the
    // apply's: the fifth adversarial review's F3)
    let names: Vec<String> = Spi::connect(|_| unsafe {
        latest(
            "SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_namespace n
              WHERE n.nspname OPERATOR(pg_catalog.!~) '^pg_' AND n.nspname OPERATOR(pg_catalog.<>) 'information_schema'",
            &[],
        )
    })
    .into_iter()
    .flatten()
    .collect();
    for name in names {
        // compared as the statements were (lower case, double quotes dropped): a name with a
        // quote in it (`f"q`, written `"f""q"`) was never found (the adversarial review of 08eb1c3)
        if named_before(&text, &name.to_lowercase().replace('"', ""), '.') {
            hold_schema(&name);
        }
    }
}

fn hold_schema(name: &str) {
    let c = std::ffi::CString::new(name).expect("no NUL in a schema name");
    for _ in 0..5 {
        let nsp = unsafe { pg_sys::get_namespace_oid(c.as_ptr(), true) };
        if nsp == pg_sys::InvalidOid {
            return;
        }
        unsafe {
            lock_namespace(nsp, true);
            pg_sys::AcceptInvalidationMessages();
            if pg_sys::get_namespace_oid(c.as_ptr(), true) == nsp {
                return;
            }
        }
    }
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
        format!("revos: the schema {name} keeps being renamed while the apply locks it; retry")
    );
}

/// The statements in lower case, without double quotes (for [`named_before`]).
fn lowered(statements: &[&str]) -> String {
    statements
        .iter()
        .map(|s| s.to_lowercase().replace('"', ""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `sql` (inside an SPI connection) under the **latest** snapshot, not the transaction's: a
/// `REPEATABLE READ` caller's snapshot would hide an index committed after it was taken, which
/// the planner (reading the relation cache) would still use (the sixth adversarial review). The
/// first column of each row, as text.
pub unsafe fn latest(
    sql: &str,
    args: &[(Option<pg_sys::Datum>, pg_sys::Oid)],
) -> Vec<Option<String>> {
    kept::rows(sql, args, Snap::Latest, 1)
        .into_iter()
        .map(|mut r| r.remove(0))
        .collect()
}

/// Functions another role planted where the plan's statements could bind them, found **before**
/// any statement runs: a function or operator owned by a role outside `trusted`, in a schema the
/// statements name before a dot, whose own name they name (a function's before a parenthesis).
/// Coarse on purpose (quotes and case ignored, comments and literals not skipped): the check after
/// the DDL cannot protect a superuser's apply, since the overload runs during it (while an index is
/// built or a check validated) with the superuser's privileges and could make itself look trusted
/// (`ALTER FUNCTION … OWNER TO` a superuser); a false alarm refuses an apply that only looked
/// like one.
pub fn squatted(statements: &[&str], trusted: &[pg_sys::Oid]) -> Vec<String> {
    let text = lowered(statements);
    // under the latest snapshot: the caller's statement's one predates the apply's lock waits, and
    // a function committed during them was not seen (the fifth adversarial review, F3)
    let rows: Vec<Option<String>> = Spi::connect(|_| unsafe {
        latest(
            &format!("SELECT pg_catalog.json_build_array(q.s, q.n, q.w, q.o)::pg_catalog.text FROM ({SQUAT_SQL}) q(s, n, w, o)"),
            &[(trusted.to_vec().into_datum(), pg_sys::OIDARRAYOID)],
        )
    });
    let candidates: Vec<(String, String, String, bool)> = rows
        .into_iter()
        .flatten()
        .map(|row| {
            serde_json::from_str::<(Option<String>, Option<String>, Option<String>, Option<bool>)>(
                &row,
            )
            .map(|(a, b, c, d)| {
                (
                    a.unwrap_or_default(),
                    b.unwrap_or_default(),
                    c.unwrap_or_default(),
                    d.unwrap_or_default(),
                )
            })
            .unwrap_or_else(|e| {
                pgrx::error!("revos: reading the functions of other roles failed: {e}")
            })
        })
        .collect();
    candidates
        .into_iter()
        .filter(|(schema, name, _, operator)| {
            named_before(&text, schema, '.')
                && if *operator {
                    text.contains("operator") && text.contains(name.as_str())
                } else {
                    named_before(&text, name, '(')
                }
        })
        .map(|(_, _, what, _)| what)
        .collect()
}

/// `word` in `text` as a word of its own, followed (after spaces) by `next`.
fn named_before(text: &str, word: &str, next: char) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].trim_start();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_') && after.starts_with(next)
    })
}

/// Fails the apply (42501) before its statements run when `squatted` finds a function or operator
/// of another role where they could bind it.
pub fn check_before(statements: &[&str], trusted: &[pg_sys::Oid]) {
    let found = squatted(statements, trusted);
    if found.is_empty() {
        return;
    }
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!(
            "revos: refused before running anything: {} (owned by a role that is neither a superuser nor yours, where the plan names a function of that schema: it could capture the call)",
            found.join("; ")
        ),
        "Schema-qualify functions with a schema only trusted roles can create in, or drop the other role's function first."
    );
}

/// Fails the apply (42501) when a part of the payload's tables depends on what revos refuses;
/// `trusted`: `trusted_owners()` as it was before the apply's statements ran.
pub fn check(tables: &[pg_sys::Oid], trusted: &[pg_sys::Oid]) {
    raise(refused(tables, Some(trusted)));
}

/// As [`check`] before the apply's statements: the tables they name (their quoted qualified name
/// appears in one) are locked first, so that nothing is added to them between the check and the
/// statements; the others (an online change's table, whose steps all run after the commit, in the
/// worker, which checks again under its own lock) are read as they are, and keep no lock the plan
/// does not state until the commit.
pub fn check_named(tables: &[pg_sys::Oid], statements: &[&str], trusted: &[pg_sys::Oid]) {
    let text = statements.join("\n");
    let (named, other): (Vec<pg_sys::Oid>, Vec<pg_sys::Oid>) = tables
        .iter()
        .partition(|&&t| qualified_name(t).is_some_and(|n| text.contains(&n)));
    raise(refused_parts(&named, Some(trusted), true, Lock::Wait));
    raise(refused_parts(&other, Some(trusted), true, Lock::Off));
}

/// The table's name as revos's statements write it, `"name"` (quoted always; a table of the same
/// name in another schema counts too: coarse on purpose, it only locks more).
fn qualified_name(rel: pg_sys::Oid) -> Option<String> {
    Spi::get_one_with_args::<String>(
        "SELECT '\"' OPERATOR(pg_catalog.||) pg_catalog.replace(c.relname::pg_catalog.text, '\"', '\"\"') OPERATOR(pg_catalog.||) '\"'
           FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
        &[rel.into()],
    )
    .ok()
    .flatten()
}

/// As [`check`] after the apply's statements, reading the tables as they are.
pub fn check_after(tables: &[pg_sys::Oid], trusted: &[pg_sys::Oid]) {
    raise(refused_parts(tables, Some(trusted), true, Lock::Off));
}

/// As [`check`] for the tables a foreign key of the payload references: their parts' code only
/// (planning the key's check over such a table evaluates its index predicates' constant calls).
pub fn check_code(tables: &[pg_sys::Oid], trusted: &[pg_sys::Oid]) {
    raise(refused_code(tables, Some(trusted)));
}

fn raise(found: Vec<String>) {
    if found.is_empty() {
        return;
    }
    pgrx::ereport!(
        ERROR,
        PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
        format!("revos: refused: {}", found.join("; ")),
        "Depend only on objects of pg_catalog, of revos, your own, of superusers or of roles the extension's owner listed in revos.trusted_roles: schema-qualify functions and types with a schema only trusted roles can create in (README: Which names your expressions see); never on a temporary object. A table of the payload, and one a policy reads (the membership table), must be owned by you, a role of yours, a superuser or a revos_admin member (ALTER TABLE … OWNER TO)."
    );
}

/// SQL for the role `role` (an expression of type `oid`) stands for when it owns or may create in a
/// schema: `pg_database_owner` (the owner of `public` since PostgreSQL 15) is the current database's
/// owner, its only member; any other role is itself. One spelling for every schema check.
pub fn acting_role(role: &str) -> String {
    format!(
        "(CASE WHEN {role} OPERATOR(pg_catalog.=) 'pg_database_owner'::pg_catalog.regrole
               THEN (SELECT d.datdba FROM pg_catalog.pg_database d
                      WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())
               ELSE {role} END)"
    )
}

/// SQL naming role `role` (an OID expression) as a message should: quoted, `PUBLIC` for 0, and
/// `pg_database_owner (the database owner, <name>)` for that role (the thirteenth adversarial review,
/// F3: naming only the owner sent users to revoke from or list the wrong role).
fn role_label(role: &str) -> String {
    format!(
        "(CASE WHEN {role} OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
               WHEN {role} OPERATOR(pg_catalog.=) 'pg_database_owner'::pg_catalog.regrole
               THEN pg_catalog.concat('pg_database_owner (the database owner, ',
                                      pg_catalog.quote_ident(pg_catalog.pg_get_userbyid({}::pg_catalog.oid)::pg_catalog.text), ')')
               ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid({role})::pg_catalog.text) END)",
        acting_role(role)
    )
}

/// Fails (42501) when schema `name` — just created by the apply's `CREATE SCHEMA IF NOT EXISTS`,
/// which adopts one that exists — is owned by a role outside `trusted` or lets such a role (or
/// PUBLIC) create in it: a role that created it first, while the apply waited, would own what the
/// payload's names there bind (the fifth adversarial review, F4). `pg_database_owner` stands for
/// the database's owner. Read under the latest snapshot.
pub fn check_schema(name: &str, trusted: &[pg_sys::Oid]) {
    let roles = creators_outside(name, trusted);
    if !roles.is_empty() {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!(
                "revos: refused: schema {name} is owned by, or lets create in it, {} — a role that is neither a superuser nor yours (it existed before the apply's CREATE SCHEMA, which adopted it)",
                roles.join(", ")
            ),
            "Drop or take over that schema (ALTER SCHEMA … OWNER TO, REVOKE CREATE), then apply again."
        );
    }
}

/// Err (why) when schema `name` exists and a role outside `trusted` (PUBLIC included) owns it or may
/// create in it, or owns an object in it — a function, operator, type, relation (a view the script
/// reads runs its functions as the caller: the fifteenth review, H2), collation, conversion, operator
/// class or family, text search configuration or dictionary, statistics object: an extension's script
/// runs as the caller with that schema on its search_path (the eighth adversarial review, X'), and an
/// object planted while another role could create there stays after the privilege is revoked (the
/// fourteenth, G1). Read under the latest snapshot.
pub fn schema_creators(name: &str, trusted: &[pg_sys::Oid]) -> Result<(), String> {
    let roles = creators_outside(name, trusted);
    if !roles.is_empty() {
        return Err(format!(
            "schema {name} is owned by, or lets create in it, {} — a role that is neither a superuser nor yours nor listed in revos.trusted_roles: an extension's script runs as you with that schema on its search_path, where a function that role creates there could be called instead of the one the script means (REVOKE CREATE ON SCHEMA {name} FROM that role, or create the extension in a schema only trusted roles control)",
            roles.join(", ")
        ));
    }
    let planted: Vec<String> = Spi::connect(|_| unsafe {
        latest(
            &format!(
                "SELECT pg_catalog.concat(x.what, ', owned by ', {})
                   FROM (SELECT p.oid::pg_catalog.regprocedure::pg_catalog.text AS what, p.proowner AS owner, p.pronamespace AS nsp FROM pg_catalog.pg_proc p
                         UNION ALL SELECT 'operator ' OPERATOR(pg_catalog.||) o.oid::pg_catalog.regoperator::pg_catalog.text, o.oprowner, o.oprnamespace FROM pg_catalog.pg_operator o
                         UNION ALL SELECT 'type ' OPERATOR(pg_catalog.||) t.oid::pg_catalog.regtype::pg_catalog.text, t.typowner, t.typnamespace
                                     FROM pg_catalog.pg_type t WHERE t.typrelid OPERATOR(pg_catalog.=) 0 AND t.typcategory OPERATOR(pg_catalog.<>) 'A'
                         UNION ALL SELECT 'relation ' OPERATOR(pg_catalog.||) c.oid::pg_catalog.regclass::pg_catalog.text, c.relowner, c.relnamespace
                                     FROM pg_catalog.pg_class c
                         UNION ALL SELECT 'text search configuration ' OPERATOR(pg_catalog.||) g.cfgname::pg_catalog.text, g.cfgowner, g.cfgnamespace FROM pg_catalog.pg_ts_config g
                         UNION ALL SELECT 'text search dictionary ' OPERATOR(pg_catalog.||) y.dictname::pg_catalog.text, y.dictowner, y.dictnamespace FROM pg_catalog.pg_ts_dict y
                         UNION ALL SELECT 'statistics ' OPERATOR(pg_catalog.||) z.stxname::pg_catalog.text, z.stxowner, z.stxnamespace FROM pg_catalog.pg_statistic_ext z
                         UNION ALL SELECT 'collation ' OPERATOR(pg_catalog.||) l.collname::pg_catalog.text, l.collowner, l.collnamespace FROM pg_catalog.pg_collation l
                         UNION ALL SELECT 'conversion ' OPERATOR(pg_catalog.||) v.conname::pg_catalog.text, v.conowner, v.connamespace FROM pg_catalog.pg_conversion v
                         UNION ALL SELECT 'operator class ' OPERATOR(pg_catalog.||) k.opcname::pg_catalog.text, k.opcowner, k.opcnamespace FROM pg_catalog.pg_opclass k
                         UNION ALL SELECT 'operator family ' OPERATOR(pg_catalog.||) f.opfname::pg_catalog.text, f.opfowner, f.opfnamespace FROM pg_catalog.pg_opfamily f) x
                   JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) x.nsp
                  WHERE n.nspname OPERATOR(pg_catalog.=) $1
                    AND NOT {} OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[])
                  LIMIT 3",
                role_label("x.owner"),
                acting_role("x.owner")
            ),
            &[
                (name.into_datum(), pg_sys::TEXTOID),
                (trusted.to_vec().into_datum(), pg_sys::OIDARRAYOID),
            ],
        )
    })
    .into_iter()
    .flatten()
    .collect();
    if planted.is_empty() {
        return Ok(());
    }
    Err(format!(
        "schema {name} holds {} — a role that is neither a superuser nor yours nor listed in revos.trusted_roles: an extension's script runs as you with that schema on its search_path, where such an object could be used instead of the one the script means (drop it, or create the extension in a schema that holds only trusted roles' objects)",
        planted.join("; ")
    ))
}

/// Err (why) when an object named `schema`.`name` of class `class` — `relation` (`pg_class`: a view,
/// a materialized view, a sequence, a partition), `routine` (every `pg_proc` row of the name: a
/// function, a procedure, an aggregate) or `type` (`pg_type`: a domain, an enum) — exists and is owned by a role
/// outside `trusted` (and, with `as_table`, not a `revos_admin` member either: the rule for the
/// payload's tables, for a relation that runs no code, a sequence or a partition). A payload that
/// declares it would adopt it as is — revos compared only its definition, and `CREATE OR REPLACE`
/// keeps its owner — and its owner could change it afterwards (replace a view's query, a function's
/// body) and have whoever uses it run that role's code (the adversarial review of the declared objects: a
/// superuser's apply took over a plain role's view, which the superuser then selected; the check on
/// the statements' names covered functions and operators only where they were named). Read under the
/// latest snapshot.
pub fn object_owner(
    class: &str,
    schema: &str,
    name: &str,
    trusted: &[pg_sys::Oid],
    as_table: bool,
) -> Result<(), String> {
    let found: Vec<Option<String>> = Spi::connect(|_| unsafe {
        latest(
            &format!(
                "SELECT pg_catalog.concat(pg_catalog.pg_describe_object(x.cls, x.oid, 0), ' is owned by ', {})
                   FROM pg_catalog.pg_namespace n
                  CROSS JOIN LATERAL (
                        SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, c.oid, c.relowner FROM pg_catalog.pg_class c
                         WHERE $1 OPERATOR(pg_catalog.=) 'relation' AND c.relnamespace OPERATOR(pg_catalog.=) n.oid
                           AND c.relname OPERATOR(pg_catalog.=) $3
                        UNION ALL
                        SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass::pg_catalog.oid, p.oid, p.proowner FROM pg_catalog.pg_proc p
                         WHERE $1 OPERATOR(pg_catalog.=) 'routine' AND p.pronamespace OPERATOR(pg_catalog.=) n.oid
                           AND p.proname OPERATOR(pg_catalog.=) $3
                        UNION ALL
                        SELECT 'pg_catalog.pg_type'::pg_catalog.regclass::pg_catalog.oid, t.oid, t.typowner FROM pg_catalog.pg_type t
                         WHERE $1 OPERATOR(pg_catalog.=) 'type' AND t.typnamespace OPERATOR(pg_catalog.=) n.oid
                           AND t.typname OPERATOR(pg_catalog.=) $3) x(cls, oid, owner)
                  WHERE n.nspname OPERATOR(pg_catalog.=) $2
                    AND NOT x.owner OPERATOR(pg_catalog.=) ANY ($4::pg_catalog.oid[])
                    AND NOT ($5 AND pg_catalog.pg_has_role(x.owner, 'revos_admin'::pg_catalog.name, 'MEMBER'))
                  ORDER BY x.oid LIMIT 1",
                role_label("x.owner")
            ),
            &[
                (class.into_datum(), pg_sys::TEXTOID),
                (schema.into_datum(), pg_sys::TEXTOID),
                (name.into_datum(), pg_sys::TEXTOID),
                (trusted.to_vec().into_datum(), pg_sys::OIDARRAYOID),
                (as_table.into_datum(), pg_sys::BOOLOID),
            ],
        )
    });
    match found.into_iter().next() {
        None => Ok(()),
        Some(whose) => Err(format!(
            "{} — a role that is neither a superuser nor yours nor listed in revos.trusted_roles{}: the payload declares it, and revos would adopt it as it is (it keeps its owner, who may change it afterwards — replace a view's query or a function's body — so that whoever uses it runs that role's code); ALTER … OWNER TO a trusted role or drop it, or — if you trust that role — have the extension's owner list it: INSERT INTO revos.trusted_roles (role) VALUES (…)",
            whose.unwrap_or_default(),
            if as_table { " nor a revos_admin member" } else { "" }
        )),
    }
}

/// The schemas of the installed extensions that extension `name` requires, in any of its versions, and
/// what those require in turn: `CREATE EXTENSION` and `ALTER EXTENSION … UPDATE` put the required
/// extensions' schemas on the script's search_path after its own (the thirteenth adversarial review,
/// F2: a database owner's function in `public`, where a required extension lived, ran as the superuser
/// creating the extension that requires it). Under the latest snapshot: one installed while the apply
/// waited for a lock counts (the fourteenth, G2).
pub fn extension_required_schemas(name: &str) -> Vec<String> {
    Spi::connect(|_| unsafe {
        latest(
            "WITH RECURSIVE req(name) AS (
                 SELECT r.name FROM pg_catalog.pg_available_extension_versions v, pg_catalog.unnest(v.requires) AS r(name)
                  WHERE v.name OPERATOR(pg_catalog.=) $1
                 UNION
                 SELECT r.name FROM req JOIN pg_catalog.pg_available_extension_versions v ON v.name OPERATOR(pg_catalog.=) req.name,
                        pg_catalog.unnest(v.requires) AS r(name))
             SELECT DISTINCT n.nspname::pg_catalog.text FROM req
               JOIN pg_catalog.pg_extension e ON e.extname OPERATOR(pg_catalog.=) req.name
               JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace",
            &[(name.into_datum(), pg_sys::TEXTOID)],
        )
    })
    .into_iter()
    .flatten()
    .collect()
}

/// Fails (42501) right before a payload's `CREATE EXTENSION` (`creating`) or `ALTER EXTENSION` runs,
/// as the catalog is now (the statements before it may have waited for locks): a schema on the
/// script's search_path — `home`, where it goes, and those of the installed extensions it requires —
/// is one another role controls or holds another role's objects ([`schema_creators`]), or, about to
/// be created, the extension already exists elsewhere or is another role's (`IF NOT EXISTS` would
/// keep it). The fourteenth adversarial review, G2 and G3: a database owner installed a required
/// extension in `public` while the apply waited, and its function there ran as the superuser.
pub fn check_extension_step(name: &str, home: &str, creating: bool, trusted: &[pg_sys::Oid]) {
    let mut why: Vec<String> = vec![];
    if let Err(w) = schema_creators(home, trusted) {
        why.push(w);
    }
    for required in extension_required_schemas(name) {
        if let Err(w) = schema_creators(&required, trusted) {
            why.push(format!(
                "it requires an extension installed in schema {required}: {w}"
            ));
        }
    }
    if creating {
        let found = Spi::connect(|_| unsafe {
            latest(
                &format!(
                    "SELECT pg_catalog.concat('it exists already, in schema ', pg_catalog.quote_ident(n.nspname::pg_catalog.text),
                                              ', owned by ', {})
                       FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
                      WHERE e.extname OPERATOR(pg_catalog.=) $1
                        AND (n.nspname OPERATOR(pg_catalog.<>) $2 OR NOT {} OPERATOR(pg_catalog.=) ANY ($3::pg_catalog.oid[]))",
                    role_label("e.extowner"),
                    acting_role("e.extowner")
                ),
                &[
                    (name.into_datum(), pg_sys::TEXTOID),
                    (home.into_datum(), pg_sys::TEXTOID),
                    (trusted.to_vec().into_datum(), pg_sys::OIDARRAYOID),
                ],
            )
        });
        why.extend(found.into_iter().flatten());
    }
    if !why.is_empty() {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("revos: refused: extension {name}: {}", why.join("; ")),
            "What is on the script's search_path changed while the apply waited; nothing was applied (docs/security.md, extensions)."
        );
    }
}

/// The roles outside `trusted` that own schema `name` or may create in it (PUBLIC included), quoted
/// (`pg_database_owner` stands for the database's owner); read under the latest snapshot.
fn creators_outside(name: &str, trusted: &[pg_sys::Oid]) -> Vec<String> {
    let found: Vec<Option<String>> = Spi::connect(|_| unsafe {
        latest(
            &format!(
                "SELECT {}
                   FROM pg_catalog.pg_namespace n,
                        LATERAL (SELECT n.nspowner AS role
                                 UNION SELECT a.grantee FROM pg_catalog.aclexplode(n.nspacl) a
                                        WHERE a.privilege_type OPERATOR(pg_catalog.=) 'CREATE') g,
                        LATERAL (SELECT {} AS role) r
                  WHERE n.nspname OPERATOR(pg_catalog.=) $1
                    AND NOT r.role OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[])",
                role_label("g.role"),
                acting_role("g.role")
            ),
            &[
                (name.into_datum(), pg_sys::TEXTOID),
                (trusted.to_vec().into_datum(), pg_sys::OIDARRAYOID),
            ],
        )
    });
    found
        .into_iter()
        .map(|r| r.unwrap_or_else(|| "PUBLIC".into()))
        .collect()
}

/// Err (why) when schema `name` exists and its owner (`pg_database_owner`: the database's owner)
/// is not in `trusted`: a schema's owner may drop any object in it, so it could replace a function,
/// a view or a table revos creates there with its own, which a trusted role's later call, query or
/// trigger would run (the seventh adversarial review, C). Read under the latest snapshot. Only the
/// owner: a role with CREATE there cannot drop what others own (the gate on the names a payload's
/// expressions use is stricter, `apply::expression_names`).
pub fn schema_owner(name: &str, trusted: &[pg_sys::Oid]) -> Result<(), String> {
    let found: Vec<Option<String>> = Spi::connect(|_| unsafe {
        latest(
            &format!(
                "SELECT pg_catalog.concat('schema ', pg_catalog.quote_ident(n.nspname::pg_catalog.text), ' is owned by ', {})
                   FROM pg_catalog.pg_namespace n
                  WHERE n.nspname OPERATOR(pg_catalog.=) $1
                    AND NOT {} OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[])",
                role_label("n.nspowner"),
                acting_role("n.nspowner")
            ),
            &[
                (name.into_datum(), pg_sys::TEXTOID),
                (trusted.to_vec().into_datum(), pg_sys::OIDARRAYOID),
            ],
        )
    });
    match found.into_iter().next() {
        None => Ok(()),
        Some(whose) => Err(format!(
            "{} — a role that is neither a superuser nor yours nor listed in revos.trusted_roles: a schema's owner may drop what revos creates there and put its own in its place, which you (or anyone) would then run (ALTER SCHEMA … OWNER TO a trusted role, use another schema, or — if you trust that role — have the extension's owner list it: INSERT INTO revos.trusted_roles (role) VALUES (…))",
            whose.unwrap_or_default()
        )),
    }
}

/// Fails (42501) when `table`'s owner is not in `trusted` — the deferred worker's check before
/// each batch and each `VALIDATE`, as strict as the decision to defer (`apply::online::foreign_owned`):
/// a role that owns the table's schema (a database owner owns `public`) may drop the applier's table
/// after the commit and put its own under the name, with a constraint of the same name `NOT VALID`
/// calling `pg_catalog.lo_export`; `check` admits a `revos_admin` member's table (adversarial review 5).
pub fn check_owner(table: pg_sys::Oid, trusted: &[pg_sys::Oid]) {
    let foreign: Option<String> = Spi::get_one_with_args(
        "SELECT (SELECT pg_catalog.quote_ident(r.rolname::pg_catalog.text) FROM pg_catalog.pg_class k
                   JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) k.relowner
                  WHERE k.oid OPERATOR(pg_catalog.=) $1 AND NOT k.relowner OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[]))",
        &[table.into(), trusted.to_vec().into()],
    )
    .unwrap_or_else(|e| pgrx::error!("revos: reading the table's owner failed: {e}"));
    if let Some(owner) = foreign {
        pgrx::ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("revos: refused: the table is now owned by {owner}, a role the applying role does not trust (neither itself, nor a superuser, nor listed in revos.trusted_roles): no deferred step runs on it"),
            "The table was replaced or given away after the apply; apply again (its steps then run in the transaction)."
        );
    }
}

/// The superusers, the caller, and the roles the extension's owner lists in `revos.trusted_roles` —
/// not the roles the caller is a member of (the eighth and ninth adversarial reviews): membership is
/// what other roles can arrange. A role with ADMIN OPTION on R ran `GRANT R TO postgres` after putting
/// its objects under R (D1); a group's other members put theirs under it (`revos_admin`, D2); a
/// group's admin put its objects under the group and then revoked its own membership, leaving the
/// caller R's only member (F1); a login role the caller was granted is used by whoever logs in as it
/// (F2). Which roles to trust is a decision the extension's owner writes down.
const TRUSTED_SQL: &str = r#"
SELECT pg_catalog.array_agg(r.oid) FROM pg_catalog.pg_roles r
 WHERE r.rolsuper OR r.rolname OPERATOR(pg_catalog.=) CURRENT_USER
    OR r.oid OPERATOR(pg_catalog.=) ANY (SELECT t.role::pg_catalog.oid FROM ONLY revos.trusted_roles t)
"#;
/// Why `revos.trusted_roles` is not to be read (NULL: it is intact): `absent` (the extension is not
/// updated yet), or not a member of the extension, not owned by the extension's owner, writable by
/// another role (anything but SELECT granted to a role other than its owner, on the table or a
/// column), inherited from, or with a trigger (but revos's `written_by_revos`), a rule, row level
/// security or a policy.
static LIST_INTACT_SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        r#"
SELECT CASE
  WHEN c.oid IS NULL THEN 'absent'
  WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                    WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
                      AND d.objid OPERATOR(pg_catalog.=) c.oid
                      AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
                      AND d.refobjid OPERATOR(pg_catalog.=) e.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')
    THEN 'it is not the extension''s own table'
  WHEN c.relowner OPERATOR(pg_catalog.<>) e.extowner THEN 'it is not owned by the extension''s owner'
  {WRITABLE_BY_OTHERS}
  WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhparent OPERATOR(pg_catalog.=) c.oid)
    THEN 'a table inherits from it'
  WHEN c.relrowsecurity
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid OPERATOR(pg_catalog.=) c.oid
                    -- but revos's own (sql/finalize.sql: only the owner or a superuser writes it)
                    AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc f, pg_catalog.pg_depend d
                                     WHERE f.oid OPERATOR(pg_catalog.=) t.tgfoid
                                       AND f.proname OPERATOR(pg_catalog.=) 'written_by_revos'
                                       AND t.tgqual IS NULL
                                       AND d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                       AND d.objid OPERATOR(pg_catalog.=) f.oid
                                       AND d.refobjid OPERATOR(pg_catalog.=) e.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'))
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite w WHERE w.ev_class OPERATOR(pg_catalog.=) c.oid)
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_policy p WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid)
    THEN 'it has a trigger, a rule, row level security or a policy'
END
  FROM pg_catalog.pg_extension e
  LEFT JOIN pg_catalog.pg_class c
    ON c.relname OPERATOR(pg_catalog.=) 'trusted_roles'
   AND c.relnamespace OPERATOR(pg_catalog.=) e.extnamespace AND c.relkind OPERATOR(pg_catalog.=) 'r'
 WHERE e.extname OPERATOR(pg_catalog.=) 'revos'
"#
    )
});

/// SQL `WHEN … THEN why` arms over a `pg_class` row `c`: a role other than its owner may change the
/// table — anything but SELECT granted on it or on a column, or a non-superuser in `pg_write_all_data`.
const WRITABLE_BY_OTHERS: &str = r#"WHEN EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) a
                WHERE a.grantee OPERATOR(pg_catalog.<>) c.relowner
                  AND a.privilege_type OPERATOR(pg_catalog.<>) 'SELECT')
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute t, pg_catalog.aclexplode(t.attacl) a
                   WHERE t.attrelid OPERATOR(pg_catalog.=) c.oid
                     AND a.grantee OPERATOR(pg_catalog.<>) c.relowner
                     AND a.privilege_type OPERATOR(pg_catalog.<>) 'SELECT')
    THEN 'a role other than its owner may change it (default privileges?)'
  WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
               WHERE NOT r.rolsuper AND r.rolname OPERATOR(pg_catalog.<>) 'pg_write_all_data'
                 AND pg_catalog.pg_has_role(r.oid, 'pg_write_all_data'::pg_catalog.regrole, 'MEMBER'))
    THEN 'a role other than a superuser is a member of pg_write_all_data, which may change every table'"#;
/// As [`TRUSTED_SQL`] before `ALTER EXTENSION revos UPDATE` created the list: none is listed.
const UNLISTED_SQL: &str = r#"
SELECT pg_catalog.array_agg(r.oid) FROM pg_catalog.pg_roles r
 WHERE r.rolsuper OR r.rolname OPERATOR(pg_catalog.=) CURRENT_USER
"#;

/// Functions and operators owned by a role outside $1, outside the system schemas.
const SQUAT_SQL: &str = r#"
SELECT pg_catalog.replace(pg_catalog.lower(n.nspname::pg_catalog.text), '"', ''), pg_catalog.replace(pg_catalog.lower(p.proname::pg_catalog.text), '"', ''),
       p.oid::pg_catalog.regprocedure::pg_catalog.text OPERATOR(pg_catalog.||) ', owned by '
         OPERATOR(pg_catalog.||) pg_catalog.quote_ident(r.rolname), false
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) p.proowner
 WHERE NOT p.proowner OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[])
   AND n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema', 'revos']::pg_catalog.name[])
UNION ALL
SELECT pg_catalog.replace(pg_catalog.lower(n.nspname::pg_catalog.text), '"', ''), o.oprname::pg_catalog.text,
       'operator ' OPERATOR(pg_catalog.||) o.oid::pg_catalog.regoperator::pg_catalog.text OPERATOR(pg_catalog.||) ', owned by '
         OPERATOR(pg_catalog.||) pg_catalog.quote_ident(r.rolname), true
  FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace
  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) o.oprowner
 WHERE NOT o.oprowner OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[])
   AND n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema', 'revos']::pg_catalog.name[])
"#;

/// The tables $1, their inheritance and partition descendants, and their partition ancestors.
const HIERARCHY_SQL: &str = r#"
WITH RECURSIVE down(rel) AS (
    SELECT r FROM pg_catalog.unnest($1::pg_catalog.oid[]) r
    UNION
    SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN down ON i.inhparent OPERATOR(pg_catalog.=) down.rel
), up(rel) AS (
    SELECT r FROM pg_catalog.unnest($1::pg_catalog.oid[]) r
    UNION
    SELECT i.inhparent FROM pg_catalog.pg_inherits i JOIN up ON i.inhrelid OPERATOR(pg_catalog.=) up.rel
)
SELECT rel::pg_catalog.text FROM down UNION SELECT rel::pg_catalog.text FROM up
"#;

/// What refuses a table (see the module's comment): $1 the tables, $2 the trusted roles, $3
/// whether the tables' owners count, $4 the relations whose parts' code counts (the tables'
/// hierarchy).
const REFUSED_SQL: &str = r#"
WITH t(rel) AS (SELECT r FROM pg_catalog.unnest($1::pg_catalog.oid[]) r),
h(rel) AS (SELECT r FROM pg_catalog.unnest($4::pg_catalog.oid[]) r),
parts(classid, objid) AS (
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass::pg_catalog.oid, h.rel FROM h
    UNION ALL
    SELECT 'pg_catalog.pg_attrdef'::pg_catalog.regclass, d.oid FROM pg_catalog.pg_attrdef d JOIN h ON d.adrelid OPERATOR(pg_catalog.=) h.rel
    UNION ALL
    SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass, c.oid FROM pg_catalog.pg_constraint c JOIN h ON c.conrelid OPERATOR(pg_catalog.=) h.rel
    UNION ALL
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, i.indexrelid FROM pg_catalog.pg_index i JOIN h ON i.indrelid OPERATOR(pg_catalog.=) h.rel
    UNION ALL
    SELECT 'pg_catalog.pg_policy'::pg_catalog.regclass, p.oid FROM pg_catalog.pg_policy p JOIN h ON p.polrelid OPERATOR(pg_catalog.=) h.rel
    UNION ALL
    SELECT 'pg_catalog.pg_trigger'::pg_catalog.regclass, g.oid FROM pg_catalog.pg_trigger g JOIN h ON g.tgrelid OPERATOR(pg_catalog.=) h.rel
     WHERE NOT g.tgisinternal
    UNION ALL
    SELECT 'pg_catalog.pg_rewrite'::pg_catalog.regclass, w.oid FROM pg_catalog.pg_rewrite w JOIN h ON w.ev_class OPERATOR(pg_catalog.=) h.rel
    UNION ALL
    SELECT 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass, x.oid FROM pg_catalog.pg_statistic_ext x JOIN h ON x.stxrelid OPERATOR(pg_catalog.=) h.rel
),
refs AS (
    SELECT DISTINCT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid
      FROM pg_catalog.pg_depend d
      JOIN parts p ON p.classid OPERATOR(pg_catalog.=) d.classid AND p.objid OPERATOR(pg_catalog.=) d.objid
     WHERE d.deptype OPERATOR(pg_catalog.=) 'n'
),
owned AS (
    SELECT r.*, o.nsp, o.owner, o.kind
      FROM refs r
      CROSS JOIN LATERAL (
        SELECT f.pronamespace, f.proowner, 'function' FROM pg_catalog.pg_proc f
         WHERE r.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass AND f.oid OPERATOR(pg_catalog.=) r.refobjid
        UNION ALL
        SELECT y.typnamespace, y.typowner, 'type' FROM pg_catalog.pg_type y
         WHERE r.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass AND y.oid OPERATOR(pg_catalog.=) r.refobjid
        UNION ALL
        SELECT x.oprnamespace, x.oprowner, 'operator' FROM pg_catalog.pg_operator x
         WHERE r.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_operator'::pg_catalog.regclass AND x.oid OPERATOR(pg_catalog.=) r.refobjid
        UNION ALL
        SELECT l.collnamespace, l.collowner, 'collation' FROM pg_catalog.pg_collation l
         WHERE r.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_collation'::pg_catalog.regclass AND l.oid OPERATOR(pg_catalog.=) r.refobjid
        UNION ALL
        SELECT k.relnamespace, k.relowner, 'relation' FROM pg_catalog.pg_class k
         WHERE r.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass AND k.oid OPERATOR(pg_catalog.=) r.refobjid
      ) o(nsp, owner, kind)
)
SELECT pg_catalog.pg_describe_object(w.classid, w.objid, w.objsubid) OPERATOR(pg_catalog.||) ' depends on '
       OPERATOR(pg_catalog.||) pg_catalog.pg_describe_object(w.refclassid, w.refobjid, 0)
       OPERATOR(pg_catalog.||) CASE WHEN n.nspname OPERATOR(pg_catalog.~) '^pg_(toast_)?temp_'
                                    THEN ', a temporary object of a session'
                                    ELSE ', owned by ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(ro.rolname) END
  FROM owned w
  JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) w.nsp
  JOIN pg_catalog.pg_roles ro ON ro.oid OPERATOR(pg_catalog.=) w.owner
 WHERE n.nspname OPERATOR(pg_catalog.~) '^pg_(toast_)?temp_'
    OR (w.kind OPERATOR(pg_catalog.<>) 'relation'
        AND n.nspname OPERATOR(pg_catalog.<>) 'pg_catalog'
        AND NOT w.owner OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[]))
    OR (w.kind OPERATOR(pg_catalog.=) 'relation'
        AND w.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass
        AND NOT w.refobjid OPERATOR(pg_catalog.=) ANY (SELECT p.polrelid FROM pg_catalog.pg_policy p
                                                       WHERE p.oid OPERATOR(pg_catalog.=) w.objid)
        AND NOT w.owner OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[])
        AND NOT pg_catalog.pg_has_role(w.owner, 'revos_admin'::pg_catalog.name, 'MEMBER'))
    -- a default of the payload's tables naming a relation (a sequence: nextval('s'::regclass))
    -- owned by a role such a table could not be owned by (the adversarial review of the declared
    -- objects: a table's default was bound to another role's sequence, which its owner may set,
    -- alter or drop)
    OR (w.kind OPERATOR(pg_catalog.=) 'relation' AND $3
        AND w.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_attrdef'::pg_catalog.regclass
        AND NOT w.owner OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[])
        AND NOT pg_catalog.pg_has_role(w.owner, 'revos_admin'::pg_catalog.name, 'MEMBER'))
UNION ALL
SELECT pg_catalog.pg_describe_object('pg_catalog.pg_class'::pg_catalog.regclass, k.oid, 0)
       OPERATOR(pg_catalog.||) ' is owned by ' OPERATOR(pg_catalog.||) pg_catalog.quote_ident(ro.rolname)
       OPERATOR(pg_catalog.||) ', a role neither yours, nor a superuser, nor a revos_admin member: its owner bypasses row-level security'
  FROM t JOIN pg_catalog.pg_class k ON k.oid OPERATOR(pg_catalog.=) t.rel
  JOIN pg_catalog.pg_roles ro ON ro.oid OPERATOR(pg_catalog.=) k.relowner
 WHERE $3
   AND NOT k.relowner OPERATOR(pg_catalog.=) ANY ($2::pg_catalog.oid[])
   AND NOT pg_catalog.pg_has_role(k.relowner, 'revos_admin'::pg_catalog.name, 'MEMBER')
 ORDER BY 1
"#;

#[cfg(test)]
mod tests {
    use super::named_before;

    #[test]
    fn a_name_counts_as_a_word_of_its_own_before_its_mark() {
        let sql = "create index on t (code) where public . sq_norm (code) <> 'x' and mypublic.f(1)";
        assert!(named_before(sql, "public", '.'));
        assert!(named_before(sql, "sq_norm", '('));
        assert!(!named_before(sql, "norm", '('), "part of sq_norm");
        assert!(
            !named_before("sq_norm2(code)", "sq_norm", '('),
            "another name"
        );
        assert!(
            !named_before("mypublic.f(1)", "public", '.'),
            "part of mypublic"
        );
        assert!(!named_before("code", "code", '('), "a column");
    }
}
