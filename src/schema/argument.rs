//! What the argument of `apply_schema` / `plan_schema` looks like before it is read as a schema
//! (issue 20): a top-level array or a whole n8n item (`{headers, params, query, body}`) is one
//! mistake, and gets one issue that says what to send — not the 3–8 issues reading it as a schema
//! would give (every key unknown, every required key missing, paths the caller never wrote).
//! Pure.

use serde_json::Value;

use crate::error::{code, Issue};

/// The keys of an item n8n's Webhook node emits (`$json`): the request's parts.
const N8N_ITEM_KEYS: &[&str] = &[
    "headers",
    "params",
    "query",
    "body",
    "webhookUrl",
    "executionMode",
];

/// Keys only a schema or an envelope has: an object with any of them is read as one.
const SCHEMA_MARKS: &[&str] = &[
    "payload",
    "schema_version",
    "version",
    "description",
    "tables",
    "enums",
    "drop_tables",
];

const SEND: &str =
    "in n8n's Postgres node, pass {{ JSON.stringify($json.body) }} as the query parameter";

/// One issue when the argument is not a schema or an envelope at all; None otherwise.
pub fn misshapen(input: &Value) -> Option<Issue> {
    match input {
        Value::Object(obj) => {
            let is_item = obj.contains_key("body")
                && !obj.keys().any(|k| SCHEMA_MARKS.contains(&k.as_str()))
                && obj.keys().all(|k| N8N_ITEM_KEYS.contains(&k.as_str()));
            is_item.then(|| {
                Issue::new(
                    "$",
                    code::UNKNOWN_KEY,
                    format!(
                        "this is a whole n8n item ({{{}}}), not a schema: did you mean `body`? Send the request body only ({SEND})",
                        obj.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
                    ),
                )
            })
        }
        Value::Array(items) => {
            let hint = match items.first() {
                Some(Value::Object(o)) if items.len() == 1 && o.contains_key("body") => {
                    "; did you mean `[0].body`?"
                }
                Some(Value::Object(_)) if items.len() == 1 => "; did you mean `[0]`?",
                _ => "",
            };
            Some(Issue::new(
                "$",
                code::WRONG_TYPE,
                format!(
                    "the argument is a JSON array of {} item(s); revos takes one object, the schema (or the envelope {{meta, payload, context}}){hint} ({SEND})",
                    items.len()
                ),
            ))
        }
        other => Some(Issue::new(
            "$",
            code::WRONG_TYPE,
            format!(
                "the argument must be a JSON object (the schema), not {}",
                match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    _ => "a string (JSON text inside a JSON string? send the object itself)",
                }
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_issue_for_an_n8n_item_or_an_array() {
        let schema = json!({"schema_version": "1", "description": "d", "tables": [{"name": "t"}]});
        assert!(misshapen(&schema).is_none());
        assert!(misshapen(&json!({"payload": schema})).is_none());
        // a schema with a stray "body" key is a schema (its unknown key is reported as such)
        assert!(misshapen(&json!({"schema_version": "1", "body": 1})).is_none());
        let item = json!({"headers": {}, "params": {}, "query": {}, "body": schema});
        let i = misshapen(&item).unwrap();
        assert_eq!((i.path.as_str(), i.code), ("$", code::UNKNOWN_KEY));
        assert!(i.message.contains("did you mean `body`?"), "{}", i.message);
        let i = misshapen(&json!([item])).unwrap();
        assert_eq!(i.code, code::WRONG_TYPE);
        assert!(i.message.contains("`[0].body`"), "{}", i.message);
        let i = misshapen(&json!([schema])).unwrap();
        assert!(i.message.contains("`[0]`"), "{}", i.message);
        assert!(misshapen(&json!([])).is_some());
        assert!(misshapen(&json!("{}"))
            .unwrap()
            .message
            .contains("a string"));
    }
}
