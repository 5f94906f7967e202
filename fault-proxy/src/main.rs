//! `fault-proxy`: sits between the browser and the S3 store (or the backend)
//! and makes the network bad on purpose, by rule, reproducibly (seeded).
//!
//! Requests that match (`--match-method`, by default part and object PUTs) may
//! be: answered with an error status after their body was read (`--fail-rate`,
//! `--fail-status`, with `--retry-after` on 429), cut off half-way through the
//! body (`--reset-rate`), held without an answer (`--stall-nth`,
//! `--stall-secs`), delayed (`--latency-ms`) and slowed to a shared bandwidth
//! (`--bandwidth-mbit`), or forwarded with one byte of the body flipped on
//! the way (`--flip-nth`, `--flip-rate`: corruption in flight, which only a
//! checksum the store verifies can catch), or stored with the `ETag` of the
//! answer altered on its way back (`--alter-etag-nth`: the client then
//! completes with an ETag the store does not know), or forwarded with one
//! character of a request header changed (`--alter-header-nth`, the header
//! named by `--alter-header`, by default the part's signed
//! `x-amz-checksum-crc32`: the store then refuses the signature). Everything else passes through untouched, `Host`
//! header included, so SigV4 signatures made for the proxy's address verify
//! at the store: point the backend's presigned URLs at the proxy with
//! `s3-multipart-server --s3-public-endpoint http://<proxy>`.
//!
//! `GET /__fault-proxy/stats` answers counters as JSON;
//! `POST /__fault-proxy/stats` resets them.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use futures::StreamExt;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, BodyStream, Full, StreamBody, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

/// An HTTP proxy that injects faults.
#[derive(Debug, Clone, Parser)]
struct Opt {
    /// Address to listen on (port 0: a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where requests go, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    upstream: String,
    /// Only requests with this method are subject to faults.
    #[arg(long, default_value = "PUT")]
    match_method: String,
    /// Only requests whose path and query contain this are subject to faults (empty: all).
    #[arg(long, default_value = "")]
    match_path: String,
    /// Share (0..1) of matching requests answered with an error status.
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Statuses to pick from for failures.
    #[arg(long, value_delimiter = ',', default_value = "500,503")]
    fail_status: Vec<u16>,
    /// Seconds sent in Retry-After with 429 and 503 answers.
    #[arg(long)]
    retry_after: Option<u64>,
    /// Fail these matching requests (1-based, comma-separated) whatever the dice say.
    #[arg(long, value_delimiter = ',')]
    fail_nth: Vec<u64>,
    /// Share (0..1) of matching requests whose connection is cut half-way through the body.
    #[arg(long, default_value_t = 0.0)]
    reset_rate: f64,
    /// Stall these matching requests (1-based, comma-separated): no answer for --stall-secs, then the connection is cut.
    #[arg(long, value_delimiter = ',')]
    stall_nth: Vec<u64>,
    /// How long a stall lasts.
    #[arg(long, default_value_t = 30)]
    stall_secs: u64,
    /// Flip one byte (the middle one) of the body of these matching requests (1-based, comma-separated).
    #[arg(long, value_delimiter = ',')]
    flip_nth: Vec<u64>,
    /// Share (0..1) of matching requests forwarded with one byte of the body flipped.
    #[arg(long, default_value_t = 0.0)]
    flip_rate: f64,
    /// Alter one character of the ETag header in the answers of these matching requests (1-based, comma-separated).
    #[arg(long, value_delimiter = ',')]
    alter_etag_nth: Vec<u64>,
    /// Alter one character of the request header `--alter-header` of these matching requests (1-based, comma-separated).
    #[arg(long, value_delimiter = ',')]
    alter_header_nth: Vec<u64>,
    /// The request header that `--alter-header-nth` alters.
    #[arg(long, default_value = "x-amz-checksum-crc32")]
    alter_header: String,
    /// Delay added before every request is forwarded (all requests, not only matching ones).
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Bandwidth of all request bodies together, in Mbit/s (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    bandwidth_mbit: f64,
    /// Seed of the fault dice.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    matched: AtomicU64,
    failed: AtomicU64,
    reset: AtomicU64,
    stalled: AtomicU64,
    flipped: AtomicU64,
    /// Answers whose ETag header was altered.
    etag_altered: AtomicU64,
    /// Requests forwarded with a header altered.
    header_altered: AtomicU64,
    /// Request body bytes of matching requests that reached the proxy.
    matched_body_bytes: AtomicU64,
    /// Request body bytes of matching requests that the store answered with 2xx.
    stored_body_bytes: AtomicU64,
}

struct Proxy {
    opt: Opt,
    client: Client<HttpConnector, Body>,
    rng: Mutex<fastrand::Rng>,
    stats: Stats,
    /// When the shared link is free again (bandwidth cap).
    link_free_at: Mutex<Instant>,
}

enum Fault {
    None,
    Fail(u16),
    Reset,
    Stall,
    /// Forwarded with the byte at this offset of the body flipped.
    Flip,
}

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never: Infallible| match never {}).boxed()
}

