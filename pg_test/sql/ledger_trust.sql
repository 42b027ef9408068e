-- pg_regress: who may write revos's ledgers (issue 10, contract section 11), as the catalog says.
-- A fresh install (the tests before this one leave tables behind).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned

-- 1. the only functions PUBLIC may execute (every RLS policy calls current_tenant_id; every
--    touch_updated_at trigger calls backfilling, which reads a flag of revos's worker process)
SELECT p.oid::regprocedure AS executable_by_public
  FROM pg_proc p
 WHERE p.pronamespace = 'revos'::regnamespace
   AND (p.proacl IS NULL
        OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))
 ORDER BY p.oid::regprocedure::text;

-- 2. what the extension's roles may execute; everything else (trigger functions, internal
--    helpers, the apply state) only the owner
SELECT r.rolname, p.oid::regprocedure AS executes
  FROM pg_proc p, aclexplode(p.proacl) a JOIN pg_roles r ON r.oid = a.grantee
 WHERE p.pronamespace = 'revos'::regnamespace AND r.rolname IN ('revos_admin', 'revos_app')
 ORDER BY r.rolname, p.oid::regprocedure::text;

-- 3. table privileges besides the owner's: read-only, and none on the chain heads
SELECT c.relname, coalesce(r.rolname, 'PUBLIC') AS grantee, string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
  FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
 WHERE c.relnamespace = 'revos'::regnamespace AND a.grantee <> c.relowner
 GROUP BY 1, 2 ORDER BY 1, 2;

-- 4. what pg_dump keeps: the extension's configuration tables (events in chain order)
SELECT t.cfg::regclass AS dumped_by_pg_dump, t.cond AS condition
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS t(cfg, cond)
 WHERE e.extname = 'revos' ORDER BY t.cfg::regclass::text;

-- 5. a revos trigger function attached elsewhere (only a superuser can) refuses to run
CREATE TABLE public.look_alike (LIKE revos.schema_migrations INCLUDING DEFAULTS);
CREATE TRIGGER forge AFTER INSERT ON public.look_alike FOR EACH ROW EXECUTE FUNCTION revos.schema_migration_event();
INSERT INTO public.look_alike (version, description, schema_hash, checksum, status, sql_script)
VALUES ('x', 'forged', 'x', 'x', 'applied', '');
SELECT count(*) AS events FROM revos.events;
DROP TABLE public.look_alike;

-- 6. the tenant functions: C, PARALLEL SAFE, and no EXCEPTION block
SELECT p.proname, l.lanname, p.provolatile, p.proparallel
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'revos'::regnamespace AND p.proname IN ('current_tenant_id', 'jwt_claims_tenant')
 ORDER BY 1;

-- 7. the tables whose rows revos trusts refuse another role's writes, whatever it was granted
--    (revos.written_by_revos(), ENABLE ALWAYS: 'A'); revos.events checks in its chain trigger
SELECT c.relname, t.tgname, t.tgenabled, t.tgtype
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relnamespace = 'revos'::regnamespace
   AND t.tgfoid IN ('revos.written_by_revos()'::regprocedure, 'revos.events_chain()'::regprocedure)
 ORDER BY 1, 2;
CREATE ROLE regress_ledger_trust_writer;
GRANT INSERT, UPDATE, DELETE, TRUNCATE ON revos.schema_migrations TO regress_ledger_trust_writer;
SET ROLE regress_ledger_trust_writer;
INSERT INTO revos.schema_migrations (version, description, schema_hash, checksum, status, sql_script)
VALUES ('x', 'forged', 'x', 'x', 'applied', '');
TRUNCATE revos.schema_migrations;
RESET ROLE;
DROP OWNED BY regress_ledger_trust_writer;
DROP ROLE regress_ledger_trust_writer;
