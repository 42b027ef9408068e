"""Connections, pgbench, percentiles and the run-by-run verdicts of bench/run."""
import math
import os
import re
import statistics
import subprocess
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PG_CONFIG = Path(os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config"))
PGBIN = PG_CONFIG.parent
WORK = ROOT / "target" / "bench"
READER = "revos_bench_reader"
DBPREFIX = "revos_bench_"
T0 = time.monotonic()


class BenchError(Exception):
    pass


def say(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def med(xs):
    return statistics.median(xs)


def pct(xs, p):
    """The p-th percentile (nearest rank) of xs."""
    s = sorted(xs)
    return s[max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))]


def fmt_ms(x):
    return f"{x:.3f} ms" if x < 10 else f"{x:.1f} ms"


def load1():
    return os.getloadavg()[0]


def dollar(text, tag="rvb"):
    t = f"${tag}$"
    if t in text:
        raise BenchError(f"payload contains {t}")
    return f"{t}{text}{t}"


# ------------------------------------------------------------------------------------------------
# Connections
# ------------------------------------------------------------------------------------------------
class Server:
    """One PostgreSQL server (a DSN of a superuser), optionally with a candidate revos.so."""

    def __init__(self, dsn, library=None, label="main"):
        self.dsn = dsn
        self.library = library
        self.label = label

    def dsn_for(self, db):
        if self.dsn.startswith(("postgres://", "postgresql://")):
            u = urllib.parse.urlsplit(self.dsn)
            return urllib.parse.urlunsplit(u._replace(path="/" + db))
        return f"{self.dsn} dbname={db}"

    def admin_db(self):
        if self.dsn.startswith(("postgres://", "postgresql://")):
            return urllib.parse.urlsplit(self.dsn).path.lstrip("/") or "postgres"
        m = re.search(r"dbname=(\S+)", self.dsn)
        return m.group(1) if m else "postgres"

    def psql(self, db, sql=None, file=None, env=None, check=True, timeout=1800):
        """Runs SQL (stdin) or a file through psql; returns (stdout, stderr)."""
        cmd = [str(PGBIN / "psql"), "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
               "-v", f"revos_lib={self.library or 'revos'}", "-d", self.dsn_for(db)]
        if file:
            cmd += ["-f", str(file)]
        e = dict(os.environ, PGAPPNAME="revos-bench", PGCONNECT_TIMEOUT="10")
        if env:
            e.update(env)
        r = subprocess.run(cmd, input=sql, capture_output=True, text=True, env=e, timeout=timeout)
        if check and r.returncode != 0:
            what = file.name if file else (sql or "").strip().splitlines()[0][:120]
            raise BenchError(f"psql failed on {db} ({what}):\n{r.stderr.strip()[-2000:]}")
        return r.stdout, r.stderr

    def one(self, db, sql, **kw):
        return self.psql(db, sql, **kw)[0].strip()

    def setting(self, name):
        return self.one(self.admin_db(), f"SELECT current_setting('{name}')")

    # Benchmark databases are dropped at the end of the run, not between runs: dropping thousands
    # of relation files makes the next file creations slower on ext4 (recently deleted inodes).
    def fresh_db(self, name, extension=True):
        db = DBPREFIX + name
        self.drop_db(name)
        self.psql(self.admin_db(), f'CREATE DATABASE "{db}"')
        if extension:
            self.psql(db, "CREATE EXTENSION revos")
            if self.library:
                # --library: the extension's C functions load this file instead of $libdir/revos.
                self.psql(db, f"UPDATE pg_catalog.pg_proc SET probin = {dollar(self.library)} "
                              "WHERE probin = '$libdir/revos'")
        return db

    def drop_db(self, name):
        db = name if name.startswith(DBPREFIX) else DBPREFIX + name
        self.psql(self.admin_db(), f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')

    def wal_lsn(self, db):
        return self.one(db, "SELECT pg_current_wal_insert_lsn()")

    def wal_bytes(self, db, lsn0, lsn1):
        return int(float(self.one(db, f"SELECT pg_wal_lsn_diff('{lsn1}', '{lsn0}')")))

    def pgbench(self, db, script, args, env=None, defines=None, tag="pgbench", log=False):
        """Runs pgbench; with log=True also reads its per-transaction log: res["lat"] = every
        transaction's latency (ms)."""
        cmd = [str(PGBIN / "pgbench"), "-n", "-r", *args]
        if log:
            for old in WORK.glob(f"{tag}.tx.*"):
                old.unlink()
            cmd += ["-l", f"--log-prefix={WORK / (tag + '.tx')}"]
        cmd += ["-f", str(script)]
        for k, v in (defines or {}).items():
            cmd += ["-D", f"{k}={v}"]
        cmd.append(self.dsn_for(db))
        e = dict(os.environ, PGAPPNAME="revos-bench")
        if env:
            e.update(env)
        r = subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=900)
        (WORK / f"{tag}.log").write_text(" ".join(cmd) + "\n" + r.stdout + r.stderr)
        if r.returncode != 0:
            raise BenchError(f"pgbench {script.name} failed ({r.returncode}):\n{(r.stdout + r.stderr)[-2000:]}")
        res = parse_pgbench(r.stdout)
        if log:
            res["lat"] = tx_latencies(tag + ".tx")
            for f in WORK.glob(f"{tag}.tx.*"):
                f.unlink()
        return res


