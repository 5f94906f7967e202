//! Whole uploads driven through the engine by a simulated backend and S3,
//! with failures given as plain data (in the spirit of tus-js-client's
//! `TestHttpStack`). Every run checks the invariants: never more PUTs in flight
//! than allowed, progress never backwards and ending at the file size, every
//! part stored once, complete called with parts 1..n in order.

#[allow(unused_imports)]
use crate::prelude::*;

use std::collections::{BTreeMap, HashMap};

use crate::engine::UploadError;
use crate::engine::checksum;
use crate::engine::error::ErrorCode;
use crate::engine::plan::MIB;
use crate::engine::retry::{Failure, RetryPolicy};
use crate::engine::upload::{Action, Call, Config, Event, Outcome, Upload};

/// Which request a scripted failure hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum On {
    Init,
    Sign(u16),
    Put(u16),
    Complete,
    Abort,
    List,
}

/// What the simulated world answers for the `nth` (1-based) request of a kind.
#[derive(Debug, Clone)]
enum Answer {
    /// Fail with this failure (after the request's usual duration).
    Fail(Failure),
    /// Fail the PUT after this percentage of its body was sent.
    FailAt(u64, Failure),
    /// Reject for good (backend 4xx, malformed reply).
    Reject(&'static str),
    /// Reject with this error.
    RejectWith(UploadError),
    /// Never answer (a stall): only a timeout ends it.
    Stall,
    /// The body is taken (all of it handed over) and never answered: a
    /// connection gone after the browser's buffers took the part.
    StallSent,
    /// Succeed, but without an ETag header (CORS hides it).
    NoEtag,
    /// Succeed with a URL that lives this many seconds.
    UrlLifetime(u64),
    /// The PUT is stored, but the ETag header reaches the client altered.
    AlteredEtag,
    /// The PUT is answered 200, but nothing is stored.
    NotStored,
    /// A backend call's reply came but cannot be read (a 200 that is not
    /// JSON).
    Garbled,
}

struct World {
    now: u64,
    /// (due time, sequence) -> event
    queue: BTreeMap<(u64, u64), Event>,
    seq: u64,
    script: HashMap<(On, u32), Answer>,
    counts: HashMap<On, u32>,
    /// ms per MiB for PUTs
    ms_per_mib: u64,
    in_flight: HashMap<u16, u32>,
    max_in_flight: usize,
    cancelled: Vec<u16>,
    stored: BTreeMap<u16, String>,
    /// What the store holds: part -> (ETag, size). Complete checks the ETags
    /// it is given against it (S3's `InvalidPart`).
    store: BTreeMap<u16, (String, u64)>,
    /// List-parts calls answered.
    listed: u32,
    /// List-parts answers last part first, with each part listed twice.
    listing_scrambled: bool,
    completed_with: Option<Vec<(u16, String)>>,
    /// An abort was sent.
    aborted: bool,
    /// Abort calls sent, and whether one deleted the upload.
    abort_calls: u32,
    abort_ok: bool,
    /// The application aborts as soon as complete is sent.
    abort_when_completing: bool,
    /// A single PUT (no multipart upload): its PUT stores the object.
    single: bool,
    single_stored: bool,
    put_starts: Vec<(u16, u64)>,
    signs: Vec<(u16, u64)>,
    progress: Vec<u64>,
    retries: Vec<(Option<u16>, u32, u64)>,
    part_completes: Vec<u16>,
    /// When each part's current URL stops working.
    url_dies: HashMap<u16, u64>,
    started: bool,
    part_size_seen: Option<u64>,
    /// The parts' growth ([`Action::Grown`]): first part, size.
    grown: Option<(u16, u64)>,
    /// The browser is offline in [start, end): requests in flight then fail
    /// with network errors, and the engine is told.
    offline: Option<(u64, u64)>,
    offline_told: bool,
    /// The engine hashes parts (its config's `checksum`).
    checksums: bool,
    hashed: Vec<u16>,
    whole_checksum: Option<String>,
    /// Reading the file fails.
    hash_fails: bool,
    /// Reading this part fails.
    unreadable: Option<u16>,
    /// The CRC of the bytes the store holds for a part, where they are not
    /// the file's (`crc_of`): a part stored before a reload, from a file
    /// that has changed since. Complete verifies the whole object's CRC
    /// against what the store holds (S3's `BadDigest`).
    store_crc: HashMap<u16, u32>,
    /// Init signs the parts it carries (as the reference backend does; a
    /// part the script has a signing answer for is left to its own call).
    init_signs: bool,
    /// Parts init signed, and when its answer came.
    init_signed: Vec<u16>,
    initiated_at: Option<u64>,
    /// How long a part's signing call takes.
    sign_ms: u64,
    /// How long init takes.
    init_ms: u64,
    /// What a PUT takes beside its bytes: the link's round trip.
    put_rtt_ms: u64,
    /// The first this many PUTs take this much longer (new connections
    /// whose window opens slowly: TCP's slow start).
    slow_start: (usize, u64),
    /// The bytes of the file each stored part holds: `start..end`.
    stored_bytes: BTreeMap<u16, (u64, u64)>,
    /// As the browser's glue does: when the engine sends its abort, every
    /// signing call still on its way is cancelled, and fails as a request
    /// the browser aborted (a network error).
    cancel_signs_on_abort: bool,
    /// Retries of parts reported after the abort was sent (there must be none).
    part_retries_after_abort: Vec<u16>,
    /// The file is rewritten on disk at this time: its content sample
    /// ([`Action::Check`]) reads otherwise from then on.
    changed_at: Option<u64>,
    /// The content checks asked for: when, and their ranges.
    checks: Vec<(u64, Vec<(u64, u64)>)>,
    /// Content checks are never answered (a read that hangs).
    checks_hang: bool,
    /// The browser's send buffers take each PUT's whole body at once (a
    /// slow, bufferbloated uplink): its upload progress reaches the part's
    /// size at the start, and nothing moves until the answer.
    buffered: bool,
}

/// A backend's 200 whose body is not JSON, as the HTTP backend reports it.
fn garbled() -> UploadError {
    // As protocol.rs words it: the problem, then the fix.
    UploadError::new(
        ErrorCode::BackendError,
        r#"the backend's reply to part-url is not JSON (x): "<html>"; it must answer JSON like {"url": "https://..."}"#,
    )
    .with_status(200)
}

/// The CRC of part `n`'s bytes in the simulated file.
fn crc_of(n: u16) -> u32 {
    u32::from(n).wrapping_mul(0x9E37_79B9)
}

impl World {
    fn new(script: &[(On, u32, Answer)]) -> Self {
        Self {
            now: 0,
            queue: BTreeMap::new(),
            seq: 0,
            script: script.iter().map(|(on, n, a)| ((*on, *n), a.clone())).collect(),
            counts: HashMap::new(),
            ms_per_mib: 10,
            in_flight: HashMap::new(),
            max_in_flight: 0,
            cancelled: Vec::new(),
            stored: BTreeMap::new(),
            store: BTreeMap::new(),
            listed: 0,
            listing_scrambled: false,
            completed_with: None,
            aborted: false,
            abort_calls: 0,
            abort_ok: false,
            abort_when_completing: false,
            single: false,
            single_stored: false,
            put_starts: Vec::new(),
            signs: Vec::new(),
            progress: Vec::new(),
            retries: Vec::new(),
            part_completes: Vec::new(),
            url_dies: HashMap::new(),
            started: false,
            part_size_seen: None,
            grown: None,
            offline: None,
            offline_told: false,
            checksums: true,
            hashed: Vec::new(),
            whole_checksum: None,
            hash_fails: false,
            unreadable: None,
            store_crc: HashMap::new(),
            init_signs: true,
            init_signed: Vec::new(),
            initiated_at: None,
            sign_ms: 5,
            init_ms: 10,
            put_rtt_ms: 0,
            slow_start: (0, 0),
            stored_bytes: BTreeMap::new(),
            cancel_signs_on_abort: false,
            part_retries_after_abort: Vec::new(),
            changed_at: None,
            checks: Vec::new(),
            checks_hang: false,
            buffered: false,
        }
    }

    /// The whole object's CRC32 (base64) of what the store holds.
    fn stored_whole_crc(&self) -> String {
        let crcs = self.store.iter().map(|(n, (_, len))| (self.store_crc.get(n).copied().unwrap_or(crc_of(*n)), *len));
        checksum::to_base64(checksum::combine(crcs))
    }

    /// A part is signed with its CRC (checksums on), or with none.
    fn assert_signed_checksum(&self, part: u16, checksum: Option<&String>) {
        if self.checksums {
            assert_eq!(checksum, Some(&checksum::to_base64(crc_of(part))), "part {part} is signed with its CRC");
        } else {
            assert_eq!(checksum, None);
        }
    }

    fn at(&mut self, delay: u64, ev: Event) {
        self.seq += 1;
        self.queue.insert((self.now + delay, self.seq), ev);
    }

    fn answer(&mut self, on: On) -> Option<Answer> {
        let n = self.counts.entry(on).or_insert(0);
        *n += 1;
        self.script.get(&(on, *n)).cloned()
    }

    fn call_failure(&mut self, call: Call, on: On, delay: u64) -> bool {
        match self.answer(on) {
            Some(Answer::Fail(failure)) => self.at(delay, Event::CallFailed { call, failure }),
            Some(Answer::Reject(msg)) => self.at(
                delay,
                Event::CallRejected { call, error: UploadError::new(ErrorCode::BackendError, msg).with_status(400) },
            ),
            Some(Answer::Garbled) => self.at(delay, Event::CallRejected { call, error: garbled() }),
            Some(Answer::RejectWith(error)) => self.at(delay, Event::CallRejected { call, error }),
            Some(Answer::Stall) => {}
            Some(_) | None => return false,
        }
        true
    }

