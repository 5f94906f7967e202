#!/usr/bin/env bash
# Runs the S3 conformance suite (ceph/s3-tests, s3tests/functional/test_s3.py)
# against the embedded store, or any endpoint, and prints pass/fail per subset.
#
#   scripts/conformance.sh S3TESTS_DIR [--s3-endpoint URL --access-key K --secret-key S] [subset ...]
#
# S3TESTS_DIR is a checkout of https://github.com/ceph/s3-tests (git clone it;
# it is not a registry package). Subsets: multipart checksum presigned object
# all (default: the first four), or k=EXPR for any pytest -k expression.
# Without --s3-endpoint the reference server is
# built and started with its embedded store on a free port. One identity is
# configured (the suite's "alt" and "tenant" users are the main one), so tests
# that need a second user fail. Not part of test.sh: the whole suite takes about
# 25 minutes. The suite's Python requirements are installed with pip if missing.
# Each subset's JUnit XML is left in target/conformance/.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n '2,15p' "$0"; exit 2; }
suite=$(cd "$1" && pwd)
shift
endpoint="" access="s3mp-conformance-key" secret="s3mp-conformance-secret"
subsets=()
while [ $# -gt 0 ]; do
  case $1 in
    --s3-endpoint) endpoint=$2; shift 2 ;;
    --access-key) access=$2; shift 2 ;;
    --secret-key) secret=$2; shift 2 ;;
    *) subsets+=("$1"); shift ;;
  esac
done
((${#subsets[@]})) || subsets=(multipart checksum presigned object)

python3 -c 'import boto3, munch, isodate, pytest, lxml, httplib2, pytz, yaml' 2>/dev/null ||
  python3 -m pip install --quiet --disable-pip-version-check boto3 botocore munch isodate pytest lxml httplib2 pytz PyYAML requests

work=$(mktemp -d)
server_pid=""
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
if [ -z "$endpoint" ]; then
  cargo build -q -p s3-multipart-server
  ./target/debug/s3-multipart-server --listen 127.0.0.1:0 --s3-listen 127.0.0.1:0 --data-dir "$work/data" \
    --access-key "$access" --secret-key "$secret" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  for _ in $(seq 100); do
    endpoint=$(sed -n 's/^s3 store: \(http:[^ ]*\).*/\1/p' "$work/server.out")
    [ -n "$endpoint" ] && break
    sleep 0.1
  done
  [ -n "$endpoint" ] || { cat "$work/server.err"; exit 1; }
fi
hostport=${endpoint#http://}
hostport=${hostport%%/*}
user() { # user SECTION
  printf '[%s]\ndisplay_name = s3mp\nuser_id = s3mp\nemail = s3mp@example.com\naccess_key = %s\nsecret_key = %s\n' \
    "$1" "$access" "$secret"
}
{
  printf '[DEFAULT]\nhost = %s\nport = %s\nis_secure = False\nssl_verify = False\n' "${hostport%:*}" "${hostport##*:}"
  printf '[fixtures]\nbucket prefix = s3mp-{random}-\n'
  user "s3 main"
  user "s3 alt"
  user "s3 tenant"
  printf 'tenant = testx\n'
  user "iam"
  user "iam root"
  user "iam alt root"
} >"$work/s3tests.conf"

declare -A filter=(
  [multipart]="multipart"
  [checksum]="checksum or crc32 or crc64 or sha256"
  [presigned]="presigned"
  [object]="test_object_ and not (acl or tagging or lock or multipart or checksum or presigned or sse or encryption or legal_hold or retention or lifecycle or attributes or torrent)"
  [all]=""
)
mkdir -p target/conformance
printf '\nendpoint %s\n%-10s %6s %6s %6s\n' "$endpoint" subset passed failed errors
for s in "${subsets[@]}"; do
  # k=EXPR: any pytest -k expression (one test by name, say), reported as "k".
  if [[ $s == k=* ]]; then
    filter[k]=${s#k=}
    s=k
  fi
  [ -n "${filter[$s]+x}" ] || { echo "unknown subset $s (multipart checksum presigned object all, or k=EXPR)"; exit 2; }
  args=(-q -p no:cacheprovider --junitxml="$PWD/target/conformance/$s.xml" -o junit_family=xunit1)
  [ -n "${filter[$s]}" ] && args+=(-k "${filter[$s]}")
  (cd "$suite" && S3TEST_CONF="$work/s3tests.conf" timeout 3600 python3 -m pytest "${args[@]}" \
    s3tests/functional/test_s3.py >"$work/$s.log" 2>&1) || true
  python3 - "$PWD/target/conformance/$s.xml" "$s" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root)
tests = sum(int(s.get("tests", 0)) for s in suites)
fail = sum(int(s.get("failures", 0)) for s in suites)
err = sum(int(s.get("errors", 0)) for s in suites)
skip = sum(int(s.get("skipped", 0)) for s in suites)
print(f"{sys.argv[2]:<10} {tests - fail - err - skip:6d} {fail:6d} {err:6d}")
PY
done
echo "(JUnit XML per subset in target/conformance/; failing test names: grep -B1 '<failure\\|<error' there)"
