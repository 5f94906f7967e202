//! The `#[wasm_bindgen]` surface: `Uploader`, its options, and `UploadError`.
//! JS values are checked here, once, and turned into engine types; engine
//! errors are turned into a JS `UploadError` here, once.

use std::rc::Rc;

use futures::FutureExt;
use futures::channel::mpsc::unbounded;
use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Blob};

use crate::backend::{
    Backend, CallError, HeaderSource, Hooks, HttpBackend, Protocol, fresh_signal, header_pairs, js_object as object,
};
use crate::browser::budget::Budget;
use crate::browser::driver::{self, Control, Job, Observer};
use crate::browser::{journal, resuming};
use crate::engine::plan::MAX_OBJECT_SIZE;
use crate::engine::{Config, ErrorCode, Progress, RetryPolicy, Upload, UploadError};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Options of `new Uploader(options)`. */
export interface UploaderOptions {
  /** Base URL of the backend: REST paths are appended (`/uploads/...`); for `protocol: 'lambda'` the URL that takes the envelope. */
  endpoint: string;
  /** `'rest'` (default) or `'lambda'`. */
  protocol?: 'rest' | 'lambda';
  /** Wanted part size in bytes, 5 MiB..5 GiB (default 8 MiB); grows when a file would need over 10,000 parts. */
  partSize?: number;
  /** Files of at most this many bytes go as one presigned PUT (default: one part, 8 MiB). */
  multipartThreshold?: number;
  /** Part PUTs in flight at most, 1..16 (default 4). */
  concurrency?: number;
  /** Delays in ms before the 1st, 2nd, ... retry of a part (default [0, 1000, 3000, 5000, 10000]). */
  retryDelays?: number[];
  /** A part PUT with no upload progress for this many ms is cancelled and retried (default 60000; 0: never). */
  partTimeout?: number;
  /** Send cookies with backend calls and part PUTs. */
  withCredentials?: boolean;
  /** Extra headers for backend calls (for example an Authorization header). */
  headers?: Record<string, string>;
}

/** Progress of one upload. `bytesSent` never goes backwards. */
export interface UploadProgress {
  bytesSent: number;
  bytesTotal: number;
  partsDone: number;
  partsTotal: number;
  /** 0..100 */
  percent: number;
  /** Bytes per second, moving average (0 until measured). */
  speed: number;
  /** Seconds left at the current speed, null until measured. */
  eta: number | null;
}

/** Options of `uploader.upload(file, options)`. */
export interface UploadOptions {
  /** Object key, for example `"uploads/video.mp4"`. */
  key: string;
  /** MIME type (default: the file's type, else application/octet-stream). */
  contentType?: string;
  /** Aborts the upload when signalled. */
  signal?: AbortSignal;
  /** Resume an upload of the same file (same key) that a page reload interrupted (default true). */
  resume?: boolean;
  /** Called before a resumed upload goes on. */
  onResume?: (info: { uploadId: string; partsDone: number; bytesDone: number }) => void;
  onProgress?: (progress: UploadProgress) => void;
  onPartComplete?: (part: { partNumber: number; etag: string; size: number }) => void;
  onRetry?: (retry: { partNumber: number | null; attempt: number; delay: number; error: UploadError }) => void;
}

/** An upload a page reload interrupted, from `uploader.resumableUploads()`. */
export interface ResumableUpload {
  /** For `uploader.discardResumable(id)`. */
  id: string;
  key: string;
  name: string;
  size: number;
  uploadId: string;
  partsDone: number;
  createdAt: number;
  updatedAt: number;
}

/** A finished upload. */
export interface UploadResult {
  key: string;
  /** null for a file sent as one PUT. */
  uploadId: string | null;
  etag: string | null;
  location: string | null;
  size: number;
}

/** The promise of an upload, with controls. */
export interface UploadHandle extends Promise<UploadResult> {
  /** Stops sending; parts already stored are kept. */
  pause(): void;
  /** Goes on after `pause()`. */
  resume(): void;
  /** Stops, deletes the multipart upload on the backend, rejects with code "Aborted". */
  abort(): void;
}

