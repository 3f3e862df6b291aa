//! The signaling rulebook: who is connected, who may see and signal whom, rooms, pairings,
//! invitations, join limits and who gets TURN credentials.
//!
//! Pure state with no I/O and no clock or randomness of its own: time comes in as a
//! parameter (`now: Now` for operations that may send a peer list, because a peer list can
//! bring TURN credentials whose expiry is Unix time; `now: Instant` for the rest), and
//! codes, keys, secrets and ids come from the random source given to [`Registry::new`]
//! (seeded in tests). Every operation returns the messages to send (an [`Outbox`]) or a
//! [`Refusal`], so every rule is unit-tested without sockets and the hub and sessions stay
//! a thin shell. Peer lists are recomputed only for peers a change can affect, and sent
//! only when they differ from what the peer last saw.
//!
//! - [`rooms`]: room codes and tokens, who may create rooms, capacity and idle expiry.
//! - [`named`]: the household's named rooms ("Family"), for trusted devices only.
//! - [`pairing`]: pairing keys and tokens, and the secrets that link two devices across
//!   networks.
//! - [`tag`]: the server's tag in a pair secret made from home ("paired from home").
//! - [`invites`]: room invitations inside the home group.
//! - [`signals`]: who may signal whom, and which pairs are negotiating a connection.
//! - [`joins`]: how often one source, and everyone together, may try room codes and
//!   pairing keys.
//! - [`turn`]: which peers get TURN credentials, and when they are renewed.
//!
//! Trust: a connection is *trusted* when it is in the home group or presented (or just
//! received) a pair secret tagged as made from home. Trusted devices create rooms, and a
//! link earns TURN credentials only when one of its two ends is trusted.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::RngExt;

use super::ice::IceSettings;
use super::protocol::{Caps, DeviceKind, ErrorCode, Link, PeerInfo, ServerMsg};
use crate::net::{NetGroup, SourceKey};
pub use crate::relay::Now;

mod invites;
mod joins;
mod named;
mod pairing;
mod rooms;
mod signals;
mod tag;
mod turn;

pub use invites::MAX_PENDING_INVITES;
pub use joins::{
    CODE_GUESS_BUDGET, CODE_GUESS_WINDOW, JOINS_PER_MINUTE, KEY_GUESS_BUDGET, KEY_GUESS_WINDOW,
    TOKEN_HEX,
};
pub use named::{MAX_ROOM_NAME_BYTES, MAX_ROOM_NAME_CHARS};
pub use pairing::PAIR_KEY_TTL;
pub use rooms::{
    normalize_code, CODE_ALPHABET, CODE_LEN, MAX_ROOMS, MAX_ROOMS_PER_PEER, MAX_ROOMS_PER_SOURCE,
    ROOM_CREATES_PER_MINUTE,
};
pub use signals::NEGOTIATION_WINDOW;
pub use tag::PairTagKey;

/// Bounds on the room capacity a client may ask for.
pub const MIN_CAPACITY: u32 = 2;
pub const MAX_CAPACITY: u32 = 50;

pub type PeerId = String;
pub type Outbox = Vec<(PeerId, ServerMsg)>;
type PairHash = [u8; 32];

/// A refusal, turned into an `error` message by the caller.
pub type Refusal = (ErrorCode, &'static str);

#[derive(Debug)]
struct Peer {
    name: String,
    kind: DeviceKind,
    /// What its browser can do (`hello.caps`), passed on in the peer lists.
    caps: Option<Caps>,
    group: NetGroup,
    ready: bool,
    rooms: BTreeSet<String>,
    pairs: BTreeSet<PairHash>,
    /// The pairs whose secret carries the server's home tag (see `tag.rs`).
    home_pairs: BTreeSet<PairHash>,
    last_sent: Option<Vec<PeerInfo>>,
    /// Host the client reached homedrop by, when it is homedrop's own (see [`super::ice::own_host`]).
    own_host: Option<String>,
    /// When TURN credentials last went out; `None`: never (no link yet).
    turn_sent: Option<Instant>,
    /// The last peer list sent to it holds someone it may use the relay with.
    linked: bool,
}

impl Peer {
    /// In the home group, or paired from home (see the module doc).
    fn trusted(&self) -> bool {
        self.group == NetGroup::Home || !self.home_pairs.is_empty()
    }
}

/// Settings the registry needs from the configuration.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    pub default_capacity: u32,
    pub room_idle_ttl: Duration,
    /// Everyone may create rooms (`--open-rooms`), not only trusted devices.
    pub open_rooms: bool,
    /// The server's key for home tags in pair secrets.
    pub pair_tag_key: PairTagKey,
}

