// The module's JavaScript: what JS does better or smaller than WebAssembly.
// It does all the waiting (the upload's run: src/browser/driver.rs turns the
// engine's steps into commands, carried out here; backend calls, bounded and
// cancellable; hashing in a Worker; the journal's storage) and checks the
// options; every upload decision stays in Rust (src/engine/), and so does
// every check of what the network answers (src/protocol.rs). One file, so
// that a page fetches one snippet (wasm-bindgen copies it beside its glue).
// ---- The API: UploadError, the backend calls over HTTP and through hooks ----
export class UploadError extends Error {
  constructor(message, code, status, partNumber, field, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'UploadError';
    this.code = code;
    this.status = status;
    this.partNumber = partNumber;
    this.field = field;
  }
}
export function makeUploadError(message, code, status, partNumber, field, cause) {
  return new UploadError(message, code, status, partNumber, field, cause);
}
export function clientToken() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => (b | 256).toString(16).slice(1)).join('');
}
// The hooks backend (src/backend/hooks.rs): a call of the protocol (named by
// its REST path), its REST body as JSON, becomes hook `name`'s call with the
// hook's arguments, and the hook's answer becomes the REST reply, as JSON,
// which the module then checks as it checks an HTTP backend's. What the hook
// throws is passed on.
const hookRef = (b) => ({ key: b.key, uploadId: b.upload_id });
const hookSigned = (r) => (typeof r === 'string' ? { url: r } : { url: r?.url, headers: r?.headers });
const hookParts = (b) => b.parts?.map((p) => ({ partNumber: p.part_number, checksum: p.checksum }));
const hookUrls = (r) => (Array.isArray(r) ? r.map((s) => ({ part_number: s?.partNumber, ...hookSigned(s) })) : r);
const HOOKS = {
  '/uploads/multipart/init': [(b) => ({ key: b.key, contentType: b.content_type, checksumAlgorithm: b.checksum_algorithm, clientToken: b.client_token, parts: hookParts(b) }),
    (r) => ({ upload_id: r?.uploadId, urls: hookUrls(r?.urls) })],
  '/uploads/multipart/part-url': [(b) => ({ ...hookRef(b), partNumber: b.part_number, checksum: b.checksum }), hookSigned],
  '/uploads/multipart/part-urls': [(b) => ({ ...hookRef(b), parts: hookParts(b) }), (r) => ({ urls: hookUrls(r) })],
  '/uploads/url': [(b) => ({ key: b.key, contentType: b.content_type, checksum: b.checksum }), hookSigned],
  '/uploads/multipart/complete': [(b) => ({ ...hookRef(b), parts: b.parts, checksum: b.checksum }), (r) => ({ etag: r?.etag, location: r?.location })],
  '/uploads/multipart/abort': [hookRef, () => ({})],
  '/uploads/multipart/parts': [hookRef, (r) => ({ parts: r })],
};
// The HTTP backend's request (src/backend/http.rs): answers [status, body,
// Retry-After], the body null when a 2xx reply was cut off on its way;
// rejects with the fetch's own error when no reply came, and with
// { unsendable } when the request cannot be made (a header it refuses).
// `many` (a file's presigned PUT): it may go with other files' (`together`).
function fetchText(method, url, headers, body, include, signal, many) {
  const one = () => fetchOne(method, url, headers, body, include, signal);
  return !many || presigns.get(url) === 0 || signal.aborted ? one()
    : together(url + include + JSON.stringify(headers), body, signal, one, (items) => presignMany(items, method, url, headers, include));
}
// Presigned PUTs of many files (small files, each sent as one PUT) asked at
// about the same time go together: while PRESIGN_AT_ONCE calls to the same
// backend (URL, headers, credentials; or hooks object) are on their way, the
// next ones wait and then go as one call of at most PRESIGN_MOST files (REST:
// POST .../uploads/urls; the Lambda envelope: generate_presigned_upload_urls;
// hooks: signPuts), whose answer is split back into each file's own, as its
// own call would have answered it (a call that fails rejects them all).
// One file alone goes at once, as before. A backend that does not take the
// call (a 4xx but 408 and 429, such as 404, the Lambda envelope's
// UnknownAction, or API Gateway's 403 for a path it does not have; 501; a
// 2xx that is not its reply, such as a page served for any path; a 5xx when
// the same files then get their answers one by one) is asked file by file
// from then on, and each file's own call decides.
const PRESIGN_AT_ONCE = 2;
const PRESIGN_MOST = 100;
// Per backend: { busy, queue }; a URL maps to 0 once it has not taken the call.
const presigns = new Map();
function together(id, body, signal, one, many) {
  let g = presigns.get(id);
  if (!g) presigns.set(id, (g = { busy: 0, queue: [] }));
  return new Promise((resolve, reject) => {
    const gone = () => {
      g.queue = g.queue.filter((i) => i !== item);
      reject(signal.reason);
    };
    // Settled: the abort listener goes (the signal lives as long as the upload).
    const end = (f) => (v) => { signal.removeEventListener('abort', gone); f(v); };
    const item = { body, signal, resolve: end(resolve), reject: end(reject), one };
    g.queue.push(item);
    signal.addEventListener('abort', gone, { once: true });
    const pump = () => {
      while (g.busy < PRESIGN_AT_ONCE && g.queue.length) {
        const items = g.queue.splice(0, PRESIGN_MOST);
        g.busy++;
        (items[1] ? many(items) : presignEach(items))
          .catch((e) => items.map((i) => i.reject(e)))
          .then(() => { g.busy--; pump(); });
      }
      // An idle backend's entry goes (an Uploader's hooks are not kept alive by it).
      if (!g.busy && presigns.get(id) === g) presigns.delete(id);
    };
    pump();
  });
}
const presignEach = (items) => Promise.all(items.map((i) => i.one().then(i.resolve, i.reject)));
// Calls `call(signal)` for several files, the signal aborted once none of
// them wants the call; their abort listeners go when it ends.
async function wanted(items, call) {
  const ctl = new AbortController();
  let left = items.length;
  const off = () => --left || ctl.abort();
  for (const i of items) i.signal.addEventListener('abort', off, { once: true });
  try { return await call(ctl.signal); } finally { for (const i of items) i.signal.removeEventListener('abort', off); }
}
async function presignMany(items, method, url, headers, include) {
  const bodies = items.map((i) => JSON.parse(i.body));
  const lambda = bodies[0].payload;
  const files = lambda ? bodies.map((b) => b.payload) : bodies;
  const r = await wanted(items, (signal) => fetchOne(method, lambda ? url : url + 's', headers,
    JSON.stringify(lambda ? { ...bodies[0], action: 'generate_presigned_upload_urls', payload: { files } } : { files }), include, signal));
  const [status, text] = r;
  let urls;
  try { urls = JSON.parse(text).urls; } catch (e) { /* not the batch's reply */ }
  const ok = status > 199 && status < 300;
  // Each entry is its file's (by key, in the order asked): its URL, or its refusal.
  if (ok && urls?.length === files.length &&
    urls.every((u, k) => (u?.error ? u.status > 399 && u.status < 600 : u?.key === files[k].key))) {
    items.map((i, k) => {
      const u = urls[k];
      i.resolve(u.error ? [u.status, JSON.stringify({ error: u.error })] : [status, JSON.stringify(u)]);
    });
  } else if (ok || (status > 399 && status < 500 && status !== 408 && status !== 429) || status === 501) {
    presigns.set(url, 0);
    await presignEach(items);
  } else if (status > 499) {
    // A 5xx: the backend may be failing, or fail on a call it does not know
    // (a Lambda that throws on an unknown action). Each file asks alone; if
    // one of them gets its answer, the backend does not take the call.
    const got = await Promise.all(items.map((i) => i.one().then((a) => (i.resolve(a), a[0] < 500), (e) => i.reject(e))));
    if (got.includes(true)) presigns.set(url, 0);
  } else {
    // 408, 429: each file's call was refused for now (retried later, after a pause).
    items.map((i) => i.resolve(r));
  }
}
// The signPuts hook: { files: [{ key, contentType, checksum }], signal } in,
// for each file its { url, headers } (or the URL string), or an Error for a
// file refused alone, out.
async function hookPuts(hooks, items) {
  const files = items.map((i) => HOOKS['/uploads/url'][0](JSON.parse(i.body)));
  const answer = await wanted(items, (signal) => hooks.signPuts({ files, signal }));
  if (!Array.isArray(answer) || answer.length !== files.length) {
    throw new Error('signPuts must return, for each file given and in their order, { url, headers } or an Error');
  }
  items.map((i, k) => (answer[k] instanceof Error ? i.reject(answer[k]) : i.resolve(JSON.stringify(hookSigned(answer[k])))));
}
async function fetchOne(method, url, headers, body, include, signal) {
  let init;
  try {
    // Later pairs win (the JSON Content-Type over the application's).
    const h = new Headers();
    for (const [k, v] of headers) h.set(k, v);
    init = { method, headers: h, credentials: include ? 'include' : 'same-origin', signal, body };
  } catch (e) {
    throw { unsendable: String(e && e.message || e) };
  }
  const r = await fetch(url, init);
  let text = '';
  try {
    // At most 8 MiB of a reply are read (list-parts of 10,000 parts is ~1 MB):
    // a larger one (an endpoint serving a file) is cut there, then refused
    // as not the call's reply, its first words in the error.
    const rd = r.body?.getReader(), got = [];
    for (let n = 0, c; rd && n < 8 << 20 && !(c = await rd.read()).done; n += c.value.length) got.push(c.value);
    rd?.cancel();
    text = await new Blob(got).text();
  } catch (e) { if (r.ok) text = null; }
  return [r.status, text, r.headers.get('retry-after')];
}
function callHook(hooks, name, op, body, signal) {
  const one = async () => {
    const [args, reply] = HOOKS[op];
    const answer = await hooks[name]({ ...args(JSON.parse(body)), signal });
    // An answer JSON cannot carry (a cycle, a BigInt) is not JSON: refused as malformed.
    try { return JSON.stringify(reply(answer)); } catch (e) { return ''; }
  };
  return name === 'signPut' && hooks.signPuts && !signal.aborted ? together(hooks, body, signal, one, (items) => hookPuts(hooks, items)) : one();
}

