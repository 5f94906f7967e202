// The npm package: the tarball of `npm pack` installs into a fresh webpack 5
// app and a fresh Vite app, each builds, and each uploads through the widget
// (and the API) in Chromium. Also the size budget of WASM + JS glue.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { measure, sentence, stated } from '../../scripts/size.mjs';
import { launchBrowser, MIB, randomFile, root, startFaultyStack, startServer, storedObject } from './helpers.mjs';

/**
 * The budget for the gzipped WASM module plus its JS (bundler build,
 * scripts/size.mjs). 152 KiB before the size work; 154 with the hashing
 * Worker's own module; then JSON through the browser, talc, no httpdate, no
 * Debug formatting, no BTreeMap or HashMap, no gloo-net (104 KiB), then
 * no_std, no futures crate and one backend method brought it to the figure
 * README.md states (docs/SIZE.md); the adaptive concurrency window and
 * batched part signing (issue 17) then added 4.5 KiB of WASM, measured (96.3
 * KiB); starting many files in turns 0.6 KiB more; the shipped JS minified
 * (terser) 3.6 KiB less: 93.9 KiB; the window's bounds and latency signal
 * 0.7 KiB more; no string-pattern search (core's two-way searcher and the
 * slicing panic's formatting it reached) 5.2 KiB less: 89.4 KiB; one join
 * loop 0.5 KiB less: 88.9 KiB; the adaptive part size, the repair of a
 * refused complete and init's client token brought it to 90.9 KiB, and
 * wasm-opt's flatten and re-loop passes to 90.3 KiB; the hooks through the
 * HTTP backend's parsers (a JS adapter) to 88.9 KiB; the backend's fetch
 * and the part PUT's XMLHttpRequest through a few lines of JS to 86.9 KiB;
 * init's journaled token (+0.8), the journal entry's JSON from tables, the
 * look-up's reasons left out and resumableUploads() in JS (−2.0) to 85.8;
 * the sweep of expired journal entries (+0.5) to 86.3; the adopted token
 * checked (+0.1) to 86.4; a journal entry locked while its upload runs
 * (+0.6) to 87.0; small files signed together (+0.9) to 87.9; trim_ascii
 * and terser's three passes (-0.2), the driver's kept timer (+0.1) to
 * 87.8; the hashing Worker's parts queued on the page, at most two Workers
 * alive and the parts of ended uploads dropped (+0.3) to 88.1; a watchdog
 * that replaces a hashing Worker gone silent (+0.2) to 88.3; the Worker's
 * code minified with the rest (a function's source, not a string: -0.5)
 * and its reads watched by progress, the page's reads given up after 15 s
 * without progress (+0.2) to 88.0; the resumeScope option (+0.2) to 88.2;
 * the Worker's code a string literal (+0.05) to 88.3; a resumed upload's
 * stored parts hashed and compared with the listing's CRCs (+0.6) to 88.9;
 * a refused signature signed again once and no checksum claimed when none
 * was sent (+0.2) to 89.1; init signing the first parts (its `parts` and
 * `urls`, a strict backend's fallback, the first part's hash awaited, a
 * resumed upload keeping the look-up's CRCs: +1.3) to 90.4; wasm-opt
 * stripping two custom sections (-0.2) and signed URLs checked for their
 * part number (+0.5) to 90.6; the names linking the module to its glue made
 * short (scripts/short-names.mjs: -3.6) to 87.0; part URLs checked for
 * their upload id too, and a hook's malformed answer named in the hook's
 * words (+0.4) to 87.4; S3's "Checksum Type mismatch" refusal of a part
 * explained with its fix (+0.15) to 87.6; the module's JavaScript in one
 * snippet (-0.4) to 87.1; the driver's waiting (futures, channels, timers,
 * closures: the upload's run, its backend calls) moved to that JavaScript,
 * Rust deciding and checking as before (-9.5) to 77.6; messages made by
 * `cat!` instead of `format!` (-0.85) to 76.8; the options checked in that
 * JavaScript (-4.1) to 72.8; the hashing Worker's module without its
 * compile-time CRC table and custom sections (-1.4) to 71.3; wasm-opt -Oz
 * (-0.1), the budget's window in a Cell (-0.2), byte splitting instead of
 * core's char searcher (-0.4) and loops instead of generic collects and
 * copies (-1.4) to 69.3; navigator.onLine and thrown values read by the
 * glue, not through js-sys (-1.3) to 68.0; the page's CRC (no hashing
 * Worker) in that JavaScript instead of the module (-0.4) to 67.6; the
 * file's sample read again before complete, so that a file rewritten on
 * disk during its upload is not stored as a mix of its versions, its reads
 * shared with the journal's, and again after a PUT without an answer
 * (+0.8) to 68.4; and again once a part sent after that read is on its way
 * (+0.15) to 68.5; a PUT whose whole body is handed over given the time
 * the send buffers take to drain before it counts as stalled (+0.14) to
 * 68.7; progress that follows what the link delivers, not the send
 * buffers, reported on ticks while it does (+0.4) to 69.1, and from an
 * upload's first parts with the Uploader's earlier rate (+0.06); complete
 * awaited 330 s and a backend call's timeout named as such (+0.13) to 69.3;
 * a Lambda's result relayed as it is read as the response it stands for
 * (+0.19) to 69.5; an error in a 2xx reply read as the backend's refusal,
 * or asked again when it names a throttle, abort's too (+0.29) to 69.8;
 * the throttle named by the code alone and the backend's words cut at 200
 * characters (+0.04) to 69.8; a second hashing Worker for large parts
 * (JS +0.09) to 69.9, the budget 70; parts that grow on a far link, once
 * measured (issue 17: 1.08x the ceiling at 1 GiB in the far region, from
 * 0.99x; docs/SIZE.md "Session twenty-five") +1.3 to 71.2, the budget 72;
 * multipart files of a batch held back until the link is measured, then
 * cut for it together (issue 17: eight files of 64 MiB in the far region
 * 1.14x the ceiling, from 0.98x; docs/SIZE.md "Session twenty-nine") +0.7
 * to 72.0, the budget 72.25.
 * The aim of the size issue, 60 KiB, is not met yet.
 */
