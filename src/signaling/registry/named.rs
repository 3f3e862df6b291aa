//! Named rooms: the household keeps a room called, say, "Family" that its devices rejoin
//! by name whenever they connect, instead of passing a code around.
//!
//! Only a *trusted* device (in the home group, or paired from home: `tag.rs`) may join one;
//! anyone else is refused with the same `notAllowed` whether the room exists or not, before
//! its name is looked at, so that a stranger can neither join nor probe the household's
//! names. One homedrop serves one household, so the name alone identifies the room: the
//! registry maps the name's key (trimmed and lowercased; the session has already cleaned
//! and NFC-normalized it like a device name) to an ordinary room, which brings members the
//! same links, peer lists and signaling as a coded room. It is created by its first joiner
//! (within the creation limits of `rooms.rs`), holds up to [`MAX_CAPACITY`] devices, and
//! ends as soon as its last member leaves: nothing is kept, devices rejoin by name and
//! exchange the messages the other missed among themselves (docs/protocol.md). Its code
//! and token exist (they are how members leave and how links name it) but open it to
//! trusted devices only, and a device that stops being trusted (it forgot its pairing
//! from home) leaves its named rooms.

use super::rooms::TOO_MANY_ROOMS;
use super::{Now, Outbox, Refusal, Registry, MAX_CAPACITY, MAX_ROOMS_PER_PEER};
use crate::net::SourceKey;
use crate::signaling::protocol::ErrorCode;

/// Longest room name, in characters.
pub const MAX_ROOM_NAME_CHARS: usize = 40;
/// Longest room name, in bytes of UTF-8.
pub const MAX_ROOM_NAME_BYTES: usize = 160;

const NOT_HOUSEHOLD: Refusal = (
    ErrorCode::NotAllowed,
    "Named rooms are for this household's devices: at home, or paired with a device at home.",
);
const BAD_NAME: Refusal = (
    ErrorCode::BadRequest,
    "A room name must have 1 to 40 visible characters.",
);

/// What two spellings of one name have in common: trimmed, lowercased.
pub(super) fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Registry {
    /// Join the household's room called `name` (already cleaned by the session), creating
    /// it when nobody is in it. Only trusted devices; see the module doc.
    pub fn join_named(
        &mut self,
        id: &str,
        source: SourceKey,
        name: &str,
        now: Now,
    ) -> Result<Outbox, Refusal> {
        let Some(p) = self.peers.get(id).filter(|p| p.ready && p.trusted()) else {
            return Err(NOT_HOUSEHOLD);
        };
        let in_rooms = p.rooms.len();
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_ROOM_NAME_CHARS || name.len() > MAX_ROOM_NAME_BYTES {
            return Err(BAD_NAME);
        }
        let key = name_key(name);
        if let Some(code) = self.named_rooms.get(&key).cloned() {
            return self.enter_room(id, &code, now);
        }
        // Checked before the room exists: an empty named room would never end.
        if in_rooms >= MAX_ROOMS_PER_PEER {
            return Err(TOO_MANY_ROOMS);
        }
        self.may_create(source, now.mono)?;
        let code = self.new_room(source, MAX_CAPACITY, false, Some(name.to_string()));
        self.named_rooms.insert(key, code.clone());
        self.enter_room(id, &code, now)
    }

    /// Is `code` a named room that `id` may not enter (so, for it, no room at all)?
    pub(super) fn named_hidden_from(&self, id: &str, code: &str) -> bool {
        self.rooms.get(code).is_some_and(|r| r.name.is_some())
            && !self.peers.get(id).is_some_and(|p| p.trusted())
    }

    /// A device that is no longer trusted leaves its named rooms.
    pub(super) fn leave_named_if_untrusted(&mut self, id: &str, now: Now) -> Outbox {
        let Some(p) = self.peers.get(id).filter(|p| !p.trusted()) else {
            return Vec::new();
        };
        let named: Vec<String> = p
            .rooms
            .iter()
            .filter(|c| self.rooms.get(*c).is_some_and(|r| r.name.is_some()))
            .cloned()
            .collect();
        named
            .iter()
            .flat_map(|code| self.leave_room(id, code, now))
            .collect()
    }
}
