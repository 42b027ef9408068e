# Tenant routing through the policy alone (issue 22; README "Scale-out on Citus"), sourced by
# tests/citus/run.sh on its cluster (DSN, BASE, work, tid, check, qdb, qi, expect_error_db).
#
# A matrix of callers × tenants. Every tenant's rows carry a marker (tenant i has i notes with
# marker i, each note one tag with marker i); every cell asserts on the data — the row count and
# that no row carries another marker — and, where routing is promised, that Citus ran the query on
# ONE shard: `Task Count: 1` in EXPLAIN, or for the protocol-level callers (pgbench, pgbouncer)
# Citus's own counters (citus_stat_counters: single-shard vs multi-shard executions).

RT_TENANTS=24
RT_TOTAL=$((RT_TENANTS * (RT_TENANTS + 1) / 2))
RT_APP=${DSN/postgres@/rt_app@}
RT_OWNER=${DSN/postgres@/rt_owner@}
export PGAPPNAME=revos-route-test

echo "# routing: the rt schema (notes, tags), $RT_TENANTS tenants with a marker, a non-owner and an owner role"
check "revos is preloaded, after citus (scripts/citus-cluster)" "citus,revos" "$(qdb "$DSN" "SHOW shared_preload_libraries")"
cat > "$work/rt.json" <<'JSON'
{"schema_version": "rt-001", "description": "routing matrix", "tables": [
 {"schema": "rt", "name": "notes", "columns": [{"name": "marker", "type": "int", "not_null": true}, {"name": "body", "type": "text"}]},
 {"schema": "rt", "name": "tags", "columns": [{"name": "note_id", "type": "uuid", "references": "rt.notes"}, {"name": "marker", "type": "int", "not_null": true}]},
 {"schema": "rt", "name": "links", "columns": [{"name": "note_id", "type": "uuid", "references": {"table": "rt.notes", "on_delete": "set null"}}]}
]}
JSON
chmod a+r "$work/rt.json"
rt_applied=$(qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/rt.json')::jsonb) -> 'result'")
check "rt applied" "applied" "$(printf '%s' "$rt_applied" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])')"
qdb "$DSN" - >/dev/null <<'SQL' || die "routing roles"
CREATE ROLE rt_app LOGIN;
CREATE ROLE rt_owner LOGIN;
GRANT USAGE ON SCHEMA rt TO rt_app, rt_owner;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA rt TO rt_app;
-- Task Count of a statement's plan, as the caller sees it (EXPLAIN through SPI: the same planner
-- hook as any other caller)
CREATE FUNCTION public.task_count(q text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    IF l ~ 'Task Count: ' THEN RETURN substring(l FROM 'Task Count: (\d+)')::int; END IF;
  END LOOP;
  RETURN NULL;
END $$;
-- the same read from a PL/pgSQL function (SPI keeps its plan for the session)
CREATE FUNCTION public.rt_read() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  RETURN (SELECT count(*) || '|' || count(*) FILTER (WHERE marker::text <> split_part(revos.current_tenant_id(), '-', 5)::bigint::text) FROM rt.notes);
END $$;
ALTER DATABASE revos_citus SET citus.enable_stat_counters = on;
SQL
{
  for i in $(seq 1 $RT_TENANTS); do
    echo "BEGIN; SELECT revos.set_tenant('$(tid "$i")');"
    printf "INSERT INTO rt.notes (marker, body) VALUES "
    for j in $(seq 1 "$i"); do printf "(%s, 'note %s')%s" "$i" "$j" "$([ "$j" -lt "$i" ] && echo ,)"; done
    echo "; INSERT INTO rt.tags (note_id, marker) SELECT id, $i FROM rt.notes; COMMIT;"
  done
} | qdb "$RT_APP" - >/dev/null
check "rt_app wrote each tenant's notes and tags with its marker" "$RT_TOTAL|$RT_TOTAL|0|0" \
  "$(qdb "$DSN" "SELECT (SELECT count(*) FROM rt.notes) || '|' || (SELECT count(*) FROM rt.tags) || '|' || (SELECT count(*) FROM rt.notes WHERE tenant_id <> ('00000000-0000-4000-8000-' || lpad(marker::text, 12, '0'))::uuid) || '|' || (SELECT count(*) FROM rt.tags WHERE tenant_id <> ('00000000-0000-4000-8000-' || lpad(marker::text, 12, '0'))::uuid)")"
check "the tenants live on both workers" "2" \
  "$(qdb "$DSN" "SELECT count(DISTINCT nodeport) FROM (SELECT DISTINCT tenant_id FROM rt.notes) t JOIN citus_shards s ON s.shardid = get_shard_id_for_distribution_column('rt.notes', t.tenant_id)")"

# rows|rows with another marker|Task Count, for tenant $1 and the query text $2 (FROM …), the
# marker being $3 (default: marker)
rt_cell() {
  local m=${3:-marker}
  printf "BEGIN; SELECT revos.set_tenant('%s') \\\\g /dev/null\nSELECT count(*) AS n, count(*) FILTER (WHERE %s <> %s) AS bad %s \\\\gset\nSELECT :n || '|' || :bad || '|' || task_count(\$q\$SELECT 1 %s\$q\$);\nCOMMIT;\n" \
    "$(tid "$1")" "$m" "$1" "$2" "$2"
}
# (Task Count is asked in a statement of its own: inside a query routed to a worker, task_count()
# itself would run on that worker, in a session that has only what was propagated to it.)

echo "# simple protocol (psql): every tenant, one session, the tenant switched per transaction"
expected=""; script=""
for i in $(seq 1 $RT_TENANTS); do expected+="$i|0|1"$'\n'; script+=$(rt_cell "$i" "FROM rt.notes")$'\n'; done
check "each of $RT_TENANTS tenants: its own rows, all its marker, Task Count 1" "${expected%$'\n'}" "$(printf '%s' "$script" | qdb "$RT_APP" -)"

echo "# query shapes, tenant 7 (7 notes, 7 tags)"
for shape in "FROM rt.notes n" \
  "FROM rt.notes n JOIN rt.tags t ON t.tenant_id = n.tenant_id AND t.note_id = n.id WHERE t.marker = n.marker" \
  "FROM rt.notes n LEFT JOIN rt.tags t ON t.tenant_id = n.tenant_id AND t.note_id = n.id" \
  "FROM rt.tags t RIGHT JOIN rt.notes n ON t.tenant_id = n.tenant_id AND t.note_id = n.id" \
  "FROM (WITH pgrst_source AS (SELECT n.* FROM rt.notes n) SELECT * FROM pgrst_source) n" \
  "FROM rt.notes n WHERE id IN (SELECT note_id FROM rt.tags)"; do
  check "routed: SELECT … $shape" "7|0|1" "$(rt_cell 7 "$shape" n.marker | qdb "$RT_APP" -)"
done
check "a FULL join is left to Citus (no filter above it equals its scan's): the same rows" "7|0" \
  "$(qi "$RT_APP" <<SQL
BEGIN; SELECT revos.set_tenant('$(tid 7)') \g /dev/null
SELECT count(*) || '|' || count(*) FILTER (WHERE coalesce(n.marker, t.marker) <> 7) FROM rt.notes n FULL JOIN rt.tags t ON t.tenant_id = n.tenant_id AND t.note_id = n.id;
COMMIT;
SQL
)"
check "writes: UPDATE and DELETE on tenant 7's shard only, INSERT routed by its value (Task Count 1 each)" "1|1|1
7
1" "$(qi "$RT_APP" <<SQL
BEGIN; SELECT revos.set_tenant('$(tid 7)') \g /dev/null
SELECT task_count('UPDATE rt.notes SET body = body') || '|' || task_count('DELETE FROM rt.links') || '|' || task_count('INSERT INTO rt.links (note_id) VALUES (NULL)');
UPDATE rt.notes SET body = 'by 7' RETURNING marker \g /dev/null
SELECT count(*) FROM rt.notes WHERE body = 'by 7' AND marker = 7;
COMMIT;
BEGIN; SELECT revos.set_tenant('$(tid 7)') \g /dev/null
DELETE FROM rt.links; INSERT INTO rt.links (note_id) VALUES (NULL);
SELECT count(*) FROM rt.links;
ROLLBACK;
SQL
)"
check "the superuser saw tenant 7's update on exactly its 7 rows, no other tenant's" "7|0" \
  "$(qdb "$DSN" "SELECT count(*) FILTER (WHERE body = 'by 7') || '|' || count(*) FILTER (WHERE body = 'by 7' AND marker <> 7) FROM rt.notes")"

