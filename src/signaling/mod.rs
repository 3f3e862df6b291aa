//! WebSocket signaling: discovery, rooms, pairing and the SDP/ICE relay.
//!
//! - [`protocol`]: the wire contract (serde enums), shared in name with the web client.
//! - [`registry`]: the rulebook, pure state with explicit time and an injected random
//!   source: who sees and may signal whom, rooms, pairings, invitations, join limits, who
//!   gets TURN credentials. Unit-tested without sockets.
//! - [`session`]: one WebSocket's loop: limits, parsing, liveness, shutdown.
//! - [`outq`]: each connection's outgoing queue, bounded in bytes, presence coalesced.
//! - [`ice`]: the ICE servers (homedrop's own STUN/TURN) handed to each client.
//!
//! The [`Hub`] joins them and decides nothing: it owns the registry behind one lock, reads
//! the clocks, and queues each message the registry returns, typed, to its connection's
//! session, which serializes it outside the lock. It also holds the one limit that spans
//! connections, how often a source may say `hello` (see [`HELLOS_PER_MINUTE`]).

pub mod ice;
pub mod outq;
pub mod protocol;
pub mod registry;
pub mod session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::net::SourceKey;
use ice::IceSettings;
use outq::OutQueue;
use protocol::IceServer;
use registry::{Now, Outbox, PeerId, Refusal, Registry, RegistrySettings};

pub use outq::OUT_BUDGET;
pub use registry::{short, JOINS_PER_MINUTE, NEGOTIATION_WINDOW};

/// `hello`s one source (an IPv4 address or an IPv6 /64) may send per minute, after a
/// burst of [`HELLO_BURST`]. Each `hello` (and the disconnect that follows it) sends a new
/// list to everyone its device sees: a source reconnecting in a loop would make the whole
/// household's lists churn. A home's tabs reconnecting after a restart fit in the burst.
pub const HELLOS_PER_MINUTE: u32 = 60;
pub const HELLO_BURST: u32 = 20;

/// Settings for the hub, taken from the configuration.
#[derive(Debug, Clone)]
pub struct HubSettings {
    pub registry: RegistrySettings,
    /// Ping interval and the silence after which a connection is dead.
    pub ping_every: Duration,
    pub dead_after: Duration,
    /// A connection that has not said a valid `hello` by then is closed.
    pub hello_within: Duration,
    /// Bytes of queued messages per connection (see [`outq`]).
    pub out_budget: usize,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            registry: RegistrySettings {
                default_capacity: 10,
                room_idle_ttl: Duration::from_secs(600),
                open_rooms: false,
                pair_tag_key: registry::PairTagKey::random(),
            },
            ping_every: Duration::from_secs(2),
            dead_after: Duration::from_secs(6),
            hello_within: Duration::from_secs(5),
            out_budget: OUT_BUDGET,
        }
    }
}

struct State {
    registry: Registry,
    queues: HashMap<PeerId, Arc<OutQueue>>,
}

/// Counters for `/stats` and `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    pub connections_total: AtomicU64,
    pub signals_relayed: AtomicU64,
    pub errors_sent: AtomicU64,
    /// Connections closed for not reading: queue over its budget, or a write stalled.
    pub too_slow: AtomicU64,
}

/// Shared signaling state.
pub struct Hub {
    state: Mutex<State>,
    pub settings: HubSettings,
    pub counters: Counters,
    hellos: DefaultKeyedRateLimiter<SourceKey>,
}

impl Hub {
    pub fn new(settings: HubSettings) -> Self {
        let registry = Registry::new(settings.registry.clone(), rand::make_rng());
        Hub {
            state: Mutex::new(State {
                registry,
                queues: HashMap::new(),
            }),
            settings,
            counters: Counters::default(),
            hellos: RateLimiter::keyed(hello_quota()),
        }
    }

