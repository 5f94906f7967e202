//! Adaptive concurrency: how many part PUTs to keep in flight, from what the
//! link delivers (issue 17).
//!
//! In the spirit of TCP's congestion control, on whole PUTs instead of
//! packets: the window starts at [`ADAPT_START`] PUTs (its maximum), and after each
//! *epoch* (at least [`EPOCH_MS`] and one completed PUT per slot) compares
//! the throughput it measured with the one before:
//!
//! - **probe up**: one more PUT in flight; kept if the next epoch delivers at
//!   least [`GAIN_PERCENT`] % more (a link with a per-connection window, a far
//!   region, gains; a saturated link or a busy CPU does not), and probing
//!   goes on up to the maximum;
//! - **step back**: a probe that gained nothing is undone, and the next probe
//!   waits a hold time that doubles after each fruitless probe (from
//!   [`HOLD_MS`] to [`HOLD_MAX_MS`]), so a flat link sees a handful of changes
//!   per ten minutes, not a flapping window;
//! - **cut on trouble**: a throttle (429, 503), a stalled PUT or a network
//!   failure halves the window at once (not below the minimum), at most once
//!   per [`CUT_SPACING_MS`] (one bad moment fails several PUTs together), and
//!   holds it there;
//! - **step back on rising latency**: once a window has settled, the time its
//!   parts' PUTs take per byte is its reference; an epoch whose parts take
//!   [`LATENCY_RISE_PERCENT`] % more than that (each stream got slower: a
//!   queue building, another flow sharing the link, a store slowing down) takes
//!   one PUT off the window and holds, as a delay-based TCP backs off before
//!   packets are lost. Only PUTs of at least [`LATENCY_MIN_BYTES`] count
//!   (small files' PUTs are mostly round trip, not bytes), and per byte, so
//!   the last parts of an upload, fewer at a time, do not look slow.
//!
//! The window never leaves its bounds: by default [`ADAPT_MIN`] and the
//! browser's per-host connection limit ([`ADAPT_MAX`]); the application's
//! `concurrency: { min, max }` when given; a number for `concurrency` makes
//! the window that fixed number.
//! Pure: time is passed in, so it is tested with scripted time and throughput.

#[allow(unused_imports)]
use crate::prelude::*;

/// The fewest PUTs an adaptive window keeps in flight.
pub const ADAPT_MIN: usize = 2;
/// Where an adaptive window starts: at the most it may keep (the browser's
/// connections per host, or the application's `max`). Starting lower cost
/// the far region the seconds of probing up, two epochs at 4 and 5 streams
/// (50 files of 6 MiB: 0.92x the 6-stream loop), and a window started at
/// the top steps back as any other does, on trouble or rising latency.
pub const ADAPT_START: usize = ADAPT_MAX;
/// Where the tests of probing start a window (below its maximum).
#[cfg(test)]
const PROBE_FROM: usize = 4;
/// The most an adaptive window keeps in flight: the connections a browser
/// opens to one host over HTTP/1.1 (Chromium's and Firefox's limit is 6).
pub const ADAPT_MAX: usize = 6;
/// The shortest measuring epoch.
pub const EPOCH_MS: u64 = 1_500;
/// The gain a probe must bring to be kept, in percent.
pub const GAIN_PERCENT: u64 = 10;
/// The first hold after a fruitless probe or a cut.
pub const HOLD_MS: u64 = 20_000;
/// The longest hold.
pub const HOLD_MAX_MS: u64 = 160_000;
/// Cuts closer together than this count as one.
pub const CUT_SPACING_MS: u64 = 2_000;
/// How much slower per byte than the settled window's reference an epoch's
/// part PUTs must be for the window to step back, in percent.
pub const LATENCY_RISE_PERCENT: u64 = 60;
/// The smallest PUT whose time counts for the latency signal: a part.
pub const LATENCY_MIN_BYTES: u64 = 5 * 1024 * 1024;