echo "# prepared statements (PREPARE/EXECUTE): reused across tenants past the generic-plan switch"
check "no parameters (always the generic plan): 8 runs for tenant 3, then 5 and 2 in one transaction, then 11" \
  "3|0 3|0 3|0 3|0 3|0 3|0 3|0 3|0 1 5|0 1 2|0 1 11|0 1" "$(qi "$RT_APP" <<SQL | tr '\n' ' ' | sed 's/ $//'
PREPARE q AS SELECT count(*) || '|' || count(*) FILTER (WHERE marker::text <> split_part(revos.current_tenant_id(), '-', 5)::bigint::text) FROM rt.notes;
BEGIN; SELECT revos.set_tenant('$(tid 3)') \g /dev/null
EXECUTE q; EXECUTE q; EXECUTE q; EXECUTE q; EXECUTE q; EXECUTE q; EXECUTE q; EXECUTE q;
SELECT task_count('EXECUTE q');
SELECT revos.set_tenant('$(tid 5)') \g /dev/null
EXECUTE q; SELECT task_count('EXECUTE q');
SELECT revos.set_tenant('$(tid 2)') \g /dev/null
EXECUTE q; SELECT task_count('EXECUTE q');
COMMIT;
BEGIN; SELECT revos.set_tenant('$(tid 11)') \g /dev/null
EXECUTE q; SELECT task_count('EXECUTE q');
COMMIT;
SQL
)"
check "a parameter and plan_cache_mode = force_generic_plan: tenants 4, 9, 4 (rows with marker > 1)" \
  "4|0 4|0 4|0 4|0 4|0 4|0 1 9|0 1 4|0 1" "$(qi "$RT_APP" <<SQL | tr '\n' ' ' | sed 's/ $//'
