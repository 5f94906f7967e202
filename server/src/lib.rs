//! Reference backend for `s3-multipart-wasm`.
//!
//! It speaks the backend protocol of the design (REST and the Lambda envelope),
//! presigns with rusty-s3, and by default runs an embedded S3-compatible store
//! (s3s over a storage layer of our own, see [`store`]) in the same process, on its own port, with CORS
//! that exposes `ETag`. Pointed at another endpoint (`--s3-endpoint`) it works
//! with AWS S3, MinIO, Garage or R2 instead: it keeps no state of its own.

pub mod api;
pub mod config;
pub mod error;
pub mod faults;
pub mod s3;
pub mod store;
pub mod tokens;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use tower_http::services::{ServeDir, ServeFile};

pub use config::Config;

/// A running server; dropping it stops both listeners.
#[derive(Debug)]
pub struct Running {
    /// Address of the API (and demo page).
    pub api_addr: SocketAddr,
    /// Address of the embedded store, when it runs.
    pub s3_addr: Option<SocketAddr>,
    /// Settings the backend signs with (endpoint, bucket, keys).
    pub s3: s3::S3Settings,
    /// The embedded store, when it runs (a handle on the one serving requests).
    pub store: Option<store::Store>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// `http://addr` of the API.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api_addr)
    }

    /// Waits until a listener stops (which, without errors, is never).
    pub async fn wait(mut self) {
        if let Some(t) = self.tasks.pop() {
            let _ = t.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Runs `work` in a task of its own and answers what it answers: the work
/// goes on to its end even when whoever awaits this is dropped (a request
/// whose caller left). A panic in it goes on in the caller.
pub(crate) async fn to_the_end<F>(work: F) -> F::Output
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(out) => out,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Whether `--allow-origins` leaves any origin in (`*`, the development default).
pub fn any_origin(origins: &[String]) -> bool {
    origins.is_empty() || origins.iter().any(|o| o == "*")
}

/// CORS of the API and of the embedded store. Any origin (`*`): the origin is
/// mirrored, and credentials are never allowed with it. A list: those origins,
/// with credentials (cookies, `withCredentials`).
fn cors(origins: &[String], expose_etag: bool) -> CorsLayer {
    let any = any_origin(origins);
    let allow_origin = if any {
        AllowOrigin::mirror_request()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let mut expose: Vec<HeaderName> = vec![HeaderName::from_static("x-amz-request-id")];
    if expose_etag {
        expose.push(header::ETAG);
    }
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::HEAD, Method::PUT, Method::POST, Method::DELETE])
        .allow_headers(AllowHeaders::mirror_request())
        .allow_credentials(!any)
        .expose_headers(expose)
        .max_age(std::time::Duration::from_secs(600))
}

/// Starts the embedded store (unless an external endpoint is configured) and the API.
pub async fn start(cfg: Config) -> anyhow::Result<Running> {
    let mut tasks = Vec::new();
    let mut s3_addr = None;
    let mut embedded = None;
    let settings = match cfg.external_s3()? {
        Some(settings) => settings,
        None => {
            let listener = listen(cfg.s3_listen, "the embedded store", "--s3-listen (S3MP_S3_LISTEN)").await?;
            let addr = listener.local_addr()?;
            s3_addr = Some(addr);
            let store = store::Store::open(&cfg.data_dir)
                .await?
                .with_body_idle(std::time::Duration::from_secs(cfg.body_idle_timeout.max(1)));
            store.ensure_bucket(&cfg.bucket).await?;
            tasks.push(tokio::spawn(store.clone().run_lifecycle()));
            embedded = Some(store.clone());
            let access = store::acl::Access(store.clone());
            let mut builder = s3s::service::S3ServiceBuilder::new(store);
            builder.set_auth(s3s::auth::SimpleAuth::from_single(cfg.access_key.clone(), cfg.secret_key.clone()));
            builder.set_access(access);
            let service = tower::ServiceBuilder::new()
                .layer(cors(&cfg.allow_origins, cfg.s3_expose_etag))
                .service(store::guard::Guard(builder.build()));
            tasks.push(tokio::spawn(serve(listener, service, "store")));
            cfg.embedded_s3(addr)?
        }
    };
    let client = s3::S3Client::new(&settings)?;
    let state = api::AppState {
        s3: client,
        key_prefix: Arc::from(cfg.key_prefix.as_str()),
        auth_token: cfg.auth_token.as_deref().map(Arc::from),
        debug_endpoints: cfg.debug_endpoints,
        init_tokens: Arc::default(),
        call_timeout: std::time::Duration::from_secs(cfg.call_timeout.max(1)),
        faults: (cfg.fault_rate > 0.0).then(|| {
            Arc::new(faults::Faults {
                rate: cfg.fault_rate,
                calls: cfg.fault_calls.clone(),
                kind: faults::Kind::of(cfg.fault_after, cfg.fault_cut, cfg.fault_garble, cfg.fault_delay_ms),
                max: cfg.fault_max,
                hit: std::sync::atomic::AtomicU64::new(0),
                rng: std::sync::Mutex::new(fastrand::Rng::with_seed(0x5eed)),
            })
        }),
    };
    let www = cfg.www_dir();
    let index = www.join("index.html");
    let origins: Option<Arc<[String]>> = (!any_origin(&cfg.allow_origins)).then(|| cfg.allow_origins.clone().into());
    let app = Router::new()
        .merge(api::routes(state.clone()))
        .nest("/api", api::routes(state).fallback(api::not_found))
        .layer(axum::middleware::from_fn_with_state(origins, api::require_origin))
        .layer(cors(&cfg.allow_origins, true))
        .fallback_service(ServeDir::new(&www).not_found_service(ServeFile::new(index)));
    let listener = listen(cfg.listen, "the API and demo page", "--listen (S3MP_LISTEN)").await?;
    let api_addr = listener.local_addr()?;
    tasks.push(tokio::spawn(serve(listener, app, "API")));
    Ok(Running { api_addr, s3_addr, s3: settings, store: embedded, tasks })
}

/// Binds `addr`; a failure names the address, what it was for and the option that sets it.
async fn listen(addr: std::net::SocketAddr, what: &str, option: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            "another program listens there: stop it, or give another port with"
        } else {
            "give another address with"
        };
        anyhow::anyhow!("cannot listen on {addr} for {what}: {e}; {hint} {option} (port 0 picks a free one)")
    })
}

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// Serves `service` on `listener` over HTTP/1 and HTTP/2; a connection whose
/// request headers do not arrive within [`HEADER_READ_TIMEOUT`] is closed.
async fn serve<S, B>(listener: TcpListener, service: S, what: &'static str)
where
    S: tower::Service<http::Request<hyper::body::Incoming>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("{what}: cannot accept a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let mut builder = ConnBuilder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(HEADER_READ_TIMEOUT);
            let _ = builder.serve_connection_with_upgrades(TokioIo::new(socket), service).await;
        });
    }
}
