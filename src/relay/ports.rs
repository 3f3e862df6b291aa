//! Which relayed port an Allocate gets: RFC 8656 §7.2 steps 3-7 (attribute
//! checks) and the port choice, including EVEN-PORT's R bit and redeeming a
//! RESERVATION-TOKEN (state and its limits in `reservation.rs`).

use std::time::Instant;

use rand::RngExt;
use stun::attributes::*;
use stun::error_code::*;
use stun::message::Message;
use turn::proto::reqtrans::RequestedTransport;
use turn::proto::PROTO_UDP;

use super::allocation::find_free_port;
use super::counters::Counters;
use super::reservation::Token;
use super::server::Server;
use super::wire;

/// What an Allocate asks of its relayed port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PortRequest {
    /// No EVEN-PORT, no RESERVATION-TOKEN.
    Any,
    /// EVEN-PORT; `reserve_next` = its R bit.
    Even { reserve_next: bool },
    /// RESERVATION-TOKEN from an earlier EVEN-PORT(R) allocation.
    Reserved(Token),
}

impl Server {
    /// RFC 8656 §7.2 steps 3-7.
    pub(super) fn check_allocate_attrs(&self, m: &Message) -> Result<PortRequest, ErrorCode> {
        // Step 3: "If the REQUESTED-TRANSPORT attribute is not included or is
        // malformed, the server rejects the request with a 400"; "If the
        // attribute is included but specifies a protocol that is not
        // supported by the server, the server rejects the request with a 442".
        let rt: RequestedTransport =
            wire::required_attr(m, ATTR_REQUESTED_TRANSPORT).ok_or(CODE_BAD_REQUEST)?;
        if rt.protocol != PROTO_UDP {
            return Err(CODE_UNSUPPORTED_TRANS_PROTO);
        }
        // Step 4: DONT-FRAGMENT is supported (relay-to-relay never fragments).
        let even = wire::raw_attr(m, ATTR_EVEN_PORT);
        let family = wire::raw_attr(m, ATTR_REQUESTED_ADDRESS_FAMILY);
        // Step 5: "If the request contains a RESERVATION-TOKEN attribute" and
        // also "an EVEN-PORT or REQUESTED-ADDRESS-FAMILY attribute" → 400;
        // an invalid token → 508 (checked when it is redeemed).
        if let Some(token) = wire::raw_attr(m, ATTR_RESERVATION_TOKEN) {
            if even.is_some() || family.is_some() {
                return Err(CODE_BAD_REQUEST);
            }
            let token = <[u8; 8]>::try_from(token).map_err(|_| CODE_BAD_REQUEST)?;
            return Ok(PortRequest::Reserved(Token(token)));
        }
        // Step 6: REQUESTED-ADDRESS-FAMILY: unsupported family → 440.
        if let Some(f) = family {
            let wanted_v4 = match f.first() {
                Some(0x01) if f.len() == 4 => true,
                Some(0x02) if f.len() == 4 => false,
                _ => return Err(CODE_BAD_REQUEST),
            };
            if wanted_v4 != self.policy.relay_ip.is_ipv4() {
                return Err(CODE_ADDR_FAMILY_NOT_SUPPORTED);
            }
        }
        // Step 7: EVEN-PORT (1 byte, R bit = 0x80).
        match even {
            None => Ok(PortRequest::Any),
            Some(v) if v.len() == 1 => Ok(PortRequest::Even {
                reserve_next: v[0] & 0x80 != 0,
            }),
            Some(_) => Err(CODE_BAD_REQUEST),
        }
    }

    /// The port for a new allocation of `user`, and the token when the next
    /// port was reserved (R bit). 508 when no port fits, the reservation
    /// table is full, or a token is unknown, expired or another user's
    /// ("If the token is not valid for some reason, the server rejects the
    /// request with a 508").
    pub(super) fn choose_port(
        &mut self,
        request: PortRequest,
        user: &str,
        now: Instant,
    ) -> Result<(u16, Option<Token>), ErrorCode> {
        let (even, pair) = match request {
            PortRequest::Reserved(token) => return self.redeem(token, user, now),
            PortRequest::Any => (false, false),
            PortRequest::Even { reserve_next } => (true, reserve_next),
        };
        // Live reservations never outnumber the allocation capacity.
        if pair && self.reservations.len() >= self.cfg.max_allocations {
            return Err(CODE_INSUFFICIENT_CAPACITY);
        }
        let range = (self.policy.port_min, self.policy.port_max);
        let start = self.rng.random_range(range.0..=range.1);
        let (allocs, reserved) = (&self.allocs, &self.reservations);
        let free = |p| allocs.is_free(p) && !reserved.is_reserved(p);
        let port =
            find_free_port(free, range, start, even, pair).ok_or(CODE_INSUFFICIENT_CAPACITY)?;
        if !pair {
            return Ok((port, None));
        }
        let token = Token(self.rng.random());
        if !self.reservations.reserve(token, port + 1, user, now) {
            return Err(CODE_INSUFFICIENT_CAPACITY); // 2^-64 token collision
        }
        self.sync_gauges();
        Ok((port, Some(token)))
    }

    fn redeem(
        &mut self,
        token: Token,
        user: &str,
        now: Instant,
    ) -> Result<(u16, Option<Token>), ErrorCode> {
        let port = self.reservations.take(token, user, now);
        self.sync_gauges();
        match port {
            Some(p) if self.allocs.is_free(p) => {
                Counters::bump(&self.counters.reservations_redeemed);
                Ok((p, None))
            }
            _ => Err(CODE_INSUFFICIENT_CAPACITY),
        }
    }
}
