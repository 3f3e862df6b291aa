//! Relay-to-relay delivery, permission/channel lifetimes, bandwidth, TCP.

use super::*;
use crate::relay::framing::StreamFramer;
use turn::proto::chandata::ChannelData;
use turn::proto::data::Data;

fn send_indication(peer: SocketAddr, data: &[u8]) -> Vec<u8> {
    let mut m = Message::new();
    m.build(&[
        Box::new(TransactionId([5; 12])),
        Box::new(MessageType::new(METHOD_SEND, CLASS_INDICATION)),
        Box::new(peer_attr(peer)),
        Box::new(Data(data.to_vec())),
    ])
    .unwrap();
    m.raw
}

/// Two allocations A and B that permit each other.
fn pair(s: &mut Server, now: Now) -> (Client, SocketAddr, Client, SocketAddr) {
    let mut a = Client::new(40000, "phone", now);
    let mut b = Client::new(40001, "laptop", now);
    let ra = a.allocate(s, now);
    let rb = b.allocate(s, now);
    assert_eq!(a.permit(s, rb, now).typ.class, CLASS_SUCCESS_RESPONSE);
    assert_eq!(b.permit(s, ra, now).typ.class, CLASS_SUCCESS_RESPONSE);
    (a, ra, b, rb)
}

fn data_indication_of(out: &Output) -> (SocketAddr, Vec<u8>) {
    let m = decode(out.bytes());
    assert_eq!(m.typ, MessageType::new(METHOD_DATA, CLASS_INDICATION));
    let mut p = turn::proto::peeraddr::PeerAddress::default();
    p.get_from(&m).unwrap();
    let mut d = Data::default();
    d.get_from(&m).unwrap();
    (SocketAddr::new(p.ip, p.port), d.0)
}

fn channel_data_of(bytes: &[u8]) -> (u16, Vec<u8>) {
    let mut cd = ChannelData {
        raw: bytes.to_vec(),
        ..Default::default()
    };
    cd.decode().unwrap();
    (cd.number.0, cd.data)
}

#[test]
fn send_indication_becomes_data_indication_for_other_allocation() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let (a, ra, b, rb) = pair(&mut s, now);
    let out = s
        .handle(&send_indication(rb, b"hello B"), a.addr, now)
        .unwrap();
    assert!(matches!(out, Output::Deliver { to, .. } if to == b.addr));
    assert_eq!(data_indication_of(&out), (ra, b"hello B".to_vec()));
    assert_eq!(s.stats().packets_relayed, 1);
    assert_eq!(s.stats().bytes_relayed, 7);
}

#[test]
fn receiver_without_permission_gets_nothing() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut a = Client::new(40000, "phone", now);
    let mut b = Client::new(40001, "laptop", now);
    a.allocate(&mut s, now);
    let rb = b.allocate(&mut s, now);
    a.permit(&mut s, rb, now);
    assert!(s.handle(&send_indication(rb, b"x"), a.addr, now).is_none());
    // Sender without a permission is dropped too (RFC 8656 §11.2).
    let mut c = Client::new(40002, "tablet", now);
    c.allocate(&mut s, now);
    assert!(s.handle(&send_indication(rb, b"x"), c.addr, now).is_none());
    assert_eq!(s.stats().packets_relayed, 0);
}

