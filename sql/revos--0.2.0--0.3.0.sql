-- revos 0.2.0 -> 0.3.0 (ALTER EXTENSION revos UPDATE). tests/upgrade.sh checks that the result equals
-- a fresh 0.3.0 install, object for object, and that every row is kept. Function bodies are copies of
-- sql/ledger.sql and src/ (the test fails when they differ).
\echo Use "ALTER EXTENSION revos UPDATE TO '0.3.0'" to load this file. \quit

-- This update writes rows of 0.2.0's tables (the payload memo emptied, the chain heads written again)
-- with the privileges of the role running it, before it resets those tables' privileges. 0.2.0 revoked
-- only PUBLIC's: a role that default privileges granted TRIGGER or REFERENCES on them may have put a
-- trigger there (which would run with the update's privileges) or a foreign key (which would stop the
-- rewrite halfway). So the update stops first and names them (the reviews of 1402e13, L1, and of
-- 1186671, H1 and L3); revos's own triggers are the four below, by name and function. The tables are
-- locked first, in a mode that CREATE TRIGGER and adding a foreign key wait for, so that none can be
-- added after the check (the review of 56b3afe, H).
LOCK TABLE revos.schema_migrations, revos.payload_memo, revos.events, revos.event_chain_heads
    IN SHARE ROW EXCLUSIVE MODE;
DO $foreign$
DECLARE
    v_names pg_catalog.text;
BEGIN
    SELECT pg_catalog.string_agg(x.what, ', ' ORDER BY x.what) INTO v_names FROM (
        SELECT pg_catalog.format('trigger %I on %I.%I', t.tgname, n.nspname, r.relname) AS what
          FROM pg_catalog.pg_trigger t
          JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) t.tgrelid
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace
         WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY (ARRAY['revos.schema_migrations', 'revos.payload_memo',
                   'revos.events', 'revos.event_chain_heads']::pg_catalog.regclass[]::pg_catalog.oid[])
           AND NOT t.tgisinternal
           AND NOT EXISTS (
               SELECT 1 FROM (VALUES ('revos.events'::pg_catalog.regclass, 'events_chain'::pg_catalog.name,
                                      'revos.events_chain()'::pg_catalog.regprocedure),
                                     ('revos.events', 'events_append_only', 'revos.events_append_only()'),
                                     ('revos.events', 'events_no_truncate', 'revos.events_append_only()'),
                                     ('revos.schema_migrations', 'schema_migrations_event',
                                      'revos.schema_migration_event()')) own(rel, name, fn)
                WHERE own.rel::pg_catalog.oid OPERATOR(pg_catalog.=) t.tgrelid
                  AND own.name OPERATOR(pg_catalog.=) t.tgname
                  AND own.fn::pg_catalog.oid OPERATOR(pg_catalog.=) t.tgfoid)
        UNION ALL
        SELECT pg_catalog.format('foreign key %I on %I.%I', c.conname, n.nspname, r.relname)
          FROM pg_catalog.pg_constraint c
          JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) c.conrelid
          JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) r.relnamespace
         WHERE c.contype OPERATOR(pg_catalog.=) 'f'
           AND c.confrelid OPERATOR(pg_catalog.=) ANY (ARRAY['revos.schema_migrations', 'revos.payload_memo',
                   'revos.events', 'revos.event_chain_heads']::pg_catalog.regclass[]::pg_catalog.oid[])
    ) x;
    IF v_names IS NOT NULL THEN
        RAISE EXCEPTION 'revos: revos''s tables have triggers or foreign keys revos did not create: %', v_names
            USING ERRCODE = '55000', HINT = 'Drop them (revos writes those tables itself), then update again.';
    END IF;
END
$foreign$;

-- The payload memo is a cache that only revos writes; rows another role may have written while 0.2.0
-- let it (default privileges) are not kept: the fast path would trust them (the thirteenth adversarial
-- review). It refills itself.
TRUNCATE revos.payload_memo;

-- Issue 17: drift capture cannot be muted. The workers no longer turn their errors into warnings (a
-- command the ledger cannot record fails); the C gate finds them by OID (src/drift_gate.rs).
ALTER FUNCTION revos.events_chain_restore(revos.events) SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION revos.drift_paused() IS
    'Internal (drift capture): true while the DDL command under way is one of revos''s own planned statements, after this session restored ledger rows, or on a Citus worker.';

-- Issue 17 (adversarial review): the drift capture watches revos.managed_tables (every table an
-- applied version declares) besides the markers; maps rules, statistics, inheritance, schemas,
-- extension membership and what a managed table's parts depend on to the table; attributes every
-- dropped object, cascaded or named, whatever the command; keeps its snapshot per command in backend
-- memory; records the role whose privileges ran the DDL.
CREATE FUNCTION revos.drift_frame_snapshot(snapshot text) RETURNS text
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'drift_frame_snapshot_wrapper';
COMMENT ON FUNCTION revos.drift_frame_snapshot(text) IS
    'Internal (drift capture): sets (non-NULL) or reads (NULL) the snapshot of the DDL command under way, kept in backend memory.';
CREATE FUNCTION revos.drift_actor() RETURNS text
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'drift_actor_wrapper';
COMMENT ON FUNCTION revos.drift_actor() IS
    'Internal (drift capture): the role whose privileges run the DDL command under way.';
