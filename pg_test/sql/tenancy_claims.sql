-- The claims tenancy mode (issue 25; docs/format.md, "options.tenancy"): a user acts for every
-- tenant their JWT lists in the claim array tenant_ids, as PostgREST passes it in
-- request.jwt.claims — no membership table. revos.current_tenant_ids() reads that array (top
-- level, else app_metadata.tenant_ids); without one, the transaction's tenant (set_tenant or the
-- tenant_id claim) as the only one; else none. Three tenants t1, t2, t3; the rows are read and
-- written as the role regress_claims_app (a superuser bypasses RLS).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS claimed CASCADE;
DROP ROLE IF EXISTS regress_claims_app;
CREATE EXTENSION revos;
RESET client_min_messages;

-- 1. the declaration: options.tenancy {"mode": "claims"}; text tenants
\set v1 '{"schema_version": "001", "description": "claims", "schema": "claimed", "options": {"tenant_type": "text", "tenancy": {"mode": "claims"}}, "tables": [{"name": "notes", "soft_delete": false, "timestamps": false, "columns": [{"name": "body", "type": "text", "not_null": true}]}]}'

-- the plan: the tenant policy compares the row's tenant with the request's tenants, both ways;
-- the operator is OPERATOR(pg_catalog.=) and the function schema-qualified
SELECT line FROM regress.plan(:'v1') line WHERE line ~ 'POLICY|ROW LEVEL';
SELECT regress.outcome(revos.apply_schema(:'v1')) AS v1;

-- as Postgres reads the policy back
SELECT p.polname, p.polcmd, pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_get_expr(p.polqual, p.polrelid) = pg_get_expr(p.polwithcheck, p.polrelid) AS with_check_as_using
  FROM pg_policy p WHERE p.polrelid = 'claimed.notes'::regclass;

-- 2. a note per tenant, written by the owner (a superuser, who bypasses RLS)
INSERT INTO claimed.notes (tenant_id, body) VALUES ('t1', 'tenant 1'), ('t2', 'tenant 2'), ('t3', 'tenant 3');
CREATE ROLE regress_claims_app;
GRANT USAGE ON SCHEMA claimed TO regress_claims_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON claimed.notes TO regress_claims_app;
-- EXPLAIN's lines as rows (run as the querying role: the plan it gets under RLS)
CREATE FUNCTION regress.claims_plan(query text) RETURNS SETOF text LANGUAGE plpgsql AS $$
BEGIN RETURN QUERY EXECUTE 'EXPLAIN (COSTS OFF) ' || query; END $$;
GRANT USAGE ON SCHEMA regress TO regress_claims_app;
SET ROLE regress_claims_app;

-- 3. PostgREST-style claims with tenant_ids ["t1", "t3"]: exactly the notes of t1 and t3
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": "aaaaaaaa-0000-0000-0000-000000000001", "role": "authenticated", "tenant_ids": ["t1", "t3"]}', true) IS NOT NULL AS claims;
SELECT revos.current_tenant_ids() AS current_tenant_ids;
SELECT tenant_id, body FROM claimed.notes ORDER BY tenant_id;
-- the plan carries the policy: the tenant compared with the array, current_tenant_ids() called
-- once per statement (an InitPlan); read line by line, as the lines differ between versions
SELECT bool_or(line ~ 'tenant_id = ANY') AS tenant_in_the_array, count(*) FILTER (WHERE line ~ '^\s*InitPlan') AS init_plans
  FROM regress.claims_plan('SELECT body FROM claimed.notes') line;

-- 4. writes: into t3, yes; for t2, refused (WITH CHECK); moving a row to t2 too; t2's row cannot
--    be changed (it is not visible)
\set VERBOSITY terse
INSERT INTO claimed.notes (tenant_id, body) VALUES ('t3', 'written for t3');
SAVEPOINT s;
INSERT INTO claimed.notes (tenant_id, body) VALUES ('t2', 'written for t2');
ROLLBACK TO s;
UPDATE claimed.notes SET tenant_id = 't2' WHERE body = 'tenant 1';
ROLLBACK TO s;
WITH u AS (UPDATE claimed.notes SET body = 'changed' WHERE tenant_id = 't2' RETURNING 1)
SELECT count(*) AS t2_rows_updated FROM u;
\set VERBOSITY default
ROLLBACK;

