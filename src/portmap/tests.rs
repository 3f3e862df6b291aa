//! The mapping logic against a fake NAT-PMP-only router on loopback: PCP is refused with
//! "unsupported version" and NAT-PMP then maps; a router offering another port means ours
//! is taken; a router without a public address is explained.

use std::net::{Ipv4Addr, SocketAddrV4};

use tokio::net::UdpSocket;

use super::*;

/// How the fake router answers a NAT-PMP map request.
#[derive(Clone, Copy)]
enum Fake {
    /// Grants the port asked for.
    Grants,
    /// Offers the asked port + 1 (someone else has it).
    OffersAnother,
    /// Result 3: the router has no public address.
    NoAddress,
}

/// A NAT-PMP (version 0 only) server on 127.0.0.1; its address.
async fn fake_router(mode: Fake) -> SocketAddrV4 {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = match sock.local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => a,
        _ => unreachable!(),
    };
    tokio::spawn(async move {
        let mut buf = [0u8; 1100];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let req = &buf[..n];
            let code: u8 = if matches!(mode, Fake::NoAddress) {
                3
            } else {
                0
            };
            let mut resp = vec![0, 128 + req[1], 0, code, 0, 0, 0, 42];
            match (req[0], req[1]) {
                // PCP (version 2): unsupported version.
                (2, _) => resp[3] = 1,
                (0, 0) => resp.extend([81, 2, 3, 1]),
                (0, 1 | 2) if n >= 12 => {
                    let asked = u16::from_be_bytes([req[6], req[7]]);
                    let given = match mode {
                        Fake::OffersAnother if asked != 0 => asked + 1,
                        _ => asked,
                    };
                    resp.extend(&req[4..6]);
                    resp.extend(given.to_be_bytes());
                    resp.extend(&req[8..12]);
                }
                _ => continue,
            }
            let _ = sock.send_to(&resp, from).await;
        }
    });
    addr
}

fn settings() -> Settings {
    Settings {
        ports: vec![
            Port {
                transport: Transport::Tcp,
                port: 8443,
            },
            Port {
                transport: Transport::Udp,
                port: 3478,
            },
        ],
        lease: 120,
    }
}

async fn router(server: SocketAddrV4, pcp: bool) -> Router {
    Router::Pmp {
        sock: pmp::Pmp::connect_to(server).await.unwrap(),
        pcp,
        nonces: vec![[1; 12], [2; 12]],
    }
}

#[tokio::test]
async fn a_nat_pmp_router_refuses_pcp_and_maps_by_nat_pmp() {
    let server = fake_router(Fake::Grants).await;
    let pcp = map_all(&router(server, true).await, &settings()).await;
    assert_eq!(
        pcp.unwrap_err().problem,
        None,
        "PCP: no answer, try the next protocol"
    );
    let state = map_all(&router(server, false).await, &settings())
        .await
        .unwrap();
    assert_eq!(state.status, Status::Mapped);
    assert_eq!(state.protocol, Some(Protocol::NatPmp));
    assert_eq!(state.public_ip, Some(Ipv4Addr::new(81, 2, 3, 1)));
    assert!(state.lease_expires.is_some());
    assert!(
        state.message().contains("public address 81.2.3.1"),
        "{}",
        state.message()
    );
}

#[tokio::test]
async fn another_port_offered_means_ours_is_taken() {
    let server = fake_router(Fake::OffersAnother).await;
    let s = map_all(&router(server, false).await, &settings())
        .await
        .unwrap_err();
    assert_eq!(s.problem, Some(Problem::PortTaken(settings().ports[0])));
    assert!(
        s.message()
            .contains("already forwards TCP 8443 to another device"),
        "{}",
        s.message()
    );
}

#[tokio::test]
async fn a_router_without_public_address_is_explained() {
    let server = fake_router(Fake::NoAddress).await;
    let s = map_all(&router(server, false).await, &settings())
        .await
        .unwrap_err();
    assert_eq!(s.problem, Some(Problem::NoPublicAddress));
    assert!(s.message().contains("carrier-grade NAT"), "{}", s.message());
}

#[tokio::test]
async fn nothing_listening_is_no_answer_fast() {
    // A bound, then closed, port: ICMP port unreachable ends the wait at once.
    let closed = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        match s.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            _ => unreachable!(),
        }
    };
    let started = std::time::Instant::now();
    let s = map_all(&router(closed, true).await, &settings())
        .await
        .unwrap_err();
    assert_eq!(s.problem, None);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn the_default_gateway_is_read_from_the_route_table() {
    let table =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                 eth0\t005AA8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                 eth0\t00000000\t015AA8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
    let expected = if cfg!(target_endian = "little") {
        Ipv4Addr::new(192, 168, 90, 1)
    } else {
        Ipv4Addr::new(1, 90, 168, 192)
    };
    assert_eq!(parse_route_table(table), Some(expected));
    assert_eq!(parse_route_table("Iface\n"), None);
}
