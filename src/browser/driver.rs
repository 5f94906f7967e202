//! Runs one engine [`Upload`] in the browser: carries out its actions
//! (backend calls, XHR PUTs of `File` slices, timers) and feeds the results
//! back as events. No decision is made here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::{FutureExt, StreamExt};
use wasm_bindgen_futures::spawn_local;
use web_sys::{AbortController, AbortSignal, Blob};

use crate::backend::{Backend, CallError};
use crate::browser::budget::Budget;
use crate::browser::journal::Session;
use crate::browser::xhr::{self, XhrPut};
use crate::engine::{Action, Call, Event, Failure, Outcome, Progress, Upload, UploadError};

/// What the application can do to a running upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stop sending, keep what is stored.
    Pause,
    /// Go on after a pause.
    Resume,
    /// Stop and delete the multipart upload.
    Abort,
}

/// Callbacks into the application.
pub trait Observer {
    /// Progress changed.
    fn progress(&self, p: &Progress);
    /// A part is stored.
    fn part_complete(&self, part: u16, etag: &str, size: u64);
    /// A retry is coming.
    fn retrying(&self, part: Option<u16>, attempt: u32, delay_ms: u64, reason: &UploadError);
}

/// What to upload, and where.
pub struct Job {
    /// The bytes (a `File` is a `Blob`).
    pub file: Blob,
    /// Object key.
    pub key: String,
    /// MIME type.
    pub content_type: String,
    /// Send cookies with part PUTs.
    pub with_credentials: bool,
}

/// Milliseconds on the browser's clock.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The running PUTs of one upload; each holds a slot of the shared budget.
struct Puts {
    running: HashMap<u16, (u32, XhrPut)>,
    budget: Rc<Budget>,
}

impl Puts {
    fn insert(&mut self, part: u16, attempt: u32, put: XhrPut) {
        if self.running.insert(part, (attempt, put)).is_some() {
            self.budget.release();
        }
    }

    /// Ends (aborting if need be) the PUT of `part`, if one runs, and frees its
    /// slot. With `attempt`, only that attempt: a late event of an earlier
    /// attempt must not end the one running now.
    fn end(&mut self, part: u16, attempt: Option<u32>) {
        if self.running.get(&part).is_some_and(|(a, _)| attempt.is_none_or(|want| *a == want)) {
            self.running.remove(&part);
            self.budget.release();
        }
    }
}

impl Drop for Puts {
    fn drop(&mut self) {
        for _ in self.running.drain() {
            self.budget.release();
        }
    }
}

/// `navigator.onLine` of the window or worker (true when unknown).
fn browser_online() -> bool {
    let nav = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).ok();
    nav.and_then(|n| js_sys::Reflect::get(&n, &"onLine".into()).ok()).and_then(|v| v.as_bool()).unwrap_or(true)
}

/// Listens to the global `online` / `offline` events while alive.
struct ConnectivityListener {
    target: web_sys::EventTarget,
    callback: wasm_bindgen::closure::Closure<dyn FnMut(web_sys::Event)>,
}

impl ConnectivityListener {
    fn new(tx: UnboundedSender<Event>) -> Option<Self> {
        use wasm_bindgen::JsCast;
        let target: web_sys::EventTarget = js_sys::global().dyn_into().ok()?;
        let callback = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let _ = tx.unbounded_send(Event::Connectivity { online: e.type_() == "online" });
        });
        for ev in ["online", "offline"] {
            target.add_event_listener_with_callback(ev, callback.as_ref().unchecked_ref()).ok()?;
        }
        Some(Self { target, callback })
    }
}

impl Drop for ConnectivityListener {
    fn drop(&mut self) {
        use wasm_bindgen::JsCast;
        for ev in ["online", "offline"] {
            let _ = self.target.remove_event_listener_with_callback(ev, self.callback.as_ref().unchecked_ref());
        }
    }
}

