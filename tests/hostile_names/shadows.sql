-- tests/hostile_names.sh: prints the temp shadows an attacking session creates, one statement a
-- line after "1|" (domains) or "2|" (views); the suite saves each kind as a file that an attacking
-- session runs first, as itself.
--   * a temp domain named like each core type and each type revos's SQL casts to
--     (pg_temp is searched first for type names unless the search_path lists it explicitly);
--   * a temp view named like each catalog and revos table that revos's SQL reads (pg_temp is
--     searched first for relations too). A view, not an empty table: it returns what the real
--     catalog holds (results stay the same) and reports, through hlog.note(), who read it.
-- A domain's CHECK calls hlog.note() too: it runs whenever a value is cast to the domain.
-- Input: hlog.candidates (kinds t and r) and the psql variables core_types and core_relations.
\set ON_ERROR_STOP 1
SET search_path = pg_catalog, pg_temp;
WITH types AS (
    SELECT t.typname::text AS name FROM pg_type t
     WHERE t.typnamespace = 'pg_catalog'::regnamespace AND t.typtype IN ('b', 'r', 'm')
       AND t.typcategory <> 'A' AND t.typisdefined
       AND t.typname::text IN (SELECT c.name FROM hlog.candidates c WHERE c.kind = 't'
                               UNION SELECT unnest(string_to_array(:'core_types', ' ')))
), rels AS (
    SELECT n.nspname::text AS nsp, c.relname::text AS name,
           -- every column but those of a pseudo-type (pg_attribute.attmissingval is anyarray)
           (SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
              FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND ty.typtype <> 'p') AS cols
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname IN ('pg_catalog', 'revos') AND c.relkind IN ('r', 'v', 'p', 'm')
       AND c.relname::text IN (SELECT x.name FROM hlog.candidates x WHERE x.kind = 'r'
                               UNION SELECT unnest(string_to_array(:'core_relations', ' ')))
)
SELECT k || '|' || stmt FROM (
    SELECT 1 AS k, name, format('CREATE DOMAIN pg_temp.%I AS pg_catalog.%I CHECK (hlog.note(%L));',
                                name, name, 'temp domain pg_temp.' || name) AS stmt FROM types
    UNION ALL
    SELECT 2, name, format('CREATE TEMP VIEW %I AS SELECT %s FROM %I.%I WHERE (SELECT hlog.note(%L));',
                           name, cols, nsp, name, 'temp view pg_temp.' || name) FROM rels
) s ORDER BY k, name;
