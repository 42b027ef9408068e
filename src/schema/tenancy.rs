//! How rows are tied to a tenant: the tenant policy's predicate, in the form Postgres evaluates
//! once per statement and in the form Citus accepts on a distributed table, and the tenant of a
//! request's JWT claims (what `revos.current_tenant_id()` falls back to). Pure; one place for the
//! planner (`plan`), the shadow (`apply::shadow`), Citus placement and the SQL functions.

use crate::schema::jsonb_text::Doc;
use crate::schema::membership;
use crate::schema::model::{Options, Table, Tenancy};

/// The tenant predicate, in the sub-select form Postgres evaluates once per statement; on Citus
/// (`o.citus`) the bare form, because Citus refuses sub-selects in a distributed table's policy.
/// The operator is schema-qualified: the policy is bound to `pg_catalog.=` whatever the search_path
/// (it is also created under the pinned one), and deparses as a plain `=`.
pub fn tenant_predicate(o: &Options) -> String {
    if o.citus {
        return citus_tenant_predicate(o);
    }
    format!(
        "({} OPERATOR(pg_catalog.=) (SELECT (revos.current_tenant_id())::{}))",
        o.tenant_column,
        o.tenant_type.sql()
    )
}

/// The predicate of revos's policy on `t` (`Table::has_revos_policy`): the tenant predicate; in
/// the membership mode (`schema::membership`) the user's tenants, and on the membership table
/// itself the user's own rows.
pub fn policy_predicate(t: &Table, o: &Options) -> String {
    match &o.tenancy {
        Tenancy::Membership(m) if t.membership => membership::own_rows_predicate(m),
        Tenancy::Membership(m) => membership::tenant_predicate(m, &o.tenant_column),
        Tenancy::Claims => claims_predicate(o),
        Tenancy::Transaction => tenant_predicate(o),
    }
}

/// The tenant policy's predicate in the claims mode (issue 25): the row's tenant is one of
/// `revos.current_tenant_ids()`, cast to an array of the tenant type in a sub-select Postgres
/// evaluates once per statement. The operator and the function are schema-qualified.
pub fn claims_predicate(o: &Options) -> String {
    format!(
        "({} OPERATOR(pg_catalog.=) ANY ((SELECT revos.current_tenant_ids())::{}[]))",
        o.tenant_column,
        o.tenant_type.sql()
    )
}

/// The policy on the relation `on` (the table `t`, or a partition of it):
/// `revos_tenant_isolation`, FOR ALL TO PUBLIC, [`policy_predicate`] both ways.
pub fn tenant_policy_sql(on: &str, t: &Table, o: &Options) -> String {
    let pred = policy_predicate(t, o);
    let check = match t.policy_command() {
        (_, "SELECT") => String::new(),
        _ => format!(" WITH CHECK {pred}"),
    };
    format!(
        "CREATE POLICY {} ON {on} AS PERMISSIVE FOR {} TO PUBLIC USING {pred}{check}",
        Table::policy_name(),
        t.policy_command().1
    )
}

/// The policy predicate Citus accepts on a distributed table: no sub-select (Citus refuses a
/// SubLink in a shard's policy), the function call as is.
pub fn citus_tenant_predicate(o: &Options) -> String {
    format!(
        "({} OPERATOR(pg_catalog.=) (revos.current_tenant_id())::{})",
        o.tenant_column,
        o.tenant_type.sql()
    )
}

/// The tenant in JWT claims text (`tenant_id`, then `app_metadata.tenant_id`), exactly as its SQL
/// definition reads it: `coalesce(nullif(j ->> 'tenant_id', ''), nullif(j -> 'app_metadata' ->>
/// 'tenant_id', ''))` with `j = claims::jsonb`, NULL when that cast fails. Strings as they are,
/// numbers with every digit as jsonb prints them, other values as jsonb text (`jsonb_text`).
pub fn claims_tenant(claims: &str) -> Option<String> {
    let doc = Doc::parse(claims)?;
    let non_empty = |t: Option<String>| t.filter(|t| !t.is_empty());
    non_empty(doc.get_text("tenant_id"))
        .or_else(|| non_empty(doc.get_text_in("app_metadata", "tenant_id")))
}

/// The user in JWT claims text (`sub`, as Supabase and PostgREST issue it), exactly as
/// `revos.current_user_id()` reads it: `nullif(claims::jsonb ->> 'sub', '')`, NULL when that cast
/// fails (never an error).
pub fn claims_user(claims: &str) -> Option<String> {
    Doc::parse(claims)?
        .get_text("sub")
        .filter(|s| !s.is_empty())
}