/// Milliseconds a MiB of a part's PUT took lately: `was`, with a PUT of
/// `bytes` that took `took_ms` weighing a quarter (a few parts follow a
/// change of the link). Only PUTs of at least [`LATENCY_MIN_BYTES`] count:
/// a small one is mostly its round trip. Shared by the window (the part
/// size of the next upload) and the progress (what a running PUT has
/// delivered).
pub fn ms_per_mib_after(was: Option<u64>, bytes: u64, took_ms: u64) -> Option<u64> {
    if bytes < LATENCY_MIN_BYTES {
        return was;
    }
    let now = took_ms.saturating_mul(1024 * 1024) / bytes;
    Some(was.map_or(now, |was| (was * 3 + now) / 4))
}

/// The concurrency window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    min: usize,
    max: usize,
    limit: usize,
    epoch_start: Option<u64>,
    epoch_bytes: u64,
    epoch_parts: usize,
    /// The epoch's part PUTs (of at least [`LATENCY_MIN_BYTES`]): their
    /// bytes, the milliseconds they took in all, and how many.
    epoch_lat: (u64, u64, usize),
    /// Milliseconds per MiB the settled window's part PUTs took: the
    /// reference for the latency signal (none until an epoch after a change).
    reference_ms_per_mib: Option<u64>,
    /// Milliseconds a MiB of a part's PUT took lately (a moving average of
    /// the PUTs of at least [`LATENCY_MIN_BYTES`]), fixed window or not: what
    /// the part size of the next upload is chosen from.
    part_ms_per_mib: Option<u64>,
    /// The throughput (bytes/s) before the probe now measured.
    probing_from: Option<u64>,
    hold_until: u64,
    hold_ms: u64,
    last_cut: Option<u64>,
    changes: u32,
}

impl Window {
    /// A window fixed at `n` (the application chose the concurrency).
    pub fn fixed(n: usize) -> Self {
        Self::adaptive(n, n, n)
    }

    /// A window that adapts between `min` and `max`, from `start`.
    pub fn adaptive(min: usize, start: usize, max: usize) -> Self {
        let min = min.max(1);
        let max = max.max(min);
        Self {
            min,
            max,
            limit: start.clamp(min, max),
            epoch_start: None,
            epoch_bytes: 0,
            epoch_parts: 0,
            epoch_lat: (0, 0, 0),
            reference_ms_per_mib: None,
            part_ms_per_mib: None,
            probing_from: None,
            hold_until: 0,
            hold_ms: HOLD_MS,
            last_cut: None,
            changes: 0,
        }
    }

    /// PUTs that may be in flight now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Milliseconds a MiB of a part's PUT took lately (`None` before the
    /// first part of at least [`LATENCY_MIN_BYTES`]).
    pub fn part_ms_per_mib(&self) -> Option<u64> {
        self.part_ms_per_mib
    }

    /// How often the window has changed (for tests and diagnostics).
    pub fn changes(&self) -> u32 {
        self.changes
    }

    /// A PUT started at `now_ms`: the first one opens the first epoch.
    pub fn on_start(&mut self, now_ms: u64) {
        if self.epoch_start.is_none() {
            self.epoch_start = Some(now_ms);
        }
    }

    fn set(&mut self, limit: usize) {
        if limit != self.limit {
            self.limit = limit;
            self.changes += 1;
            // A new window: its own latency is measured afresh.
            self.reference_ms_per_mib = None;
        }
    }

    fn new_epoch(&mut self, now_ms: u64) {
        self.epoch_start = Some(now_ms);
        self.epoch_bytes = 0;
        self.epoch_parts = 0;
        self.epoch_lat = (0, 0, 0);
    }

    /// Milliseconds per MiB of the epoch's part PUTs, when there were enough
    /// of them (one per slot) to say.
    fn epoch_ms_per_mib(&self) -> Option<u64> {
        let (bytes, ms, n) = self.epoch_lat;
        (n >= self.limit && bytes > 0).then(|| ms.saturating_mul(1024 * 1024) / bytes)
    }

    fn hold(&mut self, now_ms: u64) {
        self.hold_until = now_ms + self.hold_ms;
        self.hold_ms = (self.hold_ms * 2).min(HOLD_MAX_MS);
    }

