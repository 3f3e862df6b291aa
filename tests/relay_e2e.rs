//! homedrop's relay wired to browsers, end to end in namespaces (`support::nat`, the release
//! binary, headless Chromium): a relative behind a masquerading NAT joins a room and files go
//! both ways through the relay; two home devices under client isolation fall back to the
//! relay, also when one of them has no UDP at all; a running transfer survives an ICE restart
//! from the LAN to the relay; a stranger on the internet gets no peer and no credential.

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::relay_credentials::{allocate, no_credentials, stun_only, turn_entry, unix_now, SECRET};
use crate::support::files::{generate, sha256_file};
use crate::support::nat::{Nat, HOME_LAN_IP, HOME_WAN_IP};
use crate::support::netns::in_netns;
use crate::support::page::{attr, Page};
use crate::support::setup::offer;
use crate::support::{one_browser_at_a_time, release_binary, TempDir, Ws};

const MIB: u64 = 1024 * 1024;
const RELAYED: &str = "relayed through homedrop";

// ---- namespaces, the release binary and Chromium ----

/// homedrop in the home namespace, relay on, reachable on its LAN and WAN addresses.
fn start_homedrop(nat: &mut Nat, state: &TempDir) {
    start_homedrop_with(nat, &state.0, &[]);
}

/// [`start_homedrop`] with `extra` flags (the remote-access tests add the TLS port).
pub fn start_homedrop_with(nat: &mut Nat, state: &std::path::Path, extra: &[&str]) {
    let bin = release_binary();
    let home = nat.home.clone();
    let state = state.display().to_string();
    // HOMEDROP_E2E_LOG=debug shows the relay's view when a test fails.
    let log = std::env::var("HOMEDROP_E2E_LOG").unwrap_or_else(|_| "warn".into());
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
            &log,
        ]
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect::<Vec<_>>(),
    );
}

fn open(ns: &str, host: &str) -> Page {
    let mut b = Page::launch(Some(ns));
    // Returns once signaling is online.
    b.open(&format!("http://{host}:8080/"));
    b
}

fn peers(b: &mut Page) -> u64 {
    b.count("[data-peer]")
}

