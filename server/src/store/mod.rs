//! The embedded S3-compatible store: s3s (HTTP, SigV4, XML) over a storage
//! layer of our own ([`disk`]), with S3's semantics where an upload touches
//! them (DESIGN.md §5):
//!
//! - every key S3 accepts works and stays distinct (keys are hashed, never paths);
//! - a digest the client sends (`Content-MD5`, `x-amz-checksum-*`) is checked
//!   before anything is stored; a refused request changes nothing; one
//!   `x-amz-checksum-*` header at most, and a part's of its upload's
//!   algorithm (`InvalidRequest`, "Checksum Type mismatch", as S3 answers);
//! - an upload id belongs to its bucket and key (any other key: `NoSuchUpload`);
//! - CompleteMultipartUpload checks order (`InvalidPartOrder`), ETags and
//!   checksums (`InvalidPart`) and sizes (`EntityTooSmall`) before it changes
//!   anything; gaps in part numbers are allowed, as in S3, but for an upload
//!   with checksums (S3: consecutive from 1, else `InvalidPartOrder`); a repeated complete
//!   answers the first one's result;
//! - composite and full-object checksums for multipart uploads
//!   (`x-amz-checksum-algorithm`, `x-amz-checksum-type`);
//! - ListParts and ListObjects page (`max-parts`, markers, continuation tokens);
//! - versioning with delete markers ([`disk::Versions`]: every version of a
//!   key in one file), lifecycle rules that are applied ([`lifecycle`]),
//!   Object Lock ([`lock`]), tags, ACLs for unsigned requests ([`acl`]),
//!   SSE-C ([`sse`]);
//! - DeleteBucket, CopyObject (hard links: data files are immutable).
//!
//! The guards in front of it (no unsigned `x-amz-*` header on a presigned
//! request; a refused request's body is read before the answer goes out) are
//! in [`guard`].

pub mod acl;
pub mod disk;
pub mod guard;
pub mod lifecycle;
pub mod lock;
pub mod sse;

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
    Bucket, BucketMeta, Checksums, CompletedMeta, Headers, ObjectMeta, ObjectPartMeta, PartMeta, Paths, Segment,
    Upload, UploadMeta, current,
};

/// S3 requires every part but the last to be at least this large.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// The largest single PUT or part S3 takes.
pub const MAX_PUT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// S3's key limit.
pub const MAX_KEY_BYTES: usize = 1024;

/// The SSE-C key of a request's `sse_customer_*` fields (the input types share the names).
macro_rules! sse_key {
    ($i:expr) => {
        sse::from_headers(
            $i.sse_customer_algorithm.as_deref(),
            $i.sse_customer_key.as_deref(),
            $i.sse_customer_key_md5.as_deref(),
        )
    };
}

/// The Object Lock a write asks for (`object_lock_*` fields), checked against its bucket.
macro_rules! lock_of {
    ($store:expr, $i:expr) => {
        lock::requested(
            &$store.bucket_meta(&$i.bucket).await?,
            $i.object_lock_mode.as_ref().map(ObjectLockMode::as_str),
            $i.object_lock_retain_until_date.as_ref(),
            $i.object_lock_legal_hold_status.as_ref().map(ObjectLockLegalHoldStatus::as_str),
        )
    };
}

/// The `x-amz-grant-*` fields of a request.
macro_rules! grant_headers {
    ($i:expr, $write:expr) => {
        acl::GrantHeaders {
            read: $i.grant_read.as_deref(),
            write: $write,
            read_acp: $i.grant_read_acp.as_deref(),
            write_acp: $i.grant_write_acp.as_deref(),
            full_control: $i.grant_full_control.as_deref(),
        }
    };
}

/// The ACL an object write asks for (`x-amz-acl`, `x-amz-grant-*`).
macro_rules! object_acl {
    ($i:expr) => {
        acl::from_request($i.acl.as_ref().map(ObjectCannedACL::as_str), grant_headers!($i, None), false)
    };
}

/// The embedded store (a clone is another handle on the same store).
#[derive(Clone)]
pub struct Store {
    root: PathBuf,
    buckets: std::sync::Arc<Mutex<BTreeMap<String, Bucket>>>,
    /// How long a PUT's body may send nothing ([`BODY_IDLE`] unless set).
    body_idle: std::time::Duration,
}

/// How long a PUT's body may send nothing before it is refused (S3 answers
/// `RequestTimeout` to a connection idle for about 20 seconds): a client
/// that sends a few bytes and then nothing does not hold a connection and
/// a data file for ever.
pub const BODY_IDLE: std::time::Duration = std::time::Duration::from_secs(20);

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

fn copy_sse_c() -> S3Error {
    s3_error!(NotImplemented, "Copying objects stored with SSE-C (customer keys) is not supported by this store.")
}

