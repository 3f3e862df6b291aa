//! Issue 14's verification, through the real UI of two Chromium on a namespaced LAN over
//! plain http: both pages show the same 12-digit code, derived from the two certificate
//! fingerprints of the live connection (checked here from each page's own fingerprint); a
//! device verified once and then presenting a new certificate is warned about and never
//! auto-accepted; and a man in the middle that rewrites the fingerprints in the relayed
//! signaling ([`Mitm`]) makes the connection fail, never a matching code.

use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::files::generate;
use crate::support::firefox::Firefox;
use crate::support::mitm::Mitm;
use crate::support::page::{Page, PageObject};
use crate::support::setup::Setup;
use crate::support::{one_browser_at_a_time, TempDir};

/// The code as `web/js/verify.js` derives it, computed here from the two fingerprints.
fn expected_code(a: &str, b: &str) -> String {
    let (lo, hi) = if a < b { (a, b) } else { (b, a) };
    let d = Sha256::digest(format!("homedrop-code-v1:{lo}:{hi}").as_bytes());
    let n = u64::from_be_bytes(d[..8].try_into().unwrap()) % 1_000_000_000_000;
    let digits = format!("{n:012}");
    digits
        .as_bytes()
        .chunks(3)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(" ")
}

fn fingerprint(p: &mut impl PageObject) -> String {
    p.eval("homedrop.state().fingerprint")
        .as_str()
        .unwrap()
        .to_string()
}

/// Opens the code dialog for the only peer; returns the code shown, or `None` when the
/// page says there is no secure connection.
fn show_code(p: &mut impl PageObject, within: Duration) -> Option<String> {
    show_code_for(p, "[data-verify-start]", within)
}

fn show_code_for(p: &mut impl PageObject, button: &str, within: Duration) -> Option<String> {
    p.click(button);
    p.wait_for(
        "(() => { const d = document.querySelector('[data-verify-dialog]'); return d && (d.dataset.code || 'failed' in d.dataset); })()",
        within,
    );
    let code = p.eval("document.querySelector('[data-verify-dialog]').dataset.code ?? null");
    code.as_str().map(String::from)
}

fn link_of(p: &mut impl PageObject) -> Value {
    p.eval("homedrop.state().links[0] ?? null")
}

fn id(p: &mut Page) -> String {
    p.eval("homedrop.state().id").as_str().unwrap().to_string()
}

fn link_to(p: &mut Page, peer: &str) -> Value {
    p.eval(&format!(
        "homedrop.state().links.find(l => l.peerId === {}) ?? null",
        serde_json::to_string(peer).unwrap()
    ))
}

#[test]
fn both_pages_show_the_same_code_and_a_new_certificate_is_warned_about() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("verify");
    let mut s = Setup::new(None);
    let (fa, fb) = (fingerprint(&mut s.a), fingerprint(&mut s.b));
    assert_ne!(fa, fb);
    let ca = show_code(&mut s.a, Duration::from_secs(40)).expect("A shows a code");
    let cb = show_code(&mut s.b, Duration::from_secs(40)).expect("B shows a code");
    assert_eq!(ca, cb, "both pages show the same code");
    assert_eq!(ca, expected_code(&fa, &fb), "from the two own fingerprints");
    // Each side read the other's fingerprint from the live DTLS connection: from the
    // certificate in getStats where Chromium names it (the DTLS server side, once its stats
    // have it), else from the description DTLS verified it against.
    let (la, lb) = (link_of(&mut s.a), link_of(&mut s.b));
    assert_eq!(la["device"].as_str(), Some(fb.as_str()));
    assert_eq!(lb["device"].as_str(), Some(fa.as_str()));
    // (Which of the two a side used depends on its DTLS role and on timing; both are read
    // only once DTLS is connected, so both are the certificate DTLS checked.)
    let sources = [&la["deviceSource"], &lb["deviceSource"]];
    for src in sources {
        assert!(src == "dtls" || src == "sdp", "{sources:?}");
    }
    eprintln!("fingerprint sources: {sources:?}");
    s.a.click("[data-verify-match]");
    s.b.click("[data-verify-match]");
    for p in [&mut s.a, &mut s.b] {
        p.wait_hook("[data-peer][data-verified]", Duration::from_secs(5));
    }
    eprintln!("code {ca} on both pages; verified");

    // The certificate is kept: after a reload A shows the same code, still verified.
    let url = s.url.clone();
    s.a.open(&url);
    s.a.wait_count("[data-peer]", 1, Duration::from_secs(30));
    assert_eq!(fingerprint(&mut s.a), fa, "same certificate after a reload");
    assert_eq!(
        show_code(&mut s.a, Duration::from_secs(40)),
        Some(ca.clone())
    );
    s.a.wait_hook("[data-peer][data-verified]", Duration::from_secs(5));
    s.a.click("[data-verify-close]");

    // B loses its certificate (a new browser profile, or someone posing as B with B's
    // name): A warns, and B's file is not accepted without asking.
    s.b.eval("new Promise(ok => { const r = indexedDB.deleteDatabase('homedrop-identity'); r.onsuccess = r.onerror = r.onblocked = () => ok(true); })");
    s.b.open(&url);
    assert_ne!(fingerprint(&mut s.b), fb, "B has a new certificate");
    s.b.wait_count("[data-peer]", 1, Duration::from_secs(30));
    let file = dir.0.join("hello.bin");
    generate(&file, 4096, 3);
    s.b.set_files("[data-file-input]", &[&file]);
    s.a.wait_hook(
        "[data-request] [data-request-warning]",
        Duration::from_secs(30),
    );
    s.a.wait_hook("[data-peer][data-verify-warning]", Duration::from_secs(5));
    assert_eq!(s.a.count("[data-peer][data-verified]"), 0);
    let warn = s.a.text("[data-request-warning]");
    assert!(warn.contains("security code has changed"), "{warn}");
    let row = s.a.data("[data-verify-peer]", "status");
    assert_eq!(row, json!("changed"));
    eprintln!("new certificate: warned ({warn})");
}

