#!/usr/bin/env bash
# The payload format (issue 20): schema/revos.schema.json against revos on a real server.
#
#   tests/format/run.sh DSN                the fixtures, the payloads docs mark, pg_test's payloads, ~1,800
#                                          mutations of a payload that uses every key, and the probes
#   tests/format/run.sh --harvest DIR      the payloads the in-database tests sent (tests/common writes
#                                          them to DIR when REVOS_HARVEST_DIR is set); exit 77 when none
#
# DSN: a superuser URL of a throwaway cluster with revos installed (the database format_schema is
# created and dropped). Installs the Python package jsonschema into target/py-format and the npm
# package ajv into target/node-format once (both pinned): each payload's verdict must be the same
# from both validators.
# REVOS_SCHEMA_REPORT=FILE writes every payload's two verdicts to FILE.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
py="$root/target/py-format"
# scripts/test runs versions side by side: one of them installs, the others wait for it
mkdir -p "$root/target" && exec 8>"$root/target/.format-install.lock" && flock 8
JSONSCHEMA=jsonschema==4.26.0
# python3 -S: no site-packages, so that only this copy is used, whatever the machine has installed.
if ! PYTHONPATH="$py" python3 -S -c 'import importlib.metadata as m, sys; sys.exit(m.version("jsonschema") != sys.argv[1])' \
     "${JSONSCHEMA#*==}" 2>/dev/null; then
  echo "installing $JSONSCHEMA into target/py-format (pip)"
  rm -rf "$py"
  python3 -m pip install --quiet --disable-pip-version-check --target "$py" "$JSONSCHEMA"
fi
# ajv, as JavaScript callers (n8n's Code node) validate: the same verdicts are required of it.
node_dir="$root/target/node-format"
AJV=ajv@8.20.0
if [ "$(node -p 'require(process.argv[1] + "/node_modules/ajv/package.json").version' "$node_dir" 2>/dev/null)" != "${AJV#*@}" ]; then
  echo "installing $AJV into target/node-format (npm)"
  mkdir -p "$node_dir"
  npm install --silent --no-audit --no-fund --prefix "$node_dir" "$AJV" >/dev/null
fi
export REVOS_AJV_NODE_PATH="$node_dir/node_modules"
flock -u 8 && exec 8>&-
PYTHONPATH="$py" exec python3 -S "$root/tests/format/schema_check.py" "$@"