SET plan_cache_mode = force_generic_plan;
PREPARE p(int) AS SELECT count(*) || '|' || count(*) FILTER (WHERE marker::text <> split_part(revos.current_tenant_id(), '-', 5)::bigint::text) FROM rt.notes WHERE marker > \$1;
BEGIN; SELECT revos.set_tenant('$(tid 4)') \g /dev/null
EXECUTE p(1); EXECUTE p(1); EXECUTE p(1); EXECUTE p(1); EXECUTE p(1); EXECUTE p(1); SELECT task_count('EXECUTE p(1)');
COMMIT;
BEGIN; SELECT revos.set_tenant('$(tid 9)') \g /dev/null
EXECUTE p(1); SELECT task_count('EXECUTE p(1)');
COMMIT;
BEGIN; SELECT revos.set_tenant('$(tid 4)') \g /dev/null
EXECUTE p(1); SELECT task_count('EXECUTE p(1)');
COMMIT;
SQL
)"
check "a PL/pgSQL function (its plan kept by SPI): tenants 1..6, three calls each" \
  "1|0 1|0 1|0 2|0 2|0 2|0 3|0 3|0 3|0 4|0 4|0 4|0 5|0 5|0 5|0 6|0 6|0 6|0" "$(for i in 1 2 3 4 5 6; do
    printf "BEGIN; SELECT revos.set_tenant('%s') \\\\g /dev/null\nSELECT public.rt_read(); SELECT public.rt_read(); SELECT public.rt_read(); COMMIT;\n" "$(tid "$i")"
  done | qdb "$RT_APP" - | tr '\n' ' ' | sed 's/ $//')"
expect_error_db "a cursor opened for tenant 6 and fetched after the tenant became 1 is refused, not run on 6's shard" \
  55000 "routed to the shard of another tenant" "$RT_APP" \
  "BEGIN; SELECT revos.set_tenant('$(tid 6)'); DECLARE c CURSOR FOR SELECT marker FROM rt.notes; FETCH 1 FROM c; SELECT revos.set_tenant('$(tid 1)'); FETCH 1 FROM c;"

