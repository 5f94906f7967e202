//! Helpers of the browser tests (`wasm-pack test`): generated data, a JS view of
//! the API, reading objects back from the store, and JS-side instruments.
#![allow(dead_code)]

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Function, Object, Promise, Reflect, Uint8Array};
use s3_multipart_wasm::Uploader;
use sha2::{Digest, Sha256};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Blob;

pub const MIB: usize = 1024 * 1024;

/// The main test server (embedded store, debug endpoints on).
pub fn api() -> &'static str {
    option_env!("S3MP_TEST_API").unwrap_or("http://127.0.0.1:8080")
}

/// A second server: its store hides ETag from CORS, and its API wants
/// `Authorization: Bearer test-token`.
pub fn locked_api() -> &'static str {
    option_env!("S3MP_TEST_API_LOCKED").unwrap_or("http://127.0.0.1:8081")
}

#[wasm_bindgen(inline_js = r#"
let stats = { current: 0, max: 0, puts: 0, credentialedPuts: 0, fetches: 0, credentialedFetches: 0, calls: {} };
let installed = false;
let refuseBatch = false;
// A backend without part-urls and urls (as one written before them): 404
// for those calls; with 'page', a 200 page (a server that answers any path
// with its app); with 'forbidden', API Gateway's 403 for a path it lacks;
// with 'crash', its 502 for a Lambda that throws.
// Such a backend also ignores init's `parts` (a field it does not know):
// its init signs nothing. With refuseInitParts, init's `parts` are refused
// with a 400 instead (a backend whose parser refuses unknown fields).
export function setRefuseBatch(on) { refuseBatch = on; }
let refuseInitParts = false;
export function setRefuseInitParts(on) { refuseInitParts = on; }
// How a backend without them answers part-urls and urls: [status, body, content type].
const JSON_TYPE = 'application/json';
const REFUSALS = {
  true: [404, JSON.stringify({ error: { code: 'NotFound', message: 'no such route' } }), JSON_TYPE],
  page: [200, '<!doctype html><title>app</title>', 'text/html'],
  // API Gateway's answer for a path it does not have.
  forbidden: [403, '{"message":"Missing Authentication Token"}', JSON_TYPE],
  // API Gateway's answer when its Lambda throws (on an action it does not know).
  crash: [502, '{"message":"Internal server error"}', JSON_TYPE],
};
// The Lambda envelope's replies relayed as the function's result, as it is:
// HTTP 200 with `{statusCode, headers, body}` (a gateway's non-proxy
// integration).
let lambdaRaw = false;
export function setLambdaRaw(on) { lambdaRaw = on; }
// With it, the next `n` relayed replies are a function that threw instead.
let lambdaThrows = 0;
export function setLambdaThrows(n) { lambdaThrows = n; }
// A backend that answers every call HTTP 200, its refusals too (the body
// keeps the error: `{"error": {"code", "message"}}`).
let errorsAs200 = false;
export function setErrorsAs200(on) { errorsAs200 = on; }
// The next `n` calls named `name` answered HTTP 200 with S3's throttle as
// the backend's error, without reaching it.
let slowDown200 = {};
export function setSlowDown200(name, n) { slowDown200 = { [name]: n }; }
// A reply made here instead of the backend's.
function reply(body, status = 200, type = JSON_TYPE) {
  return new Response(body, { status, headers: { 'content-type': type } });
}
// Calls named `name` answered `ms` later (a slower backend), or none (0).
let slowCalls = {};
export function setSlowCall(name, ms) { slowCalls = ms ? { [name]: ms } : {}; }
export function trackXhr() {
  stats = { current: 0, max: 0, puts: 0, credentialedPuts: 0, fetches: 0, credentialedFetches: 0, calls: {} };
  if (installed) return;
  installed = true;
  // Backend calls: how many asked for credentials ('include').
  const realFetch = globalThis.fetch;
  globalThis.fetch = function (input, init) {
    const credentials = (init && init.credentials) || (input instanceof Request ? input.credentials : 'same-origin');
    stats.fetches++;
    if (credentials === 'include') stats.credentialedFetches++;
    // Backend calls by the last segment of their path (part-url, part-urls, ...).
    const url = input instanceof Request ? input.url : String(input);
    const name = new URL(url, location.href).pathname.split('/').pop();
    stats.calls[name] = (stats.calls[name] || 0) + 1;
    const refusal = (name === 'part-urls' || name === 'urls') && REFUSALS[refuseBatch];
    if (name === 'init' && (refuseBatch || refuseInitParts) && typeof init?.body === 'string' && 'parts' in JSON.parse(init.body)) {
      stats.calls.initWithParts = (stats.calls.initWithParts || 0) + 1;
      if (refuseInitParts) {
        const body = JSON.stringify({ error: { code: 'InvalidRequest', message: 'unknown field `parts`' } });
        return Promise.resolve(reply(body, 400));
      }
      const { parts, ...rest } = JSON.parse(init.body);
      init = { ...init, body: JSON.stringify(rest) };
    }
    if (refusal) {
      const [status, body, type] = refusal;
      return Promise.resolve(reply(body, status, type));
    }
    if (name === 'invoke' && lambdaRaw) {
      stats.calls.relayed = (stats.calls.relayed || 0) + 1;
      if (lambdaThrows > 0) {
        lambdaThrows--;
        const threw = { errorMessage: 'Task timed out after 3.00 seconds', errorType: 'Runtime.Timeout' };
        return Promise.resolve(reply(JSON.stringify(threw)));
      }
      return realFetch.call(this, input, init).then(async (res) => reply(
        JSON.stringify({ statusCode: res.status, headers: { 'content-type': JSON_TYPE }, body: await res.text() })));
    }
    if (slowDown200[name] > 0) {
      slowDown200[name]--;
      stats.calls.slowDown = (stats.calls.slowDown || 0) + 1;
      const body = JSON.stringify({ error: { code: 'SlowDown', message: 'Please reduce your request rate.' } });
      return Promise.resolve(reply(body));
    }
    if (errorsAs200) {
      stats.calls.as200 = (stats.calls.as200 || 0) + 1;
      return realFetch.call(this, input, init).then(async (res) => res.ok ? res : reply(await res.text()));
    }
    if (slowCalls[name]) return new Promise((r) => setTimeout(r, slowCalls[name])).then(() => realFetch.call(this, input, init));
    return realFetch.call(this, input, init);
  };
  const open = XMLHttpRequest.prototype.open;
  const send = XMLHttpRequest.prototype.send;
  // A PUT is in flight from send() until the first of load/error/abort/timeout.
  // The listeners are added in open(), before the client's own handlers, so the
  // count drops before the client reacts (and may start the next PUT).
  XMLHttpRequest.prototype.open = function (method, ...rest) {
    this.__isPut = method === 'PUT';
    if (this.__isPut) {
      let ended = false;
      const end = () => { if (this.__sent && !ended) { ended = true; stats.current--; } };
      for (const ev of ['load', 'error', 'abort', 'timeout']) this.addEventListener(ev, end);
    }
    return open.call(this, method, ...rest);
  };
  XMLHttpRequest.prototype.send = function (...args) {
    if (this.__isPut) {
      this.__sent = true;
      stats.puts++; stats.current++; stats.max = Math.max(stats.max, stats.current);
      if (this.withCredentials) stats.credentialedPuts++;
    }
    return send.apply(this, args);
  };
}
export function xhrStats() { return stats; }

