#!/usr/bin/env bash
# Builds the npm package: the WASM client for bundlers (webpack 5: `import from
# 's3-multipart-wasm'`) and for the web target (Vite, plain ES modules:
# `import init from 's3-multipart-wasm/web'`), the widget for each, types and
# README, in target/npm-package/; then `npm pack` makes the tarball there.
# Prints the tarball's path last.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"   # binaryen's wasm-opt
out=target/npm-package
rm -rf "$out"
mkdir -p "$out"
wasm-pack build --release --target bundler --out-dir "$out/bundler" --out-name s3_multipart_wasm >&2
wasm-pack build --release --target web --out-dir "$out/web" --out-name s3_multipart_wasm >&2
# wasm-pack's own package.json / README / .gitignore in each target are replaced by the package's.
rm -f "$out"/{bundler,web}/{package.json,README.md,.gitignore,LICENSE*}
cp npm/widget-core.js npm/widget.d.ts npm/react-core.js npm/react.d.ts npm/README.md "$out/"
for target in bundler web; do
  dir="$out/$target"
  # wasm-bindgen types `[Symbol.dispose]()`, which needs lib esnext: a
  # project on es2022 without skipLibCheck would not compile. The method is
  # still there at run time (free() does the same).
  sed -i '/\[Symbol.dispose\]/d' "$dir/s3_multipart_wasm.d.ts"
  # The entry point: the generated module, plus the UploadError class that
  # the module's errors are instances of (defined in a snippet of its own,
  # which the generated module does not re-export).
  snippet=$(grep -l "class UploadError" "$dir"/snippets/*/inline*.js | head -1)
  [ -n "$snippet" ] || { echo "package.sh: no UploadError class in $dir/snippets" >&2; exit 1; }
  rel=${snippet#"$dir"/}
  {
    echo "export * from './s3_multipart_wasm.js';"
    echo "export { UploadError } from './$rel';"
  } >"$dir/index.js"
  if [ "$target" = web ]; then
    # The web build's init() compiles the module itself and hands it to the
    # hashing Worker too (the generated init keeps it to itself).
    hashing=$(grep -l "workerCrc32" "$dir"/snippets/*/inline*.js | head -1)
    [ -n "$hashing" ] || { echo "package.sh: no hashing snippet in $dir/snippets" >&2; exit 1; }
    cat >>"$dir/index.js" <<JS
import glueInit from './s3_multipart_wasm.js';
import { setHashModule } from './${hashing#"$dir"/}';

async function compiled(input) {
  if (input === undefined) input = new URL('./s3_multipart_wasm_bg.wasm', import.meta.url);
  if (typeof input === 'string' || input instanceof URL || (typeof Request === 'function' && input instanceof Request)) input = fetch(input);
  input = await input;
  if (input instanceof WebAssembly.Module) return input;
  if (typeof Response === 'function' && input instanceof Response) {
    if (!input.ok) throw new Error(\`failed to fetch Wasm: \${input.status} \${input.statusText} fetching '\${input.url}'\`);
    try {
      return await WebAssembly.compileStreaming(input.clone());
    } catch (e) {
      return WebAssembly.compile(await input.arrayBuffer());
    }
  }
  return WebAssembly.compile(input);
}

let ready;
/** Fetches and compiles the module (streaming), instantiates it; the same arguments as wasm-bindgen's init. */
export default function init(arg) {
  ready ||= (async () => {
    const input = arg !== undefined && Object.getPrototypeOf(arg) === Object.prototype ? arg.module_or_path : arg;
    const module = await compiled(input);
    setHashModule(module);
    return glueInit({ module_or_path: module });
  })();
  ready.catch(() => { ready = undefined; });
  return ready;
}
JS
  fi
  {
    echo "export * from './s3_multipart_wasm.js';"
    if [ "$target" = web ]; then echo "export { default } from './s3_multipart_wasm.js';"; fi
  } >"$dir/index.d.ts"
done
cat > "$out/bundler/widget.js" <<'JS'
// The widget for bundlers: the WASM module is ready when this module is.
import { Uploader } from './index.js';
import { makeWidget } from '../widget-core.js';

export const { attach, defineElement } = makeWidget(async () => Uploader);
JS
cat > "$out/web/widget.js" <<'JS'
// The widget for the web target: the WASM module is fetched and instantiated
// the first time a file is chosen.
import init, { Uploader } from './index.js';
import { makeWidget } from '../widget-core.js';

let ready;
export const { attach, defineElement } = makeWidget(async () => {
  ready ||= init();
  await ready;
  return Uploader;
});
JS
cat > "$out/web/react.js" <<'JS'
// React bindings on the web build: the WASM module is fetched and
// instantiated the first time an upload starts.
import init, { Uploader } from './index.js';
import { makeReact } from '../react-core.js';

let ready;
export const { useUpload, UploadInput } = makeReact(async () => {
  ready ||= init();
  await ready;
  return Uploader;
});
JS
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync("npm/package.json", "utf8"));
  p.version = process.argv[1];
  fs.writeFileSync(process.argv[2], JSON.stringify(p, null, 2) + "\n");
' "$version" "$out/package.json"
(cd "$out" && npm pack --silent >/dev/null)
ls "$PWD/$out"/s3-multipart-wasm-*.tgz
