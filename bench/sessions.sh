#!/usr/bin/env bash
# The admin API's session listing at scale (issue 3): 1 000 000 sessions in SQLite, and
# the first page of every filter through `GET /admin/v1/sessions` on a real
# `latchkey serve`, timed by curl over loopback. Target: every first page ≤ 20 ms.
#
#   BENCH_SESSIONS   1000000   sessions to seed (plus 1000 users and 20 clients)
#   BENCH_QUERIES    25        timed requests per filter (p50 and p99 reported)
#   LATCHKEY_BIN     (target dir)/release/latchkey
#   SESSIONS_PORT    3300      public port (admin on +1)
#
# Seeding writes rows with SQL (sessions are data here, not a workload), after the
# server's own migrations have created the schema. Output: bench/results/sessions.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
LATCHKEY_BIN="${LATCHKEY_BIN:-$TARGET_DIR/release/latchkey}"
N="${BENCH_SESSIONS:-1000000}"
Q="${BENCH_QUERIES:-25}"
PORT="${SESSIONS_PORT:-3300}"
ADMIN_PORT=$((PORT + 1))
OUT="$ROOT/bench/results/sessions.md"
say() { echo "bench/sessions: $*"; }

for c in sqlite3 curl python3; do command -v "$c" >/dev/null || { echo "$c not found (run scripts/setup.sh)" >&2; exit 1; }; done
[ -x "$LATCHKEY_BIN" ] || { say "building release binary"; (cd "$ROOT" && cargo build --release -p latchkey); }

TMP="$(mktemp -d)"
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
DB="$TMP/latchkey.db"

# Schema, built-in scopes and keys, by the real code.
"$LATCHKEY_BIN" admin --db "$DB" users list >/dev/null
NOW="$(date +%s)"
KEY="lk_bench$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
KEY_HASH="$(python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest())' "$KEY")"

say "seeding $N sessions"
start_seed=$(date +%s.%N)
sqlite3 "$DB" <<SQL
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
BEGIN;
INSERT INTO api_keys (id, name, hash, read_only, created_at, created_by)
  VALUES ('bench', 'bench', X'$KEY_HASH', 1, $NOW, 'bench');
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
INSERT INTO users (id, username, password_hash, password_changed_at, created_at)
  SELECT 'u' || i, 'user' || i, 'x', $NOW, $NOW FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 19)
INSERT INTO clients (id, name, client_type, auth_method, grant_types, redirect_uris,
    post_logout_redirect_uris, allowed_scopes, access_token_ttl, refresh_token_ttl,
    refresh_idle_ttl, refresh_grace_secs, require_consent, disabled, tokens_valid_after,
    created_at, updated_at)
  SELECT 'c' || i, 'Client ' || i, 'public', 'none', '["authorization_code"]', '[]', '[]',
    '["openid"]', 600, 86400, 86400, 0, 0, 0, 0, $NOW, $NOW FROM n;
-- Spread over 90 days; 5 % revoked, 10 % expired, the rest active.
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < $N - 1)
INSERT INTO sessions (id, user_id, client_id, sign_in_id, scopes, auth_time, created_at,
    last_used_at, expires_at, ip, user_agent, revoked_at, revoked_reason)
  SELECT printf('s%08d', i), 'u' || (i % 1000), 'c' || (i % 20), NULL, '["openid","profile"]',
    $NOW - 7776000 + i * 7, $NOW - 7776000 + i * 7,
    $NOW - 7776000 + i * 7 + (i % 5000),
    CASE WHEN i % 10 = 3 THEN $NOW - 60 ELSE $NOW + 2592000 END,
    '10.' || (i % 200) || '.' || ((i / 200) % 250) || '.' || (i % 7 + 1),
    'bench', CASE WHEN i % 20 = 5 THEN $NOW - 30 END,
    CASE WHEN i % 20 = 5 THEN 'bench' END
  FROM n;
