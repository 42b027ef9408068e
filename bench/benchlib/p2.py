"""P2: re-applying the applied schema (no-op) and a conflicting one; warm, first call of a session,
and client side with a new connection per call (pgbench -C)."""
import json
import re

from .core import ROOT, WORK, BenchError, Goal, dollar, fmt_ms, load1, med, say

WANT = {"noop": "noop", "conflict": "conflict", "variant": "noop"}
COL = {"noop": "j", "conflict": "other", "variant": "variant"}


def p2_block(label):
    """One DO block: one apply_schema call of the jsonb in bench_payload.<col>, timed inside."""
    return f"""DO $b$
DECLARE j jsonb := (SELECT p.{COL[label]} FROM bench_payload p); t0 timestamptz; e jsonb; ms float8;
BEGIN
    t0 := clock_timestamp();
    e := revos.apply_schema(j);
    ms := extract(epoch FROM clock_timestamp() - t0) * 1000;
    RAISE NOTICE '{label}|%|%|%', e -> 'result' ->> 'status', e -> 'meta_out' ->> 'latency_ms', ms;
END $b$;
"""


def p2_calls(srv, db, labels, tag, load=True):
    """Runs one DO block per label in ONE new session; returns [(label, status, latency_ms, ms)]."""
    f = WORK / f"{tag}.sql"
    f.write_text(("LOAD :'revos_lib';\n" if load else "") + "".join(p2_block(x) for x in labels))
    _, err = srv.psql(db, file=f)
    rows = []
    for ln in err.splitlines():
        m = re.search(r"NOTICE:\s+(\w+)\|([^|]*)\|([^|]*)\|([\d.]+)", ln)
        if m:
            rows.append((m.group(1), m.group(2), float(m.group(3) or 0), float(m.group(4))))
    if len(rows) != len(labels):
        raise BenchError(f"P2: expected {len(labels)} results, got {len(rows)}:\n{err[-1500:]}")
    for label, status, _, _ in rows:
        if status != WANT[label]:
            raise BenchError(f"P2: {label} call returned {status!r}, expected {WANT[label]!r}")
    return rows


def payloads(payload):
    """conflict: same version, one more column in the first table; variant: the same schema with
    type names upper-cased (other jsonb bytes, same normalized schema: a noop)."""
    other = json.loads(json.dumps(payload))
    other["tables"][0]["columns"].append({"name": "bench_extra", "type": "text"})
    variant = json.loads(json.dumps(payload))
    for t in variant["tables"]:
        for c in t["columns"]:
            if c["type"] in ("text", "integer", "bigint", "boolean", "date", "uuid"):
                c["type"] = c["type"].upper()
    return other, variant


def warm(srv, db, cfg):
    """cfg['p2_sessions'] sessions; in each one call of each payload first, then p2_iters rounds of
    the three in alternating order. Returns per session {label: [ms]}, the first sights, loads."""
    sessions, firsts, loads = [], None, []
    for s in range(cfg["p2_sessions"]):
        labels = ["noop", "conflict", "variant"]
        for i in range(cfg["p2_iters"]):
            labels += ["noop", "conflict", "variant"] if i % 2 == 0 else ["variant", "conflict", "noop"]
        loads.append(load1())
        rows = p2_calls(srv, db, labels, f"p2_warm_{s}")
        if firsts is None:
            firsts = {lab: next(r[3] for r in rows if r[0] == lab) for lab in WANT}
        sessions.append({lab: [r[3] for r in rows[3:] if r[0] == lab] for lab in WANT})
    return sessions, firsts, loads


def first_calls(srv, db, cfg):
    """The first call of a new session (the call loads the library: no LOAD before it)."""
    cold = {"noop": [], "conflict": []}
    for i in range(cfg["p2_cold"]):
        for lab in (("noop", "conflict") if i % 2 == 0 else ("conflict", "noop")):
            cold[lab].append(p2_calls(srv, db, [lab], f"p2_cold_{lab}_{i}", load=False)[0][3])
    return cold


