//! Test aid, added to the API only by the test flags (`--fault-rate`,
//! `--fault-calls`, `--fault-after`, `--fault-cut`, `--fault-garble`,
//! `--fault-delay-ms`): a share of the named calls answer 503
//! ServiceUnavailable, before or after doing their work (a reply lost on the
//! way back), or do their work and answer with a body cut off half-way, or
//! garbled (not JSON), or late. Without those flags the router has no such
//! layer.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde_json::Value;

use crate::error::ApiError;

/// What a hit call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Answer 503 without doing the work.
    Before,
    /// Do the work, then answer 503 (`--fault-after`).
    After,
    /// Do the work, then send its answer with the body cut off half-way (`--fault-cut`).
    Cut,
    /// Do the work, then send its status with a body that is not JSON (`--fault-garble`).
    Garble,
    /// Do the work, then answer as usual this many milliseconds later
    /// (`--fault-delay-ms`: a reply slow on its way back).
    Late(u64),
}

impl Kind {
    /// From the flags; `--fault-cut` wins over `--fault-garble`, which wins
    /// over `--fault-after`, which wins over `--fault-delay-ms` (0: none).
    pub fn of(after: bool, cut: bool, garble: bool, delay_ms: u64) -> Self {
        match (after, cut, garble) {
            (_, true, _) => Self::Cut,
            (_, false, true) => Self::Garble,
            (true, false, false) => Self::After,
            (false, false, false) if delay_ms > 0 => Self::Late(delay_ms),
            (false, false, false) => Self::Before,
        }
    }
}

/// Test aid: a share of some calls answer 503, before or after doing their work.
#[derive(Debug)]
pub struct Faults {
    /// 0..1.
    pub rate: f64,
    /// Call names: url, download, init, part-url, part-urls, complete, abort, parts.
    pub calls: Vec<String>,
    /// What a hit call does.
    pub kind: Kind,
    /// At most this many calls are hit (0: no limit).
    pub max: u64,
    /// Calls hit so far.
    pub hit: std::sync::atomic::AtomicU64,
    /// The dice.
    pub rng: std::sync::Mutex<fastrand::Rng>,
}

impl Faults {
    fn hits(&self, call: &str) -> bool {
        use std::sync::atomic::Ordering;
        let hit = self.calls.iter().any(|c| c == call)
            && self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner).f64() < self.rate;
        hit && (self.max == 0 || self.hit.fetch_add(1, Ordering::Relaxed) < self.max)
    }
}

/// The call name of a request path (`/uploads/multipart/part-url` → `part-url`), or of a Lambda action.
fn call_name(path: &str) -> &str {
    let path = path.strip_prefix("/api").unwrap_or(path);
    match path {
        "/uploads/url" => "url",
        "/uploads/multipart/init" => "init",
        "/uploads/multipart/part-url" => "part-url",
        "/uploads/multipart/part-urls" => "part-urls",
        "/uploads/multipart/complete" => "complete",
        "/uploads/multipart/abort" => "abort",
        "/uploads/multipart/parts" => "parts",
        p if p.starts_with("/uploads/download/") => "download",
        _ => "",
    }
}

fn lambda_call_name(action: &str) -> &'static str {
    match action {
        "generate_presigned_upload_url" => "url",
        "generate_presigned_download_url" => "download",
        "initiate_multipart_upload" => "init",
        "generate_presigned_part_upload_url" => "part-url",
        "generate_presigned_part_upload_urls" => "part-urls",
        "complete_multipart_upload" => "complete",
        "abort_multipart_upload" => "abort",
        "list_parts" => "parts",
        _ => "",
    }
}

fn injected() -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", "injected fault (--fault-rate): try again")
}

/// Test aid (`--fault-rate`): some calls answer 503 before, or after, doing their work.
pub async fn inject(
    State(faults): State<Arc<Faults>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 4 * 1024 * 1024).await else {
        return ApiError::invalid("InvalidJson", "the request body is too large").into_response();
    };
    let name = match call_name(parts.uri.path()) {
        "" => serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("action").and_then(Value::as_str).map(lambda_call_name))
            .unwrap_or(""),
        n => n,
    };
    let hit = faults.hits(name);
    let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    if !hit {
        return next.run(req).await;
    }
    if faults.kind == Kind::Before {
        return injected().into_response();
    }
    let resp = next.run(req).await;
    match faults.kind {
        Kind::Cut => cut_off(resp).await,
        Kind::Garble => {
            let (mut parts, _) = resp.into_parts();
            parts.headers.remove(axum::http::header::CONTENT_LENGTH);
            let garbled = "<html><body>garbled by --fault-garble</body></html>";
            axum::response::Response::from_parts(parts, axum::body::Body::from(garbled))
        }
        Kind::Late(ms) => {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            resp
        }
        Kind::Before | Kind::After => injected().into_response(),
    }
}

/// `resp` with its status and headers, whose body stops half-way with an
/// error: the connection is cut (the length announced is never reached).
async fn cut_off(resp: axum::response::Response) -> axum::response::Response {
    use futures::stream;
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 4 * 1024 * 1024).await.unwrap_or_default();
    let half = bytes.slice(..bytes.len() / 2);
    // The status, the headers and the first half go out first (the client
    // reads a reply that starts well), then the connection is cut.
    let first = stream::iter([Ok::<_, std::io::Error>(half)]);
    let cut = stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Err(std::io::Error::other("injected fault (--fault-cut): reply cut off"))
    });
    let body = axum::body::Body::from_stream(futures::StreamExt::chain(first, cut));
    let mut resp = axum::response::Response::from_parts(parts, body);
    let len = axum::http::HeaderValue::from(bytes.len());
    resp.headers_mut().insert(axum::http::header::CONTENT_LENGTH, len);
    resp
}
