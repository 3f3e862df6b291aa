//! Room settings and invitations over real WebSocket clients against the in-process app:
//! capacity and "snap on join" carried at creation, invitations inside the home group,
//! accepted and declined, and every refusal.

use std::time::Duration;

use serde_json::json;

use crate::support::TestApp;

#[tokio::test]
async fn capacity_and_snap_on_join_are_room_settings() {
    let app = TestApp::spawn().await;
    // A household device creates; devices from the internet join by code.
    let mut a = app.client_from("192.168.1.7").await;
    a.hello("A").await;
    a.send(json!({"type":"roomCreate","capacity":3,"snapOnJoin":true}))
        .await;
    let joined = a.expect("roomJoined").await;
    assert_eq!(joined["capacity"], 3);
    assert_eq!(joined["snapOnJoin"], true);
    let code = joined["code"].as_str().unwrap().to_string();
    for (i, ip) in ["8.8.8.2", "8.8.8.3"].iter().enumerate() {
        let mut m = app.client_from(ip).await;
        m.hello("M").await;
        m.send(json!({"type":"roomJoin","code":code})).await;
        let j = m.expect("roomJoined").await;
        assert_eq!(j["snapOnJoin"], true, "every member learns the setting");
        assert_eq!(j["members"], i + 2);
        std::mem::forget(m); // stay connected for the capacity check below
    }
    let mut d = app.client_from("8.8.8.4").await;
    d.hello("D").await;
    d.send(json!({"type":"roomJoin","code":code})).await;
    let e = d.expect("error").await;
    assert_eq!(e["code"], "roomFull");
    assert_eq!(e["message"], "This room is full.");

    // Without the flag the setting is off; capacity stays bounded.
    a.send(json!({"type":"roomCreate"})).await;
    assert_eq!(a.expect("roomJoined").await["snapOnJoin"], false);
    a.send(json!({"type":"roomCreate","capacity":51})).await;
    assert_eq!(a.expect("error").await["code"], "badRequest");
}

#[tokio::test]
async fn invitations_inside_the_home_group_accepted_and_declined() {
    let app = TestApp::spawn().await;
    let mut a = app.client().await;
    a.hello("Amber").await;
    let mut b = app.client_from("192.168.1.20").await;
    b.hello("Blue").await;
    let mut c = app.client_from("192.168.1.21").await;
    c.hello("Coral").await;
    a.send(json!({"type":"roomCreate","capacity":3})).await;
    let code = a.expect("roomJoined").await["code"].clone();

    a.send(json!({"type":"roomInvite","to":b.id,"code":code}))
        .await;
    let inv = b.expect("roomInvited").await;
    assert_eq!(inv["from"], a.id.as_str());
    assert_eq!(inv["fromName"], "Amber");
    assert_eq!(inv["code"], code);
    b.send(json!({"type":"roomInviteReply","to":a.id,"code":code,"accept":true}))
        .await;
    let j = b.expect("roomJoined").await;
    assert_eq!(j["code"], code);
    let ans = a.expect("roomInviteAnswer").await;
    assert_eq!(ans["accept"], true);
    assert_eq!(ans["from"], b.id.as_str());
    assert_eq!(ans["fromName"], "Blue");

    a.send(json!({"type":"roomInvite","to":c.id,"code":code}))
        .await;
    c.expect("roomInvited").await;
    c.send(json!({"type":"roomInviteReply","to":a.id,"code":code,"accept":false}))
        .await;
    let ans = a.expect("roomInviteAnswer").await;
    assert_eq!(ans["accept"], false);
    assert_eq!(ans["fromName"], "Coral");
    // Declining joins nothing, and the same invitation cannot be answered twice.
    c.send(json!({"type":"roomInviteReply","to":a.id,"code":code,"accept":true}))
        .await;
    let e = c.expect("error").await;
    assert_eq!(e["code"], "notAllowed");
    assert_eq!(e["ref"], "roomInviteReply");
}

#[tokio::test]
async fn invitations_are_refused_outside_the_home_group_and_rate_limited() {
    let app = TestApp::spawn().await;
    let mut a = app.client().await;
    a.hello("Amber").await;
    let mut b = app.client_from("192.168.1.20").await;
    b.hello("Blue").await;
    let mut x = app.client_from("8.8.8.8").await;
    x.hello("Stranger").await;
    let code = a.room_create().await;

    // A stranger, even one sharing the room, cannot be invited or invite.
    x.send(json!({"type":"roomJoin","code":code})).await;
    x.expect("roomJoined").await;
    a.send(json!({"type":"roomInvite","to":x.id,"code":code}))
        .await;
    assert_eq!(a.expect("error").await["code"], "notAllowed");
    x.send(json!({"type":"roomInvite","to":b.id,"code":code}))
        .await;
    assert_eq!(x.expect("error").await["code"], "notAllowed");
    // Not a member of the room: refused. Unknown code: refused.
    b.send(json!({"type":"roomInvite","to":a.id,"code":code}))
        .await;
    assert_eq!(b.expect("error").await["code"], "notAllowed");
    a.send(json!({"type":"roomInvite","to":b.id,"code":"<b>x"}))
        .await;
    assert_eq!(a.expect("error").await["code"], "noSuchRoom");
    // An answer nobody asked for: refused.
    b.send(json!({"type":"roomInviteReply","to":a.id,"code":code,"accept":true}))
        .await;
    assert_eq!(b.expect("error").await["code"], "notAllowed");

    // 10 per minute per connection (refused ones count too), then refused.
    for _ in 0..12 {
        a.send(json!({"type":"roomInvite","to":b.id,"code":code}))
            .await;
    }
    let mut limited = 0;
    while let Some(m) = a.try_recv(Duration::from_millis(500)).await {
        if m["type"] == "error" {
            assert_eq!(m["code"], "rateLimited", "{m}");
            limited += 1;
        }
    }
    let mut got = 0;
    while let Some(m) = b.try_recv(Duration::from_millis(300)).await {
        if m["type"] == "roomInvited" {
            got += 1;
        }
    }
    assert_eq!(got + limited, 12);
    assert!(limited >= 3, "{limited} refused, {got} delivered");
}
