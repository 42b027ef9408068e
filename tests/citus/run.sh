#!/usr/bin/env bash
# The Citus suite (contract §13, issue 12): a coordinator and 2 workers (scripts/citus-cluster), revos
# installed in the PostgreSQL of $PG_CONFIG, erp-agent applied on the coordinator and distributed.
#   tests/citus/run.sh [BASE_PORT]     ports BASE..BASE+2 (default $REVOS_CITUS_PORT, else 56050)
# Citus is built into that PostgreSQL with scripts/citus-build (from vendor/) when it is missing. Exit status:
# 0 passed, 1 failed, 77 SKIPPED (only when this machine cannot build Citus: nothing was tested).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
BASE=${1:-${REVOS_CITUS_PORT:-56050}}
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
. "$root/tests/lib.sh"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
# qi DSN: SQL from stdin (psql meta-commands such as \g /dev/null allowed)
qi() { qdb "$1" -; }

skip() {
  echo
  echo "##########################################################################"
  echo "## SKIPPED: the Citus suite did not run: $*"
  echo "##########################################################################"
  exit 77
}

# Citus: built from the repository's vendor/citus-13.2.2.tar.gz when missing (scripts/citus-build). Only
# a machine that cannot build it (its exit 77: not a PostgreSQL 15, packages missing and no apt-get) is
# SKIPPED; a build that fails is a failure.
if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
  echo "# building Citus 13.2.2 into $("$PG_CONFIG" --pkglibdir) (scripts/citus-build, about 2 minutes)"
  mkdir -p "$root/target"
  log="$root/target/citus-build.log"
  PG_CONFIG="$PG_CONFIG" "$root/scripts/citus-build" >"$log" 2>&1
  rc=$?
  if [ "$rc" = 77 ]; then skip "this machine cannot build Citus: $(grep 'CANNOT BUILD' "$log" | tail -1)"; fi
  [ "$rc" = 0 ] || { tail -30 "$log"; die "scripts/citus-build failed (exit $rc; log: target/citus-build.log)"; }
  tail -1 "$log"
fi
[ -f "$("$PG_CONFIG" --pkglibdir)/revos.so" ] || die "revos is not installed in $("$PG_CONFIG" --pkglibdir) (cargo pgrx install --pg-config $PG_CONFIG)"

echo "# cluster: coordinator :$BASE, workers :$((BASE + 1)) :$((BASE + 2))"
"$root/scripts/citus-cluster" wipe "$BASE"
DSN=$("$root/scripts/citus-cluster" start "$BASE" revos_citus) || die "the Citus cluster did not start"
trap '"$root/scripts/citus-cluster" stop "$BASE"' EXIT
APP=${DSN/postgres@/citus_app@}
work=$(mktemp -d)

# payloads: erp-agent (v1), v2 = a column, an index and a check more, v3 = two new tables (plan only)
python3 - "$root/tests/fixtures/erp-agent.json" "$work" <<'PY'
import json, sys, copy
v1 = json.load(open(sys.argv[1]))
p = v1.get("payload", v1)
json.dump(p, open(sys.argv[2] + "/v1.json", "w"))
v2 = copy.deepcopy(p)
v2["schema_version"] = "erp-agent-002"
people = next(t for t in v2["tables"] if t["name"] == "people")
people["columns"].append({"name": "nickname", "type": "text"})
people.setdefault("indexes", []).append({"columns": ["nickname"]})
people.setdefault("checks", []).append({"name": "people_nickname_short", "expression": "length(nickname) < 40"})
json.dump(v2, open(sys.argv[2] + "/v2.json", "w"))
v1c = copy.deepcopy(p)
v1c["description"] = "other"; v1c["tables"][0]["columns"].append({"name": "extra", "type": "int"})
json.dump(v1c, open(sys.argv[2] + "/v1-changed.json", "w"))
v3 = copy.deepcopy(v2)
v3["schema_version"] = "erp-agent-003"
v3["tables"].append({"schema": "erp", "name": "invoices", "columns": [
    {"name": "project_id", "type": "uuid", "references": {"table": "erp.projects"}},
    {"name": "amount", "type": "numeric(12,2)"}]})
v3["tables"].append({"schema": "erp", "name": "currencies", "tenant_scoped": False,
                     "columns": [{"name": "code", "type": "text", "unique": True}]})
json.dump(v3, open(sys.argv[2] + "/v3.json", "w"))
PY
payload() { echo "pg_read_file('$work/$1')::jsonb"; }
chmod -R a+rX "$work"

