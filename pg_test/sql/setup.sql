-- The helpers the other cases use; pg_regress runs this case first (pg_test/schedule). Each case
-- then starts from a fresh extension (DROP EXTENSION … CASCADE; CREATE EXTENSION revos) and cleans
-- up what it created, so that every case can be read, and run, on its own after this one.
--
-- regress.stable(envelope): revos's answer with what differs on every run replaced — ids
-- (<uuid>), hashes (<sha256>), the call's latency (<ms>) and times (<time>). Nothing else changes.
CREATE SCHEMA regress;
GRANT USAGE ON SCHEMA regress TO PUBLIC;   -- the cases' roles use the helpers too
CREATE FUNCTION regress.stable(envelope jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
  SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(envelope::text,
           '"[0-9a-f]{64}"', '"<sha256>"', 'g'),
           '[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}', '<uuid>', 'g'),
           '"latency_ms": [0-9]+', '"latency_ms": "<ms>"', 'g'),
           '"(already_applied_at|occurred_at|recorded_at)": "[^"]*"', '"\1": "<time>"', 'g'),
           '\(since [^)]*\)', '(since <time>)', 'g')::jsonb
$$;

-- regress.plan(payload): what plan_schema would do, a line each: its validation errors and risks
-- (code, path, rows), then its statements. (Its body names revos, which each case installs afresh:
-- it is checked when called.)
SET check_function_bodies = off;
CREATE FUNCTION regress.plan(payload jsonb) RETURNS SETOF text LANGUAGE sql AS $$
  WITH p AS (SELECT revos.plan_schema(payload) -> 'result' AS r)
  SELECT 'error ' || (e ->> 'code') || ' at ' || (e ->> 'path') FROM p, jsonb_array_elements(p.r -> 'validation_errors') e
  UNION ALL
  SELECT 'risk ' || (k ->> 'code') || ' at ' || (k ->> 'path') || coalesce(' (rows: ' || (k ->> 'rows') || ')', '')
    FROM p, jsonb_array_elements(coalesce(p.r -> 'risks', '[]')) k
  UNION ALL
  SELECT s ->> 'sql' FROM p, jsonb_array_elements(p.r -> 'plan' -> 'steps') s
$$;
RESET check_function_bodies;

-- regress.outcome(envelope): an answer in one line — its status, and then what proves it
-- (applied: verification, and how many declared properties it could not compare or found NOT
-- VALID), what blocked it (the risk or error codes) or why it failed (SQLSTATE).
CREATE FUNCTION regress.outcome(envelope jsonb) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT (envelope -> 'result' ->> 'status') || coalesce(CASE envelope -> 'result' ->> 'status'
    WHEN 'applied' THEN ', verified ' || (envelope -> 'result' -> 'verification' ->> 'ok')
      || coalesce(', not compared: ' || nullif(jsonb_array_length(envelope -> 'result' -> 'verification' -> 'unverified'), 0), '')
      || coalesce(', not validated: ' || nullif(jsonb_array_length(envelope -> 'result' -> 'verification' -> 'not_validated'), 0), '')
    WHEN 'blocked' THEN ': ' || (SELECT string_agg(x ->> 'code', ', ' ORDER BY x ->> 'code')
                                   FROM jsonb_array_elements(coalesce(envelope -> 'result' -> 'risks', '[]')
                                        || coalesce(envelope -> 'result' -> 'validation_errors', '[]')) x)
    WHEN 'failed' THEN ': ' || (envelope -> 'result' -> 'error' ->> 'sqlstate')
  END, '')
$$;
