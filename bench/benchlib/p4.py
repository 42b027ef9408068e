"""P4: the ledger write (revos.log_event) against a bare insert and a same-shaped insert; P4': one
pass of verify_ledger over a large ledger grown by concurrent writers, warm and cold."""
import json
import os
import time

from .core import WORK, BenchError, Goal, load1, med, pct, say

BODY = ("jsonb_build_object('event_type', 'bench.tick', 'tenant_id', 'tenant-' || :t, 'subject_type', 'bench', "
        "'subject_id', 's-' || :t, 'payload', jsonb_build_object('n', :t, 'note', 'benchmark event'))")
VALUES = ("'tenant-' || :t, 'bench.tick', 'bench', 's-' || :t, jsonb_build_object('n', :t, 'note', 'benchmark event')")
SQL = {
    "log_event": f"SELECT revos.log_event({BODY});\n",
    # the same shape as revos.events: columns, identity, defaults, checks, indexes; no trigger
    "same": ("INSERT INTO events_plain (tenant_id, event_type, subject_type, subject_id, payload, prev_hash, hash) "
             f"VALUES ({VALUES}, '', '') RETURNING id, event_id;\n"),
    # truly bare: the columns the caller sends and one unique key, nothing else
    "bare": f"INSERT INTO events_bare (tenant_id, event_type, subject_type, subject_id, payload) VALUES ({VALUES});\n",
}
TABLES = ("CREATE TABLE events_plain (LIKE revos.events INCLUDING ALL);\n"
          "CREATE TABLE events_bare (tenant_id text, event_type text, subject_type text, subject_id text, "
          "payload jsonb, idempotency_key text UNIQUE);\n")
LABEL = {"same": "same-shaped copy of revos.events (no trigger)",
         "bare": "truly bare insert (payload columns + one unique key)"}
PICK = {"even": "\\set t random(1, :ntenants)\n",
        "hot": "\\set r random(1, 2 * :ntenants)\n\\set t CASE WHEN :r <= :ntenants THEN :r ELSE 1 END\n"}


def scripts(shape):
    out = {}
    for k, sql in SQL.items():
        f = WORK / f"p4_{k}_{shape}.pgbench"
        f.write_text(PICK[shape] + sql)
        out[k] = f
    return out


def measure(srv, db, cfg, sides, shape, runs, tag):
    """`runs` rounds of pgbench over `sides` (order alternating). Per side: tps, every
    transaction's latency, p99 per run, WAL bytes per transaction per run; the loads."""
    sc = scripts(shape)
    args = [*cfg["p4_bench"], "-c", str(cfg["p4_clients"]), "-j", str(cfg["p4_threads"])]
    out = {k: {"tps": [], "tx": [], "p99": [], "wal": [], "xacts": 0} for k in sides}
    loads = []
    for r in range(runs):
        loads.append(load1())
        for k in (sides if r % 2 == 0 else tuple(reversed(sides))):
            lsn0 = srv.wal_lsn(db)
            res = srv.pgbench(db, sc[k], args, defines={"ntenants": cfg["p4_tenants"]}, tag=f"{tag}_{k}_{r}", log=True)
            wal = srv.wal_bytes(db, lsn0, srv.wal_lsn(db))
            o = out[k]
            o["tps"].append(res["tps"])
            o["tx"] += res["lat"]
            o["p99"].append(pct(res["lat"], 99))
            o["wal"].append(wal / res["xacts"])
            o["xacts"] += res["xacts"]
            say(f"{tag} run {r + 1}/{runs}: {k:9s} {res['tps']:.0f} tps, p99 {pct(res['lat'], 99):.3f} ms, "
                f"WAL {wal / res['xacts']:.0f} B/event")
    return out, loads


