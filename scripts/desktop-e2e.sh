#!/usr/bin/env bash
# Desktop console end-to-end tests: the built latchkey-desktop (debug, with the bundled
# UI) on a temporary embedded store, then switched to a separate `latchkey serve` (its
# own temporary store) signed in with an admin API key, driven by tauri-driver +
# WebKitWebDriver inside Xvfb. Everything is under `timeout`: without a display
# tauri-driver hangs forever. Screenshots land in $CARGO_TARGET_DIR/e2e-shots/.
set -euo pipefail
# E2E_SCRIPT=path runs another WebDriver script in the same set-up (debugging).
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
APP="$TARGET/debug/latchkey-desktop"
LATCHKEY="$TARGET/debug/latchkey"
SHOTS="$TARGET/e2e-shots"
TAURI_DRIVER="$(command -v tauri-driver || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver")"
[ -x "$APP" ] || { echo "desktop-e2e: $APP missing; build it first (make desktop)" >&2; exit 1; }
[ -x "$LATCHKEY" ] || { echo "desktop-e2e: $LATCHKEY missing; build it first (make build)" >&2; exit 1; }
[ -x "$TAURI_DRIVER" ] || { echo "desktop-e2e: tauri-driver missing (scripts/setup.sh installs it)" >&2; exit 1; }

WORK="$(mktemp -d)"
SERVE_PID=""
trap '[ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PORT="$(free_port)"; DRIVER_PORT="$(free_port)"; NATIVE_PORT="$(free_port)"
R_PORT="$(free_port)"; R_ADMIN_PORT="$(free_port)"
rm -rf "$SHOTS"; mkdir -p "$SHOTS"
echo "desktop-e2e: screenshots go to $SHOTS"

# The remote server: its own store, an administrator to sign in as, and an admin API key
# the console connects with (handed over by environment, never on a command line).
R_DB="$WORK/remote.db"
R_PASSWORD="remote-admin-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s' "$R_PASSWORD" | "$LATCHKEY" admin --db "$R_DB" users create --username root --admin --password-stdin >/dev/null 2>&1
R_API_KEY="$("$LATCHKEY" admin --db "$R_DB" --json api-keys create --name desktop-e2e 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')"
# Free ports are picked, then bound: another process may take one in between, so try
# again with fresh ones.
for attempt in 1 2 3; do
  "$LATCHKEY" serve --db "$R_DB" --issuer "http://127.0.0.1:$R_PORT" --public-addr "127.0.0.1:$R_PORT" \
    --admin-addr "127.0.0.1:$R_ADMIN_PORT" >"$WORK/serve.log" 2>&1 &
  SERVE_PID=$!
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$R_ADMIN_PORT/admin/v1/health" >/dev/null && break
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.1
  done
  curl -sf "http://127.0.0.1:$R_ADMIN_PORT/admin/v1/health" >/dev/null && break
  kill "$SERVE_PID" 2>/dev/null || true
  [ "$attempt" = 3 ] && { echo "desktop-e2e: latchkey serve did not start:"; tail -n 20 "$WORK/serve.log"; exit 1; }
  R_PORT="$(free_port)"; R_ADMIN_PORT="$(free_port)"
done

export E2E_APP="$APP" E2E_DB="$WORK/e2e.db" E2E_PORT="$PORT" E2E_SHOTS="$SHOTS" \
       E2E_CONNECTIONS="$WORK/connections.json" \
       E2E_REMOTE_ISSUER="http://127.0.0.1:$R_PORT" E2E_REMOTE_ADMIN="http://127.0.0.1:$R_ADMIN_PORT" \
       E2E_REMOTE_PASSWORD="$R_PASSWORD" E2E_REMOTE_API_KEY="$R_API_KEY" \
       E2E_DRIVER="http://127.0.0.1:$DRIVER_PORT" TAURI_DRIVER DRIVER_PORT NATIVE_PORT WORK ROOT

timeout 480 xvfb-run -a -s "-screen 0 1400x900x24 -nolisten tcp" bash -c '
  "$TAURI_DRIVER" --port "$DRIVER_PORT" --native-port "$NATIVE_PORT" >"$WORK/tauri-driver.log" 2>&1 &
  TD=$!
  trap "kill $TD 2>/dev/null || true" EXIT
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null && break
    sleep 0.1
  done
  timeout 420 node "${E2E_SCRIPT:-$ROOT/ui/e2e/desktop.e2e.mjs}"
' || { rc=$?; echo "desktop-e2e: failed (exit $rc); tauri-driver log:"; tail -n 30 "$WORK/tauri-driver.log" 2>/dev/null || true; exit "$rc"; }
