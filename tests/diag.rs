//! Issue 15, parts 7 and 8 against the real binary: the household's diagnostics
//! (`GET /api/logs`: recent log lines for home devices only, to homedrop's own pages only,
//! with no name, text, room code, key or credential in them), and capabilities up front (a
//! browser without WebRTC is told so and shown to the others as unable to receive).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::server::Server;
use crate::support::ws::Ws;
use crate::support::{binary, header, http_get};

const NAME: &str = "Zebra-Secret-Name";
const RENAMED: &str = "Zebra-Secret-Renamed";
const TEXT: &str = "Secret-Text-Over-Signaling-42";

async fn logs(addr: SocketAddr, extra: &str) -> (u16, Vec<(String, String)>, String) {
    let (status, headers, body) = http_get(addr, "/api/logs", extra).await;
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// The lines, once one of them contains `needle` (within 10 s).
async fn lines_with(addr: SocketAddr, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _, body) = logs(addr, "").await;
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        let lines: Vec<String> = v["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_string())
            .collect();
        if lines.iter().any(|l| l.contains(needle)) {
            return lines;
        }
        assert!(Instant::now() < deadline, "no {needle:?} in {lines:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Two household devices: one makes a room and shows a pairing key, the other (named
/// [`NAME`]) joins the room, renames itself, sends a text in a signal and pairs. Returns
/// every secret that went over the wire: names, text, room code and token, pairing key and
/// secret, TURN credentials.
async fn household_story(addr: SocketAddr) -> Vec<String> {
    let mut a = Ws::connect(addr, None).await;
    a.hello("Household-Desk").await;
    a.send(json!({"type":"roomCreate"})).await;
    let joined = a.expect("roomJoined").await;
    let code = joined["code"].as_str().unwrap().to_string();
    let token = joined["token"].as_str().unwrap().to_string();
    let mut z = Ws::connect(addr, None).await;
    z.hello(NAME).await;
    // The credentials go out just before the first list that links it (here: a, at home).
    let ice = z.expect("iceServers").await;
    z.send(json!({"type":"roomJoin","code":code})).await;
    z.expect("roomJoined").await;
    z.send(json!({"type":"rename","name":RENAMED})).await;
    z.send(json!({"type":"signal","to":a.id,"data":{"text":TEXT}}))
        .await;
    assert_eq!(a.expect("signal").await["data"]["text"], TEXT);
    a.send(json!({"type":"pairStart"})).await;
    let key = a.expect("pairKey").await["key"]
        .as_str()
        .unwrap()
        .to_string();
    z.send(json!({"type":"pairJoin","key":key})).await;
    let paired = z.expect("paired").await;
    let secret = paired["secret"].as_str().unwrap().to_string();
    let credential = ice["iceServers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|s| s["credential"].as_str())
        .expect("TURN credentials for a linked device")
        .to_string();
    drop((a, z));
    vec![
        NAME.into(),
        RENAMED.into(),
        "Household-Desk".into(),
        TEXT.into(),
        code,
        token,
        key,
        secret,
        credential,
        "memory-test-secret".into(),
    ]
}

/// A household device reads the recent lines; after WebSocket sessions, their "session
/// ended" lines are there, and none of what those sessions said (at `--log debug`, the most
/// the server ever logs).
#[tokio::test]
async fn the_household_reads_the_log_and_no_secret_is_in_it() {
    let server = Server::start(&binary(), &["--log", "debug"]);
    let addr = server.http;
    let secrets = household_story(addr).await;
    let lines = lines_with(addr, "session ended").await;
    assert!(
        lines.iter().any(|l| l.contains("serving http")),
        "{lines:#?}"
    );
    let all = lines.join("\n");
    for secret in &secrets {
        assert!(
            !all.contains(secret.as_str()),
            "{secret:?} in the log:\n{all}"
        );
    }
    let (status, headers, body) = logs(addr, "").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["maxLines"], 500);
    assert!(v["lines"].as_array().unwrap().len() <= 500);
    // Another household address (through the trusted proxy) reads it too.
    let (status, _, _) = logs(addr, "x-forwarded-for: 192.168.1.20\r\n").await;
    assert_eq!(status, 200);
}

/// A source outside the home group gets 403 with a readable body; a page of another site
/// (by its Origin or its Sec-Fetch-Site) and a rebinding Host get nothing either, while the
/// household's own page (same Origin) does.
#[tokio::test]
async fn strangers_and_other_sites_are_refused() {
    let server = Server::start(&binary(), &["--log", "info"]);
    let addr = server.http;
    let (status, headers, body) = logs(addr, "x-forwarded-for: 203.0.113.9\r\n").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("devices at home"), "{body}");
    assert!(!body.contains("serving http"), "{body}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/plain; charset=utf-8")
    );
    let (status, _, body) = logs(addr, "origin: http://evil.example\r\n").await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Cross-site"), "{body}");
    let (status, _, body) = logs(addr, "sec-fetch-site: cross-site\r\n").await;
    assert_eq!(status, 403, "{body}");
    let (status, _, body) = logs(addr, &format!("origin: http://{addr}\r\n")).await;
    assert_eq!(status, 200, "the page's own origin: {body}");
    let (status, _, body) = logs(addr, "sec-fetch-site: same-origin\r\n").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(rebound(addr).await, 421);
}

/// `GET /api/logs` with a Host that is not homedrop's (DNS rebinding): the status.
async fn rebound(addr: SocketAddr) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = "GET /api/logs HTTP/1.1\r\nhost: evil.example\r\nconnection: close\r\n\r\n";
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(!text.contains("serving http"), "{text}");
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

/// `hello.caps` goes out in the others' peer lists as sent; an older client's entry has none.
#[tokio::test]
async fn peer_lists_carry_the_browsers_caps() {
    let server = Server::start(&binary(), &[]);
    let addr = server.http;
    let mut a = Ws::connect(addr, None).await;
    a.hello("A").await;
    let mut b = Ws::connect(addr, None).await;
    let hello = json!({"type":"hello","v":1,"name":"B","kind":"phone","pairs":[],
        "caps":{"webrtc":false,"store":true,"extra":"ignored"}});
    b.send(hello).await;
    let entry = |m: &Value, id: &str| {
        m["peers"]
            .as_array()
            .and_then(|l| l.iter().find(|p| p["id"] == id).cloned())
    };
    let seen = loop {
        let m = a.expect("peers").await;
        if let Some(e) = entry(&m, &b.id) {
            break e;
        }
    };
    assert_eq!(seen["caps"], json!({"webrtc": false, "store": true}));
    let back = b.expect("peers").await;
    assert_eq!(entry(&back, &a.id).unwrap().get("caps"), None, "{back}");
}

/// The household's page shows the diagnostics card and, after "Show recent log", the lines
/// (Chromium on loopback, a home address).
#[test]
fn the_household_page_shows_the_lines() {
    let _one = crate::support::one_browser_at_a_time();
    use crate::support::page::Page;
    let server = Server::start(&crate::support::release_binary(), &["--log", "info"]);
    let mut page = Page::launch(None);
    page.open(&format!("http://{}/", server.http));
    page.click("[data-nav=\"more\"]");
    page.wait_hook("[data-view=\"more\"][data-active]", Duration::from_secs(5));
    page.wait_for(
        "!document.querySelector('[data-diag]').hidden",
        Duration::from_secs(15),
    );
    page.click("[data-diag-load]");
    page.wait_for(
        "document.querySelector('[data-diag-lines]').textContent.includes('serving http')",
        Duration::from_secs(10),
    );
    assert!(page.text("[data-diag-status]").contains("lines"));
    page.click("[data-diag-copy]");
    page.wait_for(
        "document.querySelector('[data-diag-status]').textContent.match(/Copied|Selected/)",
        Duration::from_secs(5),
    );
    let errors = page.errors();
    assert!(errors.is_empty(), "{errors:#?}");
}

/// A page whose browser has no WebRTC (RTCPeerConnection removed before any script, as in
/// some in-app WebViews) says so at load and what still works; the other page shows its tile
/// as unable to receive, and a file sent to it fails at once with a readable reason instead
/// of after the 25 s connection timeout. Neither page logs an error (Chromium on loopback).
#[test]
fn a_browser_without_webrtc_is_told_and_shown_unable() {
    let _one = crate::support::one_browser_at_a_time();
    use crate::support::page::{attr, Page};
    let server = Server::start(&crate::support::release_binary(), &[]);
    let url = format!("http://{}/", server.http);
    let mut a = Page::launch(None);
    a.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"}),
    );
    a.open(&url);
    assert_eq!(a.eval("typeof RTCPeerConnection"), json!("undefined"));
    let mut b = Page::launch(None);
    b.open(&url);
    a.wait_for(
        "!document.querySelector('[data-caps-notice]').hidden",
        Duration::from_secs(10),
    );
    let notice = a.text("[data-caps-notice]");
    assert!(notice.contains("WebRTC"), "{notice}");
    assert!(notice.contains("pair"), "what still works: {notice}");
    assert_eq!(a.data("[data-caps-notice]", "missing"), json!("webrtc"));
    assert_eq!(
        b.eval("document.querySelector('[data-caps-notice]').hidden"),
        json!(true)
    );

    let unable = attr("[data-peer]", "unable", "webrtc");
    b.wait_hook(&unable, Duration::from_secs(20));
    let reason = b.text(&format!("{unable} .peer-unable"));
    assert!(reason.contains("WebRTC"), "{reason}");
    assert_eq!(
        b.eval(&format!(
            "document.querySelector({}).querySelector('.peer-unable').hidden",
            crate::support::page::js(&unable)
        )),
        json!(false)
    );

    let dir = crate::support::TempDir::new("caps");
    let file = dir.0.join("photo.bin");
    crate::support::files::generate(&file, 64 * 1024, 7);
    let t0 = Instant::now();
    b.set_files("[data-file-input]", &[&file]);
    let failed = attr("[data-transfer]", "state", "failed");
    b.wait_hook(&failed, Duration::from_secs(5));
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    let info = b.text(&format!("{failed} [data-transfer-info]"));
    assert!(
        info.contains("cannot receive") && info.contains("WebRTC"),
        "{info}"
    );
    // Nothing reached the page without WebRTC: no request, no error.
    assert_eq!(a.count("[data-request]"), 0);
    for (page, who) in [(&a, "no-WebRTC page"), (&b, "other page")] {
        let errors = page.errors();
        assert!(errors.is_empty(), "{who}: {errors:#?}");
    }
}

