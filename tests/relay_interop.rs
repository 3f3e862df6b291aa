//! Interop against coturn's real client tools (`apt-get install -y coturn`;
//! the server itself is never started). Each test runs the relay in-process on
//! 127.0.0.1 with ephemeral ports, advertised relay IP 127.0.0.1 and virtual
//! relay ports 20000-20999 (below Linux's ephemeral range, so the echo peer's
//! port is never one of them).
//!
//! Tool quirks this setup accounts for (see the report):
//! * `-W` signs usernames `now + 24 h`, beyond the core's default 12 h
//!   horizon: `credential_horizon` is raised to 25 h here.
//! * Without `-u` the REST username is a bare timestamp, which homedrop
//!   refuses (it wants `<expiry>:<id>`): `-u interop` is passed.
//! * Without `-c` uclient allocates RTP/RTCP pairs: EVEN-PORT with the R bit,
//!   then an Allocate carrying the RESERVATION-TOKEN it got (one token chain
//!   across all its allocations, probe included). Both modes are tested.
//! * uclient picks channel numbers up to 0x7FFF (RFC 5766 range).

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use homedrop::relay::{Config, Relay, Shell, ShellConfig, Stats};
use tokio::process::Command;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::free_port;
use crate::support::uclient::{number_after, summary};

const SECRET: &str = "interop-secret";
/// The tools load the CPU; the machine is small. One tool run at a time.
static TOOL_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

struct Running {
    port: u16,
    shell: Shell,
    stop: CancellationToken,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start() -> Running {
        let config = Config {
            secret: SECRET.into(),
            advertised_ip: [127, 0, 0, 1].into(),
            port_min: 20000,
            port_max: 20999,
            max_allocations_per_user: 100,
            credential_horizon: Duration::from_secs(25 * 3600),
            ..Config::default()
        };
        let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
        // uclient opens all its TCP connections (-m 10 -y: 20, plus its
        // probe) from 127.0.0.1: more than the default per-source cap.
        let opts = ShellConfig {
            max_connections_per_source: 256,
            ..ShellConfig::default()
        };
        let relay = Relay::bind_with(config, opts, any, any)
            .await
            .expect("bind");
        let (udp, tcp) = relay.local_addrs();
        assert_eq!(udp.port(), tcp.port(), "uclient -t uses the same port");
        let stop = CancellationToken::new();
        let shell = relay.shell();
        let task = tokio::spawn(relay.run(stop.clone()));
        Running {
            port: udp.port(),
            shell,
            stop,
            task,
        }
    }

    /// Stops the relay and checks that shutdown drains within 5 s.
    async fn stop(self) {
        self.stop.cancel();
        let res = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        res.expect("shutdown drains").unwrap().expect("run ok");
    }
}

/// Runs a coturn tool to completion (60 s limit), returns stdout+stderr.
async fn tool(name: &str, args: &[String]) -> String {
    let child = Command::new(name)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("{name}: {e} (apt-get install -y coturn)"));
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{name} timed out"))
        .expect("tool output");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_owned).collect()
}

