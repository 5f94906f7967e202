// A far link end to end: the page, its backend and the store each behind
// link-emu (150 ms round trip, 4 MiB in flight per connection, as the
// benchmark's far region), a 160 MiB file through the harness page in
// Chromium. With the default options the parts not yet under way grow once
// the first PUT and the part URLs' signatures have measured the link
// (src/engine/plan.rs, `grown_part_size`): fewer PUTs, each idling its round
// trip once, than the 17 parts of 10 MiB the engine starts with; with
// `partSize` given, the parts keep their size. On a link whose new
// connections start slow (TCP's slow start: a window opening from 16 KiB),
// the first round of PUTs shows no round trip's share; the PUTs after it
// do, and the parts still grow (a 256 MiB file: 26 parts of 10 MiB as
// planned). Either way the object is the file (SHA-256) and no upload is
// left open.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { launchBrowser, MIB, randomFile, startLinkStack, storedObject } from './helpers.mjs';

const SIZE = 160 * MIB + 12_345;
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

/** Uploads a fresh file with the harness's `query`: the part PUTs' numbers and the stored object's check. */
async function upload(name, query, { on = stack, size = SIZE } = {}) {
  const src = randomFile(`${name}.bin`, size);
  const page = await browser.newPage();
  const puts = [];
  page.on('request', (req) => {
    const n = new URL(req.url()).searchParams.get('partNumber');
    if (req.method() === 'PUT' && n) puts.push(Number(n));
  });
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
    return puts;
  } finally {
    await page.close();
    src.cleanup();
  }
}

test('on a far link the parts not yet under way grow: fewer PUTs, the object intact', { timeout: 300_000 }, async () => {
  const puts = await upload('far-grown', '');
  const parts = Math.max(...puts);
  console.log(`default options: ${puts.length} part PUTs, ${parts} parts`);
  // 17 parts of 10 MiB as planned; grown after the first round (6 to 12
  // parts under way by then, the rest in parts of at least 12.5 MiB).
  assert.ok(parts <= 15 && parts >= 7, `${parts} parts, not fewer than the 17 planned`);
  assert.deepEqual([...puts].sort((a, b) => a - b), Array.from({ length: parts }, (_, i) => i + 1), 'each part sent once');
});

test('on the same link a given part size holds: as many PUTs as it cuts', { timeout: 300_000 }, async () => {
  const puts = await upload('far-fixed', `partSize=${10 * MIB}`);
  assert.equal(Math.max(...puts), 17, '160 MiB and 12,345 bytes in parts of 10 MiB');
  assert.equal(puts.length, 17, 'each part sent once');
});

test('on a far link whose connections start slow, the parts grow after the first round', { timeout: 300_000 }, async () => {
  const slow = await startLinkStack([...LINK, '--initial-window-kib', '16', '--idle-restart-ms', '400']);
  try {
    const puts = await upload('far-slow-start', '', { on: slow, size: 256 * MIB });
    const parts = Math.max(...puts);
    console.log(`slow start, default options: ${puts.length} part PUTs, ${parts} parts`);
    // 26 parts of 10 MiB as planned; the first round's 6 PUTs take about
    // eight round trips more each, the next PUTs measure the link.
    assert.ok(parts < 26 && parts >= 8, `${parts} parts, not fewer than the 26 planned`);
    assert.deepEqual([...puts].sort((a, b) => a - b), Array.from({ length: parts }, (_, i) => i + 1), 'each part sent once');
  } finally {
    await slow.stop();
  }
});
