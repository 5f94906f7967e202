#!/usr/bin/env bash
# Starts the demo: the reference backend with its embedded S3 store, serving
# the built demo page. Set S3MP_LISTEN / S3MP_S3_LISTEN / S3MP_DATA_DIR to move
# it (see `s3-multipart-server --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cargo build --release -p s3-multipart-server
echo "Open the 'api and demo' URL below in a browser; Ctrl-C stops the server."
exec ./target/release/s3-multipart-server --data-dir "${S3MP_DATA_DIR:-./s3-data}" "$@"
