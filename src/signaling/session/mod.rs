//! One WebSocket connection: parse, check limits, apply to the hub, keep it alive.
//!
//! Nothing a client sends can panic the server or grow its memory without bound: frames are
//! capped, messages are rate limited, every error is answered and counted, and a connection
//! that keeps misbehaving is closed with 1002 (protocol error). The session decides no
//! signaling rule: each message becomes one call of the registry (through [`Hub::apply`]).
//! Messages for this client arrive typed on its queue and are serialized here, outside the
//! hub's lock.

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
use super::registry::Refusal;
use super::{short, Hub, Outgoing, OUT_QUEUE};
use crate::net::{NetGroup, SourceKey};

mod parse;

use parse::{clean_name, is_secret};

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
    /// This session's own queue, for its own replies. Weak: the hub holds the only strong
    /// sender, so dropping it (queue full) closes the queue and ends the session.
    tx: mpsc::WeakSender<Outgoing>,
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
    let (tx, mut rx) = mpsc::channel::<Outgoing>(OUT_QUEUE);
    let weak = tx.downgrade();
    let id = hub.connect(origin.group, origin.own_host.clone(), tx);
    let mut s = Session::new(hub.clone(), id.clone(), origin, weak);
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
    close(&mut sink, &mut stream, &mut rx, ending).await;
    s.story.log(&id, s.origin.clone(), ending);
}

/// How long a closing connection is still read, waiting for the client's close frame.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
/// Bytes a closing connection may still send while it lingers.
const LINGER_BYTES: usize = 256 * 1024;

