//! The backend protocol of DESIGN.md §4: REST under `/uploads/...` (and
//! `/api/uploads/...`) and the Lambda envelope at `/invoke` (and `/api/invoke`).
//!
//! Request bodies are read as JSON whatever their `Content-Type` says: the
//! seed's own browser example sends them as `text/plain`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::s3::S3Client;

/// S3's limits, as the backend checks them.
pub const MAX_PART_NUMBER: u32 = 10_000;
/// S3 keys are at most 1024 bytes of UTF-8.
pub const MAX_KEY_BYTES: usize = 1024;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The S3 client.
    pub s3: S3Client,
    /// Keys must start with this (empty: any key).
    pub key_prefix: Arc<str>,
    /// Backend calls must carry `Authorization: Bearer <token>` (none: open).
    pub auth_token: Option<Arc<str>>,
    /// `--debug-endpoints`: serve `GET /uploads/multipart/open`.
    pub debug_endpoints: bool,
    /// How long one call may take, reading its body included (`--call-timeout`).
    pub call_timeout: std::time::Duration,
    /// Injected faults (a test aid), if any.
    pub faults: Option<Arc<crate::faults::Faults>>,
    /// Init's client tokens: an init asked again gets the upload the first created.
    pub init_tokens: Arc<crate::tokens::InitTokens>,
}

/// `POST /uploads/url`, `POST /uploads/multipart/init`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// Object key.
    pub key: String,
    /// MIME type stored with the object.
    #[serde(default)]
    pub content_type: Option<String>,
    /// Init: the algorithm of the checksums the parts and the whole object
    /// will carry (`CRC32`, ...), for S3 to verify.
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
    /// Presigned PUT: the whole file's checksum, signed into the URL.
    #[serde(default)]
    pub checksum: Option<ChecksumField>,
    /// Init: the same for every init of one upload; an init asked again
    /// (its reply was lost) gets the upload the first one created.
    #[serde(default)]
    pub client_token: Option<String>,
    /// Init: the first parts to sign in the same round trip, as part-urls
    /// takes them; the reply's `urls` answers them as part-urls does.
    #[serde(default)]
    pub parts: Option<Vec<PartToSign>>,
}

/// A checksum the client computed, for S3 to verify: `{"algorithm": "CRC32",
/// "value": "<base64>"}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksumField {
    /// CRC32, CRC32C, CRC64NVME, SHA1 or SHA256.
    pub algorithm: String,
    /// Base64 of the checksum's bytes.
    pub value: String,
}

/// Body of `POST /uploads/multipart/part-urls` (several parts at once: one
/// round trip instead of one per part).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartUrlsRequest {
    /// Object key.
    pub key: String,
    /// From init.
    pub upload_id: String,
    /// The parts to sign, each with its checksum if any.
    pub parts: Vec<PartToSign>,
}

/// One part of a [`PartUrlsRequest`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartToSign {
    /// 1..=10,000.
    pub part_number: i64,
    /// The part's checksum, signed into its URL.
    #[serde(default)]
    pub checksum: Option<ChecksumField>,
}

/// The most parts one part-urls call signs.
pub const MAX_PARTS_PER_CALL: usize = 100;

/// Body of `POST /uploads/urls`: presigned PUTs for several files at once
/// (each entry the body of `POST /uploads/url`), so that many small files
/// are signed in one round trip instead of one each. Each entry is judged
/// alone: the reply's `urls` holds, in the order asked, what `/uploads/url`
/// would have answered for it, or `{"status": 4xx, "error": {...}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlsRequest {
    /// One `{key, content_type, checksum}` per file.
    pub files: Vec<Value>,
}

/// The most files one urls call signs.
pub const MAX_FILES_PER_CALL: usize = 100;

/// `POST /uploads/multipart/part-url`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartUrlRequest {
    /// Object key.
    pub key: String,
    /// From init.
    pub upload_id: String,
    /// 1..=10,000.
    pub part_number: i64,
    /// The part's checksum, signed into the URL.
    #[serde(default)]
    pub checksum: Option<ChecksumField>,
}

