//! The drift capture's record of a concurrent command at its start.
//!
//! `CREATE INDEX CONCURRENTLY`, `REINDEX … CONCURRENTLY` (PostgreSQL 17+ fires event triggers for
//! REINDEX) and `ALTER TABLE … DETACH PARTITION … CONCURRENTLY` commit their first part before they end: canceled or
//! failing after that, they leave it in the catalog (an INVALID index, a pending detach) while
//! `ddl_command_end`, which records the command, never fires. So at `ddl_command_start` such a
//! command on a managed table is also recorded — a `schema_drift_detected` event whose payload has
//! `"phase": "begun"` — written in the command's first transaction, so it commits with the
//! command's first part (and rolls back with it when the command fails before). A command that ends
//! is recorded again at its end, as any DDL; a `begun` event with no event of its end is a command
//! that left its first part behind.
//!
//! The tables are the ones the command's own names resolve to, resolved here in the caller's own
//! context (its role, its search_path, before the gate pins revos's), as the command resolves them:
//! the privileged worker `revos.drift_begun_run(text, oid)` is given OIDs, never a name.

use pgrx::pg_sys;

/// The tables a concurrent command acts on (an index's table for an index), or none when the
/// command is not one of the concurrent forms. Names that resolve to nothing are left out (the
/// command then fails on them).
///
/// # Safety
/// `tree` is the command's parse tree (`EventTriggerData.parsetree`), valid for the call.
pub unsafe fn concurrent_tables(tree: *mut pg_sys::Node) -> Vec<pg_sys::Oid> {
    if tree.is_null() {
        return vec![];
    }
    let mut out = vec![];
    for rel in concurrent_relations(tree) {
        let table = table_of(rel);
        if table != pg_sys::InvalidOid && !out.contains(&table) {
            out.push(table);
        }
    }
    out
}

/// The relations a concurrent command names (indexes as indexes), resolved as the command does.
unsafe fn concurrent_relations(tree: *mut pg_sys::Node) -> Vec<pg_sys::Oid> {
    match (*tree).type_ {
        pg_sys::NodeTag::T_IndexStmt => {
            let x = tree as *mut pg_sys::IndexStmt;
            if (*x).concurrent {
                resolve((*x).relation).into_iter().collect()
            } else {
                vec![]
            }
        }
        // DROP INDEX CONCURRENTLY is not among them: PostgreSQL refuses it unless it is the first
        // action of its transaction (no transaction id yet), and an event written here takes one.
        // Canceled after its first commit, it leaves the index INVALID but still maintained (a
        // unique one still refuses duplicates); the next apply rebuilds a declared INVALID index.
        pg_sys::NodeTag::T_ReindexStmt => reindexed(tree as *mut pg_sys::ReindexStmt),
        pg_sys::NodeTag::T_AlterTableStmt => detached(tree as *mut pg_sys::AlterTableStmt),
        _ => vec![],
    }
}

/// `REINDEX INDEX|TABLE … CONCURRENTLY`'s relation (PostgreSQL 17+ fires event triggers for
/// REINDEX; a SCHEMA, DATABASE or SYSTEM reindex names no table and is not followed here).
unsafe fn reindexed(x: *mut pg_sys::ReindexStmt) -> Vec<pg_sys::Oid> {
    let concurrently = elements((*x).params).into_iter().any(|d| {
        let d = d as *mut pg_sys::DefElem;
        !(*d).defname.is_null()
            && std::ffi::CStr::from_ptr((*d).defname).to_bytes() == b"concurrently"
            && pg_sys::defGetBoolean(d)
    });
    if !concurrently || (*x).relation.is_null() {
        return vec![];
    }
    resolve((*x).relation).into_iter().collect()
}

/// `ALTER TABLE parent DETACH PARTITION part CONCURRENTLY`: the parent and the partition.
unsafe fn detached(x: *mut pg_sys::AlterTableStmt) -> Vec<pg_sys::Oid> {
    let mut out = vec![];
    for cmd in elements((*x).cmds) {
        let cmd = cmd as *mut pg_sys::AlterTableCmd;
        if (*cmd).subtype != pg_sys::AlterTableType::AT_DetachPartition || (*cmd).def.is_null() {
            continue;
        }
        let p = (*cmd).def as *mut pg_sys::PartitionCmd;
        if (*p).concurrent {
            out.extend(resolve((*x).relation));
            out.extend(resolve((*p).name));
        }
    }
    out
}

/// A name resolved as the command resolves it (the caller's search_path; no lock: the command
/// takes its own), or None when it names nothing.
unsafe fn resolve(rv: *mut pg_sys::RangeVar) -> Option<pg_sys::Oid> {
    if rv.is_null() {
        return None;
    }
    let oid = pg_sys::RangeVarGetRelidExtended(
        rv,
        pg_sys::NoLock as pg_sys::LOCKMODE,
        pg_sys::RVROption::RVR_MISSING_OK,
        None,
        std::ptr::null_mut(),
    );
    (oid != pg_sys::InvalidOid).then_some(oid)
}

/// The table of an index, or the relation itself.
unsafe fn table_of(rel: pg_sys::Oid) -> pg_sys::Oid {
    let kind = pg_sys::get_rel_relkind(rel) as u8;
    if kind == pg_sys::RELKIND_INDEX || kind == pg_sys::RELKIND_PARTITIONED_INDEX {
        pg_sys::IndexGetRelation(rel, true)
    } else {
        rel
    }
}

/// A list's pointers.
unsafe fn elements(list: *mut pg_sys::List) -> Vec<*mut std::ffi::c_void> {
    if list.is_null() {
        return vec![];
    }
    (0..(*list).length as usize)
        .map(|i| (*(*list).elements.add(i)).ptr_value)
        .collect()
}
