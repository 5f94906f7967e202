//! The `#[wasm_bindgen]` surface: `Uploader`, its options, and `UploadError`.
//! The options are checked once by the module's JavaScript (src/glue.js)
//! and turned into engine types here ([`options`]); engine errors are turned
//! into a JS `UploadError` here, once ([`errors`]); the TypeScript
//! declarations are in [`types`]. Each upload is a [`Run`] that the glue's
//! `drive` carries out.

#[allow(unused_imports)]
use crate::prelude::*;

mod errors;
mod options;
mod types;

use alloc::rc::Rc;

use js_sys::Promise;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Blob};

use crate::backend::{Backend, Call, CallError, Reply, Req, js_object as object};
use crate::browser::budget::Budget;
use crate::browser::driver::{Job, Run, Tag, num};
use crate::engine::adapt::{ADAPT_START, Window};
use crate::engine::{Config, ErrorCode, UploadError};
pub(crate) use errors::{client_token, to_js_error};
use options::*;

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// Runs upload `run` of `file` (src/glue.js): its promise, with
    /// `pause()`, `resume()` and `abort()`.
    fn drive(
        run: Run,
        file: &Blob,
        signal: Option<AbortSignal>,
        on: JsValue,
        with_credentials: bool,
        group: &JsValue,
    ) -> Promise;
    /// The runs of one `Uploader`, which share its budget.
    fn group() -> JsValue;
    /// A promise of an `Uploader` method's call's result (`Call::outcome`).
    #[wasm_bindgen(js_name = apiCall)]
    fn api_call(call: Call, what: u8) -> Promise;
    /// Aborts the multipart upload of journal entry `id` and forgets the
    /// entry: a promise of whether there was one (`discardResumable`).
    fn discard(api: Api, id: &str) -> Promise;
    /// Discards the entries of `label` untouched for more than `ttl` ms.
    fn sweep(api: Api, label: &str, ttl: f64);
    /// The listing of `resumableUploads()` (a promise of its array).
    #[wasm_bindgen(js_name = journalList)]
    fn journal_list(endpoint: &str) -> Promise;
}

/// Uploads files to S3 through presigned URLs from the application's backend.
#[wasm_bindgen]
pub struct Uploader {
    backend: Rc<Backend>,
    cfg: Config,
    with_credentials: bool,
    budget: Rc<Budget>,
    group: JsValue,
}

/// The backend, for the glue's journal work (`discard`).
#[wasm_bindgen(skip_typescript)]
pub struct Api(Rc<Backend>);

#[wasm_bindgen]
impl Api {
    /// The abort call of the journal entry `text`: false when it is not an
    /// entry, true when it has no multipart upload to abort.
    #[wasm_bindgen(js_name = discardCall)]
    pub fn discard_call(&self, text: Option<String>) -> JsValue {
        match text.and_then(|t| crate::resume::Entry::from_json(&t)) {
            None => JsValue::FALSE,
            Some(e) if e.upload_id.is_empty() => JsValue::TRUE,
            Some(e) => self.0.call(Req::Abort { key: &e.key, upload_id: &e.upload_id }, Tag::Api).into(),
        }
    }
}

#[wasm_bindgen]
impl Call {
    /// The result of an `Uploader` method's call (`what`: 0 `downloadUrl`,
    /// 1 `listParts`, 2 the abort of `discardResumable`); errors become
    /// `UploadError`s (code `BackendError` where it might pass later).
    pub fn outcome(&mut self, what: u8) -> Result<JsValue, JsValue> {
        let (result, _) = self.take();
        let value = match (what, result) {
            (0, Ok(Reply::Url(url))) => Ok(JsValue::from_str(&url)),
            (1, Ok(Reply::Parts(parts))) => {
                let arr = js_sys::Array::new();
                for p in parts {
                    arr.push(&object(&[
                        ("PartNumber", JsValue::from(p.part_number)),
                        ("ETag", JsValue::from_str(&p.etag)),
                        ("Size", num(p.size)),
                    ]));
                }
                Ok(arr.into())
            }
            // Already gone is as good as deleted.
            (2, Ok(_)) => Ok(JsValue::TRUE),
            (2, Err(CallError::Rejected(e))) if e.status == Some(404) => Ok(JsValue::TRUE),
            (_, Ok(_)) => Err(crate::backend::mismatched()),
            (_, Err(e)) => Err(e),
        };
        value.map_err(|e| match e {
            CallError::Rejected(e) => to_js_error(&e),
            CallError::Transient(f) => {
                let doing = ["getting the download URL", "listing the parts", "discarding the upload"];
                let mut e = f.into_error(doing[usize::from(what.min(2))]);
                e.code = ErrorCode::BackendError;
                to_js_error(&e)
            }
        })
    }
}

