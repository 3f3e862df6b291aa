//! WebSocket signaling: discovery, rooms, pairing and the SDP/ICE relay.
//!
//! - [`protocol`]: the wire contract (serde enums), shared in name with the web client.
//! - [`registry`]: the rulebook, pure state with explicit time and an injected random
//!   source: who sees and may signal whom, rooms, pairings, invitations, join limits, who
//!   gets TURN credentials. Unit-tested without sockets.
//! - [`session`]: one WebSocket's loop: limits, parsing, liveness, shutdown.
//! - [`ice`]: the ICE servers (homedrop's own STUN/TURN) handed to each client.
//!
//! The [`Hub`] joins them and decides nothing: it owns the registry behind one lock, reads
//! the clocks, and queues each message the registry returns, typed, to its connection's
//! session, which serializes it outside the lock.

pub mod ice;
pub mod protocol;
pub mod registry;
pub mod session;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use ice::IceSettings;
use protocol::{IceServer, ServerMsg};
use registry::{Now, Outbox, PeerId, Refusal, Registry, RegistrySettings};

pub use registry::{short, JOINS_PER_MINUTE, NEGOTIATION_WINDOW};

/// Outgoing queue depth per connection; a client that lets it fill up is dropped.
pub const OUT_QUEUE: usize = 256;

/// One queued message. Boxed: a queue slot then costs 8 bytes (a `String` took 24) rather
/// than the enum's largest variant, and tokio allocates a queue's slots 32 at a time.
pub type Outgoing = Box<ServerMsg>;

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
                open_rooms: false,
                pair_tag_key: registry::PairTagKey::random(),
            },
            ping_every: Duration::from_secs(2),
            dead_after: Duration::from_secs(6),
        }
    }
}

struct State {
    registry: Registry,
    queues: HashMap<PeerId, mpsc::Sender<Outgoing>>,
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
    pub settings: HubSettings,
    pub counters: Counters,
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
        }
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

    /// Register a connection and its outgoing queue; returns its new id. `own_host` is
    /// the host the client used to reach homedrop when that is one of homedrop's own (see
    /// [`ice::own_host`]).
    pub fn connect(
        &self,
        group: crate::net::NetGroup,
        own_host: Option<String>,
        tx: mpsc::Sender<Outgoing>,
    ) -> PeerId {
        self.counters
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        let id = st.registry.new_id();
        st.registry.connect(&id, group, own_host);
        st.queues.insert(id.clone(), tx);
        id
    }

    /// Hand out ICE servers from now on (called once the relay listens).
    pub fn enable_ice(&self, settings: IceSettings) {
        self.lock().registry.enable_ice(settings);
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

    /// Periodic housekeeping: expire idle rooms, old keys, negotiations and join limits.
    pub fn sweep(&self) {
        self.lock().registry.sweep(Instant::now());
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

impl State {
    /// Queue each message; a connection whose queue is full is cut off (its session ends
    /// when it sees the queue closed) rather than letting one slow client hold memory for
    /// all. Nothing is serialized here: the receiving session does that, outside the lock.
    fn deliver(&mut self, out: Outbox) {
        for (to, msg) in out {
            let full = match self.queues.get(&to) {
                Some(q) => q.try_send(Box::new(msg)).is_err(),
                None => false,
            };
            if full {
                tracing::warn!(peer = %short(&to), "outgoing queue full, dropping connection");
                self.queues.remove(&to);
            }
        }
    }
}
