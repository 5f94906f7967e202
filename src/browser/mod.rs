//! Thin browser glue: XHR part PUTs, the shared concurrency budget, the resume
//! journal's storage, the driver loop that runs the engine. Nothing here
//! assumes `window`: it runs in a Web Worker as well.

pub mod budget;
pub mod driver;
pub mod hashing;
pub mod journal;
pub mod small_map;
pub mod timer;
pub mod xhr;
