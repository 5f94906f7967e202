//! The embedded store against S3's rules, op by op, with requests signed
//! the way any S3 client signs them (rusty-s3): the failures the S3
//! conformance suite found in the s3s-fs wrapper, each checked here.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use reqwest::StatusCode;
use rusty_s3::actions::{
    CompleteMultipartUpload, CreateBucket, CreateMultipartUpload, DeleteObject, GetObject, ListObjectsV2, ListParts,
    PutObject, UploadPart,
};
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

    /// A complete with the given headers (a whole-object checksum).
    async fn complete_with(
        &self,
        key: &str,
        id: &str,
        parts: &[(u16, &str)],
        headers: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let mut action =
            CompleteMultipartUpload::new(&self.bucket, Some(&self.creds), key, id, std::iter::empty::<&str>());
        for (k, v) in headers {
            action.headers_mut().insert(*k, *v);
        }
        let body: String =
            parts.iter().map(|(n, e)| format!("<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>")).collect();
        let mut req = self
            .h
            .http
            .post(action.sign(EXPIRY))
            .body(format!("<CompleteMultipartUpload>{body}</CompleteMultipartUpload>"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let (st, text, _) = self.send(req).await;
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

/// A reflected CRC of `width` bits, bit by bit: the slowest way, and not
/// the store's (which combines the parts' CRCs).
fn reflected_crc(poly: u64, width: u32, bytes: &[u8]) -> Vec<u8> {
    let mask = if width == 64 { !0 } else { (1u64 << width) - 1 };
    let mut crc = mask;
    for b in bytes {
        crc ^= u64::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ poly } else { crc >> 1 };
        }
    }
    (!crc & mask).to_be_bytes()[(8 - width as usize / 8)..].to_vec()
}

#[tokio::test]
async fn a_full_object_crc_is_computed_at_complete() {
    let s = S3::new().await;
    // Parts of three sizes (the last one small), for every CRC S3 keeps as a
    // full-object checksum; the store combines the parts' CRCs at complete.
    for (alg, poly, width) in
        [("CRC32", 0xEDB8_8320, 32), ("CRC32C", 0x82F6_3B78, 32), ("CRC64NVME", 0x9A6C_9329_AC4B_C9B5, 64)]
    {
        let key = format!("crc/{alg}");
        let id = s.create(&key, Some((alg, "FULL_OBJECT"))).await;
        let ps = [bytes(5 * MIB, 10), bytes(5 * MIB + 3, 12), bytes(777, 11)];
        let mut etags = Vec::new();
        for (i, p) in ps.iter().enumerate() {
            let (st, text, e) = s.part(&key, &id, i as u16 + 1, p.clone(), &[]).await;
            assert_eq!(st, StatusCode::OK, "{alg} part {}: {text}", i + 1);
            etags.push(e);
        }
        let list: Vec<(u16, &str)> = etags.iter().enumerate().map(|(i, e)| (i as u16 + 1, e.as_str())).collect();
        let whole = ps.concat();
        let want = b64(&reflected_crc(poly, width, &whole));
        // A whole-object checksum that is not the object's: refused, the upload stays.
        let wrong = b64(&reflected_crc(poly, width, &whole[1..]));
        let header = format!("x-amz-checksum-{}", alg.to_ascii_lowercase());
        let (st, body) = s.complete_with(&key, &id, &list, &[(&header, &wrong)]).await;
        assert_eq!((st, tag(&body, "Code")), (StatusCode::BAD_REQUEST, Some("BadDigest")), "{alg}: {body}");
        let (st, body) = s.complete_with(&key, &id, &list, &[(&header, &want)]).await;
        assert_eq!(st, StatusCode::OK, "{alg}: {body}");
        let (_, got, h) = s.get(&key, true).await;
        assert!(got == whole, "{alg}: the object is its parts");
        assert_eq!(h[header.as_str()].to_str().ok(), Some(want.as_str()), "{alg}");
        assert_eq!(h["x-amz-checksum-type"].to_str().ok(), Some("FULL_OBJECT"));
    }
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
    // With the payload's SHA-256 signed in (as a header-signed client sends it),
    // the length is measured first; a wrong hash stores nothing.
    let chunked = |body: &[u8]| {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(65_536).map(|c| Ok(c.to_vec())).collect();
        reqwest::Body::wrap_stream(futures::stream::iter(chunks))
    };
    for (hash, want) in [(hex_sha256(&body), StatusCode::OK), (hex_sha256(b"other"), StatusCode::BAD_REQUEST)] {
        let mut a = PutObject::new(&s.bucket, Some(&s.creds), "chunked/signed");
        a.headers_mut().insert("x-amz-content-sha256", hash.clone());
        let req = s.h.http.put(a.sign(EXPIRY)).header("x-amz-content-sha256", &hash).body(chunked(&body));
        let (st, text, _) = s.send(req).await;
        assert_eq!(st, want, "{text}");
    }
    let (st, got, _) = s.get("chunked/signed", false).await;
    assert_eq!((st, got == body), (StatusCode::OK, true));
    // Past 16 MiB without a length: 411, saying what to do.
    let big = bytes(16 * MIB + 1, 13);
    let url = PutObject::new(&s.bucket, Some(&s.creds), "chunked/big").sign(EXPIRY);
    let (st, text, _) = s.send(s.h.http.put(url).body(chunked(&big))).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::LENGTH_REQUIRED, Some("MissingContentLength")), "{text}");
    assert!(text.contains("send Content-Length"), "{text}");
    assert_eq!(s.get("chunked/big", false).await.0, StatusCode::NOT_FOUND);
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn get_object_attributes_answers_the_etag_unquoted_as_s3_does() {
    let s = S3::new().await;
    let id = s.create("attr/k", None).await;
    let (_, _, e) = s.part("attr/k", &id, 1, b"abc".to_vec(), &[]).await;
    assert_eq!(s.complete("attr/k", &id, &[(1, &e)], "").await.0, StatusCode::OK);
    let mut a = GetObject::new(&s.bucket, Some(&s.creds), "attr/k");
    a.query_mut().insert("attributes", "");
    a.headers_mut().insert("x-amz-object-attributes", "ETag,ObjectSize");
    let req = s.h.http.get(a.sign(EXPIRY)).header("x-amz-object-attributes", "ETag,ObjectSize");
    let (st, text, headers) = s.send(req).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let etag = tag(&text, "ETag").expect("ETag");
    assert!(etag.ends_with("-1") && !etag.contains('"') && !etag.contains("&quot;"), "{text}");
    assert_eq!(tag(&text, "ObjectSize"), Some("3"));
    let length: usize = headers["content-length"].to_str().expect("ascii").parse().expect("number");
    assert_eq!(length, text.len());
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

impl S3 {
    /// A signed URL of a bucket-level request with `query` (`?versioning`, `?versions`, `?lifecycle`).
    fn bucket_url(&self, put: bool, query: &[(&'static str, &str)]) -> reqwest::Url {
        if put {
            let mut a = CreateBucket::new(&self.bucket, &self.creds);
            for (k, v) in query {
                a.query_mut().insert(*k, v.to_string());
            }
            a.sign(EXPIRY)
        } else {
            let mut a = ListObjectsV2::new(&self.bucket, Some(&self.creds));
            for (k, v) in query {
                a.query_mut().insert(*k, v.to_string());
            }
            a.sign(EXPIRY)
        }
    }

    async fn set_versioning(&self, status: &str) {
        let body = format!("<VersioningConfiguration><Status>{status}</Status></VersioningConfiguration>");
        let (st, text, _) = self.send(self.h.http.put(self.bucket_url(true, &[("versioning", "")])).body(body)).await;
        assert_eq!(st, StatusCode::OK, "{text}");
    }

    async fn put_object(
        &self,
        key: &str,
        body: &[u8],
        headers: &[(&'static str, &str)],
    ) -> (StatusCode, String, String) {
        let mut a = PutObject::new(&self.bucket, Some(&self.creds), key);
        for (k, v) in headers {
            a.headers_mut().insert(*k, v.to_string());
        }
        let mut req = self.h.http.put(a.sign(EXPIRY)).body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let (st, text, h) = self.send(req).await;
        let version = h.get("x-amz-version-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        (st, text, version)
    }

    async fn get_version(
        &self,
        key: &str,
        version: Option<&str>,
        query: &[(&'static str, &str)],
    ) -> (StatusCode, String) {
        let mut a = GetObject::new(&self.bucket, Some(&self.creds), key);
        if let Some(v) = version {
            a.query_mut().insert("versionId", v.to_owned());
        }
        for (k, v) in query {
            a.query_mut().insert(*k, v.to_string());
        }
        let (st, text, _) = self.send(self.h.http.get(a.sign(EXPIRY))).await;
        (st, text)
    }

    async fn delete(&self, key: &str, version: Option<&str>) -> reqwest::header::HeaderMap {
        let mut a = DeleteObject::new(&self.bucket, Some(&self.creds), key);
        if let Some(v) = version {
            a.query_mut().insert("versionId", v.to_owned());
        }
        let (st, text, h) = self.send(self.h.http.delete(a.sign(EXPIRY))).await;
        assert_eq!(st, StatusCode::NO_CONTENT, "{text}");
        h
    }
}

#[tokio::test]
async fn a_versioned_bucket_keeps_every_version_and_deletes_with_markers() {
    let s = S3::new().await;
    // Unversioned: no version id, an overwrite replaces.
    let (st, _, v) = s.put_object("v/k", b"zero", &[]).await;
    assert_eq!((st, v.as_str()), (StatusCode::OK, ""));
    s.set_versioning("Enabled").await;
    let (_, _, v1) = s.put_object("v/k", b"one", &[]).await;
    let (_, _, v2) = s.put_object("v/k", b"two", &[]).await;
    assert!(v1.len() == 32 && v2.len() == 32 && v1 != v2, "{v1} {v2}");
    // Every version reads back; the one written before versioning is "null".
    assert_eq!(s.get_version("v/k", None, &[]).await, (StatusCode::OK, "two".into()));
    assert_eq!(s.get_version("v/k", Some(&v1), &[]).await, (StatusCode::OK, "one".into()));
    assert_eq!(s.get_version("v/k", Some("null"), &[]).await, (StatusCode::OK, "zero".into()));
    let (st, text) = s.get_version("v/k", Some("0123456789abcdef0123456789abcdef"), &[]).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::NOT_FOUND, Some("NoSuchVersion")), "{text}");
    let (st, text) = s.get_version("v/k", Some("../x"), &[]).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::BAD_REQUEST, Some("InvalidArgument")), "{text}");
    // A multipart complete makes a version too, and says which.
    let id = s.create("v/k", None).await;
    let (_, _, e) = s.part("v/k", &id, 1, b"three".to_vec(), &[]).await;
    let (st, body) = s.complete("v/k", &id, &[(1, &e)], "").await;
    assert_eq!(st, StatusCode::OK, "{body}");
    // A delete without a version hides the key behind a marker; the data stays.
    let h = s.delete("v/k", None).await;
    assert_eq!(h.get("x-amz-delete-marker").map(|v| v.as_bytes()), Some(&b"true"[..]));
    let marker = h.get("x-amz-version-id").expect("marker id").to_str().expect("ascii").to_owned();
    let (st, text) = s.get_version("v/k", None, &[]).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::NOT_FOUND, Some("NoSuchKey")), "{text}");
    let (st, text) = s.get_version("v/k", Some(&marker), &[]).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::METHOD_NOT_ALLOWED, Some("MethodNotAllowed")), "{text}");
    let (st, text, _) = s.send(s.h.http.get(s.bucket_url(false, &[("versions", "")]))).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert_eq!(tags(&text, "Version").len(), 4, "{text}");
    assert_eq!(tags(&text, "DeleteMarker").len(), 1, "{text}");
    let (_, list, _) = s.send(s.h.http.get(ListObjectsV2::new(&s.bucket, Some(&s.creds)).sign(EXPIRY))).await;
    assert!(!list.contains("<Key>v/k</Key>"), "a deleted key is not listed: {list}");
    // Deleting the marker brings the newest version back; deleting a version removes it for good.
    s.delete("v/k", Some(&marker)).await;
    let (st, text) = s.get_version("v/k", None, &[]).await;
    assert_eq!((st, text.as_str()), (StatusCode::OK, "three"));
    s.delete("v/k", Some(&v1)).await;
    let (st, _) = s.get_version("v/k", Some(&v1), &[]).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(s.get_version("v/k", Some(&v2), &[]).await, (StatusCode::OK, "two".into()));
    // Suspended: writes replace the null version only.
    s.set_versioning("Suspended").await;
    let (_, _, v) = s.put_object("v/k", b"four", &[]).await;
    assert_eq!(v, "", "a suspended bucket's write has no version id");
    assert_eq!(s.get_version("v/k", Some("null"), &[]).await, (StatusCode::OK, "four".into()));
    assert_eq!(s.get_version("v/k", Some(&v2), &[]).await, (StatusCode::OK, "two".into()));
    let (st, text, _) = s.send(s.h.http.get(s.bucket_url(false, &[("versioning", "")]))).await;
    assert_eq!((st, tag(&text, "Status")), (StatusCode::OK, Some("Suspended")), "{text}");
}

