// Side-by-side benchmark: this client, Uppy's @uppy/aws-s3 (6.x and 5.x, hooks
// calling the reference backend), AWS lib-storage's Upload (signing in the
// browser), and the raw ceiling (presign + fetch PUT of Blob slices), in
// headless Chromium against the reference server's embedded store.
//
//   node bench/run.mjs [--runs 3] [--small-runs 7] [--sizes 64,1024] [--big] [--scenarios loopback,wan] [--contenders ours,raw,...] [--gc] [--out file.json]
//   node bench/run.mjs --scenarios home,far --sizes 64 (emulated paths: LINKS below)
//   node bench/run.mjs --sizes '' --workloads small500,medium50,big4 --contenders ours,raw,raw-ahead,uppy5 --out w.json
//   node bench/run.mjs --scenarios cold [--cold-runs 9] [--contenders ours,ours-worker,uppy5] --out bench/results-cold.json
//   node bench/run.mjs --scenarios loopback,home,far --sizes 64 --sweep --contenders ours,raw,uppy5 --out s.json
//   node bench/run.mjs --sizes 1024 --cpu-throttle 4 --contenders ours,uppy5 --out t.json
//   node bench/run.mjs --sizes 1024 --profile [--profile-top 40] --contenders ours,ours-nochecksum (long tasks, where from)
//   A/B against an earlier build: build it (scripts/build.sh in a checkout of
//   it), copy its pkg/ to pkg-prev/ here, then --contenders ours,ours-prev,...
//
// A contender may carry its own plan: `raw-ahead@6x16` is the loop signing
// ahead with 6 streams and 16 MiB parts (its page, with those options);
// `ours@auto` is this client with no concurrency given (the adaptive window).
// --sweep: before the runs of each scenario, the loop signing ahead is run
// with every plan of SWEEP_PLANS (--sweep-runs each, on the first size); the
// best plan by median becomes the ceiling (`raw-best`) of that scenario's runs.
// --cpu-throttle N: the page's CPU throttled N times (CDP) in every run.
// --link 'ARGS': a scenario `custom`, the path link-emu makes with ARGS
//   (e.g. --link '--rtt-ms 100 --up-link-mbit 50 --window-kib 2048').
// --workloads also takes COUNTxSIZE (e.g. 20x3MiB, 1000x10KiB): that many
//   files of that size; several joined by + (30x1MiB+4x24MiB) are chosen
//   at once, in that order.
//
// The cold scenario: a fresh browser (empty cache) with its CPU throttled 4x
// (CDP) opens a page that starts a 16 MiB upload as soon as the contender's
// code is ready; measured: navigation to the first part's PUT, and to the
// end of the upload.
//
// Writes bench/results.json (or --out) and prints its table (bench/table.mjs,
// from which BENCHMARKS.md is written). Every figure is the median of the
// runs; contenders are interleaved (each run visits all of them, in an order
// that rotates from run to run).
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { launchBrowser, MIB, objectSize, processChildren, processWith, root, startLinkStack, startRelay, startServer, startServerBehind } from '../tests/e2e/helpers.mjs';
import { PATHS } from './links.mjs';
import { CONCURRENCY, PART_SIZE, planOf } from './plan.mjs';
import { bootstrapRatio, median, table } from './table.mjs';

const argv = process.argv.slice(2);
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const RUNS = Number(arg('runs', '3'));
// Uploads of 256 MiB or less last well under a second on loopback, where
// fixed costs and the machine's noise weigh most: more runs, as they are cheap.
const SMALL_RUNS = Number(arg('small-runs', String(Math.max(RUNS, 7))));
const runsFor = (size) => (size <= 256 ? SMALL_RUNS : RUNS);
const SIZES = arg('sizes', '64,1024').split(',').filter(Boolean).map(Number).concat(argv.includes('--big') ? [4096] : []);
const SCENARIOS = arg('scenarios', 'loopback,wan').split(',');
const MEM_TRACE = argv.includes('--mem-trace');
const WORKLOAD_NAMES = arg('workloads', '').split(',').filter(Boolean);
// The contenders whose pages upload many files (window.benchUploadMany).
const MANY = ['ours', 'ours-prev', 'ours-nobatch', 'ours-nochecksum', 'ours-prev-nochecksum', 'ours@auto', 'raw', 'raw-xhr', 'x-slice', 'raw-ahead', 'raw-ahead-xhr', 'uppy5', 'x-buf', 'x-sync', 'x-pagehash'];
const CONTENDERS = arg('contenders', 'ours,ours-worker,ours-nochecksum,raw,raw-xhr,uppy6,uppy5,libstorage,libstorage-crc').split(',');
const OUT = arg('out', null);
// With --gc, every page runs a full garbage collection every second: memory
// then shows what is live, not the browser's garbage waiting for a collection.
const FORCE_GC = argv.includes('--gc');
// --profile: the page's main thread is sampled (CDP, 0.2 ms) during each run,
// and each stretch of 50 ms or more without an idle sample is printed with
// the functions it spent most of its time in (where a long task came from).
const PROFILE = argv.includes('--profile');
const COLD_RUNS = Number(arg('cold-runs', '9'));
// --cold-trace: print each cold run's requests as the page saw them, and
// write its Chromium trace to /tmp/cold-CONTENDER-RUN.trace.json (with
// S3MP_CPU_PROFILE=1, the V8 sampling profiler's chunks too: which
// functions the page's thread ran, e.g. while the bundle is evaluated).
const COLD_TRACE = argv.includes('--cold-trace');
const SWEEP = argv.includes('--sweep');
const SWEEP_RUNS = Number(arg('sweep-runs', '3'));
// Streams x part size (MiB) tried by --sweep. Chromium opens at most 6
// HTTP/1.1 connections per host: more streams would only queue.
export const SWEEP_PLANS = ['2x8', '4x8', '6x8', '4x16', '6x16', '4x32', '6x32'];
const CPU_THROTTLE = Number(arg('cpu-throttle', '1'));
const COLD_BYTES = 16 * MIB;
const NAMES = {
  ours: 's3-multipart-wasm (this)',
  'ours-prev': 's3-multipart-wasm, an earlier build (pkg-prev/)',
  'ours-prev-nochecksum': 's3-multipart-wasm, an earlier build (pkg-prev/), `checksum: \'none\'`',
  'ours-noresume': 's3-multipart-wasm, resume journal off',
  'ours-nobatch': 's3-multipart-wasm, a backend without batched signing (one call per part)',
  'ours-nochecksum': "s3-multipart-wasm, checksum: 'none'",
  'ours-worker': 's3-multipart-wasm, web build (hashing in a Worker)',
  raw: 'raw ceiling (fetch PUT loop)',
  'raw-ahead': 'raw loop signing ahead (the stronger ceiling)',
  'raw-ahead-xhr': 'raw loop signing ahead, PUTs by XHR',
  'x-mem': 'experiment: the loop signing ahead, each part read into memory and PUT from it',
  'x-slice': 'experiment: the XHR loop, each body a slice of the File (as this client sends it) rather than the File',
  'x-buf': 'experiment: the XHR loop signing ahead, each small file read once in a Worker and its bytes sent',
  'x-sync': 'experiment: the XHR loop signing ahead, each small file read once in a Worker, then sent as the File',
  'x-lazy': 'experiment: this client imported lazily (its chunk loads while the page runs)',
  'x-read2': 'experiment: the loop signing ahead, each part read once in a Worker before its PUT (no hash)',
  'x-pagehash': 'experiment: this client without its hashing Worker (every part hashed on the page)',
  'raw-xhr': 'raw loop on XHR, with upload progress',
  uppy6: '@uppy/aws-s3 6.3.1 (signs in the browser)',
  uppy5: '@uppy/aws-s3 5.1.0 (hooks to the backend)',
  libstorage: '@aws-sdk/lib-storage 3.1173.0',
  'libstorage-crc': '@aws-sdk/lib-storage 3.1173.0, CRC32 checksums on',
};
const nameOf = (c) => {
  const { page, concurrency, partSize } = planOf(c);
  if (c.endsWith('@auto')) return `${NAMES[page]}, adaptive concurrency`;
  if (c.endsWith('@defaults')) return `${NAMES[page]}, default options (part size and concurrency adaptive)`;
  if (/@max\d+$/.test(c)) return `${NAMES[page]}, adaptive, parts of up to ${partSize.max / MIB} MiB`;
  const streams = concurrency === undefined ? 'adaptive streams' : `${concurrency} streams`;
  const parts = partSize === undefined ? 'adaptive parts' : `${partSize / MIB} MiB parts`;
  return c.includes('@') ? `${NAMES[page]}, ${streams} of ${parts}` : NAMES[c];
};
const ACCESS_KEY = 's3mp-local-access-key';
const SECRET_KEY = 's3mp-local-secret-key';