def check_ledger(srv, db, events):
    got = int(srv.one(db, "SELECT count(*) FROM revos.events WHERE event_type = 'bench.tick'"))
    if got != events:
        raise BenchError(f"P4: pgbench processed {events} log_event calls but revos.events has {got} rows")
    t = time.monotonic()
    ver = json.loads(srv.one(db, "SELECT revos.verify_ledger()"))
    if not ver.get("ok"):
        raise BenchError(f"P4: verify_ledger failed: {ver}")
    return ver, time.monotonic() - t


def p4_writes(srv, cfg, rep, suffix, name, shapes):
    """The P4 write figures on one server; `suffix` labels the server (", durable")."""
    db = srv.fresh_db(name)
    srv.psql(db, TABLES)
    chunks, events = [], 0
    for shape in shapes:
        sides = ("log_event", "bare", "same") if shape == "even" else ("log_event", "bare")
        runs = cfg["p4_runs"] if shape == "even" else cfg["p4_hot_runs"]
        out, loads = measure(srv, db, cfg, sides, shape, runs, f"P4{suffix.replace(', ', '_')}_{shape}")
        judge(rep, cfg, out, shape, suffix, len(loads))
        chunks.append(table_md(out, loads, sides, shape))
        events += out["log_event"]["xacts"]
    ver, ver_s = check_ledger(srv, db, events)
    return chunks, ver, ver_s


def judge(rep, cfg, out, shape, suffix, runs):
    le = out["log_event"]
    how = f"{runs} runs × {len(out)} sides × {' '.join(cfg['p4_bench'])}, {cfg['p4_clients']} clients, interleaved"
    lat = lambda o: f"p50/p95/p99 {pct(o['tx'], 50):.3f}/{pct(o['tx'], 95):.3f}/{pct(o['tx'], 99):.3f} ms"  # noqa: E731
    for k in [x for x in out if x != "log_event"]:
        o = out[k]
        ratios = [a / b for a, b in zip(le["tps"], o["tps"])]
        measured = (f"log_event {med(le['tps']):.0f} tps ({lat(le)}; WAL {med(le['wal']):.0f} B/event) vs "
                    f"{med(o['tps']):.0f} tps ({lat(o)}; WAL {med(o['wal']):.0f} B/event)")
        fig = f"P4 ledger write vs {LABEL[k]}{suffix}"
        if shape == "hot":
            rep.info(f"{fig}, one hot chain (one tenant: half the events)", how, measured,
                     ", ".join(f"{x:.3f}" for x in ratios), f"{med(ratios):.3f} ({min(ratios):.3f}–{max(ratios):.3f})")
        else:
            rep.goal(f"{fig} ({cfg['p4_tenants']} tenants)", how, measured,
                     Goal(ratios, ">=", 0.50, every=(k == "bare")))


def table_md(out, loads, sides, shape):
    head = " | ".join(f"{k}: tps | p99 (ms) | WAL B/event" for k in sides)
    rows = ""
    for i in range(len(loads)):
        cells = " | ".join(f"{out[k]['tps'][i]:.0f} | {out[k]['p99'][i]:.3f} | {out[k]['wal'][i]:.0f}" for k in sides)
        ratio = out["log_event"]["tps"][i] / out["bare"]["tps"][i]
        rows += f"| {i + 1} | {loads[i]:.1f} | {cells} | {ratio:.3f}{'' if ratio >= 0.5 or shape == 'hot' else ' ✗'} |\n"
    all_lat = "; ".join(f"{k} {pct(out[k]['tx'], 50):.3f} / {pct(out[k]['tx'], 95):.3f} / {pct(out[k]['tx'], 99):.3f}"
                        for k in sides)
    what = "even tenants" if shape == "even" else "one hot chain (tenant 1 takes half the events)"
    return f"""
**{what}**. Transaction latency p50 / p95 / p99 over all runs (ms): {all_lat}.

| run | load | {head} | log_event / bare |
|---|---|{'---|' * (3 * len(sides))}---|
{rows}"""