#[tokio::test]
async fn tags_go_with_an_object_from_put_and_from_create_and_are_checked() {
    let s = S3::new().await;
    let (st, text, _) = s.put_object("t/one", b"x", &[("x-amz-tagging", "a=1&b=two%20words")]).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let (st, text) = s.get_version("t/one", None, &[("tagging", "")]).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert_eq!(tags(&text, "Key"), ["a", "b"], "{text}");
    assert_eq!(tags(&text, "Value"), ["1", "two words"], "{text}");
    // Refused before anything is stored: a key given twice, more than 10 tags.
    let (st, text, _) = s.put_object("t/two", b"x", &[("x-amz-tagging", "a=1&a=2")]).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::BAD_REQUEST, Some("InvalidTag")), "{text}");
    let many: Vec<String> = (0..11).map(|n| format!("k{n}=v")).collect();
    let (st, _, _) = s.put_object("t/two", b"x", &[("x-amz-tagging", &many.join("&"))]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    let (st, _) = s.get_version("t/two", None, &[]).await;
    assert_eq!(st, StatusCode::NOT_FOUND, "a refused PUT stores nothing");
    // A multipart upload carries its tags to the object; DELETE ?tagging clears them.
    let mut a = CreateMultipartUpload::new(&s.bucket, Some(&s.creds), "t/multi");
    a.headers_mut().insert("x-amz-tagging", "Hello=World");
    let (st, body, _) = s.send(s.h.http.post(a.sign(EXPIRY)).header("x-amz-tagging", "Hello=World")).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let id = tag(&body, "UploadId").expect("id").to_owned();
    let (_, _, e) = s.part("t/multi", &id, 1, b"m".to_vec(), &[]).await;
    assert_eq!(s.complete("t/multi", &id, &[(1, &e)], "").await.0, StatusCode::OK);
    let (_, text) = s.get_version("t/multi", None, &[("tagging", "")]).await;
    assert_eq!(tags(&text, "Key"), ["Hello"], "{text}");
    let mut d = DeleteObject::new(&s.bucket, Some(&s.creds), "t/multi");
    d.query_mut().insert("tagging", "");
    let (st, _, _) = s.send(s.h.http.delete(d.sign(EXPIRY))).await;
    assert_eq!(st, StatusCode::NO_CONTENT);
    let (_, text) = s.get_version("t/multi", None, &[("tagging", "")]).await;
    assert!(tags(&text, "Key").is_empty(), "{text}");
}

