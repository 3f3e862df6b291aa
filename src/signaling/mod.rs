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

use protocol::{IceServer, ServerMsg};
use registry::{Outbox, PeerId, Registry, RegistrySettings};

/// Outgoing queue depth per connection; a client that lets it fill up is dropped.
pub const OUT_QUEUE: usize = 256;
/// Room and pairing join attempts allowed per source address (per minute, also the burst).
pub const JOINS_PER_MINUTE: u32 = 10;

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
    }

    /// May this address try another room code or pairing key now?
    pub fn allow_join(&self, ip: IpAddr) -> bool {
        self.joins.check_key(&ip).is_ok()
    }

    /// Periodic housekeeping: expire idle rooms, old keys and limiter entries.
    pub fn sweep(&self) {
        self.lock().registry.sweep(Instant::now());
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

    /// Tell every connection the server is going away.
    pub fn broadcast_restarting(&self) {
        let st = self.lock();
        let msg = ServerMsg::Restarting.to_json();
        for q in st.queues.values() {
            let _ = q.try_send(msg.clone());
        }
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
