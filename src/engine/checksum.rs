//! Checksums the store verifies: CRC32 of each part (sent as
//! `x-amz-checksum-crc32`, signed into its presigned URL by the backend) and
//! the full-object CRC32 of the whole file at complete (S3's `FULL_OBJECT`
//! checksum type), combined from the parts' CRCs without reading the file
//! again. The hashing itself ([`Crc32`]) runs where the bytes are read, in
//! the glue, chunk by chunk.

use base64::Engine as _;

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

/// A running CRC32 over chunks of a part.
#[derive(Debug, Clone, Default)]
pub struct Crc32(crc32fast::Hasher);

impl Crc32 {
    /// Adds `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The CRC of everything added.
    pub fn finish(self) -> u32 {
        self.0.finalize()
    }
}

/// A CRC as S3 writes it: base64 of its 4 big-endian bytes.
pub fn to_base64(crc: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(crc.to_be_bytes())
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

    fn crc(bytes: &[u8]) -> u32 {
        let mut h = Crc32::default();
        h.update(bytes);
        h.finish()
    }

    #[test]
    fn crc32_as_s3_writes_it() {
        // The CRC32 check value, and S3's documented form of it.
        assert_eq!(crc(b"123456789"), 0xCBF4_3926);
        assert_eq!(to_base64(0xCBF4_3926), "y/Q5Jg==");
        assert_eq!(to_base64(crc(b"")), "AAAAAA==");
    }

    #[test]
    fn parts_combine_into_the_whole() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
        let cuts = [0, 1, 4_096, 33_333, 99_999, 100_000];
        let parts = cuts.windows(2).map(|w| (crc(&data[w[0]..w[1]]), (w[1] - w[0]) as u64));
        assert_eq!(combine(parts), crc(&data));
        let mut chunked = Crc32::default();
        for c in data.chunks(777) {
            chunked.update(c);
        }
        assert_eq!(chunked.finish(), crc(&data));
        assert_ne!(combine([(crc(b"ab"), 2), (crc(b"c"), 1)]), crc(b"acb"));
    }
}
