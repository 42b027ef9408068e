//! revos's catalog reads, each planned once per backend.
//!
//! The checks around an apply (what its objects may depend on, the trusted roles, the catalog
//! snapshot that verification compares) are the same few queries run several times per apply,
//! and once more after its statements, while the apply's locks are held: parsing and planning
//! them was about two thirds of their cost (bench/FINDINGS.md; in an online apply the time from
//! its strong lock to its commit, which writers wait out). Here each query text is prepared once
//! per backend with a generic plan (`CURSOR_OPT_GENERIC_PLAN`: no replanning per parameter set)
//! and kept (`SPI_keepplan`); PostgreSQL's plan cache re-analyzes it when a relation it reads or
//! the search_path changes. The texts name everything schema-qualified (`pg_catalog.`,
//! `OPERATOR(pg_catalog.=)`, `revos.`), so what a kept plan binds is what a fresh one would.
//!
//! Only for small arguments: a generic plan assumes a handful of elements in an array argument, and
//! for an apply of 1,000 tables it chose joins that made the whole apply a third slower (bench/run's
//! P5 at e579537). A read with an array of more than [`GENERIC_MAX`] elements is planned for its
//! values, once, as before.
//!
//! [`GENERIC_MAX`]: GENERIC_MAX

use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// (query text, argument types) -> its kept plan
    static PLANS: RefCell<HashMap<(String, Vec<u32>), usize>> = RefCell::new(HashMap::new());
}

/// The most elements an array argument may have for the read to use its kept generic plan.
const GENERIC_MAX: i32 = 32;

/// Whether an argument is an array of more than [`GENERIC_MAX`] elements.
unsafe fn large(arg: &(Option<pg_sys::Datum>, pg_sys::Oid)) -> bool {
    let (Some(d), t) = *arg else { return false };
    if pg_sys::get_element_type(t) == pg_sys::InvalidOid {
        return false;
    }
    let arr = pg_sys::pg_detoast_datum(d.cast_mut_ptr()) as *mut pg_sys::ArrayType;
    // ARR_DIMS: the dimensions follow the header
    let dims = (arr as *const u8).add(std::mem::size_of::<pg_sys::ArrayType>()) as *mut i32;
    pg_sys::ArrayGetNItems((*arr).ndim, dims) > GENERIC_MAX
}

/// Which snapshot a read uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Snap {
    /// the latest: what committed while the apply waited for a lock counts
    Latest,
    /// what a statement of the caller's function would see (SPI's own rule)
    Statement,
}

/// The kept plan of `sql` with argument types `types`, prepared on first use.
unsafe fn plan(sql: &str, types: &[pg_sys::Oid]) -> pg_sys::SPIPlanPtr {
    let key = (
        sql.to_string(),
        types.iter().map(|t| t.to_u32()).collect::<Vec<_>>(),
    );
    if let Some(p) = PLANS.with(|m| m.borrow().get(&key).copied()) {
        return p as pg_sys::SPIPlanPtr;
    }
    let text = std::ffi::CString::new(sql).expect("no NUL");
    let mut types = types.to_vec();
    let p = pg_sys::SPI_prepare_cursor(
        text.as_ptr(),
        types.len() as i32,
        types.as_mut_ptr(),
        pg_sys::CURSOR_OPT_GENERIC_PLAN as i32,
    );
    if p.is_null() || pg_sys::SPI_keepplan(p) != 0 {
        let code = pg_sys::SPI_result;
        pgrx::error!("revos: preparing a catalog read failed ({code})");
    }
    PLANS.with(|m| m.borrow_mut().insert(key, p as usize));
    p
}

/// Runs the read `sql` (inside an SPI connection) with `args` under `snap`: the first `ncols`
/// columns of each row, as text.
pub unsafe fn rows(
    sql: &str,
    args: &[(Option<pg_sys::Datum>, pg_sys::Oid)],
    snap: Snap,
    ncols: usize,
) -> Vec<Vec<Option<String>>> {
    let types: Vec<pg_sys::Oid> = args.iter().map(|a| a.1).collect();
    let mut values: Vec<pg_sys::Datum> = args
        .iter()
        .map(|a| a.0.unwrap_or(pg_sys::Datum::from(0usize)))
        .collect();
    let nulls: Vec<std::ffi::c_char> = args
        .iter()
        .map(|a| if a.0.is_some() { b' ' } else { b'n' } as std::ffi::c_char)
        .collect();
    let one_off = args.iter().any(|a| large(a));
    let plan = if one_off {
        let text = std::ffi::CString::new(sql).expect("no NUL");
        let mut types = types.clone();
        let p = pg_sys::SPI_prepare(text.as_ptr(), types.len() as i32, types.as_mut_ptr());
        if p.is_null() {
            let code = pg_sys::SPI_result;
            pgrx::error!("revos: preparing a catalog read failed ({code})");
        }
        p
    } else {
        plan(sql, &types)
    };
    pg_sys::SPI_tuptable = std::ptr::null_mut();
    let rc = match snap {
        Snap::Latest => pg_sys::SPI_execute_snapshot(
            plan,
            values.as_mut_ptr(),
            nulls.as_ptr(),
            pg_sys::GetLatestSnapshot(),
            std::ptr::null_mut(),
            false,
            false,
            0,
        ),
        // as pgrx's SpiClient::select runs a prepared statement: read-only until the transaction
        // has written
        Snap::Statement => pg_sys::SPI_execute_plan(
            plan,
            values.as_mut_ptr(),
            nulls.as_ptr(),
            pg_sys::GetCurrentTransactionIdIfAny() == pg_sys::InvalidTransactionId,
            0,
        ),
    };
    if rc != pg_sys::SPI_OK_SELECT as i32 {
        pgrx::error!("revos: a catalog read failed ({rc})");
    }
    let table = pg_sys::SPI_tuptable;
    let out = (0..pg_sys::SPI_processed as usize)
        .map(|i| {
            let row = *(*table).vals.add(i);
            (1..=ncols as i32)
                .map(|c| {
                    let v = pg_sys::SPI_getvalue(row, (*table).tupdesc, c);
                    (!v.is_null())
                        .then(|| std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned())
                })
                .collect()
        })
        .collect();
    if one_off {
        pg_sys::SPI_freeplan(plan);
    }
    out
}
