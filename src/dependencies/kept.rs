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

use pgrx::pg_sys;
use std::cell::RefCell;
use std::collections::HashMap;

thread_local! {
    /// (query text, argument types) -> its kept plan
    static PLANS: RefCell<HashMap<(String, Vec<u32>), usize>> = RefCell::new(HashMap::new());
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
    let plan = plan(sql, &types);
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
    (0..pg_sys::SPI_processed as usize)
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
        .collect()
}
