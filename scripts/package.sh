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
wasm-pack build --release --target bundler --out-dir "$out/bundler" --out-name s3_multipart_wasm -- --no-default-features >&2
wasm-pack build --release --target web --out-dir "$out/web" --out-name s3_multipart_wasm -- --no-default-features >&2
# wasm-pack's own package.json / README / .gitignore in each target are replaced by the package's.
rm -f "$out"/{bundler,web}/{package.json,README.md,.gitignore,LICENSE*}
cp npm/widget-core.js npm/widget.d.ts npm/react-core.js npm/react.d.ts npm/README.md "$out/"
for target in bundler web; do bash scripts/entry.sh "$out/$target" "$target"; done
cat > "$out/bundler/widget.js" <<'JS'
// The widget for bundlers: the WASM module is a chunk of its own (a dynamic
// import), loaded after the widget has rendered, so first paint never waits
// for it.
import { makeWidget } from '../widget-core.js';

export const { attach, defineElement } = makeWidget(() => import('./index.js').then((m) => m.Uploader));
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
# The package's README states the size of this build, measured.
# The JavaScript an app loads (wasm-bindgen's glue, its snippets, the entry
# points) ships minified, as bundlers would make it (comments and long local
# names are a quarter of it gzipped); export names are kept. The sources stay
# readable in the repository (src/, npm/, scripts/entry.sh).
# A file terser cannot parse stops the build (a module a browser would refuse).
for f in $(find "$out/bundler" "$out/web" -name '*.js'); do
  terser "$f" --module --compress passes=3 --mangle --output "$f.min" || { echo "terser failed on $f" >&2; exit 1; }
  mv "$f.min" "$f"
done
node scripts/size.mjs --write "$out/README.md" >&2
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
node -e '
  const fs = require("fs");
  const p = JSON.parse(fs.readFileSync("npm/package.json", "utf8"));
  p.version = process.argv[1];
  fs.writeFileSync(process.argv[2], JSON.stringify(p, null, 2) + "\n");
' "$version" "$out/package.json"
(cd "$out" && npm pack --silent >/dev/null)
ls "$PWD/$out"/s3-multipart-wasm-*.tgz
