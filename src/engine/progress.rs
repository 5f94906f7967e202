//! Byte-level progress that never goes backwards.
//!
//! The true count is the bytes of finished parts plus the bytes each running
//! PUT has sent so far. When an attempt fails, its bytes are taken back out of
//! the true count (they will be sent again), but the reported count holds at
//! its high-water mark until the true count passes it again: progress never
//! moves backwards, and no byte is counted twice. Speed is an exponentially
//! weighted moving average of the true count over time; the ETA follows from it.
//!
//! What a running PUT "has sent" is what the browser says its upload
//! progress is: the bytes handed to the system, whose send buffers may hold
//! megabytes per connection on a slow uplink (a part is at 100 % long before
//! the store has it). Once a part's PUT has been answered (or the
//! `Uploader`'s earlier uploads measured it), the time a PUT takes is known:
//! a running PUT then counts at most what that rate delivers in the time it
//! has run, so that progress follows the link rather than the
//! buffers, and is reported every [`TICK_MS`] while it does (no events come
//! while the buffers drain).

#[allow(unused_imports)]
use crate::prelude::*;

use crate::engine::adapt::ms_per_mib_after;

/// Weight of the newest speed sample.
const SPEED_ALPHA: f64 = 0.3;
/// Samples closer together than this are merged, so bursts of XHR events do not skew the speed.
const MIN_SAMPLE_MS: u64 = 250;
/// How often progress is reported while it follows the clock.
pub const TICK_MS: u64 = 500;

/// A snapshot of an upload's progress, as reported to the application.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Bytes sent (never decreases).
    pub bytes_sent: u64,
    /// File size.
    pub bytes_total: u64,
    /// Parts finished.
    pub parts_done: u16,
    /// Parts in all.
    pub parts_total: u16,
    /// Bytes per second, moving average (0 until measured).
    pub speed: f64,
    /// Seconds left at the current speed (`None` until measured).
    pub eta_seconds: Option<f64>,
}

impl Progress {
    /// `bytes_sent / bytes_total` in `0.0..=1.0` (1.0 for an empty file once done).
    pub fn fraction(&self) -> f64 {
        if self.bytes_total == 0 {
            if self.parts_done >= self.parts_total { 1.0 } else { 0.0 }
        } else {
            self.bytes_sent as f64 / self.bytes_total as f64
        }
    }
}

/// Tracks the bytes of every part.
#[derive(Debug, Clone)]
pub struct ProgressTracker {
    total: u64,
    parts_total: u16,
    done_bytes: u64,
    parts_done: u16,
    /// (part, bytes sent, when it started) of the running attempts: a few
    /// (one per stream), so a `Vec` (a `BTreeMap` was 3 KB of the WASM module).
    in_flight: Vec<(u16, u64, u64)>,
    /// Milliseconds a MiB of one PUT took lately (from its start to its
    /// answer: [`ms_per_mib_after`]; a small last part, mostly its round
    /// trip, would make the rate look far slower and hold progress back).
    /// `None` until a part is answered, unless the `Uploader`'s earlier
    /// uploads measured it.
    put_ms_per_mib: Option<u64>,
    /// The latest time an event or a tick told.
    now: u64,
    reported: u64,
    speed: f64,
    last_sample: Option<(u64, u64)>,
}

impl ProgressTracker {
    /// A tracker for `total` bytes in `parts_total` parts, on a link where a
    /// MiB of a PUT took `ms_per_mib` lately, if known.
    pub fn new(total: u64, parts_total: u16, ms_per_mib: Option<u64>) -> Self {
        Self {
            total,
            parts_total,
            done_bytes: 0,
            parts_done: 0,
            in_flight: Vec::new(),
            put_ms_per_mib: ms_per_mib,
            now: 0,
            reported: 0,
            speed: 0.0,
            last_sample: None,
        }
    }

    /// The upload's parts were cut anew into `parts_total` ([`crate::engine::plan::Plan::grown`]).
    pub fn set_parts_total(&mut self, parts_total: u16) {
        self.parts_total = parts_total;
    }

    /// Counts running PUTs at `other`'s rate while this one has measured none.
    pub fn adopt_rate(&mut self, other: &Self) {
        self.put_ms_per_mib = self.put_ms_per_mib.or(other.put_ms_per_mib);
    }

    /// The true count: bytes that have reached S3 or are on their way in a running attempt.
    pub fn actual(&self) -> u64 {
        (self.done_bytes + self.in_flight.iter().map(|&(_, n, t)| self.delivered(n, t)).sum::<u64>()).min(self.total)
    }

