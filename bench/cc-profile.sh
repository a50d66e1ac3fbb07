#!/usr/bin/env bash
# Where the server CPU of one ES256 client-credentials token goes, without HTTP: builds
# crates/latchkey-store-sqlite/examples/cc_profile.rs (release), provisions a scope and a
# client with the release `latchkey admin` into a throwaway SQLite file, and prints
# process CPU per call for the change marker, client authentication, minting (claims +
# ES256 signature) and the whole token() call, once with the marker looking at the files
# every time and once with a 100 ms marker window. Compare the last line with `make
# bench`'s µs/token: the difference is HTTP (hyper, axum, form parsing, the response).
# Then whole refresh grants on minted tokens (bench/mint.py), half with RS256 ID tokens
# (the default) and half with ES256: the difference is the RS256 signature.
#
# Environment: N (20000 calls per stage), LATCHKEY_BIN, CARGO_TARGET_DIR, SERVER_CPU (0).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="${LATCHKEY_BIN:-$TARGET_DIR/release/latchkey}"
cargo build --release -p latchkey-store-sqlite --example cc_profile
PROF="$TARGET_DIR/release/examples/cc_profile"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-ccprof.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
LATCHKEY_KEK="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
export LATCHKEY_KEK
db="$TMP/l.db"
"$BIN" admin --db "$db" scopes create api --description bench >/dev/null
cj="$("$BIN" admin --db "$db" clients create --name bench --type confidential \
      --grant client_credentials --scope api --json)"
cid="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$cj")"
csec="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$cj")"
aj="$("$BIN" admin --db "$db" clients create --name bench-app --redirect-uri https://bench.test/cb \
      --scope "openid offline_access" --no-consent --json)"
aid="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <<<"$aj")"
asec="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <<<"$aj")"
uid="$(printf 'bench password 123\n' | "$BIN" admin --db "$db" users create --username bench --password-stdin --json \
      | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d.get("id") or d["user"]["id"])')"
pin=()
[ -n "${SERVER_CPU-0}" ] && pin=(taskset -c "${SERVER_CPU-0}")
for w in 0 100; do
  echo "uptime: $(uptime | sed 's/^ *//')"
  python3 "$ROOT/bench/mint.py" sqlite "$db" --client "$aid" --user "$uid" --kind refresh \
    --n "${REFRESH_N:-4000}" --out "$TMP/rt"
  MARKER_WINDOW_MS="$w" "${pin[@]}" "$PROF" "$db" "$cid" "$csec" "$aid" "$asec" "$TMP/rt"
done
