//! Options from JS, checked once: every bad value gets an `InvalidOptions`
//! error that names the option and what it should be.

#[allow(unused_imports)]
use crate::prelude::*;

use js_sys::{Array, Function, Object, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use crate::backend::{Backend, HeaderSource, Hooks, HttpBackend, Protocol, header_pairs};
use crate::engine::adapt::{ADAPT_MAX, ADAPT_MIN};
use crate::engine::checksum::Algorithm;
use crate::engine::plan::{
    AUTO_PART_MAX, AUTO_PART_MIN, DEFAULT_PART_SIZE, MAX_OBJECT_SIZE, MAX_PART_SIZE, MIN_PART_SIZE,
};
use crate::engine::{Config, RetryPolicy, UploadError};
use crate::json::quoted;

pub(super) struct Opts<'a> {
    obj: &'a JsValue,
    what: &'a str,
}

impl<'a> Opts<'a> {
    pub(super) fn new(obj: &'a JsValue, what: &'a str, known: &[&str]) -> Result<Self, UploadError> {
        if !obj.is_object() || obj.is_function() {
            return Err(UploadError::invalid_option(
                what,
                cat!(what, " must be an object, like { key: \"uploads/file.bin\" }; got ", describe(obj)),
            ));
        }
        for name in Object::keys(obj.unchecked_ref::<Object>()).iter().filter_map(|k| k.as_string()) {
            if !known.contains(&name.as_str()) {
                let hint = known
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(&name))
                    .map(|k| cat!("did you mean ", k, "? "))
                    .unwrap_or_default();
                return Err(UploadError::invalid_option(
                    &name,
                    cat!(
                        what,
                        " has an unknown option ",
                        quoted(&name),
                        ": ",
                        hint,
                        "known options are ",
                        crate::join(known, ", ")
                    ),
                ));
            }
        }
        Ok(Self { obj, what })
    }

    pub(super) fn get(&self, name: &str) -> Option<JsValue> {
        Reflect::get(self.obj, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined() && !v.is_null())
    }

    pub(super) fn string(&self, name: &str) -> Result<Option<String>, UploadError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v.as_string().map(Some).ok_or_else(|| {
                UploadError::invalid_option(name, cat!(self.what, ".", name, " must be a string; got ", describe(&v)))
            }),
        }
    }

    pub(super) fn required_string(&self, name: &str, example: &str) -> Result<String, UploadError> {
        match self.string(name)? {
            Some(s) if !s.trim_ascii().is_empty() => Ok(s),
            _ => Err(UploadError::invalid_option(
                name,
                cat!(self.what, ".", name, " is required: give a non-empty string such as ", quoted(example)),
            )),
        }
    }

    pub(super) fn integer(&self, name: &str, min: u64, max: u64, unit: &str) -> Result<Option<u64>, UploadError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.as_f64() {
            Some(n) if n >= min as f64 && n <= max as f64 && n == (n as u64) as f64 => Ok(Some(n as u64)),
            _ => Err(UploadError::invalid_option(
                name,
                cat!(
                    self.what,
                    ".",
                    name,
                    " must be a whole number of ",
                    unit,
                    " from ",
                    min,
                    " to ",
                    max,
                    "; got ",
                    describe(&v)
                ),
            )),
        }
    }

    pub(super) fn boolean(&self, name: &str) -> Result<Option<bool>, UploadError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        v.as_bool().map(Some).ok_or_else(|| {
            UploadError::invalid_option(name, cat!(self.what, ".", name, " must be true or false; got ", describe(&v)))
        })
    }

    pub(super) fn function(&self, name: &str) -> Result<Option<Function>, UploadError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        v.dyn_into::<Function>().map(Some).map_err(|v| {
            UploadError::invalid_option(name, cat!(self.what, ".", name, " must be a function; got ", describe(&v)))
        })
    }
}

