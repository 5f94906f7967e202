//! The backend over real HTTP against the embedded store: every call of the
//! protocol, the presigned URLs used for real, and the S3 behaviour the client
//! depends on.

use reqwest::StatusCode;
use serde_json::{Value, json};

mod common;

use common::*;

#[tokio::test]
async fn multipart_roundtrip_lists_parts_and_reads_back_intact() {
    let h = Harness::new().await;
    let key = "roundtrip/big.bin";
    let upload_id = h.init(key).await;
    let chunks = [bytes(5 * MIB, 1), bytes(5 * MIB, 2), bytes(1234, 3)];
    let mut etags = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let url = h.part_url(key, &upload_id, i as u32 + 1).await;
        etags.push(h.put(&url, c.clone()).await);
    }

    let (st, listed) =
        h.call(reqwest::Method::GET, &format!("/uploads/multipart/parts?key={key}&upload_id={upload_id}"), None).await;
    assert_eq!(st, StatusCode::OK, "{listed}");
    let parts = listed["parts"].as_array().expect("parts array");
    assert_eq!(parts.len(), 3);
    for (i, p) in parts.iter().enumerate() {
        assert_eq!(p["PartNumber"], i + 1);
        assert_eq!(p["ETag"], etags[i], "list-parts ETag matches the PUT response");
        assert_eq!(p["Size"], chunks[i].len());
    }

    // Extra fields in a part (as Uppy sends them) are ignored.
    let body_parts: Vec<Value> =
        etags.iter().enumerate().map(|(i, e)| json!({"PartNumber": i + 1, "ETag": e, "content-length": 5})).collect();
    let (st, done) =
        h.post("/uploads/multipart/complete", json!({"key": key, "upload_id": upload_id, "parts": body_parts})).await;
    assert_eq!(st, StatusCode::OK, "{done}");
    assert_eq!(done["key"], key);
    assert!(done["etag"].as_str().expect("etag").ends_with("-3\""), "multipart ETag: {done}");
    assert!(done["location"].as_str().expect("location").ends_with(key));

    let expected: Vec<u8> = chunks.concat();
    assert_eq!(sha(&h.download(key).await), sha(&expected));
    assert!(h.open_uploads().await.is_empty(), "completed upload is closed");
}

