//! Relay benchmark: homedrop's TURN relay against coturn 4.6 in the same run,
//! printed as ratios (never a timed test). Run as root:
//! `cargo bench --bench relay` (needs `coturn` and Chromium; see scripts/test.sh).
//!
//! 1. `turnutils_uclient -y -c` (client pairs talking through two allocations
//!    on the server), 1000-byte messages: 50 and 200 pairs over UDP at an
//!    equal 5000 messages/s (within uclient's ~10 k/s), 50 pairs over TCP,
//!    and 200 pairs at 20 000/s (overload; 200 TCP pairs exceed homedrop's
//!    256-connection stream limit with uclient's probe connections), and 50
//!    pairs over TLS (`uclient -S`: homedrop's TURN over TLS on its TLS port,
//!    `--https`, against coturn's `--tls-listening-port`, both with the same
//!    self-signed certificate made here). Both
//!    servers get the same tool and offered load, each a fresh process:
//!    homedrop with `--no-probe --no-mdns`, coturn with `--no-cli --no-tls
//!    --no-dtls` (only the relay in each; see relay_servers.rs):
//!    loss and RTT from uclient, server CPU per relayed packet from
//!    /proc/PID/stat, peak RSS (VmHWM), UDP RcvbufErrors. Targets: loss <=
//!    coturn's, CPU per packet <= 0.7 x coturn, RSS <= 0.5 x coturn.
//! 2. Two headless Chromium in namespaces, RTCPeerConnection with
//!    `iceTransportPolicy: 'relay'` through each server, a data channel
//!    pushing `HOMEDROP_BENCH_RELAY_MIB` (default 128) MiB, for
//!    `HOMEDROP_BENCH_RELAY_ROUNDS` (default 5) alternating rounds: ratio of
//!    the medians (target >= 1.0), the selected pair checked to be
//!    relay/relay on the server's address.
//!
//! Everything runs in namespaces the bench creates (tests/support/netns.rs);
//! results go to `bench/out/relay.json`. `HOMEDROP_BENCH_RELAY=uclient` or
//! `=browser` runs one part only, `=tls` only the TCP and TLS uclient loads
//! (written to `bench/out/relay-tls.json` instead).

// The test harness, shared: public, so the parts this bench leaves unused are not dead code.
#[path = "../tests/support/mod.rs"]
pub mod support;

mod relay_browser;
mod relay_servers;
mod sdp;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::netns::{rcvbuf_errors, Lan};
use support::uclient::summary;

use relay_servers::{credentials, stat_field, Kind, Server, Transport};

/// One uclient load.
#[derive(Debug, Clone, Copy)]
struct Load {
    pairs: u32,
    transport: Transport,
    messages: u32,
    /// Per-client send interval (uclient `-z`).
    interval_ms: u32,
}

/// What uclient and /proc said about one server under one load.
#[derive(Debug, Clone, Default)]
struct Run {
    sent: f64,
    received: f64,
    loss_pct: f64,
    rtt_ms: f64,
    cpu_us_per_packet: f64,
    peak_rss_kib: u64,
    secs: f64,
    relayed: Option<u64>,
    /// `Udp: RcvbufErrors` in the namespace during the run (server and
    /// uclient sockets alike): where UDP loss came from.
    rcvbuf_errors: u64,
}

fn uclient(ns: &str, ip: &str, port: u16, load: Load) -> String {
    let (user, pass) = credentials("bench");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns, "turnutils_uclient"]);
    match load.transport {
        Transport::Udp => {}
        Transport::Tcp => {
            cmd.arg("-t");
        }
        Transport::Tls => {
            // TLS 1.2 at least for uclient's random TLS contexts (tests/one_port.rs).
            cmd.env("OPENSSL_CONF", relay_servers::tls12_conf());
            cmd.args(["-t", "-S"]);
        }
    }
    let args = format!(
        "-u {user} -w {pass} -p {port} -y -c -n {} -m {} -z {} -l 1000 {ip}",
        load.messages,
        load.pairs * 2,
        load.interval_ms
    );
    let out = cmd
        .args(args.split_whitespace())
        .output()
        .expect("turnutils_uclient (apt-get install -y coturn)");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text
}

fn measure(lan: &Lan, kind: Kind, port: u16, load: Load, dir: &std::path::Path) -> Run {
    let ip = lan.server_ip();
    let server = Server::start(kind, &lan.router, &ip, port, dir);
    let cpu0 = server.cpu_secs();
    let errors0 = rcvbuf_errors(&lan.router);
    let t = Instant::now();
    let client_port = match load.transport {
        Transport::Tls => server.tls_port(),
        _ => port,
    };
    let out = uclient(&lan.router, &ip, client_port, load);
    let secs = t.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_millis(200));
    let cpu = server.cpu_secs() - cpu0;
    let (lost, sent, received, rtt_ms) = summary(&out);
    let mut run = Run {
        sent,
        received,
        loss_pct: if sent > 0.0 {
            100.0 * lost / sent
        } else {
            100.0
        },
        rtt_ms,
        cpu_us_per_packet: cpu * 1e6 / received.max(1.0),
        peak_rss_kib: server.peak_rss_kib(),
        secs,
        relayed: None,
        rcvbuf_errors: rcvbuf_errors(&lan.router) - errors0,
    };
    if kind == Kind::Homedrop {
        let line = server.stop();
        run.relayed = stat_field(&line, "packets_relayed");
    }
    run
}