export const BUDGET_GZIP_BYTES = 72.25 * 1024;

let tarball;
let browser;
const temps = [];

function sh(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
}

before(async () => {
  tarball = process.env.S3MP_NPM_TARBALL || sh('bash', ['scripts/package.sh'], root).trim().split('\n').pop();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  temps.forEach((d) => rmSync(d, { recursive: true, force: true }));
});

test('the package has both builds, the widget, types and a README', () => {
  const list = sh('tar', ['tzf', tarball]).split('\n');
  for (const f of ['package/package.json', 'package/README.md', 'package/widget.d.ts', 'package/widget-core.js',
    'package/bundler/s3_multipart_wasm.js', 'package/bundler/s3_multipart_wasm.d.ts', 'package/bundler/s3_multipart_wasm_bg.wasm',
    'package/bundler/widget.js', 'package/web/s3_multipart_wasm.js', 'package/web/s3_multipart_wasm.d.ts', 'package/web/widget.js',
    'package/bundler/index.js', 'package/bundler/index.d.ts', 'package/web/index.js', 'package/web/index.d.ts']) {
    assert.ok(list.includes(f), `${f} is in the tarball`);
  }
  const types = readFileSync(path.join(root, 'target/npm-package/bundler/s3_multipart_wasm.d.ts'), 'utf8');
  for (const t of ['class Uploader', 'type UploaderOptions', 'interface UploadProgress', 'declare class UploadError', 'type UploadErrorCode', 'interface UploadHooks', 'interface UploadHandle']) {
    assert.ok(types.includes(t), `types declare ${t}`);
  }
});

test('gzipped size of WASM + JS glue is within the budget, and the READMEs state it', () => {
  const size = measure();
  console.log(`gzipped size: ${sentence(size)}; budget ${BUDGET_GZIP_BYTES / 1024} KiB`);
  assert.ok(size.total <= BUDGET_GZIP_BYTES, `${size.total} B is over the budget of ${BUDGET_GZIP_BYTES} B`);
  // The package's README was written from this very build.
  assert.equal(stated(readFileSync(path.join(root, 'target/npm-package/README.md'), 'utf8')), sentence(size));
  // The repository's README, by `node scripts/size.mjs --write README.md`:
  // within 1 KiB (another toolchain may build a few bytes apart).
  const readme = stated(readFileSync(path.join(root, 'README.md'), 'utf8'));
  assert.ok(readme, 'README.md states the size between <!-- size --> marks');
  const said = Number(readme.split(' ')[0]) * 1024;
  assert.ok(Math.abs(said - size.total) <= 1024,
    `README.md says ${readme}, the build is ${sentence(size)}: run node scripts/size.mjs --write README.md`);
  // And the budget it names is this test's.
  assert.ok(readFileSync(path.join(root, 'README.md'), 'utf8').includes(`above a budget of ${BUDGET_GZIP_BYTES / 1024} KiB`),
    `README.md must name the size test's budget: "above a budget of ${BUDGET_GZIP_BYTES / 1024} KiB"`);
});

