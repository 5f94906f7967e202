// Resilience end to end: the demo page uploads 64 MiB files in Chromium while
// the fault proxy (in front of the store) and the reference server's own fault
// injection make the network bad. Every file must arrive intact (SHA-256), and
// no multipart upload may be left open in the store. With RELIABILITY_OUT set,
// the figures of the run are written there as JSON (see docs/RELIABILITY.md).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, MIB, randomFile, rewrite, startFaultyStack, startServerBehind, storedObject, waitWidgetDone } from './helpers.mjs';

const SIZE = 64 * MIB;
let browser;
const figures = [];

before(async () => { browser = await launchBrowser(); });
after(async () => {
  await browser?.close();
  if (process.env.RELIABILITY_OUT) {
    mkdirSync(path.dirname(process.env.RELIABILITY_OUT), { recursive: true });
    writeFileSync(process.env.RELIABILITY_OUT, `${JSON.stringify({ date: new Date().toISOString(), size: SIZE, figures }, null, 2)}\n`);
  }
});

const settled = '#state[data-state="done"], #state[data-state="error"], #state[data-state="aborted"]';

/**
 * Uploads a fresh 64 MiB file through the demo page of `stack`; `during(page)`
 * runs while it goes. Returns what happened; the caller asserts.
 */
async function run(stack, name, { query = '', during, expect = 'done', timeout = 240_000, corrupted = false, size = SIZE } = {}) {
  const src = randomFile(`${name}.bin`, size);
  const started = Date.now();
  const page = await browser.newPage();
  // Backend calls by name (part-url, complete, ...), as the page sent them.
  const calls = {};
  page.on('request', (req) => {
    const m = /\/uploads\/multipart\/([a-z-]+)/.exec(new URL(req.url()).pathname);
    if (m) calls[m[1]] = (calls[m[1]] ?? 0) + 1;
    // Parts signed, one by one (part-url), several at once (part-urls), or
    // with init (its `parts`).
    const n = m?.[1] === 'part-url' ? 1 : m?.[1] === 'part-urls' || m?.[1] === 'init' ? (JSON.parse(req.postData() || '{}').parts?.length ?? 0) : 0;
    if (n) calls.signed = (calls.signed ?? 0) + n;
  });
  // The first signing reply that came back 2xx but not JSON (a garbled one),
  // with its call and number of parts: with two signing calls on their way,
  // the server's fault may hit the second the page sent.
  page.on('response', async (res) => {
    const m = /\/uploads\/multipart\/(part-urls?)$/.exec(new URL(res.url()).pathname);
    if (!m || res.status() > 299) return;
    const text = await res.text().catch(() => null);
    if (text === null) return;
    try { JSON.parse(text); } catch {
      calls.garbled ??= { call: m[1], parts: m[1] === 'part-url' ? 1 : (JSON.parse(res.request().postData() || '{}').parts?.length ?? 0) };
    }
  });
  try {
    await page.goto(`${stack.api}/harness.html?${query}`);
    // The page listens to its file input once its WASM module is loaded
    // (after the load event): a file chosen before would be lost.
    await page.waitForSelector('body[data-ready="true"]');
    await page.setInputFiles('#file', src.file);
    if (during) await during(page, src);
    await page.waitForSelector(settled, { timeout });
    const state = await page.getAttribute('#state', 'data-state');
    const error = await page.textContent('#error');
    assert.equal(state, expect, `${name}: ended ${state} (${error})`);
    const retries = Number(await page.textContent('#retries'));
    const delays = ((await page.getAttribute('#retries', 'data-delays')) || '').split(',').filter(Boolean).map(Number);
    const resumed = await page.textContent('#resumed');
    const stats = await stack.stats();
    let intact = false;
    if (expect === 'done') {
      const stored = await storedObject(stack.api, `demo/${name}.bin`);
      assert.equal(stored.size, src.size, `${name}: stored size`);
      if (corrupted) {
        assert.notEqual(stored.sha256, src.sha256, `${name}: the corruption was stored`);
      } else {
        assert.equal(stored.sha256, src.sha256, `${name}: stored object is intact`);
        intact = true;
      }
    }
    assert.deepEqual(await stack.openUploads('demo/'), [], `${name}: no multipart upload left open`);
    return { name, state, error, intact, retries, delays, resumed, stats, calls, ms: Date.now() - started, size: src.size };
  } finally {
    await page.close();
    src.cleanup();
  }
}

function record(r, scenario, extra = {}) {
  figures.push({
    scenario,
    tried: 1,
    intact: r.intact ? 1 : 0,
    retries: r.retries,
    bytesSent: r.stats.matched_body_bytes,
    bytesResent: Math.max(0, r.stats.matched_body_bytes - r.size),
    faultsInjected: r.stats.failed + r.stats.reset + r.stats.stalled + r.stats.flipped + (r.stats.etag_altered ?? 0) + (r.stats.header_altered ?? 0),
    seconds: Math.round(r.ms / 100) / 10,
    ...extra,
  });
}

