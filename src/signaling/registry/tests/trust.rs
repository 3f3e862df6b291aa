//! Trust: pairings made from home carry the server's tag, trusted devices create rooms,
//! and only links with a trusted end earn TURN credentials.

use super::*;

fn with_ice(mut r: Registry) -> Registry {
    r.enable_ice(ice(Duration::from_secs(600)));
    r
}

fn turn_to(out: &Outbox) -> Vec<String> {
    out.iter()
        .filter(|(_, m)| matches!(m, ServerMsg::IceServers { .. }))
        .map(|(to, _)| to.clone())
        .collect()
}

/// Pair `a` (showing the key) with `b` (entering it); returns the secret.
pub(super) fn pair(r: &mut Registry, a: &str, b: &str, now: Now) -> (String, Outbox) {
    let key = match &r.pair_start(a, now.mono)[0].1 {
        ServerMsg::PairKey { key, .. } => key.clone(),
        m => panic!("{m:?}"),
    };
    let out = r.pair_join(b, &key, now).unwrap();
    let secret = out
        .iter()
        .find_map(|(_, m)| match m {
            ServerMsg::Paired { secret, .. } => Some(secret.clone()),
            _ => None,
        })
        .unwrap();
    (secret, out)
}

pub(super) fn hello_with(
    r: &mut Registry,
    id: &str,
    g: NetGroup,
    secret: &str,
    now: Now,
) -> Outbox {
    r.connect(id, g, None);
    r.hello(
        id,
        id.to_uppercase(),
        DeviceKind::Phone,
        &[secret.to_string()],
        now,
    )
}

#[test]
fn a_pairing_made_from_home_is_tagged_and_keeps_its_standing_away_from_home() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "mum", NetGroup::Home);
    add(&mut r, "gran", public("198.51.100.4"));
    let (home_secret, _) = pair(&mut r, "mum", "gran", t0);
    assert!(r.settings.pair_tag_key.is_from_home(&home_secret));
    // Two strangers pair with each other: no tag.
    add(&mut r, "x", public("203.0.113.1"));
    add(&mut r, "y", public("203.0.113.2"));
    let (stranger_secret, _) = pair(&mut r, "x", "y", t0);
    assert!(!r.settings.pair_tag_key.is_from_home(&stranger_secret));
    for id in ["mum", "gran", "x", "y"] {
        r.disconnect(id, t0);
    }
    // Gran comes back from another network while mum is away: still trusted.
    hello_with(&mut r, "gran2", public("198.51.100.99"), &home_secret, t0);
    assert!(r
        .create_room("gran2", src("198.51.100.99"), None, false, t0)
        .is_ok());
    hello_with(&mut r, "y2", public("203.0.113.3"), &stranger_secret, t0);
    let e = r
        .create_room("y2", src("203.0.113.3"), None, false, t0)
        .unwrap_err();
    assert_eq!(e.0, ErrorCode::NotAllowed);
    // A secret tagged by another server's key is no one's.
    let mut other = reg();
    other.settings.pair_tag_key = PairTagKey::new([6; 32]);
    hello_with(
        &mut other,
        "gran3",
        public("198.51.100.98"),
        &home_secret,
        t0,
    );
    let e = other.create_room("gran3", src("198.51.100.98"), None, false, t0);
    assert_eq!(e.unwrap_err().0, ErrorCode::NotAllowed);
    // Forgetting the pairing ends the standing.
    r.pair_forget("gran2", &home_secret, t0);
    let later = t0.after(Duration::from_secs(60));
    let e = r
        .create_room("gran2", src("198.51.100.99"), None, false, later)
        .unwrap_err();
    assert_eq!(e.0, ErrorCode::NotAllowed);
}

