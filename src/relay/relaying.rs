//! CreatePermission, ChannelBind, Send indications and ChannelData: the
//! relay-to-relay data path, handed from one allocation to another in-core.

use std::time::Instant;

use rand::RngExt;
use stun::agent::TransactionId;
use stun::attributes::*;
use stun::error_code::*;
use stun::message::*;
use turn::proto::channum::ChannelNumber;
use turn::proto::data::Data;
use turn::proto::peeraddr::PeerAddress;

use super::allocation::CHANNEL_NUMBERS;
use super::counters::Counters;
use super::server::Server;
use super::wire;
use super::{ClientAddr, Output, PeerAddr, RelayAddr};

impl Server {
    /// All XOR-PEER-ADDRESS attributes of `m` (a request may carry several).
    fn peer_addresses(m: &Message) -> Result<Vec<PeerAddr>, ErrorCode> {
        let raws = m
            .attributes
            .0
            .iter()
            .filter(|a| a.typ == ATTR_XOR_PEER_ADDRESS);
        raws.map(|raw| {
            let mut one = wire::message(m.typ, m.transaction_id);
            one.add(ATTR_XOR_PEER_ADDRESS, &raw.value);
            let mut pa = PeerAddress::default();
            pa.get_from(&one).map_err(|_| CODE_BAD_REQUEST)?;
            Ok(PeerAddr(std::net::SocketAddr::new(pa.ip, pa.port)))
        })
        .collect()
    }

    /// Family check (443) then homedrop's relay-to-relay policy (403).
    fn check_peer(&self, peer: PeerAddr) -> Result<RelayAddr, ErrorCode> {
        if peer.0.is_ipv4() != self.policy.relay_ip.is_ipv4() {
            return Err(CODE_PEER_ADDR_FAMILY_MISMATCH);
        }
        self.policy.allowed(peer).ok_or(CODE_FORBIDDEN)
    }

    /// RFC 8656 §9.2 "Receiving a CreatePermission Request": "The
    /// CreatePermission request MUST contain at least one XOR-PEER-ADDRESS
    /// attribute" (else 400); "If an XOR-PEER-ADDRESS attribute contains an
    /// address of an address family that is not the same as that of a relayed
    /// transport address for the allocation, the server MUST generate an error
    /// response with the 443"; "If the server is ... forbidden by local policy
    /// ... 403"; otherwise "install or refresh a permission" per address.
    pub(super) fn create_permission(
        &mut self,
        m: &Message,
        from: ClientAddr,
        user: &str,
        now: Instant,
    ) -> Result<Message, ErrorCode> {
        let port = self.own_allocation(from, user, now)?;
        let peers = Self::peer_addresses(m)?;
        if peers.is_empty() {
            return Err(CODE_BAD_REQUEST);
        }
        for peer in &peers {
            self.check_peer(*peer)?;
        }
        let alloc = self.allocs.by_port_mut(port).ok_or(CODE_ALLOC_MISMATCH)?;
        for peer in peers {
            alloc.add_permission(peer.0, now);
        }
        Ok(wire::response(m, CLASS_SUCCESS_RESPONSE))
    }

    /// RFC 8656 §12.2 "Receiving a ChannelBind Request": 400 when "the
    /// request does not contain both a CHANNEL-NUMBER and an XOR-PEER-ADDRESS
    /// attribute", the number is outside 0x4000-0x7FFF (RFC 5766 range, see
    /// `CHANNEL_NUMBERS`), it is bound to a
    /// different peer, or the peer is bound to a different number; 443 on
    /// family mismatch; 403 by local policy. Success "creates or refreshes the
    /// channel binding ... [and] installs or refreshes a permission".
    pub(super) fn channel_bind(
        &mut self,
        m: &Message,
        from: ClientAddr,
        user: &str,
        now: Instant,
    ) -> Result<Message, ErrorCode> {
        let port = self.own_allocation(from, user, now)?;
        let number: ChannelNumber =
            wire::required_attr(m, ATTR_CHANNEL_NUMBER).ok_or(CODE_BAD_REQUEST)?;
        if !CHANNEL_NUMBERS.contains(&number.0) {
            return Err(CODE_BAD_REQUEST);
        }
        let peer: PeerAddress =
            wire::required_attr(m, ATTR_XOR_PEER_ADDRESS).ok_or(CODE_BAD_REQUEST)?;
        let peer = PeerAddr(std::net::SocketAddr::new(peer.ip, peer.port));
        self.check_peer(peer)?;
        let alloc = self.allocs.by_port_mut(port).ok_or(CODE_ALLOC_MISMATCH)?;
        alloc
            .bind_channel(number.0, peer, now)
            .map_err(|_| CODE_BAD_REQUEST)?;
        alloc.add_permission(peer.0, now);
        Ok(wire::response(m, CLASS_SUCCESS_RESPONSE))
    }

