-- tests/hostile_names.sh: what both databases get (run as a superuser, after CREATE EXTENSION revos).
--   hlog.note(what)   the look-alikes' logger: RAISE NOTICE 'HOSTILE<tab>current_user<tab>session_user<tab>what<tab>phase'
--                     (phase = the setting hostile.phase, set by the suite right before each call).
--                     A NOTICE, not a row: it reaches the client even when revos rolls back the
--                     subtransaction the look-alike ran in (an escalation there is still an
--                     escalation), and it works inside IMMUTABLE functions and CHECK expressions.
--                     Each (what, current_user, phase) is reported once per session.
--   mal               the attacker's schema (owned by hn_admin, usable by everyone); and one named
--                     after the ledger's owner (variant us: search_path "$user", pg_catalog)
--   hn_fns            functions the caller owns and calls schema-qualified (issue 17 item 3)
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
CREATE SCHEMA hlog;
GRANT USAGE ON SCHEMA hlog TO PUBLIC;
CREATE FUNCTION hlog.note(what pg_catalog.text) RETURNS pg_catalog.bool
LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF current_setting('hlog.s' || md5(what || '|' || current_user || '|'
                       || coalesce(current_setting('hostile.phase', true), '')), true) = '1' THEN
        RETURN true;
    END IF;
    PERFORM set_config('hlog.s' || md5(what || '|' || current_user || '|'
                       || coalesce(current_setting('hostile.phase', true), '')), '1', false);
    -- tab-separated: an operator's name may hold "|"
    RAISE NOTICE '%', format(E'HOSTILE\t%s\t%s\t%s\t%s', current_user, session_user, what,
                             coalesce(current_setting('hostile.phase', true), ''));
    RETURN true;
END
$$;
GRANT EXECUTE ON FUNCTION hlog.note(pg_catalog.text) TO PUBLIC;

-- the candidates extract.py found in revos's SQL text, and what was generated from them
CREATE TABLE hlog.candidates (kind pg_catalog.text, name pg_catalog.text);
CREATE TABLE hlog.lookalikes (schema_name pg_catalog.text, kind pg_catalog.text, label pg_catalog.text);
GRANT SELECT ON hlog.candidates TO PUBLIC;
GRANT SELECT, INSERT ON hlog.lookalikes TO hn_admin;

CREATE SCHEMA mal AUTHORIZATION hn_admin;
GRANT USAGE ON SCHEMA mal TO PUBLIC;
-- look-alikes in a schema named after the ledger's owner: "$user" in a search_path names it once
-- revos switches to that owner (hn_admin could create it itself: it has CREATE on the database)
SELECT pg_catalog.format('CREATE SCHEMA %I AUTHORIZATION hn_admin', c.relowner::pg_catalog.regrole)
  FROM pg_catalog.pg_class c WHERE c.oid = 'revos.schema_migrations'::pg_catalog.regclass \gexec
CREATE SCHEMA hn_fns AUTHORIZATION hn_admin;
GRANT USAGE ON SCHEMA hn_fns TO PUBLIC;
SELECT pg_catalog.format('GRANT CREATE ON DATABASE %I TO hn_admin', pg_catalog.current_database()) \gexec