/// All signaling state.
#[derive(Debug)]
pub struct Registry {
    settings: RegistrySettings,
    rng: StdRng,
    peers: HashMap<PeerId, Peer>,
    by_group: HashMap<NetGroup, BTreeSet<PeerId>>,
    by_pair: HashMap<PairHash, BTreeSet<PeerId>>,
    rooms: HashMap<String, rooms::Room>,
    pair_keys: HashMap<String, pairing::PairKey>,
    /// Pairing tokens → their 6-digit key.
    pair_tokens: HashMap<String, String>,
    /// Room tokens → their code.
    room_tokens: HashMap<String, String>,
    /// Named rooms: the name's key → the room's code (see `named.rs`).
    named_rooms: HashMap<String, String>,
    /// Rooms alive per creating source (see `rooms.rs`).
    rooms_by_source: HashMap<SourceKey, usize>,
    /// Pending room invitations, by invited peer: inviter → room code (see `invites.rs`).
    invites: HashMap<PeerId, BTreeMap<PeerId, String>>,
    /// Last signal between each unordered pair of peers (see [`NEGOTIATION_WINDOW`]).
    negotiations: HashMap<(PeerId, PeerId), Instant>,
    /// Join limiter state per source (see `joins.rs`).
    joins: HashMap<SourceKey, Instant>,
    /// Room creation limiter state per source (see `rooms.rs`).
    creations: HashMap<SourceKey, Instant>,
    /// Wrong pairing keys and room codes, all sources together (see `joins.rs`).
    key_guesses: joins::Budget,
    code_guesses: joins::Budget,
    /// The relay's ICE settings once it listens (see `turn.rs`).
    ice: Option<IceSettings>,
}

