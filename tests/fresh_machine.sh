#!/usr/bin/env bash
# The fresh-machine rehearsal (issue 18), run by scripts/test on every run (suite fresh_machine, scope
# once): what a user with only a `git clone` and a machine that never ran revos meets, for everything
# that is cheap to rehearse. Each case runs alone:
#   1. the repository stands alone: no tracked file refers to the directory beside it (../ + shared); a
#      `git clone` into an empty directory has every file the test scripts name, and the vendored Citus
#      source with its recorded sha256 (scripts/citus-build --verify, in the clone)
#   2. every lock file installs as it is: each package-lock.json with `npm ci` into an empty directory and
#      an EMPTY npm cache (n8n's in full: about 3 minutes and 1.7 GB, deleted afterwards; --ignore-scripts,
#      as tests/callers/run.sh installs it); Cargo.lock in sync with Cargo.toml (cargo metadata --locked)
#   3. scripts/setup's pgrx init path, with a throwaway PGRX_HOME each (the real ~/.pgrx is checked to be
#      left byte for byte, so the real build does not rebuild): pgrx never initialised (no PGRX_HOME
#      directory); an empty config.toml; a config.toml naming pg_configs that no longer exist; a complete
#      config (left as it is: no init); and init failing (PGRX_HOME below a regular file) — setup then
#      exits non-zero and names the step and the command.
#   tests/fresh_machine.sh        REVOS_PG as for scripts/setup (the wheels it may fetch; default all)
# Exit status: 0 passed, 1 failed, 77 SKIPPED (not a git checkout: nothing to clone).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. tests/lib.sh
git rev-parse --git-dir >/dev/null 2>&1 || {
  echo "SKIPPED: $root is not a git checkout: the fresh-machine rehearsal clones it"; exit 77; }
work="$root/target/fresh-machine"
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
outside="..""/shared"   # spelled in two pieces so that this file does not match itself

# ---- 1. the repository stands alone -------------------------------------------------------------
no_reference_outside() {
  local hits
  hits=$(git grep -I -l -F -e "$outside" -- . 2>/dev/null)
  check "no tracked file refers to $outside" "" "$hits"
}

