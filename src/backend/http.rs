//! The backend over HTTP, in the REST form (the seed's paths) or the Lambda
//! envelope. Bodies and replies are built and checked by [`crate::protocol`];
//! this module only moves them (the global `fetch`, through `fetchText` in
//! the API's JS snippet).

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::api::fetch_text;

use crate::backend::{
    CallError, Calls, HeaderSource, Pending, Reply, Req, backend_failure, js_message, js_pairs, retry_after_ms,
};
use crate::engine::Failure;
use crate::json::Json;
use crate::protocol::{self, Op};

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

    /// Sends one call; returns the status and body of a 2xx reply. `signal`
    /// cancels it (the [`Backend`](crate::backend::Backend) bounds it in time).
    async fn send(&self, op: Op, body: Json, signal: &AbortSignal) -> Result<(u16, String), CallError> {
        let (method, url) = self.target(op, &body);
        let headers = js_pairs(&self.headers.resolve().await?);
        let has_body = self.protocol == Protocol::Lambda || !matches!(op, Op::Download | Op::ListParts);
        let payload = if has_body {
            headers.push(&js_sys::Array::of2(&"Content-Type".into(), &"application/json".into()));
            let payload = match self.protocol {
                Protocol::Lambda => protocol::lambda_envelope(op, body),
                Protocol::Rest => body,
            };
            JsValue::from_str(&payload.text())
        } else {
            JsValue::UNDEFINED
        };
        // A file's presigned PUT may go with other files' (`fetchText`).
        let sent = fetch_text(method, &url, &headers, payload, self.with_credentials, signal, op == Op::PresignPut);
        let reply = JsFuture::from(sent).await.map_err(|e| match js_sys::Reflect::get(&e, &"unsendable".into()) {
            Ok(why) if !why.is_undefined() => CallError::Rejected(protocol::backend_error(
                op,
                0,
                &format!("cannot send the request: {}", why.as_string().unwrap_or_default()),
            )),
            _ => CallError::Transient(Failure::Network(format!(
                "{} request got no response: {}",
                op.name(),
                js_message(&e)
            ))),
        })?;
        let reply: js_sys::Array = reply.unchecked_into();
        let status = reply.get(0).as_f64().unwrap_or_default() as u16;
        let ok = (200..300).contains(&status);
        let Some(text) = reply.get(1).as_string() else {
            // A reply cut off on its way: the call may have done its work
            // (complete may have stored the object), so it is asked again,
            // as for a reply that never came, not taken as empty.
            let why = format!("{} reply was cut off", op.name());
            return Err(CallError::Transient(Failure::Network(why)));
        };
        if ok {
            return Ok((status, text));
        }
        let retry_after_ms = reply.get(2).as_string().and_then(|v| retry_after_ms(&v));
        let failure = Failure::Status { status, body: text.clone(), retry_after_ms };
        Err(backend_failure(failure, || protocol::backend_error(op, status, &text)))
    }
}

fn encode(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// Encodes each `/`-separated segment of a key, keeping the slashes.
fn encode_key(key: &str) -> String {
    crate::join(key.split('/').map(encode), "/")
}

impl Calls for HttpBackend {
    fn label(&self) -> String {
        self.endpoint.clone()
    }

    fn can_presign_put(&self) -> bool {
        true
    }

    fn can_batch(&self) -> bool {
        true
    }

    /// Builds the call's body ([`protocol`]), sends it and checks the reply.
    fn call<'a>(&'a self, req: Req<'a>, signal: &'a AbortSignal) -> Pending<'a, Reply> {
        let (op, body, asked) = request_of(req);
        Box::pin(async move {
            let (status, text) = self.send(op, body, signal).await?;
            // A 2xx that cannot be read keeps its status: the engine tells it
            // from a refusal (see `Upload::on_call_rejected`).
            reply_of(op, &text, &asked).map_err(|e| CallError::Rejected(e.with_status(status)))
        })
    }
}

/// The call `req` as the protocol has it: its operation, its REST body, and
/// what it asks to be signed (the parts and their upload: [`Asked`]).
pub(super) fn request_of(req: Req<'_>) -> (Op, Json, Asked<'_>) {
    let (op, body) = match req {
        Req::Init { key, content_type, checksum_algorithm, client_token, parts } => {
            (Op::Init, protocol::init_body(key, content_type, checksum_algorithm, client_token, parts))
        }
        Req::SignPart { key, upload_id, part, checksum } => {
            (Op::PartUrl, protocol::part_url_body(key, upload_id, part, checksum))
        }
        Req::SignParts { key, upload_id, parts } => (Op::PartUrls, protocol::part_urls_body(key, upload_id, parts)),
        Req::PresignPut { key, content_type, checksum } => {
            (Op::PresignPut, protocol::key_body(key, content_type, checksum))
        }
        Req::Complete { key, upload_id, parts, checksum } => {
            (Op::Complete, protocol::complete_body(key, upload_id, parts, checksum))
        }
        Req::Abort { key, upload_id } => (Op::Abort, protocol::upload_ref_body(key, upload_id)),
        Req::ListParts { key, upload_id } => (Op::ListParts, protocol::upload_ref_body(key, upload_id)),
        Req::Download { key } => (Op::Download, Json::object([("key", key.into())])),
    };
    let parts: Vec<u16> = match req {
        Req::SignParts { parts, .. } | Req::Init { parts, .. } => parts.iter().map(|(n, _)| *n).collect(),
        Req::SignPart { part, .. } => vec![part],
        _ => Vec::new(),
    };
    let upload_id = match req {
        Req::SignParts { upload_id, .. } | Req::SignPart { upload_id, .. } => Some(upload_id),
        _ => None,
    };
    (op, body, Asked { parts, upload_id })
}

/// What a call asks to be signed: its parts, and their upload (none known
/// for init, none for a whole object's PUT), which the reply's URLs must be for.
pub(super) struct Asked<'a> {
    pub parts: Vec<u16>,
    pub upload_id: Option<&'a str>,
}

/// The reply to `op`, checked ([`protocol`]'s parsers).
pub(super) fn reply_of(op: Op, text: &str, asked: &Asked<'_>) -> Result<Reply, crate::engine::UploadError> {
    let (parts, id) = (asked.parts.as_slice(), asked.upload_id);
    Ok(match op {
        Op::Init => {
            let (upload_id, signed) = protocol::parse_init(text, parts)?;
            Reply::Initiated(upload_id, signed)
        }
        Op::PartUrl | Op::PresignPut => Reply::Signed(protocol::parse_signed(op, text, parts.first().copied(), id)?),
        Op::PartUrls => Reply::SignedMany(protocol::parse_signed_many(op, text, parts, id)?),
        Op::Complete => {
            let (etag, location) = protocol::parse_complete(text)?;
            Reply::Completed(etag, location)
        }
        Op::Abort => Reply::Done,
        Op::ListParts => Reply::Parts(protocol::parse_parts(text)?),
        Op::Download => Reply::Url(protocol::parse_url(op, text)?),
    })
}
