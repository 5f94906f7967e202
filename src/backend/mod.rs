//! The application's backend: over HTTP (REST paths or the Lambda envelope,
//! [`http`]) or through the application's own async JS functions ([`hooks`]).

#[allow(unused_imports)]
use crate::prelude::*;

pub mod hooks;
pub mod http;

use core::future::Future as _;
use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

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

/// A backend call (reply body included) takes at most this long; past it the
/// call is cancelled and counts as a timeout, which is retried.
pub const CALL_TIMEOUT_MS: u32 = 30_000;

/// Runs one backend call with a signal of its own, aborted when `parent`
/// aborts or when the call outlives [`CALL_TIMEOUT_MS`]: every call, over HTTP
/// or through a hook, is cancellable and bounded in time, so a call that never
/// answers cannot stall an upload.
async fn bounded<T, Fut>(parent: &AbortSignal, call: impl FnOnce(AbortSignal) -> Fut) -> Result<T, CallError>
where
    Fut: core::future::Future<Output = Result<T, CallError>>,
{
    let Ok(controller) = web_sys::AbortController::new() else { return call(parent.clone()).await };
    let mut out = None;
    let run = call(controller.signal());
    let finished = race_deadline(parent, &controller, Box::pin(async { out = Some(run.await) })).await;
    match out {
        Some(result) if finished => result,
        _ => Err(CallError::Transient(Failure::Timeout)),
    }
}

/// Runs `call` until it ends (true) or [`CALL_TIMEOUT_MS`] passes (false,
/// and `controller` is aborted); `parent`'s abort aborts `controller`. Not
/// generic, so that its code exists once, whatever the calls return.
async fn race_deadline(
    parent: &AbortSignal,
    controller: &web_sys::AbortController,
    call: core::pin::Pin<Box<dyn core::future::Future<Output = ()> + '_>>,
) -> bool {
    use wasm_bindgen::closure::Closure;
    let child = controller.clone();
    let on_abort = Closure::<dyn FnMut()>::new(move || child.abort());
    if parent.aborted() {
        controller.abort();
    }
    let _ = parent.add_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
    let mut run = call;
    let mut timeout = crate::browser::timer::Timeout::new(CALL_TIMEOUT_MS);
    let finished = core::future::poll_fn(|cx| {
        if run.as_mut().poll(cx).is_ready() {
            return core::task::Poll::Ready(true);
        }
        core::pin::Pin::new(&mut timeout).poll(cx).map(|()| false)
    })
    .await;
    if !finished {
        controller.abort();
    }
    let _ = parent.remove_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
    finished
}

/// A signal for a backend call that nothing else cancels.
pub fn fresh_signal() -> Result<AbortSignal, CallError> {
    web_sys::AbortController::new()
        .map(|c| c.signal())
        .map_err(|_| CallError::Rejected(UploadError::new(ErrorCode::NetworkError, "AbortController is unavailable")))
}

/// Extra headers for backend calls: fixed, or from a (possibly async) function
/// called before every call, so that short-lived tokens stay fresh.
#[derive(Debug, Clone)]
pub enum HeaderSource {
    /// The same headers every time.
    Fixed(Vec<(String, String)>),
    /// `headers()` returns an object (or a promise of one).
    Function(Function),
}

impl HeaderSource {
    /// The headers for the next call.
    pub async fn resolve(&self) -> Result<Vec<(String, String)>, CallError> {
        match self {
            Self::Fixed(h) => Ok(h.clone()),
            Self::Function(f) => {
                let value = call_js(f, &JsValue::UNDEFINED).await.map_err(|e| {
                    CallError::Rejected(
                        UploadError::new(
                            ErrorCode::InvalidOptions,
                            format!("options.headers() threw: {}", js_message(&e)),
                        )
                        .with_field("headers"),
                    )
                })?;
                header_pairs(&value).map_err(CallError::Rejected)
            }
        }
    }
}

