//! The application's backend: over HTTP (REST paths or the Lambda envelope,
//! [`http`]) or through the application's own async JS functions ([`hooks`]).

#[allow(unused_imports)]
use crate::prelude::*;

pub mod hooks;
pub mod http;

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;

use crate::engine::{ErrorCode, Failure, UploadError};
use crate::protocol::{Checksum, ListedPart, Signed};

pub use hooks::Hooks;
pub use http::{HttpBackend, Protocol};

/// How a backend call failed.
#[derive(Debug, Clone)]
pub enum CallError {
    /// It may pass: network, timeout, 408, 429, 5xx.
    Transient(Failure),
    /// It will not pass: a 4xx, or a malformed reply.
    Rejected(UploadError),
}

impl CallError {
    /// A 5xx answer.
    pub fn is_server_error(&self) -> bool {
        matches!(self, Self::Transient(Failure::Status { status: 500..=599, .. }))
    }
}

/// A failed backend call: retried when the failure may pass (network, timeout,
/// 408, 429, 5xx), else the error `rejected` makes. A backend's 403 is a
/// refusal, never the expired-URL 403 that S3 PUTs retry.
pub fn backend_failure(failure: Failure, rejected: impl FnOnce() -> UploadError) -> CallError {
    let refused = matches!(failure, Failure::Status { status: 403, .. });
    if failure.is_transient() && !refused { CallError::Transient(failure) } else { CallError::Rejected(rejected()) }
}

