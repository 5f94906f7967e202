//! The embedded S3-compatible store: s3s-fs behind an `S3` wrapper that closes
//! the gaps where s3s-fs 0.14.1 does not behave like S3 (DESIGN.md §5).
//!
//! | gap in s3s-fs 0.14.1                                   | what S3 does, and this wrapper does          |
//! |--------------------------------------------------------|----------------------------------------------|
//! | ListParts returns no `ETag`                            | each part's `ETag` (MD5 of its bytes) and size |
//! | CompleteMultipartUpload ignores the given ETags        | `InvalidPart` when an ETag does not match     |
//! | part order not checked before state is destroyed       | `InvalidPartOrder`, upload kept               |
//! | `EntityTooSmall` deletes the upload id, keeps parts    | checked first: upload kept, nothing deleted  |
//! | calls on an aborted / unknown upload: 403 AccessDenied | 404 `NoSuchUpload`                            |
//! | parts left on disk after complete                      | removed                                       |
//! | ListMultipartUploads not implemented                   | lists the open uploads of the bucket         |
//! | CompleteMultipartUpload's result has no `Location`     | `Location` of the object (path-style)         |
//!
//! Everything else is delegated to s3s-fs unchanged.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use md5::{Digest, Md5};
use s3s::dto::*;
use s3s::{S3, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;

/// S3 requires every part but the last to be at least this large.
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// s3s-fs with the S3 behaviour the client depends on.
pub struct Store {
    inner: FileSystem,
    root: PathBuf,
    /// ETags of parts seen by `upload_part`, so ListParts need not re-hash them.
    /// Keyed by (upload id, part number); a miss (after a restart) re-hashes the file.
    etags: Mutex<HashMap<(String, i32), (String, u64)>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (and creates) a store rooted at `root`.
    pub fn new(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let inner =
            FileSystem::new(&root).map_err(|e| anyhow::anyhow!("cannot open store at {}: {e:?}", root.display()))?;
        Ok(Self { inner, root, etags: Mutex::new(HashMap::new()) })
    }

    /// Creates the bucket's folder if it is missing.
    pub fn ensure_bucket(&self, bucket: &str) -> anyhow::Result<()> {
        std::fs::create_dir_all(self.root.join(bucket))?;
        Ok(())
    }

    fn upload_exists(&self, upload_id: &str) -> bool {
        // s3s-fs keeps one `.upload-<uuid>.json` per open upload; a non-UUID id was never issued.
        uuid_like(upload_id) && self.root.join(format!(".upload-{upload_id}.json")).is_file()
    }

    fn require_upload(&self, upload_id: &str) -> S3Result<()> {
        if self.upload_exists(upload_id) {
            Ok(())
        } else {
            Err(s3_error!(
                NoSuchUpload,
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."
            ))
        }
    }

    fn part_path(&self, upload_id: &str, part_number: i32) -> PathBuf {
        self.root.join(format!(".upload_id-{upload_id}.part-{part_number}"))
    }

    /// The quoted ETag and size of a stored part, or `None` when the part was never uploaded.
    async fn part_etag(&self, upload_id: &str, part_number: i32) -> S3Result<Option<(String, u64)>> {
        let path = self.part_path(upload_id, part_number);
        let Ok(meta) = tokio::fs::metadata(&path).await else {
            return Ok(None);
        };
        let key = (upload_id.to_owned(), part_number);
        if let Some(hit) = self.etags_lock().get(&key).filter(|(_, size)| *size == meta.len()) {
            return Ok(Some(hit.clone()));
        }
        let bytes = tokio::fs::read(&path).await.map_err(|e| s3_error!(e, InternalError))?;
        let etag = format!("\"{}\"", hex(&Md5::digest(&bytes)));
        let entry = (etag, bytes.len() as u64);
        self.etags_lock().insert(key, entry.clone());
        Ok(Some(entry))
    }

    fn etags_lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, i32), (String, u64)>> {
        self.etags.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn forget_upload(&self, upload_id: &str) {
        self.etags_lock().retain(|(id, _), _| id != upload_id);
    }

    async fn remove_part_files(&self, upload_id: &str) {
        let prefix = format!(".upload_id-{upload_id}.part-");
        if let Ok(mut dir) = tokio::fs::read_dir(&self.root).await {
            while let Ok(Some(entry)) = dir.next_entry().await {
                if entry.file_name().to_str().is_some_and(|n| n.starts_with(&prefix)) {
                    let _ = tokio::fs::remove_file(entry.path()).await;
                }
            }
        }
        self.forget_upload(upload_id);
    }

    /// Checks a CompleteMultipartUpload request the way S3 does, before anything is changed.
    async fn check_complete(&self, upload_id: &str, parts: &[CompletedPart]) -> S3Result<()> {
        if parts.is_empty() {
            return Err(s3_error!(MalformedXML, "You must specify at least one part"));
        }
        let mut previous = 0;
        for (index, part) in parts.iter().enumerate() {
            let number = part.part_number.ok_or_else(|| s3_error!(InvalidPart, "a part has no PartNumber"))?;
            if number <= previous {
                return Err(s3_error!(
                    InvalidPartOrder,
                    "The list of parts was not in ascending order. Parts must be ordered by part number."
                ));
            }
            previous = number;
            // s3s-fs concatenates parts 1..=n; a gap would be read as a missing file.
            if number != index as i32 + 1 {
                return Err(s3_error!(
                    InvalidPart,
                    "Part {} is missing: this store completes parts numbered 1..n without gaps.",
                    index + 1
                ));
            }
            let Some((etag, size)) = self.part_etag(upload_id, number).await? else {
                return Err(s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found. Part {number} was never uploaded."
                ));
            };
            let given = part.e_tag.as_ref().map(|t| t.value().to_owned()).unwrap_or_default();
            if unquote(&given) != unquote(&etag) {
                return Err(s3_error!(
                    InvalidPart,
                    "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag. Part {number}: given {given:?}, stored {etag}."
                ));
            }
            if index + 1 < parts.len() && size < MIN_PART_SIZE {
                return Err(s3_error!(
                    EntityTooSmall,
                    "Your proposed upload is smaller than the minimum allowed size. Part {number} is {size} bytes; every part but the last must be at least 5 MiB."
                ));
            }
        }
        Ok(())
    }

    /// The open multipart uploads of `bucket`.
    async fn open_uploads(&self, bucket: &str) -> S3Result<Vec<MultipartUpload>> {
        let found = open_uploads(&self.root, bucket).await.map_err(|e| s3_error!(e, InternalError))?;
        Ok(found
            .into_iter()
            .map(|(key, upload_id)| MultipartUpload {
                key: Some(key),
                upload_id: Some(upload_id),
                ..Default::default()
            })
            .collect())
    }
}

