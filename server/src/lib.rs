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
pub mod s3;
pub mod store;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use hyper_util::rt::{TokioExecutor, TokioIo};
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

fn cors(origins: &[String], expose_etag: bool) -> CorsLayer {
    let allow_origin = if origins.is_empty() || origins.iter().any(|o| o == "*") {
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
        .allow_credentials(true)
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
            let listener = TcpListener::bind(cfg.s3_listen).await?;
            let addr = listener.local_addr()?;
            s3_addr = Some(addr);
            let store = Arc::new(store::Store::open(&cfg.data_dir).await?);
            store.ensure_bucket(&cfg.bucket).await?;
            embedded = Some(store.clone());
            let mut builder = s3s::service::S3ServiceBuilder::new(store::Shared(store));
            builder.set_auth(s3s::auth::SimpleAuth::from_single(cfg.access_key.clone(), cfg.secret_key.clone()));
            let service = tower::ServiceBuilder::new()
                .layer(cors(&cfg.allow_origins, cfg.s3_expose_etag))
                .service(store::guard::Guard(builder.build()));
            tasks.push(tokio::spawn(serve_store(listener, service)));
            cfg.embedded_s3(addr)?
        }
    };
    let client = s3::S3Client::new(&settings)?;
    let debug_store = embedded.filter(|_| cfg.debug_endpoints).map(|store| (store, cfg.bucket.clone()));
    let state = api::AppState {
        s3: client,
        key_prefix: Arc::from(cfg.key_prefix.as_str()),
        auth_token: cfg.auth_token.as_deref().map(Arc::from),
        debug_store,
        faults: (cfg.fault_rate > 0.0).then(|| {
            Arc::new(api::Faults {
                rate: cfg.fault_rate,
                calls: cfg.fault_calls.clone(),
                after: cfg.fault_after,
                rng: std::sync::Mutex::new(fastrand::Rng::with_seed(0x5eed)),
            })
        }),
    };
    let www = cfg.www_dir();
    let index = www.join("index.html");
    let app = Router::new()
        .merge(api::routes(state.clone()))
        .nest("/api", api::routes(state))
        .layer(cors(&cfg.allow_origins, true))
        .fallback_service(ServeDir::new(&www).not_found_service(ServeFile::new(index)));
    let listener = TcpListener::bind(cfg.listen).await?;
    let api_addr = listener.local_addr()?;
    tasks.push(tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!("API server stopped: {e}");
        }
    }));
    Ok(Running { api_addr, s3_addr, s3: settings, tasks })
}

/// Serves the embedded store: s3s behind the CORS layer, over HTTP/1 and HTTP/2.
async fn serve_store(
    listener: TcpListener,
    service: tower_http::cors::Cors<store::guard::Guard<s3s::service::S3Service>>,
) {
    loop {
        let (socket, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("store: cannot accept a connection: {e}");
                continue;
            }
        };
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            let _ = ConnBuilder::new(TokioExecutor::new()).serve_connection(TokioIo::new(socket), service).await;
        });
    }
}