export function hugeBlob(size) {
  const b = new Blob([]);
  Object.defineProperty(b, 'size', { value: size });
  return b;
}

// Hooks that speak the reference backend's REST protocol with fetch; `mangle`
// may rewrite part URLs. Every call's signal is checked.
export function restHooks(api, mangle) {
  const calls = [];
  const post = async (path, body, signal) => {
    if (!(signal instanceof AbortSignal)) throw new Error('hook got no AbortSignal');
    calls.push(path);
    const r = await fetch(api + path, { method: 'POST', body: JSON.stringify(body), signal });
    if (!r.ok) { const e = new Error(await r.text()); e.status = r.status; throw e; }
    return r.json();
  };
  return {
    calls,
    api,
    hooks: {
      createMultipartUpload: async ({ key, contentType, checksumAlgorithm, clientToken, signal }) => {
        const { upload_id } = await post('/uploads/multipart/init', { key, content_type: contentType, checksum_algorithm: checksumAlgorithm, client_token: clientToken }, signal);
        return { uploadId: upload_id };
      },
      signPart: async ({ key, uploadId, partNumber, checksum, signal }) => {
        const { url, headers } = await post('/uploads/multipart/part-url', { key, upload_id: uploadId, part_number: partNumber, checksum }, signal);
        return mangle ? mangle(url) : { url, headers };
      },
      completeMultipartUpload: async ({ key, uploadId, parts, checksum, signal }) => {
        calls.push(checksum ? `complete:${checksum.algorithm}` : 'complete');
        return post('/uploads/multipart/complete', { key, upload_id: uploadId, parts, checksum }, signal);
      },
      abortMultipartUpload: async ({ key, uploadId, signal }) => {
        if (!(signal instanceof AbortSignal) || signal.aborted) throw new Error('abort hook got an unusable signal');
        calls.push('abort');
        const r = await fetch(api + '/uploads/multipart/abort', { method: 'DELETE', body: JSON.stringify({ key, upload_id: uploadId }), signal });
        if (!r.ok) throw new Error(await r.text());
      },
      listParts: async ({ key, uploadId, signal }) => {
        const r = await fetch(`${api}/uploads/multipart/parts?key=${encodeURIComponent(key)}&upload_id=${encodeURIComponent(uploadId)}`, { signal });
        return (await r.json()).parts;
      },
    },
  };
}
// REST hooks as an instance of a class: the hooks are its prototype's
// methods, which reach the REST hooks through `this`.
export function classHooks(rest) {
  class Backend {
    constructor(h) { this.h = h; }
    createMultipartUpload(a) { return this.h.createMultipartUpload(a); }
    signPart(a) { return this.h.signPart(a); }
    completeMultipartUpload(a) { return this.h.completeMultipartUpload(a); }
    abortMultipartUpload(a) { return this.h.abortMultipartUpload(a); }
  }
  return new Backend(rest.hooks);
}
// Adds a signPut hook to REST hooks (the url call): small files go as one PUT.
export function withSignPut(rest) {
  rest.hooks.signPut = async ({ key, contentType, checksum, signal }) => {
    rest.calls.push('/uploads/url');
    const r = await fetch(rest.api + '/uploads/url', { method: 'POST', body: JSON.stringify({ key, content_type: contentType, checksum }), signal });
    if (!r.ok) { const e = new Error(await r.text()); e.status = r.status; throw e; }
    const { url, headers } = await r.json();
    return { url, headers };
  };
  return rest;
}
// Adds a signParts hook to REST hooks (part-urls), and makes
// createMultipartUpload sign the parts it is given (init's `parts`,
// recorded as `init:N`); with `lie`, both answer other parts than asked.
export function withSignParts(rest, lie) {
  const signed = (urls) => urls.map((u) => ({ partNumber: lie ? u.part_number + 100 : u.part_number, url: u.url, headers: u.headers }));
  rest.hooks.createMultipartUpload = async ({ key, contentType, checksumAlgorithm, clientToken, parts, signal }) => {
    rest.calls.push(`init:${parts ? parts.length : 0}`);
    const r = await fetch(rest.api + '/uploads/multipart/init', {
      method: 'POST',
      body: JSON.stringify({ key, content_type: contentType, checksum_algorithm: checksumAlgorithm, client_token: clientToken,
        parts: parts && parts.map((p) => ({ part_number: p.partNumber, checksum: p.checksum })) }),
      signal,
    });
    if (!r.ok) { const e = new Error(await r.text()); e.status = r.status; throw e; }
    const { upload_id, urls } = await r.json();
    return { uploadId: upload_id, urls: urls && signed(urls) };
  };
  rest.hooks.signParts = async ({ key, uploadId, parts, signal }) => {
    rest.calls.push('/uploads/multipart/part-urls');
    const r = await fetch(rest.api + '/uploads/multipart/part-urls', {
      method: 'POST',
      body: JSON.stringify({ key, upload_id: uploadId, parts: parts.map((p) => ({ part_number: p.partNumber, checksum: p.checksum })) }),
      signal,
    });
    if (!r.ok) { const e = new Error(await r.text()); e.status = r.status; throw e; }
    const { urls } = await r.json();
    return signed(urls);
  };
  return rest;
}
// Adds a signPuts hook to REST hooks with signPut (urls), and makes signPut
// take 100 ms more (the next files ask meanwhile); with `short`, signPuts
// answers one file fewer than given.
export function withSignPuts(rest, short) {
  const one = rest.hooks.signPut;
  rest.hooks.signPut = async (args) => { await new Promise((r) => setTimeout(r, 100)); return one(args); };
  rest.hooks.signPuts = async ({ files, signal }) => {
    rest.calls.push('/uploads/urls');
    const r = await fetch(rest.api + '/uploads/urls', {
      method: 'POST',
      body: JSON.stringify({ files: files.map((f) => ({ key: f.key, content_type: f.contentType, checksum: f.checksum })) }),
      signal,
    });
    if (!r.ok) { const e = new Error(await r.text()); e.status = r.status; throw e; }
    const { urls } = await r.json();
    const answer = urls.map((u) => (u.error ? Object.assign(new Error(u.error.message), { status: u.status }) : { url: u.url, headers: u.headers }));
    return short ? answer.slice(1) : answer;
  };
  return rest;
}
// Wraps REST hooks: complete sends a whole-object checksum that is not the file's.
export function wrongWholeChecksum(rest) {
  const complete = rest.hooks.completeMultipartUpload;
  rest.hooks.completeMultipartUpload = (args) =>
    complete({ ...args, checksum: { algorithm: 'CRC32', value: args.checksum.value === 'AAAAAA==' ? 'AAAAAQ==' : 'AAAAAA==' } });
}
// The ETag response header of the n-th part PUT from now reads altered (one
// hex digit changed), as if changed on its way back; 0 turns it off.
let alterEtagOf = 0;
let putsSeen = 0;
export function alterEtagOfPut(n) {
  alterEtagOf = n;
  putsSeen = 0;
  if (globalThis.__etagPatched) return;
  globalThis.__etagPatched = true;
  const open = XMLHttpRequest.prototype.open;
  XMLHttpRequest.prototype.open = function (method, ...rest) {
    if (method === 'PUT') this.__putNo = ++putsSeen;
    return open.call(this, method, ...rest);
  };
  const get = XMLHttpRequest.prototype.getResponseHeader;
  XMLHttpRequest.prototype.getResponseHeader = function (name) {
    const v = get.call(this, name);
    if (v && /^etag$/i.test(name) && alterEtagOf && this.__putNo === alterEtagOf) {
      return v.replace(/[0-9a-f]/, (c) => (c === '0' ? '1' : '0'));
    }
    return v;
  };
}
// Wraps REST hooks: a refusal of complete is thrown as the AWS SDK throws it
// (name InvalidPart, a message without the code). Counts complete and
// listParts calls.
export function sdkLikeComplete(rest) {
  const seen = { completes: 0, lists: 0 };
  const complete = rest.hooks.completeMultipartUpload;
  const list = rest.hooks.listParts;
  rest.hooks.completeMultipartUpload = async (args) => {
    seen.completes += 1;
    try {
      return await complete(args);
    } catch (e) {
      if (!String(e.message).includes('InvalidPart')) throw e;
      throw Object.assign(new Error('One or more of the specified parts could not be found.'),
        { name: 'InvalidPart', $metadata: { httpStatusCode: 400 } });
    }
  };
  rest.hooks.listParts = (args) => { seen.lists += 1; return list(args); };
  return seen;
}
// Wraps REST hooks: the first signPart throws as the AWS SDK throws a 503
// (its status only in `$metadata.httpStatusCode`); counts the throws.
export function sdkLike503Once(rest) {
  const seen = { thrown: 0 };
  const sign = rest.hooks.signPart;
  rest.hooks.signPart = async (args) => {
    if (seen.thrown === 0) {
      seen.thrown += 1;
      throw Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
    }
    return sign(args);
  };
  return seen;
}
// Wraps REST hooks: createMultipartUpload sends the client token, and its
// first call creates the upload but then throws an error without a status
// (as a reply that came garbled); records every token it was given.
export function initGarbledOnce(rest) {
  const seen = { tokens: [] };
  rest.hooks.createMultipartUpload = async ({ key, contentType, checksumAlgorithm, clientToken, signal }) => {
    seen.tokens.push(clientToken);
    const r = await fetch(rest.api + '/uploads/multipart/init', {
      method: 'POST', signal,
      body: JSON.stringify({ key, content_type: contentType, checksum_algorithm: checksumAlgorithm, client_token: clientToken }),
    });
    if (!r.ok) { const e = new Error(await r.text()); e.status = r.status; throw e; }
    const { upload_id } = await r.json();
    if (seen.tokens.length === 1) throw new SyntaxError('Unexpected token < in JSON at position 0');
    return { uploadId: upload_id };
  };
  return seen;
}
// One call of `rest`'s REST backend (`path` under /uploads/multipart/): its
// JSON reply, or a throw with the backend's error.
async function restCall(rest, method, path, body, signal) {
  const r = await fetch(`${rest.api}/uploads/multipart/${path}`, { method, body: JSON.stringify(body), signal });
  if (!r.ok) throw new Error(await r.text());
  return r.json();
}
// A signPart hook with an off-by-one: it has the backend sign the part after
// the one asked for (a valid URL, signed, for another part number).
export function offByOneSignPart(rest) {
  rest.hooks.signPart = ({ key, uploadId, partNumber, checksum, signal }) =>
    restCall(rest, 'POST', 'part-url', { key, upload_id: uploadId, part_number: partNumber + 1, checksum }, signal);
}
// A signPart hook that has the backend sign each part for another multipart
// upload of the same key, which it opens first (S3 would store the bytes
// there and answer 200). Resolves `rest.decoy` to that upload's id.
export function otherUploadSignPart(rest) {
  rest.hooks.signPart = async ({ key, partNumber, checksum, signal }) => {
    rest.decoy ??= restCall(rest, 'POST', 'init', { key, content_type: 'application/octet-stream' }).then((r) => r.upload_id);
    return restCall(rest, 'POST', 'part-url', { key, upload_id: await rest.decoy, part_number: partNumber, checksum }, signal);
  };
  rest.abortDecoy = async (key) => restCall(rest, 'DELETE', 'abort', { key, upload_id: await rest.decoy });
}
// A createMultipartUpload hook that creates the upload without the checksum
// algorithm it is given (signPart still signs each part's checksum): a
// backend S3 answers "Checksum Type mismatch" at the first part PUT.
export function initWithoutChecksum(rest) {
  rest.hooks.createMultipartUpload = async ({ key, contentType, clientToken, signal }) => {
    const { upload_id } = await restCall(rest, 'POST', 'init', { key, content_type: contentType, client_token: clientToken }, signal);
    return { uploadId: upload_id };
  };
}
// Makes hook `name` of REST hooks answer `value`, whatever it is asked.
// Wraps REST hooks: completeMultipartUpload throws what the AWS SDK throws
// when S3 refuses the whole object's checksum, an error whose message does
// not say BadDigest but whose `field` does (`name` or `code`); counts its calls.
export function sdkLikeBadDigest(rest, field) {
  const seen = { completes: 0 };
  rest.hooks.completeMultipartUpload = async () => {
    seen.completes += 1;
    throw Object.assign(new Error('The checksum you specified did not match what we received.'),
      { [field]: 'BadDigest', $metadata: { httpStatusCode: 400 } });
  };
  return seen;
}
// Counts the page's reads of localStorage (getItem, key, length) from
// startStorageCount() to stopStorageCount(), which answers the count.
let storageReads = null;
export function startStorageCount() {
  storageReads = { n: 0, undo: [] };
  const proto = Storage.prototype;
  for (const name of ['getItem', 'key']) {
    const orig = proto[name];
    proto[name] = function (...a) { storageReads.n += 1; return orig.apply(this, a); };
    storageReads.undo.push(() => { proto[name] = orig; });
  }
  const len = Object.getOwnPropertyDescriptor(proto, 'length');
  Object.defineProperty(proto, 'length', { configurable: true, get() { storageReads.n += 1; return len.get.call(this); } });
  storageReads.undo.push(() => Object.defineProperty(proto, 'length', len));
}
export function stopStorageCount() {
  for (const undo of storageReads.undo) undo();
  return storageReads.n;
}
export function misshapenHook(rest, name, value) {
  rest.hooks[name] = async () => value;
}
export function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }
export function countedSignal() {
  const controller = new AbortController();
  const signal = controller.signal;
  const live = new Set();
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (type, fn, opts) => { if (type === 'abort') live.add(fn); add(type, fn, opts); };
  signal.removeEventListener = (type, fn, opts) => { if (type === 'abort') live.delete(fn); remove(type, fn, opts); };
  return { signal, live: () => live.size };
}
// Wraps REST hooks: the first signPart call never answers (until its signal
// aborts); records whether that signal was aborted.
export function hangingFirstSign(rest) {
  const seen = { hung: 0, abortedOnTimeout: false };
  const sign = rest.hooks.signPart;
  let first = true;
  rest.hooks.signPart = (args) => {
    if (!first) return sign(args);
    first = false;
    seen.hung += 1;
    return new Promise((_, reject) => args.signal.addEventListener('abort', () => {
      seen.abortedOnTimeout = true;
      reject(new DOMException('aborted', 'AbortError'));
    }));
  };
  return seen;
}
// Wraps REST hooks: listParts throws a TypeError (as fetch does offline)
// while `state.fail` is set; counts its calls.
// A backend from before checksums: the hooks leave out every checksum they
// are given (init's algorithm, each part's, complete's).
export function ignoresChecksums(rest) {
  const { createMultipartUpload: init, signPart: sign, completeMultipartUpload: complete } = rest.hooks;
  rest.hooks.createMultipartUpload = ({ checksumAlgorithm, ...args }) => init(args);
  rest.hooks.signPart = ({ checksum, ...args }) => sign(args);
  rest.hooks.completeMultipartUpload = ({ checksum, ...args }) => complete(args);
}
// list-parts without the parts' checksums (a backend that drops them, a
// store that does not list them).
export function listsNoChecksums(rest) {
  const list = rest.hooks.listParts;
  rest.hooks.listParts = async (args) => (await list(args)).map(({ ChecksumCRC32, ...p }) => p);
}
export function flakyListParts(rest) {
  const state = { fail: false, calls: 0 };
  const list = rest.hooks.listParts;
  rest.hooks.listParts = (args) => {
    state.calls += 1;
    if (state.fail) return Promise.reject(new TypeError('Failed to fetch'));
    return list(args);
  };
  return state;
}
// Makes the journal entry `id` look untouched for `ms` more: in
// localStorage (a window) or IndexedDB (a worker), as the client keeps it.
export async function ageJournalEntry(id, ms) {
  const age = (text) => { const e = JSON.parse(text); e.updated_ms -= ms; return JSON.stringify(e); };
  if (typeof localStorage !== 'undefined') {
    const k = 's3-multipart-wasm/journal/' + id;
    localStorage.setItem(k, age(localStorage.getItem(k)));
    return;
  }
  const db = await new Promise((resolve, reject) => {
    const r = indexedDB.open('s3-multipart-wasm', 1);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
  await new Promise((resolve, reject) => {
    const t = db.transaction('uploads', 'readwrite');
    const store = t.objectStore('uploads');
    const get = store.get(id);
    get.onsuccess = () => store.put(age(get.result), id);
    t.oncomplete = resolve;
    t.onerror = () => reject(t.error);
  });
  db.close();
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = ageJournalEntry)]
    pub async fn age_journal_entry(id: &str, ms: f64);
    #[wasm_bindgen(js_name = trackXhr)]
    pub fn track_xhr();
    #[wasm_bindgen(js_name = setRefuseBatch)]
    pub fn set_refuse_batch(on: JsValue);
    #[wasm_bindgen(js_name = setRefuseInitParts)]
    pub fn set_refuse_init_parts(on: bool);
    #[wasm_bindgen(js_name = setLambdaRaw)]
    pub fn set_lambda_raw(on: bool);
    #[wasm_bindgen(js_name = setLambdaThrows)]
    pub fn set_lambda_throws(n: u32);
    #[wasm_bindgen(js_name = setErrorsAs200)]
    pub fn set_errors_as_200(on: bool);
    #[wasm_bindgen(js_name = setSlowDown200)]
    pub fn set_slow_down_200(name: &str, n: u32);
    #[wasm_bindgen(js_name = setSlowCall)]
    pub fn set_slow_call(name: &str, ms: u32);
    #[wasm_bindgen(js_name = xhrStats)]
    pub fn xhr_stats() -> JsValue;
    #[wasm_bindgen(js_name = hugeBlob)]
    pub fn huge_blob(size: f64) -> Blob;
    #[wasm_bindgen(js_name = restHooks)]
    pub fn rest_hooks(api: &str, mangle: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = classHooks)]
    pub fn class_hooks(rest: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = withSignPut)]
    pub fn with_sign_put(rest: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = withSignPuts)]
    pub fn with_sign_puts(rest: JsValue, short: bool) -> JsValue;
    #[wasm_bindgen(js_name = withSignParts)]
    pub fn with_sign_parts(rest: JsValue, lie: bool) -> JsValue;
    #[wasm_bindgen(js_name = sleep)]
    fn sleep_promise(ms: u32) -> Promise;
    #[wasm_bindgen(js_name = countedSignal)]
    pub fn counted_signal() -> JsValue;
    #[wasm_bindgen(js_name = hangingFirstSign)]
    pub fn hanging_first_sign(rest: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = flakyListParts)]
    pub fn flaky_list_parts(rest: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = wrongWholeChecksum)]
    pub fn wrong_whole_checksum(rest: &JsValue);
    #[wasm_bindgen(js_name = ignoresChecksums)]
    pub fn ignores_checksums(rest: &JsValue);
    #[wasm_bindgen(js_name = listsNoChecksums)]
    pub fn lists_no_checksums(rest: &JsValue);
    #[wasm_bindgen(js_name = alterEtagOfPut)]
    pub fn alter_etag_of_put(n: u32);
    #[wasm_bindgen(js_name = sdkLikeComplete)]
    pub fn sdk_like_complete(rest: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = sdkLike503Once)]
    pub fn sdk_like_503_once(rest: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = initGarbledOnce)]
    pub fn init_garbled_once(rest: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = offByOneSignPart)]
    pub fn off_by_one_sign_part(rest: &JsValue);
    #[wasm_bindgen(js_name = otherUploadSignPart)]
    pub fn other_upload_sign_part(rest: &JsValue);
    #[wasm_bindgen(js_name = initWithoutChecksum)]
    pub fn init_without_checksum(rest: &JsValue);
    #[wasm_bindgen(js_name = misshapenHook)]
    pub fn misshapen_hook(rest: &JsValue, name: &str, value: &JsValue);
    #[wasm_bindgen(js_name = startStorageCount)]
    pub fn start_storage_count();
    #[wasm_bindgen(js_name = stopStorageCount)]
    pub fn stop_storage_count() -> u32;
    #[wasm_bindgen(js_name = sdkLikeBadDigest)]
    pub fn sdk_like_bad_digest(rest: &JsValue, field: &str) -> JsValue;
}

