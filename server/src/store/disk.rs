//! The embedded store's storage layer: objects, multipart uploads and their
//! parts on disk, with every change atomic.
//!
//! Layout under the store's root, one folder per bucket:
//!
//! ```text
//! <bucket>/.bucket.json                  creation time
//! <bucket>/objects/<sha256(key)>.json    object metadata: key, size, ETag, checksums, headers, segments
//! <bucket>/data/<random>                 immutable data files (a single PUT's body, one part's bytes)
//! <bucket>/uploads/<id>/upload.json      an open multipart upload: key, headers, checksum algorithm
//! <bucket>/uploads/<id>/part-<n>.json    a stored part: size, ETag, checksums, data file
//! <bucket>/uploads/<id>/completed.json   a completed upload: key and ETag (a repeated complete answers it)
//! ```
//!
//! Keys never become file names (they are hashed), so every key S3 accepts
//! (1–1,024 bytes of UTF-8: `p//cat.jpg`, `x` beside `x/child`, 1,024-byte
//! names) works and stays distinct. Data files are written under a fresh
//! name and never changed; metadata is written to a temporary file and renamed
//! over the old one, so a change is one `rename`: a refused or broken request
//! leaves the previous state whole. A multipart object is the list of its
//! parts' data files (complete copies no bytes). Files no metadata refers to
//! (left by a crash) are removed when the store opens.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The digests S3 can keep with an object or part, base64 as in S3's headers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checksums {
    /// `x-amz-checksum-crc32`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<String>,
    /// `x-amz-checksum-crc32c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32c: Option<String>,
    /// `x-amz-checksum-crc64nvme`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc64nvme: Option<String>,
    /// `x-amz-checksum-sha1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    /// `x-amz-checksum-sha256`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Checksums {
    /// The value kept for `algorithm` (S3's name: `CRC32`, `SHA256`, ...).
    pub fn get(&self, algorithm: &str) -> Option<&String> {
        match algorithm {
            "CRC32" => self.crc32.as_ref(),
            "CRC32C" => self.crc32c.as_ref(),
            "CRC64NVME" => self.crc64nvme.as_ref(),
            "SHA1" => self.sha1.as_ref(),
            "SHA256" => self.sha256.as_ref(),
            _ => None,
        }
    }

    /// Sets the value of `algorithm`; unknown names are ignored.
    pub fn set(&mut self, algorithm: &str, value: String) {
        match algorithm {
            "CRC32" => self.crc32 = Some(value),
            "CRC32C" => self.crc32c = Some(value),
            "CRC64NVME" => self.crc64nvme = Some(value),
            "SHA1" => self.sha1 = Some(value),
            "SHA256" => self.sha256 = Some(value),
            _ => {}
        }
    }
}

/// The algorithms S3 knows, by their names in its API.
pub const ALGORITHMS: [&str; 5] = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"];

/// Headers stored with an object (from PutObject or CreateMultipartUpload).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Headers {
    /// `Content-Type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// `Content-Encoding`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_encoding: Option<String>,
    /// `Content-Disposition`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_disposition: Option<String>,
    /// `Content-Language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_language: Option<String>,
    /// `Cache-Control`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<String>,
    /// `Expires`, in ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<i64>,
    /// `x-amz-meta-*`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// One data file of an object, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// File name under `<bucket>/data/`.
    pub file: String,
    /// Bytes.
    pub size: u64,
    /// The IV (hex) of a file encrypted with the object's SSE-C key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
}

/// A stored object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Its key.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// ETag, unquoted (an MD5, or for a multipart object the MD5 of the parts' MD5s, `-N`).
    pub etag: String,
    /// Last modified, ms since the epoch.
    pub modified_ms: u64,
    /// Stored headers.
    #[serde(default)]
    pub headers: Headers,
    /// Checksums of the whole object (a composite one ends in `-N`).
    #[serde(default)]
    pub checksums: Checksums,
    /// `COMPOSITE` or `FULL_OBJECT`, when checksums are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// The data files; one per part for a multipart object.
    pub segments: Vec<Segment>,
    /// Number of parts, for a multipart object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parts_count: Option<u32>,
    /// The parts of a multipart object (GetObjectAttributes lists them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<ObjectPartMeta>,
    /// Its version id; `None` is S3's `null` version (an unversioned or
    /// suspended bucket's write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// A delete marker (no data): the key reads as deleted while it is the
    /// newest version.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_marker: bool,
    /// Object tags, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// Object lock: retention and legal hold.
    #[serde(default, skip_serializing_if = "Lock::is_none")]
    pub lock: Lock,
    /// Its access control list.
    #[serde(default, skip_serializing_if = "Acl::is_private")]
    pub acl: Acl,
    /// Its SSE-C key, sealed (its bytes are encrypted with it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_c: Option<super::sse::Sealed>,
}

