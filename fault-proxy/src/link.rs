//! Link emulation in user space (these machines have no `netem` qdisc and no
//! veth pairs): a TCP relay whose two directions behave like a network path.
//!
//! Per direction, every chunk of bytes read from one side is
//! - serialised at the connection's rate and at the shared link's rate of that
//!   direction (a token bucket each: the chunk departs when both are free),
//! - delivered to the other side half a round trip later, plus jitter (never
//!   reordered: a chunk is not delivered before the one ahead of it),
//! - and counted in flight until its acknowledgement would be back (another
//!   half round trip after delivery): at most `window` bytes are in flight
//!   per connection and direction, so one connection moves at most
//!   window / RTT, as with TCP. Bytes beyond the window wait in the sender's
//!   socket (small buffers: the kernel's own would hide the window).
//! - With a slow start (`Shape::initial_window`), a new connection's window
//!   starts small and grows by every byte acknowledged (doubling each round
//!   trip, as TCP's congestion window does after the handshake) up to
//!   `window`; a connection that stays idle for longer than
//!   `Shape::idle_restart` starts over from the initial window (Linux's
//!   `tcp_slow_start_after_idle`).
//!
//! The relay is below HTTP: requests, answers, TLS-less keep-alive and
//! connection counts are the browser's own.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// One direction's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Each connection's rate, bytes per second (0: unlimited).
    pub conn_bytes_per_sec: f64,
    /// The shared link's rate for this direction, bytes per second (0: unlimited).
    pub link_bytes_per_sec: f64,
    /// Bytes in flight per connection (0: unlimited).
    pub window: usize,
    /// A new connection's window, which grows by each byte acknowledged up
    /// to `window` (0: `window` from the start, no slow start).
    pub initial_window: usize,
    /// A connection idle (nothing in flight) for longer than this starts
    /// over from `initial_window` (zero: never).
    pub idle_restart: Duration,
}

/// A path: its round trip, jitter, and each direction's shape.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Path {
    /// Round-trip time (half of it each way).
    pub rtt: Duration,
    /// Up to this much more delay on each chunk, at random.
    pub jitter: Duration,
    /// Client to upstream (uploads).
    pub up: Shape,
    /// Upstream to client.
    pub down: Shape,
    /// Seed of the jitter.
    pub seed: u64,
}

/// Bytes read at a time (at most).
const CHUNK: usize = 16 * 1024;
/// Socket buffers: small, so that the window, not the kernel, holds bytes back.
const SOCKET_BUFFER: u32 = 64 * 1024;

/// When a shared or per-connection pipe is free again.
#[derive(Debug)]
struct Bucket {
    free_at: Instant,
    bytes_per_sec: f64,
}

impl Bucket {
    fn new(bytes_per_sec: f64) -> Self {
        Self { free_at: Instant::now(), bytes_per_sec }
    }

    /// Sends `n` bytes no earlier than `ready`: when they have left.
    fn send(&mut self, ready: Instant, n: usize) -> Instant {
        if self.bytes_per_sec <= 0.0 {
            return ready;
        }
        let start = ready.max(self.free_at);
        self.free_at = start + Duration::from_secs_f64(n as f64 / self.bytes_per_sec);
        self.free_at
    }
}

/// The shared links, one per direction.
struct Links {
    up: Mutex<Bucket>,
    down: Mutex<Bucket>,
}

/// Listens on `listener` and relays every connection to `upstream` over `path`.
pub async fn serve(listener: TcpListener, upstream: SocketAddr, path: Path) -> std::io::Result<()> {
    let links = Arc::new(Links {
        up: Mutex::new(Bucket::new(path.up.link_bytes_per_sec)),
        down: Mutex::new(Bucket::new(path.down.link_bytes_per_sec)),
    });
    let mut n = 0u64;
    loop {
        let (client, _) = listener.accept().await?;
        n += 1;
        let links = links.clone();
        let seed = path.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(n);
        tokio::spawn(async move {
            let Ok(server) = connect(upstream).await else { return };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let up = pump(cr, sw, path, path.up, links.clone(), true, seed);
            let down = pump(sr, cw, path, path.down, links, false, seed ^ 1);
            let _ = tokio::join!(up, down);
        });
    }
}

/// A listener with small buffers (the accepted sockets inherit them).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.set_recv_buffer_size(SOCKET_BUFFER)?;
    socket.set_send_buffer_size(SOCKET_BUFFER)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

