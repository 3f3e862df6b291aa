//! A signaling client speaking JSON over a real WebSocket: the tests' stand-in for a page,
//! and the footprint bench's thousand clients.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A signaling client speaking JSON.
pub struct Ws {
    pub ws: Stream,
    pub id: String,
    pub welcome: Value,
}

impl Ws {
    /// Connect (as `xff` through the trusted proxy when given) and read `welcome`.
    pub async fn connect(addr: SocketAddr, xff: Option<&str>) -> Ws {
        Self::connect_with(addr, xff, false, Duration::from_secs(5)).await
    }

    /// `connect` with TCP_NODELAY, as browsers set it: Nagle would hold a small message
    /// behind an unacknowledged one (for timing, as the footprint bench does); `welcome`
    /// may take up to `wait`.
    pub async fn connect_nodelay(addr: SocketAddr, xff: Option<&str>, wait: Duration) -> Ws {
        Self::connect_with(addr, xff, true, wait).await
    }

    async fn connect_with(
        addr: SocketAddr,
        xff: Option<&str>,
        nodelay: bool,
        wait: Duration,
    ) -> Ws {
        let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
        if let Some(ip) = xff {
            req.headers_mut()
                .insert("x-forwarded-for", ip.parse().unwrap());
        }
        let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, nodelay)
            .await
            .unwrap();
        let mut c = Ws {
            ws,
            id: String::new(),
            welcome: Value::Null,
        };
        let w = c.recv_within(wait).await;
        assert_eq!(w["type"], "welcome", "{w}");
        c.id = w["id"].as_str().unwrap().to_string();
        c.welcome = w;
        c
    }

    /// Connect from source address `from` to `server` (inside a namespace thread), sending
    /// `Host: host` and `Origin: origin` when given, as a browser page would. `Err(status)`
    /// when the upgrade is refused (0: the connection itself failed).
    pub async fn connect_as(
        server: SocketAddr,
        from: std::net::IpAddr,
        host: &str,
        origin: Option<&str>,
    ) -> Result<Ws, u16> {
        let stream = tcp_from(from, server).await.map_err(|_| 0u16)?;
        Self::over(stream, host, origin).await
    }

    /// The WebSocket handshake over a connected `stream` (see [`Ws::connect_as`]).
    pub async fn over(stream: TcpStream, host: &str, origin: Option<&str>) -> Result<Ws, u16> {
        let mut req = format!("ws://{host}/ws").into_client_request().unwrap();
        if let Some(o) = origin {
            req.headers_mut().insert("origin", o.parse().unwrap());
        }
        let ws = match tokio_tungstenite::client_async(req, MaybeTlsStream::Plain(stream)).await {
            Ok((ws, _)) => ws,
            Err(tokio_tungstenite::tungstenite::Error::Http(r)) => return Err(r.status().as_u16()),
            Err(_) => return Err(0),
        };
        let mut c = Ws {
            ws,
            id: String::new(),
            welcome: Value::Null,
        };
        let w = c.try_recv(Duration::from_secs(5)).await.ok_or(0u16)?;
        assert_eq!(w["type"], "welcome", "{w}");
        c.id = w["id"].as_str().unwrap_or_default().to_string();
        c.welcome = w;
        Ok(c)
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

    /// `send` that reports a closed connection instead of panicking.
    pub async fn try_send(&mut self, v: Value) -> Result<(), ()> {
        self.ws
            .send(Message::text(v.to_string()))
            .await
            .map_err(|_| ())
    }

    pub async fn send_raw(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Next JSON message (pings are answered by tungstenite while reading).
    pub async fn recv(&mut self) -> Value {
        self.recv_within(Duration::from_secs(5)).await
    }

    /// Next JSON message within `wait` (whole seconds), or a panic saying so.
    pub async fn recv_within(&mut self, wait: Duration) -> Value {
        self.try_recv(wait)
            .await
            .unwrap_or_else(|| panic!("no message within {} s", wait.as_secs()))
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

/// A TCP connection to `to` from source address `from` (which the namespace must own).
pub async fn tcp_from(from: std::net::IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    tcp_from_with(from, to, None).await
}

/// [`tcp_from`] with a receive buffer of `rcvbuf` bytes (set before connecting, so the
/// window the peer sees is small from the start: a client that stops reading stalls the
/// server's writes after a few KiB).
pub async fn tcp_from_with(
    from: std::net::IpAddr,
    to: SocketAddr,
    rcvbuf: Option<u32>,
) -> std::io::Result<TcpStream> {
    let sock = if from.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    if let Some(n) = rcvbuf {
        sock.set_recv_buffer_size(n)?;
    }
    sock.bind(SocketAddr::new(from, 0))?;
    tokio::time::timeout(Duration::from_secs(5), sock.connect(to))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}
