-- tests/hostile_names.sh: what revos created in the suite's schemas (hv_*, ho_*, hd_*), one line per
-- object, deparsed under search_path = pg_catalog (every name outside pg_catalog qualified):
-- tables and their RLS flags and owner, columns (type, NOT NULL, default / generated expression),
-- constraints, indexes, policies, triggers, types, comments.
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
    SELECT 'table ' || c.oid::regclass || ' kind=' || c.relkind::text || ' rls=' || c.relrowsecurity
           || ' force=' || c.relforcerowsecurity || ' owner=' || c.relowner::regrole
           || ' comment=' || coalesce(obj_description(c.oid, 'pg_class'), '-') AS x
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname ~ '^h[vod]_' AND c.relkind IN ('r', 'p')
    UNION ALL
    SELECT 'column ' || a.attrelid::regclass || '.' || quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' notnull=' || a.attnotnull || ' generated=' || a.attgenerated::text
           || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname ~ '^h[vod]_' AND c.relkind IN ('r', 'p')
       AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'constraint ' || k.conrelid::regclass || ' ' || quote_ident(k.conname) || ' ' || pg_get_constraintdef(k.oid)
      FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname ~ '^h[vod]_'
    UNION ALL
    SELECT 'index ' || pg_get_indexdef(i.indexrelid)
      FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname ~ '^h[vod]_'
    UNION ALL
    SELECT 'policy ' || p.polrelid::regclass || ' ' || quote_ident(p.polname) || ' cmd=' || p.polcmd::text
           || ' permissive=' || p.polpermissive || ' roles=' || p.polroles::regrole[]::text
           || ' using=' || coalesce(pg_get_expr(p.polqual, p.polrelid), '-')
           || ' check=' || coalesce(pg_get_expr(p.polwithcheck, p.polrelid), '-')
      FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname ~ '^h[vod]_'
    UNION ALL
    SELECT 'trigger ' || pg_get_triggerdef(t.oid)
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname ~ '^h[vod]_' AND NOT t.tgisinternal
    UNION ALL
    SELECT 'type ' || t.oid::regtype || ' ' || t.typtype::text || ' '
           || coalesce((SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '-')
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname ~ '^h[vod]_' AND t.typtype IN ('e', 'd')
    UNION ALL
    SELECT 'comment ' || a.attrelid::regclass || '.' || a.attname || ' ' || col_description(a.attrelid, a.attnum)
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname ~ '^h[vod]_' AND col_description(a.attrelid, a.attnum) IS NOT NULL
) s;