/// One part in a complete request, named as in S3's API and the seed. Other
/// fields a client keeps with its parts (Uppy sends `size`, `content-length`)
/// are ignored.
#[derive(Debug, Deserialize, Serialize)]
pub struct CompletedPart {
    /// 1..=10,000.
    #[serde(rename = "PartNumber")]
    pub part_number: i64,
    /// The ETag header of the part's PUT response.
    #[serde(rename = "ETag")]
    pub etag: String,
}

/// `POST /uploads/multipart/complete`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompleteRequest {
    /// Object key.
    pub key: String,
    /// From init.
    pub upload_id: String,
    /// The parts to assemble, by number (ascending after sorting; gaps allowed).
    pub parts: Vec<CompletedPart>,
    /// The whole object's checksum (full-object type), for S3 to verify.
    #[serde(default)]
    pub checksum: Option<ChecksumField>,
}

/// `DELETE /uploads/multipart/abort`, `GET /uploads/multipart/parts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRef {
    /// Object key.
    pub key: String,
    /// From init.
    pub upload_id: String,
}

/// Lambda envelope payload of `generate_presigned_download_url`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DownloadRequest {
    key: String,
}

/// The Lambda envelope (the seed's "Lambda Invocation Payloads").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    processor_name: String,
    action: String,
    #[serde(default)]
    payload: Value,
}

/// Routes of the protocol, to be mounted at `/` and `/api`.
pub fn routes(state: AppState) -> Router {
    let uploads = Router::new()
        .route("/url", post(rest_presign_put))
        .route("/urls", post(rest_presign_puts))
        .route("/download/{*key}", get(rest_download))
        .route("/multipart/init", post(rest_init))
        .route("/multipart/part-url", post(rest_part_url))
        .route("/multipart/part-urls", post(rest_part_urls))
        .route("/multipart/complete", post(rest_complete))
        .route("/multipart/abort", delete(rest_abort))
        .route("/multipart/parts", get(rest_list_parts));
    let router = Router::new().nest("/uploads", uploads.fallback(not_found)).route("/invoke", post(invoke));
    let router =
        if state.debug_endpoints { router.route("/uploads/multipart/open", get(debug_open_uploads)) } else { router };
    // The fault-injection layer exists only when a test flag asks for it.
    let router = match state.faults.clone() {
        Some(faults) => router.layer(axum::middleware::from_fn_with_state(faults, crate::faults::inject)),
        None => router,
    };
    router
        .layer(axum::middleware::from_fn(call_to_the_end))
        .layer(axum::middleware::from_fn_with_state(state.clone(), require_token))
        // A call (its body included) that takes longer is cut off: 408.
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, state.call_timeout))
        .layer(axum::middleware::from_fn(json_errors))
        .with_state(state)
}

/// The largest request body a call takes (axum's default limit: backend
/// calls take small JSON bodies; a complete of 10,000 parts is about 660 kB).
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Every call runs to its end in a task of its own, whether its caller stays
/// for the answer or not (a client's timeout, a closed tab). Dropped wherever
/// it stood, an init whose caller left after the store had created the
/// upload, before its client token was kept, left that upload open with
/// nobody knowing it: the init asked again with the token created another.
/// The body is read first, within the call limit (a body that never ends is
/// cut off there, holding nothing after it); only the work goes on alone.
async fn call_to_the_end(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let too_large = std::iter::successors(Some(&e as &dyn std::error::Error), |e| e.source())
                .any(|e| e.is::<http_body_util::LengthLimitError>());
            let status = if too_large { StatusCode::PAYLOAD_TOO_LARGE } else { StatusCode::BAD_REQUEST };
            return status.into_response();
        }
    };
    let req = axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes));
    crate::to_the_end(next.run(req)).await
}

/// An unknown path under the API: a JSON 404.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!(
            "{} is not a call of this backend; see the protocol table (POST /uploads/multipart/init, ...)",
            uri.path()
        ),
    )
}