/** A file of `mib` MiB of random bytes, made once and kept for later runs. */
export function benchFile(mib) {
  const dir = path.join(tmpdir(), 's3mp-bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `file-${mib}.bin`);
  if (existsSync(file) && statSync(file).size === mib * MIB) return file;
  const fd = openSync(file, 'w');
  const buf = Buffer.alloc(16 * MIB);
  for (let left = mib * MIB; left > 0; left -= buf.length) {
    randomFillSync(buf);
    writeSync(fd, buf, 0, Math.min(buf.length, left));
  }
  closeSync(fd);
  return file;
}

/** CPU seconds (utime + stime, in clock ticks of 1/100 s) process `pid` has used; 0 when it is gone or unknown. */
function processCpu(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/**
 * From /proc, for the browser whose process is `pid`: resident memory (bytes)
 * of its renderer processes, `rss` in all and its parts `anon` (heaps, WASM
 * memory) and `shmem` (shared memory: IPC buffers); and CPU seconds so far,
 * of the renderers and of the whole browser.
 */
function browserStats(pid) {
  const children = processChildren();
  const total = { rss: 0, anon: 0, shmem: 0, allRss: 0, rendererCpu: 0, browserCpu: 0, mainWaitMs: 0 };
  const field = (status, name) => Number((status.match(new RegExp(`${name}:\\s+(\\d+) kB`)) || [0, 0])[1]) * 1024;
  try {
    total.browserCpu += processCpu(pid);
    total.allRss += field(readFileSync(`/proc/${pid}/status`, 'utf8'), 'VmRSS');
  } catch { /* gone */ }
  const walk = (p) => {
    for (const c of children.get(p) || []) {
      try {
        const cCpu = processCpu(c);
        total.browserCpu += cCpu;
        const status = readFileSync(`/proc/${c}/status`, 'utf8');
        // Every process of the browser: renderers, the network service (which
        // buffers Blob bodies), the GPU and utility processes.
        total.allRss += field(status, 'VmRSS');
        if (readFileSync(`/proc/${c}/cmdline`, 'utf8').includes('--type=renderer')) {
          total.rendererCpu += cCpu;
          total.rss += field(status, 'VmRSS');
          total.anon += field(status, 'RssAnon');
          total.shmem += field(status, 'RssShmem');
          // The renderer's main thread: time it was ready to run but waited
          // for a core (schedstat's second field, ns).
          total.mainWaitMs += Number(readFileSync(`/proc/${c}/schedstat`, 'utf8').split(' ')[1]) / 1e6;
        }
      } catch { /* gone */ }
      walk(c);
    }
  };
  walk(pid);
  return total;
}

export function gzippedBundle(contender) {
  const dist = path.join(root, 'bench/dist');
  const html = readFileSync(path.join(dist, `${contender}.html`), 'utf8');
  // The HTML is minified: attribute quotes may be gone.
  const scripts = [...html.matchAll(/src="?([^" >]+\.js)/g)].map((m) => m[1]);
  let bytes = 0;
  for (const s of scripts) bytes += gzipSync(readFileSync(path.join(dist, s)), { level: 9 }).length;
  // The WASM modules its scripts load (each contender's own, by name).
  const code = scripts.map((s) => readFileSync(path.join(dist, s), 'utf8')).join('\n');
  for (const f of readdirSync(dist).filter((f) => f.endsWith('.wasm') && code.includes(f.replace(/\.module\.wasm$|\.wasm$/, '')))) {
    bytes += gzipSync(readFileSync(path.join(dist, f)), { level: 9 }).length;
  }
  return bytes;
}