/// uclient `-y` (two allocations on this server talking to each other) with
/// `-m 10` clients of 200 messages; `pairs_flag` is `-c` (one allocation per
/// client) or empty (RTP/RTCP port pairs via EVEN-PORT R + RESERVATION-TOKEN).
async fn client_to_client(
    transport_flag: &str,
    pairs_flag: &str,
    expect_sent: u64,
) -> (Stats, String) {
    let _one = TOOL_LOCK.lock().await;
    let relay = Running::start().await;
    let a = format!(
        "{transport_flag} -W {SECRET} -u interop -p {} -y {pairs_flag} -n 200 -m 10 -l 1000 127.0.0.1",
        relay.port
    );
    let out = tool("turnutils_uclient", &args(&a)).await;
    let (lost, sent, recv, rtt) = summary(&out);
    let stats = relay.shell.stats();
    println!(
        "uclient {transport_flag:>2} -y {pairs_flag:>2}: lost {lost}, sent {sent}, received {recv}, \
         avg RTT {rtt} ms; core {stats:?}; shell {:?}",
        relay.shell.shell_stats()
    );
    assert_eq!(lost, 0.0, "{out}");
    assert_eq!(sent, expect_sent as f64, "{out}");
    assert_eq!(sent, recv, "{out}");
    assert_eq!(stats.packets_relayed, expect_sent);
    assert_eq!(stats.quota_refusals, 0, "{out}");
    relay.stop().await;
    (stats, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_udp_client_to_client() {
    client_to_client("", "-c", 2000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_tcp_client_to_client() {
    client_to_client("-t", "-c", 2000).await;
}

/// Without `-c`: uclient's allocations alternate between EVEN-PORT(R) and
/// an Allocate redeeming the token the previous one got. `-m 10` makes 3
/// client-to-client groups of 4 sessions (RTP and RTCP of both ends, 12 x
/// 200 messages) plus one probe allocation each: 15 allocations, 8 with R,
/// 7 redeeming a token (the last reservation is left to expire).
async fn port_pairs(transport_flag: &str) {
    let (stats, out) = client_to_client(transport_flag, "", 2400).await;
    println!(
        "uclient {transport_flag:>2} -y (pairs): {} allocations, {} redeemed tokens",
        stats.allocations_total, stats.reservations_redeemed
    );
    assert_eq!(stats.allocations_total, 15, "{stats:?}");
    assert_eq!(stats.reservations_redeemed, 7, "{stats:?}");
    assert!(!out.contains("error 508"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_udp_port_pairs_with_reservation_tokens() {
    port_pairs("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uclient_tcp_port_pairs_with_reservation_tokens() {
    port_pairs("-t").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stunclient_binding() {
    let _one = TOOL_LOCK.lock().await;
    let relay = Running::start().await;
    let out = tool(
        "turnutils_stunclient",
        &args(&format!("-p {} 127.0.0.1", relay.port)),
    )
    .await;
    println!("{}", out.trim());
    assert!(out.contains("UDP reflexive addr: 127.0.0.1:"), "{out}");
    relay.stop().await;
}

/// An echo peer on loopback that demonstrably answers, so that a silent
/// relay run proves refusal rather than a missing peer.
async fn echo_peer() -> (tokio::process::Child, u16) {
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = probe.local_addr().unwrap().port();
    drop(probe);
    let child = Command::new("turnutils_peer")
        .args(args(&format!("-L 127.0.0.1 -p {port}")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("turnutils_peer (apt-get install -y coturn)");
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..50 {
        sock.send_to(b"ping", ("127.0.0.1", port)).await.unwrap();
        let got = tokio::time::timeout(Duration::from_millis(100), sock.recv(&mut buf)).await;
        if matches!(got, Ok(Ok(4))) {
            return (child, port);
        }
    }
    panic!("echo peer on {port} never answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_echo_peer_is_refused() {
    let _one = TOOL_LOCK.lock().await;
    let (_peer, peer_port) = echo_peer().await;
    assert!(!(20000..=20999).contains(&peer_port));
    let relay = Running::start().await;
    // Channels (ChannelBind) and Send indications (-s, CreatePermission).
    for mode in ["", "-s"] {
        let before = relay.shell.stats().policy_refusals;
        let a = format!(
            "{mode} -W {SECRET} -u interop -p {} -c -e 127.0.0.1 -r {peer_port} -n 20 -m 2 -l 100 127.0.0.1",
            relay.port
        );
        let out = tool("turnutils_uclient", &args(&a)).await;
        let refusals = relay.shell.stats().policy_refusals - before;
        let recv = number_after(&out, "tot_recv_msgs=").unwrap_or(0.0);
        println!(
            "uclient {mode:>2} -> echo peer 127.0.0.1:{peer_port}: policy refusals {refusals}, \
             received {recv}; output: {}",
            out.lines().last().unwrap_or("").trim()
        );
        assert!(out.contains("403 (Forbidden)"), "{out}");
        assert_eq!(recv, 0.0, "{out}");
        // uclient gives up at the first refusal.
        assert!(refusals >= 1, "{out}");
    }
    assert_eq!(relay.shell.stats().packets_relayed, 0);
    relay.stop().await;
}

/// `/stats` (and `/metrics`) of the whole app show the relay's counters:
/// uclient's allocations and relayed bytes, and an authentication failure
/// for a wrong password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_endpoint_shows_relay_counters() {
    let _one = TOOL_LOCK.lock().await;
    let port = free_port();
    let secret = "stats-test-secret-0123456789";
    let app = crate::support::TestApp::spawn_with(|c| {
        c.turn = Some(SocketAddr::from(([127, 0, 0, 1], port)));
        c.turn_secret = Some(secret.into());
        c.relay_ip = [127, 0, 0, 1].into();
    })
    .await;
    let before = relay_stats(&app).await;
    assert_eq!(before["allocationsTotal"], 0, "{before}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (user, pass) = homedrop::relay::issue_credentials(
        secret.as_bytes(),
        "stats",
        now,
        Duration::from_secs(3600),
    );
    let a = format!("-u {user} -w {pass} -p {port} -y -c -n 10 -m 2 -l 1000 127.0.0.1");
    let out = tool("turnutils_uclient", &args(&a)).await;
    let (lost, sent, _, _) = summary(&out);
    assert_eq!((lost, sent), (0.0, 20.0), "{out}");
    let after = relay_stats(&app).await;
    println!("/stats relay after uclient: {after}");
    // Two clients plus uclient's probe allocation; 20 x 1000 bytes.
    assert_eq!(after["allocationsTotal"], 3, "{after}");
    assert_eq!(after["packetsRelayed"], 20, "{after}");
    assert_eq!(after["bytesRelayed"], 20_000, "{after}");
    assert_eq!(after["authFailures"], 0, "{after}");
    let (status, _, body) = crate::support::http_get(app.addr, "/metrics", "").await;
    let metrics = String::from_utf8_lossy(&body);
    assert_eq!(status, 200);
    for line in [
        "homedrop_relay_bytes_total 20000\n",
        "homedrop_relay_packets_total 20\n",
        "homedrop_relay_allocations_total 3\n",
    ] {
        assert!(metrics.contains(line), "{line:?} missing in:\n{metrics}");
    }
    let bad = format!("-u {user} -w wrong-password -p {port} -y -c -n 1 -m 2 127.0.0.1");
    let _ = tool("turnutils_uclient", &args(&bad)).await;
    let refused = relay_stats(&app).await;
    assert!(refused["authFailures"].as_u64().unwrap() >= 1, "{refused}");
    assert_eq!(refused["allocationsTotal"], 3, "{refused}");
    app.stop().await;
}

async fn relay_stats(app: &crate::support::TestApp) -> serde_json::Value {
    let (status, _, body) = crate::support::http_get(app.addr, "/stats", "").await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["relay"].clone()
}
