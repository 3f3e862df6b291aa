//! The connection check: does UDP from this browser reach homedrop, and how fast?
//!
//! Transfers between two browsers are WebRTC over UDP; when a network blocks UDP (guest Wi-Fi,
//! client isolation, a firewall) nothing else tells the user why. So the page opens an
//! unreliable data channel to homedrop itself with webrtc-unreliable (ICE-lite, DTLS, a small
//! SCTP) and times paced echoes of small messages: round-trip time and loss, to the appliance.
//!
//! - `POST /probe` (served by `http::probe`) takes the browser's SDP offer (at most
//!   [`MAX_OFFER`] bytes) and answers with the SDP answer and the one host candidate, set to
//!   the address the browser used to reach the HTTP server (the probe itself usually listens
//!   on every address). This module knows nothing of HTTP: a refusal is a [`ProbeError`],
//!   whose text is what the browser is shown.
//! - The UDP socket is bound at start (a busy port turns the check off with a warning), but
//!   webrtc-unreliable generates an RSA-4096 key first (0.2 to 1.3 s on x86, seconds on a Pi): that runs on a
//!   blocking thread, so nothing else waits for it; `/probe` waits up to [`READY_WAIT`].
//! - The echo returns every message of at most [`MAX_MESSAGE`] bytes as is (the crate has no
//!   fragmentation: larger ones are lost on the way anyway); at most [`MAX_SESSIONS`] offers
//!   are answered per [`SESSION_WINDOW`]. Echoes are one for one, to a peer that completed
//!   ICE and DTLS: no amplification, no reflection to a third party.

use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use webrtc_unreliable::{runtime, SessionEndpoint, SslConfig};

/// Largest SDP offer accepted (Chromium's is under 1 KiB; candidates can add a few).
pub const MAX_OFFER: usize = 16 * 1024;
/// Largest message echoed back.
pub const MAX_MESSAGE: usize = 1024;
/// Most offers answered per [`SESSION_WINDOW`] (a check lasts a few seconds).
pub const MAX_SESSIONS: usize = 64;
/// The window [`MAX_SESSIONS`] counts over.
pub const SESSION_WINDOW: Duration = Duration::from_secs(60);
/// How long `POST /probe` waits for the key to be generated.
pub const READY_WAIT: Duration = Duration::from_secs(30);

/// Why an offer got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("The connection check is still starting; try again in a moment.")]
    Starting,
    #[error("The connection check could not start on this server.")]
    Failed,
    #[error("Too many connection checks at once; try again shortly.")]
    Busy,
    #[error("The body must be a WebRTC SDP offer (with ice-ufrag, ice-pwd and mid).")]
    BadOffer,
    #[error("The connection check listens on IPv{0} only; open this page over IPv{0}.")]
    WrongFamily(u8),
}

enum State {
    Starting,
    Ready(SessionEndpoint),
    Failed,
}

/// Handle shared with the HTTP routes (cheap to clone).
#[derive(Clone)]
pub struct Probe {
    udp: SocketAddr,
    state: watch::Receiver<Arc<State>>,
    /// When recent offers were answered.
    sessions: Arc<Mutex<VecDeque<Instant>>>,
}

impl Probe {
    /// Bind the UDP socket on `addr` now and start the server (key first) in the background,
    /// until `token` is cancelled.
    pub fn start(
        addr: SocketAddr,
        token: CancellationToken,
    ) -> io::Result<(Probe, tokio::task::JoinHandle<()>)> {
        let socket = std::net::UdpSocket::bind(addr)?;
        socket.set_nonblocking(true)?;
        let udp = socket.local_addr()?;
        let (tx, rx) = watch::channel(Arc::new(State::Starting));
        let probe = Probe {
            udp,
            state: rx,
            sessions: Arc::default(),
        };
        let task = tokio::spawn(run(socket, tx, token));
        Ok((probe, task))
    }

    /// The bound UDP address.
    pub fn udp_addr(&self) -> SocketAddr {
        self.udp
    }

