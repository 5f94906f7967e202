//! Runs one upload in the browser: a [`Run`] holds its [`Coordinator`] and
//! turns its steps into commands for the glue's `drive` (src/glue.js),
//! which carries them out (backend calls, XHR PUTs of `File` slices,
//! hashing, the journal, timers, the application's callbacks) and feeds
//! what happened back in. Nothing here waits and no decision is made here:
//! the engine decides, the glue carries out; this module only translates.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::collections::VecDeque;
use alloc::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::Blob;

use crate::api::to_js_error;
use crate::backend::{Backend, Call, CallError, Reply, Req, js_object as object, mismatched};
use crate::browser::budget::Budget;
use crate::browser::small_map::SmallMap;
use crate::engine::checksum::{Algorithm, Crc32};
pub use crate::engine::coordinator::Control;
use crate::engine::coordinator::{CallEnd, Coordinator, Gen, Input, Step, Subject};
use crate::engine::{Action, Config, Event, Failure, Outcome, Upload, UploadError};
use crate::protocol::Checksum;

/// Milliseconds on the browser's clock.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// A JS number for a byte count (exact up to 2^53).
pub fn num(n: u64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// What a backend call's answer is for.
pub enum Tag {
    /// Engine `g`'s call for `action`; with `batch`, the parts a part-urls
    /// call signs together (its own among them).
    Engine { g: Gen, action: Action, batch: Vec<(u16, Option<String>)> },
    /// The journal look-up's list of the stored parts.
    Lookup,
    /// The abort of a stale upload (its id).
    Stale(String),
    /// An `Uploader` method's call.
    Api,
}

/// The commands of [`Run::step`], by their first element (src/glue.js, `drive`).
mod cmd {
    pub const PUT: u8 = 0;
    pub const CANCEL: u8 = 1;
    pub const HASH: u8 = 2;
    pub const CALL: u8 = 3;
    pub const RELEASE: u8 = 4;
    pub const PROGRESS: u8 = 5;
    pub const PART_COMPLETE: u8 = 6;
    pub const RETRYING: u8 = 7;
    pub const RESUMED: u8 = 8;
    pub const READ_JOURNAL: u8 = 9;
    pub const HASH_SAMPLE: u8 = 10;
    pub const WRITE_JOURNAL: u8 = 11;
    pub const DELETE_JOURNAL: u8 = 12;
    pub const FINISHED: u8 = 13;
    pub const UNLOCK: u8 = 14;
    pub const CANCEL_CALLS: u8 = 15;
}

/// What an upload starts with, until its turn comes ([`Run::begin`]).
pub struct Job {
    /// Object key.
    pub key: String,
    /// MIME type.
    pub content_type: String,
    /// Look for a journaled upload of the same file to resume.
    pub resume: bool,
    /// The upload's configuration.
    pub cfg: Config,
}

/// One upload: its coordinator and what the driver keeps beside it.
#[wasm_bindgen(skip_typescript)]
pub struct Run {
    job: Job,
    coord: Option<Coordinator>,
    backend: Rc<Backend>,
    budget: Rc<Budget>,
    /// The file's size, read once: Chromium answers a `File`'s `size` with a
    /// synchronous call to the browser process each time (0.2-0.3 ms).
    size: u64,
    /// The parts it was planned with that will measure the link (counted
    /// in the shared budget: [`crate::engine::Plan::pacing_parts`]).
    parts: u64,
    checksum: Option<Algorithm>,
    /// The running PUTs, each holding a slot of the shared budget: (attempt,
    /// bytes, when it started) by engine and part.
    running: SmallMap<(Gen, u16), (u32, u64, u64)>,
    /// The headers each part's PUT must send, from its signing reply.
    headers: SmallMap<(Gen, u16), Vec<(String, String)>>,
    /// Part signings asked for in this round of steps, sent together when
    /// the round ends (one part-urls call per upload, where the backend has it).
    signs: Vec<(Gen, String, u16, Option<String>)>,
    /// Commands made while handling an input or a round, before the engine's next steps.
    queue: VecDeque<Vec<JsValue>>,
    single_url: Option<String>,
    /// A PUT went without a checksum header, checksums on: the backend did
    /// not sign the checksum it was given, so the store verified nothing
    /// this upload knows of, and its result names no checksum.
    unverified: bool,
    /// Sent with init: the coordinator's ([`Coordinator::client_token`]),
    /// copied here as each init goes out (the look-up may have replaced the
    /// random one with a journaled one before the first).
    client_token: String,
    /// The application has its answer.
    answered: bool,
}

#[cfg(feature = "std")]
impl Drop for Run {
    fn drop(&mut self) {
        crate::live::count(&crate::live::RUNS, -1);
    }
}

impl Run {
    /// An upload of `job` through `backend`, sharing `budget`; it starts at [`Run::begin`].
    pub fn new(job: Job, backend: Rc<Backend>, budget: Rc<Budget>) -> Self {
        #[cfg(feature = "std")]
        crate::live::count(&crate::live::RUNS, 1);
        Self {
            checksum: job.cfg.checksum,
            job,
            coord: None,
            backend,
            budget,
            size: 0,
            parts: 0,
            running: SmallMap::default(),
            headers: SmallMap::default(),
            signs: Vec::new(),
            queue: VecDeque::new(),
            single_url: None,
            unverified: false,
            client_token: String::new(),
            answered: false,
        }
    }

    fn coord(&mut self) -> Option<&mut Coordinator> {
        self.coord.as_mut()
    }

    /// Feeds an input to the coordinator.
    fn handle(&mut self, input: Input) {
        if let Some(c) = self.coord() {
            c.handle(input, now_ms());
        }
    }

    /// Frees the slot of the PUT of `part` of engine `g`, if one runs; its
    /// bytes and how long it ran. With `attempt`, only that attempt: a late
    /// event of an earlier attempt must not end the one running now.
    fn end_put(&mut self, g: Gen, part: u16, attempt: Option<u32>) -> Option<(u64, u64)> {
        let (a, bytes, at) = *self.running.get(&(g, part))?;
        if attempt.is_some_and(|want| want != a) {
            return None;
        }
        self.running.remove(&(g, part));
        self.budget.release();
        Some((bytes, now_ms().saturating_sub(at)))
    }

    /// Feeds an engine's event in, with what the concurrency window learns
    /// from a PUT that ended.
    fn feed(&mut self, g: Gen, event: Event) {
        if let Event::PartDone { part, attempt, .. } | Event::PartFailed { part, attempt, .. } = &event {
            let ended = self.end_put(g, *part, Some(*attempt));
            match (&event, ended) {
                (Event::PartDone { .. }, Some((bytes, took))) => self.budget.succeeded(bytes, took, now_ms()),
                (Event::PartFailed { failure, .. }, Some(_)) if failure.is_congestion() => {
                    self.budget.troubled(now_ms());
                }
                _ => {}
            }
        }
        // A network failure may be the first sign of going offline: say so first.
        if let Event::PartFailed { failure: Failure::Network(_), .. }
        | Event::CallFailed { failure: Failure::Network(_), .. } = &event
            && !browser_online()
        {
            self.handle(Input::Connectivity(false));
        }
        self.handle(Input::Engine(g, event));
        if let Some(ms) = self.coord.as_ref().and_then(Coordinator::rtt_ms) {
            self.budget.saw_rtt(ms);
        }
    }

    /// A command for the glue.
    fn push(&mut self, fields: Vec<JsValue>) {
        self.queue.push_back(fields);
    }

    /// A backend call for the glue to send (`g`: cancelled with that
    /// engine's calls; none: nothing cancels it).
    fn call(&mut self, g: Option<Gen>, req: Req<'_>, tag: Tag) {
        let complete = matches!(req, Req::Complete { .. });
        let call = self.backend.call(req, tag);
        let mut c = vec![cmd::CALL.into(), g.map_or(JsValue::from(-1), JsValue::from), call.into()];
        if complete {
            c.push(crate::engine::upload::COMPLETE_TIMEOUT_MS.into());
        }
        self.push(c);
    }

    /// Stops whatever engine `g` still runs, and forgets its signed headers.
    fn release(&mut self, g: Gen) {
        // Signings asked for before go out with the calls' signal cancelled below, as calls made at once would.
        self.send_signs();
        let before = self.running.len();
        self.running.retain(|(r, _), _| *r != g);
        for _ in self.running.len()..before {
            self.budget.release();
        }
        self.headers.retain(|(r, _), _| *r != g);
        self.push(vec![cmd::RELEASE.into(), g.into()]);
    }

    /// The checksum of an action, as the backend gets it.
    fn checksum(&self, value: Option<String>) -> Option<Checksum> {
        self.checksum.zip(value).map(|(alg, value)| Checksum { algorithm: alg.s3_name(), value })
    }

    /// Starts engine `g`'s backend call for `action`; with `batch` (a `Sign`
    /// of several parts: its own and those), one part-urls call signs them
    /// all.
    fn start_call(&mut self, g: Gen, action: Action, batch: Vec<(u16, Option<String>)>) {
        let key = self.job.key.clone();
        let content_type = self.job.content_type.clone();
        let (sum, alg) = match &action {
            Action::Sign { checksum: c, .. } | Action::Complete { checksum: c, .. } => (self.checksum(c.clone()), None),
            _ => (None, self.checksum.map(Algorithm::s3_name)),
        };
        // The parts signed together: by part-urls (`batch`), or with init.
        let together = match &action {
            Action::Init { parts } => parts.as_slice(),
            _ => batch.as_slice(),
        };
        let sums: Vec<(u16, Option<Checksum>)> = together.iter().map(|(p, c)| (*p, self.checksum(c.clone()))).collect();
        let token = self.client_token.clone();
        let req = match &action {
            Action::Init { .. } => Req::Init {
                key: &key,
                content_type: &content_type,
                checksum_algorithm: alg,
                client_token: &token,
                parts: &sums,
            },
            Action::Sign { upload_id: Some(id), .. } if !sums.is_empty() => {
                Req::SignParts { key: &key, upload_id: id, parts: &sums }
            }
            Action::Sign { part, upload_id: Some(id), .. } => {
                Req::SignPart { key: &key, upload_id: id, part: *part, checksum: sum.as_ref() }
            }
            Action::Sign { upload_id: None, .. } => {
                Req::PresignPut { key: &key, content_type: &content_type, checksum: sum.as_ref() }
            }
            Action::Complete { upload_id, parts, .. } => {
                Req::Complete { key: &key, upload_id, parts, checksum: sum.as_ref() }
            }
            Action::Abort { upload_id } => Req::Abort { key: &key, upload_id },
            Action::ListParts { upload_id } => Req::ListParts { key: &key, upload_id },
            _ => return,
        };
        self.call(Some(g), req, Tag::Engine { g, action: action.clone(), batch });
    }

    /// Turns one step into commands, or carries it out here.
    fn carry_out(&mut self, step: Step) {
        match step {
            Step::Engine(g, Action::Put { part, attempt, url, start, end }) => {
                // The headers signed into the URL (a part's checksum); a
                // single PUT stores the object: it carries the content type
                // (the reference backend signs it into the URL).
                let mut headers = self.headers.get(&(g, part)).cloned().unwrap_or_default();
                self.unverified |=
                    self.checksum.is_some() && !headers.iter().any(|(k, _)| k.starts_with("x-amz-checksum-"));
                if self.coord.as_ref().is_some_and(Coordinator::single) {
                    self.single_url = Some(url.clone());
                    if !headers.iter().any(|(k, _)| k == "content-type") {
                        headers.push(("content-type".into(), self.job.content_type.clone()));
                    }
                }
                let now = now_ms();
                self.budget.started(now);
                if self.running.insert((g, part), (attempt, end - start, now)).is_some() {
                    self.budget.release();
                }
                // A whole file goes as the `File` itself, not a slice of all
                // of it: Chromium sends a `File` from its path, and a slice
                // through its blob reader, about a third slower (6 MiB PUTs
                // on loopback: 65-72 against 96-100 ms).
                let whole = start == 0 && end == self.size;
                self.push(vec![
                    cmd::PUT.into(),
                    g.into(),
                    part.into(),
                    attempt.into(),
                    url.into(),
                    num(start),
                    num(end),
                    crate::backend::js_pairs(&headers).into(),
                    whole.into(),
                ]);
            }
            Step::Engine(g, Action::Cancel { part }) => {
                self.end_put(g, part, None);
                self.push(vec![cmd::CANCEL.into(), g.into(), part.into()]);
            }
            Step::Engine(g, Action::Hash { part, start, end }) => {
                let whole = start == 0 && end == self.size;
                self.push(vec![cmd::HASH.into(), g.into(), part.into(), num(start), num(end), whole.into()]);
            }
            Step::Engine(g, Action::Check { ranges }) => self.read_sample(g.into(), ranges),
            Step::Engine(g, Action::Abort { upload_id }) => {
                // Stop every other call first; the abort call gets a signal of its own.
                self.send_signs();
                self.push(vec![cmd::CANCEL_CALLS.into(), g.into()]);
                self.start_call(g, Action::Abort { upload_id }, Vec::new());
            }
            Step::Engine(g, Action::Sign { part, upload_id: Some(id), checksum }) if self.backend.can_batch() => {
                self.signs.push((g, id, part, checksum));
            }
            Step::Engine(g, action) => {
                if let (Action::Init { .. }, Some(c)) = (&action, &self.coord) {
                    c.client_token().clone_into(&mut self.client_token);
                }
                self.start_call(g, action, Vec::new());
            }
            Step::Release(g) => self.release(g),
            Step::Notify(action) => self.notify(action),
            Step::Resumed { upload_id, parts, bytes } => {
                self.push(vec![cmd::RESUMED.into(), upload_id.into(), (parts as u32).into(), num(bytes)]);
            }
            Step::ReadJournal(id) => self.push(vec![cmd::READ_JOURNAL.into(), id.into()]),
            Step::HashSample(ranges) => self.read_sample((-1).into(), ranges),
            Step::ListParts { key, upload_id } => {
                self.call(None, Req::ListParts { key: &key, upload_id: &upload_id }, Tag::Lookup);
            }
            Step::AbortStale { key, upload_id } => {
                let tag = Tag::Stale(upload_id.clone());
                self.call(None, Req::Abort { key: &key, upload_id: &upload_id }, tag);
            }
            Step::WriteJournal(entry) => {
                self.push(vec![cmd::WRITE_JOURNAL.into(), entry.id.clone().into(), entry.to_json().into()]);
            }
            Step::DeleteJournal(id) => self.push(vec![cmd::DELETE_JOURNAL.into(), id.into()]),
            Step::Finished(result) => {
                let single_url = self.single_url.take();
                let result = result.map(|mut outcome| {
                    if outcome.location.is_none() {
                        outcome.location = single_url.as_deref().map(|u| crate::browser::redact(u).to_owned());
                    }
                    if self.unverified {
                        outcome.checksum = None;
                    }
                    outcome
                });
                self.finish(result);
            }
        }
    }

    /// Reads the file's sample: for engine `g`'s content check, or (`g` -1)
    /// for the journal's look-up.
    fn read_sample(&mut self, g: JsValue, ranges: Vec<(u64, u64)>) {
        let mut fields = vec![JsValue::from(cmd::HASH_SAMPLE), g];
        for (start, end) in ranges {
            fields.push(num(start));
            fields.push(num(end));
        }
        self.push(fields);
    }

    /// The application's answer: the upload has left the budget.
    fn finish(&mut self, result: Result<Outcome, UploadError>) {
        self.answered = true;
        self.budget.left(self.parts);
        let (ok, value) = match result {
            Ok(out) => (true, self.result_object(&out)),
            Err(e) => (false, to_js_error(&e)),
        };
        self.push(vec![cmd::FINISHED.into(), ok.into(), value]);
    }

    /// The result object of a stored upload.
    fn result_object(&self, out: &Outcome) -> JsValue {
        let opt = |s: &Option<String>| s.as_deref().map_or(JsValue::NULL, JsValue::from_str);
        object(&[
            ("key", JsValue::from_str(&self.job.key)),
            ("uploadId", opt(&out.upload_id)),
            ("etag", opt(&out.etag)),
            ("location", opt(&out.location)),
            ("size", num(out.size)),
            (
                "checksum",
                out.checksum.as_deref().map_or(JsValue::NULL, |c| {
                    object(&[("algorithm", JsValue::from_str("CRC32")), ("value", JsValue::from_str(c))])
                }),
            ),
        ])
    }

    /// Tells the application about an action of the running upload.
    fn notify(&mut self, action: Action) {
        let fields = match action {
            Action::Progress(p) => vec![
                cmd::PROGRESS.into(),
                num(p.bytes_sent),
                num(p.bytes_total),
                p.parts_done.into(),
                p.parts_total.into(),
                JsValue::from_f64(p.fraction() * 100.0),
                JsValue::from_f64(p.speed),
                p.eta_seconds.map_or(JsValue::NULL, JsValue::from_f64),
            ],
            Action::PartComplete { part, etag, size } => {
                vec![cmd::PART_COMPLETE.into(), part.into(), etag.into(), num(size)]
            }
            Action::Retrying { part, attempt, delay_ms, reason } => vec![
                cmd::RETRYING.into(),
                part.map_or(JsValue::NULL, JsValue::from),
                attempt.into(),
                num(delay_ms),
                to_js_error(&reason),
            ],
            _ => return,
        };
        self.push(fields);
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
            self.start_call(g, Action::Sign { part, upload_id: Some(id), checksum }, batch.clone());
            if together {
                return;
            }
        }
    }

    /// Keeps the headers each signed part's PUT must send; the parts' URLs.
    fn keep_headers(&mut self, g: Gen, list: Vec<(u16, crate::protocol::Signed)>) -> Vec<(u16, String)> {
        let mut urls = Vec::with_capacity(list.len());
        for (part, signed) in list {
            self.headers.insert((g, part), signed.headers);
            urls.push((part, signed.url));
        }
        urls
    }

    /// An engine's backend call came back.
    fn engine_called(&mut self, g: Gen, action: Action, batch: Vec<(u16, Option<String>)>, result: CallResult) {
        let Some(call) = call_of(&action) else { return };
        if let (false, Action::Sign { upload_id, .. }) = (batch.is_empty(), &action) {
            match result {
                Ok(Reply::SignedMany(list)) => {
                    for (part, url) in self.keep_headers(g, list) {
                        self.feed(g, Event::Signed { part, url });
                    }
                }
                // A backend that does not take the call, or a 5xx (which a
                // Lambda that throws on an unknown action answers): each part
                // asks alone, and its own call decides.
                Err(e) if self.backend.batch_unknown(&e) || e.is_server_error() => {
                    for (part, checksum) in batch {
                        let one = Action::Sign { part, upload_id: upload_id.clone(), checksum };
                        self.start_call(g, one, Vec::new());
                    }
                }
                other => {
                    let e = other.err().unwrap_or_else(mismatched);
                    for (part, _) in batch {
                        self.feed(g, call_event(crate::engine::Call::Sign(part), Err(e.clone())));
                    }
                }
            }
            return;
        }
        use crate::engine::Call as C;
        let result = result.and_then(|reply| match (call, reply) {
            (C::Init, Reply::Initiated(upload_id, list)) => {
                Ok(Event::Initiated { upload_id, signed: self.keep_headers(g, list) })
            }
            (C::Sign(part), Reply::Signed(signed)) => {
                self.headers.insert((g, part), signed.headers);
                Ok(Event::Signed { part, url: signed.url })
            }
            (C::Complete, Reply::Completed(etag, location)) => Ok(Event::Completed { etag, location }),
            (C::Abort, Reply::Done) => Ok(Event::AbortDone),
            (C::List, Reply::Parts(parts)) => Ok(Event::Listed { parts: stored_parts(parts) }),
            _ => Err(mismatched()),
        });
        self.feed(g, call_event(call, result));
    }
}