    fn carry_out(&mut self, action: Action) -> Option<Result<Outcome, UploadError>> {
        match action {
            Action::Init { parts } => {
                if !self.call_failure(Call::Init, On::Init, 10) {
                    let mut signed = Vec::new();
                    for (part, checksum) in parts {
                        self.assert_signed_checksum(part, checksum.as_ref());
                        if self.init_signs && !self.script.keys().any(|(on, _)| *on == On::Sign(part)) {
                            self.signs.push((part, self.now));
                            self.url_dies.insert(part, self.now + 10 + 3_600_000);
                            signed.push((part, format!("https://s3.test/b/k?partNumber={part}&X-Amz-Expires=3600")));
                            self.init_signed.push(part);
                        }
                    }
                    self.initiated_at = Some(self.now + self.init_ms);
                    self.at(self.init_ms, Event::Initiated { upload_id: "up-1".into(), signed });
                }
            }
            Action::Check { ranges } => {
                self.checks.push((self.now, ranges));
                if !self.checks_hang {
                    let version = if self.changed_at.is_some_and(|t| self.now >= t) { "v2" } else { "v1" };
                    self.at(1, Event::Checked { sample: Some(version.into()) });
                }
            }
            Action::Hash { part, start, end } => {
                assert!(end >= start, "part {part}: bytes {start}..{end}");
                self.hashed.push(part);
                if self.hash_fails || self.unreadable == Some(part) {
                    self.at(1, Event::HashFailed { part, message: "NotReadableError".into() });
                } else {
                    self.at(1, Event::Hashed { part, crc: crc_of(part) });
                }
            }
            Action::Sign { part, upload_id, checksum } => {
                self.assert_signed_checksum(part, checksum.as_ref());
                assert_eq!(upload_id.is_some(), self.counts.contains_key(&On::Init), "part URLs name the upload");
                self.single = upload_id.is_none();
                self.signs.push((part, self.now));
                let lifetime = match self.answer(On::Sign(part)) {
                    Some(Answer::UrlLifetime(s)) => s,
                    Some(Answer::Fail(failure)) => {
                        self.at(5, Event::CallFailed { call: Call::Sign(part), failure });
                        return None;
                    }
                    Some(Answer::Reject(msg)) => {
                        let error = UploadError::new(ErrorCode::BackendError, msg);
                        self.at(5, Event::CallRejected { call: Call::Sign(part), error });
                        return None;
                    }
                    Some(Answer::Garbled) => {
                        self.at(5, Event::CallRejected { call: Call::Sign(part), error: garbled() });
                        return None;
                    }
                    Some(Answer::RejectWith(error)) => {
                        self.at(5, Event::CallRejected { call: Call::Sign(part), error });
                        return None;
                    }
                    _ => 3600,
                };
                self.url_dies.insert(part, self.now + self.sign_ms + lifetime * 1000);
                self.at(
                    self.sign_ms,
                    Event::Signed {
                        part,
                        url: format!("https://s3.test/b/k?partNumber={part}&X-Amz-Expires={lifetime}"),
                    },
                );
            }
            Action::Put { part, attempt, start, end, url } => {
                assert!(url.contains(&format!("partNumber={part}")), "PUT of part {part} uses its own URL");
                self.put_starts.push((part, self.now));
                self.in_flight.insert(part, attempt);
                self.max_in_flight = self.max_in_flight.max(self.in_flight.len());
                let len = end - start;
                let slow = if self.put_starts.len() <= self.slow_start.0 { self.slow_start.1 } else { 0 };
                let dur = (self.put_rtt_ms + slow + len * self.ms_per_mib / MIB).max(1);
                let expired = self.url_dies.get(&part).is_some_and(|&d| d <= self.now);
                let answer = if expired {
                    Some(Answer::Fail(Failure::Status {
                        status: 403,
                        body: "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>".into(),
                        retry_after_ms: None,
                    }))
                } else {
                    self.answer(On::Put(part))
                };
                if self.buffered {
                    self.at(1, Event::PartProgress { part, attempt, loaded: len });
                }
                match answer {
                    Some(Answer::Stall) => {}
                    Some(Answer::StallSent) => self.at(1, Event::PartProgress { part, attempt, loaded: len }),
                    Some(Answer::Fail(failure)) => self.at(dur, Event::PartFailed { part, attempt, failure }),
                    Some(Answer::FailAt(pct, failure)) => {
                        let t = dur * pct / 100;
                        self.at(t, Event::PartProgress { part, attempt, loaded: len * pct / 100 });
                        self.at(t + 1, Event::PartFailed { part, attempt, failure });
                    }
                    other => {
                        self.at(dur / 2, Event::PartProgress { part, attempt, loaded: len / 2 });
                        self.at(dur, Event::PartProgress { part, attempt, loaded: len });
                        let stored = format!("\"etag-{part}\"");
                        let etag = match other {
                            Some(Answer::NoEtag) => None,
                            Some(Answer::AlteredEtag) => Some(format!("\"etag-{part}x\"")),
                            _ => Some(stored.clone()),
                        };
                        if !matches!(other, Some(Answer::NotStored)) {
                            self.store.insert(part, (stored, len));
                            self.stored_bytes.insert(part, (start, end));
                            self.store_crc.remove(&part);
                        }
                        self.at(dur, Event::PartDone { part, attempt, etag });
                    }
                }
            }
            Action::Grown { from, part_size } => {
                assert!(self.started && self.grown.is_none(), "parts grow once, in a started upload");
                self.grown = Some((from, part_size));
            }
            Action::Started { upload_id, part_size } => {
                assert_eq!((upload_id.as_str(), part_size), ("up-1", self.part_size_seen.unwrap_or(part_size)));
                self.started = true;
            }
            Action::Cancel { part } => {
                self.in_flight.remove(&part);
                self.cancelled.push(part);
            }
            Action::Complete { upload_id, parts, checksum } => {
                self.whole_checksum = checksum.clone();
                assert_eq!(upload_id, "up-1");
                assert!(!self.abort_ok, "complete after the upload was deleted");
                if self.call_failure(Call::Complete, On::Complete, 10) {
                } else if parts.iter().any(|(n, etag)| self.store.get(n).is_none_or(|(e, _)| e != etag)) {
                    let error = UploadError::new(
                        ErrorCode::BackendError,
                        "the backend answered complete with HTTP 400 (InvalidPart: One or more of the specified parts could not be found)",
                    );
                    self.at(10, Event::CallRejected { call: Call::Complete, error: error.with_status(400) });
                } else if let Some(sent) = checksum.filter(|sent| *sent != self.stored_whole_crc()) {
                    let error = UploadError::new(
                        ErrorCode::IntegrityError,
                        format!("the store refused complete (BadDigest: the object's CRC32 is not {sent})"),
                    );
                    self.at(10, Event::CallRejected { call: Call::Complete, error: error.with_status(400) });
                } else {
                    self.completed_with = Some(parts);
                    self.at(
                        10,
                        Event::Completed {
                            etag: Some("\"final-etag\"".into()),
                            location: Some("https://s3.test/b/k".into()),
                        },
                    );
                }
            }
            Action::Abort { upload_id } => {
                assert_eq!(upload_id, "up-1");
                self.aborted = true;
                self.abort_calls += 1;
                if self.cancel_signs_on_abort {
                    let pending = std::mem::take(&mut self.queue);
                    for (key, ev) in pending {
                        if let Event::Signed { part, .. } = ev {
                            let failure = Failure::Network("The operation was aborted.".into());
                            self.at(1, Event::CallFailed { call: Call::Sign(part), failure });
                        } else {
                            self.queue.insert(key, ev);
                        }
                    }
                }
                if !self.call_failure(Call::Abort, On::Abort, 5) {
                    // Deleted now: a complete still in flight fails on arrival.
                    self.abort_ok = self.completed_with.is_none();
                    self.at(5, Event::AbortDone);
                }
            }
            Action::ListParts { upload_id } => {
                assert_eq!(upload_id, "up-1");
                if !self.call_failure(Call::List, On::List, 5) {
                    self.listed += 1;
                    let mut parts: Vec<_> = self
                        .store
                        .iter()
                        .map(|(n, (e, len))| {
                            let crc = self.store_crc.get(n).copied().unwrap_or(crc_of(*n));
                            (*n, e.clone(), *len, Some(crc))
                        })
                        .collect();
                    if self.listing_scrambled {
                        parts.reverse();
                        parts = parts.iter().flat_map(|p| [p.clone(), p.clone()]).collect();
                    }
                    self.at(5, Event::Listed { parts });
                }
            }
            Action::Progress(p) => {
                if let Some(&last) = self.progress.last() {
                    assert!(p.bytes_sent >= last, "progress went back from {last} to {}", p.bytes_sent);
                }
                assert!(p.bytes_sent <= p.bytes_total);
                self.progress.push(p.bytes_sent);
            }
            Action::PartComplete { part, etag, .. } => {
                // Reported again only when it was sent again after a listing.
                assert!(
                    self.stored.insert(part, etag).is_none() || self.listed > 0,
                    "part {part} reported complete twice"
                );
                self.part_completes.push(part);
            }
            Action::Retrying { part, attempt, delay_ms, .. } => {
                if let Some(p) = part.filter(|_| self.aborted) {
                    self.part_retries_after_abort.push(p);
                }
                self.retries.push((part, attempt, delay_ms));
            }
            Action::Finished(result) => return Some(result),
        }
        None
    }

    /// Going offline: every request in flight fails with a network error now.
    fn cut_everything_in_flight(&mut self) {
        let pending = std::mem::take(&mut self.queue);
        for (_, ev) in pending {
            let failure = Failure::Network("offline".into());
            let cut = match ev {
                Event::PartDone { part, attempt, .. } | Event::PartFailed { part, attempt, .. } => {
                    Some(Event::PartFailed { part, attempt, failure })
                }
                Event::Signed { part, .. } => Some(Event::CallFailed { call: Call::Sign(part), failure }),
                Event::Initiated { .. } => Some(Event::CallFailed { call: Call::Init, failure }),
                Event::Completed { .. } => Some(Event::CallFailed { call: Call::Complete, failure }),
                Event::PartProgress { .. } => None,
                other => Some(other),
            };
            if let Some(ev) = cut {
                self.at(1, ev);
            }
        }
    }

