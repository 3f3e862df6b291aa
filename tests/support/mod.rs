//! Test support: the harness every test module and every bench uses.
//!
//! One module tree, two kinds of crate: `tests/main.rs` declares it as `pub mod support`,
//! and each bench includes this file with `#[path = "../tests/support/mod.rs"] pub mod
//! support` (the only `#[path]` into tests/). Public and reachable from the crate root, its
//! items are not dead code in a crate that uses only part of them, so no `allow(dead_code)`.
//!
//! - here: the app in-process ([`TestApp`]), the real binaries ([`binary`],
//!   [`release_binary`]), [`TempDir`], raw HTTP, ports, the browser lock
//!   ([`one_browser_at_a_time`]);
//! - [`axe`]: axe-core in a Chromium page, media emulation (dark, reduced motion), Tab keys;
//! - [`ws`]: a signaling client over a real WebSocket;
//! - [`browser`]: headless Chromium over the DevTools protocol; [`firefox`]: headless
//!   Firefox ESR over WebDriver BiDi; [`page`]: the page object over homedrop's `data-*`
//!   hooks, for either; [`setup`]: two pages on a LAN with the release binary;
//! - [`files`]: generated files and their SHA-256; [`mitm`]: a proxy that rewrites the
//!   fingerprints in relayed signaling (the verification tests' man in the middle);
//! - [`netns`], [`nat`], [`delayline`]: namespaces, NAT and the 40 ms link; [`procfs`],
//!   [`uclient`]: /proc figures and coturn's client output; [`server`]: the real binary as
//!   a measured child process, and clients that stop reading; [`pebble`]: the ACME test CA
//!   in a namespace; [`router`]: miniupnpd as a home router in namespaces.

pub mod axe;
pub mod browser;
pub mod certs;
pub mod delayline;
pub mod delayline_probe;
pub mod exposed;
pub mod files;
pub mod firefox;
pub mod media;
pub mod mitm;
pub mod nat;
pub mod netns;
pub mod page;
pub mod pebble;
pub mod procfs;
pub mod relative;
pub mod router;
pub mod server;
pub mod setup;
pub mod shots;
pub mod uclient;
pub mod ws;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use homedrop::config::Config;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub use ws::Ws;

/// Tests that start Chromium (or the relay's end-to-end namespaces) take turns: several
/// browsers at once on this 2-core machine time out. Hold the guard for the whole test; a
/// test that panicked while holding it does not stop the next one.
pub fn one_browser_at_a_time() -> MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// The release binary the README's test command builds before the tests.
pub fn release_binary() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/homedrop");
    assert!(
        p.exists(),
        "{} is missing: build it with `cargo build --release` (the test command does)",
        p.display()
    );
    p
}

/// The whole app, in-process on 127.0.0.1:0; stopped when dropped.
pub struct TestApp {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: TempDir,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Start with a config tweak. 127.0.0.1 is a trusted proxy so tests can pose as clients
    /// from other addresses with X-Forwarded-For.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_observed(tweak, |_| {}).await
    }

    /// [`TestApp::spawn_with`], handing the app's shared state to `observe` once it listens
    /// (to reach its certificate store, for example).
    pub async fn spawn_observed(
        tweak: impl FnOnce(&mut Config),
        observe: impl FnOnce(std::sync::Arc<homedrop::http::Shared>) + Send + 'static,
    ) -> TestApp {
        let dir = TempDir::new("app");
        let mut config = Config::for_tests(&dir.0);
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind(config.http).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            homedrop::app::run_observed(config, listener, shutdown, observe)
                .await
                .unwrap();
        });
        TestApp {
            addr,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A WebSocket client from the home group (loopback).
    pub async fn client(&self) -> Ws {
        Ws::connect(self.addr, None).await
    }

    /// A WebSocket client that appears to come from `ip` (through the trusted proxy).
    pub async fn client_from(&self, ip: &str) -> Ws {
        Ws::connect(self.addr, Some(ip)).await
    }

    /// Stop and wait for the drain.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A temporary directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "homedrop-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Reads a raw HTTP/1.1 answer until the server closes (or `within` passes) and returns its
/// status and body; panics naming what came when there is no status line.
pub async fn read_answer(s: &mut TcpStream, within: std::time::Duration) -> (u16, String) {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(within, s.read_to_end(&mut buf)).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    (status, body.to_string())
}

/// Plain HTTP/1.1 GET over a raw socket; returns (status, headers lowercased, body).
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    extra: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{extra}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no header end");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let body = buf[split + 4..].to_vec();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body)
}

pub fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A loopback port free for both UDP and TCP (bound on port 0, then closed): for the real
/// binary's relay, which listens on both at one port.
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both UDP and TCP");
}

/// A numeric benchmark knob from the environment (`default` when unset or not a number).
pub fn env_u64(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Path of the binary cargo built for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_homedrop"))
}
