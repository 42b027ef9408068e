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
//! * whose owner is trusted (a superuser, the caller, or a role listed in `revos.trusted_roles`), and
//! * on which no other role — PUBLIC included — has CREATE, and
//! * where no object of the name it names is owned by a role outside those.
//!
//! And every existing schema the payload's tables and objects live in is owned by a trusted role:
//! a schema's owner may drop what revos creates there and put its own in its place (the seventh
//! adversarial review, C). Only the owner: a role that may CREATE there cannot drop others' objects
//! — except where an extension is created: its script runs with that schema first on its
//! search_path, so there no other role may CREATE either (X').
//!
//! Objects' texts too: a view's query (a materialized view's runs when it is created, and its
//! trial when it changes), a partition's bound (evaluated when it is attached), a routine's
//! arguments and result, a trigger's function and an aggregate's support functions (bound by
//! name when the statement runs, after any lock wait) — the fifth adversarial review, F1 and F2.
//!
//! The names are read by PostgreSQL's own parser (`Catalog::untrusted_names`), so a schema spelled
//! `U&"f\0075"`, with non-ASCII letters or longer than 63 bytes is the schema PostgreSQL reads.
//! Refused with `untrusted_name`, at the expression's path.

use super::model::{Catalog, NameContext, Owned, Schema};
use super::objects::{FragmentKind, Kind};
use crate::error::{code, Issue};

/// One text to check: its path in the payload, the text, how to read it.
type Named<'a> = (String, &'a str, NameContext);

pub fn check(s: &Schema, cat: &dyn Catalog, issues: &mut Vec<Issue>) {
    let declared = declared_schemas(s);
    let declared: Vec<&str> = declared.iter().map(String::as_str).collect();
    for (path, schema) in homes(s) {
        if let Err(why) = cat.untrusted_schema(schema) {
            issues.push(Issue::new(path, code::UNTRUSTED_NAME, why));
        }
    }
    for (path, schema, name) in extension_homes(s) {
        if cat.untrusted_schema(schema).is_ok() {
            if let Err(why) = untrusted_extension_path(cat, schema, name) {
                issues.push(Issue::new(path, code::UNTRUSTED_NAME, why));
            }
        }
    }
    for (path, text, ctx) in texts(s) {
        if let Err(why) = cat.untrusted_names(text, ctx, &declared) {
            issues.push(Issue::new(path, code::UNTRUSTED_NAME, why));
        }
    }
    for o in owned(s) {
        if let Err(why) = cat.untrusted_owner(&o) {
            issues.push(Issue::new(o.path, code::UNTRUSTED_NAME, why));
        }
    }
}

/// The payload's objects that may exist already and whose owner counts (the adversarial review of
/// the declared objects: a superuser's apply adopted a plain role's view, materialized view, function, aggregate
/// and sequence as they were): views, materialized views, functions, procedures and aggregates,
/// domains and enums — held to the rule for code (a superuser, the caller, a role listed in
/// `revos.trusted_roles`) — and sequences and partitions — held to the rule for tables, which admits a
/// `revos_admin` member too. Not extensions (`dependencies::check_extension_step`), schemas
/// (`homes`), nor a table's triggers, policies and grants (its owner's: the table's check).
pub fn owned(s: &Schema) -> Vec<Owned> {
    let objects = s.objects.iter().filter_map(|o| {
        let (prefix, class, as_table) = match o.kind {
            Kind::View | Kind::MaterializedView => ("relation ", "relation", false),
            Kind::Sequence => ("sequence ", "relation", true),
            Kind::Partition => ("relation ", "relation", true),
            Kind::Function | Kind::Aggregate => ("function ", "routine", false),
            Kind::Domain => ("type ", "type", false),
            _ => return None,
        };
        // a partition's schema is its table's
        let schema = o
            .schema
            .as_ref()
            .or(o.table.as_ref().map(|t| &t.0))?
            .as_str();
        let name = o
            .key
            .strip_prefix(prefix)?
            .strip_prefix(schema)?
            .strip_prefix('.')?;
        Some(Owned {
            path: o.path.clone(),
            class,
            schema: schema.to_string(),
            name: name.to_string(),
            as_table,
        })
    });
    let enums = s.enums.iter().map(|e| Owned {
        path: e.path.clone(),
        class: "type",
        schema: e.schema.as_str().to_string(),
        name: e.name.as_str().to_string(),
        as_table: false,
    });
    objects.chain(enums).collect()
}