/// Every error under the API is JSON: axum's own refusals (a wrong method's
/// 405, an oversized body's 413, a bad extractor's 4xx) are rewritten.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let method = req.method().clone();
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (code, message) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ("MethodNotAllowed", format!("{method} is not allowed here; see the protocol table for each call's method"))
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("RequestTooLarge", "the request body is too large; backend calls take small JSON bodies".to_owned())
        }
        StatusCode::NOT_FOUND => ("NotFound", "not a call of this backend".to_owned()),
        StatusCode::REQUEST_TIMEOUT => {
            ("RequestTimeout", "the request took too long (a slow body is cut off); send it again".to_owned())
        }
        s if s.is_client_error() => ("BadRequest", format!("the request was refused ({s})")),
        s => ("InternalError", format!("the backend failed ({s})")),
    };
    let mut out = ApiError::new(status, code, message).into_response();
    if let Some(allow) = resp.headers().get(axum::http::header::ALLOW) {
        out.headers_mut().insert(axum::http::header::ALLOW, allow.clone());
    }
    out
}

/// With `--allow-origins` set to a list: a call whose `Origin` is neither
/// listed nor the backend's own is refused before any work. (CORS alone only
/// stops the browser from *reading* the answer: a `text/plain` POST is a
/// "simple" request that no preflight stops.)
pub async fn require_origin(
    State(origins): State<Option<Arc<[String]>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let Some(allowed) = origins else { return next.run(req).await };
    let path = req.uri().path();
    let api = path.starts_with("/uploads/") || path.starts_with("/api/") || path == "/invoke";
    let origin = req.headers().get(axum::http::header::ORIGIN).and_then(|v| v.to_str().ok());
    if let (true, Some(origin)) = (api, origin) {
        let own = req.headers().get(axum::http::header::HOST).and_then(|h| h.to_str().ok()).is_some_and(|host| {
            origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")) == Some(host)
        });
        if !own && !allowed.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "OriginNotAllowed",
                format!("origin {origin} is not allowed to call this backend; add it to --allow-origins"),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Refuses calls without the configured bearer token (when one is configured).
async fn require_token(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if let Some(token) = &s.auth_token {
        use subtle::ConstantTimeEq as _;
        let given = req.headers().get(axum::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        // The scheme is case-insensitive (RFC 9110); the token is compared in constant time.
        let presented = given
            .and_then(|g| g.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        let ok = presented.is_some_and(|t| bool::from(t.as_bytes().ct_eq(token.as_bytes())));
        if !ok {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "this backend needs an Authorization: Bearer <token> header (the client's `headers` option)",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// `GET /uploads/multipart/open?prefix=`: the store's open multipart uploads
/// (ListMultipartUploads; a debugging and test aid, off unless `--debug-endpoints`).
async fn debug_open_uploads(State(s): State<AppState>, RawQuery(query): RawQuery) -> Reply {
    #[derive(Deserialize)]
    struct Q {
        #[serde(default)]
        prefix: String,
    }
    let uri: axum::http::Uri = format!("/?{}", query.unwrap_or_default())
        .parse()
        .map_err(|_| ApiError::invalid("InvalidQuery", "the query string is malformed; send ?prefix=..."))?;
    let q = Query::<Q>::try_from_uri(&uri).map_err(|e| ApiError::invalid("InvalidQuery", e.to_string()))?.0;
    let found = s.s3.open_uploads(&q.prefix).await?;
    let uploads: Vec<Value> = found
        .into_iter()
        .filter(|(k, _)| k.starts_with(&q.prefix))
        .map(|(key, upload_id)| json!({ "key": key, "upload_id": upload_id }))
        .collect();
    Ok(Json(json!({ "uploads": uploads })))
}

// ---------------------------------------------------------------- validation

/// Checks an object key: 1..=1024 bytes, no control characters, no `.`/`..`
/// segment, no leading `/`, and the configured prefix.
pub fn validate_key(key: &str, required_prefix: &str) -> Result<(), ApiError> {
    let bad = |msg: String| ApiError::invalid("InvalidKey", msg);
    if key.is_empty() {
        return Err(bad("key is empty: give the object key, for example \"uploads/photo.jpg\"".into()));
    }
    if key.len() > MAX_KEY_BYTES {
        return Err(bad(format!(
            "key is {} bytes long; S3 keys are at most {MAX_KEY_BYTES} bytes of UTF-8",
            key.len()
        )));
    }
    if let Some(c) = key.chars().find(|c| c.is_control()) {
        return Err(bad(format!("key contains the control character U+{:04X}; remove it", c as u32)));
    }
    if key.starts_with('/') {
        return Err(bad("key starts with '/'; give it without the leading slash".into()));
    }
    if key.split('/').any(|seg| seg == ".." || seg == ".") {
        return Err(bad("key has a '.' or '..' path segment; keys must not walk up or stay in place".into()));
    }
    if !key.starts_with(required_prefix) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "KeyOutsidePrefix",
            format!("key must start with {required_prefix:?}: this backend only accepts keys under that prefix"),
        ));
    }
    Ok(())
}

fn validate_upload_id(upload_id: &str) -> Result<(), ApiError> {
    if upload_id.is_empty() || upload_id.len() > 1024 || upload_id.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(ApiError::invalid(
            "InvalidUploadId",
            "upload_id must be the non-empty id returned by /uploads/multipart/init",
        ));
    }
    Ok(())
}

fn validate_part_number(n: i64) -> Result<u16, ApiError> {
    if (1..=i64::from(MAX_PART_NUMBER)).contains(&n) {
        Ok(n as u16)
    } else {
        Err(ApiError::invalid(
            "InvalidPartNumber",
            format!("part_number is {n}; S3 part numbers are 1..={MAX_PART_NUMBER}"),
        ))
    }
}

fn validate_content_type(ct: Option<&str>) -> Result<String, ApiError> {
    let ct = ct.filter(|s| !s.is_empty()).unwrap_or("application/octet-stream");
    if ct.len() > 255 || ct.chars().any(|c| c.is_control() || !c.is_ascii()) {
        return Err(ApiError::invalid(
            "InvalidContentType",
            "content_type must be a MIME type of printable ASCII, at most 255 characters, such as \"application/zip\"",
        ));
    }
    Ok(ct.to_owned())
}

/// The S3 algorithms a client may ask for, and the byte length of each one's checksum.
const CHECKSUM_ALGORITHMS: &[(&str, usize)] =
    &[("CRC32", 4), ("CRC32C", 4), ("CRC64NVME", 8), ("SHA1", 20), ("SHA256", 32)];

fn validate_algorithm(alg: &str) -> Result<(&'static str, usize), ApiError> {
    CHECKSUM_ALGORITHMS.iter().copied().find(|(name, _)| name.eq_ignore_ascii_case(alg)).ok_or_else(|| {
        ApiError::invalid(
            "InvalidChecksum",
            format!(
                "checksum algorithm {:?} is not one S3 knows; use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256",
                alg.chars().take(40).collect::<String>()
            ),
        )
    })
}

/// A checksum to sign: its header (`x-amz-checksum-crc32`) and value, checked
/// to be the base64 of a checksum of that algorithm.
fn validate_checksum(c: &ChecksumField) -> Result<(String, String), ApiError> {
    use base64::Engine as _;
    let (name, len) = validate_algorithm(&c.algorithm)?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(&c.value).ok();
    if decoded.is_none_or(|d| d.len() != len) {
        return Err(ApiError::invalid(
            "InvalidChecksum",
            format!("checksum.value must be the base64 of the {len} bytes of a {name} checksum"),
        ));
    }
    Ok((format!("x-amz-checksum-{}", name.to_ascii_lowercase()), c.value.clone()))
}

/// A part to sign, checked: its number and its checksum header (name, value).
type CheckedPart = (u16, Option<(String, String)>);

/// The parts of part-urls or init, checked all before any is signed: at
/// least `fewest` and at most [`MAX_PARTS_PER_CALL`], each number valid and
/// listed once, each checksum well-formed.
fn check_parts(parts: &[PartToSign], fewest: usize) -> Result<Vec<CheckedPart>, ApiError> {
    if parts.len() < fewest || parts.len() > MAX_PARTS_PER_CALL {
        return Err(ApiError::invalid(
            "InvalidParts",
            format!("parts has {} entries; ask for {fewest} to {MAX_PARTS_PER_CALL} parts per call", parts.len()),
        ));
    }
    let mut checked: Vec<CheckedPart> = Vec::with_capacity(parts.len());
    for p in parts {
        let n = validate_part_number(p.part_number)?;
        if checked.iter().any(|(m, _)| *m == n) {
            return Err(ApiError::invalid("InvalidParts", format!("part {n} is asked for twice; list each part once")));
        }
        checked.push((n, p.checksum.as_ref().map(validate_checksum).transpose()?));
    }
    Ok(checked)
}

/// Parses a JSON body whatever its Content-Type.
fn parse_json<T: DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("InvalidJson", format!("the request body is empty; send JSON like {shape}")));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            "InvalidJson",
            format!("the request body is not the expected JSON ({e}); send JSON like {shape}"),
        )
    })
}