#[wasm_bindgen]
extern "C" {
    /// The global `fetch` (of the window or the worker).
    #[wasm_bindgen(js_name = fetch)]
    fn fetch(url: &str) -> Promise;
}

pub async fn sleep(ms: u32) {
    JsFuture::from(sleep_promise(ms)).await.expect("sleep");
}

/// Deterministic bytes (xorshift), different per seed.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(&s.to_le_bytes()[..(len - out.len()).min(8)]);
    }
    out
}

pub fn blob(data: &[u8]) -> Blob {
    let arr = Array::new();
    arr.push(&Uint8Array::from(data));
    Blob::new_with_u8_array_sequence(&arr).expect("blob")
}

/// A `File` with a name and a `lastModified` of our choosing.
pub fn file(data: &[u8], name: &str, last_modified: f64) -> web_sys::File {
    let arr = Array::new();
    arr.push(&Uint8Array::from(data));
    let opts = web_sys::FilePropertyBag::new();
    opts.set_last_modified(last_modified);
    web_sys::File::new_with_u8_array_sequence_and_options(&arr, name, &opts).expect("file")
}

/// Waits until `report` shows at least `n` stored parts.
pub async fn wait_parts(report: &Rc<RefCell<Report>>, n: usize) {
    for _ in 0..1000 {
        if report.borrow().parts.len() >= n {
            return;
        }
        sleep(10).await;
    }
    panic!("{n} parts were not stored in time");
}

