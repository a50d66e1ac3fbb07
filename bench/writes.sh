#!/usr/bin/env bash
# The write path (issue 11 §4): refresh-token grants/s and authorization-code
# redemptions/s, Latchkey on SQLite (synchronous=FULL, the default) vs node-oidc-provider
# (its in-memory adapter: no durability at all), measured back to back in one run and
# compared as ratios. `bench/run.sh` (so `make bench`) calls this; it also runs alone.
#
# Credentials are minted ahead, one per request: Latchkey's straight into the database
# (bench/mint.py: a session + refresh token, or a code with a PKCE challenge, as the
# store writes them after a sign-in), the peer's by the peer itself at start-up through
# its own models (server.mjs, MINT_*). Every request then spends one through the real
# /token endpoint (bench/grant_post.lua): a full rotation or redemption, each signing an
# RS256 ID token (scope openid offline_access) on both servers.
#
# Environment:
#   BENCH_WRITE_DURATION 5     seconds per measured run (plus one warm-up run of 1 s)
#   BENCH_RUNS           3     measured runs per scenario; medians are reported
#   WRITE_CONNECTIONS    16    concurrent connections (a write path that batches needs
#                              concurrent writers; 16 browsers/apps refreshing at once)
#   WRITE_RATE_CAP       3000  credentials minted per second of run (a run faster than
#                              this runs out, answers 400 and is marked FAIL)
#   BENCH_ONLY           both  peer | latchkey
#   SERVER_CPU 0, LOADGEN_CPU 1, LATCHKEY_BIN, LATCHKEY_PORT (3200) as in run.sh
#   SERVE_ARGS           (empty)  extra `latchkey serve` flags, e.g. --synchronous-normal to
#                              see what the fsync costs (the summary then is not FULL's)
#   OUT_DIR              bench/results/writes-<UTC timestamp>
#
# Output: OUT_DIR/writes.tsv (one line per run), raw wrk output, server logs,
# OUT_DIR/summary.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
PEER="$BENCH/peer-oidc-provider"
cd "$ROOT"

DUR="${BENCH_WRITE_DURATION:-5}"
RUNS="${BENCH_RUNS:-3}"
CONN="${WRITE_CONNECTIONS:-16}"
CAP="${WRITE_RATE_CAP:-3000}"
ONLY="${BENCH_ONLY:-both}"
SERVER_CPU="${SERVER_CPU-0}"
LOADGEN_CPU="${LOADGEN_CPU-1}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${LATCHKEY_BIN:-$TARGET_DIR/release/latchkey}"
LATCHKEY_PORT="${LATCHKEY_PORT:-3200}"
OUT_DIR="${OUT_DIR:-$BENCH/results/writes-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$OUT_DIR"
TSV="$OUT_DIR/writes.tsv"
printf 'server\tscenario\trun\trps\tp50_ms\tp99_ms\tnon2xx\tsock_err\tserver_cpu_s\tserver_cpu_us_per_req\tloadavg1\tstatus\n' > "$TSV"
VERIFIER="bench-verifier-0123456789-0123456789-0123456789"
N=$(( CAP * DUR + 2 * CONN ))
N0=$(( CAP + 2 * CONN ))

say() { echo "bench/writes: $*"; }
die() { echo "bench/writes: $*" >&2; exit 1; }
for c in wrk curl python3 ss taskset; do command -v "$c" >/dev/null || die "$c not found"; done
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
LG=()
[ -n "$LOADGEN_CPU" ] && LG=(taskset -c "$LOADGEN_CPU")

