//! Issue 12, attacks 3 (rooms), 4 (guessing), 5 (the relay for strangers) and 6 (names)
//! against the real binary facing the internet (`support::exposed`), each beside the path
//! the household and its relatives must keep.
//!
//! Before: 10 addresses created the maximum 10,000 rooms in 17 s; rotating addresses inside
//! one IPv6 /64, one process made about 4,900 `pairJoin` guesses per second (59 % of the
//! keys within one key's life); a stranger got TURN credentials by making a room or a
//! pairing with itself; a name could carry bidi overrides and copy a household device's.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::exposed::{stranger_v4, stranger_v6, Exposed, Side};
use crate::support::ws::Ws;

/// The next message of type `ty` or `error`, within 5 s.
async fn answer(ws: &mut Ws, ty: &str) -> Value {
    loop {
        let m = ws.recv().await;
        if m["type"] == ty || m["type"] == "error" {
            return m;
        }
    }
}

/// Does an `iceServers` message with TURN credentials arrive within `wait`?
async fn gets_turn(ws: &mut Ws, wait: Duration) -> bool {
    let end = tokio::time::Instant::now() + wait;
    while let Some(m) = ws.try_recv(end - tokio::time::Instant::now()).await {
        if m["type"] == "iceServers" && m.to_string().contains("credential") {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn strangers_make_no_rooms_and_no_relay_and_a_relative_in_a_home_room_gets_one() {
    let x = Exposed::start(&[]);
    let (lan, home, wan) = (x.lan_http(), x.home_ip, x.wan_http());
    // The household makes a room and passes its code to a relative.
    let mut mum = x.tab(Side::Home, home, lan, "Mum's phone").await;
    let code = mum.room_create().await;
    // Ten strangers each try to make rooms.
    let mut refused = Vec::new();
    for n in 0..10 {
        let mut s = x
            .tab(Side::Internet, stranger_v4(60 + n), wan, "stranger")
            .await;
        s.send(json!({"type":"roomCreate"})).await;
        refused.push(answer(&mut s, "roomJoined").await["code"].clone());
    }
    println!("strangers' roomCreate: {refused:?}");
    assert!(refused.iter().all(|c| c == "notAllowed"), "{refused:?}");
    // Two strangers pair with each other: linked, but to no trusted device.
    let mut a = x.tab(Side::Internet, stranger_v4(80), wan, "A").await;
    let mut b = x.tab(Side::Internet, stranger_v4(81), wan, "B").await;
    a.send(json!({"type":"pairStart"})).await;
    let key = a.expect("pairKey").await["key"].clone();
    b.send(json!({"type":"pairJoin","key":key})).await;
    b.expect("paired").await;
    let strangers_turn = gets_turn(&mut a, Duration::from_secs(2)).await
        || gets_turn(&mut b, Duration::from_millis(200)).await;
    assert!(
        !strangers_turn,
        "strangers paired with each other got TURN credentials"
    );
    // The relative joins the home room by its code and gets the relay; so does Mum.
    let mut rel = x.tab(Side::Internet, stranger_v4(90), wan, "Grandpa").await;
    rel.send(json!({"type":"roomJoin","code":code})).await;
    let joined = answer(&mut rel, "roomJoined").await;
    assert_eq!(joined["type"], "roomJoined", "{joined}");
    assert!(
        gets_turn(&mut rel, Duration::from_secs(3)).await,
        "the relative got no TURN"
    );
    assert!(
        gets_turn(&mut mum, Duration::from_secs(3)).await,
        "the household got no TURN"
    );
}

/// `n` wrong pairing keys, each from its own tab at `from(i)`; how many were judged
/// (`badPairKey`) and how many refused unjudged (`rateLimited`).
async fn guess(
    x: &Exposed,
    to: SocketAddr,
    n: usize,
    from: impl Fn(usize) -> IpAddr,
) -> (usize, usize) {
    let (mut judged, mut limited) = (0, 0);
    for i in 0..n {
        let mut t = x.tab(Side::Internet, from(i), to, "guesser").await;
        t.send(json!({"type":"pairJoin","key":format!("{:06}", 100_000 + i * 7)}))
            .await;
        let a = answer(&mut t, "paired").await;
        match a["code"].as_str() {
            Some("badPairKey") => judged += 1,
            Some("rateLimited") => limited += 1,
            _ => panic!("a guess paired or got {a}"),
        }
    }
    (judged, limited)
}

#[tokio::test]
async fn guessing_from_rotating_addresses_fails_and_the_household_pairs_by_qr_token() {
    let x = Exposed::start(&[]);
    let (lan, home, wan6) = (x.lan_http(), x.home_ip, x.wan_http_v6());
    let mut dad = x.tab(Side::Home, home, lan, "Dad's laptop").await;
    dad.send(json!({"type":"pairStart"})).await;
    let k = dad.expect("pairKey").await;
    let (key, token) = (k["key"].clone(), k["token"].clone());
    assert_eq!(
        token.as_str().map(str::len),
        Some(32),
        "pairKey carries a 128-bit token: {k}"
    );
    // One attacker, a new address of its /64 for every guess.
    let one64 = guess(&x, wan6, 40, |i| stranger_v6(0, 0x100 + i as u64)).await;
    // Then seven more /64s together: the global budget of wrong keys runs out.
    let mut many = (0, 0);
    for net in 1..8u16 {
        let (j, l) = guess(&x, wan6, 12, |i| stranger_v6(net, 0x200 + i as u64)).await;
        many = (many.0 + j, many.1 + l);
    }
    println!("one /64: {one64:?} (judged, rate limited); seven more /64s: {many:?}");
    assert!(one64.0 <= 10, "one /64 had {} guesses judged", one64.0);
    assert!(one64.0 + many.0 <= 50, "more than the budget was judged");
    assert!(many.1 > 0, "the global budget never ran out");
    // The household's phone: the typed key is refused while the budget is spent, the QR
    // code's token pairs.
    let mut phone = x.tab(Side::Home, home, lan, "Dad's phone").await;
    phone.send(json!({"type":"pairJoin","key":key})).await;
    let typed = answer(&mut phone, "paired").await;
    assert_eq!(typed["code"], "rateLimited", "{typed}");
    phone.send(json!({"type":"pairJoin","key":token})).await;
    let scanned = answer(&mut phone, "paired").await;
    assert_eq!(scanned["type"], "paired", "{scanned}");
    dad.expect("paired").await;
}

#[tokio::test]
async fn an_impostor_name_is_cleaned_and_never_linked_as_household() {
    let x = Exposed::start(&[]);
    let (lan, home, wan) = (x.lan_http(), x.home_ip, x.wan_http());
    let mut mum = x.tab(Side::Home, home, lan, "Mum's phone").await;
    let code = mum.room_create().await;
    // A room member names itself like the household's own device, with a zero-width space
    // and a right-to-left override in it.
    let forged = "Mum\u{200B}'s phone\u{202E}";
    let mut m = x.tab(Side::Internet, stranger_v4(100), wan, forged).await;
    m.send(json!({"type":"roomJoin","code":code})).await;
    let joined = answer(&mut m, "roomJoined").await;
    assert_eq!(joined["type"], "roomJoined", "{joined}");
    let list = loop {
        let p = mum.expect("peers").await;
        if !p["peers"].as_array().unwrap().is_empty() {
            break p["peers"].clone();
        }
    };
    let impostor = &list[0];
    println!("the household sees: {impostor}");
    let name = impostor["name"].as_str().unwrap();
    assert!(
        !name
            .chars()
            .any(|c| matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}')),
        "format characters kept: {name:?}"
    );
    let links = impostor["links"].to_string();
    assert!(links.contains("room"), "{links}");
    assert!(
        !links.contains("home"),
        "a room member listed as household: {links}"
    );
}
