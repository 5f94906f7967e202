//! Hashing a part of the file: its bytes streamed from the `Blob` (a byte
//! stream read into one reused buffer, where the browser offers that), each
//! chunk copied into WASM memory and added to the CRC. At most one chunk of a
//! part is in memory at a time, in JS and in WASM; nothing is allocated per
//! chunk, so hashing a large file makes no garbage for the page to collect.
//!
//! Where the compiled module is known (the `web` build: its `init()` hands it
//! over, [`setHashModule`] in JS), the hashing runs in a dedicated Worker,
//! off the page's thread: the Worker instantiates the same module on its own
//! (no JS glue: it calls only the two exports below, which use no import) and
//! reads the `Blob` itself. Where it is not (bundler builds, a page whose CSP
//! forbids `blob:` workers, a Worker that fails), the page hashes.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::prelude::*;
use web_sys::Blob;

use crate::engine::checksum::Crc32;

#[wasm_bindgen(inline_js = r#"
// Reads bytes [start, end) of `blob`, calling `each(view)` for each chunk (a
// Uint8Array valid until `each` returns). With a BYOB reader the chunks are
// read into one buffer of `chunk` bytes, reused; without, the stream's own.
export async function readChunks(blob, start, end, chunk, each) {
  const stream = blob.slice(start, end).stream();
  let byob = null;
  try { byob = stream.getReader({ mode: 'byob' }); } catch (e) { /* not a byte stream */ }
  if (byob) {
    let buf = new ArrayBuffer(chunk);
    for (;;) {
      const { value, done } = await byob.read(new Uint8Array(buf, 0, chunk));
      if (done) return;
      each(value);
      buf = value.buffer;
    }
  }
  const reader = stream.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    each(value);
  }
}
// The Worker's code (readChunks, above, goes into it as its source):
// instantiates the module it is sent (every import a
// stub: the two exports it calls use none), then hashes the parts it is
// asked for, reading the Blob in chunks into the module's buffer.
const WORKER = `
let exp = null;
function instantiate(module) {
  const imports = {};
  for (const i of WebAssembly.Module.imports(module)) {
    (imports[i.module] ||= {})[i.name] = () => { throw new Error('not available in the hashing worker: ' + i.name); };
  }
  exp = new WebAssembly.Instance(module, imports).exports;
}
async function hash(blob, start, end, chunk) {
  let state = -1, seen = 0;
  await readChunks(blob, start, end, chunk, (view) => {
    const ptr = exp.s3mp_hash_buffer(view.length);
    new Uint8Array(exp.memory.buffer, ptr, view.length).set(view);
    state = exp.s3mp_crc32_update(state, view.length);
    seen += view.length;
  });
  return { state, seen };
}
// Bound by name: a minifier may have renamed the function it comes from.
const readChunks = ${readChunks};
onmessage = async ({ data }) => {
  const { id, module, blob, start, end, chunk } = data;
  if (module) {
    try { instantiate(module); } catch (e) { postMessage({ id, broken: String(e && e.message || e) }); return; }
  }
  try {
    const r = await hash(blob, start, end, chunk);
    postMessage({ id, state: r.state, seen: r.seen });
  } catch (e) {
    // The file cannot be read: the upload must know. Anything else is the
    // Worker's own fault: the page hashes instead.
    const read = e && ['NotReadableError', 'NotFoundError', 'NotAllowedError'].includes(e.name);
    postMessage(read ? { id, error: String(e.message || e) } : { id, broken: String(e && e.message || e) });
  }
};
`;
let hashModule = null;
let worker = null;
let broken = false;
let sentModule = false;
let seq = 0;
let idle = null;
const waiting = new Map();
export function setHashModule(module) {
  if (module instanceof WebAssembly.Module) hashModule = module;
}
function stopWorker() {
  worker?.terminate();
  worker = null;
  sentModule = false;
  for (const w of waiting.values()) w.resolve(null);
  waiting.clear();
}
// Resolves to the CRC register after hashing [start, end) of blob in the
// Worker, or null when there is no Worker to do it (the page hashes then);
// rejects when the file cannot be read.
export function workerCrc32(blob, start, end, chunk) {
  if (!hashModule || broken || typeof Worker === 'undefined') return Promise.resolve(null);
  if (!worker) {
    try {
      const url = URL.createObjectURL(new Blob([WORKER], { type: 'text/javascript' }));
      worker = new Worker(url);
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (e) {
      broken = true;
      return Promise.resolve(null);
    }
    worker.onmessage = ({ data }) => {
      const w = waiting.get(data.id);
      waiting.delete(data.id);
      if (data.broken) { broken = true; stopWorker(); }
      if (w) {
        if (data.broken) w.resolve(null);
        else if (data.error) w.reject(new Error(data.error));
        else if (data.seen !== w.len) w.reject(new Error('read ' + data.seen + ' bytes where ' + w.len + ' were expected'));
        else w.resolve(data.state);
      }
      // An idle Worker goes after a while; the next part starts another.
      if (!waiting.size) { clearTimeout(idle); idle = setTimeout(stopWorker, 10000); }
    };
    worker.onerror = () => { broken = true; stopWorker(); };
  }
  clearTimeout(idle);
  const id = ++seq;
  const module = sentModule ? undefined : hashModule;
  sentModule = true;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject, len: end - start });
    worker.postMessage({ id, module, blob, start, end, chunk });
  });
}

