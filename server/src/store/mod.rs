//! The embedded S3-compatible store: s3s (HTTP, SigV4, XML) over a storage
//! layer of our own ([`disk`]), with S3's semantics where an upload touches
//! them (DESIGN.md §5):
//!
//! - every key S3 accepts works and stays distinct (keys are hashed, never paths);
//! - a digest the client sends (`Content-MD5`, `x-amz-checksum-*`) is checked
//!   before anything is stored; a refused request changes nothing;
//! - an upload id belongs to its bucket and key (any other key: `NoSuchUpload`);
//! - CompleteMultipartUpload checks order (`InvalidPartOrder`), ETags and
//!   checksums (`InvalidPart`) and sizes (`EntityTooSmall`) before it changes
//!   anything; gaps in part numbers are allowed, as in S3; a repeated complete
//!   answers the first one's result;
//! - composite and full-object checksums for multipart uploads
//!   (`x-amz-checksum-algorithm`, `x-amz-checksum-type`);
//! - ListParts and ListObjects page (`max-parts`, markers, continuation tokens);
//! - ListObjectVersions (of an unversioned bucket), DeleteBucket, CopyObject
//!   (hard links: data files are immutable).
//!
//! The guards in front of it (no unsigned `x-amz-*` header on a presigned
//! request; a refused request's body is read before the answer goes out) are
//! in [`guard`].

pub mod disk;
pub mod guard;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use s3s::checksum::ChecksumHasher;
use s3s::crypto::Checksum as _;
use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result, s3_error};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::Mutex;

use disk::{
    Bucket, Checksums, CompletedMeta, Headers, ObjectMeta, ObjectPartMeta, PartMeta, Paths, Segment, Upload, UploadMeta,
};

/// S3 requires every part but the last to be at least this large.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest single PUT or part S3 takes.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's key limit.
pub const MAX_KEY_BYTES: usize = 1024;

/// The embedded store.
pub struct Store {
    root: PathBuf,
    buckets: Mutex<BTreeMap<String, Bucket>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish_non_exhaustive()
    }
}

fn internal(e: impl std::fmt::Display) -> S3Error {
    s3_error!(InternalError, "the store could not read or write its files: {e}")
}

fn no_such_upload() -> S3Error {
    s3_error!(
        NoSuchUpload,
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
    )
}

fn invalid_part_number() -> S3Error {
    s3_error!(InvalidPart, "The requested part number is not satisfiable: the object has fewer parts")
}

fn quoted(etag: &str) -> ETag {
    ETag::Strong(etag.to_owned())
}

fn timestamp(ms: u64) -> Timestamp {
    Timestamp::from(disk::time_of(ms))
}

fn ms_of(t: Timestamp) -> i64 {
    let odt: time::OffsetDateTime = t.into();
    (odt.unix_timestamp_nanos() / 1_000_000) as i64
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_key(key: &str) -> S3Result<()> {
    if key.is_empty() || key.len() > MAX_KEY_BYTES {
        return Err(s3_error!(KeyTooLongError, "Your key is too long: keys are 1 to 1,024 bytes of UTF-8."));
    }
    Ok(())
}

/// The digests a request asks the store to check.
#[derive(Debug, Default)]
struct Wanted {
    md5: Option<String>,
    checksums: Checksums,
    /// Algorithms to compute (those given, plus the upload's or the request's algorithm).
    algorithms: Vec<&'static str>,
}

impl Wanted {
    fn new(content_md5: Option<&str>, given: Checksums, extra: &[Option<&str>]) -> S3Result<Self> {
        let md5 = match content_md5 {
            None => None,
            Some(b64) => {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .ok()
                    .filter(|r| r.len() == 16)
                    .ok_or_else(|| {
                    s3_error!(
                        InvalidDigest,
                        "The Content-MD5 you specified is not valid: send the base64 of the body's 16-byte MD5."
                    )
                })?;
                Some(hex(&raw))
            }
        };
        let mut algorithms = Vec::new();
        for alg in disk::ALGORITHMS {
            let asked = extra.iter().flatten().any(|a| a.eq_ignore_ascii_case(alg));
            if given.get(alg).is_some() || asked {
                algorithms.push(alg);
            }
        }
        for alg in extra.iter().flatten() {
            if !disk::ALGORITHMS.iter().any(|a| a.eq_ignore_ascii_case(alg)) {
                return Err(s3_error!(
                    InvalidRequest,
                    "Checksum algorithm {alg} is not supported: use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256."
                ));
            }
        }
        for alg in disk::ALGORITHMS {
            if let Some(v) = given.get(alg) {
                let len = base64::engine::general_purpose::STANDARD.decode(v.trim()).map(|r| r.len()).ok();
                let want = match alg {
                    "CRC32" | "CRC32C" => 4,
                    "CRC64NVME" => 8,
                    "SHA1" => 20,
                    _ => 32,
                };
                if len != Some(want) {
                    return Err(s3_error!(
                        BadDigest,
                        "The x-amz-checksum-{} header is not the base64 of a {want}-byte checksum.",
                        alg.to_ascii_lowercase()
                    ));
                }
            }
        }
        Ok(Self { md5, checksums: given, algorithms })
    }

    fn hasher(&self) -> ChecksumHasher {
        let mut h = ChecksumHasher::default();
        for alg in &self.algorithms {
            match *alg {
                "CRC32" => h.crc32 = Some(s3s::crypto::Crc32::new()),
                "CRC32C" => h.crc32c = Some(s3s::crypto::Crc32c::new()),
                "CRC64NVME" => h.crc64nvme = Some(s3s::crypto::Crc64Nvme::new()),
                "SHA1" => h.sha1 = Some(s3s::crypto::Sha1::new()),
                _ => h.sha256 = Some(s3s::crypto::Sha256::new()),
            }
        }
        h
    }

    /// Compares what was computed with what was given: `BadDigest` on a mismatch.
    fn verify(&self, md5: &str, computed: &Checksums) -> S3Result<()> {
        if let Some(want) = &self.md5
            && want != md5
        {
            return Err(s3_error!(BadDigest, "The Content-MD5 you specified did not match what we received."));
        }
        for alg in disk::ALGORITHMS {
            if let (Some(want), Some(got)) = (self.checksums.get(alg), computed.get(alg))
                && want.trim() != got
            {
                return Err(s3_error!(
                    BadDigest,
                    "The {} you specified did not match the calculated checksum.",
                    alg.to_ascii_lowercase()
                ));
            }
        }
        Ok(())
    }
}

fn given_checksums(
    crc32: Option<String>,
    crc32c: Option<String>,
    crc64nvme: Option<String>,
    sha1: Option<String>,
    sha256: Option<String>,
) -> Checksums {
    Checksums { crc32, crc32c, crc64nvme, sha1, sha256 }
}

fn from_dto(c: s3s::dto::Checksum) -> Checksums {
    given_checksums(c.checksum_crc32, c.checksum_crc32c, c.checksum_crc64nvme, c.checksum_sha1, c.checksum_sha256)
}

/// What a body turned into on disk.
struct Written {
    file: String,
    size: u64,
    md5: String,
    checksums: Checksums,
}

impl Store {
    /// Opens (and creates) a store rooted at `root`.
    pub async fn open(root: &Path) -> anyhow::Result<Self> {
        tokio::fs::create_dir_all(root).await?;
        let root = root.canonicalize()?;
        let buckets = disk::load(&root).await?;
        Ok(Self { root, buckets: Mutex::new(buckets) })
    }

    /// Creates the bucket if it is missing.
    pub async fn ensure_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        anyhow::ensure!(disk::valid_bucket_name(bucket), "{bucket:?} is not a valid S3 bucket name");
        let mut buckets = self.buckets.lock().await;
        if !buckets.contains_key(bucket) {
            let created = disk::now_ms();
            disk::create_bucket(&Paths::new(&self.root, bucket), created).await?;
            buckets.insert(bucket.to_owned(), Bucket { created_ms: created, ..Default::default() });
        }
        Ok(())
    }

    fn paths(&self, bucket: &str) -> Paths {
        Paths::new(&self.root, bucket)
    }

    /// Streams `body` into a new data file of `bucket`, hashing as it goes, and
    /// checks the digests asked for. On any failure the file is removed.
    async fn write_body(
        &self,
        bucket: &str,
        body: Option<StreamingBlob>,
        content_length: Option<i64>,
        wanted: &Wanted,
    ) -> S3Result<Written> {
        if content_length.is_some_and(|n| n as u64 > MAX_PUT_SIZE) {
            return Err(s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size of 5 GiB per PUT or part."
            ));
        }
        let file = disk::random_name();
        let path = self.paths(bucket).data(&file);
        let result = write_stream(&path, body, wanted).await;
        match result {
            Ok((size, md5, checksums)) => {
                if let Some(n) = content_length
                    && n as u64 != size
                {
                    disk::remove(&path).await;
                    return Err(s3_error!(
                        IncompleteBody,
                        "You did not provide the number of bytes specified by the Content-Length HTTP header."
                    ));
                }
                if let Err(e) = wanted.verify(&md5, &checksums) {
                    disk::remove(&path).await;
                    return Err(e);
                }
                Ok(Written { file, size, md5, checksums })
            }
            Err(e) => {
                disk::remove(&path).await;
                Err(e)
            }
        }
    }

    /// The object a copy reads, checked against the copy's conditions
    /// (CopyObject and UploadPartCopy).
    async fn copied_object(
        &self,
        bucket: &str,
        key: &str,
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
        if_modified_since: Option<&Timestamp>,
        if_unmodified_since: Option<&Timestamp>,
    ) -> S3Result<ObjectMeta> {
        let src = self.object(bucket, key).await?;
        check_copy_source_conditions(&src, if_match, if_none_match, if_modified_since, if_unmodified_since)?;
        Ok(src)
    }

    async fn object(&self, bucket: &str, key: &str) -> S3Result<ObjectMeta> {
        let buckets = self.buckets.lock().await;
        let b = buckets.get(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        b.objects.get(key).cloned().ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."))
    }

    /// Makes `meta` the object at its key (one rename), then removes the data
    /// files of the object it replaced.
    async fn commit_object(&self, bucket: &str, meta: ObjectMeta) -> S3Result<()> {
        let paths = self.paths(bucket);
        let mut buckets = self.buckets.lock().await;
        let b = buckets.get_mut(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        disk::write_json(&paths.object(&meta.key), &meta).await.map_err(internal)?;
        let old = b.objects.insert(meta.key.clone(), meta);
        drop(buckets);
        if let Some(old) = old {
            self.remove_segments(&paths, &old.segments).await;
        }
        Ok(())
    }

    async fn remove_segments(&self, paths: &Paths, segments: &[Segment]) {
        for s in segments {
            disk::remove(&paths.data(&s.file)).await;
        }
    }

    /// The upload `id` of `bucket`/`key`, open (not completed): else `NoSuchUpload`.
    fn open_upload<'a>(
        buckets: &'a mut BTreeMap<String, Bucket>,
        bucket: &str,
        key: &str,
        id: &str,
    ) -> S3Result<&'a mut Upload> {
        let b = buckets.get_mut(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        match b.uploads.get_mut(id) {
            Some(u) if u.meta.key == key && u.completed.is_none() => Ok(u),
            _ => Err(no_such_upload()),
        }
    }
}

