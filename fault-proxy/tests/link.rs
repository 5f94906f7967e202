//! The link emulation, measured through real sockets on 127.0.0.1: its
//! round trip, the window's limit (window / RTT per connection), the
//! per-connection rate, the shared link split between connections, and
//! bytes passing unchanged and in order.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use s3_fault_proxy::link::{self, Path, Shape};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const UNSHAPED: Shape = Shape {
    conn_bytes_per_sec: 0.0,
    link_bytes_per_sec: 0.0,
    window: 0,
    initial_window: 0,
    idle_restart: Duration::ZERO,
};

fn path(rtt_ms: u64, up: Shape) -> Path {
    Path { rtt: Duration::from_millis(rtt_ms), jitter: Duration::ZERO, up, down: UNSHAPED, seed: 7 }
}

/// A server on a port of its own that runs `each` on every connection.
async fn server<F, Fut>(each: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.expect("accept");
            tokio::spawn(each(s));
        }
    });
    addr
}

/// A server that reads everything a connection sends and answers with the
/// byte count (8 bytes) and the bytes' checksum (8 bytes); or echoes one
/// byte when the first byte is `p` (a ping).
async fn sink() -> SocketAddr {
    server(|mut s| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let (mut count, mut sum, mut first) = (0u64, 0u64, true);
        loop {
            let n = s.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            if first && buf[0] == b'p' {
                let _ = s.write_all(b"q").await;
                continue;
            }
            first = false;
            for &b in &buf[..n] {
                sum = sum.wrapping_mul(31).wrapping_add(u64::from(b));
            }
            count += n as u64;
        }
        let _ = s.write_all(&count.to_be_bytes()).await;
        let _ = s.write_all(&sum.to_be_bytes()).await;
    })
    .await
}

async fn emulate(upstream: SocketAddr, path: Path) -> SocketAddr {
    let listener = link::listen("127.0.0.1:0".parse().expect("addr")).expect("listen");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(link::serve(listener, upstream, path));
    addr
}

/// Sends `bytes` through `addr`; returns the seconds until the server had
/// them all, and its (count, checksum).
async fn send(addr: SocketAddr, bytes: &[u8]) -> (f64, u64, u64) {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(bytes).await.expect("write");
    s.shutdown().await.expect("shutdown");
    let mut answer = [0u8; 16];
    s.read_exact(&mut answer).await.expect("answer");
    let count = u64::from_be_bytes(answer[..8].try_into().expect("8"));
    let sum = u64::from_be_bytes(answer[8..].try_into().expect("8"));
    (t0.elapsed().as_secs_f64(), count, sum)
}

fn data(n: usize) -> (Vec<u8>, u64) {
    let bytes: Vec<u8> = (0..n).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) as u8).collect();
    let sum = bytes.iter().fold(0u64, |s, &b| s.wrapping_mul(31).wrapping_add(u64::from(b)));
    (bytes, sum)
}

#[tokio::test]
async fn a_round_trip_takes_the_rtt() {
    let addr = emulate(sink().await, path(80, UNSHAPED)).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut one = [0u8; 1];
    for _ in 0..3 {
        let t0 = Instant::now();
        s.write_all(b"p").await.expect("ping");
        s.read_exact(&mut one).await.expect("pong");
        let ms = t0.elapsed().as_millis();
        // Never sooner than the path allows; later only by the machine's load.
        assert!((80..400).contains(&ms), "a ping took {ms} ms over an 80 ms path");
    }
}

#[tokio::test]
async fn one_connection_moves_at_most_a_window_per_round_trip() {
    // 256 KiB per 50 ms: 5.2 MB/s; 2 MiB take about 0.4 s (plus the handshake's trip).
    let window = Shape { window: 256 * 1024, ..UNSHAPED };
    let addr = emulate(sink().await, path(50, window)).await;
    let (bytes, sum) = data(2 << 20);
    let (secs, count, got) = send(addr, &bytes).await;
    assert_eq!((count, got), (bytes.len() as u64, sum), "the bytes arrive whole and in order");
    let rate = bytes.len() as f64 / secs;
    let limit = (256.0 * 1024.0) / 0.050;
    assert!(rate <= limit * 1.1, "{rate:.0} B/s is above the window's limit of {limit:.0}");
    assert!(rate >= limit * 0.3, "{rate:.0} B/s is far below the window's limit of {limit:.0}");
}