/// Each schema the payload's tables, enums and objects live in, and the schema of each table an
/// object is on (a trigger, a policy, a grant: the eighth adversarial review, E and T), once, with
/// the path of its first use.
pub fn homes(s: &Schema) -> Vec<(String, &str)> {
    let tables = s
        .tables
        .iter()
        .map(|t| (format!("{}.schema", t.path), t.schema.as_str()));
    let enums = s
        .enums
        .iter()
        .map(|e| (format!("{}.schema", e.path), e.schema.as_str()));
    let objects = s
        .objects
        .iter()
        .filter_map(|o| Some((o.path.clone(), o.schema.as_ref()?.as_str())));
    let on_tables = s
        .objects
        .iter()
        .filter_map(|o| Some((o.path.clone(), o.table.as_ref()?.0.as_str())));
    let mut out: Vec<(String, &str)> = vec![];
    for (path, schema) in tables.chain(enums).chain(objects).chain(on_tables) {
        if !out.iter().any(|(_, known)| *known == schema) {
            out.push((path, schema));
        }
    }
    out
}

/// The schema each of the payload's extensions is created in, with the extension's path: its
/// script runs as the caller with that schema first on its search_path, so no role but trusted
/// ones may create there either (the eighth adversarial review, X': PostgreSQL's own warning about
/// extension scripts).
pub fn extension_homes(s: &Schema) -> Vec<(String, &str, &str)> {
    s.objects
        .iter()
        .filter(|o| matches!(o.kind, super::objects::Kind::Extension))
        .filter_map(|o| {
            let name = o.key.strip_prefix("extension ")?;
            Some((o.path.clone(), o.schema.as_ref()?.as_str(), name))
        })
        .collect()
}

/// Err (why) when a role other than the trusted ones may create in a schema on extension `name`'s
/// script's search_path: `schema`, where it goes, and the schemas of the installed extensions it
/// requires, which PostgreSQL puts after it (the thirteenth adversarial review, F2).
pub fn untrusted_extension_path(cat: &dyn Catalog, schema: &str, name: &str) -> Result<(), String> {
    cat.untrusted_creators(schema)?;
    for required in cat.extension_required_schemas(name) {
        cat.untrusted_creators(&required).map_err(|why| {
            format!("extension {name} requires an extension installed in schema {required}, which its script reads too: {why}")
        })?;
    }
    Ok(())
}

/// The schemas the payload's tables and objects live in (the plan creates those that are missing).
fn declared_schemas(s: &Schema) -> Vec<String> {
    let tables = s.tables.iter().map(|t| t.schema.as_str().to_string());
    let enums = s.enums.iter().map(|e| e.schema.as_str().to_string());
    let objects = s
        .objects
        .iter()
        .filter_map(|o| o.schema.as_ref().map(|n| n.as_str().to_string()));
    let mut out: Vec<String> = tables.chain(enums).chain(objects).collect();
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
                out.push((format!("{}.type", c.path), &c.type_text, NameContext::Type));
            }
            for (what, e) in [
                ("default", &c.default),
                ("generated", &c.generated),
                ("using", &c.using),
            ] {
                if let Some(e) = e {
                    out.push((format!("{}.{what}", c.path), e, NameContext::Expression));
                }
            }
        }
        for c in &t.checks {
            out.push((c.path.clone(), &c.expression, NameContext::Expression));
        }
        for x in &t.indexes {
            if let Some(w) = &x.where_ {
                out.push((format!("{}.where", x.path), w, NameContext::Expression));
            }
            for (i, k) in x.keys.iter().enumerate() {
                if let Some(e) = &k.expression {
                    let path = format!("{}.columns[{i}].expression", x.path);
                    out.push((path, e, NameContext::Expression));
                }
            }
        }
    }
    for f in s.objects.iter().flat_map(|o| o.fragments.iter()) {
        if let Some(ctx) = context(f.kind, &f.path, &f.text) {
            out.push((f.path.clone(), f.text.trim(), ctx));
        }
    }
    out
}

/// How an object's fragment is read: a list fragment by where it goes (a view's query, a
/// partition's bound, a routine's arguments or result); a type only when it names a schema.
fn context(kind: FragmentKind, path: &str, text: &str) -> Option<NameContext> {
    let ends = |s: &str| path.ends_with(s);
    match kind {
        FragmentKind::Expression => Some(NameContext::Expression),
        FragmentKind::Name => Some(NameContext::Function),
        FragmentKind::Type => text.contains('.').then_some(NameContext::Type),
        FragmentKind::List if text.trim().is_empty() => None,
        FragmentKind::List if ends(".query") => Some(NameContext::Query),
        FragmentKind::List if ends(".values") => Some(NameContext::Bound),
        FragmentKind::List if ends(".arguments") => Some(NameContext::Arguments),
        FragmentKind::List if ends(".returns") => Some(NameContext::Returns),
        // a list revos does not know how to read: as a query would fail the unknown; none exists
        FragmentKind::List => Some(NameContext::Query),
    }
}
