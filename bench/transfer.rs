//! Transfer throughput, printed as ratios measured in one run (never a timed test).
//!
//! Two headless Chromium processes in two network namespaces on a bridge LAN, homedrop on
//! the router. For each link (40 ms RTT, then no added delay) and 256 MiB:
//! - `homedrop`: the real web client, through its UI (hashing both sides, disk path).
//! - `ceiling`: a raw data channel, one sender pushing maximum-size messages with a deep
//!   buffer, no hashing, the receiver discarding.
//! - `pairdrop`: PairDrop's protocol rebuilt here: 64,000-byte chunks, and after each
//!   1,000,000-byte partition the sender waits for the receiver's acknowledgement. Sent
//!   from memory: the protocol alone, the baseline.
//! - `pairdropFile`: the same, but each chunk is first read from the file with a FileReader,
//!   one read at a time, as PairDrop's sender (its FileChunker) does; homedrop reads the
//!   file too. Reported beside the baseline, not instead of it.
//!
//! Each variant runs `HOMEDROP_BENCH_ROUNDS` times (default 2), interleaved, and the median
//! is reported. The 40 ms link is the test-support delay line (this kernel has no netem):
//! 20 ms each way on one browser's link, so each frame crosses one line (the line's CPU comes
//! out of the browsers' share of this 2-core machine).
//!
//! Run as root: `cargo bench --bench transfer` (set `HOMEDROP_BENCH_MIB` to change the size;
//! `HOMEDROP_BENCH_SWEEP=1` measures only the raw ceiling against round-trip time;
//! `HOMEDROP_BENCH_EXPLORE=1` measures raw variants at 40 ms, see `explore`).

// The test harness, shared: public, so the parts this bench leaves unused are not dead code.
#[path = "../tests/support/mod.rs"]
pub mod support;

mod sdp;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::browser::Browser;
use support::env_u64;
use support::files::generate;
use support::netns::rcvbuf_errors;
use support::page::attr;
use support::procfs;
use support::setup::Setup;

const MIB: u64 = 1024 * 1024;

/// Raw data channels between two browsers, SDP carried by the driver (`sdp.rs`).
const RAW_JS: &str = include_str!("transfer.js");

/// Names of the raw connections a variant may use (lane 0 is `raw`).
const LANE_NAMES: [&str; 4] = ["raw", "raw1", "raw2", "raw3"];

