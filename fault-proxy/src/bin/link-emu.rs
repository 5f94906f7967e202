//! `link-emu`: a TCP relay that behaves like a network path (round trip,
//! jitter, per-connection rate and window with an optional slow start, a
//! shared link per direction), for
//! the benchmark's scenarios. See `s3_fault_proxy::link`.
//!
//!   link-emu --upstream 127.0.0.1:9000 --rtt-ms 60 --up-link-mbit 20
//!
//! Prints `link-emu: http://<addr> -> <upstream>` once it listens.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use s3_fault_proxy::link::{self, Path, Shape};

/// A TCP relay shaped like a network path.
#[derive(Debug, Parser)]
struct Opt {
    /// Address to listen on (port 0: a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where connections go, host:port (or http://host:port).
    #[arg(long)]
    upstream: String,
    /// Round-trip time, ms (half of it each way).
    #[arg(long, default_value_t = 0.0)]
    rtt_ms: f64,
    /// Up to this much more delay per chunk, ms, at random (order kept).
    #[arg(long, default_value_t = 0.0)]
    jitter_ms: f64,
    /// Each connection's rate, Mbit/s, each way (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    conn_mbit: f64,
    /// The shared link's rate client to upstream (uploads), Mbit/s (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    up_link_mbit: f64,
    /// The shared link's rate upstream to client, Mbit/s (0: unlimited).
    #[arg(long, default_value_t = 0.0)]
    down_link_mbit: f64,
    /// Bytes in flight per connection and direction, KiB (0: unlimited).
    #[arg(long, default_value_t = 0)]
    window_kib: usize,
    /// A new connection's window, KiB, opened by every byte acknowledged up
    /// to --window-kib, as TCP's slow start (0: the whole window at once).
    #[arg(long, default_value_t = 0)]
    initial_window_kib: usize,
    /// With --initial-window-kib: a connection idle for longer than this
    /// starts slow again, ms (0: never; Linux restarts after its RTO).
    #[arg(long, default_value_t = 0.0)]
    idle_restart_ms: f64,
    /// Seed of the jitter.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn bytes_per_sec(mbit: f64) -> f64 {
    mbit * 1e6 / 8.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opt = Opt::parse();
    for (name, v) in [
        ("--rtt-ms", opt.rtt_ms),
        ("--jitter-ms", opt.jitter_ms),
        ("--conn-mbit", opt.conn_mbit),
        ("--up-link-mbit", opt.up_link_mbit),
        ("--down-link-mbit", opt.down_link_mbit),
        ("--idle-restart-ms", opt.idle_restart_ms),
    ] {
        anyhow::ensure!(v.is_finite() && v >= 0.0, "{name} must be a number >= 0, not {v}");
    }
    let hostport = opt.upstream.trim_start_matches("http://").trim_end_matches('/');
    let upstream = tokio::net::lookup_host(hostport)
        .await?
        .next()
        .ok_or_else(|| anyhow::anyhow!("--upstream {} does not resolve", opt.upstream))?;
    let shape = |link: f64| Shape {
        conn_bytes_per_sec: bytes_per_sec(opt.conn_mbit),
        link_bytes_per_sec: bytes_per_sec(link),
        window: opt.window_kib * 1024,
        initial_window: opt.initial_window_kib * 1024,
        idle_restart: Duration::from_secs_f64(opt.idle_restart_ms / 1000.0),
    };
    let path = Path {
        rtt: Duration::from_secs_f64(opt.rtt_ms / 1000.0),
        jitter: Duration::from_secs_f64(opt.jitter_ms / 1000.0),
        up: shape(opt.up_link_mbit),
        down: shape(opt.down_link_mbit),
        seed: opt.seed,
    };
    let listener = link::listen(opt.listen)?;
    println!("link-emu: http://{} -> {upstream}", listener.local_addr()?);
    link::serve(listener, upstream, path).await?;
    Ok(())
}
