-- Objects beside tables (README, "Objects beside tables"; docs/format.md): a trigger function, the
-- trigger that calls it and a view, declared with their table. revos creates them as the caller, pins
-- every function's search_path, makes a view read its tables as the querying role (security_invoker),
-- compares each on re-apply by deparsing, and answers noop when nothing changed.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS shop CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;

\set o1 '{"schema_version": "o1", "description": "products, upper-cased titles", "schema": "shop", "tables": [{"name": "products", "tenant_scoped": false, "columns": [{"name": "title", "type": "text", "not_null": true}, {"name": "title_upper", "type": "text"}]}], "functions": [{"name": "fill_upper", "returns": "trigger", "language": "plpgsql", "body": "BEGIN NEW.title_upper := upper(NEW.title); RETURN NEW; END"}], "triggers": [{"name": "products_fill_upper", "table": "products", "timing": "before", "events": ["insert", "update"], "function": "shop.fill_upper"}], "views": [{"name": "product_titles", "query": "SELECT title, title_upper FROM shop.products"}]}'

-- 1. applied and verified
SELECT regress.outcome(revos.apply_schema(:'o1')) AS o1;

-- 2. the function's search_path is pinned (its own schema, then pg_temp); the view is an invoker view
SELECT proname, proconfig FROM pg_proc WHERE pronamespace = 'shop'::regnamespace;
SELECT relname, reloptions FROM pg_class WHERE oid = 'shop.product_titles'::regclass;

-- 3. the trigger works
INSERT INTO shop.products (title) VALUES ('lamp');
SELECT title, title_upper FROM shop.product_titles;

-- 4. the same version again: noop; a new version with the same objects: nothing to change
SELECT regress.outcome(revos.apply_schema(:'o1')) AS again;
SELECT * FROM regress.plan(jsonb_set(:'o1'::jsonb, '{schema_version}', '"o2"'));

-- 5. the function changed by hand: a new version declaring the original replaces it
CREATE OR REPLACE FUNCTION shop.fill_upper() RETURNS trigger LANGUAGE plpgsql
  SET search_path = shop, pg_temp AS 'BEGIN NEW.title_upper := lower(NEW.title); RETURN NEW; END';
SELECT * FROM regress.plan(jsonb_set(:'o1'::jsonb, '{schema_version}', '"o3"'));
SELECT regress.outcome(revos.apply_schema(jsonb_set(:'o1'::jsonb, '{schema_version}', '"o3"'))) AS o3;
UPDATE shop.products SET title = 'desk';
SELECT title, title_upper FROM shop.products;

SET client_min_messages = warning;
DROP SCHEMA shop CASCADE;
DROP EXTENSION revos CASCADE;
