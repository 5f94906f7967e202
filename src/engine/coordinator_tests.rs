//! Whole uploads through the [`Coordinator`], with the resume journal and a
//! simulated store that holds several multipart uploads: resumes, stale
//! entries, pauses and aborts at every point, abort racing complete, init
//! racing abort, lost replies. The invariant of every run: the upload ends
//! exactly once, with the outcome the store agrees with (stored <=> `Ok`),
//! and leaves no open multipart upload that the journal does not hold for a
//! later resume, no engine at work, no timer.

#[allow(unused_imports)]
use crate::prelude::*;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::engine::UploadError;
use crate::engine::adapt::{ADAPT_START, Window};
use crate::engine::coordinator::{CallEnd, Control, Coordinator, Gen, Input, Step, Subject};
use crate::engine::error::ErrorCode;
use crate::engine::plan::MIB;
use crate::engine::retry::{Failure, RetryPolicy};
use crate::engine::upload::{Action, Call, Config, Event, Outcome, Upload};
use crate::resume::{self, Entry, JOURNAL_VERSION};

const SAMPLE: &str = "sample-of-the-file";
/// A client token of an earlier page (32 hex digits, as the client makes them).
const OLD_TOKEN: &str = "0123456789abcdef0123456789abcdef";
/// The token of a page after a reload.
const NEW_TOKEN: &str = "fedcba9876543210fedcba9876543210";

fn subject(size: u64) -> Subject {
    Subject {
        endpoint: "/api".into(),
        key: "k".into(),
        name: "f.bin".into(),
        size,
        last_modified: 7,
        content_type: "application/octet-stream".into(),
        client_token: format!("{size:032x}"),
    }
}

/// The store: multipart uploads by id, and which one the object came from.
#[derive(Default)]
struct Store {
    uploads: HashMap<String, BTreeMap<u16, (String, u64)>>,
    completed: HashSet<String>,
    object_from: Option<String>,
    next_id: u32,
    /// Init's client tokens, as a backend that keeps them: token → upload.
    tokens: HashMap<String, String>,
}

/// The simulated browser, backend and store around one coordinator.
struct World {
    now: u64,
    queue: BTreeMap<(u64, u64), Input>,
    seq: u64,
    rng: fastrand::Rng,
    store: Store,
    journal: HashMap<String, Entry>,
    in_flight: HashMap<(Gen, u16), u32>,
    max_in_flight: usize,
    released: HashSet<Gen>,
    /// Failure odds of backend calls and PUTs, and of a lost reply.
    fail: f64,
    lost: f64,
    /// Only this call's replies are lost, when set: this many times.
    lost_only: Option<Call>,
    lost_times: u32,
    /// This call's replies come garbled (unreadable: rejected without a
    /// status) after it did its work, this many times.
    garbled: Option<(Call, u32)>,
    /// The journal's storage never answers.
    journal_hangs: bool,
    /// Another running upload holds the journal entry (its lock).
    journal_busy: bool,
    /// The content sample's read never ends.
    sample_hangs: bool,
    /// Samples read by the journal's look-up ([`Step::HashSample`]), and
    /// the samples the journal's entries were written with.
    samples_read: u32,
    samples_written: Vec<String>,
    /// Abort as soon as complete is sent.
    abort_when_completing: bool,
    /// Parts stored before the run (of a resumable upload), never sent again.
    prestored: Option<(String, Vec<u16>)>,
    resumed: bool,
    finished: Vec<Result<Outcome, UploadError>>,
    progress: Vec<u64>,
    ms_per_mib: u64,
    /// A backend call's answer comes this many ms (and up to 19 more, at
    /// random) after it is made.
    call_ms: u64,
    stale_failures: u32,
    /// An adaptive concurrency window (as the browser's budget keeps it), with
    /// each running PUT's bytes; `None`: the concurrency is fixed.
    window: Option<Window>,
    /// Each running PUT's bytes and when it started.
    put_bytes: HashMap<(Gen, u16), (u64, u64)>,
    /// Every PUT: part, bytes.
    puts: Vec<(u16, u64)>,
    /// The first journal entry written with grown parts: its first grown
    /// part and size, and the PUTs sent before it was written.
    grown_written: Option<(u64, u64, usize)>,
    /// The parts read to be hashed, by engine.
    hashed: Vec<(Gen, u16)>,
    /// A PUT's whole body is handed to the browser at once (its progress
    /// says all of it 1 ms after it starts, as when the send buffers take it).
    handed_over_at_once: bool,
    /// (when, bytes) of every progress report.
    reports: Vec<(u64, u64)>,
    /// When each PUT began.
    put_starts: Vec<u64>,
}

impl World {
    fn new(seed: u64) -> Self {
        Self {
            now: 0,
            queue: BTreeMap::new(),
            seq: 0,
            rng: fastrand::Rng::with_seed(seed),
            store: Store::default(),
            journal: HashMap::new(),
            in_flight: HashMap::new(),
            max_in_flight: 0,
            released: HashSet::new(),
            fail: 0.0,
            lost: 0.0,
            lost_only: None,
            lost_times: 1,
            garbled: None,
            journal_hangs: false,
            journal_busy: false,
            sample_hangs: false,
            samples_read: 0,
            samples_written: Vec::new(),
            abort_when_completing: false,
            prestored: None,
            resumed: false,
            finished: Vec::new(),
            progress: Vec::new(),
            ms_per_mib: 5,
            call_ms: 1,
            stale_failures: 0,
            window: None,
            put_bytes: HashMap::new(),
            puts: Vec::new(),
            grown_written: None,
            hashed: Vec::new(),
            handed_over_at_once: false,
            reports: Vec::new(),
            put_starts: Vec::new(),
        }
    }

