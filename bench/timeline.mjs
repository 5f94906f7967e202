// Where the time of one upload goes: every request a contender makes (backend
// calls, part PUTs, complete), with its start and end in ms after the timed
// call began, in headless Chromium against the embedded store (loopback).
// Needs the bench built first (`npm run bench` builds bench/dist and the
// release server).
//
//   node bench/timeline.mjs [--contenders ours,raw,uppy5] [--runs 2] [--size 64]
//     [--scenario far|far-tcp|home] [--defaults] [--files N]
//
// `--scenario` puts the page, the API and the store behind one of
// bench/run.mjs's emulated paths (LINKS); a contender may name its plan as
// the benchmark does (`raw-ahead@6x16`, `ours@defaults`: bench/plan.mjs);
// `--defaults` gives this client's pages without one no part size and no
// concurrency (it then picks its own; the other contenders keep the
// benchmark's 4 × 8 MiB). Each
// upload's line ends with its part PUTs' sizes (those sent by XMLHttpRequest)
// (MiB, in the order they started). `--files N` hands the page N copies of
// the file at once (its `benchUploadMany`, each file its own object); a
// PUT's line then names its file (`PUT#3`).
import path from 'node:path';
import { launchBrowser, RECORD_PUTS, root, startLinkStack, startServer } from '../tests/e2e/helpers.mjs';
import { planOf } from './plan.mjs';
import { benchFile, LINKS } from './run.mjs';

const argv = process.argv.slice(2);
const arg = (name, dflt) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : dflt);
const contenders = arg('contenders', 'ours,ours-noresume,raw,uppy5').split(',');
const runs = Number(arg('runs', '2'));
const size = Number(arg('size', '64'));
const file = benchFile(size);
const scenario = arg('scenario', null);
const defaults = argv.includes('--defaults');
const files = Number(arg('files', '1'));
if (scenario && !LINKS[scenario]) throw new Error(`--scenario: no path ${scenario}; there are ${Object.keys(LINKS).join(', ')}`);

process.env.S3MP_SERVER_BIN = path.join(root, 'target/release/s3-multipart-server');
const wwwDir = path.join(root, 'bench/dist');
const server = scenario
  ? await startLinkStack(LINKS[scenario], { bin: path.join(root, 'target/release/link-emu'), wwwDir })
  : await startServer([], { wwwDir });
const site = server.page ?? server.api;
try {
  for (let run = 0; run < runs; run++) {
    for (const c of contenders) {
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage();
        await page.addInitScript(RECORD_PUTS);
        // `--defaults`: this client's pages that name no plan take `@defaults`;
        // the others (raw loops, peers) keep the benchmark's.
        const plan = planOf(defaults && !c.includes('@') && c.startsWith('ours') ? `${c}@defaults` : c);
        await page.goto(`${site}/${plan.page}.html`);
        await page.setInputFiles('#file', Array(files).fill(file));
        await page.waitForTimeout(500);
        const events = await page.evaluate(async ({ key, partSize, concurrency, many }) => {
          const ev = [];
          const t0 = performance.now();
          const now = () => Math.round(performance.now() - t0);
          // A PUT of many files' upload names its file (the key's last segment).
          const fileOf = (url) => (many ? `#${/\/(\d+)\?/.exec(String(url))?.[1] ?? '?'}` : '');
          const name = (method, url) => (method === 'PUT' ? `PUT${fileOf(url)}` : String(url).split('/').pop().split('?')[0]);
          const realFetch = window.fetch;
          window.fetch = function (u, o) {
            const what = name(o?.method ?? u?.method, u?.url ?? u);
            const s = now();
            const p = realFetch.call(this, u, o);
            p.then(() => ev.push([s, `${what} ${s}-${now()}`]), () => ev.push([s, `${what} ${s}-failed`]));
            return p;
          };
          const open = XMLHttpRequest.prototype.open;
          XMLHttpRequest.prototype.open = function (m, u, ...a) {
            const s = now();
            this.addEventListener('loadend', () => ev.push([s, `xhr ${name(m, u)} ${s}-${now()}`]));
            return open.call(this, m, u, ...a);
          };
          const opts = { api: location.origin, key, partSize, concurrency };
          const chosen = [...document.getElementById('file').files];
          await (many ? window.benchUploadMany(chosen, opts) : window.benchUpload(chosen[0], opts));
          return [...ev.sort((a, b) => a[0] - b[0]).map((e) => e[1]), `done ${now()}`, `PUT sizes ${window.puts.map(([, bytes]) => +(bytes / 1048576).toFixed(1)).join(' ')}`];
        }, { key: `bench/timeline-${plan.page}-${run}`, partSize: plan.partSize, concurrency: plan.concurrency, many: files > 1 });
        console.log(`${c}: ${events.join(' | ')}`);
      } finally {
        await browser.close();
      }
    }
  }
} finally {
  await server.stop();
}
