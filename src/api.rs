//! The SQL surface: thin `#[pg_extern]` wrappers over `apply::run`.
//!
//! Every entry point that runs SQL of its own runs it under `privilege::pinned` (search_path
//! `pg_catalog, revos, pg_temp`): nothing on the caller's search_path resolves inside revos.
//!
//! The `CREATE FUNCTION` statements are written out so that `apply_schema` and `plan_schema`
//! take ONE UNNAMED jsonb parameter: PostgREST then passes the request body straight through
//! (`POST /rpc/apply_schema`), and n8n can call `SELECT revos.apply_schema($1::jsonb)`.

use pgrx::prelude::*;
use pgrx::{Internal, JsonB};
use serde_json::{json, Map, Value};

use crate::apply::fast::run_jsonb;
use crate::apply::{read_checked, run, Mode};
use crate::error::RevosError;
use crate::ident::sha256_hex;
use crate::ledger::writer::one_call;
use crate::privilege::pinned;
use crate::schema::normalize::canonical_json;
use crate::schema::tenancy::claims_tenant;

pgrx::extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
#[allow(unused_imports)] // named in `requires` below: ledger.sql calls them
use crate::ledger::writer::{
    drift_actor, drift_frame_snapshot, drift_paused, note_restore, writing_ledger,
};
pgrx::extension_sql_file!(
    "../sql/ledger.sql",
    name = "ledger",
    requires = [
        "bootstrap",
        writing_ledger,
        drift_paused,
        note_restore,
        drift_frame_snapshot,
        drift_actor
    ]
);
pgrx::extension_sql_file!("../sql/citus.sql", name = "citus", requires = ["bootstrap"]);
pgrx::extension_sql_file!(
    "../sql/deferred.sql",
    name = "deferred",
    requires = ["ledger", writing_ledger, note_restore]
);
pgrx::extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