/// Writes a body to `path`; returns its size, MD5 (hex) and the checksums asked for.
async fn write_stream(path: &Path, body: Option<StreamingBlob>, wanted: &Wanted) -> S3Result<(u64, String, Checksums)> {
    let mut out = tokio::fs::File::create(path).await.map_err(internal)?;
    let mut md5 = s3s::crypto::Md5::new();
    let mut hasher = wanted.hasher();
    let mut size = 0u64;
    if let Some(mut body) = body {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| match e.downcast::<S3Error>() {
                Ok(s3) => *s3,
                Err(e) => s3_error!(IncompleteBody, "The request body ended early or could not be read: {e}"),
            })?;
            size += chunk.len() as u64;
            if size > MAX_PUT_SIZE {
                return Err(s3_error!(
                    EntityTooLarge,
                    "Your proposed upload exceeds the maximum allowed size of 5 GiB per PUT or part."
                ));
            }
            md5.update(&chunk);
            hasher.update(&chunk);
            out.write_all(&chunk).await.map_err(internal)?;
        }
    }
    out.flush().await.map_err(internal)?;
    Ok((size, hex(md5.finalize().as_ref()), from_dto(hasher.finalize())))
}

/// Streams bytes `start..end` of an object made of `segments`.
fn read_segments(
    paths: Paths,
    segments: Vec<Segment>,
    start: u64,
    end: u64,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    futures::stream::try_unfold(
        (paths, segments, 0usize, 0u64, start, None::<(tokio::fs::File, u64)>),
        move |(paths, segments, mut index, mut seg_start, mut pos, mut open)| async move {
            loop {
                if pos >= end {
                    return Ok(None);
                }
                if let Some((file, left)) = &mut open {
                    if *left > 0 {
                        let want = (*left).min(256 * 1024) as usize;
                        let mut buf = vec![0u8; want];
                        let n = file.read(&mut buf).await?;
                        if n == 0 {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                "a data file is shorter than its metadata says",
                            ));
                        }
                        buf.truncate(n);
                        *left -= n as u64;
                        pos += n as u64;
                        return Ok(Some((Bytes::from(buf), (paths, segments, index, seg_start, pos, open))));
                    }
                    open = None;
                    seg_start += segments[index].size;
                    index += 1;
                    continue;
                }
                let Some(seg) = segments.get(index) else { return Ok(None) };
                if seg_start + seg.size <= pos {
                    seg_start += seg.size;
                    index += 1;
                    continue;
                }
                let mut file = tokio::fs::File::open(paths.data(&seg.file)).await?;
                let offset = pos - seg_start;
                file.seek(std::io::SeekFrom::Start(offset)).await?;
                let left = (seg.size - offset).min(end - pos);
                open = Some((file, left));
            }
        },
    )
}

/// The ETag S3 gives a multipart object: MD5 of the parts' binary MD5s, `-N`.
fn multipart_etag(parts: &[&PartMeta]) -> String {
    let mut outer = s3s::crypto::Md5::new();
    for p in parts {
        let bin: Vec<u8> =
            (0..p.etag.len() / 2).filter_map(|i| u8::from_str_radix(&p.etag[2 * i..2 * i + 2], 16).ok()).collect();
        outer.update(&bin);
    }
    format!("{}-{}", hex(outer.finalize().as_ref()), parts.len())
}

/// A composite checksum: the checksum of the parts' binary checksums, `-N`.
fn composite_checksum(alg: &str, parts: &[&PartMeta]) -> Option<String> {
    let mut h =
        Wanted { algorithms: vec![disk::ALGORITHMS.into_iter().find(|a| *a == alg)?], ..Default::default() }.hasher();
    for p in parts {
        let raw = base64::engine::general_purpose::STANDARD.decode(p.checksums.get(alg)?).ok()?;
        h.update(&raw);
    }
    let whole = from_dto(h.finalize());
    whole.get(alg).map(|v| format!("{v}-{}", parts.len()))
}