echo "# revos on the coordinator, propagated to the workers by Citus"
qdb "$DSN" - >/dev/null <<'SQL' || die "cannot create the extension and roles"
CREATE EXTENSION revos;
CREATE ROLE citus_app LOGIN;
SQL
check "revos is on both workers" "t
t" "$(qdb "$DSN" "SELECT result = (SELECT extversion FROM pg_extension WHERE extname = 'revos') FROM run_command_on_workers(\$\$SELECT extversion FROM pg_extension WHERE extname = 'revos'\$\$) ORDER BY nodeport")"

echo "# erp-agent v1: applied and distributed in the same call"
check "apply erp-agent" "applied" "$(qdb "$DSN" "SELECT revos.apply_schema($(payload v1.json)) -> 'result' ->> 'status'")"
check "one ledger row for it" "1" "$(qdb "$DSN" "SELECT count(*) FROM revos.schema_migrations WHERE version = 'erp-agent-001' AND status = 'applied'")"
check "its SQL holds the distribution steps" "t" \
  "$(qdb "$DSN" "SELECT sql_script LIKE '%create_reference_table%' AND sql_script LIKE '%create_distributed_table%' FROM revos.schema_migrations WHERE version = 'erp-agent-001'")"
tenant_n=$(python3 -c "import json; p=json.load(open('$work/v1.json')); print(sum(1 for t in p['tables'] if t.get('tenant_scoped', True)))")
ref_n=$(python3 -c "import json; p=json.load(open('$work/v1.json')); print(sum(1 for t in p['tables'] if not t.get('tenant_scoped', True)))")
check "every tenant table distributed by tenant_id, in ONE co-location group" "$tenant_n|1" \
  "$(qdb "$DSN" "SELECT count(*) || '|' || count(DISTINCT colocationid) FROM pg_dist_partition WHERE partmethod = 'h' AND column_to_column_name(logicalrelid, partkey) = 'tenant_id' AND logicalrelid::regclass::text ~ '^(erp|agent)\.'")"
check "every non-tenant table a reference table" "$ref_n" \
  "$(qdb "$DSN" "SELECT count(*) FROM pg_dist_partition WHERE partmethod = 'n' AND repmodel = 't' AND logicalrelid::regclass::text ~ '^(erp|agent)\.'")"
check "tenant primary keys lead with tenant_id" "$tenant_n" \
  "$(qdb "$DSN" "SELECT count(*) FROM pg_constraint c JOIN pg_dist_partition p ON p.logicalrelid = c.conrelid WHERE c.contype = 'p' AND p.partmethod = 'h' AND pg_get_constraintdef(c.oid) LIKE 'PRIMARY KEY (tenant_id, %'")"
check "the policy is the bare form Citus accepts" "(tenant_id = (revos.current_tenant_id())::uuid)" \
  "$(qdb "$DSN" "SELECT DISTINCT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polname = 'revos_tenant_isolation'")"
check "the policy reached every shard (erp.people)" "t" \
  "$(qdb "$DSN" "SELECT bool_and(success AND result = '1') AND count(*) = (SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'erp.people'::regclass) FROM run_command_on_shards('erp.people', \$\$SELECT count(*) FROM pg_policy WHERE polrelid = '%s'::regclass AND polname = 'revos_tenant_isolation'\$\$)")"

check "verify_shards(): every placement of the $((tenant_n + ref_n)) tables matches its table" "true|$((tenant_n + ref_n))" \
  "$(qdb "$DSN" "SELECT (v ->> 'ok') || '|' || (v ->> 'tables_checked') FROM revos.verify_shards() v")"

echo "# a non-owner role, 24 tenants spread over both workers"
tenants=24
tid() { printf '00000000-0000-4000-8000-%012d' "$1"; }
{
  echo "GRANT USAGE ON SCHEMA erp, agent TO citus_app;"
  echo "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA erp, agent TO citus_app;"
} | qdb "$DSN" - >/dev/null || die "grants"
{
  for i in $(seq 1 $tenants); do
    echo "BEGIN; SELECT revos.set_tenant('$(tid "$i")');"
    printf "INSERT INTO erp.people (full_name) VALUES "
    for j in $(seq 1 "$i"); do printf "('person %s of %s')%s" "$j" "$i" "$([ "$j" -lt "$i" ] && echo ,)"; done
    echo "; COMMIT;"
  done
} | qdb "$APP" - >/dev/null
check "citus_app inserted 1+2+…+$tenants rows, each under its own tenant" "$((tenants * (tenants + 1) / 2))|$tenants" \
  "$(qdb "$DSN" "SELECT count(*) || '|' || count(DISTINCT tenant_id) FROM erp.people")"
