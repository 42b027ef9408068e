//! Validation step: every schema a payload's expressions and types name is one that only trusted
//! roles control, checked **before** anything of the payload is parsed against the catalog,
//! evaluated or run (the fourth adversarial review of the name locks, F1, F2, F4).
//!
//! Planning evaluates some of a payload's expressions as the caller: the rows a changed check
//! rejects are counted, a shadow index's predicate is constant-folded, a declared domain's new
//! check is tried on its columns. A function those expressions name in a schema another role owns
//! (it drops the caller's function and creates its own) or may create in (it plants a better
//! overload) ran as the caller — a superuser — before any check saw it; and the schema's contents
//! can change while an apply waits for a lock, which no lock on the schema prevents. So a payload
//! may name (before a dot: a function, an operator in `OPERATOR(…)`, a type, a collation) only a
//! schema that exists, or that the payload itself creates, and
//! * whose owner is trusted (a superuser, the caller, or a role the caller is a member of), and
//! * on which no other role — PUBLIC included — has CREATE, and
//! * where no object of the name it names is owned by a role outside those.
//!
//! The names are read by PostgreSQL's own parser (`Catalog::untrusted_names`), so a schema spelled
//! `U&"f\0075"`, with non-ASCII letters or longer than 63 bytes is the schema PostgreSQL reads.
//! Refused with `untrusted_name`, at the expression's path.

use super::model::{Catalog, Schema};
use super::objects::FragmentKind;
use crate::error::{code, Issue};

/// One text to check: its path in the payload, the text, whether it is a type (else an
/// expression).
type Named<'a> = (String, &'a str, bool);

pub fn check(s: &Schema, cat: &dyn Catalog, issues: &mut Vec<Issue>) {
    let declared = declared_schemas(s);
    let declared: Vec<&str> = declared.iter().map(String::as_str).collect();
    for (path, text, is_type) in texts(s) {
        if let Err(why) = cat.untrusted_names(text, is_type, &declared) {
            issues.push(Issue::new(path, code::UNTRUSTED_NAME, why));
        }
    }
}

/// The schemas the payload's tables and objects live in (the plan creates those that are missing).
fn declared_schemas(s: &Schema) -> Vec<String> {
    let tables = s.tables.iter().map(|t| t.schema.as_str().to_string());
    let objects = s
        .objects
        .iter()
        .filter_map(|o| o.schema.as_ref().map(|n| n.as_str().to_string()));
    let mut out: Vec<String> = tables.chain(objects).collect();
    out.sort();
    out.dedup();
    out
}

/// Every expression and every schema-qualified type the payload writes, with its path.
fn texts(s: &Schema) -> Vec<Named<'_>> {
    let mut out: Vec<Named<'_>> = vec![];
    for t in &s.tables {
        for c in t.columns.iter().filter(|c| !c.auto) {
            if c.type_text.contains('.') {
                out.push((format!("{}.type", c.path), &c.type_text, true));
            }
            for (what, e) in [
                ("default", &c.default),
                ("generated", &c.generated),
                ("using", &c.using),
            ] {
                if let Some(e) = e {
                    out.push((format!("{}.{what}", c.path), e, false));
                }
            }
        }
        for c in &t.checks {
            out.push((c.path.clone(), &c.expression, false));
        }
        for x in &t.indexes {
            if let Some(w) = &x.where_ {
                out.push((format!("{}.where", x.path), w, false));
            }
            for (i, k) in x.keys.iter().enumerate() {
                if let Some(e) = &k.expression {
                    out.push((format!("{}.columns[{i}].expression", x.path), e, false));
                }
            }
        }
    }
    for f in s.objects.iter().flat_map(|o| o.fragments.iter()) {
        match f.kind {
            FragmentKind::Expression => out.push((f.path.clone(), &f.text, false)),
            FragmentKind::Type if f.text.contains('.') => {
                out.push((f.path.clone(), f.text.trim(), true))
            }
            _ => {}
        }
    }
    out
}
