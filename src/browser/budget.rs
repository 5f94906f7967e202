//! One concurrency budget shared by the uploads of one `Uploader`: how many
//! more part PUTs may start. The engine takes slots as it starts PUTs
//! ([`crate::engine::Upload::poll_shared`]); the driver gives one back when a
//! PUT ends, and the glue then asks the other uploads, which may be waiting
//! for it, for their steps.
//!
//! How many slots there are is the [`Window`]'s decision (adaptive unless
//! the application fixed `concurrency`), from the PUTs the driver reports:
//! their bytes and time when they succeed, and throttles, stalls and network
//! failures.

#[allow(unused_imports)]
use crate::prelude::*;

use core::cell::Cell;

use crate::engine::adapt::Window;

/// PUT slots in use, the window that bounds them, and who to wake when one frees up.
pub struct Budget {
    in_use: Cell<usize>,
    /// Uploads of the `Uploader` under way (planned and not ended).
    uploads: Cell<usize>,
    /// The parts they were planned with that will measure the link
    /// ([`crate::engine::Plan::pacing_parts`]).
    parts: Cell<u64>,
    /// The quickest signature any of them has had (the backend's round trip).
    rtt_ms: Cell<Option<u64>>,
    /// (A `Cell`, not a `RefCell`: no borrow can fail, and the module
    /// carries no borrow-error formatting.)
    window: Cell<Window>,
    /// A slot freed up or the window grew since [`Budget::woke`] was last asked.
    woken: Cell<bool>,
}

impl Budget {
    /// A budget bounded by `window`.
    pub fn new(window: Window) -> Self {
        Self {
            in_use: Cell::new(0),
            uploads: Cell::new(0),
            parts: Cell::new(0),
            rtt_ms: Cell::new(None),
            window: Cell::new(window),
            woken: Cell::new(false),
        }
    }

    /// Lets `f` take free slots from the budget.
    pub fn with<T>(&self, f: impl FnOnce(&mut usize) -> T) -> T {
        let mut free = self.window.get().limit().saturating_sub(self.in_use.get());
        let before = free;
        let out = f(&mut free);
        self.in_use.set(self.in_use.get() + before.saturating_sub(free));
        out
    }

    /// An upload is planned: the PUTs its parts may count on (the window
    /// shared among the uploads under way, this one included), and the
    /// milliseconds a MiB of a part took lately. It counts as under way
    /// until [`Budget::left`].
    pub fn entered(&self) -> (usize, Option<u64>) {
        let uploads = self.uploads.get() + 1;
        self.uploads.set(uploads);
        let w = self.window.get();
        ((w.limit() / uploads).max(1), w.part_ms_per_mib())
    }

    /// The upload that [`Budget::entered`] last was planned with `parts`
    /// parts that will measure the link ([`crate::engine::Plan::pacing_parts`]).
    pub fn planned(&self, parts: u64) {
        self.parts.set(self.parts.get() + parts);
    }

    /// An upload [`Budget::entered`] ended; it was planned with `parts` parts.
    pub fn left(&self, parts: u64) {
        self.uploads.set(self.uploads.get().saturating_sub(1));
        self.parts.set(self.parts.get().saturating_sub(parts));
    }

    /// A signature took `ms`: the quickest is the backend's round trip.
    pub fn saw_rtt(&self, ms: u64) {
        self.rtt_ms.set(Some(self.rtt_ms.get().map_or(ms, |was| was.min(ms))));
    }

    /// Whether a multipart file of `size` bytes that would begin now waits
    /// for the link to be measured ([`crate::engine::plan::holds_back`]).
    pub fn holds_back(&self, size: u64, round_max: u64) -> bool {
        let w = self.window.get();
        crate::engine::plan::holds_back(
            size,
            self.parts.get(),
            w.limit(),
            round_max,
            w.part_ms_per_mib(),
            self.rtt_ms.get(),
        )
    }

    /// What a file that begins with others learns of the link besides
    /// [`Budget::entered`]'s pace: the backend's round trip and the PUTs at
    /// a time.
    pub fn link(&self) -> (Option<u64>, usize) {
        (self.rtt_ms.get(), self.window.get().limit())
    }

    /// A PUT ended: its slot is free again.
    pub fn release(&self) {
        self.in_use.set(self.in_use.get().saturating_sub(1));
        self.wake();
    }

    /// Changes the window with `f`; its answer.
    fn update<T>(&self, f: impl FnOnce(&mut Window) -> T) -> T {
        let mut w = self.window.get();
        let out = f(&mut w);
        self.window.set(w);
        out
    }

    fn wake(&self) {
        self.woken.set(true);
    }

    /// A PUT started at `now_ms`.
    pub fn started(&self, now_ms: u64) {
        self.update(|w| w.on_start(now_ms));
    }

    /// A PUT of `bytes` that ran `took_ms` succeeded at `now_ms`; a grown
    /// window wakes the uploads.
    pub fn succeeded(&self, bytes: u64, took_ms: u64, now_ms: u64) {
        if self.update(|w| w.on_done(bytes, took_ms, now_ms)) {
            self.wake();
        }
    }

    /// A PUT was throttled, stalled or lost on the network at `now_ms`.
    pub fn troubled(&self, now_ms: u64) {
        self.update(|w| w.on_trouble(now_ms));
    }

    /// Whether a PUT slot is free.
    pub fn has_free(&self) -> bool {
        self.with(|free| *free > 0)
    }

    /// Whether a slot freed up or the window grew since last asked: the
    /// uploads waiting for one may start PUTs.
    pub fn woke(&self) -> bool {
        self.woken.replace(false)
    }
}
