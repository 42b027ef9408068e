#!/usr/bin/env bash
# ALTER EXTENSION revos UPDATE from every released version keeps every row and leaves the same
# objects as a fresh install (contract section 11, issue 10).
#
#   tests/upgrade.sh DSN      DSN: a superuser connection; the installed revos build is used.
#
# Released versions and their install scripts (kept in sql/releases/, built by cargo pgrx from the
# release commit): 0.1.0 (sql/releases/revos--0.1.0.sql, commit 6833f8e), 0.2.0
# (sql/releases/revos--0.2.0.sql, commit 0f51fab). The old install script is
# copied into the server's extension directory (cargo pgrx install copies only the update scripts,
# sql/revos--A--B.sql) and runs against the CURRENT revos.so: every release keeps the C symbols
# older install scripts reference (apply_schema_wrapper, plan_schema_wrapper,
# tenant_table_wrapper). Every later release adds its install script to sql/releases/ and
# FROM_VERSIONS below, and its update script to sql/.
#
# For each old version: install it, apply schemas (one fails), log events on three chains,
# ALTER EXTENSION revos UPDATE, then: every row of both ledgers kept (every column), verify_ledger
# ok, the objects equal a fresh install's (pg_dump --binary-upgrade --schema-only, which lists
# extension members one by one, normalised only for oids, xids and sequence positions), and new
# writes continue the chains. Recreates the databases upgrade_old, upgrade_fresh.
set -uo pipefail
DSN=${1:?usage: tests/upgrade.sh DSN}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/tests/lib.sh"
PG_CONFIG=${PG_CONFIG:-pg_config}
BIN=$("$PG_CONFIG" --bindir)
EXTDIR="$("$PG_CONFIG" --sharedir)/extension"
FROM_VERSIONS="0.1.0 0.2.0"
CURRENT=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
OLD=$(db_dsn upgrade_old)
NEW=$(db_dsn upgrade_fresh)

# (every column of the old rows: the columns 0.3.0 adds to schema_migrations, normalized_schema and
# plan_text, are not part of them)
LEDGERS="SELECT (SELECT md5(string_agg(e::text, E'\n' ORDER BY e.id)) FROM revos.events e) || ' ' ||
                (SELECT md5(string_agg((to_jsonb(m) - 'normalized_schema' - 'plan_text')::text, E'\n' ORDER BY m.id))
                   FROM revos.schema_migrations m) || ' ' ||
                (SELECT count(*) FROM revos.events) || ' ' || (SELECT count(*) FROM revos.schema_migrations) || ' ' ||
                (SELECT string_agg(chain || ':' || last_id, ',' ORDER BY chain) FROM revos.event_chain_heads)"

# The objects of the extension, one statement each; what differs between two equal installs
# (oids, relfrozenxid, the sequence's position, pg_dump's random \restrict key) normalised away, and
# pg_dump's comments (an object whose privileges were granted and revoked again has an ACL section
# with no statement in it; the database's default privileges are not the extension's).
objects() {
  "$BIN/pg_dump" --binary-upgrade --schema-only --exclude-schema=public "$1" 2>&1 |
    grep -v 'binary_upgrade_set_next_\|^\\restrict\|^\\unrestrict\|^SELECT pg_catalog.setval(\|^ALTER DEFAULT PRIVILEGES\|binary_upgrade_set_record_init_privs\|^--\|^$' |
    sed -E "s/'[0-9]+'::pg_catalog\.oid/OID/g; s/'\{[0-9,]+\}'/'{OIDS}'/g;
            s/relfrozenxid = '[0-9]+', relminmxid = '[0-9]+'/relfrozenxid = X/; s/WHERE oid = '[0-9]+'/WHERE oid = OID/"
}

fresh_db upgrade_fresh
qdb "$NEW" "CREATE EXTENSION revos" >/dev/null || die "CREATE EXTENSION revos (fresh $CURRENT) failed"
objects "$NEW" >"$TMP/fresh.sql"

