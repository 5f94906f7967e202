// The benchmark's pages driven over classic WebDriver (selenium-webdriver):
// Firefox ESR through geckodriver (Playwright cannot open a page in Firefox
// ESR over BiDi), or Chromium through ChromeDriver (which, unlike
// Playwright, does not follow every request's network events: that work
// costs the bench's own process CPU beside the browser on a small machine).
// Loopback, or with --link far|far-tcp|home the page, its backend and the
// store each behind link-emu as in bench/run.mjs: each contender uploads
// the same file (or files) in turn, interleaved, in a fresh browser per
// run; MB/s from the page's own clock,
// and the stored size checked. The bundles are bench/dist's (node
// bench/run.mjs builds them; or npx webpack --config bench/webpack.config.js).
//
//   node bench/webdriver.mjs [--browser firefox|chromium] [--link far] [--runs 3] [--sizes 256] [--workloads 500x100KiB] [--contenders ours@defaults,ours-nochecksum@defaults,raw-ahead-xhr,uppy5] [--out file.json]
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Builder } from 'selenium-webdriver';
import chrome from 'selenium-webdriver/chrome.js';
import { CHROMIUM_ARGS, MIB, objectSize, randomFile, root, startLinkStack, startServer } from '../tests/e2e/helpers.mjs';
import { launchFirefox } from '../tests/e2e-firefox/launch.mjs';
import { PATHS } from './links.mjs';
import { planOf } from './plan.mjs';
import { bootstrapRatio, median } from './table.mjs';

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const RUNS = Number(arg('runs', '3'));
const SIZES = arg('sizes', '256').split(',').filter(Boolean).map(Number);
const WORKLOADS = arg('workloads', '').split(',').filter(Boolean);
const CONTENDERS = arg('contenders', 'ours@defaults,ours-nochecksum@defaults,raw-ahead-xhr,uppy5').split(',');
const OUT = arg('out', null);
const BROWSER = arg('browser', 'firefox');
if (!['firefox', 'chromium'].includes(BROWSER)) throw new Error(`--browser: firefox or chromium (not ${BROWSER})`);

/** A fresh headless Chromium over ChromeDriver, with the flags the other tests give it. */
function launchChromium() {
  const options = new chrome.Options().setChromeBinaryPath(process.env.CHROMIUM || '/usr/bin/chromium').addArguments(...CHROMIUM_ARGS);
  return new Builder().forBrowser('chrome').setChromeOptions(options)
    .setChromeService(new chrome.ServiceBuilder(process.env.CHROMEDRIVER || '/usr/bin/chromedriver')).build();
}

/** One upload (or one batch of files) by `contender`: seconds, from the page's clock. */
async function measure(stack, contender, job, run) {
  const driver = await (BROWSER === 'firefox' ? launchFirefox() : launchChromium());
  try {
    const { page, partSize, concurrency } = planOf(contender);
    await driver.get(`${stack.page ?? stack.api}/${page}.html`);
    // The bundle defines its entry points once its code (WASM included) is ready.
    await driver.wait(() => driver.executeScript('return typeof window.benchUpload === "function"'), 30_000, `${page}: window.benchUpload`);
    const input = await driver.findElement({ css: '#file' });
    await input.sendKeys(job.paths.join('\n'));
    const key = `bench/wd-${BROWSER}-${contender}-${job.name}-${run}`;
    const opts = { api: stack.page ?? stack.api, s3: stack.s3, bucket: 'uploads', key, partSize, concurrency };
    await driver.manage().setTimeouts({ script: 15 * 60_000 });
    const r = await driver.executeAsyncScript(`
      const [o, many, done] = arguments;
      const files = Array.from(document.getElementById('file').files);
      const t0 = performance.now();
      (many ? window.benchUploadMany(files, o) : window.benchUpload(files[0], o))
        .then(() => done({ ms: performance.now() - t0 }), (e) => done({ error: String(e && e.message || e) }));`, opts, job.paths.length > 1);
    if (r.error) throw new Error(`${contender}: ${r.error}`);
    const keys = job.paths.length > 1 ? job.paths.map((_, i) => `${key}/${i}`) : [key];
    for (const k of keys) {
      const size = await objectSize(stack.api, k);
      if (size !== job.bytes / job.paths.length) throw new Error(`${contender}: ${k} stored ${size} bytes of ${job.bytes / job.paths.length}`);
    }
    return r.ms / 1000;
  } finally {
    await driver.quit();
  }
}

