//! One WebSocket connection: parse, check limits, apply to the hub, keep it alive.
//!
//! Nothing a client sends can panic the server or grow its memory without bound: frames are
//! capped, messages are rate limited, every error is answered and counted, and a connection
//! that keeps misbehaving is closed with 1002 (protocol error). The session decides no
//! signaling rule: each message becomes one call of the registry (through [`Hub::apply`]).
//! Messages for this client arrive typed on its queue ([`super::outq`], bounded in bytes)
//! and are serialized here, outside the hub's lock.
//!
//! Nothing a client does not do holds a slot for long either: a connection that says no
//! valid `hello` within the hub's `hello_within` is closed (1008 "no hello in time"), and
//! one that stops reading is closed when a write to it has not completed within
//! `dead_after` (its kernel buffers are full; without this its session would wait forever).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use hyper_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use hyper_tungstenite::tungstenite::Message;
use hyper_tungstenite::HyperWebsocket;
use tokio_util::sync::CancellationToken;

use super::outq::OutQueue;
use super::protocol::*;
use super::registry::Refusal;
use super::{short, Hub};
use crate::net::{NetGroup, SourceKey};

mod ending;
#[cfg(test)]
mod fuzz;
mod parse;

use ending::{Ending, Story};
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
/// Renames one connection may send per second, after a burst of [`RENAME_BURST`]: each
/// rename sends a new list to everyone who sees the device.
pub const RENAMES_PER_SEC: u32 = 1;
pub const RENAME_BURST: u32 = 5;

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
    /// This connection's queue; its own replies go there too, under the same budget. It
    /// closes when it overflows, which ends the session.
    queue: Arc<OutQueue>,
    hello: bool,
    errors: u32,
    limiter: DefaultDirectRateLimiter,
    invites: DefaultDirectRateLimiter,
    renames: DefaultDirectRateLimiter,
    story: Story,
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
    let queue = Arc::new(OutQueue::new(hub.settings.out_budget));
    let id = hub.connect(origin.group, origin.own_host.clone(), queue.clone());
    let mut s = Session::new(hub.clone(), id.clone(), origin, queue.clone());
    let welcome = ServerMsg::Welcome {
        v: PROTOCOL_VERSION,
        id: id.clone(),
        ice_servers: hub.ice_servers(&id),
        max_message_bytes: MAX_MESSAGE_BYTES,
    };
    s.send(welcome);
    tracing::debug!(peer = short(&id), "connected");
    let ending = s.run(&mut sink, &mut stream, &shutdown).await;
    if matches!(ending, Ending::TooSlow | Ending::Stalled) {
        hub.counters.too_slow.fetch_add(1, Ordering::Relaxed);
    }
    hub.disconnect(&id);
    // Bounded: a client that stopped reading cannot hold the task in a send.
    let closing = close(&mut sink, &mut stream, &queue, ending);
    let _ = tokio::time::timeout(LINGER + LINGER, closing).await;
    queue.close();
    s.story.log(&id, s.origin.clone(), ending);
}

/// How long a closing connection is still read, waiting for the client's close frame.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
/// Bytes a closing connection may still send while it lingers.
const LINGER_BYTES: usize = 256 * 1024;
/// Lingering on shutdown, shorter: a client that does not answer the close frame at once
/// (it may not read again before it reconnects) must not hold up the exit by [`LINGER`].
const RESTART_LINGER: std::time::Duration = std::time::Duration::from_millis(300);