/// The tenants of a request in the claims mode, as `revos.current_tenant_ids()` answers: the
/// array `tenant_ids` of the claims JSON (top level, else `app_metadata.tenant_ids`; a value that
/// is not an array counts as absent), each element as `->>` reads it (a number with every digit,
/// as jsonb prints it), JSON nulls and empty strings left out; without such an array the one
/// tenant `fallback` gives (`revos.current_tenant_id()`: `set_tenant`, the `tenant_id` claim);
/// else none. Never fails: claims that are not JSON have no array.
pub fn tenant_ids(claims: Option<&str>, fallback: impl FnOnce() -> Option<String>) -> Vec<String> {
    match claims.and_then(claims_tenant_ids) {
        Some(ids) => ids,
        None => fallback().into_iter().collect(),
    }
}

/// The `tenant_ids` array of claims text (see [`tenant_ids`]); None when there is none.
pub fn claims_tenant_ids(claims: &str) -> Option<Vec<String>> {
    let doc = Doc::parse(claims)?;
    let items = doc
        .get_array(None, "tenant_ids")
        .or_else(|| doc.get_array(Some("app_metadata"), "tenant_ids"))?;
    Some(
        items
            .into_iter()
            .flatten()
            .filter(|t| !t.is_empty())
            .collect(),
    )
}

/// Whether PostgreSQL's input function of the tenant type `type_name` (as `format_type` names it:
/// `uuid`, `bigint`, `text`) accepts `value` — what the tenant policy's cast of
/// `current_tenant_id()` will do with it. None for a type revos does not use for tenants.
pub fn accepts(type_name: &str, value: &str) -> Option<bool> {
    Some(match type_name {
        "uuid" => uuid_in(value),
        "bigint" => value
            .trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b')
            .parse::<i64>()
            .is_ok(),
        "integer" => value
            .trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b')
            .parse::<i32>()
            .is_ok(),
        "text" | "character varying" => true,
        _ => return None,
    })
}

