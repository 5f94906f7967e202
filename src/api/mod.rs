//! The `#[wasm_bindgen]` surface: `Uploader`, its options, and `UploadError`.
//! JS values are checked here, once, and turned into engine types
//! ([`options`]); engine errors are turned into a JS `UploadError` here, once
//! ([`errors`]); the TypeScript declarations are in [`types`].

#[allow(unused_imports)]
use crate::prelude::*;

mod errors;
mod options;
mod types;

use alloc::rc::Rc;

use crate::chan::unbounded;
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Blob};

use crate::backend::{Backend, CallError, fresh_signal, js_object as object};
use crate::browser::budget::Budget;
use crate::browser::driver::{self, Control, Job, Observer};
use crate::browser::journal;
use crate::engine::adapt::{ADAPT_START, Window};
use crate::engine::coordinator::{Coordinator, Subject};
use crate::engine::{Config, ErrorCode, Progress, Upload, UploadError};
use errors::to_js_error;
pub(crate) use errors::{call_hook, fetch_text};
use options::*;

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
        let window = if cfg.adaptive {
            Window::adaptive(cfg.min_concurrency, ADAPT_START, cfg.concurrency)
        } else {
            Window::fixed(cfg.concurrency)
        };
        let budget = Rc::new(Budget::new(window));
        let backend = Rc::new(backend);
        // The journal's expired entries of this backend: their uploads are
        // aborted and they are forgotten (an abort that fails for now keeps
        // its entry for a later sweep), so that an upload interrupted and
        // never taken up again is not left open.
        let b = backend.clone();
        let _ = promise(async move {
            let ttl = crate::resume::DEFAULT_TTL_MS as f64;
            if let Ok(ids) = wasm_bindgen_futures::JsFuture::from(journal::expired(&b.label(), ttl)).await {
                for id in Array::from(&ids).iter().filter_map(|v| v.as_string()) {
                    let _ = wasm_bindgen_futures::JsFuture::from(discard(b.clone(), id)).await;
                }
            }
            Ok(JsValue::UNDEFINED)
        });
        Ok(Self { backend, cfg, with_credentials, budget })
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
            let signal = fresh_signal()?;
            match backend.call(crate::backend::Req::Download { key: &key }, &signal).await? {
                crate::backend::Reply::Url(url) => Ok(JsValue::from_str(&url)),
                _ => Err(crate::backend::mismatched()),
            }
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
        journal::list(&self.backend.label())
    }

    /// Gives up a resumable upload: deletes its multipart upload on the backend
    /// and its journal entry. Resolves to true when there was such an entry.
    #[wasm_bindgen(js_name = discardResumable, unchecked_return_type = "Promise<boolean>")]
    pub fn discard_resumable(&self, id: String) -> Promise {
        discard(self.backend.clone(), id)
    }
}

/// Aborts the multipart upload of journal entry `id` and forgets the entry:
/// a promise of whether there was one (`discardResumable`, and the sweep of
/// expired entries). An abort that fails keeps the entry.
fn discard(backend: Rc<Backend>, id: String) -> Promise {
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

/// A promise of `f`'s result. The future is boxed first, so that the
/// promise glue is compiled once for every method, not once per future type.
fn promise(f: impl core::future::Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let f: core::pin::Pin<Box<dyn core::future::Future<Output = Result<JsValue, JsValue>>>> = Box::pin(f);
    wasm_bindgen_futures::future_to_promise(f)
}

/// A promise of a backend call's result; errors become `UploadError`s (code
/// `BackendError`). Boxed first, like [`promise`]: the error mapping is
/// compiled once, not once per method.
fn backend_promise(
    what: &'static str,
    f: impl core::future::Future<Output = Result<JsValue, CallError>> + 'static,
) -> Promise {
    let f: core::pin::Pin<Box<dyn core::future::Future<Output = Result<JsValue, CallError>>>> = Box::pin(f);
    backend_promise_boxed(what, f)
}

fn backend_promise_boxed(
    what: &'static str,
    f: core::pin::Pin<Box<dyn core::future::Future<Output = Result<JsValue, CallError>>>>,
) -> Promise {
    promise(async move {
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
        let (file, cfg, endpoint) = (file.clone(), self.cfg.clone(), self.backend.label());
        let with_credentials = self.with_credentials;
        let (backend, budget) = (self.backend.clone(), self.budget.clone());
        let observer = Rc::new(observer);
        let promise = promise(async move {
            // The File is touched (its size and date are synchronous calls in
            // Chromium) once it is this upload's turn to start.
            let size = crate::browser::hashing::turn(&file).await.unwrap_or_else(|| file.size()) as u64;
            let seed = (js_sys::Math::random() * u64::MAX as f64) as u64;
            let (streams, ms_per_mib) = budget.entered();
            let outcome = match Upload::new(size, cfg.for_file(size, streams, ms_per_mib), seed) {
                Err(e) => Err(e),
                Ok(upload) => {
                    let (name, last_modified) = file
                        .dyn_ref::<web_sys::File>()
                        .map(|f| (f.name(), f.last_modified() as u64))
                        .unwrap_or_default();
                    let subject = Subject {
                        endpoint,
                        key: key.clone(),
                        name,
                        size,
                        last_modified,
                        content_type: content_type.clone(),
                        client_token: errors::client_token(),
                    };
                    let coord = Coordinator::new(upload, subject, cfg.clone(), seed, resume, driver::now_ms());
                    let job = Job {
                        file,
                        size,
                        key: key.clone(),
                        content_type,
                        with_credentials,
                        checksum: cfg.checksum,
                        client_token: Default::default(),
                    };
                    driver::run(coord, job, backend, budget.clone(), observer, ctl_rx).await
                }
            };
            budget.left();
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
                    (
                        "checksum",
                        out.checksum.as_deref().map_or(JsValue::NULL, |c| {
                            object(&[("algorithm", JsValue::from_str("CRC32")), ("value", JsValue::from_str(c))])
                        }),
                    ),
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
