// How fast a dedicated Worker reads a File through a BYOB stream reader, by
// the size of the buffer it reads into (the hashing Worker reads each part
// this way, into one reused buffer: src/glue.js), in headless
// Chromium: a 256 MiB file read as parts of 8 MiB, nothing hashed. Each
// buffer size in a fresh browser (Chromium's BYOB reads of file streams stop
// answering after some 60-125 streams in one agent's life).
//
//   node bench/read-chunk.mjs [--kib 256,1024,2048,4096] [--rounds 3]
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { launchBrowser, root, startServer } from '../tests/e2e/helpers.mjs';

const argv = process.argv.slice(2);
const arg = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const sizes = arg('kib', '256,1024,2048,4096').split(',').map(Number);
const rounds = Number(arg('rounds', '3'));
const MIB = 1048576;
const file = path.join('/tmp/s3mp-bench', 'file-256.bin');
mkdirSync(path.dirname(file), { recursive: true });
if (!existsSync(file)) writeFileSync(file, randomBytes(256 * MIB));
const www = path.join(tmpdir(), 's3mp-read-chunk');
mkdirSync(www, { recursive: true });
writeFileSync(path.join(www, 'read.html'), `<!doctype html><input type=file id=file><script>
const SRC = \`onmessage = async ({ data: { file, chunk, part } }) => {
  const t0 = performance.now();
  let n = 0;
  for (let s = 0; s < file.size; s += part) {
    const r = file.slice(s, Math.min(file.size, s + part)).stream().getReader({ mode: 'byob' });
    let buf = new ArrayBuffer(chunk);
    for (;;) {
      const { value, done } = await r.read(new Uint8Array(buf, 0, chunk));
      if (done) break;
      n += value.length;
      buf = value.buffer;
    }
  }
  postMessage({ ms: performance.now() - t0, n });
};\`;
window.readAll = (chunk, part) => new Promise((resolve) => {
  const w = new Worker(URL.createObjectURL(new Blob([SRC], { type: 'text/javascript' })));
  w.onmessage = ({ data }) => { w.terminate(); resolve(data); };
  w.postMessage({ file: document.getElementById('file').files[0], chunk, part });
});
</script>`);

process.env.S3MP_SERVER_BIN = path.join(root, 'target/release/s3-multipart-server');
const server = await startServer([], { wwwDir: www });
const results = Object.fromEntries(sizes.map((k) => [k, []]));
try {
  for (let round = 0; round < rounds; round++) {
    for (const kib of sizes) {
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        await page.goto(`${server.api}/read.html`);
        await page.setInputFiles('#file', file);
        const r = await page.evaluate(([c, p]) => window.readAll(c, p), [kib * 1024, 8 * MIB]);
        if (r.n !== 256 * MIB) throw new Error(`read ${r.n} bytes`);
        results[kib].push(256 / (r.ms / 1000));
      } finally {
        await browser.close();
      }
    }
  }
} finally {
  await server.stop();
}
const med = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
for (const kib of sizes) {
  const v = results[kib];
  console.log(`${kib} KiB buffer: ${med(v).toFixed(0)} MiB/s (${Math.min(...v).toFixed(0)}-${Math.max(...v).toFixed(0)}), ${v.length} rounds`);
}