function startProxy(upstream, extra) {
  return startRelay(path.join(root, 'target/release/fault-proxy'), upstream, ['--match-method', 'NONE', ...extra]);
}

/**
 * Network paths emulated by link-emu (a TCP relay: fault-proxy/src/link.rs)
 * in front of the store and of the API: round trip, jitter, the shared
 * uplink and downlink, each connection's window.
 */
export const LINKS = {
  ...(arg('link', null) ? { custom: arg('link', null).split(/\s+/).filter(Boolean) } : {}),
  ...PATHS,
};

/** The reference server (release build) and, for the WAN scenario, proxies in front of its API and store. */
async function startStack(scenario) {
  process.env.S3MP_SERVER_BIN = path.join(root, 'target/release/s3-multipart-server');
  if (LINKS[scenario]) {
    // The page, the API and the store all behind the same kind of path.
    const stack = await startLinkStack(LINKS[scenario], { bin: path.join(root, 'target/release/link-emu'), wwwDir: path.join(root, 'bench/dist') });
    return { ...stack, s3url: stack.front, stopAll: () => stack.stop() };
  }
  if (scenario === 'loopback') {
    const server = await startServer([], { wwwDir: path.join(root, 'bench/dist') });
    return { ...server, page: server.api, s3url: server.s3, stopAll: () => server.stop() };
  }
  if (scenario !== 'wan') throw new Error(`--scenarios: no scenario ${scenario}; there are loopback, wan, cold, ${Object.keys(LINKS).join(', ')} (custom with --link)`);
  // WAN: 40 ms added to every request (API and store), store traffic capped at 200 Mbit/s.
  const { front, stopFront, server } = await startServerBehind((up) => startProxy(up, ['--latency-ms', '40', '--bandwidth-mbit', '200']), [],
    { wwwDir: path.join(root, 'bench/dist') });
  const apiProxy = await startProxy(server.api, ['--latency-ms', '40']);
  return {
    ...server,
    page: apiProxy.url,
    s3url: front,
    stopAll: async () => { await apiProxy.stop(); await stopFront(); await server.stop(); },
  };
}

/**
 * Deletes stored objects through the store's S3 API (DeleteObject, signed by
 * the AWS SDK that lib-storage brings), so that a long run does not fill the
 * disk: the store's files are its own business.
 */
async function deleteObjects(stack, keys) {
  const { createRequire } = await import('node:module');
  const require = createRequire(path.join(root, 'bench/contenders/libstorage/package.json'));
  const { S3Client, DeleteObjectCommand } = require('@aws-sdk/client-s3');
  const s3 = new S3Client({
    endpoint: stack.s3, region: 'us-east-1', forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
  });
  for (const Key of keys) await s3.send(new DeleteObjectCommand({ Bucket: 'uploads', Key }));
  s3.destroy();
}

/** The pid of the browser process started with `marker` among its arguments. */
function browserPid(marker) {
  const pid = processWith(marker);
  if (pid === null) throw new Error('browser process not found');
  return pid;
}

/**
 * Workloads of many files (`--workloads small500,medium50,big4`): each file
 * is its own object; the contenders that upload many files
 * (`window.benchUploadMany`) take them all at once.
 */
export const WORKLOADS = {
  small500: { count: 500, bytes: 100 * 1024 },
  medium50: { count: 50, bytes: 6 * MIB },
  big4: { count: 4, bytes: 256 * MIB },
};

/**
 * A named workload, or one written COUNTxSIZE (`20x3MiB`, `1000x10KiB`,
 * `2x1GiB`), or several of those joined by `+` (`30x1MiB+4x24MiB`: files of
 * both kinds chosen at once, in that order). Its `sizes`: each file's bytes.
 */
export function workloadOf(name) {
  const sizes = name.split('+').flatMap((one) => {
    const named = WORKLOADS[one];
    const m = /^(\d+)x(\d+)(KiB|MiB|GiB)$/.exec(one);
    if (!named && !m) throw new Error(`--workloads: no workload ${one}; there are ${Object.keys(WORKLOADS).join(', ')}, or COUNTxSIZE like 20x3MiB, joined by + for a mix`);
    const { count, bytes } = named ?? { count: Number(m[1]), bytes: Number(m[2]) * { KiB: 1024, MiB: MIB, GiB: 1024 * MIB }[m[3]] };
    return Array(count).fill(bytes);
  });
  return { count: sizes.length, sizes, total: sizes.reduce((a, b) => a + b, 0) };
}

/** The workload's files of random bytes, made once and kept. */
function benchFiles(name, { sizes }) {
  const dir = path.join(tmpdir(), 's3mp-bench', name);
  mkdirSync(dir, { recursive: true });
  const buf = Buffer.alloc(Math.min(Math.max(...sizes), 16 * MIB));
  const files = [];
  for (const [i, bytes] of sizes.entries()) {
    const file = path.join(dir, `${i}.bin`);
    if (!(existsSync(file) && statSync(file).size === bytes)) {
      const fd = openSync(file, 'w');
      for (let left = bytes; left > 0; left -= buf.length) {
        randomFillSync(buf);
        writeSync(fd, buf, 0, Math.min(buf.length, left));
      }
      closeSync(fd);
    }
    files.push(file);
  }
  return files;
}

/** Stretches of 50 ms or more of a CPU profile with no idle sample, each with its top functions by self time. */
function busyStretches(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const name = (n) => `${n.callFrame.functionName || '(anonymous)'}@${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}`;
  const out = [];
  let t = profile.startTime;
  let start = null;
  let self = new Map();
  const close = (end) => {
    if (start !== null && end - start >= 50_000) {
      const top = [...self].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([f, us]) => `${f} ${(us / 1000).toFixed(1)} ms`);
      out.push({ ms: Math.round((end - start) / 1000), top });
    }
    start = null;
    self = new Map();
  };
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i];
    t += dt;
    const n = byId.get(id);
    const fn = n.callFrame.functionName;
    if (fn === '(idle)' || fn === '(program)') return close(t);
    if (start === null) start = t - dt;
    self.set(name(n), (self.get(name(n)) ?? 0) + dt);
  });
  close(t);
  return out;
}

