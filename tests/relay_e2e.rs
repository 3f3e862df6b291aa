//! homedrop's own relay wired to browsers, end to end.
//!
//! Over WebSocket (in-process app): who gets TURN credentials and when, which host the
//! URLs name, and that the credentials open the real relay while forged ones do not.
//! In namespaces (`support::nat`, release binary, headless Chromium): a relative behind a
//! masquerading NAT joins a room and files go both ways through the relay; two home devices
//! under client isolation fall back to the relay; a stranger on the internet gets nothing.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use stun::agent::TransactionId;
use stun::attributes::*;
use stun::error_code::ErrorCodeAttribute;
use stun::integrity::MessageIntegrity;
use stun::message::*;
use stun::textattrs::TextAttribute;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use turn::proto::reqtrans::RequestedTransport;
use turn::proto::PROTO_UDP;

use crate::browser::{generate, offer, release_binary, sha256_file, wait_page, ONE_AT_A_TIME};
use crate::support::browser::Browser;
use crate::support::nat::{self, Nat, HOME_LAN_IP, HOME_WAN_IP};
use crate::support::{TempDir, TestApp, Ws};

const SECRET: &str = "relay-e2e-secret-0123";
const MIB: u64 = 1024 * 1024;
const RELAYED: &str = "relayed through homedrop";

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One request on `sock`, retransmitted; the response with the same transaction id.
fn transact(sock: &UdpSocket, server: SocketAddr, req: &Message) -> Message {
    sock.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 1500];
    for _ in 0..10 {
        sock.send_to(&req.raw, server).unwrap();
        while let Ok(n) = sock.recv(&mut buf) {
            let mut m = Message {
                raw: buf[..n].to_vec(),
                ..Default::default()
            };
            if m.decode().is_ok() && m.transaction_id == req.transaction_id {
                return m;
            }
        }
    }
    panic!("no answer from the relay at {server}");
}

fn allocate_request(auth: Option<(&str, &str, &str, &str)>) -> Message {
    let mut setters: Vec<Box<dyn Setter>> = vec![
        Box::new(TransactionId::new()),
        Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
        Box::new(RequestedTransport {
            protocol: PROTO_UDP,
        }),
    ];
    if let Some((user, pass, realm, nonce)) = auth {
        setters.push(Box::new(TextAttribute::new(ATTR_USERNAME, user.into())));
        setters.push(Box::new(TextAttribute::new(ATTR_REALM, realm.into())));
        setters.push(Box::new(TextAttribute::new(ATTR_NONCE, nonce.into())));
        setters.push(Box::new(MessageIntegrity::new_long_term_integrity(
            user.into(),
            realm.into(),
            pass.into(),
        )));
    }
    let mut m = Message::new();
    m.build(&setters).unwrap();
    m
}

fn error_code(m: &Message) -> Option<u16> {
    let mut err = ErrorCodeAttribute::default();
    err.get_from(m).ok().map(|_| err.code.0)
}

/// A TURN Allocate over UDP with these REST credentials (after the 401 challenge).
/// `Ok(relayed address)` or `Err(error code)`.
fn allocate(sock: &UdpSocket, server: SocketAddr, user: &str, pass: &str) -> Result<String, u16> {
    let challenge = transact(sock, server, &allocate_request(None));
    assert_eq!(
        error_code(&challenge),
        Some(401),
        "unauthenticated Allocate"
    );
    let text = |a| TextAttribute::get_from_as(&challenge, a).unwrap().text;
    let (realm, nonce) = (text(ATTR_REALM), text(ATTR_NONCE));
    let resp = transact(
        sock,
        server,
        &allocate_request(Some((user, pass, &realm, &nonce))),
    );
    if resp.typ.class == CLASS_SUCCESS_RESPONSE {
        let mut relayed = turn::proto::relayaddr::RelayedAddress::default();
        relayed.get_from(&resp).unwrap();
        return Ok(format!("{}:{}", relayed.ip, relayed.port));
    }
    Err(error_code(&resp).unwrap_or(0))
}