/// Runs `upload` to the end, writing its progress to the resume journal when given one.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    mut upload: Upload,
    job: Job,
    backend: Rc<Backend>,
    budget: Rc<Budget>,
    observer: Rc<dyn Observer>,
    journal: Option<Rc<Session>>,
    mut control: UnboundedReceiver<Control>,
) -> Result<Outcome, UploadError> {
    let (tx, mut rx) = unbounded::<Event>();
    let _connectivity = ConnectivityListener::new(tx.clone());
    if !browser_online() {
        upload.handle(Event::Connectivity { online: false }, now_ms());
    }
    let mut slot_freed = budget.subscribe();
    let mut puts = Puts { running: HashMap::new(), budget: budget.clone() };
    let job = Rc::new(job);
    // Cancels the backend calls in flight (hooks get its signal) when the upload stops.
    let calls = AbortController::new().map_err(|e| {
        UploadError::new(crate::engine::ErrorCode::NetworkError, format!("AbortController is unavailable: {e:?}"))
    })?;
    let single_url: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
    loop {
        let now = now_ms();
        while let Some(action) = budget.with(|free| upload.poll_shared(now, free)) {
            match action {
                Action::Put { part, attempt, url, start, end } => {
                    if upload.plan().single {
                        *single_url.borrow_mut() = Some(url.clone());
                    }
                    match start_put(&job, &url, start, end, part, attempt, &tx) {
                        Ok(handle) => puts.insert(part, attempt, handle),
                        Err(failure) => {
                            budget.release();
                            upload.handle(Event::PartFailed { part, attempt, failure }, now);
                        }
                    }
                }
                Action::Cancel { part } => puts.end(part, None),
                Action::Progress(p) => observer.progress(&p),
                Action::PartComplete { part, etag, size } => {
                    if let Some(j) = &journal {
                        j.part_done(part, &etag, now);
                    }
                    observer.part_complete(part, &etag, size);
                }
                Action::Started { upload_id, part_size } => {
                    if let Some(j) = &journal {
                        j.started(&upload_id, part_size, now);
                    }
                }
                Action::Retrying { part, attempt, delay_ms, reason } => {
                    observer.retrying(part, attempt, delay_ms, &reason);
                }
                Action::Finished(result) => {
                    drop(puts);
                    calls.abort();
                    if let Some(j) = &journal {
                        j.finished();
                    }
                    return result.map(|mut outcome| {
                        if outcome.location.is_none() {
                            outcome.location = single_url.borrow().as_deref().map(|u| xhr::redact(u).to_owned());
                        }
                        outcome
                    });
                }
                Action::Abort { upload_id } => {
                    // Stop every other call first; the abort call gets a signal of its own.
                    calls.abort();
                    let own = AbortController::new().map(|c| c.signal()).unwrap_or_else(|_| calls.signal());
                    spawn_call(Action::Abort { upload_id }, &job, &backend, own, &tx);
                }
                call => spawn_call(call, &job, &backend, calls.signal(), &tx),
            }
        }
        let wake_in = upload.next_wakeup().map(|t| t.saturating_sub(now_ms()));
        let timer = async move {
            match wake_in {
                Some(ms) => gloo_timers::future::TimeoutFuture::new(u32::try_from(ms).unwrap_or(u32::MAX)).await,
                None => futures::future::pending::<()>().await,
            }
        };
        futures::select! {
            ev = rx.next() => {
                let Some(ev) = ev else { continue };
                if let Event::PartDone { part, attempt, .. } | Event::PartFailed { part, attempt, .. } = &ev {
                    puts.end(*part, Some(*attempt));
                }
                // A network failure may be the first sign of going offline: say so first.
                if let Event::PartFailed { failure: Failure::Network(_), .. } | Event::CallFailed { failure: Failure::Network(_), .. } = &ev
                    && !browser_online()
                {
                    upload.handle(Event::Connectivity { online: false }, now_ms());
                }
                upload.handle(ev, now_ms());
            }
            ctl = control.next() => match ctl {
                Some(Control::Pause) => {
                    upload.pause();
                    if let Some(j) = &journal {
                        j.flush(now_ms());
                    }
                }
                Some(Control::Resume) => upload.resume(),
                Some(Control::Abort) | None => upload.abort(),
            },
            _ = slot_freed.next() => {}
            () = timer.fuse() => {}
        }
    }
}

/// PUTs bytes `start..end` of the file. The body is a slice of the `File`:
/// its bytes never enter WASM memory.
fn start_put(
    job: &Job,
    url: &str,
    start: u64,
    end: u64,
    part: u16,
    attempt: u32,
    tx: &UnboundedSender<Event>,
) -> Result<XhrPut, Failure> {
    let blob = job
        .file
        .slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(|e| Failure::Network(format!("cannot slice the file: {e:?}")))?;
    xhr::put(url, &blob, job.with_credentials, part, attempt, tx)
}

/// Starts a backend call; its answer comes back on `tx` as an event.
fn spawn_call(action: Action, job: &Rc<Job>, backend: &Rc<Backend>, signal: AbortSignal, tx: &UnboundedSender<Event>) {
    let (job, backend, tx) = (job.clone(), backend.clone(), tx.clone());
    spawn_local(async move {
        let (call, result) = match action {
            Action::Init => {
                let r = backend.init(&job.key, &job.content_type, &signal).await;
                (Call::Init, r.map(|upload_id| Event::Initiated { upload_id }))
            }
            Action::Sign { part, upload_id } => {
                let r = match upload_id {
                    Some(id) => backend.sign_part(&job.key, &id, part, &signal).await,
                    None => backend.presign_put(&job.key, &job.content_type, &signal).await,
                };
                (Call::Sign(part), r.map(|url| Event::Signed { part, url }))
            }
            Action::Complete { upload_id, parts } => {
                let r = backend.complete(&job.key, &upload_id, &parts, &signal).await;
                (Call::Complete, r.map(|(etag, location)| Event::Completed { etag, location }))
            }
            Action::Abort { upload_id } => {
                let r = backend.abort(&job.key, &upload_id, &signal).await;
                (Call::Abort, r.map(|()| Event::AbortDone))
            }
            _ => return,
        };
        let _ = tx.unbounded_send(call_event(call, result));
    });
}

/// The engine event for the outcome of backend call `call`.
pub fn call_event(call: Call, result: Result<Event, CallError>) -> Event {
    match result {
        Ok(ev) => ev,
        Err(CallError::Transient(failure)) => Event::CallFailed { call, failure },
        Err(CallError::Rejected(error)) => Event::CallRejected { call, error },
    }
}