# pgbench scripts: a random tenant per transaction; a wrong row count or marker divides by zero
# (by an aggregate, so that the planner cannot fold it), which aborts the client and makes pgbench
# exit non-zero.
cat > "$work/rt_read.pgbench" <<'SQL'
\set n random(1, 24)
BEGIN;
SELECT revos.set_tenant('00000000-0000-4000-8000-' || lpad(:n::text, 12, '0'));
SELECT CASE WHEN count(*) = :n AND count(*) FILTER (WHERE marker <> :n) = 0 THEN 1 ELSE 1 / (count(*) - count(*)) END FROM rt.notes;
SELECT CASE WHEN count(*) = :n AND count(*) FILTER (WHERE n.marker <> :n OR t.marker <> :n) = 0 THEN 1 ELSE 1 / (count(*) - count(*)) END FROM rt.notes n JOIN rt.tags t ON t.tenant_id = n.tenant_id AND t.note_id = n.id;
UPDATE rt.notes SET body = 'pgbench ' || :n;
END;
SQL
chmod a+r "$work/rt_read.pgbench"
stat_counters() { qdb "$DSN" "SELECT query_execution_single_shard || '|' || query_execution_multi_shard FROM citus_stat_counters WHERE name = 'revos_citus'"; }
rt_pgbench() { # MODE TRANSACTIONS [PGOPTIONS] [DSN]
  local out rc
  qdb "$DSN" "SELECT citus_stat_counters_reset()" >/dev/null
  out=$(PGOPTIONS="${PGOPTIONS:-} ${3:-}" pgbench -n -M "$1" -c 4 -j 2 -t "$2" -f "$work/rt_read.pgbench" "${4:-$RT_APP}" 2>&1); rc=$?
  [ "$rc" -eq 0 ] || { printf 'pgbench exit %s:\n%s\n' "$rc" "$(printf '%s\n' "$out" | grep -v '^pgbench (' | tail -8)"; return; }
  # every statement of every transaction ran on one shard; 3 per transaction
  local c; c=$(stat_counters)
  [ "${c##*|}" = 0 ] && [ "${c%%|*}" -ge $((4 * $2 * 3)) ] && echo "ok" || echo "single|multi = $c"
}
echo "# extended protocol: pgbench -M prepared / extended, 4 clients, random tenant per transaction"
check "pgbench -M prepared (4×150 transactions): right rows every time, every statement on one shard" "ok" "$(rt_pgbench prepared 150)"
check "pgbench -M prepared, plan_cache_mode = force_generic_plan" "ok" "$(rt_pgbench prepared 150 "-c plan_cache_mode=force_generic_plan")"
check "pgbench -M extended" "ok" "$(rt_pgbench extended 100)"
check "every UPDATE wrote only its own tenant's rows" "0" \
  "$(qdb "$DSN" "SELECT count(*) FROM rt.notes WHERE body LIKE 'pgbench %' AND body <> 'pgbench ' || marker")"

