-- Quick start: one call creates a tenant table. It validates the JSON, normalizes the names, adds
-- revos's own columns, the default indexes, row-level security, the tenant policy and the updated_at
-- trigger, runs the DDL, checks the catalog against the spec and records the change (README,
-- "revos"; docs/format.md, "What revos adds to every table").
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.patients;
CREATE EXTENSION revos;
RESET client_min_messages;

-- 1. one call; the answer is the envelope (regress.stable: ids, hashes and times stand for any)
\set patients '{"schema_version": "001", "description": "Foundation Schema: patients", "tables": [{"name": "Patients", "columns": [{"name": "firstName", "type": "TEXT", "not_null": true}, {"name": "last_name", "type": "text", "not_null": true}, {"name": "phone", "type": "text"}], "indexes": [{"name": "idx_patients_phone", "columns": ["phone"]}]}]}'
SELECT jsonb_pretty(regress.stable(revos.apply_schema(:'patients'))) \g (format=unaligned tuples_only=on)

-- 2. the table: id, tenant_id, created_at, updated_at, deleted_at, then the caller's columns in
--    snake_case; the primary key, the two default indexes and the caller's; the tenant policy on
--    both sides (USING and WITH CHECK); the trigger that keeps updated_at current
\d public.patients

-- 3. row-level security is enabled and forced (the table's owner is fenced too; a superuser is not)
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'public.patients'::regclass;

-- 4. the policy: PERMISSIVE, for ALL commands, TO PUBLIC, the same test for reading (USING) and writing
--    (WITH CHECK); revos writes it with OPERATOR(pg_catalog.=) (plan_schema.sql), PostgreSQL shows a plain =
SELECT policyname, permissive, roles, cmd, qual, with_check FROM pg_policies WHERE tablename = 'patients' \gx

-- 5. the ledger: one row in revos.schema_migrations, and by trigger one event in revos.events
SELECT version, description, status, applied_by FROM revos.schema_migrations;
SELECT event_type, subject_type, payload ->> 'version' AS version, payload ->> 'status' AS status FROM revos.events;

DROP TABLE public.patients;
