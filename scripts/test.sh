#!/usr/bin/env bash
# Runs every test, tier by tier:
#   native      cargo test (engine, protocol, server over real HTTP, embedded store)
#   build       the WASM package, the demo page and the npm tarball
#   chrome      wasm-pack test of every wasm-bindgen test file in headless Chromium
#   firefox     the same test files in headless Firefox ESR
#   e2e-chrome  end to end in Chromium (playwright-core): demo, widget, seed
#               example, resilience, the npm package in webpack and Vite apps
#   e2e-firefox end to end in Firefox ESR (selenium-webdriver over geckodriver)
#   seaweedfs   the REST flow and browser uploads against a SeaweedFS cluster
# A tier that fails does not stop the others (unless they need what it built).
# The last line always sums them up, "tests: N passed, M failed", after a line
# naming the tiers that failed; the exit status is non-zero when any failed.
# Set S3MP_TIERS (space-separated names) to run only some tiers.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "setup failed"; printf 'failed tiers: setup\ntests: 0 passed, 1 failed\n'; exit 1; }

work=$(mktemp -d)
log="$work/all.log"
touch "$log"
server_pids=()
failed_tiers=()
tier_failures=0
timings=()
cleanup() {
  for pid in "${server_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck source=scripts/test-lib.sh
source scripts/test-lib.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
wanted() { [ -z "${S3MP_TIERS:-}" ] || [[ " $S3MP_TIERS " == *" $1 "* ]]; }

# tier NAME COMMAND...: runs a tier whose output the summary counts; a tier
# that fails without a counted failure (a build error, a crash) counts as one.
tier() {
  local name=$1
  shift
  wanted "$name" || return 0
  local before after tier_log="$work/tier-$name.log" began=$SECONDS
  step "$name: $*"
  "$@" 2>&1 | tee "$tier_log"
  local rc=${PIPESTATUS[0]}
  cat "$tier_log" >>"$log"
  # How long each tier took (CI should stay under 30 minutes with the tools
  # installed): printed as it ends and again in the summary.
  timings+=("$name $((SECONDS - began)) s")
  echo "tier $name: $((SECONDS - began)) s"
  if [ "$rc" -ne 0 ]; then
    failed_tiers+=("$name")
    before=$(count_failed "$tier_log")
    [ "$before" -gt 0 ] || tier_failures=$((tier_failures + 1))
  fi
  return "$rc"
}

count_failed() {
  awk '
    /^test result: / { for (i = 1; i <= NF; i++) if ($(i+1) ~ /^failed/) f += $i }
    /^# fail [0-9]+$/ { f += $3 }
    END { print f + 0 }
  ' "$1"
}

summary() {
  awk -v extra="$tier_failures" '
    /^test result: / { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
    /^# pass [0-9]+$/ { p += $3 }
    /^# fail [0-9]+$/ { f += $3 }
    END { printf "\ntests: %d passed, %d failed\n", p, f + extra }
  ' "$log"
}

finish() {
  ((${#timings[@]})) && printf '\ntiers took: %s (all: %d s)\n' "$(IFS=,; echo "${timings[*]}" | sed 's/,/, /g')" "$SECONDS"
  if ((${#failed_tiers[@]})); then
    printf '\nfailed tiers: %s\n' "${failed_tiers[*]}"
  else
    printf '\nfailed tiers: none\n'
  fi
  summary
  ((${#failed_tiers[@]} == 0))
  exit $?
}

tier native cargo test --workspace --no-fail-fast

built=1
tier build bash scripts/build-all.sh "$work/tarball" || built=0
if [ "$built" -eq 0 ]; then
  # Nothing below can run without the build.
  for t in chrome firefox e2e-chrome e2e-firefox seaweedfs; do wanted "$t" && failed_tiers+=("$t(not run)"); done
  finish
fi
tarball=$(cat "$work/tarball" 2>/dev/null || true)

# start_server NAME ARGS...: a reference server with its embedded store, on free ports; sets $api.
start_server() {
  local name=$1
  shift
  start_reference_server "$work" "$name" --s3-listen 127.0.0.1:0 --data-dir "$work/$name" "$@" || return 1
  server_pids+=("$server_pid")
}

# The wasm-bindgen test pages are served from a fixed origin, which the test
# servers list (credentials are only allowed for listed origins).
runner_port=$(low_free_port)
export WASM_BINDGEN_TEST_ADDRESS="127.0.0.1:$runner_port"
if wanted chrome || wanted firefox; then
  step "start reference servers for the browser tests"
  origin="http://127.0.0.1:$runner_port"
  start_server main --debug-endpoints --allow-origins "$origin" && main_api=$api &&
    # A store whose CORS hides ETag, behind an API that wants a bearer token.
    start_server locked --s3-expose-etag false --auth-token test-token --allow-origins "$origin" && locked_api=$api ||
    { failed_tiers+=("servers"); tier_failures=$((tier_failures + 1)); }
  echo "servers at ${main_api:-?} and ${locked_api:-?}"
fi

# wasm_tests BROWSER-FLAG DRIVER-VAR DRIVER: every wasm-bindgen test file, each
# on its own (cargo would stop at the first failing test binary).
wasm_tests() {
  local flag=$1 var=$2 driver=$3 rc=0 file
  for file in tests/*.rs; do
    file=$(basename "$file" .rs)
    wasm_test 600 env WASM_BINDGEN_TEST_TIMEOUT=600 S3MP_TEST_API="${main_api:-}" \
      S3MP_TEST_API_LOCKED="${locked_api:-}" "$var=$driver" wasm-pack test --headless "$flag" --test "$file" || rc=1
  done
  return "$rc"
}

tier chrome wasm_tests --chrome CHROMEDRIVER /usr/bin/chromedriver
tier firefox wasm_tests --firefox GECKODRIVER "$(command -v geckodriver || echo "$HOME/.cargo/bin/geckodriver")"

tier e2e-chrome env S3MP_NPM_TARBALL="$tarball" node --test --test-concurrency=1 tests/e2e/
tier e2e-firefox node --test --test-concurrency=1 tests/e2e-firefox/
tier seaweedfs bash scripts/seaweedfs-tests.sh

finish
