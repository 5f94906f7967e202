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

#[wasm_bindgen(inline_js = r#"
// Many uploads started at once (a folder, a multi-file input) start in turns:
// the first ones go on at once while the task that started them has had
// less than SLICE_MS of their work; the others wait, and each later task
// (a MessageChannel message, so timers' clamping does not apply) lets one
// more start. The page's thread is never held for long by starting work,
// which a File's synchronous `size` and `lastModified` make slow in
// Chromium; one upload alone never waits.
const SLICE_MS = 5;
let open = false;
let until = 0;
const waiting = [];
let channel = null;
function post() {
  if (!channel && typeof MessageChannel === 'function') {
    channel = new MessageChannel();
    channel.port1.onmessage = next;
  }
  if (channel) channel.port2.postMessage(0);
  else setTimeout(next, 0);
}
function next() {
  open = false;
  const go = waiting.shift();
  if (!go) return;
  open = true;
  until = performance.now() + SLICE_MS;
  post();
  go();
}
export function turn() {
  const now = performance.now();
  if (!open) {
    open = true;
    until = now + SLICE_MS;
    post();
    return undefined;
  }
  if (!waiting.length && now < until) return undefined;
  return new Promise((resolve) => waiting.push(resolve));
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = turn)]
    fn js_turn() -> JsValue;
}

/// Waits for this upload's turn to start: at once when few are starting,
/// else in a later task of the page (see the JS above).
pub async fn turn() {
    if let Ok(p) = js_turn().dyn_into::<js_sys::Promise>() {
        let _ = wasm_bindgen_futures::JsFuture::from(p).await;
    }
}