/// Every relayed address shares the relay's IP, so permissions match the
/// full relayed address: A permits B's, and C (same IP, other port) cannot
/// reach A, by Send indication or by channel, even with its own permission
/// and channel towards A.
#[test]
fn permission_admits_only_the_permitted_relayed_address() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let (a, ra, b, rb) = pair(&mut s, now);
    let mut c = Client::new(40002, "intruder", now);
    let rc = c.allocate(&mut s, now);
    assert_eq!(rc.ip(), rb.ip(), "one IP for every relayed address");
    assert_eq!(c.permit(&mut s, ra, now).typ.class, CLASS_SUCCESS_RESPONSE);
    assert_eq!(
        c.bind(&mut s, 0x4100, ra, now).typ.class,
        CLASS_SUCCESS_RESPONSE
    );
    let refusals = s.stats().policy_refusals;
    assert!(s
        .handle(&send_indication(ra, b"inject"), c.addr, now)
        .is_none());
    let chan = crate::relay::wire::channel_data(0x4100, b"inject");
    assert!(s.handle(&chan, c.addr, now).is_none());
    assert_eq!(s.stats().policy_refusals, refusals + 2, "drops are counted");
    assert_eq!(s.stats().packets_relayed, 0);
    // B, which A permitted, still gets through, and A still reaches B.
    let out = s.handle(&send_indication(ra, b"from B"), b.addr, now);
    let out = out.expect("B reaches A");
    assert!(matches!(out, Output::Deliver { to, .. } if to == a.addr));
    assert_eq!(data_indication_of(&out), (rb, b"from B".to_vec()));
    assert!(s
        .handle(&send_indication(rb, b"to B"), a.addr, now)
        .is_some());
    // Once A permits C's exact address, C gets through as well.
    let mut a = a;
    assert_eq!(a.permit(&mut s, rc, now).typ.class, CLASS_SUCCESS_RESPONSE);
    let out = s.handle(&send_indication(ra, b"now ok"), c.addr, now);
    assert_eq!(data_indication_of(&out.expect("C reaches A")).0, rc);
}

#[test]
fn channel_data_both_ways() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let (mut a, ra, mut b, rb) = pair(&mut s, now);
    assert_eq!(
        a.bind(&mut s, 0x4001, rb, now).typ.class,
        CLASS_SUCCESS_RESPONSE
    );
    // A → B over A's channel; B has no channel: Data indication.
    let out = s
        .handle(
            &crate::relay::wire::channel_data(0x4001, b"ping"),
            a.addr,
            now,
        )
        .unwrap();
    assert!(matches!(out, Output::Deliver { to, .. } if to == b.addr));
    assert_eq!(data_indication_of(&out), (ra, b"ping".to_vec()));
    // B binds a channel to A: B → A Send indication arrives at A as... Data
    // indication (A has a channel to B, so ChannelData 0x4001).
    assert_eq!(
        b.bind(&mut s, 0x4abc, ra, now).typ.class,
        CLASS_SUCCESS_RESPONSE
    );
    let out = s
        .handle(&send_indication(ra, b"pong"), b.addr, now)
        .unwrap();
    assert!(matches!(out, Output::Deliver { to, .. } if to == a.addr));
    assert_eq!(channel_data_of(out.bytes()), (0x4001, b"pong".to_vec()));
    // And A → B now arrives on B's channel 0x4abc.
    let out = s
        .handle(
            &crate::relay::wire::channel_data(0x4001, b"again"),
            a.addr,
            now,
        )
        .unwrap();
    assert_eq!(channel_data_of(out.bytes()), (0x4abc, b"again".to_vec()));
    // Unbound channel numbers are dropped.
    assert!(s
        .handle(&crate::relay::wire::channel_data(0x4002, b"x"), a.addr, now)
        .is_none());
}

#[test]
fn channel_bind_errors() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let (mut a, ra, _b, rb) = pair(&mut s, now);
    assert_eq!(
        error_code(&a.bind(&mut s, 0x8000, rb, now)),
        Some(400),
        "out of range"
    );
    assert_eq!(
        a.bind(&mut s, 0x4001, rb, now).typ.class,
        CLASS_SUCCESS_RESPONSE
    );
    assert_eq!(
        error_code(&a.bind(&mut s, 0x4001, ra, now)),
        Some(400),
        "number taken"
    );
    assert_eq!(
        error_code(&a.bind(&mut s, 0x4002, rb, now)),
        Some(400),
        "peer bound"
    );
    assert_eq!(
        a.bind(&mut s, 0x4001, rb, now).typ.class,
        CLASS_SUCCESS_RESPONSE,
        "refresh"
    );
}