async function scenario(name, stackOptions, body) {
  const stack = await startFaultyStack(stackOptions);
  try {
    await body(stack);
  } finally {
    await stack.stop();
  }
}

test('20 % of part PUTs answer 500 or 503', { timeout: 300_000 }, () =>
  scenario('fail-5xx', { proxyArgs: ['--fail-rate', '0.2', '--fail-nth', '3', '--fail-status', '500,503', '--seed', '11'] }, async (stack) => {
    const r = await run(stack, 'fail-5xx');
    assert.ok(r.stats.failed > 0, 'faults were injected');
    assert.ok(r.retries >= r.stats.failed, `each failure was retried (${r.retries} retries, ${r.stats.failed} faults)`);
    record(r, '20 % of part PUTs answer 500/503');
  }));

test('10 % of part PUTs are cut mid-body', { timeout: 300_000 }, () =>
  scenario('reset', { proxyArgs: ['--reset-rate', '0.1', '--seed', '12'] }, async (stack) => {
    const r = await run(stack, 'reset');
    // (Chromium itself may resend a PUT whose reused connection was reset,
    // so the client sees at most as many failures as the proxy made.)
    assert.ok(r.stats.reset > 0, 'connections were reset mid-body');
    assert.ok(r.stats.matched_body_bytes > r.size, 'the cut parts were sent again');
    record(r, '10 % of part PUTs reset mid-body');
  }));

// These four go at a slow link's pace (4 to 40 Mbit/s, each through a
// fault proxy of its own that holds it there) and take little CPU: side by
// side, they take the longest one's time, not the sum.
describe('slow links', { concurrency: true }, () => {
  // On a slow uplink the system's send buffers (megabytes per connection on
  // loopback, and on many real uplinks) take a whole part at once: the PUT's
  // upload progress is at 100 % long before its answer, and nothing moves
  // while the buffers drain, for longer than partTimeout here. That is not a
  // stall: nothing is cancelled or sent twice.
  test('a slow uplink whose send buffers take whole parts is not taken for stalled PUTs', { timeout: 300_000 }, () =>
    scenario('deep-buffers', { proxyArgs: ['--bandwidth-mbit', '4'] }, async (stack) => {
      const r = await run(stack, 'deep-buffers', { query: 'partSize=5242880&partTimeout=5000', size: 12 * MIB });
      assert.equal(r.retries, 0, `no PUT taken for stalled (${r.retries} retries)`);
      assert.equal(r.stats.matched_body_bytes, r.size, 'every byte sent once');
      assert.ok(r.ms > 20_000, `the link was slower than partTimeout per part (${r.ms} ms)`);
      record(r, 'slow uplink, 4 Mbit/s, send buffers taking whole parts (partTimeout 5 s)');
    }));

  // The same kind of link: each PUT's upload progress is at 100 % as soon as
  // the buffers took its part. Once a PUT has been answered, a running one
  // counts what the link delivers in the time it has run: the bar follows the
  // upload's time rather than sitting near 100 % while the last parts drain.
  test('on a link whose send buffers take whole parts, progress follows the time the upload takes', { timeout: 300_000 }, () =>
    scenario('progress-buffers', { proxyArgs: ['--bandwidth-mbit', '24'] }, async (stack) => {
      const seen = [];
      const r = await run(stack, 'progress-buffers', {
        query: 'partSize=5242880',
        during: async (page) => {
          const t0 = Date.now();
          for (;;) {
            const state = await page.getAttribute('#state', 'data-state');
            seen.push([Date.now() - t0, Number(await page.getAttribute('#bar', 'value'))]);
            if (state !== 'uploading') break;
            await page.waitForTimeout(200);
          }
        },
      });
      const end = seen.at(-1)[0];
      const at = (f) => seen.filter(([t]) => t <= f * end).at(-1)[1];
      assert.ok(end > 15_000, `the link was slow enough to see (${end} ms)`);
      // The first six parts are handed over at once (47 %); after the first
      // answers the bar moves with the time the upload takes.
      assert.ok(at(0.7) <= 88, `at 70 % of the upload's time the bar is at ${at(0.7)} %; following the link it would be near 70 %`);
      assert.ok(at(0.9) < 100, `not at 100 % before the end (${at(0.9)} % at 90 % of the time)`);
      for (let i = 1; i < seen.length; i++) assert.ok(seen[i][1] >= seen[i - 1][1], 'never backwards');
      assert.equal(r.retries, 0);
      console.log(`progress at 50/70/90 % of ${end} ms: ${at(0.5)} / ${at(0.7)} / ${at(0.9)} %`);
      record(r, 'progress on a 24 Mbit/s link whose send buffers take whole parts', { at70: at(0.7), at90: at(0.9) });
    }));

  // A second file on the same Uploader: its first parts, handed over at once,
  // count what the rate the first file measured delivers (a file of a few
  // parts is all first parts: it would stand at 100 % from its start).
  test('a second file on the same link follows the link from its first parts', { timeout: 300_000 }, () =>
    scenario('progress-second', { proxyArgs: ['--bandwidth-mbit', '24'] }, async (stack) => {
      const first = randomFile('progress-first.bin', 24 * MIB);
      const second = randomFile('progress-second.bin', 20 * MIB);
      const page = await browser.newPage();
      try {
        await page.goto(`${stack.api}/harness.html?partSize=5242880`);
        await page.waitForSelector('body[data-ready="true"]');
        await page.setInputFiles('#file', first.file);
        await page.waitForSelector('#state[data-state="done"]', { timeout: 120_000 });
        const seen = [];
        const t0 = Date.now();
        await page.setInputFiles('#file', second.file);
        await page.waitForSelector('#state[data-state="uploading"]');
        for (;;) {
          const state = await page.getAttribute('#state', 'data-state');
          seen.push([Date.now() - t0, Number(await page.getAttribute('#bar', 'value'))]);
          if (state !== 'uploading') break;
          await page.waitForTimeout(200);
        }
        assert.equal(seen.at(-1)[1], 100);
        const end = seen.at(-1)[0];
        const at = (f) => seen.filter(([t]) => t <= f * end).at(-1)[1];
        console.log(`second file: progress at 30/50/80 % of ${end} ms: ${at(0.3)} / ${at(0.5)} / ${at(0.8)} %`);
        assert.ok(end > 5_000, `the link was slow enough to see (${end} ms)`);
        assert.ok(at(0.5) <= 75, `half-way through, the bar is at ${at(0.5)} %; following the link it would be near 50 %`);
        for (const f of [first, second]) {
          assert.equal((await storedObject(stack.api, `demo/${path.basename(f.file)}`)).sha256, f.sha256);
        }
      } finally {
        await page.close();
        first.cleanup();
        second.cleanup();
      }
    }));

  test('every URL expires after 5 s on a slow link', { timeout: 300_000 }, () =>
    scenario('expiry', { proxyArgs: ['--bandwidth-mbit', '40', '--latency-ms', '20'], serverArgs: ['--presign-expiry', '5'] }, async (stack) => {
      // 8 parts of 8 MiB, 4 streams: parts 5 to 8 are signed ahead and wait
      // longer than 5 s for a stream (with the default window of 6 and
      // 11 MiB parts, all 6 parts would start at once and none wait).
      const r = await run(stack, 'expiry', { query: 'partSize=8388608&concurrency=4' });
      assert.ok(r.ms > 10_000, `the link was slow enough for URLs to expire (${r.ms} ms)`);
      // A URL that would expire before (or while) its PUT runs is signed
      // again, so there are more parts signed than parts.
      assert.ok(r.calls.signed > 8, `URLs were signed again (${r.calls.signed} parts signed for 8 parts)`);
      record(r, 'URLs expire after 5 s, link 40 Mbit/s + 20 ms');
    }));
});

