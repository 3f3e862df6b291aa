//! A relative with no UDP at all reaches a home device through `turns:` on the one TLS port
//! (`--remote`), with a certificate Chromium trusts: namespaces (`support::nat`), the
//! release binary and two headless Chromium. The certificate for the WAN address is signed
//! by a CA made here and put into the relative's NSS database only, so the page is a real
//! secure context and the TURN server's certificate is verified (Chromium refuses a
//! self-signed one: no relay candidate). The relative's page gets `turns:` on the TLS port
//! and `turn:` over UDP (blocked), nothing on TCP 3478, so the relay it uses is TURN over TLS.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::certs::ca_and_leaf;
use crate::support::files::{generate, sha256_file};
use crate::support::nat::{Nat, HOME_LAN_IP, HOME_WAN_IP, RELATIVE_PUBLIC_IP};
use crate::support::page::{attr, Page};
use crate::support::setup::offer;
use crate::support::{one_browser_at_a_time, TempDir};

const MIB: u64 = 1024 * 1024;
const RELAYED: &str = "relayed through homedrop";
const TLS_PORT: u16 = 8443;

/// homedrop in the home namespace with `--remote` and the CA-signed certificate.
fn start_homedrop(nat: &mut Nat, dir: &Path, cert: &Path, key: &Path) {
    let https = format!("0.0.0.0:{TLS_PORT}");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let remote = [
        "--remote",
        "--no-upnp",
        "--https",
        &https,
        "--tls-cert",
        cert,
        "--tls-key",
        key,
    ];
    crate::relay_e2e::start_homedrop_with(nat, &dir.join("state"), &remote);
}

/// The path shown on the newest transfer row, once it shows one.
fn shown_path(b: &mut Page) -> String {
    b.wait_for(
        "document.querySelector('[data-transfer] [data-path]')?.textContent",
        Duration::from_secs(30),
    )
    .as_str()
    .unwrap()
    .to_string()
}

/// `from` sends `file` to its only peer; `to` accepts; the SHA-256 matches in the UI and on
/// disk and both rows show the relay. Returns MiB/s.
pub(crate) fn transfer(from: &mut Page, to: &mut Page, file: &Path, sha: &str) -> f64 {
    let name = file.file_name().unwrap().to_str().unwrap().to_string();
    let t = Instant::now();
    offer(from, to, &[file]);
    to.click("[data-accept]");
    let sel = attr("[data-received-file]", "name", &name);
    to.wait_hook(&sel, Duration::from_secs(600));
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(
        to.data(&sel, "sha256"),
        json!(sha),
        "{name}: SHA-256 in the UI"
    );
    to.click(&format!("{sel} [data-save]"));
    let saved = to.wait_download(&name, Duration::from_secs(300));
    assert_eq!(&sha256_file(&saved), sha, "{name}: SHA-256 on disk");
    std::fs::remove_file(&saved).ok();
    for b in [from, to] {
        assert_eq!(shown_path(b), RELAYED, "{name}: path shown");
    }
    std::fs::metadata(file).unwrap().len() as f64 / MIB as f64 / secs
}

/// Established TCP connections from the relative's public address in namespace `ns`: to
/// the TLS port and to the TURN port.
pub(crate) fn relative_connections(ns: &str) -> (usize, usize) {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", ns, "ss", "-Htn", "state", "established"])
        .output()
        .expect("ss");
    let text = String::from_utf8_lossy(&out.stdout);
    let from_relative = |port: u16| {
        text.lines()
            .filter(|l| l.contains(&format!(":{port} ")) && l.contains(RELATIVE_PUBLIC_IP))
            .count()
    };
    (from_relative(TLS_PORT), from_relative(3478))
}

/// Both pages see exactly one peer, and select it.
pub(crate) fn pick_the_peer(b: &mut Page) {
    let one = "document.querySelectorAll('[data-peer]').length === 1";
    let end = Instant::now() + Duration::from_secs(20);
    while b.eval(one) != json!(true) {
        assert!(Instant::now() < end, "no peer shown");
        std::thread::sleep(Duration::from_millis(200));
    }
    b.click("[data-peer]");
}

#[test]
fn a_relative_without_udp_reaches_home_through_turns_on_the_one_tls_port() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("remote-tls");
    let (ca, cert, key) = ca_and_leaf(&dir.0, "homedrop remote test CA", HOME_WAN_IP);
    let (to_rel, to_home) = (dir.0.join("to-relative.bin"), dir.0.join("to-home.bin"));
    let sha_to_rel = generate(&to_rel, 20 * MIB, 31);
    let sha_to_home = generate(&to_home, 20 * MIB, 32);
    let mut nat = Nat::new(1);
    nat.block_udp(&nat.relative.clone());
    start_homedrop(&mut nat, &dir.0, &cert, &key);
    let mut home = Page::launch(Some(&nat.hosts[0]));
    home.open(&format!("http://{HOME_LAN_IP}:8080/"));
    let mut rel = Page::launch_trusting(Some(&nat.relative), &ca);
    rel.open(&format!("https://{HOME_WAN_IP}:{TLS_PORT}/"));
    assert_eq!(
        rel.eval("window.isSecureContext"),
        json!(true),
        "the relative's page is a secure context (certificate trusted)"
    );
    home.click("[data-room-create]");
    let code = home.wait_data("[data-room]", "code", Duration::from_secs(10));
    rel.fill("[data-room-code-input]", code.as_str().unwrap());
    rel.click("[data-room-join]");
    pick_the_peer(&mut home);
    pick_the_peer(&mut rel);
    let down = transfer(&mut home, &mut rel, &to_rel, &sha_to_rel);
    let up = transfer(&mut rel, &mut home, &to_home, &sha_to_home);
    // The relative's relay connection is TLS on the one port: besides its WebSocket, at
    // least one more connection to the TLS port, and none to the TURN port.
    let (tls, turn) = relative_connections(&nat.home);
    assert!(
        tls >= 2,
        "page socket and TURN over TLS on :{TLS_PORT}: {tls}"
    );
    assert_eq!(turn, 0, "nothing to TCP 3478");
    eprintln!(
        "20 MiB through turns: on the TLS port: home→relative {down:.1} MiB/s, relative→home {up:.1} MiB/s"
    );
}