// ---- Reading and hashing the file, part PUTs, starting in turns ----
// Reads bytes [start, end) of `blob` (all of it, not a slice, when `whole`:
// Chromium reads a File from its path, a slice through its blob reader),
// calling `each(view)` for each chunk (a Uint8Array valid until `each`
// returns). With `byob` (the hashing Worker), a BYOB reader reads into one
// reused buffer of `chunk` bytes: no garbage.
// Without (the page), the stream's own chunks (64 KiB or so, collected as
// they go): Chromium's BYOB reads of file streams were seen to stop
// answering after some 60 to 125 files in one agent's life (2026-11-25, in a
// page and in a bare Worker; not reproduced on 2026-12-03 by the 200-file
// demo test, even without replacing the Worker), so only a Worker that is
// replaced well before that reads BYOB. BYOB against the stream's chunks in
// the Worker, measured: 26 vs 78 MiB above idle at 64 MiB, 70 vs 190 MiB at
// 1 GiB, 3.2 vs 3.9 s of renderer CPU per GiB.
//
// On the page (no `byob`) a read that makes no progress for 15 s is given
// up with an error (a file on a drive that stopped answering): there is no
// Worker to replace. (The hashing Worker's reads are watched from the page,
// below.) A check that comes late (the page's thread held, a hidden tab's
// timers throttled) does not count the time it was held against the read.
async function readChunks(blob, start, end, whole, chunk, each, byob) {
  const stream = (whole ? blob : blob.slice(start, end)).stream();
  let own = null;
  if (byob) { try { own = stream.getReader({ mode: 'byob' }); } catch (e) { /* not a byte stream */ } }
  if (own) {
    let buf = new ArrayBuffer(chunk);
    for (;;) {
      const { value, done } = await own.read(new Uint8Array(buf, 0, chunk));
      if (done) return;
      each(value);
      buf = value.buffer;
    }
  }
  const reader = stream.getReader();
  let last = performance.now(), tick = last, stalled = false;
  const watch = byob ? 0 : setInterval(() => {
    const now = performance.now();
    if (now - tick > 10000) last = now;
    tick = now;
    if (now - last > 15000) { stalled = true; reader.cancel().catch(() => {}); }
  }, 5000);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (stalled) throw new Error('reading it made no progress for 15 s');
      if (done) return;
      last = performance.now();
      // A chunk larger than the buffer goes in pieces.
      for (let at = 0; at < value.length; at += chunk) each(value.subarray(at, Math.min(value.length, at + chunk)));
    }
  } finally {
    clearInterval(watch);
  }
}
// Many uploads started at once (a folder, a multi-file input) start in turns:
// the first ones go on at once while the task that started them has had
// less than TURN_MS of their work; the others wait, and each later task
// (a MessageChannel message, so timers' clamping does not apply) lets one
// more start. The page's thread is never held for long by starting work,
// which a File's synchronous `size` and `lastModified` make slow in
// Chromium; one upload alone never waits.
// A File's first `size` is a synchronous round trip to the browser process
// (then kept): 0.1 ms with an idle network, ~1 ms once the uploads' requests
// keep that process busy, and an XHR sending a File whose size was never
// read makes the same round trip. So each turn also reads, while its
// TURN_MS last, the sizes of the files still waiting (read early, most of
// them are read before the traffic builds up), and hands each upload the
// size read for it.
const TURN_MS = 5;
let turnOpen = false;
let turnUntil = 0;
// Uploads waiting for their turn, first first: { file, go, size }.
const turnsWaiting = [];
// How many of them, from the first, have had their size read.
let sizesRead = 0;
let turnChannel = null;
function postTurn() {
  if (!turnChannel && typeof MessageChannel === 'function') {
    turnChannel = new MessageChannel();
    turnChannel.port1.onmessage = nextTurn;
  }
  if (turnChannel) turnChannel.port2.postMessage(0);
  else setTimeout(nextTurn, 0);
}
function nextTurn() {
  turnOpen = false;
  const next = turnsWaiting.shift();
  if (!next) return;
  sizesRead = Math.max(0, sizesRead - 1);
  turnOpen = true;
  turnUntil = performance.now() + TURN_MS;
  while (sizesRead < turnsWaiting.length && performance.now() < turnUntil) {
    const w = turnsWaiting[sizesRead++];
    try { w.size = w.file.size; } catch (e) { /* read again, and reported, when its upload starts */ }
  }
  postTurn();
  next.go(next.size);
}
// undefined: go on now; else a promise of the file's size (undefined when
// not read yet) once it is this upload's turn.
function turn(file) {
  const now = performance.now();
  if (!turnOpen) {
    turnOpen = true;
    turnUntil = now + TURN_MS;
    postTurn();
    return undefined;
  }
  if (!turnsWaiting.length && now < turnUntil) return undefined;
  return new Promise((go) => turnsWaiting.push({ file, go, size: undefined }));
}
// The Worker's code, run there as the source of this function (`readChunks`,
// above, goes in as its argument). The build (scripts/worker-literal.mjs,
// from scripts/entry.sh) replaces `WORKER` by that source minified, as a
// string literal, which no app's transpiler rewrites (Babel would make the
// async functions call helpers the Worker does not have). The first message
// brings its WebAssembly module
// (hasher/, base64: a few KB, no import), instantiated once; each message
// then asks for the CRC register of a range of a Blob, read in chunks into
// the module's buffer.
function workerMain(readChunks) {
  // The module's exports, once instantiated (a global of the Worker's, so
  // that the package's tests can see it runs).
  self.hasher = null;
  let queue = Promise.resolve();
  let beat = 0;
  async function hash(exp, blob, start, end, whole) {
    const chunk = exp.capacity();
    let state = -1, seen = 0;
    const add = (view) => {
      new Uint8Array(exp.memory.buffer, exp.buffer(), view.length).set(view);
      state = exp.update(state, view.length);
      seen += view.length;
      // Still reading: the page's watchdog hears it (at most once a second).
      const now = performance.now();
      if (now - beat > 1000) { beat = now; postMessage({ beat: 1 }); }
    };
    if (end - start <= chunk && typeof FileReaderSync === 'function') {
      // A small file (or the last bit of one): read at once, without a
      // stream's set-up, which costs more than the reading for 100 KiB.
      add(new Uint8Array(new FileReaderSync().readAsArrayBuffer(whole ? blob : blob.slice(start, end))));
    } else {
      await readChunks(blob, start, end, whole, chunk, add, true);
    }
    return { state, seen };
  }
  self.onmessage = async ({ data }) => {
    const { id, module, blob, start, end, whole } = data;
    if (module) {
      self.hasher = WebAssembly.instantiate(Uint8Array.from(atob(module), (c) => c.charCodeAt(0)), {})
        .then((r) => r.instance.exports);
      return;
    }
    // One part at a time, in the order asked: the first part is hashed
    // (and its PUT can start) before the next one, not both at half speed.
    queue = queue.then(async () => {
      let exp;
      try { exp = await self.hasher; } catch (e) { postMessage({ id, broken: String(e && e.message || e) }); return; }
      try {
        const r = await hash(exp, blob, start, end, whole);
        postMessage({ id, state: r.state, seen: r.seen });
      } catch (e) {
        // The file cannot be read: the upload must know. Anything else is the
        // Worker's own fault: the page hashes instead.
        const read = e && ['NotReadableError', 'NotFoundError', 'NotAllowedError'].includes(e.name);
        postMessage(read ? { id, error: String(e.message || e) } : { id, broken: String(e && e.message || e) });
      }
    });
  };
}
const WORKER = `(${workerMain})(${readChunks})`;
// A part's PUT (`drive`, below): `on(kind, a, b, c)` hears 0 (upload
// progress: a = bytes sent), 1 (an answer: a = status, b = the ETag of a 2xx,
// else the start of the body, c = Retry-After), 2 (timed out), 3 (no answer).
// Throws when the request cannot be made; answers the XMLHttpRequest.
function putPart(url, body, headers, withCredentials, on) {
  const x = new XMLHttpRequest();
  x.open('PUT', url, true);
  x.withCredentials = withCredentials;
  for (const [k, v] of headers) x.setRequestHeader(k, v);
  x.upload.onprogress = (e) => on(0, e.loaded);
  x.onload = () => {
    const ok = x.status >= 200 && x.status < 300;
    // (Each header read checks the CORS-exposed list: Retry-After only where it may matter.)
    on(1, x.status, ok ? x.getResponseHeader('ETag') : x.responseText.slice(0, 2048), ok ? null : x.getResponseHeader('Retry-After'));
  };
  x.ontimeout = () => on(2);
  x.onerror = () => on(3);
  x.send(body);
  return x;
}
// Aborts a PUT still running, its handlers first (so none runs after).
function abortPart(x) {
  if (x.readyState !== 4) {
    x.onload = x.onerror = x.ontimeout = x.upload.onprogress = null;
    x.abort();
  }
}
let hashModule = null;
// The hashing Workers: HASHERS at most, alive together (those hashing and
// those retiring, below). One hashes an upload's parts one after another;
// a second one starts when parts wait while the first is busy and has
// answered once (never during an upload's first hash, which a cold start
// waits for): where the PUTs are faster than one Worker's reading and
// hashing (Firefox on a fast link sent one part at a time, each waiting for
// its hash), two feed them.
const HASHERS = 2;
const workers = [];
// A Worker hashes this many parts, then a fresh one takes over (the old one
// ends once its parts are hashed): its BYOB reads stay far from the count
// after which Chromium stops answering them.
const PARTS_PER_WORKER = 40;
// What a Worker is handed at once: two parts (the one it hashes and the
// next, so that it never waits for the page), or more small ones while
// they add up to less than AHEAD bytes (small files: one Worker's message
// each). The others wait here, in the order asked, and a fresh Worker
// starts only while fewer than HASHERS are alive (a retiring one ends
// first): handing everything over at once started a Worker for every forty
// parts asked for (a thousand files of 2 MiB: ten Workers hashing side by
// side, 25 MiB each).
const AHEAD = 32 << 20;
// A part this large goes to a Worker with fewer than two parts (the one it
// hashes and the next), and may start the second Worker; smaller ones
// (small files: reading them is not what limits) go as above, to one.
const LARGE = 1 << 20;
// A Worker with parts to hash that has said nothing for this long (neither
// a part's hash nor that it is still reading, which it says each second
// while it reads) is taken for stuck (Chromium was seen to stop answering a
// Worker's blob reads): it ends, and its parts go to a fresh one, once;
// after that, to the page. A slow read (a slow disk, a slow device) that
// goes on is never taken for stuck.
const STUCK_MS = 15000;
let watch = null;
let retiring = 0;
let broken = false;
let seq = 0;
let idle = null;
const waiting = new Map();
const queued = [];
// The package's entry points hand over the Worker's module (base64).
export function setHashModule(module) {
  if (typeof module === 'string' && module) hashModule = module;
}
// Every Worker ends; the parts they had, and those waiting, go back to the
// page (null: hashed there).
function stopWorker() {
  for (const w of waiting.values()) { w.worker.terminate(); w.resolve(null); }
  waiting.clear();
  retiring = 0;
  for (const q of queued.splice(0)) q.resolve(null);
  for (const w of workers.splice(0)) w.terminate();
}
// Whether parts can be hashed in a Worker at all.
const usable = () => hashModule && !broken && typeof Worker !== 'undefined';
// A Worker started and sent its module; null when there can be none.
function startWorker() {
  let self;
  try {
    const url = URL.createObjectURL(new Blob([WORKER], { type: 'text/javascript' }));
    self = new Worker(url);
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    broken = true;
    return null;
  }
  self.pending = self.bytes = self.used = 0;
  self.onmessage = ({ data }) => {
    if (self.stuck) return;
    self.heard = performance.now();
    if (data.beat) return;
    self.answered = true;
    const w = waiting.get(data.id);
    waiting.delete(data.id);
    self.pending -= 1;
    if (w) self.bytes -= w.len;
    if (self.retired && !self.pending) {
      self.terminate();
      retiring -= 1;
    }
    if (data.broken) { broken = true; stopWorker(); }
    if (w) {
      if (data.broken) w.resolve(null);
      else if (data.error) w.reject(new Error(data.error));
      else if (data.seen !== w.len) w.reject(new Error('read ' + data.seen + ' bytes where ' + w.len + ' were expected'));
      else w.resolve(data.state);
    }
    handOver();
  };
  self.onerror = () => { broken = true; stopWorker(); };
  self.postMessage({ module: hashModule });
  workers.push(self);
  return self;
}
// The Worker to hand the next part (of `len` bytes) to: one not full (the
// least busy), or a new one; null when none takes it now (`undefined`:
// there can be none).
function hashWorker(len) {
  if (!usable()) return undefined;
  // Its parts handed over: retired, it ends once they are hashed.
  for (const w of workers.filter((w) => w.used >= PARTS_PER_WORKER)) {
    workers.splice(workers.indexOf(w), 1);
    w.retired = true;
    if (w.pending) retiring += 1;
    else w.terminate();
  }
  const w = workers.reduce((a, b) => (b.pending < a.pending ? b : a), workers[0]);
  const large = len >= LARGE;
  const more = workers.length + retiring < HASHERS && (!w || (large && w.pending && w.answered));
  if (more) return startWorker() ?? undefined;
  return w && !(w.pending >= 2 && (large || w.bytes >= AHEAD)) ? w : null;
}
// Hands waiting parts to the Workers while they are not full (above); an
// idle Worker goes after a while (the next part starts another).
function handOver() {
  clearTimeout(idle);
  while (queued.length) {
    const w = hashWorker(queued[0].len);
    if (w === undefined) { stopWorker(); return; }
    if (!w) break;
    const q = queued.shift();
    // Its upload has ended (cancelled, failed, replaced): not hashed.
    if (q.signal.aborted) { q.resolve(false); continue; }
    w.used += 1;
    if (!w.pending) w.heard = performance.now();
    w.pending += 1;
    w.bytes += q.len;
    q.worker = w;
    waiting.set(q.id, q);
    w.postMessage({ id: q.id, blob: q.blob, start: q.start, end: q.end, whole: q.whole });
  }
  // Parts out: the watchdog looks at them (whatever stopped the loop).
  if (!waiting.size) idle = setTimeout(stopWorker, 10000);
  else watch ??= setTimeout(watchdog, STUCK_MS);
}
// Ends each Worker that is overdue with the parts it was handed; they wait
// again, ahead of the others.
function watchdog() {
  watch = null;
  const now = performance.now();
  const overdue = new Set();
  for (const { worker: w } of waiting.values()) {
    if (now - w.heard > STUCK_MS) overdue.add(w);
  }
  for (const w of overdue) {
    w.stuck = true;
    w.terminate();
    if (w.retired) retiring -= 1;
    else if (workers.includes(w)) workers.splice(workers.indexOf(w), 1);
    const back = [...waiting.values()].filter((q) => q.worker === w);
    for (const q of back.reverse()) {
      waiting.delete(q.id);
      if (q.again) q.resolve(null);
      else { q.again = true; queued.unshift(q); }
    }
  }
  handOver();
}
// Resolves to the CRC register after hashing [start, end) of blob in a
// Worker, null when there is no Worker to do it (the page hashes then), or
// false when signal was aborted before its turn; rejects when the file
// cannot be read.
function workerCrc32(blob, start, end, whole, signal) {
  if (!usable()) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    queued.push({ id: ++seq, blob, start, end, whole, signal, resolve, reject, len: end - start });
    handOver();
  });
}


