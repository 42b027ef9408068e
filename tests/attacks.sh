#!/usr/bin/env bash
# An adversary's attempts on issue 17's fix ("no name the caller controls resolves inside revos",
# docs/security.md): every attempt is a check that asserts the attack FAILS — no escalation, no code
# run as another role, no unrecorded DDL on a revos-managed table, no cross-tenant row, no false ok.
# A FAIL line here is an attack that worked (see the adversary's report for the findings).
#
# The attackers (LOGIN roles, trust authentication of the test clusters):
#   atk_admin   a revos_admin member (a migration role: CREATE on the database and on public)
#   atk_owner   a plain role with CREATE on public (and TEMP, as PUBLIC has)
#   atk_app     a revos_app member (the application / PostgREST role: reads and writes tenant rows)
#   atk_admin2, atk_other   helpers (REASSIGN OWNED)
#
#   tests/attacks.sh DSN      DSN: a superuser connection; the installed revos build is used.
# Recreates the database attacks_test and the roles above.
set -uo pipefail
DSN=${1:?usage: tests/attacks.sh DSN}
. "$(dirname "$0")/lib.sh"
DB=attacks_test
T=$(db_dsn $DB)
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
T1=11111111-1111-1111-1111-111111111111
T2=22222222-2222-2222-2222-222222222222

q() { qdb "$T" "$@"; }                         # as the superuser
as() { local r=$1; shift; qdb "$T" "SET ROLE $r; $*"; } # one transaction, as role $1
as_login() { local r=$1; shift; qdb "${T/postgres@/$r@}" "$@"; } # a session of role $1 itself
mark() { q "SELECT coalesce(max(id), 0) FROM revos.events"; }
# drift events naming the table $1 (schema.table, as revos writes subject_id) after event id $2
# (the events of commands, not a concurrent command's record at its start: "phase": "begun", B32)
drift_on() { q "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected' AND subject_id = '$1' AND id > $2 AND NOT payload ? 'phase'"; }
# rows the look-alikes and spies logged (who|what), optionally only those matching $1
spied() { q "SELECT coalesce(string_agg(who || '|' || what, ',' ORDER BY n), '') FROM public.atk_log ${1:+WHERE $1}"; }
forget_spies() { q "TRUNCATE public.atk_log" >/dev/null; }
status_of() { sed -n 's/.*"status": "\([a-z]*\)".*/\1/p' <<<"$1" | head -1; }
# "status sqlstate" of an answer, or "status code" (its first validation error's) when it has no sqlstate
verdict_of() {
  local c
  c=$(sed -n 's/.*"sqlstate": "\([0-9A-Z]*\)".*/\1/p' <<<"$1" | head -1)
  [ -n "$c" ] || c=$(grep -o '"code": "[a-z_]*"' <<<"$1" | head -1 | sed 's/.*: "\(.*\)"/\1/')
  echo "$(status_of "$1") $c"
}
qual() { q "SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polrelid = '$1'::regclass AND polname = 'revos_tenant_isolation'"; }
# everything revos created on the tables $1 (a regclass[] literal) that depends on an object in a
# schema named in $2 (a text[] literal) or in a temporary schema
bound_to() { q "$(bound_sql "$@")"; }
bound_sql() {
  echo "SELECT count(*) FROM pg_depend d
       LEFT JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND ad.oid = d.objid
       LEFT JOIN pg_constraint co ON d.classid = 'pg_constraint'::regclass AND co.oid = d.objid
       LEFT JOIN pg_policy po ON d.classid = 'pg_policy'::regclass AND po.oid = d.objid
       LEFT JOIN pg_trigger tg ON d.classid = 'pg_trigger'::regclass AND tg.oid = d.objid
       LEFT JOIN pg_index ix ON d.classid = 'pg_class'::regclass AND ix.indexrelid = d.objid
       LEFT JOIN pg_proc rp ON d.refclassid = 'pg_proc'::regclass AND rp.oid = d.refobjid
       LEFT JOIN pg_operator ro ON d.refclassid = 'pg_operator'::regclass AND ro.oid = d.refobjid
       LEFT JOIN pg_type rt ON d.refclassid = 'pg_type'::regclass AND rt.oid = d.refobjid
       JOIN pg_namespace n ON n.oid = coalesce(rp.pronamespace, ro.oprnamespace, rt.typnamespace)
      WHERE coalesce(ad.adrelid, co.conrelid, po.polrelid, tg.tgrelid, ix.indrelid,
                     CASE WHEN d.classid = 'pg_class'::regclass THEN d.objid END) = ANY ('$1'::regclass[])
        AND (n.nspname = ANY ('$2'::text[]) OR n.nspname LIKE 'pg\_temp\_%')"
}

setup() {
  echo "# setup"
  fresh_db $DB
  psql -X -q -v ON_ERROR_STOP=1 -d "$DSN" >/dev/null 2>&1 <<'SQL' || die "cannot create the roles"
DROP ROLE IF EXISTS atk_admin; DROP ROLE IF EXISTS atk_admin2; DROP ROLE IF EXISTS atk_owner;
DROP ROLE IF EXISTS atk_app; DROP ROLE IF EXISTS atk_other;
CREATE ROLE atk_admin LOGIN; CREATE ROLE atk_admin2 LOGIN; CREATE ROLE atk_owner LOGIN;
CREATE ROLE atk_app LOGIN; CREATE ROLE atk_other NOLOGIN;
SQL
  out=$(q - <<SQL
CREATE EXTENSION revos;
GRANT revos_admin TO atk_admin, atk_admin2;
GRANT revos_app TO atk_app;
GRANT atk_other TO atk_admin2;
GRANT CREATE ON DATABASE $DB TO atk_admin;
GRANT CREATE ON SCHEMA public TO atk_admin, atk_admin2, atk_owner, atk_other;
-- the spies' log: every look-alike and every planted function writes (current_user, what) here
CREATE TABLE public.atk_log (n bigserial, who text, what text);
GRANT INSERT, SELECT ON public.atk_log TO PUBLIC;
GRANT USAGE ON SEQUENCE public.atk_log_n_seq TO PUBLIC;
CREATE FUNCTION public.atk_note(what text) RETURNS boolean LANGUAGE sql VOLATILE
  AS 'INSERT INTO public.atk_log (who, what) VALUES (current_user, what) RETURNING true';
-- runs any SQL as the current user (the attackers' DDL inside expressions, triggers, rules)
CREATE FUNCTION public.atk_ddl(sql text) RETURNS boolean LANGUAGE plpgsql VOLATILE
  AS \$\$ BEGIN EXECUTE sql; RETURN true; END \$\$;
CREATE FUNCTION public.atk_ddl(sql text, x int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE
  AS \$\$ BEGIN RETURN public.atk_ddl(sql); END \$\$;
CREATE FUNCTION public.atk_ddl_trigger() RETURNS trigger LANGUAGE plpgsql
  AS \$\$ BEGIN PERFORM public.atk_ddl(TG_ARGV[0]); RETURN NEW; END \$\$;
-- atk_admin's own schema (nobody else may create in it): what its payloads' expressions may name. A
-- payload naming public.* is refused (untrusted_name), since the attackers may create in public.
CREATE SCHEMA adm AUTHORIZATION atk_admin;
GRANT USAGE ON SCHEMA adm TO PUBLIC;
CREATE FUNCTION adm.atk_ddl(sql text) RETURNS boolean LANGUAGE plpgsql VOLATILE
  AS \$\$ BEGIN EXECUTE sql; RETURN true; END \$\$;
CREATE FUNCTION adm.atk_ddl(sql text, x int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE
  AS \$\$ BEGIN RETURN adm.atk_ddl(sql); END \$\$;
SELECT revos.set_tenant('$T1') \g /dev/null
SQL
  ) || die "setup failed: $out"
  PRIVS_BEFORE=$(privileges)
  # A managed tenant table of atk_admin's, with one row of each tenant: the target of most attacks.
  check "setup: atk_admin creates the tenant table public.a_victim" "applied" \
    "$(as atk_admin "SELECT revos.tenant_table('public.a_victim', '[{\"name\": \"secret\", \"type\": \"text\"}]') -> 'result' ->> 'status'")"
  q "INSERT INTO public.a_victim (tenant_id, secret) VALUES ('$T1', 'one'), ('$T2', 'two');
     GRANT SELECT, INSERT, UPDATE ON public.a_victim TO atk_app" >/dev/null
}

# roles' attributes and memberships: the end state must equal the start
privileges() {
  q "SELECT string_agg(rolname || ':' || rolsuper || rolcreaterole || rolcreatedb || rolbypassrls, ',' ORDER BY rolname)
       || ' / ' || coalesce((SELECT string_agg(m.roleid::regrole || '>' || m.member::regrole, ',' ORDER BY 1)
                               FROM pg_auth_members m WHERE m.member::regrole::text LIKE 'atk\_%'), '')
       FROM pg_roles WHERE rolname LIKE 'atk\_%' OR rolname LIKE 'revos\_%'"
}

# ---- A. names: look-alikes of what revos's SQL mentions, first on the attacker's search_path ------
# lookalikes SCHEMA: functions, operators, types and tables named like revos's (and PostgreSQL's)
lookalikes() {
  cat <<SQL
CREATE FUNCTION $1.now() RETURNS timestamptz LANGUAGE plpgsql AS \$\$ BEGIN
  PERFORM public.atk_note('$1.now');
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
    EXECUTE 'ALTER ROLE atk_admin SUPERUSER';
  END IF;
  RETURN pg_catalog.now(); END \$\$;
CREATE FUNCTION $1.gen_random_uuid() RETURNS pg_catalog.uuid LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.gen_random_uuid'); RETURN pg_catalog.gen_random_uuid(); END \$\$;
CREATE FUNCTION $1.current_setting(pg_catalog.text, boolean) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.current_setting'); RETURN pg_catalog.current_setting(\$1, \$2); END \$\$;
CREATE FUNCTION $1.set_config(pg_catalog.text, pg_catalog.text, boolean) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.set_config'); RETURN pg_catalog.set_config(\$1, \$2, \$3); END \$\$;
CREATE FUNCTION $1.to_regclass(pg_catalog.text) RETURNS regclass LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.to_regclass'); RETURN pg_catalog.to_regclass(\$1); END \$\$;
CREATE FUNCTION $1.pg_get_expr(pg_node_tree, oid) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.pg_get_expr'); RETURN pg_catalog.pg_get_expr(\$1, \$2); END \$\$;
CREATE FUNCTION $1.format_type(oid, integer) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.format_type'); RETURN pg_catalog.format_type(\$1, \$2); END \$\$;
CREATE FUNCTION $1.quote_ident(pg_catalog.text) RETURNS pg_catalog.text LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.quote_ident'); RETURN pg_catalog.quote_ident(\$1); END \$\$;
CREATE FUNCTION $1.current_tenant_id() RETURNS pg_catalog.text LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.current_tenant_id'); RETURN revos.current_tenant_id(); END \$\$;
CREATE FUNCTION $1.uuid_eq(pg_catalog.uuid, pg_catalog.uuid) RETURNS boolean LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.=(uuid)'); RETURN true; END \$\$;
CREATE OPERATOR $1.= (LEFTARG = pg_catalog.uuid, RIGHTARG = pg_catalog.uuid, FUNCTION = $1.uuid_eq);
CREATE FUNCTION $1.text_eq(pg_catalog.text, pg_catalog.text) RETURNS boolean LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.=(text)'); RETURN true; END \$\$;
CREATE OPERATOR $1.= (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = $1.text_eq);
CREATE OPERATOR $1.<> (LEFTARG = pg_catalog.text, RIGHTARG = pg_catalog.text, FUNCTION = $1.text_eq);
CREATE FUNCTION $1.atk_only() RETURNS pg_catalog.uuid LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM public.atk_note('$1.atk_only'); RETURN pg_catalog.gen_random_uuid(); END \$\$;
CREATE DOMAIN $1.uuid AS pg_catalog.uuid CHECK (public.atk_note('$1.uuid'));
CREATE DOMAIN $1.text AS pg_catalog.text CHECK (public.atk_note('$1.text'));
CREATE DOMAIN $1.jsonb AS pg_catalog.jsonb CHECK (public.atk_note('$1.jsonb'));
CREATE TABLE $1.pg_class (oid oid, relname name, relkind "char", relnamespace oid);
CREATE TABLE $1.pg_policy (oid oid, polname name, polrelid oid);
CREATE TABLE $1.schema_migrations (version pg_catalog.text, status pg_catalog.text);
SQL
}

P_A1='{"schema_version": "atk-a1", "description": "look-alikes", "tables": [
  {"name": "a1_t", "columns": [{"name": "note", "type": "text", "default": "'"''x''"'"},
    {"name": "amount", "type": "int", "check": "amount > 0"}, {"name": "ref", "type": "uuid"}],
   "indexes": [{"columns": ["amount"], "where": "amount > 1"}]}]}'
P_A1B='{"schema_version": "atk-a1b", "description": "look-alikes, altering", "tables": [
  {"name": "a1_t", "columns": [{"name": "note", "type": "text", "default": "'"''y''"'"},
    {"name": "amount", "type": "int", "check": "amount > 1"}, {"name": "ref", "type": "uuid"},
    {"name": "seen", "type": "timestamptz", "default": "now()"}],
   "indexes": [{"columns": ["amount"], "where": "amount > 2"}, {"columns": ["seen"]}]}]}'

# plan_sql PAYLOAD PATH: the plan's SQL as atk_admin with search_path PATH (and its temp objects)
plan_sql() {
  q - <<SQL
SET ROLE atk_admin;
$(temp_lookalikes)
SET search_path = $2;
SELECT revos.plan_schema('$1') -> 'result' -> 'plan' ->> 'sql';
SQL
}
# temporary look-alikes of the session: domains named like core types, tables named like catalogs
temp_lookalikes() {
  cat <<'SQL'
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (public.atk_note('pg_temp.text'));
CREATE DOMAIN pg_temp.uuid AS pg_catalog.uuid CHECK (public.atk_note('pg_temp.uuid'));
CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (public.atk_note('pg_temp.jsonb'));
CREATE DOMAIN pg_temp.timestamptz AS pg_catalog.timestamptz CHECK (public.atk_note('pg_temp.timestamptz'));
CREATE TEMP TABLE pg_class (oid oid, relname name, relkind "char", relnamespace oid);
CREATE TEMP TABLE pg_attribute (attrelid oid, attname name, attnum int2);
CREATE TEMP TABLE pg_policy (oid oid, polname name, polrelid oid);
CREATE TEMP TABLE pg_depend (objid oid);
CREATE TEMP TABLE schema_migrations (version text, status text);
CREATE TEMP TABLE events (id bigint, tenant_id text);
SQL
}

attack_lookalikes() {
  echo "# A1. look-alikes first on a revos_admin member's search_path (the issue's recipes and variants)"
  q "CREATE SCHEMA mal AUTHORIZATION atk_admin; CREATE SCHEMA atk_admin AUTHORIZATION atk_admin" >/dev/null
  as atk_admin "$(lookalikes mal) $(lookalikes atk_admin)" >/dev/null || die "look-alikes"
  forget_spies
  local base
  base=$(q "SET ROLE atk_admin; SELECT revos.plan_schema('$P_A1') -> 'result' -> 'plan' ->> 'sql'")
  [[ "$base" == ALTER* || "$base" == CREATE* ]] || die "no baseline plan: $base"
  local path
  for path in "mal, pg_catalog" '"$user", pg_catalog' "pg_temp, mal, pg_catalog" "''" "pg_temp" "mal"; do
    check "plan_schema with search_path = $path (and temp domains text/uuid/jsonb, temp tables pg_class ...): the same SQL" \
      "$base" "$(plan_sql "$P_A1" "$path")"
  done
  check "  ... and no look-alike in a schema of atk_admin's ran while planning" "" "$(spied "what NOT LIKE 'pg\_temp.%'")"
  check "  ... and no temporary look-alike (a domain named text, uuid, jsonb) ran inside revos either" "" "$(spied "what LIKE 'pg\_temp.%'")"
  forget_spies
  check "apply_schema (creating) with search_path = mal, pg_catalog: applied" applied \
    "$(q "SET ROLE atk_admin; SET search_path = mal, pg_catalog; SELECT revos.apply_schema('$P_A1') -> 'result' ->> 'status'")"
  check "apply_schema (altering: shadows, a now() default) with search_path = \"\$user\", pg_temp: applied" applied \
    "$(q "SET ROLE atk_admin; SET search_path = \"\$user\", pg_temp; SELECT revos.apply_schema('$P_A1B') -> 'result' ->> 'status'")"
  check "  ... no look-alike ran during either apply" "" "$(spied)"
  check "  ... atk_admin is no superuser (the issue's mal.now() escalation)" f \
    "$(q "SELECT rolsuper FROM pg_roles WHERE rolname = 'atk_admin'")"
  check "  ... nothing revos created on a1_t depends on an object of mal, atk_admin or pg_temp" 0 \
    "$(bound_to '{public.a1_t}' '{mal,atk_admin}')"
  q "GRANT SELECT, INSERT, UPDATE ON public.a1_t TO atk_app" >/dev/null
  as atk_app "SELECT revos.set_tenant('$T1'); INSERT INTO public.a1_t (amount) VALUES (5);
              UPDATE public.a1_t SET note = 'z'; SELECT count(*) FROM public.a1_t" >/dev/null
  check "  ... the application role writing and reading a1_t runs no look-alike" "" "$(spied)"
  local p_tmp=${P_A1//a1_t/a1_tmp}
  p_tmp=${p_tmp//atk-a1/atk-a1t}
  check "apply_schema of the same kind of payload with the temporary look-alikes in the session: applied too" applied \
    "$(q - <<SQL
SET ROLE atk_admin;
$(temp_lookalikes)
SELECT revos.apply_schema('$p_tmp') -> 'result' ->> 'status';
SQL
)"
  check "  ... no temporary look-alike ran inside revos" "" "$(spied)"
  forget_spies
  check "a look-alike function named in a payload without its schema is not found (pinned path): not applied" \
    "failed-or-blocked" "$(r=$(q "SET ROLE atk_admin; SET search_path = mal, pg_catalog;
      SELECT revos.apply_schema('{\"schema_version\": \"atk-a1c\", \"description\": \"x\", \"tables\": [{\"name\": \"a1_u\",
        \"columns\": [{\"name\": \"k\", \"type\": \"uuid\", \"default\": \"atk_only()\"}]}]}') -> 'result' ->> 'status'");
      case $r in failed|blocked) echo failed-or-blocked ;; *) echo "$r" ;; esac)"
  check "  ... and the look-alike did not run" "" "$(spied)"
}