check "the tenants live on both workers" "2" \
  "$(qdb "$DSN" "SELECT count(DISTINCT n.nodeport) FROM (SELECT DISTINCT tenant_id FROM erp.people) t
               JOIN pg_dist_placement pl ON pl.shardid = get_shard_id_for_distribution_column('erp.people', t.tenant_id)
               JOIN pg_dist_node n ON n.groupid = pl.groupid")"
expected=""; script=""
for i in $(seq 1 $tenants); do
  expected+="$i|0"$'\n'
  script+="BEGIN; SELECT revos.set_tenant('$(tid "$i")') \\g /dev/null"$'\n'
  script+="SELECT count(*) || '|' || count(*) FILTER (WHERE tenant_id <> '$(tid "$i")') FROM erp.people; COMMIT;"$'\n'
done
check "isolation matrix: each of $tenants tenants sees exactly its own rows" "${expected%$'\n'}" "$(printf '%s' "$script" | qdb "$APP" -)"
check "no tenant: 0 rows" "0" "$(qdb "$APP" "SELECT count(*) FROM erp.people")"
check "set_config() alone (what PostgREST does) does not reach the workers: 0 rows" "0" "$(qi "$APP" <<SQL
BEGIN; SELECT set_config('app.current_tenant_id', '$(tid 7)', true) \g /dev/null
SELECT count(*) FROM erp.people; COMMIT;
SQL
)"
expect_error_db "no tenant: no insert" 22004 "NULL in the partition column" "$APP" "INSERT INTO erp.people (full_name) VALUES ('nobody')"
expect_error_db "another tenant's insert is refused" 42501 "row-level security" "$APP" \
  "BEGIN; SELECT revos.set_tenant('$(tid 3)'); INSERT INTO erp.people (tenant_id, full_name) VALUES ('$(tid 4)', 'intruder'); COMMIT;"
check "nothing was inserted by the refused statements" "$((tenants * (tenants + 1) / 2))" "$(qdb "$DSN" "SELECT count(*) FROM erp.people")"

echo "# the JWT path: PostgREST's set_config() calls, then db-pre-request = revos.pre_request()"
check "claims alone: 0 rows on the workers; after pre_request(): the tenant's 5 rows" "0
5" "$(qi "$APP" <<SQL
BEGIN;
SELECT set_config('request.jwt.claims', '{"role": "citus_app", "tenant_id": "$(tid 5)"}', true) \g /dev/null
SELECT count(*) FROM erp.people;
SELECT revos.pre_request() \g /dev/null
SELECT count(*) FROM erp.people;
COMMIT;
SQL
)"
check "app_metadata.tenant_id through pre_request(), first statement of the transaction" "6" "$(qi "$APP" <<SQL
BEGIN;
SELECT set_config('request.jwt.claims', '{"app_metadata": {"tenant_id": "$(tid 6)"}}', true) \g /dev/null
SELECT revos.pre_request() \g /dev/null
SELECT count(*) FROM erp.people;
COMMIT;
SQL
)"
check "a request without a tenant claim: pre_request() leaves no tenant, 0 rows" "0" "$(qi "$APP" <<SQL
BEGIN;
SELECT set_config('request.jwt.claims', '{"role": "citus_app"}', true) \g /dev/null
SELECT revos.pre_request() \g /dev/null
SELECT count(*) FROM erp.people;
COMMIT;
SQL
)"

echo "# foreign keys between tenants, the updated_at trigger on the shards"
other=$(qdb "$DSN" "SELECT id FROM erp.people WHERE tenant_id = '$(tid 9)' LIMIT 1")
mine=$(qdb "$DSN" "SELECT id FROM erp.people WHERE tenant_id = '$(tid 8)' LIMIT 1")
check "a project pointing at its own tenant's person" "1" "$(qi "$APP" <<SQL
BEGIN; SELECT revos.set_tenant('$(tid 8)') \g /dev/null
INSERT INTO erp.projects (name, owner_person_id) VALUES ('own', '$mine');
SELECT count(*) FROM erp.projects; COMMIT;
SQL
)"
expect_error_db "a project pointing at another tenant's person is refused (23503)" 23503 "foreign key" "$APP" \
  "BEGIN; SELECT revos.set_tenant('$(tid 8)'); INSERT INTO erp.projects (name, owner_person_id) VALUES ('cross', '$other'); COMMIT;"
check "updated_at is set by the trigger on the shard" "t" "$(qi "$APP" <<SQL
BEGIN; SELECT revos.set_tenant('$(tid 8)') \g /dev/null
UPDATE erp.people SET notes = 'x', updated_at = '2000-01-01' WHERE id = '$mine' RETURNING updated_at > '2001-01-01' \g
COMMIT;
SQL
)"