#[tokio::test]
async fn lifecycle_rules_are_kept_and_abort_old_uploads_and_expire_objects() {
    let s = S3::new().await;
    let rules = "<LifecycleConfiguration>\
        <Rule><ID>uploads</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Enabled</Status>\
        <AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>\
        <Rule><ID>old</ID><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
        <Rule><ID>off</ID><Prefix></Prefix><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
        </LifecycleConfiguration>";
    let url = s.bucket_url(true, &[("lifecycle", "")]);
    let (st, text, _) = s.send(s.h.http.put(url).body(rules)).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let (st, text, _) = s.send(s.h.http.get(s.bucket_url(false, &[("lifecycle", "")]))).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert_eq!(tags(&text, "ID"), ["uploads", "old", "off"], "{text}");
    // What the store cannot apply is refused, not stored and ignored.
    let transition = "<LifecycleConfiguration><Rule><ID>t</ID><Prefix></Prefix><Status>Enabled</Status>\
        <Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>";
    let (st, text, _) = s.send(s.h.http.put(s.bucket_url(true, &[("lifecycle", "")])).body(transition)).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::NOT_IMPLEMENTED, Some("NotImplemented")), "{text}");
    let (_, text, _) = s.send(s.h.http.get(s.bucket_url(false, &[("lifecycle", "")]))).await;
    assert_eq!(tags(&text, "ID").len(), 3, "the refused configuration changed nothing: {text}");
    // Applied as of a day and a half, then three days from now.
    let old_upload = s.create("tmp/left-behind", None).await;
    let other_upload = s.create("keep/open", None).await;
    assert_eq!(s.put_object("old/x", b"x", &[]).await.0, StatusCode::OK);
    assert_eq!(s.put_object("new/y", b"y", &[]).await.0, StatusCode::OK);
    let store = s.h.server.store.as_ref().expect("embedded store");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as u64;
    let day = 24 * 3600 * 1000;
    let swept = store.apply_lifecycle(now + day * 3 / 2).await;
    assert_eq!((swept.uploads_aborted, swept.objects_expired), (0, 1), "{swept:?}");
    assert_eq!(s.get_version("old/x", None, &[]).await.0, StatusCode::NOT_FOUND);
    let swept = store.apply_lifecycle(now + 3 * day).await;
    assert_eq!((swept.uploads_aborted, swept.objects_expired), (1, 0), "{swept:?}");
    let list = |id: &str, key: &str| {
        let url = ListParts::new(&s.bucket, Some(&s.creds), key, id).sign(EXPIRY);
        s.send(s.h.http.get(url))
    };
    let (st, text, _) = list(&old_upload, "tmp/left-behind").await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::NOT_FOUND, Some("NoSuchUpload")), "{text}");
    assert_eq!(list(&other_upload, "keep/open").await.0, StatusCode::OK, "another prefix's upload stays");
    assert_eq!(s.get_version("new/y", None, &[]).await, (StatusCode::OK, "y".into()), "a disabled rule does nothing");
}

