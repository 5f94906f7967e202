//! One upload as a state machine: events in, actions out, time passed in.
//!
//! The browser glue feeds [`Event`]s (a URL arrived, a PUT sent bytes, a PUT
//! finished or failed, ...) into [`Upload::handle`] and carries out every
//! [`Action`] that [`Upload::poll`] returns (sign a part, PUT a range, cancel a
//! PUT, complete, abort, report progress, finish). It calls `poll` again at
//! [`Upload::next_wakeup`]. Every decision — what to send next, when to retry,
//! how far along we are — is made here, so it is tested natively with scripted
//! event sequences.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::collections::VecDeque;

use crate::engine::checksum::{self, Algorithm};
use crate::engine::error::{ErrorCode, UploadError};
use crate::engine::plan::{DEFAULT_PART_SIZE, Plan, batch_part_size, grown_part_size, part_size_for};
use crate::engine::progress::{Progress, ProgressTracker};
use crate::engine::retry::{Decision, Failure, RetryPolicy};
use crate::engine::url_expiry::remaining_ms;

/// Most PUTs in flight allowed.
pub const MAX_CONCURRENCY: usize = 16;
/// A URL that expires sooner than this is signed again before a PUT starts
/// (a quarter of its lifetime, for URLs that live less than four minutes).
pub const RESIGN_MARGIN_MS: u64 = 60_000;
/// The file's content check ([`Action::Check`]) gets this long to be read;
/// past it, the upload goes on without it (a read that never ends must not
/// hold the upload).
pub const CHECK_TIMEOUT_MS: u64 = 15_000;

/// Settings of an upload (the JS options, validated).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Part size in bytes (grows for files that would need over 10,000
    /// parts); with `part_size_max` above it, the smallest the engine picks.
    pub part_size: u64,
    /// The largest part size the engine may pick for a file
    /// ([`Config::part_size_for`]); equal to `part_size`: that size, fixed.
    pub part_size_max: u64,
    /// The largest part size the engine may pick for a file that goes in
    /// one round, a part for each stream (at least `part_size_max`).
    pub part_round_max: u64,
    /// The largest part size the parts not yet under way may grow to once
    /// the link is measured ([`crate::engine::plan::grown_part_size`]):
    /// the engine's own bound, or the application's `partSize.max`; at or
    /// below the part size, the parts never grow.
    pub part_grow_max: u64,
    /// Files of at most this many bytes go as one presigned PUT; `None`: every
    /// file goes multipart (for backends that cannot presign a whole-object PUT).
    pub multipart_threshold: Option<u64>,
    /// PUTs in flight at most, 1..=16.
    pub concurrency: usize,
    /// The PUTs in flight adapt to the link, from `min_concurrency` up to
    /// `concurrency` ([`crate::engine::adapt`]); false: always `concurrency`.
    pub adaptive: bool,
    /// The fewest PUTs an adaptive window keeps in flight (1..=`concurrency`).
    pub min_concurrency: usize,
    /// Retry delays and budget.
    pub retry: RetryPolicy,
    /// A PUT that reports no upload progress for this long is cancelled and retried (0: never).
    pub part_timeout_ms: u64,
    /// Checksum of every part (and of the whole object) for the store to
    /// verify; `None`: none.
    pub checksum: Option<Algorithm>,
    /// Milliseconds a MiB of a part's PUT took lately on this link (the
    /// earlier uploads of the same `Uploader`): a multipart upload's
    /// progress follows it until its own first part is answered.
    pub put_ms_per_mib: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            part_size: DEFAULT_PART_SIZE,
            part_size_max: DEFAULT_PART_SIZE,
            part_round_max: DEFAULT_PART_SIZE,
            part_grow_max: DEFAULT_PART_SIZE,
            multipart_threshold: Some(DEFAULT_PART_SIZE),
            concurrency: 4,
            adaptive: false,
            min_concurrency: crate::engine::adapt::ADAPT_MIN,
            retry: RetryPolicy::default(),
            part_timeout_ms: 60_000,
            checksum: Some(Algorithm::Crc32),
            put_ms_per_mib: None,
        }
    }
}

impl Config {
    /// Checks the settings; the error names the option and the fix.
    pub fn validate(&self) -> Result<(), UploadError> {
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return Err(UploadError::invalid_option(
                "concurrency",
                cat!(
                    "concurrency is ",
                    self.concurrency,
                    "; it must be a whole number from 1 to ",
                    MAX_CONCURRENCY,
                    " (browsers do best with 3 to 6)"
                ),
            ));
        }
        if self.adaptive && !(1..=self.concurrency).contains(&self.min_concurrency) {
            return Err(UploadError::invalid_option(
                "concurrency",
                cat!(
                    "concurrency.min is ",
                    self.min_concurrency,
                    " and concurrency.max ",
                    self.concurrency,
                    "; give 1 <= min <= max <= ",
                    MAX_CONCURRENCY
                ),
            ));
        }
        // The part size is checked by the plan.
        Plan::new(0, self.part_size, None)?;
        Plan::new(0, self.part_size_max, None)?;
        if self.part_size_max < self.part_size {
            return Err(UploadError::invalid_option(
                "partSize",
                cat!(
                    "partSize.min is ",
                    self.part_size,
                    " bytes and partSize.max ",
                    self.part_size_max,
                    "; give min <= max, each 5 MiB (5242880) to 5 GiB (5368709120)"
                ),
            ));
        }
        Ok(())
    }

    /// The configuration of an upload of `size` bytes: its part size chosen
    /// within the bounds ([`crate::engine::plan::part_size_for`]) for
    /// `streams` PUTs at a time on a link where a MiB of a part took
    /// `ms_per_mib` lately, then fixed for the whole upload (a journal entry
    /// keeps it for a resume).
    pub fn for_file(&self, size: u64, streams: usize, ms_per_mib: Option<u64>) -> Self {
        let part_size =
            part_size_for(size, self.part_size, self.part_size_max, self.part_round_max, streams, ms_per_mib);
        Self {
            part_size,
            part_size_max: part_size,
            part_round_max: part_size,
            put_ms_per_mib: ms_per_mib,
            ..self.clone()
        }
    }

    /// [`Config::for_file`] for a file that begins together with others,
    /// `batch` bytes in all (this file's among them), after a PUT measured
    /// the link (`ms_per_mib`) and a signature its round trip (`rtt_ms`),
    /// `window` PUTs at a time: on a far link, where the engine picks the
    /// part size, its parts are cut for the link from the start
    /// ([`crate::engine::plan::batch_part_size`]; no larger than the file).
    pub fn for_batch_file(
        &self,
        size: u64,
        streams: usize,
        ms_per_mib: Option<u64>,
        batch: u64,
        rtt_ms: Option<u64>,
        window: usize,
    ) -> Self {
        let mut cfg = self.for_file(size, streams, ms_per_mib);
        if self.part_size < self.part_size_max
            && let (Some(pace), Some(rtt)) = (ms_per_mib, rtt_ms)
            && let Some(part) = batch_part_size(batch, cfg.part_size, self.part_grow_max, window, pace, rtt)
        {
            let part = part.min(size).max(crate::engine::plan::MIN_PART_SIZE);
            (cfg.part_size, cfg.part_size_max, cfg.part_round_max) = (part, part, part);
        }
        cfg
    }
}

/// How long complete may take to answer (other calls: the glue's 30 s,
/// `CALL_TIMEOUT_MS`), after which it counts as a timeout and is retried:
/// S3 assembles the object (its
/// documentation: "could take several minutes"), a store that concatenates
/// reads every byte again, and the reference backend allows its calls 300 s.
/// A complete cut off sooner would be asked again, each attempt as slow as
/// the first, until the retries ran out: the upload would fail although the
/// object is stored. 330 s: past the reference backend's limit, whose 408
/// then comes first.
pub const COMPLETE_TIMEOUT_MS: u32 = 330_000;

/// A backend call the engine asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// Start the multipart upload.
    Init,
    /// Presign part `n` (for a single PUT: presign the whole object, `n` = 1).
    Sign(u16),
    /// Complete the multipart upload.
    Complete,
    /// Abort the multipart upload.
    Abort,
    /// List the parts the store holds (to repair a refused complete).
    List,
}

impl Call {
    fn describe(self, single: bool) -> String {
        match self {
            Self::Init => "starting the multipart upload (init)".into(),
            Self::Sign(_) if single => "getting the upload URL".into(),
            Self::Sign(n) => cat!("getting the URL of part ", n, " (part-url)"),
            Self::Complete => "completing the multipart upload".into(),
            Self::Abort => "aborting the multipart upload".into(),
            Self::List => "listing the stored parts (list-parts)".into(),
        }
    }
}

/// A part the store holds, as list-parts gives it: (number, ETag, size, and
/// the store's CRC32 of its bytes where the listing has it).
pub type StoredPart = (u16, String, u64, Option<u32>);

