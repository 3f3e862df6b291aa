//! The core's configuration ([`Config`]): realm, secret, relayed addresses,
//! quotas, bandwidth caps and lifetimes.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::{allocation, auth};

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
    /// Allocation quota per client source, an IPv4 address or an IPv6 /64
    /// (486 when exceeded), so one source cannot take the relay from the
    /// household; `0`: the larger of 20 and `max_allocations / 8` (see
    /// [`Config::source_quota`]).
    pub max_allocations_per_source: usize,
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
            max_allocations_per_source: 0,
            allocation_bandwidth: 0,
            total_bandwidth: 0,
            default_lifetime: allocation::DEFAULT_LIFETIME,
            max_lifetime: allocation::MAX_LIFETIME,
            nonce_lifetime: auth::NONCE_LIFETIME,
            credential_horizon: auth::MAX_CREDENTIAL_TTL,
        }
    }
}

impl Config {
    /// The per-source allocation quota in force: the configured one, or for
    /// `0` the larger of 20 and an eighth of the server's capacity (25 of the
    /// default 200: a source cannot hold more than an eighth of the relay,
    /// while a household behind one NAT still has room for several calls).
    /// The relay cannot tell a household source from an internet one (the
    /// household shares the appliance's LAN, the relay only sees addresses),
    /// so the cap is the same for every source.
    pub fn source_quota(&self) -> usize {
        match self.max_allocations_per_source {
            0 => (self.max_allocations / 8).max(20),
            n => n,
        }
    }
}
