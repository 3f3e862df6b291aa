//! Allocation state: allocations keyed by relayed port and by client 5-tuple,
//! with their permissions and channel bindings.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::policy::TokenBucket;
use super::{ClientAddr, PeerAddr, RelayAddr};
use crate::net::SourceKey;

/// Default allocation lifetime, RFC 8656 §3.2 / §7.2 ("10 minutes").
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(600);
/// Maximum allocation lifetime, RFC 8656 §7.2 (SHOULD NOT exceed 3600 s).
pub const MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// Permission lifetime, RFC 8656 §9 ("300 seconds (5 minutes)"), not configurable.
pub const PERMISSION_LIFETIME: Duration = Duration::from_secs(300);
/// Channel binding lifetime, RFC 8656 §12 ("10 minutes").
pub const CHANNEL_LIFETIME: Duration = Duration::from_secs(600);
/// Accepted channel numbers: RFC 5766 §11's 0x4000 through 0x7FFF. RFC 8656
/// §12 narrowed clients to 0x4000-0x4FFF (0x5000+ kept free for RFC 7983
/// DTLS-SRTP demultiplexing, which this relay port never does), but RFC 5766
/// clients still pick from the wide range: coturn's `turnutils_uclient`
/// chooses random numbers up to 0x7FFF and coturn accepts them. Every number
/// here still starts with the bits `01`, so ChannelData framing is unchanged.
pub const CHANNEL_NUMBERS: std::ops::RangeInclusive<u16> = 0x4000..=0x7FFF;

/// Why a ChannelBind conflicts with existing bindings (→ 400, RFC 8656 §12.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelConflict;

/// One allocation (RFC 8656 §2.2).
#[derive(Debug)]
pub struct Allocation {
    pub client: ClientAddr,
    pub relay: RelayAddr,
    pub username: String,
    pub expires: Instant,
    pub bucket: TokenBucket,
    /// Keyed by the peer's full transport address, not its IP (see
    /// `has_permission`).
    permissions: HashMap<SocketAddr, Instant>,
    channels: HashMap<u16, (PeerAddr, Instant)>,
    channel_by_peer: HashMap<SocketAddr, u16>,
}

impl Allocation {
    pub fn new(
        client: ClientAddr,
        relay: RelayAddr,
        username: String,
        expires: Instant,
        rate: u64,
    ) -> Self {
        Self {
            client,
            relay,
            username,
            expires,
            bucket: TokenBucket::new(rate),
            permissions: HashMap::new(),
            channels: HashMap::new(),
            channel_by_peer: HashMap::new(),
        }
    }

    /// Deliberately stricter than RFC 8656 §9 ("the IP address ... the port
    /// number is not used"): homedrop relays only between its own
    /// allocations, and every relayed address shares the one advertised IP,
    /// so an IP-only permission for one allocation would admit every other
    /// allocation. Matching the peer's full relayed transport address (IP and
    /// port) keeps each allocation reachable only from the ones it named.
    pub fn has_permission(&self, peer: SocketAddr, now: Instant) -> bool {
        self.permissions.get(&peer).is_some_and(|&exp| exp > now)
    }

    /// Installs or refreshes a permission for `peer` (RFC 8656 §9.2; keyed by
    /// the full address, see `has_permission`).
    pub fn add_permission(&mut self, peer: SocketAddr, now: Instant) {
        self.permissions.insert(peer, now + PERMISSION_LIFETIME);
    }

    /// Peer bound to `number`, if the binding is live.
    pub fn channel_peer(&self, number: u16, now: Instant) -> Option<PeerAddr> {
        self.channels
            .get(&number)
            .filter(|(_, exp)| *exp > now)
            .map(|(peer, _)| *peer)
    }

    /// Channel bound to `peer`, if the binding is live.
    pub fn channel_for_peer(&self, peer: SocketAddr, now: Instant) -> Option<u16> {
        let number = *self.channel_by_peer.get(&peer)?;
        self.channel_peer(number, now).map(|_| number)
    }

