#!/usr/bin/env bash
# Server-agnostic load harness for OAuth 2.0 token / introspection / revocation / JWKS
# endpoints, driven by wrk with a Lua script (form_post.lua). The same settings can be
# pointed at any server on loopback, so two servers can be measured under identical load.
#
# Usage:  [VAR=value ...] ./bench.sh [scenario ...]
# Scenarios (default: token introspect jwks):
#   token       POST $TOKEN_PATH       body: $TOKEN_PARAMS[&$TOKEN_EXTRA]          (client_secret_basic)
#   introspect  POST $INTROSPECT_PATH  body: token=<one token>&token_type_hint=access_token
#               (the token is fetched first with $TOKEN_PARAMS[&$INTROSPECT_TOKEN_EXTRA])
#   revoke      POST $REVOKE_PATH      body: token=<one token>  (first call revokes it, later calls
#               revoke an already-revoked token: RFC 7009 still answers 200; measures auth+lookup)
#   jwks        GET  $JWKS_PATH
#
# Parameters (environment):
#   BASE_URL        http://127.0.0.1:3100   (must be loopback)
#   CLIENT_ID       bench-client
#   CLIENT_SECRET   bench-secret
#   TOKEN_PATH      /token
#   INTROSPECT_PATH /token/introspection
#   REVOKE_PATH     /token/revocation
#   JWKS_PATH       /jwks
#   TOKEN_PARAMS    grant_type=client_credentials&scope=api:read
#   TOKEN_EXTRA     (empty)  extra form params for the token scenario, e.g. resource=urn:bench:rs256
#   INTROSPECT_TOKEN_EXTRA (empty) extra params used when fetching the token to introspect/revoke
#                   (node-oidc-provider can only introspect opaque tokens: resource=urn:bench:opaque)
#   DURATION 20s  WARMUP 3s  CONNECTIONS 4  THREADS 1  REPEATS 3  TIMEOUT 5s
#   LOADGEN_CPU     1        CPU list for wrk via taskset (empty = no pinning)
#   LOADGEN_NICE    (empty)  nice level for wrk, e.g. -10 on a machine shared with other work
#                            (start the server with the same SERVER_NICE, see run.sh)
#   SERVER_PID      (auto: the process listening on BASE_URL's port, via ss) for CPU/RSS accounting
#   LABEL           run label prefix (default: host:port)
#   OUT_DIR         ../results/<UTC timestamp>  (bench/results/ of the Latchkey repo)
#
# Output: raw wrk output per run (<label>.<scenario>.run<i>.txt), meta.txt (appended), results.tsv (one line per run) and a median summary.
# A run with any non-2xx/3xx response, socket error or timeout is marked FAIL and the
# script exits non-zero at the end.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LUA="$HERE/form_post.lua"

BASE_URL="${BASE_URL:-http://127.0.0.1:3100}"
CLIENT_ID="${CLIENT_ID:-bench-client}"
CLIENT_SECRET="${CLIENT_SECRET:-bench-secret}"
TOKEN_PATH="${TOKEN_PATH:-/token}"
INTROSPECT_PATH="${INTROSPECT_PATH:-/token/introspection}"
REVOKE_PATH="${REVOKE_PATH:-/token/revocation}"
JWKS_PATH="${JWKS_PATH:-/jwks}"
TOKEN_PARAMS="${TOKEN_PARAMS:-grant_type=client_credentials&scope=api:read}"
TOKEN_EXTRA="${TOKEN_EXTRA:-}"
INTROSPECT_TOKEN_EXTRA="${INTROSPECT_TOKEN_EXTRA:-}"
DURATION="${DURATION:-20s}"
WARMUP="${WARMUP:-3s}"
CONNECTIONS="${CONNECTIONS:-4}"
THREADS="${THREADS:-1}"
REPEATS="${REPEATS:-3}"
TIMEOUT="${TIMEOUT:-5s}"
LOADGEN_CPU="${LOADGEN_CPU-1}"
LOADGEN_NICE="${LOADGEN_NICE:-}"
OUT_DIR="${OUT_DIR:-$(cd "$HERE/.." && pwd)/results/$(date -u +%Y%m%dT%H%M%SZ)}"

SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -eq 0 ] && SCENARIOS=(token introspect jwks)

