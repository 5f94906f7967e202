//! # s3-multipart-wasm
//!
//! A browser client for S3 multipart uploads through presigned URLs, compiled
//! to WebAssembly. The [`engine`] (pure Rust, tested natively) decides what to
//! send, when to retry and how far along an upload is; the browser glue
//! (`browser`, `backend`, `api`, only on `wasm32`) turns its steps into
//! commands for the module's JavaScript (`src/glue.js`), which PUTs `File`
//! slices with `XMLHttpRequest`, talks to the application's backend and does
//! all the waiting: the module holds no futures, channels or closures.
//!
//! The crate is `no_std` + `alloc`: in the shipped WASM module (built without
//! the default `std` feature) nothing of `std` is linked, so neither is its
//! panic machinery and the formatting it drags in (docs/SIZE.md). A panic
//! there traps (`RuntimeError: unreachable`).

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

/// What `std`'s prelude would bring, from `alloc`.
mod prelude {
    pub use alloc::borrow::ToOwned;
    // (Only the browser glue boxes anything.)
    #[cfg(target_arch = "wasm32")]
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec;
    pub use alloc::vec::Vec;
}

/// Where `needle` first occurs in `hay`: a plain scan. `str::find` and
/// `str::contains` with a string pattern bring core's two-way searcher
/// (about 3 KB of WebAssembly with its slicing checks) for the handful of
/// short error bodies and messages searched here.
pub fn find_str(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return Some(0);
    }
    h.windows(n.len()).position(|w| w == n)
}

