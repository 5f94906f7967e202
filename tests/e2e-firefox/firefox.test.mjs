// End to end in a real Firefox ESR, driven over classic WebDriver by
// selenium-webdriver and geckodriver (Playwright 1.65 cannot open a page in
// Firefox ESR 153 over BiDi). The demo page's widget, the seed's example and
// a resume after a reload, each checked by the SHA-256 of the stored object.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { By, until } from 'selenium-webdriver';
import { markedFile, MIB, randomFile, root, slowHashingWorkers, startEndlessPage, startFaultyStack, RECORD_FILE_PUTS, startLinkStack, startServer, storedObject, treeRssMiB } from '../e2e/helpers.mjs';
import { launchFirefox } from './launch.mjs';

let driver;

before(async () => {
  driver = await launchFirefox();
  const caps = await driver.getCapabilities();
  assert.equal(caps.getBrowserName(), 'firefox', 'a real Firefox runs these tests');
});

after(async () => {
  await driver?.quit();
});

/** In the page: `li` is the widget row of file `name` (rows live in the panel's shadow root). */
const findRow = `
  const [selector, name] = arguments;
  const root = document.querySelector(selector)?.shadowRoot;
  const li = root ? [...root.querySelectorAll('li')].find((r) => r.querySelector('.name')?.textContent === name) : null;
`;

const rowState = (name, selector = '.s3-upload-panel') =>
  driver.executeScript(`${findRow} return li ? li.getAttribute('data-state') : null;`, selector, name);

const rowPercent = (name, selector = '.s3-upload-panel') => driver.executeScript(
  `${findRow} return li ? Number(li.querySelector('[role="progressbar"]').getAttribute('aria-valuenow')) : null;`,
  selector, name);

async function clickRow(name, button, selector = '.s3-upload-panel') {
  const clicked = await driver.executeScript(`${findRow}
    const b = li && li.querySelector('button.${button}');
    if (!b || b.hidden || b.disabled) return false;
    b.click();
    return true;`, selector, name);
  assert.ok(clicked, `${name}: ${button} button clicked`);
}

async function waitFor(what, fn, timeout = 120_000) {
  let last;
  try {
    return await driver.wait(async () => {
      try {
        return await fn();
      } catch (e) {
        last = e;
        return false;
      }
    }, timeout, what);
  } catch (e) {
    throw new Error(`${e.message}${last ? ` (last error: ${last.message})` : ''}`);
  }
}

/** The harness page's upload settles within `timeout` ms, and ends done. */
async function assertHarnessDone(timeout) {
  const state = await driver.wait(
    until.elementLocated(By.css('#state[data-state="done"], #state[data-state="error"], #state[data-state="aborted"]')), timeout);
  assert.equal(await state.getAttribute('data-state'), 'done', await driver.findElement(By.id('error')).getText());
}

async function waitState(name, states, timeout = 180_000) {
  await waitFor(`${name} reaches ${states.join('/')}`, async () => states.includes(await rowState(name)), timeout);
  return rowState(name);
}

test('Firefox: the demo widget uploads 64 MiB, pauses and resumes it, cancels another; stored intact', { timeout: 400_000 }, async () => {
  // A 200 Mbit/s link, so that there is time to pause and cancel.
  const stack = await startFaultyStack({ proxyArgs: ['--bandwidth-mbit', '200'] });
  const big = randomFile('firefox big.bin', 64 * MIB);
  const other = randomFile('firefox cancel.bin', 40 * MIB);
  try {
    await driver.get(`${stack.api}/`);
    await waitFor('the widget renders', async () => driver.executeScript(
      "return !!document.querySelector('.s3-upload-panel')?.shadowRoot?.querySelector('button.choose')"));
    const input = await driver.findElement(By.id('files'));
    await input.sendKeys(`${big.file}\n${other.file}`);
    await waitState('firefox big.bin', ['uploading']);
    await waitFor('some progress', async () => (await rowPercent('firefox big.bin')) > 5);
    await clickRow('firefox big.bin', 'pause');
    assert.equal(await rowState('firefox big.bin'), 'paused');
    await clickRow('firefox cancel.bin', 'cancel');
    assert.equal(await waitState('firefox cancel.bin', ['cancelled']), 'cancelled');
    await driver.sleep(300);
    const pausedAt = await rowPercent('firefox big.bin');
    await driver.sleep(700);
    assert.equal(await rowPercent('firefox big.bin'), pausedAt, 'no progress while paused');
    assert.ok(pausedAt < 100, `paused before the end (${pausedAt} %)`);
    await clickRow('firefox big.bin', 'resume');
    assert.equal(await waitState('firefox big.bin', ['done', 'error']), 'done');
    const stored = await storedObject(stack.api, 'demo/firefox big.bin');
    assert.equal(stored.size, big.size);
    assert.equal(stored.sha256, big.sha256, 'the stored object has the SHA-256 of the file');
    await waitFor('the cancelled upload is deleted', async () => (await stack.openUploads('demo/')).length === 0, 30_000);
  } finally {
    big.cleanup();
    other.cleanup();
    await stack.stop();
  }
});