type CallResult = Result<Reply, CallError>;

#[wasm_bindgen]
impl Run {
    /// Whether a file of `size` bytes, its turn come, waits to begin until
    /// the link is measured ([`crate::engine::plan::holds_back`]): a
    /// multipart upload of about one round, whose part size is the engine's
    /// to pick, while the uploads under way have two rounds of parts
    /// before it.
    #[wasm_bindgen(js_name = holdsBack)]
    pub fn holds_back(&self, size: f64) -> bool {
        let cfg = &self.job.cfg;
        let size = size as u64;
        !crate::engine::Plan::goes_single(size, cfg.multipart_threshold)
            && cfg.part_size < cfg.part_size_max
            && self.budget.holds_back(size, cfg.part_round_max)
    }

    /// Its turn has come: the upload is planned for `file` (`size`: read
    /// ahead by the glue's `turn`, else now), for the link as measured so
    /// far ([`Config::for_batch_file`]). `batch`: the bytes of the files
    /// that begin with it after waiting for the link to be measured
    /// ([`Run::holds_back`]; this one's among them); none: its own.
    pub fn begin(&mut self, file: &Blob, size: Option<f64>, batch: Option<f64>) {
        let size = size.unwrap_or_else(|| file.size()) as u64;
        self.size = size;
        let seed = (js_sys::Math::random() * u64::MAX as f64) as u64;
        let (streams, ms_per_mib) = self.budget.entered();
        let cfg = self.job.cfg.clone();
        let (rtt, window) = self.budget.link();
        let batch = batch.map_or(size, |b| b as u64);
        match Upload::new(size, cfg.for_batch_file(size, streams, ms_per_mib, batch, rtt, window), seed) {
            Err(e) => self.finish(Err(e)),
            Ok(upload) => {
                self.parts = upload.plan().pacing_parts();
                self.budget.planned(self.parts);
                let (name, last_modified) =
                    file.dyn_ref::<web_sys::File>().map(|f| (f.name(), f.last_modified() as u64)).unwrap_or_default();
                let subject = Subject {
                    endpoint: self.backend.label(),
                    key: self.job.key.clone(),
                    name,
                    size,
                    last_modified,
                    content_type: self.job.content_type.clone(),
                    client_token: crate::api::client_token(),
                };
                self.coord = Some(Coordinator::new(upload, subject, cfg, seed, self.job.resume, now_ms()));
                if !browser_online() {
                    self.handle(Input::Connectivity(false));
                }
            }
        }
    }

