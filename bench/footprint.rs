//! Footprint of the release binary, for a Raspberry Pi: start-up time, memory, signaling delay.
//!
//! Each figure is measured for the static x86-64 musl build that ships (the binary inside the
//! amd64 .deb; the aarch64 one for the Pi is the same code), made by `scripts/build-static.sh`,
//! and, for comparison, for the glibc build `cargo build --release` makes for development. The
//! targets judge the shipped build. The glibc build's idle RSS is 2 to 3 MB higher: its RSS
//! also counts the pages of the shared libc, libm and ld.so it maps (about 2 MB, shared with
//! every other process) and glibc's per-thread malloc arenas.
//!
//! - **ready**: from `spawn` to the `READY=1` homedrop sends over `NOTIFY_SOCKET` (sd_notify),
//!   which the bench binds as systemd would; median of 5 starts.
//! - **idle RSS**: VmRSS a second after ready, relay and connection check on (as installed;
//!   the check listens on a free loopback port so a busy 3479 cannot turn it off).
//! - **RSS with 1,000 clients**: 1,000 WebSocket clients connected, each said `hello` and got
//!   its peer list. They pose, through `--trusted-proxy 127.0.0.1` and X-Forwarded-For, as
//!   250 households of 4 devices behind RFC 2544 benchmark addresses (198.18.0.0/15): 1,000
//!   devices in one home group would make every `hello` send a 1,000-entry list to everyone,
//!   which is not what a home or a hosted instance sees. `--max-connections 2048` (default
//!   1024 would leave no headroom); the bench raises RLIMIT_NOFILE for itself and homedrop.
//! - **p99 signal**: two home peers exchange `signal` messages (alternating direction, 25 per
//!   second each, under the 50/s rate limit), timed in this process from send to receipt.
//!   The baseline is the same exchange with no other clients connected.
//!
//! `cargo bench --bench footprint`; results also in `bench/out/footprint.json`. If
//! `target/aarch64-unknown-linux-musl/release/homedrop` and `qemu-aarch64-static` exist, the
//! ready time and idle RSS of the aarch64 build under qemu are printed too (emulated: slower
//! and with qemu's own memory; not comparable, not judged).

// The test harness, shared: public, so the parts this bench leaves unused are not dead code.
#[path = "../tests/support/mod.rs"]
pub mod support;

use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};

use support::server::raise_nofile;
use support::{free_port, procfs, TempDir, Ws};

const CLIENTS: usize = 1_000;
const STARTS: usize = 5;
const PER_HOUSEHOLD: usize = 4;
const SAMPLES: usize = 1_000;
const SIGNAL_EVERY: Duration = Duration::from_millis(20);
const MB: f64 = 1e6;
/// Longest wait for one message with 1,000 clients on this 2-core machine.
const MESSAGE_WAIT: Duration = Duration::from_secs(30);

/// The homedrop process; killed when dropped.
struct Server {
    child: Child,
    http: SocketAddr,
    ready: Duration,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Start `bin` (under `runner`, e.g. qemu) and wait for READY=1 on our notify socket.
    fn start(bin: &Path, runner: Option<&str>, wait: Duration) -> Server {
        let dir = TempDir::new("footprint");
        let notify = UnixDatagram::bind(dir.0.join("notify")).expect("notify socket");
        notify.set_read_timeout(Some(wait)).unwrap();
        let http: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let turn: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let mut cmd = match runner {
            Some(r) => {
                let mut c = Command::new(r);
                c.arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(["--http", &http.to_string(), "--turn", &turn.to_string()])
            .args(["--no-mdns", "--relay-ip", "127.0.0.1", "--log", "warn"])
            .args(["--probe", "127.0.0.1:0"])
            .args(["--turn-secret", "footprint-bench-secret-0123"])
            .args(["--trusted-proxy", "127.0.0.1", "--max-connections", "2048"])
            .arg("--state-dir")
            .arg(dir.0.join("state"))
            .env("NOTIFY_SOCKET", dir.0.join("notify"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let t0 = Instant::now();
        let child = cmd.spawn().expect("spawn homedrop");
        let mut buf = [0u8; 512];
        let ready = loop {
            let n = notify.recv(&mut buf).expect("no READY=1 from homedrop");
            if String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "READY=1")
            {
                break t0.elapsed();
            }
        };
        Server {
            child,
            http,
            ready,
            _dir: dir,
        }
    }

    /// VmRSS (or another /proc status field) in bytes.
    fn status_bytes(&self, field: &str) -> u64 {
        procfs::status_kib(self.child.id(), field).unwrap() * 1024
    }
}

/// Connect (TCP_NODELAY, like browsers), say `hello`, wait for the first `peers`.
async fn connect(http: SocketAddr, xff: Option<String>) -> Ws {
    let mut ws = Ws::connect_nodelay(http, xff.as_deref(), MESSAGE_WAIT).await;
    ws.hello("Bench").await;
    while ws.recv_within(MESSAGE_WAIT).await["type"] != "peers" {}
    ws
}

/// `n` clients in households behind benchmark addresses, connected 64 at a time; each keeps
/// reading (answering pings) until the returned tasks are aborted.
async fn connect_many(http: SocketAddr, n: usize) -> Vec<tokio::task::JoinHandle<()>> {
    let gate = std::sync::Arc::new(Semaphore::new(64));
    let (tx, mut rx) = mpsc::channel::<()>(n);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let (gate, tx) = (gate.clone(), tx.clone());
        let house = i / PER_HOUSEHOLD;
        let ip = format!("198.18.{}.{}", house / 250, 1 + house % 250);
        tasks.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await.unwrap();
            let mut ws = connect(http, Some(ip)).await;
            drop(permit);
            tx.send(()).await.unwrap();
            while let Some(Ok(_)) = ws.ws.next().await {}
        }));
    }
    for _ in 0..n {
        tokio::time::timeout(Duration::from_secs(180), rx.recv())
            .await
            .expect("clients did not all connect within 180 s");
    }
    tasks
}

