//! The backend over HTTP, in the REST form (the seed's paths) or the Lambda
//! envelope. Bodies and replies are built and checked by [`crate::protocol`];
//! this module only moves them (the global `fetch`).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers, Request, RequestCredentials, RequestInit, Response};

use crate::backend::{CallError, Calls, HeaderSource, Pending, backend_failure, js_message, retry_after_ms};
use crate::engine::Failure;
use crate::json::{Json, quoted};
use crate::protocol::{self, Checksum, ListedPart, Op, Signed};

/// Which form of the protocol the backend speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `POST {endpoint}/uploads/multipart/init`, ...
    Rest,
    /// `POST {endpoint}` with `{processor_name, action, payload}`.
    Lambda,
}

/// A backend at one endpoint.
#[derive(Debug, Clone)]
pub struct HttpBackend {
    endpoint: String,
    protocol: Protocol,
    with_credentials: bool,
    headers: HeaderSource,
}

impl HttpBackend {
    /// A backend at `endpoint` (a trailing `/` is ignored).
    pub fn new(endpoint: &str, protocol: Protocol, with_credentials: bool, headers: HeaderSource) -> Self {
        Self { endpoint: endpoint.trim_end_matches('/').to_owned(), protocol, with_credentials, headers }
    }

    /// The method and URL of a call.
    fn target(&self, op: Op, body: &Json) -> (&'static str, String) {
        match self.protocol {
            Protocol::Lambda => ("POST", self.endpoint.clone()),
            Protocol::Rest => {
                let (method, path) = op.rest();
                let mut url = format!("{}{path}", self.endpoint);
                let field = |f: &str| body.get(f).and_then(Json::as_str).unwrap_or_default().to_owned();
                match op {
                    Op::Download => url.push_str(&encode_key(&field("key"))),
                    Op::ListParts => {
                        url.push_str(&format!(
                            "?key={}&upload_id={}",
                            encode(&field("key")),
                            encode(&field("upload_id"))
                        ));
                    }
                    _ => {}
                }
                (method, url)
            }
        }
    }

    /// Sends one call; returns the body of a 2xx reply. `signal` cancels it
    /// (the [`Backend`](crate::backend::Backend) bounds it in time).
    async fn call(&self, op: Op, body: Json, signal: &AbortSignal) -> Result<String, CallError> {
        let unbuildable = |what: String| CallError::Rejected(protocol::backend_error(op, 0, &what));
        let (method, url) = self.target(op, &body);
        let init = RequestInit::new();
        init.set_method(method);
        init.set_credentials(if self.with_credentials { RequestCredentials::Include } else { RequestCredentials::SameOrigin });
        init.set_signal(Some(signal));
        let headers = Headers::new().map_err(|e| unbuildable(format!("cannot make headers: {}", js_message(&e))))?;
        for (k, v) in self.headers.resolve().await? {
            headers
                .set(&k, &v)
                .map_err(|e| unbuildable(format!("cannot send the header {}: {}", quoted(&k), js_message(&e))))?;
        }
        let has_body = self.protocol == Protocol::Lambda || !matches!(op, Op::Download | Op::ListParts);
        if has_body {
            let payload = match self.protocol {
                Protocol::Lambda => protocol::lambda_envelope(op, body),
                Protocol::Rest => body,
            };
            let _ = headers.set("Content-Type", "application/json");
            init.set_body(&JsValue::from_str(&payload.text()));
        }
        init.set_headers(&headers);
        let req = Request::new_with_str_and_init(&url, &init)
            .map_err(|e| unbuildable(format!("cannot build the request: {}", js_message(&e))))?;
        let resp = JsFuture::from(global_fetch(&req)).await.map_err(|e| {
            CallError::Transient(Failure::Network(format!("{} request got no response: {}", op.name(), js_message(&e))))
        })?;
        let resp: Response = resp.unchecked_into();
        let status = resp.status();
        let text = match resp.text() {
            Ok(p) => JsFuture::from(p).await.ok().and_then(|t| t.as_string()).unwrap_or_default(),
            Err(_) => String::new(),
        };
        if (200..300).contains(&status) {
            return Ok(text);
        }
        let retry_after_ms = resp.headers().get("retry-after").ok().flatten().and_then(|v| retry_after_ms(&v));
        let failure = Failure::Status { status, body: text.clone(), retry_after_ms };
        Err(backend_failure(failure, || protocol::backend_error(op, status, &text)))
    }
}

