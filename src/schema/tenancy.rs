//! How rows are tied to a tenant: the tenant policy's predicate, in the form Postgres evaluates
//! once per statement and in the form Citus accepts on a distributed table, and the tenant of a
//! request's JWT claims (what `revos.current_tenant_id()` falls back to). Pure; one place for the
//! planner (`plan`), the shadow (`apply::shadow`), Citus placement and the SQL functions.

use serde_json::Value;

use crate::schema::model::Options;

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

/// The policy predicate Citus accepts on a distributed table: no sub-select (Citus refuses a
/// SubLink in a shard's policy), the function call as is.
pub fn citus_tenant_predicate(o: &Options) -> String {
    format!(
        "({} OPERATOR(pg_catalog.=) (revos.current_tenant_id())::{})",
        o.tenant_column,
        o.tenant_type.sql()
    )
}

/// The tenant in JWT claims text (`tenant_id`, then `app_metadata.tenant_id`), read as
/// `->>` of jsonb: strings as they are, other scalars as JSON text; null and "" are absent.
pub fn claims_tenant(claims: &str) -> Option<String> {
    let v: Value = serde_json::from_str(claims).ok()?;
    let text = |v: Option<&Value>| match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    let obj = v.as_object()?;
    text(obj.get("tenant_id")).or_else(|| text(obj.get("app_metadata")?.get("tenant_id")))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
