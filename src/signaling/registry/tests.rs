use super::*;
use rand::SeedableRng;
use std::net::IpAddr;

mod guessing;
mod named;
mod rules;
mod trust;

/// The relay's ICE settings the rulebook tests enable (credentials living `ttl`).
fn ice(ttl: Duration) -> crate::signaling::ice::IceSettings {
    IceSettings {
        secret: b"s3cret".to_vec(),
        udp_port: 3478,
        tcp_port: 3478,
        turns_port: None,
        remote_udp: true,
        public_host: None,
        fallback_host: "192.168.1.2".into(),
        ttl,
    }
}

pub(super) fn reg() -> Registry {
    let settings = RegistrySettings {
        default_capacity: 3,
        room_idle_ttl: Duration::from_secs(600),
        open_rooms: false,
        pair_tag_key: PairTagKey::new([5; 32]),
    };
    Registry::new(settings, StdRng::seed_from_u64(11))
}

/// A fixed point in time for a test (both clocks).
pub(super) fn start() -> Now {
    Now {
        mono: Instant::now(),
        unix: 1_700_000_000,
    }
}

/// The source of a test client at `s`.
pub(super) fn src(s: &str) -> SourceKey {
    SourceKey::of(s.parse::<IpAddr>().unwrap())
}

/// A household device's source.
pub(super) fn home_src() -> SourceKey {
    src("192.168.1.7")
}

/// The code of the room in the first message of `out` (a `roomJoined`).
pub(super) fn code_of(out: &Outbox) -> String {
    match &out[0].1 {
        ServerMsg::RoomJoined { code, .. } => code.clone(),
        m => panic!("{m:?}"),
    }
}

pub(super) fn public(s: &str) -> NetGroup {
    NetGroup::Public(s.parse::<IpAddr>().unwrap())
}

pub(super) fn peers_of(out: &Outbox, id: &str) -> Option<Vec<String>> {
    out.iter().rev().find_map(|(to, m)| match m {
        ServerMsg::Peers { peers } if to == id => {
            Some(peers.iter().map(|p| p.id.clone()).collect())
        }
        _ => None,
    })
}

pub(super) fn add(r: &mut Registry, id: &str, g: NetGroup) -> Outbox {
    add_at(r, id, g, start())
}

pub(super) fn add_at(r: &mut Registry, id: &str, g: NetGroup, now: Now) -> Outbox {
    r.connect(id, g, None);
    r.hello(id, id.to_uppercase(), DeviceKind::Phone, &[], now)
}

#[test]
fn home_peers_see_each_other_public_ones_do_not() {
    let mut r = reg();
    add(&mut r, "a", NetGroup::Home);
    let out = add(&mut r, "b", NetGroup::Home);
    assert_eq!(peers_of(&out, "a").unwrap(), vec!["b"]);
    assert_eq!(peers_of(&out, "b").unwrap(), vec!["a"]);
    let out = add(&mut r, "x", public("8.8.8.8"));
    assert_eq!(peers_of(&out, "x").unwrap(), Vec::<String>::new());
    assert!(peers_of(&out, "a").is_none(), "home lists unchanged");
    assert!(r.links("a", "x").is_empty());
}

#[test]
fn rooms_create_join_full_and_expire() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "a", NetGroup::Home);
    add(&mut r, "x", public("8.8.8.8"));
    add(&mut r, "y", public("9.9.9.9"));
    add(&mut r, "z", public("1.1.1.1"));
    let out = r.create_room("a", home_src(), Some(3), false, t0).unwrap();
    let code = match &out[0].1 {
        ServerMsg::RoomJoined {
            code,
            capacity: 3,
            members: 1,
            snap_on_join: false,
            ..
        } => code.clone(),
        m => panic!("{m:?}"),
    };
    let out = r.join_room("x", &code.to_lowercase(), t0).unwrap();
    assert_eq!(peers_of(&out, "x").unwrap(), vec!["a"]);
    assert_eq!(r.links("a", "x"), vec![Link::Room { code: code.clone() }]);
    r.join_room("y", &code, t0).unwrap();
    assert_eq!(
        r.join_room("z", &code, t0).unwrap_err().0,
        ErrorCode::RoomFull
    );
    assert_eq!(
        r.join_room("z", "ZZZZZZ", t0).unwrap_err().0,
        ErrorCode::NoSuchRoom
    );
    assert_eq!(
        r.join_room("z", "<script>", t0).unwrap_err().0,
        ErrorCode::NoSuchRoom
    );
    for id in ["a", "x", "y"] {
        r.disconnect(id, t0);
    }
    r.sweep(t0.mono + Duration::from_secs(599));
    assert_eq!(r.room_count(), 1);
    r.sweep(t0.mono + Duration::from_secs(601));
    assert_eq!(r.room_count(), 0);
    assert_eq!(
        r.join_room("z", &code, t0).unwrap_err().0,
        ErrorCode::NoSuchRoom
    );
}