#[wasm_bindgen]
extern "C" {
    /// The global `fetch`: the window's, or the worker's.
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(request: &Request) -> js_sys::Promise;
}

fn encode(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// Encodes each `/`-separated segment of a key, keeping the slashes.
fn encode_key(key: &str) -> String {
    key.split('/').map(encode).collect::<Vec<_>>().join("/")
}

impl Calls for HttpBackend {
    fn label(&self) -> String {
        self.endpoint.clone()
    }

    fn can_presign_put(&self) -> bool {
        true
    }

    /// Starts a multipart upload (with a checksum algorithm, if any); returns its id.
    fn init<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        checksum_algorithm: Option<&'a str>,
        signal: &'a AbortSignal,
    ) -> Pending<'a, String> {
        Box::pin(async move {
            let body = protocol::init_body(key, content_type, checksum_algorithm);
            let text = self.call(Op::Init, body, signal).await?;
            protocol::parse_init(&text).map_err(CallError::Rejected)
        })
    }

    /// A presigned URL for one part (its checksum signed in, if given).
    fn sign_part<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        part: u16,
        checksum: Option<&'a Checksum>,
        signal: &'a AbortSignal,
    ) -> Pending<'a, Signed> {
        Box::pin(async move {
            let text = self.call(Op::PartUrl, protocol::part_url_body(key, upload_id, part, checksum), signal).await?;
            protocol::parse_signed(Op::PartUrl, &text).map_err(CallError::Rejected)
        })
    }

    /// A presigned URL for a whole-object PUT (its checksum signed in, if given).
    fn presign_put<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        checksum: Option<&'a Checksum>,
        signal: &'a AbortSignal,
    ) -> Pending<'a, Signed> {
        Box::pin(async move {
            let text = self.call(Op::PresignPut, protocol::key_body(key, content_type, checksum), signal).await?;
            protocol::parse_signed(Op::PresignPut, &text).map_err(CallError::Rejected)
        })
    }

    /// Completes a multipart upload (the store verifying the whole object's
    /// checksum, if given); returns `(etag, location)`.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        parts: &'a [(u16, String)],
        checksum: Option<&'a Checksum>,
        signal: &'a AbortSignal,
    ) -> Pending<'a, (Option<String>, Option<String>)> {
        Box::pin(async move {
            let text =
                self.call(Op::Complete, protocol::complete_body(key, upload_id, parts, checksum), signal).await?;
            protocol::parse_complete(&text).map_err(CallError::Rejected)
        })
    }

    /// Aborts a multipart upload.
    fn abort<'a>(&'a self, key: &'a str, upload_id: &'a str, signal: &'a AbortSignal) -> Pending<'a, ()> {
        Box::pin(async move { self.call(Op::Abort, protocol::upload_ref_body(key, upload_id), signal).await.map(drop) })
    }

    /// The parts S3 holds for an upload.
    fn list_parts<'a>(
        &'a self,
        key: &'a str,
        upload_id: &'a str,
        signal: &'a AbortSignal,
    ) -> Pending<'a, Vec<ListedPart>> {
        Box::pin(async move {
            let text = self.call(Op::ListParts, protocol::upload_ref_body(key, upload_id), signal).await?;
            protocol::parse_parts(&text).map_err(CallError::Rejected)
        })
    }

    /// A presigned GET URL for `key`.
    fn download_url<'a>(&'a self, key: &'a str, signal: &'a AbortSignal) -> Pending<'a, String> {
        Box::pin(async move {
            let text = self.call(Op::Download, Json::object([("key", key.into())]), signal).await?;
            protocol::parse_url(Op::Download, &text).map_err(CallError::Rejected)
        })
    }
}