/// PostgreSQL's `uuid_in` (src/backend/utils/adt/uuid.c, `string_to_uuid`): 32 hex digits, a
/// hyphen allowed after any group of four, optionally in braces.
fn uuid_in(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let braces = b.first() == Some(&b'{');
    if braces {
        i = 1;
    }
    for k in 0..16 {
        if i + 1 >= b.len() || !b[i].is_ascii_hexdigit() || !b[i + 1].is_ascii_hexdigit() {
            return false;
        }
        i += 2;
        if b.get(i) == Some(&b'-') && k % 2 == 1 && k < 15 {
            i += 1;
        }
    }
    if braces {
        if b.get(i) != Some(&b'}') {
            return false;
        }
        i += 1;
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_values_as_postgres_reads_them() {
        let u = "11111111-1111-1111-1111-111111111111";
        assert_eq!(accepts("uuid", u), Some(true));
        assert_eq!(
            accepts("uuid", "{11111111111111111111111111111111}"),
            Some(true)
        );
        assert_eq!(
            accepts("uuid", "1111-1111-1111-1111-1111-1111-1111-1111"),
            Some(true)
        );
        assert_eq!(accepts("uuid", "acme"), Some(false));
        assert_eq!(accepts("uuid", &u[1..]), Some(false));
        assert_eq!(accepts("uuid", &format!("{u}-")), Some(false));
        assert_eq!(accepts("uuid", &format!("{{{u}")), Some(false));
        assert_eq!(accepts("bigint", " 42 "), Some(true));
        assert_eq!(accepts("bigint", "+9223372036854775807"), Some(true));
        assert_eq!(accepts("bigint", "9223372036854775808"), Some(false));
        assert_eq!(accepts("bigint", "acme"), Some(false));
        assert_eq!(accepts("text", "acme"), Some(true));
        assert_eq!(accepts("numeric", "1"), None);
    }

    #[test]
    fn claims_tenant_never_fails() {
        assert_eq!(
            claims_tenant(r#"{"tenant_id":"acme"}"#).as_deref(),
            Some("acme")
        );
        assert_eq!(
            claims_tenant(r#"{"tenant_id":"","app_metadata":{"tenant_id":"b"}}"#).as_deref(),
            Some("b")
        );
        assert_eq!(claims_tenant(r#"{"tenant_id":42}"#).as_deref(), Some("42"));
        assert_eq!(claims_tenant("not json"), None);
        assert_eq!(claims_tenant("[1]"), None);
        assert_eq!(claims_tenant(r#"{"app_metadata":"x"}"#), None);
        assert_eq!(claims_tenant(""), None);
    }

    #[test]
    fn claims_user_is_the_sub_claim() {
        let u = "00000000-0000-0000-0000-0000000000a1";
        assert_eq!(
            claims_user(&format!(r#"{{"sub":"{u}","role":"authenticated"}}"#)).as_deref(),
            Some(u)
        );
        assert_eq!(claims_user(r#"{"sub":""}"#), None);
        assert_eq!(claims_user(r#"{"tenant_id":"acme"}"#), None);
        assert_eq!(claims_user(r#"{"sub":42}"#).as_deref(), Some("42"));
        assert_eq!(claims_user("not json"), None);
    }

    /// Issue 25, the claims mode: the array of the claims, element by element as `->>` reads
    /// them; without one, the transaction's tenant; else nothing.
    #[test]
    fn tenant_ids_come_from_the_claim_array() {
        let ids = |c: &str| tenant_ids(Some(c), || Some("fallback".into()));
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ids(r#"{"sub": "u1", "tenant_ids": ["t1", "t3"]}"#),
            v(&["t1", "t3"])
        );
        assert_eq!(
            ids(r#"{"app_metadata": {"tenant_ids": ["t2"]}}"#),
            v(&["t2"])
        );
        // the top level first; an empty array is an array (no tenant), not a missing one
        assert_eq!(
            ids(r#"{"tenant_ids": [], "app_metadata": {"tenant_ids": ["t2"]}}"#),
            v(&[])
        );
        // nulls and empty strings left out; numbers keep every digit; containers as jsonb text
        assert_eq!(
            ids(
                r#"{"tenant_ids": [null, "", 123456789012345678901234567891, 1e2, {"b": 1, "a": 2}, [1]]}"#
            ),
            v(&[
                "123456789012345678901234567891",
                "100",
                r#"{"a": 2, "b": 1}"#,
                "[1]"
            ])
        );
        // not an array: as if absent (the fallback)
        assert_eq!(ids(r#"{"tenant_ids": "t1"}"#), v(&["fallback"]));
        assert_eq!(ids(r#"{"tenant_ids": {"0": "t1"}}"#), v(&["fallback"]));
        assert_eq!(
            ids(r#"{"tenant_ids": null, "app_metadata": {"tenant_ids": ["t4"]}}"#),
            v(&["t4"])
        );
        assert_eq!(ids(r#"{"app_metadata": ["t1"]}"#), v(&["fallback"]));
        assert_eq!(ids("not json"), v(&["fallback"]));
        assert_eq!(ids(r#"["t1"]"#), v(&["fallback"]));
        assert_eq!(tenant_ids(None, || Some("t9".into())), v(&["t9"]));
        assert_eq!(tenant_ids(Some("{}"), || None), v(&[]));
        assert_eq!(tenant_ids(None, || None), v(&[]));
    }

    /// Issue 19: two tenants whose ids differ in the 18th digit are two tenants (parsed as f64,
    /// both were 1.2345678901234568e+29).
    #[test]
    fn claims_numbers_keep_every_digit() {
        let a = claims_tenant(r#"{"tenant_id": 123456789012345678901234567891}"#);
        let b = claims_tenant(r#"{"app_metadata": {"tenant_id": 123456789012345678901234567892}}"#);
        assert_eq!(a.as_deref(), Some("123456789012345678901234567891"));
        assert_eq!(b.as_deref(), Some("123456789012345678901234567892"));
        assert_eq!(
            claims_tenant(r#"{"tenant_id": 1.50}"#).as_deref(),
            Some("1.50")
        );
        assert_eq!(
            claims_tenant(r#"{"tenant_id": 1e2}"#).as_deref(),
            Some("100")
        );
        assert_eq!(
            claims_tenant(r#"{"tenant_id": {"b": 1, "a": 2}}"#).as_deref(),
            Some(r#"{"a": 2, "b": 1}"#)
        );
        assert_eq!(
            claims_tenant(r#"{"tenant_id": [], "app_metadata": [1]}"#).as_deref(),
            Some("[]")
        );
        assert_eq!(
            claims_tenant(r#"{"tenant_id": null, "app_metadata": {"tenant_id": false}}"#)
                .as_deref(),
            Some("false")
        );
    }
}
