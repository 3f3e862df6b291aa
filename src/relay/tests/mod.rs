//! Test clients built with the same codec (`stun` / `turn` attribute types).

mod allocate;
mod auth;
mod fuzz;
mod limits;
mod relay;
mod reservation;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use stun::agent::TransactionId;
use stun::attributes::*;
use stun::error_code::ErrorCodeAttribute;
use stun::integrity::MessageIntegrity;
use stun::message::*;
use stun::textattrs::TextAttribute;
use turn::proto::channum::ChannelNumber;
use turn::proto::lifetime::Lifetime;
use turn::proto::peeraddr::PeerAddress;
use turn::proto::relayaddr::RelayedAddress;
use turn::proto::reqtrans::RequestedTransport;
use turn::proto::PROTO_UDP;

use super::*;

pub const SECRET: &[u8] = b"homedrop-test-secret";
pub const RELAY_IP: [u8; 4] = [192, 168, 1, 10];

pub fn config() -> Config {
    Config {
        secret: SECRET.to_vec(),
        advertised_ip: RELAY_IP.into(),
        port_min: 50000,
        port_max: 50099,
        ..Config::default()
    }
}

pub fn t0() -> Now {
    Now {
        mono: Instant::now(),
        unix: 1_700_000_000,
    }
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

pub type Attrs = Vec<Box<dyn Setter>>;

/// A TURN client: one 5-tuple, REST credentials, remembered REALM/NONCE.
pub struct Client {
    pub addr: ClientAddr,
    pub username: String,
    pub password: String,
    pub realm: Option<String>,
    pub nonce: Option<String>,
    next_tid: u8,
}

impl Client {
    pub fn new(port: u16, id: &str, now: Now) -> Self {
        Self::at(SocketAddr::from(([10, 0, 0, 2], port)), id, now)
    }

    /// A client at `addr` (for tests that need several sources).
    pub fn at(addr: SocketAddr, id: &str, now: Now) -> Self {
        let (username, password) = issue_credentials(SECRET, id, now.unix, secs(3600));
        let addr = ClientAddr::udp(addr);
        Self {
            addr,
            username,
            password,
            realm: None,
            nonce: None,
            next_tid: 0,
        }
    }

    pub fn tid(&mut self) -> [u8; 12] {
        self.next_tid = self.next_tid.wrapping_add(1);
        let mut t = [self.next_tid; 12];
        t[..2].copy_from_slice(&self.addr.addr.port().to_be_bytes());
        t
    }

    /// A request; credentials are added once REALM and NONCE are known.
    pub fn request(&mut self, method: Method, attrs: Attrs) -> Vec<u8> {
        let tid = self.tid();
        let mut setters: Attrs = vec![
            Box::new(TransactionId(tid)),
            Box::new(MessageType::new(method, CLASS_REQUEST)),
        ];
        setters.extend(attrs);
        if let (Some(realm), Some(nonce)) = (self.realm.clone(), self.nonce.clone()) {
            setters.push(Box::new(TextAttribute::new(
                ATTR_USERNAME,
                self.username.clone(),
            )));
            setters.push(Box::new(TextAttribute::new(ATTR_REALM, realm.clone())));
            setters.push(Box::new(TextAttribute::new(ATTR_NONCE, nonce)));
            let key = MessageIntegrity::new_long_term_integrity(
                self.username.clone(),
                realm,
                self.password.clone(),
            );
            setters.push(Box::new(key));
        }
        let mut m = Message::new();
        m.build(&setters).unwrap();
        m.raw
    }

    /// Sends `bytes`, expects a reply to us, learns REALM/NONCE from 401/438.
    pub fn exchange(&mut self, server: &mut Server, bytes: &[u8], now: Now) -> Message {
        let out = server.handle(bytes, self.addr, now).expect("a reply");
        assert!(matches!(out, Output::Reply { to, .. } if to == self.addr));
        let m = decode(out.bytes());
        if matches!(error_code(&m), Some(401 | 438)) {
            self.realm = Some(text(&m, ATTR_REALM));
            self.nonce = Some(text(&m, ATTR_NONCE));
        }
        m
    }

    /// Request with one automatic retry after 401/438.
    pub fn call(
        &mut self,
        server: &mut Server,
        method: Method,
        attrs: fn() -> Attrs,
        now: Now,
    ) -> Message {
        let req = self.request(method, attrs());
        let resp = self.exchange(server, &req, now);
        if matches!(error_code(&resp), Some(401 | 438)) {
            let req = self.request(method, attrs());
            return self.exchange(server, &req, now);
        }
        resp
    }

    /// Allocates and returns the relayed address.
    pub fn allocate(&mut self, server: &mut Server, now: Now) -> SocketAddr {
        let resp = self.call(server, METHOD_ALLOCATE, udp, now);
        assert_eq!(
            resp.typ.class,
            CLASS_SUCCESS_RESPONSE,
            "allocate: {:?}",
            error_code(&resp)
        );
        relayed(&resp)
    }

    pub fn permit(&mut self, server: &mut Server, peer: SocketAddr, now: Now) -> Message {
        let req = self.request(METHOD_CREATE_PERMISSION, vec![Box::new(peer_attr(peer))]);
        self.exchange(server, &req, now)
    }

    pub fn bind(
        &mut self,
        server: &mut Server,
        number: u16,
        peer: SocketAddr,
        now: Now,
    ) -> Message {
        let attrs: Attrs = vec![Box::new(ChannelNumber(number)), Box::new(peer_attr(peer))];
        let req = self.request(METHOD_CHANNEL_BIND, attrs);
        self.exchange(server, &req, now)
    }

    pub fn refresh(&mut self, server: &mut Server, lifetime: u64, now: Now) -> Message {
        let req = self.request(METHOD_REFRESH, vec![Box::new(Lifetime(secs(lifetime)))]);
        self.exchange(server, &req, now)
    }
}

pub fn udp() -> Attrs {
    vec![Box::new(RequestedTransport {
        protocol: PROTO_UDP,
    })]
}

pub fn peer_attr(peer: SocketAddr) -> PeerAddress {
    PeerAddress {
        ip: peer.ip(),
        port: peer.port(),
    }
}

pub fn decode(bytes: &[u8]) -> Message {
    let mut m = Message {
        raw: bytes.to_vec(),
        ..Default::default()
    };
    m.decode().expect("valid STUN");
    m
}

pub fn error_code(m: &Message) -> Option<u16> {
    let mut e = ErrorCodeAttribute::default();
    e.get_from(m).ok().map(|_| e.code.0)
}

pub fn text(m: &Message, t: AttrType) -> String {
    TextAttribute::get_from_as(m, t).unwrap().text
}

pub fn relayed(m: &Message) -> SocketAddr {
    let mut r = RelayedAddress::default();
    r.get_from(m).unwrap();
    SocketAddr::new(r.ip, r.port)
}

pub fn lifetime(m: &Message) -> u64 {
    let mut l = Lifetime::default();
    l.get_from(m).unwrap();
    l.0.as_secs()
}

pub fn binding_request(tid: u8) -> Vec<u8> {
    let mut m = Message::new();
    m.build(&[
        Box::new(TransactionId([tid; 12])),
        Box::new(BINDING_REQUEST),
    ])
    .unwrap();
    m.raw
}
