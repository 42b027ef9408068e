-- The property table, keys and indexes: the primary key, unique keys, checks (and whether they are
-- validated), foreign keys (and whether they are validated) and indexes. Each is changed by hand,
-- then the same declaration is applied again as a new version: the plan puts it back, or it is a
-- risk that blocks (README, "What apply compares"; properties_table.sql).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.things, public.parts;
CREATE EXTENSION revos;
RESET client_min_messages;
CREATE FUNCTION pg_temp.things(version text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('schema_version', version, 'description', 'keys and indexes', 'tables', '[
    {"name": "parts", "tenant_scoped": false, "columns": [{"name": "label", "type": "text"}]},
    {"name": "things", "columns": [
      {"name": "qty", "type": "integer", "check": "qty >= 0"},
      {"name": "code", "type": "text", "unique": true},
      {"name": "part_id", "type": "uuid", "references": "parts"}],
     "indexes": [{"name": "idx_things_code", "columns": ["code"]}]}]'::jsonb)
$$;
SELECT regress.outcome(revos.apply_schema(pg_temp.things('k1'))) AS k1;
INSERT INTO public.parts (label) VALUES ('p');
BEGIN;
SELECT revos.set_tenant('11111111-1111-1111-1111-111111111111') IS NOT NULL AS tenant;
INSERT INTO public.things (qty, code, part_id) SELECT 2, 'a', id FROM public.parts;
INSERT INTO public.things (qty, code) VALUES (3, 'b');
COMMIT;
-- the constraints as the catalog has them (NOT NULL constraints left out: PostgreSQL 18 lists them here)
CREATE VIEW pg_temp.constraints AS
  SELECT conname, contype, convalidated AS validated, condeferrable AS deferrable, pg_get_constraintdef(oid) AS definition
    FROM pg_constraint WHERE conrelid = 'public.things'::regclass AND contype <> 'n' ORDER BY conname;
SELECT * FROM pg_temp.constraints;

-- unique: dropped by hand → added back
ALTER TABLE public.things DROP CONSTRAINT uq_things_code;
SELECT * FROM regress.plan(pg_temp.things('k2'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('k2'))) AS k2;

-- check: another expression by hand → the declared one, in one statement (every row checked)
ALTER TABLE public.things DROP CONSTRAINT ck_things_qty, ADD CONSTRAINT ck_things_qty CHECK (qty > -100);
SELECT * FROM regress.plan(pg_temp.things('k3'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('k3'))) AS k3;

-- check.validated: the declared check, NOT VALID → VALIDATE CONSTRAINT
ALTER TABLE public.things DROP CONSTRAINT ck_things_qty, ADD CONSTRAINT ck_things_qty CHECK (qty >= 0) NOT VALID;
SELECT * FROM regress.plan(pg_temp.things('k4'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('k4'))) AS k4;

-- foreign_key: made deferrable by hand → replaced by the declared one (not deferrable)
ALTER TABLE public.things ALTER CONSTRAINT fk_things_part_id DEFERRABLE INITIALLY DEFERRED;
SELECT * FROM regress.plan(pg_temp.things('k5'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('k5'))) AS k5;

-- foreign_key.validated: the declared key, NOT VALID → VALIDATE CONSTRAINT
ALTER TABLE public.things DROP CONSTRAINT fk_things_part_id,
  ADD CONSTRAINT fk_things_part_id FOREIGN KEY (part_id) REFERENCES public.parts (id) NOT VALID;
SELECT * FROM regress.plan(pg_temp.things('k6'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('k6'))) AS k6;

-- index: the same name, another predicate → dropped and created as declared
DROP INDEX public.idx_things_code;
CREATE INDEX idx_things_code ON public.things (code) WHERE code <> '';
SELECT * FROM regress.plan(pg_temp.things('k7'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('k7'))) AS k7;

-- everything above is back as declared
SELECT * FROM pg_temp.constraints;
SELECT pg_get_indexdef('public.idx_things_code'::regclass) AS index;

-- primary_key: other columns by hand → the risk primary_key_change; blocked, nothing changes
ALTER TABLE public.things DROP CONSTRAINT things_pkey, ADD PRIMARY KEY (tenant_id, id);
SELECT * FROM regress.plan(pg_temp.things('k8'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('k8'))) AS k8;
SELECT definition FROM pg_temp.constraints WHERE contype = 'p';

-- allowed: the declared primary key again
SELECT regress.outcome(revos.apply_schema(jsonb_set(pg_temp.things('k9'), '{options}', '{"allow_destructive": true}'))) AS k9;
SELECT definition FROM pg_temp.constraints WHERE contype = 'p';

-- check with rows that violate it: the risk not_validated, with their count; allowed, the check
-- stays NOT VALID (new rows are checked) and verification lists it, never counted as enforced
ALTER TABLE public.things DROP CONSTRAINT ck_things_qty;
INSERT INTO public.things (tenant_id, qty, code) VALUES ('11111111-1111-1111-1111-111111111111', -1, 'c');
ALTER TABLE public.things ADD CONSTRAINT ck_things_qty CHECK (qty >= 0) NOT VALID;
SELECT * FROM regress.plan(pg_temp.things('k10'));
SELECT regress.outcome(r) AS k10, r -> 'result' -> 'verification' -> 'not_validated' AS not_validated
  FROM revos.apply_schema(jsonb_set(pg_temp.things('k10'), '{options}', '{"allow_destructive": true}')) AS r;
SELECT conname, validated FROM pg_temp.constraints WHERE contype = 'c';

DROP VIEW pg_temp.constraints;
DROP TABLE public.things, public.parts;
