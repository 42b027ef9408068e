-- Which names a payload's expressions see: revos runs them under search_path = pg_catalog, revos,
-- pg_temp, whatever the caller's session has set. PostgreSQL's built-ins and revos's own functions
-- resolve; anything else must be schema-qualified (README, "Which names your expressions see";
-- docs/security.md, "The pinned search_path").
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS paths, lib CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
CREATE SCHEMA lib;
CREATE FUNCTION lib.is_email(t text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT position('@' in t) > 1 $$;
-- a look-alike of a built-in, first on the caller's path: it would accept anything
CREATE FUNCTION lib.lower(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'x' $$;
SET search_path = lib, pg_catalog, public;
SELECT lower('ABC') AS callers_lower;

-- 1. a check naming is_email() unqualified: the caller's path has it, revos's does not. PostgreSQL
--    refuses the new table's CREATE: blocked, at the check's path, with the hint to qualify it and
--    the schema that has one (rolled back, nothing recorded; README, "plan_schema rehearses")
SELECT r -> 'result' ->> 'status' AS status, e ->> 'code' AS code, e ->> 'path' AS path, e ->> 'hint' AS hint
  FROM revos.apply_schema('{"schema_version": "s1", "description": "unqualified", "schema": "paths",
         "tables": [{"name": "contacts", "columns": [{"name": "email", "type": "text", "check": "is_email(email)"}]}]}') AS r,
       jsonb_array_elements(r -> 'result' -> 'validation_errors') AS e \gx
SELECT to_regclass('paths.contacts') AS table_after_failure;
SELECT version, status, sqlstate FROM revos.schema_migrations;

-- 2. qualified, it works; lower() in a check is PostgreSQL's, not the look-alike on the caller's path
SELECT regress.outcome(revos.apply_schema('{"schema_version": "s2", "description": "qualified", "schema": "paths",
         "tables": [{"name": "contacts", "columns": [{"name": "email", "type": "text",
                     "check": "lib.is_email(email) AND lower(email) = email"}]}]}')) AS s2;
SELECT pg_get_constraintdef(oid) AS "check (as the caller's path shows it)" FROM pg_constraint
 WHERE conrelid = 'paths.contacts'::regclass AND contype = 'c';
RESET search_path;
SELECT pg_get_constraintdef(oid) AS "check (under the default path)" FROM pg_constraint
 WHERE conrelid = 'paths.contacts'::regclass AND contype = 'c';
-- enforced with PostgreSQL's lower(): an upper-case address is refused
BEGIN;
SELECT revos.set_tenant('11111111-1111-1111-1111-111111111111');
INSERT INTO paths.contacts (email) VALUES ('ann@example.com');
SAVEPOINT s;
\set VERBOSITY terse
INSERT INTO paths.contacts (email) VALUES ('ANN@example.com');
\set VERBOSITY default
ROLLBACK TO s;
SELECT email FROM paths.contacts;
COMMIT;

-- 3. on an existing table, the same unqualified check cannot even be compared: the shadow that
--    deparses the declared form fails, and plan_schema says why
SET search_path = lib, pg_catalog, public;
SELECT r ->> 'code' AS code, r ->> 'path' AS path, r ->> 'message' AS message
  FROM jsonb_array_elements(revos.plan_schema('{"schema_version": "s3", "description": "unqualified again", "schema": "paths",
         "tables": [{"name": "contacts", "columns": [{"name": "email", "type": "text", "check": "is_email(email)"}]}]}') -> 'result' -> 'risks') AS r \gx
RESET search_path;

-- 4. the caller's quote_all_identifiers does not reach what revos compares: a check and an index
--    added to the existing table, from a session with it on, apply and verify (revos reads every
--    deparsed definition with PostgreSQL's own quoting)
SET quote_all_identifiers = on;
SELECT regress.outcome(revos.apply_schema('{"schema_version": "s4", "description": "quoted", "schema": "paths",
         "tables": [{"name": "contacts", "columns": [{"name": "email", "type": "text",
                     "check": "lib.is_email(email) AND lower(email) = email"},
                    {"name": "n", "type": "integer", "check": "n >= 0"}],
                     "indexes": [{"columns": ["n"], "where": "n > 10"}]}]}')) AS s4;
RESET quote_all_identifiers;

SET client_min_messages = warning;
DROP SCHEMA paths, lib CASCADE;
RESET client_min_messages;
