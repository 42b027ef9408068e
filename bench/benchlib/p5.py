"""P5: the marginal cost of one more table, 10 -> 100 -> 1000 tables; a simple and a mixed schema."""
import gen_schema

from .core import Goal, fmt_ms, load1, med, say
from .timed import plan_sql, run_side

KINDS = {
    "mixed": ("gen_schema.py checked N 20", lambda n: gen_schema.checked(n, 20, f"bench-p5c-{n}"),
              "types of every kind, enums, tenant-bound foreign keys to earlier tables, extra and partial "
              "indexes, CHECK constraints"),
    "simple": ("gen_schema.py simple N", gen_schema.simple, "3 plain columns per table, nothing else"),
}


def marginal(t, lo, mid, hi, i=None):
    """Cost of one more table from mid to hi over from lo to mid (medians, or run i)."""
    v = (lambda n: t[n][i]) if i is not None else (lambda n: med(t[n]))
    return ((v(hi) - v(mid)) / (hi - mid)) / ((v(mid) - v(lo)) / (mid - lo))


def measure(srv, cfg, kind):
    sizes = cfg["p5_sizes"]
    payloads = {n: KINDS[kind][1](n) for n in sizes}
    sqls = {n: plan_sql(srv, payloads[n], f"p5{kind[0]}_plan_{n}")[0] for n in sizes}
    got = {side: {n: [] for n in sizes} for side in ("api", "sql")}
    loads = []
    # Every run measures every size, both sides; the order of sizes and of sides alternates.
    for r in range(cfg["p5_runs"]):
        loads.append(load1())
        for n in (sizes if r % 2 == 0 else list(reversed(sizes))):
            for side in (("api", "sql") if r % 2 == 0 else ("sql", "api")):
                got[side][n].append(run_side(srv, side, f"p5{kind[0]}_{side}_{n}_{r}", payloads[n], sqls[n]))
            a, s = got["api"][n][-1], got["sql"][n][-1]
            say(f"P5 {kind} {n:5d} tables, run {r + 1}/{cfg['p5_runs']}: apply {fmt_ms(a['ms'])} ({a['ms'] / n:.2f} ms/table; "
                f"DDL+verify {a['ddl_ms']:.1f} ms), psql -1 -f {fmt_ms(s['ms'])}")
    return got, loads, payloads


def p5(srv, cfg, rep, state):
    for kind in ("mixed", "simple"):
        got, loads, payloads = measure(srv, cfg, kind)
        judge_and_detail(rep, cfg, kind, got, loads, payloads)


def judge_and_detail(rep, cfg, kind, got, loads, payloads):
    sizes = cfg["p5_sizes"]
    lo, mid, hi = sizes[0], sizes[len(sizes) // 2], sizes[-1]
    ms = {side: {n: [x["ms"] for x in got[side][n]] for n in sizes} for side in got}
    cpu = {n: [x["cpu"] for x in got["api"][n]] for n in sizes}
    runs = [marginal(ms["api"], lo, mid, hi, i) for i in range(cfg["p5_runs"])]
    base = [marginal(ms["sql"], lo, mid, hi, i) for i in range(cfg["p5_runs"])]
    cpu_ok = all(None not in cpu[n] for n in sizes)
    hwm = lambda side: [x["hwm"] for x in got[side][hi]]  # noqa: E731
    hwm_txt = (f"{med(hwm('api')) / 1024:.0f} MiB (psql -1 -f: {med(hwm('sql')) / 1024:.0f} MiB)"
               if None not in hwm("api") + hwm("sql") else "n/a")
    st = gen_schema.stats(payloads[hi])
    rep.goal(f"P5 growth, {kind} schema: marginal cost of a table, {mid}→{hi} vs {lo}→{mid} tables",
             f"{cfg['p5_runs']} runs × {len(sizes)} sizes × 2 sides, interleaved (sizes and sides alternate)",
             ", ".join(f"{n}: {med(ms['api'][n]) / n:.2f} ms/table" for n in sizes)
             + (f"; backend CPU {marginal(cpu, lo, mid, hi):.3f}" if cpu_ok else "")
             + f"; psql -1 -f of the same SQL {med(base):.3f}; peak backend RSS at {hi} tables {hwm_txt}",
             Goal(runs, "<=", 1.30))
    rows = "".join(
        f"| {n} | {', '.join(f'{x:.1f}' for x in ms['api'][n])} | {med(ms['api'][n]) / n:.3f} | "
        f"{med([x['latency_ms'] - x['ddl_ms'] for x in got['api'][n]]):.1f} | {', '.join(f'{x:.1f}' for x in ms['sql'][n])} | "
        f"{med(ms['sql'][n]) / n:.3f} | {med(ms['api'][n]) / med(ms['sql'][n]):.3f} |\n" for n in sizes)
    per_run = "".join(f"| {i + 1} | {loads[i]:.1f} | {runs[i]:.3f}{'' if runs[i] <= 1.3 else ' ✗'} | {base[i]:.3f} |\n"
                      for i in range(len(runs)))
    rep.details.append(f"""### P5 growth, {kind} schema

`bench/{KINDS[kind][0]}` for N = {', '.join(map(str, sizes))}: {KINDS[kind][2]}. At {hi} tables: {st['columns']} payload columns,
{st['enums']} enums, {st['foreign_keys']} foreign keys, {st['extra_indexes']} explicit indexes, {st['checks']} checks. Each
apply in a fresh database, measured like P1; the psql columns run the same plan SQL statement by statement
(how Postgres's own DDL cost grows). The figure is the marginal cost: (T({hi}) − T({mid})) / {hi - mid} over
(T({mid}) − T({lo})) / {mid - lo}, per run (the fixed cost of a call cancels out; ✗ = over 1.30).

| run | load | apply_schema: marginal ratio | psql -1 -f: marginal ratio |
|---|---|---|---|
{per_run}
| tables | apply_schema (ms, per run) | per table (ms) | before DDL (ms) | psql -1 -f (ms, per run) | psql per table | apply / psql |
|---|---|---|---|---|---|---|
{rows}""")
