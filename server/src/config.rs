//! Settings, from flags or environment variables (`s3-multipart-server --help`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use url::Url;

use crate::s3::S3Settings;

/// Reference backend for s3-multipart-wasm, with an embedded S3-compatible store.
///
/// Without --s3-endpoint it runs its own store (s3s over server/src/store) on --s3-listen,
/// keeping objects in --data-dir. With --s3-endpoint it presigns for that
/// endpoint instead (AWS S3, MinIO, Garage, R2, ...), whose bucket must exist
/// and whose CORS must allow PUT from the page's origin and expose ETag.
#[derive(Debug, Clone, Parser)]
#[command(version)]
pub struct Config {
    /// Address of the API and demo page (port 0 picks a free port).
    #[arg(long, env = "S3MP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Address of the embedded S3 store (port 0 picks a free port).
    #[arg(long, env = "S3MP_S3_LISTEN", default_value = "127.0.0.1:9000")]
    pub s3_listen: SocketAddr,

    /// Folder where the embedded store keeps its objects.
    #[arg(long, env = "S3MP_DATA_DIR", default_value = "./s3-data")]
    pub data_dir: PathBuf,

    /// External S3-compatible endpoint, e.g. https://s3.eu-west-1.amazonaws.com.
    /// Turns the embedded store off.
    #[arg(long, env = "S3MP_S3_ENDPOINT")]
    pub s3_endpoint: Option<Url>,

    /// Endpoint written into presigned URLs, when the browser reaches S3 by another
    /// address than the backend does. Defaults to the endpoint.
    #[arg(long, env = "S3MP_S3_PUBLIC_ENDPOINT")]
    pub s3_public_endpoint: Option<Url>,

    /// Use virtual-host-style URLs (bucket.host/key) instead of path-style (host/bucket/key).
    #[arg(long, env = "S3MP_VIRTUAL_HOST_STYLE")]
    pub virtual_host_style: bool,

    /// Bucket (created at start in the embedded store).
    #[arg(long, env = "S3MP_BUCKET", default_value = "uploads")]
    pub bucket: String,

    /// Region of the signature scope.
    #[arg(long, env = "S3MP_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Access key id (of the embedded store, or of the external endpoint).
    #[arg(long, env = "S3MP_ACCESS_KEY", default_value = "s3mp-local-access-key")]
    pub access_key: String,

    /// Secret access key.
    #[arg(long, env = "S3MP_SECRET_KEY", default_value = "s3mp-local-secret-key", hide_env_values = true)]
    pub secret_key: String,

    /// Seconds a presigned URL stays valid.
    #[arg(long, env = "S3MP_PRESIGN_EXPIRY", default_value_t = 3600)]
    pub presign_expiry: u64,

    /// Only keys with this prefix are accepted (empty: any key).
    #[arg(long, env = "S3MP_KEY_PREFIX", default_value = "")]
    pub key_prefix: String,

    /// Origins allowed by CORS, comma-separated; "*" mirrors any origin (dev default).
    #[arg(long, env = "S3MP_ALLOW_ORIGINS", value_delimiter = ',', default_value = "*")]
    pub allow_origins: Vec<String>,

    /// Whether the embedded store's CORS exposes ETag (false only to test that clients
    /// report a store that hides it).
    #[arg(long, env = "S3MP_S3_EXPOSE_ETAG", default_value_t = true, action = clap::ArgAction::Set)]
    pub s3_expose_etag: bool,

    /// Seconds a backend call may take, reading its request body included;
    /// a slower one is answered 408 RequestTimeout.
    #[arg(long, env = "S3MP_CALL_TIMEOUT", default_value_t = 300)]
    pub call_timeout: u64,

    /// Seconds the embedded store waits for the next bytes of a PUT's body
    /// (S3's idle limit); a body that stops arriving is answered 400
    /// RequestTimeout and nothing of it is kept.
    #[arg(long, env = "S3MP_BODY_IDLE_TIMEOUT", default_value_t = 20)]
    pub body_idle_timeout: u64,

