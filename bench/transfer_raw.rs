//! The transfer bench's raw data channels: variants of a sender on bare
//! `RTCPeerConnection`s between two more browsers on the LAN (`transfer.js`, SDP carried by
//! the driver through `sdp.rs`), and the runs that measure only them (`sweep`, `explore`).

use std::time::Duration;

use serde_json::{json, Value};

use crate::median;
use crate::sdp;
use crate::support::browser::Browser;
use crate::support::setup::Setup;
use crate::transfer_probe::{prioritize, Probe};
use crate::transfer_ui::homedrop_run;

/// Raw data channels between two browsers, SDP carried by the driver (`sdp.rs`).
const RAW_JS: &str = include_str!("transfer.js");

/// Names of the raw connections a variant may use (lane 0 is `raw`).
const LANE_NAMES: [&str; 4] = ["raw", "raw1", "raw2", "raw3"];

/// One raw variant: `lanes` RTCPeerConnections (each its own SCTP association and
/// congestion window) with `channels` data channels each; the sender runs
/// `rawSend.<mode>(channels, bytes<args>)` over all their channels.
pub struct Raw {
    pub label: &'static str,
    lanes: usize,
    channels: usize,
    mode: &'static str,
    args: String,
}

impl Raw {
    fn new(
        label: &'static str,
        lanes: usize,
        channels: usize,
        mode: &'static str,
        args: &str,
    ) -> Raw {
        let args = args.to_string();
        Raw {
            label,
            lanes,
            channels,
            mode,
            args,
        }
    }
}

/// The ceiling: one sender, one channel, `size`-byte messages, deep buffer (at most
/// 12 MiB queued): the slowest way to drive Chromium's SCTP at 40 ms (docs/decisions.md).
pub fn ceiling_raw(size: u32) -> Raw {
    Raw::new("ceiling", 1, 1, "ceiling", &format!(", {size}"))
}

/// The candidates for the best raw channel of a run: one channel, no hashing, receiver
/// discarding, a shallow queue (at most 256 KiB, resume at 64 KiB, as the web client) in
/// 16 KiB (the web client's size) or 64 KiB messages. The fastest median is `bestRaw`.
pub fn shallow_raws() -> Vec<Raw> {
    vec![
        Raw::new(
            "q256k-16k",
            1,
            1,
            "ceiling",
            ", 16384, 262144, 'raw', 65536",
        ),
        Raw::new(
            "q256k-64k",
            1,
            1,
            "ceiling",
            ", 65536, 262144, 'raw', 65536",
        ),
    ]
}

/// The PairDrop baseline: the protocol alone, chunks sent from memory.
pub fn pairdrop_raw() -> Raw {
    Raw::new("pairdrop", 1, 1, "pairdrop", "")
}

/// PairDrop as it ships: the same protocol, each chunk read from the file (one FileReader
/// read at a time) before it is sent, as homedrop's sender reads the file too.
pub fn pairdrop_file_raw() -> Raw {
    Raw::new("pairdrop-file", 1, 1, "pairdrop", ", 'file'")
}

/// Fresh raw connections for every run: SCTP's congestion state (a window halved by an
/// earlier loss) must not carry over from one run to the next. Unused lanes are closed.
fn raw_connect(a: &mut Browser, b: &mut Browser, lanes: usize, channels: usize) {
    let close = "for (const n of ['raw','raw1','raw2','raw3']) if (window[n] && window[n].pc) { window[n].pc.close(); window[n].pc = null; } true";
    a.eval(close);
    b.eval(close);
    for name in &LANE_NAMES[..lanes] {
        for br in [&mut *a, &mut *b] {
            br.eval(&format!("window.{name} || makeRaw('{name}')"));
        }
        a.eval(&format!("{name}.channels = {channels}"));
        sdp::negotiate(a, b, name, &json!({}));
    }
}

/// A raw run: MB/s timed on the receiver, and the bytes the senders' transports sent per
/// payload byte (~1.05 is headers alone; more is retransmission).
pub fn raw_run(a: &mut Browser, b: &mut Browser, v: &Raw, bytes: u64) -> (f64, f64) {
    raw_connect(a, b, v.lanes, v.channels);
    let names = serde_json::to_string(&LANE_NAMES[..v.lanes]).unwrap();
    let wire = format!("rawWire({names})");
    let before = a.eval(&wire).as_f64().unwrap_or(0.0);
    b.eval("rawAll.done = null; rawAll.run = null; true");
    a.eval(&format!(
        "(rawSend.{}({names}.flatMap(n => window[n].dcs), {bytes}{}).then(v => (window.rawSent = v)), true)",
        v.mode, v.args
    ));
    let ms = b.wait_for("rawAll.done", Duration::from_secs(900));
    let wire = a.eval(&wire).as_f64().unwrap_or(0.0) - before;
    let rate = bytes as f64 / 1e6 / (ms.as_f64().unwrap() / 1000.0);
    (rate, wire / bytes as f64)
}

