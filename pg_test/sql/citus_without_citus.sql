-- Citus placement needs a Citus cluster (a coordinator with workers): tests/citus/run.sh builds one
-- and tests distribution, co-location, the policy on every shard, the tenant on every worker and
-- revos.verify_shards() (README, "Scale-out on Citus"). What a single PostgreSQL without Citus says,
-- shown here: options.distribute "auto" (the default) and false make plain local tables; true is
-- refused before anything runs; verify_shards() has nothing to check.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.orders, public.countries;
CREATE EXTENSION revos;
RESET client_min_messages;
CREATE FUNCTION pg_temp.shop(version text, distribute jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('schema_version', version, 'description', 'shop',
    'options', jsonb_build_object('distribute', distribute), 'tables', '[
      {"name": "countries", "tenant_scoped": false, "primary_key": ["code"], "columns": [{"name": "code", "type": "char(2)"}]},
      {"name": "orders", "columns": [{"name": "country", "type": "char(2)", "references": {"table": "countries", "column": "code"}}]}]'::jsonb)
$$;

-- 1. distribute true: Citus is not installed, so nothing can be distributed; blocked, nothing runs
SELECT e ->> 'code' AS code, e ->> 'path' AS path, e ->> 'message' AS message
  FROM jsonb_array_elements(revos.apply_schema(pg_temp.shop('c1', 'true')) -> 'result' -> 'validation_errors') AS e;
SELECT to_regclass('public.orders') AS orders, count(*) AS ledger_rows FROM revos.schema_migrations;

-- 2. "auto": no Citus, so plain local tables and no Citus step in the plan (on a coordinator with
--    workers the plan would hold citus_setting, reference_table and distributed_table steps)
SELECT DISTINCT s ->> 'kind' AS kind
  FROM jsonb_array_elements(revos.plan_schema(pg_temp.shop('c1', '"auto"')) -> 'result' -> 'plan' -> 'steps') AS s ORDER BY 1;
SELECT regress.outcome(revos.apply_schema(pg_temp.shop('c1', '"auto"'))) AS c1;
-- the tenant policy has the sub-select form (on Citus it is the bare form Citus accepts)
SELECT pg_get_expr(polqual, polrelid) AS using FROM pg_policy WHERE polrelid = 'public.orders'::regclass;

-- 3. distribute is not part of the schema hash (it says where a schema lives, not what it is): the
--    same version with false is a noop
SELECT regress.outcome(revos.apply_schema(pg_temp.shop('c1', 'false'))) AS c1_again;

-- 4. verify_shards() without Citus: ok, nothing checked, and it says so
SELECT revos.verify_shards();

DROP TABLE public.orders, public.countries;
