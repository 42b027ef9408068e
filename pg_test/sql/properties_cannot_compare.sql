-- "Cannot compare" is never "equal". To compare a declared default, check, index or policy with the
-- catalog, revos builds a shadow of the table and lets PostgreSQL deparse it. A caller without TEMP
-- on the database gets the shadow built in revos's scratch schema revos_shadow (always rolled back);
-- with nowhere to build it, each property it could not compare is the risk cannot_compare, and
-- allowed, the declared form is applied and listed in verification.unverified (README, "What apply
-- compares").
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.things;
DROP ROLE IF EXISTS regress_props_admin;
CREATE EXTENSION revos;
RESET client_min_messages;
CREATE FUNCTION pg_temp.things(version text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('schema_version', version, 'description', 'no temp', 'tables',
    '[{"name": "things", "columns": [{"name": "qty", "type": "integer", "default": "1"}]}]'::jsonb)
$$;
CREATE VIEW pg_temp.qty_default AS
  SELECT pg_get_expr(adbin, adrelid) AS qty_default FROM pg_attrdef
   WHERE adrelid = to_regclass('public.things')
     AND adnum = (SELECT attnum FROM pg_attribute WHERE attrelid = to_regclass('public.things') AND attname = 'qty');

-- a migration role that may not create temporary tables (a hardened database)
SELECT current_database() AS db \gset
CREATE ROLE regress_props_admin;
GRANT revos_admin TO regress_props_admin;
GRANT CREATE ON SCHEMA public TO regress_props_admin;
GRANT SELECT ON pg_temp.qty_default TO regress_props_admin;
REVOKE TEMP ON DATABASE :"db" FROM PUBLIC;
SET ROLE regress_props_admin;
SELECT has_database_privilege(:'db', 'TEMP') AS may_create_temp_tables;
SELECT regress.outcome(revos.apply_schema(pg_temp.things('t1'))) AS t1;

-- 1. a default changed by hand: compared through a shadow in revos_shadow, and put back
ALTER TABLE public.things ALTER COLUMN qty SET DEFAULT 42;
SELECT * FROM regress.plan(pg_temp.things('t2'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('t2'))) AS t2;
SELECT * FROM pg_temp.qty_default;

-- 2. no CREATE on revos_shadow either: nowhere to build a shadow. No declared default, index or
--    policy of the table can be compared: a risk for each, saying why; blocked, nothing changes
RESET ROLE;
REVOKE CREATE ON SCHEMA revos_shadow FROM revos_admin;
SET ROLE regress_props_admin;
ALTER TABLE public.things ALTER COLUMN qty SET DEFAULT 7;
SELECT * FROM regress.plan(pg_temp.things('t3'));
SELECT r ->> 'message' AS message
  FROM jsonb_array_elements(revos.plan_schema(pg_temp.things('t3')) -> 'result' -> 'risks') AS r
 WHERE r ->> 'path' = 'tables[0].columns[0].default' \gx
SELECT regress.outcome(revos.apply_schema(pg_temp.things('t3'))) AS t3;
SELECT * FROM pg_temp.qty_default;

-- 3. allowed: the declared forms are applied without comparing, and verification says what it
--    could not compare — applied, never "verified equal"
WITH a AS (SELECT revos.apply_schema(jsonb_set(pg_temp.things('t4'), '{options}', '{"allow_destructive": true}')) AS r)
SELECT regress.outcome(r) AS t4, split_part(u, ':', 1) AS unverified
  FROM a, jsonb_array_elements_text(r -> 'result' -> 'verification' -> 'unverified') AS u;
SELECT * FROM pg_temp.qty_default;
RESET ROLE;

GRANT TEMP ON DATABASE :"db" TO PUBLIC;
DROP VIEW pg_temp.qty_default;
DROP TABLE public.things;
REVOKE CREATE ON SCHEMA public FROM regress_props_admin;
DROP ROLE regress_props_admin;
