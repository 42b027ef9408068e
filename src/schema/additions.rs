//! What revos adds to every table against what the application declared (issue 25, "clashes
//! with revos's additions"): a column named like one of revos's takes its place, and this module
//! says what revos still does for it and what it tells the caller.
//!
//! * An app-declared tenant column without a default of its own keeps revos's default
//!   (`(revos.current_tenant_id())::<tenant_type>`) and NOT NULL ([`complete_tenant_column`]); the
//!   schema hash covers the column as written ([`as_hashed`]), so a version applied before keeps
//!   its hash, and the next version's plan adds the default to a table applied by the old rule.
//!   Its type must be the tenant type ([`check_tenant_type`], in `validate`).
//! * App-declared `created_at` / `updated_at` that differ from revos's are kept as written, with a
//!   warning that says what revos would have made and whether its trigger still sets `updated_at`
//!   ([`timestamp_notes`]).
//! * Unique keys: per tenant or global, the same choice for a column's `unique`, a table's
//!   `unique` entry and a unique index (`unique_scope`, `options.unique_scope`); a tenant table's
//!   unique form that does not say gets a warning naming the scope chosen ([`unique_scope_notes`]).
//!
//! Pure: no catalog access.

use std::borrow::Cow;

use crate::error::{code, Issue};
use crate::ident::Name;
use crate::schema::model::*;
use crate::schema::spec::{RawOptions, RawTable};

/// revos's default for the tenant column.
pub fn tenant_default(o: &Options) -> String {
    format!("(revos.current_tenant_id())::{}", o.tenant_type.sql())
}

/// An app-declared tenant column (on a tenant-scoped table) that declares no default, generated
/// expression or identity keeps revos's default and NOT NULL: inserts that leave it out take the
/// request's tenant, as on a table where revos adds the column. What the caller wrote is kept in
/// `as_written` (hashed). One warning says so.
pub fn complete_tenant_column(
    columns: &mut [Column],
    tenant_scoped: bool,
    o: &Options,
) -> Vec<String> {
    let tcol = &o.tenant_column;
    let Some(c) = columns
        .iter_mut()
        .find(|c| tenant_scoped && !c.auto && &c.name == tcol)
    else {
        return vec![];
    };
    if c.default.is_some() || c.generated.is_some() || c.identity.is_some() {
        return vec![];
    }
    c.as_written = Some(AsWritten {
        not_null: c.not_null,
        default: None,
    });
    c.default = Some(tenant_default(o));
    c.not_null = true;
    vec![format!(
        "{}: {} is the tenant column, declared without a default: it keeps revos's default {} and NOT NULL (rows inserted without it belong to the request's tenant); declare a \"default\" of its own to replace them",
        c.path,
        c.name.as_str(),
        tenant_default(o)
    )]
}

/// The schema as the hash (and the ledger's normalized schema) covers it: every column revos
/// completed as the caller wrote it. Borrowed when no column was completed.
pub fn as_hashed(s: &Schema) -> Cow<'_, Schema> {
    let completed = |t: &Table| t.columns.iter().any(|c| c.as_written.is_some());
    if !s.tables.iter().any(completed) {
        return Cow::Borrowed(s);
    }
    let mut h = s.clone();
    for c in h.tables.iter_mut().flat_map(|t| t.columns.iter_mut()) {
        if let Some(w) = c.as_written.take() {
            c.not_null = w.not_null;
            c.default = w.default;
        }
    }
    Cow::Owned(h)
}

/// `validate`: no collation on a column the tenant policies compare — an app-declared tenant
/// column, and the membership table's tenant and user columns. A nondeterministic collation
/// makes `=` case- or accent-insensitive, and tenant `Acme` read tenant `acme`'s rows (the
/// adversarial review of issue 25); a deterministic one changes nothing equality sees.
pub fn check_tenant_collation(s: &Schema, issues: &mut Vec<Issue>) {
    let membership = match &s.options.tenancy {
        Tenancy::Membership(m) => Some(m),
        _ => None,
    };
    for t in &s.tables {
        let mut compared = vec![];
        if t.tenant_scoped {
            compared.push(&s.options.tenant_column);
        }
        if let Some(m) = membership.filter(|m| m.schema == t.schema && m.table == t.name) {
            compared.extend([&m.tenant_column, &m.user_column]);
        }
        for name in compared {
            let Some(c) = t
                .column(name)
                .filter(|c| !c.auto && c.collation_text.is_some())
            else {
                continue;
            };
            issues.push(Issue::new(
                format!("{}.collation", c.path),
                code::CONFLICTING_DEFINITION,
                format!(
                    "{} of {} is compared by the tenant policy: it takes its type's own collation (a nondeterministic one would make tenant ids that differ in case or accents one tenant)",
                    c.name.as_str(),
                    t.qualified()
                ),
            ));
        }
    }
}

