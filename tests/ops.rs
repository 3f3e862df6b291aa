//! Operations: `/stats` and `/metrics` against the in-process app, and SIGTERM, restart and
//! the "session ended" log line against the real binary.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{binary, header, http_get, TempDir, TestApp, Ws};

async fn stats(addr: SocketAddr) -> Value {
    let (status, headers, body) = http_get(addr, "/stats", "").await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    serde_json::from_slice(&body).unwrap()
}

/// `/metrics` as name → value; checks every sample has `# HELP` and `# TYPE` before it.
async fn metrics(addr: SocketAddr) -> HashMap<String, f64> {
    let (status, headers, body) = http_get(addr, "/metrics", "").await;
    assert_eq!(status, 200);
    let ct = header(&headers, "content-type").unwrap();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = String::from_utf8(body).unwrap();
    let mut out = HashMap::new();
    let (mut helped, mut typed) = (None::<String>, None::<String>);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped = rest.split(' ').next().map(str::to_string);
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut it = rest.split(' ');
            typed = it.next().map(str::to_string);
            assert!(matches!(it.next(), Some("gauge" | "counter")), "{line}");
        } else {
            let (name, value) = line.rsplit_once(' ').unwrap();
            let base = name.split('{').next().unwrap();
            assert_eq!(helped.as_deref(), Some(base), "HELP before {line}");
            assert_eq!(typed.as_deref(), Some(base), "TYPE before {line}");
            out.insert(name.to_string(), value.parse().unwrap());
        }
    }
    out
}