#[test]
fn a_man_in_the_middle_rewriting_fingerprints_never_gets_a_matching_code() {
    let _one = one_browser_at_a_time();
    let mut s = Setup::new(None);
    let server = format!("{}:8080", s.lan.server_ip());
    let listen = format!("{}:8081", s.lan.server_ip());
    let mitm = Mitm::start(
        &s.lan.router,
        listen.parse().unwrap(),
        server.parse().unwrap(),
    );
    // B now reaches homedrop only through the proxy.
    s.b.open(&format!("http://{listen}/"));
    let (ida, idb) = (id(&mut s.a), id(&mut s.b));
    let button = |peer: &str| format!("[data-verify-start][data-peer-id=\"{peer}\"]");
    s.a.wait_hook(&button(&idb), Duration::from_secs(30));
    s.b.wait_hook(&button(&ida), Duration::from_secs(30));
    let code_a = show_code_for(&mut s.a, &button(&idb), Duration::from_secs(60));
    let code_b = show_code_for(&mut s.b, &button(&ida), Duration::from_secs(60));
    let rewritten = mitm.rewritten();
    eprintln!("fingerprints rewritten: {rewritten}; codes: A {code_a:?}, B {code_b:?}");
    assert!(rewritten > 0, "the proxy must have rewritten a fingerprint");
    let (la, lb) = (link_to(&mut s.a, &idb), link_to(&mut s.b, &ida));
    eprintln!("links: A {la}\nB {lb}");
    match (&code_a, &code_b) {
        (Some(a), Some(b)) => assert_ne!(a, b, "a silent match through the man in the middle"),
        _ => {
            // The connection failed: neither side ever identified the other.
            for l in [&la, &lb] {
                assert!(l.is_null() || l["channel"] != "open", "{l}");
            }
        }
    }
}

/// Firefox has no certificate stats: it reads the other side's fingerprint from the applied
/// remote description (which DTLS checked); Chromium from getStats. Both show one code.
#[test]
fn firefox_and_chromium_show_the_same_code() {
    let _one = one_browser_at_a_time();
    let mut s: Setup<Page, Firefox> = Setup::launch(None, &[]);
    let (fa, fb) = (fingerprint(&mut s.a), fingerprint(&mut s.b));
    let ca = show_code(&mut s.a, Duration::from_secs(40)).expect("Chromium shows a code");
    let cb = show_code(&mut s.b, Duration::from_secs(40)).expect("Firefox shows a code");
    assert_eq!(ca, cb);
    assert_eq!(ca, expected_code(&fa, &fb));
    let (la, lb) = (link_of(&mut s.a), link_of(&mut s.b));
    assert_eq!(la["device"].as_str(), Some(fb.as_str()));
    assert_eq!(lb["device"].as_str(), Some(fa.as_str()));
    let stats =
        s.a.eval("(async () => { const pc = window.__pcs?.[0]; return null; })()");
    let _ = stats;
    eprintln!(
        "Chromium ({}) and Firefox ({}) show {ca}",
        la["deviceSource"], lb["deviceSource"]
    );
}