/**
 * The widget renders while its WASM module is held back (first paint does
 * not wait for it), then uploads once the module arrives.
 */
async function widgetRendersFirst(server, app, pagePath, inputSelector, prefix) {
  const page = await browser.newPage();
  let release;
  const held = new Promise((r) => { release = r; });
  let wasmAsked = 0;
  await page.route('**/*.wasm', async (route) => {
    wasmAsked += 1;
    await held;
    await route.continue();
  });
  const src = randomFile(`${app}-lazy.bin`, 6 * MIB + 1);
  try {
    await page.goto(`${server.api}${pagePath}`);
    await page.waitForSelector('button.choose', { timeout: 10_000 });
    // The module is asked for in the background once the widget is up, and
    // is still held: the panel did not wait for it.
    for (let i = 0; i < 50 && !wasmAsked; i++) await page.waitForTimeout(100);
    assert.ok(await page.isVisible('button.choose'), `${app}: the widget is up while its module is held`);
    assert.equal(wasmAsked, 1, `${app}: the module was asked for once, in the background`);
    release();
    await page.setInputFiles(inputSelector, src.file);
    await page.waitForSelector(`#done li:text-is("${prefix}/${app}-lazy.bin")`, { timeout: 60_000 });
    assert.equal((await storedObject(server.api, `${prefix}/${app}-lazy.bin`)).sha256, src.sha256);
  } finally {
    release();
    src.cleanup();
    await page.close();
  }
}

async function appUploads(app, inputSelector, widgetPage, base) {
  const dir = mkdtempSync(path.join(tmpdir(), `s3mp-${app}-`));
  temps.push(dir);
  // An app that is another with a build of its own (`base`'s sources, this one's configuration).
  if (base) cpSync(path.join(root, 'tests/apps', base, 'src'), path.join(dir, 'src'), { recursive: true });
  cpSync(path.join(root, 'tests/apps', app), dir, { recursive: true });
  const prefix = `${base ?? app}-app`;   // the key prefix its sources give
  sh('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], dir);
  sh('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', tarball], dir);
  sh('npm', ['run', 'build', '--silent'], dir);
  const server = await startServer([], { wwwDir: path.join(dir, 'dist') });
  const src = randomFile(`${app}.bin`, 12 * MIB + 7);
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e));
    await page.goto(`${server.api}/`);
    // The widget takes the input over once the WASM module is loaded (in the
    // web build, at once): wait for its panel before choosing a file.
    await page.waitForSelector('button.choose');
    await page.setInputFiles(inputSelector, src.file);
    await page.waitForSelector(`#done li:text-is("${prefix}/${app}.bin")`, { timeout: 60_000 });
    const stored = await storedObject(server.api, `${prefix}/${app}.bin`);
    assert.equal(stored.sha256, src.sha256, `${app}: the widget's upload is intact`);
    // Both builds hash in dedicated Workers (one, and a second that shares
    // the large parts once the first has answered), each of which has
    // instantiated its own module (hasher/): the package's entry point
    // handed it over.
    const hashWorkers = page.workers().filter((w) => w.url().startsWith('blob:'));
    assert.ok(hashWorkers.length >= 1 && hashWorkers.length <= 2, `${app}: the parts were hashed in one or two Workers (${hashWorkers.length})`);
    for (const w of hashWorkers) {
      assert.equal(await w.evaluate(async () => typeof (await self.hasher).update), 'function',
        `${app}: the hashing Worker runs its WebAssembly module`);
    }
    const result = await page.evaluate(async () => {
      const bytes = new Uint8Array(6 * 1024 * 1024 + 3).map((_, i) => (i * 31) % 251);
      const r = await window.uploadDirect(new Blob([bytes]), 'direct/api.bin');
      return { key: r.key, size: r.size, uploadId: r.uploadId };
    });
    assert.deepEqual({ key: result.key, size: result.size }, { key: 'direct/api.bin', size: 6 * 1024 * 1024 + 3 });
    assert.equal((await storedObject(server.api, 'direct/api.bin')).size, 6 * 1024 * 1024 + 3);
    assert.deepEqual(await page.evaluate(() => window.errorIsUploadError()),
      { instance: true, error: true, code: 'InvalidOptions', field: 'concurrency' },
      `${app}: errors are instances of the exported UploadError class`);
    assert.deepEqual(errors, []);
    await page.close();
    await widgetRendersFirst(server, app, widgetPage, inputSelector, prefix);
  } finally {
    src.cleanup();
    await server.stop();
  }
}

