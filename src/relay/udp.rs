//! UDP side of the shell: a few sockets on the same address (SO_REUSEPORT),
//! one receive loop each.
//!
//! The core call costs a few microseconds, so one loop keeps up with the
//! load on an idle machine; but on a busy one (the relay bench measured it
//! with ~20 runnable threads on 2 cores) a single thread got too little CPU
//! and its receive queue overflowed while coturn's per-core threads did not.
//! With one socket per core (up to [`MAX_UDP_SOCKETS`]) the kernel spreads
//! clients over the sockets by a hash of the 4-tuple, so each client's
//! packets still arrive in order on one loop, every socket has its own
//! receive buffer (4 MiB, see [`ShellConfig::udp_buffer`](super::shell::ShellConfig)),
//! and the loops only meet at the core's lock. Replies and relayed data
//! leave from the first socket (same address and port). Datagrams are read
//! into a 64 KiB buffer so nothing is truncated (TURN data may exceed a
//! 1500-byte MTU on loopback or with jumbo frames).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::UdpSocket;

use super::shell::{bump, Shell};
use super::ClientAddr;

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65536;
/// Most UDP sockets (receive loops) per relay.
pub const MAX_UDP_SOCKETS: usize = 4;

/// One UDP socket with SO_REUSEPORT set before binding `addr`.
fn reuse_port_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    sock.set_reuse_port(true)?;
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    UdpSocket::from_std(sock.into())
}

/// Binds `count` (1 to [`MAX_UDP_SOCKETS`]) UDP sockets on `addr`, all on
/// the port the first one got (when `addr` has port 0). Falls back to one
/// plain socket when SO_REUSEPORT is refused.
pub(super) fn bind_udp(addr: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
    let first = match reuse_port_socket(addr) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "SO_REUSEPORT refused: one UDP socket");
            return Ok(vec![std::net::UdpSocket::bind(addr).and_then(|s| {
                s.set_nonblocking(true)?;
                UdpSocket::from_std(s)
            })?]);
        }
    };
    let bound = first.local_addr()?;
    let mut all = vec![first];
    for _ in 1..count.clamp(1, MAX_UDP_SOCKETS) {
        all.push(reuse_port_socket(bound)?);
    }
    Ok(all)
}

/// Sets SO_RCVBUF and SO_SNDBUF to `size` and warns when the kernel grants
/// less (Linux caps at `net.core.rmem_max` / `wmem_max` and reports double
/// the granted value for its own bookkeeping).
pub(super) fn tune_buffers(udp: &UdpSocket, size: usize) {
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
}

impl Shell {
    /// Receives datagrams until shutdown, feeding each to the core and
    /// sending what it returns.
    pub(super) async fn udp_loop(self, sock: Arc<UdpSocket>) {
        let shutdown = self.inner.shutdown.clone();
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = sock.recv_from(&mut buf) => r,
            };
            let (n, from) = match received {
                Ok(r) => r,
                // e.g. ECONNREFUSED from an ICMP error for an earlier send:
                // about one client, not the socket; keep serving.
                Err(e) => {
                    tracing::debug!(error = %e, "udp recv error");
                    continue;
                }
            };
            bump(&self.inner.counters.udp_received);
            if let Some(out) = self.feed(&buf[..n], ClientAddr::udp(from)) {
                self.route(out).await;
            }
        }
    }
}
