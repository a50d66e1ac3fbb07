#!/usr/bin/env bash
# Desktop console against the platform floor (an empty Tauri window built the same way,
# bench/desktop-floor), both release builds, both measured the same way in the same run:
#   cold start  exec → the page is interactive (console: the dashboard's client count is
#               on screen; floor: its one element), through tauri-driver, median of RUNS
#   idle PSS    app + its WebKit processes, 10 s after the page is interactive
# Usage: bench/desktop.sh [RUNS]   (default 5). Needs scripts/setup.sh's packages.
# Not part of `make test` or `make bench`: it builds two release binaries (minutes).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${1:-5}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
(cd "$ROOT/ui" && npm run build >/dev/null)
cargo build --release -p latchkey-desktop --manifest-path "$ROOT/Cargo.toml"
cargo build --release --manifest-path "$ROOT/bench/desktop-floor/Cargo.toml"
CONSOLE="$CARGO_TARGET_DIR/release/latchkey-desktop"
FLOOR="$CARGO_TARGET_DIR/release/latchkey-desktop-floor"
TAURI_DRIVER="$(command -v tauri-driver || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver")"
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
export CONSOLE FLOOR TAURI_DRIVER WORK RUNS ROOT
timeout 1200 xvfb-run -a -s "-screen 0 1400x900x24 -nolisten tcp" bash -c '
  "$TAURI_DRIVER" --port 4517 --native-port 4518 >"$WORK/td.log" 2>&1 & TD=$!
  trap "kill $TD 2>/dev/null || true" EXIT
  for _ in $(seq 100); do curl -sf http://127.0.0.1:4517/status >/dev/null && break; sleep 0.1; done
  node "$ROOT/bench/desktop-measure.mjs"'
