//! The rules that used to live in the hub and the session: signals, the negotiation
//! window, join limits, TURN credentials, and the injected random source.

use super::*;
use serde_json::json;

fn signal(r: &mut Registry, from: &str, to: &str, now: Instant) -> Result<Outbox, Refusal> {
    r.signal(from, to, json!({"sdp": "x"}), now)
}

#[test]
fn signals_go_only_between_linked_peers() {
    let mut r = reg();
    let t0 = Instant::now();
    add(&mut r, "a", NetGroup::Home);
    add(&mut r, "b", NetGroup::Home);
    add(&mut r, "x", public("8.8.8.8"));
    r.connect("c", NetGroup::Home, None); // no hello yet: invisible
    let out = signal(&mut r, "a", "b", t0).unwrap();
    assert_eq!(
        out,
        vec![(
            "b".to_string(),
            ServerMsg::Signal {
                from: "a".into(),
                data: json!({"sdp": "x"})
            }
        )]
    );
    let refused = (
        ErrorCode::NotAllowed,
        "You share no group, room or pairing with that peer.",
    );
    for to in ["x", "c", "a", "nobody", &"b".repeat(65)] {
        assert_eq!(signal(&mut r, "a", to, t0).unwrap_err(), refused, "{to}");
    }
    assert_eq!(signal(&mut r, "c", "a", t0).unwrap_err(), refused);
    // A room links the stranger.
    let out = r
        .create_room("a", home_src(), None, false, start())
        .unwrap();
    let ServerMsg::RoomJoined { code, .. } = &out[0].1 else {
        panic!("{out:?}")
    };
    r.join_room("x", code, start()).unwrap();
    assert!(signal(&mut r, "x", "a", t0).is_ok());
    r.leave_room("x", code, start());
    assert_eq!(signal(&mut r, "x", "a", t0).unwrap_err(), refused);
}

#[test]
fn a_pair_negotiates_for_thirty_seconds_after_its_last_signal() {
    let mut r = reg();
    let t0 = Instant::now();
    for id in ["a", "b", "c"] {
        add(&mut r, id, NetGroup::Home);
    }
    assert_eq!(r.negotiating(t0), 0);
    signal(&mut r, "a", "b", t0).unwrap();
    signal(&mut r, "b", "a", t0 + Duration::from_secs(10)).unwrap();
    assert_eq!(r.negotiating(t0 + Duration::from_secs(10)), 1, "one pair");
    signal(&mut r, "a", "c", t0).unwrap();
    assert_eq!(r.negotiating(t0 + Duration::from_secs(29)), 2);
    assert_eq!(
        r.negotiating(t0 + Duration::from_secs(30)),
        1,
        "a-c ran out"
    );
    assert_eq!(
        r.negotiating(t0 + Duration::from_secs(40)),
        0,
        "a-b ran out"
    );
    // Refused signals do not count.
    assert!(signal(&mut r, "a", "nobody", t0).is_err());
    assert_eq!(r.negotiating(t0), 2);
    r.sweep(t0 + Duration::from_secs(35));
    assert_eq!(r.negotiating(t0), 1, "the sweep forgot a-c");
    r.disconnect("b", start());
    assert_eq!(
        r.negotiating(t0),
        0,
        "a peer that leaves ends its negotiations"
    );
}

#[test]
fn ten_join_attempts_per_minute_per_source() {
    let mut r = reg();
    let t0 = Instant::now();
    let ip = src("192.168.1.5");
    let other = src("192.168.1.6");
    for i in 0..JOINS_PER_MINUTE {
        assert!(r.join_attempt(ip, t0).is_ok(), "attempt {i}");
    }
    let limited = r.join_attempt(ip, t0).unwrap_err();
    assert_eq!(limited.0, ErrorCode::RateLimited);
    assert!(r.join_attempt(other, t0).is_ok(), "per address");
    assert!(r.join_attempt(ip, t0 + Duration::from_secs(5)).is_err());
    assert!(r.join_attempt(ip, t0 + Duration::from_secs(6)).is_ok());
    assert!(r.join_attempt(ip, t0 + Duration::from_secs(6)).is_err());
    r.sweep(t0 + Duration::from_secs(66));
    assert!(r.joins.is_empty(), "full allowances are forgotten");
    for _ in 0..JOINS_PER_MINUTE {
        assert!(r.join_attempt(ip, t0 + Duration::from_secs(66)).is_ok());
    }
}

