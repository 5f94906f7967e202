//! A single-threaded unbounded channel: what the browser driver needs of
//! `futures::channel::mpsc`, without `std` (which it needs) and without its
//! atomics and generality (docs/SIZE.md). Plain Rust, tested natively.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use core::cell::RefCell;
use core::task::{Context, Poll, Waker};

struct Shared<T> {
    queue: VecDeque<T>,
    waker: Option<Waker>,
    senders: usize,
    receiver: bool,
}

/// The sending side; clones send into the same channel.
pub struct UnboundedSender<T>(Rc<RefCell<Shared<T>>>);

/// The receiving side.
pub struct UnboundedReceiver<T>(Rc<RefCell<Shared<T>>>);

/// A channel whose sends never wait.
pub fn unbounded<T>() -> (UnboundedSender<T>, UnboundedReceiver<T>) {
    let shared = Rc::new(RefCell::new(Shared { queue: VecDeque::new(), waker: None, senders: 1, receiver: true }));
    (UnboundedSender(shared.clone()), UnboundedReceiver(shared))
}

impl<T> UnboundedSender<T> {
    /// Queues `value` and wakes the receiver; `Err(value)` once the receiver is gone.
    pub fn unbounded_send(&self, value: T) -> Result<(), T> {
        let mut s = self.0.borrow_mut();
        if !s.receiver {
            return Err(value);
        }
        s.queue.push_back(value);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
        Ok(())
    }
}

impl<T> Clone for UnboundedSender<T> {
    fn clone(&self) -> Self {
        self.0.borrow_mut().senders += 1;
        Self(self.0.clone())
    }
}

impl<T> Drop for UnboundedSender<T> {
    fn drop(&mut self) {
        let mut s = self.0.borrow_mut();
        s.senders -= 1;
        if s.senders == 0
            && let Some(w) = s.waker.take()
        {
            w.wake();
        }
    }
}

impl<T> UnboundedReceiver<T> {
    /// The next value; `Ready(None)` once every sender is gone and the queue is empty.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut s = self.0.borrow_mut();
        if let Some(v) = s.queue.pop_front() {
            return Poll::Ready(Some(v));
        }
        if s.senders == 0 {
            return Poll::Ready(None);
        }
        s.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl<T> Drop for UnboundedReceiver<T> {
    fn drop(&mut self) {
        let mut s = self.0.borrow_mut();
        s.receiver = false;
        s.queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::task::Waker;

    fn poll<T>(rx: &mut UnboundedReceiver<T>) -> Poll<Option<T>> {
        rx.poll_next(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn values_arrive_in_order_then_none_once_every_sender_is_gone() {
        let (tx, mut rx) = unbounded();
        let tx2 = tx.clone();
        assert_eq!(poll(&mut rx), Poll::Pending);
        tx.unbounded_send(1).unwrap();
        tx2.unbounded_send(2).unwrap();
        drop(tx);
        assert_eq!(poll(&mut rx), Poll::Ready(Some(1)));
        assert_eq!(poll(&mut rx), Poll::Ready(Some(2)));
        assert_eq!(poll(&mut rx), Poll::Pending, "a sender is left");
        drop(tx2);
        assert_eq!(poll(&mut rx), Poll::Ready(None));
    }

    #[test]
    fn a_send_wakes_the_waiting_receiver_and_fails_once_it_is_gone() {
        use alloc::sync::Arc;
        use core::sync::atomic::{AtomicUsize, Ordering};
        struct Count(AtomicUsize);
        impl alloc::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let (tx, mut rx) = unbounded::<u8>();
        assert!(rx.poll_next(&mut Context::from_waker(&waker)).is_pending());
        tx.unbounded_send(7).unwrap();
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "the send woke the receiver");
        drop(rx);
        assert_eq!(tx.unbounded_send(8), Err(8), "nobody listens any more");
    }
}
