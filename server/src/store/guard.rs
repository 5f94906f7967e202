//! What stands in front of the embedded store's S3 service, per request:
//!
//! - **No unsigned `x-amz-*` header on a presigned request.** A presigned URL
//!   grants what was signed, nothing more: AWS S3 refuses a presigned request
//!   that carries an `x-amz-*` header its `X-Amz-SignedHeaders` does not name
//!   (`AccessDenied`, "There were headers present in the request which were
//!   not signed"). Without this, a URL signed for a PUT could carry
//!   `x-amz-copy-source` and copy any object of the bucket under its key.
//! - **A refusal is readable.** When the store answers an error before it has
//!   read the request body (a 403 for an expired URL arrives before the bytes),
//!   the rest of the body is read and dropped before the answer goes out (up to
//!   [`DRAIN_LIMIT`] bytes and [`DRAIN_TIME`]). Otherwise the server closes a
//!   connection with unread data, the kernel resets it, and Firefox's XHR
//!   reports a network error instead of the answer (Chromium reads it).
//! - **A body without a length is measured.** A request sent with
//!   `Transfer-Encoding: chunked` and no `Content-Length` (S3 takes such a
//!   PutObject) is read first, up to [`CHUNKED_LIMIT`], and handed to s3s with
//!   its length; at most [`CHUNKED_BUDGET`] bytes are held so at once (past
//!   that: 503 `SlowDown`, which clients retry), and a longer body is refused
//!   411 `MissingContentLength`, saying to send its length; one that takes
//!   over [`CHUNKED_TIME`] to arrive is 408 `RequestTimeout`.
//! - **GetObjectAttributes' ETag is unquoted**, as S3 writes it there (s3s
//!   quotes every ETag); the store marks such answers with [`UnquoteEtag`].
//! - **A presigned URL lives at most a week**: `X-Amz-Expires` outside
//!   0..=604,800 s is refused 403 `AuthorizationQueryParametersError`, as S3
//!   does (s3s took any length, and answered a negative one 400).
//! - **Every answer has a request id** (`x-amz-request-id`), and an error's
//!   XML names the same id in `<RequestId>`, as S3's do.
//! - **A request runs to its end whether its caller stays or not** (a
//!   client's timeout, a backend's call limit, a closed tab, a paused
//!   upload's PUT): each is handled in a task of its own. Dropped wherever
//!   it stood, a PUT read whole left its data file with nothing referring to
//!   it, a complete left its upload claimed for ever (every later complete
//!   and abort refused `OperationAborted`), an abort left an upload
//!   half-removed. S3 too finishes a complete whose caller left; a body cut
//!   off still ends in an error that removes its data file.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// How much of a refused request's body is read before the answer goes out.
pub const DRAIN_LIMIT: u64 = 128 * 1024 * 1024;
/// How long a refused request's body is read at most.
pub const DRAIN_TIME: Duration = Duration::from_secs(30);
/// The largest body without a `Content-Length` the store takes.
pub const CHUNKED_LIMIT: usize = 16 * 1024 * 1024;
/// Bytes of such bodies held in memory at once, over all requests.
pub const CHUNKED_BUDGET: usize = 4 * CHUNKED_LIMIT;

/// Marks a response whose XML `ETag` must go out unquoted.
#[derive(Debug, Clone, Copy)]
pub struct UnquoteEtag;

/// How long such a body may take to arrive (a slow one would hold its share of the budget).
pub const CHUNKED_TIME: Duration = Duration::from_secs(60);

/// Permits of the budget, one per KiB.
static CHUNKED_PERMITS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(CHUNKED_BUDGET / 1024);

