# Sourced by tests/hostile_names.sh (both modes): the helpers, the attacker's arming, one session,
# one call, the drift and tenant cases. Globals: W (work directory), LOG (the run's log), HDB (the
# database under attack), SPATH / SHADOWS (the variants), TENANT, HN (this directory), pass / fail.

failed() { fail=$((fail + 1)); echo "FAILED $1"; shift; [ $# -eq 0 ] || printf '%s\n' "$@" | sed 's/^/         /'; }
# lib.sh's check() reports through these: the same "ok" / "FAILED" lines as the rest of the suite
ok() { pass=$((pass + 1)); echo "ok     $1"; }
bad() { failed "$1" "expected: $2" "got:      $3"; }
# sq DB SQL: a clean superuser query (search_path pg_catalog), unaligned
sq() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "SET search_path = pg_catalog" -c "$2" 2>&1; }

# arm DB: the look-alikes in schema mal (as hn_admin) and the temp shadows' files, from the
# candidates already loaded into hlog.candidates; then the generator's report and its checks.
arm() {
  local d out; d=$(db_dsn "$1")
  out=$(psql -X -q -At -d "$d" -v target=mal -c "SET SESSION AUTHORIZATION hn_admin" -f "$HN/lookalikes.sql" 2>&1) \
    || die "lookalikes.sql: $out"
  echo "$out" >"$W/generated.txt"
  out=$(psql -X -q -At -d "$d" -v target="$(ledger_owner "$1")" -c "SET SESSION AUTHORIZATION hn_admin" \
    -f "$HN/lookalikes.sql" 2>&1) || die "lookalikes.sql (the ledger owner's name): $out"
  psql -X -q -At -d "$d" -v core_types="$CORE_TYPES" -v core_relations="$CORE_RELATIONS" \
    -f "$HN/shadows.sql" >"$W/shadows.txt" 2>&1 || die "shadows.sql: $(cat "$W/shadows.txt")"
  sed -n 's/^1|//p' "$W/shadows.txt" >"$W/shadow-domains.sql"
  sed -n 's/^2|//p' "$W/shadows.txt" >"$W/shadow-views.sql"
  report_generated "$1"
}
gen() { sed -n "s/^$1|//p" "$W/generated.txt"; }
# the role that owns revos's ledger (the one apply switches to): its name, unquoted
ledger_owner() { sq "$(db_dsn "$1")" "SELECT rolname FROM pg_roles r JOIN pg_class c ON c.relowner = r.oid
                                      WHERE c.oid = 'revos.schema_migrations'::regclass"; }
report_generated() { # DB
  local NF NO must
  NF=$(gen functions) NO=$(gen operators)
  echo "# generated in schema mal: $NF function and $NO operator look-alikes (skipped: $(gen skipped_aggregates)" \
    "aggregates, $(gen skipped_window) window functions, $(gen skipped_procedures) procedures, $(gen skipped_polymorphic_functions)" \
    "polymorphic/pseudo-typed functions, $(gen skipped_polymorphic_operators) polymorphic operators," \
    "$(gen skipped_unusable_types) with a type the attacker may not use; $(gen failed) failed)"
  echo "# temp shadows per attacking session: $(grep -c 'CREATE DOMAIN' "$W/shadow-domains.sql") domains," \
    "$(grep -c 'CREATE TEMP VIEW' "$W/shadow-views.sql") views"
  if [ "${NF:-0}" -ge 40 ] && [ "${NO:-0}" -ge 200 ] && [ "$(gen failed)" = 0 ]; then
    ok "the generator made a plausible set of look-alikes (>= 40 functions, >= 200 operators, none failed)"
  else
    failed "the generator made a plausible set of look-alikes" "functions=$NF operators=$NO failed=$(gen failed): the generator broke"
  fi
  for must in "function now()" "function gen_random_uuid()" "operator =(text, text)" "operator =(uuid, uuid)" \
    "function set_config(text, text, boolean)" "function quote_ident(text)" "operator ||(text, text)" "operator ->>(jsonb, text)" \
    "operator <>(integer, integer)" "operator ~~(text, text)"; do
    [ "$(sq "$(db_dsn "$1")" "SELECT count(*) FROM hlog.lookalikes WHERE schema_name = 'mal' AND label = '$must'")" = 1 ] \
      || failed "the generated look-alikes include $must" "missing: extract.py or lookalikes.sql broke"
  done
}

# ---- one session ---------------------------------------------------------------------------------
# sess DB ROLE KIND CASE ATTACKER VARIANT BODY [psql args]: runs BODY as ROLE (SET SESSION
# AUTHORIZATION: session_user and current_user are ROLE). In the hostile database the session first
# creates its temp shadows, sets the variant's search_path right before BODY, and afterwards prints
# DEPS lines (deps.sql) while its temp objects still exist. hostile.phase = KIND:CASE:ATTACKER
# while BODY runs (KIND: call = a revos entry point or the caller's DDL; after = another role
# using what revos created). Output (RESULT lines, NOTICEs, errors) goes to $LOG.
sess() {
  local db=$1 role=$2 kind=$3 case=$4 attacker=$5 v=$6 body=$7; shift 7
  local f=$W/session.sql attack=0 shadows=none
  [ "$db" = $HDB ] && [ "$kind" = call ] && attack=1
  ((attack)) && [ -n "$v" ] && shadows=${SHADOWS[$v]}
  {
    echo "SET SESSION AUTHORIZATION $role;"
    echo "SET client_min_messages = notice;"
    if [ "$shadows" != none ]; then
      echo "SET hostile.phase = 'ddl:$case(shadows):$attacker';"
      echo "\\i $W/shadow-views.sql"
      [ "$shadows" = all ] && echo "\\i $W/shadow-domains.sql"
    fi
    [ -n "$v" ] && echo "SET search_path = ${SPATH[$v]};"
    echo "SET hostile.phase = '$kind:$case:$attacker';"
    echo "$body"
    echo "SET hostile.phase = '';"
    echo "SET search_path = pg_catalog, pg_temp;"
    ((attack)) && echo "\\i $HN/deps.sql"
  } >"$f"
  echo "### $db $role $kind $case $v" >>"$LOG"
  psql -X -q -At -v ON_ERROR_STOP=0 -v case="$case" -v t="$TENANT" "$@" -d "$(db_dsn "$db")" -f "$f" >>"$LOG" 2>&1
}
# result CASE EXPR: psql lines that print "RESULT|CASE|<EXPR as text>" or "RESULT|CASE|ERROR|..."
# (no operator or unqualified type in the suite's own SQL: only revos's may resolve names)
result() {
  printf '%s\n' "\\unset r" "SELECT coalesce(($2)::pg_catalog.text, 'NULL') AS r \\gset" \
    "\\if :ERROR" "\\echo RESULT|$1|ERROR|:LAST_ERROR_SQLSTATE|:LAST_ERROR_MESSAGE" \
    "\\else" "\\echo RESULT|$1|:r" "\\endif"
}
json() { cat "$W/$1/$2.json"; }

# ---- the scenario (run in both databases) ------------------------------------------------------
drift_count() { # DB SCHEMA TABLE TAG
  sq "$(db_dsn "$1")" "SELECT count(*) FROM revos.events WHERE event_type = 'schema_drift_detected'
    AND payload ->> 'schema' = '$2' AND payload ->> 'table' = '$3' AND payload ->> 'command_tag' = '$4'"
}
drift_case() { # DB ROLE CASE VARIANT SCHEMA TABLE TAG DDL
  local db=$1 role=$2 case=$3 v=$4 s=$5 t=$6 tag=$7 ddl=$8 before
  # the case tests something only when the table is managed here (an earlier failed apply can
  # leave it missing): otherwise it is reported as failed, not passed
  [ "$(sq "$(db_dsn "$db")" "SELECT count(*) FROM pg_policy WHERE polname = 'revos_tenant_isolation'
        AND polrelid = to_regclass('$s.$t')")" = 1 ] || echo "PRECONDITION|$case|$s.$t is not a managed table" >>"$LOG"
  before=$(drift_count "$db" "$s" "$t" "$tag")
  sess "$db" "$role" call "$case" "$role" "$v" "$ddl
\\if :ERROR
\\echo RESULT|$case|REFUSED|:LAST_ERROR_SQLSTATE
\\else
\\echo RESULT|$case|DONE
\\endif"
  echo "DRIFT|$case|$before|$(drift_count "$db" "$s" "$t" "$tag")" >>"$LOG"
}
app_rw() { # DB CASE ATTACKER SQL-producing-r: as hn_app, default search_path, tenant set
  sess "$1" hn_app after "$2" "$3" "" "BEGIN;
SELECT revos.set_tenant(:'t') \\g /dev/null
$4
COMMIT;
\\echo RESULT|$2|:r|last error: :LAST_ERROR_MESSAGE"
}

# call DB ROLE CASE VARIANT EXPR [psql args]: one entry point, ROLE attacking
call() { sess "$1" "$2" call "$3" "$2" "$4" "$(result "$3" "$5")" "${@:6}"; }
# drift_cases DB ROLE PREFIX VARIANT SCHEMA TABLE: the owner's own DDL on its managed table
drift_cases() {
  local db=$1 role=$2 p=$3 v=$4 t="$5.$6"
  drift_case "$db" "$role" "${p}drift-alter-policy-$v" "$v" "$5" "$6" "ALTER POLICY" \
    "ALTER POLICY revos_tenant_isolation ON $t USING (true);"
  drift_case "$db" "$role" "${p}drift-create-policy-$v" "$v" "$5" "$6" "CREATE POLICY" \
    "CREATE POLICY leak ON $t FOR SELECT USING (true);"
  drift_case "$db" "$role" "${p}drift-no-force-rls-$v" "$v" "$5" "$6" "ALTER TABLE" \
    "ALTER TABLE $t NO FORCE ROW LEVEL SECURITY;"
}

# a revos_admin member (hn_admin): apply (create, then alter), plan, tenant_table (new and existing)
tenant_cases() { # DB ROLE VARIANT: set_tenant, and pre_request with PostgREST's claims
  local db=$1 role=$2 v=$3 p=${2#hn_}
  sess "$db" "$role" call "$p-set-tenant-$v" "$role" "$v" "BEGIN;
$(result "$p-set-tenant-$v" "revos.set_tenant(:'t'::pg_catalog.text)")
$(result "$p-set-tenant-current-$v" "revos.current_tenant_id()")
COMMIT;"
  sess "$db" "$role" call "$p-pre-request-$v" "$role" "$v" "SET request.jwt.claims = '{\"app_metadata\": {\"tenant_id\": \"$TENANT\"}}';
BEGIN;
SELECT revos.pre_request() \\g /dev/null
\\if :ERROR
\\echo RESULT|$p-pre-request-$v|ERROR|:LAST_ERROR_MESSAGE
\\endif
$(result "$p-pre-request-current-$v" "revos.current_tenant_id()")
COMMIT;"
}
