# Distribution in place (issue 22; README "Scale-out on Citus"), sourced by tests/citus/run.sh on its
# cluster (DSN, work, tid, check, qdb, qi). revos tables made on one node (here: "distribute": false on
# the coordinator), with rows, distributed by a later version: every row kept (count and a content
# checksum per table, before and after), one ledger row, each gate on its own (distribute_existing, and
# issue 19's primary_key_change for the tenant tables' keys, whatever "distribute" says).

echo "# distribution in place: revos tables with rows on one node, then a version that distributes them"
ip_payload() { # VERSION SCHEMA DISTRIBUTE [ALLOW_DESTRUCTIVE]
  local allow=""
  [ -n "${4:-}" ] && allow=", \"allow_destructive\": $4"
  cat <<JSON
{"schema_version": "$1", "description": "in place", "options": {"distribute": $3$allow},
 "tables": [
  {"schema": "$2", "name": "currencies", "tenant_scoped": false, "columns": [{"name": "code", "type": "text", "unique": true}]},
  {"schema": "$2", "name": "customers", "columns": [{"name": "name", "type": "text", "not_null": true},
     {"name": "email", "type": "text", "unique": true}],
   "indexes": [{"columns": ["name"], "unique": true}]},
  {"schema": "$2", "name": "orders", "columns": [
     {"name": "customer_id", "type": "uuid", "references": {"table": "$2.customers", "on_delete": "cascade"}},
     {"name": "referrer_id", "type": "uuid", "references": {"table": "$2.customers", "on_delete": "set null"}},
     {"name": "currency_id", "type": "uuid", "references": "$2.currencies"},
     {"name": "amount", "type": "numeric(12,2)", "not_null": true}]}]}
JSON
}
ip_load() { # SCHEMA TENANTS: rows on one node, written by a non-owner through the policy
  qdb "$DSN" - >/dev/null <<SQL || die "grants on $1"
GRANT USAGE ON SCHEMA $1 TO rt_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA $1 TO rt_app;
INSERT INTO $1.currencies (code) VALUES ('EUR'), ('USD'), ('CHF');
SQL
  {
    for i in $(seq 1 "$2"); do
      echo "BEGIN; SELECT revos.set_tenant('$(tid "$i")');"
      printf "INSERT INTO %s.customers (name, email) VALUES " "$1"
      for j in $(seq 1 20); do printf "('c%s-%s', 'c%s-%s@x')%s" "$i" "$j" "$i" "$j" "$([ "$j" -lt 20 ] && echo ,)"; done
      echo ";"
      echo "INSERT INTO $1.orders (customer_id, referrer_id, currency_id, amount)
            SELECT c.id, r.id, (SELECT id FROM $1.currencies WHERE code = 'EUR'), 10.5 * k
              FROM $1.customers c, LATERAL (SELECT id FROM $1.customers WHERE id <> c.id LIMIT 1) r, generate_series(1, 2) k;"
      echo "COMMIT;"
    done
  } | qdb "$RT_APP" - >/dev/null
}
# per table: rows and an md5 of every row's text in id order (as the superuser: every tenant)
ip_checksums() {
  qdb "$DSN" "SELECT string_agg(x, ' ' ORDER BY x) FROM (
    SELECT 'currencies:' || count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY t.id)) AS x FROM $1.currencies t
    UNION ALL SELECT 'customers:' || count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY t.id)) FROM $1.customers t
    UNION ALL SELECT 'orders:' || count(*) || ':' || md5(string_agg(t::text, ',' ORDER BY t.id)) FROM $1.orders t) s"
}
ip_placement() { # SCHEMA: how Citus places its tables
  qdb "$DSN" "SELECT coalesce(string_agg(c.relname || ':' || p.partmethod::text || coalesce(':' || column_to_column_name(p.logicalrelid, p.partkey), ''), ',' ORDER BY c.relname), 'local')
               FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '$1'"
}
ip_status() { printf '%s' "$1" | python3 -c 'import json,sys; r=json.load(sys.stdin)["result"]; print(r["status"], ",".join(sorted({x["code"] for x in r.get("risks", [])})), sum(x.get("rows") or 0 for x in r.get("risks", [])))'; }

ip_payload ip-001 ip false > "$work/ip1.json"
ip_payload ip-002 ip '"auto"' > "$work/ip2-auto.json"
ip_payload ip-002 ip '"auto"' true > "$work/ip2-allowed.json"
chmod a+r "$work"/ip*.json
check "version 1 with \"distribute\": false: local tables on the coordinator" "applied|local" \
  "$(qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/ip1.json')::jsonb) -> 'result' ->> 'status'")|$(ip_placement ip)"