COMMIT;
ANALYZE;
SQL
seed_secs=$(python3 -c "import time; print(round(time.time() - $start_seed, 1))")
say "seeded in ${seed_secs}s ($(du -h "$DB" | cut -f1))"

"$LATCHKEY_BIN" serve --db "$DB" --issuer "http://127.0.0.1:$PORT" \
  --public-addr "127.0.0.1:$PORT" --admin-addr "127.0.0.1:$ADMIN_PORT" >"$TMP/server.log" 2>&1 &
PID=$!
ready=0
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$ADMIN_PORT/admin/v1/health" >/dev/null; then ready=1; break; fi
  sleep 0.1
done
[ "$ready" = 1 ] || { say "the server did not become ready:"; cat "$TMP/server.log" >&2; exit 1; }

curl -s -o "$TMP/first.json" -H "Authorization: Bearer $KEY" "http://127.0.0.1:$ADMIN_PORT/admin/v1/sessions?limit=50"
FIRST_CURSOR="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["next_cursor"])' "$TMP/first.json")" \
  || { say "the first page failed: $(cat "$TMP/first.json")"; cat "$TMP/server.log" >&2; exit 1; }
FILTERS=(
  "limit=50"
  "limit=50&state=any"
  "limit=50&state=revoked"
  "limit=50&state=expired"
  "limit=50&user=user42"
  "limit=50&client_id=c7"
  "limit=50&user=user42&client_id=c2"
  "limit=50&ip=10.17.3.4"
  "limit=50&ip=10.17."
  "limit=50&created_from=$((NOW - 86400 * 30))&created_to=$((NOW - 86400 * 29))"
  "limit=50&sort=last_used_at"
  "limit=50&sort=last_used_at&order=asc&state=any"
  "limit=50&state=any&order=asc"
  "limit=50&user=nobody-here"
  "limit=50&cursor=$FIRST_CURSOR"
  "limit=1000&state=any"
)

{
  echo "# Session listing at $N sessions (SQLite, \`GET /admin/v1/sessions\`)"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%MZ), commit $(cd "$ROOT" && git rev-parse --short HEAD), $Q requests per filter, curl over loopback, seeded in ${seed_secs}s."
  echo
  echo "| filter | rows | p50 ms | p99 ms | ≤ 20 ms |"
  echo "|---|---:|---:|---:|---|"
} >"$OUT"
worst=0
for f in "${FILTERS[@]}"; do
  times=()
  rows=0
  for _ in $(seq 1 "$Q"); do
    t="$(curl -s -o "$TMP/page.json" -w '%{http_code} %{time_total}' -H "Authorization: Bearer $KEY" \
      "http://127.0.0.1:$ADMIN_PORT/admin/v1/sessions?$f")"
    code="${t%% *}"
    [ "$code" = 404 ] || [ "$code" = 200 ] || { echo "bench/sessions: $f → HTTP $code: $(cat "$TMP/page.json")" >&2; exit 1; }
    times+=("${t#* }")
  done
  rows="$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d.get("items", [])))' "$TMP/page.json")"
  read -r p50 p99 <<<"$(printf '%s\n' "${times[@]}" | python3 -c '
import sys
v = sorted(float(x) * 1000 for x in sys.stdin)
p = lambda q: v[min(len(v) - 1, int(round(q * (len(v) - 1))))]
print(f"{p(0.5):.2f} {p(0.99):.2f}")')"
  case "$f" in
    limit=50*) ok=$(python3 -c "print('PASS' if $p50 <= 20 else 'FAIL')") ;;
    *) ok="— (not a first page of 50)" ;;
  esac
  short="${f//$FIRST_CURSOR/<cursor>}"
  echo "| \`$short\` | $rows | $p50 | $p99 | $ok |" >>"$OUT"
  say "$short: $rows rows, p50 ${p50} ms, p99 ${p99} ms"
done
say "wrote $OUT"
cat "$OUT"
