//! The counts that gate a change, read without planning a query over the table (the sixth
//! adversarial review).
//!
//! Planning a query over a table evaluates code its owner chose: an `IMMUTABLE` function with
//! constant arguments in an index predicate or expression, in a statistics object's expression,
//! in a partitioned parent's key (under a caller-set `constraint_exclusion = on`), in a check.
//! revos's gate counts (rows, NULLs, enum labels in use, values a type change alters) must see
//! every row, so that the caller's row-level security hides none; they were read by a
//! `SELECT count(*)` as the extension's owner behind a check of that code, which an owner could
//! outrun (an index added between the check and the count, or invisible to a `REPEATABLE READ`
//! snapshot that the planner's caches ignore) or sidestep (the partitioned parent was not
//! checked). Here the rows are read by a sequential scan of the table's access method, in C,
//! under the transaction's snapshot: no planner, no executor, no policy, no trigger, no name
//! resolved once the table's OID is locked — no code of the table's owner runs, whoever asks.
//!
//! A hierarchy with a foreign table or a Citus table (their rows live elsewhere) is
//! [`Found::Elsewhere`]: counted by SQL (`pg_catalog::owner_view`).

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;
use std::ffi::CString;

/// Where `schema.table`'s rows are.
pub enum Found {
    /// In these relations (the table and its inheritance and partition descendants, locked
    /// ACCESS SHARE until the transaction ends), read here.
    Here(Vec<pg_sys::Oid>),
    /// Some of them in a foreign table or on Citus nodes: the relations, and whether one is foreign.
    Elsewhere(Vec<pg_sys::Oid>, bool),
    /// No such table.
    Missing,
}

/// Locks `schema.table` (ACCESS SHARE), then its descendants, and says where its rows are.
pub fn locate(schema: &str, table: &str) -> Found {
    let Some(root) = locked(schema, table) else {
        return Found::Missing;
    };
    // read after the lock: what was dropped or attached meanwhile is seen
    let rels: Vec<(pg_sys::Oid, String)> = Spi::connect(|c| {
        let rows = c.select(
            "WITH RECURSIVE t(oid) AS (
                 SELECT $1::pg_catalog.oid
                 UNION
                 SELECT i.inhrelid FROM pg_catalog.pg_inherits i JOIN t ON i.inhparent OPERATOR(pg_catalog.=) t.oid)
             SELECT c.oid, c.relkind::pg_catalog.text FROM t JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.oid",
            None,
            &[root.into()],
        )?;
        let mut out = vec![];
        for row in rows {
            if let (Some(o), Some(k)) = (row.get::<pg_sys::Oid>(1)?, row.get::<String>(2)?) {
                out.push((o, k));
            }
        }
        Ok::<_, pgrx::spi::Error>(out)
    })
    .unwrap_or_else(|e| pgrx::error!("revos: reading the partitions of {schema}.{table} failed: {e}"));
    if rels.is_empty() {
        return Found::Missing;
    }
    let oids: Vec<pg_sys::Oid> = rels.iter().map(|r| r.0).collect();
    for &o in &oids[1..] {
        unsafe { pg_sys::LockRelationOid(o, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
    }
    let foreign = rels.iter().any(|r| r.1 == "f");
    if foreign || on_citus(&oids) {
        return Found::Elsewhere(oids, foreign);
    }
    Found::Here(oids)
}

/// `schema.table`'s OID, locked ACCESS SHARE, looked up again after the lock (as PostgreSQL does
/// for a statement: a table renamed or replaced while revos waited is seen), from the catalog
/// caches (no search_path, no SQL).
fn locked(schema: &str, table: &str) -> Option<pg_sys::Oid> {
    let mut held = None;
    for _ in 0..5 {
        let now = relation(schema, table)?;
        if held == Some(now) {
            return held;
        }
        unsafe { pg_sys::LockRelationOid(now, pg_sys::AccessShareLock as pg_sys::LOCKMODE) };
        held = Some(now);
    }
    pgrx::error!("revos: {schema}.{table} keeps being replaced while it is counted")
}

/// The OID `schema.table` names now (the catalog caches: what the latest commit says).
pub fn relation(schema: &str, table: &str) -> Option<pg_sys::Oid> {
    let (s, t) = (CString::new(schema).ok()?, CString::new(table).ok()?);
    unsafe {
        let nsp = pg_sys::get_namespace_oid(s.as_ptr(), true);
        if nsp == pg_sys::InvalidOid {
            return None;
        }
        let rel = pg_sys::get_relname_relid(t.as_ptr(), nsp);
        (rel != pg_sys::InvalidOid).then_some(rel)
    }
}

/// Whether Citus places one of `rels` (its rows are on the nodes, not here).
fn on_citus(rels: &[pg_sys::Oid]) -> bool {
    let citus = Spi::get_one::<bool>(
        "SELECT pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL",
    )
    .ok()
    .flatten()
    .unwrap_or(false);
    citus
        && Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_dist_partition p
                             WHERE p.logicalrelid::pg_catalog.oid OPERATOR(pg_catalog.=) ANY ($1::pg_catalog.oid[]))",
            &[rels.to_vec().into()],
        )
        .unwrap_or_else(|e| pgrx::error!("revos: reading Citus's placement failed: {e}"))
        .unwrap_or(false)
}

