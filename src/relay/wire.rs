//! Codec glue over the `stun` crate (messages, attributes, MESSAGE-INTEGRITY)
//! and the `turn` crate's attribute and ChannelData types.

use stun::agent::TransactionId;
use stun::attributes::*;
use stun::error_code::{ErrorCode, ErrorCodeAttribute};
use stun::integrity::MessageIntegrity;
use stun::message::{
    Getter, Message, MessageClass, MessageType, Setter, CLASS_INDICATION, METHOD_DATA,
};
use stun::uattrs::UnknownAttributes;
use turn::proto::chandata::ChannelData;
use turn::proto::channum::ChannelNumber;
use turn::proto::data::Data;
use turn::proto::peeraddr::PeerAddress;

use super::RelayAddr;

const HEADER: usize = 20;
const MAGIC_COOKIE: [u8; 4] = 0x2112_A442u32.to_be_bytes();

/// What a received datagram / stream frame is.
#[derive(Debug)]
pub enum Packet {
    /// A decoded STUN message.
    Stun(Message),
    /// A STUN header we could read but whose body is malformed (→ 400 for requests).
    Malformed {
        typ: MessageType,
        tid: TransactionId,
    },
    /// ChannelData (RFC 8656 §12.4).
    Channel { number: u16, data: Vec<u8> },
    /// Neither: silently dropped.
    Garbage,
}

/// Classifies and decodes one datagram / frame.
pub fn parse(bytes: &[u8]) -> Packet {
    match bytes.first().map(|b| b >> 6) {
        Some(0) => parse_stun(bytes),
        Some(1) => parse_channel(bytes),
        _ => Packet::Garbage,
    }
}

fn parse_stun(bytes: &[u8]) -> Packet {
    if bytes.len() < HEADER || bytes[4..8] != MAGIC_COOKIE {
        return Packet::Garbage;
    }
    let len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
    let mut typ = MessageType::default();
    typ.read_value(u16::from_be_bytes([bytes[0], bytes[1]]));
    let mut tid = TransactionId::default();
    tid.0.copy_from_slice(&bytes[8..HEADER]);
    if len % 4 != 0 || bytes.len() < HEADER + len {
        return Packet::Malformed { typ, tid };
    }
    let mut m = Message {
        raw: bytes[..HEADER + len].to_vec(),
        ..Default::default()
    };
    match m.decode() {
        Ok(()) => Packet::Stun(m),
        Err(_) => Packet::Malformed { typ, tid },
    }
}

fn parse_channel(bytes: &[u8]) -> Packet {
    let mut cd = ChannelData {
        raw: bytes.to_vec(),
        ..Default::default()
    };
    match cd.decode() {
        Ok(()) => Packet::Channel {
            number: cd.number.0,
            data: cd.data,
        },
        Err(_) => Packet::Garbage,
    }
}

/// Comprehension-required attributes this server understands (RFC 8489 §14,
/// RFC 8656 §18, plus ICE's PRIORITY/USE-CANDIDATE seen on Binding).
const KNOWN: &[AttrType] = &[
    ATTR_MAPPED_ADDRESS,
    ATTR_USERNAME,
    ATTR_MESSAGE_INTEGRITY,
    ATTR_ERROR_CODE,
    ATTR_UNKNOWN_ATTRIBUTES,
    ATTR_REALM,
    ATTR_NONCE,
    ATTR_XORMAPPED_ADDRESS,
    ATTR_CHANNEL_NUMBER,
    ATTR_LIFETIME,
    ATTR_XOR_PEER_ADDRESS,
    ATTR_DATA,
    ATTR_XOR_RELAYED_ADDRESS,
    ATTR_REQUESTED_ADDRESS_FAMILY,
    ATTR_EVEN_PORT,
    ATTR_REQUESTED_TRANSPORT,
    ATTR_DONT_FRAGMENT,
    ATTR_RESERVATION_TOKEN,
    ATTR_PRIORITY,
    ATTR_USE_CANDIDATE,
];

/// Unknown comprehension-required attributes (types below 0x8000), RFC 8489 §7.3.1.
pub fn unknown_required(m: &Message) -> Vec<AttrType> {
    let mut out: Vec<AttrType> = m
        .attributes
        .0
        .iter()
        .map(|a| a.typ)
        .filter(|t| t.required() && !KNOWN.contains(t))
        .collect();
    out.dedup();
    out
}

