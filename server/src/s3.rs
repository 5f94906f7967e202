//! The backend's side of S3: presigned URLs for the browser (rusty-s3, SigV4)
//! and the calls the backend makes itself (init, complete, abort, list parts),
//! sent with reqwest to URLs presigned for a few seconds. No hand-written SigV4
//! or XML: rusty-s3 signs and builds / parses the documents, quick-xml reads
//! S3's `<Error>` replies.

use std::time::Duration;

use rusty_s3::actions::{
    AbortMultipartUpload, CompleteMultipartUpload, CreateMultipartUpload, GetObject, HeadObject, ListParts, PutObject,
    UploadPart,
};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};
use serde::Deserialize;
use url::Url;

use crate::error::ApiError;

/// How long the URLs the backend signs for its own calls stay valid.
const SELF_CALL_EXPIRY: Duration = Duration::from_secs(60);

/// Where the S3-compatible store is and how to sign for it.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// The endpoint the backend itself calls.
    pub endpoint: Url,
    /// The endpoint written into presigned URLs for the browser (often the same).
    pub public_endpoint: Url,
    /// Bucket name.
    pub bucket: String,
    /// Region used in the signature scope.
    pub region: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// Path-style (`host/bucket/key`) instead of virtual-host-style URLs.
    pub path_style: bool,
    /// How long presigned URLs for the browser stay valid.
    pub presign_expiry: Duration,
}

/// One part as S3 reports it in ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    /// 1..=10,000.
    pub part_number: u16,
    /// As S3 returns it, quoted.
    pub etag: String,
    /// Bytes.
    pub size: u64,
    /// Its CRC32 as the store lists it (`ChecksumCRC32`, base64 of 4 bytes:
    /// an upload created with that algorithm), when the store gives a valid one.
    pub crc32: Option<String>,
}

/// The result of CompleteMultipartUpload.
#[derive(Debug, Clone)]
pub struct Completed {
    /// ETag of the assembled object.
    pub etag: String,
    /// URL of the object (unsigned).
    pub location: String,
}

/// A client for one bucket.
#[derive(Debug, Clone)]
pub struct S3Client {
    bucket: Bucket,
    public_bucket: Bucket,
    credentials: Credentials,
    http: reqwest::Client,
    presign_expiry: Duration,
}

#[derive(Debug, Deserialize)]
#[serde(rename = "Error")]
struct S3ErrorBody {
    #[serde(rename = "Code")]
    code: String,
    #[serde(rename = "Message", default)]
    message: String,
}

