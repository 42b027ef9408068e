//! Reading a table through one of its indexes without the executor: the scans the ledger's C
//! code runs (the chain trigger's previous hash, the chain head, verify_ledger's pass, apply's
//! ledger lookup), and what differs between PostgreSQL versions in them.

use pgrx::pg_sys;

/// The primary key index of `rel` (InvalidOid: none).
pub(crate) unsafe fn primary_key(rel: pg_sys::Relation) -> pg_sys::Oid {
    #[cfg(not(feature = "pg18"))]
    return pg_sys::RelationGetPrimaryKeyIndex(rel);
    #[cfg(feature = "pg18")]
    return pg_sys::RelationGetPrimaryKeyIndex(rel, false);
}

/// index_beginscan with `nkeys` scan keys and no ordering operators (PostgreSQL 18 added an
/// instrumentation argument).
pub(crate) unsafe fn begin_index_scan(
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    snapshot: pg_sys::Snapshot,
    nkeys: i32,
) -> pg_sys::IndexScanDesc {
    #[cfg(not(feature = "pg18"))]
    return pg_sys::index_beginscan(rel, index, snapshot, nkeys, 0);
    #[cfg(feature = "pg18")]
    return pg_sys::index_beginscan(rel, index, snapshot, std::ptr::null_mut(), nkeys, 0);
}

/// An index scan of `rel` through `index` for rows whose first key column equals `value` (`eq`:
/// the equality function of the column's type), under `snapshot`; the caller ends it.
pub(crate) unsafe fn begin_key_scan(
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    snapshot: pg_sys::Snapshot,
    value: pg_sys::Datum,
    eq: u32,
) -> pg_sys::IndexScanDesc {
    let scan = begin_index_scan(rel, index, snapshot, 1);
    let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
    pg_sys::ScanKeyInit(
        &mut key,
        1,
        pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
        pg_sys::Oid::from(eq),
        value,
    );
    key.sk_collation = *(*index).rd_indcollation;
    pg_sys::index_rescan(scan, &mut key, 1, std::ptr::null_mut(), 0);
    scan
}

/// An index scan of `rel` through `index` for rows whose first key column is NULL (the scan key a
/// `col IS NULL` qual gets), under `snapshot`; the caller ends it.
pub(crate) unsafe fn begin_null_scan(
    rel: pg_sys::Relation,
    index: pg_sys::Relation,
    snapshot: pg_sys::Snapshot,
) -> pg_sys::IndexScanDesc {
    let scan = begin_index_scan(rel, index, snapshot, 1);
    let mut key: pg_sys::ScanKeyData = std::mem::zeroed();
    pg_sys::ScanKeyEntryInitialize(
        &mut key,
        (pg_sys::SK_ISNULL | pg_sys::SK_SEARCHNULL) as i32,
        1,
        0 as pg_sys::StrategyNumber,
        pg_sys::InvalidOid,
        pg_sys::InvalidOid,
        pg_sys::InvalidOid,
        pg_sys::Datum::from(0usize),
    );
    pg_sys::index_rescan(scan, &mut key, 1, std::ptr::null_mut(), 0);
    scan
}

/// Whether `index` is a valid btree on plain columns, without predicate or expressions.
pub(crate) unsafe fn plain_btree(index: pg_sys::Relation) -> bool {
    (*(*index).rd_index).indisvalid
        && (*(*index).rd_rel).relam == pg_sys::BTREE_AM_OID
        && pg_sys::heap_attisnull(
            (*index).rd_indextuple,
            pg_sys::Anum_pg_index_indpred as i32,
            std::ptr::null_mut(),
        )
        && pg_sys::heap_attisnull(
            (*index).rd_indextuple,
            pg_sys::Anum_pg_index_indexprs as i32,
            std::ptr::null_mut(),
        )
}