    /// The next command for the glue, or nothing until something happens.
    pub fn step(&mut self) -> Option<Vec<JsValue>> {
        loop {
            if let Some(c) = self.queue.pop_front() {
                return Some(c);
            }
            let now = now_ms();
            let budget = self.budget.clone();
            let step = match self.coord() {
                Some(coord) => budget.with(|free| coord.poll(now, free)),
                None => None,
            };
            match step {
                Some(step) => self.carry_out(step),
                None => {
                    self.send_signs();
                    if self.queue.is_empty() {
                        return None;
                    }
                }
            }
        }
    }

    /// A PUT's event: 0 progress (`a` bytes sent), 1 an answer (`a` its
    /// status, `b` the ETag of a 2xx, else the start of the body, `c`
    /// Retry-After), 2 timed out, 3 no answer, 4 it could not be sent (`b`
    /// its URL, `c` why).
    #[wasm_bindgen(js_name = putEvent)]
    #[allow(clippy::too_many_arguments)]
    pub fn put_event(&mut self, g: Gen, part: u16, attempt: u32, kind: u8, a: f64, b: JsValue, c: JsValue) {
        let failure = match kind {
            0 => return self.feed(g, Event::PartProgress { part, attempt, loaded: a as u64 }),
            1 if (200.0..300.0).contains(&a) => {
                return self.feed(g, Event::PartDone { part, attempt, etag: b.as_string() });
            }
            1 => Failure::Status {
                status: a as u16,
                body: b.as_string().unwrap_or_default(),
                retry_after_ms: c.as_string().and_then(|v| crate::backend::retry_after_ms(&v)),
            },
            2 => Failure::Timeout,
            3 => Failure::Network(
                "the PUT got no response (connection failed or reset, offline, or refused by CORS)".into(),
            ),
            _ => Failure::Network(cat!(
                "cannot send the PUT to ",
                crate::browser::redact(&b.as_string().unwrap_or_default()),
                ": ",
                c.as_string().unwrap_or_default()
            )),
        };
        self.feed(g, Event::PartFailed { part, attempt, failure });
    }

