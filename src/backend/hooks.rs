//! A backend made of the application's own async functions, for backends that
//! look nothing like the seed's protocol:
//!
//! ```js
//! new Uploader({ hooks: {
//!   createMultipartUpload: async ({ key, contentType, checksumAlgorithm, clientToken, signal }) => ({ uploadId }),
//!   signPart: async ({ key, uploadId, partNumber, checksum, signal }) => ({ url, headers }), // or the URL string
//!   completeMultipartUpload: async ({ key, uploadId, parts, checksum, signal }) => ({ etag, location }),
//!   abortMultipartUpload: async ({ key, uploadId, signal }) => {},
//!   listParts: async ({ key, uploadId, signal }) => [{ PartNumber, ETag, Size }],
//!   signPut: async ({ key, contentType, checksum, signal }) => ({ url, headers }), // optional
//!   // optional: several parts in one call, [{ partNumber, url, headers }] for exactly the parts given
//!   signParts: async ({ key, uploadId, parts: [{ partNumber, checksum }], signal }) => [...],
//! ```
//!
//! `checksum`, when the upload has checksums on, is `{ algorithm: "CRC32",
//! value }` (base64): sign it into the URL as `x-amz-checksum-crc32` and
//! return it in `headers`, so that the PUT sends it and the store verifies
//! it; at complete it is the whole object's, for `x-amz-checksum-crc32` with
//! `x-amz-checksum-type: FULL_OBJECT`. A hook may ignore it (nothing is
//! then verified). `clientToken` is the same for every call of
//! `createMultipartUpload` for one upload (it is called again when an
//! answer was lost): a backend that keeps it answers with the upload it
//! created instead of creating another.
//!
//! ```js
//! } });
//! ```
//!
//! A hook that throws a `TypeError` (what `fetch` throws on a network failure)
//! or an error with a `status` of 408, 429 or 5xx is retried; any other throw,
//! or a reply of the wrong shape, fails the upload with a `BackendError` that
//! names the hook and what it must return.

#[allow(unused_imports)]
use crate::prelude::*;

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AbortSignal;

use crate::json::quoted;

use super::{CallError, Calls, Pending, Reply, Req, backend_failure, call_js, js_message, js_object as args};
use crate::engine::{ErrorCode, Failure, UploadError};
use crate::protocol::{self, Checksum, Signed};

/// The hook names, as the options object spells them.
pub const HOOK_NAMES: &[&str] = &[
    "createMultipartUpload",
    "signPart",
    "completeMultipartUpload",
    "abortMultipartUpload",
    "listParts",
    "signPut",
    "signParts",
];
const REQUIRED: &[&str] = &["createMultipartUpload", "signPart", "completeMultipartUpload", "abortMultipartUpload"];

/// The application's functions.
#[derive(Debug, Clone)]
pub struct Hooks {
    create: Function,
    sign_part: Function,
    complete: Function,
    abort: Function,
    list_parts: Option<Function>,
    sign_put: Option<Function>,
    sign_parts: Option<Function>,
}

fn malformed(hook: &str, problem: &str, expected: &str) -> CallError {
    CallError::Rejected(
        UploadError::new(ErrorCode::BackendError, format!("the {hook} hook {problem}; it must return {expected}"))
            .with_field(hook),
    )
}

/// Reads `field` of an object as a non-empty string.
fn string_of(v: &JsValue, field: &str) -> Option<String> {
    Reflect::get(v, &JsValue::from_str(field)).ok()?.as_string().filter(|s| !s.trim().is_empty())
}

