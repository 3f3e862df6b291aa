//! Test support: the app in-process on port 0, WebSocket clients, the real binary.

#![allow(dead_code)]

pub mod browser;
pub mod delayline;
pub mod delayline_probe;
pub mod nat;
pub mod netns;
pub mod procfs;
pub mod uclient;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use homedrop::config::Config;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

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
            homedrop::app::run(config, listener, shutdown)
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

pub type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A signaling client speaking JSON.
pub struct Ws {
    pub ws: Stream,
    pub id: String,
    pub welcome: Value,
}

impl Ws {
    pub async fn connect(addr: SocketAddr, xff: Option<&str>) -> Ws {
        let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
        if let Some(ip) = xff {
            req.headers_mut()
                .insert("x-forwarded-for", ip.parse().unwrap());
        }
        let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let mut c = Ws {
            ws,
            id: String::new(),
            welcome: Value::Null,
        };
        let w = c.recv().await;
        assert_eq!(w["type"], "welcome", "{w}");
        c.id = w["id"].as_str().unwrap().to_string();
        c.welcome = w;
        c
    }

    /// Connect and say hello with a name.
    pub async fn hello(&mut self, name: &str) {
        self.send(json!({"type":"hello","v":1,"name":name,"kind":"phone","pairs":[]}))
            .await;
    }

    /// Create a room with the defaults (`roomCreate`) and return its code from `roomJoined`.
    pub async fn room_create(&mut self) -> String {
        self.send(json!({"type":"roomCreate"})).await;
        let joined = self.expect("roomJoined").await;
        joined["code"]
            .as_str()
            .expect("roomJoined has a code")
            .to_string()
    }

    pub async fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).await.unwrap();
    }

    pub async fn send_raw(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Next JSON message (pings are answered by tungstenite while reading).
    pub async fn recv(&mut self) -> Value {
        self.try_recv(Duration::from_secs(5))
            .await
            .expect("no message within 5 s")
    }

    pub async fn try_recv(&mut self, wait: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .ok()??;
            match msg.ok()? {
                Message::Text(t) => return Some(serde_json::from_str(t.as_str()).unwrap()),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Read until a message of this type arrives.
    pub async fn expect(&mut self, ty: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self
                .try_recv(left)
                .await
                .unwrap_or_else(|| panic!("no {ty} message"));
            if m["type"] == ty {
                return m;
            }
        }
    }

    /// Read `peers` messages until one satisfies `pred`.
    pub async fn peers_until(&mut self, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self.try_recv(left).await.expect("peer list never matched");
            if m["type"] == "peers" {
                let ids: Vec<String> = m["peers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["id"].as_str().unwrap().to_string())
                    .collect();
                if pred(&ids) {
                    return ids;
                }
            }
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

/// Plain HTTP/1.1 GET over a raw socket; returns (status, headers lowercased, body).
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    extra: &str,
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nhost: test\r\nconnection: close\r\n{extra}\r\n");
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