    fn at(&mut self, delay: u64, input: Input) {
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), input);
    }

    /// A backend call's reply: maybe a transient failure instead (the call
    /// had no effect then), maybe lost (it had, but the reply never comes:
    /// the glue's 30 s bound ends it as a timeout). Init's reply is never
    /// lost here: an upload whose id never reached the client is beyond any
    /// client's reach (the bucket's lifecycle rule deletes it).
    fn reply(&mut self, g: Gen, call: Call, ok: Event, effect: impl FnOnce(&mut Store)) {
        let s503 = Failure::Status { status: 503, body: String::new(), retry_after_ms: None };
        if self.rng.f64() < self.fail {
            self.at(5, Input::Engine(g, Event::CallFailed { call, failure: s503 }));
            return;
        }
        effect(&mut self.store);
        if let Some((c, n)) = &mut self.garbled
            && *c == call
            && *n > 0
        {
            *n -= 1;
            let error =
                UploadError::new(ErrorCode::BackendError, "the backend's reply to multipart/complete is not JSON");
            self.at(5, Input::Engine(g, Event::CallRejected { call, error }));
            return;
        }
        let losable = (call != Call::Init || self.lost_only == Some(Call::Init))
            && self.lost_only.is_none_or(|only| only == call);
        if losable && self.rng.f64() < self.lost {
            if self.lost_only.is_some() {
                self.lost_times = self.lost_times.saturating_sub(1);
                if self.lost_times == 0 {
                    self.lost = 0.0;
                }
            }
            self.at(30_000, Input::Engine(g, Event::CallFailed { call, failure: Failure::Timeout }));
        } else {
            let d = self.rng.u64(self.call_ms..self.call_ms + 19);
            self.at(d, Input::Engine(g, ok));
        }
    }

    fn no_such_upload(g: Gen, call: Call) -> Input {
        let error = UploadError::new(ErrorCode::BackendError, "NoSuchUpload").with_status(404);
        Input::Engine(g, Event::CallRejected { call, error })
    }

    fn carry_out(&mut self, step: Step, coord: &Coordinator, concurrency: usize) {
        if let Step::Engine(g, _) = &step {
            assert!(!self.released.contains(g), "engine {g} works after its release: {step:?}");
        }
        match step {
            Step::Engine(g, Action::Init { parts }) => {
                let token = coord.client_token().to_owned();
                // (An earlier page's entry stays when this upload is not
                // journaled: no resume, or a storage that hangs.)
                assert!(
                    self.journal.values().all(|e| !e.upload_id.is_empty() || e.token == token || e.token == OLD_TOKEN),
                    "init went out with another token than the journal's"
                );
                let id = match self.store.tokens.get(&token) {
                    Some(id) => id.clone(),
                    None => format!("up-{}", self.store.next_id + 1),
                };
                // Half the inits sign the parts they carry (a backend that
                // does), half do not (one that does not know the field).
                let signed = if self.rng.bool() {
                    parts.iter().map(|(n, _)| (*n, format!("https://s3.test/k?uploadId={id}&partNumber={n}"))).collect()
                } else {
                    Vec::new()
                };
                self.reply(g, Call::Init, Event::Initiated { upload_id: id.clone(), signed }, |s| {
                    if !s.tokens.contains_key(&token) {
                        s.next_id += 1;
                        s.tokens.insert(token, id.clone());
                        s.uploads.insert(id, BTreeMap::new());
                    }
                });
            }
            Step::Engine(g, Action::Check { .. }) => {
                self.at(1, Input::Engine(g, Event::Checked { sample: Some(SAMPLE.into()) }));
            }
            Step::Engine(g, Action::Hash { part, .. }) => {
                self.hashed.push((g, part));
                self.at(2, Input::Engine(g, Event::Hashed { part, crc: 7 }));
            }
            Step::Engine(g, Action::Sign { part, upload_id, .. }) => {
                let url = format!("https://s3.test/k?uploadId={}&partNumber={part}", upload_id.unwrap_or_default());
                self.reply(g, Call::Sign(part), Event::Signed { part, url }, |_| {});
            }
            Step::Engine(g, Action::Put { part, attempt, url, start, end }) => {
                assert!(coord.decided(), "a part was sent before the look-up decided");
                if let Some((id, parts)) = &self.prestored {
                    assert!(
                        !(url.contains(&format!("uploadId={id}&")) && parts.contains(&part)),
                        "part {part}, stored before the reload, was sent again"
                    );
                }
                self.in_flight.insert((g, part), attempt);
                self.put_bytes.insert((g, part), (end - start, self.now));
                self.puts.push((part, end - start));
                if let Some(w) = &mut self.window {
                    w.on_start(self.now);
                }
                self.max_in_flight = self.max_in_flight.max(self.in_flight.len());
                assert!(self.in_flight.len() <= concurrency, "more PUTs than allowed");
                let dur = ((end - start) * self.ms_per_mib / MIB).max(1);
                self.put_starts.push(self.now);
                if self.handed_over_at_once {
                    self.at(1, Input::Engine(g, Event::PartProgress { part, attempt, loaded: end - start }));
                }
                let roll = self.rng.f64();
                if roll < self.fail {
                    let failure = Failure::Status { status: 500, body: String::new(), retry_after_ms: None };
                    self.at(dur, Input::Engine(g, Event::PartFailed { part, attempt, failure }));
                } else if roll < self.fail * 1.5 {
                    let failure = Failure::Network("reset".into());
                    self.at(dur / 2, Input::Engine(g, Event::PartFailed { part, attempt, failure }));
                } else {
                    // Stored when it arrives (see `step`).
                    let id = url.split("uploadId=").nth(1).and_then(|r| r.split('&').next()).unwrap_or("").to_owned();
                    self.at(
                        dur,
                        Input::Engine(
                            g,
                            Event::PartDone { part, attempt, etag: Some(format!("{id}:{part}:{}", end - start)) },
                        ),
                    );
                }
            }
            Step::Engine(g, Action::Cancel { part }) => {
                self.in_flight.remove(&(g, part));
            }
            Step::Engine(g, Action::Complete { upload_id, parts, .. }) => {
                let known = self
                    .store
                    .uploads
                    .get(&upload_id)
                    .map(|stored| parts.iter().all(|(n, etag)| stored.get(n).is_some_and(|(e, _)| e == etag)));
                match known {
                    Some(true) => {
                        let id = upload_id.clone();
                        self.reply(
                            g,
                            Call::Complete,
                            Event::Completed { etag: Some("\"e\"".into()), location: None },
                            |s| {
                                s.uploads.remove(&id);
                                s.completed.insert(id.clone());
                                s.object_from = Some(id);
                            },
                        );
                    }
                    Some(false) => panic!("complete with parts the store does not hold: {parts:?}"),
                    // A repeated complete (its first reply lost) succeeds, as on S3.
                    None if self.store.completed.contains(&upload_id) => {
                        self.reply(
                            g,
                            Call::Complete,
                            Event::Completed { etag: Some("\"e\"".into()), location: None },
                            |_| {},
                        );
                    }
                    None => self.at(5, Self::no_such_upload(g, Call::Complete)),
                }
                if self.abort_when_completing {
                    self.at(0, Input::Control(Control::Abort));
                }
            }
            Step::Engine(g, Action::Abort { upload_id }) => {
                if self.store.uploads.contains_key(&upload_id) {
                    self.reply(g, Call::Abort, Event::AbortDone, |s| {
                        s.uploads.remove(&upload_id);
                    });
                } else {
                    self.at(5, Self::no_such_upload(g, Call::Abort));
                }
            }
            Step::Engine(_, other) => panic!("not an engine request: {other:?}"),
            Step::Release(g) => {
                self.in_flight.retain(|(r, _), _| *r != g);
                self.released.insert(g);
            }
            Step::Notify(Action::Progress(p)) => {
                if let Some(&last) = self.progress.last() {
                    assert!(p.bytes_sent >= last, "progress went back from {last} to {}", p.bytes_sent);
                }
                self.progress.push(p.bytes_sent);
                self.reports.push((self.now, p.bytes_sent));
            }
            Step::Notify(_) => {}
            Step::Resumed { upload_id, .. } => {
                assert_eq!(Some(upload_id), self.prestored.as_ref().map(|p| p.0.clone()));
                assert!(!self.resumed, "resumed twice");
                self.resumed = true;
            }
            Step::ReadJournal(_) if self.journal_busy => self.at(1, Input::JournalBusy),
            Step::ReadJournal(id) => {
                if !self.journal_hangs {
                    let found = self.journal.get(&id).cloned().map(Box::new);
                    self.at(1, Input::JournalRead(found));
                }
            }
            Step::HashSample(ranges) => {
                assert!(!ranges.is_empty());
                self.samples_read += 1;
                if !self.sample_hangs {
                    self.at(3, Input::SampleHashed(Some(SAMPLE.into())));
                }
            }
            Step::ListParts { upload_id, .. } => {
                let end = if self.rng.f64() < self.fail * 2.0 {
                    CallEnd::Transient
                } else {
                    match self.store.uploads.get(&upload_id) {
                        Some(parts) => {
                            CallEnd::Ok(parts.iter().map(|(n, (e, len))| (*n, e.clone(), *len, None)).collect())
                        }
                        None => CallEnd::Rejected,
                    }
                };
                self.at(4, Input::PartsListed(end));
            }
            Step::AbortStale { upload_id, .. } => {
                // At most two failures in a row: past three the coordinator
                // leaves it to the bucket's lifecycle rule.
                let end = if self.stale_failures < 2 && self.rng.f64() < self.fail * 2.0 {
                    self.stale_failures += 1;
                    CallEnd::Transient
                } else if self.store.uploads.remove(&upload_id).is_some() {
                    CallEnd::Ok(())
                } else {
                    CallEnd::Rejected
                };
                self.at(4, Input::StaleAborted { upload_id, end });
            }
            Step::WriteJournal(entry) => {
                assert!(self.finished.is_empty(), "the journal was written after the upload ended");
                self.samples_written.push(entry.sample.clone());
                if entry.grown_from > 0 && self.grown_written.is_none() {
                    self.grown_written = Some((entry.grown_from, entry.grown_size, self.puts.len()));
                }
                self.journal.insert(entry.id.clone(), entry);
            }
            Step::DeleteJournal(id) => {
                self.journal.remove(&id);
            }
            Step::Finished(result) => self.finished.push(result),
        }
    }

    /// Runs until the coordinator is idle; `control` gives the application's
    /// controls at their times.
    fn run(&mut self, coord: &mut Coordinator, concurrency: usize, controls: &mut Vec<(u64, Control)>) {
        for _ in 0..500_000 {
            loop {
                let limit = self.window.as_ref().map_or(concurrency, Window::limit);
                assert!(limit <= concurrency, "the window left its bounds");
                let mut free = limit.saturating_sub(self.in_flight.len());
                let Some(step) = coord.poll(self.now, &mut free) else { break };
                self.carry_out(step, coord, concurrency);
            }
            if coord.is_idle() && self.finished.len() == 1 {
                return;
            }
            if let Some(w) = coord.next_wakeup() {
                assert!(w > self.now, "wakeup at {w} ms is already due at {} ms: the glue would spin", self.now);
            }
            let next_event = self.queue.keys().next().map(|k| k.0);
            let next_control = controls.first().map(|c| c.0);
            let t = [next_event, coord.next_wakeup(), next_control].into_iter().flatten().min();
            let Some(t) = t else {
                panic!("stuck at {} ms: no event pending, no wakeup, finished {:?}", self.now, self.finished.len())
            };
            self.now = self.now.max(t);
            if next_control.is_some_and(|c| c <= self.now) {
                let (_, ctl) = controls.remove(0);
                coord.handle(Input::Control(ctl), self.now);
                continue;
            }
            if next_event.is_some_and(|e| e <= self.now) {
                let (_, input) = self.queue.pop_first().expect("event");
                if let Input::Engine(g, Event::PartDone { part, attempt, etag: Some(etag) }) = &input {
                    // The PUT's body arrived: stored, if its upload still exists.
                    if self.in_flight.get(&(*g, *part)) == Some(attempt) {
                        let mut it = etag.split(':');
                        let (id, len) = (it.next().unwrap_or(""), it.nth(1).and_then(|l| l.parse().ok()).unwrap_or(0));
                        match self.store.uploads.get_mut(id) {
                            Some(parts) => {
                                parts.insert(*part, (etag.clone(), len));
                            }
                            None => {
                                self.in_flight.remove(&(*g, *part));
                                let failure =
                                    Failure::Status { status: 404, body: "NoSuchUpload".into(), retry_after_ms: None };
                                coord.handle(
                                    Input::Engine(*g, Event::PartFailed { part: *part, attempt: *attempt, failure }),
                                    self.now,
                                );
                                continue;
                            }
                        }
                    }
                }
                if let Input::Engine(g, Event::PartDone { part, attempt, .. } | Event::PartFailed { part, attempt, .. }) =
                    &input
                    && self.in_flight.get(&(*g, *part)) == Some(attempt)
                {
                    self.in_flight.remove(&(*g, *part));
                    let (bytes, started) = self.put_bytes.remove(&(*g, *part)).unwrap_or((0, self.now));
                    if let Some(w) = &mut self.window {
                        match &input {
                            Input::Engine(_, Event::PartDone { .. }) => {
                                w.on_done(bytes, self.now - started, self.now);
                            }
                            Input::Engine(_, Event::PartFailed { failure, .. }) if failure.is_congestion() => {
                                w.on_trouble(self.now);
                            }
                            _ => {}
                        }
                    }
                }
                coord.handle(input, self.now);
            }
        }
        panic!("the upload never became idle");
    }
}