-- 5. no claims: no tenant, no row
SELECT revos.current_tenant_ids() AS no_claims, count(*) AS notes_seen FROM claimed.notes;

-- 6. the array under app_metadata (Supabase keeps custom claims there)
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": "u2", "app_metadata": {"tenant_ids": ["t2"]}}', true) IS NOT NULL AS claims;
SELECT revos.current_tenant_ids() AS current_tenant_ids, array_agg(body ORDER BY body) AS notes_seen FROM claimed.notes;
COMMIT;

-- 7. without an array, the transaction's tenant: set_tenant alone, or the tenant_id claim
BEGIN;
SELECT revos.set_tenant('t2');
SELECT revos.current_tenant_ids() AS current_tenant_ids, array_agg(body ORDER BY body) AS notes_seen FROM claimed.notes;
COMMIT;
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": "u3", "tenant_id": "t3"}', true) IS NOT NULL AS claims;
SELECT revos.current_tenant_ids() AS current_tenant_ids, array_agg(body ORDER BY body) AS notes_seen FROM claimed.notes;
COMMIT;

-- 8. what the array holds, read as ->> reads it: nulls and empty strings left out, numbers with
--    every digit; a value that is not an array counts as absent; claims that are not JSON too
BEGIN;
SELECT set_config('request.jwt.claims', '{"tenant_ids": ["t1", null, "", 123456789012345678901234567891, 1.50]}', true) IS NOT NULL AS claims;
SELECT revos.current_tenant_ids() AS current_tenant_ids;
SELECT set_config('request.jwt.claims', '{"tenant_ids": "t1"}', true) IS NOT NULL AS claims;
SELECT revos.current_tenant_ids() AS not_an_array;
SELECT set_config('request.jwt.claims', 'not json', true) IS NOT NULL AS claims;
SELECT revos.current_tenant_ids() AS not_json;
COMMIT;
RESET ROLE;

-- 9. the same declaration again is noop; a new version of it plans nothing (the policy read back
--    compares equal to what the declaration builds)
SELECT regress.outcome(revos.apply_schema(:'v1')) AS again;
SELECT line FROM regress.plan(jsonb_set(:'v1'::jsonb, '{schema_version}', '"002"')) line;

-- 10. a policy changed by hand is drift: the next version replaces it
ALTER POLICY revos_tenant_isolation ON claimed.notes USING (true);
SELECT line FROM regress.plan(jsonb_set(:'v1'::jsonb, '{schema_version}', '"002"')) line;
SELECT regress.outcome(revos.apply_schema(jsonb_set(:'v1'::jsonb, '{schema_version}', '"002"'))) AS v2;
SELECT pg_get_expr(polqual, polrelid) ~ 'current_tenant_ids' AS restored FROM pg_policy WHERE polrelid = 'claimed.notes'::regclass;

-- 11. switching an existing table between modes replaces its policy: to the transaction mode (one
--     tenant, current_tenant_id()) and back to the claims mode, each verified; the rows stay
\set v3 '{"schema_version": "003", "description": "claims", "schema": "claimed", "options": {"tenant_type": "text", "tenancy": "transaction"}, "tables": [{"name": "notes", "soft_delete": false, "timestamps": false, "columns": [{"name": "body", "type": "text", "not_null": true}]}]}'
SELECT line FROM regress.plan(:'v3') line WHERE line ~ 'POLICY';
SELECT regress.outcome(revos.apply_schema(:'v3')) AS v3;
SELECT pg_get_expr(polqual, polrelid) AS using_expr FROM pg_policy WHERE polrelid = 'claimed.notes'::regclass;
SELECT regress.outcome(revos.apply_schema(jsonb_set(:'v1'::jsonb, '{schema_version}', '"004"'))) AS v4_claims_again;
SELECT pg_get_expr(polqual, polrelid) AS using_expr FROM pg_policy WHERE polrelid = 'claimed.notes'::regclass;
SELECT count(*) AS notes_kept FROM claimed.notes;

SET client_min_messages = warning;
DROP SCHEMA claimed CASCADE;
DROP FUNCTION regress.claims_plan(text);
DROP OWNED BY regress_claims_app;
DROP ROLE regress_claims_app;
RESET client_min_messages;
