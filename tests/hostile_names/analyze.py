#!/usr/bin/env python3
"""The per-call checks of tests/hostile_names.sh, from the two runs' logs.

Usage: analyze.py BASELINE_LOG HOSTILE_LOG (BASELINE_LOG "-": no baseline, no RESULT checks). Prints one line per check ("ok ..." or "FAILED ...",
with the reason indented below). The logs hold, per session, a "### db role kind case variant"
header, then what psql printed: RESULT|case|... lines, the look-alikes' NOTICEs
(HOSTILE<tab>current_user<tab>session_user<tab>what<tab>kind:case:attacker), DEPS|case|... lines (deps.sql),
DRIFT|case|before|after lines, and warnings / errors.
"""
import json
import re
import sys

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
TS = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}(:?\d{2})?|Z)?")
# plan_hash covers the OIDs of the tables a plan touches, which differ between the two databases
# (the statements it also covers are compared: plan.sql, plan.deferred).
DROP = {"latency_ms", "workflow_run_id", "outputs_hash", "execution_time_ms", "plan_hash"}
NOTE = re.compile(r"HOSTILE\t([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
PATHS = {"mp": "search_path mal, pg_catalog (look-alikes only)",
         "mpv": "search_path mal, pg_catalog + temp views (no temp domains)",
         "mu": "search_path mal, public + temp shadows",
         "um": 'search_path "$user", mal + temp shadows',
         "tm": "search_path pg_temp, mal, pg_catalog + temp shadows",
         "us": 'search_path "$user", pg_catalog (look-alikes in a schema named after the ledger owner)'}


def parse(path):
    sessions, results, notes, deps, drift, pre = [], {}, [], {}, {}, {}
    current = None
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.rstrip("\n")
        if line.startswith("### "):
            _, db, role, kind, case, *v = line.split(" ")
            current = {"role": role, "kind": kind, "case": case, "variant": v[0] if v else "", "lines": [],
                       "results": []}
            sessions.append(current)
            continue
        if current is not None:
            current["lines"].append(line)
        m = NOTE.search(line)
        if m:
            notes.append(m.groups())
        elif line.startswith("RESULT|"):
            _, case, value = line.split("|", 2)
            results[case] = value
            if current is not None:
                current["results"].append(case)
        elif line.startswith("DEPS|"):
            _, case, what = line.split("|", 2)
            deps.setdefault(case, []).append(what)
        elif line.startswith("PRECONDITION|"):
            _, case, why = line.split("|", 2)
            pre[case] = why
        elif line.startswith("DRIFT|"):
            _, case, before, after = line.split("|")
            drift[case] = (int(before or 0), int(after or 0))
    return sessions, results, notes, deps, drift, pre


def norm(value, key=""):
    if isinstance(value, dict):
        return {k: norm(v, k) for k, v in value.items() if k not in DROP}
    if isinstance(value, list):
        return [norm(v) for v in value]
    if isinstance(value, str):
        return TS.sub("<ts>", UUID.sub("<uuid>", value))
    return value


def normalized(case, text):
    if text.startswith("{") or text.startswith("["):
        try:
            v = json.loads(text)
            if "log-event" in case and isinstance(v, dict):
                v.pop("id", None)  # the event's serial id: ignored like the other ids
            return norm(v)
        except ValueError:
            pass
    return norm(text)


def first_diff(a, b, path="$"):
    if type(a) is not type(b):
        return path, a, b
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k}", a.get(k, "<absent>"), b.get(k, "<absent>")
            d = first_diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        if len(a) != len(b):
            return f"{path} (length)", len(a), len(b)
        return None
    return None if a == b else (path, a, b)


def status(v):
    return v.get("result", {}).get("status") if isinstance(v, dict) and isinstance(v.get("result"), dict) else None


def explain(a, b, session):
    """Why two normalized results differ: the status and summary when those differ, else the first
    differing path; then what the server said in that session."""
    if a == b:
        return []
    if status(a) != status(b):
        out = [f"status without look-alikes: {status(a)}, with: {status(b)}",
               f"  with: {short(b.get('result', {}).get('summary', '') if isinstance(b, dict) else b, 400)}"]
    else:
        path, x, y = first_diff(a, b)
        out = [f"at {path}:", f"  without: {short(x)}", f"  with:    {short(y)}"]
    return out + [f"server said: {short(w, 200)}" for w in warnings_of(session)[:3]]


def short(v, n=240):
    s = v if isinstance(v, str) else json.dumps(v)
    return s if len(s) <= n else s[:n] + "…"