/// The open multipart uploads of `bucket` in a store rooted at `root`, as
/// (key, upload id) pairs sorted by key: read from s3s-fs's files (one
/// `.upload-<id>.json` per open upload, and a metadata file naming its key).
pub async fn open_uploads(root: &Path, bucket: &str) -> std::io::Result<Vec<(String, String)>> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let bucket_prefix = format!(".bucket-{}.object-", b64.encode(bucket));
    let mut uploads = Vec::new();
    let mut dir = tokio::fs::read_dir(root).await?;
    while let Some(entry) = dir.next_entry().await? {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(&bucket_prefix)) else { continue };
        let Some(rest) = rest.strip_suffix(".metadata.json") else { continue };
        let Some((key_b64, upload_id)) = rest.split_once(".upload-") else { continue };
        let Some(key) = b64.decode(key_b64).ok().and_then(|k| String::from_utf8(k).ok()) else { continue };
        if uuid_like(upload_id) && root.join(format!(".upload-{upload_id}.json")).is_file() {
            uploads.push((key, upload_id.to_owned()));
        }
    }
    uploads.sort();
    Ok(uploads)
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn unquote(s: &str) -> &str {
    s.trim().trim_matches('"')
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `impl S3 for Store`: the listed operations go to s3s-fs unchanged,
/// the methods given after them replace s3s-fs's own. (The impl is written whole
/// by the macro because `async_trait` cannot see into a macro call inside it.)
macro_rules! impl_s3_delegating {
    ($($op:ident: $input:ty => $output:ty;)* { $($own:tt)* }) => {
        #[async_trait::async_trait]
        impl S3 for Store {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.inner.$op(req).await
                }
            )*
            $($own)*
        }
    };
}

