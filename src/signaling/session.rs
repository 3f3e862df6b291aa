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
/// Room invitations one connection may send per minute (also the burst).
pub const INVITES_PER_MINUTE: u32 = 10;

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
#[derive(Debug, Clone)]
pub struct Origin {
    pub ip: IpAddr,
    pub group: NetGroup,
    /// The page's host when it is one of homedrop's own ([`super::ice::own_host`]).
    pub own_host: Option<String>,
}

struct Session {
    hub: Arc<Hub>,
    id: String,
    origin: Origin,
    tx: mpsc::Sender<String>,
    hello: bool,
    errors: u32,
    limiter: DefaultDirectRateLimiter,
    invites: DefaultDirectRateLimiter,
    story: Story,
}

/// What the "session ended" log line tells about one connection: counts and times only,
/// never names, texts, file names, room codes or addresses.
#[derive(Debug)]
struct Story {
    joined_at: std::time::SystemTime,
    started: Instant,
    signals_sent: u64,
    signals_received: u64,
    rooms_joined: u32,
    pairings: u32,
    turn_offered: bool,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    ClientClosed,
    ConnectionLost,
    NoPong,
    TooManyErrors,
    TooSlow,
    Restarting,
}

impl Ending {
    fn as_str(self) -> &'static str {
        match self {
            Ending::ClientClosed => "client closed",
            Ending::ConnectionLost => "connection lost",
            Ending::NoPong => "no pong",
            Ending::TooManyErrors => "too many errors",
            Ending::TooSlow => "too slow",
            Ending::Restarting => "server restarting",
        }
    }

    /// The close frame the server sends, if it is the one closing.
    fn close_frame(self) -> Option<(CloseCode, &'static str)> {
        match self {
            Ending::TooManyErrors => Some((CloseCode::Protocol, "too many errors")),
            Ending::TooSlow => Some((CloseCode::Policy, "too slow")),
            Ending::Restarting => Some((CloseCode::Restart, "homedrop is restarting")),
            Ending::ClientClosed | Ending::ConnectionLost | Ending::NoPong => None,
        }
    }
}

/// Server messages carrying a signal start with this (serde writes the tag first); the
/// session counts them without parsing.
const SIGNAL_PREFIX: &str = r#"{"type":"signal","#;
/// ... and messages carrying TURN credentials (the welcome never does) with this.
const ICE_PREFIX: &str = r#"{"type":"iceServers","#;

type WsStream =
    hyper_tungstenite::WebSocketStream<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>>;
type Sink = futures_util::stream::SplitSink<WsStream, Message>;
type Stream = futures_util::stream::SplitStream<WsStream>;

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
    hub.connect(&id, origin.group, origin.own_host.clone(), tx.clone());
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
        invites: RateLimiter::direct(Quota::per_minute(
            NonZeroU32::new(INVITES_PER_MINUTE).unwrap_or(NonZeroU32::MIN),
        )),
        story: Story {
            joined_at: std::time::SystemTime::now(),
            started: Instant::now(),
            signals_sent: 0,
            signals_received: 0,
            rooms_joined: 0,
            pairings: 0,
            turn_offered: false,
        },
    };
    let welcome = ServerMsg::Welcome {
        v: PROTOCOL_VERSION,
        id: id.clone(),
        ice_servers: hub.ice_servers(&id),
        max_message_bytes: MAX_MESSAGE_BYTES,
    };
    s.send(welcome);
    tracing::debug!(peer = short(&id), "connected");
    let ending = s.run(&mut sink, &mut stream, &mut rx, &shutdown).await;
    hub.disconnect(&id);
    if let Some((code, reason)) = ending.close_frame() {
        // Flush what is queued (e.g. the last error) before the close frame.
        while let Ok(text) = rx.try_recv() {
            let _ = sink.send(Message::text(text)).await;
        }
        if ending == Ending::Restarting {
            let _ = sink
                .send(Message::text(ServerMsg::Restarting.to_json()))
                .await;
        }
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
    }
    let _ = sink.close().await;
    s.story.log(&id, s.origin.clone(), ending);
}

impl Story {
    /// The one structured line per session, at disconnect.
    fn log(&self, id: &str, origin: Origin, ending: Ending) {
        let joined_at = self
            .joined_at
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let group = match origin.group {
            NetGroup::Home => "home",
            NetGroup::Public(_) => "public",
        };
        tracing::info!(
            peer = short(id),
            joined_at,
            duration_ms = self.started.elapsed().as_millis() as u64,
            group,
            rooms_joined = self.rooms_joined,
            pairings = self.pairings,
            signals_sent = self.signals_sent,
            signals_received = self.signals_received,
            turn_offered = self.turn_offered,
            end = ending.as_str(),
            "session ended"
        );
    }
}

