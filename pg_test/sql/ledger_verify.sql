-- The ledger is append-only and hash-chained, one chain per tenant: revos.verify_ledger()
-- recomputes the chains; UPDATE, DELETE and TRUNCATE are refused for everyone, superusers
-- included; every migration writes its own event (docs/ledger.md, "Migrations write events by
-- themselves", "Append-only", "Tamper evidence", "Verifying").
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.notes;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset null (null)

-- 1. a migration writes its event by trigger, in the same transaction: schema_migration_applied
SELECT regress.outcome(revos.apply_schema('{"schema_version": "001", "description": "notes", "tables": [{"name": "notes", "columns": [{"name": "body", "type": "text"}]}]}')) AS v1;
SELECT e.event_type, e.tenant_id, e.subject_type, e.payload ->> 'version' AS version, e.payload ->> 'status' AS status,
       e.payload ->> 'schema_hash' = m.schema_hash AS schema_hash_matches, e.subject_id = m.id::text AS subject_is_the_row
  FROM revos.events e, revos.schema_migrations m WHERE m.version = '001';
-- a blocked call writes nothing; a rolled-back one leaves neither row
SELECT regress.outcome(revos.apply_schema('{"schema_version": "002", "description": "bad", "tables": [{"name": "x;y"}]}')) AS blocked;
BEGIN;
SELECT regress.outcome(revos.apply_schema('{"schema_version": "003", "description": "undone", "tables": [{"name": "undone"}]}')) AS in_a_transaction;
ROLLBACK;
SELECT (SELECT count(*) FROM revos.schema_migrations) AS migrations, (SELECT count(*) FROM revos.events) AS events;

-- 2. events of three chains: two tenants and the global one (no tenant)
SELECT count(revos.log_event(jsonb_build_object('event_type', 'tick', 'tenant_id', t, 'payload', jsonb_build_object('i', i))))
  FROM generate_series(1, 3) i, unnest(ARRAY['acme', 'globex', NULL]) t;
SELECT CASE WHEN tenant_id IS NULL THEN 'global' ELSE 'tenant:' || tenant_id END AS chain, count(*) AS events,
       bool_and(hash = revos.event_hash(e)) AS hashes_recompute,
       count(*) FILTER (WHERE prev_hash = repeat('0', 64)) AS chain_starts
  FROM revos.events e GROUP BY 1 ORDER BY 1;

-- 3. verify_ledger: every chain, or one tenant's
SELECT revos.verify_ledger() AS all_chains;
SELECT revos.verify_ledger('acme') AS acme;

-- 4. append-only: refused for the owner and superusers too (42501), also as a replica
\set VERBOSITY terse
UPDATE revos.events SET payload = '{"i": 99}' WHERE tenant_id = 'acme';
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
DELETE FROM revos.events WHERE tenant_id = 'acme';
TRUNCATE revos.events;
SET session_replication_role = replica;
DELETE FROM revos.events WHERE tenant_id = 'acme';
RESET session_replication_role;
\set VERBOSITY default

-- 5. only the owner can switch the triggers off, and that is DDL: switching them off and on is
--    recorded as drift, and the row changed meanwhile fails verify_ledger at its id
ALTER TABLE revos.events DISABLE TRIGGER events_append_only;
UPDATE revos.events SET payload = '{"i": 99}' WHERE tenant_id = 'acme' AND payload = '{"i": 2}' RETURNING id AS changed_id \gset
ALTER TABLE revos.events ENABLE ALWAYS TRIGGER events_append_only;
SELECT v ->> 'ok' AS ok, (v ->> 'first_broken_id')::bigint = :changed_id AS broken_at_the_changed_row
  FROM revos.verify_ledger() AS v;
SELECT event_type, subject_id, payload ->> 'command_tag' AS command FROM revos.events WHERE event_type = 'schema_drift_detected';

DROP TABLE public.notes;
