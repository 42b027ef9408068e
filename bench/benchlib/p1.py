"""P1: apply a generated schema; against the same SQL by psql and in one round trip."""
import re

import gen_schema

from .core import DBPREFIX, Goal, cpu_txt, fmt_ms, load1, med, say
from .timed import plan_sql, run_side, timed_sql

SIDES = ("sql", "do", "api")
LABEL = {"sql": "psql -1 -f", "do": "one round trip (DO … EXECUTE)", "api": "revos.apply_schema"}


def sql_counts(sql):
    return {
        "statements": sql.count(";\n"),
        "create_table": len(re.findall(r"^CREATE TABLE ", sql, re.M)),
        "create_index": len(re.findall(r"^CREATE (UNIQUE )?INDEX ", sql, re.M)),
        "unique_constraints": len(re.findall(r"CONSTRAINT \"[^\"]+\" UNIQUE \(", sql)),
        "foreign_keys": sql.count(" FOREIGN KEY ("),
        "policies": len(re.findall(r"^CREATE POLICY ", sql, re.M)),
    }


def index_count(srv, db):
    return int(srv.one(db, "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"))


def measure(srv, payload, sql, runs, prefix):
    """`runs` rounds of the three sides, the order alternating; returns {side: [timing]}, the
    load average before each round, and the name of the last api database."""
    got = {s: [] for s in SIDES}
    loads = []
    for r in range(runs):
        loads.append(load1())
        for side in (SIDES if r % 2 == 0 else tuple(reversed(SIDES))):
            res = run_side(srv, side, f"{prefix}_{side}_{r}", payload, sql)
            got[side].append(res)
            extra = (f"; in function {res['latency_ms']:.0f} ms, DDL+verify {res['ddl_ms']:.1f} ms"
                     if side == "api" else "")
            say(f"{prefix} run {r + 1}/{runs}: {LABEL[side]:32s} {fmt_ms(res['ms'])} (backend CPU {res['cpu']} ms, "
                f"WAL {res['wal'] / 1e6:.2f} MB{extra})")
    return got, loads, f"{prefix}_api_{runs - 1}"


def p1_p2(srv, cfg, rep, state):
    from .p2 import p2
    payload = gen_schema.mixed(cfg["p1_tables"], cfg["p1_enums"], "bench-p1-001")
    st = gen_schema.stats(payload)
    say(f"P1: generated schema: {st['tables']} tables, {st['enums']} enums, {st['columns']} columns, "
        f"{st['foreign_keys']} foreign keys, {st['extra_indexes']} extra indexes")
    sql, _ = plan_sql(srv, payload, "p1_plan")
    counts = sql_counts(sql)
    say(f"P1: plan_schema SQL: {counts['statements']} statements, {counts['create_index']} CREATE INDEX, {len(sql)} bytes")
    got, loads, last_db = measure(srv, payload, sql, cfg["p1_runs"], "p1")
    stored = srv.one(DBPREFIX + last_db, "SELECT sql_script FROM revos.schema_migrations WHERE version = 'bench-p1-001'")
    if stored.strip() != sql.strip():
        from .core import BenchError
        raise BenchError("P1: the SQL apply_schema ran differs from plan_schema's SQL")
    nidx = index_count(srv, DBPREFIX + last_db)
    drift = timed_sql(srv, srv.fresh_db("p1_sql_drift"), sql, "p1_sql_drift", drift_capture=True)
    say(f"P1 (info): psql -1 -f with revos's drift event triggers active: {fmt_ms(drift['ms'])}")
    state["p1"] = (payload, sql)
    state["p1_api_ms"] = med([x["ms"] for x in got["api"]])
    judge(rep, got, f"P1 apply: {st['tables']} tables, {st['enums']} enums, {nidx} indexes", "")
    rep.details.append(details(cfg, st, counts, nidx, sql, got, loads, drift, "P1 apply", srv.label))
    p2(srv, cfg, rep, state, DBPREFIX + last_db, payload, st)


def judge(rep, got, fig, suffix):
    ms = {s: [x["ms"] for x in got[s]] for s in SIDES}
    how = f"{len(ms['api'])} runs × 3 sides, interleaved (order alternates), fresh database each"
    vs_do = [a / b for a, b in zip(ms["api"], ms["do"])]
    vs_sql = [a / b for a, b in zip(ms["api"], ms["sql"])]
    cpu = {s: [x["cpu"] for x in got[s]] for s in SIDES}
    wal = {s: med([x["wal"] for x in got[s]]) for s in SIDES}
    cpu_do = (f"; backend CPU {cpu_txt(cpu['api'])} vs {cpu_txt(cpu['do'])} ms"
              if None not in cpu["api"] + cpu["do"] else "")
    rep.goal(f"{fig}{suffix} vs the same SQL in one round trip", how,
             f"apply_schema {fmt_ms(med(ms['api']))} vs DO … EXECUTE {fmt_ms(med(ms['do']))}{cpu_do}; "
             f"WAL per apply {wal['api'] / 1e6:.2f} vs {wal['do'] / 1e6:.2f} MB",
             Goal(vs_do, "<=", 1.10, every=True))
    rep.goal(f"{fig}{suffix} vs psql -1 -f", how,
             f"apply_schema {fmt_ms(med(ms['api']))} vs psql -1 -f {fmt_ms(med(ms['sql']))}; "
             f"WAL per apply {wal['api'] / 1e6:.2f} vs {wal['sql'] / 1e6:.2f} MB",
             Goal(vs_sql, "<=", 1.10))


