//! Issue 14's many-files path through the real UI: 200 files in one batch arrive verified,
//! 200 Save taps without a pause lose nothing, and "Save all" gives one ZIP that `unzip`
//! accepts, made without the receiving browser's memory growing with it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::files::{generate, sha256_file};
use crate::support::page::attr;
use crate::support::procfs::RssWatch;
use crate::support::setup::Setup;
use crate::support::{one_browser_at_a_time, TempDir};

const MIB: u64 = 1024 * 1024;

/// `n` files of 1 MiB (`f001.bin`...), with their SHA-256 by name.
fn many(dir: &Path, n: u64) -> (Vec<PathBuf>, BTreeMap<String, String>) {
    let mut paths = Vec::new();
    let mut sums = BTreeMap::new();
    for i in 1..=n {
        let name = format!("f{i:03}.bin");
        let p = dir.join(&name);
        sums.insert(name, generate(&p, MIB, 1000 + i));
        paths.push(p);
    }
    (paths, sums)
}

/// A sends `paths` to B in one transfer; B accepts; waits until `n` files are verified.
fn send_batch(s: &mut Setup, paths: &[PathBuf], n: u64) -> Duration {
    s.a.click("[data-peer]");
    let refs: Vec<&Path> = paths.iter().map(PathBuf::as_path).collect();
    s.offer(&refs);
    let t = Instant::now();
    s.b.click("[data-accept]");
    s.b.wait_count("[data-received-file]", n, Duration::from_secs(120));
    t.elapsed()
}

/// SHA-256 shown by B for each received file, by name.
fn shown(s: &mut Setup) -> BTreeMap<String, String> {
    let v = s.b.eval("Object.fromEntries([...document.querySelectorAll('[data-received-file]')].map(e => [e.dataset.name, e.dataset.sha256]))");
    serde_json::from_value(v).unwrap()
}

/// Waits until the downloads directory stops changing (no partial file, same count 5 s).
fn settled_downloads(dir: &Path) -> Vec<PathBuf> {
    let list = || -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = dir
            .read_dir()
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    let (mut last, mut since) = (list(), Instant::now());
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(500));
        let now = list();
        let partial = now
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".crdownload"));
        if now != last || partial {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    last
}

#[test]
fn two_hundred_files_arrive_verified_and_rapid_saves_lose_nothing() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("batch");
    let (paths, sums) = many(&dir.0, 200);
    let mut s = Setup::new(None);
    let took = send_batch(&mut s, &paths, 200);
    eprintln!("200 x 1 MiB received and verified in {took:?}");
    assert_eq!(shown(&mut s), sums, "every file's SHA-256 as generated");
    // One row per batch on both sides.
    s.a.wait_for(
        "[...document.querySelectorAll('[data-transfer]')].every(e => e.dataset.state === 'done')",
        Duration::from_secs(30),
    );
    for br in [&mut s.a, &mut s.b] {
        assert_eq!(br.count("[data-transfer][data-files=\"200\"]"), 1);
        assert_eq!(br.count("[data-transfer]"), 1);
    }

    // 200 Save taps without a pause.
    s.b.eval(
        "document.querySelectorAll('[data-received-file] [data-save]').forEach(b => b.click())",
    );
    let downloads = s.b.downloads.clone();
    let got = settled_downloads(&downloads);
    let mut matched = 0;
    for p in &got {
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let want = sums
            .get(&name)
            .unwrap_or_else(|| panic!("unexpected download {name}"));
        assert_eq!(&sha256_file(p), want, "{name}: downloaded bytes");
        matched += 1;
    }
    eprintln!("rapid saves: {matched} of 200 downloads happened, all with equal SHA-256");
    // Nothing was discarded: every row still offers Save, and saving again works.
    assert_eq!(s.b.count("[data-received-file] [data-save]"), 200);
    assert_eq!(s.b.count("[data-received-file][data-saves=\"1\"]"), 200);
    let missing: Vec<&String> = sums
        .keys()
        .filter(|n| !downloads.join(n).exists())
        .collect();
    let mut sample: Vec<String> = missing.iter().take(5).map(|n| n.to_string()).collect();
    sample.extend(["f001.bin", "f100.bin", "f200.bin"].map(String::from));
    sample.dedup();
    for name in &sample {
        let _ = std::fs::remove_file(downloads.join(name));
        let sel = attr("[data-received-file]", "name", name);
        s.b.click(&format!("{sel} [data-save]"));
        let saved = s.b.wait_download(name, Duration::from_secs(30));
        assert_eq!(&sha256_file(&saved), &sums[name], "{name}: saved again");
    }
    eprintln!(
        "saved again after the taps: {} files ({} that the taps lost), SHA-256 equal",
        sample.len(),
        missing.len().min(5)
    );
}

#[test]
fn save_all_gives_one_zip_unzip_accepts_with_bounded_memory() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("zip");
    let (mut paths, mut sums) = many(&dir.0, 200);
    let big = dir.0.join("big.bin");
    sums.insert("big.bin".into(), generate(&big, 300 * MIB, 77));
    paths.push(big);
    let mut s = Setup::new(None);
    let took = send_batch(&mut s, &paths, 201);
    eprintln!("200 x 1 MiB + 300 MiB received in {took:?}");
    std::thread::sleep(Duration::from_secs(2));
    let idle = s.b.tree_rss();
    let watch = RssWatch::start(s.b.pid());
    s.b.click("[data-save-all]");
    let name = s.b.data("[data-save-all]", "zip-name");
    let name = name.as_str().expect("zip name").to_string();
    let zip = s.b.wait_download(&name, Duration::from_secs(120));
    let peak = watch.finish();
    let size = std::fs::metadata(&zip).unwrap().len();
    let rise = peak.saturating_sub(idle);
    eprintln!(
        "ZIP {} MiB; receiver tree idle {} MiB, peak +{} MiB while it was made and saved",
        size / MIB,
        idle / MIB,
        rise / MIB
    );
    assert!(size > 500 * MIB, "ZIP of {size} bytes");
    assert!(
        rise < size / 4,
        "memory rose {rise} bytes for a ZIP of {size}"
    );
    let test = std::process::Command::new("unzip")
        .arg("-tq")
        .arg(&zip)
        .output()
        .unwrap();
    assert!(
        test.status.success(),
        "unzip -t: {}",
        String::from_utf8_lossy(&test.stdout)
    );
    let out = TempDir::new("unzipped");
    let x = std::process::Command::new("unzip")
        .arg("-q")
        .arg(&zip)
        .arg("-d")
        .arg(&out.0)
        .status()
        .unwrap();
    assert!(x.success());
    let mut unzipped = BTreeMap::new();
    for e in out.0.read_dir().unwrap().flatten() {
        unzipped.insert(
            e.file_name().to_string_lossy().to_string(),
            sha256_file(&e.path()),
        );
    }
    assert_eq!(unzipped, sums, "every file in the ZIP with its SHA-256");
}
