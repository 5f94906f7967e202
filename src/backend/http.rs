//! The backend over HTTP, in the REST form (the seed's paths) or the Lambda
//! envelope. Bodies and replies are built and checked by [`crate::protocol`];
//! this module only moves them (the global `fetch`, through `fetchText` in
//! the API's JS snippet).

#[allow(unused_imports)]
use crate::prelude::*;

use wasm_bindgen::prelude::*;

use crate::backend::{Asked, CallError, Calls, Reply, Req, Thrown, backend_failure, retry_after_ms};
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
    /// The application's headers: `[[name, value], ...]`, or the function
    /// that answers them before each call (checked in src/glue.js).
    headers: JsValue,
}

impl HttpBackend {
    /// A backend at `endpoint` (a trailing `/` is ignored).
    pub fn new(endpoint: &str, protocol: Protocol, with_credentials: bool, headers: JsValue) -> Self {
        Self { endpoint: crate::trim_end(endpoint, b'/').to_owned(), protocol, with_credentials, headers }
    }

    /// The method and URL of a call.
    fn target_of(&self, op: Op, body: &Json) -> (&'static str, String) {
        match self.protocol {
            Protocol::Lambda => ("POST", self.endpoint.clone()),
            Protocol::Rest => {
                let (method, path) = op.rest();
                let mut url = cat!(self.endpoint, path);
                let field = |f: &str| body.get(f).and_then(Json::as_str).unwrap_or_default().to_owned();
                match op {
                    Op::Download => url.push_str(&encode_key(&field("key"))),
                    Op::ListParts => {
                        url.push_str(&cat!("?key=", encode(&field("key")), "&upload_id=", encode(&field("upload_id"))));
                    }
                    _ => {}
                }
                (method, url)
            }
        }
    }
}

fn encode(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

/// Encodes each `/`-separated segment of a key, keeping the slashes.
fn encode_key(key: &str) -> String {
    crate::join(crate::pieces(key, b'/').map(encode), "/")
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

    /// The method, URL and body ([`protocol`]'s, in the Lambda envelope
    /// where that is the form); a file's presigned PUT may go with other
    /// files' (`fetchText`, `many`).
    fn target(&self, op: Op, body: &Json) -> Result<Vec<JsValue>, CallError> {
        let (method, url) = self.target_of(op, body);
        let has_body = self.protocol == Protocol::Lambda || !matches!(op, Op::Download | Op::ListParts);
        let payload = match (has_body, self.protocol) {
            (false, _) => JsValue::UNDEFINED,
            (true, Protocol::Lambda) => protocol::lambda_envelope(op, body).into(),
            (true, Protocol::Rest) => body.text().into(),
        };
        Ok(vec![
            JsValue::FALSE,
            method.into(),
            url.into(),
            payload,
            JsValue::from_bool(op == Op::PresignPut),
            JsValue::from_bool(self.with_credentials),
            self.headers.clone(),
        ])
    }

    /// A 2xx reply checked ([`protocol`]'s parsers); any other status is
    /// retried where it may pass, else the backend's error.
    fn answer(
        &self,
        op: Op,
        mut status: u16,
        text: Option<String>,
        retry_after: Option<String>,
        asked: &Asked,
    ) -> Result<Reply, CallError> {
        let Some(mut text) = text else {
            // A reply cut off on its way: the call may have done its work
            // (complete may have stored the object), so it is asked again,
            // as for a reply that never came, not taken as empty.
            let why = cat!(op.name(), " reply was cut off");
            return Err(CallError::Transient(Failure::Network(why)));
        };
        // A Lambda's result relayed as it is: its own status and body.
        if (200..300).contains(&status) {
            protocol::unrelay(&mut status, &mut text);
        }
        if !(200..300).contains(&status) {
            let retry_after_ms = retry_after.and_then(|v| retry_after_ms(&v));
            let failure = Failure::Status { status, body: text.clone(), retry_after_ms };
            return Err(backend_failure(failure, || protocol::backend_error(op, status, &text)));
        }
        let reply = reply_of(op, &text, asked);
        // A body that is an error (`{"error": …}`, from a backend that
        // answers every call 200) where the call's answer should be, or from
        // abort (whose answer holds nothing): the backend's refusal in its
        // own words, its field `error`; unless those words name a throttle
        // or a passing failure, asked again as a reply that cannot be read is.
        if matches!(reply, Err(_) | Ok(Reply::Done))
            && let Some(words) = protocol::error_detail(&text)
        {
            let e = protocol::backend_error(op, status, &text);
            return Err(CallError::Rejected(if protocol::passing(&words) { e } else { e.with_field("error") }));
        }
        // A 2xx that cannot be read keeps its status: the engine tells it
        // from a refusal (see `Upload::on_call_rejected`).
        reply.map_err(|e| CallError::Rejected(e.with_status(status)))
    }

    /// No reply came (`fetch` rejected), or the request could not be made
    /// (`{ unsendable }`: a header `fetch` refuses).
    fn threw(&self, op: Op, e: &Thrown) -> CallError {
        if e.is(Thrown::UNSENDABLE) {
            CallError::Rejected(protocol::backend_error(op, 0, &cat!("cannot send the request: ", e.message)))
        } else {
            CallError::Transient(Failure::Network(cat!(op.name(), " request got no response: ", e.message)))
        }
    }
}

/// The call `req` as the protocol has it: its operation, its REST body, and
/// what it asks to be signed (the parts and their upload: [`Asked`]).
pub(super) fn request_of(req: Req<'_>) -> (Op, Json, Asked) {
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
        Req::SignParts { upload_id, .. } | Req::SignPart { upload_id, .. } => Some(upload_id.to_owned()),
        _ => None,
    };
    (op, body, Asked { parts, upload_id })
}

/// The reply to `op`, checked ([`protocol`]'s parsers).
pub(super) fn reply_of(op: Op, text: &str, asked: &Asked) -> Result<Reply, crate::engine::UploadError> {
    let (parts, id) = (asked.parts.as_slice(), asked.upload_id.as_deref());
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
