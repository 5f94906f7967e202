//! How much one event costs the engine, for plans of 100 and 10,000 parts:
//! a benchmark, not a test (`cargo run --release --example event_cost`).
//!
//! A synthetic world answers every action at once (URLs signed, each PUT
//! reporting progress 16 times, then stored); the engine's time is measured
//! over whole uploads and divided by the events fed in. With a cost per event
//! independent of the plan, the two figures agree; before the part index,
//! every event scanned every part.

use std::collections::VecDeque;
use std::time::Instant;

use s3_multipart_wasm::engine::{Action, Config, Event, Upload};

const MIB: u64 = 1024 * 1024;
const PROGRESS_EVENTS_PER_PART: u64 = 16;

/// Runs one upload of `parts` parts of 5 MiB; returns (events fed, seconds).
fn run(parts: u64) -> (u64, f64) {
    let cfg = Config { part_size: 5 * MIB, multipart_threshold: None, concurrency: 6, ..Config::default() };
    let mut up = Upload::new(parts * 5 * MIB, cfg, 1).expect("plan");
    let mut inbox: VecDeque<Event> = VecDeque::new();
    let mut events = 0u64;
    let mut now = 0u64;
    let started = Instant::now();
    loop {
        while let Some(action) = up.poll(now) {
            match action {
                Action::Hash { part, .. } => inbox.push_back(Event::Hashed { part, crc: u32::from(part) }),
                Action::Init { parts } => {
                    let signed = parts
                        .iter()
                        .map(|(part, _)| (*part, format!("https://s3.test/b/k?partNumber={part}")))
                        .collect();
                    inbox.push_back(Event::Initiated { upload_id: "u".into(), signed });
                }
                Action::Sign { part, .. } => {
                    inbox.push_back(Event::Signed { part, url: format!("https://s3.test/b/k?partNumber={part}") })
                }
                Action::Put { part, attempt, start, end, .. } => {
                    let len = end - start;
                    for k in 1..=PROGRESS_EVENTS_PER_PART {
                        inbox.push_back(Event::PartProgress {
                            part,
                            attempt,
                            loaded: len * k / PROGRESS_EVENTS_PER_PART,
                        });
                    }
                    inbox.push_back(Event::PartDone { part, attempt, etag: Some(format!("\"e{part}\"")) });
                }
                Action::Complete { .. } => inbox.push_back(Event::Completed { etag: None, location: None }),
                Action::Finished(result) => {
                    result.expect("the upload ends intact");
                    return (events, started.elapsed().as_secs_f64());
                }
                _ => {}
            }
        }
        let event = inbox.pop_front().expect("an event is pending");
        now += 1;
        events += 1;
        up.handle(event, now);
    }
}

fn main() {
    // Warm up, then the best of five runs of each size (the machine is shared).
    run(100);
    let mut rows = Vec::new();
    for parts in [100u64, 10_000] {
        let best = (0..5)
            .map(|_| {
                let (events, secs) = run(parts);
                secs * 1e9 / events as f64
            })
            .fold(f64::INFINITY, f64::min);
        rows.push((parts, best));
        println!("{parts:>6} parts: {best:8.0} ns per event (best of 5)");
    }
    println!("ratio 10,000 / 100 parts: {:.2}", rows[1].1 / rows[0].1);
}