test('429 with Retry-After is waited out', { timeout: 300_000 }, () =>
  scenario('slowdown', { proxyArgs: ['--fail-rate', '0.2', '--fail-nth', '2', '--fail-status', '429', '--retry-after', '2', '--seed', '13'] }, async (stack) => {
    const r = await run(stack, 'slowdown');
    assert.ok(r.stats.failed > 0);
    // Every 429 said Retry-After: 2; the jittered backoff alone starts at 0 s.
    assert.equal(r.delays.length, r.retries);
    assert.ok(r.delays.length >= r.stats.failed && r.delays.every((d) => d >= 2_000),
      `each retry waited out Retry-After: ${r.delays.join(', ')} ms`);
    record(r, '20 % of part PUTs answer 429 with Retry-After: 2');
  }));

// The server's fault dice are seeded: at 0.25 the first signing call fails
// (its first roll is 0.207), however few calls batching leaves (at 0.2 the
// first failure came only with the fourth call, and a run could sign 8 parts
// in three calls and see none).
test('25 % of part-url and part-urls calls answer 5xx', { timeout: 300_000 }, () =>
  scenario('backend-5xx', { serverArgs: ['--fault-rate', '0.25', '--fault-calls', 'part-url,part-urls'] }, async (stack) => {
    const r = await run(stack, 'backend-5xx');
    assert.ok(r.retries > 0, 'the backend failures were retried');
    record(r, '25 % of part-url and part-urls calls answer 503');
  }));

