//! The backend protocol of DESIGN.md §4 as pure functions: request bodies for
//! the REST paths and the Lambda envelope, and checked parsing of the replies.
//! A malformed reply gets a `BackendError` that names the call, the field and
//! what the backend must send instead.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::json::Json;

use crate::engine::{ErrorCode, UploadError};

/// One backend call of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `POST /uploads/url`: one presigned PUT.
    PresignPut,
    /// `GET /uploads/download/{key}`.
    Download,
    /// `POST /uploads/multipart/init`.
    Init,
    /// `POST /uploads/multipart/part-url`.
    PartUrl,
    /// `POST /uploads/multipart/part-urls`: several parts at once (optional:
    /// a backend without it answers 404, and parts are signed one by one).
    PartUrls,
    /// `POST /uploads/multipart/complete`.
    Complete,
    /// `DELETE /uploads/multipart/abort`.
    Abort,
    /// `GET /uploads/multipart/parts`.
    ListParts,
}

impl Op {
    /// HTTP method and path (below the endpoint) of the REST form.
    pub fn rest(self) -> (&'static str, &'static str) {
        match self {
            Self::PresignPut => ("POST", "/uploads/url"),
            Self::Download => ("GET", "/uploads/download/"),
            Self::Init => ("POST", "/uploads/multipart/init"),
            Self::PartUrl => ("POST", "/uploads/multipart/part-url"),
            Self::PartUrls => ("POST", "/uploads/multipart/part-urls"),
            Self::Complete => ("POST", "/uploads/multipart/complete"),
            Self::Abort => ("DELETE", "/uploads/multipart/abort"),
            Self::ListParts => ("GET", "/uploads/multipart/parts"),
        }
    }

    /// The action name of the Lambda envelope.
    pub fn lambda_action(self) -> &'static str {
        match self {
            Self::PresignPut => "generate_presigned_upload_url",
            Self::Download => "generate_presigned_download_url",
            Self::Init => "initiate_multipart_upload",
            Self::PartUrl => "generate_presigned_part_upload_url",
            Self::PartUrls => "generate_presigned_part_upload_urls",
            Self::Complete => "complete_multipart_upload",
            Self::Abort => "abort_multipart_upload",
            Self::ListParts => "list_parts",
        }
    }

    /// How errors name the call.
    pub fn name(self) -> &'static str {
        match self {
            Self::PresignPut => "url (presigned PUT)",
            Self::Download => "download",
            Self::Init => "multipart/init",
            Self::PartUrl => "multipart/part-url",
            Self::PartUrls => "multipart/part-urls",
            Self::Complete => "multipart/complete",
            Self::Abort => "multipart/abort",
            Self::ListParts => "multipart/parts",
        }
    }
}

/// Wraps a payload in the Lambda envelope.
pub fn lambda_envelope(op: Op, payload: &Json) -> String {
    // Written around the payload's text: the payload is not copied into a
    // new tree (the module then needs no deep copy of `Json`).
    cat!(
        r#"{"processor_name":"s3_upload","action":"#,
        Json::from(op.lambda_action()).text(),
        r#","payload":"#,
        payload.text(),
        "}"
    )
}

/// A checksum for the store to verify: S3's algorithm name (`CRC32`) and
/// the base64 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// `CRC32`.
    pub algorithm: &'static str,
    /// Base64 of the checksum's bytes, as in `x-amz-checksum-crc32`.
    pub value: String,
}

impl Checksum {
    /// As the protocol's optional `checksum` field: `{"algorithm", "value"}`.
    pub fn to_json(&self) -> Json {
        Json::object([("algorithm", self.algorithm.into()), ("value", self.value.as_str().into())])
    }
}

/// Adds the optional `checksum` field to a request body: a backend that does
/// not know it ignores it.
fn with_checksum(mut body: Json, checksum: Option<&Checksum>) -> Json {
    if let Some(c) = checksum {
        body.insert("checksum", c.to_json());
    }
    body
}

/// Body of the presigned PUT (with the whole file's checksum, if any).
pub fn key_body(key: &str, content_type: &str, checksum: Option<&Checksum>) -> Json {
    with_checksum(Json::object([("key", key.into()), ("content_type", content_type.into())]), checksum)
}

/// Body of init: with a checksum algorithm, the backend creates the
/// multipart upload with it (`x-amz-checksum-algorithm`, full-object type).
/// `client_token` is the same for every init of one upload: a backend that
/// keeps it answers a repeated init (its reply was lost) with the upload it
/// created, instead of creating another that nobody would complete.
/// `parts` (optional, left out when empty) are the first parts to sign in
/// the same round trip, as part-urls has them; the reply's `urls` has them as
/// part-urls answers them, and a backend that does not sign with init
/// leaves it out.
pub fn init_body(
    key: &str,
    content_type: &str,
    checksum_algorithm: Option<&str>,
    client_token: &str,
    parts: &[(u16, Option<Checksum>)],
) -> Json {
    let mut body = Json::object([
        ("key", key.into()),
        ("content_type", content_type.into()),
        ("client_token", client_token.into()),
    ]);
    if let Some(alg) = checksum_algorithm {
        body.insert("checksum_algorithm", alg.into());
    }
    if !parts.is_empty() {
        body.insert("parts", parts_json(parts));
    }
    body
}

/// `[{part_number, checksum?}]`: the parts of part-urls and init.
fn parts_json(parts: &[(u16, Option<Checksum>)]) -> Json {
    let parts = parts.iter().map(|(n, sum)| with_checksum(Json::object([("part_number", (*n).into())]), sum.as_ref()));
    Json::Array(parts.collect())
}

