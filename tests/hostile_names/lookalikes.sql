-- tests/hostile_names.sh: generates the look-alikes in the schema named by the psql variable
-- target (mal, or one named after the ledger's owner), as the attacker (hn_admin).
-- Input: hlog.candidates (extract.py's names, loaded by the suite). For every pg_catalog function
-- and operator whose name revos's SQL mentions, and for each of its overloads whose argument and
-- result types are concrete (no polymorphic, internal or other pseudo-type; void results allowed),
-- a look-alike with the same signature, volatility and strictness: it calls hlog.note() and then
-- returns what the pg_catalog original returns, so that every result stays the same. Aggregates,
-- window functions and procedures are skipped and counted. Output: one line per kind, "kind|count".
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SET search_path = pg_catalog, pg_temp;
SET check_function_bodies = on;
SELECT set_config('hostile.target', :'target', false) \g /dev/null

CREATE TEMP TABLE gen_result (kind text, n int);
-- every kind reported, 0 when nothing of it
INSERT INTO gen_result SELECT unnest(ARRAY['functions', 'operators', 'skipped_aggregates', 'skipped_window',
    'skipped_procedures', 'skipped_polymorphic_functions', 'skipped_polymorphic_operators',
    'skipped_unusable_types', 'failed']), 0;

-- CREATE FUNCTION <target>.<name>(<args>) for a look-alike: hlog.note(label), then BODY (the original).
CREATE FUNCTION pg_temp.lookalike_sql(name text, args text, result text, volatility "char", strict boolean,
                                      label text, body text) RETURNS text LANGUAGE sql AS $$
    SELECT format('CREATE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE sql %s %s PARALLEL UNSAFE AS %L',
                  current_setting('hostile.target'), name, args, result,
                  CASE volatility WHEN 'i' THEN 'IMMUTABLE' WHEN 's' THEN 'STABLE' ELSE 'VOLATILE' END,
                  CASE WHEN strict THEN 'STRICT' ELSE 'CALLED ON NULL INPUT' END,
                  format('SELECT hlog.note(%L); %s', label, body))
$$;
-- Runs the statements that make one look-alike; false (and a warning) when one fails.
CREATE FUNCTION pg_temp.make_lookalike(kind text, label text, stmts text[]) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    stmt text;
BEGIN
    FOREACH stmt IN ARRAY stmts LOOP
        EXECUTE stmt;
    END LOOP;
    INSERT INTO hlog.lookalikes VALUES (current_setting('hostile.target'), kind, label);
    RETURN true;
EXCEPTION WHEN others THEN
    RAISE WARNING 'look-alike of % not created: %', label, SQLERRM;
    RETURN false;
END
$$;

-- the functions
DO $gen$
DECLARE
    p     record;
    calls text;
    sel   text;
    label text;
BEGIN
    FOR p IN
        SELECT f.oid, f.proname, f.prokind, f.provolatile, f.proisstrict, f.proretset, f.pronargs,
               f.provariadic <> 0 AS variadic,
               pg_get_function_arguments(f.oid) AS args, pg_get_function_result(f.oid) AS res,
               pg_get_function_identity_arguments(f.oid) AS ident,
               f.proallargtypes IS NOT NULL AS has_out,
               EXISTS (SELECT 1 FROM unnest(coalesce(f.proallargtypes, f.proargtypes::oid[])) t(o)
                         JOIN pg_type ty ON ty.oid = t.o WHERE ty.typtype = 'p')
               OR EXISTS (SELECT 1 FROM pg_type ty WHERE ty.oid = f.prorettype AND ty.typtype = 'p'
                            AND ty.oid <> 'pg_catalog.void'::regtype
                            -- record is concrete when OUT parameters say what it holds
                            AND NOT (ty.oid = 'pg_catalog.record'::regtype AND f.proallargtypes IS NOT NULL)) AS pseudo,
               -- a type in a schema the attacker may not use (Citus's citus.distribution_type)
               EXISTS (SELECT 1 FROM unnest(coalesce(f.proallargtypes, f.proargtypes::oid[]) || f.prorettype) t(o)
                         JOIN pg_type ty ON ty.oid = t.o
                        WHERE NOT has_schema_privilege(ty.typnamespace, 'USAGE')) AS unusable
          FROM pg_proc f
         WHERE f.pronamespace = 'pg_catalog'::regnamespace
           AND f.proname IN (SELECT c.name FROM hlog.candidates c WHERE c.kind = 'f')
         ORDER BY f.proname, f.oid
    LOOP
        IF p.prokind = 'a' THEN INSERT INTO gen_result VALUES ('skipped_aggregates', 1); CONTINUE; END IF;
        IF p.prokind = 'w' THEN INSERT INTO gen_result VALUES ('skipped_window', 1); CONTINUE; END IF;
        IF p.prokind = 'p' THEN INSERT INTO gen_result VALUES ('skipped_procedures', 1); CONTINUE; END IF;
        IF p.pseudo THEN INSERT INTO gen_result VALUES ('skipped_polymorphic_functions', 1); CONTINUE; END IF;
        IF p.unusable THEN INSERT INTO gen_result VALUES ('skipped_unusable_types', 1); CONTINUE; END IF;
        SELECT string_agg(CASE WHEN p.variadic AND i = p.pronargs THEN 'VARIADIC ' ELSE '' END || '$' || i, ', '
                          ORDER BY i)
          INTO calls FROM generate_series(1, p.pronargs) i;
        sel := CASE WHEN p.proretset OR p.has_out
                    THEN format('SELECT * FROM pg_catalog.%I(%s)', p.proname, coalesce(calls, ''))
                    ELSE format('SELECT pg_catalog.%I(%s)', p.proname, coalesce(calls, '')) END;
        label := format('function %s(%s)', p.proname, p.ident);
        IF pg_temp.make_lookalike('function', label, ARRAY[pg_temp.lookalike_sql(
               p.proname, p.args, p.res, p.provolatile, p.proisstrict, label, sel)]) THEN
            INSERT INTO gen_result VALUES ('functions', 1);
        ELSE
            INSERT INTO gen_result VALUES ('failed', 1);
        END IF;
    END LOOP;
END
$gen$;

-- the operators
DO $gen$
DECLARE
    o      record;
    sel    text;
    label  text;
    fname  text;
    l      text;
    r      text;
BEGIN
    FOR o IN
        SELECT op.oid, op.oprname, op.oprkind, op.oprleft, op.oprright, op.oprresult,
               op.oprrest, op.oprjoin, pr.provolatile, pr.proisstrict,
               EXISTS (SELECT 1 FROM pg_type ty WHERE ty.oid IN (op.oprleft, op.oprright, op.oprresult)
                          AND ty.typtype = 'p') AS pseudo
          FROM pg_operator op JOIN pg_proc pr ON pr.oid = op.oprcode
         WHERE op.oprnamespace = 'pg_catalog'::regnamespace
           AND op.oprname IN (SELECT c.name FROM hlog.candidates c WHERE c.kind = 'o')
         ORDER BY op.oprname, op.oid
    LOOP
        IF o.pseudo THEN INSERT INTO gen_result VALUES ('skipped_polymorphic_operators', 1); CONTINUE; END IF;
        fname := 'op_' || o.oid;
        l := format_type(o.oprleft, NULL);
        r := format_type(o.oprright, NULL);
        IF o.oprkind = 'b' THEN
            label := format('operator %s(%s, %s)', o.oprname, l, r);
            sel := format('SELECT $1 OPERATOR(pg_catalog.%s) $2', o.oprname);
        ELSE
            label := format('operator %s(NONE, %s)', o.oprname, r);
            sel := format('SELECT OPERATOR(pg_catalog.%s) $1', o.oprname);
        END IF;
        IF pg_temp.make_lookalike('operator', label, ARRAY[
               pg_temp.lookalike_sql(fname, concat_ws(', ', CASE WHEN o.oprkind = 'b' THEN l END, r),
                                     format_type(o.oprresult, NULL), o.provolatile, o.proisstrict, label, sel),
               format('CREATE OPERATOR %I.%s (%s RIGHTARG = %s, FUNCTION = %I.%I%s%s)',
                      current_setting('hostile.target'), o.oprname,
                      CASE WHEN o.oprkind = 'b' THEN format('LEFTARG = %s,', l) ELSE '' END, r,
                      current_setting('hostile.target'), fname,
                      CASE WHEN o.oprrest <> 0 THEN ', RESTRICT = pg_catalog.' || o.oprrest::text ELSE '' END,
                      CASE WHEN o.oprjoin <> 0 THEN ', JOIN = pg_catalog.' || o.oprjoin::text ELSE '' END)]) THEN
            INSERT INTO gen_result VALUES ('operators', 1);
        ELSE
            INSERT INTO gen_result VALUES ('failed', 1);
        END IF;
    END LOOP;
END
$gen$;

SELECT kind || '|' || sum(n) FROM gen_result GROUP BY kind ORDER BY kind;