fn config(concurrency: usize) -> Config {
    Config {
        part_size: 5 * MIB,
        concurrency,
        retry: RetryPolicy { delays_ms: vec![0, 100, 300, 1_000], max_total_retries: 40 },
        part_timeout_ms: 0,
        ..Config::default()
    }
}

/// A journal entry for the file, of an upload `id` with `part_size`.
fn entry(size: u64, id: &str, part_size: u64, sample: &str, updated_ms: u64) -> Entry {
    let s = subject(size);
    Entry {
        v: JOURNAL_VERSION,
        id: resume::entry_id(&s.endpoint, &s.key, &s.name, s.size, s.last_modified),
        endpoint: s.endpoint,
        key: s.key,
        name: s.name,
        size,
        last_modified: s.last_modified,
        sample: sample.into(),
        upload_id: id.into(),
        part_size,
        grown_from: 0,
        grown_size: 0,
        content_type: s.content_type,
        created_ms: 0,
        updated_ms,
        parts: Vec::new(),
        checksum: "CRC32".into(),
        token: String::new(),
    }
}

/// What the journal and the store hold before the upload starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Before {
    Nothing,
    /// A resumable upload of this file, some parts stored.
    Resumable,
    /// An entry for the same name, size and date, other content.
    Changed,
    /// An entry whose upload the store no longer has.
    Gone,
    /// An entry older than the journal's TTL.
    Expired,
    /// An entry of an init whose answer never came (the page was closed):
    /// its token, no upload id; the backend created the upload.
    InitOnItsWay,
}