const jobs = [];
for (const size of SIZES) {
  const f = randomFile(`wd-${size}.bin`, size * MIB);
  jobs.push({ name: `${size}MiB`, paths: [f.file], bytes: size * MIB, cleanup: f.cleanup });
}
for (const w of WORKLOADS) {
  const m = /^(\d+)x(\d+)(KiB|MiB)$/.exec(w);
  if (!m) throw new Error(`--workloads: COUNTxSIZE, like 500x100KiB (not ${w})`);
  const each = Number(m[2]) * (m[3] === 'KiB' ? 1024 : MIB);
  const files = Array.from({ length: Number(m[1]) }, (_, i) => randomFile(`wd-${w}-${i}.bin`, each));
  jobs.push({ name: w, paths: files.map((f) => f.file), bytes: each * files.length, cleanup: () => files.forEach((f) => f.cleanup()) });
}

process.env.S3MP_SERVER_BIN ||= path.join(root, 'target/release/s3-multipart-server');
const LINK = arg('link', null);
let stack;
if (LINK) {
  if (!PATHS[LINK]) throw new Error(`--link: no path ${LINK}; there are ${Object.keys(PATHS).join(', ')}`);
  stack = await startLinkStack(PATHS[LINK], { bin: path.join(root, 'target/release/link-emu'), wwwDir: path.join(root, 'bench/dist') });
} else {
  stack = await startServer([], { wwwDir: path.join(root, 'bench/dist') });
}
const samples = [];
try {
  for (const job of jobs) {
    for (let run = 0; run < RUNS; run++) {
      const order = CONTENDERS.map((_, i) => CONTENDERS[(i + run) % CONTENDERS.length]);
      for (const c of order) {
        const secs = await measure(stack, c, job, run);
        const mbps = job.bytes / 1e6 / secs;
        samples.push({ workload: job.name, contender: c, run, secs, mbps });
        console.log(`${BROWSER} ${job.name} run ${run + 1} ${c}: ${mbps.toFixed(1)} MB/s (${secs.toFixed(2)} s)`);
      }
    }
  }
} finally {
  await stack.stop();
  for (const job of jobs) job.cleanup();
}

const rows = [];
for (const job of jobs) {
  const of = (c) => samples.filter((s) => s.workload === job.name && s.contender === c).map((s) => s.mbps);
  for (const c of CONTENDERS) {
    const v = of(c);
    rows.push({ workload: job.name, contender: c, runs: v.length, mbps: median(v), min: Math.min(...v), max: Math.max(...v),
      ratioToFirst: median(v) / median(of(CONTENDERS[0])), ratioToFirstCI95: bootstrapRatio(v, of(CONTENDERS[0])) });
  }
}
console.log(`\n| workload | contender | runs | MB/s median (range) | × ${CONTENDERS[0]} [95 % CI] |\n|---|---|---|---|---|`);
for (const r of rows) console.log(`| ${r.workload} | ${r.contender} | ${r.runs} | ${r.mbps.toFixed(1)} (${r.min.toFixed(1)}–${r.max.toFixed(1)}) | ${r.ratioToFirst.toFixed(2)}${r.ratioToFirstCI95 ? ` [${r.ratioToFirstCI95.map((x) => x.toFixed(2)).join('–')}]` : ''} |`);
if (OUT) writeFileSync(OUT, `${JSON.stringify({ date: new Date().toISOString(), browser: BROWSER, rows, samples }, null, 2)}\n`);