/**
 * The functions of a CPU profile with the most self time over the whole run
 * (idle left out), top 15 (`--profile-top N`), after the time by script
 * (each script's functions summed: the page's bundle, the WASM module, the
 * browser's own).
 */
const PROFILE_TOP = Number(arg('profile-top', '15'));
function selfTimes(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const byScript = new Map();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const n = byId.get(id);
    if (n.callFrame.functionName === '(idle)') return;
    const script = n.callFrame.url.split('/').pop() || `(browser: ${n.callFrame.functionName})`;
    const f = `${n.callFrame.functionName || '(anonymous)'}@${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}:${n.callFrame.columnNumber + 1}`;
    self.set(f, (self.get(f) ?? 0) + profile.timeDeltas[i]);
    byScript.set(script, (byScript.get(script) ?? 0) + profile.timeDeltas[i]);
    busy += profile.timeDeltas[i];
  });
  const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([f, us]) => `${f} ${(us / 1000).toFixed(1)} ms`);
  return [`busy ${(busy / 1000).toFixed(0)} ms`, `by script: ${top(byScript, 8).join(', ')}`, ...top(self, PROFILE_TOP)];
}

/** A run's CPU seconds by party, and how busy that kept the machine's cores. */
const cpuText = (s) => `CPU s: browser ${s.browserCpuS.toFixed(2)}, server ${s.serverCpuS.toFixed(2)}, harness ${s.harnessCpuS.toFixed(2)}: ${(s.machineBusy * 100).toFixed(0)} % of ${availableParallelism()} cores busy`;

/** Prints where a run's long tasks came from: --profile's busy stretches, and the long frames' scripts. */
function printLongTasks(s) {
  for (const b of s.busy ?? []) console.log(`  busy ${b.ms} ms: ${b.top.join('; ')}`);
  for (const f of s.longFrames ?? []) console.log(`  long frame ${f.ms} ms (blocking ${f.blockingMs}): ${f.scripts.join('; ') || 'no script over 5 ms'}`);
}

