//! Seeded random robustness test of the signaling path a connection takes (stable Rust, a
//! fixed seed, no fuzzing crate): 16 sessions on one hub, from home, public and IPv6
//! sources, get 50,000 text frames between them through [`Session::on_text`], the very
//! parse, limits and [`Hub::apply`] calls a WebSocket's frames go through. Each frame is a
//! valid message of a random type (with ids, room codes and pairing keys the server really
//! handed out, so joins, invitations and signals reach the rulebook), one with wrong,
//! missing or extra fields, huge or negative numbers, deep nesting, lone UTF-16 surrogate
//! escapes, a mutation of one, or noise. Some clients read their queue, some never do.
//!
//! Nothing may panic, and state stays bounded: peers never outnumber live sessions, every
//! queue is within its byte budget (or holds one message), a session that hit its error
//! limit or whose queue overflowed is replaced the way the real loop would end it, and
//! when all leave, no peer, queue or pairing key is left behind. The whole run must take
//! under 10 s in a debug build.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};

use super::*;
use crate::signaling::registry::{MAX_ROOMS, MAX_ROOMS_PER_PEER};
use crate::signaling::HubSettings;

const FRAMES: usize = 50_000;
const SESSIONS: usize = 16;
/// Small, so queues that are never read overflow within the run.
const BUDGET: usize = 4 * 1024;

const SOURCES: [&str; 8] = [
    "192.168.1.10",
    "192.168.1.11",
    "10.0.0.7",
    "127.0.0.1",
    "203.0.113.5",
    "198.51.100.77",
    "2001:db8:1::5",
    "2001:db8:1::6",
];

/// What the server handed out so far: ids, room codes, pairing keys, secrets.
#[derive(Default)]
struct Seen {
    ids: Vec<String>,
    codes: Vec<String>,
    keys: Vec<String>,
    secrets: Vec<String>,
}

impl Seen {
    fn note(&mut self, m: &ServerMsg) {
        let keep = |v: &mut Vec<String>, s: &str| {
            if v.len() < 64 && !v.iter().any(|x| x == s) {
                v.push(s.to_string());
            }
        };
        match m {
            ServerMsg::RoomJoined { code, .. } => keep(&mut self.codes, code),
            ServerMsg::PairKey { key, .. } => keep(&mut self.keys, key),
            ServerMsg::Paired { secret, .. } => keep(&mut self.secrets, secret),
            ServerMsg::Peers { peers } => peers.iter().for_each(|p| keep(&mut self.ids, &p.id)),
            _ => {}
        }
    }

    fn pick(rng: &mut StdRng, v: &[String], fallback: &str) -> String {
        match v.len() {
            0 => fallback.to_string(),
            n => v[rng.random_range(0..n)].clone(),
        }
    }
}

/// A random string: ASCII, names with accents and emoji, controls, bidi marks, long runs.
fn text(rng: &mut StdRng) -> String {
    const BITS: [&str; 10] = [
        "Dad", "é", "📱", "\u{202e}", "\u{200b}", "\n", "\"", "\\", " ", "x",
    ];
    let n = match rng.random_range(0..10u8) {
        0 => rng.random_range(30..300),
        _ => rng.random_range(0..12),
    };
    (0..n)
        .map(|_| BITS[rng.random_range(0..BITS.len())])
        .collect()
}

/// A number of a random kind: small, negative, huge, fractional, beyond u64.
fn number(rng: &mut StdRng) -> Value {
    match rng.random_range(0..6u8) {
        0 => json!(rng.random_range(0..60u32)),
        1 => json!(-1),
        2 => json!(u64::MAX),
        3 => json!(1.5e300),
        4 => Value::Null,
        _ => json!(rng.random_range(0..3u32) as f64 + 0.5),
    }
}

/// `levels` nested arrays and objects around one value.
fn nested(levels: usize) -> String {
    let mut s = String::new();
    for i in 0..levels {
        s.push_str(if i % 2 == 0 { "[" } else { "{\"a\":" });
    }
    s.push('1');
    for i in (0..levels).rev() {
        s.push(if i % 2 == 0 { ']' } else { '}' });
    }
    s
}

