//! A backend made of the application's own async functions, for backends that
//! look nothing like the seed's protocol:
//!
//! ```js
//! new Uploader({ hooks: {
//!   createMultipartUpload: async ({ key, contentType, checksumAlgorithm, clientToken, signal }) => ({ uploadId }),
//!   signPart: async ({ key, uploadId, partNumber, checksum, signal }) => ({ url, headers }), // or the URL string
//!   completeMultipartUpload: async ({ key, uploadId, parts, checksum, signal }) => ({ etag, location }),
//!   abortMultipartUpload: async ({ key, uploadId, signal }) => {},
//!   listParts: async ({ key, uploadId, signal }) => [{ PartNumber, ETag, Size, ChecksumCRC32? }],
//!   signPut: async ({ key, contentType, checksum, signal }) => ({ url, headers }), // optional
//!   // optional: several parts in one call, [{ partNumber, url, headers }] for exactly the parts given
//!   signParts: async ({ key, uploadId, parts: [{ partNumber, checksum }], signal }) => [...],
//!   // optional, with signPut: several small files in one call, for each file
//!   // given and in their order { url, headers } (or the URL string), or an Error
//!   signPuts: async ({ files: [{ key, contentType, checksum }], signal }) => [...],
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

use wasm_bindgen::JsValue;

use crate::json::Json;

use super::{Asked, CallError, Calls, Reply, Thrown, backend_failure};
use crate::engine::{ErrorCode, Failure, UploadError};
use crate::protocol::{self, Op};

/// The application's functions: the hooks object (checked and bound in
/// src/glue.js, `hooksOf`), and which optional hooks it has.
#[derive(Debug, Clone)]
pub struct Hooks {
    hooks: JsValue,
    list_parts: bool,
    sign_put: bool,
    sign_parts: bool,
}

impl Hooks {
    /// The hooks `hooks`, with the optional ones `flags` names (1 listParts, 2 signPut, 4 signParts).
    pub fn new(hooks: JsValue, flags: u32) -> Self {
        Self { hooks, list_parts: flags & 1 != 0, sign_put: flags & 2 != 0, sign_parts: flags & 4 != 0 }
    }
}

fn malformed(hook: &str, problem: &str, expected: &str) -> CallError {
    CallError::Rejected(
        UploadError::new(ErrorCode::BackendError, cat!("the ", hook, " hook ", problem, "; it must return ", expected))
            .with_field(hook),
    )
}

/// A thrown value: retried when it looks like a network failure or a
/// transient HTTP status, else the end of the upload.
fn classify(hook: &str, e: &Thrown) -> CallError {
    let message = e.message.clone();
    // The store refused the checksum (an AWS SDK error named BadDigest, or a
    // backend's error naming it): not retried, and not a backend fault.
    if e.is(Thrown::BAD_DIGEST) || crate::find_str(&message, "BadDigest").is_some() {
        return CallError::Rejected(
            protocol::integrity_error(&cat!("the ", hook, " hook threw: ", message)).with_field(hook),
        );
    }
    // S3's InvalidPart (an AWS SDK error's name) stays in the message: the
    // engine repairs a complete refused so (see `Upload::on_listed`).
    let message = if e.is(Thrown::INVALID_PART) && crate::find_str(&message, "InvalidPart").is_none() {
        cat!("InvalidPart: ", message)
    } else {
        message
    };
    // `status` or `statusCode`, or the AWS SDK's `$metadata.httpStatusCode`.
    let status = e.status.map(|s| s as u16);
    let failure = match status {
        Some(status) => Failure::Status { status, body: message.clone(), retry_after_ms: None },
        None if e.is(Thrown::TYPE_ERROR) => Failure::Network(message.clone()),
        None => Failure::Status { status: 0, body: message.clone(), retry_after_ms: None },
    };
    backend_failure(failure, || {
        let mut err =
            UploadError::new(ErrorCode::BackendError, cat!("the ", hook, " hook threw: ", message)).with_field(hook);
        err.status = status.filter(|s| *s > 0);
        err.cause = Some(message);
        err
    })
}

impl Hooks {
    /// The hook that makes `op`, what it must return, and whether the
    /// application gave it.
    fn hook_of(&self, op: Op) -> (&'static str, &'static str, bool) {
        match op {
            Op::Init => ("createMultipartUpload", "{ uploadId: \"...\" }", true),
            Op::PartUrl => ("signPart", SIGNED, true),
            Op::PresignPut => ("signPut", SIGNED, self.sign_put),
            Op::PartUrls => {
                ("signParts", "[{ partNumber, url, headers }] for exactly the parts given", self.sign_parts)
            }
            Op::Complete => ("completeMultipartUpload", "{ etag, location } (both optional)", true),
            Op::Abort => ("abortMultipartUpload", "nothing", true),
            Op::ListParts | Op::Download => ("listParts", "[{ PartNumber, ETag, Size }]", self.list_parts),
        }
    }
}

impl Calls for Hooks {
    fn label(&self) -> String {
        "hooks".to_owned()
    }

    fn can_presign_put(&self) -> bool {
        self.sign_put
    }

    fn can_batch(&self) -> bool {
        self.sign_parts
    }

    /// The hook for `op`, called by the glue's `callHook` (the protocol's
    /// REST body in, the REST reply out).
    fn target(&self, op: Op, body: &Json) -> Result<Vec<JsValue>, CallError> {
        if op == Op::Download {
            return Err(CallError::Rejected(UploadError::invalid_option(
                "protocol",
                "downloadUrl() needs an HTTP backend (options.endpoint); with hooks, ask your backend for the URL directly",
            )));
        }
        let (hook, expected, present) = self.hook_of(op);
        if !present {
            let expected = if op == Op::PresignPut { "{ url } to send small files as one PUT" } else { expected };
            return Err(malformed(hook, "is missing", expected));
        }
        Ok(vec![JsValue::TRUE, self.hooks.clone(), hook.into(), op.rest().1.into(), body.text().into()])
    }

    /// The hook's answer, made into the REST reply's JSON by the glue,
    /// checked with the HTTP backend's parsers; a reply of the wrong shape
    /// names the hook.
    fn answer(
        &self,
        op: Op,
        _: u16,
        text: Option<String>,
        _: Option<String>,
        asked: &Asked,
    ) -> Result<Reply, CallError> {
        let (hook, expected, _) = self.hook_of(op);
        super::http::reply_of(op, text.as_deref().unwrap_or_default(), asked).map_err(|e| {
            // In the hook's words, where the REST reply it was made into
            // would name what the hook did not write: the one field the
            // hooks spell otherwise, and the lists they return bare.
            let problem = match (e.field.as_deref(), e.cause.as_deref().unwrap_or(&e.message)) {
                (Some("upload_id"), _) => "has no `uploadId` that is a non-empty string",
                (_, protocol::NO_URLS) => "is not an array of the parts asked for",
                (_, protocol::NO_PARTS) => "is not an array",
                (_, other) => other,
            };
            malformed(hook, &cat!("returned the wrong shape: its answer ", problem), expected)
        })
    }

    fn threw(&self, op: Op, e: &Thrown) -> CallError {
        classify(self.hook_of(op).0, e)
    }
}

/// What a signing hook must return.
const SIGNED: &str = "{ url: \"https://...\", headers } or the URL string";
