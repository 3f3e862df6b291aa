//! Which peers get TURN credentials, and when.
//!
//! Every client gets homedrop's own STUN in `welcome` (nothing when the relay is off).
//! TURN credentials let a client use the relay, so they go out only to a peer linked to
//! someone: the first time a peer list with such a link is sent to it, just before that
//! list, and again once half their lifetime has passed while it is still linked. A client
//! may dial a peer the moment it sees it (room chat does), and a connection gathers
//! candidates only from the servers it started with, hence "before".

use super::{short, Now, Outbox, Registry};
use crate::net::NetGroup;
use crate::signaling::ice::IceSettings;
use crate::signaling::protocol::{IceServer, Link, PeerInfo, ServerMsg};

impl Registry {
    /// Hand out ICE servers from now on (once the relay listens).
    pub fn enable_ice(&mut self, settings: IceSettings) {
        self.ice = Some(settings);
    }

    /// ICE servers for `id`'s `welcome`: homedrop's own STUN only (TURN comes once it is
    /// linked to someone), nothing when the relay is off. homedrop must work with no
    /// internet at all, so no external STUN server is ever named.
    pub fn ice_servers(&self, id: &str) -> Vec<IceServer> {
        let (Some(ice), Some(p)) = (&self.ice, self.peers.get(id)) else {
            return Vec::new();
        };
        ice.stun(&ice.host_for(p.own_host.as_deref()))
    }

    /// Fresh TURN credentials for `id` when half their lifetime has passed and it is still
    /// linked to someone (asked by its session's timer).
    pub fn refresh_ice(&mut self, id: &str, now: Now) -> Outbox {
        let Some(ttl) = self.ice.as_ref().map(|i| i.ttl) else {
            return Vec::new();
        };
        let due = self.peers.get(id).is_some_and(|p| {
            p.linked
                && p.turn_sent
                    .is_some_and(|t| now.mono.saturating_duration_since(t) >= ttl / 2)
        });
        match due.then(|| self.turn_for(id, now)).flatten() {
            Some(msg) => vec![(id.to_string(), msg)],
            None => Vec::new(),
        }
    }

    /// A peer list is going out to `pid`: remember whether it links `pid` to someone, and
    /// return the credentials to send before it if this is its first link.
    pub(super) fn note_list(
        &mut self,
        pid: &str,
        list: &[PeerInfo],
        now: Now,
    ) -> Option<ServerMsg> {
        let p = self.peers.get_mut(pid)?;
        p.linked = relay_worthy(p.group == NetGroup::Home, list);
        if p.linked && p.turn_sent.is_none() {
            self.turn_for(pid, now)
        } else {
            None
        }
    }

    /// Fresh TURN credentials for `id` (when the relay runs).
    fn turn_for(&mut self, id: &str, now: Now) -> Option<ServerMsg> {
        let (Some(ice), Some(p)) = (&self.ice, self.peers.get_mut(id)) else {
            return None;
        };
        p.turn_sent = Some(now.mono);
        let host = ice.host_for(p.own_host.as_deref());
        Some(ServerMsg::IceServers {
            ice_servers: ice.with_turn(&host, short(id), now.unix),
            expires_in_secs: ice.ttl.as_secs(),
        })
    }
}

/// A link that earns TURN credentials: the household, a room or a pairing. Two devices of
/// strangers behind one public address see each other (like PairDrop) but get no relay:
/// a stranger with no code never gets credentials, however many tabs it opens.
fn relay_worthy(home: bool, peers: &[PeerInfo]) -> bool {
    peers
        .iter()
        .flat_map(|p| &p.links)
        .any(|l| home || !matches!(l, Link::Home))
}