LK_PID="" LK_TMP="" PEER_STARTED=0 PEER_TMP=""
cleanup() {
  if [ -n "$LK_PID" ]; then kill -TERM "$LK_PID" 2>/dev/null || true; wait "$LK_PID" 2>/dev/null || true; LK_PID=""; fi
  [ -n "$LK_TMP" ] && rm -rf "$LK_TMP"
  if [ "$PEER_STARTED" = 1 ]; then "$PEER/run.sh" --stop >/dev/null 2>&1 || true; PEER_STARTED=0; fi
  [ -n "$PEER_TMP" ] && rm -rf "$PEER_TMP"
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT

{
  echo "date_utc=$(date -u +%FT%TZ) commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "duration=${DUR}s runs=$RUNS connections=$CONN threads=1 server_cpu=${SERVER_CPU:-any} loadgen_cpu=${LOADGEN_CPU:-any} nproc=$(nproc)"
  echo "uptime: $(uptime)"
} | tee "$OUT_DIR/meta.txt"

# $1 server, $2 scenario, $3 pid, $4 url, $5 basic auth b64, $6 body with %s, $7 files prefix
measure() {
  local server="$1" scen="$2" pid="$3" url="$4" auth="$5" body="$6" prefix="$7" i
  for i in $(seq 0 "$RUNS"); do
    local d="$DUR" out="$OUT_DIR/$server.$scen.run$i.txt"
    [ "$i" = 0 ] && { d=1; out="$OUT_DIR/$server.$scen.warmup.txt"; }
    echo "  uptime before $server/$scen run $i: $(uptime)" | tee -a "$OUT_DIR/meta.txt"
    local load t0 t1
    load="$(cut -d' ' -f1 /proc/loadavg)"
    t0="$(cpu_ticks "$pid")"
    BENCH_TOKENS="$prefix.$i" BENCH_BODY="$body" BENCH_AUTH="$auth" BENCH_LABEL="$server/$scen/$i" \
      "${LG[@]}" wrk -t1 -c"$CONN" -d"${d}s" --timeout 5s --latency -s "$BENCH/grant_post.lua" "$url" > "$out" 2>&1 || true
    t1="$(cpu_ticks "$pid")"
    [ "$i" = 0 ] && continue
    local line; line="$(grep '^RESULT ' "$out" | sed 's/^RESULT //')"
    [ -n "$line" ] || { echo "no RESULT in $out"; cat "$out"; continue; }
    python3 - "$line" "$server" "$scen" "$i" "$t0" "$t1" "$CLK_TCK" "$load" >> "$TSV" <<'EOF'
import sys, json
r = json.loads(sys.argv[1]); server, scen, i = sys.argv[2:5]
t0, t1, tck, load = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
cpu = (t1 - t0) / tck
sock = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
ok = r["err_status"] == 0 and sock == 0 and r["requests"] > 0 and r["requests"] <= r["tokens"]
us = f'{cpu * 1e6 / r["requests"]:.0f}' if r["requests"] else "-"
print("\t".join(map(str, [server, scen, i, f'{r["rps"]:.1f}', f'{r["lat_p50_us"]/1000:.2f}',
    f'{r["lat_p99_us"]/1000:.2f}', r["err_status"], sock, f'{cpu:.2f}', us, load,
    "OK" if ok else "FAIL"])))
EOF
    tail -n1 "$TSV" | awk -F'\t' '{printf "  %-22s run %s: %8s req/s  p50 %6s ms  p99 %7s ms  non2xx %s sockerr %s  server cpu %ss = %s us/req  [%s]\n",$1"/"$2,$3,$4,$5,$6,$7,$8,$9,$10,$12}'
  done
}

run_peer() {
  ss -Hltn "sport = :3100" | grep -q . && die "port 3100 is in use"
  PEER_TMP="$(mktemp -d "${TMPDIR:-/tmp}/peer-writes.XXXXXX")"
  say "peer: starting node-oidc-provider, minting $((RUNS + 1)) x $N refresh tokens and codes"
  PEER_STARTED=1
  MINT_N="$N" MINT_FILES="$((RUNS + 1))" MINT_DIR="$PEER_TMP" MINT_VERIFIER="$VERIFIER" \
    READY_TRIES=1500 SERVER_CPU="$SERVER_CPU" "$PEER/run.sh" --bg
  cp "$PEER/server.log" "$OUT_DIR/peer.server.log" 2>/dev/null || true
  # the warm-up file is the first one (index 0 in measure)
  local k f
  for k in refresh code; do
    for f in $(seq 0 "$RUNS"); do mv "$PEER_TMP/peer-$k.$((f + 1))" "$PEER_TMP/p-$k.$f"; done
  done
  local pid; pid="$(cat "$PEER/server.pid")"
  local auth; auth="$(printf 'bench-app:bench-app-secret' | base64 -w0)"
  measure peer refresh "$pid" http://127.0.0.1:3100/token "$auth" \
    "grant_type=refresh_token&refresh_token=%s" "$PEER_TMP/p-refresh"
  measure peer code "$pid" http://127.0.0.1:3100/token "$auth" \
    "grant_type=authorization_code&code=%s&redirect_uri=https%3A%2F%2Fbench.test%2Fcb&code_verifier=$VERIFIER" \
    "$PEER_TMP/p-code"
  "$PEER/run.sh" --stop >/dev/null; PEER_STARTED=0
}

run_latchkey() {
  [ -x "$BIN" ] || die "$BIN not found (cargo build --release -p latchkey)"
  local base="http://127.0.0.1:$LATCHKEY_PORT"
  ss -Hltn "sport = :$LATCHKEY_PORT" | grep -q . && die "port $LATCHKEY_PORT is in use"
  LK_TMP="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-writes.XXXXXX")"
  local db="$LK_TMP/l.db" adm="$OUT_DIR/latchkey.admin.log"
  local cj uj cid csec uid
  cj="$("$BIN" admin --db "$db" clients create --name bench-app --redirect-uri https://bench.test/cb \
        --scope "openid offline_access" --no-consent --json 2>>"$adm")"
  cid="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$cj")"
  csec="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$cj")"
  uj="$(printf 'bench password 123\n' | "$BIN" admin --db "$db" users create --username bench --password-stdin --json 2>>"$adm")"
  uid="$(python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("id") or d["user"]["id"])' <<<"$uj")"
  local k f n
  say "latchkey: minting $((RUNS + 1)) x $N refresh tokens and codes into $db"
  for k in refresh code; do
    for f in $(seq 0 "$RUNS"); do
      n="$N"; [ "$f" = 0 ] && n="$N0"
      python3 "$BENCH/mint.py" sqlite "$db" --client "$cid" --user "$uid" --kind "$k" --n "$n" --out "$LK_TMP/l-$k.$f"
    done
  done
  local pin=()
  [ -n "$SERVER_CPU" ] && pin=(taskset -c "$SERVER_CPU")
  "${pin[@]}" "$BIN" serve --db "$db" --issuer "$base" --public-addr "127.0.0.1:$LATCHKEY_PORT" \
    --admin-addr "127.0.0.1:$((LATCHKEY_PORT + 1))" ${SERVE_ARGS:-} > "$OUT_DIR/latchkey.server.log" 2>&1 < /dev/null &
  LK_PID=$!
  local i
  for i in $(seq 1 500); do
    curl -sf -o /dev/null "$base/jwks" && break
    kill -0 "$LK_PID" 2>/dev/null || { cat "$OUT_DIR/latchkey.server.log" >&2; die "latchkey did not start"; }
    sleep 0.02
  done
  local auth; auth="$(printf '%s:%s' "$cid" "$csec" | base64 -w0)"
  # one by hand first: a failure here is a set-up problem, not a benchmark result
  local probe; probe="$(curl -s -u "$cid:$csec" --data "grant_type=refresh_token&refresh_token=$(tail -1 "$LK_TMP/l-refresh.0")" "$base/token")"
  grep -q '"refresh_token"' <<<"$probe" || die "latchkey refresh probe failed: $probe"
  sed -i '$d' "$LK_TMP/l-refresh.0"
  say "latchkey: serving on $base (pid $LK_PID, ${SERVE_ARGS:-synchronous=FULL})"
  measure latchkey refresh "$LK_PID" "$base/token" "$auth" \
    "grant_type=refresh_token&refresh_token=%s" "$LK_TMP/l-refresh"
  measure latchkey code "$LK_PID" "$base/token" "$auth" \
    "grant_type=authorization_code&code=%s&redirect_uri=https%3A%2F%2Fbench.test%2Fcb&code_verifier=$VERIFIER" \
    "$LK_TMP/l-code"
  kill -TERM "$LK_PID"; wait "$LK_PID" 2>/dev/null || true; LK_PID=""
}