/// A well-formed message of a random type; fields drawn from what the server handed out.
fn valid(rng: &mut StdRng, seen: &Seen) -> Value {
    let id = Seen::pick(rng, &seen.ids, "0123456789abcdef0123456789abcdef");
    let code = Seen::pick(rng, &seen.codes, "ABCDEF");
    match rng.random_range(0..12u8) {
        0 => json!({"type":"hello","v":1,"name":text(rng),"kind":"phone",
                    "pairs": seen.secrets.iter().take(rng.random_range(0..3)).collect::<Vec<_>>()}),
        1 => json!({"type":"rename","name":text(rng)}),
        2 => json!({"type":"roomCreate","capacity":number(rng),"snapOnJoin":rng.random::<bool>()}),
        3 => json!({"type":"roomJoin","code":code}),
        4 => json!({"type":"roomLeave","code":code}),
        5 => json!({"type":"pairStart"}),
        6 => json!({"type":"pairJoin","key":Seen::pick(rng, &seen.keys, "123456")}),
        7 => json!({"type":"pairForget","secret":Seen::pick(rng, &seen.secrets, "00")}),
        8 => json!({"type":"signal","to":id,"data":{"sdp":text(rng),"n":number(rng)}}),
        9 => json!({"type":"roomInvite","to":id,"code":code}),
        10 => {
            let name = ["Family", "family ", "Ün\u{301}", ""][rng.random_range(0..4)];
            json!({"type":"roomJoinNamed","name":name})
        }
        _ => json!({"type":"roomInviteReply","to":id,"code":code,"accept":rng.random::<bool>()}),
    }
}

/// Change one field of `v`: wrong type, removed, huge, or an extra field.
fn damage(rng: &mut StdRng, mut v: Value) -> Value {
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    let keys: Vec<String> = obj.keys().cloned().collect();
    let k = keys[rng.random_range(0..keys.len())].clone();
    match rng.random_range(0..6u8) {
        0 => {
            obj.remove(&k);
        }
        1 => {
            obj.insert(k, number(rng));
        }
        2 => {
            obj.insert(k, json!([text(rng), {}, null]));
        }
        3 => {
            obj.insert("extra".into(), json!(text(rng)));
        }
        4 => {
            obj.insert("type".into(), json!(text(rng)));
        }
        _ => {
            obj.insert(k, json!({"deep": {"er": [1, 2, {"x": u64::MAX}]}}));
        }
    }
    v
}

