// The seed document's "Browser Implementation Example", unchanged, runs in
// Chromium against the reference server; the object arrives intact.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, MIB, randomFile, root, startServer, storedObject } from './helpers.mjs';

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

test('the page carries the seed example verbatim', () => {
  const seed = readFileSync(path.join(root, 'docs/seed/multipart-upload.md'), 'utf8');
  const example = seed.split('### Browser Implementation Example')[1].split('```javascript\n')[1].split('```')[0];
  const page = readFileSync(path.join(root, 'www/seed-example.html'), 'utf8');
  assert.ok(page.includes(example), 'www/seed-example.html holds the seed code unchanged');
});

test('seed example uploads a 12 MiB file in 5 MiB chunks intact', { timeout: 120_000 }, async () => {
  const src = randomFile('largefile.zip', 12 * MIB + 12345);
  try {
    const page = await browser.newPage();
    await page.goto(`${server.api}/seed-example.html`);
    await page.setInputFiles('#fileInput', src.file);
    await page.click('#run');
    await page.waitForSelector('#state[data-state="done"], #state[data-state="error"]', { timeout: 110_000 });
    assert.equal(await page.getAttribute('#state', 'data-state'), 'done', await page.textContent('#state'));
    // The seed example stores under the key it hard-codes.
    const stored = await storedObject(server.api, 'myfiles/largefile.zip');
    assert.equal(stored.size, src.size);
    assert.equal(stored.sha256, src.sha256);
  } finally {
    src.cleanup();
  }
});
