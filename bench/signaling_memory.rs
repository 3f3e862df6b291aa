//! Memory of the release binary under tabs that stop reading while presence churns
//! (issue 12, "memory bounded in bytes").
//!
//! For each run a fresh homedrop (relay and connection check on, as installed) starts on
//! loopback and its idle VmRSS is taken as the baseline. Then N home tabs connect (posing,
//! through `--trusted-proxy 127.0.0.1` and X-Forwarded-For, as N addresses in 10.77.0.0/16:
//! one home group, under the per-source caps), say `hello`, read their first peer list and
//! stop reading, with a 4 KiB receive buffer so the server's writes to them stall at once.
//! One more home connection renames itself 40 times a second for 15 s; every rename gives
//! each tab a new list of N entries. When the server closes it (its rename limit, then its
//! error limit), it reconnects from the next address and goes on, as an attacker would.
//!
//! - **peak**: VmHWM minus the baseline (the process is fresh, so its peak is this run's).
//! - **after**: VmRSS 5 s after every client has gone, minus the baseline (musl and glibc
//!   keep freed heap, so this is what an attack leaves behind).
//!
//! Targets (judged at 100 tabs): peak ≤ +64 MB, after ≤ +32 MB. The 1,000-tab run is
//! reported, not judged. Before this change (queues of 256 messages, whole lists each),
//! 100 tabs took about +400 MB. `cargo bench --bench signaling_memory`; `HOMEDROP_BIN=path`
//! measures another build (e.g. an older one). Results also in
//! `bench/out/signaling_memory.json`; the bench exits non-zero when a target is missed.
//! `HOMEDROP_LARGE_TABS` (default 1000, 0 to skip) sizes the reported run: skip it for a
//! build whose memory grows with N² × its queue length (tens of GB at 1,000 tabs).

// The test harness, shared: public, so the parts this bench leaves unused are not dead code.
#[path = "../tests/support/mod.rs"]
pub mod support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use support::server::{hello_and_first_list, raise_nofile, small_window_client, Server, Tab};

const RENAME_EVERY: Duration = Duration::from_millis(25);
const RENAME_FOR: Duration = Duration::from_secs(15);
const SETTLE: Duration = Duration::from_secs(5);
const PEAK_TARGET_MB: f64 = 64.0;
const AFTER_TARGET_MB: f64 = 32.0;
const JUDGED_TABS: usize = 100;
const MB: f64 = 1e6;

/// What one run measured.
#[derive(Debug, Default)]
struct Figures {
    tabs: usize,
    connected: usize,
    baseline_mb: f64,
    peak_mb: f64,
    after_mb: f64,
    renames_sent: u64,
    renames_refused: u64,
    reconnects: u64,
    tabs_listed_at_end: usize,
}

/// The `i`-th home address (10.77.0.0/16).
fn home(i: usize) -> String {
    format!("10.77.{}.{}", i / 250, 1 + i % 250)
}

/// `n` tabs that said hello, read their first list and read nothing more.
async fn open_tabs(http: SocketAddr, n: usize) -> Vec<Tab> {
    let gate = Arc::new(Semaphore::new(32));
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let gate = gate.clone();
            tokio::spawn(async move {
                let _permit = gate.acquire_owned().await.unwrap();
                let mut ws = small_window_client(http, &home(i)).await;
                let wait = Duration::from_secs(60);
                hello_and_first_list(&mut ws, &format!("Tab {i}"), wait)
                    .await
                    .then_some(ws)
            })
        })
        .collect();
    let mut tabs = Vec::with_capacity(n);
    for t in tasks {
        if let Some(ws) = t.await.unwrap() {
            tabs.push(ws);
        }
    }
    tabs
}