/// `s` cut at its first byte `b` (ASCII): what is before it and after it.
/// With `cut` and [`pieces`] instead of `split`/`split_once` with a `char`,
/// the module carries no `CharSearcher` (core's memchr-based search, about
/// 1 KB of WebAssembly) for the few URLs and keys it splits.
pub fn cut(s: &str, b: u8) -> Option<(&str, &str)> {
    let i = s.bytes().position(|c| c == b)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

/// `s` up to its first byte `b` (ASCII), or all of it.
pub fn before(s: &str, b: u8) -> &str {
    cut(s, b).map_or(s, |(a, _)| a)
}

/// `s` without the bytes `b` (ASCII) it ends with.
pub fn trim_end(s: &str, b: u8) -> &str {
    s.get(..s.bytes().rposition(|c| c != b).map_or(0, |i| i + 1)).unwrap_or_default()
}

/// The pieces of `s` between its bytes `b` (ASCII), as `str::split` gives them.
pub fn pieces(s: &str, b: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(s);
    core::iter::from_fn(move || {
        let r = rest?;
        match cut(r, b) {
            Some((piece, after)) => {
                rest = Some(after);
                Some(piece)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// `items` joined by `sep`: one small loop, where `[&str]::join` and
/// `[String]::join` are each a kilobyte of generic code.
pub fn join<S: AsRef<str>>(items: impl IntoIterator<Item = S>, sep: &str) -> alloc::string::String {
    let mut out = alloc::string::String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(sep);
        }
        out.push_str(item.as_ref());
    }
    out
}

/// A piece of a message for [`cat!`]: text, or a whole number written in
/// decimal. Messages are made with `cat!` rather than `format!`: core's
/// formatting machinery (`Formatter`, padding, each call's `Arguments`) is
/// kilobytes of the module for what is only ever text and whole numbers
/// here (docs/SIZE.md).
pub trait Piece {
    /// Appends this piece to `out`.
    fn put(&self, out: &mut alloc::string::String);
}

impl Piece for str {
    fn put(&self, out: &mut alloc::string::String) {
        out.push_str(self);
    }
}

impl Piece for alloc::string::String {
    fn put(&self, out: &mut alloc::string::String) {
        out.push_str(self);
    }
}

impl<T: Piece + ?Sized> Piece for &T {
    fn put(&self, out: &mut alloc::string::String) {
        (**self).put(out);
    }
}

impl Piece for u64 {
    fn put(&self, out: &mut alloc::string::String) {
        let mut digits = [0u8; 20];
        let (mut n, mut at) = (*self, digits.len());
        loop {
            at -= 1;
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        for &d in &digits[at..] {
            out.push(char::from(d));
        }
    }
}

macro_rules! piece_as_u64 {
    ($($t:ty),*) => {$(
        impl Piece for $t {
            fn put(&self, out: &mut alloc::string::String) {
                (*self as u64).put(out);
            }
        }
    )*};
}
piece_as_u64!(u8, u16, u32, usize);

/// A `String` of the pieces given ([`Piece`]): `cat!("part ", n, " of ", total)`.
#[macro_export]
macro_rules! cat {
    ($($piece:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut out = alloc::string::String::new();
        $( $crate::Piece::put(&$piece, &mut out); )*
        out
    }};
}

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

/// How many upload runs and backend calls are alive in the module: the
/// browser tests check that an upload frees its own when it ends (the glue
/// frees each, it does not wait for the garbage collector). Counted only in
/// the tests' build (`std`), not in the shipped module.
#[cfg(all(target_arch = "wasm32", feature = "std"))]
pub mod live {
    use core::sync::atomic::{AtomicI32, Ordering::Relaxed};

    pub(crate) static RUNS: AtomicI32 = AtomicI32::new(0);
    pub(crate) static CALLS: AtomicI32 = AtomicI32::new(0);

    /// `[runs, calls]` alive now.
    pub fn objects() -> [i32; 2] {
        [RUNS.load(Relaxed), CALLS.load(Relaxed)]
    }

    pub(crate) fn count(of: &AtomicI32, by: i32) {
        of.fetch_add(by, Relaxed);
    }
}

/// Talc instead of the default dlmalloc: smaller in the module, faster.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Without `std` a panic traps: no message, no formatting code in the module.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(test)]
mod find_str_tests {
    use super::find_str;

    #[test]
    fn cat_writes_what_format_writes() {
        for n in [0u64, 7, 10, 99, 100, 65_535, 4_294_967_295, u64::MAX] {
            assert_eq!(crate::cat!(n), format!("{n}"));
        }
        let (s, owned, small, mid, size) = ("part", String::from("of"), 3u16, 70_000u32, 12usize);
        assert_eq!(
            crate::cat!(s, " ", small, " ", owned, " ", mid, "/", size, ""),
            format!("{s} {small} {owned} {mid}/{size}")
        );
        assert_eq!(crate::cat!(), "");
    }

    #[test]
    fn join_joins_as_slice_join_does() {
        assert_eq!(super::join(["a", "b", "c"], ", "), ["a", "b", "c"].join(", "));
        assert_eq!(super::join(Vec::<String>::new(), "/"), "");
        assert_eq!(super::join(["x".to_owned()], "/"), "x");
    }

    #[test]
    fn finds_what_str_find_finds() {
        let hay = "<Error><Code>BadDigest</Code><Message>é ü</Message></Error>";
        for needle in ["<Code>", "</Code>", "BadDigest", "é ü", "Error>", "", "<Error>", "nope", "</Error>x"] {
            assert_eq!(find_str(hay, needle), hay.find(needle), "{needle:?}");
        }
        assert_eq!(find_str("", "a"), None);
        assert_eq!(find_str("ab", "abc"), None);
    }

    #[test]
    fn cut_before_pieces_and_trim_end_give_what_str_gives() {
        let cases = [
            "",
            "/",
            "//",
            "a",
            "a/",
            "/a",
            "a/b",
            "a//b/",
            "é/ü/x",
            "https://h/api//",
            "é/",
            "x-amz=1&b=é&c",
            "?",
            "a?b?c",
        ];
        for s in cases {
            for (b, c) in [(b'/', '/'), (b'&', '&'), (b'?', '?'), (b'=', '=')] {
                assert_eq!(super::cut(s, b), s.split_once(c), "{s:?} {c:?}");
                assert_eq!(super::before(s, b), s.split(c).next().unwrap_or(s), "{s:?} {c:?}");
                assert_eq!(super::pieces(s, b).collect::<Vec<_>>(), s.split(c).collect::<Vec<_>>(), "{s:?} {c:?}");
                assert_eq!(super::trim_end(s, b), s.trim_end_matches(c), "{s:?} {c:?}");
            }
        }
    }
}
