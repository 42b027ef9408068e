-- Bad input: every problem at once, each with its path, a code and a message; nothing runs and
-- nothing is recorded (docs/behaviour.md, "Bad input"; docs/format.md, "Names", "Expressions and
-- types"). Names are checked before they are quoted, types are read by PostgreSQL's type parser,
-- expressions by its SQL parser.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.patients;
CREATE EXTENSION revos;
RESET client_min_messages;
SELECT revos.apply_schema('{"schema_version": "001", "description": "patients", "tables": [{"name": "patients", "columns": [{"name": "name", "type": "text"}]}]}') -> 'result' ->> 'status' AS v1;

-- 1. a name that is not one: refused as written (nothing is stripped), before any SQL is built
SELECT jsonb_pretty(regress.stable(revos.apply_schema('{"schema_version": "002", "description": "bad name",
  "tables": [{"name": "x\"; DROP TABLE patients; --", "columns": [{"name": "a", "type": "text"}]}]}'))) \g (format=unaligned tuples_only=on)

-- 2. a type PostgreSQL does not know, and a pseudo-type
SELECT e ->> 'path' AS path, e ->> 'code' AS code, e ->> 'message' AS message
  FROM jsonb_array_elements(revos.apply_schema('{"schema_version": "002", "description": "bad types", "tables": [{"name": "t",
         "columns": [{"name": "a", "type": "no_such_type"}, {"name": "b", "type": "varchar(10"}, {"name": "c", "type": "anyelement"}]}]}')
       -> 'result' -> 'validation_errors') AS e;

-- 3. an expression that is not one expression: a second statement, a comment, a clause of its own
SELECT e ->> 'path' AS path, e ->> 'code' AS code, e ->> 'message' AS message
  FROM jsonb_array_elements(revos.apply_schema('{"schema_version": "002", "description": "bad expressions", "tables": [{"name": "t",
         "columns": [{"name": "a", "type": "text", "default": "1); DROP TABLE patients; --"},
                     {"name": "b", "type": "int", "check": "b > 0 -- sneaky"},
                     {"name": "c", "type": "int", "default": "1 FROM patients"},
                     {"name": "d", "type": "int", "generated": "(d"}]}]}')
       -> 'result' -> 'validation_errors') AS e;

-- 4. all at once: every problem of the payload, with its path
SELECT e ->> 'path' AS path, e ->> 'code' AS code
  FROM jsonb_array_elements(revos.apply_schema('{"schema_version": "002", "description": "bad", "tables": [
        {"name": "x\"; DROP TABLE patients; --", "columns": [
            {"name": "a", "type": "text", "default": "1); DROP TABLE patients; --"},
            {"name": "b", "type": "no_such_type"},
            {"name": "c", "type": "int", "check": "c > 0 -- sneaky"}],
         "indexes": [{"columns": ["ghost"]}, {"columns": ["a"], "method": "magic"}]},
        {"name": "d", "columns": [{"name": "e", "type": "uuid", "references": "nowhere"}], "bogus": 1}]}') -> 'result' -> 'validation_errors') AS e
 ORDER BY 1, 2;

-- 5. a misspelt key is an error, never ignored; so is a payload without its required keys
SELECT e ->> 'path' AS path, e ->> 'code' AS code, e ->> 'message' AS message
  FROM jsonb_array_elements(revos.apply_schema('{"schema_version": "002", "description": "typo", "tables": [{"name": "t", "columns": [{"name": "a", "type": "text", "not_nul": true}]}]}')
       -> 'result' -> 'validation_errors') AS e;
SELECT e ->> 'path' AS path, e ->> 'code' AS code
  FROM jsonb_array_elements(revos.apply_schema('{"tables": []}') -> 'result' -> 'validation_errors') AS e ORDER BY 1, 2;

-- nothing ran, nothing was recorded
SELECT count(*) AS patients_still_there FROM pg_class WHERE relname = 'patients';
SELECT version, status FROM revos.schema_migrations;

DROP TABLE public.patients;
