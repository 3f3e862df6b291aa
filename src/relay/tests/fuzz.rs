//! Seeded random robustness test of the core (stable Rust, a fixed seed, no
//! fuzzing crate): 20,000 messages from random sources, each either a valid
//! TURN message (authenticated or not), a mutation of one, or random bytes,
//! go into `Server::handle` with explicit time that moves forward in random
//! steps. Nothing may panic, and the allocation count and the state size
//! stay within the configured bounds.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::*;

const MESSAGES: usize = 20_000;
/// Distinct client sources (8 IPv4 addresses x 16 ports, UDP and TCP).
const SOURCES: u16 = 128;

/// A valid message from `c`: a request of every TURN method (with the
/// client's credentials once it has seen a 401), a Send indication or
/// ChannelData towards one of the relay's addresses.
fn valid(rng: &mut StdRng, c: &mut Client) -> Vec<u8> {
    let peer = SocketAddr::from((RELAY_IP, 50000 + rng.random_range(0..100u16)));
    let channel = 0x4000 + rng.random_range(0..64u16);
    match rng.random_range(0..8u8) {
        0 => binding_request(rng.random()),
        1 => c.request(METHOD_ALLOCATE, udp()),
        2 => c.request(
            METHOD_REFRESH,
            vec![Box::new(Lifetime(secs(rng.random_range(0..900))))],
        ),
        3 => c.request(METHOD_CREATE_PERMISSION, vec![Box::new(peer_attr(peer))]),
        4 => {
            let attrs: Attrs = vec![Box::new(ChannelNumber(channel)), Box::new(peer_attr(peer))];
            c.request(METHOD_CHANNEL_BIND, attrs)
        }
        5 => {
            let mut m = Message::new();
            m.build(&[
                Box::new(TransactionId(rng.random())),
                Box::new(MessageType::new(METHOD_SEND, CLASS_INDICATION)),
                Box::new(peer_attr(peer)),
                Box::new(turn::proto::data::Data(vec![7; rng.random_range(0..64)])),
            ])
            .unwrap();
            m.raw
        }
        6 => crate::relay::wire::channel_data(channel, &[1; 32]),
        _ => (0..rng.random_range(0..120))
            .map(|_| rng.random())
            .collect(),
    }
}

/// Flips, overwrites, truncates or extends `bytes` at random places
/// (header fields included: lengths, magic cookie, attribute types).
fn mutate(rng: &mut StdRng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..rng.random_range(1..5u8) {
        let len = bytes.len();
        match rng.random_range(0..4u8) {
            0 if len > 0 => bytes[rng.random_range(0..len)] ^= 1 << rng.random_range(0..8u8),
            1 if len > 0 => bytes[rng.random_range(0..len)] = rng.random(),
            2 if len > 0 => bytes.truncate(rng.random_range(0..len)),
            _ => bytes.extend((0..rng.random_range(1..16)).map(|_| rng.random::<u8>())),
        }
    }
    bytes
}

/// The client sources: 8 public IPv4 addresses, 16 ports each, every other
/// one over TCP.
fn sources(start: Now) -> Vec<Client> {
    (0..SOURCES)
        .map(|i| {
            let ip = [203, 0, 113, (i % 8) as u8 + 1];
            let mut c = Client::at(SocketAddr::from((ip, 40000 + i)), &format!("d{i}"), start);
            if i % 2 == 1 {
                c.addr = ClientAddr::tcp(c.addr.addr);
            }
            c
        })
        .collect()
}

#[test]
fn random_and_mutated_messages_never_panic_and_state_stays_bounded() {
    let start = t0();
    // Tight quotas, so the run reaches them: 8 sources x 12 per source.
    let cfg = Config {
        max_allocations: 100,
        max_allocations_per_source: 12,
        ..config()
    };
    let mut s = Server::new(cfg.clone(), 42);
    let mut rng = StdRng::seed_from_u64(0x5eed_1200);
    let mut clients = sources(start);
    let mut now = start;
    let (mut replies, mut peak_allocs, mut peak_state) = (0usize, 0u64, 0usize);
    for i in 0..MESSAGES {
        let c = &mut clients[rng.random_range(0..SOURCES as usize)];
        let msg = valid(&mut rng, c);
        let msg = if rng.random_bool(0.5) {
            mutate(&mut rng, msg)
        } else {
            msg
        };
        if let Some(out) = s.handle(&msg, c.addr, now) {
            replies += 1;
            learn_nonce(c, out.bytes());
        }
        if rng.random_bool(0.05) {
            now = now.after(Duration::from_millis(rng.random_range(0..3_000)));
            s.handle_timeout(now.mono);
        }
        if i % 1000 == 999 && rng.random_bool(0.3) {
            s.client_disconnected(clients[rng.random_range(0..SOURCES as usize)].addr);
        }
        let st = s.stats();
        peak_allocs = peak_allocs.max(st.allocations_current);
        peak_state = peak_state.max(s.state_size());
        assert!(st.allocations_current as usize <= cfg.max_allocations);
    }
    let st = s.stats();
    println!(
        "fuzz: {MESSAGES} messages, {replies} replies, peak allocations {peak_allocs}, \
         peak state {peak_state} entries, {st:?}"
    );
    assert!(st.allocations_total > 0, "the valid part allocated: {st:?}");
    assert!(st.quota_refusals > 0, "quotas were reached: {st:?}");
    assert!(
        peak_allocs <= 8 * 12,
        "per-source quota held: {peak_allocs}"
    );
    // Allocations: each holds at most one permission and one channel per
    // relay port (100 here) plus its own entries; the transaction cache holds
    // at most 1024 responses; reservations at most one port per allocation.
    let per_alloc = 3 + 3 * 100;
    let bound = cfg.max_allocations * per_alloc + 1024 + 2 * cfg.max_allocations + 64;
    assert!(peak_state <= bound, "state {peak_state} > {bound}");
    expire_all(&mut s, &clients, now);
}

/// Keeps REALM/NONCE from a 401/438 reply so later requests authenticate.
fn learn_nonce(c: &mut Client, bytes: &[u8]) {
    let mut m = Message {
        raw: bytes.to_vec(),
        ..Default::default()
    };
    if m.decode().is_ok() && matches!(error_code(&m), Some(401 | 438)) {
        let realm = TextAttribute::get_from_as(&m, ATTR_REALM).ok();
        let nonce = TextAttribute::get_from_as(&m, ATTR_NONCE).ok();
        if let (Some(r), Some(n)) = (realm, nonce) {
            c.realm = Some(r.text);
            c.nonce = Some(n.text);
        }
    }
}

/// Everything expires: hours later, with the stream clients gone, the core
/// holds nothing.
fn expire_all(s: &mut Server, clients: &[Client], now: Now) {
    for c in clients {
        s.client_disconnected(c.addr);
    }
    s.handle_timeout(now.after(secs(3 * 3600)).mono);
    assert_eq!(s.stats().allocations_current, 0);
    assert_eq!(s.state_size(), 0);
}
