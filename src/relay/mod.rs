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
//! Layers, lowest first; each uses only its own and those before it
//! (`scripts/check-layers.py` checks it):
//! - the core: this file (the vocabulary: addresses, [`Now`], [`Output`],
//!   [`Stats`]), [`wire`] (codec glue), [`framing`] (TCP/TLS stream
//!   splitting), [`auth`] (TURN REST credentials, stateless nonces),
//!   [`policy`] (peer policy, bandwidth buckets), [`allocation`] (state),
//!   `reservation` (EVEN-PORT R bit / RESERVATION-TOKEN), [`Config`],
//!   [`server`] (request handlers, with `ports` and `relaying`), [`Counters`]
//!   (atomics for /stats and /metrics);
//! - the router: [`shell`] ([`Shell`]: feeds the core, routes its outputs to
//!   UDP or stream clients, drives its timer);
//! - the transports: `udp` (receive threads) and `tcp` (generic stream
//!   serving, also for TLS);
//! - the assembly: [`service`] ([`Relay`]: bind, build, run, drain).

pub mod allocation;
pub mod auth;
mod config;
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

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use auth::issue_credentials;
pub use config::Config;
pub use counters::Counters;
pub use server::Server;
pub use service::Relay;
pub use shell::{Shell, ShellConfig, ShellStats};
pub use tcp::serve_tls;

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
    pub fn tls(addr: SocketAddr) -> Self {
        Self {
            addr,
            transport: Transport::Tls,
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
    /// 403 refusals (peer outside the relay-to-relay policy), Send
    /// indications dropped for the same reason, and packets from another
    /// allocation dropped because the receiver did not permit that exact
    /// relayed address (IP and port).
    pub policy_refusals: u64,
    /// 486 (per-user or per-source quota) and 508 (server capacity, no free port, invalid
    /// RESERVATION-TOKEN).
    pub quota_refusals: u64,
    /// Packets dropped by a bandwidth cap.
    pub dropped_bandwidth: u64,
    /// Ports held for a RESERVATION-TOKEN now.
    pub reservations_current: u64,
    /// Allocations that got their port by redeeming a RESERVATION-TOKEN.
    pub reservations_redeemed: u64,
}