    /// `starting` (generating its key), `ready` (offers are answered) or `failed`.
    pub fn status(&self) -> &'static str {
        match **self.state.borrow() {
            State::Starting => "starting",
            State::Ready(_) => "ready",
            State::Failed => "failed",
        }
    }

    /// Answer an SDP offer that arrived on an HTTP connection to `local` (our side of it):
    /// the answer JSON (`{answer, candidate}`) with `local`'s IP as the candidate.
    pub async fn answer(&self, offer: &[u8], local: IpAddr) -> Result<String, ProbeError> {
        let ip = self.candidate_ip(local)?;
        if !looks_like_offer(offer) {
            return Err(ProbeError::BadOffer);
        }
        let mut rx = self.state.clone();
        let state =
            tokio::time::timeout(READY_WAIT, rx.wait_for(|s| !matches!(**s, State::Starting)))
                .await
                .map_err(|_| ProbeError::Starting)?
                .map_err(|_| ProbeError::Failed)?
                .clone();
        let State::Ready(endpoint) = &*state else {
            return Err(ProbeError::Failed);
        };
        self.take_session_slot()?;
        let chunk = Ok::<_, io::Error>(offer.to_vec());
        let json = endpoint
            .clone()
            .session_request(futures_util::stream::iter([chunk]))
            .await
            // The crate does not export its error type: a parse error has a source, "the
            // server is gone" has none.
            .map_err(|e| match std::error::Error::source(&e) {
                Some(_) => ProbeError::BadOffer,
                None => ProbeError::Failed,
            })?;
        set_candidate(&json, self.udp, ip).ok_or(ProbeError::Failed)
    }

    fn take_session_slot(&self) -> Result<(), ProbeError> {
        let mut s = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        while s.front().is_some_and(|t| t.elapsed() > SESSION_WINDOW) {
            s.pop_front();
        }
        if s.len() >= MAX_SESSIONS {
            return Err(ProbeError::Busy);
        }
        s.push_back(Instant::now());
        Ok(())
    }

    /// The IP the browser can reach: the probe's own if it listens on one address, else the
    /// one the browser used for HTTP.
    fn candidate_ip(&self, local: IpAddr) -> Result<IpAddr, ProbeError> {
        let local = match local {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(local, IpAddr::V4),
            v4 => v4,
        };
        let bound = self.udp.ip();
        if !bound.is_unspecified() {
            return Ok(bound);
        }
        match (bound, local) {
            (IpAddr::V4(_), IpAddr::V4(_)) => Ok(local),
            (IpAddr::V6(_), _) => Ok(local),
            (IpAddr::V4(_), IpAddr::V6(_)) => Err(ProbeError::WrongFamily(4)),
        }
    }
}

/// The three SDP attributes webrtc-unreliable needs, as text.
fn looks_like_offer(offer: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(offer) else {
        return false;
    };
    ["a=ice-ufrag:", "a=ice-pwd:", "a=mid:"]
        .iter()
        .all(|a| text.lines().any(|l| l.starts_with(a)))
}

/// Rewrite the crate's answer (made for the bound address) to advertise `ip`.
fn set_candidate(json: &str, bound: SocketAddr, ip: IpAddr) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(json).ok()?;
    let fam = if ip.is_ipv6() { "IP6" } else { "IP4" };
    let old_fam = if bound.is_ipv6() { "IP6" } else { "IP4" };
    let sdp = v["answer"]["sdp"].as_str()?.replace(
        &format!("c=IN {old_fam} {}\r\n", bound.ip()),
        &format!("c=IN {fam} {ip}\r\n"),
    );
    v["answer"]["sdp"] = sdp.into();
    let cand = v["candidate"]["candidate"].as_str()?.replace(
        &format!(" {} {} typ host", bound.ip(), bound.port()),
        &format!(" {ip} {} typ host", bound.port()),
    );
    if !cand.contains(&format!(" {ip} ")) {
        return None;
    }
    v["candidate"]["candidate"] = cand.into();
    Some(v.to_string())
}

