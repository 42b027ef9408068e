#!/usr/bin/env bash
# Postgres-internals hygiene (issue 10, item 4): errors a caller can cause come back as envelopes,
# and what revos declares about its functions is true.
#
#   tests/hygiene.sh DSN      DSN: a superuser connection; the installed revos build is used.
# Recreates the databases hygiene_test, hygiene_drop.
set -uo pipefail
DSN=${1:?usage: tests/hygiene.sh DSN}
. "$(dirname "$0")/lib.sh"
H=$(db_dsn hygiene_test)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"; [ -n "${holder:-}" ] && kill "$holder" 2>/dev/null' EXIT

fresh_db hygiene_test
qdb "$H" "CREATE EXTENSION revos" >/dev/null || die "CREATE EXTENSION revos failed"

echo "# current_tenant_id() is PARALLEL SAFE for real (no EXCEPTION block)"
# Every query is run by a parallel worker (force_parallel_mode, renamed debug_parallel_query in
# 16): a PL/pgSQL EXCEPTION block there fails ("cannot start subtransactions during a parallel
# operation").
PAR="SELECT set_config(CASE WHEN current_setting('server_version_num')::int >= 160000
                            THEN 'debug_parallel_query' ELSE 'force_parallel_mode' END, 'on', false)"
out=$(qdb "$H" - <<SQL
$PAR \g /dev/null
SET parallel_setup_cost = 0;
SET request.jwt.claims = 'not json';
SELECT coalesce(revos.current_tenant_id(), '<null>');
SET request.jwt.claims = '{"app_metadata": {"tenant_id": "acme"}}';
SELECT revos.current_tenant_id();
SET request.jwt.claims = '{"tenant_id": "", "app_metadata": {"tenant_id": "globex"}}';
SELECT revos.current_tenant_id();
SET app.current_tenant_id = 'set-by-app';
SELECT revos.current_tenant_id();
SQL
)
check "in a parallel worker: bad claims -> NULL, app_metadata, empty = unset, app.current_tenant_id first" \
  "<null>
acme
globex
set-by-app" "$out"
check "no PARALLEL SAFE revos function has an EXCEPTION block" 0 \
  "$(qdb "$H" "SELECT count(*) FROM pg_proc WHERE pronamespace = 'revos'::regnamespace AND proparallel = 's'
             AND prosrc ~* '\\mexception\\M'")"

echo "# payload size and depth: envelopes, checked before parsing"
deep=$(python3 -c "print('{\"schema_version\": \"d-1\", \"description\": \"deep\", \"tables\": ' + '[' * 200 + ']' * 200 + '}')")
check "nested 200 deep: blocked, payload_too_deep" "blocked|payload_too_deep" \
  "$(qdb "$H" "SELECT r->'result'->>'status' || '|' || (r->'result'->'validation_errors'->0->>'code')
             FROM revos.apply_schema('$deep') r")"
check "plan_schema too" "blocked|payload_too_deep" \
  "$(qdb "$H" "SELECT r->'result'->>'status' || '|' || (r->'result'->'validation_errors'->0->>'code')
             FROM revos.plan_schema('$deep') r")"
check "tenant_table: columns nested 200 deep: blocked, payload_too_deep" "blocked|payload_too_deep" \
  "$(qdb "$H" "SELECT r->'result'->>'status' || '|' || (r->'result'->'validation_errors'->0->>'code')
             FROM revos.tenant_table('deep', ('[' || repeat('[', 200) || repeat(']', 200) || ']')::jsonb) r")"
ok64=$(python3 -c "print('{\"schema_version\": \"d-2\", \"description\": \"x\", \"tables\": [{\"name\": \"t\", \"columns\": [{\"name\": \"c\", \"type\": \"int\", \"x\": ' + '[' * 59 + ']' * 59 + '}]}]}')")
check "nested 64 deep: read normally (here: an unknown key)" "blocked|unknown_key" \
  "$(qdb "$H" "SELECT r->'result'->>'status' || '|' || (r->'result'->'validation_errors'->0->>'code')
             FROM revos.plan_schema('$ok64') r")"
check "9 MiB and nested 300 deep: blocked, payload_too_large (size checked first)" "blocked|payload_too_large" \
  "$(qdb "$H" "SELECT r->'result'->>'status' || '|' || (r->'result'->'validation_errors'->0->>'code')
             FROM revos.apply_schema(('{\"schema_version\": \"d-3\", \"description\": \"' || repeat('x', 9 * 1024 * 1024)
                                      || '\", \"tables\": ' || repeat('[', 300) || repeat(']', 300) || '}')::jsonb) r")"
check "nothing recorded" "0|0" \
  "$(qdb "$H" "SELECT (SELECT count(*) FROM revos.schema_migrations) || '|' || (SELECT count(*) FROM revos.events)")"