#[tokio::test]
async fn api_prefix_and_lambda_envelope_serve_the_same_protocol() {
    let h = Harness::new().await;
    let key = "lambda/file.bin";
    let invoke =
        |action: &str, payload: Value| json!({"processor_name": "s3_upload", "action": action, "payload": payload});
    let (st, init) = h
        .post(
            "/api/invoke",
            invoke("initiate_multipart_upload", json!({"key": key, "content_type": "application/zip"})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{init}");
    let upload_id = init["upload_id"].as_str().expect("upload_id");
    let (st, part) = h
        .post(
            "/invoke",
            invoke("generate_presigned_part_upload_url", json!({"key": key, "upload_id": upload_id, "part_number": 1})),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{part}");
    let data = bytes(100_000, 7);
    let etag = h.put(part["url"].as_str().expect("url"), data.clone()).await;
    let (st, listed) = h.post("/invoke", invoke("list_parts", json!({"key": key, "upload_id": upload_id}))).await;
    assert_eq!(st, StatusCode::OK, "{listed}");
    assert_eq!(listed["parts"][0]["ETag"], etag);
    let (st, done) = h
        .post(
            "/invoke",
            invoke(
                "complete_multipart_upload",
                json!({"key": key, "upload_id": upload_id, "parts": [{"PartNumber": 1, "ETag": etag}]}),
            ),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{done}");
    let (st, dl) = h.post("/invoke", invoke("generate_presigned_download_url", json!({"key": key}))).await;
    assert_eq!(st, StatusCode::OK, "{dl}");
    let got = h.http.get(dl["url"].as_str().expect("url")).send().await.expect("GET").bytes().await.expect("body");
    assert_eq!(sha(&got), sha(&data));

    let (st, single) =
        h.post("/api/invoke", invoke("generate_presigned_upload_url", json!({"key": "lambda/small"}))).await;
    assert_eq!(st, StatusCode::OK, "{single}");
    h.put_signed(&single, b"tiny".to_vec()).await;
    assert_eq!(h.download("lambda/small").await, b"tiny");

    // The optional checksum goes through the envelope as through REST: signed
    // into the URL, named in the reply's headers, verified by the store.
    let sum = json!({"algorithm": "CRC32", "value": crc32_b64(b"tiny")});
    let (st, single) = h
        .post("/invoke", invoke("generate_presigned_upload_url", json!({"key": "lambda/summed", "checksum": sum})))
        .await;
    assert_eq!(st, StatusCode::OK, "{single}");
    assert_eq!(single["headers"]["x-amz-checksum-crc32"], crc32_b64(b"tiny"));
    let url = single["url"].as_str().expect("url");
    let refused = h
        .http
        .put(url)
        .header("content-type", "application/octet-stream")
        .header("x-amz-checksum-crc32", crc32_b64(b"tiny"))
        .body(b"tinY".to_vec())
        .send()
        .await
        .expect("PUT");
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "other bytes than the checksum says");
    h.put_signed(&single, b"tiny".to_vec()).await;
    assert_eq!(h.download("lambda/summed").await, b"tiny");

    let (st, upload_id2) = {
        let (st, v) = h.post("/invoke", invoke("initiate_multipart_upload", json!({"key": "lambda/aborted"}))).await;
        (st, v["upload_id"].as_str().expect("id").to_owned())
    };
    assert_eq!(st, StatusCode::OK);
    let (st, v) = h
        .post("/invoke", invoke("abort_multipart_upload", json!({"key": "lambda/aborted", "upload_id": upload_id2})))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");

    let (st, v) = h.post("/invoke", invoke("delete_everything", json!({}))).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "UnknownAction");
    let (st, v) = h.post("/invoke", json!({"processor_name": "other", "action": "list_parts", "payload": {}})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "UnknownProcessor");
}

#[tokio::test]
async fn single_put_url_uploads_a_whole_object() {
    let h = Harness::new().await;
    let (st, v) = h.post("/uploads/url", json!({"key": "small/one.txt", "content_type": "text/plain"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v["key"], "small/one.txt");
    assert_eq!(v["headers"]["content-type"], "text/plain", "the content type is signed into the URL");
    let data = bytes(4096, 9);
    // Another type than the one signed (or none) is refused, and stores nothing.
    let url = v["url"].as_str().expect("url");
    for other in [Some("text/html"), None] {
        let mut req = h.http.put(url).body(data.clone());
        if let Some(t) = other {
            req = req.header("content-type", t);
        }
        let resp = req.send().await.expect("PUT");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{other:?}");
        let (st, _) = h.call(reqwest::Method::GET, "/uploads/download/small/one.txt", None).await;
        assert_eq!(st, StatusCode::OK);
    }
    h.put_signed(&v, data.clone()).await;
    assert_eq!(h.download("small/one.txt").await, data);
    let (_, dl) = h.call(reqwest::Method::GET, "/uploads/download/small/one.txt", None).await;
    let got = h.http.get(dl["url"].as_str().expect("url")).send().await.expect("GET");
    assert_eq!(got.headers()["content-type"], "text/plain", "stored with the type asked for");
}

/// A download URL is answered as an attachment named after the key's last
/// segment: an uploaded HTML page opened through it is saved by the browser,
/// not run on the store's origin. Its type is kept (an `<img>` or `fetch`
/// reads the object as before), and a name that is not plain ASCII, or has
/// quotes, goes in `filename*` and as `_` in `filename`.
#[tokio::test]
async fn a_download_is_an_attachment_named_after_the_key() {
    let h = Harness::new().await;
    let page = b"<script>document.title = 'ran'</script>".to_vec();
    for (key, ascii, encoded) in [
        ("pages/x.html", "x.html", "x.html"),
        ("pages/na\u{ef}ve \"q\"; 1.html", "na_ve _q_; 1.html", "na%C3%AFve%20%22q%22%3B%201.html"),
    ] {
        let (st, v) = h.post("/uploads/url", json!({"key": key, "content_type": "text/html"})).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        h.put_signed(&v, page.clone()).await;
        let (st, dl) = h.call(reqwest::Method::GET, &format!("/uploads/download/{key}"), None).await;
        assert_eq!(st, StatusCode::OK, "{dl}");
        let got = h.http.get(dl["url"].as_str().expect("url")).send().await.expect("GET");
        assert_eq!(got.status(), StatusCode::OK);
        assert_eq!(got.headers()["content-type"], "text/html", "the type is kept");
        assert_eq!(
            got.headers()["content-disposition"],
            format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}").as_str()
        );
        assert_eq!(got.bytes().await.expect("body").to_vec(), page);
    }
}

#[tokio::test]
async fn abort_removes_the_upload_and_later_calls_get_no_such_upload() {
    let h = Harness::new().await;
    let key = "aborted/file.bin";
    let upload_id = h.init(key).await;
    let url = h.part_url(key, &upload_id, 1).await;
    h.put(&url, bytes(1000, 4)).await;
    assert_eq!(h.open_uploads().await, vec![upload_id.clone()]);

    // The JSON-body form, as the seed's table says; the query form is tested below.
    let (st, v) = h
        .call(reqwest::Method::DELETE, "/uploads/multipart/abort", Some(json!({"key": key, "upload_id": upload_id})))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v, json!({}));
    assert!(h.open_uploads().await.is_empty(), "abort leaves no multipart upload");

    let (st, v) =
        h.call(reqwest::Method::GET, &format!("/uploads/multipart/parts?key={key}&upload_id={upload_id}"), None).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(error_code(&v), "NoSuchUpload");
    let resp = h.http.put(&url).body(vec![1u8; 10]).send().await.expect("PUT");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND, "a part PUT after abort gets NoSuchUpload like S3");

    let (st, v) = h
        .call(reqwest::Method::DELETE, &format!("/uploads/multipart/abort?key={key}&upload_id={upload_id}"), None)
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(error_code(&v), "NoSuchUpload");
}

#[tokio::test]
async fn complete_with_a_wrong_etag_is_invalid_part_and_keeps_the_upload() {
    let h = Harness::new().await;
    let key = "wrong/etag.bin";
    let upload_id = h.init(key).await;
    let url = h.part_url(key, &upload_id, 1).await;
    let etag = h.put(&url, bytes(2000, 5)).await;
    let (st, v) = h
        .post(
            "/uploads/multipart/complete",
            json!({"key": key, "upload_id": upload_id, "parts": [{"PartNumber": 1, "ETag": "\"00000000000000000000000000000000\""}]}),
        )
        .await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_code(&v), "InvalidPart");
    // Like S3, the upload is still there and can be completed with the right ETag.
    let (st, v) = h
        .post(
            "/uploads/multipart/complete",
            json!({"key": key, "upload_id": upload_id, "parts": [{"PartNumber": 1, "ETag": etag}]}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
}

#[tokio::test]
async fn complete_with_a_small_middle_part_is_entity_too_small_and_keeps_the_upload() {
    let h = Harness::new().await;
    let key = "small/parts.bin";
    let upload_id = h.init(key).await;
    let mut parts = Vec::new();
    for n in 1..=2 {
        let url = h.part_url(key, &upload_id, n).await;
        parts.push(json!({"PartNumber": n, "ETag": h.put(&url, bytes(100, n as u8)).await}));
    }
    let (st, v) =
        h.post("/uploads/multipart/complete", json!({"key": key, "upload_id": upload_id, "parts": parts})).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_code(&v), "EntityTooSmall");
    let (st, listed) =
        h.call(reqwest::Method::GET, &format!("/uploads/multipart/parts?key={key}&upload_id={upload_id}"), None).await;
    assert_eq!(st, StatusCode::OK, "{listed}");
    assert_eq!(listed["parts"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn an_expired_presigned_url_gets_403() {
    let h = Harness::with(|c| c.presign_expiry = 1).await;
    let key = "expiry/file.bin";
    let upload_id = h.init(key).await;
    let url = h.part_url(key, &upload_id, 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let resp = h.http.put(&url).body(vec![0u8; 100]).send().await.expect("PUT");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let body = resp.text().await.expect("body");
    assert!(body.contains("expired"), "S3-style body says the request expired: {body}");
}

#[tokio::test]
async fn bad_input_gets_a_4xx_with_error_json() {
    let h = Harness::new().await;
    let upload_id = h.init("valid/key").await;
    let cases: Vec<(&str, String, &str)> = vec![
        ("/uploads/multipart/init", json!({"key": "a/../b"}).to_string(), "InvalidKey"),
        ("/uploads/multipart/init", json!({"key": ""}).to_string(), "InvalidKey"),
        ("/uploads/multipart/init", json!({"key": "/abs"}).to_string(), "InvalidKey"),
        ("/uploads/multipart/init", json!({"key": "ctl\u{7}"}).to_string(), "InvalidKey"),
        ("/uploads/multipart/init", json!({"key": "k".repeat(1025)}).to_string(), "InvalidKey"),
        ("/uploads/url", json!({"key": "../escape"}).to_string(), "InvalidKey"),
        ("/uploads/multipart/init", "{not json".to_owned(), "InvalidJson"),
        ("/uploads/multipart/init", String::new(), "InvalidJson"),
        ("/uploads/multipart/init", json!({"content_type": "x"}).to_string(), "InvalidJson"),
        ("/uploads/multipart/init", json!({"key": 5}).to_string(), "InvalidJson"),
        (
            "/uploads/multipart/part-url",
            json!({"key": "valid/key", "upload_id": upload_id, "part_number": 0}).to_string(),
            "InvalidPartNumber",
        ),
        (
            "/uploads/multipart/part-url",
            json!({"key": "valid/key", "upload_id": upload_id, "part_number": 10001}).to_string(),
            "InvalidPartNumber",
        ),
        (
            "/uploads/multipart/part-url",
            json!({"key": "valid/key", "upload_id": "", "part_number": 1}).to_string(),
            "InvalidUploadId",
        ),
        (
            "/uploads/multipart/complete",
            json!({"key": "valid/key", "upload_id": upload_id, "parts": []}).to_string(),
            "InvalidParts",
        ),
        (
            "/uploads/multipart/complete",
            json!({"key": "valid/key", "upload_id": upload_id, "parts": [{"PartNumber": 2, "ETag": "\"x\""}]})
                .to_string(),
            // Gaps are S3's to judge (it allows them); part 2 was never uploaded.
            "InvalidPart",
        ),
        (
            "/uploads/multipart/complete",
            json!({"key": "valid/key", "upload_id": upload_id, "parts": [{"PartNumber": 1, "ETag": ""}]}).to_string(),
            "InvalidETag",
        ),
        (
            "/uploads/multipart/complete",
            json!({"key": "valid/key", "upload_id": upload_id,
                "parts": [{"PartNumber": 2, "ETag": "\"b\""}, {"PartNumber": 1, "ETag": "\"a\""}, {"PartNumber": 2, "ETag": "\"c\""}]})
            .to_string(),
            "InvalidParts",
        ),
    ];
    for (path, body, code) in cases {
        let resp = h.http.post(h.url(path)).body(body.clone()).send().await.expect("sent");
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or_else(|e| panic!("{path} {body}: reply is not JSON: {e}"));
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {v}");
        assert_eq!(error_code(&v), code, "{path} {body}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| m.len() > 20), "message explains: {v}");
    }
    let (st, v) = h.call(reqwest::Method::GET, "/uploads/multipart/parts?key=valid/key", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_code(&v), "InvalidQuery");
    let (st, v) = h.call(reqwest::Method::GET, "/uploads/download/a%2F..%2Fb", None).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(error_code(&v), "InvalidKey");
    let (st, v) = h
        .call(
            reqwest::Method::GET,
            "/uploads/multipart/parts?key=valid/key&upload_id=00000000-0000-0000-0000-000000000000",
            None,
        )
        .await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(error_code(&v), "NoSuchUpload");
}

#[tokio::test]
async fn key_prefix_is_enforced() {
    let h = Harness::with(|c| c.key_prefix = "users/".into()).await;
    let (st, v) = h.post("/uploads/multipart/init", json!({"key": "other/x"})).await;
    assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(error_code(&v), "KeyOutsidePrefix");
    h.init("users/x").await;
}

#[tokio::test]
async fn store_cors_preflight_allows_put_and_exposes_etag() {
    let h = Harness::new().await;
    let key = "cors/file.bin";
    let upload_id = h.init(key).await;
    let url = h.part_url(key, &upload_id, 1).await;
    let origin = "http://127.0.0.1:8080";
    let pre = h
        .http
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", origin)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .expect("preflight");
    assert!(pre.status().is_success(), "preflight answered {}", pre.status());
    assert_eq!(pre.headers()["access-control-allow-origin"], origin);
    assert!(pre.headers()["access-control-allow-methods"].to_str().expect("ascii").contains("PUT"));
    let put = h.http.put(&url).header("origin", origin).body(vec![1u8; 10]).send().await.expect("PUT");
    let expose = put.headers()["access-control-expose-headers"].to_str().expect("ascii").to_ascii_lowercase();
    assert!(expose.split(',').any(|h| h.trim() == "etag"), "ETag exposed: {expose}");
}

#[tokio::test]
async fn store_without_etag_in_cors_hides_it() {
    let h = Harness::with(|c| c.s3_expose_etag = false).await;
    let (_, v) = h.post("/uploads/url", json!({"key": "cors/hidden"})).await;
    let put = h
        .http
        .put(v["url"].as_str().expect("url"))
        .header("origin", "http://127.0.0.1:1")
        .body(vec![1u8; 10])
        .send()
        .await
        .expect("PUT");
    let expose =
        put.headers().get("access-control-expose-headers").map(|v| v.to_str().expect("ascii").to_ascii_lowercase());
    assert!(!expose.unwrap_or_default().contains("etag"));
}

#[tokio::test]
async fn auth_token_is_required_when_configured() {
    let h = Harness::with(|c| c.auth_token = Some("s3cret".into())).await;
    let (st, v) = h.post("/uploads/multipart/init", json!({"key": "a/b"})).await;
    assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(error_code(&v), "Unauthorized");
    let resp = h
        .http
        .post(h.url("/api/uploads/multipart/init"))
        .header("authorization", "Bearer s3cret")
        .body(json!({"key": "a/b"}).to_string())
        .send()
        .await
        .expect("sent");
    assert_eq!(resp.status(), StatusCode::OK);
    // CORS preflights pass without the token (browsers never send it on OPTIONS).
    let pre = h
        .http
        .request(reqwest::Method::OPTIONS, h.url("/api/uploads/multipart/init"))
        .header("origin", "http://127.0.0.1:1")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .expect("preflight");
    assert!(pre.status().is_success(), "{}", pre.status());
}

#[tokio::test]
async fn debug_endpoint_lists_open_uploads_only_when_enabled() {
    let h = Harness::with(|c| c.debug_endpoints = true).await;
    let id = h.init("dbg/one").await;
    h.init("other/two").await;
    let (st, v) = h.call(reqwest::Method::GET, "/uploads/multipart/open?prefix=dbg/", None).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(v, json!({"uploads": [{"key": "dbg/one", "upload_id": id}]}));
    let off = Harness::new().await;
    let (st, v) = off.call(reqwest::Method::GET, "/uploads/multipart/open", None).await;
    assert_eq!((st, error_code(&v)), (StatusCode::NOT_FOUND, "NotFound"), "off by default: {v}");
}

#[tokio::test]
async fn a_retried_complete_after_a_lost_reply_is_the_same_success() {
    let h = Harness::new().await;
    let key = "idempotent/complete.bin";
    let upload_id = h.init(key).await;
    let mut parts = Vec::new();
    for (n, len) in [(1u32, 5 * MIB), (2, 1000)] {
        let url = h.part_url(key, &upload_id, n).await;
        parts.push(json!({"PartNumber": n, "ETag": h.put(&url, bytes(len, n as u8)).await}));
    }
    let body = json!({"key": key, "upload_id": upload_id, "parts": parts});
    let (st, first) = h.post("/uploads/multipart/complete", body.clone()).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    // The reply of the first call was "lost": the client sends it again.
    let (st, again) = h.post("/uploads/multipart/complete", body).await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["etag"], first["etag"], "the same object, not a second one");
    // S3's ETag is the MD5 of the parts' MD5s: what the backend checks the object against.
    let etags: Vec<String> = parts.iter().map(|p| p["ETag"].as_str().expect("etag").to_owned()).collect();
    let want = s3_multipart_server::s3::multipart_etag(&etags).expect("md5 etags");
    assert_eq!(first["etag"].as_str().map(|e| e.trim_matches('"')), Some(want.as_str()));
    // Other ETags than the object's are still NoSuchUpload.
    let wrong = json!({"key": key, "upload_id": upload_id, "parts": [{"PartNumber": 1, "ETag": "\"0cc175b9c0f1b6a831c399e269772661\""}]});
    let (st, v) = h.post("/uploads/multipart/complete", wrong).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
    assert_eq!(error_code(&v), "NoSuchUpload");
}

#[tokio::test]
async fn injected_faults_hit_only_the_named_calls() {
    let h = Harness::with(|c| {
        c.fault_rate = 1.0;
        c.fault_calls = vec!["part-url".into()];
    })
    .await;
    let upload_id = h.init("faults/a").await;
    let (st, v) = h
        .post("/uploads/multipart/part-url", json!({"key": "faults/a", "upload_id": upload_id, "part_number": 1}))
        .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let (st, v) = h
        .post(
            "/invoke",
            json!({"processor_name": "s3_upload", "action": "generate_presigned_part_upload_url",
                   "payload": {"key": "faults/a", "upload_id": upload_id, "part_number": 1}}),
        )
        .await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{v}");

    // "after": the work is done, the reply says 503.
    let h = Harness::with(|c| {
        c.fault_rate = 1.0;
        c.fault_calls = vec!["init".into()];
        c.fault_after = true;
        c.debug_endpoints = true;
    })
    .await;
    let (st, _) = h.post("/uploads/multipart/init", json!({"key": "faults/after"})).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(h.open_uploads().await.len(), 1, "the upload was created although the reply said 503");
}

#[tokio::test]
async fn an_init_asked_again_with_its_client_token_gets_the_same_upload() {
    // Init's first reply is lost after the upload was created (503 after the work).
    let h = Harness::with(|c| {
        c.fault_rate = 1.0;
        c.fault_max = 1;
        c.fault_calls = vec!["init".into()];
        c.fault_after = true;
        c.debug_endpoints = true;
    })
    .await;
    let token = "9f86d081884c7d659a2feaa0c55ad015";
    let body = json!({"key": "tokens/a.bin", "content_type": "application/zip", "checksum_algorithm": "CRC32", "client_token": token});
    let (st, _) = h.post("/uploads/multipart/init", body.clone()).await;
    assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE);
    let (st, first) = h.post("/uploads/multipart/init", body.clone()).await;
    assert_eq!(st, StatusCode::OK, "{first}");
    assert_eq!(h.open_uploads().await.len(), 1, "the upload the lost reply was for, not a second one");
    // Over the Lambda envelope too, the same upload.
    let (st, again) = h
        .post("/invoke", json!({"processor_name": "s3_upload", "action": "initiate_multipart_upload", "payload": body}))
        .await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(again["upload_id"], first["upload_id"]);

    // The token cannot be used for another key (nor to learn its upload id).
    let (st, v) = h
        .post("/uploads/multipart/init", json!({"key": "tokens/b.bin", "content_type": "application/zip", "checksum_algorithm": "CRC32", "client_token": token}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT, "{v}");
    assert_eq!(error_code(&v), "ClientTokenReused");
    assert!(!v.to_string().contains(first["upload_id"].as_str().expect("id")), "{v}");
    // Nor with another content type or checksum algorithm.
    let (st, _) = h
        .post("/uploads/multipart/init", json!({"key": "tokens/a.bin", "content_type": "text/plain", "checksum_algorithm": "CRC32", "client_token": token}))
        .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert_eq!(h.open_uploads().await.len(), 1, "the refusals created nothing");

    // A malformed token is refused before anything is created.
    for bad in [json!("short"), json!("0123456789abcdef\n"), json!(12345678901234567_u64), json!("x".repeat(65))] {
        let (st, v) = h.post("/uploads/multipart/init", json!({"key": "tokens/c.bin", "client_token": bad})).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    assert_eq!(h.open_uploads().await.len(), 1);

    // Without a token (an older client), every init creates an upload.
    let (_, x) = h.post("/uploads/multipart/init", json!({"key": "tokens/d.bin"})).await;
    let (_, y) = h.post("/uploads/multipart/init", json!({"key": "tokens/d.bin"})).await;
    assert_ne!(x["upload_id"], y["upload_id"]);
    assert_eq!(h.open_uploads().await.len(), 3);
}

#[tokio::test]
async fn concurrent_inits_with_one_token_create_one_upload() {
    let h = Harness::with(|c| c.debug_endpoints = true).await;
    let body = json!({"key": "tokens/race.bin", "client_token": "0123456789abcdef0123456789abcdef"});
    let calls = (0..8).map(|_| h.post("/uploads/multipart/init", body.clone()));
    let replies = futures::future::join_all(calls).await;
    let ids: std::collections::BTreeSet<String> = replies
        .iter()
        .map(|(st, v)| {
            assert_eq!(*st, StatusCode::OK, "{v}");
            v["upload_id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(h.open_uploads().await.len(), 1);
}

#[tokio::test]
async fn the_store_answers_complete_with_a_location_like_s3() {
    use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
    let h = Harness::new().await;
    let key = "location/obj.bin";
    let upload_id = h.init(key).await;
    let url = h.part_url(key, &upload_id, 1).await;
    let etag = h.put(&url, bytes(100, 1)).await;
    let s = &h.server.s3;
    let bucket = Bucket::new(s.endpoint.clone(), UrlStyle::Path, s.bucket.clone(), s.region.clone()).expect("bucket");
    let creds = Credentials::new(s.access_key.clone(), s.secret_key.clone());
    let action = rusty_s3::actions::CompleteMultipartUpload::new(
        &bucket,
        Some(&creds),
        key,
        &upload_id,
        [etag.as_str()].into_iter(),
    );
    let signed = action.sign(std::time::Duration::from_secs(60));
    let xml = h.http.post(signed).body(action.body()).send().await.expect("complete").text().await.expect("body");
    let host = s.endpoint.host_str().expect("host");
    assert!(xml.contains("<Location>") && xml.contains(host) && xml.contains(key), "{xml}");
}

/// S3 allows gaps in the part numbers at complete; so does the backend.
#[tokio::test]
async fn complete_with_a_gap_in_the_part_numbers_stores_the_parts_given() {
    let h = Harness::new().await;
    let key = "gaps/file.bin";
    let upload_id = h.init(key).await;
    let p1 = bytes(5 * MIB, 21);
    let p3 = bytes(1234, 23);
    let e1 = h.put(&h.part_url(key, &upload_id, 1).await, p1.clone()).await;
    let e3 = h.put(&h.part_url(key, &upload_id, 3).await, p3.clone()).await;
    let parts = json!([{"PartNumber": 3, "ETag": e3}, {"PartNumber": 1, "ETag": e1}]);
    let (st, v) =
        h.post("/uploads/multipart/complete", json!({"key": key, "upload_id": upload_id, "parts": parts})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(h.download(key).await, [p1, p3].concat());
}

/// The base64 CRC32 of `b`, as S3 writes it.
fn crc32_b64(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(crc32fast::hash(b).to_be_bytes())
}

/// A multipart upload of `key` created with CRC32 checksums; its id.
async fn init_with_crc32(h: &Harness, key: &str) -> String {
    let body = json!({"key": key, "content_type": "application/octet-stream", "checksum_algorithm": "CRC32"});
    let (st, v) = h.post("/uploads/multipart/init", body).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    v["upload_id"].as_str().expect("id").to_owned()
}

/// Checksums through the protocol: init with an algorithm, part URLs with the
/// part's CRC32 signed in (the reply names the header to send), the store
/// refusing a body that does not match (and keeping the good part it had),
/// complete verifying the whole object's full-object CRC32.
#[tokio::test]
async fn checksums_are_signed_in_and_verified_by_the_store() {
    let h = Harness::new().await;
    let key = "sums/a.bin";
    let upload_id = init_with_crc32(&h, key).await;
    let chunks = [bytes(5 * MIB, 1), bytes(777, 2)];
    let mut etags = Vec::new();
    for (i, c) in chunks.iter().enumerate() {
        let sum = crc32_b64(c);
        let (st, reply) = h
            .post(
                "/uploads/multipart/part-url",
                json!({"key": key, "upload_id": upload_id, "part_number": i + 1,
                       "checksum": {"algorithm": "CRC32", "value": sum}}),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{reply}");
        assert_eq!(reply["headers"]["x-amz-checksum-crc32"], sum, "the reply names the signed checksum header");
        let url = reply["url"].as_str().expect("url");
        // Without the header the signature does not verify.
        let resp = h.http.put(url).body(c.clone()).send().await.expect("PUT");
        assert_eq!(resp.status(), StatusCode::FORBIDDEN, "a signed header left out");
        // One flipped byte: the store refuses the body.
        let mut corrupt = c.clone();
        corrupt[c.len() / 2] ^= 1;
        let resp = h.http.put(url).header("x-amz-checksum-crc32", &sum).body(corrupt).send().await.expect("PUT");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains("<Code>BadDigest</Code>"), "{text}");
        etags.push(h.put_signed(&reply, c.clone()).await);
    }
    let parts: Vec<Value> = etags.iter().enumerate().map(|(i, e)| json!({"PartNumber": i + 1, "ETag": e})).collect();
    // The listing names each part's CRC32 (the client compares them with the
    // file's when it resumes) where the store lists them: the embedded store
    // does; SeaweedFS 4.48 does not (docs/STORES.md).
    let (st, listed) =
        h.call(reqwest::Method::GET, &format!("/uploads/multipart/parts?key={key}&upload_id={upload_id}"), None).await;
    assert_eq!(st, StatusCode::OK, "{listed}");
    let crcs: Vec<String> = listed["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| p["ChecksumCRC32"].as_str().unwrap_or("none").to_owned())
        .collect();
    if std::env::var("S3MP_TEST_S3_ENDPOINT").is_err() {
        assert_eq!(crcs, chunks.iter().map(|c| crc32_b64(c)).collect::<Vec<_>>());
    } else {
        assert!(crcs.iter().zip(&chunks).all(|(l, c)| l == "none" || *l == crc32_b64(c)), "{crcs:?}");
    }
    // A whole-object CRC that is not the file's: refused, nothing stored, the upload kept.
    let wrong = crc32_b64(b"not the file");
    let (st, v) = h
        .post(
            "/uploads/multipart/complete",
            json!({"key": key, "upload_id": upload_id, "parts": parts, "checksum": {"algorithm": "CRC32", "value": wrong}}),
        )
        .await;
    assert_eq!((st, error_code(&v)), (StatusCode::BAD_REQUEST, "BadDigest"), "{v}");
    assert_eq!(h.open_uploads().await, vec![upload_id.clone()]);
    let whole = chunks.concat();
    let (st, v) = h
        .post(
            "/uploads/multipart/complete",
            json!({"key": key, "upload_id": upload_id, "parts": parts,
                   "checksum": {"algorithm": "CRC32", "value": crc32_b64(&whole)}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(sha(&h.download(key).await), sha(&whole));

    // A part's checksum signed for an upload created without an algorithm:
    // S3 refuses the PUT before storing it (400 InvalidRequest, "Checksum Type
    // mismatch"), as the embedded store does; SeaweedFS 4.48 stores the part
    // (docs/STORES.md: the client never sends it so).
    let plain_key = "sums/plain.bin";
    let plain = h.init(plain_key).await;
    let c = bytes(1000, 3);
    let (st, reply) = h
        .post(
            "/uploads/multipart/part-url",
            json!({"key": plain_key, "upload_id": plain, "part_number": 1,
                   "checksum": {"algorithm": "CRC32", "value": crc32_b64(&c)}}),
        )
        .await;
    assert_eq!(st, StatusCode::OK, "{reply}");
    let resp = h
        .http
        .put(reply["url"].as_str().expect("url"))
        .header("x-amz-checksum-crc32", crc32_b64(&c))
        .body(c)
        .send()
        .await
        .expect("PUT");
    let (status, text) = (resp.status(), resp.text().await.unwrap_or_default());
    let (_, listed) = h
        .call(reqwest::Method::GET, &format!("/uploads/multipart/parts?key={plain_key}&upload_id={plain}"), None)
        .await;
    let stored = listed["parts"].as_array().map_or(0, Vec::len);
    if std::env::var("S3MP_TEST_S3_ENDPOINT").is_err() {
        assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
        assert!(text.contains("<Code>InvalidRequest</Code>") && text.contains("Checksum Type mismatch"), "{text}");
        assert_eq!(stored, 0, "the refused part is not stored");
    } else {
        eprintln!(
            "SeaweedFS: a part checksum on an upload without an algorithm: {status}, {stored} part(s) stored: {text}"
        );
    }
    let (st, v) = h
        .call(reqwest::Method::DELETE, "/uploads/multipart/abort", Some(json!({"key": plain_key, "upload_id": plain})))
        .await;
    assert_eq!(st, StatusCode::OK, "{v}");

    // A checksum that is not one is refused by the backend before anything is signed.
    for bad in [json!({"algorithm": "MD4", "value": "AAAAAA=="}), json!({"algorithm": "CRC32", "value": "AAAA"})] {
        let (st, v) = h
            .post(
                "/uploads/multipart/part-url",
                json!({"key": key, "upload_id": "u", "part_number": 1, "checksum": bad}),
            )
            .await;
        assert_eq!((st, error_code(&v)), (StatusCode::BAD_REQUEST, "InvalidChecksum"), "{v}");
    }
}

/// PUTs `chunks` as parts 1.. to their signed `urls` (each with its CRC32
/// header, as signed), completes the upload and checks the object's bytes.
async fn store_signed_parts(h: &Harness, key: &str, upload_id: &str, urls: &[Value], chunks: &[Vec<u8>]) {
    let mut etags = Vec::new();
    for (i, (u, c)) in urls.iter().zip(chunks).enumerate() {
        assert_eq!(u["part_number"], i + 1);
        assert_eq!(u["headers"]["x-amz-checksum-crc32"], crc32_b64(c));
        etags.push(json!({"PartNumber": i + 1, "ETag": h.put_signed(u, c.clone()).await}));
    }
    let (st, v) =
        h.post("/uploads/multipart/complete", json!({"key": key, "upload_id": upload_id, "parts": etags})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(sha(&h.download(key).await), sha(&chunks.concat()));
}

#[tokio::test]
async fn part_urls_signs_several_parts_in_one_call_and_checks_them_all_first() {
    let h = Harness::new().await;
    let key = "batch/a.bin";
    let upload_id = init_with_crc32(&h, key).await;
    let chunks = [bytes(5 * MIB, 3), bytes(5 * MIB, 4), bytes(1234, 5)];
    let asked: Vec<Value> = chunks
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"part_number": i + 1, "checksum": {"algorithm": "CRC32", "value": crc32_b64(c)}}))
        .collect();
    // REST and the Lambda envelope answer alike.
    let (st, rest) =
        h.post("/uploads/multipart/part-urls", json!({"key": key, "upload_id": upload_id, "parts": asked})).await;
    assert_eq!(st, StatusCode::OK, "{rest}");
    let envelope = json!({"processor_name": "s3_upload", "action": "generate_presigned_part_upload_urls",
                          "payload": {"key": key, "upload_id": upload_id, "parts": asked}});
    let (st, lambda) = h.post("/invoke", envelope).await;
    assert_eq!(st, StatusCode::OK, "{lambda}");
    assert_eq!(lambda["urls"].as_array().map(Vec::len), Some(3), "{lambda}");
    let urls = rest["urls"].as_array().expect("urls");
    assert_eq!(urls.len(), 3);
    store_signed_parts(&h, key, &upload_id, urls, &chunks).await;
    // One bad entry refuses the whole call (nothing signed): a part twice, a
    // part number out of range, a bad checksum, none or too many parts.
    let too_many: Vec<Value> = (1..=101).map(|n| json!({"part_number": n})).collect();
    for (parts, code) in [
        (json!([{"part_number": 1}, {"part_number": 1}]), "InvalidParts"),
        (json!([{"part_number": 2}, {"part_number": 10_001}]), "InvalidPartNumber"),
        (json!([{"part_number": 1, "checksum": {"algorithm": "CRC32", "value": "AAAA"}}]), "InvalidChecksum"),
        (json!([]), "InvalidParts"),
        (json!(too_many), "InvalidParts"),
    ] {
        let (st, v) =
            h.post("/uploads/multipart/part-urls", json!({"key": key, "upload_id": upload_id, "parts": parts})).await;
        assert_eq!((st, error_code(&v)), (StatusCode::BAD_REQUEST, code), "{v}");
        assert!(v.get("urls").is_none());
    }
}

/// Init signs the first parts in its own round trip (`parts`, answered as
/// part-urls answers them); the URLs store the parts, checksums verified.
/// A bad part refuses init before anything is created; an init without
/// `parts` answers as before (no `urls`); a presigned PUT takes no `parts`.
#[tokio::test]
async fn init_signs_the_parts_it_is_given_and_checks_them_first() {
    let h = Harness::new().await;
    let key = "init-signs/a.bin";
    let chunks = [bytes(5 * MIB, 11), bytes(777, 12)];
    let parts: Vec<Value> = chunks
        .iter()
        .enumerate()
        .map(|(i, c)| json!({"part_number": i + 1, "checksum": {"algorithm": "CRC32", "value": crc32_b64(c)}}))
        .collect();
    let body = json!({"key": key, "content_type": "application/octet-stream", "checksum_algorithm": "CRC32",
                      "client_token": "00112233445566778899aabbccddeeff", "parts": parts});
    let (st, rest) = h.post("/uploads/multipart/init", body.clone()).await;
    assert_eq!(st, StatusCode::OK, "{rest}");
    let upload_id = rest["upload_id"].as_str().expect("upload id").to_owned();
    // The Lambda envelope answers alike (the same token: the same upload).
    let envelope = json!({"processor_name": "s3_upload", "action": "initiate_multipart_upload", "payload": body});
    let (st, lambda) = h.post("/invoke", envelope).await;
    assert_eq!(st, StatusCode::OK, "{lambda}");
    assert_eq!(
        (lambda["upload_id"].as_str(), lambda["urls"].as_array().map(Vec::len)),
        (Some(upload_id.as_str()), Some(2))
    );
    let urls = rest["urls"].as_array().expect("urls");
    store_signed_parts(&h, key, &upload_id, urls, &chunks).await;
    // Without `parts`: no `urls`.
    let (st, v) = h.post("/uploads/multipart/init", json!({"key": "init-signs/b.bin"})).await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert!(v.get("urls").is_none(), "{v}");
    let open = h.open_uploads().await;
    // A bad part refuses init: no upload is created.
    let too_many: Vec<Value> = (1..=101).map(|n| json!({"part_number": n})).collect();
    for (parts, code) in [
        (json!([{"part_number": 1}, {"part_number": 1}]), "InvalidParts"),
        (json!([{"part_number": 0}]), "InvalidPartNumber"),
        (json!([{"part_number": 1, "checksum": {"algorithm": "CRC32", "value": "AAAA"}}]), "InvalidChecksum"),
        (json!(too_many), "InvalidParts"),
        (json!([{"part_number": 1, "colour": "blue"}]), "InvalidRequest"),
    ] {
        let (st, v) = h.post("/uploads/multipart/init", json!({"key": "init-signs/c.bin", "parts": parts})).await;
        assert_eq!(st, StatusCode::BAD_REQUEST, "{v}");
        if code != "InvalidRequest" {
            assert_eq!(error_code(&v), code, "{v}");
        }
        assert!(v.get("upload_id").is_none() && v.get("urls").is_none(), "{v}");
    }
    // A part's checksum of another algorithm than the upload's (which S3
    // would refuse at the PUT) refuses init too.
    let crc = json!({"algorithm": "CRC32", "value": crc32_b64(&chunks[1])});
    let sha = json!({"algorithm": "SHA256", "value": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="});
    for (algorithm, checksum, says) in [
        (json!("CRC32"), sha, "part 1's checksum is SHA256, but the upload is created with checksum_algorithm CRC32"),
        (Value::Null, crc, "part 1's checksum is CRC32, but the upload is created with no checksum_algorithm"),
    ] {
        let body = json!({"key": "init-signs/e.bin", "checksum_algorithm": algorithm,
                          "parts": [{"part_number": 1, "checksum": checksum}]});
        let (st, v) = h.post("/uploads/multipart/init", body).await;
        assert_eq!((st, error_code(&v)), (StatusCode::BAD_REQUEST, "InvalidChecksum"), "{v}");
        assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains(says)), "{v}");
    }
    assert_eq!(h.open_uploads().await, open, "a refused init created no upload");
    let (st, v) = h.post("/uploads/url", json!({"key": "init-signs/d.bin", "parts": [{"part_number": 1}]})).await;
    assert_eq!((st, error_code(&v)), (StatusCode::BAD_REQUEST, "InvalidParts"), "{v}");
}

#[tokio::test]
async fn urls_signs_several_files_in_one_call_and_judges_each_alone() {
    let h = Harness::new().await;
    let files = [bytes(1234, 7), bytes(100 * 1024, 8)];
    let mut asked: Vec<Value> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            json!({"key": format!("many/{i}.bin"), "content_type": "application/x-test",
                   "checksum": {"algorithm": "CRC32", "value": crc32_b64(f)}})
        })
        .collect();
    // Entries the backend refuses: each gets its own error, the others their URLs.
    asked.push(json!({"key": "../escape"}));
    asked.push(json!({"key": "many/x", "colour": "blue"}));
    asked.push(json!({"key": "many/y", "checksum": {"algorithm": "CRC32", "value": "AAAA"}}));
    let (st, rest) = h.post("/uploads/urls", json!({ "files": asked })).await;
    assert_eq!(st, StatusCode::OK, "{rest}");
    let envelope = json!({"processor_name": "s3_upload", "action": "generate_presigned_upload_urls",
                          "payload": {"files": asked}});
    let (st, lambda) = h.post("/invoke", envelope).await;
    assert_eq!(st, StatusCode::OK, "{lambda}");
    assert_eq!(lambda["urls"].as_array().map(Vec::len), Some(5), "{lambda}");
    let urls = rest["urls"].as_array().expect("urls");
    assert_eq!(urls.len(), 5, "{rest}");
    for (i, (u, f)) in urls.iter().zip(&files).enumerate() {
        assert_eq!(u["key"], format!("many/{i}.bin"));
        assert_eq!(u["headers"]["x-amz-checksum-crc32"], crc32_b64(f));
        assert_eq!(u["headers"]["content-type"], "application/x-test");
        h.put_signed(u, f.clone()).await;
        assert_eq!(sha(&h.download(&format!("many/{i}.bin")).await), sha(f));
    }
    for (u, code) in urls[2..].iter().zip(["InvalidKey", "InvalidJson", "InvalidChecksum"]) {
        assert_eq!((u["status"].as_u64(), u["error"]["code"].as_str()), (Some(400), Some(code)), "{u}");
        assert!(u.get("url").is_none(), "{u}");
    }
    // The body itself: no files, too many, not a list: the call is refused.
    let too_many: Vec<Value> = (0..101).map(|i| json!({"key": format!("many/{i}")})).collect();
    for (body, code) in [
        (json!({"files": []}), "InvalidFiles"),
        (json!({ "files": too_many }), "InvalidFiles"),
        (json!({"files": {"key": "a"}}), "InvalidJson"),
        (json!({"key": "a"}), "InvalidJson"),
    ] {
        let (st, v) = h.post("/uploads/urls", body).await;
        assert_eq!((st, error_code(&v)), (StatusCode::BAD_REQUEST, code), "{v}");
    }
}

/// An init whose caller leaves at any moment (a client's timeout, a closed
/// tab) leaves at most the one upload its token names: asked again with the
/// token, init answers that upload, and no other is left open for nobody.
#[tokio::test]
async fn an_init_whose_caller_leaves_midway_leaves_no_upload_nobody_knows() {
    let h = Harness::with(|c| c.debug_endpoints = true).await;
    for i in 0..60u32 {
        let key = format!("leave-init/{i}");
        let body = json!({"key": key, "content_type": "application/octet-stream", "client_token": format!("{i:032x}")});
        let cut = std::time::Duration::from_micros(200 + u64::from(i % 30) * 200);
        let _ = h
            .http
            .post(h.url("/uploads/multipart/init"))
            .header("content-type", "text/plain;charset=UTF-8")
            .body(body.to_string())
            .timeout(cut)
            .send()
            .await;
        let (st, v) = h.post("/uploads/multipart/init", body).await;
        assert_eq!(st, StatusCode::OK, "{v}");
    }
    let open = h.open_uploads().await;
    assert_eq!(open.len(), 60, "one upload per file, none left for nobody: {} open", open.len());
}

#[tokio::test]
async fn a_taken_port_is_named_with_the_option_that_moves_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("its address");
    let dir = tempfile::tempdir().expect("temp dir");
    for store in [true, false] {
        let mut cfg = s3_multipart_server::config::Config::for_tests(dir.path().join("data"));
        let option = if store {
            cfg.s3_listen = addr;
            "--s3-listen"
        } else {
            cfg.listen = addr;
            "--listen"
        };
        let Err(err) = s3_multipart_server::start(cfg).await else { panic!("a taken port is refused") };
        let err = err.to_string();
        assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
        assert!(err.contains("another program listens there"), "{err}");
        assert!(err.contains(option), "{err}");
    }
}