#[test]
fn pairing_links_across_groups_and_survives_reconnect() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "a", NetGroup::Home);
    add(&mut r, "x", public("8.8.8.8"));
    let key = match &r.pair_start("a", t0.mono)[0].1 {
        ServerMsg::PairKey {
            key,
            expires_in_secs: 120,
            ..
        } => key.clone(),
        m => panic!("{m:?}"),
    };
    assert_eq!(
        r.pair_join("a", &key, t0).unwrap_err().0,
        ErrorCode::BadPairKey
    );
    let out = r.pair_join("x", &key, t0).unwrap();
    let secret = out
        .iter()
        .find_map(|(_, m)| match m {
            ServerMsg::Paired { secret, .. } => Some(secret.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(r.links("a", "x"), vec![Link::Pair]);
    assert_eq!(peers_of(&out, "x").unwrap(), vec!["a"]);
    // Both reconnect later with new ids and present the secret.
    r.disconnect("a", t0);
    r.disconnect("x", t0);
    r.connect("a2", NetGroup::Home, None);
    r.hello(
        "a2",
        "A".into(),
        DeviceKind::Desktop,
        std::slice::from_ref(&secret),
        t0,
    );
    r.connect("x2", public("7.7.7.7"), None);
    let out = r.hello("x2", "X".into(), DeviceKind::Phone, &[secret], t0);
    assert_eq!(peers_of(&out, "a2").unwrap(), vec!["x2"]);
    // A key is single-use and expires.
    let key = match &r.pair_start("a2", t0.mono)[0].1 {
        ServerMsg::PairKey { key, .. } => key.clone(),
        _ => unreachable!(),
    };
    let late = t0.after(PAIR_KEY_TTL + Duration::from_secs(1));
    assert_eq!(
        r.pair_join("x2", &key, late).unwrap_err().0,
        ErrorCode::BadPairKey
    );
}

#[test]
fn lists_are_sent_only_when_changed() {
    let mut r = reg();
    add(&mut r, "a", NetGroup::Home);
    add(&mut r, "b", NetGroup::Home);
    let t0 = start();
    let out = r.rename("b", "B".into(), t0);
    assert!(peers_of(&out, "a").is_none(), "same name, nothing to send");
    let out = r.rename("b", "Bee".into(), t0);
    assert!(peers_of(&out, "a").is_some());
    let out = r.disconnect("b", t0);
    assert_eq!(peers_of(&out, "a").unwrap(), Vec::<String>::new());
}

#[test]
fn invitations_only_inside_the_home_group_and_answered_once() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "a", NetGroup::Home);
    add(&mut r, "b", NetGroup::Home);
    add(&mut r, "x", public("8.8.8.8"));
    let out = r.create_room("a", home_src(), Some(2), true, t0).unwrap();
    let code = match &out[0].1 {
        ServerMsg::RoomJoined {
            code,
            snap_on_join: true,
            ..
        } => code.clone(),
        m => panic!("{m:?}"),
    };
    assert_eq!(
        r.room_invite("a", "x", &code).unwrap_err().0,
        ErrorCode::NotAllowed
    );
    assert_eq!(
        r.room_invite("b", "a", &code).unwrap_err().0,
        ErrorCode::NotAllowed,
        "not a member"
    );
    let out = r.room_invite("a", "b", &code).unwrap();
    assert!(
        matches!(&out[0], (to, ServerMsg::RoomInvited { from, .. }) if to == "b" && from == "a")
    );
    assert_eq!(
        r.room_invite_reply("b", "a", "QQQQQQ", true, t0)
            .unwrap_err()
            .0,
        ErrorCode::NotAllowed,
        "wrong room"
    );
    let out = r.room_invite_reply("b", "a", &code, true, t0).unwrap();
    assert!(out
        .iter()
        .any(|(to, m)| to == "b" && matches!(m, ServerMsg::RoomJoined { .. })));
    assert!(out
        .iter()
        .any(|(to, m)| to == "a" && matches!(m, ServerMsg::RoomInviteAnswer { accept: true, .. })));
    assert_eq!(
        r.room_invite_reply("b", "a", &code, true, t0)
            .unwrap_err()
            .0,
        ErrorCode::NotAllowed,
        "answered once"
    );
    assert_eq!(
        r.room_invite("a", "b", &code).unwrap_err().0,
        ErrorCode::BadRequest,
        "already a member"
    );
}

/// A device's `hello.caps` reach the others' peer lists as it sent them; a device that sent
/// none (an older client) has no `caps` entry.
#[test]
fn peer_lists_carry_what_each_browser_can_do() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "b", NetGroup::Home);
    r.connect("a", NetGroup::Home, None);
    let caps = Caps {
        webrtc: false,
        store: true,
    };
    r.set_caps("a", Some(caps));
    let out = r.hello("a", "A".into(), DeviceKind::Phone, &[], t0);
    let entry = |out: &Outbox, to: &str, id: &str| {
        out.iter().rev().find_map(|(t, m)| match m {
            ServerMsg::Peers { peers } if t == to => peers.iter().find(|p| p.id == id).cloned(),
            _ => None,
        })
    };
    assert_eq!(entry(&out, "b", "a").unwrap().caps, Some(caps));
    assert_eq!(entry(&out, "a", "b").unwrap().caps, None);
    // Kept with the device: a rename's lists still carry it.
    let out = r.rename("a", "A2".into(), t0);
    assert_eq!(entry(&out, "b", "a").unwrap().caps, Some(caps));
}
