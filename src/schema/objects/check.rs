//! Stage 3 for the objects beside tables: every statement revos would run for them is read by
//! Postgres' own parser (exactly one statement of the expected kind), and the caller's fragments
//! in them (arguments, a view's query, expressions) are first scanned in Rust so that none can end
//! its statement, start a comment or leave a dollar quote.

use crate::error::{code, Issue};
use crate::schema::model::{Catalog, IndexMethod, Schema};
use crate::schema::objects::{FragmentKind, Kind, Object};
use crate::schema::validate::{precheck_expression, precheck_text, precheck_type};

/// The parse-tree tag each kind's creating statement must be.
fn tag(o: &Object) -> &'static str {
    match o.kind {
        Kind::Extension => "CreateExtensionStmt",
        Kind::Schema => "CreateSchemaStmt",
        Kind::Sequence => "CreateSeqStmt",
        Kind::Domain => "CreateDomainStmt",
        Kind::Function => "CreateFunctionStmt",
        Kind::Aggregate => "DefineStmt",
        Kind::View => "ViewStmt",
        Kind::MaterializedView => "CreateTableAsStmt",
        Kind::Trigger => "CreateTrigStmt",
        Kind::Policy => "CreatePolicyStmt",
        Kind::Grants => "GrantStmt",
        Kind::Partition => "CreateStmt",
        Kind::PartitionKey => "CreateStmt",
    }
}

/// The index methods beyond PostgreSQL's five (checked against `pg_am`) and the expressions of
/// index keys written as objects.
fn index_keys(s: &Schema, cat: &dyn Catalog, issues: &mut Vec<Issue>) {
    for x in s.tables.iter().flat_map(|t| t.indexes.iter()) {
        if let IndexMethod::Other(m) = &x.method {
            match cat.index_method_exists(m) {
                Ok(true) => {}
                Ok(false) => issues.push(Issue::new(
                    format!("{}.method", x.path),
                    code::INVALID_VALUE,
                    format!("the server has no index method {m:?} (pg_am; an extension such as vector brings hnsw)"),
                )),
                Err(why) => issues.push(Issue::new(
                    format!("{}.method", x.path),
                    code::INVALID_VALUE,
                    format!("index methods could not be read: {why}"),
                )),
            }
        }
        for (i, k) in x.keys.iter().enumerate() {
            if let Some(e) = &k.expression {
                if let Err(why) = precheck_expression(e).and_then(|_| cat.check_expression(e)) {
                    issues.push(Issue::new(
                        format!("{}.columns[{i}].expression", x.path),
                        code::INVALID_EXPRESSION,
                        format!("{e:?}: {why}"),
                    ));
                }
            }
        }
    }
}

pub fn validate(s: &Schema, cat: &dyn Catalog, issues: &mut Vec<Issue>) {
    index_keys(s, cat, issues);
    for o in &s.objects {
        let mut ok = true;
        for f in &o.fragments {
            let r = match f.kind {
                FragmentKind::Expression => {
                    precheck_expression(&f.text).and_then(|_| cat.check_expression(&f.text))
                }
                // an empty argument list is fine; an empty query fails as a statement below
                FragmentKind::List if f.text.trim().is_empty() => Ok(()),
                FragmentKind::List => precheck_text(&f.text, true),
                FragmentKind::Type => precheck_type(f.text.trim()),
                FragmentKind::Name => Ok(()),
            };
            if let Err(why) = r {
                ok = false;
                let c = if f.kind == FragmentKind::Type {
                    code::UNKNOWN_TYPE
                } else {
                    code::INVALID_EXPRESSION
                };
                issues.push(Issue::new(&f.path, c, format!("{:?}: {why}", f.text)));
            }
        }
        if !ok {
            continue;
        }
        let Some(first) = o.create.first() else {
            continue;
        };
        if let Err(why) = cat.check_statement(first, tag(o)) {
            issues.push(Issue::new(
                &o.path,
                code::INVALID_EXPRESSION,
                format!(
                    "{} is not one valid statement to PostgreSQL: {why}",
                    o.label
                ),
            ));
        }
    }
}
