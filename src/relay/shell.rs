//! The router of the tokio shell around the sans-IO core: [`Shell`] owns the
//! core, feeds it what the transports received, sends each [`Output`] to
//! where its receiver is connected, and drives the core's timer. The
//! transports (`udp.rs`, `tcp.rs`) sit above it and call it; it calls none of
//! them: it only writes to the UDP sockets it was built with and to the
//! queues stream connections registered with it.
//!
//! Why it is shaped like this:
//! * The core ([`Server`]) is synchronous and does no I/O, so it sits behind a
//!   `std::sync::Mutex` that is only held for one `handle` call (microseconds)
//!   and never across an `.await`. One UDP receive thread per socket (blocking
//!   I/O, see `udp.rs`), one task per TCP/TLS connection and one timer task
//!   share it.
//! * `Server::handle` returns at most one [`Output`]. Where it goes depends on
//!   the receiver's transport: UDP clients get a datagram from a UDP socket
//!   on the relay's address; stream clients get a frame pushed into their connection's bounded
//!   writer queue ([`STREAM_QUEUE`]). Relayed data for a stream client whose
//!   queue is full is dropped (UDP semantics: TURN data has no delivery
//!   guarantee and a slow reader must not stall the relay for everyone);
//!   replies to a connection's own requests wait for room instead, which pushes
//!   back on that client only.
//! * Every task is spawned on one [`TaskTracker`], so shutdown = cancel the
//!   token, then wait for the tracker: connection tasks tell the core the
//!   client is gone and their writers flush before [`Relay::run`] returns.
//!
//! UDP details are in `udp.rs`, stream (TCP, later TLS) details in `tcp.rs`,
//! the bind-build-run assembly [`Relay`] in `service.rs`.
//!
//! [`Relay`]: super::Relay
//! [`Relay::run`]: super::Relay::run

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use socket2::SockRef;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{ClientAddr, Counters, Now, Output, Server, Stats};
use crate::net::SourceKey;

/// Frames queued per stream connection before relayed data to it is dropped.
pub const STREAM_QUEUE: usize = 256;

/// Tunables of the shell (the core has its own [`super::Config`]).
#[derive(Debug, Clone)]
pub struct ShellConfig {
    /// SO_RCVBUF / SO_SNDBUF for the UDP socket. All clients share one socket,
    /// so a burst from many clients lands in one kernel queue: with Linux's
    /// 212 KiB default, 50 uclient clients lost 0.7-4 % of packets
    /// (`Udp RcvbufErrors`); 4 MiB made it 0. Linux caps the value at
    /// `net.core.rmem_max` / `wmem_max` (a warning is logged when it does).
    pub udp_buffer: usize,
    /// UDP sockets (and receive threads) on the relay's address, SO_REUSEPORT;
    /// default: one per CPU (at most 4, `udp::MAX_UDP_SOCKETS`).
    pub udp_sockets: usize,
    /// Largest accepted stream frame (STUN message or ChannelData incl.
    /// padding); a bigger frame closes the connection.
    pub max_frame: usize,
    /// Concurrent stream connections; further ones are closed on accept.
    pub max_connections: usize,
    /// Concurrent stream connections from one source (an IPv4 address or an
    /// IPv6 /64); further ones from it are closed on accept, so one source
    /// cannot hold every slot of `max_connections`.
    pub max_connections_per_source: usize,
    /// A stream connection that has not sent a successfully authenticated
    /// request this long after connecting is closed (the core says which
    /// have: `Server::is_authenticated`), so unauthenticated connections
    /// hold a slot for seconds, not for the idle timeout.
    pub auth_timeout: Duration,
    /// A connection that sends nothing for this long is closed (which deletes
    /// its allocation). Longer than the default allocation lifetime, so a
    /// client that only refreshes is never cut off.
    pub idle_timeout: Duration,
    /// A new connection must deliver its first complete frame within this
    /// (keeps idle sockets from holding connection slots).
    pub first_frame_timeout: Duration,
    /// How long a closing connection may take to flush its queued frames.
    pub drain_timeout: Duration,
}

impl Default for ShellConfig {
    fn default() -> Self {
        Self {
            udp_buffer: 4 << 20,
            udp_sockets: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_frame: 20 + 65535,
            max_connections: 256,
            max_connections_per_source: 16,
            auth_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(660),
            first_frame_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(2),
        }
    }
}

