-- pg_regress: the counts that gate a change (rows holding NULL before NOT NULL, rows holding a removed
-- enum label, values a type change alters) read every row without planning a query over the table
-- (src/apply/row_scan.rs, docs/security.md): across inheriting tables and nested partitions, under the
-- owner's forced row-level security that hides every row from a query, with enum labels inside arrays,
-- and past one batch of 10,000 values.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS gate CASCADE;
DROP SCHEMA IF EXISTS gate_moods CASCADE;
DROP ROLE IF EXISTS regress_gate_owner;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned
CREATE ROLE regress_gate_owner;
GRANT revos_admin TO regress_gate_owner;
CREATE SCHEMA gate AUTHORIZATION regress_gate_owner;
SET ROLE regress_gate_owner;

-- 1. NULLs in a table and in a table inheriting from it (7 + 3), and in nested partitions (10 + 10)
CREATE TABLE gate.h (id integer, v text);
CREATE TABLE gate.h_kid () INHERITS (gate.h);
INSERT INTO gate.h SELECT i, CASE WHEN i % 10 < 7 THEN NULL ELSE 'x' END FROM generate_series(0, 9) i;
INSERT INTO gate.h_kid SELECT i, CASE WHEN i % 10 < 3 THEN NULL ELSE 'x' END FROM generate_series(0, 9) i;
CREATE TABLE gate.p (id integer, v text) PARTITION BY RANGE (id);
CREATE TABLE gate.p1 PARTITION OF gate.p FOR VALUES FROM (0) TO (100);
CREATE TABLE gate.p2 PARTITION OF gate.p FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (id);
CREATE TABLE gate.p2a PARTITION OF gate.p2 FOR VALUES FROM (100) TO (200);
INSERT INTO gate.p SELECT i, CASE WHEN i % 10 = 0 THEN NULL ELSE 'x' END FROM generate_series(0, 199) i;
-- the owner's own forced policy hides every row from any query it runs, and a partial index calls its
-- own function (a count planned as the extension's owner would run it as a superuser; one planned as
-- the caller would see no row: before row_scan, such a count was reported as not made)
ALTER TABLE gate.h ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY nothing ON gate.h USING (false);
CREATE FUNCTION gate.zero(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 0 * $1';
CREATE INDEX h_partial ON gate.h (id) WHERE gate.zero(id) = 0;
SELECT count(*) AS rows_a_query_sees FROM gate.h;
SELECT r ->> 'code' AS code, r ->> 'path' AS path, r ->> 'rows' AS rows
  FROM jsonb_array_elements(revos.plan_schema('{"schema_version": "g1", "description": "not null", "schema": "gate",
    "tables": [{"name": "h", "tenant_scoped": false, "timestamps": false, "soft_delete": false,
                "columns": [{"name": "id", "type": "integer"}, {"name": "v", "type": "text", "not_null": true}]},
               {"name": "p", "tenant_scoped": false, "timestamps": false, "soft_delete": false,
                "columns": [{"name": "id", "type": "integer"}, {"name": "v", "type": "text", "not_null": true}]}]}')
       -> 'result' -> 'risks') AS r
 WHERE r ->> 'code' = 'set_not_null' ORDER BY 2;

-- 2. a removed enum label: 3 rows hold it in a column, 2 more inside an array (the superuser's, in its own
-- schema: revos refuses to put its tables in a schema a role it does not trust owns)
RESET ROLE;
SELECT revos.apply_schema('{"schema_version": "g2", "description": "moods", "schema": "gate_moods",
  "enums": [{"name": "mood", "values": ["happy", "sad", "meh"]}],
  "tables": [{"name": "diary", "columns": [{"name": "mood", "type": "mood"}, {"name": "moods", "type": "mood[]"}]}]}')
       -> 'result' ->> 'status' AS g2;
INSERT INTO gate_moods.diary (tenant_id, mood, moods)
SELECT '11111111-1111-1111-1111-111111111111', m::gate_moods.mood, a::gate_moods.mood[]
  FROM (VALUES ('meh', NULL), ('meh', '{happy}'), ('meh', '{}'), ('sad', '{happy,meh}'), (NULL, '{sad,NULL,meh}'),
               ('happy', '{happy,sad}'), (NULL, NULL)) v(m, a);
SELECT e ->> 'code' AS code, e ->> 'message' AS message
  FROM jsonb_array_elements(revos.plan_schema('{"schema_version": "g3", "description": "no more meh", "schema": "gate_moods",
    "options": {"allow_destructive": true}, "enums": [{"name": "mood", "values": ["happy", "sad"]}],
    "tables": [{"name": "diary", "columns": [{"name": "mood", "type": "mood"}, {"name": "moods", "type": "mood[]"}]}]}')
       -> 'result' -> 'validation_errors') AS e;

-- 3. numeric -> integer over 25,000 rows (three batches): 25 values have a fraction, 100 are NULL
SET ROLE regress_gate_owner;
CREATE TABLE gate.n (x numeric);
INSERT INTO gate.n SELECT CASE WHEN i % 1000 = 0 THEN i + 0.5 WHEN i % 250 = 1 THEN NULL ELSE i END FROM generate_series(1, 25000) i;
SELECT r ->> 'code' AS code, r ->> 'rows' AS rows, r ->> 'rows_counted' AS counted
  FROM jsonb_array_elements(revos.plan_schema('{"schema_version": "g4", "description": "whole numbers", "schema": "gate",
    "options": {"allow_destructive": true},
    "tables": [{"name": "n", "tenant_scoped": false, "timestamps": false, "soft_delete": false,
                "columns": [{"name": "x", "type": "integer"}]}]}')
       -> 'result' -> 'risks') AS r
 WHERE r ->> 'code' = 'type_change';
RESET ROLE;

SET client_min_messages = warning;
DROP SCHEMA gate CASCADE;
DROP SCHEMA gate_moods CASCADE;
DROP EXTENSION revos CASCADE;
DROP ROLE regress_gate_owner;
RESET client_min_messages;