/// Reads `{name: "value", ...}` into pairs; the error names `headers`.
pub fn header_pairs(v: &JsValue) -> Result<Vec<(String, String)>, UploadError> {
    let bad = |detail: String| {
        UploadError::invalid_option(
            "headers",
            format!(
                "options.headers must be (or return) an object mapping header names to strings, \
                 like {{ Authorization: \"Bearer ...\" }}; {detail}"
            ),
        )
    };
    if !v.is_object() || js_sys::Array::is_array(v) || v.is_function() {
        return Err(bad("got something else".into()));
    }
    let mut out = Vec::new();
    for entry in Object::entries(v.unchecked_ref::<Object>()).iter() {
        let pair: js_sys::Array = entry.unchecked_into();
        let name = pair.get(0).as_string().unwrap_or_default();
        let Some(value) = pair.get(1).as_string() else {
            return Err(bad(format!("the value of {} is not a string", crate::json::quoted(&name))));
        };
        out.push((name, value));
    }
    Ok(out)
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

/// Calls a JS function with one argument and awaits its result if it is a promise.
pub async fn call_js(f: &Function, arg: &JsValue) -> Result<JsValue, JsValue> {
    let result = f.call1(&JsValue::NULL, arg)?;
    if result.has_type::<Promise>() || Reflect::get(&result, &"then".into()).is_ok_and(|t| t.is_function()) {
        JsFuture::from(Promise::resolve(&result)).await
    } else {
        Ok(result)
    }
}

/// The delay a `Retry-After` header asks for, in ms (an HTTP date read by
/// the browser's `Date.parse`).
pub fn retry_after_ms(value: &str) -> Option<u64> {
    let date = |d: &str| Some(js_sys::Date::parse(d)).filter(|t| t.is_finite() && *t >= 0.0).map(|t| t as u64);
    crate::engine::retry::parse_retry_after(value, js_sys::Date::now() as u64, date)
}

/// The message of a thrown JS value.
pub fn js_message(e: &JsValue) -> String {
    Reflect::get(e, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .or_else(|| js_sys::JSON::stringify(e).ok()?.as_string())
        .unwrap_or_else(|| "an error with no message".into())
}

/// A reply of another kind than its call asked for: a bug of a [`Calls`]
/// implementation, never the network's doing (each checks its reply's shape).
pub fn mismatched() -> CallError {
    CallError::Rejected(UploadError::new(ErrorCode::BackendError, "a backend call got a reply of another kind"))
}

/// A backend call on its way.
pub type Pending<'a, T> = core::pin::Pin<Box<dyn core::future::Future<Output = Result<T, CallError>> + 'a>>;

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

/// The calls of the backend protocol, each cancelled by its `signal`: one
/// interface, implemented over HTTP (REST or the Lambda envelope,
/// [`HttpBackend`]) and by the application's own functions ([`Hooks`]). As with
/// tus-js-client's injected HTTP stack, everything above it is the same for
/// every backend; [`Backend`] bounds every call in time. One method for every
/// call, so that each implementation has one asynchronous path (each one
/// costs the module its own state machine).
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
    /// Makes the call `req`; its reply, checked for the shape `req` expects.
    fn call<'a>(&'a self, req: Req<'a>, signal: &'a AbortSignal) -> Pending<'a, Reply>;
}

/// Where the upload's backend calls go: any [`Calls`], every call bounded
/// in time and cancellable.
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

    /// Makes the call `req`, bounded in time and cancelled by `signal`. An
    /// init carrying parts to sign that a backend refuses with 400 or 422
    /// (what a strict parser answers for a field it does not know) is asked
    /// again without them; if that one is answered, this backend's inits
    /// carry no parts from then on (each part is signed by a call of its own).
    pub async fn call(&self, req: Req<'_>, signal: &AbortSignal) -> Result<Reply, CallError> {
        let mut req = req;
        let mut retried = false;
        loop {
            if let Req::Init { parts, .. } = &mut req
                && (retried || !self.2.get())
            {
                *parts = &[];
            }
            let result = bounded(signal, |s| async move { self.0.call(req, &s).await }).await;
            match (&req, &result) {
                (Req::Init { parts, .. }, Err(CallError::Rejected(e)))
                    if !parts.is_empty() && matches!(e.status, Some(400 | 422)) =>
                {
                    retried = true;
                }
                (Req::Init { .. }, Ok(_)) if retried => {
                    self.2.set(false);
                    return result;
                }
                _ => return result,
            }
        }
    }

    /// The parts S3 holds for an upload.
    pub async fn list_parts(
        &self,
        key: &str,
        upload_id: &str,
        signal: &AbortSignal,
    ) -> Result<Vec<ListedPart>, CallError> {
        match self.call(Req::ListParts { key, upload_id }, signal).await? {
            Reply::Parts(parts) => Ok(parts),
            _ => Err(mismatched()),
        }
    }

    /// Aborts a multipart upload.
    pub async fn abort(&self, key: &str, upload_id: &str, signal: &AbortSignal) -> Result<(), CallError> {
        self.call(Req::Abort { key, upload_id }, signal).await.map(drop)
    }
}
