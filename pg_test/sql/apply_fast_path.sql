-- The no-op and conflict answers from the jsonb's bytes (issue 13): the same envelope as the normal
-- path, the ledger deciding. Only deterministic output.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
DROP TABLE IF EXISTS public.fp_items;
CREATE EXTENSION revos;
RESET client_min_messages;
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

-- 7. a new backend (nothing remembered): the first sight of each payload takes the normal path,
-- the second one the fast answer; both give the same result and inputs_hash. The applied content
-- is now :'other' (section 5 forced it): :'s' and its re-cased form are conflicts, :'other' and
-- its re-cased, re-described form are noops.
\c
SELECT i, label, r -> 'result' ->> 'status' AS status,
       r -> 'result' -> 'primary_outputs' ->> 'schema_hash' = m.schema_hash AS ledger_schema_hash
  FROM (VALUES ('other', :'other'::jsonb), ('same', :'s'::jsonb),
               ('recased', :'recased'::jsonb),
               ('other_recased', '{"schema_version": "fp-001", "description": "other words", "tables": [{"name": "FpItems", "columns": [{"type": "TEXT", "name": "Title"}, {"name": "Extra", "type": " Text"}]}]}'::jsonb))
       AS p(label, j),
       generate_series(1, 2) i,
       LATERAL revos.apply_schema(p.j) AS r,
       (SELECT schema_hash FROM revos.schema_migrations WHERE version = 'fp-001' AND status = 'applied'
         ORDER BY created_at DESC LIMIT 1) m
 ORDER BY label, i;
\c
CREATE TEMP TABLE fp_answers AS
SELECT label, i, r -> 'result' AS result, r -> 'meta_out' ->> 'inputs_hash' AS inputs_hash
  FROM (VALUES ('other', :'other'::jsonb), ('same', :'s'::jsonb)) AS p(label, j),
       generate_series(1, 2) i, LATERAL revos.apply_schema(p.j) AS r;
SELECT a.label, a.result ->> 'status' AS status, a.result = b.result AS same_result,
       a.inputs_hash = b.inputs_hash AS same_inputs_hash
  FROM fp_answers a JOIN fp_answers b ON a.label = b.label AND a.i = 1 AND b.i = 2 ORDER BY 1;

-- 8. what a backend learnt is kept for the others in revos.payload_memo (bytes hash -> version,
-- normalized schema hash), written only by revos under the apply lock: a new backend answers a
-- payload some backend normalized without normalizing it again. Two contents under fp-001, so
-- two schema hashes, however many byte forms were seen; envelopes are not memoized.
SELECT version, count(*) > 0 AS memoized, count(DISTINCT schema_hash) AS schema_hashes
  FROM revos.payload_memo WHERE version = 'fp-001' GROUP BY 1;
SELECT count(*) AS memo_rows_for_applied_hash FROM revos.payload_memo m
 WHERE m.version = 'fp-001' AND m.schema_hash = (SELECT schema_hash FROM revos.schema_migrations
        WHERE version = 'fp-001' AND status = 'applied' ORDER BY created_at DESC LIMIT 1);
-- nobody else writes it (a forged row could turn a conflict into a noop)
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_fp_writer;
RESET client_min_messages;
CREATE ROLE regress_fp_writer;
GRANT revos_admin TO regress_fp_writer;
-- a revos_admin member in a new backend reads it (the conflict answered from it) but cannot write it
\c
SET ROLE regress_fp_writer;
SELECT revos.apply_schema(:'s'::jsonb) -> 'result' ->> 'status' AS as_admin_member;
INSERT INTO revos.payload_memo (jsonb_sha256, version, schema_hash, payload_hash) VALUES ('x', 'fp-001', 'h', 'p');
UPDATE revos.payload_memo SET schema_hash = 'h';
RESET ROLE;
DROP ROLE regress_fp_writer;
-- a cache: emptied, the answers are the same (the normal path fills it again)
DELETE FROM revos.payload_memo;
\c
SELECT label, r -> 'result' ->> 'status' AS status
  FROM (VALUES ('other', :'other'::jsonb), ('same', :'s'::jsonb), ('recased', :'recased'::jsonb)) AS p(label, j),
       LATERAL revos.apply_schema(p.j) AS r ORDER BY 1;
SELECT count(*) AS memo_rows_again FROM revos.payload_memo WHERE version = 'fp-001';
DROP TABLE public.fp_items;