/// Send `signal` from `a` to `b_id` and time until `b` has it.
async fn one_signal(a: &mut Ws, b: &mut Ws, b_id: &str, seq: usize) -> Duration {
    let msg =
        json!({"type":"signal","to":b_id,"data":{"candidate":{"candidate":"bench","seq":seq}}});
    let t0 = Instant::now();
    a.send(msg).await;
    loop {
        let m = b.recv_within(MESSAGE_WAIT).await;
        assert_ne!(m["type"], "error", "{m}");
        if m["type"] == "signal" && m["data"]["candidate"]["seq"] == seq {
            return t0.elapsed();
        }
    }
}

/// p50/p99/max (ms) of `SAMPLES` signals between two home peers, alternating direction.
async fn signal_latency(http: SocketAddr) -> [f64; 3] {
    let mut a = connect(http, None).await;
    let mut b = connect(http, None).await;
    let (a_id, b_id) = (a.id.clone(), b.id.clone());
    let mut tick = tokio::time::interval(SIGNAL_EVERY);
    let mut samples = Vec::with_capacity(SAMPLES);
    for seq in 0..SAMPLES {
        tick.tick().await;
        let d = if seq % 2 == 0 {
            one_signal(&mut a, &mut b, &b_id, seq).await
        } else {
            one_signal(&mut b, &mut a, &a_id, seq).await
        };
        samples.push(d.as_secs_f64() * 1e3);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).min(SAMPLES) - 1];
    [at(0.50), at(0.99), samples[SAMPLES - 1]]
}

/// Everything measured for one binary.
struct Figures {
    label: String,
    ready_ms: f64,
    idle_mb: f64,
    loaded_mb: f64,
    peak_mb: f64,
    alone: [f64; 3],
    busy: [f64; 3],
}

