//! Checksums the store verifies: CRC32 of each part (sent as
//! `x-amz-checksum-crc32`, signed into its presigned URL by the backend) and
//! the full-object CRC32 of the whole file at complete (S3's `FULL_OBJECT`
//! checksum type), combined from the parts' CRCs without reading the file
//! again. The hashing itself ([`Crc32`]) runs where the bytes are read, in
//! the glue, chunk by chunk.

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

/// CRC32 (IEEE, reflected) tables for slicing by 16, made at first use: 16
/// KiB of memory, none of the module. (crc32fast's tables, the same ones, are
/// compiled into the module: 17.8 KB of its gzipped size, measured. Its
/// `combine` below uses no table.)
fn tables() -> &'static [[u32; 256]; 16] {
    static TABLES: std::sync::OnceLock<Box<[[u32; 256]; 16]>> = std::sync::OnceLock::new();
    TABLES.get_or_init(|| {
        let mut t = Box::new([[0u32; 256]; 16]);
        for i in 0..256u32 {
            let mut c = i;
            for _ in 0..8 {
                c = if c & 1 == 1 { 0xEDB8_8320 ^ (c >> 1) } else { c >> 1 };
            }
            t[0][i as usize] = c;
        }
        for i in 0..256 {
            for k in 1..16 {
                let prev = t[k - 1][i];
                t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            }
        }
        t
    })
}

/// A running CRC32 over chunks of a part.
#[derive(Debug, Clone)]
pub struct Crc32(u32);

impl Default for Crc32 {
    fn default() -> Self {
        Self(!0)
    }
}

impl Crc32 {
    /// Goes on from a register saved with [`Crc32::state`].
    pub fn from_state(state: u32) -> Self {
        Self(state)
    }

    /// The register as it stands (not the CRC: see [`Crc32::finish`]).
    pub fn state(&self) -> u32 {
        self.0
    }

    /// Adds `bytes`, 16 at a time (each table indexed by a byte: no bounds
    /// checks).
    pub fn update(&mut self, bytes: &[u8]) {
        let t = tables();
        let mut c = self.0;
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
        self.0 = c;
    }

    /// The CRC of everything added.
    pub fn finish(self) -> u32 {
        !self.0
    }
}

/// A CRC as S3 writes it: base64 of its 4 big-endian bytes (eight
/// characters, the last two `=`; written here rather than with the base64
/// crate, which adds 2.2 KB to the gzipped module for these four bytes).
pub fn to_base64(crc: u32) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    // 32 bits as six-bit digits, most significant first, padded to 36 bits.
    let bits = u64::from(crc) << 4;
    let mut out: String = (0..6).rev().map(|i| char::from(ALPHABET[((bits >> (6 * i)) & 63) as usize])).collect();
    out.push_str("==");
    out
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
        let mut chunked = Crc32::default();
        for c in data.chunks(777) {
            chunked.update(c);
        }
        assert_eq!(chunked.finish(), crc(&data));
        assert_ne!(combine([(crc(b"ab"), 2), (crc(b"c"), 1)]), crc(b"acb"));
    }
}