impl S3Client {
    /// Builds the client; fails on an endpoint rusty-s3 cannot use.
    pub fn new(s: &S3Settings) -> anyhow::Result<Self> {
        let style = if s.path_style { UrlStyle::Path } else { UrlStyle::VirtualHost };
        let bucket = Bucket::new(s.endpoint.clone(), style, s.bucket.clone(), s.region.clone())?;
        let public_bucket = Bucket::new(s.public_endpoint.clone(), style, s.bucket.clone(), s.region.clone())?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(300))
            .build()?;
        Ok(Self {
            bucket,
            public_bucket,
            credentials: Credentials::new(s.access_key.clone(), s.secret_key.clone()),
            http,
            presign_expiry: s.presign_expiry,
        })
    }

    /// A presigned PUT of a whole object, for files below the multipart
    /// threshold. The content type is signed into it: the PUT must send that
    /// `Content-Type`, and the object is stored with it (nobody holding the
    /// URL can store another type under it).
    pub fn presign_put(&self, key: &str, content_type: &str, checksum: Option<&(String, String)>) -> Url {
        let mut action = PutObject::new(&self.public_bucket, Some(&self.credentials), key);
        action.headers_mut().insert("content-type", content_type);
        if let Some((name, value)) = checksum {
            action.headers_mut().insert(name.as_str(), value.as_str());
        }
        action.sign(self.presign_expiry)
    }

    /// A presigned GET of an object, answered as an attachment named after
    /// the key's last segment ([`attachment`]): a browser that opens the URL
    /// saves the object instead of rendering it, so that an uploaded HTML or
    /// SVG page does not run its scripts on the store's origin (whose cookies
    /// a local store on another port shares with the app). `<img>`,
    /// `<video>` and `fetch` read it as before.
    pub fn presign_get(&self, key: &str) -> Url {
        let mut action = GetObject::new(&self.public_bucket, Some(&self.credentials), key);
        action.query_mut().insert("response-content-disposition", attachment(key));
        action.sign(self.presign_expiry)
    }

    /// A presigned PUT of one part of a multipart upload. With a checksum
    /// (`x-amz-checksum-*` header and value), it is signed in: the PUT must
    /// send it, and S3 refuses a body that does not match it (`BadDigest`).
    pub fn presign_part(
        &self,
        key: &str,
        upload_id: &str,
        part_number: u16,
        checksum: Option<&(String, String)>,
    ) -> Url {
        let mut action = UploadPart::new(&self.public_bucket, Some(&self.credentials), key, part_number, upload_id);
        if let Some((name, value)) = checksum {
            action.headers_mut().insert(name.as_str(), value.as_str());
        }
        action.sign(self.presign_expiry)
    }

    /// The unsigned URL of an object.
    pub fn object_url(&self, key: &str) -> Url {
        self.public_bucket.object_url(key)
    }

    /// CreateMultipartUpload: returns the upload id.
    /// With a checksum algorithm, every part must carry a checksum of it,
    /// and the whole object's is of the full-object type (for the CRCs; S3
    /// allows only composite ones for SHA).
    pub async fn create_multipart_upload(
        &self,
        key: &str,
        content_type: &str,
        checksum_algorithm: Option<&str>,
    ) -> Result<String, ApiError> {
        let mut action = CreateMultipartUpload::new(&self.bucket, Some(&self.credentials), key);
        let mut headers = vec![("content-type", content_type.to_owned())];
        if let Some(alg) = checksum_algorithm {
            let kind = if alg.starts_with("CRC") { "FULL_OBJECT" } else { "COMPOSITE" };
            headers.push(("x-amz-checksum-algorithm", alg.to_owned()));
            headers.push(("x-amz-checksum-type", kind.to_owned()));
        }
        for (name, value) in &headers {
            action.headers_mut().insert(*name, value.as_str());
        }
        let url = action.sign(SELF_CALL_EXPIRY);
        let mut req = self.http.post(url);
        for (name, value) in &headers {
            req = req.header(*name, value.as_str());
        }
        let body = self.send(req).await?;
        let parsed = CreateMultipartUpload::parse_response(&body).map_err(|e| {
            ApiError::bad_gateway(format!("S3 sent a CreateMultipartUpload reply that is not valid XML: {e}"))
        })?;
        Ok(parsed.upload_id().to_owned())
    }

    /// CompleteMultipartUpload with `parts` as (part number, ETag), ascending
    /// (gaps allowed, as in S3). rusty-s3 signs; its body numbers parts by
    /// position, so the body is written here with quick-xml's serializer.
    pub async fn complete_multipart_upload(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u16, String)],
        checksum: Option<&(String, String)>,
    ) -> Result<Completed, ApiError> {
        let mut action = CompleteMultipartUpload::new(
            &self.bucket,
            Some(&self.credentials),
            key,
            upload_id,
            std::iter::empty::<&str>(),
        );
        // The whole object's checksum: S3 verifies it against the parts'.
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some((name, value)) = checksum {
            headers.push((name.as_str(), value.as_str()));
            if name.starts_with("x-amz-checksum-crc") {
                headers.push(("x-amz-checksum-type", "FULL_OBJECT"));
            }
        }
        for (name, value) in &headers {
            action.headers_mut().insert(*name, *value);
        }
        let url = action.sign(SELF_CALL_EXPIRY);
        let body = complete_body(parts)?;
        let mut req = self.http.post(url).body(body);
        for (name, value) in &headers {
            req = req.header(*name, *value);
        }
        let reply = self.send(req).await?;
        // S3 may answer 200 and put an <Error> in the body.
        if let Ok(err) = quick_xml::de::from_str::<S3ErrorBody>(&reply) {
            return Err(ApiError::from_s3(200, &err.code, &err.message));
        }
        let parsed = rusty_s3::actions::CompleteMultipartUploadResponse::parse(&reply).map_err(|e| {
            ApiError::bad_gateway(format!("S3 sent a CompleteMultipartUpload reply that is not valid XML: {e}"))
        })?;
        Ok(Completed { etag: parsed.etag().to_owned(), location: self.object_url(key).to_string() })
    }

    /// CompleteMultipartUpload that may be retried: when S3 no longer knows
    /// the upload because an earlier call already completed it (its reply was
    /// lost on the way), the object's ETag is compared with the one these
    /// parts make, and a match is the same success as the first time.
    pub async fn complete_idempotent(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[(u16, String)],
        checksum: Option<&(String, String)>,
    ) -> Result<Completed, ApiError> {
        match self.complete_multipart_upload(key, upload_id, parts, checksum).await {
            Err(e) if e.code == "NoSuchUpload" => match self.head_etag(key).await {
                Some(etag)
                    if multipart_etag(&parts.iter().map(|p| p.1.clone()).collect::<Vec<_>>())
                        .is_some_and(|want| unquote(&etag) == want) =>
                {
                    Ok(Completed { etag, location: self.object_url(key).to_string() })
                }
                _ => Err(e),
            },
            other => other,
        }
    }

    /// The ETag of an object, if it exists.
    pub async fn head_etag(&self, key: &str) -> Option<String> {
        let url = HeadObject::new(&self.bucket, Some(&self.credentials), key).sign(SELF_CALL_EXPIRY);
        let resp = self.http.head(url).send().await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        resp.headers().get("etag")?.to_str().ok().map(str::to_owned)
    }

    /// AbortMultipartUpload.
    pub async fn abort_multipart_upload(&self, key: &str, upload_id: &str) -> Result<(), ApiError> {
        let url =
            AbortMultipartUpload::new(&self.bucket, Some(&self.credentials), key, upload_id).sign(SELF_CALL_EXPIRY);
        self.send(self.http.delete(url)).await.map(drop)
    }

    /// ListParts, following S3's pagination to the end. (Read here rather
    /// than by rusty-s3's parser, which does not read the parts' checksums.)
    pub async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<StoredPart>, ApiError> {
        #[derive(Debug, Deserialize)]
        struct Page {
            #[serde(rename = "Part", default)]
            parts: Vec<Part>,
            #[serde(rename = "NextPartNumberMarker", default)]
            next_part_number_marker: Option<u16>,
        }
        #[derive(Debug, Deserialize)]
        struct Part {
            #[serde(rename = "PartNumber")]
            number: u16,
            #[serde(rename = "ETag")]
            etag: String,
            #[serde(rename = "Size")]
            size: u64,
            #[serde(rename = "ChecksumCRC32", default)]
            crc32: Option<String>,
        }
        let mut parts = Vec::new();
        let mut marker = None;
        loop {
            let mut action = ListParts::new(&self.bucket, Some(&self.credentials), key, upload_id);
            if let Some(m) = marker {
                action.set_part_number_marker(m);
            }
            let body = self.send(self.http.get(action.sign(SELF_CALL_EXPIRY))).await?;
            let page: Page = quick_xml::de::from_str(&list_parts_root(body))
                .map_err(|e| ApiError::bad_gateway(format!("S3 sent a ListParts reply that is not valid XML: {e}")))?;
            parts.extend(page.parts.into_iter().map(|p| StoredPart {
                part_number: p.number,
                etag: p.etag,
                size: p.size,
                crc32: p.crc32.filter(|c| is_crc32_base64(c)),
            }));
            match page.next_part_number_marker {
                Some(next) if marker != Some(next) && next > 0 && parts.len() < 10_000 => marker = Some(next),
                _ => break,
            }
        }
        parts.sort_by_key(|p| p.part_number);
        parts.dedup_by_key(|p| p.part_number);
        Ok(parts)
    }

    /// The open multipart uploads whose key starts with `prefix`, as (key,
    /// upload id), following ListMultipartUploads' pages. rusty-s3 has no
    /// action for it: its ListObjectsV2 is signed for `GET /bucket?uploads`
    /// instead (the same bucket-level GET, other query).
    pub async fn open_uploads(&self, prefix: &str) -> Result<Vec<(String, String)>, ApiError> {
        #[derive(Debug, Deserialize)]
        struct Page {
            #[serde(rename = "Upload", default)]
            uploads: Vec<Upload>,
            #[serde(rename = "IsTruncated", default)]
            truncated: bool,
            #[serde(rename = "NextKeyMarker", default)]
            next_key: Option<String>,
            #[serde(rename = "NextUploadIdMarker", default)]
            next_id: Option<String>,
        }
        #[derive(Debug, Deserialize)]
        struct Upload {
            #[serde(rename = "Key")]
            key: String,
            #[serde(rename = "UploadId")]
            upload_id: String,
        }
        let mut found = Vec::new();
        let mut marker: Option<(String, String)> = None;
        for _ in 0..1000 {
            let mut action = rusty_s3::actions::ListObjectsV2::new(&self.bucket, Some(&self.credentials));
            let q = action.query_mut();
            q.remove("list-type");
            q.remove("encoding-type");
            q.insert("uploads", "");
            q.insert("prefix", prefix.to_owned());
            if let Some((key, id)) = &marker {
                q.insert("key-marker", key.clone());
                q.insert("upload-id-marker", id.clone());
            }
            let body = self.send(self.http.get(action.sign(SELF_CALL_EXPIRY))).await?;
            let page: Page = quick_xml::de::from_str(&body).map_err(|e| {
                ApiError::bad_gateway(format!("S3 sent a ListMultipartUploads reply that is not valid XML: {e}"))
            })?;
            found.extend(page.uploads.into_iter().map(|u| (u.key, u.upload_id)));
            match (page.truncated, page.next_key, page.next_id) {
                (true, Some(k), Some(i)) if marker.as_ref() != Some(&(k.clone(), i.clone())) => marker = Some((k, i)),
                _ => break,
            }
        }
        found.sort();
        Ok(found)
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<String, ApiError> {
        let resp = req.send().await.map_err(|e| ApiError::bad_gateway(format!("cannot reach the S3 endpoint: {e}")))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| ApiError::bad_gateway(format!("S3 reply was cut off: {e}")))?;
        if status.is_success() {
            return Ok(text);
        }
        match quick_xml::de::from_str::<S3ErrorBody>(&text) {
            Ok(err) => Err(ApiError::from_s3(status.as_u16(), &err.code, &err.message)),
            Err(_) => Err(ApiError::from_s3(
                status.as_u16(),
                "S3Error",
                &format!("S3 answered {status} with no error document"),
            )),
        }
    }
}

