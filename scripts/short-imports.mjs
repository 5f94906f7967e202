// node scripts/short-imports.mjs DIR: in a wasm-pack output directory, gives
// the module's imports from its JS glue (`./s3_multipart_wasm_bg.js`) short
// names, in the module and in the glue alike. wasm-bindgen names each import
// shim after the Rust item and a 64-bit hash (`__wbg_new_63f74d2c970f42cb`):
// some 90 names of 25 to 45 characters, written twice (the module's import
// section, the glue's exports) and, their hashes being random, barely
// compressible: 3.2 KiB of the package gzipped (docs/SIZE.md). The glue's
// names are its own (no app or bundler refers to them; webpack and the web
// target's init link the module to the glue by these names only).
//
// Checks what it does: every renamed import is defined in the glue, none of
// the old names is left, the rewritten module compiles and imports exactly
// what it did under the new names. Running it twice changes nothing.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node scripts/short-imports.mjs DIR');
const GLUE = './s3_multipart_wasm_bg.js';
const wasmPath = path.join(dir, 's3_multipart_wasm_bg.wasm');
const bytes = readFileSync(wasmPath);

function readLeb(buf, at) {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = buf[at.i++];
    value += (byte & 127) * 2 ** shift;
    shift += 7;
  } while (byte & 128);
  return value;
}
function leb(n) {
  const out = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n) byte |= 128;
    out.push(byte);
  } while (n);
  return Buffer.from(out);
}
// Skips an import's descriptor (function, table, memory, global, tag).
function skipDescriptor(buf, at) {
  const kind = buf[at.i++];
  const limits = () => {
    const flags = buf[at.i++];
    readLeb(buf, at);
    if (flags & 1) readLeb(buf, at);
  };
  if (kind === 0) readLeb(buf, at);
  else if (kind === 1) { at.i++; limits(); }
  else if (kind === 2) limits();
  else if (kind === 3) at.i += 2;
  else if (kind === 4) { at.i++; readLeb(buf, at); }
  else throw new Error(`short-imports: unknown import kind ${kind} in ${wasmPath}`);
}

const renamed = new Map();
const sections = [bytes.subarray(0, 8)];
for (let at = { i: 8 }; at.i < bytes.length;) {
  const start = at.i;
  const id = bytes[at.i++];
  const size = readLeb(bytes, at);
  const end = at.i + size;
  if (id !== 2) {
    sections.push(bytes.subarray(start, end));
    at.i = end;
    continue;
  }
  const count = readLeb(bytes, at);
  const body = [leb(count)];
  for (let n = 0; n < count; n++) {
    const moduleLen = readLeb(bytes, at);
    const module = bytes.subarray(at.i, at.i + moduleLen);
    at.i += moduleLen;
    const fieldLen = readLeb(bytes, at);
    const field = bytes.subarray(at.i, at.i + fieldLen).toString();
    at.i += fieldLen;
    const descriptor = at.i;
    skipDescriptor(bytes, at);
    let name = field;
    if (module.toString() === GLUE) {
      if (!renamed.has(field)) renamed.set(field, `__w${renamed.size.toString(36)}`);
      name = renamed.get(field);
    }
    body.push(leb(moduleLen), module, leb(Buffer.byteLength(name)), Buffer.from(name), bytes.subarray(descriptor, at.i));
  }
  if (at.i !== end) throw new Error(`short-imports: the import section of ${wasmPath} did not parse to its end`);
  const section = Buffer.concat(body);
  sections.push(Buffer.from([2]), leb(section.length), section);
}
const out = Buffer.concat(sections);

// The module: it compiles, and imports what it did, renamed.
const before = WebAssembly.Module.imports(new WebAssembly.Module(bytes));
const after = WebAssembly.Module.imports(new WebAssembly.Module(out));
const same = before.length === after.length && before.every((imp, k) => {
  const now = after[k];
  const name = imp.module === GLUE ? renamed.get(imp.name) : imp.name;
  return now.module === imp.module && now.kind === imp.kind && now.name === name;
});
if (!same) throw new Error(`short-imports: the rewritten ${wasmPath} does not import what it did`);

// The glue: each old name, an identifier or a property key, becomes the new one.
const jsFiles = readdirSync(dir).filter((f) => f.endsWith('.js')).map((f) => path.join(dir, f));
const texts = new Map(jsFiles.map((f) => [f, readFileSync(f, 'utf8')]));
for (const [from, to] of renamed) {
  if (from === to) continue;
  const word = new RegExp(`(?<![\\w$])${from}(?![\\w$])`, 'g');
  let seen = 0;
  for (const [f, text] of texts) {
    texts.set(f, text.replace(word, () => { seen++; return to; }));
  }
  if (!seen) throw new Error(`short-imports: the module imports ${from}, which no JS file in ${dir} defines`);
}
for (const [f, text] of texts) {
  const left = [...renamed.keys()].find((from) => from !== renamed.get(from) && text.includes(from));
  if (left) throw new Error(`short-imports: ${f} still names ${left}`);
  writeFileSync(f, text);
}
writeFileSync(wasmPath, out);
console.error(`short-imports: ${renamed.size} imports of ${dir} renamed (${bytes.length} -> ${out.length} bytes of WebAssembly)`);