def p4(srv, cfg, rep, state, suffix="", name="p4"):
    chunks, ver, ver_s = p4_writes(srv, cfg, rep, suffix, name, ("even", "hot"))
    rep.details.append(f"""### P4 ledger write{suffix} ({srv.label})

pgbench `-n {' '.join(cfg['p4_bench'])} -c {cfg['p4_clients']} -j {cfg['p4_threads']}`, superuser, a random tenant of
{cfg['p4_tenants']} per call (hot chain: tenant 1 for half the calls); the sides interleaved, the order alternating
from run to run. log_event: `SELECT revos.log_event(jsonb_build_object(…))` (validation, chain-head
upsert, previous hash lookup, sha256). bare: `INSERT` of the same values into `events_bare (tenant_id,
event_type, subject_type, subject_id, payload, idempotency_key UNIQUE)` — the columns the caller sends and
one unique key, nothing else. same: `INSERT … RETURNING id, event_id` into `events_plain (LIKE revos.events
INCLUDING ALL)` — the same columns, identity, defaults and indexes, no trigger (prev_hash/hash written as
''). Goal: log_event ≥ 0.5 of the bare insert's tps in every run (✗ = under), and of the same-shaped
insert's. Latencies from pgbench's per-transaction log; WAL = `pg_current_wal_insert_lsn()` after the
run minus before, over its transactions. Afterwards revos.events holds exactly the events pgbench
recorded and `revos.verify_ledger()` is ok ({ver['events_checked']:,} events, {ver['chains_checked']} chains, {ver_s:.1f} s).
""" + "".join(chunks))


