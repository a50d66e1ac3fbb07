#!/usr/bin/env bash
# The request-path cost of the anomaly detections (issue 14): client-credentials
# tokens/s on one release `latchkey serve` (SQLite), alternating within one run between
#   off: every detection off, an empty block list;
#   on:  every detection in enforce mode, BLOCKS blocks of other networks in the list
#        (so every token request probes a non-empty block list).
# The modes change through `latchkey admin settings` while the server runs (every node
# applies a change within a second), so both arms run against the same process.
#
# Usage: bash bench/detections.sh  (env: LATCHKEY_BIN, DURATION=10s, ROUNDS=3,
#        CONNECTIONS=16, THREADS=2, BLOCKS=100, PORT=18480)
# Prints one line per run and the on/off ratio of the medians (target ≥ 0.95).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${LATCHKEY_BIN:-${CARGO_TARGET_DIR:-$here/../target}/release/latchkey}"
DURATION="${DURATION:-10s}" ROUNDS="${ROUNDS:-3}" CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}" BLOCKS="${BLOCKS:-100}" PORT="${PORT:-18480}"
[ -x "$BIN" ] || { echo "no latchkey binary at $BIN (cargo build --release -p latchkey)" >&2; exit 1; }
dir="$(mktemp -d)"; db="$dir/bench.db"
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
admin() { "$BIN" admin --db "$db" "$@"; }
admin scopes create api --description bench >/dev/null
cj="$(admin clients create --name bench --type confidential --grant client_credentials --scope api --json)"
cid="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$cj")"
csec="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$cj")"
"$BIN" serve --db "$db" --issuer "http://127.0.0.1:$PORT" --public-addr "127.0.0.1:$PORT" \
  --admin-addr "127.0.0.1:$((PORT + 1))" > "$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 500); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/jwks" && break; sleep 0.02
done
modes() {
  admin settings update --detect-brute-force-mode "$1" --detect-spray-mode "$1" \
    --detect-client-guess-mode "$1" >/dev/null
}
blocks_add() { for i in $(seq 1 "$BLOCKS"); do admin blocks add "10.$((i / 256)).$((i % 256)).0/24" --for 1d >/dev/null; done; }
blocks_clear() { for i in $(seq 1 "$BLOCKS"); do admin blocks remove "10.$((i / 256)).$((i % 256)).0/24" >/dev/null 2>&1 || true; done; }
export BENCH_METHOD=POST BENCH_BODY="grant_type=client_credentials&scope=api"
BENCH_AUTH="$(printf '%s:%s' "$cid" "$csec" | base64 -w0)"; export BENCH_AUTH
run() { # $1 label → tokens/s
  BENCH_LABEL="$1" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" \
    -s "$here/peer-oidc-provider/form_post.lua" "http://127.0.0.1:$PORT/token" \
    | sed -n 's/^RESULT .*"rps":\([0-9.]*\).*"err_status":\([0-9]*\).*/\1 \2/p'
}
wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$here/peer-oidc-provider/form_post.lua" \
  "http://127.0.0.1:$PORT/token" >/dev/null # warm-up
off=() on=()
for r in $(seq 1 "$ROUNDS"); do
  modes off; blocks_clear; sleep 1.2
  read -r rps errs < <(run off); echo "round $r off: $rps tokens/s (non-2xx: $errs)"; off+=("$rps")
  modes enforce; blocks_add; sleep 1.2
  read -r rps errs < <(run on); echo "round $r on:  $rps tokens/s (non-2xx: $errs)"; on+=("$rps")
done
python3 - "${off[*]}" "${on[*]}" <<'EOF'
import statistics, sys
off = [float(x) for x in sys.argv[1].split()]
on = [float(x) for x in sys.argv[2].split()]
mo, mn = statistics.median(off), statistics.median(on)
print(f"median off {mo:.1f}/s, on {mn:.1f}/s, on/off = {mn / mo:.3f} (target >= 0.95)")
EOF
