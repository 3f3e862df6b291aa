//! Churn soak against the release binary: 1,000 clients connect, say `hello`, join a room,
//! leave it and close, round after round, for about two minutes; the server's RSS after
//! warm-up must stay flat within 2 MB.
//!
//! 40 home devices (10.66.0.0/24) each hold a room open and keep reading. Each round, 1,000
//! clients posing as internet devices (198.18.0.0/15 through X-Forwarded-For, one address
//! each, rotated over 4,000 so no address exceeds the join limit) run one cycle, 200 at a
//! time. RSS is read between rounds, when only the room holders are connected: what a
//! round leaves behind (a session, a queue, a registry entry, a room member, a limiter
//! key) shows as a climb from round to round. Warm-up (the allocator's arenas and the
//! registry's maps reaching their working size) is the first 40 s. Then the lowest of the
//! first five samples is compared with the lowest of the last five: a sample can be high
//! for a while (heap freed but not yet given back to the kernel), but a leak raises them
//! all. A deliberate leak of 1 KiB per `hello` failed it (+36 MB over 30 samples).
//! `HOMEDROP_SOAK_SECS` (default 120) sets the total time; `HOMEDROP_SOAK_BIN` soaks another
//! build (an older one, or one with a deliberate leak to see the test fail).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

use crate::support::server::{raise_nofile, Server};
use crate::support::{env_u64, http_get, release_binary, Ws};

const CLIENTS: usize = 1_000;
const ROOMS: usize = 40;
const IN_FLIGHT: usize = 200;
const ADDRESSES: usize = 4 * CLIENTS;
const WARM_UP: Duration = Duration::from_secs(40);
/// Shortest round: an address is reused every 4 rounds, so at most 7.5 joins a minute.
const MIN_ROUND: Duration = Duration::from_secs(2);
const FLAT_WITHIN: u64 = 2 * 1024 * 1024;
const WAIT: Duration = Duration::from_secs(30);

/// A room holder: a home device that created a room and keeps reading until aborted.
async fn hold_room(http: SocketAddr, i: usize) -> (String, tokio::task::JoinHandle<()>) {
    let mut ws = Ws::connect_nodelay(http, Some(&format!("10.66.0.{}", i + 1)), WAIT).await;
    ws.hello(&format!("Holder {i}")).await;
    ws.send(json!({"type":"roomCreate","capacity":50})).await;
    let code = loop {
        let m = ws.recv_within(WAIT).await;
        assert_ne!(m["type"], "error", "{m}");
        if m["type"] == "roomJoined" {
            break m["code"].as_str().unwrap().to_string();
        }
    };
    let task = tokio::spawn(async move {
        while let Some(m) = ws.ws.next().await {
            match m {
                Ok(Message::Close(f)) => panic!("room holder {i} closed by the server: {f:?}"),
                Err(e) => panic!("room holder {i}: {e}"),
                Ok(_) => {}
            }
        }
    });
    (code, task)
}

/// Read until `ty`, failing on an error.
async fn until(ws: &mut Ws, ty: &str) {
    loop {
        let m = ws.recv_within(WAIT).await;
        assert_ne!(m["type"], "error", "while waiting for {ty}: {m}");
        if m["type"] == ty {
            return;
        }
    }
}

/// One client's cycle: connect as `ip`, hello, join `code`, leave, close.
async fn cycle(http: SocketAddr, ip: String, code: String) {
    let mut ws = Ws::connect_nodelay(http, Some(&ip), WAIT).await;
    ws.hello("Visitor").await;
    until(&mut ws, "peers").await;
    ws.send(json!({"type":"roomJoin","code":code})).await;
    until(&mut ws, "roomJoined").await;
    ws.send(json!({"type":"roomLeave","code":code})).await;
    until(&mut ws, "roomLeft").await;
    let _ = ws.ws.close(None).await;
}

/// One round: every client runs one cycle, `IN_FLIGHT` at a time.
async fn round(http: SocketAddr, n: usize, codes: &[String]) {
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let a = (i + n * CLIENTS) % ADDRESSES;
            let ip = format!("198.18.{}.{}", a / 250, 1 + a % 250);
            let code = codes[i % codes.len()].clone();
            let gate = gate.clone();
            tokio::spawn(async move {
                let _p = gate.acquire_owned().await.unwrap();
                cycle(http, ip, code).await;
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("a client's cycle failed");
    }
}

/// Open signaling connections, from `/stats`.
async fn peers(http: SocketAddr) -> u64 {
    let (_, _, body) = http_get(http, "/stats", "").await;
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["peers"].as_u64().unwrap()
}

const FLOOR_OF: usize = 5;

fn floor(v: &[u64]) -> u64 {
    v.iter().copied().min().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn churn_of_1000_clients_leaves_rss_flat() {
    assert!(raise_nofile() > 1_500, "RLIMIT_NOFILE too low");
    let total = Duration::from_secs(env_u64("HOMEDROP_SOAK_SECS", 120));
    let bin = std::env::var_os("HOMEDROP_SOAK_BIN").map_or_else(release_binary, Into::into);
    let server = Server::start(&bin, &["--max-connections", "4096", "--log", "warn"]);
    let http = server.http;
    let mut codes = Vec::new();
    let mut holders = Vec::new();
    for i in 0..ROOMS {
        let (code, task) = hold_room(http, i).await;
        codes.push(code);
        holders.push(task);
    }
    let t0 = Instant::now();
    let mut samples = Vec::new();
    let mut n = 0;
    while t0.elapsed() < total {
        let started = Instant::now();
        round(http, n, &codes).await;
        n += 1;
        tokio::time::sleep(
            MIN_ROUND
                .saturating_sub(started.elapsed())
                .max(Duration::from_secs(1)),
        )
        .await;
        // Every visitor's session has ended: only the room holders are left.
        assert_eq!(peers(http).await, ROOMS as u64, "after round {n}");
        if t0.elapsed() >= WARM_UP {
            samples.push(server.rss());
        }
    }
    for t in holders {
        t.abort();
    }
    let mb = |b: u64| b as f64 / 1e6;
    let shown: Vec<String> = samples.iter().map(|&b| format!("{:.2}", mb(b))).collect();
    println!(
        "{n} rounds of {CLIENTS} cycles; RSS after warm-up (MB): {}",
        shown.join(" ")
    );
    assert!(
        samples.len() >= 2 * FLOOR_OF,
        "too few rounds after warm-up: {}",
        samples.len()
    );
    let first = floor(&samples[..FLOOR_OF]);
    let last = floor(&samples[samples.len() - FLOOR_OF..]);
    assert!(
        last <= first + FLAT_WITHIN,
        "RSS grew {:.2} MB after warm-up ({:.2} -> {:.2} MB)",
        mb(last.saturating_sub(first)),
        mb(first),
        mb(last)
    );
}
