#!/usr/bin/env bash
# Install what a fresh Debian 12 machine with Rust, Node 20 and make lacks for building,
# testing and benchmarking Latchkey. Idempotent; a no-op (well under a second) when
# everything is already present. Called by every `make` target, so `make test` works from
# a fresh clone with no manual steps.
#
#   apt:   build-essential pkg-config sqlite3 wrk curl ca-certificates procps postgresql
#          libdbus-1-dev (the OS keyring of `latchkey admin login`: Secret Service over D-Bus)
#          (postgresql: initdb/pg_ctl for the tests' throwaway clusters and
#          `make serve-cluster`; its own service is not used)
#          python3 too, but only when no python3 is on PATH (bench/ scripts use it)
#          the desktop console: libwebkit2gtk-4.1-dev (builds the Tauri shell),
#          webkit2gtk-driver xvfb xauth (its end-to-end tests: WebKitWebDriver under Xvfb),
#          chromium (a headless browser: the UI build, and the browser-app tests)
#   npm:   playwright-core in tests/browser (npm ci, only when its lock file changed)
#   cargo: cargo-nextest (cargo install --locked, only when `cargo nextest` is missing)
#          tauri-driver (cargo install --locked, only when missing)
#   rustup components rustfmt and clippy, only when missing and rustup is present
set -euo pipefail

APT_PACKAGES=(build-essential pkg-config sqlite3 wrk curl ca-certificates procps libdbus-1-dev
              postgresql libwebkit2gtk-4.1-dev webkit2gtk-driver xvfb xauth chromium)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

say() { echo "setup: $*"; }

# --- Debian packages ------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
command -v python3 >/dev/null 2>&1 || missing+=(python3)
if [ ${#missing[@]} -eq 0 ]; then
  say "apt packages present (${APT_PACKAGES[*]})"
else
  say "installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- Rust tooling -----------------------------------------------------------------
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo not found; install Rust (rustup) first" >&2; exit 1; }

for comp in rustfmt clippy; do
  sub="${comp/rustfmt/fmt}"
  if cargo "$sub" --version >/dev/null 2>&1; then
    say "$comp present"
  elif command -v rustup >/dev/null 2>&1; then
    say "installing rustup component $comp"
    rustup component add "$comp"
  else
    echo "setup: cargo $sub missing and rustup not found; install $comp" >&2; exit 1
  fi
done

if cargo nextest --version >/dev/null 2>&1; then
  say "cargo-nextest present"
else
  say "installing cargo-nextest (cargo install --locked; takes a few minutes)"
  cargo install cargo-nextest --locked
fi

# tauri-driver: the WebDriver front of the desktop console's end-to-end tests. cargo
# installs it into ~/.cargo/bin; look there too when that is not on PATH.
if command -v tauri-driver >/dev/null 2>&1 || [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/tauri-driver" ]; then
  say "tauri-driver present"
else
  say "installing tauri-driver (cargo install --locked; about a minute)"
  cargo install tauri-driver --locked
fi

# playwright-core for the real-browser tests (tests/browser, driven by
# tests/tests/browser_apps.rs against Debian's chromium): installed from its lock file,
# again only when the lock file is newer than the install.
if [ -f tests/browser/package-lock.json ]; then
  if [ tests/browser/node_modules/.package-lock.json -nt tests/browser/package-lock.json ]; then
    say "tests/browser node modules present"
  else
    say "installing tests/browser node modules (npm ci)"
    (cd tests/browser && npm ci --no-audit --no-fund)
  fi
fi
