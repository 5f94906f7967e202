//! A future that fires after a delay: the global `setTimeout` (window or
//! worker), cleared when dropped; what the driver needed of gloo-timers,
//! without `std`.

#[allow(unused_imports)]
use crate::prelude::*;

use alloc::rc::Rc;
use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &JsValue, ms: u32) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// A future that is ready `ms` milliseconds after it was made (the global
/// `setTimeout`: window or worker); dropping it clears the timeout.
pub struct Timeout {
    id: JsValue,
    state: Rc<(Cell<bool>, RefCell<Option<Waker>>)>,
    _closure: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Fires after `ms` milliseconds.
    pub fn new(ms: u32) -> Self {
        let state = Rc::new((Cell::new(false), RefCell::new(None::<Waker>)));
        let fired = state.clone();
        let closure = Closure::<dyn FnMut()>::new(move || {
            fired.0.set(true);
            if let Some(w) = fired.1.borrow_mut().take() {
                w.wake();
            }
        });
        let id = set_timeout(closure.as_ref(), ms);
        Self { id, state, _closure: closure }
    }
}

impl Future for Timeout {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.0.get() {
            return Poll::Ready(());
        }
        *self.state.1.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if !self.state.0.get() {
            clear_timeout(&self.id);
        }
    }
}