def client_scripts(payload):
    lit = dollar(json.dumps(payload))
    base = WORK / "p2_client_parse.pgbench"
    base.write_text(f"SELECT ({lit}::jsonb) IS NOT NULL;\n")
    api = WORK / "p2_client_apply.pgbench"
    api.write_text(f"SELECT revos.apply_schema({lit}::jsonb) -> 'result' ->> 'status';\n")
    return {"parse": base, "apply": api}


def client(srv, db, payload, cfg, connect):
    """pgbench, 1 client, the payload sent as a literal each time: apply_schema vs only parsing the
    same jsonb. connect=True: a new connection per call (-C; the call is the session's first).
    Returns {side: [per-run median latency ms]}, {side: [per-run connection ms]}."""
    scripts = client_scripts(payload)
    rows0 = srv.one(db, "SELECT count(*) FROM revos.schema_migrations")
    lat, conn = {"parse": [], "apply": []}, {"parse": [], "apply": []}
    args = ["-c", "1", "-j", "1", "-t", str(cfg["p2_client_tx"])] + (["-C"] if connect else [])
    for r in range(cfg["p2_client_runs"]):
        for side in (("parse", "apply") if r % 2 == 0 else ("apply", "parse")):
            res = srv.pgbench(db, scripts[side], args, tag=f"p2_client_{'C' if connect else 'w'}_{side}_{r}", log=True)
            lat[side].append(med(res["lat"]))
            conn[side].append(res["conn_ms"] or 0.0)
    if srv.one(db, "SELECT count(*) FROM revos.schema_migrations") != rows0:
        raise BenchError("P2: a client-side re-apply wrote a ledger row (not a noop)")
    return lat, conn


def p2(srv, cfg, rep, state, db, payload, st):
    other, variant = payloads(payload)
    # STORAGE EXTERNAL: the values sit in the table uncompressed, so that the DO block hands
    # apply_schema a jsonb as a client's parameter arrives (in memory, not compressed); with the
    # default (compressed) storage every call would also pay decompressing 95 KB.
    srv.psql(db, "CREATE TABLE bench_payload (j jsonb, other jsonb, variant jsonb);\n"
                 "ALTER TABLE bench_payload ALTER j SET STORAGE EXTERNAL, ALTER other SET STORAGE EXTERNAL, "
                 "ALTER variant SET STORAGE EXTERNAL;\n"
                 f"INSERT INTO bench_payload VALUES ({dollar(json.dumps(payload))}, {dollar(json.dumps(other))}, "
                 f"{dollar(json.dumps(variant))});")
    sessions, firsts, loads = warm(srv, db, cfg)
    cold = first_calls(srv, db, cfg)
    lat_c, conn_c = client(srv, db, payload, cfg, connect=True)
    lat_w, _ = client(srv, db, payload, cfg, connect=False)
    per = {lab: [med(s[lab]) for s in sessions] for lab in WANT}
    say(f"P2: no-op warm per session {', '.join(f'{x:.3f}' for x in per['noop'])} ms; conflict "
        f"{', '.join(f'{x:.3f}' for x in per['conflict'])} ms; first call of a session noop "
        f"{', '.join(f'{x:.2f}' for x in cold['noop'])} ms; client -C apply − parse "
        f"{', '.join(f'{a - b:.2f}' for a, b in zip(lat_c['apply'], lat_c['parse']))} ms")
    state["p2_ms"] = med(per["noop"])
    state["readme"] = {"p2-noop": f"{med(per['noop']):.3f} ms for {st['tables']} tables, warm, in\n  the database",
                       "p2-conflict-first": f"{firsts['conflict']:.1f} ms at {st['tables']}\n  tables"}
    judge(rep, cfg, st, per, cold, lat_c, conn_c, lat_w, firsts)
    rep.details.append(details(cfg, st, sessions, per, firsts, loads, cold, lat_c, conn_c, lat_w, payload)
                       + snapshot_note(srv, db, payload, cfg, st))


