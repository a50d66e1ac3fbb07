#!/usr/bin/env bash
# Latchkey on PostgreSQL (issues 5 and 11): client-credentials, introspection and
# refresh-grant throughput for one node and for two nodes sharing the database (the
# ratio two/one is the scale-out; issue 11's targets: ≥ 1.6× for client credentials,
# ≥ 1.3× for refresh grants), and how long a revocation made through node B takes to
# show in node A's introspection (p50/p99). bench/run.sh calls this at the end
# (BENCH_PG=0 skips it); it also runs alone: `bash bench/pg.sh`.
#
# Refresh grants spend refresh tokens minted ahead into the database (bench/mint.py),
# one per request (bench/grant_post.lua), each signing an RS256 ID token.
#
# Runs on a throwaway PostgreSQL cluster (target/debug/pg-cluster) unless DATABASE_URL
# names a server, on which it creates and leaves a database latchkey_bench_<pid>.
#
# Environment: BENCH_DURATION (10s), CONNECTIONS (4 per node), THREADS (1 per node),
# ROUNDS (200 revocations), PG_BENCH_PORT (3300; node B on +10), BENCH_SKIP_BUILD=1,
# PG_RATE_CAP (2000: refresh tokens minted per second of run and per node).
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
  # pg-cluster and pg-propagation (tests/src/bin); never the whole workspace
  cargo build -p latchkey-e2e --bins
fi
if [ -z "${DATABASE_URL:-}" ]; then
  exec env PG_BENCH_INNER=1 "$TOOLS/pg-cluster" -- bash "$0" "$@"
fi

DURATION="${BENCH_DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-4}"
THREADS="${THREADS:-1}"
ROUNDS="${ROUNDS:-200}"
PA="${PG_BENCH_PORT:-3300}"; PB=$((PA + 10))
CAP="${PG_RATE_CAP:-2000}"
OUT="$ROOT/bench/results/pg-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
: > "$SUMMARY"
say() { echo "bench/pg: $*"; }
# Everything that goes in the summary passes through here, in this shell: a pipeline
# (`{ …; } | tee`) would run the nodes it starts in a subshell, whose PIDs the exit
# trap never sees (the first run of this script leaked node B that way).
out() { tee -a "$SUMMARY"; }

DBNAME="latchkey_bench_$$"
psql -q "$DATABASE_URL" -c "CREATE DATABASE $DBNAME" >/dev/null
URL="${DATABASE_URL%/*}/$DBNAME"
LATCHKEY_KEK="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
export LATCHKEY_KEK
unset LATCHKEY_DB

PIDS=()
TMPD="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-pgbench.XXXXXX")"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT

field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
admin() { "$BIN" admin --database "$URL" "$@"; }

"$BIN" migrate --database "$URL" >/dev/null
admin scopes create api --description bench >/dev/null
cc="$(admin clients create --name bench-cc --grant client_credentials --scope api --json)"
CC_ID="$(field client_id <<<"$cc")"; CC_SECRET="$(field client_secret <<<"$cc")"
app="$(admin clients create --name bench-app --redirect-uri https://bench.test/cb \
  --scope "openid offline_access" --no-consent --json)"
APP_ID="$(field client_id <<<"$app")"; APP_SECRET="$(field client_secret <<<"$app")"
USER_ID="$(printf 'bench password 123\n' | admin users create --username bench --password-stdin --json | field id)"
secs="${DURATION%s}"
N=$(( CAP * secs + 64 ))
for f in a1 a2 b2; do
  python3 "$ROOT/bench/mint.py" pg "$URL" --client "$APP_ID" --user "$USER_ID" --kind refresh \
    --n "$N" --out "$TMPD/rt-$f"
