#!/usr/bin/env bash
# DPoP (RFC 9449, issue 15): DPoP-bound client-credentials tokens/s beside plain bearer
# client-credentials tokens/s, on the same server, same core, same wrk settings, measured
# back to back and compared as a ratio (issue 15 target: >= 0.60). `bench/run.sh` (so
# `make bench`) calls this; it also runs alone.
#
# A DPoP request costs what a bearer one does plus: the proof's ES256 signature verified
# with its header key, the RFC 7638 thumbprint, and the proof's jti written to the shared
# replay table (one SQLite transaction; synchronous=FULL unless SERVE_ARGS says
# otherwise) where a bearer client-credentials token writes nothing. Proofs are minted
# ahead by bench/dpop_proofs.py (the `cryptography` package), one per request, iat = now,
# so a run must stay inside the server's 60 s iat window (BENCH_DURATION <= 40s).
#
# Environment:
#   BENCH_DURATION 10s, BENCH_RUNS 2, CONNECTIONS 16, LOADGEN_CPU 1, SERVER_CPU 0
#   LATCHKEY_BIN (default $CARGO_TARGET_DIR/release/latchkey), LATCHKEY_PORT (3300)
#   SERVE_ARGS     extra `latchkey serve` flags (e.g. --synchronous-normal)
#   OUT_DIR        bench/results/dpop-<UTC timestamp>
#
# Output: OUT_DIR/results.tsv (mode, run, tokens/s), the raw wrk output, the server log,
# and a summary line with the ratio.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${LATCHKEY_BIN:-$TARGET_DIR/release/latchkey}"
PORT="${LATCHKEY_PORT:-3300}"
ADMIN_PORT=$((PORT + 1))
DURATION="${BENCH_DURATION:-10s}"
RUNS="${BENCH_RUNS:-2}"
CONNECTIONS="${CONNECTIONS:-16}"
SERVER_CPU="${SERVER_CPU-0}"
LOADGEN_CPU="${LOADGEN_CPU-1}"
OUT_DIR="${OUT_DIR:-$ROOT/bench/results/dpop-$(date -u +%Y%m%dT%H%M%SZ)}"
BASE="http://127.0.0.1:$PORT"
mkdir -p "$OUT_DIR"

say() { echo "bench/dpop: $*"; }
die() { echo "bench/dpop: $*" >&2; exit 1; }
for c in wrk curl python3 taskset; do command -v "$c" >/dev/null || die "$c not found (run scripts/setup.sh)"; done
python3 -c 'import cryptography' 2>/dev/null || die "python3 cryptography missing (apt-get install python3-cryptography)"
[ -x "$BIN" ] || die "$BIN not found (cargo build --release -p latchkey)"
secs="${DURATION%s}"
[ "$secs" -le 40 ] || die "BENCH_DURATION must be at most 40s (proofs are minted with iat = now)"

TMP="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-dpop.XXXXXX")"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

db="$TMP/l.db"
"$BIN" admin --db "$db" scopes create api --description bench > "$OUT_DIR/admin.log" 2>&1
cj="$("$BIN" admin --db "$db" clients create --name bench --type confidential \
      --grant client_credentials --scope api --json 2>>"$OUT_DIR/admin.log")"
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
cid="$(field client_id <<<"$cj")"
csec="$(field client_secret <<<"$cj")"
auth="$(printf '%s:%s' "$cid" "$csec" | base64 -w0)"

pin=()
[ -n "$SERVER_CPU" ] && pin=(taskset -c "$SERVER_CPU")
# shellcheck disable=SC2086
"${pin[@]}" "$BIN" serve --db "$db" --issuer "$BASE" --public-addr "127.0.0.1:$PORT" \
  --admin-addr "127.0.0.1:$ADMIN_PORT" ${SERVE_ARGS:-} > "$OUT_DIR/server.log" 2>&1 < /dev/null &
PID=$!
for _ in $(seq 1 500); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$BASE/jwks")" = 200 ] && break
  kill -0 "$PID" 2>/dev/null || die "server exited; see $OUT_DIR/server.log"
  sleep 0.02
done

load=()
[ -n "$LOADGEN_CPU" ] && load=(taskset -c "$LOADGEN_CPU")
# tokens/s = successful responses per second (a refused proof is not a token).
run() { # $1 = bearer | dpop, $2 = run number
  local mode="$1" n="$2" proofs="" out="$OUT_DIR/wrk-$1-$2.txt"
  if [ "$mode" = dpop ]; then
    proofs="$TMP/proofs-$n.txt"
    python3 "$ROOT/bench/dpop_proofs.py" "$BASE/token" $((secs * 4000 + 2000)) > "$proofs"
  fi
  BENCH_AUTH="$auth" BENCH_PROOFS="$proofs" "${load[@]}" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" \
    -s "$ROOT/bench/dpop_post.lua" "$BASE/token" > "$out"
  python3 - "$out" "$secs" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
total = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
bad = int(bad.group(1)) if bad else 0
print(f"{(total - bad) / float(sys.argv[2]):.1f}")
PY
}

: > "$OUT_DIR/results.tsv"
for n in $(seq 1 "$RUNS"); do
  for mode in bearer dpop; do
    tps="$(run "$mode" "$n")"
    printf '%s\t%s\t%s\n' "$mode" "$n" "$tps" >> "$OUT_DIR/results.tsv"
    say "$mode run $n: $tps tokens/s"
  done
done
python3 - "$OUT_DIR/results.tsv" <<'PY'
import sys, statistics
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n") if l]
med = lambda m: statistics.median(float(r[2]) for r in rows if r[0] == m)
b, d = med("bearer"), med("dpop")
ratio = d / b if b else 0.0
print(f"bench/dpop: bearer {b:.0f} tokens/s, DPoP-bound {d:.0f} tokens/s, ratio {ratio:.2f} (target >= 0.60) {'PASS' if ratio >= 0.6 else 'FAIL'}")
sys.exit(0 if ratio >= 0.6 else 1)
PY