/// The recipients of TURN credentials in `out`, each checked to come right before a
/// peer list to the same peer.
fn turn_to(out: &Outbox) -> Vec<String> {
    let mut to = Vec::new();
    for (i, (pid, m)) in out.iter().enumerate() {
        if let ServerMsg::IceServers { ice_servers, .. } = m {
            assert!(ice_servers.iter().any(|s| s.credential.is_some()));
            assert!(
                matches!(out.get(i + 1), Some((p, ServerMsg::Peers { .. })) if p == pid),
                "{out:?}"
            );
            to.push(pid.clone());
        }
    }
    to
}

#[test]
fn turn_credentials_come_with_the_first_link_and_never_to_strangers() {
    let mut r = reg();
    let t0 = start();
    assert!(add(&mut r, "a", NetGroup::Home)
        .iter()
        .all(|(_, m)| !matches!(m, ServerMsg::IceServers { .. })));
    r.enable_ice(ice(Duration::from_secs(600)));
    r.connect("b", NetGroup::Home, Some("homedrop.local".into()));
    assert_eq!(
        r.ice_servers("b")[0].urls,
        vec!["stun:homedrop.local:3478".to_string()]
    );
    let out = r.hello("b", "B".into(), DeviceKind::Phone, &[], t0);
    assert_eq!(turn_to(&out), vec!["a", "b"]);
    let out = r.rename("b", "Bee".into(), t0);
    assert!(turn_to(&out).is_empty(), "only the first link");
    // Two strangers behind one public address see each other but get no relay.
    add(&mut r, "x", public("8.8.8.8"));
    let out = add(&mut r, "y", public("8.8.8.8"));
    assert_eq!(peers_of(&out, "x").unwrap(), vec!["y"]);
    assert!(turn_to(&out).is_empty());
    // A room with a household device is a link.
    let out = r.create_room("a", home_src(), None, false, t0).unwrap();
    let ServerMsg::RoomJoined { code, .. } = &out[0].1 else {
        panic!("{out:?}")
    };
    let out = r.join_room("x", code, t0).unwrap();
    assert_eq!(turn_to(&out), vec!["x"]);
}

#[test]
fn turn_credentials_are_renewed_at_half_life_while_linked() {
    let mut r = reg();
    let t0 = start();
    r.enable_ice(ice(Duration::from_secs(600)));
    add_at(&mut r, "a", NetGroup::Home, t0);
    add_at(&mut r, "b", NetGroup::Home, t0);
    assert!(r
        .refresh_ice("a", t0.after(Duration::from_secs(299)))
        .is_empty());
    let later = t0.after(Duration::from_secs(300));
    let out = r.refresh_ice("a", later);
    assert!(
        matches!(&out[..], [(to, ServerMsg::IceServers { expires_in_secs: 600, .. })] if to == "a"),
        "{out:?}"
    );
    assert!(r.refresh_ice("a", later).is_empty(), "sent just now");
    r.disconnect("b", later);
    let much_later = later.after(Duration::from_secs(600));
    assert!(
        r.refresh_ice("a", much_later).is_empty(),
        "no longer linked"
    );
}

#[test]
fn codes_keys_and_ids_come_from_the_injected_source() {
    let (mut r1, mut r2) = (reg(), reg());
    let t0 = start();
    for r in [&mut r1, &mut r2] {
        add(r, "a", NetGroup::Home);
    }
    let code = |r: &mut Registry| {
        r.create_room("a", home_src(), None, false, t0).unwrap()[0]
            .1
            .clone()
    };
    assert_eq!(code(&mut r1), code(&mut r2));
    assert_eq!(r1.pair_start("a", t0.mono), r2.pair_start("a", t0.mono));
    let id = r1.new_id();
    assert_eq!(id, r2.new_id());
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn a_public_host_learned_later_names_the_relay_for_internet_clients() {
    let mut r = reg();
    r.set_public_host("198.51.100.77".into());
    assert!(r.ice.is_none(), "nothing to rename while the relay is off");
    r.enable_ice(ice(Duration::from_secs(600)));
    r.connect("x", public("8.8.8.8"), None);
    let before = r.ice_servers("x")[0].urls.clone();
    assert!(before[0].contains("192.168.1.2"), "{before:?}");
    r.set_public_host("198.51.100.77".into());
    let after = r.ice_servers("x")[0].urls.clone();
    assert!(after[0].contains("198.51.100.77"), "{after:?}");
}
