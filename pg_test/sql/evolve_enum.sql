-- pg_regress: removing and adding enum values (issue 9, contract section 10). Postgres cannot drop
-- an enum value, so revos recreates the type: rename the old one, create the new one, convert every
-- column using it, drop the old one. Refused while rows still use a removed value. A new value is
-- added in place (README, "Schema evolution").
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS evo_enum CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned

SELECT revos.apply_schema('{"schema_version": "e1", "description": "diary", "schema": "evo_enum",
  "enums": [{"name": "mood", "values": ["happy", "sad", "meh"]}],
  "tables": [{"name": "diary", "columns": [{"name": "mood", "type": "mood", "not_null": true, "default": "''happy''"}]}]}')
       -> 'result' ->> 'status' AS v1;
INSERT INTO evo_enum.diary (tenant_id, mood) VALUES
  ('11111111-1111-1111-1111-111111111111', 'happy'),
  ('11111111-1111-1111-1111-111111111111', 'meh');

\set v2 '{"schema_version": "e2", "description": "no more meh", "schema": "evo_enum", "options": {"allow_destructive": true}, "enums": [{"name": "mood", "values": ["happy", "sad", "ok"]}], "tables": [{"name": "diary", "columns": [{"name": "mood", "type": "mood", "not_null": true, "default": "''happy''"}]}]}'

-- 1. a row still says 'meh': refused, even with allow_destructive
SELECT e ->> 'path' AS path, e ->> 'code' AS code, e ->> 'message' AS message
  FROM jsonb_array_elements(revos.apply_schema(:'v2') -> 'result' -> 'validation_errors') AS e;

-- 2. the row changed: the risk says 0 rows use it, and the plan recreates the type
UPDATE evo_enum.diary SET mood = 'sad' WHERE mood = 'meh';
SELECT r ->> 'code' AS code, r ->> 'rows' AS rows
  FROM jsonb_array_elements(revos.plan_schema(:'v2') -> 'result' -> 'risks') AS r;
SELECT revos.plan_schema(:'v2') -> 'result' -> 'plan' ->> 'sql' AS sql;
-- converting the column rewrites the table
SELECT st ->> 'object' AS object, st ->> 'lock' AS lock, st ->> 'rewrites' AS rewrites, left(st ->> 'sql', 60) AS sql
  FROM jsonb_array_elements(revos.plan_schema(:'v2') -> 'result' -> 'plan' -> 'steps') AS st;
SELECT revos.apply_schema(:'v2') -> 'result' ->> 'status' AS status;

-- the new type has exactly the listed values; the data and the default came along
SELECT enumlabel FROM pg_enum WHERE enumtypid = 'evo_enum.mood'::regtype ORDER BY enumsortorder;
INSERT INTO evo_enum.diary (tenant_id) VALUES ('11111111-1111-1111-1111-111111111111');
SELECT mood, count(*) FROM evo_enum.diary GROUP BY 1 ORDER BY 1;

-- 3. a later version: the value is already gone, nothing to do
SELECT r -> 'result' -> 'risks' AS risks, r -> 'result' -> 'plan' ->> 'sql' AS sql
  FROM revos.plan_schema(jsonb_set(:'v2'::jsonb, '{schema_version}', '"e3"')) AS r;

-- 4. adding values needs no recreation and is no risk: ADD VALUE, placed where the list puts it
\set v4 '{"schema_version": "e4", "description": "more moods", "schema": "evo_enum", "enums": [{"name": "mood", "values": ["happy", "content", "sad", "ok", "great"]}], "tables": [{"name": "diary", "columns": [{"name": "mood", "type": "mood", "not_null": true, "default": "''happy''"}]}]}'
SELECT r -> 'result' -> 'risks' AS risks, r -> 'result' -> 'plan' ->> 'sql' AS sql
  FROM revos.plan_schema(:'v4') AS r;
SELECT revos.apply_schema(:'v4') -> 'result' ->> 'status' AS status;
SELECT enumlabel FROM pg_enum WHERE enumtypid = 'evo_enum.mood'::regtype ORDER BY enumsortorder;
SELECT mood, count(*) FROM evo_enum.diary GROUP BY 1 ORDER BY 1;

SET client_min_messages = warning;
DROP SCHEMA evo_enum CASCADE;
RESET client_min_messages;
