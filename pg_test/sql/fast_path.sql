-- The no-op and conflict answers from the jsonb's bytes (issue 13): the same envelope as the normal
-- path, the ledger deciding. Only deterministic output.
CREATE EXTENSION IF NOT EXISTS revos;
\pset format aligned
\set s '{"schema_version": "fp-001", "description": "fast path", "tables": [{"name": "fp_items", "columns": [{"name": "title", "type": "text"}]}]}'
\set recased '{"description": "fast path", "tables": [{"columns": [{"type": "TEXT", "name": "Title"}], "name": "FpItems"}], "schema_version": "fp-001"}'
\set other '{"schema_version": "fp-001", "description": "fast path", "tables": [{"name": "fp_items", "columns": [{"name": "title", "type": "text"}, {"name": "extra", "type": "text"}]}]}'

-- 1. applied: the ledger row records the hash of the payload's jsonb bytes
SELECT r -> 'result' ->> 'status' AS status, r -> 'meta_out' ->> 'inputs_hash' AS applied_inputs_hash
  FROM revos.apply_schema(:'s') AS r \gset
SELECT :'status' AS status,
       length(metadata ->> 'payload_jsonb_sha256') AS bin_hash_length,
       metadata ->> 'payload_hash' = :'applied_inputs_hash' AS payload_hash_is_inputs_hash
  FROM revos.schema_migrations WHERE version = 'fp-001';

-- 2. the same payload again (and with other whitespace and key order: the same jsonb): noop, with
-- the applied call's inputs_hash and the ledger's schema_hash
SELECT r -> 'result' ->> 'status' AS status,
       r -> 'meta_out' ->> 'inputs_hash' = :'applied_inputs_hash' AS same_inputs_hash,
       r -> 'result' -> 'primary_outputs' ->> 'schema_hash' = m.schema_hash AS ledger_schema_hash,
       r -> 'result' -> 'primary_outputs' ->> 'migration_log_id' = m.id::text AS ledger_row,
       r -> 'result' ? 'already_applied_at' AS has_applied_at
  FROM (VALUES (:'s'::jsonb), ('{ "tables" : [ {"columns": [{"type": "text", "name": "title"}], "name": "fp_items"}],
        "description": "fast path", "schema_version": "fp-001"}'::jsonb)) AS p(j),
       LATERAL revos.apply_schema(p.j) AS r, revos.schema_migrations m
 WHERE m.version = 'fp-001';

-- 3. re-cased keys and names: other bytes, same normalized schema: noop, every time (the first
-- call takes the normal path, the next ones the backend's memo)
SELECT i, r -> 'result' ->> 'status' AS status,
       r -> 'result' -> 'primary_outputs' ->> 'schema_hash' = m.schema_hash AS ledger_schema_hash
  FROM generate_series(1, 3) i, LATERAL revos.apply_schema(:'recased') AS r, revos.schema_migrations m
 WHERE m.version = 'fp-001';

-- 4. other content under the same version: conflict, the same answer every time
SELECT i, r -> 'result' ->> 'status' AS status,
       r -> 'result' ->> 'applied_schema_hash' = m.schema_hash AS names_applied_hash,
       r -> 'result' -> 'primary_outputs' ->> 'schema_hash' <> m.schema_hash AS own_hash_differs,
       r -> 'meta_out' ->> 'success' AS success
  FROM generate_series(1, 3) i, LATERAL revos.apply_schema(:'other') AS r, revos.schema_migrations m
 WHERE m.version = 'fp-001';
SELECT revos.plan_schema(:'other') -> 'result' ->> 'status' AS plan_other,
       revos.plan_schema(:'s') -> 'result' ->> 'status' AS plan_same;

-- 5. the ledger decides: without the recorded bytes hash the normal path still says noop; force_apply
-- is never answered early
UPDATE revos.schema_migrations SET metadata = metadata - 'payload_jsonb_sha256' WHERE version = 'fp-001';
SELECT revos.apply_schema(:'s') -> 'result' ->> 'status' AS without_bin_hash;
SELECT revos.apply_schema(jsonb_set(:'other', '{force_apply}', 'true')) -> 'result' ->> 'status' AS forced;
SELECT revos.apply_schema(:'other') -> 'result' ->> 'status' AS after_force;
SELECT revos.apply_schema(:'s') -> 'result' ->> 'status' AS old_content_now;

-- 6. an envelope takes the normal path and gives the same answer
SELECT revos.apply_schema(jsonb_build_object('meta', jsonb_build_object('workflow_run_id', 'wr_fp'),
       'payload', :'other'::jsonb)) -> 'result' ->> 'status' AS envelope;
SELECT version, status, metadata ->> 'force_apply' AS forced FROM revos.schema_migrations
 WHERE version = 'fp-001' ORDER BY created_at;
