//! Runs one upload in the browser: carries out the steps of its
//! [`Coordinator`] (backend calls, XHR PUTs of `File` slices, hashing, the
//! journal, timers) and feeds the results back as inputs. No decision is
//! made here.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;

use crate::browser::timer::Timeout;
use crate::chan::{UnboundedReceiver, UnboundedSender, unbounded};
use core::future::Future;
use core::pin::Pin;
use core::task::Poll;
use wasm_bindgen_futures::spawn_local;
use web_sys::{AbortController, AbortSignal, Blob};

use crate::backend::{Backend, CallError, Reply, Req, fresh_signal, mismatched};
use crate::browser::budget::Budget;
use crate::browser::hashing;
use crate::browser::journal;
use crate::browser::small_map::SmallMap;
use crate::browser::xhr::{self, XhrPut};
use crate::engine::checksum::Algorithm;
pub use crate::engine::coordinator::Control;
use crate::engine::coordinator::{CallEnd, Coordinator, Gen, Input, Step};
use crate::engine::{Action, Call, Event, Failure, Outcome, Progress, UploadError};
use crate::protocol::Checksum;

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
    /// Its size, read once: Chromium answers a `File`'s `size` with a
    /// synchronous call to the browser process each time (0.2-0.3 ms).
    pub size: u64,
    /// Object key.
    pub key: String,
    /// MIME type.
    pub content_type: String,
    /// Send cookies with part PUTs.
    pub with_credentials: bool,
    /// Checksums for the store to verify.
    pub checksum: Option<Algorithm>,
    /// Sent with init: the coordinator's ([`Coordinator::client_token`]),
    /// copied here as each init goes out (the look-up may have replaced the
    /// random one with a journaled one before the first).
    pub client_token: core::cell::RefCell<String>,
}

impl Job {
    /// Whether bytes `start..end` are the whole file: then the `File` itself
    /// is sent and read, not a slice of all of it (Chromium reads a `File`
    /// from its path, a slice through its blob reader).
    fn whole(&self, start: u64, end: u64) -> bool {
        start == 0 && end == self.size
    }
}

/// The headers each part's PUT must send, from its signing reply.
type SignedHeaders = Rc<core::cell::RefCell<SmallMap<(Gen, u16), Vec<(String, String)>>>>;

/// Milliseconds on the browser's clock.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// The running PUTs of one upload; each holds a slot of the shared budget.
struct Puts {
    /// (attempt, the PUT, its bytes, when it started) by engine and part.
    running: SmallMap<(Gen, u16), (u32, XhrPut, u64, u64)>,
    budget: Rc<Budget>,
}

impl Puts {
    fn insert(&mut self, g: Gen, part: u16, attempt: u32, put: XhrPut, bytes: u64) {
        let now = now_ms();
        self.budget.started(now);
        if self.running.insert((g, part), (attempt, put, bytes, now)).is_some() {
            self.budget.release();
        }
    }

    /// Ends (aborting if need be) the PUT of `part`, if one runs, and frees its
    /// slot; returns its bytes and how long it ran. With `attempt`, only that
    /// attempt: a late event of an earlier attempt must not end the one
    /// running now.
    fn end(&mut self, g: Gen, part: u16, attempt: Option<u32>) -> Option<(u64, u64)> {
        if self.running.get(&(g, part)).is_some_and(|(a, ..)| attempt.is_none_or(|want| *a == want)) {
            let ended = self.running.remove(&(g, part)).map(|(_, _, bytes, at)| (bytes, now_ms().saturating_sub(at)));
            self.budget.release();
            return ended;
        }
        None
    }

