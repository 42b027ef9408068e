#!/usr/bin/env bash
# revos as its callers use it, for real, against a running PostgreSQL 15 with revos installed:
#   n8n.test.js        pg-promise in n8n's three query-batching modes + the example workflow
#   n8n-cli.test.js    the real n8n 1.123.81 (npm) runs the example workflow with `n8n execute`
#   pgbouncer.test.js  pgbouncer, transaction pooling, pool size 1: no tenant leaks between clients
#   postgrest.test.js  the SQL PostgREST v12 sends for POST /rpc/apply_schema (and a table), replayed
#
#   tests/callers/run.sh DSN        DSN: postgres://SUPERUSER@HOST:PORT/DB (a URL; trust auth
#                                   for the test roles, as scripts/cluster sets up)
#
# Installs what it needs (node modules with npm, n8n in ~/.cache/revos/n8n, pgbouncer with apt-get),
# (re)creates its databases revos_callers_{n8n,n8n_cli,bouncer,postgrest}, runs node --test, exits
# non-zero on any failure. The last line is "callers: N passed, N failed".
# REVOS_CALLERS_ONLY="n8n.test.js" runs only the files named.
set -euo pipefail

DSN=${1:?usage: tests/callers/run.sh postgres://postgres@127.0.0.1:PORT/postgres}
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
work="$root/target/callers"
mkdir -p "$work"
# pgbouncer runs as the postgres OS user and must reach its config under target/callers.
[ "$(id -u)" -eq 0 ] && chmod o+x "$root" "$root/target" "$work" 2>/dev/null || true

say() { echo "callers: $*" >&2; }

# One run at a time on a machine (scripts/test runs versions side by side): this run's node modules,
# n8n's copy (tests/fresh_machine.sh hands one over under the same lock) and target/callers are shared.
. "$here/n8n-dir.sh"
mkdir -p "$(dirname "$n8n_dir")" && exec 9>"$n8n_dir.lock"
flock -n 9 || { say "waiting for another run of the callers' tests"; flock 9; }

# --- node modules ----------------------------------------------------------------------------
# Always `npm ci` from the lock file (never `npm install`): a lock that does not install as it is
# fails here, loudly, instead of being rewritten on the fly. Installed again when the lock changes.
[ -f "$here/package-lock.json" ] || { say "FAILED: $here/package-lock.json is missing"; exit 1; }
mods_stamp=$(cat "$here/package.json" "$here/package-lock.json" | sha256sum | cut -c1-16)
if [ "$(cat "$here/node_modules/.revos-installed" 2>/dev/null)" != "$mods_stamp" ]; then
  say "installing node modules (npm ci)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error) >&2
  echo "$mods_stamp" >"$here/node_modules/.revos-installed"
fi

# --- n8n (the real one, for n8n-cli.test.js) ----------------------------------------------------
# Installed once from n8n-cli/package.json + package-lock.json, again only when those change, into a
# per-machine cache (n8n-dir.sh: $REVOS_N8N_DIR, default ~/.cache/revos/n8n) so that a fresh clone (CI)
# reuses it. scripts/test's fresh_machine suite installs the same lock with npm ci into an empty npm
# cache on every run, so this cache cannot hide a lock that no longer installs; when this copy is not of
# the current lock, it hands its install over (.npm-ci) and only sqlite3 is left to build here.
# n8n 1.123 pulls xlsx from a CDN that is not reachable: package.json overrides it with the registry's
# 0.18.5. --ignore-scripts: isolated-vm's build needs Node 22 and is not used (legacy
# expression engine); sqlite3, n8n's own database, is then built from source (node-gyp, offline).
# (n8n_dir and n8n_stamp: n8n-dir.sh, sourced above for the lock)
if [ "$(cat "$n8n_dir/.installed" 2>/dev/null)" != "$n8n_stamp" ]; then
  t0=$SECONDS
  if [ "$(cat "$n8n_dir/.npm-ci" 2>/dev/null)" != "$n8n_stamp" ]; then
    say "installing n8n into $n8n_dir (npm ci; once)"
    rm -rf "$n8n_dir" && mkdir -p "$n8n_dir"
    cp "$n8n_src/package.json" "$n8n_src/package-lock.json" "$n8n_dir/"
    (cd "$n8n_dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >&2
    echo "$n8n_stamp" >"$n8n_dir/.npm-ci"
  fi
  say "building n8n's sqlite3 in $n8n_dir (npm rebuild sqlite3; once)"
  (cd "$n8n_dir" && npm rebuild sqlite3 --loglevel=error) >&2
  echo "$n8n_stamp" >"$n8n_dir/.installed"
  say "n8n installed in $((SECONDS - t0)) s"
fi
export REVOS_N8N_BIN="$n8n_dir/node_modules/.bin/n8n"

# --- pgbouncer -------------------------------------------------------------------------------
PGBOUNCER_BIN="$(command -v pgbouncer || true)"
[ -z "$PGBOUNCER_BIN" ] && [ -x /usr/sbin/pgbouncer ] && PGBOUNCER_BIN=/usr/sbin/pgbouncer
if [ -z "$PGBOUNCER_BIN" ]; then
  say "installing pgbouncer"
  sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_ apt-get install -y -q pgbouncer >&2 || { $sudo_ apt-get update -q >&2 && $sudo_ apt-get install -y -q pgbouncer >&2; }
  PGBOUNCER_BIN=/usr/sbin/pgbouncer
fi
# The Debian package may start its own service; nothing here depends on it.
export PGBOUNCER_BIN

# --- databases -------------------------------------------------------------------------------
base="${DSN%%\?*}"; query="${DSN#"$base"}"
dsn_for() { echo "${base%/*}/$1$query"; }
export REVOS_CALLERS_DSN="$DSN"
for db in revos_callers_n8n revos_callers_n8n_cli revos_callers_bouncer revos_callers_postgrest; do
  psql "$DSN" -X -q -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
  psql "$(dsn_for "$db")" -X -q -v ON_ERROR_STOP=1 -c "CREATE EXTENSION revos" >/dev/null
done

# --- tests -----------------------------------------------------------------------------------
export REVOS_CALLERS_WORK="$work"
tap="$work/results.tap"
rm -f "$tap"
# pgbouncer.test.js starts and stops its own pgbouncer; should the test process die before its
# after() hook, stop that pgbouncer here (by its pid file, and only if it runs our config).
stop_our_pgbouncer() {
  local pidfile="$work/pgbouncer/pgbouncer.pid" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && grep -q "$work/pgbouncer/pgbouncer.ini" "/proc/$pid/cmdline" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
  fi
}
trap stop_our_pgbouncer EXIT
cd "$here"
set +e
# fd 9 (the lock) stays with this script: a pgbouncer or n8n that outlived the tests must not hold it
node --test --test-concurrency=1 9>&- \
  --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" \
  ${REVOS_CALLERS_ONLY:-n8n.test.js n8n-cli.test.js pgbouncer.test.js postgrest.test.js}
rc=$?
set -e

pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)
fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$tap" 2>/dev/null | tail -1)
pass=${pass:-0}; fail=${fail:-0}
if [ "$rc" -ne 0 ] && [ "$fail" -eq 0 ]; then fail=1; fi   # the runner itself failed
if [ "$pass" -eq 0 ] && [ "$fail" -eq 0 ]; then fail=1; rc=1; fi  # ran nothing: a failure too
echo "callers: $pass passed, $fail failed"
exit "$rc"
