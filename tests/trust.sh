#!/usr/bin/env bash
# Only revos writes its ledgers (contract section 11, issue 10): every forgery of issue 10, by an
# ordinary role with CREATE on public and by the owner of a revos-managed table (a revos_admin
# member), is refused and adds nothing to either ledger; revos.verify_ledger() is ok afterwards.
#
#   tests/trust.sh DSN      DSN: a superuser connection; the installed revos build is used.
# Recreates the database trust_test and the roles trust_ordinary, trust_owner, trust_app.
set -uo pipefail
DSN=${1:?usage: tests/trust.sh DSN}
. "$(dirname "$0")/lib.sh"
DB=trust_test
T=$(db_dsn $DB)

echo "# setup"
fresh_db $DB
psql -X -q -v ON_ERROR_STOP=1 -d "$DSN" >/dev/null 2>&1 <<'SQL' || die "cannot create the roles"
DROP ROLE IF EXISTS trust_ordinary;
DROP ROLE IF EXISTS trust_owner;
DROP ROLE IF EXISTS trust_app;
CREATE ROLE trust_ordinary NOLOGIN;
CREATE ROLE trust_owner NOLOGIN;
SQL
out=$(qdb "$T" - <<'SQL'
CREATE EXTENSION revos;
GRANT revos_admin TO trust_owner;
GRANT CREATE ON SCHEMA public TO trust_ordinary, trust_owner;
SET ROLE trust_owner;
SELECT revos.apply_schema('{"schema_version": "trust-1", "description": "owned",
  "tables": [{"name": "t_owned", "columns": [{"name": "n", "type": "int"}]}]}') -> 'result' ->> 'status';
SELECT revos.log_event('{"event_type": "setup.done", "tenant_id": "acme"}') ->> 'status';
SQL
)
check "setup: trust_owner applies trust-1 and logs an event" "applied
recorded" "$out"
check "the ledger row names the caller, not the table owner revos inserted as" "trust_owner" \
  "$(qdb "$T" "SELECT applied_by FROM revos.schema_migrations WHERE version = 'trust-1'")"

ledgers() { qdb "$T" "SELECT (SELECT count(*) FROM revos.events) || '|' || (SELECT count(*) FROM revos.schema_migrations)"; }

# refused NAME ROLE SQLSTATE MESSAGE SQL...: SQL (run as ROLE) fails with SQLSTATE and both
# ledgers are unchanged.
refused() {
  local name=$1 role=$2 state=$3 msg=$4; shift 4
  local before
  before=$(ledgers)
  expect_error_db "$name" "$state" "$msg" "$T" "SET ROLE $role" "$@"
  check "  ... and adds nothing to either ledger" "$before" "$(ledgers)"
}

MIG_COLS="id uuid DEFAULT gen_random_uuid(), version text, description text, schema_hash text, checksum text,
  status text, applied_at timestamptz, applied_by text DEFAULT current_user, tenant_id text, idempotency_key text,
  workflow_run_id text, sql_script text, error_message text, sqlstate text, execution_time_ms double precision,
  metadata jsonb DEFAULT '{}', created_at timestamptz DEFAULT now()"
EVT_COLS="id bigint, event_id uuid DEFAULT gen_random_uuid(), tenant_id text, event_type text, subject_type text,
  subject_id text, actor_id text, payload jsonb DEFAULT '{}', idempotency_key text, occurred_at timestamptz,
  recorded_at timestamptz, prev_hash text, hash text"

