//! Peer policy and bandwidth limits.
//!
//! homedrop relays only between its own allocations, so the only acceptable
//! peer is one of this server's (virtual) relayed addresses. Everything else
//! — loopback, LAN, internet, multicast — is refused (403 on CreatePermission
//! and ChannelBind, RFC 8656 §9.1/§12.1 "forbidden by local policy"; Send
//! indications to it are dropped).

use std::net::SocketAddr;
use std::time::Instant;

use super::{PeerAddr, RelayAddr};

/// Relay-to-relay only policy.
#[derive(Debug, Clone, Copy)]
pub struct PeerPolicy {
    pub relay_ip: std::net::IpAddr,
    pub port_min: u16,
    pub port_max: u16,
}

impl PeerPolicy {
    /// `Some(relay address)` when `peer` is one of our relayed addresses.
    pub fn allowed(&self, peer: PeerAddr) -> Option<RelayAddr> {
        let PeerAddr(addr) = peer;
        let in_range = (self.port_min..=self.port_max).contains(&addr.port());
        (addr.ip() == self.relay_ip && in_range && !addr.ip().is_unspecified())
            .then_some(RelayAddr(addr))
    }

    /// The relayed address for `port`.
    pub fn relay_addr(&self, port: u16) -> RelayAddr {
        RelayAddr(SocketAddr::new(self.relay_ip, port))
    }
}

/// Byte token bucket with a one-second burst. `rate == 0` means unlimited.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u64,
    tokens: u64,
    last: Option<Instant>,
}

impl TokenBucket {
    pub fn new(rate: u64) -> Self {
        Self {
            rate,
            tokens: rate,
            last: None,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(last) = self.last {
            let elapsed = now.saturating_duration_since(last);
            let add = (elapsed.as_nanos().saturating_mul(self.rate as u128) / 1_000_000_000) as u64;
            if add == 0 {
                return; // keep `last` so sub-token intervals accumulate
            }
            self.tokens = self.tokens.saturating_add(add).min(self.rate);
        }
        self.last = Some(now);
    }

    /// Whether `bytes` may pass now (without taking them).
    pub fn check(&mut self, bytes: usize, now: Instant) -> bool {
        if self.rate == 0 {
            return true;
        }
        self.refill(now);
        self.tokens >= bytes as u64
    }

    /// Takes `bytes` (call after a successful `check`).
    pub fn take(&mut self, bytes: usize) {
        self.tokens = self.tokens.saturating_sub(bytes as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn policy() -> PeerPolicy {
        PeerPolicy {
            relay_ip: "192.168.1.10".parse().unwrap(),
            port_min: 50000,
            port_max: 50009,
        }
    }

    #[test]
    fn only_own_relay_addresses() {
        let p = policy();
        let ok: SocketAddr = "192.168.1.10:50003".parse().unwrap();
        assert_eq!(p.allowed(PeerAddr(ok)), Some(RelayAddr(ok)));
        for bad in [
            "192.168.1.10:50010",
            "127.0.0.1:50003",
            "192.168.1.11:50003",
            "8.8.8.8:53",
        ] {
            assert_eq!(p.allowed(PeerAddr(bad.parse().unwrap())), None, "{bad}");
        }
    }

    #[test]
    fn bucket_limits_and_refills() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(1000);
        assert!(b.check(600, t0));
        b.take(600);
        assert!(!b.check(600, t0));
        assert!(b.check(600, t0 + Duration::from_millis(300)));
        let mut unlimited = TokenBucket::new(0);
        assert!(unlimited.check(usize::MAX, t0));
    }
}
