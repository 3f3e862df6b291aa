//! Peer policy (403), quotas (486/508), EVEN-PORT / RESERVATION-TOKEN, bandwidth.

use super::*;
use turn::proto::data::Data;

#[test]
fn non_relay_peers_get_403() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    c.allocate(&mut s, now);
    let refused = [
        "127.0.0.1:50001",   // loopback
        "192.168.1.20:3478", // LAN host
        "192.168.1.10:22",   // our own IP, outside the relay range
        "8.8.8.8:3478",      // public
        "224.0.0.251:5353",  // multicast
    ];
    for (i, peer) in refused.iter().enumerate() {
        let peer: SocketAddr = peer.parse().unwrap();
        assert_eq!(
            error_code(&c.permit(&mut s, peer, now)),
            Some(403),
            "{peer}"
        );
        assert_eq!(
            error_code(&c.bind(&mut s, 0x4000 + i as u16, peer, now)),
            Some(403),
            "{peer}"
        );
    }
    assert_eq!(s.stats().policy_refusals, 10);
    // IPv6 peer with an IPv4 relay: 443.
    let v6: SocketAddr = "[::1]:50001".parse().unwrap();
    assert_eq!(error_code(&c.permit(&mut s, v6, now)), Some(443));
    // Own relay range is fine.
    let ok: SocketAddr = "192.168.1.10:50050".parse().unwrap();
    assert_eq!(c.permit(&mut s, ok, now).typ.class, CLASS_SUCCESS_RESPONSE);
}

#[test]
fn send_indication_to_refused_peer_is_dropped() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut c = Client::new(40000, "phone", now);
    c.allocate(&mut s, now);
    let mut m = Message::new();
    let loopback: SocketAddr = "127.0.0.1:50001".parse().unwrap();
    m.build(&[
        Box::new(TransactionId([1; 12])),
        Box::new(MessageType::new(METHOD_SEND, CLASS_INDICATION)),
        Box::new(peer_attr(loopback)),
        Box::new(Data(b"hi".to_vec())),
    ])
    .unwrap();
    assert!(s.handle(&m.raw, c.addr, now).is_none());
    assert_eq!(s.stats().policy_refusals, 1);
    assert_eq!(s.stats().packets_relayed, 0);
}

#[test]
fn per_user_quota_486_and_total_508() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    for port in 0..10 {
        Client::new(41000 + port, "phone", now).allocate(&mut s, now);
    }
    let mut eleventh = Client::new(41010, "phone", now);
    assert_eq!(
        error_code(&eleventh.call(&mut s, METHOD_ALLOCATE, udp, now)),
        Some(486)
    );
    // Another user is still fine.
    Client::new(42000, "laptop", now).allocate(&mut s, now);

    let cfg = Config {
        max_allocations: 3,
        ..config()
    };
    let mut s = Server::new(cfg, 1);
    for port in 0..3 {
        Client::new(43000 + port, &format!("dev{port}"), now).allocate(&mut s, now);
    }
    let mut fourth = Client::new(43003, "dev3", now);
    assert_eq!(
        error_code(&fourth.call(&mut s, METHOD_ALLOCATE, udp, now)),
        Some(508)
    );
    assert_eq!(s.stats().quota_refusals, 1);
    assert_eq!(s.stats().allocations_current, 3);
}

/// One source (an IPv4 address, or any address of an IPv6 /64) takes its
/// quota, max(20, 200 / 8) = 25 by default, with fresh usernames each time (so
/// the per-user quota is not what stops it); its next Allocate gets 486 and
/// another source is still served.
#[test]
fn per_source_quota_486_other_source_still_served() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    assert_eq!(config().source_quota(), 25);
    let at = |ip: [u8; 4], port: u16| SocketAddr::from((ip, port));
    let mut held: Vec<Client> = (0..25)
        .map(|i| Client::at(at([203, 0, 113, 7], 30000 + i), &format!("u{i}"), now))
        .collect();
    for c in &mut held {
        c.allocate(&mut s, now);
    }
    let mut over = Client::at(at([203, 0, 113, 7], 31000), "fresh", now);
    assert_eq!(
        error_code(&over.call(&mut s, METHOD_ALLOCATE, udp, now)),
        Some(486)
    );
    assert_eq!(s.stats().quota_refusals, 1);
    Client::at(at([198, 51, 100, 9], 30000), "other", now).allocate(&mut s, now);
    assert_eq!(s.stats().allocations_current, 26);
    // Freeing one gives the source room again.
    assert_eq!(
        held[0].refresh(&mut s, 0, now).typ.class,
        CLASS_SUCCESS_RESPONSE
    );
    over.allocate(&mut s, now);
}