for role in trust_ordinary trust_owner; do
  echo "# forgeries by $role"
  qdb "$T" "SET ROLE $role; CREATE TABLE public.fake_mig_$role ($MIG_COLS); CREATE TABLE public.fake_evt_$role ($EVT_COLS)" >/dev/null
  refused "$role: attach revos.schema_migration_event() to a look-alike table (the issue's forgery)" $role \
    42501 "permission denied for function revos.schema_migration_event" \
    "CREATE TRIGGER forge AFTER INSERT ON public.fake_mig_$role FOR EACH ROW EXECUTE FUNCTION revos.schema_migration_event()"
  refused "$role: attach revos.events_chain()" $role 42501 "permission denied for function revos.events_chain" \
    "CREATE TRIGGER forge BEFORE INSERT ON public.fake_evt_$role FOR EACH ROW EXECUTE FUNCTION revos.events_chain()"
  refused "$role: attach revos.events_append_only()" $role 42501 "permission denied for function revos.events_append_only" \
    "CREATE TRIGGER forge BEFORE DELETE ON public.fake_evt_$role FOR EACH ROW EXECUTE FUNCTION revos.events_append_only()"
  refused "$role: INSERT INTO revos.schema_migrations (a row the no-op fast path would trust)" $role \
    42501 "permission denied for table schema_migrations" \
    "INSERT INTO revos.schema_migrations (version, description, schema_hash, checksum, status, applied_at, sql_script, metadata)
     VALUES ('trust-2', 'forged', 'x', 'x', 'applied', now(), '', '{\"payload_hash\": \"x\"}')"
  refused "$role: UPDATE revos.schema_migrations" $role 42501 "permission denied for table schema_migrations" \
    "UPDATE revos.schema_migrations SET metadata = '{}'"
  refused "$role: DELETE FROM revos.schema_migrations" $role 42501 "permission denied for table schema_migrations" \
    "DELETE FROM revos.schema_migrations"
  refused "$role: INSERT INTO revos.events" $role 42501 "permission denied for table events" \
    "INSERT INTO revos.events (event_type, tenant_id) VALUES ('schema_migration_applied', 'other')"
  refused "$role: INSERT INTO revos.event_chain_heads" $role 42501 "permission denied for table event_chain_heads" \
    "INSERT INTO revos.event_chain_heads VALUES ('tenant:x', 1, NULL)"
  refused "$role: call revos.drift_record()" $role 42501 "permission denied for function drift_record" \
    "SELECT revos.drift_record('ALTER TABLE', 'table', 'x', 'public', 'x')"
  for f in note_restore writing_ledger drift_paused; do
    refused "$role: call revos.$f()" $role 42501 "permission denied for function $f" "SELECT revos.$f()"
  done
done

echo "# log_event cannot write revos's own event types"
qdb "$T" "CREATE ROLE trust_app NOLOGIN; GRANT revos_app TO trust_app" >/dev/null
for t in schema_migration_applied schema_migration_failed schema_drift_detected; do
  refused "revos_app member: log_event of a $t event (flat form)" trust_app 22023 "event_type \"$t\" is reserved" \
    "SELECT revos.log_event('{\"event_type\": \"$t\", \"tenant_id\": \"other\", \"subject_type\": \"schema_migration\"}')"
done
refused "revos_app member: log_event of a schema_migration_applied event (envelope form)" trust_app 22023 "is reserved" \
  "SELECT revos.log_event('{\"meta\": {\"tenant_id\": \"other\", \"event_type\": \"schema_migration_applied\"}, \"payload\": {}}')"

echo "# SECURITY DEFINER functions cannot be steered by the caller's search_path"
check "every SECURITY DEFINER function of revos pins search_path, or is C (resolves no name but schema-qualified ones)" "" \
  "$(qdb "$T" "SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
               WHERE p.pronamespace = 'revos'::regnamespace AND p.prosecdef AND l.lanname <> 'c'
                 AND NOT coalesce(p.proconfig::text[] && ARRAY['search_path=pg_catalog, pg_temp'], false)")"
# Every function of revos is accounted for in docs/security.md (a new one, privileged or not, is
# added there in the same commit), and every one that is not C pins search_path with pg_temp last.
documented=$(grep -o 'revos\.[a-z_]*(' "$(dirname "$0")/../docs/security.md" | sed 's/^revos\.//; s/($//' | sort -u | tr '\n' ' ')
check "every function of revos is listed in docs/security.md with what pins it" "" \
  "$(qdb "$T" "SELECT string_agg(p.proname, ', ' ORDER BY p.proname) FROM pg_proc p
               WHERE p.pronamespace = 'revos'::regnamespace
                 AND NOT p.proname = ANY (string_to_array(trim('$documented'), ' '))")"
check "every non-C function of revos pins search_path (pg_catalog first, pg_temp last)" "" \
  "$(qdb "$T" "SELECT string_agg(p.oid::regprocedure::text, ', ') FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
               WHERE p.pronamespace = 'revos'::regnamespace AND l.lanname <> 'c'
                 AND NOT coalesce(p.proconfig::text[] && ARRAY['search_path=pg_catalog, pg_temp'], false)")"