def judge(rep, cfg, st, per, cold, lat_c, conn_c, lat_w, firsts):
    n = cfg["p2_sessions"]
    how = f"{n} sessions × {cfg['p2_iters']} calls of each, interleaved; median per session"
    rep.goal(f"P2 no-op re-apply ({st['tables']} tables), warm, in database", how,
             f"{fmt_ms(med(per['noop']))} per call (median of the session medians)", Goal(per["noop"], "<=", 0.3, every=True, unit=" ms"))
    rep.goal("P2 conflict (same version, other content), warm, in database", how,
             f"{fmt_ms(med(per['conflict']))} (the first sight ever of those bytes: {fmt_ms(firsts['conflict'])})",
             Goal(per["conflict"], "<=", 1.0, unit=" ms"))
    rep.goal("P2 no-op, first call of a new session, in database", f"{cfg['p2_cold']} sessions, alternating with the conflict's",
             f"{fmt_ms(med(cold['noop']))}; the conflict's {fmt_ms(med(cold['conflict']))}",
             Goal(cold["noop"], "<=", 5.0, unit=" ms"))
    add = [a - b for a, b in zip(lat_c["apply"], lat_c["parse"])]
    rep.goal("P2 no-op, first call of a new session, client side: added to connect + send + parse",
             f"{cfg['p2_client_runs']} runs × 2 sides × {cfg['p2_client_tx']} connections (pgbench -C), interleaved; "
             "median per run",
             f"apply_schema {fmt_ms(med(lat_c['apply']))} vs parsing the same jsonb {fmt_ms(med(lat_c['parse']))} "
             f"(+ connection {fmt_ms(med(conn_c['apply'] + conn_c['parse']))})",
             Goal(add, "<=", 1.0, every=True, unit=" ms"))
    rep.info("P2 no-op, warm, client side (same connection)",
             f"{cfg['p2_client_runs']} runs × 2 sides × {cfg['p2_client_tx']} calls, interleaved",
             f"apply_schema {fmt_ms(med(lat_w['apply']))} vs parsing the same jsonb {fmt_ms(med(lat_w['parse']))}",
             ", ".join(f"{a - b:.3f}" for a, b in zip(lat_w["apply"], lat_w["parse"])))