/** Every error of this package. */
export interface UploadError extends Error {
  name: 'UploadError';
  code: 'InvalidOptions' | 'FileTooLarge' | 'BackendError' | 'S3Error' | 'EtagNotExposed' | 'NetworkError' | 'Aborted';
  status: number | null;
  partNumber: number | null;
  field: string | null;
  cause?: unknown;
}
"#;

#[wasm_bindgen(inline_js = r#"
export class UploadError extends Error {
  constructor(message, code, status, partNumber, field, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'UploadError';
    this.code = code;
    this.status = status;
    this.partNumber = partNumber;
    this.field = field;
  }
}
export function makeUploadError(message, code, status, partNumber, field, cause) {
  return new UploadError(message, code, status, partNumber, field, cause);
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = makeUploadError)]
    fn make_upload_error(
        message: &str,
        code: &str,
        status: JsValue,
        part_number: JsValue,
        field: JsValue,
        cause: JsValue,
    ) -> JsValue;
}

/// The JS `UploadError` for an engine error.
pub fn to_js_error(e: &UploadError) -> JsValue {
    let opt_num = |n: Option<u16>| n.map_or(JsValue::NULL, JsValue::from);
    make_upload_error(
        &e.message,
        e.code.as_str(),
        opt_num(e.status),
        opt_num(e.part_number),
        e.field.as_deref().map_or(JsValue::NULL, JsValue::from_str),
        e.cause.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str),
    )
}

// ------------------------------------------------------------ option reading

struct Opts<'a> {
    obj: &'a JsValue,
    what: &'a str,
}

impl<'a> Opts<'a> {
    fn new(obj: &'a JsValue, what: &'a str, known: &[&str]) -> Result<Self, UploadError> {
        if !obj.is_object() || obj.is_function() {
            return Err(UploadError::invalid_option(
                what,
                format!("{what} must be an object, like {{ key: \"uploads/file.bin\" }}; got {}", describe(obj)),
            ));
        }
        for name in Object::keys(obj.unchecked_ref::<Object>()).iter().filter_map(|k| k.as_string()) {
            if !known.contains(&name.as_str()) {
                let hint = known
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(&name))
                    .map(|k| format!("did you mean {k}? "))
                    .unwrap_or_default();
                return Err(UploadError::invalid_option(
                    &name,
                    format!("{what} has an unknown option {name:?}: {hint}known options are {}", known.join(", ")),
                ));
            }
        }
        Ok(Self { obj, what })
    }

    fn get(&self, name: &str) -> Option<JsValue> {
        Reflect::get(self.obj, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<String>, UploadError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_string().map(Some).ok_or_else(|| {
                UploadError::invalid_option(
                    name,
                    format!("{}.{name} must be a string; got {}", self.what, describe(&v)),
                )
            }),
        }
    }

    fn required_string(&self, name: &str, example: &str) -> Result<String, UploadError> {
        match self.string(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s),
            _ => Err(UploadError::invalid_option(
                name,
                format!("{}.{name} is required: give a non-empty string such as {example:?}", self.what),
            )),
        }
    }

    fn integer(&self, name: &str, min: u64, max: u64, unit: &str) -> Result<Option<u64>, UploadError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.as_f64() {
            Some(n) if n.is_finite() && n.fract() == 0.0 && n >= min as f64 && n <= max as f64 => Ok(Some(n as u64)),
            _ => Err(UploadError::invalid_option(
                name,
                format!(
                    "{}.{name} must be a whole number of {unit} from {min} to {max}; got {}",
                    self.what,
                    describe(&v)
                ),
            )),
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, UploadError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        v.as_bool().map(Some).ok_or_else(|| {
            UploadError::invalid_option(
                name,
                format!("{}.{name} must be true or false; got {}", self.what, describe(&v)),
            )
        })
    }

    fn function(&self, name: &str) -> Result<Option<Function>, UploadError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        v.dyn_into::<Function>().map(Some).map_err(|v| {
            UploadError::invalid_option(name, format!("{}.{name} must be a function; got {}", self.what, describe(&v)))
        })
    }
}