    /// The CRC register after hashing a part (the Worker's, or the page's:
    /// src/glue.js, `crc32Update`).
    pub fn hashed(&mut self, g: Gen, part: u16, state: u32) {
        self.feed(g, Event::Hashed { part, crc: Crc32::from_state(state).finish() });
    }

    /// A part could not be read to be hashed.
    #[wasm_bindgen(js_name = hashFailed)]
    pub fn hash_failed(&mut self, g: Gen, part: u16, message: String) {
        self.feed(g, Event::HashFailed { part, message });
    }

    /// A backend call came back ([`Call`], sent by the glue).
    pub fn called(&mut self, call: &mut Call) {
        let (result, tag) = call.take();
        let input = match tag {
            Tag::Engine { g, action, batch } => return self.engine_called(g, action, batch, result),
            Tag::Lookup => Input::PartsListed(match result {
                Ok(Reply::Parts(parts)) => CallEnd::Ok(stored_parts(parts)),
                Ok(_) => call_end(&mismatched()),
                Err(e) => call_end(&e),
            }),
            Tag::Stale(upload_id) => {
                Input::StaleAborted { upload_id, end: result.map_or_else(|e| call_end(&e), |_| CallEnd::Ok(())) }
            }
            Tag::Api => return,
        };
        self.handle(input);
    }

