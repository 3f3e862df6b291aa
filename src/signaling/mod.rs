//! WebSocket signaling: discovery, rooms, pairing and the SDP/ICE relay.
//!
//! - [`protocol`]: the wire contract (serde enums), shared in name with the web client.
//! - [`registry`]: pure state (who sees whom), unit-tested with explicit time.
//! - [`session`]: one WebSocket's loop (limits, liveness, shutdown).
//!
//! - [`ice`]: the ICE servers (homedrop's own STUN/TURN) handed to each client.
//!
//! The [`Hub`] joins them: it owns the registry and each connection's outgoing queue. It also
//! hands TURN credentials to a connection the first time a peer list goes out to it with
//! someone it shares the household, a room or a pairing with, and again before they expire.

pub mod ice;
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

use ice::IceSettings;
use protocol::{IceServer, ServerMsg};
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
    queues: HashMap<PeerId, Conn>,
    ice: Option<IceSettings>,
}

/// One connection's outgoing queue and what it was told about ICE.
struct Conn {
    tx: mpsc::Sender<String>,
    /// Host the client reached homedrop by, when it is homedrop's own (see [`ice::own_host`]).
    own_host: Option<String>,
    /// When TURN credentials last went out; `None`: never (no link yet).
    turn_sent: Option<Instant>,
    /// It connected from the household (private or on-link address).
    home: bool,
    /// The last peer list sent to it holds someone it may use the relay with.
    linked: bool,
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
                ice: None,
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

    /// Register a connection and its outgoing queue. `own_host` is the host the client
    /// used to reach homedrop when that is one of homedrop's own (see [`ice::own_host`]).
    pub fn connect(
        &self,
        id: &str,
        group: crate::net::NetGroup,
        own_host: Option<String>,
        tx: mpsc::Sender<String>,
    ) {
        self.counters
            .connections_total
            .fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        st.registry.connect(id, group);
        let conn = Conn {
            tx,
            own_host,
            turn_sent: None,
            home: group == crate::net::NetGroup::Home,
            linked: false,
        };
        st.queues.insert(id.to_string(), conn);
    }

    /// Hand out ICE servers from now on (called once the relay listens).
    pub fn enable_ice(&self, settings: IceSettings) {
        self.lock().ice = Some(settings);
    }

    /// Re-send TURN credentials to `id` when half their lifetime has passed and it is still
    /// linked to someone (called from the session's timer).
    pub fn refresh_ice(&self, id: &str) {
        let mut st = self.lock();
        let Some(ttl) = st.ice.as_ref().map(|i| i.ttl) else {
            return;
        };
        let due = st
            .queues
            .get(id)
            .is_some_and(|c| c.linked && c.turn_sent.is_some_and(|t| t.elapsed() >= ttl / 2));
        if due {
            send_turn(&mut st, id);
        }
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

    /// ICE servers handed to a client in `welcome`: homedrop's own STUN only (TURN comes
    /// once the client is linked to someone), nothing when the relay is off. homedrop must
    /// work with no internet at all, so no external STUN server is ever named.
    pub fn ice_servers(&self, id: &str) -> Vec<IceServer> {
        let st = self.lock();
        let (Some(ice), Some(conn)) = (&st.ice, st.queues.get(id)) else {
            return Vec::new();
        };
        ice.stun(&ice.host_for(conn.own_host.as_deref()))
    }
}

/// Queue each message; a connection whose queue is full is cut off (its session ends when
/// it sees the queue closed) rather than letting one slow client hold memory for all.
/// A peer list with someone in it is a link: the first one brings TURN credentials, just
/// before it.
fn deliver(st: &mut State, out: Outbox) {
    for (to, msg) in out {
        let first_link = match (&msg, st.queues.get_mut(&to)) {
            (ServerMsg::Peers { peers }, Some(c)) => {
                c.linked = relay_worthy(c.home, peers);
                c.linked && c.turn_sent.is_none()
            }
            _ => false,
        };
        // Credentials go first: a client may dial a peer the moment it sees it (room chat
        // does), and a connection gathers candidates only from the servers it started with.
        if first_link {
            send_turn(st, &to);
        }
        send(st, &to, msg);
    }
}

/// A link that earns TURN credentials: the household, a room or a pairing. Two devices of
/// strangers behind one public address see each other (like PairDrop) but get no relay:
/// a stranger with no code never gets credentials, however many tabs it opens.
fn relay_worthy(home: bool, peers: &[protocol::PeerInfo]) -> bool {
    peers
        .iter()
        .flat_map(|p| &p.links)
        .any(|l| home || !matches!(l, protocol::Link::Home))
}

fn send(st: &mut State, to: &str, msg: ServerMsg) {
    let full = match st.queues.get(to) {
        Some(q) => q.tx.try_send(msg.to_json()).is_err(),
        None => false,
    };
    if full {
        tracing::warn!(peer = %short(to), "outgoing queue full, dropping connection");
        st.queues.remove(to);
    }
}

/// Fresh TURN credentials for `to` (when the relay runs).
fn send_turn(st: &mut State, to: &str) {
    let (Some(ice), Some(conn)) = (&st.ice, st.queues.get_mut(to)) else {
        return;
    };
    conn.turn_sent = Some(Instant::now());
    let host = ice.host_for(conn.own_host.as_deref());
    let msg = ServerMsg::IceServers {
        ice_servers: ice.with_turn(&host, short(to), crate::relay::Now::system().unix),
        expires_in_secs: ice.ttl.as_secs(),
    };
    send(st, to, msg);
}

/// First 8 characters of an id, enough for logs.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
