// A file over 4 GiB through the demo page in Chromium, default options: every
// offset past 2^31 and 2^32 (the file's slices, the hashing Worker's reads,
// the content sample's middle, progress, the whole object's CRC32 and the
// store's complete) is exercised, the stored object compared by SHA-256, and
// the browser's memory (every process of it, from /proc) must stay bounded:
// a client that buffered the file, or kept each part's bytes, would hold GiBs.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, markedFile, MIB, processWith, startServer, storedObject, treeRssMiB } from './helpers.mjs';

let stack;
let browser;
let browserPid;

before(async () => {
  stack = await startServer();
  const marker = `--s3mp-e2e-large=${process.pid}-${Date.now()}`;
  browser = await launchBrowser([marker]);
  browserPid = processWith(marker);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

// 4 GiB + 7 MiB + 12,345 bytes: past 2^32, and a last part of no round size.
const SIZE = 4 * 1024 * MIB + 7 * MIB + 12_345;
// What the whole browser may hold above idle during the upload. Measured here:
// 75 MiB at 1 GiB, 108-123 MiB at 4 GiB (garbage collected late, not kept).
const MEMORY_BOUND_MIB = 512;

test('a file over 4 GiB: stored intact, the browser\'s memory bounded, progress never back', { timeout: 900_000 }, async () => {
  assert.ok(browserPid, 'the browser\'s process is found by its marker');
  const src = await markedFile('over4gib.bin', SIZE);
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e));
    await page.goto(`${stack.api}/`);
    await page.waitForSelector('.s3-upload-panel button.choose');
    const values = [];
    await page.exposeFunction('recordValue', (v) => values.push(v));
    await page.evaluate(() => {
      const input = document.getElementById('files');
      input.addEventListener('upload-progress', (e) => window.recordValue(e.detail.progress.percent));
    });
    await page.waitForTimeout(1000);
    const idle = treeRssMiB(browserPid);
    let peak = idle;
    const sampler = setInterval(() => { peak = Math.max(peak, treeRssMiB(browserPid)); }, 250);
    try {
      await page.setInputFiles('#files', src.file);
      const row = '.s3-upload-panel li:has(.name:text-is("over4gib.bin"))';
      await page.waitForSelector(`${row}[data-state="done"], ${row}[data-state="error"]`, { timeout: 800_000 });
      assert.equal(await page.getAttribute(row, 'data-state'), 'done', await page.textContent(`${row} .error`));
    } finally {
      clearInterval(sampler);
    }
    assert.ok(peak - idle < MEMORY_BOUND_MIB,
      `the browser held ${(peak - idle).toFixed(0)} MiB above idle (${idle.toFixed(0)} MiB) for a ${(SIZE / MIB).toFixed(0)} MiB file; bound ${MEMORY_BOUND_MIB}`);
    assert.ok(values.length > 10, 'progress was reported');
    for (let i = 1; i < values.length; i++) assert.ok(values[i] >= values[i - 1], `progress went back: ${values[i - 1]} then ${values[i]}`);
    assert.equal(values.at(-1), 100);
    assert.equal(await page.textContent('#log li'), `demo/over4gib.bin (${SIZE} bytes) download`);
    const stored = await storedObject(stack.api, 'demo/over4gib.bin');
    assert.equal(stored.size, SIZE);
    assert.equal(stored.sha256, src.sha256, 'the stored object has the SHA-256 of the source file');
    assert.deepEqual(await stack.openUploads('demo/'), [], 'no multipart upload left open');
    assert.deepEqual(errors, []);
    await page.close();
  } finally {
    src.cleanup();
  }
});