fn headers_of(
    content_type: Option<String>,
    content_encoding: Option<String>,
    content_disposition: Option<String>,
    content_language: Option<String>,
    cache_control: Option<String>,
    expires: Option<Timestamp>,
    metadata: Option<Metadata>,
) -> Headers {
    Headers {
        content_type,
        content_encoding,
        content_disposition,
        content_language,
        cache_control,
        expires_ms: expires.map(ms_of),
        metadata: metadata.map(|m| m.into_iter().collect()).unwrap_or_default(),
    }
}

/// Checks If-Match / If-None-Match / If-(Un)Modified-Since of a GET or HEAD.
fn check_conditions(
    meta: &ObjectMeta,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    let etag = quoted(&meta.etag);
    let modified_s = meta.modified_ms as i64 / 1000;
    if let Some(c) = if_match {
        let ok = match c {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => e.strong_cmp(&etag),
        };
        if !ok {
            return Err(s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold"));
        }
    } else if let Some(t) = if_unmodified_since
        && modified_s > ms_of(t.clone()) / 1000
    {
        return Err(s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold"));
    }
    if let Some(c) = if_none_match {
        let hit = match c {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => e.weak_cmp(&etag),
        };
        if hit {
            return Err(s3_error!(NotModified));
        }
    } else if let Some(t) = if_modified_since
        && modified_s <= ms_of(t.clone()) / 1000
    {
        return Err(s3_error!(NotModified));
    }
    Ok(())
}

/// The bytes `x-amz-copy-source-range: bytes=first-last` names in an object
/// of `size` bytes: a malformed range is `InvalidArgument`, one past the end
/// `InvalidRange`.
fn copy_range(header: &str, size: u64) -> S3Result<std::ops::Range<u64>> {
    let improper = || {
        s3_error!(
            InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last, where first and last are the zero-based offsets of the first and last bytes to copy"
        )
    };
    let (first, last) = header.trim().strip_prefix("bytes=").and_then(|r| r.split_once('-')).ok_or_else(improper)?;
    let (first, last): (u64, u64) = (first.parse().map_err(|_| improper())?, last.parse().map_err(|_| improper())?);
    if first > last {
        return Err(improper());
    }
    if last >= size {
        return Err(s3_error!(
            InvalidRange,
            "The requested range is not satisfiable: the source object has {size} bytes"
        ));
    }
    Ok(first..last + 1)
}

/// The segment holding part `n` of an object: a multipart object's part by its
/// number (numbers may have gaps); any other object has one part, number 1.
fn segment_of_part(meta: &ObjectMeta, n: i32) -> Option<usize> {
    if meta.parts.is_empty() { (n == 1).then_some(0) } else { meta.parts.iter().position(|p| p.number == n) }
}

/// The copy-source conditions of CopyObject and UploadPartCopy: as
/// [`check_conditions`], but a failed one is always 412 (S3 never answers 304
/// to a copy).
/// The bucket and key a copy reads (only bucket/key sources are supported).
fn copy_source_object(source: &CopySource) -> S3Result<(&str, &str)> {
    match source {
        CopySource::Bucket { bucket, key, .. } => Ok((bucket, key)),
        _ => Err(s3_error!(NotImplemented, "Only bucket/key copy sources are supported.")),
    }
}

fn check_copy_source_conditions(
    src: &ObjectMeta,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
    if_modified_since: Option<&Timestamp>,
    if_unmodified_since: Option<&Timestamp>,
) -> S3Result<()> {
    check_conditions(src, if_match, if_none_match, if_modified_since, if_unmodified_since)
        .map_err(|e| if *e.code() == s3s::S3ErrorCode::NotModified { s3_error!(PreconditionFailed) } else { e })
}

/// S3's part numbers: 1..=10,000.
fn check_part_number(n: i32) -> S3Result<()> {
    if (1..=10_000).contains(&n) {
        Ok(())
    } else {
        Err(s3_error!(InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive"))
    }
}

/// The ETag a complete lists for a part, unquoted.
fn listed_etag(part: &CompletedPart) -> String {
    part.e_tag.as_ref().map(|t| t.value().trim_matches('"').to_owned()).unwrap_or_default()
}

fn checksum_type_of(meta: &ObjectMeta) -> Option<ChecksumType> {
    meta.checksum_type.clone().map(ChecksumType::from)
}

/// Lists `keys` S3-style: those after `after` with `prefix`, rolled up at
/// `delimiter`, at most `max`. Returns (keys, common prefixes, truncated, last item).
fn list_keys<'a>(
    keys: impl Iterator<Item = &'a String>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> (Vec<&'a String>, Vec<String>, bool, Option<String>) {
    let mut contents = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut last = None;
    let mut truncated = false;
    for key in keys {
        if !key.starts_with(prefix) || after.is_some_and(|a| key.as_str() <= a) {
            continue;
        }
        let rolled = delimiter
            .filter(|d| !d.is_empty())
            .and_then(|d| key[prefix.len()..].find(d).map(|i| key[..prefix.len() + i + d.len()].to_owned()));
        if let Some(p) = &rolled
            && (prefixes.last() == Some(p) || after.is_some_and(|a| a.starts_with(p.as_str())))
        {
            continue;
        }
        if contents.len() + prefixes.len() >= max {
            truncated = true;
            break;
        }
        match rolled {
            Some(p) => {
                last = Some(p.clone());
                prefixes.push(p);
            }
            None => {
                last = Some(key.clone());
                contents.push(key);
            }
        }
    }
    (contents, prefixes, truncated, last)
}

fn object_entry(meta: &ObjectMeta) -> Object {
    Object {
        key: Some(meta.key.clone()),
        size: Some(meta.size as i64),
        e_tag: Some(quoted(&meta.etag)),
        last_modified: Some(timestamp(meta.modified_ms)),
        storage_class: Some(ObjectStorageClass::from_static(ObjectStorageClass::STANDARD)),
        checksum_type: checksum_type_of(meta),
        owner: Some(owner()),
        ..Default::default()
    }
}

fn owner() -> Owner {
    Owner { display_name: Some("s3mp".into()), id: Some("s3mp".into()) }
}

fn max_keys(n: Option<i32>) -> usize {
    n.map(|n| n.clamp(0, 1000) as usize).unwrap_or(1000)
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let name = req.input.bucket;
        if !disk::valid_bucket_name(&name) {
            return Err(s3_error!(InvalidBucketName));
        }
        let mut buckets = self.buckets.lock().await;
        if buckets.contains_key(&name) {
            return Err(s3_error!(BucketAlreadyOwnedByYou));
        }
        let created = disk::now_ms();
        disk::create_bucket(&self.paths(&name), created).await.map_err(internal)?;
        buckets.insert(name, Bucket { created_ms: created, ..Default::default() });
        Ok(S3Response::new(CreateBucketOutput::default()))
    }

    async fn delete_bucket(&self, req: S3Request<DeleteBucketInput>) -> S3Result<S3Response<DeleteBucketOutput>> {
        let name = req.input.bucket;
        let mut buckets = self.buckets.lock().await;
        let b = buckets.get(&name).ok_or_else(|| s3_error!(NoSuchBucket))?;
        if !b.objects.is_empty() {
            return Err(s3_error!(BucketNotEmpty));
        }
        // Open uploads go with the bucket, as in S3.
        tokio::fs::remove_dir_all(&self.paths(&name).bucket).await.map_err(internal)?;
        buckets.remove(&name);
        Ok(S3Response::new(DeleteBucketOutput::default()))
    }

    async fn head_bucket(&self, req: S3Request<HeadBucketInput>) -> S3Result<S3Response<HeadBucketOutput>> {
        if !self.buckets.lock().await.contains_key(&req.input.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        Ok(S3Response::new(HeadBucketOutput::default()))
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        if !self.buckets.lock().await.contains_key(&req.input.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        Ok(S3Response::new(GetBucketLocationOutput::default()))
    }

    async fn list_buckets(&self, _req: S3Request<ListBucketsInput>) -> S3Result<S3Response<ListBucketsOutput>> {
        let buckets = self.buckets.lock().await;
        let list = buckets
            .iter()
            .map(|(name, b)| s3s::dto::Bucket {
                name: Some(name.clone()),
                creation_date: Some(timestamp(b.created_ms)),
                ..Default::default()
            })
            .collect();
        Ok(S3Response::new(ListBucketsOutput { buckets: Some(list), owner: Some(owner()), ..Default::default() }))
    }

    async fn list_objects_v2(&self, req: S3Request<ListObjectsV2Input>) -> S3Result<S3Response<ListObjectsV2Output>> {
        let i = req.input;
        let buckets = self.buckets.lock().await;
        let b = buckets.get(&i.bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let token = match &i.continuation_token {
            Some(t) => Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t)
                    .ok()
                    .and_then(|k| String::from_utf8(k).ok())
                    .ok_or_else(|| s3_error!(InvalidArgument, "The continuation token provided is incorrect"))?,
            ),
            None => None,
        };
        let after = token.clone().or(i.start_after.clone());
        let max = max_keys(i.max_keys);
        let (keys, prefixes, truncated, last) =
            list_keys(b.objects.keys(), &prefix, i.delimiter.as_deref(), after.as_deref(), max);
        let contents: Vec<Object> = keys.iter().map(|k| object_entry(&b.objects[*k])).collect();
        let key_count = (contents.len() + prefixes.len()) as i32;
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(i.bucket),
            prefix: Some(prefix),
            delimiter: i.delimiter,
            max_keys: Some(max as i32),
            key_count: Some(key_count),
            continuation_token: i.continuation_token,
            start_after: i.start_after,
            is_truncated: Some(truncated),
            next_continuation_token: truncated
                .then(|| last.map(|l| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(l)))
                .flatten(),
            contents: Some(contents),
            common_prefixes: Some(prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect()),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_objects(&self, req: S3Request<ListObjectsInput>) -> S3Result<S3Response<ListObjectsOutput>> {
        let i = req.input;
        let buckets = self.buckets.lock().await;
        let b = buckets.get(&i.bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let max = max_keys(i.max_keys);
        let (keys, prefixes, truncated, last) =
            list_keys(b.objects.keys(), &prefix, i.delimiter.as_deref(), i.marker.as_deref(), max);
        let contents: Vec<Object> = keys.iter().map(|k| object_entry(&b.objects[*k])).collect();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(i.bucket),
            prefix: Some(prefix),
            marker: Some(i.marker.unwrap_or_default()),
            delimiter: i.delimiter.clone(),
            max_keys: Some(max as i32),
            is_truncated: Some(truncated),
            next_marker: if truncated && i.delimiter.is_some() { last } else { None },
            contents: Some(contents),
            common_prefixes: Some(prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect()),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    async fn list_object_versions(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> S3Result<S3Response<ListObjectVersionsOutput>> {
        // An unversioned bucket: each object is its one version, "null".
        let i = req.input;
        let buckets = self.buckets.lock().await;
        let b = buckets.get(&i.bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let max = max_keys(i.max_keys);
        let (keys, prefixes, truncated, last) =
            list_keys(b.objects.keys(), &prefix, i.delimiter.as_deref(), i.key_marker.as_deref(), max);
        let versions = keys
            .iter()
            .map(|k| {
                let m = &b.objects[*k];
                ObjectVersion {
                    key: Some(m.key.clone()),
                    version_id: Some("null".into()),
                    is_latest: Some(true),
                    size: Some(m.size as i64),
                    e_tag: Some(quoted(&m.etag)),
                    last_modified: Some(timestamp(m.modified_ms)),
                    storage_class: Some(ObjectVersionStorageClass::from_static(ObjectVersionStorageClass::STANDARD)),
                    owner: Some(owner()),
                    ..Default::default()
                }
            })
            .collect();
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(i.bucket),
            prefix: Some(prefix),
            delimiter: i.delimiter,
            max_keys: Some(max as i32),
            key_marker: i.key_marker,
            is_truncated: Some(truncated),
            next_key_marker: if truncated { last } else { None },
            next_version_id_marker: truncated.then(|| "null".to_owned()),
            versions: Some(versions),
            common_prefixes: Some(prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect()),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let i = req.input;
        check_key(&i.key)?;
        if !self.buckets.lock().await.contains_key(&i.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        let given = given_checksums(
            i.checksum_crc32,
            i.checksum_crc32c,
            i.checksum_crc64nvme,
            i.checksum_sha1,
            i.checksum_sha256,
        );
        let alg = i.checksum_algorithm.as_ref().map(|a| a.as_str().to_owned());
        let wanted = Wanted::new(i.content_md5.as_deref(), given, &[alg.as_deref()])?;
        // Conditions that can be judged before the body is read.
        if let Some(cond) = &i.if_none_match
            && cond.is_any()
            && self.object(&i.bucket, &i.key).await.is_ok()
        {
            return Err(s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold"));
        }
        let written = self.write_body(&i.bucket, i.body, i.content_length, &wanted).await?;
        let meta = ObjectMeta {
            key: i.key,
            size: written.size,
            etag: written.md5,
            modified_ms: disk::now_ms(),
            headers: headers_of(
                i.content_type.map(|c| c.to_string()),
                i.content_encoding,
                i.content_disposition,
                i.content_language,
                i.cache_control,
                i.expires,
                i.metadata,
            ),
            checksum_type: (!wanted.algorithms.is_empty()).then(|| ChecksumType::FULL_OBJECT.to_owned()),
            checksums: written.checksums.clone(),
            segments: vec![Segment { file: written.file, size: written.size }],
            parts_count: None,
            parts: Vec::new(),
        };
        let etag = meta.etag.clone();
        self.commit_object(&i.bucket, meta).await?;
        let c = written.checksums;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(quoted(&etag)),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            ..Default::default()
        }))
    }

    async fn get_object(&self, req: S3Request<GetObjectInput>) -> S3Result<S3Response<GetObjectOutput>> {
        let i = req.input;
        let meta = self.object(&i.bucket, &i.key).await?;
        check_conditions(
            &meta,
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        )?;
        let (range, parts_count) = match (i.part_number, &i.range) {
            (Some(_), Some(_)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "Cannot specify both Range header and partNumber query parameter"
                ));
            }
            (Some(n), None) => {
                let Some(index) = segment_of_part(&meta, n) else { return Err(invalid_part_number()) };
                let start: u64 = meta.segments[..index].iter().map(|s| s.size).sum();
                let size = meta.segments.get(index).map_or(0, |s| s.size);
                (Some(start..start + size), Some(meta.parts_count.unwrap_or(1) as i32))
            }
            (None, Some(r)) => (Some(r.check(meta.size)?), None),
            (None, None) => (None, None),
        };
        let whole = range.is_none();
        let span = range.clone().unwrap_or(0..meta.size);
        let body = read_segments(self.paths(&i.bucket), meta.segments.clone(), span.start, span.end);
        let h = &meta.headers;
        // A part of a multipart object comes with that part's checksums.
        let part = i.part_number.and_then(|n| meta.parts.iter().find(|p| p.number == n).map(|p| p.checksums.clone()));
        let c = if let Some(part) = part {
            part
        } else if whole && i.checksum_mode.as_ref().is_some_and(|m| m.as_str() == ChecksumMode::ENABLED) {
            meta.checksums.clone()
        } else {
            Checksums::default()
        };
        let with_type = whole || i.part_number.is_some();
        Ok(S3Response::new(GetObjectOutput {
            body: Some(StreamingBlob::wrap(body)),
            content_length: Some((span.end - span.start) as i64),
            content_range: range
                .filter(|r| r.end > r.start || meta.size > 0)
                .map(|r| format!("bytes {}-{}/{}", r.start, r.end.saturating_sub(1), meta.size)),
            accept_ranges: Some("bytes".into()),
            last_modified: Some(timestamp(meta.modified_ms)),
            e_tag: Some(quoted(&meta.etag)),
            content_type: i.response_content_type.or_else(|| h.content_type.clone().and_then(|t| t.parse().ok())),
            content_encoding: i.response_content_encoding.or_else(|| h.content_encoding.clone()),
            content_disposition: i.response_content_disposition.or_else(|| h.content_disposition.clone()),
            content_language: i.response_content_language.or_else(|| h.content_language.clone()),
            cache_control: i.response_cache_control.or_else(|| h.cache_control.clone()),
            expires: i.response_expires.or_else(|| h.expires_ms.map(|ms| timestamp(ms.max(0) as u64))),
            metadata: (!h.metadata.is_empty()).then(|| h.metadata.clone().into_iter().collect()),
            parts_count,
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: if with_type { checksum_type_of(&meta) } else { None },
            ..Default::default()
        }))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = req.input;
        let meta = self.object(&i.bucket, &i.key).await?;
        check_conditions(
            &meta,
            i.if_match.as_ref(),
            i.if_none_match.as_ref(),
            i.if_modified_since.as_ref(),
            i.if_unmodified_since.as_ref(),
        )?;
        let (length, parts_count) = match i.part_number {
            Some(n) => {
                let seg = segment_of_part(&meta, n).and_then(|index| meta.segments.get(index));
                let Some(seg) = seg else { return Err(invalid_part_number()) };
                (seg.size, Some(meta.parts_count.unwrap_or(1) as i32))
            }
            None => (meta.size, None),
        };
        let h = &meta.headers;
        let c = if i.checksum_mode.as_ref().is_some_and(|m| m.as_str() == ChecksumMode::ENABLED) {
            meta.checksums.clone()
        } else {
            Checksums::default()
        };
        Ok(S3Response::new(HeadObjectOutput {
            content_length: Some(length as i64),
            accept_ranges: Some("bytes".into()),
            last_modified: Some(timestamp(meta.modified_ms)),
            e_tag: Some(quoted(&meta.etag)),
            content_type: h.content_type.clone().and_then(|t| t.parse().ok()),
            content_encoding: h.content_encoding.clone(),
            content_disposition: h.content_disposition.clone(),
            content_language: h.content_language.clone(),
            cache_control: h.cache_control.clone(),
            expires: h.expires_ms.map(|ms| timestamp(ms.max(0) as u64)),
            metadata: (!h.metadata.is_empty()).then(|| h.metadata.clone().into_iter().collect()),
            parts_count,
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            checksum_type: checksum_type_of(&meta),
            ..Default::default()
        }))
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let i = req.input;
        let meta = self.object(&i.bucket, &i.key).await?;
        // The header is a comma-separated list; take each name trimmed, however it was split.
        let asked: Vec<String> = i
            .object_attributes
            .iter()
            .flat_map(|a| a.as_str().split(',').map(|n| n.trim().to_ascii_lowercase()).collect::<Vec<_>>())
            .collect();
        let wants = |name: &str| asked.iter().any(|a| a.eq_ignore_ascii_case(name));
        let c = &meta.checksums;
        let has_checksum = disk::ALGORITHMS.iter().any(|a| c.get(a).is_some());
        let parts = (wants(ObjectAttributes::OBJECT_PARTS) && meta.parts_count.is_some()).then(|| {
            let max = i.max_parts.map(|n| n.clamp(0, 1000) as usize).unwrap_or(1000);
            let marker = i.part_number_marker.unwrap_or(0);
            let after: Vec<&ObjectPartMeta> = meta.parts.iter().filter(|p| p.number > marker).collect();
            let page: Vec<ObjectPart> = after
                .iter()
                .take(max)
                .map(|p| ObjectPart {
                    part_number: Some(p.number),
                    size: Some(p.size as i64),
                    checksum_crc32: p.checksums.crc32.clone(),
                    checksum_crc32c: p.checksums.crc32c.clone(),
                    checksum_crc64nvme: p.checksums.crc64nvme.clone(),
                    checksum_sha1: p.checksums.sha1.clone(),
                    checksum_sha256: p.checksums.sha256.clone(),
                })
                .collect();
            let truncated = after.len() > max;
            GetObjectAttributesParts {
                is_truncated: Some(truncated),
                max_parts: Some(max as i32),
                part_number_marker: Some(marker),
                next_part_number_marker: page.last().and_then(|p| p.part_number),
                total_parts_count: meta.parts_count.map(|n| n as i32),
                parts: Some(page),
            }
        });
        Ok(S3Response::new(GetObjectAttributesOutput {
            e_tag: wants(ObjectAttributes::ETAG).then(|| quoted(&meta.etag)),
            object_size: wants(ObjectAttributes::OBJECT_SIZE).then_some(meta.size as i64),
            storage_class: wants(ObjectAttributes::STORAGE_CLASS)
                .then(|| StorageClass::from_static(StorageClass::STANDARD)),
            checksum: (wants(ObjectAttributes::CHECKSUM) && has_checksum).then(|| s3s::dto::Checksum {
                checksum_crc32: c.crc32.clone(),
                checksum_crc32c: c.crc32c.clone(),
                checksum_crc64nvme: c.crc64nvme.clone(),
                checksum_sha1: c.sha1.clone(),
                checksum_sha256: c.sha256.clone(),
                checksum_type: checksum_type_of(&meta),
            }),
            object_parts: parts,
            last_modified: Some(timestamp(meta.modified_ms)),
            ..Default::default()
        }))
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let i = req.input;
        self.delete_key(&i.bucket, &i.key).await?;
        Ok(S3Response::new(DeleteObjectOutput::default()))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let i = req.input;
        let quiet = i.delete.quiet.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for obj in i.delete.objects {
            match self.delete_key(&i.bucket, &obj.key).await {
                Ok(()) => {
                    if !quiet {
                        deleted.push(DeletedObject { key: Some(obj.key), ..Default::default() });
                    }
                }
                Err(e) => errors.push(Error {
                    key: Some(obj.key),
                    code: Some(e.code().as_str().to_owned()),
                    message: e.message().map(str::to_owned),
                    ..Default::default()
                }),
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput { deleted: Some(deleted), errors: Some(errors), ..Default::default() }))
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let i = req.input;
        check_key(&i.key)?;
        let (src_bucket, src_key) = copy_source_object(&i.copy_source)?;
        let src = self
            .copied_object(
                src_bucket,
                src_key,
                i.copy_source_if_match.as_ref(),
                i.copy_source_if_none_match.as_ref(),
                i.copy_source_if_modified_since.as_ref(),
                i.copy_source_if_unmodified_since.as_ref(),
            )
            .await?;
        let replace = i.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if src_bucket == i.bucket.as_str() && src_key == i.key.as_str() && !replace {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        if !self.buckets.lock().await.contains_key(&i.bucket) {
            return Err(s3_error!(NoSuchBucket));
        }
        let (from, to) = (self.paths(src_bucket), self.paths(&i.bucket));
        let mut segments = Vec::new();
        for s in &src.segments {
            let file = disk::random_name();
            if let Err(e) = tokio::fs::hard_link(from.data(&s.file), to.data(&file)).await {
                self.remove_segments(&to, &segments).await;
                return Err(internal(e));
            }
            segments.push(Segment { file, size: s.size });
        }
        let headers = if replace {
            headers_of(
                i.content_type.map(|c| c.to_string()),
                i.content_encoding,
                i.content_disposition,
                i.content_language,
                i.cache_control,
                i.expires,
                i.metadata,
            )
        } else {
            src.headers.clone()
        };
        let meta = ObjectMeta { key: i.key, modified_ms: disk::now_ms(), headers, segments, ..src };
        let (etag, modified) = (meta.etag.clone(), meta.modified_ms);
        self.commit_object(&i.bucket, meta).await?;
        Ok(S3Response::new(CopyObjectOutput {
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(quoted(&etag)),
                last_modified: Some(timestamp(modified)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let i = req.input;
        check_key(&i.key)?;
        let algorithm = i.checksum_algorithm.as_ref().map(|a| a.as_str().to_ascii_uppercase());
        if let Some(a) = &algorithm
            && !disk::ALGORITHMS.contains(&a.as_str())
        {
            return Err(s3_error!(
                InvalidRequest,
                "Checksum algorithm {a} is not supported: use CRC32, CRC32C, CRC64NVME, SHA1 or SHA256."
            ));
        }
        let checksum_type = match (&algorithm, i.checksum_type.as_ref().map(|t| t.as_str().to_ascii_uppercase())) {
            (None, Some(_)) => {
                return Err(s3_error!(
                    InvalidRequest,
                    "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header."
                ));
            }
            (None, None) => None,
            (Some(a), t) => {
                let t = t.unwrap_or_else(|| if a == "CRC64NVME" { "FULL_OBJECT".into() } else { "COMPOSITE".into() });
                let ok = match t.as_str() {
                    "COMPOSITE" => a != "CRC64NVME",
                    "FULL_OBJECT" => a.starts_with("CRC"),
                    _ => false,
                };
                if !ok {
                    return Err(s3_error!(
                        InvalidRequest,
                        "The {t} checksum type cannot be used with the {a} checksum algorithm."
                    ));
                }
                Some(t)
            }
        };
        let meta = UploadMeta {
            key: i.key.clone(),
            initiated_ms: disk::now_ms(),
            headers: headers_of(
                i.content_type.map(|c| c.to_string()),
                i.content_encoding,
                i.content_disposition,
                i.content_language,
                i.cache_control,
                i.expires,
                i.metadata,
            ),
            checksum_algorithm: algorithm.clone(),
            checksum_type: checksum_type.clone(),
        };
        let id = disk::random_name();
        let paths = self.paths(&i.bucket);
        let mut buckets = self.buckets.lock().await;
        let b = buckets.get_mut(&i.bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        tokio::fs::create_dir_all(paths.upload(&id)).await.map_err(internal)?;
        disk::write_json(&paths.upload(&id).join("upload.json"), &meta).await.map_err(internal)?;
        b.uploads.insert(id.clone(), Upload { meta, parts: BTreeMap::new(), completed: None, completing: false });
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(id),
            checksum_algorithm: algorithm.map(ChecksumAlgorithm::from),
            checksum_type: checksum_type.map(ChecksumType::from),
            ..Default::default()
        }))
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let i = req.input;
        check_part_number(i.part_number)?;
        let algorithm = {
            let mut buckets = self.buckets.lock().await;
            let u = Store::open_upload(&mut buckets, &i.bucket, &i.key, &i.upload_id)?;
            u.meta.checksum_algorithm.clone()
        };
        let given = given_checksums(
            i.checksum_crc32,
            i.checksum_crc32c,
            i.checksum_crc64nvme,
            i.checksum_sha1,
            i.checksum_sha256,
        );
        let alg = i.checksum_algorithm.as_ref().map(|a| a.as_str().to_owned());
        let wanted = Wanted::new(i.content_md5.as_deref(), given, &[alg.as_deref(), algorithm.as_deref()])?;
        let written = self.write_body(&i.bucket, i.body, i.content_length, &wanted).await?;
        self.commit_part(&i.bucket, &i.key, &i.upload_id, i.part_number, &written).await?;
        let c = written.checksums;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(quoted(&written.md5)),
            checksum_crc32: c.crc32,
            checksum_crc32c: c.crc32c,
            checksum_crc64nvme: c.crc64nvme,
            checksum_sha1: c.sha1,
            checksum_sha256: c.sha256,
            ..Default::default()
        }))
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let i = req.input;
        check_part_number(i.part_number)?;
        let (src_bucket, src_key) = copy_source_object(&i.copy_source)?;
        let algorithm = {
            let mut buckets = self.buckets.lock().await;
            Store::open_upload(&mut buckets, &i.bucket, &i.key, &i.upload_id)?.meta.checksum_algorithm.clone()
        };
        let src = self
            .copied_object(
                src_bucket,
                src_key,
                i.copy_source_if_match.as_ref(),
                i.copy_source_if_none_match.as_ref(),
                i.copy_source_if_modified_since.as_ref(),
                i.copy_source_if_unmodified_since.as_ref(),
            )
            .await?;
        let range = match &i.copy_source_range {
            None => 0..src.size,
            Some(r) => copy_range(r, src.size)?,
        };
        let wanted = Wanted::new(None, Checksums::default(), &[algorithm.as_deref()])?;
        let body = read_segments(self.paths(src_bucket), src.segments.clone(), range.start, range.end);
        let written = self
            .write_body(&i.bucket, Some(StreamingBlob::wrap(body)), Some((range.end - range.start) as i64), &wanted)
            .await?;
        self.commit_part(&i.bucket, &i.key, &i.upload_id, i.part_number, &written).await?;
        let c = written.checksums;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(quoted(&written.md5)),
                last_modified: Some(timestamp(disk::now_ms())),
                checksum_crc32: c.crc32,
                checksum_crc32c: c.crc32c,
                checksum_crc64nvme: c.crc64nvme,
                checksum_sha1: c.sha1,
                checksum_sha256: c.sha256,
            }),
            ..Default::default()
        }))
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let i = req.input;
        let mut buckets = self.buckets.lock().await;
        let u = Store::open_upload(&mut buckets, &i.bucket, &i.key, &i.upload_id)?;
        let max = i.max_parts.map(|n| n.clamp(0, 1000) as usize).unwrap_or(1000);
        let marker = i.part_number_marker.unwrap_or(0);
        let mut parts = Vec::new();
        let mut truncated = false;
        for p in u.parts.values().filter(|p| p.number > marker) {
            if parts.len() >= max {
                truncated = true;
                break;
            }
            parts.push(Part {
                part_number: Some(p.number),
                e_tag: Some(quoted(&p.etag)),
                size: Some(p.size as i64),
                last_modified: Some(timestamp(p.modified_ms)),
                checksum_crc32: p.checksums.crc32.clone(),
                checksum_crc32c: p.checksums.crc32c.clone(),
                checksum_crc64nvme: p.checksums.crc64nvme.clone(),
                checksum_sha1: p.checksums.sha1.clone(),
                checksum_sha256: p.checksums.sha256.clone(),
            });
        }
        let next = parts.last().and_then(|p: &Part| p.part_number);
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(i.bucket),
            key: Some(i.key),
            upload_id: Some(i.upload_id),
            max_parts: Some(max as i32),
            part_number_marker: Some(marker),
            next_part_number_marker: next,
            is_truncated: Some(truncated),
            parts: Some(parts),
            checksum_algorithm: u.meta.checksum_algorithm.clone().map(ChecksumAlgorithm::from),
            checksum_type: u.meta.checksum_type.clone().map(ChecksumType::from),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            owner: Some(owner()),
            initiator: Some(Initiator { display_name: Some("s3mp".into()), id: Some("s3mp".into()) }),
            ..Default::default()
        }))
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let i = req.input;
        let buckets = self.buckets.lock().await;
        let b = buckets.get(&i.bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let mut open: Vec<(&String, &String, &Upload)> = b
            .uploads
            .iter()
            .filter(|(_, u)| u.completed.is_none() && u.meta.key.starts_with(&prefix))
            .map(|(id, u)| (&u.meta.key, id, u))
            .collect();
        open.sort_by(|a, b| (a.0, a.2.meta.initiated_ms, a.1).cmp(&(b.0, b.2.meta.initiated_ms, b.1)));
        let max = i.max_uploads.map(|n| n.clamp(0, 1000) as usize).unwrap_or(1000);
        let after_key = i.key_marker.clone();
        let after_id = i.upload_id_marker.clone();
        let mut uploads = Vec::new();
        let mut truncated = false;
        for (key, id, u) in open {
            if let Some(k) = &after_key {
                let past = match &after_id {
                    Some(marker_id) => key > k || (key == k && id > marker_id),
                    None => key > k,
                };
                if !past {
                    continue;
                }
            }
            if uploads.len() >= max {
                truncated = true;
                break;
            }
            uploads.push(MultipartUpload {
                key: Some(key.clone()),
                upload_id: Some(id.clone()),
                initiated: Some(timestamp(u.meta.initiated_ms)),
                checksum_algorithm: u.meta.checksum_algorithm.clone().map(ChecksumAlgorithm::from),
                checksum_type: u.meta.checksum_type.clone().map(ChecksumType::from),
                storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
                owner: Some(owner()),
                initiator: Some(Initiator { display_name: Some("s3mp".into()), id: Some("s3mp".into()) }),
            });
        }
        let last = uploads.last().map(|u: &MultipartUpload| (u.key.clone(), u.upload_id.clone()));
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(i.bucket),
            prefix: Some(prefix),
            key_marker: i.key_marker,
            upload_id_marker: i.upload_id_marker,
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            next_key_marker: last.clone().and_then(|l| l.0),
            next_upload_id_marker: last.and_then(|l| l.1),
            uploads: Some(uploads),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let i = req.input;
        let paths = self.paths(&i.bucket);
        let upload = {
            let mut buckets = self.buckets.lock().await;
            let u = Store::open_upload(&mut buckets, &i.bucket, &i.key, &i.upload_id)?;
            if u.completing {
                return Err(s3_error!(OperationAborted, "The upload is being completed and cannot be aborted now."));
            }
            tokio::fs::remove_dir_all(paths.upload(&i.upload_id)).await.map_err(internal)?;
            buckets.get_mut(&i.bucket).and_then(|b| b.uploads.remove(&i.upload_id))
        };
        for p in upload.iter().flat_map(|u| u.parts.values()) {
            disk::remove(&paths.data(&p.file)).await;
        }
        Ok(S3Response::with_status(AbortMultipartUploadOutput::default(), http::StatusCode::NO_CONTENT))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let location = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|host| format!("http://{host}/{}/{}", req.input.bucket, req.input.key));
        let i = req.input;
        let paths = self.paths(&i.bucket);
        let listed: Vec<CompletedPart> = i.multipart_upload.and_then(|m| m.parts).unwrap_or_default();
        // The parts as listed, (number, ETag unquoted): what a repeated complete is compared by.
        let listed_pairs: Vec<(i32, String)> =
            listed.iter().map(|p| (p.part_number.unwrap_or(0), listed_etag(p))).collect();
        // Checked and claimed under the lock; nothing changes before every check passed.
        let (meta, chosen) = {
            let mut buckets = self.buckets.lock().await;
            let b = buckets.get_mut(&i.bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
            let current = b.objects.get(&i.key).cloned();
            let current_etag = current.as_ref().map(|o| o.etag.clone());
            let u = match b.uploads.get_mut(&i.upload_id) {
                Some(u) if u.meta.key == i.key => u,
                _ => return Err(no_such_upload()),
            };
            if let Some(done) = &u.completed {
                // A repeated complete with the same parts: the first one's result,
                // while that object is still there.
                if let Some(object) = current.filter(|o| o.etag == done.etag && listed_pairs == done.parts) {
                    return Ok(S3Response::new(complete_output(&i.bucket, &object, location)));
                }
                return Err(no_such_upload());
            }
            if u.completing {
                return Err(s3_error!(OperationAborted, "A complete of this upload is already running."));
            }
            check_write_conditions(current_etag.as_deref(), i.if_match.as_ref(), i.if_none_match.as_ref())?;
            let chosen = check_complete(u, &listed)?;
            if let Some(n) = i.mpu_object_size {
                let total: u64 = chosen.iter().map(|p| p.size).sum();
                if n < 0 || n as u64 != total {
                    return Err(s3_error!(
                        InvalidRequest,
                        "The provided x-amz-mp-object-size header ({n}) does not match the size of the parts ({total})."
                    ));
                }
            }
            u.completing = true;
            (u.meta.clone(), chosen)
        };
        let result = self
            .assemble(
                &paths,
                &i.key,
                &meta,
                &chosen,
                &given_checksums(
                    i.checksum_crc32,
                    i.checksum_crc32c,
                    i.checksum_crc64nvme,
                    i.checksum_sha1,
                    i.checksum_sha256,
                ),
            )
            .await;
        let object = match result {
            Ok(o) => o,
            Err(e) => {
                let mut buckets = self.buckets.lock().await;
                if let Some(u) = buckets.get_mut(&i.bucket).and_then(|b| b.uploads.get_mut(&i.upload_id)) {
                    u.completing = false;
                }
                return Err(e);
            }
        };
        let done = CompletedMeta { key: i.key.clone(), etag: object.etag.clone(), parts: listed_pairs };
        let out = complete_output(&i.bucket, &object, location);
        // The commit: the completed marker, then the object (one rename each).
        // Should either fail, the upload is left as it was: open, its parts whole.
        let marker = paths.upload(&i.upload_id).join("completed.json");
        let committed = match disk::write_json(&marker, &done).await.map_err(internal) {
            Ok(()) => self.commit_object(&i.bucket, object).await,
            Err(e) => Err(e),
        };
        if let Err(e) = committed {
            disk::remove(&marker).await;
            let mut buckets = self.buckets.lock().await;
            if let Some(u) = buckets.get_mut(&i.bucket).and_then(|b| b.uploads.get_mut(&i.upload_id)) {
                u.completing = false;
            }
            return Err(e);
        }
        let unused: Vec<PartMeta> = {
            let mut buckets = self.buckets.lock().await;
            match buckets.get_mut(&i.bucket).and_then(|b| b.uploads.get_mut(&i.upload_id)) {
                Some(u) => {
                    u.completed = Some(done);
                    u.completing = false;
                    let parts = std::mem::take(&mut u.parts);
                    parts.into_values().filter(|p| !chosen.iter().any(|c| c.file == p.file)).collect()
                }
                None => Vec::new(),
            }
        };
        for p in &chosen {
            disk::remove(&paths.part(&i.upload_id, p.number)).await;
        }
        for p in unused {
            disk::remove(&paths.part(&i.upload_id, p.number)).await;
            disk::remove(&paths.data(&p.file)).await;
        }
        Ok(S3Response::new(out))
    }
}

