// Resilience end to end in a real Firefox ESR (selenium-webdriver and
// geckodriver): the faults of tests/e2e/resilience.test.mjs that the fault
// proxy (in front of the store) and the reference server inject, on the
// harness page. Firefox's XHR differs from Chromium's where it matters here:
// it reports a connection cut mid-body, a stall and an early answer in its
// own way. Every file must arrive intact (SHA-256), or end in the error
// the scenario calls for with nothing stored; no multipart upload may be
// left open in the store.
import assert from 'node:assert/strict';
import { truncateSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { By, until } from 'selenium-webdriver';
import { assertGrewOnce, MIB, randomFile, RECORD_PUTS, rewrite, startFaultyStack, startLinkStack, storedObject } from '../e2e/helpers.mjs';
import { launchFirefox } from './launch.mjs';

let driver;

// Two scenarios that mostly wait (a complete answered 40 s late; a 4 Mbit/s
// link) run from the start, one after the other, in a Firefox of their
// own, beside the others; their tests (below) await them.
let slowComplete;
let deepBuffers;
let asideDriver;

before(async () => {
  driver = await launchFirefox();
  const aside = launchFirefox().then((d) => { asideDriver = d; });
  slowComplete = aside.then(() => scenario('ff-slow-complete', { serverArgs: ['--fault-rate', '1', '--fault-calls', 'complete', '--fault-delay-ms', '40000'] },
    { size: 12 * MIB, on: asideDriver }));
  deepBuffers = slowComplete.catch(() => {}).then(() => scenario('ff-deep-buffers', { proxyArgs: ['--bandwidth-mbit', '4'] },
    { query: 'partSize=5242880&partTimeout=5000', size: 12 * MIB, on: asideDriver }));
  // (Their tests report a failure; unawaited until then, it must not end the file.)
  for (const p of [slowComplete, deepBuffers]) p.catch(() => {});
});

after(async () => {
  await deepBuffers?.catch(() => {});
  await asideDriver?.quit();
  await driver?.quit();
});

// Run in the page before the upload: its backend calls counted by name
// (`window.calls`: init, part-url, complete, url, urls, ...) and the parts
// and files signed (`window.signed`: one by part-url or url, several by
// part-urls, init or urls).
const COUNT_CALLS = `
  window.calls = {};
  window.signed = 0;
  const f = window.fetch;
  window.fetch = function (url, init) {
    const call = /uploads\\/(?:multipart\\/)?([a-z-]+)$/.exec(String(url))?.[1];
    if (call) {
      window.calls[call] = (window.calls[call] ?? 0) + 1;
      const body = JSON.parse(typeof init?.body === 'string' ? init.body : '{}');
      if (call === 'part-url' || call === 'url') window.signed += 1;
      else if (call === 'part-urls' || call === 'init') window.signed += body.parts?.length ?? 0;
      else if (call === 'urls') window.signed += body.files?.length ?? 0;
    }
    return f.call(window, url, init);
  };`;

const text = async (id) => driver.findElement(By.id(id)).getText();

/**
 * Uploads a fresh file of `size` bytes through the harness page of a stack
 * started with `stackOptions`; `during(src, stack)` runs while it goes; `on`: the
 * Firefox it runs in (the file's, unless said). Returns what happened;
 * `check(r, stack)` asserts more.
 */
async function scenario(name, stackOptions, { query = '', size = 24 * MIB, expect = 'done', during, timeout = 240_000, on = driver } = {}, check = async () => {}) {
  const stack = await startFaultyStack(stackOptions);
  const src = randomFile(`${name}.bin`, size);
  try {
    const started = Date.now();
    await on.get(`${stack.api}/harness.html?${query}`);
    await on.wait(until.elementLocated(By.css('body[data-ready="true"]')), 30_000);
    await on.executeScript(COUNT_CALLS);
    await on.findElement(By.id('file')).sendKeys(src.file);
    if (during) await during(src, stack);
    const state = await on.wait(until.elementLocated(By.css(
      '#state[data-state="done"], #state[data-state="error"], #state[data-state="aborted"]')), timeout);
    const r = {
      state: await state.getAttribute('data-state'),
      error: await on.findElement(By.id('error')).getText(),
      retries: Number(await on.findElement(By.id('retries')).getText()),
      retryReason: await on.findElement(By.id('retries')).getAttribute('title'),
      delays: ((await on.findElement(By.id('retries')).getAttribute('data-delays')) || '').split(',').filter(Boolean).map(Number),
      stats: await stack.stats(),
      signed: await on.executeScript('return window.signed'),
      calls: await on.executeScript('return window.calls'),
      ms: Date.now() - started,
      size,
    };
    assert.equal(r.state, expect, `${name}: ended ${r.state} (${r.error})`);
    if (expect === 'done') {
      const stored = await storedObject(stack.api, `demo/${name}.bin`);
      assert.equal(stored.sha256, src.sha256, `${name}: the stored object is the file`);
    } else {
      await assert.rejects(storedObject(stack.api, `demo/${name}.bin`), /HTTP 404/, `${name}: no object was stored`);
    }
    assert.deepEqual(await stack.openUploads('demo/'), [], `${name}: no multipart upload left open`);
    await check(r, stack);
    return r;
  } finally {
    src.cleanup();
    await stack.stop();
  }
}

test('Firefox: 20 % of part PUTs answer 500 or 503: each is retried, intact', { timeout: 300_000 }, () =>
  scenario('ff-fail-5xx', { proxyArgs: ['--fail-rate', '0.2', '--fail-nth', '2', '--fail-status', '500,503', '--seed', '11'] },
    { query: 'partSize=5242880' }, async (r) => {
      assert.ok(r.stats.failed > 0, 'faults were injected');
      assert.ok(r.retries >= r.stats.failed, `each failure was retried (${r.retries} retries, ${r.stats.failed} faults)`);
    }));

test('Firefox: the tab hidden behind another for the whole upload (its timers throttled) while 20 % of PUTs fail: the upload goes on, retried, intact', { timeout: 300_000 }, async () => {
  // A user who starts an upload and goes on in another tab: Firefox marks
  // the page hidden and throttles its timers (the retries' delays among
  // them). Nothing here may wait for the page to be seen again: the object
  // must be stored while the tab is hidden.
  let vis;
  await scenario('ff-hidden', { proxyArgs: ['--fail-rate', '0.2', '--fail-status', '500,503', '--seed', '13', '--bandwidth-mbit', '400'] }, {
    size: 64 * MIB,
    query: 'partSize=5242880',
    during: async (src, stack) => {
      await driver.executeScript("window.vis = [document.visibilityState]; document.addEventListener('visibilitychange', () => window.vis.push(document.visibilityState));");
      const page = await driver.getWindowHandle();
      await driver.switchTo().newWindow('tab');
      await driver.get('about:blank');
      await assert.rejects(storedObject(stack.api, 'demo/ff-hidden.bin'), /HTTP 404/, 'the upload was still going when its tab was hidden');
      const deadline = Date.now() + 120_000;
      let stored = null;
      while (!stored) {
        assert.ok(Date.now() < deadline, 'the object was not stored within 120 s while its tab was hidden');
        stored = await storedObject(stack.api, 'demo/ff-hidden.bin').catch(() => null);
        if (!stored) await new Promise((f) => setTimeout(f, 100));
      }
      assert.equal(stored.sha256, src.sha256, 'stored intact while the tab was hidden');
      await driver.close();
      await driver.switchTo().window(page);
      vis = await driver.executeScript('return window.vis');
    },
  }, async (r) => {
    assert.ok(r.stats.failed > 0, 'faults were injected');
    assert.ok(r.retries >= r.stats.failed, `each failure was retried (${r.retries} retries, ${r.stats.failed} faults)`);
  });
  assert.deepEqual(vis, ['visible', 'hidden', 'visible'], 'the page was hidden while it uploaded, then shown again');
});

test('Firefox: 15 % of part PUTs cut mid-body: the cut parts are sent again, intact', { timeout: 300_000 }, () =>
  scenario('ff-reset', { proxyArgs: ['--reset-rate', '0.15', '--seed', '12'] }, { query: 'partSize=5242880' }, async (r) => {
    assert.ok(r.stats.reset > 0, 'connections were reset mid-body');
    assert.ok(r.stats.matched_body_bytes > r.size, 'the cut parts were sent again');
  }));

test('Firefox: one part stalls for 30 s: the stall is detected within partTimeout and the part retried, intact', { timeout: 300_000 }, () =>
  scenario('ff-stall', { proxyArgs: ['--stall-nth', '2', '--stall-secs', '30'] }, { query: 'partSize=5242880&partTimeout=8000' }, async (r) => {
    assert.equal(r.stats.stalled, 1, 'one PUT was stalled');
    assert.ok(r.retries >= 1, 'the stalled part was retried');
    assert.ok(r.ms < 28_000, `the client did not sit out the 30 s stall (${r.ms} ms)`);
  }));

test('Firefox: on a link whose send buffers take whole parts, progress follows the time the upload takes, never backwards', { timeout: 300_000 }, async () => {
  const seen = [];
  const during = async () => {
    const t0 = Date.now();
    for (;;) {
      const state = await driver.findElement(By.id('state')).getAttribute('data-state');
      seen.push([Date.now() - t0, Number(await driver.findElement(By.id('bar')).getAttribute('value'))]);
      if (state !== 'uploading') break;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  await scenario('ff-progress-buffers', { proxyArgs: ['--bandwidth-mbit', '24'] }, { query: 'partSize=5242880', size: 64 * MIB, during }, async (r) => {
    const end = seen.at(-1)[0];
    const at = (f) => seen.filter(([t]) => t <= f * end).at(-1)[1];
    console.log(`progress at 50/70/90 % of ${end} ms: ${at(0.5)} / ${at(0.7)} / ${at(0.9)} %`);
    assert.ok(end > 15_000, `the link was slow enough to see (${end} ms)`);
    assert.ok(at(0.7) <= 88, `at 70 % of the upload's time the bar is at ${at(0.7)} %; following the link it would be near 70 %`);
    assert.ok(at(0.9) < 100, `not at 100 % before the end (${at(0.9)} % at 90 % of the time)`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i][1] >= seen[i - 1][1], 'never backwards');
    assert.equal(r.retries, 0);
  });
});

test('Firefox: 429 with Retry-After is waited out, intact', { timeout: 300_000 }, () =>
  scenario('ff-slowdown', { proxyArgs: ['--fail-rate', '0.25', '--fail-nth', '2', '--fail-status', '429', '--retry-after', '2', '--seed', '13'] },
    { query: 'partSize=5242880' }, async (r) => {
      assert.ok(r.stats.failed > 0, 'throttles were injected');
      assert.equal(r.delays.length, r.retries);
      assert.ok(r.delays.length >= r.stats.failed && r.delays.every((d) => d >= 2_000),
        `each retry waited out Retry-After: ${r.delays.join(', ')} ms`);
    }));

test('Firefox: every URL expires after 5 s on a slow link: parts are signed again, intact', { timeout: 300_000 }, () =>
  scenario('ff-expiry', { proxyArgs: ['--bandwidth-mbit', '40', '--latency-ms', '20'], serverArgs: ['--presign-expiry', '5'] },
    // 8 parts of 8 MiB, 4 streams: parts 5 to 8 are signed ahead and wait
    // longer than 5 s for a stream.
    { query: 'partSize=8388608&concurrency=4', size: 64 * MIB }, async (r) => {
      assert.ok(r.ms > 10_000, `the link was slow enough for URLs to expire (${r.ms} ms)`);
      // A URL that would expire before (or while) its PUT runs is signed
      // again: more parts signed than the 8 parts.
      assert.ok(r.signed > 8, `URLs were signed again (${r.signed} parts signed for 8 parts)`);
      // ... before they expired: no PUT was refused for an expired URL.
      assert.equal(r.retries, 0, `no PUT went with an expired URL (a retry for: ${r.retryReason})`);
    }));

test('Firefox: a quarter of all PUTs corrupted in flight: each refused part is sent again alone, intact', { timeout: 300_000 }, () =>
  scenario('ff-flip-many', { proxyArgs: ['--flip-rate', '0.25', '--seed', '21'] }, { query: 'partSize=5242880', size: 40 * MIB }, async (r) => {
    assert.ok(r.stats.flipped >= 1, `PUT bodies were corrupted (${r.stats.flipped})`);
    assert.equal(r.retries, r.stats.flipped, 'each refused PUT was retried once');
    const resent = r.stats.matched_body_bytes - r.size;
    assert.ok(resent > 0 && resent <= r.stats.flipped * 5 * MIB, `only the corrupted parts were sent again (${resent} bytes resent)`);
  }));

test('Firefox: a file sent as one PUT, corrupted in flight: refused, sent again, intact', { timeout: 300_000 }, () =>
  scenario('ff-flip-single', { proxyArgs: ['--flip-nth', '1'] }, { size: 3 * MIB + 7 }, async (r) => {
    assert.equal(r.stats.flipped, 1, 'the single PUT was corrupted');
    assert.equal(r.retries, 1, 'it was sent again, once');
  }));

test('Firefox: every PUT corrupted in flight: IntegrityError, nothing stored, nothing left open', { timeout: 300_000 }, () =>
  scenario('ff-flip-all', { proxyArgs: ['--flip-rate', '1'] }, { size: 12 * MIB, expect: 'error' }, async (r) => {
    assert.match(r.error, /^IntegrityError: /);
    assert.ok(r.stats.flipped >= 2, `each try was corrupted (${r.stats.flipped})`);
  }));

test('Firefox: every part PUT answers 403: S3Error at once, the upload deleted', { timeout: 300_000 }, () =>
  scenario('ff-fatal', { proxyArgs: ['--fail-rate', '1', '--fail-status', '403'] }, { size: 12 * MIB, expect: 'error' }, async (r) => {
    assert.match(r.error, /^S3Error: /);
    // Nor are the signings the failure cancelled (they fail as aborted requests).
    assert.equal(r.retries, 0, `a 403 is not retried, and no retry is reported after it (one was, for: ${r.retryReason})`);
  }));

test("Firefox: half of complete's replies lost after completing: complete asked again, the object found, no error", { timeout: 300_000 }, () =>
  scenario('ff-lost-complete', { serverArgs: ['--fault-rate', '0.5', '--fault-calls', 'complete', '--fault-after', '--fault-max', '1'] },
    { query: 'partSize=5242880' }, async (r) => {
      assert.ok(r.retries >= 1, 'complete was sent again after its reply was lost');
    }));

test('Firefox: abort in the middle: Aborted, nothing stored, nothing left open', { timeout: 300_000 }, () =>
  scenario('ff-abort', { proxyArgs: ['--bandwidth-mbit', '100'] }, {
    query: 'partSize=5242880',
    size: 40 * MIB,
    expect: 'aborted',
    during: async () => {
      await driver.wait(async () => Number(await driver.findElement(By.id('bar')).getAttribute('value')) >= 20, 60_000, 'a fifth uploaded');
      await driver.findElement(By.id('abort')).click();
    },
  }, async (r) => {
    assert.match(r.error, /^Aborted: /);
    assert.equal(r.retries, 0, `no retry is reported for the calls the abort cancelled (one was, for: ${r.retryReason})`);
  }));

test("Firefox: init's first reply lost after the upload was created: init asked again with the same token, the same upload, nothing left open", { timeout: 300_000 }, () =>
  scenario('ff-lost-init', { serverArgs: ['--fault-rate', '1', '--fault-max', '1', '--fault-calls', 'init', '--fault-after'] },
    { query: 'partSize=5242880' }, async (r) => {
      assert.equal(r.calls.init, 2, `init was asked again (${JSON.stringify(r.calls)})`);
    }));

test('Firefox: a quarter of part-url and part-urls calls answer 503: retried, intact', { timeout: 300_000 }, () =>
  scenario('ff-backend-5xx', { serverArgs: ['--fault-rate', '0.25', '--fault-calls', 'part-url,part-urls'] },
    { query: 'partSize=5242880', size: 40 * MIB }, async (r) => {
      assert.ok(r.retries > 0, `the backend's failures were retried (${JSON.stringify(r.calls)})`);
    }));

test('Firefox: 30 small files chosen at once while a quarter of url and urls calls answer 503 and some PUTs are corrupted: signed mostly together, every file intact', { timeout: 300_000 }, async () => {
  const stack = await startFaultyStack({ serverArgs: ['--fault-rate', '0.25', '--fault-calls', 'url,urls'], proxyArgs: ['--flip-rate', '0.1', '--seed', '5'] });
  const files = Array.from({ length: 30 }, (_, i) => randomFile(`ff-small-${i}.bin`, 20_000 + i * 3_001));
  try {
    await driver.get(`${stack.api}/`);
    await driver.wait(async () => driver.executeScript(
      "return !!document.querySelector('.s3-upload-panel')?.shadowRoot?.querySelector('button.choose')"), 60_000, 'the widget renders');
    await driver.executeScript(COUNT_CALLS);
    await driver.findElement(By.id('files')).sendKeys(files.map((f) => f.file).join('\n'));
    const count = (state) => driver.executeScript(
      `return document.querySelector('.s3-upload-panel').shadowRoot.querySelectorAll('li[data-state="${state}"]').length`);
    await driver.wait(async () => (await count('done')) + (await count('error')) === files.length, 240_000, 'every file settles');
    assert.equal(await count('error'), 0, 'no file failed');
    for (const f of files) {
      const name = f.file.split('/').pop();
      assert.equal((await storedObject(stack.api, `demo/${name}`)).sha256, f.sha256, `${name} is stored intact`);
    }
    const calls = await driver.executeScript('return window.calls');
    assert.ok((await stack.stats()).flipped > 0, 'some PUTs were corrupted on the way');
    assert.ok(calls.urls >= 1 && (calls.url ?? 0) + calls.urls < files.length, `signed together: ${JSON.stringify(calls)}`);
    assert.ok(await driver.executeScript('return window.signed') >= files.length);
  } finally {
    for (const f of files) f.cleanup();
    await stack.stop();
  }
});

/** Options of a 40 MiB upload in 5 MiB parts whose file `change` alters on disk once a quarter is uploaded; it must end in an error. */
const changedAtAQuarter = (query, change) => ({
  query: `partSize=5242880&concurrency=2${query}`,
  size: 40 * MIB,
  expect: 'error',
  during: async (src) => {
    await driver.wait(async () => Number(await driver.findElement(By.id('bar')).getAttribute('value')) >= 25, 60_000, 'a quarter uploaded');
    change(src.file);
  },
});

test('Firefox: the file rewritten on disk while it uploads: its sample differs before complete, FileReadError, nothing stored, nothing left open', { timeout: 300_000 }, () =>
  // Firefox reads a file changed on disk as it is now, without an error
  // (Chromium refuses the read): without the check, the object stored
  // would hold the parts sent before the change and the new bytes of those
  // read after it, neither version of the file.
  scenario('ff-rewritten', { proxyArgs: ['--bandwidth-mbit', '80'] }, changedAtAQuarter('', (file) => rewrite(file)), async (r) => {
    assert.match(r.error, /^FileReadError: the file changed on disk while it was being uploaded/);
  }));

test("Firefox: the same truncation with the default partTimeout: the store gives up on the stalled body first (400 RequestTimeout, as S3 does after 20 s), the file is checked again, FileReadError, nothing stored", { timeout: 300_000 }, () =>
  // The store's idle limit made 3 s here (S3's is 20 s, before the client's
  // 60 s partTimeout): its answer counts as a PUT without an answer.
  scenario('ff-truncated-idle', { proxyArgs: ['--bandwidth-mbit', '80'], serverArgs: ['--body-idle-timeout', '3'] }, changedAtAQuarter('&checksum=none', (file) => truncateSync(file, 20 * MIB)), async (r) => {
    assert.match(r.error, /^FileReadError: the file changed on disk while it was being uploaded/);
    assert.ok(r.ms < 50_000, `ended after the store's answer (${r.ms} ms), not after partTimeout and every retry`);
  }));

test("Firefox: the file truncated on disk while it uploads, checksum: 'none': the stalled PUT has the file checked again, FileReadError at once, nothing stored", { timeout: 300_000 }, () =>
  // Firefox sends nothing for bytes past the new end of the file: the PUT
  // stalls. Without checksums no hash read notices; the sample read again
  // after the stalled PUT does, instead of every retry stalling in turn.
  scenario('ff-truncated', { proxyArgs: ['--bandwidth-mbit', '80'] }, changedAtAQuarter('&checksum=none&partTimeout=4000', (file) => truncateSync(file, 20 * MIB)), async (r) => {
    assert.match(r.error, /^FileReadError: the file changed on disk while it was being uploaded/);
    assert.ok(r.ms < 60_000, `ended soon after the first stall (${r.ms} ms), not after every retry`);
  }));

// A far link (tests/e2e/far-link.test.mjs): the page, its backend and the
// store behind link-emu, 150 ms and 4 MiB in flight per connection. Firefox
// times its PUTs and signatures as Chromium does: the file cut in whole
// rounds (24 parts of 10.6875 MiB planned), the parts not yet under way
// grow once the link is measured, and the object is the file.
test('Firefox: on a far link the parts not yet under way grow: fewer PUTs than planned, intact', { timeout: 300_000 }, async () => {
  const stack = await startLinkStack(['--rtt-ms', '150', '--window-kib', '4096']);
  const size = 256 * MIB + 12_345;
  const src = randomFile('far-grown-firefox.bin', size);
  try {
    await driver.get(`${stack.page}/harness.html`);
    await driver.wait(until.elementLocated(By.css('body[data-ready="true"]')), 30_000);
    await driver.executeScript(RECORD_PUTS);
    await driver.findElement(By.id('file')).sendKeys(src.file);
    const state = await driver.wait(until.elementLocated(By.css('#state[data-state="done"], #state[data-state="error"]')), 240_000);
    assert.equal(await state.getAttribute('data-state'), 'done', await text('error'));
    assert.equal(Number(await text('retries')), 0, 'no retries on a clean link');
    const puts = await driver.executeScript('return window.puts');
    const parts = assertGrewOnce(puts, { parts: 24, size: 10 * MIB + 11 * 64 * 1024 }, size);
    console.log(`Firefox, far link, default options: ${puts.length} part PUTs, ${parts} parts`);
    assert.equal((await storedObject(stack.api, 'demo/far-grown-firefox.bin')).sha256, src.sha256, 'the stored object is the file');
    assert.deepEqual(await stack.openUploads('demo/'), [], 'no multipart upload left open');
  } finally {
    src.cleanup();
    await stack.stop();
  }
});

// Last: the two scenarios begun at the start in the Firefox aside (above)
// have had the time of all the others to end.
test('Firefox: complete answers 40 s late, every time: the upload waits for it, complete asked once, no error', { timeout: 300_000 }, async () => {
  // Begun with the file, in the Firefox aside (above): mostly a wait.
  const r = await slowComplete;
  assert.equal(r.calls.complete, 1, `complete asked ${r.calls.complete} times`);
  assert.equal(r.retries, 0, `nothing was retried (${r.retryReason})`);
  assert.ok(r.ms >= 40_000, `the upload waited for complete's answer (${r.ms} ms)`);
});

test('Firefox: a slow uplink whose send buffers take whole parts is not taken for stalled PUTs: nothing sent twice, intact', { timeout: 300_000 }, async () => {
  // Begun with the file, in the Firefox aside (above).
  const r = await deepBuffers;
  assert.equal(r.retries, 0, `no PUT taken for stalled (${r.retries} retries: ${r.retryReason})`);
  assert.equal(r.stats.matched_body_bytes, r.size, 'every byte sent once');
  assert.ok(r.ms > 20_000, `the link was slower than partTimeout per part (${r.ms} ms)`);
});