fn describe(v: &JsValue) -> String {
    if v.is_undefined() {
        "undefined".into()
    } else if v.is_null() {
        "null".into()
    } else if let Some(s) = v.as_string() {
        format!("the string {s:?}")
    } else if let Some(n) = v.as_f64() {
        format!("{n}")
    } else if v.is_function() {
        "a function".into()
    } else if Array::is_array(v) {
        "an array".into()
    } else {
        format!("a value of type {}", v.js_typeof().as_string().unwrap_or_default())
    }
}

const UPLOADER_OPTIONS: &[&str] = &[
    "endpoint",
    "protocol",
    "partSize",
    "multipartThreshold",
    "concurrency",
    "retryDelays",
    "partTimeout",
    "withCredentials",
    "headers",
];
const UPLOAD_OPTIONS: &[&str] =
    &["key", "contentType", "signal", "resume", "onProgress", "onPartComplete", "onRetry", "onResume"];

fn parse_uploader_options(options: &JsValue) -> Result<(Backend, Config, bool), UploadError> {
    let o = Opts::new(options, "options", UPLOADER_OPTIONS)?;
    let with_credentials = o.boolean("withCredentials")?.unwrap_or(false);
    let headers = match o.get("headers") {
        None => HeaderSource::Fixed(Vec::new()),
        Some(h) if h.is_function() => HeaderSource::Function(h.unchecked_into()),
        Some(h) => HeaderSource::Fixed(header_pairs(&h)?),
    };
    let protocol = o.get("protocol");
    let backend = match protocol.as_ref().map(|p| (p.as_string(), p)) {
        Some((None, p)) if p.is_object() => {
            if o.get("endpoint").is_some() {
                return Err(UploadError::invalid_option(
                    "endpoint",
                    "options.endpoint and hooks in options.protocol exclude each other: the hooks make the backend calls, drop endpoint",
                ));
            }
            Backend::Hooks(Hooks::from_js(p)?)
        }
        Some((Some(name), _)) if name != "rest" && name != "lambda" => {
            return Err(UploadError::invalid_option(
                "protocol",
                format!(
                    "options.protocol is {name:?}; use \"rest\" (the /uploads/... paths), \"lambda\" (one URL taking the envelope) \
                     or an object of hooks (createMultipartUpload, signPart, completeMultipartUpload, abortMultipartUpload)"
                ),
            ));
        }
        Some((None, p)) => {
            return Err(UploadError::invalid_option(
                "protocol",
                format!("options.protocol must be \"rest\", \"lambda\" or an object of hooks; got {}", describe(p)),
            ));
        }
        other => {
            let lambda = other.is_some_and(|(n, _)| n.as_deref() == Some("lambda"));
            let endpoint = o.required_string("endpoint", "/api")?;
            let protocol = if lambda { Protocol::Lambda } else { Protocol::Rest };
            Backend::Http(HttpBackend::new(&endpoint, protocol, with_credentials, headers))
        }
    };
    let mut cfg = Config::default();
    if let Some(ps) = o.integer("partSize", 5 * 1024 * 1024, 5 * 1024 * 1024 * 1024, "bytes (5 MiB to 5 GiB)")? {
        cfg.part_size = ps;
        cfg.multipart_threshold = Some(ps);
    }
    if let Some(t) = o.integer("multipartThreshold", 0, MAX_OBJECT_SIZE, "bytes")? {
        cfg.multipart_threshold = Some(t);
    }
    if !backend.can_presign_put() {
        // Hooks without signPut: every file goes multipart.
        cfg.multipart_threshold = None;
    }
    if let Some(c) = o.integer("concurrency", 1, 16, "requests")? {
        cfg.concurrency = c as usize;
    }
    if let Some(t) = o.integer("partTimeout", 0, 3_600_000, "milliseconds")? {
        cfg.part_timeout_ms = t;
    }
    if let Some(v) = o.get("retryDelays") {
        cfg.retry = RetryPolicy { delays_ms: parse_delays(&v)?, ..RetryPolicy::default() };
    }
    cfg.validate()?;
    Ok((backend, cfg, with_credentials))
}

