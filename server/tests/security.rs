//! Hostile requests against the reference backend and its embedded store.
//! Each asserts the exact answer and that nothing changed: no object written
//! or replaced, no upload created, completed or aborted, no part replaced.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use md5::{Digest as _, Md5};
use reqwest::StatusCode;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn md5_b64(bytes: &[u8]) -> String {
    b64(&Md5::digest(bytes))
}

fn crc32_b64(bytes: &[u8]) -> String {
    b64(&crc32fast_like(bytes).to_be_bytes())
}

/// CRC-32 (IEEE), bitwise: only for making test values.
fn crc32fast_like(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

impl Harness {
    /// The object at `key` as the store serves it: (bytes, Content-Type), or `None` (404).
    async fn object(&self, key: &str) -> Option<(Vec<u8>, String)> {
        // Percent-encoded as the client does (encodeURIComponent per path segment).
        let path: String = key
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
                _ => format!("%{b:02X}"),
            })
            .collect();
        let (st, v) = self.call(reqwest::Method::GET, &format!("/uploads/download/{path}"), None).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let resp = self.http.get(v["url"].as_str().expect("url")).send().await.expect("GET");
        if resp.status() == StatusCode::NOT_FOUND {
            return None;
        }
        assert_eq!(resp.status(), StatusCode::OK);
        let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap_or("").to_owned()).unwrap_or_default();
        Some((resp.bytes().await.expect("body").to_vec(), ct))
    }

    /// Stores `bytes` at `key` through a single-PUT URL.
    async fn store(&self, key: &str, content_type: &str, bytes: Vec<u8>) {
        let (st, v) = self.post("/uploads/url", json!({"key": key, "content_type": content_type})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        self.put_signed(&v, bytes).await;
    }

    /// The parts of an upload as the backend lists them: (number, ETag).
    async fn parts(&self, key: &str, upload_id: &str) -> (StatusCode, Vec<(u64, String)>) {
        let (st, v) = self
            .call(reqwest::Method::GET, &format!("/uploads/multipart/parts?key={key}&upload_id={upload_id}"), None)
            .await;
        let parts = v["parts"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|p| (p["PartNumber"].as_u64().unwrap_or(0), p["ETag"].as_str().unwrap_or("").to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        (st, parts)
    }

    /// A PUT to `url` with extra headers; returns (status, body).
    async fn raw_put(&self, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (StatusCode, String) {
        let mut req = self.http.put(url).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("PUT");
        (resp.status(), resp.text().await.unwrap_or_default())
    }

    /// The store's bucket, to sign requests the backend never signs (signed checksum headers).
    fn bucket(&self) -> (Bucket, Credentials) {
        let s = &self.server.s3;
        let bucket =
            Bucket::new(s.endpoint.clone(), UrlStyle::Path, s.bucket.clone(), s.region.clone()).expect("bucket");
        (bucket, Credentials::new(s.access_key.clone(), s.secret_key.clone()))
    }
}

fn s3_code(body: &str) -> &str {
    body.split("<Code>").nth(1).and_then(|r| r.split("</Code>").next()).unwrap_or("")
}

#[tokio::test]
async fn presigned_urls_refuse_unsigned_amz_headers_and_copy_nothing() {
    let h = Harness::with(|c| c.key_prefix = "users/alice/".into()).await;
    // A secret outside the prefix, written with the store's own credentials.
    let (bucket, creds) = h.bucket();
    let secret = b"secret outside the prefix".to_vec();
    let url = rusty_s3::actions::PutObject::new(&bucket, Some(&creds), "admin/secret").sign(Duration::from_secs(60));
    assert_eq!(h.raw_put(url.as_str(), &[], secret.clone()).await.0, StatusCode::OK);

    let (_, single) = h.post("/uploads/url", json!({"key": "users/alice/copy", "content_type": "text/plain"})).await;
    let single_url = single["url"].as_str().expect("url").to_owned();
    let upload_id = h.init("users/alice/mp").await;
    let part_url = h.part_url("users/alice/mp", &upload_id, 1).await;
    let hostile: [(&str, &str); 5] = [
        ("x-amz-copy-source", "uploads/admin/secret"),
        ("x-amz-copy-source", "/uploads/admin/secret"),
        ("x-amz-meta-owner", "mallory"),
        ("x-amz-acl", "public-read"),
        ("x-amz-content-sha256", "0000000000000000000000000000000000000000000000000000000000000000"),
    ];
    for (name, value) in hostile {
        for url in [&single_url, &part_url] {
            let (st, body) = h.raw_put(url, &[(name, value), ("content-type", "text/plain")], b"x".to_vec()).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{name} on {url}: {body}");
            assert_eq!(s3_code(&body), "AccessDenied", "{body}");
            assert!(body.contains(name), "the refusal names the unsigned header: {body}");
        }
    }
    assert_eq!(h.object("users/alice/copy").await, None, "nothing was copied or written");
    assert!(h.parts("users/alice/mp", &upload_id).await.1.is_empty(), "no part was stored");
    let (st, _) = h.call(reqwest::Method::GET, "/uploads/download/admin/secret", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "the secret stays out of reach of the backend too");
}

#[tokio::test]
async fn a_refused_put_changes_nothing() {
    let h = Harness::new().await;
    let good = bytes(3000, 1);
    h.store("keep/me.bin", "application/octet-stream", good.clone()).await;
    let (_, v) =
        h.post("/uploads/url", json!({"key": "keep/me.bin", "content_type": "application/octet-stream"})).await;
    let url = v["url"].as_str().expect("url");
    let evil = bytes(3000, 2);
    let ct = ("content-type", "application/octet-stream");
    // A Content-MD5 of other bytes: BadDigest, the stored object stays.
    let (st, body) = h.raw_put(url, &[ct, ("content-md5", &md5_b64(&good))], evil.clone()).await;
    assert_eq!((st, s3_code(&body)), (StatusCode::BAD_REQUEST, "BadDigest"), "{body}");
    // Not base64 of 16 bytes: InvalidDigest.
    for bad in ["not base64!", "AAAA"] {
        let (st, body) = h.raw_put(url, &[ct, ("content-md5", bad)], evil.clone()).await;
        assert_eq!((st, s3_code(&body)), (StatusCode::BAD_REQUEST, "InvalidDigest"), "{bad}: {body}");
    }
    // Another content type than the one signed: SignatureDoesNotMatch.
    let (st, body) = h.raw_put(url, &[("content-type", "text/html")], evil.clone()).await;
    assert_eq!((st, s3_code(&body)), (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"), "{body}");
    assert_eq!(h.object("keep/me.bin").await.map(|o| o.0), Some(good.clone()), "the object is untouched");
    // The right digest goes through.
    let (st, body) = h.raw_put(url, &[ct, ("content-md5", &md5_b64(&evil))], evil.clone()).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert_eq!(h.object("keep/me.bin").await.map(|o| o.0), Some(evil));
}

#[tokio::test]
async fn a_refused_part_keeps_the_part_stored_before() {
    let h = Harness::new().await;
    let key = "parts/digest.bin";
    // An upload with CRC32 checksums, whose parts may carry one.
    let (st, v) = h
        .post(
            "/uploads/multipart/init",
            json!({"key": key, "content_type": "application/octet-stream", "checksum_algorithm": "CRC32"}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    let upload_id = v["upload_id"].as_str().expect("upload_id").to_owned();
    let url = h.part_url(key, &upload_id, 1).await;
    let good = bytes(6 * MIB, 3);
    let etag = h.put(&url, good.clone()).await;
    let evil = bytes(6 * MIB, 4);
    let (st, body) = h.raw_put(&url, &[("content-md5", &md5_b64(&good))], evil.clone()).await;
    assert_eq!((st, s3_code(&body)), (StatusCode::BAD_REQUEST, "BadDigest"), "{body}");
    // Signed checksum headers are verified too, before the part is replaced;
    // one of another algorithm than the upload's is refused as S3 does.
    let (bucket, creds) = h.bucket();
    for (header, value, code) in [
        ("x-amz-checksum-crc32", crc32_b64(&good), "BadDigest"),
        ("x-amz-checksum-sha256", b64(&<sha2::Sha256 as sha2::Digest>::digest(&evil)), "InvalidRequest"),
    ] {
        let mut action = rusty_s3::actions::UploadPart::new(&bucket, Some(&creds), key, 1, &upload_id);
        action.headers_mut().insert(header, value.clone());
        let signed = action.sign(Duration::from_secs(60));
        let (st, body) = h.raw_put(signed.as_str(), &[(header, &value)], evil.clone()).await;
        assert_eq!((st, s3_code(&body)), (StatusCode::BAD_REQUEST, code), "{header}: {body}");
    }
    let (_, parts) = h.parts(key, &upload_id).await;
    assert_eq!(parts, vec![(1, etag.clone())], "part 1 is still the good one");
    // And a signed checksum that matches is accepted.
    let mut action = rusty_s3::actions::UploadPart::new(&bucket, Some(&creds), key, 1, &upload_id);
    action.headers_mut().insert("x-amz-checksum-crc32", crc32_b64(&good));
    let (st, body) = h
        .raw_put(
            action.sign(Duration::from_secs(60)).as_str(),
            &[("x-amz-checksum-crc32", &crc32_b64(&good))],
            good.clone(),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (st, v) = h
        .post(
            "/uploads/multipart/complete",
            json!({"key": key, "upload_id": upload_id, "parts": [{"PartNumber": 1, "ETag": etag}]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(h.download(key).await, good);
}

#[tokio::test]
async fn every_key_s3_accepts_works_and_stays_distinct() {
    let h = Harness::new().await;
    let long = format!("long/{}", "k".repeat(1024 - 5));
    let mid = format!("mid/{}", "é".repeat(100));
    let keys = ["p/cat.jpg", "p//cat.jpg", "p/cat.jpg/", "x", "x/child", "sp ace/%2F/+plus", "ünï/cødé", &long, &mid];
    for (i, key) in keys.iter().enumerate() {
        h.store(key, "application/octet-stream", vec![i as u8; 10 + i]).await;
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(h.object(key).await.map(|o| o.0), Some(vec![i as u8; 10 + i]), "{key}");
    }
    // Multipart under a long key, and completing `x/child2` beside the object `x`.
    for key in [long.as_str(), "x/child2"] {
        let upload_id = h.init(key).await;
        let etag = h.put(&h.part_url(key, &upload_id, 1).await, vec![7; 100]).await;
        let (st, v) = h
            .post(
                "/uploads/multipart/complete",
                json!({"key": key, "upload_id": upload_id, "parts": [{"PartNumber": 1, "ETag": etag}]}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{key}: {v}");
        assert_eq!(h.object(key).await.map(|o| o.0), Some(vec![7; 100]));
    }
    assert_eq!(h.object("x").await.map(|o| o.0), Some(vec![3; 13]), "x is untouched");
    assert!(h.open_uploads().await.is_empty());
}

#[tokio::test]
async fn an_upload_id_belongs_to_its_key() {
    let h = Harness::with(|c| c.key_prefix = String::new()).await;
    let (alice, bob) = ("alice/file.bin", "bob/file.bin");
    let upload_id = h.init(alice).await;
    let etag = h.put(&h.part_url(alice, &upload_id, 1).await, bytes(1000, 5)).await;
    let parts = json!([{"PartNumber": 1, "ETag": etag}]);
    // Complete, abort and list under another key: NoSuchUpload, nothing changes.
    let (st, v) =
        h.post("/uploads/multipart/complete", json!({"key": bob, "upload_id": upload_id, "parts": parts})).await;
    assert_eq!((st, error_code(&v)), (StatusCode::NOT_FOUND, "NoSuchUpload"), "{v}");
    let (st, v) = h
        .call(reqwest::Method::DELETE, "/uploads/multipart/abort", Some(json!({"key": bob, "upload_id": upload_id})))
        .await;
    assert_eq!((st, error_code(&v)), (StatusCode::NOT_FOUND, "NoSuchUpload"), "{v}");
    let (st, _) = h.parts(bob, &upload_id).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    // A part PUT signed for another key with this upload id.
    let (st, body) = h.raw_put(&h.part_url(bob, &upload_id, 1).await, &[], bytes(1000, 6)).await;
    assert_eq!((st, s3_code(&body)), (StatusCode::NOT_FOUND, "NoSuchUpload"), "{body}");
    let (st, ids) = h.parts(alice, &upload_id).await;
    assert_eq!((st, ids), (StatusCode::OK, vec![(1, etag.clone())]), "alice's upload is whole");
    assert_eq!(h.open_uploads().await, vec![upload_id.clone()]);
    assert_eq!(h.object(bob).await, None);
    // Unknown and malformed ids.
    for id in ["00000000000000000000000000000000", "../../etc", "x"] {
        let (st, body) = h.raw_put(&h.part_url(alice, id, 1).await, &[], vec![1]).await;
        assert_eq!((st, s3_code(&body)), (StatusCode::NOT_FOUND, "NoSuchUpload"), "{id}: {body}");
    }
}

/// Sends raw HTTP/1.1 and returns the status line's code, or 0 when the
/// connection closed without an answer.
async fn raw_http(addr: std::net::SocketAddr, head: &str, body: &[u8], close_write: bool) -> u16 {
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(head.as_bytes()).await.expect("head");
    conn.write_all(body).await.expect("body");
    if close_write {
        conn.shutdown().await.expect("shutdown");
    }
    let mut reply = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut reply)).await;
    let text = String::from_utf8_lossy(&reply);
    text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn oversized_and_truncated_bodies_are_4xx_and_store_nothing() {
    let h = Harness::new().await;
    let (_, v) = h.post("/uploads/url", json!({"key": "big/one", "content_type": "a/b"})).await;
    let url = url::Url::parse(v["url"].as_str().expect("url")).expect("url");
    let addr = h.server.s3_addr.expect("embedded store");
    let target = format!("{}?{}", url.path(), url.query().unwrap_or(""));
    // Announcing 6 GiB: refused before the bytes are read.
    let head = format!(
        "PUT {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: a/b\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        6u64 << 30
    );
    assert_eq!(raw_http(addr, &head, b"some", false).await, 400);
    // Fewer bytes than announced, then the client stops sending.
    let head = format!(
        "PUT {target} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: a/b\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n"
    );
    let code = raw_http(addr, &head, &[1u8; 10], true).await;
    assert!(code == 400 || code == 0, "a truncated body is refused, got {code}");
    assert_eq!(h.object("big/one").await, None);
}

#[tokio::test]
async fn restricted_origins_are_refused_before_any_work() {
    let h = Harness::with(|c| c.allow_origins = vec!["http://good.example".into()]).await;
    let init = |origin: &'static str| {
        h.http
            .post(h.url("/uploads/multipart/init"))
            .header("content-type", "text/plain;charset=UTF-8")
            .header("origin", origin)
            .body(json!({"key": "o/x", "content_type": "a/b"}).to_string())
            .send()
    };
    let resp = init("http://evil.example").await.expect("sent");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let v: Value = resp.json().await.expect("json");
    assert_eq!(error_code(&v), "OriginNotAllowed");
    assert!(h.open_uploads().await.is_empty(), "no upload was created for the other origin");
    let resp = init("http://good.example").await.expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["access-control-allow-origin"], "http://good.example");
    assert_eq!(resp.headers()["access-control-allow-credentials"], "true");
    assert_eq!(h.open_uploads().await.len(), 1);
    // The backend's own origin (its demo page) is always allowed.
    let own = format!("http://{}", h.server.api_addr);
    let resp = h
        .http
        .post(h.url("/uploads/url"))
        .header("origin", own)
        .body(json!({"key": "o/y"}).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn any_origin_never_comes_with_credentials() {
    let h = Harness::new().await;
    let resp = h
        .http
        .post(h.url("/uploads/url"))
        .header("origin", "http://evil.example")
        .body(json!({"key": "o/z"}).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers().get("access-control-allow-credentials").is_none(), "{:?}", resp.headers());
    let (_, v) = h.post("/uploads/url", json!({"key": "o/z"})).await;
    let pre = h
        .http
        .request(reqwest::Method::OPTIONS, v["url"].as_str().expect("url"))
        .header("origin", "http://evil.example")
        .header("access-control-request-method", "PUT")
        .send()
        .await
        .expect("preflight");
    assert!(pre.headers().get("access-control-allow-credentials").is_none(), "the store neither");
}

#[tokio::test]
async fn every_api_error_is_json() {
    let h = Harness::with(|c| c.auth_token = Some("test-token".into())).await;
    let auth = ("authorization", "Bearer test-token");
    let cases: [(reqwest::Method, &str, Vec<u8>, StatusCode, &str); 5] = [
        (reqwest::Method::GET, "/uploads/nope", vec![], StatusCode::NOT_FOUND, "NotFound"),
        (reqwest::Method::GET, "/api/whatever", vec![], StatusCode::NOT_FOUND, "NotFound"),
        (reqwest::Method::GET, "/uploads/multipart/init", vec![], StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
        (reqwest::Method::PUT, "/api/uploads/url", vec![], StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed"),
        (reqwest::Method::POST, "/uploads/url", vec![b' '; 3 * MIB], StatusCode::PAYLOAD_TOO_LARGE, "RequestTooLarge"),
    ];
    for (method, path, body, status, code) in cases {
        let resp =
            h.http.request(method.clone(), h.url(path)).header(auth.0, auth.1).body(body).send().await.expect("sent");
        assert_eq!(resp.status(), status, "{method} {path}");
        let v: Value = resp.json().await.unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        assert_eq!(error_code(&v), code, "{method} {path}");
    }
}

#[tokio::test]
async fn the_bearer_token_is_checked_strictly() {
    let h = Harness::with(|c| c.auth_token = Some("test-token".into())).await;
    let body = json!({"key": "t/x"}).to_string();
    for (header, ok) in [
        ("Bearer test-token", true),
        ("bearer test-token", true),
        ("BEARER  test-token", true),
        ("Bearer test-token-and-more", false),
        ("Bearer test-toke", false),
        ("Bearer ", false),
        ("Basic dGVzdC10b2tlbg==", false),
        ("test-token", false),
    ] {
        let resp = h.http.post(h.url("/uploads/url")).header("authorization", header).body(body.clone()).send().await;
        let status = resp.expect("sent").status();
        assert_eq!(status == StatusCode::OK, ok, "{header:?}: {status}");
        if !ok {
            assert_eq!(status, StatusCode::UNAUTHORIZED);
        }
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let h = Harness::new().await;
    for addr in [h.server.api_addr, h.server.s3_addr.expect("store")] {
        let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
        conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.expect("write");
        let mut buf = Vec::new();
        let closed = tokio::time::timeout(
            s3_multipart_server::HEADER_READ_TIMEOUT + Duration::from_secs(5),
            conn.read_to_end(&mut buf),
        )
        .await;
        assert!(closed.is_ok(), "{addr}: the connection was closed by the server");
    }
}

/// A PUT whose body stops arriving (a few bytes, then nothing) is refused
/// with S3's 400 RequestTimeout once the store's idle limit has passed, and
/// nothing of it is kept: a client cannot hold a connection and a data file
/// for ever with a presigned URL.
#[tokio::test]
async fn a_put_whose_body_stops_arriving_is_refused_and_leaves_nothing() {
    let h = Harness::with(|c| c.body_idle_timeout = 2).await;
    let (_, v) = h.post("/uploads/url", json!({"key": "idle/a", "content_type": "a/b"})).await;
    let url = reqwest::Url::parse(v["url"].as_str().expect("url")).expect("a URL");
    let addr = h.server.s3_addr.expect("store");
    // The presigned PUT's request head, with `rest` after the Host header.
    let head = |rest: &str| {
        let host = url.host_str().zip(url.port()).map(|(h, p)| format!("{h}:{p}")).expect("host");
        format!(
            "PUT {}?{} HTTP/1.1\r\nHost: {host}\r\nContent-Type: a/b\r\n{rest}",
            url.path(),
            url.query().expect("query")
        )
    };
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(head("Content-Length: 1000\r\n\r\n0123456789").as_bytes()).await.expect("write");
    let started = std::time::Instant::now();
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(15), conn.read_to_end(&mut reply)).await;
    assert!(read.is_ok(), "the store answered and closed");
    let waited = started.elapsed();
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("<Code>RequestTimeout</Code>"), "{text}");
    assert!(waited >= Duration::from_secs(2) && waited < Duration::from_secs(10), "after the idle limit: {waited:?}");
    assert_eq!(h.object("idle/a").await, None, "nothing stored");
    // A body that keeps arriving, however slowly, is taken.
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(head("Content-Length: 4\r\nConnection: close\r\n\r\n").as_bytes()).await.expect("write");
    for b in b"abcd" {
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        conn.write_all(&[*b]).await.expect("write");
    }
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut reply)).await.expect("answered").expect("read");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(h.object("idle/a").await.map(|(bytes, _)| bytes), Some(b"abcd".to_vec()));
}

#[tokio::test]
async fn tampered_presigned_urls_are_refused() {
    let h = Harness::with(|c| c.key_prefix = "users/alice/".into()).await;
    let (_, v) = h.post("/uploads/url", json!({"key": "users/alice/a", "content_type": "a/b"})).await;
    let url = v["url"].as_str().expect("url");
    let ct = [("content-type", "a/b")];
    // Another key in the path, another method, another expiry.
    let moved = url.replace("/users/alice/a?", "/users/bob/a?");
    let (st, body) = h.raw_put(&moved, &ct, vec![1]).await;
    assert_eq!((st, s3_code(&body)), (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"), "{body}");
    let resp = h.http.delete(url).send().await.expect("DELETE");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let longer = url.replace("X-Amz-Expires=3600", "X-Amz-Expires=604800");
    let (st, body) = h.raw_put(&longer, &ct, vec![1]).await;
    assert_eq!((st, s3_code(&body)), (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"), "{body}");
    let (st, _) = h.call(reqwest::Method::GET, "/uploads/download/users/bob/a", None).await;
    assert_eq!(st, StatusCode::FORBIDDEN);
    assert_eq!(h.object("users/alice/a").await, None);
}

#[tokio::test]
async fn a_call_whose_body_never_finishes_is_cut_off_with_json() {
    let h = Harness::with(|c| c.call_timeout = 1).await;
    let addr = h.server.api_addr;
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST /uploads/multipart/init HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"key\""
    );
    conn.write_all(head.as_bytes()).await.expect("write");
    let mut reply = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut reply)).await;
    assert!(read.is_ok(), "the server answered within the limit");
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"RequestTimeout\""), "a JSON error: {text}");
    assert!(h.open_uploads().await.is_empty(), "nothing was created");
}
