//! How a file is cut into parts, within S3's limits.
//!
//! S3 multipart limits (AWS "Amazon S3 multipart upload limits"):
//! - at most [`MAX_PARTS`] parts, numbered 1..=10,000;
//! - every part but the last is [`MIN_PART_SIZE`]..=[`MAX_PART_SIZE`]; the last may be smaller;
//! - an object is at most [`MAX_OBJECT_SIZE`];
//! - a single PUT is at most [`MAX_SINGLE_PUT`].

#[allow(unused_imports)]
use crate::prelude::*;

use crate::engine::error::UploadError;

/// 1 MiB.
pub const MIB: u64 = 1024 * 1024;
/// Smallest part S3 accepts (but for the last).
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// Largest part S3 accepts.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// Most parts in one upload.
pub const MAX_PARTS: u64 = 10_000;
/// Largest object S3 stores: 5 TiB.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * MIB;
/// Largest object one PUT may carry: 5 GiB.
pub const MAX_SINGLE_PUT: u64 = 5 * 1024 * MIB;
/// Part size of a [`crate::engine::Config`] made in Rust (the JS options
/// leave it to [`part_size_for`] between [`AUTO_PART_MIN`] and
/// [`AUTO_PART_MAX`] unless `partSize` is given).
pub const DEFAULT_PART_SIZE: u64 = 8 * MIB;
/// The smallest part the engine picks by itself.
pub const AUTO_PART_MIN: u64 = MIN_PART_SIZE;
/// The part the engine picks by itself for a large file (the product's
/// 5–10 MB parts), made larger, up to [`AUTO_ROUND_MAX`], to cut the file
/// in whole rounds ([`part_size_for`]).
pub const AUTO_PART_MAX: u64 = 10 * MIB;
/// The largest part the engine picks by itself before it has measured the
/// link: for a medium file that every stream carries one part of (64 MiB
/// on 6 streams: 6 parts of 11 MiB, not 7 of 10 MiB whose 7th goes alone
/// after the others, a round trip and a window of its own on a far link),
/// and for a large file cut in whole rounds.
pub const AUTO_ROUND_MAX: u64 = 16 * MIB;
/// How long one part's PUT should take at most on the measured link: a
/// part lost to a failure costs at most that much again, and progress and
/// stall detection see whole parts often enough.
pub const PART_TARGET_MS: u64 = 15_000;

/// The part size for a file of `size` bytes, chosen within `min..=max`
/// (or up to `round_max` for whole rounds; whole MiB or [`ROUND_GRAIN`]
/// steps where the bounds allow) from what is known of the link:
///
/// - every stream gets a part: a file cut into at least `streams` parts
///   (a 20 MiB file with 4 streams goes as 4 parts of 5 MiB, not 3 of 8),
///   so medium files use the whole window; the share is rounded up to a
///   whole MiB, so that no small part is left over to go alone after the
///   others (64 MiB on 6 streams: 6 parts of 11 MiB, not 7 of 10); a share
///   up to `round_max` goes so, in one round (the engine's own bounds allow
///   more for one round than for many: [`AUTO_ROUND_MAX`]);
/// - otherwise in whole rounds: as many rounds as parts of `max` make,
///   rounded down, each part the larger for it (up to `round_max`, in steps
///   of [`ROUND_GRAIN`]), so that the last round keeps every stream busy
///   instead of leaving a few parts to go while the other streams idle (256
///   MiB on 6 streams: 24 parts of 10.7 MiB in 4 rounds, not 26 of 10 MiB
///   whose last 2 go alone); where that would take parts over
///   `round_max`, parts of `max` (fewer requests, fewer round trips at the
///   end of each part's PUT, where the stream idles),
/// - but no part longer than [`PART_TARGET_MS`] at `ms_per_mib`, the time a
///   MiB took in one part's PUT lately (none measured yet: no limit).
///
/// Files too large for 10,000 parts of that size grow it in [`Plan::new`].
pub fn part_size_for(size: u64, min: u64, max: u64, round_max: u64, streams: usize, ms_per_mib: Option<u64>) -> u64 {
    let streams = streams.max(1) as u64;
    let spread = size.div_ceil(streams).div_ceil(MIB) * MIB;
    let quick = ms_per_mib.map_or(u64::MAX, |ms| PART_TARGET_MS / ms.max(1) * MIB);
    let cap = if spread <= round_max {
        round_max
    } else {
        // Whole rounds of parts of `max` or more (the bounds are at most 5
        // GiB and `streams` a few: no overflow).
        let even = in_rounds(size, streams, max);
        if even <= round_max { even } else { max }
    };
    spread.min(quick).min(cap).max(min)
}