    /// Another running upload holds the journal entry's lock.
    #[wasm_bindgen(js_name = journalBusy)]
    pub fn journal_busy(&mut self) {
        self.handle(Input::JournalBusy);
    }

    /// The journal entry, read (none, or not readable: nothing).
    #[wasm_bindgen(js_name = journalRead)]
    pub fn journal_read(&mut self, text: Option<String>) {
        let entry = text.and_then(|t| crate::resume::Entry::from_json(&t)).map(Box::new);
        self.handle(Input::JournalRead(entry));
    }

    /// The file's content sample, read (its ranges one after another), or
    /// nothing when it could not be read.
    pub fn sampled(&mut self, bytes: Option<Vec<u8>>) {
        let hash = bytes.map(|b| crate::resume::sample_hash([b.as_slice()]));
        self.handle(Input::SampleHashed(hash));
    }

    /// Engine `g`'s content check of the file ([`Action::Check`]), read as
    /// [`Run::sampled`] reads the look-up's.
    pub fn checked(&mut self, g: Gen, bytes: Option<Vec<u8>>) {
        let sample = bytes.map(|b| crate::resume::sample_hash([b.as_slice()]));
        self.feed(g, Event::Checked { sample });
    }

    /// The application's pause (0), resume (1) or abort (2).
    pub fn control(&mut self, k: u8) {
        let ctl = match k {
            0 => {
                // While paused, another upload of the same file may take the entry.
                self.push(vec![cmd::UNLOCK.into()]);
                Control::Pause
            }
            1 => Control::Resume,
            _ => Control::Abort,
        };
        self.handle(Input::Control(ctl));
    }

