//! What differs between two normalized schemas (issue 20: a `conflict` says what differs). Pure.
//!
//! Both sides are the normalized schema as it is hashed (`model::Schema` serialized: names in
//! snake_case, revos's own columns and indexes included, key order irrelevant). Objects are
//! compared key by key; arrays of named objects (tables, columns, indexes, checks, keys, enums) by
//! name, so a path reads `tables[public.patients].columns[phone]`; other arrays as whole values.

use serde::Serialize;
use serde_json::Value;

/// At most this many differences are listed (`total` counts them all).
pub const MAX_LISTED: usize = 20;
/// A value longer than this (as compact JSON) is cut, ending in `…`.
const MAX_VALUE_CHARS: usize = 200;

/// One difference: where, and the value on each side (compact JSON; null where absent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub path: String,
    pub applied: Option<String>,
    pub now: Option<String>,
}

impl Difference {
    /// `tables[public.t].columns[phone]: only in this payload` and the like.
    pub fn sentence(&self) -> String {
        match (&self.applied, &self.now) {
            (None, Some(_)) => format!("{}: only in this payload", self.path),
            (Some(_), None) => format!("{}: only in the applied version", self.path),
            (Some(a), Some(n)) => format!("{}: {a} applied, {n} now", self.path),
            (None, None) => self.path.clone(),
        }
    }
}

/// Every difference, in document order (tables in the applied order, then those only in this
/// payload).
pub fn differences(applied: &Value, now: &Value) -> Vec<Difference> {
    let mut out = vec![];
    walk("", applied, now, &mut out);
    out
}

fn walk(path: &str, a: &Value, b: &Value, out: &mut Vec<Difference>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().collect();
            keys.extend(y.keys().filter(|k| !x.contains_key(*k)));
            for k in keys {
                let p = join(path, k);
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => walk(&p, va, vb, out),
                    (va, vb) => push(out, p, va, vb),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if named(x) && named(y) => {
            let key = |v: &Value| element_key(v).unwrap_or_default();
            for va in x {
                let k = key(va);
                let p = format!("{path}[{k}]");
                match y.iter().find(|vb| key(vb) == k) {
                    Some(vb) => walk(&p, va, vb, out),
                    None => push(out, p, Some(va), None),
                }
            }
            for vb in y.iter().filter(|vb| !x.iter().any(|va| key(va) == key(vb))) {
                push(out, format!("{path}[{}]", key(vb)), None, Some(vb));
            }
        }
        _ if a != b => push(out, path.to_string(), Some(a), Some(b)),
        _ => {}
    }
}

fn push(out: &mut Vec<Difference>, path: String, a: Option<&Value>, b: Option<&Value>) {
    out.push(Difference {
        path,
        applied: a.map(short),
        now: b.map(short),
    });
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Arrays whose elements are all objects with a `name` (non-empty arrays only).
fn named(v: &[Value]) -> bool {
    !v.is_empty() && v.iter().all(|e| element_key(e).is_some())
}

/// `schema.name` when the element has a schema, else `name`.
fn element_key(v: &Value) -> Option<String> {
    let name = v.get("name")?.as_str()?;
    Some(match v.get("schema").and_then(Value::as_str) {
        Some(s) => format!("{s}.{name}"),
        None => name.to_string(),
    })
}

fn short(v: &Value) -> String {
    let text = crate::schema::canonical::of_value(v);
    if text.chars().count() <= MAX_VALUE_CHARS {
        return text;
    }
    let cut: String = text.chars().take(MAX_VALUE_CHARS - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::normalize::normalize;
    use crate::schema::spec::read_schema;
    use serde_json::json;

    fn normalized(v: Value) -> Value {
        let mut issues = vec![];
        let s = normalize(&read_schema(&v, &mut issues), &mut issues);
        assert!(issues.is_empty(), "{issues:?}");
        serde_json::to_value(&s).unwrap()
    }

    #[test]
    fn a_column_more_and_a_changed_flag_by_path() {
        let a = normalized(
            json!({"schema_version": "1", "description": "d", "tables": [
            {"name": "patients", "columns": [{"name": "firstName", "type": "text", "not_null": true}]}]}),
        );
        let b = normalized(
            json!({"schema_version": "1", "description": "other", "tables": [
            {"name": "Patients", "columns": [{"name": "first_name", "type": "TEXT"},
                                             {"name": "phone", "type": "text"}]}]}),
        );
        let d = differences(&a, &b);
        let paths: Vec<&str> = d.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "tables[public.patients].columns[first_name].not_null",
                "tables[public.patients].columns[phone]",
            ],
            "{d:?}"
        );
        assert_eq!(d[0].applied.as_deref(), Some("true"));
        assert_eq!(d[0].now.as_deref(), Some("false"));
        assert_eq!(d[1].applied, None);
        assert!(d[1].now.as_deref().unwrap().contains("\"phone\""));
        assert_eq!(
            d[1].sentence(),
            "tables[public.patients].columns[phone]: only in this payload"
        );
        assert!(differences(&a, &a).is_empty());
    }

    #[test]
    fn options_tables_and_long_values() {
        let a = normalized(json!({"schema_version": "1", "description": "d",
            "tables": [{"name": "a"}, {"name": "b"}]}));
        let b = normalized(json!({"schema_version": "1", "description": "d",
            "options": {"tenant_type": "text"}, "tables": [{"name": "a"}]}));
        let d = differences(&a, &b);
        assert!(d.iter().any(|x| x.path == "options.tenant_type"), "{d:?}");
        let gone = d.iter().find(|x| x.path == "tables[public.b]").unwrap();
        assert!(gone.now.is_none());
        assert!(gone.applied.as_ref().unwrap().ends_with('…'));
        assert_eq!(
            gone.applied.as_ref().unwrap().chars().count(),
            MAX_VALUE_CHARS
        );
    }
}
