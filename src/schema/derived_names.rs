//! Which names revos derived from a table's or a column's name, read off the catalog, so that a
//! rename carries every one of them along (issue 20) — also the ones this version does not
//! declare again (an index or check of an earlier version, the `(tenant, id)` key another table's
//! foreign key needed, the primary key).
//!
//! revos names what it creates after the table and its columns (`normalize`, `plan`):
//!
//! ```text
//! <table>_pkey                         the primary key
//! idx_<table>_<columns>[_<method>]     indexes (revos's default ones and unnamed declared ones)
//! uq_<table>_<columns>[_<method>]      unique keys and unique indexes; uq_<table>_<tenant>_<column>
//!                                      the key a tenant foreign key points at
//! ck_<table>_<column> | ck_<table>_<n> checks
//! fk_<table>_<column>                  foreign keys
//! <table>_<column>_not_null            NOT NULL (PostgreSQL 18 names them; revos never does)
//! ```
//!
//! A name longer than 63 bytes is cut and given 8 hex digits of its SHA-256 (`Name::derived`), so
//! it is recognized by deriving it again: from the object's columns as the catalog shows them (in
//! their old names), and, for a name that was not cut, from what follows `<prefix>_<old table>_`.
//! Pure: the snapshot is the table as `evolve` left it after the renames of the table and its
//! columns (new column names); the names of its objects are still the old ones.

use crate::ident::{sha256_hex, Name};
use crate::schema::model::{DerivedKind, DerivedRename, Table, TableSnapshot};

const PREFIXES: &[&str] = &["idx", "uq", "ck", "fk"];

/// The renames that bring every revos-derived name of `t`'s objects in line with its new table
/// and column names: `old_table` is the table's previous name (its own when only columns were
/// renamed), `columns` the column renames (old, new). A name the payload declares as it is, or
/// whose new name is taken, is left alone.
pub fn renames(
    t: &Table,
    snap: &TableSnapshot,
    old_table: &str,
    columns: &[(String, String)],
) -> Vec<DerivedRename> {
    let new_table = t.name.as_str();
    let back = |c: &String| -> String {
        columns
            .iter()
            .find(|(_, new)| new == c)
            .map(|(old, _)| old.clone())
            .unwrap_or_else(|| c.clone())
    };
    let mut out: Vec<DerivedRename> = vec![];
    let objects = snap
        .indexes
        .iter()
        .filter(|x| !x.constraint)
        .map(|x| {
            (
                DerivedKind::Index,
                &x.name,
                &x.columns,
                method_suffix(&x.method),
            )
        })
        .chain(
            snap.constraints
                .iter()
                .filter(|c| matches!(c.kind, 'p' | 'u' | 'c' | 'f' | 'n'))
                .map(|c| (DerivedKind::Constraint, &c.name, &c.columns, String::new())),
        );
    for (kind, name, cols, suffix) in objects {
        if declared(t, name) {
            continue;
        }
        let new_cols: Vec<String> = cols.clone();
        let old_cols: Vec<String> = cols.iter().map(back).collect();
        let mut rests = rest_candidates(&old_cols, &new_cols, &suffix);
        // a check may name any column (ck_<table>_<column>)
        for (old, new) in columns {
            rests.push((old.clone(), new.clone()));
        }
        let Some(to) = derive_new(name, old_table, new_table, &rests) else {
            continue;
        };
        if to.as_str() == name
            || snap.index(to.as_str()).is_some()
            || snap.has_constraint(to.as_str())
            || out.iter().any(|r| r.to == to || r.from.as_str() == name)
        {
            continue;
        }
        out.push(DerivedRename {
            kind,
            from: Name::from_catalog(name),
            to,
        });
    }
    out
}

/// Whether the payload declares an object of exactly this name on the table (then it is the
/// caller's name, kept as written).
fn declared(t: &Table, name: &str) -> bool {
    t.indexes.iter().any(|x| x.name.as_str() == name)
        || t.checks.iter().any(|c| c.name.as_str() == name)
        || t.uniques.iter().any(|u| u.name.as_str() == name)
        || t.foreign_keys.iter().any(|f| f.name.as_str() == name)
}

fn method_suffix(method: &str) -> String {
    if method.is_empty() || method == "btree" {
        String::new()
    } else {
        format!("_{method}")
    }
}