async fn connect(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_recv_buffer_size(SOCKET_BUFFER)?;
    socket.set_send_buffer_size(SOCKET_BUFFER)?;
    socket.connect(addr).await
}

/// One direction's window: what is in flight and, with a slow start, how
/// far the window has opened. A window of 0 is unlimited: nothing is kept.
struct Window {
    shape: Shape,
    /// Whether the window opens from `shape.initial_window` (TCP's slow
    /// start) rather than being whole from the first byte.
    slow: bool,
    /// (when its acknowledgement is back, bytes): what is in flight.
    in_flight: VecDeque<(Instant, usize)>,
    flight: usize,
    /// The congestion window: `shape.window` at once, or from
    /// `shape.initial_window` up.
    cwnd: usize,
    /// When the last byte in flight was acknowledged.
    idle_since: Instant,
}

impl Window {
    fn new(shape: Shape) -> Self {
        let slow = shape.window > 0 && shape.initial_window > 0 && shape.initial_window < shape.window;
        let cwnd = if slow { shape.initial_window } else { shape.window };
        Self { shape, slow, in_flight: VecDeque::new(), flight: 0, cwnd, idle_since: Instant::now() }
    }

    /// Takes out what is acknowledged by `now` (opening a slow window by as
    /// much).
    fn ack(&mut self, now: Instant) {
        while let Some(&(at, n)) = self.in_flight.front() {
            if at > now {
                break;
            }
            self.in_flight.pop_front();
            self.flight -= n;
            if self.slow {
                self.cwnd = (self.cwnd + n).min(self.shape.window);
            }
            if self.flight == 0 {
                self.idle_since = at;
            }
        }
    }

    /// A slow window starts over after an idle pause.
    fn restart_if_idle(&mut self, now: Instant) {
        let idle = self.flight == 0 && now.saturating_duration_since(self.idle_since) > self.shape.idle_restart;
        if self.slow && !self.shape.idle_restart.is_zero() && idle {
            self.cwnd = self.shape.initial_window;
        }
    }

    /// How many bytes may be sent now, at most `most`.
    fn room(&self, most: usize) -> usize {
        if self.shape.window == 0 { most } else { self.cwnd.saturating_sub(self.flight).min(most) }
    }

    /// When the oldest bytes in flight are acknowledged (none: nothing is).
    fn next_ack(&self) -> Option<Instant> {
        self.in_flight.front().map(|&(at, _)| at)
    }

    /// `n` bytes sent, acknowledged at `ack_at`.
    fn sent(&mut self, ack_at: Instant, n: usize) {
        if self.shape.window > 0 {
            self.in_flight.push_back((ack_at, n));
            self.flight += n;
        }
    }
}

/// One direction of one connection: reads `from`, shapes, writes `to`.
async fn pump(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    path: Path,
    shape: Shape,
    links: Arc<Links>,
    up: bool,
    seed: u64,
) {
    let half = path.rtt / 2;
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut conn = Bucket::new(shape.conn_bytes_per_sec);
    let mut last_delivery = Instant::now();
    // The delay line: chunks and when they arrive; `None` is the end.
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Option<Vec<u8>>)>();
    let writer = tokio::spawn(async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            match chunk {
                Some(bytes) => {
                    if to.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = to.shutdown().await;
                    return;
                }
            }
        }
    });
    let mut buf = vec![0u8; CHUNK];
    let mut window = Window::new(shape);
    loop {
        // Acknowledged bytes leave the window; a full window waits for the next.
        window.ack(Instant::now());
        let room = window.room(CHUNK);
        if room == 0 {
            let Some(at) = window.next_ack() else { break };
            tokio::time::sleep_until(at).await;
            continue;
        }
        let n = match from.read(&mut buf[..room]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let now = Instant::now();
        // What was acknowledged while the read waited, then a restart
        // after an idle pause.
        window.ack(now);
        window.restart_if_idle(now);
        let left = conn.send(now, n);
        let link = if up { &links.up } else { &links.down };
        let left = link.lock().expect("link").send(left, n);
        let jitter = if path.jitter.is_zero() { Duration::ZERO } else { path.jitter.mul_f64(rng.f64()) };
        let arrive = (left + half + jitter).max(last_delivery);
        last_delivery = arrive;
        window.sent(arrive + half, n);
        if tx.send((arrive, Some(buf[..n].to_vec()))).is_err() {
            break;
        }
    }
    let _ = tx.send((last_delivery, None));
    let _ = writer.await;
}
