//! HTTPS against the in-process app with a real TLS client (OpenSSL): a given certificate
//! (made here with rcgen, checked against its CA and name), the generated one (kept across
//! restarts, key 0600), the page and `/ws` over TLS, and clients that must be refused (plain
//! HTTP, TLS 1.1 only, one that never speaks) without harming the others; and Chromium on a LAN
//! host getting a secure context from the real binary over HTTPS.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use openssl::ssl::{SslConnector, SslMethod, SslStream, SslVerifyMode, SslVersion};
use tokio_tungstenite::tungstenite;

use crate::support::certs::ca_and_leaf;
use crate::support::{TempDir, TestApp};

/// A free loopback port (bound then released: the app binds HTTPS itself).
fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

async fn app_with_https(state: &Path, files: Option<(PathBuf, PathBuf)>) -> (TestApp, SocketAddr) {
    let https = free_port();
    let state = state.to_path_buf();
    let app = TestApp::spawn_with(move |c| {
        c.https = Some(https);
        c.state_dir = state;
        c.tls = files.map(|(cert, key)| homedrop::config::TlsFiles { cert, key });
    })
    .await;
    // The app binds HTTPS in its own task: wait until it listens.
    let end = std::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(https).await.is_err() {
        assert!(
            std::time::Instant::now() < end,
            "HTTPS never listened on {https}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (app, https)
}

/// A TLS connection; `ca` given: verify the chain against it and the name `localhost`.
fn connect(addr: SocketAddr, ca: Option<&Path>) -> Result<SslStream<TcpStream>, String> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    match ca {
        Some(ca) => b.set_ca_file(ca).unwrap(),
        None => b.set_verify(SslVerifyMode::NONE),
    }
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    b.build()
        .connect("localhost", tcp)
        .map_err(|e| e.to_string())
}

/// GET over a fresh TLS connection: (status line, body).
fn get(addr: SocketAddr, ca: Option<&Path>, path: &str) -> (String, String) {
    let mut s = connect(addr, ca).expect("TLS handshake");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

/// `/ws` over TLS: returns the first message (the welcome) and the open socket.
fn ws(
    addr: SocketAddr,
    ca: Option<&Path>,
) -> (
    serde_json::Value,
    tungstenite::WebSocket<SslStream<TcpStream>>,
) {
    let s = connect(addr, ca).expect("TLS handshake");
    let (mut ws, _) = tungstenite::client(format!("wss://localhost:{}/ws", addr.port()), s)
        .expect("WebSocket over TLS");
    let msg = ws.read().unwrap();
    (serde_json::from_str(msg.to_text().unwrap()).unwrap(), ws)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_certificate_serves_page_and_ws() {
    let dir = TempDir::new("tls-given");
    let (ca, cert, key) = ca_and_leaf(&dir.0, "homedrop test CA", "localhost");
    let (app, https) = app_with_https(&dir.0.join("state"), Some((cert, key))).await;
    let ca2 = ca.clone();
    let (status, body) = blocking(move || get(https, Some(&ca2), "/")).await;
    assert!(status.contains(" 200"), "{status}");
    assert!(body.contains("data-peer-list"), "the page over TLS");
    let (welcome, mut sock) = blocking(move || ws(https, Some(&ca))).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    blocking(move || sock.close(None)).await.ok();
    assert!(
        !dir.0
            .join("state")
            .join(homedrop::http::tls::KEY_FILE)
            .exists(),
        "no certificate is generated when one is given"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_certificate_is_kept_across_restarts() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("tls-gen");
    let state = dir.0.join("state");
    let peer_cert = |addr| {
        blocking(move || {
            let s = connect(addr, None).expect("TLS handshake");
            s.ssl().peer_certificate().unwrap()
        })
    };
    let (app, https) = app_with_https(&state, None).await;
    let first = peer_cert(https).await;
    let (status, body) = blocking(move || get(https, None, "/")).await;
    assert!(
        status.contains(" 200") && body.contains("data-peer-list"),
        "{status}"
    );
    let (welcome, _sock) = blocking(move || ws(https, None)).await;
    assert_eq!(welcome["type"], "welcome");
    app.stop().await;

    let key = state.join(homedrop::http::tls::KEY_FILE);
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the generated key is private");
    let names: Vec<String> = first
        .subject_alt_names()
        .unwrap()
        .iter()
        .filter_map(|n| n.dnsname().map(str::to_string))
        .collect();
    assert!(
        names.contains(&"homedrop.local".to_string()) && names.contains(&"localhost".to_string()),
        "{names:?}"
    );

    let (app, https) = app_with_https(&state, None).await;
    let second = peer_cert(https).await;
    assert_eq!(
        first.to_der().unwrap(),
        second.to_der().unwrap(),
        "the same certificate after a restart"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_old_tls_and_silent_clients_are_refused_alone() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = TempDir::new("tls-refuse");
    let (app, https) = app_with_https(&dir.0.join("state"), None).await;
    // A client that connects and never speaks, and an open WebSocket over TLS.
    let _silent = tokio::net::TcpStream::connect(https).await.unwrap();
    let (_, mut sock) = blocking(move || ws(https, None)).await;

    // Plain HTTP to the HTTPS port: a readable 400, connection closed.
    let mut plain = tokio::net::TcpStream::connect(https).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf))
        .await
        .expect("closed")
        .unwrap();
    let text = String::from_utf8_lossy(&buf);
    assert!(
        text.starts_with("HTTP/1.1 400") && text.contains("https://"),
        "{text}"
    );

    // A client that offers TLS 1.1 only: the server answers with an alert.
    let err = blocking(move || {
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_verify(SslVerifyMode::NONE);
        b.set_security_level(0);
        b.set_cipher_list("DEFAULT@SECLEVEL=0").unwrap();
        b.set_min_proto_version(Some(SslVersion::TLS1_1)).unwrap();
        b.set_max_proto_version(Some(SslVersion::TLS1_1)).unwrap();
        let tcp = TcpStream::connect(https).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        b.build()
            .connect("localhost", tcp)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    })
    .await;
    // An alert received from the server (rustls sends handshake_failure, 40, or
    // protocol_version, 70), not a client that refused to start on its own.
    assert!(
        err.contains("SSL alert number 40") || err.contains("SSL alert number 70"),
        "{err}"
    );

    // The others are unharmed: the open WebSocket still talks, new connections still work.
    blocking(move || {
        sock.send(tungstenite::Message::text(
            r#"{"type":"hello","v":1,"name":"Tls","kind":"phone","pairs":[]}"#,
        ))
        .unwrap();
        // The answer to hello (pings are answered while reading).
        let m = (0..10)
            .map(|_| sock.read().unwrap())
            .find(|m| m.is_text())
            .expect("a text message");
        assert!(m.to_text().unwrap().contains("\"type\""), "{m:?}");
    })
    .await;
    let (status, _) = blocking(move || get(https, None, "/healthz")).await;
    assert!(status.contains(" 200"), "{status}");
    app.stop().await;
}

#[test]
fn tls_flags_need_both_files() {
    use clap::Parser;
    use homedrop::config::{Args, Config};
    let parse = |a: &[&str]| {
        let all = [&["homedrop"][..], a].concat();
        Config::from_args(Args::try_parse_from(all).unwrap())
    };
    let c = parse(&[]).unwrap();
    assert_eq!((c.https, c.tls), (None, None), "HTTPS is off by default");
    let c = parse(&[
        "--https",
        "0.0.0.0:8443",
        "--tls-cert",
        "c.pem",
        "--tls-key",
        "k.pem",
    ])
    .unwrap();
    assert_eq!(c.https, Some("0.0.0.0:8443".parse().unwrap()));
    assert_eq!(c.tls.unwrap().key, PathBuf::from("k.pem"));
    let e = parse(&["--tls-cert", "c.pem"]).unwrap_err().to_string();
    assert!(e.contains("--tls-cert") && e.contains("--tls-key"), "{e}");
    let e = parse(&["--https", "8443"]).unwrap_err().to_string();
    assert!(e.contains("--https"), "{e}");
}

#[tokio::test]
async fn unreadable_certificate_is_a_readable_error() {
    let dir = TempDir::new("tls-bad");
    let cert = dir.0.join("cert.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    let mut config = homedrop::config::Config::for_tests(&dir.0);
    config.https = Some(free_port());
    config.tls = Some(homedrop::config::TlsFiles {
        cert: cert.clone(),
        key: dir.0.join("missing-key.pem"),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = homedrop::app::run(config, listener, async {})
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.contains("cert.pem") && text.contains("HTTPS"),
        "{text}"
    );
}

/// Chromium on a LAN host opens the real binary's page over HTTPS with the generated
/// certificate (its warning accepted, as a user would): a secure context, and signaling over
/// `wss://` comes online.
#[test]
fn chromium_gets_a_secure_context_over_https() {
    // Chromium tests take turns: several browsers at once on 2 cores time out.
    let _one = crate::support::one_browser_at_a_time();
    use crate::support::netns::Lan;
    use crate::support::page::Page;
    use serde_json::json;
    let bin = crate::support::release_binary();
    let state = TempDir::new("https-state");
    let mut lan = Lan::new(1);
    let https = format!("{}:8443", lan.server_ip());
    let http = format!("{}:8080", lan.server_ip());
    lan.spawn_in_router(
        bin.to_str().unwrap(),
        &[
            "--http",
            &http,
            "--https",
            &https,
            "--no-mdns",
            "--no-turn",
            "--no-probe",
            "--log",
            "warn",
            "--state-dir",
            state.0.to_str().unwrap(),
        ],
    );
    let mut br = Page::launch(Some(&lan.hosts[0]));
    // Stands in for the user's click-through of the self-signed certificate warning.
    br.call_browser(
        "Security.setIgnoreCertificateErrors",
        json!({"ignore": true}),
    );
    let url = format!("https://{https}/");
    br.load(&url, Duration::from_secs(20));
    assert_eq!(br.eval("location.protocol"), json!("https:"));
    assert_eq!(br.eval("window.isSecureContext"), json!(true));
    assert_eq!(
        br.eval("!!(crypto.subtle && navigator.storage && navigator.storage.getDirectory)"),
        json!(true),
        "crypto.subtle and OPFS exist in the secure context"
    );
    br.wait_for(
        "document.querySelector('[data-status]').dataset.state === 'online'",
        Duration::from_secs(40),
    );
    assert!(
        state.0.join(homedrop::http::tls::CERT_FILE).exists(),
        "the generated certificate is kept in the state directory"
    );
}