/// What may follow `<prefix>_<table>_` in a derived name: the columns joined (with and without a
/// leading tenant column, which revos's default created_at index and the per-tenant keys put
/// first), each column alone — old and new spelling, paired.
fn rest_candidates(old: &[String], new: &[String], suffix: &str) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut push = |o: &[String], n: &[String]| {
        if !o.is_empty() && o.iter().all(|c| !c.is_empty()) {
            out.push((
                format!("{}{suffix}", o.join("_")),
                format!("{}{suffix}", n.join("_")),
            ));
        }
    };
    push(old, new);
    if old.len() > 1 {
        push(&old[1..], &new[1..]);
        push(&old[old.len() - 1..], &new[new.len() - 1..]);
    }
    out
}

/// The new name of `name` if revos derived it from `old_table` (and the old columns): the same
/// derivation from `new_table` and the new columns.
fn derive_new(
    name: &str,
    old_table: &str,
    new_table: &str,
    rests: &[(String, String)],
) -> Option<Name> {
    if !derivable(old_table) || !derivable(new_table) {
        return None;
    }
    if name == format!("{old_table}_pkey") {
        return Some(Name::derived(&format!("{new_table}_pkey")));
    }
    if let Some(to) = not_null_name(name, old_table, new_table, rests) {
        return Some(to);
    }
    for p in PREFIXES {
        for (old, new) in rests.iter().filter(|(o, n)| derivable(o) && derivable(n)) {
            if Name::derived(&format!("{p}_{old_table}_{old}")).as_str() == name {
                return Some(Name::derived(&format!("{p}_{new_table}_{new}")));
            }
        }
        // a name that was not cut: whatever follows the old table name stays as it is
        let head = format!("{p}_{old_table}_");
        if let Some(rest) = name.strip_prefix(&head) {
            if name.len() < 63 && derivable(rest) && old_table != new_table {
                return Some(Name::derived(&format!("{p}_{new_table}_{rest}")));
            }
        }
    }
    None
}

/// PostgreSQL 18 names a NOT NULL constraint `<table>_<column>_not_null` (cut by its own rule
/// past 63 bytes, which is not derived again: such a name is left as it is).
fn not_null_name(
    name: &str,
    old_table: &str,
    new_table: &str,
    rests: &[(String, String)],
) -> Option<Name> {
    rests.iter().find_map(|(old, new)| {
        let to = format!("{new_table}_{new}_not_null");
        (name == format!("{old_table}_{old}_not_null") && to.len() <= 63 && derivable(new))
            .then(|| Name::derived(&to))
    })
}

