#!/usr/bin/env bash
# The request-path cost of the anomaly detections (issue 14): client-credentials
# tokens/s and refresh-token grants/s on one release `latchkey serve` (SQLite),
# alternating within one run between
#   off: every detection off, an empty block list;
#   on:  every detection (all twelve rules) in enforce mode, BLOCKS blocks of other
#        networks in the list (so every token request probes a non-empty block list).
# Refresh grants spend refresh tokens minted ahead (bench/mint.py, one per request,
# REFRESH_RATE_CAP per second of run), each a real rotation + RS256 ID token.
# The modes change through `latchkey admin settings` while the server runs (every node
# applies a change within a second), so both arms run against the same process.
#
# Usage: bash bench/detections.sh  (env: LATCHKEY_BIN, DURATION=10s, ROUNDS=3,
#        CONNECTIONS=16, THREADS=2, BLOCKS=100, PORT=18480, REFRESH_SECS=5,
#        REFRESH_RATE_CAP=2000)
# Prints one line per run and the on/off ratio of the medians (target ≥ 0.95).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
BIN="${LATCHKEY_BIN:-${CARGO_TARGET_DIR:-$here/../target}/release/latchkey}"
DURATION="${DURATION:-10s}" ROUNDS="${ROUNDS:-3}" CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}" BLOCKS="${BLOCKS:-100}" PORT="${PORT:-18480}"
REFRESH_SECS="${REFRESH_SECS:-5}" REFRESH_RATE_CAP="${REFRESH_RATE_CAP:-2000}"
[ -x "$BIN" ] || { echo "no latchkey binary at $BIN (cargo build --release -p latchkey)" >&2; exit 1; }
dir="$(mktemp -d)"; db="$dir/bench.db"
trap 'kill "$pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"' EXIT
admin() { "$BIN" admin --db "$db" "$@"; }
admin scopes create api --description bench >/dev/null
cj="$(admin clients create --name bench --type confidential --grant client_credentials --scope api --json)"
cid="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$cj")"
csec="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$cj")"
rj="$(admin clients create --name bench-app --redirect-uri https://bench.test/cb \
  --scope "openid offline_access" --no-consent --json)"
rid="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$rj")"
rsec="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$rj")"
uj="$(printf 'bench password 123\n' | admin users create --username bench --password-stdin --json)"
uid="$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("id") or d["user"]["id"])' <<<"$uj")"
n_rt=$(( REFRESH_RATE_CAP * REFRESH_SECS + 2 * CONNECTIONS ))
for r in $(seq 1 "$ROUNDS"); do for arm in off on; do
  python3 "$here/mint.py" sqlite "$db" --client "$rid" --user "$uid" --kind refresh \
    --n "$n_rt" --out "$dir/rt-$arm-$r" 2>/dev/null
done; done
"$BIN" serve --db "$db" --issuer "http://127.0.0.1:$PORT" --public-addr "127.0.0.1:$PORT" \
  --admin-addr "127.0.0.1:$((PORT + 1))" > "$dir/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 500); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/jwks" && break; sleep 0.02
done
modes() {
  admin settings update --detect-brute-force-mode "$1" --detect-spray-mode "$1" \
    --detect-client-guess-mode "$1" --detect-wave-mode "$1" --detect-unfamiliar-mode "$1" \
    --detect-refresh-reuse-mode "$1" --detect-mint-mode "$1" --detect-token-replay-mode "$1" \
    --detect-hygiene-mode "$1" >/dev/null
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
refresh() { # $1 arm, $2 round → grants/s and non-2xx (one wrk thread: one token file)
  BENCH_LABEL="refresh-$1" BENCH_TOKENS="$dir/rt-$1-$2" BENCH_AUTH="$RAUTH" \
    BENCH_BODY="grant_type=refresh_token&refresh_token=%s" \
    wrk -t1 -c"$CONNECTIONS" -d"${REFRESH_SECS}s" -s "$here/grant_post.lua" \
    "http://127.0.0.1:$PORT/token" \
    | sed -n 's/^RESULT .*"rps":\([0-9.]*\).*"err_status":\([0-9]*\).*/\1 \2/p'
}
RAUTH="$(printf '%s:%s' "$rid" "$rsec" | base64 -w0)"
wrk -t"$THREADS" -c"$CONNECTIONS" -d3s -s "$here/peer-oidc-provider/form_post.lua" \
  "http://127.0.0.1:$PORT/token" >/dev/null # warm-up
off=() on=() roff=() ron=()
arm_off() {
  modes off; blocks_clear; sleep 1.2
  read -r rps errs < <(run off); echo "round $1 off: $rps tokens/s (non-2xx: $errs)"; off+=("$rps")
  read -r rps errs < <(refresh off "$1"); echo "round $1 off: $rps refresh grants/s (non-2xx: $errs)"; roff+=("$rps")
}
arm_on() {
  modes enforce; blocks_add; sleep 1.2
  read -r rps errs < <(run on); echo "round $1 on:  $rps tokens/s (non-2xx: $errs)"; on+=("$rps")
  read -r rps errs < <(refresh on "$1"); echo "round $1 on:  $rps refresh grants/s (non-2xx: $errs)"; ron+=("$rps")
}
# Off first in odd rounds, on first in even ones: the database grows with every run
# (rotated refresh tokens stay), so a fixed order would favour the arm that runs first.
for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then arm_off "$r"; arm_on "$r"; else arm_on "$r"; arm_off "$r"; fi
done
python3 - "${off[*]}" "${on[*]}" "${roff[*]}" "${ron[*]}" <<'EOF'
import statistics, sys
for name, a, b in (("client credentials", sys.argv[1], sys.argv[2]),
                   ("refresh", sys.argv[3], sys.argv[4])):
    off = [float(x) for x in a.split()]
    on = [float(x) for x in b.split()]
    mo, mn = statistics.median(off), statistics.median(on)
    print(f"{name}: median off {mo:.1f}/s, on {mn:.1f}/s, on/off = {mn / mo:.3f} (target >= 0.95)")
EOF