REVOKE ALL ON FUNCTION revos.drift_frame_snapshot(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION revos.drift_actor() FROM PUBLIC;

-- Issue 20/24: a version's normalized schema (what a later conflict is compared with) and its plan
-- as a person reads it, in their own columns: metadata stays small for the readers of every call
-- (the no-op's ledger probe, the migration's event). Rows of 0.2.0 have neither.
ALTER TABLE revos.schema_migrations ADD COLUMN normalized_schema jsonb, ADD COLUMN plan_text text;

CREATE TABLE revos.managed_tables (
    rel pg_catalog.regclass PRIMARY KEY
);
COMMENT ON TABLE revos.managed_tables IS
    'The tables revos manages (every table an applied version declares): the drift capture watches them. Written only by revos.';
SELECT pg_catalog.pg_extension_config_dump('revos.managed_tables', '');
REVOKE ALL ON revos.managed_tables FROM PUBLIC;
-- the tables managed so far: those that carry revos's markers
INSERT INTO revos.managed_tables (rel)
SELECT DISTINCT r FROM (
    SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.polname = 'revos_tenant_isolation'
    UNION
    SELECT t.tgrelid FROM pg_catalog.pg_trigger t WHERE t.tgname = 'revos_touch_updated_at'
) x(r);

-- A marker counts only on a table whose owner could own a table revos manages (a superuser, a
-- revos_admin member, a role listed in revos.trusted_roles): any role that may CREATE somewhere could
-- put one on its own table and have its DDL written into the global chain, holding it until commit (the
-- review of 70d2215, M3). The tables revos registered count whoever owns them.
CREATE FUNCTION revos.drift_marker_trusted(rel oid) RETURNS boolean
LANGUAGE plpgsql STABLE  -- PL/pgSQL: revos.trusted_roles is created after it
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner oid;
BEGIN
    SELECT c.relowner INTO v_owner FROM pg_catalog.pg_class c WHERE c.oid = drift_marker_trusted.rel;
    IF v_owner IS NULL THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles o WHERE o.oid = v_owner AND o.rolsuper)
       OR EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
                   WHERE a.rolname = 'revos_admin' AND pg_catalog.pg_has_role(v_owner, a.oid, 'MEMBER')) THEN
        RETURN true;
    END IF;
    -- revos.trusted_roles is read only once it exists (the update to 0.3.0 creates it after this)
    IF pg_catalog.to_regclass('revos.trusted_roles') IS NULL THEN
        RETURN false;
    END IF;
    RETURN EXISTS (SELECT 1 FROM revos.trusted_roles t WHERE t.role::pg_catalog.oid = v_owner);
END
$$;

CREATE OR REPLACE FUNCTION revos.drift_is_managed(rel oid) RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
-- never a temporary table: anyone may create one and put a marker on it, which made its DDL events of
-- the global chain (the drift review of d9c3a68, M2); revos declares none. A marker only on a table of
-- a trusted owner (revos.drift_marker_trusted).
SELECT NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                    WHERE c.oid = drift_is_managed.rel AND c.relpersistence = 't')
   AND (EXISTS (SELECT 1 FROM revos.managed_tables m WHERE m.rel::pg_catalog.oid = drift_is_managed.rel)
        OR ((EXISTS (SELECT 1 FROM pg_catalog.pg_policy p
                      WHERE p.polrelid = drift_is_managed.rel AND p.polname = 'revos_tenant_isolation')
             OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                         WHERE t.tgrelid = drift_is_managed.rel AND t.tgname = 'revos_touch_updated_at'))
            AND revos.drift_marker_trusted(drift_is_managed.rel)))
$$;

CREATE FUNCTION revos.drift_part_table(cls oid, obj oid) RETURNS oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE cls
    WHEN 'pg_class'::regclass THEN
        (SELECT CASE WHEN c.relkind IN ('i', 'I') THEN (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = c.oid)
                     WHEN c.relkind = 'S' THEN (SELECT d.refobjid FROM pg_depend d
                                                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                                   AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                                                 LIMIT 1)
                     ELSE c.oid END
           FROM pg_class c WHERE c.oid = obj)
    WHEN 'pg_constraint'::regclass THEN (SELECT nullif(x.conrelid, 0) FROM pg_constraint x WHERE x.oid = obj)
    WHEN 'pg_attrdef'::regclass THEN (SELECT x.adrelid FROM pg_attrdef x WHERE x.oid = obj)
    WHEN 'pg_policy'::regclass THEN (SELECT x.polrelid FROM pg_policy x WHERE x.oid = obj)
    WHEN 'pg_trigger'::regclass THEN (SELECT x.tgrelid FROM pg_trigger x WHERE x.oid = obj)
    WHEN 'pg_rewrite'::regclass THEN (SELECT x.ev_class FROM pg_rewrite x WHERE x.oid = obj)
    WHEN 'pg_statistic_ext'::regclass THEN (SELECT x.stxrelid FROM pg_statistic_ext x WHERE x.oid = obj)
END
$$;

