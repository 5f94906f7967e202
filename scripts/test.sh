#!/usr/bin/env bash
# Runs every test: native (engine + server over real HTTP), the client in
# headless Chromium (wasm-pack test) against running reference servers, and
# the end-to-end tests (playwright-core driving Chromium). Ends with one line
# that sums them up: "tests: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

work=$(mktemp -d)
log="$work/all.log"
server_pids=()
cleanup() {
  local rc=$?
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "cargo test (engine, protocol, server against the embedded store)"
cargo test --workspace 2>&1 | tee -a "$log"

step "build the WASM package, the demo page and the npm tarball"
bash scripts/build.sh
tarball=$(bash scripts/package.sh | tail -1)
cargo build -p s3-multipart-server -p s3-fault-proxy

# start_server NAME ARGS...: starts a reference server on free ports; sets $api.
start_server() {
  local name=$1
  shift
  ./target/debug/s3-multipart-server --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 --data-dir "$work/$name" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" &
  server_pids+=($!)
  api=""
  for _ in $(seq 100); do
    api=$(sed -n 's/^api and demo: //p' "$work/$name.out")
    [ -n "$api" ] && return 0
    sleep 0.1
  done
  cat "$work/$name.err" >&2
  echo "the $name server did not start" >&2
  exit 1
}

step "start reference servers for the browser tests"
start_server main --debug-endpoints
main_api=$api
# A store whose CORS hides ETag, behind an API that wants a bearer token.
start_server locked --s3-expose-etag false --auth-token test-token
locked_api=$api
echo "servers at $main_api and $locked_api"

step "wasm-pack test --headless --chrome (the client in real Chromium, also in a Web Worker)"
WASM_BINDGEN_TEST_TIMEOUT=600 S3MP_TEST_API="$main_api" S3MP_TEST_API_LOCKED="$locked_api" \
  CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome 2>&1 | tee -a "$log"

step "end to end in Chromium (playwright-core): demo page and widget, the seed example, resilience through the fault proxy, the npm package in fresh webpack and Vite apps"
S3MP_NPM_TARBALL="$tarball" node --test --test-concurrency=1 tests/e2e/ 2>&1 | tee -a "$log"

awk '
  /^test result: / { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  /^# pass [0-9]+$/ { p += $3 }
  /^# fail [0-9]+$/ { f += $3 }
  END { printf "\ntests: %d passed, %d failed\n", p, f }
' "$log"
