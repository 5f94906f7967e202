//! One upload as the application sees it, pure: the engine that sends the
//! file, the resume journal's look-up beside it, and the swap to a stored
//! upload of the same file when the look-up finds one. Every decision the
//! browser glue used to make (hold the parts back until the look-up decides,
//! resume or start anew, retry list-parts, delete a stale upload, when to
//! write the journal, retire a replaced engine) is made here, with time
//! passed in; the driver only carries out [`Step`]s and feeds back [`Input`]s.
//!
//! Engines are told apart by a generation number: generation 0 is the new
//! upload, generation 1 the stored one it may be replaced by. Events of a
//! replaced engine still reach it (it is aborted and runs until its
//! multipart upload is deleted), never the one that replaced it.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::collections::VecDeque;

use crate::engine::plan::Plan;
use crate::engine::upload::{Action, Config, Event, Outcome, StoredPart, Upload};
use crate::engine::{Progress, UploadError};
use crate::resume::{self, Entry, JOURNAL_VERSION, Lookup};

/// An engine's generation.
pub type Gen = u8;

/// Reading the journal gets this long; past it the upload goes on
/// unjournaled rather than wait (a browser whose storage hangs must not hold
/// the upload back).
pub const LOOKUP_TIMEOUT_MS: u64 = 5_000;
/// Hashing the content sample of a file the journal has an entry for (192
/// KiB at most) gets this long; past it the file is taken as unreadable for
/// the look-up, as when its read fails: the entry's upload is kept for a
/// later attempt and this one goes on anew, unjournaled (a read that never
/// ends must not hold the upload forever).
pub const SAMPLE_TIMEOUT_MS: u64 = 15_000;
/// How long after the start of a new upload its content sample is read
/// when the engine's content check has not given it by then (so that its
/// reads do not compete with the first parts).
pub const SAMPLE_DELAY_MS: u64 = 1_000;
/// Waits before list-parts is asked again when it failed transiently.
pub const LIST_RETRY_MS: [u64; 2] = [500, 2_000];
/// Waits before a stale upload's abort is sent again when it failed transiently.
pub const STALE_ABORT_RETRY_MS: [u64; 2] = [1_000, 3_000];
/// Stored parts are written to the journal at most this often: list-parts is
/// the truth when resuming, the entry only says how far along it was.
pub const PART_WRITE_INTERVAL_MS: u64 = 2_000;

/// The file, as the journal knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The backend's label (endpoint or hooks).
    pub endpoint: String,
    /// Object key.
    pub key: String,
    /// File name (empty for a `Blob`).
    pub name: String,
    /// File size.
    pub size: u64,
    /// File `lastModified` (ms).
    pub last_modified: u64,
    /// MIME type.
    pub content_type: String,
    /// Sent with every init of the upload (random; or the one of a journaled
    /// init whose answer never came, [`Lookup::Adopt`]): a backend that keeps
    /// it answers an init asked again with the upload it created.
    pub client_token: String,
}

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

/// How a list-parts or abort call of the look-up ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEnd<T> {
    /// It answered.
    Ok(T),
    /// It may pass later (network, 5xx, timeout).
    Transient,
    /// It will not pass (4xx: the upload is gone).
    Rejected,
}

/// What happened, fed into [`Coordinator::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// An event of engine `Gen`'s work.
    Engine(Gen, Event),
    /// The application's control.
    Control(Control),
    /// `navigator.onLine` changed.
    Connectivity(bool),
    /// The journal entry asked for ([`Step::ReadJournal`]); `None` when there
    /// is none or it cannot be read.
    JournalRead(Option<Box<Entry>>),
    /// Another running upload (this page's or another tab's) holds that
    /// journal entry: this one goes on unjournaled, the entry left to it.
    JournalBusy,
    /// The content sample's hash ([`Step::HashSample`]); `None` when the file
    /// cannot be read.
    SampleHashed(Option<String>),
    /// The stored upload's parts ([`Step::ListParts`]): (number, ETag, size).
    PartsListed(CallEnd<Vec<StoredPart>>),
    /// A stale upload's abort ([`Step::AbortStale`]) ended.
    StaleAborted {
        /// The upload.
        upload_id: String,
        /// How.
        end: CallEnd<()>,
    },
}