echo "# drift capture: not fired by Citus's own shard DDL"
drift_workers() { qdb "$DSN" "SELECT string_agg(result, ',' ORDER BY nodeport) FROM run_command_on_workers(\$\$SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected'\$\$)"; }
check "no drift event on the coordinator or the workers after apply" "0|0,0" \
  "$(qdb "$DSN" "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected'")|$(drift_workers)"

echo "# v2: a column, an index and a check on every shard"
check "apply v2" "applied" "$(qdb "$DSN" "SELECT revos.apply_schema($(payload v2.json)) -> 'result' ->> 'status'")"
shards=$(qdb "$DSN" "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'erp.people'::regclass")
check "the new column on all $shards shards" "$shards" \
  "$(qdb "$DSN" "SELECT count(*) FROM run_command_on_shards('erp.people', \$\$SELECT count(*) FROM pg_attribute WHERE attrelid = '%s'::regclass AND attname = 'nickname' AND NOT attisdropped\$\$) WHERE success AND result = '1'")"
check "the new index on all $shards shards" "$shards" \
  "$(qdb "$DSN" "SELECT count(*) FROM run_command_on_shards('erp.people', \$\$SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = '%s'::regclass AND c.relname LIKE 'idx_people_nickname%%'\$\$) WHERE success AND result = '1'")"
check "the new check on all $shards shards" "$shards" \
  "$(qdb "$DSN" "SELECT count(*) FROM run_command_on_shards('erp.people', \$\$SELECT count(*) FROM pg_constraint WHERE conrelid = '%s'::regclass AND contype = 'c' AND conname LIKE 'people_nickname_short%%'\$\$) WHERE success AND result = '1'")"
expect_error_db "the check holds on the shards" 23514 "people_nickname_short" "$APP" \
  "BEGIN; SELECT revos.set_tenant('$(tid 2)'); UPDATE erp.people SET nickname = repeat('x', 50); COMMIT;"
check "still no drift event anywhere" "0|0,0" \
  "$(qdb "$DSN" "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected'")|$(drift_workers)"
qdb "$DSN" "ALTER TABLE erp.people ADD COLUMN by_hand int" >/dev/null
check "DDL by hand on the coordinator: one drift event there, none on the workers" "1|0,0" \
  "$(qdb "$DSN" "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected'")|$(drift_workers)"

check "verify_shards() after v2" "true" "$(qdb "$DSN" "SELECT revos.verify_shards() ->> 'ok'")"

echo "# noop, conflict, plan_schema"
check "v1 again: noop" "noop" "$(qdb "$DSN" "SELECT revos.apply_schema($(payload v1.json)) -> 'result' ->> 'status'")"
check "v2 again: noop" "noop" "$(qdb "$DSN" "SELECT revos.apply_schema($(payload v2.json)) -> 'result' ->> 'status'")"
check "v1 with other content: conflict" "conflict" "$(qdb "$DSN" "SELECT revos.apply_schema($(payload v1-changed.json)) -> 'result' ->> 'status'")"
check "plan_schema v3 shows the distribution steps of its new tables" "erp.currencies:reference_table,erp.invoices:distributed_table" \
  "$(qdb "$DSN" "SELECT string_agg(replace(s ->> 'object', '\"', '') || ':' || (s ->> 'kind'), ',' ORDER BY s ->> 'object') FROM jsonb_array_elements(revos.plan_schema($(payload v3.json)) -> 'result' -> 'plan' -> 'steps') s WHERE s ->> 'kind' IN ('distributed_table', 'reference_table')")"
check "plan_schema with distribute: false: no distribution step" "0" \
  "$(qdb "$DSN" "SELECT count(*) FROM jsonb_array_elements(revos.plan_schema($(payload v3.json) || '{\"options\": {\"distribute\": false}}') -> 'result' -> 'plan' -> 'steps') s WHERE s ->> 'kind' IN ('distributed_table', 'reference_table')")"
check "two applied ledger rows in all" "2" "$(qdb "$DSN" "SELECT count(*) FROM revos.schema_migrations WHERE status = 'applied'")"

echo "# the Citus settings of an apply end with it"
check "in the caller's transaction: applied, then multi_shard_modify_mode and enable_unsafe_triggers as before" \
  "applied|parallel|off" "$(qdb "$DSN" - <<'SQL'