pub(super) fn describe(v: &JsValue) -> String {
    if v.is_undefined() {
        "undefined".into()
    } else if v.is_null() {
        "null".into()
    } else if let Some(s) = v.as_string() {
        cat!("the string ", quoted(&s))
    } else if let Some(n) = v.as_f64() {
        // JS writes the number (Rust's float formatting would add ~6 KB to
        // the gzipped module for this one message).
        js_sys::Number::from(n).to_string_with_radix(10).map(String::from).unwrap_or_else(|_| "a number".into())
    } else if v.is_function() {
        "a function".into()
    } else if Array::is_array(v) {
        "an array".into()
    } else {
        cat!("a value of type ", v.js_typeof().as_string().unwrap_or_default())
    }
}

/// A plain object given for an option that also takes a number: `{ min, max }`.
fn is_bounds(v: &JsValue) -> bool {
    v.is_object() && !v.is_function() && !Array::is_array(v)
}

const PART_SIZE_UNIT: &str = "bytes (5 MiB to 5 GiB)";

/// `option: { min, max }`, each a whole number of `unit` in `range`: `max`
/// defaults to `dflt.1` (or `min` if larger), `min` to `dflt.0` (or `max` if
/// smaller); every error names `option`, the one the application wrote.
/// `min` above `max` is refused by [`Config::validate`], with the rest of the
/// configuration. `concurrency: { min, max }` bounds the adaptive window
/// (1..=16, default 2..=6); `partSize: { min, max }` the part size the
/// engine picks for each file (5 MiB..=5 GiB, default 5..=10 MiB).
fn bounds(
    v: &JsValue,
    option: &str,
    range: (u64, u64),
    unit: &str,
    dflt: (u64, u64),
) -> Result<(u64, u64), UploadError> {
    let named = |mut e: UploadError| {
        e.field = Some(option.into());
        e
    };
    let what = cat!("options.", option);
    let b = Opts::new(v, &what, &["min", "max"]).map_err(named)?;
    let min = b.integer("min", range.0, range.1, unit).map_err(named)?;
    let max = b.integer("max", range.0, range.1, unit).map_err(named)?;
    let max = max.unwrap_or(dflt.1.max(min.unwrap_or(0)));
    let min = min.unwrap_or(dflt.0.min(max));
    Ok((min, max))
}

pub(super) const UPLOADER_OPTIONS: &[&str] = &[
    "endpoint",
    "protocol",
    "partSize",
    "multipartThreshold",
    "concurrency",
    "retryDelays",
    "partTimeout",
    "withCredentials",
    "headers",
    "checksum",
    "resumeScope",
];
pub(super) const UPLOAD_OPTIONS: &[&str] =
    &["key", "contentType", "signal", "resume", "onProgress", "onPartComplete", "onRetry", "onResume"];