ip_load ip 12
before=$(ip_checksums ip)
check "12 tenants' rows on one node: 3 currencies, 240 customers, 480 orders" "currencies:3 customers:240 orders:480" \
  "$(printf '%s' "$before" | sed 's/:[0-9a-f]\{32\}//g')"

check "version 2, \"distribute\": \"auto\": blocked by distribute_existing (the 723 rows) and primary_key_change (the two tenant tables' keys)" \
  "blocked distribute_existing,primary_key_change 723" "$(ip_status "$(qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/ip2-auto.json')::jsonb)")")"
check "… nothing changed: still local, the same rows, no ledger row for ip-002" "local|$before|0" \
  "$(ip_placement ip)|$(ip_checksums ip)|$(qdb "$DSN" "SELECT count(*) FROM revos.schema_migrations WHERE version = 'ip-002'")"
plan=$(qdb "$DSN" "SELECT revos.plan_schema(pg_read_file('$work/ip2-allowed.json')::jsonb) -> 'result'")
check "plan_schema states the cost: rows copied per table, the locks, the steps in order" \
  "True True in_place_drop_foreign_key,primary_key,reference_table,distributed_table,in_place_truncate_local,foreign_key" \
  "$(printf '%s' "$plan" | python3 -c '
import json, sys
r = json.load(sys.stdin)
w = " ".join(r["primary_outputs"]["warnings"])
steps = r["plan"]["steps"]
kinds = []
for s in steps:
    k = "primary_key" if s["kind"] == "constraint" and "PRIMARY KEY" in s["sql"] else s["kind"]
    if k in ("in_place_drop_foreign_key", "primary_key", "reference_table", "distributed_table", "in_place_truncate_local", "foreign_key") and (not kinds or kinds[-1] != k):
        kinds.append(k)
dist = [s for s in steps if s["kind"] == "distributed_table"]
print("copies 723 rows" in w and "\"ip\".\"orders\" (480 rows)" in w, all(s["lock"] == "EXCLUSIVE" and s["rewrites"] for s in dist), ",".join(kinds))')"
applied=$(qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/ip2-allowed.json')::jsonb) -> 'result' ->> 'status'")
check "with allow_destructive: applied, one ledger row" "applied|1" \
  "$applied|$(qdb "$DSN" "SELECT count(*) FROM revos.schema_migrations WHERE version = 'ip-002'")"
check "placed: currencies a reference table, customers and orders distributed by tenant_id" \
  "currencies:n,customers:h:tenant_id,orders:h:tenant_id" "$(ip_placement ip)"
check "every row kept: the same counts and content checksums per table" "$before" "$(ip_checksums ip)"
check "primary keys (tenant_id, id); the SET NULL key NO ACTION; the policy in Citus's form" \
  "PRIMARY KEY (tenant_id, id)|PRIMARY KEY (tenant_id, id)|a|(tenant_id = (revos.current_tenant_id())::uuid)" \
  "$(qdb "$DSN" "SELECT (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'ip.customers'::regclass AND contype = 'p') || '|' ||
                        (SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'ip.orders'::regclass AND contype = 'p') || '|' ||
                        (SELECT string_agg(DISTINCT confdeltype::text, ',') FROM pg_constraint WHERE conrelid = 'ip.orders'::regclass AND contype = 'f' AND conname LIKE '%referrer%') || '|' ||
                        (SELECT pg_get_expr(polqual, polrelid) FROM pg_policy WHERE polrelid = 'ip.orders'::regclass)")"
check "the coordinator's local copies are gone (no bytes left in the shell tables)" "0" \
  "$(qdb "$DSN" "SELECT pg_relation_size('ip.customers') + pg_relation_size('ip.orders') + pg_relation_size('ip.currencies')")"
check "a tenant reads its rows through the policy alone, routed: 20 customers, 40 orders, Task Count 1" "20|40|1" \
  "$(qi "$RT_APP" <<SQL
BEGIN; SELECT revos.set_tenant('$(tid 5)') \g /dev/null
SELECT (SELECT count(*) FROM ip.customers) AS c, (SELECT count(*) FROM ip.orders) AS o \gset
SELECT :c || '|' || :o || '|' || task_count('SELECT 1 FROM ip.orders');
COMMIT;
SQL
)"
other_customer=$(qdb "$DSN" "SELECT id FROM ip.customers WHERE tenant_id = '$(tid 6)' LIMIT 1")
expect_error_db "the keys hold on the shards: tenant 5's order for tenant 6's customer is refused" 23503 "foreign key" "$RT_APP" \
  "BEGIN; SELECT revos.set_tenant('$(tid 5)'); INSERT INTO ip.orders (customer_id, amount) VALUES ('$other_customer', 1); COMMIT;"
check "verify_shards(): every placement of the ip tables matches" "0" \
  "$(qdb "$DSN" "SELECT count(*) FROM jsonb_array_elements(revos.verify_shards() -> 'mismatches') m WHERE m ->> 'table' LIKE 'ip.%'")"
check "version 2 again: noop" "noop" "$(qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/ip2-allowed.json')::jsonb) -> 'result' ->> 'status'")"