/// A plain JS object with these fields.
pub fn js_object(fields: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in fields {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

/// Header pairs as JS `[[name, value], ...]`, for the JS that sends them.
pub fn js_pairs(pairs: &[(String, String)]) -> js_sys::Array {
    pairs.iter().map(|(k, v)| js_sys::Array::of2(&k.into(), &v.into())).collect()
}

/// The delay a `Retry-After` header asks for, in ms (an HTTP date read by
/// the browser's `Date.parse`).
pub fn retry_after_ms(value: &str) -> Option<u64> {
    let date = |d: &str| Some(js_sys::Date::parse(d)).filter(|t| t.is_finite() && *t >= 0.0).map(|t| t as u64);
    crate::engine::retry::parse_retry_after(value, js_sys::Date::now() as u64, date)
}

/// A reply of another kind than its call asked for: a bug of a [`Calls`]
/// implementation, never the network's doing (each checks its reply's shape).
pub fn mismatched() -> CallError {
    CallError::Rejected(UploadError::new(ErrorCode::BackendError, "a backend call got a reply of another kind"))
}

/// One call of the backend protocol, with its arguments.
#[derive(Debug, Clone, Copy)]
pub enum Req<'a> {
    /// Starts a multipart upload (with a checksum algorithm, if any) and
    /// signs `parts` with it, where the backend can: [`Reply::Initiated`].
    /// `client_token` is the same for every init of one upload ([`crate::protocol::init_body`]).
    Init {
        key: &'a str,
        content_type: &'a str,
        checksum_algorithm: Option<&'a str>,
        client_token: &'a str,
        parts: &'a [(u16, Option<Checksum>)],
    },
    /// A presigned URL for one part, and the headers its PUT must send: [`Reply::Signed`].
    SignPart { key: &'a str, upload_id: &'a str, part: u16, checksum: Option<&'a Checksum> },
    /// Presigned URLs for several parts in one call (backends that offer it,
    /// [`Calls::can_batch`]): [`Reply::SignedMany`].
    SignParts { key: &'a str, upload_id: &'a str, parts: &'a [(u16, Option<Checksum>)] },
    /// A presigned URL for a whole-object PUT, and its headers: [`Reply::Signed`].
    PresignPut { key: &'a str, content_type: &'a str, checksum: Option<&'a Checksum> },
    /// Completes a multipart upload: [`Reply::Completed`].
    Complete { key: &'a str, upload_id: &'a str, parts: &'a [(u16, String)], checksum: Option<&'a Checksum> },
    /// Aborts a multipart upload: [`Reply::Done`].
    Abort { key: &'a str, upload_id: &'a str },
    /// The parts S3 holds for an upload: [`Reply::Parts`].
    ListParts { key: &'a str, upload_id: &'a str },
    /// A presigned GET URL (HTTP backends only): [`Reply::Url`].
    Download { key: &'a str },
}

/// The answer to a [`Req`], checked.
#[derive(Debug)]
pub enum Reply {
    /// The new multipart upload's id, and the URLs (with headers) of the
    /// parts init signed: none when the backend signs none with init.
    Initiated(String, Vec<(u16, Signed)>),
    /// A presigned URL and the headers its PUT must send.
    Signed(Signed),
    /// Each part asked for, with its URL and headers.
    SignedMany(Vec<(u16, Signed)>),
    /// The stored object's `(etag, location)`, where the backend says.
    Completed(Option<String>, Option<String>),
    /// Done, nothing to say.
    Done,
    /// The parts S3 holds.
    Parts(Vec<ListedPart>),
    /// A presigned GET URL.
    Url(String),
}

/// The calls of the backend protocol: one interface, implemented over HTTP
/// (REST or the Lambda envelope, [`HttpBackend`]) and by the application's
/// own functions ([`Hooks`]). As with tus-js-client's injected HTTP stack,
/// everything above it is the same for every backend. Nothing here waits:
/// a [`Call`] says how it goes out ([`Calls::target`]), the glue's `send`
/// (src/glue.js) carries it, bounded in time and cancellable, and hands
/// back what came ([`Calls::answer`], [`Calls::threw`]), checked here.
pub trait Calls {
    /// Names the backend in the resume journal.
    fn label(&self) -> String;
    /// Whether files may go as one presigned PUT.
    fn can_presign_put(&self) -> bool;
    /// Whether [`Req::SignParts`] may be tried (a backend may still answer
    /// that it does not know it; then parts are signed one by one).
    fn can_batch(&self) -> bool {
        false
    }
    /// How the call `op` with its REST `body` goes out, as the glue's
    /// `send` takes it: `[0, method, url, body, many, withCredentials,
    /// headers]` over HTTP, `[1, hooks, name, path, body]` through a hook;
    /// an error when this backend cannot make the call.
    fn target(&self, op: Op, body: &Json) -> Result<Vec<JsValue>, CallError>;
    /// The reply to `op` from what came back (over HTTP the status, the
    /// body, null when a reply was cut off, and `Retry-After`; from a hook
    /// its answer made into the REST reply's JSON), checked for the shape
    /// `op` expects and the parts `asked`.
    fn answer(
        &self,
        op: Op,
        status: u16,
        text: Option<String>,
        retry_after: Option<String>,
        asked: &Asked,
    ) -> Result<Reply, CallError>;
    /// What a rejection of the call's transport (`fetch`, the hook) means.
    fn threw(&self, op: Op, e: &Thrown) -> CallError;
}

/// What the glue read of a value that a call's transport threw
/// (src/glue.js, `thrown`): the module reads no properties of it itself.
pub struct Thrown {
    /// Its message (or the reason a request could not be made).
    pub message: String,
    /// [`Thrown::TYPE_ERROR`], [`Thrown::BAD_DIGEST`], [`Thrown::INVALID_PART`], [`Thrown::UNSENDABLE`].
    pub facts: u8,
    /// The HTTP status it carries: `status`, `statusCode` or the AWS SDK's
    /// `$metadata.httpStatusCode`, the first that is a number.
    pub status: Option<f64>,
}

impl Thrown {
    /// A `TypeError` (what `fetch` throws when no reply came).
    pub const TYPE_ERROR: u8 = 1;
    /// Its `name`, `code` or `Code` is `BadDigest`.
    pub const BAD_DIGEST: u8 = 2;
    /// Its `name` is `InvalidPart`.
    pub const INVALID_PART: u8 = 4;
    /// The request could not be made (a header `fetch` refuses): the glue's `{ unsendable }`.
    pub const UNSENDABLE: u8 = 8;

    /// Whether it has `fact`.
    pub fn is(&self, fact: u8) -> bool {
        self.facts & fact != 0
    }
}

/// What a call asks to be signed: its parts, and their upload (none known
/// for init, none for a whole object's PUT), which the reply's URLs must be for.
#[derive(Debug, Default)]
pub struct Asked {
    pub parts: Vec<u16>,
    pub upload_id: Option<String>,
}

/// Where the upload's backend calls go: any [`Calls`].
/// (The calls; part-urls may be tried; init may carry parts to sign; the
/// `resumeScope`.)
pub struct Backend(Box<dyn Calls>, core::cell::Cell<bool>, core::cell::Cell<bool>, Option<String>);

impl Backend {
    /// A backend making its calls through `calls`.
    pub fn new(calls: impl Calls + 'static) -> Self {
        let batch = calls.can_batch();
        Self(Box::new(calls), core::cell::Cell::new(batch), core::cell::Cell::new(true), None)
    }

    /// The same backend named `scope` in the resume journal (the
    /// application's `resumeScope`), when given.
    pub fn scoped(self, scope: Option<String>) -> Self {
        Self(self.0, self.1, self.2, scope)
    }

    /// Whether several parts may be signed in one call: the backend offers
    /// it and has not answered that it does not know it.
    pub fn can_batch(&self) -> bool {
        self.1.get()
    }

    /// Whether `e`, the answer to a [`Req::SignParts`], says the backend does
    /// not take the call: a refusal with a 4xx (404, 405, the Lambda
    /// envelope's `UnknownAction`, API Gateway's 403 for a path it does not
    /// have), 501, or a 2xx that is not its reply (a page served for any
    /// path); then batching stops for this backend, and each part's own
    /// call decides.
    pub fn batch_unknown(&self, e: &CallError) -> bool {
        let unknown = match e {
            CallError::Rejected(u) => {
                matches!(u.status, Some(200..=299 | 400..=499 | 501))
                    || crate::find_str(&u.message, "UnknownAction").is_some()
            }
            CallError::Transient(Failure::Status { status: 501, .. }) => true,
            CallError::Transient(_) => false,
        };
        if unknown {
            self.1.set(false);
        }
        unknown
    }

    /// Names the backend in the resume journal: the application's
    /// `resumeScope`, else the endpoint, or "hooks".
    pub fn label(&self) -> String {
        self.3.clone().unwrap_or_else(|| self.0.label())
    }

    /// Whether files may go as one presigned PUT (the hooks may not offer it).
    pub fn can_presign_put(&self) -> bool {
        self.0.can_presign_put()
    }

    /// The call `req`, to be sent by the glue, and what its answer is for
    /// (`tag`). An init carrying parts to sign is sent without them to a
    /// backend that refused them before (see [`Call::answered`]).
    pub fn call(self: &Rc<Self>, req: Req<'_>, tag: Tag) -> Call {
        let mut req = req;
        let mut bare = None;
        if let Req::Init { key, content_type, checksum_algorithm, client_token, parts } = &mut req
            && !parts.is_empty()
        {
            if self.2.get() {
                bare = Some(crate::protocol::init_body(key, content_type, *checksum_algorithm, client_token, &[]));
            } else {
                *parts = &[];
            }
        }
        let (op, body, asked) = http::request_of(req);
        #[cfg(feature = "std")]
        crate::live::count(&crate::live::CALLS, 1);
        Call { backend: self.clone(), op, body, asked, bare, retried: false, result: None, tag }
    }
}

use alloc::rc::Rc;

pub use crate::browser::driver::Tag;

/// One backend call on its way: made by [`Backend::call`], carried by the
/// glue's `send` (src/glue.js), which reports what came back; then its
/// checked reply is taken by whoever asked (the upload's run, or an
/// `Uploader` method).
#[wasm_bindgen::prelude::wasm_bindgen(skip_typescript)]
pub struct Call {
    backend: Rc<Backend>,
    op: Op,
    body: Json,
    asked: Asked,
    /// Init's body without parts to sign, to ask again with when a backend
    /// refuses them (what a strict parser does with a field it does not know).
    bare: Option<Json>,
    retried: bool,
    result: Option<Result<Reply, CallError>>,
    tag: Tag,
}

use crate::json::Json;
use crate::protocol::Op;

#[cfg(feature = "std")]
impl Drop for Call {
    fn drop(&mut self) {
        crate::live::count(&crate::live::CALLS, -1);
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
impl Call {
    /// How the call goes out (see [`Calls::target`]), or nothing when its
    /// result is known already (this backend cannot make it).
    pub fn target(&mut self) -> Option<Vec<JsValue>> {
        if self.result.is_some() {
            return None;
        }
        match self.backend.0.target(self.op, &self.body) {
            Ok(t) => Some(t),
            Err(e) => {
                self.result = Some(Err(e));
                None
            }
        }
    }

    /// What came back. True when the call must go out again: an init
    /// refused with 400 or 422 for the parts it asked to sign is asked again
    /// without them; if that one is answered, this backend's inits carry no
    /// parts from then on (each part is signed by a call of its own).
    pub fn answered(&mut self, status: u16, text: Option<String>, retry_after: Option<String>) -> bool {
        let result = self.backend.0.answer(self.op, status, text, retry_after, &self.asked);
        if let Err(CallError::Rejected(e)) = &result
            && matches!(e.status, Some(400 | 422))
            && let Some(bare) = self.bare.take()
        {
            self.body = bare;
            self.asked.parts.clear();
            self.retried = true;
            return true;
        }
        if self.retried && result.is_ok() {
            self.backend.2.set(false);
        }
        self.result = Some(result);
        false
    }

    /// The call's transport rejected with a value of which the glue read
    /// `message`, `facts` and `status` (see [`Thrown`]).
    pub fn threw(&mut self, message: String, facts: u8, status: Option<f64>) {
        self.result = Some(Err(self.backend.0.threw(self.op, &Thrown { message, facts, status })));
    }

    /// The call took longer than the glue allows: cancelled, retried.
    #[wasm_bindgen(js_name = timedOut)]
    pub fn timed_out(&mut self) {
        self.result = Some(Err(CallError::Transient(Failure::Timeout)));
    }

    /// `options.headers()` threw (`message`: what it threw, as the glue reads it).
    #[wasm_bindgen(js_name = headersThrew)]
    pub fn headers_threw(&mut self, message: String) {
        let message = cat!("options.headers() threw: ", message);
        let error = UploadError::new(ErrorCode::InvalidOptions, message).with_field("headers");
        self.result = Some(Err(CallError::Rejected(error)));
    }

    /// `options.headers()` answered something else than headers (`message`
    /// says what, src/glue.js `headerPairs`).
    #[wasm_bindgen(js_name = badHeaders)]
    pub fn bad_headers(&mut self, message: String) {
        let error = UploadError::new(ErrorCode::InvalidOptions, message).with_field("headers");
        self.result = Some(Err(CallError::Rejected(error)));
    }
}

impl Call {
    /// The checked reply, and what it was asked for (taken once).
    pub fn take(&mut self) -> (Result<Reply, CallError>, Tag) {
        (self.result.take().unwrap_or_else(|| Err(mismatched())), core::mem::replace(&mut self.tag, Tag::Api))
    }
}
