//! Same origin and admission against the in-process app with real clients: cross-site
//! WebSockets and DNS rebinding are refused, `POST /probe` needs its own type and origin,
//! WebSockets and HTTP connections are capped per source (IPv4 address, IPv6 /64) with a
//! share kept for the household, slowloris included.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Error as WsError;

use crate::support::{http_get, read_answer, TestApp};

/// Open `/ws` with these headers (and X-Forwarded-For `xff`); `Ok(welcome)` or the HTTP
/// status it was refused with.
async fn ws_with(
    addr: SocketAddr,
    headers: &[(&'static str, String)],
    xff: Option<&str>,
) -> Result<Value, u16> {
    let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(*k, v.parse().unwrap());
    }
    if let Some(ip) = xff {
        req.headers_mut()
            .insert("x-forwarded-for", ip.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((mut ws, _)) => {
            use futures_util::StreamExt;
            let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
                .await
                .expect("welcome in time")
                .unwrap()
                .unwrap();
            let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
            assert_eq!(v["type"], "welcome", "{v}");
            // Keep the session open for the caller's count: leak it into a task.
            tokio::spawn(async move { while let Some(Ok(_)) = ws.next().await {} });
            Ok(v)
        }
        Err(WsError::Http(res)) => Err(res.status().as_u16()),
        Err(e) => panic!("unexpected WebSocket error: {e}"),
    }
}

/// One raw HTTP/1.1 request (`head` without the final blank line), optionally from `from`;
/// returns the status and body.
async fn raw(addr: SocketAddr, from: Option<&str>, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = connect_from(addr, from).await;
    s.write_all(
        format!(
            "{head}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    s.write_all(body).await.unwrap();
    read_answer(&mut s, Duration::from_secs(5)).await
}

async fn connect_from(addr: SocketAddr, from: Option<&str>) -> tokio::net::TcpStream {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    if let Some(ip) = from {
        sock.bind(format!("{ip}:0").parse().unwrap()).unwrap();
    }
    sock.connect(addr).await.unwrap()
}

async fn stats(addr: SocketAddr) -> Value {
    let (status, _, body) = http_get(addr, "/stats", "").await;
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

#[tokio::test]
async fn cross_site_websockets_are_refused_and_the_pages_own_origin_is_welcome() {
    // Not behind a proxy (which may terminate TLS), so the scheme must match too.
    let app = TestApp::spawn_with(|c| c.trusted_proxies.clear()).await;
    let port = app.addr.port();
    let evil = [("origin", "http://evil.example".to_string())];
    assert_eq!(ws_with(app.addr, &evil, None).await.err(), Some(403));
    // The page's own origin, by address and by localhost.
    let own = [("origin", format!("http://127.0.0.1:{port}"))];
    assert!(ws_with(app.addr, &own, None).await.is_ok());
    let local = [
        ("host", format!("localhost:{port}")),
        ("origin", format!("http://localhost:{port}")),
    ];
    assert!(ws_with(app.addr, &local, None).await.is_ok());
    // Same host, another port or scheme: another origin.
    for o in [
        format!("http://127.0.0.1:{}", port + 1),
        format!("https://127.0.0.1:{port}"),
        "null".into(),
    ] {
        assert_eq!(
            ws_with(app.addr, &[("origin", o.clone())], None)
                .await
                .err(),
            Some(403),
            "{o}"
        );
    }
    assert_eq!(stats(app.addr).await["crossSiteRefused"], 4);
    app.stop().await;
}

#[tokio::test]
async fn dns_rebinding_names_are_refused_and_own_names_served() {
    let app = TestApp::spawn_with(|c| c.allowed_hosts = vec!["drop.example.net".into()]).await;
    let port = app.addr.port();
    let rebind = [("host", "evil.example".to_string())];
    assert_eq!(ws_with(app.addr, &rebind, None).await.err(), Some(403));
    // Even with the matching origin of the rebound page.
    let rebind_page = [
        ("host", format!("evil.example:{port}")),
        ("origin", format!("http://evil.example:{port}")),
    ];
    assert_eq!(ws_with(app.addr, &rebind_page, None).await.err(), Some(403));
    let (status, body) = raw(app.addr, None, "GET / HTTP/1.1\r\nhost: evil.example", b"").await;
    assert_eq!(status, 421, "{body}");
    assert!(body.contains("Host"), "{body}");
    let (status, _) = raw(
        app.addr,
        None,
        "GET /stats HTTP/1.1\r\nhost: evil.example:80",
        b"",
    )
    .await;
    assert_eq!(status, 421);
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        "drop.example.net".into(),
        "homedrop.local".into(),
    ] {
        let (status, _) = raw(
            app.addr,
            None,
            &format!("GET / HTTP/1.1\r\nhost: {host}"),
            b"",
        )
        .await;
        assert_eq!(status, 200, "{host}");
    }
    let welcome = ws_with(app.addr, &[("host", "drop.example.net".into())], None).await;
    assert!(welcome.is_ok());
    // HTTP/1.1 needs a Host at all.
    let (status, _) = raw(app.addr, None, "GET / HTTP/1.1", b"").await;
    assert_eq!(status, 400);
    app.stop().await;
}

#[tokio::test]
async fn probe_takes_only_same_origin_sdp() {
    let app = TestApp::spawn().await;
    let port = app.addr.port();
    let sdp = b"v=0\r\n";
    // What a cross-site form or fetch can send without a preflight: text/plain.
    let head = format!("POST /probe HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: text/plain\r\norigin: http://evil.example");
    assert_eq!(raw(app.addr, None, &head, sdp).await.0, 403);
    let head = format!(
        "POST /probe HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: text/plain;charset=UTF-8"
    );
    assert_eq!(raw(app.addr, None, &head, sdp).await.0, 415);
    let head = format!("POST /probe HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/sdp\r\norigin: http://evil.example");
    assert_eq!(raw(app.addr, None, &head, sdp).await.0, 403);
    // From the page itself it reaches the probe (off, starting, or refusing the offer).
    let head = format!("POST /probe HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\ncontent-type: application/sdp\r\norigin: http://127.0.0.1:{port}");
    let (status, body) = raw(app.addr, None, &head, sdp).await;
    assert!(![403, 415, 421].contains(&status), "{status} {body}");
    app.stop().await;
}

#[tokio::test]
async fn websockets_are_capped_per_source_and_per_ipv6_slash_64() {
    // 64 slots: 16 per source, 48 for the internet.
    let app = TestApp::spawn_with(|c| c.max_connections = 64).await;
    for _ in 0..16 {
        ws_with(app.addr, &[], Some("203.0.113.7")).await.unwrap();
    }
    assert_eq!(
        ws_with(app.addr, &[], Some("203.0.113.7")).await.err(),
        Some(503)
    );
    // Rotating addresses inside one /64 is one source.
    for i in 1..=16 {
        ws_with(app.addr, &[], Some(&format!("2001:db8:78::{i:x}")))
            .await
            .unwrap();
    }
    assert_eq!(
        ws_with(app.addr, &[], Some("2001:db8:78::ffff"))
            .await
            .err(),
        Some(503)
    );
    assert_eq!(
        ws_with(app.addr, &[], Some("2001:db8:78:0:1:2:3:4"))
            .await
            .err(),
        Some(503)
    );
    // Another source is served.
    assert!(ws_with(app.addr, &[], Some("2001:db8:79::1")).await.is_ok());
    let s = stats(app.addr).await;
    assert_eq!(s["wsRefused"], 3, "{s}");
    let (_, _, m) = http_get(app.addr, "/metrics", "").await;
    assert!(String::from_utf8_lossy(&m).contains("homedrop_ws_refused_total 3"));
    app.stop().await;
}

#[tokio::test]
async fn the_household_is_served_while_internet_sources_hold_their_share() {
    let app = TestApp::spawn_with(|c| c.max_connections = 64).await;
    // Three internet sources at their caps take the internet's 48 slots...
    for src in ["203.0.113.7", "198.51.100.9", "2001:db8:78::1"] {
        for _ in 0..16 {
            ws_with(app.addr, &[], Some(src)).await.unwrap();
        }
    }
    // ...so a fourth is refused, but home devices (private, loopback) are welcome.
    assert_eq!(
        ws_with(app.addr, &[], Some("198.51.100.10")).await.err(),
        Some(503)
    );
    assert!(ws_with(app.addr, &[], Some("192.168.1.20")).await.is_ok());
    assert!(ws_with(app.addr, &[], Some("10.0.0.5")).await.is_ok());
    assert!(ws_with(app.addr, &[], None).await.is_ok());
    app.stop().await;
}

#[tokio::test]
async fn slowloris_connections_count_against_their_own_source() {
    // No proxy: every TCP peer is its own source. 48 slots: 16 per source.
    let app = TestApp::spawn_with(|c| {
        c.max_connections = 48;
        c.trusted_proxies.clear();
    })
    .await;
    // 50 connections from one address that never finish their headers (on main, 48 of them
    // gave everyone a 503 until the header timeout).
    let mut idle = Vec::new();
    for _ in 0..50 {
        let mut s = connect_from(app.addr, Some("127.0.0.2")).await;
        let _ = s.write_all(b"GET / HTTP/1.1\r\n").await;
        idle.push(s);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let get = "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1";
    assert_eq!(raw(app.addr, Some("127.0.0.2"), get, b"").await.0, 503);
    // Everyone else is served.
    for from in ["127.0.0.3", "127.0.0.1"] {
        assert_eq!(raw(app.addr, Some(from), get, b"").await.0, 200, "{from}");
    }
    assert!(stats(app.addr).await["httpRefused"].as_u64().unwrap() >= 35);
    app.stop().await;
}