    /// Feeds events to the engine until it finishes; `control` runs before each event at its time.
    fn run(&mut self, up: &mut Upload, mut control: impl FnMut(&mut Upload, u64)) -> Result<Outcome, UploadError> {
        for _ in 0..200_000 {
            while let Some(action) = up.poll(self.now) {
                assert!(up.index_is_consistent(), "the part index disagrees with the parts at {} ms", self.now);
                let completing = matches!(action, Action::Complete { .. });
                if let Some(result) = self.carry_out(action) {
                    assert!(up.poll(self.now).is_none(), "nothing after Finished");
                    // The outcome agrees with the store: stored <=> Ok.
                    assert_eq!(
                        result.is_ok(),
                        (self.completed_with.is_some() && !self.abort_ok) || self.single_stored,
                        "outcome {result:?} but stored: {:?}, deleted: {}",
                        self.completed_with.is_some(),
                        self.abort_ok
                    );
                    return result;
                }
                if completing && self.abort_when_completing {
                    up.abort();
                }
            }
            // A wakeup that is already due would make the glue spin on zero-delay timers.
            if let Some(w) = up.next_wakeup() {
                assert!(w > self.now, "wakeup at {w} ms is already due at {} ms: the glue would spin", self.now);
            }
            if let Some((from, to)) = self.offline {
                if self.now >= from && self.now < to && !self.offline_told {
                    self.offline_told = true;
                    self.cut_everything_in_flight();
                    up.handle(Event::Connectivity { online: false }, self.now);
                    continue;
                }
                if self.now >= to && self.offline_told {
                    self.offline = None;
                    up.handle(Event::Connectivity { online: true }, self.now);
                    continue;
                }
            }
            let next_event = self.queue.keys().next().copied();
            let mut wake = up.next_wakeup();
            if let Some((from, to)) = self.offline {
                let edge = if self.offline_told { to } else { from };
                wake = Some(wake.map_or(edge, |w| w.min(edge)));
            }
            let t = match (next_event, wake) {
                (Some((t, _)), Some(w)) => t.min(w),
                (Some((t, _)), None) => t,
                (None, Some(w)) => w,
                // Paused with nothing running: time passes until the application resumes.
                (None, None) if up.is_paused() => self.now + 100,
                (None, None) => panic!("engine is stuck at {} ms: no event pending and no wakeup", self.now),
            };
            self.now = self.now.max(t);
            control(up, self.now);
            if next_event.is_some_and(|(et, _)| et <= self.now) {
                let (k, ev) = self.queue.pop_first().expect("event");
                let _ = k;
                if let Event::PartDone { part, attempt, .. } | Event::PartFailed { part, attempt, .. } = &ev
                    && self.in_flight.get(part) == Some(attempt)
                {
                    self.in_flight.remove(part);
                    // A single PUT answered (not cancelled before) stored the object.
                    self.single_stored |= self.single && matches!(ev, Event::PartDone { etag: Some(_), .. });
                }
                up.handle(ev, self.now);
                assert!(up.index_is_consistent(), "the part index disagrees with the parts at {} ms", self.now);
            }
        }
        panic!("upload did not finish");
    }
}

fn cfg(concurrency: usize) -> Config {
    Config {
        concurrency,
        multipart_threshold: Some(8 * MIB),
        retry: RetryPolicy { delays_ms: vec![0, 100, 300], max_total_retries: 20 },
        part_timeout_ms: 5_000,
        ..Config::default()
    }
}

fn run(size: u64, config: Config, script: &[(On, u32, Answer)]) -> (World, Result<Outcome, UploadError>) {
    let mut up = Upload::new(size, config.clone(), 7).expect("valid upload");
    let mut w = World::new(script);
    w.checksums = config.checksum.is_some();
    let res = w.run(&mut up, |_, _| {});
    assert!(w.max_in_flight <= config.concurrency, "{} PUTs in flight, limit {}", w.max_in_flight, config.concurrency);
    (w, res)
}

fn assert_intact(w: &World, res: &Result<Outcome, UploadError>, size: u64, parts: u16) {
    let out = res.as_ref().expect("upload succeeds");
    if w.checksums && !w.single && w.hashed.len() == usize::from(parts) {
        // The whole object's CRC is the parts' CRCs combined, in order.
        let plan = crate::engine::plan::Plan::new(size, 8 * MIB, None).expect("plan");
        let want = checksum::combine((1..=parts).map(|n| (crc_of(n), plan.range(n).expect("range").len())));
        assert_eq!(w.whole_checksum, Some(checksum::to_base64(want)), "complete carries the whole object's CRC");
        assert_eq!(out.checksum, w.whole_checksum);
    }
    assert_eq!(out.size, size);
    assert_eq!(w.progress.last().copied(), Some(size), "progress ends at the file size");
    if parts > 1 || out.upload_id.is_some() {
        let completed = w.completed_with.as_ref().expect("complete was called");
        let want: Vec<_> = (1..=parts).map(|n| (n, format!("\"etag-{n}\""))).collect();
        assert_eq!(completed, &want, "complete gets parts 1..n in order with their ETags");
        assert!(!w.aborted);
    }
}

#[test]
fn clean_multipart_upload() {
    let size = 33 * MIB;
    let (w, res) = run(size, cfg(4), &[]);
    assert_intact(&w, &res, size, 5);
    assert_eq!(w.max_in_flight, 4, "uses the whole concurrency");
    assert!(w.retries.is_empty());
    let out = res.expect("ok");
    assert_eq!(out.upload_id.as_deref(), Some("up-1"));
    assert_eq!(out.etag.as_deref(), Some("\"final-etag\""));
}

/// Init signs the first parts in its round trip (without checksums, the
/// first `concurrency` parts: no hash to wait for); their PUTs start the
/// moment init answers, with no signing call before them; the other parts
/// are signed as usual. With checksums, the engine's init carries what is
/// hashed when it goes (here nothing): the coordinator holds it for the
/// first part's hash (its tests).
#[test]
fn init_signs_the_first_parts_and_their_puts_start_when_it_answers() {
    for checksum in [None, Some(crate::engine::checksum::Algorithm::Crc32)] {
        let size = 60 * MIB;
        let (w, res) = run(size, Config { checksum, ..cfg(4) }, &[]);
        assert_intact(&w, &res, size, 8);
        let want: Vec<u16> = if checksum.is_some() { vec![] } else { vec![1, 2, 3, 4] };
        assert_eq!(w.init_signed, want, "{checksum:?}: the parts init signed");
        let answered = w.initiated_at.expect("init answered");
        for part in &want {
            let started = w.put_starts.iter().find(|(p, _)| p == part).expect("sent").1;
            assert_eq!(started, answered, "{checksum:?}: part {part}'s PUT starts when init answers");
        }
        // Every part signed once: by init, or by its own call.
        let mut signed: Vec<u16> = w.signs.iter().map(|(p, _)| *p).collect();
        signed.sort_unstable();
        assert_eq!(signed, (1..=8).collect::<Vec<_>>(), "{checksum:?}");
    }
}

/// A backend whose init signs nothing (it does not know the field): every
/// part is signed by a call of its own, as before init could sign.
#[test]
fn an_init_that_signs_nothing_leaves_every_part_to_its_own_call() {
    let size = 60 * MIB;
    let mut up = Upload::new(size, cfg(4), 7).expect("upload");
    let mut w = World::new(&[]);
    w.init_signs = false;
    let res = w.run(&mut up, |_, _| {});
    assert_intact(&w, &res, size, 8);
    assert!(w.init_signed.is_empty());
    assert_eq!(w.signs.len(), 8, "each part signed once, by its own call");
}

/// An init that fails (503) is asked again after its delay, carrying the
/// parts again; each part is signed once, by the init that answered.
#[test]
fn a_retried_init_carries_its_parts_again() {
    let size = 60 * MIB;
    let failure = Failure::Status { status: 503, body: String::new(), retry_after_ms: None };
    let (w, res) = run(size, Config { checksum: None, ..cfg(4) }, &[(On::Init, 1, Answer::Fail(failure))]);
    assert_intact(&w, &res, size, 8);
    assert_eq!(w.counts.get(&On::Init), Some(&2));
    assert_eq!(w.init_signed, vec![1, 2, 3, 4]);
    assert_eq!(w.signs.len(), 8, "each part signed once");
}

#[test]
fn sign_ahead_means_no_put_waits_for_a_signature() {
    // 16 parts, concurrency 2: after the first PUTs, every PUT starts the moment a slot frees.
    let size = 16 * 8 * MIB;
    let (w, res) = run(size, cfg(2), &[]);
    assert_intact(&w, &res, size, 16);
    for &(part, started) in w.put_starts.iter().skip(2) {
        let signed = w.signs.iter().find(|(p, _)| *p == part).expect("signed").1;
        assert!(
            signed + 5 < started,
            "part {part}: URL was ready before the slot freed (signed {signed}, started {started})"
        );
    }
}

#[test]
fn single_put_for_small_files_and_empty_files() {
    for size in [0, 1, 5 * MIB, 8 * MIB] {
        let (w, res) = run(size, cfg(4), &[]);
        let out = res.expect("ok");
        assert_eq!(out.upload_id, None, "{size}: no multipart upload");
        assert_eq!(out.etag.as_deref(), Some("\"etag-1\""));
        assert!(w.completed_with.is_none());
        assert_eq!(w.progress.last().copied(), Some(size));
        assert_eq!(w.put_starts.len(), 1);
    }
}

#[test]
fn transient_failures_are_retried_on_that_part_only() {
    let size = 40 * MIB;
    let s500 = Failure::Status { status: 500, body: String::new(), retry_after_ms: None };
    let s503 = Failure::Status { status: 503, body: String::new(), retry_after_ms: None };
    let script = [
        (On::Put(2), 1, Answer::Fail(s500)),
        (On::Put(2), 2, Answer::Fail(s503)),
        (On::Put(4), 1, Answer::FailAt(50, Failure::Network("connection reset".into()))),
        (On::Sign(3), 1, Answer::Fail(Failure::Network("backend unreachable".into()))),
        (On::Init, 1, Answer::Fail(Failure::Status { status: 502, body: String::new(), retry_after_ms: None })),
        (On::Complete, 1, Answer::Fail(Failure::Timeout)),
    ];
    let (w, res) = run(size, cfg(3), &script);
    assert_intact(&w, &res, size, 5);
    let puts = |p| w.put_starts.iter().filter(|(x, _)| *x == p).count();
    assert_eq!((puts(1), puts(2), puts(3), puts(4), puts(5)), (1, 3, 1, 2, 1), "only failed parts are sent again");
    assert_eq!(w.retries.len(), 6);
    // every retry of a part gets a fresh URL
    assert_eq!(w.signs.iter().filter(|(p, _)| *p == 2).count(), 3);
}

#[test]
fn retry_after_is_waited_for() {
    let f = Failure::Status { status: 429, body: String::new(), retry_after_ms: Some(2_000) };
    let (w, res) = run(16 * MIB, cfg(2), &[(On::Put(1), 1, Answer::Fail(f))]);
    assert_intact(&w, &res, 16 * MIB, 2);
    let starts: Vec<u64> = w.put_starts.iter().filter(|(p, _)| *p == 1).map(|(_, t)| *t).collect();
    assert!(starts[1] >= starts[0] + 2_000, "second attempt {} waited for Retry-After after {}", starts[1], starts[0]);
}

fn s3_refusal(code: &str) -> Answer {
    Answer::Fail(Failure::Status {
        status: 403,
        body: format!("<Error><Code>{code}</Code></Error>"),
        retry_after_ms: None,
    })
}

#[test]
fn fatal_put_error_aborts_the_upload() {
    for (code, script) in [
        ("AccessDenied", vec![(On::Put(3), 1, s3_refusal("AccessDenied"))]),
        // A refused signature twice in a row (a backend that signs wrongly).
        (
            "SignatureDoesNotMatch",
            vec![
                (On::Put(3), 1, s3_refusal("SignatureDoesNotMatch")),
                (On::Put(3), 2, s3_refusal("SignatureDoesNotMatch")),
            ],
        ),
    ] {
        let (w, res) = run(40 * MIB, cfg(4), &script);
        let err = res.expect_err("fails");
        assert_eq!((err.code, err.status, err.part_number), (ErrorCode::S3Error, Some(403), Some(3)));
        assert!(err.message.contains(code), "{err}");
        assert!(w.aborted, "the multipart upload is deleted");
        assert!(w.completed_with.is_none());
        assert!(w.in_flight.is_empty(), "every other PUT was cancelled: {:?}", w.in_flight);
    }
}

/// A signature the store refuses once (the URL or the signed checksum header
/// altered on the way): the part is signed again and sent again; intact.
#[test]
fn a_signature_refused_once_is_signed_and_sent_again() {
    let (w, res) = run(40 * MIB, cfg(4), &[(On::Put(3), 1, s3_refusal("SignatureDoesNotMatch"))]);
    assert_intact(&w, &res, 40 * MIB, 5);
    let signs_of_3 = w.signs.iter().filter(|(p, _)| *p == 3).count();
    assert_eq!(signs_of_3, 2, "a fresh URL for the second attempt");
}

#[test]
fn retries_run_out() {
    let f = || Answer::Fail(Failure::Network("offline".into()));
    let script: Vec<_> = (1..=4).map(|n| (On::Put(1), n, f())).collect();
    let (w, res) = run(16 * MIB, cfg(2), &script);
    let err = res.expect_err("fails");
    assert_eq!((err.code, err.part_number), (ErrorCode::NetworkError, Some(1)));
    assert!(err.message.contains("gave up after 4 attempts"), "{err}");
    assert_eq!(w.retries.len(), 3);
    assert!(w.aborted);
}

#[test]
fn progress_resets_the_attempt_counter() {
    // Five failures in a row on one part, more than the 3 retries of the list:
    // each attempt got further than the one before, so the part keeps going.
    let further: Vec<_> =
        (1..=5).map(|n| (On::Put(1), n, Answer::FailAt(u64::from(n) * 15, Failure::Network("reset".into())))).collect();
    let (w, res) = run(16 * MIB, cfg(2), &further);
    assert_intact(&w, &res, 16 * MIB, 2);
    assert_eq!(w.retries.iter().map(|r| r.1).collect::<Vec<_>>(), vec![1; 5]);

    // The same five failures, each at the same spot: no progress, retries run out.
    let stuck: Vec<_> =
        (1..=5).map(|n| (On::Put(1), n, Answer::FailAt(50, Failure::Network("reset".into())))).collect();
    let (w, res) = run(16 * MIB, cfg(2), &stuck);
    assert_eq!(res.expect_err("runs out").code, ErrorCode::NetworkError);
    // three retries (the list's length), then the fourth failure ends the upload
    assert_eq!(w.retries.iter().map(|r| r.1).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(w.put_starts.iter().filter(|(p, _)| *p == 1).count(), 4);
}

#[test]
fn expired_urls_are_signed_again_before_use() {
    // Part URLs live 2 s; PUTs are slow (1 s per MiB, 8 s a part), concurrency 1:
    // a URL signed ahead would be dead by the time its slot frees.
    let mut config = cfg(1);
    config.part_timeout_ms = 0;
    let script: Vec<_> = (1..=3).flat_map(|p| (1..=4).map(move |n| (On::Sign(p), n, Answer::UrlLifetime(2)))).collect();
    let mut up = Upload::new(24 * MIB, config, 1).expect("upload");
    let mut w = World::new(&script);
    w.ms_per_mib = 1_000;
    let res = w.run(&mut up, |_, _| {});
    assert_intact(&w, &res, 24 * MIB, 3);
    assert!(w.retries.is_empty(), "no PUT was sent on an expired URL: {:?}", w.retries);
    assert!(w.signs.len() > 3, "stale URLs were signed again: {:?}", w.signs);
}

#[test]
fn expired_url_403_gets_a_fresh_url() {
    let f = Failure::Status {
        status: 403,
        body: "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>".into(),
        retry_after_ms: None,
    };
    let (w, res) = run(16 * MIB, cfg(2), &[(On::Put(2), 1, Answer::Fail(f))]);
    assert_intact(&w, &res, 16 * MIB, 2);
    assert_eq!(w.signs.iter().filter(|(p, _)| *p == 2).count(), 2);
}

#[test]
fn stalled_put_is_cancelled_and_retried() {
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Put(2), 1, Answer::Stall)]);
    assert_intact(&w, &res, 24 * MIB, 3);
    assert!(w.cancelled.contains(&2), "the stalled PUT was cancelled");
    assert_eq!(w.retries.len(), 1);
}

#[test]
fn missing_etag_is_etag_not_exposed() {
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Put(1), 1, Answer::NoEtag)]);
    let err = res.expect_err("fails");
    assert_eq!((err.code, err.part_number), (ErrorCode::EtagNotExposed, Some(1)));
    assert!(err.message.contains("CORS") && err.message.contains("ETag"), "{err}");
    assert!(w.aborted);
}

#[test]
fn backend_rejection_is_backend_error_and_aborts() {
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Sign(2), 1, Answer::Reject("part-url answered 400: bad key"))]);
    let err = res.expect_err("fails");
    assert_eq!(err.code, ErrorCode::BackendError);
    assert!(w.aborted);
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Init, 1, Answer::Reject("init answered 403"))]);
    assert_eq!(res.expect_err("fails").code, ErrorCode::BackendError);
    assert!(!w.aborted, "no upload was created, nothing to abort");
    assert!(w.put_starts.is_empty());
}

#[test]
fn an_init_reply_that_cannot_be_read_is_asked_once_more() {
    // The backend may have created the upload: init is asked again (the
    // driver sends the same client token), and the upload goes on.
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Init, 1, Answer::Garbled)]);
    assert_intact(&w, &res, 24 * MIB, 3);
    assert_eq!(w.counts[&On::Init], 2);
    assert_eq!(w.retries.len(), 1, "the second init is reported as a retry");
    // Twice: the reply's own error, at once, with nothing to abort.
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Init, 1, Answer::Garbled), (On::Init, 2, Answer::Garbled)]);
    let err = res.expect_err("fails");
    assert_eq!((err.code, err.status), (ErrorCode::BackendError, Some(200)));
    assert!(err.message.contains("not JSON"), "{err}");
    assert_eq!(w.counts[&On::Init], 2, "asked once more, not until the retries run out");
    assert!(!w.aborted && w.put_starts.is_empty());
    // A refusal with a status is not asked again.
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Init, 1, Answer::Reject("init answered 400"))]);
    assert!(res.is_err());
    assert_eq!(w.counts[&On::Init], 1);
}

#[test]
fn a_signing_reply_that_cannot_be_read_is_asked_again() {
    // A 200 that is not JSON: signing changes nothing, so it is retried like
    // a transient failure; only that part's signing.
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Sign(2), 1, Answer::Garbled)]);
    assert_intact(&w, &res, 24 * MIB, 3);
    assert_eq!(w.signs.iter().filter(|(p, _)| *p == 2).count(), 2);
    assert_eq!(w.retries.len(), 1);
    assert_eq!(w.retries[0].0, Some(2));
    // Every time: the retries run out, the reply's error is named, the upload is deleted.
    let script: Vec<_> = (1..=10).map(|n| (On::Sign(1), n, Answer::Garbled)).collect();
    let (w, res) = run(24 * MIB, cfg(3), &script);
    let err = res.expect_err("fails");
    assert_eq!(err.code, ErrorCode::BackendError);
    assert!(err.message.contains("not JSON"), "{err}");
    // The reply's own fix, not the network's: a reply came every time.
    assert!(err.message.contains("it must answer JSON like"), "{err}");
    assert!(!err.message.contains("CORS") && !err.message.contains("raise retryDelays"), "{err}");
    assert!(w.aborted);
    // A refusal (a hook's error without a status, a 4xx) is not retried.
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Sign(2), 1, Answer::Reject("part-url answered 400"))]);
    assert!(res.is_err());
    assert_eq!(w.signs.iter().filter(|(p, _)| *p == 2).count(), 1);
}