#[test]
fn per_source_quota_counts_an_ipv6_64_as_one_source() {
    let now = t0();
    let cfg = Config {
        max_allocations_per_source: 3,
        ..config()
    };
    let mut s = Server::new(cfg, 1);
    let v6 = |a: &str| SocketAddr::new(a.parse().unwrap(), 40000);
    for (i, a) in [
        "2001:db8:78::1",
        "2001:db8:78::2:1",
        "2001:db8:78:0:ffff::9",
    ]
    .iter()
    .enumerate()
    {
        Client::at(v6(a), &format!("r{i}"), now).allocate(&mut s, now);
    }
    let mut rotated = Client::at(v6("2001:db8:78:0:abcd::1"), "r9", now);
    assert_eq!(
        error_code(&rotated.call(&mut s, METHOD_ALLOCATE, udp, now)),
        Some(486)
    );
    Client::at(v6("2001:db8:79::1"), "next64", now).allocate(&mut s, now);
}

fn even_port(r: bool) -> Box<dyn Setter> {
    Box::new(RawAttribute {
        typ: ATTR_EVEN_PORT,
        length: 1,
        value: vec![if r { 0x80 } else { 0 }],
    })
}

#[test]
fn even_port_without_free_even_port_gets_508_and_server_keeps_serving() {
    let now = t0();
    let cfg = Config {
        port_min: 50000,
        port_max: 50003,
        ..config()
    };
    let mut s = Server::new(cfg, 7);
    fn even() -> Attrs {
        let mut a = udp();
        a.push(even_port(false));
        a
    }
    fn even_r() -> Attrs {
        let mut a = udp();
        a.push(even_port(true));
        a
    }
    let mut ports = Vec::new();
    for i in 0..2 {
        let mut c = Client::new(44000 + i, "phone", now);
        let resp = c.call(&mut s, METHOD_ALLOCATE, even, now);
        ports.push(relayed(&resp).port());
    }
    ports.sort();
    assert_eq!(ports, vec![50000, 50002]);
    for attrs in [even as fn() -> Attrs, even_r] {
        let mut c = Client::new(44100, "laptop", now);
        assert_eq!(
            error_code(&c.call(&mut s, METHOD_ALLOCATE, attrs, now)),
            Some(508)
        );
    }
    // Still answering: a Binding right after, and an odd port without EVEN-PORT.
    let out = s.handle(
        &binding_request(1),
        ClientAddr::udp("10.9.9.9:1".parse().unwrap()),
        now,
    );
    assert_eq!(decode(out.unwrap().bytes()).typ, BINDING_SUCCESS);
    let odd = Client::new(44200, "laptop", now).allocate(&mut s, now);
    assert_eq!(odd.port() % 2, 1);
}

#[test]
fn reservation_token_is_refused_not_hung() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    fn token() -> Attrs {
        let mut a = udp();
        a.push(Box::new(turn::proto::rsrvtoken::ReservationToken(vec![
            1;
            8
        ])));
        a
    }
    fn token_and_even() -> Attrs {
        let mut a = token();
        a.push(even_port(false));
        a
    }
    let mut c = Client::new(45000, "phone", now);
    assert_eq!(
        error_code(&c.call(&mut s, METHOD_ALLOCATE, token, now)),
        Some(508)
    );
    assert_eq!(
        error_code(&c.call(&mut s, METHOD_ALLOCATE, token_and_even, now)),
        Some(400)
    );
    c.allocate(&mut s, now);
}
