//! The delivery path against the in-process app: the `hello` deadline, the `rename` and
//! per-source `hello` rate limits, and a client that stops reading being closed (with its
//! queue freed) while everyone else is served.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::support::server::{hello_and_first_list, small_window_client};
use crate::support::{http_get, TestApp, Ws};

/// Frames until the server's close frame: (code, reason), or `None` if the stream ended.
async fn close_of(ws: &mut Ws, within: Duration) -> Option<(u16, String)> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.ws.next())
            .await
            .ok()??
        {
            Ok(Message::Close(f)) => {
                let f = f?;
                return Some((u16::from(f.code), f.reason.to_string()));
            }
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

async fn stats(app: &TestApp) -> Value {
    let (_, _, body) = http_get(app.addr, "/stats", "").await;
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn a_connection_that_says_no_hello_is_closed_after_5_seconds() {
    let app = TestApp::spawn().await;
    let t = Instant::now();
    let mut silent = app.client().await;
    let mut talker = app.client().await;
    talker.hello("Talker").await;
    let closed = close_of(&mut silent, Duration::from_secs(9)).await;
    let took = t.elapsed();
    assert_eq!(closed, Some((1008, "no hello in time".to_string())));
    assert!(
        took >= Duration::from_millis(4_800),
        "closed too early: {took:?}"
    );
    // The one that said hello is still served (it answered pings meanwhile).
    talker.send(json!({"type":"roomCreate"})).await;
    talker.expect("roomJoined").await;
    app.stop().await;
}

#[tokio::test]
async fn renames_beyond_a_burst_of_5_are_rate_limited_then_allowed_again() {
    let app = TestApp::spawn().await;
    let mut a = app.client().await;
    a.hello("A").await;
    a.expect("peers").await;
    for i in 0..8 {
        a.send(json!({"type":"rename","name":format!("A{i}")}))
            .await;
    }
    let mut limited = 0;
    while let Some(m) = a.try_recv(Duration::from_millis(500)).await {
        if m["type"] == "error" {
            assert_eq!(
                (m["code"].as_str(), m["ref"].as_str()),
                (Some("rateLimited"), Some("rename")),
                "{m}"
            );
            limited += 1;
        }
    }
    // A burst of 5 (one more if a second passed while sending), then refused.
    assert!((2..=3).contains(&limited), "{limited} of 8 refused");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut b = app.client().await;
    b.hello("B").await;
    b.peers_until(|p| p.len() == 1).await;
    a.send(json!({"type":"rename","name":"Again"})).await;
    loop {
        let m = b.expect("peers").await;
        if m["peers"][0]["name"] == "Again" {
            break;
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn hellos_from_one_source_are_rate_limited_others_are_not() {
    let app = TestApp::spawn().await;
    let t = Instant::now();
    let mut welcomed = 0;
    loop {
        let mut c = app.client_from("203.0.113.44").await;
        c.hello(&format!("Loop {welcomed}")).await;
        let m = c.recv().await;
        let _ = c.ws.close(None).await;
        if m["type"] == "error" {
            assert_eq!(m["code"], "rateLimited", "{m}");
            assert_eq!(m["ref"], "hello", "{m}");
            break;
        }
        assert_eq!(m["type"], "peers", "{m}");
        welcomed += 1;
        assert!(welcomed <= 40, "never refused");
    }
    // A burst of 20, plus one a second while the loop ran.
    let refilled = t.elapsed().as_secs();
    assert!(
        (20..=21 + refilled).contains(&welcomed),
        "{welcomed} in {refilled} s"
    );
    let mut other = app.client_from("198.51.100.44").await;
    other.hello("Other").await;
    other.expect("peers").await;
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_and_the_rest_are_served() {
    let app = TestApp::spawn().await;
    let mut stalled = small_window_client(app.addr, "10.1.2.3").await;
    assert!(hello_and_first_list(&mut stalled, "Stalled", Duration::from_secs(5)).await);
    let mut sender = app.client_from("10.1.2.4").await;
    sender.hello("Sender").await;
    let ids = sender.peers_until(|p| p.len() == 1).await;
    // Up to 6 MB of signals the stalled tab never reads: more than the kernel buffers a
    // socket (4 MB here), so its queue passes its 256 KiB budget. The sender stops once the
    // tab has left its list (signals to it are then refused).
    let sdp = "x".repeat(40_000);
    let t = Instant::now();
    let mut gone = false;
    for _ in 0..150 {
        let m = json!({"type":"signal","to":ids[0],"data":{"sdp":sdp}});
        sender.ws.send(Message::text(m.to_string())).await.unwrap();
        while let Some(m) = sender.try_recv(Duration::from_millis(1)).await {
            gone |= m["type"] == "peers" && m["peers"] == json!([]);
            gone |= m["type"] == "error";
        }
        if gone {
            break;
        }
    }
    // It leaves the sender's list once its session has ended.
    if !gone {
        sender.peers_until(|p| p.is_empty()).await;
    }
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(stats(&app).await["tooSlow"], 1);
    // The sender is still served.
    sender.send(json!({"type":"roomCreate"})).await;
    sender.expect("roomJoined").await;
    drop(stalled);
    app.stop().await;
}
