"""P6 (Citus, bench/citus) and P7 online (bench/online): scripts of their own, called by bench/run,
which judges their goals from the per-run figures they write (the contract: bench/README.md,
"Parts run by other scripts").

  <script> --json FILE                -> FILE (with REVOS_BENCH_NO_BUILD=1 in its environment: revos is
                                          already built and installed by bench/run; don't build again): {"part": "P6"|"P7online", "commit": …, "runs": N,
                                               "interleaved": true|false, "loads": [per run],
                                               "figures": {…}, "markdown": "<its section>"}
P6  figures: {"latest50": {"policy": [ms per run], "where": [ms per run], "one_node": [ms per run]},
              "count":    {same keys}}
    goal: policy / where ≤ 1.5 in every run, for each query (the read through the policy alone
    against the same read with tenant_id in WHERE, both on Citus).
P7online figures: {"changes": [{"change": "index", "idle_p99": [ms per run],
                                "online_p99": [ms per run], "blocking_p99": [ms per run] (optional)}]}
    goal: a writer's p99 during each online change ≤ ONLINE_MULTIPLE × its p99 with no change
    running, in every run.
"""
import json
import os
import subprocess

from .core import ROOT, WORK, Goal, med, say

# A writer blocked by a change waits for its whole scan: hundreds to thousands of times its p99.
# A writer that is not blocked still shares 2 CPUs with the change (an index build, a validation
# scan) and its own client: that alone can double or triple a sub-millisecond p99. 5× separates the
# two with room.
ONLINE_MULTIPLE = 5.0
SCRIPTS = {"P6": ("bench/citus", "Citus: a tenant's read through the policy alone vs with tenant_id in WHERE"),
           "P7online": ("bench/online", "online changes under a writer")}
# P7 online also measures the same online forms typed by hand (--hand): what any tool can reach here
ARGS = {"P6": [], "P7online": ["--hand"]}


def call(part, quick, env_extra):
    """Runs the part's script; returns (data, None) or (None, why it was skipped)."""
    script, _ = SCRIPTS[part]
    path = ROOT / script
    if not path.exists():
        return None, f"{script} does not exist in this tree"
    if quick:
        return None, f"quick mode: run `{script} --quick` on its own (it starts clusters of its own)"
    out = WORK / f"{part}.json"
    if out.exists():
        out.unlink()
    say(f"{part}: running {script} --json {out}")
    r = subprocess.run([str(path), "--json", str(out), *ARGS[part]], cwd=ROOT, capture_output=True, text=True,
                       env=dict(os.environ, REVOS_BENCH_NO_BUILD="1", **env_extra), timeout=7200)
    (WORK / f"{part}.log").write_text(r.stdout + r.stderr)
    if r.returncode != 0 or not out.exists():
        tail = (r.stderr or r.stdout).strip().splitlines()[-1:] or [""]
        return None, f"{script} --json exited {r.returncode} without its figures ({tail[0][:200]}; log: target/bench/{part}.log)"
    try:
        return json.loads(out.read_text()), None
    except ValueError as e:
        return None, f"{script} wrote {out} that is not JSON: {e}"


def how(d):
    return (f"{d.get('runs', '?')} runs, " + ("interleaved" if d.get("interleaved") else "NOT interleaved")
            + f" (by {d.get('script', '?')} at {d.get('commit', '?')})")


def p6(rep, d):
    figs = d["figures"]
    for q in ("latest50", "count"):
        f = figs.get(q)
        if not f:
            continue
        ratios = [a / b for a, b in zip(f["policy"], f["where"])]
        one = f" (one node {med(f['one_node']):.2f} ms)" if f.get("one_node") else ""
        rep.goal(f"P6 Citus tenant read, {'latest 50' if q == 'latest50' else 'count'}: policy alone vs tenant_id in WHERE",
                 how(d), f"{med(f['policy']):.2f} ms vs {med(f['where']):.2f} ms{one}",
                 Goal(ratios, "<=", 1.5, every=True))


def p7online(rep, d):
    for c in d["figures"]["changes"]:
        ratios = [a / b for a, b in zip(c["online_p99"], c["idle_p99"])]
        blocking = f"; blocking form {med(c['blocking_p99']):.1f} ms" if c.get("blocking_p99") else ""
        if c.get("online_rewrote"):
            # no lock-light form exists (a type change that rewrites): both modes block; shown, not judged
            rep.info(f"P7 online: {c['change']}: writer p99 during the change / with no change running",
                     how(d), f"p99 {med(c['online_p99']):.2f} ms vs {med(c['idle_p99']):.2f} ms alone{blocking}; "
                     "the online form rewrote the table too (no lock-light form: it blocks in both modes)",
                     ", ".join(f"{r:.2f}" for r in ratios))
            continue
        rep.goal(f"P7 online: {c['change']}: writer p99 during the change / with no change running",
                 how(d), f"p99 {med(c['online_p99']):.2f} ms vs {med(c['idle_p99']):.2f} ms alone{blocking}",
                 Goal(ratios, "<=", ONLINE_MULTIPLE, every=True, fmt="{:.2f}", unit="×"))
        if c.get("hand_p99"):
            # not revos: the floor on this machine, beside the goal it would be judged by
            hand = [a / b for a, b in zip(c["hand_p99"], c["hand_idle_p99"])]
            over = sum(r > ONLINE_MULTIPLE for r in hand)
            rep.info(f"P7 online by hand (not revos; the floor): {c['change']}: writer p99 during / with no change running",
                     how(d), f"the same online form typed in psql, autocommit: p99 {med(c['hand_p99']):.2f} ms vs "
                     f"{med(c['hand_idle_p99']):.2f} ms alone; {over} of {len(hand)} runs over {ONLINE_MULTIPLE:g}×",
                     ", ".join(f"{r:.2f}" for r in hand))


def run_part(part, rep, quick, env_extra):
    d, why = call(part, quick, env_extra)
    if d is None:
        rep.skip(f"{part} ({SCRIPTS[part][1]})", why)
        return
    try:
        (p6 if part == "P6" else p7online)(rep, d)
    except (KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        rep.skip(f"{part} ({SCRIPTS[part][1]})", f"{SCRIPTS[part][0]} --json: figures not in the agreed form ({e!r})")
        return
    rep.details.append(f"### {part}: {SCRIPTS[part][1]} (written by {SCRIPTS[part][0]})\n\n{d.get('markdown', '').strip()}\n")