/// Sets the world up as `before` says; returns the stale upload's id, if any.
fn prepare(w: &mut World, before: Before, size: u64, now: u64) -> Option<String> {
    if before == Before::Nothing {
        return None;
    }
    let id = "stored-1".to_owned();
    let ps = 5 * MIB;
    let count = size.div_ceil(ps) as u16;
    let sample = if before == Before::Changed { "other" } else { SAMPLE };
    let updated = if before == Before::Expired { 0 } else { now };
    let mut e = entry(size, &id, ps, sample, updated);
    if before == Before::InitOnItsWay {
        e = Entry { upload_id: String::new(), part_size: 0, sample: String::new(), token: OLD_TOKEN.into(), ..e };
        w.store.tokens.insert(e.token.clone(), id.clone());
        w.store.uploads.insert(id.clone(), BTreeMap::new());
        w.journal.insert(e.id.clone(), e);
        return Some(id);
    }
    w.journal.insert(e.id.clone(), e);
    if before != Before::Gone {
        let mut parts = BTreeMap::new();
        let mut pre = Vec::new();
        for n in 1..=count {
            if w.rng.bool() {
                let len = ps.min(size - u64::from(n - 1) * ps);
                parts.insert(n, (format!("{id}:{n}:{len}"), len));
                pre.push(n);
            }
        }
        w.store.uploads.insert(id.clone(), parts);
        if before == Before::Resumable {
            w.prestored = Some((id.clone(), pre));
        }
    }
    Some(id)
}

/// The end state every run must reach.
fn check_end(w: &World, coord: &Coordinator, seed: u64) {
    assert_eq!(w.finished.len(), 1, "seed {seed}: the upload must end exactly once");
    let stored = w.store.object_from.is_some();
    assert_eq!(w.finished[0].is_ok(), stored, "seed {seed}: outcome {:?} but stored: {stored}", w.finished[0]);
    if let Ok(out) = &w.finished[0] {
        assert_eq!(out.upload_id, w.store.object_from, "seed {seed}: the outcome names the upload stored");
    }
    // Every open multipart upload is one the journal keeps for a later resume.
    // (An entry of an init on its way keeps its upload by the token.)
    let kept: HashSet<&String> = w
        .journal
        .values()
        .filter_map(|e| if e.upload_id.is_empty() { w.store.tokens.get(&e.token) } else { Some(&e.upload_id) })
        .collect();
    for id in w.store.uploads.keys() {
        assert!(kept.contains(id), "seed {seed}: multipart upload {id} left open and forgotten");
    }
    assert!(
        w.journal.values().all(|e| e.upload_id == "stored-1"
            || (e.upload_id.is_empty() && (e.token == OLD_TOKEN || w.finished[0].is_err()))),
        "seed {seed}: the journal keeps an ended upload"
    );
    assert!(w.in_flight.is_empty(), "seed {seed}: PUTs still running: {:?}", w.in_flight);
    assert_eq!(coord.engines(), 0, "seed {seed}: an engine is still at work");
    assert_eq!(coord.next_wakeup(), None, "seed {seed}: a timer is still set");
}

#[test]
fn resumes_a_stored_upload_and_sends_only_the_missing_parts() {
    let size = 23 * MIB;
    let mut w = World::new(1);
    prepare(&mut w, Before::Resumable, size, 1_000);
    w.now = 1_000;
    let up = Upload::new(size, config(4), 1).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 1, true, w.now);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, 1);
    assert!(w.resumed, "the stored upload was resumed");
    assert_eq!(w.store.object_from.as_deref(), Some("stored-1"));
    // The new upload's init waited for the look-up: no upload was created
    // only to be deleted.
    assert_eq!(w.store.next_id, 0, "no new multipart upload");
    assert!(w.store.uploads.is_empty());
    assert!(w.journal.is_empty());
    // The first parts, hashed by the new upload during the look-up, are not
    // read again by the resumed one (the part size is the same).
    assert!(w.hashed.iter().any(|(g, _)| *g == 0), "hashed during the look-up");
    let mut parts: Vec<u16> = w.hashed.iter().map(|(_, p)| *p).collect();
    parts.sort_unstable();
    let read = parts.len();
    parts.dedup();
    assert_eq!(read, parts.len(), "a part read twice: {:?}", w.hashed);
}

/// A resumed upload counts a running PUT's bytes at the rate the
/// `Uploader`'s earlier uploads measured, as the fresh upload it replaces was
/// told to: not as handed over to the browser's send buffers, all at once.
#[test]
fn a_resumed_upload_counts_running_puts_at_the_rate_measured_before() {
    let size = 40 * MIB;
    let ms_per_mib = 400;
    let mut w = World::new(3);
    prepare(&mut w, Before::Resumable, size, 1_000);
    w.now = 1_000;
    w.ms_per_mib = ms_per_mib;
    w.handed_over_at_once = true;
    let id = w.prestored.as_ref().map(|p| p.0.clone()).expect("a stored upload");
    let stored_before: u64 = w.store.uploads[&id].values().map(|(_, len)| len).sum();
    let up = Upload::new(size, config(4).for_file(size, 4, Some(ms_per_mib)), 3).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 3, true, w.now);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, 3);
    assert!(w.resumed, "the stored upload was resumed");
    // Until the first part is answered (a part's PUT takes 2 s), progress
    // counts at most what 4 PUTs deliver at that rate since the first began:
    // not the parts handed over 1 ms after they start.
    let first_put = w.put_starts[0];
    let answered = first_put + 5 * ms_per_mib;
    let early: Vec<_> = w.reports.iter().filter(|&&(t, b)| t < answered && b > stored_before).collect();
    assert!(!early.is_empty(), "no report while the first PUTs ran: {:?}", w.reports);
    for &&(t, b) in &early {
        let due = 4 * (t - first_put) * MIB / ms_per_mib + 64 * 1024;
        assert!(
            b - stored_before <= due,
            "{} bytes counted {} ms after the first PUT began (at most {due}): {:?}",
            b - stored_before,
            t - first_put,
            w.reports
        );
    }
}

