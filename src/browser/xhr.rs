//! Part PUTs with `XMLHttpRequest` (fetch has no upload progress).
//!
//! Layered as in gloo: the `XMLHttpRequest` (made by a few lines of JS,
//! `putPart` in the browser's snippet: smaller in the module than web-sys's
//! bindings) is owned by [`XhrPut`], whose `Drop` aborts a request still
//! running, so cancelling a part is dropping its handle. Events go to the
//! driver through a channel.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;

use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;
use web_sys::Blob;

use crate::backend::{js_message, js_pairs, retry_after_ms};
use crate::browser::hashing::{abort_part, put_part};
use crate::engine::{Event, Failure};

/// A running PUT; dropping it aborts the request.
pub struct XhrPut {
    xhr: JsValue,
    /// The one handler of its progress, load, error and timeout events (one
    /// closure, not four: each is code of its own in the module).
    _on_event: Closure<dyn FnMut(u32, f64, JsValue, JsValue)>,
}

impl Drop for XhrPut {
    fn drop(&mut self) {
        abort_part(&self.xhr);
    }
}

/// Starts `PUT url` with `body` and `headers` (those signed into the URL); its
/// progress and outcome go to `sink` as engine events for (`part`, `attempt`).
/// The request itself is made in JS (`putPart`, in the browser's snippet).
pub fn put(
    url: &str,
    body: &Blob,
    headers: &[(String, String)],
    with_credentials: bool,
    part: u16,
    attempt: u32,
    sink: Rc<dyn Fn(Event)>,
) -> Result<XhrPut, Failure> {
    let on_event =
        Closure::<dyn FnMut(u32, f64, JsValue, JsValue)>::new(move |kind: u32, a: f64, b: JsValue, c: JsValue| {
            let failure = match kind {
                0 => return sink(Event::PartProgress { part, attempt, loaded: a as u64 }),
                1 if (200.0..300.0).contains(&a) => {
                    return sink(Event::PartDone { part, attempt, etag: b.as_string() });
                }
                1 => Failure::Status {
                    status: a as u16,
                    body: b.as_string().unwrap_or_default(),
                    retry_after_ms: c.as_string().and_then(|v| retry_after_ms(&v)),
                },
                2 => Failure::Timeout,
                _ => Failure::Network(
                    "the PUT got no response (connection failed or reset, offline, or refused by CORS)".into(),
                ),
            };
            sink(Event::PartFailed { part, attempt, failure });
        });
    let xhr = put_part(url, body, &js_pairs(headers), with_credentials, &on_event)
        .map_err(|e| Failure::Network(format!("cannot send the PUT to {}: {}", redact(url), js_message(&e))))?;
    Ok(XhrPut { xhr, _on_event: on_event })
}

/// A URL without its query (which holds the signature), for messages.
pub fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}