#[tokio::test]
async fn object_lock_keeps_a_locked_version_until_its_retention_ends_or_is_bypassed() {
    let s = S3::new().await;
    let e = &s.h.server.s3;
    let locked = Bucket::new(e.endpoint.clone(), UrlStyle::Path, "locked-bucket", e.region.clone()).expect("bucket");
    let mut create = CreateBucket::new(&locked, &s.creds);
    create.headers_mut().insert("x-amz-bucket-object-lock-enabled", "true");
    let req = s.h.http.put(create.sign(EXPIRY)).header("x-amz-bucket-object-lock-enabled", "true");
    let (st, text, _) = s.send(req).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let put = |key: &'static str, headers: Vec<(&'static str, String)>| {
        let mut a = PutObject::new(&locked, Some(&s.creds), key);
        for (k, v) in &headers {
            a.headers_mut().insert(*k, v.clone());
        }
        let mut req = s.h.http.put(a.sign(EXPIRY)).body("data");
        for (k, v) in headers {
            req = req.header(k, v);
        }
        s.send(req)
    };
    let delete = |key: &'static str, version: String, bypass: bool| {
        let mut a = DeleteObject::new(&locked, Some(&s.creds), key);
        a.query_mut().insert("versionId", version);
        if bypass {
            a.headers_mut().insert("x-amz-bypass-governance-retention", "true");
        }
        let mut req = s.h.http.delete(a.sign(EXPIRY));
        if bypass {
            req = req.header("x-amz-bypass-governance-retention", "true");
        }
        s.send(req)
    };
    let until = "2099-01-01T00:00:00Z".to_owned();
    let governance = vec![
        ("x-amz-object-lock-mode", "GOVERNANCE".to_owned()),
        ("x-amz-object-lock-retain-until-date", until.clone()),
    ];
    let (st, text, h) = put("gov", governance.clone()).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    let version = h["x-amz-version-id"].to_str().expect("ascii").to_owned();
    let (st, text, _) = delete("gov", version.clone(), false).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::FORBIDDEN, Some("AccessDenied")), "{text}");
    assert_eq!(delete("gov", version, true).await.0, StatusCode::NO_CONTENT, "the bypass deletes under GOVERNANCE");
    // A legal hold holds even with the bypass; COMPLIANCE likewise.
    for (key, headers) in [
        ("hold", vec![("x-amz-object-lock-legal-hold", "ON".to_owned())]),
        (
            "comp",
            vec![
                ("x-amz-object-lock-mode", "COMPLIANCE".to_owned()),
                ("x-amz-object-lock-retain-until-date", until.clone()),
            ],
        ),
    ] {
        let (st, text, h) = put(key, headers).await;
        assert_eq!(st, StatusCode::OK, "{text}");
        let version = h["x-amz-version-id"].to_str().expect("ascii").to_owned();
        assert_eq!(delete(key, version, true).await.0, StatusCode::FORBIDDEN, "{key}");
    }
    // A lock asked of a bucket without Object Lock is refused, and nothing is stored.
    let (st, text, _) = s.put_object("plain", b"x", &[("x-amz-object-lock-legal-hold", "ON")]).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::BAD_REQUEST, Some("InvalidRequest")), "{text}");
    assert_eq!(s.get_version("plain", None, &[]).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unsigned_requests_get_what_the_acls_give_everyone_and_nothing_more() {
    let s = S3::new().await;
    let endpoint = s.h.server.s3.endpoint.as_str().trim_end_matches('/').to_owned();
    let anon = |key: &str| format!("{endpoint}/{}/{key}", s.h.server.s3.bucket);
    assert_eq!(s.put_object("acl/public", b"pub", &[("x-amz-acl", "public-read")]).await.0, StatusCode::OK);
    assert_eq!(s.put_object("acl/private", b"priv", &[]).await.0, StatusCode::OK);
    let resp = s.h.http.get(anon("acl/public")).send().await.expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.expect("body"), "pub");
    let resp = s.h.http.get(anon("acl/private")).send().await.expect("GET");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    // A missing key of a private bucket: 403, not a hint that it is missing.
    assert_eq!(s.h.http.get(anon("acl/none")).send().await.expect("GET").status(), StatusCode::FORBIDDEN);
    // Writes need a signature unless the bucket is public-read-write; a refused one stores nothing.
    let resp = s.h.http.put(anon("acl/anon-put")).body("x").send().await.expect("PUT");
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_eq!(s.get_version("acl/anon-put", None, &[]).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.h.http.delete(anon("acl/public")).send().await.expect("DELETE").status(), StatusCode::FORBIDDEN);
    assert_eq!(s.get_version("acl/public", None, &[]).await.0, StatusCode::OK);
    // An older version is never read or deleted unsigned, even where the current one is public.
    let versioned = format!("{}?versionId=null", anon("acl/public"));
    assert_eq!(s.h.http.get(&versioned).send().await.expect("GET").status(), StatusCode::FORBIDDEN);
    assert_eq!(s.h.http.delete(&versioned).send().await.expect("DELETE").status(), StatusCode::FORBIDDEN);
    // The ACL reads back with the owner and the public grant.
    let (st, text) = s.get_version("acl/public", None, &[("acl", "")]).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    assert!(text.contains("http://acs.amazonaws.com/groups/global/AllUsers"), "{text}");
    assert_eq!(tags(&text, "Permission"), ["FULL_CONTROL", "READ"], "{text}");
}

