//! Rooms: a short code anyone may type in, a long token for links and QR codes, a
//! capacity, and an idle timer.
//!
//! A room links its members wherever they are (they see each other and may signal). It
//! lives on while empty for the idle TTL, so a member who reloads or changes network finds
//! it again; codes use an alphabet without look-alike characters.
//!
//! Who creates rooms: by default only trusted devices (the home group, and devices paired
//! from home: `tag.rs`); internet devices join by code or link. `--open-rooms` lets
//! everyone create, for a hosted deployment. In every case one source (an IPv4 address or
//! an IPv6 /64) creates at most [`ROOM_CREATES_PER_MINUTE`] rooms a minute and holds at
//! most [`MAX_ROOMS_PER_SOURCE`] alive (empty ones count until they expire), so that ten
//! addresses can no longer fill the [`MAX_ROOMS`] the household needs.
//!
//! A typed code is guessable (31^6): a wrong one spends the global budget of `joins.rs`.
//! The token (128 bits) that links and QR codes carry, and that a reloading page rejoins
//! with, is not, so it never spends that budget and is never refused by it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::RngExt;

use super::joins::{as_token, gcra, CODES_SPENT};
use super::{hex_from, Now, Outbox, PeerId, Refusal, Registry, MAX_CAPACITY, MIN_CAPACITY};
use crate::net::SourceKey;
use crate::signaling::protocol::{ErrorCode, ServerMsg};

/// Unambiguous room-code alphabet: no 0/O, 1/I/L.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LEN: usize = 6;
/// Most rooms one connection may be in.
pub const MAX_ROOMS_PER_PEER: usize = 8;
/// Most rooms in existence; creation fails beyond it.
pub const MAX_ROOMS: usize = 10_000;
/// Rooms one source may create per minute (also the burst).
pub const ROOM_CREATES_PER_MINUTE: u32 = 5;
/// Rooms created by one source that may be alive at once.
pub const MAX_ROOMS_PER_SOURCE: usize = 20;

const NO_SUCH_ROOM: Refusal = (ErrorCode::NoSuchRoom, "No room has this code.");
pub(super) const TOO_MANY_ROOMS: Refusal =
    (ErrorCode::BadRequest, "You are already in too many rooms.");
const NOT_TRUSTED: Refusal = (
    ErrorCode::NotAllowed,
    "Rooms are made by devices at home or paired with one; ask one of them for a room code.",
);

#[derive(Debug)]
pub(super) struct Room {
    pub(super) members: BTreeSet<PeerId>,
    capacity: u32,
    emptied_at: Option<Instant>,
    /// Room setting carried to every member in `roomJoined`.
    snap_on_join: bool,
    /// The long form of the code, for links, QR codes and rejoining.
    token: String,
    /// The source that created it (for [`MAX_ROOMS_PER_SOURCE`]).
    creator: SourceKey,
    /// A named room's name (see `named.rs`): only trusted devices may enter it, and it
    /// ends when its last member leaves.
    pub(super) name: Option<String>,
}

impl Room {
    /// Empty for at least the idle TTL.
    pub(super) fn expired(&self, now: Instant, ttl: Duration) -> bool {
        self.emptied_at
            .is_some_and(|t| now.duration_since(t) >= ttl)
    }
}

impl Registry {
    /// Create a room with a fresh code and token (and its "snap on join" setting) and put
    /// its creator in it, if the creator may and its source is within its limits.
    pub fn create_room(
        &mut self,
        id: &str,
        source: SourceKey,
        capacity: Option<u32>,
        snap_on_join: bool,
        now: Now,
    ) -> Result<Outbox, Refusal> {
        let capacity = capacity.unwrap_or(self.settings.default_capacity);
        if !(MIN_CAPACITY..=MAX_CAPACITY).contains(&capacity) {
            return Err((ErrorCode::BadRequest, "Room capacity must be from 2 to 50."));
        }
        let Some(p) = self.peers.get(id) else {
            return Err(NOT_TRUSTED);
        };
        if !p.trusted() && !self.settings.open_rooms {
            return Err(NOT_TRUSTED);
        }
        // Checked before the room exists: a room its creator cannot enter would never
        // start its idle timer.
        if p.rooms.len() >= MAX_ROOMS_PER_PEER {
            return Err(TOO_MANY_ROOMS);
        }
        self.may_create(source, now.mono)?;
        let code = self.new_room(source, capacity, snap_on_join, None);
        self.enter_room(id, &code, now)
    }

    /// A new empty room with a fresh code and token, counted against `source`; its code.
    pub(super) fn new_room(
        &mut self,
        source: SourceKey,
        capacity: u32,
        snap_on_join: bool,
        name: Option<String>,
    ) -> String {
        let code = loop {
            let c = random_code(&mut self.rng);
            if !self.rooms.contains_key(&c) {
                break c;
            }
        };
        let token = hex_from(&mut self.rng, 16);
        self.room_tokens.insert(token.clone(), code.clone());
        *self.rooms_by_source.entry(source).or_default() += 1;
        let room = Room {
            members: BTreeSet::new(),
            capacity,
            emptied_at: None,
            snap_on_join,
            token,
            creator: source,
            name,
        };
        self.rooms.insert(code.clone(), room);
        code
    }