#[test]
fn a_refusal_in_a_2xx_is_a_refusal_not_an_unreadable_reply() {
    // A backend that answers 200 with `{"error": …}` (the HTTP backend's
    // error then names the reply's field `error`): not asked again.
    let refusal = || UploadError::new(ErrorCode::BackendError, "InvalidKey").with_status(200).with_field("error");
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Sign(2), 1, Answer::RejectWith(refusal()))]);
    assert_eq!(res.expect_err("fails").field.as_deref(), Some("error"));
    assert_eq!(w.signs.iter().filter(|(p, _)| *p == 2).count(), 1, "not signed again");
    assert!(w.aborted);
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Init, 1, Answer::RejectWith(refusal()))]);
    assert!(res.is_err());
    assert_eq!(w.counts[&On::Init], 1, "init not asked again");
    assert!(!w.aborted && w.put_starts.is_empty());
    // Complete: refused, the upload is deleted (no abort's answer awaited to
    // tell whether it was applied).
    let (w, res) = run(24 * MIB, cfg(3), &[(On::Complete, 1, Answer::RejectWith(refusal()))]);
    assert_eq!(res.expect_err("fails").status, Some(200));
    assert_eq!(w.counts[&On::Complete], 1);
    assert!(w.aborted);
    // An abort answered with a throttle in a 2xx (no refusal: asked again)
    // until it goes through: nothing left open.
    let throttle = || UploadError::new(ErrorCode::BackendError, "SlowDown").with_status(200);
    let script = [
        (On::Sign(2), 1, Answer::Reject("part-url answered 400")),
        (On::Abort, 1, Answer::RejectWith(throttle())),
        (On::Abort, 2, Answer::RejectWith(throttle())),
    ];
    let (w, res) = run(24 * MIB, cfg(3), &script);
    assert!(res.is_err());
    assert_eq!(w.counts[&On::Abort], 3);
    assert!(w.abort_ok, "the upload was deleted");
    // Refused in a 2xx: the upload ends with its own error, the abort not asked again.
    let script =
        [(On::Sign(2), 1, Answer::Reject("part-url answered 400")), (On::Abort, 1, Answer::RejectWith(refusal()))];
    let (w, res) = run(24 * MIB, cfg(3), &script);
    assert!(res.expect_err("fails").message.contains("part-url answered 400"));
    assert_eq!(w.counts[&On::Abort], 1);
    assert!(!w.abort_ok);
}

#[test]
fn backend_5xx_runs_out_as_backend_error() {
    let f = || Answer::Fail(Failure::Status { status: 503, body: String::new(), retry_after_ms: None });
    let script: Vec<_> = (1..=4).map(|n| (On::Complete, n, f())).collect();
    let (w, res) = run(24 * MIB, cfg(3), &script);
    let err = res.expect_err("fails");
    assert_eq!((err.code, err.status), (ErrorCode::BackendError, Some(503)));
    assert!(w.aborted);
}

/// When an upload fails or is aborted, the glue cancels the signing calls on
/// their way, which then fail as aborted requests: that is no reason to
/// retry, and the application hears of no retry (Firefox's end-to-end test
/// of a fatal 403 saw one, for a part-url call cancelled by the abort).
#[test]
fn signing_calls_cancelled_by_the_abort_are_no_retries() {
    for fatal in [true, false] {
        let mut up = Upload::new(64 * MIB, cfg(4), 3).expect("upload");
        let script = if fatal { vec![(On::Put(2), 1, s3_refusal("AccessDenied"))] } else { vec![] };
        let mut w = World::new(&script);
        // Slow signing: parts are being signed when the upload ends.
        w.sign_ms = 400;
        w.cancel_signs_on_abort = true;
        let mut aborted = false;
        let res = w.run(&mut up, |up, now| {
            if !fatal && now >= 450 && !aborted {
                aborted = true;
                up.abort();
            }
        });
        let err = res.expect_err("the upload fails");
        let want = if fatal { ErrorCode::S3Error } else { ErrorCode::Aborted };
        assert_eq!(err.code, want, "{err}");
        assert!(w.aborted, "the multipart upload is deleted");
        let cancelled_signs = w.signs.len() > w.put_starts.len();
        assert!(cancelled_signs, "signings were on their way when the upload ended: {:?} {:?}", w.signs, w.put_starts);
        assert_eq!(w.retries, vec![], "no retry is reported for a cancelled signing (fatal: {fatal})");
    }
}

/// The file's content sample is read when a multipart upload starts and
/// again before complete; a single PUT needs none (its one read is verified
/// by its checksum, or sent as it is).
#[test]
fn the_files_sample_is_read_at_the_start_and_before_complete() {
    let size = 40 * MIB + 3;
    let (w, res) = run(size, cfg(4), &[]);
    assert_intact(&w, &res, size, 6);
    let ranges = crate::resume::sample_ranges(size);
    assert_eq!(w.checks.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(), vec![ranges.clone(), ranges]);
    let last_put = w.put_starts.iter().map(|(_, t)| *t).max().expect("PUTs");
    // Once the last PUT has started: the read overlaps it, complete does not wait for it.
    assert_eq!(w.checks[1].0, last_put, "the second read goes with the last PUT: {:?}", w.checks);
    let (w, res) = run(3 * MIB, cfg(4), &[]);
    assert!(res.is_ok() && w.single && w.checks.is_empty(), "{:?}", w.checks);
}

/// A file rewritten on disk while it uploads (a browser that reads it as it
/// is now, as Firefox does, would let the object mix both versions): its
/// sample differs before complete, the upload fails with `FileReadError`,
/// nothing is stored and the multipart upload is deleted. With checksums or
/// without.
#[test]
fn a_file_changed_on_disk_during_the_upload_is_not_stored() {
    for checksum in [Some(crate::engine::checksum::Algorithm::Crc32), None] {
        let mut up = Upload::new(64 * MIB, Config { checksum, ..cfg(4) }, 3).expect("upload");
        let mut w = World::new(&[]);
        w.checksums = checksum.is_some();
        w.changed_at = Some(60);
        let res = w.run(&mut up, |_, _| {});
        let err = res.expect_err(&format!("not stored: checks {:?}", w.checks));
        assert_eq!(err.code, ErrorCode::FileReadError, "{err}");
        assert!(err.message.contains("changed on disk while it was being uploaded"), "{err}");
        assert!(w.completed_with.is_none() && w.aborted && w.abort_ok, "no object, the upload deleted");
        assert_eq!(w.checks.len(), 2);
    }
}

/// A PUT that gets no answer has the file's sample read again: a file
/// changed on disk (Firefox stalls a PUT of bytes past the end of a file
/// truncated since) ends the upload with `FileReadError` at once, not after
/// every retry; an unchanged one goes on. The same when the store gives up
/// first: S3 answers a body that stopped arriving 400 RequestTimeout.
#[test]
fn a_put_without_an_answer_has_the_file_checked_again() {
    let idle = Failure::Status {
        status: 400,
        body: "<Error><Code>RequestTimeout</Code><Message>Your socket connection to the server was not read from or written to within the timeout period.</Message></Error>".into(),
        retry_after_ms: None,
    };
    for (changed, failure) in [(true, Failure::Timeout), (false, Failure::Timeout), (true, idle.clone()), (false, idle)]
    {
        let mut up = Upload::new(64 * MIB, cfg(4), 3).expect("upload");
        let mut w = World::new(&[(On::Put(3), 1, Answer::Fail(failure))]);
        w.changed_at = changed.then_some(40);
        let res = w.run(&mut up, |_, _| {});
        if changed {
            let err = res.expect_err("not stored");
            assert_eq!(err.code, ErrorCode::FileReadError, "{err}");
            assert!(
                w.retries.is_empty() || w.retries.len() == 1,
                "no retry after the cause was known: {:?}",
                w.retries
            );
            assert!(w.completed_with.is_none() && w.aborted);
            let failed_at = w.checks[1].0;
            assert!(
                w.put_starts.iter().all(|(p, t)| *p != 3 || *t < failed_at),
                "part 3 not sent again: {:?}",
                w.put_starts
            );
        } else {
            assert_intact(&w, &res, 64 * MIB, 8);
            assert_eq!(w.checks.len(), 3, "at the start, after the failed PUT, at the end: {:?}", w.checks);
        }
    }
}

/// A part sent again after the last sample was read (its PUT refused after
/// every part was on its way) reads the file again: the sample is read again
/// once it is sent, so a file changed meanwhile is not stored (without
/// checksums nothing else would see it); an unchanged one is stored.
#[test]
fn a_part_sent_again_after_the_last_check_has_the_file_checked_again() {
    let s503 = Failure::Status { status: 503, body: String::new(), retry_after_ms: None };
    for checksum in [None, Some(crate::engine::checksum::Algorithm::Crc32)] {
        let config = Config { checksum, ..cfg(4) };
        let world = || {
            let mut w = World::new(&[(On::Put(8), 1, Answer::Fail(s503.clone()))]);
            w.checksums = checksum.is_some();
            w
        };
        // Unchanged: stored, the sample read a third time after part 8 is sent again.
        let mut up = Upload::new(64 * MIB, config.clone(), 3).expect("upload");
        let mut w = world();
        let res = w.run(&mut up, |_, _| {});
        assert_intact(&w, &res, 64 * MIB, 8);
        assert_eq!(w.checks.len(), 3, "at the start, with the last PUT, with part 8 sent again: {:?}", w.checks);
        let last_check = w.checks[1].0;
        let resent = w.put_starts.iter().filter(|(p, _)| *p == 8).map(|(_, t)| *t).max().expect("part 8");
        assert!(resent > last_check + 1, "part 8 sent again after the last check had answered: {:?}", w.checks);
        // Changed after that check answered, before part 8 is read again: not stored.
        let mut up = Upload::new(64 * MIB, config, 3).expect("upload");
        let mut w = world();
        w.changed_at = Some(last_check + 2);
        let err = w.run(&mut up, |_, _| {}).expect_err("not stored");
        assert_eq!(err.code, ErrorCode::FileReadError, "{err}");
        assert!(w.completed_with.is_none() && w.aborted, "no object, the upload deleted");
    }
}

/// A slow uplink whose send buffers take each part whole (progress at 100 %
/// at once, then nothing for longer than `partTimeout` while they drain) is
/// not taken for stalled PUTs: no PUT is cancelled, nothing sent twice.
#[test]
fn a_slow_link_with_deep_send_buffers_is_not_taken_for_stalls() {
    let size = 64 * MIB;
    let config = Config { part_timeout_ms: 60_000, ..cfg(4) };
    let mut up = Upload::new(size, config, 3).expect("upload");
    let mut w = World::new(&[]);
    w.buffered = true;
    w.ms_per_mib = 12_000; // 96 s a part of 8 MiB, each of 4 streams at ~85 kB/s
    let res = w.run(&mut up, |_, _| {});
    assert_intact(&w, &res, size, 8);
    assert_eq!((w.retries.len(), w.cancelled.len(), w.put_starts.len()), (0, 0, 8), "{:?}", w.retries);
}

/// Progress on a link whose send buffers take each part at once follows
/// what the link delivers once a PUT was answered: the last parts, handed
/// over at once, are not counted whole until they are answered, progress is
/// reported while they drain, and it never goes back.
#[test]
fn progress_follows_the_link_not_the_send_buffers() {
    let size = 64 * MIB;
    let mut up = Upload::new(size, Config { part_timeout_ms: 60_000, ..cfg(4) }, 3).expect("upload");
    let mut w = World::new(&[]);
    w.buffered = true;
    w.ms_per_mib = 1_000; // 8 s a part: 2 rounds of 4
    let mut seen = Vec::new();
    let res = w.run(&mut up, |up, now| seen.push((now, up.progress().bytes_sent)));
    assert_intact(&w, &res, size, 8);
    let last_round = w.put_starts.iter().map(|(_, t)| *t).max().expect("PUTs");
    let last_answer = last_round + 8_000;
    let before_end: Vec<u64> =
        seen.iter().filter(|(t, _)| *t > last_round && *t < last_answer).map(|(_, b)| *b).collect();
    assert!(before_end.len() >= 10, "progress reported while the last parts drain: {before_end:?}");
    assert!(before_end.iter().all(|b| *b < size), "not at 100 % before the last answer");
    // Half-way through the last round, about three quarters is counted (not all of it).
    let (_, mid) = seen.iter().rev().find(|(t, _)| *t <= last_round + 4_000).copied().expect("a report");
    assert!((size * 6 / 10..size * 9 / 10).contains(&mid), "{mid} of {size} half-way through the last round");
}