class Report:
    def __init__(self):
        self.failures = 0

    def ok(self, what):
        print(f"ok     {what}")

    def failed(self, what, *reasons):
        self.failures += 1
        print(f"FAILED {what}")
        for r in reasons:
            print(f"         {r}")

    def check(self, cond, what, *reasons):
        if cond:
            self.ok(what)
        else:
            self.failed(what, *reasons)


def describe(notes):
    by = {}
    for cu, su, what, phase in notes:
        by.setdefault(cu, set()).add(what)
    return [f"as {cu}: " + ", ".join(sorted(ws)[:12]) + (f" (+{len(ws) - 12} more)" if len(ws) > 12 else "")
            for cu, ws in sorted(by.items())]


def warnings_of(session):
    seen = []
    for l in session["lines"]:
        if "/shadow-" in l:
            continue  # the attacker's own temp DDL, before the call
        m = re.search(r"(WARNING|ERROR):\s+(.*)$", l)
        if m and m.group(2) not in seen:
            seen.append(m.group(2))
    return seen


def main():
    baseline = sys.argv[1] != "-"
    base_sessions, base_results, base_notes, _, base_drift, base_pre = parse(sys.argv[1]) if baseline \
        else ([], {}, [], {}, {}, {})
    base_by_case = {x["case"]: x for x in base_sessions}
    sessions, results, notes, deps, drift, pre = parse(sys.argv[2])
    r = Report()
    if baseline:
        r.check(not base_notes, "the run without look-alikes ran no look-alike (the harness is sound)",
                *describe(base_notes))
    stray = [n for n in notes if n[3].count(":") < 2]
    r.check(not stray, "every look-alike that ran did so inside a call the suite made (phase set)", *describe(stray))
    phases = {}
    for n in notes:
        parts = n[3].split(":")
        if len(parts) >= 3:
            case = parts[1].replace("(shadows)", "")
            phases.setdefault(case, []).append((parts[0], parts[2], n))
    seen_deps = set()
    for s in sessions:
        case, kind, role = s["case"], s["kind"], s["role"]
        label = f"[{case}] {role}, " + PATHS.get(s["variant"], "default search_path")
        mine = phases.get(case, [])
        esc = [n for k, attacker, n in mine if n[0] != attacker]
        r.check(not esc, f"{label}: ESCALATION — no look-alike ran as a role other than the attacker",
                *describe(esc))
        if kind == "call":
            inside = [n for k, attacker, n in mine if n[0] == attacker and k in ("call", "ddl")]
            r.check(not inside, f"{label}: INSIDE — no look-alike ran inside revos (its search_path is pinned)",
                    *describe(inside))
            # deps.sql lists every such dependency in the database: those an earlier call made
            # were reported with that call
            d = [x for x in deps.get(case, []) if x not in seen_deps]
            seen_deps.update(deps.get(case, []))
            r.check(not d, f"{label}: DEPENDS — nothing revos created depends on a look-alike schema or pg_temp",
                    *[short(x, 200) for x in d[:8]], *([f"(+{len(d) - 8} more)"] if len(d) > 8 else []))
        expected = base_by_case.get(case, {}).get("results", [])
        for rc in (expected + [x for x in s["results"] if x not in expected]) if baseline else []:
            want, got = base_results.get(rc), results.get(rc)
            if rc in drift or rc in base_drift:
                continue  # a drift case: judged below
            a, b = normalized(rc, want or "<missing>"), normalized(rc, got or "<missing>")
            r.check(a == b, f"{label}: RESULT {rc} equals the run without look-alikes", *explain(a, b, s))
        if case in drift:
            status = results.get(case, "<missing>")
            before, after = drift[case]
            refused = status.startswith("REFUSED")
            if case in pre:
                r.failed(f"{label}: DRIFT — {case} tests nothing here: {pre[case]} (an earlier call failed)")
                continue
            r.check(refused or after > before,
                    f"{label}: DRIFT — {case.split('-' + s['variant'])[0]} is recorded as drift or refused",
                    f"the DDL ran ({status}) and revos.events got no schema_drift_detected event for it",
                    *[f"server said: {short(w, 200)}" for w in warnings_of(s)[:2]])
            bb, ba = base_drift.get(case, (0, 0))
            if baseline and (case in base_pre or not (ba > bb or base_results.get(case, "").startswith("REFUSED"))):
                r.failed(f"{label}: the run without look-alikes records {case} as drift too (the harness is sound)",
                         f"baseline: {base_results.get(case)} events {bb} -> {ba}")


main()
