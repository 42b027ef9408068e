-- pg_regress: dropping tables, columns and indexes (issue 9, contract section 10).
-- Each drop is a risk with the rows it affects, blocked until options.allow_destructive; a drop
-- of something already gone does nothing.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS evo_drop CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned

SELECT revos.apply_schema('{"schema_version": "d1", "description": "orders", "schema": "evo_drop", "tables": [
  {"name": "orders", "columns": [{"name": "note", "type": "text"}, {"name": "code", "type": "text"}],
   "indexes": [{"name": "idx_orders_code", "columns": ["code"]}]},
  {"name": "scratch", "columns": [{"name": "x", "type": "int"}]}]}') -> 'result' ->> 'status' AS v1;
INSERT INTO evo_drop.orders (tenant_id, note, code)
SELECT '11111111-1111-1111-1111-111111111111', 'note ' || g, 'c' || g FROM generate_series(1, 25) g;
INSERT INTO evo_drop.scratch (tenant_id, x)
SELECT '11111111-1111-1111-1111-111111111111', g FROM generate_series(1, 40) g;

\set v2 '{"schema_version": "d2", "description": "drops", "schema": "evo_drop", "drop_tables": ["scratch"], "tables": [{"name": "orders", "drop_columns": ["note"], "drop_indexes": ["idx_orders_code"], "columns": [{"name": "code", "type": "text"}]}]}'

-- 1. blocked: each drop is a risk. The tables were never analyzed, so the rows are counted.
SELECT r ->> 'code' AS code, r ->> 'path' AS path, r ->> 'rows' AS rows, r ->> 'rows_counted' AS counted
  FROM jsonb_array_elements(revos.apply_schema(:'v2') -> 'result' -> 'risks') AS r;
SELECT count(*) AS scratch_rows_still_there FROM evo_drop.scratch;

-- 2. analyzed: the rows are pg_class.reltuples, an estimate
ANALYZE evo_drop.orders;
ANALYZE evo_drop.scratch;
SELECT r ->> 'code' AS code, r ->> 'rows' AS rows, r ->> 'rows_counted' AS counted
  FROM jsonb_array_elements(revos.plan_schema(:'v2') -> 'result' -> 'risks') AS r;
SELECT revos.plan_schema(:'v2') -> 'result' -> 'plan' ->> 'sql' AS sql;
-- what each step costs: the lock it takes, whether it rewrites or scans, the table's estimated rows
SELECT st ->> 'kind' AS kind, st ->> 'lock' AS lock, st ->> 'rewrites' AS rewrites, st ->> 'scans' AS scans, st ->> 'est_rows' AS est_rows
  FROM jsonb_array_elements(revos.plan_schema(:'v2') -> 'result' -> 'plan' -> 'steps') AS st;

-- 3. allowed: dropped, and verified gone
SELECT r -> 'result' ->> 'status' AS status, r -> 'result' -> 'verification' ->> 'ok' AS verified
  FROM revos.apply_schema(jsonb_set(:'v2'::jsonb, '{options}', '{"allow_destructive": true}')) AS r;
SELECT to_regclass('evo_drop.scratch') AS scratch, to_regclass('evo_drop.idx_orders_code') AS idx;
SELECT attname FROM pg_attribute WHERE attrelid = 'evo_drop.orders'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;
SELECT count(*) AS orders_rows_kept FROM evo_drop.orders;

-- 4. a later version that keeps the keys: nothing left to drop, no risk, nothing runs
SELECT r -> 'result' ->> 'status' AS status, r -> 'result' -> 'risks' AS risks, r -> 'result' -> 'plan' ->> 'sql' AS sql
  FROM revos.plan_schema(jsonb_set(:'v2'::jsonb, '{schema_version}', '"d3"')) AS r;

SET client_min_messages = warning;
DROP SCHEMA evo_drop CASCADE;
RESET client_min_messages;