/// The answer of a complete that made (or, repeated, had made) `object`.
fn complete_output(bucket: &str, object: &ObjectMeta, location: Option<String>) -> CompleteMultipartUploadOutput {
    let c = &object.checksums;
    CompleteMultipartUploadOutput {
        bucket: Some(bucket.to_owned()),
        key: Some(object.key.clone()),
        e_tag: Some(quoted(&object.etag)),
        location,
        checksum_crc32: c.crc32.clone(),
        checksum_crc32c: c.crc32c.clone(),
        checksum_crc64nvme: c.crc64nvme.clone(),
        checksum_sha1: c.sha1.clone(),
        checksum_sha256: c.sha256.clone(),
        checksum_type: checksum_type_of(object),
        ..Default::default()
    }
}

/// If-Match / If-None-Match of a write (CompleteMultipartUpload) against the
/// object now at the key (`current`, its ETag): S3 answers 404 `NoSuchKey` to
/// an If-Match on a missing object, 412 `PreconditionFailed` to a condition
/// that does not hold.
fn check_write_conditions(
    current: Option<&str>,
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> S3Result<()> {
    let failed = || s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold");
    if let Some(cond) = if_match {
        let Some(etag) = current else { return Err(s3_error!(NoSuchKey, "The specified key does not exist.")) };
        if let ETagCondition::ETag(want) = cond
            && !want.strong_cmp(&quoted(etag))
        {
            return Err(failed());
        }
    }
    if let (Some(cond), Some(etag)) = (if_none_match, current) {
        let hit = match cond {
            ETagCondition::Any => true,
            ETagCondition::ETag(e) => e.weak_cmp(&quoted(etag)),
        };
        if hit {
            return Err(failed());
        }
    }
    Ok(())
}

/// S3's checks of a CompleteMultipartUpload, in its order: the listed parts
/// ascending (`InvalidPartOrder`), each stored with that ETag and checksum
/// (`InvalidPart`), each but the last at least 5 MiB (`EntityTooSmall`).
fn check_complete(u: &Upload, listed: &[CompletedPart]) -> S3Result<Vec<PartMeta>> {
    if listed.is_empty() {
        return Err(s3_error!(
            MalformedXML,
            "The XML you provided was not well-formed or did not validate against our published schema: list at least one part."
        ));
    }
    let mut previous = 0;
    let mut chosen: Vec<PartMeta> = Vec::with_capacity(listed.len());
    for (index, part) in listed.iter().enumerate() {
        let number = part.part_number.ok_or_else(|| s3_error!(MalformedXML, "a part has no PartNumber"))?;
        if number < previous {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. Parts must be ordered by part number."
            ));
        }
        previous = number;
        // A part listed more than once (it was uploaded again): its last entry counts.
        if listed.get(index + 1).and_then(|next| next.part_number) == Some(number) {
            continue;
        }
        let stored = u.parts.get(&number).ok_or_else(|| {
            s3_error!(
                InvalidPart,
                "One or more of the specified parts could not be found. Part {number} was never uploaded."
            )
        })?;
        let given = listed_etag(part);
        if given != stored.etag {
            return Err(s3_error!(
                InvalidPart,
                "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag. Part {number}: given {given:?}, stored \"{}\".",
                stored.etag
            ));
        }
        let given_sums = given_checksums(
            part.checksum_crc32.clone(),
            part.checksum_crc32c.clone(),
            part.checksum_crc64nvme.clone(),
            part.checksum_sha1.clone(),
            part.checksum_sha256.clone(),
        );
        for alg in disk::ALGORITHMS {
            if let Some(want) = given_sums.get(alg)
                && stored.checksums.get(alg) != Some(want)
            {
                return Err(s3_error!(
                    InvalidPart,
                    "The {} checksum given for part {number} does not match the stored part's.",
                    alg.to_ascii_lowercase()
                ));
            }
        }
        chosen.push(stored.clone());
    }
    for (index, p) in chosen.iter().enumerate() {
        if index + 1 < chosen.len() && p.size < MIN_PART_SIZE {
            return Err(s3_error!(
                EntityTooSmall,
                "Your proposed upload is smaller than the minimum allowed size. Part {} is {} bytes; every part but the last must be at least 5 MiB.",
                p.number,
                p.size
            ));
        }
    }
    Ok(chosen)
}