/// Parts of at least `at_least` bytes (in [`ROUND_GRAIN`] steps) that cut
/// `size` bytes into whole rounds of `streams` parts: as many rounds as
/// parts of `at_least` make, rounded down (at least one), each part the
/// larger for it: under twice `at_least`.
fn in_rounds(size: u64, streams: u64, at_least: u64) -> u64 {
    round_part(size, (size / streams.saturating_mul(at_least).max(1)).max(1), streams)
}

/// The part that cuts `size` bytes into `rounds` whole rounds of `streams`
/// parts, rounded up to [`ROUND_GRAIN`].
fn round_part(size: u64, rounds: u64, streams: u64) -> u64 {
    // (The sizes are at most 5 TiB, `rounds` at most that and `streams` a
    // few: no overflow.)
    size.div_ceil(rounds * streams).div_ceil(ROUND_GRAIN) * ROUND_GRAIN
}

/// The step of a part size cut for whole rounds ([`part_size_for`]): 64
/// KiB, fine enough that the rounding up leaves no part over for a round
/// of its own (a whole MiB would: 1 GiB in 94 parts of 11 MiB, not 102 of
/// 10.06 MiB in 17 rounds of 6).
pub const ROUND_GRAIN: u64 = 64 * 1024;

/// A part's round trip (its answer on the way back, the next PUT's first
/// bytes on the way out: the stream idle) should be at most one in this
/// many of its PUT's time; on a far link, where it is more with the
/// parts of [`part_size_for`], the parts not yet under way grow
/// ([`grown_part_size`]). (8 left 10 MiB parts as planned on an 80 ms path
/// with 2 MiB in flight per connection, their round trip an eighth and a
/// bit: 0.98× the 6 × 16 MiB loop at 1 GiB; 16: 1.08×, BENCHMARKS.md.)
pub const IDLE_SHARE: u64 = 16;
/// The largest part the engine grows its parts to by itself on a far link.
pub const AUTO_GROW_MAX: u64 = 64 * MIB;

/// The size for the parts not yet under way, `left` bytes, once a PUT of
/// a `part`-byte part took `part_ms` on a link whose round trip is `rtt_ms`
/// (the quickest backend call): the smallest whose round trip is at most
/// one [`IDLE_SHARE`] of its PUT's time (the PUT's time as the round trip
/// plus its bytes at the measured pace), made larger so that `left` goes
/// in whole rounds of `streams` parts (one round of a share each when it
/// is less: the last round keeps every stream busy), in [`ROUND_GRAIN`]
/// steps, but no more than `max` or than [`PART_TARGET_MS`] of PUT (then
/// whole rounds of parts under those, in more rounds). `None`
/// when that is not a quarter more than `part` (a near link: its round
/// trip is a small share already): the parts stay as planned.
pub fn grown_part_size(left: u64, part: u64, max: u64, streams: usize, part_ms: u64, rtt_ms: u64) -> Option<u64> {
    // Milliseconds the part's bytes took, its round trip aside.
    let bytes_ms = part_ms.checked_sub(rtt_ms).filter(|&ms| ms > 0)?;
    // The bytes that go in `ms` at that pace (a part is at most 5 GiB: no
    // overflow below a round trip of 400 days).
    let at_pace = |ms: u64| ms.saturating_mul(part) / bytes_ms;
    let want = at_pace((IDLE_SHARE - 1).saturating_mul(rtt_ms));
    let most = max.min(at_pace(PART_TARGET_MS.saturating_sub(rtt_ms)) / MIB * MIB);
    // What is left in whole rounds of parts of at least `want` (one round
    // of a share each when it is less); where those would be over the
    // bounds, in whole rounds of parts within them (more rounds).
    let streams = streams.max(1) as u64;
    let size = match in_rounds(left, streams, want.min(most)) {
        size if size > most => round_part(left, left.div_ceil(streams.saturating_mul(most).max(1)), streams).min(most),
        size => size,
    };
    (size >= part + part / 4).then_some(size)
}