/// The `x-amz-*` header of a presigned request that its signature does not
/// cover, if any. (A request signed in its `Authorization` header is not
/// presigned; s3s checks its signature.)
pub fn unsigned_amz_header<B>(req: &Request<B>) -> Option<String> {
    let query = req.uri().query()?;
    let mut presigned = false;
    let mut signed: Vec<String> = Vec::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if name.eq_ignore_ascii_case("X-Amz-Signature") {
            presigned = true;
        } else if name.eq_ignore_ascii_case("X-Amz-SignedHeaders") {
            signed = value.split(';').map(|h| h.trim().to_ascii_lowercase()).collect();
        }
    }
    if !presigned {
        return None;
    }
    req.headers()
        .keys()
        .map(http::HeaderName::as_str)
        .find(|name| name.starts_with("x-amz-") && !signed.iter().any(|s| s == name))
        .map(str::to_owned)
}

/// An S3 error answer; `extra` is more XML inside `<Error>`.
fn error_response(status: StatusCode, code: &str, message: &str, extra: &str) -> Response<s3s::Body> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message>{extra}</Error>"
    );
    let mut resp = Response::new(s3s::Body::from(xml));
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    resp
}

fn headers_not_signed(header: &str) -> Response<s3s::Body> {
    // Header names are ASCII tokens (no `<` or `&`): safe inside XML as they are.
    error_response(
        StatusCode::FORBIDDEN,
        "AccessDenied",
        "There were headers present in the request which were not signed",
        &format!("<HeadersNotSigned>{header}</HeadersNotSigned>"),
    )
}

/// The longest a presigned URL may be valid, as in S3: a week.
pub const MAX_EXPIRES: i64 = 7 * 24 * 3600;

/// A presigned request's `X-Amz-Expires` outside what S3 accepts, as the refusal's message.
pub fn bad_expiry<B>(req: &Request<B>) -> Option<&'static str> {
    let query = req.uri().query()?;
    let (_, value) = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "X-Amz-Expires")?;
    match value.parse::<i64>() {
        Ok(n) if n > MAX_EXPIRES => Some("X-Amz-Expires must be less than a week (in seconds) that is; 604800"),
        Ok(n) if n < 0 => Some("X-Amz-Expires must be non-negative"),
        Ok(_) => None,
        Err(_) => Some("X-Amz-Expires should be a number"),
    }
}

/// Sets the request id on an answer and, for an XML error, inside it.
async fn with_request_id(resp: Response<s3s::Body>, id: &str) -> Response<s3s::Body> {
    let (mut parts, body) = resp.into_parts();
    if let Ok(value) = http::HeaderValue::from_str(id) {
        parts.headers.insert("x-amz-request-id", value);
    }
    let xml = parts.headers.get(http::header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().ends_with(b"xml"));
    if !(parts.status.is_client_error() || parts.status.is_server_error()) || !xml {
        return Response::from_parts(parts, body);
    }
    let Ok(collected) = body.collect().await else {
        return Response::from_parts(parts, s3s::Body::empty());
    };
    let bytes = collected.to_bytes();
    let out = match bytes.windows(8).rposition(|w| w == b"</Error>") {
        Some(at) if !bytes.windows(11).any(|w| w == b"<RequestId>") => {
            let mut v = bytes[..at].to_vec();
            v.extend_from_slice(format!("<RequestId>{id}</RequestId>").as_bytes());
            v.extend_from_slice(&bytes[at..]);
            Bytes::from(v)
        }
        _ => bytes,
    };
    parts.headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(out.len()));
    Response::from_parts(parts, s3s::Body::from(out))
}

/// Whether the request's body has no length the store can know before reading it.
fn unmeasured<B: Body>(parts: &http::request::Parts, body: &B) -> bool {
    !parts.headers.contains_key(http::header::CONTENT_LENGTH)
        && !parts.headers.contains_key("x-amz-decoded-content-length")
        && body.size_hint().exact().is_none()
}

/// Reads a body without a length into memory, up to [`CHUNKED_LIMIT`].
/// `Err(true)`: longer than that; `Err(false)`: the body broke off.
async fn measure(body: &mut Incoming) -> Result<Bytes, bool> {
    let mut buf = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| false)?;
        if let Some(data) = frame.data_ref() {
            if buf.len() + data.len() > CHUNKED_LIMIT {
                return Err(true);
            }
            buf.extend_from_slice(data);
        }
    }
    Ok(buf.freeze())
}