pub fn sha(data: &[u8]) -> String {
    format!("{:x}", Sha256::digest(data))
}

pub fn obj(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        Reflect::set(&o, &JsValue::from_str(k), v).expect("set");
    }
    o.into()
}

pub fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).expect("get")
}

pub fn num(v: &JsValue, k: &str) -> f64 {
    get(v, k).as_f64().unwrap_or_else(|| panic!("{k} is not a number"))
}

pub fn string(v: &JsValue, k: &str) -> Option<String> {
    get(v, k).as_string()
}

pub fn unique_key(name: &str) -> String {
    format!("wasm-tests/{}-{name}", (js_sys::Math::random() * 1e12) as u64)
}

/// An uploader of 5 MiB parts, one at a time: the resume tests stop it after
/// a known number of parts.
pub fn one_at_a_time() -> Uploader {
    uploader(&[("partSize", JsValue::from(5 * MIB as u32)), ("concurrency", JsValue::from(1))])
}

/// The same through `rest`'s hooks (see `restHooks`).
pub fn one_at_a_time_hooks(rest: &JsValue) -> Uploader {
    Uploader::new(obj(&[
        ("protocol", get(rest, "hooks")),
        ("partSize", JsValue::from(5 * MIB as u32)),
        ("concurrency", JsValue::from(1)),
    ]))
    .expect("hooks")
}

