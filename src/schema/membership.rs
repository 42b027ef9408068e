//! `options.tenancy` (issue 25): which tenants a request may act for.
//!
//! * `"transaction"` (the default): one tenant per transaction, `revos.current_tenant_id()`.
//! * `{"mode": "membership", "table": "account_user", "tenant_column": "account_id",
//!   "user_column": "user_id"}`: a user acts for every tenant they have a row for in the
//!   membership table, a table of the payload (Supabase / basejump style). The user is
//!   `revos.current_user_id()` (the JWT claim `sub`). The tenant policy of every tenant table is
//!   then `tenant = ANY (ARRAY(SELECT m.tenant FROM membership m WHERE m.user = user))`, and the
//!   membership table gets RLS with a policy of the same name letting a user see their own rows
//!   (so the sub-select runs under RLS as the querying user, without recursion and without any
//!   SECURITY DEFINER function).
//! * `{"mode": "claims"}` (or `"claims"`): a user acts for every tenant of the JWT claim array
//!   `tenant_ids` (`revos.current_tenant_ids()`; `schema::tenancy::tenant_ids`). The tenant policy
//!   is `tenant = ANY ((SELECT revos.current_tenant_ids())::type[])`; no other table is involved.
//!
//! Every name is checked (`Name::normalize`) and quoted; every operator is
//! `OPERATOR(pg_catalog.=)` and every relation and function schema-qualified, so a policy never
//! depends on the querying role's search_path. Pure: reads the payload, no SPI.

use crate::error::{code, Issue};
use crate::ident::Name;
use crate::schema::model::{Membership, Options, Schema, Table, Tenancy};
use crate::schema::spec::RawTenancy;

const PATH: &str = "options.tenancy";

/// Decides `s.options.tenancy` from what was written, after the tables are normalized: the
/// membership table must be a table of the payload with both columns, the tenant column of the
/// tenant type and the user column of a type `current_user_id()` can be cast to. Marks the
/// membership table (`Table::membership`, RLS enabled, not forced).
pub fn resolve(
    raw: Option<&RawTenancy>,
    default_schema: &Name,
    s: &mut Schema,
    issues: &mut Vec<Issue>,
) {
    let Some(raw) = raw else { return };
    let mode_path = format!("{PATH}.mode");
    match raw.mode.as_deref() {
        None => {
            return issues.push(Issue::new(
                mode_path,
                code::MISSING_KEY,
                format!("{PATH}.mode is required"),
            ))
        }
        Some("transaction") => return only_mode(raw, "transaction", issues),
        Some("claims") => {
            only_mode(raw, "claims", issues);
            s.options.tenancy = Tenancy::Claims;
            return;
        }
        Some("membership") => {}
        Some(other) => {
            return issues.push(Issue::new(
                mode_path,
                code::INVALID_VALUE,
                format!(
                    "tenancy mode is \"transaction\", \"membership\" or \"claims\", not {other:?}"
                ),
            ))
        }
    }
    let Some(m) = membership(raw, default_schema, &s.options, issues) else {
        return;
    };
    let Some(t) = s
        .tables
        .iter_mut()
        .find(|t| t.schema == m.schema && t.name == m.table)
    else {
        return issues.push(Issue::new(
            format!("{PATH}.table"),
            code::UNKNOWN_REFERENCE,
            format!(
                "the membership table {}.{} is not a table of this payload; declare it in tables",
                m.schema, m.table
            ),
        ));
    };
    let Some(user_type) = check_columns(t, &m, &s.options, issues) else {
        return;
    };
    t.membership = true;
    t.rls = true;
    // ENABLE, not FORCE: the table's owner adds and removes memberships (revos's policy there is
    // FOR SELECT); the owner reading through it sees every row, and the tenant policies' WHERE
    // on the user still keeps to the user's own
    t.force_rls = false;
    s.options.tenancy = Tenancy::Membership(Membership { user_type, ..m });
}

/// `"transaction"` and `"claims"` take no table or columns.
fn only_mode(raw: &RawTenancy, mode: &str, issues: &mut Vec<Issue>) {
    for (key, given) in [
        ("table", &raw.table),
        ("tenant_column", &raw.tenant_column),
        ("user_column", &raw.user_column),
    ] {
        if given.is_some() {
            issues.push(Issue::new(
                format!("{PATH}.{key}"),
                code::INVALID_VALUE,
                format!("{key} belongs to the membership mode; the {mode} mode takes none"),
            ));
        }
    }
}