    /// RFC 8656 §11.2 "Receiving a Send Indication": needs XOR-PEER-ADDRESS
    /// and DATA ("If ... missing ... the indication is discarded"); "If no
    /// such permission exists, the server silently discards the Send
    /// indication". Peers outside the relay-to-relay policy are dropped too.
    pub(super) fn handle_send(
        &mut self,
        m: &Message,
        from: ClientAddr,
        now: Instant,
    ) -> Option<Output> {
        let port = self.allocs.port_of(&from)?;
        if !wire::unknown_required(m).is_empty() {
            return None;
        }
        let peer: PeerAddress = wire::opt_attr(m, ATTR_XOR_PEER_ADDRESS).ok()??;
        let data: Data = wire::opt_attr(m, ATTR_DATA).ok()??;
        let peer = PeerAddr(std::net::SocketAddr::new(peer.ip, peer.port));
        let Some(target) = self.policy.allowed(peer) else {
            Counters::bump(&self.counters.policy_refusals);
            return None;
        };
        let sender = self.allocs.by_port(port)?;
        if sender.expires <= now || !sender.has_permission(peer.0, now) {
            return None;
        }
        self.relay(port, target, &data.0, now)
    }

    /// RFC 8656 §12.6 "Receiving a ChannelData Message": "If the ChannelData
    /// message is received on a channel that is not bound to any peer, then
    /// the message is silently discarded"; otherwise relayed to the peer.
    pub(super) fn handle_channel_data(
        &mut self,
        number: u16,
        data: &[u8],
        from: ClientAddr,
        now: Instant,
    ) -> Option<Output> {
        let port = self.allocs.port_of(&from)?;
        let sender = self.allocs.by_port(port)?;
        let peer = sender.channel_peer(number, now)?;
        if sender.expires <= now || !sender.has_permission(peer.0, now) {
            return None;
        }
        let target = self.policy.allowed(peer)?;
        self.relay(port, target, data, now)
    }

    /// Hands `data` from allocation `from_port` to the allocation owning
    /// `target`, as if it arrived on `target` from peer `from_port`'s relayed
    /// address. RFC 8656 §11.3/§12.5 on the receiving side: without a
    /// permission for the sender the data is dropped; with a channel bound to
    /// the sender it is sent as ChannelData, else as a Data indication.
    fn relay(
        &mut self,
        from_port: u16,
        target: RelayAddr,
        data: &[u8],
        now: Instant,
    ) -> Option<Output> {
        let src = self.allocs.by_port(from_port)?.relay;
        let dest = self.allocs.by_port(target.0.port())?;
        if dest.expires <= now {
            return None;
        }
        // Another allocation's relayed address that `target` did not permit
        // (same IP, other port): dropped and counted, so one allocation cannot
        // inject into another (see `Allocation::has_permission`).
        if !dest.has_permission(src.0, now) {
            Counters::bump(&self.counters.policy_refusals);
            return None;
        }
        let channel = dest.channel_for_peer(src.0, now);
        let to = dest.client;
        let sender = self.allocs.by_port_mut(from_port)?;
        if !sender.bucket.check(data.len(), now) || !self.total_bucket.check(data.len(), now) {
            Counters::bump(&self.counters.dropped_bandwidth);
            return None;
        }
        sender.bucket.take(data.len());
        self.total_bucket.take(data.len());
        let bytes = match channel {
            Some(number) => wire::channel_data(number, data),
            None => wire::data_indication(TransactionId(self.rng.random()), src, data),
        };
        Counters::bump(&self.counters.packets_relayed);
        Counters::add(&self.counters.bytes_relayed, data.len() as u64);
        Some(Output::Deliver { to, bytes })
    }
}