/// Parts that grow (backend calls of 5 ms, parts' bytes at 5 ms a MiB:
/// the round trip a fifth of a 5 MiB part's PUT) are journaled before the
/// first of them is sent, and a reload goes on with them as cut.
#[test]
fn grown_parts_are_journaled_before_they_are_sent_and_resume_as_cut() {
    let size = 200 * MIB;
    let grows = Config { part_grow_max: 64 * MIB, ..config(4) };
    let mut w = World::new(4);
    let up = Upload::new(size, grows.clone(), 4).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), grows.clone(), 4, true, 0);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, 4);
    let (from, grown, puts_before) = w.grown_written.expect("the grown parts were journaled");
    // (15 × 5 ms at about 20 ms a 5 MiB part's bytes: about 19 MiB, made
    // larger so that what is left goes in whole rounds of 4: under twice.)
    assert!((15 * MIB..40 * MIB).contains(&grown), "grown to {grown}");
    assert_eq!((size - (from - 1) * 5 * MIB).div_ceil(grown) % 4, 0, "whole rounds of {grown}");
    let first_grown = w.puts.iter().position(|&(p, _)| u64::from(p) >= from).expect("a grown part was sent");
    assert!(first_grown >= puts_before, "a grown part was sent before the journal knew: {:?}", w.puts);
    let last = w.puts.iter().map(|q| q.0).max().unwrap_or(0);
    for &(p, len) in &w.puts {
        assert!(p == last || len == if u64::from(p) < from { 5 * MIB } else { grown }, "part {p}: {len}");
    }

    // The page reloaded with parts 1 and 4 of such an upload stored: only
    // the others are sent, as cut (part 4: 9 MiB), into the same upload.
    let size = 23 * MIB; // parts 1, 2 of 5 MiB, then of 9 (3: 10..19, 4: 19..23)
    let mut w = World::new(5);
    let id = "stored-1".to_owned();
    let e = Entry { grown_from: 3, grown_size: 9 * MIB, ..entry(size, &id, 5 * MIB, SAMPLE, 1_000) };
    w.journal.insert(e.id.clone(), e);
    let held = |n: u16, len: u64| (n, (format!("{id}:{n}:{len}"), len));
    w.store.uploads.insert(id.clone(), [held(1, 5 * MIB), held(4, 4 * MIB)].into());
    w.prestored = Some((id.clone(), vec![1, 4]));
    w.now = 1_000;
    let up = Upload::new(size, grows.clone(), 5).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), grows, 5, true, w.now);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, 5);
    assert!(w.resumed, "the stored upload was resumed");
    assert_eq!(w.store.object_from.as_deref(), Some("stored-1"));
    let mut sent = w.puts.clone();
    sent.sort_unstable();
    sent.dedup();
    assert_eq!(sent, vec![(2, 5 * MIB), (3, 9 * MIB)], "the missing parts, as cut before the reload");

    // An entry whose grown sizes cannot cut the file (altered in the
    // storage): not resumed; its upload is deleted and the file goes anew.
    let mut w = World::new(6);
    let e = Entry { grown_from: 9, grown_size: 9 * MIB, ..entry(size, &id, 5 * MIB, SAMPLE, 1_000) };
    w.journal.insert(e.id.clone(), e);
    w.store.uploads.insert(id.clone(), [held(1, 5 * MIB)].into());
    w.now = 1_000;
    let up = Upload::new(size, config(4), 6).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 6, true, w.now);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, 6);
    assert!(!w.resumed);
    assert!(!w.store.uploads.contains_key(&id), "the altered entry's upload was deleted");
    assert_eq!(w.store.object_from.as_deref(), Some("up-1"), "the file went anew");
}

/// A reloaded upload whose parts never grew (its first part's PUT was on a
/// near link, say) goes on over a far one: its parts not yet stored grow,
/// journaled before the first of them is sent, and a second reload goes on
/// with them as cut.
#[test]
fn a_resumed_upload_whose_parts_never_grew_may_grow() {
    let size = 200 * MIB;
    let grows = Config { part_grow_max: 64 * MIB, ..config(4) };
    let mut w = World::new(7);
    // Backend calls of 15 ms at least, a 5 MiB part's bytes 25 ms.
    w.call_ms = 15;
    let id = "stored-1".to_owned();
    let e = entry(size, &id, 5 * MIB, SAMPLE, 1_000);
    assert_eq!(e.grown_from, 0, "an entry whose parts never grew");
    w.journal.insert(e.id.clone(), e);
    let held = |n: u16| (n, (format!("{id}:{n}:{}", 5 * MIB), 5 * MIB));
    w.store.uploads.insert(id.clone(), [held(1), held(2)].into());
    w.prestored = Some((id.clone(), vec![1, 2]));
    w.now = 1_000;
    let up = Upload::new(size, grows.clone(), 7).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), grows, 7, true, w.now);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, 7);
    assert!(w.resumed, "the stored upload was resumed");
    assert_eq!(w.store.object_from.as_deref(), Some("stored-1"));
    let (from, grown, puts_before) = w.grown_written.expect("the resumed upload's parts grew, journaled");
    assert!(from > 3 && grown > 5 * MIB, "from part {from}, {grown} bytes");
    let first_grown = w.puts.iter().position(|&(p, _)| u64::from(p) >= from).expect("a grown part was sent");
    assert!(first_grown >= puts_before, "a grown part was sent before the journal knew: {:?}", w.puts);
    let last = w.puts.iter().map(|q| q.0).max().unwrap_or(0);
    assert!(w.puts.iter().all(|&(p, _)| p > 2), "the stored parts were not sent again: {:?}", w.puts);
    for &(p, len) in &w.puts {
        assert!(p == last || len == if u64::from(p) < from { 5 * MIB } else { grown }, "part {p}: {len}");
    }
}

/// A new upload's journal entry takes the file's sample from the engine's
/// content check read as the upload began ([`Action::Check`]): the journal
/// does not read the sample again.
#[test]
fn a_new_uploads_entry_takes_its_sample_from_the_engines_check() {
    let size = 40 * MIB;
    let mut w = World::new(1);
    let up = Upload::new(size, config(4), 1).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 1, true, w.now);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, 0);
    assert_eq!(w.samples_read, 0, "no sample read for the journal");
    assert!(w.samples_written.len() > 1, "{:?}", w.samples_written);
    // The token's entry goes before init (the sample may not be in yet); the next carry it.
    assert!(w.samples_written[1..].iter().all(|s| s == SAMPLE), "{:?}", w.samples_written);
}

/// Runs `coord` until its init has reached the backend, then "closes the
/// page": nothing more is heard of it (the reply is dropped, nothing is
/// aborted). With `resume`, the init's token must be in the journal by then.
fn close_the_page_once_init_is_sent(w: &mut World, coord: &mut Coordinator) {
    for _ in 0..10_000 {
        let mut free = 4;
        while let Some(step) = coord.poll(w.now, &mut free) {
            let init = matches!(step, Step::Engine(_, Action::Init { .. }));
            w.carry_out(step, coord, 4);
            if init {
                w.queue.clear();
                return;
            }
        }
        let (_, input) = w.queue.pop_first().expect("init never went out");
        coord.handle(input, w.now);
    }
}

/// The page is closed (reloaded) while init is on its way: the backend
/// creates the multipart upload, its id never reaches the journal. Its
/// client token was journaled before init went out: after the reload the same
/// file asks init again with that token, gets that upload, and sends the
/// file to it. Before the token was journaled, that upload was left open for
/// the bucket's lifecycle rule.
#[test]
fn a_page_closed_while_init_is_on_its_way_leaves_nothing_open() {
    let size = 12 * MIB;
    for seed in 0..20 {
        let mut w = World::new(seed);
        let up = Upload::new(size, config(4), seed).expect("upload");
        let mut first = Coordinator::new(up, subject(size), config(4), seed, true, 0);
        close_the_page_once_init_is_sent(&mut w, &mut first);
        assert_eq!(w.store.uploads.len(), 1, "the backend created the upload");
        let pending: Vec<&Entry> = w.journal.values().collect();
        assert!(
            pending.len() == 1 && pending[0].upload_id.is_empty() && pending[0].token == format!("{size:032x}"),
            "{pending:?}"
        );
        // After the reload: a new token (as every page load makes one).
        w.now = 60_000;
        let reloaded = Subject { client_token: NEW_TOKEN.into(), ..subject(size) };
        let up = Upload::new(size, config(4), seed).expect("upload");
        let mut second = Coordinator::new(up, reloaded, config(4), seed, true, w.now);
        w.run(&mut second, 4, &mut Vec::new());
        check_end(&w, &second, seed);
        assert_eq!(w.store.object_from.as_deref(), Some("up-1"), "seed {seed}: sent to the first init's upload");
        assert_eq!(w.store.next_id, 1, "seed {seed}: no second upload was created");
        assert!(w.store.uploads.is_empty() && w.journal.is_empty(), "seed {seed}");
    }
}

