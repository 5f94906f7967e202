//! CRC32 speed of the hashing Worker's code (`s3mp_hasher`, slicing by 16)
//! beside crc32fast, natively: `cargo run --release --example crc_speed`.
//! (In the browser it runs as the Worker's WASM module; BENCHMARKS.md has
//! its cost there.)
use std::time::Instant;

fn main() {
    let data: Vec<u8> = (0..64u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
    let mut tables = Box::new([[0u32; 256]; 16]);
    s3mp_hasher::fill_tables(&mut tables);
    for round in 0..3 {
        let t = Instant::now();
        let state = data.chunks(1 << 20).fold(!0, |state, chunk| s3mp_hasher::update(&tables, state, chunk));
        let ours = !state;
        let a = t.elapsed();
        let t = Instant::now();
        let theirs = crc32fast::hash(&data);
        let b = t.elapsed();
        assert_eq!(ours, theirs);
        let mbps = |d: std::time::Duration| 64.0 * 1.048_576 / d.as_secs_f64();
        println!("round {round}: ours {:.0} MB/s, crc32fast {:.0} MB/s", mbps(a), mbps(b));
    }
}
