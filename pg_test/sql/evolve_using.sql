-- pg_regress: a type change with "using", and NOT NULL on a table with rows (issue 9).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS evo_using CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned

SELECT revos.apply_schema('{"schema_version": "u1", "description": "items", "schema": "evo_using",
  "tables": [{"name": "items", "columns": [{"name": "qty", "type": "text"}, {"name": "label", "type": "text"}]}]}')
       -> 'result' ->> 'status' AS v1;
INSERT INTO evo_using.items (tenant_id, qty, label) VALUES
  ('11111111-1111-1111-1111-111111111111', '12', 'a'),
  ('11111111-1111-1111-1111-111111111111', ' 7 ', NULL),
  ('11111111-1111-1111-1111-111111111111', '', NULL);

-- 1. text '12' -> integer 12: "using" says how (checked by Postgres' parser like every expression)
\set v2 '{"schema_version": "u2", "description": "qty is a number", "schema": "evo_using", "options": {"allow_destructive": true}, "tables": [{"name": "items", "columns": [{"name": "qty", "type": "integer", "using": "nullif(trim(qty), '''')::integer"}, {"name": "label", "type": "text"}]}]}'
SELECT revos.plan_schema(:'v2') -> 'result' -> 'plan' ->> 'sql' AS sql;
SELECT revos.apply_schema(:'v2') -> 'result' ->> 'status' AS status;
SELECT qty, pg_typeof(qty) FROM evo_using.items ORDER BY qty;

-- a "using" that is not one expression never reaches SQL
SELECT e ->> 'path' AS path, e ->> 'code' AS code
  FROM jsonb_array_elements(revos.apply_schema('{"schema_version": "u3", "description": "bad", "schema": "evo_using", "tables": [{"name": "items", "columns": [{"name": "qty", "type": "bigint", "using": "qty); DROP TABLE evo_using.items; --"}]}]}')
       -> 'result' -> 'validation_errors') AS e;

-- 2. NOT NULL where rows hold NULL: the risk set_not_null, with the count of those rows, in the plan
SELECT r ->> 'code' AS code, r ->> 'path' AS path, r ->> 'rows' AS rows
  FROM jsonb_array_elements(revos.plan_schema('{"schema_version": "u4", "description": "not null", "schema": "evo_using", "tables": [{"name": "items", "columns": [{"name": "qty", "type": "integer"}, {"name": "label", "type": "text", "not_null": true}, {"name": "code", "type": "text", "not_null": true}, {"name": "kind", "type": "text", "not_null": true, "default": "''item''"}]}]}')
       -> 'result' -> 'risks') AS r;

SET client_min_messages = warning;
DROP SCHEMA evo_using CASCADE;
RESET client_min_messages;