    /// Ends (aborts) every running PUT of engine `g` and frees their slots.
    fn end_gen(&mut self, g: Gen) {
        let before = self.running.len();
        self.running.retain(|(r, _), _| *r != g);
        for _ in self.running.len()..before {
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
    fn new(tx: UnboundedSender<Input>) -> Option<Self> {
        use wasm_bindgen::JsCast;
        let target: web_sys::EventTarget = js_sys::global().dyn_into().ok()?;
        let callback = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let _ = tx.unbounded_send(Input::Connectivity(e.type_() == "online"));
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

/// Carries out a [`Coordinator`]'s steps in the browser and feeds the
/// results back in: the engines' requests (XHR PUTs, backend calls), the
/// journal's reads and writes, the content sample's hash, the application's
/// callbacks. Events arrive on one channel, tagged with the engine's
/// generation, so a replaced engine's late events reach only it.
struct Executor {
    coord: Coordinator,
    tx: UnboundedSender<Input>,
    rx: UnboundedReceiver<Input>,
    _connectivity: Option<ConnectivityListener>,
    slot_freed: UnboundedReceiver<()>,
    puts: Puts,
    /// Cancels an engine's backend calls in flight (hooks get its signal) when it stops.
    calls: SmallMap<Gen, AbortController>,
    headers: SignedHeaders,
    /// Part signings asked for in this round of steps, sent together when
    /// the round ends (one part-urls call per upload, where the backend has it).
    signs: Vec<(Gen, String, u16, Option<String>)>,
    single_url: Option<String>,
    job: Rc<Job>,
    backend: Rc<Backend>,
    budget: Rc<Budget>,
    observer: Rc<dyn Observer>,
    /// Releases the lock of this upload's journal entry (while it runs and
    /// is not paused, no other upload of the same file takes the entry).
    lock: Rc<core::cell::RefCell<Option<js_sys::Function>>>,
    /// The timer of the coordinator's next wakeup and its deadline: kept
    /// from one input to the next while it fires no later than the next
    /// wakeup (most inputs do not move it, or move it later), instead of a
    /// fresh `setTimeout` for each.
    timer: Option<(u64, Timeout)>,
    /// A PUT went without a checksum header, checksums on: the backend did
    /// not sign the checksum it was given, so the store verified nothing
    /// this upload knows of, and its result names no checksum.
    unverified: bool,
}

impl Executor {
    /// Lets go of the journal entry's lock (paused, or over).
    fn unlock(&self) {
        if let Some(release) = self.lock.borrow_mut().take() {
            let _ = release.call0(&wasm_bindgen::JsValue::NULL);
        }
    }

    /// The signal of engine `g`'s backend calls.
    fn calls_signal(&mut self, g: Gen) -> AbortSignal {
        if let Some(c) = self.calls.get(&g) {
            return c.signal();
        }
        match AbortController::new() {
            Ok(c) => {
                let signal = c.signal();
                self.calls.insert(g, c);
                signal
            }
            // Never seen: every browser has AbortController. The call then
            // cannot be cancelled, only timed out.
            Err(_) => web_sys::AbortSignal::abort(),
        }
    }

    /// Cancels engine `g`'s backend calls in flight.
    fn cancel_calls(&mut self, g: Gen) {
        if let Some(c) = self.calls.remove(&g) {
            c.abort();
        }
    }

    /// Stops whatever engine `g` still runs, and forgets its signed headers.
    fn release(&mut self, g: Gen) {
        // Signings asked for before go out with the signal cancelled below, as calls made at once would.
        self.send_signs();
        self.puts.end_gen(g);
        self.cancel_calls(g);
        self.headers.borrow_mut().retain(|(r, _), _| *r != g);
    }

    /// Carries out one step; the application's answer when it is the last.
    fn carry_out(&mut self, step: Step) -> Option<Result<Outcome, UploadError>> {
        let tx = self.tx.clone();
        match step {
            Step::Engine(g, Action::Put { part, attempt, url, start, end }) => {
                // The headers signed into the URL (a part's checksum); a
                // single PUT stores the object: it carries the content type
                // (the reference backend signs it into the URL).
                let mut headers = self.headers.borrow().get(&(g, part)).cloned().unwrap_or_default();
                self.unverified |=
                    self.job.checksum.is_some() && !headers.iter().any(|(k, _)| k.starts_with("x-amz-checksum-"));
                if self.coord.single() {
                    self.single_url = Some(url.clone());
                    if !headers.iter().any(|(k, _)| k == "content-type") {
                        headers.push(("content-type".into(), self.job.content_type.clone()));
                    }
                }
                let sink: Rc<dyn Fn(Event)> = Rc::new(move |ev| {
                    let _ = tx.unbounded_send(Input::Engine(g, ev));
                });
                match start_put(&self.job, &url, &headers, start, end, part, attempt, sink) {
                    Ok(handle) => self.puts.insert(g, part, attempt, handle, end - start),
                    Err(failure) => {
                        self.budget.release();
                        self.coord.handle(Input::Engine(g, Event::PartFailed { part, attempt, failure }), now_ms());
                    }
                }
            }
            Step::Engine(g, Action::Cancel { part }) => {
                self.puts.end(g, part, None);
            }
            Step::Engine(g, Action::Hash { part, start, end }) => {
                let (file, whole) = (self.job.file.clone(), self.job.whole(start, end));
                let signal = self.calls_signal(g);
                spawn_local(async move {
                    let ev = match hashing::crc32(&file, start, end, whole, &signal).await {
                        Ok(Some(crc)) => Event::Hashed { part, crc },
                        Ok(None) => return,
                        Err(message) => Event::HashFailed { part, message },
                    };
                    let _ = tx.unbounded_send(Input::Engine(g, ev));
                });
            }
            Step::Engine(g, Action::Abort { upload_id }) => {
                // Stop every other call first; the abort call gets a signal of its own.
                self.send_signs();
                self.cancel_calls(g);
                let own = self.calls_signal(g);
                let call = CallCtx { g, job: self.job.clone(), backend: self.backend.clone(), signal: own, tx };
                spawn_call(call, Action::Abort { upload_id }, Vec::new(), self.headers.clone());
            }
            Step::Engine(g, Action::Sign { part, upload_id: Some(id), checksum }) if self.backend.can_batch() => {
                self.signs.push((g, id, part, checksum));
            }
            Step::Engine(g, action) => {
                if let Action::Init { .. } = action {
                    self.coord.client_token().clone_into(&mut self.job.client_token.borrow_mut());
                }
                let signal = self.calls_signal(g);
                let call = CallCtx { g, job: self.job.clone(), backend: self.backend.clone(), signal, tx };
                spawn_call(call, action, Vec::new(), self.headers.clone());
            }
            Step::Release(g) => self.release(g),
            Step::Notify(action) => notify(action, &*self.observer),
            Step::Resumed { upload_id, parts, bytes } => self.observer.resumed(&upload_id, parts, bytes),
            Step::ReadJournal(id) => {
                let lock = self.lock.clone();
                spawn_local(async move {
                    let input = match journal::lock(&id).await {
                        None => Input::JournalBusy,
                        Some(release) => {
                            *lock.borrow_mut() = Some(release);
                            Input::JournalRead(journal::get(&id).await)
                        }
                    };
                    let _ = tx.unbounded_send(input);
                });
            }
            Step::HashSample(ranges) => {
                let file = self.job.file.clone();
                spawn_local(async move {
                    let _ = tx.unbounded_send(Input::SampleHashed(sample(&file, &ranges).await));
                });
            }
            Step::ListParts { key, upload_id } => {
                let backend = self.backend.clone();
                spawn_local(async move {
                    let end = match fresh_signal() {
                        Ok(signal) => match backend.list_parts(&key, &upload_id, &signal).await {
                            Ok(parts) => CallEnd::Ok(stored_parts(parts)),
                            Err(e) => call_end(&e),
                        },
                        Err(e) => call_end(&e),
                    };
                    let _ = tx.unbounded_send(Input::PartsListed(end));
                });
            }
            Step::AbortStale { key, upload_id } => {
                let backend = self.backend.clone();
                spawn_local(async move {
                    let end = match fresh_signal() {
                        Ok(signal) => {
                            backend.abort(&key, &upload_id, &signal).await.map_or_else(|e| call_end(&e), CallEnd::Ok)
                        }
                        Err(e) => call_end(&e),
                    };
                    let _ = tx.unbounded_send(Input::StaleAborted { upload_id, end });
                });
            }
            Step::WriteJournal(entry) => journal::put(&entry),
            Step::DeleteJournal(id) => spawn_local(async move { journal::delete(&id).await }),
            Step::Finished(result) => {
                let single_url = self.single_url.take();
                return Some(result.map(|mut outcome| {
                    if outcome.location.is_none() {
                        outcome.location = single_url.as_deref().map(|u| xhr::redact(u).to_owned());
                    }
                    outcome
                }));
            }
        }
        None
    }

    /// Carries out every step there is; the application's answer if it came.
    fn run_steps(&mut self) -> Option<Result<Outcome, UploadError>> {
        let mut answer = None;
        loop {
            let now = now_ms();
            let Some(step) = self.budget.clone().with(|free| self.coord.poll(now, free)) else { break };
            if let Some(result) = self.carry_out(step) {
                answer = Some(result);
            }
        }
        self.send_signs();
        answer
    }

    /// Sends the part signings of this round: several parts of one upload
    /// (the first ones, when init answers) in one part-urls call, else one
    /// part-url call each.
    fn send_signs(&mut self) {
        let signs = core::mem::take(&mut self.signs);
        let Some((g, id)) = signs.first().map(|(g, id, _, _)| (*g, id.clone())) else { return };
        let together =
            (2..=MAX_PARTS_PER_CALL).contains(&signs.len()) && signs.iter().all(|(h, i, _, _)| *h == g && *i == id);
        let batch: Vec<(u16, Option<String>)> =
            if together { signs.iter().map(|(_, _, p, c)| (*p, c.clone())).collect() } else { Vec::new() };
        for (g, id, part, checksum) in signs {
            let signal = self.calls_signal(g);
            let ctx = CallCtx { g, job: self.job.clone(), backend: self.backend.clone(), signal, tx: self.tx.clone() };
            spawn_call(ctx, Action::Sign { part, upload_id: Some(id), checksum }, batch.clone(), self.headers.clone());
            if together {
                return;
            }
        }
    }

    /// Feeds an input in.
    fn feed(&mut self, input: Input) {
        if let Input::Engine(g, Event::PartDone { part, attempt, .. } | Event::PartFailed { part, attempt, .. }) =
            &input
        {
            let ended = self.puts.end(*g, *part, Some(*attempt));
            // What the concurrency window learns from: a PUT's bytes and time, or trouble on the way.
            match (&input, ended) {
                (Input::Engine(_, Event::PartDone { .. }), Some((bytes, took))) => {
                    self.budget.succeeded(bytes, took, now_ms());
                }
                (Input::Engine(_, Event::PartFailed { failure, .. }), Some(_)) if failure.is_congestion() => {
                    self.budget.troubled(now_ms());
                }
                _ => {}
            }
        }
        // A network failure may be the first sign of going offline: say so first.
        if let Input::Engine(
            _,
            Event::PartFailed { failure: Failure::Network(_), .. }
            | Event::CallFailed { failure: Failure::Network(_), .. },
        ) = &input
            && !browser_online()
        {
            self.coord.handle(Input::Connectivity(false), now_ms());
        }
        if let Input::Control(Control::Pause) = input {
            self.unlock();
        }
        self.coord.handle(input, now_ms());
    }

    /// Waits for the next input, a freed PUT slot, the coordinator's wakeup,
    /// or (with `control`) the application's control.
    async fn wait(&mut self, control: Option<&mut UnboundedReceiver<Control>>) -> Option<Input> {
        // A timer that fires no later than needed is kept: firing early only
        // makes the steps look and find nothing due yet, which costs less
        // than a new timer at every PUT's progress (each moves its stall
        // deadline).
        let at = self.coord.next_wakeup();
        if !matches!((&self.timer, at), (Some(t), Some(at)) if t.0 <= at) {
            self.timer =
                at.map(|at| (at, Timeout::new(u32::try_from(at.saturating_sub(now_ms())).unwrap_or(u32::MAX))));
        }
        let mut control = control;
        core::future::poll_fn(|cx| {
            if let Poll::Ready(input) = self.rx.poll_next(cx) {
                return Poll::Ready(input);
            }
            if let Some(c) = control.as_deref_mut()
                && let Poll::Ready(ctl) = c.poll_next(cx)
            {
                return Poll::Ready(Some(Input::Control(ctl.unwrap_or(Control::Abort))));
            }
            if self.slot_freed.poll_next(cx).is_ready() {
                return Poll::Ready(None);
            }
            match self.timer.as_mut().map(|t| Pin::new(&mut t.1).poll(cx)) {
                Some(Poll::Ready(())) => {
                    // Fired: the next wait sets a new one.
                    self.timer = None;
                    Poll::Ready(None)
                }
                _ => Poll::Pending,
            }
        })
        .await
    }
}

/// Tells the application about an action of the running upload.
fn notify(action: Action, observer: &dyn Observer) {
    match action {
        Action::Progress(p) => observer.progress(&p),
        Action::PartComplete { part, etag, size } => observer.part_complete(part, &etag, size),
        Action::Retrying { part, attempt, delay_ms, reason } => observer.retrying(part, attempt, delay_ms, &reason),
        _ => {}
    }
}

/// How a look-up call ended, for the coordinator.
fn call_end<T>(e: &CallError) -> CallEnd<T> {
    match e {
        CallError::Transient(_) => CallEnd::Transient,
        CallError::Rejected(_) => CallEnd::Rejected,
    }
}

/// Hashes the fingerprint sample of `file` (192 KiB at most enter WASM
/// memory); the ranges are read one after another (a join of futures costs
/// more module than the few milliseconds it would save).
async fn sample(file: &Blob, ranges: &[(u64, u64)]) -> Option<String> {
    let mut chunks = Vec::with_capacity(ranges.len());
    for &(start, end) in ranges {
        let part = file.slice_with_f64_and_f64(start as f64, end as f64).ok()?;
        let buf = wasm_bindgen_futures::JsFuture::from(part.array_buffer()).await.ok()?;
        chunks.push(js_sys::Uint8Array::new(&buf).to_vec());
    }
    Some(crate::resume::sample_hash(chunks.iter().map(Vec::as_slice)))
}

/// Runs the upload of `coord` to its end for the application; replaced
/// engines and stale uploads still being deleted then finish in the
/// background (every task, listener and timer of this upload ends with them).
pub async fn run(
    coord: Coordinator,
    job: Job,
    backend: Rc<Backend>,
    budget: Rc<Budget>,
    observer: Rc<dyn Observer>,
    mut control: UnboundedReceiver<Control>,
) -> Result<Outcome, UploadError> {
    let (tx, rx) = unbounded::<Input>();
    let mut ex = Executor {
        coord,
        tx: tx.clone(),
        rx,
        _connectivity: ConnectivityListener::new(tx),
        slot_freed: budget.subscribe(),
        puts: Puts { running: SmallMap::default(), budget: budget.clone() },
        calls: SmallMap::default(),
        headers: SignedHeaders::default(),
        signs: Vec::new(),
        single_url: None,
        job: Rc::new(job),
        backend,
        budget,
        observer,
        lock: Default::default(),
        timer: None,
        unverified: false,
    };
    if !browser_online() {
        ex.coord.handle(Input::Connectivity(false), now_ms());
    }
    let result = loop {
        if let Some(result) = ex.run_steps() {
            break result;
        }
        if let Some(input) = ex.wait(Some(&mut control)).await {
            ex.feed(input);
        }
    };
    ex.unlock();
    let unverified = ex.unverified;
    if !ex.coord.is_idle() {
        spawn_local(async move {
            while !ex.coord.is_idle() {
                if let Some(input) = ex.wait(None).await {
                    ex.feed(input);
                }
                let _ = ex.run_steps();
            }
        });
    }
    result.map(|mut out| {
        if unverified {
            out.checksum = None;
        }
        out
    })
}

/// PUTs bytes `start..end` of the file, with `headers`. The
/// body is a slice of the `File`: its bytes never enter WASM memory. A whole
/// file goes as the `File` itself, not a slice of all of it: Chromium sends
/// a `File` from its path, and a slice through its blob reader, about a
/// third slower (6 MiB PUTs on loopback: 65-72 against 96-100 ms).
#[allow(clippy::too_many_arguments)]
fn start_put(
    job: &Job,
    url: &str,
    headers: &[(String, String)],
    start: u64,
    end: u64,
    part: u16,
    attempt: u32,
    sink: Rc<dyn Fn(Event)>,
) -> Result<XhrPut, Failure> {
    if job.whole(start, end) {
        return xhr::put(url, &job.file, headers, job.with_credentials, part, attempt, sink);
    }
    let blob = job
        .file
        .slice_with_f64_and_f64(start as f64, end as f64)
        .map_err(|e| Failure::Network(format!("cannot slice the file: {}", crate::backend::js_message(&e))))?;
    xhr::put(url, &blob, headers, job.with_credentials, part, attempt, sink)
}

/// What a backend call of engine `g` needs.
struct CallCtx {
    g: Gen,
    job: Rc<Job>,
    backend: Rc<Backend>,
    signal: AbortSignal,
    tx: UnboundedSender<Input>,
}

/// Starts a backend call; its answer comes back on `tx` as an event (a
/// signing reply's headers go to `headers`, for the part's PUT). With
/// `batch` (a `Sign` of several parts: its own and those), one part-urls
/// call signs them all, and each part's answer comes back as its own event,
/// as from part-url; a backend that does not know the call is asked part by
/// part from then on. (One function, so that the module has one future type
/// for every call.)
fn spawn_call(ctx: CallCtx, action: Action, batch: Vec<(u16, Option<String>)>, headers: SignedHeaders) {
    let CallCtx { g, job, backend, signal, tx } = ctx;
    let algorithm = job.checksum;
    let checksum =
        |value: Option<String>| algorithm.zip(value).map(|(alg, value)| Checksum { algorithm: alg.s3_name(), value });
    let (sum, alg) = match &action {
        Action::Sign { checksum: c, .. } | Action::Complete { checksum: c, .. } => (checksum(c.clone()), None),
        _ => (None, job.checksum.map(Algorithm::s3_name)),
    };
    // The parts signed together: by part-urls (`batch`), or with init.
    let together = match &action {
        Action::Init { parts } => parts.as_slice(),
        _ => batch.as_slice(),
    };
    let sums: Vec<(u16, Option<Checksum>)> = together.iter().map(|(p, c)| (*p, checksum(c.clone()))).collect();
    let token = job.client_token.borrow().clone();
    spawn_local(async move {
        let (call, req) = match &action {
            Action::Init { .. } => (
                Call::Init,
                Req::Init {
                    key: &job.key,
                    content_type: &job.content_type,
                    checksum_algorithm: alg,
                    client_token: &token,
                    parts: &sums,
                },
            ),
            Action::Sign { part, upload_id: Some(id), .. } if !sums.is_empty() => {
                (Call::Sign(*part), Req::SignParts { key: &job.key, upload_id: id, parts: &sums })
            }
            Action::Sign { part, upload_id: Some(id), .. } => {
                (Call::Sign(*part), Req::SignPart { key: &job.key, upload_id: id, part: *part, checksum: sum.as_ref() })
            }
            Action::Sign { part, upload_id: None, .. } => (
                Call::Sign(*part),
                Req::PresignPut { key: &job.key, content_type: &job.content_type, checksum: sum.as_ref() },
            ),
            Action::Complete { upload_id, parts, .. } => {
                (Call::Complete, Req::Complete { key: &job.key, upload_id, parts, checksum: sum.as_ref() })
            }
            Action::Abort { upload_id } => (Call::Abort, Req::Abort { key: &job.key, upload_id }),
            Action::ListParts { upload_id } => (Call::List, Req::ListParts { key: &job.key, upload_id }),
            _ => return,
        };
        let result = backend.call(req, &signal).await;
        if let (false, Action::Sign { upload_id, .. }) = (batch.is_empty(), &action) {
            match result {
                Ok(Reply::SignedMany(list)) => {
                    for (part, url) in keep_headers(&headers, g, list) {
                        let _ = tx.unbounded_send(Input::Engine(g, Event::Signed { part, url }));
                    }
                }
                // A backend that does not take the call, or a 5xx (which a
                // Lambda that throws on an unknown action answers): each part
                // asks alone, and its own call decides.
                Err(e) if backend.batch_unknown(&e) || e.is_server_error() => {
                    for (part, checksum) in batch {
                        let ctx = CallCtx {
                            g,
                            job: job.clone(),
                            backend: backend.clone(),
                            signal: signal.clone(),
                            tx: tx.clone(),
                        };
                        let one = Action::Sign { part, upload_id: upload_id.clone(), checksum };
                        spawn_call(ctx, one, Vec::new(), headers.clone());
                    }
                }
                other => {
                    let e = other.err().unwrap_or_else(mismatched);
                    for (part, _) in batch {
                        let _ = tx.unbounded_send(Input::Engine(g, call_event(Call::Sign(part), Err(e.clone()))));
                    }
                }
            }
            return;
        }
        let result = result.and_then(|reply| match (call, reply) {
            (Call::Init, Reply::Initiated(upload_id, list)) => {
                Ok(Event::Initiated { upload_id, signed: keep_headers(&headers, g, list) })
            }
            (Call::Sign(part), Reply::Signed(signed)) => {
                headers.borrow_mut().insert((g, part), signed.headers);
                Ok(Event::Signed { part, url: signed.url })
            }
            (Call::Complete, Reply::Completed(etag, location)) => Ok(Event::Completed { etag, location }),
            (Call::Abort, Reply::Done) => Ok(Event::AbortDone),
            (Call::List, Reply::Parts(parts)) => Ok(Event::Listed { parts: stored_parts(parts) }),
            _ => Err(mismatched()),
        });
        let _ = tx.unbounded_send(Input::Engine(g, call_event(call, result)));
    });
}

/// Keeps the headers each signed part's PUT must send; the parts' URLs.
fn keep_headers(headers: &SignedHeaders, g: Gen, list: Vec<(u16, crate::protocol::Signed)>) -> Vec<(u16, String)> {
    let mut urls = Vec::with_capacity(list.len());
    for (part, signed) in list {
        headers.borrow_mut().insert((g, part), signed.headers);
        urls.push((part, signed.url));
    }
    urls
}

/// A list-parts reply as the engine takes it.
fn stored_parts(parts: Vec<crate::protocol::ListedPart>) -> Vec<crate::engine::upload::StoredPart> {
    parts.into_iter().map(|p| (p.part_number, p.etag, p.size, p.crc32)).collect()
}

/// The most parts one part-urls call asks for (the reference backend's limit).
const MAX_PARTS_PER_CALL: usize = 100;

/// The engine event for the outcome of backend call `call`.
fn call_event(call: Call, result: Result<Event, CallError>) -> Event {
    match result {
        Ok(ev) => ev,
        Err(CallError::Transient(failure)) => Event::CallFailed { call, failure },
        Err(CallError::Rejected(error)) => Event::CallRejected { call, error },
    }
}
