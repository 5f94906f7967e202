//! Checksums the store verifies: CRC32 of each part (sent as
//! `x-amz-checksum-crc32`, signed into its presigned URL by the backend) and
//! the full-object CRC32 of the whole file at complete (S3's `FULL_OBJECT`
//! checksum type), combined from the parts' CRCs without reading the file
//! again. The hashing itself ([`Crc32`]) runs where the bytes are read, in
//! the glue, chunk by chunk.

#[allow(unused_imports)]
use crate::prelude::*;

/// The algorithms of the `checksum` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// CRC32 (IEEE), S3's `CRC32`.
    Crc32,
}

impl Algorithm {
    /// S3's name, as in `x-amz-checksum-algorithm`.
    pub fn s3_name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
        }
    }

    /// The header that carries a checksum of this algorithm.
    pub fn header(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
        }
    }
}

/// A part's CRC32 register as a hasher left it after the part's bytes: the
/// hashing Worker's module (`s3mp_hasher`, in Rust) or, where no Worker
/// runs, the page (src/glue.js, `crc32Update`). The module gets registers,
/// never bytes.
#[derive(Debug, Clone)]
pub struct Crc32(u32);

impl Crc32 {
    /// The register a hasher left (it starts from `!0`).
    pub fn from_state(state: u32) -> Self {
        Self(state)
    }

    /// The CRC of the bytes hashed.
    pub fn finish(self) -> u32 {
        !self.0
    }
}

/// Base64's digits.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// A CRC as S3 writes it: base64 of its 4 big-endian bytes (eight
/// characters, the last two `=`; written here rather than with the base64
/// crate, which adds 2.2 KB to the gzipped module for these four bytes).
pub fn to_base64(crc: u32) -> String {
    // 32 bits as six-bit digits, most significant first, padded to 36 bits.
    let bits = u64::from(crc) << 4;
    let mut out: String = (0..6).rev().map(|i| char::from(ALPHABET[((bits >> (6 * i)) & 63) as usize])).collect();
    out.push_str("==");
    out
}

/// The CRC that [`to_base64`] writes as `s`; `None` for anything else
/// (another length, padding or alphabet, bits set past the 32).
pub fn from_base64(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 8 || &b[6..] != b"==" {
        return None;
    }
    let mut bits = 0u64;
    for c in &b[..6] {
        bits = bits << 6 | ALPHABET.iter().position(|a| a == c)? as u64;
    }
    (bits & 15 == 0).then_some((bits >> 4) as u32)
}

/// The CRC of the concatenation of byte runs whose CRCs and lengths are
/// given, in order.
pub fn combine(parts: impl IntoIterator<Item = (u32, u64)>) -> u32 {
    let mut whole = crc32fast::Hasher::new();
    for (crc, len) in parts {
        whole.combine(&crc32fast::Hasher::new_with_initial_len(crc, len));
    }
    whole.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `s3mp_hasher`'s tables (the hashing Worker's code, tested here).
    fn tables() -> Box<s3mp_hasher::Tables> {
        let mut t = Box::new([[0u32; 256]; 16]);
        s3mp_hasher::fill_tables(&mut t);
        t
    }

    /// The CRC of `bytes` as the hashing Worker computes it.
    fn crc(bytes: &[u8]) -> u32 {
        Crc32::from_state(s3mp_hasher::update(&tables(), !0, bytes)).finish()
    }

    #[test]
    fn crc32_as_s3_writes_it() {
        // The CRC32 check value, and S3's documented form of it.
        assert_eq!(crc(b"123456789"), 0xCBF4_3926);
        assert_eq!(to_base64(0xCBF4_3926), "y/Q5Jg==");
        for v in [0, 1, 0xCBF4_3926, u32::MAX, 0x8000_0000] {
            assert_eq!(from_base64(&to_base64(v)), Some(v), "{v:#x}");
        }
        for bad in ["", "y/Q5Jg=", "y/Q5Jg==x", "y/Q5Jh==", "y/Q5J===", "y/Q5Jg!=", "y-Q5Jg==", "AAAAAAAA"] {
            assert_eq!(from_base64(bad), None, "{bad:?}");
        }
        assert_eq!(to_base64(crc(b"")), "AAAAAA==");
        use base64::Engine as _;
        for v in [0, 1, 0xFF, 0x8000_0000, 0xFFFF_FFFF, 0x1234_5678, 0xCBF4_3926, 0xDEAD_BEEF] {
            assert_eq!(to_base64(v), base64::engine::general_purpose::STANDARD.encode(u32::to_be_bytes(v)), "{v:#x}");
        }
    }

    #[test]
    fn agrees_with_crc32fast_on_every_length_and_alignment() {
        let data: Vec<u8> = (0..5_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for start in 0..9 {
            for end in (start..data.len()).step_by(97).chain([data.len()]) {
                assert_eq!(crc(&data[start..end]), crc32fast::hash(&data[start..end]), "{start}..{end}");
            }
        }
    }

    #[test]
    fn parts_combine_into_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let cuts = [0, 1, 4_096, 33_333, 99_999, 100_000];
        let parts = cuts.windows(2).map(|w| (crc(&data[w[0]..w[1]]), (w[1] - w[0]) as u64));
        assert_eq!(combine(parts), crc(&data));
        // Chunk by chunk, as the Worker hashes a part.
        let t = tables();
        let state = data.chunks(777).fold(!0, |state, c| s3mp_hasher::update(&t, state, c));
        assert_eq!(Crc32::from_state(state).finish(), crc(&data));
        assert_ne!(combine([(crc(b"ab"), 2), (crc(b"c"), 1)]), crc(b"acb"));
    }
}