async function measure(stack, contender, file, size, run, many = null) {
  const marker = `--s3mp-bench=${process.pid}-${Date.now()}`;
  const browser = await launchBrowser([marker, ...(FORCE_GC ? ['--js-flags=--expose-gc'] : [])]);
  const pid = browserPid(marker);
  try {
    const page = await browser.newPage();
    const plan = planOf(contender);
    await page.goto(`${stack.page}/${plan.page}.html`);
    await page.evaluate(() => {
      window.longTasks = [];
      new PerformanceObserver((l) => window.longTasks.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask', buffered: true });
      // Where long frames' time went (Chromium's Long Animation Frames):
      // each frame over 50 ms with its blocking time and its longest scripts.
      window.longFrames = [];
      try {
        new PerformanceObserver((l) => window.longFrames.push(...l.getEntries().filter((e) => e.blockingDuration > 0).map((e) => ({
          ms: Math.round(e.duration), blockingMs: Math.round(e.blockingDuration),
          scripts: e.scripts.filter((s) => s.duration >= 5).map((s) => `${s.invoker || s.invokerType} ${(s.sourceFunctionName || '')}@${(s.sourceURL || '').split('/').pop()} ${Math.round(s.duration)} ms`),
        })))).observe({ type: 'long-animation-frame', buffered: true });
      } catch (e) { /* not Chromium */ }
    });
    if (FORCE_GC) await page.evaluate(() => { setInterval(() => window.gc(), 1000); });
    await page.waitForTimeout(1000);
    // The page's JS heap (V8), from CDP: what the renderer's RSS holds for JS objects.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Performance.enable');
    const jsHeap = async () => {
      const { metrics } = await cdp.send('Performance.getMetrics');
      return metrics.find((m) => m.name === 'JSHeapTotalSize')?.value ?? 0;
    };
    const idleSamples = [];
    for (let i = 0; i < 5; i++) { idleSamples.push(browserStats(pid)); await page.waitForTimeout(100); }
    const idleOf = (k) => median(idleSamples.map((x) => x[k]));
    const idle = { rss: idleOf('rss'), anon: idleOf('anon'), shmem: idleOf('shmem'), allRss: idleOf('allRss'), heap: await jsHeap() };
    if (CPU_THROTTLE > 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: CPU_THROTTLE });
    let backendCalls = 0;
    page.on('request', (r) => { if (r.url().startsWith(stack.page) && r.url().includes('/uploads/')) backendCalls += 1; });
    await page.setInputFiles('#file', many ? many.files : file);
    await page.evaluate(() => {
      window.longTasks = [];
      window.longFrames = [];
      // Every request's timing, to count the PUTs in flight at once.
      performance.setResourceTimingBufferSize(100000);
      performance.clearResourceTimings();
      // Main-thread lag: how late a 16 ms timer fires while the upload runs.
      window.lags = [];
      let last = performance.now();
      window.lagTimer = setInterval(() => { const now = performance.now(); window.lags.push(Math.max(0, now - last - 16)); last = now; }, 16);
    });
    const peak = { ...idle };
    const traceStart = performance.now();
    let traced = 0;
    const sample = () => {
      const m = browserStats(pid);
      for (const k of ['rss', 'anon', 'shmem', 'allRss']) peak[k] = Math.max(peak[k], m[k]);
      // --mem-trace: the renderer's memory above idle and its Workers, each second.
      if (MEM_TRACE && performance.now() - traced >= 1000) {
        traced = performance.now();
        console.log(`  mem ${((traced - traceStart) / 1000).toFixed(1)} s: renderer +${((m.rss - idle.rss) / MIB).toFixed(1)} MiB (anon +${((m.anon - idle.anon) / MIB).toFixed(1)}), ${page.workers().length} Workers`);
      }
    };
    let heapBusy = false;
    const sampler = setInterval(() => {
      sample();
      if (!heapBusy) {
        heapBusy = true;
        jsHeap().then((h) => { peak.heap = Math.max(peak.heap, h); }, () => {}).finally(() => { heapBusy = false; });
      }
    }, 100);
    const key = many ? `bench/${contender}-${many.name}-${run}` : `bench/${contender}-${size}-${run}.bin`;
    const opts = { api: stack.page, s3: stack.s3url, bucket: 'uploads', accessKey: ACCESS_KEY, secretKey: SECRET_KEY, key, partSize: plan.partSize, concurrency: plan.concurrency };
    if (PROFILE) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.setSamplingInterval', { interval: 200 });
      await cdp.send('Profiler.start');
    }
    const cpu0 = browserStats(pid);
    const server0 = processCpu(stack.pid);
    const harness0 = process.cpuUsage();
    const t0 = performance.now();
    // A run that stalls fails after 15 minutes (a stalled run once held the
    // whole benchmark), instead of waiting for ever.
    let stalled;
    await Promise.race([
      many
        ? page.evaluate((o) => window.benchUploadMany(Array.from(document.getElementById('file').files), o), opts)
        : page.evaluate((o) => window.benchUpload(document.getElementById('file').files[0], o), opts),
      new Promise((_, reject) => { stalled = setTimeout(() => reject(new Error(`${contender}: no end after 15 minutes`)), 15 * 60_000); }),
    ]).finally(() => clearTimeout(stalled));
    const secs = (performance.now() - t0) / 1000;
    const profile = PROFILE ? (await cdp.send('Profiler.stop')).profile : null;
    const busy = profile ? busyStretches(profile) : [];
    if (profile) console.log(`  page's thread, self time over the run: ${selfTimes(profile).join('; ')}`);
    clearInterval(sampler);
    sample();
    const cpu1 = browserStats(pid);
    // The rest of the machine's CPU over the run: the reference server (the
    // backend and the embedded store) and this harness (Playwright's handling
    // of the browser's events). With the browser's, how busy the machine was.
    const serverCpuS = processCpu(stack.pid) - server0;
    const harness = process.cpuUsage(harness0);
    const harnessCpuS = (harness.user + harness.system) / 1e6;
    const browserCpuS = cpu1.browserCpu - cpu0.browserCpu;
    const machineBusy = (browserCpuS + serverCpuS + harnessCpuS) / (secs * availableParallelism());
    // What stays after the upload once garbage is collected (CDP), every process.
    if (CPU_THROTTLE > 1) await cdp.send('Emulation.setCPUThrottlingRate', { rate: 1 });
    await cdp.send('HeapProfiler.collectGarbage').catch(() => {});
    await page.waitForTimeout(500);
    const afterGc = browserStats(pid);
    const longTasks = await page.evaluate(() => window.longTasks);
    const longFrames = await page.evaluate(() => window.longFrames);
    // The most requests to the store in flight at one time, and on average
    // over the upload (from Resource Timing: each request's start and end).
    const puts = await page.evaluate((s3) => performance.getEntriesByType('resource')
      .filter((e) => e.name.startsWith(s3)).map((e) => [e.startTime, e.responseEnd]), stack.s3url);
    // A store request's mean duration, from its start to its answer's end (ms).
    const putMs = puts.length ? puts.reduce((acc, [a, b]) => acc + b - a, 0) / puts.length : 0;
    const edges = puts.flatMap(([a, b]) => [[a, 1], [b, -1]]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    let inFlight = 0, maxPuts = 0, area = 0, prev = edges.length ? edges[0][0] : 0;
    for (const [t, d] of edges) { area += inFlight * (t - prev); prev = t; inFlight += d; maxPuts = Math.max(maxPuts, inFlight); }
    const meanPuts = edges.length ? area / (edges[edges.length - 1][0] - edges[0][0] || 1) : 0;
    const lags = await page.evaluate(() => { clearInterval(window.lagTimer); return window.lags; });
    const sortedLags = [...lags].sort((a, b) => a - b);
    const lagP99Ms = sortedLags.length ? sortedLags[Math.min(sortedLags.length - 1, Math.floor(sortedLags.length * 0.99))] : 0;
    if (many) {
      for (let i = 0; i < many.files.length; i++) {
        const stored = await objectSize(stack.api, `${key}/${i}`);
        if (stored !== many.sizes[i]) throw new Error(`${contender}: file ${i} stored ${stored} bytes of ${many.sizes[i]}`);
      }
      await deleteObjects(stack, many.files.map((_, i) => `${key}/${i}`));
    } else {
      const storedSize = await objectSize(stack.api, key);
      if (storedSize !== size * MIB) throw new Error(`${contender}: stored ${storedSize} bytes of ${size * MIB}`);
      await deleteObjects(stack, [key]);
    }
    // With the part size left to the engine: the PUTs seen.
    const parts = typeof plan.partSize === 'number' ? Math.ceil((size * MIB) / plan.partSize) : Math.max(1, puts.length);
    return {
      contender, size, run, secs,
      mbps: (size * MIB) / 1e6 / secs,
      memAboveIdleMiB: (peak.rss - idle.rss) / MIB,
      anonAboveIdleMiB: (peak.anon - idle.anon) / MIB,
      shmemAboveIdleMiB: (peak.shmem - idle.shmem) / MIB,
      jsHeapAboveIdleMiB: (peak.heap - idle.heap) / MIB,
      // Every process of the browser (RSS summed: shared pages count in each), peak and after a forced collection.
      allMemAboveIdleMiB: (peak.allRss - idle.allRss) / MIB,
      allMemAfterGcAboveIdleMiB: (afterGc.allRss - idle.allRss) / MIB,
      rendererMemAfterGcAboveIdleMiB: (afterGc.rss - idle.rss) / MIB,
      // CPU seconds per GiB uploaded: the page's renderer, and the whole browser (renderer, network service, browser process).
      browserCpuS, serverCpuS, harnessCpuS, machineBusy,
      rendererCpuPerGiB: (cpu1.rendererCpu - cpu0.rendererCpu) / (size / 1024),
      browserCpuPerGiB: (cpu1.browserCpu - cpu0.browserCpu) / (size / 1024),
      longTasks: longTasks.length,
      maxPuts,
      meanPuts,
      putMs,
      // How long the page's thread waited for a core while the upload ran: on
      // a loaded machine, what makes a task long without any work in it.
      mainWaitMsPerSec: (cpu1.mainWaitMs - cpu0.mainWaitMs) / secs,
      longFrames,
      busy,
      lagP99Ms,
      longTaskMs: longTasks.reduce((a, b) => a + b, 0),
      backendPerPart: backendCalls / parts,
    };
  } finally {
    await browser.close();
  }
}

