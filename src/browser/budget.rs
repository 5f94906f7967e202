//! One concurrency budget shared by the uploads of one `Uploader`: how many
//! more part PUTs may start. The engine takes slots as it starts PUTs
//! ([`crate::engine::Upload::poll_shared`]); the driver gives one back when a
//! PUT ends and wakes the other uploads, which may be waiting for it.

#[allow(unused_imports)]
use crate::prelude::*;

use core::cell::{Cell, RefCell};

use crate::chan::{UnboundedReceiver, UnboundedSender, unbounded};

/// Free PUT slots, and who to wake when one frees up.
pub struct Budget {
    free: Cell<usize>,
    waiters: RefCell<Vec<UnboundedSender<()>>>,
}

impl Budget {
    /// A budget of `slots` PUTs.
    pub fn new(slots: usize) -> Self {
        Self { free: Cell::new(slots), waiters: RefCell::new(Vec::new()) }
    }

    /// Lets `f` take slots from the budget.
    pub fn with<T>(&self, f: impl FnOnce(&mut usize) -> T) -> T {
        let mut free = self.free.get();
        let out = f(&mut free);
        self.free.set(free);
        out
    }

    /// A PUT ended: its slot is free again.
    pub fn release(&self) {
        self.free.set(self.free.get() + 1);
        self.waiters.borrow_mut().retain(|w| w.unbounded_send(()).is_ok());
    }

    /// A stream that ticks whenever a slot frees up.
    pub fn subscribe(&self) -> UnboundedReceiver<()> {
        let (tx, rx) = unbounded();
        self.waiters.borrow_mut().push(tx);
        rx
    }
}
