-- Whose rows: revos.current_tenant_id() is the transaction's tenant — the setting
-- app.current_tenant_id (set_tenant), else the tenant_id claim of PostgREST's JWT
-- (request.jwt.claims: top level, then app_metadata); NULL when none is set. Every tenant policy
-- calls it (README, "The SQL surface"; docs/behaviour.md, "Tenancy").
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset null (null)

-- 1. set_tenant is SET LOCAL: this transaction only (safe behind a transaction pooler)
SELECT revos.current_tenant_id() IS NULL AS no_tenant_yet;
BEGIN;
SELECT revos.set_tenant('t_001');
SELECT revos.current_tenant_id();
SELECT current_setting('app.current_tenant_id') AS setting;
COMMIT;
SELECT revos.current_tenant_id() IS NULL AS gone_after_commit;

-- 2. from the JWT claims: app_metadata.tenant_id, or tenant_id at the top level (which wins)
BEGIN;
SELECT set_config('request.jwt.claims', '{"app_metadata": {"tenant_id": "t_jwt"}}', true) IS NOT NULL AS claims_set;
SELECT revos.current_tenant_id() AS from_jwt;
ROLLBACK;
SELECT claims, revos.jwt_claims_tenant(claims) AS tenant
  FROM (VALUES ('{"sub": "u1", "tenant_id": "top", "app_metadata": {"tenant_id": "nested"}}'),
               ('{"sub": "u1", "app_metadata": {"tenant_id": "nested"}}'),
               ('{"tenant_id": 12345678901234567890123456789}'),
               ('{"tenant_id": 1.50}'),
               ('{"tenant_id": 1e2}'),
               ('{"tenant_id": ""}'),
               ('{"sub": "u1"}'),
               ('not json'),
               (NULL)) AS c(claims);

-- 3. set_tenant wins over the claims; set_tenant(NULL) clears it, and the claims count again
BEGIN;
SELECT set_config('request.jwt.claims', '{"tenant_id": "t_jwt"}', true) IS NOT NULL AS claims_set;
SELECT revos.set_tenant('t_set') AS set, revos.current_tenant_id() AS current;
SELECT revos.set_tenant(NULL) AS cleared, revos.current_tenant_id() AS current;
ROLLBACK;

-- 4. pre_request() (PostgREST's db-pre-request): the JWT's tenant made the transaction's tenant
--    with set_tenant, so that it also reaches Citus workers; without a claim, no tenant
BEGIN;
SELECT set_config('request.jwt.claims', '{"role": "web", "app_metadata": {"tenant_id": "t_rest"}}', true) IS NOT NULL AS claims_set;
SELECT revos.pre_request();
SELECT current_setting('app.current_tenant_id') AS setting, revos.current_tenant_id() AS current;
SELECT set_config('request.jwt.claims', '{"role": "web"}', true) IS NOT NULL AS claims_without_tenant;
SELECT revos.pre_request();
SELECT current_setting('app.current_tenant_id') AS setting, revos.current_tenant_id() IS NULL AS no_tenant;
ROLLBACK;
