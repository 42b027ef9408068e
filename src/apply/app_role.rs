//! `applied` proves the grants too: after the DDL, every table the plan granted to `revos_app`
//! (`schema::grants`) is checked with `has_table_privilege`, one fact per privilege.

use pgrx::prelude::*;

use crate::schema::grants::{granted, APP_ROLE};
use crate::schema::steps::Plan;

/// (facts checked, mismatches) for the grants of `p`.
pub fn verify(p: &Plan) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut mismatches = vec![];
    for (table, privileges) in granted(p) {
        for privilege in privileges.split(", ") {
            checked += 1;
            let has: Option<bool> = Spi::get_one_with_args(
                "SELECT pg_catalog.has_table_privilege($1, $2::pg_catalog.regclass, $3)",
                &[APP_ROLE.into(), table.into(), privilege.into()],
            )
            .unwrap_or_else(|e| {
                pgrx::error!("revos: reading the privileges of {table} failed: {e}")
            });
            if has != Some(true) {
                mismatches.push(format!("{APP_ROLE} lacks {privilege} on {table}"));
            }
        }
    }
    (checked, mismatches)
}