impl_s3_delegating! {
        create_bucket: CreateBucketInput => CreateBucketOutput;
        head_bucket: HeadBucketInput => HeadBucketOutput;
        list_buckets: ListBucketsInput => ListBucketsOutput;
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput;
        list_objects: ListObjectsInput => ListObjectsOutput;
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output;
        get_object: GetObjectInput => GetObjectOutput;
        head_object: HeadObjectInput => HeadObjectOutput;
        put_object: PutObjectInput => PutObjectOutput;
        delete_object: DeleteObjectInput => DeleteObjectOutput;
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput;
        copy_object: CopyObjectInput => CopyObjectOutput;
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput;
    {

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        self.require_upload(&req.input.upload_id)?;
        let upload_id = req.input.upload_id.clone();
        let part_number = req.input.part_number;
        let resp = self.inner.upload_part(req).await?;
        if let Some(etag) = &resp.output.e_tag {
            let size = tokio::fs::metadata(self.part_path(&upload_id, part_number)).await.map(|m| m.len()).unwrap_or(0);
            let quoted = format!("\"{}\"", unquote(etag.value()));
            self.etags_lock().insert((upload_id, part_number), (quoted, size));
        }
        Ok(resp)
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        self.require_upload(&req.input.upload_id)?;
        let upload_id = req.input.upload_id.clone();
        let max_parts = req.input.max_parts.unwrap_or(1000);
        let mut resp = self.inner.list_parts(req).await?;
        resp.output.max_parts = Some(max_parts);
        let mut parts = resp.output.parts.take().unwrap_or_default();
        parts.sort_by_key(|p| p.part_number);
        for part in &mut parts {
            let Some(number) = part.part_number else { continue };
            if let Some((etag, size)) = self.part_etag(&upload_id, number).await? {
                part.e_tag = Some(ETag::Strong(unquote(&etag).to_owned()));
                part.size = Some(size as i64);
            }
        }
        resp.output.parts = Some(parts);
        resp.output.is_truncated = Some(false);
        Ok(resp)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let upload_id = req.input.upload_id.clone();
        self.require_upload(&upload_id)?;
        let parts = req.input.multipart_upload.as_ref().and_then(|m| m.parts.clone()).unwrap_or_default();
        self.check_complete(&upload_id, &parts).await?;
        // S3 answers with the object's Location; s3s-fs leaves it out (some
        // clients, Uppy 6 among them, need it). Path-style, at the host asked.
        let location = req
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|host| format!("http://{host}/{}/{}", req.input.bucket, req.input.key));
        let mut resp = self.inner.complete_multipart_upload(req).await?;
        self.remove_part_files(&upload_id).await;
        resp.output.location = location.clone();
        if let Some(fut) = resp.output.future.take() {
            resp.output.future = Some(Box::pin(async move {
                let mut out = fut.await?;
                out.location = location;
                Ok(out)
            }));
        }
        Ok(resp)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.require_upload(&req.input.upload_id)?;
        let upload_id = req.input.upload_id.clone();
        let resp = self.inner.abort_multipart_upload(req).await?;
        self.forget_upload(&upload_id);
        Ok(resp)
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        let bucket = req.input.bucket.clone();
        let prefix = req.input.prefix.clone().unwrap_or_default();
        let uploads: Vec<_> = self
            .open_uploads(&bucket)
            .await?
            .into_iter()
            .filter(|u| u.key.as_deref().is_some_and(|k| k.starts_with(&prefix)))
            .collect();
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(bucket),
            uploads: Some(uploads),
            is_truncated: Some(false),
            ..Default::default()
        }))
    }
}
}