def details(cfg, st, counts, nidx, sql, got, loads, drift, title, where):
    f1 = lambda x: "-" if x is None else f"{x:.1f}"  # noqa: E731
    rows = []
    for i in range(len(got["api"])):
        s, d, a = got["sql"][i], got["do"][i], got["api"][i]
        rows.append(f"| {i + 1} | {loads[i]:.1f} | {s['ms']:.1f} | {f1(s['cpu'])} | {d['ms']:.1f} | {f1(d['cpu'])} | "
                    f"{a['ms']:.1f} | {f1(a['cpu'])} | {a['ms'] / d['ms']:.3f}{'' if a['ms'] / d['ms'] <= 1.10 else ' ✗'} | "
                    f"{a['ms'] / s['ms']:.3f} | {a['latency_ms']:.0f} | {a['ddl_ms']:.1f} | "
                    f"{a['latency_ms'] - a['ddl_ms']:.1f} | {a['ms'] - a['latency_ms']:.1f} | "
                    f"{s['wal'] / 1e6:.2f} / {d['wal'] / 1e6:.2f} / {a['wal'] / 1e6:.2f} |\n")
    return f"""### {title} ({where})

Schema: `bench/gen_schema.py mixed {cfg['p1_tables']} {cfg['p1_enums']}` — {st['tables']} tables, {st['enums']} enums,
{st['columns']} payload columns (plus revos's 5 per table), {st['foreign_keys']} foreign keys, {st['extra_indexes']} explicit
indexes. plan_schema SQL: {counts['statements']} statements ({counts['create_table']} CREATE TABLE,
{counts['create_index']} CREATE INDEX, {counts['unique_constraints']} UNIQUE constraints, {counts['foreign_keys']} foreign
keys, {counts['policies']} policies), {len(sql):,} bytes. Indexes in the catalog afterwards: {nidx}.

| run | load | psql -1 -f (ms) | its CPU | DO … EXECUTE (ms) | its CPU | apply_schema (ms) | its CPU | apply / DO | apply / psql | in function (latency_ms) | DDL + verify (execution_time_ms) | before DDL | outside the function | WAL MB: psql / DO / apply |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
""" + "".join(rows) + f"""
Each run creates three fresh databases (`CREATE EXTENSION revos`) and runs the three sides in them,
the order alternating from run to run (sql, DO, apply / apply, DO, sql). Each side: a new psql
session, revos's library loaded, elapsed = `clock_timestamp()` after COMMIT minus before the first
statement (round trips, sending the text, parsing and the commit included); CPU = the backend's own
on-CPU time over the same span (/proc/self/schedstat); WAL = `pg_current_wal_insert_lsn()` after
COMMIT minus before the first statement. psql -1 -f: the plan's SQL sent statement by statement
between BEGIN and COMMIT. DO … EXECUTE: the same SQL as ONE string in one round trip, `BEGIN; DO $$
BEGIN EXECUTE '<SQL>'; END $$; COMMIT` — the limit for running these statements. Both baselines run
with revos's three drift-capture event triggers disabled in their database (apply_schema pauses them
while it runs its DDL). apply / DO is the goal's ratio (✗ = over 1.10). "in function" =
meta_out.latency_ms (whole ms); "before DDL" = latency_ms − execution_time_ms (payload read,
normalize, hash, advisory lock, catalog snapshot, validate, plan); execution_time_ms covers the DDL
and the catalog verification; "outside" = client time − latency_ms (sending and parsing the JSON,
the ledger row's commit, round trips).{drift_txt(drift)}
"""


def drift_txt(drift):
    if drift is None:
        return ""
    return (" For information, psql -1 -f with the drift capture active (a user running this DDL by "
            "hand in a revos database: every statement recorded as drift): " + fmt_ms(drift["ms"]) + " (one run).")


def p1_durable(srv, cfg, rep, state):
    """P1 again on the durable cluster (fsync, synchronous_commit, full_page_writes on; disk)."""
    payload = gen_schema.mixed(cfg["p1_tables"], cfg["p1_enums"], "bench-p1-001")
    st = gen_schema.stats(payload)
    sql, _ = plan_sql(srv, payload, "p1d_plan")
    got, loads, last_db = measure(srv, payload, sql, cfg["durable_runs"], "p1d")
    nidx = index_count(srv, DBPREFIX + last_db)
    judge(rep, got, f"P1 apply: {st['tables']} tables, {nidx} indexes", ", durable")
    rep.details.append(details(cfg, st, sql_counts(sql), nidx, sql, got, loads, None, "P1 apply, durable", srv.label))
