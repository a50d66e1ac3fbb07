#!/usr/bin/env bash
# The request-path cost of the Prometheus metrics (issue 14): client-credentials
# tokens/s of two release `latchkey serve` binaries on copies of one SQLite database,
# alternating within one run:
#   base: a build without metrics (BASE_BIN, e.g. the commit before them);
#   new:  this build (NEW_BIN), recording every request, its latency and each token
#         issued by grant and client, with a scrape of /metrics between rounds.
#
# Usage: BASE_BIN=… NEW_BIN=… bash bench/metrics.sh
#        (env: DURATION=10s, ROUNDS=3, CONNECTIONS=16, THREADS=2, PORT=18490, SERVER_CPU=0,
#        LOADGEN_CPU=1)
# Prints one line per run and the new/base ratio of the medians.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BASE_BIN="${BASE_BIN:?build the base commit and name its binary}"
NEW_BIN="${NEW_BIN:-${CARGO_TARGET_DIR:-$here/../target}/release/latchkey}"
DURATION="${DURATION:-10s}" ROUNDS="${ROUNDS:-3}" CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}" PORT="${PORT:-18490}"
SERVER_CPU="${SERVER_CPU:-0}" LOADGEN_CPU="${LOADGEN_CPU:-1}"
dir="$(mktemp -d)"; pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
# One database per binary (a base build refuses a schema newer than it knows), set up
# the same way: a scope, a client-credentials client, a read-only API key.
setup() { # $1 binary, $2 name → "<basic auth> <api key>"
  local db="$dir/$2.db" cj cid csec key
  cj="$("$1" admin --db "$db" scopes create api --description bench >/dev/null
        "$1" admin --db "$db" clients create --name bench --type confidential \
          --grant client_credentials --scope api --json)"
  cid="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$cj")"
  csec="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$cj")"
  key="$("$1" admin --db "$db" api-keys create --name scrape --read-only --json \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')"
  echo "$(printf '%s:%s' "$cid" "$csec" | base64 -w0) $key"
}
read -r base_auth _ < <(setup "$BASE_BIN" base)
read -r new_auth key < <(setup "$NEW_BIN" new)
export BENCH_METHOD=POST BENCH_BODY="grant_type=client_credentials&scope=api"
start() { # $1 binary, $2 name
  taskset -c "$SERVER_CPU" "$1" serve --db "$dir/$2.db" --issuer "http://127.0.0.1:$PORT" \
    --public-addr "127.0.0.1:$PORT" --admin-addr "127.0.0.1:$((PORT + 1))" > "$dir/serve.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 500); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/jwks" && break; sleep 0.02; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
run() { # → tokens/s and non-2xx count
  taskset -c "$LOADGEN_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
    -s "$here/peer-oidc-provider/form_post.lua" "http://127.0.0.1:$PORT/token" \
    | sed -n 's/^RESULT .*"rps":\([0-9.]*\).*"err_status":\([0-9]*\).*/\1 \2/p'
}
base=() new=()
for r in $(seq 1 "$ROUNDS"); do
  export BENCH_AUTH="$base_auth"
  start "$BASE_BIN" base; run >/dev/null; read -r rps errs < <(run); stop
  echo "round $r base: $rps tokens/s (non-2xx: $errs)"; base+=("$rps")
  export BENCH_AUTH="$new_auth"
  start "$NEW_BIN" new; run >/dev/null; read -r rps errs < <(run)
  curl -sf -H "authorization: Bearer $key" "http://127.0.0.1:$((PORT + 1))/metrics" \
    | grep -c '^latchkey_' | sed 's/^/  metrics series scraped: /'
  stop
  echo "round $r new:  $rps tokens/s (non-2xx: $errs)"; new+=("$rps")
done
python3 - "${base[*]}" "${new[*]}" <<'PY'
import statistics, sys
b = [float(x) for x in sys.argv[1].split()]
n = [float(x) for x in sys.argv[2].split()]
mb, mn = statistics.median(b), statistics.median(n)
print(f"median base {mb:.1f}/s, new (metrics) {mn:.1f}/s, new/base = {mn / mb:.3f}")
PY
