//! A small TURN client over UDP (RFC 8656): Allocate, CreatePermission, Send and Data
//! indications, for tests that must act as one relay user against another.
//! Blocking std sockets: run it on a namespace thread.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use stun::agent::TransactionId;
use stun::attributes::*;
use stun::integrity::MessageIntegrity;
use stun::message::*;
use stun::textattrs::TextAttribute;
use turn::proto::data::Data;
use turn::proto::peeraddr::PeerAddress;
use turn::proto::relayaddr::RelayedAddress;

use crate::relay_credentials::{allocate_request, error_code, transact};

/// One allocation on the relay.
pub struct TurnClient {
    pub sock: UdpSocket,
    pub server: SocketAddr,
    pub relayed: SocketAddr,
    user: String,
    pass: String,
    realm: String,
    nonce: String,
}

impl TurnClient {
    /// Allocate from source address `from` with REST credentials; `Err(code)` if refused.
    pub fn allocate(from: IpAddr, server: SocketAddr, user: &str, pass: &str) -> Result<Self, u16> {
        let sock = UdpSocket::bind(SocketAddr::new(from, 0)).expect("bind the client socket");
        let challenge = transact(&sock, server, &allocate_request(None));
        let text = |a| TextAttribute::get_from_as(&challenge, a).map(|t| t.text);
        let (Ok(realm), Ok(nonce)) = (text(ATTR_REALM), text(ATTR_NONCE)) else {
            return Err(error_code(&challenge).unwrap_or(0));
        };
        let resp = transact(
            &sock,
            server,
            &allocate_request(Some((user, pass, &realm, &nonce))),
        );
        if resp.typ.class != CLASS_SUCCESS_RESPONSE {
            return Err(error_code(&resp).unwrap_or(0));
        }
        let mut relayed = RelayedAddress::default();
        relayed.get_from(&resp).expect("XOR-RELAYED-ADDRESS");
        Ok(TurnClient {
            sock,
            server,
            relayed: SocketAddr::new(relayed.ip, relayed.port),
            user: user.into(),
            pass: pass.into(),
            realm,
            nonce,
        })
    }

    /// CreatePermission for `peer`; `Err(code)` if refused.
    pub fn permit(&self, peer: SocketAddr) -> Result<(), u16> {
        let setters: Vec<Box<dyn Setter>> = vec![
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(METHOD_CREATE_PERMISSION, CLASS_REQUEST)),
            Box::new(PeerAddress {
                ip: peer.ip(),
                port: peer.port(),
            }),
            Box::new(TextAttribute::new(ATTR_USERNAME, self.user.clone())),
            Box::new(TextAttribute::new(ATTR_REALM, self.realm.clone())),
            Box::new(TextAttribute::new(ATTR_NONCE, self.nonce.clone())),
            Box::new(MessageIntegrity::new_long_term_integrity(
                self.user.clone(),
                self.realm.clone(),
                self.pass.clone(),
            )),
        ];
        let mut m = Message::new();
        m.build(&setters).expect("build CreatePermission");
        let resp = transact(&self.sock, self.server, &m);
        match resp.typ.class {
            CLASS_SUCCESS_RESPONSE => Ok(()),
            _ => Err(error_code(&resp).unwrap_or(0)),
        }
    }

    /// A Send indication: `data` to `peer` through the relayed address.
    pub fn send(&self, peer: SocketAddr, data: &[u8]) {
        let setters: Vec<Box<dyn Setter>> = vec![
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(METHOD_SEND, CLASS_INDICATION)),
            Box::new(PeerAddress {
                ip: peer.ip(),
                port: peer.port(),
            }),
            Box::new(Data(data.to_vec())),
        ];
        let mut m = Message::new();
        m.build(&setters).expect("build Send");
        self.sock.send_to(&m.raw, self.server).expect("send");
    }

    /// Data indications that arrive within `wait`: (peer, bytes).
    pub fn received(&self, wait: Duration) -> Vec<(SocketAddr, Vec<u8>)> {
        let end = Instant::now() + wait;
        let mut out = Vec::new();
        let mut buf = [0u8; 1500];
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            let _ = self
                .sock
                .set_read_timeout(Some(left.max(Duration::from_millis(1))));
            let Ok(n) = self.sock.recv(&mut buf) else {
                break;
            };
            let mut m = Message {
                raw: buf[..n].to_vec(),
                ..Default::default()
            };
            if m.decode().is_err() || m.typ != MessageType::new(METHOD_DATA, CLASS_INDICATION) {
                continue;
            }
            let (mut peer, mut data) = (PeerAddress::default(), Data::default());
            if peer.get_from(&m).is_ok() && data.get_from(&m).is_ok() {
                out.push((SocketAddr::new(peer.ip, peer.port), data.0));
            }
        }
        out
    }
}