test('Firefox: a file over 4 GiB through the demo widget: stored intact, the browser\'s memory bounded, progress never back', { timeout: 900_000 }, async () => {
  // Offsets past 2^31 and 2^32 in Firefox's slices, the hashing Worker's
  // reads, the content sample and progress (tests/e2e/large-file.test.mjs
  // does the same in Chromium).
  const size = 4 * 1024 * MIB + 7 * MIB + 12_345;
  const pid = (await driver.getCapabilities()).get('moz:processID');
  assert.ok(pid, 'geckodriver names the Firefox process');
  const stack = await startServer();
  const src = await markedFile('firefox over4gib.bin', size);
  try {
    await driver.get(`${stack.api}/`);
    await waitFor('the widget renders', async () => driver.executeScript(
      "return !!document.querySelector('.s3-upload-panel')?.shadowRoot?.querySelector('button.choose')"));
    await driver.executeScript(`window.percents = [];
      document.getElementById('files').addEventListener('upload-progress', (e) => window.percents.push(e.detail.progress.percent));`);
    await driver.sleep(1000);
    const idle = treeRssMiB(pid);
    let peak = idle;
    const sampler = setInterval(() => { peak = Math.max(peak, treeRssMiB(pid)); }, 250);
    try {
      await driver.findElement(By.id('files')).sendKeys(src.file);
      assert.equal(await waitState('firefox over4gib.bin', ['done', 'error'], 800_000), 'done');
    } finally {
      clearInterval(sampler);
    }
    // Measured: 48 MiB above idle (Chromium: 108-123 MiB); a client that
    // held the file, or every part's bytes, would hold GiBs.
    assert.ok(peak - idle < 512, `Firefox held ${(peak - idle).toFixed(0)} MiB above idle (${idle.toFixed(0)} MiB) for a ${(size / MIB).toFixed(0)} MiB file`);
    const percents = await driver.executeScript('return window.percents');
    assert.ok(percents.length > 10, 'progress was reported');
    for (let i = 1; i < percents.length; i++) assert.ok(percents[i] >= percents[i - 1], `progress went back: ${percents[i - 1]} then ${percents[i]}`);
    assert.equal(percents.at(-1), 100);
    const stored = await storedObject(stack.api, 'demo/firefox over4gib.bin');
    assert.equal(stored.size, size);
    assert.equal(stored.sha256, src.sha256, 'the stored object has the SHA-256 of the file');
    assert.deepEqual(await stack.openUploads('demo/'), [], 'no multipart upload left open');
  } finally {
    src.cleanup();
    await stack.stop();
  }
});

test("Firefox: the seed's browser example uploads a 12 MiB file intact", { timeout: 180_000 }, async () => {
  const server = await startServer();
  const src = randomFile('largefile.zip', 12 * MIB + 12345);
  try {
    await driver.get(`${server.api}/seed-example.html`);
    await driver.findElement(By.id('fileInput')).sendKeys(src.file);
    await driver.findElement(By.id('run')).click();
    const state = await driver.wait(until.elementLocated(By.css('#state[data-state="done"], #state[data-state="error"]')), 150_000);
    assert.equal(await state.getAttribute('data-state'), 'done', await state.getText());
    const stored = await storedObject(server.api, 'myfiles/largefile.zip');
    assert.equal(stored.size, src.size);
    assert.equal(stored.sha256, src.sha256);
  } finally {
    src.cleanup();
    await server.stop();
  }
});

