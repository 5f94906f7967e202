#!/usr/bin/env bash
# Runs the resilience scenarios (tests/e2e/resilience.test.mjs) and writes
# their figures to docs/RELIABILITY.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cargo build -p s3-multipart-server -p s3-fault-proxy
RELIABILITY_OUT=test-results/reliability.json node --test --test-concurrency=1 tests/e2e/resilience.test.mjs
node scripts/reliability-report.mjs test-results/reliability.json docs/RELIABILITY.md