/// What happened, fed into [`Upload::handle`].
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The backend started the multipart upload.
    Initiated {
        /// Its id.
        upload_id: String,
        /// URLs of parts that init was asked to sign too ([`Action::Init`]'s
        /// `parts`), where its reply gave them; a part init carried and did
        /// not sign is signed by a call of its own.
        signed: Vec<(u16, String)>,
    },
    /// Bytes `start..end` of `part` hash to `crc` ([`Action::Hash`]).
    Hashed {
        /// Part number.
        part: u16,
        /// Their CRC32.
        crc: u32,
    },
    /// The file's content sample was read ([`Action::Check`]): its hash, or
    /// `None` when it could not be read.
    Checked {
        /// The sample's hash ([`crate::resume::sample_hash`]).
        sample: Option<String>,
    },
    /// The bytes of `part` could not be read.
    HashFailed {
        /// Part number.
        part: u16,
        /// Why.
        message: String,
    },
    /// The backend presigned a URL for `part`.
    Signed {
        /// Part number.
        part: u16,
        /// The presigned URL.
        url: String,
    },
    /// A PUT has sent `loaded` bytes of its body.
    PartProgress {
        /// Part number.
        part: u16,
        /// Attempt id from [`Action::Put`].
        attempt: u32,
        /// Bytes sent so far in this attempt.
        loaded: u64,
    },
    /// A PUT succeeded.
    PartDone {
        /// Part number.
        part: u16,
        /// Attempt id from [`Action::Put`].
        attempt: u32,
        /// The `ETag` response header, `None` when it could not be read.
        etag: Option<String>,
    },
    /// A PUT failed.
    PartFailed {
        /// Part number.
        part: u16,
        /// Attempt id from [`Action::Put`].
        attempt: u32,
        /// How.
        failure: Failure,
    },
    /// The backend completed the upload.
    Completed {
        /// ETag of the object.
        etag: Option<String>,
        /// Location of the object.
        location: Option<String>,
    },
    /// The abort call returned (whether it worked or not).
    AbortDone,
    /// The parts the store holds ([`Action::ListParts`]).
    Listed {
        /// The stored parts.
        parts: Vec<StoredPart>,
    },
    /// The browser went offline or came back online. While offline nothing new
    /// starts, and failures are not counted as retries: the parts wait.
    Connectivity {
        /// `navigator.onLine`.
        online: bool,
    },
    /// A backend call failed in a way that may pass (network, 5xx, 429, ...).
    CallFailed {
        /// Which call.
        call: Call,
        /// How.
        failure: Failure,
    },
    /// A backend call failed for good (4xx, malformed reply): the error to report.
    CallRejected {
        /// Which call.
        call: Call,
        /// The error, already worded.
        error: UploadError,
    },
}

