// Shared pieces of the end-to-end tests: the real reference server (with its
// embedded S3 store), real headless Chromium through playwright-core, real
// files on disk compared by SHA-256.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, ftruncateSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const MIB = 1024 * 1024;

/** Chromium flags that work on these machines (no network but loopback, root user). */
export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-quic',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
];

/**
 * Spawns a program and waits for its stdout to match every pattern; resolves to { child, matches }.
 * Its stderr goes on to ours and its first lines into the error if it exits first.
 */
function spawnAndWait(bin, args, patterns, what) {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { process.stderr.write(d); if (err.length < 2000) err = (err + d).slice(0, 2000); });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out}${err}`)), 20000);
    child.on('exit', (code) => reject(new Error(`${what} exited with ${code}: ${out}${err}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const found = patterns.map((p) => out.match(p));
      if (found.every(Boolean)) { clearTimeout(timer); resolve({ child, matches: found.map((m) => m[1]) }); }
    });
  });
}

async function stopChild(child) {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

/**
 * A free TCP port on 127.0.0.1, for a program to listen on later. It is taken
 * below Linux's ephemeral range (32768-60999), where no port is handed out
 * meanwhile to another listener or to a browser's outgoing connection.
 */
export async function freePort() {
  const { createServer } = await import('node:net');
  for (let i = 0; ; i++) {
    const port = i < 200 ? 20000 + Math.floor(Math.random() * 12000) : 0;
    const free = await new Promise((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(null));
      srv.listen(port, '127.0.0.1', () => { const { port: p } = srv.address(); srv.close(() => resolve(p)); });
    });
    if (free) return free;
  }
}

/**
 * Starts the reference server on free ports; resolves to { api, s3, dataDir, openUploads(prefix), stop() }.
 * `s3Listen` fixes the store's address, `wwwDir` the pages served; `extraArgs` go to the server as they are.
 */