#[test]
fn permission_and_channel_lifetimes() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let (mut a, ra, mut b, rb) = pair(&mut s, now);
    a.bind(&mut s, 0x4001, rb, now);
    let cd = crate::relay::wire::channel_data(0x4001, b"x");
    let at = |n: u64| now.after(secs(n));
    assert!(s.handle(&cd, a.addr, at(299)).is_some());
    // Permissions last 300 s (both sides installed at t0).
    s.handle_timeout(at(300).mono);
    assert!(s.handle(&cd, a.addr, at(300)).is_none());
    a.permit(&mut s, rb, at(300));
    assert!(
        s.handle(&cd, a.addr, at(300)).is_none(),
        "B's permission for A expired"
    );
    b.permit(&mut s, ra, at(300));
    assert!(s.handle(&cd, a.addr, at(300)).is_some());
    // Channels last 600 s; keep permissions and allocations alive.
    a.permit(&mut s, rb, at(550));
    b.permit(&mut s, ra, at(550));
    a.refresh(&mut s, 3600, at(550));
    b.refresh(&mut s, 3600, at(550));
    assert!(s.handle(&cd, a.addr, at(599)).is_some());
    s.handle_timeout(at(600).mono);
    assert!(s.handle(&cd, a.addr, at(600)).is_none(), "channel expired");
    assert!(
        s.handle(&send_indication(rb, b"x"), a.addr, at(600))
            .is_some(),
        "permission still live"
    );
}

#[test]
fn bandwidth_caps_drop_and_count() {
    let now = t0();
    let cfg = Config {
        allocation_bandwidth: 1000,
        ..config()
    };
    let mut s = Server::new(cfg, 1);
    let (a, _ra, _b, rb) = pair(&mut s, now);
    let big = send_indication(rb, &[0u8; 600]);
    assert!(s.handle(&big, a.addr, now).is_some());
    assert!(s.handle(&big, a.addr, now).is_none());
    assert_eq!(s.stats().dropped_bandwidth, 1);
    assert!(s.handle(&big, a.addr, now.after(secs(1))).is_some());

    let cfg = Config {
        total_bandwidth: 100,
        ..config()
    };
    let mut s = Server::new(cfg, 1);
    let (a, _ra, b, rb) = pair(&mut s, now);
    assert!(s
        .handle(&send_indication(rb, &[0u8; 80]), a.addr, now)
        .is_some());
    let back = send_indication(_ra, &[0u8; 80]);
    assert!(s.handle(&back, b.addr, now).is_none(), "total cap shared");
    assert_eq!(s.stats().dropped_bandwidth, 1);
}

#[test]
fn tcp_client_gets_padded_channel_data_and_framing_splits_stream() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut a = Client::new(40000, "phone", now);
    a.addr = ClientAddr::tcp(a.addr.addr);
    let mut b = Client::new(40001, "laptop", now);
    let ra = a.allocate(&mut s, now);
    let rb = b.allocate(&mut s, now);
    a.permit(&mut s, rb, now);
    b.permit(&mut s, ra, now);
    a.bind(&mut s, 0x4001, rb, now);
    // A's stream: ChannelData (padded) + Binding in odd-sized chunks.
    let mut stream = crate::relay::wire::channel_data(0x4001, b"abc");
    stream.extend_from_slice(&binding_request(4));
    let mut framer = StreamFramer::new();
    let mut outs = Vec::new();
    for chunk in stream.chunks(5) {
        framer.push(chunk);
        while let Some(frame) = framer.next_frame().unwrap() {
            outs.extend(s.handle(&frame, a.addr, now));
        }
    }
    assert_eq!(outs.len(), 2);
    assert_eq!(outs[0].to(), b.addr);
    assert_eq!(decode(outs[1].bytes()).typ, BINDING_SUCCESS);
    // B → A: A is on TCP and has a channel to B: padded ChannelData.
    let out = s
        .handle(&send_indication(ra, b"hello"), b.addr, now)
        .unwrap();
    assert_eq!(out.to(), a.addr);
    assert_eq!(out.bytes().len(), 12);
    assert_eq!(channel_data_of(out.bytes()), (0x4001, b"hello".to_vec()));
}

#[test]
fn tcp_disconnect_deletes_allocation() {
    let now = t0();
    let mut s = Server::new(config(), 1);
    let mut a = Client::new(40000, "phone", now);
    a.addr = ClientAddr::tcp(a.addr.addr);
    a.allocate(&mut s, now);
    assert_eq!(s.stats().allocations_current, 1);
    s.client_disconnected(a.addr);
    assert_eq!(s.stats().allocations_current, 0);
    assert_eq!(error_code(&a.refresh(&mut s, 600, now)), Some(437));
}
