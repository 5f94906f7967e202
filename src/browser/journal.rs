//! The resume journal's storage, one JSON entry per resumable upload:
//! `localStorage` where there is one (a window), IndexedDB where there is not
//! (Web Workers). `localStorage` answers at once, where opening IndexedDB
//! takes 5–30 ms in a fresh profile and holds the first part back for as
//! long; an entry is a few hundred bytes plus ~45 per stored part. Best
//! effort: when the storage is missing, full or fails, uploads still work,
//! they just cannot be resumed after a reload. What an entry holds and when
//! it may be resumed is decided in [`crate::resume`].

use std::cell::RefCell;
use std::rc::Rc;

use futures::channel::oneshot;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::resume::Entry;

#[wasm_bindgen(inline_js = r#"
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
export function journalGet(id) {
  return ls() ? sync((s) => s.getItem(PREFIX + id) ?? undefined) : run('readonly', (s) => s.get(id));
}
export function journalPut(id, json) {
  return ls() ? sync((s) => s.setItem(PREFIX + id, json)) : run('readwrite', (s) => s.put(json, id));
}
export function journalDelete(id) {
  return ls() ? sync((s) => s.removeItem(PREFIX + id)) : run('readwrite', (s) => s.delete(id));
}
export function journalAll() {
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
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = journalGet)]
    async fn journal_get(id: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = journalPut)]
    async fn journal_put(id: &str, json: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = journalDelete)]
    async fn journal_delete(id: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = journalAll)]
    async fn journal_all() -> Result<JsValue, JsValue>;
}

/// Reads the entry `id`; `None` when there is none, or it cannot be read.
pub async fn get(id: &str) -> Option<Entry> {
    let v = journal_get(id).await.ok()?;
    serde_json::from_str(&v.as_string()?).ok()
}

/// Every readable entry.
pub async fn all() -> Vec<Entry> {
    let Ok(v) = journal_all().await else { return Vec::new() };
    js_sys::Array::from(&v).iter().filter_map(|s| serde_json::from_str(&s.as_string()?).ok()).collect()
}

/// Deletes the entry `id` (quietly).
pub async fn delete(id: &str) {
    let _ = journal_delete(id).await;
}

/// Stored parts are written to the journal at most this often: list-parts is
/// the truth when resuming, the entry only says how far along it was, and
/// rewriting a growing entry after every part of a 10,000-part upload would
/// cost memory and time for nothing.
const PART_WRITE_INTERVAL_MS: u64 = 2_000;

/// The journal entry of one running upload, written as it goes. Writes run
/// in the order they are made (tasks run in order; IndexedDB runs its
/// transactions in the order they are made).
pub struct Session {
    entry: RefCell<Entry>,
    last_write_ms: std::cell::Cell<u64>,
    /// Over: nothing more is written.
    over: std::cell::Cell<bool>,
    /// Told when the content sample, not read yet, is wanted now.
    sample_wanted: RefCell<Option<oneshot::Sender<()>>>,
}

impl Session {
    /// A session writing `entry`.
    pub fn new(mut entry: Entry) -> Rc<Self> {
        // Kept sorted by part number: a part's write is a binary search.
        let stored = std::mem::take(&mut entry.parts);
        for (part, etag) in stored {
            set_part(&mut entry.parts, part, &etag);
        }
        Rc::new(Self {
            entry: RefCell::new(entry),
            last_write_ms: std::cell::Cell::new(0),
            over: std::cell::Cell::new(false),
            sample_wanted: RefCell::new(None),
        })
    }

    /// Resolves when the sample is wanted at once (the upload is paused: the
    /// page may be closed next), or when the session is over (an error).
    pub fn sample_wanted(&self) -> oneshot::Receiver<()> {
        let (tx, rx) = oneshot::channel();
        *self.sample_wanted.borrow_mut() = Some(tx);
        rx
    }

    fn write(&self) {
        if self.over.get() {
            return;
        }
        let e = self.entry.borrow();
        let (id, json) = (e.id.clone(), serde_json::to_string(&*e).unwrap_or_default());
        spawn_local(async move {
            let _ = journal_put(&id, &json).await;
        });
    }

    /// The entry's object key and multipart upload id (empty before it starts).
    pub fn target(&self) -> (String, String) {
        let e = self.entry.borrow();
        (e.key.clone(), e.upload_id.clone())
    }

    /// True once the upload is over.
    pub fn is_over(&self) -> bool {
        self.over.get()
    }

    /// The file's sample hash is known (it is read while the upload starts).
    pub fn set_sample(&self, sample: String) {
        self.sample_wanted.borrow_mut().take();
        self.entry.borrow_mut().sample = sample;
        if !self.entry.borrow().upload_id.is_empty() {
            self.write();
        }
    }

    /// The multipart upload exists: from now on it can be resumed.
    pub fn started(&self, upload_id: &str, part_size: u64, now_ms: u64) {
        {
            let mut e = self.entry.borrow_mut();
            e.upload_id = upload_id.to_owned();
            e.part_size = part_size;
            e.updated_ms = now_ms;
            e.parts.clear();
        }
        self.last_write_ms.set(now_ms);
        self.write();
    }

    /// A part is stored.
    pub fn part_done(&self, part: u16, etag: &str, now_ms: u64) {
        {
            let mut e = self.entry.borrow_mut();
            if e.upload_id.is_empty() {
                return;
            }
            set_part(&mut e.parts, part, etag);
            e.updated_ms = now_ms;
        }
        if now_ms >= self.last_write_ms.get() + PART_WRITE_INTERVAL_MS {
            self.last_write_ms.set(now_ms);
            self.write();
        }
    }

    /// Writes the entry now (on pause: the page may be closed next).
    pub fn flush(&self, now_ms: u64) {
        if let Some(tx) = self.sample_wanted.borrow_mut().take() {
            let _ = tx.send(());
        }
        if !self.entry.borrow().upload_id.is_empty() {
            self.last_write_ms.set(now_ms);
            self.write();
        }
    }

    /// The upload is over (done, aborted, or failed and aborted): nothing to resume.
    pub fn finished(&self) {
        self.over.set(true);
        self.sample_wanted.borrow_mut().take();
        let id = self.entry.borrow().id.clone();
        spawn_local(async move { delete(&id).await });
    }
}

/// Records `part`'s ETag in `parts`, kept sorted by number (parts mostly end
/// in order: this appends).
fn set_part(parts: &mut Vec<(u16, String)>, part: u16, etag: &str) {
    match parts.binary_search_by_key(&part, |(n, _)| *n) {
        Ok(i) => etag.clone_into(&mut parts[i].1),
        Err(i) => parts.insert(i, (part, etag.to_owned())),
    }
}
