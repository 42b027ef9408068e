# Sourced by tests/hostile_names.sh (issue 17 item 3): DDL run by a function in the caller's own
# expression, during an apply. hn_admin owns hn_fns.sneaky_check(int) and hn_fns.sneaky_default(),
# called schema-qualified from a check and from a new column's default; each changes the tenant
# policy of ANOTHER managed table (hn_i3v.victim, hn_i3v.victim2: applied by an earlier version,
# not part of the payload, so revos's own verification does not look at them). ADD CONSTRAINT ...
# CHECK validates the table's row and ADD COLUMN with a volatile default rewrites it: both run the
# function inside revos's apply. That DDL must be recorded as drift, or the apply must fail and
# leave the policy as it was — never silent.
echo "# issue 17 item 3: DDL hidden in a caller's check or default during an apply"
I3=$(db_dsn $HDB)
qdb "$I3" - >/dev/null <<'SQL' || die "item 3 setup"
SET ROLE hn_admin;
CREATE FUNCTION hn_fns.sneaky_check(n int) RETURNS boolean LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    EXECUTE 'ALTER POLICY revos_tenant_isolation ON hn_i3v.victim USING (true)';
    RETURN true;
END $$;
CREATE FUNCTION hn_fns.sneaky_default() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policy WHERE polname = 'leak'
                     AND polrelid = 'hn_i3v.victim2'::pg_catalog.regclass) THEN
        EXECUTE 'CREATE POLICY leak ON hn_i3v.victim2 FOR SELECT USING (true)';
    END IF;
    RETURN 1;
END $$;
SQL
i3_payload() { # VERSION SCHEMA TABLES-JSON
  printf '{"schema_version": "%s", "description": "issue 17 item 3", "schema": "%s", "tables": %s}' "$1" "$2" "$3"
}
i3_apply() { # PAYLOAD: the status (and error message), as hn_admin
  printf '%s\n' "SET ROLE hn_admin;" \
    "SELECT concat_ws(' ', r -> 'result' ->> 'status', r -> 'result' -> 'error' ->> 'message') FROM revos.apply_schema(:'p'::jsonb) r;" \
    | psql -X -q -At -d "$I3" -v p="$1" -c "SET client_min_messages = warning" -f - 2>&1
}
target='{"name": "target", "columns": [{"name": "n", "type": "int"}]'
check "item 3: the victims apply (hn_i3v.victim, hn_i3v.victim2)" applied "$(i3_apply "$(i3_payload i3v-1 hn_i3v \
  '[{"name": "victim", "columns": [{"name": "n", "type": "int"}]}, {"name": "victim2", "columns": [{"name": "n", "type": "int"}]}]')")"
for s in hn_i3a hn_i3b; do
  check "item 3: $s.target applies" applied "$(i3_apply "$(i3_payload "$s-1" $s "[$target}]")")"
  check "item 3: the application role writes one row into $s.target" 1 "$(qdb "$I3" "SET ROLE hn_admin;
    GRANT USAGE ON SCHEMA $s TO hn_app; GRANT ALL ON ALL TABLES IN SCHEMA $s TO hn_app; SET ROLE hn_app;
    BEGIN; SET LOCAL app.current_tenant_id = '$TENANT'; INSERT INTO $s.target (n) VALUES (1);
    SELECT count(*) FROM $s.target; COMMIT")"
done
policies() { sq "$I3" "SELECT string_agg(polname || ':' || coalesce(pg_get_expr(polqual, polrelid), '-'), ',' ORDER BY polname)
                       FROM pg_policy WHERE polrelid = 'hn_i3v.$1'::regclass"; }
# i3_case NAME PAYLOAD VICTIM TAG: the apply, then the victim's policies and drift events
i3_case() {
  local name=$1 victim=$3 tag=$4 pol_before drift_before st pol_after drift_after
  pol_before=$(policies "$victim")
  drift_before=$(drift_count $HDB hn_i3v "$victim" "$tag")
  st=$(i3_apply "$2")
  pol_after=$(policies "$victim")
  drift_after=$(drift_count $HDB hn_i3v "$victim" "$tag")
  if [ "$pol_before" = "$pol_after" ] && [ "${st%% *}" != applied ]; then
    ok "item 3: $name: the apply failed and hn_i3v.$victim's policies are unchanged (${st:0:160})"
  elif [ "$drift_after" -gt "$drift_before" ]; then
    ok "item 3: $name: the $tag on hn_i3v.$victim is recorded as drift (apply: ${st%% *})"
  else
    failed "item 3: $name: DDL on another managed table during the apply is recorded as drift, or the apply fails" \
      "apply: ${st:0:200}" "hn_i3v.$victim's policies: $pol_before -> $pol_after" \
      "schema_drift_detected events for $tag on hn_i3v.$victim: $drift_before -> $drift_after (silent)"
  fi
}
i3_case "a check calls a function that runs ALTER POLICY ... USING (true)" \
  "$(i3_payload hn_i3a-2 hn_i3a "[$target, \"checks\": [{\"name\": \"ck_sneaky\", \"expression\": \"hn_fns.sneaky_check(n)\"}]}]")" \
  victim "ALTER POLICY"
i3_case "a new column's default calls a function that runs CREATE POLICY leak" \
  "$(i3_payload hn_i3b-2 hn_i3b "[{\"name\": \"target\", \"columns\": [{\"name\": \"n\", \"type\": \"int\"},
     {\"name\": \"m\", \"type\": \"int\", \"default\": \"hn_fns.sneaky_default()\"}]}]")" \
  victim2 "CREATE POLICY"
check "item 3: verify_ledger() is ok afterwards" true "$(sq "$I3" "SELECT revos.verify_ledger() ->> 'ok'")"
