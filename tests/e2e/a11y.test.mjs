// Accessibility: axe-core 4 run on the demo page and its widgets (the panel
// after the file input, and <s3-upload>, whose open shadow root axe scans)
// in every state a user meets: idle, uploading, paused, failed, done. Every
// run must find no violation at all (any impact).
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { launchBrowser, MIB, randomFile, root, startFaultyStack } from './helpers.mjs';

let stack;
let browser;

before(async () => {
  // 100 Mbit/s: uploads last long enough to be looked at while they run.
  stack = await startFaultyStack({ proxyArgs: ['--bandwidth-mbit', '100'] });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const row = (name) => `.s3-upload-panel li:has(.name:text-is(${JSON.stringify(name)}))`;
const waitState = (page, name, state) => page.waitForSelector(`${row(name)}[data-state="${state}"]`, { timeout: 120_000 });

/** The violations axe finds on the page now. */
async function violations(page) {
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
  });
}

test('axe-core finds no violation on the demo and its widgets: idle, uploading, paused, failed, done', { timeout: 300_000 }, async () => {
  const files = ['alpha.bin', 'bravo.bin', 'fail.bin'].map((n) => randomFile(n, 24 * MIB));
  try {
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    // The backend refuses to start the upload of fail.bin: its row shows the error.
    await page.route('**/uploads/multipart/init', (route) => (route.request().postData() || '').includes('fail.bin')
      ? route.fulfill({ status: 403, contentType: 'application/json', body: '{"error":{"code":"AccessDenied","message":"not this one"}}' })
      : route.continue());
    await page.goto(`${stack.api}/`);
    await page.waitForSelector('.s3-upload-panel button.choose');
    await page.waitForSelector('s3-upload button.choose');
    await page.addScriptTag({ path: path.join(root, 'node_modules/axe-core/axe.min.js') });
    const found = {};
    found.idle = await violations(page);

    await page.setInputFiles('#files', files.map((f) => f.file));
    await waitState(page, 'alpha.bin', 'uploading');
    await page.click(`${row('bravo.bin')} button.pause`);
    await waitState(page, 'bravo.bin', 'paused');
    await waitState(page, 'fail.bin', 'error');
    // alpha uploading, bravo paused, fail.bin failed: all three at once.
    found['uploading, paused and failed'] = await violations(page);

    await page.click(`${row('bravo.bin')} button.resume`);
    await waitState(page, 'alpha.bin', 'done');
    await waitState(page, 'bravo.bin', 'done');
    found.done = await violations(page);
    for (const [state, list] of Object.entries(found)) assert.deepEqual(list, [], `${state}: ${list.join('; ')}`);
    await page.close();
  } finally {
    files.forEach((f) => f.cleanup());
  }
});