# ------------------------------------------------------------------------------------------------
# P4': verify_ledger over a large ledger
# ------------------------------------------------------------------------------------------------
def grow_ledger(srv, db, cfg):
    """nv events from 4 concurrent writers, `per` events of one random tenant per transaction
    (through the chain trigger; synchronous_commit off in the writers' sessions only)."""
    nv, per, clients = cfg["p4_verify_events"], cfg["p4_verify_batch"], 4
    f = WORK / "p4_grow.pgbench"
    f.write_text("\\set t random(1, :ntenants)\n"
                 "INSERT INTO revos.events (id, tenant_id, event_type, subject_type, subject_id, payload) "
                 f"SELECT NULL, 'tenant-' || :t, 'bench.bulk', 'bench', 's-' || i, "
                 f"jsonb_build_object('n', i, 'note', 'benchmark event') FROM generate_series(1, {per}) i;\n")
    t = time.monotonic()
    srv.pgbench(db, f, ["-c", str(clients), "-j", "2", "-t", str(nv // per // clients)],
                env={"PGOPTIONS": "-c synchronous_commit=off"}, defines={"ntenants": cfg["p4_tenants"]}, tag="p4_grow")
    srv.psql(db, "VACUUM ANALYZE revos.events")
    n = int(srv.one(db, "SELECT count(*) FROM revos.events"))
    size = srv.one(db, "SELECT pg_size_pretty(pg_total_relation_size('revos.events'))")
    return n, size, time.monotonic() - t


def verify_once(srv, db, n):
    t = time.monotonic()
    v = json.loads(srv.one(db, "SELECT revos.verify_ledger()"))
    s = time.monotonic() - t
    if not v.get("ok") or v.get("events_checked") != n:
        raise BenchError(f"P4': verify_ledger over {n} events: {v}")
    return s


def ledger_files(srv, db):
    """The data files of revos.events, its indexes and TOAST (every fork and segment)."""
    data = srv.setting("data_directory")
    paths = srv.one(db, "SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.oid = 'revos.events'::regclass "
                        "OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = 'revos.events'::regclass) "
                        "OR c.oid = (SELECT reltoastrelid FROM pg_class WHERE oid = 'revos.events'::regclass)").split()
    files = []
    for p in paths:
        base = os.path.join(data, p)
        d = os.path.dirname(base)
        stem = os.path.basename(base)
        files += [os.path.join(d, x) for x in os.listdir(d) if x == stem or x.startswith(stem + ".") or x.startswith(stem + "_")]
    return files


def drop_os_cache(files):
    """posix_fadvise(DONTNEED) on each file (the server is stopped: its pages are clean)."""
    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def p4_verify(srv, cfg, rep, state):
    db = srv.fresh_db("p4_verify")
    n, size, load_s = grow_ledger(srv, db, cfg)
    say(f"P4': {n:,} events ({size}) written by 4 concurrent writers in {load_s:.0f} s")
    warm = [verify_once(srv, db, n) for _ in range(cfg["p4_verify_runs"])]
    say(f"P4': verify_ledger warm: {', '.join(f'{x:.2f}' for x in warm)} s")
    how = f"{len(warm)} call{'s' if len(warm) > 1 else ''}, one after another"
    full = n >= 1_000_000
    label = f"P4' verify_ledger() over {n:,} events ({cfg['p4_tenants']} chains, 4 concurrent writers)"
    g = Goal(warm, "<=", 1.0, every=True, unit=" s", fmt="{:.2f}")
    if full:
        rep.goal(f"{label}, warm cache ({srv.label})", how, f"{med(warm):.2f} s", g)
    else:
        rep.info(f"{label}, warm cache ({srv.label}; quick size, goal at 1M)", how, f"{med(warm):.2f} s", g.runs_txt())
    cold, why = cold_runs(srv, db, n, cfg)
    if cold is None:
        rep.skip(f"P4' verify_ledger, cold cache ({srv.label})", why)
    else:
        say(f"P4': verify_ledger cold: {', '.join(f'{x:.2f}' for x in cold)} s ({why})")
        gc = Goal(cold, "<=", 1.0, every=True, unit=" s", fmt="{:.2f}")
        if full:
            rep.goal(f"{label}, cold cache ({srv.label})", f"{len(cold)} call{'s' if len(cold) > 1 else ''}, each after {why}", f"{med(cold):.2f} s", gc)
        else:
            rep.info(f"{label}, cold cache ({srv.label}; quick size)", f"{len(cold)} call{'s' if len(cold) > 1 else ''}, each after {why}",
                     f"{med(cold):.2f} s", gc.runs_txt())
    rep.details.append(f"""### P4' verify_ledger ({srv.label})

{n:,} events in {cfg['p4_tenants']} chains ({size} with indexes), written through the chain trigger by 4
concurrent pgbench writers, {cfg['p4_verify_batch']} events of one random tenant per transaction ({load_s:.0f} s), then
VACUUM ANALYZE. `SELECT revos.verify_ledger()` timed by the client: warm (one call after another)
{', '.join(f'{x:.2f}' for x in warm)} s; cold {'(' + why + ') ' + ', '.join(f'{x:.2f}' for x in cold) + ' s' if cold else 'SKIPPED: ' + why}.
""")


def cold_runs(srv, db, n, cfg):
    """verify_ledger after a restart (shared buffers empty) and, where this process may read the
    files, with the ledger's files dropped from the OS page cache. (None, why) when impossible."""
    ctl = getattr(srv, "control", None)
    if ctl is None:
        return None, "the server is not this run's own (--dsn): it cannot be restarted"
    files = ledger_files(srv, db)
    out, dropped = [], ctl.on_disk
    for _ in range(cfg["p4_verify_cold_runs"]):
        ctl.stop()
        if dropped:
            try:
                drop_os_cache(files)
            except OSError:
                dropped = False
        ctl.start()
        out.append(verify_once(srv, db, n))
    why = ("a server restart (empty shared buffers) with the ledger's files dropped from the OS page cache "
           "(posix_fadvise DONTNEED)" if dropped else
           "a server restart (empty shared buffers; the data directory is in tmpfs or its files are not "
           "readable here, so the OS cache stays warm)")
    return out, why