/// Init goes out, the backend creates the upload, and no reply ever comes
/// back (each attempt times out) until the retry policy gives up: the upload
/// fails, and its journal entry keeps the token; the same file's next upload
/// asks init with it, gets that upload and finishes it. Before, the entry was
/// deleted with the failed upload and the first upload left open.
#[test]
fn an_init_that_never_answers_keeps_its_token_for_the_next_upload() {
    let size = 12 * MIB;
    let mut w = World::new(9);
    w.lost = 1.0;
    w.lost_only = Some(Call::Init);
    w.lost_times = 5;
    let up = Upload::new(size, config(4), 9).expect("upload");
    let mut first = Coordinator::new(up, subject(size), config(4), 9, true, 0);
    w.run(&mut first, 4, &mut Vec::new());
    assert!(w.finished[0].is_err(), "{:?}", w.finished[0]);
    assert_eq!(w.store.uploads.len(), 1, "the backend created the upload");
    let kept: Vec<&Entry> = w.journal.values().collect();
    assert!(kept.len() == 1 && kept[0].upload_id.is_empty() && !kept[0].token.is_empty(), "{kept:?}");
    // The next upload of the file (the backend answers again).
    w.finished.clear();
    w.released.clear();
    let next = Subject { client_token: NEW_TOKEN.into(), ..subject(size) };
    let up = Upload::new(size, config(4), 9).expect("upload");
    let mut second = Coordinator::new(up, next, config(4), 9, true, w.now);
    w.run(&mut second, 4, &mut Vec::new());
    check_end(&w, &second, 9);
    assert_eq!(w.store.object_from.as_deref(), Some("up-1"));
    assert_eq!(w.store.next_id, 1, "no second upload was created");
    assert!(w.store.uploads.is_empty() && w.journal.is_empty());
}

/// An init the backend refuses (4xx) created nothing: its entry goes.
#[test]
fn a_refused_init_leaves_no_entry() {
    let size = 12 * MIB;
    let mut w = World::new(10);
    let up = Upload::new(size, config(4), 10).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 10, true, 0);
    let mut free = 4;
    loop {
        let step = match coord.poll(w.now, &mut free) {
            Some(step) => step,
            None => {
                let (_, input) = w.queue.pop_first().expect("an event");
                coord.handle(input, w.now);
                continue;
            }
        };
        match step {
            Step::Engine(g, Action::Init { .. }) => {
                let error = UploadError::new(ErrorCode::BackendError, "InvalidKey").with_status(400);
                coord.handle(Input::Engine(g, Event::CallRejected { call: Call::Init, error }), w.now);
            }
            Step::Finished(result) => {
                assert!(result.is_err());
                w.finished.push(result);
            }
            other => w.carry_out(other, &coord, 4),
        }
        if coord.is_idle() && w.finished.len() == 1 {
            break;
        }
    }
    assert!(w.journal.is_empty(), "{:?}", w.journal);
}

/// The same with a content type the second page sends differently: the
/// backend bound the token to the first one, so it is not adopted; the entry
/// is dropped and the file sent to a new upload (the first is left to the
/// lifecycle rule: nothing can reach it).
#[test]
fn a_journaled_token_is_not_adopted_for_another_content_type() {
    let size = 12 * MIB;
    let mut w = World::new(1);
    let up = Upload::new(size, config(4), 1).expect("upload");
    let mut first = Coordinator::new(up, subject(size), config(4), 1, true, 0);
    close_the_page_once_init_is_sent(&mut w, &mut first);
    let other = Subject { client_token: NEW_TOKEN.into(), content_type: "text/plain".into(), ..subject(size) };
    let up = Upload::new(size, config(4), 1).expect("upload");
    let mut second = Coordinator::new(up, other, config(4), 1, true, 10);
    w.run(&mut second, 4, &mut Vec::new());
    assert_eq!(w.store.object_from.as_deref(), Some("up-2"));
    assert!(w.journal.is_empty());
    assert_eq!(w.store.uploads.keys().collect::<Vec<_>>(), ["up-1"], "only the unreachable one is open");
}

#[test]
fn a_changed_file_deletes_the_stale_upload_and_starts_anew() {
    let size = 12 * MIB;
    for before in [Before::Changed, Before::Gone, Before::Expired] {
        let mut w = World::new(2);
        let now = 8 * 24 * 3600 * 1000;
        prepare(&mut w, before, size, if before == Before::Expired { 0 } else { now });
        w.now = now;
        let up = Upload::new(size, config(4), 2).expect("upload");
        let mut coord = Coordinator::new(up, subject(size), config(4), 2, true, w.now);
        w.run(&mut coord, 4, &mut Vec::new());
        check_end(&w, &coord, 2);
        assert!(!w.resumed, "{before:?}: not resumed");
        assert_eq!(w.store.object_from.as_deref(), Some("up-1"), "{before:?}");
        assert!(w.store.uploads.is_empty(), "{before:?}: the stale upload is deleted");
    }
}

#[test]
fn abort_during_the_look_up_deletes_both_uploads() {
    let size = 12 * MIB;
    for at in [0, 1, 2, 4, 6, 9, 15] {
        let mut w = World::new(3);
        prepare(&mut w, Before::Resumable, size, 0);
        let up = Upload::new(size, config(4), 3).expect("upload");
        let mut coord = Coordinator::new(up, subject(size), config(4), 3, true, 0);
        w.run(&mut coord, 4, &mut vec![(at, Control::Abort)]);
        check_end(&w, &coord, at);
        assert_eq!(w.finished[0].as_ref().map_err(|e| e.code), Err(ErrorCode::Aborted), "abort at {at} ms");
        assert!(w.store.uploads.is_empty(), "abort at {at} ms: open uploads {:?}", w.store.uploads.keys());
    }
}

/// Aborted before the journal answered: init, held until then, never goes
/// out (nothing to create only to delete), unless it adopts a journaled
/// token, whose upload may exist: then it goes out, and that upload is
/// deleted.
#[test]
fn abort_before_the_look_up_decides_sends_init_only_for_an_adopted_token() {
    let size = 12 * MIB;
    for before in [Before::Nothing, Before::InitOnItsWay] {
        let mut w = World::new(11);
        prepare(&mut w, before, size, 0);
        let up = Upload::new(size, config(4), 11).expect("upload");
        let mut coord = Coordinator::new(up, subject(size), config(4), 11, true, 0);
        w.run(&mut coord, 4, &mut vec![(0, Control::Abort)]);
        check_end(&w, &coord, 11);
        assert_eq!(w.finished[0].as_ref().map_err(|e| e.code), Err(ErrorCode::Aborted), "{before:?}");
        assert_eq!(w.store.next_id, 0, "{before:?}: no upload was created");
        assert!(w.store.uploads.is_empty(), "{before:?}: {:?}", w.store.uploads.keys());
        assert!(w.journal.is_empty(), "{before:?}: {:?}", w.journal);
    }
}

