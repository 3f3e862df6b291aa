//! NAT-PMP (RFC 6886) and its successor PCP (RFC 6887): fixed-layout UDP messages to the
//! default gateway's port 5351. PCP is asked first (a PCP MAP answer also carries the
//! external address); a NAT-PMP-only router answers a PCP request with "unsupported
//! version" and is then spoken to in NAT-PMP.
//!
//! Each request is sent up to three times (250, 500, 1000 ms apart, RFC 6886 §3.1 starts at
//! 250 ms) on a socket connected to the gateway, so only the gateway's answers are read.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tokio::net::UdpSocket;

use super::state::{address_problem, Port, Problem, Transport};
use super::{Failure, Granted};

/// The port NAT-PMP and PCP servers listen on.
pub const SERVER_PORT: u16 = 5351;
const TRIES: [u64; 3] = [250, 500, 1000];

/// A socket towards the gateway's NAT-PMP/PCP port; `local` is our address towards it.
pub struct Pmp {
    sock: UdpSocket,
    pub local: Ipv4Addr,
}

impl Pmp {
    pub async fn connect(gateway: Ipv4Addr) -> io::Result<Pmp> {
        Self::connect_to(SocketAddrV4::new(gateway, SERVER_PORT)).await
    }

    /// [`Pmp::connect`] to any address (tests run a fake router on loopback).
    pub async fn connect_to(server: SocketAddrV4) -> io::Result<Pmp> {
        let sock = UdpSocket::bind(SocketAddr::from(([0, 0, 0, 0], 0))).await?;
        sock.connect(server).await?;
        let local = match sock.local_addr()? {
            SocketAddr::V4(a) => *a.ip(),
            SocketAddr::V6(_) => {
                return Err(io::Error::other("no IPv4 address towards the router"))
            }
        };
        Ok(Pmp { sock, local })
    }

    /// Send `req` and wait for an answer `parse` accepts; `None` when none came.
    async fn exchange<T>(&self, req: &[u8], parse: impl Fn(&[u8]) -> Option<T>) -> Option<T> {
        let mut buf = [0u8; 1100];
        for wait in TRIES {
            if self.sock.send(req).await.is_err() {
                return None;
            }
            let deadline = tokio::time::Instant::now() + Duration::from_millis(wait);
            loop {
                match tokio::time::timeout_at(deadline, self.sock.recv(&mut buf)).await {
                    Ok(Ok(n)) => {
                        if let Some(v) = parse(&buf[..n]) {
                            return Some(v);
                        }
                    }
                    // ICMP port unreachable (nothing listens on 5351): no need to wait.
                    Ok(Err(_)) => return None,
                    Err(_) => break,
                }
            }
        }
        None
    }

    /// The router's external address by NAT-PMP (opcode 0).
    pub async fn natpmp_public_ip(&self) -> Result<Ipv4Addr, Failure> {
        let answer = self.exchange(&[0, 0], |b| {
            (b.len() >= 12 && b[0] == 0 && b[1] == 128).then(|| {
                let code = u16::from_be_bytes([b[2], b[3]]);
                (code, Ipv4Addr::new(b[8], b[9], b[10], b[11]))
            })
        });
        match answer.await {
            None => Err(Failure::NoAnswer),
            Some((0, ip)) => match address_problem(ip) {
                Some(p) => Err(Failure::Problem(p)),
                None => Ok(ip),
            },
            Some((code, _)) => Err(Failure::Problem(natpmp_problem(code))),
        }
    }

    /// Map (or, with `lifetime` 0, remove) `port` by NAT-PMP.
    pub async fn natpmp_map(&self, port: Port, lifetime: u32) -> Result<Granted, Failure> {
        let op = match port.transport {
            Transport::Udp => 1u8,
            Transport::Tcp => 2u8,
        };
        let mut req = vec![0, op, 0, 0];
        req.extend(port.port.to_be_bytes());
        let suggested = if lifetime == 0 { 0 } else { port.port };
        req.extend(suggested.to_be_bytes());
        req.extend(lifetime.to_be_bytes());
        let answer = self.exchange(&req, |b| {
            let ours = b.len() >= 16 && b[0] == 0 && b[1] == 128 + op && b[8..10] == req[4..6];
            ours.then(|| {
                let code = u16::from_be_bytes([b[2], b[3]]);
                let external = u16::from_be_bytes([b[10], b[11]]);
                let life = u32::from_be_bytes([b[12], b[13], b[14], b[15]]);
                (code, external, life)
            })
        });
        match answer.await {
            None => Err(Failure::NoAnswer),
            Some((0, external_port, lifetime)) => Ok(Granted {
                external_port,
                lifetime,
                public_ip: None,
            }),
            Some((code, _, _)) => Err(Failure::Problem(natpmp_problem(code))),
        }
    }