pub fn uploader(extra: &[(&str, JsValue)]) -> Uploader {
    uploader_at(api(), extra)
}

pub fn uploader_at(endpoint: &str, extra: &[(&str, JsValue)]) -> Uploader {
    let mut fields = vec![("endpoint", JsValue::from_str(endpoint))];
    fields.extend(extra.iter().cloned());
    match Uploader::new(obj(&fields)) {
        Ok(u) => u,
        Err(e) => panic!("options refused: {:?}", string(&e, "message")),
    }
}

/// GETs a URL; returns its bytes.
pub async fn fetch_bytes(url: &str) -> Vec<u8> {
    let resp = JsFuture::from(fetch(url)).await.expect("GET");
    let resp: web_sys::Response = resp.unchecked_into();
    assert_eq!(resp.status(), 200, "GET {url}");
    let buf = JsFuture::from(resp.array_buffer().expect("body")).await.expect("bytes");
    Uint8Array::new(&buf).to_vec()
}

/// The status of a GET of the object at `key` (404: not stored).
pub async fn object_status(key: &str) -> u16 {
    let url = JsFuture::from(uploader(&[]).download_url(key.to_owned())).await.expect("download url");
    let resp = JsFuture::from(fetch(&url.as_string().expect("url"))).await.expect("GET");
    resp.unchecked_into::<web_sys::Response>().status()
}

