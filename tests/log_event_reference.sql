-- The PL/pgSQL definition of revos.log_event(jsonb) before it became C (src/ledger/log_event.rs), kept
-- as the reference: tests/ledger_sql.sh creates it as revos_ref.log_event in its test database and
-- checks that both functions answer every input of a generated corpus alike (the same status and
-- row, or the same SQLSTATE and message). It calls the same helpers (revos.log_event_flatten,
-- revos.log_event_reject, revos.log_event_time, revos.current_tenant_id).
CREATE SCHEMA revos_ref;
CREATE FUNCTION revos_ref.log_event(jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    event      ALIAS FOR $1;
    src        jsonb := event;
    v_key      text;
    v_id       bigint;
    v_event_id uuid;
    v_current  text := revos.current_tenant_id();
    v_owner    text;
BEGIN
    IF event ?| '{meta,subject,context}'::text[] THEN
        src := revos.log_event_flatten(event);
    END IF;
    -- Happy path: one jsonpath for the JSON types (and that it is an object at all), the rest in
    -- plain SQL; on failure revos.log_event_reject says precisely what is wrong.
    IF NOT coalesce(src @@ '$.type() == "object"
            && $.event_type.type() == "string" && $.event_type like_regex "^[A-Za-z0-9_.:-]+$"
            && (!exists($.tenant_id) || $.tenant_id.type() == "string" || $.tenant_id.type() == "null")
            && (!exists($.subject_type) || $.subject_type.type() == "string" || $.subject_type.type() == "null")
            && (!exists($.subject_id) || $.subject_id.type() == "string" || $.subject_id.type() == "number" || $.subject_id.type() == "null")
            && (!exists($.actor_id) || $.actor_id.type() == "string" || $.actor_id.type() == "null")
            && (!exists($.idempotency_key) || $.idempotency_key.type() == "string" || $.idempotency_key.type() == "null")
            && (!exists($.occurred_at) || $.occurred_at.type() == "string" || $.occurred_at.type() == "null")
            && (!exists($.payload) || $.payload.type() == "object" || $.payload.type() == "null")'
        AND (src - '{event_type,tenant_id,subject_type,subject_id,actor_id,payload,idempotency_key,occurred_at}'::text[]) = '{}'::jsonb
        AND length(src ->> 'event_type') <= 200
        AND src ->> 'event_type' NOT IN ('schema_migration_applied', 'schema_migration_failed', 'schema_drift_detected',
            'schema_deferred_step_pending', 'schema_deferred_step_running', 'schema_deferred_step_done',
            'schema_deferred_step_failed', 'schema_deferred_step_interrupted')
        AND coalesce(length(src ->> 'tenant_id'), 0) <= 200
        AND coalesce(octet_length((src -> 'payload')::text), 0) <= 1048576, false)
       OR (src ?| '{subject_type,subject_id,actor_id,idempotency_key}'::text[]
           AND greatest(length(src ->> 'subject_type') - 200, length(src ->> 'subject_id') - 1000,
                        length(src ->> 'actor_id') - 1000, length(src ->> 'idempotency_key') - 255) > 0)
    THEN
        PERFORM revos.log_event_reject(src);
    END IF;

    -- A transaction with a tenant writes only that tenant's chain: no event for someone else.
    IF v_current IS NOT NULL AND nullif(src ->> 'tenant_id', '') IS DISTINCT FROM NULL
       AND src ->> 'tenant_id' <> v_current THEN
        RAISE EXCEPTION 'revos.log_event: tenant_id is not the current tenant of this transaction'
            USING ERRCODE = '42501';
    END IF;

    v_key := nullif(src ->> 'idempotency_key', '');
    IF v_key IS NOT NULL THEN
        -- Same-key callers queue here; the winner's row is visible once it commits.
        PERFORM pg_advisory_xact_lock(1919252079, hashtext(v_key));
        SELECT e.id, e.event_id, e.tenant_id INTO v_id, v_event_id, v_owner
        FROM revos.events e WHERE e.idempotency_key = v_key;
        IF FOUND THEN
            -- never hand one tenant another tenant's event
            IF v_current IS NOT NULL AND v_owner IS DISTINCT FROM v_current THEN
                RAISE EXCEPTION 'revos.log_event: idempotency_key is already used outside this tenant'
                    USING ERRCODE = '42501';
            END IF;
            RETURN jsonb_build_object('status', 'duplicate', 'event_id', v_event_id, 'id', v_id);
        END IF;
    END IF;

    INSERT INTO revos.events (id, tenant_id, event_type, subject_type, subject_id, actor_id,
                              payload, idempotency_key, occurred_at)
    VALUES (NULL,
            coalesce(nullif(src ->> 'tenant_id', ''), v_current),
            src ->> 'event_type',
            nullif(src ->> 'subject_type', ''),
            nullif(src ->> 'subject_id', ''),
            nullif(src ->> 'actor_id', ''),
            coalesce(nullif(src -> 'payload', 'null'::jsonb), '{}'::jsonb),
            v_key,
            CASE WHEN src ->> 'occurred_at' <> '' THEN revos.log_event_time(src ->> 'occurred_at') END)
    RETURNING id, event_id INTO v_id, v_event_id;

    RETURN jsonb_build_object('status', 'recorded', 'event_id', v_event_id, 'id', v_id);
END
$$;

-- revos.current_tenant_id() as SQL defined it before it became C (sql/releases/revos--0.1.0.sql): the
-- claims read by jsonb (->>), never by revos's own code — the C function is compared with this, so
-- a number keeps every digit as jsonb prints it (issue 19; before, this called the C
-- revos.jwt_claims_tenant and compared the C parser with itself).
CREATE FUNCTION revos_ref.current_tenant_id() RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v      text := nullif(current_setting('app.current_tenant_id', true), '');
    claims text;
    j      jsonb;
BEGIN
    IF v IS NOT NULL THEN
        RETURN v;
    END IF;
    claims := nullif(current_setting('request.jwt.claims', true), '');
    IF claims IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        j := claims::jsonb;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END;
    IF jsonb_typeof(j) <> 'object' THEN
        RETURN NULL;
    END IF;
    RETURN coalesce(nullif(j ->> 'tenant_id', ''), nullif(j -> 'app_metadata' ->> 'tenant_id', ''));
END
$$;
