-- A version is applied once. The same version again is a noop (the same content: the same schema
-- hash, whatever the key order, name casing or description) or a conflict (other content); nothing
-- runs and nothing is recorded for either. force_apply runs it again, as a new ledger row (README,
-- "The envelope"; docs/behaviour.md, "Idempotency and the ledger").
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.patients;
CREATE EXTENSION revos;
RESET client_min_messages;
\set patients '{"schema_version": "001", "description": "Foundation Schema: patients", "tables": [{"name": "Patients", "columns": [{"name": "firstName", "type": "TEXT", "not_null": true}, {"name": "last_name", "type": "text", "not_null": true}, {"name": "phone", "type": "text"}], "indexes": [{"name": "idx_patients_phone", "columns": ["phone"]}]}]}'

-- 1. applied: one table, three indexes (two default ones and the caller's), one policy
SELECT r -> 'result' ->> 'status' AS status, r -> 'result' -> 'verification' ->> 'ok' AS verified,
       r -> 'result' -> 'primary_outputs' ->> 'tables_created' AS tables,
       r -> 'result' -> 'primary_outputs' ->> 'indexes_created' AS indexes,
       r -> 'result' -> 'primary_outputs' ->> 'policies_created' AS policies
  FROM revos.apply_schema(:'patients') AS r;

-- 2. again: noop, with the applied row's id, schema hash and time
SELECT jsonb_pretty(regress.stable(revos.apply_schema(:'patients'))) \g (format=unaligned tuples_only=on)

-- 3. other key order, other casing, another description: the same normalized schema, noop
SELECT revos.apply_schema('{"tables": [{"indexes": [{"columns": ["phone"], "name": "idx_patients_phone"}], "columns": [{"name": "first_name", "type": "text", "not_null": true}, {"name": "LastName", "type": "text", "not_null": true}, {"name": "Phone", "type": "text"}], "name": "patients"}], "schema_version": "001", "description": "x"}') -> 'result' ->> 'status' AS reordered;

-- 4. other content under the same version: conflict, naming the applied schema hash
\set other '{"schema_version": "001", "description": "x", "tables": [{"name": "patients", "columns": [{"name": "first_name", "type": "text"}]}]}'
SELECT jsonb_pretty(regress.stable(revos.apply_schema(:'other'))) \g (format=unaligned tuples_only=on)
SELECT version, status, tenant_id IS NULL AS no_tenant FROM revos.schema_migrations;

-- 5. force_apply (at the top of the payload) runs the other content: a second applied row for 001.
--    From then on the version's content is the new one: the old payload is the conflict.
SELECT regress.outcome(revos.apply_schema(jsonb_set(:'other', '{force_apply}', 'true'))) AS forced;
SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'public.patients'::regclass AND attname = 'first_name';
SELECT regress.outcome(revos.apply_schema(:'other')) AS other_again,
       regress.outcome(revos.apply_schema(:'patients')) AS first_content;
SELECT version, status, metadata ->> 'force_apply' AS force_apply FROM revos.schema_migrations ORDER BY created_at;

-- 6. plan_schema answers the same way, and records nothing either
SELECT revos.plan_schema(:'other') -> 'result' ->> 'status' AS plan_same,
       revos.plan_schema(:'patients') -> 'result' ->> 'status' AS plan_other;

DROP TABLE public.patients;