test("complete's reply is lost: the retry finds the object, no error, no duplicate", { timeout: 300_000 }, () =>
  scenario('lost-complete', { serverArgs: ['--fault-rate', '0.5', '--fault-calls', 'complete', '--fault-after'] }, async (stack) => {
    const r = await run(stack, 'lost-complete');
    assert.ok(r.retries >= 1, 'complete was sent again after its reply was lost');
    record(r, "half of complete's replies lost (503 after completing)");
  }));

// These three mostly wait (a complete answered 40 s late, a 30 s stall,
// retries backing off), each on its own stack: side by side, they take the
// longest one's time, not the sum.
describe('waits: a late complete, a stall, corruption on every try', { concurrency: true }, () => {
  test('complete answers 40 s late, every time (a store assembling a large object, a slow backend): the upload waits for it, complete is asked once, no error', { timeout: 300_000 }, () =>
    scenario('slow-complete', { serverArgs: ['--fault-rate', '1', '--fault-calls', 'complete', '--fault-delay-ms', '40000'] }, async (stack) => {
      const r = await run(stack, 'slow-complete');
      // Cut off at 30 s like every other call, complete was asked again and
      // again, each answer as late, until the upload failed with the object
      // stored.
      assert.equal(r.calls.complete, 1, `complete asked ${r.calls.complete} times`);
      assert.equal(r.retries, 0, 'nothing was retried');
      assert.ok(r.ms >= 40_000, `the upload waited for complete's answer (${r.ms} ms)`);
      record(r, 'every complete answers 40 s late');
    }));

  test('one part stalls for 30 s; the stall is detected and the part retried', { timeout: 300_000 }, () =>
    scenario('stall', { proxyArgs: ['--stall-nth', '3', '--stall-secs', '30'] }, async (stack) => {
      const r = await run(stack, 'stall', { query: 'partTimeout=10000' });
      assert.equal(r.stats.stalled, 1);
      assert.ok(r.retries >= 1);
      assert.ok(r.ms < 28_000, `the client did not sit out the 30 s stall (${r.ms} ms)`);
      record(r, 'one part stalls 30 s (partTimeout 10 s)');
    }));

  test('every PUT corrupted in flight: the upload ends in IntegrityError, nothing is stored, nothing is left open', { timeout: 300_000 }, () =>
    scenario('flip-all', { proxyArgs: ['--flip-rate', '1'] }, async (stack) => {
      const r = await run(stack, 'flip-all', { expect: 'error', size: 12 * MIB });
      assert.match(r.error, /IntegrityError/);
      assert.ok(r.stats.flipped >= 2, `each try was corrupted (${r.stats.flipped})`);
      await assert.rejects(storedObject(stack.api, 'demo/flip-all.bin'), /HTTP 404/, 'no object was stored');
      record(r, 'every PUT flipped in flight (checksums on): IntegrityError, nothing stored');
    }));
});

test("complete's reply cut off half-way (after completing): the retry finds the object, no error", { timeout: 300_000 }, () =>
  scenario('cut-complete', { serverArgs: ['--fault-rate', '0.5', '--fault-calls', 'complete', '--fault-cut'] }, async (stack) => {
    const r = await run(stack, 'cut-complete');
    assert.ok(r.retries >= 1, 'complete was sent again after its reply was cut off');
    assert.ok(r.calls.complete >= 2);
    record(r, "half of complete's replies cut off half-way (after completing)");
  }));

test("complete's first reply garbled (200, not JSON) after completing: the abort finds no upload, complete is asked again, no error", { timeout: 300_000 }, () =>
  scenario('garbled-complete', { serverArgs: ['--fault-rate', '1', '--fault-max', '1', '--fault-calls', 'complete', '--fault-garble'] }, async (stack) => {
    const r = await run(stack, 'garbled-complete');
    assert.ok(r.calls.complete >= 2, `complete was asked again (${r.calls.complete})`);
    assert.equal(r.calls.abort, 1, 'the abort found no upload (complete had been applied)');
    record(r, "complete's first reply garbled (200, not JSON)");
  }));

test("init's reply is lost after the upload was created: init is asked again with the same token, gets the same upload, nothing is left open", { timeout: 300_000 }, () =>
  scenario('lost-init', { serverArgs: ['--fault-rate', '1', '--fault-max', '1', '--fault-calls', 'init', '--fault-after'] }, async (stack) => {
    const r = await run(stack, 'lost-init');
    assert.equal(r.calls.init, 2, `init was asked again (${r.calls.init})`);
    record(r, "init's first reply lost (503 after creating the upload)");
  }));

