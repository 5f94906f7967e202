// The demo page uploads a 64 MiB file chosen through the real file input; the
// stored object is read back from the embedded S3 store and compared by SHA-256.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, MIB, randomFile, startServer, storedObject } from './helpers.mjs';

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('demo page uploads a 64 MiB file intact', { timeout: 180_000 }, async () => {
  const src = randomFile('big file.bin', 64 * MIB);
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e));
    await page.goto(`${server.api}/`);
    const percents = [];
    await page.exposeFunction('recordPercent', (v) => percents.push(v));
    await page.evaluate(() => {
      new MutationObserver(() => window.recordPercent(Number(document.getElementById('bar').value)))
        .observe(document.getElementById('bar'), { attributes: true });
    });
    await page.setInputFiles('#file', src.file);
    await page.waitForSelector('#state[data-state="done"], #state[data-state="error"]', { timeout: 170_000 });
    const error = await page.textContent('#error');
    assert.equal(await page.getAttribute('#state', 'data-state'), 'done', `upload failed: ${error}`);
    const key = await page.textContent('#result-key');
    assert.equal(key, 'demo/big file.bin');
    const stored = await storedObject(server.api, key);
    assert.equal(stored.size, src.size);
    assert.equal(stored.sha256, src.sha256, 'stored object has the SHA-256 of the source file');
    const href = await page.getAttribute('#download', 'href');
    assert.ok(href.startsWith('http://127.0.0.1:'), `download link: ${href}`);
    assert.ok(percents.length > 1, 'progress was shown');
    for (let i = 1; i < percents.length; i++) assert.ok(percents[i] >= percents[i - 1], `progress went back: ${percents}`);
    assert.equal(percents.at(-1), 100);
    assert.deepEqual(errors, []);
  } finally {
    src.cleanup();
  }
});