/// Another running upload of the same file (another tab, or this page's)
/// holds the journal entry: this one neither resumes nor deletes that
/// upload, nor touches its entry; it sends the file to an upload of its own,
/// unjournaled. Before the entry's lock, a second upload started within the
/// first second of the first deleted the first's upload as "changed".
#[test]
fn an_entry_held_by_a_running_upload_is_left_to_it() {
    for before in [Before::Resumable, Before::Changed, Before::InitOnItsWay] {
        goes_on_anew_leaving_the_entry(before, 12, |w| w.journal_busy = true);
    }
}

/// A 12 MiB upload of a file the journal holds (`before`), in a world set by
/// `set`, that must go on as an upload of its own and leave the entry and
/// its stored upload as they were (checked by `check_end` as well).
fn goes_on_anew_leaving_the_entry(before: Before, seed: u64, set: impl FnOnce(&mut World)) -> World {
    let size = 12 * MIB;
    let mut w = World::new(seed);
    prepare(&mut w, before, size, 0);
    let kept = w.journal.clone();
    w.prestored = None;
    set(&mut w);
    let up = Upload::new(size, config(4), seed).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), seed, true, 0);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, seed);
    assert!(!w.resumed, "{before:?}");
    assert_eq!(w.store.object_from.as_deref(), Some("up-1"), "{before:?}: an upload of its own");
    assert_eq!(w.journal, kept, "{before:?}: the entry is untouched");
    assert!(w.store.uploads.contains_key("stored-1"), "{before:?}: the stored upload is not deleted");
    w
}

#[test]
fn a_storage_that_hangs_lets_the_upload_go_on_unjournaled() {
    let size = 12 * MIB;
    let mut w = World::new(4);
    w.journal_hangs = true;
    let up = Upload::new(size, config(4), 4).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 4, true, 0);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, 4);
    assert!(w.finished[0].is_ok());
    assert!(w.journal.is_empty());
}

#[test]
fn a_sample_read_that_never_ends_lets_the_upload_go_on_anew_and_keeps_the_entry() {
    // An entry for the file, and its content sample's read never answers
    // (a drive that stopped answering): after SAMPLE_TIMEOUT_MS the upload
    // goes on as a new one, unjournaled; the stored upload stays journaled
    // for a later attempt. Before, the look-up waited for ever.
    let w = goes_on_anew_leaving_the_entry(Before::Resumable, 13, |w| w.sample_hangs = true);
    assert!(w.finished[0].is_ok(), "{:?}", w.finished[0]);
    assert!(w.now >= crate::engine::coordinator::SAMPLE_TIMEOUT_MS, "it waited for the sample first ({} ms)", w.now);
}

#[test]
fn abort_racing_complete_ends_as_the_store_says() {
    let size = 12 * MIB;
    let mut w = World::new(5);
    w.abort_when_completing = true;
    let up = Upload::new(size, config(4), 5).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 5, true, 0);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, 5);
    // Complete went first: the object is stored, and the upload says so.
    assert!(w.finished[0].is_ok(), "{:?}", w.finished[0]);
}

/// Hundreds of uploads with the journal in every state, failures and lost
/// replies, pauses, and aborts at random points (during the look-up, during
/// complete, while init is in flight).
#[test]
fn random_uploads_with_resume_end_once_and_leave_nothing_open() {
    let befores =
        [Before::Nothing, Before::Resumable, Before::Changed, Before::Gone, Before::Expired, Before::InitOnItsWay];
    let mut ends = [0usize; 2];
    let mut resumed = 0;
    let mut adapted = 0;
    let mut grew = 0;
    for seed in 0..1_500u64 {
        let mut w = World::new(seed);
        let parts = w.rng.u64(1..=8);
        let size = (parts - 1) * 5 * MIB + w.rng.u64(1..=5 * MIB);
        let before = befores[w.rng.usize(..befores.len())];
        let now = 10 * 24 * 3600 * 1000;
        prepare(&mut w, before, size, if before == Before::Expired { 0 } else { now });
        w.now = now;
        w.fail = [0.0, 0.05, 0.2][w.rng.usize(..3)];
        w.lost = [0.0, 0.02][w.rng.usize(..2)];
        w.ms_per_mib = w.rng.u64(1..=20);
        w.journal_hangs = w.rng.f64() < 0.05;
        w.abort_when_completing = w.rng.f64() < 0.1;
        // One seed in twenty: the file's sample is never read (by the seed,
        // so that the world's dice stay as they were).
        w.sample_hangs = seed % 20 == 3;
        let mut controls = Vec::new();
        if w.rng.f64() < 0.4 {
            let t = now + w.rng.u64(0..300);
            controls.push((t, Control::Pause));
            controls.push((t + w.rng.u64(1..2_000), Control::Resume));
        }
        if w.rng.f64() < 0.25 {
            controls.push((now + w.rng.u64(0..400), Control::Abort));
        }
        controls.sort_by_key(|c| c.0);
        let concurrency = w.rng.usize(1..=5);
        let resume = w.rng.f64() < 0.9;
        // Every other seed with the adaptive window (decided by the seed, so
        // that the rest of the world's dice stay as they were).
        if seed % 2 == 0 {
            w.window = Some(Window::adaptive(1, concurrency.min(ADAPT_START), concurrency));
        }
        // One seed in three: parts may grow (when the link says so).
        let grow = if seed % 3 == 1 { 64 * MIB } else { 5 * MIB };
        let config = Config { part_grow_max: grow, ..config(concurrency) };
        let up = Upload::new(size, config.clone(), seed).expect("upload");
        let mut coord = Coordinator::new(up, subject(size), config, seed, resume, w.now);
        eprintln!("seed {seed}: {size} bytes, {before:?}");
        w.run(&mut coord, concurrency, &mut controls);
        check_end(&w, &coord, seed);
        ends[usize::from(w.finished[0].is_err())] += 1;
        resumed += usize::from(w.resumed);
        adapted += usize::from(w.window.as_ref().is_some_and(|x| x.changes() > 0));
        grew += usize::from(w.grown_written.is_some());
    }
    assert!(grew > 10, "parts grew in only {grew} runs");
    assert!(ends[0] > 700 && ends[1] > 100 && resumed > 100, "ok / failed: {ends:?}, resumed: {resumed}");
    assert!(adapted > 20, "the window moved in only {adapted} runs");
}

/// A 12 MiB upload in a world set up by `set`, checked by `check_end` (the
/// outcome agrees with the store, nothing left open or running).
fn run_12_mib(seed: u64, set: impl FnOnce(&mut World)) -> World {
    let size = 12 * MIB;
    let mut w = World::new(seed);
    set(&mut w);
    let up = Upload::new(size, config(4), seed).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), seed, false, 0);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, seed);
    w
}

/// Complete is applied but its reply is lost; the application aborts while
/// it is in flight. The abort finds no upload: complete is asked again, and
/// its answer (stored) is the outcome. Before that probe, this run ended
/// `Aborted` with the object stored.
#[test]
fn abort_after_a_lost_complete_reply_reports_the_stored_object() {
    for seed in 0..40 {
        let w = run_12_mib(seed, |w| {
            w.lost = 1.0;
            w.lost_only = Some(Call::Complete);
            w.abort_when_completing = true;
        });
        assert!(w.finished[0].is_ok(), "seed {seed}: {:?}", w.finished[0]);
    }
}

