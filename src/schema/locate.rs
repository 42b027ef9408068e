//! Where in the payload a statement PostgreSQL refused comes from, and what to do about it
//! (issue 20: plan_schema rehearses the plan, and what apply would fail on is a validation error
//! with a path and a hint). Pure: the failing step, the error's message, SQLSTATE and position
//! (when PostgreSQL gave one) in, a payload path, a code and a hint out.
//!
//! PostgreSQL often gives no position for DDL (a CHECK or DEFAULT is analysed without the
//! statement's text), so the expression is found, in this order: the one whose text spans the
//! position; an object the message names (`check constraint "ck_t_1" … is violated`); the
//! expression that names the column, function or type the message says is missing; a bare word
//! among the defaults ("cannot use column reference in DEFAULT expression"); the only expression
//! of the statement; else the table (or enum) itself.

use crate::error::code;
use crate::schema::model::{Schema, Table};
use crate::schema::steps::Step;
use crate::schema::suggest;

/// A statement PostgreSQL refused.
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    pub step: &'a Step,
    pub message: &'a str,
    pub sqlstate: &'a str,
    /// 1-based character position in `step.sql`, when PostgreSQL gave one.
    pub position: Option<usize>,
}

/// What the caller may have to schema-qualify: looked up by `apply` in the catalog (the
/// schemas that do have one of that name) to complete the hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    Function(String),
    Type(String),
    Relation(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub path: String,
    pub code: &'static str,
    pub hint: Option<String>,
    pub missing: Option<Missing>,
}

/// One expression (or type) of the payload: its path and its text as written into the SQL.
struct Expr {
    path: String,
    text: String,
    default_of: Option<String>,
}

pub const SEARCH_PATH_NOTE: &str =
    "revos runs every expression under search_path = pg_catalog, revos, pg_temp (README, \"Which names your expressions see\")";

/// The payload path, code and hint for a refused statement.
pub fn locate(s: &Schema, r: &Refusal) -> Located {
    let table = s.tables.iter().find(|t| t.qualified() == r.step.object);
    let Some(t) = table else {
        return Located {
            path: other_object_path(s, r.step),
            code: code_for(r, false),
            hint: hint(None, r, None),
            missing: missing(r),
        };
    };
    let exprs: Vec<Expr> = expressions(t)
        .into_iter()
        .filter(|e| r.step.sql.contains(&e.text))
        .collect();
    let found = by_position(&exprs, r)
        .or_else(|| by_named_object(t, r))
        .or_else(|| by_missing_name(&exprs, r))
        .or_else(|| by_bare_default(&exprs, r))
        .or_else(|| (exprs.len() == 1).then(|| (exprs[0].path.clone(), true)));
    let (path, in_expr) = found.unwrap_or_else(|| (t.path.clone(), false));
    let default = exprs
        .iter()
        .find(|e| e.path == path)
        .and_then(|e| e.default_of.clone());
    Located {
        code: code_for(r, in_expr),
        hint: hint(Some(t), r, default.as_deref()),
        missing: missing(r),
        path,
    }
}

/// Steps that are not on a payload table: an enum's, a schema's, a dropped table's.
fn other_object_path(s: &Schema, step: &Step) -> String {
    if let Some(e) = s
        .enums
        .iter()
        .find(|e| format!("{}.{}", e.schema, e.name) == step.object)
    {
        return e.path.clone();
    }
    if let Some(d) = s
        .drop_tables
        .iter()
        .find(|d| format!("{}.{}", d.schema, d.name) == step.object)
    {
        return d.path.clone();
    }
    if step.kind == "schema" {
        return "schema".into();
    }
    "$".into()
}

/// Every expression of the table (defaults, generated expressions, `using`, checks, index
/// predicates), as plan writes them.
fn expressions(t: &Table) -> Vec<Expr> {
    let mut out = vec![];
    let col_path = |p: &str| {
        if p.is_empty() {
            format!("{}.columns", t.path)
        } else {
            p.to_string()
        }
    };
    for c in &t.columns {
        let base = col_path(&c.path);
        let mut push = |key: &str, text: &Option<String>, default: bool| {
            if let Some(x) = text.as_ref().filter(|x| !x.is_empty()) {
                out.push(Expr {
                    path: format!("{base}.{key}"),
                    text: format!("({x})"),
                    default_of: default.then(|| x.clone()),
                });
            }
        };
        push("default", &c.default, true);
        push("generated", &c.generated, false);
        push("using", &c.using, false);
    }
    for c in &t.checks {
        out.push(Expr {
            path: c.path.clone(),
            text: format!("({})", c.expression),
            default_of: None,
        });
    }
    for x in &t.indexes {
        if let Some(w) = &x.where_ {
            out.push(Expr {
                path: format!("{}.where", x.path),
                text: format!("({w})"),
                default_of: None,
            });
        }
    }
    out
}