/// A peer that does not read `caps` (here a raw client, as an older page would be) still
/// gets a clear answer both ways: its offer to the page without WebRTC comes back as
/// `{unable: "webrtc"}`, and when it answers a page's offer that way itself, the page's
/// transfer to it fails at once with the reason. The send sheet marks the page without
/// WebRTC as unable among its targets (Chromium on loopback).
#[test]
fn an_offer_to_a_browser_without_webrtc_is_answered_unable() {
    let _one = crate::support::one_browser_at_a_time();
    use crate::support::page::{attr, Page};
    let server = Server::start(&crate::support::release_binary(), &[]);
    let url = format!("http://{}/", server.http);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut a = Page::launch(None);
    a.call(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": "delete window.RTCPeerConnection; delete window.webkitRTCPeerConnection;"}),
    );
    a.open(&url);
    let mut old = rt.block_on(async {
        let mut ws = Ws::connect(server.http, None).await;
        ws.hello("Old-Client").await; // no caps: an older client
        ws
    });
    a.wait_count("[data-peer]", 1, Duration::from_secs(10));
    let a_id = a.eval("window.homedrop.state().id");
    let answer = rt.block_on(async {
        let offer = json!({"description": {"type": "offer", "sdp": "v=0\r\n"}});
        old.send(json!({"type":"signal","to":a_id,"data":offer}))
            .await;
        old.expect("signal").await
    });
    assert_eq!(answer["from"], a_id);
    assert_eq!(answer["data"], json!({"unable": "webrtc"}));

    let mut b = Page::launch(None);
    b.open(&url);
    b.wait_count("[data-peer]", 2, Duration::from_secs(10));
    let dir = crate::support::TempDir::new("caps-old");
    let file = dir.0.join("note.bin");
    crate::support::files::generate(&file, 16 * 1024, 3);
    // Two devices, none chosen: the send sheet asks, and says which one cannot receive.
    b.set_files("[data-file-input]", &[&file]);
    b.wait_hook("[data-send-sheet][open]", Duration::from_secs(5));
    let a_target = attr("[data-send-target]", "peer-id", a_id.as_str().unwrap());
    assert_eq!(b.data(&a_target, "unable"), json!("webrtc"));
    assert!(b.text(&a_target).contains("WebRTC"));
    let old_target = attr("[data-send-target]", "peer-id", &old.id);
    assert_eq!(b.data(&old_target, "unable"), Value::Null);
    b.click(&old_target);
    let t0 = Instant::now();
    b.click("[data-send-go]");
    rt.block_on(async {
        loop {
            let m = old.expect("signal").await;
            if m["data"]["description"]["type"] == "offer" {
                let back = json!({"type":"signal","to":m["from"],"data":{"unable":"webrtc"}});
                break old.send(back).await;
            }
        }
    });
    let failed = attr("[data-transfer]", "state", "failed");
    b.wait_hook(&failed, Duration::from_secs(5));
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    let info = b.text(&format!("{failed} [data-transfer-info]"));
    assert!(
        info.contains("cannot receive") && info.contains("WebRTC"),
        "{info}"
    );
    for (page, who) in [(&a, "no-WebRTC page"), (&b, "other page")] {
        let errors = page.errors();
        assert!(errors.is_empty(), "{who}: {errors:#?}");
    }
}
