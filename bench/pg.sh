#!/usr/bin/env bash
# Latchkey on PostgreSQL (issue 5): client-credentials and introspection throughput for
# one node and for two nodes sharing the database, and how long a revocation made
# through node B takes to show in node A's introspection (p50/p99). bench/run.sh calls
# this at the end (BENCH_PG=0 skips it); it also runs alone: `bash bench/pg.sh`.
#
# Runs on a throwaway PostgreSQL cluster (target/debug/pg-cluster) unless DATABASE_URL
# names a server, on which it creates and leaves a database latchkey_bench_<pid>.
#
# Environment: BENCH_DURATION (10s), CONNECTIONS (4 per node), THREADS (1 per node),
# ROUNDS (200 revocations), PG_BENCH_PORT (3300; node B on +10), BENCH_SKIP_BUILD=1.
# wrk and the nodes share the machine's cores: compare one vs two nodes within one run.
#
# Output: bench/results/pg-<UTC timestamp>/ (raw wrk output, node logs, summary.md).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${LATCHKEY_BIN:-$TARGET_DIR/release/latchkey}"
TOOLS="$TARGET_DIR/debug"
LUA="$ROOT/bench/peer-oidc-provider/form_post.lua"

if [ "${BENCH_SKIP_BUILD:-}" != 1 ] && [ -z "${PG_BENCH_INNER:-}" ]; then
  cargo build --release -p latchkey
  cargo build --workspace --bins
fi
if [ -z "${DATABASE_URL:-}" ]; then
  exec env PG_BENCH_INNER=1 "$TOOLS/pg-cluster" -- bash "$0" "$@"
fi

DURATION="${BENCH_DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-4}"
THREADS="${THREADS:-1}"
ROUNDS="${ROUNDS:-200}"
PA="${PG_BENCH_PORT:-3300}"; PB=$((PA + 10))
OUT="$ROOT/bench/results/pg-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
say() { echo "bench/pg: $*"; }

DBNAME="latchkey_bench_$$"
psql -q "$DATABASE_URL" -c "CREATE DATABASE $DBNAME" >/dev/null
URL="${DATABASE_URL%/*}/$DBNAME"
LATCHKEY_KEK="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
export LATCHKEY_KEK
unset LATCHKEY_DB

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT

field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
admin() { "$BIN" admin --database "$URL" "$@"; }

"$BIN" migrate --database "$URL" >/dev/null
admin scopes create api --description bench >/dev/null
cc="$(admin clients create --name bench-cc --grant client_credentials --scope api --json)"
CC_ID="$(field client_id <<<"$cc")"; CC_SECRET="$(field client_secret <<<"$cc")"
app="$(admin clients create --name bench-app --redirect-uri https://bench.test/cb --json)"
APP_ID="$(field client_id <<<"$app")"; APP_SECRET="$(field client_secret <<<"$app")"
USER_ID="$(printf 'bench password 123\n' | admin users create --username bench --password-stdin --json | field id)"

ISSUER="http://127.0.0.1:$PA"
node() { # $1 port
  "$BIN" serve --database "$URL" --issuer "$ISSUER" --public-addr "127.0.0.1:$1" \
    --admin-addr "127.0.0.1:$(( $1 + 1 ))" > "$OUT/node-$1.log" 2>&1 < /dev/null &
  PIDS+=($!)
  for _ in $(seq 1 300); do
    curl -sf -o /dev/null "http://127.0.0.1:$1/jwks" && return 0
    sleep 0.05
  done
  echo "bench/pg: node on $1 did not start; log:" >&2; cat "$OUT/node-$1.log" >&2; exit 1
}

auth="$(printf '%s:%s' "$CC_ID" "$CC_SECRET" | base64 -w0)"
load() { # $1 label, $2 path, $3 body, ports…
  local label="$1" path="$2" body="$3"; shift 3
  local wpids=() p
  for p in "$@"; do
    BENCH_BODY="$body" BENCH_AUTH="$auth" BENCH_LABEL="$label-$p" \
      wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$LUA" "http://127.0.0.1:$p$path" \
      > "$OUT/$label.$p.txt" 2>&1 &
    wpids+=($!)
  done
  for p in "${wpids[@]}"; do wait "$p"; done
  python3 - "$OUT" "$label" "$@" <<'PY'
import json, sys
out, label, ports = sys.argv[1], sys.argv[2], sys.argv[3:]
rps = errs = 0
for p in ports:
    for line in open(f"{out}/{label}.{p}.txt"):
        if line.startswith("RESULT "):
            r = json.loads(line[7:])
            rps += r["rps"]
            errs += r["err_status"] + r["err_connect"] + r["err_read"] + r["err_timeout"]
print(f"| {label} | {len(ports)} | {rps:.0f} | {errs} |")
PY
}

node "$PA"
say "warming up, then $DURATION per scenario"
curl -sf -o /dev/null -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "http://127.0.0.1:$PA/token"
TOKEN="$(curl -sf -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "http://127.0.0.1:$PA/token" | field access_token)"
{
  echo "# Latchkey on PostgreSQL — $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION per node; nodes, wrk and PostgreSQL share $(nproc) cores (loadavg $(cut -d' ' -f1-3 /proc/loadavg) at start)."
  echo
  echo "| scenario | nodes | requests/s (sum) | errors |"
  echo "| --- | ---: | ---: | ---: |"
  load client_credentials /token "grant_type=client_credentials" "$PA"
  load introspection /introspect "token=$TOKEN" "$PA"
  node "$PB"
  load client_credentials /token "grant_type=client_credentials" "$PA" "$PB"
  load introspection /introspect "token=$TOKEN" "$PA" "$PB"
  echo
  r="$(DATABASE_URL="$URL" NODE_A="http://127.0.0.1:$PA" NODE_B="http://127.0.0.1:$PB" \
      CLIENT_ID="$APP_ID" CLIENT_SECRET="$APP_SECRET" RS_ID="$CC_ID" RS_SECRET="$CC_SECRET" \
      USER_ID="$USER_ID" ROUNDS="$ROUNDS" "$TOOLS/pg-propagation")"
  echo "Revocation through node B's /revoke until node A's introspection says inactive:"
  echo "\`$r\`"
} | tee "$OUT/summary.md"
say "results in $OUT"
