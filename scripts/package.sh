#!/usr/bin/env bash
# `make package`: the server as a .deb (cargo-deb, from [package.metadata.deb] in
# crates/latchkey/Cargo.toml) and the desktop console as a .deb (the Tauri CLI's bundler,
# from src-tauri/tauri.conf.json's `bundle`), then tries the console's AppImage. Ends by
# printing the path of every file it wrote.
#
#   PACKAGE_PROFILE=release (default)  builds both binaries in release first
#   PACKAGE_PROFILE=debug              packs the debug binaries an earlier build made
#                                      (`cargo nextest run --workspace --no-run`), building
#                                      nothing: what `make test`'s package tests use
#   PACKAGE_OUT=DIR                    where the packages go [default: $CARGO_TARGET_DIR/packages]
#   PACKAGE_APPIMAGE=0                 skip the AppImage attempt (the test build does)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE="${PACKAGE_PROFILE:-release}"
OUT="${PACKAGE_OUT:-$CARGO_TARGET_DIR/packages}"
TAURI="$ROOT/packaging/node_modules/.bin/tauri"
say() { echo "package: $*"; }

bash scripts/setup-package.sh

case "$PROFILE" in
  release)
    cargo build --release -p latchkey -p latchkey-desktop
    DEB_PROFILE=(--profile release); TAURI_PROFILE=(); BIN_DIR="$CARGO_TARGET_DIR/release" ;;
  debug)
    DEB_PROFILE=(--profile dev --fast); TAURI_PROFILE=(--debug); BIN_DIR="$CARGO_TARGET_DIR/debug" ;;
  *) echo "package: PACKAGE_PROFILE is release or debug, not $PROFILE" >&2; exit 2 ;;
esac
for b in latchkey latchkey-desktop; do
  [ -x "$BIN_DIR/$b" ] || { echo "package: $BIN_DIR/$b missing; build it first" >&2; exit 1; }
done
mkdir -p "$OUT"
written=()

# The server. --no-build: the binary above is the one packed (cargo-deb would otherwise
# build again with its own feature resolution).
say "server .deb (cargo-deb)"
deb="$(cargo deb -p latchkey --no-build "${DEB_PROFILE[@]}" -o "$OUT" | tail -n 1)"
[ -f "$deb" ] || { echo "package: cargo-deb wrote no package ($deb)" >&2; exit 1; }
written+=("$deb")

# The console: Tauri's bundler packs the binary already built (`tauri bundle`), with the
# desktop entry, icons and WebKitGTK dependencies from tauri.conf.json. It writes under
# $CARGO_TARGET_DIR/<profile>/bundle/; the package moves to $OUT and the staging tree goes.
BUNDLE_DIR="$BIN_DIR/bundle"
rm -rf "$BUNDLE_DIR"
say "console .deb (tauri bundle)"
"$TAURI" bundle "${TAURI_PROFILE[@]}" --bundles deb --ci -c '{"bundle":{"active":true}}'
for f in "$BUNDLE_DIR"/deb/*.deb; do
  # Named as Debian names packages (Tauri names the file after productName, with a space).
  name="$(dpkg-deb -f "$f" Package)_$(dpkg-deb -f "$f" Version)_$(dpkg-deb -f "$f" Architecture).deb"
  mv -f "$f" "$OUT/$name"
  written+=("$OUT/$name")
done

# The AppImage: Tauri's bundler fetches linuxdeploy, its GTK plugin and the AppImage
# runtime from GitHub at bundle time, and no package registry this project may use
# carries them (README, "Install from packages"). Tried, never fatal: the attempt's
# reason is printed.
if [ "${PACKAGE_APPIMAGE:-1}" != 0 ]; then
  say "console AppImage (tauri bundle --bundles appimage)"
  if timeout 300 "$TAURI" bundle "${TAURI_PROFILE[@]}" --bundles appimage --ci \
       -c '{"bundle":{"active":true}}' >"$OUT/appimage-attempt.log" 2>&1; then
    for f in "$BUNDLE_DIR"/appimage/*.AppImage; do
      mv -f "$f" "$OUT/"
      written+=("$OUT/$(basename "$f")")
    done
    rm -f "$OUT/appimage-attempt.log"
  else
    say "AppImage NOT built: $(grep -iE 'error|failed' "$OUT/appimage-attempt.log" | tail -n 1)"
    say "  (the bundler's whole output: $OUT/appimage-attempt.log)"
    written+=("$OUT/appimage-attempt.log")
  fi
fi
rm -rf "$BUNDLE_DIR"

say "wrote:"
for f in "${written[@]}"; do
  echo "$f"
done
