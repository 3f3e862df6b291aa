//! Rooms: a short code anyone may type in, a capacity, and an idle timer.
//!
//! A room links its members wherever they are (they see each other and may signal). It
//! lives on while empty for the idle TTL, so a member who reloads or changes network finds
//! it again; codes use an alphabet without look-alike characters.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::RngExt;

use super::{Now, Outbox, PeerId, Refusal, Registry, MAX_CAPACITY, MIN_CAPACITY};
use crate::signaling::protocol::{ErrorCode, ServerMsg};

/// Unambiguous room-code alphabet: no 0/O, 1/I/L.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LEN: usize = 6;
/// Most rooms one connection may be in.
pub const MAX_ROOMS_PER_PEER: usize = 8;
/// Most rooms in existence; creation fails beyond it.
pub const MAX_ROOMS: usize = 10_000;

const NO_SUCH_ROOM: Refusal = (ErrorCode::NoSuchRoom, "No room has this code.");

#[derive(Debug)]
pub(super) struct Room {
    pub(super) members: BTreeSet<PeerId>,
    capacity: u32,
    emptied_at: Option<Instant>,
    /// Room setting carried to every member in `roomJoined`.
    snap_on_join: bool,
}

impl Room {
    /// Empty for at least the idle TTL.
    pub(super) fn expired(&self, now: Instant, ttl: Duration) -> bool {
        self.emptied_at
            .is_some_and(|t| now.duration_since(t) >= ttl)
    }
}

impl Registry {
    /// Create a room with a fresh code (and its "snap on join" setting) and put its
    /// creator in it.
    pub fn create_room(
        &mut self,
        id: &str,
        capacity: Option<u32>,
        snap_on_join: bool,
        now: Now,
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
            let c = random_code(&mut self.rng);
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
        self.join_room(id, &code, now)
    }

    /// Join an existing room (codes are case-insensitive).
    pub fn join_room(&mut self, id: &str, code: &str, now: Now) -> Result<Outbox, Refusal> {
        let code = normalize_code(code).ok_or(NO_SUCH_ROOM)?;
        // The periodic sweep may not have run yet: an expired room is gone for joiners too.
        let ttl = self.settings.room_idle_ttl;
        if self
            .rooms
            .get(&code)
            .is_some_and(|r| r.expired(now.mono, ttl))
        {
            self.rooms.remove(&code);
        }
        let in_rooms = self.peers.get(id).map(|p| p.rooms.len()).unwrap_or(0);
        let before = self.visible_ids(id);
        let room = self.rooms.get_mut(&code).ok_or(NO_SUCH_ROOM)?;
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
        out.extend(self.refresh_around(id, before, now));
        Ok(out)
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

    /// Take `id` out of room `code`'s members; an emptied room starts its idle timer.
    pub(super) fn leave_member(&mut self, code: &str, id: &str, now: Instant) {
        if let Some(room) = self.rooms.get_mut(code) {
            room.members.remove(id);
            if room.members.is_empty() {
                room.emptied_at = Some(now);
            }
        }
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