impl Registry {
    /// An empty registry drawing codes, keys and ids from `rng` (the hub seeds it from the
    /// system; tests from a constant).
    pub fn new(settings: RegistrySettings, rng: StdRng) -> Self {
        Registry {
            settings,
            rng,
            peers: HashMap::new(),
            by_group: HashMap::new(),
            by_pair: HashMap::new(),
            rooms: HashMap::new(),
            pair_keys: HashMap::new(),
            pair_tokens: HashMap::new(),
            room_tokens: HashMap::new(),
            named_rooms: HashMap::new(),
            rooms_by_source: HashMap::new(),
            invites: HashMap::new(),
            negotiations: HashMap::new(),
            joins: HashMap::new(),
            creations: HashMap::new(),
            key_guesses: joins::Budget::new(KEY_GUESS_BUDGET, KEY_GUESS_WINDOW),
            code_guesses: joins::Budget::new(CODE_GUESS_BUDGET, CODE_GUESS_WINDOW),
            ice: None,
        }
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// A fresh connection id (128 random bits as hex) no connected peer has.
    pub fn new_id(&mut self) -> PeerId {
        loop {
            let id = hex_from(&mut self.rng, 16);
            if !self.peers.contains_key(&id) {
                return id;
            }
        }
    }

    /// A new connection; it is invisible until [`Registry::hello`]. `own_host` is the host
    /// the client used to reach homedrop when that is one of homedrop's own.
    pub fn connect(&mut self, id: &str, group: NetGroup, own_host: Option<String>) {
        self.peers.insert(
            id.to_string(),
            Peer {
                name: String::new(),
                kind: DeviceKind::Other,
                caps: None,
                group,
                ready: false,
                rooms: BTreeSet::new(),
                pairs: BTreeSet::new(),
                home_pairs: BTreeSet::new(),
                last_sent: None,
                own_host,
                turn_sent: None,
                linked: false,
            },
        );
    }

    /// The client introduced itself: it joins its group and its pairings become active
    /// (those made from home make it trusted).
    pub fn hello(
        &mut self,
        id: &str,
        name: String,
        kind: DeviceKind,
        secrets: &[String],
        now: Now,
    ) -> Outbox {
        let Some(p) = self.peers.get_mut(id) else {
            return Vec::new();
        };
        p.name = name;
        p.kind = kind;
        p.ready = true;
        let group = p.group;
        let hashes: Vec<PairHash> = secrets.iter().map(|s| pairing::hash_secret(s)).collect();
        p.pairs.extend(hashes.iter().copied());
        let tags = &self.settings.pair_tag_key;
        for (s, h) in secrets.iter().zip(&hashes) {
            if tags.is_from_home(s) {
                p.home_pairs.insert(*h);
            }
        }
        self.by_group
            .entry(group)
            .or_default()
            .insert(id.to_string());
        for h in hashes {
            self.by_pair.entry(h).or_default().insert(id.to_string());
        }
        self.refresh_around(id, BTreeSet::new(), now)
    }

    /// What the device's browser can do, from its `hello` (call before [`Registry::hello`],
    /// whose peer lists then carry it).
    pub fn set_caps(&mut self, id: &str, caps: Option<Caps>) {
        if let Some(p) = self.peers.get_mut(id) {
            p.caps = caps;
        }
    }

    pub fn rename(&mut self, id: &str, name: String, now: Now) -> Outbox {
        let before = self.visible_ids(id);
        match self.peers.get_mut(id) {
            Some(p) => p.name = name,
            None => return Vec::new(),
        }
        self.refresh_around(id, before, now)
    }

    /// The connection ended: leave every list, rooms start their idle timer, its pairing
    /// keys, invitations and negotiations are forgotten.
    pub fn disconnect(&mut self, id: &str, now: Now) -> Outbox {
        let before = self.visible_ids(id);
        let Some(p) = self.peers.remove(id) else {
            return Vec::new();
        };
        remove_from(&mut self.by_group, &p.group, id);
        for h in &p.pairs {
            remove_from(&mut self.by_pair, h, id);
        }
        for code in &p.rooms {
            self.leave_member(code, id, now.mono);
        }
        self.pair_keys.retain(|_, k| k.owner != id);
        self.forget_stale_tokens();
        self.invites.remove(id);
        self.negotiations.retain(|(a, b), _| a != id && b != id);
        self.refresh(before, now)
    }

    /// Periodic housekeeping: expire idle rooms, old keys, negotiations and join limits.
    pub fn sweep(&mut self, now: Instant) {
        self.sweep_rooms(now);
        self.pair_keys.retain(|_, k| k.expires > now);
        self.forget_stale_tokens();
        self.sweep_negotiations(now);
        self.sweep_joins(now);
    }

    /// How `a` and `b` know each other; empty means they may not exchange signals.
    pub fn links(&self, a: &str, b: &str) -> Vec<Link> {
        let (Some(pa), Some(pb)) = (self.peers.get(a), self.peers.get(b)) else {
            return Vec::new();
        };
        if a == b || !pa.ready || !pb.ready {
            return Vec::new();
        }
        let mut links = Vec::new();
        if pa.group == pb.group {
            links.push(match pa.group {
                NetGroup::Home => Link::Home,
                NetGroup::Public(_) => Link::Network,
            });
        }
        for code in pa.rooms.intersection(&pb.rooms) {
            links.push(Link::Room { code: code.clone() });
        }
        if pa.pairs.intersection(&pb.pairs).next().is_some() {
            links.push(Link::Pair);
        }
        links
    }

    /// Ids of the peers `id` can currently see.
    fn visible_ids(&self, id: &str) -> BTreeSet<PeerId> {
        let mut out = BTreeSet::new();
        let Some(p) = self.peers.get(id) else {
            return out;
        };
        if !p.ready {
            return out;
        }
        if let Some(g) = self.by_group.get(&p.group) {
            out.extend(g.iter().cloned());
        }
        for code in &p.rooms {
            if let Some(r) = self.rooms.get(code) {
                out.extend(r.members.iter().cloned());
            }
        }
        for h in &p.pairs {
            if let Some(s) = self.by_pair.get(h) {
                out.extend(s.iter().cloned());
            }
        }
        out.remove(id);
        out.retain(|o| self.peers.get(o).is_some_and(|p| p.ready));
        out
    }

    /// Recompute lists for `id`, everyone it sees now, and everyone it saw before.
    fn refresh_around(&mut self, id: &str, mut affected: BTreeSet<PeerId>, now: Now) -> Outbox {
        affected.extend(self.visible_ids(id));
        affected.insert(id.to_string());
        self.refresh(affected, now)
    }

    /// Send each affected peer its list when it changed; a list that makes a peer linked
    /// for the first time brings TURN credentials just before it (see `turn.rs`).
    fn refresh(&mut self, affected: BTreeSet<PeerId>, now: Now) -> Outbox {
        let mut out = Vec::new();
        for pid in affected {
            let list = self.list_for(&pid);
            let Some(p) = self.peers.get_mut(&pid) else {
                continue;
            };
            if !p.ready || p.last_sent.as_ref() == Some(&list) {
                continue;
            }
            p.last_sent = Some(list.clone());
            if let Some(turn) = self.note_list(&pid, &list, now) {
                out.push((pid.clone(), turn));
            }
            out.push((pid, ServerMsg::Peers { peers: list }));
        }
        out
    }

    /// The peer list `pid` should see now.
    fn list_for(&self, pid: &str) -> Vec<PeerInfo> {
        self.visible_ids(pid)
            .into_iter()
            .filter_map(|o| {
                let p = self.peers.get(&o)?;
                Some(PeerInfo {
                    links: self.links(pid, &o),
                    id: o,
                    name: p.name.clone(),
                    kind: p.kind,
                    caps: p.caps,
                })
            })
            .collect()
    }
}

fn remove_from<K: std::hash::Hash + Eq>(map: &mut HashMap<K, BTreeSet<PeerId>>, key: &K, id: &str) {
    if let Some(set) = map.get_mut(key) {
        set.remove(id);
        if set.is_empty() {
            map.remove(key);
        }
    }
}

/// `n` bytes from `rng` as lowercase hex.
fn hex_from(rng: &mut StdRng, n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rng.fill(&mut bytes[..]);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// First 8 characters of an id, enough for logs (and the TURN user name).
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests;
