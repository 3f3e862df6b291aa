//! One WebSocket connection: parse, check limits, apply to the hub, keep it alive.
//!
//! Nothing a client sends can panic the server or grow its memory without bound: frames are
//! capped, messages are rate limited, every error is answered and counted, and a connection
//! that keeps misbehaving is closed with 1002 (protocol error).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use hyper_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use hyper_tungstenite::tungstenite::Message;
use hyper_tungstenite::HyperWebsocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::protocol::*;
use super::registry::{random_hex, Refusal};
use super::{short, Hub, OUT_QUEUE};
use crate::net::NetGroup;

/// Frames above this are refused by the WebSocket layer itself (connection closed); frames
/// between [`MAX_MESSAGE_BYTES`] and this get a `tooLarge` error and the connection stays.
pub const HARD_FRAME_LIMIT: usize = 256 * 1024;
/// Errors tolerated in a connection's life before it is closed.
pub const MAX_ERRORS: u32 = 20;
/// Sustained messages per second per connection, and the burst above it.
pub const MSGS_PER_SEC: u32 = 50;
pub const MSG_BURST: u32 = 200;

/// Read buffer per WebSocket. tungstenite zero-fills its whole read buffer before every
/// read, so its 128 KiB default made each idle connection cost 128 KiB of RSS (1,000
/// clients: 141 MB, bench/footprint.rs); signaling messages are small, and a larger frame
/// still grows the buffer as needed.
pub const WS_READ_BUFFER: usize = 4 * 1024;

/// WebSocket limits used for the upgrade.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(HARD_FRAME_LIMIT))
        .max_frame_size(Some(HARD_FRAME_LIMIT))
        .read_buffer_size(WS_READ_BUFFER)
}

/// Where a connection comes from.
#[derive(Debug, Clone, Copy)]
pub struct Origin {
    pub ip: IpAddr,
    pub group: NetGroup,
}

struct Session {
    hub: Arc<Hub>,
    id: String,
    origin: Origin,
    tx: mpsc::Sender<String>,
    hello: bool,
    errors: u32,
    limiter: DefaultDirectRateLimiter,
}

