"""P7: changing a big table under a writer, revos against the statement by hand (blocking forms);
the plan's lock / rewrite / scan fields against what was measured."""
import json
import os
import re
import subprocess
import time

from .core import PGBIN, WORK, BenchError, dollar, fmt_ms, med, pct, say
from .timed import ELAPSED, START, parse_elapsed

TID = "('00000000-0000-0000-0000-' || lpad(({n})::text, 12, '0'))"

# P7: changing a big table while it is written to. v1 creates `parent` and `big`; each later
# version adds one thing; the same change by hand (the statement a user would type) runs on an
# identical copy. A pgbench writer inserts into big during each change: its max latency is how
# long writers were blocked.
P7_STEPS = [
    ("nullable column", lambda t: t["columns"].append({"name": "n1", "type": "text"}),
     "ALTER TABLE public.big ADD COLUMN n1 text"),
    ("column with a constant default", lambda t: t["columns"].append({"name": "d1", "type": "integer", "default": "7"}),
     "ALTER TABLE public.big ADD COLUMN d1 integer DEFAULT 7"),
    ("index", lambda t: t.setdefault("indexes", []).append({"columns": ["c"]}),
     "CREATE INDEX big_c_hand_idx ON public.big (c)"),
    ("foreign key", lambda t: next(c for c in t["columns"] if c["name"] == "ref_id").update(references="parent"),
     "ALTER TABLE public.big ADD CONSTRAINT big_ref_hand_fk FOREIGN KEY (tenant_id, ref_id) "
     "REFERENCES public.parent (tenant_id, id)"),
    ("check", lambda t: t.setdefault("checks", []).append({"name": "big_a_nonneg", "expression": "a >= 0"}),
     "ALTER TABLE public.big ADD CONSTRAINT big_a_hand_check CHECK (a >= 0)"),
    # SET NOT NULL is a risk revos blocks unless options.allow_destructive (rows holding NULL would fail it)
    ("NOT NULL on a clean column", lambda t: next(c for c in t["columns"] if c["name"] == "c").update(not_null=True),
     "ALTER TABLE public.big ALTER COLUMN c SET NOT NULL"),
]


def p7_payloads():
    parent = {"name": "parent", "schema": "public", "columns": [{"name": "label", "type": "text"}],
              "unique": [["tenant_id", "id"]]}
    big = {"name": "big", "schema": "public", "columns": [
        {"name": "a", "type": "integer"}, {"name": "b", "type": "text"}, {"name": "c", "type": "text"},
        {"name": "ref_id", "type": "uuid"}]}
    out = [{"schema_version": "bench-p7-001", "description": "benchmark: big table",
            "tables": [parent, big]}]
    for i, (_, change, _) in enumerate(P7_STEPS):
        p = json.loads(json.dumps(out[-1]))
        p["schema_version"] = f"bench-p7-{i + 2:03d}"
        change(p["tables"][1])
        if P7_STEPS[i][0].startswith("NOT NULL"):
            p["options"] = {"allow_destructive": True}
        out.append(p)
    return out


def p7_writer(srv, db, script, tag, seconds):
    """pgbench, 1 client, per-transaction log; returns (Popen, log prefix)."""
    for old in WORK.glob(f"{tag}.*"):
        old.unlink()
    prefix = WORK / tag
    cmd = [str(PGBIN / "pgbench"), "-n", "-c", "1", "-j", "1", "-T", str(seconds), "-l",
           f"--log-prefix={prefix}", "-f", str(script), srv.dsn_for(db)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PGAPPNAME="revos-bench-writer")), prefix


def p7_latencies(proc, prefix):
    out, _ = proc.communicate(timeout=900)
    if proc.returncode != 0:
        raise BenchError(f"P7: writer pgbench failed:\n{out[-1500:]}")
    lat = []
    for f in WORK.glob(prefix.name + ".*"):
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3:
                lat.append(int(parts[2]) / 1000.0)
    if not lat:
        raise BenchError(f"P7: the writer logged no transactions:\n{out[-1500:]}")
    return lat