echo "# expressions are validated under standard_conforming_strings = on, as they are executed"
# 'a\' || 'b' is the text a\b under standard_conforming_strings = on; with it off, 'a\' || ' is one
# literal and b' starts an unterminated bit string.
cat >"$TMP/scs.json" <<'JSON'
{"schema_version": "s-1", "description": "scs", "tables": [{"name": "scs", "columns": [
  {"name": "c", "type": "text", "default": "'a\\' || 'b'"}]}]}
JSON
check "session with standard_conforming_strings = off: validated as executed, applied" "applied|('a\\'::text || 'b'::text)" \
  "$(psql -X -q -At -d "$H" -v p="$(cat "$TMP/scs.json")" <<'SQL' 2>&1
SET standard_conforming_strings = off;
SET escape_string_warning = off;
SELECT r->'result'->>'status' AS status FROM revos.apply_schema(:'p') r \gset
SET standard_conforming_strings = on;
SELECT :'status' || '|' || pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
 WHERE d.adrelid = 'public.scs'::regclass AND a.attname = 'c';
SQL
)"
check "and the session's setting is left as it was" off \
  "$(psql -X -q -At -d "$H" -c "SET standard_conforming_strings = off" \
       -c "SELECT revos.plan_schema('{\"schema_version\": \"s-2\", \"description\": \"x\", \"tables\": [{\"name\": \"t\", \"columns\": [{\"name\": \"c\", \"type\": \"text\", \"default\": \"''x''\"}]}]}') IS NULL" \
       -c "SHOW standard_conforming_strings" | tail -1)"

echo "# type errors are caught in a subtransaction; the transaction goes on"
out=$(qdb "$H" - <<'SQL'
BEGIN;
SELECT r->'result'->'validation_errors'->0->>'code' FROM revos.plan_schema('{"schema_version": "t-1", "description": "x",
  "tables": [{"name": "t", "columns": [{"name": "a", "type": "numeric(1000)"}, {"name": "b", "type": "varchar(0)"},
                                       {"name": "c", "type": "nosuchschema.nosuchtype"}]}]}') r;
SELECT r->'result'->>'status' FROM revos.apply_schema('{"schema_version": "t-2", "description": "x",
  "tables": [{"name": "typed", "columns": [{"name": "a", "type": "numeric(10,2)"}]}]}') r;
COMMIT;
SELECT count(*) FROM revos.schema_migrations WHERE version = 't-2';
SQL
)
check "bad modifiers and unknown types: unknown_type; a later apply in the same transaction commits" "unknown_type
applied
1" "$out"

echo "# a row count that gates is read as the extension's owner: the caller's own privileges hide nothing"
# The table's owner revoked its own SELECT: SET NOT NULL still gets the count of NULL rows.
out=$(qdb "$H" - <<'SQL'
SELECT revos.apply_schema('{"schema_version": "rc-1", "description": "x",
  "tables": [{"name": "rc_people", "columns": [{"name": "email", "type": "text"}]}]}') -> 'result' ->> 'status';
INSERT INTO rc_people (tenant_id, email) VALUES (gen_random_uuid(), NULL);
SET client_min_messages = warning;
DROP ROLE IF EXISTS rc_owner;
RESET client_min_messages;
CREATE ROLE rc_owner;
GRANT revos_admin TO rc_owner;
GRANT USAGE, CREATE ON SCHEMA public TO rc_owner;
ALTER TABLE rc_people OWNER TO rc_owner;
REVOKE SELECT ON rc_people FROM rc_owner;
SET ROLE rc_owner;
SELECT r -> 'result' ->> 'status', r -> 'result' -> 'risks' -> 0 ->> 'code', r -> 'result' -> 'risks' -> 0 ->> 'rows'
  FROM revos.apply_schema('{"schema_version": "rc-2", "description": "x",
  "tables": [{"name": "rc_people", "columns": [{"name": "email", "type": "text", "not_null": true}]}]}') r;
SELECT count(*) FROM pg_attribute WHERE attrelid = 'rc_people'::regclass AND attname = 'email' AND attnotnull;
RESET ROLE;
SELECT count(*) FROM revos.schema_migrations WHERE version = 'rc-2';
SQL
)
check "owner without SELECT: the NULL row is counted all the same (set_not_null, 1 row); nothing changed or recorded" "applied
blocked|set_not_null|1
0
0" "$out"

echo "# a row count the plan needs but cannot read: an envelope (rows_unreadable), not an error"
# Another session holds the table past lock_timeout_ms while the NULL rows are counted.
psql -X -q -d "$H" -c "BEGIN" -c "LOCK TABLE rc_people IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(8)" -c "COMMIT" \
  >/dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do
  [ "$(qdb "$H" "SELECT count(*) FROM pg_locks WHERE relation = 'rc_people'::regclass AND mode = 'AccessExclusiveLock' AND granted")" = 1 ] && break
  sleep 0.1
