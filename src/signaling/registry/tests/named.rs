//! Named rooms: the household's devices (at home or paired from home) meet in "Family" by
//! name; strangers can neither join nor probe it; it ends with its last member.

use super::trust::{hello_with, pair};
use super::*;

fn named(out: &Outbox) -> (String, Option<String>) {
    match &out[0].1 {
        ServerMsg::RoomJoined { code, name, .. } => (code.clone(), name.clone()),
        m => panic!("{m:?}"),
    }
}

#[test]
fn home_devices_meet_in_a_named_room_by_any_spelling_of_its_name() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "a", NetGroup::Home);
    add(&mut r, "b", NetGroup::Home);
    let (code, name) = named(&r.join_named("a", home_src(), "Family", t0).unwrap());
    assert_eq!(name.as_deref(), Some("Family"));
    let out = r.join_named("b", home_src(), "  fAMILY ", t0).unwrap();
    assert_eq!(
        named(&out),
        (code.clone(), Some("Family".into())),
        "one room"
    );
    assert!(r
        .links("a", "b")
        .contains(&Link::Room { code: code.clone() }));
    // Joining again is answered with the room, not a second membership.
    let again = r.join_named("b", home_src(), "family", t0).unwrap();
    assert_eq!(again.len(), 1);
    // Another name is another room; a coded room is no named room.
    let (other, _) = named(&r.join_named("a", home_src(), "Grandparents", t0).unwrap());
    assert_ne!(other, code);
    let coded = r.create_room("a", home_src(), None, false, t0).unwrap();
    assert!(matches!(
        &coded[0].1,
        ServerMsg::RoomJoined { name: None, .. }
    ));
    // Members of a named room hold up to 50 devices, not the default capacity (3 here).
    for i in 0..5 {
        let id = format!("h{i}");
        add(&mut r, &id, NetGroup::Home);
        assert!(r.join_named(&id, home_src(), "Family", t0).is_ok(), "{id}");
    }
}

#[test]
fn strangers_can_neither_join_nor_probe_a_named_room() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "a", NetGroup::Home);
    let out = r.join_named("a", home_src(), "Family", t0).unwrap();
    let (code, token) = match &out[0].1 {
        ServerMsg::RoomJoined { code, token, .. } => (code.clone(), token.clone()),
        m => panic!("{m:?}"),
    };
    add(&mut r, "s", public("203.0.113.9"));
    let stranger = src("203.0.113.9");
    // The same refusal for a name in use and one nobody uses: nothing to learn.
    let taken = r.join_named("s", stranger, "Family", t0).unwrap_err();
    let free = r.join_named("s", stranger, "Nobody here", t0).unwrap_err();
    assert_eq!(taken, free);
    assert_eq!(taken.0, ErrorCode::NotAllowed);
    assert!(taken.1.contains("household"), "{}", taken.1);
    // Its code and token are no way in either: to a stranger, there is no such room.
    for c in [code.as_str(), token.as_str()] {
        let e = r.join_room("s", c, t0).unwrap_err();
        assert_eq!(e.0, ErrorCode::NoSuchRoom, "{c}");
    }
    assert!(r.links("a", "s").is_empty());
    // Even with open rooms (a hosted deployment), named rooms stay the household's.
    r.settings.open_rooms = true;
    assert_eq!(
        r.join_named("s", stranger, "Family", t0).unwrap_err(),
        taken
    );
    // A pairing between two strangers gives no standing.
    add(&mut r, "t", public("203.0.113.10"));
    let (secret, _) = pair(&mut r, "s", "t", t0);
    r.disconnect("s", t0);
    hello_with(&mut r, "s2", public("203.0.113.9"), &secret, t0);
    assert_eq!(
        r.join_named("s2", stranger, "Family", t0).unwrap_err(),
        taken
    );
}

#[test]
fn a_device_paired_from_home_joins_from_anywhere_until_it_forgets_the_pairing() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "mum", NetGroup::Home);
    add(&mut r, "gran", public("198.51.100.4"));
    let (secret, _) = pair(&mut r, "mum", "gran", t0);
    r.disconnect("gran", t0);
    let (code, _) = named(&r.join_named("mum", home_src(), "Family", t0).unwrap());
    // Gran, back from another network with the pairing made from home.
    hello_with(&mut r, "gran2", public("198.51.100.99"), &secret, t0);
    let out = r
        .join_named("gran2", src("198.51.100.99"), "family", t0)
        .unwrap();
    assert_eq!(named(&out).0, code);
    assert!(r
        .links("mum", "gran2")
        .contains(&Link::Room { code: code.clone() }));
    // Forgetting the pairing from home ends the standing: gran leaves the named room.
    let out = r.pair_forget("gran2", &secret, t0);
    assert!(
        out.iter()
            .any(|(to, m)| to == "gran2" && *m == ServerMsg::RoomLeft { code: code.clone() }),
        "{out:?}"
    );
    assert!(r.links("mum", "gran2").is_empty());
    let e = r
        .join_named("gran2", src("198.51.100.99"), "Family", t0)
        .unwrap_err();
    assert_eq!(e.0, ErrorCode::NotAllowed);
}

#[test]
fn a_named_room_ends_with_its_last_member_and_is_made_again_by_name() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "a", NetGroup::Home);
    add(&mut r, "b", NetGroup::Home);
    let (code, _) = named(&r.join_named("a", home_src(), "Family", t0).unwrap());
    r.join_named("b", home_src(), "Family", t0).unwrap();
    r.leave_room("a", &code, t0);
    assert_eq!(r.room_count(), 1, "b is still in it");
    r.disconnect("b", t0);
    assert_eq!(r.room_count(), 0, "gone at once, no idle timer");
    assert_eq!(
        r.join_room("a", &code, t0).unwrap_err().0,
        ErrorCode::NoSuchRoom
    );
    let (again, name) = named(&r.join_named("a", home_src(), "FAMILY", t0).unwrap());
    assert_ne!(again, code, "a new room");
    assert_eq!(
        name.as_deref(),
        Some("FAMILY"),
        "spelled by its new first member"
    );
    assert!(r.named_rooms.len() == 1 && r.rooms_by_source.values().sum::<usize>() == 1);
}

#[test]
fn room_names_are_bounded_and_creation_is_limited() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "a", NetGroup::Home);
    for bad in ["", "   ", &"x".repeat(41), &"é".repeat(81)] {
        let e = r.join_named("a", home_src(), bad, t0).unwrap_err();
        assert_eq!(e.0, ErrorCode::BadRequest, "{bad:?}");
        assert!(e.1.contains("40"), "{}", e.1);
    }
    assert!(r.join_named("a", home_src(), &"x".repeat(40), t0).is_ok());
    // Making named rooms spends the same creation allowance as coded rooms.
    for i in 0..4 {
        assert!(
            r.join_named("a", home_src(), &format!("r{i}"), t0).is_ok(),
            "{i}"
        );
    }
    let e = r.join_named("a", home_src(), "one more", t0).unwrap_err();
    assert_eq!(e.0, ErrorCode::RateLimited);
    // Joining one that exists creates nothing and is not limited.
    add(&mut r, "b", NetGroup::Home);
    assert!(r.join_named("b", home_src(), "r0", t0).is_ok());
}