/// The TURN entry of an `iceServers` list: (udp url, tcp url, username, credential).
fn turn_entry(servers: &Value) -> (String, String, String, String) {
    let t = servers
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["username"].is_string())
        .unwrap_or_else(|| panic!("no TURN entry in {servers}"));
    let urls: Vec<String> = t["urls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    let udp = urls.iter().find(|u| u.ends_with("transport=udp")).unwrap();
    let tcp = urls.iter().find(|u| u.ends_with("transport=tcp")).unwrap();
    let s = |k: &str| t[k].as_str().unwrap().to_string();
    (udp.clone(), tcp.clone(), s("username"), s("credential"))
}

/// No `iceServers` message (and no credential anywhere) within `wait`.
async fn no_credentials(ws: &mut Ws, wait: Duration) {
    let end = tokio::time::Instant::now() + wait;
    while let Some(m) = ws.try_recv(end - tokio::time::Instant::now()).await {
        assert_ne!(m["type"], "iceServers", "credentials for a stranger: {m}");
        assert!(!m.to_string().contains("credential"), "{m}");
    }
}

fn stun_only(welcome: &Value, host_port: &str) {
    assert_eq!(
        welcome["iceServers"],
        json!([{ "urls": [format!("stun:{host_port}")] }]),
        "welcome carries homedrop's STUN only"
    );
}