/** One cold start of `contender`: milliseconds from navigation to its first part PUT, and to the end. */
async function measureCold(stack, contender, run) {
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage();
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Emulation.setCPUThrottlingRate', { rate: 4 });
    if (COLD_TRACE) {
      // Marks of what the page did before its first PUT (the WebAssembly
      // compile, Workers started, messages to them), from the navigation's start.
      await page.addInitScript(() => {
        const marks = [];
        window.coldMarks = marks;
        const mark = (what) => marks.push(`${what} ${Math.round(performance.now())}`);
        document.addEventListener('DOMContentLoaded', () => mark('DOMContentLoaded'));
        for (const name of ['instantiateStreaming', 'instantiate', 'compileStreaming']) {
          const orig = WebAssembly[name];
          WebAssembly[name] = function (...a) {
            mark(`${name}(`);
            return orig.apply(this, a).then((r) => { mark(`${name})`); return r; });
          };
        }
        // Backend calls, journal reads and writes, and PUTs, as the page made them.
        const f = window.fetch;
        window.fetch = function (r, ...a) {
          mark(`fetch( ${String((r && r.url) || r).split('/').pop().split('?')[0]}`);
          return f.call(this, r, ...a);
        };
        for (const name of ['getItem', 'setItem']) {
          const orig = Storage.prototype[name];
          Storage.prototype[name] = function (...a) { mark(`${name}(`); const r = orig.apply(this, a); mark(`${name})`); return r; };
        }
        const send = XMLHttpRequest.prototype.send;
        XMLHttpRequest.prototype.send = function (...a) { mark('xhr.send'); return send.apply(this, a); };
        const W = window.Worker;
        window.Worker = function (...a) {
          mark('new Worker');
          const w = new W(...a);
          const post = w.postMessage.bind(w);
          w.postMessage = (m, ...rest) => { mark(`postMessage ${m && m.module ? 'module' : 'part'}`); return post(m, ...rest); };
          w.addEventListener('message', () => mark('worker answered'));
          return w;
        };
      });
    }
    const key = `bench/cold-${contender}-${run}.bin`;
    // A plan (`ours@defaults`) gives the options; without one, 8 MiB parts and 4 streams.
    const plan = planOf(contender);
    const opts = { api: stack.page, key, partSize: plan.partSize, concurrency: plan.concurrency, bytes: COLD_BYTES };
    let firstPut = null;
    page.on('request', (r) => {
      if (firstPut === null && r.method() === 'PUT' && r.url().startsWith(stack.s3url)) firstPut = performance.now();
    });
    if (COLD_TRACE) await browser.startTracing(page, { path: `/tmp/cold-${contender}-${run}.trace.json`, categories: ['devtools.timeline', 'v8', 'v8.wasm', 'disabled-by-default-devtools.timeline', 'blink', 'loading', ...(process.env.S3MP_CPU_PROFILE ? ['disabled-by-default-v8.cpu_profiler'] : [])] });
    const t0 = performance.now();
    await page.goto(`${stack.page}/cold-${plan.page}.html#${encodeURIComponent(JSON.stringify(opts))}`, { waitUntil: 'commit' });
    await page.waitForFunction(() => window.coldDone || window.coldError, null, { timeout: 120_000, polling: 50 });
    const end = performance.now();
    if (COLD_TRACE) await browser.stopTracing();
    const error = await page.evaluate(() => window.coldError);
    const readyMs = await page.evaluate(() => window.coldReadyAt);
    // Where the time went: every request the page made (script, module,
    // backend call, PUT), from the navigation's start, as the page saw it.
    const timeline = await page.evaluate(() => performance.getEntriesByType('resource').map((e) => ({
      what: `${e.initiatorType} ${e.name.replace(location.origin, '').replace(/^https?:\/\/[^/]+/, '').replace(/\?.*/, '')}`,
      start: Math.round(e.startTime), end: Math.round(e.responseEnd),
    })));
    if (COLD_TRACE) {
      const marks = await page.evaluate(() => window.coldMarks);
      console.log(`  ${contender} ready ${readyMs.toFixed(0)}: ${timeline.map((t) => `${t.what} ${t.start}-${t.end}`).join(' | ')}\n  marks: ${marks.join(' | ')}`);
    }
    if (error) throw new Error(`${contender}: ${error}`);
    if (firstPut === null) throw new Error(`${contender}: no PUT seen`);
    const storedSize = await objectSize(stack.api, key);
    if (storedSize !== COLD_BYTES) throw new Error(`${contender}: stored ${storedSize} bytes of ${COLD_BYTES}`);
    await deleteObjects(stack, [key]);
    return { contender, run, readyMs, firstPutMs: firstPut - t0, doneMs: end - t0, timeline };
  } finally {
    await browser.close();
  }
}

