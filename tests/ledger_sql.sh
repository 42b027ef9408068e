#!/usr/bin/env bash
# Tests of the event ledger (sql/ledger.sql, contract sections 7 and 9) through psql.
#
#   tests/ledger_sql.sh DSN [--extension]   CREATE EXTENSION revos (the installed build) in a fresh db
# (The ledger's SQL calls C functions of the extension, src/ledger/writer.rs, so it is tested only
# as part of the extension; --extension is accepted for compatibility.)
#
# DSN: a superuser connection (URI or key=value), e.g. postgres://postgres@127.0.0.1:55440/postgres.
# The script drops and recreates the database ledger_test and the role ledger_test_app.
# Prints "N passed, M failed"; exits 1 when anything failed.
set -uo pipefail

DSN=${1:?usage: tests/ledger_sql.sh DSN [--extension]}
MODE=${2:-}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/tests/lib.sh"
DB=ledger_test
APP=ledger_test_app
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
TDSN=$(db_dsn $DB)

# q SQL|-: on the test database (tests/lib.sh's qdb)
q() { qdb "$TDSN" "$@"; }
# expect_error NAME SQLSTATE MESSAGE-SUBSTRING SQL...   (SQL may be several statements; the
# last must fail). Checks the SQLSTATE and that the message contains the substring.
expect_error() {
  local name=$1 state=$2 msg=$3; shift 3
  expect_error_db "$name" "$state" "$msg" "$TDSN" "$@"
}
count_events() { q "SELECT count(*) FROM revos.events"; }

# ---------------------------------------------------------------------------------------------
echo "# setup ($TDSN${MODE:+, $MODE})"
psql -X -q -v ON_ERROR_STOP=1 -d "$DSN" >/dev/null 2>"$TMP/setup.err" <<SQL || die "cannot recreate $DB: $(cat "$TMP/setup.err")"
DROP DATABASE IF EXISTS $DB WITH (FORCE);
DROP ROLE IF EXISTS $APP;
CREATE ROLE $APP NOLOGIN;
CREATE DATABASE $DB;
SQL
q "CREATE EXTENSION revos" >"$TMP/load.out" || die "CREATE EXTENSION revos failed: $(cat "$TMP/load.out")"
q "GRANT USAGE ON SCHEMA revos TO $APP" >/dev/null
ZEROS=0000000000000000000000000000000000000000000000000000000000000000

# ---------------------------------------------------------------------------------------------
echo "# schema_migrations -> events (trigger, same transaction)"
# Only revos writes schema_migrations (apply_schema inserts as the table's owner); its trigger
# writes the event.
q "SELECT revos.apply_schema('{\"meta\": {\"tenant_id\": \"tenant-m\", \"workflow_run_id\": \"wf-1\"},
     \"context\": {\"actor_id\": \"alice\"},
     \"payload\": {\"schema_version\": \"1.0.0\", \"description\": \"first\",
                   \"tables\": [{\"name\": \"m_one\", \"columns\": [{\"name\": \"x\", \"type\": \"int\"}]}]}}')" >/dev/null
mig=$(q "SELECT id FROM revos.schema_migrations WHERE version = '1.0.0'")
check "applied migration row inserted" 1 "$(q "SELECT count(*) FROM revos.schema_migrations WHERE id = '$mig'")"
check "applied migration: one event" 1 "$(q "SELECT count(*) FROM revos.events WHERE subject_id = '$mig'")"
check "applied migration: event columns" \
  "schema_migration_applied|tenant-m|schema_migration|$mig|alice" \
  "$(q "SELECT event_type, tenant_id, subject_type, subject_id, actor_id FROM revos.events WHERE subject_id = '$mig'")"
check "applied migration: payload" \
  "1.0.0|1|alice|wf-1|$mig|applied|postgres" \
  "$(q "SELECT payload->>'version', payload->'table_count',
               payload->>'actor_id', payload->>'workflow_run_id', payload->>'migration_id', payload->>'status',
               payload->>'applied_by'
        FROM revos.events WHERE subject_id = '$mig'")"
check "applied migration: checksum and schema_hash as in the row" t \
  "$(q "SELECT e.payload->>'checksum' = m.checksum AND e.payload->>'schema_hash' = m.schema_hash
        FROM revos.schema_migrations m JOIN revos.events e ON e.subject_id = m.id::text WHERE m.id = '$mig'")"
check "applied migration: table_count is a JSON number" number \
  "$(q "SELECT jsonb_typeof(payload->'table_count') FROM revos.events WHERE subject_id = '$mig'")"
check "migration row and event written by the same transaction" t \
  "$(q "SELECT m.xmin::text = e.xmin::text FROM revos.schema_migrations m JOIN revos.events e ON e.subject_id = m.id::text WHERE m.id = '$mig'")"