/// Shell counters (the core's are in [`Stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShellStats {
    pub udp_received: u64,
    pub udp_sent: u64,
    pub udp_send_errors: u64,
    pub stream_accepted: u64,
    pub stream_rejected: u64,
    pub stream_current: u64,
    /// Frames for stream clients dropped (queue full or connection gone).
    pub stream_dropped: u64,
    /// Connections closed for bad framing or an oversized frame.
    pub stream_frame_errors: u64,
    pub stream_idle_closed: u64,
    /// Connections closed on accept because their source had
    /// `max_connections_per_source` open (also counted in `stream_rejected`).
    pub stream_source_rejected: u64,
    /// Connections closed because they had not authenticated within
    /// `auth_timeout`.
    pub stream_unauth_closed: u64,
}

/// The atomics behind [`ShellStats`] (bumped with `Counters::bump`).
#[derive(Debug, Default)]
pub(super) struct ShellCounters {
    pub udp_received: AtomicU64,
    pub udp_sent: AtomicU64,
    pub udp_send_errors: AtomicU64,
    pub stream_accepted: AtomicU64,
    pub stream_rejected: AtomicU64,
    pub stream_current: AtomicU64,
    pub stream_dropped: AtomicU64,
    pub stream_frame_errors: AtomicU64,
    pub stream_idle_closed: AtomicU64,
    pub stream_source_rejected: AtomicU64,
    pub stream_unauth_closed: AtomicU64,
}

pub(super) struct Inner {
    pub core: Arc<Mutex<Server>>,
    /// The core's counters, read without its lock.
    pub relay_counters: Arc<Counters>,
    /// Each one has its own receive thread, which also sends its replies;
    /// stream tasks send from the first.
    pub udp: Vec<Arc<UdpSocket>>,
    pub streams: Mutex<HashMap<ClientAddr, mpsc::Sender<Bytes>>>,
    pub opts: ShellConfig,
    pub counters: ShellCounters,
    pub conn_slots: Arc<Semaphore>,
    /// Open stream connections per source key (`crate::net::SourceKey`).
    pub per_source: Mutex<HashMap<SourceKey, usize>>,
    pub tracker: TaskTracker,
    pub shutdown: CancellationToken,
}

/// A cheap, cloneable handle on a running shell: the transports feed the core
/// and route its outputs through it; everyone else reads its counters.
#[derive(Clone)]
pub struct Shell {
    pub(super) inner: Arc<Inner>,
}