    /// What a PUT that has handed over `loaded` bytes since `started` has
    /// delivered: at most what the rate of answered PUTs gives in that time.
    fn delivered(&self, loaded: u64, started: u64) -> u64 {
        match self.put_ms_per_mib {
            Some(ms) => loaded.min(self.now.saturating_sub(started).saturating_mul(1 << 20) / ms.max(1)),
            None => loaded,
        }
    }

    /// When to report again with no event: while a running PUT counts less
    /// than it handed over (its count grows with the clock).
    pub fn next_tick(&self) -> Option<u64> {
        self.in_flight.iter().any(|&(_, n, t)| self.delivered(n, t) < n).then_some(self.now + TICK_MS)
    }

    /// The clock moved on with no event.
    pub fn tick(&mut self, now_ms: u64) {
        self.now = self.now.max(now_ms);
        self.sample(now_ms);
    }

    /// A running attempt of `part` has sent `loaded` bytes.
    pub fn on_loaded(&mut self, part: u16, loaded: u64, now_ms: u64) {
        self.now = self.now.max(now_ms);
        match self.in_flight.iter_mut().find(|(p, ..)| *p == part) {
            Some((_, n, _)) => *n = loaded,
            None => self.in_flight.push((part, loaded, now_ms)),
        }
        self.sample(now_ms);
    }

    /// `part` is finished with `len` bytes (counted once, whatever its attempts sent).
    pub fn on_done(&mut self, part: u16, len: u64, now_ms: u64) {
        self.now = self.now.max(now_ms);
        if let Some(&(.., started)) = self.in_flight.iter().find(|(p, ..)| *p == part) {
            self.put_ms_per_mib = ms_per_mib_after(self.put_ms_per_mib, len, now_ms.saturating_sub(started));
        }
        self.in_flight.retain(|&(p, ..)| p != part);
        self.done_bytes += len;
        self.parts_done += 1;
        self.sample(now_ms);
    }

    /// The running attempt of `part` failed or was cancelled: its bytes come back out.
    pub fn on_attempt_lost(&mut self, part: u16) {
        self.in_flight.retain(|&(p, ..)| p != part);
        // The speed sample base must not count the lost bytes as negative speed.
        if let Some((t, _)) = self.last_sample {
            self.last_sample = Some((t, self.actual()));
        }
    }

    /// Parts already in S3 when a resumed upload starts.
    pub fn on_already_done(&mut self, len: u64) {
        self.done_bytes += len;
        self.parts_done += 1;
        self.reported = self.reported.max(self.actual());
    }

    /// A part counted as done must be sent again (the store lost it): its
    /// bytes come back out of the count (the reported progress holds until
    /// they are sent again).
    pub fn on_undone(&mut self, len: u64) {
        self.done_bytes -= len;
        self.parts_done -= 1;
    }

    /// Forgets the speed (after a pause, a stall or going offline).
    pub fn reset_speed(&mut self) {
        self.speed = 0.0;
        self.last_sample = None;
    }

    fn sample(&mut self, now_ms: u64) {
        let actual = self.actual();
        match self.last_sample {
            None => self.last_sample = Some((now_ms, actual)),
            Some((t0, b0)) if now_ms >= t0 + MIN_SAMPLE_MS => {
                let rate = actual.saturating_sub(b0) as f64 * 1000.0 / (now_ms - t0) as f64;
                self.speed =
                    if self.speed == 0.0 { rate } else { SPEED_ALPHA * rate + (1.0 - SPEED_ALPHA) * self.speed };
                self.last_sample = Some((now_ms, actual));
            }
            Some(_) => {}
        }
    }

