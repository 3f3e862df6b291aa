//! Issue 12, attack 2 against the real binary facing the internet: tabs that never read.
//!
//! Before: 100 tabs that never read (from one public address, and again from 100 home
//! addresses) plus one connection sending renames took RSS to about 410 MB, and it stayed
//! above 370 MB after they left (queues bounded by count, each `peers` holding the whole
//! list: N² × 256). The target: peak at most +64 MB over the idle server, at most +32 MB
//! after they go. `bench/signaling_memory.rs` measures the same on loopback, and 1,000 tabs.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::exposed::{household_v4, stranger_v6, Exposed, Side};
use crate::support::server::raise_nofile;
use crate::support::ws::Ws;

const RENAME_FOR: Duration = Duration::from_secs(15);
const RENAME_EVERY: Duration = Duration::from_millis(25);

/// A tab from `from` with a 4 KiB receive window that says hello and then is never read.
async fn stalled_tab(x: &Exposed, side: Side, from: IpAddr, to: SocketAddr) -> Option<Ws> {
    let s = x.tcp_with(side, from, to, Some(4096)).await.ok()?;
    let mut ws = Ws::over(s, &to.to_string(), None).await.ok()?;
    ws.hello("stalled").await;
    Some(ws)
}

/// Renames at 40/s from household addresses until `until`, reconnecting from a new address
/// whenever the server closes the renamer; samples homedrop's RSS. Returns the peak (KiB)
/// and how many renames went out.
async fn rename_storm(x: &Exposed, lan: SocketAddr, until: Instant) -> (u64, u64) {
    let (mut peak, mut sent, mut next_addr) = (0u64, 0u64, 500u16);
    while Instant::now() < until {
        next_addr += 1;
        let mut r = x
            .tab(Side::Home, household_v4(next_addr), lan, "Renamer")
            .await;
        let mut tick = tokio::time::interval(RENAME_EVERY);
        while Instant::now() < until {
            tokio::select! {
                _ = tick.tick() => {
                    peak = peak.max(x.rss_kib());
                    let m = json!({"type":"rename","name":format!("Renamer {sent}")});
                    if r.try_send(m).await.is_err() { break; }
                    sent += 1;
                }
                m = r.try_recv(Duration::from_secs(20)) => if m.is_none() { break },
            }
        }
    }
    (peak, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_tabs_and_a_rename_storm_keep_memory_bounded() {
    raise_nofile();
    let x = Exposed::start(&[]);
    let (lan, wan6) = (x.lan_http(), x.wan_http_v6());
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = x.rss_kib();
    // 100 stalled tabs from one stranger's /64 (its cap admits 64) and 100 from 100
    // household addresses.
    let mut tabs = Vec::new();
    for i in 0..100u64 {
        tabs.extend(stalled_tab(&x, Side::Internet, stranger_v6(5, 1 + i), wan6).await);
    }
    let strangers = tabs.len();
    for i in 0..100u16 {
        tabs.extend(stalled_tab(&x, Side::Home, household_v4(i), lan).await);
    }
    let home = tabs.len() - strangers;
    let (peak, sent) = rename_storm(&x, lan, Instant::now() + RENAME_FOR).await;
    drop(tabs);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after = x.rss_kib();
    // The household is still served.
    let mut mum = x.tab(Side::Home, x.home_ip, lan, "Mum's phone").await;
    let served = mum.expect("peers").await;
    let mb = |kib: u64| kib.saturating_sub(idle) as f64 / 1024.0;
    println!(
        "idle {:.1} MB; {strangers} stranger + {home} household stalled tabs, {sent} renames: \
         peak +{:.1} MB, 5 s after they left +{:.1} MB",
        idle as f64 / 1024.0,
        mb(peak),
        mb(after)
    );
    assert!(home >= 90, "only {home} household tabs connected");
    assert!(mb(peak) <= 64.0, "peak +{:.1} MB", mb(peak));
    assert!(mb(after) <= 32.0, "after +{:.1} MB", mb(after));
    assert_eq!(served["type"], "peers");
}
