-- revos 0.1.0 -> 0.2.0 (ALTER EXTENSION revos UPDATE). Issue 10: ledgers you can trust.
-- tests/upgrade.sh checks that the result equals a fresh 0.2.0 install, object for object, and
-- that every row is kept. Function bodies are copies of sql/ledger.sql and src/ (the test fails
-- when they differ).
\echo Use "ALTER EXTENSION revos UPDATE TO '0.2.0'" to load this file. \quit

-- The apply state, held in the extension's backend memory (src/ledger/writer.rs). First: the
-- replaced drift-capture functions below call drift_paused() while this script runs.

CREATE FUNCTION revos.writing_ledger() RETURNS boolean
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'writing_ledger_wrapper';
COMMENT ON FUNCTION revos.writing_ledger() IS
    'Internal (revos''s triggers): true while revos itself inserts its schema_migrations row.';


CREATE FUNCTION revos.drift_paused() RETURNS boolean
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'drift_paused_wrapper';
COMMENT ON FUNCTION revos.drift_paused() IS
    'Internal (drift capture): true while revos runs its own DDL, after this session restored ledger rows, or on a Citus worker.';


CREATE FUNCTION revos.note_restore() RETURNS void
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'note_restore_wrapper';
COMMENT ON FUNCTION revos.note_restore() IS
    'Internal (ledger triggers): this session inserted ledger rows revos did not write (a restore).';


-- current_tenant_id without an EXCEPTION block (PARALLEL SAFE for real), in C (not inlined and
-- re-parsed into every policy at every plan).

CREATE FUNCTION revos.jwt_claims_tenant(claims text) RETURNS text
    IMMUTABLE STRICT PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'jwt_claims_tenant_wrapper';
COMMENT ON FUNCTION revos.jwt_claims_tenant(text) IS
    'tenant_id (or app_metadata.tenant_id) of a JWT claims JSON text; NULL when absent, empty or not JSON.';


CREATE OR REPLACE FUNCTION revos.current_tenant_id() RETURNS text
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'current_tenant_id_wrapper';
COMMENT ON FUNCTION revos.current_tenant_id() IS
    'Tenant of this transaction: app.current_tenant_id, else request.jwt.claims tenant_id / app_metadata.tenant_id; NULL when unset.';


-- Citus (issue 12): set_tenant propagates to the workers; pre_request for PostgREST.
CREATE OR REPLACE FUNCTION revos.set_tenant(tenant text) RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF tenant IS NOT NULL AND length(tenant) > 200 THEN
        RAISE EXCEPTION 'revos: tenant id is longer than 200 characters'
            USING ERRCODE = '22023';
    END IF;
    IF current_setting('citus.propagate_set_commands', true) IS NOT NULL THEN
        SET LOCAL citus.propagate_set_commands = 'local';
    END IF;
    EXECUTE format('SET LOCAL app.current_tenant_id = %L', coalesce(tenant, ''));
    RETURN tenant;
END
$$;
COMMENT ON FUNCTION revos.set_tenant(text) IS
    'Sets the tenant for the current transaction only (SET LOCAL app.current_tenant_id; propagated to Citus workers). NULL clears it.';