/// Every reply of complete is lost until the retry policy gives up (5
/// attempts), though the first one stored the object: the abort then finds
/// no upload, complete is asked again (with retries of its own), and its
/// answer (stored) is the outcome. Before, this run ended in an error with
/// the object stored.
#[test]
fn a_complete_whose_replies_never_come_ends_as_the_store_says() {
    for lost in [5, 7, 9] {
        for seed in 0..20 {
            let w = run_12_mib(seed, |w| {
                w.lost = 1.0;
                w.lost_only = Some(Call::Complete);
                w.lost_times = lost;
            });
            assert!(w.finished[0].is_ok(), "seed {seed}, {lost} replies lost: {:?}", w.finished[0]);
        }
    }
}

/// Complete is applied but its reply cannot be read (not JSON): the upload
/// is aborted, the abort finds no upload, complete is asked again, and its
/// answer (stored) is the outcome. When that answer is garbled too, the
/// upload ends with the error, and the object is stored: the one case where
/// the client cannot know (the invariant is not checked there).
#[test]
fn a_garbled_complete_reply_ends_as_the_store_says() {
    for seed in 0..20 {
        let w = run_12_mib(seed, |w| w.garbled = Some((Call::Complete, 1)));
        assert!(w.finished[0].is_ok(), "seed {seed}: {:?}", w.finished[0]);
    }
    let size = 12 * MIB;
    let mut w = World::new(1);
    w.garbled = Some((Call::Complete, 2));
    let up = Upload::new(size, config(4), 1).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 1, false, 0);
    w.run(&mut coord, 4, &mut Vec::new());
    let e = w.finished[0].as_ref().expect_err("unknowable");
    assert!(e.message.contains("not JSON"), "{e}");
    assert_eq!(coord.engines(), 0);
}

/// An entry of an upload started without checksums (an older version, or
/// `checksum: 'none'`) is not resumed by an upload with them: its parts
/// carry none, and its multipart upload would refuse parts that do. It is
/// deleted and the file sent anew.
#[test]
fn an_upload_started_with_other_checksums_is_not_resumed() {
    let size = 12 * MIB;
    let mut w = World::new(6);
    prepare(&mut w, Before::Resumable, size, 0);
    for e in w.journal.values_mut() {
        e.checksum.clear();
    }
    w.prestored = None;
    let up = Upload::new(size, config(4), 6).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 6, true, 0);
    w.run(&mut coord, 4, &mut Vec::new());
    check_end(&w, &coord, 6);
    assert!(!w.resumed);
    assert_eq!(w.store.object_from.as_deref(), Some("up-1"));
    assert!(w.store.uploads.is_empty(), "the stale upload is deleted");
}

/// While the journal is looked up, the first parts are hashed (init waits
/// for the first part's hash to sign it); init itself waits for the look-up
/// (its token is journaled first), then carries the parts hashed by then.
#[test]
fn the_first_parts_are_hashed_during_the_look_up_and_init_signs_them() {
    let size = 20 * MIB;
    let up = Upload::new(size, config(4), 1).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 1, true, 0);
    let steps = |coord: &mut Coordinator, now| -> Vec<Step> {
        let mut free = 4;
        std::iter::from_fn(|| coord.poll(now, &mut free))
            .filter(|s| !matches!(s, Step::Notify(_) | Step::Engine(_, Action::Check { .. })))
            .collect()
    };
    let first = steps(&mut coord, 0);
    assert!(matches!(first[0], Step::ReadJournal(_)), "{first:?}");
    let hashed: Vec<u16> = first[1..]
        .iter()
        .map(|s| if let Step::Engine(0, Action::Hash { part, .. }) = s { *part } else { panic!("{s:?}") })
        .collect();
    assert_eq!(hashed, vec![1, 2, 3, 4], "hashed while the journal is read");
    for part in [1, 2] {
        coord.handle(Input::Engine(0, Event::Hashed { part, crc: 9 }), 3);
    }
    assert_eq!(steps(&mut coord, 3), vec![], "init waits for the look-up");
    coord.handle(Input::JournalRead(None), 5);
    let next = steps(&mut coord, 5);
    let sum = Some(crate::engine::checksum::to_base64(9));
    assert!(matches!(next[0], Step::WriteJournal(_)), "the token is journaled before init: {next:?}");
    assert_eq!(next[1], Step::Engine(0, Action::Init { parts: vec![(1, sum.clone()), (2, sum)] }));
}

/// Steps of `coord` at `now` (notifications left out).
fn steps_at(coord: &mut Coordinator, now: u64) -> Vec<Step> {
    let mut free = 4;
    std::iter::from_fn(|| coord.poll(now, &mut free))
        .filter(|s| !matches!(s, Step::Notify(_) | Step::Engine(_, Action::Check { .. })))
        .collect()
}

/// With checksums, init waits for the first part's hash (not the others'),
/// then signs every part hashed by then: their PUTs start when it answers.
#[test]
fn init_waits_for_the_first_part_s_hash_and_signs_the_parts_hashed_by_then() {
    let size = 20 * MIB;
    let up = Upload::new(size, config(4), 1).expect("upload");
    let mut coord = Coordinator::new(up, subject(size), config(4), 1, false, 0);
    let first = steps_at(&mut coord, 0);
    assert!(first.iter().all(|s| matches!(s, Step::Engine(0, Action::Hash { .. }))), "{first:?}");
    coord.handle(Input::Engine(0, Event::Hashed { part: 2, crc: 8 }), 1);
    assert_eq!(steps_at(&mut coord, 1), vec![], "part 1 is not hashed yet");
    coord.handle(Input::Engine(0, Event::Hashed { part: 1, crc: 9 }), 2);
    let sum = |c| Some(crate::engine::checksum::to_base64(c));
    assert_eq!(steps_at(&mut coord, 2), vec![Step::Engine(0, Action::Init { parts: vec![(1, sum(9)), (2, sum(8))] })]);
}

/// Aborted, or the first part unreadable, while init waits for its hash:
/// the upload ends and no init is sent (nothing to create and delete).
#[test]
fn an_upload_that_ends_while_init_waits_for_the_first_hash_sends_no_init() {
    for unreadable in [false, true] {
        let size = 20 * MIB;
        let up = Upload::new(size, config(4), 1).expect("upload");
        let mut coord = Coordinator::new(up, subject(size), config(4), 1, false, 0);
        steps_at(&mut coord, 0);
        if unreadable {
            coord.handle(Input::Engine(0, Event::HashFailed { part: 1, message: "NotReadableError".into() }), 1);
        } else {
            coord.handle(Input::Control(Control::Abort), 1);
        }
        let rest = steps_at(&mut coord, 1);
        assert!(!rest.iter().any(|s| matches!(s, Step::Engine(_, Action::Init { .. }))), "{rest:?}");
        let Some(Step::Finished(Err(e))) = rest.last() else { panic!("{rest:?}") };
        let want = if unreadable { ErrorCode::FileReadError } else { ErrorCode::Aborted };
        assert_eq!(e.code, want);
    }
}
