-- Identity columns ("identity": "always" | "by_default") and options.column_order "declared"
-- against a real server (issue 25; docs/format.md, "Columns" and "Options"): a table keyed by an
-- identity column, rows inserted without the key, the same payload again a noop, the identity added,
-- changed and dropped by later versions, and the columns in pg_attribute in the order written.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS ident CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
-- the declaration: film_id an identity key (kind as given), title, a counter column whose identity
-- is given or not; the caller's columns first (column_order "declared")
CREATE FUNCTION pg_temp.films(version text, film_id text, counter text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('schema_version', version, 'description', 'films', 'schema', 'ident',
    'options', '{"column_order": "declared", "default_indexes": false}'::jsonb,
    'tables', jsonb_build_array(jsonb_build_object('name', 'films', 'primary_key', '["film_id"]'::jsonb,
      'columns', jsonb_build_array(
        jsonb_strip_nulls(jsonb_build_object('name', 'film_id', 'type', 'integer', 'identity', film_id)),
        '{"name": "title", "type": "text", "not_null": true}'::jsonb,
        jsonb_strip_nulls(jsonb_build_object('name', 'counter', 'type', 'bigint', 'not_null', true, 'identity', counter))))))
$$;
-- the columns of ident.films as the catalog has them, in their order
CREATE VIEW pg_temp.columns AS
  SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
         a.attidentity AS identity
    FROM pg_attribute a WHERE a.attrelid = to_regclass('ident.films') AND a.attnum > 0 AND NOT a.attisdropped
   ORDER BY a.attnum;

-- 1. created: film_id GENERATED ALWAYS, counter BY DEFAULT; the caller's columns first
SELECT * FROM regress.plan(pg_temp.films('i1', 'always', 'by_default'));
SELECT regress.outcome(revos.apply_schema(pg_temp.films('i1', 'always', 'by_default'))) AS i1;
SELECT * FROM pg_temp.columns;

-- 2. rows inserted without the key (and by position, the caller's columns first)
BEGIN;
SELECT revos.set_tenant('11111111-1111-1111-1111-111111111111') IS NOT NULL AS tenant;
INSERT INTO ident.films (title) VALUES ('Academy Dinosaur'), ('Ace Goldfinger');
INSERT INTO ident.films OVERRIDING SYSTEM VALUE VALUES (100, 'Adaptation Holes', 7);
COMMIT;
SELECT film_id, title, counter FROM ident.films ORDER BY film_id;
-- GENERATED ALWAYS refuses a key the insert gives (428C9)
INSERT INTO ident.films (film_id, title) VALUES (5, 'Affair Prejudice');

-- 3. the same payload again: noop; as a new version: nothing to do
SELECT regress.outcome(revos.apply_schema(pg_temp.films('i1', 'always', 'by_default'))) AS i1_again;
SELECT count(*) AS left_to_do FROM regress.plan(pg_temp.films('i2', 'always', 'by_default'));

-- 4. evolution: counter's identity dropped (DROP IDENTITY), then added back (ADD GENERATED), and
--    film_id's kind changed (SET GENERATED)
SELECT * FROM regress.plan(pg_temp.films('i3', 'always', NULL));
SELECT regress.outcome(revos.apply_schema(pg_temp.films('i3', 'always', NULL))) AS i3;
SELECT attname, identity FROM pg_temp.columns WHERE attname IN ('film_id', 'counter');
SELECT * FROM regress.plan(pg_temp.films('i4', 'by_default', 'always'));
SELECT regress.outcome(revos.apply_schema(pg_temp.films('i4', 'by_default', 'always'))) AS i4;
SELECT attname, identity FROM pg_temp.columns WHERE attname IN ('film_id', 'counter');
SELECT count(*) AS left_to_do FROM regress.plan(pg_temp.films('i5', 'by_default', 'always'));
-- the key now takes a value given by the insert (BY DEFAULT)
BEGIN;
SELECT revos.set_tenant('11111111-1111-1111-1111-111111111111') IS NOT NULL AS tenant;
INSERT INTO ident.films (film_id, title) VALUES (5, 'Affair Prejudice');
COMMIT;
SELECT film_id, title FROM ident.films ORDER BY film_id;

-- 5. serial / bigserial (CREATE TABLE shorthand, not types): taken as the integer type with an
--    identity BY DEFAULT, NOT NULL, with a warning; then the same declared as that identity is a noop
CREATE FUNCTION pg_temp.counters(version text, key jsonb, total jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('schema_version', version, 'description', 'serial', 'schema', 'ident',
    'options', '{"column_order": "declared", "default_indexes": false}'::jsonb,
    'tables', jsonb_build_array(jsonb_build_object('name', 'counters', 'tenant_scoped', false,
      'timestamps', false, 'soft_delete', false, 'primary_key', '["n"]'::jsonb,
      'columns', jsonb_build_array(key || '{"name": "n"}', total || '{"name": "total"}'))))
$$;
SELECT e -> 'result' ->> 'status' AS s1, w AS warning
  FROM revos.apply_schema(pg_temp.counters('s1', '{"type": "serial"}', '{"type": "bigserial"}')) e,
       jsonb_array_elements_text(e -> 'result' -> 'primary_outputs' -> 'warnings') w
 WHERE w LIKE 'tables[0]%';
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null, a.attidentity AS identity
  FROM pg_attribute a WHERE a.attrelid = 'ident.counters'::regclass AND a.attnum > 0 ORDER BY a.attnum;
INSERT INTO ident.counters DEFAULT VALUES;
INSERT INTO ident.counters (n) VALUES (10);
SELECT n, total FROM ident.counters ORDER BY n;
SELECT regress.outcome(revos.apply_schema(pg_temp.counters('s1', '{"type": "serial"}', '{"type": "bigserial"}'))) AS s1_again;
SELECT count(*) AS left_to_do FROM regress.plan(pg_temp.counters('s2',
  '{"type": "integer", "not_null": true, "identity": "by_default"}', '{"type": "bigint", "not_null": true, "identity": "by_default"}'));
-- serial with a default of its own: refused, with the path
SELECT e -> 'result' ->> 'status' AS s3, v ->> 'path' AS path, v ->> 'code' AS code
  FROM revos.plan_schema(pg_temp.counters('s3', '{"type": "serial", "default": "0"}', '{"type": "bigserial"}')) e,
       jsonb_array_elements(e -> 'result' -> 'validation_errors') v;

DROP VIEW pg_temp.columns;
DROP SCHEMA ident CASCADE;
