-- The property table, what fences tenants: the updated_at trigger, row-level security (enabled,
-- forced), the tenant policy, and any other permissive policy on a tenant table. Each is changed by
-- hand, then the same declaration is applied again as a new version: the plan puts it back, or it
-- is a risk that blocks (README, "What apply compares"; properties_table.sql).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.things;
CREATE EXTENSION revos;
RESET client_min_messages;
CREATE FUNCTION pg_temp.things(version text) RETURNS jsonb LANGUAGE sql AS $$
  SELECT jsonb_build_object('schema_version', version, 'description', 'fences', 'tables',
    '[{"name": "things", "columns": [{"name": "code", "type": "text"}]}]'::jsonb)
$$;
SELECT regress.outcome(revos.apply_schema(pg_temp.things('s1'))) AS s1;
-- the fences as the catalog has them
CREATE VIEW pg_temp.fences AS
  SELECT 'rls' AS what, relrowsecurity || ', forced ' || relforcerowsecurity AS definition FROM pg_class WHERE oid = 'public.things'::regclass
  UNION ALL
  SELECT 'trigger', pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'public.things'::regclass AND NOT tgisinternal
  UNION ALL
  SELECT 'policy ' || polname, CASE WHEN polpermissive THEN 'permissive' ELSE 'restrictive' END || ' for ' || CASE polcmd WHEN '*' THEN 'all' ELSE polcmd::text END
         || ' using ' || pg_get_expr(polqual, polrelid) || ' check ' || coalesce(pg_get_expr(polwithcheck, polrelid), '-')
    FROM pg_policy WHERE polrelid = 'public.things'::regclass
  ORDER BY 1;
SELECT * FROM pg_temp.fences;

-- trigger.updated_at: recreated by hand with a WHEN that never fires → dropped and created as declared
DROP TRIGGER revos_touch_updated_at ON public.things;
CREATE TRIGGER revos_touch_updated_at BEFORE UPDATE ON public.things FOR EACH ROW WHEN (false) EXECUTE FUNCTION revos.touch_updated_at();
SELECT * FROM regress.plan(pg_temp.things('s2'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('s2'))) AS s2;

-- rls.enabled and rls.forced: switched off by hand → on again
ALTER TABLE public.things DISABLE ROW LEVEL SECURITY, NO FORCE ROW LEVEL SECURITY;
SELECT * FROM regress.plan(pg_temp.things('s3'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('s3'))) AS s3;

-- policy.tenant: widened by hand to every row → dropped and created as declared
ALTER POLICY revos_tenant_isolation ON public.things USING (true);
SELECT * FROM regress.plan(pg_temp.things('s4'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('s4'))) AS s4;

-- everything above is back as declared
SELECT * FROM pg_temp.fences;

-- policy.undeclared: another PERMISSIVE policy is OR-ed with the tenant policy and shows other
-- tenants' rows → the risk foreign_policy; allowed, it is dropped
CREATE POLICY leak ON public.things USING (true);
SELECT * FROM regress.plan(pg_temp.things('s5'));
SELECT regress.outcome(revos.apply_schema(pg_temp.things('s5'))) AS s5;
SELECT regress.outcome(revos.apply_schema(jsonb_set(pg_temp.things('s6'), '{options}', '{"allow_destructive": true}'))) AS s6;
SELECT what FROM pg_temp.fences WHERE what LIKE 'policy%';
-- a RESTRICTIVE policy only narrows what a tenant sees: kept, and named in a warning
CREATE POLICY only_coded ON public.things AS RESTRICTIVE USING (code IS NOT NULL);
SELECT regress.outcome(r) AS s7, r -> 'result' -> 'primary_outputs' -> 'warnings' AS warnings
  FROM revos.apply_schema(pg_temp.things('s7')) AS r \gx

DROP VIEW pg_temp.fences;
DROP TABLE public.things;
