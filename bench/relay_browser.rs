//! Browser part of the relay bench: two headless Chromium in the LAN's host
//! namespaces, one RTCPeerConnection each with only the server under test as
//! ICE server and `iceTransportPolicy: 'relay'`, SDP carried by the driver;
//! the page script is `bench/relay.js`.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::relay_servers::{credentials, stat_field, Kind, Server};
use super::support::browser::Browser;
use super::support::netns::Lan;

const JS: &str = include_str!("relay.js");
const MIB: u64 = 1024 * 1024;

/// Connects `a` → `b` through `turn_url`; returns the selected pair's
/// candidate types as seen by `a` (both must be "relay").
fn connect(a: &mut Browser, b: &mut Browser, turn_url: &str) -> Value {
    let (user, pass) = credentials("browser");
    let cfg = json!({"iceServers": [{"urls": turn_url, "username": user, "credential": pass}],
                     "iceTransportPolicy": "relay"});
    for br in [&mut *a, &mut *b] {
        br.eval(JS);
    }
    let offer = a.eval(&format!("relayBench.offer({cfg})"));
    let answer = b.eval(&format!(
        "relayBench.answer({cfg}, {})",
        serde_json::to_string(&offer).unwrap()
    ));
    a.eval(&format!(
        "relayBench.accept({})",
        serde_json::to_string(&answer).unwrap()
    ));
    a.wait_for("relayBench.pairTypes()", Duration::from_secs(20))
}

/// MB/s of one push of `bytes`, timed on the receiver.
fn push(a: &mut Browser, b: &mut Browser, bytes: u64) -> f64 {
    a.eval(&format!("(relayBench.push({bytes}), true)"));
    let ms = b.wait_for("relayBench.done", Duration::from_secs(900));
    bytes as f64 / 1e6 / (ms.as_f64().unwrap() / 1000.0)
}

fn one(lan: &Lan, kind: Kind, port: u16, bytes: u64, dir: &Path) -> (f64, Value, String) {
    let ip = lan.server_ip();
    let server = Server::start(kind, &lan.router, &ip, port, dir);
    let mut a = Browser::launch(Some(&lan.hosts[0]));
    let mut b = Browser::launch(Some(&lan.hosts[1]));
    let url = format!("turn:{ip}:{port}?transport=udp");
    let pair = connect(&mut a, &mut b, &url);
    let mbps = push(&mut a, &mut b, bytes);
    drop((a, b));
    let evidence = match kind {
        Kind::Homedrop => {
            let line = server.stop();
            format!("bytes_relayed {:?}", stat_field(&line, "bytes_relayed"))
        }
        Kind::Coturn => {
            std::thread::sleep(Duration::from_millis(500));
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            format!(
                "coturn log: {} allocation lines",
                log.matches("ALLOCATE processed, success").count()
            )
        }
    };
    (mbps, pair, evidence)
}

pub fn run(lan: &Lan, dir: &Path) -> Value {
    let mib: u64 = std::env::var("HOMEDROP_BENCH_RELAY_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let bytes = mib * MIB;
    let mut res = serde_json::Map::new();
    let mut speeds = Vec::new();
    for (kind, port) in [(Kind::Homedrop, 3600), (Kind::Coturn, 3610)] {
        let (mbps, pair, evidence) = one(lan, kind, port, bytes, dir);
        println!(
            "browser relay {mib} MiB via {}: {mbps:.1} MB/s, selected pair {pair}, {evidence}",
            kind.name()
        );
        assert_eq!(
            pair,
            json!("relay/relay"),
            "{} did not carry the data",
            kind.name()
        );
        res.insert(
            kind.name().into(),
            json!({"MBps": mbps, "pair": pair, "evidence": evidence}),
        );
        speeds.push(mbps);
    }
    let ratio = speeds[0] / speeds[1];
    println!("  browser relay throughput homedrop / coturn = {ratio:.2} (target >= 1.0)");
    res.insert("ratio".into(), json!(ratio));
    res.insert("mib".into(), json!(mib));
    Value::Object(res)
}