    /// Require `Authorization: Bearer <token>` on every backend call.
    #[arg(long, env = "S3MP_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,

    /// Serve GET /uploads/multipart/open?prefix= (the store's open multipart
    /// uploads, by ListMultipartUploads), for tests and debugging. Off by default.
    #[arg(long, env = "S3MP_DEBUG_ENDPOINTS")]
    pub debug_endpoints: bool,

    /// Test aid: share (0..1) of the backend's calls named in --fault-calls that
    /// answer 503 ServiceUnavailable instead of doing their work.
    #[arg(long, env = "S3MP_FAULT_RATE", default_value_t = 0.0)]
    pub fault_rate: f64,

    /// Which calls --fault-rate hits: url, download, init, part-url, complete, abort, parts.
    #[arg(long, env = "S3MP_FAULT_CALLS", value_delimiter = ',', default_value = "part-url")]
    pub fault_calls: Vec<String>,

    /// With --fault-rate: do the work first, then answer 503 (a reply lost on the way back).
    #[arg(long, env = "S3MP_FAULT_AFTER")]
    pub fault_after: bool,

    /// With --fault-rate: do the work, then answer with its status and
    /// headers and cut the connection half-way through the body (a reply
    /// cut off on the way back).
    #[arg(long, env = "S3MP_FAULT_CUT")]
    pub fault_cut: bool,

    /// With --fault-rate: do the work, then answer with its status and a
    /// body that is not JSON (a reply garbled on the way back).
    #[arg(long, env = "S3MP_FAULT_GARBLE")]
    pub fault_garble: bool,

    /// With --fault-rate: do the work, then answer as usual this many
    /// milliseconds later (a reply slow on its way back).
    #[arg(long, env = "S3MP_FAULT_DELAY_MS", default_value_t = 0)]
    pub fault_delay_ms: u64,

    /// With --fault-rate: at most this many calls are hit (0: no limit).
    #[arg(long, env = "S3MP_FAULT_MAX", default_value_t = 0)]
    pub fault_max: u64,

    /// Folder of the built demo page served at /.
    #[arg(long, env = "S3MP_WWW_DIR")]
    pub www_dir: Option<PathBuf>,
}

impl Config {
    /// Defaults for tests: free ports on 127.0.0.1, data in `data_dir`.
    pub fn for_tests(data_dir: PathBuf) -> Self {
        let mut cfg = Self::parse_from(["s3-multipart-server"]);
        cfg.listen = "127.0.0.1:0".parse().expect("literal address");
        cfg.s3_listen = "127.0.0.1:0".parse().expect("literal address");
        cfg.data_dir = data_dir;
        cfg
    }

    /// The built demo page: --www-dir, else `www/dist` of this checkout.
    pub fn www_dir(&self) -> PathBuf {
        self.www_dir.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../www/dist"))
    }

    fn settings(&self, endpoint: Url, public: Url) -> S3Settings {
        S3Settings {
            endpoint,
            public_endpoint: public,
            bucket: self.bucket.clone(),
            region: self.region.clone(),
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            path_style: !self.virtual_host_style,
            presign_expiry: Duration::from_secs(self.presign_expiry.clamp(1, 7 * 24 * 3600)),
        }
    }

    /// Settings of the external endpoint, if one is configured.
    pub fn external_s3(&self) -> anyhow::Result<Option<S3Settings>> {
        Ok(self.s3_endpoint.clone().map(|e| {
            let public = self.s3_public_endpoint.clone().unwrap_or_else(|| e.clone());
            self.settings(e, public)
        }))
    }

    /// Settings of the embedded store listening on `addr`.
    pub fn embedded_s3(&self, addr: SocketAddr) -> anyhow::Result<S3Settings> {
        let endpoint = Url::parse(&format!("http://{addr}"))?;
        let public = self.s3_public_endpoint.clone().unwrap_or_else(|| endpoint.clone());
        Ok(self.settings(endpoint, public))
    }
}
