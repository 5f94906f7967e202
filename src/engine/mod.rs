//! The upload engine: pure Rust, no browser APIs, no clock of its own.
//!
//! Layering (DESIGN.md §1–2): the engine decides, `browser/` carries out, `api.rs`
//! speaks JS. Everything here compiles and is tested natively with `cargo test`.

pub mod adapt;
pub mod checksum;
pub mod coordinator;
pub mod error;
pub mod plan;
pub mod progress;
pub mod retry;
pub mod upload;
pub mod url_expiry;

#[cfg(test)]
mod coordinator_tests;
#[cfg(test)]
mod scripted_tests;

pub use error::{ErrorCode, UploadError};
pub use plan::{PartRange, Plan};
pub use progress::Progress;
pub use retry::{Failure, RetryPolicy};
pub use upload::{Action, Call, Config, Event, Outcome, Upload};