impl Hooks {
    /// Reads the hooks object; the error names a missing or non-function hook.
    pub fn from_js(v: &JsValue) -> Result<Self, UploadError> {
        let get = |name: &str| -> Result<Option<Function>, UploadError> {
            match Reflect::get(v, &JsValue::from_str(name)) {
                Ok(f) if f.is_undefined() || f.is_null() => Ok(None),
                Ok(f) => f.dyn_into::<Function>().map(Some).map_err(|_| {
                    UploadError::invalid_option("hooks", format!("options.hooks.{name} must be an async function"))
                }),
                Err(_) => Ok(None),
            }
        };
        if !v.is_object() {
            return Err(UploadError::invalid_option("hooks", "options.hooks must be an object of async functions"));
        }
        for name in Object::keys(v.unchecked_ref::<Object>()).iter().filter_map(|k| k.as_string()) {
            if !HOOK_NAMES.contains(&name.as_str()) {
                return Err(UploadError::invalid_option(
                    "hooks",
                    format!(
                        "options.hooks has an unknown hook {}; the hooks are {}",
                        quoted(&name),
                        crate::join(HOOK_NAMES, ", ")
                    ),
                ));
            }
        }
        let missing: Vec<&str> = REQUIRED.iter().copied().filter(|n| !matches!(get(n), Ok(Some(_)))).collect();
        if let Some(first) = missing.first() {
            get(first)?;
            return Err(UploadError::invalid_option(
                "hooks",
                format!(
                    "options.hooks lacks {}: give every one of {}",
                    crate::join(&missing, ", "),
                    crate::join(REQUIRED, ", ")
                ),
            ));
        }
        let req = |n: &str| get(n).ok().flatten().ok_or_else(|| UploadError::invalid_option("hooks", n.to_owned()));
        Ok(Self {
            create: req("createMultipartUpload")?,
            sign_part: req("signPart")?,
            complete: req("completeMultipartUpload")?,
            abort: req("abortMultipartUpload")?,
            list_parts: get("listParts")?,
            sign_put: get("signPut")?,
            sign_parts: get("signParts")?,
        })
    }
}

/// `{ algorithm, value }`, or `undefined` without a checksum.
fn checksum_arg(checksum: Option<&Checksum>) -> JsValue {
    checksum
        .map_or(JsValue::UNDEFINED, |c| args(&[("algorithm", c.algorithm.into()), ("value", c.value.as_str().into())]))
}

/// The URL (the value itself, or its `url`) and the optional `headers` of a signing hook's reply.
fn signed_of(hook: &str, v: &JsValue) -> Result<Signed, CallError> {
    let url = url_of(hook, v)?;
    let headers = if v.is_object() { Reflect::get(v, &JsValue::from_str("headers")).ok() } else { None };
    let headers = match headers.filter(|h| !h.is_undefined() && !h.is_null()) {
        None => Vec::new(),
        Some(h) => {
            protocol::parse_headers(protocol::Op::PartUrl, Some(&crate::json::from_js(&h))).map_err(|mut e| {
                e.message = format!("the {hook} hook returned unusable headers ({})", e.message);
                CallError::Rejected(e.with_field(hook))
            })?
        }
    };
    Ok(Signed { url, headers })
}

/// What `signParts` returned: `[{ partNumber, url, headers }]`, exactly the
/// parts asked for, each checked as `signPart`'s reply is.
fn signed_many(v: &JsValue, asked: &[(u16, Option<Checksum>)]) -> Result<Vec<(u16, Signed)>, CallError> {
    const EXPECTED: &str = "[{ partNumber, url, headers }] for exactly the parts given";
    if !Array::is_array(v) {
        return Err(malformed("signParts", "returned no array", EXPECTED));
    }
    let mut out: Vec<(u16, Signed)> = Vec::new();
    for item in Array::from(v).iter() {
        let n = Reflect::get(&item, &JsValue::from_str("partNumber")).ok().and_then(|n| n.as_f64());
        let n = n.filter(|n| (1.0..=10_000.0).contains(n) && f64::from(*n as u16) == *n).map(|n| n as u16);
        let Some(n) = n.filter(|n| asked.iter().any(|(a, _)| a == n) && !out.iter().any(|(m, _)| m == n)) else {
            return Err(malformed("signParts", "returned a part that was not asked for, or one twice", EXPECTED));
        };
        out.push((n, signed_of("signParts", &item)?));
    }
    if out.len() != asked.len() {
        return Err(malformed("signParts", "returned fewer parts than were given", EXPECTED));
    }
    Ok(out)
}