echo "# each gate alone: distribute_existing (a reference table with rows, \"auto\"), primary_key_change (\"distribute\": true)"
cat > "$work/ipr1.json" <<'JSON'
{"schema_version": "ipr-001", "description": "rates", "options": {"distribute": false},
 "tables": [{"schema": "ipr", "name": "rates", "tenant_scoped": false, "columns": [{"name": "code", "type": "text"}]}]}
JSON
sed -e 's/ipr-001/ipr-002/' -e 's/"distribute": false/"distribute": "auto"/' "$work/ipr1.json" > "$work/ipr2.json"
chmod a+r "$work"/ipr*.json
qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/ipr1.json')::jsonb) -> 'result' ->> 'status'" >/dev/null
qdb "$DSN" "INSERT INTO ipr.rates (code) VALUES ('a'), ('b'), ('c')" >/dev/null
check "a reference table with 3 rows, \"auto\": blocked by distribute_existing alone (no key changes)" \
  "blocked distribute_existing 3|local" \
  "$(ip_status "$(qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/ipr2.json')::jsonb)")")|$(ip_placement ipr)"
ip_payload ipt-001 ipt false > "$work/ipt1.json"
ip_payload ipt-002 ipt true > "$work/ipt2.json"
ip_payload ipt-002 ipt true true > "$work/ipt2-allowed.json"
chmod a+r "$work"/ipt*.json
qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/ipt1.json')::jsonb) -> 'result' ->> 'status'" >/dev/null
ip_load ipt 3
before=$(ip_checksums ipt)
check "\"distribute\": true asks for the copy, not for the key change: blocked by primary_key_change alone, nothing changed" \
  "blocked primary_key_change 0|local|$before" \
  "$(ip_status "$(qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/ipt2.json')::jsonb)")")|$(ip_placement ipt)|$(ip_checksums ipt)"
check "… with allow_destructive: applied, every row kept" "applied|currencies:n,customers:h:tenant_id,orders:h:tenant_id|$before" \
  "$(qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/ipt2-allowed.json')::jsonb) -> 'result' ->> 'status'")|$(ip_placement ipt)|$(ip_checksums ipt)"
qdb "$DSN" "CREATE TABLE ipt.legacy (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text); INSERT INTO ipt.legacy (name) VALUES ('a'), ('b')" >/dev/null
cat > "$work/ipt3.json" <<'JSON'
{"schema_version": "ipt-003", "description": "legacy", "options": {"distribute": true, "allow_destructive": true},
 "tables": [{"schema": "ipt", "name": "legacy", "columns": [{"name": "name", "type": "text"}]}]}
JSON
chmod a+r "$work/ipt3.json"
check "a table that is not revos's yet: blocked, pointing at tenant_table()" "blocked|true" \
  "$(qdb "$DSN" "SELECT (r ->> 'status') || '|' || (r::text LIKE '%revos.tenant_table(%') FROM (SELECT revos.apply_schema(pg_read_file('$work/ipt3.json')::jsonb) -> 'result' AS r) x")"
check "tenant_table() with \"distribute\": false makes it revos's on one node, then the version distributes it with its 2 rows" \
  "applied|applied|legacy:h:tenant_id|2" \
  "$(qdb "$DSN" "SELECT revos.tenant_table('ipt.legacy', '[]', '{\"distribute\": false, \"backfill_tenant\": \"$(tid 1)\"}') -> 'result' ->> 'status'")|$(qdb "$DSN" "SELECT revos.apply_schema(pg_read_file('$work/ipt3.json')::jsonb) -> 'result' ->> 'status'")|$(qdb "$DSN" "SELECT string_agg(c.relname || ':' || p.partmethod::text || ':' || column_to_column_name(p.logicalrelid, p.partkey), ',') FROM pg_dist_partition p JOIN pg_class c ON c.oid = p.logicalrelid WHERE c.oid = 'ipt.legacy'::regclass")|$(qdb "$DSN" "SELECT count(*) FROM ipt.legacy")"