/// The `Content-Type` the store serves the object at `key` with.
pub async fn stored_content_type(key: &str) -> Option<String> {
    let up = uploader(&[]);
    let url = JsFuture::from(up.download_url(key.to_owned())).await.expect("download url");
    let resp = JsFuture::from(fetch(&url.as_string().expect("url"))).await.expect("GET");
    let resp: web_sys::Response = resp.unchecked_into();
    assert_eq!(resp.status(), 200);
    resp.headers().get("content-type").expect("headers")
}

/// GETs a JSON URL.
pub async fn fetch_json(url: &str) -> JsValue {
    let resp = JsFuture::from(fetch(url)).await.expect("GET");
    let resp: web_sys::Response = resp.unchecked_into();
    JsFuture::from(resp.json().expect("json")).await.expect("json body")
}

/// Reads an object back from the main server's store.
pub async fn read_back(key: &str) -> Vec<u8> {
    let up = uploader(&[]);
    let url = JsFuture::from(up.download_url(key.to_owned())).await.expect("download url");
    fetch_bytes(&url.as_string().expect("url")).await
}

/// Open multipart uploads under `prefix` in the main server's store.
pub async fn open_uploads(prefix: &str) -> u32 {
    let v = fetch_json(&format!("{}/uploads/multipart/open?prefix={prefix}", api())).await;
    Array::from(&get(&v, "uploads")).length()
}