# Which lock the changing transaction holds on big, whether big's file changed (a rewrite) and
# how many rows the transaction read from it, read inside that transaction just before its
# COMMIT: its own reads (pg_stat_xact_*, live) plus those of its parallel workers (a parallel
# CREATE INDEX or validation query: they reach the shared pg_stat_user_tables when the workers
# exit, before the statement ends; the writer and the sampler read no row of big).
P7_MODES = ["AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
            "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"]
P7_READS = ("coalesce((SELECT s.seq_tup_read + coalesce(s.idx_tup_fetch, 0) FROM pg_catalog.{view} s"
            " WHERE s.relid = 'public.big'::regclass), 0)")
P7_OBSERVE = ("pg_relation_filenode('public.big') || '|' || " + P7_READS.format(view="pg_stat_xact_user_tables")
              + " || '|' || " + P7_READS.format(view="pg_stat_user_tables") + " || '|' || coalesce(("
              "SELECT l.mode FROM pg_locks l WHERE l.pid = pg_backend_pid() AND l.locktype = 'relation' AND l.granted"
              " AND l.relation = 'public.big'::regclass ORDER BY array_position(ARRAY["
              + ", ".join(f"'{m}'" for m in P7_MODES) + "], l.mode) DESC LIMIT 1), '-')")


def p7_timed(srv, db, body, tag):
    """Runs `body` (apply_schema into :env, or the statement by hand) in one transaction, timed
    like timed_sql, with P7_OBSERVE before and after it. Returns (ms, observed, env text)."""
    f = WORK / f"{tag}.sql"
    clear = "SELECT pg_catalog.pg_stat_clear_snapshot() AS cleared \\gset\n"
    f.write_text(START + "SELECT '' AS env \\gset\nBEGIN;\n" + clear + f"SELECT {P7_OBSERVE} AS before \\gset\n" + body
                 + clear + f"SELECT {P7_OBSERVE} AS after \\gset\nCOMMIT;\n" + f"SELECT {ELAPSED};\n"
                 + "SELECT :'before' || '#' || :'after';\nSELECT :'env';\n")
    out, _ = srv.psql(db, file=f)
    lines = out.strip().splitlines()
    ms = parse_elapsed(lines[0])["ms"]
    (file0, own0, all0, _), (file1, own1, all1, lock) = (x.split("|") for x in lines[1].split("#"))
    lock = None if lock == "-" else " ".join(re.findall("[A-Z][a-z]+", lock[:-len("Lock")])).upper()
    read = int(own1) - int(own0) + int(all1) - int(all0)
    return ms, {"lock": lock, "rewrote": file0 != file1, "read": read}, "\n".join(lines[2:])


