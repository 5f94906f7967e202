#!/usr/bin/env bash
# Builds what the browser tiers of test.sh need: the WASM package and demo page,
# the npm tarball (its path written to the file named by $1), the reference
# server and the fault proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
tarball=$(bash scripts/package.sh | tail -1)
echo "$tarball" >"$1"
cargo build -p s3-multipart-server -p s3-fault-proxy
