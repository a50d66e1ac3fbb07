#!/usr/bin/env bash
# Desktop console end-to-end tests: the built latchkey-desktop (debug, with the bundled
# UI) on a temporary embedded store, driven by tauri-driver + WebKitWebDriver inside
# Xvfb. Everything is under `timeout`: without a display tauri-driver hangs forever.
# Screenshots land in $CARGO_TARGET_DIR/e2e-shots/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
APP="$TARGET/debug/latchkey-desktop"
SHOTS="$TARGET/e2e-shots"
TAURI_DRIVER="$(command -v tauri-driver || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver")"
[ -x "$APP" ] || { echo "desktop-e2e: $APP missing; build it first (make desktop)" >&2; exit 1; }
[ -x "$TAURI_DRIVER" ] || { echo "desktop-e2e: tauri-driver missing (scripts/setup.sh installs it)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PORT="$(free_port)"; DRIVER_PORT="$(free_port)"; NATIVE_PORT="$(free_port)"
rm -rf "$SHOTS"; mkdir -p "$SHOTS"
echo "desktop-e2e: screenshots go to $SHOTS"

export E2E_APP="$APP" E2E_DB="$WORK/e2e.db" E2E_PORT="$PORT" E2E_SHOTS="$SHOTS" \
       E2E_DRIVER="http://127.0.0.1:$DRIVER_PORT" TAURI_DRIVER DRIVER_PORT NATIVE_PORT WORK ROOT

timeout 300 xvfb-run -a -s "-screen 0 1400x900x24 -nolisten tcp" bash -c '
  "$TAURI_DRIVER" --port "$DRIVER_PORT" --native-port "$NATIVE_PORT" >"$WORK/tauri-driver.log" 2>&1 &
  TD=$!
  trap "kill $TD 2>/dev/null || true" EXIT
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null && break
    sleep 0.1
  done
  timeout 240 node "$ROOT/ui/e2e/desktop.e2e.mjs"
' || { rc=$?; echo "desktop-e2e: failed (exit $rc); tauri-driver log:"; tail -n 30 "$WORK/tauri-driver.log" 2>/dev/null || true; exit "$rc"; }
