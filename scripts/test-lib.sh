# Sourced by test.sh, seaweedfs-tests.sh and seaweedfs.sh: what they need.

# low_free_port: prints a free port on 127.0.0.1 for a program to listen on
# later, taken below Linux's ephemeral range (32768-60999), so that no port
# handed out meanwhile (to another listener, to ChromeDriver, to a browser's
# outgoing connection) can be the same one.
low_free_port() {
  python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
'
}

# start_reference_server DIR NAME ARGS...: starts the built reference server
# (API on a free port) with ARGS, its output in DIR/NAME.out and .err; sets
# $server_pid, and $api to the API's URL once it listens (fails after 10 s).
start_reference_server() {
  local dir=$1 name=$2
  shift 2
  ./target/debug/s3-multipart-server --listen 127.0.0.1:0 "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
  server_pid=$!
  api=""
  for _ in $(seq 100); do
    api=$(sed -n 's/^api and demo: //p' "$dir/$name.out")
    [ -n "$api" ] && return 0
    sleep 0.1
  done
  cat "$dir/$name.err" >&2
  echo "the $name server did not start" >&2
  return 1
}
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
