#!/usr/bin/env bash
# The desktop console against the platform floor (an empty Tauri window built the same
# way, bench/desktop-floor), both release builds, both measured the same way in the same
# run, under Xvfb through tauri-driver + WebKitWebDriver (bench/desktop-measure.mjs):
#   cold start  exec → interactive dashboard, median of RUNS; target ≤ floor + 0.5 s
#   idle PSS    app + its WebKit processes, 10 s after interactive; target ≤ 1.25 × floor
#   scrolling   a 100 000-row sessions table (seeded by SQL), one scroll step per
#               animation frame; target: no frame over 50 ms
#   revoke      a click on Revoke (confirmed) → RFC 7662 introspection active:false,
#               REVOKES times; target ≤ 100 ms
#
# Usage: bench/desktop.sh [RUNS]   (default 5; about 3 min + 25 s per run, plus builds)
# Environment: DESKTOP_REVOKES (10), DESKTOP_ROWS (100000), BENCH_SKIP_BUILD=1 (use the
# binaries already in the target dir). Needs scripts/setup.sh's packages (xvfb,
# webkit2gtk-driver, tauri-driver, sqlite3). `make bench` runs it (BENCH_DESKTOP=0 skips).
# Output: bench/results/<UTC timestamp>/desktop.md (+ desktop.json, raw frame times),
# copied to bench/results/desktop.md. Exits non-zero only when a measurement could not
# be made; a missed target is reported as FAIL.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${1:-5}"
REVOKES="${DESKTOP_REVOKES:-10}"
SCROLL_ROWS="${DESKTOP_ROWS:-100000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
say() { echo "bench/desktop: $*"; }
for c in xvfb-run sqlite3 curl node timeout; do command -v "$c" >/dev/null || { echo "$c not found (run scripts/setup.sh)" >&2; exit 1; }; done
TAURI_DRIVER="$(command -v tauri-driver || echo "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver")"
[ -x "$TAURI_DRIVER" ] || { echo "tauri-driver missing (scripts/setup.sh installs it)" >&2; exit 1; }

if [ "${BENCH_SKIP_BUILD:-}" != 1 ]; then
  say "building the UI and three release binaries (console, floor, latchkey CLI for provisioning)"
  (cd "$ROOT/ui" && npm run build >/dev/null)
  # Separate invocations, as the other targets build them: no feature unification between them.
  cargo build --release -p latchkey --manifest-path "$ROOT/Cargo.toml"
  cargo build --release -p latchkey-desktop --manifest-path "$ROOT/Cargo.toml"
  cargo build --release --manifest-path "$ROOT/bench/desktop-floor/Cargo.toml"
fi
CONSOLE="$CARGO_TARGET_DIR/release/latchkey-desktop"
FLOOR="$CARGO_TARGET_DIR/release/latchkey-desktop-floor"
LATCHKEY_BIN="$CARGO_TARGET_DIR/release/latchkey"
for b in "$CONSOLE" "$FLOOR" "$LATCHKEY_BIN"; do [ -x "$b" ] || { echo "$b missing" >&2; exit 1; }; done

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
OUT="$ROOT/bench/results/$STAMP"
mkdir -p "$OUT"
{
  echo "date_utc=$(date -u +%FT%TZ) commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo none)$(git -C "$ROOT" diff --quiet HEAD 2>/dev/null || echo '+dirty')"
  echo "runs=$RUNS revokes=$REVOKES rows=$SCROLL_ROWS nproc=$(nproc) loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "webkit2gtk=$(dpkg-query -W -f='${Version}' libwebkit2gtk-4.1-0 2>/dev/null || echo '?') tauri-driver=$(cargo install --list 2>/dev/null | awk '/^tauri-driver /{print $2}' | tr -d :) xvfb_screen=1400x900x24"
} > "$OUT/desktop-meta.txt"
cat "$OUT/desktop-meta.txt"

WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
# Never the user's own files: the console's saved connections, its default database and
# anything else it finds through $HOME or the XDG directories live under $WORK (a run
# used to add a dead entry to ~/.config/latchkey/connections.json every time).
mkdir -p "$WORK/home/config" "$WORK/home/data" "$WORK/home/cache"
export LATCHKEY_DESKTOP_CONNECTIONS="$WORK/connections.json"
export BENCH_HOME="$WORK/home"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
DRIVER_PORT="$(free_port)"; NATIVE_PORT="$(free_port)"
export CONSOLE FLOOR LATCHKEY_BIN TAURI_DRIVER WORK OUT RUNS REVOKES SCROLL_ROWS ROOT DRIVER_PORT NATIVE_PORT
export DRIVER="http://127.0.0.1:$DRIVER_PORT"
# Everything under timeout: without a display a WebDriver session hangs forever.
timeout 2400 xvfb-run -a -s "-screen 0 1400x900x24 -nolisten tcp" bash -c '
  export HOME="$BENCH_HOME" XDG_CONFIG_HOME="$BENCH_HOME/config" XDG_DATA_HOME="$BENCH_HOME/data" XDG_CACHE_HOME="$BENCH_HOME/cache"
  "$TAURI_DRIVER" --port "$DRIVER_PORT" --native-port "$NATIVE_PORT" >"$WORK/td.log" 2>&1 & TD=$!
  trap "kill $TD 2>/dev/null || true" EXIT
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null && break; sleep 0.1; done
  timeout 2300 node "$ROOT/bench/desktop-measure.mjs"' \
  || { rc=$?; say "failed (exit $rc); tauri-driver log:"; tail -n 30 "$WORK/td.log" >&2 || true; exit "$rc"; }
cp "$OUT/desktop.md" "$ROOT/bench/results/desktop.md"
say "wrote $OUT/desktop.md"