die() { echo "bench.sh: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v curl >/dev/null || die "curl not found"
command -v python3 >/dev/null || die "python3 not found"

# --- loopback guard -------------------------------------------------------------
hostport="${BASE_URL#*://}"; hostport="${hostport%%/*}"
case "$hostport" in
  \[::1\]*) host="[::1]"; port="${hostport#\[::1\]}"; port="${port#:}" ;;
  *) host="${hostport%%:*}"; port="${hostport#*:}"; [ "$port" = "$hostport" ] && port=80 ;;
esac
case "$host" in
  127.*|localhost|"[::1]") ;;
  *) die "BASE_URL host '$host' is not loopback; refusing to send load" ;;
esac
LABEL="${LABEL:-$host:$port}"
# raw files are named after the label too, so several runs can share one OUT_DIR
FILE_PREFIX="$(printf '%s' "$LABEL" | tr -c 'A-Za-z0-9._-' '_')"

# --- server process (for CPU-seconds and RSS accounting) ---------------------------
if [ -z "${SERVER_PID:-}" ] && command -v ss >/dev/null; then
  SERVER_PID="$(ss -Hltnp "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)"
fi
SERVER_PID="${SERVER_PID:-}"
cpu_ticks() { [ -n "$SERVER_PID" ] && [ -r "/proc/$SERVER_PID/stat" ] && awk '{print $14+$15}' "/proc/$SERVER_PID/stat" || echo 0; }
rss_kib() { [ -n "$SERVER_PID" ] && [ -r "/proc/$SERVER_PID/status" ] && awk '/^VmRSS/{print $2}' "/proc/$SERVER_PID/status" || echo 0; }
CLK_TCK="$(getconf CLK_TCK)"

AUTH_B64="$(printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" | base64 -w0)"
join() { local a="$1" b="$2"; if [ -n "$b" ]; then echo "$a&$b"; else echo "$a"; fi; }

mkdir -p "$OUT_DIR"
TSV="$OUT_DIR/results.tsv"
[ -f "$TSV" ] || printf 'label\tscenario\trun\trps\tp50_ms\tp90_ms\tp99_ms\tp999_ms\tnon2xx\tsock_err\tserver_cpu_s\treq_per_server_cpu_s\tserver_rss_mib\tloadavg1\tloadgen_cpu_s\tstatus\n' > "$TSV"

{
  echo "date_utc=$(date -u +%FT%TZ) base_url=$BASE_URL label=$LABEL server_pid=${SERVER_PID:-?}"
  echo "duration=$DURATION warmup=$WARMUP connections=$CONNECTIONS threads=$THREADS repeats=$REPEATS loadgen_cpu=${LOADGEN_CPU:-none} loadgen_nice=${LOADGEN_NICE:-0}"
  [ -n "$SERVER_PID" ] && echo "server_affinity=$(taskset -pc "$SERVER_PID" 2>/dev/null | awk -F': ' '{print $2}') server_cmd=$(tr '\0' ' ' < /proc/$SERVER_PID/cmdline 2>/dev/null | cut -c1-200)"
  echo "wrk=$(wrk -v 2>&1 | head -1) nproc=$(nproc) kernel=$(uname -r)"
} | tee -a "$OUT_DIR/meta.txt"

PIN=()
if [ -n "$LOADGEN_NICE" ]; then
  # own session => own autogroup, whose nice is what counts against other process groups
  PIN+=(setsid -w sh -c 'echo "$0" > /proc/self/autogroup 2>/dev/null; exec "$@"' "$LOADGEN_NICE" nice -n "$LOADGEN_NICE")
fi
[ -n "$LOADGEN_CPU" ] && PIN+=(taskset -c "$LOADGEN_CPU")
TIMECMD=()
[ -x /usr/bin/time ] && TIMECMD=(/usr/bin/time -f '%U %S' -o "$OUT_DIR/.wrk_time")

FAILED=0

# curl helper: prints body, then the HTTP status on the last line
req() { curl -sS -m 10 -w '\n%{http_code}' "$@"; }
status_of() { tail -n1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }

fetch_token() { # $1 = extra params
  local r; r="$(req -u "$CLIENT_ID:$CLIENT_SECRET" -H 'Content-Type: application/x-www-form-urlencoded' \
    --data "$(join "$TOKEN_PARAMS" "$1")" "$BASE_URL$TOKEN_PATH")"
  [ "$(status_of "$r")" = 200 ] || die "token request failed: HTTP $(status_of "$r") $(body_of "$r")"
  body_of "$r" | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])'
}