/// Body of part-url (with the part's checksum, if any).
pub fn part_url_body(key: &str, upload_id: &str, part_number: u16, checksum: Option<&Checksum>) -> Json {
    let body =
        Json::object([("key", key.into()), ("upload_id", upload_id.into()), ("part_number", part_number.into())]);
    with_checksum(body, checksum)
}

/// Body of part-urls: several parts, each with its checksum if any.
pub fn part_urls_body(key: &str, upload_id: &str, parts: &[(u16, Option<Checksum>)]) -> Json {
    Json::object([("key", key.into()), ("upload_id", upload_id.into()), ("parts", parts_json(parts))])
}

/// Body of complete (with the whole object's checksum, if any).
pub fn complete_body(key: &str, upload_id: &str, parts: &[(u16, String)], checksum: Option<&Checksum>) -> Json {
    let parts = parts.iter().map(|(n, e)| Json::object([("PartNumber", (*n).into()), ("ETag", e.as_str().into())]));
    let body =
        Json::object([("key", key.into()), ("upload_id", upload_id.into()), ("parts", Json::Array(parts.collect()))]);
    with_checksum(body, checksum)
}

/// Body of abort and list-parts.
pub fn upload_ref_body(key: &str, upload_id: &str) -> Json {
    Json::object([("key", key.into()), ("upload_id", upload_id.into())])
}

/// A part-urls (or init) reply without its list of URLs: a hook's answer
/// that is not an array (the hooks adapter makes it the reply's `urls`).
pub const NO_URLS: &str = "has no `urls` array of the parts asked for";
/// A list-parts reply without its list: likewise for the `listParts` hook.
pub const NO_PARTS: &str = "has no `parts` array";

/// A reply the client cannot use; the problem alone is its cause (a hook's
/// error names it in the hook's own words).
fn malformed(op: Op, problem: String, expected: &str) -> UploadError {
    UploadError::new(
        ErrorCode::BackendError,
        cat!("the backend's reply to ", op.name(), " ", problem, "; it must answer JSON like ", expected),
    )
    .with_cause(problem)
}

fn excerpt(text: &str) -> String {
    let t: String = text.chars().take(200).collect();
    if t.len() < text.len() { cat!(t, "…") } else { t }
}

/// The store found other bytes than the client's checksum says (at
/// complete: the whole object's); `detail` says who said so.
pub fn integrity_error(detail: &str) -> UploadError {
    UploadError::new(
        ErrorCode::IntegrityError,
        cat!(
            "the store's checksum of the object differs from the client's (",
            detail,
            "): the object was not stored; upload the file again"
        ),
    )
    .with_cause(detail.to_owned())
}

/// Parses a successful reply's body as a JSON object.
pub fn parse_object(op: Op, text: &str, expected: &str) -> Result<Json, UploadError> {
    match Json::parse(text) {
        Ok(map @ Json::Object(_)) => Ok(map),
        Ok(other) => Err(malformed(op, cat!("is not a JSON object (", excerpt(&other.text()), ")"), expected)),
        Err(e) => Err(malformed(op, cat!("is not JSON (", e, "): ", Json::from(excerpt(text)).text()), expected)
            .with_cause(excerpt(text))),
    }
}

fn string_field(op: Op, map: &Json, field: &str, expected: &str) -> Result<String, UploadError> {
    match map.get(field) {
        Some(Json::String(s)) if !s.trim_ascii().is_empty() => Ok(s.clone()),
        Some(other) => Err(malformed(
            op,
            cat!("has `", field, "` = ", excerpt(&other.text()), ", not a non-empty string"),
            expected,
        )
        .with_field(field)),
        None => Err(malformed(op, cat!("has no `", field, "` field"), expected).with_field(field)),
    }
}

/// The `upload_id` of an init reply, and the URLs of the parts `asked` to
/// be signed with it. The URLs are a head start, not the call's answer: a
/// reply without them, or with any that cannot be used (not exactly the
/// parts asked, a URL that is not http(s), a header a PUT may not send),
/// gives none, and each part is then signed by part-urls.
pub fn parse_init(text: &str, asked: &[u16]) -> Result<(String, Vec<(u16, Signed)>), UploadError> {
    let expected = r#"{"upload_id": "...", "key": "..."}"#;
    let map = parse_object(Op::Init, text, expected)?;
    let upload_id = string_field(Op::Init, &map, "upload_id", expected)?;
    let signed = if asked.is_empty() {
        Vec::new()
    } else {
        signed_many_of(Op::Init, &map, asked, Some(&upload_id)).unwrap_or_default()
    };
    Ok((upload_id, signed))
}

/// The `url` of a part-url, presigned-PUT or download reply; it must be http(s).
pub fn parse_url(op: Op, text: &str) -> Result<String, UploadError> {
    let expected = r#"{"url": "https://..."}"#;
    url_of(op, &parse_object(op, text, expected)?, expected)
}

fn url_of(op: Op, map: &Json, expected: &str) -> Result<String, UploadError> {
    let url = string_field(op, map, "url", expected)?;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(malformed(
            op,
            cat!("has `url` = ", Json::from(excerpt(&url)).text(), ", which is not an http(s) URL"),
            expected,
        )
        .with_field("url"));
    }
    Ok(url)
}

/// A presigned URL and the headers its PUT must send as they were signed
/// (`content-type`, `x-amz-checksum-*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The URL.
    pub url: String,
    /// Header name (lower case) and value.
    pub headers: Vec<(String, String)>,
}