/// Rename at 40/s until `until`, reconnecting from a new address whenever closed; reads
/// everything it is sent. Fills in the rename counts and the last list's length.
async fn rename_storm(http: SocketAddr, until: Instant, f: &mut Figures) {
    let mut n = 0u64;
    while Instant::now() < until {
        let xff = format!("10.78.{}.{}", f.reconnects / 250, 1 + f.reconnects % 250);
        f.reconnects += 1;
        let mut ws = small_window_client(http, &xff).await;
        if !hello_and_first_list(&mut ws, "Renamer", Duration::from_secs(30)).await {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let mut tick = tokio::time::interval(RENAME_EVERY);
        while Instant::now() < until {
            tokio::select! {
                _ = tick.tick() => {
                    n += 1;
                    let m = json!({"type":"rename","name":format!("Renamer {n}")});
                    if ws.send(Message::text(m.to_string())).await.is_err() {
                        break;
                    }
                    f.renames_sent += 1;
                }
                m = ws.next() => match m {
                    Some(Ok(Message::Text(t))) => note(&t, f),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
}

fn note(text: &str, f: &mut Figures) {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    match v["type"].as_str() {
        Some("error") if v["ref"] == "rename" => f.renames_refused += 1,
        Some("peers") => f.tabs_listed_at_end = v["peers"].as_array().map_or(0, |p| p.len()),
        _ => {}
    }
}

/// One run with `tabs` non-reading tabs against a fresh `bin`.
fn run(bin: &Path, tabs: usize, rt: &tokio::runtime::Runtime) -> Figures {
    let server = Server::start(bin, &["--max-connections", "4096"]);
    std::thread::sleep(Duration::from_secs(1));
    let baseline = server.rss() as f64;
    let mut f = Figures {
        tabs,
        baseline_mb: baseline / MB,
        ..Figures::default()
    };
    let t0 = Instant::now();
    let open = rt.block_on(open_tabs(server.http, tabs));
    f.connected = open.len();
    println!(
        "{tabs} tabs: {} connected in {:.1} s, RSS +{:.1} MB",
        f.connected,
        t0.elapsed().as_secs_f64(),
        (server.rss() as f64 - baseline) / MB
    );
    rt.block_on(rename_storm(
        server.http,
        Instant::now() + RENAME_FOR,
        &mut f,
    ));
    f.peak_mb = (server.peak() as f64 - baseline) / MB;
    drop(open);
    std::thread::sleep(SETTLE);
    f.after_mb = (server.rss() as f64 - baseline) / MB;
    println!(
        "{tabs} tabs: baseline {:.1} MB, peak +{:.1} MB, 5 s after they left +{:.1} MB; \
         renames sent {}, refused {}, renamer connections {}, tabs still listed {}",
        f.baseline_mb,
        f.peak_mb,
        f.after_mb,
        f.renames_sent,
        f.renames_refused,
        f.reconnects,
        f.tabs_listed_at_end
    );
    f
}

fn binary() -> PathBuf {
    std::env::var_os("HOMEDROP_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_homedrop")))
}

fn main() {
    let nofile = raise_nofile();
    assert!(nofile > 2_500, "RLIMIT_NOFILE hard limit {nofile} too low");
    let bin = binary();
    println!("binary: {}", bin.display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let judged = run(&bin, JUDGED_TABS, &rt);
    let large_tabs = support::env_u64("HOMEDROP_LARGE_TABS", 1_000) as usize;
    let large = match large_tabs {
        0 => Figures::default(),
        n => run(&bin, n, &rt),
    };
    let pass = judged.peak_mb <= PEAK_TARGET_MB && judged.after_mb <= AFTER_TARGET_MB;
    println!(
        "\n{JUDGED_TABS} tabs: peak +{:.1} MB (target ≤ +{PEAK_TARGET_MB}) {}, after +{:.1} MB \
         (target ≤ +{AFTER_TARGET_MB}) {}; {large_tabs} tabs (reported): peak +{:.1} MB, after +{:.1} MB",
        judged.peak_mb,
        verdict(judged.peak_mb <= PEAK_TARGET_MB),
        judged.after_mb,
        verdict(judged.after_mb <= AFTER_TARGET_MB),
        large.peak_mb,
        large.after_mb
    );
    write_json(&bin, &[&judged, &large], pass);
    if !pass {
        std::process::exit(1);
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "pass"
    } else {
        "FAIL"
    }
}

fn write_json(bin: &Path, runs: &[&Figures], pass: bool) {
    let runs: Vec<Value> = runs
        .iter()
        .map(|f| {
            json!({
                "tabs": f.tabs, "connected": f.connected, "judged": f.tabs == JUDGED_TABS,
                "baselineRssMB": f.baseline_mb, "peakDeltaMB": f.peak_mb,
                "afterDeltaMB": f.after_mb, "renamesSent": f.renames_sent,
                "renamesRefused": f.renames_refused, "renamerConnections": f.reconnects,
                "tabsListedAtEnd": f.tabs_listed_at_end,
            })
        })
        .collect();
    let out = json!({
        "binary": bin.display().to_string(),
        "renamesPerSecond": 1.0 / RENAME_EVERY.as_secs_f64(),
        "renameSeconds": RENAME_FOR.as_secs(),
        "targets": {"peakDeltaMB": PEAK_TARGET_MB, "afterDeltaMB": AFTER_TARGET_MB},
        "withinTargets": pass,
        "runs": runs,
    });
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/out");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("signaling_memory.json");
    std::fs::write(&path, serde_json::to_string_pretty(&out).unwrap()).unwrap();
    println!("wrote {}", path.display());
}
