#!/usr/bin/env bash
# Builds the hashing Worker's WebAssembly module (hasher/, its `exports`
# feature) and writes it, base64, as a JS module to $1:
#   export const HASHER = '…';
# The package's entry points hand it to the hashing snippet (setHashModule).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo rustc -q -p s3mp-hasher --release --features exports --target wasm32-unknown-unknown --crate-type cdylib
# Where cargo put it (CARGO_TARGET_DIR or a config may move target/).
target=$(cargo metadata -q --format-version 1 --no-deps | node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => console.log(JSON.parse(s).target_directory))')
wasm="$target/wasm32-unknown-unknown/release/s3mp_hasher.wasm"
# A missing module must stop the build: an empty HASHER would ship a package
# without its hashing Worker (every part then hashed on the page).
if [ ! -s "$wasm" ]; then
  echo "hasher.sh: the hashing Worker's module $wasm was not built" >&2
  exit 1
fi
# Optimised again and stripped of its names and producers sections (a
# third of it): binaryen's wasm-opt, from the package's devDependencies.
opt=$(mktemp)
trap 'rm -f "$opt"' EXIT
PATH="$PWD/node_modules/.bin:$PATH" wasm-opt -O3 --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
  --strip-debug --strip-producers --strip-target-features "$wasm" -o "$opt"
wasm=$opt
size=$(stat -c %s "$wasm")
b64=$(base64 -w0 "$wasm")
{
  echo "// The hashing Worker's WebAssembly module (hasher/ in the repository, $size bytes), base64."
  echo "export const HASHER = '$b64';"
} >"$1"