/// The number of rows; with `column`, of rows where it is NULL.
pub fn count(rels: &[pg_sys::Oid], column: Option<&str>) -> i64 {
    let mut n = 0;
    each_value(rels, column, |_, null| {
        n += i64::from(column.is_none() || null);
        true
    });
    n
}

/// Whether there is a row.
pub fn any(rels: &[pg_sys::Oid]) -> bool {
    let mut found = false;
    each_value(rels, None, |_, _| {
        found = true;
        false
    });
    found
}

/// The number of rows whose `column` (of the enum type, or an array of it) holds one of `labels`
/// (the labels' `pg_enum` OIDs, which are the values an enum datum holds).
pub fn count_labels(
    rels: &[pg_sys::Oid],
    column: &str,
    array: bool,
    labels: &[pg_sys::Oid],
) -> i64 {
    let mut n = 0;
    let mut scratch = PgMemoryContexts::new("revos enum scan");
    each_value(rels, Some(column), |d, null| {
        if null {
            return true;
        }
        let hit = if array {
            unsafe { scratch.switch_to(|_| array_holds(d, labels)) }
        } else {
            labels.contains(&pg_sys::Oid::from(d.value() as u32))
        };
        unsafe { pg_sys::MemoryContextReset(scratch.value()) };
        n += i64::from(hit);
        true
    });
    n
}

unsafe fn array_holds(d: pg_sys::Datum, labels: &[pg_sys::Oid]) -> bool {
    let arr = pg_sys::pg_detoast_datum(d.cast_mut_ptr()) as *mut pg_sys::ArrayType;
    let (mut elems, mut nulls, mut n) = (std::ptr::null_mut(), std::ptr::null_mut(), 0);
    let elem_type = (*arr).elemtype;
    pg_sys::deconstruct_array(
        arr,
        elem_type,
        4,
        true,
        pg_sys::TYPALIGN_INT as std::ffi::c_char,
        &mut elems,
        &mut nulls,
        &mut n,
    );
    (0..n as usize).any(|i| {
        !*nulls.add(i) && labels.contains(&pg_sys::Oid::from((*elems.add(i)).value() as u32))
    })
}

/// The number of non-NULL values of `column` for which `changed`, a condition on `v`, holds:
/// the values are handed to `changed_sql`'s query in arrays of `BATCH` (the query reads no table).
pub fn count_where(rels: &[pg_sys::Oid], column: &str, changed: &str) -> i64 {
    const BATCH: usize = 10_000;
    // and at most this many bytes of values at once (ten thousand 1 MB values would take 10 GB:
    // the adversarial review of 1d8f8d6)
    const BATCH_BYTES: usize = 16 << 20;
    let mut batch = PgMemoryContexts::new("revos value batch");
    let (mut values, mut n, mut ty, mut bytes) = (Vec::with_capacity(BATCH), 0i64, None, 0usize);
    each_value_typed(rels, column, |d, null, typ| {
        if null {
            return true;
        }
        ty = Some(typ);
        let (copy, size) = unsafe { batch.switch_to(|_| copy_datum(d, typ)) };
        values.push(copy);
        bytes += size;
        if values.len() == BATCH || bytes >= BATCH_BYTES {
            bytes = 0;
            n += unsafe { batch.switch_to(|_| count_batch(&values, typ, changed)) };
            values.clear();
            unsafe { pg_sys::MemoryContextReset(batch.value()) };
        }
        true
    });
    if let (Some(typ), false) = (ty, values.is_empty()) {
        n += unsafe { batch.switch_to(|_| count_batch(&values, typ, changed)) };
    }
    n
}

/// A column's type: OID, length, by value, alignment.
#[derive(Clone, Copy)]
pub struct Typ(pg_sys::Oid, i16, bool, std::ffi::c_char);

/// A copy of the value in the current memory context, and its size in bytes.
unsafe fn copy_datum(d: pg_sys::Datum, t: Typ) -> (pg_sys::Datum, usize) {
    if t.2 {
        (d, 8)
    } else if t.1 == -1 {
        let v = pg_sys::pg_detoast_datum_copy(d.cast_mut_ptr());
        (pg_sys::Datum::from(v), pgrx::varlena::varsize_any(v))
    } else {
        let len = if t.1 > 0 {
            t.1 as usize
        } else {
            std::ffi::CStr::from_ptr(d.cast_mut_ptr()).to_bytes().len() + 1
        };
        let p = pg_sys::palloc(len) as *mut u8;
        std::ptr::copy_nonoverlapping(d.cast_mut_ptr::<u8>(), p, len);
        (pg_sys::Datum::from(p), len)
    }
}

