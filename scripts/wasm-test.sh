# Sourced by test.sh and seaweedfs-tests.sh.
#
# wasm_test LIMIT COMMAND...: runs one `wasm-pack test` invocation, killed
# (with the test runner, the driver and the browser: timeout signals its whole
# process group) after LIMIT seconds. wasm-bindgen-test-runner's page server
# has been seen to stop answering the page it just served (a request left
# unread, the page never loads the module, nothing of the client runs); a run
# that times out like that is tried once more. A test that fails is not.
wasm_test() {
  local limit=$1 rc
  shift
  for attempt in 1 2; do
    timeout --kill-after=10 "$limit" "$@"
    rc=$?
    [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] && return "$rc"
    echo "wasm test run timed out after ${limit}s (attempt $attempt): $*" >&2
  done
  return "$rc"
}