/// With the rate the `Uploader`'s earlier uploads measured, a multipart
/// upload's progress follows the link from its first parts on (before any
/// of its own is answered); a single PUT counts as the browser reports.
#[test]
fn progress_follows_the_link_from_the_first_parts_with_an_earlier_uploads_rate() {
    let size = 64 * MIB;
    let mid_first_round = |rate: Option<u64>| {
        let config = Config { part_timeout_ms: 60_000, ..cfg(4) }.for_file(size, 4, rate);
        let config = Config { part_size: 8 * MIB, part_size_max: 8 * MIB, ..config };
        let mut up = Upload::new(size, config, 3).expect("upload");
        let mut w = World::new(&[]);
        w.buffered = true;
        w.ms_per_mib = 1_000; // 8 s a part
        let mut seen = Vec::new();
        let res = w.run(&mut up, |up, now| seen.push((now, up.progress().bytes_sent)));
        assert_intact(&w, &res, size, 8);
        let first = w.put_starts.iter().map(|(_, t)| *t).min().expect("PUTs");
        seen.iter().rev().find(|(t, _)| *t <= first + 4_000).map(|(_, b)| *b).expect("a report")
    };
    // Without it: the four first parts count whole as soon as they are handed over.
    assert_eq!(mid_first_round(None), size / 2);
    // With it: half of each, a quarter of the file.
    let with = mid_first_round(Some(1_000));
    assert!((size / 5..size * 3 / 10).contains(&with), "{with} of {size} half-way through the first parts");
    // A single PUT: as the browser reports it.
    let config = Config { multipart_threshold: Some(8 * MIB), ..cfg(4) }.for_file(3 * MIB, 4, Some(1_000));
    let mut up = Upload::new(3 * MIB, config, 3).expect("upload");
    let mut w = World::new(&[]);
    w.buffered = true;
    w.ms_per_mib = 1_000;
    let mut seen = Vec::new();
    let res = w.run(&mut up, |up, now| seen.push((now, up.progress().bytes_sent)));
    assert!(res.is_ok() && w.single);
    assert!(seen.iter().any(|(t, b)| *t < 3_000 && *b == 3 * MIB), "handed over, counted before its answer: {seen:?}");
}

/// A PUT whose body was all handed over and that is never answered (its
/// connection gone) is still found: once the store has acknowledged other
/// parts, within `partTimeout` and twice the time the bytes handed over take
/// at the rate they were acknowledged; before any was, at 16 kB/s for its
/// bytes, nine part timeouts at most.
#[test]
fn a_put_never_answered_after_its_body_was_taken_is_retried() {
    for (buffered, ms_per_mib) in [(false, 10), (true, 10), (true, 2_000)] {
        let size = 64 * MIB;
        let mut up = Upload::new(size, cfg(4), 3).expect("upload");
        let mut w = World::new(&[(On::Put(6), 1, Answer::StallSent)]);
        w.buffered = buffered;
        w.ms_per_mib = ms_per_mib;
        let res = w.run(&mut up, |_, _| {});
        assert_intact(&w, &res, size, 8);
        assert_eq!(w.cancelled, vec![6], "the unanswered PUT is cancelled");
        let starts: Vec<u64> = w.put_starts.iter().filter(|(p, _)| *p == 6).map(|(_, t)| *t).collect();
        let waited = starts[1] - starts[0];
        // Answered PUTs waited up to a part's time after their bodies were taken (buffered).
        let most = 5_000 + if buffered { 2 * 8 * ms_per_mib } else { 0 } + 1_000;
        assert!(
            (5_000..=most).contains(&waited),
            "part 6 sent again after {waited} ms (buffered {buffered}, at most {most})"
        );
    }
    // Before any PUT was answered: its bytes at 16 kB/s (nine part timeouts at most) more.
    let script: Vec<_> = (1..=4).map(|p| (On::Put(p), 1, Answer::StallSent)).collect();
    let mut up = Upload::new(64 * MIB, Config { part_timeout_ms: 60_000, ..cfg(4) }, 3).expect("upload");
    let mut w = World::new(&script);
    let res = w.run(&mut up, |_, _| {});
    assert!(res.is_ok(), "{res:?}");
    let starts: Vec<u64> = w.put_starts.iter().filter(|(p, _)| *p == 1).map(|(_, t)| *t).collect();
    let due = 1 + 60_000 + 8 * MIB / 16;
    assert!(
        (due..due + 100).contains(&(starts[1] - starts[0])),
        "part 1 sent again {} ms after (due {due})",
        starts[1] - starts[0]
    );
}

/// A sample read that never answers holds complete for `CHECK_TIMEOUT_MS`
/// at most: the upload is stored without the check.
#[test]
fn a_sample_read_that_never_answers_holds_complete_for_its_timeout_only() {
    let mut up = Upload::new(24 * MIB, cfg(4), 3).expect("upload");
    let mut w = World::new(&[]);
    w.checks_hang = true;
    let res = w.run(&mut up, |_, _| {});
    assert_intact(&w, &res, 24 * MIB, 3);
    let last_put = w.put_starts.iter().map(|(_, t)| *t).max().expect("PUTs");
    let ended = w.now;
    assert!(
        ended >= crate::engine::upload::CHECK_TIMEOUT_MS
            && ended < last_put + crate::engine::upload::CHECK_TIMEOUT_MS + 1_000,
        "complete waited for the start's sample until its deadline, then went (ended at {ended} ms, last PUT at {last_put})"
    );
}

#[test]
fn abort_by_the_application() {
    let mut up = Upload::new(64 * MIB, cfg(4), 3).expect("upload");
    let mut w = World::new(&[]);
    let mut done = false;
    let res = w.run(&mut up, |up, now| {
        if now >= 50 && !done {
            done = true;
            up.abort();
        }
    });
    let err = res.expect_err("aborted");
    assert_eq!(err.code, ErrorCode::Aborted);
    assert!(w.aborted);
    assert!(w.in_flight.is_empty());
    assert!(w.completed_with.is_none());
}

/// Abort racing complete: the answer of the complete in flight decides, so
/// the outcome agrees with the store.
#[test]
fn abort_during_complete_ends_as_the_store_says() {
    // The complete stores the object: the upload ends Ok, nothing is deleted.
    let mut up = Upload::new(20 * MIB, cfg(4), 3).expect("upload");
    let mut w = World::new(&[]);
    w.abort_when_completing = true;
    let res = w.run(&mut up, |_, _| {});
    assert!(res.is_ok(), "{res:?}");
    assert_eq!(w.abort_calls, 0, "no abort of a stored object");
    // The complete is refused, or fails: the upload is aborted (deleted), not retried.
    for answer in [Answer::Reject("InvalidPart"), Answer::Fail(Failure::Network("reset".into()))] {
        let mut up = Upload::new(20 * MIB, cfg(4), 3).expect("upload");
        let mut w = World::new(&[(On::Complete, 1, answer.clone())]);
        w.abort_when_completing = true;
        let err = w.run(&mut up, |_, _| {}).expect_err("aborted");
        assert_eq!(err.code, ErrorCode::Aborted, "{answer:?}");
        assert!(w.abort_ok, "{answer:?}: the multipart upload is deleted");
        assert_eq!(w.counts.get(&On::Complete), Some(&1), "{answer:?}: complete is not sent again");
    }
}

/// An abort that fails (5xx, network) is retried with the policy's delays,
/// also after a fatal error, until the multipart upload is deleted.
#[test]
fn a_failed_abort_is_retried_until_the_upload_is_deleted() {
    let s503 = || Failure::Status { status: 503, body: String::new(), retry_after_ms: None };
    let forbidden =
        Failure::Status { status: 403, body: "<Error><Code>AccessDenied</Code></Error>".into(), retry_after_ms: None };
    let (w, res) = run(
        20 * MIB,
        cfg(2),
        &[
            (On::Put(2), 1, Answer::Fail(forbidden)),
            (On::Abort, 1, Answer::Fail(s503())),
            (On::Abort, 2, Answer::Fail(Failure::Network("reset".into()))),
        ],
    );
    let err = res.expect_err("fatal");
    assert_eq!(err.code, ErrorCode::S3Error, "the error it was aborted for: {err:?}");
    assert_eq!(w.abort_calls, 3);
    assert!(w.abort_ok);
    // The application's abort, too.
    let mut up = Upload::new(20 * MIB, cfg(2), 3).expect("upload");
    let mut w = World::new(&[(On::Abort, 1, Answer::Fail(s503()))]);
    let mut done = false;
    let err = w
        .run(&mut up, |up, now| {
            if now >= 20 && !done {
                done = true;
                up.abort();
            }
        })
        .expect_err("aborted");
    assert_eq!((err.code, w.abort_calls, w.abort_ok), (ErrorCode::Aborted, 2, true));
}

#[test]
fn abort_while_init_is_in_flight_deletes_the_new_upload() {
    let mut up = Upload::new(64 * MIB, cfg(4), 3).expect("upload");
    let poll = |up: &mut Upload, now| -> Vec<Action> {
        std::iter::from_fn(|| up.poll(now))
            .filter(|a| !matches!(a, Action::Progress(_) | Action::Check { .. }))
            .collect()
    };
    let first = poll(&mut up, 0);
    assert_eq!(first[0], Action::Init { parts: Vec::new() }, "the engine's init, nothing hashed yet");
    let hashes: Vec<u16> =
        first[1..].iter().map(|a| if let Action::Hash { part, .. } = a { *part } else { panic!("{a:?}") }).collect();
    assert_eq!(hashes, vec![1, 2, 3, 4], "the first parts are hashed while init is on its way");
    up.abort();
    assert_eq!(poll(&mut up, 1), vec![], "waits for init's upload id (and hashes nothing more)");
    up.handle(Event::Hashed { part: 1, crc: 7 }, 2);
    assert_eq!(poll(&mut up, 2), vec![], "a hash that ends after the abort starts nothing");
    up.handle(Event::Initiated { upload_id: "up-9".into(), signed: Vec::new() }, 5);
    assert_eq!(poll(&mut up, 5), vec![Action::Abort { upload_id: "up-9".into() }]);
    up.handle(Event::AbortDone, 6);
    let Some(Action::Finished(Err(e))) = poll(&mut up, 6).pop() else { panic!("finished") };
    assert_eq!(e.code, ErrorCode::Aborted);
}

#[test]
fn pause_and_resume() {
    let size = 64 * MIB;
    let mut up = Upload::new(size, cfg(4), 3).expect("upload");
    let mut w = World::new(&[]);
    let mut paused_at = None;
    let res = w.run(&mut up, |up, now| {
        if now >= 60 && paused_at.is_none() {
            paused_at = Some(now);
            up.pause();
        }
        if let Some(t) = paused_at
            && now >= t + 1_000
            && up.is_paused()
        {
            up.resume();
        }
    });
    assert_intact(&w, &res, size, 8);
    let t = paused_at.expect("paused");
    assert!(!w.cancelled.is_empty(), "running PUTs were stopped");
    assert!(
        !w.put_starts.iter().any(|(_, s)| *s > t && *s < t + 1_000),
        "no PUT started while paused: {:?}",
        w.put_starts
    );
}

#[test]
fn stale_events_are_ignored() {
    let mut up = Upload::new(16 * MIB, Config { checksum: None, ..cfg(2) }, 1).expect("upload");
    assert_eq!(up.poll(0), Some(Action::Init { parts: vec![(1, None), (2, None)] }));
    up.handle(Event::Initiated { upload_id: "u".into(), signed: Vec::new() }, 1);
    // events for parts that do not exist, or attempts that are not running
    up.handle(Event::PartDone { part: 0, attempt: 1, etag: Some("x".into()) }, 2);
    up.handle(Event::PartDone { part: 99, attempt: 1, etag: Some("x".into()) }, 2);
    up.handle(Event::PartProgress { part: 1, attempt: 42, loaded: 100 }, 2);
    up.handle(Event::Signed { part: 7, url: "u".into() }, 2);
    assert_eq!(up.progress().bytes_sent, 0);
    assert!(!up.is_finished());
}

#[test]
fn invalid_options_name_the_field() {
    for (c, field) in [
        (Config { concurrency: 0, ..cfg(1) }, "concurrency"),
        (Config { concurrency: 17, ..cfg(1) }, "concurrency"),
        (Config { adaptive: true, min_concurrency: 5, ..cfg(3) }, "concurrency"),
        (Config { adaptive: true, min_concurrency: 0, ..cfg(3) }, "concurrency"),
        (Config { part_size: MIB, ..cfg(1) }, "partSize"),
        (Config { part_size: 9 * MIB, part_size_max: 6 * MIB, ..cfg(1) }, "partSize"),
        (Config { part_size: 5 * MIB, part_size_max: 6 * 1024 * MIB, ..cfg(1) }, "partSize"),
    ] {
        let e = Upload::new(10, c, 0).expect_err("invalid");
        assert_eq!((e.code, e.field.as_deref()), (ErrorCode::InvalidOptions, Some(field)));
    }
    let e = Upload::new(6 * 1024 * 1024 * MIB, cfg(1), 0).expect_err("too large");
    assert_eq!(e.code, ErrorCode::FileTooLarge);
}

