// A far link end to end: the page, its backend and the store each behind
// link-emu (150 ms round trip, 4 MiB in flight per connection, as the
// benchmark's far region), a 256 MiB file through the harness page in
// Chromium. With the default options the engine cuts it in whole rounds of
// 6 parts (24 of 10.6875 MiB: src/engine/plan.rs, `part_size_for`), and the
// parts not yet under way grow once a PUT and the part URLs' signatures
// have measured the link (`grown_part_size`): fewer, larger PUTs, each
// idling its round trip once; with `partSize` given, the parts keep their
// size. On a link whose new connections start slow (TCP's slow start: a
// window opening from 16 KiB), the first round of PUTs shows no round
// trip's share; the PUTs after it do, and the parts still grow. Either way
// the object is the file (SHA-256) and no upload is left open.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertGrewOnce, launchBrowser, MIB, randomFile, RECORD_PUTS, startLinkStack, storedObject } from './helpers.mjs';

const SIZE = 256 * MIB + 12_345;
// What the engine plans for SIZE on 6 streams: 24 parts (4 rounds) of 10.6875 MiB.
const PLANNED = { parts: 24, size: 10 * MIB + 11 * 64 * 1024 };
const LINK = ['--rtt-ms', '150', '--window-kib', '4096'];
let stack;
let browser;

before(async () => {
  stack = await startLinkStack(LINK);
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/**
 * Uploads a fresh file with the harness's `query`; checks the stored object
 * and that nothing is left open. Resolves to the part PUTs as the page sent
 * them: [part number, body bytes].
 */
async function upload(name, query, { on = stack, size = SIZE } = {}) {
  const src = randomFile(`${name}.bin`, size);
  const page = await browser.newPage();
  await page.addInitScript(RECORD_PUTS);
  try {
    await page.goto(`${on.page}/harness.html?${query}`);
    await page.waitForSelector('body[data-ready="true"]');
    await page.setInputFiles('#file', src.file);
    await page.waitForSelector('#state[data-state="done"], #state[data-state="error"]', { timeout: 240_000 });
    assert.equal(await page.getAttribute('#state', 'data-state'), 'done', await page.textContent('#error'));
    assert.equal(Number(await page.textContent('#retries')), 0, 'no retries on a clean link');
    const stored = await storedObject(on.api, `demo/${name}.bin`);
    assert.equal(stored.sha256, src.sha256, `${name}: the stored object is the file`);
    assert.deepEqual(await on.openUploads('demo/'), [], 'no multipart upload left open');
    return await page.evaluate(() => window.puts);
  } finally {
    await page.close();
    src.cleanup();
  }
}

test('on a far link the parts not yet under way grow: fewer PUTs, the object intact', { timeout: 300_000 }, async () => {
  const puts = await upload('far-grown', '');
  const parts = assertGrewOnce(puts, PLANNED, SIZE);
  console.log(`default options: ${puts.length} part PUTs, ${parts} parts: ${puts.map(([, b]) => (b / MIB).toFixed(2)).join(' ')} MiB`);
});

test('on the same link a given part size holds: as many PUTs as it cuts', { timeout: 300_000 }, async () => {
  const puts = await upload('far-fixed', `partSize=${10 * MIB}`);
  assert.equal(puts.length, 26, '256 MiB and 12,345 bytes in parts of 10 MiB, each sent once');
  assert.ok(puts.every(([n, b]) => b === (n < 26 ? 10 * MIB : 6 * MIB + 12_345)), JSON.stringify(puts));
});

test('on a far link whose connections start slow, the parts grow after the first round', { timeout: 300_000 }, async () => {
  const slow = await startLinkStack([...LINK, '--initial-window-kib', '16', '--idle-restart-ms', '400']);
  try {
    const puts = await upload('far-slow-start', '', { on: slow });
    const parts = assertGrewOnce(puts, PLANNED, SIZE);
    console.log(`slow start, default options: ${puts.length} part PUTs, ${parts} parts: ${puts.map(([, b]) => (b / MIB).toFixed(2)).join(' ')} MiB`);
  } finally {
    await slow.stop();
  }
});
