//! What this database says about Citus, read through SPI: the state `distribute` plans against
//! (extension, coordinator, workers, how tables are placed) and whether this node is a worker
//! (the drift capture records nothing there).

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::citus::state::{CitusState, Placement};

/// What this database says about Citus (contract §13): whether the extension is installed, this
/// node is the coordinator, how many active workers it has, and how its tables are placed. Only
/// `pg_extension` is read when Citus is not installed.
pub fn citus_state() -> CitusState {
    let mut st = CitusState::default();
    let installed: Option<bool> = Spi::get_one(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')",
    )
    .unwrap_or_else(|e| pgrx::error!("revos: reading pg_extension failed: {e}"));
    if installed != Some(true) {
        return st;
    }
    st.installed = true;
    Spi::connect(|c| {
        let t = c.select(
            "SELECT pg_catalog.citus_is_coordinator(),
                    (SELECT count(*)::int FROM pg_catalog.pg_dist_node
                      WHERE noderole = 'primary' AND isactive AND groupid <> 0)",
            None,
            &[],
        )?;
        for row in t {
            st.coordinator = row.get::<bool>(1)?.unwrap_or(false);
            st.workers = row.get::<i32>(2)?.unwrap_or(0) as usize;
        }
        let t = c.select(
            "SELECT n.nspname::text, c.relname::text, p.partmethod::text, p.repmodel::text,
                    CASE WHEN p.partmethod = 'h'
                         THEN pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) END,
                    p.colocationid::int
               FROM pg_catalog.pg_dist_partition p
               JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace",
            None,
            &[],
        )?;
        for row in t {
            let key = (
                row.get::<String>(1)?.unwrap_or_default(),
                row.get::<String>(2)?.unwrap_or_default(),
            );
            let method = row.get::<String>(3)?.unwrap_or_default();
            let repmodel = row.get::<String>(4)?.unwrap_or_default();
            let placement = match (method.as_str(), repmodel.as_str()) {
                ("h", _) => Placement::Distributed {
                    column: row.get::<String>(5)?.unwrap_or_default(),
                    colocation: row.get::<i32>(6)?.unwrap_or(0) as u32,
                },
                ("n", "t") => Placement::Reference,
                _ => Placement::Other,
            };
            st.tables.insert(key, placement);
        }
        Ok::<_, pgrx::spi::Error>(())
    })
    .unwrap_or_else(|e| pgrx::error!("revos: reading the Citus metadata failed: {e}"));
    st
}

/// This node is a Citus worker: the DDL it runs comes from the coordinator (Citus's own shard and
/// shell-table DDL), so drift capture records nothing here; DDL is recorded on the coordinator.
pub fn citus_worker() -> bool {
    // The extension by name from the catalog cache, then Citus's own catalog, schema-qualified
    // with a qualified operator under the pinned search_path: nothing in the session decides it.
    if unsafe { pg_sys::get_extension_oid(c"citus".as_ptr(), true) } == pg_sys::InvalidOid {
        return false;
    }
    crate::privilege::pinned(|| {
        Spi::get_one::<bool>(
            "SELECT l.groupid OPERATOR(pg_catalog.<>) 0 FROM pg_catalog.pg_dist_local_group l",
        )
        .ok()
        .flatten()
        .unwrap_or(false)
    })
}
