// The demo page and its widget in Chromium: real files through the real file
// input (or dropped, or chosen from the keyboard), stored objects read back
// from the embedded store and compared by SHA-256.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, MIB, randomFile, root, slowHashingWorkers, startEndlessPage, startFaultyStack, storedObject, waitWidgetDone } from './helpers.mjs';

let stack;
let browser;

before(async () => {
  // A 200 Mbit/s link, so that there is time to pause and cancel.
  stack = await startFaultyStack({ proxyArgs: ['--bandwidth-mbit', '200'] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const row = (name) => `li:has(.name:text-is(${JSON.stringify(name)}))`;
const rowState = (page, name) => page.getAttribute(`.s3-upload-panel ${row(name)}`, 'data-state');
const waitState = (page, name, states, timeout = 120_000) => page.waitForSelector(
  states.map((s) => `.s3-upload-panel ${row(name)}[data-state="${s}"]`).join(', '), { timeout });

async function openDemo() {
  const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
  const errors = [];
  const dialogs = [];
  page.on('pageerror', (e) => errors.push(e));
  page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
  await page.goto(`${stack.api}/`);
  // The widget renders once the WASM module is loaded.
  await page.waitForSelector('.s3-upload-panel button.choose');
  await page.waitForSelector('s3-upload button.choose');
  return { page, errors, dialogs };
}

test('the demo page uploads a 64 MiB file chosen through the real file input', { timeout: 180_000 }, async () => {
  const src = randomFile('big file.bin', 64 * MIB);
  try {
    const { page, errors } = await openDemo();
    const values = [];
    await page.exposeFunction('recordValue', (v) => values.push(v));
    await page.evaluate(() => {
      document.getElementById('files').addEventListener('upload-progress', (e) => window.recordValue(e.detail.progress.percent));
    });
    await page.setInputFiles('#files', src.file);
    await waitState(page, 'big file.bin', ['done', 'error']);
    assert.equal(await rowState(page, 'big file.bin'), 'done', await page.textContent(`.s3-upload-panel ${row('big file.bin')} .error`));
    const stored = await storedObject(stack.api, 'demo/big file.bin');
    assert.equal(stored.size, src.size);
    assert.equal(stored.sha256, src.sha256, 'stored object has the SHA-256 of the source file');
    assert.ok(values.length > 1, 'upload-progress events fired');
    for (let i = 1; i < values.length; i++) assert.ok(values[i] >= values[i - 1], 'progress never goes back');
    const bar = `.s3-upload-panel ${row('big file.bin')} [role="progressbar"]`;
    assert.equal(await page.getAttribute(bar, 'aria-valuenow'), '100');
    assert.match(await page.getAttribute(bar, 'aria-valuetext'), /^100 %, 64\.0 MiB of 64\.0 MiB$/);
    assert.equal(await page.textContent('#log li'), 'demo/big file.bin (67108864 bytes) download');
    // The stored list offers the object back: its link gets a presigned GET.
    await page.click('#log li a.download');
    await page.waitForSelector('#log li a.download[data-url]');
    const url = await page.getAttribute('#log li a.download', 'data-url');
    const back = Buffer.from(await (await fetch(url)).arrayBuffer());
    assert.equal(createHash('sha256').update(back).digest('hex'), src.sha256, 'the download link serves the stored file');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    src.cleanup();
  }
});

test('three files: one paused and resumed, one cancelled; two stored intact; screenshot', { timeout: 180_000 }, async () => {
  const files = ['alpha.bin', 'bravo.bin', 'charlie.bin'].map((n) => randomFile(n, 40 * MIB));
  try {
    const { page, errors } = await openDemo();
    const events = await page.evaluateHandle(() => {
      const seen = { complete: [], error: [] };
      const input = document.getElementById('files');
      input.addEventListener('upload-complete', (e) => seen.complete.push(e.detail.file.name));
      input.addEventListener('upload-error', (e) => seen.error.push(e.detail.file.name));
      return seen;
    });
    await page.setInputFiles('#files', files.map((f) => f.file));
    await waitState(page, 'bravo.bin', ['uploading']);
    await page.click(`.s3-upload-panel ${row('bravo.bin')} button.pause`);
    assert.equal(await rowState(page, 'bravo.bin'), 'paused');
    await page.click(`.s3-upload-panel ${row('charlie.bin')} button.cancel`);
    await waitState(page, 'charlie.bin', ['cancelled']);
    await page.waitForTimeout(500);
    const pausedAt = await page.getAttribute(`.s3-upload-panel ${row('bravo.bin')} [role="progressbar"]`, 'aria-valuenow');
    await page.waitForTimeout(500);
    assert.equal(await page.getAttribute(`.s3-upload-panel ${row('bravo.bin')} [role="progressbar"]`, 'aria-valuenow'), pausedAt, 'no progress while paused');
    await page.click(`.s3-upload-panel ${row('bravo.bin')} button.resume`);
    await waitState(page, 'alpha.bin', ['done']);
    await waitState(page, 'bravo.bin', ['done']);
    for (const f of files.slice(0, 2)) {
      const stored = await storedObject(stack.api, `demo/${path.basename(f.file)}`);
      assert.equal(stored.sha256, f.sha256, `${f.file} intact`);
    }
    assert.deepEqual(await stack.openUploads('demo/charlie'), [], 'the cancelled upload was deleted');
    assert.equal(await page.isVisible(`.s3-upload-panel ${row('charlie.bin')} button.retry`), true, 'a cancelled file offers Retry');
    assert.deepEqual((await events.jsonValue()).complete.sort(), ['alpha.bin', 'bravo.bin']);

    // The screenshot of the README, made here; it must not be blank.
    const shot = await page.screenshot({ fullPage: true });
    const blank = await browser.newPage({ viewport: { width: 900, height: 700 } });
    await blank.setContent('<html><body></body></html>');
    const blankShot = await blank.screenshot({ fullPage: true });
    await blank.close();
    assert.ok(shot.length > 4 * blankShot.length, `screenshot has content (${shot.length} bytes vs ${blankShot.length} blank)`);
    // Written under target/ (the README's docs/widget.png is a copy made by hand):
    // a test run leaves the tree as it was.
    mkdirSync(path.join(root, 'target/e2e'), { recursive: true });
    writeFileSync(path.join(root, 'target/e2e/widget.png'), shot);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    files.forEach((f) => f.cleanup());
  }
});

test('200 small files chosen at once all upload intact, each hashed (a page that reads many files: Chromium once stalled here)', { timeout: 240_000 }, async () => {
  // 200 files of 20-40 KiB, each its own single PUT with its CRC32: the
  // hashing Worker reads 200 File streams. (Its first version read them with
  // BYOB readers, which Chromium stops answering after some 60-125 files.)
  const dir = path.join(root, 'target', 'many-files');
  mkdirSync(dir, { recursive: true });
  const files = Array.from({ length: 200 }, (_, i) => {
    const bytes = Buffer.alloc(20 * 1024 + i * 100, i % 251);
    bytes.writeUInt32BE(i, 0);
    const file = path.join(dir, `small-${i}.bin`);
    writeFileSync(file, bytes);
    return { file, name: `small-${i}.bin`, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
  const { page, errors } = await openDemo();
  // Timers the page is asked for: each upload's driver keeps its wakeup
  // timer while the next wakeup is no sooner (it once made a new one at
  // every event it handled: ~8 per small file).
  await page.evaluate(() => {
    window.timersSet = 0;
    const real = window.setTimeout;
    window.setTimeout = function (...args) { window.timersSet += 1; return real.apply(this, args); };
  });
  await page.setInputFiles('#files', files.map((f) => f.file));
  await waitWidgetDone(page, 200, { timeoutMs: 180_000, everyMs: 250 });
  const timers = await page.evaluate(() => window.timersSet);
  console.log(`# setTimeout calls on the page: ${timers} for 200 files`);
  assert.ok(timers <= 3 * 200, `${timers} setTimeout calls for 200 files: at most 3 per file`);
  for (const f of files) {
    assert.equal((await storedObject(stack.api, `demo/${f.name}`)).sha256, f.sha256, `${f.name} is stored intact`);
  }
  assert.deepEqual(errors, []);
  await page.close();
});

test('400 files of 1 MiB chosen at once: hashed by at most two Workers at a time, all intact', { timeout: 240_000 }, async () => {
  // Every file asks for its CRC at once. The hashing Worker is replaced
  // every 40 parts; when all were handed over at once, a fresh Worker
  // started for every 40 asked for (ten threads hashing side by side on a
  // thousand files, 25 MiB each). Now the parts wait on the page and a
  // Worker starts only once the one it replaces has ended. (1 MiB and more:
  // the size from which a second Worker may share the parts; the demo's
  // link is held to 200 Mbit/s, so larger files only make the test longer.)
  const files = Array.from({ length: 400 }, (_, i) => randomFile(`two-${i}.bin`, MIB + i));
  try {
    const { page, errors } = await openDemo();
    await page.setInputFiles('#files', files.map((f) => f.file));
    let workers = 0;
    await waitWidgetDone(page, files.length, {
      timeoutMs: 180_000,
      everyMs: 50,
      each: () => { workers = Math.max(workers, page.workers().filter((w) => w.url().startsWith('blob:')).length); },
    });
    assert.ok(workers >= 1 && workers <= 2, `${workers} hashing Workers at once: at most 2`);
    for (const [i, f] of files.entries()) {
      assert.equal((await storedObject(stack.api, `demo/two-${i}.bin`)).sha256, f.sha256, `two-${i}.bin is stored intact`);
    }
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    files.forEach((f) => f.cleanup());
  }
});

test('a large file is hashed by two Workers side by side once the first has answered, and stored intact', { timeout: 120_000 }, async () => {
  // One Worker reads and hashes the parts one after another; where the PUTs
  // are faster than that (Firefox on loopback sent one part at a time, each
  // waiting for its hash), a second one shares the parts once the first has
  // answered (not during the first hash, which a cold start waits for).
  const f = randomFile('side-by-side.bin', 48 * MIB + 5);
  try {
    const { page, errors } = await openDemo();
    // Each Worker's start, answers (not the beats it sends while reading)
    // and end, in the order the page sees them (sampling the page's Workers
    // from here can miss a start and an answer between two looks).
    await page.evaluate(() => {
      const Real = window.Worker;
      const log = (window.hashLog = []);
      let n = 0;
      window.Worker = function (url, options) {
        const id = ++n;
        const w = new Real(url, options);
        log.push(['start', id]);
        w.addEventListener('message', (e) => { if (!e.data?.beat) log.push(['answer', id]); });
        const end = w.terminate.bind(w);
        w.terminate = () => { log.push(['end', id]); end(); };
        return w;
      };
    });
    await page.setInputFiles('#files', f.file);
    await waitState(page, 'side-by-side.bin', ['done', 'error'], 90_000);
    assert.equal(await rowState(page, 'side-by-side.bin'), 'done', 'the upload ended done');
    const log = await page.evaluate(() => window.hashLog);
    const said = log.map(([what, id]) => `${what} ${id}`).join(', ');
    let alive = 0;
    let most = 0;
    for (const [what] of log) {
      alive += what === 'start' ? 1 : what === 'end' ? -1 : 0;
      most = Math.max(most, alive);
    }
    assert.equal(most, 2, `two hashing Workers at once (${said})`);
    const starts = log.flatMap(([what], i) => (what === 'start' ? [i] : []));
    const firstAnswer = log.findIndex(([what, id]) => what === 'answer' && id === 1);
    assert.ok(firstAnswer > 0 && starts[1] > firstAnswer, `the second Worker started once the first had answered (${said})`);
    assert.equal((await storedObject(stack.api, 'demo/side-by-side.bin')).sha256, f.sha256, 'stored intact');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    f.cleanup();
  }
});

/**
 * One file of `size` random bytes chosen in a fresh demo page after
 * `prepare` (run in the page) has changed what the page reads with; resolves
 * to the row's final state, its error text, the seconds it took and the
 * page's `window.probe`, once the stored object (when done) has been compared by SHA-256 and no page
 * error was seen.
 */
async function hashingCase(name, size, prepare, timeout) {
  const src = randomFile(name, size);
  try {
    const { page, errors } = await openDemo();
    await page.evaluate(prepare);
    const t0 = Date.now();
    await page.setInputFiles('#files', src.file);
    await waitState(page, name, ['done', 'error'], timeout);
    const secs = (Date.now() - t0) / 1000;
    const state = await rowState(page, name);
    const error = await page.textContent(`.s3-upload-panel ${row(name)} .error`);
    if (state === 'done') assert.equal((await storedObject(stack.api, `demo/${name}`)).sha256, src.sha256);
    const probe = await page.evaluate(() => window.probe);
    assert.deepEqual(errors, []);
    await page.close();
    return { state, error, secs, probe };
  } finally {
    src.cleanup();
  }
}

// These three mostly wait (15 s watchdogs, a Worker slowed to 128 KiB/s),
// each in its own page and under its own key: side by side, they take the
// longest one's time, not the sum.
describe('hashing or reading that stops or slows', { concurrency: true }, () => {
  test('a hashing Worker that stops answering is replaced and its parts hashed again: the upload ends intact', { timeout: 120_000 }, async () => {
    const r = await hashingCase('stuck.bin', 12 * MIB, () => {
      // The first Worker takes its module but never answers a part (as
      // when Chromium stops answering a Worker's blob reads).
      const Real = window.Worker;
      window.probe = 0;
      window.Worker = function (url, options) {
        const w = new Real(url, options);
        if (window.probe++ === 0) {
          const post = w.postMessage.bind(w);
          w.postMessage = (m, t) => (m && m.id ? undefined : post(m, t));
        }
        return w;
      };
    }, 90_000);
    assert.equal(r.state, 'done', r.error);
    assert.ok(r.secs >= 15, `the silent Worker was given 15 s (done after ${r.secs} s)`);
    // The stuck one replaced by one fresh Worker, and at most the second one
    // that shares large parts once the first has answered: not a Worker per part.
    assert.ok(r.probe === 2 || r.probe === 3, `a fresh Worker hashed the parts (${r.probe} Workers made)`);
  });

  test('a hashing Worker that reads slowly but goes on is not taken for stuck: one Worker, the upload ends intact', { timeout: 150_000 }, async () => {
    // The Worker hashes at 128 KiB/s (its module's CRC step made slow by a
    // busy-wait, in code put before the Worker's own): a 5 MiB file takes
    // some 40 s, well past the 15 s a silent Worker is given. It says it is
    // still reading, so it is left to finish (the build before gave a Worker
    // 15 s plus 4 s per 16 MB it held, and replaced this one after 30 s: the
    // file was hashed again).
    const r = await hashingCase('slow.bin', 5 * MIB, slowHashingWorkers, 120_000);
    assert.equal(r.state, 'done', r.error);
    assert.ok(r.secs >= 32, `the slow read took its time (done after ${r.secs} s)`);
    assert.equal(r.probe, 1, 'the slow Worker was not replaced');
  });

  test('a read of the file on the page that makes no progress ends in FileReadError after 15 s; nothing left open', { timeout: 150_000 }, async () => {
    // No Worker (the page hashes), and a file whose stream never yields (a
    // drive that stopped answering): the upload must end with an error that
    // says so, not wait forever.
    const r = await hashingCase('unreadable.bin', 12 * MIB, () => {
      window.Worker = undefined;
      window.probe = 0;
      Blob.prototype.stream = function () {
        window.probe += 1;
        return new ReadableStream({ pull: () => new Promise(() => {}) });
      };
    }, 90_000);
    assert.equal(r.state, 'error');
    assert.ok(r.probe >= 1, 'the page read the file');
    assert.ok(r.secs >= 15, `the read was given 15 s (error after ${r.secs} s)`);
    assert.match(r.error, /could not be read \(reading it made no progress for 15 s\)/);
    const deadline = Date.now() + 10_000;
    while ((await stack.openUploads('demo/unreadable')).length && Date.now() < deadline) await new Promise((f) => setTimeout(f, 200));
    assert.deepEqual(await stack.openUploads('demo/unreadable'), [], 'no multipart upload left open');
  });
});

test("a page whose Content-Security-Policy forbids blob: workers: the page hashes, the store verifies, the files are intact", { timeout: 180_000 }, async () => {
  // A strict CSP (worker-src 'self', here in the page's <meta>) refuses
  // the hashing Worker, which starts from a blob: URL: each part is then
  // hashed on the page, and its CRC32 still goes to the store, which
  // refuses a wrong one. (The demo page, copied with the policy added.)
  const www = mkdtempSync(path.join(tmpdir(), 's3mp-csp-'));
  cpSync(path.join(root, 'www/dist'), www, { recursive: true });
  const index = path.join(www, 'index.html');
  writeFileSync(index, readFileSync(index, 'utf8').replace('<head>', `<head><meta http-equiv="Content-Security-Policy" content="worker-src 'self'">`));
  const strict = await startFaultyStack({ wwwDir: www });
  const files = [randomFile('csp-big.bin', 12 * MIB + 7), randomFile('csp-small.bin', 100_000)];
  const page = await browser.newPage();
  try {
    const errors = [];
    page.on('pageerror', (e) => errors.push(e));
    await page.goto(`${strict.api}/`);
    await page.waitForSelector('.s3-upload-panel button.choose');
    await page.evaluate(() => {
      window.refused = [];
      document.addEventListener('securitypolicyviolation', (e) => window.refused.push(e.effectiveDirective));
    });
    await page.setInputFiles('#files', files.map((f) => f.file));
    for (const f of files) {
      const name = path.basename(f.file);
      await waitState(page, name, ['done', 'error']);
      assert.equal(await rowState(page, name), 'done', await page.textContent(`.s3-upload-panel ${row(name)} .error`));
      assert.equal((await storedObject(strict.api, `demo/${name}`)).sha256, f.sha256, `${name} stored intact`);
    }
    assert.ok((await page.evaluate(() => window.refused)).includes('worker-src'), 'the page refused the hashing Worker');
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    await strict.stop();
    for (const f of files) f.cleanup();
    rmSync(www, { recursive: true, force: true });
  }
});

test('a hostile file name is shown as text and runs no script', { timeout: 120_000 }, async () => {
  const name = '<img src=x onerror=alert(1)>.bin';
  const src = randomFile(name, 1000);
  try {
    const { page, errors, dialogs } = await openDemo();
    await page.setInputFiles('#files', src.file);
    await waitState(page, name, ['done', 'error']);
    await page.waitForTimeout(300);
    assert.deepEqual(dialogs, [], 'no alert ran');
    assert.equal(await page.locator('.s3-upload-panel img').count(), 0, 'no <img> element was made');
    assert.equal(await page.locator('#log img').count(), 0);
    assert.equal(await page.textContent(`.s3-upload-panel ${row(name)} .name`), name);
    const stored = await storedObject(stack.api, `demo/${name}`);
    assert.equal(stored.sha256, src.sha256);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    src.cleanup();
  }
});

test('an HTML page uploaded, then opened through its download link, is saved and not run on the store\'s origin', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 's3mp-page-'));
  const file = path.join(dir, 'page.html');
  writeFileSync(file, '<title>stored</title><script>document.title = "ran"</script>');
  try {
    const { page, errors } = await openDemo();
    await page.setInputFiles('#files', file);
    await waitState(page, 'page.html', ['done', 'error']);
    assert.equal(await rowState(page, 'page.html'), 'done');
    const link = '#log li[data-key="demo/page.html"] a.download';
    // The link opens a tab; the answer makes it a download (Chromium then
    // closes the tab), where an inline page would have rendered and run.
    const tabs = [];
    const downloaded = new Promise((resolve) => {
      page.on('download', resolve);
      page.context().on('page', (tab) => {
        tabs.push(tab);
        tab.on('download', resolve);
      });
    });
    await page.click(link);
    const download = await Promise.race([downloaded, new Promise((_, reject) => setTimeout(() => reject(new Error('no download within 30 s')), 30_000))]);
    assert.equal(download.suggestedFilename(), 'page.html');
    assert.equal(readFileSync(await download.path(), 'utf8'), readFileSync(file, 'utf8'), 'the saved file is the page');
    for (const tab of tabs) assert.notEqual(await tab.title().catch(() => ''), 'ran', 'the page did not run');
    // Its type is kept: an <img> or a fetch reads the object as it was stored.
    const res = await fetch(await page.getAttribute(link, 'data-url'));
    assert.equal(res.headers.get('content-type'), 'text/html');
    assert.match(res.headers.get('content-disposition'), /^attachment; filename="page\.html"/);
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keyboard only: choose, pause, resume', { timeout: 120_000 }, async () => {
  const src = randomFile('keys.bin', 48 * MIB);
  try {
    const { page } = await openDemo();
    const focused = () => page.evaluate(() => {
      let a = document.activeElement;
      while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement;
      return a ? (a.getAttribute('aria-label') || a.textContent) : null;
    });
    await page.bringToFront();
    // Wait for the chooser first: Playwright intercepts file choosers only once
    // asked to, and a chooser opened before that is a native one it never sees.
    const chooserPromise = page.waitForEvent('filechooser', { timeout: 30_000 });
    chooserPromise.catch(() => {}); // awaited below; no unhandled rejection if an assertion fails first
    for (let i = 0; i < 10 && (await focused()) !== 'Choose files'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Choose files', 'the choose button is reachable by Tab');
    await page.keyboard.press('Enter');
    const chooser = await chooserPromise;
    await chooser.setFiles(src.file);
    await waitState(page, 'keys.bin', ['uploading']);
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Pause keys.bin');
    await page.keyboard.press('Enter');
    assert.equal(await rowState(page, 'keys.bin'), 'paused');
    assert.equal(await focused(), 'Resume keys.bin', 'focus moves to Resume');
    await page.keyboard.press('Enter');
    await waitState(page, 'keys.bin', ['done']);
    assert.equal((await storedObject(stack.api, 'demo/keys.bin')).sha256, src.sha256);
    await page.close();
  } finally {
    src.cleanup();
  }
});

test('the custom element uploads, is styled by custom properties, and leaks no CSS', { timeout: 120_000 }, async () => {
  const src = randomFile('element.bin', 9 * MIB);
  try {
    const { page } = await openDemo();
    const styleCount = await page.evaluate(() => document.querySelectorAll('style, link[rel=stylesheet]').length);
    await page.evaluate(() => document.getElementById('element').style.setProperty('--s3u-accent', 'rgb(255, 0, 0)'));
    await page.setInputFiles('s3-upload input[type=file]', src.file);
    await page.waitForSelector('s3-upload li[data-state="uploading"], s3-upload li[data-state="done"]');
    assert.equal(await page.evaluate(() => getComputedStyle(document.querySelector('s3-upload').shadowRoot.querySelector('.fill')).backgroundColor), 'rgb(255, 0, 0)');
    await page.waitForSelector('s3-upload li[data-state="done"]', { timeout: 60_000 });
    assert.equal((await storedObject(stack.api, 'element/element.bin')).sha256, src.sha256);
    assert.equal(await page.evaluate(() => document.querySelectorAll('style, link[rel=stylesheet]').length), styleCount, 'no style added to the page');
    // The page's own buttons keep the page's look: the widget's button rules stay in its shadow root.
    const pageButton = await page.evaluate(() => {
      const b = document.createElement('button');
      document.body.append(b);
      return getComputedStyle(b).borderRadius;
    });
    assert.equal(pageButton, '0px');
    await page.close();
  } finally {
    src.cleanup();
  }
});

test('files dropped on the widget upload', { timeout: 120_000 }, async () => {
  const { createHash } = await import('node:crypto');
  const size = 6 * MIB + 5;
  const expected = Buffer.alloc(size);
  for (let i = 0; i < size; i++) expected[i] = (i * 7) % 251;
  const { page, errors } = await openDemo();
  await page.evaluate((n) => {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = (i * 7) % 251;
    const dt = new DataTransfer();
    dt.items.add(new File([bytes], 'dropped.bin', { type: 'application/octet-stream' }));
    const zone = document.querySelector('.s3-upload-panel').shadowRoot.querySelector('.zone');
    zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
    zone.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, size);
  await waitState(page, 'dropped.bin', ['done', 'error']);
  assert.equal(await rowState(page, 'dropped.bin'), 'done');
  const stored = await storedObject(stack.api, 'demo/dropped.bin');
  assert.equal(stored.sha256, createHash('sha256').update(expected).digest('hex'));
  assert.deepEqual(errors, []);
  await page.close();
});

test('detach() cancels what runs and leaves no listener on the input; clear() drops finished rows', { timeout: 180_000 }, async () => {
  const small = randomFile('detach-small.bin', 1000);
  const big = randomFile('detach-big.bin', 40 * MIB);
  const after = randomFile('detach-after.bin', 1000);
  try {
    const { page, errors } = await openDemo();
    // Inits on their way: one answered after detach() creates an upload,
    // which the cancelled upload then deletes.
    let inits = 0;
    page.on('request', (r) => { if (r.url().endsWith('/multipart/init')) inits += 1; });
    const initDone = (r) => { if (r.url().endsWith('/multipart/init')) inits -= 1; };
    page.on('requestfinished', initDone);
    page.on('requestfailed', initDone);
    const handle = await page.evaluateHandle(() => {
      const input = document.createElement('input');
      input.type = 'file';
      input.id = 'detach-input';
      input.multiple = true;
      document.body.append(input);
      // Counts the input's live `change` listeners.
      const live = new Set();
      const add = input.addEventListener.bind(input);
      const remove = input.removeEventListener.bind(input);
      input.addEventListener = (t, f, o) => { if (t === 'change') live.add(f); add(t, f, o); };
      input.removeEventListener = (t, f, o) => { if (t === 'change') live.delete(f); remove(t, f, o); };
      const widget = window.s3mpWidget.attach(input, { endpoint: '/api', keyPrefix: 'detach/' });
      return { widget, live: () => live.size };
    });
    const state = (name) => page.evaluate(([h, n]) => h.widget.uploads.find((u) => u.file.name === n)?.state, [handle, name]);
    await page.setInputFiles('#detach-input', small.file);
    await page.waitForFunction(([h]) => h.widget.uploads[0]?.state === 'done', [handle], { timeout: 60_000 });
    await page.evaluate(([h]) => h.widget.clear(), [handle]);
    assert.equal(await page.evaluate(([h]) => h.widget.uploads.length, [handle]), 0, 'clear() dropped the finished row');
    assert.equal(await page.evaluate(([h]) => h.widget.element.shadowRoot.querySelectorAll('li').length, [handle]), 0);

    await page.setInputFiles('#detach-input', big.file);
    await page.waitForFunction(([h]) => h.widget.uploads[0]?.state === 'uploading', [handle]);
    assert.equal(await state('detach-big.bin'), 'uploading');
    assert.equal(await page.evaluate(([h]) => h.live(), [handle]), 1);
    await page.evaluate(([h]) => h.widget.detach(), [handle]);
    assert.equal(await page.evaluate(([h]) => h.live(), [handle]), 0, 'no change listener left on the input');
    assert.equal(await page.evaluate(([h]) => h.widget.element.isConnected, [handle]), false, 'the panel is gone');
    // The running upload was cancelled: its multipart upload is deleted
    // (once init has answered, if it was on its way).
    const deadline = Date.now() + 30_000;
    while ((inits > 0 || (await stack.openUploads('detach/')).length) && Date.now() < deadline) await page.waitForTimeout(200);
    assert.deepEqual(await stack.openUploads('detach/'), [], 'no multipart upload left open');
    // A file chosen after detach() uploads nothing.
    await page.setInputFiles('#detach-input', after.file);
    await page.waitForTimeout(1500);
    await assert.rejects(storedObject(stack.api, 'detach/detach-after.bin'), /HTTP 404/, 'nothing stored after detach()');
    assert.deepEqual(await stack.openUploads('detach/'), [], 'nothing started after detach()');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    small.cleanup();
    big.cleanup();
    after.cleanup();
  }
});

test("a backend endpoint that answers with an endless page: 8 MiB of it read, then the upload fails at once with the page's first words", { timeout: 120_000 }, async () => {
  const endless = await startEndlessPage();
  const file = randomFile('endless.bin', 64 * 1024);
  const { page, errors } = await openDemo();
  try {
    await page.evaluate((e) => {
      const input = document.createElement('input');
      input.type = 'file';
      input.id = 'endless-input';
      document.body.append(input);
      window.endless = window.s3mpWidget.attach(input, { endpoint: e, retryDelays: [0] });
    }, endless.endpoint);
    const t0 = Date.now();
    await page.setInputFiles('#endless-input', file.file);
    // The per-call timeout is 30 s: reading on until then would not end here.
    await page.waitForFunction(() => window.endless.uploads[0]?.state === 'error', null, { timeout: 20_000 });
    const message = await page.evaluate(() => window.endless.element.shadowRoot.querySelector('li .error').textContent);
    assert.ok(Date.now() - t0 < 20_000);
    const deadline = Date.now() + 5000;
    while (endless.closed() < 1 && Date.now() < deadline) await page.waitForTimeout(100);
    assert.ok(endless.closed() >= 1, 'the reply was let go');
    await endless.checkLetGo(message);
    assert.deepEqual(errors, []);
  } finally {
    await page.close();
    endless.stop();
    file.cleanup();
  }
});