#[tokio::test]
async fn presigned_urls_live_at_most_a_week_and_errors_carry_their_request_id() {
    let s = S3::new().await;
    assert_eq!(s.put_object("week/k", b"x", &[]).await.0, StatusCode::OK);
    let week = Duration::from_secs(7 * 24 * 3600);
    let url = GetObject::new(&s.bucket, Some(&s.creds), "week/k").sign(week);
    assert_eq!(s.h.http.get(url).send().await.expect("GET").status(), StatusCode::OK);
    let url = GetObject::new(&s.bucket, Some(&s.creds), "week/k").sign(week + Duration::from_secs(1));
    let (st, text, _) = s.send(s.h.http.get(url)).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::FORBIDDEN, Some("AuthorizationQueryParametersError")), "{text}");
    // An error names the request id its header gives.
    let (st, text, headers) =
        s.send(s.h.http.get(GetObject::new(&s.bucket, Some(&s.creds), "week/none").sign(EXPIRY))).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let id = headers["x-amz-request-id"].to_str().expect("ascii");
    assert_eq!(tag(&text, "RequestId"), Some(id), "{text}");
    let length: usize = headers["content-length"].to_str().expect("ascii").parse().expect("number");
    assert_eq!(length, text.len());
}

const SSE_KEY: (&str, &str) = ("pO3upElrwuEXSoFwCfnZPdSsmt/xWeFa0N9KgDijwVs=", "DWygnHRtgiJ77HCm+1rvHw==");
const SSE_OTHER: (&str, &str) = ("6b+WOZ1T3cqZMxgThRcXAQBrS5mXKdDUphvpxptl9/4=", "arxBvwY2V4SiOne6yppVPQ==");

fn sse_headers((key, md5): (&'static str, &'static str)) -> Vec<(&'static str, String)> {
    vec![
        ("x-amz-server-side-encryption-customer-algorithm", "AES256".to_owned()),
        ("x-amz-server-side-encryption-customer-key", key.to_owned()),
        ("x-amz-server-side-encryption-customer-key-md5", md5.to_owned()),
    ]
}