fn parse_value<T: DeserializeOwned>(payload: Value, shape: &str) -> Result<T, ApiError> {
    serde_json::from_value(payload).map_err(|e| {
        ApiError::invalid(
            "InvalidJson",
            format!("the payload is not the expected JSON ({e}); send a payload like {shape}"),
        )
    })
}

const KEY_SHAPE: &str = r#"{"key": "uploads/file.zip", "content_type": "application/zip"}"#;
const URLS_SHAPE: &str = r#"{"files": [{"key": "uploads/a.txt", "content_type": "text/plain"}]}"#;
const PART_SHAPE: &str = r#"{"key": "...", "upload_id": "...", "part_number": 1}"#;
const PARTS_SHAPE: &str = r#"{"key": "...", "upload_id": "...", "parts": [{"part_number": 1}, {"part_number": 2}]}"#;
const COMPLETE_SHAPE: &str = r#"{"key": "...", "upload_id": "...", "parts": [{"PartNumber": 1, "ETag": "\"...\""}]}"#;
const REF_SHAPE: &str = r#"{"key": "...", "upload_id": "..."}"#;

// ---------------------------------------------------------------- operations

impl AppState {
    fn presign_put(&self, req: KeyRequest) -> Result<Value, ApiError> {
        validate_key(&req.key, &self.key_prefix)?;
        if req.parts.is_some() {
            return Err(ApiError::invalid(
                "InvalidParts",
                "a presigned PUT has no parts: `parts` belongs to /uploads/multipart/init and part-urls",
            ));
        }
        let content_type = validate_content_type(req.content_type.as_deref())?;
        let checksum = req.checksum.as_ref().map(validate_checksum).transpose()?;
        let url = self.s3.presign_put(&req.key, &content_type, checksum.as_ref());
        // The signed headers the PUT must send, as they were signed.
        let mut headers = json!({ "content-type": content_type });
        if let Some((name, value)) = checksum {
            headers[name] = value.into();
        }
        Ok(json!({ "url": url.as_str(), "key": req.key, "headers": headers }))
    }