    /// The limits on creation: rooms in all, alive per source, created per minute.
    pub(super) fn may_create(&mut self, source: SourceKey, now: Instant) -> Result<(), Refusal> {
        if self.rooms.len() >= MAX_ROOMS {
            return Err((
                ErrorCode::RateLimited,
                "Too many rooms on this homedrop; try later.",
            ));
        }
        if self.rooms_by_source.get(&source).copied().unwrap_or(0) >= MAX_ROOMS_PER_SOURCE {
            return Err((
                ErrorCode::RateLimited,
                "Your network already has 20 rooms; they end 10 minutes after their last member leaves.",
            ));
        }
        if !gcra(&mut self.creations, source, ROOM_CREATES_PER_MINUTE, now) {
            return Err((
                ErrorCode::RateLimited,
                "Too many rooms created from your network; wait a minute.",
            ));
        }
        Ok(())
    }

    /// Join an existing room by its code (case-insensitive) or its token. A wrong code
    /// spends the global budget; once it is spent, codes are refused unread. A named room
    /// does not exist for a device that may not enter it (`named.rs`): no probing.
    pub fn join_room(&mut self, id: &str, code: &str, now: Now) -> Result<Outbox, Refusal> {
        if let Some(token) = as_token(code.trim()) {
            let code = self.room_tokens.get(&token).cloned().ok_or(NO_SUCH_ROOM)?;
            if self.named_hidden_from(id, &code) {
                return Err(NO_SUCH_ROOM);
            }
            return self.enter_room(id, &code, now);
        }
        let code = normalize_code(code).ok_or(NO_SUCH_ROOM)?;
        if self.code_guesses.spent(now.mono) {
            return Err(CODES_SPENT);
        }
        let entered = if self.named_hidden_from(id, &code) {
            Err(NO_SUCH_ROOM)
        } else {
            self.enter_room(id, &code, now)
        };
        match entered {
            Err(e) if e.0 == ErrorCode::NoSuchRoom => {
                self.code_guesses.fail(now.mono);
                Err(e)
            }
            done => done,
        }
    }

    /// Put `id` into room `code` (no guess involved: after creation, by invitation, or by
    /// a code or token already checked).
    pub(super) fn enter_room(&mut self, id: &str, code: &str, now: Now) -> Result<Outbox, Refusal> {
        // The periodic sweep may not have run yet: an expired room is gone for joiners too.
        let ttl = self.settings.room_idle_ttl;
        if self
            .rooms
            .get(code)
            .is_some_and(|r| r.expired(now.mono, ttl))
        {
            self.remove_room(code);
        }
        let in_rooms = self.peers.get(id).map(|p| p.rooms.len()).unwrap_or(0);
        let before = self.visible_ids(id);
        let room = self.rooms.get_mut(code).ok_or(NO_SUCH_ROOM)?;
        if room.members.contains(id) {
            return Ok(vec![(id.to_string(), room_joined(code, room))]);
        }
        if room.members.len() >= room.capacity as usize {
            return Err((ErrorCode::RoomFull, "This room is full."));
        }
        if in_rooms >= MAX_ROOMS_PER_PEER {
            return Err(TOO_MANY_ROOMS);
        }
        room.members.insert(id.to_string());
        room.emptied_at = None;
        let joined = room_joined(code, room);
        if let Some(p) = self.peers.get_mut(id) {
            p.rooms.insert(code.to_string());
        }
        let mut out = vec![(id.to_string(), joined)];
        out.extend(self.refresh_around(id, before, now));
        Ok(out)
    }

    /// Expire rooms empty for the idle TTL.
    pub(super) fn sweep_rooms(&mut self, now: Instant) {
        let ttl = self.settings.room_idle_ttl;
        let expired: Vec<String> = self
            .rooms
            .iter()
            .filter(|(_, r)| r.expired(now, ttl))
            .map(|(c, _)| c.clone())
            .collect();
        for code in expired {
            self.remove_room(&code);
        }
    }

    /// Forget a room with its token, its name and its count against its creator's source.
    fn remove_room(&mut self, code: &str) {
        let Some(room) = self.rooms.remove(code) else {
            return;
        };
        self.room_tokens.remove(&room.token);
        if let Some(name) = &room.name {
            self.named_rooms.remove(&super::named::name_key(name));
        }
        if let Some(n) = self.rooms_by_source.get_mut(&room.creator) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.rooms_by_source.remove(&room.creator);
            }
        }
    }

    pub fn leave_room(&mut self, id: &str, code: &str, now: Now) -> Outbox {
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
        self.leave_member(&code, id, now.mono);
        let mut out = vec![(id.to_string(), ServerMsg::RoomLeft { code })];
        out.extend(self.refresh_around(id, before, now));
        out
    }

    /// Take `id` out of room `code`'s members; an emptied room starts its idle timer, an
    /// emptied named room ends at once (its devices rejoin it by name).
    pub(super) fn leave_member(&mut self, code: &str, id: &str, now: Instant) {
        let Some(room) = self.rooms.get_mut(code) else {
            return;
        };
        room.members.remove(id);
        if room.members.is_empty() {
            room.emptied_at = Some(now);
            if room.name.is_some() {
                self.remove_room(code);
            }
        }
    }
}

pub(super) fn room_joined(code: &str, room: &Room) -> ServerMsg {
    ServerMsg::RoomJoined {
        code: code.to_string(),
        token: room.token.clone(),
        capacity: room.capacity,
        members: room.members.len() as u32,
        snap_on_join: room.snap_on_join,
        name: room.name.clone(),
    }
}

/// Uppercase a code and check it uses only the code alphabet.
pub fn normalize_code(code: &str) -> Option<String> {
    let code = code.trim().to_ascii_uppercase();
    (code.len() == CODE_LEN && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

fn random_code(rng: &mut StdRng) -> String {
    (0..CODE_LEN)
        .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
        .collect()
}
