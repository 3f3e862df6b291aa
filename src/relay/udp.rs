//! UDP transport of the shell: a few sockets on the same address
//! (SO_REUSEPORT), each served by its own OS thread with blocking I/O that
//! feeds the router ([`Shell`]) and sends what it returns.
//!
//! Why threads and blocking calls, not tokio tasks: the core call costs a few
//! microseconds, so per packet the I/O bookkeeping dominates. As a task on the
//! multi-thread runtime every datagram cost an `epoll_wait`, a `recvfrom`
//! that ends in EAGAIN and often a futex wake of another worker (measured
//! with `strace -c -f` during the relay bench: ~2.9 syscalls per relayed
//! packet, CPU per packet equal to coturn's at 5000 packets/s). A thread
//! blocked in `recvfrom` is woken by the kernel with the datagram in hand and
//! answers with one `sendto` from the same socket: two syscalls per packet
//! and no cross-thread wakeups. On shutdown every socket gets
//! `shutdown(SHUT_RD)`, which Linux allows on unconnected UDP sockets (it
//! answers ENOTCONN but still wakes a blocked `recvfrom`), so an idle relay
//! has no polling wakeups; a receive timeout ([`SHUTDOWN_POLL`]) is the
//! fallback where that wake-up does not happen.
//!
//! Why several sockets: on a busy machine (the relay bench measured it with
//! ~20 runnable threads on 2 cores) a single thread got too little CPU and
//! its receive queue overflowed while coturn's per-core threads did not.
//! With one socket per core (up to [`MAX_UDP_SOCKETS`]) the kernel spreads
//! clients over the sockets by a hash of the 4-tuple, so each client's
//! packets still arrive in order on one thread, every socket has its own
//! receive buffer (4 MiB, see [`ShellConfig::udp_buffer`](super::shell::ShellConfig)),
//! and the threads only meet at the core's lock. A thread sends from its own
//! socket (same address and port); tasks of stream clients that relay to a
//! UDP client send from the first one without blocking (`MSG_DONTWAIT`, in
//! the router).
//! Datagrams are read into a 64 KiB buffer so nothing is truncated (TURN
//! data may exceed a 1500-byte MTU on loopback or with jumbo frames).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::shell::Shell;
use super::{ClientAddr, Counters};

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65536;
/// Most UDP sockets (receive threads) per relay.
pub const MAX_UDP_SOCKETS: usize = 4;
/// How often an idle receive thread checks for shutdown if nothing woke it.
const SHUTDOWN_POLL: Duration = Duration::from_secs(1);

/// One UDP socket with SO_REUSEPORT set before binding `addr`.
fn reuse_port_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_port(true)?;
    sock.bind(&addr.into())?;
    Ok(sock.into())
}

/// Binds `count` (1 to [`MAX_UDP_SOCKETS`]) UDP sockets on `addr`, all on
/// the port the first one got (when `addr` has port 0). Falls back to one
/// plain socket when SO_REUSEPORT is refused.
pub(super) fn bind_udp(addr: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
    let first = match reuse_port_socket(addr) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "SO_REUSEPORT refused: one UDP socket");
            return Ok(vec![UdpSocket::bind(addr)?]);
        }
    };
    let bound = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..count.clamp(1, MAX_UDP_SOCKETS) {
        all.push(reuse_port_socket(bound)?);
    }
    Ok(all)
}

/// Prepares a socket for its receive thread: blocking with a receive timeout,
/// SO_RCVBUF and SO_SNDBUF of `size` (warns when the kernel grants less: Linux
/// caps at `net.core.rmem_max` / `wmem_max` and reports double the granted
/// value for its own bookkeeping).
fn prepare(udp: &UdpSocket, size: usize) -> io::Result<()> {
    udp.set_nonblocking(false)?;
    udp.set_read_timeout(Some(SHUTDOWN_POLL))?;
    let sock = SockRef::from(udp);
    if let Err(e) = sock.set_recv_buffer_size(size) {
        tracing::warn!(error = %e, "cannot set SO_RCVBUF");
    }
    if let Err(e) = sock.set_send_buffer_size(size) {
        tracing::warn!(error = %e, "cannot set SO_SNDBUF");
    }
    let got = sock.recv_buffer_size().unwrap_or(0);
    if got < size {
        tracing::warn!(
            wanted = size,
            got,
            "UDP receive buffer capped by net.core.rmem_max: bursts may be dropped"
        );
    }
    Ok(())
}

/// Prepares every UDP socket of `shell` and starts its receive thread, all on
/// the shell's tracker (with the task that wakes them on shutdown).
pub(super) fn start(shell: &Shell) -> io::Result<()> {
    let inner = &shell.inner;
    inner.tracker.spawn(wake_on_shutdown(shell.clone()));
    for (i, sock) in inner.udp.iter().enumerate() {
        prepare(sock, inner.opts.udp_buffer)?;
        let done = spawn_thread(shell.clone(), i, sock.clone())?;
        inner.tracker.spawn(done);
    }
    Ok(())
}

/// Once shutdown is cancelled, wakes every receive thread blocked in
/// `recvfrom`.
async fn wake_on_shutdown(shell: Shell) {
    shell.inner.shutdown.cancelled().await;
    for sock in &shell.inner.udp {
        // ENOTCONN is expected for unconnected sockets; the wake-up happens
        // anyway.
        let _ = SockRef::from(&**sock).shutdown(std::net::Shutdown::Read);
    }
}

/// Starts the receive thread of `sock`; the returned task (to be put on the
/// shell's tracker) finishes when the thread has.
fn spawn_thread(
    shell: Shell,
    index: usize,
    sock: Arc<UdpSocket>,
) -> io::Result<impl std::future::Future<Output = ()>> {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::Builder::new()
        .name(format!("relay-udp-{index}"))
        .spawn(move || {
            receive_loop(&shell, &sock);
            drop(done_tx);
        })?;
    Ok(async move {
        let _ = done_rx.await;
    })
}

/// Receives datagrams until shutdown, feeding each to the core and sending
/// what it returns (blocking: this runs on its own thread).
fn receive_loop(shell: &Shell, sock: &UdpSocket) {
    let shutdown = &shell.inner.shutdown;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !shutdown.is_cancelled() {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if is_timeout(&e) => continue,
            // e.g. ECONNREFUSED from an ICMP error for an earlier send: about
            // one client, not the socket; keep serving.
            Err(e) => {
                tracing::debug!(error = %e, "udp recv error");
                continue;
            }
        };
        Counters::bump(&shell.inner.counters.udp_received);
        if let Some(out) = shell.feed(&buf[..n], ClientAddr::udp(from)) {
            shell.route_from(out, |bytes, to| sock.send_to(bytes, to));
        }
    }
}

/// A receive timeout: EAGAIN on Linux, ETIMEDOUT elsewhere.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
