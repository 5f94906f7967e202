//! CRC32 speed of the client's hasher (`engine::checksum::Crc32`) beside
//! crc32fast, natively: `cargo run --release --example crc_speed`. (In the
//! browser the hasher runs as WASM; BENCHMARKS.md has its cost there.)
use std::time::Instant;

use s3_multipart_wasm::engine::checksum::Crc32;

fn main() {
    let data: Vec<u8> = (0..64u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    for round in 0..3 {
        let t = Instant::now();
        let mut h = Crc32::default();
        for chunk in data.chunks(1 << 20) {
            h.update(chunk);
        }
        let ours = h.finish();
        let a = t.elapsed();
        let t = Instant::now();
        let theirs = crc32fast::hash(&data);
        let b = t.elapsed();
        assert_eq!(ours, theirs);
        let mbps = |d: std::time::Duration| 64.0 * 1.048_576 / d.as_secs_f64();
        println!("round {round}: ours {:.0} MB/s, crc32fast {:.0} MB/s", mbps(a), mbps(b));
    }
}