/// A server that answers one byte for every `burst` bytes it reads.
async fn acker(burst: usize) -> SocketAddr {
    server(move |mut s| async move {
        let mut buf = vec![0u8; burst];
        while s.read_exact(&mut buf).await.is_ok() {
            if s.write_all(b"k").await.is_err() {
                return;
            }
        }
    })
    .await
}

#[tokio::test]
async fn a_new_connection_starts_slow_and_an_open_window_stays_open() {
    // A 1 MiB window at 40 ms, starting at 16 KiB: a new connection's first
    // MiB takes about 7 round trips (16, 32, ... 512 KiB, then the rest and
    // the answer), the next MiB about two once the window is open; after an
    // idle pause longer than the restart time the connection starts slow
    // again.
    const MIB: usize = 1 << 20;
    let shape = Shape { window: MIB, initial_window: 16 * 1024, idle_restart: Duration::from_millis(300), ..UNSHAPED };
    let addr = emulate(acker(MIB).await, path(40, shape)).await;
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let (bytes, _) = data(MIB);
    let mut ack = [0u8; 1];
    let mut timed = Vec::new();
    for pause in [0, 0, 0, 500] {
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let t0 = Instant::now();
        s.write_all(&bytes).await.expect("write");
        s.read_exact(&mut ack).await.expect("answer");
        timed.push(t0.elapsed().as_secs_f64());
    }
    let [first, _, open, after_idle] = timed[..] else { unreachable!() };
    assert!(first >= 0.2, "the first MiB took {first:.3} s: no slow start ({timed:?})");
    assert!(open < first * 0.6, "an open window: {open:.3} s against {first:.3} s at the start ({timed:?})");
    assert!(after_idle >= 0.2, "after an idle pause the MiB took {after_idle:.3} s: no restart ({timed:?})");
}

#[tokio::test]
async fn a_connection_keeps_to_its_rate() {
    // 16 Mbit/s: 2 MB/s; 1 MiB takes about 0.52 s.
    let rate = Shape { conn_bytes_per_sec: 2e6, ..UNSHAPED };
    let addr = emulate(sink().await, path(0, rate)).await;
    let (bytes, sum) = data(1 << 20);
    let (secs, count, got) = send(addr, &bytes).await;
    assert_eq!((count, got), (bytes.len() as u64, sum));
    assert!((0.45..1.5).contains(&secs), "1 MiB at 2 MB/s took {secs:.2} s");
}

#[tokio::test]
async fn connections_share_the_link() {
    // A 4 MB/s link: two connections of 1 MiB each end after about 0.52 s
    // together (each alone would be twice as fast).
    let link = Shape { link_bytes_per_sec: 4e6, ..UNSHAPED };
    let addr = emulate(sink().await, path(0, link)).await;
    let (bytes, sum) = data(1 << 20);
    let t0 = Instant::now();
    let (a, b) = tokio::join!(send(addr, &bytes), send(addr, &bytes));
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!((a.1, a.2, b.1, b.2), (bytes.len() as u64, sum, bytes.len() as u64, sum));
    assert!((0.45..1.6).contains(&secs), "2 MiB over a 4 MB/s link took {secs:.2} s");
    assert!(a.0 > 0.35 && b.0 > 0.35, "both shared the link: {:.2} s and {:.2} s", a.0, b.0);
}

#[tokio::test]
async fn jitter_delays_but_never_reorders() {
    let mut p = path(20, UNSHAPED);
    p.jitter = Duration::from_millis(30);
    let addr = emulate(sink().await, p).await;
    let (bytes, sum) = data(512 * 1024);
    let (secs, count, got) = send(addr, &bytes).await;
    assert_eq!((count, got), (bytes.len() as u64, sum), "in order");
    assert!(secs < 2.0, "{secs:.2} s");
}
