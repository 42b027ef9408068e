# Where the real n8n (for n8n-cli.test.js) is installed, and from which lock: sourced by
# tests/callers/run.sh, which installs it there, and tests/fresh_machine.sh, which hands over the n8n it
# installed from an empty npm cache when this machine's copy is not of the current lock.
#   n8n_src     tests/callers/n8n-cli (package.json, package-lock.json)
#   n8n_dir     $REVOS_N8N_DIR, default ~/.cache/revos/n8n: per machine, so that a fresh clone reuses it
#   n8n_stamp   of package.json + package-lock.json; $n8n_dir/.npm-ci holds it once `npm ci` put the
#               lock's tree there, $n8n_dir/.installed once sqlite3 was built for it too
n8n_src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/n8n-cli"
n8n_dir="${REVOS_N8N_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/revos/n8n}"
n8n_stamp=$(cat "$n8n_src/package.json" "$n8n_src/package-lock.json" | sha256sum | cut -c1-16)
