//! mDNS / DNS-SD between network namespaces: the real binary advertises, an independent
//! resolver (python-zeroconf, `tests/support/zeroconf_resolve.py`) in another namespace finds
//! it. Topology: `Lan` (homedrop on the router's bridge `br0`, other hosts on `eth0`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::netns::{ip, Lan};
use crate::support::{binary, TempDir};

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/zeroconf_resolve.py"
);
const HTTP: &str = "_http._tcp.local.";

/// A name no other test uses.
fn unique_name() -> String {
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("hdtest{}x{n}", std::process::id() % 100_000)
}

/// The real binary in a namespace on port 8080, its log (stderr) collected.
struct Homedrop {
    child: Child,
    log: Arc<Mutex<String>>,
    _state: TempDir,
}

impl Homedrop {
    fn start(ns: &str, extra: &[&str]) -> Homedrop {
        let state = TempDir::new("mdns");
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns])
            .arg(binary())
            .args(["--http", "0.0.0.0:8080", "--no-turn", "--log", "info"])
            .arg("--state-dir")
            .arg(&state.0)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start homedrop");
        let log = Arc::new(Mutex::new(String::new()));
        let (stderr, sink) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        Homedrop {
            child,
            log,
            _state: state,
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Wait until the log contains `needle`; panics with the log after `secs`.
    fn expect_log(&self, needle: &str, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{needle:?} not logged within {secs} s; log:\n{}",
            self.log()
        );
    }

    /// SIGTERM, then the exit status (`ip netns exec` execs, so this is homedrop's pid).
    fn terminate(&mut self) -> std::process::ExitStatus {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap()
    }
}

impl Drop for Homedrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run the resolver script in `ns`; its last stdout line as JSON.
fn zeroconf(ns: &str, args: &[&str]) -> Value {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "python3", SCRIPT])
        .args(args)
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "zeroconf {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Resolve `host` afresh until its A records are exactly `expect` (comma separated), starting
/// right after `change` runs; returns the answer and the time from the change to it.
fn follow(
    ns: &str,
    me: &str,
    host: &str,
    expect: &str,
    change: impl FnOnce(),
) -> (Value, Duration) {
    use std::io::Write;
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "python3", SCRIPT])
        .args(["follow", me, host, expect, "12"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    assert!(ready.contains("ready"), "{ready}");
    let changed = Instant::now();
    change();
    writeln!(child.stdin.take().unwrap(), "go").unwrap();
    let answer = lines.next().unwrap().unwrap();
    let took = changed.elapsed();
    assert!(child.wait().unwrap().success());
    (serde_json::from_str(&answer).unwrap(), took)
}

/// The resolved service whose target host is `server`.
fn service<'a>(browsed: &'a Value, server: &str) -> &'a Value {
    let all = browsed["services"].as_array().unwrap();
    all.iter()
        .find(|s| s["server"] == server)
        .unwrap_or_else(|| panic!("no service on {server}: {browsed}"))
}

/// The IPv4 addresses of a resolved service (its IPv6 ones are link-local, which come and go
/// with duplicate address detection on the namespaces' links).
fn v4(service: &Value) -> Value {
    let all = service["addresses"].as_array().unwrap();
    all.iter()
        .filter(|a| !a.as_str().unwrap().contains(':'))
        .cloned()
        .collect()
}

fn host_ip(lan: &Lan, host: usize) -> String {
    format!("10.{}.0.{}", lan.subnet, host + 2)
}

fn page_loads(ns: &str, url: &str) {
    let page = zeroconf(ns, &["fetch", url]);
    assert_eq!(page["status"], 200, "{url}: {page}");
    assert!(
        page["body"].as_str().unwrap().contains("homedrop"),
        "{page}"
    );
}

