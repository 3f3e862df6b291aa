//! The transfer bench's runs through homedrop's own UI: one file (`homedrop_run`), and the
//! many-files figure (`many_files`: 200 x 1 MiB against one 200 MiB file).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::files::generate;
use crate::support::page::attr;
use crate::support::setup::Setup;
use crate::support::TempDir;
use crate::transfer_probe::prioritize;
use crate::{median, MIB};

/// MB/s through homedrop's own UI: from accept to the verified file in the list.
pub fn homedrop_run(s: &mut Setup, file: &Path, name: &str, bytes: u64) -> f64 {
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

/// MB/s of one batch of `paths` through homedrop's UI, from accept to the last verified file.
fn batch_run(s: &mut Setup, paths: &[PathBuf], bytes: u64) -> f64 {
    s.a.click("[data-peer]");
    let refs: Vec<&Path> = paths.iter().map(|p| p.as_path()).collect();
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
pub fn many_files(rounds: usize) -> Value {
    let dir = TempDir::new("bench-many");
    let one = dir.0.join("one.bin");
    generate(&one, 200 * MIB, 7);
    let many: Vec<PathBuf> = (1..=200)
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