/// The whole sequence against one binary: ready, idle, signal alone, 1,000 clients.
fn measure(label: &str, bin: &Path, rt: &tokio::runtime::Runtime) -> Figures {
    // Start-up is short and this machine is shared: the median of STARTS starts.
    let mut starts: Vec<f64> = (1..STARTS)
        .map(|_| {
            Server::start(bin, None, Duration::from_secs(10))
                .ready
                .as_secs_f64()
                * 1e3
        })
        .collect();
    let server = Server::start(bin, None, Duration::from_secs(10));
    starts.push(server.ready.as_secs_f64() * 1e3);
    starts.sort_by(f64::total_cmp);
    let ready_ms = starts[STARTS / 2];
    std::thread::sleep(Duration::from_secs(1));
    let idle_mb = server.status_bytes("VmRSS:") as f64 / MB;
    println!(
        "{label}: ready in {ready_ms:.1} ms (median of {STARTS}, max {:.1}), idle RSS {idle_mb:.2} MB ({})",
        starts[STARTS - 1],
        bin.display()
    );
    let alone = rt.block_on(signal_latency(server.http));
    let t0 = Instant::now();
    let clients = rt.block_on(connect_many(server.http, CLIENTS));
    println!(
        "{label}: {CLIENTS} clients connected in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    std::thread::sleep(Duration::from_secs(2));
    let connected = server.status_bytes("VmRSS:") as f64 / MB;
    let busy = rt.block_on(signal_latency(server.http));
    let loaded_mb = connected.max(server.status_bytes("VmRSS:") as f64 / MB);
    let peak_mb = server.status_bytes("VmHWM:") as f64 / MB;
    for t in &clients {
        t.abort();
    }
    Figures {
        label: label.to_string(),
        ready_ms,
        idle_mb,
        loaded_mb,
        peak_mb,
        alone,
        busy,
    }
}

/// The label of the judged build: what the .deb and the README's deploy steps ship.
const SHIPPED: &str = "shipped static musl";

/// Judged figures: name, target, unit, and how to read it from [`Figures`].
type Judged = (&'static str, f64, &'static str, fn(&Figures) -> f64);
const JUDGED: [Judged; 4] = [
    ("start to READY=1", 100.0, "ms", |f| f.ready_ms),
    ("idle RSS", 10.0, "MB", |f| f.idle_mb),
    ("RSS, 1000 clients", 30.0, "MB", |f| f.loaded_mb),
    ("p99 signal relay, 1000 clients", 5.0, "ms", |f| f.busy[1]),
];

fn print_table(all: &[Figures]) {
    print!("\n{:<32} {:>9}", "footprint", "target");
    for f in all {
        print!(" {:>22}", f.label);
    }
    println!();
    for (name, target, unit, get) in JUDGED {
        print!("{name:<32} {target:>6.1} {unit}");
        for f in all {
            let v = get(f);
            let verdict = match (f.label == SHIPPED, v <= target) {
                (true, true) => "pass",
                (true, false) => "FAIL",
                (false, _) => "(info)",
            };
            print!(" {:>12.2} {unit} {verdict:>6}", v);
        }
        println!();
    }
    for f in all {
        println!(
            "{}: signal p50/p99/max alone {:.3}/{:.3}/{:.3} ms, with {CLIENTS} {:.3}/{:.3}/{:.3} ms; \
             ratios: RSS {CLIENTS} clients / idle {:.1}, p99 with {CLIENTS} / alone {:.2}; peak RSS {:.2} MB",
            f.label, f.alone[0], f.alone[1], f.alone[2], f.busy[0], f.busy[1], f.busy[2],
            f.loaded_mb / f.idle_mb, f.busy[1] / f.alone[1], f.peak_mb
        );
    }
}

/// The aarch64 build under qemu, when both are here: (ready ms, idle RSS MB).
fn qemu_figures(bin: &Path) -> Option<(f64, f64)> {
    let qemu_ok = Command::new("qemu-aarch64-static")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !bin.exists() || !qemu_ok {
        println!(
            "(aarch64 under qemu skipped: no {} or qemu-aarch64-static)",
            bin.display()
        );
        return None;
    }
    let s = Server::start(bin, Some("qemu-aarch64-static"), Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    Some((
        s.ready.as_secs_f64() * 1e3,
        s.status_bytes("VmRSS:") as f64 / MB,
    ))
}

fn main() {
    let nofile = raise_nofile();
    assert!(
        nofile > CLIENTS as u64 + 100,
        "RLIMIT_NOFILE hard limit {nofile} too low"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let mut all = Vec::new();
    // The shipped build (scripts/build-static.sh), judged.
    let musl = target.join("x86_64-unknown-linux-musl/release/homedrop");
    if musl.exists() {
        all.push(measure(SHIPPED, &musl, &rt));
    } else {
        println!("(the shipped static build is missing: run scripts/build-static.sh --no-deb)");
    }
    all.push(measure(
        "dev glibc (reported)",
        Path::new(env!("CARGO_BIN_EXE_homedrop")),
        &rt,
    ));
    print_table(&all);
    let qemu = qemu_figures(&target.join("aarch64-unknown-linux-musl/release/homedrop"));
    if let Some((r, m)) = qemu {
        println!("aarch64 under qemu (emulated, not judged): ready {r:.1} ms, idle RSS {m:.2} MB");
    }
    write_json(&all, qemu);
}

fn write_json(all: &[Figures], qemu: Option<(f64, f64)>) {
    let binaries: Vec<Value> = all
        .iter()
        .map(|f| {
            let judged: Vec<Value> = JUDGED
                .iter()
                .map(|(n, t, u, get)| json!({"name": n, "value": get(f), "target": t, "unit": u, "withinTarget": get(f) <= *t}))
                .collect();
            json!({
                "binary": f.label,
                "shippedAndJudged": f.label == SHIPPED,
                "figures": judged,
                "signalAloneMs": {"p50": f.alone[0], "p99": f.alone[1], "max": f.alone[2]},
                "signalLoadedMs": {"p50": f.busy[0], "p99": f.busy[1], "max": f.busy[2]},
                "peakRssMB": f.peak_mb,
            })
        })
        .collect();
    let out = json!({
        "clients": CLIENTS,
        "samples": SAMPLES,
        "binaries": binaries,
        "qemuAarch64": qemu.map(|(r, m)| json!({"readyMs": r, "idleRssMB": m})),
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/out");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("footprint.json");
    std::fs::write(&path, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    println!("wrote {}", path.display());
}