async fn stats_until(addr: SocketAddr, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = stats(addr).await;
        if pred(&s) || Instant::now() > deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn stats_and_metrics_reflect_clients_rooms_and_negotiations() {
    let app = TestApp::spawn().await;
    let s = stats(app.addr).await;
    assert_eq!(
        (s["peers"].as_u64(), s["rooms"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(s["version"], env!("CARGO_PKG_VERSION"));

    let mut a = app.client().await;
    a.hello("A").await;
    a.send(json!({"type":"roomCreate"})).await;
    a.expect("roomJoined").await;
    let s = stats(app.addr).await;
    assert_eq!(s["peers"], 1, "{s}");
    assert_eq!(s["rooms"], 1, "{s}");
    assert_eq!(s["negotiating"], 0, "{s}");
    let m = metrics(app.addr).await;
    assert_eq!(m["homedrop_peers"], 1.0);
    assert_eq!(m["homedrop_rooms"], 1.0);
    assert_eq!(m["homedrop_connections_total"], 1.0);
    let build = format!(
        "homedrop_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(m[&build], 1.0);

    // Two home peers exchange an offer and an answer: one connection being negotiated.
    let mut b = app.client().await;
    b.hello("B").await;
    a.peers_until(|p| p.len() == 1).await;
    a.send(json!({"type":"signal","to":b.id,"data":{"description":{"type":"offer"}}}))
        .await;
    b.expect("signal").await;
    b.send(json!({"type":"signal","to":a.id,"data":{"description":{"type":"answer"}}}))
        .await;
    a.expect("signal").await;
    let s = stats(app.addr).await;
    assert_eq!(
        (s["peers"].as_u64(), s["negotiating"].as_u64()),
        (Some(2), Some(1)),
        "{s}"
    );
    assert_eq!(s["signalsRelayed"], 2, "{s}");
    let m = metrics(app.addr).await;
    assert_eq!(m["homedrop_signals_relayed_total"], 2.0);
    assert_eq!(m["homedrop_negotiating"], 1.0);
    assert_eq!(m["homedrop_connections_total"], 2.0);
    assert_eq!(stats(app.addr).await.as_object().unwrap().len(), m.len());

    // When a peer leaves, its negotiations and its count go with it.
    drop(b);
    let s = stats_until(app.addr, |s| s["peers"] == 1).await;
    assert_eq!(
        (s["peers"].as_u64(), s["negotiating"].as_u64()),
        (Some(1), Some(0)),
        "{s}"
    );
    app.stop().await;
}

/// The real binary on `addr`, with its stderr captured; debug level, so that the "nothing
/// personal in the logs" check covers every line homedrop writes short of trace.
fn start(addr: SocketAddr, state: &TempDir) -> Child {
    Command::new(binary())
        .args(["--http", &addr.to_string(), "--no-turn", "--no-mdns"])
        .arg("--state-dir")
        .arg(&state.0)
        .args(["--config", "/dev/null"])
        .env("HOMEDROP_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Connect once the server accepts (it was just started).
async fn connect_when_up(addr: SocketAddr) -> Ws {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ws::connect(addr, None).await;
        }
        assert!(Instant::now() < deadline, "server never came up on {addr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// After `restarting`, the server's close frame with 1012 (Service Restart).
async fn expect_restart_close(ws: &mut Ws) {
    let deadline = Duration::from_secs(5);
    let mut restarting = false;
    loop {
        let msg = tokio::time::timeout(deadline, ws.ws.next()).await;
        match msg.expect("no close within 5 s") {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                restarting |= v["type"] == "restarting";
            }
            Some(Ok(Message::Close(Some(frame)))) => {
                assert!(restarting, "close before `restarting`");
                assert_eq!(frame.code, CloseCode::Restart);
                return;
            }
            Some(Ok(_)) => {}
            other => panic!("connection ended without a close frame: {other:?}"),
        }
    }
}

#[tokio::test]
async fn sigterm_tells_clients_exits_0_within_5s_and_clients_reconnect() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let state = TempDir::new("sigterm");
    let mut server = start(addr, &state);
    // Personal content that must never reach the log.
    let (name, text) = ("Ygritte Marker-7e3f", "secret-text-9b1c.pdf");
    let mut a = connect_when_up(addr).await;
    a.hello(name).await;
    let mut b = Ws::connect(addr, None).await;
    b.hello("Another Marker-5d2a").await;
    a.peers_until(|p| p.len() == 1).await;
    a.send(json!({"type":"signal","to":b.id,"data":{"text":text}}))
        .await;
    b.expect("signal").await;
    let code = a.room_create().await;
    // Browsers also hold idle keep-alive HTTP connections, and a client may have connected
    // without sending anything yet: neither may hold up the exit.
    let idle = keep_alive_after_one_request(addr).await;
    let silent = tokio::net::TcpStream::connect(addr).await.unwrap();

    let sent = Instant::now();
    assert_eq!(unsafe { libc::kill(server.id() as i32, libc::SIGTERM) }, 0);
    expect_restart_close(&mut a).await;
    expect_restart_close(&mut b).await;
    let status = loop {
        if let Some(s) = server.try_wait().unwrap() {
            break s;
        }
        assert!(
            sent.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(0), "exit status");
    eprintln!("SIGTERM to exit: {took:?}");
    // Well below the 4 s drain deadline: idle connections were closed, not waited out.
    assert!(took < Duration::from_secs(2), "{took:?}");
    drop((idle, silent));
    let log = read_all(&mut server);

    session_lines_tell_the_story(
        &log,
        &[name, "Marker", text, "secret-text", &code, &a.id, &b.id],
    );

    // Started again on the same port, a client gets back in.
    let mut again = start(addr, &state);
    let mut c = connect_when_up(addr).await;
    c.hello("Back").await;
    assert_eq!(c.expect("peers").await["peers"], json!([]));
    drop(c);
    unsafe { libc::kill(again.id() as i32, libc::SIGTERM) };
    assert_eq!(again.wait().unwrap().code(), Some(0));
}

/// One "session ended" line per client (two: `a` sent the one signal), with the story and
/// none of `secrets`.
fn session_lines_tell_the_story(log: &str, secrets: &[&str]) {
    let ended: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("session ended"))
        .collect();
    assert_eq!(ended.len(), 2, "{log}");
    eprintln!("{}", ended.join("\n"));
    let a_line = ended
        .iter()
        .find(|l| l.contains("signals_sent=1"))
        .expect("{log}");
    for field in [
        "joined_at=",
        "duration_ms=",
        "group=\"home\"",
        "rooms_joined=1",
        "signals_received=0",
        "turn_offered=false",
        "end=\"server restarting\"",
    ] {
        assert!(a_line.contains(field), "{field} missing: {a_line}");
    }
    for secret in secrets {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
}

fn read_all(child: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
    s
}

/// The web client itself: told `restarting`, it goes offline, and once homedrop is back on
/// the same port it reconnects with no action (headless Chromium on loopback).
#[test]
fn web_client_reconnects_after_a_restart() {
    // Chromium tests take turns: several browsers at once on 2 cores time out.
    let _one = crate::support::one_browser_at_a_time();
    use crate::support::page::Page;
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let state = TempDir::new("reconnect");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut server = start(addr, &state);
    drop(rt.block_on(connect_when_up(addr)));
    let mut br = Page::launch(None);
    br.goto(&format!("http://{addr}/"));
    let state_is =
        |s: &str| format!("document.querySelector('[data-status]')?.dataset.state === '{s}'");
    br.wait_for(&state_is("online"), Duration::from_secs(20));
    assert_eq!(rt.block_on(stats(addr))["peers"], 1);

    assert_eq!(unsafe { libc::kill(server.id() as i32, libc::SIGTERM) }, 0);
    assert_eq!(server.wait().unwrap().code(), Some(0));
    br.wait_for(
        "document.querySelector('[data-status]').dataset.state !== 'online'",
        Duration::from_secs(5),
    );
    let log = read_all(&mut server);
    assert!(log.contains("end=\"server restarting\""), "{log}");

    let mut again = start(addr, &state);
    br.wait_for(&state_is("online"), Duration::from_secs(30));
    let s = rt.block_on(stats_until(addr, |s| s["peers"] == 1));
    assert_eq!(
        (s["peers"].as_u64(), s["connectionsTotal"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    drop(br);
    unsafe { libc::kill(again.id() as i32, libc::SIGTERM) };
    assert_eq!(again.wait().unwrap().code(), Some(0));
}

/// A connection that made one keep-alive request, read the response, and stays open.
async fn keep_alive_after_one_request(addr: SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET /healthz HTTP/1.1\r\nhost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).ends_with("ok\n") {
        let n = s.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the response");
        got.extend_from_slice(&buf[..n]);
    }
    s
}