#[wasm_bindgen]
impl Uploader {
    /// Creates an uploader; throws an `UploadError` (code `InvalidOptions`) naming a bad option.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "UploaderOptions")] options: JsValue,
    ) -> Result<Uploader, JsValue> {
        let (backend, cfg, with_credentials) = parse_uploader_options(&options)?;
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
        sweep(Api(backend.clone()), &backend.label(), crate::resume::DEFAULT_TTL_MS as f64);
        Ok(Self { backend, cfg, with_credentials, budget, group: group() })
    }

    /// Uploads `file` (a `File` or `Blob`). Returns a promise of the result
    /// with `pause()`, `resume()` and `abort()` methods.
    #[wasm_bindgen(unchecked_return_type = "UploadHandle")]
    pub fn upload(
        &self,
        file: &Blob,
        #[wasm_bindgen(unchecked_param_type = "UploadOptions")] options: JsValue,
    ) -> Promise {
        self.start(file, &options).unwrap_or_else(|e| Promise::reject(&e))
    }

    /// A presigned GET URL for `key`, from the backend.
    #[wasm_bindgen(js_name = downloadUrl, unchecked_return_type = "Promise<string>")]
    pub fn download_url(&self, key: String) -> Promise {
        api_call(self.backend.call(Req::Download { key: &key }, Tag::Api), 0)
    }

    /// The parts S3 holds for a multipart upload, as `[{ PartNumber, ETag, Size }]`.
    #[wasm_bindgen(js_name = listParts, unchecked_return_type = "Promise<Array<{ PartNumber: number; ETag: string; Size: number }>>")]
    pub fn list_parts(&self, key: String, #[wasm_bindgen(js_name = uploadId)] upload_id: String) -> Promise {
        api_call(self.backend.call(Req::ListParts { key: &key, upload_id: &upload_id }, Tag::Api), 1)
    }

    /// Uploads of this backend that a page reload interrupted and that
    /// `upload()` of the same file (same key) would resume:
    /// `[{ id, key, name, size, uploadId, partsDone, createdAt, updatedAt }]`.
    #[wasm_bindgen(js_name = resumableUploads, unchecked_return_type = "Promise<Array<ResumableUpload>>")]
    pub fn resumable_uploads(&self) -> Promise {
        journal_list(&self.backend.label())
    }

    /// Gives up a resumable upload: deletes its multipart upload on the backend
    /// and its journal entry. Resolves to true when there was such an entry.
    #[wasm_bindgen(js_name = discardResumable, unchecked_return_type = "Promise<boolean>")]
    pub fn discard_resumable(&self, id: String) -> Promise {
        discard(Api(self.backend.clone()), &id)
    }
}

impl Uploader {
    fn start(&self, file: &Blob, options: &JsValue) -> Result<Promise, JsValue> {
        let o = upload_options(options, &file.type_())?;
        let signal = o.get(3).dyn_into::<AbortSignal>().ok();
        if signal.as_ref().is_some_and(AbortSignal::aborted) {
            return Err(to_js_error(&UploadError::aborted()));
        }
        let job = Job {
            key: o.get(0).as_string().unwrap_or_default(),
            content_type: o.get(1).as_string().unwrap_or_default(),
            resume: o.get(2).is_truthy(),
            cfg: self.cfg.clone(),
        };
        let run = Run::new(job, self.backend.clone(), self.budget.clone());
        Ok(drive(run, file, signal, o.get(4), self.with_credentials, &self.group))
    }
}