#[test]
fn each_file_gets_its_part_size_and_keeps_it() {
    const GIB: u64 = 1024 * MIB;
    let auto = Config { part_size: 5 * MIB, part_size_max: 10 * MIB, part_round_max: 16 * MIB, ..cfg(4) };
    for (size, streams, ms, part) in [
        (20 * MIB, 4, None, 5 * MIB),
        (64 * MIB, 6, None, 11 * MIB),
        // 25 rounds of 4 parts of 10.25 MiB (the last part 3 MiB less)
        (GIB, 4, None, 10 * MIB + 256 * 1024),
        (GIB, 4, Some(2_500), 6 * MIB),
    ] {
        let c = auto.for_file(size, streams, ms);
        assert_eq!((c.part_size, c.part_size_max), (part, part), "{size} bytes");
        let up = Upload::new(size, c, 1).expect("plan");
        assert_eq!(up.plan().part_size, part);
    }
    // a fixed size stays what it is
    let fixed = cfg(4).for_file(20 * MIB, 4, Some(100_000));
    assert_eq!((fixed.part_size, fixed.part_size_max), (8 * MIB, 8 * MIB));
    // a resumed upload takes the stored size, whatever the bounds
    let up = Upload::from_stored(GIB, auto, 1, "u".into(), (64 * MIB, None), &[]).expect("resumed");
    assert_eq!(up.plan().part_size, 64 * MIB);
}

#[test]
fn files_begun_together_on_a_measured_far_link_are_cut_for_it() {
    let auto = Config {
        part_size: 5 * MIB,
        part_size_max: 10 * MIB,
        part_round_max: 16 * MIB,
        part_grow_max: 64 * MIB,
        ..cfg(6)
    };
    // Six files of 64 MiB after a 150 ms link was measured at 70 ms a MiB
    // (each file's share of the six PUTs at a time is one): one part of
    // 64 MiB each, the batch in one round.
    let c = auto.for_batch_file(64 * MIB, 1, Some(70), 6 * 64 * MIB, Some(150), 6);
    assert_eq!((c.part_size, c.part_size_max, c.part_round_max), (64 * MIB, 64 * MIB, 64 * MIB));
    let up = Upload::new(64 * MIB, c, 1).expect("plan");
    assert_eq!(up.plan().count, 1);
    // A file smaller than the batch's part: one part, its own size.
    let c = auto.for_batch_file(24 * MIB, 1, Some(70), 18 * 24 * MIB, Some(150), 6);
    assert_eq!(c.part_size, 24 * MIB);
    // Nothing measured, a near link, a size the application fixed, the
    // bound it gave: as for a file alone, or within the bound.
    let alone = auto.for_file(64 * MIB, 1, None);
    assert_eq!(auto.for_batch_file(64 * MIB, 1, None, 6 * 64 * MIB, Some(150), 6), alone);
    assert_eq!(auto.for_batch_file(64 * MIB, 1, Some(70), 6 * 64 * MIB, None, 6).part_size, alone.part_size);
    let near = auto.for_batch_file(64 * MIB, 1, Some(6), 6 * 64 * MIB, Some(2), 6);
    assert_eq!(near, auto.for_file(64 * MIB, 1, Some(6)));
    let fixed = cfg(6).for_batch_file(64 * MIB, 1, Some(70), 6 * 64 * MIB, Some(150), 6);
    assert_eq!(fixed.part_size, cfg(6).part_size);
    let bounded =
        Config { part_grow_max: 16 * MIB, ..auto }.for_batch_file(64 * MIB, 1, Some(70), 6 * 64 * MIB, Some(150), 6);
    assert_eq!(bounded.part_size, 16 * MIB);
}

#[test]
fn uploads_share_one_concurrency_budget() {
    let mut ups = [Upload::new(64 * MIB, cfg(4), 1).expect("a"), Upload::new(64 * MIB, cfg(4), 2).expect("b")];
    let mut free = 3;
    let drain = |up: &mut Upload, free: &mut usize| -> Vec<Action> {
        std::iter::from_fn(|| up.poll_shared(0, free))
            .filter(|a| !matches!(a, Action::Progress(_) | Action::Started { .. } | Action::Check { .. }))
            .collect()
    };
    for (i, up) in ups.iter_mut().enumerate() {
        // Init (nothing hashed yet: it carries no part), and the first parts
        // hashed meanwhile. The first upload's init is taken to have been
        // held back (as during the journal's look-up) and signs them when it
        // goes; the second's answers without them (a backend without it),
        // and they are signed by calls of their own. No PUT starts before.
        let first = drain(up, &mut free);
        assert_eq!(first[0], Action::Init { parts: Vec::new() });
        for a in &first[1..] {
            let Action::Hash { part, .. } = *a else { panic!("{a:?}") };
            up.handle(Event::Hashed { part, crc: 1 }, 0);
        }
        assert_eq!(drain(up, &mut free), vec![], "no more than `concurrency` parts hashed ahead of init");
        let signed: Vec<(u16, String)> = if i == 0 {
            let mut parts = Vec::new();
            up.sign_with_init(&mut parts);
            let sum = Some(checksum::to_base64(1));
            assert_eq!(parts, (1..=4).map(|n| (n, sum.clone())).collect::<Vec<_>>(), "the hashed parts go with init");
            parts.iter().map(|(n, _)| (*n, format!("https://s/{i}/{n}"))).collect()
        } else {
            Vec::new()
        };
        up.handle(Event::Initiated { upload_id: format!("u{i}"), signed }, 0);
        if i == 1 {
            for a in drain(up, &mut free) {
                let Action::Sign { part, checksum: Some(_), .. } = a else { panic!("{a:?}") };
                up.handle(Event::Signed { part, url: format!("https://s/{i}/{part}") }, 0);
            }
        }
    }
    let puts: Vec<Vec<Action>> = ups.iter_mut().map(|up| drain(up, &mut free)).collect();
    let count = |v: &Vec<Action>| v.iter().filter(|a| matches!(a, Action::Put { .. })).count();
    assert_eq!((count(&puts[0]), count(&puts[1]), free), (3, 0, 0), "the first upload took the whole budget");
    // One PUT of the first upload ends: its slot goes back, and the second upload may take it.
    let Some(Action::Put { part, attempt, .. }) = puts[0].first().cloned() else { panic!("put") };
    ups[0].handle(Event::PartDone { part, attempt, etag: Some("\"e\"".into()) }, 1);
    free += 1;
    let second = drain(&mut ups[1], &mut free);
    assert_eq!((count(&second), free), (1, 0));
}

#[test]
fn offline_spells_wait_without_spending_retries() {
    let size = 64 * MIB;
    let mut config = cfg(4);
    config.part_timeout_ms = 1_000;
    let mut up = Upload::new(size, config, 5).expect("upload");
    let mut w = World::new(&[]);
    w.ms_per_mib = 50; // 400 ms a part
    w.offline = Some((300, 5_300));
    let res = w.run(&mut up, |_, _| {});
    assert_intact(&w, &res, size, 8);
    assert!(w.retries.is_empty(), "going offline spent no retries: {:?}", w.retries);
    assert!(w.offline_told, "the offline spell happened mid-upload");
    assert!(
        !w.put_starts.iter().any(|(_, t)| (301..5_300).contains(t)),
        "nothing started while offline: {:?}",
        w.put_starts
    );
    assert!(w.put_starts.iter().any(|(_, t)| *t >= 5_300), "went on once online");
}

/// A far link: 150 ms round trip (init, part URLs and each PUT's), a
/// 10 MiB part's bytes 450 ms: its PUT 600 ms, a quarter of it idle.
fn far_link(w: &mut World) {
    (w.ms_per_mib, w.put_rtt_ms, w.sign_ms, w.init_ms) = (45, 150, 150, 150);
}

/// `left` bytes go in parts of `grown`, at least `want` (under twice
/// that), in whole rounds of `streams` (one round of a share each when
/// there is less).
fn assert_whole_rounds(left: u64, grown: u64, want: u64, streams: u64) {
    let n = left.div_ceil(grown);
    assert!(grown >= want.min(left / streams) && grown < 2 * want, "{grown} for {left} left, at least {want}");
    assert_eq!(n % streams, 0, "{n} parts of {grown} for {left} left: not whole rounds of {streams}");
}

/// The stored parts hold the file's bytes, in order, each once; every part
/// but the last at least 5 MiB: the part numbers and their sizes.
fn assert_parts_cover(w: &World, size: u64) -> Vec<(u16, u64)> {
    let mut end = 0;
    let completed = w.completed_with.as_ref().expect("complete was called");
    for (i, (n, _)) in completed.iter().enumerate() {
        assert_eq!(usize::from(*n), i + 1, "complete gets parts 1..n in order");
        let (s, e) = w.stored_bytes[n];
        assert_eq!(s, end, "part {n} starts where part {} ended", n - 1);
        assert!(e - s >= 5 * MIB || e == size, "part {n}: {} bytes", e - s);
        end = e;
    }
    assert_eq!(end, size, "the parts end at the file's end");
    completed.iter().map(|(n, _)| (*n, w.stored_bytes[n].1 - w.stored_bytes[n].0)).collect()
}

#[test]
fn parts_grow_once_on_a_far_link_and_the_object_is_whole() {
    let size = 1024 * MIB + 123;
    let config = Config { part_size: 10 * MIB, part_size_max: 10 * MIB, part_grow_max: 64 * MIB, ..cfg(6) };
    let mut up = Upload::new(size, config, 7).expect("upload");
    let mut w = World::new(&[]);
    far_link(&mut w);
    let res = w.run(&mut up, |_, _| {});
    let out = res.expect("stored");
    assert_eq!(out.size, size);
    assert_eq!(w.progress.last().copied(), Some(size), "progress ends at the file size");
    // 15 × 150 ms at 450 ms a 10 MiB: 50 MiB at least, and what is left
    // in whole rounds of 6.
    let (from, grown) = w.grown.expect("the parts grew");
    assert!((7..=13).contains(&from), "the first round (and the parts hashed and signed ahead) kept: from {from}");
    let left = size - u64::from(from - 1) * 10 * MIB;
    assert!(left > 6 * 50 * MIB, "more than a round of parts of 50 MiB was left");
    assert_whole_rounds(left, grown, 50 * MIB, 6);
    let parts = assert_parts_cover(&w, size);
    for &(n, len) in &parts[..parts.len() - 1] {
        assert_eq!(len, if n < from { 10 * MIB } else { grown }, "part {n}");
    }
    assert_eq!(parts.len(), usize::from(from - 1) + left.div_ceil(grown) as usize);
    assert_eq!(up.plan().count as usize, parts.len());
    // Every part went up once.
    let mut sent: Vec<u16> = w.put_starts.iter().map(|(p, _)| *p).collect();
    sent.sort_unstable();
    assert_eq!(sent, (1..=parts.len() as u16).collect::<Vec<_>>());
    assert!(w.retries.is_empty(), "{:?}", w.retries);
    // The parts signed ahead when the parts grew went as signed: each
    // part was signed once.
    let mut signed: Vec<u16> = w.signs.iter().map(|(p, _)| *p).collect();
    signed.sort_unstable();
    assert_eq!(signed, (1..=parts.len() as u16).collect::<Vec<_>>(), "each part signed once");
    // The whole object's CRC is that of the parts as cut.
    let want = checksum::combine(parts.iter().map(|&(n, len)| (crc_of(n), len)));
    assert_eq!(out.checksum, Some(checksum::to_base64(want)));
}

#[test]
fn parts_grow_once_the_windows_have_opened_when_the_first_puts_start_slow() {
    // The first round of six PUTs on new connections each 3 s slower (a
    // window opening from 16 KiB to 4 MiB takes eight round trips, 1.2 s;
    // here slower still, as over a lossy start): they show no round trip's
    // share; the PUTs after them do.
    let size = 256 * MIB;
    let config = Config { part_size: 10 * MIB, part_size_max: 10 * MIB, part_grow_max: 64 * MIB, ..cfg(6) };
    let mut up = Upload::new(size, config, 7).expect("upload");
    let mut w = World::new(&[]);
    far_link(&mut w);
    w.slow_start = (6, 3_000);
    w.run(&mut up, |_, _| {}).expect("stored");
    let (from, grown) = w.grown.expect("the parts grew after the slow first round");
    assert!(from > 7, "decided after the first round: from {from}");
    // As on a far link without a slow start: what is left in whole rounds
    // of parts of 50 MiB or more (one round of a share each: it is less).
    assert_whole_rounds(size - u64::from(from - 1) * 10 * MIB, grown, 50 * MIB, 6);
    let parts = assert_parts_cover(&w, size);
    for &(n, len) in &parts[..parts.len() - 1] {
        assert_eq!(len, if n < from { 10 * MIB } else { grown }, "part {n}");
    }
}