/// Open multipart uploads under `prefix`, waiting up to 3 s for background
/// aborts to land.
pub async fn open_uploads_soon(prefix: &str) -> u32 {
    let mut open = open_uploads(prefix).await;
    for _ in 0..30 {
        if open == 0 {
            break;
        }
        sleep(100).await;
        open = open_uploads(prefix).await;
    }
    open
}

/// Everything one upload reported.
#[derive(Default, Clone)]
pub struct Report {
    pub progress: Vec<f64>,
    pub parts: Vec<f64>,
    pub retries: Vec<JsValue>,
}

/// Upload options with recording callbacks; returns them with the shared report.
pub fn recording(key: &str, extra: &[(&str, JsValue)]) -> (JsValue, Rc<RefCell<Report>>) {
    let report = Rc::new(RefCell::new(Report::default()));
    let (r1, r2, r3) = (report.clone(), report.clone(), report.clone());
    let on_progress =
        Closure::<dyn Fn(JsValue)>::new(move |p: JsValue| r1.borrow_mut().progress.push(num(&p, "bytesSent")));
    let on_part = Closure::<dyn Fn(JsValue)>::new(move |p: JsValue| r2.borrow_mut().parts.push(num(&p, "partNumber")));
    let on_retry = Closure::<dyn Fn(JsValue)>::new(move |r: JsValue| r3.borrow_mut().retries.push(r));
    let mut fields = vec![
        ("key", JsValue::from_str(key)),
        ("onProgress", on_progress.into_js_value()),
        ("onPartComplete", on_part.into_js_value()),
        ("onRetry", on_retry.into_js_value()),
    ];
    fields.extend(extra.iter().cloned());
    (obj(&fields), report)
}

