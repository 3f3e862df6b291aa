//! Stream limits of the shell: connection limit, bad framing, first-frame
//! timeout, and shutdown draining with connections open.

use std::net::SocketAddr;
use std::time::Duration;

use homedrop::relay::{Config, Relay, ShellConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

fn config() -> Config {
    Config {
        secret: b"s".to_vec(),
        advertised_ip: [127, 0, 0, 1].into(),
        port_min: 20000,
        port_max: 20099,
        ..Config::default()
    }
}

/// A STUN Binding request (20 bytes).
const BINDING: [u8; 20] = [
    0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
];

/// Reads until EOF (or 2 s); returns what arrived.
async fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "connection not closed");
    got
}

#[tokio::test]
async fn stream_limits_and_drain() {
    let opts = ShellConfig {
        max_connections: 2,
        first_frame_timeout: Duration::from_millis(200),
        ..ShellConfig::default()
    };
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let relay = Relay::bind_with(config(), opts, any, any).await.unwrap();
    let (_, tcp) = relay.local_addrs();
    let shell = relay.shell();
    let stop = CancellationToken::new();
    let task = tokio::spawn(relay.run(stop.clone()));

    // A Binding over TCP is answered; the connection stays open.
    let mut ok = TcpStream::connect(tcp).await.unwrap();
    ok.write_all(&BINDING).await.unwrap();
    let mut resp = [0u8; 32]; // header + XOR-MAPPED-ADDRESS (IPv4)
    ok.read_exact(&mut resp).await.unwrap();
    assert_eq!(resp[..4], [0x01, 0x01, 0x00, 0x0c]);

    // Unframeable bytes close the connection.
    let mut bad = TcpStream::connect(tcp).await.unwrap();
    bad.write_all(&[0xff; 8]).await.unwrap();
    assert!(read_to_close(&mut bad).await.is_empty());

    // Silence before the first frame closes it too.
    let mut idle = TcpStream::connect(tcp).await.unwrap();
    assert!(read_to_close(&mut idle).await.is_empty());

    // With `ok` and a new one open, a third exceeds the limit of 2.
    let _second = TcpStream::connect(tcp).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut third = TcpStream::connect(tcp).await.unwrap();
    assert!(read_to_close(&mut third).await.is_empty());

    let s = shell.shell_stats();
    assert_eq!(s.stream_frame_errors, 1, "{s:?}");
    assert_eq!(s.stream_idle_closed, 1, "{s:?}");
    assert_eq!(s.stream_rejected, 1, "{s:?}");
    assert_eq!(s.stream_current, 2, "{s:?}");

    // Shutdown closes the open connections and returns.
    stop.cancel();
    let done = tokio::time::timeout(Duration::from_secs(3), task).await;
    done.expect("drained").unwrap().unwrap();
    assert!(read_to_close(&mut ok).await.is_empty());
    assert_eq!(shell.shell_stats().stream_current, 0);
}

/// Four SO_REUSEPORT UDP sockets on one port: every client (the kernel
/// spreads them by 4-tuple over the sockets) is answered from that one
/// address, which a connected client socket requires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_sockets_share_one_port() {
    let opts = ShellConfig {
        udp_sockets: 4,
        ..ShellConfig::default()
    };
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let relay = Relay::bind_with(config(), opts, any, any).await.unwrap();
    let (udp, _) = relay.local_addrs();
    let shell = relay.shell();
    let stop = CancellationToken::new();
    let task = tokio::spawn(relay.run(stop.clone()));
    // A plain socket cannot join the relay's port (SO_REUSEPORT is only for
    // sockets that all set it).
    assert!(std::net::UdpSocket::bind(udp).is_err());
    for _ in 0..32 {
        let c = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        c.connect(udp).await.unwrap();
        c.send(&BINDING).await.unwrap();
        let mut resp = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(2), c.recv(&mut resp))
            .await
            .expect("answered from the relay's address")
            .unwrap();
        assert_eq!(n, 32);
        assert_eq!(resp[..4], [0x01, 0x01, 0x00, 0x0c]);
    }
    assert_eq!(shell.shell_stats().udp_received, 32);
    // The four receive threads are blocked in recvfrom: shutdown wakes them
    // (SHUT_RD) instead of waiting for their 1 s receive timeout.
    let t = std::time::Instant::now();
    stop.cancel();
    let done = tokio::time::timeout(Duration::from_secs(3), task).await;
    done.expect("drained").unwrap().unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
}