impl Proxy {
    fn pick(&self, n: u64) -> Fault {
        if self.opt.stall_nth.contains(&n) {
            return Fault::Stall;
        }
        let mut rng = self.rng.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let roll = rng.f64();
        let forced = self.opt.fail_nth.contains(&n);
        if (forced || roll < self.opt.fail_rate) && !self.opt.fail_status.is_empty() {
            let status = self.opt.fail_status[rng.usize(..self.opt.fail_status.len())];
            Fault::Fail(status)
        } else if roll < self.opt.fail_rate + self.opt.reset_rate {
            Fault::Reset
        } else if self.opt.flip_nth.contains(&n) || roll < self.opt.fail_rate + self.opt.reset_rate + self.opt.flip_rate
        {
            Fault::Flip
        } else {
            Fault::None
        }
    }

    /// Waits for the shared link to carry `n` bytes.
    async fn throttle(&self, n: usize) {
        if self.opt.bandwidth_mbit <= 0.0 {
            return;
        }
        let cost = Duration::from_secs_f64(n as f64 * 8.0 / (self.opt.bandwidth_mbit * 1e6));
        let wait_until = {
            let mut free = self.link_free_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let start = (*free).max(Instant::now());
            *free = start + cost;
            *free
        };
        tokio::time::sleep_until(wait_until.into()).await;
    }

    fn stats_json(&self) -> String {
        let s = &self.stats;
        serde_json::json!({
            "requests": s.requests.load(Ordering::Relaxed),
            "matched": s.matched.load(Ordering::Relaxed),
            "failed": s.failed.load(Ordering::Relaxed),
            "reset": s.reset.load(Ordering::Relaxed),
            "stalled": s.stalled.load(Ordering::Relaxed),
            "flipped": s.flipped.load(Ordering::Relaxed),
            "etag_altered": s.etag_altered.load(Ordering::Relaxed),
            "header_altered": s.header_altered.load(Ordering::Relaxed),
            "matched_body_bytes": s.matched_body_bytes.load(Ordering::Relaxed),
            "stored_body_bytes": s.stored_body_bytes.load(Ordering::Relaxed),
        })
        .to_string()
    }