#[test]
fn strangers_linked_only_to_each_other_get_no_relay() {
    let mut r = with_ice(reg());
    r.settings.open_rooms = true;
    let t0 = start();
    // A room of strangers (open rooms).
    add(&mut r, "s1", public("203.0.113.1"));
    add(&mut r, "s2", public("203.0.113.2"));
    let code = code_of(
        &r.create_room("s1", src("203.0.113.1"), None, false, t0)
            .unwrap(),
    );
    let out = r.join_room("s2", &code, t0).unwrap();
    assert_eq!(peers_of(&out, "s2").unwrap(), vec!["s1"]);
    assert!(turn_to(&out).is_empty(), "{out:?}");
    // A pairing made between two internet devices.
    add(&mut r, "x", public("198.51.100.1"));
    add(&mut r, "y", public("198.51.100.2"));
    let (secret, out) = pair(&mut r, "x", "y", t0);
    assert_eq!(r.links("x", "y"), vec![Link::Pair]);
    assert!(turn_to(&out).is_empty(), "{out:?}");
    r.disconnect("x", t0);
    r.disconnect("y", t0);
    hello_with(&mut r, "x2", public("198.51.100.3"), &secret, t0);
    let out = hello_with(&mut r, "y2", public("198.51.100.4"), &secret, t0);
    assert_eq!(peers_of(&out, "y2").unwrap(), vec!["x2"]);
    assert!(turn_to(&out).is_empty());
}

#[test]
fn links_with_a_trusted_end_earn_the_relay() {
    let mut r = with_ice(reg());
    let t0 = start();
    add(&mut r, "mum", NetGroup::Home);
    // A relative joining a home room by code gets TURN, and so does mum.
    add(&mut r, "aunt", public("198.51.100.7"));
    let code = code_of(&r.create_room("mum", home_src(), None, false, t0).unwrap());
    let out = r.join_room("aunt", &code, t0).unwrap();
    assert_eq!(turn_to(&out), vec!["aunt", "mum"]);
    // Paired from home, both ends away from home later: still a relay for both.
    add(&mut r, "gran", public("198.51.100.4"));
    let (secret, _) = pair(&mut r, "mum", "gran", t0);
    r.disconnect("mum", t0);
    r.disconnect("gran", t0);
    hello_with(&mut r, "mum-away", public("203.0.113.50"), &secret, t0);
    let out = hello_with(&mut r, "gran2", public("198.51.100.5"), &secret, t0);
    assert_eq!(turn_to(&out), vec!["gran2", "mum-away"]);
    // A stranger in a room that gran made is linked to a trusted device: relayed too.
    add(&mut r, "guest", public("192.0.2.8"));
    let code = code_of(
        &r.create_room("gran2", src("198.51.100.5"), None, false, t0)
            .unwrap(),
    );
    let out = r.join_room("guest", &code, t0).unwrap();
    assert_eq!(turn_to(&out), vec!["guest"]);
}

#[test]
fn one_public_address_is_the_same_network_never_the_household() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "a", NetGroup::Home);
    add(&mut r, "b", NetGroup::Home);
    assert_eq!(r.links("a", "b"), vec![Link::Home]);
    add(&mut r, "x", public("198.51.100.1"));
    add(&mut r, "y", public("198.51.100.1"));
    assert_eq!(r.links("x", "y"), vec![Link::Network]);
    // So they may not invite each other as household devices do.
    r.settings.open_rooms = true;
    let code = code_of(
        &r.create_room("x", src("198.51.100.1"), None, false, t0)
            .unwrap(),
    );
    assert_eq!(
        r.room_invite("x", "y", &code).unwrap_err().0,
        ErrorCode::NotAllowed
    );
}

#[test]
fn a_change_of_trust_reaches_the_peers_whose_lists_stay_the_same() {
    let mut r = with_ice(reg());
    r.settings.open_rooms = true;
    let t0 = start();
    // Gran (not yet paired) made a room; a guest in it gets no relay.
    add(&mut r, "gran", public("198.51.100.4"));
    add(&mut r, "guest", public("192.0.2.8"));
    let code = code_of(
        &r.create_room("gran", src("198.51.100.4"), None, false, t0)
            .unwrap(),
    );
    assert!(turn_to(&r.join_room("guest", &code, t0).unwrap()).is_empty());
    // Gran pairs with mum at home: the guest's list does not change, its standing does.
    add(&mut r, "mum", NetGroup::Home);
    let (secret, out) = pair(&mut r, "mum", "gran", t0);
    assert_eq!(peers_of(&out, "guest"), None, "no new list for the guest");
    let mut got = turn_to(&out);
    got.sort();
    assert_eq!(got, vec!["gran", "guest", "mum"]);
    // Gran forgets the pairing: no more renewals for the guest.
    r.pair_forget("gran", &secret, t0);
    let later = t0.after(Duration::from_secs(300));
    assert!(r.refresh_ice("guest", later).is_empty());
    assert!(r.refresh_ice("gran", later).is_empty(), "nor for gran");
}