BEGIN;
SELECT (revos.apply_schema('{"schema_version": "erp-agent-004", "description": "one more table", "tables": [
  {"schema": "erp", "name": "notes", "columns": [{"name": "body", "type": "text"}]}]}') -> 'result' ->> 'status')
       || '|' || current_setting('citus.multi_shard_modify_mode') || '|' || current_setting('citus.enable_unsafe_triggers');
COMMIT;
SQL
)"

echo "# verify_shards() sees a shard changed by hand on a worker"
shard=$(qdb "$DSN" "SELECT shard_name FROM citus_shards WHERE table_name = 'erp.people'::regclass AND nodeport = $((BASE + 1)) ORDER BY shardid LIMIT 1")
qdb "${DSN/:$BASE\//:$((BASE + 1))/}" "SET citus.enable_manual_changes_to_shards = on; ALTER TABLE $shard DROP COLUMN notes" >/dev/null
check "one mismatch, on that shard" "false|1|$shard" \
  "$(qdb "$DSN" "SELECT (v ->> 'ok') || '|' || jsonb_array_length(v -> 'mismatches') || '|' || (SELECT shard_name FROM citus_shards WHERE shardid = (v -> 'mismatches' -> 0 ->> 'shardid')::bigint) FROM revos.verify_shards() v")"

echo "# attacks (tests/attacks.sh has the rest): what a table owner changes by hand on a worker's shard"
# DDL on a worker is not recorded (its DDL comes from the coordinator); verify_shards() is what finds it.
W2="${DSN/:$BASE\//:$((BASE + 2))/}"
ashard=$(qdb "$DSN" "SELECT shard_name FROM citus_shards WHERE table_name = 'erp.people'::regclass AND nodeport = $((BASE + 2)) ORDER BY shardid LIMIT 1")
atrig=$(qdb "$W2" "SELECT tgname FROM pg_trigger WHERE tgrelid = '$ashard'::regclass AND tgname LIKE 'revos_touch_updated_at%'")
qdb "$DSN" "CREATE FUNCTION public.atk_shard_spy() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RETURN NEW; END \$\$" >/dev/null
# names_shard SQL-ON-THE-WORKER UNDO-SQL: verify_shards() lists $ashard after SQL, then UNDO restores it
names_shard() {
  qdb "$W2" "SET citus.enable_manual_changes_to_shards = on; $1" >/dev/null || { echo "could not run: $1"; return; }
  qdb "$DSN" "SELECT count(*) FROM revos.verify_shards() v, jsonb_array_elements(v -> 'mismatches') m
              WHERE (SELECT shard_name FROM citus_shards WHERE shardid = (m ->> 'shardid')::bigint) = '$ashard'"
  qdb "$W2" "SET citus.enable_manual_changes_to_shards = on; $2" >/dev/null
}
check "verify_shards() sees the shard's revos_touch_updated_at trigger disabled" 1 \
  "$(names_shard "ALTER TABLE $ashard DISABLE TRIGGER $atrig" "ALTER TABLE $ashard ENABLE TRIGGER $atrig")"
check "verify_shards() sees the shard's trigger replaced by one of the same name pattern calling another function" 1 \
  "$(names_shard "DROP TRIGGER $atrig ON $ashard; CREATE TRIGGER revos_touch_updated_at_999 BEFORE UPDATE ON $ashard FOR EACH ROW EXECUTE FUNCTION public.atk_shard_spy()" \
                 "DROP TRIGGER revos_touch_updated_at_999 ON $ashard; CREATE TRIGGER $atrig BEFORE UPDATE ON $ashard FOR EACH ROW EXECUTE FUNCTION revos.touch_updated_at()")"
check "verify_shards() sees a rule on the shard (ON INSERT DO INSTEAD NOTHING)" 1 \
  "$(names_shard "CREATE RULE atk_void AS ON INSERT TO $ashard DO INSTEAD NOTHING" "DROP RULE atk_void ON $ashard")"
check "verify_shards() sees the shard's tenant policy limited to another role" 1 \
  "$(names_shard "ALTER POLICY revos_tenant_isolation ON $ashard TO citus_app" "ALTER POLICY revos_tenant_isolation ON $ashard TO public")"

echo "# the hostile-names attacks on the coordinator (issue 17: tests/hostile_names.sh --citus)"
if "$root/tests/hostile_names.sh" "$DSN" --citus; then
  ok "hostile names on Citus: every check above passed"
else
  bad "hostile names on Citus" "every check ok" "some FAILED (above)"
fi

. "$here/route.sh"
. "$here/propagation.sh"
. "$here/in_place.sh"
rt_lazy_load

rm -rf "$work"
finish
