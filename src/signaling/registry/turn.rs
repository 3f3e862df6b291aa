//! Which peers get TURN credentials, and when.
//!
//! Every client gets homedrop's own STUN in `welcome` (nothing when the relay is off).
//! TURN credentials let a client use the relay over the home's uplink, so they go out only
//! to a peer with a link that has a trusted end (see the registry's module doc): a link to
//! a home-group device, or to a device paired from home, or any link of such a device
//! itself. Strangers linked only to each other (a room of strangers under `--open-rooms`, a
//! pairing made between two internet devices, tabs behind one public address) get none.
//! They go out the first time a peer list with such a link is sent, just before that list,
//! and again once half their lifetime has passed while it is still linked. A client may
//! dial a peer the moment it sees it (room chat does), and a connection gathers candidates
//! only from the servers it started with, hence "before".

use std::collections::BTreeSet;

use super::{short, Now, Outbox, Peer, PeerId, Registry};
use crate::net::NetGroup;
use crate::signaling::ice::IceSettings;
use crate::signaling::protocol::{IceServer, Link, PeerInfo, ServerMsg};

impl Registry {
    /// Hand out ICE servers from now on (once the relay listens).
    pub fn enable_ice(&mut self, settings: IceSettings) {
        self.ice = Some(settings);
    }

    /// The public host the router reports, when no `--public-host` was given: internet
    /// clients' TURN URLs name it from the next credentials on (nothing while the relay is off).
    pub fn set_public_host(&mut self, host: String) {
        if let Some(ice) = &mut self.ice {
            ice.public_host = Some(host);
        }
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
        let linked = self.relay_worthy(pid, list);
        let p = self.peers.get_mut(pid)?;
        p.linked = linked;
        if p.linked && p.turn_sent.is_none() {
            self.turn_for(pid, now)
        } else {
            None
        }
    }

    /// A peer of `ids` became trusted or stopped being so while their lists stayed the
    /// same: weigh each one's last list again, with credentials for a first relay link.
    pub(super) fn reassess_relay(&mut self, ids: BTreeSet<PeerId>, now: Now) -> Outbox {
        let mut out = Vec::new();
        for pid in ids {
            let Some(list) = self.peers.get(&pid).and_then(|p| p.last_sent.clone()) else {
                continue;
            };
            if let Some(turn) = self.note_list(&pid, &list, now) {
                out.push((pid, turn));
            }
        }
        out
    }

    /// Fresh TURN credentials for `id` (when the relay runs).
    fn turn_for(&mut self, id: &str, now: Now) -> Option<ServerMsg> {
        let (Some(ice), Some(p)) = (&self.ice, self.peers.get_mut(id)) else {
            return None;
        };
        p.turn_sent = Some(now.mono);
        let internet = p.group != NetGroup::Home;
        Some(ServerMsg::IceServers {
            ice_servers: ice.with_turn(p.own_host.as_deref(), internet, short(id), now.unix),
            expires_in_secs: ice.ttl.as_secs(),
        })
    }

    /// Does a link in `list` (what `pid` is about to see) earn it TURN credentials? A link
    /// counts when one of its ends is trusted. Two devices behind one public address see
    /// each other (`Link::Network`, like PairDrop) but that link earns no relay, however
    /// many tabs a stranger opens.
    fn relay_worthy(&self, pid: &str, list: &[PeerInfo]) -> bool {
        let Some(me) = self.peers.get(pid) else {
            return false;
        };
        list.iter().any(|q| {
            let counts = q.links.iter().any(|l| !matches!(l, Link::Network));
            counts && (me.trusted() || self.peers.get(&q.id).is_some_and(Peer::trusted))
        })
    }
}