/// Takes the quotes off the first `<ETag>"…"</ETag>` of an XML answer.
fn unquote_etag(xml: &[u8]) -> Option<Vec<u8>> {
    const OPEN: &[u8] = b"<ETag>\"";
    const CLOSE: &[u8] = b"\"</ETag>";
    let start = xml.windows(OPEN.len()).position(|w| w == OPEN)?;
    let end = start + xml[start..].windows(CLOSE.len()).position(|w| w == CLOSE)?;
    let mut out = Vec::with_capacity(xml.len());
    out.extend_from_slice(&xml[..start + OPEN.len() - 1]);
    out.extend_from_slice(&xml[start + OPEN.len()..end]);
    out.extend_from_slice(&xml[end + 1..]);
    Some(out)
}

async fn unquote_response(resp: Response<s3s::Body>) -> Response<s3s::Body> {
    let (mut parts, body) = resp.into_parts();
    let Ok(collected) = body.collect().await else {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "The answer could not be read.", "");
    };
    let bytes = collected.to_bytes();
    let out = unquote_etag(&bytes).map_or(bytes, Bytes::from);
    parts.headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(out.len()));
    Response::from_parts(parts, s3s::Body::from(out))
}

/// A request body the service reads through; what it leaves unread stays
/// here, so it can be drained after the answer is known.
pub struct SharedBody {
    slot: Arc<Mutex<Option<Incoming>>>,
    /// A body read ahead (one without a length), handed out first.
    read: Option<Bytes>,
}

impl Body for SharedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        if let Some(read) = self.read.take() {
            return Poll::Ready(Some(Ok(Frame::data(read))));
        }
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.read.is_some() {
            return false;
        }
        self.slot.lock().unwrap_or_else(PoisonError::into_inner).as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        if let Some(read) = &self.read {
            return SizeHint::with_exact(read.len() as u64);
        }
        self.slot.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(Body::size_hint).unwrap_or_default()
    }
}

/// How long a refused request's body may pause before draining stops.
pub const DRAIN_IDLE: Duration = Duration::from_secs(5);

