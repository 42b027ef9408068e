//! What the catalog says about Citus, as `citus::metadata` reads it: the state `distribute` and
//! `in_place` plan against. A leaf: pure data.

use std::collections::HashMap;

use crate::ident::Name;

/// How a table is placed on Citus (`pg_dist_partition`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// Hash-distributed by `column`, in co-location group `colocation`.
    Distributed {
        column: String,
        colocation: u32,
    },
    Reference,
    /// A Citus local table (or any other kind revos does not create).
    Other,
}

/// What the catalog says about Citus: read by `citus::metadata::citus_state`.
#[derive(Debug, Clone, Default)]
pub struct CitusState {
    /// The `citus` extension is installed in this database.
    pub installed: bool,
    /// This node is the coordinator (DDL and distribution happen here).
    pub coordinator: bool,
    /// Active primary worker nodes (the coordinator's group excluded).
    pub workers: usize,
    /// Citus tables by (schema, table).
    pub tables: HashMap<(String, String), Placement>,
    /// The rows of the tables an apply distributes in place, as apply counted them: (rows,
    /// counted exactly — false: `pg_class.reltuples`, because row security hides rows from the
    /// caller or the count failed).
    pub rows: HashMap<(String, String), (i64, bool)>,
}

impl CitusState {
    pub fn placement(&self, schema: &Name, table: &Name) -> Option<&Placement> {
        self.tables
            .get(&(schema.as_str().to_string(), table.as_str().to_string()))
    }
    /// A cluster to distribute on: Citus, on its coordinator, with workers.
    pub fn usable(&self) -> bool {
        self.installed && self.coordinator && self.workers > 0
    }
}
