-- revos.verify_ledger's pass over the events is Rust (revos.verify_chains, src/ledger/verify_chains.rs):
-- one scan in id order, the last row of each chain in a map. Here it is compared with the SQL
-- definition it replaced (a window PARTITION BY tenant_id ORDER BY id) on a ledger with several
-- chains, then after rows were forged behind revos's back (triggers disabled by the owner).
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS revos CASCADE;
CREATE EXTENSION revos;
RESET client_min_messages;
\pset format aligned
CREATE TEMP VIEW vc_reference AS
WITH ev AS (
    SELECT e.id, e.tenant_id,
           e.hash IS NOT DISTINCT FROM revos.event_hash(e)
           AND e.prev_hash IS NOT DISTINCT FROM coalesce(lag(e.hash) OVER w, repeat('0', 64)) AS ok,
           lead(e.id) OVER w IS NULL AS is_last
      FROM revos.events e
    WINDOW w AS (PARTITION BY e.tenant_id ORDER BY e.id))
SELECT jsonb_build_object(
    'events', count(*),
    'first_bad', min(ev.id) FILTER (WHERE NOT ev.ok),
    'tails', coalesce(jsonb_object_agg(CASE WHEN ev.tenant_id IS NULL THEN 'global'
                                            ELSE 'tenant:' || ev.tenant_id END, ev.id)
                      FILTER (WHERE ev.is_last), '{}'::jsonb)) AS r
  FROM ev;
-- three tenants (one with an awkward name) and the global chain, interleaved
SELECT count(revos.log_event(jsonb_build_object('event_type', 'vc.tick',
           'tenant_id', CASE WHEN i % 4 = 3 THEN NULL WHEN i % 4 = 2 THEN E'vc "q"\\\n' ELSE 'vc-' || i % 4 END,
           'payload', jsonb_build_object('i', i)))) AS logged
  FROM generate_series(1, 40) i;
SELECT revos.verify_chains(NULL) = r AS same_as_sql,
       (SELECT count(*) FROM jsonb_object_keys(revos.verify_chains(NULL) -> 'tails') k
         WHERE k IN ('global', 'tenant:vc-0', 'tenant:vc-1', E'tenant:vc "q"\\\n')) AS my_chains
  FROM vc_reference;
SELECT revos.verify_ledger('vc-1') AS verify_one;
-- forge: a payload changed (vc-1), a prev_hash changed (global chain), a middle row removed (vc-0)
SELECT (SELECT id FROM revos.events WHERE tenant_id = 'vc-1' ORDER BY id OFFSET 5 LIMIT 1) AS forged_payload,
       (SELECT id FROM revos.events WHERE tenant_id IS NULL AND event_type = 'vc.tick' ORDER BY id OFFSET 3 LIMIT 1) AS forged_prev,
       (SELECT id FROM revos.events WHERE tenant_id = 'vc-0' ORDER BY id OFFSET 2 LIMIT 1) AS removed,
       (SELECT id FROM revos.events WHERE tenant_id = 'vc-0' ORDER BY id OFFSET 3 LIMIT 1) AS after_removed \gset
ALTER TABLE revos.events DISABLE TRIGGER USER;
UPDATE revos.events SET payload = '{"i": 999}' WHERE id = :forged_payload;
UPDATE revos.events SET prev_hash = repeat('f', 64) WHERE id = :forged_prev;
DELETE FROM revos.events WHERE id = :removed;
ALTER TABLE revos.events ENABLE TRIGGER USER;
SELECT revos.verify_chains(NULL) = r AS same_as_sql FROM vc_reference;
SELECT (revos.verify_chains('vc-1') ->> 'first_bad')::bigint = :forged_payload AS payload_forgery_found,
       (revos.verify_chains('vc-0') ->> 'first_bad')::bigint = :after_removed AS removal_found,
       (SELECT (revos.verify_chains(NULL) ->> 'first_bad')::bigint <= :forged_prev) AS global_forgery_counted;
SELECT revos.verify_chains(E'vc "q"\\\n') = (SELECT jsonb_build_object('events', count(*), 'first_bad', NULL,
           'tails', jsonb_build_object(E'tenant:vc "q"\\\n', max(id))) FROM revos.events WHERE tenant_id = E'vc "q"\\\n')
       AS untouched_chain_ok;
-- one tenant's pass reads the (tenant_id, id) index; without it, the primary key and a filter:
-- the same answers
CREATE TEMP TABLE vc_per_tenant AS
  SELECT t, revos.verify_chains(t) AS r FROM unnest(ARRAY['vc-0', 'vc-1', E'vc "q"\\\n', 'nobody']) t;
BEGIN;
DROP INDEX revos.events_tenant_id_idx;
SELECT bool_and(revos.verify_chains(t) = r) AS same_without_tenant_index, count(*) AS tenants FROM vc_per_tenant;
ROLLBACK;
SELECT v ->> 'ok' AS ok, v ->> 'first_broken_id' = :'forged_payload' AS first_broken
  FROM revos.verify_ledger('vc-1') v;
-- ordinary roles cannot call the pass directly
SELECT has_function_privilege('public', 'revos.verify_chains(text)', 'EXECUTE') AS public_may_call;
-- more rows than one batch of the hashing thread (src/ledger/hash_worker.rs, 1,024 rows): a payload
-- forged in the third batch is found, and is the chain's first bad row; the SQL reference agrees
SELECT count(revos.log_event(jsonb_build_object('event_type', 'vc.many', 'tenant_id', 'vc-m',
           'payload', jsonb_build_object('i', i)))) AS logged
  FROM generate_series(1, 3000) i;
SELECT (SELECT id FROM revos.events WHERE tenant_id = 'vc-m' ORDER BY id OFFSET 2500 LIMIT 1) AS late_forgery \gset
ALTER TABLE revos.events DISABLE TRIGGER USER;
UPDATE revos.events SET payload = '{"i": -1}' WHERE id = :late_forgery;
ALTER TABLE revos.events ENABLE TRIGGER USER;
SELECT (revos.verify_chains('vc-m') ->> 'first_bad')::bigint = :late_forgery AS late_forgery_found,
       (revos.verify_chains('vc-m') ->> 'events')::int AS events
  FROM vc_reference;
SELECT revos.verify_chains(NULL) = r AS same_as_sql FROM vc_reference;
