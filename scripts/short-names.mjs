// node scripts/short-names.mjs DIR: in a wasm-pack output directory, gives
// the names that link the module to its JS glue short names, in the module
// and in the glue alike: the module's imports from the glue
// (`./s3_multipart_wasm_bg.js`) and its exports that only the glue uses.
// wasm-bindgen names each import shim after the Rust item and a 64-bit hash
// (`__wbg_new_63f74d2c970f42cb`), each closure invoker likewise: some 110
// names of 15 to 60 characters, each written twice (in the module, in the
// glue) and, their hashes being random, barely compressible: 3.7 KiB of the
// package gzipped (docs/SIZE.md). They are the glue's own: no app or
// bundler refers to them (webpack and the web target's init link the module
// to the glue by these names only).
//
// Checks what it does: every renamed import is defined in the glue, none of
// the old names is left, the rewritten module compiles and imports and
// exports exactly what it did under the new names; the build stops
// otherwise. Running it twice changes nothing.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dir = process.argv[2];
if (!dir) throw new Error('usage: node scripts/short-names.mjs DIR');
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
  else throw new Error(`short-names: unknown import kind ${kind} in ${wasmPath}`);
}

// The module's exports that only the glue uses, by wasm-bindgen's prefixes
// (the closure invokers carry hashes too); `memory` and names of that kind
// stay, being words that other code (the hashing Worker's) also uses.
const GLUE_EXPORT = /^(__wbg_|__wbindgen_|wasm_bindgen__|uploader_|__externref_)/;
const renamed = new Map();
const exported = new Map();
const sections = [bytes.subarray(0, 8)];
// A vector section (id) rewritten entry by entry: `entry()` reads one at
// `at` and answers its new bytes.
function rewrite(id, at, end, entry) {
  const count = readLeb(bytes, at);
  const body = [leb(count)];
  for (let n = 0; n < count; n++) body.push(...entry());
  if (at.i !== end) throw new Error(`short-names: section ${id} of ${wasmPath} did not parse to its end`);
  const section = Buffer.concat(body);
  sections.push(Buffer.from([id]), leb(section.length), section);
}
// A name at `at` (its length, then its bytes).
function readName(at) {
  const len = readLeb(bytes, at);
  const name = bytes.subarray(at.i, at.i + len);
  at.i += len;
  return name;
}
const nameBytes = (name) => [leb(Buffer.byteLength(name)), Buffer.from(name)];
for (let at = { i: 8 }; at.i < bytes.length;) {
  const start = at.i;
  const id = bytes[at.i++];
  const size = readLeb(bytes, at);
  const end = at.i + size;
  if (id === 2) {
    rewrite(id, at, end, () => {
      const module = readName(at);
      const field = readName(at).toString();
      const descriptor = at.i;
      skipDescriptor(bytes, at);
      let name = field;
      if (module.toString() === GLUE) {
        if (!renamed.has(field)) renamed.set(field, `__w${renamed.size.toString(36)}`);
        name = renamed.get(field);
      }
      return [leb(module.length), module, ...nameBytes(name), bytes.subarray(descriptor, at.i)];
    });
  } else if (id === 7) {
    rewrite(id, at, end, () => {
      const field = readName(at).toString();
      const descriptor = at.i;
      at.i++;
      readLeb(bytes, at);
      if (GLUE_EXPORT.test(field)) exported.set(field, `__x${exported.size.toString(36)}`);
      return [...nameBytes(exported.get(field) ?? field), bytes.subarray(descriptor, at.i)];
    });
  } else {
    sections.push(bytes.subarray(start, end));
    at.i = end;
  }
}
const out = Buffer.concat(sections);

// The module: it compiles, and imports and exports what it did, renamed.
const [was, is] = [bytes, out].map((b) => new WebAssembly.Module(b));
const before = WebAssembly.Module.imports(was);
const after = WebAssembly.Module.imports(is);
const same = before.length === after.length && before.every((imp, k) => {
  const now = after[k];
  const name = imp.module === GLUE ? renamed.get(imp.name) : imp.name;
  return now.module === imp.module && now.kind === imp.kind && now.name === name;
});
if (!same) throw new Error(`short-names: the rewritten ${wasmPath} does not import what it did`);
const exportsBefore = WebAssembly.Module.exports(was);
const exportsAfter = WebAssembly.Module.exports(is);
const sameExports = exportsBefore.length === exportsAfter.length && exportsBefore.every((exp, k) =>
  exportsAfter[k].kind === exp.kind && exportsAfter[k].name === (exported.get(exp.name) ?? exp.name));
if (!sameExports) throw new Error(`short-names: the rewritten ${wasmPath} does not export what it did`);

// The glue (and the module's type declarations): each old name, an
// identifier or a property key, becomes the new one.
const files = readdirSync(dir).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts')).map((f) => path.join(dir, f));
const texts = new Map(files.map((f) => [f, readFileSync(f, 'utf8')]));
const all = [...renamed, ...exported]
  .filter(([from, to]) => from !== to)
  .map(([from, to]) => [from, to, new RegExp(`(?<![\\w$])${from}(?![\\w$])`, 'g')]);
for (const [from, to, word] of all) {
  let seen = 0;
  for (const [f, text] of texts) {
    texts.set(f, text.replace(word, () => { seen++; return to; }));
  }
  if (!seen && renamed.has(from)) throw new Error(`short-names: the module imports ${from}, which no JS file in ${dir} defines`);
}
for (const [f, text] of texts) {
  const left = all.find(([, , word]) => {
    word.lastIndex = 0;
    return word.test(text);
  });
  if (left) throw new Error(`short-names: ${f} still names ${left[0]}`);
  writeFileSync(f, text);
}
writeFileSync(wasmPath, out);
console.error(`short-names: ${renamed.size} imports and ${exported.size} exports of ${dir} renamed (${bytes.length} -> ${out.length} bytes of WebAssembly)`);
