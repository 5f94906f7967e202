//! The resume journal's storage, one JSON entry per resumable upload:
//! `localStorage` where there is one (a window), IndexedDB where there is not
//! (Web Workers). `localStorage` answers at once, where opening IndexedDB
//! takes 5–30 ms in a fresh profile and holds the first part back for as
//! long; an entry is a few hundred bytes plus ~45 per stored part. Best
//! effort: when the storage is missing, full or fails, uploads still work,
//! they just cannot be resumed after a reload. What an entry holds and when
//! it may be resumed is decided in [`crate::resume`].

#[allow(unused_imports)]
use crate::prelude::*;

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
// The lock of entry `id` while an upload of it runs (Web Locks, which the
// browser releases when the page goes): resolves to the function that
// releases it, or to null when another running upload (this page's or
// another tab's) holds it; without Web Locks, to a function that does
// nothing.
export function journalLock(id) {
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
export function journalExpired(endpoint, ttl) {
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
"#)]
extern "C" {
    #[wasm_bindgen(catch, js_name = journalGet)]
    async fn journal_get(id: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = journalPut)]
    async fn journal_put(id: &str, json: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = journalDelete)]
    async fn journal_delete(id: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = journalLock)]
    fn journal_lock(id: &str) -> js_sys::Promise;
    /// The ids of `endpoint`'s entries untouched for more than `ttl` ms.
    #[wasm_bindgen(js_name = journalExpired)]
    pub fn expired(endpoint: &str, ttl: f64) -> js_sys::Promise;
    /// The listing of `resumableUploads()` (a promise of its array).
    #[wasm_bindgen(js_name = journalList)]
    pub fn list(endpoint: &str) -> js_sys::Promise;
}

/// Reads the entry `id`; `None` when there is none, or it cannot be read.
pub async fn get(id: &str) -> Option<Entry> {
    let v = journal_get(id).await.ok()?;
    Entry::from_json(&v.as_string()?)
}

/// Deletes the entry `id` (quietly).
pub async fn delete(id: &str) {
    let _ = journal_delete(id).await;
}

/// Writes `entry` under its id (quietly; writes run in the order they are
/// made: tasks run in order, IndexedDB runs its transactions in order).
pub fn put(entry: &Entry) {
    let (id, json) = (entry.id.clone(), entry.to_json());
    spawn_local(async move {
        let _ = journal_put(&id, &json).await;
    });
}

/// Takes the lock of entry `id` for a running upload: the function that
/// releases it, or `None` when another running upload holds it.
pub async fn lock(id: &str) -> Option<js_sys::Function> {
    wasm_bindgen_futures::JsFuture::from(journal_lock(id)).await.ok()?.dyn_into().ok()
}