/// The expression whose text spans the error's position.
fn by_position(exprs: &[Expr], r: &Refusal) -> Option<(String, bool)> {
    let pos = r.position.filter(|p| *p > 0)?;
    let byte = r.step.sql.char_indices().nth(pos - 1).map(|(b, _)| b)?;
    exprs
        .iter()
        .filter(|e| {
            r.step
                .sql
                .match_indices(&e.text)
                .any(|(at, m)| at <= byte && byte < at + m.len())
        })
        .min_by_key(|e| e.text.len())
        .map(|e| (e.path.clone(), true))
}

/// An object of the table that the message names in double quotes (a check, key, index, or a
/// column "contains null values").
fn by_named_object(t: &Table, r: &Refusal) -> Option<(String, bool)> {
    for name in quoted(r.message) {
        if let Some(c) = t.checks.iter().find(|c| c.name.as_str() == name) {
            return Some((c.path.clone(), false));
        }
        if let Some(u) = t.uniques.iter().find(|u| u.name.as_str() == name) {
            return Some((u.path.clone(), false));
        }
        if let Some(f) = t.foreign_keys.iter().find(|f| f.name.as_str() == name) {
            return Some((f.path.clone(), false));
        }
        if let Some(x) = t
            .indexes
            .iter()
            .find(|x| x.name.as_str() == name && !x.path.is_empty())
        {
            return Some((x.path.clone(), false));
        }
        if r.message.contains("cannot be cast automatically") {
            if let Some(c) = t
                .columns
                .iter()
                .find(|c| c.name.as_str() == name && !c.path.is_empty())
            {
                return Some((format!("{}.type", c.path), false));
            }
        }
        if r.message.contains("contains null values") {
            if let Some(c) = t
                .columns
                .iter()
                .find(|c| c.name.as_str() == name && !c.path.is_empty())
            {
                return Some((format!("{}.not_null", c.path), false));
            }
        }
    }
    None
}

/// The expression that names what the message says does not exist (column, function, type).
fn by_missing_name(exprs: &[Expr], r: &Refusal) -> Option<(String, bool)> {
    let name = match missing(r) {
        Some(Missing::Function(n) | Missing::Type(n) | Missing::Relation(n)) => n,
        None if r.sqlstate == "42703" => quoted(r.message).into_iter().next()?,
        None => return None,
    };
    let last = name.rsplit('.').next().unwrap_or(&name).to_string();
    exprs
        .iter()
        .find(|e| has_word(&e.text, &last))
        .map(|e| (e.path.clone(), true))
}

/// "cannot use column reference in DEFAULT expression": the default that is a bare word, else
/// the first default of the statement.
fn by_bare_default(exprs: &[Expr], r: &Refusal) -> Option<(String, bool)> {
    if !r.message.contains("DEFAULT") {
        return None;
    }
    let defaults: Vec<&Expr> = exprs.iter().filter(|e| e.default_of.is_some()).collect();
    defaults
        .iter()
        .find(|e| e.default_of.as_deref().is_some_and(is_bare_word))
        .or(defaults.first())
        .map(|e| (e.path.clone(), true))
}

fn code_for(r: &Refusal, in_expression: bool) -> &'static str {
    match r.sqlstate {
        "42703" => code::UNKNOWN_COLUMN,
        "42883" => code::UNKNOWN_FUNCTION,
        "42704" => code::UNKNOWN_TYPE,
        "42P01" => code::UNKNOWN_REFERENCE,
        s if s.starts_with("23") => code::ROWS_VIOLATE,
        s if in_expression && (s.starts_with("42") || s.starts_with("0A")) => {
            code::INVALID_EXPRESSION
        }
        _ => code::STATEMENT_REFUSED,
    }
}