/// What the glue must do, returned by [`Coordinator::poll`].
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Carry out an engine's request (init, sign, put, cancel, complete,
    /// abort); its results come back as [`Input::Engine`] of that generation.
    Engine(Gen, Action),
    /// Engine `Gen` is over: stop whatever of it still runs.
    Release(Gen),
    /// Tell the application: progress, a stored part, a retry coming.
    Notify(Action),
    /// Tell the application that a stored upload of this file goes on.
    Resumed {
        /// Its id.
        upload_id: String,
        /// Parts stored already.
        parts: usize,
        /// Bytes stored already.
        bytes: u64,
    },
    /// Read the journal entry `id` (answer: [`Input::JournalRead`]).
    ReadJournal(String),
    /// Hash these byte ranges of the file with [`resume::sample_hash`]
    /// (answer: [`Input::SampleHashed`]).
    HashSample(Vec<(u64, u64)>),
    /// List the parts of a stored upload (answer: [`Input::PartsListed`]).
    ListParts {
        /// Object key.
        key: String,
        /// Upload id.
        upload_id: String,
    },
    /// Delete a stored upload nobody will use (answer: [`Input::StaleAborted`]).
    AbortStale {
        /// Object key.
        key: String,
        /// Upload id.
        upload_id: String,
    },
    /// Write this journal entry (under its id).
    WriteJournal(Entry),
    /// Delete the journal entry `id`.
    DeleteJournal(String),
    /// The upload is over, for the application (replaced engines and stale
    /// uploads may still be being deleted: see [`Coordinator::is_idle`]).
    Finished(Result<Outcome, UploadError>),
}

/// The journal's look-up.
#[derive(Debug)]
enum Look {
    /// Asked for the entry; given up at `deadline`.
    Reading { deadline: u64 },
    /// An entry was found; the file's sample is being hashed (given up at
    /// `deadline`).
    Sampling { found: Entry, deadline: u64 },
    /// The entry may be resumed; its parts are being listed (`due`: the next
    /// try, when one failed).
    Listing { entry: Entry, failures: usize, due: Option<u64> },
    /// Decided.
    Done,
}

/// The journal entry of the upload running now, written as it goes.
#[derive(Debug)]
struct Journal {
    entry: Entry,
    last_write_ms: u64,
    /// The sample is still to be read, at this time (or at a pause).
    sample_due: Option<u64>,
    sample_asked: bool,
}

impl Journal {
    fn new(entry: Entry) -> Self {
        Self { entry, last_write_ms: 0, sample_due: None, sample_asked: false }
    }

    fn started(&self) -> bool {
        !self.entry.upload_id.is_empty()
    }

    fn write(&mut self, now: u64) -> Step {
        self.last_write_ms = now;
        Step::WriteJournal(self.entry.clone())
    }
}

/// A stale stored upload being deleted.
#[derive(Debug)]
struct Stale {
    key: String,
    upload_id: String,
    failures: usize,
    /// When to send the abort (again); `None` while one is in flight.
    due: Option<u64>,
}

/// One upload, with the resume look-up beside it. See the module docs.
#[derive(Debug)]
pub struct Coordinator {
    subject: Subject,
    cfg: Config,
    seed: u64,
    /// The engine the application sees.
    current: (Gen, Upload),
    /// Replaced engines, aborted, running until their uploads are deleted.
    retired: Vec<(Gen, Upload)>,
    look: Look,
    /// What the application must not see before the look-up decides: if a
    /// stored upload is resumed, the new one never happened. Init is held
    /// too: its client token is journaled before it goes out (a page closed
    /// while it is on its way leaves the token, not an unknown upload), and
    /// an upload resumed needs no new one.
    held: Vec<Action>,
    held_end: Option<Result<Outcome, UploadError>>,
    journal: Option<Journal>,
    stale: Vec<Stale>,
    out: VecDeque<Step>,
    paused: bool,
    aborted: bool,
    /// The look-up adopted a journaled client token ([`Lookup::Adopt`]).
    adopted: bool,
    online: bool,
    /// [`Step::Finished`] was given.
    over: bool,
    /// The file's sample as the engine's content check read it when the
    /// upload began ([`Action::Check`]): the journal entry's, without a
    /// read of its own.
    checked_sample: Option<String>,
}

