//! Runs one engine [`Upload`] in the browser: carries out its actions
//! (backend calls, XHR PUTs of `File` slices, timers) and feeds the results
//! back as events. No decision is made here.

use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::future::{Fuse, FusedFuture, LocalBoxFuture};
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
    /// A stored upload of this file is resumed: `parts` of its parts, `bytes`
    /// bytes, are stored already.
    fn resumed(&self, upload_id: &str, parts: usize, bytes: u64);
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

impl Puts {
    /// Ends (aborts) every running PUT and frees their slots.
    fn end_all(&mut self) {
        for _ in self.running.drain() {
            self.budget.release();
        }
    }
}

impl Drop for Puts {
    fn drop(&mut self) {
        self.end_all();
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

/// One engine at work: its actions carried out, its events (on a channel of
/// its own, so that a replaced engine's late events cannot reach the next
/// one) fed back in.
struct Runner {
    upload: Upload,
    tx: UnboundedSender<Event>,
    rx: UnboundedReceiver<Event>,
    _connectivity: Option<ConnectivityListener>,
    slot_freed: UnboundedReceiver<()>,
    puts: Puts,
    /// Cancels the backend calls in flight (hooks get its signal) when the upload stops.
    calls: AbortController,
    single_url: Option<String>,
    job: Rc<Job>,
    backend: Rc<Backend>,
    budget: Rc<Budget>,
}

impl Runner {
    fn new(mut upload: Upload, job: &Rc<Job>, backend: &Rc<Backend>, budget: &Rc<Budget>) -> Result<Self, UploadError> {
        let (tx, rx) = unbounded::<Event>();
        let connectivity = ConnectivityListener::new(tx.clone());
        if !browser_online() {
            upload.handle(Event::Connectivity { online: false }, now_ms());
        }
        let calls = AbortController::new().map_err(|e| {
            UploadError::new(crate::engine::ErrorCode::NetworkError, format!("AbortController is unavailable: {e:?}"))
        })?;
        Ok(Self {
            upload,
            tx,
            rx,
            _connectivity: connectivity,
            slot_freed: budget.subscribe(),
            puts: Puts { running: HashMap::new(), budget: budget.clone() },
            calls,
            single_url: None,
            job: job.clone(),
            backend: backend.clone(),
            budget: budget.clone(),
        })
    }

    /// Carries out the engine's actions until one is for the application
    /// (progress, a stored part, a retry, the journal, the end), and returns
    /// it; `None` when there is nothing to do until the next input. With
    /// `hold_puts`, no PUT starts (init and signing go on).
    fn next(&mut self, hold_puts: bool) -> Option<Action> {
        let now = now_ms();
        let poll = |r: &mut Self| {
            if hold_puts {
                r.upload.poll_shared(now, &mut 0)
            } else {
                r.budget.with(|free| r.upload.poll_shared(now, free))
            }
        };
        while let Some(action) = poll(self) {
            match action {
                Action::Put { part, attempt, url, start, end } => {
                    let single = self.upload.plan().single;
                    if single {
                        self.single_url = Some(url.clone());
                    }
                    // A single PUT stores the object: it carries the content type
                    // (the reference backend signs it into the URL).
                    let content_type = single.then_some(self.job.content_type.as_str());
                    match start_put(&self.job, &url, content_type, start, end, part, attempt, &self.tx) {
                        Ok(handle) => self.puts.insert(part, attempt, handle),
                        Err(failure) => {
                            self.budget.release();
                            self.upload.handle(Event::PartFailed { part, attempt, failure }, now);
                        }
                    }
                }
                Action::Cancel { part } => self.puts.end(part, None),
                Action::Finished(result) => {
                    self.puts.end_all();
                    self.calls.abort();
                    let single_url = self.single_url.take();
                    return Some(Action::Finished(result.map(|mut outcome| {
                        if outcome.location.is_none() {
                            outcome.location = single_url.as_deref().map(|u| xhr::redact(u).to_owned());
                        }
                        outcome
                    })));
                }
                Action::Abort { upload_id } => {
                    // Stop every other call first; the abort call gets a signal of its own.
                    self.calls.abort();
                    let own = AbortController::new().map(|c| c.signal()).unwrap_or_else(|_| self.calls.signal());
                    spawn_call(Action::Abort { upload_id }, &self.job, &self.backend, own, &self.tx);
                }
                Action::Init | Action::Sign { .. } | Action::Complete { .. } => {
                    spawn_call(action, &self.job, &self.backend, self.calls.signal(), &self.tx);
                }
                Action::Progress(_)
                | Action::PartComplete { .. }
                | Action::Started { .. }
                | Action::Retrying { .. } => {
                    return Some(action);
                }
            }
        }
        None
    }

    /// Waits for the next event, a freed PUT slot, or the engine's wakeup.
    async fn wait(&mut self) -> Option<Event> {
        let wake_in = self.upload.next_wakeup().map(|t| t.saturating_sub(now_ms()));
        let timer = async move {
            match wake_in {
                Some(ms) => gloo_timers::future::TimeoutFuture::new(u32::try_from(ms).unwrap_or(u32::MAX)).await,
                None => futures::future::pending::<()>().await,
            }
        };
        futures::select! {
            ev = self.rx.next() => ev,
            _ = self.slot_freed.next() => None,
            () = timer.fuse() => None,
        }
    }

    /// Feeds an event in.
    fn feed(&mut self, ev: Event) {
        if let Event::PartDone { part, attempt, .. } | Event::PartFailed { part, attempt, .. } = &ev {
            self.puts.end(*part, Some(*attempt));
        }
        // A network failure may be the first sign of going offline: say so first.
        if let Event::PartFailed { failure: Failure::Network(_), .. }
        | Event::CallFailed { failure: Failure::Network(_), .. } = &ev
            && !browser_online()
        {
            self.upload.handle(Event::Connectivity { online: false }, now_ms());
        }
        self.upload.handle(ev, now_ms());
    }

    /// Aborts this engine's upload and runs it to its end in the background,
    /// telling nobody: its PUTs stop, and its multipart upload (even one
    /// whose init is still in flight) is deleted.
    fn retire(mut self) {
        // An engine that has finished has nothing left to delete; waiting for
        // its next event would wait for ever (and keep its listeners alive).
        if self.upload.is_finished() {
            return;
        }
        self.upload.abort();
        spawn_local(async move {
            loop {
                while let Some(action) = self.next(false) {
                    if let Action::Finished(_) = action {
                        return;
                    }
                }
                if let Some(ev) = self.wait().await {
                    self.feed(ev);
                }
            }
        });
    }
}

/// What the resume journal's look-up decided, while the new upload already runs.
pub enum Decision {
    /// Go on with the new upload, written to this journal session (if any).
    Fresh(Option<Rc<Session>>),
    /// Continue a stored upload instead: its engine and journal session.
    Resume(Box<Upload>, Rc<Session>),
}

/// What the application must not see before the look-up decides: if the
/// stored upload is resumed, the new one never happened.
#[derive(Default)]
struct Held {
    actions: Vec<Action>,
    finished: Option<Result<Outcome, UploadError>>,
}

impl Held {
    fn push(&mut self, action: Action) {
        if let Action::Progress(_) = action {
            // Only the latest progress matters.
            self.actions.retain(|a| !matches!(a, Action::Progress(_)));
        }
        self.actions.push(action);
    }
}

/// Delivers an action of the running upload to the journal and the application.
fn deliver(action: Action, observer: &dyn Observer, journal: Option<&Session>) {
    let now = now_ms();
    match action {
        Action::Progress(p) => observer.progress(&p),
        Action::PartComplete { part, etag, size } => {
            if let Some(j) = journal {
                j.part_done(part, &etag, now);
            }
            observer.part_complete(part, &etag, size);
        }
        Action::Started { upload_id, part_size } => {
            if let Some(j) = journal {
                j.started(&upload_id, part_size, now);
            }
        }
        Action::Retrying { part, attempt, delay_ms, reason } => observer.retrying(part, attempt, delay_ms, &reason),
        _ => {}
    }
}

/// Runs `upload` to the end. With `lookup` (the resume journal's look-up),
/// the upload starts at once (init, signing) and the look-up runs beside it:
/// until it decides, no part is sent and nothing reaches the application or
/// the journal; if it finds a stored upload to resume, the new one is aborted
/// (its multipart upload deleted) and the stored one goes on in its place.
pub async fn run(
    upload: Upload,
    job: Job,
    backend: Rc<Backend>,
    budget: Rc<Budget>,
    observer: Rc<dyn Observer>,
    lookup: Option<LocalBoxFuture<'static, Decision>>,
    mut control: UnboundedReceiver<Control>,
) -> Result<Outcome, UploadError> {
    let job = Rc::new(job);
    let mut runner = Runner::new(upload, &job, &backend, &budget)?;
    let mut lookup = lookup.map_or_else(Fuse::terminated, FutureExt::fuse);
    let mut journal: Option<Rc<Session>> = None;
    let mut held = Held::default();
    // Asked of this upload, whichever engine runs it (the engine's own flag
    // is not set once it is over, e.g. after a failed init held back).
    let (mut paused, mut aborted) = (false, false);
    let finish = |result: Result<Outcome, UploadError>, journal: &Option<Rc<Session>>| {
        if let Some(j) = journal {
            j.finished();
        }
        result
    };
    loop {
        if held.finished.is_none() {
            // Until the look-up decides, no part is sent: a resumable file
            // must not be sent twice. Init and signing go on meanwhile.
            while let Some(action) = runner.next(!lookup.is_terminated()) {
                match action {
                    Action::Finished(result) if lookup.is_terminated() => return finish(result, &journal),
                    Action::Finished(result) => held.finished = Some(result),
                    action if lookup.is_terminated() => deliver(action, &*observer, journal.as_deref()),
                    action => held.push(action),
                }
            }
        }
        let running = held.finished.is_none();
        futures::select! {
            ev = runner.wait().fuse() => {
                if running && let Some(ev) = ev {
                    runner.feed(ev);
                }
            }
            ctl = control.next() => match ctl {
                Some(Control::Pause) => {
                    paused = true;
                    runner.upload.pause();
                    if let Some(j) = &journal {
                        j.flush(now_ms());
                    }
                }
                Some(Control::Resume) => {
                    paused = false;
                    runner.upload.resume();
                }
                Some(Control::Abort) | None => {
                    aborted = true;
                    runner.upload.abort();
                }
            },
            decision = lookup => match decision {
                Decision::Fresh(session) => {
                    journal = session;
                    for action in std::mem::take(&mut held.actions) {
                        deliver(action, &*observer, journal.as_deref());
                    }
                    if let (true, Some(j)) = (paused, &journal) {
                        j.flush(now_ms());
                    }
                    if let Some(result) = held.finished.take() {
                        return finish(result, &journal);
                    }
                }
                Decision::Resume(mut stored, session) => {
                    // The new upload sent no part: whatever it did (or how it
                    // failed) is dropped with it.
                    held = Held::default();
                    if paused {
                        stored.pause();
                    }
                    if aborted {
                        stored.abort();
                    }
                    let bytes = stored.progress().bytes_sent;
                    observer.resumed(stored.upload_id().unwrap_or_default(), stored.parts_done(), bytes);
                    journal = Some(session);
                    let fresh = std::mem::replace(&mut runner, Runner::new(*stored, &job, &backend, &budget)?);
                    fresh.retire();
                }
            },
        }
    }
}

/// PUTs bytes `start..end` of the file, with `content_type` when given. The
/// body is a slice of the `File`: its bytes never enter WASM memory.
#[allow(clippy::too_many_arguments)]
fn start_put(
    job: &Job,
    url: &str,
    content_type: Option<&str>,
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
    xhr::put(url, &blob, content_type, job.with_credentials, part, attempt, tx)
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
fn call_event(call: Call, result: Result<Event, CallError>) -> Event {
    match result {
        Ok(ev) => ev,
        Err(CallError::Transient(failure)) => Event::CallFailed { call, failure },
        Err(CallError::Rejected(error)) => Event::CallRejected { call, error },
    }
}