/// Whether a multipart file of `size` bytes that would begin now, while
/// the uploads of the same `Uploader` under way hold `planned` parts whose
/// PUTs will measure the link ([`Plan::pacing_parts`]),
/// `window` PUTs at a time, waits to begin until a PUT has measured the
/// link (`ms_per_mib`) or a signature has shown a near one (`rtt_ms` under
/// [`NEAR_RTT_MS`]): with two rounds of parts to send before it, it would
/// only be cut, hashed and signed ahead; begun once the link is measured,
/// it is cut for the link ([`batch_part_size`]), with the others waiting
/// then. Only a file that would go in about one round of parts of at most
/// `round_max` ([`AUTO_ROUND_MAX`]): a larger one has parts left to grow
/// on its own ([`grown_part_size`]; four files of 256 MiB in the far region
/// went 0.94× as fast when they waited). The glue lets it begin anyway
/// after a few seconds (`HOLD_MS` in src/glue.js: a PUT may take long to
/// answer on a slow link, or every upload under way may be paused), and at
/// once when it is aborted.
pub fn holds_back(
    size: u64,
    planned: u64,
    window: usize,
    round_max: u64,
    ms_per_mib: Option<u64>,
    rtt_ms: Option<u64>,
) -> bool {
    let window = window.max(1) as u64;
    size <= window.saturating_mul(round_max)
        && planned >= 2 * window
        && ms_per_mib.is_none()
        && rtt_ms.is_none_or(|ms| ms >= NEAR_RTT_MS)
}

/// A signature answered within this is from a near backend: the files of a
/// batch begin at once ([`holds_back`]).
pub const NEAR_RTT_MS: u64 = 20;

/// The part size for the files of a batch that begin together once the
/// link is measured (`batch` bytes in all; a part of the `planned` size
/// would take `ms_per_mib` a MiB, its round trip `rtt_ms` among them):
/// as the growth on a far link cuts what is left of a file
/// ([`grown_part_size`]), with the batch's bytes in whole rounds of the
/// `window`'s PUTs (six files of 64 MiB over six streams: a part of 64 MiB
/// each, one round, where six parts of 10.7 MiB a file each idle a fifth
/// of their PUT in its round trip). `None` on a near link.
pub fn batch_part_size(batch: u64, planned: u64, max: u64, window: usize, ms_per_mib: u64, rtt_ms: u64) -> Option<u64> {
    let part_ms = ms_per_mib.saturating_mul(planned) / MIB;
    grown_part_size(batch, planned, max, window, part_ms, rtt_ms)
}

/// The byte range of one part: `start..end`, end exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartRange {
    /// 1-based part number.
    pub number: u16,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

impl PartRange {
    /// Bytes in the part.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Whether the part holds no bytes (only a 0-byte single PUT).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

/// How a file goes up: one PUT, or a multipart upload of `count` parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// File size in bytes.
    pub size: u64,
    /// Size of parts 1..=`head` (the whole size for a single PUT).
    pub part_size: u64,
    /// Number of parts (1 for a single PUT, also for a 0-byte file).
    pub count: u16,
    /// True when the file goes as one presigned PUT instead of a multipart upload.
    pub single: bool,
    /// The parts of `part_size` bytes: all of them (`count`) unless the
    /// plan was [`Plan::grown`]; every part after them is `tail_size` bytes
    /// (S3 takes parts of different sizes: only the last may be under 5 MiB).
    pub head: u16,
    /// Size of the parts after the first `head` (all but the last).
    pub tail_size: u64,
}