/// `validate`, once the types are resolved: an app-declared tenant column has the tenant type
/// (the tenant policy compares it with `current_tenant_id()::<tenant_type>`).
pub fn check_tenant_type(s: &Schema, issues: &mut Vec<Issue>) {
    let (tcol, want) = (&s.options.tenant_column, s.options.tenant_type.sql());
    for t in s.tables.iter().filter(|t| t.tenant_scoped) {
        let Some(c) = t.column(tcol).filter(|c| !c.auto) else {
            continue;
        };
        match c.sql_type.as_deref() {
            Some(ty) if ty != want => issues.push(Issue::new(
                format!("{}.type", c.path),
                code::CONFLICTING_DEFINITION,
                format!(
                    "{} is the tenant column of {}: its type must be the tenant type {want} (options.tenant_type), not {ty}",
                    c.name.as_str(),
                    t.qualified()
                ),
            )),
            _ => {}
        }
    }
}

/// revos's timestamps are `timestamptz NOT NULL DEFAULT now()`. A declared `created_at` or
/// `updated_at` (the table has timestamps) that is nullable, has no default or another type is
/// kept as written; the warning names the column, what revos would have made, and for
/// `updated_at` that revos's trigger still sets it to `now()` on every UPDATE.
pub fn timestamp_notes(columns: &[Column], timestamps: bool) -> Vec<String> {
    let mut notes = vec![];
    for c in columns.iter().filter(|c| timestamps && !c.auto) {
        let name = c.name.as_str();
        if name != "created_at" && name != "updated_at" {
            continue;
        }
        let ty = c.type_text.as_str();
        let mut differs = vec![];
        if !matches!(ty, "timestamptz" | "timestamp with time zone") {
            differs.push(format!("type {ty}"));
        }
        if !c.not_null {
            differs.push("nullable".to_string());
        }
        if c.default.is_none() && c.generated.is_none() {
            differs.push("no default".to_string());
        }
        if differs.is_empty() {
            continue;
        }
        let after = if name == "updated_at" {
            " revos's trigger revos_touch_updated_at still sets it to now() on every UPDATE (the type must take a timestamptz, or every UPDATE fails); set \"timestamps\": false on the table to do without it".to_string()
        } else if c.default.is_none() {
            " An INSERT that leaves it out stores NULL.".to_string()
        } else {
            String::new()
        };
        notes.push(format!(
            "{}: {name} is kept as declared ({}); revos would have made it timestamptz NOT NULL DEFAULT now().{after}",
            c.path,
            differs.join(", ")
        ));
    }
    notes
}

/// `options.unique_scope`, checked.
pub fn option_scope(o: &RawOptions, path: &str, issues: &mut Vec<Issue>) -> Option<UniqueScope> {
    parse_scope(
        o.unique_scope.as_deref(),
        &format!("{path}.unique_scope"),
        issues,
    )
}

fn parse_scope(v: Option<&str>, path: &str, issues: &mut Vec<Issue>) -> Option<UniqueScope> {
    let v = v?;
    let s = UniqueScope::parse(v);
    if s.is_none() {
        issues.push(Issue::new(
            path,
            code::INVALID_VALUE,
            format!("unique_scope is \"tenant\" or \"global\", not {v:?}"),
        ));
    }
    s
}

/// The scope of one unique form: what it says, else `options.unique_scope`, else the form's own
/// default (a column's `unique` and a table's `unique` entry: per tenant; a unique index:
/// global — what every version before `unique_scope` did). A bad value was reported by
/// [`unique_scope_notes`] and counts as not said.
pub fn scope_of(
    said: Option<&str>,
    options: Option<UniqueScope>,
    form_default: UniqueScope,
) -> UniqueScope {
    said.and_then(UniqueScope::parse)
        .or(options)
        .unwrap_or(form_default)
}

/// The key's columns in its scope: per tenant on a tenant table puts the tenant column first
/// (unless the key has it already).
pub fn scoped(cols: Vec<Name>, scope: UniqueScope, tenant_scoped: bool, tcol: &str) -> Vec<Name> {
    if needs_tenant(&cols, scope, tenant_scoped, tcol) {
        let mut v = vec![Name::from_catalog(tcol)];
        v.extend(cols);
        v
    } else {
        cols
    }
}