/// Serve one upgraded WebSocket until it closes, dies or the server shuts down.
pub async fn serve(hub: Arc<Hub>, ws: HyperWebsocket, origin: Origin, shutdown: CancellationToken) {
    let ws = match ws.await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::debug!("websocket handshake failed: {e}");
            return;
        }
    };
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<String>(OUT_QUEUE);
    let id = random_hex(16);
    hub.connect(&id, origin.group, tx.clone());
    let quota = Quota::per_second(NonZeroU32::new(MSGS_PER_SEC).unwrap_or(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(MSG_BURST).unwrap_or(NonZeroU32::MIN));
    let mut s = Session {
        hub: hub.clone(),
        id: id.clone(),
        origin,
        tx,
        hello: false,
        errors: 0,
        limiter: RateLimiter::direct(quota),
    };
    let welcome = ServerMsg::Welcome {
        v: PROTOCOL_VERSION,
        id: id.clone(),
        ice_servers: hub.ice_servers(),
        max_message_bytes: MAX_MESSAGE_BYTES,
    };
    s.send(welcome);
    tracing::debug!(peer = short(&id), "connected");
    let mut ping = tokio::time::interval(hub.settings.ping_every);
    let mut last_seen = Instant::now();
    let close = loop {
        tokio::select! {
            frame = stream.next() => {
                last_seen = Instant::now();
                match frame {
                    Some(Ok(Message::Text(t))) => s.on_text(t.as_str()),
                    Some(Ok(Message::Binary(_))) => s.refuse(ErrorCode::BadRequest, "Binary frames are not accepted: file bytes never go through homedrop.", None),
                    Some(Ok(Message::Close(_))) | None => break None,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => { tracing::debug!(peer = short(&id), "websocket error: {e}"); break None; }
                }
                if s.errors >= MAX_ERRORS {
                    break Some((CloseCode::Protocol, "too many errors"));
                }
            }
            out = rx.recv() => match out {
                Some(text) => if sink.send(Message::text(text)).await.is_err() { break None },
                None => break Some((CloseCode::Policy, "too slow")),
            },
            _ = ping.tick() => {
                if last_seen.elapsed() > hub.settings.dead_after {
                    tracing::debug!(peer = short(&id), "no pong, dropping");
                    break None;
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() { break None }
            }
            _ = shutdown.cancelled() => {
                let _ = sink.send(Message::text(ServerMsg::Restarting.to_json())).await;
                break Some((CloseCode::Restart, "homedrop is restarting"));
            }
        }
    };
    hub.disconnect(&id);
    if let Some((code, reason)) = close {
        // Flush what is queued (e.g. the last error) before the close frame.
        while let Ok(text) = rx.try_recv() {
            let _ = sink.send(Message::text(text)).await;
        }
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
    let _ = sink.close().await;
    tracing::debug!(peer = short(&id), "disconnected");
}

impl Session {
    fn send(&self, msg: ServerMsg) {
        let _ = self.tx.try_send(msg.to_json());
    }

    fn refuse(&mut self, code: ErrorCode, message: &str, reference: Option<String>) {
        self.errors += 1;
        self.hub
            .counters
            .errors_sent
            .fetch_add(1, Ordering::Relaxed);
        self.send(ServerMsg::Error {
            code,
            message: message.to_string(),
            reference,
        });
    }

    fn on_text(&mut self, text: &str) {
        if self.limiter.check().is_err() {
            return self.refuse(
                ErrorCode::RateLimited,
                "Too many messages; slow down.",
                None,
            );
        }
        if text.len() > MAX_MESSAGE_BYTES {
            return self.refuse(ErrorCode::TooLarge, "Message larger than 64 KiB.", None);
        }
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => return self.refuse(ErrorCode::BadJson, "Message is not valid JSON.", None),
        };
        let kind = value
            .get("type")
            .and_then(|t| t.as_str())
            .map(str::to_string);
        let msg: ClientMsg = match serde_json::from_value(value) {
            Ok(m) => m,
            Err(e) => {
                let (code, what) = if e.to_string().contains("unknown variant") || kind.is_none() {
                    (ErrorCode::UnknownType, "Unknown or missing message type.")
                } else {
                    (
                        ErrorCode::BadRequest,
                        "Message fields are missing or invalid.",
                    )
                };
                return self.refuse(code, what, kind.filter(|k| k.len() <= 32));
            }
        };
        if let Err((code, message)) = self.apply(msg) {
            self.refuse(code, message, kind);
        }
    }

    fn apply(&mut self, msg: ClientMsg) -> Result<(), Refusal> {
        let now = Instant::now();
        let id = self.id.clone();
        match msg {
            ClientMsg::Hello {
                v,
                name,
                kind,
                pairs,
            } => {
                if self.hello {
                    return Err((ErrorCode::BadRequest, "hello was already sent."));
                }
                if v != PROTOCOL_VERSION {
                    self.errors = MAX_ERRORS;
                    return Err((
                        ErrorCode::BadVersion,
                        "Unsupported protocol version; reload the page.",
                    ));
                }
                let name = clean_name(&name)?;
                if pairs.len() > MAX_PAIRS || pairs.iter().any(|p| !is_secret(p)) {
                    return Err((ErrorCode::BadRequest, "Invalid pairing list."));
                }
                self.hello = true;
                self.hub.with(|r| ((), r.hello(&id, name, kind, &pairs)));
                Ok(())
            }
            _ if !self.hello => Err((ErrorCode::HelloFirst, "Send hello first.")),
            ClientMsg::Rename { name } => {
                let name = clean_name(&name)?;
                self.hub.with(|r| ((), r.rename(&id, name)));
                Ok(())
            }
            ClientMsg::RoomCreate { capacity } => {
                self.hub.with(|r| split(r.create_room(&id, capacity)))
            }
            ClientMsg::RoomJoin { code } => {
                self.check_join()?;
                self.hub.with(|r| split(r.join_room(&id, &code, now)))
            }
            ClientMsg::RoomLeave { code } => {
                self.hub.with(|r| ((), r.leave_room(&id, &code, now)));
                Ok(())
            }
            ClientMsg::PairStart => {
                self.hub.with(|r| ((), r.pair_start(&id, now)));
                Ok(())
            }
            ClientMsg::PairJoin { key } => {
                self.check_join()?;
                self.hub.with(|r| split(r.pair_join(&id, &key, now)))
            }
            ClientMsg::PairForget { secret } => {
                self.hub.with(|r| ((), r.pair_forget(&id, &secret)));
                Ok(())
            }
            ClientMsg::Signal { to, data } => self.relay(to, data),
        }
    }

    fn check_join(&self) -> Result<(), Refusal> {
        if self.hub.allow_join(self.origin.ip) {
            Ok(())
        } else {
            Err((
                ErrorCode::RateLimited,
                "Too many join attempts from your network; wait a minute.",
            ))
        }
    }

    /// Forward SDP/ICE only to a peer that shares the home group, a room or a pairing.
    fn relay(&mut self, to: String, data: serde_json::Value) -> Result<(), Refusal> {
        let from = self.id.clone();
        let hub = self.hub.clone();
        hub.with(|r| {
            if to.len() > 64 || r.links(&from, &to).is_empty() {
                return (
                    Err((
                        ErrorCode::NotAllowed,
                        "You share no group, room or pairing with that peer.",
                    )),
                    Vec::new(),
                );
            }
            hub.counters.signals_relayed.fetch_add(1, Ordering::Relaxed);
            (Ok(()), vec![(to, ServerMsg::Signal { from, data })])
        })
    }
}

fn split(
    r: Result<Vec<(String, ServerMsg)>, Refusal>,
) -> (Result<(), Refusal>, Vec<(String, ServerMsg)>) {
    match r {
        Ok(out) => (Ok(()), out),
        Err(e) => (Err(e), Vec::new()),
    }
}

/// A display name: trimmed, 1 to 40 characters, no control characters.
fn clean_name(name: &str) -> Result<String, Refusal> {
    let name = name.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err((
            ErrorCode::BadRequest,
            "A name must be 1 to 40 characters, without control characters.",
        ));
    }
    Ok(name.to_string())
}

fn is_secret(s: &str) -> bool {
    s.len() == PAIR_SECRET_HEX && s.bytes().all(|b| b.is_ascii_hexdigit())
}