    /// Binds or refreshes `number` ↔ `peer` (RFC 8656 §12.2): a number may not
    /// move to another peer and a peer may not get a second number.
    pub fn bind_channel(
        &mut self,
        number: u16,
        peer: PeerAddr,
        now: Instant,
    ) -> Result<(), ChannelConflict> {
        if let Some((bound, _)) = self.channels.get(&number) {
            if *bound != peer {
                return Err(ChannelConflict);
            }
        }
        if let Some(&n) = self.channel_by_peer.get(&peer.0) {
            if n != number {
                return Err(ChannelConflict);
            }
        }
        self.channels.insert(number, (peer, now + CHANNEL_LIFETIME));
        self.channel_by_peer.insert(peer.0, number);
        Ok(())
    }

    /// Drops expired permissions and channels (RFC 8656 §9, §12).
    pub fn expire(&mut self, now: Instant) {
        self.permissions.retain(|_, exp| *exp > now);
        let by_peer = &mut self.channel_by_peer;
        self.channels.retain(|_, (peer, exp)| {
            let live = *exp > now;
            if !live {
                by_peer.remove(&peer.0);
            }
            live
        });
    }

    /// Earliest instant at which something in this allocation expires.
    pub fn next_expiry(&self) -> Instant {
        let perms = self.permissions.values();
        let chans = self.channels.values().map(|(_, e)| e);
        perms.chain(chans).copied().fold(self.expires, Instant::min)
    }

    /// Number of stored entries (for tests / state accounting).
    pub fn entries(&self) -> usize {
        self.permissions.len() + self.channels.len() + self.channel_by_peer.len()
    }
}

/// All allocations of a server.
#[derive(Debug, Default)]
pub struct Allocations {
    by_port: HashMap<u16, Allocation>,
    by_client: HashMap<ClientAddr, u16>,
    per_user: HashMap<String, usize>,
    /// Allocations per client source (see [`SourceKey`]).
    per_source: HashMap<SourceKey, usize>,
}

impl Allocations {
    pub fn len(&self) -> usize {
        self.by_port.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_port.is_empty()
    }

    pub fn user_count(&self, username: &str) -> usize {
        self.per_user.get(username).copied().unwrap_or(0)
    }

    /// Allocations held by clients from the same source as `client`
    /// (IPv4 address or IPv6 /64).
    pub fn source_count(&self, client: &ClientAddr) -> usize {
        let key = SourceKey::of(client.addr.ip());
        self.per_source.get(&key).copied().unwrap_or(0)
    }

    pub fn port_of(&self, client: &ClientAddr) -> Option<u16> {
        self.by_client.get(client).copied()
    }

    pub fn by_client(&self, client: &ClientAddr) -> Option<&Allocation> {
        self.by_port.get(self.by_client.get(client)?)
    }

    pub fn by_client_mut(&mut self, client: &ClientAddr) -> Option<&mut Allocation> {
        self.by_port.get_mut(self.by_client.get(client)?)
    }

    pub fn by_port(&self, port: u16) -> Option<&Allocation> {
        self.by_port.get(&port)
    }

    pub fn by_port_mut(&mut self, port: u16) -> Option<&mut Allocation> {
        self.by_port.get_mut(&port)
    }

    pub fn is_free(&self, port: u16) -> bool {
        !self.by_port.contains_key(&port)
    }

    pub fn insert(&mut self, alloc: Allocation) {
        let port = alloc.relay.0.port();
        *self.per_user.entry(alloc.username.clone()).or_insert(0) += 1;
        *self
            .per_source
            .entry(SourceKey::of(alloc.client.addr.ip()))
            .or_insert(0) += 1;
        self.by_client.insert(alloc.client, port);
        self.by_port.insert(port, alloc);
    }