jwt_alg() { # prints the JWS alg of a JWT, or "opaque"
  python3 - "$1" <<'EOF'
import sys, json, base64
t = sys.argv[1]
parts = t.split(".")
if len(parts) != 3:
    print("opaque"); sys.exit()
h = parts[0] + "=" * (-len(parts[0]) % 4)
try:
    hdr = json.loads(base64.urlsafe_b64decode(h))
    print(f"{hdr.get('alg')} typ={hdr.get('typ')} len={len(t)}")
except Exception:
    print("opaque")
EOF
}

run_wrk() { # $1 scenario, $2 method, $3 path, $4 body, $5 auth(b64 or empty)
  local scen="$1" method="$2" path="$3" body="$4" auth="$5"
  local url="$BASE_URL$path"
  export BENCH_METHOD="$method" BENCH_BODY="$body" BENCH_AUTH="$auth"
  # warm-up (JIT, connection setup, caches); not recorded
  BENCH_LABEL="$LABEL/$scen/warmup" "${PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$WARMUP" --timeout "$TIMEOUT" -s "$LUA" "$url" > "$OUT_DIR/$FILE_PREFIX.$scen.warmup.txt" 2>&1 || true
  local i
  for i in $(seq 1 "$REPEATS"); do
    local load t0 t1 out line
    load="$(cut -d' ' -f1 /proc/loadavg)"
    # the machine may be shared: the load before every measured run goes in the log
    echo "  uptime before $LABEL/$scen run $i: $(uptime | sed 's/^ *//')" | tee -a "$OUT_DIR/meta.txt"
    t0="$(cpu_ticks)"
    out="$OUT_DIR/$FILE_PREFIX.$scen.run$i.txt"
    rm -f "$OUT_DIR/.wrk_time"
    BENCH_LABEL="$LABEL/$scen/$i" "${TIMECMD[@]}" "${PIN[@]}" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "$TIMEOUT" --latency -s "$LUA" "$url" > "$out" 2>&1
    t1="$(cpu_ticks)"
    local lg="-"
    [ -s "$OUT_DIR/.wrk_time" ] && lg="$(awk '{printf "%.2f", $1+$2}' "$OUT_DIR/.wrk_time")"
    line="$(grep '^RESULT ' "$out" | sed 's/^RESULT //')"
    [ -n "$line" ] || { echo "no RESULT line in $out"; cat "$out"; FAILED=1; continue; }
    python3 - "$line" "$LABEL" "$scen" "$i" "$t0" "$t1" "$CLK_TCK" "$(rss_kib)" "$load" "$lg" >> "$TSV" <<'EOF'
import sys, json
r = json.loads(sys.argv[1]); label, scen, i = sys.argv[2:5]
t0, t1, tck, rss, load, lg = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8]), sys.argv[9], sys.argv[10]
cpu = (t1 - t0) / tck
sock = r["err_connect"] + r["err_read"] + r["err_write"] + r["err_timeout"]
status = "OK" if r["err_status"] == 0 and sock == 0 and r["requests"] > 0 else "FAIL"
rpc = f'{r["requests"]/cpu:.0f}' if cpu > 0 else "-"
print("\t".join(map(str, [label, scen, i, f'{r["rps"]:.1f}', f'{r["lat_p50_us"]/1000:.3f}', f'{r["lat_p90_us"]/1000:.3f}',
    f'{r["lat_p99_us"]/1000:.3f}', f'{r["lat_p999_us"]/1000:.3f}', r["err_status"], sock,
    f'{cpu:.2f}' if t1 else "-", rpc, f'{rss/1024:.1f}' if rss else "-", load, lg, status])))
EOF
    tail -n1 "$TSV" | awk -F'\t' '{printf "  %-28s run %s: %9s req/s  p50 %7s ms  p99 %7s ms  non2xx %s  sockerr %s  server_cpu %ss  req/cpu-s %s  rss %s MiB  wrk_cpu %ss  [%s]\n",$1"/"$2,$3,$4,$5,$7,$9,$10,$11,$12,$13,$15,$16}'
    tail -n1 "$TSV" | grep -q 'OK$' || FAILED=1
  done
}