/// The names of the membership mode, each checked (`table` or `schema.table`; the tenant column
/// defaults to `options.tenant_column`, the user column to `user_id`). The user type is filled
/// in by [`check_columns`].
fn membership(
    raw: &RawTenancy,
    default_schema: &Name,
    o: &Options,
    issues: &mut Vec<Issue>,
) -> Option<Membership> {
    let mut name = |text: &str, key: &str| {
        Name::normalize(text, format_args!("{PATH}.{key}"))
            .map_err(|i| issues.push(i))
            .ok()
    };
    let Some(table_text) = raw.table.as_deref() else {
        issues.push(Issue::new(
            format!("{PATH}.table"),
            code::MISSING_KEY,
            format!("{PATH}.table is required in the membership mode"),
        ));
        return None;
    };
    let (schema, table) = match table_text.split_once('.') {
        Some((sc, tb)) => (name(sc, "table"), name(tb, "table")),
        None => (Some(default_schema.clone()), name(table_text, "table")),
    };
    let tenant_column = match raw.tenant_column.as_deref() {
        Some(c) => name(c, "tenant_column"),
        None => Some(o.tenant_column.clone()),
    };
    let user_column = name(
        raw.user_column.as_deref().unwrap_or("user_id"),
        "user_column",
    );
    Some(Membership {
        schema: schema?,
        table: table?,
        tenant_column: tenant_column?,
        user_column: user_column?,
        user_type: "",
    })
}

/// Both columns exist on the membership table; the tenant column has the tenant type; the user
/// column's type is one a user id is cast to. Returns that type.
fn check_columns(
    t: &Table,
    m: &Membership,
    o: &Options,
    issues: &mut Vec<Issue>,
) -> Option<&'static str> {
    let q = t.qualified();
    let mut column = |name: &Name, key: &str| {
        let c = t.column(name);
        if c.is_none() {
            issues.push(Issue::new(
                format!("{PATH}.{key}"),
                code::UNKNOWN_COLUMN,
                format!("the membership table {q} has no column {name}"),
            ));
        }
        c.map(|c| id_type(&c.type_text))
    };
    let tenant = column(&m.tenant_column, "tenant_column");
    let user = column(&m.user_column, "user_column");
    if let Some(ty) = tenant {
        if ty != Some(o.tenant_type.sql()) {
            issues.push(Issue::new(
                format!("{PATH}.tenant_column"),
                code::INVALID_VALUE,
                format!(
                    "{q}.{} must have the tenant type {} (options.tenant_type), as the tenant columns it is compared with",
                    m.tenant_column,
                    o.tenant_type.sql()
                ),
            ));
        }
    }
    match user? {
        Some(ty) => Some(ty),
        None => {
            issues.push(Issue::new(
                format!("{PATH}.user_column"),
                code::UNKNOWN_TYPE,
                format!(
                    "{q}.{} must be uuid, text, bigint or integer: revos.current_user_id() is cast to it",
                    m.user_column
                ),
            ));
            None
        }
    }
}

/// The id types a tenant or a user id is compared as, by the type as written (normalized).
fn id_type(written: &str) -> Option<&'static str> {
    Some(match written {
        "uuid" => "uuid",
        "text" => "text",
        "bigint" | "int8" => "bigint",
        "integer" | "int" | "int4" => "integer",
        _ => return None,
    })
}

/// The user of the request, cast to the membership table's user type, in the sub-select form
/// Postgres evaluates once per statement.
fn current_user(m: &Membership) -> String {
    format!("(SELECT (revos.current_user_id())::{})", m.user_type)
}

/// The tenant policy of a tenant table in the membership mode: its tenant is one of the user's.
pub fn tenant_predicate(m: &Membership, tenant_column: &Name) -> String {
    format!(
        "({tenant_column} OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT m.{} FROM {}.{} m WHERE m.{} OPERATOR(pg_catalog.=) {})))",
        m.tenant_column,
        m.schema,
        m.table,
        m.user_column,
        current_user(m)
    )
}

/// The policy of the membership table itself (FOR SELECT): a user reads their own rows; writing
/// them is for the table's owner, or for policies the application declares.
pub fn own_rows_predicate(m: &Membership) -> String {
    format!(
        "({} OPERATOR(pg_catalog.=) {})",
        m.user_column,
        current_user(m)
    )
}
