# Issue 19 on Citus, sourced by tests/citus/run.sh after route.sh (the rt schema): apply's own DDL
# propagates whatever the caller's session set, and verify_shards() compares deparsed defaults and
# index predicates.

echo "# apply's DDL reaches the shards with citus.enable_ddl_propagation = off in the caller's session"
cat > "$work/rt2.json" <<'JSON'
{"schema_version": "rt-002", "description": "routing matrix, v2", "tables": [
 {"schema": "rt", "name": "notes", "columns": [{"name": "marker", "type": "int", "not_null": true}, {"name": "body", "type": "text"},
   {"name": "extra", "type": "text", "default": "'v2'"}],
  "indexes": [{"columns": ["marker"], "where": "marker > 0"}]},
 {"schema": "rt", "name": "tags", "columns": [{"name": "note_id", "type": "uuid", "references": "rt.notes"}, {"name": "marker", "type": "int", "not_null": true}]},
 {"schema": "rt", "name": "links", "columns": [{"name": "note_id", "type": "uuid", "references": {"table": "rt.notes", "on_delete": "set null"}}]}
]}
JSON
chmod a+r "$work/rt2.json"
rt_shards=$(qdb "$DSN" "SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'rt.notes'::regclass")
check "SET citus.enable_ddl_propagation = off, then apply v2: applied, the session's setting still off afterwards" "applied|off" \
  "$(qi "$DSN" <<SQL
SET citus.enable_ddl_propagation = off;
SELECT (revos.apply_schema(pg_read_file('$work/rt2.json')::jsonb) -> 'result' ->> 'status') || '|' || current_setting('citus.enable_ddl_propagation');
SQL
)"
check "the new column, its default and the partial index on all $rt_shards shards" "$rt_shards" \
  "$(qdb "$DSN" "SELECT count(*) FROM run_command_on_shards('rt.notes', \$\$SELECT (SELECT count(*) FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = '%1\$s'::regclass AND a.attname = 'extra') + (SELECT count(*) FROM pg_index WHERE indrelid = '%1\$s'::regclass AND indpred IS NOT NULL)\$\$) WHERE success AND result = '2'")"
rt_mismatches() { qdb "$DSN" "SELECT count(*) || '|' || coalesce(string_agg(DISTINCT m ->> 'shardid', ','), '') FROM jsonb_array_elements(revos.verify_shards() -> 'mismatches') m WHERE m ->> 'table' = 'rt.notes'"; }
check "verify_shards(): rt.notes matches on every placement" "0|" "$(rt_mismatches)"

echo "# verify_shards() compares a shard's default and partial-index predicate, not their presence"
rt_shard=$(qdb "$DSN" "SELECT shardid || ' ' || shard_name || ' ' || nodeport FROM citus_shards WHERE table_name = 'rt.notes'::regclass ORDER BY shardid LIMIT 1")
read -r rt_shardid rt_shardname rt_port <<<"$rt_shard"
RT_WORKER=${DSN/:$BASE\//:$rt_port/}
qdb "$RT_WORKER" "SET citus.enable_manual_changes_to_shards = on; ALTER TABLE $rt_shardname ALTER COLUMN extra SET DEFAULT 'changed'" >/dev/null
check "a shard whose default of extra is 'changed': one mismatch, that shard" "1|$rt_shardid" "$(rt_mismatches)"
qdb "$RT_WORKER" "SET citus.enable_manual_changes_to_shards = on; ALTER TABLE $rt_shardname ALTER COLUMN extra SET DEFAULT 'v2'" >/dev/null
check "the default put back: no mismatch" "0|" "$(rt_mismatches)"
rt_index=$(qdb "$RT_WORKER" "SELECT i.indexrelid::regclass::text || '|' || pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = '$rt_shardname'::regclass AND i.indpred IS NOT NULL")
# the same index (name, columns, method) with only its predicate changed
qdb "$RT_WORKER" "SET citus.enable_manual_changes_to_shards = on; DROP INDEX ${rt_index%%|*}; ${rt_index#*|}" >/dev/null
qdb "$RT_WORKER" "SET citus.enable_manual_changes_to_shards = on; DROP INDEX ${rt_index%%|*}; $(printf '%s' "${rt_index#*|}" | sed 's/(marker > 0)/(marker > 1)/')" >/dev/null
check "a shard whose partial index says marker > 1 instead of marker > 0: one mismatch, that shard" "1|$rt_shardid" "$(rt_mismatches)"