/// The name the message says does not exist, for the function / type / relation errors.
fn missing(r: &Refusal) -> Option<Missing> {
    let first = |prefix: &str| -> Option<String> {
        let rest = r.message.split_once(prefix)?.1;
        let rest = rest.trim_start_matches('"');
        let end = rest.find(['"', '(']).unwrap_or(rest.len());
        Some(rest[..end].trim().to_string()).filter(|n| !n.is_empty())
    };
    match r.sqlstate {
        "42883" => first("function ")
            .or_else(|| first("operator does not exist: "))
            .map(Missing::Function),
        "42704" => first("type ").map(Missing::Type),
        "42P01" => first("relation ").map(Missing::Relation),
        _ => None,
    }
}

fn hint(t: Option<&Table>, r: &Refusal, default: Option<&str>) -> Option<String> {
    let m = r.message;
    Some(match r.sqlstate {
        "42703" => {
            let t = t?;
            let cols: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            let missing = quoted(m).into_iter().next().unwrap_or_default();
            format!(
                "{} has the columns {}{}",
                t.qualified(),
                cols.join(", "),
                suggest::did_you_mean(&missing, cols.iter().copied())
            )
        }
        _ if m.contains("column reference in DEFAULT") || default.is_some_and(is_bare_word) => {
            let w = default.filter(|d| is_bare_word(d)).unwrap_or("pending");
            format!(
                "a bare word in a default is a column name to PostgreSQL: write text as an SQL literal inside the JSON string, \"default\": \"'{w}'\""
            )
        }
        "42804" if m.contains("cannot be cast automatically") => {
            let col = quoted(m).into_iter().next().unwrap_or_default();
            format!("PostgreSQL has no assignment conversion to the new type: declare how to convert the values with \"using\" on the column (e.g. \"using\": \"{col}::<new type>\")")
        }
        "42883" => format!("{SEARCH_PATH_NOTE}: schema-qualify a function outside pg_catalog and revos (\"public.my_function(…)\")"),
        "42704" => format!("{SEARCH_PATH_NOTE}: schema-qualify a type outside pg_catalog and revos (\"extensions.citext\")"),
        "42P01" => format!("{SEARCH_PATH_NOTE}: schema-qualify the table"),
        "23514" => "existing rows violate the check: change those rows first, or the check".into(),
        "23505" => "existing rows hold duplicates of the key: remove them first".into(),
        "23502" => "existing rows hold NULL there: give a default, or fill them first".into(),
        "23503" => "existing rows point at rows the referenced table does not have: fix them first".into(),
        "42501" => "the applying role lacks a privilege: grant it (GRANT CREATE ON SCHEMA <schema> TO <role> for new tables), or apply as the tables' owner".into(),
        "55P03" => "another session held a lock the statement needs past options.lock_timeout_ms: retry, or raise lock_timeout_ms".into(),
        _ => return None,
    })
}

/// The strings the message puts in double quotes, in order.
fn quoted(message: &str) -> Vec<String> {
    message
        .split('"')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, s)| s.to_string())
        .collect()
}

fn is_bare_word(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty()
        && s.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true"
                | "false"
                | "null"
                | "current_date"
                | "current_timestamp"
                | "current_user"
                | "localtime"
                | "localtimestamp"
                | "current_time"
                | "session_user"
                | "user"
        )
}

