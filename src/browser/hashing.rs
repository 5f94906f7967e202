//! Hashing a part of the file: its bytes streamed from the `Blob` (a byte
//! stream read into one reused buffer, where the browser offers that), each
//! chunk copied into WASM memory and added to the CRC. At most one chunk of a
//! part is in memory at a time, in JS and in WASM; nothing is allocated per
//! chunk, so hashing a large file makes no garbage for the page to collect.

use std::cell::RefCell;
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
"#)]
extern "C" {
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

/// The CRC32 of bytes `start..end` of `file`.
pub async fn crc32(file: &Blob, start: u64, end: u64) -> Result<u32, String> {
    let state = Rc::new(RefCell::new((Crc32::default(), Vec::<u8>::new(), 0u64)));
    let s = state.clone();
    let each = Closure::<dyn FnMut(Uint8Array)>::new(move |view: Uint8Array| {
        let (crc, buf, seen) = &mut *s.borrow_mut();
        let n = view.length() as usize;
        buf.resize(n, 0);
        view.copy_to(buf);
        crc.update(buf);
        *seen += n as u64;
    });
    read_chunks(file, start as f64, end as f64, CHUNK, &each).await.map_err(|e| crate::backend::js_message(&e))?;
    drop(each);
    let (crc, _, seen) = Rc::try_unwrap(state).map_err(|_| "the read is still running".to_owned())?.into_inner();
    if seen != end - start {
        return Err(format!("read {seen} bytes where {} were expected", end - start));
    }
    Ok(crc.finish())
}
