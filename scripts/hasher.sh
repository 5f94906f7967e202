#!/usr/bin/env bash
# Builds the hashing Worker's WebAssembly module (hasher/, its `exports`
# feature) and writes it, base64, as a JS module to $1:
#   export const HASHER = '…';
# The package's entry points hand it to the hashing snippet (setHashModule).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo rustc -q -p s3mp-hasher --release --features exports --target wasm32-unknown-unknown --crate-type cdylib
wasm=target/wasm32-unknown-unknown/release/s3mp_hasher.wasm
{
  echo "// The hashing Worker's WebAssembly module (hasher/ in the repository, $(stat -c %s "$wasm") bytes), base64."
  echo "export const HASHER = '$(base64 -w0 "$wasm")';"
} >"$1"