    fn presign_puts(&self, req: UrlsRequest) -> Result<Value, ApiError> {
        if req.files.is_empty() || req.files.len() > MAX_FILES_PER_CALL {
            return Err(ApiError::invalid(
                "InvalidFiles",
                format!("files has {} entries; ask for 1 to {MAX_FILES_PER_CALL} files per call", req.files.len()),
            ));
        }
        let urls: Vec<Value> = req
            .files
            .into_iter()
            .map(|file| match parse_value(file, KEY_SHAPE).and_then(|r| self.presign_put(r)) {
                Ok(signed) => signed,
                Err(e) => json!({ "status": e.status.as_u16(), "error": { "code": e.code, "message": e.message } }),
            })
            .collect();
        Ok(json!({ "urls": urls }))
    }

    fn download(&self, key: &str) -> Result<Value, ApiError> {
        validate_key(key, &self.key_prefix)?;
        Ok(json!({ "url": self.s3.presign_get(key).as_str() }))
    }

    async fn init(&self, req: KeyRequest) -> Result<Value, ApiError> {
        validate_key(&req.key, &self.key_prefix)?;
        let content_type = validate_content_type(req.content_type.as_deref())?;
        let algorithm = req.checksum_algorithm.as_deref().map(validate_algorithm).transpose()?.map(|(name, _)| name);
        // Checked before the upload is created: a refusal creates nothing.
        let parts = req.parts.as_deref().map(|p| check_parts(p, 0)).transpose()?;
        // S3 refuses a part whose checksum is not the upload's algorithm
        // (or that has one where the upload has none): so does init, before
        // it creates the upload, rather than sign URLs that cannot be used.
        let header = algorithm.map(|a| format!("x-amz-checksum-{}", a.to_ascii_lowercase()));
        if let Some((n, Some((name, _)))) =
            parts.iter().flatten().find(|(_, c)| c.as_ref().is_some_and(|(name, _)| Some(name) != header.as_ref()))
        {
            return Err(ApiError::invalid(
                "InvalidChecksum",
                format!(
                    "part {n}'s checksum is {}, but the upload is created with {}: give each part a checksum of the upload's checksum_algorithm",
                    name.trim_start_matches("x-amz-checksum-").to_ascii_uppercase(),
                    algorithm.map_or("no checksum_algorithm".into(), |a| format!("checksum_algorithm {a}"))
                ),
            ));
        }
        let create = || self.s3.create_multipart_upload(&req.key, &content_type, algorithm);
        let upload_id = match req.client_token.as_deref() {
            None => create().await?,
            Some(token) => {
                crate::tokens::validate(token)?;
                let cell = self.init_tokens.cell(token, (req.key.clone(), content_type.clone(), algorithm))?;
                cell.get_or_try_init(create).await?.clone()
            }
        };
        match parts {
            Some(parts) => {
                let urls = self.sign_parts(&req.key, &upload_id, parts);
                Ok(json!({ "upload_id": upload_id, "key": req.key, "urls": urls }))
            }
            None => Ok(json!({ "upload_id": upload_id, "key": req.key })),
        }
    }