impl Shell {
    /// Wraps `core` and the UDP sockets (bound to the same address with
    /// SO_REUSEPORT, see `udp.rs`; at least one). Nothing runs until the
    /// transports and [`Shell::timer_loop`] are started ([`super::Relay::run`]).
    pub(super) fn new(
        core: Arc<Mutex<Server>>,
        udp: Vec<UdpSocket>,
        opts: ShellConfig,
        shutdown: CancellationToken,
    ) -> Self {
        assert!(!udp.is_empty(), "a relay needs a UDP socket");
        let relay_counters = core.lock().unwrap_or_else(|e| e.into_inner()).counters();
        let inner = Inner {
            core,
            relay_counters,
            udp: udp.into_iter().map(Arc::new).collect(),
            streams: Mutex::new(HashMap::new()),
            conn_slots: Arc::new(Semaphore::new(opts.max_connections)),
            per_source: Mutex::new(HashMap::new()),
            opts,
            counters: ShellCounters::default(),
            tracker: TaskTracker::new(),
            shutdown,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// A snapshot of the core's counters (no lock taken).
    pub fn stats(&self) -> Stats {
        self.inner.relay_counters.snapshot()
    }

    /// The core's live counters, e.g. for `/stats` and `/metrics`.
    pub fn counters(&self) -> Arc<Counters> {
        self.inner.relay_counters.clone()
    }

    /// The shell's counters.
    pub fn shell_stats(&self) -> ShellStats {
        let c = &self.inner.counters;
        ShellStats {
            udp_received: c.udp_received.load(Relaxed),
            udp_sent: c.udp_sent.load(Relaxed),
            udp_send_errors: c.udp_send_errors.load(Relaxed),
            stream_accepted: c.stream_accepted.load(Relaxed),
            stream_rejected: c.stream_rejected.load(Relaxed),
            stream_current: c.stream_current.load(Relaxed),
            stream_dropped: c.stream_dropped.load(Relaxed),
            stream_frame_errors: c.stream_frame_errors.load(Relaxed),
            stream_idle_closed: c.stream_idle_closed.load(Relaxed),
            stream_source_rejected: c.stream_source_rejected.load(Relaxed),
            stream_unauth_closed: c.stream_unauth_closed.load(Relaxed),
        }
    }

    /// Locks the core. Never hold the guard across an `.await`.
    pub(super) fn core(&self) -> MutexGuard<'_, Server> {
        // A panic inside the core must not take the relay down with a
        // poisoned lock; the core's state is still consistent per call.
        self.inner.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the core has seen a successfully authenticated request from
    /// stream client `client`.
    pub(super) fn is_authenticated(&self, client: ClientAddr) -> bool {
        self.core().is_authenticated(client)
    }

    /// Takes one of `ip`'s per-source stream slots, if it has one left; the
    /// slot is given back when the returned guard drops.
    pub(super) fn source_slot(&self, ip: IpAddr) -> Option<SourceSlot> {
        let key = SourceKey::of(ip);
        let mut map = self
            .inner
            .per_source
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= self.inner.opts.max_connections_per_source {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            inner: self.inner.clone(),
            key,
        })
    }

    /// Feeds one datagram / frame to the core.
    pub(super) fn feed(&self, bytes: &[u8], from: ClientAddr) -> Option<Output> {
        self.core().handle(bytes, from, Now::system())
    }

    /// Sends an output that is not a reply on the connection that is
    /// currently reading (those go through the connection's own queue),
    /// from an async task: never blocks.
    pub(super) fn route(&self, out: Output) {
        let udp = &self.inner.udp[0];
        self.route_from(out, |bytes, to| send_now(udp, bytes, to));
    }

    /// Sends `out`: to a stream client through its queue, to a UDP client
    /// with `send_udp`.
    pub(super) fn route_from<F>(&self, out: Output, send_udp: F)
    where
        F: FnOnce(&[u8], SocketAddr) -> io::Result<usize>,
    {
        let to = out.to();
        let bytes = match out {
            Output::Reply { bytes, .. } | Output::Deliver { bytes, .. } => bytes,
        };
        if to.transport.is_stream() {
            self.push_stream(to, Bytes::from(bytes));
            return;
        }
        let c = &self.inner.counters;
        match send_udp(&bytes, to.addr) {
            Ok(_) => Counters::bump(&c.udp_sent),
            Err(e) => {
                Counters::bump(&c.udp_send_errors);
                tracing::debug!(to = %to.addr, error = %e, "udp send failed");
            }
        }
    }

    /// Queues a frame for a stream client without waiting; drops it when the
    /// queue is full or the connection is gone.
    fn push_stream(&self, to: ClientAddr, bytes: Bytes) {
        let tx = self.streams().get(&to).cloned();
        let sent = tx.is_some_and(|tx| tx.try_send(bytes).is_ok());
        if !sent {
            Counters::bump(&self.inner.counters.stream_dropped);
        }
    }

    /// The writer queues of the stream clients connected now.
    pub(super) fn streams(&self) -> MutexGuard<'_, HashMap<ClientAddr, mpsc::Sender<Bytes>>> {
        self.inner.streams.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drives `handle_timeout`: at the core's `next_timeout`, and at least
    /// once a second (allocations created meanwhile may expire earlier than
    /// the deadline computed before they existed; 1 s bounds that error).
    pub(super) async fn timer_loop(self) {
        let shutdown = self.inner.shutdown.clone();
        loop {
            let now = tokio::time::Instant::now();
            let cap = now + Duration::from_secs(1);
            let next = self
                .core()
                .next_timeout()
                .map(tokio::time::Instant::from_std);
            let at = next.map_or(cap, |n| n.clamp(now, cap));
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep_until(at) => {}
            }
            self.core().handle_timeout(std::time::Instant::now());
        }
    }
}

/// One stream connection's share of its source's slots (see
/// [`Shell::source_slot`]).
pub(super) struct SourceSlot {
    inner: Arc<Inner>,
    key: SourceKey,
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut map = self
            .inner
            .per_source
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// Sends without ever blocking (for callers on the async runtime); a full
/// send buffer drops the datagram like the network would.
fn send_now(udp: &UdpSocket, bytes: &[u8], to: SocketAddr) -> io::Result<usize> {
    SockRef::from(udp).send_to_with_flags(bytes, &to.into(), libc::MSG_DONTWAIT)
}
