//! UDP side of the shell: one socket for every UDP client, one receive loop.
//!
//! A single loop is enough: the core call costs a few microseconds, and the
//! receive buffer (4 MiB, see [`ShellConfig::udp_buffer`](super::shell::ShellConfig))
//! absorbs bursts while the loop is busy. Datagrams are read into a 64 KiB
//! buffer so nothing is truncated (TURN data may exceed a 1500-byte MTU on
//! loopback or with jumbo frames).

use socket2::SockRef;
use tokio::net::UdpSocket;

use super::shell::{bump, Shell};
use super::ClientAddr;

/// Largest UDP payload.
const MAX_DATAGRAM: usize = 65536;

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
    pub(super) async fn udp_loop(self) {
        let shutdown = self.inner.shutdown.clone();
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = self.inner.udp.recv_from(&mut buf) => r,
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