/// One raw variant: `lanes` RTCPeerConnections (each its own SCTP association and
/// congestion window) with `channels` data channels each; the sender runs
/// `rawSend.<mode>(channels, bytes<args>)` over all their channels.
struct Raw {
    label: &'static str,
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

/// The ceiling: one sender, one channel, `size`-byte messages, deep buffer.
fn ceiling_raw(size: u32) -> Raw {
    Raw::new("ceiling", 1, 1, "ceiling", &format!(", {size}"))
}

/// The PairDrop baseline: the protocol alone, chunks sent from memory.
fn pairdrop_raw() -> Raw {
    Raw::new("pairdrop", 1, 1, "pairdrop", "")
}

/// PairDrop as it ships: the same protocol, each chunk read from the file (one FileReader
/// read at a time) before it is sent, as homedrop's sender reads the file too.
fn pairdrop_file_raw() -> Raw {
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
fn raw_run(a: &mut Browser, b: &mut Browser, v: &Raw, bytes: u64) -> (f64, f64) {
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

/// MB/s through homedrop's own UI: from accept to the verified file in the list.
fn homedrop_run(s: &mut Setup, file: &std::path::Path, name: &str, bytes: u64) -> f64 {
    s.a.click("[data-peer]");
    s.offer(&[file]);
    let t = Instant::now();
    s.b.click("[data-accept]");
    let sel = attr("[data-received-file]", "name", name);
    s.b.wait_hook(&sel, Duration::from_secs(1800));
    let secs = t.elapsed().as_secs_f64();
    fresh_start(s);
    bytes as f64 / 1e6 / secs
}

/// Between UI runs: clear the received list (deletes stored chunks) so runs stay
/// independent, and give B a new page so the next run starts on a new connection (as raw
/// runs do).
fn fresh_start(s: &mut Setup) {
    s.b.eval(
        "document.querySelectorAll('[data-received-file] [data-dismiss]').forEach(b => b.click())",
    );
    let old = s.a.data("[data-peer]", "peer-id");
    s.b.reload();
    s.a.wait_for(
        &format!(
            "[...document.querySelectorAll('[data-peer]')].filter(e => e.dataset.peerId !== {old}).length === 1 && document.querySelectorAll('[data-peer]').length === 1"
        ),
        Duration::from_secs(30),
    );
    s.b.wait_count("[data-peer]", 1, Duration::from_secs(30));
    prioritize(&s.lan);
}

/// UDP datagrams the hosts' kernels dropped because a socket's receive buffer was full
/// (`RcvbufErrors` in each host namespace's /proc/net/snmp): Chromium asks for small UDP
/// buffers, so this is where SCTP packets get lost when a browser falls behind.
fn udp_drops(lan: &support::netns::Lan) -> u64 {
    lan.hosts.iter().map(|ns| rcvbuf_errors(ns)).sum()
}

/// The processes in the hosts' namespaces (the browsers), as `ip netns pids` lists them.
fn host_pids(lan: &support::netns::Lan) -> Vec<String> {
    let mut pids = Vec::new();
    for ns in &lan.hosts {
        let out = std::process::Command::new("ip")
            .args(["netns", "pids", ns])
            .output()
            .expect("ip netns pids");
        pids.extend(
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_owned),
        );
    }
    pids
}

/// Run every process in the hosts' namespaces (the four browsers) at nice -10, and their
/// network services under SCHED_FIFO. This machine
/// is shared; a browser that waits for a CPU overflows the small UDP receive buffer Chromium
/// asks for (128 KiB), and each lost SCTP packet halves the congestion window, which regrows
/// by one packet per round trip: at 40 ms that noise, not the protocol, would set the
/// numbers. All variants get the same treatment.
fn prioritize(lan: &support::netns::Lan) {
    for pid in host_pids(lan) {
        let pid = pid.as_str();
        // Nice values are per thread on Linux: every thread of the process.
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        let tids: Vec<String> = tasks
            .flatten()
            .map(|t| t.file_name().to_string_lossy().into_owned())
            .collect();
        let _ = std::process::Command::new("renice")
            .args(["-n", "-10", "-p"])
            .args(&tids)
            .stdout(std::process::Stdio::null())
            .status();
        // The network service reads the UDP sockets: real-time, as if it had a core of
        // its own (it only moves packets to the renderer, so it cannot hog one), and above
        // the delay line's threads (priority 10), which otherwise kept a receiving browser
        // from its socket long enough to overflow Chromium's 128 KiB buffer.
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("network.mojom.NetworkService") {
            let _ = std::process::Command::new("chrt")
                .args(["-a", "-f", "-p", "20", pid])
                .stdout(std::process::Stdio::null())
                .status();
        }
    }
}

/// Counters of the hosts' namespaces at one moment, to diff around a run.
struct Probe {
    drops: u64,
    cpu_secs: f64,
    /// CPU used by this process: the delay line's threads, next to nothing else.
    line_secs: f64,
    at: Instant,
    /// Wall-clock time of day (UTC, HHMMSS as Chromium's log stamps it), to match a run
    /// with the browsers' own log (`HOMEDROP_CHROMIUM_LOG`).
    clock: String,
}

impl Probe {
    fn take(lan: &support::netns::Lan) -> Probe {
        Probe {
            drops: udp_drops(lan),
            cpu_secs: cpu_secs(lan),
            line_secs: own_cpu_secs(),
            at: Instant::now(),
            clock: clock(),
        }
    }

    fn drops_to(&self, later: &Probe) -> u64 {
        later.drops - self.drops
    }

    /// CPU used by the browsers between the two probes, in cores (2.0 = both of this VM's).
    fn cores_to(&self, later: &Probe) -> f64 {
        (later.cpu_secs - self.cpu_secs) / later.at.duration_since(self.at).as_secs_f64()
    }

    /// CPU used by the delay line between the two probes, in cores.
    fn line_cores_to(&self, later: &Probe) -> f64 {
        (later.line_secs - self.line_secs) / later.at.duration_since(self.at).as_secs_f64()
    }
}

/// CPU seconds (user + system) this process has used, all threads.
fn own_cpu_secs() -> f64 {
    // SAFETY: rusage is plain data; getrusage fills it for RUSAGE_SELF.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: u is a live rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// The time of day, UTC, as HHMMSS.
fn clock() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        % 86400;
    format!("{:02}{:02}{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// CPU seconds (user + system) used so far by every process in the hosts' namespaces.
fn cpu_secs(lan: &support::netns::Lan) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let mut ticks = 0u64;
    for pid in host_pids(lan) {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        ticks += procfs::cpu_ticks(&stat).unwrap_or(0);
    }
    ticks as f64 / hz
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (v[(n - 1) / 2] + v[n / 2]) / 2.0
}

/// Two more browsers on the LAN for the raw runs, connected; and the measured ICE RTT (ms).
fn raw_browsers(s: &Setup, file: &std::path::Path) -> (Browser, Browser, f64) {
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
fn sweep(file: &std::path::Path, bytes: u64, rounds: usize) -> Value {
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

/// `HOMEDROP_BENCH_EXPLORE=1`: raw variants on the 40 ms link, to find what lifts the
/// ceiling: parallel lanes (one RTCPeerConnection each), several channels on one connection,
/// a paced sender, a shallow queue (`shallow*`: 1 MiB high-water mark instead of 12 MiB;
/// `qN-M`: at most N queued in M-byte messages), reverse traffic (`pinged`);
/// `HOMEDROP_BENCH_VARIANTS` picks some, `HOMEDROP_BENCH_WEB` adds web-client tunings
/// (`HOMEDROP_CHROMIUM_LOG=FILE` keeps the browsers' own logs, where dropped sends show).
/// UDP receive-buffer drops, CPU and wire bytes per payload byte are printed for each run as
/// evidence for the cause. Output: bench/out/transfer-explore.json.
fn explore(file: &std::path::Path, bytes: u64, rounds: usize) -> Value {
    let all = [
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
        Raw::new("q256k-16k", 1, 1, "ceiling", ", 16384, 262144"),
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
    // HOMEDROP_BENCH_VARIANTS=ceiling,lanes2,...: only these.
    let pick = std::env::var("HOMEDROP_BENCH_VARIANTS").unwrap_or_default();
    let variants: Vec<Raw> = all
        .into_iter()
        .filter(|v| pick.is_empty() || pick.split(',').any(|p| p == v.label))
        .collect();
    // HOMEDROP_BENCH_WEB=1048576:262144,...: the web client too, tuned per run through
    // localStorage: high-water mark of the channel's queue, chunk size.
    let tunings: Vec<Vec<u32>> = std::env::var("HOMEDROP_BENCH_WEB")
        .unwrap_or_default()
        .split(',')
        .map(|t| {
            t.split(':')
                .filter_map(|n| n.parse().ok())
                .collect::<Vec<u32>>()
        })
        .filter(|t| t.len() == 2 || t.len() == 3)
        .collect();
    let mut s = Setup::new(Some(40));
    let (mut a, mut b, rtt) = raw_browsers(&s, file);
    println!("explore: measured ICE round-trip time {rtt:.1} ms");
    let mut out: Vec<Vec<Value>> = vec![Vec::new(); variants.len()];
    let mut web: Vec<Vec<Value>> = vec![Vec::new(); tunings.len()];
    for round in 1..=rounds {
        for (i, t) in tunings.iter().enumerate() {
            let (hwm, chunk) = (t[0], t[1]);
            // A third number: where the sender resumes (bytes queued); 0 = the client's own.
            let low = t.get(2).copied().unwrap_or(0);
            s.a.eval(&format!(
                "localStorage.homedropHighWater = '{hwm}'; localStorage.homedropChunk = '{chunk}'; localStorage.homedropLowWater = '{low}'"
            ));
            let p0 = Probe::take(&s.lan);
            let rate = homedrop_run(&mut s, file, "bench.bin", bytes);
            let p1 = Probe::take(&s.lan);
            let (drops, cores) = (p0.drops_to(&p1), p0.cores_to(&p1));
            println!(
                "  round {round} homedrop HWM {hwm}, chunk {chunk}, low {low}: {rate:5.1} MB/s, drops {drops:4}, browsers {cores:.2} cores, line {:.2} ({}-{})",
                p0.line_cores_to(&p1), p0.clock, p1.clock
            );
            web[i].push(json!({"mbps": rate, "drops": drops, "cores": cores}));
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
        let rates: Vec<f64> = runs.iter().map(|r| r["mbps"].as_f64().unwrap()).collect();
        let m = median(rates);
        println!("explore {:<15} median {m:.1} MB/s", v.label);
        res.insert(v.label.to_string(), json!({"median": m, "runs": runs}));
    }
    for (n, runs) in tunings.iter().zip(web) {
        let rates: Vec<f64> = runs.iter().map(|r| r["mbps"].as_f64().unwrap()).collect();
        let m = median(rates);
        let low = n.get(2).map_or(String::new(), |l| format!("-low{l}"));
        let label = format!("homedrop-hwm{}-chunk{}{low}", n[0], n[1]);
        println!("explore {label} median {m:.1} MB/s");
        res.insert(label, json!({"median": m, "runs": runs}));
    }
    json!({"iceRttMs": rtt, "variants": res})
}

/// One link: every variant `rounds` times, interleaved so background load hits all alike.
fn measure(
    label: &str,
    delay: Option<u32>,
    file: &std::path::Path,
    bytes: u64,
    rounds: usize,
) -> Value {
    let mut s = Setup::new(delay);
    let (mut a, mut b, rtt) = raw_browsers(&s, file);
    println!("{label}: measured ICE round-trip time {rtt:.1} ms");
    let raws = [ceiling_raw(262144), pairdrop_raw(), pairdrop_file_raw()];
    // Per variant (homedrop first, then `raws`): rates; per raw variant: wire bytes.
    let mut rates = vec![Vec::new(); 4];
    let mut wire = vec![Vec::new(); 3];
    let (mut drops, mut cores, mut line) = ([0u64; 4], Vec::new(), Vec::new());
    for round in 1..=rounds {
        let mut probes = vec![Probe::take(&s.lan)];
        rates[0].push(homedrop_run(&mut s, file, "bench.bin", bytes));
        probes.push(Probe::take(&s.lan));
        for (i, v) in raws.iter().enumerate() {
            let (rate, over) = raw_run(&mut a, &mut b, v, bytes);
            rates[i + 1].push(rate);
            wire[i].push(over);
            probes.push(Probe::take(&s.lan));
        }
        let d: Vec<u64> = probes.windows(2).map(|p| p[0].drops_to(&p[1])).collect();
        let c: Vec<f64> = probes.windows(2).map(|p| p[0].cores_to(&p[1])).collect();
        let l: Vec<f64> = probes
            .windows(2)
            .map(|p| p[0].line_cores_to(&p[1]))
            .collect();
        d.iter().zip(&mut drops).for_each(|(d, sum)| *sum += d);
        let r: Vec<f64> = rates.iter().map(|r| r[round - 1]).collect();
        let w: Vec<f64> = wire.iter().map(|w| w[round - 1]).collect();
        println!(
            "  round {round}: homedrop {:.1}, ceiling {:.1}, PairDrop {:.1}, PairDrop reading the file {:.1} MB/s (UDP receive-buffer drops {d:?}; browsers' CPU {c:.2?} cores, delay line's {l:.2?}; wire bytes per payload byte (raw) {w:.3?})",
            r[0], r[1], r[2], r[3]
        );
        cores.push(c);
        line.push(l);
    }
    let m: Vec<f64> = rates.iter().map(|r| median(r.clone())).collect();
    println!(
        "{label}, {} MiB (median of {rounds}): homedrop {:.1} MB/s, raw ceiling {:.1} MB/s, PairDrop protocol {:.1} MB/s, PairDrop reading the file {:.1} MB/s",
        bytes / MIB, m[0], m[1], m[2], m[3]
    );
    println!(
        "  homedrop / ceiling = {:.2} (target >= 0.85); homedrop / PairDrop = {:.2} (target >= 1.5 at 40 ms); homedrop / PairDrop reading the file = {:.2}",
        m[0] / m[1],
        m[0] / m[2],
        m[0] / m[3]
    );
    let runs = json!({"homedrop": rates[0], "ceiling": rates[1], "pairdrop": rates[2],
                      "pairdropFile": rates[3], "udpReceiveBufferDrops": drops,
                      "browserCores": cores, "delayLineCores": line,
                      "wirePerPayload": {"ceiling": wire[0], "pairdrop": wire[1],
                                         "pairdropFile": wire[2]}});
    json!({"iceRttMs": rtt, "homedrop": m[0], "ceiling": m[1], "pairdrop": m[2],
           "pairdropFile": m[3], "vsCeiling": m[0] / m[1], "vsPairdrop": m[0] / m[2],
           "vsPairdropFile": m[0] / m[3], "runs": runs})
}

/// MB/s of one batch of `paths` through homedrop's UI, from accept to the last verified file.
fn batch_run(s: &mut Setup, paths: &[std::path::PathBuf], bytes: u64) -> f64 {
    s.a.click("[data-peer]");
    let refs: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    s.offer(&refs);
    let t = Instant::now();
    s.b.click("[data-accept]");
    s.b.wait_count(
        "[data-received-file]",
        paths.len() as u64,
        Duration::from_secs(1800),
    );
    let secs = t.elapsed().as_secs_f64();
    fresh_start(s);
    bytes as f64 / 1e6 / secs
}

/// Issue 14's many-files figure: 200 x 1 MiB against one 200 MiB file, interleaved in the
/// same run, on each link; the ratio's target is >= 0.9.
fn many_files(rounds: usize) -> Value {
    let dir = support::TempDir::new("bench-many");
    let one = dir.0.join("one.bin");
    generate(&one, 200 * MIB, 7);
    let many: Vec<std::path::PathBuf> = (1..=200)
        .map(|i| {
            let p = dir.0.join(format!("f{i:03}.bin"));
            generate(&p, MIB, 100 + i);
            p
        })
        .collect();
    let mut res = serde_json::Map::new();
    for (label, delay) in [("40 ms RTT", Some(40)), ("no added delay", None)] {
        let mut s = Setup::new(delay);
        prioritize(&s.lan);
        let (mut r1, mut rn) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            r1.push(batch_run(&mut s, std::slice::from_ref(&one), 200 * MIB));
            rn.push(batch_run(&mut s, &many, 200 * MIB));
            println!(
                "  {label} round {round}: one 200 MiB file {:.1} MB/s, 200 x 1 MiB {:.1} MB/s",
                r1[round - 1],
                rn[round - 1]
            );
        }
        let (m1, mn) = (median(r1.clone()), median(rn.clone()));
        println!("many files, {label}: 200 x 1 MiB / one 200 MiB = {:.2} (target >= 0.9; {mn:.1} vs {m1:.1} MB/s)", mn / m1);
        res.insert(
            label.into(),
            json!({"one": m1, "many": mn, "ratio": mn / m1, "runs": {"one": r1, "many": rn}}),
        );
    }
    Value::Object(res)
}

fn main() {
    let (mib, rounds) = (
        env_u64("HOMEDROP_BENCH_MIB", 256),
        env_u64("HOMEDROP_BENCH_ROUNDS", 2),
    );
    let bytes = mib * MIB;
    let dir = support::TempDir::new("bench");
    let file = dir.0.join("bench.bin");
    generate(&file, bytes, 42);
    let _ = std::fs::create_dir_all("bench/out");
    if std::env::var_os("HOMEDROP_BENCH_SWEEP").is_some() {
        let r = sweep(&file, bytes, rounds as usize);
        let text = serde_json::to_string_pretty(&r).unwrap();
        let _ = std::fs::write("bench/out/rtt-sweep.json", text);
        return;
    }
    let many = many_files(rounds as usize);
    let _ = std::fs::write(
        "bench/out/transfer-many.json",
        serde_json::to_string_pretty(&many).unwrap(),
    );
    if std::env::var_os("HOMEDROP_BENCH_MANY").is_some() {
        return;
    }
    if std::env::var_os("HOMEDROP_BENCH_EXPLORE").is_some() {
        let r = explore(&file, bytes, rounds as usize);
        let text = serde_json::to_string_pretty(&r).unwrap();
        let _ = std::fs::write("bench/out/transfer-explore.json", text);
        return;
    }
    // HOMEDROP_BENCH_LINK=40 or =0: only that link; the other's last result is kept.
    let only = std::env::var("HOMEDROP_BENCH_LINK").ok();
    let path = "bench/out/transfer.json";
    let mut results = match &only {
        Some(_) => std::fs::read_to_string(path)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Map<String, Value>>(&t).ok())
            .unwrap_or_default(),
        None => serde_json::Map::new(),
    };
    for (label, delay, key) in [("40 ms RTT", Some(40), "40"), ("no added delay", None, "0")] {
        if only.as_deref().is_some_and(|o| o != key) {
            continue;
        }
        let r = measure(label, delay, &file, bytes, rounds as usize);
        results.insert(label.to_string(), r);
        // Written after each link, so a later failure does not lose this one.
        let text = serde_json::to_string_pretty(&Value::Object(results.clone())).unwrap();
        let _ = std::fs::write(path, text);
    }
}
