#!/usr/bin/env bash
# Writes the entry point of a wasm-pack output directory $1 (target $2:
# bundler or web): index.js and index.d.ts, and hasher.js (the hashing
# Worker's module, scripts/hasher.sh). index.js is the generated module,
# plus the UploadError class its errors are instances of (defined in a
# snippet of its own, which the generated module does not re-export), and it
# hands the Worker's module to the hashing snippet.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1 target=$2
# The names that link the module to its glue get short (scripts/short-names.mjs).
node scripts/short-names.mjs "$dir"
bash scripts/hasher.sh "$dir/hasher.js"
snippet() {
  local f
  f=$(grep -rl --include="*.js" "$1" "$dir"/snippets | head -1)
  [ -n "$f" ] || { echo "entry.sh: no snippet with '$1' in $dir/snippets" >&2; exit 1; }
  echo "./${f#"$dir"/}"
}
errors=$(snippet "class UploadError")
hashing=$(snippet "export function setHashModule")
# The Worker's code as a string literal, out of reach of an app's transpiler.
node scripts/worker-literal.mjs "$dir/${hashing#./}"
{
  echo "export * from './s3_multipart_wasm.js';"
  echo "export { UploadError } from '$errors';"
  echo "import { setHashModule } from '$hashing';"
  echo "import { HASHER } from './hasher.js';"
  echo "setHashModule(HASHER);"
  if [ "$target" = web ]; then
    # wasm-bindgen's init (streaming instantiation), once however many
    # callers (the app, the widget, the React bindings) ask for it.
    cat <<'JS'
import glueInit from './s3_multipart_wasm.js';
let ready;
export default function init(arg) {
  ready ||= glueInit(arg);
  ready.catch(() => { ready = undefined; });
  return ready;
}
JS
  fi
} >"$dir/index.js"
# Where the directory is a package of its own (pkg/, for the demo and the
# benchmark), index.js has side effects (it hands the Worker its module): a
# bundler must not skip it.
if [ -f "$dir/package.json" ]; then
  node -e '
    const fs = require("fs");
    const p = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
    p.sideEffects = [...new Set([...(p.sideEffects || []), "./index.js"])];
    fs.writeFileSync(process.argv[1], JSON.stringify(p, null, 2) + "\n");
  ' "$dir/package.json"
fi
# wasm-bindgen types `[Symbol.dispose]()`, which needs lib esnext: a project
# on es2022 without skipLibCheck would not compile. The method is still there
# at run time (free() does the same).
sed -i '/\[Symbol.dispose\]/d' "$dir/s3_multipart_wasm.d.ts"
{
  echo "export * from './s3_multipart_wasm.js';"
  if [ "$target" = web ]; then echo "export { default } from './s3_multipart_wasm.js';"; fi
} >"$dir/index.d.ts"
