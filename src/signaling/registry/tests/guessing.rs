//! Guessing: per-source limits on the IPv4 address or IPv6 /64, the global budgets of
//! wrong pairing keys and room codes, and the tokens that are never refused by them.

use super::*;

/// `r`'s new key and token for `id`.
fn pair_key(r: &mut Registry, id: &str, now: Instant) -> (String, String) {
    match &r.pair_start(id, now)[0].1 {
        ServerMsg::PairKey { key, token, .. } => (key.clone(), token.clone()),
        m => panic!("{m:?}"),
    }
}

/// The `n`th 6-digit key that is not `key`.
fn wrong_key(key: &str, n: u32) -> String {
    let k: u32 = key.parse().unwrap();
    format!("{:06}", (k + 1 + n) % 1_000_000)
}

fn paired(out: &Outbox) -> bool {
    out.iter()
        .any(|(_, m)| matches!(m, ServerMsg::Paired { .. }))
}

#[test]
fn an_ipv6_64_is_one_source_however_many_addresses_it_uses() {
    let mut r = reg();
    let t0 = Instant::now();
    for i in 0..JOINS_PER_MINUTE {
        let ip = format!("2001:db8:1:2:{:x}::{:x}", i * 7 + 1, i + 3);
        assert!(r.join_attempt(src(&ip), t0).is_ok(), "{ip}");
    }
    let e = r.join_attempt(src("2001:db8:1:2:ffff::1"), t0).unwrap_err();
    assert_eq!(e.0, ErrorCode::RateLimited);
    assert!(
        r.join_attempt(src("2001:db8:1:3::1"), t0).is_ok(),
        "the next /64"
    );
    assert!(r.join_attempt(src("203.0.113.9"), t0).is_ok());
    let mapped = src("::ffff:203.0.113.9");
    assert_eq!(
        mapped,
        src("203.0.113.9"),
        "IPv4-mapped is its IPv4 address"
    );
}

#[test]
fn wrong_keys_spend_a_global_budget_and_the_token_still_pairs() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "home", NetGroup::Home);
    add(&mut r, "relative", public("198.51.100.4"));
    let (key, token) = pair_key(&mut r, "home", t0.mono);
    assert_eq!(token.len(), TOKEN_HEX);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()));
    // Wrong tokens and malformed keys spend nothing.
    add(&mut r, "attacker", public("203.0.113.1"));
    for i in 0..1000u32 {
        let t = format!("{i:032x}");
        assert_eq!(
            r.pair_join("attacker", &t, t0).unwrap_err().0,
            ErrorCode::BadPairKey
        );
        assert!(r.pair_join("attacker", "12345", t0).is_err());
    }
    // Fifty wrong keys, from anywhere, close keys for everyone for the rest of the window.
    for n in 0..KEY_GUESS_BUDGET {
        let e = r
            .pair_join("attacker", &wrong_key(&key, n), t0)
            .unwrap_err();
        assert_eq!(e.0, ErrorCode::BadPairKey, "guess {n}");
    }
    let later = t0.after(Duration::from_secs(60));
    for k in [key.as_str(), "000000"] {
        let e = r.pair_join("relative", k, later).unwrap_err();
        assert_eq!(e.0, ErrorCode::RateLimited, "refused unread: {k}");
        assert!(e.1.contains("QR code"), "{}", e.1);
    }
    // The QR code's token still pairs, in any case.
    let out = r
        .pair_join("relative", &token.to_uppercase(), later)
        .unwrap();
    assert!(paired(&out));
    assert_eq!(r.links("home", "relative"), vec![Link::Pair]);
    // Used: the key and the token are gone together.
    assert!(r.pair_join("relative", &token, later).is_err());
    // The next window opens keys again.
    let next = t0.after(KEY_GUESS_WINDOW);
    let (key, _) = pair_key(&mut r, "home", next.mono);
    add(&mut r, "cousin", public("198.51.100.5"));
    assert!(paired(&r.pair_join("cousin", &key, next).unwrap()));
}

#[test]
fn a_key_life_sees_at_most_two_windows_of_wrong_guesses() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "home", NetGroup::Home);
    add(&mut r, "attacker", public("203.0.113.1"));
    // The attacker's best plan: open a window with one wrong guess, keep the rest of its
    // budget for the key's life, then use the next window's too.
    assert!(r.pair_join("attacker", "000000", t0).is_err());
    let born = t0.after(Duration::from_secs(60));
    let (key, _) = pair_key(&mut r, "home", born.mono);
    let mut looked_at = 0;
    let mut n = 0;
    for s in 0..PAIR_KEY_TTL.as_secs() {
        for _ in 0..100 {
            let at = born.after(Duration::from_secs(s));
            match r.pair_join("attacker", &wrong_key(&key, n), at) {
                Err((ErrorCode::BadPairKey, _)) => looked_at += 1,
                Err((ErrorCode::RateLimited, _)) => {}
                other => panic!("{other:?}"),
            }
            n += 1;
        }
    }
    assert_eq!(
        looked_at,
        2 * KEY_GUESS_BUDGET - 1,
        "two windows, less the opening guess"
    );
    // At most 100 of the 10^6 keys: at most 1 in 10,000.
    assert!(f64::from(2 * KEY_GUESS_BUDGET) / 1e6 <= 1e-4);
}

/// `n` distinct codes other than `code`.
fn wrong_codes(code: &str, n: usize) -> Vec<String> {
    let a = CODE_ALPHABET;
    (0..=n)
        .map(|i| {
            (0..CODE_LEN)
                .map(|d| a[(i / a.len().pow(d as u32)) % a.len()] as char)
                .collect::<String>()
        })
        .filter(|c| c != code)
        .take(n)
        .collect()
}