    /// May a connection from `ip` say `hello` now? (See [`HELLOS_PER_MINUTE`].)
    pub fn hello_allowed(&self, ip: IpAddr) -> bool {
        self.hellos.check_key(&SourceKey::of(ip)).is_ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug; keep serving with the data as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run one registry operation at the current time and queue what it returns.
    pub fn apply(
        &self,
        f: impl FnOnce(&mut Registry, Now) -> Result<Outbox, Refusal>,
    ) -> Result<(), Refusal> {
        let now = Now::system();
        let mut st = self.lock();
        let out = f(&mut st.registry, now)?;
        st.deliver(out);
        Ok(())
    }

    /// Register a connection and its outgoing queue; returns its new id. The hub drops
    /// its handle on the queue when the queue overflows (and closes it). `own_host` is
    /// the host the client used to reach homedrop when that is one of homedrop's own (see
    /// [`ice::own_host`]).
    pub fn connect(
        &self,
        group: crate::net::NetGroup,
        own_host: Option<String>,
        queue: Arc<OutQueue>,
    ) -> PeerId {
        self.counters
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        let id = st.registry.new_id();
        st.registry.connect(&id, group, own_host);
        st.queues.insert(id.clone(), queue);
        id
    }

    /// Hand out ICE servers from now on (called once the relay listens).
    pub fn enable_ice(&self, settings: IceSettings) {
        self.lock().registry.enable_ice(settings);
    }

    /// See [`Registry::set_public_host`].
    pub fn set_public_host(&self, host: String) {
        self.lock().registry.set_public_host(host);
    }

    /// Re-send TURN credentials to `id` when they are due (called from the session's timer).
    pub fn refresh_ice(&self, id: &str) {
        let _ = self.apply(|r, now| Ok(r.refresh_ice(id, now)));
    }

    pub fn disconnect(&self, id: &str) {
        let now = Now::system();
        let mut st = self.lock();
        st.queues.remove(id);
        let out = st.registry.disconnect(id, now);
        st.deliver(out);
    }

    /// Pairs of peers that exchanged a signal within [`NEGOTIATION_WINDOW`].
    pub fn negotiating(&self) -> usize {
        self.lock().registry.negotiating(Instant::now())
    }

    /// Periodic housekeeping: expire idle rooms, old keys, negotiations and join limits,
    /// and forget the `hello` limits of sources that are quiet again.
    pub fn sweep(&self) {
        self.lock().registry.sweep(Instant::now());
        self.hellos.retain_recent();
        self.hellos.shrink_to_fit();
    }

    /// Connections with a queue (tests and the fuzz check that none is left behind).
    pub fn queue_count(&self) -> usize {
        self.lock().queues.len()
    }

    pub fn peer_count(&self) -> usize {
        self.lock().registry.peer_count()
    }

    pub fn room_count(&self) -> usize {
        self.lock().registry.room_count()
    }

    /// ICE servers for `id`'s `welcome` (see [`Registry::ice_servers`]).
    pub fn ice_servers(&self, id: &str) -> Vec<IceServer> {
        self.lock().registry.ice_servers(id)
    }
}

fn hello_quota() -> Quota {
    let per_min = NonZeroU32::new(HELLOS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(HELLO_BURST).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_min).allow_burst(burst)
}

impl State {
    /// Queue each message; a connection whose queue goes over its byte budget is cut off
    /// (the queue frees what it held and closes; its session ends when it sees that) rather
    /// than letting one slow client hold memory for all. Nothing is serialized here: the
    /// receiving session does that, outside the lock.
    fn deliver(&mut self, out: Outbox) {
        for (to, msg) in out {
            let over = match self.queues.get(&to) {
                Some(q) => q.push(msg).is_err(),
                None => false,
            };
            if over {
                tracing::warn!(peer = %short(&to), "outgoing queue over its budget, dropping connection");
                self.queues.remove(&to);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hellos_are_limited_per_ipv4_address_and_per_ipv6_slash_64() {
        let hub = Hub::new(HubSettings::default());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        for _ in 0..HELLO_BURST {
            assert!(hub.hello_allowed(ip("203.0.113.9")));
        }
        assert!(!hub.hello_allowed(ip("203.0.113.9")));
        assert!(hub.hello_allowed(ip("203.0.113.10")), "another address");
        // Rotating addresses inside one /64 is one source.
        for i in 0..HELLO_BURST {
            assert!(hub.hello_allowed(ip(&format!("2001:db8:5::{:x}", i + 1))));
        }
        assert!(!hub.hello_allowed(ip("2001:db8:5::ffff:1")));
        assert!(hub.hello_allowed(ip("2001:db8:6::1")), "another /64");
        hub.sweep();
        assert!(
            !hub.hello_allowed(ip("203.0.113.9")),
            "a sweep forgets no active limit"
        );
    }
}
