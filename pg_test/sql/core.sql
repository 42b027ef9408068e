-- pg_regress: the core in a readable form. Only deterministic output (no ids, no timestamps).
CREATE EXTENSION revos;
\pset format aligned
\set patients '{"schema_version": "001", "description": "Foundation Schema: patients", "tables": [{"name": "Patients", "columns": [{"name": "firstName", "type": "TEXT", "not_null": true}, {"name": "last_name", "type": "text", "not_null": true}, {"name": "phone", "type": "text"}], "indexes": [{"name": "idx_patients_phone", "columns": ["phone"]}]}]}'

-- 1. the plan: exactly this SQL, nothing executed
SELECT revos.plan_schema(:'patients') -> 'result' -> 'plan' ->> 'sql' AS sql;
SELECT to_regclass('public.patients') AS exists_after_plan;

-- 2. apply, then the catalog
SELECT r -> 'result' ->> 'status' AS status, r -> 'result' -> 'verification' ->> 'ok' AS verified,
       r -> 'result' -> 'primary_outputs' ->> 'tables_created' AS tables,
       r -> 'result' -> 'primary_outputs' ->> 'indexes_created' AS indexes,
       r -> 'result' -> 'primary_outputs' ->> 'policies_created' AS policies
  FROM revos.apply_schema(:'patients') AS r;
\d public.patients
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'public.patients'::regclass;

-- 3. again: noop; other key order and casing: the same hash, noop; other content: conflict
SELECT revos.apply_schema(:'patients') -> 'result' ->> 'status' AS again;
SELECT revos.apply_schema('{"tables": [{"indexes": [{"columns": ["phone"], "name": "idx_patients_phone"}], "columns": [{"name": "first_name", "type": "text", "not_null": true}, {"name": "LastName", "type": "text", "not_null": true}, {"name": "Phone", "type": "text"}], "name": "patients"}], "schema_version": "001", "description": "x"}') -> 'result' ->> 'status' AS reordered;
SELECT revos.apply_schema('{"schema_version": "001", "description": "x", "tables": [{"name": "patients", "columns": [{"name": "first_name", "type": "text"}]}]}') -> 'result' ->> 'status' AS changed;
SELECT version, status, tenant_id IS NULL AS no_tenant FROM revos.schema_migrations;

-- 4. bad input: every problem, with its path; nothing runs
SELECT e ->> 'path' AS path, e ->> 'code' AS code
  FROM jsonb_array_elements(revos.apply_schema('{"schema_version": "002", "description": "bad", "tables": [
        {"name": "x\"; DROP TABLE patients; --", "columns": [
            {"name": "a", "type": "text", "default": "1); DROP TABLE patients; --"},
            {"name": "b", "type": "no_such_type"},
            {"name": "c", "type": "int", "check": "c > 0 -- sneaky"}],
         "indexes": [{"columns": ["ghost"]}, {"columns": ["a"], "method": "magic"}]},
        {"name": "d", "columns": [{"name": "e", "type": "uuid", "references": "nowhere"}], "bogus": 1}]}') -> 'result' -> 'validation_errors') AS e
 ORDER BY 1, 2;
SELECT count(*) AS patients_still_there FROM pg_class WHERE relname = 'patients';

-- 5. tenants
SELECT revos.current_tenant_id() IS NULL AS no_tenant_yet;
BEGIN;
SELECT revos.set_tenant('t_001');
SELECT revos.current_tenant_id();
COMMIT;
SELECT revos.current_tenant_id() IS NULL AS gone_after_commit;
BEGIN;
SELECT set_config('request.jwt.claims', '{"app_metadata": {"tenant_id": "t_jwt"}}', true) IS NOT NULL AS claims_set;
SELECT revos.current_tenant_id() AS from_jwt;
ROLLBACK;
