-- revos 0.2.0 -> 0.3.0 (ALTER EXTENSION revos UPDATE). tests/upgrade.sh checks that the result equals
-- a fresh 0.3.0 install, object for object, and that every row is kept. Function bodies are copies of
-- sql/ledger.sql and src/ (the test fails when they differ).
\echo Use "ALTER EXTENSION revos UPDATE TO '0.3.0'" to load this file. \quit

-- Issue 17: drift capture cannot be muted. The workers no longer turn their errors into warnings (a
-- command the ledger cannot record fails); the C gate finds them by OID (src/drift_gate.rs).
ALTER FUNCTION revos.events_chain_restore(revos.events) SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION revos.drift_paused() IS
    'Internal (drift capture): true while the DDL command under way is one of revos''s own planned statements, after this session restored ledger rows, or on a Citus worker.';

CREATE OR REPLACE FUNCTION revos.drift_snapshot_run(tg_tag text) RETURNS void
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
    END;
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
    END;
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
    END;
END
$$;

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
      (SELECT string_agg(p.polname || ' ' || p.polcmd::text || ' ' || coalesce(pg_catalog.pg_get_expr(p.polqual, p.polrelid), '-')
                         || ' ' || coalesce(pg_catalog.pg_get_expr(p.polwithcheck, p.polrelid), '-'), ', ' ORDER BY p.polname)
         FROM pg_catalog.pg_policy p WHERE p.polrelid = rel),
      (SELECT string_agg(pg_catalog.regexp_replace(t.tgname, '_[0-9]+$', ''), ', ' ORDER BY t.tgname) FROM pg_catalog.pg_trigger t
        WHERE t.tgrelid = rel AND NOT t.tgisinternal))
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