/// Version ids this store issues (32 hex digits) and `null`.
fn check_version_id(v: &str) -> S3Result<()> {
    if v == "null" || disk::valid_upload_id(v) {
        Ok(())
    } else {
        Err(s3_error!(InvalidArgument, "Invalid version id specified"))
    }
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

/// S3's rules for the `x-amz-checksum-*` headers of a PUT of an object or a
/// part, judged before the body is read: one at most; with
/// `x-amz-sdk-checksum-algorithm` (`sdk`), of that algorithm; and a part's
/// (`upload`: its upload's algorithm, `None` inside when it was created
/// without one) of its upload's algorithm, none taken by an upload created
/// without one. (A part without a checksum is taken: the store computes the
/// upload's.)
fn check_checksum_headers(given: &Checksums, sdk: Option<&str>, upload: Option<Option<&str>>) -> S3Result<()> {
    let sent: Vec<&str> = disk::ALGORITHMS.into_iter().filter(|a| given.get(a).is_some()).collect();
    let actual = match sent.as_slice() {
        [] => return Ok(()),
        [one] => *one,
        _ => {
            return Err(s3_error!(
                InvalidRequest,
                "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
            ));
        }
    };
    if sdk.is_some_and(|sdk| !sdk.eq_ignore_ascii_case(actual)) {
        return Err(s3_error!(InvalidRequest, "Value for x-amz-sdk-checksum-algorithm header is invalid."));
    }
    if let Some(upload) = upload
        && !upload.is_some_and(|u| u.eq_ignore_ascii_case(actual))
    {
        return Err(s3_error!(
            InvalidRequest,
            "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
            upload.map_or_else(|| "null".to_owned(), str::to_ascii_lowercase),
            actual.to_ascii_lowercase()
        ));
    }
    Ok(())
}

/// The `x-amz-sdk-checksum-algorithm` header (which s3s does not read) of a PUT.
fn sdk_checksum_algorithm(headers: &http::HeaderMap) -> Option<String> {
    headers.get("x-amz-sdk-checksum-algorithm").map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
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
/// What a delete removed or made.
#[derive(Debug, Clone, Default)]
struct Deleted {
    /// The version deleted, or the delete marker's id.
    version_id: Option<String>,
    /// A delete marker was made or removed.
    delete_marker: bool,
}

struct Written {
    /// The ETag it gets: the MD5 of its bytes, or for SSE-C one keyed by the
    /// customer's key (S3's ETag of such an object reveals nothing of the
    /// plaintext, and the same bytes sent again get the same ETag).
    etag: String,
    file: String,
    iv: Option<String>,
    size: u64,
    checksums: Checksums,
}

impl Store {
    /// Opens (and creates) a store rooted at `root`.
    pub async fn open(root: &Path) -> anyhow::Result<Self> {
        tokio::fs::create_dir_all(root).await?;
        let root = root.canonicalize()?;
        let buckets = disk::load(&root).await?;
        Ok(Self { root, buckets: std::sync::Arc::new(Mutex::new(buckets)), body_idle: BODY_IDLE })
    }

    /// The same store, waiting at most `idle` for the next bytes of a body.
    pub fn with_body_idle(self, idle: std::time::Duration) -> Self {
        Self { body_idle: idle, ..self }
    }

    /// Creates the bucket if it is missing.
    pub async fn ensure_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        anyhow::ensure!(disk::valid_bucket_name(bucket), "{bucket:?} is not a valid S3 bucket name");
        let mut buckets = self.buckets.lock().await;
        if !buckets.contains_key(bucket) {
            let meta = BucketMeta { created_ms: disk::now_ms(), ..Default::default() };
            disk::create_bucket(&Paths::new(&self.root, bucket), &meta).await?;
            buckets.insert(bucket.to_owned(), Bucket { meta, ..Default::default() });
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
        key: Option<&sse::Key>,
    ) -> S3Result<Written> {
        if content_length.is_some_and(|n| n as u64 > MAX_PUT_SIZE) {
            return Err(s3_error!(
                EntityTooLarge,
                "Your proposed upload exceeds the maximum allowed size of 5 GiB per PUT or part."
            ));
        }
        let file = disk::random_name();
        let path = self.paths(bucket).data(&file);
        let iv = key.map(|_| sse::new_iv());
        let cipher = match (key, &iv) {
            (Some(k), Some(iv)) => Some(k.cipher(iv, 0).map_err(internal)?),
            _ => None,
        };
        let result = write_stream(&path, body, wanted, cipher, self.body_idle).await;
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
                let etag = key.map_or_else(|| md5.clone(), |k| k.keyed_etag(&md5));
                Ok(Written { etag, file, iv, size, checksums })
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
        (bucket, key, version_id): (&str, &str, Option<&str>),
        if_match: Option<&ETagCondition>,
        if_none_match: Option<&ETagCondition>,
        if_modified_since: Option<&Timestamp>,
        if_unmodified_since: Option<&Timestamp>,
    ) -> S3Result<ObjectMeta> {
        let src = self.version(bucket, key, version_id).await?;
        check_copy_source_conditions(&src, if_match, if_none_match, if_modified_since, if_unmodified_since)?;
        Ok(src)
    }

    /// The object a plain read of the key sees.
    async fn object(&self, bucket: &str, key: &str) -> S3Result<ObjectMeta> {
        self.version(bucket, key, None).await
    }

    /// Version `version_id` of the key (`None`: the current one). A delete
    /// marker reads as `NoSuchKey` when current, `MethodNotAllowed` when named.
    async fn version(&self, bucket: &str, key: &str, version_id: Option<&str>) -> S3Result<ObjectMeta> {
        let buckets = self.buckets.lock().await;
        let b = buckets.get(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        let versions = b.objects.get(key).map_or(&[][..], Vec::as_slice);
        let Some(v) = version_id else {
            return current(versions).cloned().ok_or_else(|| s3_error!(NoSuchKey, "The specified key does not exist."));
        };
        check_version_id(v)?;
        match versions.iter().find(|m| m.version_name() == v) {
            None => Err(s3_error!(NoSuchVersion, "The specified version does not exist.")),
            Some(m) if m.delete_marker => {
                Err(s3_error!(MethodNotAllowed, "The specified method is not allowed against a delete marker."))
            }
            Some(m) => Ok(m.clone()),
        }
    }

    /// A bucket's settings.
    async fn bucket_meta(&self, bucket: &str) -> S3Result<BucketMeta> {
        let buckets = self.buckets.lock().await;
        Ok(buckets.get(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?.meta.clone())
    }

    /// The bucket's versioning state (`Enabled`, `Suspended`, or never set).
    async fn versioning(&self, bucket: &str) -> S3Result<Option<String>> {
        let buckets = self.buckets.lock().await;
        Ok(buckets.get(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?.meta.versioning.clone())
    }

    /// Makes `meta` the newest version of its key (one rename): a new version
    /// in a versioned bucket, else the `null` version, whose data files (of
    /// the object it replaced) are then removed. Returns the new version's id.
    async fn commit_object(&self, bucket: &str, mut meta: ObjectMeta) -> S3Result<Option<String>> {
        let paths = self.paths(bucket);
        let mut buckets = self.buckets.lock().await;
        let b = buckets.get_mut(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        meta.version_id = (b.meta.versioning.as_deref() == Some("Enabled")).then(disk::random_name);
        meta.lock = lock::with_default(&b.meta, std::mem::take(&mut meta.lock), disk::now_ms());
        let versions = b.objects.get(&meta.key).cloned().unwrap_or_default();
        let (replaced, mut kept): (Vec<_>, Vec<_>) = if meta.version_id.is_none() {
            versions.into_iter().partition(|m| m.version_id.is_none())
        } else {
            (Vec::new(), versions)
        };
        let (key, id) = (meta.key.clone(), meta.version_id.clone());
        kept.insert(0, meta);
        set_versions(b, &paths, &key, kept).await?;
        drop(buckets);
        for old in replaced {
            self.remove_segments(&paths, &old.segments).await;
        }
        Ok(id)
    }

    /// Aborts an open upload: its folder goes, then its parts' data files.
    async fn abort_upload(&self, bucket: &str, key: &str, id: &str) -> S3Result<()> {
        let paths = self.paths(bucket);
        let upload = {
            let mut buckets = self.buckets.lock().await;
            let u = Store::open_upload(&mut buckets, bucket, key, id)?;
            if u.completing {
                return Err(s3_error!(OperationAborted, "The upload is being completed and cannot be aborted now."));
            }
            tokio::fs::remove_dir_all(paths.upload(id)).await.map_err(internal)?;
            buckets.get_mut(bucket).and_then(|b| b.uploads.remove(id))
        };
        for p in upload.iter().flat_map(|u| u.parts.values()) {
            disk::remove(&paths.data(&p.file)).await;
        }
        Ok(())
    }

    /// A version of a key in a bucket with Object Lock (else `InvalidRequest`).
    async fn locked_version(&self, bucket: &str, key: &str, version_id: Option<&str>) -> S3Result<ObjectMeta> {
        if self.bucket_meta(bucket).await?.object_lock.is_none() {
            return Err(s3_error!(InvalidRequest, "Bucket is missing Object Lock Configuration"));
        }
        self.version(bucket, key, version_id).await
    }

    /// Changes a bucket's settings (one rename of its marker file).
    async fn set_bucket(&self, bucket: &str, change: impl FnOnce(&mut BucketMeta)) -> S3Result<()> {
        let paths = self.paths(bucket);
        let mut buckets = self.buckets.lock().await;
        let b = buckets.get_mut(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        let mut meta = b.meta.clone();
        change(&mut meta);
        disk::write_json(&paths.marker(), &meta).await.map_err(internal)?;
        b.meta = meta;
        Ok(())
    }

    /// Changes one version in place (its tags): one rename.
    async fn update_version(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        change: impl FnOnce(&mut ObjectMeta),
    ) -> S3Result<ObjectMeta> {
        if let Some(v) = version_id {
            check_version_id(v)?;
        }
        let paths = self.paths(bucket);
        let mut buckets = self.buckets.lock().await;
        let b = buckets.get_mut(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        let mut versions = b.objects.get(key).cloned().unwrap_or_default();
        let index = match version_id {
            None => (current(&versions).is_some()).then_some(0),
            Some(v) => versions.iter().position(|m| m.version_name() == v && !m.delete_marker),
        };
        let Some(index) = index else {
            return Err(match version_id {
                None => s3_error!(NoSuchKey, "The specified key does not exist."),
                Some(_) => s3_error!(NoSuchVersion, "The specified version does not exist."),
            });
        };
        change(&mut versions[index]);
        let changed = versions[index].clone();
        set_versions(b, &paths, key, versions).await?;
        Ok(changed)
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
async fn write_stream(
    path: &Path,
    body: Option<StreamingBlob>,
    wanted: &Wanted,
    mut cipher: Option<sse::Stream>,
    idle: std::time::Duration,
) -> S3Result<(u64, String, Checksums)> {
    let mut out = tokio::fs::File::create(path).await.map_err(internal)?;
    let mut md5 = s3s::crypto::Md5::new();
    let mut hasher = wanted.hasher();
    let mut size = 0u64;
    if let Some(mut body) = body {
        let idle_out = || {
            s3_error!(
                RequestTimeout,
                "Your socket connection to the server was not read from or written to within the timeout period. \
                 Idle connections will be closed."
            )
        };
        while let Some(chunk) = tokio::time::timeout(idle, body.next()).await.map_err(|_| idle_out())? {
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
            match &mut cipher {
                Some(c) => {
                    let mut sealed = chunk.to_vec();
                    c.apply(&mut sealed);
                    out.write_all(&sealed).await.map_err(internal)?;
                }
                None => out.write_all(&chunk).await.map_err(internal)?,
            }
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
    key: Option<sse::Key>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static {
    type Open = (tokio::fs::File, u64, Option<sse::Stream>);
    futures::stream::try_unfold(
        (paths, segments, 0usize, 0u64, start, None::<Open>),
        move |(paths, segments, mut index, mut seg_start, mut pos, mut open)| {
            let key = key.clone();
            async move {
                loop {
                    if pos >= end {
                        return Ok(None);
                    }
                    if let Some((file, left, cipher)) = &mut open {
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
                            if let Some(c) = cipher {
                                c.apply(&mut buf);
                            }
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
                    let cipher = match (&seg.iv, &key) {
                        (None, _) => None,
                        (Some(iv), Some(k)) => Some(k.cipher(iv, offset)?),
                        (Some(_), None) => {
                            return Err(std::io::Error::other("an encrypted data file read without its key"));
                        }
                    };
                    open = Some((file, left, cipher));
                }
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

/// The full-object CRC of `parts` put end to end, combined from the CRCs the
/// store computed of each part as it arrived (as S3 does): complete reads
/// nothing again, however large the object. `None` for an algorithm that
/// does not combine (SHA) or a part without its checksum.
fn combined_checksum(alg: &str, parts: &[&PartMeta]) -> Option<String> {
    use crc_fast::CrcAlgorithm;
    let (algorithm, width) = match alg {
        "CRC32" => (CrcAlgorithm::Crc32IsoHdlc, 4),
        "CRC32C" => (CrcAlgorithm::Crc32Iscsi, 4),
        "CRC64NVME" => (CrcAlgorithm::Crc64Nvme, 8),
        _ => return None,
    };
    let mut whole: Option<u64> = None;
    for p in parts {
        let raw = base64::engine::general_purpose::STANDARD.decode(p.checksums.get(alg)?.trim()).ok()?;
        if raw.len() != width {
            return None;
        }
        let crc = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        whole = Some(match whole {
            None => crc,
            Some(acc) if p.size == 0 => acc,
            Some(acc) => crc_fast::checksum_combine(algorithm, acc, crc, p.size),
        });
    }
    let bytes = whole?.to_be_bytes();
    Some(base64::engine::general_purpose::STANDARD.encode(&bytes[8 - width..]))
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
    // `aws-chunked` names the transfer framing, not the object's encoding: S3 does not keep it.
    let content_encoding = content_encoding
        .map(|e| {
            e.split(',')
                .map(str::trim)
                .filter(|c| !c.eq_ignore_ascii_case("aws-chunked"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|e| !e.is_empty());
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
fn copy_source_object(source: &CopySource) -> S3Result<(&str, &str, Option<&str>)> {
    match source {
        CopySource::Bucket { bucket, key, version_id } => Ok((bucket, key, version_id.as_deref())),
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

/// Object tags from an `x-amz-tagging` header (`k1=v1&k2=v2`), checked as S3
/// does: at most 10, keys of 1–128 and values of 0–256 characters, no key twice.
fn parse_tagging(header: Option<&str>) -> S3Result<Vec<(String, String)>> {
    let tags: Vec<(String, String)> = header
        .map(|h| url::form_urlencoded::parse(h.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default();
    check_tags(&tags)?;
    Ok(tags)
}

fn check_tags(tags: &[(String, String)]) -> S3Result<()> {
    if tags.len() > 10 {
        return Err(s3_error!(InvalidTag, "Object tags cannot be greater than 10"));
    }
    for (n, (k, v)) in tags.iter().enumerate() {
        if k.is_empty() || k.chars().count() > 128 || v.chars().count() > 256 {
            return Err(s3_error!(
                InvalidTag,
                "A tag's key must be 1 to 128 characters and its value at most 256 characters."
            ));
        }
        if tags[..n].iter().any(|(other, _)| other == k) {
            return Err(s3_error!(InvalidTag, "Cannot provide multiple Tags with the same key"));
        }
    }
    Ok(())
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

/// Makes `versions` the key's versions: on disk (one rename, or the file
/// removed when none is left), then in memory.
async fn set_versions(b: &mut Bucket, paths: &Paths, key: &str, versions: disk::Versions) -> S3Result<()> {
    disk::write_versions(paths, key, &versions).await.map_err(internal)?;
    if versions.is_empty() {
        b.objects.remove(key);
    } else {
        b.objects.insert(key.to_owned(), versions);
    }
    Ok(())
}

/// Keys whose newest version is an object (not a delete marker).
fn live_keys(b: &Bucket) -> impl Iterator<Item = &String> {
    b.objects.iter().filter(|(_, v)| current(v).is_some()).map(|(k, _)| k)
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

pub(crate) fn owner() -> Owner {
    Owner { display_name: Some("s3mp".into()), id: Some("s3mp".into()) }
}

fn max_keys(n: Option<i32>) -> usize {
    n.map(|n| n.clamp(0, 1000) as usize).unwrap_or(1000)
}

#[async_trait::async_trait]
impl S3 for Store {
    async fn create_bucket(&self, req: S3Request<CreateBucketInput>) -> S3Result<S3Response<CreateBucketOutput>> {
        let name = req.input.bucket.clone();
        if !disk::valid_bucket_name(&name) {
            return Err(s3_error!(InvalidBucketName));
        }
        let mut buckets = self.buckets.lock().await;
        if buckets.contains_key(&name) {
            return Err(s3_error!(BucketAlreadyOwnedByYou));
        }
        let mut meta = BucketMeta { created_ms: disk::now_ms(), ..Default::default() };
        let i = &req.input;
        meta.acl = acl::from_request(
            i.acl.as_ref().map(BucketCannedACL::as_str),
            grant_headers!(i, i.grant_write.as_deref()),
            true,
        )?;
        if req.input.object_lock_enabled_for_bucket == Some(true) {
            meta.object_lock = Some(disk::LockConfig::default());
            meta.versioning = Some(BucketVersioningStatus::ENABLED.to_owned());
        }
        disk::create_bucket(&self.paths(&name), &meta).await.map_err(internal)?;
        buckets.insert(name, Bucket { meta, ..Default::default() });
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
                creation_date: Some(timestamp(b.meta.created_ms)),
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
            list_keys(live_keys(b), &prefix, i.delimiter.as_deref(), after.as_deref(), max);
        let contents: Vec<Object> = keys.iter().filter_map(|k| current(&b.objects[*k]).map(object_entry)).collect();
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
            list_keys(live_keys(b), &prefix, i.delimiter.as_deref(), i.marker.as_deref(), max);
        let contents: Vec<Object> = keys.iter().filter_map(|k| current(&b.objects[*k]).map(object_entry)).collect();
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
        let i = req.input;
        let buckets = self.buckets.lock().await;
        let b = buckets.get(&i.bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        let prefix = i.prefix.clone().unwrap_or_default();
        let max = max_keys(i.max_keys);
        let key_marker = i.key_marker.clone().filter(|k| !k.is_empty());
        let version_marker = i.version_id_marker.clone().filter(|v| !v.is_empty());
        let delimiter = i.delimiter.as_deref().filter(|d| !d.is_empty());
        let (mut versions, mut markers, mut prefixes) = (Vec::new(), Vec::new(), Vec::<String>::new());
        let (mut count, mut truncated) = (0, false);
        let (mut next_key, mut next_version) = (None, None);
        'keys: for (key, list) in b.objects.range(prefix.clone()..) {
            if !key.starts_with(&prefix) {
                break;
            }
            // Keys before the marker, and the marker's key itself unless a version marker continues it.
            if let Some(km) = &key_marker
                && (key < km || (key == km && version_marker.is_none()))
            {
                continue;
            }
            let rolled = delimiter
                .and_then(|d| key[prefix.len()..].find(d).map(|n| key[..prefix.len() + n + d.len()].to_owned()));
            if let Some(p) = rolled {
                if prefixes.last() == Some(&p) || key_marker.as_ref().is_some_and(|km| km.starts_with(p.as_str())) {
                    continue;
                }
                if count >= max {
                    truncated = true;
                    break;
                }
                count += 1;
                (next_key, next_version) = (Some(p.clone()), None);
                prefixes.push(p);
                continue;
            }
            let mut skipping = key_marker.as_ref() == Some(key) && version_marker.is_some();
            for (n, m) in list.iter().enumerate() {
                if skipping {
                    skipping = Some(m.version_name()) != version_marker.as_deref();
                    continue;
                }
                if count >= max {
                    truncated = true;
                    break 'keys;
                }
                count += 1;
                (next_key, next_version) = (Some(key.clone()), Some(m.version_name().to_owned()));
                if m.delete_marker {
                    markers.push(DeleteMarkerEntry {
                        key: Some(key.clone()),
                        version_id: Some(m.version_name().to_owned()),
                        is_latest: Some(n == 0),
                        last_modified: Some(timestamp(m.modified_ms)),
                        owner: Some(owner()),
                    });
                } else {
                    versions.push(ObjectVersion {
                        key: Some(key.clone()),
                        version_id: Some(m.version_name().to_owned()),
                        is_latest: Some(n == 0),
                        size: Some(m.size as i64),
                        e_tag: Some(quoted(&m.etag)),
                        last_modified: Some(timestamp(m.modified_ms)),
                        storage_class: Some(ObjectVersionStorageClass::from_static(
                            ObjectVersionStorageClass::STANDARD,
                        )),
                        checksum_type: checksum_type_of(m),
                        owner: Some(owner()),
                        ..Default::default()
                    });
                }
            }
        }
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(i.bucket),
            prefix: Some(prefix),
            delimiter: i.delimiter,
            max_keys: Some(max as i32),
            key_marker: i.key_marker,
            version_id_marker: i.version_id_marker,
            is_truncated: Some(truncated),
            next_key_marker: if truncated { next_key } else { None },
            next_version_id_marker: if truncated { next_version } else { None },
            versions: Some(versions),
            delete_markers: Some(markers),
            common_prefixes: Some(prefixes.into_iter().map(|p| CommonPrefix { prefix: Some(p) }).collect()),
            encoding_type: i.encoding_type,
            ..Default::default()
        }))
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let sdk = sdk_checksum_algorithm(&req.headers);
        let i = req.input;
        check_key(&i.key)?;
        let lock = lock_of!(self, i)?;
        let given = given_checksums(
            i.checksum_crc32,
            i.checksum_crc32c,
            i.checksum_crc64nvme,
            i.checksum_sha1,
            i.checksum_sha256,
        );
        let alg = i.checksum_algorithm.as_ref().map(|a| a.as_str().to_owned());
        check_checksum_headers(&given, sdk.as_deref().or(alg.as_deref()), None)?;
        let wanted = Wanted::new(i.content_md5.as_deref(), given, &[alg.as_deref()])?;
        let tags = parse_tagging(i.tagging.as_deref())?;
        let acl = object_acl!(i)?;
        // Conditions that can be judged before the body is read.
        if let Some(cond) = &i.if_none_match
            && cond.is_any()
            && self.object(&i.bucket, &i.key).await.is_ok()
        {
            return Err(s3_error!(PreconditionFailed, "At least one of the pre-conditions you specified did not hold"));
        }
        let key = sse_key!(i)?;
        let written = self.write_body(&i.bucket, i.body, i.content_length, &wanted, key.as_ref()).await?;
        let meta = ObjectMeta {
            key: i.key,
            size: written.size,
            etag: written.etag,
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
            segments: vec![Segment { file: written.file, size: written.size, iv: written.iv }],
            parts_count: None,
            parts: Vec::new(),
            version_id: None,
            delete_marker: false,
            tags,
            lock,
            acl,
            sse_c: key.as_ref().map(sse::Key::seal),
        };
        let etag = meta.etag.clone();
        let version_id = self.commit_object(&i.bucket, meta).await?;
        let c = written.checksums;
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(quoted(&etag)),
            version_id,
            sse_customer_algorithm: key.as_ref().map(|_| "AES256".to_owned()),
            sse_customer_key_md5: key.as_ref().map(|k| k.md5().to_owned()),
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
        let meta = self.version(&i.bucket, &i.key, i.version_id.as_deref()).await?;
        let key = sse_key!(i)?;
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
        // After the part number and range checks, as S3 orders them; before any byte is read.
        sse::check_read(meta.sse_c.as_ref(), key.as_ref())?;
        let whole = range.is_none();
        let span = range.clone().unwrap_or(0..meta.size);
        let body = read_segments(self.paths(&i.bucket), meta.segments.clone(), span.start, span.end, key);
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
            tag_count: (!meta.tags.is_empty()).then_some(meta.tags.len() as i32),
            sse_customer_algorithm: meta.sse_c.as_ref().map(|_| "AES256".to_owned()),
            sse_customer_key_md5: meta.sse_c.as_ref().map(|s| s.key_md5.clone()),
            version_id: meta.version_id.clone(),
            object_lock_mode: meta.lock.mode.clone().map(ObjectLockMode::from),
            object_lock_retain_until_date: meta.lock.retain_until_ms.map(|ms| timestamp(ms.max(0) as u64)),
            object_lock_legal_hold_status: meta.lock.legal_hold.then(|| ObjectLockLegalHoldStatus::from_static("ON")),
            ..Default::default()
        }))
    }

    async fn head_object(&self, req: S3Request<HeadObjectInput>) -> S3Result<S3Response<HeadObjectOutput>> {
        let i = req.input;
        let meta = self.version(&i.bucket, &i.key, i.version_id.as_deref()).await?;
        let key = sse_key!(i)?;
        sse::check_read(meta.sse_c.as_ref(), key.as_ref())?;
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
            version_id: meta.version_id.clone(),
            sse_customer_algorithm: meta.sse_c.as_ref().map(|_| "AES256".to_owned()),
            sse_customer_key_md5: meta.sse_c.as_ref().map(|s| s.key_md5.clone()),
            object_lock_mode: meta.lock.mode.clone().map(ObjectLockMode::from),
            object_lock_retain_until_date: meta.lock.retain_until_ms.map(|ms| timestamp(ms.max(0) as u64)),
            object_lock_legal_hold_status: meta.lock.legal_hold.then(|| ObjectLockLegalHoldStatus::from_static("ON")),
            ..Default::default()
        }))
    }

    async fn get_object_attributes(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> S3Result<S3Response<GetObjectAttributesOutput>> {
        let i = req.input;
        let meta = self.version(&i.bucket, &i.key, i.version_id.as_deref()).await?;
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
        let mut resp = S3Response::new(GetObjectAttributesOutput {
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
            version_id: meta.version_id.clone(),
            ..Default::default()
        });
        // S3 writes this ETag unquoted (s3s always quotes): the guard takes the quotes off.
        resp.extensions.insert(guard::UnquoteEtag);
        Ok(resp)
    }

    async fn delete_object(&self, req: S3Request<DeleteObjectInput>) -> S3Result<S3Response<DeleteObjectOutput>> {
        let i = req.input;
        let bypass = i.bypass_governance_retention.unwrap_or(false);
        let d = self.delete_key(&i.bucket, &i.key, i.version_id.as_deref(), bypass).await?;
        Ok(S3Response::with_status(
            DeleteObjectOutput {
                delete_marker: d.delete_marker.then_some(true),
                version_id: d.version_id,
                ..Default::default()
            },
            http::StatusCode::NO_CONTENT,
        ))
    }

    async fn delete_objects(&self, req: S3Request<DeleteObjectsInput>) -> S3Result<S3Response<DeleteObjectsOutput>> {
        let i = req.input;
        let quiet = i.delete.quiet.unwrap_or(false);
        let bypass = i.bypass_governance_retention.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for obj in i.delete.objects {
            match self.delete_key(&i.bucket, &obj.key, obj.version_id.as_deref(), bypass).await {
                Ok(d) => {
                    if !quiet {
                        let named = obj.version_id.is_some();
                        deleted.push(DeletedObject {
                            key: Some(obj.key),
                            delete_marker: d.delete_marker.then_some(true),
                            delete_marker_version_id: if d.delete_marker && !named {
                                d.version_id.clone()
                            } else {
                                None
                            },
                            version_id: if named { d.version_id } else { None },
                        });
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
        let (src_bucket, src_key, src_version) = copy_source_object(&i.copy_source)?;
        let src = self
            .copied_object(
                (src_bucket, src_key, src_version),
                i.copy_source_if_match.as_ref(),
                i.copy_source_if_none_match.as_ref(),
                i.copy_source_if_modified_since.as_ref(),
                i.copy_source_if_unmodified_since.as_ref(),
            )
            .await?;
        if src.sse_c.is_some() || i.sse_customer_algorithm.is_some() || i.copy_source_sse_customer_algorithm.is_some() {
            return Err(copy_sse_c());
        }
        let replace = i.metadata_directive.as_ref().is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        if src_bucket == i.bucket.as_str() && src_key == i.key.as_str() && src_version.is_none() && !replace {
            return Err(s3_error!(
                InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."
            ));
        }
        let lock = lock_of!(self, i)?;
        let (from, to) = (self.paths(src_bucket), self.paths(&i.bucket));
        let mut segments = Vec::new();
        for s in &src.segments {
            let file = disk::random_name();
            if let Err(e) = tokio::fs::hard_link(from.data(&s.file), to.data(&file)).await {
                self.remove_segments(&to, &segments).await;
                return Err(internal(e));
            }
            segments.push(Segment { file, size: s.size, iv: None });
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
        let tags = match i.tagging_directive.as_ref().map(TaggingDirective::as_str) {
            Some(TaggingDirective::REPLACE) => parse_tagging(i.tagging.as_deref())?,
            _ => src.tags.clone(),
        };
        let copied_version = src.version_id.clone();
        let acl = object_acl!(i)?;
        let meta = ObjectMeta { key: i.key, modified_ms: disk::now_ms(), headers, segments, tags, lock, acl, ..src };
        let (etag, modified) = (meta.etag.clone(), meta.modified_ms);
        let version_id = self.commit_object(&i.bucket, meta).await?;
        Ok(S3Response::new(CopyObjectOutput {
            version_id,
            copy_source_version_id: copied_version,
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(quoted(&etag)),
                last_modified: Some(timestamp(modified)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    async fn get_bucket_versioning(
        &self,
        req: S3Request<GetBucketVersioningInput>,
    ) -> S3Result<S3Response<GetBucketVersioningOutput>> {
        let state = self.versioning(&req.input.bucket).await?;
        Ok(S3Response::new(GetBucketVersioningOutput {
            status: state.map(BucketVersioningStatus::from),
            ..Default::default()
        }))
    }

    async fn put_bucket_versioning(
        &self,
        req: S3Request<PutBucketVersioningInput>,
    ) -> S3Result<S3Response<PutBucketVersioningOutput>> {
        let i = req.input;
        let c = i.versioning_configuration;
        if c.mfa_delete.as_ref().is_some_and(|m| m.as_str() == MFADelete::ENABLED) {
            return Err(s3_error!(NotImplemented, "MFA delete is not supported by this store."));
        }
        let status = match c.status.as_ref().map(BucketVersioningStatus::as_str) {
            Some(s @ (BucketVersioningStatus::ENABLED | BucketVersioningStatus::SUSPENDED)) => s.to_owned(),
            Some(_) => {
                return Err(s3_error!(MalformedXML, "The versioning Status must be Enabled or Suspended."));
            }
            None => return Ok(S3Response::new(PutBucketVersioningOutput::default())),
        };
        if status == BucketVersioningStatus::SUSPENDED && self.bucket_meta(&i.bucket).await?.object_lock.is_some() {
            return Err(s3_error!(
                InvalidBucketState,
                "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
            ));
        }
        self.set_bucket(&i.bucket, |m| m.versioning = Some(status)).await?;
        Ok(S3Response::new(PutBucketVersioningOutput::default()))
    }

    async fn get_bucket_lifecycle_configuration(
        &self,
        req: S3Request<GetBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<GetBucketLifecycleConfigurationOutput>> {
        let rules = {
            let buckets = self.buckets.lock().await;
            buckets.get(&req.input.bucket).ok_or_else(|| s3_error!(NoSuchBucket))?.meta.lifecycle.clone()
        };
        if rules.is_empty() {
            return Err(s3_error!(NoSuchLifecycleConfiguration, "The lifecycle configuration does not exist"));
        }
        Ok(S3Response::new(GetBucketLifecycleConfigurationOutput {
            rules: Some(rules.iter().map(lifecycle::to_dto).collect()),
            ..Default::default()
        }))
    }

    async fn put_bucket_lifecycle_configuration(
        &self,
        req: S3Request<PutBucketLifecycleConfigurationInput>,
    ) -> S3Result<S3Response<PutBucketLifecycleConfigurationOutput>> {
        let i = req.input;
        let config = i
            .lifecycle_configuration
            .ok_or_else(|| s3_error!(MalformedXML, "The lifecycle configuration is missing."))?;
        let rules = lifecycle::from_dto(config.rules)?;
        self.set_bucket(&i.bucket, |m| m.lifecycle = rules).await?;
        Ok(S3Response::new(PutBucketLifecycleConfigurationOutput::default()))
    }

    async fn delete_bucket_lifecycle(
        &self,
        req: S3Request<DeleteBucketLifecycleInput>,
    ) -> S3Result<S3Response<DeleteBucketLifecycleOutput>> {
        self.set_bucket(&req.input.bucket, |m| m.lifecycle.clear()).await?;
        Ok(S3Response::with_status(DeleteBucketLifecycleOutput::default(), http::StatusCode::NO_CONTENT))
    }

    async fn get_object_lock_configuration(
        &self,
        req: S3Request<GetObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<GetObjectLockConfigurationOutput>> {
        let Some(c) = self.bucket_meta(&req.input.bucket).await?.object_lock else {
            return Err(s3_error!(
                ObjectLockConfigurationNotFoundError,
                "Object Lock configuration does not exist for this bucket"
            ));
        };
        Ok(S3Response::new(GetObjectLockConfigurationOutput {
            object_lock_configuration: Some(ObjectLockConfiguration {
                object_lock_enabled: Some(ObjectLockEnabled::from_static(ObjectLockEnabled::ENABLED)),
                rule: lock::rule_of(&c).map(|r| ObjectLockRule { default_retention: Some(r) }),
            }),
        }))
    }

    async fn put_object_lock_configuration(
        &self,
        req: S3Request<PutObjectLockConfigurationInput>,
    ) -> S3Result<S3Response<PutObjectLockConfigurationOutput>> {
        let i = req.input;
        let c = i
            .object_lock_configuration
            .ok_or_else(|| s3_error!(MalformedXML, "The Object Lock configuration is missing."))?;
        if c.object_lock_enabled.as_ref().map(ObjectLockEnabled::as_str) != Some(ObjectLockEnabled::ENABLED) {
            return Err(s3_error!(MalformedXML, "ObjectLockEnabled must be Enabled."));
        }
        let config = lock::config_of(c.rule.and_then(|r| r.default_retention))?;
        let meta = self.bucket_meta(&i.bucket).await?;
        if meta.object_lock.is_none() && meta.versioning.as_deref() != Some(BucketVersioningStatus::ENABLED) {
            return Err(s3_error!(
                InvalidBucketState,
                "Versioning must be 'Enabled' on the bucket to apply a Object Lock configuration"
            ));
        }
        self.set_bucket(&i.bucket, |m| m.object_lock = Some(config)).await?;
        Ok(S3Response::new(PutObjectLockConfigurationOutput::default()))
    }

    async fn get_object_retention(
        &self,
        req: S3Request<GetObjectRetentionInput>,
    ) -> S3Result<S3Response<GetObjectRetentionOutput>> {
        let i = req.input;
        let m = self.locked_version(&i.bucket, &i.key, i.version_id.as_deref()).await?;
        let (Some(mode), Some(until)) = (m.lock.mode, m.lock.retain_until_ms) else {
            return Err(s3_error!(
                NoSuchObjectLockConfiguration,
                "The specified object does not have a ObjectLock configuration"
            ));
        };
        Ok(S3Response::new(GetObjectRetentionOutput {
            retention: Some(ObjectLockRetention {
                mode: Some(ObjectLockRetentionMode::from(mode)),
                retain_until_date: Some(timestamp(until.max(0) as u64)),
            }),
        }))
    }

    async fn put_object_retention(
        &self,
        req: S3Request<PutObjectRetentionInput>,
    ) -> S3Result<S3Response<PutObjectRetentionOutput>> {
        let i = req.input;
        let old = self.locked_version(&i.bucket, &i.key, i.version_id.as_deref()).await?.lock;
        let r = i.retention.unwrap_or_default();
        let bypass = i.bypass_governance_retention.unwrap_or(false);
        let (mode, until) = lock::new_retention(
            &old,
            r.mode.as_ref().map(ObjectLockRetentionMode::as_str),
            r.retain_until_date.as_ref(),
            bypass,
            disk::now_ms(),
        )?;
        self.update_version(&i.bucket, &i.key, i.version_id.as_deref(), |m| {
            m.lock.mode = mode;
            m.lock.retain_until_ms = until;
        })
        .await?;
        Ok(S3Response::new(PutObjectRetentionOutput::default()))
    }

    async fn get_object_legal_hold(
        &self,
        req: S3Request<GetObjectLegalHoldInput>,
    ) -> S3Result<S3Response<GetObjectLegalHoldOutput>> {
        let i = req.input;
        let m = self.locked_version(&i.bucket, &i.key, i.version_id.as_deref()).await?;
        let status = if m.lock.legal_hold { "ON" } else { "OFF" };
        Ok(S3Response::new(GetObjectLegalHoldOutput {
            legal_hold: Some(ObjectLockLegalHold { status: Some(ObjectLockLegalHoldStatus::from_static(status)) }),
        }))
    }

    async fn put_object_legal_hold(
        &self,
        req: S3Request<PutObjectLegalHoldInput>,
    ) -> S3Result<S3Response<PutObjectLegalHoldOutput>> {
        let i = req.input;
        self.locked_version(&i.bucket, &i.key, i.version_id.as_deref()).await?;
        let hold = lock::hold_of(
            i.legal_hold.as_ref().and_then(|h| h.status.as_ref()).map(ObjectLockLegalHoldStatus::as_str),
        )?;
        self.update_version(&i.bucket, &i.key, i.version_id.as_deref(), |m| m.lock.legal_hold = hold).await?;
        Ok(S3Response::new(PutObjectLegalHoldOutput::default()))
    }

    async fn get_bucket_acl(&self, req: S3Request<GetBucketAclInput>) -> S3Result<S3Response<GetBucketAclOutput>> {
        let (owner, grants) = acl::grants_of(&self.bucket_meta(&req.input.bucket).await?.acl);
        Ok(S3Response::new(GetBucketAclOutput { owner: Some(owner), grants: Some(grants) }))
    }

    async fn put_bucket_acl(&self, req: S3Request<PutBucketAclInput>) -> S3Result<S3Response<PutBucketAclOutput>> {
        let i = req.input;
        let headers = grant_headers!(i, i.grant_write.as_deref());
        let new = match i.access_control_policy {
            Some(policy) if i.acl.is_none() => acl::from_policy(policy)?,
            _ => acl::from_request(i.acl.as_ref().map(BucketCannedACL::as_str), headers, true)?,
        };
        self.set_bucket(&i.bucket, |m| m.acl = new).await?;
        Ok(S3Response::new(PutBucketAclOutput::default()))
    }

    async fn get_object_acl(&self, req: S3Request<GetObjectAclInput>) -> S3Result<S3Response<GetObjectAclOutput>> {
        let i = req.input;
        let m = self.version(&i.bucket, &i.key, i.version_id.as_deref()).await?;
        let (owner, grants) = acl::grants_of(&m.acl);
        Ok(S3Response::new(GetObjectAclOutput { owner: Some(owner), grants: Some(grants), ..Default::default() }))
    }

    async fn put_object_acl(&self, req: S3Request<PutObjectAclInput>) -> S3Result<S3Response<PutObjectAclOutput>> {
        let i = req.input;
        let new = match i.access_control_policy {
            Some(policy) if i.acl.is_none() => acl::from_policy(policy)?,
            _ => {
                let headers = grant_headers!(i, i.grant_write.as_deref());
                acl::from_request(i.acl.as_ref().map(ObjectCannedACL::as_str), headers, false)?
            }
        };
        self.update_version(&i.bucket, &i.key, i.version_id.as_deref(), |m| m.acl = new).await?;
        Ok(S3Response::new(PutObjectAclOutput::default()))
    }

    async fn get_object_tagging(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> S3Result<S3Response<GetObjectTaggingOutput>> {
        let i = req.input;
        let m = self.version(&i.bucket, &i.key, i.version_id.as_deref()).await?;
        Ok(S3Response::new(GetObjectTaggingOutput {
            tag_set: m.tags.iter().map(|(k, v)| Tag { key: Some(k.clone()), value: Some(v.clone()) }).collect(),
            version_id: m.version_id,
        }))
    }

    async fn put_object_tagging(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> S3Result<S3Response<PutObjectTaggingOutput>> {
        let i = req.input;
        let tags: Vec<(String, String)> =
            i.tagging.tag_set.into_iter().map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default())).collect();
        check_tags(&tags)?;
        let m = self.update_version(&i.bucket, &i.key, i.version_id.as_deref(), |m| m.tags = tags).await?;
        Ok(S3Response::new(PutObjectTaggingOutput { version_id: m.version_id }))
    }

    async fn delete_object_tagging(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> S3Result<S3Response<DeleteObjectTaggingOutput>> {
        let i = req.input;
        let m = self.update_version(&i.bucket, &i.key, i.version_id.as_deref(), |m| m.tags.clear()).await?;
        Ok(S3Response::with_status(
            DeleteObjectTaggingOutput { version_id: m.version_id },
            http::StatusCode::NO_CONTENT,
        ))
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
        let sse_key = sse_key!(i)?;
        if sse_key.is_some() && checksum_type.as_deref() == Some("FULL_OBJECT") {
            return Err(s3_error!(
                NotImplemented,
                "Full-object checksums of SSE-C uploads are not supported by this store: use COMPOSITE."
            ));
        }
        let meta = UploadMeta {
            sse_c: sse_key.as_ref().map(sse::Key::seal),
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
            tags: parse_tagging(i.tagging.as_deref())?,
            lock: lock_of!(self, i)?,
            acl: object_acl!(i)?,
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
        let sdk = sdk_checksum_algorithm(&req.headers);
        let i = req.input;
        check_part_number(i.part_number)?;
        let key = sse_key!(i)?;
        let algorithm = {
            let mut buckets = self.buckets.lock().await;
            let u = Store::open_upload(&mut buckets, &i.bucket, &i.key, &i.upload_id)?;
            sse::check_part(u.meta.sse_c.as_ref(), key.as_ref())?;
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
        check_checksum_headers(&given, sdk.as_deref().or(alg.as_deref()), Some(algorithm.as_deref()))?;
        let wanted = Wanted::new(i.content_md5.as_deref(), given, &[alg.as_deref(), algorithm.as_deref()])?;
        let written = self.write_body(&i.bucket, i.body, i.content_length, &wanted, key.as_ref()).await?;
        self.commit_part(&i.bucket, &i.key, &i.upload_id, i.part_number, &written).await?;
        let c = written.checksums;
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(quoted(&written.etag)),
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
        let (src_bucket, src_key, src_version) = copy_source_object(&i.copy_source)?;
        let algorithm = {
            let mut buckets = self.buckets.lock().await;
            let u = Store::open_upload(&mut buckets, &i.bucket, &i.key, &i.upload_id)?;
            if u.meta.sse_c.is_some()
                || i.sse_customer_algorithm.is_some()
                || i.copy_source_sse_customer_algorithm.is_some()
            {
                return Err(copy_sse_c());
            }
            u.meta.checksum_algorithm.clone()
        };
        let src = self
            .copied_object(
                (src_bucket, src_key, src_version),
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
        if src.sse_c.is_some() {
            return Err(copy_sse_c());
        }
        let body = read_segments(self.paths(src_bucket), src.segments.clone(), range.start, range.end, None);
        let size = Some((range.end - range.start) as i64);
        let written = self.write_body(&i.bucket, Some(StreamingBlob::wrap(body)), size, &wanted, None).await?;
        self.commit_part(&i.bucket, &i.key, &i.upload_id, i.part_number, &written).await?;
        let c = written.checksums;
        Ok(S3Response::new(UploadPartCopyOutput {
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(quoted(&written.etag)),
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
        self.abort_upload(&i.bucket, &i.key, &i.upload_id).await?;
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
            let current = b.objects.get(&i.key).and_then(|v| current(v)).cloned();
            let current_etag = current.as_ref().map(|o| o.etag.clone());
            let u = match b.uploads.get_mut(&i.upload_id) {
                Some(u) if u.meta.key == i.key => u,
                _ => return Err(no_such_upload()),
            };
            if let Some(done) = &u.completed {
                // A repeated complete with the same parts: the first one's result,
                // while that object is still there.
                if let Some(object) = current.filter(|o| o.etag == done.etag && listed_pairs == done.parts) {
                    let version = object.version_id.clone();
                    return Ok(S3Response::new(complete_output(&i.bucket, &object, location, version)));
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
        let mut out = complete_output(&i.bucket, &object, location, None);
        // The commit: the completed marker, then the object (one rename each).
        // Should either fail, the upload is left as it was: open, its parts whole.
        let marker = paths.upload(&i.upload_id).join("completed.json");
        let committed = match disk::write_json(&marker, &done).await.map_err(internal) {
            Ok(()) => self.commit_object(&i.bucket, object).await,
            Err(e) => Err(e),
        };
        if let Ok(version) = &committed {
            out.version_id.clone_from(version);
        }
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
fn complete_output(
    bucket: &str,
    object: &ObjectMeta,
    location: Option<String>,
    version_id: Option<String>,
) -> CompleteMultipartUploadOutput {
    let c = &object.checksums;
    CompleteMultipartUploadOutput {
        version_id,
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
/// ascending (`InvalidPartOrder`; for an upload with checksums, 1, 2, 3, ...
/// with no gap), each stored with that ETag and checksum
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
        // S3: where each part carries an additional checksum (an upload
        // created with an algorithm), the parts are 1, 2, 3, ... with no gap
        // and none twice.
        if u.meta.checksum_algorithm.is_some() && i64::from(number) != index as i64 + 1 {
            return Err(s3_error!(
                InvalidPartOrder,
                "The list of parts was not in ascending order. With checksums, part numbers must start at 1 and be consecutive: part {} was given where part {} was due.",
                number,
                index + 1
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
            etag: written.etag.clone(),
            modified_ms: disk::now_ms(),
            checksums: written.checksums.clone(),
            file: written.file.clone(),
            iv: written.iv.clone(),
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
    /// from the parts', full-object combined from the parts' CRCs), its segments.
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
        let segments: Vec<Segment> =
            parts.iter().map(|p| Segment { file: p.file.clone(), size: p.size, iv: p.iv.clone() }).collect();
        let mut checksums = Checksums::default();
        if let (Some(alg), Some(kind)) = (&meta.checksum_algorithm, &meta.checksum_type) {
            if kind == "FULL_OBJECT" {
                match combined_checksum(alg, &refs) {
                    Some(v) => checksums.set(alg, v),
                    // A part without the upload's checksum (none is stored so): the object is read.
                    None => {
                        let wanted = Wanted {
                            algorithms: disk::ALGORITHMS.into_iter().filter(|a| a == alg).collect(),
                            ..Default::default()
                        };
                        let mut h = wanted.hasher();
                        let mut body = Box::pin(read_segments(paths.clone(), segments.clone(), 0, size, None));
                        while let Some(chunk) = body.next().await {
                            h.update(&chunk.map_err(internal)?);
                        }
                        checksums = from_dto(h.finalize());
                    }
                }
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
            version_id: None,
            delete_marker: false,
            tags: meta.tags.clone(),
            lock: meta.lock.clone(),
            acl: meta.acl.clone(),
            sse_c: meta.sse_c.clone(),
        })
    }

    /// Deletes as S3 does: a named version for good; without one, the `null`
    /// version of an unversioned bucket, or a new delete marker in a
    /// versioned one (replacing the `null` version when suspended).
    /// Returns what was deleted or made: (version id, a delete marker).
    async fn delete_key(&self, bucket: &str, key: &str, version_id: Option<&str>, bypass: bool) -> S3Result<Deleted> {
        let paths = self.paths(bucket);
        let mut buckets = self.buckets.lock().await;
        let b = buckets.get_mut(bucket).ok_or_else(|| s3_error!(NoSuchBucket))?;
        let mut versions = b.objects.get(key).cloned().unwrap_or_default();
        let (removed, deleted) = match version_id {
            Some(v) => {
                check_version_id(v)?;
                let Some(pos) = versions.iter().position(|m| m.version_name() == v) else {
                    return Ok(Deleted { version_id: Some(v.to_owned()), delete_marker: false });
                };
                lock::may_delete(&versions[pos].lock, bypass, disk::now_ms())?;
                let m = versions.remove(pos);
                let marker = m.delete_marker;
                (vec![m], Deleted { version_id: Some(v.to_owned()), delete_marker: marker })
            }
            None => {
                let state = b.meta.versioning.clone();
                let (nulls, rest): (Vec<_>, Vec<_>) = if state.as_deref() == Some("Enabled") {
                    (Vec::new(), versions)
                } else {
                    versions.into_iter().partition(|m| m.version_id.is_none())
                };
                versions = rest;
                match state.as_deref() {
                    None => (nulls, Deleted { version_id: None, delete_marker: false }),
                    Some(s) => {
                        let id = (s == "Enabled").then(disk::random_name);
                        versions.insert(0, ObjectMeta::delete_marker(key, id.clone()));
                        let name = id.unwrap_or_else(|| "null".into());
                        (nulls, Deleted { version_id: Some(name), delete_marker: true })
                    }
                }
            }
        };
        if removed.is_empty() && !deleted.delete_marker {
            return Ok(deleted);
        }
        set_versions(b, &paths, key, versions).await?;
        drop(buckets);
        for old in removed {
            self.remove_segments(&paths, &old.segments).await;
        }
        Ok(deleted)
    }
}