/// An attribute is present but cannot be decoded (→ 400).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedAttr(pub AttrType);

/// Reads an optional attribute; `Err` when present but malformed.
pub fn opt_attr<G: Getter + Default>(m: &Message, t: AttrType) -> Result<Option<G>, MalformedAttr> {
    if !m.contains(t) {
        return Ok(None);
    }
    let mut g = G::default();
    g.get_from(m).map(|_| Some(g)).map_err(|_| MalformedAttr(t))
}

/// Reads an attribute the request must carry: `None` when missing or malformed (→ 400).
pub fn required_attr<G: Getter + Default>(m: &Message, t: AttrType) -> Option<G> {
    opt_attr(m, t).ok().flatten()
}

/// Raw value of the first attribute of type `t`.
pub fn raw_attr(m: &Message, t: AttrType) -> Option<Vec<u8>> {
    m.get(t).ok()
}

/// Text attribute (USERNAME, REALM, NONCE) if present and UTF-8.
pub fn text_attr(m: &Message, t: AttrType) -> Option<String> {
    String::from_utf8(m.get(t).ok()?).ok()
}

/// Empty message of `typ` carrying `tid`, header written.
pub fn message(typ: MessageType, tid: TransactionId) -> Message {
    let mut m = Message::new();
    m.typ = typ;
    m.transaction_id = tid;
    m.write_header();
    m
}

/// A response of `class` to `req` (same method and transaction id).
pub fn response(req: &Message, class: MessageClass) -> Message {
    message(MessageType::new(req.typ.method, class), req.transaction_id)
}

/// Adds an attribute; our own attributes always fit, so failures are bugs.
pub fn put(m: &mut Message, s: &dyn Setter) {
    s.add_to(m).expect("attribute encodes");
}

fn reason(code: ErrorCode) -> &'static str {
    match code.0 {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        420 => "Unknown Attribute",
        437 => "Allocation Mismatch",
        438 => "Stale Nonce",
        440 => "Address Family not Supported",
        441 => "Wrong Credentials",
        442 => "Unsupported Transport Protocol",
        443 => "Peer Address Family Mismatch",
        486 => "Allocation Quota Reached",
        508 => "Insufficient Capacity",
        _ => "Server Error",
    }
}

/// Error response header + ERROR-CODE (more attributes may follow).
pub fn error(typ: MessageType, tid: TransactionId, code: ErrorCode) -> Message {
    let mut m = message(
        MessageType::new(typ.method, stun::message::CLASS_ERROR_RESPONSE),
        tid,
    );
    let attr = ErrorCodeAttribute {
        code,
        reason: reason(code).as_bytes().to_vec(),
    };
    put(&mut m, &attr);
    m
}

/// 420 with UNKNOWN-ATTRIBUTES.
pub fn unknown_attributes(req: &Message, unknown: Vec<AttrType>) -> Vec<u8> {
    let mut m = error(
        req.typ,
        req.transaction_id,
        stun::error_code::CODE_UNKNOWN_ATTRIBUTE,
    );
    put(&mut m, &UnknownAttributes(unknown));
    m.raw
}

/// Final bytes, with MESSAGE-INTEGRITY when a key is given.
pub fn finish(mut m: Message, key: Option<&MessageIntegrity>) -> Vec<u8> {
    if let Some(key) = key {
        put(&mut m, key);
    }
    m.raw
}

/// Data indication from `peer` (RFC 8656 §11.3).
pub fn data_indication(tid: TransactionId, peer: RelayAddr, data: &[u8]) -> Vec<u8> {
    let mut m = message(MessageType::new(METHOD_DATA, CLASS_INDICATION), tid);
    put(
        &mut m,
        &PeerAddress {
            ip: peer.0.ip(),
            port: peer.0.port(),
        },
    );
    put(&mut m, &Data(data.to_vec()));
    m.raw
}

/// ChannelData message (RFC 8656 §12.4), always padded to 4 bytes, which is
/// required over TCP/TLS and allowed over UDP (§12.5).
pub fn channel_data(number: u16, data: &[u8]) -> Vec<u8> {
    let mut cd = ChannelData {
        data: data.to_vec(),
        number: ChannelNumber(number),
        raw: Vec::new(),
    };
    cd.encode();
    cd.raw
}