-- What depends on (cls, obj), directly or through other types, functions and relations, as far as that
-- decides what a managed table's part accepts: a domain over a domain, an array of a domain or an enum
-- (the array type depends on it internally), a composite type's attribute or a table's row type used as a
-- column type (a relation stands for its row type too), a domain's constraint (stands for its domain), a
-- function another one's body calls (BEGIN ATOMIC records it), an operator over a function, a view a
-- policy reads and the views that view reads (a view's rule stands for its view), a sequence a default
-- calls (from a relation only rules, policies and defaults are followed, not its own parts). Every object once: the walk ends by itself (the
-- drift review of d9c3a68, H2, and the review of 70d2215, M2 and L1: 8 steps were easy to exceed).
CREATE FUNCTION revos.drift_dependents(cls oid, obj oid) RETURNS TABLE (classid oid, objid oid)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
WITH RECURSIVE walk(classid, objid) AS (
    SELECT n.classid, n.objid
      FROM (SELECT) one
      LEFT JOIN pg_class c ON cls = 'pg_class'::regclass AND c.oid = obj
      LEFT JOIN pg_constraint k ON cls = 'pg_constraint'::regclass AND k.oid = obj
     CROSS JOIN LATERAL (VALUES (cls, obj), ('pg_type'::regclass::oid, c.reltype),
                                ('pg_type'::regclass::oid, k.contypid)) n(classid, objid)
     WHERE n.objid IS NOT NULL AND n.objid <> 0
    UNION
    SELECT n.classid, n.objid
      FROM walk w
      JOIN pg_depend d ON d.refclassid = w.classid AND d.refobjid = w.objid AND d.deptype IN ('n', 'a', 'i')
      LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
      LEFT JOIN pg_constraint k ON d.classid = 'pg_constraint'::regclass AND k.oid = d.objid
      LEFT JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
     CROSS JOIN LATERAL (VALUES (d.classid, d.objid), ('pg_type'::regclass::oid, c.reltype),
                                ('pg_type'::regclass::oid, k.contypid),
                                ('pg_class'::regclass::oid, r.ev_class)) n(classid, objid)
     WHERE n.objid IS NOT NULL AND n.objid <> 0
       AND (w.classid IN ('pg_type'::regclass, 'pg_proc'::regclass, 'pg_operator'::regclass, 'pg_collation'::regclass)
            OR (w.classid = 'pg_class'::regclass
                AND d.classid IN ('pg_rewrite'::regclass, 'pg_policy'::regclass, 'pg_attrdef'::regclass)))
)
SELECT w.classid, w.objid FROM walk w WHERE NOT (w.classid = cls AND w.objid = obj)
$$;

CREATE FUNCTION revos.drift_tables_of(cls oid, obj oid) RETURNS SETOF oid
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT DISTINCT t FROM (
    SELECT revos.drift_part_table(cls, obj)
    UNION ALL  -- a table that inherits from (or is a partition of) a managed table
    SELECT i.inhparent FROM pg_inherits i WHERE cls = 'pg_class'::regclass AND i.inhrelid = obj
    UNION ALL  -- the schema of managed tables
    SELECT c.oid FROM pg_class c WHERE cls = 'pg_namespace'::regclass AND c.relnamespace = obj
                                   AND c.relkind IN ('r', 'p')
    UNION ALL  -- an extension a managed table is made a member of
    SELECT d.objid FROM pg_depend d WHERE cls = 'pg_extension'::regclass AND d.refclassid = cls
                                      AND d.refobjid = obj AND d.deptype = 'e' AND d.classid = 'pg_class'::regclass
    UNION ALL  -- an object a part of a managed table depends on (a type, a function, an operator, a
               -- collation), directly or through others
    SELECT revos.drift_part_table(w.classid, w.objid) FROM revos.drift_dependents(cls, obj) w
) x(t)
WHERE t IS NOT NULL AND revos.drift_is_managed(t)
$$;

CREATE OR REPLACE FUNCTION revos.drift_record(command_tag text, object_type text, object_identity text,
                                   schema_name text, table_name text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
INSERT INTO revos.events (id, tenant_id, event_type, subject_type, subject_id, actor_id, payload)
VALUES (NULL, NULL, 'schema_drift_detected', 'table',
        pg_catalog.quote_ident(schema_name) || '.' || pg_catalog.quote_ident(table_name),
        revos.drift_actor(),
        pg_catalog.jsonb_build_object('command_tag', command_tag, 'object_type', object_type,
                                      'object_identity', object_identity,
                                      'schema', schema_name, 'table', table_name))
$$;

CREATE FUNCTION revos.drift_record_table(command_tag text, object_type text, object_identity text, rel oid)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_nsp  text;
    v_name text;
BEGIN
    SELECT n.nspname, c.relname INTO v_nsp, v_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
    IF v_name IS NULL THEN
        RETURN;
    END IF;
    PERFORM revos.drift_record(command_tag, object_type, object_identity, v_nsp, v_name);
END
$$;

CREATE OR REPLACE FUNCTION revos.drift_snapshot_run(tg_tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- Only a DROP or an ALTER (rename, drop column/constraint, cascades) can make a managed
    -- object disappear before ddl_command_end / sql_drop look at it; CREATE, COMMENT, GRANT and
    -- the like need no snapshot (it costs a catalog scan of every managed table per statement).
    IF revos.drift_paused() OR NOT (tg_tag LIKE 'DROP %' OR tg_tag LIKE 'ALTER %') THEN
        RETURN;
    END IF;
    PERFORM revos.drift_frame_snapshot(coalesce((
        WITH managed AS (
            SELECT DISTINCT x.rel FROM (
                SELECT m.rel::oid AS rel, true AS registered FROM revos.managed_tables m
                UNION
                SELECT p.polrelid, false FROM pg_policy p WHERE p.polname = 'revos_tenant_isolation'
                UNION
                SELECT t.tgrelid, false FROM pg_trigger t WHERE t.tgname = 'revos_touch_updated_at'
            ) x JOIN pg_class c ON c.oid = x.rel
            -- never a temporary table, a marker only on a trusted owner's (revos.drift_is_managed)
            WHERE c.relpersistence <> 't' AND (x.registered OR revos.drift_marker_trusted(x.rel))
        )
        SELECT jsonb_object_agg(o.k, o.rel)::text FROM (
            SELECT 'pg_class'::regclass::oid::text || ':' || m.rel AS k, m.rel FROM managed m
            UNION ALL
            SELECT 'pg_class'::regclass::oid::text || ':' || i.indexrelid, i.indrelid
            FROM pg_index i JOIN managed m ON m.rel = i.indrelid
            UNION ALL
            SELECT 'pg_constraint'::regclass::oid::text || ':' || c.oid, c.conrelid
            FROM pg_constraint c JOIN managed m ON m.rel = c.conrelid
            UNION ALL
            SELECT 'pg_attrdef'::regclass::oid::text || ':' || d.oid, d.adrelid
            FROM pg_attrdef d JOIN managed m ON m.rel = d.adrelid
            UNION ALL
            SELECT 'pg_policy'::regclass::oid::text || ':' || p.oid, p.polrelid
            FROM pg_policy p JOIN managed m ON m.rel = p.polrelid
            UNION ALL
            SELECT 'pg_trigger'::regclass::oid::text || ':' || t.oid, t.tgrelid
            FROM pg_trigger t JOIN managed m ON m.rel = t.tgrelid
            WHERE NOT t.tgisinternal
            UNION ALL
            SELECT 'pg_rewrite'::regclass::oid::text || ':' || r.oid, r.ev_class
            FROM pg_rewrite r JOIN managed m ON m.rel = r.ev_class
            UNION ALL
            SELECT 'pg_statistic_ext'::regclass::oid::text || ':' || x.oid, x.stxrelid
            FROM pg_statistic_ext x JOIN managed m ON m.rel = x.stxrelid
        ) o), ''));
END
$$;

CREATE OR REPLACE FUNCTION revos.drift_ddl_end_run(tg_tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r      record;
    snap   jsonb;
    v_rel  oid;
    seen   text[] := '{}';
BEGIN
    IF revos.drift_paused() THEN
        RETURN;
    END IF;
    snap := coalesce(nullif(revos.drift_frame_snapshot(NULL), '')::jsonb, '{}'::jsonb);
    FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() c WHERE NOT c.in_extension LOOP
        FOR v_rel IN
            SELECT t FROM revos.drift_tables_of(r.classid, r.objid) t
            UNION
            SELECT (snap ->> (r.classid::text || ':' || r.objid))::oid
             WHERE snap ? (r.classid::text || ':' || r.objid)
            UNION
            SELECT r.objid WHERE r.classid = 'pg_class'::regclass
               AND r.objid IN ('revos.events'::regclass, 'revos.event_chain_heads'::regclass,
                               'revos.schema_migrations'::regclass)
        LOOP
            CONTINUE WHEN (r.command_tag || '|' || r.object_identity || '|' || v_rel) = ANY (seen);
            seen := seen || (r.command_tag || '|' || r.object_identity || '|' || v_rel);
            IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = 'revos.events'::regclass
                          AND t.tgname = 'events_chain' AND t.tgenabled = 'D') THEN
                RAISE WARNING 'revos: the triggers of revos.events are disabled: % on % is not recorded and the ledger is not tamper-protected',
                    r.command_tag, r.object_identity;
                RETURN;
            END IF;
            PERFORM revos.drift_record_table(r.command_tag, r.object_type, r.object_identity, v_rel);
        END LOOP;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION revos.drift_sql_drop_run(tg_tag text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r       record;
    snap    jsonb;
    v_rel   oid;
    v_nsp   text;
    v_name  text;
    seen    text[] := '{}';
BEGIN
    IF revos.drift_paused() THEN
        RETURN;
    END IF;
    snap := coalesce(nullif(revos.drift_frame_snapshot(NULL), '')::jsonb, '{}'::jsonb);
    FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
        v_rel := (snap ->> (r.classid::text || ':' || r.objid))::oid;
        v_nsp := NULL;
        v_name := NULL;
        IF v_rel IS NULL AND r.object_type IN ('table column', 'table constraint', 'default value',
                                               'policy', 'trigger', 'rule', 'index') THEN
            -- a part of a table that is still there (its snapshot did not know it)
            v_rel := to_regclass(quote_ident(r.address_names[1]) || '.' || quote_ident(r.address_names[2]));
            IF v_rel IS NOT NULL AND NOT revos.drift_is_managed(v_rel) THEN
                v_rel := NULL;
            END IF;
        END IF;
        IF r.object_type IN ('table', 'partitioned table') THEN
            -- a temporary table is never managed (its parts: no snapshot entry, drift_is_managed); not
            -- every object in pg_temp is skipped — a temporary statistics object on a managed table is
            -- recorded (the review of 70d2215, L3)
            CONTINUE WHEN r.is_temporary;
            IF v_rel IS NULL AND NOT EXISTS (SELECT 1 FROM revos.managed_tables m WHERE m.rel::oid = r.objid)
               AND NOT EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() d
                               WHERE d.address_names[1] = r.address_names[1] AND d.address_names[2] = r.address_names[2]
                                 AND ((d.object_type = 'policy' AND d.address_names[3] = 'revos_tenant_isolation')
                                   OR (d.object_type = 'trigger' AND d.address_names[3] = 'revos_touch_updated_at'))) THEN
                CONTINUE;
            END IF;
            DELETE FROM revos.managed_tables m WHERE m.rel::oid = r.objid;
            v_nsp := r.address_names[1];
            v_name := r.address_names[2];
        ELSIF v_rel IS NOT NULL THEN
            SELECT n.nspname, c.relname INTO v_nsp, v_name
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_rel;
            IF v_name IS NULL THEN
                -- its table is being dropped by the same command: recorded with the table
                CONTINUE;
            END IF;
        ELSE
            CONTINUE;
        END IF;
        CONTINUE WHEN (r.object_identity || '|' || v_nsp || '.' || v_name) = ANY (seen);
        seen := seen || (r.object_identity || '|' || v_nsp || '.' || v_name);
        PERFORM revos.drift_record(tg_tag, r.object_type, r.object_identity, v_nsp, v_name);
    END LOOP;
END
$$;

-- A concurrent command (CREATE INDEX / REINDEX … CONCURRENTLY, DETACH PARTITION … CONCURRENTLY;
-- not DROP INDEX CONCURRENTLY, which must be its transaction's first write) commits its first part before it ends; canceled or failing after that, it leaves that
-- part (an INVALID index, a pending detach) and its ddl_command_end never fires. So at its start (the
-- gate, src/ledger/drift_begun.rs, resolves its names as the caller and passes the table by OID) it
-- is recorded once more, with "phase": "begun": written in its first transaction, committed with its
-- first part. A command that ends is recorded at its end too.
CREATE FUNCTION revos.drift_begun_run(tg_tag text, rel oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_nsp  text;
    v_name text;
BEGIN
    IF revos.drift_paused() OR NOT revos.drift_is_managed(rel) THEN
        RETURN;
    END IF;
    SELECT n.nspname, c.relname INTO v_nsp, v_name
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
    IF v_name IS NULL THEN
        RETURN;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = 'revos.events'::regclass
                  AND t.tgname = 'events_chain' AND t.tgenabled = 'D') THEN
        RAISE WARNING 'revos: the triggers of revos.events are disabled: % CONCURRENTLY on %.% is not recorded and the ledger is not tamper-protected',
            tg_tag, quote_ident(v_nsp), quote_ident(v_name);
        RETURN;
    END IF;
    INSERT INTO revos.events (id, tenant_id, event_type, subject_type, subject_id, actor_id, payload)
    VALUES (NULL, NULL, 'schema_drift_detected', 'table', quote_ident(v_nsp) || '.' || quote_ident(v_name),
            revos.drift_actor(),
            jsonb_build_object('command_tag', tg_tag, 'phase', 'begun', 'concurrently', true,
                               'object_type', 'table',
                               'object_identity', quote_ident(v_nsp) || '.' || quote_ident(v_name),
                               'schema', v_nsp, 'table', v_name));
END
$$;

REVOKE EXECUTE ON FUNCTION revos.drift_begun_run(text, oid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.drift_part_table(oid, oid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.drift_tables_of(oid, oid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.drift_dependents(oid, oid) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION revos.drift_marker_trusted(oid) FROM PUBLIC;
-- ALWAYS (sql/ledger.sql): session_replication_role = replica skipped the capture (the drift review of d9c3a68, H1)
ALTER EVENT TRIGGER revos_drift_start ENABLE ALWAYS;
ALTER EVENT TRIGGER revos_drift ENABLE ALWAYS;
ALTER EVENT TRIGGER revos_drift_drop ENABLE ALWAYS;
REVOKE EXECUTE ON FUNCTION revos.drift_record_table(text, text, text, oid) FROM PUBLIC;

-- Issue 17: what verify_shards runs on a worker is a function of revos's own (nothing resolves through
-- that connection's search_path); it compares deparsed defaults and index predicates (issue 19).
CREATE FUNCTION revos.shard_shape(rel pg_catalog.regclass) RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT concat_ws(' | ',
      (SELECT string_agg(a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                         || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                         || coalesce(' default ' || (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef d
                                                      WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum), ''), ', ' ORDER BY a.attnum)
         FROM pg_catalog.pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped),
      (SELECT string_agg(x, ', ' ORDER BY x) FROM (
         SELECT c.contype::text || '(' || (SELECT string_agg(a.attname, ',' ORDER BY k.o) FROM unnest(c.conkey) WITH ORDINALITY k(n, o)
                                      JOIN pg_catalog.pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n) || ')'
                || CASE WHEN c.contype = 'c' THEN ' ' || pg_catalog.pg_get_constraintdef(c.oid) ELSE '' END AS x
           FROM pg_catalog.pg_constraint c WHERE c.conrelid = rel) cs),
      (SELECT string_agg(x, ', ' ORDER BY x) FROM (
         SELECT CASE WHEN i.indisunique THEN 'unique ' ELSE '' END || '(' || i.indkey::text || ')'
                || coalesce(' where ' || pg_catalog.pg_get_expr(i.indpred, i.indrelid), '') AS x
           FROM pg_catalog.pg_index i WHERE i.indrelid = rel) ix),
      (SELECT 'rls ' || c.relrowsecurity || ' force ' || c.relforcerowsecurity FROM pg_catalog.pg_class c WHERE c.oid = rel),
      (SELECT string_agg(p.polname || ' ' || p.polcmd::text || CASE WHEN p.polpermissive THEN ' permissive' ELSE ' restrictive' END
                         || ' to ' || (SELECT string_agg(CASE WHEN r.r = 0 THEN 'public' ELSE pg_catalog.quote_ident(a.rolname) END, ',' ORDER BY 1)
                                         FROM pg_catalog.unnest(p.polroles) r(r) LEFT JOIN pg_catalog.pg_roles a ON a.oid = r.r)
                         || ' ' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '-')
                         || ' ' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '-'), ', ' ORDER BY p.polname)
         FROM pg_catalog.pg_policy p WHERE p.polrelid = rel),
      (SELECT string_agg(pg_catalog.regexp_replace(t.tgname, '_[0-9]+$', '') || ' ' || t.tgenabled::text || ' '
                         || t.tgtype::text || ' ' || t.tgfoid::pg_catalog.regprocedure::text
                         || CASE WHEN t.tgqual IS NULL THEN '' ELSE ' when' END, ', ' ORDER BY t.tgname)
         FROM pg_catalog.pg_trigger t WHERE t.tgrelid = rel AND NOT t.tgisinternal),
      (SELECT string_agg('rule ' || r.rulename || ' ' || r.ev_type::text || CASE WHEN r.is_instead THEN ' instead' ELSE '' END
                         || ' ' || r.ev_enabled::text, ', ' ORDER BY r.rulename)
         FROM pg_catalog.pg_rewrite r WHERE r.ev_class = rel AND r.rulename <> '_RETURN'))
$$;

CREATE OR REPLACE FUNCTION revos.verify_shards() RETURNS jsonb
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shape      text := $s$SELECT revos.shard_shape('%1$s'::pg_catalog.regclass)$s$;
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
        want := revos.shard_shape(r.rel);
        FOR s IN EXECUTE 'SELECT shardid, nodename, nodeport, success, result FROM pg_catalog.run_command_on_placements($1, $2)'
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
REVOKE ALL ON FUNCTION revos.shard_shape(regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.shard_shape(regclass) TO revos_admin;

-- Issue 19: the scratch schema for apply's shadows when the caller has no TEMP privilege.
CREATE SCHEMA revos_shadow;
REVOKE ALL ON SCHEMA revos_shadow FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA revos_shadow TO revos_admin;

-- Issue 19: the property table.
CREATE FUNCTION revos.property_table() RETURNS jsonb
    IMMUTABLE PARALLEL SAFE LANGUAGE c AS 'MODULE_PATHNAME', 'property_table_wrapper';
COMMENT ON FUNCTION revos.property_table() IS
    'The property table: every declared property apply compares, how it is read and compared, what a difference becomes, how it is verified.';
REVOKE ALL ON FUNCTION revos.property_table() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.property_table() TO revos_admin;

-- issue 25: type_sql keeps the modifier of an extension's type (pgvector's vector(20)).
CREATE OR REPLACE FUNCTION revos.type_sql(typ oid, typmod integer) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE
             WHEN base.typnamespace = 'pg_catalog'::regnamespace THEN format_type(typ, typmod)
             ELSE '"' || replace(n.nspname, '"', '""') || '"."' || replace(base.typname, '"', '""') || '"'
                  -- a modifier of an extension's type (pgvector's vector(20)), as the type prints it
                  || CASE WHEN typmod >= 0
                          THEN substr(format_type(base.oid, typmod), length(format_type(base.oid, NULL)) + 1)
                          ELSE '' END
                  || CASE WHEN base.oid <> t.oid THEN '[]' ELSE '' END
           END
      FROM pg_type t
      JOIN pg_type base ON base.oid = CASE WHEN t.typcategory = 'A' AND t.typelem <> 0 THEN t.typelem ELSE t.oid END
      JOIN pg_namespace n ON n.oid = base.typnamespace
     WHERE t.oid = typ
$$;

-- Issue 20: set_tenant is C (src/tenant.rs): it refuses a tenant the tenant tables' type cannot hold
-- and warns outside a transaction block.
CREATE OR REPLACE FUNCTION revos.set_tenant(tenant text) RETURNS text
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'set_tenant_wrapper';
COMMENT ON FUNCTION revos.set_tenant(text) IS
    'Sets the tenant for the current transaction only (SET LOCAL app.current_tenant_id; propagated to Citus workers). Refuses a value the tenant tables cannot hold; warns outside a transaction block. NULL clears it.';

-- Issue 23: online changes. Deferred steps of an online apply, run after its commit by revos's
-- deferred worker (a copy of sql/deferred.sql), and revos.deferred_status() (src/api.rs).
CREATE TABLE revos.deferred_steps (
    id               bigint GENERATED BY DEFAULT AS IDENTITY (SEQUENCE NAME revos.deferred_steps_id_seq) PRIMARY KEY,
    migration_id     uuid NOT NULL,
    version          text NOT NULL,
    tenant_id        text,
    chain            integer NOT NULL,
    kind             text NOT NULL,
    schema_name      text NOT NULL,
    table_name       text NOT NULL,
    sql              text NOT NULL,
    lock             text,
    completion       jsonb NOT NULL,
    cleanup          jsonb,
    role_oid         oid NOT NULL,
    role_name        text NOT NULL,
    lock_timeout_ms  integer NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'running', 'done', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    worker_pid       integer,
    started_at       timestamptz,
    finished_at      timestamptz,
    error_message    text,
    sqlstate         text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- a batched backfill's progress, written with each batch's commit: {"rows", "batches", "pass",
    -- "next_page", "end_page", "batch_pages"} (src/deferred/backfill.rs); NULL for other steps
    progress         jsonb,
    -- the apply's settings the worker reads the step under (DateStyle, TimeZone, ...:
    -- src/deferred/settings.rs), not the database's or the role's defaults
    settings         jsonb
);
COMMENT ON TABLE revos.deferred_steps IS
    'Steps of an online apply run after its commit by revos''s deferred worker: pending, running, done or failed. Written only by revos.';
CREATE INDEX deferred_steps_migration_idx ON revos.deferred_steps (migration_id, id);
CREATE INDEX deferred_steps_open_idx ON revos.deferred_steps (role_oid, id)
    WHERE status IN ('pending', 'running');
-- Kept by pg_dump / pg_restore like the ledgers (a restored pending step is run by the next worker).
SELECT pg_catalog.pg_extension_config_dump('revos.deferred_steps', '');
SELECT pg_catalog.pg_extension_config_dump('revos.deferred_steps_id_seq', '');

-- One event per status a step takes, written only for rows revos itself writes (writing_ledger(),
-- the phase apply and the deferred worker set around their writes as the ledgers' owner): a row the
-- owner inserts by hand or a restore replays writes no event. A step that was running when its
-- worker died and is put back to pending is 'interrupted'.
CREATE FUNCTION revos.deferred_step_event() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_RELID <> 'revos.deferred_steps'::regclass THEN
        RAISE EXCEPTION 'revos.deferred_step_event() is the trigger of revos.deferred_steps only'
            USING ERRCODE = '42501';
    END IF;
    IF NOT revos.writing_ledger() THEN
        PERFORM revos.note_restore();
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.status = OLD.status THEN
        RETURN NULL;
    END IF;
    INSERT INTO revos.events (id, tenant_id, event_type, subject_type, subject_id, actor_id, payload)
    VALUES (
        NULL,
        nullif(NEW.tenant_id, ''),
        'schema_deferred_step_' || CASE WHEN TG_OP = 'UPDATE' AND OLD.status = 'running' AND NEW.status = 'pending'
                                        THEN 'interrupted' ELSE NEW.status END,
        'deferred_step',
        NEW.id::text,
        NEW.role_name,
        jsonb_build_object(
            'step_id',       NEW.id,
            'migration_id',  NEW.migration_id,
            'version',       NEW.version,
            'kind',          NEW.kind,
            'table',         NEW.schema_name || '.' || NEW.table_name,
            'sql',           NEW.sql,
            'status',        NEW.status,
            'attempts',      NEW.attempts,
            'started_at',    NEW.started_at,
            'finished_at',   NEW.finished_at,
            'error_message', NEW.error_message,
            'sqlstate',      NEW.sqlstate,
            'progress',      NEW.progress));
    RETURN NULL;
END
$$;

CREATE TRIGGER deferred_steps_event AFTER INSERT OR UPDATE ON revos.deferred_steps
    FOR EACH ROW EXECUTE FUNCTION revos.deferred_step_event();

REVOKE EXECUTE ON FUNCTION revos.deferred_step_event() FROM PUBLIC;

CREATE FUNCTION revos.deferred_status(version text DEFAULT NULL) RETURNS jsonb
    VOLATILE PARALLEL UNSAFE LANGUAGE c AS 'MODULE_PATHNAME', 'deferred_status_wrapper';
COMMENT ON FUNCTION revos.deferred_status(text) IS
    'Deferred steps of online applies (all, or one version''s): pending, running, done, failed, interrupted; starts a worker where steps wait without one.';
REVOKE ALL ON revos.deferred_steps FROM PUBLIC;
GRANT SELECT ON revos.deferred_steps TO revos_admin;
REVOKE ALL ON FUNCTION revos.deferred_status(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION revos.deferred_status(text) TO revos_admin;

-- Issue 23: the deferred steps' events are revos's own: log_event refuses them like the migration and
-- drift events (a copy of sql/ledger.sql's log_event_reject; src/ledger/log_event.rs RESERVED).
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
    ELSIF v_type IN ('schema_migration_applied', 'schema_migration_failed', 'schema_drift_detected',
                    'schema_deferred_step_pending', 'schema_deferred_step_running', 'schema_deferred_step_done',
                    'schema_deferred_step_failed', 'schema_deferred_step_interrupted') THEN
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

-- The membership tenancy mode (issue 25): the user of a request, the JWT's sub claim. C
-- (src/user.rs), like current_tenant_id(); every membership policy calls it.
CREATE FUNCTION revos.current_user_id() RETURNS text
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'current_user_id_wrapper';
COMMENT ON FUNCTION revos.current_user_id() IS
    'User of this request: request.jwt.claim.sub, else the sub claim of request.jwt.claims; NULL when unset.';
GRANT EXECUTE ON FUNCTION revos.current_user_id() TO PUBLIC;

-- The batched backfill of a column added online (issue 23, src/deferred/backfill.rs): the
-- deferred worker's batches leave updated_at as it was. revos.backfilling() (src/api.rs) reads a
-- flag of the worker's process that no SQL can set.
CREATE FUNCTION revos.backfilling() RETURNS boolean
    VOLATILE PARALLEL RESTRICTED LANGUAGE c AS 'MODULE_PATHNAME', 'backfilling_wrapper';
COMMENT ON FUNCTION revos.backfilling() IS
    'Whether this process runs a batch of revos''s deferred backfill (touch_updated_at then leaves updated_at as it was); set only by revos''s deferred worker, never by SQL.';
CREATE OR REPLACE FUNCTION revos.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- a batch of revos's deferred backfill fills a column added online: the row's updated_at
    -- stays (revos.backfilling() reads a flag of the worker's process that no SQL can set)
    IF revos.backfilling() THEN
        RETURN NEW;
    END IF;
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

-- The tenants of this request (the claims tenancy mode, issue 25): the JWT claim array tenant_ids
-- of request.jwt.claims (top level, else app_metadata), else current_tenant_id() as one element,
-- else empty. C (src/tenant_ids.rs), PARALLEL SAFE, never an error.
CREATE FUNCTION revos.current_tenant_ids() RETURNS text[]
LANGUAGE c STABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'current_tenant_ids_wrapper';
COMMENT ON FUNCTION revos.current_tenant_ids() IS
    'Tenants of this request: the request.jwt.claims array tenant_ids (or app_metadata.tenant_ids), else current_tenant_id(); empty when none.';
GRANT EXECUTE ON FUNCTION revos.current_tenant_ids() TO PUBLIC;

-- The chain heads keep the hash of their last event ('<last_id>:<hash>'; src/ledger/chain_head.rs):
-- written for the heads there by the statement below.
ALTER TABLE revos.event_chain_heads ADD COLUMN last_hash text;

-- Five or six chain heads a page instead of all on one (sql/ledger.sql says why): the fillfactor for
-- new heads, and the heads there are written again so that they take it too, each with its last
-- event's hash (the width it will have; where it goes is decided when it is inserted). In one
-- statement: each row deleted, then inserted with the same values; the old versions go at the next
-- vacuum.
ALTER TABLE revos.event_chain_heads SET (fillfactor = 10);
WITH old AS (DELETE FROM revos.event_chain_heads RETURNING chain, last_id, prev_id)
INSERT INTO revos.event_chain_heads (chain, last_id, prev_id, last_hash)
SELECT o.chain, o.last_id, o.prev_id, o.last_id::text || ':' || e.hash
  FROM old o LEFT JOIN revos.events e ON e.id = o.last_id;
-- the restore branch writes a head's last_hash too (its full width from the start)
CREATE OR REPLACE FUNCTION revos.events_chain_restore(r revos.events) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_chain   pg_catalog.text := CASE WHEN r.tenant_id IS NULL THEN 'global'
                                      ELSE 'tenant:' OPERATOR(pg_catalog.||) r.tenant_id END;
    v_prev_id bigint;
    v_prev    pg_catalog.text;
    v_other   bigint;
BEGIN
    -- the head keeps the restored event's hash as its last_hash (what the next event would read from
    -- revos.events), so that it has its full width from the start (fillfactor: five or six heads a page)
    INSERT INTO revos.event_chain_heads AS h (chain, last_id, prev_id, last_hash)
    VALUES (v_chain, r.id, NULL, r.id::pg_catalog.text OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) r.hash)
    ON CONFLICT (chain) DO UPDATE
        SET prev_id = h.last_id, last_id = greatest(h.last_id, r.id),
            last_hash = CASE WHEN h.last_id IS NULL OR r.id OPERATOR(pg_catalog.>) h.last_id THEN excluded.last_hash
                             ELSE h.last_hash END
    RETURNING h.prev_id INTO v_prev_id;
    IF v_prev_id IS NULL THEN
        v_prev := pg_catalog.repeat('0', 64);
        -- no head (or one without its last event): the chain starts here, unless events of it are in
        -- revos.events already (its head lost, deleted or emptied): then this row starts it a second
        -- time — kept, as every restored row, and warned (a live event there is refused:
        -- src/ledger/fork_guard.rs). In a restore this runs at each chain's first row, while the
        -- table grows: planned on each call (EXECUTE), never a plan kept from when it was small,
        -- and in events_tenant_id_idx's order, so the index answers it (the review of c93d189).
        IF r.tenant_id IS NULL THEN
            EXECUTE 'SELECT e.id FROM revos.events e WHERE e.tenant_id IS NULL
                      ORDER BY e.tenant_id, e.id LIMIT 1' INTO v_other;
        ELSE
            EXECUTE 'SELECT e.id FROM revos.events e WHERE e.tenant_id OPERATOR(pg_catalog.=) $1
                      ORDER BY e.tenant_id, e.id LIMIT 1' INTO v_other USING r.tenant_id;
        END IF;
        IF v_other IS NOT NULL THEN
            RAISE WARNING 'revos: restored event % starts chain % again: it has events in revos.events but its head was missing or empty; kept as it is (revos.verify_ledger() reports it)',
                r.id, v_chain;
        END IF;
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

-- The roles an apply trusts besides the superusers and the applying role itself (docs/security.md,
-- "Trusted roles"): what a payload's statements may depend on and run, and whose schemas its tables
-- may live in, must be owned by one of them. Membership does not count (a group's admin can put its
-- own objects under the group and leave it; a login role can be used by whoever logs in as it): a
-- role is trusted only when the extension's owner lists it here. Readable by everyone; written only
-- by the extension's owner. Not kept by pg_dump: roles belong to the cluster, and a dropped role's
-- OID would be read as another role in the cluster a dump is restored into — list them again there.
CREATE TABLE revos.trusted_roles (
    role      pg_catalog.regrole PRIMARY KEY,
    note      text,
    added_by  name NOT NULL DEFAULT CURRENT_USER,
    added_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);
COMMENT ON TABLE revos.trusted_roles IS
    'Roles whose objects an apply may depend on and run, besides superusers and the applying role. Written only by the extension owner.';

-- Who may write the tables whose rows revos trusts — the ledger, the payload memo, the managed
-- tables, the deferred steps the worker runs, the trusted roles: their owner (revos writes them as
-- the extension's owner) and superusers (a dump being restored), whatever privileges say. A row
-- written while another role could write a table stayed after the privilege was revoked, and was
-- trusted (the twelfth adversarial review, T: a deferred step forged by a pg_write_all_data member
-- ran as the superuser it named). ENABLE ALWAYS: a replica's apply and session_replication_role do
-- not skip them. revos.events' chain trigger makes the same check (its INSERT must have no other
-- trigger: src/ledger/direct_insert.rs). The chain heads have the guard too (the thirteenth review,
-- F1: a forged or deleted head broke the next event's chain); revos moves them without the executor
-- (src/ledger/chain_head.rs), making the guard's check itself.
CREATE FUNCTION revos.written_by_revos() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'written_by_revos_wrapper';
COMMENT ON FUNCTION revos.written_by_revos() IS
    'Trigger: only the table''s owner (as whom revos writes) or a superuser may write revos''s own tables (src/ledger/written_by_revos.rs).';
DO $guard$
DECLARE
    t pg_catalog.text;
BEGIN
    FOREACH t IN ARRAY ARRAY['schema_migrations', 'payload_memo', 'managed_tables', 'deferred_steps', 'trusted_roles', 'event_chain_heads'] LOOP
        EXECUTE pg_catalog.format('CREATE TRIGGER written_by_revos BEFORE INSERT OR UPDATE OR DELETE ON revos.%I
                                       FOR EACH ROW EXECUTE FUNCTION revos.written_by_revos()', t);
        EXECUTE pg_catalog.format('CREATE TRIGGER written_by_revos_truncate BEFORE TRUNCATE ON revos.%I
                                       FOR EACH STATEMENT EXECUTE FUNCTION revos.written_by_revos()', t);
        EXECUTE pg_catalog.format('ALTER TABLE revos.%I ENABLE ALWAYS TRIGGER written_by_revos', t);
        EXECUTE pg_catalog.format('ALTER TABLE revos.%I ENABLE ALWAYS TRIGGER written_by_revos_truncate', t);
    END LOOP;
END
$guard$;
-- the chain trigger too: in a session with session_replication_role = replica (a replica's apply),
-- an ordinary trigger does not fire, and a row would go in unchecked and unchained
ALTER TABLE revos.events ENABLE ALWAYS TRIGGER events_chain;

-- Default privileges (ALTER DEFAULT PRIVILEGES FOR ROLE <the installing role> GRANT … TO some_role) reach
-- the schemas, tables, sequences and functions this script creates: such a role could write revos's
-- ledgers, its payload memo, the deferred steps the worker runs or revos.trusted_roles, or create in
-- schema revos, which revos's own search_path reads (the tenth and eleventh adversarial reviews, P1,
-- S, D). So: the tables', sequences' and schemas' privileges are reset to exactly what revos grants
-- (every grant to another role than the owner revoked, PUBLIC, revos_admin and revos_app included,
-- then the intended ones again); so are the functions' (F, the twelfth review: EXECUTE that default
-- privileges gave revos_admin on revos.note_restore() let a member switch the drift capture off for
-- its session) — a function nobody granted or revoked has PUBLIC's default EXECUTE, revoked too.
DO $revoke$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT DISTINCT pg_catalog.format('%s %s', k.what, k.obj) AS obj, a.grantee
          FROM (SELECT CASE WHEN c.relkind OPERATOR(pg_catalog.=) 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS what,
                       c.oid::pg_catalog.regclass::pg_catalog.text AS obj, c.relacl AS acl, c.relowner AS owner
                  FROM pg_catalog.pg_class c
                 WHERE c.relnamespace OPERATOR(pg_catalog.=) 'revos'::pg_catalog.regnamespace
                   AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r', 'p', 'v', 'm', 'S']::"char"[])
                UNION ALL
                SELECT 'SCHEMA', pg_catalog.quote_ident(n.nspname::pg_catalog.text), n.nspacl, n.nspowner
                  FROM pg_catalog.pg_namespace n
                 WHERE n.nspname OPERATOR(pg_catalog.=) ANY (ARRAY['revos', 'revos_shadow']::pg_catalog.name[])
                UNION ALL
                SELECT 'ROUTINE', p.oid::pg_catalog.regprocedure::pg_catalog.text,
                       COALESCE(p.proacl, pg_catalog.acldefault('f', p.proowner)), p.proowner
                  FROM pg_catalog.pg_proc p
                 WHERE p.pronamespace OPERATOR(pg_catalog.=) 'revos'::pg_catalog.regnamespace) k,
               pg_catalog.aclexplode(k.acl) a
         WHERE a.grantee OPERATOR(pg_catalog.<>) k.owner
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %s', g.obj,
            CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                 ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)::pg_catalog.text) END);
    END LOOP;
END
$revoke$;
-- what revos grants (pg_test/expected/ledger_trust.out lists it)
GRANT EXECUTE ON FUNCTION revos.current_tenant_id(), revos.current_tenant_ids(), revos.current_user_id(),
    revos.jwt_claims_tenant(text), revos.set_tenant(text), revos.pre_request(), revos.backfilling() TO PUBLIC;
GRANT EXECUTE ON FUNCTION revos.apply_schema(jsonb), revos.plan_schema(jsonb), revos.tenant_table(text, jsonb, jsonb),
    revos.deferred_status(text), revos.event_hash(revos.events), revos.log_event(jsonb), revos.property_table(),
    revos.shard_shape(regclass), revos.touch_updated_at(), revos.type_sql(oid, integer), revos.verify_ledger(text),
    revos.verify_shards() TO revos_admin;
GRANT EXECUTE ON FUNCTION revos.log_event(jsonb) TO revos_app;
GRANT USAGE ON SCHEMA revos TO PUBLIC;
GRANT USAGE, CREATE ON SCHEMA revos_shadow TO revos_admin;
GRANT SELECT ON revos.schema_migrations, revos.events, revos.payload_memo, revos.deferred_steps TO revos_admin;
GRANT SELECT ON revos.trusted_roles TO PUBLIC;

-- log_event_time's pattern is read with standard strings whatever the first caller's session had
-- (the review of 7ebc593, F): as sql/ledger.sql creates it
ALTER FUNCTION revos.log_event_time(text) SET standard_conforming_strings = on;
-- an occurred_at before the year 1 (UTC) is refused: the hash's encoding has no era (the drift review of d9c3a68, L1)
CREATE OR REPLACE FUNCTION revos.log_event_time(v text) RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET standard_conforming_strings = on
AS $$
DECLARE
    t timestamptz;
BEGIN
    IF v !~ '^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)?$' THEN
        RAISE EXCEPTION 'revos.log_event: occurred_at "%" is not an ISO 8601 timestamp', v
            USING ERRCODE = '22023';
    END IF;
    t := v::timestamptz;
    -- the hash's encoding (to_char 'YYYY-…' in UTC) has no era: an instant before the year 1 in UTC
    -- ("0001-01-01T00:00:00+14") would read as its twin after Christ (the drift review of d9c3a68, L1)
    IF t < '0001-01-01 00:00:00+00'::timestamptz THEN
        RAISE EXCEPTION 'revos.log_event: occurred_at "%" is before the year 1 (UTC)', v
            USING ERRCODE = '22023';
    END IF;
    RETURN t;
EXCEPTION
    WHEN invalid_parameter_value THEN
        RAISE;
    WHEN others THEN
        RAISE EXCEPTION 'revos.log_event: occurred_at "%" is not a valid timestamp', v
            USING ERRCODE = '22023';
END
$$;