def tx_latencies(prefix):
    """Every transaction's latency (ms) from pgbench's per-transaction logs WORK/prefix.*
    (client_id transaction_no time script_no time_epoch time_us: time is in microseconds)."""
    lat = []
    for f in WORK.glob(prefix + ".*"):
        for line in f.read_text().splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[2].isdigit():
                lat.append(int(parts[2]) / 1000.0)
    if not lat:
        raise BenchError(f"pgbench wrote no per-transaction log ({prefix})")
    return lat


# pgbench's summary lines: (key, pattern, type); the first tps line found wins
SUMMARY = [("tps", r"tps = ([\d.]+) \(without initial connection time\)", float),
           ("tps", r"tps = ([\d.]+) \(including reconnection times\)", float),
           ("xacts", r"number of transactions actually processed: (\d+)", int),
           ("failed", r"number of failed transactions: (\d+)", int),
           ("latency_ms", r"latency average = ([\d.]+) ms", float),
           ("conn_ms", r"average connection time = ([\d.]+) ms", float)]


def parse_pgbench(out):
    res = {"tps": None, "xacts": None, "failed": 0, "latency_ms": None, "stmts": [], "conn_ms": None}
    in_stmts = False
    for line in out.splitlines():
        for key, pattern, typ in SUMMARY:
            m = re.match(pattern, line)
            if m and (key != "tps" or res["tps"] is None):
                res[key] = typ(m.group(1))
        if line.startswith("statement latencies"):
            in_stmts = True
            continue
        if in_stmts:
            m = re.match(r"^\s+([\d.]+)\s+(?:\d+\s+)?(\S.*)$", line)
            if m:
                res["stmts"].append((float(m.group(1)), m.group(2).strip()))
    if res["tps"] is None:
        raise BenchError("pgbench output has no tps line:\n" + out[-1500:])
    if res["failed"]:
        raise BenchError(f"pgbench: {res['failed']} failed transactions")
    return res


def pcts(lat):
    """'p50 / p95 / p99' of latencies in ms."""
    return f"{pct(lat, 50):.3f} / {pct(lat, 95):.3f} / {pct(lat, 99):.3f}"


# ------------------------------------------------------------------------------------------------
# Goals, judged run by run
# ------------------------------------------------------------------------------------------------
# The rule, printed in every report: a goal marked "every run" holds only when every run meets it;
# any other goal holds when at least 80 % of its runs meet it (every run when there are fewer
# than 5) and its median does. Each run that misses is shown with ✗, and the verdict counts them.
RULE = ("A goal marked *every run* holds only when every run meets it. Any other goal holds when at "
        "least 80 % of its runs meet it (so every run when there are fewer than 5, 4 of 5, 6 of 7, 8 "
        "of 9) and the median of the runs meets it too. Every run that misses its goal is marked ✗ "
        "in the per-run column, and the verdict says how many missed, pass or not.")


class Goal:
    """A goal over per-run values: op '<=' or '>=' limit; every=True: every run must meet it."""

    def __init__(self, values, op, limit, every=False, fmt="{:.3f}", unit=""):
        self.values, self.op, self.limit, self.every, self.fmt, self.unit = values, op, limit, every, fmt, unit

    def meets(self, v):
        return v <= self.limit if self.op == "<=" else v >= self.limit

    def misses(self):
        return [i for i, v in enumerate(self.values) if not self.meets(v)]

    def ok(self):
        n, k = len(self.values), len(self.misses())
        if not n:
            return False
        if self.every or n < 5:
            return k == 0
        return n - k >= math.ceil(0.8 * n) and self.meets(med(self.values))

    def runs_txt(self):
        return ", ".join(self.fmt.format(v) + ("" if self.meets(v) else " ✗") for v in self.values)

    def spread_txt(self):
        v = self.values
        return f"{self.fmt.format(med(v))} ({self.fmt.format(min(v))}–{self.fmt.format(max(v))})"

    def goal_txt(self):
        return f"{'≤' if self.op == '<=' else '≥'} {self.limit:g}{self.unit}" + (", every run" if self.every else "")

    def verdict(self):
        n, k = len(self.values), len(self.misses())
        if self.ok():
            return "pass" if k == 0 else f"pass ({k} of {n} runs missed ✗)"
        return f"**miss** ({k} of {n} runs ✗)"


class Report:
    def __init__(self, quick=False):
        self.quick = quick  # tiny sizes: goals shown with their ✗ flags but not judged
        self.rows = []       # (figure, how, measured, per-run, median (min–max), goal, verdict)
        self.details = []    # markdown chunks
        self.failures = []
        self.misses = []
        self.skipped = []    # (part, why)

    def goal(self, fig, how, measured, goal):
        verdict = goal.verdict()
        if self.quick:
            verdict = "(quick size: not judged)"
        elif not goal.ok():
            self.misses.append(fig.split()[0])
        self.rows.append((fig, how, measured, goal.runs_txt(), goal.spread_txt(), goal.goal_txt(), verdict))

    def info(self, fig, how, measured, runs="-", spread="-"):
        self.rows.append((fig, how, measured, runs, spread, "(none)", "(info)"))

    def skip(self, part, why):
        say(f"{part}: SKIPPED: {why}")
        self.skipped.append((part, why))
        self.rows.append((part, "-", f"**SKIPPED**: {why}", "-", "-", "-", "**SKIPPED**"))

    def error(self, fig, e):
        self.failures.append(fig)
        self.rows.append((fig, "-", f"ERROR: {str(e).splitlines()[0][:200]}", "-", "-", "-", "**error**"))
        self.details.append(f"### {fig}: error\n\n```\n{str(e)[:3000]}\n```\n")


def cpu_txt(xs):
    return "-" if any(x is None for x in xs) else f"{med(xs):.1f}"


def sh(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, **kw)
