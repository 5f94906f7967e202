//! Thin browser glue: the upload's run (the commands the glue in
//! src/glue.js carries out: XHR part PUTs, backend calls, hashing, the
//! journal, timers) and the shared concurrency budget. Nothing here waits,
//! and nothing assumes `window`: it runs in a Web Worker as well.

pub mod budget;
pub mod driver;
pub mod small_map;

/// A URL without its query (which holds the signature), for messages.
pub fn redact(url: &str) -> &str {
    crate::before(url, b'?')
}