async fn app_with_relay(ttl: Duration, public_host: Option<&str>) -> TestApp {
    let public_host = public_host.map(str::to_string);
    TestApp::spawn_with(move |c| {
        c.turn = Some("127.0.0.1:0".parse().unwrap());
        c.turn_secret = Some(SECRET.into());
        c.turn_credential_ttl = ttl;
        c.public_host = public_host;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_credentials_only_once_linked_and_renewed_before_expiry() {
    let app = app_with_relay(Duration::from_secs(4), None).await;
    let mut a = app.client_from("203.0.113.7").await;
    let stun = a.welcome["iceServers"][0]["urls"][0].as_str().unwrap();
    let port = stun.rsplit(':').next().unwrap().to_string();
    stun_only(&a.welcome, &format!("127.0.0.1:{port}"));
    a.hello("Alice").await;
    a.send(json!({"type":"roomCreate"})).await;
    let code = a.expect("roomJoined").await["code"]
        .as_str()
        .unwrap()
        .to_string();
    no_credentials(&mut a, Duration::from_millis(800)).await;

    // A stranger from elsewhere: no peer, no credentials.
    let mut b = app.client_from("198.51.100.9").await;
    b.hello("Bob").await;
    assert!(b.peers_until(|p| p.is_empty()).await.is_empty());
    no_credentials(&mut b, Duration::from_millis(800)).await;
    // A second tab of the stranger: same public address, so they see each other, but
    // that earns no relay.
    let mut b2 = app.client_from("198.51.100.9").await;
    b2.hello("Bob's tab").await;
    b2.peers_until(|p| p.len() == 1).await;
    no_credentials(&mut b2, Duration::from_millis(800)).await;
    drop(b2);

    // Joining by code links them: both get TURN over UDP and TCP with fresh credentials.
    b.send(json!({"type":"roomJoin","code":code})).await;
    let mut creds = Vec::new();
    for ws in [&mut a, &mut b] {
        let m = ws.expect("iceServers").await;
        assert_eq!(m["expiresInSecs"], 4);
        let (udp, tcp, user, pass) = turn_entry(&m["iceServers"]);
        assert_eq!(udp, format!("turn:127.0.0.1:{port}?transport=udp"));
        assert!(tcp.starts_with("turn:127.0.0.1:"), "{tcp}");
        let expiry: u64 = user.split(':').next().unwrap().parse().unwrap();
        let now = unix_now();
        assert!(expiry > now && expiry <= now + 5, "{user}");
        creds.push((user, pass));
    }

    // They open the real relay; the same username with a forged password does not.
    let server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (user, pass) = creds[0].clone();
    let results = tokio::task::spawn_blocking(move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let good = allocate(&sock, server, &user, &pass);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let forged = allocate(&sock, server, &user, "Zm9yZ2VkIHBhc3N3b3JkIQ==");
        (good, forged)
    })
    .await
    .unwrap();
    assert!(results.0.is_ok(), "issued credentials: {:?}", results.0);
    assert_eq!(results.1, Err(401), "forged password");

    // Before they expire, new ones arrive with a later expiry.
    let renewed = a.expect("iceServers").await;
    let (_, _, user2, _) = turn_entry(&renewed["iceServers"]);
    assert_ne!(user2, creds[0].0, "renewed credentials");
    app.stop().await;
}

/// A WebSocket client whose request names `host` in the Host header.
async fn client_with_host(app: &TestApp, host: &str) -> Ws {
    let mut req = format!("ws://{}/ws", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert("host", host.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let mut c = Ws {
        ws,
        id: String::new(),
        welcome: Value::Null,
    };
    c.welcome = c.recv().await;
    c
}

#[tokio::test]
async fn relay_urls_name_the_host_the_client_used_else_public_host() {
    let app = app_with_relay(Duration::from_secs(3600), Some("home.example.org")).await;
    let own = client_with_host(&app, &app.addr.to_string()).await;
    let url = own.welcome["iceServers"][0]["urls"][0].as_str().unwrap();
    assert!(url.starts_with("stun:127.0.0.1:"), "{url}");
    let port = url.rsplit(':').next().unwrap();
    for foreign in ["home.example.org", "evil.example:8080", "10.99.0.1"] {
        let c = client_with_host(&app, foreign).await;
        stun_only(&c.welcome, &format!("home.example.org:{port}"));
    }
    // Without --public-host, a foreign name falls back to the relay's LAN address.
    let app2 = app_with_relay(Duration::from_secs(3600), None).await;
    let c = client_with_host(&app2, "evil.example").await;
    let url = c.welcome["iceServers"][0]["urls"][0].as_str().unwrap();
    assert!(url.starts_with("stun:127.0.0.1:"), "{url}");
    app.stop().await;
    app2.stop().await;
}

// ---- namespaces, the release binary and Chromium ----

/// homedrop in the home namespace, relay on, reachable on its LAN and WAN addresses.
fn start_homedrop(nat: &mut Nat, state: &TempDir) {
    let bin = release_binary();
    let home = nat.home.clone();
    let state = state.0.display().to_string();
    nat.spawn(
        &home,
        bin.to_str().unwrap(),
        &[
            "--http",
            "0.0.0.0:8080",
            "--turn",
            "0.0.0.0:3478",
            "--relay-ip",
            HOME_LAN_IP,
            "--public-host",
            HOME_WAN_IP,
            "--turn-secret",
            SECRET,
            "--state-dir",
            &state,
            "--no-mdns",
            "--log",
            "warn",
        ],
    );
}

fn open(ns: &str, host: &str) -> Browser {
    let mut b = Browser::launch(Some(ns));
    wait_page(&mut b, &format!("http://{host}:8080/"));
    b
}

fn peers(b: &mut Browser) -> u64 {
    b.eval("document.querySelectorAll('[data-peer]').length")
        .as_u64()
        .unwrap()
}

/// The path shown on the newest transfer row, once it shows one.
fn shown_path(b: &mut Browser) -> String {
    b.wait_for(
        "document.querySelector('[data-transfer] [data-path]')?.textContent",
        Duration::from_secs(20),
    )
    .as_str()
    .unwrap()
    .to_string()
}

/// `from` sends `file` to its only peer; `to` accepts, the hash matches in the UI and on
/// disk, and both rows show `path`. Returns the throughput.
fn transfer(from: &mut Browser, to: &mut Browser, file: &Path, sha: &str, path: &str) -> f64 {
    let name = file.file_name().unwrap().to_str().unwrap().to_string();
    let size = std::fs::metadata(file).unwrap().len();
    let t = Instant::now();
    offer(from, to, &[file]);
    to.click("[data-accept]");
    let sel = format!("[data-received-file][data-name=\"{name}\"]");
    to.wait_for(
        &format!("document.querySelector('{sel}')"),
        Duration::from_secs(900),
    );
    let secs = t.elapsed().as_secs_f64();
    let shown = to.eval(&format!("document.querySelector('{sel}').dataset.sha256"));
    assert_eq!(shown, json!(sha), "{name}: SHA-256 in the UI");
    to.click(&format!("{sel} [data-save]"));
    let saved = to.wait_download(&name, Duration::from_secs(300));
    assert_eq!(&sha256_file(&saved), sha, "{name}: SHA-256 on disk");
    assert_eq!(std::fs::metadata(&saved).unwrap().len(), size);
    std::fs::remove_file(&saved).ok();
    for b in [from, to] {
        assert_eq!(shown_path(b), path, "{name}: path shown");
    }
    size as f64 / MIB as f64 / secs
}

#[test]
fn relative_behind_nat_joins_by_code_and_100_mib_goes_each_way_through_the_relay() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("relay-e2e-a");
    let (to_rel, to_home) = (dir.0.join("to-relative.bin"), dir.0.join("to-home.bin"));
    let sha_to_rel = generate(&to_rel, 100 * MIB, 21);
    let sha_to_home = generate(&to_home, 100 * MIB, 22);
    let mut nat = Nat::new(1);
    start_homedrop(&mut nat, &dir);
    let mut home = open(&nat.hosts[0], HOME_LAN_IP);
    let mut rel = open(&nat.relative, HOME_WAN_IP);
    assert_eq!(peers(&mut home), 0);
    assert_eq!(peers(&mut rel), 0, "the relative is no home device");

    home.click("[data-room-create]");
    let code = home.wait_for(
        "document.querySelector('[data-room]')?.dataset.code",
        Duration::from_secs(10),
    );
    rel.fill("[data-room-code-input]", code.as_str().unwrap());
    rel.click("[data-room-join]");
    for b in [&mut home, &mut rel] {
        b.wait_for(
            "document.querySelectorAll('[data-peer]').length === 1",
            Duration::from_secs(20),
        );
        b.click("[data-peer]");
    }
    let down = transfer(&mut home, &mut rel, &to_rel, &sha_to_rel, RELAYED);
    let up = transfer(&mut rel, &mut home, &to_home, &sha_to_home, RELAYED);
    eprintln!(
        "100 MiB through the relay: home→relative {down:.1} MiB/s, relative→home {up:.1} MiB/s"
    );
}

#[test]
fn client_isolation_at_home_falls_back_to_the_relay() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("relay-e2e-b");
    let file = dir.0.join("isolated.bin");
    let sha = generate(&file, 20 * MIB, 23);
    let mut nat = Nat::new(2);
    // A listener on the second host; the first reaches it before isolation, not after.
    let listener = nat::in_netns(&nat.hosts[1], || {
        std::net::TcpListener::bind("192.168.77.12:9000").unwrap()
    });
    let reach = |ns: &str, to: &str| {
        let to: SocketAddr = to.parse().unwrap();
        nat::in_netns(ns, move || {
            std::net::TcpStream::connect_timeout(&to, Duration::from_secs(2)).is_ok()
        })
    };
    assert!(
        reach(&nat.hosts[0], "192.168.77.12:9000"),
        "control: hosts talk"
    );
    nat.isolate();
    assert!(
        !reach(&nat.hosts[0], "192.168.77.12:9000"),
        "hosts are isolated"
    );
    drop(listener);
    start_homedrop(&mut nat, &dir);
    let mut a = open(&nat.hosts[0], HOME_LAN_IP);
    let mut b = open(&nat.hosts[1], HOME_LAN_IP);
    assert!(
        reach(&nat.hosts[1], &format!("{HOME_LAN_IP}:8080")),
        "homedrop stays reachable"
    );
    for br in [&mut a, &mut b] {
        br.wait_for(
            "document.querySelectorAll('[data-peer]').length === 1",
            Duration::from_secs(20),
        );
    }
    a.click("[data-peer]");
    let rate = transfer(&mut a, &mut b, &file, &sha, RELAYED);
    eprintln!("20 MiB between isolated home hosts through the relay: {rate:.1} MiB/s");
}

/// A signaling client whose socket lives in namespace `ns`.
async fn ws_in(ns: &str, host: &str) -> Ws {
    let addr: SocketAddr = format!("{host}:8080").parse().unwrap();
    let tcp = nat::in_netns(ns, move || {
        // homedrop may still be starting in its namespace.
        let end = Instant::now() + Duration::from_secs(15);
        let s = loop {
            match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
                Ok(s) => break s,
                Err(e) if Instant::now() > end => panic!("homedrop at {addr}: {e}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        s.set_nonblocking(true).unwrap();
        s
    });
    let tcp = tokio::net::TcpStream::from_std(tcp).unwrap();
    let req = format!("ws://{host}:8080/ws")
        .into_client_request()
        .unwrap();
    let (ws, _) =
        tokio_tungstenite::client_async(req, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
            .await
            .unwrap();
    let mut c = Ws {
        ws,
        id: String::new(),
        welcome: Value::Null,
    };
    c.welcome = c.recv().await;
    c.id = c.welcome["id"].as_str().unwrap_or_default().to_string();
    c
}

#[test]
fn stranger_on_the_internet_sees_no_peer_gets_no_turn_and_forged_allocate_fails() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("relay-e2e-c");
    let mut nat = Nat::new(1);
    start_homedrop(&mut nat, &dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // A home device and the relative share a room: they get TURN credentials.
        let mut home = ws_in(&nat.hosts[0], HOME_LAN_IP).await;
        stun_only(&home.welcome, &format!("{HOME_LAN_IP}:3478"));
        home.hello("Home").await;
        home.send(json!({"type":"roomCreate"})).await;
        let code = home.expect("roomJoined").await["code"].clone();
        let mut rel = ws_in(&nat.relative, HOME_WAN_IP).await;
        rel.hello("Relative").await;
        rel.send(json!({"type":"roomJoin","code":code})).await;
        let (udp, _, _, _) = turn_entry(&rel.expect("iceServers").await["iceServers"]);
        assert_eq!(udp, format!("turn:{HOME_WAN_IP}:3478?transport=udp"));

        // Keep both connections read (pings answered); remember the most peers home saw.
        let most = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(1));
        let seen = most.clone();
        let keep_home = tokio::spawn(async move {
            while let Some(m) = home.try_recv(Duration::from_secs(60)).await {
                if let Some(p) = m["peers"].as_array() {
                    seen.fetch_max(p.len(), std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        let keep_rel =
            tokio::spawn(
                async move { while rel.try_recv(Duration::from_secs(60)).await.is_some() {} },
            );

        // The stranger, with no code: STUN only, no peer, no credentials, even after a
        // wrong code.
        let mut s = ws_in(&nat.internet, HOME_WAN_IP).await;
        stun_only(&s.welcome, &format!("{HOME_WAN_IP}:3478"));
        s.hello("Stranger").await;
        assert!(s.peers_until(|p| p.is_empty()).await.is_empty());
        s.send(json!({"type":"roomJoin","code":"ZZZZZZ"})).await;
        assert_eq!(s.expect("error").await["code"], "noSuchRoom");
        no_credentials(&mut s, Duration::from_secs(3)).await;
        drop(s);
        // The stranger's browser (the socket above is gone: it would share its address)
        // shows no peer while the home and the relative are still connected.
        let mut page = open(&nat.internet, HOME_WAN_IP);
        page.wait_for(
            "document.querySelector('[data-status]')?.dataset.state === 'online'",
            Duration::from_secs(10),
        );
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(peers(&mut page), 0, "the stranger's page shows no peer");
        // ... and the home, still online with the relative, never saw the stranger.
        assert!(
            !keep_home.is_finished() && !keep_rel.is_finished(),
            "home and relative online"
        );
        assert_eq!(
            most.load(std::sync::atomic::Ordering::Relaxed),
            1,
            "home saw a stranger"
        );
        keep_home.abort();
        keep_rel.abort();
    });

    // From the internet: an Allocate with forged credentials fails (401); the same request
    // signed with the real secret succeeds, so the refusal is not a dead port.
    let server: SocketAddr = format!("{HOME_WAN_IP}:3478").parse().unwrap();
    let (forged, real) = nat::in_netns(&nat.internet, move || {
        let now = unix_now();
        let (user, _) =
            homedrop::relay::issue_credentials(b"x", "s", now, Duration::from_secs(600));
        let (_, forged_pass) = homedrop::relay::issue_credentials(
            b"not-the-secret!!",
            "s",
            now,
            Duration::from_secs(600),
        );
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        let forged = allocate(&sock, server, &user, &forged_pass);
        let (user, pass) = homedrop::relay::issue_credentials(
            SECRET.as_bytes(),
            "s",
            now,
            Duration::from_secs(600),
        );
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        (forged, allocate(&sock, server, &user, &pass))
    });
    assert_eq!(forged, Err(401), "forged credentials");
    let relayed = real.expect("real credentials");
    assert!(
        relayed.starts_with(HOME_LAN_IP),
        "relayed address {relayed}"
    );
    drop(rt);
}