#[test]
fn wrong_room_codes_spend_a_global_budget_and_the_token_still_joins() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "home", NetGroup::Home);
    add(&mut r, "attacker", public("203.0.113.1"));
    add(&mut r, "relative", public("198.51.100.4"));
    let out = r
        .create_room("home", home_src(), Some(10), false, t0)
        .unwrap();
    let (code, token) = match &out[0].1 {
        ServerMsg::RoomJoined { code, token, .. } => (code.clone(), token.clone()),
        m => panic!("{m:?}"),
    };
    assert_eq!(token.len(), TOKEN_HEX);
    // Malformed codes and wrong tokens spend nothing.
    for i in 0..2000u32 {
        assert!(r.join_room("attacker", "<script>", t0).is_err());
        assert!(r.join_room("attacker", &format!("{i:032x}"), t0).is_err());
    }
    for c in wrong_codes(&code, CODE_GUESS_BUDGET as usize) {
        let e = r.join_room("attacker", &c, t0).unwrap_err();
        assert_eq!(e.0, ErrorCode::NoSuchRoom);
    }
    let later = t0.after(Duration::from_secs(1800));
    let e = r.join_room("relative", &code, later).unwrap_err();
    assert_eq!(e.0, ErrorCode::RateLimited);
    assert!(e.1.contains("link"), "{}", e.1);
    let out = r.join_room("relative", &token, later).unwrap();
    assert_eq!(code_of(&out), code);
    assert_eq!(
        r.links("home", "relative"),
        vec![Link::Room { code: code.clone() }]
    );
    // A reloading member rejoins by token too, and joining twice is no error.
    assert!(r
        .join_room("relative", &token.to_uppercase(), later)
        .is_ok());
    // An hour after the window began, codes work again.
    add(&mut r, "cousin", public("198.51.100.5"));
    let next = t0.after(CODE_GUESS_WINDOW);
    assert_eq!(
        code_of(&r.join_room("cousin", &code.to_lowercase(), next).unwrap()),
        code
    );
}

#[test]
fn rooms_are_created_by_trusted_devices_within_per_source_limits() {
    let mut r = reg();
    let t0 = start();
    add(&mut r, "stranger", public("203.0.113.1"));
    let e = r
        .create_room("stranger", src("203.0.113.1"), None, false, t0)
        .unwrap_err();
    assert_eq!(e.0, ErrorCode::NotAllowed);
    add(&mut r, "home", NetGroup::Home);
    // Five a minute from one source, then one every 12 s.
    for i in 0..ROOM_CREATES_PER_MINUTE {
        assert!(
            r.create_room("home", home_src(), None, false, t0).is_ok(),
            "{i}"
        );
    }
    let e = r
        .create_room("home", home_src(), None, false, t0)
        .unwrap_err();
    assert_eq!(e.0, ErrorCode::RateLimited);
    assert!(
        r.create_room("home", src("192.168.1.8"), None, false, t0)
            .is_ok(),
        "another source"
    );
    let t12 = t0.after(Duration::from_secs(12));
    assert!(r.create_room("home", home_src(), None, false, t12).is_ok());
    // At most 20 alive per source, however slowly they are made.
    let mut t = t12;
    let mut made = ROOM_CREATES_PER_MINUTE as usize + 1;
    let mut codes = Vec::new();
    while made < MAX_ROOMS_PER_SOURCE + 3 {
        t = t.after(Duration::from_secs(12));
        r.disconnect("home", t);
        add_at(&mut r, "home", NetGroup::Home, t);
        match r.create_room("home", home_src(), None, false, t) {
            Ok(out) => codes.push(code_of(&out)),
            Err(e) => {
                assert_eq!(made, MAX_ROOMS_PER_SOURCE, "refused at {made}: {e:?}");
                assert_eq!(e.0, ErrorCode::RateLimited);
                break;
            }
        }
        made += 1;
    }
    assert_eq!(made, MAX_ROOMS_PER_SOURCE);
    // Rooms that expire free their places.
    r.disconnect("home", t);
    let gone = t.after(Duration::from_secs(601));
    r.sweep(gone.mono);
    assert_eq!(r.room_count(), 0, "every room emptied and expired");
    add_at(&mut r, "home", NetGroup::Home, gone);
    assert!(r.create_room("home", home_src(), None, false, gone).is_ok());
}

#[test]
fn open_rooms_let_strangers_create_still_within_limits() {
    let mut r = reg();
    r.settings.open_rooms = true;
    let t0 = start();
    add(&mut r, "stranger", public("203.0.113.1"));
    let s = src("203.0.113.1");
    for _ in 0..ROOM_CREATES_PER_MINUTE {
        assert!(r.create_room("stranger", s, None, false, t0).is_ok());
    }
    assert_eq!(
        r.create_room("stranger", s, None, false, t0).unwrap_err().0,
        ErrorCode::RateLimited
    );
    // Rotating through a /64 is one source.
    add(&mut r, "v6", public("2001:db8::1"));
    for i in 0..ROOM_CREATES_PER_MINUTE {
        let ip = format!("2001:db8::{:x}", i + 1);
        assert!(r.create_room("v6", src(&ip), None, false, t0).is_ok());
    }
    let e = r
        .create_room("v6", src("2001:db8::ffff"), None, false, t0)
        .unwrap_err();
    assert_eq!(e.0, ErrorCode::RateLimited);
}