#[test]
fn parts_do_not_grow_on_a_near_link_nor_when_their_size_is_given() {
    let size = 256 * MIB;
    let auto = Config { part_size: 10 * MIB, part_size_max: 10 * MIB, part_grow_max: 64 * MIB, ..cfg(6) };
    // Near: 1 ms round trips, 10 MiB in 100 ms.
    let mut up = Upload::new(size, auto.clone(), 7).expect("upload");
    let mut w = World::new(&[]);
    (w.ms_per_mib, w.put_rtt_ms, w.sign_ms, w.init_ms) = (10, 1, 1, 1);
    w.run(&mut up, |_, _| {}).expect("stored");
    assert_eq!((w.grown, assert_parts_cover(&w, size).len()), (None, 26));
    // Far, the part size given (`partSize: 10 MiB`: the grown bound is it).
    let fixed = Config { part_grow_max: 10 * MIB, ..auto };
    let mut up = Upload::new(size, fixed, 7).expect("upload");
    let mut w = World::new(&[]);
    far_link(&mut w);
    w.run(&mut up, |_, _| {}).expect("stored");
    assert_eq!((w.grown, assert_parts_cover(&w, size).len()), (None, 26));
}

#[test]
fn a_grown_upload_resumes_with_its_parts_as_cut() {
    // 100 MiB: parts 1..=3 of 10 MiB, then parts of 24 MiB (4: 30..54 MiB,
    // 5: 54..78, 6: 78..100).
    let size = 100 * MIB;
    let etag = |n: u16| format!("\"etag-{n}\"");
    let stored = vec![(1, etag(1), 10 * MIB, None), (4, etag(4), 24 * MIB, None), (5, etag(5), 10 * MIB, None)];
    let config = Config { part_grow_max: 64 * MIB, ..cfg(3) };
    let mut up = Upload::from_stored(size, config.clone(), 9, "up-1".into(), (10 * MIB, Some((4, 24 * MIB))), &stored)
        .expect("resume");
    assert_eq!((up.plan().count, up.parts_done()), (6, 2), "part 5 has the size of the plan before growth: sent again");
    let mut w = World::new(&[]);
    far_link(&mut w);
    w.counts.insert(On::Init, 1);
    w.store = stored.iter().map(|(n, e, len, _)| (*n, (e.clone(), *len))).collect();
    w.stored_bytes = [(1, (0, 10 * MIB)), (4, (30 * MIB, 54 * MIB))].into();
    w.run(&mut up, |_, _| {}).expect("stored");
    let sent: Vec<u16> = w.put_starts.iter().map(|(p, _)| *p).collect();
    assert_eq!(sent, vec![2, 3, 5, 6], "only the missing parts, as cut before");
    assert_eq!(w.grown, None, "a resumed upload's parts grow no more");
    assert_parts_cover(&w, size);
    // A growth that cannot cut the file: not resumed (the coordinator starts anew).
    for grown in [(1, 24 * MIB), (11, 24 * MIB), (4, MIB), (0, 24 * MIB)] {
        assert!(
            Upload::from_stored(size, config.clone(), 9, "up-1".into(), (10 * MIB, Some(grown)), &[]).is_err(),
            "{grown:?}"
        );
    }
}

#[test]
fn resumes_from_stored_parts_and_sends_only_the_missing_ones() {
    let size = 40 * MIB; // 5 parts of 8 MiB
    let etag = |n: u16| format!("\"etag-{n}\"");
    let stored = vec![
        (1, etag(1), 8 * MIB, None),
        (2, etag(2), 8 * MIB, None),
        (4, etag(4), 8 * MIB, None),
        (5, etag(5), 3, None),
    ];
    let mut up = Upload::from_stored(size, cfg(3), 9, "up-1".into(), (8 * MIB, None), &stored).expect("resume");
    assert_eq!(up.parts_done(), 3, "part 5 has the wrong size: sent again");
    assert_eq!(up.progress().bytes_sent, 24 * MIB, "progress starts at what is stored");
    let mut w = World::new(&[]);
    w.counts.insert(On::Init, 1); // the upload exists: part URLs name it
    w.store = stored.iter().map(|(n, e, len, _)| (*n, (e.clone(), *len))).collect();
    let res = w.run(&mut up, |_, _| {});
    assert_intact(&w, &res, size, 5);
    let sent: Vec<u16> = w.put_starts.iter().map(|(p, _)| *p).collect();
    assert_eq!(sent, vec![3, 5], "only the missing parts go up");
    assert!(!w.started, "no new multipart upload");
    assert_eq!(res.expect("ok").upload_id.as_deref(), Some("up-1"));
}

/// A resumed upload, parts 1, 2 and 4 stored before the reload (5 parts of
/// 8 MiB; the stored part 5 has the wrong size): (the store's, the parts
/// sent, the outcome), with `checksum` on or off, the store holding
/// `store_crc` for some of the stored parts (their bytes are not the file's
/// now), and its listing giving each part's CRC32 (`listed_crc`) or not.
fn resumed(
    checksums: bool,
    store_crc: &[(u16, u32)],
    listed_crc: bool,
    script: &[(On, u32, Answer)],
) -> (World, Vec<u16>, Result<Outcome, UploadError>) {
    let size = 40 * MIB;
    let held = |n: u16, len: u64| {
        let crc = store_crc.iter().find(|(m, _)| *m == n).map_or(crc_of(n), |(_, c)| *c);
        (n, format!("\"etag-{n}\""), len, listed_crc.then_some(crc))
    };
    let stored = vec![held(1, 8 * MIB), held(2, 8 * MIB), held(4, 8 * MIB), held(5, 3)];
    let config = Config { checksum: if checksums { cfg(3).checksum } else { None }, ..cfg(3) };
    let mut up = Upload::from_stored(size, config, 9, "up-1".into(), (8 * MIB, None), &stored).expect("resume");
    let mut w = World::new(script);
    w.checksums = checksums;
    w.counts.insert(On::Init, 1); // the upload exists: part URLs name it
    w.store = stored.iter().map(|(n, e, len, _)| (*n, (e.clone(), *len))).collect();
    w.store_crc = store_crc.iter().copied().collect();
    let res = w.run(&mut up, |_, _| {});
    let sent = w.put_starts.iter().map(|(p, _)| *p).collect();
    (w, sent, res)
}

/// With checksums on, a resumed upload hashes the parts stored before the
/// reload too (read, not sent; after the parts to send, one at a time), so
/// that complete carries the whole object's CRC32 and the store verifies
/// every byte of the object, those parts' included.
#[test]
fn a_resumed_upload_hashes_its_stored_parts_so_complete_verifies_the_whole_object() {
    let (w, sent, res) = resumed(true, &[], false, &[]);
    assert_intact(&w, &res, 40 * MIB, 5);
    assert_eq!(sent, vec![3, 5], "only the missing parts go up");
    assert_eq!(w.hashed, vec![3, 5, 1, 2, 4], "the parts to send are hashed first, the stored ones after, once each");
    assert!(w.whole_checksum.is_some(), "complete carries the whole object's CRC");
    assert_eq!(res.expect("ok").checksum, w.whole_checksum);

    // Off: nothing is hashed, no checksum is sent.
    let (w, sent, res) = resumed(false, &[], false, &[]);
    assert_eq!((sent, w.hashed.len(), w.whole_checksum.clone()), (vec![3, 5], 0, None));
    assert_eq!(res.expect("ok").checksum, None);
}

/// The file changed since the parts were stored, where the resume
/// fingerprint's samples did not look (same name, size and date): the
/// store's whole-object CRC differs, complete is refused (`BadDigest`), the
/// parts stored before the reload are sent again (each verified on
/// arrival) and complete goes through with the file as it is now. Before,
/// complete went without a whole-object CRC and a mix of both files was
/// stored as the object.
#[test]
fn a_resumed_upload_whose_stored_parts_are_not_the_file_sends_them_again() {
    let (w, sent, res) = resumed(true, &[(2, 0xDEAD_BEEF)], false, &[]);
    assert_eq!(sent, vec![3, 5, 1, 2, 4], "the missing parts, then the ones stored before the reload");
    assert_eq!(w.counts.get(&On::Complete), Some(&2), "complete refused once, then accepted");
    assert_intact(&w, &res, 40 * MIB, 5);
    assert!(w.store_crc.is_empty(), "the store holds the file's bytes now");

    // A second refusal stands: IntegrityError, the upload deleted, nothing stored.
    let refused = || UploadError::new(ErrorCode::IntegrityError, "BadDigest").with_status(400);
    let (w, _, res) = resumed(true, &[(2, 0xDEAD_BEEF)], false, &[(On::Complete, 2, Answer::RejectWith(refused()))]);
    assert_eq!(res.expect_err("refused twice").code, ErrorCode::IntegrityError);
    assert!(w.aborted && w.completed_with.is_none());
}

/// The same, with a listing that names each stored part's CRC32 (S3's
/// `ChecksumCRC32`): the changed part is found when it is hashed, and only
/// it is sent again, before complete, which goes through at once.
#[test]
fn a_listing_with_checksums_finds_the_changed_stored_part_and_sends_only_it() {
    let (w, sent, res) = resumed(true, &[(2, 0xDEAD_BEEF)], true, &[]);
    assert_eq!(sent, vec![3, 5, 2], "the missing parts, then the stored part that is not the file's");
    assert_eq!(w.counts.get(&On::Complete), Some(&1), "complete accepted at once");
    assert_intact(&w, &res, 40 * MIB, 5);
    assert!(w.store_crc.is_empty(), "the store holds the file's bytes now");

    // Nothing changed: nothing sent again.
    let (w, sent, res) = resumed(true, &[], true, &[]);
    assert_eq!(sent, vec![3, 5]);
    assert_intact(&w, &res, 40 * MIB, 5);
}

/// The file cannot be read when a stored part is hashed: `FileReadError`,
/// and the multipart upload is deleted (it cannot be finished).
#[test]
fn a_stored_part_that_cannot_be_read_is_file_read_error() {
    let size = 40 * MIB;
    let stored: Vec<_> =
        (1..=5).map(|n| (n, format!("\"etag-{n}\""), (8 * MIB).min(size - u64::from(n - 1) * 8 * MIB), None)).collect();
    let mut up = Upload::from_stored(size, cfg(3), 9, "up-1".into(), (8 * MIB, None), &stored).expect("resume");
    let mut w = World::new(&[]);
    w.counts.insert(On::Init, 1);
    w.store = stored.iter().map(|(n, e, len, _)| (*n, (e.clone(), *len))).collect();
    w.hash_fails = true;
    let err = w.run(&mut up, |_, _| {}).expect_err("unreadable");
    assert_eq!(err.code, ErrorCode::FileReadError);
    assert_eq!(w.hashed, vec![1], "one stored part hashed at a time");
    assert!(w.put_starts.is_empty() && w.completed_with.is_none() && w.aborted);
}

#[test]
fn resume_needs_the_same_part_size() {
    let e =
        Upload::from_stored(100 * 1024 * MIB, cfg(3), 1, "u".into(), (5 * MIB, None), &[]).expect_err("too many parts");
    assert_eq!(e.code, ErrorCode::InvalidOptions);
}

