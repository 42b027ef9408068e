-- Drift capture: DDL run outside revos on a table revos manages is recorded in the ledger as
-- schema_drift_detected (who, what, on which table); revos's own DDL is not. The next apply of
-- the declared version puts the catalog back (docs/ledger.md, "Drift events"; docs/security.md,
-- "Drift capture").
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP SCHEMA IF EXISTS drift CASCADE;
DROP ROLE IF EXISTS regress_drift_owner;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset null (null)
CREATE VIEW pg_temp.drift_events AS
  SELECT actor_id, subject_type, subject_id, payload ->> 'command_tag' AS command_tag,
         payload ->> 'object_type' AS object_type, payload ->> 'object_identity' AS object_identity
    FROM revos.events WHERE event_type = 'schema_drift_detected' ORDER BY id;
\set v1 '{"schema_version": "001", "description": "accounts", "schema": "drift", "tables": [{"name": "accounts", "columns": [{"name": "email", "type": "text"}]}]}'

-- 1. revos's own DDL (create, index, trigger, RLS, policy) is not drift
CREATE ROLE regress_drift_owner;
GRANT revos_admin TO regress_drift_owner;
SELECT current_database() AS db \gset
GRANT CREATE ON DATABASE :"db" TO regress_drift_owner;
GRANT SELECT ON pg_temp.drift_events TO regress_drift_owner;
SET ROLE regress_drift_owner;
SELECT regress.outcome(revos.apply_schema(:'v1')) AS v1;
SELECT count(*) AS drift_events FROM pg_temp.drift_events;

-- 2. the table's owner widens the tenant policy by hand: recorded, with the role that did it
ALTER POLICY revos_tenant_isolation ON drift.accounts USING (true);
SELECT * FROM pg_temp.drift_events;

-- 3. so is every other DDL on a managed table: an index, RLS switched off, a comment
CREATE INDEX accounts_by_email ON drift.accounts (email);
ALTER TABLE drift.accounts NO FORCE ROW LEVEL SECURITY;
COMMENT ON TABLE drift.accounts IS 'edited by hand';
SELECT command_tag, object_type FROM pg_temp.drift_events;
-- DDL on a table revos does not manage is not its business
CREATE TABLE drift.scratch (x int);
CREATE INDEX ON drift.scratch (x);
SELECT count(*) AS drift_events FROM pg_temp.drift_events;

-- 4. the declared version, applied again, puts the policy and FORCE back (the hand-made index and
--    comment are kept: the payload does not declare them, the envelope names the index); that DDL
--    is revos's own, so no new drift event
SELECT * FROM regress.plan(jsonb_set(:'v1', '{schema_version}', '"002"'));
SELECT regress.outcome(r) AS v2, r -> 'result' -> 'primary_outputs' -> 'warnings' AS warnings
  FROM revos.apply_schema(jsonb_set(:'v1', '{schema_version}', '"002"')) AS r \gx
SELECT pg_get_expr(polqual, polrelid) AS using FROM pg_policy WHERE polrelid = 'drift.accounts'::regclass;
SELECT relforcerowsecurity FROM pg_class WHERE oid = 'drift.accounts'::regclass;
SELECT count(*) AS drift_events FROM pg_temp.drift_events;
RESET ROLE;

-- 5. drift events are chained like any other: the ledger verifies
SELECT revos.verify_ledger() ->> 'ok' AS ledger_ok;

SET client_min_messages = warning;
DROP VIEW pg_temp.drift_events;
DROP SCHEMA drift CASCADE;
REVOKE CREATE ON DATABASE :"db" FROM regress_drift_owner;
DROP ROLE regress_drift_owner;
RESET client_min_messages;