fn url_of(hook: &str, v: &JsValue) -> Result<String, CallError> {
    let url = v.as_string().or_else(|| string_of(v, "url"));
    match url {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => Ok(u),
        _ => Err(malformed(hook, "returned no http(s) URL", "{ url: \"https://...\" } or the URL string")),
    }
}

/// A thrown value: retried when it looks like a network failure or a
/// transient HTTP status, else the end of the upload.
fn classify(hook: &str, e: &JsValue) -> CallError {
    let message = js_message(e);
    // The store refused the checksum (an AWS SDK error named BadDigest, or a
    // backend's error naming it): not retried, and not a backend fault.
    let named = |k: &str| Reflect::get(e, &JsValue::from_str(k)).ok().and_then(|v| v.as_string());
    if ["name", "code", "Code"].iter().any(|k| named(k).as_deref() == Some("BadDigest"))
        || crate::find_str(&message, "BadDigest").is_some()
    {
        return CallError::Rejected(
            protocol::integrity_error(&format!("the {hook} hook threw: {message}")).with_field(hook),
        );
    }
    // S3's InvalidPart (an AWS SDK error's name) stays in the message: the
    // engine repairs a complete refused so (see `Upload::on_listed`).
    let message =
        if named("name").as_deref() == Some("InvalidPart") && crate::find_str(&message, "InvalidPart").is_none() {
            format!("InvalidPart: {message}")
        } else {
            message
        };
    // `status` or `statusCode`, or the AWS SDK's `$metadata.httpStatusCode`.
    let number = |o: &JsValue, k: &str| Reflect::get(o, &JsValue::from_str(k)).ok()?.as_f64();
    let status = ["status", "statusCode"]
        .iter()
        .find_map(|k| number(e, k))
        .or_else(|| number(&Reflect::get(e, &JsValue::from_str("$metadata")).ok()?, "httpStatusCode"))
        .map(|s| s as u16);
    let failure = match status {
        Some(status) => Failure::Status { status, body: message.clone(), retry_after_ms: None },
        None if e.is_instance_of::<js_sys::TypeError>() => Failure::Network(message.clone()),
        None => Failure::Status { status: 0, body: message.clone(), retry_after_ms: None },
    };
    backend_failure(failure, || {
        let mut err =
            UploadError::new(ErrorCode::BackendError, format!("the {hook} hook threw: {message}")).with_field(hook);
        err.status = status.filter(|s| *s > 0);
        err.cause = Some(message);
        err
    })
}

impl Calls for Hooks {
    fn label(&self) -> String {
        "hooks".to_owned()
    }

    fn can_presign_put(&self) -> bool {
        self.sign_put.is_some()
    }

    fn can_batch(&self) -> bool {
        self.sign_parts.is_some()
    }