for v in $FROM_VERSIONS; do
  echo "# $v -> $CURRENT"
  cmp -s "$ROOT/sql/releases/revos--$v.sql" "$EXTDIR/revos--$v.sql" || cp "$ROOT/sql/releases/revos--$v.sql" "$EXTDIR/" ||
    die "cannot copy sql/releases/revos--$v.sql into $EXTDIR"
  fresh_db upgrade_old
  out=$(qdb "$OLD" - <<SQL
CREATE EXTENSION revos VERSION '$v';
SELECT extversion FROM pg_extension WHERE extname = 'revos';
SELECT revos.apply_schema('{"schema_version": "u-001", "description": "patients",
  "tables": [{"name": "patients", "columns": [{"name": "name", "type": "text"}]}]}') -> 'result' ->> 'status';
SELECT revos.apply_schema('{"meta": {"tenant_id": "acme"}, "payload": {"schema_version": "u-002", "description": "notes",
  "tables": [{"name": "notes", "columns": [{"name": "body", "type": "text"}]}]}}') -> 'result' ->> 'status';
CREATE TABLE public.full_table (tenant_id text NOT NULL, x int);
INSERT INTO public.full_table VALUES ('t', 1);
SELECT revos.apply_schema('{"schema_version": "u-003", "description": "fails", "options": {"tenant_type": "text"},
  "tables": [{"name": "full_table", "columns": [{"name": "x", "type": "int"},
    {"name": "y", "type": "int", "not_null": true, "default": "1/0"}]}]}') -> 'result' ->> 'status';
SELECT count(*) FROM (SELECT revos.log_event(jsonb_build_object('event_type', 'order.created', 'tenant_id', t,
    'payload', jsonb_build_object('n', i), 'idempotency_key', t || i))
  FROM generate_series(1, 10) i, unnest(ARRAY['acme', 'globex']) t) s;
SELECT revos.log_event('{"event_type": "system.note"}') ->> 'status';
SELECT revos.verify_ledger() ->> 'ok';
SQL
)
  check "$v installed, schemas applied (one failed), events logged" "$v