/// Generate the key off the runtime, then echo until cancelled.
async fn run(
    socket: std::net::UdpSocket,
    state: watch::Sender<Arc<State>>,
    token: CancellationToken,
) {
    let t0 = Instant::now();
    // A plain thread, not spawn_blocking: the runtime's shutdown must not wait for it.
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || tx.send(SslConfig::create()));
    let ssl = tokio::select! {
        r = rx => r,
        _ = token.cancelled() => return,
    };
    let ssl = match ssl {
        Ok(Ok(ssl)) => ssl,
        Ok(Err(e)) => return fail(&state, &format!("cannot create its key: {e}")),
        Err(_) => return fail(&state, "the key thread ended without a key"),
    };
    let udp = match socket.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(&state, &e.to_string()),
    };
    let rt = PreBound(Mutex::new(Some(socket)));
    let mut server = match webrtc_unreliable::Server::with_ssl_config(rt, udp, udp, ssl) {
        Ok(s) => s,
        Err(e) => return fail(&state, &e.to_string()),
    };
    tracing::info!(
        "connection check ready on udp {udp} (key generated in {} ms)",
        t0.elapsed().as_millis()
    );
    let _ = state.send(Arc::new(State::Ready(server.session_endpoint())));
    let mut buf = Vec::with_capacity(MAX_MESSAGE);
    loop {
        let (from, kind) = tokio::select! {
            r = server.recv() => match r {
                Ok(m) => {
                    buf.clear();
                    buf.extend_from_slice(&m.message[..m.message.len().min(MAX_MESSAGE + 1)]);
                    (m.remote_addr, m.message_type)
                }
                Err(e) => {
                    tracing::debug!("connection check: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = token.cancelled() => break,
        };
        if buf.len() <= MAX_MESSAGE {
            if let Err(e) = server.send(&buf, kind, &from).await {
                tracing::debug!("connection check echo to {from}: {e}");
            }
        }
    }
}

fn fail(state: &watch::Sender<Arc<State>>, why: &str) {
    tracing::warn!("the connection check is off: {why}");
    let _ = state.send(Arc::new(State::Failed));
}

/// webrtc-unreliable's runtime with the socket bound before the key exists.
struct PreBound(Mutex<Option<std::net::UdpSocket>>);

struct Udp(tokio::net::UdpSocket);

impl runtime::UdpSocket for Udp {
    fn poll_recv_from(
        &mut self,
        cx: &mut Context,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let mut rb = tokio::io::ReadBuf::new(buf);
        self.0
            .poll_recv_from(cx, &mut rb)
            .map_ok(|from| (rb.filled().len(), from))
    }

    fn poll_send_to(
        &mut self,
        cx: &mut Context,
        buf: &[u8],
        addr: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        self.0.poll_send_to(cx, buf, addr)
    }
}

impl runtime::Runtime for PreBound {
    type Timer = webrtc_unreliable::tokio::Timer;
    type UdpSocket = Udp;

    fn bind_udp(&self, _addr: SocketAddr) -> io::Result<Udp> {
        let socket = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .ok_or_else(|| io::Error::other("the probe socket was already taken"))?;
        Ok(Udp(tokio::net::UdpSocket::from_std(socket)?))
    }

    fn timer(&self, after: Duration) -> Self::Timer {
        runtime::Runtime::timer(&webrtc_unreliable::tokio::Runtime, after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_is_rewritten_to_the_address_used() {
        let bound: SocketAddr = "0.0.0.0:3479".parse().unwrap();
        let json = r#"{"answer":{"sdp":"v=0\r\nc=IN IP4 0.0.0.0\r\nm=application 3479 UDP/DTLS/SCTP webrtc-datachannel\r\n","type":"answer"},"candidate":{"sdpMLineIndex":0,"sdpMid":"0","candidate":"candidate:1 1 UDP 123 0.0.0.0 3479 typ host"}}"#;
        let out = set_candidate(json, bound, "10.1.0.1".parse().unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert!(v["answer"]["sdp"]
            .as_str()
            .unwrap()
            .contains("c=IN IP4 10.1.0.1\r\n"));
        assert_eq!(
            v["candidate"]["candidate"],
            "candidate:1 1 UDP 123 10.1.0.1 3479 typ host"
        );
    }

    #[test]
    fn offers_need_the_ice_attributes() {
        assert!(looks_like_offer(
            b"v=0\r\na=ice-ufrag:ab\r\na=ice-pwd:cd\r\na=mid:0\r\n"
        ));
        assert!(!looks_like_offer(b"v=0\r\na=ice-ufrag:ab\r\na=mid:0\r\n"));
        assert!(!looks_like_offer(&[0xff, 0xfe]));
    }
}