/// Uploads `data` under a fresh key and checks everything a good upload shows;
/// returns the key, the result and the report.
pub async fn upload_ok(up: &Uploader, name: &str, data: &[u8]) -> (String, JsValue, Report) {
    let key = unique_key(name);
    let (opts, report) = recording(&key, &[]);
    let result = match JsFuture::from(up.upload(&blob(data), opts)).await {
        Ok(r) => r,
        Err(e) => panic!("upload of {name} failed: {:?} {:?}", string(&e, "code"), string(&e, "message")),
    };
    let report = report.borrow().clone();
    assert_eq!(string(&result, "key").as_deref(), Some(key.as_str()));
    assert_eq!(num(&result, "size"), data.len() as f64);
    for w in report.progress.windows(2) {
        assert!(w[1] >= w[0], "progress went back: {:?}", report.progress);
    }
    assert_eq!(report.progress.last().copied(), Some(data.len() as f64), "progress ends at the size");
    (key, result, report)
}

/// Uploads each file to its key at once (with `extra` options); waits for
/// all; for each, `None` when it succeeded, else its error's code and message.
pub async fn upload_each(
    up: &Uploader,
    files: &[Vec<u8>],
    keys: &[String],
    extra: &[(&str, JsValue)],
) -> Vec<Option<(Option<String>, Option<String>)>> {
    let handles: Vec<JsFuture> = files
        .iter()
        .zip(keys)
        .map(|(data, key)| {
            let mut fields = vec![("key", JsValue::from_str(key))];
            fields.extend(extra.iter().cloned());
            JsFuture::from(up.upload(&blob(data), obj(&fields)))
        })
        .collect();
    let mut errors = Vec::new();
    for h in handles {
        errors.push(h.await.err().map(|e| (string(&e, "code"), string(&e, "message"))));
    }
    errors
}

/// The error an upload rejected with.
pub async fn upload_err(up: &Uploader, file: &Blob, opts: JsValue) -> JsValue {
    match JsFuture::from(up.upload(file, opts)).await {
        Ok(_) => panic!("upload succeeded but should have failed"),
        Err(e) => {
            assert!(e.is_instance_of::<js_sys::Error>(), "rejects with an Error");
            assert_eq!(string(&e, "name").as_deref(), Some("UploadError"));
            e
        }
    }
}

/// Calls a method of the upload handle (`pause`, `resume`, `abort`).
pub fn control(handle: &Promise, method: &str) {
    let f: Function = get(handle, method).unchecked_into();
    f.call0(handle).unwrap_or_else(|_| panic!("{method}()"));
}

/// The resumable upload of `key` listed by `resumableUploads()`, if any.
pub async fn resumable(up: &Uploader, key: &str) -> Option<JsValue> {
    let list = JsFuture::from(up.resumable_uploads()).await.expect("list");
    Array::from(&list).iter().find(|e| string(e, "key").as_deref() == Some(key))
}

/// Starts an upload of `f` under `key` and pauses it once `parts` parts are
/// stored: a resumable upload, as a page reload leaves it. Returns its
/// journal entry (from `resumableUploads()`).
pub async fn interrupted(up: &Uploader, f: &web_sys::File, key: &str, parts: usize) -> JsValue {
    let (opts, report) = recording(key, &[]);
    let first = up.upload(f, opts);
    wait_parts(&report, parts).await;
    control(&first, "pause");
    // The pause writes the journal entry, with its content sample (read at
    // the pause) and the stored parts: wait until it is listed with them.
    for _ in 0..300 {
        if let Some(entry) = resumable(up, key).await
            && num(&entry, "partsDone") >= parts as f64
        {
            return entry;
        }
        sleep(10).await;
    }
    panic!("{key} was not listed as resumable with {parts} parts after the pause")
}

/// The parts the main server's store lists for upload `upload_id` of `key`
/// (`[{PartNumber, ETag, Size, ChecksumCRC32?}]`), once their count has held
/// for 300 ms (up to 3 s): a PUT that a pause cancelled after its body was
/// sent may still be stored, so the journal's count (the parts answered)
/// can be one short of what a resume finds.
pub async fn settled_parts(key: &str, upload_id: &str) -> Array {
    let url = format!("{}/uploads/multipart/parts?key={key}&upload_id={upload_id}", api());
    let mut last = Array::from(&get(&fetch_json(&url).await, "parts"));
    for _ in 0..10 {
        sleep(300).await;
        let now = Array::from(&get(&fetch_json(&url).await, "parts"));
        if now.length() == last.length() {
            break;
        }
        last = now;
    }
    last
}

/// Waits (up to 2 s) until the journal no longer lists an upload of `key`;
/// true when it is gone.
pub async fn left_the_journal(up: &Uploader, key: &str) -> bool {
    for _ in 0..200 {
        if resumable(up, key).await.is_none() {
            return true;
        }
        sleep(10).await;
    }
    false
}

/// An `onResume` callback, and what it was last called with.
pub fn on_resume() -> (JsValue, Rc<RefCell<Option<JsValue>>>) {
    let seen = Rc::new(RefCell::new(None));
    let s2 = seen.clone();
    let f = Closure::<dyn Fn(JsValue)>::new(move |info: JsValue| *s2.borrow_mut() = Some(info));
    (f.into_js_value(), seen)
}