applied
applied
failed
20
recorded
true" "$out"
  # this build's library under the old version's SQL (between installing a build and ALTER EXTENSION
  # revos UPDATE): concurrent commands still run, on any table (the review of 4998950, F3: "revos.
  # drift_begun_run(text, oid) is missing" failed every CREATE INDEX CONCURRENTLY until the update)
  out=$(psql -X -q -At -d "$OLD" -c "CREATE INDEX CONCURRENTLY up_plain_x ON public.full_table (x)" \
          -c "CREATE INDEX CONCURRENTLY up_patients_x ON public.patients (name)" \
          -c "SELECT count(*) FROM pg_index WHERE indexrelid IN (to_regclass('public.up_plain_x'), to_regclass('public.up_patients_x')) AND indisvalid" 2>&1)
  check "$v: CREATE INDEX CONCURRENTLY before the update, on a plain and on a managed table: both built" 2 "$out"
  qdb "$OLD" "DROP INDEX public.up_plain_x; DROP INDEX public.up_patients_x" >/dev/null
  # thirty more chains, whose heads the old version put on one page (each in its own transaction)
  qdb "$OLD" "DO \$\$ BEGIN FOR i IN 1..30 LOOP
     PERFORM revos.log_event(jsonb_build_object('event_type', 'spread.tick', 'tenant_id', 'up-' || i));
     COMMIT;
   END LOOP; END \$\$" >/dev/null
  # and two heads the rewrite must keep as they are: one whose last event is not there, one without one
  qdb "$OLD" "INSERT INTO revos.event_chain_heads (chain, last_id, prev_id) VALUES ('tenant:ghost', 999999999, 7), ('tenant:empty', NULL, NULL)" >/dev/null
  # a trigger on a table the update writes, that revos did not create, would run with the update's
  # privileges; a foreign key to one would stop it halfway: the update stops first and names it
  # (each case alone: revos's trigger names on another table, or with another function, count as
  # not revos's; the last made by a plain role given TRIGGER on the table, not a superuser)
  qdb "$OLD" "CREATE FUNCTION public.spy() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN RETURN NEW; END \$f\$" >/dev/null
  for c in "trigger heads_spy on revos.event_chain_heads|CREATE TRIGGER heads_spy BEFORE INSERT ON revos.event_chain_heads FOR EACH ROW EXECUTE FUNCTION public.spy()|DROP TRIGGER heads_spy ON revos.event_chain_heads" \
           "trigger memo_spy on revos.payload_memo|CREATE TRIGGER memo_spy BEFORE TRUNCATE ON revos.payload_memo EXECUTE FUNCTION public.spy()|DROP TRIGGER memo_spy ON revos.payload_memo" \
           "foreign key heads_ref_chain_fkey on public.heads_ref|CREATE TABLE public.heads_ref (chain text REFERENCES revos.event_chain_heads)|DROP TABLE public.heads_ref" \
           "trigger ev_spy on revos.events|CREATE TRIGGER ev_spy AFTER INSERT ON revos.events FOR EACH ROW EXECUTE FUNCTION public.spy()|DROP TRIGGER ev_spy ON revos.events" \
           "trigger sm_spy on revos.schema_migrations|CREATE TRIGGER sm_spy BEFORE UPDATE ON revos.schema_migrations FOR EACH ROW EXECUTE FUNCTION public.spy()|DROP TRIGGER sm_spy ON revos.schema_migrations" \
           "trigger events_append_only on revos.schema_migrations|CREATE TRIGGER events_append_only BEFORE UPDATE ON revos.schema_migrations FOR EACH ROW EXECUTE FUNCTION revos.events_append_only()|DROP TRIGGER events_append_only ON revos.schema_migrations" \
           "trigger schema_migrations_event on revos.schema_migrations|DROP TRIGGER schema_migrations_event ON revos.schema_migrations; CREATE TRIGGER schema_migrations_event AFTER INSERT ON revos.schema_migrations FOR EACH ROW EXECUTE FUNCTION public.spy()|DROP TRIGGER schema_migrations_event ON revos.schema_migrations; CREATE TRIGGER schema_migrations_event AFTER INSERT ON revos.schema_migrations FOR EACH ROW EXECUTE FUNCTION revos.schema_migration_event()" \
           "foreign key ev_ref_event_id_fkey on public.ev_ref|CREATE TABLE public.ev_ref (event_id bigint REFERENCES revos.events)|DROP TABLE public.ev_ref" \
           "foreign key sm_ref_migration_fkey on public.sm_ref|CREATE TABLE public.sm_ref (migration uuid REFERENCES revos.schema_migrations)|DROP TABLE public.sm_ref" \
           "trigger grantee_spy on revos.events|DROP ROLE IF EXISTS upgrade_grantee; CREATE ROLE upgrade_grantee; GRANT USAGE ON SCHEMA revos TO upgrade_grantee; GRANT TRIGGER ON revos.events TO upgrade_grantee; GRANT CREATE ON SCHEMA public TO upgrade_grantee; SET ROLE upgrade_grantee; CREATE FUNCTION public.gspy() RETURNS trigger LANGUAGE plpgsql AS \$f\$ BEGIN RETURN NEW; END \$f\$; CREATE TRIGGER grantee_spy AFTER INSERT ON revos.events FOR EACH ROW EXECUTE FUNCTION public.gspy()|DROP TRIGGER grantee_spy ON revos.events; DROP FUNCTION public.gspy(); REVOKE ALL ON revos.events FROM upgrade_grantee; REVOKE ALL ON SCHEMA revos FROM upgrade_grantee; REVOKE ALL ON SCHEMA public FROM upgrade_grantee; DROP ROLE upgrade_grantee"; do
    IFS='|' read -r what make undo <<<"$c"
    if ! qdb "$OLD" "$make" >"$TMP/make.out" 2>&1; then
      # only what $v does not have may be missing (its table, revos's trigger); anything else fails
      if grep -q "does not exist" "$TMP/make.out"; then
        echo "#     not run from $v: $what cannot be made there ($(grep -o 'ERROR: .*does not exist' "$TMP/make.out" | head -1))"
      else
        bad "$what made on $v" "made" "$(cat "$TMP/make.out")"
      fi
      continue
    fi
    expect_error_db "$what, not revos's, stops the update (55000) and is named" 55000 \
      "revos's tables have triggers or foreign keys revos did not create: $what" "$OLD" "ALTER EXTENSION revos UPDATE"
    qdb "$OLD" "$undo" >/dev/null
  done
  # ... and one added while the update runs: a session holding the heads table adds its trigger
  # once the update waits (the update locks the tables before it checks, so it sees it)
  PGAPPNAME=late_spy psql -X -q -d "$OLD" -c "BEGIN" -c "LOCK TABLE revos.event_chain_heads IN SHARE ROW EXCLUSIVE MODE" \
    -c "SELECT pg_sleep(1.5)" \
    -c "CREATE TRIGGER late_spy BEFORE INSERT ON revos.event_chain_heads FOR EACH ROW EXECUTE FUNCTION public.spy()" \
    -c "COMMIT" >/dev/null 2>&1 &
  spy=$!
  sleeping "$OLD" late_spy || bad "the session that adds a trigger during the update (late_spy) seen" 1 0
  expect_error_db "a trigger added while the update waits for the table, not revos's, stops the update (55000)" 55000 \
    "revos's tables have triggers or foreign keys revos did not create: trigger late_spy on revos.event_chain_heads" \
    "$OLD" "ALTER EXTENSION revos UPDATE"
  wait $spy
  qdb "$OLD" "DROP TRIGGER IF EXISTS late_spy ON revos.event_chain_heads; DROP FUNCTION public.spy()" >/dev/null
  # (after the trigger's drift events)
  before=$(qdb "$OLD" "$LEDGERS")
  # the update runs under default privileges granting everything to revos's roles (a common DBA
  # setup; the twelfth adversarial review's F): what it creates must still end with exactly a fresh
  # install's privileges (the comparison of the objects below includes every GRANT)
  qdb "$OLD" "ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO revos_admin, revos_app;
              ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO revos_admin, revos_app;
              ALTER DEFAULT PRIVILEGES GRANT ALL ON SEQUENCES TO revos_admin, revos_app;
              ALTER DEFAULT PRIVILEGES GRANT ALL ON SCHEMAS TO revos_admin, revos_app" >/dev/null
  check "ALTER EXTENSION revos UPDATE" "$CURRENT" \
    "$(qdb "$OLD" "ALTER EXTENSION revos UPDATE; SELECT extversion FROM pg_extension WHERE extname = 'revos'")"
  check "every row of both ledgers kept (every column), same chain heads" "$before" "$(qdb "$OLD" "$LEDGERS")"
  check "the chain heads written again: at most 6 a page, each with its last event's hash (none where there is no such event)" "t|0|ghost:999999999:7:,empty:" \
    "$(qdb "$OLD" "SELECT (SELECT max(n) <= 6 FROM (SELECT (ctid::text::point)[0], count(*) AS n
                                                     FROM revos.event_chain_heads GROUP BY 1) p),
                          (SELECT count(*) FROM revos.event_chain_heads h LEFT JOIN revos.events e ON e.id = h.last_id
                            WHERE h.last_hash IS DISTINCT FROM h.last_id || ':' || e.hash),
                          (SELECT string_agg(concat_ws(':', split_part(chain, ':', 2), last_id::text, prev_id::text, coalesce(last_hash, '')), ',' ORDER BY chain DESC)
                             FROM revos.event_chain_heads WHERE chain IN ('tenant:ghost', 'tenant:empty'))")"
  qdb "$OLD" "DELETE FROM revos.event_chain_heads WHERE chain IN ('tenant:ghost', 'tenant:empty')" >/dev/null
  check "verify_ledger() ok" true "$(qdb "$OLD" "SELECT revos.verify_ledger() ->> 'ok'")"
  objects "$OLD" >"$TMP/upgraded.sql"
  if diff -u "$TMP/fresh.sql" "$TMP/upgraded.sql" >"$TMP/objects.diff"; then
    ok "the objects equal a fresh $CURRENT install ($(grep -c '^CREATE\|^ALTER\|^GRANT\|^REVOKE\|^COMMENT' "$TMP/fresh.sql") statements compared)"
  else
    bad "the objects equal a fresh $CURRENT install" "no difference" "$(head -40 "$TMP/objects.diff")"
  fi
  out=$(qdb "$OLD" - <<'SQL'
SELECT revos.apply_schema('{"schema_version": "u-001", "description": "patients",
  "tables": [{"name": "patients", "columns": [{"name": "name", "type": "text"}]}]}') -> 'result' ->> 'status';
SELECT revos.apply_schema('{"schema_version": "u-004", "description": "after the update",
  "tables": [{"name": "later", "columns": [{"name": "n", "type": "int"}]}]}') -> 'result' ->> 'status';
SELECT revos.log_event('{"event_type": "after.update", "tenant_id": "acme"}') ->> 'status';
SELECT revos.verify_ledger() ->> 'ok';
SELECT has_table_privilege('revos_admin', 'revos.schema_migrations', 'INSERT');
SQL
)
  check "after the update: re-apply noop, new apply and event continue the chains, verify ok, no INSERT for revos_admin" \
    "noop
applied
recorded
true
f" "$out"
done

finish