-- For PostgREST's db-pre-request: the tenant of the JWT (request.jwt.claims tenant_id, then
-- app_metadata.tenant_id) becomes the transaction's tenant through set_tenant(), so that it also
-- reaches Citus workers (PostgREST's own set_config() calls do not). A request without a tenant
-- claim clears it.
CREATE FUNCTION revos.pre_request() RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM revos.set_tenant(revos.jwt_claims_tenant(current_setting('request.jwt.claims', true)));
END
$$;
COMMENT ON FUNCTION revos.pre_request() IS
    'PostgREST db-pre-request: set_tenant() from the JWT claims (request.jwt.claims), so the tenant reaches Citus workers too.';
GRANT EXECUTE ON FUNCTION revos.pre_request() TO PUBLIC;


-- Backup and restore keep both ledgers (extension configuration: pg_dump dumps their rows).
SELECT pg_catalog.pg_extension_config_dump('revos.schema_migrations', '');
SELECT pg_catalog.pg_extension_config_dump('revos.events', 'ORDER BY id');
SELECT pg_catalog.pg_extension_config_dump('revos.events_id_seq', '');

-- What revos learnt about a payload's bytes: sha256 of the jsonb's binary form -> the version and
-- normalized schema hash the normal path computed for it (a pure function of the bytes). Lets a
-- NEW backend answer `noop` / `conflict` for a payload some backend already normalized without
-- normalizing it again (src/apply/fast.rs). Written only by revos (as the ledger's owner, under the
-- apply lock); nobody else may write it, since a forged row could turn a conflict into a noop. A
-- cache: not dumped (empty after a restore), any row may be deleted by the owner.
CREATE TABLE revos.payload_memo (
    jsonb_sha256  text PRIMARY KEY,
    version       text NOT NULL,
    schema_hash   text NOT NULL,
    payload_hash  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE revos.payload_memo IS
    'Cache: jsonb bytes hash -> version and normalized schema hash of a payload revos normalized. Written only by revos.';
REVOKE ALL ON revos.payload_memo FROM PUBLIC;
-- read by apply_schema's fast answer as the caller (a revos_admin member), like the ledger
GRANT SELECT ON revos.payload_memo TO revos_admin;

-- Trigger functions: TG_RELID checks, the restore path, the apply state instead of revos.applying.

CREATE OR REPLACE FUNCTION revos.events_chain() RETURNS trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'events_chain_wrapper';

-- The restore branch of the trigger (a row that arrives with its id and hash), called by it.
CREATE FUNCTION revos.events_chain_restore(r revos.events) RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_chain   pg_catalog.text := CASE WHEN r.tenant_id IS NULL THEN 'global'
                                      ELSE 'tenant:' OPERATOR(pg_catalog.||) r.tenant_id END;
    v_prev_id bigint;
    v_prev    pg_catalog.text;
BEGIN
    INSERT INTO revos.event_chain_heads AS h (chain, last_id, prev_id)
    VALUES (v_chain, r.id, NULL)
    ON CONFLICT (chain) DO UPDATE
        SET prev_id = h.last_id, last_id = greatest(h.last_id, r.id)
    RETURNING h.prev_id INTO v_prev_id;
    IF v_prev_id IS NULL THEN
        v_prev := pg_catalog.repeat('0', 64);
    ELSE
        SELECT e.hash INTO v_prev FROM revos.events e WHERE e.id OPERATOR(pg_catalog.=) v_prev_id;
    END IF;
    IF r.prev_hash IS DISTINCT FROM v_prev OR r.hash OPERATOR(pg_catalog.<>) revos.event_hash(r)
       OR r.id OPERATOR(pg_catalog.<=) v_prev_id THEN
        RAISE WARNING 'revos: restored event % does not chain onto its predecessor; kept as it is (revos.verify_ledger() reports it)',
            r.id;
    END IF;
    PERFORM pg_catalog.setval('revos.events_id_seq'::pg_catalog.regclass, r.id)
       FROM revos.events_id_seq s WHERE r.id OPERATOR(pg_catalog.>=) s.last_value;
    PERFORM revos.note_restore();
END
$$;


CREATE OR REPLACE FUNCTION revos.schema_migration_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_RELID <> 'revos.schema_migrations'::regclass THEN
        RAISE EXCEPTION 'revos.schema_migration_event() is the trigger of revos.schema_migrations only'
            USING ERRCODE = '42501';
    END IF;
    IF NOT revos.writing_ledger() THEN
        PERFORM revos.note_restore();
        RETURN NULL;
    END IF;
    INSERT INTO revos.events (id, tenant_id, event_type, subject_type, subject_id, actor_id,
                              payload, occurred_at)
    VALUES (
        NULL,
        nullif(NEW.tenant_id, ''),
        CASE WHEN NEW.status = 'applied' THEN 'schema_migration_applied' ELSE 'schema_migration_failed' END,
        'schema_migration',
        NEW.id::text,
        coalesce(nullif(NEW.metadata ->> 'actor_id', ''), NEW.applied_by),
        jsonb_build_object(
            'migration_id',      NEW.id,
            'version',           NEW.version,
            'status',            NEW.status,
            'checksum',          NEW.checksum,
            'schema_hash',       NEW.schema_hash,
            'table_count',       NEW.metadata -> 'table_count',
            'actor_id',          NEW.metadata -> 'actor_id',
            'applied_by',        NEW.applied_by,
            'workflow_run_id',   NEW.workflow_run_id,
            'idempotency_key',   NEW.idempotency_key,
            'force_apply',       NEW.metadata -> 'force_apply',
            'execution_time_ms', NEW.execution_time_ms,
            'error_message',     NEW.error_message,
            'sqlstate',          NEW.sqlstate),
        coalesce(NEW.applied_at, NEW.created_at));
    RETURN NULL;
END
$$;


-- The event trigger functions are one C gate (src/ledger/drift_gate.rs), each declared after its worker:
-- nothing to do while the capture is paused (revos's own DDL), otherwise the PL/pgSQL worker of the
-- event (below), given the command tag.
CREATE FUNCTION revos.drift_snapshot_run(tg_tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Only a DROP or an ALTER (rename, drop column/constraint, cascades) can make a managed
    -- object disappear before ddl_command_end / sql_drop look at it; CREATE, COMMENT, GRANT and
    -- the like need no snapshot (it costs a catalog scan of every managed table per statement).
    IF revos.drift_paused()
       OR NOT (tg_tag LIKE 'DROP %' OR tg_tag LIKE 'ALTER %') THEN
        PERFORM set_config('revos.drift_snapshot', '', true);
        RETURN;
    END IF;
    BEGIN
        PERFORM set_config('revos.drift_snapshot', coalesce((
            WITH managed AS (
                SELECT p.polrelid AS rel FROM pg_policy p WHERE p.polname = 'revos_tenant_isolation'
                UNION
                SELECT t.tgrelid FROM pg_trigger t WHERE t.tgname = 'revos_touch_updated_at'
            )
            SELECT jsonb_object_agg(o.k, o.rel)::text FROM (
                SELECT 'pg_class'::regclass::oid::text || ':' || m.rel AS k, m.rel FROM managed m
                UNION ALL
                SELECT 'pg_class'::regclass::oid::text || ':' || i.indexrelid, i.indrelid
                FROM pg_index i JOIN managed m ON m.rel = i.indrelid
                UNION ALL
                SELECT 'pg_policy'::regclass::oid::text || ':' || p.oid, p.polrelid
                FROM pg_policy p JOIN managed m ON m.rel = p.polrelid
                UNION ALL
                SELECT 'pg_trigger'::regclass::oid::text || ':' || t.oid, t.tgrelid
                FROM pg_trigger t JOIN managed m ON m.rel = t.tgrelid
                WHERE NOT t.tgisinternal
            ) o), ''), true);
    EXCEPTION WHEN others THEN
        RAISE WARNING 'revos: drift capture (ddl_command_start) failed: % (SQLSTATE %)', SQLERRM, SQLSTATE;
    END;
END
$$;
CREATE OR REPLACE FUNCTION revos.drift_snapshot() RETURNS event_trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'drift_gate_wrapper';


CREATE FUNCTION revos.drift_ddl_end_run(tg_tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r      record;
    snap   jsonb;
    v_rel  oid;
    v_nsp  text;
    v_name text;
    seen   text[] := '{}';
BEGIN
    IF revos.drift_paused() THEN
        RETURN;
    END IF;
    BEGIN
        snap := coalesce(nullif(current_setting('revos.drift_snapshot', true), '')::jsonb, '{}'::jsonb);
        PERFORM set_config('revos.drift_snapshot', '', true);
        FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() c WHERE NOT c.in_extension LOOP
            v_rel := NULL;
            IF r.classid = 'pg_class'::regclass THEN
                SELECT CASE WHEN c.relkind IN ('i', 'I')
                            THEN (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = c.oid)
                            WHEN c.relkind IN ('r', 'p') THEN c.oid END
                INTO v_rel FROM pg_class c WHERE c.oid = r.objid;
            ELSIF r.classid = 'pg_policy'::regclass THEN
                SELECT p.polrelid INTO v_rel FROM pg_policy p WHERE p.oid = r.objid;
            ELSIF r.classid = 'pg_trigger'::regclass THEN
                SELECT t.tgrelid INTO v_rel FROM pg_trigger t WHERE t.oid = r.objid AND NOT t.tgisinternal;
            END IF;
            v_rel := coalesce(v_rel, (snap ->> (r.classid::text || ':' || r.objid))::oid);
            CONTINUE WHEN v_rel IS NULL;
            CONTINUE WHEN NOT (revos.drift_is_managed(v_rel)
                               OR snap ? ('pg_class'::regclass::oid::text || ':' || v_rel)
                               OR v_rel IN ('revos.events'::regclass, 'revos.event_chain_heads'::regclass,
                                            'revos.schema_migrations'::regclass));
            CONTINUE WHEN (r.command_tag || '|' || r.object_identity) = ANY (seen);
            seen := seen || (r.command_tag || '|' || r.object_identity);
            IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = 'revos.events'::regclass
                          AND t.tgname = 'events_chain' AND t.tgenabled = 'D') THEN
                RAISE WARNING 'revos: the triggers of revos.events are disabled: % on % is not recorded and the ledger is not tamper-protected',
                    r.command_tag, r.object_identity;
                EXIT;
            END IF;
            SELECT n.nspname, c.relname INTO v_nsp, v_name
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_rel;
            PERFORM revos.drift_record(r.command_tag, r.object_type, r.object_identity, v_nsp, v_name);
        END LOOP;
    EXCEPTION WHEN others THEN
        RAISE WARNING 'revos: drift capture (ddl_command_end) failed: % (SQLSTATE %)', SQLERRM, SQLSTATE;
    END;
END
$$;
CREATE OR REPLACE FUNCTION revos.drift_ddl_end() RETURNS event_trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'drift_gate_wrapper';


CREATE FUNCTION revos.drift_sql_drop_run(tg_tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r       record;
    snap    jsonb;
    v_rel   oid;
    v_nsp   text;
    v_name  text;
    managed boolean;
BEGIN
    IF revos.drift_paused() OR tg_tag NOT LIKE 'DROP %' THEN
        RETURN;  -- ALTER TABLE ... DROP COLUMN/CONSTRAINT is reported by ddl_command_end
    END IF;
    BEGIN
        snap := coalesce(nullif(current_setting('revos.drift_snapshot', true), '')::jsonb, '{}'::jsonb);
        FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
            managed := false;
            v_nsp := NULL;
            v_name := NULL;
            IF r.object_type IN ('table', 'partitioned table') THEN
                -- The table is gone; managed if it was at command start or if its marker policy /
                -- trigger went with it.
                v_nsp := r.address_names[1];
                v_name := r.address_names[2];
                managed := snap ? (r.classid::text || ':' || r.objid)
                    OR EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() d
                               WHERE d.address_names[1] = v_nsp AND d.address_names[2] = v_name
                                 AND ((d.object_type = 'policy' AND d.address_names[3] = 'revos_tenant_isolation')
                                   OR (d.object_type = 'trigger' AND d.address_names[3] = 'revos_touch_updated_at')));
            ELSIF r.original AND r.object_type IN ('policy', 'trigger', 'rule') THEN
                v_nsp := r.address_names[1];
                v_name := r.address_names[2];
                v_rel := to_regclass(quote_ident(v_nsp) || '.' || quote_ident(v_name));
                managed := (r.object_type = 'policy' AND r.address_names[3] = 'revos_tenant_isolation')
                    OR (r.object_type = 'trigger' AND r.address_names[3] = 'revos_touch_updated_at')
                    OR snap ? (r.classid::text || ':' || r.objid)
                    OR (v_rel IS NOT NULL AND revos.drift_is_managed(v_rel));
            ELSIF r.original AND r.object_type = 'index' THEN
                v_rel := (snap ->> (r.classid::text || ':' || r.objid))::oid;
                IF v_rel IS NOT NULL THEN
                    managed := true;
                    SELECT n.nspname, c.relname INTO v_nsp, v_name
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_rel;
                END IF;
            END IF;
            IF managed THEN
                PERFORM revos.drift_record(tg_tag, r.object_type, r.object_identity, v_nsp, v_name);
            END IF;
        END LOOP;
    EXCEPTION WHEN others THEN
        RAISE WARNING 'revos: drift capture (sql_drop) failed: % (SQLSTATE %)', SQLERRM, SQLSTATE;
    END;
END
$$;
CREATE OR REPLACE FUNCTION revos.drift_sql_drop() RETURNS event_trigger
LANGUAGE c
AS 'MODULE_PATHNAME', 'drift_gate_wrapper';


-- log_event: revos's own event types are reserved.
CREATE OR REPLACE FUNCTION revos.log_event_reject(src jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad_key  text;
    bad_type text;
    v_type   text;
BEGIN
    IF src IS NULL OR jsonb_typeof(src) <> 'object' THEN
        RAISE EXCEPTION 'revos.log_event: the argument must be a JSON object, got %',
            coalesce(jsonb_typeof(src), 'NULL') USING ERRCODE = '22023';
    END IF;
    v_type := nullif(src ->> 'event_type', '');
    SELECT f.key, jsonb_typeof(f.value) INTO bad_key, bad_type
    FROM jsonb_each(src) f
    WHERE CASE
            WHEN f.key IN ('event_type', 'tenant_id', 'subject_type', 'actor_id', 'idempotency_key', 'occurred_at')
                THEN jsonb_typeof(f.value) NOT IN ('string', 'null')
            WHEN f.key = 'subject_id' THEN jsonb_typeof(f.value) NOT IN ('string', 'number', 'null')
            WHEN f.key = 'payload' THEN jsonb_typeof(f.value) NOT IN ('object', 'null')
            ELSE true
          END
    ORDER BY f.key
    LIMIT 1;
    IF bad_key IS NOT NULL THEN
        IF bad_key NOT IN ('event_type', 'tenant_id', 'subject_type', 'subject_id', 'actor_id',
                           'idempotency_key', 'occurred_at', 'payload') THEN
            RAISE EXCEPTION 'revos.log_event: unknown field "%"', bad_key
                USING ERRCODE = '22023',
                      HINT = 'Allowed: event_type, tenant_id, subject_type, subject_id, actor_id, payload, idempotency_key, occurred_at.';
        ELSIF bad_key = 'payload' THEN
            RAISE EXCEPTION 'revos.log_event: payload must be a JSON object, got %', bad_type
                USING ERRCODE = '22023';
        ELSE
            RAISE EXCEPTION 'revos.log_event: % must be a JSON string, got %', bad_key, bad_type
                USING ERRCODE = '22023';
        END IF;
    END IF;
    IF v_type IS NULL THEN
        RAISE EXCEPTION 'revos.log_event: event_type is required' USING ERRCODE = '22023';
    ELSIF length(v_type) > 200 THEN
        RAISE EXCEPTION 'revos.log_event: event_type is longer than 200 characters' USING ERRCODE = '22023';
    ELSIF v_type !~ '^[A-Za-z0-9_.:-]+$' THEN
        RAISE EXCEPTION 'revos.log_event: event_type "%" must match ^[A-Za-z0-9_.:-]+$', v_type
            USING ERRCODE = '22023';
    ELSIF v_type IN ('schema_migration_applied', 'schema_migration_failed', 'schema_drift_detected') THEN
        RAISE EXCEPTION 'revos.log_event: event_type "%" is reserved: only revos writes it', v_type
            USING ERRCODE = '22023';
    ELSIF length(src ->> 'tenant_id') > 200 THEN
        RAISE EXCEPTION 'revos.log_event: tenant_id is longer than 200 characters' USING ERRCODE = '22023';
    ELSIF length(src ->> 'subject_type') > 200 THEN
        RAISE EXCEPTION 'revos.log_event: subject_type is longer than 200 characters' USING ERRCODE = '22023';
    ELSIF length(src ->> 'subject_id') > 1000 THEN
        RAISE EXCEPTION 'revos.log_event: subject_id is longer than 1000 characters' USING ERRCODE = '22023';
    ELSIF length(src ->> 'actor_id') > 1000 THEN
        RAISE EXCEPTION 'revos.log_event: actor_id is longer than 1000 characters' USING ERRCODE = '22023';
    ELSIF length(src ->> 'idempotency_key') > 255 THEN
        RAISE EXCEPTION 'revos.log_event: idempotency_key is longer than 255 characters' USING ERRCODE = '22023';
    ELSIF octet_length((src -> 'payload')::text) > 1048576 THEN
        RAISE EXCEPTION 'revos.log_event: payload is larger than 1048576 bytes (1 MiB) as JSON text'
            USING ERRCODE = '22023';
    END IF;
    RAISE EXCEPTION 'revos.log_event: invalid event' USING ERRCODE = '22023';
END
$$;

-- log_event in C (src/ledger/log_event.rs): the same answers, a fraction of the cost.
CREATE OR REPLACE FUNCTION revos.log_event(jsonb) RETURNS jsonb
LANGUAGE c VOLATILE SECURITY DEFINER
AS 'MODULE_PATHNAME', 'log_event_wrapper';

-- The event hash in Rust (same bytes as the SQL definition) and verify_ledger in one pass over the
-- events (issue 13).
CREATE OR REPLACE FUNCTION revos.event_hash(e revos.events) RETURNS text
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'event_hash_wrapper';

-- The pass over the events, in Rust (src/ledger/verify_chains.rs): every event in id order, one cursor,
-- the last row of each chain kept in a map. A row is broken when its hash is not
-- revos.event_hash(row) or its prev_hash is not the previous row's (stored) hash in its chain (64
-- zeros for the first). Returns {"events", "first_bad", "tails": {chain: last id}}. The SQL
-- window it replaces (PARTITION BY tenant_id ORDER BY id over whole rows) sorted the ledger:
-- ~6 s per million events against ~2 s.
CREATE FUNCTION revos.verify_chains(tenant text) RETURNS jsonb
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'verify_chains_wrapper';
COMMENT ON FUNCTION revos.verify_chains(text) IS
    'The pass of revos.verify_ledger over the events (id order): {events, first_bad, tails}. Internal.';

CREATE OR REPLACE FUNCTION revos.verify_ledger(tenant text DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
WITH one_pass AS (
    SELECT (v ->> 'events')::bigint AS events, (v ->> 'first_bad')::bigint AS first_bad, v -> 'tails' AS tails
    FROM revos.verify_chains($1) v
),
tails AS (
    SELECT t.key AS chain, t.value::text::bigint AS id FROM one_pass, jsonb_each(one_pass.tails) t
),
heads AS (
    SELECT h.chain, h.last_id FROM revos.event_chain_heads h
    WHERE $1 IS NULL OR h.chain = 'tenant:' || $1
),
bad_heads AS (
    SELECT coalesce((SELECT min(e.id) FROM revos.events e
                      WHERE (CASE WHEN e.tenant_id IS NULL THEN 'global' ELSE 'tenant:' || e.tenant_id END) = h.chain
                        AND e.id > h.last_id),
                    h.last_id, t.id) AS id
    FROM tails t FULL JOIN heads h ON h.chain = t.chain
    WHERE t.id IS DISTINCT FROM h.last_id
)
SELECT jsonb_build_object(
    'ok',              (SELECT first_bad IS NULL FROM one_pass) AND NOT EXISTS (SELECT 1 FROM bad_heads),
    'events_checked',  (SELECT events FROM one_pass),
    'chains_checked',  (SELECT count(*) FROM (SELECT chain FROM tails UNION SELECT chain FROM heads) c),
    'first_broken_id', (SELECT min(b.id) FROM (SELECT first_bad AS id FROM one_pass UNION ALL SELECT id FROM bad_heads) b))
$$;

-- Privileges (sql/ledger.sql and sql/finalize.sql of 0.2.0).
REVOKE EXECUTE ON FUNCTION revos.events_chain() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.events_append_only() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.schema_migration_event() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.drift_snapshot() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.drift_ddl_end() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.drift_sql_drop() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.event_hash(revos.events) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.verify_chains(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.drift_snapshot_run(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.drift_ddl_end_run(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.drift_sql_drop_run(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.events_chain_restore(revos.events) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.jwt_claims_tenant(text) TO PUBLIC;
REVOKE ALL ON FUNCTION revos.touch_updated_at() FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.type_sql(oid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.touch_updated_at() TO revos_admin;
GRANT EXECUTE ON FUNCTION revos.type_sql(oid, integer) TO revos_admin;
REVOKE ALL ON FUNCTION revos.writing_ledger() FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.drift_paused() FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.note_restore() FROM PUBLIC;
REVOKE INSERT ON revos.schema_migrations FROM revos_admin;
GRANT EXECUTE ON FUNCTION revos.event_hash(revos.events) TO revos_admin;

-- Citus (issue 12): revos.verify_shards() (a copy of sql/citus.sql).
-- The shape of one table, the same text for a table and for each of its shards (shard names and the
-- names Citus derives from them are left out): columns (name, type, NOT NULL, default or not), the
-- constraints (kind and columns; a check's expression), indexes (unique, key columns, partial), the
-- RLS flags, the policies (name, command, USING, WITH CHECK) and the triggers by name (a shard's
-- trigger may carry the shard id as a suffix). %1$s stands for the table; run_command_on_placements puts each shard's name there (format()).

-- Compares every placement of every shard of the revos-managed Citus tables (a revos policy or
-- updated_at trigger) with its table on the coordinator, through run_command_on_placements (its own
-- connections: call it after the change committed). {ok, tables_checked, placements_checked,
-- mismatches: [{table, shardid, node, expected, got}]}; without Citus: ok, nothing checked.
CREATE FUNCTION revos.verify_shards() RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shape      text := $s$SELECT concat_ws(' | ',
      (SELECT string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                         || CASE WHEN a.atthasdef THEN ' default' ELSE '' END, ', ' ORDER BY a.attnum)
         FROM pg_catalog.pg_attribute a WHERE a.attrelid = '%1$s'::regclass AND a.attnum > 0 AND NOT a.attisdropped),
      (SELECT string_agg(x, ', ' ORDER BY x) FROM (
         SELECT c.contype::text || '(' || (SELECT string_agg(a.attname, ',' ORDER BY k.o) FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                                      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) || ')'
                || CASE WHEN c.contype = 'c' THEN ' ' || pg_catalog.pg_get_constraintdef(c.oid) ELSE '' END AS x
           FROM pg_catalog.pg_constraint c WHERE c.conrelid = '%1$s'::regclass) cs),
      (SELECT string_agg(x, ', ' ORDER BY x) FROM (
         SELECT CASE WHEN i.indisunique THEN 'unique ' ELSE '' END || '(' || i.indkey::text || ')'
                || CASE WHEN i.indpred IS NOT NULL THEN ' partial' ELSE '' END AS x
           FROM pg_catalog.pg_index i WHERE i.indrelid = '%1$s'::regclass) ix),
      (SELECT 'rls ' || c.relrowsecurity || ' force ' || c.relforcerowsecurity FROM pg_catalog.pg_class c WHERE c.oid = '%1$s'::regclass),
      (SELECT string_agg(p.polname || ' ' || p.polcmd::text || ' ' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '-')
                         || ' ' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '-'), ', ' ORDER BY p.polname)
         FROM pg_catalog.pg_policy p WHERE p.polrelid = '%1$s'::regclass),
      (SELECT string_agg(pg_catalog.regexp_replace(t.tgname, '_[0-9]+$', ''), ', ' ORDER BY t.tgname) FROM pg_catalog.pg_trigger t
        WHERE t.tgrelid = '%1$s'::regclass AND NOT t.tgisinternal))$s$;
    r          record;
    s          record;
    want       text;
    tables     integer := 0;
    placements integer := 0;
    bad        jsonb := '[]'::jsonb;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
        RETURN jsonb_build_object('ok', true, 'tables_checked', 0, 'placements_checked', 0,
                                  'mismatches', bad, 'citus', false);
    END IF;
    FOR r IN EXECUTE 'SELECT p.logicalrelid::regclass AS rel FROM pg_dist_partition p
                       WHERE EXISTS (SELECT 1 FROM pg_policy x WHERE x.polrelid = p.logicalrelid
                                       AND x.polname = ''revos_tenant_isolation'')
                          OR EXISTS (SELECT 1 FROM pg_trigger x WHERE x.tgrelid = p.logicalrelid
                                       AND x.tgname = ''revos_touch_updated_at'')
                       ORDER BY p.logicalrelid::regclass::text' LOOP
        tables := tables + 1;
        EXECUTE format(shape, r.rel::text) INTO want;
        FOR s IN EXECUTE 'SELECT shardid, nodename, nodeport, success, result FROM run_command_on_placements($1, $2)'
                 USING r.rel, shape LOOP
            placements := placements + 1;
            IF NOT s.success OR s.result IS DISTINCT FROM want THEN
                bad := bad || jsonb_build_object('table', r.rel::text, 'shardid', s.shardid,
                                                 'node', s.nodename || ':' || s.nodeport,
                                                 'expected', want, 'got', s.result);
            END IF;
        END LOOP;
    END LOOP;
    RETURN jsonb_build_object('ok', jsonb_array_length(bad) = 0, 'tables_checked', tables,
                              'placements_checked', placements, 'mismatches', bad, 'citus', true);
END
$$;
COMMENT ON FUNCTION revos.verify_shards() IS
    'Citus: every placement of every shard of the revos-managed tables has the columns, keys, indexes, RLS, policy and trigger of its table on the coordinator. Call after the change committed.';
REVOKE ALL ON FUNCTION revos.verify_shards() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.verify_shards() TO revos_admin;