    fn reset_stats(&self) {
        let s = &self.stats;
        for c in [
            &s.requests,
            &s.matched,
            &s.failed,
            &s.reset,
            &s.stalled,
            &s.flipped,
            &s.etag_altered,
            &s.header_altered,
            &s.matched_body_bytes,
            &s.stored_body_bytes,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// CORS headers for answers the proxy makes up itself (the store's own answers carry theirs).
fn with_cors(mut resp: Response<Body>, origin: Option<&HeaderValue>) -> Response<Body> {
    if let Some(origin) = origin {
        let h = resp.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("ETag, Retry-After"));
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

async fn handle(
    proxy: Arc<Proxy>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Box<dyn std::error::Error + Send + Sync>> {
    if req.uri().path() == "/__fault-proxy/stats" {
        if req.method() == http::Method::POST {
            proxy.reset_stats();
        }
        let resp =
            Response::builder().header(header::CONTENT_TYPE, "application/json").body(full(proxy.stats_json()))?;
        return Ok(with_cors(resp, req.headers().get(header::ORIGIN)));
    }
    let n = proxy.stats.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let _ = n;
    if proxy.opt.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(proxy.opt.latency_ms)).await;
    }
    let path_and_query = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let matches = req.method().as_str().eq_ignore_ascii_case(&proxy.opt.match_method)
        && (proxy.opt.match_path.is_empty() || path_and_query.contains(&proxy.opt.match_path));
    let origin = req.headers().get(header::ORIGIN).cloned();
    let (fault, alter_etag, alter_header) = if matches {
        let m = proxy.stats.matched.fetch_add(1, Ordering::Relaxed) + 1;
        (proxy.pick(m), proxy.opt.alter_etag_nth.contains(&m), proxy.opt.alter_header_nth.contains(&m))
    } else {
        (Fault::None, false, false)
    };
    let (mut parts, body) = req.into_parts();
    if alter_header
        && let Some(altered) =
            parts.headers.get(proxy.opt.alter_header.as_str()).and_then(|v| altered_value(v.as_bytes()))
    {
        proxy.stats.header_altered.fetch_add(1, Ordering::Relaxed);
        parts.headers.insert(header::HeaderName::from_bytes(proxy.opt.alter_header.as_bytes())?, altered);
    }
    let content_length: u64 =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0);

    match fault {
        Fault::Stall => {
            proxy.stats.stalled.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(proxy.opt.stall_secs)).await;
            drop(body);
            return Err("stalled request cut".into());
        }
        Fault::Reset => {
            proxy.stats.reset.fetch_add(1, Ordering::Relaxed);
            let mut stream = BodyStream::new(body);
            let mut seen = 0u64;
            while seen < content_length / 2 {
                match stream.next().await {
                    Some(Ok(frame)) => {
                        if let Some(d) = frame.data_ref() {
                            proxy.throttle(d.len()).await;
                            seen += d.len() as u64;
                            proxy.stats.matched_body_bytes.fetch_add(d.len() as u64, Ordering::Relaxed);
                        }
                    }
                    _ => break,
                }
            }
            return Err("connection reset mid-body".into());
        }
        Fault::Fail(status) => {
            proxy.stats.failed.fetch_add(1, Ordering::Relaxed);
            let mut stream = BodyStream::new(body);
            while let Some(Ok(frame)) = stream.next().await {
                if let Some(d) = frame.data_ref() {
                    proxy.throttle(d.len()).await;
                    proxy.stats.matched_body_bytes.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
            }
            let code = match status {
                429 => "SlowDown",
                503 => "ServiceUnavailable",
                _ => "InternalError",
            };
            let mut resp = Response::builder()
                .status(StatusCode::from_u16(status)?)
                .header(header::CONTENT_TYPE, "application/xml");
            if let Some(secs) = proxy.opt.retry_after.filter(|_| matches!(status, 429 | 503)) {
                resp = resp.header(header::RETRY_AFTER, secs.to_string());
            }
            let xml = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by fault-proxy</Message></Error>"
            );
            return Ok(with_cors(resp.body(full(xml))?, origin.as_ref()));
        }
        Fault::None | Fault::Flip => {}
    }

    // Forward, throttling (and counting) the body on the way; with Flip, the
    // middle byte of the body is flipped as it passes.
    let flip_at = matches!(fault, Fault::Flip).then_some(content_length / 2);
    if flip_at.is_some() {
        proxy.stats.flipped.fetch_add(1, Ordering::Relaxed);
    }
    let counted = Arc::new(AtomicU64::new(0));
    let seen = Arc::new(AtomicU64::new(0));
    let p2 = proxy.clone();
    let c2 = counted.clone();
    let stream = BodyStream::new(body).then(move |frame| {
        let (p, c, seen) = (p2.clone(), c2.clone(), seen.clone());
        async move {
            let mut frame = frame?;
            if let (Some(at), Some(d)) = (flip_at, frame.data_ref()) {
                let start = seen.fetch_add(d.len() as u64, Ordering::Relaxed);
                if (start..start + d.len() as u64).contains(&at) {
                    let mut bytes = d.to_vec();
                    bytes[(at - start) as usize] ^= 0x01;
                    frame = Frame::data(Bytes::from(bytes));
                }
            }
            if let Some(d) = frame.data_ref() {
                p.throttle(d.len()).await;
                if matches {
                    p.stats.matched_body_bytes.fetch_add(d.len() as u64, Ordering::Relaxed);
                    c.fetch_add(d.len() as u64, Ordering::Relaxed);
                }
            }
            Ok::<Frame<Bytes>, hyper::Error>(frame)
        }
    });
    let body: Body =
        StreamBody::new(stream).map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>).boxed();
    let uri: http::Uri = format!("{}{}", proxy.opt.upstream.trim_end_matches('/'), path_and_query).parse()?;
    let mut up = Request::from_parts(parts, body);
    *up.uri_mut() = uri;
    let mut resp = proxy.client.request(up).await?;
    if matches && resp.status().is_success() {
        proxy.stats.stored_body_bytes.fetch_add(counted.load(Ordering::Relaxed), Ordering::Relaxed);
        if alter_etag && let Some(altered) = resp.headers().get(header::ETAG).and_then(|v| altered_etag(v.as_bytes())) {
            resp.headers_mut().insert(header::ETAG, altered);
            proxy.stats.etag_altered.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(resp.map(|b| b.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>).boxed()))
}

/// The ETag with its first hex digit changed (still a well-formed ETag).
/// A header value with its first letter or digit changed.
fn altered_value(value: &[u8]) -> Option<HeaderValue> {
    let mut bytes = value.to_vec();
    let at = bytes.iter().position(u8::is_ascii_alphanumeric)?;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    HeaderValue::from_bytes(&bytes).ok()
}

fn altered_etag(etag: &[u8]) -> Option<HeaderValue> {
    let mut bytes = etag.to_vec();
    let at = bytes.iter().position(u8::is_ascii_hexdigit)?;
    bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
    HeaderValue::from_bytes(&bytes).ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opt = Opt::parse();
    anyhow::ensure!(
        (0.0..=1.0).contains(&(opt.fail_rate + opt.reset_rate)),
        "--fail-rate plus --reset-rate must be 0..1"
    );
    let listener = TcpListener::bind(opt.listen).await?;
    let addr = listener.local_addr()?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let proxy = Arc::new(Proxy {
        rng: Mutex::new(fastrand::Rng::with_seed(opt.seed)),
        opt: opt.clone(),
        client,
        stats: Stats::default(),
        link_free_at: Mutex::new(Instant::now()),
    });
    println!("fault-proxy: http://{addr} -> {}", opt.upstream);
    loop {
        let (socket, _) = listener.accept().await?;
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(proxy.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(socket), service).await;
        });
    }
}