    pub fn remove(&mut self, port: u16) -> Option<Allocation> {
        let alloc = self.by_port.remove(&port)?;
        self.by_client.remove(&alloc.client);
        if let Some(n) = self.per_user.get_mut(&alloc.username) {
            *n -= 1;
            if *n == 0 {
                self.per_user.remove(&alloc.username);
            }
        }
        let key = SourceKey::of(alloc.client.addr.ip());
        if let Some(n) = self.per_source.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&key);
            }
        }
        Some(alloc)
    }

    /// Removes expired allocations and expired permissions/channels; returns
    /// how many allocations were removed.
    pub fn expire(&mut self, now: Instant) -> usize {
        let dead: Vec<u16> = self
            .by_port
            .iter()
            .filter(|(_, a)| a.expires <= now)
            .map(|(p, _)| *p)
            .collect();
        for port in &dead {
            self.remove(*port);
        }
        self.by_port.values_mut().for_each(|a| a.expire(now));
        dead.len()
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.by_port.values().map(Allocation::next_expiry).min()
    }

    /// Stored entries across all maps (allocations and their contents).
    pub fn state_size(&self) -> usize {
        let inner: usize = self.by_port.values().map(Allocation::entries).sum();
        let maps = self.by_port.len() + self.by_client.len();
        maps + self.per_user.len() + self.per_source.len() + inner
    }
}

/// Picks a free port in `[min, max]` starting at `start`, visiting each
/// candidate at most once (bounded: never loops forever). `free` says whether
/// a port can be handed out (no allocation, no reservation). With `even`, only
/// even ports are candidates (EVEN-PORT, RFC 8656 §7.2); with `pair`, the next
/// port must be free too (R bit).
pub fn find_free_port(
    free: impl Fn(u16) -> bool,
    (min, max): (u16, u16),
    start: u16,
    even: bool,
    pair: bool,
) -> Option<u16> {
    let (min, max, start) = (u32::from(min), u32::from(max), u32::from(start));
    let step = if even { 2 } else { 1 };
    let base = if even { min.next_multiple_of(2) } else { min };
    if base > max {
        return None;
    }
    let count = (max - base) / step + 1;
    let first = (start.clamp(base, max) - base) / step;
    (0..count).find_map(|i| {
        let port = u16::try_from(base + ((first + i) % count) * step).ok()?;
        let next_ok = !pair || (u32::from(port) < max && free(port + 1));
        (free(port) && next_ok).then_some(port)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(port: u16, now: Instant) -> Allocation {
        let client = ClientAddr::udp(SocketAddr::from(([10, 0, 0, 1], port)));
        let relay = RelayAddr(SocketAddr::from(([192, 168, 1, 10], port)));
        Allocation::new(client, relay, "u".into(), now + DEFAULT_LIFETIME, 0)
    }

    #[test]
    fn even_port_search_is_bounded() {
        let now = Instant::now();
        let mut a = Allocations::default();
        a.insert(alloc(50000, now));
        a.insert(alloc(50002, now));
        assert_eq!(
            find_free_port(|p| a.is_free(p), (50000, 50003), 50001, true, false),
            None
        );
        assert_eq!(
            find_free_port(|p| a.is_free(p), (50000, 50003), 50002, false, false),
            Some(50003)
        );
        assert_eq!(
            find_free_port(|p| a.is_free(p), (50001, 50005), 50005, true, false),
            Some(50004)
        );
        assert_eq!(
            find_free_port(|p| a.is_free(p), (50001, 50004), 50005, true, true),
            None
        );
    }

    #[test]
    fn channel_conflicts_and_expiry() {
        let now = Instant::now();
        let mut a = alloc(50000, now);
        let p1 = PeerAddr("192.168.1.10:50001".parse().unwrap());
        let p2 = PeerAddr("192.168.1.10:50002".parse().unwrap());
        assert!(a.bind_channel(0x4000, p1, now).is_ok());
        assert_eq!(a.bind_channel(0x4000, p2, now), Err(ChannelConflict));
        assert_eq!(a.bind_channel(0x4001, p1, now), Err(ChannelConflict));
        assert_eq!(a.channel_for_peer(p1.0, now), Some(0x4000));
        a.expire(now + CHANNEL_LIFETIME);
        assert_eq!(a.channel_peer(0x4000, now + CHANNEL_LIFETIME), None);
        assert_eq!(a.entries(), 0);
    }
}
