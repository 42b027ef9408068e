#!/usr/bin/env bash
# The adversarial review of 5798187, B, for NOT NULL's helper check (kept as a regression test:
# tests/attacks.sh B29 runs it and requires "not reproduced"): a role holding only TRIGGER on the
# table puts a CONSTRAINT TRIGGER under the name of revos's helper (revos_nn_<column>) before the
# worker adds it; a pg_constraint row of that name (contype 't', convalidated) counted as the helper
# added and validated, and the chain went on as done: SET NOT NULL then scanned the whole table under
# ACCESS EXCLUSIVE (the helper that spares the scan never existed). The helper's steps must fail
# instead. (The reviewer's script squatted a declared check's name as well; a declared check is added
# in the apply's transaction again, so that name is taken by revos's own check at the commit.)
#
#   helper_squat.sh SUPERUSER_DSN
set -uo pipefail
DSN=${1:?usage: $0 SUPERUSER_DSN}
DB=rv5798187b
S="${DSN%/*}/$DB"
T="${S/:\/\/postgres@/://trg_b@}"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>&1; }
settle() {
  local i
  for i in $(seq 120); do
    q "$S" "SELECT count(*) FROM revos.deferred_status()" >/dev/null
    [ "$(q "$S" "SELECT count(*) FROM revos.deferred_steps WHERE version = '$1' AND status IN ('pending', 'running')")" = 0 ] && return
    sleep 0.5
  done
  echo "(steps of $1 still pending after 60 s)"
}
steps() { q "$S" "SELECT string_agg(status || ' ' || coalesce(sqlstate, '-'), ', ' ORDER BY id) FROM revos.deferred_steps WHERE version = '$1'"; }

q "$DSN" "DROP DATABASE IF EXISTS $DB" >/dev/null
q "$DSN" "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'trg_b') THEN CREATE ROLE trg_b LOGIN; END IF; END \$\$" >/dev/null
q "$DSN" "CREATE DATABASE $DB" >/dev/null
q "$S" "CREATE EXTENSION revos" >/dev/null
q "$S" "CREATE SCHEMA app; GRANT USAGE ON SCHEMA app TO PUBLIC; CREATE SCHEMA trg_b AUTHORIZATION trg_b" >/dev/null
q "$T" "CREATE FUNCTION trg_b.nothing() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'" >/dev/null

tbl() { # CHECKS (json fragment)
  echo "{\"name\": \"big\", \"schema\": \"app\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false,
        \"columns\": [{\"name\": \"n\", \"type\": \"integer\"$1}, {\"name\": \"m\", \"type\": \"integer\"$2}],
        \"grants\": [{\"to\": [\"trg_b\"], \"privileges\": [\"TRIGGER\"]}]}"
}
pay() { echo "{\"schema_version\": \"$1\", \"description\": \"repro B\", \"options\": {\"online\": true}, \"tables\": [$2]}"; }
apply() { q "$S" "SELECT revos.apply_schema(\$p\$$1\$p\$::jsonb) -> 'result' ->> 'status'"; }

echo "v1: $(apply "$(pay b-1 "$(tbl '' '')")")"
q "$S" "INSERT INTO app.big (n, m) SELECT i, i FROM generate_series(1, 1000) i" >/dev/null

# hold the superuser's worker (the session lock every worker of that role takes first; the reviewer's
# trg_b took it as an advisory lock, which no SQL function reaches since: the test hook of revos's library,
# declared by a superuser session in pg_temp) so that the squat surely comes first; a race without it works as well
SU=$(q "$S" "SELECT oid FROM pg_roles WHERE rolname = current_user")
PGAPPNAME=b_pause psql -X -q -At -d "$S" \
  -c "CREATE FUNCTION pg_temp.hold_worker_lock(oid) RETURNS boolean LANGUAGE c STRICT AS '\$libdir/revos', 'hold_worker_lock_wrapper'" \
  -c "SELECT pg_temp.hold_worker_lock($SU)" -c "SELECT pg_sleep(6)" >/dev/null 2>&1 &
for i in $(seq 50); do
  [ "$(q "$S" "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = 'b_pause'")" = 1 ] && break
  sleep 0.1
done
echo "v2 (check n >= 0, NOT NULL m; online), applied by the superuser: $(apply "$(pay b-2 "$(tbl ', "check": "n >= 0"' ', "not_null": true')")")"
# trg_b: TRIGGER on app.big only (declared in the payload: "grants")
echo "app.big's ACL: $(q "$S" "SELECT relacl FROM pg_class WHERE oid = 'app.big'::regclass")"
q "$T" "CREATE CONSTRAINT TRIGGER revos_nn_m AFTER INSERT ON app.big FOR EACH ROW EXECUTE FUNCTION trg_b.nothing()" >/dev/null && echo "trg_b created constraint trigger revos_nn_m"
wait
settle b-2
echo "deferred steps of b-2: $(steps b-2)"
q "$S" "SELECT 'step ' || status || ': ' || sql FROM revos.deferred_steps WHERE version = 'b-2' ORDER BY id"
echo "constraints on app.big now: $(q "$S" "SELECT coalesce(string_agg(conname || ' (' || contype::text || ')', ', '), 'none') FROM pg_constraint WHERE conrelid = 'app.big'::regclass")"
echo "insert n = -5: $(q "$S" "INSERT INTO app.big (n, m) VALUES (-5, 1) RETURNING 'accepted'" | tail -1)"
echo "revos.deferred_status('b-2'): $(q "$S" "SELECT revos.deferred_status('b-2')::text" | cut -c1-200)"
H=$(q "$S" "SELECT string_agg(status, ',' ORDER BY id) FROM revos.deferred_steps WHERE version = 'b-2' AND (sql LIKE '%revos_nn_m%' OR sql LIKE '%SET NOT NULL%')")
TRG=$(q "$S" "SELECT count(*) FROM pg_constraint WHERE conrelid = 'app.big'::regclass AND conname = 'revos_nn_m' AND contype = 't'")
# the helper's steps counted done while only the trigger had the name (then SET NOT NULL scanned the
# table under ACCESS EXCLUSIVE, and the DROP of the "helper" failed). Since the review of 765e4d8 the
# helper is added NOT VALID in the apply's transaction: its name is taken at the commit, and the
# trigger cannot be put under it.
[[ "$H" == done,done,* && "$TRG" != 0 ]] && echo "REPRODUCED: revos's helper counted added and validated, a constraint trigger under its name ($H)" || echo "not reproduced ($H; constraint triggers named revos_nn_m: $TRG)"
