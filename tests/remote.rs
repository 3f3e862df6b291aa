//! The household's view of remote access: `GET /remote` answers home-group devices only,
//! and its invite base follows `--public-host`.

use serde_json::Value;

use crate::support::{http_get, TestApp};

async fn remote(app: &TestApp, from: Option<&str>) -> (u16, Value) {
    let extra = from.map_or(String::new(), |ip| format!("x-forwarded-for: {ip}\r\n"));
    let (status, _, body) = http_get(app.addr, "/remote", &extra).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn remote_status_is_the_households_and_names_the_invite_base() {
    let app = TestApp::spawn_with(|c| {
        c.remote = true;
        c.acme = false;
        c.upnp = false;
        c.https = Some("127.0.0.1:0".parse().unwrap());
        c.public_host = Some("relatives.example".into());
    })
    .await;
    let (status, v) = remote(&app, None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["enabled"], true);
    let base = v["inviteBase"].as_str().unwrap_or_default();
    assert!(base.starts_with("https://relatives.example:"), "{v}");
    // ACME is off here: the TLS port serves the self-signed fallback, and says so.
    assert_eq!(v["certificate"]["source"], "self-signed", "{v}");
    assert!(
        v["mapping"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    let (status, v) = remote(&app, Some("192.168.1.20")).await;
    assert_eq!(status, 200, "another home device: {v}");
    // A relative (or anyone) on the internet gets nothing of it.
    let (status, v) = remote(&app, Some("203.0.113.9")).await;
    assert_eq!(status, 403, "{v}");
    assert!(v.get("inviteBase").is_none(), "{v}");
}

#[tokio::test]
async fn without_remote_access_the_panel_says_it_is_off() {
    let app = TestApp::spawn().await;
    let (status, v) = remote(&app, None).await;
    assert_eq!(status, 200);
    assert_eq!(v["enabled"], false);
    assert_eq!(v["mapping"]["state"], "off");
    assert_eq!(v["inviteBase"], Value::Null);
}

/// At home the page shows the "Remote access" panel; "Invite a relative" makes a room and
/// shows its link on the public host (with the room's token) and a QR code of it; the
/// token in that link joins the room from another page.
#[test]
fn the_household_invites_a_relative_with_one_link() {
    use std::time::Duration;

    use crate::support::one_browser_at_a_time;
    use crate::support::setup::Setup;

    let _one = one_browser_at_a_time();
    let mut s = Setup::with_flags(
        None,
        &[
            "--remote",
            "--https",
            "0.0.0.0:8443",
            "--no-acme",
            "--no-upnp",
            "--public-host",
            "relatives.example",
        ],
    );
    let shown = "!document.querySelector('[data-remote]').hidden";
    s.a.wait_for(shown, Duration::from_secs(10));
    assert!(!s.a.text("[data-remote-mapping]").is_empty());
    s.a.click("[data-remote-invite]");
    s.a.wait_for(
        "!document.querySelector('[data-remote-link-box]').hidden",
        Duration::from_secs(10),
    );
    let link = s.a.text("[data-remote-link]");
    let token = link
        .strip_prefix("https://relatives.example:8443/#room=")
        .unwrap_or_else(|| panic!("invite link {link:?}"));
    assert!(
        token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{link}"
    );
    let qr =
        s.a.eval("document.querySelector('[data-remote-qr] img').getAttribute('src')");
    assert!(
        qr.as_str().is_some_and(|q| q.contains("relatives.example")),
        "{qr}"
    );
    assert_eq!(
        s.a.count("[data-room-list] [data-room]"),
        1,
        "the invite made a room"
    );
    // The link's fragment on another homedrop page joins that room.
    s.b.eval(&format!("location.hash = '#room={token}'"));
    s.b.wait_count("[data-room-list] [data-room]", 1, Duration::from_secs(10));
    assert_eq!(
        s.b.data("[data-room-list] [data-room]", "code"),
        s.a.data("[data-room-list] [data-room]", "code")
    );
}

/// Without `--public-host`, the public address the router reports is one of homedrop's
/// names: a relative's invite link (`https://<that address>/…`, forwarded by the router to
/// the LAN address) is served, where any other name still gets 421.
#[tokio::test]
async fn the_public_address_the_router_reports_is_one_of_homedrops_names() {
    use tokio::io::AsyncWriteExt;

    let (tx, rx) = tokio::sync::oneshot::channel();
    let app = TestApp::spawn_observed(
        |c| {
            c.remote = true;
            c.acme = false;
            c.upnp = false;
            c.https = Some("127.0.0.1:0".parse().unwrap());
        },
        move |shared| {
            let _ = tx.send(shared);
        },
    )
    .await;
    let shared = rx.await.unwrap();
    let get = |host: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let req = format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        crate::support::read_answer(&mut s, std::time::Duration::from_secs(5))
            .await
            .0
    };
    assert_eq!(get("198.51.100.77").await, 421, "not learned yet");
    shared
        .remote
        .update(|v| v.public_host = Some("198.51.100.77".into()));
    assert_eq!(
        get("198.51.100.77").await,
        200,
        "the learned public address"
    );
    assert_eq!(get("198.51.100.78").await, 421, "another address");
    assert_eq!(
        shared
            .remote
            .view()
            .invite_base
            .as_deref()
            .map(|b| b.starts_with("https://198.51.100.77:")),
        Some(true)
    );
}
