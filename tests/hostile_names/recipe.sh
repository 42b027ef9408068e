# Sourced by tests/hostile_names.sh: superuser recipes, each by a revos_admin member (hn_recipe) in
# its own session, followed by one ordinary apply_schema; each must leave hn_recipe what it was.
#   item 1     issue 17 item 1 as the issue gives it: a look-alike of now() first on the search_path
#   temp type  (not in the issue) no schema on the path at all, the default search_path: a temp domain
#              named text whose CHECK calls the member's function. pg_temp is searched first for type
#              names, and revos's ledger insert (run as the ledger's owner) casts to text.
#   "$user"    (not in the issue) search_path = "$user", pg_catalog: for the member "$user" is nothing;
#              once revos switches to the ledger's owner it is the owner's name, and the member made a
#              schema of that name (CREATE on the database, which apply_schema needs for schemas).
echo "# superuser recipes (issue 17 item 1, and two variants it does not list)"
RC=$(db_dsn $RDB)
qdb "$RC" "CREATE EXTENSION revos; CREATE SCHEMA mal AUTHORIZATION hn_recipe; CREATE SCHEMA mine AUTHORIZATION hn_recipe;
           GRANT CREATE ON DATABASE $RDB TO hn_recipe" >/dev/null || die "recipe setup"
LEDGER_OWNER=$(sq "$RC" "SELECT relowner::regrole::text FROM pg_class WHERE oid = 'revos.schema_migrations'::regclass")
# lift(): what every recipe's look-alike runs: when it runs as a superuser, hn_recipe becomes one
qdb "$RC" - >/dev/null <<'SQL' || die "recipe setup: lift()"
SET SESSION AUTHORIZATION hn_recipe;
CREATE FUNCTION mine.lift() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE hn_recipe SUPERUSER';
    END IF;
    RETURN true;
END $$;
SQL
recipe() { # NAME N SQL (run as hn_recipe before the apply)
  local out su
  out=$(qdb "$RC" - 2>&1 <<SQL
SET SESSION AUTHORIZATION hn_recipe;
$3
SELECT revos.apply_schema('{"schema_version": "recipe-$2", "description": "any", "schema": "recipe$2",
  "tables": [{"name": "t", "columns": [{"name": "n", "type": "int"}]}]}'::pg_catalog.jsonb) OPERATOR(pg_catalog.->) 'result' OPERATOR(pg_catalog.->>) 'status';
SQL
)
  su=$(sq "$RC" "SELECT rolsuper FROM pg_roles WHERE rolname = 'hn_recipe'")
  check "$1: hn_recipe (a revos_admin member) is not a superuser after the apply (ESCALATION if it is; apply: ${out##*$'\n'})" f "$su"
  sq "$RC" "ALTER ROLE hn_recipe NOSUPERUSER" >/dev/null
}
recipe "item 1 (verbatim): mal.now() first on the search_path" 1 "
CREATE FUNCTION mal.now() RETURNS timestamptz LANGUAGE plpgsql AS \$\$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE hn_recipe SUPERUSER';
    END IF;
    RETURN pg_catalog.now();
END \$\$;
SET search_path = mal, pg_catalog;"
recipe "temp type: a temp domain text, default search_path" 2 "
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (mine.lift());"
recipe "\"\$user\": look-alikes in a schema named after the ledger's owner ($LEDGER_OWNER)" 3 "
CREATE SCHEMA \"$LEDGER_OWNER\";
CREATE FUNCTION \"$LEDGER_OWNER\".now() RETURNS timestamptz LANGUAGE sql AS 'SELECT mine.lift(); SELECT pg_catalog.now()';
SET search_path = \"\$user\", pg_catalog;"