impl Coordinator {
    /// Starts `upload` of `subject`. With `resume`, the journal is looked up
    /// beside it (the new upload hashes its first parts meanwhile, which its
    /// init, held until the look-up decides, then signs; no part is sent
    /// before); without, it goes on unjournaled.
    pub fn new(upload: Upload, subject: Subject, cfg: Config, seed: u64, resume: bool, now: u64) -> Self {
        let look = if resume && !upload.plan().single {
            Look::Reading { deadline: now + LOOKUP_TIMEOUT_MS }
        } else {
            Look::Done
        };
        let mut out = VecDeque::new();
        if let Look::Reading { .. } = look {
            out.push_back(Step::ReadJournal(Self::entry_id(&subject)));
        }
        Self {
            subject,
            cfg,
            seed,
            current: (0, upload),
            retired: Vec::new(),
            look,
            held: Vec::new(),
            held_end: None,
            journal: None,
            stale: Vec::new(),
            out,
            paused: false,
            checked_sample: None,
            aborted: false,
            adopted: false,
            online: true,
            over: false,
        }
    }

    fn entry_id(s: &Subject) -> String {
        resume::entry_id(&s.endpoint, &s.key, &s.name, s.size, s.last_modified)
    }

    /// A new journal entry for this file.
    fn template(&self, sample: String, now: u64) -> Entry {
        let s = &self.subject;
        Entry {
            v: JOURNAL_VERSION,
            id: Self::entry_id(s),
            endpoint: s.endpoint.clone(),
            key: s.key.clone(),
            name: s.name.clone(),
            size: s.size,
            last_modified: s.last_modified,
            sample,
            upload_id: String::new(),
            part_size: 0,
            grown_from: 0,
            grown_size: 0,
            content_type: s.content_type.clone(),
            created_ms: now,
            updated_ms: now,
            parts: Vec::new(),
            checksum: self.checksum_name().to_owned(),
            token: s.client_token.clone(),
        }
    }

    /// The client token init is sent with.
    pub fn client_token(&self) -> &str {
        &self.subject.client_token
    }

    /// Takes a held (never sent) init of the current engine back: it will
    /// not be sent, and the engine no longer waits for its answer.
    fn withdraw_held_init(&mut self) {
        let before = self.held.len();
        self.held.retain(|a| !matches!(a, Action::Init { .. }));
        if self.held.len() < before {
            self.current.1.withdraw_init();
        }
    }