/// What the glue must do, returned by [`Upload::poll`].
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Call the backend's init. `parts` (number and checksum, base64) are
    /// the first parts to sign: init asks the backend to sign them in the
    /// same round trip (a backend that does not answers with no URLs, and
    /// each is then signed by a call of its own).
    Init {
        /// The parts to sign with init, lowest first.
        parts: Vec<(u16, Option<String>)>,
    },
    /// The multipart upload exists now (for the resume journal).
    Started {
        /// Its id.
        upload_id: String,
        /// The part size it uses.
        part_size: u64,
    },
    /// The parts from number `from` on are `part_size` bytes from now on
    /// ([`Plan::grown`], for the resume journal): sent before any of them is.
    Grown {
        /// The first part of the new size.
        from: u16,
        /// Their size.
        part_size: u64,
    },
    /// Read bytes `start..end` of the file (the body of `part`) and hash
    /// them with the configured algorithm (answer: [`Event::Hashed`]).
    Hash {
        /// Part number.
        part: u16,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// Read these byte ranges of the file and hash them
    /// ([`crate::resume::sample_hash`]; answer: [`Event::Checked`]): a
    /// multipart upload reads this sample of the file when it starts and
    /// again once every part is sent or being sent (complete waits for it),
    /// and fails if it changed (a browser may read a file rewritten on disk
    /// as it is now, so that the object would mix both versions; Firefox
    /// does).
    Check {
        /// `(start, end)` byte ranges, in order.
        ranges: Vec<(u64, u64)>,
    },
    /// Ask the backend for the URL of `part` of the multipart upload
    /// `upload_id`; with no upload id (a single PUT), the URL of the whole object.
    Sign {
        /// Part number.
        part: u16,
        /// The multipart upload, `None` for a single PUT.
        upload_id: Option<String>,
        /// The part's checksum (base64), to be signed into the URL and sent
        /// with the PUT for the store to verify.
        checksum: Option<String>,
    },
    /// PUT bytes `start..end` of the file to `url`.
    Put {
        /// Part number.
        part: u16,
        /// Attempt id, to be given back in the part's events.
        attempt: u32,
        /// Presigned URL.
        url: String,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// Stop the running PUT of `part` (its events, if any still come, are ignored).
    Cancel {
        /// Part number.
        part: u16,
    },
    /// Call the backend's complete with these (part number, ETag) pairs, in order.
    Complete {
        /// Upload id.
        upload_id: String,
        /// Parts 1..=n with their ETags.
        parts: Vec<(u16, String)>,
        /// The whole object's checksum (base64), for the store to verify,
        /// when every part's is known.
        checksum: Option<String>,
    },
    /// Call the backend's abort.
    Abort {
        /// Upload id.
        upload_id: String,
    },
    /// Call the backend's list-parts (answer: [`Event::Listed`]).
    ListParts {
        /// Upload id.
        upload_id: String,
    },
    /// Report progress (only sent when it changed).
    Progress(Progress),
    /// A part is stored (for `onPartComplete`).
    PartComplete {
        /// Part number.
        part: u16,
        /// Its ETag.
        etag: String,
        /// Its size in bytes.
        size: u64,
    },
    /// A retry is coming (for `onRetry`).
    Retrying {
        /// The part, or `None` for a backend call not tied to a part.
        part: Option<u16>,
        /// Retries of this part (or call) in a row, from 1.
        attempt: u32,
        /// Wait before it, in ms.
        delay_ms: u64,
        /// What failed.
        reason: UploadError,
    },
    /// The upload is over.
    Finished(Result<Outcome, UploadError>),
}

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The multipart upload id (`None` for a single PUT).
    pub upload_id: Option<String>,
    /// ETag of the stored object.
    pub etag: Option<String>,
    /// Location of the object, as the backend gave it (single PUT: the URL without its query).
    pub location: Option<String>,
    /// Bytes stored.
    pub size: u64,
    /// The whole object's checksum (base64 of its CRC32), when it was sent
    /// for the store to verify.
    pub checksum: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum PartState {
    Pending,
    Hashing,
    Signing,
    Ready { url: String, resign_at: Option<u64> },
    Running { url: String, resign_at: Option<u64>, attempt: u32, last_progress_ms: u64, loaded: u64 },
    Waiting { until_ms: u64 },
    Done { etag: String },
}

/// A set kept sorted, highest first, in a `Vec`: the lowest is at the end
/// (taken in O(1)); an insert or a removal is a binary search and a shift.
/// (Much less code in the WASM module than a `BTreeSet`.)
#[derive(Debug, Clone, PartialEq)]
struct Sorted<T>(Vec<T>);

impl<T: Ord + Copy> Sorted<T> {
    /// A set of `items` (in any order).
    fn of(items: impl IntoIterator<Item = T>) -> Self {
        let mut set = Self(Vec::new());
        for v in items {
            set.insert(v);
        }
        set
    }
    fn insert(&mut self, v: T) {
        if let Err(i) = self.0.binary_search_by(|x| v.cmp(x)) {
            self.0.insert(i, v);
        }
    }
    fn remove(&mut self, v: T) {
        if let Ok(i) = self.0.binary_search_by(|x| v.cmp(x)) {
            self.0.remove(i);
        }
    }
    /// The lowest.
    fn first(&self) -> Option<T> {
        self.0.last().copied()
    }
    /// Lowest first.
    fn ascending(&self) -> Vec<T> {
        self.0.iter().rev().copied().collect()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

/// Where the parts are, by state, kept with every change of state: the
/// scheduler looks only at the parts that can move (running, ready, waiting,
/// the lowest pending ones), so the cost of an event does not grow with the
/// number of parts.
#[derive(Debug, Clone, PartialEq)]
struct Index {
    pending: Sorted<usize>,
    ready: Sorted<usize>,
    running: Sorted<usize>,
    /// (until when, part index)
    waiting: Sorted<(u64, usize)>,
    signing: usize,
    hashing: usize,
    done: usize,
}

impl Index {
    fn update(&mut self, idx: usize, state: &PartState, add: bool) {
        fn set<T: Ord + Copy>(s: &mut Sorted<T>, v: T, add: bool) {
            if add {
                s.insert(v);
            } else {
                s.remove(v);
            }
        }
        match state {
            PartState::Pending => set(&mut self.pending, idx, add),
            PartState::Ready { .. } => set(&mut self.ready, idx, add),
            PartState::Running { .. } => set(&mut self.running, idx, add),
            PartState::Waiting { until_ms } => set(&mut self.waiting, (*until_ms, idx), add),
            PartState::Signing => self.signing = if add { self.signing + 1 } else { self.signing - 1 },
            PartState::Hashing => self.hashing = if add { self.hashing + 1 } else { self.hashing - 1 },
            PartState::Done { .. } => self.done = if add { self.done + 1 } else { self.done - 1 },
        }
    }

    fn of(parts: &[Part]) -> Self {
        // Highest index first: each insert lands at the end of its set.
        let pick = |f: fn(&PartState) -> bool| -> Vec<usize> {
            parts.iter().enumerate().rev().filter(|(_, p)| f(&p.state)).map(|(i, _)| i).collect()
        };
        let waiting: Vec<(u64, usize)> = parts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p.state {
                PartState::Waiting { until_ms } => Some((until_ms, i)),
                _ => None,
            })
            .collect();
        Self {
            pending: Sorted::of(pick(|s| matches!(s, PartState::Pending))),
            ready: Sorted::of(pick(|s| matches!(s, PartState::Ready { .. }))),
            running: Sorted::of(pick(|s| matches!(s, PartState::Running { .. }))),
            waiting: Sorted::of(waiting),
            signing: pick(|s| matches!(s, PartState::Signing)).len(),
            hashing: pick(|s| matches!(s, PartState::Hashing)).len(),
            done: pick(|s| matches!(s, PartState::Done { .. })).len(),
        }
    }
}

#[derive(Debug, Clone)]
struct Part {
    state: PartState,
    /// Retries in a row without progress.
    attempts: u32,
    /// Most bytes any attempt of this part has sent.
    best_loaded: u64,
    /// The CRC32 of its bytes, once hashed.
    crc: Option<u32>,
    /// Stored before this page took the upload up (found by list-parts at
    /// resume): sent from another page, so what it holds is known only by
    /// its size until the whole object's checksum is verified at complete.
    inherited: bool,
    /// The store's CRC32 of an inherited part, where list-parts gave it:
    /// compared with the file's once the part is hashed.
    stored_crc: Option<u32>,
    /// When it entered its state (the engine's clock then): how long its
    /// signature or its PUT took.
    since_ms: u64,
}

impl Part {
    /// A part not yet hashed, signed nor sent.
    fn new() -> Self {
        Self {
            state: PartState::Pending,
            attempts: 0,
            best_loaded: 0,
            crc: None,
            inherited: false,
            stored_crc: None,
            since_ms: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Init to be sent (or to be retried at `retry_at`).
    Starting,
    /// Init in flight.
    Initiating,
    /// Parts going up.
    Uploading,
    /// Complete in flight (or to be retried at `retry_at`).
    Completing { sent: bool },
    /// Complete was refused with `InvalidPart` (`error`): the stored parts
    /// are being listed, to be compared with the ETags sent.
    Listing { error: UploadError, sent: bool },
    /// Abort to be sent or in flight; then the upload finishes with `error`.
    Aborting { error: UploadError, sent: bool },
    /// Over.
    Finished,
}

/// The file's content check ([`Action::Check`]).
#[derive(Debug, Clone, PartialEq)]
enum Check {
    /// To be read when the upload starts.
    Due,
    /// Read at the start, its answer awaited until `deadline`.
    First { deadline: u64 },
    /// The sample at the start.
    Have(String),
    /// Read again once every part is sent or being sent, its answer
    /// awaited (by complete) until `deadline`.
    Last { first: String, deadline: u64 },
    /// The same at the end: complete may go (unless a part is sent again).
    Passed(String),
    /// Read again after a PUT got no answer; the same: back to `Have`.
    Again { first: String, deadline: u64 },
    /// Checked, or nothing to check.
    Done,
}

/// One upload's state machine.
#[derive(Debug)]
pub struct Upload {
    cfg: Config,
    plan: Plan,
    phase: Phase,
    parts: Vec<Part>,
    index: Index,
    upload_id: Option<String>,
    paused: bool,
    online: bool,
    next_attempt: u32,
    retries_spent: u32,
    call_attempts: u32,
    call_retry_at: Option<u64>,
    /// Abort asked for while complete was in flight: the complete's answer
    /// decides (stored: the upload ends `Ok`; else the upload is aborted).
    abort_after_complete: bool,
    /// That complete got no answer (failed in a way that may have come after
    /// it was applied): if the abort then finds no upload, the object may be
    /// stored.
    complete_unanswered: bool,
    /// Complete is asked again, once, to learn whether it was applied.
    probing: bool,
    /// What the upload ends with if that complete is refused: the error it
    /// was being aborted for.
    probe_error: Option<UploadError>,
    /// Complete was asked again once already after a refusal: repaired from
    /// the listing (see `on_listed`), or its whole-object checksum refused.
    repaired: bool,
    /// Init was asked again after a reply that could not be read.
    init_reasked: bool,
    /// The inherited part being read to be hashed (not sent): with
    /// checksums on, a resumed upload hashes the parts stored before it too,
    /// one at a time when no part to be sent waits for its hash, so that
    /// complete carries the whole object's checksum.
    verifying: Option<usize>,
    /// No inherited part below this index is left to hash (the search for
    /// the next one does not start over at each event).
    verify_from: usize,
    /// Init went out and neither its upload id nor a refusal came back: the
    /// backend may have created an upload that only the client token reaches.
    init_unknown: bool,
    /// Where the file's content check stands.
    check: Check,
    /// How long answered PUTs waited for their answer after their whole
    /// body was handed to the browser (the time its send buffers took to
    /// drain): the latest, or more while the latest were less (it loses a
    /// quarter at each answer). `None` before the first.
    drain_ms: Option<u64>,
    progress: ProgressTracker,
    last_reported: Option<Progress>,
    /// The time of the latest event or poll.
    clock_ms: u64,
    /// The quickest part URL's signature so far: the link's round trip.
    rtt_ms: Option<u64>,
    /// Whether the parts grew ([`Upload::grow`]; once, before a reload too).
    grow_decided: bool,
    rng: fastrand::Rng,
    out: VecDeque<Action>,
}

impl Upload {
    /// Plans an upload of `size` bytes. `seed` feeds the retry jitter.
    pub fn new(size: u64, cfg: Config, seed: u64) -> Result<Self, UploadError> {
        cfg.validate()?;
        let plan = Plan::new(size, cfg.part_size, cfg.multipart_threshold)?;
        // Small files' single PUTs count as the browser reports them.
        let rate = if plan.single { None } else { cfg.put_ms_per_mib };
        let parts: Vec<Part> = (0..plan.count).map(|_| Part::new()).collect();
        let phase = if plan.single { Phase::Uploading } else { Phase::Starting };
        Ok(Self {
            cfg,
            plan,
            phase,
            index: Index::of(&parts),
            parts,
            upload_id: None,
            paused: false,
            online: true,
            next_attempt: 0,
            retries_spent: 0,
            call_attempts: 0,
            call_retry_at: None,
            abort_after_complete: false,
            complete_unanswered: false,
            probing: false,
            probe_error: None,
            repaired: false,
            init_reasked: false,
            verifying: None,
            verify_from: 0,
            init_unknown: false,
            check: if plan.single || size == 0 { Check::Done } else { Check::Due },
            drain_ms: None,
            progress: ProgressTracker::new(size, plan.count, rate),
            last_reported: None,
            clock_ms: 0,
            rtt_ms: None,
            grow_decided: false,
            rng: fastrand::Rng::with_seed(seed),
            out: VecDeque::new(),
        })
    }

    /// Goes on with a multipart upload started earlier (after a page reload):
    /// `stored` are the parts S3 already holds (from list-parts). Parts whose
    /// size fits the plan count as done; every other part is sent. The part
    /// size must be the one the upload started with, and `grown` (first
    /// part, size) where its parts grew ([`Action::Grown`]).
    pub fn from_stored(
        size: u64,
        mut cfg: Config,
        seed: u64,
        upload_id: String,
        (part_size, grown): (u64, Option<(u16, u64)>),
        stored: &[StoredPart],
    ) -> Result<Self, UploadError> {
        cfg.part_size = part_size;
        cfg.part_size_max = part_size;
        cfg.multipart_threshold = None;
        let mut up = Self::new(size, cfg, seed)?;
        // Its parts grew already: they grow no more (one that never grew
        // may, on the link it goes on over).
        up.grow_decided = grown.is_some();
        if let Some(plan) = grown.and_then(|(from, size)| up.plan.grown(from, size)) {
            up.regrow(plan);
        } else if up.plan.part_size != part_size || grown.is_some() {
            return Err(UploadError::invalid_option(
                "partSize",
                cat!(
                    "the stored upload used parts of ",
                    part_size,
                    " bytes, which cannot cut a file of ",
                    size,
                    " bytes"
                ),
            ));
        }
        for (number, etag, len, crc) in stored {
            let Some(range) = up.plan.range(*number) else { continue };
            let idx = usize::from(*number - 1);
            if is_stored_as_planned(range.len(), etag, *len) && !matches!(up.parts[idx].state, PartState::Done { .. }) {
                up.set_state(idx, PartState::Done { etag: etag.clone() });
                up.parts[idx].inherited = true;
                up.parts[idx].stored_crc = *crc;
                up.progress.on_already_done(range.len());
            }
        }
        up.upload_id = Some(upload_id);
        up.phase = Phase::Uploading;
        Ok(up)
    }

    /// Takes what `other` (an engine of the same file: the fresh upload a
    /// resumed one replaces) knows: the rate its progress counts running
    /// PUTs at (the `Uploader`'s earlier uploads measured it), and the CRCs
    /// of the first parts it hashed during the look-up, where its parts are
    /// this one's: they are not read again. A stored part whose listed CRC
    /// differs is sent again.
    pub fn learn_from(&mut self, other: &Upload) {
        self.progress.adopt_rate(&other.progress);
        if other.plan.part_size != self.plan.part_size {
            return;
        }
        // (The new upload sent nothing: its parts never grew; this one's
        // grown parts are not its.)
        for i in 0..self.parts.len().min(other.parts.len()).min(self.plan.head.into()) {
            let (Some(crc), None) = (other.parts[i].crc, self.parts[i].crc) else { continue };
            self.parts[i].crc = Some(crc);
            if self.parts[i].inherited && self.parts[i].stored_crc.is_some_and(|theirs| theirs != crc) {
                self.send_again(i);
            }
        }
    }

    /// Parts already stored (counting those found at resume).
    pub fn parts_done(&self) -> usize {
        self.index.done
    }

    /// Changes the state of part `idx`, keeping the index. A part that is
    /// to be sent again is no longer one stored before this page.
    fn set_state(&mut self, idx: usize, state: PartState) {
        if !matches!(state, PartState::Done { .. }) {
            self.parts[idx].inherited = false;
            // A part sent (or being sent) that is to be sent again reads the
            // file again: its sample is read again once every part is sent
            // (a read on its way counts as one after a failed PUT).
            if matches!(self.parts[idx].state, PartState::Running { .. } | PartState::Done { .. }) {
                self.check_again();
            }
        }
        self.index.update(idx, &self.parts[idx].state, false);
        self.index.update(idx, &state, true);
        self.parts[idx].state = state;
        self.parts[idx].since_ms = self.clock_ms;
    }

    /// A part is to be sent again: the sample is read again once it is sent.
    #[inline(never)]
    fn check_again(&mut self) {
        self.check = match core::mem::replace(&mut self.check, Check::Done) {
            Check::Passed(first) => Check::Have(first),
            Check::Last { first, deadline } => Check::Again { first, deadline },
            other => other,
        };
    }

    /// The index matches the parts' states (checked by the scripted tests).
    #[cfg(test)]
    pub(crate) fn index_is_consistent(&self) -> bool {
        self.index == Index::of(&self.parts)
    }

    /// The quickest signature this upload has had (a part-URL call's time
    /// from its asking to its answer): the backend's round trip, at most.
    pub fn rtt_ms(&self) -> Option<u64> {
        self.rtt_ms
    }

    /// The plan (part size, count, single PUT or not).
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The multipart upload id, once known.
    pub fn upload_id(&self) -> Option<&str> {
        self.upload_id.as_deref()
    }

    /// True once [`Action::Finished`] was returned.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Finished) && self.out.is_empty()
    }

    /// True while paused.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// Retries spent so far.
    pub fn retries_spent(&self) -> u32 {
        self.retries_spent
    }

    /// Progress now.
    pub fn progress(&mut self) -> Progress {
        self.progress.snapshot()
    }

    /// The next action to carry out, or `None` until an event arrives or
    /// [`next_wakeup`](Self::next_wakeup) passes.
    pub fn poll(&mut self, now_ms: u64) -> Option<Action> {
        let mut unlimited = usize::MAX;
        self.poll_shared(now_ms, &mut unlimited)
    }

    /// [`poll`](Self::poll) for uploads that share one concurrency budget:
    /// `free` is how many more PUTs may start across all of them; each
    /// [`Action::Put`] returned takes one. (The glue gives a slot back when a
    /// PUT ends: on its `PartDone` / `PartFailed`, or on [`Action::Cancel`].)
    pub fn poll_shared(&mut self, now_ms: u64, free: &mut usize) -> Option<Action> {
        self.clock_ms = now_ms;
        if self.out.is_empty() {
            self.step(now_ms, free);
        }
        self.out.pop_front()
    }

    /// When `poll` should be called again even if no event arrives.
    pub fn next_wakeup(&self) -> Option<u64> {
        // Only what `step` acts on in this phase: a part waiting to retry in an
        // upload that is being aborted would otherwise ask for a wakeup that
        // is always due, and the glue would spin.
        if let (
            Phase::Completing { sent: false },
            Check::First { deadline } | Check::Last { deadline, .. } | Check::Again { deadline, .. },
        ) = (&self.phase, &self.check)
        {
            // Complete waits for the file's sample, at most until then.
            return Some(*deadline);
        }
        match self.phase {
            // Offline, a call waits for the connection (an event), not a time.
            Phase::Starting
            | Phase::Completing { sent: false }
            | Phase::Listing { sent: false, .. }
            | Phase::Aborting { sent: false, .. } => {
                return self.call_retry_at.filter(|_| self.online);
            }
            Phase::Uploading => {}
            _ => return None,
        }
        // Progress that follows the clock is reported on ticks.
        let mut t = match (self.index.waiting.first(), self.progress.next_tick()) {
            (Some((until, _)), Some(tick)) => Some(until.min(tick)),
            (waiting, tick) => waiting.map(|(until, _)| until).or(tick),
        };
        if self.cfg.part_timeout_ms > 0 && self.online {
            for i in self.index.running.ascending() {
                let due = self.stalls_at(i);
                t = Some(t.map_or(due, |t| t.min(due)));
            }
        }
        t
    }

    /// Stops sending: running PUTs are cancelled (their bytes come back out of
    /// the progress), nothing new starts until [`resume`](Self::resume).
    pub fn pause(&mut self) {
        if self.paused || matches!(self.phase, Phase::Finished | Phase::Aborting { .. }) {
            return;
        }
        self.paused = true;
        for i in self.index.running.ascending() {
            if let PartState::Running { url, resign_at, .. } = &self.parts[i].state {
                let ready = PartState::Ready { url: url.clone(), resign_at: *resign_at };
                self.cancel_running(i, ready);
            }
        }
        self.progress.reset_speed();
        self.report_progress();
    }

    /// Goes on after [`pause`](Self::pause).
    pub fn resume(&mut self) {
        self.paused = false;
    }

    /// The init this engine asked for was never sent (the glue held it and
    /// dropped it): it no longer waits for an answer; asked for, it asks again.
    /// Aborted meanwhile, it ends: no upload was created.
    pub fn withdraw_init(&mut self) {
        self.init_unknown = false;
        if matches!(self.phase, Phase::Initiating) {
            self.phase = Phase::Starting;
        } else {
            self.init_lost_while_aborting();
        }
    }

    /// Whether init went out and its answer never came (every attempt timed
    /// out, failed on the way or could not be read): the backend may hold an
    /// upload whose id the client never learnt.
    pub fn init_unanswered(&self) -> bool {
        self.init_unknown && self.upload_id.is_none()
    }

    /// Aborts: running PUTs are cancelled, the multipart upload is deleted on
    /// the backend, and the upload finishes with an `Aborted` error. While
    /// complete is in flight the object may be stored already: its answer
    /// decides, so that the outcome agrees with the store (stored: `Ok`;
    /// refused or failed: the upload is aborted).
    pub fn abort(&mut self) {
        if matches!(self.phase, Phase::Completing { sent: true }) {
            self.abort_after_complete = true;
            return;
        }
        self.fail(UploadError::aborted());
    }

    /// Feeds an event in.
    pub fn handle(&mut self, event: Event, now_ms: u64) {
        self.clock_ms = now_ms;
        if let Event::CallRejected { call: Call::Init, error } = &event
            && !error.is_unanswered()
        {
            // Refused: no upload was created.
            self.init_unknown = false;
        }
        if let Event::CallFailed { call: Call::Init, .. } | Event::CallRejected { call: Call::Init, .. } = event
            && matches!(self.phase, Phase::Initiating)
        {
            // Init is no longer in flight: no upload id is coming.
            self.phase = Phase::Starting;
        }
        match event {
            Event::Initiated { upload_id, signed } => self.on_initiated(upload_id, signed, now_ms),
            Event::Hashed { part, crc } => {
                let (idx, verified) = self.hash_answered(part);
                if self.part_mut(part).is_some_and(|p| p.state == PartState::Hashing) {
                    self.parts[idx].crc = Some(crc);
                    self.set_state(idx, PartState::Pending);
                } else if verified {
                    self.parts[idx].crc = Some(crc);
                    if self.parts[idx].stored_crc.is_some_and(|theirs| theirs != crc) {
                        // The store lists other bytes for it than the file
                        // holds now (changed since): sent again.
                        self.send_again(idx);
                    }
                }
            }
            Event::HashFailed { part, message } => {
                let (idx, verified) = self.hash_answered(part);
                if verified || self.part_mut(part).is_some_and(|p| p.state == PartState::Hashing) {
                    if !verified {
                        self.set_state(idx, PartState::Pending);
                    }
                    self.fail(
                        UploadError::new(
                            ErrorCode::FileReadError,
                            cat!(
                                "the file could not be read (",
                                message,
                                "): it was moved, deleted or changed on disk; choose it again"
                            ),
                        )
                        .with_part(part),
                    );
                }
            }
            Event::Checked { sample } => self.on_checked(sample),
            Event::Signed { part, url } => self.on_signed(part, url, now_ms),
            Event::PartProgress { part, attempt, loaded } => self.on_progress(part, attempt, loaded, now_ms),
            Event::PartDone { part, attempt, etag } => self.on_part_done(part, attempt, etag, now_ms),
            Event::PartFailed { part, attempt, failure } => {
                if self.running_attempt(part) == Some(attempt) {
                    self.on_part_failed(usize::from(part - 1), failure, now_ms);
                }
            }
            Event::Completed { etag, location } => self.on_completed(etag, location),
            Event::Listed { parts } => self.on_listed(&parts),
            Event::AbortDone => {
                if let Phase::Aborting { error, sent: true } = &self.phase {
                    let error = error.clone();
                    self.finish(Err(error));
                }
            }
            Event::CallFailed { call, failure } => self.on_call_failed(call, failure, now_ms),
            Event::CallRejected { call, error } => self.on_call_rejected(call, error, now_ms),
            Event::Connectivity { online } => self.on_connectivity(online, now_ms),
        }
        self.report_progress();
    }

    // ------------------------------------------------------------ events

    fn on_connectivity(&mut self, online: bool, now_ms: u64) {
        if online == self.online {
            return;
        }
        self.online = online;
        self.progress.reset_speed();
        if online {
            // Stall timers start again: no progress was possible while offline.
            for i in self.index.running.ascending() {
                if let PartState::Running { last_progress_ms, .. } = &mut self.parts[i].state {
                    *last_progress_ms = now_ms;
                }
            }
        }
    }

    /// While offline, a failure that the network explains costs no retry: the
    /// part (or call) waits for the connection. Returns whether it was so.
    fn absorbed_offline(&mut self, failure: &Failure) -> bool {
        !self.online && matches!(failure, Failure::Network(_) | Failure::Timeout)
    }

    fn on_initiated(&mut self, upload_id: String, signed: Vec<(u16, String)>, now_ms: u64) {
        self.init_unknown = false;
        match self.phase {
            Phase::Initiating => {
                self.out.push_back(Action::Started { upload_id: upload_id.clone(), part_size: self.plan.part_size });
                self.upload_id = Some(upload_id);
                self.call_attempts = 0;
                self.phase = Phase::Uploading;
                for (part, url) in signed {
                    self.on_signed(part, url, now_ms);
                }
                // Parts init carried and did not sign: signed by calls of their own.
                self.unsign();
            }
            // Aborted while init was in flight: the new upload must be deleted too.
            Phase::Aborting { sent: false, .. } => self.upload_id = Some(upload_id),
            _ => {}
        }
    }

    fn on_checked(&mut self, sample: Option<String>) {
        match core::mem::replace(&mut self.check, Check::Done) {
            Check::First { .. } => {
                if let Some(sample) = sample {
                    self.check = Check::Have(sample);
                }
            }
            Check::Last { first, .. } | Check::Again { first, .. }
                if sample.as_ref().is_some_and(|now| *now != first) =>
            {
                self.fail(UploadError::new(
                    ErrorCode::FileReadError,
                    "the file changed on disk while it was being uploaded: nothing was stored; choose it again once it is saved",
                ));
            }
            // The same, or unreadable for now: the parts' own reads tell.
            Check::Again { first, .. } => self.check = Check::Have(first),
            // The same.
            Check::Last { first, .. } if sample.is_some() => self.check = Check::Passed(first),
            // Unreadable now: every part was read before.
            Check::Last { .. } => {}
            other => self.check = other,
        }
    }

    /// Asks for the file's content sample ([`Action::Check`]).
    fn read_sample(&mut self) {
        self.out.push_back(Action::Check { ranges: crate::resume::sample_ranges(self.plan.size) });
    }

    fn on_signed(&mut self, part: u16, url: String, now_ms: u64) {
        if self.part_mut(part).is_none_or(|p| p.state != PartState::Signing) {
            return;
        }
        // Re-sign when less than a margin of the lifetime is left.
        let resign_at = remaining_ms(&url, now_ms).map(|left| now_ms + left - RESIGN_MARGIN_MS.min(left / 4));
        let idx = usize::from(part - 1);
        let took = now_ms.saturating_sub(self.parts[idx].since_ms);
        self.rtt_ms = Some(self.rtt_ms.map_or(took, |ms| ms.min(took)));
        self.set_state(idx, PartState::Ready { url, resign_at });
    }

    fn on_progress(&mut self, part: u16, attempt: u32, loaded: u64, now_ms: u64) {
        let Some(p) = self.part_mut(part) else { return };
        if let PartState::Running { attempt: a, last_progress_ms, loaded: l, .. } = &mut p.state {
            if *a != attempt {
                return;
            }
            if loaded > *l {
                *last_progress_ms = now_ms;
                *l = loaded;
            }
            let loaded = *l;
            self.progress.on_loaded(part, loaded, now_ms);
        }
    }

    fn on_part_done(&mut self, part: u16, attempt: u32, etag: Option<String>, now_ms: u64) {
        if self.running_attempt(part) != Some(attempt) {
            return;
        }
        let idx = usize::from(part - 1);
        let len = self.plan.range(part).map_or(0, |r| r.len());
        let etag = match etag.filter(|e| !e.trim_ascii().is_empty()) {
            Some(e) => e,
            None if self.plan.single => String::new(),
            None => {
                self.set_state(idx, PartState::Pending);
                self.progress.on_attempt_lost(part);
                let err = UploadError::new(
                    ErrorCode::EtagNotExposed,
                    "the part was stored but its ETag response header cannot be read: the bucket's CORS configuration must expose ETag \
                     (add \"ETag\" to ExposeHeaders / ExposeHeader in the bucket's CORS rules)",
                )
                .with_part(part);
                self.fail(err);
                return;
            }
        };
        if let PartState::Running { last_progress_ms, loaded, .. } = self.parts[idx].state
            && loaded >= len
        {
            let took = now_ms.saturating_sub(last_progress_ms);
            self.drain_ms = Some(took.max(self.drain_ms.map_or(0, |was| was - was / 4)));
        }
        let took = now_ms.saturating_sub(self.parts[idx].since_ms);
        self.set_state(idx, PartState::Done { etag: etag.clone() });
        self.parts[idx].attempts = 0;
        self.progress.on_done(part, len, now_ms);
        if self.plan.single {
            let location = None;
            self.finish(Ok(Outcome {
                upload_id: None,
                etag: Some(etag).filter(|e| !e.is_empty()),
                location,
                size: self.plan.size,
                checksum: self.whole_checksum(),
            }));
        } else {
            self.out.push_back(Action::PartComplete { part, etag, size: len });
            if len == self.plan.part_size {
                self.grow(took);
            }
        }
    }

    /// Each time a whole part's PUT took `took_ms` and a signature measured
    /// the round trip: on a far link, where a part of the plan's size idled
    /// more than one [`IDLE_SHARE`](crate::engine::plan::IDLE_SHARE) of its
    /// PUT, the parts after the last one under way (hashing, signing, signed
    /// ahead or sent: those signed ahead go as they are, so that no stream
    /// waits for a part's signature at the growth; those only hashed ahead
    /// are hashed again) are cut anew in larger parts ([`grown_part_size`],
    /// [`Plan::grown`]), once.
    /// Not only at the first PUT: a new connection's first PUTs are slow
    /// while its window opens (TCP's slow start), so a far link may show
    /// its round trip's share only on the PUTs after them.
    fn grow(&mut self, took_ms: u64) {
        let going = matches!(self.phase, Phase::Uploading) && !self.grow_decided;
        let Some(rtt) = self.rtt_ms.filter(|_| going && self.cfg.part_grow_max > self.plan.part_size) else {
            return;
        };
        // The first part (1-based) from which on every part is untouched or
        // only hashed ahead.
        let from = self.parts.iter().rposition(|p| p.state != PartState::Pending || p.attempts > 0).map_or(0, |i| i + 1)
            as u16
            + 1;
        let Some(start) = self.plan.range(from).map(|r| r.start) else { return };
        let size = grown_part_size(
            self.plan.size - start,
            self.plan.part_size,
            self.cfg.part_grow_max,
            self.cfg.concurrency,
            took_ms,
            rtt,
        );
        let Some(plan) = size.and_then(|size| self.plan.grown(from, size)) else { return };
        self.grow_decided = true;
        self.regrow(plan);
        self.out.push_back(Action::Grown { from, part_size: plan.tail_size });
    }

    /// Goes on with `plan`, whose parts are this one's up to its `head`:
    /// every part after it starts over.
    fn regrow(&mut self, plan: Plan) {
        self.parts.truncate(usize::from(plan.head));
        self.parts.resize_with(usize::from(plan.count), Part::new);
        self.index = Index::of(&self.parts);
        self.progress.set_parts_total(plan.count);
        self.plan = plan;
    }

    fn on_part_failed(&mut self, idx: usize, failure: Failure, now_ms: u64) {
        let part = idx as u16 + 1;
        let loaded = match &self.parts[idx].state {
            PartState::Running { loaded, .. } => *loaded,
            _ => 0,
        };
        self.progress.on_attempt_lost(part);
        if self.absorbed_offline(&failure) {
            self.set_state(idx, PartState::Pending);
            return;
        }
        let p = &mut self.parts[idx];
        if loaded > p.best_loaded {
            // Got further than ever before: the part is making progress.
            p.best_loaded = loaded;
            p.attempts = 0;
        }
        self.set_state(idx, PartState::Pending);
        // A PUT that got no answer may be one the file can no longer feed
        // (Firefox sends nothing for bytes past the end of a file truncated
        // on disk, and the PUT stalls): the file's sample is read again, so
        // that a changed file ends the upload with its cause, not after every
        // retry has stalled.
        // (S3 answers a body that stopped arriving 400 RequestTimeout after
        // 20 s: the same.)
        if let (true, Check::Have(first)) = (failure.is_unanswered(), &self.check) {
            self.check = Check::Again { first: first.clone(), deadline: now_ms + CHECK_TIMEOUT_MS };
            self.read_sample();
        }
        let what = if self.plan.single { "the upload PUT".to_owned() } else { cat!("the PUT of part ", part) };
        self.retry_or_fail(Some(idx), failure, &what, false, now_ms);
    }

    fn on_completed(&mut self, etag: Option<String>, location: Option<String>) {
        if let Phase::Completing { sent: true } = self.phase {
            let checksum = self.whole_checksum();
            let outcome = Outcome { upload_id: self.upload_id.clone(), etag, location, size: self.plan.size, checksum };
            self.finish(Ok(outcome));
        }
    }

    /// The store's parts, listed after complete was refused with
    /// `InvalidPart`: an ETag that reached the client altered (a PUT's
    /// response header, changed on the way) is replaced with the store's,
    /// when the part is there with its size (each PUT carried the part's
    /// checksum, which the store verified on arrival); a part that is missing
    /// or of another size is sent again. Then complete is asked again, once
    /// per upload, even with nothing to repair (the request may have been
    /// altered on its way); a second refusal stands.
    fn on_listed(&mut self, stored: &[StoredPart]) {
        let Phase::Listing { sent: true, .. } = self.phase else { return };
        self.call_attempts = 0;
        // Where each part is in the listing (its first entry): one pass, not
        // a search per part (10,000 parts).
        // (1 + its index in `stored`; 0: not listed)
        let mut at = vec![0usize; self.parts.len()];
        for (j, (n, ..)) in stored.iter().enumerate().rev() {
            if let Some(slot) = usize::from(*n).checked_sub(1).and_then(|i| at.get_mut(i)) {
                *slot = j + 1;
            }
        }
        for (i, found) in at.into_iter().enumerate() {
            let n = i as u16 + 1;
            let PartState::Done { etag } = &self.parts[i].state else { continue };
            let len = self.plan.range(n).map_or(0, |r| r.len());
            match found.checked_sub(1).map(|j| &stored[j]) {
                Some((_, theirs, size, _)) if is_stored_as_planned(len, theirs, *size) => {
                    if !same_etag(theirs, etag) {
                        self.set_state(i, PartState::Done { etag: theirs.clone() });
                    }
                }
                _ => self.send_again(i),
            }
        }
        // With nothing to repair (the store holds every part as it was
        // sent), the refusal came from a request altered on its way:
        // complete is asked again all the same; a second refusal stands.
        self.phase = Phase::Uploading;
    }

    /// The list-parts call got no answer: it is to be sent again.
    fn unsend_listing(&mut self) {
        if let Phase::Listing { error, sent: true } = &self.phase {
            self.phase = Phase::Listing { error: error.clone(), sent: false };
        }
    }

    fn on_call_failed(&mut self, call: Call, failure: Failure, now_ms: u64) {
        let what = call.describe(self.plan.single);
        if self.absorbed_offline(&failure) {
            match call {
                Call::Sign(part) if self.part_mut(part).is_some_and(|p| p.state == PartState::Signing) => {
                    self.set_state(usize::from(part - 1), PartState::Pending);
                }
                Call::Complete if self.abort_after_complete && !self.probing => self.abort_unanswered_complete(),
                Call::Complete if matches!(self.phase, Phase::Completing { sent: true }) => {
                    self.phase = Phase::Completing { sent: false };
                }
                Call::List => self.unsend_listing(),
                // Init went back to Starting in `handle`; an abort waits for the connection.
                Call::Abort => {
                    if let Phase::Aborting { error, sent: true } = &self.phase {
                        self.phase = Phase::Aborting { error: error.clone(), sent: false };
                        self.call_attempts = self.call_attempts.max(1);
                    }
                }
                _ => {}
            }
            return;
        }
        match call {
            Call::Sign(part) => {
                if self.part_mut(part).is_some_and(|p| p.state == PartState::Signing) {
                    self.retry_or_fail(Some(usize::from(part - 1)), failure, &what, true, now_ms);
                }
            }
            Call::Abort => self.retry_abort(failure, &what, now_ms),
            Call::List if matches!(self.phase, Phase::Listing { sent: true, .. }) => {
                self.retry_or_fail(None, failure, &what, true, now_ms);
            }
            Call::List => {}
            Call::Init if self.init_lost_while_aborting() => {}
            Call::Complete if self.abort_after_complete && !self.probing => self.abort_unanswered_complete(),
            Call::Init | Call::Complete => {
                let in_flight = matches!(self.phase, Phase::Starting | Phase::Completing { sent: true });
                if in_flight {
                    self.retry_or_fail(None, failure, &what, true, now_ms);
                    // Given up on a complete that got no answer: it may have
                    // been applied. The abort's answer tells, as when the
                    // application aborts while it is in flight.
                    if call == Call::Complete && !self.probing && matches!(self.phase, Phase::Aborting { .. }) {
                        self.complete_unanswered = true;
                    }
                }
            }
        }
    }

    fn on_call_rejected(&mut self, call: Call, error: UploadError, now_ms: u64) {
        match call {
            Call::Abort if self.complete_unanswered && error.status == Some(404) => {
                // No such upload: the complete sent before the abort may have
                // stored the object. Complete is asked again (it cannot
                // create an object from an upload that is gone): S3 answers
                // a repeated complete of a completed upload with its result.
                self.complete_unanswered = false;
                self.probing = true;
                if let Phase::Aborting { error, .. } = &self.phase {
                    self.probe_error = Some(error.clone());
                }
                self.call_retry_at = None;
                self.phase = Phase::Completing { sent: false };
            }
            // An abort whose 2xx says it failed for now (a throttle in the
            // backend's words): asked again, so that no upload is left open.
            Call::Abort if error.is_unreadable_reply() => {
                self.on_call_failed(call, Failure::Network(error.message), now_ms);
            }
            Call::Abort => {
                if let Phase::Aborting { error, sent: true } = &self.phase {
                    let error = error.clone();
                    self.finish(Err(error));
                }
            }
            Call::Sign(part) if self.part_mut(part).is_none_or(|p| p.state != PartState::Signing) => {}
            // A 2xx that cannot be read (garbled on its way, cut short by a
            // proxy): signing and listing change nothing, so each is asked
            // again under the retry policy, as a transient failure is.
            Call::Sign(_) | Call::List if error.is_unreadable_reply() => {
                self.on_call_failed(call, Failure::Network(error.message), now_ms);
            }
            Call::Init if self.init_lost_while_aborting() => {}
            Call::Init if !self.init_reasked && error.is_unanswered() && matches!(self.phase, Phase::Starting) => {
                // A reply that came but cannot be read (not JSON, a hook's
                // error without a status): the backend may have created the
                // upload. Init is asked once more, with the same client
                // token, so that a backend that honours it answers that
                // upload rather than leave it behind.
                self.init_reasked = true;
                self.on_call_failed(call, Failure::Network(error.message), now_ms);
            }
            Call::Complete if self.probing => {
                let error = self.probe_error.take().unwrap_or_else(UploadError::aborted);
                self.finish(Err(error));
            }
            Call::Complete if self.abort_after_complete => self.fail(UploadError::aborted()),
            Call::Complete
                if !self.repaired
                    && matches!(self.phase, Phase::Completing { sent: true })
                    && error.code == ErrorCode::IntegrityError =>
            {
                // The whole object's checksum is the parts' combined, each
                // verified by the store on arrival: a mismatch comes from the
                // request altered on its way more likely than from the bytes,
                // or, in a resumed upload, from parts stored before that hold
                // other bytes than the file has now (changed where its
                // fingerprint's samples did not look). Those are sent again
                // (verified on arrival, as every part), then complete is asked
                // again, once; a second refusal stands.
                self.repaired = true;
                self.phase = Phase::Completing { sent: false };
                for i in 0..self.parts.len() {
                    if self.parts[i].inherited {
                        self.send_again(i);
                        self.phase = Phase::Uploading;
                        self.call_attempts = 0;
                    }
                }
            }
            Call::Complete
                if !self.repaired
                    && matches!(self.phase, Phase::Completing { sent: true })
                    && is_invalid_part(&error) =>
            {
                self.repaired = true;
                self.call_attempts = 0;
                self.phase = Phase::Listing { error, sent: false };
            }
            Call::Complete if error.is_unanswered() => {
                // A reply that came but cannot be read (not JSON, a hook's
                // error without a status): complete may have been applied.
                // The abort's answer tells, as for a reply that never came.
                self.complete_unanswered = true;
                self.fail(error);
            }
            Call::List if !matches!(self.phase, Phase::Listing { sent: true, .. }) => {}
            _ => self.fail(error),
        }
    }

    /// Complete, sent before the application aborted, got no answer: the
    /// upload is aborted, and the abort's answer tells whether the complete
    /// was applied after all.
    fn abort_unanswered_complete(&mut self) {
        self.complete_unanswered = true;
        self.fail(UploadError::aborted());
    }

    /// A transient failure of the abort call: retried by the policy (with its
    /// delays), so that no multipart upload is left open; when the policy gives
    /// up, the upload ends with the error it was aborted for.
    fn retry_abort(&mut self, failure: Failure, what: &str, now_ms: u64) {
        let Phase::Aborting { error, sent: true } = self.phase.clone() else { return };
        let jitter = self.rng.f64();
        // The clean-up has attempts of its own: the upload's retry budget may
        // be what ran out, and the multipart upload must still be deleted.
        match self.cfg.retry.decide(failure, what, self.call_attempts, 0, jitter) {
            Decision::Retry { after_ms } => {
                self.call_attempts += 1;
                self.call_retry_at = Some(now_ms + after_ms);
                self.phase = Phase::Aborting { error, sent: false };
            }
            Decision::Fail(_) => self.finish(Err(error)),
        }
    }

    /// Init failed after the upload was aborted: no multipart upload exists,
    /// so the upload finishes now. Returns whether that was the case.
    fn init_lost_while_aborting(&mut self) -> bool {
        if let Phase::Aborting { error, sent: false } = &self.phase
            && self.upload_id.is_none()
        {
            let error = error.clone();
            self.finish(Err(error));
            return true;
        }
        false
    }

    // ------------------------------------------------------------ decisions

    /// Retries (after a delay) or fails, by the policy. `is_backend` marks
    /// failures of backend calls (code BackendError) rather than of S3 PUTs.
    fn retry_or_fail(&mut self, part_idx: Option<usize>, failure: Failure, what: &str, is_backend: bool, now_ms: u64) {
        let attempts = part_idx.map_or(self.call_attempts, |i| self.parts[i].attempts);
        let jitter = self.rng.f64();
        match self.cfg.retry.decide(failure.clone(), what, attempts, self.retries_spent, jitter) {
            Decision::Retry { after_ms } => {
                self.retries_spent += 1;
                let attempt = attempts + 1;
                match part_idx {
                    Some(i) => {
                        self.parts[i].attempts = attempt;
                        // Every retry of a part gets a fresh URL (see retry.rs).
                        self.set_state(i, PartState::Waiting { until_ms: now_ms + after_ms });
                    }
                    None => {
                        self.call_attempts = attempt;
                        self.call_retry_at = Some(now_ms + after_ms);
                        if let Phase::Completing { .. } = self.phase {
                            self.phase = Phase::Completing { sent: false };
                        }
                        self.unsend_listing();
                    }
                }
                let mut reason = failure.into_error(what);
                if is_backend {
                    reason.code = ErrorCode::BackendError;
                }
                let part = part_idx.map(|i| i as u16 + 1);
                if let Some(p) = part {
                    reason.part_number = Some(p);
                }
                self.out.push_back(Action::Retrying { part, attempt, delay_ms: after_ms, reason });
            }
            Decision::Fail(mut err) => {
                if is_backend {
                    err.code = ErrorCode::BackendError;
                    err.message = cat!("the backend call failed: ", err.message);
                }
                if let Some(i) = part_idx {
                    err.part_number = Some(i as u16 + 1);
                }
                self.fail(err);
            }
        }
    }

    /// Ends the upload with an error: cancels what runs and, when a multipart
    /// upload exists (or may exist), deletes it first.
    fn fail(&mut self, mut error: UploadError) {
        if matches!(self.phase, Phase::Finished | Phase::Aborting { .. }) {
            return;
        }
        if let Phase::Listing { error: refused, .. } = &self.phase
            && error.code != ErrorCode::Aborted
        {
            // The repair failed: the refusal it was for is the error, and
            // why the listing failed its cause.
            error = refused.clone().with_cause(error.message);
        }
        for i in self.index.running.ascending() {
            self.cancel_running(i, PartState::Pending);
        }
        // The signings on their way are no longer wanted (the glue cancels
        // them with the engine's other calls): whatever comes back for them,
        // an aborted request's failure included, is no reason to retry.
        self.unsign();
        let init_in_flight = matches!(self.phase, Phase::Initiating);
        if self.upload_id.is_some() || init_in_flight {
            self.phase = Phase::Aborting { error, sent: false };
            self.call_attempts = 0;
            self.call_retry_at = None;
        } else {
            self.finish(Err(error));
        }
    }

    fn finish(&mut self, result: Result<Outcome, UploadError>) {
        self.phase = Phase::Finished;
        self.report_progress();
        self.out.push_back(Action::Finished(result));
    }

    fn cancel_running(&mut self, idx: usize, next: PartState) {
        let part = idx as u16 + 1;
        self.set_state(idx, next);
        self.progress.on_attempt_lost(part);
        self.out.push_back(Action::Cancel { part });
    }

    // ------------------------------------------------------------ scheduling

    fn step(&mut self, now_ms: u64, free: &mut usize) {
        if self.progress.next_tick().is_some_and(|t| t <= now_ms) {
            self.progress.tick(now_ms);
            self.report_progress();
        }
        let call_due = self.online && self.call_retry_at.is_none_or(|t| t <= now_ms);
        // Not read in time: the upload goes on without the check.
        match &self.check {
            Check::First { deadline } | Check::Last { deadline, .. } if now_ms >= *deadline => self.check = Check::Done,
            Check::Again { first, deadline } if now_ms >= *deadline => self.check = Check::Have(first.clone()),
            _ => {}
        }
        self.step_phase(now_ms, free, call_due);
        // The file's sample, read as the upload starts (with its first
        // hashes), and again once every part is sent or being sent (its
        // bytes read, or hashed: a part sent again is verified by its
        // checksum), so that the read overlaps the last PUTs rather than
        // hold complete.
        let sent =
            matches!(self.phase, Phase::Uploading) && self.index.running.len() + self.index.done == self.parts.len();
        match &self.check {
            Check::Due if !matches!(self.phase, Phase::Finished | Phase::Aborting { .. }) => {
                self.check = Check::First { deadline: now_ms + CHECK_TIMEOUT_MS };
                self.read_sample();
            }
            Check::Have(first) if sent || matches!(self.phase, Phase::Completing { sent: false }) => {
                self.check = Check::Last { first: first.clone(), deadline: now_ms + CHECK_TIMEOUT_MS };
                self.read_sample();
            }
            _ => {}
        }
    }

    fn step_phase(&mut self, now_ms: u64, free: &mut usize, call_due: bool) {
        match self.phase.clone() {
            Phase::Starting if call_due => {
                // Parts an earlier init carried (it failed, or was withdrawn) are signed anew.
                self.unsign();
                self.call_retry_at = None;
                self.phase = Phase::Initiating;
                self.init_unknown = true;
                let mut parts = Vec::new();
                self.sign_with_init(&mut parts);
                self.out.push_back(Action::Init { parts });
                self.hash_while_initiating();
            }
            Phase::Initiating => self.hash_while_initiating(),
            Phase::Uploading => self.schedule_parts(now_ms, free),
            // Complete waits for the file's sample read again (asked for
            // below, if not yet), so that a file changed on disk meanwhile
            // is not stored as a mix of its versions.
            Phase::Completing { sent: false } if !matches!(self.check, Check::Done | Check::Passed(_)) => {}
            Phase::Completing { sent: false } if call_due => {
                self.call_retry_at = None;
                self.phase = Phase::Completing { sent: true };
                let parts = self
                    .parts
                    .iter()
                    .enumerate()
                    .filter_map(|(i, p)| match &p.state {
                        PartState::Done { etag } => Some((i as u16 + 1, etag.clone())),
                        _ => None,
                    })
                    .collect();
                let upload_id = self.upload_id.clone().unwrap_or_default();
                let checksum = self.whole_checksum();
                self.out.push_back(Action::Complete { upload_id, parts, checksum });
            }
            Phase::Listing { error, sent: false } if call_due => {
                self.call_retry_at = None;
                self.phase = Phase::Listing { error, sent: true };
                self.out.push_back(Action::ListParts { upload_id: self.upload_id.clone().unwrap_or_default() });
            }
            // With init still in flight, this waits for its upload id to delete it.
            // The first abort goes out even offline (it may get through); a
            // retry waits for its time and the connection.
            Phase::Aborting { error, sent: false }
                if call_due || (self.call_attempts == 0 && self.call_retry_at.is_none()) =>
            {
                if let Some(upload_id) = self.upload_id.clone() {
                    self.call_retry_at = None;
                    self.phase = Phase::Aborting { error, sent: true };
                    self.out.push_back(Action::Abort { upload_id });
                }
            }
            _ => {}
        }
        self.report_progress();
    }

    /// Adds to `parts`, those of the init about to be sent, the first parts
    /// ready to be signed (hashed, with checksums), up to `concurrency` in
    /// all: init signs them, and their PUTs start when it answers, a round
    /// trip sooner. The glue that held an init back (for the journal's
    /// look-up, and for the first part's hash: [`Upload::first_hash_pending`])
    /// calls this again just before sending it, for the parts hashed
    /// meanwhile.
    pub fn sign_with_init(&mut self, parts: &mut Vec<(u16, Option<String>)>) {
        if !matches!(self.phase, Phase::Initiating) || self.paused {
            return;
        }
        let checksums = self.cfg.checksum.is_some();
        let mut i = 0;
        while parts.len() < self.cfg.concurrency && i < self.parts.len() {
            let p = &self.parts[i];
            if p.state == PartState::Pending && (!checksums || p.crc.is_some()) {
                parts.push((i as u16 + 1, p.crc.map(checksum::to_base64)));
                self.set_state(i, PartState::Signing);
            }
            i += 1;
        }
    }

    /// The first part is being hashed: the glue holds init until it is in,
    /// so that init signs it ([`Upload::sign_with_init`]).
    pub fn first_hash_pending(&self) -> bool {
        self.parts.first().is_some_and(|p| p.state == PartState::Hashing)
    }

    /// Ending with an error, its multipart upload (if any) to be deleted first.
    pub fn is_aborting(&self) -> bool {
        matches!(self.phase, Phase::Aborting { .. })
    }

    /// Parts being signed (by an init that did not sign them) go back to
    /// waiting for a signature of their own.
    fn unsign(&mut self) {
        if self.index.signing == 0 {
            return;
        }
        for i in 0..self.parts.len() {
            if self.parts[i].state == PartState::Signing {
                self.set_state(i, PartState::Pending);
            }
        }
    }

    /// Before and while init is on its way: hash the first parts (their
    /// checksums need no upload id), so that they are signed with init or as
    /// soon as it answers instead of a hash later (on a cold page, the first
    /// PUT is that much sooner).
    fn hash_while_initiating(&mut self) {
        if self.cfg.checksum.is_none() || self.plan.single || self.paused {
            return;
        }
        // As many as init signs or are signed at once when it answers: `concurrency`.
        let pending = self.index.pending.ascending();
        let hashed = pending.iter().filter(|&&i| self.parts[i].crc.is_some()).count();
        let room = self.cfg.concurrency.saturating_sub(self.index.hashing + hashed + self.index.signing);
        let unhashed: Vec<usize> = pending.into_iter().filter(|&i| self.parts[i].crc.is_none()).take(room).collect();
        for i in unhashed {
            let part = i as u16 + 1;
            let Some(range) = self.plan.range(part) else { break };
            self.set_state(i, PartState::Hashing);
            self.out.push_back(Action::Hash { part, start: range.start, end: range.end });
        }
    }

    /// When running part `i` counts as stalled: `part_timeout` after its
    /// last upload progress. Once its whole body is handed to the browser,
    /// much of it may still wait in the system's send buffers (on a slow or
    /// bufferbloated uplink, megabytes per connection), with no progress to
    /// show while they drain: then also twice the time answered PUTs waited
    /// for their answer after theirs (before any was: its bytes at 16 kB/s,
    /// nine part timeouts at most), so that a slow link is not taken for a
    /// stalled one.
    fn stalls_at(&self, i: usize) -> u64 {
        let PartState::Running { last_progress_ms, loaded, .. } = self.parts[i].state else { return u64::MAX };
        let timeout = self.cfg.part_timeout_ms;
        let drain = match self.drain_ms {
            _ if loaded < self.plan.range(i as u16 + 1).map_or(0, |r| r.len()) => 0,
            Some(ms) => 2 * ms,
            None => (loaded / 16).min(9 * timeout),
        };
        last_progress_ms.saturating_add(timeout).saturating_add(drain)
    }

    fn schedule_parts(&mut self, now_ms: u64, free: &mut usize) {
        // Stalls: a running PUT with no progress for part_timeout is cancelled and retried.
        if self.cfg.part_timeout_ms > 0 && self.online {
            for i in self.index.running.ascending() {
                if now_ms >= self.stalls_at(i) {
                    self.out.push_back(Action::Cancel { part: i as u16 + 1 });
                    self.on_part_failed(i, Failure::Timeout, now_ms);
                    if !matches!(self.phase, Phase::Uploading) {
                        return;
                    }
                }
            }
        }
        while let Some((until_ms, i)) = self.index.waiting.first() {
            if until_ms > now_ms {
                break;
            }
            self.set_state(i, PartState::Pending);
        }
        if self.index.done == self.parts.len() {
            if !self.plan.single && !self.verify_inherited() {
                self.phase = Phase::Completing { sent: false };
                self.step(now_ms, free);
            }
            return;
        }
        if self.paused || !self.online {
            return;
        }
        let concurrency = self.cfg.concurrency;
        let mut running = self.index.running.len();
        // Start PUTs on ready URLs, lowest part first.
        for i in self.index.ready.ascending() {
            if running >= concurrency || *free == 0 {
                break;
            }
            if let PartState::Ready { url, resign_at } = &self.parts[i].state {
                if resign_at.is_some_and(|t| t <= now_ms) {
                    // About to expire: sign again rather than start a PUT that may outlive it.
                    self.set_state(i, PartState::Pending);
                    continue;
                }
                let (url, resign_at) = (url.clone(), *resign_at);
                let part = i as u16 + 1;
                let Some(range) = self.plan.range(part) else {
                    continue;
                };
                self.next_attempt += 1;
                let attempt = self.next_attempt;
                self.set_state(
                    i,
                    PartState::Running { url: url.clone(), resign_at, attempt, last_progress_ms: now_ms, loaded: 0 },
                );
                self.progress.on_loaded(part, 0, now_ms);
                self.out.push_back(Action::Put { part, attempt, url, start: range.start, end: range.end });
                running += 1;
                *free -= 1;
            }
        }
        // Hash and sign ahead: keep up to `concurrency` parts hashed and
        // their URLs ready or on their way, so that no PUT waits on a hash
        // or a signature round trip.
        let mut ahead = self.index.hashing + self.index.signing + self.index.ready.len();
        while ahead < concurrency {
            let Some(i) = self.index.pending.first() else { break };
            let part = i as u16 + 1;
            match (self.cfg.checksum, self.parts[i].crc) {
                (Some(_), None) => {
                    let Some(range) = self.plan.range(part) else { break };
                    self.set_state(i, PartState::Hashing);
                    self.out.push_back(Action::Hash { part, start: range.start, end: range.end });
                }
                (_, crc) => {
                    self.set_state(i, PartState::Signing);
                    let checksum = crc.map(checksum::to_base64);
                    self.out.push_back(Action::Sign { part, upload_id: self.upload_id.clone(), checksum });
                }
            }
            ahead += 1;
        }
        if self.index.hashing == 0 {
            self.verify_inherited();
        }
    }

    /// A part counted as stored is to be sent again: its bytes come back out
    /// of the progress (which holds what it reported until they are sent).
    fn send_again(&mut self, idx: usize) {
        self.set_state(idx, PartState::Pending);
        self.progress.on_undone(self.plan.range(idx as u16 + 1).map_or(0, |r| r.len()));
    }

    /// The hash of `part` has answered: its index, and whether it was the
    /// inherited part being verified (which is then no longer awaited).
    fn hash_answered(&mut self, part: u16) -> (usize, bool) {
        let idx = usize::from(part).wrapping_sub(1);
        let verified = self.verifying == Some(idx);
        if verified {
            self.verifying = None;
        }
        (idx, verified)
    }

    /// Hashes the next inherited part whose CRC is not known (with checksums
    /// on; one at a time). True while any such part is left to hash: complete waits.
    fn verify_inherited(&mut self) -> bool {
        if self.cfg.checksum.is_none() {
            return false;
        }
        if self.verifying.is_some() {
            return true;
        }
        while self.parts.get(self.verify_from).is_some_and(|p| !p.inherited || p.crc.is_some()) {
            self.verify_from += 1;
        }
        let i = self.verify_from;
        if i >= self.parts.len() {
            return false;
        }
        let part = i as u16 + 1;
        let Some(range) = self.plan.range(part) else { return false };
        self.verifying = Some(i);
        self.out.push_back(Action::Hash { part, start: range.start, end: range.end });
        true
    }

    /// The whole object's checksum, when every part's is known (parts stored
    /// before a page reload are hashed too: [`Self::verify_inherited`]).
    fn whole_checksum(&self) -> Option<String> {
        self.cfg.checksum?;
        // A loop, not `collect::<Option<Vec<_>>>()` (a kilobyte of generic code).
        let mut crcs = Vec::with_capacity(usize::from(self.plan.count));
        for n in 1..=self.plan.count {
            crcs.push((self.parts.get(usize::from(n - 1))?.crc?, self.plan.range(n)?.len()));
        }
        Some(checksum::to_base64(checksum::combine(crcs)))
    }

    fn report_progress(&mut self) {
        let snap = self.progress.snapshot();
        let changed =
            self.last_reported.is_none_or(|l| l.bytes_sent != snap.bytes_sent || l.parts_done != snap.parts_done);
        if changed {
            self.last_reported = Some(snap);
            self.out.push_back(Action::Progress(snap));
        }
    }

    fn running_attempt(&self, part: u16) -> Option<u32> {
        match self.parts.get(usize::from(part).checked_sub(1)?)?.state {
            PartState::Running { attempt, .. } => Some(attempt),
            _ => None,
        }
    }

    fn part_mut(&mut self, part: u16) -> Option<&mut Part> {
        self.parts.get_mut(usize::from(part).checked_sub(1)?)
    }
}

/// A listed part (its ETag and size) holds a planned part of `len` bytes:
/// the rule of a resume and of a complete's repair alike.
fn is_stored_as_planned(len: u64, etag: &str, size: u64) -> bool {
    size == len && !etag.trim_ascii().is_empty()
}

/// Two ETags are the same, quotes aside (a proxy may add or drop them).
fn same_etag(a: &str, b: &str) -> bool {
    a.bytes().filter(|c| *c != b'"').eq(b.bytes().filter(|c| *c != b'"'))
}

/// The store refused complete because a part it was given is not stored
/// with that ETag (S3's `InvalidPart`, passed on by the backend).
fn is_invalid_part(e: &UploadError) -> bool {
    const NAME: &[u8] = b"InvalidPart";
    // Bytes, not `str` slices: no char-boundary panic paths in the module.
    [Some(&e.message), e.cause.as_ref()].into_iter().flatten().any(|text| {
        let b = text.as_bytes();
        b.windows(NAME.len())
            .enumerate()
            .any(|(i, w)| w == NAME && !b.get(i + NAME.len()).is_some_and(u8::is_ascii_alphanumeric))
    })
}

#[cfg(test)]
mod repair_tests {
    use super::*;

    #[test]
    fn only_s3s_invalid_part_is_repaired() {
        let e = |m: &str| UploadError::new(ErrorCode::BackendError, m);
        assert!(is_invalid_part(&e("the backend answered complete with HTTP 400 (InvalidPart: gone)")));
        assert!(is_invalid_part(&e("x").with_cause(r#"{"error":{"code":"InvalidPart"}}"#)));
        assert!(is_invalid_part(&e("InvalidPart")));
        for other in ["InvalidPartOrder: x", "InvalidPartNumber", "EntityTooSmall", "InvalidPartOrder InvalidParts"] {
            assert!(!is_invalid_part(&e(other)), "{other}");
        }
        assert!(same_etag("abc", "\"abc\"") && same_etag("\"abc\"", "\"abc\""));
        assert!(!same_etag("\"abc\"", "\"abd\""));
    }
}
