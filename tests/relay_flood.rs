//! Unauthenticated Allocate flood against the real homedrop binary (its relay).
//!
//! webrtc-rs `turn` stored a nonce per unauthenticated request (300 k
//! requests: 3.8 → 38.5 MB RSS). homedrop's nonces are stateless, so the RSS
//! of the process must stay flat: < 2 MB rise from after warm-up to the end,
//! while an authenticated client (credentials from `issue_credentials`, 1 h)
//! still gets Allocate + Refresh served.
//!
//! Pacing: requests go out in batches; after each batch a Binding probe must
//! be answered (the relay keeps answering during the flood), and the batch's
//! 401s are collected before the next batch (so the kernel's queues, not the
//! relay, are never what drops them).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use homedrop::relay::issue_credentials;
use stun::agent::TransactionId;
use stun::attributes::*;
use stun::error_code::ErrorCodeAttribute;
use stun::integrity::MessageIntegrity;
use stun::message::*;
use stun::textattrs::TextAttribute;
use turn::proto::lifetime::Lifetime;
use turn::proto::reqtrans::RequestedTransport;
use turn::proto::PROTO_UDP;

use crate::support::{binary, free_port, procfs, TempDir};

const SECRET: &str = "flood-secret-0123456789";
const FLOOD: usize = 300_000;
const WARM_UP: usize = 20_000;
const BATCH: usize = 500;
const SOCKETS: usize = 4;

/// The homedrop process; killed if the test fails midway.
struct Homedrop {
    child: Child,
    /// stderr (the log), line by line, read by a thread so the pipe never fills.
    log: mpsc::Receiver<String>,
    addr: SocketAddr,
    _state: TempDir,
}

impl Homedrop {
    fn spawn() -> Homedrop {
        let state = TempDir::new("flood");
        let port = free_port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let mut child = Command::new(binary())
            .args(["--http", "127.0.0.1:0", "--no-mdns"])
            .args(["--turn", &addr.to_string(), "--turn-secret", SECRET])
            .args(["--relay-ip", "127.0.0.1", "--log", "info"])
            .arg("--state-dir")
            .arg(&state.0)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn homedrop");
        let stderr = BufReader::new(child.stderr.take().unwrap());
        let (tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stderr.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let h = Homedrop {
            child,
            log,
            addr,
            _state: state,
        };
        let ready = h.line_containing("STUN/TURN relay on", Duration::from_secs(20));
        assert!(ready.contains(&format!("udp {addr}")), "{ready}");
        h
    }

    /// The first log line containing `needle` (panics after `wait`).
    fn line_containing(&self, needle: &str, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line with {needle:?}"),
            }
        }
    }

    /// VmRSS in KiB.
    fn rss_kib(&self) -> u64 {
        procfs::status_kib(self.child.id(), "VmRSS:").unwrap()
    }

    /// SIGTERM, wait for a drained, successful exit, return the relay's final stats line.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let stats = self.line_containing("relay stopped", Duration::from_secs(10));
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{status}");
                break;
            }
            assert!(Instant::now() < deadline, "homedrop did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
        stats
    }
}

impl Drop for Homedrop {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sockets sending unauthenticated Allocates with random transaction ids.
struct Flood {
    socks: Vec<UdpSocket>,
    probe: UdpSocket,
    server: SocketAddr,
    rng: u64,
    sent: usize,
    answered: usize,
}

impl Flood {
    fn new(server: SocketAddr) -> Flood {
        let bind = || UdpSocket::bind("127.0.0.1:0").unwrap();
        let socks: Vec<_> = (0..SOCKETS).map(|_| bind()).collect();
        for s in &socks {
            s.set_nonblocking(true).unwrap();
        }
        let probe = bind();
        probe
            .set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        Flood {
            socks,
            probe,
            server,
            rng: 0x9E37_79B9_7F4A_7C15,
            sent: 0,
            answered: 0,
        }
    }

    fn tid(&mut self) -> [u8; 12] {
        let mut t = [0u8; 12];
        for chunk in t.chunks_mut(4) {
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            chunk.copy_from_slice(&self.rng.to_be_bytes()[..4]);
        }
        t
    }

    /// Allocate, REQUESTED-TRANSPORT UDP, no credentials (28 bytes).
    fn allocate(&mut self) -> Vec<u8> {
        let mut m = vec![0x00, 0x03, 0x00, 0x08, 0x21, 0x12, 0xA4, 0x42];
        m.extend_from_slice(&self.tid());
        m.extend_from_slice(&[0x00, 0x19, 0x00, 0x04, 17, 0, 0, 0]);
        m
    }

    fn send(&mut self, n: usize) {
        for _ in 0..n {
            let req = self.allocate();
            let sock = &self.socks[self.sent % SOCKETS];
            while let Err(e) = sock.send_to(&req, self.server) {
                assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock, "{e}");
                std::thread::yield_now();
            }
            self.sent += 1;
            if self.sent % BATCH == 0 {
                self.probe_binding();
                self.drain();
            }
        }
    }