impl Store {
    /// Makes `written` part `number` of the upload (one rename); the part it
    /// replaces is removed. A refusal removes the new data file.
    async fn commit_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: i32,
        written: &Written,
    ) -> S3Result<()> {
        let paths = self.paths(bucket);
        let part = PartMeta {
            number,
            size: written.size,
            etag: written.md5.clone(),
            modified_ms: disk::now_ms(),
            checksums: written.checksums.clone(),
            file: written.file.clone(),
        };
        let replaced = {
            let mut buckets = self.buckets.lock().await;
            let stored = match Store::open_upload(&mut buckets, bucket, key, upload_id) {
                Ok(u) if u.completing => {
                    Err(s3_error!(OperationAborted, "The upload is being completed: this part was not stored."))
                }
                Ok(u) => match disk::write_json(&paths.part(upload_id, number), &part).await {
                    Ok(()) => Ok(u.parts.insert(number, part)),
                    Err(e) => Err(internal(e)),
                },
                Err(e) => Err(e),
            };
            drop(buckets);
            match stored {
                Ok(replaced) => replaced,
                Err(e) => {
                    disk::remove(&paths.data(&written.file)).await;
                    return Err(e);
                }
            }
        };
        if let Some(old) = replaced {
            disk::remove(&paths.data(&old.file)).await;
        }
        Ok(())
    }

    /// The object a complete makes of `parts`: its ETag, its checksums (composite
    /// from the parts', or full-object by reading it), its segments.
    async fn assemble(
        &self,
        paths: &Paths,
        key: &str,
        meta: &UploadMeta,
        parts: &[PartMeta],
        given: &Checksums,
    ) -> S3Result<ObjectMeta> {
        let refs: Vec<&PartMeta> = parts.iter().collect();
        let size: u64 = parts.iter().map(|p| p.size).sum();
        let segments: Vec<Segment> = parts.iter().map(|p| Segment { file: p.file.clone(), size: p.size }).collect();
        let mut checksums = Checksums::default();
        if let (Some(alg), Some(kind)) = (&meta.checksum_algorithm, &meta.checksum_type) {
            if kind == "FULL_OBJECT" {
                let wanted = Wanted {
                    algorithms: disk::ALGORITHMS.into_iter().filter(|a| a == alg).collect(),
                    ..Default::default()
                };
                let mut h = wanted.hasher();
                let mut body = Box::pin(read_segments(paths.clone(), segments.clone(), 0, size));
                while let Some(chunk) = body.next().await {
                    h.update(&chunk.map_err(internal)?);
                }
                checksums = from_dto(h.finalize());
            } else if let Some(v) = composite_checksum(alg, &refs) {
                checksums.set(alg, v);
            }
            if let (Some(want), Some(got)) = (given.get(alg), checksums.get(alg))
                && want.trim() != got
            {
                return Err(s3_error!(
                    BadDigest,
                    "The {} you specified for the object did not match the calculated checksum.",
                    alg.to_ascii_lowercase()
                ));
            }
        }
        Ok(ObjectMeta {
            key: key.to_owned(),
            size,
            etag: multipart_etag(&refs),
            modified_ms: disk::now_ms(),
            headers: meta.headers.clone(),
            checksums,
            checksum_type: meta.checksum_type.clone(),
            segments,
            parts_count: Some(parts.len() as u32),
            parts: parts
                .iter()
                .map(|p| ObjectPartMeta { number: p.number, size: p.size, checksums: p.checksums.clone() })
                .collect(),
        })
    }

    async fn delete_key(&self, bucket: &str, key: &str) -> S3Result<()> {
        let paths = self.paths(bucket);
        let removed = {
            let mut buckets = self.buckets.lock().await;
            let b = buckets.get_mut(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
            if !b.objects.contains_key(key) {
                return Ok(());
            }
            tokio::fs::remove_file(paths.object(key)).await.map_err(internal)?;
            b.objects.remove(key)
        };
        if let Some(old) = removed {
            self.remove_segments(&paths, &old.segments).await;
        }
        Ok(())
    }
}