"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = workerCrc32)]
    async fn worker_crc32(blob: &Blob, start: f64, end: f64, chunk: u32) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = readChunks)]
    async fn read_chunks(
        blob: &Blob,
        start: f64,
        end: f64,
        chunk: u32,
        each: &Closure<dyn FnMut(Uint8Array)>,
    ) -> Result<JsValue, JsValue>;
}

/// Bytes read at a time: what hashing holds per part (once in JS, once in
/// WASM).
const CHUNK: u32 = 1 << 20;

thread_local! {
    /// The hashing Worker's buffer (in its own instance of the module).
    static HASH_BUFFER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// For the hashing Worker's instance: a buffer of `len` bytes to copy the
/// next chunk into.
#[unsafe(no_mangle)]
pub extern "C" fn s3mp_hash_buffer(len: usize) -> *mut u8 {
    HASH_BUFFER.with_borrow_mut(|b| {
        b.resize(len, 0);
        b.as_mut_ptr()
    })
}

/// For the hashing Worker's instance: adds the buffer's first `len` bytes
/// to the CRC register `state`; returns the new register.
#[unsafe(no_mangle)]
pub extern "C" fn s3mp_crc32_update(state: u32, len: usize) -> u32 {
    HASH_BUFFER.with_borrow(|b| {
        let mut crc = Crc32::from_state(state);
        crc.update(&b[..len.min(b.len())]);
        crc.state()
    })
}

/// The CRC32 of bytes `start..end` of `file`: in the hashing Worker when
/// there is one, else here.
pub async fn crc32(file: &Blob, start: u64, end: u64) -> Result<u32, String> {
    match worker_crc32(file, start as f64, end as f64, CHUNK).await {
        Ok(state) if state.is_null() => on_the_page(file, start, end).await,
        Ok(state) => {
            let state = state.as_f64().ok_or("the hashing worker answered no number")? as i64 as u32;
            Ok(Crc32::from_state(state).finish())
        }
        Err(e) => Err(crate::backend::js_message(&e)),
    }
}

/// The CRC32 of bytes `start..end` of `file`, hashed on the page.
async fn on_the_page(file: &Blob, start: u64, end: u64) -> Result<u32, String> {
    // The same two steps as the Worker's, on the page's instance: the chunk
    // into the (one, shared) buffer, the buffer into the CRC register.
    let state = Rc::new(Cell::new((Crc32::default().state(), 0u64)));
    let s = state.clone();
    let each = Closure::<dyn FnMut(Uint8Array)>::new(move |view: Uint8Array| {
        let n = view.length() as usize;
        s3mp_hash_buffer(n);
        HASH_BUFFER.with_borrow_mut(|b| view.copy_to(b));
        let (crc, seen) = s.get();
        s.set((s3mp_crc32_update(crc, n), seen + n as u64));
    });
    let read = read_chunks(file, start as f64, end as f64, CHUNK, &each).await;
    drop(each);
    read.map_err(|e| crate::backend::js_message(&e))?;
    let (crc, seen) = state.get();
    if seen != end - start {
        return Err(format!("read {seen} bytes where {} were expected", end - start));
    }
    Ok(Crc32::from_state(crc).finish())
}