def p7_sampler(srv, db):
    """Watches pg_locks every ~2 ms until the writer's session is gone: the time between the
    first and the last sample that saw an INSERT (ROW EXCLUSIVE) waiting for big's lock."""
    sql = """CREATE TEMP TABLE p7_wait (t timestamptz);
DO $$
DECLARE i int := 0; t0 timestamptz := clock_timestamp();
BEGIN
  LOOP
    i := i + 1;
    INSERT INTO p7_wait SELECT clock_timestamp() FROM pg_locks l
     WHERE l.locktype = 'relation' AND l.relation = 'public.big'::regclass AND NOT l.granted
       AND l.mode = 'RowExclusiveLock' LIMIT 1;
    PERFORM pg_stat_clear_snapshot();
    EXIT WHEN (i > 100 AND NOT EXISTS (SELECT 1 FROM pg_stat_activity
                                        WHERE application_name = 'revos-bench-writer' AND datname = current_database()))
           OR clock_timestamp() - t0 > interval '30 minutes';
    PERFORM pg_sleep(0.002);
  END LOOP;
END $$;
SELECT coalesce(round((extract(epoch FROM max(t) - min(t)) * 1000)::numeric, 1), 0) || '|' || count(*) FROM p7_wait;
"""
    cmd = [str(PGBIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", srv.dsn_for(db), "-c", sql]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, PGAPPNAME="revos-bench-sampler"))


def p7_waited(proc):
    """(ms between the first and last sample that saw the writer waiting, samples that saw it)."""
    out, _ = proc.communicate(timeout=1900)
    if proc.returncode != 0:
        raise BenchError(f"P7: lock sampler failed:\n{out[-1500:]}")
    ms, seen = out.strip().splitlines()[-1].split("|")
    return float(ms), int(seen)


def p7_plan_fields(env):
    """(lock, rewrites, scans, est_rows) over the plan's steps on `big`, where the plan has them."""
    steps = [x for x in env["result"].get("plan", {}).get("steps", []) if '"big"' in x.get("sql", "")]
    order = ["ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE", "SHARE",
             "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"]
    locks = [str(x.get("lock")).upper().replace("_", " ") for x in steps if x.get("lock")]
    lock = max(locks, key=lambda x: order.index(x) if x in order else -1) if locks else None
    has = lambda k: any(k in x for x in steps)  # noqa: E731
    rewrites = any(bool(x.get("rewrites")) for x in steps) if has("rewrites") else None
    scans = any(bool(x.get("scans")) for x in steps) if has("scans") else None
    est = max((x.get("est_rows") or 0 for x in steps), default=None) if has("est_rows") else None
    return lock, rewrites, scans, est, [x.get("sql", "")[:160] for x in steps]


# Locks that conflict with the ROW EXCLUSIVE lock an INSERT takes.
P7_BLOCKING = {"SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"}


def p7_agreement(lock, rewrites, scans, est, rows, obs, waited_seen):
    """Each plan field against what was measured in the apply's transaction: the lock it held on
    big, a new relfilenode, at least 90 % of the rows read, est_rows within 25 % of count(*), and
    a writer seen waiting exactly when the planned lock conflicts with INSERT. Returns the list
    of fields that disagree (None when the plan has no such fields)."""
    if lock is None or rewrites is None or scans is None:
        return None
    bad = []
    if lock != obs["lock"]:
        bad.append(f"lock (held {obs['lock']})")
    if bool(rewrites) != obs["rewrote"]:
        bad.append("rewrites")
    if bool(scans) != (obs["read"] >= 0.9 * rows):
        bad.append(f"scans (read {obs['read']:,} of {rows:,})")
    if est is None or abs(est - rows) > 0.25 * rows:
        bad.append(f"est_rows ({est} vs {rows:,})")
    if (lock in P7_BLOCKING) != (waited_seen > 0):
        bad.append("writer " + ("not seen waiting" if lock in P7_BLOCKING else "seen waiting"))
    return bad


def setup(srv, cfg, payloads):
    n, T = cfg["p7_rows"], cfg["p7_tenants"]
    dbs = {}
    for side in ("api", "hand"):
        db = srv.fresh_db(f"p7_{side}")
        res = srv.one(db, f"SELECT revos.apply_schema({dollar(json.dumps(payloads[0]))}::jsonb) -> 'result' ->> 'status'")
        if res != "applied":
            raise BenchError(f"P7: apply_schema of v1 returned {res!r}")
        t = time.monotonic()
        srv.psql(db, f"""
INSERT INTO parent (tenant_id, label) SELECT {TID.format(n='1 + i % ' + str(T))}::uuid, 'parent ' || i
FROM generate_series(0, {T * 10 - 1}) i;
INSERT INTO big (tenant_id, a, b, c, ref_id)
SELECT p.tenant_id, i % 1000, 'row ' || i, 'c' || (i % 5000), p.id
FROM generate_series(1, {n}) i
JOIN (SELECT tenant_id, id, row_number() OVER (ORDER BY tenant_id, id) - 1 AS k FROM parent) p
  ON p.k = i % {T * 10};
VACUUM ANALYZE parent; VACUUM ANALYZE big;""")
        say(f"P7: {side}: loaded {n:,} rows into big in {time.monotonic() - t:.1f}s")
        dbs[side] = db
    one = srv.one(dbs["api"], "SELECT tenant_id || '|' || id FROM parent ORDER BY tenant_id, id LIMIT 1").split("|")
    writer = WORK / "p7_writer.pgbench"
    writer.write_text(f"INSERT INTO public.big (tenant_id, a, b, c, ref_id) VALUES ('{one[0]}', 1, 'writer', 'w', "
                      f"(SELECT id FROM public.parent WHERE tenant_id = '{one[0]}' ORDER BY id LIMIT 1));\n")
    return dbs, writer


def writer_alone(srv, db, writer, tag, seconds):
    """The writer with no change running: its latencies (ms)."""
    proc, prefix = p7_writer(srv, db, writer, tag, seconds)
    return p7_latencies(proc, prefix)


def one_side(srv, cfg, side, db, writer, payload, hand_sql, k, what):
    proc, prefix = p7_writer(srv, db, writer, f"p7_w_{side}_{k}", cfg["p7_writer_s"])
    sampler = p7_sampler(srv, db)
    time.sleep(0.5)
    if side == "api":
        body = f"SELECT revos.apply_schema({dollar(json.dumps(payload))}::jsonb) AS env \\gset\n"
        ms, obs, env = p7_timed(srv, db, body, f"p7_api_{k}")
        status = json.loads(env)["result"]["status"]
        if status != "applied":
            raise BenchError(f"P7 {what}: apply_schema returned {status!r}: {env[:1500]}")
    else:
        ms, obs, _ = p7_timed(srv, db, hand_sql + ";\n", f"p7_hand_{k}")
    lat = p7_latencies(proc, prefix)
    waited = p7_waited(sampler)
    say(f"P7 {what}: {side:4s} {fmt_ms(ms)}; writer p50/p99/max {med(lat):.2f}/{pct(lat, 99):.2f}/{max(lat):.1f} ms "
        f"({len(lat)} inserts), seen waiting for {waited[0]:.1f} ms ({waited[1]} samples); held {obs['lock']}, "
        f"rewrote {obs['rewrote']}, read {obs['read']:,} rows")
    return {"ms": ms, "lat": lat, "obs": obs, "waited": waited}


def step(srv, cfg, dbs, writer, payload, k, what, hand_sql):
    # the writer of the step before added rows (15 % of big per step at quick size): analyze
    # as autovacuum would, so that est_rows (pg_class.reltuples) is not judged on our writes
    for db in dbs.values():
        srv.psql(db, "ANALYZE public.big")
    plan_env = json.loads(srv.one(dbs["api"], f"SELECT revos.plan_schema({dollar(json.dumps(payload))}::jsonb)"))
    if plan_env["result"]["status"] != "planned":
        raise BenchError(f"P7 {what}: plan_schema returned {plan_env['result']['status']}: "
                         + json.dumps(plan_env["result"])[:1500])
    plan = p7_plan_fields(plan_env)
    count = int(srv.one(dbs["api"], "SELECT count(*) FROM public.big"))
    got = {}
    for side in (("api", "hand") if k % 2 == 0 else ("hand", "api")):
        got[side + "_idle"] = writer_alone(srv, dbs[side], writer, f"p7_idle_{side}_{k}", cfg["p7_writer_s"])
        got[side] = one_side(srv, cfg, side, dbs[side], writer, payload, hand_sql, k, what)
    return {"what": what, "got": got, "plan": plan, "hand_sql": hand_sql, "count": count}


def lat3(lat):
    return f"{pct(lat, 50):.2f} / {pct(lat, 95):.2f} / {pct(lat, 99):.2f} / {max(lat):.1f}"


def table_row(s):
    lock, rewrites, scans, est, _ = s["plan"]
    a, h = s["got"]["api"], s["got"]["hand"]
    bad = p7_agreement(lock, rewrites, scans, est, s["count"], a["obs"], a["waited"][1])
    agree = "plan has no lock/scan fields" if bad is None else ("yes" if not bad else "**no**: " + ", ".join(bad))
    row = (f"| {s['what']} | {a['ms']:.1f} | {lat3(s['got']['api_idle'])} | {lat3(a['lat'])} | "
           f"{a['waited'][0]:.1f} ({a['waited'][1]}) | {h['ms']:.1f} | {lat3(s['got']['hand_idle'])} | {lat3(h['lat'])} | "
           f"{h['waited'][0]:.1f} ({h['waited'][1]}) | {lock or '-'} | {'-' if rewrites is None else rewrites} | "
           f"{'-' if scans is None else scans} | {'-' if est is None else est} | {a['obs']['lock'] or '-'} | "
           f"{a['obs']['rewrote']} | {a['obs']['read']:,} | {s['count']:,} | {h['obs']['lock'] or '-'} | "
           f"{h['obs']['rewrote']} | {h['obs']['read']:,} | {agree} |\n")
    return row, bad


def p7(srv, cfg, rep, state):
    payloads = p7_payloads()
    dbs, writer = setup(srv, cfg, payloads)
    steps = [step(srv, cfg, dbs, writer, payloads[k + 1], k, what, hand_sql)
             for k, (what, _, hand_sql) in enumerate(P7_STEPS)]
    table, agree_n, known = [], 0, 0
    for s in steps:
        row, bad = table_row(s)
        table.append(row)
        known += bad is not None
        agree_n += bad is not None and not bad
    n = cfg["p7_rows"]
    rep.info(f"P7 big table ({n:,} rows) changed under a writer (blocking forms)",
             "one run per change, the two sides alternating (no repeat)",
             "; ".join(f"{s['what']}: apply {s['got']['api']['ms']:.0f} ms, writer p99 {pct(s['got']['api']['lat'], 99):.1f} "
                       f"ms (alone {pct(s['got']['api_idle'], 99):.1f}), max {max(s['got']['api']['lat']):.0f} ms "
                       f"(by hand {s['got']['hand']['ms']:.0f} / p99 {pct(s['got']['hand']['lat'], 99):.1f} / max "
                       f"{max(s['got']['hand']['lat']):.0f} ms)" for s in steps),
             f"plan agrees {agree_n}/{known}" if known else "-")
    rep.details.append(details(cfg, steps, table))


def details(cfg, steps, table):
    n, T = cfg["p7_rows"], cfg["p7_tenants"]
    return f"""### P7 changing a big table under a writer (blocking forms)

`big` ({n:,} rows, {T} tenants, created by apply_schema v1 with `parent`, {T * 10} rows) gets one
change per version: {', '.join(w for w, *_ in P7_STEPS)}. One run per change (no repeat; the order of the
two sides alternates per step). The apply side runs `revos.apply_schema` of the next version (timed
like P1: new session, client time); the hand side runs the one statement a user would type (below) in
an identical database. Each side runs in one transaction, which reads, just before its COMMIT, the
strongest lock it holds on big (pg_locks), big's relfilenode (changed = rewritten) and the rows it
read from big (pg_stat_xact_user_tables, its own reads, revos's checks included, plus its parallel
workers' from pg_stat_user_tables). Before each side, a pgbench writer (1 client, `-T {cfg['p7_writer_s']}`,
per-transaction log) inserts into big alone ("alone"); then the same writer runs during the change
("during"), which starts 0.5 s after it, and a sampler reads pg_locks every ~2 ms: "writer waited" is
the time between the first and last sample that saw the INSERT waiting for big's lock (in
parentheses: how many samples saw it; one sample = a wait under ~4 ms). Writer latencies are
p50 / p95 / p99 / max in ms. Plan fields: from `revos.plan_schema` of that version just before the
apply (strongest lock over its steps on big; any that rewrites / scans; the largest est_rows); rows =
count(*) just before. big is analyzed before each step. "Agrees" = the lock held is the plan's, a
rewrite exactly when planned, ≥ 90 % of the rows read exactly when it plans a scan, est_rows within
25 % of the rows, and the writer seen waiting exactly when the planned lock conflicts with INSERT.
These are the blocking forms; the online forms are P7 online (bench/online).

| change | apply (ms) | writer alone | writer during | writer waited (ms) | by hand (ms) | by hand: writer alone | writer during | writer waited (ms) | plan lock | rewrites | scans | est_rows | held | rewrote | rows read | rows | by hand: held | rewrote | rows read | agrees |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|
""" + "".join(table) + "\nThe SQL of each version's plan and the statement run by hand:\n\n```\n" + "\n".join(
        f"-- {s['what']}\n" + "\n".join(s["plan"][4]) + f"\n-- by hand:\n{s['hand_sql']};" for s in steps) + "\n```\n"
