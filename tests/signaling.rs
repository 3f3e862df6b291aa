//! Signaling against the in-process app with real WebSocket clients.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn home_peers_see_each_other_and_public_peers_do_not() {
    let app = TestApp::spawn().await;
    let mut a = app.client().await;
    a.hello("Amber Otter").await;
    let mut b = app.client_from("192.168.1.20").await;
    b.hello("Blue Heron").await;
    let seen = a.peers_until(|p| p.len() == 1).await;
    assert_eq!(seen, vec![b.id.clone()]);
    let seen = b.peers_until(|p| p.len() == 1).await;
    assert_eq!(seen, vec![a.id.clone()]);
    // The welcome carries the ICE configuration: host candidates only, no outside STUN.
    assert_eq!(a.welcome["iceServers"], json!([]));
    assert_eq!(a.welcome["v"], 1);

    let mut x = app.client_from("8.8.8.8").await;
    x.hello("Stranger").await;
    let first = x.expect("peers").await;
    assert_eq!(first["peers"], json!([]), "a public peer sees no home peer");
    let mut y = app.client_from("8.8.8.8").await;
    y.hello("Same Office").await;
    assert_eq!(x.peers_until(|p| !p.is_empty()).await, vec![y.id.clone()]);
    // The home peers' lists never included the public ones.
    assert!(a.try_recv(Duration::from_millis(300)).await.is_none());
}

#[tokio::test]
async fn forged_forwarded_for_is_ignored_without_trusted_proxy() {
    let app = TestApp::spawn_with(|c| c.trusted_proxies.clear()).await;
    let mut a = app.client().await;
    a.hello("A").await;
    // Claims to be public, but the server must use the real (loopback) address: home.
    let mut b = app.client_from("8.8.8.8").await;
    b.hello("B").await;
    assert_eq!(b.peers_until(|p| !p.is_empty()).await, vec![a.id.clone()]);
}

