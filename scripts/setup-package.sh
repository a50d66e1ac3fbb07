#!/usr/bin/env bash
# What `make package` needs beyond scripts/setup.sh, installed only when missing (a
# sub-second no-op otherwise), so packages build from a fresh clone with no manual steps.
#
#   apt:   dpkg-dev fakeroot (dpkg-deb, dpkg-shlibdeps for the console's dependencies),
#          desktop-file-utils (desktop-file-validate in the console's package test),
#          systemd (systemd-analyze verify of the server's unit), util-linux (unshare,
#          setpriv for running the unit's command line as systemd would)
#   cargo: cargo-deb (cargo install --locked): the server's .deb from
#          [package.metadata.deb] in crates/latchkey/Cargo.toml
#   npm:   packaging/node_modules: the Tauri CLI (its bundler makes the console's .deb),
#          a prebuilt binary from npm, from packaging/package-lock.json
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(dpkg-dev fakeroot desktop-file-utils systemd util-linux)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
say() { echo "setup-package: $*"; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "apt packages present (${APT_PACKAGES[*]})"
else
  say "installing apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if cargo deb --version >/dev/null 2>&1; then
  say "cargo-deb present"
else
  say "installing cargo-deb 3.8.0 (cargo install --locked; a few minutes)"
  # Its own throwaway target dir: not the project's (make exports CARGO_TARGET_DIR).
  tmp="$(mktemp -d)"
  cargo install cargo-deb --version 3.8.0 --locked --target-dir "$tmp"
  rm -rf "$tmp"
fi

if [ packaging/node_modules/.package-lock.json -nt packaging/package-lock.json ]; then
  say "packaging node modules present (tauri CLI)"
else
  say "installing packaging node modules (npm ci: the tauri CLI)"
  (cd packaging && npm ci --no-audit --no-fund)
fi
