-- A column named like one of revos's additions (issue 25; docs/format.md, "What revos adds to every
-- table"): the app's tenant column keeps revos's default and NOT NULL unless it declares its own
-- default; app-declared timestamps are kept, with a warning; a unique key is per tenant or global as
-- the payload says (unique_scope), the same for a column, a table's unique entry and an index, and a
-- tenant table's unique form that does not say gets a warning with the scope chosen. One clash per
-- table; rows are written as the role regress_additions_app (a superuser bypasses RLS).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS adds CASCADE;
DROP ROLE IF EXISTS regress_additions_app;
CREATE EXTENSION revos;
RESET client_min_messages;
CREATE ROLE regress_additions_app;
\set ann '''11111111-1111-1111-1111-111111111111'''
\set bob '''22222222-2222-2222-2222-222222222222'''
-- the warnings of an answer about the payload's tables, a line each (those about tables an earlier
-- version declared are left out)
CREATE FUNCTION pg_temp.warnings(envelope jsonb) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT w FROM jsonb_array_elements_text(envelope -> 'result' -> 'primary_outputs' -> 'warnings') w
   WHERE w LIKE 'tables[%'
$$;
-- a column as the catalog has it
CREATE FUNCTION pg_temp.col(rel regclass, col name) RETURNS TABLE (type text, not_null boolean, "default" text)
LANGUAGE sql AS $$
  SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = rel AND a.attname = col
$$;

