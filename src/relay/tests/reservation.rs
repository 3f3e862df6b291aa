//! EVEN-PORT with the R bit and RESERVATION-TOKEN (RFC 8656 §7.2), with
//! explicit time: the next port is held for its token, once, for its owner,
//! for 30 s, and never more reservations than the allocation capacity.

use super::*;
use crate::relay::reservation::RESERVATION_LIFETIME;
use stun::attributes::RawAttribute;
use turn::proto::rsrvtoken::ReservationToken;

fn even_r() -> Box<dyn Setter> {
    Box::new(RawAttribute {
        typ: ATTR_EVEN_PORT,
        length: 1,
        value: vec![0x80],
    })
}

/// Allocate with `extra` attributes (after a 401 challenge when needed).
fn allocate_with(c: &mut Client, s: &mut Server, extra: Attrs, now: Now) -> Message {
    if c.nonce.is_none() {
        let first = c.request(METHOD_ALLOCATE, Vec::new());
        assert_eq!(error_code(&c.exchange(s, &first, now)), Some(401));
    }
    let mut attrs = udp();
    attrs.extend(extra);
    let req = c.request(METHOD_ALLOCATE, attrs);
    c.exchange(s, &req, now)
}

fn token_of(m: &Message) -> Vec<u8> {
    wire::raw_attr(m, ATTR_RESERVATION_TOKEN).expect("a RESERVATION-TOKEN")
}

fn with_token(t: &[u8]) -> Attrs {
    // Raw, so that a wrong length can be sent too.
    vec![Box::new(RawAttribute {
        typ: ATTR_RESERVATION_TOKEN,
        length: t.len() as u16,
        value: t.to_vec(),
    })]
}

#[test]
fn r_bit_reserves_the_next_port_for_the_token() {
    let now = t0();
    let mut s = Server::new(config(), 3);
    let mut rtp = Client::new(46000, "phone", now);
    let resp = allocate_with(&mut rtp, &mut s, vec![even_r()], now);
    assert_eq!(resp.typ.class, CLASS_SUCCESS_RESPONSE);
    let port = relayed(&resp).port();
    assert_eq!(port % 2, 0);
    let token = token_of(&resp);
    assert_eq!(token.len(), 8);
    assert_eq!(s.stats().reservations_current, 1);
    // The token's Allocate (another 5-tuple, same user) gets port + 1.
    let mut rtcp = Client::new(46001, "phone", now);
    let resp = allocate_with(&mut rtcp, &mut s, with_token(&token), now.after(secs(5)));
    assert_eq!(relayed(&resp).port(), port + 1);
    assert!(wire::raw_attr(&resp, ATTR_RESERVATION_TOKEN).is_none());
    assert_eq!(s.stats().reservations_current, 0);
    assert_eq!(s.stats().reservations_redeemed, 1);
    assert_eq!(s.stats().allocations_current, 2);
    // Used once: a second redemption is refused.
    let mut again = Client::new(46002, "phone", now);
    let resp = allocate_with(&mut again, &mut s, with_token(&token), now.after(secs(6)));
    assert_eq!(error_code(&resp), Some(508));
    assert_eq!(s.stats().quota_refusals, 1);
}

#[test]
fn reserved_port_is_not_handed_to_anyone_else() {
    let now = t0();
    let cfg = Config {
        port_min: 50000,
        port_max: 50003,
        ..config()
    };
    let mut s = Server::new(cfg, 9);
    let mut rtp = Client::new(46100, "phone", now);
    let resp = allocate_with(&mut rtp, &mut s, vec![even_r()], now);
    let reserved = relayed(&resp).port() + 1;
    let mut got = Vec::new();
    for i in 0..2 {
        got.push(
            Client::new(46101 + i, "laptop", now)
                .allocate(&mut s, now)
                .port(),
        );
    }
    assert!(!got.contains(&reserved), "{got:?} took reserved {reserved}");
    let mut last = Client::new(46110, "laptop", now);
    assert_eq!(
        error_code(&last.call(&mut s, METHOD_ALLOCATE, udp, now)),
        Some(508),
        "only the reserved port is left"
    );
    // Another user cannot redeem the token; the owner still can.
    let mut thief = Client::new(46120, "laptop", now);
    let token = token_of(&resp);
    let stolen = allocate_with(&mut thief, &mut s, with_token(&token), now);
    assert_eq!(error_code(&stolen), Some(508));
    let mut owner = Client::new(46121, "phone", now);
    let resp = allocate_with(&mut owner, &mut s, with_token(&token), now);
    assert_eq!(relayed(&resp).port(), reserved);
}

#[test]
fn reservation_expires_after_its_lifetime() {
    let now = t0();
    let mut s = Server::new(config(), 5);
    let mut rtp = Client::new(46200, "phone", now);
    let resp = allocate_with(&mut rtp, &mut s, vec![even_r()], now);
    let token = token_of(&resp);
    // Allocation (600 s) and tx cache (40 s) expire later than the 30 s hold.
    assert_eq!(s.next_timeout(), Some(now.mono + RESERVATION_LIFETIME));
    s.handle_timeout(now.mono + secs(29));
    assert_eq!(s.stats().reservations_current, 1);
    s.handle_timeout(now.mono + RESERVATION_LIFETIME);
    assert_eq!(s.stats().reservations_current, 0);
    let late = now.after(secs(31));
    let mut rtcp = Client::new(46201, "phone", late);
    let resp = allocate_with(&mut rtcp, &mut s, with_token(&token), late);
    assert_eq!(error_code(&resp), Some(508));
    // Only the allocation (and its cached responses) remain.
    s.handle_timeout(now.mono + secs(600));
    assert_eq!(s.state_size(), 0);
}

#[test]
fn token_rules_and_bounded_reservations() {
    let now = t0();
    let cfg = Config {
        max_allocations: 1,
        ..config()
    };
    let mut s = Server::new(cfg, 11);
    let mut c = Client::new(46300, "phone", now);
    // With EVEN-PORT, or of the wrong length: 400.
    let both = allocate_with(
        &mut c,
        &mut s,
        vec![Box::new(ReservationToken(vec![1; 8])), even_r()],
        now,
    );
    assert_eq!(error_code(&both), Some(400));
    let short = allocate_with(&mut c, &mut s, with_token(&[1; 4]), now);
    assert_eq!(error_code(&short), Some(400));
    // Unauthenticated EVEN-PORT(R): 401 and nothing stored.
    let before = s.state_size(); // the two cached 400 responses
    let mut anon = Client::new(46301, "anon", now);
    let req = anon.request(
        METHOD_ALLOCATE,
        vec![
            Box::new(RequestedTransport {
                protocol: PROTO_UDP,
            }),
            even_r(),
        ],
    );
    assert_eq!(error_code(&anon.exchange(&mut s, &req, now)), Some(401));
    assert_eq!(s.state_size(), before);
    assert_eq!(s.stats().reservations_current, 0);
    // One reservation, then its allocation is deleted: the reservation still
    // counts, so a second R request is refused at capacity 1.
    let resp = allocate_with(&mut c, &mut s, vec![even_r()], now);
    assert_eq!(resp.typ.class, CLASS_SUCCESS_RESPONSE);
    assert_eq!(lifetime(&c.refresh(&mut s, 0, now)), 0);
    let mut d = Client::new(46302, "phone", now);
    assert_eq!(
        error_code(&allocate_with(&mut d, &mut s, vec![even_r()], now)),
        Some(508)
    );
    assert_eq!(s.stats().reservations_current, 1);
    assert_eq!(s.stats().allocations_current, 0);
}