/// End the connection: when the server is the one closing, flush what is queued (e.g. the
/// last error), send the close frame and linger (see [`linger`]).
async fn close(sink: &mut Sink, stream: &mut Stream, queue: &OutQueue, ending: Ending) {
    if let Some((code, reason)) = ending.close_frame() {
        // Flush what is queued (e.g. the last error) before the close frame.
        while let Some(msg) = queue.try_recv() {
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
        let within = match ending {
            Ending::Restarting => RESTART_LINGER,
            _ => LINGER,
        };
        linger(stream, within).await;
    }
    let _ = sink.close().await;
}

/// RFC 6455 §7.1.1: after its close frame the server waits for the client's before
/// closing TCP. A socket closed with unread bytes in it is reset, and a reset makes the
/// client's kernel drop what it had not read yet: a flooding client would never see the
/// last errors or the close code. Bounded in time and bytes, so lingering holds nothing.
async fn linger(stream: &mut Stream, within: std::time::Duration) {
    let drain = async {
        let mut read = 0usize;
        while let Some(Ok(m)) = stream.next().await {
            read += m.len();
            if m.is_close() || read > LINGER_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(within, drain).await;
}

impl Session {
    fn new(hub: Arc<Hub>, id: String, origin: Origin, queue: Arc<OutQueue>) -> Self {
        let n = |x: u32| NonZeroU32::new(x).unwrap_or(NonZeroU32::MIN);
        let per_sec = |rate, burst| Quota::per_second(n(rate)).allow_burst(n(burst));
        Session {
            hub,
            id,
            origin,
            queue,
            hello: false,
            errors: 0,
            limiter: RateLimiter::direct(per_sec(MSGS_PER_SEC, MSG_BURST)),
            invites: RateLimiter::direct(Quota::per_minute(n(INVITES_PER_MINUTE))),
            renames: RateLimiter::direct(per_sec(RENAMES_PER_SEC, RENAME_BURST)),
            story: Story::new(),
        }
    }

    /// The connection's loop: client frames, queued messages, pings, the `hello`
    /// deadline, shutdown.
    async fn run(
        &mut self,
        sink: &mut Sink,
        stream: &mut Stream,
        shutdown: &CancellationToken,
    ) -> Ending {
        let settings = self.hub.settings.clone();
        let mut ping = tokio::time::interval(settings.ping_every);
        let hello_by = tokio::time::sleep(settings.hello_within);
        tokio::pin!(hello_by);
        let mut last_seen = Instant::now();
        let queue = self.queue.clone();
        loop {
            tokio::select! {
                frame = stream.next() => {
                    last_seen = Instant::now();
                    if let Some(ending) = self.on_frame(frame) {
                        return ending;
                    }
                }
                out = queue.recv() => match out {
                    Some(msg) => {
                        self.story.note_out(&msg);
                        let text = Message::text(msg.to_json());
                        drop(msg);
                        match tokio::time::timeout(settings.dead_after, sink.send(text)).await {
                            Ok(Ok(())) => {}
                            Ok(Err(_)) => return Ending::ConnectionLost,
                            Err(_) => return Ending::Stalled,
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
                    let ping = sink.send(Message::Ping(Default::default()));
                    match tokio::time::timeout(settings.dead_after, ping).await {
                        Ok(Ok(())) => {}
                        Ok(Err(_)) => return Ending::ConnectionLost,
                        Err(_) => return Ending::Stalled,
                    }
                }
                _ = &mut hello_by, if !self.hello => return Ending::NoHello,
                _ = shutdown.cancelled() => return Ending::Restarting,
            }
        }
    }

    /// One frame from the client (or its end); `Some` when the session is over.
    fn on_frame(
        &mut self,
        frame: Option<Result<Message, hyper_tungstenite::tungstenite::Error>>,
    ) -> Option<Ending> {
        match frame {
            Some(Ok(Message::Text(t))) => self.on_text(t.as_str()),
            Some(Ok(Message::Binary(_))) => self.refuse(
                ErrorCode::BadRequest,
                "Binary frames are not accepted: file bytes never go through homedrop.",
                None,
            ),
            Some(Ok(Message::Close(_))) | None => return Some(Ending::ClientClosed),
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                tracing::debug!(peer = short(&self.id), "websocket error: {e}");
                return Some(Ending::ConnectionLost);
            }
        }
        (self.errors >= MAX_ERRORS).then_some(Ending::TooManyErrors)
    }

    /// Queue a reply of the session's own; over the budget, the queue closes and the
    /// loop ends the connection as too slow.
    fn send(&self, msg: ServerMsg) {
        let _ = self.queue.push(msg);
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
                caps,
            } => self.hello(v, name, (kind, caps), pairs),
            _ if !self.hello => Err((ErrorCode::HelloFirst, "Send hello first.")),
            ClientMsg::Rename { name } => self.rename(&name),
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
            ClientMsg::RoomJoinNamed { name } => self.join_named(&name, source),
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
        (kind, caps): (DeviceKind, Option<Caps>),
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
        if !self.hub.hello_allowed(self.origin.ip) {
            return Err((
                ErrorCode::RateLimited,
                "Too many connections from this address; wait a minute and reload.",
            ));
        }
        self.hello = true;
        self.story.pairings = pairs.len() as u32;
        let id = self.id.as_str();
        self.hub.apply(|r, now| {
            r.set_caps(id, caps);
            Ok(r.hello(id, name, kind, &pairs, now))
        })
    }

    /// A new name, within this connection's rename rate (each rename sends a list to all
    /// who see the device).
    fn rename(&mut self, name: &str) -> Result<(), Refusal> {
        let name = clean_name(name)?;
        if self.renames.check().is_err() {
            return Err((ErrorCode::RateLimited, "Too many renames; wait a second."));
        }
        let id = self.id.as_str();
        self.hub.apply(|r, now| Ok(r.rename(id, name, now)))
    }

    /// Join the household's named room: its name cleaned like a device name (so that one
    /// look has one spelling), then the registry's rules (`registry/named.rs`).
    fn join_named(&mut self, name: &str, source: SourceKey) -> Result<(), Refusal> {
        let name = clean_name(name).map_err(|_| {
            (
                ErrorCode::BadRequest,
                "A room name must have 1 to 40 visible characters.",
            )
        })?;
        let id = self.id.as_str();
        self.hub
            .apply(|r, now| r.join_named(id, source, &name, now))?;
        self.story.rooms_joined += 1;
        Ok(())
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
