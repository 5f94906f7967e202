//! Before an upload starts: is there a journal entry for this file, and may
//! it be resumed ([`crate::resume::decide`])? Then list the parts S3 holds
//! and build the engine from them, or start anew (aborting an upload that
//! must not be resumed).

use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Blob, File};

use crate::backend::{Backend, CallError};
use crate::browser::driver::{call_event, now_ms};
use crate::browser::journal::{self, Session};
use crate::engine::plan::Plan;
use crate::engine::{Call, Config, Event, Upload};
use crate::resume::{self, Entry, JOURNAL_VERSION, Lookup};

/// What resuming found.
pub struct Prepared {
    /// The engine to run: fresh, or continuing a stored upload.
    pub upload: Upload,
    /// The journal session of this upload.
    pub session: Option<Rc<Session>>,
    /// When resumed: (upload id, parts already stored, bytes already stored).
    pub resumed: Option<(String, usize, u64)>,
}

/// Hashes the fingerprint sample of `file` (192 KiB at most enter WASM memory).
async fn sample(file: &Blob) -> Option<String> {
    let mut chunks = Vec::new();
    for (start, end) in resume::sample_ranges(file.size() as u64) {
        let part = file.slice_with_f64_and_f64(start as f64, end as f64).ok()?;
        let buf = JsFuture::from(part.array_buffer()).await.ok()?;
        chunks.push(Uint8Array::new(&buf).to_vec());
    }
    Some(resume::sample_hash(chunks.iter().map(Vec::as_slice)))
}

/// Looks the file up in the journal and prepares the upload.
///
/// The journal is local but not free (a content sample is read and IndexedDB
/// is asked), so the new upload's init is sent at the same time rather than
/// after it: a file that turns out to be resumable (the rare case) has that
/// speculative upload deleted again.
#[allow(clippy::too_many_arguments)]
pub async fn prepare(
    mut fresh: Upload,
    file: &Blob,
    key: &str,
    content_type: &str,
    backend: &Rc<Backend>,
    cfg: &Config,
    seed: u64,
) -> Prepared {
    let none = |upload| Prepared { upload, session: None, resumed: None };
    if fresh.plan().single {
        return none(fresh);
    }
    let Some(signal) = AbortController::new().ok().map(|c| c.signal()) else { return none(fresh) };
    let (name, last_modified) =
        file.dyn_ref::<File>().map(|f| (f.name(), f.last_modified() as u64)).unwrap_or_default();
    let size = file.size() as u64;
    let endpoint = backend.label();
    let id = resume::entry_id(&endpoint, key, &name, size, last_modified);
    // All three before the first part: the sample, the journal, and init.
    fresh.init_sent();
    let (sample, found, init) =
        futures::join!(sample(file), journal::get(&id), backend.init(key, content_type, &signal));
    let speculative = init.as_ref().ok().cloned();
    fresh.handle(call_event(Call::Init, init.map(|upload_id| Event::Initiated { upload_id })), now_ms());
    let Some(sample) = sample else { return none(fresh) };
    let now = now_ms();
    let template = Entry {
        v: JOURNAL_VERSION,
        id: id.clone(),
        endpoint,
        key: key.to_owned(),
        name,
        size,
        last_modified,
        sample: sample.clone(),
        upload_id: String::new(),
        part_size: 0,
        content_type: content_type.to_owned(),
        created_ms: now,
        updated_ms: now,
        parts: Vec::new(),
    };
    let fits = |ps: u64| Plan::new(size, ps, None).is_ok_and(|p| p.part_size == ps);
    // A new upload, journaled from the start.
    let start_anew = |fresh| Prepared { upload: fresh, session: Some(Session::new(template.clone())), resumed: None };
    match resume::decide(found, &sample, fits, now, resume::DEFAULT_TTL_MS) {
        Lookup::Fresh => start_anew(fresh),
        Lookup::Drop { entry, .. } => {
            // Must not be resumed: delete the old upload so nothing is left behind.
            let _ = backend.abort(&entry.key, &entry.upload_id, &signal).await;
            journal::delete(&id).await;
            start_anew(fresh)
        }
        Lookup::Resume(entry) => {
            let listed = backend.list_parts(&entry.key, &entry.upload_id, &signal).await;
            let stored: Vec<(u16, String, u64)> = match listed {
                Ok(parts) => parts.into_iter().map(|p| (p.part_number, p.etag, p.size)).collect(),
                Err(_) => {
                    // Gone (completed, aborted, expired by a lifecycle rule) or unreachable: start anew.
                    let _ = backend.abort(&entry.key, &entry.upload_id, &signal).await;
                    journal::delete(&id).await;
                    return start_anew(fresh);
                }
            };
            match Upload::from_stored(size, cfg.clone(), seed, entry.upload_id.clone(), entry.part_size, &stored) {
                Ok(mut up) => {
                    // The speculative upload is not needed: delete it, without
                    // holding up the resumed one.
                    if let Some(upload_id) = speculative {
                        let (backend, key) = (backend.clone(), key.to_owned());
                        wasm_bindgen_futures::spawn_local(async move {
                            abort_quietly(&backend, &key, &upload_id, &signal).await;
                        });
                    }
                    let bytes = up.progress().bytes_sent;
                    let resumed = Some((entry.upload_id.clone(), up.parts_done(), bytes));
                    let entry = Entry { sample, updated_ms: now, ..entry };
                    Prepared { upload: up, session: Some(Session::new(entry)), resumed }
                }
                Err(_) => {
                    journal::delete(&id).await;
                    start_anew(fresh)
                }
            }
        }
    }
}

/// Deletes a multipart upload nobody will use, trying twice more (1 s, 3 s
/// apart) when the backend is briefly unreachable; past that the bucket's
/// lifecycle rule for incomplete uploads is the safety net.
async fn abort_quietly(backend: &Backend, key: &str, upload_id: &str, signal: &web_sys::AbortSignal) {
    for delay_ms in [1_000, 3_000, 0] {
        match backend.abort(key, upload_id, signal).await {
            Err(CallError::Transient(_)) if delay_ms > 0 => gloo_timers::future::TimeoutFuture::new(delay_ms).await,
            _ => return,
        }
    }
}
