// How many timers, microtasks and other per-file calls the page's thread is
// asked for while many small files upload: `setTimeout`, `clearTimeout`,
// `queueMicrotask`, `AbortController.abort`, `add`/`removeEventListener`,
// `URL.createObjectURL`, `fetch` and `Blob.slice` on the page, counted by
// their caller (a minified bundle: line and
// column in bench/dist/<contender>.js), in headless Chromium against the
// embedded store (loopback). Counts, not times: they do not depend on the
// machine's load. Needs the bench built first (`npm run bench` builds
// bench/dist and the release server).
//
//   node bench/calls.mjs [--contenders ours,uppy5] [--files 500] [--kib 100] [--top 8]
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { launchBrowser, root, startServer } from '../tests/e2e/helpers.mjs';

const argv = process.argv.slice(2);
const arg = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const contenders = arg('contenders', 'ours').split(',');
const count = Number(arg('files', '500'));
const kib = Number(arg('kib', '100'));
const dir = path.join('/tmp/s3mp-bench', `files-${count}x${kib}k`);
mkdirSync(dir, { recursive: true });
const files = Array.from({ length: count }, (_, i) => path.join(dir, `f${i}.bin`));
for (const f of files) if (!existsSync(f)) writeFileSync(f, randomBytes(kib * 1024));

process.env.S3MP_SERVER_BIN = path.join(root, 'target/release/s3-multipart-server');
const server = await startServer([], { wwwDir: path.join(root, 'bench/dist') });
try {
  for (const c of contenders) {
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage();
      await page.goto(`${server.api}/${c}.html`);
      await page.evaluate(() => {
        window.counted = {};
        const counted = [
          [window, 'setTimeout'], [window, 'clearTimeout'], [window, 'queueMicrotask'], [window, 'fetch'],
          [AbortController.prototype, 'abort'], [EventTarget.prototype, 'addEventListener'],
          [EventTarget.prototype, 'removeEventListener'], [URL, 'createObjectURL'], [Blob.prototype, 'slice'],
        ];
        for (const [obj, name] of counted) {
          const real = obj[name];
          obj[name] = function (...args) {
            const caller = (new Error().stack.split('\n')[2] || '').trim().replace(/^at /, '').replace(/\(?https?:\/\/[^/]+\//, '(').replace(/\)$/, '');
            const k = `${name} ${caller}`;
            window.counted[k] = (window.counted[k] || 0) + 1;
            return real.apply(this, args);
          };
        }
      });
      await page.setInputFiles('#file', files);
      const out = await page.evaluate(async ({ api }) => {
        const input = document.getElementById('file');
        await window.benchUploadMany(Array.from(input.files), { api, key: `calls/${Math.random().toString(36).slice(2)}` });
        return window.counted;
      }, { api: server.api });
      const total = (name) => Object.entries(out).filter(([k]) => k.startsWith(`${name} `)).reduce((s, [, v]) => s + v, 0);
      console.log(`${c}: ${count} files of ${kib} KiB: setTimeout ${total('setTimeout')} (${(total('setTimeout') / count).toFixed(1)} per file), clearTimeout ${total('clearTimeout')}, queueMicrotask ${total('queueMicrotask')}`);
      for (const [k, v] of Object.entries(out).sort((a, b) => b[1] - a[1]).slice(0, Number(arg('top', '8')))) console.log(`  ${v} ${k}`);
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.stop();
}