def details(cfg, st, sessions, per, firsts, loads, cold, lat_c, conn_c, lat_w, payload):
    j = lambda xs: ", ".join(f"{x:.3f}" for x in xs)  # noqa: E731
    rows = "".join(f"| {i + 1} | {loads[i]:.1f} | {per['noop'][i]:.3f}{'' if per['noop'][i] <= 0.3 else ' ✗'} | "
                   f"{max(s['noop']):.3f} | {per['conflict'][i]:.3f} | {max(s['conflict']):.3f} | "
                   f"{per['variant'][i]:.3f} |\n" for i, s in enumerate(sessions))
    crow = "".join(f"| {r + 1} | {lat_c['parse'][r]:.3f} | {lat_c['apply'][r]:.3f} | "
                   f"{lat_c['apply'][r] - lat_c['parse'][r]:.3f}{'' if lat_c['apply'][r] - lat_c['parse'][r] <= 1 else ' ✗'} | "
                   f"{conn_c['parse'][r]:.2f} / {conn_c['apply'][r]:.2f} | {lat_w['parse'][r]:.3f} | {lat_w['apply'][r]:.3f} |\n"
                   for r in range(len(lat_c["apply"])))
    return f"""### P2 no-op re-apply and conflict

The P1 schema applied again in the database P1 applied it to. In database: each call is a DO block
(its own transaction) that takes clock_timestamp() around `revos.apply_schema(j)`, j read from a table
beforehand whose columns are STORAGE EXTERNAL (uncompressed: apply_schema gets the jsonb as a client's
parameter arrives, not 95 KB to decompress). Three payloads: the applied one (`noop`), the same version
with one more column (`conflict`), and the same schema with the type names upper-cased (other jsonb
bytes, same normalized schema: `noop`, the "variant"). Warm: {cfg['p2_sessions']} sessions; in each one call of
each first, then {cfg['p2_iters']} rounds of the three, the order alternating. The first session's first calls
(the first time any backend sees the conflict's and the variant's bytes: the normal path, which leaves
what it learnt in `revos.payload_memo`): noop {firsts['noop']:.2f} ms, conflict {firsts['conflict']:.2f} ms, variant
{firsts['variant']:.2f} ms.

| session | load | no-op median (ms) | no-op max | conflict median | conflict max | variant median |
|---|---|---|---|---|---|---|
{rows}
First call of a new session ({cfg['p2_cold']} sessions each, alternating; the call loads revos's library,
nothing runs before it): noop {j(cold['noop'])} ms; conflict {j(cold['conflict'])} ms.

Client side (pgbench, 1 client, the {len(json.dumps(payload)):,}-byte JSON sent as a literal each time):
`SELECT revos.apply_schema('<json>'::jsonb) -> 'result' ->> 'status'` against `SELECT
('<json>'::jsonb) IS NOT NULL` (send + parse only). With `-C` every call is the first of a new
connection; pgbench's per-transaction latency (its log) starts after the connection is made, and
the connection time is reported beside it. Median per run of {cfg['p2_client_tx']} calls; the goal is the
difference (✗ = over 1 ms).

| run | -C: parse only (ms) | -C: apply_schema (ms) | added by revos | connection (ms): parse / apply | same connection: parse only | same connection: apply_schema |
|---|---|---|---|---|---|---|
{crow}"""


def snapshot_sql():
    """SNAPSHOT_SQL as the source has it (src/apply/pg_catalog.rs), or None if it moved."""
    src = ROOT / "src/apply/pg_catalog.rs"
    m = re.search(r'const SNAPSHOT_SQL: &str = r#"(.*?)"#;', src.read_text(), re.S) if src.exists() else None
    return m.group(1) if m else None


def snapshot_note(srv, db, payload, cfg, st):
    """The catalog snapshot query apply_schema runs before validating and after its DDL, timed
    alone (median of p2_iters, EXECUTE … USING: planned per execution like SPI_execute_with_args)."""
    q = snapshot_sql()
    if q is None or "$3" not in q:
        return ""
    schemas = "ARRAY[" + ",".join(dollar(t.get("schema", "public")) for t in payload["tables"]) + "]::text[]"
    names = "ARRAY[" + ",".join(dollar(t["name"]) for t in payload["tables"]) + "]::text[]"
    block = f"""DO $b$
DECLARE t0 timestamptz; n int; ms float8[] := '{{}}';
BEGIN
  FOR i IN 1..{cfg['p2_iters']} LOOP
    t0 := clock_timestamp();
    EXECUTE 'SELECT count(*) FROM (' || {dollar(q, 'q')} || ') s WHERE length(s::text) > 0' INTO n
      USING {schemas}, {names}, false;
    ms := ms || extract(epoch FROM clock_timestamp() - t0) * 1000;
  END LOOP;
  RAISE NOTICE 'snap|%|%', n, (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM unnest(ms) x);
END $b$;
"""
    f = WORK / "p2_snapshot.sql"
    f.write_text("LOAD :'revos_lib';\n" + block)
    _, err = srv.psql(db, file=f, check=False)
    m = re.search(r"snap\|(\d+)\|([\d.]+)", err)
    if not m or int(m.group(1)) != len(payload["tables"]):
        return ""
    return (f"\nFor reference, the catalog snapshot query (`SNAPSHOT_SQL` in src/apply/pg_catalog.rs, run "
            f"before validating and again to verify after the DDL) for these {st['tables']} tables, alone "
            f"(median of {cfg['p2_iters']}): {float(m.group(2)):.2f} ms.\n")