# A revos_app member puts its own schema first, with look-alikes of what log_event's statements
# and the chain trigger use (=, hashtext, nextval, jsonb_build_object, coalesce's cast target, ...):
# each raises 'hijacked' if it ever runs with revos's privileges.
qdb "$T" "CREATE SCHEMA trust_evil AUTHORIZATION trust_app" >/dev/null
check "a revos_app member creates look-alikes in its own schema" "" "$(qdb "$T" - <<'SQL'
SET ROLE trust_app;
CREATE FUNCTION trust_evil.hijack(text, text) RETURNS boolean LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'hijacked: = ran as %', current_user; END $$;
CREATE OPERATOR trust_evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = trust_evil.hijack);
CREATE FUNCTION trust_evil.hashtext(text) RETURNS integer LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'hijacked: hashtext ran as %', current_user; END $$;
CREATE FUNCTION trust_evil.nextval(regclass) RETURNS bigint LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'hijacked: nextval ran as %', current_user; END $$;
CREATE FUNCTION trust_evil.pg_advisory_xact_lock(integer, integer) RETURNS void LANGUAGE plpgsql AS
  $$ BEGIN RAISE EXCEPTION 'hijacked: pg_advisory_xact_lock ran as %', current_user; END $$;
CREATE FUNCTION trust_evil.jsonb_build_object(text, text, text, uuid, text, bigint) RETURNS jsonb
  LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked: jsonb_build_object ran as %', current_user; END $$;
CREATE TABLE trust_evil.events (id bigint, event_id uuid, tenant_id text, idempotency_key text);
SQL
)"
steered() { # NAME EXPECTED SQL: run as trust_app with trust_evil first on search_path
  check "$1" "$2" "$(qdb "$T" "SET ROLE trust_app; SET search_path = trust_evil, pg_catalog, pg_temp; $3" | head -1)"
}
steered "log_event (flat, with a key and occurred_at) as a revos_app member with a hostile search_path" recorded \
  "SELECT revos.log_event('{\"event_type\": \"evil.try\", \"tenant_id\": \"other\", \"idempotency_key\": \"evil-1\",
                          \"occurred_at\": \"2024-01-02T03:04:05Z\", \"payload\": {\"a\": 1}}')->>'status'"
steered "the same key again: duplicate (the key lookup used pg_catalog's =)" duplicate \
  "SELECT revos.log_event('{\"event_type\": \"evil.try\", \"tenant_id\": \"other\", \"idempotency_key\": \"evil-1\"}')->>'status'"
steered "log_event (envelope) with a hostile search_path" recorded \
  "SELECT revos.log_event('{\"meta\": {\"tenant_id\": \"other\", \"event_type\": \"evil.env\"}, \"payload\": {}}')->>'status'"
steered "bad input with a hostile search_path: the usual 22023 message" \
  'ERROR:  revos.log_event: unknown field "evnt_type"' \
  "SELECT revos.log_event('{\"evnt_type\": \"x\"}')"
check "the events went to revos.events, none to the look-alike table" "2|0" \
  "$(qdb "$T" "SELECT (SELECT count(*) FROM revos.events WHERE event_type LIKE 'evil.%') || '|' ||
                      (SELECT count(*) FROM trust_evil.events)")"
qdb "$T" "DROP SCHEMA trust_evil CASCADE" >/dev/null

echo "# the table owner cannot hide DDL from drift capture"
before=$(qdb "$T" "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected'")
qdb "$T" "SET ROLE trust_owner; SET revos.applying = 'on'; ALTER TABLE public.t_owned DISABLE ROW LEVEL SECURITY" >/dev/null
check "SET revos.applying = on, then DISABLE ROW LEVEL SECURITY: recorded as drift" "$((before + 1))|trust_owner" \
  "$(qdb "$T" "SELECT count(*) || '|' || max(actor_id) FILTER (WHERE payload->>'table' = 't_owned')
             FROM revos.events WHERE event_type = 'schema_drift_detected'")"