fn count_batch(values: &[pg_sys::Datum], t: Typ, changed: &str) -> i64 {
    unsafe {
        let mut elems = values.to_vec();
        let arr = pg_sys::construct_array(
            elems.as_mut_ptr(),
            elems.len() as i32,
            t.0,
            t.1 as i32,
            t.2,
            t.3,
        );
        let array_type = pg_sys::get_array_type(t.0);
        let sql =
            format!("SELECT pg_catalog.count(*) FROM pg_catalog.unnest($1) v WHERE {changed}");
        let arg = pgrx::datum::DatumWithOid::new(pg_sys::Datum::from(arr), array_type);
        crate::privilege::pinned(|| Spi::get_one_with_args::<i64>(&sql, &[arg]))
            .unwrap_or_else(|e| pgrx::error!("revos: counting changed values failed: {e}"))
            .unwrap_or(0)
    }
}

/// Calls `visit(value, is_null)` for each row of `rels` (`column`'s value, or nothing) until it
/// answers false.
fn each_value(
    rels: &[pg_sys::Oid],
    column: Option<&str>,
    mut visit: impl FnMut(pg_sys::Datum, bool) -> bool,
) {
    let mut go = true;
    for &rel in rels {
        if !go {
            break;
        }
        scan(rel, column, &mut |d, null, _| {
            go = visit(d, null);
            go
        });
    }
}

fn each_value_typed(
    rels: &[pg_sys::Oid],
    column: &str,
    mut visit: impl FnMut(pg_sys::Datum, bool, Typ) -> bool,
) {
    for &rel in rels {
        scan(rel, Some(column), &mut visit);
    }
}

/// One sequential scan of `rel` under a snapshot of the transaction's (what a statement run now
/// would see, this transaction's earlier commands included); relations without storage
/// (partitioned tables) are skipped.
fn scan(
    rel: pg_sys::Oid,
    column: Option<&str>,
    visit: &mut dyn FnMut(pg_sys::Datum, bool, Typ) -> bool,
) {
    unsafe {
        let kind = pg_sys::get_rel_relkind(rel) as u8;
        if kind != pg_sys::RELKIND_RELATION && kind != pg_sys::RELKIND_MATVIEW {
            return;
        }
        let r = pg_sys::table_open(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        // another session's temporary table (inheriting from this one) cannot be read here; the
        // planner skips it too
        if (*(*r).rd_rel).relpersistence == pg_sys::RELPERSISTENCE_TEMP as std::ffi::c_char
            && !(*r).rd_islocaltemp
        {
            pg_sys::table_close(r, pg_sys::NoLock as pg_sys::LOCKMODE);
            return;
        }
        let (attnum, typ) = match column {
            None => (0, Typ(pg_sys::InvalidOid, 0, true, 0)),
            Some(c) => {
                let name = CString::new(c).expect("no NUL");
                let a = pg_sys::get_attnum(rel, name.as_ptr());
                if a == pg_sys::InvalidAttrNumber as i16 {
                    pg_sys::table_close(r, pg_sys::NoLock as pg_sys::LOCKMODE);
                    pgrx::error!("revos: column {c} is missing in a table being counted");
                }
                let t = pg_sys::get_atttype(rel, a);
                let (mut len, mut byval, mut align) = (0i16, false, 0 as std::ffi::c_char);
                pg_sys::get_typlenbyvalalign(t, &mut len, &mut byval, &mut align);
                (a, Typ(t, len, byval, align))
            }
        };
        pg_sys::CommandCounterIncrement();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
        pg_sys::UpdateActiveSnapshotCommandId();
        let slot = pg_sys::table_slot_create(r, std::ptr::null_mut());
        let s = pg_sys::table_beginscan(r, pg_sys::GetActiveSnapshot(), 0, std::ptr::null_mut());
        while pg_sys::table_scan_getnextslot(s, pg_sys::ScanDirection::ForwardScanDirection, slot) {
            pgrx::check_for_interrupts!();
            let (d, null) = if attnum == 0 {
                (pg_sys::Datum::from(0usize), false)
            } else {
                let mut null = false;
                let d = pg_sys::slot_getattr(slot, attnum as i32, &mut null);
                (d, null)
            };
            if !visit(d, null, typ) {
                break;
            }
        }
        pg_sys::table_endscan(s);
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::PopActiveSnapshot();
        pg_sys::table_close(r, pg_sys::NoLock as pg_sys::LOCKMODE);
    }
}