/// Bytes flipped, cut, doubled or spliced in a frame's text (kept valid UTF-8, as a
/// WebSocket text frame is).
fn mutate(rng: &mut StdRng, s: String) -> String {
    let mut b = s.into_bytes();
    for _ in 0..rng.random_range(1..4u8) {
        let len = b.len().max(1);
        match rng.random_range(0..4u8) {
            0 => b.truncate(rng.random_range(0..len)),
            1 if !b.is_empty() => {
                let i = rng.random_range(0..b.len());
                b[i] = rng.random_range(0x20..0x7f);
            }
            2 => {
                let i = rng.random_range(0..=b.len());
                let splice: &[u8] =
                    [&b"\\ud800"[..], b"\\udfff\\ud800", b"\"", b",", b"}"][rng.random_range(0..5)];
                b.splice(i..i, splice.iter().copied());
            }
            _ => b.extend_from_within(..b.len() / 2),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// One frame of a random kind.
fn frame(rng: &mut StdRng, seen: &Seen) -> String {
    match rng.random_range(0..10u8) {
        0..=3 => valid(rng, seen).to_string(),
        4 | 5 => {
            let v = valid(rng, seen);
            damage(rng, v).to_string()
        }
        6 => {
            let v = valid(rng, seen).to_string();
            mutate(rng, v)
        }
        7 => match rng.random_range(0..5u8) {
            0 => format!(r#"{{"type":"signal","to":"x","data":{}}}"#, nested(200)),
            1 => r#"{"type":"hello","v":1,"name":"\ud800\udc00\ud800"}"#.into(),
            2 => r#"{"type":"rename","name":"\udfff"}"#.into(),
            3 => format!(r#"{{"type":"roomCreate","capacity":1{}}}"#, "0".repeat(400)),
            _ => format!(r#"{{"type":"hello","v":{},"name":"a"}}"#, u64::MAX),
        },
        8 => format!(r#"{{"type":"rename","name":"{}"}}"#, "x".repeat(70_000)),
        _ => (0..rng.random_range(0..64))
            .map(|_| rng.random_range(0x20u8..0x7f) as char)
            .collect(),
    }
}

/// A connection as the session loop would open it (id, queue, origin).
fn open(hub: &Arc<Hub>, rng: &mut StdRng) -> Session {
    let ip: IpAddr = SOURCES[rng.random_range(0..SOURCES.len())].parse().unwrap();
    let group = crate::net::classify(ip, &[]);
    let queue = Arc::new(OutQueue::new(hub.settings.out_budget));
    let id = hub.connect(group, None, queue.clone());
    let origin = Origin {
        ip,
        group,
        own_host: None,
    };
    Session::new(hub.clone(), id, origin, queue)
}

/// A queue holds at most its budget, or a single message larger than it.
fn within_budget(q: &OutQueue) {
    let (len, bytes) = q.usage();
    assert!(
        bytes <= BUDGET || len == 1,
        "queue over budget: {len} / {bytes}"
    );
}

#[test]
fn random_frames_never_panic_and_state_stays_bounded() {
    let t0 = Instant::now();
    let mut rng = StdRng::seed_from_u64(0x5eed_0012);
    let settings = HubSettings {
        out_budget: BUDGET,
        ..HubSettings::default()
    };
    let hub = Arc::new(Hub::new(settings));
    let mut sessions: Vec<Session> = (0..SESSIONS).map(|_| open(&hub, &mut rng)).collect();
    let (mut seen, mut replaced, mut overflowed) = (Seen::default(), 0, 0);
    for n in 0..FRAMES {
        let i = rng.random_range(0..SESSIONS);
        sessions[i].on_text(&frame(&mut rng, &seen));
        // Half the clients read their queue now and then; the other half never do.
        for s in sessions.iter().filter(|s| s.id.as_bytes()[0] % 2 == 0) {
            while let Some(m) = s.queue.try_recv() {
                seen.note(&m);
            }
        }
        let s = &sessions[i];
        within_budget(&s.queue);
        let closed = s.queue.is_closed();
        if closed || s.errors >= MAX_ERRORS || rng.random_range(0..200u16) == 0 {
            overflowed += usize::from(closed);
            hub.disconnect(&s.id);
            sessions[i] = open(&hub, &mut rng);
            replaced += 1;
        }
        if n % 1000 == 0 {
            hub.sweep();
        }
        assert!(hub.peer_count() <= SESSIONS, "{} peers", hub.peer_count());
        assert!(hub.queue_count() <= SESSIONS);
        assert!(hub.room_count() <= MAX_ROOMS.min(MAX_ROOMS_PER_PEER * (replaced + SESSIONS)));
    }
    println!(
        "{FRAMES} frames: {replaced} sessions replaced, {overflowed} overflowed, {} rooms, \
         seen {} ids, {} codes, {} keys, {} secrets",
        hub.room_count(),
        seen.ids.len(),
        seen.codes.len(),
        seen.keys.len(),
        seen.secrets.len()
    );
    assert!(replaced > 50, "sessions were replaced {replaced} times");
    assert!(overflowed > 0, "no unread queue overflowed");
    assert!(
        !seen.codes.is_empty() && !seen.ids.is_empty(),
        "valid paths were reached"
    );
    for s in &sessions {
        hub.disconnect(&s.id);
    }
    assert_eq!((hub.peer_count(), hub.queue_count()), (0, 0));
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
