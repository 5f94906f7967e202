//! Engine errors become the JS `UploadError` here, once. The same snippet
//! holds the module's other small JS helpers (one snippet is one fetch for a
//! page): init's client token, the hooks backend's adapter (`callHook`) and
//! the HTTP backend's request (`fetchText`); JS is the cheaper language for
//! that glue, and every decision stays in Rust.

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

use crate::engine::UploadError;

#[wasm_bindgen(inline_js = r#"
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
export function fetchText(method, url, headers, body, include, signal, many) {
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
  try { text = await r.text(); } catch (e) { if (r.ok) text = null; }
  return [r.status, text, r.headers.get('retry-after')];
}
export function callHook(hooks, name, op, body, signal) {
  const one = async () => {
    const [args, reply] = HOOKS[op];
    const answer = await hooks[name]({ ...args(JSON.parse(body)), signal });
    // An answer JSON cannot carry (a cycle, a BigInt) is not JSON: refused as malformed.
    try { return JSON.stringify(reply(answer)); } catch (e) { return ''; }
  };
  return name === 'signPut' && hooks.signPuts && !signal.aborted ? together(hooks, body, signal, one, (items) => hookPuts(hooks, items)) : one();
}
"#)]
extern "C" {
    /// Calls hook `name` for protocol call `op` (its REST path; its REST `body`, JSON) and
    /// answers the hook's reply as the REST reply's JSON; rejects with what
    /// the hook threw.
    #[wasm_bindgen(js_name = callHook)]
    pub(crate) fn call_hook(
        hooks: &JsValue,
        name: &str,
        op: &str,
        body: &str,
        signal: &web_sys::AbortSignal,
    ) -> js_sys::Promise;
    /// Sends a backend call with `fetch`: `[status, body or null (a 2xx cut
    /// off), Retry-After]`; rejects with the fetch's error, or with
    /// `{ unsendable }` when the request cannot be made.
    #[wasm_bindgen(js_name = fetchText)]
    pub(crate) fn fetch_text(
        method: &str,
        url: &str,
        headers: &js_sys::Array,
        body: JsValue,
        include: bool,
        signal: &web_sys::AbortSignal,
        many: bool,
    ) -> js_sys::Promise;
    /// 32 hex digits from `crypto.getRandomValues`: an upload's init token.
    #[wasm_bindgen(js_name = clientToken)]
    pub(crate) fn client_token() -> String;

    #[wasm_bindgen(js_name = makeUploadError)]
    fn make_upload_error(
        message: &str,
        code: &str,
        status: JsValue,
        part_number: JsValue,
        field: JsValue,
        cause: JsValue,
    ) -> JsValue;
}

/// The JS `UploadError` for an engine error.
pub(crate) fn to_js_error(e: &UploadError) -> JsValue {
    let opt_num = |n: Option<u16>| n.map_or(JsValue::NULL, JsValue::from);
    make_upload_error(
        &e.message,
        e.code.as_str(),
        opt_num(e.status),
        opt_num(e.part_number),
        e.field.as_deref().map_or(JsValue::NULL, JsValue::from_str),
        e.cause.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str),
    )
}