test('Firefox: a reload at about 50 %, then the same file again: resumed, only the missing parts sent, intact', { timeout: 400_000 }, async () => {
  const stack = await startFaultyStack({ proxyArgs: ['--bandwidth-mbit', '100'] });
  const SIZE = 64 * MIB;
  const src = randomFile('firefox-reload.bin', SIZE);
  try {
    const harnessReady = () => driver.wait(until.elementLocated(By.css('body[data-ready="true"]')), 30_000);
    await driver.get(`${stack.api}/harness.html?partSize=5242880&concurrency=2`);
    await harnessReady();
    await driver.findElement(By.id('file')).sendKeys(src.file);
    const status = () => driver.executeScript(
      "return ['bar', 'state', 'error'].map((id) => document.getElementById(id)).map((e) => e.value ?? e.dataset.state ?? e.textContent)");
    await waitFor('50 %', async () => Number((await status())[0]) >= 50).catch(async (e) => {
      throw new Error(`${e.message}; page: ${JSON.stringify(await status())}`);
    });
    await driver.navigate().refresh();
    await harnessReady();
    const sentBefore = (await stack.stats()).matched_body_bytes;
    await stack.resetStats();
    await driver.findElement(By.id('file')).sendKeys(src.file);
    await assertHarnessDone(300_000);
    assert.match(await driver.findElement(By.id('resumed')).getText(), /resumed upload .*: [1-9]\d* parts/);
    const after = (await stack.stats()).matched_body_bytes;
    assert.ok(sentBefore > 0 && after < SIZE, `after the reload ${after} bytes were sent, fewer than ${SIZE}`);
    const stored = await storedObject(stack.api, 'demo/firefox-reload.bin');
    assert.equal(stored.sha256, src.sha256, 'the resumed object is intact');
    assert.deepEqual(await stack.openUploads('demo/'), [], 'no multipart upload left open');
  } finally {
    src.cleanup();
    await stack.stop();
  }
});

test('Firefox: a reload while init is on its way, then the same file again: init asked with the journaled token, the first upload gets the file, nothing left open', { timeout: 300_000 }, async () => {
  // The first init creates the upload; its reply is held 5 s, and the page
  // is reloaded meanwhile.
  const stack = await startFaultyStack({ serverArgs: ['--fault-rate', '1', '--fault-max', '1', '--fault-calls', 'init', '--fault-delay-ms', '5000'] });
  const src = randomFile('firefox-reload-init.bin', 12 * MIB);
  try {
    const harnessReady = () => driver.wait(until.elementLocated(By.css('body[data-ready="true"]')), 30_000);
    await driver.get(`${stack.api}/harness.html`);
    await harnessReady();
    await driver.findElement(By.id('file')).sendKeys(src.file);
    const created = await waitFor('the first init created an upload',
      async () => (await stack.openUploads('demo/'))[0], 10_000);
    await driver.navigate().refresh();
    await harnessReady();
    await driver.findElement(By.id('file')).sendKeys(src.file);
    await assertHarnessDone(120_000);
    const stored = await storedObject(stack.api, 'demo/firefox-reload-init.bin');
    assert.equal(stored.sha256, src.sha256, 'the object is intact');
    assert.ok(created, 'an upload was open during the reload');
    assert.deepEqual(await stack.openUploads('demo/'), [], 'no multipart upload left open: the first init\'s was finished');
  } finally {
    src.cleanup();
    await stack.stop();
  }
});

test('Firefox: one PUT corrupted in flight and one ETag altered on its way back: the part is refused and sent again, complete is repaired, intact', { timeout: 300_000 }, async () => {
  const stack = await startFaultyStack({ proxyArgs: ['--flip-nth', '2', '--alter-etag-nth', '4'] });
  const src = randomFile('firefox-integrity.bin', 24 * MIB);
  try {
    await driver.get(`${stack.api}/harness.html?partSize=5242880`);
    await driver.wait(until.elementLocated(By.css('body[data-ready="true"]')), 30_000);
    await driver.findElement(By.id('file')).sendKeys(src.file);
    await assertHarnessDone(240_000);
    const stats = await stack.stats();
    assert.equal(stats.flipped, 1, 'one PUT body was corrupted in flight');
    assert.equal(stats.etag_altered, 1, "one PUT's ETag was altered on its way back");
    assert.equal(Number(await driver.findElement(By.id('retries')).getText()), 1, 'the refused part was sent again, once');
    const stored = await storedObject(stack.api, 'demo/firefox-integrity.bin');
    assert.equal(stored.sha256, src.sha256, 'the object is intact');
    assert.deepEqual(await stack.openUploads('demo/'), [], 'no multipart upload left open');
  } finally {
    src.cleanup();
    await stack.stop();
  }
});