#[tokio::test]
async fn rooms_create_join_full_unknown_and_expired() {
    let app = TestApp::spawn_with(|c| c.room_idle_ttl = Duration::from_secs(1)).await;
    // A household device creates the room; devices from the internet join by code.
    let mut a = app.client_from("192.168.1.7").await;
    a.hello("A").await;
    a.send(json!({"type":"roomCreate","capacity":2})).await;
    let joined = a.expect("roomJoined").await;
    let code = joined["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 6);
    assert!(
        code.bytes()
            .all(|c| b"ABCDEFGHJKMNPQRSTUVWXYZ23456789".contains(&c)),
        "{code}"
    );
    assert_eq!(joined["capacity"], 2);

    let mut b = app.client_from("8.8.8.2").await;
    b.hello("B").await;
    b.send(json!({"type":"roomJoin","code":code.to_lowercase()}))
        .await;
    assert_eq!(b.expect("roomJoined").await["members"], 2);
    let seen = b.peers_until(|p| !p.is_empty()).await;
    assert_eq!(seen, vec![a.id.clone()]);

    let mut c = app.client_from("8.8.8.3").await;
    c.hello("C").await;
    c.send(json!({"type":"roomJoin","code":code})).await;
    let e = c.expect("error").await;
    assert_eq!(e["code"], "roomFull");
    assert_eq!(e["message"], "This room is full.");
    c.send(json!({"type":"roomJoin","code":"QQQQQQ"})).await;
    assert_eq!(c.expect("error").await["code"], "noSuchRoom");

    // Everyone leaves; after the idle TTL the code no longer works.
    drop(a);
    drop(b);
    tokio::time::sleep(Duration::from_millis(1600)).await;
    c.send(json!({"type":"roomJoin","code":code})).await;
    assert_eq!(c.expect("error").await["code"], "noSuchRoom");
}

#[tokio::test]
async fn room_joins_are_rate_limited_per_address() {
    let app = TestApp::spawn().await;
    let mut c = app.client_from("8.8.8.9").await;
    c.hello("Guesser").await;
    let mut limited = 0;
    for _ in 0..15 {
        c.send(json!({"type":"roomJoin","code":"ABCDEF"})).await;
        let e = c.expect("error").await;
        if e["code"] == "rateLimited" {
            limited += 1;
        } else {
            assert_eq!(e["code"], "noSuchRoom");
        }
    }
    assert_eq!(limited, 5, "10 attempts per minute, then refused");
    // Another address is unaffected.
    let mut d = app.client_from("8.8.4.4").await;
    d.hello("Other").await;
    d.send(json!({"type":"roomJoin","code":"ABCDEF"})).await;
    assert_eq!(d.expect("error").await["code"], "noSuchRoom");
}

#[tokio::test]
async fn pairing_works_across_groups_and_after_reconnect() {
    let app = TestApp::spawn().await;
    let mut a = app.client().await;
    a.hello("Home PC").await;
    let mut x = app.client_from("8.8.8.8").await;
    x.hello("Aunt's Phone").await;
    a.send(json!({"type":"pairStart"})).await;
    let key = a.expect("pairKey").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(key.len(), 6);
    assert!(key.bytes().all(|b| b.is_ascii_digit()));
    x.send(json!({"type":"pairJoin","key":"000000"})).await;
    if key != "000000" {
        assert_eq!(x.expect("error").await["code"], "badPairKey");
    }
    x.send(json!({"type":"pairJoin","key":key})).await;
    let px = x.expect("paired").await;
    let pa = a.expect("paired").await;
    assert_eq!(px["peerName"], "Home PC");
    assert_eq!(pa["secret"], px["secret"]);
    let secret = px["secret"].as_str().unwrap().to_string();
    assert_eq!(x.peers_until(|p| !p.is_empty()).await, vec![a.id.clone()]);

    // Later both come back from other networks with new ids.
    drop(a);
    drop(x);
    let mut a2 = app.client_from("9.9.9.9").await;
    a2.send(json!({"type":"hello","v":1,"name":"Home PC","kind":"desktop","pairs":[secret]}))
        .await;
    let mut x2 = app.client_from("8.8.4.4").await;
    x2.send(json!({"type":"hello","v":1,"name":"Aunt","kind":"phone","pairs":[secret]}))
        .await;
    let seen = x2.peers_until(|p| !p.is_empty()).await;
    assert_eq!(seen, vec![a2.id.clone()]);
}

#[tokio::test]
async fn signals_relay_within_a_room_and_are_refused_across_groups() {
    // Two strangers from the internet in a room of their own: `--open-rooms`.
    let app = TestApp::spawn_with(|c| c.open_rooms = true).await;
    let mut a = app.client_from("8.8.8.1").await;
    a.hello("A").await;
    let mut b = app.client_from("9.9.9.9").await;
    b.hello("B").await;
    let mut h = app.client().await;
    h.hello("Home").await;

    // Not linked yet: refused.
    a.send(json!({"type":"signal","to":b.id,"data":{"description":{"type":"offer","sdp":"v=0"}}}))
        .await;
    let e = a.expect("error").await;
    assert_eq!(e["code"], "notAllowed");
    assert_eq!(e["ref"], "signal");

    a.send(json!({"type":"roomCreate"})).await;
    let code = a.expect("roomJoined").await["code"].clone();
    b.send(json!({"type":"roomJoin","code":code})).await;
    b.expect("roomJoined").await;
    a.peers_until(|p| p.len() == 1).await;
    a.send(json!({"type":"signal","to":b.id,"data":{"candidate":{"candidate":"c"}}}))
        .await;
    let s = b.expect("signal").await;
    assert_eq!(s["from"], a.id.as_str());
    assert_eq!(s["data"]["candidate"]["candidate"], "c");

    // The home peer shares nothing with them.
    h.send(json!({"type":"signal","to":a.id,"data":{}})).await;
    assert_eq!(h.expect("error").await["code"], "notAllowed");
    // Unknown ids are refused the same way (no existence oracle).
    h.send(json!({"type":"signal","to":"nope","data":{}})).await;
    assert_eq!(h.expect("error").await["code"], "notAllowed");
}

#[tokio::test]
async fn bad_input_gets_errors_and_others_are_still_served() {
    let app = TestApp::spawn().await;
    let mut good = app.client().await;
    good.hello("Good").await;
    let mut bad = app.client().await;

    bad.send(json!({"type":"roomCreate"})).await;
    assert_eq!(bad.expect("error").await["code"], "helloFirst");
    bad.send_raw("{not json".into()).await;
    assert_eq!(bad.expect("error").await["code"], "badJson");
    bad.send(json!({"type":"launchMissiles"})).await;
    let e = bad.expect("error").await;
    assert_eq!(e["code"], "unknownType");
    assert_eq!(e["ref"], "launchMissiles");
    bad.send(json!({"type":"hello","v":1,"name":"","kind":"phone"}))
        .await;
    assert_eq!(bad.expect("error").await["code"], "badRequest");
    bad.send(json!({"type":"hello","v":1,"name":"x".repeat(41)}))
        .await;
    assert_eq!(bad.expect("error").await["code"], "badRequest");
    bad.hello("Bad").await;
    bad.send_raw(format!(
        "{{\"type\":\"rename\",\"name\":\"{}\"}}",
        "x".repeat(100_000)
    ))
    .await;
    let e = bad.expect("error").await;
    assert_eq!(e["code"], "tooLarge");
    // Still connected and served after each error.
    bad.send(json!({"type":"roomCreate"})).await;
    bad.expect("roomJoined").await;

    // A flood is rate limited and eventually closed with 1002; the good client is unaffected.
    for i in 0..400 {
        if bad
            .ws_send_nowait(json!({"type":"rename","name":format!("n{i}")}))
            .await
            .is_err()
        {
            break;
        }
    }
    let mut saw_limit = false;
    let mut closed_with = None;
    while let Ok(Some(msg)) = tokio::time::timeout(Duration::from_secs(5), bad.next_frame()).await {
        match msg {
            Frame::Text(v) if v["code"] == "rateLimited" => saw_limit = true,
            Frame::Close(code) => {
                closed_with = Some(code);
                break;
            }
            _ => {}
        }
    }
    assert!(saw_limit);
    assert_eq!(closed_with, Some(1002));
    good.send(json!({"type":"roomCreate"})).await;
    good.expect("roomJoined").await;
}

#[tokio::test]
async fn a_dead_peer_leaves_every_list_within_10_seconds() {
    let app = TestApp::spawn().await;
    let mut a = app.client().await;
    a.hello("Watcher").await;
    let mut dead = app.client().await;
    dead.hello("Ghost").await;
    a.peers_until(|p| p.len() == 1).await;
    // `dead` stops reading: it never answers pings again, like a phone that lost Wi-Fi.
    let t = Instant::now();
    a.peers_until(|p| p.is_empty()).await;
    let took = t.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(took > Duration::from_secs(3), "removed too early: {took:?}");
    drop(dead);
}

pub enum Frame {
    Text(serde_json::Value),
    Close(u16),
}

impl crate::support::Ws {
    async fn ws_send_nowait(&mut self, v: serde_json::Value) -> Result<(), ()> {
        use futures_util::SinkExt;
        use tokio_tungstenite::tungstenite::Message;
        self.ws
            .feed(Message::text(v.to_string()))
            .await
            .map_err(|_| ())?;
        self.ws.flush().await.map_err(|_| ())
    }

    async fn next_frame(&mut self) -> Option<Frame> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            match self.ws.next().await?.ok()? {
                Message::Text(t) => {
                    return Some(Frame::Text(serde_json::from_str(t.as_str()).ok()?))
                }
                Message::Close(f) => {
                    return Some(Frame::Close(f.map(|f| u16::from(f.code)).unwrap_or(0)))
                }
                _ => continue,
            }
        }
    }
}