    /// A PUT of `bytes` that took `took_ms` succeeded at `now_ms`. True when
    /// the window grew.
    pub fn on_done(&mut self, bytes: u64, took_ms: u64, now_ms: u64) -> bool {
        self.part_ms_per_mib = ms_per_mib_after(self.part_ms_per_mib, bytes, took_ms);
        if self.min == self.max {
            return false;
        }
        let start = *self.epoch_start.get_or_insert(now_ms);
        self.epoch_bytes += bytes;
        self.epoch_parts += 1;
        if bytes >= LATENCY_MIN_BYTES {
            let (b, ms, n) = self.epoch_lat;
            self.epoch_lat = (b + bytes, ms + took_ms, n + 1);
        }
        let elapsed = now_ms.saturating_sub(start);
        if elapsed < EPOCH_MS || self.epoch_parts < self.limit {
            return false;
        }
        let throughput = self.epoch_bytes.saturating_mul(1000) / elapsed.max(1);
        let latency = self.epoch_ms_per_mib();
        self.new_epoch(now_ms);
        let before = self.limit;
        if self.probing_from.is_none() {
            match (self.reference_ms_per_mib, latency) {
                (Some(reference), Some(now))
                    if now.saturating_mul(100) > reference.saturating_mul(100 + LATENCY_RISE_PERCENT) =>
                {
                    // Each stream got slower at the same window: one PUT fewer.
                    if self.limit > self.min {
                        self.set(self.limit - 1);
                        self.hold(now_ms);
                    } else {
                        self.reference_ms_per_mib = Some(now);
                    }
                    return false;
                }
                (None, Some(now)) => self.reference_ms_per_mib = Some(now),
                _ => {}
            }
        }
        match self.probing_from.take() {
            Some(base) if throughput.saturating_mul(100) >= base.saturating_mul(100 + GAIN_PERCENT) => {
                // The probe paid: keep it and go on.
                self.hold_ms = HOLD_MS;
                self.probe(throughput);
            }
            Some(_) => {
                // Nothing gained: undo it, and wait longer before the next probe.
                self.set(self.limit - 1);
                self.hold(now_ms);
            }
            None if now_ms >= self.hold_until => self.probe(throughput),
            None => {}
        }
        self.limit > before
    }

    fn probe(&mut self, throughput: u64) {
        if self.limit < self.max {
            self.probing_from = Some(throughput);
            self.set(self.limit + 1);
        }
    }

