//! How a session ended and what its one log line tells: kept apart from the loop so the
//! loop reads as the connection's life, and so every ending has its close frame in one place.

use std::time::Instant;

use hyper_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::Origin;
use crate::net::NetGroup;
use crate::signaling::protocol::ServerMsg;
use crate::signaling::short;

/// What the "session ended" log line tells about one connection: counts and times only,
/// never names, texts, file names, room codes or addresses.
#[derive(Debug)]
pub(super) struct Story {
    pub joined_at: std::time::SystemTime,
    pub started: Instant,
    pub signals_sent: u64,
    pub signals_received: u64,
    pub rooms_joined: u32,
    pub pairings: u32,
    pub turn_offered: bool,
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    ClientClosed,
    ConnectionLost,
    NoPong,
    TooManyErrors,
    /// Its outgoing queue went over its byte budget.
    TooSlow,
    /// A write to it did not complete within the liveness timeout: it stopped reading.
    Stalled,
    /// No valid `hello` within the hub's `hello_within`.
    NoHello,
    Restarting,
}

impl Ending {
    pub fn as_str(self) -> &'static str {
        match self {
            Ending::ClientClosed => "client closed",
            Ending::ConnectionLost => "connection lost",
            Ending::NoPong => "no pong",
            Ending::TooManyErrors => "too many errors",
            Ending::TooSlow => "too slow",
            Ending::Stalled => "not reading",
            Ending::NoHello => "no hello",
            Ending::Restarting => "server restarting",
        }
    }

    /// The close frame the server sends, if it is the one closing.
    pub fn close_frame(self) -> Option<(CloseCode, &'static str)> {
        match self {
            Ending::TooManyErrors => Some((CloseCode::Protocol, "too many errors")),
            Ending::TooSlow | Ending::Stalled => Some((CloseCode::Policy, "too slow")),
            Ending::NoHello => Some((CloseCode::Policy, "no hello in time")),
            Ending::Restarting => Some((CloseCode::Restart, "homedrop is restarting")),
            Ending::ClientClosed | Ending::ConnectionLost | Ending::NoPong => None,
        }
    }
}

impl Story {
    pub fn new() -> Story {
        Story {
            joined_at: std::time::SystemTime::now(),
            started: Instant::now(),
            signals_sent: 0,
            signals_received: 0,
            rooms_joined: 0,
            pairings: 0,
            turn_offered: false,
        }
    }

    /// A message is going out to this client.
    pub fn note_out(&mut self, msg: &ServerMsg) {
        match msg {
            ServerMsg::Signal { .. } => self.signals_received += 1,
            ServerMsg::IceServers { .. } => self.turn_offered = true,
            _ => {}
        }
    }

    /// The one structured line per session, at disconnect.
    pub fn log(&self, id: &str, origin: Origin, ending: Ending) {
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
