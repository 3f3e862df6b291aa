//! Signals: who may send SDP/ICE to whom, and which pairs are negotiating.
//!
//! A signal is forwarded only to a peer that shares the home group, a room or a pairing
//! with the sender; an unknown id is refused the same way (no existence oracle). Each
//! forwarded signal marks its pair of peers as negotiating for [`NEGOTIATION_WINDOW`]
//! (`negotiating` in `/stats`).

use std::time::{Duration, Instant};

use super::{Outbox, PeerId, Refusal, Registry};
use crate::signaling::protocol::{ErrorCode, ServerMsg};

/// A pair of peers counts as negotiating a connection while signals flowed between them
/// within this window.
pub const NEGOTIATION_WINDOW: Duration = Duration::from_secs(30);
/// Longest peer id a signal may name (ids are 32 hex characters).
const MAX_ID_LEN: usize = 64;

const NOT_LINKED: Refusal = (
    ErrorCode::NotAllowed,
    "You share no group, room or pairing with that peer.",
);

impl Registry {
    /// Forward `data` from `from` to `to` if they are linked.
    pub fn signal(
        &mut self,
        from: &str,
        to: &str,
        data: serde_json::Value,
        now: Instant,
    ) -> Result<Outbox, Refusal> {
        if to.len() > MAX_ID_LEN || self.links(from, to).is_empty() {
            return Err(NOT_LINKED);
        }
        self.negotiations.insert(pair_key(from, to), now);
        let msg = ServerMsg::Signal {
            from: from.to_string(),
            data,
        };
        Ok(vec![(to.to_string(), msg)])
    }

    /// Pairs of peers that exchanged a signal within [`NEGOTIATION_WINDOW`] before `now`.
    pub fn negotiating(&self, now: Instant) -> usize {
        self.negotiations
            .values()
            .filter(|t| now.saturating_duration_since(**t) < NEGOTIATION_WINDOW)
            .count()
    }

    pub(super) fn sweep_negotiations(&mut self, now: Instant) {
        self.negotiations
            .retain(|_, t| now.saturating_duration_since(*t) < NEGOTIATION_WINDOW);
    }
}

/// The unordered pair `{a, b}` as a map key.
fn pair_key(a: &str, b: &str) -> (PeerId, PeerId) {
    let (x, y) = if a < b { (a, b) } else { (b, a) };
    (x.to_string(), y.to_string())
}
