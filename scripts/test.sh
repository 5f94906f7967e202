#!/usr/bin/env bash
# Runs every test: native (engine + server over real HTTP), the client in
# headless Chromium (wasm-pack test) against a running reference server, and
# the end-to-end tests (playwright-core driving Chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "cargo test (engine, protocol, server against the embedded store)"
cargo test --workspace

step "build the WASM package and the demo page"
bash scripts/build.sh
cargo build -p s3-multipart-server

work=$(mktemp -d)
server_pid=""
cleanup() {
  local rc=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

step "start a reference server for the browser tests"
./target/debug/s3-multipart-server --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 --data-dir "$work/data" \
  >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
  api=$(sed -n 's/^api and demo: //p' "$work/server.out")
  [ -n "$api" ] && break
  sleep 0.1
done
[ -n "${api:-}" ] || { cat "$work/server.err"; echo "the server did not start" >&2; exit 1; }
echo "server at $api"

step "wasm-pack test --headless --chrome (the client in real Chromium)"
S3MP_TEST_API="$api" CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome

step "end to end: demo page and the seed example in Chromium (playwright-core)"
node --test --test-concurrency=1 tests/e2e/
