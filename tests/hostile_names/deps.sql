-- tests/hostile_names.sh: every dependency of an object outside the attacker's schemas (those of
-- hlog.lookalikes, any pg_temp_N, hlog) on an object inside one of them or a pg_temp_N schema: a default, check, policy,
-- trigger, index, column type ... that revos created and that now calls or uses a look-alike.
-- Run inside the attacking session right after the call (its temp objects still exist; they are
-- dropped, CASCADE, when it ends), under search_path = pg_catalog, pg_temp. Prints
-- "DEPS|<case>|<object> -> <referenced object>" lines; :case is a psql variable.
WITH d AS (
    SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid, d.refobjsubid,
           CASE d.classid
             WHEN 'pg_class'::regclass THEN (SELECT c.relnamespace FROM pg_class c WHERE c.oid = d.objid)
             WHEN 'pg_attrdef'::regclass THEN (SELECT c.relnamespace FROM pg_attrdef a JOIN pg_class c ON c.oid = a.adrelid WHERE a.oid = d.objid)
             WHEN 'pg_constraint'::regclass THEN (SELECT coalesce(c.relnamespace, t.typnamespace) FROM pg_constraint k
                                                   LEFT JOIN pg_class c ON c.oid = k.conrelid LEFT JOIN pg_type t ON t.oid = k.contypid
                                                  WHERE k.oid = d.objid)
             WHEN 'pg_policy'::regclass THEN (SELECT c.relnamespace FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid WHERE p.oid = d.objid)
             WHEN 'pg_trigger'::regclass THEN (SELECT c.relnamespace FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE t.oid = d.objid)
             WHEN 'pg_rewrite'::regclass THEN (SELECT c.relnamespace FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class WHERE r.oid = d.objid)
             WHEN 'pg_type'::regclass THEN (SELECT t.typnamespace FROM pg_type t WHERE t.oid = d.objid)
             WHEN 'pg_proc'::regclass THEN (SELECT p.pronamespace FROM pg_proc p WHERE p.oid = d.objid)
             WHEN 'pg_operator'::regclass THEN (SELECT o.oprnamespace FROM pg_operator o WHERE o.oid = d.objid)
           END AS dep_nsp,
           CASE d.refclassid
             WHEN 'pg_proc'::regclass THEN (SELECT p.pronamespace FROM pg_proc p WHERE p.oid = d.refobjid)
             WHEN 'pg_operator'::regclass THEN (SELECT o.oprnamespace FROM pg_operator o WHERE o.oid = d.refobjid)
             WHEN 'pg_type'::regclass THEN (SELECT t.typnamespace FROM pg_type t WHERE t.oid = d.refobjid)
             WHEN 'pg_class'::regclass THEN (SELECT c.relnamespace FROM pg_class c WHERE c.oid = d.refobjid)
             WHEN 'pg_collation'::regclass THEN (SELECT c.collnamespace FROM pg_collation c WHERE c.oid = d.refobjid)
             WHEN 'pg_namespace'::regclass THEN d.refobjid
           END AS ref_nsp
      FROM pg_depend d
     WHERE d.deptype IN ('n', 'a')
)
SELECT 'DEPS|' || :'case' || '|' || pg_describe_object(d.classid, d.objid, d.objsubid)
       || ' -> ' || pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
  FROM d JOIN pg_namespace rn ON rn.oid = d.ref_nsp
  LEFT JOIN pg_namespace dn ON dn.oid = d.dep_nsp
 WHERE (rn.nspname IN (SELECT l.schema_name FROM hlog.lookalikes l) OR rn.nspname LIKE 'pg\_temp\_%')
   AND (dn.nspname IS NULL OR NOT (dn.nspname IN (SELECT l.schema_name FROM hlog.lookalikes l UNION SELECT 'hlog')
                                   OR dn.nspname LIKE 'pg\_temp\_%'))
 ORDER BY 1;