/// Reads and drops what is left of `body`, within the limits. A body announced
/// larger than [`DRAIN_LIMIT`] is not read at all.
async fn drain(mut body: Incoming) {
    if body.size_hint().lower() > DRAIN_LIMIT {
        return;
    }
    let read = async {
        let mut seen = 0u64;
        while let Ok(Some(Ok(frame))) = tokio::time::timeout(DRAIN_IDLE, body.frame()).await {
            if let Some(data) = frame.data_ref() {
                seen += data.len() as u64;
                if seen > DRAIN_LIMIT {
                    break;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, read).await;
}

/// The guard as a tower service in front of `S` (s3s's service).
#[derive(Debug, Clone)]
pub struct Guard<S>(pub S);

impl<S> tower::Service<Request<Incoming>> for Guard<S>
where
    S: tower::Service<Request<SharedBody>, Response = Response<s3s::Body>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Send,
{
    type Response = Response<s3s::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Incoming>) -> Self::Future {
        // The ready clone does the call (tower's usual swap).
        let clone = self.0.clone();
        let inner = std::mem::replace(&mut self.0, clone);
        Box::pin(async move {
            let id = format!("{:016X}", fastrand::u64(..));
            // Carried to its end in a task of its own, whether the caller
            // stays for the answer or not (see the module's notes).
            let resp = crate::to_the_end(Self::answer(inner, req)).await?;
            Ok(with_request_id(resp, &id).await)
        })
    }
}

impl<S> Guard<S>
where
    S: tower::Service<Request<SharedBody>, Response = Response<s3s::Body>> + Send + 'static,
    S::Future: Send,
{
    async fn answer(mut inner: S, req: Request<Incoming>) -> Result<Response<s3s::Body>, S::Error> {
        {
            let (mut parts, mut body) = req.into_parts();
            if let Some(message) = bad_expiry(&Request::from_parts(parts.clone(), ())) {
                drain(body).await;
                return Ok(error_response(StatusCode::FORBIDDEN, "AuthorizationQueryParametersError", message, ""));
            }
            if let Some(header) = unsigned_amz_header(&Request::from_parts(parts.clone(), ())) {
                drain(body).await;
                return Ok(headers_not_signed(&header));
            }
            let mut read = None;
            let mut _permit = None;
            if unmeasured(&parts, &body) {
                let Ok(permit) = CHUNKED_PERMITS.try_acquire_many((CHUNKED_LIMIT / 1024) as u32) else {
                    drain(body).await;
                    return Ok(error_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "SlowDown",
                        "Too many requests without Content-Length at once: retry, or send Content-Length.",
                        "",
                    ));
                };
                _permit = Some(permit);
                let Ok(measured) = tokio::time::timeout(CHUNKED_TIME, measure(&mut body)).await else {
                    return Ok(error_response(
                        StatusCode::REQUEST_TIMEOUT,
                        "RequestTimeout",
                        "Your socket connection to the server was not read from or written to within the timeout period.",
                        "",
                    ));
                };
                match measured {
                    Ok(bytes) => {
                        parts.headers.insert(http::header::CONTENT_LENGTH, http::HeaderValue::from(bytes.len()));
                        read = Some(bytes);
                    }
                    Err(too_long) => {
                        if too_long {
                            drain(body).await;
                        }
                        return Ok(error_response(
                            StatusCode::LENGTH_REQUIRED,
                            "MissingContentLength",
                            "A body without Content-Length is taken up to 16 MiB: send Content-Length for a larger one.",
                            "",
                        ));
                    }
                }
            }
            let slot = Arc::new(Mutex::new(Some(body)));
            let resp = inner.call(Request::from_parts(parts, SharedBody { slot: slot.clone(), read })).await?;
            if resp.extensions().get::<UnquoteEtag>().is_some() && resp.status().is_success() {
                return Ok(unquote_response(resp).await);
            }
            if resp.status().is_client_error() || resp.status().is_server_error() {
                let left = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(body) = left.filter(|b| !b.is_end_stream()) {
                    drain(body).await;
                }
            }
            Ok(resp)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(uri: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("request")
    }

    #[test]
    fn an_etag_is_unquoted_once_and_nothing_else_changes() {
        let xml = b"<A><ETag>\"abc-2\"</ETag><B>\"x\"</B></A>";
        assert_eq!(unquote_etag(xml).as_deref(), Some(&b"<A><ETag>abc-2</ETag><B>\"x\"</B></A>"[..]));
        assert_eq!(unquote_etag(b"<A><ETag>abc</ETag></A>"), None);
        assert_eq!(unquote_etag(b"<A><ETag>\"abc</A>"), None);
    }

    #[test]
    fn presigned_requests_carry_only_signed_amz_headers() {
        let url =
            "/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=host%3Bx-amz-checksum-crc32&X-Amz-Signature=00";
        assert_eq!(unsigned_amz_header(&req(url, &[])), None);
        assert_eq!(unsigned_amz_header(&req(url, &[("x-amz-checksum-crc32", "AAAAAA==")])), None);
        assert_eq!(unsigned_amz_header(&req(url, &[("content-type", "text/plain")])), None);
        assert_eq!(
            unsigned_amz_header(&req(url, &[("x-amz-copy-source", "b/secret")])).as_deref(),
            Some("x-amz-copy-source")
        );
        // Not presigned: the Authorization header's signature is s3s's to check.
        assert_eq!(unsigned_amz_header(&req("/b/k", &[("x-amz-copy-source", "b/x")])), None);
    }
}
