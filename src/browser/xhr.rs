//! Part PUTs with `XMLHttpRequest` (fetch has no upload progress).
//!
//! Layered as in gloo: the raw `web_sys::XmlHttpRequest` is owned by
//! [`XhrPut`], whose `Drop` aborts a request still running, so cancelling a
//! part is dropping its handle. Events go to the driver through a channel.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use web_sys::{Blob, ProgressEvent, XmlHttpRequest};

use crate::backend::js_message;
use crate::backend::retry_after_ms;
use crate::engine::{Event, Failure};
use crate::json::quoted;

/// How much of an error body is kept (S3's XML errors are short).
const BODY_EXCERPT: usize = 2048;

/// A running PUT; dropping it aborts the request.
pub struct XhrPut {
    xhr: XmlHttpRequest,
    /// The one handler of its progress, load, error and timeout events (one
    /// closure, not four: each is code of its own in the module).
    _on_event: Closure<dyn FnMut(ProgressEvent)>,
}

impl Drop for XhrPut {
    fn drop(&mut self) {
        // 4 = DONE; anything else is still in flight.
        if self.xhr.ready_state() != 4 {
            self.xhr.set_onload(None);
            self.xhr.set_onerror(None);
            self.xhr.set_ontimeout(None);
            if let Ok(upload) = self.xhr.upload() {
                upload.set_onprogress(None);
            }
            let _ = self.xhr.abort();
        }
    }
}

/// Starts `PUT url` with `body` and `headers` (those signed into the URL); its
/// progress and outcome go to `sink` as engine events for (`part`, `attempt`).
pub fn put(
    url: &str,
    body: &Blob,
    headers: &[(String, String)],
    with_credentials: bool,
    part: u16,
    attempt: u32,
    sink: Rc<dyn Fn(Event)>,
) -> Result<XhrPut, Failure> {
    let xhr = XmlHttpRequest::new()
        .map_err(|e| Failure::Network(format!("cannot create XMLHttpRequest: {}", js_message(&e))))?;
    xhr.open_with_async("PUT", url, true)
        .map_err(|e| Failure::Network(format!("cannot open PUT {}: {}", redact(url), js_message(&e))))?;
    xhr.set_with_credentials(with_credentials);
    for (name, value) in headers {
        xhr.set_request_header(name, value).map_err(|e| {
            Failure::Network(format!("cannot set the header {name}: {}: {}", quoted(value), js_message(&e)))
        })?;
    }

    let event_xhr = xhr.clone();
    let on_event = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
        let event = match e.type_().as_str() {
            "progress" => Event::PartProgress { part, attempt, loaded: e.loaded() as u64 },
            "load" => {
                let status = event_xhr.status().unwrap_or(0);
                if (200..300).contains(&status) {
                    let etag = event_xhr.get_response_header("ETag").ok().flatten();
                    Event::PartDone { part, attempt, etag }
                } else {
                    let mut body = event_xhr.response_text().ok().flatten().unwrap_or_default();
                    body.truncate(body.floor_char_boundary(BODY_EXCERPT));
                    let retry_after_ms =
                        event_xhr.get_response_header("Retry-After").ok().flatten().and_then(|v| retry_after_ms(&v));
                    Event::PartFailed { part, attempt, failure: Failure::Status { status, body, retry_after_ms } }
                }
            }
            "timeout" => Event::PartFailed { part, attempt, failure: Failure::Timeout },
            _ => {
                let failure = Failure::Network(
                    "the PUT got no response (connection failed or reset, offline, or refused by CORS)".into(),
                );
                Event::PartFailed { part, attempt, failure }
            }
        };
        sink(event);
    });

    let upload = xhr
        .upload()
        .map_err(|e| Failure::Network(format!("XMLHttpRequest.upload is unavailable: {}", js_message(&e))))?;
    let handler = Some(on_event.as_ref().unchecked_ref());
    upload.set_onprogress(handler);
    xhr.set_onload(handler);
    xhr.set_onerror(handler);
    xhr.set_ontimeout(handler);
    xhr.send_with_opt_blob(Some(body))
        .map_err(|e| Failure::Network(format!("cannot send the PUT: {}", js_message(&e))))?;
    Ok(XhrPut { xhr, _on_event: on_event })
}

/// A URL without its query (which holds the signature), for messages.
pub fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}
