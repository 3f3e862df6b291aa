//! Who is connected and who may see whom: the home group, rooms and pairings.
//!
//! Pure state with no I/O: every operation takes `now` and returns the messages to send
//! (an [`Outbox`]), so the rules are unit-tested without sockets and the session loop stays
//! a thin shell. Peer lists are recomputed only for peers a change can affect, and sent only
//! when they differ from what the peer last saw.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use rand::RngExt;
use sha2::{Digest, Sha256};

use super::protocol::{DeviceKind, ErrorCode, Link, PeerInfo, ServerMsg};
use crate::net::NetGroup;

/// Unambiguous room-code alphabet: no 0/O, 1/I/L.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LEN: usize = 6;
/// How long a pairing key stays valid.
pub const PAIR_KEY_TTL: Duration = Duration::from_secs(120);
/// Bounds on what a client may ask for.
pub const MIN_CAPACITY: u32 = 2;
pub const MAX_CAPACITY: u32 = 50;
/// Most rooms one connection may be in.
pub const MAX_ROOMS_PER_PEER: usize = 8;
/// Most rooms in existence; creation fails beyond it.
pub const MAX_ROOMS: usize = 10_000;

pub type PeerId = String;
pub type Outbox = Vec<(PeerId, ServerMsg)>;
type PairHash = [u8; 32];

#[derive(Debug)]
struct Peer {
    name: String,
    kind: DeviceKind,
    group: NetGroup,
    ready: bool,
    rooms: BTreeSet<String>,
    pairs: BTreeSet<PairHash>,
    last_sent: Option<Vec<PeerInfo>>,
}

#[derive(Debug)]
struct Room {
    members: BTreeSet<PeerId>,
    capacity: u32,
    emptied_at: Option<Instant>,
    /// Room setting carried to every member in `roomJoined`.
    snap_on_join: bool,
}

impl Room {
    /// Empty for at least the idle TTL.
    fn expired(&self, now: Instant, ttl: Duration) -> bool {
        self.emptied_at
            .is_some_and(|t| now.duration_since(t) >= ttl)
    }
}

#[derive(Debug)]
struct PairKey {
    owner: PeerId,
    expires: Instant,
}

/// Settings the registry needs from the configuration.
#[derive(Debug, Clone)]
pub struct RegistrySettings {
    pub default_capacity: u32,
    pub room_idle_ttl: Duration,
}

/// All signaling state.
#[derive(Debug)]
pub struct Registry {
    settings: RegistrySettings,
    peers: HashMap<PeerId, Peer>,
    by_group: HashMap<NetGroup, BTreeSet<PeerId>>,
    by_pair: HashMap<PairHash, BTreeSet<PeerId>>,
    rooms: HashMap<String, Room>,
    pair_keys: HashMap<String, PairKey>,
    /// Pending room invitations, by invited peer: inviter → room code (see `invites.rs`).
    invites: HashMap<PeerId, BTreeMap<PeerId, String>>,
}