#[test]
fn name_and_service_resolve_from_another_namespace_and_follow_an_address_change() {
    let lan = Lan::new(1);
    let name = unique_name();
    let hd = Homedrop::start(&lan.router, &["--name", &name]);
    let (server, me) = (lan.server_ip(), host_ip(&lan, 0));
    // The startup log (piped: no QR code) lists the mDNS name and the LAN address.
    hd.expect_log(&format!("open http://{name}.local:8080/ (mDNS name)"), 10);
    hd.expect_log(&format!("open http://{server}:8080/ (br0)"), 10);
    hd.expect_log("mDNS: advertising", 10);
    assert!(!hd.log().contains("127.0.0.1:8080/"), "no loopback URL");

    let host = format!("{name}.local.");
    let browsed = zeroconf(&lan.hosts[0], &["browse", &me, HTTP, "1", "10"]);
    let svc = service(&browsed, &host);
    assert_eq!(svc["port"], 8080, "{svc}");
    assert_eq!(svc["txt"]["path"], "/", "{svc}");
    assert_eq!(v4(svc), serde_json::json!([server]), "{svc}");
    let a = zeroconf(&lan.hosts[0], &["resolve", &me, &host, &server, "10"]);
    assert_eq!(a["addresses"], serde_json::json!([server]), "A record: {a}");
    let resolved = a["addresses"][0].as_str().unwrap();
    page_loads(&lan.hosts[0], &format!("http://{resolved}:8080/"));

    // A new lease: the old address goes, another comes.
    let new = format!("10.{}.0.50", lan.subnet);
    let (a, took) = follow(&lan.hosts[0], &me, &host, &new, || {
        ip(&lan.router, &format!("addr del {server}/24 dev br0"));
        ip(&lan.router, &format!("addr add {new}/24 dev br0"));
    });
    eprintln!("new address resolved {took:?} after the change: {a}");
    assert_eq!(
        a["addresses"],
        serde_json::json!([new]),
        "after the change: {a}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    page_loads(&lan.hosts[0], &format!("http://{new}:8080/"));

    // A second address appears with nothing lost (no failed send to notice): only the
    // periodic interface check finds it.
    let more = format!("10.{}.0.51", lan.subnet);
    let (a, took) = follow(&lan.hosts[0], &me, &host, &format!("{new},{more}"), || {
        ip(&lan.router, &format!("addr add {more}/24 dev br0"));
    });
    eprintln!("added address resolved {took:?} after the change: {a}");
    assert_eq!(a["addresses"], serde_json::json!([new, more]), "{a}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_second_homedrop_with_the_same_name_gets_another_name() {
    let lan = Lan::new(2);
    let name = unique_name();
    let first = Homedrop::start(&lan.router, &["--name", &name]);
    first.expect_log("mDNS: advertising", 10);
    // Let the first one finish probing and announce (about 1 s) before the second starts.
    std::thread::sleep(Duration::from_millis(2000));
    let second = Homedrop::start(&lan.hosts[1], &["--name", &name]);
    second.expect_log(
        &format!("mDNS: {name}.local is taken on this network; now advertised as {name}-2.local: open http://{name}-2.local:8080/"),
        15,
    );
    let me = host_ip(&lan, 0);
    let browsed = zeroconf(&lan.hosts[0], &["browse", &me, HTTP, "2", "15"]);
    let (one, two) = (format!("{name}.local."), format!("{name}-2.local."));
    assert_eq!(
        v4(service(&browsed, &one)),
        serde_json::json!([lan.server_ip()])
    );
    assert_eq!(
        v4(service(&browsed, &two)),
        serde_json::json!([host_ip(&lan, 1)])
    );
    let a = zeroconf(
        &lan.hosts[0],
        &["resolve", &me, &two, &host_ip(&lan, 1), "10"],
    );
    assert_eq!(a["addresses"], serde_json::json!([host_ip(&lan, 1)]), "{a}");
    let a = zeroconf(
        &lan.hosts[0],
        &["resolve", &me, &one, &lan.server_ip(), "10"],
    );
    assert_eq!(a["addresses"], serde_json::json!([lan.server_ip()]), "{a}");
    assert!(
        !first.log().contains("is taken"),
        "the first keeps its name"
    );
}

#[test]
fn shutdown_says_goodbye_and_no_mdns_advertises_nothing() {
    let lan = Lan::new(1);
    let name = unique_name();
    let mut hd = Homedrop::start(&lan.router, &["--name", &name]);
    hd.expect_log("mDNS: advertising", 10);
    let me = host_ip(&lan, 0);
    let instance = format!("{name}.{HTTP}");
    let mut watch = Command::new("ip")
        .args(["netns", "exec", &lan.hosts[0], "python3", SCRIPT])
        .args(["gone", &me, HTTP, &instance, "10"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let seen: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(seen["seen"], true, "{seen}");
    let stopped = Instant::now();
    assert!(hd.terminate().success(), "{}", hd.log());
    let removed: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let _ = watch.wait();
    eprintln!("goodbye seen {:?} after SIGTERM", stopped.elapsed());
    // Without goodbye records the browser would keep the service for its TTL (minutes).
    assert_eq!(removed["removed"], true, "{removed}");
    assert!(hd.log().contains("mDNS: goodbye sent"), "{}", hd.log());

    let off = Homedrop::start(&lan.router, &["--name", &name, "--no-mdns"]);
    off.expect_log(&format!("open http://{}:8080/ (br0)", lan.server_ip()), 10);
    let browsed = zeroconf(&lan.hosts[0], &["browse", &me, HTTP, "1", "3"]);
    assert_eq!(browsed["services"], serde_json::json!([]), "{browsed}");
    assert!(!off.log().contains(".local"), "{}", off.log());
}

#[test]
fn the_page_offers_a_qr_code_of_its_own_url() {
    // Chromium tests take turns: several browsers at once on 2 cores time out.
    let _one = crate::support::one_browser_at_a_time();
    use crate::support::page::Page;
    let lan = Lan::new(1);
    let hd = Homedrop::start(&lan.router, &["--no-mdns"]);
    let url = format!("http://{}:8080/", lan.server_ip());
    hd.expect_log(&format!("open {url} (br0)"), 10);
    let mut br = Page::launch(Some(&lan.hosts[0]));
    br.goto(&url);
    br.click("[data-share-page]");
    let shown = br.wait_for(
        "(() => { const d = document.querySelector('[data-qr-dialog]'); \
         const img = d.querySelector('[data-qr-slot] [data-qr]'); \
         return d.open && img && img.complete && img.naturalWidth > 0 \
           ? { href: d.querySelector('[data-qr-link]').href, \
               d: new URL(img.src).searchParams.get('d'), path: new URL(img.src).pathname } \
           : null; })()",
        Duration::from_secs(10),
    );
    assert_eq!(shown["href"], url.as_str(), "{shown}");
    assert_eq!(
        shown["d"],
        url.as_str(),
        "the QR code encodes the page's URL: {shown}"
    );
    assert_eq!(shown["path"], "/qr.svg", "{shown}");
}

#[test]
fn invalid_names_and_interfaces_exit_2_naming_the_flag() {
    for (args, flag) in [
        (&["--name", "my homedrop"][..], "--name"),
        (&["--name=-x"][..], "--name"),
        (&["--name", "x.y"][..], "--name"),
        (&["--name", &"n".repeat(64)][..], "--name"),
        (&["--mdns-interface", "eth/0"][..], "--mdns-interface"),
    ] {
        let out = Command::new(binary()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(flag), "{err}");
    }
    let help = Command::new(binary()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for documented in ["--name", "HOMEDROP_NAME", "--mdns-interface", "--no-mdns"] {
        assert!(
            help.contains(documented),
            "{documented} missing from --help"
        );
    }
    let out = Command::new(binary())
        .env("HOMEDROP_NAME", "bad_name")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--name"));
}

#[test]
fn https_is_advertised_as_its_own_service_when_served() {
    let lan = Lan::new(1);
    let name = unique_name();
    let server = Homedrop::start(&lan.router, &["--name", &name, "--https", "0.0.0.0:8443"]);
    server.expect_log("mDNS: advertising", 10);
    let me = host_ip(&lan, 0);
    // Browse again (at most three times) when the service came without its addresses: on a
    // loaded machine the full suite once saw the SRV/TXT answer before the A record.
    let browse = || {
        zeroconf(
            &lan.hosts[0],
            &["browse", &me, "_https._tcp.local.", "1", "15"],
        )
    };
    let mut browsed = browse();
    let server = format!("{name}.local.");
    for _ in 0..2 {
        if v4(service(&browsed, &server)) != serde_json::json!([]) {
            break;
        }
        browsed = browse();
    }
    let s = service(&browsed, &server);
    assert_eq!(s["port"], 8443, "{browsed}");
    assert_eq!(s["txt"]["path"], "/", "{browsed}");
    assert_eq!(v4(s), serde_json::json!([lan.server_ip()]), "{browsed}");
}
