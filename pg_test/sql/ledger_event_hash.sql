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
-- payloads of every shape: the hash writes the payload's text itself (src/ledger/jsonb_out.rs),
-- which must be jsonb_out's, byte for byte: strings with quotes, backslashes, control characters
-- and non-ASCII; numbers of every scale and sign; objects and arrays of more than 32 members (the
-- container stores some offsets instead of lengths); raw scalars; nesting past 64 levels (left to
-- jsonb_out); a compressed and an out-of-line payload
SELECT setseed(0.24);
CREATE FUNCTION pg_temp.eh_text() RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg((ARRAY['a', 'Z', '0', ' ', '"', '\', '/', E'\n', E'\t', E'\b', E'\f', E'\r', chr(1),
         chr(31), chr(127), 'é', '中', '😀', '{', '}', '[', ']', ':', ','])[1 + floor(random() * 24)::int], ''), '')
    FROM generate_series(1, floor(random() * 12)::int) $$;
CREATE FUNCTION pg_temp.eh_json(depth int) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE r float8 := random(); n int; out jsonb;
BEGIN
  IF depth = 0 OR r < 0.4 THEN
    r := random();
    RETURN CASE WHEN r < 0.3 THEN to_jsonb(pg_temp.eh_text())
                WHEN r < 0.5 THEN to_jsonb(round((random() * 2e6 - 1e6)::numeric, floor(random() * 9)::int))
                WHEN r < 0.6 THEN to_jsonb((random() * 1e30)::numeric * CASE WHEN random() < 0.5 THEN -1 ELSE 1 END)
                WHEN r < 0.7 THEN to_jsonb(floor(random() * 1000)::int)
                WHEN r < 0.8 THEN to_jsonb(random() < 0.5)
                WHEN r < 0.9 THEN 'null'::jsonb
                ELSE to_jsonb(''::text) END;
  END IF;
  n := CASE WHEN random() < 0.2 THEN 33 + floor(random() * 10)::int ELSE floor(random() * 5)::int END;
  IF random() < 0.5 THEN
    SELECT coalesce(jsonb_object_agg(pg_temp.eh_text() || i, pg_temp.eh_json(depth - 1)), '{}') INTO out
      FROM generate_series(1, n) i;
  ELSE
    SELECT coalesce(jsonb_agg(pg_temp.eh_json(depth - 1)), '[]') INTO out FROM generate_series(1, n) i;
  END IF;
  RETURN out;
END $$;
INSERT INTO revos.events (tenant_id, event_type, payload)
SELECT 'eh-4', 'eh.shape', pg_temp.eh_json(3) FROM generate_series(1, 400);
INSERT INTO revos.events (tenant_id, event_type, payload) VALUES
    ('eh-4', 'eh.shape', '"a raw scalar"'), ('eh-4', 'eh.shape', '12.50'), ('eh-4', 'eh.shape', 'true'),
    ('eh-4', 'eh.shape', 'null'), ('eh-4', 'eh.shape', '[]'), ('eh-4', 'eh.shape', '{}'),
    ('eh-4', 'eh.shape', '{"": "", "a": [], "b": {}, "c": [[]], "-0": -0.0, "e": 1.0e-10}'),
    ('eh-4', 'eh.shape', (repeat('[', 100) || '1' || repeat(']', 100))::jsonb),
    ('eh-4', 'eh.shape', (repeat('{"k": ', 80) || '"deep"' || repeat('}', 80))::jsonb),
    ('eh-4', 'eh.shape', jsonb_build_object('compressed', repeat(E'x"\\', 5000))),
    ('eh-4', 'eh.shape', jsonb_build_object('out of line', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 400) i)));
SELECT count(*) FILTER (WHERE pg_column_compression(payload) IS NOT NULL) > 0 AS some_compressed,
       count(*) FILTER (WHERE pg_column_size(payload) > 2000) > 0 AS some_large
  FROM revos.events WHERE event_type = 'eh.shape';
SELECT count(*) AS events, bool_and(stored_matches) AS stored_match, bool_and(equals_sql_definition) AS equal
  FROM eh_check;
SELECT revos.verify_ledger() - 'chains_checked' - 'events_checked' AS verify;
RESET TimeZone;
RESET DateStyle;