done

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
app_auth="$(printf '%s:%s' "$APP_ID" "$APP_SECRET" | base64 -w0)"
# $1 label, $2 path, $3 body, then per node "port" (or "port:tokenfile" for refresh)
load() {
  local label="$1" path="$2" body="$3"; shift 3
  local wpids=() p port file ports=() up
  up="$(uptime | sed 's/^ *//')"
  for p in "$@"; do
    port="${p%%:*}"; file="${p#*:}"; ports+=("$port")
    if [ "$file" != "$p" ]; then
      BENCH_TOKENS="$file" BENCH_BODY="$body" BENCH_AUTH="$app_auth" BENCH_LABEL="$label-$port" \
        wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --timeout 5s -s "$ROOT/bench/grant_post.lua" \
        "http://127.0.0.1:$port$path" > "$OUT/$label.${#ports[@]}.$port.txt" 2>&1 &
    else
      BENCH_BODY="$body" BENCH_AUTH="$auth" BENCH_LABEL="$label-$port" \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 5s -s "$LUA" \
        "http://127.0.0.1:$port$path" > "$OUT/$label.${#ports[@]}.$port.txt" 2>&1 &
    fi
    wpids+=($!)
  done
  for p in "${wpids[@]}"; do wait "$p"; done
  python3 - "$OUT" "$label" "$up" "${ports[@]}" <<'PY'
import json, sys
out, label, up, ports = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
rps = errs = 0
for i, p in enumerate(ports, 1):
    for line in open(f"{out}/{label}.{i}.{p}.txt"):
        if line.startswith("RESULT "):
            r = json.loads(line[7:])
            rps += r["rps"]
            errs += r["err_status"] + r["err_connect"] + r["err_read"] + r["err_timeout"]
load = up.split("load average:")[-1].strip()
print(f"| {label} | {len(ports)} | {rps:.0f} | {errs} | {load} |")
PY
}

node "$PA"
say "warming up, then $DURATION per scenario"
curl -sf -o /dev/null -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "http://127.0.0.1:$PA/token"
TOKEN="$(curl -sf -u "$CC_ID:$CC_SECRET" -d grant_type=client_credentials "http://127.0.0.1:$PA/token" | field access_token)"
RT_BODY="grant_type=refresh_token&refresh_token=%s"
{
  echo "# Latchkey on PostgreSQL — $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo
  echo "wrk -c$CONNECTIONS -d$DURATION per node (-t$THREADS; refresh: -t1, one minted token per request); nodes, wrk and PostgreSQL share $(nproc) cores, which other work on this machine also uses: the load average is taken before each row."
  echo
  # pg-cluster's throwaway cluster runs without fsync: its write numbers are not durable ones
  echo "PostgreSQL: fsync=$(psql -Atq "$URL" -c 'SHOW fsync'), synchronous_commit=$(psql -Atq "$URL" -c 'SHOW synchronous_commit')."
  echo
  echo "| scenario | nodes | requests/s (sum) | errors | load average (1, 5, 15 min) before |"
  echo "| --- | ---: | ---: | ---: | --- |"
} | out
load client_credentials /token "grant_type=client_credentials" "$PA" | out
load introspection /introspect "token=$TOKEN" "$PA" | out
load refresh /token "$RT_BODY" "$PA:$TMPD/rt-a1" | out
node "$PB"
load client_credentials /token "grant_type=client_credentials" "$PA" "$PB" | out
load introspection /introspect "token=$TOKEN" "$PA" "$PB" | out
load refresh /token "$RT_BODY" "$PA:$TMPD/rt-a2" "$PB:$TMPD/rt-b2" | out
python3 - "$SUMMARY" <<'PY' | out
import sys
rows = {}
for line in open(sys.argv[1]):
    c = [x.strip() for x in line.strip().strip("|").split("|")]
    if len(c) >= 4 and c[1] in ("1", "2") and c[2].isdigit():
        rows[(c[0], c[1])] = (float(c[2]), c[3])
print()
print("| scenario | two nodes / one node | target |")
print("| --- | ---: | --- |")
for scen, target in (("client_credentials", 1.6), ("introspection", None), ("refresh", 1.3)):
    one, two = rows.get((scen, "1")), rows.get((scen, "2"))
    if not one or not two or one[0] == 0:
        print(f"| {scen} | — | |"); continue
    r = two[0] / one[0]
    clean = one[1] == "0" and two[1] == "0"
    verdict = "" if target is None else f"≥ {target}×: {'PASS' if r >= target else 'MISS'}" + ("" if clean else " (runs had errors)")
    print(f"| {scen} | {r:.2f}× | {verdict} |")
PY
echo | out
r="$(DATABASE_URL="$URL" NODE_A="http://127.0.0.1:$PA" NODE_B="http://127.0.0.1:$PB" \
    CLIENT_ID="$APP_ID" CLIENT_SECRET="$APP_SECRET" RS_ID="$CC_ID" RS_SECRET="$CC_SECRET" \
    USER_ID="$USER_ID" ROUNDS="$ROUNDS" "$TOOLS/pg-propagation")"
{
  echo "Revocation through node B's /revoke until node A's introspection says inactive:"
  echo "\`$r\`"
} | out
say "results in $OUT"