fn parse_delays(v: &JsValue) -> Result<Vec<u64>, UploadError> {
    let bad = || {
        UploadError::invalid_option(
            "retryDelays",
            format!(
                "options.retryDelays must be an array of at most 100 delays in milliseconds (0 to 600000), like [0, 1000, 3000]; got {}",
                describe(v)
            ),
        )
    };
    if !Array::is_array(v) {
        return Err(bad());
    }
    let arr: &Array = v.unchecked_ref();
    if arr.length() > 100 {
        return Err(bad());
    }
    arr.iter()
        .map(|d| match d.as_f64() {
            Some(n) if n.is_finite() && (0.0..=600_000.0).contains(&n) => Ok(n as u64),
            _ => Err(bad()),
        })
        .collect()
}

// ------------------------------------------------------------ Uploader

/// Uploads files to S3 through presigned URLs from the application's backend.
#[wasm_bindgen]
pub struct Uploader {
    backend: Rc<Backend>,
    cfg: Config,
    with_credentials: bool,
    budget: Rc<Budget>,
}

struct JsObserver {
    on_progress: Option<Function>,
    on_part_complete: Option<Function>,
    on_retry: Option<Function>,
    on_resume: Option<Function>,
}

/// A JS number for a byte count (exact up to 2^53).
fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

impl Observer for JsObserver {
    fn progress(&self, p: &Progress) {
        if let Some(f) = &self.on_progress {
            let eta = p.eta_seconds.map_or(JsValue::NULL, JsValue::from_f64);
            let v = object(&[
                ("bytesSent", num(p.bytes_sent)),
                ("bytesTotal", num(p.bytes_total)),
                ("partsDone", JsValue::from(p.parts_done)),
                ("partsTotal", JsValue::from(p.parts_total)),
                ("percent", JsValue::from_f64(p.fraction() * 100.0)),
                ("speed", JsValue::from_f64(p.speed)),
                ("eta", eta),
            ]);
            let _ = f.call1(&JsValue::NULL, &v);
        }
    }

    fn part_complete(&self, part: u16, etag: &str, size: u64) {
        if let Some(f) = &self.on_part_complete {
            let v =
                object(&[("partNumber", JsValue::from(part)), ("etag", JsValue::from_str(etag)), ("size", num(size))]);
            let _ = f.call1(&JsValue::NULL, &v);
        }
    }

    fn retrying(&self, part: Option<u16>, attempt: u32, delay_ms: u64, reason: &UploadError) {
        if let Some(f) = &self.on_retry {
            let v = object(&[
                ("partNumber", part.map_or(JsValue::NULL, JsValue::from)),
                ("attempt", JsValue::from(attempt)),
                ("delay", num(delay_ms)),
                ("error", to_js_error(reason)),
            ]);
            let _ = f.call1(&JsValue::NULL, &v);
        }
    }

    fn resumed(&self, upload_id: &str, parts: usize, bytes: u64) {
        if let Some(f) = &self.on_resume {
            let info = object(&[
                ("uploadId", JsValue::from_str(upload_id)),
                ("partsDone", JsValue::from(parts as u32)),
                ("bytesDone", num(bytes)),
            ]);
            let _ = f.call1(&JsValue::NULL, &info);
        }
    }
}

fn rejected(e: &UploadError) -> Promise {
    Promise::reject(&to_js_error(e))
}