    fn part_url(&self, req: PartUrlRequest) -> Result<Value, ApiError> {
        validate_key(&req.key, &self.key_prefix)?;
        validate_upload_id(&req.upload_id)?;
        let n = validate_part_number(req.part_number)?;
        let checksum = req.checksum.as_ref().map(validate_checksum).transpose()?;
        let url = self.s3.presign_part(&req.key, &req.upload_id, n, checksum.as_ref());
        match checksum {
            // The PUT must send the checksum as signed; the store verifies it.
            Some((name, value)) => Ok(json!({ "url": url.as_str(), "headers": { name: value } })),
            None => Ok(json!({ "url": url.as_str() })),
        }
    }

    /// Several parts' URLs at once: every part is checked before any is signed.
    fn part_urls(&self, req: PartUrlsRequest) -> Result<Value, ApiError> {
        validate_key(&req.key, &self.key_prefix)?;
        validate_upload_id(&req.upload_id)?;
        let checked = check_parts(&req.parts, 1)?;
        Ok(json!({ "urls": self.sign_parts(&req.key, &req.upload_id, checked) }))
    }

    /// The URLs of checked parts, as part-urls (and init) answer them.
    fn sign_parts(&self, key: &str, upload_id: &str, parts: Vec<CheckedPart>) -> Vec<Value> {
        parts
            .into_iter()
            .map(|(n, checksum)| {
                let url = self.s3.presign_part(key, upload_id, n, checksum.as_ref());
                match checksum {
                    Some((name, value)) => json!({ "part_number": n, "url": url.as_str(), "headers": { name: value } }),
                    None => json!({ "part_number": n, "url": url.as_str() }),
                }
            })
            .collect()
    }