#[tokio::test]
async fn sse_c_stores_ciphertext_and_reads_back_only_with_the_key() {
    let s = S3::new().await;
    let plain = bytes(300_000, 41);
    let headers = sse_headers(SSE_KEY);
    let borrowed: Vec<(&'static str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (st, text, _) = s.put_object("sse/one", &plain, &borrowed).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    // No data file holds the plaintext.
    let data = s.h._dir.path().join("data");
    let mut stack = vec![data];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).expect("dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) == plain.len() as u64 {
                files += 1;
                let stored = std::fs::read(&path).expect("read");
                assert!(!stored.windows(64).any(|w| w == &plain[1000..1064]), "plaintext on disk: {path:?}");
            }
        }
    }
    assert_eq!(files, 1, "the object's data file was found");
    // Its ETag is not the plaintext's MD5 (which would let anyone who lists the bucket test a guess).
    let (_, listed, _) = s.send(s.h.http.get(ListObjectsV2::new(&s.bucket, Some(&s.creds)).sign(EXPIRY))).await;
    let plain_md5 = {
        use md5::Digest as _;
        md5::Md5::digest(&plain).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert!(listed.contains("sse/one") && !listed.contains(&plain_md5), "{listed}");
    let get = |headers: Vec<(&'static str, String)>, range: Option<&'static str>| {
        let mut a = GetObject::new(&s.bucket, Some(&s.creds), "sse/one");
        for (k, v) in &headers {
            a.headers_mut().insert(*k, v.clone());
        }
        let mut req = s.h.http.get(a.sign(EXPIRY));
        for (k, v) in headers {
            req = req.header(k, v);
        }
        if let Some(r) = range {
            req = req.header("range", r);
        }
        async move {
            let resp = req.send().await.expect("GET");
            (resp.status(), resp.bytes().await.expect("body").to_vec())
        }
    };
    assert_eq!(get(Vec::new(), None).await.0, StatusCode::BAD_REQUEST, "no key");
    assert_eq!(get(sse_headers(SSE_OTHER), None).await.0, StatusCode::BAD_REQUEST, "another key");
    assert_eq!(get(sse_headers(SSE_KEY), None).await, (StatusCode::OK, plain.clone()));
    let (st, part) = get(sse_headers(SSE_KEY), Some("bytes=100001-200000")).await;
    assert_eq!((st, part.as_slice()), (StatusCode::PARTIAL_CONTENT, &plain[100_001..200_001]));
    // A key whose MD5 is not the one sent stores nothing.
    let bad = [
        ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
        ("x-amz-server-side-encryption-customer-key", SSE_KEY.0),
        ("x-amz-server-side-encryption-customer-key-md5", SSE_OTHER.1),
    ];
    let (st, text, _) = s.put_object("sse/bad", b"x", &bad).await;
    assert_eq!((st, tag(&text, "Code")), (StatusCode::BAD_REQUEST, Some("InvalidArgument")), "{text}");
    assert_eq!(s.get_version("sse/bad", None, &[]).await.0, StatusCode::NOT_FOUND);
    // A multipart upload: every part needs the upload's key.
    let mut a = CreateMultipartUpload::new(&s.bucket, Some(&s.creds), "sse/multi");
    for (k, v) in &headers {
        a.headers_mut().insert(*k, v.clone());
    }
    let mut req = s.h.http.post(a.sign(EXPIRY));
    for (k, v) in &headers {
        req = req.header(*k, v);
    }
    let (st, body, _) = s.send(req).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let id = tag(&body, "UploadId").expect("id").to_owned();
    let (st, text, _) = s.part("sse/multi", &id, 1, plain.clone(), &sse_headers(SSE_OTHER)).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{text}");
    let (st, text, _) = s.part("sse/multi", &id, 1, plain.clone(), &[]).await;
    assert_eq!(st, StatusCode::BAD_REQUEST, "{text}");
    let (st, text, e) = s.part("sse/multi", &id, 1, plain.clone(), &headers).await;
    assert_eq!(st, StatusCode::OK, "{text}");
    // The same bytes sent again (a retried part) keep their ETag, though their IV is new.
    let (st, text, again) = s.part("sse/multi", &id, 1, plain.clone(), &headers).await;
    assert_eq!((st, again.as_str()), (StatusCode::OK, e.as_str()), "{text}");
    assert_eq!(s.complete("sse/multi", &id, &[(1, &e)], "").await.0, StatusCode::OK);
    let mut a = GetObject::new(&s.bucket, Some(&s.creds), "sse/multi");
    for (k, v) in &headers {
        a.headers_mut().insert(*k, v.clone());
    }
    let mut req = s.h.http.get(a.sign(EXPIRY));
    for (k, v) in &headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.expect("body").to_vec(), plain);
}