impl Session {
    /// The connection's loop: client frames, queued messages, pings, shutdown.
    async fn run(
        &mut self,
        sink: &mut Sink,
        stream: &mut Stream,
        rx: &mut mpsc::Receiver<String>,
        shutdown: &CancellationToken,
    ) -> Ending {
        let settings = self.hub.settings.clone();
        let mut ping = tokio::time::interval(settings.ping_every);
        let mut last_seen = Instant::now();
        loop {
            tokio::select! {
                frame = stream.next() => {
                    last_seen = Instant::now();
                    match frame {
                        Some(Ok(Message::Text(t))) => self.on_text(t.as_str()),
                        Some(Ok(Message::Binary(_))) => self.refuse(ErrorCode::BadRequest, "Binary frames are not accepted: file bytes never go through homedrop.", None),
                        Some(Ok(Message::Close(_))) | None => return Ending::ClientClosed,
                        Some(Ok(_)) => {}
                        Some(Err(e)) => {
                            tracing::debug!(peer = short(&self.id), "websocket error: {e}");
                            return Ending::ConnectionLost;
                        }
                    }
                    if self.errors >= MAX_ERRORS {
                        return Ending::TooManyErrors;
                    }
                }
                out = rx.recv() => match out {
                    Some(text) => {
                        if text.starts_with(SIGNAL_PREFIX) {
                            self.story.signals_received += 1;
                        } else if text.starts_with(ICE_PREFIX) {
                            self.story.turn_offered = true;
                        }
                        if sink.send(Message::text(text)).await.is_err() {
                            return Ending::ConnectionLost;
                        }
                    }
                    None => return Ending::TooSlow,
                },
                _ = ping.tick() => {
                    self.hub.refresh_ice(&self.id);
                    if last_seen.elapsed() > settings.dead_after {
                        tracing::debug!(peer = short(&self.id), "no pong, dropping");
                        return Ending::NoPong;
                    }
                    if sink.send(Message::Ping(Default::default())).await.is_err() {
                        return Ending::ConnectionLost;
                    }
                }
                _ = shutdown.cancelled() => return Ending::Restarting,
            }
        }
    }

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
                self.story.pairings = pairs.len() as u32;
                self.hub.with(|r| ((), r.hello(&id, name, kind, &pairs)));
                Ok(())
            }
            _ if !self.hello => Err((ErrorCode::HelloFirst, "Send hello first.")),
            ClientMsg::Rename { name } => {
                let name = clean_name(&name)?;
                self.hub.with(|r| ((), r.rename(&id, name)));
                Ok(())
            }
            ClientMsg::RoomCreate {
                capacity,
                snap_on_join,
            } => {
                self.hub
                    .with(|r| split(r.create_room_with(&id, capacity, snap_on_join)))?;
                self.story.rooms_joined += 1;
                Ok(())
            }
            ClientMsg::RoomInvite { to, code } => {
                if self.invites.check().is_err() {
                    return Err((
                        ErrorCode::RateLimited,
                        "Too many invitations; wait a minute.",
                    ));
                }
                self.hub.with(|r| split(r.room_invite(&id, &to, &code)))
            }
            ClientMsg::RoomInviteReply { to, code, accept } => {
                self.hub
                    .with(|r| split(r.room_invite_reply(&id, &to, &code, accept, now)))?;
                if accept {
                    self.story.rooms_joined += 1;
                }
                Ok(())
            }
            ClientMsg::RoomJoin { code } => {
                self.check_join()?;
                self.hub.with(|r| split(r.join_room(&id, &code, now)))?;
                self.story.rooms_joined += 1;
                Ok(())
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
                self.hub.with(|r| split(r.pair_join(&id, &key, now)))?;
                self.story.pairings += 1;
                Ok(())
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
            hub.note_signal(&from, &to);
            (Ok(()), vec![(to, ServerMsg::Signal { from, data })])
        })?;
        self.story.signals_sent += 1;
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_prefix_matches_the_serialized_signal() {
        let m = ServerMsg::Signal {
            from: "a".into(),
            data: serde_json::json!({"sdp": "x"}),
        };
        assert!(m.to_json().starts_with(SIGNAL_PREFIX), "{}", m.to_json());
        assert!(!ServerMsg::Restarting.to_json().starts_with(SIGNAL_PREFIX));
        let ice = ServerMsg::IceServers {
            ice_servers: Vec::new(),
            expires_in_secs: 1,
        };
        assert!(ice.to_json().starts_with(ICE_PREFIX), "{}", ice.to_json());
    }
}
