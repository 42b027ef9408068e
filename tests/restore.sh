#!/usr/bin/env bash
# Backup and restore keep both ledgers (contract section 11, issue 10): pg_dump in custom and
# plain format, restored into a new database with pg_restore / psql. Row for row the same
# revos.schema_migrations and revos.events (ids and hashes), no event added (no re-chaining, no
# drift for the restore's DDL), verify_ledger() ok, re-applying an applied version is a noop, and
# new apply_schema / log_event calls continue every chain.
#
#   tests/restore.sh DSN      DSN: a superuser connection; pg_dump etc. from $PG_CONFIG's bindir.
# Recreates the databases restore_src, restore_custom, restore_plain, restore_scratch.
set -uo pipefail
DSN=${1:?usage: tests/restore.sh DSN}
. "$(dirname "$0")/lib.sh"
BIN=$("${PG_CONFIG:-pg_config}" --bindir)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
SRC=$(db_dsn restore_src)

echo "# source database: migrations (applied, failed), events of three chains, drift"
fresh_db restore_src
P1='{"schema_version": "r-001", "description": "patients", "tables": [{"name": "patients", "columns": [{"name": "name", "type": "text", "not_null": true}], "indexes": [{"columns": ["name"]}]}]}'
out=$(qdb "$SRC" - <<SQL
CREATE EXTENSION revos;
SELECT revos.apply_schema('$P1') -> 'result' ->> 'status';
SELECT revos.apply_schema('{"meta": {"tenant_id": "acme"}, "payload": {"schema_version": "r-002", "description": "notes",
  "tables": [{"name": "notes", "columns": [{"name": "body", "type": "text"}]}]}}') -> 'result' ->> 'status';
CREATE TABLE public.full_table (tenant_id text NOT NULL, x int);
INSERT INTO public.full_table VALUES ('t', 1);
SELECT revos.apply_schema('{"schema_version": "r-003", "description": "fails", "options": {"tenant_type": "text"},
  "tables": [{"name": "full_table", "columns": [{"name": "x", "type": "int"},
    {"name": "y", "type": "int", "not_null": true, "default": "1/0"}]}]}') -> 'result' ->> 'status';
SELECT count(*) FROM (SELECT revos.log_event(jsonb_build_object('event_type', 'order.created', 'tenant_id', t,
    'payload', jsonb_build_object('n', i, 'text', E'quote '' backslash \\\\ tab \t é'), 'idempotency_key', t || i))
  FROM generate_series(1, 20) i, unnest(ARRAY['acme', 'globex']) t) s;
SELECT revos.log_event('{"event_type": "system.note", "occurred_at": "2024-05-01T12:00:00.123456Z"}') ->> 'status';
ALTER TABLE public.patients ADD COLUMN drifted int;
SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected';
SELECT revos.verify_ledger() ->> 'ok';
SQL
)
check "source set up" "applied
applied
failed
40
recorded
1
true" "$out"
# thirty more chains (the restore rebuilds their heads: how many share a page is checked below)
qdb "$SRC" "DO \$\$ BEGIN FOR i IN 1..30 LOOP
     PERFORM revos.log_event(jsonb_build_object('event_type', 'spread.tick', 'tenant_id', 'spread-' || i));
   END LOOP; END \$\$" >/dev/null

LEDGERS="SELECT (SELECT md5(string_agg(e::text, E'\n' ORDER BY e.id)) FROM revos.events e) || ' ' ||
                (SELECT md5(string_agg(m::text, E'\n' ORDER BY m.id)) FROM revos.schema_migrations m) || ' ' ||
                (SELECT count(*) FROM revos.events) || ' ' || (SELECT count(*) FROM revos.schema_migrations) || ' ' ||
                (SELECT string_agg(chain || ':' || last_id, ',' ORDER BY chain) FROM revos.event_chain_heads)"
src_ledgers=$(qdb "$SRC" "$LEDGERS")
src_max=$(qdb "$SRC" "SELECT max(id) FROM revos.events")

