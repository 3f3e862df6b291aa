//! Firefox ESR (Debian `firefox-esr`, over WebDriver BiDi: `support::firefox`) and Chromium,
//! each in its own network namespace, on the real UI served by the release binary from a LAN
//! address over plain http: files and texts both ways, and what Firefox's memory does with
//! a large file.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::files::{generate, sha256_file};
use crate::support::firefox::Firefox;
use crate::support::page::{attr, Page, PageObject};
use crate::support::procfs::RssWatch;
use crate::support::setup::{offer, Setup};
use crate::support::{env_u64, one_browser_at_a_time, TempDir};

const MIB: u64 = 1024 * 1024;

/// `from` selects `to`'s tile (by `to`'s own name).
fn select(from: &mut impl PageObject, to: &mut impl PageObject) {
    let name = to.text("[data-self-name]").trim().to_string();
    from.click(&attr("[data-peer]", "peer-name", &name));
}

/// `from` sends `file` to its selected device, `to` accepts; the SHA-256 shown on `to`
/// and the saved file's on disk are `sha`. Returns the seconds the transfer took.
fn send_file(from: &mut impl PageObject, to: &mut impl PageObject, file: &Path, sha: &str) -> f64 {
    let name = file.file_name().unwrap().to_str().unwrap();
    let size = std::fs::metadata(file).unwrap().len();
    offer(from, to, &[file]);
    let t = Instant::now();
    to.click("[data-accept]");
    let sel = attr("[data-received-file]", "name", name);
    to.wait_hook(&sel, Duration::from_secs(120));
    let took = t.elapsed().as_secs_f64();
    assert_eq!(to.data(&sel, "sha256"), json!(sha), "{name}: hash shown");
    from.wait_for(
        "[...document.querySelectorAll('[data-transfer][data-direction=send]')].every(e => e.dataset.state === 'done')",
        Duration::from_secs(30),
    );
    to.click(&format!("{sel} [data-save]"));
    let saved = to.wait_download(name, Duration::from_secs(120));
    assert_eq!(
        std::fs::metadata(&saved).unwrap().len(),
        size,
        "{name}: size on disk"
    );
    assert_eq!(sha256_file(&saved), sha, "{name}: SHA-256 on disk");
    took
}

/// `from` sends `text` to its selected device; `to` shows it, as text (never as HTML).
fn send_text(from: &mut impl PageObject, to: &mut impl PageObject, text: &str) {
    from.fill("[data-text-input]", text);
    from.click("[data-send-text]");
    let got = to.wait_for(
        "[...document.querySelectorAll('[data-received-text]')].map(e => e.textContent).join('\\n')",
        Duration::from_secs(20),
    );
    assert!(got.as_str().unwrap().contains(text), "{got}");
    assert_eq!(to.count("[data-received-text] b"), 0, "text parsed as HTML");
}

/// Chromium → Firefox and Firefox → Chromium: one 64 MiB file each way (SHA-256 equal in
/// the page and on disk after Save) and one text each way.
#[test]
fn firefox_and_chromium_exchange_a_file_and_a_text_each_way() {
    let _one = one_browser_at_a_time();
    let size = env_u64("HOMEDROP_FIREFOX_MIB", 64) * MIB;
    let dir = TempDir::new("firefox-files");
    let (to_ff, to_cr) = (dir.0.join("to-firefox.bin"), dir.0.join("to-chromium.bin"));
    let (sha_ff, sha_cr) = (generate(&to_ff, size, 21), generate(&to_cr, size, 22));
    let mut s: Setup<Page, Firefox> = Setup::launch(None, &[]);
    select(&mut s.a, &mut s.b);
    select(&mut s.b, &mut s.a);

    let mb = size as f64 / 1e6;
    let t = send_file(&mut s.a, &mut s.b, &to_ff, &sha_ff);
    eprintln!(
        "Chromium → Firefox: {} MiB in {t:.1} s, {:.1} MB/s",
        size / MIB,
        mb / t
    );
    let t = send_file(&mut s.b, &mut s.a, &to_cr, &sha_cr);
    eprintln!(
        "Firefox → Chromium: {} MiB in {t:.1} s, {:.1} MB/s",
        size / MIB,
        mb / t
    );

    send_text(&mut s.a, &mut s.b, "From Chromium — <b>not bold</b> 🦊");
    send_text(&mut s.b, &mut s.a, "From Firefox — <b>not bold</b> 🌐");
    let errors: Vec<String> =
        s.b.console()
            .into_iter()
            .filter(|l| l.starts_with("error") || l.starts_with("exception"))
            .collect();
    assert!(errors.is_empty(), "Firefox console errors: {errors:#?}");
}

/// Firefox receives a large file (512 MiB; `HOMEDROP_FIREFOX_BIG_MIB`) from Chromium: its
/// process tree's RSS while the bytes arrive stays within a generous bound (the IndexedDB
/// Blob store keeps them on disk), and what it holds once the file is shown and after Save
/// is printed (Firefox materialises a blob: URL's IndexedDB-backed Blob in its parent
/// process; nothing the page does can avoid that).
#[test]
fn firefox_receive_memory_stays_bounded_and_the_save_cost_is_measured() {
    let _one = one_browser_at_a_time();
    let size = env_u64("HOMEDROP_FIREFOX_BIG_MIB", 512) * MIB;
    let dir = TempDir::new("firefox-big");
    let big = dir.0.join("big-to-firefox.bin");
    let sha = generate(&big, size, 23);
    let mut s: Setup<Page, Firefox> = Setup::launch(None, &[]);
    select(&mut s.a, &mut s.b);
    offer(&mut s.a, &mut s.b, &[&big]);
    std::thread::sleep(Duration::from_secs(2));
    let idle = s.b.tree_rss();
    let watch = RssWatch::start(s.b.pid());
    let t = Instant::now();
    s.b.click("[data-accept]");
    s.b.wait_for(
        "(() => { const p = document.querySelector('[data-transfer][data-direction=receive] [data-progress]'); \
          return !!p && Number(p.max) > 0 && Number(p.value) >= Number(p.max); })()",
        Duration::from_secs(600),
    );
    let took = t.elapsed().as_secs_f64();
    let peak = watch.finish();
    let sel = attr("[data-received-file]", "name", "big-to-firefox.bin");
    s.b.wait_hook(&sel, Duration::from_secs(120));
    assert_eq!(s.b.data(&sel, "sha256"), json!(sha), "hash shown");
    std::thread::sleep(Duration::from_secs(3));
    let shown = s.b.tree_rss();
    let watch = RssWatch::start(s.b.pid());
    s.b.click(&format!("{sel} [data-save]"));
    let saved =
        s.b.wait_download("big-to-firefox.bin", Duration::from_secs(300));
    let save_peak = watch.finish();
    assert_eq!(sha256_file(&saved), sha, "SHA-256 on disk");
    std::thread::sleep(Duration::from_secs(10));
    let after = s.b.tree_rss();
    let (mib, rise) = (size / MIB, |x: u64| (x as i64 - idle as i64) / MIB as i64);
    eprintln!(
        "Firefox receiving {mib} MiB at {:.1} MB/s: tree idle {} MiB, peak while receiving \
         {:+} MiB, shown {:+} MiB, peak while saving {:+} MiB, 10 s after Save {:+} MiB",
        size as f64 / 1e6 / took,
        idle / MIB,
        rise(peak),
        rise(shown),
        rise(save_peak),
        rise(after)
    );
    assert!(
        rise(peak) < 400,
        "Firefox's memory rose {} MiB above idle while receiving {mib} MiB",
        rise(peak)
    );
}