test('the tarball installs into a fresh webpack 5 app, which builds and uploads', { timeout: 300_000 }, () =>
  appUploads('webpack', '#files', '/widget.html'));

test('a webpack app that transpiles node_modules for old browsers (Babel: no async functions) still hashes in the Worker', { timeout: 300_000 }, () =>
  appUploads('webpack-babel', '#files', '/widget.html', 'webpack'));

test('the tarball installs into a fresh Vite app, which builds and uploads', { timeout: 300_000 }, () =>
  appUploads('vite', 's3-upload input[type=file]', '/'));

test('the tarball installs into a fresh React app (Vite): useUpload and UploadInput upload intact; unmount mid-upload leaves no PUT running and nothing open', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 's3mp-react-'));
  temps.push(dir);
  cpSync(path.join(root, 'tests/apps/react'), dir, { recursive: true });
  sh('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], dir);
  sh('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--loglevel=error', tarball], dir);
  sh('npm', ['run', 'build', '--silent'], dir);
  // 80 Mbit/s to the store: a 40 MiB upload lasts about 4 s, time to unmount in its middle.
  const stack = await startFaultyStack({ proxyArgs: ['--bandwidth-mbit', '80'], wwwDir: path.join(dir, 'dist') });
  const small = randomFile('hook.bin', 12 * MIB + 5);
  const many = randomFile('input.bin', 3 * MIB);
  const big = randomFile('unmount.bin', 40 * MIB);
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e));
    const puts = new Set();
    let putsStarted = 0;
    page.on('request', (r) => { if (r.method() === 'PUT') { puts.add(r); putsStarted += 1; } });
    page.on('requestfinished', (r) => puts.delete(r));
    page.on('requestfailed', (r) => puts.delete(r));
    await page.goto(`${stack.api}/`);

    // The hook: one file, to the end.
    await page.setInputFiles('#file', small.file);
    await page.waitForSelector('#state[data-state="done"], #state[data-state="error"]', { timeout: 60_000 });
    assert.equal(await page.getAttribute('#state', 'data-state'), 'done', await page.textContent('#error').catch(() => ''));
    assert.equal(await page.textContent('#result'), 'react-app/hook.bin');
    assert.equal((await storedObject(stack.api, 'react-app/hook.bin')).sha256, small.sha256, 'useUpload: intact');

    // The input component (the widget inside React).
    await page.setInputFiles('#files', many.file);
    await page.waitForSelector('#done li:text-is("react-input/input.bin")', { timeout: 60_000 });
    assert.equal((await storedObject(stack.api, 'react-input/input.bin')).sha256, many.sha256, 'UploadInput: intact');

    // Unmount in the middle of an upload: its PUTs stop, its multipart upload is deleted.
    await page.setInputFiles('#file', big.file);
    await page.waitForFunction(() => Number(document.getElementById('bar').value) >= 10, null, { timeout: 60_000 });
    assert.ok(Number(await page.getAttribute('#bar', 'value')) < 90, 'unmounted mid-upload');
    await page.click('#unmount');
    const startedAtUnmount = putsStarted;
    await page.waitForFunction(() => !document.getElementById('state'), null, { timeout: 5_000 });
    const deadline = Date.now() + 5_000;
    while (puts.size && Date.now() < deadline) await page.waitForTimeout(50);
    assert.equal(puts.size, 0, 'no PUT is running after the unmount');
    await page.waitForTimeout(1_000);
    assert.equal(putsStarted, startedAtUnmount, 'no PUT started after the unmount');
    let open = await stack.openUploads('react-app/');
    for (let i = 0; open.length && i < 30; i++) { await page.waitForTimeout(100); open = await stack.openUploads('react-app/'); }
    assert.deepEqual(open, [], 'the unmounted upload was aborted: nothing left open');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    [small, many, big].forEach((f) => f.cleanup());
    await stack.stop();
  }
});