/// Headers a backend may ask a PUT to send: only those a presigned PUT can
/// carry (no cookies, no `host`, no hop-by-hop headers).
fn allowed_header(name: &str) -> bool {
    name == "content-type"
        || name == "content-md5"
        || (name.starts_with("x-amz-")
            && name.len() > 6
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// The optional `headers` of a URL reply: an object of strings, each a
/// header a presigned PUT may send.
pub fn parse_headers(op: Op, value: Option<&Json>) -> Result<Vec<(String, String)>, UploadError> {
    let expected = r#"{"url": "https://...", "headers": {"x-amz-checksum-crc32": "..."}}"#;
    let map = match value {
        None | Some(Json::Null) => return Ok(Vec::new()),
        Some(Json::Object(map)) => map,
        Some(other) => {
            return Err(malformed(op, cat!("has `headers` = ", excerpt(&other.text()), ", not an object"), expected)
                .with_field("headers"));
        }
    };
    // A loop, not `collect::<Result<Vec<_>, _>>()`: each such collect is
    // a kilobyte of generic code in the module.
    let mut out = Vec::with_capacity(map.len());
    for (k, v) in map.iter() {
        let name = k.to_ascii_lowercase();
        match v.as_str() {
            Some(v) if allowed_header(&name) && !v.chars().any(char::is_control) => out.push((name, v.to_owned())),
            _ => {
                return Err(malformed(
                    op,
                    cat!(
                        "has header ",
                        Json::from(excerpt(k)).text(),
                        " = ",
                        excerpt(&v.text()),
                        ", which a presigned PUT cannot send (only content-type, content-md5 and x-amz-* strings)"
                    ),
                    expected,
                )
                .with_field("headers"));
            }
        }
    }
    Ok(out)
}

/// The raw value of the first query parameter `name` of `url`.
fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    let query = crate::cut(crate::before(url, b'#'), b'?')?.1;
    crate::pieces(query, b'&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// A URL signed for `part` of upload `upload_id` (`None`: a presigned PUT
/// of a whole object) is for that part: where it has S3's `partNumber` query
/// parameter, it is the part asked for, and its `uploadId` (percent-decoded),
/// if it has one, is the upload's; a whole object's URL is not an UploadPart
/// URL (with both `partNumber` and `uploadId`: its PUT would store a part of
/// some multipart upload, and no object). A URL of another form (a proxy of
/// the application's own) is taken as it is: the store checks the rest.
fn check_part_of(
    op: Op,
    url: &str,
    part: Option<u16>,
    upload_id: Option<&str>,
    expected: &str,
) -> Result<(), UploadError> {
    let Some(v) = query_param(url, "partNumber") else {
        return Ok(());
    };
    let id = query_param(url, "uploadId");
    let problem = match part {
        Some(n) => {
            let parsed = v.bytes().try_fold(0u32, |a, b| {
                if b.is_ascii_digit() { a.checked_mul(10)?.checked_add(u32::from(b - b'0')) } else { None }
            });
            if v.is_empty() || parsed != Some(u32::from(n)) {
                cat!(
                    "has a URL for partNumber=",
                    excerpt(v),
                    " where part ",
                    n,
                    " was asked for: it must sign the part asked for"
                )
            } else if let (Some(id), Some(want)) = (id, upload_id)
                && !percent_decoded_is(id, want)
            {
                cat!(
                    "has a URL for uploadId=",
                    excerpt(id),
                    " where upload ",
                    want,
                    " was asked for: it must sign a part of the upload asked for"
                )
            } else {
                return Ok(());
            }
        }
        None if id.is_some() => {
            "has a URL for a part of a multipart upload (partNumber, uploadId), not for a whole object".into()
        }
        None => return Ok(()),
    };
    Err(malformed(op, problem, expected).with_field("url"))
}

/// Whether query value `v`, its `%XX` escapes decoded (a `%` not followed
/// by two hex digits stands for itself), is `want`, byte for byte.
fn percent_decoded_is(v: &str, want: &str) -> bool {
    let (v, mut want) = (v.as_bytes(), want.bytes());
    let hex = |k: usize| match v.get(k).copied()? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ (b'a'..=b'f' | b'A'..=b'F') => Some((c | 0x20) - b'a' + 10),
        _ => None,
    };
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        let (byte, step) = match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => (hi * 16 + lo, 3),
            _ => (b, 1),
        };
        if want.next() != Some(byte) {
            return false;
        }
        i += step;
    }
    want.next().is_none()
}

/// The `url` and optional `headers` of a part-url reply for `part`, or of a
/// presigned-PUT reply (`None`).
pub fn parse_signed(op: Op, text: &str, part: Option<u16>, upload_id: Option<&str>) -> Result<Signed, UploadError> {
    let expected = r#"{"url": "https://..."}"#;
    let map = parse_object(op, text, expected)?;
    let url = url_of(op, &map, expected)?;
    check_part_of(op, &url, part, upload_id, expected)?;
    Ok(Signed { url, headers: parse_headers(op, map.get("headers"))? })
}

/// The URLs of a part-urls (or init) reply: exactly the parts asked for,
/// each once, each an http(s) URL with the headers its PUT may send.
pub fn parse_signed_many(
    op: Op,
    text: &str,
    asked: &[u16],
    upload_id: Option<&str>,
) -> Result<Vec<(u16, Signed)>, UploadError> {
    signed_many_of(op, &parse_object(op, text, SIGNED_MANY)?, asked, upload_id)
}

/// What a reply signing several parts looks like, for its messages.
const SIGNED_MANY: &str =
    r#"{"urls": [{"part_number": 1, "url": "https://...", "headers": {...}}]} for exactly the parts asked for"#;