fn run_json(r: &Run) -> Value {
    json!({"sent": r.sent, "received": r.received, "lossPct": r.loss_pct, "rttMs": r.rtt_ms,
           "cpuUsPerPacket": r.cpu_us_per_packet, "peakRssKiB": r.peak_rss_kib,
           "secs": r.secs, "serverCountedRelayed": r.relayed,
           "udpRcvbufErrors": r.rcvbuf_errors})
}

/// `streams_only`: the TCP and TLS loads alone (`HOMEDROP_BENCH_RELAY=tls`).
fn uclient_part(lan: &Lan, dir: &std::path::Path, streams_only: bool) -> Value {
    // 5000 messages/s offered in the first three (uclient's own limit is
    // ~10 k/s here); the fourth offers 20 000/s, beyond uclient: an overload
    // case where loss and RTT say as much about uclient as about the server.
    let load = |pairs, transport, messages, interval_ms| Load {
        pairs,
        transport,
        messages,
        interval_ms,
    };
    let loads = [
        load(50, Transport::Udp, 250, 20),
        load(200, Transport::Udp, 100, 80),
        load(50, Transport::Tcp, 250, 20),
        load(200, Transport::Udp, 100, 20),
        load(50, Transport::Tls, 250, 20),
    ];
    let mut results = serde_json::Map::new();
    let mut port = 3400;
    println!("uclient -y -c, 1000-byte messages; offered = clients x 1000 / interval ms");
    println!(
        "{:<30} {:>7} {:>7} {:>7} {:>7} {:>10} {:>8} {:>7}",
        "load / server", "sent", "recv", "loss %", "RTT ms", "CPU us/pkt", "RSS KiB", "rcvbuf"
    );
    for load in loads {
        if streams_only && load.transport == Transport::Udp {
            continue;
        }
        let offered = load.pairs * 2 * 1000 / load.interval_ms;
        let transport = load.transport.name();
        let label = format!("{} pairs {transport} {offered} msg/s", load.pairs);
        let mut pair = Vec::new();
        for kind in [Kind::Homedrop, Kind::Coturn] {
            port += 10;
            let r = measure(lan, kind, port, load, dir);
            println!(
                "{:<30} {:>7} {:>7} {:>7.3} {:>7.3} {:>10.2} {:>8} {:>7}",
                format!("{label} {}", kind.name()),
                r.sent,
                r.received,
                r.loss_pct,
                r.rtt_ms,
                r.cpu_us_per_packet,
                r.peak_rss_kib,
                r.rcvbuf_errors
            );
            pair.push(r);
        }
        let compared = compare(&label, &pair[0], &pair[1]);
        results.insert(label, compared);
    }
    Value::Object(results)
}

/// Prints the ratios for one load and returns its JSON entry.
fn compare(label: &str, hd: &Run, co: &Run) -> Value {
    if let Some(n) = hd.relayed {
        assert!(
            n as f64 >= hd.received,
            "homedrop relayed {n} < received {}",
            hd.received
        );
    }
    let cpu = hd.cpu_us_per_packet / co.cpu_us_per_packet;
    let rss = hd.peak_rss_kib as f64 / co.peak_rss_kib as f64;
    println!(
        "  ratios {label}: CPU/pkt {cpu:.2} (target <= 0.7), peak RSS {rss:.2} (target <= 0.5), \
         loss {:.3} % vs {:.3} % (target <=), RTT {:.3} vs {:.3} ms",
        hd.loss_pct, co.loss_pct, hd.rtt_ms, co.rtt_ms
    );
    json!({"homedrop": run_json(hd), "coturn": run_json(co),
           "cpuRatio": cpu, "rssRatio": rss,
           "lossOk": hd.loss_pct <= co.loss_pct})
}

fn main() {
    let part = std::env::var("HOMEDROP_BENCH_RELAY").unwrap_or_default();
    let dir = support::TempDir::new("relaybench");
    relay_servers::write_certificate(&dir.0);
    let lan = Lan::new(2);
    let mut out = serde_json::Map::new();
    if part.is_empty() || part == "uclient" || part == "tls" {
        out.insert("uclient".into(), uclient_part(&lan, &dir.0, part == "tls"));
    }
    if part.is_empty() || part == "browser" {
        out.insert("browser".into(), relay_browser::run(&lan, &dir.0));
    }
    let _ = std::fs::create_dir_all("bench/out");
    let text = serde_json::to_string_pretty(&Value::Object(out)).unwrap();
    let file = match part.as_str() {
        "tls" => "bench/out/relay-tls.json",
        _ => "bench/out/relay.json",
    };
    std::fs::write(file, text).unwrap_or_else(|e| panic!("write {file}: {e}"));
    println!("wrote {file}");
    let _ = std::fs::remove_file(relay_servers::tls12_conf());
}
