-- revos.tenant_table(name, columns, options): one tenant-aware table in one call, or an existing
-- table made tenant-aware: the tenant column, its default, the indexes, RLS and the tenant policy
-- (README, "The SQL surface"). It goes through apply_schema, so the same checks and the same ledger.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.legacy, public.tasks;
CREATE EXTENSION revos;
RESET client_min_messages;

-- 1. a new table, its columns as in a payload
SELECT regress.outcome(revos.tenant_table('tasks', '[{"name": "title", "type": "text", "not_null": true}]')) AS tasks;
SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
 WHERE attrelid = 'public.tasks'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum;

-- 2. an existing plain table with rows: blocked until its rows are given a tenant
CREATE TABLE public.legacy (id serial PRIMARY KEY, name text);
INSERT INTO public.legacy (name) VALUES ('old row'), ('older row');
SELECT e ->> 'code' AS code, e ->> 'path' AS path, e ->> 'message' AS message
  FROM jsonb_array_elements(revos.tenant_table('legacy') -> 'result' -> 'validation_errors') AS e;

-- 3. backfill_tenant names the tenant the rows belong to: the column is added nullable, filled, then
--    made NOT NULL with its default; the table keeps its own integer id as primary key
SELECT regress.outcome(revos.tenant_table('legacy', '[]', '{"backfill_tenant": "11111111-1111-1111-1111-111111111111"}')) AS legacy;
\d public.legacy
SELECT name, tenant_id FROM public.legacy ORDER BY id;

-- 4. the same call again is a noop: its version is derived from the arguments (name and a hash)
SELECT regress.outcome(revos.tenant_table('legacy', '[]', '{"backfill_tenant": "11111111-1111-1111-1111-111111111111"}')) AS again;
SELECT regexp_replace(version, '[0-9a-f]{12}$', '<hash>') AS version, description, status FROM revos.schema_migrations ORDER BY created_at;

DROP TABLE public.legacy, public.tasks;