-- 1. The app declares the tenant column (basejump's account_id), without a default: it keeps
--    revos's default and NOT NULL, and says so.
CREATE FUNCTION pg_temp.members(version text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('schema_version', version, 'description', 'members', 'schema', 'adds',
    'options', '{"tenant_column": "account_id", "default_indexes": false}'::jsonb, 'tables', '[
    {"name": "members", "timestamps": false, "soft_delete": false, "columns": [
      {"name": "account_id", "type": "uuid"}, {"name": "email", "type": "text", "not_null": true}]}]'::jsonb)
$$;
SELECT pg_temp.warnings(revos.plan_schema(pg_temp.members('m1')));
SELECT regress.outcome(revos.apply_schema(pg_temp.members('m1'))) AS m1;
SELECT * FROM pg_temp.col('adds.members', 'account_id');
GRANT USAGE ON SCHEMA adds TO regress_additions_app;
GRANT SELECT, INSERT ON adds.members TO regress_additions_app;
SET ROLE regress_additions_app;
BEGIN;
SELECT revos.set_tenant(:ann) IS NOT NULL AS ann;
INSERT INTO adds.members (email) VALUES ('ann@example.com');
SELECT email, account_id FROM adds.members;
COMMIT;
RESET ROLE;
-- the same version again: noop; a new version with the same tables: nothing to do
SELECT regress.outcome(revos.apply_schema(pg_temp.members('m1'))) AS m1_again;
SELECT count(*) AS left_to_do FROM regress.plan(pg_temp.members('m2'));
-- a table applied by the rule of before (the column as written: no default) gets the default from
-- the next version's plan, one step
ALTER TABLE adds.members ALTER COLUMN account_id DROP DEFAULT;
SELECT * FROM regress.plan(pg_temp.members('m2'));
SELECT regress.outcome(revos.apply_schema(pg_temp.members('m2'))) AS m2;
SELECT * FROM pg_temp.col('adds.members', 'account_id');
-- with a default of its own, the column is as written (nullable, that default)
SELECT * FROM regress.plan(jsonb_set(pg_temp.members('m3'), '{tables,0,columns,0,default}', to_jsonb(quote_literal(:ann) || '::uuid')));
-- another type than the tenant type: blocked, with the column's path
SELECT e ->> 'path' AS path, e ->> 'code' AS code, e ->> 'message' AS message
  FROM jsonb_array_elements(revos.plan_schema(jsonb_set(pg_temp.members('m4'), '{tables,0,columns,0,type}', '"text"'))
                            -> 'result' -> 'validation_errors') e;

-- 2. App-declared timestamps, nullable and without a default: kept as written, with a warning each;
--    revos's trigger still sets updated_at on every UPDATE.
CREATE FUNCTION pg_temp.notes(version text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('schema_version', version, 'description', 'notes', 'schema', 'adds',
    'options', '{"default_indexes": false}'::jsonb, 'tables', '[
    {"name": "notes", "soft_delete": false, "columns": [{"name": "body", "type": "text"},
      {"name": "created_at", "type": "timestamptz"}, {"name": "updated_at", "type": "timestamp"}]}]'::jsonb)
$$;
SELECT pg_temp.warnings(revos.apply_schema(pg_temp.notes('n1')));
SELECT attname, (pg_temp.col('adds.notes', attname)).* FROM unnest('{created_at,updated_at}'::name[]) attname;
GRANT SELECT, INSERT, UPDATE ON adds.notes TO regress_additions_app;
SET ROLE regress_additions_app;
BEGIN;
SELECT revos.set_tenant(:ann) IS NOT NULL AS ann;
INSERT INTO adds.notes (body) VALUES ('first');
SELECT body, created_at IS NULL AS created_null, updated_at IS NULL AS updated_null FROM adds.notes;
UPDATE adds.notes SET body = 'edited';
SELECT body, created_at IS NULL AS created_null, updated_at IS NULL AS updated_null FROM adds.notes;
COMMIT;
RESET ROLE;
SELECT regress.outcome(revos.apply_schema(pg_temp.notes('n1'))) AS n1_again;

-- 3. Uniqueness: per tenant or global, said on the column, the table's unique entry and the index.
CREATE FUNCTION pg_temp.codes(version text, scope text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('schema_version', version, 'description', 'codes', 'schema', 'adds',
    'options', '{"default_indexes": false}'::jsonb, 'tables', jsonb_build_array(jsonb_build_object(
      'name', 'codes_' || scope, 'timestamps', false, 'soft_delete', false,
      'columns', jsonb_build_array(
        jsonb_build_object('name', 'email', 'type', 'text', 'unique', true, 'unique_scope', scope),
        '{"name": "a", "type": "int"}'::jsonb, '{"name": "b", "type": "int"}'::jsonb,
        '{"name": "code", "type": "text"}'::jsonb),
      'unique', jsonb_build_array(jsonb_build_object('columns', '["a", "b"]'::jsonb, 'unique_scope', scope)),
      'indexes', jsonb_build_array(jsonb_build_object('columns', '["code"]'::jsonb, 'unique', true, 'unique_scope', scope)))))
$$;
SELECT regress.outcome(revos.apply_schema(pg_temp.codes('u1', 'tenant'))) AS tenant;
SELECT regress.outcome(revos.apply_schema(pg_temp.codes('u2', 'global'))) AS global;
SELECT c.relname AS "table", i.relname AS key, pg_get_indexdef(i.oid) ~ 'tenant_id' AS per_tenant
  FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
 WHERE c.relnamespace = 'adds'::regnamespace AND c.relname LIKE 'codes_%' AND NOT x.indisprimary
 ORDER BY 1, 2;
GRANT SELECT, INSERT ON adds.codes_tenant, adds.codes_global TO regress_additions_app;
SET ROLE regress_additions_app;
-- the same email in two tenants: accepted per tenant, refused globally (23505)
BEGIN;
SELECT revos.set_tenant(:ann) IS NOT NULL AS ann;
INSERT INTO adds.codes_tenant (email) VALUES ('x@example.com');
INSERT INTO adds.codes_global (email) VALUES ('x@example.com');
COMMIT;
BEGIN;
SELECT revos.set_tenant(:bob) IS NOT NULL AS bob;
INSERT INTO adds.codes_tenant (email) VALUES ('x@example.com');
INSERT INTO adds.codes_global (email) VALUES ('x@example.com');
ROLLBACK;
RESET ROLE;
-- a payload that does not say keeps the defaults of before (a column's unique and a unique entry
-- per tenant, an index global), each named in a warning
SELECT pg_temp.warnings(revos.plan_schema(pg_temp.codes('u3', 'unsaid') #- '{tables,0,columns,0,unique_scope}'
  #- '{tables,0,unique,0,unique_scope}' #- '{tables,0,indexes,0,unique_scope}'));
-- options.unique_scope says it for all of them: no warning
SELECT count(*) AS warnings FROM pg_temp.warnings(revos.plan_schema(jsonb_set(pg_temp.codes('u4', 'unsaid')
  #- '{tables,0,columns,0,unique_scope}' #- '{tables,0,unique,0,unique_scope}' #- '{tables,0,indexes,0,unique_scope}',
  '{options,unique_scope}', '"global"')));
-- a bad value: blocked, with its path
SELECT e ->> 'path' AS path, e ->> 'code' AS code
  FROM jsonb_array_elements(revos.plan_schema(pg_temp.codes('u5', 'everyone')) -> 'result' -> 'validation_errors') e;

DROP SCHEMA adds CASCADE;
DROP OWNED BY regress_additions_app;
DROP ROLE regress_additions_app;
