-- revos.event_hash (Rust) gives exactly the bytes of its SQL definition (sql/ledger.sql), for
-- awkward values too; verify_ledger agrees.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned
CREATE TEMP VIEW eh_check AS
SELECT e.id, e.hash = revos.event_hash(e) AS stored_matches,
       revos.event_hash(e) = pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(pg_catalog.array_to_json(ARRAY[
           e.id::text, e.event_id::text, e.tenant_id, e.event_type, e.subject_type,
           e.subject_id, e.actor_id, e.payload::text, e.idempotency_key,
           to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           e.prev_hash])::text, 'UTF8')), 'hex') AS equals_sql_definition
  FROM revos.events e;

SET TimeZone = 'America/St_Johns';
SET DateStyle = 'SQL, DMY';
SELECT revos.log_event('{"event_type": "eh.plain", "tenant_id": "eh-1"}') ->> 'status' AS s1;
SELECT revos.log_event(jsonb_build_object('event_type', 'eh.awkward', 'tenant_id', E'eh-\n"2"\\',
       'subject_id', 12.50, 'actor_id', E'tab\there \u00e9\u4e2d\U0001F600 ctl\x01\x1f del\x7f',
       'idempotency_key', 'eh-key-"1"', 'occurred_at', '2024-02-29T23:59:59.999999+14:00',
       'payload', jsonb_build_object('q', E'"quoted"\\', 'n', 1.0e3, 'nested', jsonb_build_array(null, true, E'\b\f')))) ->> 'status' AS s2;
-- timestamps at the edges, written by the owner (the chain trigger hashes them)
INSERT INTO revos.events (tenant_id, event_type, occurred_at) VALUES
    ('eh-3', 'eh.edge', '0001-01-01 00:00:00+00'),
    ('eh-3', 'eh.edge', '9999-12-31 23:59:59.999999+00'),
    ('eh-3', 'eh.edge', '0044-03-15 12:00:00+00 BC'),
    ('eh-3', 'eh.edge', '10000-01-01 00:00:00+00'),
    ('eh-3', 'eh.edge', 'infinity'),
    ('eh-3', 'eh.edge', '-infinity'),
    ('eh-3', 'eh.edge', '1999-12-31 23:59:59.999999+00'),
    ('eh-3', 'eh.edge', '2000-01-01 00:00:00+00');
SELECT count(*) AS events, bool_and(stored_matches) AS stored_match, bool_and(equals_sql_definition) AS equal
  FROM eh_check;
SELECT revos.verify_ledger() - 'chains_checked' - 'events_checked' AS verify;
RESET TimeZone;
RESET DateStyle;