/// The path shown on the newest transfer row, once it shows one.
fn shown_path(b: &mut Page) -> String {
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
fn transfer(from: &mut Page, to: &mut Page, file: &Path, sha: &str, path: &str) -> f64 {
    let name = file.file_name().unwrap().to_str().unwrap().to_string();
    let size = std::fs::metadata(file).unwrap().len();
    let t = Instant::now();
    offer(from, to, &[file]);
    to.click("[data-accept]");
    let sel = attr("[data-received-file]", "name", &name);
    to.wait_hook(&sel, Duration::from_secs(900));
    let secs = t.elapsed().as_secs_f64();
    let shown = to.data(&sel, "sha256");
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
    let _one = one_browser_at_a_time();
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
    let code = home.wait_data("[data-room]", "code", Duration::from_secs(10));
    rel.fill("[data-room-code-input]", code.as_str().unwrap());
    rel.click("[data-room-join]");
    for b in [&mut home, &mut rel] {
        let one = "document.querySelectorAll('[data-peer]').length === 1";
        let shown = (Instant::now(), Duration::from_secs(20));
        while b.eval(one) != json!(true) {
            let state = b.eval("[document.querySelectorAll('[data-peer]').length, [...document.querySelectorAll('[data-room]')].map(e => e.dataset.code), [...document.querySelectorAll('[data-notice]')].map(e => e.textContent)]");
            assert!(
                shown.0.elapsed() < shown.1,
                "peers, rooms, notices: {state}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
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
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("relay-e2e-b");
    let file = dir.0.join("isolated.bin");
    let sha = generate(&file, 20 * MIB, 23);
    let mut nat = Nat::new(2);
    // A listener on the second host; the first reaches it before isolation, not after.
    let listener = in_netns(&nat.hosts[1], || {
        std::net::TcpListener::bind("192.168.77.12:9000").unwrap()
    });
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
    let (mut a, mut b) = two_at_home(&mut nat, &dir);
    assert!(
        reach(&nat.hosts[1], &format!("{HOME_LAN_IP}:8080")),
        "homedrop stays reachable"
    );
    let rate = transfer(&mut a, &mut b, &file, &sha, RELAYED);
    eprintln!("20 MiB between isolated home hosts through the relay: {rate:.1} MiB/s");
}

/// Does a STUN Binding over UDP from namespace `ns` to `server` get an answer?
fn stun_over_udp_answered(ns: &str, server: SocketAddr) -> bool {
    use stun::message::{Message, Setter, BINDING_REQUEST};
    in_netns(ns, move || {
        let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut req = Message::new();
        let setters: Vec<Box<dyn Setter>> = vec![
            Box::new(stun::agent::TransactionId::new()),
            Box::new(BINDING_REQUEST),
        ];
        req.build(&setters).unwrap();
        let mut buf = [0u8; 1500];
        (0..4).any(|_| {
            let _ = sock.send_to(&req.raw, server);
            sock.recv(&mut buf).is_ok()
        })
    })
}

fn reach(ns: &str, to: &str) -> bool {
    let to: SocketAddr = to.parse().unwrap();
    in_netns(ns, move || {
        std::net::TcpStream::connect_timeout(&to, Duration::from_secs(2)).is_ok()
    })
}

/// Two home hosts that see each other, with the first one's tile for the second selected.
fn two_at_home(nat: &mut Nat, dir: &TempDir) -> (Page, Page) {
    start_homedrop(nat, dir);
    let mut a = open(&nat.hosts[0], HOME_LAN_IP);
    let mut b = open(&nat.hosts[1], HOME_LAN_IP);
    for br in [&mut a, &mut b] {
        br.wait_count("[data-peer]", 1, Duration::from_secs(20));
    }
    a.click("[data-peer]");
    (a, b)
}

#[test]
fn with_udp_blocked_the_tcp_relay_carries_the_transfer() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("relay-e2e-tcp");
    let file = dir.0.join("over-tcp.bin");
    let sha = generate(&file, 10 * MIB, 24);
    let mut nat = Nat::new(2);
    nat.isolate();
    let relay: SocketAddr = format!("{HOME_LAN_IP}:3478").parse().unwrap();
    let (a_ns, b_ns) = (nat.hosts[0].clone(), nat.hosts[1].clone());
    let (mut a, mut b) = two_at_home(&mut nat, &dir);
    assert!(
        stun_over_udp_answered(&b_ns, relay),
        "control: STUN over UDP works"
    );
    nat.block_udp(&b_ns);
    assert!(!stun_over_udp_answered(&b_ns, relay), "UDP is blocked");
    assert!(reach(&b_ns, &relay.to_string()), "TCP to the relay is not");
    assert!(stun_over_udp_answered(&a_ns, relay));
    // The second device has no UDP path anywhere: only TURN over TCP can carry this.
    let rate = transfer(&mut a, &mut b, &file, &sha, RELAYED);
    eprintln!("10 MiB with one side on the TCP relay: {rate:.1} MiB/s");
}

#[test]
fn a_running_transfer_survives_an_ice_restart_from_the_lan_to_the_relay() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("relay-e2e-restart");
    let file = dir.0.join("moving.bin");
    let sha = generate(&file, 300 * MIB, 25);
    let mut nat = Nat::new(2);
    // No relay candidates at first: the connection is direct on the LAN.
    nat.block_relay();
    let (mut a, mut b) = two_at_home(&mut nat, &dir);
    offer(&mut a, &mut b, &[&file]);
    b.click("[data-accept]");
    for br in [&mut a, &mut b] {
        assert_eq!(shown_path(br), "direct on the LAN");
    }
    b.wait_for(
        "Number(document.querySelector('[data-transfer] [data-progress]').value) > 20 * 1024 * 1024",
        Duration::from_secs(120),
    );
    // The LAN path dies (client isolation) and the relay becomes reachable: only new
    // candidates, gathered by an ICE restart, can carry the rest.
    nat.isolate();
    nat.unblock_relay();
    let t = Instant::now();
    let sel = "[data-received-file][data-name=\"moving.bin\"]";
    let state = "document.querySelector('[data-transfer]').dataset.state";
    let outcome = format!(
        "document.querySelector('{sel}') ? 'received' : ['failed', 'cancelled'].includes({state}) ? {state} : ''"
    );
    let mut end = json!("");
    while end == json!("") && t.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(500));
        end = b.eval(&outcome);
    }
    assert_eq!(
        end,
        json!("received"),
        "receiver console: {:#?}\nsender console: {:#?}",
        b.console(),
        a.console()
    );
    eprintln!(
        "transfer finished {:.0} s after the LAN path died",
        t.elapsed().as_secs_f64()
    );
    let shown = b.data(sel, "sha256");
    assert_eq!(shown, json!(sha), "SHA-256 after the restart");
    // The same connection carried on: it was restarted, not replaced.
    let restarted = [a.console(), b.console()]
        .concat()
        .iter()
        .any(|l| l.contains("homedrop: ICE restart"));
    assert!(restarted, "no ICE restart logged");
    for br in [&mut a, &mut b] {
        let state = br.data("[data-transfer]", "state");
        assert_eq!(state, json!("done"));
        assert_eq!(shown_path(br), RELAYED, "the row follows the new path");
    }
}