/// An access control list: a canned ACL and explicit grants (the owner
/// always has full control, and is the one identity of this store).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    /// `public-read`, `public-read-write`, `authenticated-read`, …; none is `private`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canned: Option<String>,
    /// Explicit grants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grants: Vec<GrantMeta>,
}

impl Acl {
    /// Nothing beyond the owner's own access.
    pub fn is_private(&self) -> bool {
        self.canned.as_deref().is_none_or(|c| c == "private") && self.grants.is_empty()
    }
}

/// One explicit grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantMeta {
    /// `CanonicalUser`, `Group` or `AmazonCustomerByEmail`.
    pub grantee_type: String,
    /// The user id, group URI or email address.
    pub grantee: String,
    /// `READ`, `WRITE`, `READ_ACP`, `WRITE_ACP` or `FULL_CONTROL`.
    pub permission: String,
}

/// An object's lock (S3 Object Lock): it cannot be deleted while either holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// `GOVERNANCE` or `COMPLIANCE`, with `retain_until_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Retained until then, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until_ms: Option<i64>,
    /// Legal hold `ON`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legal_hold: bool,
}

impl Lock {
    /// No retention and no legal hold.
    pub fn is_none(&self) -> bool {
        self.mode.is_none() && !self.legal_hold
    }
}

/// A bucket's Object Lock configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockConfig {
    /// Default retention mode of new objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<String>,
    /// Default retention in days, or…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_days: Option<i32>,
    /// …in years.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_years: Option<i32>,
}

impl ObjectMeta {
    /// A delete marker for `key`.
    pub fn delete_marker(key: &str, version_id: Option<String>) -> Self {
        Self {
            key: key.to_owned(),
            size: 0,
            etag: String::new(),
            modified_ms: now_ms(),
            headers: Headers::default(),
            checksums: Checksums::default(),
            checksum_type: None,
            segments: Vec::new(),
            parts_count: None,
            parts: Vec::new(),
            version_id,
            delete_marker: true,
            tags: Vec::new(),
            lock: Lock::default(),
            acl: Acl::default(),
            sse_c: None,
        }
    }

    /// Its version id as S3 names it (`null` for the null version).
    pub fn version_name(&self) -> &str {
        self.version_id.as_deref().unwrap_or("null")
    }
}

/// Every version of one key, newest first (what `objects/<sha256(key)>.json` holds).
pub type Versions = Vec<ObjectMeta>;

/// The object a plain GET of the key reads: the newest version, unless that
/// is a delete marker.
pub fn current(versions: &[ObjectMeta]) -> Option<&ObjectMeta> {
    versions.first().filter(|m| !m.delete_marker)
}

/// A bucket's settings, in its marker file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketMeta {
    /// Created, ms since the epoch.
    #[serde(default)]
    pub created_ms: u64,
    /// `Enabled` or `Suspended` once versioning was configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<String>,
    /// Lifecycle rules (the store enforces them, see `lifecycle`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle: Vec<LifecycleRule>,
    /// Object Lock, when the bucket was created with it (versioning is then always on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<LockConfig>,
    /// Its access control list.
    #[serde(default, skip_serializing_if = "Acl::is_private")]
    pub acl: Acl,
}

/// One lifecycle rule the store enforces.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleRule {
    /// `ID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Keys it applies to.
    #[serde(default)]
    pub prefix: String,
    /// `Status` is `Enabled`.
    pub enabled: bool,
    /// Whether the prefix was given as `Filter` (else the legacy top-level `Prefix`).
    #[serde(default)]
    pub filter: bool,
    /// `Expiration/Days`: current versions older than this expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_days: Option<i32>,
    /// `Expiration/Date`, ms since the epoch: current versions expire from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_date_ms: Option<i64>,
    /// `NoncurrentVersionExpiration/NoncurrentDays`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noncurrent_days: Option<i32>,
    /// `AbortIncompleteMultipartUpload/DaysAfterInitiation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_incomplete_days: Option<i32>,
}