    /// S3's name of the upload's checksum algorithm, empty for none.
    fn checksum_name(&self) -> &'static str {
        self.cfg.checksum.map_or("", |a| a.s3_name())
    }

    /// The current engine sends the file as one PUT (no multipart upload).
    pub fn single(&self) -> bool {
        self.current.1.plan().single
    }

    /// The look-up has decided.
    pub fn decided(&self) -> bool {
        matches!(self.look, Look::Done)
    }

    /// True when nothing is left to do: the application has its answer, and
    /// no replaced engine or stale upload is still being deleted.
    pub fn is_idle(&self) -> bool {
        self.over && self.retired.is_empty() && self.stale.is_empty() && self.out.is_empty()
    }

    /// Engines still at work (the current one until it ends, replaced ones
    /// until their uploads are deleted).
    pub fn engines(&self) -> usize {
        usize::from(!self.current.1.is_finished()) + self.retired.len()
    }

    /// The quickest signature the current engine has had: the round trip
    /// to the backend, as far as it knows.
    pub fn rtt_ms(&self) -> Option<u64> {
        self.current.1.rtt_ms()
    }

    /// The current engine's progress.
    pub fn progress(&mut self) -> Progress {
        self.current.1.progress()
    }

    /// When [`Coordinator::poll`] has something to do next without an input.
    pub fn next_wakeup(&self) -> Option<u64> {
        let look = match &self.look {
            Look::Reading { deadline } | Look::Sampling { deadline, .. } => Some(*deadline),
            Look::Listing { due, .. } => *due,
            _ => None,
        };
        let sample = self.journal.as_ref().and_then(|j| j.sample_due.filter(|_| !j.sample_asked));
        let current = (!self.over).then(|| self.current.1.next_wakeup()).flatten();
        [look, sample, current]
            .into_iter()
            .chain(self.retired.iter().map(|(_, up)| up.next_wakeup()))
            .chain(self.stale.iter().map(|s| s.due))
            .flatten()
            .min()
    }

    /// Feeds an input in.
    pub fn handle(&mut self, input: Input, now: u64) {
        match input {
            Input::Engine(g, ev) => {
                if g == self.current.0 {
                    if let (Event::Checked { sample: Some(sample) }, None) = (&ev, &self.checked_sample) {
                        self.checked_sample = Some(sample.clone());
                        if let Some(j) = self.journal.as_mut().filter(|j| j.sample_due.is_some() && !j.sample_asked) {
                            j.sample_due = None;
                            j.entry.sample.clone_from(sample);
                            if j.started() && !self.over {
                                let step = j.write(now);
                                self.out.push_back(step);
                            }
                        }
                    }
                    self.current.1.handle(ev, now);
                } else if let Some((_, up)) = self.retired.iter_mut().find(|(r, _)| *r == g) {
                    up.handle(ev, now);
                }
            }
            Input::Connectivity(online) => {
                self.online = online;
                self.current.1.handle(Event::Connectivity { online }, now);
                for (_, up) in &mut self.retired {
                    up.handle(Event::Connectivity { online }, now);
                }
            }
            Input::Control(Control::Pause) => {
                self.paused = true;
                self.current.1.pause();
                self.save_for_a_reload(now);
            }
            Input::Control(Control::Resume) => {
                self.paused = false;
                self.current.1.resume();
            }
            Input::Control(Control::Abort) => {
                self.aborted = true;
                // A held init goes out once the look-up decides only when it
                // adopts a journaled token: that token's init may have
                // created an upload, which only its answer names, for the
                // abort to delete.
                self.current.1.abort();
            }
            Input::JournalRead(found) => {
                if let Look::Reading { .. } = self.look {
                    match found {
                        Some(found) => {
                            self.out.push_back(Step::HashSample(resume::sample_ranges(self.subject.size)));
                            self.look = Look::Sampling { found: *found, deadline: now + SAMPLE_TIMEOUT_MS };
                        }
                        None => {
                            // Nothing stored for this file (the usual case):
                            // the new upload goes on at once, journaled; its
                            // sample is the engine's content check's, or
                            // (not read yet) is read a little later. An entry
                            // written before the sample is known does not
                            // match the file: after a reload before then its
                            // upload is deleted and the file sent anew.
                            let sample = self.checked_sample.clone();
                            let mut j = Journal::new(self.template(sample.clone().unwrap_or_default(), now));
                            if sample.is_none() {
                                j.sample_due = Some(now + SAMPLE_DELAY_MS);
                            }
                            self.decide(Some(j), now);
                        }
                    }
                }
            }
            Input::JournalBusy => {
                if let Look::Reading { .. } = self.look {
                    self.decide(None, now);
                }
            }
            Input::SampleHashed(sample) => match core::mem::replace(&mut self.look, Look::Done) {
                Look::Sampling { found, .. } => {
                    let Some(sample) = sample else {
                        // The file cannot be read: nothing can be matched.
                        self.decide(None, now);
                        return;
                    };
                    self.found(found, sample, now);
                }
                look => {
                    self.look = look;
                    let Some(j) = &mut self.journal else { return };
                    if !j.sample_asked {
                        return;
                    }
                    j.sample_due = None;
                    j.sample_asked = false;
                    if let Some(sample) = sample {
                        j.entry.sample = sample;
                        if j.started() && !self.over {
                            let step = j.write(now);
                            self.out.push_back(step);
                        }
                    }
                }
            },
            Input::PartsListed(end) => {
                let Look::Listing { entry, failures, due: None } = core::mem::replace(&mut self.look, Look::Done)
                else {
                    return;
                };
                match end {
                    CallEnd::Ok(stored) => self.resume_stored(entry, &stored, now),
                    CallEnd::Transient if failures < LIST_RETRY_MS.len() => {
                        self.look =
                            Look::Listing { entry, failures: failures + 1, due: Some(now + LIST_RETRY_MS[failures]) };
                    }
                    // Unreachable for now: the stored upload is kept,
                    // journaled, for a later attempt; this one goes on anew,
                    // unjournaled (its entry would replace the stored one's).
                    CallEnd::Transient => self.decide(None, now),
                    CallEnd::Rejected => {
                        // Gone (completed, aborted, expired by a lifecycle rule).
                        let sample = entry.sample.clone();
                        self.discard(entry);
                        self.go_on_with(sample, now);
                    }
                }
            }
            Input::StaleAborted { upload_id, end } => {
                let Some(i) = self.stale.iter().position(|s| s.upload_id == upload_id && s.due.is_none()) else {
                    return;
                };
                let s = &mut self.stale[i];
                if end == CallEnd::Transient && s.failures < STALE_ABORT_RETRY_MS.len() {
                    s.due = Some(now + STALE_ABORT_RETRY_MS[s.failures]);
                    s.failures += 1;
                } else {
                    // Deleted, gone already, or still unreachable: past that
                    // the bucket's lifecycle rule for incomplete uploads is
                    // the safety net.
                    self.stale.remove(i);
                }
            }
        }
    }

    /// An entry was found for the file, whose sample hashes to `sample`.
    fn found(&mut self, found: Entry, sample: String, now: u64) {
        let size = self.subject.size;
        // (Grown parts that cannot cut the file: `Upload::from_stored` refuses them.)
        let fits = |ps: u64| Plan::new(size, ps, None).is_ok_and(|p| p.part_size == ps);
        let ct = &self.subject.content_type;
        match resume::decide(Some(found), &sample, ct, self.checksum_name(), fits, now, resume::DEFAULT_TTL_MS) {
            Lookup::Fresh => self.go_on_with(sample, now),
            Lookup::Adopt(entry) => {
                // The same token: init (held until now) gets the upload the
                // earlier one created, if the backend did create one.
                self.subject.client_token = entry.token;
                self.adopted = true;
                self.go_on_with(sample, now);
            }
            Lookup::Drop { entry, .. } => {
                // Must not be resumed: delete it so nothing is left behind.
                self.discard(entry);
                self.go_on_with(sample, now);
            }
            Lookup::Resume(entry) => {
                let entry = Entry { sample, ..entry };
                self.out.push_back(Step::ListParts { key: entry.key.clone(), upload_id: entry.upload_id.clone() });
                self.look = Look::Listing { entry, failures: 0, due: None };
            }
        }
    }

    /// The new upload goes on, journaled with the sample the look-up hashed.
    fn go_on_with(&mut self, sample: String, now: u64) {
        let j = Journal::new(self.template(sample, now));
        self.decide(Some(j), now);
    }

    /// Gives a stored upload up: its entry is deleted now (before any write
    /// of the new upload's entry, which has the same id), its multipart
    /// upload soon.
    fn discard(&mut self, entry: Entry) {
        self.out.push_back(Step::DeleteJournal(entry.id.clone()));
        if !entry.upload_id.is_empty() {
            self.out.push_back(Step::AbortStale { key: entry.key.clone(), upload_id: entry.upload_id.clone() });
            self.stale.push(Stale { key: entry.key, upload_id: entry.upload_id, failures: 0, due: None });
        }
    }

    /// The new upload goes on (with this journal, if any): what was held back
    /// reaches the journal and the application.
    fn decide(&mut self, journal: Option<Journal>, now: u64) {
        self.look = Look::Done;
        self.journal = journal;
        if self.aborted && !self.adopted {
            // Aborted before init went out: no upload to create and delete.
            self.withdraw_held_init();
        }
        for action in core::mem::take(&mut self.held) {
            if matches!(action, Action::Init { .. }) && self.current.1.first_hash_pending() {
                // Still waiting for the first part's hash.
                self.held.push(action);
                continue;
            }
            self.deliver(action, now);
        }
        if self.paused {
            self.save_for_a_reload(now);
        }
        if let Some(result) = self.held_end.take() {
            self.finish(result);
        }
    }

    /// Paused: the page may be closed next. The journal entry is written
    /// now, and its content sample, if still unknown, is read now.
    fn save_for_a_reload(&mut self, now: u64) {
        let Some(j) = &mut self.journal else { return };
        if j.sample_due.is_some() {
            j.sample_due = Some(now);
        }
        if j.started() {
            let step = j.write(now);
            self.out.push_back(step);
        }
    }

    /// The stored upload of `entry` goes on in place of the new one.
    fn resume_stored(&mut self, entry: Entry, stored: &[StoredPart], now: u64) {
        let size = self.subject.size;
        let mut up = match Upload::from_stored(
            size,
            self.cfg.clone(),
            self.seed,
            entry.upload_id.clone(),
            entry.part_sizes(),
            stored,
        ) {
            Ok(up) => up,
            Err(_) => {
                let sample = entry.sample.clone();
                self.discard(entry);
                self.go_on_with(sample, now);
                return;
            }
        };
        self.look = Look::Done;
        up.learn_from(&self.current.1);
        // The new upload sent nothing (its init was held): whatever it did
        // (or how it failed) is dropped with it.
        self.withdraw_held_init();
        self.held.clear();
        self.held_end = None;
        if !self.online {
            up.handle(Event::Connectivity { online: false }, now);
        }
        if self.paused {
            up.pause();
        }
        if self.aborted {
            up.abort();
        }
        let bytes = up.progress().bytes_sent;
        self.out.push_back(Step::Resumed { upload_id: entry.upload_id.clone(), parts: up.parts_done(), bytes });
        // List-parts is the truth about what is stored.
        let parts = stored.iter().filter(|(_, etag, ..)| !etag.is_empty()).map(|(n, etag, ..)| (*n, etag.clone()));
        let mut entry = Entry { updated_ms: now, parts: Vec::new(), ..entry };
        for (n, etag) in parts {
            set_part(&mut entry.parts, n, &etag);
        }
        self.journal = Some(Journal { last_write_ms: now, ..Journal::new(entry) });
        let next = self.current.0 + 1;
        let (g, mut new) = core::mem::replace(&mut self.current, (next, up));
        if new.is_finished() {
            self.out.push_back(Step::Release(g));
        } else {
            new.abort();
            self.retired.push((g, new));
        }
    }

    /// The answer for the application.
    fn finish(&mut self, result: Result<Outcome, UploadError>) {
        if let Some(j) = self.journal.take() {
            // Over (done, aborted, or failed and aborted): nothing to resume;
            // unless init went out, its token journaled, and no answer ever
            // came: the entry keeps the token, so that the file's next upload
            // asks init with it and gets (and finishes) the upload the
            // backend may have created ([`Lookup::Adopt`]).
            let token_kept = !j.started() && !j.entry.token.is_empty() && self.current.1.init_unanswered();
            if !token_kept {
                self.out.push_back(Step::DeleteJournal(j.entry.id));
            }
        }
        self.out.push_back(Step::Release(self.current.0));
        self.out.push_back(Step::Finished(result));
        self.over = true;
    }

    /// An action of the current engine for the journal or the application.
    fn deliver(&mut self, action: Action, now: u64) {
        match action {
            Action::Init { mut parts } => {
                // Parts hashed while init was held (the look-up) go with it.
                self.current.1.sign_with_init(&mut parts);
                let action = Action::Init { parts };
                // The token is journaled before init goes out.
                if let Some(j) = &mut self.journal
                    && !j.started()
                {
                    j.entry.token.clone_from(&self.subject.client_token);
                    j.entry.updated_ms = now;
                    let step = j.write(now);
                    self.out.push_back(step);
                }
                self.out.push_back(Step::Engine(self.current.0, action));
            }
            Action::Started { upload_id, part_size } => {
                if let Some(j) = &mut self.journal {
                    j.entry.upload_id = upload_id;
                    j.entry.part_size = part_size;
                    j.entry.updated_ms = now;
                    j.entry.parts.clear();
                    let step = j.write(now);
                    self.out.push_back(step);
                }
            }
            Action::Grown { from, part_size } => {
                if let Some(j) = &mut self.journal {
                    (j.entry.grown_from, j.entry.grown_size) = (from.into(), part_size);
                    j.entry.updated_ms = now;
                    let step = j.write(now);
                    self.out.push_back(step);
                }
            }
            Action::PartComplete { part, ref etag, .. } => {
                if let Some(j) = &mut self.journal
                    && j.started()
                {
                    set_part(&mut j.entry.parts, part, etag);
                    j.entry.updated_ms = now;
                    if now >= j.last_write_ms + PART_WRITE_INTERVAL_MS {
                        let step = j.write(now);
                        self.out.push_back(step);
                    }
                }
                self.out.push_back(Step::Notify(action));
            }
            Action::Progress(_) | Action::Retrying { .. } => self.out.push_back(Step::Notify(action)),
            Action::Finished(result) => self.finish(result),
            other => self.out.push_back(Step::Engine(self.current.0, other)),
        }
    }

    /// Holds `action` back until the look-up decides.
    fn hold(&mut self, action: Action) {
        match action {
            Action::Finished(result) => self.held_end = Some(result),
            Action::Progress(_) => {
                // Only the latest progress matters.
                self.held.retain(|a| !matches!(a, Action::Progress(_)));
                self.held.push(action);
            }
            action => self.held.push(action),
        }
    }

    /// The next step, if any. `free` is the shared budget's free PUT slots
    /// (a PUT started takes one).
    pub fn poll(&mut self, now: u64, free: &mut usize) -> Option<Step> {
        loop {
            if let Some(step) = self.out.pop_front() {
                return Some(step);
            }
            if !self.tick(now, free) {
                return None;
            }
        }
    }

    /// Moves one thing on; false when nothing moved.
    fn tick(&mut self, now: u64, free: &mut usize) -> bool {
        match &mut self.look {
            Look::Reading { deadline } | Look::Sampling { deadline, .. } if now >= *deadline => {
                // The storage, or the file's sample read, hangs: go on
                // unjournaled (a late answer finds no look-up and no
                // journal, and is dropped).
                self.decide(None, now);
                return true;
            }
            Look::Listing { entry, due: Some(t), .. } if now >= *t => {
                self.out.push_back(Step::ListParts { key: entry.key.clone(), upload_id: entry.upload_id.clone() });
                if let Look::Listing { due, .. } = &mut self.look {
                    *due = None;
                }
                return true;
            }
            _ => {}
        }
        if let Some(j) = &mut self.journal
            && !j.sample_asked
            && j.sample_due.is_some_and(|t| now >= t)
        {
            j.sample_asked = true;
            if !self.over {
                self.out.push_back(Step::HashSample(resume::sample_ranges(self.subject.size)));
                return true;
            }
        }
        if let Some(s) = self.stale.iter_mut().find(|s| s.due.is_some_and(|t| now >= t)) {
            s.due = None;
            self.out.push_back(Step::AbortStale { key: s.key.clone(), upload_id: s.upload_id.clone() });
            return true;
        }
        // Replaced engines: only their aborts go out; nothing of theirs
        // reaches the application.
        for i in 0..self.retired.len() {
            if let Some(action) = self.retired[i].1.poll_shared(now, &mut 0) {
                let g = self.retired[i].0;
                match action {
                    Action::Finished(_) => {
                        self.retired.remove(i);
                        self.out.push_back(Step::Release(g));
                    }
                    Action::Init { .. }
                    | Action::Sign { .. }
                    | Action::Put { .. }
                    | Action::Cancel { .. }
                    | Action::Complete { .. }
                    | Action::ListParts { .. }
                    | Action::Abort { .. } => self.out.push_back(Step::Engine(g, action)),
                    _ => {}
                }
                return true;
            }
        }
        if self.over {
            return false;
        }
        // Init held for the first part's hash (below): it goes once
        // the hash is in (or failed); an upload that ends meanwhile (aborted,
        // the file unreadable) sends none, unless a journaled token was
        // adopted (its earlier init may have created an upload, which only
        // init's answer names, for the abort to delete).
        if self.decided()
            && let Some(i) = self.held.iter().position(|a| matches!(a, Action::Init { .. }))
        {
            if self.current.1.is_aborting() && !self.adopted {
                self.withdraw_held_init();
                return true;
            }
            if self.current.1.is_aborting() || !self.current.1.first_hash_pending() {
                let action = self.held.remove(i);
                self.deliver(action, now);
                return true;
            }
        }
        // Until the look-up decides, no part is sent: a resumable file must
        // not be sent twice. The first parts are hashed meanwhile; init is
        // held (its token is journaled first) and signs those hashed by then.
        let decided = self.decided();
        let action =
            if decided { self.current.1.poll_shared(now, free) } else { self.current.1.poll_shared(now, &mut 0) };
        let Some(action) = action else { return false };
        match action {
            Action::Hash { .. }
            | Action::Check { .. }
            | Action::Sign { .. }
            | Action::Put { .. }
            | Action::Cancel { .. }
            | Action::Complete { .. }
            | Action::ListParts { .. }
            | Action::Abort { .. } => self.out.push_back(Step::Engine(self.current.0, action)),
            // With checksums, init waits for the first part's hash, so that
            // it signs that part (and any hashed by then) and their PUTs
            // start when it answers: a round trip sooner.
            action @ Action::Init { .. } if self.current.1.first_hash_pending() => self.hold(action),
            action if decided => self.deliver(action, now),
            action => self.hold(action),
        }
        true
    }
}

/// Records `part`'s ETag in `parts`, kept sorted by number (parts mostly end
/// in order: this appends).
fn set_part(parts: &mut Vec<(u16, String)>, part: u16, etag: &str) {
    match parts.binary_search_by_key(&part, |(n, _)| *n) {
        Ok(i) => etag.clone_into(&mut parts[i].1),
        Err(i) => parts.insert(i, (part, etag.to_owned())),
    }
}