"$BIN/pg_dump" -Fc -f "$TMP/dump.custom" "$SRC" 2>"$TMP/dump.err" || die "pg_dump -Fc: $(cat "$TMP/dump.err")"
"$BIN/pg_dump" -Fp -f "$TMP/dump.sql" "$SRC" 2>"$TMP/dump.err" || die "pg_dump -Fp: $(cat "$TMP/dump.err")"

for fmt in custom plain; do
  echo "# restore of the $fmt dump"
  db=restore_$fmt
  fresh_db $db
  DST=$(db_dsn $db)
  if [ $fmt = custom ]; then
    "$BIN/pg_restore" -d "$DST" "$TMP/dump.custom" >"$TMP/restore.out" 2>&1
  else
    psql -X -q -v ON_ERROR_STOP=1 -d "$DST" -f "$TMP/dump.sql" >"$TMP/restore.out" 2>&1
  fi
  rc=$?
  check "$fmt: the restore runs without errors or warnings" "0|" "$rc|$(grep -E 'ERROR|WARNING' "$TMP/restore.out" | head -3)"
  check "$fmt: both ledgers row for row (ids, hashes, every column), no extra event, same chain heads" \
    "$src_ledgers" "$(qdb "$DST" "$LEDGERS")"
  check "$fmt: verify_ledger() ok" true "$(qdb "$DST" "SELECT revos.verify_ledger() ->> 'ok'")"
  check "$fmt: the rebuilt heads at most 6 a page, each with its last event's hash" "t|0" \
    "$(qdb "$DST" "SELECT (SELECT max(n) <= 6 FROM (SELECT (ctid::text::point)[0], count(*) AS n
                                                     FROM revos.event_chain_heads GROUP BY 1) p),
                          (SELECT count(*) FROM revos.event_chain_heads h LEFT JOIN revos.events e ON e.id = h.last_id
                            WHERE h.last_hash IS DISTINCT FROM h.last_id || ':' || e.hash)")"
  check "$fmt: re-applying an applied version is a noop" noop \
    "$(qdb "$DST" "SELECT revos.apply_schema('$P1') -> 'result' ->> 'status'")"
  out=$(qdb "$DST" - <<'SQL'
SELECT revos.apply_schema('{"schema_version": "r-004", "description": "after restore",
  "tables": [{"name": "later", "columns": [{"name": "n", "type": "int"}]}]}') -> 'result' ->> 'status';
SELECT revos.log_event('{"event_type": "after.restore", "tenant_id": "acme"}') ->> 'status';
SELECT revos.log_event('{"event_type": "after.restore", "tenant_id": "globex"}') ->> 'status';
SELECT revos.log_event('{"event_type": "after.restore"}') ->> 'status';
SQL
)
  check "$fmt: new apply_schema and log_event calls after the restore" "applied
recorded
recorded
recorded" "$out"
  check "$fmt: each chain continues from its restored head (prev_hash = the head's hash), ids after the restored ones" \
    "acme|true|true,global|true|true,globex|true|true" \
    "$(qdb "$DST" "SELECT string_agg(coalesce(e.tenant_id, 'global') || '|' || (e.id > $src_max) || '|' ||
                   (e.prev_hash = (SELECT p.hash FROM revos.events p WHERE p.id < e.id AND p.tenant_id IS NOT DISTINCT FROM e.tenant_id
                                   ORDER BY p.id DESC LIMIT 1)), ',' ORDER BY coalesce(e.tenant_id, 'global'))
                 FROM revos.events e WHERE e.event_type = 'after.restore'")"
  check "$fmt: verify_ledger() ok after the new writes" "true|$(( $(qdb "$SRC" "SELECT count(*) FROM revos.events") + 4 ))" \
    "$(qdb "$DST" "SELECT v ->> 'ok' || '|' || (v ->> 'events_checked') FROM revos.verify_ledger() v")"
  check "$fmt: drift capture works again in other sessions" 1 \
    "$(qdb "$DST" "ALTER TABLE public.notes ADD COLUMN drifted int;
                 SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected' AND id > $src_max")"
