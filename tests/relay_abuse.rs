//! TURN/TCP admission against the real relay (default shell limits, port 0):
//! one source cannot hold every stream slot, and a connection that has not
//! authenticated within 5 s is closed, while an authenticated one stays.
//!
//! Before (issue 12, attack 3): 256 idle or unauthenticated TCP connections
//! from one address held every relay slot until the 10 s first-frame or the
//! 660 s idle timeout.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use homedrop::relay::{issue_credentials, Config, Relay, Shell};
use stun::agent::TransactionId;
use stun::attributes::*;
use stun::error_code::ErrorCodeAttribute;
use stun::integrity::MessageIntegrity;
use stun::message::*;
use stun::textattrs::TextAttribute;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;
use turn::proto::reqtrans::RequestedTransport;
use turn::proto::PROTO_UDP;

const SECRET: &[u8] = b"relay-abuse-secret-0123";

struct Running {
    tcp: SocketAddr,
    shell: Shell,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// The real relay with its default shell settings (16 connections per
/// source, 256 in all, 5 s to authenticate) on 127.0.0.1, port 0.
async fn start() -> Running {
    let config = Config {
        secret: SECRET.to_vec(),
        advertised_ip: [127, 0, 0, 1].into(),
        port_min: 21000,
        port_max: 21099,
        ..Config::default()
    };
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let relay = Relay::bind(config, any, any).await.expect("bind");
    let (_, tcp) = relay.local_addrs();
    let shell = relay.shell();
    let stop = CancellationToken::new();
    let task = tokio::spawn(relay.run(stop.clone()));
    Running {
        tcp,
        shell,
        stop,
        task,
    }
}

impl Running {
    async fn stop(self) {
        self.stop.cancel();
        let done = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        done.expect("drained").unwrap().unwrap();
    }
}

/// A TCP connection to `to` from source address `from` (any 127/8 address
/// is local on Linux's loopback).
async fn connect_from(from: IpAddr, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::new(from, 0)).unwrap();
    s.connect(to).await.unwrap()
}

/// One STUN message from a stream (header, then its length), or `None` at
/// EOF / after `wait`.
pub async fn read_msg(s: &mut TcpStream, wait: Duration) -> Option<Message> {
    let mut head = [0u8; 20];
    tokio::time::timeout(wait, s.read_exact(&mut head))
        .await
        .ok()?
        .ok()?;
    let len = u16::from_be_bytes([head[2], head[3]]) as usize;
    let mut raw = head.to_vec();
    raw.resize(20 + len, 0);
    s.read_exact(&mut raw[20..]).await.ok()?;
    let mut m = Message {
        raw,
        ..Default::default()
    };
    m.decode().ok()?;
    Some(m)
}

pub fn code(m: &Message) -> Option<u16> {
    let mut e = ErrorCodeAttribute::default();
    e.get_from(m).ok().map(|_| e.code.0)
}

/// An Allocate; with `auth` = (username, password, realm, nonce) it carries
/// long-term credentials.
pub fn allocate(tid: u8, auth: Option<(&str, &str, &str, &str)>) -> Vec<u8> {
    let mut attrs: Vec<Box<dyn Setter>> = vec![
        Box::new(TransactionId([tid; 12])),
        Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
        Box::new(RequestedTransport {
            protocol: PROTO_UDP,
        }),
    ];
    if let Some((user, pass, realm, nonce)) = auth {
        attrs.push(Box::new(TextAttribute::new(ATTR_USERNAME, user.into())));
        attrs.push(Box::new(TextAttribute::new(ATTR_REALM, realm.into())));
        attrs.push(Box::new(TextAttribute::new(ATTR_NONCE, nonce.into())));
        let key = MessageIntegrity::new_long_term_integrity(user.into(), realm.into(), pass.into());
        attrs.push(Box::new(key));
    }
    let mut m = Message::new();
    m.build(&attrs).unwrap();
    m.raw
}

/// Allocate without, then with credentials; returns the final response.
async fn authenticated_allocate(s: &mut TcpStream, id: &str) -> Message {
    s.write_all(&allocate(1, None)).await.unwrap();
    let challenge = read_msg(s, Duration::from_secs(2)).await.expect("401");
    assert_eq!(code(&challenge), Some(401));
    let realm = TextAttribute::get_from_as(&challenge, ATTR_REALM)
        .unwrap()
        .text;
    let nonce = TextAttribute::get_from_as(&challenge, ATTR_NONCE)
        .unwrap()
        .text;
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (user, pass) = issue_credentials(SECRET, id, unix, Duration::from_secs(3600));
    let req = allocate(2, Some((&user, &pass, &realm, &nonce)));
    s.write_all(&req).await.unwrap();
    read_msg(s, Duration::from_secs(2))
        .await
        .expect("allocate answered")
}

