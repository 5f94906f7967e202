// The gzipped size of what an app loads from the package to upload: the WASM
// module and its JS (the bundler build: generated glue, snippets, entry
// point, the hashing Worker's module; the widget not counted). Prints it;
// with --write, writes it into the size sentence (between `<!-- size -->`
// and `<!-- /size -->`) of the README files named after it.
//
//   node scripts/size.mjs [--json] [--write README.md ...]
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** `{ wasm, js, total }` gzipped bytes (level 9) of the build in `dir`. */
export function measure(dir = path.join(root, 'target/npm-package/bundler')) {
  const files = [
    ...readdirSync(dir).filter((f) => /\.(wasm|js)$/.test(f) && f !== 'widget.js'),
    ...readdirSync(path.join(dir, 'snippets'), { recursive: true }).filter((f) => f.endsWith('.js')).map((f) => path.join('snippets', f)),
  ];
  let wasm = 0;
  let js = 0;
  for (const f of files) {
    const gz = gzipSync(readFileSync(path.join(dir, f)), { level: 9 }).length;
    if (f.endsWith('.wasm')) wasm += gz; else js += gz;
  }
  return { wasm, js, total: wasm + js };
}

const kib = (b) => (b / 1024).toFixed(1);

/** The sentence the READMEs carry. */
export function sentence({ wasm, js, total }) {
  return `${kib(total)} KiB gzipped (WASM ${kib(wasm)} KiB, JS ${kib(js)} KiB)`;
}

const MARK = /<!-- size -->[\s\S]*?<!-- \/size -->/;

/** The figure a README states, as written between the marks, or null. */
export function stated(text) {
  const m = MARK.exec(text);
  return m ? m[0].replace(/<!-- \/?size -->/g, '') : null;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const size = measure();
  if (args.includes('--json')) console.log(JSON.stringify(size));
  else console.log(sentence(size));
  const at = args.indexOf('--write');
  if (at >= 0) {
    for (const file of args.slice(at + 1)) {
      const text = readFileSync(file, 'utf8');
      if (!MARK.test(text)) throw new Error(`${file} has no <!-- size --> ... <!-- /size --> marks to write the size between`);
      writeFileSync(file, text.replace(MARK, `<!-- size -->${sentence(size)}<!-- /size -->`));
    }
  }
}