/// Text `Name::derived` accepts (what revos's own snake_case names are made of).
fn derivable(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The name of revos's helper check for a NOT NULL (`revos_nn_<column>`, cut to 63 bytes).
pub fn not_null_helper(column: &Name) -> Name {
    let c = column.as_str();
    if c.chars()
        .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_')
    {
        Name::derived(&format!("revos_nn_{c}"))
    } else {
        Name::derived(&format!("revos_nn_{}", &sha256_hex(c.as_bytes())[..16]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::model::{ConstraintSnapshot, IndexSnapshot};
    use crate::schema::normalize::normalize;
    use crate::schema::spec::read_schema;
    use serde_json::json;

    fn index(name: &str, cols: &[&str], method: &str) -> IndexSnapshot {
        IndexSnapshot {
            name: name.into(),
            method: method.into(),
            columns: cols.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }
    }

    fn constraint(name: &str, kind: char, cols: &[&str]) -> ConstraintSnapshot {
        ConstraintSnapshot {
            name: name.into(),
            kind,
            columns: cols.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }
    }

    fn table(v: serde_json::Value) -> Table {
        let mut issues = vec![];
        let raw = read_schema(&v, &mut issues);
        let s = normalize(&raw, &mut issues);
        assert!(issues.is_empty(), "{issues:?}");
        s.tables[0].clone()
    }

    /// The README's v011: leads -> contacts, email -> mail; the index, check and tenant key of
    /// v010 are not declared again, and follow all the same.
    #[test]
    fn every_name_derived_from_the_old_table_follows() {
        let t = table(
            json!({"schema_version": "011", "description": "d", "tables": [
            {"name": "contacts", "renamed_from": "leads",
             "columns": [{"name": "mail", "renamed_from": "email", "type": "text", "unique": true}]}]}),
        );
        let snap = TableSnapshot {
            indexes: vec![
                index("idx_leads_tenant_id", &["tenant_id"], "btree"),
                index(
                    "idx_leads_created_at",
                    &["tenant_id", "created_at"],
                    "btree",
                ),
                index("idx_leads_state", &["state"], "btree"),
                index("idx_leads_mail_hash", &["mail"], "hash"),
                index("my_own_index", &["state"], "btree"),
            ],
            constraints: vec![
                constraint("leads_pkey", 'p', &["id"]),
                constraint("uq_leads_email", 'u', &["tenant_id", "mail"]),
                constraint("uq_leads_tenant_id_id", 'u', &["tenant_id", "id"]),
                constraint("ck_leads_score", 'c', &["score"]),
                constraint("ck_leads_1", 'c', &["score"]),
                constraint("fk_leads_owner_id", 'f', &["tenant_id", "owner_id"]),
                constraint("leads_id_not_null", 'n', &["id"]),
                constraint("leads_email_not_null", 'n', &["mail"]),
            ],
            ..Default::default()
        };
        let cols = vec![("email".to_string(), "mail".to_string())];
        let got: Vec<(String, String)> = renames(&t, &snap, "leads", &cols)
            .into_iter()
            .map(|r| (r.from.as_str().to_string(), r.to.as_str().to_string()))
            .collect();
        let want = [
            ("idx_leads_tenant_id", "idx_contacts_tenant_id"),
            ("idx_leads_created_at", "idx_contacts_created_at"),
            ("idx_leads_state", "idx_contacts_state"),
            ("idx_leads_mail_hash", "idx_contacts_mail_hash"),
            ("leads_pkey", "contacts_pkey"),
            ("uq_leads_email", "uq_contacts_mail"),
            ("uq_leads_tenant_id_id", "uq_contacts_tenant_id_id"),
            ("ck_leads_score", "ck_contacts_score"),
            ("ck_leads_1", "ck_contacts_1"),
            ("fk_leads_owner_id", "fk_contacts_owner_id"),
            ("leads_id_not_null", "contacts_id_not_null"),
            ("leads_email_not_null", "contacts_mail_not_null"),
        ];
        for (from, to) in want {
            assert!(
                got.contains(&(from.to_string(), to.to_string())),
                "{from} -> {to} missing in {got:?}"
            );
        }
        assert_eq!(got.len(), want.len(), "{got:?}");
    }

    /// A name cut to 63 bytes (with its hash) is recognized by deriving it again.
    #[test]
    fn cut_names_are_derived_again() {
        let long = "a_column_with_a_rather_long_name_that_goes_on";
        let t = table(
            json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "contacts_of_the_company", "renamed_from": "leads_of_the_company",
             "columns": [{"name": long, "type": "text"}]}]}),
        );
        let old = Name::derived(&format!("idx_leads_of_the_company_{long}"));
        assert!(old.as_str().len() == 63);
        let snap = TableSnapshot {
            indexes: vec![index(old.as_str(), &[long], "btree")],
            ..Default::default()
        };
        let r = renames(&t, &snap, "leads_of_the_company", &[]);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            r[0].to,
            Name::derived(&format!("idx_contacts_of_the_company_{long}"))
        );
    }

    /// A column rename alone renames what is named after the column; a name the payload declares,
    /// and a new name that is taken, stay.
    #[test]
    fn column_renames_declared_names_and_taken_names() {
        let t = table(
            json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "leads", "columns": [{"name": "mail", "renamed_from": "email", "type": "text"}],
             "indexes": [{"name": "idx_leads_email", "columns": ["mail"]}]}]}),
        );
        let snap = TableSnapshot {
            indexes: vec![
                index("idx_leads_email", &["mail"], "btree"),
                index("idx_leads_tenant_id_email", &["tenant_id", "mail"], "btree"),
                index("idx_leads_tenant_id_mail", &["tenant_id", "mail"], "btree"),
            ],
            constraints: vec![constraint("ck_leads_email", 'c', &["mail"])],
            ..Default::default()
        };
        let cols = vec![("email".to_string(), "mail".to_string())];
        let got: Vec<(String, String)> = renames(&t, &snap, "leads", &cols)
            .into_iter()
            .map(|r| (r.from.as_str().to_string(), r.to.as_str().to_string()))
            .collect();
        assert_eq!(
            got,
            vec![("ck_leads_email".to_string(), "ck_leads_mail".to_string())]
        );
    }
}
