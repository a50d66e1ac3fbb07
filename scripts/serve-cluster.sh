#!/usr/bin/env bash
# `make serve-cluster`: two `latchkey serve` nodes on loopback sharing the throwaway
# PostgreSQL that pg-cluster started (DATABASE_URL), for a demo of the scale-out setup.
# Ctrl-C stops the nodes; pg-cluster then stops PostgreSQL and removes its files.
#
#   A_PORT (8080; admin on +1)   B_PORT (8090; admin on +1)
set -euo pipefail
: "${DATABASE_URL:?run this through pg-cluster: make serve-cluster}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/latchkey"
A_PORT="${A_PORT:-8080}"; B_PORT="${B_PORT:-8090}"
ISSUER="http://127.0.0.1:$A_PORT"

# One KEK for both nodes, in a 0600 file that goes with this demo.
TMP="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-cluster.XXXXXX")"
umask 077
od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$TMP/kek"
export LATCHKEY_KEK_FILE="$TMP/kek"
unset LATCHKEY_KEK LATCHKEY_DB

PIDS=()
stop() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap stop EXIT
trap 'exit 0' INT TERM

"$BIN" migrate --database "$DATABASE_URL"
for port in "$A_PORT" "$B_PORT"; do
  "$BIN" serve --database "$DATABASE_URL" --issuer "$ISSUER" \
    --public-addr "127.0.0.1:$port" --admin-addr "127.0.0.1:$((port + 1))" \
    --admin-url "http://127.0.0.1:$((A_PORT + 1))" &
  PIDS+=($!)
done
for port in "$A_PORT" "$B_PORT"; do
  for _ in $(seq 1 200); do curl -sf -o /dev/null "http://127.0.0.1:$port/jwks" && break; sleep 0.05; done
done
cat <<MSG

Latchkey cluster: two nodes on one PostgreSQL (issuer $ISSUER)
  node A  public http://127.0.0.1:$A_PORT   admin http://127.0.0.1:$((A_PORT + 1))
  node B  public http://127.0.0.1:$B_PORT   admin http://127.0.0.1:$((B_PORT + 1))
  discovery  $ISSUER/.well-known/openid-configuration

Administer it (another shell):
  LATCHKEY_KEK_FILE=$TMP/kek $BIN admin --database '$DATABASE_URL' clients list

Ctrl-C stops both nodes and the database.
MSG
wait