impl Plan {
    /// Plans an upload of `size` bytes.
    ///
    /// `part_size` is the wanted part size (5 MiB..=5 GiB); it grows, rounded up
    /// to a whole MiB, when the file would need more than 10,000 parts. Files of
    /// at most `multipart_threshold` bytes (and at most 5 GiB) go as one PUT;
    /// with `multipart_threshold` `None` every file, even an empty one, goes
    /// multipart (an empty file as one empty part).
    pub fn new(size: u64, part_size: u64, multipart_threshold: Option<u64>) -> Result<Self, UploadError> {
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(UploadError::invalid_option(
                "partSize",
                cat!(
                    "partSize is ",
                    part_size,
                    " bytes; S3 parts are 5 MiB (5242880) to 5 GiB (5368709120): pick a value in that range"
                ),
            ));
        }
        if size > MAX_OBJECT_SIZE {
            return Err(UploadError::too_large(size));
        }
        if Self::goes_single(size, multipart_threshold) {
            return Ok(Self { size, part_size: size, count: 1, single: true, head: 1, tail_size: size });
        }
        let mut part_size = part_size;
        if size.div_ceil(part_size) > MAX_PARTS {
            part_size = size.div_ceil(MAX_PARTS).div_ceil(MIB) * MIB;
        }
        // 5 TiB / 10,000 rounded up to a MiB is 525 MiB, far below 5 GiB.
        let count = u16::try_from(size.div_ceil(part_size).max(1)).unwrap_or(u16::MAX);
        Ok(Self { size, part_size, count, single: false, head: count, tail_size: part_size })
    }

    /// Whether a file of `size` bytes goes as one presigned PUT: at most
    /// `multipart_threshold` bytes, and at most [`MAX_SINGLE_PUT`].
    pub fn goes_single(size: u64, multipart_threshold: Option<u64>) -> bool {
        multipart_threshold.is_some_and(|t| size <= t.min(MAX_SINGLE_PUT))
    }

    /// This multipart plan with every part from number `from` on cut anew
    /// in parts of `tail_size` bytes, the parts before it kept: how the
    /// engine grows its parts once the link is measured (one growth per
    /// plan). `None` for a single PUT, a plan grown already, a `from`
    /// outside 2..=count, or a size S3 would refuse.
    pub fn grown(&self, from: u16, tail_size: u64) -> Option<Plan> {
        if self.single || self.head != self.count || from < 2 || !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&tail_size) {
            return None;
        }
        let start = self.range(from)?.start;
        let count = u64::from(from - 1) + (self.size - start).div_ceil(tail_size);
        if count > MAX_PARTS {
            return None;
        }
        Some(Plan { count: count as u16, head: from - 1, tail_size, ..*self })
    }

    /// The byte range of part `number` (1-based); `None` outside 1..=count.
    pub fn range(&self, number: u16) -> Option<PartRange> {
        if number == 0 || number > self.count {
            return None;
        }
        let head = (number - 1).min(self.head);
        let start = u64::from(head) * self.part_size + u64::from(number - 1 - head) * self.tail_size;
        let len = if number > self.head { self.tail_size } else { self.part_size };
        let end = (start + len).min(self.size);
        Some(PartRange { number, start, end })
    }

    /// Every part's range, in order.
    pub fn ranges(&self) -> impl Iterator<Item = PartRange> + '_ {
        (1..=self.count).filter_map(|n| self.range(n))
    }

    /// The parts whose PUTs will measure the link's pace (of at least
    /// [`crate::engine::adapt::LATENCY_MIN_BYTES`]): what [`holds_back`]
    /// counts as under way. A file sent as one small PUT counts none: a
    /// file held back behind such PUTs only would wait for a measure that
    /// never comes.
    pub fn pacing_parts(&self) -> u64 {
        if self.part_size >= crate::engine::adapt::LATENCY_MIN_BYTES { u64::from(self.count) } else { 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1024 * MIB;
    const TIB: u64 = 1024 * GIB;

    #[test]
    fn plans_follow_s3_limits() {
        // (size, part size, threshold) -> (single, count, part size)
        let cases: &[(u64, u64, u64, bool, u16, u64)] = &[
            (0, DEFAULT_PART_SIZE, DEFAULT_PART_SIZE, true, 1, 0),
            (1, DEFAULT_PART_SIZE, DEFAULT_PART_SIZE, true, 1, 1),
            (5 * MIB, DEFAULT_PART_SIZE, DEFAULT_PART_SIZE, true, 1, 5 * MIB),
            (8 * MIB, DEFAULT_PART_SIZE, DEFAULT_PART_SIZE, true, 1, 8 * MIB),
            (8 * MIB + 1, DEFAULT_PART_SIZE, DEFAULT_PART_SIZE, false, 2, 8 * MIB),
            (33 * MIB, DEFAULT_PART_SIZE, DEFAULT_PART_SIZE, false, 5, 8 * MIB),
            (64 * MIB, DEFAULT_PART_SIZE, DEFAULT_PART_SIZE, false, 8, 8 * MIB),
            // threshold 0: even a 1-byte file is multipart
            (1, DEFAULT_PART_SIZE, 0, false, 1, DEFAULT_PART_SIZE),
            // exactly 10,000 parts keeps the part size
            (10_000 * 5 * MIB, 5 * MIB, 0, false, 10_000, 5 * MIB),
            // one byte more grows the part size to the next whole MiB
            (10_000 * 5 * MIB + 1, 5 * MIB, 0, false, 8_334, 6 * MIB),
            (100 * GIB, DEFAULT_PART_SIZE, DEFAULT_PART_SIZE, false, 9_310, 11 * MIB),
            (5 * TIB, DEFAULT_PART_SIZE, DEFAULT_PART_SIZE, false, 9_987, 525 * MIB),
            // a single PUT stops at 5 GiB whatever the threshold
            (6 * GIB, DEFAULT_PART_SIZE, 10 * GIB, false, 768, 8 * MIB),
        ];
        for &(size, ps, th, single, count, part) in cases {
            let p = Plan::new(size, ps, Some(th)).unwrap_or_else(|e| panic!("{size}: {e}"));
            assert_eq!((p.single, p.count, p.part_size), (single, count, part), "size {size}");
            assert!(u64::from(p.count) <= MAX_PARTS);
            let ranges: Vec<_> = p.ranges().collect();
            assert_eq!(ranges.len(), usize::from(count));
            assert_eq!(ranges.iter().map(PartRange::len).sum::<u64>(), size, "parts cover the file");
            for w in ranges.windows(2) {
                assert_eq!(w[0].end, w[1].start, "no gap, no overlap");
                if !single {
                    assert!(w[0].len() >= MIN_PART_SIZE && w[0].len() <= MAX_PART_SIZE);
                }
            }
        }
    }

    #[test]
    fn without_a_threshold_everything_is_multipart() {
        let p = Plan::new(0, DEFAULT_PART_SIZE, None).expect("plan");
        assert_eq!((p.single, p.count), (false, 1));
        assert_eq!(p.range(1), Some(PartRange { number: 1, start: 0, end: 0 }));
        let p = Plan::new(1, DEFAULT_PART_SIZE, None).expect("plan");
        assert_eq!((p.single, p.count), (false, 1));
    }

    #[test]
    fn refuses_what_s3_would_refuse() {
        let e = Plan::new(MAX_OBJECT_SIZE + 1, DEFAULT_PART_SIZE, Some(DEFAULT_PART_SIZE)).unwrap_err();
        assert_eq!(e.code, crate::engine::error::ErrorCode::FileTooLarge);
        assert!(e.message.contains("5 TiB"), "{e}");
        assert!(Plan::new(MAX_OBJECT_SIZE, DEFAULT_PART_SIZE, Some(0)).is_ok());
        for bad in [0, MIN_PART_SIZE - 1, MAX_PART_SIZE + 1] {
            let e = Plan::new(10, bad, Some(0)).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("partSize"));
        }
    }

    #[test]
    fn the_engine_picks_part_sizes_within_its_bounds() {
        let (lo, hi) = (AUTO_PART_MIN, AUTO_PART_MAX);
        // (size, streams, ms per MiB) -> part size
        let cases: &[(u64, usize, Option<u64>, u64)] = &[
            // a medium file: one part per stream
            (20 * MIB, 4, None, 5 * MIB),
            (24 * MIB, 4, None, 6 * MIB),
            // rounded up: 4 parts (10, 10, 10, 6 MiB), not 4 of 9 MiB and one of 5 bytes
            (36 * MIB + 5, 4, None, 10 * MIB),
            // never below the minimum, even for a small file or many streams
            (9 * MIB, 4, None, 5 * MIB),
            (40 * MIB, 16, None, 5 * MIB),
            (0, 0, None, 5 * MIB),
            // a large file: the maximum
            (GIB, 4, None, 10 * MIB),
            (GIB, 6, Some(50), 10 * MIB),
            // a slow link: parts of at most 15 s
            (GIB, 4, Some(2_000), 7 * MIB),
            (GIB, 4, Some(100_000), 5 * MIB),
        ];
        for &(size, streams, ms, want) in cases {
            assert_eq!(part_size_for(size, lo, hi, hi, streams, ms), want, "{size} bytes, {streams} streams, {ms:?}");
        }
        // The engine's own bounds: a medium file in one round of parts up
        // to 16 MiB, a part for each stream; a larger one in parts of 10.
        let auto = |size, streams, ms| part_size_for(size, lo, hi, AUTO_ROUND_MAX, streams, ms);
        // 6 streams: 6 parts of 11 MiB, not 7 of 10 (the 7th alone at the end)
        assert_eq!(auto(64 * MIB, 6, None), 11 * MIB);
        assert_eq!(auto(96 * MIB, 6, None), 16 * MIB);
        assert_eq!(auto(64 * MIB, 4, None), 16 * MIB);
        assert_eq!(auto(40 * MIB, 6, None), 7 * MIB);
        // More than one round: whole rounds of parts of 10 MiB or more. Just
        // over one round of 16 MiB parts: one round would take larger parts,
        // so parts of 10 MiB (10 of them: 6, then 4).
        assert_eq!(auto(96 * MIB + 1, 6, None), 10 * MIB);
        // 256 MiB: 4 rounds (26 parts of 10 MiB would leave 2 for a fifth)
        // of 10.6875 MiB, 24 parts; 1 GiB: 17 rounds of 10.0625 MiB.
        assert_eq!(auto(256 * MIB, 6, None), 10 * MIB + 11 * 64 * 1024);
        assert_eq!(Plan::new(256 * MIB, auto(256 * MIB, 6, None), None).map(|p| p.count), Ok(24));
        assert_eq!(auto(GIB, 6, None), 10 * MIB + 64 * 1024);
        assert_eq!(Plan::new(GIB, auto(GIB, 6, None), None).map(|p| p.count), Ok(102));
        assert_eq!(auto(200 * MIB, 6, None), 200 * MIB / 18 / ROUND_GRAIN * ROUND_GRAIN + ROUND_GRAIN, "3 rounds");
        assert_eq!(auto(GIB, 6, Some(2_000)), 7 * MIB, "a slow link's bound holds");
        assert_eq!(auto(64 * MIB, 6, Some(2_000)), 7 * MIB, "a slow link's bound holds");
        // the application's bounds
        assert_eq!(part_size_for(GIB, 5 * MIB, 64 * MIB, 64 * MIB, 4, Some(10)), 64 * MIB);
        assert_eq!(part_size_for(64 * MIB, 5 * MIB, 64 * MIB, 64 * MIB, 4, None), 16 * MIB);
        assert_eq!(part_size_for(64 * MIB, 5 * MIB, 16 * MIB, 16 * MIB, 6, None), 11 * MIB);
        assert_eq!(part_size_for(64 * MIB, 5 * MIB, 10 * MIB, 10 * MIB, 6, None), 10 * MIB, "max given: 10 MiB holds");
        assert_eq!(part_size_for(64 * MIB, 32 * MIB, 64 * MIB, 64 * MIB, 4, Some(100_000)), 32 * MIB);
        assert_eq!(part_size_for(GIB, 6 * MIB, 6 * MIB, 6 * MIB, 1, None), 6 * MIB, "min = max fixes it");
        // With the engine's own bounds, a file of a few rounds (up to 150
        // parts) goes in whole rounds: its part count a multiple of the
        // streams, or parts of 10 MiB where that would take parts over 16.
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..10_000 {
            let streams = rng.usize(1..=6);
            let size = rng.u64(streams as u64 * AUTO_ROUND_MAX + 1..=150 * AUTO_PART_MAX);
            let p = auto(size, streams, None);
            let count = size.div_ceil(p);
            assert!((AUTO_PART_MAX..=AUTO_ROUND_MAX).contains(&p), "{size} bytes, {streams} streams: {p}");
            assert!(
                count % streams as u64 == 0 || p == AUTO_PART_MAX && count < 2 * streams as u64,
                "{size} bytes, {streams} streams: {count} parts of {p}"
            );
        }
        // whatever comes in, the result is within the bounds and a valid part size
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..10_000 {
            let min = rng.u64(MIN_PART_SIZE..=MAX_PART_SIZE);
            let max = rng.u64(min..=MAX_PART_SIZE);
            let ms = rng.bool().then(|| rng.u64(0..=1_000_000));
            let round = rng.u64(max..=MAX_PART_SIZE);
            let p = part_size_for(rng.u64(0..=MAX_OBJECT_SIZE), min, max, round, rng.usize(0..=16), ms);
            assert!((min..=round).contains(&p), "{p} outside {min}..={round}");
            let p = part_size_for(rng.u64(0..=MAX_OBJECT_SIZE), min, max, max, rng.usize(0..=16), ms);
            assert!((min..=max).contains(&p), "{p} outside {min}..={max}");
        }
    }

    #[test]
    fn a_grown_plan_cuts_the_rest_of_the_file_in_larger_parts() {
        let p = Plan::new(160 * MIB + 3, 10 * MIB, Some(0)).expect("plan");
        assert_eq!((p.count, p.head), (17, 17));
        let g = p.grown(8, 17 * MIB).expect("grown");
        assert_eq!((g.count, g.head, g.part_size, g.tail_size), (13, 7, 10 * MIB, 17 * MIB));
        let ranges: Vec<_> = g.ranges().collect();
        assert_eq!(&ranges[..7], &p.ranges().take(7).collect::<Vec<_>>()[..], "the parts before `from` kept");
        assert_eq!(ranges[7], PartRange { number: 8, start: 70 * MIB, end: 87 * MIB });
        assert_eq!(ranges[12], PartRange { number: 13, start: 155 * MIB, end: 160 * MIB + 3 });
        assert_eq!(ranges.iter().map(PartRange::len).sum::<u64>(), g.size, "parts cover the file");
        for w in ranges.windows(2) {
            assert_eq!(w[0].end, w[1].start, "no gap, no overlap");
            assert!(w[0].len() >= MIN_PART_SIZE);
        }
        assert!(g.range(14).is_none());
        // Once; not for a single PUT; `from` within 2..=count; sizes S3 takes.
        assert!(g.grown(9, 20 * MIB).is_none(), "grown once");
        assert!(Plan::new(MIB, 10 * MIB, Some(8 * MIB)).expect("single").grown(2, 20 * MIB).is_none());
        for from in [0, 1, 18] {
            assert!(p.grown(from, 20 * MIB).is_none(), "from {from}");
        }
        assert!(p.grown(2, MIN_PART_SIZE - 1).is_none());
        assert!(p.grown(2, MAX_PART_SIZE + 1).is_none());
        assert_eq!(p.grown(17, 64 * MIB).map(|g| g.count), Some(17), "the last part alone, of what is left");
        // Smaller parts never go past 10,000.
        let big = Plan::new(10_000 * 5 * MIB, 5 * MIB, Some(0)).expect("plan");
        assert!(big.grown(2, 5 * MIB).is_some());
        let bigger = Plan::new(10_000 * 6 * MIB, 6 * MIB, Some(0)).expect("plan");
        assert!(bigger.grown(2, 5 * MIB).is_none());
    }

    #[test]
    fn parts_grow_on_a_far_link_and_only_there() {
        const GRAIN: u64 = ROUND_GRAIN;
        let left = GIB;
        // A far link: 150 ms round trip, a 10 MiB part's PUT 900 ms (the
        // round trip a sixth of it): parts that idle a sixteenth at most
        // (30 MiB), in whole rounds (5 rounds of 6 parts of 34.1875 MiB).
        assert_eq!(grown_part_size(left, 10 * MIB, 64 * MIB, 6, 900, 150), Some(34 * MIB + 3 * GRAIN));
        // Slower bytes for the same round trip: the round trip matters less.
        assert_eq!(grown_part_size(left, 10 * MIB, 64 * MIB, 6, 1_200, 150), Some(24 * MIB + 7 * GRAIN));
        assert_eq!(grown_part_size(left, 10 * MIB, 64 * MIB, 6, 2_500, 150), None);
        // Farther: larger, up to the bound given, in whole rounds under it
        // (75 MiB wanted; 3 rounds of 56.9375 MiB under 64, 11 of 15.5625
        // under 16).
        assert_eq!(grown_part_size(left, 10 * MIB, 64 * MIB, 6, 900, 300), Some(56 * MIB + 15 * GRAIN));
        assert_eq!(grown_part_size(left, 10 * MIB, 16 * MIB, 6, 900, 300), Some(15 * MIB + 9 * GRAIN));
        assert_eq!(grown_part_size(left, 10 * MIB, 64 * MIB, 6, 700, 500), Some(56 * MIB + 15 * GRAIN));
        assert_eq!(left.div_ceil(56 * MIB + 15 * GRAIN), 18, "whole rounds");
        // No larger than a share of what is left for each stream.
        assert_eq!(grown_part_size(100 * MIB, 10 * MIB, 64 * MIB, 6, 900, 300), Some(16 * MIB + 11 * GRAIN));
        assert_eq!(grown_part_size(60 * MIB, 10 * MIB, 64 * MIB, 6, 900, 300), None);
        // No part longer than 15 s at the measured pace.
        assert_eq!(grown_part_size(100 * GIB, 10 * MIB, 5 * GIB, 6, 9_000, 4_000), Some(22 * MIB));
        // A near link (loopback: 1 ms of 100), a round trip longer than the
        // PUT (a backend far, a store near), nothing measured: as planned.
        assert_eq!(grown_part_size(left, 10 * MIB, 64 * MIB, 6, 100, 1), None);
        assert_eq!(grown_part_size(left, 10 * MIB, 64 * MIB, 6, 100, 100), None);
        assert_eq!(grown_part_size(left, 10 * MIB, 64 * MIB, 6, 100, 400), None);
        assert_eq!(grown_part_size(left, 10 * MIB, 64 * MIB, 6, 0, 0), None);
        // Whatever comes in: a size S3 takes, within the bound, larger than the part.
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..10_000 {
            let part = rng.u64(MIN_PART_SIZE..=GIB);
            let max = rng.u64(MIN_PART_SIZE..=MAX_PART_SIZE);
            let (left, streams) = (rng.u64(0..=MAX_OBJECT_SIZE), rng.usize(0..=16));
            let (ms_scale, rtt_scale) = (rng.u32(0..64), rng.u32(0..64));
            let (ms, rtt) = (rng.u64(0..=u64::MAX >> ms_scale), rng.u64(0..=u64::MAX >> rtt_scale));
            if let Some(s) = grown_part_size(left, part, max, streams, ms, rtt) {
                assert!(s > part && s <= max && s <= MAX_PART_SIZE, "{s} from {part}, max {max}");
            }
        }
    }

    #[test]
    fn a_batch_begun_on_a_measured_far_link_is_cut_in_whole_rounds_of_larger_parts() {
        // A part of 10.6875 MiB took 70 ms a MiB (748 ms) on a 150 ms
        // link: parts that idle a sixteenth at most are 40 MiB or more.
        let planned = 10 * MIB + 11 * ROUND_GRAIN;
        // Six files of 64 MiB, six PUTs at a time: a part of 64 MiB each,
        // one round.
        assert_eq!(batch_part_size(6 * 64 * MIB, planned, 64 * MIB, 6, 70, 150), Some(64 * MIB));
        // Eighteen of 24 MiB (432 MiB): parts over the 64 MiB bound would
        // be one round; two rounds of 36 MiB (each file then one part).
        assert_eq!(batch_part_size(18 * 24 * MIB, planned, 64 * MIB, 6, 70, 150), Some(36 * MIB));
        // Within the application's bound.
        assert_eq!(batch_part_size(6 * 64 * MIB, planned, 16 * MIB, 6, 70, 150), Some(16 * MIB));
        // A near link (a round trip of 2 ms, 6 ms a MiB), a round trip longer
        // than the PUT, and a batch too small to grow: as planned.
        assert_eq!(batch_part_size(6 * 64 * MIB, planned, 64 * MIB, 6, 6, 2), None);
        assert_eq!(batch_part_size(6 * 64 * MIB, planned, 64 * MIB, 6, 10, 150), None);
        assert_eq!(batch_part_size(40 * MIB, planned, 64 * MIB, 6, 70, 150), None);
    }

    #[test]
    fn a_file_waits_to_begin_only_behind_two_rounds_while_the_link_is_unknown() {
        let r = AUTO_ROUND_MAX;
        // Two rounds of six parts under way, nothing measured: a file of
        // 64 MiB waits.
        assert!(holds_back(64 * MIB, 12, 6, r, None, None));
        assert!(holds_back(64 * MIB, 48, 6, r, None, Some(150)), "a far signature alone does not measure the PUTs");
        assert!(holds_back(96 * MIB, 12, 6, r, None, None), "one round of parts of 16 MiB");
        // A file with parts left to grow on its own, less than two rounds
        // before it (its parts are needed soon): it begins now.
        assert!(!holds_back(96 * MIB + 1, 12, 6, r, None, None));
        assert!(!holds_back(256 * MIB, 48, 6, r, None, None));
        assert!(!holds_back(64 * MIB, 11, 6, r, None, None));
        assert!(!holds_back(64 * MIB, 0, 0, r, None, None));
        // A PUT measured the link, or a signature showed a near one: it begins.
        assert!(!holds_back(64 * MIB, 48, 6, r, Some(70), None));
        assert!(!holds_back(64 * MIB, 48, 6, r, None, Some(NEAR_RTT_MS - 1)));
        assert!(holds_back(64 * MIB, 48, 6, r, None, Some(NEAR_RTT_MS)));
    }

    #[test]
    fn only_parts_large_enough_to_measure_the_link_count_as_under_way() {
        // Small files sent as one PUT each say nothing of the link's pace
        // (adapt::LATENCY_MIN_BYTES): forty of them under way hold no file back.
        let small = Plan::new(MIB, DEFAULT_PART_SIZE, Some(8 * MIB)).expect("plan");
        assert_eq!(small.pacing_parts(), 0);
        assert!(!holds_back(64 * MIB, 40 * small.pacing_parts(), 6, AUTO_ROUND_MAX, None, None));
        // One PUT of 6 MiB measures it; so does every part of a multipart file.
        assert_eq!(Plan::new(6 * MIB, DEFAULT_PART_SIZE, Some(8 * MIB)).expect("plan").pacing_parts(), 1);
        let multipart = Plan::new(64 * MIB, 8 * MIB, Some(8 * MIB)).expect("plan");
        assert_eq!(multipart.pacing_parts(), 8);
        assert!(holds_back(64 * MIB, 2 * multipart.pacing_parts(), 6, AUTO_ROUND_MAX, None, None));
    }

    #[test]
    fn range_is_none_outside_the_plan() {
        let p = Plan::new(33 * MIB, DEFAULT_PART_SIZE, Some(0)).expect("plan");
        assert!(p.range(0).is_none());
        assert!(p.range(6).is_none());
        assert_eq!(p.range(5), Some(PartRange { number: 5, start: 32 * MIB, end: 33 * MIB }));
    }
}
