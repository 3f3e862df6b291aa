//! `HOMEDROP_BENCH_FANOUT=1`: one browser sends the same file to three others at once,
//! through the web client's UI (the three device tiles selected, the file picked once: one
//! transfer per device, as a user does it), each browser in its own namespace on the bridge
//! LAN. Reported: the aggregate (3 x the file's bytes / wall time from the first accept to
//! the last verified file) against one receiver (only its tile selected) in the same setup,
//! interleaved round by round. Output: bench/out/transfer-fanout.json.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::netns::Lan;
use crate::support::page::{attr, Page};
use crate::support::setup::serve;
use crate::support::TempDir;
use crate::transfer_probe::{prioritize, Probe};
use crate::{median, MIB};

/// Browsers receiving at once.
const RECEIVERS: usize = 3;

/// One sender (host 0, behind the delay line when there is one, so every receiver sees the
/// added round trip) and `RECEIVERS` receivers on the LAN.
struct Fan {
    lan: Lan,
    a: Page,
    rx: Vec<Page>,
    _state: TempDir,
}

impl Fan {
    fn new(rtt_ms: Option<u32>) -> Fan {
        let mut lan = Lan::new(1 + RECEIVERS);
        if let Some(ms) = rtt_ms {
            lan.delay(0, ms / 2);
        }
        let (url, state) = serve(&mut lan, &[]);
        let open = |ns: &str| {
            let mut p = Page::launch(Some(ns));
            p.open(&url);
            p
        };
        let a = open(&lan.hosts[0]);
        let rx = lan.hosts[1..].iter().map(|ns| open(ns)).collect();
        let mut f = Fan {
            lan,
            a,
            rx,
            _state: state,
        };
        f.wait_listed();
        f
    }

    /// The receivers' device ids, once each page has one.
    fn ids(&mut self) -> Vec<String> {
        let t = Duration::from_secs(30);
        self.rx
            .iter_mut()
            .map(|r| {
                let id = r.wait_for("window.homedrop?.state().id", t);
                id.as_str().expect("a device id").to_string()
            })
            .collect()
    }

    /// Every browser lists the other three, the sender exactly the receivers' current pages.
    fn wait_listed(&mut self) {
        let ids = serde_json::to_string(&self.ids()).unwrap();
        let t = Duration::from_secs(60);
        self.a.wait_for(
            &format!("(() => {{ const l = [...document.querySelectorAll('[data-peer]')].map(e => e.dataset.peerId); return l.length === {RECEIVERS} && {ids}.every(i => l.includes(i)); }})()"),
            t,
        );
        for r in &mut self.rx {
            r.wait_count("[data-peer]", RECEIVERS as u64, t);
        }
        prioritize(&self.lan);
    }

    /// Between runs: every receiver clears its list (deleting the stored chunks) and gets a
    /// new page, so the next run starts on new connections and with nothing selected.
    fn fresh_start(&mut self) {
        for r in &mut self.rx {
            r.eval("document.querySelectorAll('[data-received-file] [data-dismiss]').forEach(b => b.click())");
            r.reload();
        }
        self.wait_listed();
    }

    /// The first `n` receivers get `file` at once: their tiles selected, the file picked
    /// once, each accepting. Returns the aggregate MB/s and each receiver's time (s) from
    /// the first accept until it showed the verified file (polled in turn, so an upper bound).
    fn run(&mut self, n: usize, file: &Path, bytes: u64) -> (f64, Vec<f64>) {
        let ids = self.ids();
        for id in &ids[..n] {
            self.a.click(&attr("[data-peer]", "peer-id", id));
        }
        let pressed = format!(
            "document.querySelectorAll('[data-peer][aria-pressed=\"true\"]').length === {n}"
        );
        self.a.wait_for(&pressed, Duration::from_secs(5));
        self.a.set_files("[data-file-input]", &[file]);
        for r in &mut self.rx[..n] {
            r.wait_hook("[data-request]", Duration::from_secs(30));
        }
        let t = Instant::now();
        for r in &mut self.rx[..n] {
            r.click("[data-accept]");
        }
        let name = file.file_name().unwrap().to_string_lossy();
        let done = attr("[data-received-file]", "name", &name);
        let mut secs = Vec::new();
        for r in &mut self.rx[..n] {
            r.wait_hook(&done, Duration::from_secs(1800));
            secs.push(t.elapsed().as_secs_f64());
        }
        let wall = t.elapsed().as_secs_f64();
        self.fresh_start();
        (n as f64 * bytes as f64 / 1e6 / wall, secs)
    }
}

/// One link: one receiver and then all three, `rounds` times.
fn link(label: &str, rtt_ms: Option<u32>, file: &Path, bytes: u64, rounds: usize) -> Value {
    let mut f = Fan::new(rtt_ms);
    let (mut one, mut all, mut each) = (Vec::new(), Vec::new(), Vec::new());
    let (mut cores, mut drops) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let p0 = Probe::take(&f.lan);
        one.push(f.run(1, file, bytes).0);
        let p1 = Probe::take(&f.lan);
        let (rate, secs) = f.run(RECEIVERS, file, bytes);
        let p2 = Probe::take(&f.lan);
        all.push(rate);
        println!(
            "  {label} round {round}: one receiver {:.1} MB/s, {RECEIVERS} at once {rate:.1} MB/s in all (done after {secs:.1?} s; browsers' CPU {:.2} / {:.2} cores, UDP drops {} / {})",
            one[round - 1], p0.cores_to(&p1), p1.cores_to(&p2), p0.drops_to(&p1), p1.drops_to(&p2)
        );
        each.push(secs);
        cores.push([p0.cores_to(&p1), p1.cores_to(&p2)]);
        drops.push([p0.drops_to(&p1), p1.drops_to(&p2)]);
    }
    let (m1, mn) = (median(one.clone()), median(all.clone()));
    println!(
        "fan-out, {label}, {} MiB: {RECEIVERS} receivers {mn:.1} MB/s in all, one receiver {m1:.1} MB/s: ratio {:.2}",
        bytes / MIB,
        mn / m1
    );
    json!({"one": m1, "aggregate": mn, "ratio": mn / m1,
           "runs": {"one": one, "aggregate": all, "doneSecs": each,
                    "browserCores": cores, "udpReceiveBufferDrops": drops}})
}

/// Both links, or the one `HOMEDROP_BENCH_LINK` names (40 or 0).
pub fn fanout(file: &Path, bytes: u64, rounds: usize, only: Option<&str>) -> Value {
    let mut res = serde_json::Map::new();
    res.insert("receivers".into(), json!(RECEIVERS));
    res.insert("mib".into(), json!(bytes / MIB));
    for (label, delay, key) in [("40 ms RTT", Some(40), "40"), ("no added delay", None, "0")] {
        if only.is_some_and(|o| o != key) {
            continue;
        }
        res.insert(label.into(), link(label, delay, file, bytes, rounds));
    }
    Value::Object(res)
}