/// `c` is the base64 of 4 bytes (a CRC32 as S3 writes it).
fn is_crc32_base64(c: &str) -> bool {
    use base64::Engine as _;
    c.len() == 8 && base64::engine::general_purpose::STANDARD.decode(c).is_ok_and(|d| d.len() == 4)
}

/// moto names the root of its ListParts reply `ListPartsResponse`; S3 (and
/// rusty-s3's parser) `ListPartsResult`. The rest of moto's document is S3's.
fn list_parts_root(body: String) -> String {
    if body.contains("<ListPartsResponse") {
        body.replace("<ListPartsResponse", "<ListPartsResult").replace("</ListPartsResponse>", "</ListPartsResult>")
    } else {
        body
    }
}

/// The body of CompleteMultipartUpload.
fn complete_body(parts: &[(u16, String)]) -> Result<String, ApiError> {
    #[derive(serde::Serialize)]
    #[serde(rename = "CompleteMultipartUpload")]
    struct Body<'a> {
        #[serde(rename = "Part")]
        parts: Vec<Part<'a>>,
    }
    #[derive(serde::Serialize)]
    struct Part<'a> {
        #[serde(rename = "PartNumber")]
        number: u16,
        #[serde(rename = "ETag")]
        etag: &'a str,
    }
    let body = Body { parts: parts.iter().map(|(number, etag)| Part { number: *number, etag }).collect() };
    quick_xml::se::to_string(&body)
        .map_err(|e| ApiError::new(http::StatusCode::INTERNAL_SERVER_ERROR, "InternalError", e.to_string()))
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"')
}

