#!/usr/bin/env bash
# The SeaweedFS tier of test.sh: a real distributed store (scripts/seaweedfs.sh:
# master, two volume servers, filer, S3 gateway) behind the reference backend
# (--s3-endpoint), then
#   1. the REST flow of server/tests/api.rs against it (each test in a bucket
#      of its own), less the tests of the embedded store's own behaviour and of
#      what SeaweedFS does differently from S3 (docs/STORES.md lists both);
#   2. the browser tests that matter, in headless Chromium: whole uploads,
#      pause and resume, abort, resume of an interrupted upload, a hidden ETag.
# Needs the build of test.sh (target/debug/s3-multipart-server) and
# WASM_BINDGEN_TEST_ADDRESS (the test pages' origin, allowed by the servers).
set -uo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() {
  # The weed filer can ignore SIGTERM while it shuts down: KILL what is left.
  kill "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 50); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" -eq 0 ] && break
    sleep 0.1
  done
  kill -9 "${pids[@]}" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
# shellcheck source=scripts/test-lib.sh
source scripts/test-lib.sh

bash scripts/seaweedfs.sh "$work/weed" >"$work/weed.out" || { cat "$work/weed.out"; exit 1; }
endpoint=$(sed -n 's/^s3: //p' "$work/weed.out")
read -r access secret < <(sed -n 's/^access: //p' "$work/weed.out")
read -r -a weed_pids < <(sed -n 's/^pids: //p' "$work/weed.out")
pids+=("${weed_pids[@]}")
echo "SeaweedFS S3 gateway at $endpoint"

rc=0
S3MP_TEST_S3_ENDPOINT=$endpoint S3MP_TEST_S3_ACCESS_KEY=$access S3MP_TEST_S3_SECRET_KEY=$secret \
  cargo test -p s3-multipart-server --test api -- \
  --skip store_ \
  --skip abort_removes_the_upload_and_later_calls_get_no_such_upload \
  --skip a_retried_complete_after_a_lost_reply_is_the_same_success \
  --skip bad_input_gets_a_4xx_with_error_json || rc=1

origin="http://${WASM_BINDGEN_TEST_ADDRESS:?set by test.sh}"
start() { # start NAME ARGS...: a reference server on SeaweedFS; sets $api
  start_reference_server "$work" "$1" --s3-endpoint "$endpoint" --access-key "$access" --secret-key "$secret" \
    --allow-origins "$origin" "${@:2}" || return 1
  pids+=("$server_pid")
}
start main --bucket uploads --debug-endpoints || exit 1
main_api=$api
start locked --bucket hidden --auth-token test-token || exit 1
locked_api=$api

# One run per test: the test runner takes a single filter.
for t in thirty_three_mib_multipart five_mib_and_one_byte empty_blob pause_and_resume_in_the_middle \
  abort_deletes_the_multipart_upload an_interrupted_upload_resumes_and_sends_only_the_missing_parts \
  hidden_etag_is_etag_not_exposed list_parts_shows_the_stored_parts the_content_type_asked_for_is_stored \
  a_file_changed_between_its_samples_is_caught_and_stored_as_it_is_now; do
  wasm_test 180 env WASM_BINDGEN_TEST_TIMEOUT=600 S3MP_TEST_API="$main_api" S3MP_TEST_API_LOCKED="$locked_api" \
    CHROMEDRIVER=/usr/bin/chromedriver wasm-pack test --headless --chrome --test browser -- "$t" || rc=1
done
exit "$rc"
