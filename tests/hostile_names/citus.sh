# Sourced by tests/hostile_names.sh DSN --citus: the look-alikes and temp shadows on a Citus
# coordinator (tests/citus/run.sh calls it with its coordinator's DSN, after its own checks). The
# paths Citus adds: citus_state() (what apply reads of pg_dist_*), the distribution steps, the
# worker test of the drift capture (issue 17 item 5: `groupid <> 0` under the caller's path) and
# revos.verify_shards(). Variants: the look-alikes only (mp) and everything (tm). Checks: the same
# ESCALATION / INSIDE / DEPENDS / DRIFT lines as the main run; each apply is `applied`; the
# application role's rows; verify_shards() answers as it does without look-alikes. (No second
# database here: a Citus database needs its workers registered, which the Citus suite does once.)
citus_run() {
  local v s out
  HDB=$(psql -X -q -At -d "$DSN" -c "SELECT current_database()") || die "cannot reach $DSN"
  [ "$(sq "$DSN" "SELECT count(*) FROM pg_extension WHERE extname IN ('citus', 'revos')")" = 2 ] \
    || die "$HDB needs the citus and revos extensions"
  echo "# hostile names on the Citus coordinator ($HDB; work files: $W)"
  out=$(qdb "$DSN" - 2>&1 <<'SQL'
DROP ROLE IF EXISTS hn_admin; DROP ROLE IF EXISTS hn_app;
CREATE ROLE hn_admin LOGIN; CREATE ROLE hn_app LOGIN;
GRANT revos_admin TO hn_admin;
GRANT revos_app TO hn_app;
SQL
) || die "cannot create the roles: $out"
  qdb "$DSN" - <"$HN/setup.sql" >/dev/null || die "setup.sql: $(qdb "$DSN" - <"$HN/setup.sql")"
  python3 "$HN/extract.py" "$root" | sed 's/ /\t/' >"$W/candidates.tsv" || die "extract.py failed"
  qdb "$DSN" "\\copy hlog.candidates FROM '$W/candidates.tsv'" >/dev/null || die "loading the candidates"
  arm "$HDB"
  # verify_shards() reads every revos-managed Citus table: let the attacker see their schemas
  echo "SELECT format('GRANT USAGE ON SCHEMA %I TO hn_admin', nspname) FROM pg_namespace
        WHERE nspname !~ '^(pg_|information_schema$|citus|columnar)' \\gexec" | qdb "$DSN" - >/dev/null \
    || die "grants to hn_admin"
  LOG=$W/citus.log
  : >"$LOG"
  for v in mp tm; do
    s=hc_$v
    mkdir -p "$W/$v"
    printf '{"schema_version": "hc-%s-1", "description": "hostile names on Citus", "schema": "%s",
      "tables": [{"name": "items", "columns": [
        {"name": "title", "type": "text", "check": "length(title) > 0"},
        {"name": "qty", "type": "integer", "default": "1", "check": "qty >= 0"},
        {"name": "seen_at", "type": "timestamptz", "default": "now()"}]}]}' "$v" "$s" >"$W/$v/citus.json"
    call "$HDB" hn_admin "citus-apply-$v" "$v" "revos.apply_schema(:'p'::pg_catalog.jsonb)" -v p="$(json "$v" citus)"
    check "Citus, $v: the apply is applied" applied \
      "$(sed -n "s/^RESULT|citus-apply-$v|//p" "$LOG" | python3 -c 'import json,sys; print(json.load(sys.stdin)["result"]["status"])' 2>&1)"
    qdb "$DSN" "SET ROLE hn_admin; GRANT USAGE ON SCHEMA $s TO hn_app; GRANT ALL ON ALL TABLES IN SCHEMA $s TO hn_app" >/dev/null
    app_rw "$HDB" "citus-app-$v" hn_admin "INSERT INTO $s.items (title, qty) VALUES ('a', 2), ('b', 3);
SELECT string_agg(concat_ws(',', title, qty, seen_at IS NOT NULL, tenant_id), ';' ORDER BY title) AS r FROM $s.items \\gset"
    check "Citus, $v: the application role's rows, under its tenant" "a,2,t,$TENANT;b,3,t,$TENANT|last error: " \
      "$(sed -n "s/^RESULT|citus-app-$v|//p" "$LOG")"
    call "$HDB" hn_admin "citus-verify-shards-$v" "$v" "revos.verify_shards()"
    check "Citus, $v: verify_shards() answers as it does without look-alikes (hn_admin, default search_path)" \
      "$(qdb "$DSN" "SET ROLE hn_admin; SELECT revos.verify_shards()::text")" \
      "$(sed -n "s/^RESULT|citus-verify-shards-$v|//p" "$LOG")"
    # hn_admin's own managed (distributed) table, applied without any attack: its own DDL on it
    printf '{"schema_version": "hcd-%s-1", "description": "drift target on Citus", "schema": "hcd_%s",
      "tables": [{"name": "drifted", "columns": [{"name": "n", "type": "int"}]}]}' "$v" "$v" >"$W/$v/drifted.json"
    check "Citus, $v: hn_admin applies its drift target without look-alikes" applied "$(printf '%s\n' "SET ROLE hn_admin;" \
      "SELECT revos.apply_schema(:'p'::jsonb) -> 'result' ->> 'status';" \
      | psql -X -q -At -d "$DSN" -v p="$(json "$v" drifted)" -c "SET client_min_messages = warning" -f - 2>&1)"
    drift_cases "$HDB" hn_admin citus- "$v" "hcd_$v" drifted
  done
  echo "# per call: escalation, look-alikes inside revos, dependencies, drift"
  python3 "$HN/analyze.py" - "$LOG" >"$W/analysis.txt"
  cat "$W/analysis.txt"
  pass=$((pass + $(grep -c '^ok ' "$W/analysis.txt")))
  fail=$((fail + $(grep -c '^FAILED ' "$W/analysis.txt")))
  check "Citus: verify_ledger() is ok" true "$(sq "$DSN" "SELECT revos.verify_ledger() ->> 'ok'")"
  echo
  echo "summary (Citus): $pass passed, $fail failed (work files: $W)"
  [ "$fail" -eq 0 ]
}