# a statement that fails at execution (the default is only evaluated when the table has rows)
q "CREATE TABLE public.m_two (x int, tenant_id text NOT NULL); INSERT INTO public.m_two VALUES (1, 't')" >/dev/null
q "SELECT revos.apply_schema('{\"meta\": {\"workflow_run_id\": \"wf-2\"}, \"context\": {\"actor_id\": \"bob\"},
     \"payload\": {\"schema_version\": \"1.0.1\", \"description\": \"broken\", \"options\": {\"tenant_type\": \"text\"},
                   \"tables\": [{\"name\": \"m_two\", \"columns\": [{\"name\": \"x\", \"type\": \"int\"},
                     {\"name\": \"y\", \"type\": \"int\", \"not_null\": true, \"default\": \"1/0\"}]}]}}')" >/dev/null
mig_failed=$(q "SELECT id FROM revos.schema_migrations WHERE version = '1.0.1'")
check "failed migration: event" \
  "schema_migration_failed||schema_migration|$mig_failed|bob|1.0.1|22012|1|wf-2" \
  "$(q "SELECT event_type, tenant_id, subject_type, subject_id, actor_id, payload->>'version',
               payload->>'sqlstate', payload->'table_count', payload->>'workflow_run_id'
        FROM revos.events WHERE subject_id = '$mig_failed'")"

q - >/dev/null <<'SQL'
BEGIN;
SELECT revos.apply_schema('{"schema_version": "9.9.9", "description": "rolled back",
                            "tables": [{"name": "m_three", "columns": [{"name": "x", "type": "int"}]}]}');
ROLLBACK;
SQL
check "rolled-back migration leaves neither row" "0|0" \
  "$(q "SELECT (SELECT count(*) FROM revos.schema_migrations WHERE version = '9.9.9'),
               (SELECT count(*) FROM revos.events WHERE payload->>'version' = '9.9.9')")"

# ---------------------------------------------------------------------------------------------
echo "# log_event: flat and envelope forms"
r=$(q "SELECT revos.log_event('{\"event_type\": \"order.created\", \"tenant_id\": \"tenant-a\", \"subject_type\": \"order\",
        \"subject_id\": \"o-1\", \"actor_id\": \"u-1\", \"payload\": {\"total\": 12.50, \"items\": [1, 2]},
        \"occurred_at\": \"2024-05-01T12:00:00Z\"}')")
check "flat: status recorded" recorded "$(q "SELECT '$r'::jsonb->>'status'")"
check "flat: returned id/event_id are the stored row" 1 \
  "$(q "SELECT count(*) FROM revos.events WHERE id = ('$r'::jsonb->>'id')::bigint AND event_id = ('$r'::jsonb->>'event_id')::uuid")"
# event_id: a version 7 UUID (RFC 9562) whose first 48 bits are the Unix time in milliseconds, now
check "flat: event_id is a version 7 UUID of this millisecond (within 10 s), variant RFC 9562" "7 true true" \
  "$(q "SELECT substr(u, 15, 1) || ' ' || (substr(u, 20, 1) IN ('8', '9', 'a', 'b'))::text || ' '
              || (abs(('x' || lpad(replace(substr(u, 1, 13), '-', ''), 16, '0'))::bit(64)::bigint
                      - (extract(epoch FROM clock_timestamp()) * 1000)::bigint) < 10000)::text
           FROM (SELECT '$r'::jsonb->>'event_id' AS u) x")"
check "flat: columns stored" \
  'tenant-a|order.created|order|o-1|u-1|{"items": [1, 2], "total": 12.50}||2024-05-01 12:00:00+00' \
  "$(q "SET TIME ZONE 'UTC'; SELECT tenant_id, event_type, subject_type, subject_id, actor_id, payload, idempotency_key, occurred_at
        FROM revos.events WHERE id = ('$r'::jsonb->>'id')::bigint")"

r=$(q "SELECT revos.log_event('{\"meta\": {\"tenant_id\": \"tenant-b\", \"idempotency_key\": \"env-key-1\", \"source\": \"n8n\"},
        \"subject\": {\"tenant_id\": \"ignored\", \"type\": \"invoice\", \"id\": 42},
        \"payload\": {\"event_type\": \"invoice.paid\", \"payload\": {\"amount\": 10}},
        \"context\": {\"actor_id\": \"workflow-7\"}}')")
check "envelope: status recorded" recorded "$(q "SELECT '$r'::jsonb->>'status'")"
check "envelope: fields from payload/meta/subject/context" \
  'tenant-b|invoice.paid|invoice|42|workflow-7|{"amount": 10}|env-key-1' \
  "$(q "SELECT tenant_id, event_type, subject_type, subject_id, actor_id, payload, idempotency_key
        FROM revos.events WHERE id = ('$r'::jsonb->>'id')::bigint")"
r=$(q "SELECT revos.log_event('{\"meta\": {\"tenant_id\": \"tenant-meta\"}, \"subject\": {\"tenant_id\": \"tenant-subject\"},
        \"payload\": {\"event_type\": \"x.y\", \"tenant_id\": \"tenant-payload\", \"subject_id\": \"s-1\"}}')")
check "envelope: payload fields win over meta/subject" "tenant-payload|s-1" \
  "$(q "SELECT tenant_id, subject_id FROM revos.events WHERE id = ('$r'::jsonb->>'id')::bigint")"
r=$(q "SELECT revos.log_event('{\"subject\": {\"tenant_id\": \"tenant-subject\"}, \"payload\": {\"event_type\": \"x.y\"}}')")
check "envelope: tenant_id falls back to subject.tenant_id" tenant-subject \
  "$(q "SELECT tenant_id FROM revos.events WHERE id = ('$r'::jsonb->>'id')::bigint")"
r=$(q - <<'SQL'
BEGIN;
SELECT set_config('app.current_tenant_id', 'tenant-ctx', true) \g /dev/null
SELECT revos.log_event('{"event_type": "ctx.event"}')->>'id';
COMMIT;
SQL
)
check "no tenant_id given: revos.current_tenant_id() is used" tenant-ctx \
  "$(q "SELECT tenant_id FROM revos.events WHERE id = ${r:-0}")"
r=$(q "SELECT revos.log_event('{\"event_type\": \"global.thing\"}')->>'id'")
check "no tenant at all: NULL tenant, on the global chain" "t|t" \
  "$(q "SELECT tenant_id IS NULL, (SELECT last_id FROM revos.event_chain_heads WHERE chain = 'global') = id
        FROM revos.events WHERE id = ${r:-0}")"

# ---------------------------------------------------------------------------------------------
echo "# idempotency"
r1=$(q "SELECT revos.log_event('{\"event_type\": \"dedup.test\", \"tenant_id\": \"tenant-a\", \"idempotency_key\": \"dedup-1\", \"payload\": {\"n\": 1}}')")
r2=$(q "SELECT revos.log_event('{\"event_type\": \"dedup.test\", \"tenant_id\": \"tenant-a\", \"idempotency_key\": \"dedup-1\", \"payload\": {\"n\": 2}}')")
check "dedup: first recorded, second duplicate" "recorded|duplicate" \
  "$(q "SELECT '$r1'::jsonb->>'status', '$r2'::jsonb->>'status'")"
check "dedup: duplicate returns the first event" t \
  "$(q "SELECT '$r1'::jsonb->'event_id' = '$r2'::jsonb->'event_id' AND '$r1'::jsonb->'id' = '$r2'::jsonb->'id'")"
check "dedup: one row, first payload kept" '1|{"n": 1}' \
  "$(q "SELECT count(*), min(payload::text) FROM revos.events WHERE idempotency_key = 'dedup-1'")"
r3=$(q "SELECT revos.log_event('{\"meta\": {\"idempotency_key\": \"dedup-1\"}, \"payload\": {\"event_type\": \"other\"}}')->>'status'")
check "dedup: envelope with the same key is a duplicate too" duplicate "$r3"

# A transaction with a tenant cannot write another tenant's events, nor read them back by key.
expect_error "log_event: tenant_id other than the current tenant is refused" 42501 "not the current tenant" \
  "BEGIN" "SELECT revos.set_tenant('aaaaaaaa-0000-4000-8000-00000000000a')" \
  "SELECT revos.log_event('{\"event_type\": \"x\", \"tenant_id\": \"tenant_guard_b\"}')"
q "SELECT revos.log_event('{\"event_type\": \"x\", \"tenant_id\": \"tenant_guard_b\", \"idempotency_key\": \"guard-key\"}')" >/dev/null
expect_error "log_event: a key used by another tenant is not handed over" 42501 "outside this tenant" \
  "BEGIN" "SELECT revos.set_tenant('aaaaaaaa-0000-4000-8000-00000000000a')" \
  "SELECT revos.log_event('{\"event_type\": \"x\", \"idempotency_key\": \"guard-key\"}')"
check "log_event: the current tenant's own key still dedups" duplicate \
  "$(q "BEGIN; SELECT set_config('app.current_tenant_id', 'tenant_guard_b', true) IS NULL; SELECT revos.log_event('{\"event_type\": \"x\", \"idempotency_key\": \"guard-key\"}')->>'status'; COMMIT;" | tail -1)"

# 8 sessions, one key, released at the same instant; the winner holds its transaction open a little.
T=$(date -u -d '+2 seconds' '+%Y-%m-%d %H:%M:%S.%N+00')
pids=()
for i in 1 2 3 4 5 6 7 8; do
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$TDSN" \
    -c "SELECT pg_sleep_until('$T')" -c "BEGIN" \
    -c "SELECT 'RESULT ' || (r->>'status') || ' ' || (r->>'event_id') FROM revos.log_event('{\"event_type\": \"conc.dedup\", \"tenant_id\": \"tenant-c\", \"idempotency_key\": \"conc-key\", \"payload\": {\"session\": $i}}') r" \
    -c "SELECT pg_sleep(0.3)" -c "COMMIT" >"$TMP/dedup.$i" 2>&1 &
  pids+=($!)
done
rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done
check "8 concurrent same-key sessions all succeeded" 0 "$rc"
check "8 concurrent same-key sessions: 1 recorded + 7 duplicate" "7 duplicate|1 recorded" \
  "$(cat "$TMP"/dedup.* | sed -n 's/^RESULT \([a-z]*\) .*/\1/p' | sort | uniq -c | awk '{print $1" "$2}' | paste -sd'|')"
check "8 concurrent same-key sessions: all got the same event_id" 1 \
  "$(cat "$TMP"/dedup.* | sed -n 's/^RESULT [a-z]* \(.*\)/\1/p' | sort -u | wc -l | tr -d ' ')"
check "8 concurrent same-key sessions: exactly one row, the one returned" 1 \
  "$(q "SELECT count(*) FROM revos.events WHERE idempotency_key = 'conc-key'
        AND event_id = '$(sed -n 's/^RESULT [a-z]* \(.*\)/\1/p' "$TMP/dedup.1")'")"

# ---------------------------------------------------------------------------------------------
echo "# bad input: SQLSTATE 22023, nothing recorded"
before=$(count_events)
heads_before=$(q "SELECT md5(string_agg(chain || ':' || coalesce(last_id::text, '') || ':' || coalesce(prev_id::text, ''), ',' ORDER BY chain)) FROM revos.event_chain_heads")
le() { printf "SELECT revos.log_event(%s)" "$1"; }
expect_error "missing event_type"            22023 "event_type is required"        "$(le "'{}'")"
expect_error "empty event_type"              22023 "event_type is required"        "$(le "'{\"event_type\": \"\"}'")"
expect_error "null event_type"               22023 "event_type is required"        "$(le "'{\"event_type\": null, \"tenant_id\": \"t\"}'")"
expect_error "event_type not a string"       22023 "event_type must be a JSON string" "$(le "'{\"event_type\": 5}'")"
expect_error "event_type with a space"       22023 "event_type"                    "$(le "'{\"event_type\": \"order created\"}'")"
expect_error "event_type with a quote"       22023 "event_type"                    "$(le "'{\"event_type\": \"a''b\"}'")"
expect_error "event_type of 201 characters"  22023 "event_type is longer than 200" "$(le "jsonb_build_object('event_type', repeat('e', 201))")"
expect_error "payload is an array"           22023 "payload must be a JSON object" "$(le "'{\"event_type\": \"x\", \"payload\": [1, 2]}'")"
expect_error "payload is a string"           22023 "payload must be a JSON object" "$(le "'{\"event_type\": \"x\", \"payload\": \"text\"}'")"
expect_error "occurred_at not a timestamp"   22023 "occurred_at"                   "$(le "'{\"event_type\": \"x\", \"occurred_at\": \"yesterday at noon\"}'")"
expect_error "occurred_at impossible date"   22023 "occurred_at"                   "$(le "'{\"event_type\": \"x\", \"occurred_at\": \"2024-13-45T00:00:00Z\"}'")"
expect_error "occurred_at is a number"       22023 "occurred_at must be a JSON string" "$(le "'{\"event_type\": \"x\", \"occurred_at\": 1700000000}'")"
expect_error "occurred_at is 'infinity'"     22023 "occurred_at"                   "$(le "'{\"event_type\": \"x\", \"occurred_at\": \"infinity\"}'")"
# the hash's encoding has no era: an instant before the year 1 (UTC) would read as its twin after Christ
expect_error "occurred_at 0001-01-01T00:00:00+14 (1 BC in UTC)" 22023 "before the year 1" "$(le "'{\"event_type\": \"x\", \"occurred_at\": \"0001-01-01T00:00:00+14\"}'")"
check "occurred_at 0001-01-01T00:00:00Z (the first instant of the year 1) is a time log_event takes" "0001-01-01 00:00:00+00" \
  "$(q "SET TimeZone = 'UTC'; SELECT revos.log_event_time('0001-01-01T00:00:00Z')")"
expect_error "tenant_id is a number"         22023 "tenant_id must be a JSON string" "$(le "'{\"event_type\": \"x\", \"tenant_id\": 7}'")"
expect_error "tenant_id is an object"        22023 "tenant_id must be a JSON string" "$(le "'{\"event_type\": \"x\", \"tenant_id\": {\"id\": 1}}'")"
expect_error "tenant_id of 201 characters"   22023 "tenant_id is longer than 200"  "$(le "jsonb_build_object('event_type', 'x', 'tenant_id', repeat('t', 201))")"
expect_error "actor_id is a boolean"         22023 "actor_id must be a JSON string" "$(le "'{\"event_type\": \"x\", \"actor_id\": true}'")"
expect_error "idempotency_key is a number"   22023 "idempotency_key must be a JSON string" "$(le "'{\"event_type\": \"x\", \"idempotency_key\": 12}'")"
expect_error "idempotency_key too long"      22023 "idempotency_key is longer than 255" "$(le "jsonb_build_object('event_type', 'x', 'idempotency_key', repeat('k', 256))")"
expect_error "unknown field (typo)"          22023 'unknown field "evnt_type"'     "$(le "'{\"evnt_type\": \"x\"}'")"
expect_error "argument is an array"          22023 "must be a JSON object"         "$(le "'[1]'")"
expect_error "argument is SQL NULL"          22023 "must be a JSON object"         "$(le "NULL")"
expect_error "payload over 1 MiB"            22023 "payload is larger than 1048576 bytes" \
  "$(le "jsonb_build_object('event_type', 'big', 'payload', jsonb_build_object('blob', repeat('x', 1048565)))")"
expect_error "envelope: meta not an object"  22023 "meta must be a JSON object"    "$(le "'{\"meta\": \"m\", \"payload\": {\"event_type\": \"x\"}}'")"
expect_error "envelope: payload not an object" 22023 "payload"                     "$(le "'{\"meta\": {}, \"payload\": [1]}'")"
expect_error "envelope: meta.tenant_id a number" 22023 "meta.tenant_id must be a JSON string" \
  "$(le "'{\"meta\": {\"tenant_id\": 5}, \"payload\": {\"event_type\": \"x\"}}'")"
expect_error "envelope: context.actor_id an array" 22023 "context.actor_id must be a JSON string" \
  "$(le "'{\"context\": {\"actor_id\": [1]}, \"payload\": {\"event_type\": \"x\"}}'")"
expect_error "envelope: no event_type"       22023 "event_type is required"        "$(le "'{\"meta\": {\"tenant_id\": \"t\"}, \"payload\": {}}'")"
expect_error "bad input with an idempotency key" 22023 "payload must be a JSON object" \
  "$(le "'{\"event_type\": \"x\", \"idempotency_key\": \"after-bad\", \"payload\": 1}'")"
check "bad input recorded nothing" "$before" "$(count_events)"
check "bad input did not move any chain head" "$heads_before" \
  "$(q "SELECT md5(string_agg(chain || ':' || coalesce(last_id::text, '') || ':' || coalesce(prev_id::text, ''), ',' ORDER BY chain)) FROM revos.event_chain_heads")"
# occurred_at's pattern is read with standard strings whatever the session that first calls it in a
# backend has (the review of 7ebc593, F: one SET LOCAL standard_conforming_strings = off broke it for the
# backend): the first call under off, and the next one after it, both accept a timestamp
out=$(psql -X -q -At -d "$TDSN" -c "BEGIN" -c "SET LOCAL standard_conforming_strings = off" \
  -c "SELECT revos.log_event('{\"event_type\": \"scs.off\", \"occurred_at\": \"2024-05-01T12:00:00Z\"}') ->> 'status'" -c "COMMIT" \
  -c "SELECT revos.log_event('{\"event_type\": \"scs.on\", \"occurred_at\": \"2024-05-01T12:00:00Z\"}') ->> 'status'" 2>&1)
check "occurred_at accepted under standard_conforming_strings = off, and after it in the same backend" "recorded recorded" "$(echo $out)"
check "a key used by a rejected call is still free" recorded \
  "$(q "SELECT revos.log_event('{\"event_type\": \"x\", \"idempotency_key\": \"after-bad\"}')->>'status'")"
check "payload of exactly 1048576 bytes is accepted" recorded \
  "$(q "SELECT revos.log_event(jsonb_build_object('event_type', 'big', 'payload', jsonb_build_object('blob', repeat('x', 1048564))))->>'status'")"

# ---------------------------------------------------------------------------------------------
echo "# log_event (C) answers every input as its PL/pgSQL definition did (tests/log_event_reference.sql)"
before=$(count_events)
q - <"$ROOT/tests/log_event_reference.sql" >/dev/null
out=$(q - <"$ROOT/tests/log_event_compare.sql" 2>&1)
val() { echo "$out" | sed -n "s/^$1|//p" | head -1; }
check "corpus: 4 contexts x every input, through both functions" yes \
  "$( [ "$(val calls)" -ge 2800 ] 2>/dev/null && echo yes || echo "no: $(val calls) ($out)")"
check "no input answered differently" 0 "$(val differ)"
[ "$(val differ)" = 0 ] || echo "$out" | sed -n '/^example|/,$p'
check "the corpus records events (>= 300 calls)" yes "$( [ "$(val recorded)" -ge 300 ] 2>/dev/null && echo yes || echo "no: $(val recorded)")"
check "the corpus finds duplicates (>= 50 calls)" yes "$( [ "$(val duplicate)" -ge 50 ] 2>/dev/null && echo yes || echo "no: $(val duplicate)")"
check "the corpus hits many distinct errors (>= 30)" yes "$( [ "$(val errors)" -ge 30 ] 2>/dev/null && echo yes || echo "no: $(val errors)")"
check "the corpus's errors: bad input (22023) and another tenant's (42501)" 22023,42501 "$(val sqlstates)"
# 4 settings x 425 JWT claims (tests/log_event_compare.sql, tenant_claims: numbers of every form)
check "current_tenant_id (C) = its SQL definition (jsonb ->>): 1700 settings/claims, 150+ distinct answers, 0 differ" "1700|yes|0" \
  "$(val tenant_cases | awk -F'|' '{print $1 "|" ($2 >= 150 ? "yes" : "no: " $2) "|" $3}')"
[ "$(val tenant_cases | cut -d'|' -f3)" = 0 ] || echo "$out" | sed -n '/^tenant_example|/,/^example|/p' | grep -v '^example|'

check "the comparison recorded nothing (every call rolled back)" "$((before + 2))" "$(count_events)"
q "DROP SCHEMA revos_ref CASCADE" >/dev/null

# ---------------------------------------------------------------------------------------------
echo "# server-assigned columns and the documented hash encoding"
# (A row inserted WITH its id and hash is a restored one and kept as it is: tests/restore.sh.)
r=$(q "INSERT INTO revos.events (id, event_type, tenant_id, prev_hash, recorded_at)
       VALUES (987654321, 'manual.insert', 'tenant-a', 'forged-prev', '2000-01-01')
       RETURNING id <> 987654321, prev_hash <> 'forged-prev', hash = revos.event_hash(events), recorded_at > '2001-01-01'")
check "direct INSERT without a hash cannot choose id, prev_hash or recorded_at" "t|t|t|t" "$r"
check "hash = documented canonical encoding (recomputed by hand) for every row" 0 \
  "$(q "SELECT count(*) FROM revos.events WHERE hash IS DISTINCT FROM encode(sha256(convert_to(array_to_json(ARRAY[
          id::text, event_id::text, tenant_id, event_type, subject_type, subject_id, actor_id, payload::text,
          idempotency_key,
          to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
          to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
          prev_hash])::text, 'UTF8')), 'hex')")"
# The same, independently of PostgreSQL's JSON functions: build the documented JSON array in bash
# and hash it with sha256sum.
json_str() { # JSON string for $1, or null when $1 is the NULL marker
  if [ "$1" = '<NULL>' ]; then printf null; return; fi
  local v=${1//\\/\\\\}; v=${v//\"/\\\"}; printf '"%s"' "$v"
}
row=$(q "SELECT id, event_id, coalesce(tenant_id, '<NULL>'), event_type, coalesce(subject_type, '<NULL>'),
                coalesce(subject_id, '<NULL>'), coalesce(actor_id, '<NULL>'), payload::text,
                coalesce(idempotency_key, '<NULL>'),
                to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                prev_hash, hash
         FROM revos.events WHERE event_type = 'order.created' ORDER BY id LIMIT 1")
IFS='|' read -r f1 f2 f3 f4 f5 f6 f7 f8 f9 f10 f11 f12 stored <<<"$row"
canon="[$(json_str "$f1"),$(json_str "$f2"),$(json_str "$f3"),$(json_str "$f4"),$(json_str "$f5"),$(json_str "$f6"),$(json_str "$f7"),$(json_str "$f8"),$(json_str "$f9"),$(json_str "$f10"),$(json_str "$f11"),$(json_str "$f12")]"
check "hash = sha256sum of the documented encoding built outside the database" "$stored" \
  "$(printf '%s' "$canon" | sha256sum | cut -d' ' -f1)"
check "each chain starts at 64 zeros (one genesis per tenant chain)" 0 \
  "$(q "SELECT count(*) FROM (SELECT tenant_id, count(*) FILTER (WHERE prev_hash = '$ZEROS') g
        FROM revos.events GROUP BY tenant_id) c WHERE g <> 1")"

# ---------------------------------------------------------------------------------------------
echo "# per-tenant chains: one tenant's open transaction blocks only that tenant"
psql -X -q -At -d "$TDSN" -c "BEGIN" \
  -c "SELECT revos.log_event('{\"event_type\": \"lock.hold\", \"tenant_id\": \"tenant-lock-a\"}')" \
  -c "SELECT pg_sleep(3)" -c "COMMIT" >/dev/null 2>&1 &
holder=$!
sleep 1
check "another tenant is not blocked while tenant-lock-a's transaction is open" recorded \
  "$(q "SET lock_timeout = '1s'; SELECT revos.log_event('{\"event_type\": \"lock.free\", \"tenant_id\": \"tenant-lock-b\"}')->>'status'")"
check "the global chain is not blocked either" recorded \
  "$(q "SET lock_timeout = '1s'; SELECT revos.log_event('{\"event_type\": \"lock.free\"}')->>'status'")"
expect_error "the same tenant waits for it (lock_timeout fires)" 55P03 "lock timeout" \
  "SET lock_timeout = '300ms'" "SELECT revos.log_event('{\"event_type\": \"lock.wait\", \"tenant_id\": \"tenant-lock-a\"}')"
wait "$holder"
check "after the holder commits the tenant writes again" recorded \
  "$(q "SELECT revos.log_event('{\"event_type\": \"lock.after\", \"tenant_id\": \"tenant-lock-a\"}')->>'status'")"
r=$(q "SELECT revos.log_event('{\"event_type\": \"defaults\", \"payload\": null}')->>'id'")
check "occurred_at defaults to recorded_at; payload null becomes {}" "t|{}" \
  "$(q "SELECT occurred_at = recorded_at, payload FROM revos.events WHERE id = ${r:-0}")"

# ---------------------------------------------------------------------------------------------
echo "# append-only"
expect_error "UPDATE refused for the owner (superuser)"   42501 "append-only" "UPDATE revos.events SET actor_id = 'x'"
expect_error "DELETE refused for the owner (superuser)"   42501 "append-only" "DELETE FROM revos.events"
expect_error "TRUNCATE refused for the owner (superuser)" 42501 "append-only" "TRUNCATE revos.events"
expect_error "UPDATE refused with session_replication_role=replica" 42501 "append-only" \
  "SET session_replication_role = replica" "UPDATE revos.events SET actor_id = 'x'"
expect_error "DELETE refused with session_replication_role=replica" 42501 "append-only" \
  "SET session_replication_role = replica" "DELETE FROM revos.events"
expect_error "non-superuser without grants: UPDATE denied"   42501 "permission denied" "SET ROLE $APP" "UPDATE revos.events SET actor_id = 'x'"
expect_error "non-superuser without grants: SELECT denied"   42501 "permission denied" "SET ROLE $APP" "SELECT count(*) FROM revos.events"
expect_error "non-superuser: chain heads not writable"       42501 "permission denied" "SET ROLE $APP" "UPDATE revos.event_chain_heads SET last_id = 0"
expect_error "non-superuser: log_event needs an explicit grant" 42501 "permission denied" "SET ROLE $APP" "SELECT revos.log_event('{\"event_type\": \"x\"}')"
expect_error "non-superuser: verify_ledger needs an explicit grant" 42501 "permission denied" "SET ROLE $APP" "SELECT revos.verify_ledger()"
q "GRANT INSERT, UPDATE, DELETE, TRUNCATE ON revos.events TO $APP; GRANT EXECUTE ON FUNCTION revos.log_event(jsonb) TO $APP" >/dev/null
# (an id of its own: no sequence needed; with a hash too it would be kept as a restored row)
expect_error "non-superuser with INSERT grant: refused (only revos writes the ledger)" 42501 "written only by revos" \
  "SET ROLE $APP" "INSERT INTO revos.events (id, event_type, prev_hash, hash) VALUES (999999999, 'forged', repeat('0', 64), repeat('0', 64))"
expect_error "non-superuser with UPDATE grant: refused"   42501 "append-only" "SET ROLE $APP" "UPDATE revos.events SET actor_id = 'x'"
expect_error "non-superuser with DELETE grant: refused"   42501 "append-only" "SET ROLE $APP" "DELETE FROM revos.events"
expect_error "non-superuser with TRUNCATE grant: refused" 42501 "append-only" "SET ROLE $APP" "TRUNCATE revos.events"
check "non-superuser with EXECUTE only can log events (SECURITY DEFINER)" recorded \
  "$(q "SET ROLE $APP; SELECT revos.log_event('{\"event_type\": \"app.event\", \"tenant_id\": \"tenant-a\"}')->>'status'")"
q "REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON revos.events FROM $APP" >/dev/null

# ---------------------------------------------------------------------------------------------
echo "# 8 concurrent writers x 50 events, one tenant"
pids=()
for w in 1 2 3 4 5 6 7 8; do
  psql -X -q -At -v ON_ERROR_STOP=1 -d "$TDSN" -c "DO \$\$ BEGIN
      FOR i IN 1..50 LOOP
        PERFORM revos.log_event(jsonb_build_object('event_type', 'load.tick', 'tenant_id', 'tenant-load',
                                                   'payload', jsonb_build_object('writer', $w, 'i', i)));
        COMMIT;
      END LOOP; END \$\$" >"$TMP/load.$w" 2>&1 &
  pids+=($!)
done
# and, at the same time, another tenant and the global chain
psql -X -q -At -v ON_ERROR_STOP=1 -d "$TDSN" -c "DO \$\$ BEGIN FOR i IN 1..50 LOOP
    PERFORM revos.log_event(jsonb_build_object('event_type', 'side.tick', 'tenant_id', 'tenant-side'));
    PERFORM revos.log_event(jsonb_build_object('event_type', 'side.tick'));
    COMMIT; END LOOP; END \$\$" >"$TMP/load.side" 2>&1 &
pids+=($!)
rc=0; for p in "${pids[@]}"; do wait "$p" || rc=1; done
check "concurrent writers all succeeded" 0 "$rc"
[ "$rc" = 0 ] || cat "$TMP"/load.*
check "400 events for tenant-load" 400 "$(q "SELECT count(*) FROM revos.events WHERE tenant_id = 'tenant-load'")"
check "tenant-load chain did not fork (400 distinct prev_hash, 1 genesis)" "400|1" \
  "$(q "SELECT count(DISTINCT prev_hash), count(*) FILTER (WHERE prev_hash = '$ZEROS') FROM revos.events WHERE tenant_id = 'tenant-load'")"
check "verify_ledger('tenant-load'): ok, 400 checked" '{"ok": true, "events_checked": 400, "first_broken_id": null}' \
  "$(q "SELECT jsonb_build_object('ok', v->'ok', 'events_checked', v->'events_checked', 'first_broken_id', v->'first_broken_id') FROM revos.verify_ledger('tenant-load') v")"
total=$(count_events)
check "verify_ledger(): ok and events_checked = count(*)" "true|$total|null" \
  "$(q "SELECT v->>'ok', v->>'events_checked', coalesce(v->>'first_broken_id', 'null') FROM revos.verify_ledger() v")"
check "chain heads point at each chain's last event" 0 \
  "$(q "SELECT count(*) FROM revos.event_chain_heads h WHERE NOT EXISTS (
        SELECT 1 FROM (SELECT e.id, e.hash FROM revos.events e
                       WHERE (CASE WHEN e.tenant_id IS NULL THEN 'global' ELSE 'tenant:' || e.tenant_id END) = h.chain
                       ORDER BY e.id DESC LIMIT 1) l
        WHERE l.id = h.last_id)")"
check "each chain head's last_hash, where set, is '<last_id>:<that event's hash>' (the concurrent writers' heads among them)" "0|t" \
  "$(q "SELECT count(*) FILTER (WHERE h.last_hash <> e.id || ':' || e.hash), bool_or(h.chain = 'tenant:tenant-load' AND h.last_hash IS NOT NULL)
          FROM revos.event_chain_heads h JOIN revos.events e ON e.id = h.last_id")"
# every event updates its chain's head, and an update stays on its page only while pruning keeps
# room there: few heads share a page (fillfactor 10, sql/ledger.sql), not all of them one
# (each chain in its own transaction: versions a running transaction wrote cannot be pruned, and
# would fill the pages by themselves)
q "DO \$\$ BEGIN FOR i IN 1..60 LOOP
     PERFORM revos.log_event(jsonb_build_object('event_type', 'spread.tick', 'tenant_id', 'spread-' || i));
     COMMIT;
   END LOOP; END \$\$" >/dev/null
check "60 new chains' heads: at most 6 on any page of revos.event_chain_heads, on 10 pages or more" "t|t" \
  "$(q "SELECT max(n) <= 6, count(*) >= 10 FROM (SELECT (ctid::text::point)[0] AS page, count(*) AS n
          FROM revos.event_chain_heads WHERE chain LIKE 'tenant:spread-%' GROUP BY 1) p")"
check "a chain's first event leaves '<its id>:<its hash>' in the head's last_hash (60 of 60)" 60 \
  "$(q "SELECT count(*) FROM revos.event_chain_heads h JOIN revos.events e ON e.id = h.last_id
          WHERE h.chain LIKE 'tenant:spread-%' AND h.last_hash = e.id || ':' || e.hash")"
q "UPDATE revos.event_chain_heads SET last_hash = '1:' || repeat('f', 64) WHERE chain = 'tenant:tenant-load'" >/dev/null
q "SELECT revos.log_event('{\"event_type\": \"load.after\", \"tenant_id\": \"tenant-load\"}')" >/dev/null
check "a head whose last_hash names another id than its last_id is not used: the next event chains on (verify_ledger ok)" "true|401" \
  "$(q "SELECT v->>'ok', v->>'events_checked' FROM revos.verify_ledger('tenant-load') v")"
# log_event inserts its row without a statement only when the statement would do nothing more: a
# statement-level trigger (or a second row trigger) on revos.events takes the statement
q "CREATE SEQUENCE public.events_stmt_seq;
   CREATE FUNCTION public.events_stmt() RETURNS trigger LANGUAGE plpgsql AS
     \$f\$ BEGIN PERFORM nextval('public.events_stmt_seq'); RETURN NULL; END \$f\$;
   CREATE TRIGGER events_stmt AFTER INSERT ON revos.events FOR EACH STATEMENT EXECUTE FUNCTION public.events_stmt();
   CREATE TRIGGER events_row2 AFTER INSERT ON revos.events FOR EACH ROW EXECUTE FUNCTION public.events_stmt()" >/dev/null
q "SELECT revos.log_event('{\"event_type\": \"load.stmt\", \"tenant_id\": \"tenant-load\"}')" >/dev/null
check "a statement-level and a second row trigger on revos.events both fire for log_event (the statement path)" 2 \
  "$(q "SELECT last_value FROM public.events_stmt_seq")"
q "DROP TRIGGER events_stmt ON revos.events; DROP TRIGGER events_row2 ON revos.events;
   DROP FUNCTION public.events_stmt(); DROP SEQUENCE public.events_stmt_seq" >/dev/null
check "... and the ledger still verifies" "true|402" "$(q "SELECT v->>'ok', v->>'events_checked' FROM revos.verify_ledger('tenant-load') v")"

# ---------------------------------------------------------------------------------------------
echo "# tamper evidence"
victim=$(q "SELECT id FROM revos.events WHERE tenant_id = 'tenant-load' ORDER BY id OFFSET 99 LIMIT 1")
orig=$(q "SELECT payload FROM revos.events WHERE id = $victim")
q - >/dev/null 2>&1 <<SQL
ALTER TABLE revos.events DISABLE TRIGGER ALL;
UPDATE revos.events SET payload = '{"writer": 1, "i": 999}' WHERE id = $victim;
ALTER TABLE revos.events ENABLE TRIGGER ALL;
SQL
check "forged payload (triggers disabled) found: first_broken_id = that row" "false|$victim" \
  "$(q "SELECT v->>'ok', v->>'first_broken_id' FROM revos.verify_ledger('tenant-load') v")"
check "forged row also reported by verify_ledger()" "false|$victim" \
  "$(q "SELECT v->>'ok', v->>'first_broken_id' FROM revos.verify_ledger() v")"
check "other tenants' chains unaffected" true "$(q "SELECT revos.verify_ledger('tenant-side')->>'ok'")"
check "re-enabling the triggers was recorded as drift on revos.events" 1 \
  "$(q "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected'
        AND payload->>'object_identity' = 'revos.events' AND payload->>'command_tag' = 'ALTER TABLE'")"

# forger also recomputes the row's own hash: the NEXT row's prev_hash link breaks
next=$(q "SELECT id FROM revos.events WHERE tenant_id = 'tenant-load' AND id > $victim ORDER BY id LIMIT 1")
q - >/dev/null 2>&1 <<SQL
ALTER TABLE revos.events DISABLE TRIGGER ALL;
UPDATE revos.events e SET hash = revos.event_hash(e) WHERE id = $victim;
ALTER TABLE revos.events ENABLE TRIGGER ALL;
SQL
check "forged row with a recomputed hash: break found at the next row" "false|$next" \
  "$(q "SELECT v->>'ok', v->>'first_broken_id' FROM revos.verify_ledger('tenant-load') v")"
q - >/dev/null 2>&1 <<SQL
ALTER TABLE revos.events DISABLE TRIGGER ALL;
UPDATE revos.events SET payload = '$orig' WHERE id = $victim;
UPDATE revos.events e SET hash = revos.event_hash(e) WHERE id = $victim;
ALTER TABLE revos.events ENABLE TRIGGER ALL;
SQL
check "original content restored: chain verifies again" true "$(q "SELECT revos.verify_ledger('tenant-load')->>'ok'")"

# removing the last event of a chain is caught through the chain head
last=$(q "SELECT max(id) FROM revos.events WHERE tenant_id = 'tenant-load'")
q - >/dev/null 2>&1 <<SQL
CREATE TABLE public.saved_event AS SELECT * FROM revos.events WHERE id = $last;
ALTER TABLE revos.events DISABLE TRIGGER ALL;
DELETE FROM revos.events WHERE id = $last;
ALTER TABLE revos.events ENABLE TRIGGER ALL;
SQL
check "deleted tail event found (first_broken_id = the head's last_id)" "false|$last" \
  "$(q "SELECT v->>'ok', v->>'first_broken_id' FROM revos.verify_ledger('tenant-load') v")"
q - >/dev/null 2>&1 <<SQL
ALTER TABLE revos.events DISABLE TRIGGER ALL;
INSERT INTO revos.events SELECT * FROM public.saved_event;
ALTER TABLE revos.events ENABLE TRIGGER ALL;
DROP TABLE public.saved_event;
SQL
check "tail restored: whole ledger verifies" true "$(q "SELECT revos.verify_ledger()->>'ok'")"

# ---------------------------------------------------------------------------------------------
echo "# drift capture"
mark=0
drift() { # drift NAME EXPECTED-COUNT EXPECTED-LAST "command_tag|object_type|schema|table" SQL...
  local name=$1 n=$2 last=$3; shift 3
  local out
  out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$TDSN" "${@/#/-c}" 2>&1) || { bad "$name" "DDL succeeds" "$out"; return; }
  check "$name" "$n${last:+|$last}" \
    "$(q "SELECT count(*) || coalesce('|' || (SELECT payload->>'command_tag' || '|' || (payload->>'object_type') || '|' ||
                 (payload->>'schema') || '|' || (payload->>'table') FROM revos.events
                 WHERE event_type = 'schema_drift_detected' AND id > $mark ORDER BY id DESC LIMIT 1), '')
          FROM revos.events WHERE event_type = 'schema_drift_detected' AND id > $mark")"
  mark=$(q "SELECT max(id) FROM revos.events")
}
mark=$(q "SELECT max(id) FROM revos.events")
drift "making tables managed by hand: the markers' creation is recorded" 2 "CREATE TRIGGER|trigger|public|notes" \
  "BEGIN" \
  "CREATE TABLE public.orders (id int PRIMARY KEY, tenant_id text NOT NULL, n int, updated_at timestamptz)" \
  "ALTER TABLE public.orders ENABLE ROW LEVEL SECURITY" "ALTER TABLE public.orders FORCE ROW LEVEL SECURITY" \
  "CREATE INDEX orders_n_idx ON public.orders (n)" \
  "CREATE POLICY revos_tenant_isolation ON public.orders USING (tenant_id = revos.current_tenant_id())" \
  "CREATE TABLE public.notes (id int, updated_at timestamptz)" \
  "CREATE TRIGGER revos_touch_updated_at BEFORE UPDATE ON public.notes FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at()" \
  "COMMIT"
drift "DDL on an unmanaged table is not drift" 0 "" \
  "CREATE TABLE public.plain (x int)" "ALTER TABLE public.plain ADD COLUMN y int" "CREATE INDEX plain_x ON public.plain (x)" \
  "DROP INDEX public.plain_x" "DROP TABLE public.plain"
drift "ALTER TABLE ADD COLUMN on a managed table" 1 "ALTER TABLE|table|public|orders" \
  "ALTER TABLE public.orders ADD COLUMN note text"
check "drift event shape" \
  'schema_drift_detected||table|public.orders|["command_tag", "object_identity", "object_type", "schema", "table"]|public.orders' \
  "$(q "SELECT event_type, tenant_id, subject_type, subject_id,
               (SELECT jsonb_agg(k ORDER BY k) FROM jsonb_object_keys(payload) k), payload->>'object_identity'
        FROM revos.events WHERE id = (SELECT max(id) FROM revos.events)")"
drift "ALTER TABLE ... DISABLE ROW LEVEL SECURITY" 1 "ALTER TABLE|table|public|orders" \
  "ALTER TABLE public.orders DISABLE ROW LEVEL SECURITY"
drift "ALTER TABLE ... NO FORCE ROW LEVEL SECURITY" 1 "ALTER TABLE|table|public|orders" \
  "ALTER TABLE public.orders NO FORCE ROW LEVEL SECURITY"
drift "CREATE POLICY on a managed table" 1 "CREATE POLICY|policy|public|orders" \
  "CREATE POLICY side_door ON public.orders USING (true)"
drift "ALTER POLICY on a managed table" 1 "ALTER POLICY|policy|public|orders" \
  "ALTER POLICY side_door ON public.orders USING (false)"
drift "DROP POLICY on a managed table" 1 "DROP POLICY|policy|public|orders" \
  "DROP POLICY side_door ON public.orders"
drift "CREATE INDEX on a managed table" 1 "CREATE INDEX|index|public|orders" \
  "CREATE INDEX orders_note_idx ON public.orders (note)"
drift "DROP INDEX on a managed table" 1 "DROP INDEX|index|public|orders" \
  "DROP INDEX public.orders_n_idx"
drift "SET revos.applying = on (the 0.1.0 switch) no longer hides DDL" 3 "DROP POLICY|policy|public|orders" \
  "BEGIN" "SET LOCAL revos.applying = on" "ALTER TABLE public.orders ADD COLUMN extra int" \
  "CREATE POLICY revos_extra ON public.orders USING (true)" "DROP POLICY revos_extra ON public.orders" \
  "COMMIT"
drift "DROP POLICY revos_tenant_isolation (removes the marker)" 1 "DROP POLICY|policy|public|orders" \
  "DROP POLICY revos_tenant_isolation ON public.orders"
drift "table without a marker any more is not managed" 0 "" \
  "ALTER TABLE public.orders ADD COLUMN later int"
drift "ALTER TABLE on a trigger-managed table" 1 "ALTER TABLE|table|public|notes" \
  "ALTER TABLE public.notes ADD COLUMN body text"
drift "DROP TABLE of a managed table" 1 "DROP TABLE|table|public|notes" \
  "DROP TABLE public.notes"
drift "several commands in one transaction: one event each" 3 "ALTER TABLE|table|public|orders2" \
  "BEGIN" \
  "CREATE TABLE public.orders2 (id int, tenant_id text)" \
  "CREATE POLICY revos_tenant_isolation ON public.orders2 USING (tenant_id = revos.current_tenant_id())" \
  "ALTER TABLE public.orders2 DISABLE ROW LEVEL SECURITY" "ALTER TABLE public.orders2 ADD COLUMN z int" "COMMIT"
drift "ALTER TABLE OWNER on a managed table" 1 "ALTER TABLE|table|public|orders2" \
  "ALTER TABLE public.orders2 OWNER TO $APP"
# a hand-made marker counts only on a table whose owner could own a managed table (a superuser, a
# revos_admin member, a role listed in revos.trusted_roles): $APP is none of them
drift "a hand-marked table of a plain role ($APP) is not managed: its DDL is not drift" 0 "" \
  "SET ROLE $APP" "ALTER TABLE public.orders2 ADD COLUMN v int"
q "INSERT INTO revos.trusted_roles (role, note) VALUES ('$APP', 'tests/ledger_sql.sh')" >/dev/null
drift "non-superuser DDL on a managed table is recorded too ($APP listed in revos.trusted_roles)" 1 "ALTER TABLE|table|public|orders2" \
  "SET ROLE $APP" "ALTER TABLE public.orders2 ADD COLUMN w int"
check "drift actor is the role that ran the DDL" "$APP" \
  "$(q "SELECT actor_id FROM revos.events WHERE id = (SELECT max(id) FROM revos.events)")"
check "rolled-back DDL leaves no drift event" 0 \
  "$(q "BEGIN; ALTER TABLE public.orders2 ADD COLUMN gone int; ROLLBACK;
        SELECT count(*) FROM revos.events WHERE id > $mark")"

# ---------------------------------------------------------------------------------------------
echo "# verify_ledger over more heap than its readahead reaches (src/ledger/readahead.rs)"
# The pass over all chains asks the kernel for the heap's blocks ahead of it (512 blocks), from
# its hashing thread in a UTF-8 database and from its own thread where there is no hashing thread
# (any other encoding). In both, a ledger several times that long verifies, and a row forged past
# the first readahead is found.
readahead_case() { # readahead_case LABEL DSN ENCODING
  local label=$1 dsn=$2 victim orig n pages
  check "$label: the database's encoding" "$3" "$(qdb "$dsn" "SELECT getdatabaseencoding()")"
  qdb "$dsn" "SELECT count(revos.log_event(jsonb_build_object('event_type', 'ra.tick', 'tenant_id', 'ra-' || (i % 7),
                'payload', jsonb_build_object('i', i, 'note', repeat('x', 200))))) FROM generate_series(1, 20000) i" >/dev/null
  qdb "$dsn" "VACUUM revos.events" >/dev/null
  pages=$(qdb "$dsn" "SELECT pg_relation_size('revos.events') / current_setting('block_size')::int")
  check "$label: revos.events spans more than 2 x 512 blocks" t "$([ "${pages:-0}" -gt 1024 ] && echo t || echo "f ($pages)")"
  n=$(qdb "$dsn" "SELECT count(*) FROM revos.events")
  check "$label: verify_ledger() ok over every event" "true|$n" \
    "$(qdb "$dsn" "SELECT v->>'ok', v->>'events_checked' FROM revos.verify_ledger() v")"
  victim=$(qdb "$dsn" "SELECT id FROM revos.events WHERE event_type = 'ra.tick' ORDER BY id OFFSET 18000 LIMIT 1")
  orig=$(qdb "$dsn" "SELECT payload FROM revos.events WHERE id = $victim")
  qdb "$dsn" - >/dev/null 2>&1 <<SQL
ALTER TABLE revos.events DISABLE TRIGGER ALL;
UPDATE revos.events SET payload = '{"i": -1}' WHERE id = $victim;
ALTER TABLE revos.events ENABLE TRIGGER ALL;
SQL
  check "$label: a row forged near the end is found" "false|$victim" \
    "$(qdb "$dsn" "SELECT v->>'ok', v->>'first_broken_id' FROM revos.verify_ledger() v")"
  qdb "$dsn" - >/dev/null 2>&1 <<SQL
ALTER TABLE revos.events DISABLE TRIGGER ALL;
UPDATE revos.events SET payload = '$orig' WHERE id = $victim;
ALTER TABLE revos.events ENABLE TRIGGER ALL;
SQL
  check "$label: restored, it verifies again" true "$(qdb "$dsn" "SELECT revos.verify_ledger()->>'ok'")"
}
readahead_case "UTF-8 (hashing thread)" "$TDSN" UTF8
LDB=${DB}_latin1
psql -X -q -v ON_ERROR_STOP=1 -d "$DSN" >/dev/null 2>"$TMP/latin1.err" <<SQL || die "cannot create $LDB: $(cat "$TMP/latin1.err")"
DROP DATABASE IF EXISTS $LDB WITH (FORCE);
CREATE DATABASE $LDB ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;
SQL
LDSN=$(db_dsn $LDB)
qdb "$LDSN" "CREATE EXTENSION revos" >"$TMP/latin1.out" || die "CREATE EXTENSION revos in LATIN1 failed: $(cat "$TMP/latin1.out")"
readahead_case "LATIN1 (no hashing thread)" "$LDSN" LATIN1
psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS $LDB WITH (FORCE)" >/dev/null 2>&1

# ---------------------------------------------------------------------------------------------
echo "# the chain trigger's plans follow the head table within one session"
SDB=${DB}_shape
psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS $SDB WITH (FORCE)" -c "CREATE DATABASE $SDB" >/dev/null 2>&1
SDSN=$(db_dsn $SDB)
out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$SDSN" 2>&1 <<'SQL'
CREATE EXTENSION revos;
SELECT revos.log_event('{"event_type": "shape.a", "tenant_id": "shape-a"}') ->> 'status';
ALTER TABLE revos.event_chain_heads DROP COLUMN last_hash;
SELECT revos.log_event('{"event_type": "shape.b", "tenant_id": "shape-b"}') ->> 'status';
ALTER TABLE revos.event_chain_heads ADD COLUMN last_hash text;
SELECT revos.log_event('{"event_type": "shape.c", "tenant_id": "shape-c"}') ->> 'status';
SELECT count(*) FROM revos.event_chain_heads h JOIN revos.events e ON e.id = h.last_id
 WHERE h.chain = 'tenant:shape-c' AND h.last_hash = e.id || ':' || e.hash;
SELECT revos.verify_ledger() ->> 'ok';
SQL
)
check "one session: a new chain after last_hash is dropped, another after it is back (its hash written), verify ok" "recorded
recorded
recorded
1
true" "$out"
# a trigger on the head table that skips the chain trigger's upsert (the owner's or a superuser's
# doing) makes the event fail, never a second genesis of an existing chain
qdb "$SDSN" "CREATE FUNCTION public.skip() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN RETURN NULL; END \$f\$;
             CREATE TRIGGER skip BEFORE INSERT ON revos.event_chain_heads FOR EACH ROW EXECUTE FUNCTION public.skip()" >/dev/null
expect_error_db "a head upsert skipped by a trigger: the event fails (55000), no new genesis" 55000 \
  "the chain's head was not written" "$SDSN" "SELECT revos.log_event('{\"event_type\": \"shape.d\", \"tenant_id\": \"shape-a\"}')"
qdb "$SDSN" "DROP TRIGGER skip ON revos.event_chain_heads" >/dev/null
# one that logs an event itself: refused, not a panic of the trigger's kept plans
qdb "$SDSN" "CREATE FUNCTION public.echo() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN
               PERFORM revos.log_event('{\"event_type\": \"echo\"}'); RETURN NEW; END \$f\$;
             CREATE TRIGGER echo AFTER UPDATE ON revos.event_chain_heads FOR EACH ROW EXECUTE FUNCTION public.echo()" >/dev/null
expect_error_db "an event logged by a trigger on the head table, inside the chain trigger's statement: refused (55000)" 55000 \
  "cannot be written from inside the chain trigger's own statement" "$SDSN" "SELECT revos.log_event('{\"event_type\": \"shape.e\", \"tenant_id\": \"shape-a\"}')"
qdb "$SDSN" "DROP TRIGGER echo ON revos.event_chain_heads" >/dev/null
check "… and the ledger still verifies" true "$(qdb "$SDSN" "SELECT revos.verify_ledger() ->> 'ok'")"
psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS $SDB WITH (FORCE)" >/dev/null 2>&1

# A chain with events whose head is gone or has no last_id: its next event is refused (55000), never a
# second genesis (the review of 56b3afe, L2). In a database of its own: the head table as revos makes
# it, so that the direct path (chain_head.rs) is the one taken where no trigger is there.
FDB=${DB}_fork
psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS $FDB WITH (FORCE)" -c "CREATE DATABASE $FDB" >/dev/null 2>&1
FDSN=$(db_dsn $FDB)
qdb "$FDSN" "CREATE EXTENSION revos" >/dev/null || die "CREATE EXTENSION revos in $FDB failed"
# Each way alone, for a tenant's chain and the global one,
# each in a transaction that is rolled back (psql stops at the error); a fresh chain meanwhile still starts.
qdb "$FDSN" "SELECT revos.log_event('{\"event_type\": \"fork.global\"}'); SELECT revos.log_event('{\"event_type\": \"fork.t\", \"tenant_id\": \"shape-a\"}')" >/dev/null
qdb "$FDSN" "CREATE FUNCTION public.null_last() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN NEW.last_id := NULL; RETURN NEW; END \$f\$;
             CREATE FUNCTION public.null_all() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN NEW.last_id := NULL; NEW.prev_id := NULL; NEW.last_hash := NULL; RETURN NEW; END \$f\$;
             CREATE FUNCTION public.null_prev() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN NEW.prev_id := NULL; RETURN NEW; END \$f\$;
             CREATE FUNCTION public.keep() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN RETURN NEW; END \$f\$;" >/dev/null
for chain in "tenant:shape-a|, \"tenant_id\": \"shape-a\"" "global|"; do
  key=${chain%%|*}; extra=${chain#*|}
  for way in "its head deleted|DELETE FROM revos.event_chain_heads WHERE chain = '$key'" \
             "every head deleted (TRUNCATE)|TRUNCATE revos.event_chain_heads" \
             "its head's last_id set to NULL|UPDATE revos.event_chain_heads SET last_id = NULL WHERE chain = '$key'" \
             "its head's last_id and prev_id set to NULL|UPDATE revos.event_chain_heads SET last_id = NULL, prev_id = NULL, last_hash = NULL WHERE chain = '$key'" \
             "a BEFORE UPDATE trigger that sets last_id to NULL|CREATE TRIGGER f BEFORE UPDATE ON revos.event_chain_heads FOR EACH ROW EXECUTE FUNCTION public.null_last()" \
             "a BEFORE UPDATE trigger that sets last_id, prev_id, last_hash to NULL|CREATE TRIGGER f BEFORE UPDATE ON revos.event_chain_heads FOR EACH ROW EXECUTE FUNCTION public.null_all()" \
             "a BEFORE UPDATE trigger that sets prev_id (the event before) to NULL|CREATE TRIGGER f BEFORE UPDATE ON revos.event_chain_heads FOR EACH ROW EXECUTE FUNCTION public.null_prev()"; do
    expect_error_db "$key, $(printf '%s' "${way%%|*}"): the next event is refused, no second genesis" 55000 \
      "chain $key has events but its head" "$FDSN" "BEGIN" "${way#*|}" \
      "SELECT revos.log_event('{\"event_type\": \"fork\"$extra}')"
  done
  # the control: a trigger there that changes nothing (the statement's path, not the direct one)
  out=$(qdb "$FDSN" "BEGIN; CREATE TRIGGER f BEFORE UPDATE ON revos.event_chain_heads FOR EACH ROW EXECUTE FUNCTION public.keep();
                     SELECT revos.log_event('{\"event_type\": \"fork.ok\"$extra}') ->> 'status'; ROLLBACK" 2>&1)
  check "$key, a trigger on the heads that changes nothing: recorded" recorded "$out"
done
out=$(qdb "$FDSN" "BEGIN; TRUNCATE revos.event_chain_heads;
                   SELECT revos.log_event('{\"event_type\": \"fork.new\", \"tenant_id\": \"shape-fresh\"}') ->> 'status'; ROLLBACK" 2>&1)
check "every head deleted: a chain with no event yet still starts (recorded)" recorded "$out"
# a new chain whose head a trigger empties as the first event writes it: refused, not a panic
expect_error_db "a new chain's head emptied by a trigger as the first event writes it: refused (55000)" 55000 \
  "the chain's head was not written" "$FDSN" "BEGIN" \
  "CREATE TRIGGER f BEFORE UPDATE ON revos.event_chain_heads FOR EACH ROW EXECUTE FUNCTION public.null_last()" \
  "SELECT revos.log_event('{\"event_type\": \"fork.new\", \"tenant_id\": \"shape-new\"}')"
# a head whose last_hash was set by hand to a genesis's 64 zeros: the next event links to its real
# previous hash, not a genesis look-alike
out=$(qdb "$FDSN" "BEGIN; UPDATE revos.event_chain_heads SET last_hash = last_id || ':' || repeat('0', 64) WHERE chain = 'tenant:shape-a';
                   SELECT revos.log_event('{\"event_type\": \"fork.zero\", \"tenant_id\": \"shape-a\"}') ->> 'status';
                   SELECT revos.verify_ledger('shape-a') ->> 'ok'; ROLLBACK" 2>&1)
check "a head's last_hash set to 64 zeros by hand: the next event links to the stored hash (verify ok)" "recorded
true" "$out"
# REPEATABLE READ: a transaction whose snapshot is older than every event of the chain still sees
# them (the chain's events all committed after it took its snapshot, then its head deleted)
PGAPPNAME=rr_fork psql -X -q -At -d "$FDSN" -c '\set VERBOSITY verbose' -c "BEGIN ISOLATION LEVEL REPEATABLE READ" -c "SELECT 1" \
  -c "SELECT pg_sleep(1.5)" -c "SELECT revos.log_event('{\"event_type\": \"fork.rr\", \"tenant_id\": \"shape-rr\"}') ->> 'status'" \
  -c "COMMIT" >"$TMP/rr.out" 2>&1 &
rr=$!
sleeping "$FDSN" rr_fork || bad "the REPEATABLE READ session (rr_fork) seen" 1 0
qdb "$FDSN" "SELECT revos.log_event('{\"event_type\": \"fork.rr1\", \"tenant_id\": \"shape-rr\"}')" >/dev/null
qdb "$FDSN" "SELECT revos.log_event('{\"event_type\": \"fork.rr2\", \"tenant_id\": \"shape-rr\"}')" >/dev/null
qdb "$FDSN" "DELETE FROM revos.event_chain_heads WHERE chain = 'tenant:shape-rr'" >/dev/null
wait $rr
check "REPEATABLE READ, the chain's events newer than the snapshot, its head deleted: refused (55000)" 1 \
  "$(grep -c "55000: revos.events_chain: chain tenant:shape-rr has events but its head" "$TMP/rr.out")"
# SERIALIZABLE: the look for an earlier event of a new chain takes no predicate lock on the tenant
# index (an MVCC probe would: two transactions starting chains on one index page, each reading what
# the other wrote, a write skew)
check "SERIALIZABLE: a new chain's first event, no SIRead lock on events_tenant_id_idx" "recorded|0" \
  "$(psql -X -q -At -d "$FDSN" -c "BEGIN ISOLATION LEVEL SERIALIZABLE" \
     -c "SELECT revos.log_event('{\"event_type\": \"ser\", \"tenant_id\": \"shape-ser-a\"}') ->> 'status'" \
     -c "SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND mode = 'SIReadLock'
           AND relation = 'revos.events_tenant_id_idx'::regclass" -c "COMMIT" 2>&1 | paste -sd'|')"
# SERIALIZABLE, two transactions starting chains: a starts one, b starts one and commits (within a's
# 3-s sleep), a starts another. The heads' upserts can make a the pivot of a cycle (seen: 40001 at a's second first-event
# update of the heads, docs/ledger.md). What must hold either way: a's outcome is both events or a
# retryable 40001 with nothing of it kept, and once a is retried every chain verifies, one event each.
PGAPPNAME=ser_a psql -X -q -At -d "$FDSN" -c '\set VERBOSITY verbose' -c "BEGIN ISOLATION LEVEL SERIALIZABLE" \
  -c "SELECT revos.log_event('{\"event_type\": \"ser\", \"tenant_id\": \"ser-x1\"}') ->> 'status'" \
  -c "SELECT pg_sleep(3)" -c "SELECT revos.log_event('{\"event_type\": \"ser\", \"tenant_id\": \"ser-x3\"}') ->> 'status'" \
  -c "COMMIT" >"$TMP/ser.out" 2>&1 &
sa=$!
sleeping "$FDSN" ser_a || bad "the SERIALIZABLE session (ser_a) seen" 1 0
b_out=$(psql -X -q -At -d "$FDSN" -c "BEGIN ISOLATION LEVEL SERIALIZABLE" \
  -c "SELECT revos.log_event('{\"event_type\": \"ser\", \"tenant_id\": \"ser-x2\"}') ->> 'status'" -c "COMMIT" 2>&1)
wait $sa
a_out=$(grep -v '^$' "$TMP/ser.out" | paste -sd'|')
check "SERIALIZABLE chain starts: b (started a chain while a was open) recorded" recorded "$b_out"
case $a_out in
  "recorded|recorded") a_how="both of its events recorded" ;;
  recorded*40001*) a_how="a retryable 40001 (could not serialize)"
    qdb "$FDSN" "BEGIN ISOLATION LEVEL SERIALIZABLE; SELECT revos.log_event('{\"event_type\": \"ser\", \"tenant_id\": \"ser-x1\"}');
                 SELECT revos.log_event('{\"event_type\": \"ser\", \"tenant_id\": \"ser-x3\"}'); COMMIT" >/dev/null ;;
  *) a_how="neither: $a_out" ;;
esac
check "SERIALIZABLE chain starts: a ended in both events or a 40001 ($a_how)" t \
  "$([ "$a_how" = "${a_how#neither}" ] && echo t)"
check "  ... then (a retried if it failed) each of the three chains has one event and verifies" "1|true 1|true 1|true" \
  "$(for t in ser-x1 ser-x2 ser-x3; do qdb "$FDSN" "SELECT count(*) || '|' || (revos.verify_ledger('$t') ->> 'ok')
       FROM revos.events WHERE tenant_id = '$t'"; done | paste -sd' ')"
# a chain whose last event has 64 zeros for its hash (changed by hand, its head's last_hash gone):
# the next event is refused, not linked as a genesis look-alike
expect_error_db "the chain's last event's hash set to 64 zeros by hand: the next event refused (55000)" 55000 \
  "has 64 zeros for its hash" "$FDSN" "BEGIN" "ALTER TABLE revos.events DISABLE TRIGGER events_append_only" \
  "UPDATE revos.events SET hash = repeat('0', 64) WHERE id = (SELECT last_id FROM revos.event_chain_heads WHERE chain = 'tenant:shape-a')" \
  "UPDATE revos.event_chain_heads SET last_hash = NULL WHERE chain = 'tenant:shape-a'" \
  "SELECT revos.log_event('{\"event_type\": \"fork.zero2\", \"tenant_id\": \"shape-a\"}')"
# without events_tenant_id_idx (dropped by its owner): the look for an earlier event scans the table
for chain in "tenant:shape-a|, \"tenant_id\": \"shape-a\"" "global|"; do
  key=${chain%%|*}; extra=${chain#*|}
  expect_error_db "$key, events_tenant_id_idx dropped, its head deleted: still refused (the table scanned)" 55000 \
    "chain $key has events but its head" "$FDSN" "BEGIN" "DROP INDEX revos.events_tenant_id_idx" \
    "DELETE FROM revos.event_chain_heads WHERE chain = '$key'" "SELECT revos.log_event('{\"event_type\": \"fork.noidx\"$extra}')"
done
out=$(qdb "$FDSN" "BEGIN; DROP INDEX revos.events_tenant_id_idx;
                   SELECT revos.log_event('{\"event_type\": \"fork.noidx\", \"tenant_id\": \"shape-noidx\"}') ->> 'status'; ROLLBACK" 2>&1)
check "events_tenant_id_idx dropped: a chain with no event yet still starts (recorded)" recorded "$out"
# a head deleted for good: refused until it is rebuilt with docs/ledger.md's SQL ("A lost chain
# head"), for a tenant's chain and the global one
rebuild=$(awk '/<!-- lost-head:/ {m=1; next} m && /^```sql/ {b=1; next} b && /^```/ {exit} b {print}' "$ROOT/docs/ledger.md")
check "docs/ledger.md has the lost head's SQL" 1 "$(printf '%s\n' "$rebuild" | grep -c '^INSERT INTO revos.event_chain_heads')"
for t in shape-rr shape-a global; do
  if [ $t = global ]; then key=global; lit=NULL; extra=""; else key=tenant:$t; lit="'$t'"; extra=", \"tenant_id\": \"$t\""; fi
  qdb "$FDSN" "DELETE FROM revos.event_chain_heads WHERE chain = '$key'" >/dev/null
  expect_error_db "$key: its head deleted and committed: refused" 55000 "chain $key has events but its head" "$FDSN" \
    "SELECT revos.log_event('{\"event_type\": \"fork.after\"$extra}')"
  qdb "$FDSN" "${rebuild//\'acme\'/$lit}" >/dev/null
  out=$(qdb "$FDSN" "SELECT revos.log_event('{\"event_type\": \"fork.after\"$extra}') ->> 'status';
                     SELECT revos.verify_ledger() ->> 'ok';
                     SELECT count(*) FROM revos.events WHERE tenant_id IS NOT DISTINCT FROM $lit AND prev_hash = repeat('0', 64)" 2>&1)
  check "$key: … rebuilt with docs/ledger.md's SQL: the next event recorded, the ledger verifies, one genesis" "recorded
true
1" "$out"
done
# the rebuild is run by a superuser: a session whose search_path puts a writable schema first, with
# look-alike || operators there (text || text, bigint || text), still writes the head's true
# `<id>:<hash>` (the block pins search_path to pg_catalog)
qdb "$FDSN" "CREATE SCHEMA lookalike;
  CREATE FUNCTION lookalike.cat(text, text) RETURNS text LANGUAGE sql AS 'SELECT ''forged''';
  CREATE FUNCTION lookalike.cat(bigint, text) RETURNS text LANGUAGE sql AS 'SELECT ''forged''';
  CREATE OPERATOR lookalike.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = lookalike.cat);
  CREATE OPERATOR lookalike.|| (LEFTARG = bigint, RIGHTARG = text, FUNCTION = lookalike.cat);
  DELETE FROM revos.event_chain_heads WHERE chain = 'tenant:shape-a'" >/dev/null
qdb "$FDSN" "SET search_path = lookalike, pg_catalog; ${rebuild//\'acme\'/\'shape-a\'}" >/dev/null
check "docs/ledger.md's rebuild under a search_path with look-alike || operators first: the true <id>:<hash>" "t" \
  "$(qdb "$FDSN" "SELECT h.last_hash = e.id || ':' || e.hash FROM revos.event_chain_heads h JOIN revos.events e ON e.id = h.last_id WHERE h.chain = 'tenant:shape-a'")"
qdb "$FDSN" "DROP SCHEMA lookalike CASCADE" >/dev/null
# the rebuild leaves a head that is there alone
before=$(qdb "$FDSN" "SELECT last_id FROM revos.event_chain_heads WHERE chain = 'tenant:shape-a'")
qdb "$FDSN" "${rebuild//\'acme\'/\'shape-a\'}" >/dev/null
check "docs/ledger.md's rebuild on a chain whose head is there: the head unchanged" "$before" \
  "$(qdb "$FDSN" "SELECT last_id FROM revos.event_chain_heads WHERE chain = 'tenant:shape-a'")"
check "no chain started twice (one genesis each)" "0" \
  "$(qdb "$FDSN" "SELECT count(*) FROM (SELECT tenant_id FROM revos.events WHERE prev_hash = repeat('0', 64) GROUP BY 1 HAVING count(*) > 1) d")"
psql -X -q -d "$DSN" -c "DROP DATABASE IF EXISTS $FDB WITH (FORCE)" >/dev/null 2>&1

# ---------------------------------------------------------------------------------------------
echo "# end state"
total=$(count_events)
check "verify_ledger() ok over everything, events_checked = count(*)" "true|$total" \
  "$(q "SELECT v->>'ok', v->>'events_checked' FROM revos.verify_ledger() v")"

finish