export async function startServer(extraArgs = [], { s3Listen = '127.0.0.1:0', wwwDir = path.join(root, 'www/dist') } = {}) {
  const bin = process.env.S3MP_SERVER_BIN || path.join(root, 'target/debug/s3-multipart-server');
  const dataDir = mkdtempSync(path.join(tmpdir(), 's3mp-e2e-'));
  const { child, matches } = await spawnAndWait(bin, [
    '--listen', '127.0.0.1:0', '--s3-listen', s3Listen, '--data-dir', path.join(dataDir, 'data'),
    '--www-dir', wwwDir, '--debug-endpoints', ...extraArgs,
  ], [/api and demo: (http:\/\/\S+)/, /s3 store: (http:\/\/\S+)/], 'server').catch((e) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  });
  const [api, s3] = matches;
  return {
    api,
    s3,
    dataDir,
    pid: child.pid,
    /** Open multipart uploads whose key starts with `prefix`. */
    async openUploads(prefix = '') {
      const r = await fetch(`${api}/uploads/multipart/open?prefix=${encodeURIComponent(prefix)}`);
      return (await r.json()).uploads;
    },
    async stop() {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The reference server with a relay in front of its store (`startFront(upstream)`
 * resolves to { url, stop() }), its presigned URLs pointing at the relay. The
 * relay must know the store's address before the store listens, so the port is
 * picked free first; should another program take it in between (the server then
 * says the port is taken and exits), both start again on another port.
 * Resolves to { front, stopFront, server }.
 */
export async function startServerBehind(startFront, serverArgs = [], opts = {}) {
  for (let attempt = 1; ; attempt++) {
    const storePort = await freePort();
    const front = await startFront(`http://127.0.0.1:${storePort}`);
    try {
      const server = await startServer(['--s3-public-endpoint', front.url, ...serverArgs], { ...opts, s3Listen: `127.0.0.1:${storePort}` });
      return { front: front.url, stopFront: front.stop, server };
    } catch (e) {
      await front.stop();
      if (attempt >= 5 || !/another program listens there/.test(e.message)) throw e;
    }
  }
}

/**
 * The reference server with the fault proxy in front of its store: presigned
 * URLs point at the proxy, which forwards to the store. Resolves to the server
 * plus { proxy, stats(), resetStats(), stop() }.
 */
export async function startFaultyStack({ proxyArgs = [], serverArgs = [], wwwDir } = {}) {
  const bin = process.env.S3MP_PROXY_BIN || path.join(root, 'target/debug/fault-proxy');
  const { front: proxy, stopFront, server } = await startServerBehind((upstream) => startRelay(bin, upstream, proxyArgs),
    serverArgs, wwwDir ? { wwwDir } : {});
  return {
    ...server,
    proxy,
    async stats() { return (await fetch(`${proxy}/__fault-proxy/stats`)).json(); },
    async resetStats() { await fetch(`${proxy}/__fault-proxy/stats`, { method: 'POST' }); },
    async stop() { await stopFront(); await server.stop(); },
  };
}

/**
 * One of this repository's relays (`bin`: fault-proxy or link-emu, each
 * printing `fault-proxy: <url>` or `link-emu: <url>` once it listens) in front of `upstream`, on a
 * port of its own. Resolves to { url, stop() }.
 */
export async function startRelay(bin, upstream, args = []) {
  const name = path.basename(bin);
  const { child, matches } = await spawnAndWait(bin, ['--listen', '127.0.0.1:0', '--upstream', upstream, ...args],
    [/(?:fault-proxy|link-emu): (http:\/\/\S+)/], name);
  return { url: matches[0], stop: () => stopChild(child) };
}

/**
 * The reference server with its API and its store each behind link-emu
 * (fault-proxy/src/link.rs) shaped by `linkArgs`: a network path, such as a
 * far region's. Resolves to the server plus { page: the API's URL through
 * the link (the page and its backend calls go there), front: the store's URL
 * through the link, stop() }; `api` stays the server's own, for the tests'
 * look at what is stored. `bin` is the link-emu to run (the debug build
 * unless given), `wwwDir` the folder the server serves pages from.
 */
export async function startLinkStack(linkArgs, { bin = path.join(root, 'target/debug/link-emu'), wwwDir } = {}) {
  const link = (upstream) => startRelay(bin, upstream, linkArgs);
  const { front, stopFront, server } = await startServerBehind(link, [], wwwDir ? { wwwDir } : {});
  const apiLink = await link(server.api).catch(async (e) => { await stopFront(); await server.stop(); throw e; });
  return {
    ...server,
    page: apiLink.url,
    front,
    async stop() { await apiLink.stop(); await stopFront(); await server.stop(); },
  };
}

/**
 * A page script that records each part PUT the page sends, as [part
 * number, body bytes], in `window.puts` (run before the page's own code:
 * Playwright's `addInitScript`, or WebDriver's `executeScript` before the
 * upload starts).
 */
export const RECORD_PUTS = `{
  window.puts = [];
  const { open, send } = XMLHttpRequest.prototype;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    const n = new URL(url, location.href).searchParams.get('partNumber');
    this.part = method === 'PUT' && n ? Number(n) : null;
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (body) {
    if (this.part !== null && body) window.puts.push([this.part, body.size]);
    return send.call(this, body);
  };
}`;

/**
 * As RECORD_PUTS, for many files at once: each part PUT as [object path,
 * part number, body bytes], in `window.puts`.
 */
export const RECORD_FILE_PUTS = `{
  window.puts = [];
  const { open, send } = XMLHttpRequest.prototype;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    const u = new URL(url, location.href);
    const n = u.searchParams.get('partNumber');
    this.put = method === 'PUT' && n ? [u.pathname, Number(n)] : null;
    return open.call(this, method, url, ...rest);
  };
  XMLHttpRequest.prototype.send = function (body) {
    if (this.put && body) window.puts.push([...this.put, body.size]);
    return send.call(this, body);
  };
}`;

/**
 * Checks PUTs [part, bytes] against a plan of `planned.parts` parts of
 * `planned.size` that grew once: parts 1..from-1 as planned, the rest (but
 * the last) all of one larger size, each part sent once, fewer parts than
 * planned. Returns the part count.
 */
export function assertGrewOnce(puts, planned, size) {
  const parts = Math.max(...puts.map(([n]) => n));
  const sizes = new Map(puts);
  assert.deepEqual(puts.map(([n]) => n).sort((a, b) => a - b), Array.from({ length: parts }, (_, i) => i + 1), 'each part sent once');
  assert.ok(parts < planned.parts, `${parts} parts, not fewer than the ${planned.parts} planned`);
  const from = puts.map(([n]) => n).find((n) => sizes.get(n) !== planned.size);
  assert.ok(from > 6, `the first round went as planned, in parts of ${planned.size}: ${JSON.stringify(puts)}`);
  const grown = sizes.get(from);
  assert.ok(grown >= 1.25 * planned.size, `grown parts of ${grown} bytes`);
  for (let n = from; n < parts; n++) assert.equal(sizes.get(n), grown, `part ${n}`);
  assert.equal([...sizes.values()].reduce((a, b) => a + b, 0), size, 'the parts cover the file');
  return parts;
}

export async function launchBrowser(extraArgs = []) {
  return chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/**
 * Waits until the demo widget's rows on `page` show `n` files done, or one
 * failed; asserts that none failed. `each()` runs at every look (every
 * `everyMs`); the wait fails after `timeoutMs`.
 */
export async function waitWidgetDone(page, n, { timeoutMs = 240_000, everyMs = 200, each } = {}) {
  // The rows are in the widget's shadow root: counted through locators.
  const count = (state) => page.locator(`.s3-upload-panel li[data-state="${state}"]`).count();
  const deadline = Date.now() + timeoutMs;
  while ((await count('done')) < n && (await count('error')) === 0) {
    assert.ok(Date.now() < deadline, `only ${await count('done')} of ${n} files done after ${timeoutMs / 1000} s`);
    each?.();
    await page.waitForTimeout(everyMs);
  }
  assert.equal(await count('error'), 0, 'no file failed');
  assert.equal(await count('done'), n);
}

/** The backend's presigned GET of the object `key`. */
async function downloadUrl(api, key) {
  const res = await fetch(`${api}/api/uploads/download/${key.split('/').map(encodeURIComponent).join('/')}`);
  if (!res.ok) throw new Error(`download URL for ${key}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()).url;
}

/** Size of a stored object, from a one-byte ranged GET through its presigned download URL (objects may be larger than a Buffer). */
export async function objectSize(api, key) {
  const r = await fetch(await downloadUrl(api, key), { headers: { Range: 'bytes=0-0' } });
  const range = r.headers.get('content-range');
  await r.arrayBuffer();
  return range ? Number(range.split('/')[1]) : Number(r.headers.get('content-length'));
}

/** Writes `size` random bytes to a file named `name` in a fresh folder; returns { file, sha256, cleanup }. */
export function randomFile(name, size) {
  const dir = mkdtempSync(path.join(tmpdir(), 's3mp-file-'));
  const file = path.join(dir, name);
  const hash = createHash('sha256');
  const chunk = 4 * MIB;
  const buf = Buffer.alloc(size);
  for (let off = 0; off < size; off += chunk) {
    const piece = randomBytes(Math.min(chunk, size - off));
    piece.copy(buf, off);
  }
  hash.update(buf);
  writeFileSync(file, buf);
  return { file, sha256: hash.digest('hex'), size, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * Run in a page (Playwright's `evaluate`, WebDriver's `executeScript`): each
 * hashing Worker made from then on hashes at 128 KiB/s (its module's CRC step
 * slowed by a busy-wait, in code put before the Worker's own), and
 * `window.probe` counts the Workers made.
 */
export function slowHashingWorkers() {
  const Real = window.Worker;
  const slow = `{
    const real = WebAssembly.instantiate;
    WebAssembly.instantiate = (...a) => real.apply(WebAssembly, a).then((r) => {
      const e = r.instance.exports;
      const update = (s, n) => { const t = Date.now() + n / 131.072; while (Date.now() < t); return e.update(s, n); };
      return { instance: { exports: { memory: e.memory, buffer: e.buffer, capacity: e.capacity, update } } };
    });
  }\n`;
  window.probe = 0;
  window.Worker = function (url, options) {
    window.probe += 1;
    const x = new XMLHttpRequest();
    x.open('GET', url, false);
    x.send();
    return new Real(URL.createObjectURL(new Blob([slow + x.responseText], { type: 'text/javascript' })), options);
  };
}

/** Rewrites two MiB of `file` in place (its first, and one at 30 MiB), as an application saving a new version would. */
export function rewrite(file) {
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, randomBytes(MIB), 0, MIB, 0);
    writeSync(fd, randomBytes(MIB), 0, MIB, 30 * MIB);
  } finally {
    closeSync(fd);
  }
}

/**
 * A file of `size` bytes (it may be many GiB) that costs little disk: sparse,
 * with a MiB of random bytes every 256 MiB (each starting 4097 bytes past the
 * boundary, so that pieces straddle part and 2^31/2^32 offsets) and random
 * last 4 KiB; a piece read from the wrong offset reads zeros or other random
 * bytes, which the SHA-256 shows. Resolves to { file, size, sha256, cleanup }.
 */
export async function markedFile(name, size) {
  const dir = mkdtempSync(path.join(tmpdir(), 's3mp-file-'));
  const file = path.join(dir, name);
  const fd = openSync(file, 'w');
  try {
    for (let off = 0; off + 4097 < size; off += 256 * MIB) {
      const n = Math.min(MIB, size - off - 4097);
      writeSync(fd, randomBytes(n), 0, n, off + 4097);
    }
    const tail = Math.min(4096, size);
    writeSync(fd, randomBytes(tail), 0, tail, size - tail);
    ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
  const sha256 = await sha256Of(createReadStream(file));
  return { file, size, sha256, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** SHA-256 (hex) of what an async iterable of byte chunks yields. */
export async function sha256Of(chunks) {
  const hash = createHash('sha256');
  for await (const c of chunks) hash.update(c);
  return hash.digest('hex');
}

/**
 * Reads an object back from the store through the backend's presigned GET,
 * streamed (objects may be larger than a Buffer); returns its SHA-256 and size.
 */
export async function storedObject(api, key) {
  const obj = await fetch(await downloadUrl(api, key));
  if (!obj.ok) throw new Error(`GET ${key}: HTTP ${obj.status} ${await obj.text()}`);
  let size = 0;
  const counted = (async function* count() { for await (const c of obj.body) { size += c.length; yield c; } })();
  const sha256 = await sha256Of(counted);
  return { sha256, size };
}

/** The process (not a child of it) whose command line holds `marker`, or null. */
export function processWith(marker) {
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.includes(marker) && !cmd.includes('--type=')) return Number(p);
    } catch { /* gone */ }
  }
  return null;
}

/** Every process's children, by parent pid (Linux /proc). */
export function processChildren() {
  const children = new Map();
  for (const p of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(p));
    } catch { /* gone */ }
  }
  return children;
}

/** Resident memory, in MiB, of process `pid` and all its descendants (Linux /proc). */
export function treeRssMiB(pid) {
  const children = processChildren();
  let kib = 0;
  const walk = (p) => {
    try {
      kib += Number(readFileSync(`/proc/${p}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0);
    } catch { /* gone */ }
    for (const c of children.get(p) || []) walk(c);
  };
  walk(pid);
  return kib / 1024;
}

/**
 * A server that is not a backend: it answers every call (CORS open) 200 with
 * an HTML page that never ends. Resolves to { endpoint, sent(), closed(),
 * checkLetGo(message), stop() }: the bytes it has written, how many of its
 * replies the client let go, and the checks of an upload that failed on it.
 */
export async function startEndlessPage() {
  const { createServer } = await import('node:http');
  let sent = 0;
  let closed = 0;
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const server = createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Headers', '*');
    res.setHeader('Access-Control-Allow-Methods', '*');
    if (req.method === 'OPTIONS') return res.writeHead(204).end();
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.write('<!doctype html><title>not the backend</title>');
    const more = () => {
      while (!res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) break;
      }
    };
    res.on('drain', more);
    res.on('close', () => { closed += 1; });
    more();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}/api`,
    sent: () => sent,
    closed: () => closed,
    /**
     * The upload's error `message` names the reply and its fix, not the
     * network's; the writing stopped once the client let the replies go.
     * Two tries, each reply read to 8 MiB by the page, more in the
     * browser's network layer and the sockets' buffers (Firefox once took
     * 67 MiB in all); read on to the 30 s timeout, it would be gigabytes.
     */
    async checkLetGo(message) {
      assert.match(message, /not JSON/, message);
      assert.match(message, /<!doctype html><title>not the backend/, message);
      // A reply came every time: its fix, not the network's hint.
      assert.match(message, /it must answer JSON like/, message);
      assert.doesNotMatch(message, /CORS|check the connection|raise retryDelays/, message);
      const pause = () => new Promise((r) => setTimeout(r, 500));
      // Settled: two looks 500 ms apart agree (10 s at most).
      for (let t = 0, last = -1; t < 20 && sent !== last; t += 1) {
        last = sent;
        await pause();
      }
      const settled = sent;
      assert.ok(settled < 256 * MIB, `the reading stopped (${(settled / MIB).toFixed(1)} MiB sent)`);
      await pause();
      await pause();
      assert.equal(sent, settled, 'nothing more was sent once the reply was let go');
    },
    stop() { server.closeAllConnections(); server.close(); },
  };
}
