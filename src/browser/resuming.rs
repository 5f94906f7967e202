//! Beside a new upload, from its first moment: is there a journal entry for
//! this file, and may it be resumed ([`crate::resume::decide`])? Then list
//! the parts S3 holds and build the engine that continues it, or let the new
//! upload go on (aborting a stored upload that must not be resumed). The
//! driver ([`crate::browser::driver::run`]) swaps the engines.

use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Blob, File};

use crate::backend::{Backend, CallError};
use crate::browser::driver::{Decision, now_ms};
use crate::browser::journal::{self, Session};
use crate::engine::plan::Plan;
use crate::engine::{Config, Upload};
use crate::resume::{self, Entry, JOURNAL_VERSION, Lookup};

/// Reading the journal gets this long; past it the upload goes on
/// unjournaled rather than wait (a browser whose storage hangs must not hold
/// the upload back).
const LOCAL_LOOKUP_TIMEOUT_MS: u32 = 5_000;

/// How long after the start of a new upload its content sample is read.
const SAMPLE_DELAY_MS: u32 = 1_000;

/// Hashes the fingerprint sample of `file` (192 KiB at most enter WASM
/// memory); the ranges are read at the same time.
async fn sample(file: &Blob) -> Option<String> {
    let reads = resume::sample_ranges(file.size() as u64).into_iter().map(|(start, end)| async move {
        let part = file.slice_with_f64_and_f64(start as f64, end as f64).ok()?;
        let buf = JsFuture::from(part.array_buffer()).await.ok()?;
        Some(Uint8Array::new(&buf).to_vec())
    });
    let chunks: Option<Vec<Vec<u8>>> = futures::future::join_all(reads).await.into_iter().collect();
    Some(resume::sample_hash(chunks?.iter().map(Vec::as_slice)))
}

/// What a file needs to be looked up in the journal.
pub struct Subject {
    /// The bytes.
    pub file: Blob,
    /// Object key.
    pub key: String,
    /// MIME type.
    pub content_type: String,
    /// The uploader's settings (the resumed engine gets the same).
    pub cfg: Config,
    /// Seed of the resumed engine's retry jitter.
    pub seed: u64,
}

/// Looks `subject` up in the journal, while its new upload already runs:
/// the new upload goes on (journaled), or a stored upload of the same file
/// is to be continued instead.
pub async fn look_up(subject: Subject, backend: Rc<Backend>) -> Decision {
    let Subject { file, key, content_type, cfg, seed } = subject;
    // Let the new upload's init go out first (its task is queued already).
    let _ = JsFuture::from(js_sys::Promise::resolve(&wasm_bindgen::JsValue::UNDEFINED)).await;
    let (name, last_modified) =
        file.dyn_ref::<File>().map(|f| (f.name(), f.last_modified() as u64)).unwrap_or_default();
    let size = file.size() as u64;
    let endpoint = backend.label();
    let id = resume::entry_id(&endpoint, &key, &name, size, last_modified);
    let timeout = gloo_timers::future::TimeoutFuture::new(LOCAL_LOOKUP_TIMEOUT_MS);
    let found = match futures::future::select(Box::pin(journal::get(&id)), timeout).await {
        futures::future::Either::Left((found, _)) => found,
        futures::future::Either::Right(_) => return Decision::Fresh(None),
    };
    let now = now_ms();
    let mut template = Entry {
        v: JOURNAL_VERSION,
        id: id.clone(),
        endpoint,
        key: key.clone(),
        name,
        size,
        last_modified,
        sample: String::new(),
        upload_id: String::new(),
        part_size: 0,
        content_type,
        created_ms: now,
        updated_ms: now,
        parts: Vec::new(),
    };
    let Some(found) = found else {
        // Nothing stored for this file (the usual case): the new upload goes
        // on at once. The sample its entry needs is read a little later (or
        // at a pause, when the page may be closed next), so that its reads
        // do not compete with the first parts, and not at all by an upload
        // over by then. An entry written before the sample is known does not
        // match the file: after a reload in that first second its upload is
        // deleted and the file sent anew, not resumed.
        let session = Session::new(template);
        let s = session.clone();
        let wanted = session.sample_wanted();
        wasm_bindgen_futures::spawn_local(async move {
            futures::future::select(gloo_timers::future::TimeoutFuture::new(SAMPLE_DELAY_MS), wanted).await;
            if s.is_over() {
                return;
            }
            if let Some(sample) = sample(&file).await {
                s.set_sample(sample);
            }
        });
        return Decision::Fresh(Some(session));
    };
    let Some(sample) = sample(&file).await else { return Decision::Fresh(None) };
    template.sample.clone_from(&sample);
    let fits = |ps: u64| Plan::new(size, ps, None).is_ok_and(|p| p.part_size == ps);
    // The new upload, journaled from the start.
    let go_on = || Decision::Fresh(Some(Session::new(template.clone())));
    let entry = match resume::decide(Some(found), &sample, fits, now, resume::DEFAULT_TTL_MS) {
        Lookup::Fresh => return go_on(),
        Lookup::Drop { entry, .. } => {
            // Must not be resumed: delete it so nothing is left behind.
            discard(&backend, &Session::new(entry));
            return go_on();
        }
        Lookup::Resume(entry) => entry,
    };
    let Some(signal) = AbortController::new().ok().map(|c| c.signal()) else { return go_on() };
    let stored: Vec<(u16, String, u64)> = match list_parts_patiently(&backend, &entry, &signal).await {
        Ok(parts) => parts.into_iter().map(|p| (p.part_number, p.etag, p.size)).collect(),
        // Unreachable for now: the stored upload is kept, journaled, for a
        // later attempt; this one goes on anew, unjournaled (its entry would
        // replace the stored upload's).
        Err(CallError::Transient(_)) => return Decision::Fresh(None),
        Err(CallError::Rejected(_)) => {
            // Gone (completed, aborted, expired by a lifecycle rule): start anew.
            discard(&backend, &Session::new(entry));
            return go_on();
        }
    };
    match Upload::from_stored(size, cfg, seed, entry.upload_id.clone(), entry.part_size, &stored) {
        Ok(up) => Decision::Resume(Box::new(up), Session::new(Entry { sample, updated_ms: now, ..entry })),
        Err(_) => {
            discard(&backend, &Session::new(entry));
            go_on()
        }
    }
}

/// Lists the parts of the stored upload of `entry`, trying twice more (0.5 s,
/// 2 s apart) when the backend is briefly unreachable.
async fn list_parts_patiently(
    backend: &Backend,
    entry: &Entry,
    signal: &web_sys::AbortSignal,
) -> Result<Vec<crate::protocol::ListedPart>, CallError> {
    let mut result = backend.list_parts(&entry.key, &entry.upload_id, signal).await;
    for delay_ms in [500, 2_000] {
        if !matches!(result, Err(CallError::Transient(_))) {
            break;
        }
        gloo_timers::future::TimeoutFuture::new(delay_ms).await;
        result = backend.list_parts(&entry.key, &entry.upload_id, signal).await;
    }
    result
}

/// Gives up the stored upload of `session`'s entry: the entry is deleted now
/// (before any write of a new upload of the same file, which the journal
/// runs after it), its multipart upload in the background.
fn discard(backend: &Rc<Backend>, session: &Session) {
    session.finished();
    let (key, upload_id) = session.target();
    if upload_id.is_empty() {
        return;
    }
    let backend = backend.clone();
    wasm_bindgen_futures::spawn_local(async move {
        let Some(signal) = AbortController::new().ok().map(|c| c.signal()) else { return };
        abort_quietly(&backend, &key, &upload_id, &signal).await;
    });
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
