//! Binding, long-term authentication, nonces, unauthenticated floods.

use super::*;
use stun::xoraddr::XorMappedAddress;

#[test]
fn binding_answers_xor_mapped_address_without_auth() {
    let mut s = Server::new(config(), 1);
    let from = ClientAddr::udp("203.0.113.7:40000".parse().unwrap());
    let out = s.handle(&binding_request(9), from, t0()).unwrap();
    let m = decode(out.bytes());
    assert_eq!(m.typ, BINDING_SUCCESS);
    assert_eq!(m.transaction_id.0, [9; 12]);
    let mut xma = XorMappedAddress::default();
    xma.get_from(&m).unwrap();
    assert_eq!(SocketAddr::new(xma.ip, xma.port), from.addr);
    assert_eq!(s.state_size(), 0);
}

#[test]
fn unauthenticated_allocate_gets_401_then_succeeds() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    let req = c.request(METHOD_ALLOCATE, udp());
    let resp = c.exchange(&mut s, &req, now);
    assert_eq!(error_code(&resp), Some(401));
    assert_eq!(c.realm.as_deref(), Some("homedrop"));
    assert!(c.nonce.is_some());
    assert_eq!(s.stats().auth_failures, 0, "a challenge is not a failure");
    let req = c.request(METHOD_ALLOCATE, udp());
    let resp = c.exchange(&mut s, &req, now);
    assert_eq!(
        resp.typ,
        MessageType::new(METHOD_ALLOCATE, CLASS_SUCCESS_RESPONSE)
    );
    // The success is signed with the long-term key.
    let key = MessageIntegrity::new_long_term_integrity(
        c.username.clone(),
        "homedrop".into(),
        c.password.clone(),
    );
    let mut signed = resp.clone();
    key.check(&mut signed).expect("response MESSAGE-INTEGRITY");
    assert_eq!(relayed(&resp).ip(), std::net::IpAddr::from(RELAY_IP));
    assert_eq!(s.stats().allocations_current, 1);
}

#[test]
fn wrong_password_and_expired_username_get_401() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    c.password = "not-the-password".into();
    let resp = c.call(&mut s, METHOD_ALLOCATE, udp, now);
    assert_eq!(error_code(&resp), Some(401));
    assert_eq!(s.stats().auth_failures, 1);

    let mut old = Client::new(40001, "phone", now);
    let later = now.after(secs(3601)); // credentials were valid for 3600 s
    let resp = old.call(&mut s, METHOD_ALLOCATE, udp, later);
    assert_eq!(error_code(&resp), Some(401));
    assert_eq!(s.stats().auth_failures, 2);
    assert_eq!(s.state_size(), 0);
}

#[test]
fn stale_nonce_gets_438_with_fresh_nonce() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    c.allocate(&mut s, now);
    let first_nonce = c.nonce.clone().unwrap();
    assert_eq!(
        c.refresh(&mut s, 1200, now.after(secs(300))).typ.class,
        CLASS_SUCCESS_RESPONSE
    );
    let later = now.after(secs(601)); // nonce lifetime is 600 s
    let resp = c.refresh(&mut s, 600, later);
    assert_eq!(error_code(&resp), Some(438));
    let fresh = c.nonce.clone().unwrap();
    assert_ne!(fresh, first_nonce);
    let resp = c.refresh(&mut s, 600, later);
    assert_eq!(resp.typ.class, CLASS_SUCCESS_RESPONSE);
}

#[test]
fn nonce_from_another_client_address_is_stale() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut a = Client::new(40000, "phone", now);
    a.call(&mut s, METHOD_ALLOCATE, udp, now);
    let mut b = Client::new(40001, "phone", now);
    b.realm = a.realm.clone();
    b.nonce = a.nonce.clone();
    let req = b.request(METHOD_ALLOCATE, udp());
    assert_eq!(error_code(&b.exchange(&mut s, &req, now)), Some(438));
}

#[test]
fn different_username_on_allocation_gets_441() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    c.allocate(&mut s, now);
    let (username, password) = issue_credentials(SECRET, "laptop", now.unix, secs(3600));
    c.username = username;
    c.password = password;
    let resp = c.refresh(&mut s, 600, now);
    assert_eq!(error_code(&resp), Some(441));
    let peer: SocketAddr = "192.168.1.10:50050".parse().unwrap();
    assert_eq!(error_code(&c.permit(&mut s, peer, now)), Some(441));
    assert_eq!(s.stats().auth_failures, 2);
}

#[test]
fn unauthenticated_flood_leaves_state_unchanged() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    c.allocate(&mut s, now);
    let before = s.state_size();
    assert!(before > 0);
    for i in 0..100_000u32 {
        let port = 1024 + (i % 60_000) as u16;
        let from = ClientAddr::udp(SocketAddr::from((
            [10, 1, (i >> 16) as u8, (i >> 8) as u8],
            port,
        )));
        let mut m = Message::new();
        let tid = TransactionId([(i % 251) as u8; 12]);
        m.build(&[
            Box::new(tid),
            Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
        ])
        .unwrap();
        let out = s.handle(&m.raw, from, now).unwrap();
        assert_eq!(error_code(&decode(out.bytes())), Some(401));
    }
    // Forged credentials and garbage do not add state either.
    let mut forger = Client::new(40001, "x", now);
    forger.realm = Some("homedrop".into());
    for _ in 0..1000 {
        forger.nonce = Some("0-AAAAAAAAAAAAAAAA".into());
        let req = forger.request(METHOD_ALLOCATE, udp());
        assert_eq!(error_code(&forger.exchange(&mut s, &req, now)), Some(438));
        assert!(s.handle(&[0xff; 64], forger.addr, now).is_none());
    }
    forger.password = "guess".into();
    for _ in 0..1000 {
        let req = forger.request(METHOD_ALLOCATE, udp());
        assert_eq!(error_code(&forger.exchange(&mut s, &req, now)), Some(401));
    }
    assert_eq!(s.state_size(), before);
    assert_eq!(s.stats().allocations_current, 1);
}