#[wasm_bindgen]
impl Uploader {
    /// Creates an uploader; throws an `UploadError` (code `InvalidOptions`) naming a bad option.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "UploaderOptions")] options: JsValue,
    ) -> Result<Uploader, JsValue> {
        let (backend, cfg, with_credentials) = parse_uploader_options(&options).map_err(|e| to_js_error(&e))?;
        let budget = Rc::new(Budget::new(cfg.concurrency));
        Ok(Self { backend: Rc::new(backend), cfg, with_credentials, budget })
    }

    /// Uploads `file` (a `File` or `Blob`). Returns a promise of the result
    /// with `pause()`, `resume()` and `abort()` methods.
    #[wasm_bindgen(unchecked_return_type = "UploadHandle")]
    pub fn upload(
        &self,
        file: &Blob,
        #[wasm_bindgen(unchecked_param_type = "UploadOptions")] options: JsValue,
    ) -> Promise {
        match self.start(file, &options) {
            Ok(p) => p,
            Err(e) => rejected(&e),
        }
    }

    /// A presigned GET URL for `key`, from the backend.
    #[wasm_bindgen(js_name = downloadUrl, unchecked_return_type = "Promise<string>")]
    pub fn download_url(&self, key: String) -> Promise {
        let backend = self.backend.clone();
        backend_promise("getting the download URL", async move {
            backend.download_url(&key).await.map(|url| JsValue::from_str(&url))
        })
    }

    /// The parts S3 holds for a multipart upload, as `[{ PartNumber, ETag, Size }]`.
    #[wasm_bindgen(js_name = listParts, unchecked_return_type = "Promise<Array<{ PartNumber: number; ETag: string; Size: number }>>")]
    pub fn list_parts(&self, key: String, #[wasm_bindgen(js_name = uploadId)] upload_id: String) -> Promise {
        let backend = self.backend.clone();
        backend_promise("listing the parts", async move {
            let signal = fresh_signal()?;
            let parts = backend.list_parts(&key, &upload_id, &signal).await?;
            let arr = Array::new();
            for p in parts {
                arr.push(&object(&[
                    ("PartNumber", JsValue::from(p.part_number)),
                    ("ETag", JsValue::from_str(&p.etag)),
                    ("Size", num(p.size)),
                ]));
            }
            Ok(arr.into())
        })
    }
}

#[wasm_bindgen]
impl Uploader {
    /// Uploads of this backend that a page reload interrupted and that
    /// `upload()` of the same file (same key) would resume:
    /// `[{ id, key, name, size, uploadId, partsDone, createdAt, updatedAt }]`.
    #[wasm_bindgen(js_name = resumableUploads, unchecked_return_type = "Promise<Array<ResumableUpload>>")]
    pub fn resumable_uploads(&self) -> Promise {
        let label = self.backend.label();
        wasm_bindgen_futures::future_to_promise(async move {
            let arr = Array::new();
            for e in journal::all().await.into_iter().filter(|e| e.endpoint == label) {
                arr.push(&object(&[
                    ("id", JsValue::from_str(&e.id)),
                    ("key", JsValue::from_str(&e.key)),
                    ("name", JsValue::from_str(&e.name)),
                    ("size", num(e.size)),
                    ("uploadId", JsValue::from_str(&e.upload_id)),
                    ("partsDone", JsValue::from(e.parts.len() as u32)),
                    ("createdAt", num(e.created_ms)),
                    ("updatedAt", num(e.updated_ms)),
                ]));
            }
            Ok(arr.into())
        })
    }

    /// Gives up a resumable upload: deletes its multipart upload on the backend
    /// and its journal entry. Resolves to true when there was such an entry.
    #[wasm_bindgen(js_name = discardResumable, unchecked_return_type = "Promise<boolean>")]
    pub fn discard_resumable(&self, id: String) -> Promise {
        let backend = self.backend.clone();
        backend_promise("discarding the upload", async move {
            let Some(entry) = journal::get(&id).await else { return Ok(JsValue::FALSE) };
            if !entry.upload_id.is_empty() {
                let signal = fresh_signal()?;
                match backend.abort(&entry.key, &entry.upload_id, &signal).await {
                    // Already gone is as good as deleted.
                    Err(CallError::Rejected(e)) if e.status == Some(404) => {}
                    other => other?,
                }
            }
            journal::delete(&id).await;
            Ok(JsValue::TRUE)
        })
    }
}

