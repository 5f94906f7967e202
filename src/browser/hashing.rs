//! Reading the file: when an upload may first touch it ([`turn`]), and
//! hashing a part of it: its bytes streamed from the `Blob`, each chunk of
//! the stream copied into WASM memory (one reused buffer) and added to the
//! CRC. A part is never whole in memory: a chunk at a time. (This module's
//! snippet also holds the part PUT's few lines of JS, for
//! [`crate::browser::xhr`].)
//!
//! The hashing runs in a dedicated Worker, off the page's thread, when the
//! package's entry point has handed over the Worker's module ([`setHashModule`]
//! in JS: `hasher/` built alone, a few KB of WebAssembly with no import,
//! inlined in the package as base64, so every build and bundler gets it
//! without configuration). The Worker reads the `Blob` itself. Where there
//! is no Worker (this module used without the package's entry point, a page
//! whose CSP forbids `blob:` workers, a Worker that fails), the page hashes,
//! with the same CRC code (`s3mp_hasher`).

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;
use core::cell::Cell;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Blob};

use crate::engine::checksum::Crc32;

#[wasm_bindgen(inline_js = r#"
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
export async function readChunks(blob, start, end, whole, chunk, each, byob) {
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
export function turn(file) {
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
// A part's PUT (src/browser/xhr.rs): `on(kind, a, b, c)` hears 0 (upload
// progress: a = bytes sent), 1 (an answer: a = status, b = the ETag of a 2xx,
// else the start of the body, c = Retry-After), 2 (timed out), 3 (no answer).
// Throws when the request cannot be made; answers the XMLHttpRequest.
export function putPart(url, body, headers, withCredentials, on) {
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
export function abortPart(x) {
  if (x.readyState !== 4) {
    x.onload = x.onerror = x.ontimeout = x.upload.onprogress = null;
    x.abort();
  }
}
let hashModule = null;
let worker = null;
// A Worker hashes this many parts, then a fresh one takes over (the old one
// ends once its parts are hashed): its BYOB reads stay far from the count
// after which Chromium stops answering them.
const PARTS_PER_WORKER = 40;
// What a Worker is handed at once: two parts (the one it hashes and the
// next, so that it never waits for the page), or more while they add up to
// less than AHEAD bytes (small files: one Worker's message each). The others
// wait here, in the order asked, and a fresh Worker starts only once the one
// it replaces has ended: handing everything over at once started a Worker
// for every forty parts asked for (a thousand files of 2 MiB: ten Workers
// hashing side by side, 25 MiB each).
const AHEAD = 32 << 20;
// A Worker with parts to hash that has said nothing for this long (neither
// a part's hash nor that it is still reading, which it says each second
// while it reads) is taken for stuck (Chromium was seen to stop answering a
// Worker's blob reads): it ends, and its parts go to a fresh one, once;
// after that, to the page. A slow read (a slow disk, a slow device) that
// goes on is never taken for stuck.
const STUCK_MS = 15000;
let watch = null;
let used = 0;
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
// Every Worker ends; the parts it had, and those waiting, go back to the
// page (null: hashed there).
function stopWorker() {
  for (const w of waiting.values()) { w.worker.terminate(); w.resolve(null); }
  waiting.clear();
  retiring = 0;
  for (const q of queued.splice(0)) q.resolve(null);
  worker?.terminate();
  worker = null;
}
// Whether parts can be hashed in a Worker at all.
const usable = () => hashModule && !broken && typeof Worker !== 'undefined';
// The Worker, started and sent its module once; null when there can be none.
function hashWorker() {
  if (!usable()) return null;
  if (worker && used >= PARTS_PER_WORKER) {
    worker.retired = true;
    if (worker.pending) retiring += 1;
    else worker.terminate();
    worker = null;
  }
  if (!worker) {
    used = 0;
    try {
      const url = URL.createObjectURL(new Blob([WORKER], { type: 'text/javascript' }));
      worker = new Worker(url);
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      broken = true;
      return null;
    }
    const self = worker;
    self.pending = 0;
    self.bytes = 0;
    worker.onmessage = ({ data }) => {
      if (self.stuck) return;
      self.heard = performance.now();
      if (data.beat) return;
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
    worker.onerror = () => { broken = true; stopWorker(); };
    worker.postMessage({ module: hashModule });
  }
  return worker;
}
// Hands waiting parts to the Worker while it is not full (above); an idle
// Worker goes after a while (the next part starts another).
function handOver() {
  clearTimeout(idle);
  while (queued.length) {
    // Its 40 parts handed over while the one before still ends: wait.
    if (worker && used >= PARTS_PER_WORKER && retiring) break;
    const w = hashWorker();
    if (!w) { stopWorker(); return; }
    if (w.pending >= 2 && w.bytes >= AHEAD) break;
    const q = queued.shift();
    // Its upload has ended (cancelled, failed, replaced): not hashed.
    if (q.signal.aborted) { q.resolve(false); continue; }
    used += 1;
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
    else worker = null;
    const back = [...waiting.values()].filter((q) => q.worker === w);
    for (const q of back.reverse()) {
      waiting.delete(q.id);
      if (q.again) q.resolve(null);
      else { q.again = true; queued.unshift(q); }
    }
  }
  handOver();
}
// Resolves to the CRC register after hashing [start, end) of blob in the
// Worker, null when there is no Worker to do it (the page hashes then), or
// false when signal was aborted before its turn; rejects when the file
// cannot be read.
export function workerCrc32(blob, start, end, whole, signal) {
  if (!usable()) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    queued.push({ id: ++seq, blob, start, end, whole, signal, resolve, reject, len: end - start });
    handOver();
  });
}

"#)]
extern "C" {
    /// Starts a part's PUT (see `putPart` above); throws when it cannot.
    #[wasm_bindgen(catch, js_name = putPart)]
    pub(crate) fn put_part(
        url: &str,
        body: &Blob,
        headers: &js_sys::Array,
        with_credentials: bool,
        on: &Closure<dyn FnMut(u32, f64, JsValue, JsValue)>,
    ) -> Result<JsValue, JsValue>;
    /// Aborts a PUT that still runs.
    #[wasm_bindgen(js_name = abortPart)]
    pub(crate) fn abort_part(xhr: &JsValue);
    #[wasm_bindgen(js_name = turn)]
    fn js_turn(file: &Blob) -> JsValue;
    #[wasm_bindgen(catch, js_name = workerCrc32)]
    async fn worker_crc32(
        blob: &Blob,
        start: f64,
        end: f64,
        whole: bool,
        signal: &AbortSignal,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = readChunks)]
    async fn read_chunks(
        blob: &Blob,
        start: f64,
        end: f64,
        whole: bool,
        chunk: u32,
        each: &Closure<dyn FnMut(Uint8Array)>,
    ) -> Result<JsValue, JsValue>;
}

/// Waits for this upload's turn to touch its File: at once when few are
/// starting, else in a later task of the page. Gives the File's size when
/// an earlier turn read it ahead, while the network was quieter (see `turn`
/// in the JS above; it shares this module's snippet: each snippet is one
/// more fetch for a page, and wasm-bindgen-test-runner's page server was
/// seen to stop answering with more of them).
pub async fn turn(file: &Blob) -> Option<f64> {
    let p = js_turn(file).dyn_into::<js_sys::Promise>().ok()?;
    wasm_bindgen_futures::JsFuture::from(p).await.ok()?.as_f64()
}

/// Bytes the page reads at a time: what hashing on the page holds per part
/// (once in JS, once in WASM). The Worker's module has a buffer of its own,
/// the same size.
const CHUNK: u32 = 1 << 20;

/// The CRC32 of bytes `start..end` of `file` (`whole`: all of it): in the
/// hashing Worker when there is one, else here; `None` when `signal` (the
/// upload's calls') was aborted before the Worker took it.
pub async fn crc32(
    file: &Blob,
    start: u64,
    end: u64,
    whole: bool,
    signal: &AbortSignal,
) -> Result<Option<u32>, String> {
    match worker_crc32(file, start as f64, end as f64, whole, signal).await {
        Ok(state) if state.is_null() => on_the_page(file, start, end, whole).await.map(Some),
        Ok(state) if state.as_bool() == Some(false) => Ok(None),
        Ok(state) => {
            let state = state.as_f64().ok_or("the hashing worker answered no number")? as i64 as u32;
            Ok(Some(Crc32::from_state(state).finish()))
        }
        Err(e) => Err(crate::backend::js_message(&e)),
    }
}

/// The CRC32 of bytes `start..end` of `file`, hashed on the page.
async fn on_the_page(file: &Blob, start: u64, end: u64, whole: bool) -> Result<u32, String> {
    let state = Rc::new(Cell::new((Crc32::default(), 0u64)));
    let s = state.clone();
    // The buffer each chunk is copied into to be hashed: one per part.
    let mut b = Vec::new();
    let each = Closure::<dyn FnMut(Uint8Array)>::new(move |view: Uint8Array| {
        let n = view.length() as usize;
        b.resize(n, 0);
        view.copy_to(&mut b);
        let (mut crc, seen) = s.take();
        crc.update(&b);
        s.set((crc, seen + n as u64));
    });
    let read = read_chunks(file, start as f64, end as f64, whole, CHUNK, &each).await;
    drop(each);
    read.map_err(|e| crate::backend::js_message(&e))?;
    let (crc, seen) = state.take();
    if seen != end - start {
        return Err(format!("read {seen} bytes where {} were expected", end - start));
    }
    Ok(crc.finish())
}
