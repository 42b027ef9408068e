-- The membership tenancy mode (issue 25; docs/format.md, "options.tenancy"): a user acts for every
-- tenant they belong to, as a membership table says (Supabase / basejump style), rather than for
-- one tenant per transaction. The user is revos.current_user_id(): the JWT's sub claim, as
-- PostgREST passes it. Two users, three tenants: ann belongs to tenants 1 and 2, bob to tenant 3,
-- cy to none. The rows are read and written as the role regress_member_app (a superuser bypasses
-- RLS).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS teams CASCADE;
DROP ROLE IF EXISTS regress_member_app;
CREATE EXTENSION revos;
RESET client_min_messages;
\set ann '''aaaaaaaa-0000-0000-0000-000000000001'''
\set bob '''bbbbbbbb-0000-0000-0000-000000000002'''
\set cy  '''cccccccc-0000-0000-0000-000000000003'''
\set t1  '''10000000-0000-0000-0000-000000000001'''
\set t2  '''20000000-0000-0000-0000-000000000002'''
\set t3  '''30000000-0000-0000-0000-000000000003'''

-- 1. the declaration: the membership table is a table of the payload; the tenant tables' column is
--    account_id; options.tenancy names the table and its two columns
\set v1 '{"schema_version": "001", "description": "teams", "schema": "teams", "options": {"tenant_column": "account_id", "tenancy": {"mode": "membership", "table": "account_user", "tenant_column": "account_id", "user_column": "user_id"}}, "tables": [{"name": "account_user", "tenant_scoped": false, "timestamps": false, "soft_delete": false, "primary_key": ["user_id", "account_id"], "columns": [{"name": "user_id", "type": "uuid", "not_null": true}, {"name": "account_id", "type": "uuid", "not_null": true}]}, {"name": "notes", "soft_delete": false, "columns": [{"name": "body", "type": "text", "not_null": true}]}]}'

-- the plan: RLS on both tables (not forced on the membership table: its owner writes it); the
-- tenant table's policy compares its tenant with the user's tenants; the membership table's lets a
-- user read their own rows (FOR SELECT only: adding or removing a membership is for the owner, or
-- for policies the application declares). Every operator is OPERATOR(pg_catalog.=) and every name
-- schema-qualified: no search_path changes them.
SELECT line FROM regress.plan(:'v1') line WHERE line ~ 'POLICY|ROW LEVEL';
SELECT regress.outcome(revos.apply_schema(:'v1')) AS v1;

SELECT relname, relrowsecurity AS rls, relforcerowsecurity AS forced FROM pg_class
 WHERE relnamespace = 'teams'::regnamespace AND relkind = 'r' ORDER BY relname;

-- as Postgres reads the policies back
SELECT c.relname, p.polname, p.polcmd, pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       CASE WHEN p.polwithcheck IS NULL THEN 'none'
            WHEN pg_get_expr(p.polqual, p.polrelid) = pg_get_expr(p.polwithcheck, p.polrelid) THEN 'as using' END AS with_check
  FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid ORDER BY c.relname;

-- 2. memberships and notes, written by the owner (here a superuser, who bypasses RLS anyway)
INSERT INTO teams.account_user (user_id, account_id) VALUES (:ann, :t1), (:ann, :t2), (:bob, :t3);
INSERT INTO teams.notes (account_id, body) VALUES (:t1, 'tenant 1'), (:t2, 'tenant 2'), (:t3, 'tenant 3');
CREATE ROLE regress_member_app;
GRANT USAGE ON SCHEMA teams TO regress_member_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON teams.notes TO regress_member_app;
GRANT SELECT, INSERT ON teams.account_user TO regress_member_app;
SET ROLE regress_member_app;

-- 3. ann (claims with only sub, as Supabase issues them) sees the notes of her two tenants, and of
--    the memberships only her own rows
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": "aaaaaaaa-0000-0000-0000-000000000001", "role": "authenticated"}', true) IS NOT NULL AS ann;
SELECT revos.current_user_id() AS current_user_id;
SELECT body FROM teams.notes ORDER BY body;
SELECT count(*) AS membership_rows_ann_sees FROM teams.account_user;
COMMIT;

-- bob, through PostgREST's other setting request.jwt.claim.sub, sees tenant 3 only
BEGIN;
SELECT set_config('request.jwt.claim.sub', 'bbbbbbbb-0000-0000-0000-000000000002', true) IS NOT NULL AS bob;
SELECT body FROM teams.notes ORDER BY body;
COMMIT;

