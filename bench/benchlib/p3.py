"""P3: a tenant's read through revos's policy against the same read with the tenant in WHERE."""
import json
import time

from .core import READER, WORK, BenchError, Goal, dollar, fmt_ms, load1, med, pct, say

P3_SCHEMA = {
    "schema_version": "bench-p3-001", "description": "benchmark: tenant read",
    "enums": [{"name": "bench_item_status", "values": ["open", "paid", "void"]}],
    "tables": [{"name": n, "schema": "public", "columns": [
        {"name": "title", "type": "text", "not_null": True},
        {"name": "status", "type": "bench_item_status", "not_null": True, "default": "'open'"},
        {"name": "amount", "type": "numeric(12,2)", "not_null": True, "default": "0"},
        {"name": "note", "type": "text"}]} for n in ("items", "hot")],
}
TID = "('00000000-0000-0000-0000-' || lpad(({n})::text, 12, '0'))"
TABLES = ("items", "items_plain", "items_cast", "hot", "hot_plain")
# Even: tenant 1 + i % T. Hot: tenant 1 holds every second row, the others share the rest.
TENANT_OF = {"even": "1 + i % {T}", "hot": "CASE WHEN i % 2 = 0 THEN 1 ELSE 2 + i % ({T} - 1) END"}
# The tenant of a transaction. Hot: tenant 1 half the time.
PICK = {"even": "\\set n random(1, :ntenants)\n",
        "hot": "\\set r random(1, 2 * :ntenants)\n\\set n CASE WHEN :r <= :ntenants THEN :r ELSE 1 END\n"}


def load(srv, db, n, T):
    def fill(table, shape):
        tenant = TENANT_OF[shape].format(T=T)
        return f"""INSERT INTO {table} (tenant_id, created_at, updated_at, title, status, amount, note)
SELECT {TID.format(n=tenant)}::uuid, ts, ts, 'item ' || i,
       (ARRAY['open', 'paid', 'void']::bench_item_status[])[1 + i % 3], (i % 100000) / 100.0,
       CASE WHEN i % 4 = 0 THEN 'note ' || i END
FROM generate_series(1, {n}) i, LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' AS ts) x;
"""
    srv.psql(db, fill("items", "even") + fill("hot", "hot") + f"""
CREATE TABLE items_plain (LIKE items INCLUDING ALL);
INSERT INTO items_plain SELECT * FROM items;
CREATE TABLE items_cast (LIKE items INCLUDING ALL);
INSERT INTO items_cast SELECT * FROM items;
ALTER TABLE items_cast ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_cast ON items_cast USING (tenant_id::text = current_setting('app.current_tenant_id', true));
CREATE TABLE hot_plain (LIKE hot INCLUDING ALL);
INSERT INTO hot_plain SELECT * FROM hot;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{READER}') THEN CREATE ROLE {READER} NOLOGIN; END IF;
END $$;
GRANT SELECT ON {', '.join(TABLES)} TO {READER};
""")
    # VACUUM until every page is all-visible in every table (so count(*) is an index-only scan
    # without heap fetches on each): a VACUUM that runs while autovacuum's ANALYZE of a table just
    # loaded holds a snapshot cannot mark the newest pages all-visible.
    names = ", ".join(f"'{t}'" for t in TABLES)
    for _ in range(10):
        srv.psql(db, "".join(f"VACUUM (ANALYZE) {t};\n" for t in TABLES))
        vis = srv.one(db, "SELECT string_agg(relname || ' ' || relallvisible || '/' || relpages, ', ' ORDER BY relname) "
                          "|| CASE WHEN bool_and(relallvisible = relpages) THEN '|ok' ELSE '|no' END FROM pg_class "
                          f"WHERE relname IN ({names})")
        if vis.endswith("|ok"):
            return vis.split("|")[0]
        time.sleep(1)
    raise BenchError(f"P3: VACUUM could not make every page all-visible: {vis}")


def sanity(srv, db, n, T):
    """As the non-owner role: RLS is in force, a tenant sees exactly its rows (even and hot)."""
    t1 = TID.format(n=1)
    chk = srv.one(db, f"""SET ROLE {READER};
SELECT (SELECT count(*) FROM items) || '|' || (SELECT count(*) FROM items_cast) || '|' || (SELECT count(*) FROM hot);
BEGIN; SELECT revos.set_tenant({t1}) \\g /dev/null
SELECT (SELECT count(*) FROM items) || '|' || (SELECT count(*) FROM items_cast)
       || '|' || (SELECT count(*) FROM items_plain WHERE tenant_id = {t1}::uuid)
       || '|' || (SELECT count(*) FROM items WHERE tenant_id <> {t1}::uuid)
       || '|' || (SELECT count(*) FROM hot) || '|' || (SELECT count(*) FROM hot_plain WHERE tenant_id = {t1}::uuid);
COMMIT;""")
    per, hot = n // T, n // 2
    want = ["0|0|0", f"{per}|{per}|{per}|0|{hot}|{hot}"]
    if chk.splitlines() != want:
        raise BenchError(f"P3: RLS sanity check failed: got {chk.splitlines()}, want {want}")
    for t in ("items", "hot"):
        if srv.one(db, f"SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = '{t}'") != "t":
            raise BenchError(f"P3: {t} is not FORCE ROW LEVEL SECURITY")