    /// Calls the hook for `req` with its argument object, and checks what it returns.
    fn call<'a>(&'a self, req: Req<'a>, signal: &'a AbortSignal) -> Pending<'a, Reply> {
        let ready = |r: Result<Reply, CallError>| -> Pending<'a, Reply> { Box::pin(core::future::ready(r)) };
        let s: JsValue = signal.into();
        let (hook, f, arg): (&'static str, Option<&Function>, JsValue) = match req {
            Req::Init { key, content_type, checksum_algorithm, client_token } => (
                "createMultipartUpload",
                Some(&self.create),
                args(&[
                    ("key", key.into()),
                    ("contentType", content_type.into()),
                    ("checksumAlgorithm", checksum_algorithm.map_or(JsValue::UNDEFINED, JsValue::from_str)),
                    ("clientToken", client_token.into()),
                    ("signal", s),
                ]),
            ),
            Req::SignPart { key, upload_id, part, checksum } => (
                "signPart",
                Some(&self.sign_part),
                args(&[
                    ("key", key.into()),
                    ("uploadId", upload_id.into()),
                    ("partNumber", part.into()),
                    ("checksum", checksum_arg(checksum)),
                    ("signal", s),
                ]),
            ),
            Req::PresignPut { key, content_type, checksum } => (
                "signPut",
                self.sign_put.as_ref(),
                args(&[
                    ("key", key.into()),
                    ("contentType", content_type.into()),
                    ("checksum", checksum_arg(checksum)),
                    ("signal", s),
                ]),
            ),
            Req::Complete { key, upload_id, parts, checksum } => {
                let list = Array::new();
                for (n, etag) in parts {
                    list.push(&args(&[("PartNumber", (*n).into()), ("ETag", etag.as_str().into())]));
                }
                (
                    "completeMultipartUpload",
                    Some(&self.complete),
                    args(&[
                        ("key", key.into()),
                        ("uploadId", upload_id.into()),
                        ("parts", list.into()),
                        ("checksum", checksum_arg(checksum)),
                        ("signal", s),
                    ]),
                )
            }
            Req::Abort { key, upload_id } => (
                "abortMultipartUpload",
                Some(&self.abort),
                args(&[("key", key.into()), ("uploadId", upload_id.into()), ("signal", s)]),
            ),
            Req::ListParts { key, upload_id } => (
                "listParts",
                self.list_parts.as_ref(),
                args(&[("key", key.into()), ("uploadId", upload_id.into()), ("signal", s)]),
            ),
            Req::SignParts { key, upload_id, parts } => {
                let list = Array::new();
                for (n, checksum) in parts {
                    list.push(&args(&[("partNumber", (*n).into()), ("checksum", checksum_arg(checksum.as_ref()))]));
                }
                (
                    "signParts",
                    self.sign_parts.as_ref(),
                    args(&[("key", key.into()), ("uploadId", upload_id.into()), ("parts", list.into()), ("signal", s)]),
                )
            }
            Req::Download { .. } => {
                return ready(Err(CallError::Rejected(UploadError::invalid_option(
                    "protocol",
                    "downloadUrl() needs an HTTP backend (options.endpoint); with hooks, ask your backend for the URL directly",
                ))));
            }
        };
        let Some(f) = f else {
            let expected = if hook == "signPut" { "{ url } to send small files as one PUT" } else { LISTED };
            return ready(Err(malformed(hook, "is missing", expected)));
        };
        let f = f.clone();
        Box::pin(async move {
            let v = call_js(&f, &arg).await.map_err(|e| classify(hook, &e))?;
            reply_of(&req, hook, &v)
        })
    }
}

/// What `listParts` must return.
const LISTED: &str = "[{ PartNumber, ETag, Size }]";

/// What hook `hook` returned for `req`, checked.
fn reply_of(req: &Req<'_>, hook: &str, v: &JsValue) -> Result<Reply, CallError> {
    Ok(match req {
        Req::Init { .. } => Reply::UploadId(
            string_of(v, "uploadId")
                .ok_or_else(|| malformed(hook, "returned no uploadId string", "{ uploadId: \"...\" }"))?,
        ),
        Req::SignPart { .. } | Req::PresignPut { .. } => Reply::Signed(signed_of(hook, v)?),
        Req::Complete { .. } if v.is_object() => Reply::Completed(string_of(v, "etag"), string_of(v, "location")),
        Req::Complete { .. } => Reply::Completed(None, None),
        Req::ListParts { .. } => {
            // The same shape as the REST reply's `parts`, checked by the same parser.
            let json = js_sys::JSON::stringify(v).ok().and_then(|s| s.as_string()).unwrap_or_default();
            let parts = protocol::parse_parts(&format!("{{\"parts\": {json}}}")).map_err(|mut e| {
                e.message =
                    format!("the listParts hook returned the wrong shape; it must return {LISTED} ({})", e.message);
                CallError::Rejected(e.with_field("listParts"))
            })?;
            Reply::Parts(parts)
        }
        Req::SignParts { parts, .. } => Reply::SignedMany(signed_many(v, parts)?),
        Req::Abort { .. } | Req::Download { .. } => Reply::Done,
    })
}
