//! The signaling wire contract: one serde enum per direction, tagged by `type`.
//!
//! This file is the single definition of the protocol; `docs/protocol.md` explains it and
//! `web/js/protocol.js` holds the same names (`tests/contract.rs` compares them). Every
//! message is a JSON text frame. The version in [`PROTOCOL_VERSION`] changes whenever a message changes shape.

use serde::{Deserialize, Serialize};

/// Bumped on any incompatible change to the messages below.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest text frame the server accepts (and the largest it forwards).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 40;
/// Most pair secrets one device may present.
pub const MAX_PAIRS: usize = 64;
/// Length of a pair secret in hex characters (256 bits).
pub const PAIR_SECRET_HEX: usize = 64;

/// What kind of device a peer says it is; only used to pick an icon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum DeviceKind {
    Phone,
    Tablet,
    #[default]
    Desktop,
    Other,
}

/// Messages a browser sends to the server.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ClientMsg {
    /// First message after `welcome`: who this device is and which pairings it holds.
    Hello {
        v: u32,
        name: String,
        #[serde(default)]
        kind: DeviceKind,
        /// Pair secrets (64 hex chars each) this device keeps in localStorage.
        #[serde(default)]
        pairs: Vec<String>,
        /// What this browser can do; absent from older clients (then nothing is claimed).
        #[serde(default)]
        caps: Option<Caps>,
    },
    /// Change the display name.
    Rename { name: String },
    /// Create a room; the creator joins it. Capacity defaults to the server's setting.
    RoomCreate {
        #[serde(default)]
        capacity: Option<u32>,
        /// Ask every new member for a camera snap right after it joins (a room setting).
        #[serde(default)]
        snap_on_join: bool,
    },
    /// Join a room by its code (6 characters, typed; wrong ones spend a global budget) or
    /// its token (32 hex characters, from a link or QR code, or to rejoin).
    RoomJoin { code: String },
    /// Join the household's room called `name`, creating it if nobody is in it (devices at
    /// home or paired from home only; see "Named rooms" in docs/protocol.md). Leave it with
    /// `roomLeave` and its code, like any room.
    RoomJoinNamed { name: String },
    /// Leave a room.
    RoomLeave { code: String },
    /// Ask for a 6-digit pairing key to show to the other device.
    PairStart,
    /// Enter the key shown on the other device: its 6 digits (typed; wrong ones spend a
    /// global budget) or its token (32 hex characters, from the QR code or link).
    PairJoin { key: String },
    /// Forget a pairing on the server for this connection (the device deletes its secret).
    PairForget { secret: String },
    /// Opaque WebRTC signal (SDP or ICE candidate) for one peer we share a group with.
    Signal { to: String, data: serde_json::Value },
    /// Invite a device of the home group into a room you are in.
    RoomInvite { to: String, code: String },
    /// Answer an invitation received in `roomInvited`.
    RoomInviteReply {
        to: String,
        code: String,
        accept: bool,
    },
}

/// What a device's browser can do, as it says in `hello`: two flags, nothing else is read
/// (other fields are ignored), so the entry is bounded whatever a client sends. A flag left
/// out counts as `true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caps {
    /// `RTCPeerConnection` exists: the device can connect peer to peer at all (send and
    /// receive files, texts, room chat).
    #[serde(default = "yes")]
    pub webrtc: bool,
    /// It can keep received files (IndexedDB takes Blobs, or OPFS): without it, it can still
    /// send and take texts, not receive files.
    #[serde(default = "yes")]
    pub store: bool,
}

fn yes() -> bool {
    true
}

/// How two peers know each other; a peer may be linked several ways at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(tag = "via", rename_all = "camelCase")]
pub enum Link {
    /// Both in the home group (private or on-link addresses): the household.
    Home,
    /// Both behind the same public IPv4 address (or IPv6 /64) but not at home: the same
    /// network, which may be a café or a carrier's NAT, so never the household.
    Network,
    /// Both members of the room with this code.
    Room { code: String },
    /// Paired devices.
    Pair,
}

/// A peer as another peer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerInfo {
    pub id: String,
    pub name: String,
    pub kind: DeviceKind,
    pub links: Vec<Link>,
    /// The device's `hello.caps`, when it sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<Caps>,
}

