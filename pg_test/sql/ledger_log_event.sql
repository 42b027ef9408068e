-- revos.log_event(jsonb): one event appended to the ledger revos.events, idempotently, in the flat
-- form or inside the orchestration envelope (docs/ledger.md, "Logging events", "Idempotency",
-- "Bad input").
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset null (null)
-- the rows as a reader can compare them: occurred_at in UTC (when none was given it is the time
-- revos recorded the event), no ids, hashes or recording times
CREATE TEMP VIEW logged AS
  SELECT event_type, tenant_id, subject_type, subject_id, actor_id, payload, idempotency_key,
         CASE WHEN occurred_at = recorded_at THEN 'when recorded'
              ELSE to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') END AS occurred_utc
    FROM revos.events ORDER BY id;

-- 1. the flat form: only event_type is required; the answer names the event
SELECT r ->> 'status' AS status, r ? 'event_id' AS has_event_id, r ? 'id' AS has_id
  FROM revos.log_event('{"event_type": "order.created", "tenant_id": "acme", "subject_type": "order", "subject_id": "o-17",
                         "actor_id": "user-4", "payload": {"total": 12.5}, "idempotency_key": "wf-991:order.created",
                         "occurred_at": "2024-05-01T12:00:00Z"}') AS r;

-- 2. the envelope form: the event's fields from payload, the rest from meta, subject and context
SELECT revos.log_event('{"meta": {"tenant_id": "acme", "idempotency_key": "wf-992:order.paid", "occurred_at": "2024-05-01T13:00:00+02:00"},
                         "subject": {"type": "order", "id": 17},
                         "payload": {"event_type": "order.paid", "payload": {"amount": 12.5}},
                         "context": {"actor_id": "user-4"}}') ->> 'status' AS status;

-- 3. no tenant given: the transaction's tenant (set_tenant, or the JWT claim); none: the global chain
BEGIN;
SELECT revos.set_tenant('globex') IS NOT NULL AS tenant_set;
SELECT revos.log_event('{"event_type": "note.added", "payload": {"text": "hello"}}') ->> 'status' AS status;
COMMIT;
SELECT revos.log_event('{"event_type": "system.started", "occurred_at": "2024-05-01 14:00:00+00"}') ->> 'status' AS status;
SELECT * FROM logged;

-- 4. the same idempotency key again: the first event, "duplicate", nothing new recorded
SELECT a ->> 'status' AS status, a ->> 'event_id' = (SELECT event_id::text FROM revos.events WHERE idempotency_key = 'wf-991:order.created') AS same_event
  FROM revos.log_event('{"event_type": "order.created", "tenant_id": "acme", "idempotency_key": "wf-991:order.created", "payload": {"total": 99}}') AS a;
SELECT count(*) AS events FROM revos.events;

-- 5. in a transaction that has a tenant, another tenant's event is refused, and so is another
--    tenant's event handed back by its idempotency key
\set VERBOSITY terse
BEGIN;
SELECT revos.set_tenant('globex') IS NOT NULL AS tenant_set;
SAVEPOINT s;
SELECT revos.log_event('{"event_type": "order.created", "tenant_id": "acme"}');
ROLLBACK TO s;
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
SELECT revos.log_event('{"event_type": "order.created", "idempotency_key": "wf-991:order.created"}');
ROLLBACK;

-- 6. bad input: SQLSTATE 22023 and the field named; nothing recorded
SELECT revos.log_event('{"payload": {"total": 1}}');
SELECT revos.log_event('{"evnt_type": "order.created"}');
SELECT revos.log_event('{"event_type": "order.created", "tenant_id": 42}');
SELECT revos.log_event('{"event_type": "order created!"}');
SELECT revos.log_event('{"event_type": "order.created", "payload": [1, 2]}');
SELECT revos.log_event('{"event_type": "order.created", "occurred_at": "yesterday-ish"}');
-- revos's own event types: only revos writes those
SELECT revos.log_event('{"event_type": "schema_migration_applied"}');
SELECT :'LAST_ERROR_SQLSTATE' AS sqlstate;
\set VERBOSITY default
SELECT count(*) AS events FROM revos.events;
