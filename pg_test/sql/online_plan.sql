-- Online changes (README, "Online changes on live tables"): with options.online, a step that would
-- scan an existing table under a lock writers wait for takes its lock-light form, and what cannot run
-- in a transaction (CREATE INDEX CONCURRENTLY, VALIDATE CONSTRAINT) is planned to run after the commit.
-- plan_schema shows both parts and a plan_hash; apply_schema with options.expected_plan_hash answers
-- blocked (stale_plan) when the plan it would run now is another. (The steps after the commit are run
-- by a background worker: tests/online.sh.)
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS live CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;

SELECT regress.outcome(revos.apply_schema('{"schema_version": "l1", "description": "orders", "schema": "live", "tables": [{"name": "orders", "columns": [{"name": "qty", "type": "integer"}, {"name": "state", "type": "text"}]}]}')) AS l1;
INSERT INTO live.orders (tenant_id, qty, state) SELECT '11111111-1111-1111-1111-111111111111', g, 'new' FROM generate_series(1, 3) g;
ANALYZE live.orders;

\set l2 '{"schema_version": "l2", "description": "an index and a check", "schema": "live", "options": {"online": true}, "tables": [{"name": "orders", "columns": [{"name": "qty", "type": "integer", "check": "qty > 0"}, {"name": "state", "type": "text"}], "indexes": [{"columns": ["state"]}]}]}'

-- 1. in the transaction: the check added NOT VALID (a brief lock, no scan); after the commit: the index
--    built concurrently and the check validated (writers keep writing)
SELECT s ->> 'lock' AS lock, s ->> 'scans' AS scans, s ->> 'sql' AS in_transaction
  FROM jsonb_array_elements(revos.plan_schema(:'l2') -> 'result' -> 'plan' -> 'steps') AS s
 WHERE s ->> 'kind' <> 'schema';
SELECT s ->> 'lock' AS lock, s ->> 'sql' AS after_commit
  FROM jsonb_array_elements(revos.plan_schema(:'l2') -> 'result' -> 'plan' -> 'deferred') AS s;

-- 2. the plan's hash: the same plan, the same hash
SELECT length(revos.plan_schema(:'l2') -> 'result' ->> 'plan_hash') AS hash_length,
       revos.plan_schema(:'l2') -> 'result' ->> 'plan_hash' = revos.plan_schema(:'l2') -> 'result' ->> 'plan_hash' AS same;

-- 3. a hash of another plan: blocked, nothing done
SELECT regress.outcome(revos.apply_schema(jsonb_set(:'l2'::jsonb, '{options,expected_plan_hash}',
         to_jsonb(repeat('0', 64))))) AS stale;
SELECT count(*) AS indexes_on_state FROM pg_indexes WHERE schemaname = 'live' AND indexdef LIKE '%(state)%';

SET client_min_messages = warning;
DROP SCHEMA live CASCADE;
DROP EXTENSION revos CASCADE;
