//! Browser part of the relay bench: two headless Chromium in the LAN's host
//! namespaces, one RTCPeerConnection each with only the server under test as
//! ICE server and `iceTransportPolicy: 'relay'`, SDP carried by the driver;
//! the page script is `bench/relay.js`. The machine is shared, so the two
//! servers alternate for several rounds (fresh server and connection each)
//! and the medians are compared.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::relay_servers::{credentials, stat_field, Kind, Server};
use super::sdp::{self, negotiate};
use super::support::browser::Browser;
use super::support::env_u64;
use super::support::netns::Lan;

const JS: &str = include_str!("relay.js");
const MIB: u64 = 1024 * 1024;

/// Connects `a` → `b` through `turn_url`; returns the selected pair as seen
/// by `a`: candidate types (both must be "relay") and the local relayed address.
fn connect(a: &mut Browser, b: &mut Browser, turn_url: &str) -> Value {
    let (user, pass) = credentials("browser");
    let cfg = json!({"iceServers": [{"urls": turn_url, "username": user, "credential": pass}],
                     "iceTransportPolicy": "relay"});
    negotiate(a, b, "relayBench", &cfg);
    a.wait_for("relayBench.selectedPair()", Duration::from_secs(20))
}

/// MB/s of one push of `bytes`, timed on the receiver.
fn push(a: &mut Browser, b: &mut Browser, bytes: u64) -> f64 {
    a.eval(&format!("(relayBench.push({bytes}), true)"));
    let ms = b.wait_for("relayBench.done", Duration::from_secs(900));
    bytes as f64 / 1e6 / (ms.as_f64().unwrap() / 1000.0)
}

/// One round on a fresh `kind` server: (MB/s, selected pair, server CPU
/// seconds during the push, server-side evidence).
fn one(
    lan: &Lan,
    (a, b): (&mut Browser, &mut Browser),
    kind: Kind,
    port: u16,
    bytes: u64,
    dir: &Path,
) -> (f64, Value, f64, String) {
    let ip = lan.server_ip();
    let server = Server::start(kind, &lan.router, &ip, port, dir);
    let url = format!("turn:{ip}:{port}?transport=udp");
    let pair = connect(a, b, &url);
    let cpu0 = server.cpu_secs();
    let mbps = push(a, b, bytes);
    let cpu = server.cpu_secs() - cpu0;
    a.eval("relayBench.close()");
    b.eval("relayBench.close()");
    let evidence = match kind {
        Kind::Homedrop => {
            let line = server.stop();
            let relayed = stat_field(&line, "bytes_relayed").unwrap_or(0);
            assert!(relayed >= bytes, "homedrop relayed only {relayed} bytes");
            let errors = stat_field(&line, "udp_send_errors");
            let dropped = stat_field(&line, "dropped_bandwidth");
            format!(
                "homedrop bytes_relayed {relayed}, udp_send_errors {errors:?}, dropped {dropped:?}"
            )
        }
        // The only ICE server was coturn and the pair is relay/relay, so
        // every byte went through it; its CPU time shows it worked.
        Kind::Coturn => "coturn: relay/relay pair through its only ICE server".to_string(),
    };
    (mbps, pair, cpu, evidence)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub fn run(lan: &Lan, dir: &Path) -> Value {
    let (mib, rounds) = (
        env_u64("HOMEDROP_BENCH_RELAY_MIB", 128),
        env_u64("HOMEDROP_BENCH_RELAY_ROUNDS", 5),
    );
    let bytes = mib * MIB;
    let mut a = Browser::launch(Some(&lan.hosts[0]));
    let mut b = Browser::launch(Some(&lan.hosts[1]));
    for br in [&mut a, &mut b] {
        br.eval(sdp::JS);
        br.eval(JS);
    }
    let kinds = [Kind::Homedrop, Kind::Coturn];
    let mut speeds = [Vec::new(), Vec::new()];
    let mut runs = Vec::new();
    let mut port = 3600;
    for round in 0..rounds {
        for (i, kind) in kinds.into_iter().enumerate() {
            port += 10;
            let (mbps, pair, cpu, evidence) = one(lan, (&mut a, &mut b), kind, port, bytes, dir);
            println!(
                "browser relay round {round}, {mib} MiB via {}: {mbps:.1} MB/s, server {cpu:.1} CPU s, pair {pair}, {evidence}",
                kind.name()
            );
            assert_eq!(
                pair["types"],
                json!("relay/relay"),
                "{} did not carry the data",
                kind.name()
            );
            assert!(
                pair["local"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with(&lan.server_ip()),
                "relayed address not on the server: {pair}"
            );
            speeds[i].push(mbps);
            runs.push(json!({"server": kind.name(), "MBps": mbps, "pair": pair,
                             "serverCpuSecs": cpu, "evidence": evidence}));
        }
    }
    let (hd, co) = (median(&mut speeds[0]), median(&mut speeds[1]));
    let ratio = hd / co;
    println!(
        "  browser relay throughput, median of {rounds}: homedrop {hd:.1} MB/s, coturn {co:.1} MB/s, \
         ratio {ratio:.2} (target >= 1.0)"
    );
    json!({"mib": mib, "rounds": rounds, "homedropMBps": hd, "coturnMBps": co,
           "ratio": ratio, "runs": runs})
}