qdb "$T" "ALTER TABLE public.t_owned ENABLE ROW LEVEL SECURITY" >/dev/null
out=$(qdb "$T" - <<'SQL'
BEGIN;
SET ROLE trust_owner;
SELECT revos.apply_schema('{"schema_version": "trust-3", "description": "more",
  "tables": [{"name": "t_owned", "columns": [{"name": "n", "type": "int"}, {"name": "m", "type": "int"}]}]}') -> 'result' ->> 'status';
ALTER TABLE public.t_owned ADD COLUMN after_apply int;
COMMIT;
SELECT string_agg(event_type || coalesce(':' || (payload->>'command_tag'), ''), ',' ORDER BY id)
  FROM revos.events WHERE id > (SELECT max(id) FROM revos.events WHERE event_type = 'schema_drift_detected'
                                  AND payload->>'command_tag' = 'ALTER TABLE' AND payload->>'object_identity' = 'public.t_owned'
                                  AND id < (SELECT max(id) FROM revos.events WHERE payload->>'version' = 'trust-3'));
SQL
)
check "apply's own DDL is not drift; DDL right after it, same transaction, is" "applied
schema_migration_applied,schema_drift_detected:ALTER TABLE" "$out"

echo "# only revos's planned DDL is exempt: DDL a caller's trigger runs during revos's backfill UPDATE is drift"
# A tenant retrofit backfills the existing rows with an UPDATE (a planned step, but not a DDL command:
# nothing is announced for it). The owner's own row trigger on that table alters another managed
# table's tenant policy meanwhile: that must be recorded, as any DDL outside revos's own statements.
out=$(qdb "$T" - <<'SQL'
SET ROLE trust_owner;
CREATE TABLE public.bf_legacy (note text);
INSERT INTO public.bf_legacy VALUES ('a'), ('b');
CREATE FUNCTION public.bf_sneak() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN EXECUTE 'ALTER POLICY revos_tenant_isolation ON public.t_owned USING (true)'; RETURN NEW; END $$;
CREATE TRIGGER bf_sneak BEFORE UPDATE ON public.bf_legacy FOR EACH ROW EXECUTE FUNCTION public.bf_sneak();
SELECT revos.tenant_table('bf_legacy', '[]', '{"backfill_tenant": "5b0b3c4e-9a4e-4a57-9d47-8f1f4f1f4f1f"}') -> 'result' ->> 'status';
RESET ROLE;
SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected'
   AND payload->>'command_tag' = 'ALTER POLICY' AND payload->>'table' = 't_owned';
ALTER POLICY revos_tenant_isolation ON public.t_owned
  USING (tenant_id OPERATOR(pg_catalog.=) (SELECT revos.current_tenant_id()::uuid))
  WITH CHECK (tenant_id OPERATOR(pg_catalog.=) (SELECT revos.current_tenant_id()::uuid));
SQL
)
check "tenant_table applies, and the trigger's ALTER POLICY is recorded (once per backfilled row)" "applied
2" "$out"

echo "# a superuser's misattached trigger functions refuse to run (TG_RELID)"
expect_error_db "schema_migration_event() on another table" 42501 "trigger of revos.schema_migrations only" "$T" \
  "CREATE TABLE public.su_mig ($MIG_COLS)" \
  "CREATE TRIGGER forge AFTER INSERT ON public.su_mig FOR EACH ROW EXECUTE FUNCTION revos.schema_migration_event()" \
  "INSERT INTO public.su_mig (version, status) VALUES ('x', 'applied')"
expect_error_db "events_chain() on another table" 42501 "trigger of revos.events only" "$T" \
  "CREATE TABLE public.su_evt ($EVT_COLS)" \
  "CREATE TRIGGER forge BEFORE INSERT ON public.su_evt FOR EACH ROW EXECUTE FUNCTION revos.events_chain()" \
  "INSERT INTO public.su_evt (event_type) VALUES ('x')"

echo "# the no-op fast path trusts only revos's rows"
check "trust-2 (the forged version) applies for real: applied, not noop" "applied|true" \
  "$(qdb "$T" "SET ROLE trust_owner; SELECT r->'result'->>'status' || '|' || (to_regclass('public.t_two') IS NOT NULL)::text
             FROM revos.apply_schema('{\"schema_version\": \"trust-2\", \"description\": \"real\",
               \"tables\": [{\"name\": \"t_two\", \"columns\": [{\"name\": \"n\", \"type\": \"int\"}]}]}') r")"

echo "# end state"
check "no forged event anywhere (no migration event for a version revos did not apply)" 0 \
  "$(qdb "$T" "SELECT count(*) FROM revos.events e WHERE e.event_type LIKE 'schema_migration_%'
             AND NOT EXISTS (SELECT 1 FROM revos.schema_migrations m WHERE m.id::text = e.subject_id)")"
check "verify_ledger() ok" true "$(qdb "$T" "SELECT revos.verify_ledger()->>'ok'")"

finish