    async fn complete(&self, req: CompleteRequest) -> Result<Value, ApiError> {
        validate_key(&req.key, &self.key_prefix)?;
        validate_upload_id(&req.upload_id)?;
        let checksum = req.checksum.as_ref().map(validate_checksum).transpose()?;
        let mut parts = req.parts;
        if parts.is_empty() {
            return Err(ApiError::invalid(
                "InvalidParts",
                "parts is empty; list every uploaded part as {\"PartNumber\": n, \"ETag\": \"...\"}",
            ));
        }
        for p in &parts {
            validate_part_number(p.part_number)?;
            if p.etag.trim().is_empty() || p.etag.len() > 1024 || p.etag.chars().any(char::is_control) {
                return Err(ApiError::invalid(
                    "InvalidETag",
                    format!(
                        "part {} has an empty or malformed ETag; send the ETag header of that part's PUT response",
                        p.part_number
                    ),
                ));
            }
        }
        // Ascending, as S3 wants them; gaps are fine (S3 allows them). A part
        // listed twice is refused here, by its number: sorted, S3 would take
        // the last entry of the two (a list naming a part twice apart is
        // InvalidPartOrder there), and a client that lists a part twice has
        // lost track of which PUT of it counts.
        parts.sort_by_key(|p| p.part_number);
        if let Some(twice) = parts.windows(2).find(|w| w[0].part_number == w[1].part_number) {
            return Err(ApiError::invalid(
                "InvalidParts",
                format!(
                    "part {} is listed twice; list each uploaded part once, with the ETag of its last PUT",
                    twice[0].part_number
                ),
            ));
        }
        let parts: Vec<(u16, String)> = parts.into_iter().map(|p| (p.part_number as u16, p.etag)).collect();
        let done = self.s3.complete_idempotent(&req.key, &req.upload_id, &parts, checksum.as_ref()).await?;
        Ok(json!({ "key": req.key, "etag": done.etag, "location": done.location }))
    }

    async fn abort(&self, req: UploadRef) -> Result<Value, ApiError> {
        validate_key(&req.key, &self.key_prefix)?;
        validate_upload_id(&req.upload_id)?;
        self.s3.abort_multipart_upload(&req.key, &req.upload_id).await?;
        Ok(json!({}))
    }

    async fn list_parts(&self, req: UploadRef) -> Result<Value, ApiError> {
        validate_key(&req.key, &self.key_prefix)?;
        validate_upload_id(&req.upload_id)?;
        let parts = self.s3.list_parts(&req.key, &req.upload_id).await?;
        // Each part's CRC32 where the store lists it (an upload created with
        // checksums): the client compares it with the file's when it resumes.
        let parts: Vec<Value> = parts
            .into_iter()
            .map(|p| {
                let mut part = json!({ "PartNumber": p.part_number, "ETag": p.etag, "Size": p.size });
                if let Some(crc) = p.crc32 {
                    part["ChecksumCRC32"] = Value::String(crc);
                }
                part
            })
            .collect();
        Ok(json!({ "parts": parts }))
    }
}

// ---------------------------------------------------------------- REST handlers

type Reply = Result<Json<Value>, ApiError>;

async fn rest_presign_put(State(s): State<AppState>, body: Bytes) -> Reply {
    s.presign_put(parse_json(&body, KEY_SHAPE)?).map(Json)
}

async fn rest_download(State(s): State<AppState>, Path(key): Path<String>) -> Reply {
    s.download(&key).map(Json)
}

async fn rest_init(State(s): State<AppState>, body: Bytes) -> Reply {
    s.init(parse_json(&body, KEY_SHAPE)?).await.map(Json)
}

async fn rest_presign_puts(State(s): State<AppState>, body: Bytes) -> Reply {
    s.presign_puts(parse_json(&body, URLS_SHAPE)?).map(Json)
}

async fn rest_part_url(State(s): State<AppState>, body: Bytes) -> Reply {
    s.part_url(parse_json(&body, PART_SHAPE)?).map(Json)
}

async fn rest_part_urls(State(s): State<AppState>, body: Bytes) -> Reply {
    s.part_urls(parse_json(&body, PARTS_SHAPE)?).map(Json)
}

async fn rest_complete(State(s): State<AppState>, body: Bytes) -> Reply {
    s.complete(parse_json(&body, COMPLETE_SHAPE)?).await.map(Json)
}