/// [`parse_signed_many`] of a reply already parsed (init's, whose upload id
/// is read from the same object).
fn signed_many_of(
    op: Op,
    map: &Json,
    asked: &[u16],
    upload_id: Option<&str>,
) -> Result<Vec<(u16, Signed)>, UploadError> {
    let expected = SIGNED_MANY;
    let items = match map.get("urls") {
        Some(Json::Array(items)) if items.len() == asked.len() => items,
        _ => {
            return Err(malformed(op, NO_URLS.into(), expected).with_field("urls"));
        }
    };
    let mut out: Vec<(u16, Signed)> = Vec::with_capacity(items.len());
    for item in items {
        let n = item.get("part_number").and_then(Json::as_u64).and_then(|n| u16::try_from(n).ok());
        match n.filter(|n| asked.contains(n) && !out.iter().any(|(m, _)| m == n)) {
            Some(n) => {
                let url = url_of(op, item, expected)?;
                check_part_of(op, &url, Some(n), upload_id, expected)?;
                out.push((n, Signed { url, headers: parse_headers(op, item.get("headers"))? }));
            }
            None => {
                return Err(
                    malformed(op, "lists a part not asked for, or one twice".into(), expected).with_field("urls")
                );
            }
        }
    }
    Ok(out)
}

/// `(etag, location)` of a complete reply; both optional, but strings when present.
pub fn parse_complete(text: &str) -> Result<(Option<String>, Option<String>), UploadError> {
    let expected = r#"{"key": "...", "etag": "...", "location": "..."}"#;
    let map = parse_object(Op::Complete, text, expected)?;
    let opt = |field: &str| match map.get(field) {
        None | Some(Json::Null) => Ok(None),
        Some(Json::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(malformed(
            Op::Complete,
            cat!("has `", field, "` = ", excerpt(&other.text()), ", not a string"),
            expected,
        )
        .with_field(field)),
    };
    Ok((opt("etag")?, opt("location")?))
}

/// One part listed by list-parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedPart {
    /// 1..=10,000.
    pub part_number: u16,
    /// Its ETag.
    pub etag: String,
    /// Its size.
    pub size: u64,
    /// The store's CRC32 of it (`ChecksumCRC32`, as S3 lists it for an
    /// upload created with that algorithm), when the reply has a valid one.
    pub crc32: Option<u32>,
}

/// The parts of a list-parts reply.
pub fn parse_parts(text: &str) -> Result<Vec<ListedPart>, UploadError> {
    let expected = r#"{"parts": [{"PartNumber": 1, "ETag": "\"...\"", "Size": 8388608}]}"#;
    let map = parse_object(Op::ListParts, text, expected)?;
    let Some(Json::Array(items)) = map.get("parts") else {
        return Err(malformed(Op::ListParts, NO_PARTS.into(), expected).with_field("parts"));
    };
    // A loop, not `collect::<Result<Vec<_>, _>>()` (see `parse_headers`).
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let n = item.get("PartNumber").and_then(Json::as_u64).filter(|n| (1..=10_000).contains(n));
        let etag = item.get("ETag").and_then(Json::as_str).filter(|e| !e.is_empty());
        let size = item.get("Size").and_then(Json::as_u64);
        let (Some(n), Some(etag), Some(size)) = (n, etag, size) else {
            return Err(malformed(
                Op::ListParts,
                cat!("lists a part without a valid PartNumber, ETag and Size: ", excerpt(&item.text())),
                expected,
            )
            .with_field("parts"));
        };
        out.push(ListedPart {
            part_number: n as u16,
            etag: etag.to_owned(),
            size,
            // Optional: one that is not a CRC32 is left out (the whole
            // object's check at complete still holds).
            crc32: item.get("ChecksumCRC32").and_then(Json::as_str).and_then(crate::engine::checksum::from_base64),
        });
    }
    Ok(out)
}

/// A Lambda function's result relayed as it is (`{"statusCode": 400,
/// "body": "{...}"}` with HTTP 200: a gateway's non-proxy integration, or an
/// invoke relayed by hand) becomes the response a Function URL or API
/// Gateway's proxy integration would have made of it: `status` and `text`
/// are its own; a function that threw (`{"errorMessage", "errorType"}`) is a
/// 502 whose text is the function's error. Any other reply is
/// left as it is (no protocol reply has these fields).
pub fn unrelay(status: &mut u16, text: &mut String) {
    let Ok(v) = Json::parse(text) else { return };
    let Some(code) = v.get("statusCode").and_then(Json::as_u64) else {
        // A function that threw (`{"errorMessage", "errorType"}`): what API
        // Gateway answers 502 for; its text, the function's words, is kept.
        if v.get("errorMessage").is_some() {
            *status = 502;
        }
        return;
    };
    let body = match v.get("body") {
        None => "",
        Some(b) => match b.as_str() {
            Some(b) => b,
            None => return,
        },
    };
    if (100..600).contains(&code) {
        *status = code as u16;
        *text = body.to_owned();
    }
}

/// The backend's own words in a reply, `{"error": {"code", "message"}}` (or
/// `{"error": "message"}`): `code: message` (its first 200 characters: a
/// backend's words go into the error's message as they are), or `None`
/// when it has none.
pub fn error_detail(text: &str) -> Option<String> {
    let v = Json::parse(text).ok()?;
    let e = v.get("error")?;
    let words = match e.as_str() {
        Some(words) => words.to_owned(),
        None => {
            let field = |k| e.get(k).and_then(Json::as_str).unwrap_or("");
            let (code, msg) = (field("code"), field("message"));
            match (code.is_empty(), msg.is_empty()) {
                (true, true) => return None,
                (true, false) => msg.to_owned(),
                (false, true) => code.to_owned(),
                (false, false) => cat!(code, ": ", msg),
            }
        }
    };
    Some(excerpt(&words))
}