    /// A Binding must be answered (three tries): the relay is alive and has
    /// consumed everything sent before it.
    fn probe_binding(&mut self) {
        let mut req = vec![0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        let tid = self.tid();
        req.extend_from_slice(&tid);
        let mut buf = [0u8; 1500];
        for _ in 0..3 {
            self.probe.send_to(&req, self.server).unwrap();
            while let Ok(n) = self.probe.recv(&mut buf) {
                if n >= 20 && buf[..2] == [0x01, 0x01] && buf[8..20] == tid {
                    return;
                }
            }
        }
        panic!("no Binding answer after {} flood requests", self.sent);
    }

    /// Counts the 401 answers on the flood sockets, waiting until every
    /// request sent so far is answered or none arrived for 200 ms. (The
    /// relay reads with one loop per SO_REUSEPORT socket, so the probe's
    /// answer alone does not prove the batch was consumed: the probe may
    /// land on another socket than the flood.)
    fn drain(&mut self) {
        let mut buf = [0u8; 1500];
        let mut quiet_since = Instant::now();
        while self.answered < self.sent && quiet_since.elapsed() < Duration::from_millis(200) {
            let before = self.answered;
            for s in &self.socks {
                while let Ok(n) = s.recv(&mut buf) {
                    if n >= 20 && buf[..2] == [0x01, 0x13] {
                        self.answered += 1;
                    }
                }
            }
            if self.answered > before {
                quiet_since = Instant::now();
            } else {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// An authenticated TURN client (REST credentials issued like homedrop's).
struct AuthClient {
    sock: UdpSocket,
    server: SocketAddr,
    username: String,
    password: String,
    realm_nonce: Option<(String, String)>,
}

impl AuthClient {
    fn new(server: SocketAddr) -> AuthClient {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let ttl = Duration::from_secs(3600);
        let (username, password) =
            issue_credentials(SECRET.as_bytes(), "flood", now.as_secs(), ttl);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        AuthClient {
            sock,
            server,
            username,
            password,
            realm_nonce: None,
        }
    }

    fn request(&self, method: Method, attr: Box<dyn Setter>) -> Message {
        let mut setters: Vec<Box<dyn Setter>> = vec![
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(method, CLASS_REQUEST)),
            attr,
        ];
        if let Some((realm, nonce)) = self.realm_nonce.clone() {
            let user = self.username.clone();
            setters.push(Box::new(TextAttribute::new(ATTR_USERNAME, user.clone())));
            setters.push(Box::new(TextAttribute::new(ATTR_REALM, realm.clone())));
            setters.push(Box::new(TextAttribute::new(ATTR_NONCE, nonce)));
            let pass = self.password.clone();
            setters.push(Box::new(MessageIntegrity::new_long_term_integrity(
                user, realm, pass,
            )));
        }
        let mut m = Message::new();
        m.build(&setters).unwrap();
        m
    }

    /// Sends with retransmissions; returns the matching response.
    fn transact(&self, req: &Message) -> Message {
        let mut buf = [0u8; 1500];
        for _ in 0..10 {
            self.sock.send_to(&req.raw, self.server).unwrap();
            while let Ok(n) = self.sock.recv(&mut buf) {
                let mut m = Message {
                    raw: buf[..n].to_vec(),
                    ..Default::default()
                };
                if m.decode().is_ok() && m.transaction_id == req.transaction_id {
                    return m;
                }
            }
        }
        panic!("no answer to {:?}", req.typ);
    }

    /// A request, repeated once with credentials after 401/438.
    fn call(&mut self, method: Method, attr: fn() -> Box<dyn Setter>) -> Message {
        let resp = self.transact(&self.request(method, attr()));
        let mut err = ErrorCodeAttribute::default();
        if err.get_from(&resp).is_ok() && matches!(err.code.0, 401 | 438) {
            let text = |a| TextAttribute::get_from_as(&resp, a).unwrap().text;
            self.realm_nonce = Some((text(ATTR_REALM), text(ATTR_NONCE)));
            return self.transact(&self.request(method, attr()));
        }
        resp
    }

    /// Allocate, Refresh (600 s), then Refresh 0 to free the allocation.
    fn allocate_and_refresh(mut self) {
        let udp = || -> Box<dyn Setter> {
            Box::new(RequestedTransport {
                protocol: PROTO_UDP,
            })
        };
        let resp = self.call(METHOD_ALLOCATE, udp);
        assert_eq!(resp.typ.class, CLASS_SUCCESS_RESPONSE, "allocate");
        let keep = || -> Box<dyn Setter> { Box::new(Lifetime(Duration::from_secs(600))) };
        assert_eq!(
            self.call(METHOD_REFRESH, keep).typ.class,
            CLASS_SUCCESS_RESPONSE
        );
        let free = || -> Box<dyn Setter> { Box::new(Lifetime(Duration::ZERO)) };
        assert_eq!(
            self.call(METHOD_REFRESH, free).typ.class,
            CLASS_SUCCESS_RESPONSE
        );
    }
}

#[test]
fn unauthenticated_allocate_flood_keeps_rss_flat() {
    let app = Homedrop::spawn();
    let mut flood = Flood::new(app.addr);
    let started = Instant::now();
    flood.send(WARM_UP);
    AuthClient::new(app.addr).allocate_and_refresh();
    let base = app.rss_kib();
    let mut served = 1;
    while flood.sent < FLOOD {
        flood.send(50_000.min(FLOOD - flood.sent));
        AuthClient::new(app.addr).allocate_and_refresh(); // during the flood
        served += 1;
        println!(
            "after {:>6} requests: VmRSS {} KiB",
            flood.sent,
            app.rss_kib()
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    flood.drain();
    let end = app.rss_kib();
    AuthClient::new(app.addr).allocate_and_refresh(); // after the flood
    served += 1;
    let elapsed = started.elapsed();
    let stats = app.stop();
    println!(
        "flood: {} Allocates in {elapsed:.1?} ({:.0}/s), {} answered 401; VmRSS {base} -> {end} KiB \
         (rise {} KiB); authenticated clients served: {served}; {}",
        flood.sent,
        flood.sent as f64 / elapsed.as_secs_f64(),
        flood.answered,
        end as i64 - base as i64,
        stats.trim()
    );
    assert!(end < base + 2048, "RSS rose {base} -> {end} KiB");
    assert!(
        flood.answered * 100 >= flood.sent * 95,
        "most requests answered"
    );
    assert!(
        stats.contains(&format!("allocations_total: {served},")),
        "{stats}"
    );
}
