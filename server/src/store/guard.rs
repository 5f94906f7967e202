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

fn headers_not_signed(header: &str) -> Response<s3s::Body> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
         <Message>There were headers present in the request which were not signed</Message>\
         <HeadersNotSigned>{header}</HeadersNotSigned></Error>"
    );
    let mut resp = Response::new(s3s::Body::from(xml));
    *resp.status_mut() = StatusCode::FORBIDDEN;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/xml"));
    resp
}

/// A request body the service reads through; what it leaves unread stays
/// here, so it can be drained after the answer is known.
pub struct SharedBody {
    slot: Arc<Mutex<Option<Incoming>>>,
}

impl Body for SharedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        match slot.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner).as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
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
        let mut inner = std::mem::replace(&mut self.0, clone);
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            if let Some(header) = unsigned_amz_header(&Request::from_parts(parts.clone(), ())) {
                drain(body).await;
                return Ok(headers_not_signed(&header));
            }
            let slot = Arc::new(Mutex::new(Some(body)));
            let resp = inner.call(Request::from_parts(parts, SharedBody { slot: slot.clone() })).await?;
            if resp.status().is_client_error() || resp.status().is_server_error() {
                let left = slot.lock().unwrap_or_else(PoisonError::into_inner).take();
                if let Some(body) = left.filter(|b| !b.is_end_stream()) {
                    drain(body).await;
                }
            }
            Ok(resp)
        })
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
