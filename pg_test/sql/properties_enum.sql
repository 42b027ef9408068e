-- The property table, enum values: an enum has exactly its declared values, in the declared order.
-- A value added by hand is the risk drop_enum_value (the type would be recreated without it); the
-- declared values in another order are the risk enum_order; a newly declared value is added where
-- it is declared (README, "What apply compares"; evolve_enum.sql for removing a value).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.tickets;
DROP TYPE IF EXISTS public.ticket_level;
CREATE EXTENSION revos;
RESET client_min_messages;
CREATE FUNCTION pg_temp.tickets(version text, enum_values jsonb) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('schema_version', version, 'description', 'enum values',
    'enums', jsonb_build_array(jsonb_build_object('name', 'ticket_level', 'values', enum_values)),
    'tables', '[{"name": "tickets", "columns": [{"name": "level", "type": "ticket_level"}]}]'::jsonb)
$$;
CREATE VIEW pg_temp.labels AS
  SELECT string_agg(enumlabel, ', ' ORDER BY enumsortorder) AS labels FROM pg_enum WHERE enumtypid = to_regtype('public.ticket_level');
SELECT regress.outcome(revos.apply_schema(pg_temp.tickets('e1', '["low", "high"]'))) AS e1;
INSERT INTO public.tickets (tenant_id, level) VALUES ('11111111-1111-1111-1111-111111111111', 'high');

-- 1. a new value is added where it is declared: BEFORE or AFTER its declared neighbour
SELECT * FROM regress.plan(pg_temp.tickets('e2', '["low", "medium", "high", "urgent"]'));
SELECT regress.outcome(revos.apply_schema(pg_temp.tickets('e2', '["low", "medium", "high", "urgent"]'))) AS e2;
SELECT * FROM pg_temp.labels;

-- 2. a value added by hand: the declaration no longer lists every value → the risk drop_enum_value
--    (with the rows that use it, counted); blocked
ALTER TYPE public.ticket_level ADD VALUE 'extra';
SELECT * FROM regress.plan(pg_temp.tickets('e3', '["low", "medium", "high", "urgent"]'));
SELECT regress.outcome(revos.apply_schema(pg_temp.tickets('e3', '["low", "medium", "high", "urgent"]'))) AS e3;
SELECT * FROM pg_temp.labels;

-- 3. the same values in another order → the risk enum_order (the type is recreated in the declared
--    order, its columns converted); allowed, applied
SELECT * FROM regress.plan(pg_temp.tickets('e4', '["urgent", "high", "medium", "low", "extra"]'));
SELECT regress.outcome(revos.apply_schema(jsonb_set(pg_temp.tickets('e4', '["urgent", "high", "medium", "low", "extra"]'),
       '{options}', '{"allow_destructive": true}'))) AS e4;
SELECT * FROM pg_temp.labels;
SELECT level FROM public.tickets;

DROP VIEW pg_temp.labels;
DROP TABLE public.tickets;
DROP TYPE public.ticket_level;