/// A refusal, turned into an `error` message by the caller.
pub type Refusal = (ErrorCode, &'static str);

impl Registry {
    pub fn new(settings: RegistrySettings) -> Self {
        Registry {
            settings,
            peers: HashMap::new(),
            by_group: HashMap::new(),
            by_pair: HashMap::new(),
            rooms: HashMap::new(),
            pair_keys: HashMap::new(),
            invites: HashMap::new(),
        }
    }

    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// A new connection; it is invisible until [`Registry::hello`].
    pub fn connect(&mut self, id: &str, group: NetGroup) {
        self.peers.insert(
            id.to_string(),
            Peer {
                name: String::new(),
                kind: DeviceKind::Other,
                group,
                ready: false,
                rooms: BTreeSet::new(),
                pairs: BTreeSet::new(),
                last_sent: None,
            },
        );
    }

    /// The client introduced itself: it joins its group and its pairings become active.
    pub fn hello(
        &mut self,
        id: &str,
        name: String,
        kind: DeviceKind,
        secrets: &[String],
    ) -> Outbox {
        let Some(p) = self.peers.get_mut(id) else {
            return Vec::new();
        };
        p.name = name;
        p.kind = kind;
        p.ready = true;
        let group = p.group;
        let hashes: Vec<PairHash> = secrets.iter().map(|s| hash_secret(s)).collect();
        p.pairs.extend(hashes.iter().copied());
        self.by_group
            .entry(group)
            .or_default()
            .insert(id.to_string());
        for h in hashes {
            self.by_pair.entry(h).or_default().insert(id.to_string());
        }
        self.refresh_around(id, BTreeSet::new())
    }

    pub fn rename(&mut self, id: &str, name: String) -> Outbox {
        let before = self.visible_ids(id);
        match self.peers.get_mut(id) {
            Some(p) => p.name = name,
            None => return Vec::new(),
        }
        self.refresh_around(id, before)
    }

    /// The connection ended: leave every list, rooms start their idle timer.
    pub fn disconnect(&mut self, id: &str, now: Instant) -> Outbox {
        let before = self.visible_ids(id);
        let Some(p) = self.peers.remove(id) else {
            return Vec::new();
        };
        remove_from(&mut self.by_group, &p.group, id);
        for h in &p.pairs {
            remove_from(&mut self.by_pair, h, id);
        }
        for code in &p.rooms {
            if let Some(room) = self.rooms.get_mut(code) {
                room.members.remove(id);
                if room.members.is_empty() {
                    room.emptied_at = Some(now);
                }
            }
        }
        self.pair_keys.retain(|_, k| k.owner != id);
        self.invites.remove(id);
        self.refresh(before)
    }

    /// Create a room with a fresh code and put its creator in it.
    pub fn create_room(&mut self, id: &str, capacity: Option<u32>) -> Result<Outbox, Refusal> {
        self.create_room_with(id, capacity, false)
    }

    /// [`Registry::create_room`] with the room's "snap on join" setting.
    pub fn create_room_with(
        &mut self,
        id: &str,
        capacity: Option<u32>,
        snap_on_join: bool,
    ) -> Result<Outbox, Refusal> {
        let capacity = capacity.unwrap_or(self.settings.default_capacity);
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
            return Err((ErrorCode::BadRequest, "Room capacity must be from 2 to 50."));
        }
        if self.rooms.len() >= MAX_ROOMS {
            return Err((
                ErrorCode::RateLimited,
                "Too many rooms on this homedrop; try later.",
            ));
        }
        let code = loop {
            let c = random_code();
            if !self.rooms.contains_key(&c) {
                break c;
            }
        };
        self.rooms.insert(
            code.clone(),
            Room {
                members: BTreeSet::new(),
                capacity,
                emptied_at: None,
                snap_on_join,
            },
        );
        self.join_room(id, &code, Instant::now())
    }

    /// Join an existing room (codes are case-insensitive).
    pub fn join_room(&mut self, id: &str, code: &str, now: Instant) -> Result<Outbox, Refusal> {
        let code = normalize_code(code).ok_or((ErrorCode::NoSuchRoom, "No room has this code."))?;
        // The periodic sweep may not have run yet: an expired room is gone for joiners too.
        let ttl = self.settings.room_idle_ttl;
        if self.rooms.get(&code).is_some_and(|r| r.expired(now, ttl)) {
            self.rooms.remove(&code);
        }
        let in_rooms = self.peers.get(id).map(|p| p.rooms.len()).unwrap_or(0);
        let before = self.visible_ids(id);
        let room = self
            .rooms
            .get_mut(&code)
            .ok_or((ErrorCode::NoSuchRoom, "No room has this code."))?;
        if room.members.contains(id) {
            return Ok(vec![(id.to_string(), room_joined(&code, room))]);
        }
        if room.members.len() >= room.capacity as usize {
            return Err((ErrorCode::RoomFull, "This room is full."));
        }
        if in_rooms >= MAX_ROOMS_PER_PEER {
            return Err((ErrorCode::BadRequest, "You are already in too many rooms."));
        }
        room.members.insert(id.to_string());
        room.emptied_at = None;
        let joined = room_joined(&code, room);
        if let Some(p) = self.peers.get_mut(id) {
            p.rooms.insert(code);
        }
        let mut out = vec![(id.to_string(), joined)];
        out.extend(self.refresh_around(id, before));
        Ok(out)
    }

    pub fn leave_room(&mut self, id: &str, code: &str, now: Instant) -> Outbox {
        let Some(code) = normalize_code(code) else {
            return Vec::new();
        };
        let before = self.visible_ids(id);
        let was_member = self
            .peers
            .get_mut(id)
            .is_some_and(|p| p.rooms.remove(&code));
        if !was_member {
            return Vec::new();
        }
        if let Some(room) = self.rooms.get_mut(&code) {
            room.members.remove(id);
            if room.members.is_empty() {
                room.emptied_at = Some(now);
            }
        }
        let mut out = vec![(id.to_string(), ServerMsg::RoomLeft { code })];
        out.extend(self.refresh_around(id, before));
        out
    }

    /// Remove rooms empty for longer than the idle TTL and expired pairing keys.
    pub fn sweep(&mut self, now: Instant) {
        let ttl = self.settings.room_idle_ttl;
        self.rooms.retain(|_, r| !r.expired(now, ttl));
        self.pair_keys.retain(|_, k| k.expires > now);
    }

    /// Start pairing: a 6-digit key for the other device to enter.
    pub fn pair_start(&mut self, id: &str, now: Instant) -> Outbox {
        self.pair_keys
            .retain(|_, k| k.owner != id && k.expires > now);
        let key = loop {
            let k = format!("{:06}", rand::rng().random_range(0..1_000_000u32));
            if !self.pair_keys.contains_key(&k) {
                break k;
            }
        };
        self.pair_keys.insert(
            key.clone(),
            PairKey {
                owner: id.to_string(),
                expires: now + PAIR_KEY_TTL,
            },
        );
        let msg = ServerMsg::PairKey {
            key,
            expires_in_secs: PAIR_KEY_TTL.as_secs(),
        };
        vec![(id.to_string(), msg)]
    }

    /// Complete pairing with a key shown on another device.
    pub fn pair_join(&mut self, id: &str, key: &str, now: Instant) -> Result<Outbox, Refusal> {
        const BAD: Refusal = (
            ErrorCode::BadPairKey,
            "This pairing key is wrong or has expired.",
        );
        let key = key.trim();
        let owner = match self.pair_keys.get(key) {
            Some(k) if k.expires > now && k.owner != id => k.owner.clone(),
            _ => return Err(BAD),
        };
        self.pair_keys.remove(key);
        let (Some(a), Some(b)) = (self.peers.get(&owner), self.peers.get(id)) else {
            return Err(BAD);
        };
        let (a_name, b_name) = (a.name.clone(), b.name.clone());
        let secret = random_hex(32);
        let h = hash_secret(&secret);
        let before_a = self.visible_ids(&owner);
        let before_b = self.visible_ids(id);
        for pid in [&owner, &id.to_string()] {
            if let Some(p) = self.peers.get_mut(pid) {
                p.pairs.insert(h);
            }
            self.by_pair.entry(h).or_default().insert(pid.clone());
        }
        let mut out = vec![
            (
                owner.clone(),
                ServerMsg::Paired {
                    secret: secret.clone(),
                    peer_name: b_name,
                },
            ),
            (
                id.to_string(),
                ServerMsg::Paired {
                    secret,
                    peer_name: a_name,
                },
            ),
        ];
        out.extend(self.refresh_around(&owner, before_a));
        out.extend(self.refresh_around(id, before_b));
        Ok(out)
    }

    pub fn pair_forget(&mut self, id: &str, secret: &str) -> Outbox {
        let h = hash_secret(secret);
        let before = self.visible_ids(id);
        if !self.peers.get_mut(id).is_some_and(|p| p.pairs.remove(&h)) {
            return Vec::new();
        }
        remove_from(&mut self.by_pair, &h, id);
        self.refresh_around(id, before)
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
            links.push(Link::Home);
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
    fn refresh_around(&mut self, id: &str, mut affected: BTreeSet<PeerId>) -> Outbox {
        affected.extend(self.visible_ids(id));
        affected.insert(id.to_string());
        self.refresh(affected)
    }

    fn refresh(&mut self, affected: BTreeSet<PeerId>) -> Outbox {
        let mut out = Vec::new();
        for pid in affected {
            let list: Vec<PeerInfo> = self
                .visible_ids(&pid)
                .into_iter()
                .filter_map(|o| {
                    let p = self.peers.get(&o)?;
                    Some(PeerInfo {
                        links: self.links(&pid, &o),
                        id: o,
                        name: p.name.clone(),
                        kind: p.kind,
                    })
                })
                .collect();
            let Some(p) = self.peers.get_mut(&pid) else {
                continue;
            };
            if !p.ready || p.last_sent.as_ref() == Some(&list) {
                continue;
            }
            p.last_sent = Some(list.clone());
            out.push((pid, ServerMsg::Peers { peers: list }));
        }
        out
    }
}

fn room_joined(code: &str, room: &Room) -> ServerMsg {
    ServerMsg::RoomJoined {
        code: code.to_string(),
        capacity: room.capacity,
        members: room.members.len() as u32,
        snap_on_join: room.snap_on_join,
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

/// Uppercase a code and check it uses only the code alphabet.
pub fn normalize_code(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

fn random_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill(&mut bytes[..]);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash_secret(secret: &str) -> PairHash {
    Sha256::digest(secret.as_bytes()).into()
}

#[path = "invites.rs"]
mod invites;

#[cfg(test)]
#[path = "registry_tests.rs"]
mod tests;
