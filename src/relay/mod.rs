//! Sans-IO STUN (RFC 8489) / TURN (RFC 8656) relay core for homedrop.
//!
//! The core never touches sockets or clocks: callers feed received bytes with
//! [`Server::handle`], drive timers with [`Server::handle_timeout`] /
//! [`Server::next_timeout`], and send every returned [`Output`].
//!
//! Policy: an allocation may relay only to this server's own relayed addresses
//! (relay-to-relay). Relayed addresses are virtual (`advertised_ip:port` from
//! the configured range); traffic between two allocations is handed over inside
//! the core as a Data indication or ChannelData for the receiving client.
//!
//! Layers: [`wire`] (codec glue), [`framing`] (TCP/TLS stream splitting),
//! [`auth`] (TURN REST credentials, stateless nonces), [`policy`] (peer policy,
//! bandwidth buckets), [`allocation`] (state), `reservation` (EVEN-PORT R
//! bit / RESERVATION-TOKEN), [`server`] (request handlers), [`Counters`]
//! (atomics for /stats and /metrics).
//! The tokio shell around it: [`shell`] (routing, timer, shutdown), `udp`,
//! `tcp` (generic stream serving, also for TLS) and [`service`] ([`Relay`]:
//! bind + run).

pub mod allocation;
pub mod auth;
mod counters;
pub mod framing;
pub mod policy;
mod ports;
mod relaying;
mod reservation;
pub mod server;
pub mod service;
pub mod shell;
mod tcp;
mod txcache;
mod udp;
pub mod wire;

#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use auth::issue_credentials;
pub use counters::Counters;
pub use server::Server;
pub use service::Relay;
pub use shell::{run, Shell, ShellConfig, ShellStats};

/// Transport a client reached the server over (the server side of the 5-tuple
/// is implied: one listener per transport).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    /// Stream transports need ChannelData padded to 4 bytes (RFC 8656 §12.5).
    pub fn is_stream(self) -> bool {
        !matches!(self, Transport::Udp)
    }
}

/// A TURN/STUN client as seen by the server (remote address + transport).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr {
    pub addr: SocketAddr,
    pub transport: Transport,
}

impl ClientAddr {
    pub fn udp(addr: SocketAddr) -> Self {
        Self {
            addr,
            transport: Transport::Udp,
        }
    }
    pub fn tcp(addr: SocketAddr) -> Self {
        Self {
            addr,
            transport: Transport::Tcp,
        }
    }
}

/// A peer address named by a client in XOR-PEER-ADDRESS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// A relayed transport address owned by this server (virtual).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RelayAddr(pub SocketAddr);

/// Current time, injected: a monotonic instant for timers and Unix seconds for
/// REST credential expiry and nonce timestamps.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    pub mono: Instant,
    pub unix: u64,
}

impl Now {
    /// The real clocks (for production callers).
    pub fn system() -> Self {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self {
            mono: Instant::now(),
            unix,
        }
    }

    /// This time advanced by `d` (both clocks).
    pub fn after(self, d: Duration) -> Self {
        Self {
            mono: self.mono + d,
            unix: self.unix + d.as_secs(),
        }
    }
}

/// Something to send: a response to the requester, or data relayed from
/// another allocation to this allocation's client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// A STUN response to the sender of the request.
    Reply { to: ClientAddr, bytes: Vec<u8> },
    /// A Data indication or ChannelData for another allocation's client.
    Deliver { to: ClientAddr, bytes: Vec<u8> },
}

impl Output {
    pub fn to(&self) -> ClientAddr {
        match self {
            Output::Reply { to, .. } | Output::Deliver { to, .. } => *to,
        }
    }
    pub fn bytes(&self) -> &[u8] {
        match self {
            Output::Reply { bytes, .. } | Output::Deliver { bytes, .. } => bytes,
        }
    }
}

/// Server configuration. `0` for a bandwidth cap means unlimited.
#[derive(Debug, Clone)]
pub struct Config {
    /// REALM for long-term credentials.
    pub realm: String,
    /// Shared TURN REST secret (same one `issue_credentials` uses).
    pub secret: Vec<u8>,
    /// IP put in XOR-RELAYED-ADDRESS (the appliance's LAN address).
    pub advertised_ip: IpAddr,
    /// Inclusive range of virtual relay ports.
    pub port_min: u16,
    pub port_max: u16,
    /// Allocation quota per username (486 when exceeded).
    pub max_allocations_per_user: usize,
    /// Allocation quota for the whole server (508 when exceeded).
    pub max_allocations: usize,
    /// Relayed bytes/s per allocation (sender side); 0 = unlimited.
    pub allocation_bandwidth: u64,
    /// Relayed bytes/s for the whole server; 0 = unlimited.
    pub total_bandwidth: u64,
    /// Lifetime used when the client asks for none or less (RFC 8656 §7.2).
    pub default_lifetime: Duration,
    /// Upper clamp for allocation lifetimes (RFC 8656 §7.2, §7.3).
    pub max_lifetime: Duration,
    /// Nonce validity (stale nonce → 438, RFC 8489 §9.2.4).
    pub nonce_lifetime: Duration,
    /// How far in the future a REST username's expiry may lie (401 beyond).
    /// Default: the 12 h `issue_credentials` clamps to; coturn's tools sign
    /// 24 h ahead, so interop runs raise it.
    pub credential_horizon: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            realm: "homedrop".into(),
            secret: Vec::new(),
            advertised_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port_min: 49152,
            port_max: 65535,
            max_allocations_per_user: 10,
            max_allocations: 200,
            allocation_bandwidth: 0,
            total_bandwidth: 0,
            default_lifetime: allocation::DEFAULT_LIFETIME,
            max_lifetime: allocation::MAX_LIFETIME,
            nonce_lifetime: auth::NONCE_LIFETIME,
            credential_horizon: auth::MAX_CREDENTIAL_TTL,
        }
    }
}

/// A snapshot of the relay's counters (from [`Counters::snapshot`]), for
/// `/stats` (camelCase keys) and `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Allocations alive now.
    pub allocations_current: u64,
    /// Allocations ever granted.
    pub allocations_total: u64,
    /// Application bytes handed from one allocation to another.
    pub bytes_relayed: u64,
    /// Packets (Send/ChannelData) handed from one allocation to another.
    pub packets_relayed: u64,
    /// Credentials presented but refused: 401 for a bad or expired username
    /// or a bad MESSAGE-INTEGRITY, and 441 (another user's allocation). The
    /// plain 401 challenge to a request without credentials is not counted.
    pub auth_failures: u64,
    /// 403 refusals (peer outside the relay-to-relay policy) and Send
    /// indications dropped for the same reason.
    pub policy_refusals: u64,
    /// 486 (per-user quota) and 508 (server capacity, no free port, invalid
    /// RESERVATION-TOKEN).
    pub quota_refusals: u64,
    /// Packets dropped by a bandwidth cap.
    pub dropped_bandwidth: u64,
    /// Ports held for a RESERVATION-TOKEN now.
    pub reservations_current: u64,
    /// Allocations that got their port by redeeming a RESERVATION-TOKEN.
    pub reservations_redeemed: u64,
}
