//! Loud on what the ledger's history shows (issue 20): a version that sorts before the latest one
//! applied, and the tables the latest version declared that this one does not mention. Pure; the
//! ledger is read by `apply::history`.

use std::cmp::Ordering;

use crate::schema::model::Schema;

/// Versions compared as people number them: runs of digits as numbers (`9` < `10`, `001` = `1`),
/// everything else as text (`2024-05-01.1` < `2024-05-01.2`).
pub fn compare(a: &str, b: &str) -> Ordering {
    let (ca, cb) = (chunks(a), chunks(b));
    for (x, y) in ca.iter().zip(&cb) {
        let o = match (x.parse::<u128>(), y.parse::<u128>()) {
            (Ok(m), Ok(n)) => m.cmp(&n),
            _ => x.cmp(y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    ca.len().cmp(&cb.len())
}

fn chunks(v: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for c in v.chars() {
        match out.last_mut() {
            Some(last) if last.chars().all(|x| x.is_ascii_digit()) == c.is_ascii_digit() => {
                last.push(c)
            }
            _ => out.push(c.to_string()),
        }
    }
    out
}

/// The warning for a version older than the latest applied one (by applied_at), if it is.
pub fn older_version(version: &str, latest: &str) -> Option<String> {
    (compare(version, latest) == Ordering::Less).then(|| {
        format!(
            "schema_version {version:?} sorts before {latest:?}, the latest version applied: an older version applied after a newer one changes the tables back to what it declares; give this change a version after {latest:?} if it is new"
        )
    })
}

/// The tables (schema, name) of `previous` — the latest applied version's — that this schema
/// neither declares, nor renames from, nor drops.
pub fn not_mentioned(s: &Schema, previous: &[(String, String)]) -> Vec<(String, String)> {
    let mentioned = |k: &(String, String)| {
        s.tables.iter().any(|t| {
            t.key() == *k
                || (t.schema.as_str() == k.0
                    && t.renamed_from.as_ref().is_some_and(|o| o.as_str() == k.1))
        }) || s.drop_tables.iter().any(|d| d.key() == *k)
    };
    previous.iter().filter(|k| !mentioned(k)).cloned().collect()
}

/// The warning for a table the previous version declared that this one does not mention.
pub fn not_mentioned_warning(table: &(String, String), previous_version: &str) -> String {
    format!(
        "{}.{}: declared by version {previous_version:?} and still in the database, but not in this version; it is kept as it is. Renamed? Declare the new name with \"renamed_from\": {:?}. Meant to go? List it in \"drop_tables\"",
        table.0, table.1, table.1
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::normalize::normalize;
    use crate::schema::spec::read_schema;
    use serde_json::json;

    #[test]
    fn versions_in_the_order_people_number_them() {
        assert_eq!(compare("005", "090"), Ordering::Less);
        assert_eq!(compare("9", "10"), Ordering::Less);
        assert_eq!(compare("001", "1"), Ordering::Equal);
        assert_eq!(compare("2024-05-01.2", "2024-05-01.10"), Ordering::Less);
        assert_eq!(compare("v2", "v10"), Ordering::Less);
        assert_eq!(compare("1.0", "1"), Ordering::Greater);
        assert!(older_version("005", "090").is_some());
        assert!(older_version("091", "090").is_none());
        assert!(older_version("090", "090").is_none());
    }

    #[test]
    fn tables_not_mentioned() {
        let mut issues = vec![];
        let s = normalize(
            &read_schema(
                &json!({"schema_version": "2", "description": "d", "drop_tables": ["gone"],
                        "tables": [{"name": "contacts", "renamed_from": "leads"}, {"name": "notes"}]}),
                &mut issues,
            ),
            &mut issues,
        );
        let k = |n: &str| ("public".to_string(), n.to_string());
        let prev = vec![k("leads"), k("notes"), k("gone"), k("invoices")];
        assert_eq!(not_mentioned(&s, &prev), vec![k("invoices")]);
        let w = not_mentioned_warning(&k("invoices"), "1");
        assert!(
            w.contains("renamed_from") && w.contains("drop_tables"),
            "{w}"
        );
    }
}
