//! The shared harness of the server tests: a reference server with its
//! embedded store in a temporary folder, and a client that speaks to both.
#![allow(dead_code)]

use reqwest::{Client, StatusCode};
use s3_multipart_server::{Config, Running, start};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const MIB: usize = 1024 * 1024;

pub struct Harness {
    pub server: Running,
    pub http: Client,
    pub _dir: tempfile::TempDir,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// A server with `tweak`ed settings. With `S3MP_TEST_S3_ENDPOINT` set (and
    /// `S3MP_TEST_S3_ACCESS_KEY` / `S3MP_TEST_S3_SECRET_KEY`), it points at that
    /// store instead of its embedded one, in a fresh bucket of its own.
    pub async fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut cfg = Config::for_tests(dir.path().join("data"));
        if let Ok(endpoint) = std::env::var("S3MP_TEST_S3_ENDPOINT") {
            cfg.s3_endpoint = Some(endpoint.parse().expect("S3MP_TEST_S3_ENDPOINT is a URL"));
            cfg.access_key = std::env::var("S3MP_TEST_S3_ACCESS_KEY").expect("S3MP_TEST_S3_ACCESS_KEY");
            cfg.secret_key = std::env::var("S3MP_TEST_S3_SECRET_KEY").expect("S3MP_TEST_S3_SECRET_KEY");
            cfg.bucket = format!("t-{:016x}", fastrand_u64());
        }
        tweak(&mut cfg);
        let server = start(cfg).await.expect("server starts");
        if server.s3_addr.is_none() {
            let s = &server.s3;
            let style = if s.path_style { rusty_s3::UrlStyle::Path } else { rusty_s3::UrlStyle::VirtualHost };
            let bucket =
                rusty_s3::Bucket::new(s.endpoint.clone(), style, s.bucket.clone(), s.region.clone()).expect("bucket");
            let creds = rusty_s3::Credentials::new(s.access_key.clone(), s.secret_key.clone());
            use rusty_s3::S3Action as _;
            let url = rusty_s3::actions::CreateBucket::new(&bucket, &creds).sign(std::time::Duration::from_secs(60));
            let resp = Client::new().put(url).send().await.expect("CreateBucket");
            assert!(resp.status().is_success(), "CreateBucket: {}", resp.text().await.unwrap_or_default());
        }
        Self { server, http: Client::new(), _dir: dir }
    }

    /// Whether the server runs its embedded store (some tests check its own behaviour).
    pub fn embedded(&self) -> bool {
        self.server.s3_addr.is_some()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.api_url())
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(b) = body {
            // Like the seed's browser example: JSON text, no JSON content type.
            req = req.header("content-type", "text/plain;charset=UTF-8").body(b.to_string());
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("reply of {path} is not JSON: {text:?}"));
        (status, value)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn init(&self, key: &str) -> String {
        let (st, v) =
            self.post("/uploads/multipart/init", json!({"key": key, "content_type": "application/octet-stream"})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["key"], key);
        v["upload_id"].as_str().expect("upload_id").to_owned()
    }

    pub async fn part_url(&self, key: &str, upload_id: &str, n: u32) -> String {
        let (st, v) = self
            .post("/uploads/multipart/part-url", json!({"key": key, "upload_id": upload_id, "part_number": n}))
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        v["url"].as_str().expect("url").to_owned()
    }

    /// PUTs bytes to a presigned URL, returns the response's ETag.
    pub async fn put(&self, url: &str, bytes: Vec<u8>) -> String {
        self.put_with(url, &[], bytes).await
    }

    /// PUTs bytes to the URL of a `/uploads/url` reply, with the headers it says were signed.
    pub async fn put_signed(&self, reply: &Value, bytes: Vec<u8>) -> String {
        let headers: Vec<(String, String)> = reply["headers"]
            .as_object()
            .expect("the reply names the signed headers")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("header value").to_owned()))
            .collect();
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.put_with(reply["url"].as_str().expect("url"), &pairs, bytes).await
    }

    pub async fn put_with(&self, url: &str, headers: &[(&str, &str)], bytes: Vec<u8>) -> String {
        let mut req = self.http.put(url).body(bytes);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("PUT sent");
        let status = resp.status();
        let etag = resp.headers().get("etag").map(|v| v.to_str().expect("ascii").to_owned());
        assert!(status.is_success(), "PUT answered {status}: {}", resp.text().await.unwrap_or_default());
        etag.expect("PUT response has an ETag")
    }

    pub async fn download(&self, key: &str) -> Vec<u8> {
        let (st, v) = self.call(reqwest::Method::GET, &format!("/uploads/download/{key}"), None).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let resp = self.http.get(v["url"].as_str().expect("url")).send().await.expect("GET sent");
        assert_eq!(resp.status(), StatusCode::OK);
        resp.bytes().await.expect("object body").to_vec()
    }

    /// Upload ids the store still holds open (ListMultipartUploads of the bucket).
    pub async fn open_uploads(&self) -> Vec<String> {
        let client = s3_multipart_server::s3::S3Client::new(&self.server.s3).expect("client");
        client.open_uploads("").await.expect("ListMultipartUploads").into_iter().map(|(_, id)| id).collect()
    }
}

fn fastrand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}

/// Deterministic bytes that differ per part and position.
pub fn bytes(len: usize, seed: u8) -> Vec<u8> {
    let mut rng = fastrand_like(seed as u64 + 1);
    (0..len).map(|_| rng()).collect()
}

pub fn fastrand_like(mut state: u64) -> impl FnMut() -> u8 {
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 24) as u8
    }
}

pub fn sha(b: &[u8]) -> String {
    format!("{:x}", Sha256::digest(b))
}

pub fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or_else(|| panic!("no error JSON in {v}"))
}
