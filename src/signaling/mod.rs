//! WebSocket signaling: discovery, rooms, pairing and the SDP/ICE relay.
//!
//! - [`protocol`]: the wire contract (serde enums), shared in name with the web client.
//! - [`registry`]: pure state (who sees whom), unit-tested with explicit time.
//! - [`session`]: one WebSocket's loop (limits, liveness, shutdown).
//!
//! The [`Hub`] joins them: it owns the registry and each connection's outgoing queue.

pub mod protocol;
pub mod registry;
pub mod session;

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::mpsc;

use protocol::IceServer;
use registry::{Outbox, PeerId, Registry, RegistrySettings};

/// Outgoing queue depth per connection; a client that lets it fill up is dropped.
pub const OUT_QUEUE: usize = 256;
/// Room and pairing join attempts allowed per source address (per minute, also the burst).
pub const JOINS_PER_MINUTE: u32 = 10;
/// A pair of peers counts as negotiating a connection while signals flowed between them
/// within this window (`negotiating` in `/stats`).
pub const NEGOTIATION_WINDOW: Duration = Duration::from_secs(30);

/// Settings for the hub, taken from the configuration.
#[derive(Debug, Clone)]
pub struct HubSettings {
    pub registry: RegistrySettings,
    /// Ping interval and the silence after which a connection is dead.
    pub ping_every: Duration,
    pub dead_after: Duration,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            registry: RegistrySettings {
                default_capacity: 10,
                room_idle_ttl: Duration::from_secs(600),
            },
            ping_every: Duration::from_secs(2),
            dead_after: Duration::from_secs(6),
        }
    }
}

struct State {
    registry: Registry,
    queues: HashMap<PeerId, mpsc::Sender<String>>,
}

/// Counters for `/stats` and `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    pub connections_total: AtomicU64,
    pub signals_relayed: AtomicU64,
    pub errors_sent: AtomicU64,
}

/// Shared signaling state.
pub struct Hub {
    state: Mutex<State>,
    /// Last signal between each unordered pair of peers (see [`NEGOTIATION_WINDOW`]).
    negotiations: Mutex<HashMap<(PeerId, PeerId), Instant>>,
    joins: DefaultKeyedRateLimiter<IpAddr>,
    pub settings: HubSettings,
    pub counters: Counters,
}

impl Hub {
    pub fn new(settings: HubSettings) -> Self {
        let per_min = NonZeroU32::new(JOINS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Hub {
            state: Mutex::new(State {
                registry: Registry::new(settings.registry.clone()),
                queues: HashMap::new(),
            }),
            negotiations: Mutex::new(HashMap::new()),
            joins: RateLimiter::keyed(Quota::per_minute(per_min)),
            settings,
            counters: Counters::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock would be a bug; keep serving with the data as is.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the registry and deliver what it returns.
    pub fn with<R>(&self, f: impl FnOnce(&mut Registry) -> (R, Outbox)) -> R {
        let mut st = self.lock();
        let (r, out) = f(&mut st.registry);
        deliver(&mut st, out);
        r
    }

    /// Register a connection and its outgoing queue.
    pub fn connect(&self, id: &str, group: crate::net::NetGroup, tx: mpsc::Sender<String>) {
        self.counters
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        st.registry.connect(id, group);
        st.queues.insert(id.to_string(), tx);
    }

    pub fn disconnect(&self, id: &str) {
        let mut st = self.lock();
        st.queues.remove(id);
        let out = st.registry.disconnect(id, Instant::now());
        deliver(&mut st, out);
        drop(st);
        self.negotiations_lock()
            .retain(|(a, b), _| a != id && b != id);
    }

    fn negotiations_lock(&self) -> std::sync::MutexGuard<'_, HashMap<(PeerId, PeerId), Instant>> {
        self.negotiations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A signal went from `a` to `b` (counted in [`Counters::signals_relayed`] too).
    pub fn note_signal(&self, a: &str, b: &str) {
        self.counters
            .signals_relayed
            .fetch_add(1, Ordering::Relaxed);
        let key = if a < b { (a, b) } else { (b, a) };
        let key = (key.0.to_string(), key.1.to_string());
        self.negotiations_lock().insert(key, Instant::now());
    }

    /// Pairs of peers that exchanged a signal within [`NEGOTIATION_WINDOW`].
    pub fn negotiating(&self) -> usize {
        let m = self.negotiations_lock();
        m.values()
            .filter(|t| t.elapsed() < NEGOTIATION_WINDOW)
            .count()
    }

    /// May this address try another room code or pairing key now?
    pub fn allow_join(&self, ip: IpAddr) -> bool {
        self.joins.check_key(&ip).is_ok()
    }

    /// Periodic housekeeping: expire idle rooms, old keys and limiter entries.
    pub fn sweep(&self) {
        self.lock().registry.sweep(Instant::now());
        self.negotiations_lock()
            .retain(|_, t| t.elapsed() < NEGOTIATION_WINDOW);
        self.joins.retain_recent();
    }

    pub fn peer_count(&self) -> usize {
        self.lock().registry.peer_count()
    }

    pub fn room_count(&self) -> usize {
        self.lock().registry.room_count()
    }

    /// ICE servers handed to a client in `welcome`. Host candidates only for now: homedrop
    /// must work with no internet at all, so no external STUN server is ever named.
    pub fn ice_servers(&self) -> Vec<IceServer> {
        Vec::new()
    }
}

/// Queue each message; a connection whose queue is full is cut off (its session ends when
/// it sees the queue closed) rather than letting one slow client hold memory for all.
fn deliver(st: &mut State, out: Outbox) {
    for (to, msg) in out {
        let full = match st.queues.get(&to) {
            Some(q) => q.try_send(msg.to_json()).is_err(),
            None => false,
        };
        if full {
            tracing::warn!(peer = %short(&to), "outgoing queue full, dropping connection");
            st.queues.remove(&to);
        }
    }
}

/// First 8 characters of an id, enough for logs.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
