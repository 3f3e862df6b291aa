//! Non-browser loads that check a path between a host namespace and the router: round-trip
//! time (UDP echo), TCP goodput, and a paced UDP stream counted for loss and reordering.
//! Used to show the delay line is a faithful link, far faster than two browsers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::netns::spawn_in_netns;

/// Socket buffers for the probes: a 40 ms path at 100 MB/s holds 4 MB.
const BUFFER: libc::c_int = 32 << 20;

fn force_buffers(fd: &impl AsRawFd) {
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_SNDBUFFORCE] {
        // SAFETY: setsockopt with a live c_int.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                &BUFFER as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "{}", std::io::Error::last_os_error());
    }
}

/// Start `serve` on a socket bound in `ns` at `ip`:0; returns its address.
fn server<S: Send + 'static, T: Send + 'static>(
    ns: &str,
    bind: impl FnOnce() -> S + Send + 'static,
    addr: impl Fn(&S) -> SocketAddr + Send + 'static,
    serve: impl FnOnce(S) -> T + Send + 'static,
) -> (SocketAddr, std::thread::JoinHandle<T>) {
    let (tx, rx) = mpsc::channel();
    let handle = spawn_in_netns(ns, move || {
        let sock = bind();
        tx.send(addr(&sock)).unwrap();
        serve(sock)
    });
    (rx.recv().expect("probe server bound"), handle)
}

/// The smallest of `n` UDP echo round trips from `host` to an echo server on `ip` in `router`.
pub fn udp_rtt(router: &str, ip: &str, host: &str, n: usize) -> Duration {
    let bind = format!("{ip}:0");
    let (addr, echo) = server(
        router,
        move || UdpSocket::bind(&bind).unwrap(),
        |s| s.local_addr().unwrap(),
        move |s| {
            let mut buf = [0u8; 64];
            for _ in 0..n {
                let (len, from) = s.recv_from(&mut buf).unwrap();
                s.send_to(&buf[..len], from).unwrap();
            }
        },
    );
    let best = spawn_in_netns(host, move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut best = Duration::MAX;
        for i in 0..n as u32 {
            let t = Instant::now();
            s.send_to(&i.to_be_bytes(), addr).unwrap();
            let mut buf = [0u8; 64];
            s.recv_from(&mut buf).expect("echo reply (lost?)");
            best = best.min(t.elapsed());
        }
        best
    })
    .join()
    .unwrap();
    echo.join().unwrap();
    best
}

/// MB/s of one TCP stream of `bytes` from `host` to `ip` in `router`, timed at the receiver
/// from the first byte to the end.
pub fn tcp_goodput(router: &str, ip: &str, host: &str, bytes: usize) -> f64 {
    let bind = format!("{ip}:0");
    let (addr, sink) = server(
        router,
        move || {
            let l = TcpListener::bind(&bind).unwrap();
            force_buffers(&l);
            l
        },
        |l| l.local_addr().unwrap(),
        |l| {
            let (mut c, _) = l.accept().unwrap();
            let mut buf = vec![0u8; 1 << 20];
            let mut got = c.read(&mut buf).unwrap();
            let t = Instant::now();
            loop {
                match c.read(&mut buf).unwrap() {
                    0 => break,
                    n => got += n,
                }
            }
            (got, t.elapsed())
        },
    );
    spawn_in_netns(host, move || {
        let sock =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        force_buffers(&sock);
        sock.connect(&addr.into()).unwrap();
        let mut c: TcpStream = sock.into();
        let chunk = vec![7u8; 1 << 20];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            c.write_all(&chunk[..n]).unwrap();
            left -= n;
        }
    })
    .join()
    .unwrap();
    let (got, took) = sink.join().unwrap();
    assert_eq!(got, bytes, "TCP stream lost bytes");
    got as f64 / 1e6 / took.as_secs_f64()
}

/// What a paced UDP stream looked like at the receiver.
#[derive(Debug)]
pub struct UdpReport {
    pub sent: u32,
    pub received: u32,
    /// Datagrams that arrived after a later-numbered one.
    pub reordered: u32,
}

/// Send `count` datagrams of 1200 bytes (a WebRTC packet's size) from `host` to `ip` in
/// `router`, paced at `mb_per_s`, and count what arrives.
pub fn udp_stream(router: &str, ip: &str, host: &str, count: u32, mb_per_s: f64) -> UdpReport {
    let bind = format!("{ip}:0");
    let (addr, sink) = server(
        router,
        move || {
            let s = UdpSocket::bind(&bind).unwrap();
            force_buffers(&s);
            s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            s
        },
        |s| s.local_addr().unwrap(),
        move |s| {
            let (mut received, mut reordered, mut highest) = (0u32, 0u32, None::<u32>);
            let mut buf = [0u8; 2048];
            while let Ok(n) = s.recv(&mut buf) {
                let seq = u32::from_be_bytes(buf[..4].try_into().unwrap());
                if seq == u32::MAX {
                    break;
                }
                assert_eq!(n, 1200);
                received += 1;
                if highest.is_some_and(|h| seq < h) {
                    reordered += 1;
                }
                highest = highest.max(Some(seq));
            }
            (received, reordered)
        },
    );
    spawn_in_netns(host, move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        force_buffers(&s);
        let mut buf = [0u8; 1200];
        let per_datagram = Duration::from_secs_f64(1200.0 / (mb_per_s * 1e6));
        let start = Instant::now();
        for seq in 0..count {
            let due = start + per_datagram * seq;
            let now = Instant::now();
            if due > now + Duration::from_millis(1) {
                std::thread::sleep(due - now);
            }
            buf[..4].copy_from_slice(&seq.to_be_bytes());
            s.send_to(&buf, addr).unwrap();
        }
        // Let the tail cross the line, then mark the end.
        std::thread::sleep(Duration::from_millis(500));
        s.send_to(&u32::MAX.to_be_bytes(), addr).unwrap();
    })
    .join()
    .unwrap();
    let (received, reordered) = sink.join().unwrap();
    UdpReport {
        sent: count,
        received,
        reordered,
    }
}
