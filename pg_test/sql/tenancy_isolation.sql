-- Tenant isolation, as an application role sees it: the tenant policy shows a transaction the rows
-- of its own tenant only, lets it write only rows of its own tenant, and without a tenant shows and
-- accepts nothing — never everything (docs/behaviour.md, "Tenancy"). A superuser bypasses RLS, so
-- the rows are written and read as the role regress_clinic_app.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS clinic CASCADE;
DROP ROLE IF EXISTS regress_clinic_app;
CREATE EXTENSION revos;
RESET client_min_messages;
\set ann '''11111111-1111-1111-1111-111111111111'''
\set bob '''22222222-2222-2222-2222-222222222222'''

SELECT regress.outcome(revos.apply_schema('{"schema_version": "001", "description": "visits", "schema": "clinic",
  "tables": [{"name": "visits", "columns": [{"name": "note", "type": "text", "not_null": true}]}]}')) AS v1;
CREATE ROLE regress_clinic_app;
GRANT USAGE ON SCHEMA clinic TO regress_clinic_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON clinic.visits TO regress_clinic_app;
SET ROLE regress_clinic_app;

-- 1. each tenant writes its rows; tenant_id comes from the transaction's tenant (the column default)
BEGIN;
SELECT revos.set_tenant(:ann) IS NOT NULL AS ann;
INSERT INTO clinic.visits (note) VALUES ('ann: first'), ('ann: second');
COMMIT;
BEGIN;
SELECT revos.set_tenant(:bob) IS NOT NULL AS bob;
INSERT INTO clinic.visits (note) VALUES ('bob: first');
COMMIT;

-- 2. each sees its own rows only; with no tenant, none
BEGIN;
SELECT revos.set_tenant(:ann) IS NOT NULL AS ann;
SELECT note, tenant_id = revos.current_tenant_id()::uuid AS own FROM clinic.visits ORDER BY note;
COMMIT;
BEGIN;
SELECT revos.set_tenant(:bob) IS NOT NULL AS bob;
SELECT note, tenant_id = revos.current_tenant_id()::uuid AS own FROM clinic.visits ORDER BY note;
COMMIT;
SELECT count(*) AS rows_without_a_tenant FROM clinic.visits;

\set VERBOSITY terse
-- 3. writes: no tenant, no insert; a row for another tenant is refused (WITH CHECK); another
--    tenant's rows cannot be updated or deleted (they are not visible) nor moved to it
INSERT INTO clinic.visits (note) VALUES ('nobody');
BEGIN;
SELECT revos.set_tenant(:ann) IS NOT NULL AS ann;
SAVEPOINT s;
INSERT INTO clinic.visits (tenant_id, note) VALUES (:bob, 'ann writes for bob');
ROLLBACK TO s;
WITH u AS (UPDATE clinic.visits SET note = 'changed by ann' WHERE note = 'bob: first' RETURNING 1),
     d AS (DELETE FROM clinic.visits WHERE note = 'bob: first' RETURNING 1)
SELECT (SELECT count(*) FROM u) AS bobs_rows_updated, (SELECT count(*) FROM d) AS bobs_rows_deleted;
UPDATE clinic.visits SET tenant_id = :bob WHERE note = 'ann: first';
ROLLBACK;
\set VERBOSITY default

-- 4. the transaction's tenant can come from PostgREST's JWT claims instead
BEGIN;
SELECT set_config('request.jwt.claims', '{"app_metadata": {"tenant_id": "22222222-2222-2222-2222-222222222222"}}', true) IS NOT NULL AS bobs_jwt;
SELECT note FROM clinic.visits ORDER BY note;
COMMIT;

-- 5. a superuser bypasses RLS and sees every tenant's rows (apply schemas as a non-superuser owner
--    if the owner must be fenced too)
RESET ROLE;
SELECT note, tenant_id FROM clinic.visits ORDER BY note;

SET client_min_messages = warning;
DROP SCHEMA clinic CASCADE;
DROP ROLE regress_clinic_app;
RESET client_min_messages;