fn needs_tenant(cols: &[Name], scope: UniqueScope, tenant_scoped: bool, tcol: &str) -> bool {
    scope == UniqueScope::Tenant && tenant_scoped && !cols.iter().any(|c| c.as_str() == tcol)
}

/// A unique index in its scope: [`scoped`] on its columns, and on its keys when they are written
/// as objects (the tenant column as the first key).
pub fn scoped_index(x: &mut Index, scope: UniqueScope, tenant_scoped: bool, tcol: &str) {
    let key_cols: Vec<Name> = x.keys.iter().filter_map(|k| k.column.clone()).collect();
    if !x.unique || !needs_tenant(&x.columns, scope, tenant_scoped, tcol) {
        return;
    }
    if !x.keys.is_empty() && !key_cols.iter().any(|c| c.as_str() == tcol) {
        x.keys.insert(
            0,
            IndexKey {
                column: Some(Name::from_catalog(tcol)),
                expression: None,
                collation: None,
                opclass: None,
                descending: false,
                nulls_first: None,
            },
        );
    }
    x.columns = scoped(std::mem::take(&mut x.columns), scope, tenant_scoped, tcol);
}

/// One unique form of a table as written: where, its `unique_scope`, whether it is unique, its
/// columns as written, and its default scope.
struct Form<'a> {
    path: String,
    /// where its `unique` is (what the warning names)
    at: String,
    said: Option<&'a str>,
    unique: bool,
    columns: Vec<&'a str>,
    default: UniqueScope,
}

fn forms(t: &RawTable) -> Vec<Form<'_>> {
    let mut out = vec![];
    for c in &t.columns {
        out.push(Form {
            at: format!("{}.unique", c.path),
            path: c.path.clone(),
            said: c.unique_scope.as_deref(),
            unique: c.unique,
            columns: vec![c.name.as_str()],
            default: UniqueScope::Tenant,
        });
    }
    for (i, (u, said)) in t.unique.iter().zip(&t.unique_scopes).enumerate() {
        out.push(Form {
            at: format!("{}.unique[{i}]", t.path),
            path: format!("{}.unique[{i}]", t.path),
            said: said.as_deref(),
            unique: true,
            columns: u.iter().map(String::as_str).collect(),
            default: UniqueScope::Tenant,
        });
    }
    for x in &t.indexes {
        out.push(Form {
            at: format!("{}.unique", x.path),
            path: x.path.clone(),
            said: x.unique_scope.as_deref(),
            unique: x.unique,
            columns: x.columns.iter().map(String::as_str).collect(),
            default: UniqueScope::Global,
        });
    }
    out
}

/// Every `unique_scope` of the table checked (a value, on a unique form, `tenant` only on a
/// tenant table), and a warning for each unique form of a tenant table that does not say its
/// scope when `options.unique_scope` does not either: its path and the scope chosen.
pub fn unique_scope_notes(
    t: &RawTable,
    tenant_scoped: bool,
    o: &Options,
    issues: &mut Vec<Issue>,
) -> Vec<String> {
    let mut notes = vec![];
    for f in forms(t) {
        let at = format!("{}.unique_scope", f.path);
        let said = parse_scope(f.said, &at, issues);
        if f.said.is_some() && !f.unique {
            issues.push(Issue::new(
                &at,
                code::CONFLICTING_DEFINITION,
                "unique_scope says where a unique key holds: give it with \"unique\": true, or leave it out",
            ));
        } else if said == Some(UniqueScope::Tenant) && !tenant_scoped {
            issues.push(Issue::new(
                &at,
                code::CONFLICTING_DEFINITION,
                "unique_scope \"tenant\" needs a tenant-scoped table: this one has no tenant column (use \"global\", or leave it out)",
            ));
        } else if f.unique && f.said.is_none() && o.unique_scope.is_none() && tenant_scoped {
            notes.push(scope_note(&f, o));
        }
    }
    notes
}

fn scope_note(f: &Form, o: &Options) -> String {
    let tcol = o.tenant_column.as_str();
    let (what, cols) = match f.default {
        UniqueScope::Tenant => (
            "per tenant",
            std::iter::once(tcol)
                .chain(f.columns.iter().copied().filter(|c| *c != tcol))
                .collect::<Vec<_>>(),
        ),
        UniqueScope::Global => ("across all tenants", f.columns.clone()),
    };
    format!(
        "{}: unique {what} ({}), unique_scope {:?} chosen because the key does not say; say \"unique_scope\": \"tenant\" or \"global\" on it (or options.unique_scope) to choose",
        f.at,
        cols.join(", "),
        f.default.as_str()
    )
}