/// Whether `text` has `word` as a whole identifier (case-insensitively, quoted or not).
fn has_word(text: &str, word: &str) -> bool {
    let t = text.to_lowercase();
    let w = word.to_lowercase();
    t.match_indices(&w).any(|(at, _)| {
        let before = t[..at].chars().next_back();
        let after = t[at + w.len()..].chars().next();
        let ident = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        !ident(before) && !ident(after)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::normalize::normalize;
    use crate::schema::spec::read_schema;
    use serde_json::json;

    fn schema(v: serde_json::Value) -> Schema {
        let mut issues = vec![];
        let s = normalize(&read_schema(&v, &mut issues), &mut issues);
        assert!(issues.is_empty(), "{issues:?}");
        s
    }

    fn step(object: &str, sql: &str) -> Step {
        Step::new("table", object.into(), sql.into())
    }

    fn at(s: &Schema, st: &Step, message: &str, sqlstate: &str) -> Located {
        locate(
            s,
            &Refusal {
                step: st,
                message,
                sqlstate,
                position: None,
            },
        )
    }

    #[test]
    fn the_check_naming_a_missing_column() {
        let s = schema(
            json!({"schema_version": "4", "description": "d", "tables": [
            {"name": "invoices", "columns": [{"name": "total", "type": "bigint", "default": "0"}],
             "checks": [{"expression": "total >= 0"}, {"expression": "amount_cents > 0"}]}]}),
        );
        let st = step(
            "\"public\".\"invoices\"",
            "CREATE TABLE \"public\".\"invoices\" (\n  \"total\" bigint DEFAULT (0),\n  CONSTRAINT \"ck_invoices_1\" CHECK ((total >= 0)),\n  CONSTRAINT \"ck_invoices_2\" CHECK ((amount_cents > 0))\n)",
        );
        let l = at(&s, &st, "column \"amount_cents\" does not exist", "42703");
        assert_eq!(l.path, "tables[0].checks[1].expression");
        assert_eq!(l.code, code::UNKNOWN_COLUMN);
        assert!(l.hint.as_deref().unwrap().contains("total"), "{l:?}");
        // with a position, the position decides
        let pos = st.sql.find("total >= 0").unwrap() + 1;
        let l = locate(
            &s,
            &Refusal {
                step: &st,
                message: "x",
                sqlstate: "42601",
                position: Some(pos),
            },
        );
        assert_eq!(l.path, "tables[0].checks[0].expression");
        assert_eq!(l.code, code::INVALID_EXPRESSION);
    }

    #[test]
    fn a_bare_word_default_and_a_function_not_found() {
        let s = schema(
            json!({"schema_version": "4", "description": "d", "tables": [
            {"name": "orders", "columns": [{"name": "n", "type": "int", "default": "1"},
                                           {"name": "state", "type": "text", "default": "pending"},
                                           {"name": "code", "type": "text", "check": "is_code(code)"}]}]}),
        );
        let st = step(
            "\"public\".\"orders\"",
            "CREATE TABLE \"public\".\"orders\" (\"n\" integer DEFAULT (1), \"state\" text DEFAULT (pending), \"code\" text, CONSTRAINT \"ck_orders_code\" CHECK ((is_code(code))))",
        );
        let l = at(
            &s,
            &st,
            "cannot use column reference in DEFAULT expression",
            "42P10",
        );
        assert_eq!(l.path, "tables[0].columns[1].default");
        assert_eq!(l.code, code::INVALID_EXPRESSION);
        assert!(
            l.hint
                .as_deref()
                .unwrap()
                .contains("\"default\": \"'pending'\""),
            "{l:?}"
        );
        let l = at(&s, &st, "function is_code(text) does not exist", "42883");
        assert_eq!(l.path, "tables[0].columns[2].check");
        assert_eq!(l.code, code::UNKNOWN_FUNCTION);
        assert_eq!(l.missing, Some(Missing::Function("is_code".into())));
        assert!(l.hint.as_deref().unwrap().contains("schema-qualify"));
    }

    #[test]
    fn rows_violating_a_named_check_and_other_objects() {
        let s = schema(json!({"schema_version": "4", "description": "d",
            "enums": [{"name": "mood", "values": ["a"]}],
            "tables": [{"name": "t", "columns": [{"name": "q", "type": "int", "check": "q > 0"}]}]}));
        let st = step(
            "\"public\".\"t\"",
            "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"ck_t_q\" CHECK ((q > 0))",
        );
        let l = at(
            &s,
            &st,
            "check constraint \"ck_t_q\" of relation \"t\" is violated by some row",
            "23514",
        );
        assert_eq!(l.path, "tables[0].columns[0].check");
        assert_eq!(l.code, code::ROWS_VIOLATE);
        let st = step(
            "\"public\".\"t\"",
            "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"q\" TYPE bigint",
        );
        let l = at(
            &s,
            &st,
            "column \"q\" cannot be cast automatically to type bigint",
            "42804",
        );
        assert_eq!(l.path, "tables[0].columns[0].type");
        assert!(l.hint.unwrap().contains("\"using\": \"q::<new type>\""));
        let en = Step::new(
            "enum",
            "\"public\".\"mood\"".into(),
            "CREATE TYPE \"public\".\"mood\" AS ENUM ('a')".into(),
        );
        let l = at(&s, &en, "permission denied for schema public", "42501");
        assert_eq!(l.path, "enums[0]");
        assert_eq!(l.code, code::STATEMENT_REFUSED);
        assert!(l.hint.unwrap().contains("GRANT CREATE"));
    }
}
