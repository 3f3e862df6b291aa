//! The real binary as a child process on loopback, for the soak test and the memory bench
//! that measure its RSS: started with `--trusted-proxy 127.0.0.1` so clients can pose as
//! many home or internet sources through X-Forwarded-For (the per-source caps would refuse
//! hundreds of connections from one address), and waited for until it says READY=1 on a
//! notify socket, as systemd would. Also clients that stop reading, as an attacker's tabs.

use std::net::SocketAddr;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::{free_port, procfs, TempDir};

/// A homedrop process; killed when dropped.
pub struct Server {
    child: Child,
    pub http: SocketAddr,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Start `bin` with relay and connection check on loopback, mDNS off, `extra` flags
    /// (`--log error` unless they set `--log`).
    pub fn start(bin: &Path, extra: &[&str]) -> Server {
        let dir = TempDir::new("server");
        let notify = UnixDatagram::bind(dir.0.join("notify")).expect("notify socket");
        notify
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let http: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let turn: SocketAddr = ([127, 0, 0, 1], free_port()).into();
        let log = if extra.contains(&"--log") {
            &[][..]
        } else {
            &["--log", "error"][..]
        };
        let child = Command::new(bin)
            .args(["--http", &http.to_string(), "--turn", &turn.to_string()])
            .args(["--no-mdns", "--relay-ip", "127.0.0.1"])
            .args(log)
            .args(["--probe", "127.0.0.1:0", "--trusted-proxy", "127.0.0.1"])
            .args(["--turn-secret", "memory-test-secret-0123456789"])
            .args(extra)
            .arg("--state-dir")
            .arg(dir.0.join("state"))
            .env("NOTIFY_SOCKET", dir.0.join("notify"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let mut buf = [0u8; 512];
        loop {
            let n = notify.recv(&mut buf).expect("no READY=1 from homedrop");
            if String::from_utf8_lossy(&buf[..n])
                .lines()
                .any(|l| l == "READY=1")
            {
                break;
            }
        }
        Server {
            child,
            http,
            _dir: dir,
        }
    }

    /// VmRSS in bytes.
    pub fn rss(&self) -> u64 {
        self.status_bytes("VmRSS:")
    }

    /// VmHWM (the peak RSS so far) in bytes.
    pub fn peak(&self) -> u64 {
        self.status_bytes("VmHWM:")
    }

    fn status_bytes(&self, field: &str) -> u64 {
        procfs::status_kib(self.child.id(), field).unwrap_or(0) * 1024
    }
}

/// Soft RLIMIT_NOFILE up to the hard limit (inherited by children); the new soft limit.
pub fn raise_nofile() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a local struct.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}

pub type Tab = WebSocketStream<tokio::net::TcpStream>;

/// A WebSocket client posing as `xff` whose socket has a 4 KiB receive buffer: once its
/// caller stops polling it, it reads nothing more and the server's writes to it stall.
pub async fn small_window_client(http: SocketAddr, xff: &str) -> Tab {
    let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    sock.set_nonblocking(true).unwrap();
    let _ = sock.connect(&http.into());
    let tcp = tokio::net::TcpStream::from_std(sock.into()).unwrap();
    tcp.writable().await.unwrap();
    let mut req = format!("ws://{http}/ws").into_client_request().unwrap();
    req.headers_mut()
        .insert("x-forwarded-for", xff.parse().unwrap());
    let (ws, _) = tokio_tungstenite::client_async(req, tcp)
        .await
        .expect("websocket handshake");
    ws
}

/// Say hello as `name` and read until the first `peers`; false if the server refused or
/// closed first.
pub async fn hello_and_first_list(ws: &mut Tab, name: &str, wait: Duration) -> bool {
    let hello = json!({"type":"hello","v":1,"name":name,"kind":"desktop","pairs":[]});
    if ws.send(Message::text(hello.to_string())).await.is_err() {
        return false;
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                match v["type"].as_str() {
                    Some("peers") => return true,
                    Some("error") => return false,
                    _ => {}
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => return false,
        }
    }
}