/// The ETag S3 gives an object assembled from parts with these ETags:
/// the MD5 of their binary MD5s, then `-` and the part count. `None` when an
/// ETag is not a plain MD5 (for example with SSE-KMS), where it cannot be known.
pub fn multipart_etag(etags: &[String]) -> Option<String> {
    use md5::{Digest, Md5};
    let mut outer = Md5::new();
    for e in etags {
        let hex = unquote(e);
        if hex.len() != 32 {
            return None;
        }
        let mut bin = [0u8; 16];
        for (i, b) in bin.iter_mut().enumerate() {
            *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        outer.update(bin);
    }
    let digest: String = outer.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Some(format!("{digest}-{}", etags.len()))
}

/// `Content-Disposition: attachment` with the key's last segment (its last
/// 255 bytes) as the file name: as `filename*` (RFC 5987, UTF-8,
/// percent-encoded) and, for browsers that read only `filename`, as a quoted
/// ASCII string in which anything else (and `"`, `\`) is `_`.
pub fn attachment(key: &str) -> String {
    const MAX_NAME: usize = 255;
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    // RFC 5987's attr-char: ALPHA / DIGIT / "!#$&+-.^_`|~" pass as they are.
    const ATTR: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let name = match key.rsplit('/').next() {
        Some(n) if !n.is_empty() => n,
        _ => "download",
    };
    // At most its last 255 bytes (a file system's limit; the end keeps the
    // extension), so that a long key does not make the URL twice as long.
    let from = (name.len().saturating_sub(MAX_NAME)..name.len()).find(|&i| name.is_char_boundary(i)).unwrap_or(0);
    let name = &name[from..];
    let ascii: String = name
        .chars()
        .map(|c| if (c.is_ascii_graphic() || c == ' ') && c != '"' && c != '\\' { c } else { '_' })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{}", utf8_percent_encode(name, ATTR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attachment_is_named_after_the_keys_last_segment_within_255_bytes() {
        assert_eq!(attachment("a/b/report.pdf"), "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf");
        assert_eq!(attachment("dir/"), "attachment; filename=\"download\"; filename*=UTF-8''download");
        assert_eq!(
            attachment("x/\u{e9}t\u{e9} \\\"%.txt"),
            "attachment; filename=\"_t_ __%.txt\"; filename*=UTF-8''%C3%A9t%C3%A9%20%5C%22%25.txt"
        );
        // 400 three-byte characters and an extension: the last 255 bytes at
        // a character's boundary (83 characters and ".txt"), the extension kept.
        let long = format!("k/{}.txt", "\u{20ac}".repeat(400));
        let v = attachment(&long);
        let encoded = v.split("UTF-8''").nth(1).expect("filename*");
        assert_eq!(encoded, format!("{}.txt", "%E2%82%AC".repeat(83)));
        assert!(v.contains(&format!("filename=\"{}.txt\"", "_".repeat(83))), "{v}");
    }

    #[test]
    fn a_moto_list_parts_reply_is_read() {
        let part = "<Part><PartNumber>2</PartNumber><ETag>\"abc\"</ETag><Size>5</Size>\
                    <LastModified>2026-01-01T00:00:00.000Z</LastModified></Part>";
        let tail = "<MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>";
        let moto = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListPartsResponse xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             {part}{tail}</ListPartsResponse>"
        );
        assert!(ListParts::parse_response(&moto).is_err(), "as it is, moto's reply does not parse");
        let page = ListParts::parse_response(&list_parts_root(moto)).expect("parsed");
        assert_eq!(page.parts.len(), 1);
        assert_eq!((page.parts[0].number, page.parts[0].etag.as_str(), page.parts[0].size), (2, "\"abc\"", 5));
    }

    #[test]
    fn complete_body_keeps_part_numbers_and_escapes() {
        let body = complete_body(&[(1, "\"a\"".into()), (3, "<b>&".into())]).expect("xml");
        assert_eq!(
            body,
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part>\
             <Part><PartNumber>3</PartNumber><ETag>&lt;b&gt;&amp;</ETag></Part></CompleteMultipartUpload>"
        );
    }

    #[test]
    fn multipart_etag_needs_plain_md5s() {
        assert_eq!(multipart_etag(&["\"abc\"".into()]), None);
        assert_eq!(multipart_etag(&["\"zz75b9c0f1b6a831c399e269772661zz\"".into()]), None);
        let e = multipart_etag(&vec!["\"0cc175b9c0f1b6a831c399e269772661\"".to_owned(); 3]).expect("etag");
        assert!(e.ends_with("-3") && e.len() == 34, "{e}");
    }
}