/// Two more browsers on the LAN for the raw runs, connected; and the measured ICE RTT (ms).
pub fn raw_browsers(s: &Setup, file: &std::path::Path) -> (Browser, Browser, f64) {
    let (mut a, mut b) = (
        Browser::launch(Some(&s.lan.hosts[0])),
        Browser::launch(Some(&s.lan.hosts[1])),
    );
    // Not the app's page: these two must not show up as devices on the LAN.
    let plain = format!("{}healthz", s.url);
    a.goto(&plain);
    b.goto(&plain);
    for br in [&mut a, &mut b] {
        br.eval(sdp::JS);
        br.eval(RAW_JS);
    }
    a.eval("rawPickFile()");
    a.set_files("[data-raw-file]", &[file]);
    raw_connect(&mut a, &mut b, 1, 1);
    let rtt = a.wait_for(
        "raw.pc.getStats().then(s => { for (const r of s.values()) if (r.type === 'candidate-pair' && r.nominated && r.currentRoundTripTime !== undefined) return r.currentRoundTripTime * 1000; return 0; })",
        Duration::from_secs(20),
    );
    prioritize(&s.lan);
    (a, b, rtt.as_f64().unwrap_or(0.0))
}

/// `HOMEDROP_BENCH_SWEEP=1`: the raw ceiling alone at three round-trip times and two message
/// sizes. A ceiling that falls as 1/RTT with bytes in flight (rate × RTT) constant is held by
/// a window, not by the link or the CPU.
pub fn sweep(file: &std::path::Path, bytes: u64, rounds: usize) -> Value {
    let mut out = Vec::new();
    for ms in [2, 5, 10] {
        let s = Setup::new(Some(4 * ms));
        let (mut a, mut b, rtt) = raw_browsers(&s, file);
        for size in [262144, 64000] {
            let runs: Vec<f64> = (0..rounds)
                .map(|_| raw_run(&mut a, &mut b, &ceiling_raw(size), bytes).0)
                .collect();
            let rate = median(runs.clone());
            let in_flight = rate * 1e6 * rtt / 1000.0;
            println!(
                "sweep: RTT {rtt:.0} ms, {size}-byte messages: {rate:.1} MB/s (runs {runs:.1?}), {:.0} KB in flight",
                in_flight / 1000.0
            );
            out.push(
                json!({"rttMs": rtt, "message": size, "mbps": rate, "runs": runs,
                            "inFlightBytes": in_flight}),
            );
        }
    }
    Value::Array(out)
}

/// Every raw variant `explore` knows (`HOMEDROP_BENCH_VARIANTS` picks some by label).
fn explore_variants() -> Vec<Raw> {
    let mut all = vec![
        ceiling_raw(262144),
        Raw::new("shallow64k", 1, 1, "ceiling", ", 64000, 1048576"),
        Raw::new("pinged", 1, 1, "ceiling", ", 262144, 12582912, 'pinged'"),
        Raw::new(
            "shallow-pinged",
            1,
            1,
            "ceiling",
            ", 64000, 1048576, 'pinged'",
        ),
        Raw::new(
            "lanes2-pinged",
            2,
            1,
            "ceiling",
            ", 262144, 12582912, 'pinged'",
        ),
        Raw::new("shallow256k", 1, 1, "ceiling", ", 262144, 1048576"),
        Raw::new("hwm256k", 1, 1, "ceiling", ", 64000, 262144"),
        Raw::new("q64k-16k", 1, 1, "ceiling", ", 16384, 65536"),
        Raw::new("q128k-32k", 1, 1, "ceiling", ", 32768, 131072"),
        Raw::new("q512k-32k", 1, 1, "ceiling", ", 32768, 524288"),
        Raw::new("q1m-16k", 1, 1, "ceiling", ", 16384, 1048576"),
        Raw::new("q4m-16k", 1, 1, "ceiling", ", 16384, 4194304"),
        Raw::new("lanes2-q128k-32k", 2, 1, "ceiling", ", 32768, 131072"),
        Raw::new("lanes2-shallow64k", 2, 1, "ceiling", ", 64000, 1048576"),
        Raw::new("lanes3-shallow64k", 3, 1, "ceiling", ", 64000, 1048576"),
        Raw::new("lanes2", 2, 1, "ceiling", ", 262144"),
        Raw::new("lanes3", 3, 1, "ceiling", ", 262144"),
        Raw::new("lanes4", 4, 1, "ceiling", ", 262144"),
        Raw::new("channels3", 1, 3, "ceiling", ", 262144"),
        Raw::new("paced5", 1, 1, "paced", ", 65536, 5"),
        Raw::new("paced8", 1, 1, "paced", ", 65536, 8"),
        Raw::new("lanes3-paced12", 3, 1, "paced", ", 65536, 12"),
        pairdrop_raw(),
        pairdrop_file_raw(),
    ];
    all.extend(shallow_raws());
    let pick = std::env::var("HOMEDROP_BENCH_VARIANTS").unwrap_or_default();
    all.into_iter()
        .filter(|v| pick.is_empty() || pick.split(',').any(|p| p == v.label))
        .collect()
}

