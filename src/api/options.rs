//! Options from JS, checked once (src/glue.js, `uploaderOptions` and
//! `uploadOptions`: every bad value gets an `InvalidOptions` error that names
//! the option and what it should be); here the checked values become the
//! backend and the engine's [`Config`], which checks what the values mean
//! together ([`Config::validate`]).

#[allow(unused_imports)]
use crate::prelude::*;

use js_sys::Array;
use wasm_bindgen::prelude::*;

use crate::backend::{Backend, Hooks, HttpBackend, Protocol};
use crate::engine::adapt::{ADAPT_MAX, ADAPT_MIN};
use crate::engine::checksum::Algorithm;
use crate::engine::plan::{
    AUTO_GROW_MAX, AUTO_PART_MAX, AUTO_PART_MIN, AUTO_ROUND_MAX, DEFAULT_PART_SIZE, MAX_OBJECT_SIZE, MAX_PART_SIZE,
    MIN_PART_SIZE,
};
use crate::engine::{Config, RetryPolicy};

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// `new Uploader(options)`'s options, checked (src/glue.js); throws the `UploadError`.
    #[wasm_bindgen(catch, js_name = uploaderOptions)]
    fn uploader_options(options: &JsValue, limits: &[f64]) -> Result<Array, JsValue>;
    /// `upload(file, options)`'s options, checked: `[key, contentType,
    /// resume, signal, callbacks]`; throws the `UploadError`.
    #[wasm_bindgen(catch, js_name = uploadOptions)]
    pub(super) fn upload_options(options: &JsValue, file_type: &str) -> Result<Array, JsValue>;
}

/// The backend, the engine's configuration and `withCredentials` of `new Uploader(options)`.
pub(super) fn parse_uploader_options(options: &JsValue) -> Result<(Backend, Config, bool), JsValue> {
    const LIMITS: [f64; 8] = [
        MIN_PART_SIZE as f64,
        MAX_PART_SIZE as f64,
        AUTO_PART_MIN as f64,
        AUTO_PART_MAX as f64,
        DEFAULT_PART_SIZE as f64,
        MAX_OBJECT_SIZE as f64,
        ADAPT_MIN as f64,
        ADAPT_MAX as f64,
    ];
    let o = uploader_options(options, &LIMITS)?;
    let num = |i: u32| o.get(i).as_f64();
    let int = |i: u32| num(i).map(|n| n as u64);
    let with_credentials = o.get(2).is_truthy();
    let backend = match num(0) {
        Some(2.0) => Backend::new(Hooks::new(o.get(1), num(5).unwrap_or_default() as u32)),
        kind => {
            let protocol = if kind == Some(1.0) { Protocol::Lambda } else { Protocol::Rest };
            let endpoint = o.get(1).as_string().unwrap_or_default();
            Backend::new(HttpBackend::new(&endpoint, protocol, with_credentials, o.get(3)))
        }
    };
    let backend = backend.scoped(o.get(4).as_string());
    let mut cfg = Config::default();
    // Not given (or `{ min }` alone): the engine picks, 5 to 16 MiB: up to
    // 16 MiB for a medium file that goes in one round, 10 to 16 MiB in
    // whole rounds for a large one (src/engine/plan.rs).
    let min = int(6).unwrap_or(AUTO_PART_MIN);
    let (max, round) = int(7).map_or((AUTO_PART_MAX.max(min), AUTO_ROUND_MAX.max(min)), |max| (max, max));
    (cfg.part_size, cfg.part_size_max, cfg.part_round_max) = (min, max, round);
    // Parts not yet under way grow on a far link: up to 64 MiB, or the given max.
    cfg.part_grow_max = int(7).unwrap_or(AUTO_GROW_MAX.max(min));
    match num(8) {
        Some(t) if t < 0.0 => cfg.multipart_threshold = None,
        Some(t) => cfg.multipart_threshold = Some(t as u64),
        None => {}
    }
    cfg.adaptive = o.get(9).is_truthy();
    if let Some(min) = int(10) {
        cfg.min_concurrency = min as usize;
    }
    if let Some(max) = int(11) {
        cfg.concurrency = max as usize;
    }
    if let Some(t) = int(12) {
        cfg.part_timeout_ms = t;
    }
    match num(13) {
        Some(0.0) => cfg.checksum = None,
        Some(_) => cfg.checksum = Some(Algorithm::Crc32),
        None => {}
    }
    let delays = o.get(14);
    if Array::is_array(&delays) {
        let delays_ms = Array::from(&delays).iter().map(|d| d.as_f64().unwrap_or_default() as u64).collect();
        cfg.retry = RetryPolicy { delays_ms, ..RetryPolicy::default() };
    }
    cfg.validate().map_err(|e| super::to_js_error(&e))?;
    Ok((backend, cfg, with_credentials))
}
