#!/usr/bin/env bash
# Token exchange (RFC 8693, issue 13): exchanges/s beside client-credentials tokens/s on
# the same server, same core, same wrk settings, measured back to back and compared as a
# ratio (issue 13 target: ≥ 0.5). `bench/run.sh` (so `make bench`) calls this; it also
# runs alone.
#
# The exchange is the realistic one-hop case: a service trades the access token it holds
# (its own client-credentials token, so the "requester in the subject's aud" rule holds)
# for a token for the next service, allowed by one matching policy. Every exchange
# verifies the subject (signature once, then every revocation), evaluates the policy,
# signs an ES256 access token and writes its lineage, access-token record and audit event
# in one transaction (SQLite, synchronous=FULL unless SERVE_ARGS says otherwise);
# client credentials write nothing.
#
# Environment:
#   BENCH_DURATION 20s, BENCH_RUNS 3, WARMUP, THREADS, LOADGEN_CPU as run.sh
#   CONNECTIONS     16  (as dpop.sh and writes.sh: every exchange is a write, and concurrent
#                   writes share a commit; 4 leaves the one core waiting on commits)
#   SERVER_CPU 0, LATCHKEY_BIN, LATCHKEY_PORT (3200) as in run.sh
#   SERVE_ARGS      (empty)  extra `latchkey serve` flags (e.g. --synchronous-normal)
#   OUT_DIR         bench/results/exchange-<UTC timestamp>
#
# Output: OUT_DIR/results.tsv (bench.sh's, one line per run), raw wrk output, the server
# log, OUT_DIR/summary.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
PEER="$BENCH/peer-oidc-provider"
cd "$ROOT"

SERVER_CPU="${SERVER_CPU-0}"
LATCHKEY_PORT="${LATCHKEY_PORT:-3200}"
ADMIN_PORT=$((LATCHKEY_PORT + 1))
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${LATCHKEY_BIN:-$TARGET_DIR/release/latchkey}"
export OUT_DIR="${OUT_DIR:-$BENCH/results/exchange-$(date -u +%Y%m%dT%H%M%SZ)}"
export DURATION="${BENCH_DURATION:-${DURATION:-20s}}" REPEATS="${BENCH_RUNS:-${REPEATS:-3}}"
export CONNECTIONS="${CONNECTIONS:-16}"
DOWNSTREAM="https://downstream.bench/api"
AT_TYPE="urn:ietf:params:oauth:token-type:access_token"
GRANT="urn:ietf:params:oauth:grant-type:token-exchange"
mkdir -p "$OUT_DIR"

say() { echo "bench/exchange: $*"; }
die() { echo "bench/exchange: $*" >&2; exit 1; }
for c in wrk curl python3 ss taskset; do command -v "$c" >/dev/null || die "$c not found"; done
[ -x "$BIN" ] || die "$BIN not found (cargo build --release -p latchkey)"
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
# A string field at any depth of the JSON on stdin (as run.sh's json_field).
deep() { python3 -c '
import json, sys
def find(o, k):
    if isinstance(o, dict):
        if isinstance(o.get(k), str):
            return o[k]
        for v in o.values():
            r = find(v, k)
            if r is not None:
                return r
    return None
r = find(json.load(sys.stdin), sys.argv[1])
sys.exit("no " + sys.argv[1]) if r is None else print(r)' "$1"; }
urlenc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }

LK_PID="" LK_TMP=""
cleanup() {
  if [ -n "$LK_PID" ]; then kill -TERM "$LK_PID" 2>/dev/null || true; wait "$LK_PID" 2>/dev/null || true; fi
  [ -n "$LK_TMP" ] && rm -rf "$LK_TMP"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT

port_busy "$LATCHKEY_PORT" && die "port $LATCHKEY_PORT is already in use"
port_busy "$ADMIN_PORT" && die "port $ADMIN_PORT is already in use"
LK_TMP="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-exchange.XXXXXX")"
db="$LK_TMP/l.db"
base="http://127.0.0.1:$LATCHKEY_PORT"
admin=("$BIN" admin --db "$db")