/// A signaling client whose socket lives in namespace `ns`.
async fn ws_in(ns: &str, host: &str) -> Ws {
    let addr: SocketAddr = format!("{host}:8080").parse().unwrap();
    let tcp = in_netns(ns, move || {
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

/// A home device and the relative in one room, kept online (pings answered) by two tasks;
/// the counter holds the most peers the home device was ever shown.
async fn home_and_relative_in_a_room(
    nat: &Nat,
) -> (Vec<tokio::task::JoinHandle<()>>, Arc<AtomicUsize>) {
    let mut home = ws_in(&nat.hosts[0], HOME_LAN_IP).await;
    stun_only(&home.welcome, &format!("{HOME_LAN_IP}:3478"));
    home.hello("Home").await;
    let code = home.room_create().await;
    let mut rel = ws_in(&nat.relative, HOME_WAN_IP).await;
    rel.hello("Relative").await;
    rel.send(json!({"type":"roomJoin","code":code})).await;
    let (udp, _, _, _) = turn_entry(&rel.expect("iceServers").await["iceServers"]);
    assert_eq!(udp, format!("turn:{HOME_WAN_IP}:3478?transport=udp"));
    let most = Arc::new(AtomicUsize::new(1));
    let seen = most.clone();
    let keep_home = tokio::spawn(async move {
        while let Some(m) = home.try_recv(Duration::from_secs(60)).await {
            if let Some(p) = m["peers"].as_array() {
                seen.fetch_max(p.len(), Ordering::Relaxed);
            }
        }
    });
    let keep_rel =
        tokio::spawn(async move { while rel.try_recv(Duration::from_secs(60)).await.is_some() {} });
    (vec![keep_home, keep_rel], most)
}

/// From the internet: (Allocate with credentials signed by a wrong secret, Allocate with
/// credentials signed by the real one).
fn allocate_from_the_internet(nat: &Nat) -> (Result<String, u16>, Result<String, u16>) {
    let server: SocketAddr = format!("{HOME_WAN_IP}:3478").parse().unwrap();
    in_netns(&nat.internet, move || {
        let ttl = Duration::from_secs(600);
        let issue =
            |secret: &[u8]| homedrop::relay::issue_credentials(secret, "s", unix_now(), ttl);
        let (user, forged_pass) = issue(b"not-the-secret!!");
        let forged = allocate(
            &UdpSocket::bind("0.0.0.0:0").unwrap(),
            server,
            &user,
            &forged_pass,
        );
        let (user, pass) = issue(SECRET.as_bytes());
        let real = allocate(&UdpSocket::bind("0.0.0.0:0").unwrap(), server, &user, &pass);
        (forged, real)
    })
}

#[test]
fn stranger_on_the_internet_sees_no_peer_gets_no_turn_and_forged_allocate_fails() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("relay-e2e-c");
    let mut nat = Nat::new(1);
    start_homedrop(&mut nat, &dir);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (online, most) = home_and_relative_in_a_room(&nat).await;
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
        // shows no peer while the home and the relative are still connected ...
        let mut page = open(&nat.internet, HOME_WAN_IP);
        std::thread::sleep(Duration::from_secs(2));
        assert_eq!(peers(&mut page), 0, "the stranger's page shows no peer");
        // ... and the home device never saw the stranger.
        assert!(
            online.iter().all(|t| !t.is_finished()),
            "home and relative online"
        );
        assert_eq!(most.load(Ordering::Relaxed), 1, "home saw a stranger");
        online.iter().for_each(|t| t.abort());
    });
    // A forged Allocate fails; a correctly signed one succeeds, so the port is live.
    let (forged, real) = allocate_from_the_internet(&nat);
    assert_eq!(forged, Err(401), "forged credentials");
    let relayed = real.expect("real credentials");
    assert!(
        relayed.starts_with(HOME_LAN_IP),
        "relayed address {relayed}"
    );
    drop(rt);
}