echo "# pgbouncer, transaction pooling, ONE server connection: the tenant switched per transaction"
bdir="$root/target/citus-bouncer-$BASE"; rm -rf "$bdir"; mkdir -p "$bdir"
bport=$((BASE + 3))
cat > "$bdir/pgbouncer.ini" <<INI
[databases]
revos_citus = host=127.0.0.1 port=$BASE dbname=revos_citus
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bport
unix_socket_dir =
auth_type = trust
auth_file = $bdir/userlist.txt
pool_mode = transaction
default_pool_size = 1
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 20
server_reset_query = DISCARD ALL
ignore_startup_parameters = extra_float_digits,options
logfile = $bdir/pgbouncer.log
pidfile = $bdir/pgbouncer.pid
INI
echo '"rt_app" ""' > "$bdir/userlist.txt"
bouncer_stop() { [ -f "$bdir/pgbouncer.pid" ] && kill "$(cat "$bdir/pgbouncer.pid")" 2>/dev/null; rm -f "$bdir/pgbouncer.pid"; }
bouncer_bin=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
if [ ! -x "$bouncer_bin" ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y -qq pgbouncer >/dev/null 2>&1 || true
fi
if [ -x "$bouncer_bin" ]; then
  [ "$(id -u)" -eq 0 ] && chown -R postgres:postgres "$bdir" && chmod o+x "$root/target"
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$bouncer_bin" -d "$bdir/pgbouncer.ini"; else "$bouncer_bin" -d "$bdir/pgbouncer.ini"; fi
  trap '"$root/scripts/citus-cluster" stop "$BASE"; bouncer_stop' EXIT
  BOUNCER="postgres://rt_app@127.0.0.1:$bport/revos_citus"
  for _ in $(seq 1 50); do psql -X -q -At "$BOUNCER" -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
  check "one server backend behind pgbouncer" "1" \
    "$(for _ in 1 2 3; do psql -X -At "$BOUNCER" -c "SELECT pg_backend_pid()"; done | sort -u | wc -l)"
  # client 1 prepares on the (only) server backend and runs it for tenant 4 six times; client 2,
  # another psql, is handed the same backend and runs client 1's statement for tenant 9, then
  # with no tenant
  {
    printf "PREPARE bq AS SELECT count(*) || '|' || count(*) FILTER (WHERE marker::text <> split_part(revos.current_tenant_id(), '-', 5)::bigint::text) FROM rt.notes;\n"
    for _ in 1 2 3 4 5 6; do printf "BEGIN; SELECT revos.set_tenant('%s') \\\\g /dev/null\nEXECUTE bq; COMMIT;\n" "$(tid 4)"; done
  } > "$work/bouncer1.sql"
  printf "BEGIN; SELECT revos.set_tenant('%s') \\\\g /dev/null\nEXECUTE bq; COMMIT;\nBEGIN; EXECUTE bq; COMMIT;\n" "$(tid 9)" > "$work/bouncer2.sql"
  got=$( (psql -X -q -At -v ON_ERROR_STOP=1 -f "$work/bouncer1.sql" "$BOUNCER"; psql -X -q -At -v ON_ERROR_STOP=1 -f "$work/bouncer2.sql" "$BOUNCER") 2>&1 | tr '\n' ' ')
  check "client 1 prepares and runs for tenant 4 (×6); client 2, same backend, for 9, then none" \
    "4|0 4|0 4|0 4|0 4|0 4|0 9|0 0|0 " "$got"
  check "pgbench -M extended through pgbouncer (4 clients on 1 server connection)" "ok" "$(rt_pgbench extended 100 "" "$BOUNCER")"
  bouncer_stop
else
  bad "pgbouncer cells" "pgbouncer installed" "no pgbouncer binary (apt-get install pgbouncer)"
fi

echo "# PostgREST's path: JWT claims by set_config(), then pre_request()"
# rows|rows with another marker|Task Count after PostgREST's set_config() of claims $1 and pre_request(),
# the expected marker being $2
rt_claims() {
  qi "$RT_APP" <<SQL
BEGIN;
SELECT set_config('request.jwt.claims', '$1', true) \g /dev/null
SELECT revos.pre_request() \g /dev/null
SELECT count(*) AS n, count(*) FILTER (WHERE marker <> $2) AS bad FROM rt.notes \gset
SELECT :n || '|' || :bad || '|' || task_count('SELECT 1 FROM rt.notes');
COMMIT;
SQL
}
check "claims + pre_request(): tenant 5's rows, Task Count 1" "5|0|1" "$(rt_claims "{\"role\": \"rt_app\", \"tenant_id\": \"$(tid 5)\"}" 5)"
check "app_metadata claims + pre_request(): tenant 8's rows, Task Count 1" "8|0|1" "$(rt_claims "{\"app_metadata\": {\"tenant_id\": \"$(tid 8)\"}}" 8)"
check "claims alone (no pre_request): not routed, and the workers see no tenant: 0 rows" "0|32" "$(qi "$RT_APP" <<SQL
BEGIN;
SELECT set_config('request.jwt.claims', '{"tenant_id": "$(tid 5)"}', true) \g /dev/null
SELECT count(*) AS n FROM rt.notes \gset
SELECT :n || '|' || task_count('SELECT 1 FROM rt.notes');
COMMIT;
SQL
)"
check "set_config('app.current_tenant_id') without set_tenant(): routed to that shard, where the workers see no tenant: 0 rows" "0|1" \
  "$(qi "$RT_APP" <<SQL
BEGIN; SELECT set_config('app.current_tenant_id', '$(tid 5)', true) \g /dev/null
SELECT count(*) AS n FROM rt.notes \gset
SELECT :n || '|' || task_count('SELECT 1 FROM rt.notes');
COMMIT;
SQL
)"
check "set_tenant(5), then set_config() to 6 in the same transaction: routed to 6, the workers still filter by 5: no row" "0|1" \
  "$(qi "$RT_APP" <<SQL
BEGIN; SELECT revos.set_tenant('$(tid 5)') \g /dev/null
SELECT set_config('app.current_tenant_id', '$(tid 6)', true) \g /dev/null
SELECT count(*) AS n FROM rt.notes \gset
SELECT :n || '|' || task_count('SELECT 1 FROM rt.notes');
COMMIT;
SQL
)"
check "no tenant: 0 rows, not routed (Task Count 32)" "0
32" "$(qdb "$RT_APP" "SELECT count(*) FROM rt.notes; SELECT task_count('SELECT 1 FROM rt.notes')")"
expect_error_db "no tenant: no insert" 22004 "NULL in the partition column" "$RT_APP" "INSERT INTO rt.notes (marker) VALUES (0)"