/// `HOMEDROP_BENCH_WEB=1048576:262144,...`: the web client too, tuned per run through
/// localStorage: high-water mark of the channel's queue, chunk size (and where the sender
/// resumes, bytes queued; 0 or absent = the client's own).
fn web_tunings() -> Vec<Vec<u32>> {
    std::env::var("HOMEDROP_BENCH_WEB")
        .unwrap_or_default()
        .split(',')
        .map(|t| {
            t.split(':')
                .filter_map(|n| n.parse().ok())
                .collect::<Vec<u32>>()
        })
        .filter(|t| t.len() == 2 || t.len() == 3)
        .collect()
}

/// One tuned web-client run of `explore`.
fn explore_web(
    s: &mut Setup,
    t: &[u32],
    file: &std::path::Path,
    bytes: u64,
    round: usize,
) -> Value {
    let (hwm, chunk, low) = (t[0], t[1], t.get(2).copied().unwrap_or(0));
    s.a.eval(&format!(
        "localStorage.homedropHighWater = '{hwm}'; localStorage.homedropChunk = '{chunk}'; localStorage.homedropLowWater = '{low}'"
    ));
    let p0 = Probe::take(&s.lan);
    let rate = homedrop_run(s, file, "bench.bin", bytes);
    let p1 = Probe::take(&s.lan);
    let (drops, cores) = (p0.drops_to(&p1), p0.cores_to(&p1));
    println!(
        "  round {round} homedrop HWM {hwm}, chunk {chunk}, low {low}: {rate:5.1} MB/s, drops {drops:4}, browsers {cores:.2} cores, line {:.2} ({}-{})",
        p0.line_cores_to(&p1), p0.clock, p1.clock
    );
    json!({"mbps": rate, "drops": drops, "cores": cores})
}

/// Median of the runs' `mbps`, and the entry `explore` writes for them.
fn summary(label: &str, runs: Vec<Value>) -> Value {
    let rates: Vec<f64> = runs.iter().map(|r| r["mbps"].as_f64().unwrap()).collect();
    let m = median(rates);
    println!("explore {label:<15} median {m:.1} MB/s");
    json!({"median": m, "runs": runs})
}

/// `HOMEDROP_BENCH_EXPLORE=1`: raw variants on the 40 ms link, to find what lifts the
/// ceiling: parallel lanes (one RTCPeerConnection each), several channels on one connection,
/// a paced sender, a shallow queue (`shallow*`: 1 MiB high-water mark instead of 12 MiB;
/// `qN-M`: at most N queued in M-byte messages), reverse traffic (`pinged`);
/// `HOMEDROP_BENCH_VARIANTS` picks some, `HOMEDROP_BENCH_WEB` adds web-client tunings
/// (`HOMEDROP_CHROMIUM_LOG=FILE` keeps the browsers' own logs, where dropped sends show).
/// UDP receive-buffer drops, CPU and wire bytes per payload byte are printed for each run as
/// evidence for the cause. Output: bench/out/transfer-explore.json.
pub fn explore(file: &std::path::Path, bytes: u64, rounds: usize) -> Value {
    let (variants, tunings) = (explore_variants(), web_tunings());
    let mut s = Setup::new(Some(40));
    let (mut a, mut b, rtt) = raw_browsers(&s, file);
    println!("explore: measured ICE round-trip time {rtt:.1} ms");
    let mut out: Vec<Vec<Value>> = vec![Vec::new(); variants.len()];
    let mut web: Vec<Vec<Value>> = vec![Vec::new(); tunings.len()];
    for round in 1..=rounds {
        for (i, t) in tunings.iter().enumerate() {
            web[i].push(explore_web(&mut s, t, file, bytes, round));
        }
        for (i, v) in variants.iter().enumerate() {
            prioritize(&s.lan);
            let p0 = Probe::take(&s.lan);
            let (rate, wire) = raw_run(&mut a, &mut b, v, bytes);
            let p1 = Probe::take(&s.lan);
            let (drops, cores) = (p0.drops_to(&p1), p0.cores_to(&p1));
            println!(
                "  round {round} {:<15} {rate:5.1} MB/s, drops {drops:4}, browsers {cores:.2} cores, line {:.2}, wire/payload {wire:.3} ({}-{})",
                v.label, p0.line_cores_to(&p1), p0.clock, p1.clock
            );
            out[i].push(json!({"mbps": rate, "drops": drops, "cores": cores, "wire": wire}));
        }
    }
    let mut res = serde_json::Map::new();
    for (v, runs) in variants.iter().zip(out) {
        res.insert(v.label.to_string(), summary(v.label, runs));
    }
    for (n, runs) in tunings.iter().zip(web) {
        let low = n.get(2).map_or(String::new(), |l| format!("-low{l}"));
        let label = format!("homedrop-hwm{}-chunk{}{low}", n[0], n[1]);
        res.insert(label.clone(), summary(&label, runs));
    }
    json!({"iceRttMs": rtt, "variants": res})
}