// ---- The resume journal's storage ----
const DB = 's3-multipart-wasm';
const STORE = 'uploads';
const PREFIX = 's3-multipart-wasm/journal/';
let local;
function ls() {
  if (local === undefined) {
    local = null;
    try {
      // Missing in workers; a getter that throws where storage is blocked.
      const s = globalThis.localStorage;
      if (s) { s.getItem(PREFIX); local = s; }
    } catch (e) { /* IndexedDB then */ }
  }
  return local;
}
let opened = null;
function db() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      if (typeof indexedDB === 'undefined') { reject(new Error('IndexedDB is unavailable')); return; }
      const r = indexedDB.open(DB, 1);
      r.onupgradeneeded = () => r.result.createObjectStore(STORE);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    opened.catch(() => { opened = null; });
  }
  return opened;
}
function run(mode, f) {
  return db().then((d) => new Promise((resolve, reject) => {
    const t = d.transaction(STORE, mode);
    const req = f(t.objectStore(STORE));
    t.oncomplete = () => resolve(req.result);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  }));
}
// Each answers a promise, whichever the storage; localStorage's errors
// (quota) reject like IndexedDB's.
function sync(f) {
  try { return Promise.resolve(f(ls())); } catch (e) { return Promise.reject(e); }
}
function journalGet(id) {
  return ls() ? sync((s) => s.getItem(PREFIX + id) ?? undefined) : run('readonly', (s) => s.get(id));
}
function journalPut(id, json) {
  return ls() ? sync((s) => s.setItem(PREFIX + id, json)) : run('readwrite', (s) => s.put(json, id));
}
function journalDelete(id) {
  return ls() ? sync((s) => s.removeItem(PREFIX + id)) : run('readwrite', (s) => s.delete(id));
}
function journalAll() {
  if (!ls()) return run('readonly', (s) => s.getAll());
  return sync((s) => {
    const all = [];
    for (let i = 0; i < s.length; i++) {
      const k = s.key(i);
      if (k && k.startsWith(PREFIX)) all.push(s.getItem(k));
    }
    return all;
  });
}
// The lock of entry `id` while an upload of it runs (Web Locks, which the
// browser releases when the page goes): resolves to the function that
// releases it, or to null when another running upload (this page's or
// another tab's) holds it; without Web Locks, to a function that does
// nothing.
function journalLock(id) {
  const locks = globalThis.navigator && navigator.locks;
  const none = () => {};
  if (!locks) return Promise.resolve(none);
  return new Promise((resolve) => {
    locks.request(PREFIX + id, { ifAvailable: true }, (lock) => {
      if (!lock) { resolve(null); return undefined; }
      return new Promise((release) => resolve(release));
    }).catch(() => resolve(none));
  });
}
// One backend's entries, parsed (an entry that is not JSON is skipped).
function entriesOf(endpoint) {
  return journalAll().then((all) => all.flatMap((text) => {
    try {
      const e = JSON.parse(text);
      return e && e.endpoint === endpoint ? [e] : [];
    } catch (_) { return []; }
  }));
}
// The ids of one backend's entries untouched for more than `ttl` ms (the
// module's resume::DEFAULT_TTL_MS), for the sweep of expired ones.
function journalExpired(endpoint, ttl) {
  const now = Date.now();
  return entriesOf(endpoint).then((es) => es.filter((e) => typeof e.id === 'string' && now - e.updated_ms > ttl).map((e) => e.id));
}
// The interrupted uploads of one backend, for resumableUploads(): entries
// whose content sample is written (without it the file cannot be
// recognised, so it would not be resumed) and whose upload exists.
export function journalList(endpoint) {
  return entriesOf(endpoint).then((es) => es.filter((e) => e.sample && e.upload_id && Array.isArray(e.parts))
    .map((e) => ({ id: e.id, key: e.key, name: e.name, size: e.size, uploadId: e.upload_id,
      partsDone: e.parts.length, createdAt: e.created_ms, updatedAt: e.updated_ms })));
}
// ---- Running an upload: the commands of a Run (src/browser/driver.rs) ----
// A backend call (reply body included) takes at most this long unless the
// module gives it longer (complete: src/engine/upload.rs,
// COMPLETE_TIMEOUT_MS); past it the call is cancelled and counts as a
// timeout, which is retried.
const CALL_TIMEOUT_MS = 30000;
const TIMEOUT = {};
const noop = () => {};
// The message of a thrown value.
function message(e) {
  if (typeof e?.message === 'string') return e.message;
  if (typeof e === 'string') return e;
  try { return JSON.stringify(e) ?? 'an error with no message'; } catch (_) { return 'an error with no message'; }
}
// What the module needs of a value a call's transport threw
// (src/backend/mod.rs, Thrown): its message, its facts (1 a TypeError, 2
// named BadDigest by its name, code or Code, 4 named InvalidPart, 8 a
// request fetch would not make: the message is why) and the HTTP status it
// carries (status, statusCode or the AWS SDK's $metadata.httpStatusCode,
// the first that is a number), read here so that the module reads nothing
// of it; a property that throws when read counts as absent.
function thrown(e) {
  const get = (o, k) => { try { return isObject(o) || typeof o === 'function' ? o[k] : undefined; } catch (_) { return undefined; } };
  const num = (v) => (typeof v === 'number' ? v : undefined);
  const name = get(e, 'name');
  const why = get(e, 'unsendable');
  const facts = (e instanceof TypeError ? 1 : 0)
    | (name === 'BadDigest' || get(e, 'code') === 'BadDigest' || get(e, 'Code') === 'BadDigest' ? 2 : 0)
    | (name === 'InvalidPart' ? 4 : 0)
    | (why !== undefined ? 8 : 0);
  let text;
  try { text = why !== undefined ? String(why) : message(e); } catch (_) { text = 'an error with no message'; }
  return [text, facts, num(get(e, 'status')) ?? num(get(e, 'statusCode')) ?? num(get(get(e, '$metadata'), 'httpStatusCode'))];
}
// Runs `f(signal)` with a signal of its own, aborted when `parent` aborts or
// when the call outlives `ms` (then it rejects with TIMEOUT): every call,
// over HTTP or through a hook, is cancellable and bounded in time, so a call
// that never answers cannot stall an upload.
function bounded(parent, f, ms) {
  const ctl = new AbortController();
  const stop = () => ctl.abort();
  if (parent.aborted) ctl.abort();
  else parent.addEventListener('abort', stop);
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => { ctl.abort(); reject(TIMEOUT); }, ms);
  });
  return Promise.race([f(ctl.signal), late]).finally(() => {
    clearTimeout(timer);
    parent.removeEventListener('abort', stop);
  });
}
// Carries call target `t` (src/backend/mod.rs, Calls::target): through a
// hook, or over HTTP with the application's headers (a function's answer
// checked first). Answers [status, body, Retry-After], or { threw } /
// { bad } when options.headers() threw or answered something else than
// headers.
async function transport(call, t, signal) {
  if (t[0]) return [200, await callHook(t[1], t[2], t[3], t[4], signal)];
  let h = t[6];
  if (typeof h === 'function') {
    let v;
    try { v = await h(); } catch (e) { return { threw: e }; }
    try { h = headerPairs(v); } catch (e) { return { bad: e.message }; }
  }
  if (t[3] !== undefined) h = [...h, ['Content-Type', 'application/json']];
  return fetchText(t[1], t[2], h, t[3], t[5], signal, t[4]);
}
// Sends backend call `call` (src/backend/mod.rs, Call) until its result is
// known (an init may go twice), cancelled with `parent`, each attempt
// bounded by `ms`; resolves to it.
async function send(call, parent, ms = CALL_TIMEOUT_MS) {
  for (let t; (t = call.target()); ) {
    let r;
    try {
      r = await bounded(parent, (signal) => transport(call, t, signal), ms);
    } catch (e) {
      if (e === TIMEOUT) call.timedOut();
      else call.threw(...thrown(e));
      break;
    }
    if (!Array.isArray(r)) {
      if ('bad' in r) call.badHeaders(r.bad);
      else call.headersThrew(message(r.threw));
      break;
    }
    if (!call.answered(r[0], r[1], r[2])) break;
  }
  return call;
}
// An Uploader method's call: a promise of its result (Call::outcome).
export function apiCall(call, what) {
  return send(call, new AbortController().signal).then((c) => {
    try { return c.outcome(what); } finally { c.free(); }
  });
}
// Aborts the multipart upload of journal entry `id` and forgets the entry:
// a promise of whether there was one. An abort that fails keeps the entry.
export async function discard(api, id) {
  const text = await journalGet(id).catch(noop);
  const c = api.discardCall(typeof text === 'string' ? text : undefined);
  if (c === false) return false;
  if (c !== true) await apiCall(c, 2);
  await journalDelete(id).catch(noop);
  return true;
}
// The journal's expired entries of a backend: their uploads are aborted and
// they are forgotten (an abort that fails keeps its entry for a later sweep).
// It reads and parses every entry of the journal, so it is not done while
// `new Uploader()` runs (often as the page loads): it waits for an idle
// moment of the page, at most SWEEP_WAIT_MS (a Worker has no idle callback:
// its next task).
const SWEEP_WAIT_MS = 1000;
export function sweep(api, label, ttl) {
  const go = () => journalExpired(label, ttl).then(async (ids) => {
    for (const id of ids) await discard(api, id).catch(noop);
  }).catch(noop);
  if (typeof requestIdleCallback === 'function') requestIdleCallback(go, { timeout: SWEEP_WAIT_MS });
  else setTimeout(go, 0);
}
// `navigator.onLine` of the window or worker (true when unknown).
export const online = () => globalThis.navigator?.onLine !== false;
// The runs of one Uploader, which share its PUT budget: each one's pump.
export const group = () => new Set();
// CRC32's tables for slicing by 8 (8 KiB), made at the first use.
let crcTables = null;
// The CRC register `crc` (-1 at the start) after `b`, on the page: where
// there is no hashing Worker (a page whose CSP forbids `blob:` workers, a
// Worker that failed, the module used without the package's entry point).
// About 0.9 GB/s in V8, 0.6 times the Worker's module: a rare path, and
// smaller here than the CRC code the module carried for it (docs/SIZE.md).
// The store checks every CRC it is sent, and the browser tests (run
// without the package's entry point, so without a Worker) hash here.
function crc32Update(crc, b) {
  let t = crcTables;
  if (!t) {
    t = crcTables = new Int32Array(2048);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xEDB88320 ^ (c >>> 1) : c >>> 1;
      t[i] = c;
    }
    for (let i = 256; i < 2048; i++) t[i] = (t[i - 256] >>> 8) ^ t[t[i - 256] & 255];
  }
  let c = crc, i = 0;
  for (const n = b.length & ~7; i < n; i += 8) {
    c ^= b[i] | b[i + 1] << 8 | b[i + 2] << 16 | b[i + 3] << 24;
    c = t[1792 + (c & 255)] ^ t[1536 + (c >>> 8 & 255)] ^ t[1280 + (c >>> 16 & 255)] ^ t[1024 + (c >>> 24)]
      ^ t[768 + b[i + 4]] ^ t[512 + b[i + 5]] ^ t[256 + b[i + 6]] ^ t[b[i + 7]];
  }
  for (; i < b.length; i++) c = (c >>> 8) ^ t[(c ^ b[i]) & 255];
  return c;
}
// The CRC register after [start, end) of `blob`: in the hashing Worker,
// else on the page; false when `signal` was aborted before the Worker
// took it.
async function crc32(blob, start, end, whole, signal) {
  const state = await workerCrc32(blob, start, end, whole, signal);
  if (state !== null) return state;
  let crc = -1;
  let seen = 0;
  await readChunks(blob, start, end, whole, 1 << 20, (v) => { crc = crc32Update(crc, v); seen += v.length; });
  if (seen !== end - start) throw new Error(`read ${seen} bytes where ${end - start} were expected`);
  return crc;
}
// Multipart files that came to their turn while the uploads under way had
// two rounds of parts before them wait for a PUT to measure the link (or a
// signature to show a near one), then begin together, each told the bytes
// of all of them, so that on a far link they are cut for it from the start
// (src/engine/plan.rs: holds_back, batch_part_size); in turns, as files
// begin. At most HOLD_MS: a PUT may take that long to answer on a slow
// link, or every upload under way may be paused.
const HOLD_MS = 3000;
function unhold(pumps, now) {
  const held = pumps.held;
  if (!held.length || (!now && held[0].run.holdsBack(held[0].size))) return;
  pumps.held = [];
  clearTimeout(pumps.holdTimer);
  const batch = held.reduce((n, h) => n + h.size, 0);
  for (const h of held) {
    const t = turn(h.file);
    if (t) t.then(() => h.go(batch));
    else h.go(batch);
  }
}
// Runs upload `run` of `file`: its promise, with pause(), resume() and
// abort(). The run starts when it is its turn (`turn`); from then on each
// of its commands is carried out (src/browser/driver.rs, `cmd`) and what
// happens is fed back in, after which its next commands are asked for.
// `on`: the application's onProgress, onPartComplete, onRetry, onResume.
// `pumps`: the Uploader's runs; when a PUT slot frees up, each is asked.
// The promise settles when the run says (FINISHED); replaced engines and
// stale uploads still being deleted then finish in the background (every
// listener and timer of this upload ends with them).
export function drive(run, file, signal, on, withCredentials, pumps) {
  let settle;
  let ctl = null;
  const early = [];
  const promise = new Promise((resolve, reject) => { settle = [reject, resolve]; });
  // (Held back, `unheld` lets it begin at once: an abort must not wait.)
  let unheld = null;
  const control = (k) => (ctl ? ctl(k) : (early.push(k), k === 2 && unheld?.()));
  // The caller's signal is listened to while the upload runs (it may outlive many uploads).
  const onAbort = () => control(2);
  signal?.addEventListener('abort', onAbort);
  promise.pause = () => control(0);
  promise.resume = () => control(1);
  promise.abort = () => control(2);
  const start = (size) => {
    // Its PUTs (`${g} ${part}`), its engines' call signals (by engine), the
    // journal entry's lock, its wakeup timer.
    const xhrs = new Map();
    const calls = new Map();
    // `gone`: the run has ended and its module object is freed; what
    // arrives after that (an aborted request's last event) is dropped.
    let lock = null, timer = null, timerAt = 0, busy = false, again = false, done = false, gone = false;
    const sig = (g) => {
      if (g < 0) return new AbortController().signal;
      let c = calls.get(g);
      if (!c) calls.set(g, (c = new AbortController()));
      return c.signal;
    };
    const cancel = (g) => { calls.get(g)?.abort(); calls.delete(g); };
    const unlock = () => { lock?.(); lock = null; };
    const tell = (i, v) => { try { on[i]?.call(undefined, v); } catch (_) { /* the application's */ } };
    const feed = (f) => { if (!gone) { f(); pump(); } };
    const net = (e) => feed(() => run.connectivity(e.type === 'online'));
    const carry = (c) => {
      const g = c[1];
      switch (c[0]) {
        case 0: { // PUT g part attempt url start end headers whole
          const [, , part, attempt, url, from, to, headers, whole] = c;
          const key = g + ' ' + part;
          const old = xhrs.get(key);
          if (old) abortPart(old);
          try {
            const x = putPart(url, whole ? file : file.slice(from, to), headers, withCredentials, (kind, a, b, d) => {
              if (kind && xhrs.get(key) === x) xhrs.delete(key);
              feed(() => run.putEvent(g, part, attempt, kind, a, b, d));
            });
            xhrs.set(key, x);
          } catch (e) {
            xhrs.delete(key);
            run.putEvent(g, part, attempt, 4, 0, url, message(e));
          }
          break;
        }
        case 1: { // CANCEL g part
          const key = g + ' ' + c[2];
          const x = xhrs.get(key);
          if (x) { abortPart(x); xhrs.delete(key); }
          break;
        }
        case 2: { // HASH g part start end whole
          const part = c[2];
          crc32(file, c[3], c[4], c[5], sig(g)).then(
            (s) => s === false || feed(() => run.hashed(g, part, s)),
            (e) => feed(() => run.hashFailed(g, part, message(e))));
          break;
        }
        case 3: // CALL g call [ms]
          send(c[2], sig(g), c[3]).then((call) => { feed(() => run.called(call)); call.free(); });
          break;
        case 4: // RELEASE g: its PUTs and calls stop
          for (const [k, x] of xhrs) if (k.startsWith(g + ' ')) { abortPart(x); xhrs.delete(k); }
          cancel(g);
          break;
        case 15: // CANCEL_CALLS g
          cancel(g);
          break;
        case 5:
          tell(0, { bytesSent: c[1], bytesTotal: c[2], partsDone: c[3], partsTotal: c[4], percent: c[5], speed: c[6], eta: c[7] });
          break;
        case 6:
          tell(1, { partNumber: c[1], etag: c[2], size: c[3] });
          break;
        case 7:
          tell(2, { partNumber: c[1], attempt: c[2], delay: c[3], error: c[4] });
          break;
        case 8:
          tell(3, { uploadId: c[1], partsDone: c[2], bytesDone: c[3] });
          break;
        case 9: // READ_JOURNAL id: its lock first (no other running upload takes the entry)
          journalLock(g).then((release) => {
            if (gone) return release?.();
            if (!release) return feed(() => run.journalBusy());
            lock = release;
            return journalGet(g).catch(noop).then((t) => feed(() => run.journalRead(typeof t === 'string' ? t : undefined)));
          });
          break;
        case 10: { // HASH_SAMPLE g start end start end ...: for engine g's check (or g -1: the look-up)
          // Each range read alone, together, then put one after another
          // (a Blob made of the slices costs Chromium more to set up).
          const reads = [];
          for (let i = 2; i < c.length; i += 2) reads.push(file.slice(c[i], c[i + 1]).arrayBuffer());
          Promise.all(reads).then((bs) => {
            const b = new Uint8Array(bs.reduce((n, x) => n + x.byteLength, 0));
            bs.reduce((at, x) => { b.set(new Uint8Array(x), at); return at + x.byteLength; }, 0);
            return b;
          }, noop).then((b) => feed(() => (g < 0 ? run.sampled(b) : run.checked(g, b))));
          break;
        }
        case 11: // WRITE_JOURNAL id json (writes run in the order they are made)
          journalPut(g, c[2]).catch(noop);
          break;
        case 12: // DELETE_JOURNAL id
          journalDelete(g).catch(noop);
          break;
        case 13: // FINISHED ok value
          done = true;
          unlock();
          signal?.removeEventListener('abort', onAbort);
          settle[+c[1]](c[2]);
          break;
        case 14: // UNLOCK (paused)
          unlock();
          break;
      }
    };
    const pump = () => {
      if (gone) return;
      if (busy) { again = true; return; }
      busy = true;
      try {
        do {
          again = false;
          for (let c; (c = run.step()); ) carry(c);
        } while (again);
      } finally {
        busy = false;
      }
      // A slot freed up: the other uploads may start PUTs, the earliest
      // first, while slots are free (asking all of them, with hundreds of
      // files waiting, would cost more than their PUTs).
      if (run.woke()) {
        for (const p of pumps) {
          if (!run.slotFree()) break;
          if (p !== pump) p();
        }
      }
      // A timer that fires no later than needed is kept: firing early only
      // makes the steps look and find nothing due yet, which costs less
      // than a new timer at every PUT's progress (each moves its stall deadline).
      const at = run.nextWakeup();
      if (at < 0 || !timer || timerAt > at) {
        clearTimeout(timer);
        timer = at < 0 ? null : setTimeout(() => { timer = null; pump(); }, Math.min(2 ** 31 - 1, Math.max(0, at - Date.now())));
        timerAt = at;
      }
      if (done && run.idle()) {
        pumps.delete(pump);
        clearTimeout(timer);
        timer = null;
        globalThis.removeEventListener?.('online', net);
        globalThis.removeEventListener?.('offline', net);
        // Its module memory now, not when the collector gets to it.
        gone = true;
        unlock();
        run.free();
      }
      // Last: the files held back may begin (and pump, which may come back
      // here) once the link is measured.
      if (pumps.held?.length) unhold(pumps, false);
    };
    let begun = false;
    const go = (batch) => {
      if (begun) return;
      begun = true;
      unheld = null;
      run.begin(file, size, batch);
      pumps.add(pump);
      globalThis.addEventListener?.('online', net);
      globalThis.addEventListener?.('offline', net);
      ctl = (k) => feed(() => run.control(k));
      for (const k of early) run.control(k);
      pump();
    };
    size ??= file.size;
    if (!run.holdsBack(size)) return go();
    // Held back until the link is measured (src/engine/plan.rs, holds_back).
    const h = { run, size, go, file };
    unheld = () => { pumps.held = pumps.held.filter((x) => x !== h); go(); };
    if (!pumps.held?.length) {
      pumps.held = [];
      pumps.holdTimer = setTimeout(() => unhold(pumps, true), HOLD_MS);
    }
    pumps.held.push(h);
  };
  // Nothing of the file is touched before upload() returns (its first
  // `size` is a synchronous call in Chromium): the turn is asked for in a
  // microtask.
  Promise.resolve().then(() => {
    const t = turn(file);
    if (t) t.then(start);
    else start(undefined);
  });
  return promise;
}
// ---- Options, checked once: every bad value is an UploadError (code
// InvalidOptions) that names the option and what it should be ----
const invalid = (field, message) => new UploadError(message, 'InvalidOptions', null, null, field);
const quoted = (s) => JSON.stringify(s);
const isObject = (v) => typeof v === 'object' && v !== null;
// Nothing but ASCII white space (what Rust's trim_ascii trims).
const blank = (s) => /^[ \t\n\f\r]*$/.test(s);
// A value, as a message names it.
function describe(v) {
  if (v === undefined || v === null) return String(v);
  if (typeof v === 'string') return 'the string ' + quoted(v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'function') return 'a function';
  if (Array.isArray(v)) return 'an array';
  return 'a value of type ' + typeof v;
}
// The options object `obj` (named `what` in messages), with only `known` options.
function opts(obj, what, known) {
  if (!isObject(obj)) {
    throw invalid(what, `${what} must be an object, like { key: "uploads/file.bin" }; got ${describe(obj)}`);
  }
  for (const name of Object.keys(obj)) {
    if (!known.includes(name)) {
      const k = known.find((k) => k.toLowerCase() === name.toLowerCase());
      throw invalid(name, `${what} has an unknown option ${quoted(name)}: ${k ? `did you mean ${k}? ` : ''}known options are ${known.join(', ')}`);
    }
  }
  // Option `name`: undefined when not given (or null), else `ok(v)` or the error of `must`.
  const get = (name) => obj[name] ?? undefined;
  const check = (name, ok, must) => {
    const v = get(name);
    if (v === undefined || ok(v)) return v;
    throw invalid(name, `${what}.${name} must be ${must}; got ${describe(v)}`);
  };
  return {
    get,
    string: (name) => check(name, (v) => typeof v === 'string', 'a string'),
    required(name, example) {
      const s = this.string(name);
      if (s !== undefined && !blank(s)) return s;
      throw invalid(name, `${what}.${name} is required: give a non-empty string such as ${quoted(example)}`);
    },
    integer: (name, min, max, unit) => check(name, (v) => typeof v === 'number' && v >= min && v <= max && Number.isInteger(v),
      `a whole number of ${unit} from ${min} to ${max}`),
    boolean: (name) => check(name, (v) => typeof v === 'boolean', 'true or false'),
    fn: (name) => check(name, (v) => typeof v === 'function', 'a function'),
  };
}
// `option: { min, max }`, each a whole number of `unit` in `range`: `max`
// defaults to `dflt[1]` (or `min` if larger), `min` to `dflt[0]` (or `max` if
// smaller); every error names `option`, the one the application wrote.
// `min` above `max` is refused with the rest of the configuration (Rust's
// Config::validate).
function bounds(v, option, range, unit, dflt) {
  let min, max;
  try {
    const b = opts(v, 'options.' + option, ['min', 'max']);
    min = b.integer('min', range[0], range[1], unit);
    max = b.integer('max', range[0], range[1], unit);
  } catch (e) {
    e.field = option;
    throw e;
  }
  max ??= Math.max(dflt[1], min ?? 0);
  min ??= Math.min(dflt[0], max);
  return [min, max];
}
// A plain object given for an option that also takes a number: `{ min, max }`.
const isBounds = (v) => isObject(v) && !Array.isArray(v);
// `{ name: "value", ... }` as [[name, value], ...]; throws naming `headers`.
function headerPairs(v) {
  const bad = (detail) => invalid('headers', 'options.headers must be (or return) an object mapping header names to strings, ' +
    `like { Authorization: "Bearer ..." }; ${detail}`);
  if (!isObject(v) || Array.isArray(v)) throw bad('got something else');
  return Object.entries(v).map(([k, x]) => {
    if (typeof x !== 'string') throw bad(`the value of ${quoted(k)} is not a string`);
    return [k, x];
  });
}
const HOOK_NAMES = ['createMultipartUpload', 'signPart', 'completeMultipartUpload', 'abortMultipartUpload', 'listParts', 'signPut', 'signParts', 'signPuts'];
const REQUIRED_HOOKS = HOOK_NAMES.slice(0, 4);
// The hooks object `v`: [the hooks as they are now, each bound to the
// application's object (its own or its prototype's: a class instance works,
// `this` is the object; a later change to it does not change the uploader's
// hooks), which optional ones it has (1 listParts, 2 signPut, 4 signParts)].
function hooksOf(v) {
  const get = (name) => {
    const f = v[name];
    if (f == null) return undefined;
    if (typeof f !== 'function') throw invalid('hooks', `options.hooks.${name} must be an async function`);
    return f;
  };
  // A function that is no hook is a misspelt one; other fields (the state
  // of a class instance) are the application's business.
  for (const name of Object.keys(v)) {
    if (typeof v[name] === 'function' && !HOOK_NAMES.includes(name)) {
      throw invalid('hooks', `options.hooks has an unknown hook ${quoted(name)}; the hooks are ${HOOK_NAMES.join(', ')}`);
    }
  }
  const missing = REQUIRED_HOOKS.filter((n) => typeof v[n] !== 'function');
  if (missing.length) {
    get(missing[0]);
    throw invalid('hooks', `options.hooks lacks ${missing.join(', ')}: give every one of ${REQUIRED_HOOKS.join(', ')}`);
  }
  const signPut = get('signPut');
  if (get('signPuts') && !signPut) {
    throw invalid('hooks', 'options.hooks.signPuts needs signPut as well: a file that asks alone is signed by signPut');
  }
  const flags = (get('listParts') ? 1 : 0) | (signPut ? 2 : 0) | (get('signParts') ? 4 : 0);
  const hooks = {};
  for (const name of HOOK_NAMES) if (typeof v[name] === 'function') hooks[name] = v[name].bind(v);
  return [hooks, flags];
}
const UPLOADER_OPTIONS = ['endpoint', 'protocol', 'partSize', 'multipartThreshold', 'concurrency', 'retryDelays',
  'partTimeout', 'withCredentials', 'headers', 'checksum', 'resumeScope'];