attack_role_setting() {
  echo "# A2. ALTER ROLE ... SET search_path on oneself, then a session of one's own"
  local p=${P_A1B//atk-a1b/atk-a2} base
  p=${p//\'\'y\'\'/\'\'z\'\'}
  base=$(q "SET ROLE atk_admin; SELECT revos.plan_schema('$p') -> 'result' -> 'plan' ->> 'sql'")
  [[ "$base" == ALTER* ]] || die "A2: no baseline plan: $base"
  as atk_admin "ALTER ROLE atk_admin SET search_path = mal, pg_catalog" >/dev/null
  forget_spies
  check "atk_admin's own session starts with search_path = mal, pg_catalog" "mal, pg_catalog" "$(as_login atk_admin "SHOW search_path")"
  check "  ... plan_schema there gives the same SQL" "$base" \
    "$(as_login atk_admin "SELECT revos.plan_schema('$p') -> 'result' -> 'plan' ->> 'sql'")"
  check "  ... and no look-alike ran" "" "$(spied)"
  as atk_admin "ALTER ROLE atk_admin RESET search_path" >/dev/null
}

# A2b. revos reads parts of the catalog with search_path = pg_catalog alone
# (apply::pg_catalog::with_catalog_search_path: pg_temp is then searched FIRST for relations and
# types), unqualified: a temporary view named pg_policy in the caller's session is what plan_schema
# compares a live tenant policy with.
attack_temp_catalog() {
  echo "# A2b. a temporary view named pg_policy while revos reads the live policies"
  managed a2b
  q "SET ROLE atk_admin; ALTER POLICY revos_tenant_isolation ON public.a2b USING (true) WITH CHECK (true)" >/dev/null
  local p='{"schema_version": "atk-a2b", "description": "x", "tables": [{"name": "a2b", "columns": [{"name": "secret", "type": "text"}, {"name": "more", "type": "int"}]}]}'
  local honest
  honest=$(q "SET ROLE atk_admin; SELECT revos.plan_schema('$p') -> 'result' -> 'plan' ->> 'sql'")
  [[ "$honest" == *"CREATE POLICY"* ]] || die "A2b: the honest plan does not replace the open policy: $honest"
  check "plan_schema with a temporary view pg_policy forging a2b's policy: the same plan (the open policy replaced)" "$honest" \
    "$(q - <<SQL
SET ROLE atk_admin;
CREATE TEMP VIEW pg_policy AS SELECT p.oid, p.polname, p.polrelid, p.polcmd, p.polpermissive, p.polroles,
  CASE WHEN p.polrelid = 'public.a2b'::regclass THEN (SELECT x.polqual FROM pg_catalog.pg_policy x WHERE x.polrelid = 'public.a_victim'::regclass) ELSE p.polqual END AS polqual,
  CASE WHEN p.polrelid = 'public.a2b'::regclass THEN (SELECT x.polwithcheck FROM pg_catalog.pg_policy x WHERE x.polrelid = 'public.a_victim'::regclass) ELSE p.polwithcheck END AS polwithcheck
  FROM pg_catalog.pg_policy p;
SELECT revos.plan_schema('$p') -> 'result' -> 'plan' ->> 'sql';
SQL
)"
}

# A3. The caller's check function changes search_path in the middle of an apply
# (set_config(..., true) inside the pinned GUC nest level): revos's later statements resolve their
# unqualified names (gen_random_uuid(), now(), types) through the attacker's path.
attack_path_mid_apply() {
  echo "# A3. a function in the caller's own check sets search_path during the apply"
  q "CREATE SCHEMA mal3 AUTHORIZATION atk_admin" >/dev/null
  q - >/dev/null <<'SQL'
SET ROLE atk_admin;
CREATE FUNCTION mal3.now() RETURNS timestamptz LANGUAGE plpgsql AS
  $$ BEGIN PERFORM public.atk_note('mal3.now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION mal3.gen_random_uuid() RETURNS pg_catalog.uuid LANGUAGE plpgsql AS
  $$ BEGIN PERFORM public.atk_note('mal3.gen_random_uuid'); RETURN pg_catalog.gen_random_uuid(); END $$;
GRANT USAGE ON SCHEMA mal3 TO PUBLIC;
CREATE FUNCTION mal3.atk_setpath(int) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN PERFORM pg_catalog.set_config('search_path', 'mal3, pg_catalog', true); RETURN true; END $$;
CREATE TABLE public.a3_pre (id int);
INSERT INTO public.a3_pre VALUES (1);
SQL
  forget_spies
  check "apply: an existing table gets a check calling mal3.atk_setpath() (atk_admin's own schema), then a new tenant table" applied \
    "$(q "SET ROLE atk_admin; SELECT revos.apply_schema('{\"schema_version\": \"atk-a3\", \"description\": \"x\", \"tables\": [
        {\"name\": \"a3_pre\", \"tenant_scoped\": false, \"rls\": false, \"columns\": [{\"name\": \"id\", \"type\": \"int\", \"check\": \"mal3.atk_setpath(id)\"}]},
        {\"name\": \"a3_new\", \"columns\": [{\"name\": \"n\", \"type\": \"int\"}]}]}') -> 'result' ->> 'status'")"
  check "  ... the defaults revos wrote on a3_new (gen_random_uuid(), now()) are pg_catalog's, not mal3's" 0 \
    "$(bound_to '{public.a3_new}' '{mal3}')"
  q "GRANT SELECT, INSERT ON public.a3_new TO atk_app" >/dev/null
  as atk_app "SELECT revos.set_tenant('$T1'); INSERT INTO public.a3_new (n) VALUES (1)" >/dev/null
  check "  ... the application role inserting into a3_new runs none of atk_admin's code" "" "$(spied)"
}

# A4. Session-temporary objects named in a payload: pg_temp is on the pinned path (last), so an
# unqualified type resolves to a temporary domain, and pg_temp.f() is accepted in a check. When the
# session ends, PostgreSQL drops them with CASCADE: the managed table loses its column and check,
# without any event trigger firing.
attack_temp_objects() {
  echo "# A4. a payload bound to the applying session's temporary objects"
  local out
  out=$(q - <<SQL
SET ROLE atk_admin;
CREATE FUNCTION pg_temp.atk_tchk(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
CREATE DOMAIN pg_temp.atk_tdom AS int;
SELECT revos.apply_schema('{"schema_version": "atk-a4", "description": "x", "tables": [{"name": "a4_t",
  "columns": [{"name": "n", "type": "int"}, {"name": "m", "type": "atk_tdom"}]}]}')
  -> 'result' ->> 'status';
SELECT count(*) FROM pg_class WHERE oid = to_regclass('public.a4_t');
SQL
  )
  # bound to the temporary objects, if it was created at all ('public.a4_t'::regclass in the query
  # would fail to parse when it was not)
  if [ "$(sed -n 2p <<<"$out")" != 0 ]; then
    out=$(printf '%s\n%s\n' "$(head -1 <<<"$out")" "$(q "$(bound_sql '{public.a4_t}' '{}')")")
  fi
  # refused outright (42501: a temporary object of a session), or — had it applied — bound to nothing
  check "apply_schema does not bind a managed table to the session's temporary function and domain" \
    "0" "$(sed -n 2p <<<"$out")"
  check "  ... it refuses: failed, nothing left" "failed" "$(head -1 <<<"$out")"
  check "a check calling pg_temp.atk_tchk() (a temporary function of the session): blocked before anything runs (untrusted_name)" \
    "blocked untrusted_name" "$(verdict_of "$(as atk_admin "CREATE FUNCTION pg_temp.atk_tchk(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true';
      SELECT revos.apply_schema('{\"schema_version\": \"atk-a4f\", \"description\": \"x\", \"tables\": [{\"name\": \"a4_f\",
      \"columns\": [{\"name\": \"n\", \"type\": \"int\", \"check\": \"pg_temp.atk_tchk(n)\"}]}]}')")")"
  local kept drift i
  # the session's temporary objects go when its backend exits, a moment after psql returned
  for i in $(seq 50); do
    [ "$(q "SELECT count(*) FROM pg_proc WHERE proname = 'atk_tchk'")" = 0 ] && break
    sleep 0.2
  done
  kept=$(q "SELECT (SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.a4_t'::regclass AND contype = 'c')
             || ' ' || (SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.a4_t'::regclass AND attname = 'm' AND NOT attisdropped)" 2>&1)
  drift=$(drift_on public.a4_t 0)
  check "  ... after that session ended, a4_t still has its check and column m, or their loss is in the ledger" \
    "kept-or-recorded" "$(if [ "$(head -1 <<<"$out")" != applied ] || [ "$kept" = "1 1" ] || [ "${drift:-0}" -gt 0 ]; then
      echo kept-or-recorded; else echo "lost (checks, column m: $kept; drift events: $drift)"; fi)"
}

# A5. revos reads tables it did not create, as the caller: the table's owner's RLS policy (or view)
# then runs the owner's code as the revos_admin member (PostgreSQL runs policy expressions as the
# querying user). atk_owner's spy grants atk_owner what atk_admin may grant.
attack_foreign_tables() {
  echo "# A5. a plain role's table that revos reads while a revos_admin member plans"
  q - >/dev/null <<'SQL'
SET ROLE atk_owner;
CREATE FUNCTION public.atk_steal() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM public.atk_note('atk_steal');
  IF current_user = 'atk_admin' THEN
    BEGIN EXECUTE 'GRANT SELECT, UPDATE ON public.a_victim TO atk_owner'; EXCEPTION WHEN others THEN NULL; END;
  END IF;
  RETURN true;
END $$;
-- referenced by a foreign key of atk_admin's payload
CREATE TABLE public.a5_customers (id int PRIMARY KEY);
INSERT INTO public.a5_customers VALUES (1);
ALTER TABLE public.a5_customers ENABLE ROW LEVEL SECURITY;
CREATE POLICY spy ON public.a5_customers USING (public.atk_steal());
GRANT SELECT, REFERENCES ON public.a5_customers TO PUBLIC;
-- squatting the name of a table atk_admin's payload will create
CREATE TABLE public.a5_invoices (amount int);
INSERT INTO public.a5_invoices VALUES (1);
ALTER TABLE public.a5_invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY spy ON public.a5_invoices USING (public.atk_steal());
GRANT SELECT ON public.a5_invoices TO PUBLIC;
-- the same with views (revos must not read them either)
CREATE VIEW public.a5_vcustomers AS SELECT 1 AS id WHERE public.atk_steal();
CREATE VIEW public.a5_vorders AS SELECT 1 AS amount WHERE public.atk_steal();
GRANT SELECT ON public.a5_vcustomers, public.a5_vorders TO PUBLIC;
SQL
  local case label p
  for case in "a5_buyer, a foreign key to atk_owner's table with an RLS policy|{\"name\": \"a5_buyer\", \"columns\": [{\"name\": \"cid\", \"type\": \"int\", \"references\": {\"table\": \"public.a5_customers\", \"column\": \"id\"}}]}" \
              "a5_invoices, a name atk_owner squatted with a table with an RLS policy|{\"name\": \"a5_invoices\", \"columns\": [{\"name\": \"amount\", \"type\": \"int\", \"check\": \"amount > 0\"}]}" \
              "a5_vbuyer, a foreign key to atk_owner's view|{\"name\": \"a5_vbuyer\", \"columns\": [{\"name\": \"cid\", \"type\": \"int\", \"references\": {\"table\": \"public.a5_vcustomers\", \"column\": \"id\"}}]}" \
              "a5_vorders, a name atk_owner squatted with a view|{\"name\": \"a5_vorders\", \"columns\": [{\"name\": \"amount\", \"type\": \"int\"}]}"; do
    label=${case%%|*} p=${case#*|}
    forget_spies
    q "SET ROLE atk_admin; SELECT revos.plan_schema('{\"schema_version\": \"atk-a5\", \"description\": \"x\", \"tables\": [$p]}')" >/dev/null 2>&1
    check "plan_schema of $label: atk_owner's code does not run as atk_admin" "" "$(spied "who = 'atk_admin'")"
  done
  check "  ... and atk_owner gained no privilege on atk_admin's managed table public.a_victim" "false|false" \
    "$(q "SELECT has_table_privilege('atk_owner', 'public.a_victim', 'SELECT') || '|' || has_table_privilege('atk_owner', 'public.a_victim', 'UPDATE')")"
  q "REVOKE ALL ON public.a_victim FROM atk_owner" >/dev/null
}

# A6. A name in a payload qualified with a schema others can create in: a plain role adds an exact
# overload next to the admin's function, and the check revos writes binds to it.
attack_overload() {
  echo "# A6. an overload squatted in public next to the function a payload's check names"
  q - >/dev/null <<'SQL'
SET ROLE atk_admin;
CREATE FUNCTION public.atk_is_email(text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$ SELECT $1 LIKE '%@%' $$;
SET ROLE atk_owner;
CREATE FUNCTION public.atk_is_email(varchar) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS
  $$ BEGIN PERFORM public.atk_note('atk_is_email(varchar)'); RETURN true; END $$;
SQL
  forget_spies
  local a6
  a6=$(as atk_admin "SELECT r -> 'result' ->> 'status' || '|' || coalesce(r -> 'result' -> 'error' ->> 'sqlstate',
      r -> 'result' -> 'validation_errors' -> 0 ->> 'code')
    FROM revos.apply_schema('{\"schema_version\": \"atk-a6\", \"description\": \"x\", \"tables\": [{\"name\": \"a6_t\",
    \"columns\": [{\"name\": \"email\", \"type\": \"varchar(200)\", \"check\": \"public.atk_is_email(email)\"}]}]}') r")
  # public, where atk_owner may create, is refused before anything runs; before that check, the check
  # resolved to atk_owner's exact overload, and revos refused to leave it (failed, 42501)
  check "the check on a6_t is never bound to atk_owner's overload: refused (blocked, untrusted_name)" "blocked|untrusted_name" "$a6"
  check "  ... and no a6_t was left" "" "$(q "SELECT to_regclass('public.a6_t')")"
  q "CREATE TABLE IF NOT EXISTS public.a6_t (email varchar(200)); GRANT ALL ON public.a6_t TO atk_app" >/dev/null
  as atk_app "SELECT revos.set_tenant('$T1'); INSERT INTO public.a6_t (email) VALUES ('nobody')" >/dev/null 2>&1
  check "  ... the application role's insert runs none of atk_owner's code" "" "$(spied)"
}

# A7. log_event (SECURITY DEFINER, no SET clause: the caller's search_path stays in force while it
# runs as the ledger owner) with look-alikes, temporary domains and tables, pg_temp first.
attack_log_event() {
  echo "# A7. log_event as a revos_app member with a hostile session"
  q "CREATE SCHEMA appmal AUTHORIZATION atk_app" >/dev/null
  as atk_app "$(lookalikes appmal)
    CREATE FUNCTION appmal.nextval(regclass) RETURNS bigint LANGUAGE plpgsql AS
      \$\$ BEGIN PERFORM public.atk_note('appmal.nextval'); RETURN 1; END \$\$;
    CREATE FUNCTION appmal.hashtext(text) RETURNS integer LANGUAGE plpgsql AS
      \$\$ BEGIN PERFORM public.atk_note('appmal.hashtext'); RETURN 1; END \$\$;
    CREATE FUNCTION appmal.event_hash(revos.events) RETURNS text LANGUAGE plpgsql AS
      \$\$ BEGIN PERFORM public.atk_note('appmal.event_hash'); RETURN 'x'; END \$\$;
    CREATE TABLE appmal.events (id bigint, event_id uuid, tenant_id text, idempotency_key text);
    CREATE TABLE appmal.event_chain_heads (chain text, last_id bigint, prev_id bigint)" >/dev/null || die "appmal"
  forget_spies
  local path out
  for path in "appmal, pg_catalog" "pg_temp, appmal, pg_catalog" "''"; do
    out=$(q - <<SQL
SET ROLE atk_app;
$(temp_lookalikes)
CREATE TEMP TABLE event_chain_heads (chain text, last_id bigint, prev_id bigint);
SET search_path = $path;
BEGIN;
SELECT revos.set_tenant('$T1') \g /dev/null
SELECT revos.log_event('{"event_type": "atk.a7", "idempotency_key": "a7 $path", "occurred_at": "2024-01-02T03:04:05Z",
                         "subject_id": 7, "payload": {"p": 1}}') ->> 'status';
SELECT revos.log_event('{"event_type": "atk.a7", "idempotency_key": "a7 $path"}') ->> 'status';
SELECT revos.log_event('{"meta": {"event_type": "atk.a7env"}, "subject": {"tenant_id": "$T1"}, "payload": {}}') ->> 'status';
COMMIT;
SQL
    )
    check "log_event (flat with key and occurred_at, duplicate, envelope) with search_path = $path" \
      "recorded
duplicate
recorded" "$out"
  done
  check "  ... no look-alike ran (as the ledger owner or at all)" "" "$(spied)"
  check "  ... the events are in revos.events, in tenant $T1's chain" "6|0" \
    "$(q "SELECT (SELECT count(*) FROM revos.events WHERE event_type LIKE 'atk.a7%' AND tenant_id = '$T1') || '|' ||
                 (SELECT count(*) FROM appmal.events)")"
}

# A8. verify_ledger, verify_shards and the tenant functions with a hostile path
attack_verifiers() {
  echo "# A8. verify_ledger / verify_shards / the tenant functions with look-alikes first"
  forget_spies
  check "verify_ledger with search_path = mal, pg_catalog (and temporary look-alikes): ok" "true" \
    "$(q - <<SQL
SET ROLE atk_admin;
$(temp_lookalikes)
SET search_path = pg_temp, mal, pg_catalog;
SELECT revos.verify_ledger() ->> 'ok';
SQL
)"
  check "verify_shards without Citus, same path: ok, nothing checked" "true|0|false" \
    "$(q "SET ROLE atk_admin; SET search_path = mal, pg_catalog; SELECT (v->>'ok') || '|' || (v->>'tables_checked') || '|' || (v->>'citus') FROM revos.verify_shards() v")"
  check "set_tenant / pre_request / current_tenant_id with search_path = appmal, pg_catalog" "$T2|$T1" \
    "$(q "SET ROLE atk_app; SET search_path = appmal, pg_catalog; SELECT revos.set_tenant('$T2') || '|';
          SET request.jwt.claims = '{\"tenant_id\": \"$T1\"}'; SELECT revos.set_tenant(NULL); SELECT revos.pre_request();
          SELECT revos.current_tenant_id()" | tr -d '\n')"
  check "  ... no look-alike ran" "" "$(spied)"
}

# A9. Crafted tenant values and claims: never SQL, never another tenant's rows
attack_tenant_values() {
  echo "# A9. crafted tenant ids and JWT claims"
  # the tenant tables here hold uuid tenants: set_tenant refuses such a value outright (issue 20),
  # before it is written anywhere; tests/usability.rs writes crafted values where tenants are text
  expect_error_db "set_tenant('x''; RESET ROLE; --'): refused as no uuid, nothing runs" 22023 "is not a valid uuid" "$T" \
    "SET ROLE atk_app" "SELECT revos.set_tenant('x''; RESET ROLE; --')"
  expect_error_db "pre_request with a tenant claim holding a quote and a statement: refused, nothing runs" 22023 "is not a valid uuid" "$T" \
    "SET ROLE atk_app" "SET request.jwt.claims = '{\"tenant_id\": \"a''; SET ROLE postgres; --\"}'" "SELECT revos.pre_request()"
  expect_error_db "set_tenant with 201 characters is refused" 22023 "longer than 200" "$T" \
    "SET ROLE atk_app" "SELECT revos.set_tenant(repeat('a', 201))"
  check "claims that are not an object, or whose tenant is null or empty: no tenant, 0 rows" "0|0|0" \
    "$(for c in '[1]' '{"tenant_id": null}' '{"tenant_id": ""}'; do
         q "SET ROLE atk_app; SET request.jwt.claims = '$c'; SELECT revos.pre_request(); SELECT count(*) FROM public.a_victim" | tail -1
       done | paste -sd'|')"
}

# A10. The application role and other tenants' rows and events
attack_cross_tenant() {
  echo "# A10. cross-tenant reads and writes by the application role"
  check "tenant $T1 sees only its own row of a_victim" "one" \
    "$(as atk_app "SELECT revos.set_tenant('$T1'); SELECT string_agg(secret, ',') FROM public.a_victim" | tail -1)"
  expect_error_db "tenant $T1 cannot insert a row of tenant $T2" 42501 "row-level security" "$T" \
    "SET ROLE atk_app; SELECT revos.set_tenant('$T1'); INSERT INTO public.a_victim (tenant_id, secret) VALUES ('$T2', 'x')"
  check "tenant $T1 cannot move its row to tenant $T2 (UPDATE ... SET tenant_id)" "refused" \
    "$(as atk_app "SELECT revos.set_tenant('$T1'); UPDATE public.a_victim SET tenant_id = '$T2'" >/dev/null 2>&1 && echo moved || echo refused)"
  expect_error_db "log_event for tenant $T2 in a transaction of tenant $T1" 42501 "not the current tenant" "$T" \
    "SET ROLE atk_app; SELECT revos.set_tenant('$T1'); SELECT revos.log_event('{\"event_type\": \"atk.a10\", \"tenant_id\": \"$T2\"}')"
  q "SET ROLE atk_app; SELECT revos.set_tenant('$T2'); SELECT revos.log_event('{\"event_type\": \"atk.a10\", \"idempotency_key\": \"t2-key\"}')" >/dev/null
  expect_error_db "tenant $T1 asks for tenant $T2's event by its idempotency key" 42501 "outside this tenant" "$T" \
    "SET ROLE atk_app; SELECT revos.set_tenant('$T1'); SELECT revos.log_event('{\"event_type\": \"atk.a10\", \"idempotency_key\": \"t2-key\"}')"
  expect_error_db "envelope: a reserved event type through meta, the payload's own event_type empty" 22023 "reserved" "$T" \
    "SET ROLE atk_app" "SELECT revos.log_event('{\"meta\": {\"event_type\": \"schema_drift_detected\"}, \"payload\": {\"event_type\": \"\"}}')"
}

# A11. revos's internal functions called directly
attack_internals() {
  echo "# A11. revos's internal functions, called directly"
  local f
  for f in "drift_snapshot()" "drift_ddl_end()" "drift_sql_drop()" "drift_snapshot_run('ALTER TABLE')" \
           "drift_ddl_end_run('ALTER TABLE')" "drift_sql_drop_run('DROP TABLE')" "drift_is_managed(0)" \
           "verify_chains(NULL)" "events_chain_restore(NULL)" "log_event_time('2024-01-01')"; do
    expect_error_db "atk_admin calls revos.$f" 42501 "permission denied for function" "$T" \
      "SET ROLE atk_admin" "SELECT revos.$f"
  done
}

# A12. The actor of a drift event: the role that ran the DDL, not the one that called a SECURITY
# DEFINER function of someone else's.
attack_actor() {
  echo "# A12. who the drift capture names as the actor"
  q - >/dev/null <<'SQL'
SET ROLE atk_admin;
CREATE FUNCTION public.atk_blame() RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS
  $$ BEGIN EXECUTE 'COMMENT ON TABLE public.a_victim IS ''by atk_admin'''; END $$;
GRANT EXECUTE ON FUNCTION public.atk_blame() TO atk_app;
SQL
  local m
  m=$(mark)
  as atk_app "SELECT public.atk_blame()" >/dev/null
  check "atk_admin's DDL, run through its SECURITY DEFINER function called by atk_app, is recorded as atk_admin's" \
    "atk_admin" "$(q "SELECT string_agg(actor_id, ',') FROM revos.events WHERE id > $m AND event_type = 'schema_drift_detected'")"
}

# A13. The global chain (tenant NULL) is shared by log_event without a tenant, the drift capture and
# untenanted migration events: an application's transaction that logged an untenanted event holds
# its head row until it ends, and every DDL on a managed table waits for it.
attack_global_chain_lock() {
  echo "# A13. an application transaction holding the global chain"
  managed a13
  PGAPPNAME=a13_hold psql -X -q -At -d "$T" >/dev/null 2>&1 <<SQL &
SET ROLE atk_app;
BEGIN;
SELECT revos.log_event('{"event_type": "atk.a13"}');
SELECT pg_sleep(6);
COMMIT;
SQL
  local holder=$!
  # its event logged, the transaction open
  sleeping "$T" a13_hold || bad "A13: atk_app's open transaction (application_name a13_hold) seen" 1 0
  check_or_gap "while atk_app's transaction is open, atk_admin's ALTER TABLE on a managed table completes (lock_timeout 2s)" done \
    "$(as atk_admin "SET lock_timeout = '2s'; ALTER TABLE public.a13 NO FORCE ROW LEVEL SECURITY" >/dev/null 2>&1 && echo done || echo "blocked (lock timeout)")" \
    "revos's own events share the global chain with log_event calls without a tenant: an open application transaction holds its head (docs/security.md, availability)"
  q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'a13_hold'" >/dev/null
  wait "$holder"
}

# ---- B. the drift capture: DDL on a revos-managed table must be recorded ----------------------------
# managed NAME: a tenant table of atk_admin's (its policy is the usual target)
managed() {
  [ "$(as atk_admin "SELECT revos.tenant_table('public.$1', '[{\"name\": \"secret\", \"type\": \"text\"}]') -> 'result' ->> 'status'")" = applied ] \
    || die "cannot create the managed table $1"
}
# recorded NAME TABLE MARK: at least one drift event names public.TABLE after MARK
recorded() { local n; n=$(drift_on "public.$2" "$3"); check "$1" recorded "$([ "${n:-0}" -ge 1 ] && echo recorded || echo "not recorded ($n events)")"; }
# attempt NAME TABLE SQL: SQL as atk_admin (one transaction), then a drift event names public.TABLE
attempt() { local m; m=$(mark); q "SET ROLE atk_admin; $3" >/dev/null; recorded "$1" "$2" "$m"; }

attack_session_objects() {
  echo "# B1. session objects and settings do not mute the capture"
  managed b1
  local m
  attempt "a temporary domain named text, pg_temp first on the path, then ALTER POLICY ... USING (true)" b1 "CREATE DOMAIN pg_temp.text AS pg_catalog.text; SET search_path = pg_temp, public;
     ALTER POLICY revos_tenant_isolation ON public.b1 USING (true)"
  attempt "temporary tables named pg_policy and pg_trigger first on the path, then NO FORCE ROW LEVEL SECURITY" b1 "CREATE TEMP TABLE pg_policy (polname name, polrelid oid); CREATE TEMP TABLE pg_trigger (tgname name, tgrelid oid);
     SET search_path = pg_temp, pg_catalog; ALTER TABLE public.b1 NO FORCE ROW LEVEL SECURITY"
  attempt "SET revos.drift_snapshot = 'not json', then CREATE POLICY leak" b1 "SET revos.drift_snapshot = 'not json'; CREATE POLICY leak ON public.b1 USING (true)"
  attempt "SET revos.drift_snapshot = '{}', then DROP POLICY leak" b1 "SET revos.drift_snapshot = '{}'; DROP POLICY leak ON public.b1"
  attempt "SET revos.applying / revos.drift_paused = on (placeholders), then FORCE ROW LEVEL SECURITY" b1 "SET revos.applying = 'on'; SET revos.drift_paused = 'on'; ALTER TABLE public.b1 FORCE ROW LEVEL SECURITY"
  expect_error_db "SET session_replication_role = replica (event triggers would not fire) is refused" 42501 "permission denied" \
    "$T" "SET ROLE atk_admin" "SET session_replication_role = replica"
  check "SET event_triggers = off is refused (PostgreSQL 17+) or does not exist" refused \
    "$(as atk_admin "SET event_triggers = off" >/dev/null 2>&1 && echo accepted || echo refused)"
  m=$(mark)
  q "SET ROLE atk_admin; PREPARE p AS SELECT 1; DECLARE c CURSOR WITH HOLD FOR SELECT 1;
     ALTER POLICY revos_tenant_isolation ON public.b1 RENAME TO b1_renamed" >/dev/null 2>&1
  q "SET ROLE atk_admin; BEGIN; DECLARE c CURSOR FOR SELECT public.atk_ddl('ALTER POLICY b1_renamed ON public.b1 RENAME TO revos_tenant_isolation'); FETCH c; COMMIT" >/dev/null
  recorded "ALTER POLICY ... RENAME, then back through a function fetched by a cursor: both recorded" b1 "$m"
  check "  ... (two events)" 2 "$(drift_on public.b1 "$m")"
}

attack_subtransactions() {
  echo "# B2. subtransactions and EXCEPTION blocks"
  managed b2
  local m
  attempt "DDL in a released savepoint" b2 "BEGIN; SAVEPOINT s; ALTER TABLE public.b2 NO FORCE ROW LEVEL SECURITY; RELEASE s; COMMIT"
  m=$(mark)
  q - >/dev/null <<'SQL'
SET ROLE atk_admin;
DO $$ BEGIN
  BEGIN EXECUTE 'ALTER TABLE public.b2 FORCE ROW LEVEL SECURITY'; EXCEPTION WHEN others THEN NULL; END;
  BEGIN EXECUTE 'ALTER POLICY revos_tenant_isolation ON public.b2 USING (true)'; RAISE EXCEPTION 'undo'; EXCEPTION WHEN others THEN NULL; END;
END $$;
SQL
  check "DDL in an EXCEPTION block that completes is recorded; one rolled back by its block is neither done nor recorded" \
    "1|f" "$(drift_on public.b2 "$m")|$(q "SELECT pg_get_expr(polqual, polrelid) = 'true' FROM pg_policy WHERE polrelid = 'public.b2'::regclass")"
  m=$(mark)
  q "SET ROLE atk_admin; BEGIN; SAVEPOINT a; ALTER TABLE public.b2 NO FORCE ROW LEVEL SECURITY; ROLLBACK TO a;
     ALTER TABLE public.b2 DISABLE ROW LEVEL SECURITY; COMMIT" >/dev/null
  check "after ROLLBACK TO SAVEPOINT, the next DDL is recorded (the stack of commands is consistent)" 1 "$(drift_on public.b2 "$m")"
  q "ALTER TABLE public.b2 ENABLE ROW LEVEL SECURITY" >/dev/null
}

# B3. DDL run by a function in the caller's own expressions while revos's statement runs (one
# command deeper than revos's own): recorded.
attack_nested_in_apply() {
  echo "# B3. DDL from the caller's expressions during apply_schema and plan_schema"
  managed b3
  local m open="adm.atk_ddl(''ALTER POLICY revos_tenant_isolation ON public.b3 USING (true)''"
  local cases=(
    "a check validated by ADD CONSTRAINT|{\"name\": \"n\", \"type\": \"int\", \"check\": \"$open)\"}"
    "a volatile default evaluated by ADD COLUMN|{\"name\": \"n\", \"type\": \"int\"}, {\"name\": \"d\", \"type\": \"boolean\", \"default\": \"$open)\"}"
    "an index predicate evaluated by CREATE INDEX|{\"name\": \"n\", \"type\": \"int\"}], \"indexes\": [{\"columns\": [\"n\"], \"where\": \"$open, n)\"}"
    "a using evaluated by ALTER COLUMN TYPE|{\"name\": \"n\", \"type\": \"bigint\", \"using\": \"CASE WHEN $open) THEN n END\"}"
  )
  local c i=0
  for c in "${cases[@]}"; do
    i=$((i + 1))
    q "SET ROLE atk_admin; CREATE TABLE public.b3_rows_$i (n int); INSERT INTO public.b3_rows_$i VALUES (1)" >/dev/null
    q "ALTER POLICY revos_tenant_isolation ON public.b3 USING (tenant_id OPERATOR(pg_catalog.=) (SELECT (revos.current_tenant_id())::uuid))" >/dev/null
    m=$(mark)
    as atk_admin "SELECT revos.apply_schema('{\"schema_version\": \"atk-b3-$i\", \"description\": \"x\",
      \"options\": {\"allow_destructive\": true}, \"tables\": [{\"name\": \"b3_rows_$i\", \"tenant_scoped\": false, \"rls\": false,
      \"columns\": [${c#*|}]}]}') -> 'result' ->> 'status'" >/dev/null
    recorded "the function in ${c%%|*} opens b3's policy: recorded" b3 "$m"
  done
  m=$(mark)
  as atk_admin "SELECT revos.plan_schema('{\"schema_version\": \"atk-b3-p\", \"description\": \"x\", \"tables\": [{\"name\": \"b3_rows_1\",
    \"tenant_scoped\": false, \"rls\": false, \"columns\": [{\"name\": \"n\", \"type\": \"bigint\", \"check\": \"$open) AND n > 5\"}]}]}')" >/dev/null
  recorded "plan_schema counting the rows a changed check rejects: the function's DDL is recorded" b3 "$m"
  m=$(mark)
  as atk_admin "SELECT revos.apply_schema('{\"schema_version\": \"atk-b3-s\", \"description\": \"x\", \"tables\": [{\"name\": \"b3_more\",
    \"columns\": [{\"name\": \"n\", \"type\": \"int\"}]}]}'), public.atk_ddl('COMMENT ON TABLE public.b3 IS ''same statement''')" >/dev/null
  recorded "DDL in the same SELECT as apply_schema (after it returned): recorded" b3 "$m"
}

# B4. The one-shot token of revos's own statement (writer::own_statement) is armed for the backfill
# UPDATE too, which is no DDL: the first DDL command that anything run by the UPDATE starts at the
# same depth (a trigger, a rule of the table being adopted) takes it and is exempt.
attack_backfill_token() {
  echo "# B4. DDL from a trigger or rule fired by revos's backfill UPDATE"
  local kind setup
  for kind in trigger rule statement-trigger; do
    local v="b4_${kind//-/_}" l="b4_legacy_${kind//-/_}"
    managed "$v"
    case $kind in
      trigger) setup="CREATE TRIGGER t BEFORE UPDATE ON public.$l FOR EACH ROW EXECUTE FUNCTION public.atk_ddl_trigger('ALTER POLICY revos_tenant_isolation ON public.$v USING (true) WITH CHECK (true)')" ;;
      rule) setup="CREATE RULE r AS ON UPDATE TO public.$l DO ALSO SELECT public.atk_ddl('ALTER POLICY revos_tenant_isolation ON public.$v USING (true) WITH CHECK (true)')" ;;
      statement-trigger) setup="CREATE TRIGGER t AFTER UPDATE ON public.$l FOR EACH STATEMENT EXECUTE FUNCTION public.atk_ddl_trigger('ALTER POLICY revos_tenant_isolation ON public.$v USING (true) WITH CHECK (true)')" ;;
    esac
    q "SET ROLE atk_admin; CREATE TABLE public.$l (id serial PRIMARY KEY, name text); INSERT INTO public.$l (name) VALUES ('a'); $setup" >/dev/null \
      || die "b4 setup $kind"
    local m
    m=$(mark)
    check "adopting $l (backfill_tenant) with a $kind that opens $v's policy: applied" applied \
      "$(as atk_admin "SELECT revos.tenant_table('public.$l', '[]', '{\"backfill_tenant\": \"$T1\"}') -> 'result' ->> 'status'")"
    recorded "  ... the $kind's ALTER POLICY on $v is recorded" "$v" "$m"
    if [ "$kind" = trigger ]; then
      check "  ... and re-applying $v's version does not answer noop while its policy is USING (true) unrecorded" \
        "not-noop-or-recorded" "$(s=$(as atk_admin "SELECT revos.tenant_table('public.$v', '[{\"name\": \"secret\", \"type\": \"text\"}]') -> 'result' ->> 'status'");
          if [ "$s" != noop ] || [ "$(drift_on "public.$v" "$m")" -ge 1 ] || [ "$(qual "public.$v")" != true ]; then echo not-noop-or-recorded; else echo "noop, policy: true"; fi)"
      q "SET ROLE atk_admin; SELECT revos.set_tenant('$T2'); INSERT INTO public.$v (secret) VALUES ('t2 secret')" >/dev/null
      q "GRANT SELECT ON public.$v TO atk_app" >/dev/null
      check "  ... and tenant $T1 reads no row of tenant $T2 in $v, unless the policy's opening is in the ledger" safe \
        "$(n=$(as atk_app "SELECT revos.set_tenant('$T1'); SELECT count(*) FROM public.$v WHERE tenant_id = '$T2'" | tail -1);
           if [ "$n" = 0 ] || [ "$(drift_on "public.$v" "$m")" -ge 1 ]; then echo safe; else echo "tenant $T1 reads $n row(s) of $T2, unrecorded"; fi)"
    fi
  done
  managed b4_deferred
  q "SET ROLE atk_admin; CREATE TABLE public.b4_legacy_deferred (id serial PRIMARY KEY, name text); INSERT INTO public.b4_legacy_deferred (name) VALUES ('a');
     CREATE CONSTRAINT TRIGGER t AFTER UPDATE ON public.b4_legacy_deferred DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
       EXECUTE FUNCTION public.atk_ddl_trigger('ALTER POLICY revos_tenant_isolation ON public.b4_deferred USING (true)')" >/dev/null
  m=$(mark)
  local st
  st=$(as atk_admin "SELECT revos.tenant_table('public.b4_legacy_deferred', '[]', '{\"backfill_tenant\": \"$T1\"}') -> 'result' ->> 'status'")
  check "a deferred constraint trigger queued by the backfill: the apply fails (pending trigger events) or its DDL at COMMIT is recorded" \
    safe "$(if [ "$st" != applied ] || [ "$(drift_on public.b4_deferred "$m")" -ge 1 ]; then echo safe; else echo "applied, not recorded"; fi)"
}

# B5. DDL that changes a managed table through objects the capture does not look at
attack_uncaptured_objects() {
  echo "# B5. rules, statistics, inheritance on a managed table"
  managed b5
  local m
  attempt "CREATE RULE ... ON INSERT TO a managed table DO INSTEAD NOTHING: recorded" b5 "CREATE RULE atk_void AS ON INSERT TO public.b5 DO INSTEAD NOTHING"
  attempt "ALTER RULE ... RENAME on a managed table: recorded" b5 "ALTER RULE atk_void ON public.b5 RENAME TO atk_void2"
  attempt "DROP RULE on a managed table: recorded" b5 "DROP RULE atk_void2 ON public.b5"
  attempt "CREATE TABLE ... INHERITS (a managed table): recorded" b5 "CREATE TABLE public.b5_child (extra int) INHERITS (public.b5)"
  attempt "CREATE STATISTICS on a managed table: recorded" b5 "CREATE STATISTICS public.b5_st ON secret, tenant_id FROM public.b5"
}

