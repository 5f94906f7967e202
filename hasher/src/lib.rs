//! CRC32 (IEEE, reflected), the checksum S3 calls `CRC32`, sliced by 16.
//!
//! The engine's `checksum::Crc32` runs on these functions, and so does the
//! hashing Worker: built alone with the `exports` feature this crate is the
//! Worker's own WebAssembly module (1.6 KB), which any build of the
//! package can start from a `blob:` URL: bundlers do not hand out the main
//! module, and this one needs neither imports nor an allocator.
//!
//! The 16 tables (16 KiB) are made at run time by [`fill_tables`]: compiled
//! in, they would add 16 KiB to every module that hashes.
#![no_std]

/// CRC32's tables for slicing by 16.
pub type Tables = [[u32; 256]; 16];

/// The reflected IEEE polynomial.
const POLY: u32 = 0xEDB8_8320;

/// Fills `t` with the tables [`update`] reads.
pub fn fill_tables(t: &mut Tables) {
    // Opaque to the optimiser: else it computes the first table at compile
    // time and ships it as 1 KiB of data that gzip cannot shrink, where
    // these few instructions make it in microseconds.
    let poly = core::hint::black_box(POLY);
    for i in 0..256u32 {
        let mut c = i;
        for _ in 0..8 {
            c = if c & 1 == 1 { poly ^ (c >> 1) } else { c >> 1 };
        }
        t[0][i as usize] = c;
    }
    for i in 0..256 {
        for k in 1..16 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
        }
    }
}

/// The register `crc` after `bytes`, 16 at a time (each table indexed by a
/// byte: no bounds checks). A CRC starts from `!0` and ends with `!`.
pub fn update(t: &Tables, crc: u32, bytes: &[u8]) -> u32 {
    let mut c = crc;
    let mut chunks = bytes.chunks_exact(16);
    for b in &mut chunks {
        let x = c.to_le_bytes();
        c = t[15][usize::from(b[0] ^ x[0])]
            ^ t[14][usize::from(b[1] ^ x[1])]
            ^ t[13][usize::from(b[2] ^ x[2])]
            ^ t[12][usize::from(b[3] ^ x[3])]
            ^ t[11][usize::from(b[4])]
            ^ t[10][usize::from(b[5])]
            ^ t[9][usize::from(b[6])]
            ^ t[8][usize::from(b[7])]
            ^ t[7][usize::from(b[8])]
            ^ t[6][usize::from(b[9])]
            ^ t[5][usize::from(b[10])]
            ^ t[4][usize::from(b[11])]
            ^ t[3][usize::from(b[12])]
            ^ t[2][usize::from(b[13])]
            ^ t[1][usize::from(b[14])]
            ^ t[0][usize::from(b[15])];
    }
    for &b in chunks.remainder() {
        c = (c >> 8) ^ t[0][usize::from(c as u8 ^ b)];
    }
    c
}

/// The Worker's module: one buffer the Worker copies each chunk of the file
/// into, and the step that adds it to a CRC register. Single-threaded (a
/// Worker's instance), so its statics need no lock.
#[cfg(feature = "exports")]
mod exports {
    use core::cell::UnsafeCell;

    use super::Tables;

    /// Bytes the Worker reads at a time.
    const CHUNK: usize = 1 << 20;

    struct Unshared<T>(UnsafeCell<T>);
    // SAFETY: the module runs in one Worker, on one thread, and no export
    // holds a reference across a call.
    unsafe impl<T> Sync for Unshared<T> {}

    static BUFFER: Unshared<[u8; CHUNK]> = Unshared(UnsafeCell::new([0; CHUNK]));
    static TABLES: Unshared<Option<Tables>> = Unshared(UnsafeCell::new(None));

    /// Where the Worker copies the next chunk (at most [`capacity`] bytes).
    #[unsafe(no_mangle)]
    pub extern "C" fn buffer() -> *mut u8 {
        BUFFER.0.get().cast()
    }

    /// The buffer's size.
    #[unsafe(no_mangle)]
    pub extern "C" fn capacity() -> usize {
        CHUNK
    }

    /// The register `state` after the buffer's first `len` bytes.
    #[unsafe(no_mangle)]
    pub extern "C" fn update(state: u32, len: usize) -> u32 {
        // SAFETY: see `Unshared`; nothing else refers to the statics now.
        let (tables, buffer) = unsafe { (&mut *TABLES.0.get(), &*BUFFER.0.get()) };
        let t = tables.get_or_insert_with(|| {
            let mut t = [[0; 256]; 16];
            super::fill_tables(&mut t);
            t
        });
        super::update(t, state, &buffer[..len.min(CHUNK)])
    }

    #[cfg(target_arch = "wasm32")]
    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo) -> ! {
        core::arch::wasm32::unreachable()
    }
}