/// End the connection: when the server is the one closing, flush what is queued (e.g. the
/// last error), send the close frame and linger (see [`linger`]).
async fn close(
    sink: &mut Sink,
    stream: &mut Stream,
    rx: &mut mpsc::Receiver<Outgoing>,
    ending: Ending,
) {
    if let Some((code, reason)) = ending.close_frame() {
        // Flush what is queued (e.g. the last error) before the close frame.
        while let Ok(msg) = rx.try_recv() {
            let _ = sink.send(Message::text(msg.to_json())).await;
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
        // A restart closes everyone at once and must stay quick; those clients were not
        // flooding, so there is nothing unread to reset away.
        if ending != Ending::Restarting {
            linger(stream).await;
        }
    }
    let _ = sink.close().await;
}

/// RFC 6455 §7.1.1: after its close frame the server waits for the client's before
/// closing TCP. A socket closed with unread bytes in it is reset, and a reset makes the
/// client's kernel drop what it had not read yet: a flooding client would never see the
/// last errors or the close code. Bounded in time and bytes, so lingering holds nothing.
async fn linger(stream: &mut Stream) {
    let drain = async {
        let mut read = 0usize;
        while let Some(Ok(m)) = stream.next().await {
            read += m.len();
            if m.is_close() || read > LINGER_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

impl Story {
    /// A message is going out to this client.
    fn note_out(&mut self, msg: &ServerMsg) {
        match msg {
            ServerMsg::Signal { .. } => self.signals_received += 1,
            ServerMsg::IceServers { .. } => self.turn_offered = true,
            _ => {}
        }
    }

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
    fn new(hub: Arc<Hub>, id: String, origin: Origin, tx: mpsc::WeakSender<Outgoing>) -> Self {
        let per_sec = NonZeroU32::new(MSGS_PER_SEC).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(MSG_BURST).unwrap_or(NonZeroU32::MIN);
        let invites = NonZeroU32::new(INVITES_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Session {
            hub,
            id,
            origin,
            tx,
            hello: false,
            errors: 0,
            limiter: RateLimiter::direct(Quota::per_second(per_sec).allow_burst(burst)),
            invites: RateLimiter::direct(Quota::per_minute(invites)),
            story: Story {
                joined_at: std::time::SystemTime::now(),
                started: Instant::now(),
                signals_sent: 0,
                signals_received: 0,
                rooms_joined: 0,
                pairings: 0,
                turn_offered: false,
            },
        }
    }

    /// The connection's loop: client frames, queued messages, pings, shutdown.
    async fn run(
        &mut self,
        sink: &mut Sink,
        stream: &mut Stream,
        rx: &mut mpsc::Receiver<Outgoing>,
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
                    Some(msg) => {
                        self.story.note_out(&msg);
                        if sink.send(Message::text(msg.to_json())).await.is_err() {
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
        if let Some(tx) = self.tx.upgrade() {
            let _ = tx.try_send(Box::new(msg));
        }
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
        let msg = match parse::client_msg(text) {
            Ok(m) => m,
            Err(r) => return self.refuse(r.code, r.message, r.reference),
        };
        let kind = parse::type_name(&msg);
        if let Err((code, message)) = self.apply(msg) {
            self.refuse(code, message, Some(kind.to_string()));
        }
    }

    /// One message, as one call of the registry under the hub's lock.
    fn apply(&mut self, msg: ClientMsg) -> Result<(), Refusal> {
        let (id, source) = (self.id.as_str(), SourceKey::of(self.origin.ip));
        match msg {
            ClientMsg::Hello {
                v,
                name,
                kind,
                pairs,
            } => self.hello(v, name, kind, pairs),
            _ if !self.hello => Err((ErrorCode::HelloFirst, "Send hello first.")),
            ClientMsg::Rename { name } => {
                let name = clean_name(&name)?;
                self.hub.apply(|r, now| Ok(r.rename(id, name, now)))
            }
            ClientMsg::RoomCreate {
                capacity,
                snap_on_join,
            } => {
                self.hub
                    .apply(|r, now| r.create_room(id, source, capacity, snap_on_join, now))?;
                self.story.rooms_joined += 1;
                Ok(())
            }
            ClientMsg::RoomInvite { to, code } => self.invite(&to, &code),
            ClientMsg::RoomInviteReply { to, code, accept } => {
                self.hub
                    .apply(|r, now| r.room_invite_reply(id, &to, &code, accept, now))?;
                if accept {
                    self.story.rooms_joined += 1;
                }
                Ok(())
            }
            ClientMsg::RoomJoin { code } => {
                // The join limit and the join are one step under the lock.
                self.hub.apply(|r, now| {
                    r.join_attempt(source, now.mono)?;
                    r.join_room(id, &code, now)
                })?;
                self.story.rooms_joined += 1;
                Ok(())
            }
            ClientMsg::RoomLeave { code } => {
                self.hub.apply(|r, now| Ok(r.leave_room(id, &code, now)))
            }
            ClientMsg::PairStart => self.hub.apply(|r, now| Ok(r.pair_start(id, now.mono))),
            ClientMsg::PairJoin { key } => {
                self.hub.apply(|r, now| {
                    r.join_attempt(source, now.mono)?;
                    r.pair_join(id, &key, now)
                })?;
                self.story.pairings += 1;
                Ok(())
            }
            ClientMsg::PairForget { secret } => {
                self.hub.apply(|r, now| Ok(r.pair_forget(id, &secret, now)))
            }
            ClientMsg::Signal { to, data } => self.relay(&to, data),
        }
    }

    /// `hello`: checked here (once, right version, clean name, well-formed pairings),
    /// then the registry makes the device visible.
    fn hello(
        &mut self,
        v: u32,
        name: String,
        kind: DeviceKind,
        pairs: Vec<String>,
    ) -> Result<(), Refusal> {
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
        let id = self.id.as_str();
        self.hub
            .apply(|r, now| Ok(r.hello(id, name, kind, &pairs, now)))
    }

    /// Invite a device into a room, within this connection's invitation rate.
    fn invite(&mut self, to: &str, code: &str) -> Result<(), Refusal> {
        if self.invites.check().is_err() {
            return Err((
                ErrorCode::RateLimited,
                "Too many invitations; wait a minute.",
            ));
        }
        let id = self.id.as_str();
        self.hub.apply(|r, _| r.room_invite(id, to, code))
    }

    /// Forward SDP/ICE if the registry allows it (see `registry/signals.rs`).
    fn relay(&mut self, to: &str, data: serde_json::Value) -> Result<(), Refusal> {
        let from = self.id.as_str();
        self.hub
            .apply(|r, now| r.signal(from, to, data, now.mono))?;
        self.hub
            .counters
            .signals_relayed
            .fetch_add(1, Ordering::Relaxed);
        self.story.signals_sent += 1;
        Ok(())
    }
}
