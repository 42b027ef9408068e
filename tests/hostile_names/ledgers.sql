-- tests/hostile_names.sh: both ledgers' content, without what differs between two runs of the
-- same calls (ids, uuids, times, run ids, hashes of rows).
SELECT string_agg(x, E'\n' ORDER BY k, o) FROM (
    SELECT 1 AS k, m.created_at::text || m.version AS o,
           'migration ' || m.version || ' ' || m.status || ' by=' || m.applied_by || ' "' || m.description || '"'
           || ' schema_hash=' || m.schema_hash || ' checksum=' || m.checksum
           || ' tenant=' || coalesce(m.tenant_id, '-') || ' key=' || coalesce(m.idempotency_key, '-')
           || ' error=' || coalesce(m.sqlstate, '-') || ':' || coalesce(m.error_message, '-')
           || ' metadata=' || (m.metadata - 'payload_jsonb_sha256')::text
           || E'\n    sql: ' || replace(m.sql_script, E'\n', E'\n    ') AS x
      FROM revos.schema_migrations m
    UNION ALL
    SELECT 2, lpad(e.id::text, 12, '0'),
           'event ' || coalesce(e.tenant_id, '-') || ' ' || e.event_type || ' ' || coalesce(e.subject_type, '-')
           || ' ' || regexp_replace(coalesce(e.subject_id, '-'), '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g')
           || ' actor=' || coalesce(e.actor_id, '-') || ' key=' || coalesce(e.idempotency_key, '-')
           || ' ' || regexp_replace((e.payload - 'migration_id' - 'execution_time_ms' - 'workflow_run_id')::text,
                                    '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', '<uuid>', 'g')
      FROM revos.events e
) s;
