//! Guessing pairing keys and room codes over real WebSocket clients against the in-process
//! app, posing as many sources through X-Forwarded-For: addresses rotated inside one IPv6
//! /64 are one source; many sources spend the global budget of wrong guesses, and the
//! household still pairs and joins with the tokens of the QR code and the link.

use serde_json::{json, Value};

use crate::support::{TempDir, TestApp, Ws};

/// The `n`th 6-digit key that is not `key`.
fn wrong_key(key: &str, n: u32) -> String {
    let k: u32 = key.parse().unwrap();
    format!("{:06}", (k + 1 + n) % 1_000_000)
}

/// A device from `ip` that said hello.
async fn device(app: &TestApp, ip: &str, name: &str) -> Ws {
    let mut ws = app.client_from(ip).await;
    ws.hello(name).await;
    ws
}

/// Send `msg` and return the error it earned.
async fn refused(ws: &mut Ws, msg: Value) -> Value {
    ws.send(msg).await;
    ws.expect("error").await
}

#[tokio::test]
async fn addresses_rotated_inside_one_ipv6_64_are_one_source() {
    let app = TestApp::spawn().await;
    let mut home = app.client().await;
    home.hello("Mum's phone").await;
    home.send(json!({"type":"pairStart"})).await;
    let key = home.expect("pairKey").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    // Each guess from a fresh address of 2001:db8:5:6::/64, as a rotating attacker would.
    let mut codes = Vec::new();
    for n in 0..12u32 {
        let ip = format!("2001:db8:5:6:{:x}:{:x}::1", n + 1, n * 97);
        let mut a = device(&app, &ip, "A").await;
        let e = refused(&mut a, json!({"type":"pairJoin","key":wrong_key(&key, n)})).await;
        codes.push(e["code"].as_str().unwrap().to_string());
        if n >= 10 {
            let text = e["message"].as_str().unwrap();
            assert!(text.contains("your network"), "{text}");
        }
    }
    assert_eq!(codes[..10], vec!["badPairKey"; 10][..], "{codes:?}");
    assert_eq!(codes[10..], vec!["rateLimited"; 2][..], "{codes:?}");
    // The next /64 is another source.
    let mut b = device(&app, "2001:db8:5:7::1", "B").await;
    let e = refused(&mut b, json!({"type":"pairJoin","key":wrong_key(&key, 99)})).await;
    assert_eq!(e["code"], "badPairKey");
    app.stop().await;
}