/// Whether the relay has closed `s` (EOF or reset) within `wait`.
pub async fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match tokio::time::timeout(wait, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// 300 idle connections from one source: at most 16 are kept, the rest are
/// closed on accept; a second source still connects and allocates; the 16
/// are gone after the 5 s deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_cannot_hold_every_stream_slot() {
    let relay = start().await;
    let flooder: IpAddr = [127, 0, 0, 1].into();
    let mut idle = Vec::new();
    for _ in 0..300 {
        idle.push(connect_from(flooder, relay.tcp).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let s = relay.shell.shell_stats();
    println!("300 idle connections from one source: {s:?}");
    assert_eq!(s.stream_current, 16, "{s:?}");
    assert_eq!(s.stream_accepted, 16, "{s:?}");
    assert_eq!(s.stream_source_rejected, 284, "{s:?}");

    // Another source is served during the flood.
    let mut other = connect_from([127, 0, 0, 2].into(), relay.tcp).await;
    let resp = authenticated_allocate(&mut other, "household").await;
    assert_eq!(resp.typ.class, CLASS_SUCCESS_RESPONSE, "{:?}", code(&resp));
    assert_eq!(relay.shell.stats().allocations_current, 1);

    // The flooder's 16 never sent anything: closed by the 5 s deadline.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let s = relay.shell.shell_stats();
    assert_eq!(s.stream_current, 1, "only the authenticated one: {s:?}");
    assert_eq!(s.stream_idle_closed, 16, "{s:?}");
    // Slots came back: the flooder may connect again (up to its cap).
    let mut again = connect_from(flooder, relay.tcp).await;
    again.write_all(&allocate(9, None)).await.unwrap();
    let resp = read_msg(&mut again, Duration::from_secs(2)).await;
    assert_eq!(resp.as_ref().and_then(code), Some(401));
    drop(idle);
    relay.stop().await;
}

/// A connection that sends one unauthenticated Allocate (401) and then
/// nothing is closed about 5 s after connecting; an authenticated one stays
/// open (and keeps its allocation) past that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_stream_is_closed_authenticated_stays() {
    let relay = start().await;
    let t = Instant::now();
    let mut unauth = connect_from([127, 0, 0, 3].into(), relay.tcp).await;
    let mut authed = connect_from([127, 0, 0, 4].into(), relay.tcp).await;
    unauth.write_all(&allocate(1, None)).await.unwrap();
    let challenge = read_msg(&mut unauth, Duration::from_secs(2)).await;
    assert_eq!(challenge.as_ref().and_then(code), Some(401));
    let resp = authenticated_allocate(&mut authed, "phone").await;
    assert_eq!(resp.typ.class, CLASS_SUCCESS_RESPONSE, "{:?}", code(&resp));

    assert!(
        closed_within(&mut unauth, Duration::from_secs(7)).await,
        "unauthenticated connection still open after {:?}",
        t.elapsed()
    );
    let closed_after = t.elapsed();
    println!("unauthenticated TCP connection closed after {closed_after:?}");
    assert!(
        closed_after >= Duration::from_millis(4500),
        "{closed_after:?}"
    );
    assert!(
        closed_after <= Duration::from_millis(6500),
        "{closed_after:?}"
    );
    assert_eq!(relay.shell.shell_stats().stream_unauth_closed, 1);

    // The authenticated one is still served after the deadline.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!closed_within(&mut authed, Duration::from_millis(200)).await);
    let binding = [
        0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
    ];
    authed.write_all(&binding).await.unwrap();
    let resp = read_msg(&mut authed, Duration::from_secs(2)).await;
    assert_eq!(resp.map(|m| m.typ.class), Some(CLASS_SUCCESS_RESPONSE));
    let s = relay.shell.shell_stats();
    assert_eq!(s.stream_current, 1, "{s:?}");
    assert_eq!(relay.shell.stats().allocations_current, 1);
    relay.stop().await;
}