test('Firefox: a hashing Worker that reads slowly but goes on is left to finish: one Worker, intact', { timeout: 240_000 }, async () => {
  // The Worker's CRC step made slow (128 KiB/s, by code put before the
  // Worker's own): a 5 MiB file takes some 40 s, past the 15 s a silent
  // Worker is given. It says each second that it is still reading, so the
  // page's watchdog leaves it be (a second Worker would mean it was taken
  // for stuck and the file hashed again).
  const server = await startServer();
  const src = randomFile('firefox-slow.bin', 5 * MIB);
  try {
    await driver.get(`${server.api}/`);
    await waitFor('the widget renders', async () => driver.executeScript(
      "return !!document.querySelector('.s3-upload-panel')?.shadowRoot?.querySelector('button.choose')"));
    await driver.executeScript(slowHashingWorkers);
    const t0 = Date.now();
    await driver.findElement(By.id('files')).sendKeys(src.file);
    assert.equal(await waitState('firefox-slow.bin', ['done', 'error'], 200_000), 'done');
    const secs = (Date.now() - t0) / 1000;
    assert.ok(secs >= 32, `the slow read took its time (done after ${secs} s)`);
    assert.equal(await driver.executeScript('return window.probe'), 1, 'the slow Worker was not replaced');
    assert.equal((await storedObject(server.api, 'demo/firefox-slow.bin')).sha256, src.sha256, 'the object is intact');
  } finally {
    src.cleanup();
    await server.stop();
  }
});

test("Firefox: a page whose Content-Security-Policy forbids blob: workers: the page hashes, the store verifies, the files are intact", { timeout: 240_000 }, async () => {
  // Firefox refuses the hashing Worker (started from a blob: URL) in its own
  // way; each part is then hashed on the page, and its CRC32 still goes to
  // the store, which refuses a wrong one. (The demo page, copied with the
  // policy added in its <meta>.)
  const www = mkdtempSync(path.join(tmpdir(), 's3mp-csp-'));
  cpSync(path.join(root, 'www/dist'), www, { recursive: true });
  const index = path.join(www, 'index.html');
  writeFileSync(index, readFileSync(index, 'utf8').replace('<head>', `<head><meta http-equiv="Content-Security-Policy" content="worker-src 'self'">`));
  const strict = await startFaultyStack({ wwwDir: www, proxyArgs: ['--flip-nth', '2'] });
  const files = [randomFile('ff-csp-big.bin', 12 * MIB + 7), randomFile('ff-csp-small.bin', 100_000)];
  try {
    await driver.get(`${strict.api}/`);
    await waitFor('the widget renders', async () => driver.executeScript(
      "return !!document.querySelector('.s3-upload-panel')?.shadowRoot?.querySelector('button.choose')"));
    await driver.executeScript(`
      window.refused = [];
      document.addEventListener('securitypolicyviolation', (e) => window.refused.push(e.effectiveDirective));`);
    await driver.findElement(By.id('files')).sendKeys(files.map((f) => f.file).join('\n'));
    for (const f of files) {
      const name = path.basename(f.file);
      assert.equal(await waitState(name, ['done', 'error']), 'done', name);
      assert.equal((await storedObject(strict.api, `demo/${name}`)).sha256, f.sha256, `${name} stored intact`);
    }
    assert.ok((await driver.executeScript('return window.refused')).includes('worker-src'), 'the page refused the hashing Worker');
    assert.equal((await strict.stats()).flipped, 1, 'one PUT was corrupted in flight, refused by its CRC and sent again');
  } finally {
    await strict.stop();
    for (const f of files) f.cleanup();
    rmSync(www, { recursive: true, force: true });
  }
});