/// Raises a [`RevosError`] as a Postgres ERROR with its SQLSTATE.
pub fn raise(e: RevosError) -> ! {
    let code = match e.sqlstate() {
        "22023" => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        _ => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
    };
    pgrx::ereport!(ERROR, code, e.to_string());
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.apply_schema(jsonb) RETURNS jsonb
    VOLATILE STRICT PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.apply_schema(jsonb) IS
    'Validate, normalize, plan and execute a JSON schema in this transaction; records revos.schema_migrations. Returns the envelope.';
"#)]
fn apply_schema(payload: Internal) -> JsonB {
    one_call(|| {
        pinned(|| {
            JsonB(run_jsonb(
                payload.into_datum(),
                Mode::Apply,
                "revos.apply_schema",
            ))
        })
    })
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.plan_schema(jsonb) RETURNS jsonb
    VOLATILE STRICT PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.plan_schema(jsonb) IS
    'Like apply_schema up to the plan: returns the SQL, changes and risks; executes and records nothing.';
"#)]
fn plan_schema(payload: Internal) -> JsonB {
    one_call(|| {
        pinned(|| {
            JsonB(run_jsonb(
                payload.into_datum(),
                Mode::Plan,
                "revos.plan_schema",
            ))
        })
    })
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.deferred_status(version text DEFAULT NULL) RETURNS jsonb
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.deferred_status(text) IS
    'Deferred steps of online applies (all, or one version''s): pending, running, done, failed, interrupted; starts a worker where steps wait without one.';
"#, requires = ["deferred"])]
fn deferred_status(version: Option<&str>) -> JsonB {
    pinned(|| JsonB(crate::deferred::status::report(version)))
}

// No pinned search_path: it runs no SQL and resolves no name (it is called for every row
// revos.touch_updated_at() touches). EXECUTE stays PUBLIC's (the default): every writer of a
// tenant table runs the trigger that calls it; it only tells whether this process runs a batch of
// revos's deferred backfill (docs/security.md).
#[pg_extern(sql = r#"
CREATE FUNCTION revos.backfilling() RETURNS boolean
    VOLATILE PARALLEL RESTRICTED LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.backfilling() IS
    'Whether this process runs a batch of revos''s deferred backfill (touch_updated_at then leaves updated_at as it was); set only by revos''s deferred worker, never by SQL.';
"#, requires = ["deferred"])]
fn backfilling() -> bool {
    crate::deferred::backfill::in_batch()
}

/// The jsonb argument as PostgreSQL prints it (NULL -> None). The functions take the raw datum
/// (declared jsonb in their SQL) instead of letting pgrx parse it, so that its size and depth are
/// checked before anything parses or canonicalizes it (`spec::check_payload_text`).
fn jsonb_text(arg: Internal) -> Option<String> {
    let datum = arg.into_datum()?;
    unsafe {
        let raw = datum.cast_mut_ptr::<pg_sys::varlena>();
        let detoasted = pg_sys::pg_detoast_datum_packed(raw);
        let text = pgrx::fcinfo::direct_function_call::<&std::ffi::CStr>(
            pg_sys::jsonb_out,
            &[Some(pg_sys::Datum::from(detoasted))],
        )?;
        Some(text.to_string_lossy().into_owned())
    }
}

/// Keys of `options` that are schema-level options; the rest describe the table.
const SCHEMA_OPTIONS: &[&str] = &[
    "tenant_column",
    "tenant_type",
    "force_rls",
    "default_indexes",
    "lock_timeout_ms",
    "allow_destructive",
    "backfill_tenant",
    "distribute",
    "online",
    "expected_plan_hash",
];

/// Builds the one-table payload for `tenant_table`. Its version is derived from the arguments,
/// so calling it twice with the same arguments is a `noop`.
pub fn tenant_table_payload(
    name: &str,
    columns: &Value,
    options: &Value,
) -> Result<Value, RevosError> {
    let Value::Array(_) = columns else {
        return Err(RevosError::InvalidArgument(
            "tenant_table: columns must be a JSON array of column objects".into(),
        ));
    };
    let Value::Object(opts) = options else {
        return Err(RevosError::InvalidArgument(
            "tenant_table: options must be a JSON object".into(),
        ));
    };
    let mut table = Map::new();
    let mut schema_opts = Map::new();
    match name.split_once('.') {
        Some((s, t)) => {
            table.insert("schema".into(), json!(s));
            table.insert("name".into(), json!(t));
        }
        None => {
            table.insert("name".into(), json!(name));
        }
    }
    table.insert("columns".into(), columns.clone());
    for (k, v) in opts {
        if SCHEMA_OPTIONS.contains(&k.as_str()) {
            schema_opts.insert(k.clone(), v.clone());
        } else {
            table.insert(k.clone(), v.clone());
        }
    }
    let digest = sha256_hex(canonical_json(&json!([name, columns, options])).as_bytes());
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(60)
        .collect();
    Ok(json!({
        "schema_version": format!("tenant_table.{safe}.{}", &digest[..12]),
        "description": format!("tenant_table({name})"),
        "options": Value::Object(schema_opts),
        "tables": [Value::Object(table)],
    }))
}

#[pg_extern(sql = r#"
CREATE FUNCTION revos.tenant_table(name text, columns jsonb DEFAULT '[]', options jsonb DEFAULT '{}') RETURNS jsonb
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.tenant_table(text, jsonb, jsonb) IS
    'Create one tenant-aware table, or make an existing table tenant-aware (options.backfill_tenant for existing rows).';
"#)]
fn tenant_table(name: Option<&str>, columns: Internal, options: Internal) -> JsonB {
    one_call(|| pinned(|| tenant_table_pinned(name, columns, options)))
}

fn tenant_table_pinned(name: Option<&str>, columns: Internal, options: Internal) -> JsonB {
    let Some(name) = name else {
        raise(RevosError::InvalidArgument(
            "tenant_table: name is required".into(),
        ))
    };
    // Too large or too deep arguments: the blocked envelope, like apply_schema's payload.
    let read = |arg: Internal, default: Value| match jsonb_text(arg) {
        None => Ok(default),
        Some(text) => read_checked(&text, "revos.tenant_table"),
    };
    let columns = match read(columns, json!([])) {
        Ok(v) => v,
        Err(envelope) => return JsonB(envelope),
    };
    let options = match read(options, json!({})) {
        Ok(v) => v,
        Err(envelope) => return JsonB(envelope),
    };
    match tenant_table_payload(name, &columns, &options) {
        Ok(payload) => JsonB(run(&payload, Mode::Apply, "revos.tenant_table")),
        Err(e) => raise(e),
    }
}

/// The transaction's tenant (`tenant`): checked against the tenant tables' type, a warning
/// outside a transaction block, then `SET LOCAL app.current_tenant_id` (sent to Citus workers).
#[pg_extern(sql = r#"
CREATE FUNCTION revos.set_tenant(tenant text) RETURNS text
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.set_tenant(text) IS
    'Sets the tenant for the current transaction only (SET LOCAL app.current_tenant_id; propagated to Citus workers). Refuses a value the tenant tables cannot hold; warns outside a transaction block. NULL clears it.';
"#)]
fn set_tenant(tenant: Option<&str>) -> Option<String> {
    pinned(|| crate::tenant::set(tenant))
}

/// The property table (`schema::properties`): what apply compares on an existing object, how, and
/// what a difference becomes. Pure data; for people and for the generated mutation tests.
#[pg_extern(sql = r#"
CREATE FUNCTION revos.property_table() RETURNS jsonb
    IMMUTABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.property_table() IS
    'The property table: every declared property apply compares, how it is read and compared, what a difference becomes, how it is verified.';
"#)]
fn property_table() -> JsonB {
    JsonB(json!(crate::schema::properties::TABLE))
}

/// The tenant in PostgREST's JWT claims (`tenant_id`, then `app_metadata.tenant_id`; empty =
/// unset). Never raises: claims that are not a JSON object give NULL. Written in Rust so that
/// `current_tenant_id()` needs no EXCEPTION block (a subtransaction cannot start during a
/// parallel query, and the function is PARALLEL SAFE: every RLS policy calls it).
#[pg_extern(sql = r#"
CREATE FUNCTION revos.jwt_claims_tenant(claims text) RETURNS text
    IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', '@FUNCTION_NAME@';
COMMENT ON FUNCTION revos.jwt_claims_tenant(text) IS
    'tenant_id (or app_metadata.tenant_id) of a JWT claims JSON text; NULL when absent, empty or not JSON.';

-- The tenant of this transaction: app.current_tenant_id, else PostgREST's JWT claim tenant_id
-- (top level, then app_metadata). Empty strings count as unset; claims that are not JSON too.
-- C (src/ledger/log_event.rs, current_tenant), PARALLEL SAFE (no EXCEPTION block). As a SQL function
-- the planner inlined it into every RLS policy, parsing its body again for every query planned.
CREATE FUNCTION revos.current_tenant_id() RETURNS text
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'current_tenant_id_wrapper';
COMMENT ON FUNCTION revos.current_tenant_id() IS
    'Tenant of this transaction: app.current_tenant_id, else request.jwt.claims tenant_id / app_metadata.tenant_id; NULL when unset.';

-- The user of this request (the membership tenancy mode): request.jwt.claim.sub, else the sub
-- claim of request.jwt.claims. Empty strings count as unset; claims that are not JSON too. C
-- (src/user.rs), PARALLEL SAFE, never an error.
CREATE FUNCTION revos.current_user_id() RETURNS text
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'current_user_id_wrapper';
COMMENT ON FUNCTION revos.current_user_id() IS
    'User of this request: request.jwt.claim.sub, else the sub claim of request.jwt.claims; NULL when unset.';

-- The tenants of this request (the claims tenancy mode, issue 25): the JWT claim array tenant_ids
-- of request.jwt.claims (top level, else app_metadata), else current_tenant_id() as one element,
-- else empty. C (src/tenant_ids.rs), PARALLEL SAFE, never an error.
CREATE FUNCTION revos.current_tenant_ids() RETURNS text[]
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'current_tenant_ids_wrapper';
COMMENT ON FUNCTION revos.current_tenant_ids() IS
    'Tenants of this request: the request.jwt.claims array tenant_ids (or app_metadata.tenant_ids), else current_tenant_id(); empty when none.';
"#)]
fn jwt_claims_tenant(claims: &str) -> Option<String> {
    claims_tenant(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_table_payload_splits_schema_and_options() {
        let p = tenant_table_payload(
            "crm.Leads",
            &json!([{"name": "email", "type": "text"}]),
            &json!({"tenant_type": "text", "soft_delete": false, "backfill_tenant": "t1"}),
        )
        .unwrap();
        assert_eq!(p["tables"][0]["schema"], "crm");
        assert_eq!(p["tables"][0]["name"], "Leads");
        assert_eq!(p["tables"][0]["soft_delete"], false);
        assert_eq!(p["options"]["tenant_type"], "text");
        assert_eq!(p["options"]["backfill_tenant"], "t1");
        let v = p["schema_version"].as_str().unwrap();
        assert!(crate::schema::normalize::valid_version(v), "{v}");
        let again = tenant_table_payload(
            "crm.Leads",
            &json!([{"name": "email", "type": "text"}]),
            &json!({"tenant_type": "text", "soft_delete": false, "backfill_tenant": "t1"}),
        )
        .unwrap();
        assert_eq!(again["schema_version"], p["schema_version"]);
        assert!(tenant_table_payload("x", &json!({}), &json!({})).is_err());
    }
}
