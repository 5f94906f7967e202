//! Runs one engine [`Upload`] in the browser: carries out its actions
//! (backend calls, XHR PUTs of `File` slices, timers) and feeds the results
//! back as events. No decision is made here.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use futures::channel::mpsc::{UnboundedReceiver, UnboundedSender, unbounded};
use futures::{FutureExt, StreamExt};
use wasm_bindgen_futures::spawn_local;
use web_sys::Blob;

use crate::backend::{Backend, CallError};
use crate::browser::xhr::{self, XhrPut};
use crate::engine::{Action, Call, Event, Outcome, Progress, Upload, UploadError};

/// What the application can do to a running upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Stop sending, keep what is stored.
    Pause,
    /// Go on after a pause.
    Resume,
    /// Stop and delete the multipart upload.
    Abort,
}

/// Callbacks into the application.
pub trait Observer {
    /// Progress changed.
    fn progress(&self, p: &Progress);
    /// A part is stored.
    fn part_complete(&self, part: u16, etag: &str, size: u64);
    /// A retry is coming.
    fn retrying(&self, part: Option<u16>, attempt: u32, delay_ms: u64, reason: &UploadError);
}

/// What to upload, and where.
pub struct Job {
    /// The bytes (a `File` is a `Blob`).
    pub file: Blob,
    /// Object key.
    pub key: String,
    /// MIME type.
    pub content_type: String,
    /// Send cookies with part PUTs.
    pub with_credentials: bool,
}

/// Milliseconds on the browser's clock.
pub fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// Runs `upload` to the end.
pub async fn run(
    mut upload: Upload,
    job: Job,
    backend: Rc<Backend>,
    observer: Rc<dyn Observer>,
    mut control: UnboundedReceiver<Control>,
) -> Result<Outcome, UploadError> {
    let (tx, mut rx) = unbounded::<Event>();
    let mut puts: HashMap<u16, XhrPut> = HashMap::new();
    let job = Rc::new(job);
    let single_url: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
    loop {
        let now = now_ms();
        while let Some(action) = upload.poll(now) {
            match action {
                Action::Put {
                    part,
                    attempt,
                    url,
                    start,
                    end,
                } => {
                    if upload.plan().single {
                        *single_url.borrow_mut() = Some(url.clone());
                    }
                    // The body is a slice of the File: its bytes never enter WASM memory.
                    match job.file.slice_with_f64_and_f64(start as f64, end as f64) {
                        Ok(blob) => {
                            match xhr::put(&url, &blob, job.with_credentials, part, attempt, &tx) {
                                Ok(handle) => {
                                    puts.insert(part, handle);
                                }
                                Err(failure) => upload.handle(
                                    Event::PartFailed {
                                        part,
                                        attempt,
                                        failure,
                                    },
                                    now,
                                ),
                            }
                        }
                        Err(e) => {
                            let failure = crate::engine::Failure::Network(format!(
                                "cannot slice the file: {e:?}"
                            ));
                            upload.handle(
                                Event::PartFailed {
                                    part,
                                    attempt,
                                    failure,
                                },
                                now,
                            );
                        }
                    }
                }
                Action::Cancel { part } => {
                    puts.remove(&part);
                }
                Action::Progress(p) => observer.progress(&p),
                Action::PartComplete { part, etag, size } => {
                    observer.part_complete(part, &etag, size)
                }
                Action::Retrying {
                    part,
                    attempt,
                    delay_ms,
                    reason,
                } => observer.retrying(part, attempt, delay_ms, &reason),
                Action::Finished(result) => {
                    drop(puts);
                    return result.map(|mut outcome| {
                        if outcome.location.is_none() {
                            outcome.location = single_url
                                .borrow()
                                .as_deref()
                                .map(|u| xhr::redact(u).to_owned());
                        }
                        outcome
                    });
                }
                call => spawn_call(call, &job, &backend, &tx),
            }
        }
        let wake_in = upload.next_wakeup().map(|t| t.saturating_sub(now_ms()));
        let timer = async move {
            match wake_in {
                Some(ms) => {
                    gloo_timers::future::TimeoutFuture::new(u32::try_from(ms).unwrap_or(u32::MAX))
                        .await
                }
                None => futures::future::pending::<()>().await,
            }
        };
        futures::select! {
            ev = rx.next() => {
                let Some(ev) = ev else { continue };
                if let Event::PartDone { part, .. } | Event::PartFailed { part, .. } = &ev {
                    puts.remove(part);
                }
                upload.handle(ev, now_ms());
            }
            ctl = control.next() => match ctl {
                Some(Control::Pause) => upload.pause(),
                Some(Control::Resume) => upload.resume(),
                Some(Control::Abort) | None => upload.abort(),
            },
            () = timer.fuse() => {}
        }
    }
}

/// Starts a backend call; its answer comes back on `tx` as an event.
fn spawn_call(action: Action, job: &Rc<Job>, backend: &Rc<Backend>, tx: &UnboundedSender<Event>) {
    let (job, backend, tx) = (job.clone(), backend.clone(), tx.clone());
    spawn_local(async move {
        let (call, result) = match action {
            Action::Init => {
                let r = backend.init(&job.key, &job.content_type).await;
                (
                    Call::Init,
                    r.map(|upload_id| Event::Initiated { upload_id }),
                )
            }
            Action::Sign { part, upload_id } => {
                let r = match upload_id {
                    Some(id) => backend.sign_part(&job.key, &id, part).await,
                    None => backend.presign_put(&job.key, &job.content_type).await,
                };
                (Call::Sign(part), r.map(|url| Event::Signed { part, url }))
            }
            Action::Complete { upload_id, parts } => {
                let r = backend.complete(&job.key, &upload_id, &parts).await;
                (
                    Call::Complete,
                    r.map(|(etag, location)| Event::Completed { etag, location }),
                )
            }
            Action::Abort { upload_id } => {
                let r = backend.abort(&job.key, &upload_id).await;
                (Call::Abort, r.map(|()| Event::AbortDone))
            }
            _ => return,
        };
        let _ = tx.unbounded_send(as_event(call, result));
    });
}

fn as_event(call: Call, result: Result<Event, CallError>) -> Event {
    match result {
        Ok(ev) => ev,
        Err(CallError::Transient(failure)) => Event::CallFailed { call, failure },
        Err(CallError::Rejected(error)) => Event::CallRejected { call, error },
    }
}