say "provisioning: scope, service client (1 h access tokens), one policy"
"${admin[@]}" scopes create api --description bench > "$OUT_DIR/admin.log" 2>&1
cj="$("${admin[@]}" clients create --name svc --type confidential --grant client_credentials \
      --scope api --access-token-ttl 3600 --json 2>>"$OUT_DIR/admin.log")"
cid="$(deep client_id <<<"$cj")"
csec="$(deep client_secret <<<"$cj")"
"${admin[@]}" exchange-policies create --requester "$cid" --target "$DOWNSTREAM" \
  --subject-client "$cid" --scope api --max-ttl 300 --json >> "$OUT_DIR/admin.log" 2>&1

pin=(env LATCHKEY_ACCESS_TOKEN_ALG=ES256)
[ -n "$SERVER_CPU" ] && pin+=(taskset -c "$SERVER_CPU")
# shellcheck disable=SC2086
"${pin[@]}" "$BIN" serve --db "$db" --issuer "$base" --public-addr "127.0.0.1:$LATCHKEY_PORT" \
  --admin-addr "127.0.0.1:$ADMIN_PORT" ${SERVE_ARGS:-} > "$OUT_DIR/server.log" 2>&1 < /dev/null &
LK_PID=$!
for _ in $(seq 1 1000); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -m 0.5 "$base/.well-known/openid-configuration")" = 200 ] && break
  kill -0 "$LK_PID" 2>/dev/null || die "server exited; see $OUT_DIR/server.log"
  sleep 0.01
done
sleep 1

subject="$(curl -s -u "$cid:$csec" -d 'grant_type=client_credentials&scope=api' "$base/token" | field access_token)"
xbody="grant_type=$(urlenc "$GRANT")&subject_token=$subject&subject_token_type=$(urlenc "$AT_TYPE")&audience=$(urlenc "$DOWNSTREAM")"

common=(BASE_URL="$base" CLIENT_ID="$cid" CLIENT_SECRET="$csec" SERVER_PID="$LK_PID"
        TOKEN_PATH=/token TOKEN_EXTRA="")
say "client credentials (ES256), the reference rate"
env "${common[@]}" LABEL=latchkey-cc TOKEN_PARAMS="grant_type=client_credentials&scope=api" \
  "$PEER/bench.sh" token
say "token exchange (ES256 subject → ES256 token, one policy)"
env "${common[@]}" LABEL=latchkey-exchange TOKEN_PARAMS="$xbody" "$PEER/bench.sh" token

python3 - "$OUT_DIR" > "$OUT_DIR/summary.md" <<'EOF'
import csv, os, statistics as st, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "results.tsv")), delimiter="\t"))
def med(label, col):
    v = [float(r[col]) for r in rows if r["label"] == label and r["status"] == "OK" and r[col] not in ("", "-")]
    return st.median(v) if v else None
cc, tx = med("latchkey-cc", "rps"), med("latchkey-exchange", "rps")
ccc, txc = med("latchkey-cc", "req_per_server_cpu_s"), med("latchkey-exchange", "req_per_server_cpu_s")
f = lambda v: "—" if v is None else f"{v:,.0f}"
ratio = None if not cc or tx is None else tx / cc
print("# Token exchange vs client credentials (one server core)\n")
print(f"Run `{os.path.basename(out)}`: medians of the runs that passed.\n")
print("| | client credentials | token exchange | exchange / cc | target |")
print("| --- | ---: | ---: | ---: | --- |")
verdict = "—" if ratio is None else ("PASS" if ratio >= 0.5 else "MISS")
print(f"| requests/s | {f(cc)} | {f(tx)} | {'—' if ratio is None else f'{ratio:.2f}×'} | ≥ 0.50×: {verdict} |")
print(f"| requests per server CPU-second | {f(ccc)} | {f(txc)} | {'—' if not ccc or txc is None else f'{txc / ccc:.2f}×'} | |")
for col, name in (("p50_ms", "p50 ms"), ("p99_ms", "p99 ms")):
    a, b = med("latchkey-cc", col), med("latchkey-exchange", col)
    print(f"| {name} | {'—' if a is None else f'{a:.2f}'} | {'—' if b is None else f'{b:.2f}'} | | |")
EOF
echo
cat "$OUT_DIR/summary.md"
