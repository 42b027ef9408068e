"""Timed applies and timed SQL (P1, P5, the durable run).

Every side: a fresh database with CREATE EXTENSION revos (done in another connection), a new psql
session that loads revos's library first (so no side pays the dlopen), then t0 = clock_timestamp(),
the work, and the elapsed time read AFTER the commit. Every side therefore includes the client
round trips, sending the text (payload or SQL), parsing and the commit.

The three sides:
  sql  the plan's SQL sent statement by statement between BEGIN and COMMIT (what `psql -1 -f` does)
  do   the same SQL in ONE round trip: `DO $$ BEGIN EXECUTE '<the plan's SQL>'; END $$` in one
       transaction (the limit: no client round trip per statement, no JSON, no revos)
  api  revos.apply_schema(payload)

On the sql and do sides revos's three drift-capture event triggers are disabled in their database
(ALTER EVENT TRIGGER … DISABLE, in another connection, not timed): apply_schema pauses the capture
while it runs its DDL (a flag in the backend, which SQL cannot set), and with the capture active the
baseline would record every statement as drift. Disabled triggers do not even fire, so the
baselines are, if anything, slightly favoured.

Backend CPU time (ns) from /proc/self/schedstat, read by the backend itself: less sensitive than
wall time to other work on the machine. WAL bytes: pg_current_wal_insert_lsn() before the first
statement and after the COMMIT, in the same session (nothing else writes in a benchmark cluster
while a side runs, except autovacuum, which these fresh databases do not wake).
"""
import json

from .core import WORK, BenchError, dollar

CPU_NS = "split_part(pg_read_file('/proc/self/schedstat', 0, 100, true), ' ', 1)::bigint"
START = ("LOAD :'revos_lib';\n"
         f"SELECT extract(epoch FROM clock_timestamp()) AS t0, coalesce({CPU_NS}::text, '') AS c0, "
         "pg_current_wal_insert_lsn() AS w0 \\gset\n")
# Peak resident set of the backend over its session (kB; shared buffers it touched included).
HWM_KB = "coalesce(substring(pg_read_file('/proc/self/status', 0, 8192, true) from 'VmHWM:\\s+(\\d+)'), '')"
ELAPSED = ("round(((extract(epoch FROM clock_timestamp()) - :t0) * 1000)::numeric, 3) || '|' || "
           f"coalesce(round((({CPU_NS} - nullif(:'c0', '')::bigint) / 1e6)::numeric, 3)::text, '') || '|' || {HWM_KB}"
           " || '|' || pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :'w0')::bigint")
DRIFT_TRIGGERS = ("revos_drift_start", "revos_drift", "revos_drift_drop")


def parse_elapsed(text):
    """'wall|cpu|hwm|wal' -> dict (cpu and hwm may be empty)."""
    wall, cpu, hwm, wal = text.split("|")[:4]
    return {"ms": float(wall), "cpu": float(cpu) if cpu else None, "hwm": int(hwm) if hwm else None,
            "wal": int(wal)}


def disable_drift(srv, db):
    srv.psql(db, "".join(f"ALTER EVENT TRIGGER {t} DISABLE;\n" for t in DRIFT_TRIGGERS))


def timed_sql(srv, db, sql_text, tag, drift_capture=False):
    """The plan's SQL, statement by statement in one transaction (psql -1 -f)."""
    if not drift_capture:
        disable_drift(srv, db)
    f = WORK / f"{tag}.sql"
    f.write_text(START + "BEGIN;\n" + sql_text + "COMMIT;\n" + f"SELECT {ELAPSED};\n")
    out, _ = srv.psql(db, file=f)
    return parse_elapsed(out.strip().splitlines()[-1])


def timed_do(srv, db, sql_text, tag):
    """The plan's SQL in one round trip: one DO block EXECUTEs it, in one transaction."""
    disable_drift(srv, db)
    f = WORK / f"{tag}.sql"
    body = f"DO $rvdo$ BEGIN EXECUTE {dollar(sql_text, 'rvsql')}; END $rvdo$"
    f.write_text(START + "BEGIN;\n" + body + ";\nCOMMIT;\n" + f"SELECT {ELAPSED};\n")
    out, _ = srv.psql(db, file=f)
    return parse_elapsed(out.strip().splitlines()[-1])


def timed_apply(srv, db, payload, tag, want="applied"):
    f = WORK / f"{tag}.sql"
    f.write_text(
        START
        + f"SELECT revos.apply_schema({dollar(json.dumps(payload))}::jsonb) AS env \\gset\n"
        + f"SELECT {ELAPSED} || '|' || (:'env'::jsonb -> 'result' ->> 'status') || '|' ||"
        + " (:'env'::jsonb -> 'meta_out' ->> 'latency_ms');\n"
        + "SELECT :'env';\n")
    out, _ = srv.psql(db, file=f)
    lines = out.strip().splitlines()
    res = parse_elapsed(lines[0])
    status, latency = lines[0].split("|")[4:6]
    env = json.loads("\n".join(lines[1:]))
    if status != want:
        raise BenchError(f"{tag}: apply_schema returned {status!r}, expected {want!r}: "
                         + json.dumps(env["result"])[:1500])
    res["ddl_ms"] = None
    if want == "applied":
        res["ddl_ms"] = float(srv.one(db, "SELECT execution_time_ms FROM revos.schema_migrations "
                                          f"WHERE version = {dollar(payload['schema_version'])} AND status = 'applied'"))
    res["latency_ms"] = float(latency)
    res["env"] = env
    return res


def plan_sql(srv, payload, name):
    """plan_schema's SQL for a fresh database: every plan in one empty database (plan_schema
    changes nothing), created on first use."""
    db = getattr(srv, "plan_db", None)
    if db is None:
        db = srv.plan_db = srv.fresh_db("plan")
    out = srv.one(db, f"SELECT revos.plan_schema({dollar(json.dumps(payload))}::jsonb)")
    env = json.loads(out)
    if env["result"]["status"] != "planned":
        raise BenchError(f"plan_schema returned {env['result']['status']}: {json.dumps(env['result'])[:1500]}")
    sql = env["result"]["plan"]["sql"]
    (WORK / f"{name}.plan.sql").write_text(sql)
    return sql, env


def run_side(srv, side, name, payload, sql):
    """One side in a fresh database; returns the timing dict."""
    db = srv.fresh_db(name)
    if side == "sql":
        return timed_sql(srv, db, sql, name)
    if side == "do":
        return timed_do(srv, db, sql, name)
    return timed_apply(srv, db, payload, name)