/// A promise of a backend call's result; errors become `UploadError`s (code `BackendError`).
fn backend_promise(
    what: &'static str,
    f: impl std::future::Future<Output = Result<JsValue, CallError>> + 'static,
) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        f.await.map_err(|e| match e {
            CallError::Rejected(e) => to_js_error(&e),
            CallError::Transient(f) => {
                let mut e = f.into_error(what);
                e.code = ErrorCode::BackendError;
                to_js_error(&e)
            }
        })
    })
}

impl Uploader {
    fn start(&self, file: &Blob, options: &JsValue) -> Result<Promise, UploadError> {
        let o = Opts::new(options, "upload options", UPLOAD_OPTIONS)?;
        let key = o.required_string("key", "uploads/photo.jpg")?;
        let content_type = o.string("contentType")?.filter(|s| !s.is_empty()).unwrap_or_else(|| {
            Some(file.type_()).filter(|t| !t.is_empty()).unwrap_or_else(|| "application/octet-stream".into())
        });
        let observer = JsObserver {
            on_progress: o.function("onProgress")?,
            on_part_complete: o.function("onPartComplete")?,
            on_retry: o.function("onRetry")?,
            on_resume: o.function("onResume")?,
        };
        let resume = o.boolean("resume")?.unwrap_or(true);
        let signal = match o.get("signal") {
            None => None,
            Some(s) => Some(s.dyn_into::<AbortSignal>().map_err(|v| {
                UploadError::invalid_option(
                    "signal",
                    format!("upload options.signal must be an AbortSignal; got {}", describe(&v)),
                )
            })?),
        };
        let size = file.size() as u64;
        let seed = (js_sys::Math::random() * u64::MAX as f64) as u64;
        let upload = Upload::new(size, self.cfg.clone(), seed)?;
        let (ctl_tx, ctl_rx) = unbounded::<Control>();
        // The caller's signal is listened to while the upload runs; the
        // listener is removed when it ends (the signal may outlive many uploads).
        let mut listener = None;
        if let Some(signal) = signal {
            if signal.aborted() {
                return Err(UploadError::aborted());
            }
            let tx = ctl_tx.clone();
            let on_abort = Closure::<dyn FnMut()>::new(move || {
                let _ = tx.unbounded_send(Control::Abort);
            });
            let _ = signal.add_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
            listener = Some((signal, on_abort));
        }
        let job = Job { file: file.clone(), key: key.clone(), content_type, with_credentials: self.with_credentials };
        let (backend, budget, cfg) = (self.backend.clone(), self.budget.clone(), self.cfg.clone());
        let lookup = (resume && !upload.plan().single).then(|| {
            let subject = resuming::Subject {
                file: job.file.clone(),
                key: key.clone(),
                content_type: job.content_type.clone(),
                cfg: cfg.clone(),
                seed,
            };
            resuming::look_up(subject, backend.clone()).boxed_local()
        });
        let observer = Rc::new(observer);
        let promise = wasm_bindgen_futures::future_to_promise(async move {
            let run = driver::run(upload, job, backend, budget, observer, lookup, ctl_rx);
            let outcome = run.await;
            if let Some((signal, on_abort)) = listener {
                let _ = signal.remove_event_listener_with_callback("abort", on_abort.as_ref().unchecked_ref());
            }
            match outcome {
                Ok(out) => Ok(object(&[
                    ("key", JsValue::from_str(&key)),
                    ("uploadId", out.upload_id.as_deref().map_or(JsValue::NULL, JsValue::from_str)),
                    ("etag", out.etag.as_deref().map_or(JsValue::NULL, JsValue::from_str)),
                    ("location", out.location.as_deref().map_or(JsValue::NULL, JsValue::from_str)),
                    ("size", num(out.size)),
                ])),
                Err(e) => Err(to_js_error(&e)),
            }
        });
        for (name, ctl) in [("pause", Control::Pause), ("resume", Control::Resume), ("abort", Control::Abort)] {
            let tx = ctl_tx.clone();
            let f = Closure::<dyn Fn()>::new(move || {
                let _ = tx.unbounded_send(ctl);
            });
            let _ = Reflect::set(&promise, &JsValue::from_str(name), &f.into_js_value());
        }
        Ok(promise)
    }
}