/// S3's rules for the checksum headers of a PUT, judged before the body is
/// read (a refusal stores nothing): one `x-amz-checksum-*` header at most;
/// `x-amz-sdk-checksum-algorithm` names its algorithm; a part's checksum is
/// of its upload's algorithm, and an upload created without one takes none
/// ("Checksum Type mismatch", as S3 answers a presigned part PUT that signs
/// a checksum its upload was not created with). A part without a checksum
/// is taken either way.
#[tokio::test]
async fn checksum_headers_follow_s3s_rules() {
    let s = S3::new().await;
    let body = bytes(1000, 21);
    let crc = b64(&reflected_crc(0xEDB8_8320, 32, &body));
    let put = |key: &str, headers: &[(&str, String)]| {
        let mut a = PutObject::new(&s.bucket, Some(&s.creds), key);
        for (k, v) in headers {
            a.headers_mut().insert(*k, v.clone());
        }
        let mut req = s.h.http.put(a.sign(EXPIRY)).body(body.clone());
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        req
    };
    let refused = |st: StatusCode, text: &str, message: &str| {
        assert_eq!((st, tag(text, "Code")), (StatusCode::BAD_REQUEST, Some("InvalidRequest")), "{text}");
        assert!(text.contains(message), "{text}");
    };
    let two = [("x-amz-checksum-crc32", crc.clone()), ("x-amz-checksum-sha256", sha256_b64(&body))];
    let (st, text, _) = s.send(put("rules/two", &two)).await;
    refused(st, &text, "Expecting a single x-amz-checksum- header");
    let other = [("x-amz-sdk-checksum-algorithm", "CRC32C".to_owned()), ("x-amz-checksum-crc32", crc.clone())];
    let (st, text, _) = s.send(put("rules/sdk", &other)).await;
    refused(st, &text, "x-amz-sdk-checksum-algorithm header is invalid");
    for key in ["rules/two", "rules/sdk"] {
        assert_eq!(s.get(key, false).await.0, StatusCode::NOT_FOUND, "{key}: nothing stored");
    }
    let same = [("x-amz-sdk-checksum-algorithm", "CRC32".to_owned()), ("x-amz-checksum-crc32", crc.clone())];
    assert_eq!(s.send(put("rules/one", &same)).await.0, StatusCode::OK);

    async fn listed(s: &S3, key: &str, id: &str) -> usize {
        let url = ListParts::new(&s.bucket, Some(&s.creds), key, id).sign(EXPIRY);
        tags(&s.send(s.h.http.get(url)).await.1, "PartNumber").len()
    }
    let p = bytes(5 * MIB, 22);
    let (p_crc, p_sha) = (b64(&reflected_crc(0xEDB8_8320, 32, &p)), sha256_b64(&p));
    // Created without an algorithm: a part with a checksum is refused, one without taken.
    let id = s.create("rules/none", None).await;
    let (st, text, _) = s.part("rules/none", &id, 1, p.clone(), &[("x-amz-checksum-crc32", p_crc.clone())]).await;
    refused(st, &text, "expected checksum Type: null, actual checksum Type: crc32");
    assert_eq!(listed(&s, "rules/none", &id).await, 0, "the refused part is not stored");
    assert_eq!(s.part("rules/none", &id, 1, p.clone(), &[]).await.0, StatusCode::OK);
    // Created with CRC32: a SHA-256 part is refused; CRC32 or none taken.
    let id = s.create("rules/crc", Some(("CRC32", "FULL_OBJECT"))).await;
    let (st, text, _) = s.part("rules/crc", &id, 1, p.clone(), &[("x-amz-checksum-sha256", p_sha)]).await;
    refused(st, &text, "expected checksum Type: crc32, actual checksum Type: sha256");
    assert_eq!(listed(&s, "rules/crc", &id).await, 0, "the refused part is not stored");
    assert_eq!(s.part("rules/crc", &id, 1, p.clone(), &[("x-amz-checksum-crc32", p_crc)]).await.0, StatusCode::OK);
    assert_eq!(s.part("rules/crc", &id, 2, p.clone(), &[]).await.0, StatusCode::OK);
    assert_eq!(listed(&s, "rules/crc", &id).await, 2);
}

/// S3: where each part carries an additional checksum (an upload created
/// with an algorithm), complete's parts must be 1, 2, 3, ... (no gap, none
/// twice), else `InvalidPartOrder`, and the upload stays; without checksums
/// a gap is allowed.
#[tokio::test]
async fn with_checksums_complete_wants_parts_from_one_without_gaps() {
    let s = S3::new().await;
    let (p1, p3) = (bytes(5 * MIB, 31), bytes(100, 32));
    for (key, checksum) in [("gaps/crc", Some(("CRC32", "FULL_OBJECT"))), ("gaps/plain", None)] {
        let id = s.create(key, checksum).await;
        let (st, text, e1) = s.part(key, &id, 1, p1.clone(), &[]).await;
        assert_eq!(st, StatusCode::OK, "{text}");
        let (st, text, e3) = s.part(key, &id, 3, p3.clone(), &[]).await;
        assert_eq!(st, StatusCode::OK, "{text}");
        if checksum.is_some() {
            for listed in [vec![(1, e1.as_str()), (3, e3.as_str())], vec![(1, e1.as_str()), (1, e1.as_str())]] {
                let (st, body) = s.complete(key, &id, &listed, "").await;
                assert_eq!((st, tag(&body, "Code")), (StatusCode::BAD_REQUEST, Some("InvalidPartOrder")), "{body}");
            }
            assert_eq!(s.get(key, false).await.0, StatusCode::NOT_FOUND, "nothing stored");
            // The upload stays: part 2 sent, the three complete.
            let (st, text, e2) = s.part(key, &id, 2, p1.clone(), &[]).await;
            assert_eq!(st, StatusCode::OK, "{text}");
            let (st, body) = s.complete(key, &id, &[(1, &e1), (2, &e2), (3, &e3)], "").await;
            assert_eq!(st, StatusCode::OK, "{body}");
            assert_eq!(s.get(key, false).await.1, [p1.clone(), p1.clone(), p3.clone()].concat());
        } else {
            let (st, body) = s.complete(key, &id, &[(1, &e1), (3, &e3)], "").await;
            assert_eq!(st, StatusCode::OK, "a gap without checksums: {body}");
            assert_eq!(s.get(key, false).await.1, [p1.clone(), p3.clone()].concat());
        }
    }
}