    /// The snapshot to report now.
    pub fn snapshot(&mut self) -> Progress {
        self.reported = self.reported.max(self.actual());
        let remaining = self.total - self.reported;
        Progress {
            bytes_sent: self.reported,
            bytes_total: self.total,
            parts_done: self.parts_done,
            parts_total: self.parts_total,
            speed: self.speed,
            eta_seconds: (self.speed > 0.0).then(|| remaining as f64 / self.speed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_bytes_are_taken_out_but_progress_never_goes_back() {
        let mut p = ProgressTracker::new(300, 3, None);
        p.on_loaded(1, 60, 0);
        p.on_loaded(2, 50, 10);
        assert_eq!(p.snapshot().bytes_sent, 110);
        p.on_attempt_lost(2);
        assert_eq!(p.actual(), 60);
        assert_eq!(p.snapshot().bytes_sent, 110, "holds at the high-water mark");
        p.on_loaded(2, 30, 20);
        assert_eq!(p.snapshot().bytes_sent, 110);
        p.on_loaded(2, 80, 30);
        assert_eq!(p.snapshot().bytes_sent, 140);
        p.on_done(1, 100, 40);
        p.on_done(2, 100, 50);
        p.on_loaded(3, 100, 60);
        p.on_done(3, 100, 70);
        let s = p.snapshot();
        assert_eq!((s.bytes_sent, s.parts_done), (300, 3), "ends exactly at the total, nothing counted twice");
        assert!((s.fraction() - 1.0).abs() < f64::EPSILON);
    }

    /// A PUT whose bytes the browser's send buffers took at once counts, once
    /// a PUT was answered, what that PUT's rate delivers in the time it has
    /// run: progress follows the link, and ticks while it does.
    #[test]
    fn a_put_that_ran_ahead_of_the_link_counts_what_the_link_delivered() {
        const M: u64 = 8 << 20;
        let mut p = ProgressTracker::new(3 * M + 1, 4, None);
        // Before any answer: what the browser says.
        p.on_loaded(1, 0, 0);
        p.on_loaded(1, M, 1);
        assert_eq!((p.snapshot().bytes_sent, p.next_tick()), (M, None));
        p.on_done(1, M, 1_000); // 125 ms a MiB
        p.on_loaded(2, 0, 1_000);
        p.on_loaded(2, M, 1_001);
        assert_eq!(
            p.snapshot().bytes_sent,
            M + M / 1_000,
            "part 2's bytes were handed over, a millisecond's delivered"
        );
        assert_eq!(p.next_tick(), Some(1_001 + TICK_MS));
        p.tick(1_500);
        assert_eq!(p.snapshot().bytes_sent, M + M / 2);
        p.tick(2_500);
        assert_eq!((p.snapshot().bytes_sent, p.next_tick()), (2 * M, None), "at most what was handed over");
        // A small last part answered at once says nothing of the rate.
        p.on_loaded(4, 0, 2_500);
        p.on_loaded(4, 1, 2_501);
        p.on_done(4, 1, 2_550);
        // An attempt lost: its bytes come out, the report holds.
        p.on_loaded(3, 0, 2_500);
        p.on_loaded(3, M, 2_501);
        p.tick(3_000);
        assert_eq!(p.snapshot().bytes_sent, 2 * M + 1 + M / 2, "the rate is the parts' one");
        p.on_attempt_lost(3);
        assert_eq!((p.actual(), p.snapshot().bytes_sent), (2 * M + 1, 2 * M + 1 + M / 2));
        p.on_loaded(3, 0, 4_000);
        p.on_loaded(3, M, 4_001);
        p.on_done(3, M, 5_000);
        assert_eq!(p.snapshot().bytes_sent, 3 * M + 1);
    }

    #[test]
    fn a_sequence_of_events_is_monotonic() {
        // (part, loaded or lost (-1) or done (-2)) as plain data
        let events: &[(u16, i64)] = &[
            (1, 10),
            (2, 20),
            (1, 40),
            (2, -1),
            (3, 5),
            (1, -2),
            (2, 10),
            (3, -1),
            (2, 100),
            (2, -2),
            (3, 100),
            (3, -2),
        ];
        let mut p = ProgressTracker::new(300, 3, None);
        let mut last = 0;
        for (i, &(part, ev)) in events.iter().enumerate() {
            let now = i as u64 * 100;
            match ev {
                -1 => p.on_attempt_lost(part),
                -2 => p.on_done(part, 100, now),
                n => p.on_loaded(part, n as u64, now),
            }
            let s = p.snapshot();
            assert!(s.bytes_sent >= last, "event {i}: {} < {last}", s.bytes_sent);
            last = s.bytes_sent;
        }
        assert_eq!(last, 300);
    }

    #[test]
    fn speed_and_eta() {
        let mut p = ProgressTracker::new(10_000, 1, None);
        p.on_loaded(1, 0, 0);
        p.on_loaded(1, 1000, 1000);
        let s = p.snapshot();
        assert!((s.speed - 1000.0).abs() < 1e-9, "{}", s.speed);
        assert!((s.eta_seconds.expect("eta") - 9.0).abs() < 1e-9);
        p.on_loaded(1, 3000, 2000);
        let s = p.snapshot();
        assert!((s.speed - (0.3 * 2000.0 + 0.7 * 1000.0)).abs() < 1e-9, "moving average: {}", s.speed);
        // events closer than MIN_SAMPLE_MS do not make a sample
        p.on_loaded(1, 9000, 2010);
        assert!((p.snapshot().speed - 1300.0).abs() < 1e-9);
        p.reset_speed();
        assert_eq!(p.snapshot().eta_seconds, None);
    }

    #[test]
    fn empty_file_progress() {
        let mut p = ProgressTracker::new(0, 1, None);
        assert_eq!(p.snapshot().fraction(), 0.0);
        p.on_done(1, 0, 0);
        assert_eq!(p.snapshot().fraction(), 1.0);
    }
}