test('a page reload while init is on its way: after it, init is asked again with the journaled token and the file goes to the upload the first init created', { timeout: 300_000 }, () =>
  // The first init creates the upload, then its reply is held for 5 s: the
  // page is reloaded meanwhile, so its upload id never reaches the client.
  scenario('reload-init', { serverArgs: ['--fault-rate', '1', '--fault-max', '1', '--fault-calls', 'init', '--fault-delay-ms', '5000'] }, async (stack) => {
    let created;
    const r = await run(stack, 'reload-init', {
      during: async (page, src) => {
        const deadline = Date.now() + 10_000;
        while (!(created = (await stack.openUploads('demo/'))[0]) && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        assert.ok(created, 'the first init created an upload');
        await page.reload();
        await page.waitForSelector('body[data-ready="true"]');
        await page.setInputFiles('#file', src.file);
      },
    });
    // run() checked that the object is intact and that no upload is left
    // open: before the token was journaled, the first init's upload was.
    assert.equal(r.calls.init, 2, `one init before the reload, one after (${r.calls.init})`);
    record(r, 'page reload while init is on its way (its reply held 5 s)');
  }));

test("every init reply lost (503 after creating the upload) until the upload fails: the journal keeps its token, and the file's next upload finishes that upload", { timeout: 300_000 }, () =>
  // Three attempts (retryDelays 0, 100), each answered 503 after the work.
  scenario('init-gave-up', { serverArgs: ['--fault-rate', '1', '--fault-max', '3', '--fault-calls', 'init', '--fault-after'] }, async (stack) => {
    let failedWith = '';
    const r = await run(stack, 'init-gave-up', {
      query: 'retryDelays=0,100',
      during: async (page, src) => {
        await page.waitForSelector('#state[data-state="error"]', { timeout: 60_000 });
        failedWith = await page.textContent('#error');
        assert.equal((await stack.openUploads('demo/')).length, 1, 'the backend created the upload');
        // The same file chosen again (cleared first: an input fires no
        // change for the file it holds already).
        await page.setInputFiles('#file', []);
        await page.setInputFiles('#file', src.file);
        await page.waitForSelector('#state[data-state="uploading"]');
      },
    });
    assert.match(failedWith, /BackendError/);
    // run() checked that nothing is left open: the second upload finished the first one's.
    assert.equal(r.calls.init, 4, `three inits, then one with the kept token (${r.calls.init})`);
  }));

test("init's first reply garbled (200, not JSON) after the upload was created: asked again, the same upload, nothing is left open", { timeout: 300_000 }, () =>
  scenario('garbled-init', { serverArgs: ['--fault-rate', '1', '--fault-max', '1', '--fault-calls', 'init', '--fault-garble'] }, async (stack) => {
    const r = await run(stack, 'garbled-init');
    assert.equal(r.calls.init, 2, `init was asked again (${r.calls.init})`);
    record(r, "init's first reply garbled (200, not JSON)");
  }));

test("a part-url reply garbled (200, not JSON): asked again, the upload goes on", { timeout: 300_000 }, () =>
  scenario('garbled-sign', { serverArgs: ['--fault-rate', '1', '--fault-max', '1', '--fault-calls', 'part-url,part-urls', '--fault-garble'] }, async (stack) => {
    const r = await run(stack, 'garbled-sign');
    // Which call the fault hit depends on how many parts were hashed when
    // init answered, and on which of two calls on their way reached the
    // server first. A garbled part-url is retried; a garbled part-urls is
    // taken for a backend without the call, and its parts ask one by one.
    const garbled = r.calls.garbled;
    assert.ok(garbled, 'a signing reply came back garbled');
    if (garbled.call === 'part-url') assert.ok(r.retries >= 1, 'the garbled reply was asked again');
    else assert.ok(r.calls['part-url'] >= garbled.parts, `the ${garbled.parts} parts of the garbled part-urls were asked for one by one (${r.calls['part-url']} part-url calls)`);
    record(r, "a part-url reply garbled (200, not JSON)");
  }));

test('offline for 5 s in the middle (CDP network emulation)', { timeout: 300_000 }, () =>
  scenario('offline', { proxyArgs: ['--bandwidth-mbit', '100'] }, async (stack) => {
    let offlineAt = null;
    const r = await run(stack, 'offline', {
      during: async (page) => {
        const cdp = await page.context().newCDPSession(page);
        await cdp.send('Network.enable');
        await page.waitForFunction(() => Number(document.getElementById('bar').value) >= 30, null, { timeout: 60_000 });
        offlineAt = Number(await page.getAttribute('#bar', 'value'));
        await cdp.send('Network.emulateNetworkConditions', { offline: true, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
        await new Promise((res) => setTimeout(res, 5_000));
        await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
      },
    });
    assert.ok(offlineAt < 100, 'went offline mid-upload');
    assert.equal(r.retries, 0, 'the offline spell cost no retries');
    record(r, 'offline for 5 s at 30 % (CDP), link 100 Mbit/s', { offlineAtPercent: Math.round(offlineAt) });
  }));

/**
 * A 64 MiB upload (5 MiB parts, two at a time: by 50 % several parts are
 * stored) whose page is reloaded at 50 %; then `change(src)` (may alter the
 * file) and the same file chosen again. Checks that it was resumed; records
 * the bytes sent before and after the reload under `figure`; answers the
 * run and the bytes sent after the reload.
 */
async function reloadAtHalf(stack, name, figure, change = () => {}) {
  let sentBefore = 0;
  const r = await run(stack, name, {
    query: 'partSize=5242880&concurrency=2',
    during: async (page, src) => {
      await page.waitForFunction(() => Number(document.getElementById('bar').value) >= 50, null, { timeout: 60_000 });
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      sentBefore = (await stack.stats()).matched_body_bytes;
      await stack.resetStats();
      change(src);
      await page.setInputFiles('#file', src.file);
    },
  });
  assert.match(r.resumed, /resumed upload .*: [1-9]\d* parts/, 'the upload was resumed');
  const after = r.stats.matched_body_bytes;
  figures.push({
    scenario: figure,
    tried: 1,
    intact: 1,
    retries: r.retries,
    bytesSent: sentBefore + after,
    bytesResent: Math.max(0, sentBefore + after - SIZE),
    bytesSentAfterReload: after,
    faultsInjected: 0,
    seconds: Math.round(r.ms / 100) / 10,
  });
  return { r, after };
}

test('a page reload at about 50 %, then a resume that sends only what is missing', { timeout: 300_000 }, () =>
  scenario('reload', { proxyArgs: ['--bandwidth-mbit', '100'] }, async (stack) => {
    const { after } = await reloadAtHalf(stack, 'reload', 'page reload at ~50 %, then resume (100 Mbit/s)');
    assert.ok(after < SIZE, `after the reload ${after} bytes were sent, fewer than the file's ${SIZE}`);
  }));

test("a page reload at about 50 %, then the file changes on disk where its fingerprint does not look (same size and date): resumed, the changed stored part is found by its CRC32 and sent again, the object is the file as it is now", { timeout: 300_000 }, () =>
  scenario('reload-changed', { proxyArgs: ['--bandwidth-mbit', '100'] }, async (stack) => {
    const figure = 'page reload at ~50 %, then 100 bytes of a stored part changed on disk (same size and date)';
    const { r, after } = await reloadAtHalf(stack, 'reload-changed', figure, (src) => {
      // 100 bytes of part 2 (5..10 MiB) change; the samples (start,
      // middle, end) and the date stay as they were. (The date is put back
      // half a millisecond past the one the page saw: a date in float
      // seconds may land a hair before its millisecond, which the File's
      // lastModified would then round down.)
      const ms = Math.floor(statSync(src.file).mtimeMs);
      const bytes = readFileSync(src.file);
      for (let i = 7 * MIB; i < 7 * MIB + 100; i++) bytes[i] ^= 0x5a;
      writeFileSync(src.file, bytes);
      utimesSync(src.file, (ms + 0.5) / 1000, (ms + 0.5) / 1000);
      src.sha256 = createHash('sha256').update(bytes).digest('hex');
    });
    const stored = Number(/: (\d+) parts/.exec(r.resumed)?.[1]);
    assert.ok(stored >= 2, `resumed with part 2 among the stored parts (${r.resumed})`);
    // After the reload: the missing parts and the changed one if it was
    // among the stored ones (parts end out of order: part 2 may have been on
    // its way; either way the SHA-256 above shows the object is the file as
    // it is now), and the rest of what the page had in flight when it went,
    // which the proxy still counts; not every stored part again.
    const least = SIZE - stored * 5 * MIB;
    assert.ok(after >= least && after < least + 15 * MIB && after < SIZE,
      `${after} bytes after the reload: the missing parts (${least}) and the changed one, not all ${stored} stored ones again`);
  }));

test('a page reload within the first second: the object is intact and the first upload is not left open', { timeout: 300_000 }, () =>
  scenario('early-reload', { proxyArgs: ['--bandwidth-mbit', '100'] }, async (stack) => {
    let reloadedAfterMs = 0;
    const r = await run(stack, 'early-reload', {
      query: 'partSize=5242880&concurrency=2',
      during: async (page, src) => {
        const t0 = Date.now();
        // Parts are going up (so the multipart upload exists and is journaled),
        // but the content sample, read after 1 s, is not in the journal yet.
        await page.waitForFunction(() => Number(document.getElementById('bar').value) > 0, null, { timeout: 10_000, polling: 10 });
        reloadedAfterMs = Date.now() - t0;
        await page.reload();
        await page.waitForSelector('body[data-ready="true"]');
        await page.setInputFiles('#file', src.file);
      },
    });
    assert.ok(reloadedAfterMs < 1000, `reloaded ${reloadedAfterMs} ms after the start`);
    // Resumed or sent anew (today: anew), what matters was checked by run():
    // the object is intact and no multipart upload is left open.
    assert.equal(r.state, 'done');
  }));

test('one byte of one part flipped on the way: the store refuses that part, only it is sent again, the object is intact', { timeout: 300_000 }, () =>
  scenario('flip', { proxyArgs: ['--flip-nth', '3'] }, async (stack) => {
    const r = await run(stack, 'flip');
    assert.equal(r.stats.flipped, 1, 'one PUT body was corrupted in flight');
    assert.equal(r.retries, 1, 'the refused part was retried, once');
    const resent = r.stats.matched_body_bytes - r.size;
    // One part at most: by default 64 MiB on the 6 streams the window
    // starts with goes as 6 parts of 11 MiB (two would be 22 MiB or more).
    assert.ok(resent > 0 && resent <= 11 * MIB, `only the corrupted part was sent again (${resent} bytes resent)`);
    record(r, 'one byte of one part PUT flipped in flight (checksums on)');
  }));

test("the same flip with checksum: 'none' is stored: what the checksums prevent", { timeout: 300_000 }, () =>
  scenario('flip-none', { proxyArgs: ['--flip-nth', '3'] }, async (stack) => {
    const r = await run(stack, 'flip-none', { query: 'checksum=none', corrupted: true });
    assert.equal(r.stats.flipped, 1);
    assert.equal(r.retries, 0, 'nothing noticed the corruption');
  }));

test('a quarter of all PUTs corrupted in flight: every refused part is sent again alone, the object is intact', { timeout: 300_000 }, () =>
  scenario('flip-many', { proxyArgs: ['--flip-rate', '0.25', '--seed', '21'] }, async (stack) => {
    // 5 MiB parts: 13 of them, 3 or so corrupted (and some of their retries).
    const r = await run(stack, 'flip-many', { query: 'partSize=5242880' });
    assert.ok(r.stats.flipped >= 2, `several PUT bodies were corrupted (${r.stats.flipped})`);
    assert.equal(r.retries, r.stats.flipped, 'each refused PUT was retried once');
    const resent = r.stats.matched_body_bytes - r.size;
    assert.ok(resent > 0 && resent <= r.stats.flipped * 5 * MIB, `only the corrupted parts were sent again (${resent} bytes resent)`);
    record(r, 'a quarter of the PUTs flipped in flight (checksums on, 5 MiB parts)');
  }));

test('a file sent as one PUT, corrupted in flight: the store refuses it, it is sent again, the object is intact', { timeout: 300_000 }, () =>
  scenario('flip-single', { proxyArgs: ['--flip-nth', '1'] }, async (stack) => {
    const r = await run(stack, 'flip-single', { size: 3 * MIB + 7 });
    assert.equal(r.stats.flipped, 1, 'the single PUT was corrupted');
    assert.equal(r.retries, 1, 'and sent again, once');
    assert.equal(r.calls.init ?? 0, 0, 'it went as one PUT, not as a multipart upload');
  }));

test("a part's signed checksum header altered on its way (the store refuses the signature): that part is signed again and sent again, the object is intact; a single PUT too", { timeout: 300_000 }, () =>
  scenario('alter-header', { proxyArgs: ['--alter-header-nth', '1'] }, async (stack) => {
    for (const [name, size] of [['alter-header', undefined], ['alter-header-single', 3 * MIB + 7]]) {
      await stack.resetStats();
      const r = await run(stack, name, size ? { size } : {});
      assert.equal(r.stats.header_altered, 1, `${name}: one PUT's x-amz-checksum-crc32 was altered`);
      assert.equal(r.retries, 1, `${name}: the refused PUT was signed and sent again, once`);
      if (!size) record(r, "one part's signed checksum header altered in flight (SignatureDoesNotMatch)");
    }
  }));

test('60 small files chosen at once while a quarter of url and urls calls answer 503, and some PUTs are corrupted: signed mostly together, every file intact', { timeout: 300_000 }, () =>
  scenario('many-small', { serverArgs: ['--fault-rate', '0.25', '--fault-calls', 'url,urls'], proxyArgs: ['--flip-rate', '0.1'] }, async (stack) => {
    const files = Array.from({ length: 60 }, (_, i) => randomFile(`many-small-${i}.bin`, 10_000 + i * 997));
    const page = await browser.newPage();
    const calls = { url: 0, urls: 0, signed: 0 };
    page.on('request', (req) => {
      const m = /\/uploads\/(urls?)$/.exec(new URL(req.url()).pathname);
      if (!m) return;
      calls[m[1]] += 1;
      calls.signed += m[1] === 'urls' ? JSON.parse(req.postData()).files.length : 1;
    });
    try {
      await page.goto(`${stack.api}/`);
      await page.waitForSelector('.s3-upload-panel button.choose');
      await page.setInputFiles('#files', files.map((f) => f.file));
      await waitWidgetDone(page, files.length, { everyMs: 250 });
      for (const [i, f] of files.entries()) {
        assert.equal((await storedObject(stack.api, `demo/many-small-${i}.bin`)).sha256, f.sha256, `file ${i} is stored intact`);
      }
      const stats = await stack.stats();
      assert.ok(stats.flipped > 0, 'some PUTs were corrupted on the way');
      // Signed in fewer calls than files, though the refused calls were asked again.
      assert.ok(calls.urls >= 1 && calls.url + calls.urls < files.length, JSON.stringify(calls));
      assert.ok(calls.signed >= files.length, JSON.stringify(calls));
    } finally {
      await page.close();
      for (const f of files) f.cleanup();
    }
  }));

test("a part's ETag altered on its way back: complete is refused, the stored parts are listed, complete goes through with the store's ETag; nothing is sent twice", { timeout: 300_000 }, () =>
  scenario('etag', { proxyArgs: ['--alter-etag-nth', '2'] }, async (stack) => {
    for (const [name, query] of [['etag', ''], ['etag-none', 'checksum=none']]) {
      await stack.resetStats();
      const r = await run(stack, name, { query });
      assert.equal(r.stats.etag_altered, 1, `${name}: one ETag was altered`);
      assert.equal(r.calls.complete, 2, `${name}: complete refused once (InvalidPart), then accepted`);
      assert.equal(r.calls.parts, 1, `${name}: the stored parts were listed once`);
      assert.equal(r.stats.matched_body_bytes, r.size, `${name}: no byte sent twice`);
      if (!query) record(r, "one part's ETag altered on its way back");
    }
  }));

test('the file rewritten on disk while it uploads: FileReadError, nothing stored, nothing left open', { timeout: 300_000 }, () =>
  // Chromium refuses to read a file changed since it was chosen; a browser
  // that reads it as it is now (Firefox) is caught by the file's sample,
  // read again before complete (tests/e2e-firefox/resilience.test.mjs).
  scenario('rewritten', { proxyArgs: ['--bandwidth-mbit', '80'] }, async (stack) => {
    const r = await run(stack, 'rewritten', {
      query: 'partSize=5242880&concurrency=2',
      size: 40 * MIB,
      expect: 'error',
      during: async (page, src) => {
        await page.waitForFunction(() => Number(document.getElementById('bar').value) >= 25, null, { timeout: 60_000 });
        rewrite(src.file);
      },
    });
    assert.match(r.error, /^FileReadError: /);
    await assert.rejects(storedObject(stack.api, 'demo/rewritten.bin'), /HTTP 404/, 'no object was stored');
  }));

test('a fatal S3 error aborts the upload: nothing left in the store', { timeout: 300_000 }, () =>
  scenario('fatal', { proxyArgs: ['--fail-rate', '1', '--fail-status', '403'] }, async (stack) => {
    const r = await run(stack, 'fatal', { expect: 'error' });
    assert.match(r.error, /^S3Error: /);
    // Nor are the signings the failure cancelled (they fail as aborted requests).
    assert.equal(r.retries, 0, 'a 403 is not retried, and no retry is reported after it');
    record(r, 'every part PUT answers 403 (fatal)');
  }));

test('abort in the middle: nothing left in the store', { timeout: 300_000 }, () =>
  scenario('abort', { proxyArgs: ['--bandwidth-mbit', '100'] }, async (stack) => {
    const r = await run(stack, 'abort', {
      expect: 'aborted',
      during: async (page) => {
        await page.waitForFunction(() => Number(document.getElementById('bar').value) >= 20, null, { timeout: 60_000 });
        await page.click('#abort');
      },
    });
    assert.equal(r.retries, 0, 'no retry is reported for the calls the abort cancelled');
    record(r, 'abort at 20 %');
  }));

test("the test stack starts again on another port when its store's port is taken before the store listens", async () => {
  const { createServer } = await import('node:net');
  const asked = [];
  const taker = createServer();
  try {
    const { front, stopFront, server } = await startServerBehind(async (upstream) => {
      asked.push(upstream);
      // Another program takes the first port picked before the store starts.
      if (asked.length === 1) await new Promise((resolve) => taker.listen(Number(new URL(upstream).port), '127.0.0.1', resolve));
      return { url: 'http://127.0.0.1:9/', stop() {} };
    });
    try {
      assert.equal(asked.length, 2, `picked again once (${asked.join(', ')})`);
      assert.notEqual(asked[0], asked[1]);
      assert.equal(server.s3, asked[1], 'the store listens where the second relay forwards');
      assert.equal(front, 'http://127.0.0.1:9/');
      assert.ok((await fetch(`${server.api}/uploads/multipart/open`)).ok, 'the server answers');
    } finally {
      stopFront();
      await server.stop();
    }
  } finally {
    taker.close();
  }
});
