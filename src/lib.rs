//! # s3-multipart-wasm
//!
//! A browser client for S3 multipart uploads through presigned URLs, compiled
//! to WebAssembly. The [`engine`] (pure Rust, tested natively) decides what to
//! send, when to retry and how far along an upload is; the browser glue
//! (`browser`, `backend`, `api`, only on `wasm32`) PUTs `File` slices with
//! `XMLHttpRequest` and talks to the application's backend.

pub mod engine;
pub mod json;
pub mod protocol;
pub mod resume;

#[cfg(target_arch = "wasm32")]
mod api;
#[cfg(target_arch = "wasm32")]
pub use api::Uploader;
#[cfg(target_arch = "wasm32")]
mod backend;
#[cfg(target_arch = "wasm32")]
mod browser;

/// Talc instead of the default dlmalloc: smaller in the module, faster.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();
