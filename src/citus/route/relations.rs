//! Which relations are hash-distributed, and by which column: Citus's `pg_dist_partition`, read
//! once per relation per backend and forgotten when the relation's relcache entry is invalidated
//! (Citus invalidates it whenever it changes the relation's metadata: `create_distributed_table`,
//! `undistribute_table`, …).
//!
//! The read is an index scan of `pg_catalog.pg_dist_partition` found by name in `pg_catalog`
//! (`get_relname_relid` with the catalog namespace's OID: no search_path), keyed by the
//! relation's OID. No SQL.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CStr;

use pgrx::pg_sys;

thread_local! {
    /// relation OID → the attribute number of its hash distribution column, or None.
    static CACHE: RefCell<HashMap<pg_sys::Oid, Option<i16>>> = RefCell::new(HashMap::new());
    /// Bumped by every invalidation: an entry read across one is not kept.
    static GENERATION: RefCell<u64> = const { RefCell::new(0) };
}

/// Registers the relcache callback that forgets entries (once per process, from `init`).
pub fn register_invalidation() {
    crate::invalidation::on_relation(forget);
}

fn forget(relid: pg_sys::Oid) {
    GENERATION.with(|g| *g.borrow_mut() += 1);
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if relid == pg_sys::InvalidOid {
            c.clear();
        } else {
            c.remove(&relid);
        }
    });
}

/// The attribute number of `relid`'s hash distribution column, if it is a hash-distributed Citus
/// table.
pub fn distribution_column(relid: pg_sys::Oid) -> Option<i16> {
    if let Some(known) = CACHE.with(|c| c.borrow().get(&relid).copied()) {
        return known;
    }
    let before = GENERATION.with(|g| *g.borrow());
    let found = unsafe { read(relid) };
    if GENERATION.with(|g| *g.borrow()) == before {
        CACHE.with(|c| c.borrow_mut().insert(relid, found));
    }
    found
}

unsafe fn catalog_relation(name: &CStr) -> pg_sys::Oid {
    pg_sys::get_relname_relid(
        name.as_ptr(),
        pg_sys::Oid::from(pg_sys::PG_CATALOG_NAMESPACE),
    )
}

/// The attribute number of `name` in `desc` (through pgrx's `PgTupleDesc`: PostgreSQL 18 moved the
/// attributes behind `compact_attrs`, so the array is not read directly).
unsafe fn attnum(desc: pg_sys::TupleDesc, name: &str) -> Option<i32> {
    // borrowed: the relation's own descriptor, not released here
    let d = pgrx::PgTupleDesc::from_pg_unchecked(desc);
    (0..d.len()).find_map(|i| {
        let a = d.get(i)?;
        let n = CStr::from_ptr(a.attname.data.as_ptr());
        (!a.attisdropped && n.to_bytes() == name.as_bytes()).then_some(i as i32 + 1)
    })
}

unsafe fn read(relid: pg_sys::Oid) -> Option<i16> {
    let table = catalog_relation(c"pg_dist_partition");
    if table == pg_sys::InvalidOid {
        return None;
    }
    let index = catalog_relation(c"pg_dist_partition_logical_relid_index");
    let rel = pg_sys::table_open(table, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    let desc = (*rel).rd_att;
    let cols = (
        attnum(desc, "logicalrelid"),
        attnum(desc, "partmethod"),
        attnum(desc, "partkey"),
    );
    let mut found = None;
    if let (Some(relcol), Some(method), Some(key)) = cols {
        let mut skey = pg_sys::ScanKeyData::default();
        pg_sys::ScanKeyInit(
            &mut skey,
            relcol as pg_sys::AttrNumber,
            pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
            pg_sys::Oid::from(pg_sys::F_OIDEQ),
            pg_sys::Datum::from(relid),
        );
        let use_index = index != pg_sys::InvalidOid;
        let scan =
            pg_sys::systable_beginscan(rel, index, use_index, std::ptr::null_mut(), 1, &mut skey);
        let tup = pg_sys::systable_getnext(scan);
        if !tup.is_null() {
            found = hash_column(tup, desc, method, key);
        }
        pg_sys::systable_endscan(scan);
    }
    pg_sys::table_close(rel, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    found
}

/// `partmethod = 'h'` and the column of `partkey` (Citus stores the distribution column as the
/// text of a `Var` node).
unsafe fn hash_column(
    tup: pg_sys::HeapTuple,
    desc: pg_sys::TupleDesc,
    method: i32,
    key: i32,
) -> Option<i16> {
    let mut null = false;
    let m = pg_sys::heap_getattr(tup, method, desc, &mut null);
    if null || m.value() as u8 != b'h' {
        return None;
    }
    let k = pg_sys::heap_getattr(tup, key, desc, &mut null);
    if null {
        return None;
    }
    let text = pg_sys::text_to_cstring(k.cast_mut_ptr());
    let node = pg_sys::stringToNode(text) as *mut pg_sys::Node;
    if node.is_null() || (*node).type_ != pg_sys::NodeTag::T_Var {
        return None;
    }
    Some((*(node as *mut pg_sys::Var)).varattno)
}