done

echo "# a restored row that does not chain is kept as it is, with a warning; verify_ledger reports it"
fresh_db restore_scratch
SCR=$(db_dsn restore_scratch)
out=$(qdb "$SCR" - <<SQL 2>&1
CREATE EXTENSION revos;
INSERT INTO revos.events (id, event_type, prev_hash, hash, recorded_at, occurred_at)
VALUES (41, 'forged', '$(printf '0%.0s' {1..64})', 'not-the-hash', now(), now());
SELECT id || '|' || hash || '|' || (SELECT last_id FROM revos.event_chain_heads WHERE chain = 'global') FROM revos.events;
SELECT (v ->> 'ok') || '|' || (v ->> 'first_broken_id') FROM revos.verify_ledger() v;
SQL
)
check "kept with its id and hash, warned, reported" "psql:<stdin>:3: WARNING:  revos: restored event 41 does not chain onto its predecessor; kept as it is (revos.verify_ledger() reports it)
41|not-the-hash|41
false|41" "$out"
check "the next event gets an id after it" t \
  "$(qdb "$SCR" "SELECT (revos.log_event('{\"event_type\": \"x\"}') ->> 'id')::bigint > 41")"

# restored_first ID TENANT: the SQL inserting a restored row that starts TENANT's chain (empty: the
# global one) — prev_hash 64 zeros, its own hash right: a first event as pg_restore brings it
restored_first() {
  local t=NULL
  [ -n "$2" ] && t="'$2'"
  echo "WITH b AS (SELECT jsonb_populate_record(NULL::revos.events, jsonb_build_object('id', $1,
      'event_id', gen_random_uuid(), 'tenant_id', $t::text, 'event_type', 'restored', 'payload', '{}'::jsonb,
      'occurred_at', now(), 'recorded_at', now(), 'prev_hash', repeat('0', 64), 'hash', '')) AS r)
    INSERT INTO revos.events SELECT (jsonb_populate_record(r, jsonb_build_object('hash', revos.event_hash(r)))).* FROM b;"
}
echo "# a restored first event of a chain that has events but no head (deleted, or emptied) is kept, warned,"
echo "# and verify_ledger reports it; each case alone, in a database of its own; a chain without events is not warned"
for c in "global|deleted" "t1|deleted" "t1|emptied" "fresh|none"; do
  tenant=${c%%|*} how=${c#*|}
  [ "$tenant" = global ] && tenant=""
  chain=global
  [ -n "$tenant" ] && chain="tenant:$tenant"
  fresh_db restore_scratch
  SCR=$(db_dsn restore_scratch)
  ev="{\"event_type\": \"x\"${tenant:+, \"tenant_id\": \"$tenant\"}}"
  case $how in
    deleted) head="DELETE FROM revos.event_chain_heads WHERE chain = '$chain';" ;;
    emptied) head="UPDATE revos.event_chain_heads SET last_id = NULL, prev_id = NULL WHERE chain = '$chain';" ;;
    none) head="" ;;
  esac
  out=$(qdb "$SCR" - <<SQL 2>&1
CREATE EXTENSION revos;
$( [ "$how" = none ] && echo "SELECT 0;" || echo "SELECT count(*) FROM (SELECT revos.log_event('$ev') FROM generate_series(1, 2)) s;")
$head
$(restored_first 100 "$tenant")
SELECT revos.verify_ledger() ->> 'ok';
SQL
)
  out=$(sed 's/^psql:<stdin>:[0-9]*: //' <<<"$out")
  if [ "$how" = none ]; then
    check "a chain's first restored event, the chain without events: kept, no warning, verify_ledger ok" "0
true" "$out"
  else
    check "$chain's head $how, then a restored first event of it: kept, warned, reported" "2
WARNING:  revos: restored event 100 starts chain $chain again: it has events in revos.events but its head was missing or empty; kept as it is (revos.verify_ledger() reports it)
false" "$out"
  fi
done

finish
