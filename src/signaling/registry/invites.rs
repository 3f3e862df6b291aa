//! Room invitations between devices of the home group.
//!
//! A member of a room may invite a device it sees through the home group (never a stranger
//! met through another room or the same public address): the device gets `roomInvited` and
//! answers with `roomInviteReply`. The server remembers each pending invitation so that only
//! a device that was really invited can answer, and an accepted invitation joins the room
//! without the per-address join limit (no code is being guessed). A refusal reaches the
//! inviter as `roomInviteAnswer` with `accept: false`.

use super::{normalize_code, Now, Outbox, Refusal, Registry};
use crate::signaling::protocol::{ErrorCode, Link, ServerMsg};

/// Pending invitations one device may hold at once (from different inviters).
pub const MAX_PENDING_INVITES: usize = 16;

const NOT_HOME: Refusal = (
    ErrorCode::NotAllowed,
    "You can only invite devices of your home network.",
);

impl Registry {
    /// `from` invites `to` into room `code`.
    pub fn room_invite(&mut self, from: &str, to: &str, code: &str) -> Result<Outbox, Refusal> {
        let code = normalize_code(code).ok_or((ErrorCode::NoSuchRoom, "No room has this code."))?;
        let sender = self.peers.get(from).ok_or(NOT_HOME)?;
        if !sender.rooms.contains(&code) {
            return Err((ErrorCode::NotAllowed, "You are not in that room."));
        }
        let from_name = sender.name.clone();
        if !self.links(from, to).contains(&Link::Home) {
            return Err(NOT_HOME);
        }
        if self.peers.get(to).is_some_and(|p| p.rooms.contains(&code)) {
            return Err((ErrorCode::BadRequest, "That device is already in the room."));
        }
        let pending = self.invites.entry(to.to_string()).or_default();
        if pending.len() >= MAX_PENDING_INVITES && !pending.contains_key(from) {
            return Err((
                ErrorCode::RateLimited,
                "That device has too many pending invitations.",
            ));
        }
        pending.insert(from.to_string(), code.clone());
        let msg = ServerMsg::RoomInvited {
            from: from.to_string(),
            from_name,
            code,
        };
        Ok(vec![(to.to_string(), msg)])
    }

    /// `id` answers the invitation `inviter` sent for `code`; accepting joins the room.
    pub fn room_invite_reply(
        &mut self,
        id: &str,
        inviter: &str,
        code: &str,
        accept: bool,
        now: Now,
    ) -> Result<Outbox, Refusal> {
        let code = normalize_code(code).unwrap_or_default();
        let pending = self.invites.get_mut(id);
        let known = pending
            .as_ref()
            .is_some_and(|p| p.get(inviter) == Some(&code));
        if !known {
            return Err((
                ErrorCode::NotAllowed,
                "No pending invitation from that device.",
            ));
        }
        if let Some(p) = pending {
            p.remove(inviter);
            if p.is_empty() {
                self.invites.remove(id);
            }
        }
        let from_name = self
            .peers
            .get(id)
            .map(|p| p.name.clone())
            .unwrap_or_default();
        let mut out = if accept {
            self.enter_room(id, &code, now)?
        } else {
            Vec::new()
        };
        let answer = ServerMsg::RoomInviteAnswer {
            from: id.to_string(),
            from_name,
            code,
            accept,
        };
        out.push((inviter.to_string(), answer));
        Ok(out)
    }
}