/// One ICE server entry, shaped exactly like `RTCIceServer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// Error codes; the client shows `message` and may branch on `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorCode {
    BadJson,
    UnknownType,
    TooLarge,
    RateLimited,
    HelloFirst,
    BadVersion,
    BadRequest,
    RoomFull,
    NoSuchRoom,
    BadPairKey,
    NotAllowed,
}

/// Messages the server sends to a browser.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ServerMsg {
    /// Always the first message: the peer's id and the ICE configuration to use.
    Welcome {
        v: u32,
        id: String,
        ice_servers: Vec<IceServer>,
        max_message_bytes: usize,
    },
    /// The full list of peers this peer may see, sent whenever it changes.
    Peers { peers: Vec<PeerInfo> },
    /// You are now in this room (after create or join). `token` is the room's long form
    /// for links, QR codes and rejoining (not subject to the guessing budget).
    RoomJoined {
        code: String,
        token: String,
        capacity: u32,
        members: u32,
        /// Room setting: new members are asked for a camera snap.
        #[serde(default)]
        snap_on_join: bool,
        /// A named room's name (as its first member spelled it); absent for coded rooms.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// You left this room.
    RoomLeft { code: String },
    /// The key to show for pairing, valid for `expires_in_secs`: 6 digits to type, and the
    /// same key as a 128-bit `token` (32 hex characters) for the QR code and link.
    PairKey {
        key: String,
        token: String,
        expires_in_secs: u64,
    },
    /// Pairing succeeded: keep `secret`; the other device is `peer_name`.
    Paired { secret: String, peer_name: String },
    /// A signal from another peer.
    Signal {
        from: String,
        data: serde_json::Value,
    },
    /// ICE servers with TURN credentials, sent once this peer shares a group, room or
    /// pairing with someone, and again before `expires_in_secs` runs out. Replaces the
    /// `iceServers` of `welcome` for existing and new connections.
    IceServers {
        ice_servers: Vec<IceServer>,
        expires_in_secs: u64,
    },
    /// Another device of the home group invites you into a room.
    RoomInvited {
        from: String,
        from_name: String,
        code: String,
    },
    /// The invited device answered your `roomInvite`.
    RoomInviteAnswer {
        from: String,
        from_name: String,
        code: String,
        accept: bool,
    },
    /// The server is shutting down or restarting; reconnect later.
    Restarting,
    /// Something the client sent was refused.
    Error {
        code: ErrorCode,
        message: String,
        /// The `type` of the message that caused it, when known.
        #[serde(skip_serializing_if = "Option::is_none", rename = "ref")]
        reference: Option<String>,
    },
}

impl ServerMsg {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ServerMsg::Error {
            code,
            message: message.into(),
            reference: None,
        }
    }

    pub fn to_json(&self) -> String {
        // Serialising these plain types cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_info_serializes_as_the_client_reads_it() {
        let p = PeerInfo {
            id: "x".into(),
            name: "n".into(),
            kind: DeviceKind::Phone,
            links: vec![Link::Room { code: "C".into() }, Link::Home],
            caps: None,
        };
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"id":"x","name":"n","kind":"phone","links":[{"via":"room","code":"C"},{"via":"home"}]}"#
        );
        let p = PeerInfo {
            caps: Some(Caps {
                webrtc: false,
                store: true,
            }),
            ..p
        };
        assert!(serde_json::to_string(&p)
            .unwrap()
            .ends_with(r#","caps":{"webrtc":false,"store":true}}"#));
    }

    #[test]
    fn caps_in_hello_are_optional_and_only_two_flags() {
        let hello = |extra: &str| {
            let text = format!(r#"{{"type":"hello","v":1,"name":"n"{extra}}}"#);
            match serde_json::from_str::<ClientMsg>(&text) {
                Ok(ClientMsg::Hello { caps, .. }) => Ok(caps),
                Ok(other) => panic!("{other:?}"),
                Err(e) => Err(e.to_string()),
            }
        };
        assert_eq!(hello(""), Ok(None));
        let only = |webrtc, store| Ok(Some(Caps { webrtc, store }));
        assert_eq!(hello(r#","caps":{"webrtc":false}"#), only(false, true));
        assert_eq!(
            hello(r#","caps":{"webrtc":true,"store":false,"x":[1,2,3]}"#),
            only(true, false)
        );
        assert_eq!(hello(r#","caps":{}"#), only(true, true));
        assert!(hello(r#","caps":{"webrtc":"no"}"#).is_err());
        assert!(hello(r#","caps":"all""#).is_err());
    }
}
