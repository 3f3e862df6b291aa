//! TURN credentials over signaling (in-process app, real WebSocket clients, the real relay):
//! who gets them and when, which host the URLs name, and that issued credentials open the
//! relay while forged ones do not. The STUN/TURN client helpers here serve `relay_e2e` too.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

use crate::support::{TestApp, Ws};

/// The TURN secret every relay test configures.
pub const SECRET: &str = "relay-e2e-secret-0123";

pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One request on `sock`, retransmitted; the response with the same transaction id.
pub fn transact(sock: &UdpSocket, server: SocketAddr, req: &Message) -> Message {
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

pub fn allocate_request(auth: Option<(&str, &str, &str, &str)>) -> Message {
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

pub fn error_code(m: &Message) -> Option<u16> {
    let mut err = ErrorCodeAttribute::default();
    err.get_from(m).ok().map(|_| err.code.0)
}

/// A TURN Allocate over UDP with these REST credentials (after the 401 challenge).
/// `Ok(relayed address)` or `Err(error code)`.
pub fn allocate(
    sock: &UdpSocket,
    server: SocketAddr,
    user: &str,
    pass: &str,
) -> Result<String, u16> {
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
pub fn turn_entry(servers: &Value) -> (String, String, String, String) {
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
pub async fn no_credentials(ws: &mut Ws, wait: Duration) {
    let end = tokio::time::Instant::now() + wait;
    while let Some(m) = ws.try_recv(end - tokio::time::Instant::now()).await {
        assert_ne!(m["type"], "iceServers", "credentials for a stranger: {m}");
        assert!(!m.to_string().contains("credential"), "{m}");
    }
}

pub fn stun_only(welcome: &Value, host_port: &str) {
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
        c.allowed_hosts = vec!["proxy.example".into()];
    })
    .await
}

/// Issued credentials open the relay at 127.0.0.1:`port`; the same username with a forged
/// password gets 401.
async fn opens_the_relay(port: &str, (user, pass): (String, String)) {
    let server: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (good, forged) = tokio::task::spawn_blocking(move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let good = allocate(&sock, server, &user, &pass);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        (
            good,
            allocate(&sock, server, &user, "Zm9yZ2VkIHBhc3N3b3JkIQ=="),
        )
    })
    .await
    .unwrap();
    assert!(good.is_ok(), "issued credentials: {good:?}");
    assert_eq!(forged, Err(401), "forged password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_credentials_only_once_linked_and_renewed_before_expiry() {
    let app = app_with_relay(Duration::from_secs(4), None).await;
    // A household device makes the room (a room of strangers earns no relay: see
    // tests/guessing.rs); the relative from the internet joins it by code.
    let mut a = app.client_from("192.168.1.7").await;
    let stun = a.welcome["iceServers"][0]["urls"][0].as_str().unwrap();
    let port = stun.rsplit(':').next().unwrap().to_string();
    stun_only(&a.welcome, &format!("127.0.0.1:{port}"));
    a.hello("Alice").await;
    let code = a.room_create().await;
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
    opens_the_relay(&port, creds[0].clone()).await;

    // Before they expire, new ones arrive with a later expiry.
    let renewed = a.expect("iceServers").await;
    let (_, _, user2, _) = turn_entry(&renewed["iceServers"]);
    assert_ne!(user2, creds[0].0, "renewed credentials");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_linked_only_to_each_other_get_no_relay() {
    let app = TestApp::spawn_with(|c| {
        c.turn = Some("127.0.0.1:0".parse().unwrap());
        c.turn_secret = Some(SECRET.into());
        c.open_rooms = true;
    })
    .await;
    // A room of two strangers from the internet (allowed by --open-rooms): no relay.
    let mut s1 = app.client_from("203.0.113.7").await;
    s1.hello("S1").await;
    let code = s1.room_create().await;
    let mut s2 = app.client_from("198.51.100.9").await;
    s2.hello("S2").await;
    s2.send(json!({"type":"roomJoin","code":code})).await;
    s2.expect("roomJoined").await;
    s1.peers_until(|p| p.len() == 1).await;
    // A pairing made between two internet devices: linked, and still no relay.
    let mut x = app.client_from("192.0.2.10").await;
    x.hello("X").await;
    x.send(json!({"type":"pairStart"})).await;
    let key = x.expect("pairKey").await["key"].clone();
    let mut y = app.client_from("192.0.2.200").await;
    y.hello("Y").await;
    y.send(json!({"type":"pairJoin","key":key})).await;
    y.expect("paired").await;
    x.peers_until(|p| p.len() == 1).await;
    for ws in [&mut s1, &mut s2, &mut x, &mut y] {
        no_credentials(ws, Duration::from_millis(800)).await;
    }
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
    // Names homedrop cannot vouch for as one of its addresses (--public-host, an
    // --allowed-host such as a proxy's name) get --public-host.
    for named in ["home.example.org", "proxy.example:8080"] {
        let c = client_with_host(&app, named).await;
        stun_only(&c.welcome, &format!("home.example.org:{port}"));
    }
    // Any other name is refused before the upgrade (DNS rebinding; tests/admission.rs).
    for foreign in ["evil.example:8080", "10.99.0.1"] {
        let mut req = format!("ws://{}/ws", app.addr)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("host", foreign.parse().unwrap());
        assert!(
            tokio_tungstenite::connect_async(req).await.is_err(),
            "{foreign}"
        );
    }
    // Without --public-host, an allowed name falls back to the relay's LAN address.
    let app2 = app_with_relay(Duration::from_secs(3600), None).await;
    let c = client_with_host(&app2, "proxy.example").await;
    let url = c.welcome["iceServers"][0]["urls"][0].as_str().unwrap();
    assert!(url.starts_with("stun:127.0.0.1:"), "{url}");
    app.stop().await;
    app2.stop().await;
}