/// Abort takes `{key, upload_id}` as a JSON body or as query parameters.
async fn rest_abort(State(s): State<AppState>, RawQuery(query): RawQuery, body: Bytes) -> Reply {
    let req = if body.iter().all(u8::is_ascii_whitespace) {
        parse_query(query.as_deref())?
    } else {
        parse_json(&body, REF_SHAPE)?
    };
    s.abort(req).await.map(Json)
}

async fn rest_list_parts(State(s): State<AppState>, RawQuery(query): RawQuery) -> Reply {
    s.list_parts(parse_query(query.as_deref())?).await.map(Json)
}

fn parse_query(query: Option<&str>) -> Result<UploadRef, ApiError> {
    let uri: axum::http::Uri = format!("/?{}", query.unwrap_or(""))
        .parse()
        .map_err(|_| ApiError::invalid("InvalidQuery", "the query string is malformed; send ?key=...&upload_id=..."))?;
    Query::<UploadRef>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::invalid("InvalidQuery", format!("{e}; send ?key=...&upload_id=...")))
}

// ---------------------------------------------------------------- Lambda envelope

async fn invoke(State(s): State<AppState>, body: Bytes) -> Reply {
    let env: Envelope = parse_json(&body, r#"{"processor_name": "s3_upload", "action": "...", "payload": {...}}"#)?;
    if env.processor_name != "s3_upload" {
        return Err(ApiError::invalid(
            "UnknownProcessor",
            format!("processor_name is {:?}; this backend serves \"s3_upload\"", env.processor_name),
        ));
    }
    let p = env.payload;
    let value = match env.action.as_str() {
        "generate_presigned_upload_url" => s.presign_put(parse_value(p, KEY_SHAPE)?)?,
        "generate_presigned_upload_urls" => s.presign_puts(parse_value(p, URLS_SHAPE)?)?,
        "generate_presigned_download_url" => {
            s.download(&parse_value::<DownloadRequest>(p, r#"{"key": "..."}"#)?.key)?
        }
        "initiate_multipart_upload" => s.init(parse_value(p, KEY_SHAPE)?).await?,
        "generate_presigned_part_upload_url" => s.part_url(parse_value(p, PART_SHAPE)?)?,
        "generate_presigned_part_upload_urls" => s.part_urls(parse_value(p, PARTS_SHAPE)?)?,
        "complete_multipart_upload" => s.complete(parse_value(p, COMPLETE_SHAPE)?).await?,
        "abort_multipart_upload" => s.abort(parse_value(p, REF_SHAPE)?).await?,
        "list_parts" => s.list_parts(parse_value(p, REF_SHAPE)?).await?,
        other => {
            return Err(ApiError::invalid(
                "UnknownAction",
                format!(
                    "action {other:?} is unknown; use one of initiate_multipart_upload, generate_presigned_part_upload_url, \
                     generate_presigned_part_upload_urls, \
                     complete_multipart_upload, abort_multipart_upload, list_parts, generate_presigned_upload_url, \
                     generate_presigned_upload_urls, generate_presigned_download_url"
                ),
            ));
        }
    };
    Ok(Json(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let ok = ["a", "dir/file.zip", "a..b/c", "ünï/cødé"];
        for k in ok {
            assert!(validate_key(k, "").is_ok(), "{k}");
        }
        let long = "x".repeat(1025);
        let bad = ["", "/abs", "a/../b", "..", "a/./b", "tab\there", "nul\0", long.as_str()];
        for k in bad {
            assert_eq!(validate_key(k, "").unwrap_err().status, StatusCode::BAD_REQUEST, "{k:?}");
        }
        assert_eq!(validate_key("other/x", "users/").unwrap_err().status, StatusCode::FORBIDDEN);
        assert!(validate_key("users/x", "users/").is_ok());
    }

    #[test]
    fn part_numbers() {
        for (n, ok) in [(0, false), (1, true), (10_000, true), (10_001, false), (-1, false)] {
            assert_eq!(validate_part_number(n).is_ok(), ok, "{n}");
        }
    }
}
