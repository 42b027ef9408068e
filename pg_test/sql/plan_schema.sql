-- plan_schema: what apply_schema would do, run nothing. Every step says what it costs: the lock
-- it takes on its table, whether it rewrites or scans the table, and the table's estimated rows
-- (README, "What each step costs").
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS plans CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned

-- 1. a new table: exactly this SQL, and nothing executed
\set patients '{"schema_version": "001", "description": "Foundation Schema: patients", "tables": [{"name": "Patients", "columns": [{"name": "firstName", "type": "TEXT", "not_null": true}, {"name": "last_name", "type": "text", "not_null": true}, {"name": "phone", "type": "text"}], "indexes": [{"name": "idx_patients_phone", "columns": ["phone"]}]}]}'
SELECT revos.plan_schema(:'patients') -> 'result' -> 'plan' ->> 'sql' AS sql \g (format=unaligned tuples_only=on)
SELECT to_regclass('public.patients') AS exists_after_plan;
SELECT count(*) AS ledger_rows FROM revos.schema_migrations;

-- 2. the steps of a new table: created empty, so est_rows is 0 and nothing is scanned
SELECT s ->> 'kind' AS kind, s ->> 'lock' AS lock, s ->> 'rewrites' AS rewrites, s ->> 'scans' AS scans, s ->> 'est_rows' AS est_rows
  FROM jsonb_array_elements(revos.plan_schema(:'patients') -> 'result' -> 'plan' -> 'steps') AS s;

-- 3. an existing table with 3 rows, analyzed (est_rows is pg_class.reltuples: as of the last ANALYZE)
SELECT revos.apply_schema('{"schema_version": "p1", "description": "orders", "schema": "plans", "tables": [
  {"name": "customers", "columns": [{"name": "name", "type": "text"}]},
  {"name": "orders", "columns": [{"name": "qty", "type": "integer"}, {"name": "customer_id", "type": "uuid"}]}]}') -> 'result' ->> 'status' AS p1;
INSERT INTO plans.orders (tenant_id, qty) SELECT '11111111-1111-1111-1111-111111111111', g FROM generate_series(1, 3) g;
ANALYZE plans.orders;

-- version 2: a type change (every row written again), a NOT NULL column with a constant default (catalog
-- only), a check and a foreign key (every row read; the key needs UNIQUE (tenant_id, id) on customers,
-- which was never analyzed: est_rows is null), an index (SHARE: writers wait, readers do not), a comment
\set p2 '{"schema_version": "p2", "description": "more", "schema": "plans", "options": {"allow_destructive": true}, "tables": [{"name": "customers", "columns": [{"name": "name", "type": "text"}]}, {"name": "orders", "comment": "one row per order", "columns": [{"name": "qty", "type": "bigint", "check": "qty > 0"}, {"name": "customer_id", "type": "uuid", "references": "customers"}, {"name": "state", "type": "text", "not_null": true, "default": "''new''"}], "indexes": [{"columns": ["state"]}]}]}'
SELECT s ->> 'lock' AS lock, s ->> 'rewrites' AS rewrites, s ->> 'scans' AS scans, s ->> 'est_rows' AS est_rows, s ->> 'sql' AS sql
  FROM jsonb_array_elements(revos.plan_schema(:'p2') -> 'result' -> 'plan' -> 'steps') AS s
 WHERE s ->> 'kind' <> 'schema';
-- a type change is a risk (the rows it would convert are counted); plan_schema shows it, apply_schema
-- would be blocked by it without allow_destructive
SELECT r ->> 'code' AS code, r ->> 'path' AS path, r ->> 'rows' AS rows
  FROM jsonb_array_elements(revos.plan_schema(:'p2'::jsonb - 'options') -> 'result' -> 'risks') AS r;

-- 4. nothing ran: the table is as it was, and the ledger has only version p1
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'plans.orders'::regclass AND attname IN ('qty', 'state') ORDER BY attnum;
SELECT version FROM revos.schema_migrations;

DROP SCHEMA plans CASCADE;
