#!/usr/bin/env bash
# Builds the WASM package (pkg/) and the demo page (www/dist/).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"   # binaryen's wasm-opt, webpack
# A snippet of an earlier build would stay beside the new ones.
rm -rf pkg/snippets
wasm-pack build --release --target bundler --out-dir pkg -- --no-default-features
bash scripts/entry.sh pkg bundler
webpack --mode production