/// A complete whose caller goes away at any moment (a client's timeout, a
/// backend's call limit, a closed tab) leaves the upload usable: completed
/// (a repeated complete answers its result) or still open (to complete or
/// abort), never claimed by a complete that no longer runs. S3 finishes a
/// complete whose caller left.
#[tokio::test]
async fn a_complete_whose_caller_leaves_midway_leaves_the_upload_usable() {
    let s = S3::new().await;
    let mut stuck = Vec::new();
    for i in 0..80u32 {
        let key = format!("leave/{i}");
        let id = s.create(&key, Some(("CRC32", "FULL_OBJECT"))).await;
        let part = bytes(1000, i as u8);
        let (st, text, etag) = s.part(&key, &id, 1, part.clone(), &[]).await;
        assert_eq!(st, StatusCode::OK, "{text}");
        let url =
            CompleteMultipartUpload::new(&s.bucket, Some(&s.creds), &key, &id, std::iter::empty::<&str>()).sign(EXPIRY);
        let body = format!(
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
        );
        // The caller leaves after 0.1 to 4 ms: before, during or after the store's work.
        let cut = Duration::from_micros(100 + u64::from(i % 40) * 100);
        let _ = s.h.http.post(url).body(body).timeout(cut).send().await;
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        loop {
            let (st, body) = s.complete(&key, &id, &[(1, &etag)], "").await;
            if st == StatusCode::OK {
                assert_eq!(s.get(&key, false).await.1, part, "{key}: the object is its part");
                break;
            }
            if std::time::Instant::now() > deadline {
                stuck.push(format!("{key}: {st} {}", tag(&body, "Code").unwrap_or(&body)));
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    assert!(stuck.is_empty(), "uploads left claimed by a complete whose caller left: {stuck:?}");
}

/// The same for an abort: whenever its caller leaves, the upload ends up
/// aborted whole (a second abort: NoSuchUpload; none of its data kept) or
/// still open whole (a second abort removes it), never half-removed.
#[tokio::test]
async fn an_abort_whose_caller_leaves_midway_removes_the_upload_whole_or_not_at_all() {
    let s = S3::new().await;
    let data = s.h._dir.path().join("data").join(&s.h.server.s3.bucket).join("data");
    let files = || std::fs::read_dir(&data).map(|d| d.count()).unwrap_or(0);
    let before = files();
    let mut bad = Vec::new();
    for i in 0..80u32 {
        let key = format!("abort-leave/{i}");
        let id = s.create(&key, None).await;
        for n in 1..=3 {
            let (st, text, _) = s.part(&key, &id, n, bytes(1000, n as u8), &[]).await;
            assert_eq!(st, StatusCode::OK, "{text}");
        }
        let url = rusty_s3::actions::AbortMultipartUpload::new(&s.bucket, Some(&s.creds), &key, &id).sign(EXPIRY);
        let cut = Duration::from_micros(100 + u64::from(i % 40) * 100);
        let _ = s.h.http.delete(url.clone()).timeout(cut).send().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (st, body, _) = s.send(s.h.http.delete(url)).await;
        if !(st == StatusCode::NO_CONTENT || tag(&body, "Code") == Some("NoSuchUpload")) {
            bad.push(format!("{key}: a second abort answered {st} {}", tag(&body, "Code").unwrap_or(&body)));
        }
    }
    assert!(bad.is_empty(), "uploads half-removed by an abort whose caller left: {bad:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = files();
    assert_eq!(after, before, "no part's data file is left behind ({} left of 240 sent)", after - before);
}

/// A PUT (of an object or of a part) whose caller leaves at any moment stores
/// it whole or not at all, and keeps no data file that nothing refers to.
#[tokio::test]
async fn a_put_whose_caller_leaves_midway_stores_whole_or_nothing_and_leaks_no_file() {
    let s = S3::new().await;
    let data = s.h._dir.path().join("data").join(&s.h.server.s3.bucket).join("data");
    let files = || std::fs::read_dir(&data).map(|d| d.count()).unwrap_or(0);
    for i in 0..80u32 {
        let key = format!("put-leave/{i}");
        let url = PutObject::new(&s.bucket, Some(&s.creds), &key).sign(EXPIRY);
        let cut = Duration::from_micros(100 + u64::from(i % 40) * 100);
        let _ = s.h.http.put(url).body(bytes(1000, i as u8)).timeout(cut).send().await;
    }
    // Parts of one upload, each cut the same way.
    let id = s.create("put-leave/parts", None).await;
    for n in 1..=40u16 {
        let url = UploadPart::new(&s.bucket, Some(&s.creds), "put-leave/parts", n, &id).sign(EXPIRY);
        let cut = Duration::from_micros(100 + u64::from(n) * 100);
        let _ = s.h.http.put(url).body(bytes(1000, n as u8)).timeout(cut).send().await;
    }
    // What was left to run on has ended by now (a few milliseconds each).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut stored = 0;
    for i in 0..80u32 {
        let key = format!("put-leave/{i}");
        let (st, got, _) = s.get(&key, false).await;
        if st == StatusCode::OK {
            assert_eq!(got, bytes(1000, i as u8), "{key}: stored whole");
            stored += 1;
        }
    }
    let url = ListParts::new(&s.bucket, Some(&s.creds), "put-leave/parts", &id).sign(EXPIRY);
    let (st, list, _) = s.send(s.h.http.get(url)).await;
    assert_eq!(st, StatusCode::OK, "{list}");
    let listed = tags(&list, "PartNumber").len();
    assert!(tags(&list, "Size").iter().all(|n| *n == "1000"), "every listed part is whole: {list}");
    assert_eq!(files(), stored + listed, "data files: one per object stored ({stored}) and per part listed ({listed})");
}
