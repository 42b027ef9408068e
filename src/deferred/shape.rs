//! What a deferred step's statement may be, checked on its parse tree before it runs.
//!
//! The worker runs a step's recorded text at the top level, as the role that applied it (a
//! superuser, often). The text was written by revos under `standard_conforming_strings = on` and
//! is parsed again in the worker: whatever makes that second reading differ (a setting, a bug in
//! how a plan writes a literal) must not turn one statement into another — the eighteenth
//! adversarial review showed a check's text read under `off` become `ADD COLUMN … DEFAULT
//! pg_read_file(…)` and `OWNER TO`. So the statement runs only when its raw parse tree, from the
//! very parse that is executed, is exactly the one command its completion names, on its table:
//!
//! | completion  | the one statement allowed                                                  |
//! |-------------|----------------------------------------------------------------------------|
//! | `Index`     | `CREATE [UNIQUE] INDEX CONCURRENTLY <name> ON <schema>.<table> …` (unique as recorded) |
//! | `Added`     | `ALTER TABLE <schema>.<table> ADD CONSTRAINT <name> CHECK (…) NOT VALID` (revos's NOT NULL helper, after a backfill) |
//! | `Validated` | `ALTER TABLE <schema>.<table> VALIDATE CONSTRAINT <name>`, or `ADD CONSTRAINT <name> UNIQUE USING INDEX <name>` |
//! | `NotNull`   | `ALTER TABLE <schema>.<table> ALTER COLUMN <column> SET NOT NULL`           |
//! | `Dropped`   | `ALTER TABLE <schema>.<table> DROP CONSTRAINT <name>`                       |
//!
//! Any other statement, a second subcommand, another table or name: 42501, nothing runs. (A
//! backfill's statements are built by `crate::deferred::backfill`, not read from the step.)

use pgrx::pg_sys;
use std::ffi::CStr;

use crate::schema::online::Completion;

/// Raises 42501 unless `stmt` (a raw statement's node) is the statement `c` allows.
///
/// # Safety
/// `stmt` is a node of a raw parse tree, valid for the call.
pub unsafe fn check(stmt: *mut pg_sys::Node, c: &Completion) {
    if let Err(why) = allowed(stmt, c) {
        pgrx::ereport!(
            ERROR,
            pgrx::PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("revos deferred: the step's statement is not the one recorded for it ({why}); nothing ran")
        );
    }
}

unsafe fn text(p: *const std::ffi::c_char) -> Option<&'static str> {
    (!p.is_null())
        .then(|| CStr::from_ptr(p).to_str().ok())
        .flatten()
}

unsafe fn on_table(rel: *mut pg_sys::RangeVar, schema: &str, table: &str) -> Result<(), String> {
    if rel.is_null() {
        return Err("no table".into());
    }
    let (s, t) = (text((*rel).schemaname), text((*rel).relname));
    if s != Some(schema) || t != Some(table) || !(*rel).catalogname.is_null() {
        return Err(format!(
            "on {}.{}, not {schema}.{table}",
            s.unwrap_or("?"),
            t.unwrap_or("?")
        ));
    }
    Ok(())
}

unsafe fn allowed(stmt: *mut pg_sys::Node, c: &Completion) -> Result<(), String> {
    if stmt.is_null() {
        return Err("no statement".into());
    }
    let (schema, table) = c.table();
    if let Completion::Index { name, unique, .. } = c {
        if (*stmt).type_ != pg_sys::NodeTag::T_IndexStmt {
            return Err("not CREATE INDEX".into());
        }
        let x = stmt as *mut pg_sys::IndexStmt;
        on_table((*x).relation, schema, table)?;
        if text((*x).idxname) != Some(name.as_str()) {
            return Err("another index name".into());
        }
        if !(*x).concurrent || (*x).unique != *unique || (*x).primary || (*x).isconstraint {
            return Err("another kind of index".into());
        }
        return Ok(());
    }
    if (*stmt).type_ != pg_sys::NodeTag::T_AlterTableStmt {
        return Err("not ALTER TABLE".into());
    }
    let a = stmt as *mut pg_sys::AlterTableStmt;
    if (*a).objtype != pg_sys::ObjectType::OBJECT_TABLE || (*a).missing_ok {
        return Err("not ALTER TABLE".into());
    }
    on_table((*a).relation, schema, table)?;
    if !(*(*a).relation).inh {
        return Err("ONLY".into());
    }
    let cmds = (*a).cmds;
    if cmds.is_null() || (*cmds).length != 1 {
        return Err("not exactly one subcommand".into());
    }
    let cmd = (*(*cmds).elements).ptr_value as *mut pg_sys::AlterTableCmd;
    if cmd.is_null() || (*cmd).type_ != pg_sys::NodeTag::T_AlterTableCmd {
        return Err("not a subcommand".into());
    }
    subcommand(cmd, c)
}

unsafe fn subcommand(cmd: *mut pg_sys::AlterTableCmd, c: &Completion) -> Result<(), String> {
    use pg_sys::AlterTableType as At;
    let sub = (*cmd).subtype;
    let named = |n: &str| text((*cmd).name) == Some(n);
    let ok = match c {
        Completion::NotNull { column, .. } => sub == At::AT_SetNotNull && named(column),
        Completion::Dropped { name, .. } => {
            sub == At::AT_DropConstraint && named(name) && !(*cmd).missing_ok
        }
        Completion::Validated { name, .. } if sub == At::AT_ValidateConstraint => named(name),
        Completion::Validated { name, .. } => {
            sub == At::AT_AddConstraint
                && constraint((*cmd).def, pg_sys::ConstrType::CONSTR_UNIQUE, name)
                    .is_some_and(|k| text((*k).indexname) == Some(name.as_str()))
        }
        // revos's NOT NULL helper (after a batched backfill)
        Completion::Added { name, .. } => {
            sub == At::AT_AddConstraint
                && constraint((*cmd).def, pg_sys::ConstrType::CONSTR_CHECK, name)
                    .is_some_and(|k| (*k).skip_validation && !(*k).is_no_inherit)
        }
        Completion::Index { .. } | Completion::Backfilled { .. } => false,
    };
    if ok {
        Ok(())
    } else {
        Err("another subcommand".into())
    }
}

/// `def` as a constraint of kind `kind` named `name`.
unsafe fn constraint(
    def: *mut pg_sys::Node,
    kind: pg_sys::ConstrType::Type,
    name: &str,
) -> Option<*mut pg_sys::Constraint> {
    if def.is_null() || (*def).type_ != pg_sys::NodeTag::T_Constraint {
        return None;
    }
    let k = def as *mut pg_sys::Constraint;
    ((*k).contype == kind && text((*k).conname) == Some(name)).then_some(k)
}
