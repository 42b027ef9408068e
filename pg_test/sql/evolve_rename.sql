-- pg_regress: renaming a table and its columns with "renamed_from" (issue 9, contract section 10).
-- A rename keeps the table (same rows, RLS, policy, indexes); what revos named after the old
-- names is renamed along; running it again, or keeping the key in later versions, does nothing.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS evo_rename CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned

-- 1. version 1: a table "people" with an email (unique per tenant) and a name
SELECT revos.apply_schema('{"schema_version": "r1", "description": "people", "schema": "evo_rename",
  "tables": [{"name": "people", "columns": [{"name": "email", "type": "text", "unique": true},
                                            {"name": "fullName", "type": "text"}]}]}') -> 'result' ->> 'status' AS v1;
INSERT INTO evo_rename.people (tenant_id, email, full_name)
VALUES ('11111111-1111-1111-1111-111111111111', 'ann@example.com', 'Ann'),
       ('22222222-2222-2222-2222-222222222222', 'bob@example.com', 'Bob');

-- 2. version 2 renames the table and both columns. The plan: renames only, nothing created.
\set v2 '{"schema_version": "r2", "description": "people become persons", "schema": "evo_rename", "tables": [{"name": "persons", "renamed_from": "people", "columns": [{"name": "mail", "renamed_from": "email", "type": "text", "unique": true}, {"name": "displayName", "renamed_from": "fullName", "type": "text"}]}]}'
SELECT revos.plan_schema(:'v2') -> 'result' -> 'plan' ->> 'sql' AS sql;
SELECT r -> 'result' ->> 'status' AS status, r -> 'result' -> 'verification' ->> 'ok' AS verified
  FROM revos.apply_schema(:'v2') AS r;

-- the same rows under the new names; the indexes, RLS and the policy came along
SELECT tenant_id, mail, display_name FROM evo_rename.persons ORDER BY mail;
SELECT to_regclass('evo_rename.people') AS old_name;
SELECT indexname FROM pg_indexes WHERE schemaname = 'evo_rename' ORDER BY 1;
SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'evo_rename.persons'::regclass;
SELECT polname FROM pg_policy WHERE polrelid = 'evo_rename.persons'::regclass;

-- 3. again: noop. A later version that keeps the keys: only its own change.
SELECT revos.apply_schema(:'v2') -> 'result' ->> 'status' AS again;
SELECT revos.plan_schema('{"schema_version": "r3", "description": "phone", "schema": "evo_rename", "tables": [{"name": "persons", "renamed_from": "people", "columns": [{"name": "mail", "renamed_from": "email", "type": "text", "unique": true}, {"name": "displayName", "renamed_from": "fullName", "type": "text"}, {"name": "phone", "type": "text"}]}]}')
       -> 'result' -> 'plan' ->> 'sql' AS later_version_sql;

-- 4. the old and the new name both there: conflicting_definition, nothing runs
CREATE TABLE evo_rename.people (id uuid PRIMARY KEY);
SELECT e ->> 'path' AS path, e ->> 'code' AS code
  FROM jsonb_array_elements(revos.apply_schema('{"schema_version": "r4", "description": "clash", "schema": "evo_rename", "tables": [{"name": "persons", "renamed_from": "people", "columns": [{"name": "mail", "type": "text", "unique": true}, {"name": "display_name", "type": "text"}]}]}')
       -> 'result' -> 'validation_errors') AS e;

-- 5. a column renamed from a name that does not exist: added as new, with a warning
SELECT r -> 'result' -> 'plan' ->> 'sql' AS sql,
       (SELECT w FROM jsonb_array_elements_text(r -> 'result' -> 'primary_outputs' -> 'warnings') w WHERE w LIKE '%renamed_from%') AS warning
  FROM revos.plan_schema('{"schema_version": "r5", "description": "typo", "schema": "evo_rename", "tables": [{"name": "persons", "columns": [{"name": "mail", "type": "text", "unique": true}, {"name": "display_name", "type": "text"}, {"name": "nick", "renamed_from": "nickname", "type": "text"}]}]}') AS r;

SET client_min_messages = warning;
DROP SCHEMA evo_rename CASCADE;
RESET client_min_messages;