if [ "$ONLY" != latchkey ]; then run_peer; fi
if [ "$ONLY" != peer ]; then run_latchkey; fi

python3 - "$TSV" "$OUT_DIR" > "$OUT_DIR/summary.md" <<'EOF'
import csv, statistics as st, sys, os
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
def med(server, scen, col):
    v = [float(r[col]) for r in rows if r["server"] == server and r["scenario"] == scen and r["status"] == "OK" and r[col] not in ("", "-")]
    return st.median(v) if v else None
def n(server, scen):
    rs = [r for r in rows if r["server"] == server and r["scenario"] == scen]
    return f'{sum(r["status"] == "OK" for r in rs)}/{len(rs)}' if rs else "not run"
f = lambda v, d=0: "—" if v is None else f"{v:,.{d}f}"
x = lambda a, b: "—" if a is None or b in (None, 0) else f"{a / b:.2f}×"
meta = open(os.path.join(sys.argv[2], "meta.txt")).read().splitlines()
print(f"# Write path: Latchkey (SQLite, synchronous=FULL) vs node-oidc-provider (in memory)\n")
for m in meta[:3]:
    print(f"    {m}")
print()
for scen, title, target in (("refresh", "refresh-token grants (rotation + RS256 ID token)", 2000),
                            ("code", "authorization-code redemptions (+ RS256 ID token)", None)):
    print(f"## {title}\n")
    print("| | Latchkey | node-oidc-provider | Latchkey / peer |")
    print("| --- | ---: | ---: | ---: |")
    for col, label, d in (("rps", "grants/s", 0), ("p50_ms", "p50 ms", 2), ("p99_ms", "p99 ms", 2),
                          ("server_cpu_us_per_req", "server CPU µs/grant", 0)):
        a, b = med("latchkey", scen, col), med("peer", scen, col)
        print(f"| {label} | {f(a, d)} | {f(b, d)} | {x(a, b)} |")
    print(f"| runs OK | {n('latchkey', scen)} | {n('peer', scen)} | |")
    if target:
        v = med("latchkey", scen, "rps")
        print(f"\nTarget ≥ {target:,} grants/s on one SQLite node: {'not measured' if v is None else ('PASS' if v >= target else 'MISS')}")
    print()
EOF
cat "$OUT_DIR/summary.md"
if grep -q 'FAIL$' "$TSV"; then echo "bench/writes: some runs FAILED; see $OUT_DIR" >&2; exit 1; fi