/// Whether a backend's error words (`code: message`) name a throttle or a
/// failure that passes by their code (S3's and AWS's: `SlowDown`,
/// `Throttling…`, `TooManyRequests…`, `RequestTimeout`,
/// `ServiceUnavailable`, `InternalError`): worth asking again. Only the
/// first word is looked at (the code, or a message's first word), so that a
/// refusal whose message mentions a timeout is not asked again.
pub fn passing(words: &str) -> bool {
    let code = crate::before(crate::before(words, b':'), b' ');
    ["SlowDown", "Throttl", "TooMany", "Timeout", "Unavailable", "InternalError"]
        .iter()
        .any(|w| crate::find_str(code, w).is_some())
}

/// The error for a backend reply that refuses (a non-2xx, or a 2xx whose
/// body is an error), with the backend's own words when it sent them.
pub fn backend_error(op: Op, status: u16, text: &str) -> UploadError {
    let detail = error_detail(text)
        .unwrap_or_else(|| if text.trim_ascii().is_empty() { "no body".into() } else { excerpt(text) });
    if detail.starts_with("BadDigest") || detail.starts_with("XAmzContentChecksumMismatch") {
        return integrity_error(&cat!(op.name(), " answered HTTP ", status, ": ", detail)).with_status(status);
    }
    UploadError::new(
        ErrorCode::BackendError,
        cat!("the backend answered ", op.name(), " with HTTP ", status, " (", detail, ")"),
    )
    .with_status(status)
    .with_cause(excerpt(text))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_lambda_result_relayed_as_it_is_is_read_as_its_status_and_body() {
        let unrelayed = |text: &str| {
            let (mut status, mut text) = (200, text.to_owned());
            unrelay(&mut status, &mut text);
            (status, text)
        };
        let ok = r#"{"statusCode": 201, "headers": {"content-type": "application/json"}, "body": "{\"url\": \"https://s3/x\"}"}"#;
        assert_eq!(unrelayed(ok), (201, r#"{"url": "https://s3/x"}"#.to_owned()));
        assert_eq!(unrelayed(r#"{"statusCode": 204}"#), (204, String::new()));
        let refused = r#"{"statusCode": 400, "body": "{\"error\": {\"code\": \"InvalidKey\", \"message\": \"m\"}}"}"#;
        let (status, body) = unrelayed(refused);
        let e = backend_error(Op::Init, status, &body);
        assert_eq!(e.status, Some(400));
        assert!(e.message.contains("InvalidKey: m"), "{}", e.message);
        // A function that threw: a 502 (retried as any 5xx) that says why.
        let threw = r#"{"errorMessage": "Task timed out after 3.00 seconds", "errorType": "Runtime.Timeout"}"#;
        let (status, body) = unrelayed(threw);
        assert_eq!(status, 502);
        let e = backend_error(Op::Init, status, &body);
        assert!(
            e.message.contains("HTTP 502") && e.message.contains("Task timed out after 3.00 seconds"),
            "{}",
            e.message
        );
        assert_eq!(unrelayed(r#"{"errorMessage": "boom"}"#).0, 502);
        // Protocol replies, and what is not a Lambda result, are left as they are.
        for other in [
            r#"{"upload_id": "u", "key": "k"}"#,
            r#"{"statusCode": "200", "body": "{}"}"#,
            r#"{"statusCode": 200, "body": {"url": "x"}}"#,
            r#"{"statusCode": 99, "body": ""}"#,
            "not json",
            "[1]",
        ] {
            assert_eq!(unrelayed(other), (200, other.to_owned()), "{other}");
        }
    }

    #[test]
    fn good_replies_parse() {
        assert_eq!(parse_init(r#"{"upload_id": "abc", "key": "k"}"#, &[]).expect("ok").0, "abc");
        assert_eq!(parse_url(Op::PartUrl, r#"{"url": "https://s3/x?y"}"#).expect("ok"), "https://s3/x?y");
        assert_eq!(
            parse_complete(r#"{"key":"k","etag":"\"e-2\"","location":"http://l"}"#).expect("ok"),
            (Some("\"e-2\"".into()), Some("http://l".into()))
        );
        assert_eq!(parse_complete("{}").expect("ok"), (None, None));
        let parts = parse_parts(r#"{"parts":[{"PartNumber":2,"ETag":"\"b\"","Size":5}]}"#).expect("ok");
        assert_eq!(parts, vec![ListedPart { part_number: 2, etag: "\"b\"".into(), size: 5, crc32: None }]);
        // The store's CRC32 of a part, where listed; one that is not a CRC32 is left out.
        let parts = parse_parts(
            r#"{"parts":[{"PartNumber":1,"ETag":"e","Size":5,"ChecksumCRC32":"y/Q5Jg=="},
                         {"PartNumber":2,"ETag":"e","Size":5,"ChecksumCRC32":"not-a-crc"},
                         {"PartNumber":3,"ETag":"e","Size":5,"ChecksumCRC32":7}]}"#,
        )
        .expect("ok");
        let crcs: Vec<Option<u32>> = parts.iter().map(|p| p.crc32).collect();
        assert_eq!(crcs, vec![Some(0xCBF4_3926), None, None]);
    }

    #[test]
    fn a_malformed_reply_s_problem_alone_is_its_cause() {
        let e = parse_object(Op::Init, "[1]", "{}").unwrap_err();
        assert_eq!(e.cause.as_deref(), Some("is not a JSON object ([1])"));
    }

    #[test]
    fn malformed_replies_name_the_call_and_field() {
        let cases: Vec<(Result<String, UploadError>, &str, Option<&str>)> = vec![
            (parse_init("<html>", &[]).map(|r| r.0), "is not JSON", None),
            (parse_init("[1]", &[]).map(|r| r.0), "not a JSON object", None),
            (parse_init(r#"{"uploadId": "x"}"#, &[]).map(|r| r.0), "no `upload_id`", Some("upload_id")),
            (parse_init(r#"{"upload_id": 5}"#, &[]).map(|r| r.0), "not a non-empty string", Some("upload_id")),
            (parse_init(r#"{"upload_id": ""}"#, &[]).map(|r| r.0), "not a non-empty string", Some("upload_id")),
            (parse_url(Op::PartUrl, r#"{"URL": "x"}"#), "no `url`", Some("url")),
            (parse_url(Op::PartUrl, r#"{"url": "javascript:alert(1)"}"#), "not an http(s) URL", Some("url")),
        ];
        for (res, needle, field) in cases {
            let e = res.expect_err("malformed");
            assert_eq!(e.code, ErrorCode::BackendError);
            assert!(e.message.contains(needle), "{e}");
            assert!(e.message.contains("it must answer JSON like"), "says the fix: {e}");
            assert_eq!(e.field.as_deref(), field);
        }
        assert!(parse_parts(r#"{"parts":[{"PartNumber":0,"ETag":"x","Size":1}]}"#).is_err());
        assert!(parse_parts(r#"{"items":[]}"#).is_err());
        assert!(parse_complete(r#"{"etag": 5}"#).is_err());
    }

    #[test]
    fn backend_errors_carry_the_backend_message() {
        let e = backend_error(Op::Init, 400, r#"{"error":{"code":"InvalidKey","message":"key is empty"}}"#);
        assert_eq!((e.code, e.status), (ErrorCode::BackendError, Some(400)));
        assert!(e.message.contains("InvalidKey: key is empty") && e.message.contains("multipart/init"), "{e}");
        let e = backend_error(Op::PartUrl, 502, "Bad Gateway");
        assert!(e.message.contains("HTTP 502 (Bad Gateway)"), "{e}");
        // An error with no words of its own: the body, as it came.
        let e = backend_error(Op::PartUrl, 500, r#"{"error":{}}"#);
        assert!(e.message.contains(r#"HTTP 500 ({"error":{}})"#), "{e}");
    }

    #[test]
    fn the_backends_words_are_read_from_its_error_object_or_string() {
        let cases = [
            (r#"{"error":{"code":"InvalidKey","message":"key is empty"}}"#, Some("InvalidKey: key is empty")),
            (r#"{"error":{"message":"key is empty"}}"#, Some("key is empty")),
            (r#"{"error":{"code":"AccessDenied"}}"#, Some("AccessDenied")),
            (r#"{"error":"not allowed"}"#, Some("not allowed")),
            (r#"{"error":null,"url":"https://s/k"}"#, None),
            (r#"{"error":{"code":5}}"#, None),
            (r#"{"url":"https://s/k"}"#, None),
            ("<html>", None),
        ];
        for (text, words) in cases {
            assert_eq!(error_detail(text).as_deref(), words, "{text}");
        }
        for words in [
            "SlowDown: Please reduce your request rate.",
            "ThrottlingException",
            "InternalError: x",
            "ServiceUnavailable",
        ] {
            assert!(passing(words), "{words}");
        }
        for words in [
            "InvalidKey: key is empty",
            "AccessDenied",
            "NoSuchUpload: gone",
            // The words of a refusal that mention a passing failure.
            "AccessDenied: session Timeout, sign in again",
            "Uploads are closed (ServiceUnavailable for this tenant)",
        ] {
            assert!(!passing(words), "{words}");
        }
        // A backend's words are cut at 200 characters.
        let long = cat!(r#"{"error":{"code":"InvalidKey","message":""#, "é".repeat(5000), r#""}}"#);
        let words = error_detail(&long).expect("words");
        assert!(words.starts_with("InvalidKey: éé") && words.ends_with('…'), "{words}");
        assert_eq!(words.chars().count(), 201);
    }

    /// A body as serde_json reads what it writes.
    fn v(body: Json) -> serde_json::Value {
        serde_json::from_str(&body.text()).expect("the body is JSON")
    }

    #[test]
    fn bodies_match_the_seed() {
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&lambda_envelope(
                Op::Init,
                &init_body("k", "application/zip", None, "t1", &[])
            ))
            .expect("the envelope is JSON"),
            json!({
                "processor_name": "s3_upload", "action": "initiate_multipart_upload",
                "payload": {"key": "k", "content_type": "application/zip", "client_token": "t1"}
            })
        );
        assert_eq!(
            v(complete_body("k", "u", &[(1, "\"a\"".into()), (2, "\"b\"".into())], None)),
            json!({"key": "k", "upload_id": "u", "parts": [{"PartNumber": 1, "ETag": "\"a\""}, {"PartNumber": 2, "ETag": "\"b\""}]})
        );
        assert_eq!(v(part_url_body("k", "u", 3, None)), json!({"key": "k", "upload_id": "u", "part_number": 3}));
        let sum = Checksum { algorithm: "CRC32", value: "AAAAAA==".into() };
        assert_eq!(
            v(part_urls_body("k", "u", &[(1, None), (2, Some(sum))])),
            json!({"key": "k", "upload_id": "u", "parts": [{"part_number": 1},
                   {"part_number": 2, "checksum": {"algorithm": "CRC32", "value": "AAAAAA=="}}]})
        );
        let sum = Checksum { algorithm: "CRC32", value: "y/Q5Jg==".into() };
        assert_eq!(
            v(part_url_body("k", "u", 3, Some(&sum))),
            json!({"key": "k", "upload_id": "u", "part_number": 3, "checksum": {"algorithm": "CRC32", "value": "y/Q5Jg=="}})
        );
        assert_eq!(
            v(init_body("k", "t", Some("CRC32"), "0f1e", &[])),
            json!({"key": "k", "content_type": "t", "checksum_algorithm": "CRC32", "client_token": "0f1e"})
        );
        assert_eq!(v(key_body("k", "t", None)), json!({"key": "k", "content_type": "t"}));
    }

    #[test]
    fn a_digest_mismatch_at_complete_is_an_integrity_error() {
        let body = r#"{"error": {"code": "BadDigest", "message": "S3 answered BadDigest: did not match"}}"#;
        let e = backend_error(Op::Complete, 400, body);
        assert_eq!((e.code, e.status), (ErrorCode::IntegrityError, Some(400)));
        assert!(e.message.contains("not stored"), "{e}");
        let e = backend_error(Op::Complete, 400, r#"{"error": {"code": "InvalidPart", "message": "m"}}"#);
        assert_eq!(e.code, ErrorCode::BackendError);
    }

    #[test]
    fn signed_replies_carry_only_headers_a_put_may_send() {
        let ok = parse_signed(
            Op::PartUrl,
            r#"{"url": "https://s/k?x", "headers": {"X-Amz-Checksum-Crc32": "y/Q5Jg=="}}"#,
            Some(1),
            None,
        )
        .expect("ok");
        assert_eq!(ok.headers, vec![("x-amz-checksum-crc32".to_owned(), "y/Q5Jg==".to_owned())]);
        assert!(
            parse_signed(Op::PartUrl, r#"{"url": "https://s/k"}"#, Some(1), None)
                .expect("no headers")
                .headers
                .is_empty()
        );
        for bad in [
            r#"{"url": "https://s/k", "headers": {"cookie": "a=b"}}"#,
            r#"{"url": "https://s/k", "headers": {"host": "evil"}}"#,
            r#"{"url": "https://s/k", "headers": {"x-amz-checksum-crc32": 5}}"#,
            r#"{"url": "https://s/k", "headers": {"x-amz-meta-a": "a\r\nb: c"}}"#,
            r#"{"url": "https://s/k", "headers": ["x"]}"#,
        ] {
            let e = parse_signed(Op::PartUrl, bad, Some(1), None).expect_err(bad);
            assert_eq!((e.code, e.field.as_deref()), (ErrorCode::BackendError, Some("headers")), "{bad}: {e}");
        }
    }

    /// A URL signed for another part than asked (a backend's off-by-one),
    /// or a part's URL given for a whole object's PUT, is refused by name:
    /// S3 would take either and store the bytes where they do not belong.
    #[test]
    fn a_signed_url_must_be_for_the_part_asked_for() {
        let reply = |url: &str| format!(r#"{{"url": "{url}"}}"#);
        let s3 = "https://b.s3.amazonaws.com/k?partNumber=2&uploadId=u%2B1&X-Amz-Signature=abc";
        assert!(parse_signed(Op::PartUrl, &reply(s3), Some(2), None).is_ok());
        assert!(
            parse_signed(Op::PartUrl, &reply("https://proxy/put/k/2?token=x"), Some(2), None).is_ok(),
            "no partNumber"
        );
        assert!(parse_signed(Op::PartUrl, &reply("https://s/k?uploadId=u&partNumber=02"), Some(2), None).is_ok());
        assert!(parse_signed(Op::PresignPut, &reply("https://s/k?X-Amz-Signature=abc"), None, None).is_ok());
        assert!(
            parse_signed(Op::PresignPut, &reply("https://s/k#partNumber=2"), None, None).is_ok(),
            "a fragment is no query"
        );
        let e = parse_signed(Op::PartUrl, &reply(s3), Some(1), None).expect_err("another part");
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::BackendError, Some("url")));
        assert!(e.message.contains("partNumber=2 where part 1 was asked for"), "{e}");
        for url in ["https://s/k?partNumber=&x=1", "https://s/k?partNumber=x"] {
            assert!(parse_signed(Op::PartUrl, &reply(url), Some(1), None).is_err(), "{url}");
        }
        for url in [s3, "https://s/k?x=1&uploadId=u&partNumber=1"] {
            let e = parse_signed(Op::PresignPut, &reply(url), None, None).expect_err(url);
            assert!(e.message.contains("not for a whole object"), "{e}");
        }
        for url in ["https://proxy/put?uploadId=u", "https://proxy/put?partNumber=1"] {
            assert!(
                parse_signed(Op::PresignPut, &reply(url), None, None).is_ok(),
                "{url}: not both: not S3's UploadPart"
            );
        }
        // A part of another upload than the one asked for (percent-decoded
        // before the comparison); a URL without an uploadId is not judged by it.
        let ours = Some("u+1");
        assert!(parse_signed(Op::PartUrl, &reply(s3), Some(2), ours).is_ok(), "u%2B1 is u+1");
        assert!(parse_signed(Op::PartUrl, &reply("https://s/k?partNumber=2&uploadId=u+1"), Some(2), ours).is_ok());
        assert!(parse_signed(Op::PartUrl, &reply("https://s/k?partNumber=2"), Some(2), ours).is_ok());
        assert!(parse_signed(Op::PartUrl, &reply("https://s/k?partNumber=2&uploadId=%75%2b1"), Some(2), ours).is_ok());
        for other in ["u%2B2", "u%2B", "u%2B1x", "u", "", "u%2", "U%2B1", "u%252B1", "u%2G1"] {
            let url = cat!("https://s/k?partNumber=2&uploadId=", other);
            let e = parse_signed(Op::PartUrl, &reply(&url), Some(2), ours).expect_err(other);
            assert_eq!(e.field.as_deref(), Some("url"));
            assert!(e.message.contains(&cat!("uploadId=", other, " where upload u+1 was asked for")), "{e}");
        }
        // In a batch: the part-urls reply is refused; init's urls left out.
        let swapped = r#"{"upload_id": "u", "urls": [{"part_number": 1, "url": "https://s/k?partNumber=2"}, {"part_number": 2, "url": "https://s/k?partNumber=1"}]}"#;
        let e = parse_signed_many(Op::PartUrls, swapped, &[1, 2], Some("u")).expect_err("swapped");
        assert!(e.message.contains("partNumber=2 where part 1"), "{e}");
        assert_eq!(parse_init(swapped, &[1, 2]).expect("upload id").1, vec![]);
        let elsewhere =
            r#"{"upload_id": "u", "urls": [{"part_number": 1, "url": "https://s/k?partNumber=1&uploadId=v"}]}"#;
        let e = parse_signed_many(Op::PartUrls, elsewhere, &[1], Some("u")).expect_err("another upload's part");
        assert!(e.message.contains("uploadId=v where upload u was"), "{e}");
        assert_eq!(parse_init(elsewhere, &[1]).expect("upload id").1, vec![], "init's own upload id is the one");
        let here = r#"{"upload_id": "u", "urls": [{"part_number": 1, "url": "https://s/k?partNumber=1&uploadId=u"}]}"#;
        assert_eq!(parse_init(here, &[1]).expect("upload id").1.len(), 1);
    }

    #[test]
    fn init_carries_the_parts_to_sign_as_part_urls_does() {
        let sum = Checksum { algorithm: "CRC32", value: "y/Q5Jg==".into() };
        let parts = [(1, Some(sum)), (2, None)];
        assert_eq!(
            v(init_body("k", "t", Some("CRC32"), "0f1e", &parts)),
            serde_json::json!({"key": "k", "content_type": "t", "client_token": "0f1e", "checksum_algorithm": "CRC32",
                               "parts": [{"part_number": 1, "checksum": {"algorithm": "CRC32", "value": "y/Q5Jg=="}},
                                         {"part_number": 2}]})
        );
        assert_eq!(v(init_body("k", "t", None, "0f1e", &parts))["parts"], v(part_urls_body("k", "u", &parts))["parts"]);
        assert!(init_body("k", "t", None, "0f1e", &[]).get("parts").is_none(), "no parts: no field");
    }

    /// Init's reply: its upload id is the answer; its `urls` a head start,
    /// used only when they are exactly the parts asked for, else left out
    /// (each part then signed by part-urls); never asked, never read.
    #[test]
    fn an_init_reply_s_urls_are_used_only_when_they_are_the_parts_asked() {
        let urls = |text: &str, asked: &[u16]| {
            let (id, signed) = parse_init(text, asked).expect(text);
            (id, signed.into_iter().map(|(n, s)| (n, s.url)).collect::<Vec<_>>())
        };
        let two = r#"{"upload_id": "u", "urls": [{"part_number": 1, "url": "https://s/1"}, {"part_number": 2, "url": "https://s/2"}]}"#;
        assert_eq!(urls(two, &[1, 2]), ("u".into(), vec![(1, "https://s/1".into()), (2, "https://s/2".into())]));
        assert_eq!(urls(two, &[]), ("u".into(), vec![]), "not asked: not read");
        for unusable in [
            r#"{"upload_id": "u"}"#,
            r#"{"upload_id": "u", "urls": "yes"}"#,
            r#"{"upload_id": "u", "urls": [{"part_number": 1, "url": "https://s/1"}]}"#,
            r#"{"upload_id": "u", "urls": [{"part_number": 1, "url": "https://s/1"}, {"part_number": 3, "url": "https://s/3"}]}"#,
            r#"{"upload_id": "u", "urls": [{"part_number": 1, "url": "ftp://s/1"}, {"part_number": 2, "url": "https://s/2"}]}"#,
            r#"{"upload_id": "u", "urls": [{"part_number": 1, "url": "https://s/1"}, {"part_number": 2, "url": "https://s/2", "headers": {"cookie": "x"}}]}"#,
        ] {
            assert_eq!(urls(unusable, &[1, 2]), ("u".into(), vec![]), "{unusable}");
        }
        // The upload id is still checked.
        assert!(parse_init(r#"{"urls": []}"#, &[1]).is_err());
    }

    #[test]
    fn a_part_urls_reply_must_hold_exactly_the_parts_asked_for() {
        let ok = r#"{"urls": [{"part_number": 2, "url": "https://s/2"}, {"part_number": 1, "url": "https://s/1", "headers": {"x-amz-checksum-crc32": "y/Q5Jg=="}}]}"#;
        let got = parse_signed_many(Op::PartUrls, ok, &[1, 2], Some("u")).expect("ok");
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[0].1.url.as_str()), (2, "https://s/2"));
        assert_eq!(got[1].1.headers, vec![("x-amz-checksum-crc32".to_owned(), "y/Q5Jg==".to_owned())]);
        for bad in [
            r#"{"url": "https://s/1"}"#,
            r#"{"urls": [{"part_number": 1, "url": "https://s/1"}]}"#,
            r#"{"urls": [{"part_number": 1, "url": "https://s/1"}, {"part_number": 1, "url": "https://s/1"}]}"#,
            r#"{"urls": [{"part_number": 1, "url": "https://s/1"}, {"part_number": 3, "url": "https://s/3"}]}"#,
            r#"{"urls": [{"part_number": 1, "url": "https://s/1"}, {"part_number": 2, "url": "javascript:x"}]}"#,
            r#"{"urls": [{"part_number": 1, "url": "https://s/1"}, {"part_number": 2, "url": "https://s/2", "headers": {"cookie": "x"}}]}"#,
        ] {
            let e = parse_signed_many(Op::PartUrls, bad, &[1, 2], Some("u")).expect_err(bad);
            assert_eq!(e.code, ErrorCode::BackendError, "{bad}");
            assert!(e.message.contains("multipart/part-urls"), "{}", e.message);
        }
    }
}