pub(super) fn parse_uploader_options(options: &JsValue) -> Result<(Backend, Config, bool), UploadError> {
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
            Backend::new(Hooks::from_js(p)?)
        }
        Some((Some(name), _)) if name != "rest" && name != "lambda" => {
            return Err(UploadError::invalid_option(
                "protocol",
                cat!(
                    "options.protocol is ",
                    quoted(&name),
                    "; use \"rest\" (the /uploads/... paths), \"lambda\" (one URL taking the envelope) \
                     or an object of hooks (createMultipartUpload, signPart, completeMultipartUpload, abortMultipartUpload)"
                ),
            ));
        }
        Some((None, p)) => {
            return Err(UploadError::invalid_option(
                "protocol",
                cat!("options.protocol must be \"rest\", \"lambda\" or an object of hooks; got ", describe(p)),
            ));
        }
        other => {
            let lambda = other.is_some_and(|(n, _)| n.as_deref() == Some("lambda"));
            let endpoint = o.required_string("endpoint", "/api")?;
            let protocol = if lambda { Protocol::Lambda } else { Protocol::Rest };
            Backend::new(HttpBackend::new(&endpoint, protocol, with_credentials, headers))
        }
    };
    // The journal's name for this backend (at most 256 characters: it is
    // part of every entry's key in the storage).
    let backend = match o.string("resumeScope")? {
        Some(scope) if scope.trim_ascii().is_empty() || scope.len() > 256 => {
            return Err(UploadError::invalid_option(
                "resumeScope",
                "options.resumeScope must be a non-empty string of at most 256 characters naming this backend, such as \"avatars\"",
            ));
        }
        scope => backend.scoped(scope),
    };
    let mut cfg = Config::default();
    match o.get("partSize") {
        // Not given: the engine picks each file's part size, 5 to 10 MiB.
        None => (cfg.part_size, cfg.part_size_max) = (AUTO_PART_MIN, AUTO_PART_MAX),
        // `{ min, max }`: the engine picks within the application's bounds.
        Some(v) if is_bounds(&v) => {
            let (min, max) =
                bounds(&v, "partSize", (MIN_PART_SIZE, MAX_PART_SIZE), PART_SIZE_UNIT, (AUTO_PART_MIN, AUTO_PART_MAX))?;
            (cfg.part_size, cfg.part_size_max) = (min, max);
            cfg.multipart_threshold = Some(min.max(DEFAULT_PART_SIZE));
        }
        // A number fixes it.
        Some(_) => {
            if let Some(ps) = o.integer("partSize", MIN_PART_SIZE, MAX_PART_SIZE, PART_SIZE_UNIT)? {
                (cfg.part_size, cfg.part_size_max) = (ps, ps);
                cfg.multipart_threshold = Some(ps);
            }
        }
    }
    if let Some(t) = o.integer("multipartThreshold", 0, MAX_OBJECT_SIZE, "bytes")? {
        cfg.multipart_threshold = Some(t);
    }
    if !backend.can_presign_put() {
        // Hooks without signPut: every file goes multipart.
        cfg.multipart_threshold = None;
    }
    match o.get("concurrency") {
        // Not given: the window adapts to the link, up to the browser's connections per host.
        None => {
            cfg.adaptive = true;
            cfg.concurrency = ADAPT_MAX;
        }
        // `{ min, max }`: the window adapts within the application's bounds.
        Some(v) if is_bounds(&v) => {
            let (min, max) = bounds(&v, "concurrency", (1, 16), "requests", (ADAPT_MIN as u64, ADAPT_MAX as u64))?;
            cfg.adaptive = true;
            cfg.min_concurrency = min as usize;
            cfg.concurrency = max as usize;
        }
        // A number fixes it.
        Some(_) => {
            if let Some(c) = o.integer("concurrency", 1, 16, "requests")? {
                cfg.concurrency = c as usize;
            }
        }
    }
    if let Some(t) = o.integer("partTimeout", 0, 3_600_000, "milliseconds")? {
        cfg.part_timeout_ms = t;
    }
    match o.get("checksum").map(|v| (v.as_string(), v)) {
        None => {}
        Some((Some(s), _)) if s.eq_ignore_ascii_case("crc32") => cfg.checksum = Some(Algorithm::Crc32),
        Some((Some(s), _)) if s == "none" => cfg.checksum = None,
        Some((_, v)) => {
            return Err(UploadError::invalid_option(
                "checksum",
                cat!(
                    "options.checksum is ",
                    describe(&v),
                    "; use \"crc32\" (the default: every part and the whole object verified by the store) or \"none\""
                ),
            ));
        }
    }
    if let Some(v) = o.get("retryDelays") {
        cfg.retry = RetryPolicy { delays_ms: parse_delays(&v)?, ..RetryPolicy::default() };
    }
    cfg.validate()?;
    Ok((backend, cfg, with_credentials))
}

pub(super) fn parse_delays(v: &JsValue) -> Result<Vec<u64>, UploadError> {
    let bad = || {
        UploadError::invalid_option(
            "retryDelays",
            cat!(
                "options.retryDelays must be an array of at most 100 delays in milliseconds (0 to 600000), like [0, 1000, 3000]; got ",
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
