//! Allocate, Refresh, expiry, transaction cache, error codes.

use super::*;

#[test]
fn allocate_refresh_and_expiry() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    let resp = c.call(&mut s, METHOD_ALLOCATE, udp, now);
    assert_eq!(lifetime(&resp), 600, "default lifetime");
    assert_eq!(
        s.next_timeout(),
        Some(now.mono + secs(40)),
        "tx cache entry first"
    );
    // Refresh asks for 2 h: clamped to 3600 s.
    let later = now.after(secs(100));
    assert_eq!(lifetime(&c.refresh(&mut s, 7200, later)), 3600);
    s.handle_timeout(later.mono + secs(3599));
    assert_eq!(s.stats().allocations_current, 1);
    s.handle_timeout(later.mono + secs(3600));
    assert_eq!(s.stats().allocations_current, 0);
    assert_eq!(s.state_size(), 0);
    assert_eq!(s.next_timeout(), None);
}

#[test]
fn allocate_lifetime_is_clamped() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    fn long() -> Attrs {
        let mut a = udp();
        a.push(Box::new(Lifetime(secs(86_400))));
        a
    }
    assert_eq!(lifetime(&c.call(&mut s, METHOD_ALLOCATE, long, now)), 3600);
    let mut d = Client::new(40001, "phone", now);
    fn short() -> Attrs {
        let mut a = udp();
        a.push(Box::new(Lifetime(secs(30))));
        a
    }
    assert_eq!(lifetime(&d.call(&mut s, METHOD_ALLOCATE, short, now)), 600);
}

#[test]
fn refresh_zero_deletes_and_retransmit_is_answered_from_cache() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    c.allocate(&mut s, now);
    let req = c.request(METHOD_REFRESH, vec![Box::new(Lifetime(secs(0)))]);
    let first = s.handle(&req, c.addr, now).unwrap();
    assert_eq!(lifetime(&decode(first.bytes())), 0);
    assert_eq!(s.stats().allocations_current, 0);
    let again = s.handle(&req, c.addr, now.after(secs(1))).unwrap();
    assert_eq!(
        first, again,
        "retransmission gets the same success, not 437"
    );
    let resp = c.refresh(&mut s, 600, now);
    assert_eq!(error_code(&resp), Some(437));
}

#[test]
fn retransmitted_allocate_gets_identical_success() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    let challenge = c.request(METHOD_ALLOCATE, udp());
    assert_eq!(error_code(&c.exchange(&mut s, &challenge, now)), Some(401));
    let req = c.request(METHOD_ALLOCATE, udp());
    let first = s.handle(&req, c.addr, now).unwrap();
    assert_eq!(decode(first.bytes()).typ.class, CLASS_SUCCESS_RESPONSE);
    let second = s.handle(&req, c.addr, now.after(secs(5))).unwrap();
    assert_eq!(first.bytes(), second.bytes());
    assert_eq!(s.stats().allocations_total, 1);
    // A different Allocate on the same 5-tuple is a mismatch.
    let other = c.request(METHOD_ALLOCATE, udp());
    assert_eq!(error_code(&c.exchange(&mut s, &other, now)), Some(437));
    // After the cache window the old transaction is no longer replayed.
    s.handle_timeout(now.mono + secs(41));
    let late = s.handle(&req, c.addr, now.after(secs(41))).unwrap();
    assert_eq!(error_code(&decode(late.bytes())), Some(437));
}

#[test]
fn malformed_unknown_and_transport_errors() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    // 400: no REQUESTED-TRANSPORT (after the 401 challenge).
    assert_eq!(
        error_code(&c.call(&mut s, METHOD_ALLOCATE, Vec::new, now)),
        Some(400)
    );
    // 442: REQUESTED-TRANSPORT TCP.
    fn tcp() -> Attrs {
        vec![Box::new(RequestedTransport {
            protocol: turn::proto::PROTO_TCP,
        })]
    }
    assert_eq!(
        error_code(&c.call(&mut s, METHOD_ALLOCATE, tcp, now)),
        Some(442)
    );
    // 420: unknown comprehension-required attribute, listed back.
    fn unknown() -> Attrs {
        let mut a = udp();
        a.push(Box::new(stun::attributes::RawAttribute {
            typ: AttrType(0x7777),
            length: 4,
            value: vec![0; 4],
        }));
        a
    }
    let resp = c.call(&mut s, METHOD_ALLOCATE, unknown, now);
    assert_eq!(error_code(&resp), Some(420));
    let mut ua = stun::uattrs::UnknownAttributes(Vec::new());
    ua.get_from(&resp).unwrap();
    assert_eq!(ua.0, vec![AttrType(0x7777)]);
    // 400: truncated attribute in a request with a readable header.
    let mut bad = binding_request(3);
    bad[3] = 8; // claims 8 attribute bytes
    bad.extend_from_slice(&[0x00, 0x19, 0x00, 0x08, 17, 0, 0, 0]);
    let out = s.handle(&bad, c.addr, now).unwrap();
    assert_eq!(error_code(&decode(out.bytes())), Some(400));
    // DONT-FRAGMENT is accepted.
    fn df() -> Attrs {
        let mut a = udp();
        a.push(Box::new(turn::proto::dontfrag::DontFragmentAttr));
        a
    }
    let resp = c.call(&mut s, METHOD_ALLOCATE, df, now);
    assert_eq!(resp.typ.class, CLASS_SUCCESS_RESPONSE);
    assert_eq!(s.stats().allocations_current, 1);
}