#[tokio::test]
async fn many_sources_spend_the_key_budget_and_the_household_pairs_by_token() {
    let app = TestApp::spawn().await;
    let mut home = app.client().await;
    home.hello("Mum's phone").await;
    home.send(json!({"type":"pairStart"})).await;
    let pk = home.expect("pairKey").await;
    let key = pk["key"].as_str().unwrap().to_string();
    let token = pk["token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 32);
    // Six /64s, ten guesses each (their own limit): the first 50 are looked at.
    let (mut looked_at, mut closed) = (0, 0);
    for s in 0..6u32 {
        let mut a = device(&app, &format!("2001:db8:{s:x}::1"), "A").await;
        for g in 0..10 {
            let e = refused(
                &mut a,
                json!({"type":"pairJoin","key":wrong_key(&key, s * 10 + g)}),
            )
            .await;
            match e["code"].as_str().unwrap() {
                "badPairKey" => looked_at += 1,
                "rateLimited" => closed += 1,
                c => panic!("{c}: {e}"),
            }
        }
    }
    assert_eq!((looked_at, closed), (50, 10));
    // Now the right key is refused too, for everyone; the household uses the QR code.
    let mut gran = device(&app, "198.51.100.4", "Gran").await;
    let e = refused(&mut gran, json!({"type":"pairJoin","key":key})).await;
    assert_eq!(e["code"], "rateLimited");
    assert!(e["message"].as_str().unwrap().contains("QR code"), "{e}");
    gran.send(json!({"type":"pairJoin","key":token})).await;
    let secret = gran.expect("paired").await["secret"].clone();
    assert_eq!(home.expect("paired").await["secret"], secret);
    app.stop().await;
}

#[tokio::test]
async fn many_sources_spend_the_code_budget_and_relatives_join_by_link() {
    let app = TestApp::spawn().await;
    let mut home = app.client_from("192.168.1.7").await;
    home.hello("Dad's laptop").await;
    home.send(json!({"type":"roomCreate"})).await;
    let joined = home.expect("roomJoined").await;
    let code = joined["code"].as_str().unwrap().to_string();
    let token = joined["token"].as_str().unwrap().to_string();
    // Sixty-one sources, ten wrong codes each: 600 are looked at, the rest refused.
    let alphabet = homedrop::signaling::registry::CODE_ALPHABET;
    let (mut looked_at, mut closed) = (0, 0);
    for s in 0..61usize {
        let mut a = device(
            &app,
            &format!("203.0.{}.{}", 113 + s / 200, 1 + s % 200),
            "A",
        )
        .await;
        for g in 0..10usize {
            let i = s * 10 + g;
            let guess: String = (0..6)
                .map(|d| alphabet[(i / 31usize.pow(d)) % 31] as char)
                .collect();
            if guess == code {
                continue;
            }
            let e = refused(&mut a, json!({"type":"roomJoin","code":guess})).await;
            match e["code"].as_str().unwrap() {
                "noSuchRoom" => looked_at += 1,
                "rateLimited" => closed += 1,
                c => panic!("{c}: {e}"),
            }
        }
    }
    assert_eq!(looked_at, 600);
    assert!(closed >= 9, "{closed}");
    let mut aunt = device(&app, "198.51.100.9", "Aunt").await;
    let e = refused(&mut aunt, json!({"type":"roomJoin","code":code})).await;
    assert_eq!(e["code"], "rateLimited");
    aunt.send(json!({"type":"roomJoin","code":token})).await;
    assert_eq!(aunt.expect("roomJoined").await["code"], code.as_str());
    app.stop().await;
}

#[tokio::test]
async fn internet_devices_join_home_rooms_but_create_none_of_their_own() {
    let app = TestApp::spawn().await;
    let mut stranger = device(&app, "203.0.113.5", "Stranger").await;
    let e = refused(&mut stranger, json!({"type":"roomCreate"})).await;
    assert_eq!(e["code"], "notAllowed");
    assert_eq!(e["ref"], "roomCreate");
    let mut home = device(&app, "192.168.1.7", "Dad's laptop").await;
    let code = home.room_create().await;
    stranger.send(json!({"type":"roomJoin","code":code})).await;
    stranger.expect("roomJoined").await;
    // Five rooms a minute per source, household included.
    for _ in 0..4 {
        home.room_create().await;
    }
    let e = refused(&mut home, json!({"type":"roomCreate"})).await;
    assert_eq!(e["code"], "rateLimited");
    app.stop().await;

    let open = TestApp::spawn_with(|c| c.open_rooms = true).await;
    let mut stranger = device(&open, "203.0.113.5", "Stranger").await;
    stranger.room_create().await;
    open.stop().await;
}

#[tokio::test]
async fn a_pairing_made_from_home_keeps_its_standing_across_restarts() {
    let state = TempDir::new("pair-standing");
    let dir = state.0.clone();
    let app = TestApp::spawn_with(move |c| c.state_dir = dir).await;
    let mut mum = device(&app, "192.168.1.7", "Mum's phone").await;
    mum.send(json!({"type":"pairStart"})).await;
    let token = mum.expect("pairKey").await["token"].clone();
    let mut gran = device(&app, "198.51.100.4", "Gran").await;
    gran.send(json!({"type":"pairJoin","key":token})).await;
    let home_secret = gran.expect("paired").await["secret"].clone();
    // A pairing of two internet devices, for comparison.
    let mut x = device(&app, "203.0.113.1", "X").await;
    x.send(json!({"type":"pairStart"})).await;
    let key = x.expect("pairKey").await["key"].clone();
    let mut y = device(&app, "203.0.113.2", "Y").await;
    y.send(json!({"type":"pairJoin","key":key})).await;
    let stranger_secret = y.expect("paired").await["secret"].clone();
    app.stop().await;

    // Restarted on the same state directory; gran is away from home, mum offline.
    let dir = state.0.clone();
    let app = TestApp::spawn_with(move |c| c.state_dir = dir).await;
    let mut gran = app.client_from("198.51.100.50").await;
    gran.send(json!({"type":"hello","v":1,"name":"Gran","pairs":[home_secret]}))
        .await;
    gran.room_create().await;
    let mut y = app.client_from("203.0.113.9").await;
    y.send(json!({"type":"hello","v":1,"name":"Y","pairs":[stranger_secret]}))
        .await;
    let e = refused(&mut y, json!({"type":"roomCreate"})).await;
    assert_eq!(e["code"], "notAllowed");
    app.stop().await;
}