QUERIES = {
    "revos": ("SELECT * FROM {t} ORDER BY created_at DESC LIMIT 50", "SELECT count(*) FROM {t}"),
    "plain": ("SELECT * FROM {t}_plain WHERE tenant_id = {tid}::uuid ORDER BY created_at DESC LIMIT 50",
              "SELECT count(*) FROM {t}_plain WHERE tenant_id = {tid}::uuid"),
    "cast": ("SELECT * FROM {t}_cast ORDER BY created_at DESC LIMIT 50", "SELECT count(*) FROM {t}_cast"),
}


def script(side, table, shape):
    tid = TID.format(n=":n")
    ql, qc = QUERIES[side]
    body = PICK[shape] + "BEGIN;\n"
    if side != "plain":
        body += f"SELECT revos.set_tenant({tid});\n"
    body += ql.format(t=table, tid=tid) + ";\n" + qc.format(t=table, tid=tid) + ";\nEND;\n"
    f = WORK / f"p3_{side}_{table}_{shape}.pgbench"
    f.write_text(body)
    return f


def plans(srv, db, table):
    t1 = TID.format(n=1)
    out = []
    for side in ("revos", "plain") + (("cast",) if table == "items" else ()):
        for name, q in zip(("latest 50", "count"), QUERIES[side]):
            txt = srv.one(db, f"SET ROLE {READER};\nBEGIN;\nSELECT revos.set_tenant({t1}) \\g /dev/null\n"
                              f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) {q.format(t=table, tid=t1)};\nCOMMIT;")
            out.append(f"{side}, {name} ({table}, tenant 1):\n{txt}")
    return "\n".join(out)


def variant(srv, db, cfg, name, sides, table, shape, mode, runs):
    """`runs` rounds of pgbench over `sides`, the order alternating. Returns per side: latest-50
    and count latencies per run (pgbench -r), every transaction's latency, tps per run; loads."""
    scripts = {s: script(s, table, shape) for s in sides}
    out = {s: {"l50": [], "cnt": [], "tx": [], "tps": [], "p99": []} for s in sides}
    loads = []
    args = [*cfg["p3_bench"], "-c", str(cfg["p3_clients"]), "-j", "1", "-M", mode]
    for r in range(runs):
        loads.append(load1())
        for s in (sides if r % 2 == 0 else tuple(reversed(sides))):
            res = srv.pgbench(db, scripts[s], args, env={"PGOPTIONS": f"-c role={READER}"},
                              defines={"ntenants": cfg["p3_tenants"]}, tag=f"p3_{name}_{s}_{r}", log=True)
            st = [x for x in res["stmts"] if x[1].upper().startswith("SELECT") and "set_tenant" not in x[1]]
            if len(st) != 2:
                raise BenchError(f"P3: could not read per-statement latencies: {res['stmts']}")
            o = out[s]
            # pgbench -r prints 3 decimals: at quick size a latency can read 0.000 ms
            o["l50"].append(max(st[0][0], 0.001))
            o["cnt"].append(max(st[1][0], 0.001))
            o["tx"] += res["lat"]
            o["p99"].append(pct(res["lat"], 99))
            o["tps"].append(res["tps"])
            say(f"P3 {name} run {r + 1}/{runs}: {s:5s} latest-50 {st[0][0]:.3f} ms, count {st[1][0]:.3f} ms, "
                f"transaction p99 {pct(res['lat'], 99):.3f} ms, {res['tps']:.0f} tps")
    return out, loads


VARIANTS = [  # name, table, shape, pgbench -M, runs key, label
    ("even", "items", "even", "simple", "p3_runs", "even tenants, simple protocol"),
    ("prepared", "items", "even", "prepared", "p3_runs_more", "even tenants, `-M prepared`"),
    ("hot", "hot", "hot", "simple", "p3_runs_more", "one hot tenant (half the rows, half the reads)"),
]


def p3(srv, cfg, rep, state):
    n, T = cfg["p3_rows"], cfg["p3_tenants"]
    db = srv.fresh_db("p3")
    res = srv.one(db, f"SELECT revos.apply_schema({dollar(json.dumps(P3_SCHEMA))}::jsonb) -> 'result' ->> 'status'")
    if res != "applied":
        raise BenchError(f"P3: apply_schema returned {res!r}")
    say(f"P3: loading {n:,} rows for {T} tenants into items, items_plain, items_cast, and hot, hot_plain (tenant 1: half)")
    t = time.monotonic()
    vis = load(srv, db, n, T)
    say(f"P3: loaded in {time.monotonic() - t:.1f}s; all-visible pages: {vis}")
    sanity(srv, db, n, T)
    chunks = []
    for name, table, shape, mode, runs_key, label in VARIANTS:
        out, loads = variant(srv, db, cfg, name, ("revos", "plain"), table, shape, mode, cfg[runs_key])
        judge(rep, cfg, out, label, n, T, len(loads))
        chunks.append(table_md(name, label, out, loads))
    cast, _ = variant(srv, db, cfg, "cast", ("cast", "plain"), "items", "even", "simple", cfg["p3_cast_runs"])
    rep.info("P3' tenant read, cast policy `tenant_id::text = current_setting(...)`",
             f"{cfg['p3_cast_runs']} runs × 2 sides, interleaved",
             f"latest 50: {fmt_ms(med(cast['cast']['l50']))}; count: {fmt_ms(med(cast['cast']['cnt']))} "
             f"(×{med(cast['cast']['l50']) / med(cast['plain']['l50']):.0f} / ×{med(cast['cast']['cnt']) / med(cast['plain']['cnt']):.0f} "
             "of the explicit WHERE; expected far worse: no index)")
    rep.details.append(details(cfg, n, T, chunks) + "\nPlans (EXPLAIN ANALYZE as the reader):\n\n```\n"
                       + plans(srv, db, "items") + "\n" + plans(srv, db, "hot") + "```\n")


