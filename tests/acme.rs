//! ACME against pebble (the ACME test CA, Debian's `pebble` 2.4) in a network namespace this
//! test makes: homedrop's HTTPS listener answers the TLS-ALPN-01 challenge, the issued
//! certificate is served and verifies against pebble's root, for an IP address and for a DNS
//! name (pebble-challtestsrv resolving it); it is kept and reused at restart, renewed and
//! swapped while a WebSocket over TLS stays open, and replaced when the public address
//! changes; a CA that cannot be reached is retried with growing delays and logged, while
//! HTTPS keeps serving. Needs root (namespaces) and pebble; skipped with a note without them.
//! The namespace and pebble: `support::pebble`.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslMethod, SslStream};
use serde_json::Value;
use tokio_tungstenite::tungstenite;

use crate::support::pebble::{can_run, https_get, run, served_serial, tls, Pebble};
use crate::support::{TempDir, TestApp};

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// A free TCP port (bound then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// homedrop with HTTPS on `home:port`, ACME from `pebble` for `public_host`.
async fn start_app(pebble: &Pebble, port: u16, public_host: &str, state: &Path) -> TestApp {
    let (https, host) = (SocketAddr::new(pebble.home, port), public_host.to_string());
    let (dir, ca, state) = (
        pebble.directory.clone(),
        pebble.ca.clone(),
        state.to_path_buf(),
    );
    let app = TestApp::spawn_with(move |c| {
        c.remote = true;
        c.upnp = false;
        c.https = Some(https);
        c.public_host = Some(host);
        c.acme_directory = dir;
        c.acme_ca = Some(ca);
        c.acme_retry_min = Duration::from_millis(200);
        c.state_dir = state;
    })
    .await;
    // The app binds its TLS port as it starts, after the HTTP listener the test bound:
    // wait until it listens (a loaded run once connected first and was refused).
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(https).await.is_err() {
        assert!(
            tokio::time::Instant::now() < end,
            "TLS port {https} never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app
}

async fn acme_stats(app: &TestApp) -> Value {
    let (_, _, body) = crate::support::http_get(app.addr, "/stats", "").await;
    let v: Value = serde_json::from_slice(&body).unwrap_or_default();
    v["acme"].clone()
}

/// Waits (at most `within`) until `/stats` shows `issued` reaching `n`.
async fn until_issued(app: &TestApp, n: u64, within: Duration) -> Value {
    let end = Instant::now() + within;
    loop {
        let a = acme_stats(app).await;
        if a["issued"].as_u64().unwrap_or(0) >= n {
            return a;
        }
        assert!(
            Instant::now() < end,
            "no certificate #{n} within {within:?}: {a}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An IP-address certificate (RFC 8738): issued through the challenge on homedrop's own
/// HTTPS port, served and verified against pebble's root, shown in `/stats` and `/metrics`,
/// kept 0600 and served again at the next start without asking the CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ip_address_gets_a_certificate_served_and_kept() {
    if !can_run() {
        return;
    }
    let port = free_port();
    let pebble = blocking(move || Pebble::start(port, None)).await;
    let state = TempDir::new("acme-ip");
    let ip = pebble.home.to_string();
    let app = start_app(&pebble, port, &ip, &state.0).await;
    let a = until_issued(&app, 1, Duration::from_secs(40)).await;
    assert_eq!(a["identifier"], ip.as_str(), "{a}");
    assert!(
        a["notAfter"].as_u64().unwrap() > a["renewAt"].as_u64().unwrap(),
        "{a}"
    );
    let addr = SocketAddr::new(pebble.home, port);
    let (root, name) = (pebble.root.clone(), ip.clone());
    let first = blocking(move || served_serial(addr, &name, &root))
        .await
        .expect("verifies");
    let (_, _, metrics) = crate::support::http_get(app.addr, "/metrics", "").await;
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("\nhomedrop_acme_issued_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("homedrop_acme_certificate_expiry_seconds "),
        "{metrics}"
    );
    use std::os::unix::fs::PermissionsExt;
    for f in ["acme-account.json", "acme-cert.pem", "acme-key.pem"] {
        let mode = std::fs::metadata(state.0.join(f))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    app.stop().await;
    // Restart: the kept certificate serves straight away, with no new order.
    let app = start_app(&pebble, port, &ip, &state.0).await;
    let (root, name) = (pebble.root.clone(), ip.clone());
    let again = blocking(move || served_serial(addr, &name, &root)).await;
    assert_eq!(again.as_deref(), Ok(first.as_str()));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(acme_stats(&app).await["issued"], 0, "no new issuance");
    app.stop().await;
}

/// A DNS name (pebble-challtestsrv resolves it to homedrop's address): issued, and served to a
/// client that sends the name as SNI and verifies it against pebble's root; the page loads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dns_name_gets_a_certificate_and_the_page_loads_over_it() {
    if !can_run() {
        return;
    }
    let port = free_port();
    let pebble = blocking(move || Pebble::start(port, None)).await;
    let state = TempDir::new("acme-dns");
    let name = "home.acme.test";
    let app = start_app(&pebble, port, name, &state.0).await;
    let a = until_issued(&app, 1, Duration::from_secs(40)).await;
    assert_eq!(a["identifier"], name, "{a}");
    let addr = SocketAddr::new(pebble.home, port);
    let root = pebble.root.clone();
    let page = blocking(move || https_get(&addr, name, &root, "/")).await;
    assert!(
        page.as_deref().is_ok_and(|p| p.contains("<html")),
        "{page:?}"
    );
    app.stop().await;
}

type Wss = tungstenite::WebSocket<SslStream<TcpStream>>;

/// Reads `ws` in a thread, as a browser does (answering the server's pings); a message on
/// the first channel sends a ping, whose pong (or the error that ended the socket) comes
/// back on the second.
fn keep_reading(
    mut ws: Wss,
) -> (
    std::sync::mpsc::Sender<()>,
    std::sync::mpsc::Receiver<Result<Vec<u8>, String>>,
) {
    let (ping_tx, ping_rx) = std::sync::mpsc::channel::<()>();
    let (pong_tx, pong_rx) = std::sync::mpsc::channel();
    ws.get_ref()
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    std::thread::spawn(move || loop {
        if ping_rx.try_recv().is_ok() {
            let _ = ws.send(tungstenite::Message::Ping(b"still here".to_vec().into()));
        }
        match ws.read() {
            Ok(tungstenite::Message::Pong(p)) => {
                let _ = pong_tx.send(Ok(p.to_vec()));
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                let _ = pong_tx.send(Err(e.to_string()));
                return;
            }
        }
    });
    (ping_tx, pong_rx)
}

/// Renewal: pebble issues 12-second certificates, so renewal comes at two thirds of that;
/// the new certificate is served to new handshakes while a WebSocket over TLS opened on the
/// first one keeps working (it answers a ping after the swap).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_swaps_the_certificate_while_a_websocket_stays_open() {
    if !can_run() {
        return;
    }
    let port = free_port();
    let pebble = blocking(move || Pebble::start(port, Some(12))).await;
    let state = TempDir::new("acme-renew");
    let ip = pebble.home.to_string();
    let app = start_app(&pebble, port, &ip, &state.0).await;
    until_issued(&app, 1, Duration::from_secs(40)).await;
    let addr = SocketAddr::new(pebble.home, port);
    let (root, name) = (pebble.root.clone(), ip.clone());
    let (first, ws) = blocking(move || {
        let s = tls(&addr, &name, &root).expect("verifies");
        let serial = s
            .ssl()
            .peer_certificate()
            .unwrap()
            .serial_number()
            .to_bn()
            .unwrap();
        let url = format!("wss://{name}:{}/ws", addr.port());
        let (mut ws, _) = tungstenite::client(url, s).expect("WebSocket over TLS");
        let hello = r#"{"type":"hello","v":1,"name":"Renewal"}"#;
        ws.send(tungstenite::Message::text(hello)).unwrap();
        (serial.to_hex_str().unwrap().to_string(), ws)
    })
    .await;
    let (ping, pong) = keep_reading(ws);
    until_issued(&app, 2, Duration::from_secs(40)).await;
    let (root, name) = (pebble.root.clone(), ip.clone());
    let second = blocking(move || served_serial(addr, &name, &root))
        .await
        .expect("verifies");
    assert_ne!(first, second, "a new certificate is served");
    ping.send(()).unwrap();
    let pong = blocking(move || pong.recv_timeout(Duration::from_secs(10))).await;
    let pong = pong.unwrap_or_else(|e| Err(e.to_string()));
    assert_eq!(
        pong,
        Ok(b"still here".to_vec()),
        "the old connection lives on"
    );
    app.stop().await;
}

/// A new public address (the router's mapping learned another) gets a new certificate, for
/// it, served from then on; here through the ACME client's `watch` input, with a TLS
/// listener resolving through the store as homedrop's does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_public_address_gets_a_new_certificate() {
    if !can_run() {
        return;
    }
    let port = free_port();
    let pebble = blocking(move || Pebble::start(port, None)).await;
    let second_ip: IpAddr = match pebble.home {
        IpAddr::V4(v4) => IpAddr::from([v4.octets()[0], v4.octets()[1], v4.octets()[2], 3]),
        other => other,
    };
    run(&[
        "ip",
        "addr",
        "add",
        &format!("{second_ip}/24"),
        "dev",
        &pebble.host_dev,
    ]);
    let state = TempDir::new("acme-change");
    let mut config = homedrop::config::Config::for_tests(&state.0);
    config.name = "acmetest".into();
    let (acceptor, store) = homedrop::http::tls::setup(&config).unwrap();
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port))
        .await
        .unwrap();
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut s) = acceptor.accept(tcp).await {
                    use tokio::io::AsyncWriteExt;
                    let _ = s.shutdown().await;
                }
            });
        }
    });
    let mut settings = homedrop::acme::Settings::new(pebble.directory.clone(), state.0.clone());
    settings.ca = Some(pebble.ca.clone());
    settings.retry_min = Duration::from_millis(200);
    let (tx, rx) = tokio::sync::watch::channel(Some(pebble.home.to_string()));
    let token = tokio_util::sync::CancellationToken::new();
    let (status, task) = homedrop::acme::start(settings, store, rx, token.clone());
    let issued = |n: u64| {
        let status = status.clone();
        async move {
            let end = Instant::now() + Duration::from_secs(40);
            while status.stats().issued < n {
                assert!(
                    Instant::now() < end,
                    "no certificate #{n}: {:?}",
                    status.stats()
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            status.stats()
        }
    };
    assert_eq!(issued(1).await.identifier, Some(pebble.home.to_string()));
    let (first_addr, root) = (SocketAddr::new(pebble.home, port), pebble.root.clone());
    let name = pebble.home.to_string();
    blocking(move || served_serial(first_addr, &name, &root))
        .await
        .expect("first verifies");
    tx.send(Some(second_ip.to_string())).unwrap();
    assert_eq!(issued(2).await.identifier, Some(second_ip.to_string()));
    let (addr, root) = (SocketAddr::new(second_ip, port), pebble.root.clone());
    let verified = blocking(move || served_serial(addr, &second_ip.to_string(), &root)).await;
    assert!(
        verified.is_ok(),
        "the new address's certificate verifies: {verified:?}"
    );
    token.cancel();
    let _ = task.await;
    server.abort();
}

/// A CA that cannot be reached: every attempt fails with a readable reason in `/stats`, the
/// delays grow (100 ms doubling: about 5 attempts in 2.5 s, not dozens), HTTPS keeps serving
/// the self-signed certificate, and the app shuts down cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_ca_is_retried_with_backoff_and_https_keeps_serving() {
    let closed = free_port();
    let https = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let state = TempDir::new("acme-down");
    let dir = state.0.clone();
    let app = TestApp::spawn_with(move |c| {
        c.remote = true;
        c.upnp = false;
        c.https = Some(https);
        c.public_host = Some("127.0.0.1".into());
        c.acme_directory = format!("https://127.0.0.1:{closed}/dir");
        c.acme_retry_min = Duration::from_millis(100);
        c.state_dir = dir;
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let a = acme_stats(&app).await;
    let failures = a["failures"].as_u64().unwrap_or(0);
    assert!(
        (3..=7).contains(&failures),
        "{failures} attempts in 2.5 s: {a}"
    );
    let error = a["lastError"].as_str().unwrap_or_default();
    assert!(
        error.contains("cannot reach the ACME directory")
            || error.contains("cannot create an ACME account"),
        "{a}"
    );
    assert!(error.contains("connect"), "{a}");
    assert_eq!(a["issued"], 0);
    let page = blocking(move || {
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_verify(openssl::ssl::SslVerifyMode::NONE);
        let tcp = TcpStream::connect(https).unwrap();
        b.build().connect("localhost", tcp).is_ok()
    })
    .await;
    assert!(page, "HTTPS still answers with the fallback certificate");
    app.stop().await;
}

/// The same through the real binary: one journal line per failed attempt, naming the attempt
/// and the next delay (5 s, then 10 s), and no crash.
#[test]
fn the_binary_logs_each_failed_attempt_with_its_next_delay() {
    use std::io::BufRead;
    let closed = free_port();
    let https = format!("127.0.0.1:{}", free_port());
    let state = TempDir::new("acme-log");
    let mut child = Command::new(crate::support::binary())
        .args([
            "--http",
            "127.0.0.1:0",
            "--no-turn",
            "--no-probe",
            "--no-mdns",
            "--log",
            "info",
        ])
        .args([
            "--remote",
            "--no-upnp",
            "--https",
            &https,
            "--public-host",
            "127.0.0.1",
        ])
        .args([
            "--acme-directory",
            &format!("https://127.0.0.1:{closed}/dir"),
        ])
        .arg("--state-dir")
        .arg(&state.0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let end = Instant::now() + Duration::from_secs(12);
    let mut seen = Vec::new();
    while seen.len() < 2 && Instant::now() < end {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("ACME: certificate for 127.0.0.1 failed") {
                seen.push(line);
            }
        }
    }
    let alive = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(alive, "homedrop kept running");
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].contains("attempt 1, next in 5s"), "{seen:?}");
    assert!(seen[1].contains("attempt 2, next in 10s"), "{seen:?}");
}
