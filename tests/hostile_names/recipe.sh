# Sourced by tests/hostile_names.sh: issue 17 item 1, the superuser escalation recipe as the issue
# gives it. A revos_admin member (hn_recipe) puts a look-alike of now() first on its search_path;
# when it runs as a superuser it makes hn_recipe one. Then any apply_schema.
echo "# issue 17 item 1: the superuser recipe, verbatim"
RC=$(db_dsn $RDB)
qdb "$RC" "CREATE EXTENSION revos; CREATE SCHEMA mal AUTHORIZATION hn_recipe;
           GRANT CREATE ON DATABASE $RDB TO hn_recipe" >/dev/null || die "recipe setup"
out=$(qdb "$RC" - <<'SQL'
SET SESSION AUTHORIZATION hn_recipe;
CREATE FUNCTION mal.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE hn_recipe SUPERUSER';
    END IF;
    RETURN pg_catalog.now();
END $$;
SET search_path = mal, pg_catalog;
SELECT revos.apply_schema('{"schema_version": "recipe-1", "description": "any", "schema": "recipe",
  "tables": [{"name": "t", "columns": [{"name": "n", "type": "int"}]}]}') -> 'result' ->> 'status';
SQL
)
check "item 1: the recipe's apply_schema answers (applied, or refused)" true \
  "$([ -n "$out" ] && [[ "$out" != *FATAL* ]] && echo true || echo "$out")"
su=$(sq "$(db_dsn $HDB)" "SELECT rolsuper FROM pg_roles WHERE rolname = 'hn_recipe'")
check "item 1: hn_recipe (a revos_admin member) is not a superuser afterwards (ESCALATION if it is)" f "$su"
sq "$(db_dsn $HDB)" "ALTER ROLE hn_recipe NOSUPERUSER" >/dev/null