# B6. DROP ... CASCADE of an object a managed table depends on: PostgreSQL drops the dependent
# check, default, index, foreign key or column of the managed table with it — and the owner of the
# function, type or table (here a plain role) need not own the managed table.
attack_cascades() {
  echo "# B6. cascaded drops on a managed table by the owner of what it depends on"
  q - >/dev/null <<'SQL'
SET ROLE atk_owner;
CREATE FUNCTION public.atk_positive(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 > 0';
CREATE FUNCTION public.atk_one() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION public.atk_big(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 > 100';
CREATE TYPE public.atk_mood AS ENUM ('calm', 'angry');
CREATE TABLE public.b6_parent (id int PRIMARY KEY);
CREATE TABLE public.b6_parent2 (id int PRIMARY KEY);
GRANT SELECT, REFERENCES ON public.b6_parent, public.b6_parent2 TO atk_admin;
SQL
  check "atk_admin's b6 with a check, a default and an index predicate calling atk_owner's functions and a column of its type: refused (untrusted_name: public, where atk_owner may create)" \
    "blocked|untrusted_name" "$(as atk_admin "SELECT r -> 'result' ->> 'status' || '|' || coalesce(r -> 'result' -> 'error' ->> 'sqlstate',
      r -> 'result' -> 'validation_errors' -> 0 ->> 'code')
      FROM revos.apply_schema('{\"schema_version\": \"atk-b6x\", \"description\": \"x\", \"tables\": [{\"name\": \"b6x\",
      \"columns\": [{\"name\": \"n\", \"type\": \"int\", \"check\": \"public.atk_positive(n)\", \"default\": \"public.atk_one()\"},
                    {\"name\": \"mood\", \"type\": \"public.atk_mood\"}],
      \"indexes\": [{\"columns\": [\"n\"], \"where\": \"public.atk_big(n)\"}]}]}') r")"
  # what it may depend on: its own functions and type, and foreign keys to atk_owner's tables
  q - >/dev/null <<'SQL'
SET ROLE atk_admin;
CREATE FUNCTION adm.adm_positive(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 > 0';
CREATE FUNCTION adm.adm_one() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE FUNCTION adm.adm_big(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT $1 > 100';
CREATE TYPE adm.adm_mood AS ENUM ('calm', 'angry');
SQL
  check "atk_admin applies b6 (a check, a default and an index predicate calling its own functions, a column of its own type, two foreign keys to atk_owner's tables)" \
    applied "$(as atk_admin "SELECT revos.apply_schema('{\"schema_version\": \"atk-b6\", \"description\": \"x\", \"tables\": [{\"name\": \"b6\",
      \"columns\": [{\"name\": \"n\", \"type\": \"int\", \"check\": \"adm.adm_positive(n)\", \"default\": \"adm.adm_one()\"},
                    {\"name\": \"mood\", \"type\": \"adm.adm_mood\"},
                    {\"name\": \"p\", \"type\": \"int\", \"references\": {\"table\": \"public.b6_parent\", \"column\": \"id\"}},
                    {\"name\": \"p2\", \"type\": \"int\", \"references\": {\"table\": \"public.b6_parent2\", \"column\": \"id\"}}],
      \"indexes\": [{\"columns\": [\"n\"], \"where\": \"adm.adm_big(n)\"}]}]}') -> 'result' ->> 'status'")"
  local c m
  for c in "atk_admin|DROP FUNCTION adm.adm_positive(int) CASCADE|the check" \
           "atk_admin|DROP FUNCTION adm.adm_one() CASCADE|the default" \
           "atk_admin|DROP FUNCTION adm.adm_big(int) CASCADE|the partial index" \
           "atk_admin|DROP TYPE adm.adm_mood CASCADE|the column mood" \
           "atk_owner|DROP TABLE public.b6_parent CASCADE|the foreign key on p" \
           "atk_owner|ALTER TABLE public.b6_parent2 DROP CONSTRAINT b6_parent2_pkey CASCADE|the foreign key on p2"; do
    local who=${c%%|*} rest=${c#*|}
    m=$(mark)
    q "SET ROLE $who; ${rest%%|*}" >/dev/null
    recorded "$who runs ${rest%%|*}, dropping ${rest#*|} of managed b6: recorded" b6 "$m"
  done
}

# B7. Schema-level and ownership DDL around managed tables
attack_schema_level() {
  echo "# B7. the schema, the enum types and the owner of managed tables"
  check "atk_admin applies b7s.acct with the enum b7s.status" applied \
    "$(as atk_admin "SELECT revos.apply_schema('{\"schema_version\": \"atk-b7\", \"description\": \"x\",
       \"enums\": [{\"schema\": \"b7s\", \"name\": \"status\", \"values\": [\"open\", \"closed\"]}],
       \"tables\": [{\"schema\": \"b7s\", \"name\": \"acct\", \"columns\": [{\"name\": \"s\", \"type\": \"b7s.status\"}]}]}') -> 'result' ->> 'status'")"
  local m n
  m=$(mark)
  q "SET ROLE atk_admin; ALTER TYPE b7s.status RENAME VALUE 'open' TO 'anything'" >/dev/null
  n=$(q "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected' AND id > $m")
  check "ALTER TYPE ... RENAME VALUE of an enum revos created (a managed table's column type): recorded" recorded \
    "$([ "$n" -ge 1 ] && echo recorded || echo "not recorded")"
  m=$(mark)
  q "SET ROLE atk_admin; ALTER SCHEMA b7s RENAME TO b7s_moved" >/dev/null
  n=$(q "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected' AND id > $m")
  check "ALTER SCHEMA ... RENAME of the schema of a managed table: recorded" recorded \
    "$([ "$n" -ge 1 ] && echo recorded || echo "not recorded")"
  q "SET ROLE atk_admin; ALTER SCHEMA b7s_moved RENAME TO b7s" >/dev/null
  m=$(mark)
  local ext
  ext=$(trusted_extension)
  q "SET ROLE atk_admin; CREATE EXTENSION $ext SCHEMA public; ALTER EXTENSION $ext ADD TABLE b7s.acct" >/dev/null
  check "ALTER EXTENSION (a trusted one atk_admin created: $ext) ADD TABLE a managed table (pg_dump then leaves it out): recorded" recorded \
    "$(n=$(drift_on b7s.acct "$m"); [ "$n" -ge 1 ] && echo recorded || echo "not recorded")"
  q "SET ROLE atk_admin; ALTER EXTENSION $ext DROP TABLE b7s.acct" >/dev/null
  check "atk_admin2 applies b7_reown" applied \
    "$(as atk_admin2 "SELECT revos.tenant_table('public.b7_reown', '[]') -> 'result' ->> 'status'")"
  m=$(mark)
  q "SET ROLE atk_admin2; REASSIGN OWNED BY atk_admin2 TO atk_other" >/dev/null
  check_or_gap "REASSIGN OWNED (no event trigger fires) changes a managed table's owner: recorded" recorded \
    "$(o=$(q "SELECT relowner::regrole FROM pg_class WHERE oid = 'public.b7_reown'::regclass"); n=$(drift_on public.b7_reown "$m");
       [ "$o" = atk_admin2 ] || [ "$n" -ge 1 ] && echo recorded || echo "not recorded (owner now $o)")" \
    "REASSIGN OWNED fires no event trigger (docs/security.md)"
}

# A trusted extension a plain role may create: citext where the server ships it; the PyPI builds of 16
# and 17 ship no trusted extension but plpgsql, so there the suite installs its own (an empty one marked
# trusted, as a superuser could), rather than the attempt silently failing and reading as "not recorded".
trusted_extension() {
  if [ "$(q "SELECT count(*) FROM pg_available_extensions WHERE name = 'citext'")" = 1 ]; then echo citext; return; fi
  local dir
  dir="$("${PG_CONFIG:?}" --sharedir)/extension"
  printf "comment = 'revos tests: an empty trusted extension'\ndefault_version = '1.0'\ntrusted = true\nrelocatable = true\n" \
    >"$dir/revos_atk_trusted.control"
  echo "-- an empty trusted extension for tests/attacks.sh" >"$dir/revos_atk_trusted--1.0.sql"
  echo revos_atk_trusted
}

# B8. Changing what a managed table's check calls, without touching the table
attack_replaced_function() {
  echo "# B8. CREATE OR REPLACE of a function a managed table's check calls"
  q "SET ROLE atk_admin; CREATE FUNCTION adm.atk_valid(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT \$1 BETWEEN 1 AND 10'" >/dev/null
  as atk_admin "SELECT revos.apply_schema('{\"schema_version\": \"atk-b8\", \"description\": \"x\", \"tables\": [{\"name\": \"b8\",
    \"columns\": [{\"name\": \"n\", \"type\": \"int\", \"check\": \"adm.atk_valid(n)\"}]}]}')" >/dev/null
  local m
  attempt "the check of managed b8 now accepts everything (its function replaced): recorded" b8 "CREATE OR REPLACE FUNCTION adm.atk_valid(int) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT true'"
}

# B9. The capture's snapshot is a setting anyone can set: a plain role's DDL, whose own code runs in
# the middle of the command, makes revos record a drift event naming a managed table it never touched.
attack_forged_snapshot() {
  echo "# B9. a forged revos.drift_snapshot"
  local m
  m=$(mark)
  q - >/dev/null <<'SQL'
SET ROLE atk_owner;
CREATE DOMAIN public.atk_dom AS int;
CREATE TABLE public.b9_own (x public.atk_dom);
INSERT INTO public.b9_own VALUES (1);
CREATE FUNCTION public.atk_forge(int) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN
  PERFORM pg_catalog.set_config('revos.drift_snapshot', pg_catalog.jsonb_build_object(
    'pg_type'::regclass::oid::text || ':' || 'public.atk_dom'::regtype::oid::text, 'public.a_victim'::regclass::oid)::text, true);
  RETURN true; END $$;
ALTER DOMAIN public.atk_dom ADD CONSTRAINT c CHECK (public.atk_forge(VALUE));
SQL
  check "atk_owner's ALTER DOMAIN on its own domain is not recorded as drift of atk_admin's public.a_victim" 0 \
    "$(drift_on public.a_victim "$m")"
}

# B10. A managed table is only "a table with a marker" (a policy named revos_tenant_isolation or a
# trigger named revos_touch_updated_at): renamed away, the table is no longer watched.
attack_unmanage() {
  echo "# B10. the markers renamed away and back"
  managed b10
  local m
  m=$(mark)
  q "SET ROLE atk_admin; ALTER TRIGGER revos_touch_updated_at ON public.b10 RENAME TO x_t;
     ALTER POLICY revos_tenant_isolation ON public.b10 RENAME TO x_p" >/dev/null
  q "SET ROLE atk_admin; ALTER POLICY x_p ON public.b10 USING (true) WITH CHECK (true)" >/dev/null
  q "SET ROLE atk_admin; ALTER POLICY x_p ON public.b10 RENAME TO revos_tenant_isolation;
     ALTER TRIGGER x_t ON public.b10 RENAME TO revos_touch_updated_at" >/dev/null
  check "the renames are recorded, and so is the ALTER POLICY ... USING (true) made while the markers were away" \
    "ALTER TRIGGER,ALTER POLICY,ALTER POLICY,ALTER POLICY,ALTER TRIGGER" \
    "$(q "SELECT string_agg(payload ->> 'command_tag', ',' ORDER BY id) FROM revos.events
           WHERE event_type = 'schema_drift_detected' AND subject_id = 'public.b10' AND id > $m")"
}

# ---- the end state ----------------------------------------------------------------------------
end_state() {
  echo "# end state"
  check "no attacker role changed its attributes or memberships (superuser, createrole, bypassrls, grants of roles)" \
    "$PRIVS_BEFORE" "$(privileges)"
  check "no attacker holds a privilege on revos's ledgers beyond its grants" "" \
    "$(q "SELECT string_agg(r || ':' || t || ':' || p, ',') FROM unnest(ARRAY['atk_admin', 'atk_owner', 'atk_app']) r,
            unnest(ARRAY['revos.events', 'revos.schema_migrations', 'revos.event_chain_heads', 'revos.payload_memo']) t,
            unnest(ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p WHERE has_table_privilege(r, t, p)")"
  check "verify_ledger() ok" true "$(q "SELECT revos.verify_ledger() ->> 'ok'")"
}

setup
attack_lookalikes
attack_role_setting
attack_temp_catalog
attack_path_mid_apply
attack_temp_objects
attack_foreign_tables
attack_overload
attack_log_event
attack_verifiers

# B11. An overload planted for a superuser's apply (the adversarial review of the online branch): the
# index predicate names public.sq_norm(text); atk_owner planted public.sq_norm(varchar), a better match
# for a varchar column, which makes atk_owner a superuser when it runs as one. A superuser's apply used
# to accept it (every role counted as "the caller's"), and the online form built the index after the
# commit, running the overload before any check. Each form alone: refused, rolled back, no superuser.
attack_superuser_overload() {
  echo "# B11. an overload planted in public for a superuser's apply (online and blocking form)"
  as atk_owner "CREATE FUNCTION public.sq_escalate() RETURNS boolean LANGUAGE plpgsql VOLATILE AS \$f\$
      BEGIN
        IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
          EXECUTE 'ALTER ROLE atk_owner SUPERUSER';
        END IF;
        RETURN true;
      END \$f\$" >/dev/null
  q "CREATE FUNCTION public.sq_norm(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower(\$1)'" >/dev/null
  as atk_owner "CREATE FUNCTION public.sq_norm(varchar) RETURNS text LANGUAGE plpgsql IMMUTABLE AS \$f\$
      BEGIN PERFORM public.sq_escalate(); RETURN lower(\$1); END \$f\$" >/dev/null
  local mode t out st
  for mode in true false; do
    t=sq_online_$mode
    q "SELECT revos.apply_schema('{\"schema_version\": \"$t-1\", \"description\": \"x\", \"tables\": [{\"name\": \"$t\",
        \"tenant_scoped\": false, \"columns\": [{\"name\": \"code\", \"type\": \"varchar(20)\"}]}]}')" >/dev/null
    q "INSERT INTO public.$t (code) SELECT 'c' || g FROM generate_series(1, 5) g; ANALYZE public.$t" >/dev/null
    out=$(q "SELECT revos.apply_schema('{\"schema_version\": \"$t-2\", \"description\": \"x\", \"options\": {\"online\": $mode},
        \"tables\": [{\"name\": \"$t\", \"tenant_scoped\": false, \"columns\": [{\"name\": \"code\", \"type\": \"varchar(20)\"}],
        \"indexes\": [{\"name\": \"${t}_norm\", \"columns\": [\"code\"], \"where\": \"public.sq_norm(code) <> ''x''\"}]}]}')")
    st=$(status_of "$out")
    # whatever ran after the commit has had its chance: wait for the deferred steps (20 s at most)
    for _ in $(seq 40); do
      [ "$(q "SELECT count(*) FROM revos.deferred_steps WHERE status IN ('pending', 'running')" 2>/dev/null || echo 0)" = 0 ] && break
      sleep 0.5
    done
    check "superuser's apply with options.online $mode: the planted overload is refused (blocked, untrusted_name: public, where atk_owner may create)" \
      "blocked untrusted_name" "$(verdict_of "$out")"
    check "  ... and atk_owner is not a superuser" f "$(q "SELECT rolsuper FROM pg_roles WHERE rolname = 'atk_owner'")"
    check "  ... and no index binds the overload" 0 "$(q "SELECT count(*) FROM pg_class WHERE relname = '${t}_norm'")"
  done
  # the overload makes itself look trusted while it runs as the superuser (a check after the DDL
  # cannot see through that): refused before anything runs
  as atk_owner "CREATE FUNCTION public.sq_norm2(varchar) RETURNS text LANGUAGE plpgsql IMMUTABLE AS \$f\$
      BEGIN PERFORM public.sq_escalate(); PERFORM public.sq_disguise(); RETURN lower(\$1); END \$f\$;
    CREATE FUNCTION public.sq_disguise() RETURNS boolean LANGUAGE plpgsql VOLATILE AS \$f\$
      BEGIN
        IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
          EXECUTE 'ALTER FUNCTION public.sq_norm2(varchar) OWNER TO ' || pg_catalog.quote_ident(current_user);
        END IF;
        RETURN true;
      END \$f\$" >/dev/null
  q "CREATE FUNCTION public.sq_norm2(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT lower(\$1)'" >/dev/null
  t=sq_online_false
  out=$(q "SELECT revos.apply_schema('{\"schema_version\": \"$t-3\", \"description\": \"x\",
      \"tables\": [{\"name\": \"$t\", \"tenant_scoped\": false, \"columns\": [{\"name\": \"code\", \"type\": \"varchar(20)\"}],
      \"indexes\": [{\"name\": \"${t}_norm2\", \"columns\": [\"code\"], \"where\": \"public.sq_norm2(code) <> ''x''\"}]}]}')")
  check "superuser's apply, an overload that would hand itself to the superuser: refused before it runs (blocked, untrusted_name)" \
    "blocked untrusted_name" "$(verdict_of "$out")"
  check "  ... atk_owner is not a superuser and still owns its overload" "false atk_owner" \
    "$(q "SELECT (SELECT rolsuper FROM pg_roles WHERE rolname = 'atk_owner') || ' ' || (SELECT proowner::regrole FROM pg_proc WHERE oid = 'public.sq_norm2(varchar)'::regprocedure)")"
}


# B12. set_tenant() decided by anyone's table (the adversarial review): a table, or a temporary one, of
# any role whose default calls revos.current_tenant_id() with another type made every set_tenant()
# refuse the database's real tenants (and named that table to every caller). Each alone.
attack_set_tenant_squat() {
  echo "# B12. a table with revos.current_tenant_id() as its default, of a role revos does not serve"
  local got
  got=$(qdb "$T" "SET ROLE atk_owner; CREATE TEMP TABLE sq_t (x int DEFAULT revos.current_tenant_id()::int);
                  SET ROLE atk_app; SELECT revos.set_tenant('$T1')" 2>&1)
  check "a temporary table of atk_owner does not decide set_tenant's type" "$T1" "$(tail -1 <<<"$got")"
  as atk_owner "CREATE TABLE public.sq_tenant_squat (x int DEFAULT revos.current_tenant_id()::int)" >/dev/null
  got=$(as atk_app "SELECT revos.set_tenant('$T1')" 2>&1)
  check "a table of atk_owner in public does not decide set_tenant's type" "$T1" "$(tail -1 <<<"$got")"
  q "DROP TABLE public.sq_tenant_squat" >/dev/null
}

# B13. A membership table squatted (the adversarial review of issue 25's membership mode): atk_owner
# (CREATE on public) creates public.m_account_user before a superuser applies a payload that declares
# it as the membership table. The apply adopted it: RLS enabled, not forced, so its owner atk_owner
# could insert any (user, tenant) row — and the tenant tables' policy, which reads it, then showed that
# user every tenant's rows. Refused (failed, 42501): a policy reads a table of a role neither the
# caller's nor a superuser's.
attack_membership_squat() {
  echo "# B13. a membership table pre-created by another role, adopted by a superuser's apply"
  as atk_owner "CREATE TABLE public.m_account_user (user_id uuid NOT NULL, tenant_id uuid NOT NULL,
                  PRIMARY KEY (user_id, tenant_id))" >/dev/null
  local out
  out=$(q "SELECT revos.apply_schema('{\"schema_version\": \"m-squat-1\", \"description\": \"x\",
      \"options\": {\"tenancy\": {\"mode\": \"membership\", \"table\": \"m_account_user\"}},
      \"tables\": [{\"name\": \"m_account_user\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false,
                    \"primary_key\": [\"user_id\", \"tenant_id\"],
                    \"columns\": [{\"name\": \"user_id\", \"type\": \"uuid\", \"not_null\": true},
                                  {\"name\": \"tenant_id\", \"type\": \"uuid\", \"not_null\": true}]},
                   {\"name\": \"m_notes\", \"soft_delete\": false, \"columns\": [{\"name\": \"body\", \"type\": \"text\"}]}]}')")
  check "superuser's apply declaring atk_owner's table as the membership table: refused (failed, 42501)" "failed 42501" \
    "$(status_of "$out") $(sed -n 's/.*"sqlstate": "\([0-9A-Z]*\)".*/\1/p' <<<"$out" | head -1)"
  check "  ... no policy reads it, and no tenant table was left" "0 0" \
    "$(q "SELECT (SELECT count(*) FROM pg_depend WHERE classid = 'pg_policy'::regclass AND refobjid = 'public.m_account_user'::regclass)
            || ' ' || (SELECT count(*) FROM pg_class WHERE relname = 'm_notes')")"
  q "DROP TABLE public.m_account_user" >/dev/null
}

# B16. Planning a count runs a table's index predicate's constant calls (the fifth adversarial
# review): revos counts a table's rows as the extension's owner (a superuser) so that row-level
# security hides none. A revos_admin member's IMMUTABLE function in a partial index of its own table
# ran as the superuser through plan_schema alone; and a superuser's payload referencing a plain
# role's such table ran it too. The function advances a sequence (not rolled back) when it runs as a
# superuser. Each alone: the member's plan_schema on its table; a superuser's plan_schema whose column
# references the plain role's table.
spy_fn() { # ROLE NAME: a sequence NAME_ran and an IMMUTABLE NAME_f(integer) that advances it as a superuser
  as "$1" "CREATE SEQUENCE public.$2_ran; GRANT USAGE ON SEQUENCE public.$2_ran TO PUBLIC;
    CREATE FUNCTION public.$2_f(integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS \$f\$
      BEGIN
        IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
          PERFORM pg_catalog.nextval('public.$2_ran');
        END IF;
        RETURN \$1;
      END \$f\$;
    CREATE FUNCTION public.$2_trig() RETURNS trigger LANGUAGE plpgsql AS \$f\$
      BEGIN PERFORM public.$2_f(1); RETURN NEW; END \$f\$" >/dev/null
}
attack_index_predicate_planning() {
  echo "# B16. a table's index predicate calling its owner's IMMUTABLE function, planned as a superuser"
  local who t out
  for who in atk_admin atk_owner; do
    t=b16_$who
    spy_fn "$who" "$t"
    as "$who" "CREATE TABLE public.$t (id integer PRIMARY KEY); INSERT INTO public.$t VALUES (1);
      CREATE INDEX ${t}_p ON public.$t (id) WHERE public.${t}_f(0) = 0" >/dev/null
  done
  out=$(as atk_admin "SELECT revos.plan_schema('{\"schema_version\": \"b16-1\", \"description\": \"x\",
      \"tables\": [{\"name\": \"b16_atk_admin\", \"columns\": [{\"name\": \"id\", \"type\": \"integer\"}]}]}') -> 'result' ->> 'status'")
  check "atk_admin's plan_schema on its own table answers ($out)" "t" "$([ -n "$out" ] && echo t)"
  check "  ... atk_admin's function never ran as a superuser" f "$(q "SELECT is_called FROM public.b16_atk_admin_ran")"
  out=$(q "SELECT revos.plan_schema('{\"schema_version\": \"b16-2\", \"description\": \"x\", \"tables\": [{\"name\": \"b16_ref\",
      \"columns\": [{\"name\": \"owner_id\", \"type\": \"integer\", \"references\": {\"table\": \"b16_atk_owner\", \"column\": \"id\"}}]}]}') -> 'result' ->> 'status'")
  check "a superuser's plan_schema referencing atk_owner's table answers ($out)" "t" "$([ -n "$out" ] && echo t)"
  check "  ... atk_owner's function never ran as a superuser" f "$(q "SELECT is_called FROM public.b16_atk_owner_ran")"
}

# B17. Around B16's check (the sixth adversarial review): the count was planned as a superuser once a
# check had found no other role's code on the table and its children. (a) a partitioned parent's key
# expression, not checked, is evaluated while planning a count over a partition under a caller-set
# constraint_exclusion = on; (b) no lock kept the table as checked: its owner, holding a lock, added
# the index after the check and before the count; (c) a REPEATABLE READ caller's snapshot hid from the
# check an index the planner used; (d) a foreign key's target got the index between the check and
# the ALTER that validates the key; (e) a payload table of a revos_admin member got a trigger
# between the check and the backfill UPDATE. Each alone; the function (or trigger) advances a
# sequence when it runs as a superuser.
b17_hold() { # ROLE TABLE SQL: ROLE holds TABLE ACCESS EXCLUSIVE for 3 s, then runs SQL and commits
  psql -X -q -At -d "$T" >/dev/null 2>&1 <<SQL &
SET ROLE $1;
BEGIN;
LOCK TABLE public.$2 IN ACCESS EXCLUSIVE MODE;
SELECT pg_sleep(3);
$3;
COMMIT;
SQL
  B17_PID=$!
  sleep 1
}
b17_ran() { q "SELECT is_called FROM public.$1_ran"; }
attack_around_the_count_check() {
  echo "# B17. around the check before a count or a key: a parent's key, a lock-free window, an old snapshot"
  local out
  # (a) the partitioned parent's key expression, constraint_exclusion = on
  spy_fn atk_admin b17a
  as atk_admin "CREATE TABLE public.b17a (id integer) PARTITION BY RANGE ((id + public.b17a_f(0)));
    CREATE TABLE public.b17a_c1 PARTITION OF public.b17a FOR VALUES FROM (0) TO (100);
    INSERT INTO public.b17a VALUES (1)" >/dev/null
  out=$(as atk_admin "SET constraint_exclusion = on; SELECT revos.plan_schema('{\"schema_version\": \"b17-a\", \"description\": \"x\",
      \"options\": {\"backfill_tenant\": \"$T1\"},
      \"tables\": [{\"name\": \"b17a_c1\", \"columns\": [{\"name\": \"id\", \"type\": \"integer\", \"not_null\": true}]}]}') -> 'result' ->> 'status'")
  check "(a) atk_admin's plan_schema on a partition of its parent keyed by its function answers ($out)" t "$([ -n "$out" ] && echo t)"
  check "  ... the parent's key function never ran as a superuser" f "$(b17_ran b17a)"
  # (b) the index added after the check, before the count
  spy_fn atk_admin b17b
  as atk_admin "CREATE TABLE public.b17b (id integer); INSERT INTO public.b17b VALUES (1)" >/dev/null
  b17_hold atk_admin b17b "CREATE INDEX b17b_p ON public.b17b (id) WHERE public.b17b_f(0) = 0"
  out=$(as atk_admin "SELECT revos.plan_schema('{\"schema_version\": \"b17-b\", \"description\": \"x\",
      \"options\": {\"backfill_tenant\": \"$T1\"},
      \"tables\": [{\"name\": \"b17b\", \"columns\": [{\"name\": \"id\", \"type\": \"integer\", \"not_null\": true}]}]}') -> 'result' ->> 'status'")
  wait "$B17_PID"
  check "(b) atk_admin's plan_schema while it adds an index under its lock answers ($out)" t "$([ -n "$out" ] && echo t)"
  check "  ... the index predicate's function never ran as a superuser" f "$(b17_ran b17b)"
  # (c) a REPEATABLE READ snapshot taken before the index
  spy_fn atk_admin b17c
  as atk_admin "CREATE TABLE public.b17c (id integer); INSERT INTO public.b17c VALUES (1)" >/dev/null
  psql -X -q -At -d "$T" >/tmp/b17c.$$ 2>&1 <<SQL &
SET ROLE atk_admin;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM pg_catalog.pg_class;
SELECT pg_sleep(3);
SELECT revos.plan_schema('{"schema_version": "b17-c", "description": "x", "options": {"backfill_tenant": "$T1"},
  "tables": [{"name": "b17c", "columns": [{"name": "id", "type": "integer", "not_null": true}]}]}') -> 'result' ->> 'status';
COMMIT;
SQL
  local rr=$!
  sleep 1
  as atk_admin "CREATE INDEX b17c_p ON public.b17c (id) WHERE public.b17c_f(0) = 0" >/dev/null
  wait "$rr"
  check "(c) atk_admin's plan_schema in a REPEATABLE READ transaction older than its index answers" t \
    "$(tail -1 /tmp/b17c.$$ | grep -q . && echo t)"
  rm -f /tmp/b17c.$$
  check "  ... the index predicate's function never ran as a superuser" f "$(b17_ran b17c)"
  # (d) a foreign key's target gets the index between the check and the ALTER
  spy_fn atk_owner b17d
  as atk_owner "CREATE TABLE public.b17d (id integer PRIMARY KEY); INSERT INTO public.b17d VALUES (1)" >/dev/null
  q "CREATE TABLE public.b17d_ref (id integer PRIMARY KEY, owner_id integer); INSERT INTO public.b17d_ref VALUES (1, 1)" >/dev/null
  b17_hold atk_owner b17d "CREATE INDEX b17d_p ON public.b17d (id) WHERE public.b17d_f(0) = 0"
  out=$(q "SELECT revos.apply_schema('{\"schema_version\": \"b17-d\", \"description\": \"x\",
      \"tables\": [{\"name\": \"b17d_ref\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false,
                    \"columns\": [{\"name\": \"id\", \"type\": \"integer\", \"primary_key\": true},
                                  {\"name\": \"owner_id\", \"type\": \"integer\", \"references\": {\"table\": \"b17d\", \"column\": \"id\"}}]}]}')")
  wait "$B17_PID"
  check "(d) a superuser's apply adding a key to atk_owner's table while it adds an index: $(status_of "$out")" t "$([ -n "$(status_of "$out")" ] && echo t)"
  check "  ... the index predicate's function never ran as a superuser" f "$(b17_ran b17d)"
  # (e) a revos_admin member's payload table gets a trigger between the check and the backfill UPDATE
  spy_fn atk_admin b17e
  as atk_admin "CREATE TABLE public.b17e (secret text); INSERT INTO public.b17e VALUES ('row')" >/dev/null
  b17_hold atk_admin b17e "CREATE TRIGGER b17e BEFORE UPDATE ON public.b17e FOR EACH ROW EXECUTE FUNCTION public.b17e_trig()"
  out=$(q "SELECT revos.apply_schema('{\"schema_version\": \"b17-e\", \"description\": \"x\",
      \"options\": {\"backfill_tenant\": \"$T1\"},
      \"tables\": [{\"name\": \"b17e\", \"timestamps\": false, \"soft_delete\": false,
                    \"columns\": [{\"name\": \"secret\", \"type\": \"text\"}]}]}')")
  wait "$B17_PID"
  check "(e) a superuser's backfill of atk_admin's table while it adds a trigger: $(status_of "$out")" t "$([ -n "$(status_of "$out")" ] && echo t)"
  check "  ... the trigger never ran as a superuser" f "$(b17_ran b17e)"
}

# B18. The adversarial review of 1d8f8d6, each alone; the function or trigger advances a sequence when
# it runs as a superuser. F1: a check's violations were counted by a query planned as the (superuser)
# caller over atk_admin's table, whose partial index calls atk_admin's function (the live check NOT
# VALID forces the count). F2: a type change from atk_admin's domain was counted as the caller: the
# domain's CHECK ran for each row. F3: a foreign table inheriting from atk_admin's table sent the NULL
# count back to the planner, as the caller. F4: while the first statement waited for a reader's lock,
# atk_admin swapped a schema of its own under the checked table's schema name; the backfill UPDATE
# then ran on its table, with its trigger, as the superuser (plan_schema's rehearsal too).
# plain_plan TABLE VERSION COLUMNS [EXTRA]: a superuser's plan_schema of public.TABLE as a plain table
# (no tenant, no timestamps) with COLUMNS (JSON) and EXTRA keys; prints the status
plain_plan() {
  q "SELECT revos.plan_schema('{\"schema_version\": \"$2\", \"description\": \"x\", \"tables\": [{\"name\": \"$1\",
      \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false, \"columns\": $3${4:+, $4}}]}') -> 'result' ->> 'status'"
}
attack_review_1d8f8d6() {
  echo "# B18. a check's count, a domain's conversion, a foreign child, a schema swapped during a lock wait"
  local out fn v=0
  # F1
  spy_fn atk_admin b18a
  as atk_admin "CREATE TABLE public.b18a (id integer PRIMARY KEY, amount integer); INSERT INTO public.b18a VALUES (1, 5);
    ALTER TABLE public.b18a ADD CONSTRAINT b18a_pos CHECK (amount > 0) NOT VALID;
    CREATE INDEX b18a_p ON public.b18a (id) WHERE public.b18a_f(0) = 0" >/dev/null
  out=$(plain_plan b18a b18-a '[{"name": "id", "type": "integer", "primary_key": true}, {"name": "amount", "type": "integer"}]' \
    '"checks": [{"name": "b18a_pos", "expression": "amount > 0"}]')
  check "F1: a superuser's plan_schema declaring the NOT VALID check of atk_admin's table answers ($out)" t "$([ -n "$out" ] && echo t)"
  check "  ... the index predicate's function never ran as a superuser" f "$(b17_ran b18a)"
  # F2
  spy_fn atk_admin b18b
  as atk_admin "CREATE DOMAIN public.b18b_dom AS integer CHECK (public.b18b_f(VALUE) IS NOT NULL);
    CREATE TABLE public.b18b (id integer, c public.b18b_dom); INSERT INTO public.b18b VALUES (1, 5)" >/dev/null
  out=$(plain_plan b18b b18-b '[{"name": "id", "type": "integer"}, {"name": "c", "type": "bigint"}]')
  check "F2: a superuser's plan_schema changing atk_admin's domain column to bigint answers ($out)" t "$([ -n "$out" ] && echo t)"
  check "  ... the domain's check never ran as a superuser" f "$(b17_ran b18b)"
  # F3
  spy_fn atk_admin b18c
  q "CREATE EXTENSION IF NOT EXISTS postgres_fdw; CREATE SERVER b18_nowhere FOREIGN DATA WRAPPER postgres_fdw
       OPTIONS (host '127.0.0.1', port '1', dbname 'nothing');
     GRANT USAGE ON FOREIGN SERVER b18_nowhere TO atk_admin" >/dev/null
  as atk_admin "CREATE TABLE public.b18c (id integer, v text); INSERT INTO public.b18c VALUES (1, NULL);
    CREATE INDEX b18c_p ON public.b18c (id) WHERE public.b18c_f(0) = 0;
    CREATE FOREIGN TABLE public.b18c_remote () INHERITS (public.b18c) SERVER b18_nowhere OPTIONS (table_name 'nothing')" >/dev/null
  out=$(plain_plan b18c b18-c '[{"name": "id", "type": "integer"}, {"name": "v", "type": "text", "not_null": true}]')
  check "F3: a superuser's plan_schema on atk_admin's table with a foreign child answers ($out)" t "$([ -n "$out" ] && echo t)"
  check "  ... the index predicate's function never ran as a superuser" f "$(b17_ran b18c)"
  # F4, plan_schema and apply_schema
  spy_fn atk_admin b18d
  for fn in plan_schema apply_schema; do
    v=$((v + 1))
    q "SELECT pg_catalog.setval('public.b18d_ran', 1, false)" >/dev/null
    as atk_admin "CREATE SCHEMA b18_app$v; CREATE TABLE b18_app$v.t (secret text); INSERT INTO b18_app$v.t VALUES ('row');
      CREATE SCHEMA b18_evil$v; CREATE TABLE b18_evil$v.t (secret text); INSERT INTO b18_evil$v.t VALUES ('evil');
      CREATE TRIGGER spy BEFORE UPDATE ON b18_evil$v.t FOR EACH ROW EXECUTE FUNCTION public.b18d_trig()" >/dev/null
    race atk_admin "b18_app$v.t" "ALTER SCHEMA b18_app$v RENAME TO b18_old$v; ALTER SCHEMA b18_evil$v RENAME TO b18_app$v"
    out=$(PGAPPNAME=race_victim q "SELECT revos.$fn('{\"schema_version\": \"b18-d$v\", \"description\": \"x\",
        \"options\": {\"backfill_tenant\": \"$T1\", \"lock_timeout_ms\": 20000},
        \"tables\": [{\"name\": \"t\", \"schema\": \"b18_app$v\", \"timestamps\": false, \"soft_delete\": false,
                      \"columns\": [{\"name\": \"secret\", \"type\": \"text\"}]}]}') -> 'result' ->> 'status'")
    wait
    check "F4: a superuser's $fn while atk_admin swaps the table's schema under a reader's lock answers ($out)" t "$([ -n "$out" ] && echo t)"
    check "  ... atk_admin's trigger never ran as a superuser" f "$(b17_ran b18d)"
  done
}

# B19. The adversarial review of 5057330 (G1-G3), each alone: B18's schema lock came after the names
# were resolved, and only for the payload tables' schemas. G1: atk_admin held a lock on its table and,
# in the same transaction, swapped its schemas while revos's check waited for that lock; G2: atk_owner
# (a plain role owning the schema of a superuser's table) swapped them in a transaction left open
# before the apply started; G3: the schema of an enum the payload uses, or of a function a default
# calls, was swapped while the first ALTER waited for a reader. The trigger, domain check or function
# advances a sequence when it runs as a superuser.
b19_run() { # FN PAYLOAD: the superuser's call, as race_victim; prints its status
  PGAPPNAME=race_victim q "SELECT revos.$1('$2') -> 'result' ->> 'status'"
}
b19_backfill() { # VERSION SCHEMA: a payload backfilling SCHEMA.t's new tenant column
  echo "{\"schema_version\": \"$1\", \"description\": \"x\", \"options\": {\"backfill_tenant\": \"$T1\", \"lock_timeout_ms\": 20000},
      \"tables\": [{\"name\": \"t\", \"schema\": \"$2\", \"timestamps\": false, \"soft_delete\": false, \"columns\": [{\"name\": \"secret\", \"type\": \"text\"}]}]}"
}
# race ROLE TABLE ACTION: a reader's lock window. ROLE holds TABLE (ACCESS SHARE) from now on, in
# the background, 4 s at most. Once the holder blocks the session named race_victim (pg_blocking_pids: not
# any lock wait, such as revos's apply lock), or after 2 s if it never does (revos refusing
# before it locks), ROLE runs ACTION; once ACTION is done, or 2 s later if it waits itself (for the
# victim), the holder's transaction ends (it only locked: terminated, as a rollback). The victim runs with
# PGAPPNAME=race_victim after `race` returns; then `wait`. Until 2026-12-06 the window was timed: the
# holder slept 4 s, ACTION ran at 2 s, the victim started at 0.5 s and waited for the lock by then; the order
# of events is that one, without the waits. A holder never seen (application_name overridden by the DSN?)
# is a failure, not a silent fallback to the timing.
race() {
  local i seen=0
  PGAPPNAME=race_hold as "$1" "BEGIN; LOCK TABLE $2 IN ACCESS SHARE MODE; SELECT pg_sleep(4); COMMIT" >/dev/null 2>&1 &
  for i in $(seq 100); do # the holder holds its lock before the victim starts
    [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'race_hold'
              AND l.locktype = 'relation' AND l.granted AND l.relation = '$2'::regclass")" = 1 ] && { seen=1; break; }
    sleep 0.05
  done
  [ "$seen" = 1 ] || bad "race: $1's lock on $2 (application_name race_hold) held before the call" 1 0
  (
    for i in $(seq 40); do
      [ "$(q "SELECT count(*) FROM pg_stat_activity v, pg_stat_activity h WHERE v.application_name = 'race_victim'
                AND h.application_name = 'race_hold' AND h.pid = ANY (pg_catalog.pg_blocking_pids(v.pid))")" = 1 ] && break
      sleep 0.05
    done
    as "$1" "$3" >/dev/null 2>&1 &
    local act=$! j
    for j in $(seq 40); do
      kill -0 "$act" 2>/dev/null || break
      sleep 0.05
    done
    q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'race_hold'" >/dev/null
    wait "$act"
  ) &
}
# worker_pause APPNAME: the superuser's deferred worker is held back for 4 s (in the background,
# PAUSE_PID), once no worker of the superuser's is left from an earlier section, and waits until it is.
# The attacker took the worker's lock itself until 2026-12-06 (an advisory lock anyone could take); no SQL
# function reaches it since (online.sh, "any role's advisory locks"), so a superuser session holds it
# through the test hook of revos's library, as a worker slow to start would leave the attacker the time.
worker_pause() {
  local su i
  su=$(q "SELECT oid FROM pg_roles WHERE rolname = current_user")
  for i in $(seq 60); do
    [ "$(q "SELECT (SELECT count(*) FROM revos.deferred_steps WHERE status = 'running')
                 + (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = x'72766466'::int::oid
                      AND objid = $su AND objsubid = 29302)")" = 0 ] && break
    sleep 0.5
  done
  PGAPPNAME=$1 q "CREATE FUNCTION pg_temp.hold_worker_lock(oid) RETURNS boolean LANGUAGE c STRICT
                    AS '\$libdir/revos', 'hold_worker_lock_wrapper';
                  SELECT pg_temp.hold_worker_lock($su); SELECT pg_sleep(4)" >/dev/null 2>&1 &
  PAUSE_PID=$!
  for i in $(seq 50); do
    [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted
              AND l.classid = x'72766466'::int::oid AND l.objid = $su AND l.objsubid = 29302 AND a.application_name = '$1'")" = 1 ] && break
    sleep 0.1
  done
}

# fn_schema_swap FN VERSION TABLE SCHEMA_SQL SCHEMA_JSON SPY: a superuser's FN of a payload adding to
# atk_admin's public.TABLE a column whose default calls SCHEMA.gen() (the superuser's function, in a schema
# atk_admin owns), while a reader's lock holds the first ALTER and atk_admin swaps TABLE_evil (its own gen()
# calling public.SPY_f) in under the schema's name; prints the status
fn_schema_swap() {
  local fn=$1 v=$2 t=$3 s=$4 js=$5 spy=$6
  q "CREATE SCHEMA $s AUTHORIZATION atk_admin; CREATE FUNCTION $s.gen() RETURNS integer LANGUAGE sql VOLATILE AS 'SELECT 1';
     GRANT USAGE ON SCHEMA $s TO PUBLIC" >/dev/null
  as atk_admin "CREATE SCHEMA ${t}_evil; CREATE FUNCTION ${t}_evil.gen() RETURNS integer LANGUAGE plpgsql VOLATILE AS \$f\$ BEGIN RETURN public.${spy}_f(1); END \$f\$;
    CREATE TABLE public.$t (id integer); INSERT INTO public.$t VALUES (1)" >/dev/null
  race atk_admin "public.$t" "ALTER SCHEMA $s RENAME TO ${t}_old; ALTER SCHEMA ${t}_evil RENAME TO $s"
  b19_run "$fn" "{\"schema_version\": \"$v\", \"description\": \"x\", \"tables\": [{\"name\": \"$t\", \"tenant_scoped\": false, \"timestamps\": false,
      \"soft_delete\": false, \"columns\": [{\"name\": \"id\", \"type\": \"integer\"}, {\"name\": \"n\", \"type\": \"integer\", \"default\": \"$js.gen()\"}]}]}"
  wait
}
attack_review_5057330() {
  echo "# B19. schemas swapped before the names are resolved, and the schemas of enums and functions"
  local out p
  spy_fn atk_admin b19
  q "GRANT CREATE ON DATABASE $DB TO atk_owner" >/dev/null
  spy_fn atk_owner b19o
  # G1
  as atk_admin "CREATE SCHEMA b19_g1; CREATE TABLE b19_g1.t (secret text); INSERT INTO b19_g1.t VALUES ('row');
    CREATE SCHEMA b19_g1_evil; CREATE TABLE b19_g1_evil.t (secret text); INSERT INTO b19_g1_evil.t VALUES ('evil');
    CREATE TRIGGER spy BEFORE UPDATE ON b19_g1_evil.t FOR EACH ROW EXECUTE FUNCTION public.b19_trig()" >/dev/null
  psql -X -q -At -d "$T" >/dev/null 2>&1 <<SQL &
SET ROLE atk_admin;
BEGIN;
LOCK TABLE b19_g1.t IN SHARE UPDATE EXCLUSIVE MODE;
SELECT pg_sleep(3);
ALTER SCHEMA b19_g1 RENAME TO b19_g1_old; ALTER SCHEMA b19_g1_evil RENAME TO b19_g1;
COMMIT;
SQL
  p=$(b19_backfill b19-1 b19_g1)
  sleep 0.5 # the holder first
  out=$(b19_run plan_schema "$p"); wait
  check "G1: a superuser's plan_schema while atk_admin swaps its schemas under its own lock answers ($out)" t "$([ -n "$out" ] && echo t)"
  check "  ... atk_admin's trigger never ran as a superuser" f "$(b17_ran b19)"
  # G2
  q "CREATE SCHEMA b19_g2 AUTHORIZATION atk_owner; CREATE TABLE b19_g2.t (secret text); INSERT INTO b19_g2.t VALUES ('row');
     GRANT SELECT ON b19_g2.t TO atk_owner" >/dev/null
  as atk_owner "CREATE SCHEMA b19_g2_evil; CREATE TABLE b19_g2_evil.t (secret text); INSERT INTO b19_g2_evil.t VALUES ('evil');
    CREATE TRIGGER spy BEFORE UPDATE ON b19_g2_evil.t FOR EACH ROW EXECUTE FUNCTION public.b19o_trig()" >/dev/null
  psql -X -q -At -d "$T" >/dev/null 2>&1 <<SQL &
SET ROLE atk_owner;
BEGIN;
ALTER SCHEMA b19_g2 RENAME TO b19_g2_old; ALTER SCHEMA b19_g2_evil RENAME TO b19_g2;
SELECT pg_sleep(3);
COMMIT;
SQL
  p=$(b19_backfill b19-2 b19_g2)
  sleep 0.5 # the holder first
  out=$(b19_run apply_schema "$p"); wait
  check "G2: a superuser's apply_schema while atk_owner's swap of the table's schema is uncommitted answers ($out)" t "$([ -n "$out" ] && echo t)"
  check "  ... atk_owner's trigger never ran as a superuser" f "$(b17_ran b19o)"
  # G3, an enum's schema
  q "SELECT pg_catalog.setval('public.b19_ran', 1, false)" >/dev/null
  as atk_admin "CREATE SCHEMA b19_e; CREATE TYPE b19_e.mood AS ENUM ('a', 'b');
    CREATE SCHEMA b19_e_evil; CREATE DOMAIN b19_e_evil.mood AS text CHECK (public.b19_f(1) = 1);
    CREATE TABLE public.b19_et (id integer); INSERT INTO public.b19_et VALUES (1)" >/dev/null
  race atk_admin public.b19_et "ALTER SCHEMA b19_e RENAME TO b19_e_old; ALTER SCHEMA b19_e_evil RENAME TO b19_e"
  p="{\"schema_version\": \"b19-3\", \"description\": \"x\", \"enums\": [{\"name\": \"mood\", \"schema\": \"b19_e\", \"values\": [\"a\", \"b\"]}],
      \"tables\": [{\"name\": \"b19_et\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false,
                    \"columns\": [{\"name\": \"id\", \"type\": \"integer\"}, {\"name\": \"m\", \"type\": \"b19_e.mood\"}]}]}"
  out=$(b19_run plan_schema "$p"); wait
  check "G3: a superuser's plan_schema while atk_admin swaps the schema of the payload's enum answers ($out)" t "$([ -n "$out" ] && echo t)"
  check "  ... atk_admin's domain check never ran as a superuser" f "$(b17_ran b19)"
  # G3, a function's schema (the function, in a default, runs for the existing row)
  out=$(fn_schema_swap plan_schema b19-4 b19_ft b19_fn b19_fn b19)
  check "G3: a superuser's plan_schema while atk_admin swaps the schema of a default's function answers ($out)" t "$([ -n "$out" ] && echo t)"
  check "  ... atk_admin's function never ran as a superuser" f "$(b17_ran b19)"
}

# B20. The adversarial review of 08eb1c3, each alone (both reproduced by the reviewer on 08eb1c3, the
# function or trigger running as the superuser). H2: a schema whose name holds a double quote (b20_"q,
# written "b20_""q") was never locked: G3's swap of a default's function schema worked again. H1: the
# deferred backfill checked its table, then waited for the swapper's open transaction, and a batch's
# UPDATE ran on the swapped-in table, with its trigger, as the applier (atk_owner owns the schema of a
# superuser's table and may CREATE in the database).
attack_review_08eb1c3() {
  echo "# B20. a quoted schema name, and a schema swapped under the deferred backfill"
  local out p
  spy_fn atk_admin b20
  # H2
  out=$(fn_schema_swap apply_schema b20-1 b20_ft '"b20_""q"' '\"b20_\"\"q\"' b20)
  check "H2: a superuser's apply while atk_admin swaps a quoted schema of a default's function answers ($out)" t "$([ -n "$out" ] && echo t)"
  check "  ... atk_admin's function never ran as a superuser" f "$(b17_ran b20)"
  # H1
  # (b20_w is the superuser's while it applies, and given to atk_owner in the online apply's transaction,
  # after the apply: an apply into a schema an untrusted role owns is refused before anything runs, B24)
  q "GRANT CREATE ON DATABASE $DB TO atk_owner; CREATE SCHEMA b20_w;
     CREATE OR REPLACE FUNCTION pg_catalog.b20_token() RETURNS text VOLATILE LANGUAGE plpgsql
       AS \$f\$ BEGIN PERFORM pg_catalog.pg_sleep(0.002); RETURN pg_catalog.md5(pg_catalog.random()::text); END \$f\$" >/dev/null
  spy_fn atk_owner b20o
  q "SELECT revos.apply_schema('{\"schema_version\": \"b20-2\", \"description\": \"x\", \"tables\": [{\"name\": \"bf\", \"schema\": \"b20_w\",
      \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false, \"columns\": [{\"name\": \"v\", \"type\": \"integer\"}]}]}')" >/dev/null
  q "INSERT INTO b20_w.bf (v) SELECT i FROM generate_series(1, 3000) i; ANALYZE b20_w.bf" >/dev/null
  as atk_owner "CREATE SCHEMA b20_w_evil; CREATE TABLE b20_w_evil.bf (id uuid DEFAULT gen_random_uuid(), v integer, token text);
    INSERT INTO b20_w_evil.bf (v) SELECT i FROM generate_series(1, 3000) i;
    CREATE TRIGGER spy BEFORE UPDATE ON b20_w_evil.bf FOR EACH ROW EXECUTE FUNCTION public.b20o_trig()" >/dev/null
  q "ALTER ROLE postgres IN DATABASE $DB SET revos.backfill_batch_pages = '2'" >/dev/null
  out=$(q "BEGIN; SELECT revos.apply_schema('{\"schema_version\": \"b20-3\", \"description\": \"x\", \"options\": {\"online\": true},
      \"tables\": [{\"name\": \"bf\", \"schema\": \"b20_w\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false,
                    \"columns\": [{\"name\": \"v\", \"type\": \"integer\"}, {\"name\": \"token\", \"type\": \"text\", \"not_null\": true, \"default\": \"b20_token()\"}]}]}') -> 'result' ->> 'status'; ALTER SCHEMA b20_w OWNER TO atk_owner; COMMIT")
  sleep 1.5
  as atk_owner "BEGIN; ALTER SCHEMA b20_w RENAME TO b20_w_old; ALTER SCHEMA b20_w_evil RENAME TO b20_w; SELECT pg_sleep(3); COMMIT" >/dev/null 2>&1
  sleep 8
  q "ALTER ROLE postgres IN DATABASE $DB RESET revos.backfill_batch_pages" >/dev/null
  check "H1: a superuser's online backfill of b20_w.bf answers ($out); atk_owner swaps the schema under the worker" t "$([ -n "$out" ] && echo t)"
  check "  ... atk_owner's trigger never ran as the superuser" f "$(b17_ran b20o)"
}

# B21. The adversarial review of cf35c2f, each alone (a payload with one risk only; each reproduced by
# the reviewer on cf35c2f, the attacker's function running as the superuser). F1: planning ran the
# payload's expressions before any lock or check: (a) the count of the rows a changed check rejects,
# (b) the shadow index's predicate (constant-folded), (c) the trial of a declared domain's new check;
# the function they name is in a schema atk_owner owns (it dropped the superuser's function and created
# its own) or may CREATE in (it planted a better-matching overload). F2: a schema spelled U&"…" evaded
# the text-based schema lock. F4: the held schema's contents changed while the first ALTER waited for
# atk_owner's reader lock (an overload planted with CREATE only; the superuser's function replaced by
# the schema's owner). Since the fix, each is refused before anything is evaluated: blocked, with
# untrusted_name at the expression's path. F3: the deferred backfill's completion check planned its
# query over a table swapped in under the schema's name (the worker paused by atk_owner's hold of its
# advisory lock), ran the swapped-in table's index predicate and recorded the step done; now the batch
# guard runs first: the step fails (42501). A control: the superuser's own schema, nobody else's
# CREATE, is still applied. The attacker's function advances a sequence when it runs as a superuser.
b21_pay() { # VERSION TABLE EXTRA [COLUMN]: a payload of public.TABLE (n integer[, COLUMN]) with EXTRA keys (", ..." or "")
  echo "{\"schema_version\": \"$1\", \"description\": \"x\", \"tables\": [{\"name\": \"$2\", \"tenant_scoped\": false,
      \"timestamps\": false, \"soft_delete\": false, \"columns\": [{\"name\": \"n\", \"type\": \"integer\"}${4:+, $4}]$3}]}"
}
b21_call() { # FN PAYLOAD PATH: the superuser's FN; prints STATUS|CODE: CODE is untrusted_name when such an error
             # is at a path starting with PATH, else the first validation error's code or the error's sqlstate
  q "SELECT r -> 'result' ->> 'status' || '|' || coalesce(
       (SELECT e ->> 'code' FROM jsonb_array_elements(CASE jsonb_typeof(r -> 'result' -> 'validation_errors')
                                 WHEN 'array' THEN r -> 'result' -> 'validation_errors' ELSE '[]' END) e
         WHERE e ->> 'code' = 'untrusted_name' AND starts_with(e ->> 'path', '$3') LIMIT 1),
       r -> 'result' -> 'validation_errors' -> 0 ->> 'code', r -> 'result' -> 'error' ->> 'sqlstate', '-')
     FROM revos.$1('$2') r"
}
b21_window() { # ROLE TABLE ACTION FN PAYLOAD PATH: ROLE runs ACTION while the superuser's FN of PAYLOAD waits
               # for ROLE's lock on TABLE (`race`); prints b21_call's answer
  race "$1" "$2" "$3"
  PGAPPNAME=race_victim b21_call "$4" "$5" "$6"
  wait
}
b21_evil() { # SIGNATURE SPY: atk_owner's CREATE FUNCTION SIGNATURE (returning what its name says) that calls SPY_f
  local ret=integer
  [[ "$1" == *.ok\(* ]] && ret=boolean
  echo "CREATE FUNCTION $1 RETURNS $ret LANGUAGE plpgsql IMMUTABLE AS \$f\$ BEGIN
      PERFORM public.$2_f(1); RETURN $([ $ret = boolean ] && echo true || echo "\$1"); END \$f\$"
}
attack_review_cf35c2f() {
  echo "# B21. the payload's own expressions naming a schema a plain role controls; a swapped table under the backfill's check"
  local out fn v=0 p
  q "GRANT CREATE ON DATABASE $DB TO atk_owner" >/dev/null
  # F1a: the schema's owner replaces the function a changed check calls (apply_schema, plan_schema)
  for fn in apply_schema plan_schema; do
    v=$((v + 1))
    spy_fn atk_owner "b21ck$v"
    q "CREATE SCHEMA b21_ck$v AUTHORIZATION atk_owner;
       CREATE FUNCTION b21_ck$v.ok(integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT \$1 > 0'" >/dev/null
    q "SELECT revos.apply_schema('$(b21_pay "b21-ck$v-1" "b21_ckt$v" ", \"checks\": [{\"name\": \"b21_ckt${v}_pos\", \"expression\": \"n >= 0\"}]")')" >/dev/null
    q "INSERT INTO public.b21_ckt$v (n) VALUES (1), (2)" >/dev/null
    as atk_owner "DROP FUNCTION b21_ck$v.ok(integer); $(b21_evil "b21_ck$v.ok(integer)" "b21ck$v")" >/dev/null
    out=$(b21_call "$fn" "$(b21_pay "b21-ck$v-2" "b21_ckt$v" ", \"checks\": [{\"name\": \"b21_ckt${v}_pos\", \"expression\": \"b21_ck$v.ok(n)\"}]")" "tables[0].checks[0]")
    check "F1a: a superuser's $fn changing a check to call a function in atk_owner's schema (replaced by atk_owner): blocked, untrusted_name at tables[0].checks[0]" \
      "blocked|untrusted_name" "$out"
    check "  ... atk_owner's function never ran as the superuser (the count of the rows the check rejects)" f "$(b17_ran "b21ck$v")"
  done
  # F1a': atk_owner has only CREATE on the superuser's schema and plants ok(integer) beside ok(numeric)
  spy_fn atk_owner b21co
  q "CREATE SCHEMA b21_co; GRANT USAGE, CREATE ON SCHEMA b21_co TO atk_owner;
     CREATE FUNCTION b21_co.ok(numeric) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT \$1 > 0'" >/dev/null
  q "SELECT revos.apply_schema('$(b21_pay b21-co-1 b21_cot ", \"checks\": [{\"name\": \"b21_cot_pos\", \"expression\": \"n >= 0\"}]")')" >/dev/null
  q "INSERT INTO public.b21_cot (n) VALUES (1), (2)" >/dev/null
  as atk_owner "$(b21_evil "b21_co.ok(integer)" b21co)" >/dev/null
  out=$(b21_call plan_schema "$(b21_pay b21-co-2 b21_cot ", \"checks\": [{\"name\": \"b21_cot_pos\", \"expression\": \"b21_co.ok(n)\"}]")" "tables[0].checks[0]")
  check "F1a': a superuser's plan_schema of a check calling its function in its schema where atk_owner may CREATE (an overload planted): blocked, untrusted_name at tables[0].checks[0]" \
    "blocked|untrusted_name" "$out"
  check "  ... atk_owner's overload never ran as the superuser" f "$(b17_ran b21co)"
  # F1b: an index predicate calling an IMMUTABLE function with a constant (folded while the shadow's index is built)
  spy_fn atk_owner b21ix
  q "CREATE SCHEMA b21_ix AUTHORIZATION atk_owner;
     CREATE FUNCTION b21_ix.lim(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT \$1'" >/dev/null
  q "SELECT revos.apply_schema('$(b21_pay b21-ix-1 b21_ixt "")')" >/dev/null
  as atk_owner "DROP FUNCTION b21_ix.lim(integer); $(b21_evil "b21_ix.lim(integer)" b21ix)" >/dev/null
  out=$(b21_call plan_schema "$(b21_pay b21-ix-2 b21_ixt ", \"indexes\": [{\"columns\": [\"n\"], \"where\": \"n > b21_ix.lim(0)\"}]")" "tables[0].indexes[0].where")
  check "F1b: a superuser's plan_schema adding an index whose predicate calls a function in atk_owner's schema: blocked, untrusted_name at tables[0].indexes[0].where" \
    "blocked|untrusted_name" "$out"
  check "  ... atk_owner's function never ran as the superuser (the shadow index's predicate)" f "$(b17_ran b21ix)"
  # F1c: a declared domain's changed check (tried on the domain's columns while planning); the domain and
  # the column's type are in the superuser's own schema, only the check's function is in atk_owner's
  spy_fn atk_owner b21dm
  q "CREATE SCHEMA b21_dom; CREATE SCHEMA b21_cd AUTHORIZATION atk_owner;
     CREATE FUNCTION b21_cd.ok(integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT \$1 > 0'" >/dev/null
  p='{"schema_version": "b21-dm-VER", "description": "x",
      "domains": [{"name": "posint", "schema": "b21_dom", "type": "integer", "checks": [{"name": "pos", "expression": "EXPR"}]}],
      "tables": [{"name": "b21_dmt", "tenant_scoped": false, "timestamps": false, "soft_delete": false,
                  "columns": [{"name": "n", "type": "b21_dom.posint"}]}]}'
  p=${p//VER/1}
  q "SELECT revos.apply_schema('${p//EXPR/VALUE > 0}')" >/dev/null
  q "INSERT INTO public.b21_dmt (n) VALUES (1), (2)" >/dev/null
  as atk_owner "DROP FUNCTION b21_cd.ok(integer); $(b21_evil "b21_cd.ok(integer)" b21dm)" >/dev/null
  p=${p//b21-dm-1/b21-dm-2}
  out=$(b21_call plan_schema "${p//EXPR/b21_cd.ok(VALUE)}" "domains[0]")
  check "F1c: a superuser's plan_schema changing a declared domain's check to call a function in atk_owner's schema: blocked, untrusted_name at domains[0]" \
    "blocked|untrusted_name" "$out"
  check "  ... atk_owner's function never ran as the superuser (the domain's trial on its column's rows)" f "$(b17_ran b21dm)"
  # F2: the default's function schema spelled U&"b21\0075" (PostgreSQL reads b21u); atk_owner owns b21u and
  # swaps its own schema in under that name while the ALTER waits for its reader lock
  spy_fn atk_owner b21u
  q "CREATE SCHEMA b21u AUTHORIZATION atk_owner; CREATE FUNCTION b21u.gen() RETURNS integer LANGUAGE sql VOLATILE AS 'SELECT 1';
     CREATE TABLE public.b21_ut (n integer); INSERT INTO public.b21_ut VALUES (1); GRANT SELECT ON public.b21_ut TO atk_owner" >/dev/null
  as atk_owner "CREATE SCHEMA b21u_evil;
    CREATE FUNCTION b21u_evil.gen() RETURNS integer LANGUAGE plpgsql VOLATILE AS \$f\$ BEGIN RETURN public.b21u_f(1); END \$f\$" >/dev/null
  local u='U&\"b21\\0075\"'
  out=$(b21_window atk_owner public.b21_ut "ALTER SCHEMA b21u RENAME TO b21u_old; ALTER SCHEMA b21u_evil RENAME TO b21u" apply_schema \
    "$(b21_pay b21-u b21_ut "" "{\"name\": \"m\", \"type\": \"integer\", \"default\": \"$u.gen()\"}")" "tables[0].columns[1].default")
  check "F2: a superuser's apply of a default calling U&\"b21\\0075\".gen() (atk_owner's schema b21u, swapped during a lock wait): blocked, untrusted_name at tables[0].columns[1].default" \
    "blocked|untrusted_name" "$out"
  check "  ... atk_owner's function never ran as the superuser" f "$(b17_ran b21u)"
  # F4: the default's function schema is held, its contents are not: while the ALTER waits for atk_owner's
  # reader lock, atk_owner plants gen(integer) beside the superuser's gen(numeric) (CREATE only), or, owning
  # the schema, drops the superuser's gen(integer) and creates its own
  local mode s
  for mode in overload replace; do
    s=b21_$mode
    spy_fn atk_owner "b21$mode"
    if [ "$mode" = overload ]; then
      q "CREATE SCHEMA $s; GRANT USAGE, CREATE ON SCHEMA $s TO atk_owner;
         CREATE FUNCTION $s.gen(numeric) RETURNS integer LANGUAGE sql VOLATILE AS 'SELECT 1'" >/dev/null
      p=""
    else
      q "CREATE SCHEMA $s AUTHORIZATION atk_owner;
         CREATE FUNCTION $s.gen(integer) RETURNS integer LANGUAGE sql VOLATILE AS 'SELECT 1'" >/dev/null
      p="DROP FUNCTION $s.gen(integer);"
    fi
    q "CREATE TABLE public.${s}_t (n integer); INSERT INTO public.${s}_t VALUES (1); GRANT SELECT ON public.${s}_t TO atk_owner" >/dev/null
    out=$(b21_window atk_owner "public.${s}_t" "$p CREATE FUNCTION $s.gen(integer) RETURNS integer LANGUAGE plpgsql VOLATILE AS \$f\$
        BEGIN RETURN public.b21${mode}_f(1); END \$f\$" apply_schema \
      "$(b21_pay "b21-$mode" "${s}_t" "" "{\"name\": \"m\", \"type\": \"integer\", \"default\": \"$s.gen(1)\"}")" "tables[0].columns[1].default")
    check "F4 ($mode): a superuser's apply of a default calling $s.gen(1) while atk_owner $([ $mode = overload ] && echo "plants an overload (CREATE only)" || echo "replaces the function (owns the schema)") during a lock wait: blocked, untrusted_name at tables[0].columns[1].default" \
      "blocked|untrusted_name" "$out"
    check "  ... atk_owner's function never ran as the superuser" f "$(b17_ran "b21$mode")"
  done
  # F3: atk_owner owns the schema of the superuser's table b21_w.bf; while the superuser's deferred worker
  # is held back (worker_pause: a worker slow to start; atk_owner took its lock itself before 2026-12-06),
  # it swaps its own bf in under the schema's name
  # after the online apply commits (token filled, a partial index whose predicate calls its IMMUTABLE
  # function with a constant), then lets the worker go
  spy_fn atk_owner b21bf
  # (b21_w is given to atk_owner in the online apply's transaction, after the apply, as in B20's H1)
  q "CREATE SCHEMA b21_w;
     CREATE OR REPLACE FUNCTION pg_catalog.b21_token() RETURNS text VOLATILE LANGUAGE plpgsql
       AS \$f\$ BEGIN PERFORM pg_catalog.pg_sleep(0.002); RETURN pg_catalog.md5(pg_catalog.random()::text); END \$f\$" >/dev/null
  q "SELECT revos.apply_schema('{\"schema_version\": \"b21-bf-1\", \"description\": \"x\", \"tables\": [{\"name\": \"bf\", \"schema\": \"b21_w\",
      \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false, \"columns\": [{\"name\": \"v\", \"type\": \"integer\"}]}]}')" >/dev/null
  q "INSERT INTO b21_w.bf (v) SELECT i FROM generate_series(1, 3000) i; ANALYZE b21_w.bf" >/dev/null
  as atk_owner "CREATE SCHEMA b21_w_evil; CREATE TABLE b21_w_evil.bf (id uuid DEFAULT gen_random_uuid(), v integer, token text);
    INSERT INTO b21_w_evil.bf (v, token) SELECT i, 'x' FROM generate_series(1, 10) i;
    CREATE INDEX ON b21_w_evil.bf (v) WHERE public.b21bf_f(0) = 0" >/dev/null
  local su pause i
  worker_pause b21_pause
  pause=$PAUSE_PID
  out=$(q "BEGIN; SELECT revos.apply_schema('{\"schema_version\": \"b21-bf-2\", \"description\": \"x\", \"options\": {\"online\": true},
      \"tables\": [{\"name\": \"bf\", \"schema\": \"b21_w\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false,
                    \"columns\": [{\"name\": \"v\", \"type\": \"integer\"}, {\"name\": \"token\", \"type\": \"text\", \"not_null\": true, \"default\": \"b21_token()\"}]}]}') -> 'result' ->> 'status'; ALTER SCHEMA b21_w OWNER TO atk_owner; COMMIT")
  as atk_owner "BEGIN; ALTER SCHEMA b21_w RENAME TO b21_w_old; ALTER SCHEMA b21_w_evil RENAME TO b21_w; COMMIT" >/dev/null 2>&1
  wait "$pause"
  # the worker goes on: wait for the version's steps (30 s at most)
  for i in $(seq 60); do
    [ "$(q "SELECT count(*) FROM revos.deferred_steps WHERE version = 'b21-bf-2' AND status IN ('pending', 'running')")" = 0 ] && break
    sleep 0.5
  done
  check "F3: a superuser's online apply of b21_w.bf ($out), atk_owner's table swapped in under the paused worker: the backfill step is failed (42501), not done" \
    "failed|42501" "$(q "SELECT coalesce(string_agg(status || '|' || coalesce(sqlstate, ''), ',' ORDER BY id), 'no backfill step')
                          FROM revos.deferred_steps WHERE version = 'b21-bf-2' AND kind = 'backfill'")"
  check "  ... the real table (now b21_w_old.bf) keeps its 3000 NULL tokens and no backfill step of it says done" "3000|0" \
    "$(q "SELECT (SELECT count(*) FROM b21_w_old.bf WHERE token IS NULL) || '|' ||
                 (SELECT count(*) FROM revos.deferred_steps WHERE version = 'b21-bf-2' AND kind = 'backfill' AND status = 'done')")"
  check "  ... atk_owner's index predicate never ran as the superuser (the completion check's planning)" f "$(b17_ran b21bf)"
  # the control: the superuser's own schema, no one else's CREATE in it, named by a changed check and a
  # new index's predicate (both evaluated while planning): applied
  q "CREATE SCHEMA b21_ok;
     CREATE FUNCTION b21_ok.pos(integer) RETURNS boolean LANGUAGE sql IMMUTABLE AS 'SELECT \$1 > 0';
     CREATE FUNCTION b21_ok.lim(integer) RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT \$1'" >/dev/null
  q "SELECT revos.apply_schema('$(b21_pay b21-ok-1 b21_okt ", \"checks\": [{\"name\": \"b21_okt_pos\", \"expression\": \"n >= 0\"}]")')" >/dev/null
  q "INSERT INTO public.b21_okt (n) VALUES (1), (2)" >/dev/null
  out=$(b21_call apply_schema "$(b21_pay b21-ok-2 b21_okt ", \"checks\": [{\"name\": \"b21_okt_pos\", \"expression\": \"b21_ok.pos(n)\"}],
      \"indexes\": [{\"columns\": [\"n\"], \"where\": \"n > b21_ok.lim(0)\"}]")" "tables[0]")
  check "control: a superuser's apply naming its functions in its own schema (no other role's CREATE) answers ($out): applied" "applied" "${out%%|*}"
}

# B22. The adversarial review of f0637ad, each alone (a payload with one risk only; each reproduced by
# the reviewer on f0637ad, the attacker's code running as the superuser or a step recorded falsely).
# The superuser's own objects are in its schema b22 (only USAGE granted), so that the one risk of each
# payload is the one named. F1: the untrusted_name gate did not read objects' texts: (a) a new
# materialized view WITH DATA over atk_owner's table (its partial index's predicate folded while the
# query is planned: plan_schema's rehearsal and the apply, which answered applied); (b) an existing
# materialized view's changed query calling a function in atk_owner's schema (replaced by atk_owner),
# run by planning's trial; (c) an existing partition's bound calling such a function, run by the
# trial (applied). F2: a view bound atk_owner's function, replaced (atk_owner owns the schema) or
# planted as a better overload (CREATE only), while the first ALTER waited for atk_owner's reader lock;
# revos answered applied, and every later reader of the view ran it. Each is now refused before
# anything is evaluated: blocked, untrusted_name at the query's (or bound's) path. F3: while planning's
# trial of an existing declared view waited for atk_owner's reader lock, atk_owner created a schema
# and a function a new view names; after the count of a changed check, check_before read a stale
# catalog and the view bound it (applied). F4: a schema the payload creates, named by a changed check,
# was created by atk_owner during the same wait: the count and the ADD CONSTRAINT ran its function.
# F3 and F4 are refused now (blocked with untrusted_name, or failed 42501) and nothing is applied.
# F5: the deferred worker read a VALIDATE step's completion by name from atk_owner's look-alike table
# (swapped in under the schema's name while the worker was held back) and recorded it
# done while the real constraint stayed NOT VALID; now the step fails (42501). A control: a
# materialized view over the superuser's own table in its own schema and a partition with a constant
# bound are applied. The attacker's function advances a sequence when it runs as a superuser.
b22_t() { # NAME [COLUMNS] [EXTRA]: a plain table b22.NAME (columns "" or absent: n integer) with EXTRA keys (", ...")
  local cols=${2:-}
  [ -n "$cols" ] || cols='[{"name": "n", "type": "integer"}]'
  echo "{\"name\": \"$1\", \"schema\": \"b22\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false,
      \"columns\": $cols${3:-}}"
}
# steps_settle VERSION: starts the deferred worker and waits (up to 20 s) until no step of VERSION is
# pending or running
steps_settle() {
  local i
  for i in $(seq 40); do
    q "SELECT count(*) FROM revos.deferred_status()" >/dev/null 2>&1
    [ "$(q "SELECT count(*) FROM revos.deferred_steps WHERE version = '$1' AND status IN ('pending', 'running')")" = 0 ] && return
    sleep 0.5
  done
}
# list_self_refused WHO: atk_owner, holding a privilege on revos.trusted_roles (WHO says which), cannot
# list itself there (written only by revos, B28); the superuser then writes that row, standing for one
# written before the table refused such writes
list_self_refused() {
  local out
  out=$(as atk_owner "INSERT INTO revos.trusted_roles (role, note) VALUES ('atk_owner', 'me')" 2>&1)
  check "$1 cannot list itself (written only by revos)" t \
    "$(grep -q 'written only by revos' <<<"$out" && echo t || echo "${out:0:200}")"
  q "INSERT INTO revos.trusted_roles (role, note) VALUES ('atk_owner', 'me')" >/dev/null
}
b22_pay() { # VERSION TABLES [EXTRA]: a payload of the tables (JSON, comma-separated) with EXTRA top-level keys
  echo "{\"schema_version\": \"$1\", \"description\": \"x\", \"tables\": [$2]${3:-}}"
}
b22_apply() { # WHAT PAYLOAD: the superuser's apply of a case's starting point, which must be applied
  check "  (setup: $1) applied" applied "$(q "SELECT revos.apply_schema('$2') -> 'result' ->> 'status'")"
}
b22_evil() { # SIGNATURE RETURNS VALUE SPY: atk_owner's function SIGNATURE (plpgsql) that calls SPY_f and returns VALUE
  echo "CREATE FUNCTION $1 RETURNS $2 LANGUAGE plpgsql VOLATILE AS \$f\$ BEGIN
      PERFORM public.$4_f(1); RETURN $3; END \$f\$"
}
b22_refused() { # ANSWER: "refused" when b21_call's ANSWER is blocked|untrusted_name or failed|42501, else ANSWER
  case "$1" in "blocked|untrusted_name" | "failed|42501") echo refused ;; *) echo "$1" ;; esac
}
b22_ledger() { # VERSION: the ledger's statuses of VERSION ("none" when no row)
  q "SELECT coalesce(string_agg(status, ',' ORDER BY applied_at), 'none') FROM revos.schema_migrations WHERE version = '$1'"
}
b22_read() { # VIEW: the superuser reads VIEW when it exists (an attacker's function it binds then runs)
  [ -n "$(q "SELECT to_regclass('$1')")" ] && q "SELECT count(*) FROM $1" >/dev/null 2>&1
  true
}
attack_review_f0637ad() {
  echo "# B22. objects' texts (a view's query, a partition's bound), a schema created during a wait, a deferred step done by name"
  local out fn mode s p su pause i
  q "GRANT CREATE ON DATABASE $DB TO atk_owner; CREATE SCHEMA b22; GRANT USAGE ON SCHEMA b22 TO PUBLIC" >/dev/null
  # F1a: a new materialized view over atk_owner's table, whose partial index's predicate calls its
  # IMMUTABLE function with a constant (plan_schema, then apply_schema)
  spy_fn atk_owner b22mv
  q "CREATE SCHEMA b22_mva AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA b22_mva TO PUBLIC" >/dev/null
  as atk_owner "CREATE TABLE b22_mva.src (a integer); INSERT INTO b22_mva.src VALUES (1), (2);
    CREATE INDEX b22_src_p ON b22_mva.src (a) WHERE a > public.b22mv_f(0); GRANT SELECT ON b22_mva.src TO PUBLIC" >/dev/null
  for fn in plan_schema apply_schema; do
    q "SELECT pg_catalog.setval('public.b22mv_ran', 1, false)" >/dev/null
    out=$(b21_call "$fn" "$(b22_pay "b22-mv-$fn" "$(b22_t b22_mvnote)" ", \"views\": [{\"name\": \"b22_mv\", \"schema\": \"b22\",
        \"materialized\": true, \"query\": \"SELECT a FROM b22_mva.src\"}]")" "views[0].query")
    check "F1a: a superuser's $fn of a new materialized view (WITH DATA) reading atk_owner's table b22_mva.src: blocked, untrusted_name at views[0].query" \
      "blocked|untrusted_name" "$out"
    check "  ... atk_owner's index predicate never ran as the superuser (the view's query planned)" f "$(b17_ran b22mv)"
  done
  # F1b: an existing materialized view's query changed to call a function in atk_owner's schema (the
  # superuser's function, dropped and replaced by atk_owner); the trial of the change ran it
  spy_fn atk_owner b22mt
  q "CREATE SCHEMA b22_rep AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA b22_rep TO PUBLIC;
     CREATE FUNCTION b22_rep.fmt(integer) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT ''#'' || \$1'" >/dev/null
  p=", \"views\": [{\"name\": \"b22_mtv\", \"schema\": \"b22\", \"materialized\": true, \"query\": \"QUERY\"}]"
  b22_apply "F1b's materialized view" "$(b22_pay b22-mt-1 "$(b22_t b22_mtt)" "${p//QUERY/SELECT n FROM b22.b22_mtt}")"
  q "INSERT INTO b22.b22_mtt (n) VALUES (1), (2)" >/dev/null
  as atk_owner "DROP FUNCTION b22_rep.fmt(integer); $(b22_evil "b22_rep.fmt(integer)" text "'x'" b22mt)" >/dev/null
  out=$(b21_call plan_schema "$(b22_pay b22-mt-2 "$(b22_t b22_mtt)" "${p//QUERY/SELECT n, b22_rep.fmt(n) AS label FROM b22.b22_mtt}")" "views[0].query")
  check "F1b: a superuser's plan_schema changing a materialized view's query to call b22_rep.fmt (atk_owner's schema, replaced by atk_owner): blocked, untrusted_name at views[0].query" \
    "blocked|untrusted_name" "$out"
  check "  ... atk_owner's function never ran as the superuser (the trial of the changed view)" f "$(b17_ran b22mt)"
  # F1c: an existing partition whose bound calls a function in atk_owner's schema (replaced by atk_owner);
  # the trial (DETACH, ATTACH … FOR VALUES) evaluated it, and the apply answered applied
  spy_fn atk_owner b22pb
  q "CREATE SCHEMA b22_pb AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA b22_pb TO PUBLIC;
     CREATE FUNCTION b22_pb.lo() RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 0'" >/dev/null
  p=$(b22_t b22_ev '[{"name": "id", "type": "integer"}, {"name": "k", "type": "integer"}]' ', "primary_key": ["id", "k"],
      "partition_by": {"method": "range", "columns": ["k"]}, "partitions": [{"name": "b22_ev_p0", "values": "BOUND"}]')
  b22_apply "F1c's partitioned table" "$(b22_pay b22-pb-1 "${p//BOUND/FROM (0) TO (100)}")"
  as atk_owner "DROP FUNCTION b22_pb.lo(); $(b22_evil "b22_pb.lo()" integer 0 b22pb)" >/dev/null
  out=$(b21_call apply_schema "$(b22_pay b22-pb-2 "${p//BOUND/FROM (b22_pb.lo()) TO (100)}")" "tables[0].partitions[0].values")
  check "F1c: a superuser's apply of an existing partition whose bound calls b22_pb.lo() (atk_owner's schema, replaced by atk_owner): blocked, untrusted_name at tables[0].partitions[0].values" \
    "blocked|untrusted_name" "$out"
  check "  ... atk_owner's function never ran as the superuser (the trial's ATTACH)" f "$(b17_ran b22pb)"
  # F2: a view calling $s.label(id) while the first ALTER waits for atk_owner's reader lock: atk_owner
  # replaces the superuser's label(integer) (owns the schema), or plants label(integer) beside the
  # superuser's label(numeric) (CREATE only); afterwards the superuser reads the view
  for mode in replace overload; do
    s=b22_v$mode
    spy_fn atk_owner "b22v$mode"
    if [ "$mode" = overload ]; then
      q "CREATE SCHEMA $s; GRANT USAGE ON SCHEMA $s TO PUBLIC; GRANT CREATE ON SCHEMA $s TO atk_owner;
         CREATE FUNCTION $s.label(numeric) RETURNS text LANGUAGE sql STABLE AS 'SELECT ''n'' || \$1'" >/dev/null
      p=""
    else
      q "CREATE SCHEMA $s AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA $s TO PUBLIC;
         CREATE FUNCTION $s.label(integer) RETURNS text LANGUAGE sql STABLE AS 'SELECT ''n'' || \$1'" >/dev/null
      p="DROP FUNCTION $s.label(integer);"
    fi
    q "CREATE TABLE b22.${s}_t (id integer); INSERT INTO b22.${s}_t VALUES (1); GRANT SELECT ON b22.${s}_t TO atk_owner" >/dev/null
    out=$(b21_window atk_owner "b22.${s}_t" "$p $(b22_evil "$s.label(integer)" text "'evil'" "b22v$mode")" apply_schema \
      "$(b22_pay "b22-v$mode" "$(b22_t "${s}_t" '[{"name": "id", "type": "integer"}, {"name": "n", "type": "integer"}]')" \
         ", \"views\": [{\"name\": \"${s}_v\", \"schema\": \"b22\", \"query\": \"SELECT id, $s.label(id) AS l FROM b22.${s}_t\"}]")" "views[0].query")
    check "F2 ($mode): a superuser's apply of a view calling $s.label(id) while atk_owner $([ $mode = overload ] && echo "plants label(integer) beside label(numeric) (CREATE only)" || echo "replaces label(integer) (owns the schema)") during a lock wait: blocked, untrusted_name at views[0].query" \
      "blocked|untrusted_name" "$out"
    b22_read "b22.${s}_v"
    check "  ... atk_owner's function never ran as the superuser (the superuser reads the view afterwards)" f "$(b17_ran "b22v$mode")"
    check "  ... and the version is not applied" none "$(b22_ledger "b22-v$mode")"
  done
  # F3: planning's trial of the existing declared view b22_f3v0 waits for atk_owner's reader lock; meanwhile
  # atk_owner creates schema b22_f3n and b22_f3n.ok(integer), which the payload's new view calls; a changed
  # check on b22_f3t makes planning count its violations (after which check_before read a stale catalog)
  spy_fn atk_owner b22f3
  p="$(b22_t b22_f3t "" ', "checks": [{"name": "b22_f3t_pos", "expression": "CHECK"}]')"
  b22_apply "F3's table and view" "$(b22_pay b22-f3-1 "${p//CHECK/n >= 0}" ', "views": [{"name": "b22_f3v0", "schema": "b22", "query": "SELECT n FROM b22.b22_f3t"}]')"
  q "INSERT INTO b22.b22_f3t (n) VALUES (1), (2); GRANT SELECT ON b22.b22_f3v0, b22.b22_f3t TO atk_owner" >/dev/null
  out=$(b21_window atk_owner b22.b22_f3v0 "CREATE SCHEMA b22_f3n; GRANT USAGE ON SCHEMA b22_f3n TO PUBLIC;
      $(b22_evil "b22_f3n.ok(integer)" boolean true b22f3)" apply_schema \
    "$(b22_pay b22-f3-2 "${p//CHECK/n >= 1}" ', "options": {"allow_destructive": true},
        "views": [{"name": "b22_f3v0", "schema": "b22", "query": "SELECT n FROM b22.b22_f3t"},
                  {"name": "b22_f3vq", "schema": "b22", "query": "SELECT b22_f3n.ok(1) AS x"}]')" "views[1].query")
  check "F3: a superuser's apply (a changed check counted) of a view calling b22_f3n.ok(1), created by atk_owner during planning's lock wait ($out): refused (blocked|untrusted_name or failed|42501)" \
    refused "$(b22_refused "$out")"
  b22_read b22.b22_f3vq
  check "  ... atk_owner's function never ran as the superuser (the superuser reads the view afterwards)" f "$(b17_ran b22f3)"
  check "  ... and nothing is applied (the version's ledger rows, the view)" "none|" \
    "$(b22_ledger b22-f3-2 | sed 's/^failed$/none/')|$(q "SELECT to_regclass('b22.b22_f3vq')")"
  # F4: the payload creates schema b22_na (a table and ok(bigint) in it) and changes b22_f4t's check to
  # b22_na.ok(n); atk_owner creates b22_na with its own ok(integer) while planning's trial of the
  # declared view b22_f4v0 waits for its reader lock (the count and the ADD CONSTRAINT ran it)
  spy_fn atk_owner b22f4
  p="$(b22_t b22_f4t "" ', "checks": [{"name": "b22_f4t_pos", "expression": "CHECK"}]')"
  local v0=', "views": [{"name": "b22_f4v0", "schema": "b22", "query": "SELECT n FROM b22.b22_f4t"}]'
  b22_apply "F4's table and view" "$(b22_pay b22-f4-1 "${p//CHECK/n >= 0}" "$v0")"
  q "INSERT INTO b22.b22_f4t (n) VALUES (1), (2); GRANT SELECT ON b22.b22_f4v0, b22.b22_f4t TO atk_owner" >/dev/null
  out=$(b21_window atk_owner b22.b22_f4v0 "CREATE SCHEMA b22_na; GRANT USAGE ON SCHEMA b22_na TO PUBLIC;
      $(b22_evil "b22_na.ok(integer)" boolean true b22f4)" apply_schema \
    "$(b22_pay b22-f4-2 "${p//CHECK/b22_na.ok(n)}, {\"name\": \"items\", \"schema\": \"b22_na\", \"tenant_scoped\": false, \"timestamps\": false,
        \"soft_delete\": false, \"columns\": [{\"name\": \"n\", \"type\": \"integer\"}]}" ', "options": {"allow_destructive": true},
        "functions": [{"name": "ok", "schema": "b22_na", "arguments": "v bigint", "returns": "boolean", "language": "sql",
                       "body": "SELECT v >= 0", "volatility": "immutable"}]'"$v0")" "tables[0].checks[0]")
  check "F4: a superuser's apply creating schema b22_na (its check names b22_na.ok), squatted by atk_owner during planning's lock wait ($out): refused (blocked|untrusted_name or failed|42501)" \
    refused "$(b22_refused "$out")"
  check "  ... atk_owner's function never ran as the superuser (the count, the ADD CONSTRAINT)" f "$(b17_ran b22f4)"
  check "  ... and nothing is applied (the version's ledger rows, the check)" "none|(n >= 0)" \
    "$(b22_ledger b22-f4-2 | sed 's/^failed$/none/')|$(q "SELECT pg_get_expr(conbin, conrelid) FROM pg_constraint WHERE conrelid = 'b22.b22_f4t'::regclass AND conname = 'b22_f4t_pos'")"
  # F5: atk_owner owns the schema of the superuser's b22_w.ct (3000 rows and one that violates the new
  # check); while the superuser's deferred worker is held back (worker_pause), it swaps in its b22_w_evil.ct (a validated ct_pos of
  # the same name) after the online apply commits, lets the worker go, and swaps back
  spy_fn atk_owner b22w
  # (b22_w is given to atk_owner in the online apply's transaction, after the apply, as in B20's H1)
  q "CREATE SCHEMA b22_w" >/dev/null
  p='{"name": "ct", "schema": "b22_w", "tenant_scoped": false, "timestamps": false, "soft_delete": false, "columns": [{"name": "n", "type": "integer"}]'
  b22_apply "F5's table" "$(b22_pay b22-w-1 "$p}")"
  q "INSERT INTO b22_w.ct (n) SELECT i FROM generate_series(1, 3000) i; INSERT INTO b22_w.ct (n) VALUES (-1); ANALYZE b22_w.ct" >/dev/null
  as atk_owner "CREATE SCHEMA b22_w_evil; CREATE TABLE b22_w_evil.ct (id uuid, n integer, CONSTRAINT ct_pos CHECK (n >= 0));
    CREATE INDEX ON b22_w_evil.ct (n) WHERE public.b22w_f(0) = 0" >/dev/null
  worker_pause b22_pause
  pause=$PAUSE_PID
  out=$(q "BEGIN; SELECT revos.apply_schema('$(b22_pay b22-w-2 "$p, \"checks\": [{\"name\": \"ct_pos\", \"expression\": \"n >= 0\"}]}" \
      ', "options": {"online": true, "allow_destructive": true}')') -> 'result' ->> 'status'; ALTER SCHEMA b22_w OWNER TO atk_owner; COMMIT")
  as atk_owner "BEGIN; ALTER SCHEMA b22_w RENAME TO b22_w_old; ALTER SCHEMA b22_w_evil RENAME TO b22_w; COMMIT" >/dev/null 2>&1
  wait "$pause"
  # the worker goes on: wait for the version's steps (30 s at most), then atk_owner swaps back
  for i in $(seq 60); do
    [ "$(q "SELECT count(*) FROM revos.deferred_steps WHERE version = 'b22-w-2' AND status IN ('pending', 'running')")" = 0 ] && break
    sleep 0.5
  done
  as atk_owner "BEGIN; ALTER SCHEMA b22_w RENAME TO b22_w_evil; ALTER SCHEMA b22_w_old RENAME TO b22_w; COMMIT" >/dev/null 2>&1
  check "F5: a superuser's online apply of a check on b22_w.ct ($out), atk_owner's look-alike (a validated ct_pos) swapped in under the paused worker: the VALIDATE step is failed (42501), not done" \
    "failed|42501" "$(q "SELECT coalesce(string_agg(status || '|' || coalesce(sqlstate, ''), ',' ORDER BY id), 'no deferred step')
                          FROM revos.deferred_steps WHERE version = 'b22-w-2'")"
  check "  ... no step of it says done (the real b22_w.ct's ct_pos, NOT VALID, is validated by nothing)" "false|0" \
    "$(q "SELECT (SELECT convalidated FROM pg_constraint WHERE conrelid = 'b22_w.ct'::regclass AND conname = 'ct_pos') || '|' ||
                 (SELECT count(*) FROM revos.deferred_steps WHERE version = 'b22-w-2' AND status = 'done')")"
  check "  ... atk_owner's index predicate never ran as the superuser" f "$(b17_ran b22w)"
  # the control: a materialized view over the superuser's own table in its own schema (nobody else's
  # CREATE), and a partition with a constant bound: applied
  q "CREATE SCHEMA b22_ok; CREATE TABLE b22_ok.src (a integer); INSERT INTO b22_ok.src VALUES (1), (2)" >/dev/null
  out=$(b21_call apply_schema "$(b22_pay b22-ok-1 "{\"name\": \"pev\", \"schema\": \"b22_ok\", \"tenant_scoped\": false, \"timestamps\": false,
      \"soft_delete\": false, \"columns\": [{\"name\": \"id\", \"type\": \"integer\"}, {\"name\": \"k\", \"type\": \"integer\"}],
      \"primary_key\": [\"id\", \"k\"], \"partition_by\": {\"method\": \"range\", \"columns\": [\"k\"]},
      \"partitions\": [{\"name\": \"pev_p0\", \"values\": \"FROM (0) TO (100)\"}]}" ', "views": [{"name": "mv", "schema": "b22_ok",
      "materialized": true, "query": "SELECT a FROM b22_ok.src"}]')" "views[0]")
  check "control: a superuser's apply of a materialized view over its own table in its own schema and a partition with a constant bound answers ($out): applied" \
    "applied|2" "${out%%|*}|$(q "SELECT count(*) FROM b22_ok.mv" 2>&1)"
}

# B23. The adversarial review of 20c6bb9, each alone (a payload with one risk only; each reproduced by
# the reviewer on 20c6bb9). The superuser's own objects are in its schema b23 (only USAGE granted), so
# that the one risk of each payload is the one named. N1: the untrusted_name gate never read the
# operator of `x OPERATOR(s.op) ANY (SELECT …)` (SubLink.operName, which raw_expression_tree_walker
# skips): an existing materialized view's query changed to use atk_owner's operator was tried (DROP,
# CREATE … WITH DATA) before check_before, in plan_schema and in apply_schema, and the operator ran as
# the superuser. N2: nor an XMLTABLE column's type (RangeTableFuncCol.typeName): a new materialized
# view over XMLTABLE(… COLUMNS v s.posint …), atk_owner's domain, ran its CHECK as the superuser in
# planning's rehearsal and in the apply, which answered applied. Each is now refused before anything
# is evaluated: blocked, untrusted_name at views[0].query. N3: the check after the plan's CREATE
# SCHEMA IF NOT EXISTS looked the schema up by the step's label (`schema "b23_na"`) for a schema
# declared in "schemas", found none and passed: atk_owner created the schema during planning's wait
# (its reader lock on a declared view) and the apply put the superuser's function and view in it
# (applied); now the apply fails (42501) and nothing is left in atk_owner's schema. A control: a
# subquery comparison with built-in operators and (where the server has XML support) an XMLTABLE with
# a built-in type and the superuser's own domain are applied. The attacker's function advances a
# sequence when it runs as a superuser.
b23_t() { # NAME [COLUMNS] [EXTRA]: a plain table b23.NAME (columns "" or absent: n integer) with EXTRA keys (", ...")
  local cols=${2:-}
  [ -n "$cols" ] || cols='[{"name": "n", "type": "integer"}]'
  echo "{\"name\": \"$1\", \"schema\": \"b23\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false,
      \"columns\": $cols${3:-}}"
}
attack_review_20c6bb9() {
  echo "# B23. names the parser's walker skips (a subquery comparison's operator, an XMLTABLE column's type); a declared schema adopted"
  local out fn p q0 xml v0
  q "GRANT CREATE ON DATABASE $DB TO atk_owner; CREATE SCHEMA b23; GRANT USAGE ON SCHEMA b23 TO PUBLIC" >/dev/null
  # N1: an existing materialized view's query changed to `n OPERATOR(b23_op.===) ANY (SELECT 1)`, the
  # operator (and its function) atk_owner's, in its schema (plan_schema, then apply_schema)
  spy_fn atk_owner b23op
  q "CREATE SCHEMA b23_op AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA b23_op TO PUBLIC" >/dev/null
  as atk_owner "CREATE FUNCTION b23_op.eq(integer, integer) RETURNS boolean LANGUAGE plpgsql VOLATILE AS \$f\$ BEGIN
      PERFORM public.b23op_f(1); RETURN \$1 OPERATOR(pg_catalog.=) \$2; END \$f\$;
    CREATE OPERATOR b23_op.=== (LEFTARG = integer, RIGHTARG = integer, FUNCTION = b23_op.eq)" >/dev/null
  p=", \"views\": [{\"name\": \"b23_opv\", \"schema\": \"b23\", \"materialized\": true, \"query\": \"QUERY\"}]"
  b22_apply "N1's materialized view" "$(b22_pay b23-op-1 "$(b23_t b23_opt)" "${p//QUERY/SELECT n FROM b23.b23_opt}")"
  q "INSERT INTO b23.b23_opt (n) VALUES (1), (2)" >/dev/null
  for fn in plan_schema apply_schema; do
    q "SELECT pg_catalog.setval('public.b23op_ran', 1, false)" >/dev/null
    out=$(b21_call "$fn" "$(b22_pay "b23-op-$fn" "$(b23_t b23_opt)" \
      "${p//QUERY/SELECT n FROM b23.b23_opt WHERE n OPERATOR(b23_op.===) ANY (SELECT 1)}")" "views[0].query")
    check "N1: a superuser's $fn changing a materialized view's query to n OPERATOR(b23_op.===) ANY (SELECT 1) (atk_owner's operator): blocked, untrusted_name at views[0].query" \
      "blocked|untrusted_name" "$out"
    check "  ... atk_owner's operator never ran as the superuser (the trial of the changed view)" f "$(b17_ran b23op)"
  done
  # N2: a new materialized view over XMLTABLE(… COLUMNS v b23_xt.posint …), atk_owner's domain whose
  # CHECK calls its function (plan_schema, then apply_schema); the query's quotes doubled for the literal
  spy_fn atk_owner b23xt
  q "CREATE SCHEMA b23_xt AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA b23_xt TO PUBLIC" >/dev/null
  as atk_owner "$(b22_evil "b23_xt.chk(integer)" boolean true b23xt); CREATE DOMAIN b23_xt.posint AS integer CHECK (b23_xt.chk(VALUE))" >/dev/null
  q0="SELECT x.v FROM XMLTABLE(''/r/i'' PASSING (''<r><i>1</i><i>2</i></r>''::xml) COLUMNS v b23_xt.posint PATH ''.'') x"
  for fn in plan_schema apply_schema; do
    q "SELECT pg_catalog.setval('public.b23xt_ran', 1, false)" >/dev/null
    out=$(b21_call "$fn" "$(b22_pay "b23-xt-$fn" "$(b23_t b23_xnote)" ", \"views\": [{\"name\": \"b23_xv\", \"schema\": \"b23\",
        \"materialized\": true, \"query\": \"$q0\"}]")" "views[0].query")
    check "N2: a superuser's $fn of a new materialized view over XMLTABLE(… COLUMNS v b23_xt.posint …) (atk_owner's domain): blocked, untrusted_name at views[0].query" \
      "blocked|untrusted_name" "$out"
    check "  ... atk_owner's domain check never ran as the superuser (the view's query run)" f "$(b17_ran b23xt)"
  done
  check "  ... and no view is left, nor an applied version" "|none" \
    "$(q "SELECT to_regclass('b23.b23_xv')")|$(b22_ledger b23-xt-apply_schema | sed 's/^failed$/none/')"
  # two more names PostgreSQL's raw walker skips (read off its source, not found by the review):
  # ORDER BY … USING s.op, and TABLESAMPLE s.method (a tablesample handler is a function)
  for q0 in "SELECT n FROM b23.b23_opt ORDER BY n USING OPERATOR(b23_op.===)" \
            "SELECT n FROM b23.b23_opt TABLESAMPLE b23_op.sampler (10)"; do
    out=$(b21_call plan_schema "$(b22_pay "b23-walk" "$(b23_t b23_opt)" ", \"views\": [{\"name\": \"b23_wv\", \"schema\": \"b23\",
        \"query\": \"$q0\"}]")" "views[0].query")
    check "a superuser's plan_schema of a view \"$q0\" (atk_owner's schema b23_op): blocked, untrusted_name at views[0].query" \
      "blocked|untrusted_name" "$out"
  done
  # the seventh review (of 094f5f4): A, a CTE's CYCLE mark values typed with atk_owner's domain; B, a
  # routine argument b23_xt.b23.c%TYPE (atk_owner's table named like the trusted schema b23)
  q "SELECT pg_catalog.setval('public.b23xt_ran', 1, false)" >/dev/null
  q0="WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) CYCLE n SET c TO b23_xt.posint ''1'' DEFAULT b23_xt.posint ''0'' USING p SELECT n FROM t"
  out=$(b21_call plan_schema "$(b22_pay b23-cy "$(b23_t b23_cyt)" ", \"views\": [{\"name\": \"b23_cyv\", \"schema\": \"b23\",
      \"materialized\": true, \"query\": \"$q0\"}]")" "views[0].query")
  check "A: a superuser's plan_schema of a materialized view whose CTE's CYCLE marks are of atk_owner's domain b23_xt.posint: blocked, untrusted_name at views[0].query" \
    "blocked|untrusted_name" "$out"
  check "  ... atk_owner's domain check never ran as the superuser" f "$(b17_ran b23xt)"
  as atk_owner "CREATE TABLE b23_xt.b23 (c b23_xt.posint)" >/dev/null
  out=$(b21_call plan_schema "$(b22_pay b23-pct "$(b23_t b23_pctt)" ', "functions": [{"name": "pf", "schema": "b23",
      "arguments": "x b23_xt.b23.c%TYPE", "returns": "integer", "language": "sql", "body": "SELECT 1"}]')" "functions[0].arguments")
  check "B: a superuser's plan_schema of a function whose argument is b23_xt.b23.c%TYPE (a table atk_owner named like the trusted schema b23; atk_owner's table and domain): blocked, untrusted_name at functions[0].arguments" \
    "blocked|untrusted_name" "$out"
  # N3: the payload declares schema b23_na in "schemas" (a function and a view in it; no text names it);
  # planning's trial of the existing declared view b23_s0 waits for atk_owner's reader lock, meanwhile
  # atk_owner (CREATE on the database) creates b23_na
  v0='{"name": "b23_s0", "schema": "b23", "query": "SELECT n FROM b23.b23_st"}'
  b22_apply "N3's table and view" "$(b22_pay b23-so-1 "$(b23_t b23_st)" ", \"views\": [$v0]")"
  q "INSERT INTO b23.b23_st (n) VALUES (1), (2); GRANT SELECT ON b23.b23_s0, b23.b23_st TO atk_owner" >/dev/null
  out=$(b21_window atk_owner b23.b23_s0 "CREATE SCHEMA b23_na; GRANT USAGE ON SCHEMA b23_na TO PUBLIC" apply_schema \
    "$(b22_pay b23-so-2 "$(b23_t b23_st)" ', "schemas": [{"name": "b23_na"}],
        "functions": [{"name": "ok", "schema": "b23_na", "arguments": "v bigint", "returns": "boolean", "language": "sql",
                       "body": "SELECT v >= 0", "volatility": "immutable"}],
        "views": ['"$v0"', {"name": "report", "schema": "b23_na", "query": "SELECT n FROM b23.b23_st"}]')" "schemas")
  check "N3: a superuser's apply creating schema b23_na (declared in \"schemas\"), created by atk_owner during planning's lock wait ($out): refused (failed|42501 or blocked|untrusted_name)" \
    refused "$(b22_refused "$out")"
  check "  ... b23_na is atk_owner's (created during the wait) and holds none of the superuser's objects (its function, its view)" "atk_owner|0" \
    "$(q "SELECT (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'b23_na') || '|' ||
                 ((SELECT count(*) FROM pg_proc WHERE pronamespace = to_regnamespace('b23_na'))
                  + (SELECT count(*) FROM pg_class WHERE relnamespace = to_regnamespace('b23_na')))")"
  check "  ... and the version is not applied" none "$(b22_ledger b23-so-2 | sed 's/^failed$/none/')"
  # the control: subquery comparisons with built-in operators (unqualified and pg_catalog's) over the
  # superuser's own table, and, where the server has XML support, an XMLTABLE whose columns are a
  # built-in type and the superuser's own domain b23.pos: applied
  q "CREATE TABLE b23.b23_oksrc (n integer); INSERT INTO b23.b23_oksrc VALUES (1), (2);
     CREATE DOMAIN b23.pos AS integer CHECK (VALUE > 0)" >/dev/null
  xml=$(q "SELECT '<r/>'::xml IS NOT NULL" 2>/dev/null)
  p='{"name": "b23_okany", "schema": "b23", "materialized": true,
      "query": "SELECT n FROM b23.b23_oksrc WHERE n = ANY (SELECT 1) AND n OPERATOR(pg_catalog.<) ALL (SELECT 5)"}'
  [ "$xml" = t ] && p="$p, {\"name\": \"b23_okx\", \"schema\": \"b23\", \"materialized\": true, \"query\":
      \"SELECT x.v, x.w FROM XMLTABLE(''/r/i'' PASSING (''<r><i>1</i><i>2</i></r>''::xml) COLUMNS v integer PATH ''.'', w b23.pos PATH ''.'') x\"}"
  out=$(b21_call apply_schema "$(b22_pay b23-ok-1 "$(b23_t b23_oknote)" ", \"views\": [$p]")" "views")
  if [ "$xml" = t ]; then
    check "control: a superuser's apply of materialized views with = ANY / OPERATOR(pg_catalog.<) ALL subqueries and an XMLTABLE of integer and its own b23.pos answers ($out): applied" \
      "applied|1|2" "${out%%|*}|$(q "SELECT count(*) FROM b23.b23_okany" 2>&1)|$(q "SELECT count(*) FROM b23.b23_okx" 2>&1)"
  else
    check "control: a superuser's apply of a materialized view with = ANY / OPERATOR(pg_catalog.<) ALL subqueries answers ($out): applied (no XML support in this server: no XMLTABLE)" \
      "applied|1" "${out%%|*}|$(q "SELECT count(*) FROM b23.b23_okany" 2>&1)"
  fi
}

# B24. The seventh adversarial review (of 094f5f4), C: an existing schema another role owns, named
# only as the `schema` of a payload's table or object (no text of the payload names it). The apply used
# it as it was: atk_owner, the schema's owner, then dropped the superuser's function there (a schema's
# owner may drop anything in it) and created its own under the name, which the superuser's next call
# ran. Now each is refused before anything runs (blocked, untrusted_name at the table's `schema` or the
# object's path), alone: a table, a function, a view, plan_schema and apply_schema. Controls: a schema a
# superuser owns where atk_owner may CREATE (only the owner can drop others' objects), and atk_admin's
# own schema for atk_admin's apply, are applied.
attack_review_094f5f4() {
  echo "# B24. an existing schema another role owns, used only as a table's or an object's schema"
  local out fn what body
  q "CREATE SCHEMA b24_own AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA b24_own TO PUBLIC" >/dev/null
  for what in "a table|tables[0].schema|$(b22_pay b24-t-FN '{"name": "b24_t", "schema": "b24_own", "tenant_scoped": false, "columns": [{"name": "n", "type": "integer"}]}')" \
              "a function|functions[0]|$(b22_pay b24-f-FN "" ', "functions": [{"name": "b24_fn", "schema": "b24_own", "returns": "integer", "language": "sql", "body": "SELECT 1"}]')" \
              "a view|views[0]|$(b22_pay b24-v-FN "" ', "views": [{"name": "b24_v", "schema": "b24_own", "query": "SELECT 1 AS one"}]')"; do
    IFS='|' read -r label path body <<<"$what"
    for fn in plan_schema apply_schema; do
      out=$(b21_call "$fn" "${body//FN/$fn}" "$path")
      check "a superuser's $fn of $label in schema b24_own (atk_owner's, named nowhere else): blocked, untrusted_name at $path" \
        "blocked|untrusted_name" "$out"
    done
  done
  check "  ... b24_own holds none of the superuser's objects, and no version was applied" "0|none" \
    "$(q "SELECT (SELECT count(*) FROM pg_class WHERE relnamespace = 'b24_own'::regnamespace)
                 + (SELECT count(*) FROM pg_proc WHERE pronamespace = 'b24_own'::regnamespace)")|$(q "SELECT coalesce(string_agg(version, ','), 'none') FROM revos.schema_migrations WHERE version LIKE 'b24-%-apply_schema' AND status = 'applied'")"
  # controls: a superuser's schema where atk_owner may CREATE; atk_admin's own schema for atk_admin
  q "CREATE SCHEMA b24_shared; GRANT USAGE, CREATE ON SCHEMA b24_shared TO atk_owner" >/dev/null
  out=$(b21_call apply_schema "$(b22_pay b24-ok-1 '{"name": "b24_ok", "schema": "b24_shared", "tenant_scoped": false, "columns": [{"name": "n", "type": "integer"}]}')" "tables")
  check "control: a superuser's apply of a table in its own schema b24_shared, where atk_owner may CREATE: applied" "applied|-" "$out"
  q "CREATE SCHEMA b24_adm AUTHORIZATION atk_admin" >/dev/null
  out=$(as atk_admin "SELECT revos.apply_schema('$(b22_pay b24-ok-2 '{"name": "b24_ok2", "schema": "b24_adm", "tenant_scoped": false, "columns": [{"name": "n", "type": "integer"}]}')') -> 'result' ->> 'status'")
  check "control: atk_admin's apply of a table in its own schema b24_adm: applied" applied "$out"
}

# B25. The eighth adversarial review (of f7370bf). D1: "trusted" was every role the caller is a member
# of, whoever made it a member: b25_lead, a plain role holding b25_team WITH ADMIN OPTION (granted by
# the superuser: a team lead managing its team), ran `GRANT b25_team TO postgres` in its own session;
# b25_team's schema b25_rep and its domain then passed as trusted, and the domain's CHECK (b25_lead's
# code) ran as the superuser in plan_schema and apply_schema (applied). D2: revos_admin's members
# trusted objects owned by revos_admin itself: atk_admin gave its schema to revos_admin and planted a
# domain there; atk_admin2's plan and apply ran atk_admin's code as atk_admin2. E: an enum declared in
# an existing schema atk_owner owns was created there (applied; its owner may drop it, and the
# superuser's column with it, CASCADE). T: a trigger on atk_owner's table in atk_owner's schema was
# attached (applied). Now each is refused before anything runs (blocked, untrusted_name), alone: the
# D1 domain in a materialized view and a table in b25_rep (plan_schema and apply_schema; on
# PostgreSQL 15 also with b25_lead no longer a member, only its grant to the superuser left), the D2
# domain and a table in revos_admin's schema for atk_admin2, the enum at enums[0].schema and the
# trigger at triggers[0]; the attackers' functions never ran as the victim and nothing was applied.
# Controls: b25_team granted to the superuser by the superuser itself, with no other member (a table
# in b25_rep), atk_admin2's own schema, an enum in the superuser's schema, a trigger on the
# superuser's own table: applied. The attacker's function advances a sequence only when it runs as
# the victim (a superuser; atk_admin2 for D2).
b25_call() { # ROLE FN PAYLOAD PATH: as b21_call, in ROLE's own session
  as_login "$1" "SELECT r -> 'result' ->> 'status' || '|' || coalesce(
       (SELECT e ->> 'code' FROM jsonb_array_elements(CASE jsonb_typeof(r -> 'result' -> 'validation_errors')
                                 WHEN 'array' THEN r -> 'result' -> 'validation_errors' ELSE '[]' END) e
         WHERE e ->> 'code' = 'untrusted_name' AND starts_with(e ->> 'path', '$4') LIMIT 1),
       r -> 'result' -> 'validation_errors' -> 0 ->> 'code', r -> 'result' -> 'error' ->> 'sqlstate', '-')
     FROM revos.$2('$3') r"
}
b25_spy() { # ROLE NAME VICTIM: as spy_fn, but NAME_f advances NAME_ran only when it runs as VICTIM
  as "$1" "CREATE SEQUENCE public.$2_ran; GRANT USAGE ON SEQUENCE public.$2_ran TO PUBLIC;
    CREATE FUNCTION public.$2_f(integer) RETURNS integer LANGUAGE plpgsql IMMUTABLE AS \$f\$
      BEGIN
        IF current_user OPERATOR(pg_catalog.=) '$3'::pg_catalog.name THEN
          PERFORM pg_catalog.nextval('public.$2_ran');
        END IF;
        RETURN \$1;
      END \$f\$" >/dev/null
}
b25_applied() { # PATTERN: the versions LIKE PATTERN the ledger has as applied ("none" when none)
  q "SELECT coalesce(string_agg(version, ',' ORDER BY version), 'none') FROM revos.schema_migrations WHERE version LIKE '$1' AND status = 'applied'"
}
attack_review_f7370bf() {
  echo "# B25. trust through a membership the caller did not choose (ADMIN OPTION, revos_admin); an enum's schema; a trigger's table"
  local out fn su p t mv
  su=$(q "SELECT current_user")
  q "CREATE SCHEMA b25; GRANT USAGE ON SCHEMA b25 TO PUBLIC" >/dev/null
  # D1: b25_lead (plain, LOGIN) holds b25_team WITH ADMIN OPTION, granted by the superuser; b25_team
  # owns schema b25_rep (the superuser made it the team's); b25_lead grants b25_team to the superuser
  # in its own session, then, as b25_team, plants a domain whose CHECK calls its spy
  psql -X -q -d "$DSN" -c "DROP ROLE IF EXISTS b25_lead" -c "DROP ROLE IF EXISTS b25_team" \
    -c "CREATE ROLE b25_lead LOGIN" -c "CREATE ROLE b25_team NOLOGIN" >/dev/null 2>&1 || die "cannot create B25's roles"
  q "GRANT b25_team TO b25_lead WITH ADMIN OPTION; GRANT CREATE ON SCHEMA public TO b25_lead;
     CREATE SCHEMA b25_rep AUTHORIZATION b25_team; GRANT USAGE ON SCHEMA b25_rep TO PUBLIC" >/dev/null
  spy_fn b25_lead b25d1
  as_login b25_lead "GRANT b25_team TO $su" >/dev/null
  check "  (setup: b25_lead's own session granted b25_team to the superuser $su)" "b25_lead" \
    "$(q "SELECT string_agg(grantor::regrole::text, ',') FROM pg_auth_members WHERE roleid = 'b25_team'::regrole AND member = '$su'::regrole")"
  as_login b25_lead "SET ROLE b25_team; $(b22_evil "b25_rep.chk(integer)" boolean true b25d1);
    CREATE DOMAIN b25_rep.posint AS integer CHECK (b25_rep.chk(VALUE))" >/dev/null
  # the view's query (quotes doubled for the SQL literal b21_call puts the payload in)
  mv=", \"views\": [{\"name\": \"b25_mv\", \"schema\": \"b25\", \"materialized\": true, \"query\": \"SELECT b25_rep.posint ''1'' AS v\"}]"
  for fn in plan_schema apply_schema; do
    q "SELECT pg_catalog.setval('public.b25d1_ran', 1, false)" >/dev/null
    out=$(b21_call "$fn" "$(b22_pay "b25-d1v-$fn" "" "$mv")" "views[0].query")
    check "D1: a superuser's $fn of a materialized view SELECT b25_rep.posint '1' (b25_team's domain; b25_lead, with ADMIN OPTION, made the superuser a member of b25_team): blocked, untrusted_name at views[0].query" \
      "blocked|untrusted_name" "$out"
    check "  ... b25_lead's domain check never ran as the superuser" f "$(b17_ran b25d1)"
    out=$(b21_call "$fn" "$(b22_pay "b25-d1t-$fn" '{"name": "b25_t", "schema": "b25_rep", "tenant_scoped": false, "columns": [{"name": "n", "type": "integer"}]}')" "tables[0].schema")
    check "D1: a superuser's $fn of a table in schema b25_rep (b25_team's, the membership b25_lead granted): blocked, untrusted_name at tables[0].schema" \
      "blocked|untrusted_name" "$out"
  done
  check "  ... no view b25.b25_mv, b25_rep holds none of the superuser's objects, no version applied" "|0|none" \
    "$(q "SELECT to_regclass('b25.b25_mv')")|$(q "SELECT count(*) FROM pg_class WHERE relnamespace = 'b25_rep'::regnamespace AND relowner <> 'b25_team'::regrole")|$(b25_applied 'b25-d1%')"
  # D1, the grantor alone (PostgreSQL 15 keeps a grant when its grantor's membership is revoked;
  # 16+ refuses such a REVOKE without CASCADE): b25_lead is no member of b25_team any more, the
  # superuser's membership it granted remains
  q "REVOKE b25_team FROM b25_lead" >/dev/null 2>&1
  if [ "$(q "SELECT (SELECT count(*) FROM pg_auth_members WHERE roleid = 'b25_team'::regrole AND member = 'b25_lead'::regrole)
                || '|' || (SELECT string_agg(grantor::regrole::text, ',') FROM pg_auth_members WHERE roleid = 'b25_team'::regrole AND member = '$su'::regrole)")" = "0|b25_lead" ]; then
    q "SELECT pg_catalog.setval('public.b25d1_ran', 1, false)" >/dev/null
    out=$(b21_call plan_schema "$(b22_pay b25-d1g "" "$mv")" "views[0].query")
    check "D1: the same plan_schema of the view when b25_team's only member is the superuser, by b25_lead's grant (b25_lead no longer a member): blocked, untrusted_name at views[0].query" \
      "blocked|untrusted_name" "$out"
    check "  ... b25_lead's domain check never ran as the superuser" f "$(b17_ran b25d1)"
  else
    echo "# (D1 with the grantor alone: not on this server; b25_lead's grant goes with its membership)"
  fi
  # F1 (the ninth review, of f28f571): b25_team granted to the superuser by the superuser itself, and
  # b25_lead, who planted the domain as b25_team, no member any more (a group's admin that left, or
  # revoked itself): the superuser is b25_team's only member, through its own grant — and still
  # b25_lead's objects are not the superuser's. Membership does not make a role trusted; only
  # revos.trusted_roles, which the extension's owner writes, does.
  as_login b25_lead "REVOKE b25_team FROM $su" >/dev/null 2>&1
  q "REVOKE b25_team FROM $su" >/dev/null 2>&1
  q "REVOKE b25_team FROM b25_lead" >/dev/null 2>&1
  q "GRANT b25_team TO $su" >/dev/null 2>&1
  check "  (F1's setup: b25_team's only member is $su, granted by a superuser)" "$su|true" \
    "$(q "SELECT string_agg(member::regrole::text || '|' || (SELECT rolsuper FROM pg_roles WHERE oid = grantor), ',') FROM pg_auth_members WHERE roleid = 'b25_team'::regrole")"
  q "SELECT pg_catalog.setval('public.b25d1_ran', 1, false)" >/dev/null
  out=$(b21_call apply_schema "$(b22_pay b25-f1v "" "$mv")" "views[0].query")
  check "F1: a superuser's apply of the view naming b25_rep.posint, b25_team's only member the superuser by its own grant (b25_lead planted it, then left): blocked, untrusted_name at views[0].query" \
    "blocked|untrusted_name" "$out"
  check "  ... b25_lead's domain check never ran as the superuser" f "$(b17_ran b25d1)"
  out=$(b21_call apply_schema "$(b22_pay b25-f1t '{"name": "b25_ok", "schema": "b25_rep", "tenant_scoped": false, "columns": [{"name": "n", "type": "integer"}]}')" "tables[0].schema")
  check "F1: a superuser's apply of a table in b25_rep (b25_team's, the superuser its only member): blocked, untrusted_name at tables[0].schema" \
    "blocked|untrusted_name" "$out"
  # the control: the extension's owner lists b25_team in revos.trusted_roles (a decision written down)
  q "INSERT INTO revos.trusted_roles (role, note) VALUES ('b25_team', 'attacks.sh B25 control')" >/dev/null
  out=$(b21_call apply_schema "$(b22_pay b25-d1-ok '{"name": "b25_ok", "schema": "b25_rep", "tenant_scoped": false, "columns": [{"name": "n", "type": "integer"}]}')" "tables")
  check "control: a superuser's apply of a table in b25_rep once b25_team is listed in revos.trusted_roles: applied" "applied|-" "$out"
  q "DELETE FROM revos.trusted_roles WHERE role = 'b25_team'::regrole; REVOKE b25_team FROM $su" >/dev/null
  # only the extension's owner writes the list: a revos_admin member cannot add itself
  check "atk_admin cannot add itself to revos.trusted_roles (permission denied), and is not listed" "permission denied|0" \
    "$(as_login atk_admin "INSERT INTO revos.trusted_roles (role) VALUES ('atk_admin')" 2>&1 | grep -o 'permission denied' | head -1)|$(q "SELECT count(*) FROM revos.trusted_roles WHERE role = 'atk_admin'::regrole")"
  # F2 (the ninth review): a login role granted to the superuser by the superuser itself — a customer's
  # or the application's role, used by whoever logs in as it — plants a domain in its own schema
  psql -X -q -d "$DSN" -c "DROP ROLE IF EXISTS b25_cust" -c "CREATE ROLE b25_cust LOGIN" >/dev/null 2>&1 || die "cannot create b25_cust"
  q "GRANT b25_cust TO $su; GRANT CREATE ON SCHEMA public TO b25_cust;
     CREATE SCHEMA b25_cs AUTHORIZATION b25_cust; GRANT USAGE ON SCHEMA b25_cs TO PUBLIC" >/dev/null
  spy_fn b25_cust b25f2
  as_login b25_cust "$(b22_evil "b25_cs.chk(integer)" boolean true b25f2); CREATE DOMAIN b25_cs.posint AS integer CHECK (b25_cs.chk(VALUE))" >/dev/null
  out=$(b21_call apply_schema "$(b22_pay b25-f2v "" ", \"views\": [{\"name\": \"b25_mv3\", \"schema\": \"b25\", \"materialized\": true, \"query\": \"SELECT b25_cs.posint ''1'' AS v\"}]")" "views[0].query")
  check "F2: a superuser's apply of a view naming b25_cs.posint (login role b25_cust's, which the superuser granted to itself): blocked, untrusted_name at views[0].query" \
    "blocked|untrusted_name" "$out"
  check "  ... b25_cust's domain check never ran as the superuser" f "$(b17_ran b25f2)"
  q "REVOKE b25_cust FROM $su" >/dev/null
  # D2: atk_admin (a revos_admin member) gives its new schema b25_grp to revos_admin and, as
  # revos_admin, plants a domain whose CHECK calls its spy (advancing as atk_admin2); atk_admin2
  # (another member) plans and applies a materialized view in its own schema naming the domain
  q "CREATE SCHEMA b25_a2 AUTHORIZATION atk_admin2" >/dev/null
  b25_spy atk_admin b25d2 atk_admin2
  as_login atk_admin "CREATE SCHEMA b25_grp; ALTER SCHEMA b25_grp OWNER TO revos_admin; SET ROLE revos_admin;
    GRANT USAGE ON SCHEMA b25_grp TO PUBLIC; $(b22_evil "b25_grp.chk(integer)" boolean true b25d2);
    CREATE DOMAIN b25_grp.posint AS integer CHECK (b25_grp.chk(VALUE))" >/dev/null
  mv=", \"views\": [{\"name\": \"b25_mv2\", \"schema\": \"b25_a2\", \"materialized\": true, \"query\": \"SELECT b25_grp.posint ''1'' AS v\"}]"
  check "  (setup: atk_admin gave b25_grp to revos_admin and created the domain there)" "revos_admin|1" \
    "$(q "SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'b25_grp'")|$(q "SELECT count(*) FROM pg_type WHERE typname = 'posint' AND typnamespace = to_regnamespace('b25_grp')")"
  for fn in plan_schema apply_schema; do
    q "SELECT pg_catalog.setval('public.b25d2_ran', 1, false)" >/dev/null
    out=$(b25_call atk_admin2 "$fn" "$(b22_pay "b25-d2v-$fn" "" "$mv")" "views[0].query")
    check "D2: atk_admin2's $fn of a materialized view SELECT b25_grp.posint '1' (a domain atk_admin planted in its schema given to revos_admin): blocked, untrusted_name at views[0].query" \
      "blocked|untrusted_name" "$out"
    check "  ... atk_admin's domain check never ran as atk_admin2" f "$(b17_ran b25d2)"
    out=$(b25_call atk_admin2 "$fn" "$(b22_pay "b25-d2t-$fn" '{"name": "b25_t2", "schema": "b25_grp", "tenant_scoped": false, "columns": [{"name": "n", "type": "integer"}]}')" "tables[0].schema")
    check "D2: atk_admin2's $fn of a table in schema b25_grp (revos_admin's, given by atk_admin): blocked, untrusted_name at tables[0].schema" \
      "blocked|untrusted_name" "$out"
  done
  check "  ... no view b25_a2.b25_mv2, nothing of atk_admin2's in b25_grp, no version applied" "|0|none" \
    "$(q "SELECT to_regclass('b25_a2.b25_mv2')")|$(q "SELECT count(*) FROM pg_class WHERE relnamespace = 'b25_grp'::regnamespace")|$(b25_applied 'b25-d2%')"
  out=$(b25_call atk_admin2 apply_schema "$(b22_pay b25-d2-ok '{"name": "b25_ok2", "schema": "b25_a2", "tenant_scoped": false, "columns": [{"name": "n", "type": "integer"}]}')" "tables")
  check "control: atk_admin2's apply of a table in its own schema b25_a2: applied" "applied|-" "$out"
  # E: atk_owner's existing schema b25_en; the superuser's payload declares an enum there and a table
  # in its new schema b25_eapp with a column of that type (so the plan has no CREATE SCHEMA of b25_en)
  q "CREATE SCHEMA b25_en AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA b25_en TO PUBLIC" >/dev/null
  p=', "enums": [{"name": "b25_mood", "schema": "SCHEMA", "values": ["happy", "sad"]}]'
  t='{"name": "b25_et", "schema": "b25_eapp", "tenant_scoped": false, "timestamps": false, "soft_delete": false,
      "columns": [{"name": "n", "type": "integer"}, {"name": "m", "type": "b25_mood"}]}'
  for fn in plan_schema apply_schema; do
    out=$(b21_call "$fn" "$(b22_pay "b25-en-$fn" "$t" "${p//SCHEMA/b25_en}")" "enums[0].schema")
    check "E: a superuser's $fn of an enum in schema b25_en (atk_owner's) and a table of its new schema b25_eapp of that type: blocked, untrusted_name at enums[0].schema" \
      "blocked|untrusted_name" "$out"
  done
  check "  ... no type in b25_en, no table b25_eapp.b25_et, no version applied" "0||none" \
    "$(q "SELECT count(*) FROM pg_type WHERE typnamespace = 'b25_en'::regnamespace")|$(q "SELECT to_regclass('b25_eapp.b25_et')")|$(b25_applied 'b25-en%')"
  # (its own names: what the case left, on a server where it was applied, does not matter)
  t=${t//b25_mood/b25_mood_ok}; p=${p//b25_mood/b25_mood_ok}
  out=$(b21_call apply_schema "$(b22_pay b25-en-ok "${t//\"b25_et\"/\"b25_et_ok\"}" "${p//SCHEMA/b25}")" "enums")
  check "control: a superuser's apply of such an enum in its own schema b25 (and a table of that type): applied" "applied|-|$su" \
    "$out|$(q "SELECT typowner::regrole::text FROM pg_type WHERE typname = 'b25_mood_ok' AND typnamespace = 'b25'::regnamespace")"
  # T: atk_owner's table b25_tg.t in its schema b25_tg, with a partial index whose predicate calls its
  # spy (run when a superuser plans a query over the table); the superuser's payload declares a
  # trigger on it (a SECURITY DEFINER function of the payload's new schema b25_tapp)
  spy_fn atk_owner b25tg
  q "CREATE SCHEMA b25_tg AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA b25_tg TO PUBLIC;
     CREATE TABLE b25.b25_own (n integer)" >/dev/null
  as atk_owner "CREATE TABLE b25_tg.t (n integer); CREATE INDEX b25_tg_p ON b25_tg.t (n) WHERE n > public.b25tg_f(0);
    GRANT SELECT ON b25_tg.t TO PUBLIC" >/dev/null
  p=', "functions": [{"name": "b25_audit", "schema": "b25_tapp", "returns": "trigger", "language": "plpgsql",
        "body": "BEGIN RETURN NEW; END", "security_definer": true, "search_path": ["pg_catalog"]}],
      "triggers": [{"name": "b25_audit", "table": "TABLE", "timing": "before", "events": ["insert"], "function": "b25_tapp.b25_audit"}]'
  t='{"name": "b25_tt", "schema": "b25_tapp", "tenant_scoped": false, "timestamps": false, "soft_delete": false,
      "columns": [{"name": "n", "type": "integer"}]}'
  for fn in plan_schema apply_schema; do
    q "SELECT pg_catalog.setval('public.b25tg_ran', 1, false)" >/dev/null
    out=$(b21_call "$fn" "$(b22_pay "b25-tg-$fn" "$t" "${p//TABLE/b25_tg.t}")" "triggers[0]")
    check "T: a superuser's $fn of a trigger on b25_tg.t (atk_owner's table in atk_owner's schema): blocked, untrusted_name at triggers[0]" \
      "blocked|untrusted_name" "$out"
    check "  ... atk_owner's index predicate never ran as the superuser" f "$(b17_ran b25tg)"
  done
  check "  ... no trigger on b25_tg.t, no version applied" "0|none" \
    "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'b25_tg.t'::regclass")|$(b25_applied 'b25-tg%')"
  out=$(b21_call apply_schema "$(b22_pay b25-tg-ok "$t" "${p//TABLE/b25.b25_own}")" "triggers")
  check "control: a superuser's apply of the same trigger on its own table b25.b25_own: applied" "applied|-|1" \
    "$out|$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'b25.b25_own'::regclass AND tgname = 'b25_audit'")"
}

# B26. The adversarial review of bd843a8 (revos.trusted_roles), each alone. P1: default privileges
# (ALTER DEFAULT PRIVILEGES FOR ROLE <installer> GRANT … TO app_rw, a common DBA setup) reached the
# tables and functions CREATE EXTENSION made: a plain role could list itself in revos.trusted_roles and
# its domain's check then ran as the superuser (applied); the ledgers and apply_schema's EXECUTE were
# exposed the same way. Now the install script revokes every grant to a role other than the owner,
# revos_admin, revos_app and PUBLIC; and the library reads the list only while it is intact (the
# extension's own table, its owner's, nobody else may change it, no trigger, rule or policy) — else
# no role is listed and a warning says why. (P2, a table of that name made by a role with CREATE on
# schema revos before the update, is the same check: not the extension's own table.)
attack_review_bd843a8() {
  echo "# B26. revos.trusted_roles written by another role: default privileges, a grant, a trigger"
  local d out
  # P1 at install: a fresh database whose installer's default privileges grant everything to atk_owner
  psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS b26_dp" -c "CREATE DATABASE b26_dp" >/dev/null 2>&1 || die "cannot create b26_dp"
  d=$(db_dsn b26_dp)
  qdb "$d" "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO atk_owner;
            ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO atk_owner;
            ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO atk_owner;
            ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO revos_admin, PUBLIC;
            ALTER DEFAULT PRIVILEGES GRANT ALL ON SCHEMAS TO atk_owner, revos_admin;
            CREATE EXTENSION revos" >/dev/null
  check "P1: CREATE EXTENSION under default privileges granting all to atk_owner leaves atk_owner no privilege on revos's tables, sequences and functions but PUBLIC's" "0" \
    "$(qdb "$d" "SELECT count(*) FROM (
        SELECT a.grantee FROM pg_class c, aclexplode(c.relacl) a WHERE c.relnamespace = 'revos'::regnamespace
        UNION ALL
        SELECT a.grantee FROM pg_proc p, aclexplode(p.proacl) a WHERE p.pronamespace = 'revos'::regnamespace) g
       WHERE g.grantee = 'atk_owner'::regrole")"
  check "S, D (the eleventh review): ... nor may atk_owner or revos_admin create in schema revos or revos_shadow (but revos_admin there), nor may revos_admin or PUBLIC change a revos table" "||" \
    "$(qdb "$d" "SELECT string_agg(n.nspname || ':' || a.grantee::regrole, ',') FROM pg_namespace n, aclexplode(n.nspacl) a
                  WHERE n.nspname IN ('revos', 'revos_shadow') AND a.privilege_type = 'CREATE' AND a.grantee <> n.nspowner
                    AND NOT (n.nspname = 'revos_shadow' AND a.grantee = 'revos_admin'::regrole)")|$(qdb "$d" "SELECT string_agg(DISTINCT c.relname || ':' || a.privilege_type, ',') FROM pg_class c, aclexplode(c.relacl) a
                  WHERE c.relnamespace = 'revos'::regnamespace AND a.grantee <> c.relowner AND a.privilege_type <> 'SELECT'")|$(qdb "$d" "SELECT string_agg(c.relname, ',') FROM pg_class c, aclexplode(c.relacl) a
                  WHERE c.relnamespace = 'revos'::regnamespace AND a.grantee = 0 AND c.relname <> 'trusted_roles'")"
  check "  ... atk_owner cannot list itself there" "permission denied" \
    "$(qdb "$d" "SET ROLE atk_owner; INSERT INTO revos.trusted_roles (role) VALUES ('atk_owner')" 2>&1 | grep -o 'permission denied' | head -1)"
  psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS b26_dp" >/dev/null 2>&1
  # P1 after install: a grant on the list (as default privileges would have made) lets atk_owner list
  # itself; the superuser's apply of a view naming atk_owner's domain: the list is not read
  spy_fn atk_owner b26
  q "CREATE SCHEMA b26_own AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA b26_own TO PUBLIC; CREATE SCHEMA b26;
     GRANT INSERT ON revos.trusted_roles TO atk_owner" >/dev/null
  as atk_owner "$(b22_evil "b26_own.chk(integer)" boolean true b26); CREATE DOMAIN b26_own.posint AS integer CHECK (b26_own.chk(VALUE))" >/dev/null
  list_self_refused "P1: atk_owner, granted INSERT on revos.trusted_roles,"
  out=$(b21_call apply_schema "$(b22_pay b26-p1 "" ", \"views\": [{\"name\": \"b26_mv\", \"schema\": \"b26\", \"materialized\": true, \"query\": \"SELECT b26_own.posint ''1'' AS v\"}]")" "views[0].query")
  check "P1: a superuser's apply of a view naming b26_own.posint while atk_owner (granted INSERT on revos.trusted_roles) listed itself: blocked, untrusted_name at views[0].query" \
    "blocked|untrusted_name" "$(tail -1 <<<"$out")"
  check "  ... with a warning that the list is not read (another role may change it)" t \
    "$(grep -q 'revos.trusted_roles is not read.*a role other than its owner may change it' <<<"$out" && echo t)"
  check "  ... atk_owner's domain check never ran as the superuser" f "$(b17_ran b26)"
  q "REVOKE INSERT ON revos.trusted_roles FROM atk_owner" >/dev/null
  # a trigger on the list (its owner's own, doing nothing): the list is not read either
  q "CREATE FUNCTION b26.noop() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
     CREATE TRIGGER b26_t BEFORE INSERT ON revos.trusted_roles FOR EACH ROW EXECUTE FUNCTION b26.noop()" >/dev/null
  out=$(b21_call plan_schema "$(b22_pay b26-tr "" ", \"views\": [{\"name\": \"b26_mv\", \"schema\": \"b26\", \"materialized\": true, \"query\": \"SELECT b26_own.posint ''1'' AS v\"}]")" "views[0].query")
  check "a trigger on revos.trusted_roles (which lists atk_owner): the superuser's plan_schema is blocked, untrusted_name at views[0].query" \
    "blocked|untrusted_name" "$(tail -1 <<<"$out")"
  check "  ... with a warning that the list is not read (a trigger)" t \
    "$(grep -q 'revos.trusted_roles is not read.*a trigger' <<<"$out" && echo t)"
  q "DROP TRIGGER b26_t ON revos.trusted_roles" >/dev/null
  # the control: the list intact again (atk_owner still listed, by atk_owner): now it is read, as the
  # extension's owner's decision would be — the owner removes the row it did not write
  out=$(b21_call plan_schema "$(b22_pay b26-ok "" ", \"views\": [{\"name\": \"b26_mv\", \"schema\": \"b26\", \"materialized\": true, \"query\": \"SELECT b26_own.posint ''1'' AS v\"}]")" "views[0].query")
  check "control: the list intact (no grant, no trigger) and listing atk_owner: the same plan_schema is planned" "planned|-" "$out"
  q "DELETE FROM revos.trusted_roles WHERE role = 'atk_owner'::regrole" >/dev/null
}

# B27. The adversarial review of 6f079fa, each alone. S: CREATE on schema revos (default privileges on
# schemas gave it at CREATE EXTENSION): revos's pinned search_path reads revos, and atk_owner's
# revos.lower(varchar) beat pg_catalog.lower(text) in a superuser's applied view. Now an apply refuses
# (42501) before it reads anything while another role may create in revos. W: a pg_write_all_data
# member wrote revos.trusted_roles while the list looked intact. D: the deferred worker ran a forged
# revos.deferred_steps row as the role it named; now no step runs while another role may change it.
attack_review_6f079fa() {
  echo "# B27. schema revos writable; pg_write_all_data and the list; revos.deferred_steps writable"
  local out i
  q "CREATE SCHEMA b27; GRANT USAGE ON SCHEMA b27 TO PUBLIC" >/dev/null
  # S
  spy_fn atk_owner b27s
  q "GRANT CREATE ON SCHEMA revos TO atk_owner" >/dev/null
  as atk_owner "CREATE FUNCTION revos.lower(varchar) RETURNS text LANGUAGE plpgsql IMMUTABLE AS \$f\$ BEGIN PERFORM public.b27s_f(1); RETURN pg_catalog.lower(\$1::text); END \$f\$" >/dev/null
  out=$(q "SELECT revos.apply_schema('$(b22_pay b27-s '{"name": "b27_t", "schema": "b27", "tenant_scoped": false, "columns": [{"name": "v", "type": "varchar(20)"}]}' ', "views": [{"name": "b27_v", "schema": "b27", "materialized": true, "query": "SELECT lower(v) AS l FROM b27.b27_t"}]')') -> 'result'" 2>&1)
  check "S: a superuser's apply while atk_owner may CREATE in schema revos (its revos.lower(varchar) there): refused, the message names the planted function" t \
    "$(grep -q 'lower(character varying) is not the extension' <<<"$out" && echo t)"
  check "  ... atk_owner's revos.lower never ran as the superuser, and nothing was created" "f||" \
    "$(b17_ran b27s)|$(q "SELECT to_regclass('b27.b27_v')")|$(q "SELECT to_regclass('b27.b27_t')")"
  q "DROP FUNCTION revos.lower(varchar)" >/dev/null
  out=$(q "SELECT revos.apply_schema('$(b22_pay b27-s2 '{"name": "b27_t", "schema": "b27", "tenant_scoped": false, "columns": [{"name": "v", "type": "varchar(20)"}]}')') -> 'result'" 2>&1)
  check "S: ... and while atk_owner may CREATE there, even with nothing planted: refused, the message names atk_owner's CREATE" t \
    "$(grep -q 'CREATE is granted to atk_owner on revos' <<<"$out" && echo t)"
  q "REVOKE CREATE ON SCHEMA revos FROM atk_owner" >/dev/null
  # O (the twelfth review): a function left in revos by whoever could create there before (here the
  # superuser plays the leftover), with no CREATE granted any more: still refused
  q "CREATE FUNCTION revos.lower(varchar) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT pg_catalog.lower(\$1::text)'" >/dev/null
  out=$(q "SELECT revos.apply_schema('$(b22_pay b27-o '{"name": "b27_t", "schema": "b27", "tenant_scoped": false, "columns": [{"name": "v", "type": "varchar(20)"}]}')') -> 'result'" 2>&1)
  check "O: a superuser's apply while revos holds a function that is not the extension's (no CREATE granted): refused, the message names it" t \
    "$(grep -q 'lower(character varying) is not the extension' <<<"$out" && echo t)"
  q "DROP FUNCTION revos.lower(varchar)" >/dev/null
  # P (the twelfth review): a schema revos created before the install by another role: CREATE EXTENSION refuses
  psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS b27_p" -c "CREATE DATABASE b27_p" >/dev/null 2>&1 || die "cannot create b27_p"
  qdb "$(db_dsn b27_p)" "CREATE SCHEMA revos AUTHORIZATION atk_owner" >/dev/null
  out=$(qdb "$(db_dsn b27_p)" "CREATE EXTENSION revos" 2>&1)
  check "P: CREATE EXTENSION revos where atk_owner created schema revos first: refused" "schema revos already exists" \
    "$(grep -o 'schema revos already exists' <<<"$out" | head -1)${out:0:0}$([ -n "$(grep -o 'schema revos already exists' <<<"$out")" ] || echo " (got: ${out:0:300})")"
  psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS b27_p" >/dev/null 2>&1
  out=$(q "SELECT revos.apply_schema('$(b22_pay b27-s-ok '{"name": "b27_t", "schema": "b27", "tenant_scoped": false, "columns": [{"name": "v", "type": "varchar(20)"}]}')') -> 'result' ->> 'status'")
  check "control: the same table applied once only the owner may create in revos" applied "$out"
  # W: atk_owner, a member of pg_write_all_data, lists itself; a superuser's view naming its domain
  spy_fn atk_owner b27w
  q "CREATE SCHEMA b27_w AUTHORIZATION atk_owner; GRANT USAGE ON SCHEMA b27_w TO PUBLIC; GRANT pg_write_all_data TO atk_owner" >/dev/null
  as atk_owner "$(b22_evil "b27_w.chk(integer)" boolean true b27w); CREATE DOMAIN b27_w.posint AS integer CHECK (b27_w.chk(VALUE))" >/dev/null
  list_self_refused "W: atk_owner, a pg_write_all_data member,"
  out=$(b21_call apply_schema "$(b22_pay b27-w "" ", \"views\": [{\"name\": \"b27_mv\", \"schema\": \"b27\", \"materialized\": true, \"query\": \"SELECT b27_w.posint ''1'' AS v\"}]")" "views[0].query")
  check "W: a superuser's apply of a view naming b27_w.posint, atk_owner (a pg_write_all_data member) having listed itself: blocked, untrusted_name at views[0].query" \
    "blocked|untrusted_name" "$(tail -1 <<<"$out")"
  check "  ... a warning says why the list is not read; atk_owner's domain check never ran as the superuser" "t|f" \
    "$(grep -q 'revos.trusted_roles is not read.*pg_write_all_data' <<<"$out" && echo t)|$(b17_ran b27w)"
  q "REVOKE pg_write_all_data FROM atk_owner; DELETE FROM revos.trusted_roles WHERE role = 'atk_owner'::regrole" >/dev/null
  # N (the twelfth review): a NOINHERIT member of pg_write_all_data (it may SET ROLE to it) counts too:
  # with one, the list (atk_owner listed by the superuser) is not read
  psql -X -q -d "$DSN" -c "DROP ROLE IF EXISTS b27_ni" -c "CREATE ROLE b27_ni NOINHERIT LOGIN" >/dev/null 2>&1
  q "GRANT pg_write_all_data TO b27_ni; INSERT INTO revos.trusted_roles (role, note) VALUES ('atk_owner', 'B27 N')" >/dev/null
  out=$(b21_call plan_schema "$(b22_pay b27-n "" ", \"views\": [{\"name\": \"b27_mv\", \"schema\": \"b27\", \"materialized\": true, \"query\": \"SELECT b27_w.posint ''1'' AS v\"}]")" "views[0].query")
  check "N: a NOINHERIT role in pg_write_all_data: the list is not read (a warning says why), the plan is blocked" "t|blocked|untrusted_name" \
    "$(grep -q 'revos.trusted_roles is not read.*pg_write_all_data' <<<"$out" && echo t)|$(tail -1 <<<"$out")"
  q "REVOKE pg_write_all_data FROM b27_ni; DELETE FROM revos.trusted_roles WHERE role = 'atk_owner'::regrole" >/dev/null
  # D: INSERT on revos.deferred_steps granted to atk_admin (as default privileges to revos_admin did):
  # an online index of the superuser's table stays pending — the worker runs nothing — until it is revoked
  q "GRANT INSERT ON revos.deferred_steps TO atk_admin; INSERT INTO b27.b27_t (v) SELECT 'x' || i FROM generate_series(1, 10) i" >/dev/null
  out=$(q "SELECT revos.apply_schema('$(b22_pay b27-d '{"name": "b27_t", "schema": "b27", "tenant_scoped": false, "columns": [{"name": "v", "type": "varchar(20)"}], "indexes": [{"columns": ["v"]}]}' ', "options": {"online": true}')') -> 'result' ->> 'status'")
  sleep 3
  check "D: the superuser's online apply ($out) while atk_admin may INSERT into revos.deferred_steps: its step is not run (still pending), no index" "pending|" \
    "$(q "SELECT string_agg(status, ',') FROM revos.deferred_steps WHERE version = 'b27-d'")|$(q "SELECT string_agg(indexname, ',') FROM pg_indexes WHERE schemaname = 'b27' AND tablename = 'b27_t' AND indexdef LIKE '%(v)'")"
  q "REVOKE INSERT ON revos.deferred_steps FROM atk_admin" >/dev/null
  steps_settle b27-d
  check "control: once revoked, the step runs (done), the index on v exists" "done|1" \
    "$(q "SELECT string_agg(status, ',') FROM revos.deferred_steps WHERE version = 'b27-d'")|$(q "SELECT count(*) FROM pg_indexes WHERE schemaname = 'b27' AND tablename = 'b27_t' AND indexdef LIKE '%(v)'")"
}

# B28. The twelfth adversarial review (of 72fdc99), each alone. T: a revos.deferred_steps row forged
# while another role could write the table (a pg_write_all_data member, a careless grant) stayed after
# the privilege was revoked, and the worker ran it as the role it named (a superuser). Now every table
# whose rows revos trusts refuses a write by any role but its owner (as whom revos writes) and
# superusers, whatever the privileges say (sql/finalize.sql, src/ledger/written_by_revos.rs): each
# table × each statement × each way of holding the privilege (a grant, pg_write_all_data inherited,
# SET ROLE pg_write_all_data from a NOINHERIT member, and session_replication_role = replica as a
# replica's apply runs), each statement alone and rolled back. F: EXECUTE that default privileges gave
# revos_admin, revos_app or a plain role on revos's functions survived the install's reset (a
# revos_admin member turned the drift capture off with revos.note_restore()).
b28_stmt() { # table op -> one statement of that kind on revos.$1
  local c  # (a constant: an UPDATE that reads a column needs SELECT on it too)
  case $1 in
    deferred_steps) c="version = 'x'" ;; schema_migrations) c="description = 'x'" ;; payload_memo) c="version = 'x'" ;;
    managed_tables) c="rel = 'public.atk_log'" ;; trusted_roles) c="note = 'x'" ;; events) c="actor_id = 'x'" ;;
    event_chain_heads) c="last_hash = 'x'" ;;
  esac
  case $2 in
    INSERT) case $1 in
        deferred_steps) echo "INSERT INTO revos.deferred_steps (migration_id, version, chain, kind, schema_name, table_name, sql, completion, role_oid, role_name, lock_timeout_ms)
                              VALUES (gen_random_uuid(), 'b28', 0, 'index', 'public', 'atk_log', 'ALTER ROLE atk_owner SUPERUSER', '{}', 10, 'postgres', 1000)" ;;
        schema_migrations) echo "INSERT INTO revos.schema_migrations (version, description, schema_hash, checksum, status, sql_script) VALUES ('b28', 'forged', 'x', 'x', 'applied', '')" ;;
        payload_memo) echo "INSERT INTO revos.payload_memo (jsonb_sha256, version, schema_hash, payload_hash) VALUES ('b28', 'b28', 'x', 'x')" ;;
        managed_tables) echo "INSERT INTO revos.managed_tables (rel) VALUES ('public.atk_log')" ;;
        trusted_roles) echo "INSERT INTO revos.trusted_roles (role, note) VALUES ('atk_owner', 'b28')" ;;
        event_chain_heads) echo "INSERT INTO revos.event_chain_heads (chain, last_id) VALUES ('tenant:b28', 1)" ;;
        # an id and a hash of its own (as a restored row has): no sequence is needed, the row is kept as it is
        events) echo "INSERT INTO revos.events (id, tenant_id, event_type, prev_hash, hash) VALUES (999999999, '$T1', 'b28.forged', repeat('0', 64), repeat('0', 64))" ;;
      esac ;;
    UPDATE) echo "UPDATE revos.$1 SET $c" ;;
    DELETE) echo "DELETE FROM revos.$1" ;;
    TRUNCATE) echo "TRUNCATE revos.$1" ;;
  esac
}
b28_ext_refused() { # CASE OPEN_SCHEMA EXT HOME: with CREATE on OPEN_SCHEMA granted to atk_owner, then to
                   # PUBLIC, each alone: the superuser's plan and apply of extension EXT in schema HOME are
                   # blocked (untrusted_name at extensions[0]) and EXT is not created
  local who fn out
  for who in atk_owner PUBLIC; do
    q "GRANT CREATE ON SCHEMA $2 TO $who" >/dev/null
    for fn in plan_schema apply_schema; do
      out=$(b21_call $fn "$(b22_pay "b28-${1//\'/p}-$fn-$who" "" ", \"extensions\": [{\"name\": \"$3\", \"schema\": \"$4\"}]")" "extensions[0]")
      check "$1: a superuser's $fn of extension $3 in $4, where $who may CREATE in $2: blocked, untrusted_name at extensions[0]" \
        "blocked|untrusted_name" "$out"
    done
    check "  ... $3 was not created" 0 "$(q "SELECT count(*) FROM pg_extension WHERE extname = '$3'")"
    q "REVOKE CREATE ON SCHEMA $2 FROM $who" >/dev/null
  done
}
attack_review_72fdc99() {
  echo "# B28. revos's own tables written by another role (T); routine grants from default privileges (F)"
  local t op how pre out n d fn tables="deferred_steps schema_migrations payload_memo managed_tables trusted_roles event_chain_heads"
  local heads_sql="SELECT md5(string_agg(chain || ':' || last_id || ':' || coalesce(prev_id, 0) || ':' || coalesce(last_hash, ''), ',' ORDER BY chain)) FROM revos.event_chain_heads" heads
  psql -X -q -d "$DSN" -c "DROP ROLE IF EXISTS b28_ni" -c "CREATE ROLE b28_ni NOINHERIT LOGIN" >/dev/null 2>&1
  # a row in each table, so that an UPDATE or DELETE has one to touch (the superuser's: allowed)
  q "INSERT INTO revos.trusted_roles (role, note) VALUES ('atk_other', 'B28 seed');
     INSERT INTO revos.payload_memo (jsonb_sha256, version, schema_hash, payload_hash) VALUES ('b28-seed', 'b28-seed', 'x', 'x');
     INSERT INTO revos.deferred_steps (migration_id, version, chain, kind, schema_name, table_name, sql, completion, role_oid, role_name, lock_timeout_ms, status)
       VALUES (gen_random_uuid(), 'b28-seed', 0, 'index', 'public', 'atk_log', 'SELECT 1', '{}', 10, 'postgres', 1000, 'done');
     INSERT INTO revos.managed_tables (rel) VALUES ('public.atk_log') ON CONFLICT DO NOTHING" >/dev/null
  heads=$(q "$heads_sql")
  check "control: the seed rows are there (the superuser may write)" "1|1|1|1" \
    "$(q "SELECT count(*) FROM revos.trusted_roles WHERE note = 'B28 seed'")|$(q "SELECT count(*) FROM revos.payload_memo WHERE version = 'b28-seed'")|$(q "SELECT count(*) FROM revos.deferred_steps WHERE version = 'b28-seed'")|$(q "SELECT count(*) FROM revos.managed_tables WHERE rel = 'public.atk_log'::regclass")"
  for how in grant inherited set_role replica; do
    case $how in
      grant|replica) q "GRANT INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA revos TO atk_owner;
                        GRANT USAGE ON ALL SEQUENCES IN SCHEMA revos TO atk_owner" >/dev/null
                     pre="SET ROLE atk_owner;"
                     [ $how = replica ] && pre="SET session_replication_role = replica; $pre" ;;
      inherited) q "GRANT pg_write_all_data TO atk_owner" >/dev/null; pre="SET ROLE atk_owner;" ;;
      set_role) q "GRANT pg_write_all_data TO b28_ni" >/dev/null; pre="SET ROLE b28_ni; SET ROLE pg_write_all_data;" ;;
    esac
    for t in $tables events; do
      for op in INSERT UPDATE DELETE TRUNCATE; do
        # events: UPDATE, DELETE and TRUNCATE are refused for everyone already (append-only)
        [ $t = events ] && [ $op != INSERT ] && continue
        # pg_write_all_data holds no TRUNCATE
        case $how in inherited|set_role) [ $op = TRUNCATE ] && continue ;; esac
        out=$(qdb "$T" "BEGIN; $pre $(b28_stmt $t $op); ROLLBACK" 2>&1)
        check "T ($how): $op on revos.$t by a role that holds the privilege is refused (written only by revos)" t \
          "$(grep -q 'written only by revos' <<<"$out" && echo t || echo "${out:0:200}")"
      done
    done
    case $how in
      grant|replica) q "REVOKE ALL ON ALL TABLES IN SCHEMA revos FROM atk_owner; REVOKE ALL ON ALL SEQUENCES IN SCHEMA revos FROM atk_owner" >/dev/null ;;
      inherited) q "REVOKE pg_write_all_data FROM atk_owner" >/dev/null ;;
      set_role) q "REVOKE pg_write_all_data FROM b28_ni" >/dev/null ;;
    esac
  done
  check "  ... the seed rows are as they were, and every chain's head (F1, the thirteenth review)" "1|1|1|1|$heads" \
    "$(q "SELECT count(*) FROM revos.trusted_roles WHERE note = 'B28 seed'")|$(q "SELECT count(*) FROM revos.payload_memo WHERE version = 'b28-seed'")|$(q "SELECT count(*) FROM revos.deferred_steps WHERE version = 'b28-seed'")|$(q "SELECT count(*) FROM revos.managed_tables WHERE rel = 'public.atk_log'::regclass")|$(q "$heads_sql")"
  # F1's other half: a pg_write_all_data member sets revos.events_id_seq back (a sequence has no
  # trigger). Tenant b28-seq's chain ends at an id far above the rest; with the sequence set below
  # it (no id taken yet there, so no collision), the chain's next event would go in under its last
  # one and verify_ledger report a break: it is refused, with the remedy; the chain stays whole.
  local top
  top=$(q "SELECT setval('revos.events_id_seq', (SELECT max(id) FROM revos.events) + 1000)")
  q "SELECT revos.log_event('{\"event_type\": \"b28.seq\", \"tenant_id\": \"b28-seq\"}')" >/dev/null
  q "GRANT pg_write_all_data TO atk_owner" >/dev/null
  as atk_owner "SELECT setval('revos.events_id_seq', $top - 500)" >/dev/null
  q "REVOKE pg_write_all_data FROM atk_owner" >/dev/null
  out=$(q "SELECT revos.log_event('{\"event_type\": \"b28.seq\", \"tenant_id\": \"b28-seq\"}')" 2>&1)
  check "F1: after a pg_write_all_data member set revos.events_id_seq back, the chain's next event is refused (the sequence was set back), not written under the chain's last" t \
    "$(grep -q 'the sequence was set back' <<<"$out" && echo t || echo "${out:0:200}")"
  q "SELECT setval('revos.events_id_seq', (SELECT max(id) FROM revos.events))" >/dev/null
  q "SELECT revos.log_event('{\"event_type\": \"b28.seq\", \"tenant_id\": \"b28-seq\"}')" >/dev/null
  check "  ... once the owner resets it, the chain goes on: verify_ledger('b28-seq') ok, 2 events" "true|2" \
    "$(q "SELECT v->>'ok', v->>'events_checked' FROM revos.verify_ledger('b28-seq') v")"
  q "DELETE FROM revos.trusted_roles WHERE note = 'B28 seed'; DELETE FROM revos.payload_memo WHERE version = 'b28-seed';
     DELETE FROM revos.deferred_steps WHERE version = 'b28-seed'; DELETE FROM revos.managed_tables WHERE rel = 'public.atk_log'::regclass" >/dev/null
  # T end to end (the review's stale_steps.sh): a pg_write_all_data member forges a step for the
  # superuser, the membership is revoked, the worker is started: the step never existed
  q "GRANT pg_write_all_data TO atk_owner" >/dev/null
  out=$(as atk_owner "$(b28_stmt deferred_steps INSERT)" 2>&1)
  q "REVOKE pg_write_all_data FROM atk_owner" >/dev/null
  steps_settle b28
  check "T: a step forged by a pg_write_all_data member (then revoked) is refused when written and never runs: atk_owner is no superuser" "t|0|f" \
    "$(grep -q 'written only by revos' <<<"$out" && echo t)|$(q "SELECT count(*) FROM revos.deferred_steps WHERE version = 'b28'")|$(q "SELECT rolsuper FROM pg_roles WHERE rolname = 'atk_owner'")"
  q "ALTER ROLE atk_owner NOSUPERUSER; DELETE FROM revos.deferred_steps WHERE version = 'b28'" >/dev/null
  # F: a database whose installer's default privileges grant EXECUTE on functions to revos_admin,
  # revos_app and atk_owner: after CREATE EXTENSION, who may execute what is exactly what a plain install
  # gives (this database's), for every function in revos
  psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS b28_f" -c "CREATE DATABASE b28_f" >/dev/null 2>&1 || die "cannot create b28_f"
  d=$(db_dsn b28_f)
  qdb "$d" "ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO revos_admin, revos_app, atk_owner; CREATE EXTENSION revos" >/dev/null
  local who_sql="SELECT coalesce(string_agg(r || ':' || p.oid::regprocedure::text, ',' ORDER BY r, p.oid::regprocedure::text), '')
                   FROM pg_proc p, unnest(ARRAY['revos_admin', 'revos_app', 'atk_owner', 'atk_other']) r
                  WHERE p.pronamespace = 'revos'::regnamespace AND has_function_privilege(r, p.oid, 'EXECUTE')"
  out=$(qdb "$d" "$who_sql")
  check "F: under default privileges granting EXECUTE, revos_admin, revos_app, atk_owner and PUBLIC execute exactly what a plain install lets them" \
    "$(q "$who_sql")" "$out"
  check "  ... (the plain install: revos_admin may not execute note_restore(), nor PUBLIC writing_ledger())" "f|f" \
    "$(q "SELECT has_function_privilege('revos_admin', 'revos.note_restore()', 'EXECUTE')")|$(q "SELECT has_function_privilege('atk_other', 'revos.writing_ledger()', 'EXECUTE')")"
  for fn in "note_restore()" "drift_frame_snapshot('x')" "writing_ledger()" "drift_paused()" "drift_actor()"; do
    out=$(qdb "${d/postgres@/atk_admin@}" "SELECT revos.$fn" 2>&1)
    check "F: a revos_admin member may not call revos.$fn there" t \
      "$(grep -q 'permission denied' <<<"$out" && echo t || echo "${out:0:200}")"
  done
  out=$(qdb "${d/postgres@/atk_app@}" "SELECT revos.apply_schema('{}')" 2>&1)
  check "F: a revos_app member may not call revos.apply_schema there" t \
    "$(grep -q 'permission denied' <<<"$out" && echo t || echo "${out:0:200}")"
  psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS b28_f" >/dev/null 2>&1
  # The extension cases below use two extensions of the test's own, written into the server's extension
  # directory (so every PostgreSQL version runs them, contrib or not): revos_b28_base (trusted,
  # relocatable) defines revos_b28_norm(numeric); revos_b28_dep requires it and its script calls
  # revos_b28_norm(1), which an overload revos_b28_norm(integer) on its search_path matches better.
  local extdir
  extdir="$(q "SELECT setting FROM pg_config WHERE name = 'SHAREDIR'")/extension"
  printf "default_version = '1.0'\nrelocatable = true\ntrusted = true\n" >"$extdir/revos_b28_base.control" ||
    die "cannot write the test's extensions into $extdir"
  echo "CREATE FUNCTION revos_b28_norm(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT \$1';" >"$extdir/revos_b28_base--1.0.sql"
  printf "default_version = '1.0'\nrelocatable = true\nrequires = 'revos_b28_base'\n" >"$extdir/revos_b28_dep.control"
  printf "CREATE TABLE revos_b28_settings (v numeric);\nINSERT INTO revos_b28_settings VALUES (revos_b28_norm(1));\n" >"$extdir/revos_b28_dep--1.0.sql"
  local base=revos_b28_base dep=revos_b28_dep
  local base_json="{\"name\": \"$base\", \"schema\": \"b28_ext\"}" dep_json="{\"name\": \"$dep\", \"schema\": \"b28_ext\"}"
  # X' (the eighth review, by reading): an extension the superuser's payload creates in a schema the
  # superuser owns but where atk_owner, or PUBLIC, may CREATE: the extension's script runs as the
  # superuser with that schema first on its search_path (PostgreSQL's own warning). Each alone, plan
  # and apply; the control: once nobody else may create there, applied.
  q "CREATE SCHEMA b28_ext; GRANT USAGE ON SCHEMA b28_ext TO PUBLIC" >/dev/null
  b28_ext_refused "X'" b28_ext $base b28_ext
  out=$(b21_call apply_schema "$(b22_pay b28-x-ok "" ", \"extensions\": [$base_json]")" "extensions[0]")
  check "control: the same extension once only the superuser may create in b28_ext: applied, $base in b28_ext" "applied|-|b28_ext" \
    "$out|$(q "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = '$base'")"
  q "DROP EXTENSION IF EXISTS $base CASCADE" >/dev/null
  # F2 (the thirteenth review): the schemas of the extensions it requires are on the script's search_path
  # too. $base installed in b28_req, where atk_owner (or PUBLIC) may CREATE; the superuser's payload puts
  # $dep in b28_ext, where nobody else may
  q "CREATE SCHEMA b28_req; GRANT USAGE ON SCHEMA b28_req TO PUBLIC; CREATE EXTENSION $base SCHEMA b28_req" >/dev/null
  b28_ext_refused F2 b28_req $dep b28_ext
  out=$(q "SELECT string_agg(e ->> 'message', ' | ') FROM jsonb_array_elements((SELECT revos.plan_schema('$(b22_pay b28-f3 "" ", \"extensions\": [$dep_json]")') -> 'result' -> 'validation_errors')) e" 2>&1)
  check "control: the same once nobody else may create in b28_req: planned, no validation error" "" "$out"
  q "DROP EXTENSION IF EXISTS $dep; DROP EXTENSION IF EXISTS $base" >/dev/null
  # G1 (the fourteenth review): a function atk_owner planted while it could create there stays after the
  # revoke revos's own message advises; H2 (the fifteenth): a view (one the script would read runs its
  # functions as the caller); in the extension's schema, then (G1) in a required one's
  local planted case kind stmt
  for planted in "G1|function|FUNCTION b28_ext.b28_planted(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1'" \
                 "H2|view|VIEW b28_ext.b28_planted AS SELECT 1 AS one"; do
    IFS='|' read -r case kind stmt <<<"$planted"
    q "GRANT CREATE ON SCHEMA b28_ext TO atk_owner" >/dev/null
    as atk_owner "CREATE $stmt" >/dev/null
    q "REVOKE CREATE ON SCHEMA b28_ext FROM atk_owner" >/dev/null
    for fn in plan_schema apply_schema; do
      out=$(b21_call $fn "$(b22_pay "b28-$case-$fn" "" ", \"extensions\": [$base_json]")" "extensions[0]")
      check "$case: a superuser's $fn of $base in b28_ext, which holds atk_owner's $kind (its CREATE revoked): blocked, untrusted_name at extensions[0]" \
        "blocked|untrusted_name" "$out"
    done
    q "DROP $kind b28_ext.b28_planted$([ "$kind" = function ] && echo '(integer)')" >/dev/null
  done
  q "CREATE EXTENSION $base SCHEMA b28_req; GRANT CREATE ON SCHEMA b28_req TO atk_owner" >/dev/null
  as atk_owner "CREATE FUNCTION b28_req.b28_planted(integer) RETURNS integer LANGUAGE sql AS 'SELECT 1'" >/dev/null
  q "REVOKE CREATE ON SCHEMA b28_req FROM atk_owner" >/dev/null
  out=$(b21_call apply_schema "$(b22_pay b28-g1-req "" ", \"extensions\": [$dep_json]")" "extensions[0]")
  check "G1: ... and of $dep in b28_ext, requiring $base in b28_req, which holds atk_owner's function: blocked, untrusted_name at extensions[0]" \
    "blocked|untrusted_name" "$out"
  q "DROP FUNCTION b28_req.b28_planted(integer); DROP EXTENSION $base" >/dev/null
  # G2, G3 (the fourteenth review): what the script's search_path holds changes while the apply waits for
  # a lock (a rename of a table atk_owner may read): atk_owner, allowed to create trusted extensions,
  # installs the required $base (G2), or the declared $base itself (G3: IF NOT EXISTS would keep it), in
  # its own schema b28_own. The check right before the extension's statement refuses (42501).
  q "CREATE SCHEMA b28_own AUTHORIZATION atk_owner; GRANT CREATE ON DATABASE $DB TO atk_owner" >/dev/null
  local ext_json=""
  for case in G2 G3; do
    b22_apply "$case's table" "$(b22_pay "b28-$case-1" '{"name": "b28_r_old", "schema": "b28_ext", "tenant_scoped": false, "columns": [{"name": "v", "type": "int"}]}')"
    q "GRANT SELECT ON b28_ext.b28_r_old TO atk_owner" >/dev/null
    case $case in
      G2) ext_json=$dep_json ;;
      G3) ext_json=$base_json ;;
    esac
    out=$(b21_window atk_owner b28_ext.b28_r_old "CREATE EXTENSION $base SCHEMA b28_own" apply_schema \
      "$(b22_pay "b28-$case-2" '{"name": "b28_r", "renamed_from": "b28_r_old", "schema": "b28_ext", "tenant_scoped": false, "columns": [{"name": "v", "type": "int"}]}' ", \"options\": {\"lock_timeout_ms\": 20000}, \"extensions\": [$ext_json]")" "extensions[0]")
    check "$case: a superuser's apply of $ext_json while atk_owner installs $base in its own schema during the apply's lock wait: refused (failed, 42501)" \
      "failed|42501" "$out"
    check "  ... nothing applied: b28_r_old not renamed, no $dep, $base only where atk_owner put it" "t|0|b28_own" \
      "$(q "SELECT to_regclass('b28_ext.b28_r_old') IS NOT NULL")|$(q "SELECT count(*) FROM pg_extension WHERE extname = '$dep'")|$(q "SELECT string_agg(extnamespace::regnamespace::text, ',') FROM pg_extension WHERE extname = '$base'")"
    q "DROP EXTENSION IF EXISTS $dep; DROP EXTENSION IF EXISTS $base; DROP TABLE IF EXISTS b28_ext.b28_r_old, b28_ext.b28_r" >/dev/null
  done
  # H1 (the fifteenth review): the same race inside the rolled-back trial that creates a payload's new
  # extensions before validation (plan and apply): atk_owner holds an uncommitted CREATE EXTENSION of the
  # required extension in its own schema, with an overload there; the trial's CREATE of that extension
  # waits, fails when atk_owner commits (ignored: one that cannot be created is left out), and the
  # dependent extension's script ran with b28_own on its search_path, where atk_owner's
  # revos_b28_norm(integer) matches revos_b28_norm(1) better.
  spy_fn atk_owner b28h1
  for fn in plan_schema apply_schema; do
    as atk_owner "BEGIN; CREATE EXTENSION $base SCHEMA b28_own;
      $(b22_evil "b28_own.revos_b28_norm(integer)" numeric 1 b28h1); SELECT pg_sleep(3); COMMIT" >/dev/null 2>&1 &
    sleep 0.5
    out=$(b21_call $fn "$(b22_pay "b28-h1-$fn" "" ", \"extensions\": [$base_json, $dep_json]")" "extensions")
    wait
    check "H1: a superuser's $fn of $dep while atk_owner's uncommitted $base (in b28_own) holds the trial's CREATE: refused" \
      refused "$(b22_refused "$out")"
    check "  ... atk_owner's revos_b28_norm(integer) never ran as the superuser" f "$(b17_ran b28h1)"
    q "DROP EXTENSION IF EXISTS $dep; DROP EXTENSION IF EXISTS $base CASCADE; DROP FUNCTION IF EXISTS b28_own.revos_b28_norm(integer)" >/dev/null
  done
  q "REVOKE CREATE ON DATABASE $DB FROM atk_owner" >/dev/null
  # F3: in a database atk_owner owns, a schema where pg_database_owner may CREATE is named so, with the
  # database owner it stands for (REVOKE … FROM atk_owner would change nothing)
  psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS b28_dbo" -c "CREATE DATABASE b28_dbo OWNER atk_owner" >/dev/null 2>&1 || die "cannot create b28_dbo"
  d=$(db_dsn b28_dbo)
  qdb "$d" "CREATE EXTENSION revos; CREATE SCHEMA b28_x; GRANT CREATE ON SCHEMA b28_x TO pg_database_owner" >/dev/null
  out=$(qdb "$d" "SELECT revos.plan_schema('$(b22_pay b28-f3 "" ", \"extensions\": [{\"name\": \"$base\", \"schema\": \"b28_x\"}]")')" 2>&1)
  check "F3: the refusal names pg_database_owner (the database owner, atk_owner), as granted" t \
    "$(grep -q 'pg_database_owner (the database owner, atk_owner)' <<<"$out" && echo t || echo "${out:0:300}")"
  psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS b28_dbo" >/dev/null 2>&1
  rm -f "$extdir"/revos_b28_base.control "$extdir"/revos_b28_base--1.0.sql "$extdir"/revos_b28_dep.control "$extdir"/revos_b28_dep--1.0.sql
}

# B29. The adversarial review of 5798187 (A, C): standard_conforming_strings set off by a database
# owner (ALTER DATABASE … SET) or by a revos_admin member for itself (ALTER ROLE … SET): a check whose
# text the gates read (with the setting on) as one expression with two string literals became, where
# revos's DDL ran under the session's setting, more ALTER TABLE subcommands run as the applier — in the
# deferred worker (A: a check it added after the commit) and in plan_schema's shadow table (C). And B:
# a name squatted by a constraint trigger counted as revos's NOT NULL helper added and validated. The
# reviewer's scripts (tests/review/; B's narrowed to the helper), each case required "not reproduced".
attack_review_5798187() {
  echo "# B29. standard_conforming_strings off in the database or the role: a check's text stays one expression"
  local f out n
  for f in scs_worker_check scs_shadow helper_squat; do
    out=$(timeout 600 bash "$(dirname "$0")/review/$f.sh" "$DSN" 2>&1)
    n=$(grep -c "not reproduced" <<<"$out")
    check "B29 $f: every case not reproduced (cases run: $n)" "0 t" \
      "$(grep -c "REPRODUCED" <<<"$out") $([ "$n" -ge 1 ] && echo t || echo "none ran: ${out: -300}")"
  done
}

# B31. The drift review of d9c3a68, each alone. H1: session_replication_role = replica (a superuser, or
# a role given SET on it) skipped revos's event triggers, enabled the default way. H2: only what a managed
# table's parts depend on directly was followed — a domain over a domain, an array of a domain or an
# enum, a composite type's attribute, a domain's check function, a function another one's body calls
# went unrecorded. M1: DROP INDEX CONCURRENTLY of a managed index was not recorded (its commits emptied
# the command's frame), and CREATE INDEX CONCURRENTLY's actor was the ledger's owner. M2: a temporary
# table with a marker (anyone's, TEMP is PUBLIC's) made its DDL events of the global chain.
b30_table() { # NAME COLUMNS: atk_admin applies a (tenant) table NAME with COLUMNS
  check "atk_admin applies b30 table $1" applied \
    "$(as atk_admin "SELECT revos.apply_schema('{\"schema_version\": \"atk-b30-$1\", \"description\": \"x\",
       \"tables\": [{\"name\": \"$1\", \"columns\": $2}]}') -> 'result' ->> 'status'")"
}
attack_drift_review_d9c3a68() {
  echo "# B31. drift capture: replica mode, deeper dependencies, CONCURRENTLY, temporary markers"
  local m out idx
  # H1
  managed b30_rep1
  q "GRANT SET ON PARAMETER session_replication_role TO atk_admin" >/dev/null
  attempt "H1: atk_admin, given SET on session_replication_role, in replica mode: ALTER POLICY ... USING (true)" b30_rep1 \
    "SET session_replication_role = replica; ALTER POLICY revos_tenant_isolation ON public.b30_rep1 USING (true)"
  q "REVOKE SET ON PARAMETER session_replication_role FROM atk_admin" >/dev/null
  managed b30_rep2
  m=$(mark)
  q "SET session_replication_role = replica; ALTER TABLE public.b30_rep2 NO FORCE ROW LEVEL SECURITY" >/dev/null
  recorded "H1: a superuser in replica mode: NO FORCE ROW LEVEL SECURITY" b30_rep2 "$m"
  check "H1: revos's three event triggers are ENABLE ALWAYS" "A,A,A" \
    "$(q "SELECT string_agg(evtenabled::text, ',' ORDER BY evtname) FROM pg_event_trigger WHERE evtname LIKE 'revos_drift%'")"
  # H2, each its own types and table
  q "SET ROLE atk_admin; CREATE DOMAIN adm.b30_d1 AS int CHECK (VALUE > 0); CREATE DOMAIN adm.b30_d2 AS adm.b30_d1" >/dev/null
  b30_table b30_dd '[{"name": "n", "type": "adm.b30_d2"}]'
  attempt "H2: ALTER DOMAIN ... DROP CONSTRAINT of the domain under a managed column's domain" b30_dd \
    "ALTER DOMAIN adm.b30_d1 DROP CONSTRAINT b30_d1_check"
  q "SET ROLE atk_admin; CREATE DOMAIN adm.b30_d3 AS int CHECK (VALUE > 0)" >/dev/null
  b30_table b30_arr '[{"name": "a", "type": "adm.b30_d3[]"}]'
  attempt "H2: ALTER DOMAIN ... DROP CONSTRAINT of the element domain of a managed array column" b30_arr \
    "ALTER DOMAIN adm.b30_d3 DROP CONSTRAINT b30_d3_check"
  check "atk_admin applies an enum and a table with an array of it" applied \
    "$(as atk_admin "SELECT revos.apply_schema('{\"schema_version\": \"atk-b30-enum\", \"description\": \"x\",
       \"enums\": [{\"schema\": \"adm\", \"name\": \"b30_st\", \"values\": [\"open\", \"closed\"]}],
       \"tables\": [{\"name\": \"b30_earr\", \"columns\": [{\"name\": \"s\", \"type\": \"adm.b30_st[]\"}]}]}') -> 'result' ->> 'status'")"
  attempt "H2: ALTER TYPE ... RENAME VALUE of the enum of a managed array column" b30_earr \
    "ALTER TYPE adm.b30_st RENAME VALUE 'open' TO 'anything'"
  q "SET ROLE atk_admin; CREATE DOMAIN adm.b30_d4 AS int CHECK (VALUE > 0); CREATE TYPE adm.b30_comp AS (a int, b adm.b30_d4, z int)" >/dev/null
  b30_table b30_comp '[{"name": "c", "type": "adm.b30_comp"}]'
  attempt "H2: ALTER DOMAIN ... DROP CONSTRAINT of a domain a managed column's composite type has" b30_comp \
    "ALTER DOMAIN adm.b30_d4 DROP CONSTRAINT b30_d4_check"
  attempt "H2: ALTER TYPE ... DROP ATTRIBUTE of a managed column's composite type" b30_comp \
    "ALTER TYPE adm.b30_comp DROP ATTRIBUTE z"
  q "SET ROLE atk_admin; CREATE FUNCTION adm.b30_pos(int) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN \$1 > 0;
     CREATE DOMAIN adm.b30_d5 AS int CHECK (adm.b30_pos(VALUE))" >/dev/null
  b30_table b30_dchk '[{"name": "n", "type": "adm.b30_d5"}]'
  attempt "H2: CREATE OR REPLACE of the function a managed column's domain check calls" b30_dchk \
    "CREATE OR REPLACE FUNCTION adm.b30_pos(int) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN true"
  q "SET ROLE atk_admin; CREATE FUNCTION adm.b30_inner(int) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN \$1 > 0;
     CREATE FUNCTION adm.b30_outer(int) RETURNS boolean LANGUAGE sql IMMUTABLE BEGIN ATOMIC SELECT adm.b30_inner(\$1); END" >/dev/null
  b30_table b30_nest '[{"name": "n", "type": "int", "check": "adm.b30_outer(n)"}]'
  attempt "H2: CREATE OR REPLACE of a function the function of a managed check calls (BEGIN ATOMIC)" b30_nest \
    "CREATE OR REPLACE FUNCTION adm.b30_inner(int) RETURNS boolean LANGUAGE sql IMMUTABLE RETURN true"
  # M1
  managed b30_cic
  idx=$(q "SELECT i.indexrelid::regclass FROM pg_index i WHERE i.indrelid = 'public.b30_cic'::regclass AND NOT i.indisprimary ORDER BY 1 LIMIT 1")
  m=$(mark)
  out=$(psql -X -q -At -d "$T" -c "SET ROLE atk_admin" -c "DROP INDEX CONCURRENTLY $idx" 2>&1)
  check "M1: DROP INDEX CONCURRENTLY $idx of managed b30_cic: dropped" "" "$out$(q "SELECT to_regclass('$idx')")"
  recorded "M1: DROP INDEX CONCURRENTLY of a managed table's index: recorded" b30_cic "$m"
  check "M1: ... with atk_admin as its actor" atk_admin \
    "$(q "SELECT string_agg(DISTINCT actor_id, ',') FROM revos.events WHERE event_type = 'schema_drift_detected' AND subject_id = 'public.b30_cic' AND id > $m")"
  m=$(mark)
  psql -X -q -At -d "$T" -c "SET ROLE atk_admin" -c "CREATE INDEX CONCURRENTLY b30_cic_x ON public.b30_cic (secret)" >/dev/null 2>&1
  check "M1: CREATE INDEX CONCURRENTLY on a managed table: recorded, with atk_admin as its actor" atk_admin \
    "$(q "SELECT string_agg(DISTINCT actor_id, ',') FROM revos.events WHERE event_type = 'schema_drift_detected' AND subject_id = 'public.b30_cic' AND id > $m")"
  m=$(mark)
  psql -X -q -At -d "$T" -c "SET ROLE atk_admin" -c "DROP INDEX CONCURRENTLY public.b30_cic_x" -c "ALTER TABLE public.b30_cic ADD COLUMN b30_after int" >/dev/null 2>&1
  check "M1: the statement after a DROP INDEX CONCURRENTLY has a frame of its own (two events, both atk_admin's)" "2 atk_admin" \
    "$(q "SELECT count(*) || ' ' || string_agg(DISTINCT actor_id, ',') FROM revos.events WHERE event_type = 'schema_drift_detected' AND subject_id = 'public.b30_cic' AND id > $m AND NOT payload ? 'phase'")"
  # M2
  m=$(mark)
  out=$(psql -X -q -At -d "${T/postgres@/atk_owner@}" -c "CREATE TEMP TABLE b30_tmp (a int)" \
    -c "CREATE POLICY revos_tenant_isolation ON b30_tmp USING (true)" -c "ALTER TABLE b30_tmp ADD COLUMN b int" \
    -c "CREATE INDEX ON b30_tmp (a)" -c "DROP POLICY revos_tenant_isolation ON b30_tmp" -c "DROP TABLE b30_tmp" 2>&1)
  check "M2: atk_owner's temporary table with a revos_tenant_isolation policy: its DDL ran and wrote no event" "0|" \
    "$(q "SELECT count(*) FROM revos.events WHERE id > $m")|$out"
  # the review of 70d2215, each alone. M2: a table's row type as a column type, a view a policy reads.
  # L1: a chain of more domains than the walk's old 8 steps. L3: a temporary statistics object on a
  # managed table. M3: a permanent (unlogged) table of a plain role with a marker.
  q "SET ROLE atk_admin; CREATE DOMAIN adm.b31_dpos AS int CHECK (VALUE > 0); CREATE TABLE adm.b31_rowt (a adm.b31_dpos, b int)" >/dev/null
  b30_table b31_rt '[{"name": "r", "type": "adm.b31_rowt"}]'
  attempt "70d2215 M2: ALTER DOMAIN ... DROP CONSTRAINT of a domain in the table whose row type a managed column has" b31_rt \
    "ALTER DOMAIN adm.b31_dpos DROP CONSTRAINT b31_dpos_check"
  attempt "70d2215 M2: ALTER TABLE ... ADD COLUMN of the table whose row type a managed column has" b31_rt \
    "ALTER TABLE adm.b31_rowt ADD COLUMN z int"
  managed b31_pv
  q "SET ROLE atk_admin; CREATE VIEW adm.b31_v1 AS SELECT 1 AS t; CREATE VIEW adm.b31_v2 AS SELECT t FROM adm.b31_v1;
     CREATE POLICY b31_p ON public.b31_pv AS RESTRICTIVE USING (1 IN (SELECT t FROM adm.b31_v2))" >/dev/null
  attempt "70d2215 M2: CREATE OR REPLACE VIEW of the view read by the view a managed table's policy reads" b31_pv \
    "CREATE OR REPLACE VIEW adm.b31_v1 AS SELECT 2 AS t"
  q "SET ROLE atk_admin; CREATE DOMAIN adm.b31_e0 AS int CHECK (VALUE > 0);
     DO \$\$ BEGIN FOR i IN 1..11 LOOP EXECUTE format('CREATE DOMAIN adm.b31_e%s AS adm.b31_e%s', i, i - 1); END LOOP; END \$\$" >/dev/null
  b30_table b31_deep '[{"name": "n", "type": "adm.b31_e11"}]'
  attempt "70d2215 L1: ALTER DOMAIN ... DROP CONSTRAINT at the bottom of a chain of 12 domains" b31_deep \
    "ALTER DOMAIN adm.b31_e0 DROP CONSTRAINT b31_e0_check"
  q "SET ROLE atk_admin; CREATE SEQUENCE adm.b31_seq" >/dev/null
  b30_table b31_sq '[{"name": "n", "type": "bigint", "default": "nextval('"''"'adm.b31_seq'"''"'::regclass)"}]'
  attempt "70d2215 L4: ALTER SEQUENCE ... MAXVALUE of the sequence a managed column's default calls" b31_sq \
    "ALTER SEQUENCE adm.b31_seq MAXVALUE 5"
  managed b31_stat
  m=$(mark)
  psql -X -q -At -d "$T" -c "SET ROLE atk_admin" -c "CREATE STATISTICS pg_temp.b31_st2 (ndistinct) ON tenant_id, secret FROM public.b31_stat" \
    -c "DROP STATISTICS pg_temp.b31_st2" >/dev/null 2>&1
  check "70d2215 L3: CREATE and DROP STATISTICS pg_temp.… on a managed table: both recorded" "CREATE STATISTICS,DROP STATISTICS" \
    "$(q "SELECT string_agg(payload ->> 'command_tag', ',' ORDER BY id) FROM revos.events WHERE event_type = 'schema_drift_detected' AND subject_id = 'public.b31_stat' AND id > $m")"
  m=$(mark)
  out=$(psql -X -q -At -d "${T/postgres@/atk_owner@}" -c "CREATE UNLOGGED TABLE public.b31_squat (a int)" \
    -c "CREATE POLICY revos_tenant_isolation ON public.b31_squat USING (true)" -c "ALTER TABLE public.b31_squat ADD COLUMN c int" \
    -c "DROP POLICY revos_tenant_isolation ON public.b31_squat" -c "DROP TABLE public.b31_squat" 2>&1)
  check "70d2215 M3: atk_owner's own (unlogged) table with a revos_tenant_isolation policy: its DDL ran and wrote no event" "0|" \
    "$(q "SELECT count(*) FROM revos.events WHERE id > $m")|$out"
}

# B14. A table another role owns, declared by a superuser's payload (the adversarial review of issue
# 25): atk_owner's existing table with a row and a BEFORE UPDATE trigger of its own; the payload makes
# it tenant-scoped with options.backfill_tenant, so revos runs an UPDATE on it — and atk_owner's
# trigger ran as the superuser (in plan_schema's rehearsal too), where COPY … TO PROGRAM acts outside
# the transaction before the check after the DDL refuses it. Here the trigger advances a sequence (not
# rolled back) when it runs as a superuser. A table of atk_owner (a plain role) and one of atk_admin (a
# revos_admin member: its table may be changed, its function still runs no code as the superuser);
# plan_schema and apply_schema, each alone: refused before anything runs, the trigger never ran.
attack_squatted_table_trigger() {
  echo "# B14. another role's table with a trigger, made tenant-scoped by a superuser's payload"
  local who t fn out v=0
  # atk_owner: a plain role; atk_admin: a revos_admin member, whose table a superuser may change,
  # but whose trigger function is not the superuser's
  for who in atk_owner atk_admin; do
    t=b14_$who
    as "$who" "CREATE SEQUENCE public.${t}_ran; GRANT USAGE ON SEQUENCE public.${t}_ran TO PUBLIC;
      CREATE TABLE public.$t (secret text); INSERT INTO public.$t VALUES ('row');
      CREATE FUNCTION public.${t}_trig() RETURNS trigger LANGUAGE plpgsql AS \$f\$
        BEGIN
          IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user) THEN
            PERFORM pg_catalog.nextval('public.${t}_ran');
          END IF;
          RETURN NEW;
        END \$f\$;
      CREATE TRIGGER b14 BEFORE UPDATE ON public.$t FOR EACH ROW EXECUTE FUNCTION public.${t}_trig()" >/dev/null
    for fn in plan_schema apply_schema; do
      v=$((v + 1))
      q "SELECT pg_catalog.setval('public.${t}_ran', 1, false)" >/dev/null
      out=$(q "SELECT revos.$fn('{\"schema_version\": \"b14-$v\", \"description\": \"x\",
          \"options\": {\"backfill_tenant\": \"$T1\"},
          \"tables\": [{\"name\": \"$t\", \"timestamps\": false, \"soft_delete\": false,
                        \"columns\": [{\"name\": \"secret\", \"type\": \"text\"}]}]}')")
      check "superuser's $fn on $who's table with $who's trigger: refused (42501)" "42501" \
        "$(grep -o '42501' <<<"$out" | head -1)"
      check "  ... $who's trigger never ran as the superuser" f \
        "$(q "SELECT is_called FROM public.${t}_ran")"
    done
    check "  ... and the table is as $who left it (no tenant column)" 0 \
      "$(q "SELECT count(*) FROM pg_attribute WHERE attrelid = 'public.$t'::regclass AND attname = 'tenant_id'")"
  done
}

# B15. A table another role owns, adopted (the adversarial review of issue 25): atk_owner creates
# public.b15_t; a superuser's payload declares a tenant table of that name. It was "applied": the table
# kept its owner, who reads every tenant's rows (revos.set_tenant of any tenant, or RLS turned off).
attack_squatted_table_owner() {
  echo "# B15. another role's empty table, declared as a tenant table by a superuser's payload"
  as atk_owner "CREATE TABLE public.b15_t (secret text)" >/dev/null
  local out
  out=$(q "SELECT revos.apply_schema('{\"schema_version\": \"b15-1\", \"description\": \"x\",
      \"tables\": [{\"name\": \"b15_t\", \"columns\": [{\"name\": \"secret\", \"type\": \"text\"}]}]}')")
  check "superuser's apply declaring atk_owner's table: refused (failed, 42501)" "failed 42501" \
    "$(status_of "$out") $(sed -n 's/.*"sqlstate": "\([0-9A-Z]*\)".*/\1/p' <<<"$out" | head -1)"
  check "  ... and it is not row-level secured as if revos managed it" f \
    "$(q "SELECT relrowsecurity FROM pg_class WHERE oid = 'public.b15_t'::regclass")"
}

# B32. A concurrent command canceled after its first internal commit (the drift review of 70d2215, M1,
# open until 2026-12-07): CREATE INDEX CONCURRENTLY, DETACH PARTITION … CONCURRENTLY (and REINDEX … CONCURRENTLY, PostgreSQL 17+: earlier versions fire no event trigger for
# REINDEX) commit their first part, then wait for other sessions; canceled there, that part (an INVALID
# index, a pending detach) stayed with no event — ddl_command_end never fired. Now such a command on a
# managed table is recorded at its start too ("phase": "begun"), in its first transaction. Each alone:
# a session holds a lock on the table, the command (atk_admin's) waits for it after its first commit and
# is canceled there. DROP INDEX CONCURRENTLY is a GAP: it must be the first write of its transaction.
b32_begun() { # TABLE MARK: "begun events|their actors|events of ended commands" naming public.TABLE after MARK
  q "SELECT count(*) FILTER (WHERE payload ->> 'phase' = 'begun') || '|'
            || coalesce(string_agg(DISTINCT actor_id, ',') FILTER (WHERE payload ->> 'phase' = 'begun'), '') || '|'
            || count(*) FILTER (WHERE NOT payload ? 'phase')
       FROM revos.events WHERE event_type = 'schema_drift_detected' AND subject_id = 'public.$1' AND id > $2"
}
b32_wait() { local i; for i in $(seq 1 100); do [ "$(q "$1")" = 1 ] && return; sleep 0.1; done; }
# b32_cancel LOCKED CMD: a session holds ROW EXCLUSIVE on LOCKED; CMD (atk_admin's) runs, and is canceled
# once it waits for that session (after its first commit); then the holder ends. Prints CMD's output.
b32_cancel() {
  local i out
  PGAPPNAME=b32_hold psql -X -q -At -d "$T" -c "BEGIN" -c "LOCK TABLE $1 IN ROW EXCLUSIVE MODE" \
    -c "SELECT pg_sleep(60)" -c "COMMIT" >/dev/null 2>&1 &
  for i in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE a.application_name = 'b32_hold' AND l.relation = '$1'::regclass AND l.granted")" = 1 ] && break
    sleep 0.1
  done
  local f; f=$(mktemp)
  PGAPPNAME=b32_cmd psql -X -q -At -d "$T" -c "SET ROLE atk_admin" -c "$2" >"$f" 2>&1 &
  local cmd=$!
  for i in $(seq 1 100); do
    [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'b32_cmd' AND wait_event_type = 'Lock'")" = 1 ] && break
    sleep 0.1
  done
  q "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'b32_cmd'" >/dev/null
  wait "$cmd"
  q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'b32_hold'" >/dev/null
  wait
  cat "$f"; rm -f "$f"
}
attack_concurrent_begun() {
  echo "# B32. a concurrent command canceled after its first commit: recorded at its start"
  local m out
  managed b32_ci
  m=$(mark)
  out=$(b32_cancel public.b32_ci "CREATE INDEX CONCURRENTLY b32_ci_x ON public.b32_ci (secret)")
  check "CREATE INDEX CONCURRENTLY canceled after its first commit: canceled, its index left INVALID" "canceled|f" \
    "$(grep -q 'canceling statement' <<<"$out" && echo canceled)|$(q "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass('public.b32_ci_x')")"
  check "  ... recorded at its start (one begun event, atk_admin's; no event of its end)" "1|atk_admin|0" "$(b32_begun b32_ci "$m")"
  q "DROP INDEX public.b32_ci_x" >/dev/null
  managed b32_di
  q "CREATE INDEX b32_di_x ON public.b32_di (secret)" >/dev/null
  m=$(mark)
  out=$(b32_cancel public.b32_di "DROP INDEX CONCURRENTLY public.b32_di_x")
  check "DROP INDEX CONCURRENTLY canceled after its first commit: canceled, the index left INVALID" "canceled|f" \
    "$(grep -q 'canceling statement' <<<"$out" && echo canceled)|$(q "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass('public.b32_di_x')")"
  check_or_gap "  ... recorded at its start" "1|atk_admin|0" "$(b32_begun b32_di "$m")" \
    "PostgreSQL runs DROP INDEX CONCURRENTLY only as its transaction's first write: no event can precede it (docs/security.md)"
  check "atk_admin applies a partitioned table b32_pt with a partition" applied \
    "$(as atk_admin "SELECT revos.apply_schema('{\"schema_version\": \"atk-b32-pt\", \"description\": \"x\",
       \"tables\": [{\"name\": \"b32_pt\", \"columns\": [{\"name\": \"id\", \"type\": \"integer\"}, {\"name\": \"k\", \"type\": \"integer\"}],
       \"primary_key\": [\"id\", \"k\"], \"partition_by\": {\"method\": \"range\", \"columns\": [\"k\"]},
       \"partitions\": [{\"name\": \"b32_pt_p0\", \"values\": \"FROM (0) TO (100)\"}]}]}') -> 'result' ->> 'status'")"
  m=$(mark)
  out=$(b32_cancel public.b32_pt "ALTER TABLE public.b32_pt DETACH PARTITION public.b32_pt_p0 CONCURRENTLY")
  check "DETACH PARTITION CONCURRENTLY canceled after its first commit: canceled, the detach left pending" "canceled|t" \
    "$(grep -q 'canceling statement' <<<"$out" && echo canceled)|$(q "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = 'public.b32_pt_p0'::regclass")"
  check "  ... recorded at its start (one begun event on the parent, atk_admin's; no event of its end)" "1|atk_admin|0" "$(b32_begun b32_pt "$m")"
  if [ "$(q "SHOW server_version_num")" -ge 170000 ]; then
    managed b32_ri
    q "CREATE INDEX b32_ri_x ON public.b32_ri (secret)" >/dev/null
    m=$(mark)
    out=$(b32_cancel public.b32_ri "REINDEX INDEX CONCURRENTLY public.b32_ri_x")
    check "REINDEX INDEX CONCURRENTLY canceled after its first commit: canceled, an INVALID copy left" "canceled|1" \
      "$(grep -q 'canceling statement' <<<"$out" && echo canceled)|$(q "SELECT count(*) FROM pg_index i WHERE i.indrelid = 'public.b32_ri'::regclass AND NOT i.indisvalid")"
    check "  ... recorded at its start (one begun event, atk_admin's; no event of its end)" "1|atk_admin|0" "$(b32_begun b32_ri "$m")"
  else
    echo "NOTE: REINDEX … CONCURRENTLY not tried: PostgreSQL $(q "SHOW server_version") fires no event trigger for REINDEX (17+ does)"
  fi
  # the review of 4998950, each alone. F2: the begun event took the global chain's head before the
  # command waited for its table, so DDL on any other managed table waited behind a CREATE INDEX
  # CONCURRENTLY that waited for a VACUUM, an ANALYZE or another session's lock
  managed b32_f2
  PGAPPNAME=b32_f2hold psql -X -q -At -d "$T" -c "BEGIN" -c "LOCK TABLE public.b32_ci IN SHARE UPDATE EXCLUSIVE MODE" \
    -c "SELECT pg_sleep(8)" -c "COMMIT" >/dev/null 2>&1 &
  b32_wait "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'b32_f2hold' AND query LIKE '%pg_sleep%'"
  PGAPPNAME=b32_f2cic psql -X -q -At -d "$T" -c "SET ROLE atk_admin" \
    -c "CREATE INDEX CONCURRENTLY b32_f2_x ON public.b32_ci (secret)" >/dev/null 2>&1 &
  b32_wait "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'b32_f2cic' AND wait_event_type = 'Lock'"
  out=$(psql -X -q -At -d "$T" -c "SET ROLE atk_admin" -c "SET lock_timeout = '2s'" -c "ALTER TABLE public.b32_f2 ADD COLUMN f2 int" 2>&1)
  check "F2: while atk_admin's CREATE INDEX CONCURRENTLY waits for its table, DDL on another managed table completes" "" "$out"
  q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name IN ('b32_f2hold', 'b32_f2cic')" >/dev/null
  wait
  q "DROP INDEX IF EXISTS public.b32_f2_x" >/dev/null
  # F1: the gate resolved the command's name without a lock; a plain role whose command's begun event
  # waited (for the chain's head) put a table of its own under that name meanwhile: an event naming a
  # managed table it may not touch was committed, its index built on its own table
  q "CREATE SCHEMA b32_sp AUTHORIZATION atk_owner" >/dev/null
  m=$(mark)
  PGAPPNAME=b32_head psql -X -q -At -d "$T" -c "BEGIN" -c "ALTER TABLE public.b32_f2 ADD COLUMN f1 int" \
    -c "SELECT pg_sleep(4)" -c "COMMIT" >/dev/null 2>&1 &
  b32_wait "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'b32_head' AND query LIKE '%pg_sleep%'"
  PGAPPNAME=b32_forge psql -X -q -At -d "${T/postgres@/atk_owner@}" -c "SET search_path = b32_sp, public" \
    -c "CREATE INDEX CONCURRENTLY b32_forge_x ON b32_ci (secret)" >/dev/null 2>&1 &
  sleep 1
  as_login atk_owner "CREATE TABLE b32_sp.b32_ci (secret text)" >/dev/null
  wait
  check "F1: atk_owner's CREATE INDEX CONCURRENTLY naming a managed table it does not own (its own table put under the name meanwhile): no event" \
    "0" "$(q "SELECT count(*) FROM revos.events WHERE id > $m AND actor_id = 'atk_owner'")"
  # F4: IF NOT EXISTS of an index that exists only says so: no begun event without an end
  q "CREATE INDEX b32_ci_x ON public.b32_ci (secret)" >/dev/null
  m=$(mark)
  psql -X -q -At -d "$T" -c "SET ROLE atk_admin" -c "CREATE INDEX CONCURRENTLY IF NOT EXISTS b32_ci_x ON public.b32_ci (secret)" >/dev/null 2>&1
  check "F4: CREATE INDEX CONCURRENTLY IF NOT EXISTS of an existing index: no begun event" "0|" "$(b32_begun b32_ci "$m" | cut -d'|' -f1,2)"
  # a command that ends: its start and its end; not managed: nothing
  m=$(mark)
  psql -X -q -At -d "$T" -c "SET ROLE atk_admin" -c "CREATE INDEX CONCURRENTLY b32_ci_y ON public.b32_ci (secret)" >/dev/null 2>&1
  check "CREATE INDEX CONCURRENTLY that ends: a begun event and the event of its end" "1|atk_admin|1" "$(b32_begun b32_ci "$m")"
  q "CREATE TABLE public.b32_plain (a int); ALTER TABLE public.b32_plain OWNER TO atk_admin" >/dev/null
  m=$(mark)
  out=$(b32_cancel public.b32_plain "CREATE INDEX CONCURRENTLY b32_plain_x ON public.b32_plain (a)")
  check "CREATE INDEX CONCURRENTLY on a table revos does not manage, canceled: no event" "0" \
    "$(q "SELECT count(*) FROM revos.events WHERE id > $m")"
}

# B30. An object of the payload another role owns (the adversarial review of the declared objects, Medium: it led to
# superuser): a superuser's apply adopted the view, materialized view, function, aggregate or sequence
# it declared that another role had created first — "applied", that role still its owner, the declared
# grant written onto its function, a table's default bound to its sequence; the owner then replaced its
# view's query with a call of its own, which the superuser ran by selecting its declared view. Each kind
# alone, in b30 (a superuser's schema where atk_owner may CREATE): created by the superuser's apply
# and adopted by its next one (the control: the caller's own object), then given to atk_owner (the
# definition as declared) and changed by atk_owner (another definition, which CREATE OR REPLACE would
# have kept as atk_owner's): blocked, untrusted_name at the object's path, naming atk_owner, the object
# as atk_owner left it; adopted again once the extension's owner lists atk_owner in
# revos.trusted_roles (the control). And atk_owner's view and function, created while the apply waits
# for a lock after its checks: CREATE OR REPLACE kept them as atk_owner's; refused after the statements.
# A domain and an enum of atk_owner's: blocked. A revos_admin member's sequence is adopted (the rule for
# tables), its view refused (the rule for code). And a table whose default names atk_owner's sequence (not
# declared): refused.
b30_call() { # PAYLOAD PATH [WHO]: the superuser's apply; prints STATUS|CODE|NAMED: CODE is untrusted_name when such
             # an error is at PATH (NAMED: whether its message names WHO, default atk_owner, as the owner), else
             # the first validation error's code or the error's sqlstate
  q "SELECT r -> 'result' ->> 'status' || '|' || coalesce(x.e ->> 'code',
            r -> 'result' -> 'validation_errors' -> 0 ->> 'code', r -> 'result' -> 'error' ->> 'sqlstate', '-')
            || '|' || coalesce(x.e ->> 'message' LIKE '%owned by ${3:-atk_owner} %', false)
       FROM revos.apply_schema('$1') r
       LEFT JOIN LATERAL (SELECT e FROM jsonb_array_elements(CASE jsonb_typeof(r -> 'result' -> 'validation_errors')
                                 WHEN 'array' THEN r -> 'result' -> 'validation_errors' ELSE '[]' END) e
                           WHERE e ->> 'code' = 'untrusted_name' AND e ->> 'path' = '$2' LIMIT 1) x ON true"
}
attack_squatted_objects() {
  echo "# B30. another role's view, materialized view, function, aggregate, sequence, domain or enum, declared by a superuser's payload"
  q "CREATE SCHEMA b30; GRANT USAGE, CREATE ON SCHEMA b30 TO atk_owner; GRANT USAGE ON SCHEMA b30 TO PUBLIC" >/dev/null
  local spec kind path extra obj owner_sql change out n=0
  # KIND|PATH|PAYLOAD'S EXTRA KEYS|THE OBJECT (for ALTER … OWNER TO)|ITS OWNER (SQL)|ATK_OWNER'S CHANGE
  for spec in \
    "view|views[0]|, \"views\": [{\"name\": \"b30_v\", \"schema\": \"b30\", \"query\": \"SELECT 1 AS x\"}]|VIEW b30.b30_v|SELECT relowner::regrole FROM pg_class WHERE oid = 'b30.b30_v'::regclass|CREATE OR REPLACE VIEW b30.b30_v AS SELECT 2 AS x" \
    "materialized view|views[0]|, \"views\": [{\"name\": \"b30_mv\", \"schema\": \"b30\", \"query\": \"SELECT 1 AS x\", \"materialized\": true}]|MATERIALIZED VIEW b30.b30_mv|SELECT relowner::regrole FROM pg_class WHERE oid = 'b30.b30_mv'::regclass|DROP MATERIALIZED VIEW b30.b30_mv; CREATE MATERIALIZED VIEW b30.b30_mv AS SELECT 2 AS x" \
    "function|functions[0]|, \"functions\": [{\"name\": \"b30_f\", \"schema\": \"b30\", \"arguments\": \"\", \"returns\": \"bigint\", \"language\": \"sql\", \"volatility\": \"stable\", \"body\": \"SELECT 1::bigint\", \"grants\": [{\"to\": [\"revos_app\"], \"privileges\": [\"EXECUTE\"]}]}]|FUNCTION b30.b30_f()|SELECT proowner::regrole FROM pg_proc WHERE oid = 'b30.b30_f()'::regprocedure|DROP FUNCTION b30.b30_f(); CREATE FUNCTION b30.b30_f() RETURNS bigint LANGUAGE sql STABLE AS \$f\$SELECT 2::bigint\$f\$" \
    "aggregate|aggregates[0]|, \"aggregates\": [{\"name\": \"b30_agg\", \"schema\": \"b30\", \"arguments\": \"integer\", \"sfunc\": \"int4pl\", \"stype\": \"integer\", \"initcond\": \"0\"}]|AGGREGATE b30.b30_agg(integer)|SELECT proowner::regrole FROM pg_proc WHERE oid = 'b30.b30_agg(integer)'::regprocedure|CREATE OR REPLACE AGGREGATE b30.b30_agg(integer) (sfunc = int4pl, stype = integer, initcond = '1')" \
    "sequence|sequences[0]|, \"sequences\": [{\"name\": \"b30_s\", \"schema\": \"b30\"}]|SEQUENCE b30.b30_s|SELECT relowner::regrole FROM pg_class WHERE oid = 'b30.b30_s'::regclass|ALTER SEQUENCE b30.b30_s INCREMENT BY 2"; do
    IFS='|' read -r kind path extra obj owner_sql change <<<"$spec"
    n=$((n + 1))
    check "control: a superuser's apply creates the $kind" "applied|-|false" "$(b30_call "$(b22_pay "b30-$n-0" "" "$extra")" "$path")"
    check "control: the superuser's next apply adopts its own $kind" "applied|-|false" "$(b30_call "$(b22_pay "b30-$n-1" "" "$extra")" "$path")"
    q "ALTER $obj OWNER TO atk_owner" >/dev/null
    check "a superuser's apply declaring atk_owner's $kind, as declared: blocked, untrusted_name at $path naming atk_owner" \
      "blocked|untrusted_name|true" "$(b30_call "$(b22_pay "b30-$n-2" "" "$extra")" "$path")"
    as atk_owner "$change" >/dev/null
    check "a superuser's apply declaring atk_owner's $kind, defined otherwise: blocked, untrusted_name at $path naming atk_owner" \
      "blocked|untrusted_name|true" "$(b30_call "$(b22_pay "b30-$n-3" "" "$extra")" "$path")"
    check "  ... the $kind is still atk_owner's" atk_owner "$(q "$owner_sql")"
    [ "$kind" != function ] || check "  ... and the declared grant was not written onto it (atk_owner made it again)" f \
      "$(q "SELECT coalesce(proacl::text LIKE '%revos_app%', false) FROM pg_proc WHERE oid = 'b30.b30_f()'::regprocedure")"
    q "INSERT INTO revos.trusted_roles (role, note) VALUES ('atk_owner', 'attacks.sh B30 control')" >/dev/null
    check "control: once atk_owner is listed in revos.trusted_roles, the superuser's apply adopts its $kind" \
      "applied|-|false" "$(b30_call "$(b22_pay "b30-$n-4" "" "$extra")" "$path")"
    q "DELETE FROM revos.trusted_roles WHERE role = 'atk_owner'::regrole" >/dev/null
  done
  check "  ... no refused version was recorded as applied" "none" \
    "$(q "SELECT coalesce(string_agg(version, ','), 'none') FROM revos.schema_migrations WHERE version ~ '^b30-[0-9]-[23]$' AND status = 'applied'")"
  # a domain atk_owner made as the payload declares it; an enum given to atk_owner in a schema where it may
  # not create (an enum's CREATE SCHEMA IF NOT EXISTS refuses b30, where atk_owner may)
  as atk_owner "CREATE DOMAIN b30.b30_d AS integer" >/dev/null
  q "CREATE SCHEMA b30_x; GRANT USAGE ON SCHEMA b30_x TO PUBLIC; CREATE TYPE b30_x.b30_e AS ENUM ('a', 'b');
     ALTER TYPE b30_x.b30_e OWNER TO atk_owner" >/dev/null
  check "a superuser's apply declaring atk_owner's domain: blocked, untrusted_name at domains[0] naming atk_owner" "blocked|untrusted_name|true" \
    "$(b30_call "$(b22_pay b30-t-1 "" ', "domains": [{"name": "b30_d", "schema": "b30", "type": "integer"}]')" "domains[0]")"
  check "a superuser's apply declaring atk_owner's enum: blocked, untrusted_name at enums[0] naming atk_owner" "blocked|untrusted_name|true" \
    "$(b30_call "$(b22_pay b30-t-2 "" ', "enums": [{"name": "b30_e", "schema": "b30_x", "values": ["a", "b"]}]')" "enums[0]")"
  # a revos_admin member's (a migration role's): its sequence is held to the rule for tables (adopted, as
  # its table would be), its view to the rule for code (refused: one member's code is not the superuser's)
  q "GRANT CREATE ON SCHEMA b30 TO atk_admin" >/dev/null
  as atk_admin "CREATE SEQUENCE b30.b30_as; CREATE VIEW b30.b30_av WITH (security_invoker = true) AS SELECT 1 AS x" >/dev/null
  check "control: a superuser's apply declaring atk_admin's (a revos_admin member's) sequence adopts it" "applied|-|false" \
    "$(b30_call "$(b22_pay b30-a-1 "" ', "sequences": [{"name": "b30_as", "schema": "b30"}]')" "sequences[0]" atk_admin)"
  check "a superuser's apply declaring atk_admin's view: blocked, untrusted_name at views[0] naming atk_admin" "blocked|untrusted_name|true" \
    "$(b30_call "$(b22_pay b30-a-2 "" ', "views": [{"name": "b30_av", "schema": "b30", "query": "SELECT 1 AS x"}]')" "views[0]" atk_admin)"
  # a table whose default names a sequence atk_owner owns (the payload does not declare it)
  as atk_owner "CREATE SEQUENCE b30.b30_ids" >/dev/null
  out=$(b30_call "$(b22_pay b30-d-1 "{\"name\": \"b30_items\", \"schema\": \"b30\", \"tenant_scoped\": false,
      \"columns\": [{\"name\": \"n\", \"type\": \"bigint\", \"default\": \"pg_catalog.nextval(''b30.b30_ids''::pg_catalog.regclass)\"}]}")" "tables[0]")
  check "a superuser's apply of a table whose default names atk_owner's sequence: refused (failed, 42501)" "failed|42501|false" "$out"
  check "  ... and no such table" "" "$(q "SELECT to_regclass('b30.b30_items')")"
  # the statements' window: while the superuser's apply waits for atk_owner's lock on b30.b30_r (its
  # ALTER TABLE, after every check before the statements), atk_owner creates the view and the function
  # the payload declares as new, which CREATE OR REPLACE then kept as atk_owner's
  q "CREATE TABLE b30.b30_r (id integer); GRANT SELECT ON b30.b30_r TO atk_owner" >/dev/null
  out=$(b21_window atk_owner b30.b30_r "CREATE VIEW b30.b30_rv AS SELECT 2 AS x;
      CREATE FUNCTION b30.b30_rf() RETURNS integer LANGUAGE sql AS \$f\$SELECT 2\$f\$" apply_schema \
    "$(b22_pay b30-r-1 '{"name": "b30_r", "schema": "b30", "tenant_scoped": false, "timestamps": false, "soft_delete": false,
        "columns": [{"name": "id", "type": "integer"}, {"name": "n", "type": "integer"}]}' \
       ', "views": [{"name": "b30_rv", "schema": "b30", "query": "SELECT 1 AS x"}],
        "functions": [{"name": "b30_rf", "schema": "b30", "returns": "integer", "language": "sql", "body": "SELECT 1"}]')" "views[0]")
  check "a superuser's apply whose new view and function atk_owner creates while it waits for a lock (CREATE OR REPLACE): refused (failed, 42501)" \
    "failed|42501" "$out"
  check "  ... both are as atk_owner made them, and the table has no column n" "atk_owner|atk_owner|2|0" \
    "$(q "SELECT (SELECT relowner::regrole FROM pg_class WHERE oid = 'b30.b30_rv'::regclass) || '|' ||
                 (SELECT proowner::regrole FROM pg_proc WHERE oid = 'b30.b30_rf()'::regprocedure) || '|' ||
                 (SELECT x FROM b30.b30_rv) || '|' ||
                 (SELECT count(*) FROM pg_attribute WHERE attrelid = 'b30.b30_r'::regclass AND attname = 'n')")"
}

# The run, as one function read whole before it starts: the file may change while it runs (an edit
# made during a run no longer shifts what bash reads next)
main() {
  attack_tenant_values
  attack_cross_tenant
  attack_internals
  attack_actor
  attack_global_chain_lock
  attack_session_objects
  attack_subtransactions
  attack_nested_in_apply
  attack_backfill_token
  attack_uncaptured_objects
  attack_cascades
  attack_schema_level
  attack_replaced_function
  attack_forged_snapshot
  attack_unmanage
  attack_superuser_overload
  attack_set_tenant_squat
  attack_membership_squat
  attack_squatted_table_trigger
  attack_squatted_table_owner
  attack_squatted_objects
  attack_index_predicate_planning
  attack_around_the_count_check
  attack_review_1d8f8d6
  attack_review_5057330
  attack_review_08eb1c3
  attack_review_cf35c2f
  attack_review_f0637ad
  attack_review_20c6bb9
  attack_review_094f5f4
  attack_review_f7370bf
  attack_review_bd843a8
  attack_review_6f079fa
  attack_review_72fdc99
  attack_review_5798187
  attack_drift_review_d9c3a68
  attack_concurrent_begun
  end_state
  finish
}
main; exit