    /// A PUT was throttled (429, 503), stalled or failed on the network at
    /// `now_ms`: the window halves (once per [`CUT_SPACING_MS`]).
    pub fn on_trouble(&mut self, now_ms: u64) {
        if self.min == self.max || self.last_cut.is_some_and(|t| now_ms < t + CUT_SPACING_MS) {
            return;
        }
        self.last_cut = Some(now_ms);
        self.probing_from = None;
        self.set(self.limit.div_ceil(2).max(self.min));
        self.hold(now_ms);
        self.new_epoch(now_ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link that delivers `rate(streams)` bytes/s in all, shared evenly,
    /// with parts of `part` bytes; runs the window for `secs` seconds of
    /// scripted time and returns it with the limits it took, second by second.
    fn run(window: &mut Window, part: u64, secs: u64, rate: impl Fn(usize, u64) -> u64) -> Vec<usize> {
        let mut seen = Vec::new();
        let mut progress: Vec<(u64, u64)> = Vec::new(); // (bytes sent, started at) of each running PUT
        let tick = 10; // ms
        let mut now = 0u64;
        window.on_start(0);
        while now < secs * 1000 {
            while progress.len() < window.limit() {
                progress.push((0, now));
            }
            let total = rate(progress.len(), now);
            let each = total * tick / 1000 / progress.len().max(1) as u64;
            let mut done = Vec::new();
            for p in progress.iter_mut() {
                p.0 += each;
                if p.0 >= part {
                    done.push(p.1);
                }
            }
            progress.retain(|p| p.0 < part);
            now += tick;
            for started in done {
                window.on_done(part, now - started, now);
            }
            // Slots above a shrunken window stay until their PUTs end.
            if now.is_multiple_of(1000) {
                seen.push(window.limit());
            }
            assert!(window.limit() >= window.min && window.limit() <= window.max, "out of bounds");
        }
        seen
    }

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn a_link_with_a_per_connection_window_is_probed_up_to_the_maximum() {
        // Each stream carries 4 MiB/s (a far region's window per connection), up to 100 MiB/s.
        let mut w = Window::adaptive(ADAPT_MIN, PROBE_FROM, ADAPT_MAX);
        let seen = run(&mut w, 8 * MIB, 120, |n, _| (n as u64 * 4 * MIB).min(100 * MIB));
        assert_eq!(w.limit(), ADAPT_MAX, "{seen:?}");
        let first_at_max = seen.iter().position(|&l| l == ADAPT_MAX).expect("reached");
        assert!(first_at_max < 30, "converged within 30 s: {seen:?}");
        assert!(seen[first_at_max..].iter().all(|&l| l == ADAPT_MAX), "and stayed: {seen:?}");
    }

    #[test]
    fn a_saturated_link_keeps_the_window_without_thrashing() {
        // 20 MiB/s whatever the number of streams: probing gains nothing.
        let mut w = Window::adaptive(ADAPT_MIN, PROBE_FROM, ADAPT_MAX);
        let seen = run(&mut w, 8 * MIB, 600, |_, _| 20 * MIB);
        assert!(seen.iter().all(|&l| l == PROBE_FROM || l == PROBE_FROM + 1), "{seen:?}");
        // Holds double after each fruitless probe: a handful of probes in 10 minutes.
        assert!(w.changes() <= 12, "{} changes in 10 minutes: {seen:?}", w.changes());
        let above = seen.iter().filter(|&&l| l > PROBE_FROM).count();
        assert!(above <= 60, "probing took {above} of 600 s");
        // The product's start, the top: it stays there, no change at all.
        let mut w = Window::adaptive(ADAPT_MIN, ADAPT_START, ADAPT_MAX);
        let seen = run(&mut w, 8 * MIB, 600, |_, _| 20 * MIB);
        assert!(seen.iter().all(|&l| l == ADAPT_MAX) && w.changes() == 0, "{seen:?}");
    }

    #[test]
    fn trouble_halves_the_window_once_per_moment_and_it_grows_back() {
        let mut w = Window::adaptive(ADAPT_MIN, ADAPT_MAX, ADAPT_MAX);
        // Five failures from one moment: one cut.
        for t in 0..5 {
            w.on_trouble(1_000 + t * 100);
        }
        assert_eq!(w.limit(), 3);
        w.on_trouble(1_000 + CUT_SPACING_MS);
        assert_eq!(w.limit(), ADAPT_MIN, "a second moment cuts again, not below the minimum");
        w.on_trouble(10_000);
        assert_eq!(w.limit(), ADAPT_MIN);
        // Then a link that rewards streams brings it back up after the hold.
        let seen = run(&mut w, 8 * MIB, 300, |n, _| n as u64 * 4 * MIB);
        assert_eq!(w.limit(), ADAPT_MAX, "{seen:?}");
    }

    #[test]
    fn a_link_that_degrades_with_more_streams_settles_where_it_is_best() {
        // Best at 3 streams (say, a server that slows under load): 30 MiB/s, less either side.
        let mut w = Window::adaptive(ADAPT_MIN, 3, ADAPT_MAX);
        let seen = run(&mut w, 4 * MIB, 600, |n, _| match n {
            1 => 12 * MIB,
            2 => 24 * MIB,
            3 => 30 * MIB,
            _ => 24 * MIB,
        });
        let at_three = seen.iter().filter(|&&l| l == 3).count();
        assert!(at_three >= 540, "{at_three} of 600 s at the best window: {seen:?}");
    }

    #[test]
    fn a_link_that_slows_down_for_every_stream_takes_the_window_down_and_settles() {
        // A link capped at 8 MiB/s per stream, up to 48 MiB/s: the window grows
        // to 6 (from 4), or keeps it (the product's start, the top). After
        // 120 s another flow takes most of it: 12 MiB/s in all, whatever the
        // number of streams (each of ours now gets a share of that).
        assert_eq!(
            Window::adaptive(ADAPT_MIN, ADAPT_START, ADAPT_MAX).limit(),
            ADAPT_MAX,
            "the product's start: the top"
        );
        assert_eq!(Window::adaptive(2, ADAPT_START, 3).limit(), 3, "the application's top");
        let slowing = |n: usize, now: u64| if now < 120_000 { (n as u64 * 8 * MIB).min(48 * MIB) } else { 12 * MIB };
        for start in [PROBE_FROM, ADAPT_START] {
            let mut w = Window::adaptive(ADAPT_MIN, start, ADAPT_MAX);
            let seen = run(&mut w, 8 * MIB, 600, slowing);
            assert_eq!(seen[110], ADAPT_MAX, "grown before the slowdown: {seen:?}");
            if start == ADAPT_MAX {
                assert!(seen[..115].iter().all(|&l| l == ADAPT_MAX), "kept the top while it paid: {seen:?}");
            }
            let after = &seen[130..];
            let low = *after.iter().min().expect("seen");
            assert!(low < ADAPT_MAX, "stepped back once each stream got slower: {seen:?}");
            // Then it settles: no more than a handful of changes in the 8 minutes after.
            let changes = after.windows(2).filter(|p| p[0] != p[1]).count();
            assert!(changes <= 10, "{changes} changes after the slowdown: {seen:?}");
        }
    }

    #[test]
    fn a_noisy_link_does_not_make_the_window_flap() {
        // 24 MiB/s in all, give or take 25 % from one second to the next
        // (a fixed pseudo-random pattern), whatever the number of streams.
        let mut w = Window::adaptive(ADAPT_MIN, PROBE_FROM, ADAPT_MAX);
        let seen = run(&mut w, 8 * MIB, 600, |_, now| {
            let x = (now / 1000).wrapping_mul(2_654_435_761) % 1000; // 0..1000
            24 * MIB * (750 + x / 2) / 1000
        });
        assert!(w.changes() <= 16, "{} changes in 10 minutes: {seen:?}", w.changes());
        assert!(seen.iter().all(|&l| l >= ADAPT_MIN), "{seen:?}");
    }

    #[test]
    fn small_puts_do_not_count_as_latency() {
        // 100 KiB PUTs, each mostly round trip: slower per byte than parts
        // would be, and never a reason to step back.
        let mut w = Window::adaptive(ADAPT_MIN, PROBE_FROM, ADAPT_MAX);
        w.on_start(0);
        let mut now = 0;
        for i in 0..400u64 {
            now += 10 + i; // each PUT slower than the one before
            w.on_done(100 * 1024, 40 + i * 5, now);
        }
        assert!(w.limit() >= PROBE_FROM, "{}", w.limit());
    }

    #[test]
    fn a_fixed_window_never_moves() {
        let mut w = Window::fixed(3);
        let seen = run(&mut w, 8 * MIB, 120, |n, _| n as u64 * 4 * MIB);
        w.on_trouble(500_000);
        assert!(seen.iter().all(|&l| l == 3) && w.limit() == 3 && w.changes() == 0);
    }

    #[test]
    fn the_time_per_mib_of_parts_follows_the_link_fixed_window_or_not() {
        for mut w in [Window::fixed(4), Window::adaptive(ADAPT_MIN, PROBE_FROM, ADAPT_MAX)] {
            assert_eq!(w.part_ms_per_mib(), None);
            w.on_done(100 * 1024, 5_000, 10);
            assert_eq!(w.part_ms_per_mib(), None, "a small PUT says nothing of a part's speed");
            w.on_done(8 * MIB, 800, 20);
            assert_eq!(w.part_ms_per_mib(), Some(100));
            // the link slows down 10x: within a few parts the estimate follows
            let mut now = 20;
            for _ in 0..12 {
                now += 8_000;
                w.on_done(8 * MIB, 8_000, now);
            }
            let ms = w.part_ms_per_mib().expect("measured");
            assert!((950..=1_000).contains(&ms), "{ms}");
        }
    }
}