    /// The browser went online or offline.
    pub fn connectivity(&mut self, online: bool) {
        self.handle(Input::Connectivity(online));
    }

    /// When the coordinator next wants to be asked for its steps (ms on the
    /// browser's clock), or -1.
    #[wasm_bindgen(js_name = nextWakeup)]
    pub fn next_wakeup(&self) -> f64 {
        self.coord.as_ref().and_then(Coordinator::next_wakeup).map_or(-1.0, |t| t as f64)
    }

    /// The application has its answer and nothing runs any more (replaced
    /// engines and stale uploads still being deleted finish after the answer).
    pub fn idle(&self) -> bool {
        self.answered && self.coord.as_ref().is_none_or(Coordinator::is_idle)
    }

    /// Whether a slot of the shared budget freed up (or the window grew)
    /// since last asked: the other uploads may start PUTs.
    pub fn woke(&self) -> bool {
        self.budget.woke()
    }

    /// Whether a slot of the shared budget is free. (Not `free`: that is
    /// the name of the wrapper's method that frees the run.)
    #[wasm_bindgen(js_name = slotFree)]
    pub fn slot_free(&self) -> bool {
        self.budget.has_free()
    }
}

use wasm_bindgen::JsCast;

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// `navigator.onLine` of the window or worker (true when unknown).
    #[wasm_bindgen(js_name = online)]
    fn browser_online() -> bool;
}

