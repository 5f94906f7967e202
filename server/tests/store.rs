//! The embedded store against S3's rules, op by op, with requests signed
//! the way any S3 client signs them (rusty-s3): the failures the S3
//! conformance suite found in the s3s-fs wrapper, each checked here.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use reqwest::StatusCode;
use rusty_s3::actions::{CompleteMultipartUpload, CreateMultipartUpload, GetObject, ListParts, PutObject, UploadPart};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

const EXPIRY: Duration = Duration::from_secs(60);

struct S3 {
    h: Harness,
    bucket: Bucket,
    creds: Credentials,
}

fn tag<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    xml.split(&format!("<{name}>")).nth(1)?.split(&format!("</{name}>")).next()
}

fn tags<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    xml.split(&format!("<{name}>")).skip(1).filter_map(|s| s.split(&format!("</{name}>")).next()).collect()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sha256_b64(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    b64(&sha2::Sha256::digest(bytes))
}

impl S3 {
    async fn new() -> Self {
        let h = Harness::new().await;
        let s = &h.server.s3;
        let bucket =
            Bucket::new(s.endpoint.clone(), UrlStyle::Path, s.bucket.clone(), s.region.clone()).expect("bucket");
        let creds = Credentials::new(s.access_key.clone(), s.secret_key.clone());
        Self { h, bucket, creds }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, String, reqwest::header::HeaderMap) {
        let resp = req.send().await.expect("sent");
        let (status, headers) = (resp.status(), resp.headers().clone());
        (status, resp.text().await.unwrap_or_default(), headers)
    }

    async fn create(&self, key: &str, checksum: Option<(&str, &str)>) -> String {
        let mut action = CreateMultipartUpload::new(&self.bucket, Some(&self.creds), key);
        if let Some((alg, kind)) = checksum {
            action.headers_mut().insert("x-amz-checksum-algorithm", alg);
            action.headers_mut().insert("x-amz-checksum-type", kind);
        }
        let mut req = self.h.http.post(action.sign(EXPIRY));
        if let Some((alg, kind)) = checksum {
            req = req.header("x-amz-checksum-algorithm", alg).header("x-amz-checksum-type", kind);
        }
        let (st, body, _) = self.send(req).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        tag(&body, "UploadId").expect("UploadId").to_owned()
    }