// new Uploader(options), checked: [protocol (0 REST, 1 Lambda, 2 hooks),
// endpoint or hooks, withCredentials, headers (pairs, or a function), the
// resumeScope, the hooks' flags, part size min and max, the multipart
// threshold (-1: every file multipart), adaptive, concurrency min and max,
// partTimeout, checksums, retryDelays]; undefined where the engine's default
// stays. `limits`: the engine's (src/api/options.rs).
export function uploaderOptions(options, limits) {
  const [MIN_PART, MAX_PART, AUTO_MIN, AUTO_MAX, DEFAULT_PART, MAX_OBJECT, ADAPT_MIN, ADAPT_MAX] = limits;
  const o = opts(options, 'options', UPLOADER_OPTIONS);
  const withCredentials = o.boolean('withCredentials') ?? false;
  const h = o.get('headers');
  const headers = typeof h === 'function' ? h : h === undefined ? [] : headerPairs(h);
  const p = o.get('protocol');
  let kind = 0, target, flags = 0;
  if (isObject(p)) {
    if (o.get('endpoint') !== undefined) {
      throw invalid('endpoint', 'options.endpoint and hooks in options.protocol exclude each other: the hooks make the backend calls, drop endpoint');
    }
    kind = 2;
    [target, flags] = hooksOf(p);
  } else if (p !== undefined && typeof p !== 'string') {
    throw invalid('protocol', `options.protocol must be "rest", "lambda" or an object of hooks; got ${describe(p)}`);
  } else if (p !== undefined && p !== 'rest' && p !== 'lambda') {
    throw invalid('protocol', `options.protocol is ${quoted(p)}; use "rest" (the /uploads/... paths), "lambda" (one URL taking the envelope) ` +
      'or an object of hooks (createMultipartUpload, signPart, completeMultipartUpload, abortMultipartUpload)');
  } else {
    kind = p === 'lambda' ? 1 : 0;
    target = o.required('endpoint', '/api');
  }
  // The journal's name for this backend (at most 256 bytes: it is part of
  // every entry's key in the storage).
  const scope = o.string('resumeScope');
  if (scope !== undefined && (blank(scope) || new TextEncoder().encode(scope).length > 256)) {
    throw invalid('resumeScope', 'options.resumeScope must be a non-empty string of at most 256 characters naming this backend, such as "avatars"');
  }
  const PART_UNIT = 'bytes (5 MiB to 5 GiB)';
  let partMin, partMax, threshold;
  const ps = o.get('partSize');
  if (ps === undefined) {
    // Not given: the engine picks each file's part size (5 to 10 MiB, up to
    // 16 MiB for a medium file that goes in one round: src/api/options.rs).
  } else if (isBounds(ps)) {
    // `{ min, max }`: the engine picks within the application's bounds.
    [partMin, partMax] = bounds(ps, 'partSize', [MIN_PART, MAX_PART], PART_UNIT, [AUTO_MIN, AUTO_MAX]);
    threshold = Math.max(partMin, DEFAULT_PART);
    // `{ min }` alone: the engine's own maximum (src/api/options.rs).
    if (ps.max === undefined) partMax = undefined;
  } else {
    // A number fixes it.
    partMin = partMax = threshold = o.integer('partSize', MIN_PART, MAX_PART, PART_UNIT);
  }
  threshold = o.integer('multipartThreshold', 0, MAX_OBJECT, 'bytes') ?? threshold;
  // Hooks without signPut: every file goes multipart.
  if (kind === 2 && !(flags & 2)) threshold = -1;
  let adaptive, cMin, cMax;
  const c = o.get('concurrency');
  if (c === undefined) {
    // Not given: the window adapts to the link, up to the browser's connections per host.
    [adaptive, cMax] = [true, ADAPT_MAX];
  } else if (isBounds(c)) {
    // `{ min, max }`: the window adapts within the application's bounds.
    adaptive = true;
    [cMin, cMax] = bounds(c, 'concurrency', [1, 16], 'requests', [ADAPT_MIN, ADAPT_MAX]);
  } else {
    // A number fixes it.
    cMax = o.integer('concurrency', 1, 16, 'requests');
  }
  const partTimeout = o.integer('partTimeout', 0, 3600000, 'milliseconds');
  const sum = o.get('checksum');
  let checksum;
  if (typeof sum === 'string' && sum.toLowerCase() === 'crc32') checksum = 1;
  else if (sum === 'none') checksum = 0;
  else if (sum !== undefined) {
    throw invalid('checksum', `options.checksum is ${describe(sum)}; use "crc32" (the default: every part and the whole object verified by the store) or "none"`);
  }
  const delays = o.get('retryDelays');
  if (delays !== undefined) {
    let ok = Array.isArray(delays) && delays.length <= 100;
    for (let i = 0; ok && i < delays.length; i++) ok = typeof delays[i] === 'number' && delays[i] >= 0 && delays[i] <= 600000;
    if (!ok) {
      throw invalid('retryDelays', 'options.retryDelays must be an array of at most 100 delays in milliseconds (0 to 600000), ' +
        `like [0, 1000, 3000]; got ${describe(delays)}`);
    }
  }
  return [kind, target, withCredentials, headers, scope, flags, partMin, partMax, threshold, adaptive, cMin, cMax, partTimeout, checksum, delays];
}
const UPLOAD_OPTIONS = ['key', 'contentType', 'signal', 'resume', 'onProgress', 'onPartComplete', 'onRetry', 'onResume'];
// upload(file, options), checked: [key, content type (the option's, else
// the file's, else application/octet-stream), resume, signal, the callbacks].
export function uploadOptions(options, fileType) {
  const o = opts(options, 'upload options', UPLOAD_OPTIONS);
  const key = o.required('key', 'uploads/photo.jpg');
  const contentType = o.string('contentType') || fileType || 'application/octet-stream';
  const on = ['onProgress', 'onPartComplete', 'onRetry', 'onResume'].map(o.fn);
  const resume = o.boolean('resume') ?? true;
  const signal = o.get('signal');
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalid('signal', `upload options.signal must be an AbortSignal; got ${describe(signal)}`);
  }
  return [key, contentType, resume, signal, on];
}