/** The cold scenario: every contender `COLD_RUNS` times, interleaved, rotating. */
async function coldRuns(contenders) {
  const stack = await startStack('loopback');
  const samples = [];
  try {
    for (let run = 0; run < COLD_RUNS; run++) {
      for (const c of contenders.map((_, i) => contenders[(i + run) % contenders.length])) {
        try {
          const s = await measureCold(stack, c, run);
          console.log(`cold run ${run + 1} ${c}: code ready at ${s.readyMs.toFixed(0)} ms, first PUT at ${s.firstPutMs.toFixed(0)} ms, done at ${s.doneMs.toFixed(0)} ms`);
          samples.push(s);
        } catch (e) {
          console.log(`cold run ${run + 1} ${c}: FAILED ${e.message.split('\n')[0]}`);
          samples.push({ contender: c, run, failed: e.message.split('\n')[0] });
        }
      }
    }
  } finally {
    await stack.stopAll();
  }
  const rows = contenders.map((c) => {
    const ok = samples.filter((s) => s.contender === c && !s.failed);
    const of = (k) => ok.map((s) => s[k]).sort((a, b) => a - b);
    const range = (k) => [of(k)[0], of(k)[of(k).length - 1]];
    return {
      contender: c, name: nameOf(c), runs: ok.length, failedRuns: samples.length / contenders.length - ok.length,
      readyMs: median(of('readyMs')), readyRangeMs: range('readyMs'),
      firstPutMs: median(of('firstPutMs')), firstPutRangeMs: range('firstPutMs'),
      doneMs: median(of('doneMs')), doneRangeMs: range('doneMs'),
      bundleGzipBytes: gzippedBundle(planOf(c).page),
    };
  });
  for (const r of rows) {
    console.log(`cold ${r.contender}: code ready median ${r.readyMs.toFixed(0)} ms (${r.readyRangeMs.map((x) => x.toFixed(0)).join('-')}), first PUT median ${r.firstPutMs.toFixed(0)} ms (${r.firstPutRangeMs.map((x) => x.toFixed(0)).join('-')}), done ${r.doneMs.toFixed(0)} ms (${r.doneRangeMs.map((x) => x.toFixed(0)).join('-')}), bundle ${(r.bundleGzipBytes / 1024).toFixed(1)} KiB gz`);
  }
  return { date: new Date().toISOString(), cpuThrottling: 4, bytes: COLD_BYTES, partSize: PART_SIZE, concurrency: CONCURRENCY, rows, samples };
}

function build() {
  execFileSync('bash', ['scripts/build.sh'], { cwd: root, stdio: 'inherit' });
  execFileSync('bash', ['scripts/package.sh'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync('cargo', ['build', '--release', '-p', 's3-multipart-server', '-p', 's3-fault-proxy', '--bins'], { cwd: root, stdio: 'inherit' });
  for (const c of ['uppy6', 'uppy5', 'libstorage']) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: path.join(root, 'bench/contenders', c), stdio: 'inherit' });
  }
  execFileSync('npx', ['webpack', '--config', 'bench/webpack.config.js'], { cwd: root, stdio: 'inherit' });
}