    async fn part(
        &self,
        key: &str,
        id: &str,
        n: u16,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> (StatusCode, String, String) {
        let mut action = UploadPart::new(&self.bucket, Some(&self.creds), key, n, id);
        for (k, v) in headers {
            action.headers_mut().insert(*k, v.clone());
        }
        let mut req = self.h.http.put(action.sign(EXPIRY)).body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let (st, text, hdrs) = self.send(req).await;
        let etag = hdrs.get("etag").map(|v| v.to_str().unwrap_or("").to_owned()).unwrap_or_default();
        (st, text, etag)
    }

    async fn complete(&self, key: &str, id: &str, parts: &[(u16, &str)], extra: &str) -> (StatusCode, String) {
        let url = CompleteMultipartUpload::new(&self.bucket, Some(&self.creds), key, id, std::iter::empty::<&str>())
            .sign(EXPIRY);
        let body: String = parts
            .iter()
            .map(|(n, e)| format!("<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag>{extra}</Part>"))
            .collect();
        let (st, text, _) = self
            .send(self.h.http.post(url).body(format!("<CompleteMultipartUpload>{body}</CompleteMultipartUpload>")))
            .await;
        (st, text)
    }

    async fn get(&self, key: &str, checksum_mode: bool) -> (StatusCode, Vec<u8>, reqwest::header::HeaderMap) {
        let mut action = GetObject::new(&self.bucket, Some(&self.creds), key);
        if checksum_mode {
            action.headers_mut().insert("x-amz-checksum-mode", "ENABLED");
        }
        let mut req = self.h.http.get(action.sign(EXPIRY));
        if checksum_mode {
            req = req.header("x-amz-checksum-mode", "ENABLED");
        }
        let resp = req.send().await.expect("GET");
        let (st, headers) = (resp.status(), resp.headers().clone());
        (st, resp.bytes().await.expect("body").to_vec(), headers)
    }
}

#[tokio::test]
async fn a_repeated_complete_answers_the_first_result() {
    let s = S3::new().await;
    let id = s.create("rep/x", None).await;
    let (_, _, etag) = s.part("rep/x", &id, 1, vec![1; 100], &[]).await;
    let (st, first) = s.complete("rep/x", &id, &[(1, &etag)], "").await;
    assert_eq!(st, StatusCode::OK, "{first}");
    let (st, again) = s.complete("rep/x", &id, &[(1, &etag)], "").await;
    assert_eq!(st, StatusCode::OK, "{again}");
    assert_eq!(tag(&again, "ETag"), tag(&first, "ETag"));
    // The upload is over for everything else.
    let (st, body, _) = s.part("rep/x", &id, 2, vec![2; 10], &[]).await;
    assert_eq!((st, tag(&body, "Code")), (StatusCode::NOT_FOUND, Some("NoSuchUpload")));
}

#[tokio::test]
async fn complete_allows_gaps_takes_a_part_listed_twice_once_and_refuses_disorder() {
    let s = S3::new().await;
    let key = "gaps/x";
    let id = s.create(key, None).await;
    let p1 = bytes(5 * MIB, 1);
    let p3 = bytes(1000, 3);
    let (_, _, e1) = s.part(key, &id, 1, p1.clone(), &[]).await;
    let (_, _, e3) = s.part(key, &id, 3, p3.clone(), &[]).await;
    let (st, body) = s.complete(key, &id, &[(3, &e3), (1, &e1)], "").await;
    assert_eq!((st, tag(&body, "Code")), (StatusCode::BAD_REQUEST, Some("InvalidPartOrder")), "{body}");
    let (st, body) = s.complete(key, &id, &[(1, &e1), (1, &e1), (3, &e3)], "").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    assert!(tag(&body, "ETag").is_some_and(|e| e.ends_with("-2\"") || e.ends_with("-2&quot;")), "{body}");
    let (_, got, _) = s.get(key, false).await;
    assert_eq!(got, [p1, p3].concat());
}

#[tokio::test]
async fn part_numbers_outside_1_to_10000_are_refused() {
    let s = S3::new().await;
    let id = s.create("pn/x", None).await;
    // rusty-s3 takes a u16: part 0 and 10,001 are within it.
    for n in [0u16, 10_001] {
        let (st, body, _) = s.part("pn/x", &id, n, vec![1; 10], &[]).await;
        assert_eq!((st, tag(&body, "Code")), (StatusCode::BAD_REQUEST, Some("InvalidArgument")), "{n}: {body}");
    }
    let mut list = ListParts::new(&s.bucket, Some(&s.creds), "pn/x", &id);
    list.set_max_parts(10);
    let (_, body, _) = s.send(s.h.http.get(list.sign(EXPIRY))).await;
    assert!(tags(&body, "PartNumber").is_empty(), "{body}");
}

#[tokio::test]
async fn list_parts_pages_with_max_parts_and_the_marker() {
    let s = S3::new().await;
    let id = s.create("page/x", None).await;
    for n in 1..=5 {
        s.part("page/x", &id, n, vec![n as u8; 10], &[]).await;
    }
    let mut seen = Vec::new();
    let mut marker = None;
    for _ in 0..5 {
        let mut list = ListParts::new(&s.bucket, Some(&s.creds), "page/x", &id);
        list.set_max_parts(2);
        if let Some(m) = marker {
            list.set_part_number_marker(m);
        }
        let (_, body, _) = s.send(s.h.http.get(list.sign(EXPIRY))).await;
        let page = ListParts::parse_response(&body).expect("ListPartsResult");
        assert!(page.parts.len() <= 2, "{body}");
        seen.extend(page.parts.iter().map(|p| p.number));
        match page.next_part_number_marker {
            Some(m) => marker = Some(m),
            None => break,
        }
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
}

#[tokio::test]
async fn checksums_from_create_to_complete_and_after_an_overwrite() {
    let s = S3::new().await;
    let key = "sum/x";
    // A plain PUT with a SHA-256: kept, returned with checksum mode.
    let first = bytes(1000, 7);
    let url = {
        let mut a = PutObject::new(&s.bucket, Some(&s.creds), key);
        a.headers_mut().insert("x-amz-checksum-sha256", sha256_b64(&first));
        a.sign(EXPIRY)
    };
    let (st, body, _) =
        s.send(s.h.http.put(url).header("x-amz-checksum-sha256", sha256_b64(&first)).body(first.clone())).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, _, h) = s.get(key, true).await;
    assert_eq!(h["x-amz-checksum-sha256"].to_str().ok(), Some(sha256_b64(&first).as_str()));

    // A multipart upload with composite SHA-256 checksums overwrites it.
    let id = s.create(key, Some(("SHA256", "COMPOSITE"))).await;
    let p1 = bytes(5 * MIB, 8);
    let p2 = bytes(100, 9);
    let (st, body, e1) = s.part(key, &id, 1, p1.clone(), &[("x-amz-checksum-sha256", sha256_b64(&p1))]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // A part without a checksum header gets one computed (the upload asked for SHA-256).
    let (st, body, e2) = s.part(key, &id, 2, p2.clone(), &[]).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let list = ListParts::new(&s.bucket, Some(&s.creds), key, &id);
    let (_, listed, _) = s.send(s.h.http.get(list.sign(EXPIRY))).await;
    assert_eq!(tags(&listed, "ChecksumSHA256"), vec![sha256_b64(&p1), sha256_b64(&p2)], "{listed}");
    assert_eq!(tag(&listed, "ChecksumAlgorithm"), Some("SHA256"));
    // A wrong part checksum at complete is InvalidPart, and changes nothing.
    let wrong = format!("<ChecksumSHA256>{}</ChecksumSHA256>", sha256_b64(b"other"));
    let (st, body) = s.complete(key, &id, &[(1, &e1), (2, &e2)], &wrong).await;
    assert_eq!((st, tag(&body, "Code")), (StatusCode::BAD_REQUEST, Some("InvalidPart")), "{body}");
    let (st, body) = s.complete(key, &id, &[(1, &e1), (2, &e2)], "").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, got, h) = s.get(key, true).await;
    assert_eq!(got, [p1.clone(), p2.clone()].concat());
    let composite = {
        use sha2::Digest as _;
        let mut outer = sha2::Sha256::new();
        outer.update(sha2::Sha256::digest(&p1));
        outer.update(sha2::Sha256::digest(&p2));
        format!("{}-2", b64(&outer.finalize()))
    };
    assert_eq!(h["x-amz-checksum-sha256"].to_str().ok(), Some(composite.as_str()), "not the old object's checksum");
    // A part read by its number carries that part's checksum.
    let mut part2 = GetObject::new(&s.bucket, Some(&s.creds), key);
    part2.query_mut().insert("partNumber", "2");
    let resp = s.h.http.get(part2.sign(EXPIRY)).send().await.expect("GET part");
    assert_eq!(resp.headers()["x-amz-checksum-sha256"].to_str().ok(), Some(sha256_b64(&p2).as_str()));
    assert_eq!(resp.headers()["x-amz-mp-parts-count"].to_str().ok(), Some("2"));
    assert_eq!(resp.bytes().await.expect("body").to_vec(), p2);
    // GetObjectAttributes lists the parts, a page at a time.
    let mut attrs = GetObject::new(&s.bucket, Some(&s.creds), key);
    attrs.query_mut().insert("attributes", "");
    attrs.headers_mut().insert("x-amz-max-parts", "1");
    attrs.headers_mut().insert("x-amz-object-attributes", "ObjectSize,Checksum,ObjectParts");
    let req =
        s.h.http
            .get(attrs.sign(EXPIRY))
            .header("x-amz-max-parts", "1")
            .header("x-amz-object-attributes", "ObjectSize,Checksum,ObjectParts");
    let (st, xml, _) = s.send(req).await;
    assert_eq!(st, StatusCode::OK, "{xml}");
    assert_eq!(tag(&xml, "ObjectSize"), Some((5 * MIB + 100).to_string().as_str()), "{xml}");
    assert_eq!(tag(&xml, "PartsCount"), Some("2"), "{xml}");
    assert_eq!(tag(&xml, "IsTruncated"), Some("true"), "{xml}");
    assert_eq!(tags(&xml, "ChecksumSHA256"), vec![composite.clone(), sha256_b64(&p1)], "{xml}");
}

#[tokio::test]
async fn a_full_object_crc_is_computed_at_complete() {
    let s = S3::new().await;
    let key = "crc/x";
    let id = s.create(key, Some(("CRC32", "FULL_OBJECT"))).await;
    let p1 = bytes(5 * MIB, 10);
    let p2 = bytes(777, 11);
    let (_, _, e1) = s.part(key, &id, 1, p1.clone(), &[]).await;
    let (_, _, e2) = s.part(key, &id, 2, p2.clone(), &[]).await;
    let (st, body) = s.complete(key, &id, &[(1, &e1), (2, &e2)], "").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let whole = [p1, p2].concat();
    let (_, got, h) = s.get(key, true).await;
    assert_eq!(got, whole);
    let mut crc = !0u32;
    for b in &whole {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    assert_eq!(h["x-amz-checksum-crc32"].to_str().ok(), Some(b64(&(!crc).to_be_bytes()).as_str()));
    assert_eq!(h["x-amz-checksum-type"].to_str().ok(), Some("FULL_OBJECT"));
    // CRC64NVME cannot be composite; SHA-256 cannot be full-object.
    for (alg, kind) in [("CRC64NVME", "COMPOSITE"), ("SHA256", "FULL_OBJECT")] {
        let mut action = CreateMultipartUpload::new(&s.bucket, Some(&s.creds), "crc/bad");
        action.headers_mut().insert("x-amz-checksum-algorithm", alg);
        action.headers_mut().insert("x-amz-checksum-type", kind);
        let req =
            s.h.http
                .post(action.sign(EXPIRY))
                .header("x-amz-checksum-algorithm", alg)
                .header("x-amz-checksum-type", kind);
        let (st, body, _) = s.send(req).await;
        assert_eq!((st, tag(&body, "Code")), (StatusCode::BAD_REQUEST, Some("InvalidRequest")), "{alg}/{kind}: {body}");
    }
}

#[tokio::test]
async fn an_object_beside_a_prefix_of_it_and_a_restart_keep_everything() {
    let dir = tempfile::tempdir().expect("dir");
    let data = dir.path().join("data");
    let cfg = |d: &std::path::Path| {
        let mut c = s3_multipart_server::Config::for_tests(d.to_path_buf());
        c.access_key = "k".into();
        c.secret_key = "s".into();
        c
    };
    let server = s3_multipart_server::start(cfg(&data)).await.expect("start");
    let s3 = &server.s3;
    let bucket =
        Bucket::new(s3.endpoint.clone(), UrlStyle::Path, s3.bucket.clone(), s3.region.clone()).expect("bucket");
    let creds = Credentials::new("k", "s");
    let http = reqwest::Client::new();
    for (key, body) in [("foo", b"a".to_vec()), ("foo/bar", b"b".to_vec())] {
        let resp =
            http.put(PutObject::new(&bucket, Some(&creds), key).sign(EXPIRY)).body(body).send().await.expect("PUT");
        assert_eq!(resp.status(), StatusCode::OK);
    }
    drop(server);
    // A restart reads everything back from disk.
    let server = s3_multipart_server::start(cfg(&data)).await.expect("restart");
    let bucket =
        Bucket::new(server.s3.endpoint.clone(), UrlStyle::Path, server.s3.bucket.clone(), "us-east-1").expect("b");
    for (key, body) in [("foo", b"a".to_vec()), ("foo/bar", b"b".to_vec())] {
        let resp = http.get(GetObject::new(&bucket, Some(&creds), key).sign(EXPIRY)).send().await.expect("GET");
        assert_eq!(resp.status(), StatusCode::OK, "{key}");
        assert_eq!(resp.bytes().await.expect("body").to_vec(), body);
    }
}

#[tokio::test]
async fn a_put_with_chunked_transfer_encoding_is_stored() {
    let s = S3::new().await;
    let body = bytes(300_000, 12);
    let url = PutObject::new(&s.bucket, Some(&s.creds), "chunked/x").sign(EXPIRY);
    // A streamed body has no Content-Length: reqwest sends it chunked.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(65_536).map(|c| Ok(c.to_vec())).collect();
    let stream = futures::stream::iter(chunks);
    let (st, text, _) = s.send(s.h.http.put(url).body(reqwest::Body::wrap_stream(stream))).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let (_, got, _) = s.get("chunked/x", false).await;
    assert_eq!(got, body);
}

#[tokio::test]
async fn upload_part_copy_copies_a_range_and_refuses_one_past_the_end() {
    let s = S3::new().await;
    let source = bytes(6 * MIB + 10, 31);
    let url = PutObject::new(&s.bucket, Some(&s.creds), "copy/src").sign(EXPIRY);
    let (st, body, _) = s.send(s.h.http.put(url).body(source.clone())).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let id = s.create("copy/dst", None).await;
    let copy = |n: u16, range: Option<&str>| {
        let source = format!("{}/copy/src", s.h.server.s3.bucket);
        let mut headers = vec![("x-amz-copy-source", source)];
        headers.extend(range.map(|r| ("x-amz-copy-source-range", r.to_owned())));
        let mut action = UploadPart::new(&s.bucket, Some(&s.creds), "copy/dst", n, &id);
        for (k, v) in &headers {
            action.headers_mut().insert(*k, v.clone());
        }
        let mut req = s.h.http.put(action.sign(EXPIRY));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        s.send(req)
    };
    // Whole object as part 1, its last 10 bytes as part 2.
    let (st, body, _) = copy(1, None).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let e1 = tag(&body, "ETag").expect("ETag").replace("&quot;", "\"");
    let last = format!("bytes={}-{}", 6 * MIB, 6 * MIB + 9);
    let (st, body, _) = copy(2, Some(&last)).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let e2 = tag(&body, "ETag").expect("ETag").replace("&quot;", "\"");
    // One byte past the end: InvalidRange, and part 3 is not stored.
    let past = format!("bytes=0-{}", 6 * MIB + 10);
    let (st, body, _) = copy(3, Some(&past)).await;
    assert_eq!((st, tag(&body, "Code")), (StatusCode::RANGE_NOT_SATISFIABLE, Some("InvalidRange")), "{body}");
    let (st, body) = s.complete("copy/dst", &id, &[(1, &e1), (2, &e2)], "").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let (_, got, _) = s.get("copy/dst", false).await;
    assert_eq!(got, [source.clone(), source[6 * MIB..].to_vec()].concat());
}