test("Firefox: a backend endpoint that answers with an endless page: 8 MiB of it read, then the upload fails at once with the page's first words", { timeout: 120_000 }, async () => {
  const server = await startServer();
  const endless = await startEndlessPage();
  const file = randomFile('ff-endless.bin', 64 * 1024);
  try {
    await driver.get(`${server.api}/`);
    await waitFor('the widget renders', async () => driver.executeScript(
      "return !!document.querySelector('.s3-upload-panel')?.shadowRoot?.querySelector('button.choose')"));
    await driver.executeScript(`
      const input = document.createElement('input');
      input.type = 'file';
      input.id = 'endless-input';
      document.body.append(input);
      window.endless = window.s3mpWidget.attach(input, { endpoint: arguments[0], retryDelays: [0] });`, endless.endpoint);
    const t0 = Date.now();
    await driver.findElement(By.id('endless-input')).sendKeys(file.file);
    // The per-call timeout is 30 s: reading on until then would not end here.
    await waitFor('the upload fails', async () => driver.executeScript("return window.endless.uploads[0]?.state === 'error'"), 20_000);
    const message = await driver.executeScript("return window.endless.element.shadowRoot.querySelector('li .error').textContent");
    assert.ok(Date.now() - t0 < 20_000);
    await waitFor('the reply is let go', async () => endless.closed() >= 1, 5000);
    await endless.checkLetGo(message);
  } finally {
    endless.stop();
    await server.stop();
    file.cleanup();
  }
});

// Files chosen at once on a far link (tests/e2e/far-link.test.mjs does the
// same in Chromium): the first two begin at once, the others wait for the
// first PUT to measure the link, then begin together, cut for it (one part
// of 64 MiB each, not six of 10.7); a file cancelled while it waits ends at
// once. Every object is the file.
test('Firefox: six files of 64 MiB at once on a far link: those that wait for the link go in larger parts, intact; one cancelled while it waits', { timeout: 300_000 }, async () => {
  const stack = await startLinkStack(['--rtt-ms', '150', '--window-kib', '4096']);
  const files = Array.from({ length: 6 }, (_, i) => randomFile(`ff-batch-${i}.bin`, 64 * MIB));
  const cancelled = randomFile('ff-batch-cancelled.bin', 64 * MIB);
  try {
    await driver.get(`${stack.page}/`);
    await waitFor('the widget renders', async () => driver.executeScript(
      "return !!document.querySelector('.s3-upload-panel')?.shadowRoot?.querySelector('button.choose')"));
    // Each part PUT as the page sends it: [object path, part number, bytes].
    await driver.executeScript(RECORD_FILE_PUTS);
    await driver.findElement(By.id('files')).sendKeys([...files, cancelled].map((f) => f.file).join('\n'));
    await waitFor('the last row shows', async () => (await rowState('ff-batch-cancelled.bin')) !== null, 10_000);
    await clickRow('ff-batch-cancelled.bin', 'cancel');
    assert.equal(await waitState('ff-batch-cancelled.bin', ['cancelled'], 10_000), 'cancelled');
    for (const i of files.keys()) assert.equal(await waitState(`ff-batch-${i}.bin`, ['done', 'error'], 240_000), 'done', `ff-batch-${i}.bin`);
    for (const [i, f] of files.entries()) {
      assert.equal((await storedObject(stack.api, `demo/ff-batch-${i}.bin`)).sha256, f.sha256, `ff-batch-${i}.bin is stored intact`);
    }
    await assert.rejects(storedObject(stack.api, 'demo/ff-batch-cancelled.bin'), 'the cancelled file is not stored');
    await waitFor('nothing left open', async () => (await stack.openUploads('demo/')).length === 0, 30_000);
    const puts = await driver.executeScript('return window.puts');
    assert.ok(!puts.some(([file]) => file.endsWith('ff-batch-cancelled.bin')), 'the cancelled file sent no part');
    const byFile = new Map();
    for (const [file, n, bytes] of puts) byFile.set(file, [...(byFile.get(file) ?? []), [n, bytes]]);
    for (const [file, parts] of byFile) {
      const numbers = parts.map(([n]) => n).sort((a, b) => a - b);
      assert.deepEqual(numbers, numbers.map((_, i) => i + 1), `${file}: each part sent once`);
    }
    console.log(`Firefox, six files of 64 MiB on a far link: ${puts.length} part PUTs; parts (MiB) by file: ${[...byFile.values()].map((parts) => parts.map(([, b]) => (b / MIB).toFixed(1)).join('+')).join(', ')}`);
    const larger = [...byFile.values()].filter((parts) => parts.length < 6 && parts.every(([, b]) => b > 11 * MIB));
    assert.ok(larger.length >= 3, `at least three files waited for the link and went in larger parts: ${larger.length}`);
  } finally {
    files.forEach((f) => f.cleanup());
    cancelled.cleanup();
    await stack.stop();
  }
});
