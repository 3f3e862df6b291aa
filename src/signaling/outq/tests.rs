use super::*;
use crate::signaling::protocol::{DeviceKind, ErrorCode};

fn list(n: usize, tag: &str) -> ServerMsg {
    let peers = (0..n)
        .map(|i| PeerInfo {
            id: format!("{i:032x}"),
            name: format!("{tag} {i}"),
            kind: DeviceKind::Phone,
            links: vec![Link::Home],
            caps: None,
        })
        .collect();
    ServerMsg::Peers { peers }
}

fn signal(bytes: usize) -> ServerMsg {
    ServerMsg::Signal {
        from: "a".repeat(32),
        data: serde_json::json!({ "sdp": "x".repeat(bytes) }),
    }
}

fn drain(q: &OutQueue) -> Vec<ServerMsg> {
    std::iter::from_fn(|| q.try_recv().map(|m| *m)).collect()
}

#[test]
fn the_estimate_is_at_least_the_json_text() {
    let msgs = [
        list(0, "n"),
        list(100, "a fairly long device name"),
        signal(60_000),
        ServerMsg::error(ErrorCode::RateLimited, "Too many messages; slow down."),
        ServerMsg::Signal {
            from: "b".into(),
            data: serde_json::from_str(&format!("{}1{}", "[".repeat(120), "]".repeat(120)))
                .unwrap(),
        },
        ServerMsg::Signal {
            from: "b".into(),
            data: serde_json::json!({"n": 1e300, "m": -12345678901234567i64, "o": {"p": [true, null]}}),
        },
    ];
    for m in &msgs {
        let (w, text) = (weight(m), m.to_json().len());
        assert!(w >= text, "{w} < {text}: {}", &m.to_json()[..60.min(text)]);
    }
    // ...and for lists and large signals, not far above it: an estimate, not a multiple.
    for m in &msgs[1..3] {
        let (w, text) = (weight(m), m.to_json().len());
        assert!(w <= 3 * text, "{w} vs {text}");
    }
}

#[test]
fn only_the_newest_list_waits_and_what_came_before_it_stays_before_it() {
    let q = OutQueue::new(OUT_BUDGET);
    q.push(list(3, "old")).unwrap();
    let ice = ServerMsg::IceServers {
        ice_servers: Vec::new(),
        expires_in_secs: 60,
    };
    q.push(ice.clone()).unwrap();
    q.push(list(3, "new")).unwrap();
    q.push(signal(10)).unwrap();
    q.push(list(4, "newest")).unwrap();
    let got = drain(&q);
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(got[0], ice);
    assert!(matches!(got[1], ServerMsg::Signal { .. }));
    assert_eq!(got[2], list(4, "newest"));
    assert_eq!(q.usage(), (0, 0));
}

#[test]
fn a_queue_over_its_budget_closes_and_frees_what_it_held() {
    let q = OutQueue::new(64 * 1024);
    let mut pushed = 0;
    while q.push(signal(4_000)).is_ok() {
        pushed += 1;
        assert!(pushed < 1_000, "never overflowed");
    }
    // 64 KiB of roughly 4 KB messages: about 15 of them, never more than the budget.
    assert!((10..=16).contains(&pushed), "{pushed}");
    assert_eq!(q.usage(), (0, 0));
    assert!(q.push(ServerMsg::Restarting).is_err(), "stays closed");
    assert!(q.try_recv().is_none());
}

#[test]
fn lists_alone_never_overflow_however_many_arrive() {
    let q = OutQueue::new(64 * 1024);
    for i in 0..10_000 {
        q.push(list(50, &format!("r{i}"))).unwrap();
    }
    let (n, bytes) = q.usage();
    assert_eq!(n, 1);
    assert_eq!(bytes, weight(&list(50, "r9999")));
    // An empty queue takes one message larger than its budget (a list of a big group).
    let q = OutQueue::new(1024);
    q.push(list(100, "big")).unwrap();
    assert!(q.push(signal(10)).is_err());
}

#[tokio::test]
async fn recv_wakes_for_a_push_and_ends_when_closed() {
    let q = std::sync::Arc::new(OutQueue::new(OUT_BUDGET));
    let q2 = q.clone();
    let t = tokio::spawn(async move {
        let mut n = 0;
        while q2.recv().await.is_some() {
            n += 1;
        }
        n
    });
    for _ in 0..5 {
        tokio::task::yield_now().await;
        q.push(signal(1)).unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    q.close();
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 5);
}