done
out=$(qdb "$H" - <<'SQL'
SET statement_timeout = '5s';
SELECT r -> 'result' ->> 'status', r -> 'result' -> 'validation_errors' -> 0 ->> 'code',
       r -> 'result' -> 'validation_errors' -> 0 ->> 'path',
       (r -> 'result' -> 'validation_errors' -> 0 ->> 'message') LIKE '%public.rc_people%55P03%'
  FROM revos.apply_schema('{"schema_version": "rc-3", "description": "x", "options": {"lock_timeout_ms": 300},
  "tables": [{"name": "rc_people", "columns": [{"name": "email", "type": "text", "not_null": true}]}]}') r;
SELECT count(*) FROM revos.schema_migrations WHERE version = 'rc-3';
SQL
)
check "a count past lock_timeout_ms: blocked, rows_unreadable at the table, nothing recorded" "blocked|rows_unreadable|\$.tables[0]|t
0" "$out"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; holder=

echo "# a row estimate of NaN or beyond bigint (pg_class.reltuples, a float4 a table's owner can set with"
echo "# pg_restore_relation_stats on 18): the catalog is read, not refused with 'bigint out of range' (review of 8666076, L1)"
RT='{"schema_version": "rt-1", "description": "estimate", "tables": [{"name": "rt", "columns": [{"name": "v", "type": "integer"}]}]}'
RT2='{"schema_version": "rt-2", "description": "estimate", "tables": [{"name": "rt", "columns": [{"name": "v", "type": "integer"}, {"name": "w", "type": "integer"}]}]}'
qdb "$H" "SELECT revos.apply_schema('$RT')" >/dev/null
for est in NaN 1e19 Infinity; do
  out=$(qdb "$H" "UPDATE pg_class SET reltuples = '$est' WHERE oid = 'public.rt'::regclass;
                  SELECT r->'result'->>'status' FROM revos.plan_schema('$RT2') r")
  check "reltuples = $est: plan_schema plans (not an error)" planned "$out"
done
check "reltuples = Infinity: apply_schema applies; verified" "applied|true" \
  "$(qdb "$H" "SELECT r->'result'->>'status' || '|' || (r->'result'->'verification'->>'ok') FROM revos.apply_schema('$RT2') r")"

echo "# waiting for the apply lock is bounded by lock_timeout_ms: an envelope, not an error"
psql -X -q -d "$H" -c "BEGIN" -c "SELECT pg_advisory_xact_lock($((0x7265766f73)))" -c "SELECT pg_sleep(8)" -c "COMMIT" \
  >/dev/null 2>&1 &
holder=$!
for _ in $(seq 50); do
  [ "$(qdb "$H" "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ] && break
  sleep 0.1
done
out=$(qdb "$H" - <<'SQL'
SET statement_timeout = '5s';
SELECT r->'result'->>'status' || '|' || (r->'result'->'error'->>'sqlstate') FROM revos.apply_schema('{"schema_version": "l-1",
  "description": "waits", "options": {"lock_timeout_ms": 300},
  "tables": [{"name": "waits", "columns": [{"name": "a", "type": "int"}]}]}') r;
SELECT r->'result'->>'status' || '|' || (r->'result'->'error'->>'sqlstate') FROM revos.apply_schema('{"schema_version": "t-2", "description": "x",
  "options": {"lock_timeout_ms": 300}, "tables": [{"name": "typed", "columns": [{"name": "a", "type": "numeric(10,2)"}]}]}') r;
SELECT count(*) FROM revos.schema_migrations WHERE version = 'l-1';
SHOW lock_timeout;
SQL
)
check "new version and re-apply (fast path) both: failed, 55P03; nothing recorded; lock_timeout restored" "failed|55P03
failed|55P03
0
0" "$out"
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null; holder=

echo "# DROP EXTENSION leaves the roles (README: how to remove them)"
fresh_db hygiene_drop
HD=$(db_dsn hygiene_drop)
check "after DROP EXTENSION revos the cluster-wide roles remain" "2" \
  "$(qdb "$HD" "CREATE EXTENSION revos; DROP EXTENSION revos; SELECT count(*) FROM pg_roles WHERE rolname IN ('revos_admin', 'revos_app')")"
check "and nothing in that database refers to them any more" 0 \
  "$(qdb "$HD" "SELECT count(*) FROM pg_shdepend d JOIN pg_database db ON db.oid = d.dbid AND db.datname = current_database()
              WHERE d.refobjid IN (SELECT oid FROM pg_roles WHERE rolname IN ('revos_admin', 'revos_app'))")"

finish