    /// Map (or remove) `port` by PCP MAP; `nonce` identifies the mapping to the router.
    /// `Failure::NoAnswer` also when the router speaks only NAT-PMP.
    pub async fn pcp_map(
        &self,
        port: Port,
        lifetime: u32,
        nonce: [u8; 12],
    ) -> Result<Granted, Failure> {
        let req = pcp_request(self.local, port, lifetime, nonce);
        let answer = self.exchange(&req, |b| parse_pcp(b, &nonce));
        match answer.await {
            None | Some(PcpAnswer::OldVersion) => Err(Failure::NoAnswer),
            Some(PcpAnswer::Result(0, g)) => match g.public_ip.and_then(address_problem) {
                Some(p) if lifetime > 0 => Err(Failure::Problem(p)),
                _ => Ok(g),
            },
            Some(PcpAnswer::Result(code, _)) => Err(Failure::Problem(pcp_problem(code, port))),
        }
    }
}

/// An IPv4 address as PCP writes it (IPv4-mapped IPv6).
fn mapped(ip: Ipv4Addr) -> [u8; 16] {
    ip.to_ipv6_mapped().octets()
}

/// A PCP MAP request (RFC 6887 §7.1 header + §11.1 MAP opcode data), 60 bytes.
fn pcp_request(client: Ipv4Addr, port: Port, lifetime: u32, nonce: [u8; 12]) -> Vec<u8> {
    let mut b = vec![2, 1, 0, 0];
    b.extend(lifetime.to_be_bytes());
    b.extend(mapped(client));
    b.extend(nonce);
    b.push(match port.transport {
        Transport::Tcp => 6,
        Transport::Udp => 17,
    });
    b.extend([0, 0, 0]);
    b.extend(port.port.to_be_bytes());
    let suggested = if lifetime == 0 { 0 } else { port.port };
    b.extend(suggested.to_be_bytes());
    b.extend(mapped(Ipv4Addr::UNSPECIFIED));
    b
}

enum PcpAnswer {
    /// A NAT-PMP server's "unsupported version" (version 0 in the reply).
    OldVersion,
    Result(u8, Granted),
}

/// A MAP response for `nonce` (or a version-0 reply), else `None`.
fn parse_pcp(b: &[u8], nonce: &[u8; 12]) -> Option<PcpAnswer> {
    if b.len() >= 4 && b[0] == 0 {
        return Some(PcpAnswer::OldVersion);
    }
    if b.len() < 24 || b[0] != 2 || b[1] != 0x81 {
        return None;
    }
    let code = b[3];
    let lifetime = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
    if b.len() < 60 {
        // Errors may come without the opcode data (e.g. unsupported version).
        return (code != 0).then(|| PcpAnswer::Result(code, Granted::default()));
    }
    if &b[24..36] != nonce {
        return None;
    }
    let external_port = u16::from_be_bytes([b[42], b[43]]);
    let ip: [u8; 16] = b[44..60].try_into().ok()?;
    let public_ip = std::net::Ipv6Addr::from(ip).to_ipv4_mapped();
    let g = Granted {
        external_port,
        lifetime,
        public_ip,
    };
    Some(PcpAnswer::Result(code, g))
}

fn natpmp_problem(code: u16) -> Problem {
    match code {
        2 => Problem::Refused("NAT-PMP: not authorized".into()),
        3 => Problem::NoPublicAddress,
        4 => Problem::Refused("NAT-PMP: out of resources".into()),
        c => Problem::Refused(format!("NAT-PMP result {c}")),
    }
}

fn pcp_problem(code: u8, port: Port) -> Problem {
    match code {
        2 => Problem::Refused("PCP: not authorized".into()),
        7 => Problem::NoPublicAddress,
        8 | 10 => Problem::Refused("PCP: no resources".into()),
        11 => Problem::PortTaken(port),
        c => Problem::Refused(format!("PCP result {c}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcp_map_round_trip() {
        let nonce = [7u8; 12];
        let port = Port {
            transport: Transport::Tcp,
            port: 8443,
        };
        let req = pcp_request(Ipv4Addr::new(192, 168, 1, 5), port, 7200, nonce);
        assert_eq!(req.len(), 60);
        assert_eq!(&req[8..24], &mapped(Ipv4Addr::new(192, 168, 1, 5)));
        // A server's answer: the request with R set, a result, the epoch and the address.
        let mut resp = req.clone();
        resp[1] = 0x81;
        resp[3] = 0;
        resp[8..24].fill(0);
        resp[44..60].copy_from_slice(&mapped(Ipv4Addr::new(77, 77, 0, 1)));
        let Some(PcpAnswer::Result(0, g)) = parse_pcp(&resp, &nonce) else {
            panic!("not parsed")
        };
        assert_eq!((g.external_port, g.lifetime), (8443, 7200));
        assert_eq!(g.public_ip, Some(Ipv4Addr::new(77, 77, 0, 1)));
        assert!(
            parse_pcp(&resp, &[8u8; 12]).is_none(),
            "another mapping's nonce"
        );
        assert!(matches!(
            parse_pcp(&[0, 0x81, 0, 1, 0, 0, 0, 0], &nonce),
            Some(PcpAnswer::OldVersion)
        ));
        assert!(parse_pcp(&resp[..10], &nonce).is_none());
    }

    #[test]
    fn result_codes_become_problems() {
        let port = Port {
            transport: Transport::Udp,
            port: 3478,
        };
        assert_eq!(natpmp_problem(3), Problem::NoPublicAddress);
        assert_eq!(pcp_problem(7, port), Problem::NoPublicAddress);
        assert_eq!(pcp_problem(11, port), Problem::PortTaken(port));
    }
}
