// What the WASM module would weigh if it held only some of its code: the
// module built as the package builds it (no `std`, release profile), its
// names kept; then, for each split below, every export removed but the
// functions the split names, the function table dropped, what nothing
// reaches removed, and the package's wasm-opt passes run. Prints each
// split's size gzipped (level 9).
//
// The data segment (the messages' strings) is kept whole in every split, so
// each figure is an upper bound for the code it names. It answers "how small
// would the module be if the browser glue (driver, backends, API shims) were
// JavaScript": docs/SIZE.md, "The engine alone, measured".
//
//   node scripts/size-split.mjs
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'target/size-split');
const bin = (name) => path.join(root, 'node_modules/.bin', name);

const SPLITS = [
  ['the whole module (every function exported, so a little more than the package\'s)', '.', 'keep'],
  ['the engine: `Coordinator` (and the `Upload` engines, retry, adaptation, progress it runs)', '^s3_multipart_wasm::engine::coordinator::Coordinator::', 'drop'],
  ['the engine and the journal entry (`resume`: JSON, sample hash, the look-up\'s decision)',
    '^s3_multipart_wasm::(engine::coordinator::Coordinator::|resume::(Entry::(from|to)_json|sample_hash|decide))', 'drop'],
  ['the engine, the journal entry and the protocol (request bodies, reply parsing and checks)',
    '^s3_multipart_wasm::(engine::coordinator::Coordinator::|protocol::(parse_|\\w+_body|backend_error)|resume::(Entry::(from|to)_json|sample_hash|decide))', 'drop'],
];

mkdirSync(out, { recursive: true });
execFileSync('cargo', ['build', '--release', '--lib', '--target', 'wasm32-unknown-unknown', '--no-default-features'], { cwd: root, stdio: 'inherit' });
execFileSync('wasm-bindgen', ['--target', 'bundler', '--keep-debug', '--out-dir', out,
  path.join(root, 'target/wasm32-unknown-unknown/release/s3_multipart_wasm.wasm')], { stdio: 'inherit' });
const named = readFileSync(path.join(out, 's3_multipart_wasm_bg.wasm'));
// The package's wasm-opt passes, as Cargo.toml gives them to wasm-pack
// (the feature flags left out: --all-features below).
const WASM_OPT = JSON.parse(/^wasm-opt = (\[.*\])$/m.exec(readFileSync(path.join(root, 'Cargo.toml'), 'utf8'))[1])
  .filter((f) => !f.startsWith('--enable-'));

const { default: binaryen } = await import(path.join(root, 'node_modules/binaryen/index.js'));
for (const [what, pattern, table] of SPLITS) {
  const m = binaryen.readBinary(named);
  m.setFeatures(binaryen.Features.All);
  for (let i = m.getNumExports() - 1; i >= 0; i--) m.removeExport(binaryen.getExportInfo(m.getExportByIndex(i)).name);
  const re = new RegExp(pattern);
  let exported = 0;
  for (let i = 0; i < m.getNumFunctions(); i++) {
    const { name } = binaryen.getFunctionInfo(m.getFunctionByIndex(i));
    if (re.test(name)) m.addFunctionExport(name, `e${exported++}`);
  }
  if (table === 'drop') {
    for (let i = m.getNumElementSegments() - 1; i >= 0; i--) {
      m.removeElementSegment(binaryen.getElementSegmentInfo(m.getElementSegmentByIndex(i)).name);
    }
  }
  m.runPasses(['remove-unused-module-elements']);
  const pruned = path.join(out, 'pruned.wasm');
  const opt = path.join(out, 'opt.wasm');
  writeFileSync(pruned, m.emitBinary());
  m.dispose();
  execFileSync(bin('wasm-opt'), [pruned, '-o', opt, ...WASM_OPT, '--strip-debug', '--all-features']);
  const bytes = readFileSync(opt);
  console.log(`${(gzipSync(bytes, { level: 9 }).length / 1024).toFixed(1)} KiB gzipped (${bytes.length} B, ${exported} functions exported): ${what}`);
}