/// One part of a multipart object, as GetObjectAttributes lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectPartMeta {
    /// Its number in the upload.
    pub number: i32,
    /// Bytes.
    pub size: u64,
    /// Its checksums.
    #[serde(default)]
    pub checksums: Checksums,
}

/// An open (or completed) multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadMeta {
    /// Its key: the upload belongs to this key only.
    pub key: String,
    /// When it started, ms since the epoch.
    pub initiated_ms: u64,
    /// Headers the object will have.
    #[serde(default)]
    pub headers: Headers,
    /// `x-amz-checksum-algorithm` of CreateMultipartUpload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_algorithm: Option<String>,
    /// `COMPOSITE` or `FULL_OBJECT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// Tags the object will have (`x-amz-tagging`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<(String, String)>,
    /// The lock the object will have.
    #[serde(default, skip_serializing_if = "Lock::is_none")]
    pub lock: Lock,
    /// The ACL the object will have.
    #[serde(default, skip_serializing_if = "Acl::is_private")]
    pub acl: Acl,
    /// The SSE-C key every part must carry, sealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse_c: Option<super::sse::Sealed>,
}

/// A stored part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartMeta {
    /// 1..=10,000.
    pub number: i32,
    /// Bytes.
    pub size: u64,
    /// MD5, unquoted.
    pub etag: String,
    /// When it was stored, ms since the epoch.
    pub modified_ms: u64,
    /// Its checksums.
    #[serde(default)]
    pub checksums: Checksums,
    /// Its data file.
    pub file: String,
    /// The data file's IV, when encrypted (SSE-C).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iv: Option<String>,
}

/// What a completed upload answers to a repeated complete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompletedMeta {
    /// Its key.
    pub key: String,
    /// The object's ETag, unquoted.
    pub etag: String,
    /// The parts it was completed with: (number, ETag unquoted).
    #[serde(default)]
    pub parts: Vec<(i32, String)>,
}

/// An upload in memory.
#[derive(Debug, Clone)]
pub struct Upload {
    /// What CreateMultipartUpload said.
    pub meta: UploadMeta,
    /// Stored parts by number.
    pub parts: BTreeMap<i32, PartMeta>,
    /// Set once completed.
    pub completed: Option<CompletedMeta>,
    /// A complete is running (its parts must not change under it).
    pub completing: bool,
}

/// A bucket in memory (the disk is written through).
#[derive(Debug, Default)]
pub struct Bucket {
    /// Its settings.
    pub meta: BucketMeta,
    /// Every version of every key, by key (a key with no version is absent).
    pub objects: BTreeMap<String, Versions>,
    /// Uploads by id.
    pub uploads: HashMap<String, Upload>,
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A `SystemTime` from ms since the epoch.
pub fn time_of(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A fresh random name: 32 hex digits (128 bits).
pub fn random_name() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// The file name of an object's metadata: keys never become paths.
fn object_file(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let mut name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    name.push_str(".json");
    name
}

/// Bucket names S3 accepts (3–63 of `a-z 0-9 . -`), which are also safe folder names.
pub fn valid_bucket_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
}

/// Upload ids this store issues (32 hex digits): anything else was never issued.
pub fn valid_upload_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Paths of one bucket.
#[derive(Debug, Clone)]
pub struct Paths {
    /// `<root>/<bucket>`.
    pub bucket: PathBuf,
}

impl Paths {
    /// Paths of `bucket` under `root`.
    pub fn new(root: &Path, bucket: &str) -> Self {
        Self { bucket: root.join(bucket) }
    }
    /// The bucket's marker file.
    pub fn marker(&self) -> PathBuf {
        self.bucket.join(".bucket.json")
    }
    /// An object's metadata file.
    pub fn object(&self, key: &str) -> PathBuf {
        self.bucket.join("objects").join(object_file(key))
    }
    /// A data file.
    pub fn data(&self, file: &str) -> PathBuf {
        self.bucket.join("data").join(file)
    }
    /// An upload's folder.
    pub fn upload(&self, id: &str) -> PathBuf {
        self.bucket.join("uploads").join(id)
    }
    /// A part's metadata file.
    pub fn part(&self, id: &str, number: i32) -> PathBuf {
        self.upload(id).join(format!("part-{number}.json"))
    }
}

/// Writes `value` as JSON to `path` atomically (a temporary file renamed over it).
pub async fn write_json<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(std::io::Error::other)?;
    let tmp = path.with_extension(format!("tmp-{}", random_name()));
    tokio::fs::write(&tmp, &bytes).await?;
    if let Err(e) = tokio::fs::rename(&tmp, path).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    Ok(())
}