# Repository paths the scripts name (comments aside): tokens such as tests/fixtures/x.json, $root/vendor/x
# ($root: the repository; $here: the script's own directory) or sql/revos--$v.sql (a prefix then), and
# path.join(__dirname, '..', 'x') in the callers' JavaScript.
# A shell script's own lines: without comments and here-documents (their paths are another program's).
code_lines() {
  awk '
    tag != "" { line = $0; sub(/^\t+/, "", line); if (line == tag) tag = ""; next }
    /^[[:space:]]*#/ { next }
    { print
      if (match($0, /<<-?[[:space:]]*[\047"]?[A-Za-z_][A-Za-z0-9_]*[\047"]?/)) {
        tag = substr($0, RSTART, RLENGTH); sub(/^<<-?[[:space:]]*/, "", tag); gsub(/[\047"]/, "", tag)
      } }' "$1"
}
named_paths() {
  local f m
  {
    # (this file is left out: the paths in it are patterns to look for)
    git ls-files scripts bench/run bench/citus .ci tests | grep -E '(^|/)[^.]+$|\.sh$' \
      | grep -vx tests/fresh_machine.sh | while read -r f; do
      code_lines "$f" | sed -E "s#(^|[^\\])\\\$\{?(root|ROOT)\}?/#\1#g; s#(^|[^\\])\\\$\{?here\}?/#\1$(dirname "$f")/#g" \
        | grep -oE '(^|[^A-Za-z0-9_./$-])(scripts|tests|bench|vendor|sql|pg_test|examples|docs|src)/[A-Za-z0-9_.*/-]*[A-Za-z0-9_*]' \
        | sed -E 's/^[^a-z]//'
    done
    git ls-files 'tests/*.js' | while read -r f; do
      grep -oE "path\.join\(__dirname(, '[^']*')+\)" "$f" | while read -r m; do
        realpath -m --relative-to="$root" "$(dirname "$f")/$(echo "$m" | grep -oE "'[^']*'" | tr -d "'" | paste -sd/)"
      done
    done
  } | grep -vE '^target/|(^|/)node_modules(/|$)'   # what the tests write or install, not read
}

clone_has_what_tests_read() {
  local clone="$work/empty/revos" missing="" p
  mkdir -p "$work/empty"
  git clone -q --no-hardlinks "$root" "$clone" >"$work/clone.log" 2>&1 \
    || { bad "git clone into an empty directory" "a clone" "$(tail -5 "$work/clone.log")"; return; }
  check "the clone's parent directory holds the clone only" "revos" "$(ls -A "$work/empty")"
  for p in $(named_paths | sort -u); do
    (cd "$clone" && compgen -G "$p" >/dev/null) || (cd "$clone" && compgen -G "$p*" >/dev/null) || missing+="$p "
  done
  check "every file the test scripts name is in the clone (committed, not ignored)" "" "$missing"
  local out
  out=$("$clone/scripts/citus-build" --verify 2>&1)
  check "the clone's vendor/citus-13.2.2.tar.gz has its recorded sha256" \
    "citus-build: vendor/citus-13.2.2.tar.gz: sha256 ok" "$out"
  local sum; sum=$(sed -n 's/^sha256=\([0-9a-f]\{64\}\)$/\1/p' "$clone/scripts/citus-build")
  check "vendor/README.md records the same sha256 as scripts/citus-build" "1" \
    "$(grep -c "\`$sum\`" "$clone/vendor/README.md")"
  rm -rf "$work/empty"
}

# ---- 2. every lock file installs as it is -------------------------------------------------------
npm_ci_from_empty_cache() { # PACKAGE_DIR (with package.json and package-lock.json)
  local dir=$1 dest="$work/npm/$1" cache="$work/npm-cache" t=$SECONDS log failed_before=$fail
  rm -rf "$dest" "$cache" && mkdir -p "$dest" "$cache"
  cp "$dir/package.json" "$dir/package-lock.json" "$dest/"
  log="$work/npm-$(echo "$dir" | tr / -).log"
  if (cd "$dest" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error --cache "$cache") >"$log" 2>&1; then
    ok "$dir/package-lock.json: npm ci from an empty cache ($((SECONDS - t)) s)"
  else
    bad "$dir/package-lock.json: npm ci from an empty cache" "installed" "$(grep -v 'npm warn' "$log" | head -12)"
  fi
  # each dependency package.json names is installed at a version it accepts (n8n: exactly 1.123.81)
  local name want got
  while read -r name want; do
    got=$(node -p "require(process.argv[1]).version" "$dest/node_modules/$name/package.json" 2>/dev/null)
    if [[ "$want" =~ ^[0-9] ]]; then check "$dir: $name installed at $want" "$want" "$got"
    else check "$dir: $name installed" "yes" "$([ -n "$got" ] && echo yes || echo no)"; fi
  done < <(python3 -c 'import json,sys; [print(k, v) for k, v in json.load(open(sys.argv[1]))["dependencies"].items()]' "$dir/package.json")
  t=$SECONDS
  [ "$dir" = tests/callers/n8n-cli ] && [ "$fail" = "$failed_before" ] && hand_over_n8n "$dest"
  rm -rf "$dest" "$cache"
  echo "# $dir: its install removed or handed over ($((SECONDS - t)) s)"
}

# When this machine's n8n (tests/callers/n8n-dir.sh) is not of the current lock, tests/callers/run.sh
# would install it again with npm ci: give it this install instead (same lock, same npm ci flags), on
# the same file system only (a rename, not a 1.7 GB copy). run.sh then only builds sqlite3.
hand_over_n8n() { # DEST (installed, and every check of it passed)
  . tests/callers/n8n-dir.sh
  [ "$(cat "$n8n_dir/.installed" 2>/dev/null)" != "$n8n_stamp" ] || return 0
  mkdir -p "$(dirname "$n8n_dir")"
  [ "$(stat -c %d "$1")" = "$(stat -c %d "$(dirname "$n8n_dir")")" ] || return 0
  # under run.sh's lock: scripts/test may be running the callers' tests on another version meanwhile
  (
    flock 9
    [ "$(cat "$n8n_dir/.installed" 2>/dev/null)" != "$n8n_stamp" ] || exit 0
    rm -rf "$n8n_dir" && mv "$1" "$n8n_dir" && echo "$n8n_stamp" >"$n8n_dir/.npm-ci" \
      && echo "# handed over to tests/callers/run.sh: $n8n_dir (its copy was not of this lock)"
  ) 9>"$n8n_dir.lock"
}

locks_install() {
  local lock
  for lock in $(git ls-files '*package-lock.json'); do npm_ci_from_empty_cache "$(dirname "$lock")"; done
  local t=$SECONDS
  if cargo metadata --locked --format-version 1 >"$work/cargo-metadata.json" 2>"$work/cargo-metadata.log"; then
    ok "Cargo.lock is in sync with Cargo.toml (cargo metadata --locked, $((SECONDS - t)) s)"
  else
    bad "Cargo.lock is in sync with Cargo.toml" "cargo metadata --locked succeeds" "$(tail -5 "$work/cargo-metadata.log")"
  fi
}

# ---- 3. scripts/setup's pgrx init path ----------------------------------------------------------
# What a complete config holds: 15 is Debian's (setup's choice), 16..18 this checkout's wheels.
expected_config() {
  local major cfg
  echo "pg15 = \"/usr/lib/postgresql/15/bin/pg_config\""
  for major in 16 17 18; do
    cfg=$(PG_CONFIG= scripts/pg-config "$major" 2>/dev/null) && echo "pg$major = \"$cfg\""
  done
}
config_of() { grep -E '^pg1[5-8] = ' "$1/config.toml" 2>/dev/null | sort; }

setup_case() { # NAME PGRX_HOME -> runs setup; checks exit 0, init reached (or not), and a complete config
  local name=$1 home=$2 init=$3 out rc
  out=$(PGRX_HOME=$home scripts/setup 2>&1); rc=$?
  check "setup, $name: exit 0" "0" "$rc"
  [ "$rc" = 0 ] || echo "$out" | tail -15
  check "setup, $name: cargo pgrx init $init" "$init" \
    "$(echo "$out" | grep -q '^== setup: cargo pgrx init ' && echo ran || echo 'not run')"
  check "setup, $name: config.toml names every installed PostgreSQL" "$(expected_config | sort)" "$(config_of "$home")"
}

setup_init_path() {
  local real="${PGRX_HOME:-$HOME/.pgrx}/config.toml" before h
  before=$(stat -c '%Y %s' "$real" 2>/dev/null; sha256sum "$real" 2>/dev/null)
  setup_case "pgrx never initialised (no PGRX_HOME directory)" "$work/pgrx-none/home" ran

  h="$work/pgrx-empty"; mkdir -p "$h"; : >"$h/config.toml"
  setup_case "an empty config.toml" "$h" ran
  check "setup, an empty config.toml: moved aside, not lost" "1" "$(ls "$h" | grep -c '^config\.toml\.unreadable\.')"

  h="$work/pgrx-gone"; mkdir -p "$h"
  printf '[configs]\n' >"$h/config.toml"
  for major in 15 16 17 18; do echo "pg$major = \"$work/gone/$major/bin/pg_config\"" >>"$h/config.toml"; done
  setup_case "config.toml naming pg_configs that no longer exist" "$h" ran

  h="$work/pgrx-good"; mkdir -p "$h"
  { echo '[configs]'; expected_config; } >"$h/config.toml"
  touch -d '2020-01-01' "$h/config.toml"
  local good; good=$(stat -c '%Y' "$h/config.toml"; sha256sum <"$h/config.toml")
  setup_case "a complete config.toml" "$h" "not run"
  check "setup, a complete config.toml: left byte for byte (pgrx would rebuild)" "$good" \
    "$(stat -c '%Y' "$h/config.toml"; sha256sum <"$h/config.toml")"

  : >"$work/a-file"
  local out rc
  out=$(PGRX_HOME="$work/a-file/pgrx" scripts/setup 2>&1); rc=$?
  check "setup, init failing (PGRX_HOME below a file): exits non-zero" "yes" "$([ "$rc" != 0 ] && echo yes || echo "no (exit $rc)")"
  check "setup, init failing: names the step and the command" "yes" \
    "$(echo "$out" | grep -qE '^setup: FAILED \(exit [0-9]+\) in step "cargo pgrx init": cargo pgrx init ' && echo yes || echo "no: $(echo "$out" | tail -3)")"

  check "the real pgrx config (${real/#$HOME/\~}) is left as it was" "$before" \
    "$(stat -c '%Y %s' "$real" 2>/dev/null; sha256sum "$real" 2>/dev/null)"
}

part() { # TITLE FUNCTION...
  local t=$SECONDS f
  echo "# $1"; shift
  for f in "$@"; do "$f"; done
  echo "# ($((SECONDS - t)) s)"
}
part "1. the repository stands alone" no_reference_outside clone_has_what_tests_read
part "2. every lock file installs as it is, from an empty cache" locks_install
part "3. scripts/setup's pgrx init path, with a throwaway PGRX_HOME" setup_init_path
finish