/// The engine's name of the call an action makes.
fn call_of(action: &Action) -> Option<crate::engine::Call> {
    use crate::engine::Call as C;
    Some(match action {
        Action::Init { .. } => C::Init,
        Action::Sign { part, .. } => C::Sign(*part),
        Action::Complete { .. } => C::Complete,
        Action::Abort { .. } => C::Abort,
        Action::ListParts { .. } => C::List,
        _ => return None,
    })
}

/// How a look-up call ended, for the coordinator.
fn call_end<T>(e: &CallError) -> CallEnd<T> {
    match e {
        CallError::Transient(_) => CallEnd::Transient,
        CallError::Rejected(_) => CallEnd::Rejected,
    }
}

/// A list-parts reply as the engine takes it.
fn stored_parts(parts: Vec<crate::protocol::ListedPart>) -> Vec<crate::engine::upload::StoredPart> {
    parts.into_iter().map(|p| (p.part_number, p.etag, p.size, p.crc32)).collect()
}

/// The most parts one part-urls call asks for (the reference backend's limit).
const MAX_PARTS_PER_CALL: usize = 100;

/// The engine event for the outcome of backend call `call`.
fn call_event(call: crate::engine::Call, result: Result<Event, CallError>) -> Event {
    match result {
        Ok(ev) => ev,
        Err(CallError::Transient(failure)) => Event::CallFailed { call, failure },
        Err(CallError::Rejected(error)) => Event::CallRejected { call, error },
    }
}
