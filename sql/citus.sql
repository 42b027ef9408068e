-- revos on Citus (contract §13, issue 12): every shard of every revos-managed Citus table has what its
-- table on the coordinator has. Needs no Citus to install; answers only where Citus is installed.

-- One table's shape as text, the same for a table and for each of its shards (shard names and the
-- names Citus derives from them are left out): columns (name, type, NOT NULL, the default as deparsed),
-- the constraints (kind and columns; a check's expression), indexes (unique, key columns, the
-- predicate as deparsed), the RLS flags, the policies (name, command, permissive, roles, USING, WITH
-- CHECK), the triggers (name — a shard's may carry the shard id as a suffix —, enabled, events, function,
-- whether it has a WHEN) and the rules. Run on the coordinator
-- for the table and, through run_command_on_placements, on each worker for each shard. A function of
-- revos's own, so that what runs on a worker is `SELECT revos.shard_shape('<shard>'::pg_catalog.regclass)`
-- and resolves nothing through that connection's search_path.
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

-- Compares every placement of every shard of the revos-managed Citus tables (a revos policy or
-- updated_at trigger) with its table on the coordinator, through run_command_on_placements (its own
-- connections: call it after the change committed). {ok, tables_checked, placements_checked,
-- mismatches: [{table, shardid, node, expected, got}]}; without Citus: ok, nothing checked.
CREATE FUNCTION revos.verify_shards() RETURNS jsonb
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
COMMENT ON FUNCTION revos.verify_shards() IS
    'Citus: every placement of every shard of the revos-managed tables has the columns, keys, indexes, RLS, policy and trigger of its table on the coordinator. Call after the change committed.';