/// Hundreds of uploads through a world that fails at random — part-url and
/// init/complete calls answering 503, PUTs answering 500, cut mid-body or
/// stalling — with random sizes, concurrency, speeds, pauses and the odd abort.
/// Every run must end: intact, or with an error and the multipart upload
/// deleted. [`World::run`] is the watchdog: it panics when the engine waits
/// with no event pending and no wakeup set, when a wakeup it asks for is
/// already due (the glue would spin), or when the upload never finishes.
#[test]
fn random_failures_never_leave_an_upload_stuck_or_open() {
    let s503 = || Failure::Status { status: 503, body: String::new(), retry_after_ms: None };
    let mut outcomes = [0usize; 2];
    let mut changed_runs = 0;
    for seed in 0..2_000u64 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let parts = rng.u16(1..=12);
        let size = u64::from(parts - 1) * 8 * MIB + rng.u64(0..=8 * MIB);
        let mut script = Vec::new();
        for n in 1..=4 {
            for on in [On::Init, On::Complete, On::Abort] {
                if rng.f64() < 0.2 {
                    script.push((on, n, Answer::Fail(s503())));
                }
            }
        }
        for p in 1..=parts {
            for n in 1..=8 {
                if rng.f64() < 0.2 {
                    script.push((On::Sign(p), n, Answer::Fail(s503())));
                }
                let roll = rng.f64();
                let put = if roll < 0.08 {
                    Some(Answer::Fail(Failure::Status { status: 500, body: String::new(), retry_after_ms: None }))
                } else if roll < 0.14 {
                    Some(Answer::FailAt(rng.u64(1..100), Failure::Network("reset".into())))
                } else if roll < 0.16 {
                    Some(Answer::Stall)
                } else if roll < 0.17 {
                    Some(Answer::StallSent)
                } else {
                    None
                };
                if let Some(a) = put {
                    script.push((On::Put(p), n, a));
                }
            }
        }
        let mut config = cfg(rng.usize(1..=6));
        config.retry = RetryPolicy { delays_ms: vec![0, 100, 300, 1_000, 2_000], max_total_retries: 60 };
        // One run in four takes up an upload stored before a reload: some
        // parts already held, one of them at times with bytes that are not
        // the file's (changed since), which complete's whole-object CRC finds.
        let resumed = seed % 4 == 1;
        let mut held = Vec::new();
        let mut store_crc = HashMap::new();
        let mut up = if resumed {
            let count = (size.div_ceil(8 * MIB)).max(1) as u16;
            for n in 1..=count {
                if rng.bool() {
                    held.push((n, format!("\"etag-{n}\""), (size - u64::from(n - 1) * 8 * MIB).min(8 * MIB), None));
                }
            }
            if let Some((n, ..)) = held.first().filter(|_| rng.bool()) {
                store_crc.insert(*n, 0xBAD);
                changed_runs += 1;
            }
            // Half the time the listing names each part's CRC32, as S3's does.
            if rng.bool() {
                for (n, .., crc) in &mut held {
                    *crc = Some(store_crc.get(n).copied().unwrap_or(crc_of(*n)));
                }
            }
            Upload::from_stored(size, config, seed, "up-1".into(), (8 * MIB, None), &held).expect("resumed upload")
        } else {
            Upload::new(size, config, seed).expect("upload")
        };
        let count = up.plan().count;
        // Shown when the run fails: which dice to replay.
        eprintln!("seed {seed}: {count} parts, {size} bytes, {} held before", held.len());
        let mut w = World::new(&script);
        // As the glue does: the abort cancels the signings on their way.
        w.cancel_signs_on_abort = true;
        w.sign_ms = rng.u64(1..=300);
        if resumed {
            w.counts.insert(On::Init, 1);
            w.store = held.iter().map(|(n, e, len, _)| (*n, (e.clone(), *len))).collect();
            w.store_crc = store_crc;
        }
        w.ms_per_mib = rng.u64(1..=40);
        // One run in four, the browser's send buffers take whole parts at once.
        w.buffered = rng.f64() < 0.25;
        if rng.f64() < 0.2 {
            let from = rng.u64(0..500);
            w.offline = Some((from, from + rng.u64(1..3_000)));
        }
        let (pause_at, pause_for) = (rng.u64(0..400), rng.u64(1..2_000));
        let abort_at = (rng.f64() < 0.1).then(|| rng.u64(0..600));
        let mut paused = false;
        let res = w.run(&mut up, |up, now| {
            if now >= pause_at && !paused {
                paused = true;
                up.pause();
            }
            if paused && now >= pause_at + pause_for && up.is_paused() {
                up.resume();
            }
            if abort_at.is_some_and(|t| now >= t) {
                up.abort();
            }
        });
        match &res {
            Ok(_) => {
                assert_intact(&w, &res, size, count);
                assert!(w.store_crc.is_empty(), "seed {seed}: a part that is not the file's was kept in the object");
                outcomes[0] += 1;
            }
            Err(e) => {
                assert!(
                    w.abort_ok || !(w.started || resumed),
                    "seed {seed}: failed ({e}) and left the multipart upload open"
                );
                assert!(w.in_flight.is_empty(), "seed {seed}: PUTs still running after the end: {:?}", w.in_flight);
                assert!(
                    w.part_retries_after_abort.is_empty(),
                    "seed {seed}: parts {:?} retried after the abort was sent",
                    w.part_retries_after_abort
                );
                outcomes[1] += 1;
            }
        }
    }
    // Both endings happened: the dice reached the error paths as well as the happy one.
    assert!(outcomes[0] > 1_000 && outcomes[1] > 50, "succeeded / failed: {outcomes:?}");
    assert!(changed_runs > 100, "{changed_runs} resumed runs held a changed part");
}

/// One part's body is corrupted on the way: the store refuses it
/// (`BadDigest`); only that part is sent again, with the same checksum (it is
/// hashed once), and the upload ends intact.
#[test]
fn a_corrupted_part_is_refused_and_only_it_is_sent_again() {
    let bad_digest = || {
        Failure::Status {
        status: 400,
        body: "<Error><Code>BadDigest</Code><Message>The CRC32 you specified did not match the calculated checksum.</Message></Error>".into(),
        retry_after_ms: None,
    }
    };
    let size = 30 * MIB;
    let (w, res) = run(size, cfg(4), &[(On::Put(2), 1, Answer::Fail(bad_digest()))]);
    assert_intact(&w, &res, size, 4);
    let puts_of = |p: u16| w.put_starts.iter().filter(|(n, _)| *n == p).count();
    assert_eq!((puts_of(1), puts_of(2), puts_of(3), puts_of(4)), (1, 2, 1, 1));
    assert_eq!(w.hashed, vec![1, 2, 3, 4], "every part hashed once");
    assert!(w.whole_checksum.is_some(), "the whole object's CRC is sent at complete");

    // The whole object's checksum refused at complete (the request altered
    // on its way): asked again once, then the object is stored.
    let refused = || {
        let e =
            UploadError::new(ErrorCode::IntegrityError, "the store refused the whole object's checksum (BadDigest)");
        Answer::RejectWith(e.with_status(400))
    };
    let (w, res) = run(size, cfg(4), &[(On::Complete, 1, refused())]);
    assert_intact(&w, &res, size, 4);
    assert_eq!(w.counts.get(&On::Complete), Some(&2));
    // Refused again: IntegrityError, nothing stored, the upload deleted.
    let (w, res) = run(size, cfg(4), &[(On::Complete, 1, refused()), (On::Complete, 2, refused())]);
    assert_eq!(res.expect_err("refused twice").code, ErrorCode::IntegrityError);
    assert!(w.abort_ok && w.completed_with.is_none());

    // When every try is refused, the upload fails as IntegrityError and its
    // multipart upload is deleted.
    let script: Vec<_> = (1..=10).map(|n| (On::Put(2), n, Answer::Fail(bad_digest()))).collect();
    let (w, res) = run(size, cfg(4), &script);
    let e = res.expect_err("fails");
    assert_eq!(e.code, ErrorCode::IntegrityError, "{e}");
    assert!(e.message.contains("checksum"), "{e}");
    assert!(w.abort_ok && w.completed_with.is_none());
}

/// With `checksum: 'none'` nothing is hashed and no checksum is sent.
#[test]
fn no_checksum_when_switched_off() {
    let size = 20 * MIB;
    let (w, res) = run(size, Config { checksum: None, ..cfg(3) }, &[]);
    assert_intact(&w, &res, size, 3);
    assert!(w.hashed.is_empty());
    assert_eq!(res.expect("ok").checksum, None);
}

/// A part whose bytes cannot be read ends the upload with FileReadError, and
/// its multipart upload is deleted.
#[test]
fn an_unreadable_file_is_file_read_error() {
    let mut up = Upload::new(20 * MIB, cfg(2), 1).expect("upload");
    let mut w = World::new(&[]);
    w.hash_fails = true;
    let e = w.run(&mut up, |_, _| {}).expect_err("fails");
    assert_eq!((e.code, e.part_number), (ErrorCode::FileReadError, Some(1)), "{e}");
    assert!(e.message.contains("choose it again"), "{e}");
    assert!(w.abort_ok, "the multipart upload is deleted");
    assert!(w.put_starts.is_empty());
}

/// A later part that cannot be read (the file changed on disk midway): the
/// same, once parts are stored.
#[test]
fn a_part_unreadable_after_init_deletes_the_upload() {
    let mut up = Upload::new(40 * MIB, cfg(2), 1).expect("upload");
    let mut w = World::new(&[]);
    w.unreadable = Some(4);
    let e = w.run(&mut up, |_, _| {}).expect_err("fails");
    assert_eq!((e.code, e.part_number), (ErrorCode::FileReadError, Some(4)), "{e}");
    assert!(w.abort_ok, "the multipart upload is deleted");
}

/// A part's ETag altered on its way back (the PUT's response header): the
/// store refuses complete (`InvalidPart`); the client lists the stored parts,
/// takes the store's ETag for that part (stored with its size, its checksum
/// verified on arrival) and completes again. Nothing is sent twice.
#[test]
fn an_etag_altered_on_the_way_is_taken_from_the_store() {
    let size = 40 * MIB;
    let (w, res) = run(size, cfg(3), &[(On::Put(2), 1, Answer::AlteredEtag)]);
    assert_intact(&w, &res, size, 5);
    assert_eq!((w.counts.get(&On::Complete), w.listed), (Some(&2), 1), "refused once, listed once, completed");
    assert_eq!(w.put_starts.len(), 5, "no part sent twice");
    assert!(w.retries.is_empty());
    // 1,000 parts, a listing in another order, each part listed twice.
    let size = 1_000 * 8 * MIB;
    let mut up = Upload::new(size, cfg(4), 7).expect("upload");
    let mut w = World::new(&[(On::Put(777), 1, Answer::AlteredEtag)]);
    w.listing_scrambled = true;
    let res = w.run(&mut up, |_, _| {});
    assert_intact(&w, &res, size, 1_000);
    assert_eq!((w.listed, w.put_starts.len()), (1, 1_000), "listed once, nothing sent twice");
}

/// A PUT answered 200 whose part the store does not hold: listed missing,
/// it is sent again (progress holds meanwhile), then complete goes through.
#[test]
fn a_part_the_store_does_not_hold_is_sent_again() {
    let size = 40 * MIB;
    let (w, res) = run(size, cfg(3), &[(On::Put(3), 1, Answer::NotStored)]);
    assert_intact(&w, &res, size, 5);
    let sent: Vec<u16> = w.put_starts.iter().map(|(p, _)| *p).filter(|p| *p == 3).collect();
    assert_eq!(sent, vec![3, 3], "part 3 went up twice");
    assert_eq!(w.listed, 1);
    // The same without checksums: the part is signed again without one.
    let (w, res) = run(size, Config { checksum: None, ..cfg(3) }, &[(On::Put(3), 1, Answer::NotStored)]);
    assert_intact(&w, &res, size, 5);
    assert_eq!(w.put_starts.len(), 6);
}

/// The repair is tried once: a refusal it cannot explain (every ETag agrees
/// with the store) or a second refusal stands, and the upload is deleted.
#[test]
fn a_refusal_the_listing_does_not_explain_is_asked_again_once() {
    // The store holds every part as the client sent it: the refusal came
    // from a request altered on its way. Complete is asked again, once.
    let (w, res) = run(20 * MIB, cfg(3), &[(On::Complete, 1, Answer::Reject("InvalidPart: no such part"))]);
    assert_intact(&w, &res, 20 * MIB, 3);
    assert_eq!((w.counts.get(&On::Complete), w.listed), (Some(&2), 1));
    assert_eq!(w.put_starts.len(), 3, "nothing sent again");
    // Refused again: the refusal stands, the upload is deleted.
    let (w, res) = run(
        20 * MIB,
        cfg(3),
        &[
            (On::Complete, 1, Answer::Reject("InvalidPart: no such part")),
            (On::Complete, 2, Answer::Reject("InvalidPart: still")),
        ],
    );
    let e = res.expect_err("refused");
    assert_eq!(e.code, ErrorCode::BackendError);
    assert!(e.message.contains("InvalidPart: still") && e.cause.is_none(), "{e:?}");
    assert_eq!((w.counts.get(&On::Complete), w.listed), (Some(&2), 1));
    assert!(w.abort_ok, "the multipart upload is deleted");
    let (w, res) = run(
        20 * MIB,
        cfg(3),
        &[(On::Put(1), 1, Answer::AlteredEtag), (On::Complete, 2, Answer::Reject("InvalidPart: again"))],
    );
    assert!(res.expect_err("refused twice").message.contains("again"));
    assert_eq!((w.counts.get(&On::Complete), w.listed), (Some(&2), 1), "one repair only");
    assert!(w.abort_ok);
    // Other refusals are not repaired.
    let (w, res) = run(20 * MIB, cfg(3), &[(On::Complete, 1, Answer::Reject("InvalidPartOrder: out of order"))]);
    assert!(res.is_err());
    assert_eq!(w.listed, 0);
}

/// The list-parts call of a repair is retried like any backend call; when it
/// is refused (a backend without list-parts), the complete's refusal is the
/// error, and says that the repair failed too.
#[test]
fn the_listing_of_a_repair_is_retried_and_its_refusal_reported() {
    let s503 = Failure::Status { status: 503, body: String::new(), retry_after_ms: None };
    let (w, res) = run(20 * MIB, cfg(3), &[(On::Put(2), 1, Answer::AlteredEtag), (On::List, 1, Answer::Fail(s503))]);
    assert_intact(&w, &res, 20 * MIB, 3);
    assert_eq!((w.counts.get(&On::List), w.listed), (Some(&2), 1));
    // A listing answered 200 but garbled is asked again too.
    let (w, res) = run(20 * MIB, cfg(3), &[(On::Put(2), 1, Answer::AlteredEtag), (On::List, 1, Answer::Garbled)]);
    assert_intact(&w, &res, 20 * MIB, 3);
    assert_eq!((w.counts.get(&On::List), w.listed), (Some(&2), 1));
    let (w, res) = run(
        20 * MIB,
        cfg(3),
        &[(On::Put(2), 1, Answer::AlteredEtag), (On::List, 1, Answer::Reject("the listParts hook is missing"))],
    );
    let e = res.expect_err("no repair");
    assert!(e.message.contains("InvalidPart"), "{e}");
    assert!(e.cause.as_deref().is_some_and(|c| c.contains("listParts hook is missing")), "{e:?}");
    assert!(w.abort_ok, "the multipart upload is deleted");
}
