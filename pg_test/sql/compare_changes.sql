-- pg_regress: a new version changes a check, a default, a foreign key action and an index predicate; apply
-- compares each with the catalog as Postgres deparses it and changes it (issue 9, contract §10).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS cmp CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned

\set v1 '{"schema_version": "c1", "description": "stock", "schema": "cmp", "tables": [{"name": "warehouses", "columns": [{"name": "code", "type": "text"}]}, {"name": "items", "columns": [{"name": "code", "type": "text"}, {"name": "qty", "type": "integer", "default": "1", "check": "qty >= 0"}, {"name": "warehouse_id", "type": "uuid", "references": {"table": "warehouses", "on_delete": "cascade"}}], "indexes": [{"name": "idx_items_code", "columns": ["code"], "where": "deleted_at IS NULL"}]}]}'
SELECT revos.apply_schema(:'v1') -> 'result' ->> 'status' AS v1;

-- what the catalog holds (to_regclass: the view must not depend on what apply replaces)
CREATE VIEW cmp.defs AS
  SELECT 'check' AS what, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = to_regclass('cmp.items') AND contype = 'c'
  UNION ALL SELECT 'default', pg_get_expr(adbin, adrelid) FROM pg_attrdef
   WHERE adrelid = to_regclass('cmp.items') AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = to_regclass('cmp.items') AND attname = 'qty')
  UNION ALL SELECT 'fk on delete', confdeltype::text FROM pg_constraint WHERE conrelid = to_regclass('cmp.items') AND contype = 'f'
  UNION ALL SELECT 'index', pg_get_indexdef(to_regclass('cmp.idx_items_code'));
SELECT * FROM cmp.defs ORDER BY what;

-- version 2 changes each of them: the plan replaces them, each step with its lock and cost
\set v2 '{"schema_version": "c2", "description": "stricter", "schema": "cmp", "tables": [{"name": "warehouses", "columns": [{"name": "code", "type": "text"}]}, {"name": "items", "columns": [{"name": "code", "type": "text"}, {"name": "qty", "type": "integer", "default": "5", "check": "qty >= 10"}, {"name": "warehouse_id", "type": "uuid", "references": {"table": "warehouses", "on_delete": "restrict"}}], "indexes": [{"name": "idx_items_code", "columns": ["code"], "where": "code IS NOT NULL"}]}]}'
SELECT s ->> 'sql' AS sql, s ->> 'lock' AS lock, s ->> 'scans' AS scans, s ->> 'rewrites' AS rewrites, s ->> 'est_rows' AS est_rows
  FROM jsonb_array_elements(revos.plan_schema(:'v2') -> 'result' -> 'plan' -> 'steps') AS s;
SELECT revos.apply_schema(:'v2') -> 'result' ->> 'status' AS status,
       revos.apply_schema(:'v2') -> 'result' ->> 'status' AS again;
SELECT * FROM cmp.defs ORDER BY what;

-- the same spec again under another version: nothing differs, nothing to do (but CREATE SCHEMA IF NOT EXISTS)
SELECT count(*) AS steps FROM jsonb_array_elements(revos.plan_schema(replace(:'v2', '"c2"', '"c3"')::jsonb) -> 'result' -> 'plan' -> 'steps') AS s
 WHERE s ->> 'kind' <> 'schema';

-- a caller's search_path does not change the comparison (both sides deparsed under pg_catalog)
SET search_path = cmp, public;
SELECT count(*) AS steps FROM jsonb_array_elements(revos.plan_schema(replace(:'v2', '"c2"', '"c4"')::jsonb) -> 'result' -> 'plan' -> 'steps') AS s
 WHERE s ->> 'kind' <> 'schema';
RESET search_path;

-- an out-of-band change is put back and an undeclared index is named on the next version
ALTER TABLE cmp.items ALTER COLUMN qty SET DEFAULT 7;
CREATE INDEX items_by_hand ON cmp.items (qty);
SELECT revos.plan_schema(replace(:'v2', '"c2"', '"c5"')::jsonb) -> 'result' -> 'plan' ->> 'sql' AS sql;
SELECT w FROM jsonb_array_elements_text(revos.plan_schema(replace(:'v2', '"c2"', '"c5"')::jsonb) -> 'result' -> 'primary_outputs' -> 'warnings') AS w;

-- a new check that rows violate is the risk check_change, with the rows counted
INSERT INTO cmp.items (tenant_id, code, qty) VALUES ('11111111-1111-1111-1111-111111111111', 'a', 12), ('11111111-1111-1111-1111-111111111111', 'b', 15);
SELECT r ->> 'code' AS code, r ->> 'rows' AS rows
  FROM jsonb_array_elements(revos.apply_schema(replace(replace(:'v2', '"c2"', '"c6"'), 'qty >= 10', 'qty >= 13')::jsonb) -> 'result' -> 'risks') AS r;

DROP SCHEMA cmp CASCADE;
SET client_min_messages = warning;
DROP EXTENSION revos CASCADE;
RESET client_min_messages;