-- cy belongs to no tenant: nothing; and without claims, nothing
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": "cccccccc-0000-0000-0000-000000000003"}', true) IS NOT NULL AS cy;
SELECT count(*) AS notes_cy_sees FROM teams.notes;
COMMIT;
SELECT revos.current_user_id() IS NULL AS no_user, count(*) AS notes_without_claims FROM teams.notes;

-- 4. writes: ann writes into her tenants; a row of tenant 3 is refused (WITH CHECK), and moving one
--    of her rows to tenant 3 too; bob's row cannot be changed (it is not visible)
\set VERBOSITY terse
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": "aaaaaaaa-0000-0000-0000-000000000001"}', true) IS NOT NULL AS ann;
INSERT INTO teams.notes (account_id, body) VALUES (:t2, 'ann writes for tenant 2');
SAVEPOINT s;
INSERT INTO teams.notes (account_id, body) VALUES (:t3, 'ann writes for tenant 3');
ROLLBACK TO s;
UPDATE teams.notes SET account_id = :t3 WHERE body = 'tenant 1';
ROLLBACK TO s;
WITH u AS (UPDATE teams.notes SET body = 'changed by ann' WHERE body = 'tenant 3' RETURNING 1)
SELECT count(*) AS bobs_rows_updated FROM u;
-- nor can she make herself a member of tenant 3, although the role may INSERT there: revos's policy
-- on the membership table is for reading only
INSERT INTO teams.account_user (user_id, account_id) VALUES (:ann, :t3);
ROLLBACK;
\set VERBOSITY default
RESET ROLE;

-- 5. the same declaration again is noop; a new version of it plans nothing (the policies read back
--    compare equal to what the declaration builds)
SELECT regress.outcome(revos.apply_schema(:'v1')) AS again;
SELECT line FROM regress.plan(jsonb_set(:'v1'::jsonb, '{schema_version}', '"002"')) line;

-- 6. a policy changed by hand is drift: the next version replaces it
ALTER POLICY revos_tenant_isolation ON teams.notes USING (true);
SELECT line FROM regress.plan(jsonb_set(:'v1'::jsonb, '{schema_version}', '"002"')) line;
SELECT regress.outcome(revos.apply_schema(jsonb_set(:'v1'::jsonb, '{schema_version}', '"002"'))) AS v2;
SELECT pg_get_expr(polqual, polrelid) ~ 'current_user_id' AS restored FROM pg_policy WHERE polrelid = 'teams.notes'::regclass;

-- 7. a permissive policy added by hand on the membership table would widen every tenant's view
--    (foreign_policy: blocked)
CREATE POLICY everyone ON teams.account_user FOR SELECT USING (true);
SELECT regress.outcome(revos.apply_schema(jsonb_set(:'v1'::jsonb, '{schema_version}', '"003"'))) AS v3;
DROP POLICY everyone ON teams.account_user;

-- 8. the policies are bound to pg_catalog's = and to teams.account_user when created: a look-alike
--    operator first on the querying role's search_path changes nothing (cy still sees no note), and
--    a plan sent with that search_path finds nothing to change (revos plans and applies under its
--    pinned search_path; the policy text says OPERATOR(pg_catalog.=) besides, see the plan above)
CREATE SCHEMA regress_lookalike;
CREATE FUNCTION regress_lookalike.always(uuid, uuid) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR regress_lookalike.= (LEFTARG = uuid, RIGHTARG = uuid, FUNCTION = regress_lookalike.always);
GRANT USAGE ON SCHEMA regress_lookalike TO PUBLIC;
SET ROLE regress_member_app;
BEGIN;
SET LOCAL search_path = regress_lookalike, pg_catalog, public;
SELECT set_config('request.jwt.claims', '{"sub": "cccccccc-0000-0000-0000-000000000003"}', true) IS NOT NULL AS cy;
SELECT count(*) AS notes_cy_sees FROM teams.notes;
COMMIT;
RESET ROLE;
SET search_path = regress_lookalike, pg_catalog, public;
SELECT line FROM regress.plan(jsonb_set(:'v1'::jsonb, '{schema_version}', '"003"')) line;
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA regress_lookalike CASCADE;
RESET client_min_messages;

SET client_min_messages = warning;
DROP SCHEMA teams CASCADE;
DROP OWNED BY regress_member_app;
DROP ROLE regress_member_app;
RESET client_min_messages;