async fn read_json<T: DeserializeOwned>(path: &Path) -> std::io::Result<T> {
    let bytes = tokio::fs::read(path).await?;
    serde_json::from_slice(&bytes).map_err(std::io::Error::other)
}

/// Removes a file, ignoring one that is gone already.
pub async fn remove(path: &Path) {
    let _ = tokio::fs::remove_file(path).await;
}

/// Creates a bucket's folders and marker.
pub async fn create_bucket(paths: &Paths, meta: &BucketMeta) -> std::io::Result<()> {
    for sub in ["objects", "data", "uploads"] {
        tokio::fs::create_dir_all(paths.bucket.join(sub)).await?;
    }
    write_json(&paths.marker(), meta).await
}

/// Writes every version of a key (one rename), or removes its file when none is left.
pub async fn write_versions(paths: &Paths, key: &str, versions: &[ObjectMeta]) -> std::io::Result<()> {
    if versions.is_empty() {
        match tokio::fs::remove_file(paths.object(key)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    } else {
        write_json(&paths.object(key), &versions).await
    }
}

/// A key's versions as stored: a list, or one object (the format before versioning).
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Versions(Versions),
    One(Box<ObjectMeta>),
}

/// Loads every bucket under `root`, removing what a crash left behind
/// (temporary files, data files no metadata names).
pub async fn load(root: &Path) -> std::io::Result<BTreeMap<String, Bucket>> {
    let mut buckets = BTreeMap::new();
    let mut dir = tokio::fs::read_dir(root).await?;
    while let Some(entry) = dir.next_entry().await? {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if !valid_bucket_name(&name) || !entry.file_type().await?.is_dir() {
            continue;
        }
        let paths = Paths::new(root, &name);
        let Ok(meta) = read_json::<BucketMeta>(&paths.marker()).await else { continue };
        let mut bucket = Bucket { meta, ..Default::default() };
        let mut used = HashSet::new();
        for entry in read_dir_names(&paths.bucket.join("objects")).await? {
            let path = paths.bucket.join("objects").join(&entry);
            if !entry.ends_with(".json") {
                remove(&path).await;
                continue;
            }
            let versions = match read_json::<Stored>(&path).await {
                Ok(Stored::Versions(v)) => v,
                Ok(Stored::One(m)) => vec![*m],
                Err(_) => continue,
            };
            if let Some(key) = versions.first().map(|m| m.key.clone()) {
                used.extend(versions.iter().flat_map(|m| m.segments.iter().map(|s| s.file.clone())));
                bucket.objects.insert(key, versions);
            }
        }
        for id in read_dir_names(&paths.bucket.join("uploads")).await? {
            let folder = paths.upload(&id);
            let completed = read_json::<CompletedMeta>(&folder.join("completed.json")).await.ok();
            let Ok(meta) = read_json::<UploadMeta>(&folder.join("upload.json")).await else {
                if completed.is_none() {
                    let _ = tokio::fs::remove_dir_all(&folder).await;
                }
                continue;
            };
            let mut parts = BTreeMap::new();
            for name in read_dir_names(&folder).await? {
                if name.starts_with("part-") && name.ends_with(".json") {
                    if let Ok(part) = read_json::<PartMeta>(&folder.join(&name)).await {
                        used.insert(part.file.clone());
                        parts.insert(part.number, part);
                    }
                } else if name.contains(".tmp-") {
                    remove(&folder.join(&name)).await;
                }
            }
            bucket.uploads.insert(id, Upload { meta, parts, completed, completing: false });
        }
        for file in read_dir_names(&paths.bucket.join("data")).await? {
            if !used.contains(&file) {
                remove(&paths.data(&file)).await;
            }
        }
        buckets.insert(name, bucket);
    }
    Ok(buckets)
}

async fn read_dir_names(path: &Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    let mut dir = match tokio::fs::read_dir(path).await {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(e),
    };
    while let Some(entry) = dir.next_entry().await? {
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}