echo "# superuser, owner, routing off"
check "the superuser bypasses row security (as on one node): every tenant's rows, not routed" "$RT_TOTAL|32" \
  "$(qi "$DSN" <<SQL
BEGIN; SELECT revos.set_tenant('$(tid 3)') \g /dev/null
SELECT count(*) AS n FROM rt.notes \gset
SELECT :n || '|' || task_count('SELECT 1 FROM rt.notes');
COMMIT;
SQL
)"
qdb "$DSN" "ALTER TABLE rt.notes OWNER TO rt_owner" >/dev/null
check "the table's owner (FORCE ROW LEVEL SECURITY): its tenant's rows only, routed" "10|0|1" "$(rt_cell 10 "FROM rt.notes" | qdb "$RT_OWNER" -)"
check "the owner with no tenant: 0 rows" "0" "$(qdb "$RT_OWNER" "SELECT count(*) FROM rt.notes")"
qdb "$DSN" "ALTER TABLE rt.notes OWNER TO postgres" >/dev/null
check "revos.tenant_routing = off: the same rows, every shard (what a session without revos loaded gets)" "12|0|32" \
  "$(rt_cell 12 "FROM rt.notes" | PGOPTIONS="$PGOPTIONS -c revos.tenant_routing=off" qdb "$RT_APP" -)"

echo "# ON DELETE SET NULL on a tenant key: NO ACTION on Citus, and the warning says what that costs"
check "the apply warned: deleting a referenced note fails instead of setting links.note_id to NULL" "1" \
  "$(printf '%s' "$rt_applied" | python3 -c 'import json,sys; w=json.load(sys.stdin)["primary_outputs"]["warnings"]; print(sum(1 for x in w if "ON DELETE SET NULL" in x and "fails" in x and "note_id" in x and "23503" in x))')"
rt_note2=$(qdb "$DSN" "SELECT id FROM rt.notes WHERE marker = 2 ORDER BY id LIMIT 1")
expect_error_db "deleting a note a link still references: foreign_key_violation, nothing deleted" 23503 "links" "$RT_APP" \
  "BEGIN; SELECT revos.set_tenant('$(tid 2)'); INSERT INTO rt.links (note_id) VALUES ('$rt_note2'); DELETE FROM rt.tags; DELETE FROM rt.notes; COMMIT;"
check "setting it to NULL first, as the warning says, lets the delete through" "0" "$(qi "$RT_APP" <<SQL
BEGIN; SELECT revos.set_tenant('$(tid 2)') \g /dev/null
INSERT INTO rt.links (note_id) VALUES ('$rt_note2');
UPDATE rt.links SET note_id = NULL; DELETE FROM rt.tags; DELETE FROM rt.notes;
SELECT count(*) FROM rt.notes;
ROLLBACK;
SQL
)"

# Run last (it restarts the cluster): revos not in shared_preload_libraries.
rt_lazy_load() {
  echo "# revos not preloaded (shared_preload_libraries = 'citus'): set_tenant() loads it, or nothing is routed"
  "$root/scripts/citus-cluster" preload "$BASE" citus
  check "the cluster runs without revos preloaded" "citus" "$(qdb "$DSN" "SHOW shared_preload_libraries")"
  check "a new session that calls set_tenant(): revos.so loaded by it, the next statement routed" "3|0|1" \
    "$(rt_cell 3 "FROM rt.notes" | qdb "$RT_APP" -)"
  # The planner estimates the policy's selectivity by calling revos.current_tenant_id(): that loads
  # revos.so while the first such statement is planned, too late for that statement.
  check "a new session with set_config() only: its first statement is not routed, the next one is; 0 rows either way" "32|1|0" \
    "$(qi "$RT_APP" <<SQL
BEGIN; SELECT set_config('app.current_tenant_id', '$(tid 3)', true) \g /dev/null
SELECT task_count('SELECT 1 FROM rt.notes') AS a \gset
SELECT task_count('SELECT 1 FROM rt.notes') AS b \gset
SELECT count(*) AS n FROM rt.notes \gset
SELECT :a || '|' || :b || '|' || :n;
COMMIT;
SQL
)"
}