for scen in "${SCENARIOS[@]}"; do
  echo "== $scen"
  case "$scen" in
    token)
      body="$(join "$TOKEN_PARAMS" "$TOKEN_EXTRA")"
      r="$(req -u "$CLIENT_ID:$CLIENT_SECRET" -H 'Content-Type: application/x-www-form-urlencoded' --data "$body" "$BASE_URL$TOKEN_PATH")"
      [ "$(status_of "$r")" = 200 ] || die "pre-check $scen: HTTP $(status_of "$r"): $(body_of "$r")"
      tok="$(body_of "$r" | python3 -c 'import sys,json; print(json.load(sys.stdin)["access_token"])')" || die "pre-check $scen: no access_token"
      echo "  pre-check: HTTP 200, access token $(jwt_alg "$tok")" | tee -a "$OUT_DIR/meta.txt"
      run_wrk token POST "$TOKEN_PATH" "$body" "$AUTH_B64"
      ;;
    introspect)
      tok="$(fetch_token "$INTROSPECT_TOKEN_EXTRA")"
      body="token=$tok&token_type_hint=access_token"
      r="$(req -u "$CLIENT_ID:$CLIENT_SECRET" -H 'Content-Type: application/x-www-form-urlencoded' --data "$body" "$BASE_URL$INTROSPECT_PATH")"
      [ "$(status_of "$r")" = 200 ] || die "pre-check $scen: HTTP $(status_of "$r"): $(body_of "$r")"
      grep -q '"active": *true' <<<"$(body_of "$r")" || die "pre-check $scen: token not active: $(body_of "$r")"
      echo "  pre-check: HTTP 200 active=true for token $(jwt_alg "$tok")" | tee -a "$OUT_DIR/meta.txt"
      run_wrk introspect POST "$INTROSPECT_PATH" "$body" "$AUTH_B64"
      ;;
    revoke)
      tok="$(fetch_token "$INTROSPECT_TOKEN_EXTRA")"
      body="token=$tok&token_type_hint=access_token"
      r="$(req -u "$CLIENT_ID:$CLIENT_SECRET" -H 'Content-Type: application/x-www-form-urlencoded' --data "$body" "$BASE_URL$REVOKE_PATH")"
      [ "$(status_of "$r")" = 200 ] || die "pre-check $scen: HTTP $(status_of "$r"): $(body_of "$r")"
      echo "  pre-check: HTTP 200 (token revoked; the load re-revokes it)" | tee -a "$OUT_DIR/meta.txt"
      run_wrk revoke POST "$REVOKE_PATH" "$body" "$AUTH_B64"
      ;;
    jwks)
      r="$(req "$BASE_URL$JWKS_PATH")"
      [ "$(status_of "$r")" = 200 ] || die "pre-check $scen: HTTP $(status_of "$r")"
      grep -q '"keys"' <<<"$(body_of "$r")" || die "pre-check $scen: no keys"
      echo "  pre-check: HTTP 200, $(body_of "$r" | wc -c) bytes" | tee -a "$OUT_DIR/meta.txt"
      run_wrk jwks GET "$JWKS_PATH" "" ""
      ;;
    *) die "unknown scenario $scen" ;;
  esac
done

echo "== medians ($REPEATS runs each)  -> $TSV"
python3 - "$TSV" "$DURATION" <<'EOF' | tee "$OUT_DIR/summary.txt"
import sys, csv, re, statistics as st
m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", sys.argv[2])
DUR = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)] if m else 0
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
groups = {}
for r in rows:
    groups.setdefault((r["label"], r["scenario"]), []).append(r)
print(f'{"label/scenario":34} {"runs":>4} {"req/s":>9} {"p50 ms":>8} {"p99 ms":>8} {"req/cpu-s":>10} {"rss MiB":>8} {"wrk cpu%":>8} status')
for (label, scen), rs in groups.items():
    ok = [r for r in rs if r["status"] == "OK"]
    med = lambda k: st.median(float(r[k]) for r in ok) if ok and all(r[k] not in ("-", "") for r in ok) else float("nan")
    status = "OK" if len(ok) == len(rs) else f"{len(rs)-len(ok)} FAILED"
    lg = [float(r["loadgen_cpu_s"]) for r in ok if r.get("loadgen_cpu_s") not in (None, "", "-")]
    dur = DUR
    lgp = st.median(lg) / dur * 100 if lg and dur else float("nan")
    print(f'{label + "/" + scen:34} {len(ok):>4} {med("rps"):>9.0f} {med("p50_ms"):>8.2f} {med("p99_ms"):>8.2f} {med("req_per_server_cpu_s"):>10.0f} {med("server_rss_mib"):>8.1f} {lgp:>8.0f} {status}')
EOF

[ "$FAILED" = 0 ] || { echo "bench.sh: some runs FAILED (non-2xx, socket errors or no result)" >&2; exit 2; }