async function main() {
  // --no-build: the pages, the package and the binaries of an earlier run are used as they are.
  if (!argv.includes('--no-build')) build();
  if (SCENARIOS.includes('cold')) {
    const results = await coldRuns(argv.includes('--contenders') ? CONTENDERS : ['ours', 'ours-worker', 'uppy5']);
    writeFileSync(OUT || path.join(root, 'bench/results-cold.json'), `${JSON.stringify(results, null, 2)}\n`);
    return;
  }
  const bundles = Object.fromEntries(CONTENDERS.map((c) => [c, gzippedBundle(planOf(c).page)]));
  const samples = [];
  // Per scenario: its contenders (with the sweep's best plan) and its ceiling.
  const byScenario = {};
  const sweeps = [];
  for (const scenario of SCENARIOS) {
    const stack = await startStack(scenario);
    let contenders = CONTENDERS;
    let ceiling = CONTENDERS.includes('raw-ahead') ? 'raw-ahead' : 'raw';
    try {
      if (SWEEP && SIZES.length) {
        const size = SIZES[0];
        const file = benchFile(size);
        execFileSync('sh', ['-c', 'cat "$1" > /dev/null', 'sh', file]);
        const plans = SWEEP_PLANS.map((p) => `raw-ahead@${p}`);
        const got = Object.fromEntries(plans.map((p) => [p, []]));
        for (let run = 0; run < SWEEP_RUNS; run++) {
          for (const p of plans.map((_, i) => plans[(i + run) % plans.length])) {
            try {
              const s = await measure(stack, p, file, size, run);
              console.log(`sweep ${scenario} ${size} MiB run ${run + 1} ${p}: ${s.mbps.toFixed(1)} MB/s`);
              got[p].push(s.mbps);
            } catch (e) {
              console.log(`sweep ${scenario} ${size} MiB run ${run + 1} ${p}: FAILED ${e.message.split('\n')[0]}`);
            }
          }
        }
        const medians = plans.filter((p) => got[p].length).map((p) => ({ plan: p, mbps: median(got[p]), runs: got[p] }));
        medians.sort((a, b) => b.mbps - a.mbps);
        console.log(`sweep ${scenario}: best ${medians[0].plan} at ${medians[0].mbps.toFixed(1)} MB/s`);
        sweeps.push({ scenario, size, plans: medians });
        ceiling = medians[0].plan;
        if (!contenders.includes(ceiling)) contenders = [...contenders, ceiling];
        bundles[ceiling] = gzippedBundle('raw-ahead');
      }
      byScenario[scenario] = { contenders, ceiling };
      for (const size of SIZES) {
        const file = benchFile(size);
        // Read it once so it is in the page cache: otherwise whoever goes first
        // pays for the disk (and the browser's CPU for the reads).
        execFileSync('sh', ['-c', 'cat "$1" > /dev/null', 'sh', file]);
        for (let run = 0; run < runsFor(size); run++) {
          const order = contenders.map((_, i) => contenders[(i + run) % contenders.length]);
          for (const c of order) {
            try {
              const s = { scenario, ...(await measure(stack, c, file, size, run)) };
              console.log(`${scenario} ${size} MiB run ${run + 1} ${c}: ${s.mbps.toFixed(1)} MB/s, +${s.memAboveIdleMiB.toFixed(1)} MiB (anon +${s.anonAboveIdleMiB.toFixed(1)}, shmem +${s.shmemAboveIdleMiB.toFixed(1)}, JS heap +${s.jsHeapAboveIdleMiB.toFixed(1)}), CPU ${s.rendererCpuPerGiB.toFixed(2)} s/GiB renderer, ${s.browserCpuPerGiB.toFixed(2)} s/GiB browser, ${s.longTasks} long tasks, lag p99 ${s.lagP99Ms.toFixed(1)} ms, main thread waited for a core ${s.mainWaitMsPerSec.toFixed(0)} ms/s, ${s.backendPerPart.toFixed(2)} backend calls/part; ${cpuText(s)}`);
              printLongTasks(s);
              samples.push(s);
            } catch (e) {
              console.log(`${scenario} ${size} MiB run ${run + 1} ${c}: FAILED ${e.message.split('\n')[0]}`);
              samples.push({ scenario, contender: c, size, run, failed: e.message.split('\n')[0] });
            }
          }
        }
      }
      for (const name of WORKLOAD_NAMES) {
        const w = workloadOf(name);
        const files = benchFiles(name, w);
        execFileSync('sh', ['-c', 'cat "$@" > /dev/null', 'sh', ...files]);
        const many = contenders.filter((c) => MANY.includes(planOf(c).page));
        for (let run = 0; run < RUNS; run++) {
          for (const c of many.map((_, i) => many[(i + run) % many.length])) {
            try {
              const s = { scenario, workload: name, ...(await measure(stack, c, null, w.total / MIB, run, { name, files, sizes: w.sizes })) };
              s.size = name;
              console.log(`${scenario} ${name} run ${run + 1} ${c}: ${s.mbps.toFixed(1)} MB/s (${s.secs.toFixed(2)} s), +${s.memAboveIdleMiB.toFixed(1)} MiB, CPU ${s.rendererCpuPerGiB.toFixed(2)} s/GiB renderer, ${s.longTasks} long tasks, lag p99 ${s.lagP99Ms.toFixed(1)} ms, store requests in flight: at most ${s.maxPuts}, mean ${s.meanPuts.toFixed(1)}, each ${s.putMs.toFixed(0)} ms; ${cpuText(s)}`);
              printLongTasks(s);
              samples.push(s);
            } catch (e) {
              console.log(`${scenario} ${name} run ${run + 1} ${c}: FAILED ${e.message.split('\n')[0]}`);
              samples.push({ scenario, contender: c, size: name, run, failed: e.message.split('\n')[0] });
            }
          }
        }
      }
    } finally {
      await stack.stopAll();
    }
  }
  const rows = [];
  for (const scenario of SCENARIOS) {
    for (const size of [...SIZES, ...WORKLOAD_NAMES]) {
      const ok = (c) => samples.filter((s) => s.scenario === scenario && s.size === size && s.contender === c && !s.failed);
      const pick = (c, k) => (ok(c).length ? median(ok(c).map((s) => s[k])) : NaN);
      const failures = (c) => samples.filter((s) => s.scenario === scenario && s.size === size && s.contender === c && s.failed).length;
      const { contenders } = byScenario[scenario];
      // The ceiling: the fastest raw loop measured here (the sweep's best
      // plan among them), so that no loop the browser runs faster is left out.
      const loops = contenders.filter((c) => /^raw/.test(c) && ok(c).length);
      const ceiling = loops.sort((a, b) => pick(b, 'mbps') - pick(a, 'mbps'))[0] ?? byScenario[scenario].ceiling;
      const rawMbps = contenders.includes('raw') ? pick('raw', 'mbps') : NaN;
      const mbpsOf = (c) => ok(c).map((s) => s.mbps);
      // The best peer: the fastest of the other clients (not ours, not a raw loop).
      const peers = contenders.filter((c) => !/^(ours|raw)/.test(c) && ok(c).length);
      const bestPeer = peers.sort((a, b) => pick(b, 'mbps') - pick(a, 'mbps'))[0] ?? null;
      for (const c of contenders.filter((c) => SIZES.includes(size) || MANY.includes(planOf(c).page))) {
        rows.push({
          scenario, size, contender: c, name: nameOf(c),
          mbps: pick(c, 'mbps'),
          mbpsRange: ok(c).length ? [Math.min(...mbpsOf(c)), Math.max(...mbpsOf(c))] : null,
          ratioToRaw: pick(c, 'mbps') / rawMbps,
          ceiling,
          ratioToCeiling: pick(c, 'mbps') / pick(ceiling, 'mbps'),
          ratioToCeilingCI95: bootstrapRatio(mbpsOf(c), mbpsOf(ceiling)),
          bestPeer,
          ratioToBestPeer: bestPeer ? pick(c, 'mbps') / pick(bestPeer, 'mbps') : NaN,
          ratioToBestPeerCI95: bestPeer ? bootstrapRatio(mbpsOf(c), mbpsOf(bestPeer)) : null,
          allMemAboveIdleMiB: pick(c, 'allMemAboveIdleMiB'),
          allMemAfterGcAboveIdleMiB: pick(c, 'allMemAfterGcAboveIdleMiB'),
          rendererMemAfterGcAboveIdleMiB: pick(c, 'rendererMemAfterGcAboveIdleMiB'),
          lagP99Ms: pick(c, 'lagP99Ms'),
          memAboveIdleMiB: pick(c, 'memAboveIdleMiB'),
          anonAboveIdleMiB: pick(c, 'anonAboveIdleMiB'),
          shmemAboveIdleMiB: pick(c, 'shmemAboveIdleMiB'),
          jsHeapAboveIdleMiB: pick(c, 'jsHeapAboveIdleMiB'),
          rendererCpuPerGiB: pick(c, 'rendererCpuPerGiB'),
          browserCpuPerGiB: pick(c, 'browserCpuPerGiB'),
          machineBusy: pick(c, 'machineBusy'),
          longTasks: pick(c, 'longTasks'),
          longTaskMs: pick(c, 'longTaskMs'),
          backendPerPart: pick(c, 'backendPerPart'),
          bundleGzipBytes: bundles[c],
          failedRuns: failures(c),
        });
      }
    }
  }
  const results = { date: new Date().toISOString(), forcedGc: FORCE_GC, cpuThrottle: CPU_THROTTLE, sweeps, runs: RUNS, runsBySize: Object.fromEntries(SIZES.map((s) => [s, runsFor(s)])), partSize: PART_SIZE, concurrency: CONCURRENCY, rows, samples };
  const out = OUT || path.join(root, 'bench/results.json');
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\n${table(results)}\n\nwrote ${out}`);
}

// Only when run (importing this file runs nothing).
if (process.argv[1] === fileURLToPath(import.meta.url)) main().catch((e) => { console.error(e); process.exit(1); });