def judge(rep, cfg, out, label, n, T, runs):
    r, p = out["revos"], out["plain"]
    how = f"{runs} runs × 2 sides × {' '.join(cfg['p3_bench'])}, interleaved"
    tx = f"transaction p50/p95/p99 {pct(r['tx'], 50):.3f}/{pct(r['tx'], 95):.3f}/{pct(r['tx'], 99):.3f} vs " \
         f"{pct(p['tx'], 50):.3f}/{pct(p['tx'], 95):.3f}/{pct(p['tx'], 99):.3f} ms"
    for key, q in (("l50", "latest 50"), ("cnt", "count")):
        rep.goal(f"P3 tenant read, {q}, revos policy vs explicit WHERE: {label} ({n:,} rows, {T} tenants, non-owner)", how,
                 f"{fmt_ms(med(r[key]))} vs {fmt_ms(med(p[key]))}" + (f"; {tx}" if key == "l50" else ""),
                 Goal([a / b for a, b in zip(r[key], p[key])], "<=", 1.10))


def table_md(name, label, out, loads):
    r, p = out["revos"], out["plain"]
    rows = "".join(
        f"| {i + 1} | {loads[i]:.1f} | {r['l50'][i]:.3f} | {p['l50'][i]:.3f} | {r['l50'][i] / p['l50'][i]:.3f}"
        f"{'' if r['l50'][i] / p['l50'][i] <= 1.10 else ' ✗'} | {r['cnt'][i]:.3f} | {p['cnt'][i]:.3f} | "
        f"{r['cnt'][i] / p['cnt'][i]:.3f}{'' if r['cnt'][i] / p['cnt'][i] <= 1.10 else ' ✗'} | {r['p99'][i]:.3f} | "
        f"{p['p99'][i]:.3f} | {r['tps'][i]:.0f} / {p['tps'][i]:.0f} |\n" for i in range(len(loads)))
    return f"""
**{label}** (`{name}`): per run, pgbench -r per-statement averages (ms) and the transaction's p99 (its log).
Over all runs, transaction latency p50 / p95 / p99: revos {pct(r['tx'], 50):.3f} / {pct(r['tx'], 95):.3f} / {pct(r['tx'], 99):.3f} ms,
plain {pct(p['tx'], 50):.3f} / {pct(p['tx'], 95):.3f} / {pct(p['tx'], 99):.3f} ms.

| run | load | latest 50: revos | plain | ratio | count: revos | plain | ratio | tx p99: revos | plain | tps revos / plain |
|---|---|---|---|---|---|---|---|---|---|---|
{rows}"""


def details(cfg, n, T, chunks):
    return f"""### P3 tenant read

`items` and `hot` were created by `revos.apply_schema` (FORCE RLS, policy `tenant_id = (SELECT
revos.current_tenant_id()::uuid)`, indexes on (tenant_id) and (tenant_id, created_at)); `items_plain`,
`items_cast` and `hot_plain` are `LIKE … INCLUDING ALL` copies (same columns, defaults and indexes) holding
the same rows, loaded as the superuser, then VACUUM ANALYZE until every page is all-visible. `items`:
{n:,} rows, {T} tenants × {n // T:,}. `hot`: {n:,} rows, tenant 1 holds half of them, the other {T - 1}
share the rest. The `_plain` tables have no RLS (the query says `WHERE tenant_id = '<uuid>'`);
`items_cast` has RLS with `USING (tenant_id::text = current_setting('app.current_tenant_id', true))`.
pgbench runs as the non-owner role {READER} (PGOPTIONS `-c role=…`; SELECT granted), `{' '.join(cfg['p3_bench'])} -c
{cfg['p3_clients']}`, per transaction: `BEGIN; SELECT revos.set_tenant(…); <latest 50>; <count>; END` (the plain
script has no set_tenant), a random tenant per transaction (hot: tenant 1 for half the transactions).
The goals compare each query's own latency (pgbench -r, per statement, per run; ✗ = over 1.10); the
transaction latencies (whole transaction, set_tenant round trip included) come from pgbench's
per-transaction log (`-l`).
""" + "".join(chunks)
