//! What the router mapping reports: mapped or not and why, the public address, the protocol
//! and the lease. One [`State`] value, published on a `tokio::sync::watch` channel; its
//! [`State::message`] is the plain sentence the journal, `/stats` and the household's panel
//! show.

use std::fmt::Write;
use std::net::Ipv4Addr;
use std::time::{SystemTime, UNIX_EPOCH};

/// TCP or UDP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    /// `TCP` / `UDP`, as UPnP and people spell it.
    pub fn upper(self) -> &'static str {
        match self {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        }
    }
}

/// One port to forward: the same port number outside and inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Port {
    pub transport: Transport,
    pub port: u16,
}

/// The protocol the router answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Protocol {
    #[serde(rename = "upnp")]
    Upnp,
    #[serde(rename = "nat-pmp")]
    NatPmp,
    #[serde(rename = "pcp")]
    Pcp,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Upnp => "UPnP IGD",
            Protocol::NatPmp => "NAT-PMP",
            Protocol::Pcp => "PCP",
        }
    }
}

/// Why the ports are not mapped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No default route, or no IPv4 address towards it.
    NoGateway,
    /// The router answered no UPnP IGD, NAT-PMP or PCP request.
    NoProtocol,
    /// The router says it has no public address of its own (miniupnpd, NAT-PMP result 3,
    /// UPnP `0.0.0.0`): it is itself behind a provider's NAT or another router.
    NoPublicAddress,
    /// The router's external address is in 100.64.0.0/10 (RFC 6598).
    CarrierGradeNat(Ipv4Addr),
    /// The router's external address is private (RFC 1918 and the like): a second router.
    DoubleNat(Ipv4Addr),
    /// Another device holds this port on the router.
    PortTaken(Port),
    /// The router refused for another reason (its words).
    Refused(String),
}

/// Whether mapping has been tried yet, succeeded or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Starting,
    Mapped,
    Failed,
}

/// The mapping's state now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub status: Status,
    pub protocol: Option<Protocol>,
    /// The router's external address, as the router reports it.
    pub public_ip: Option<Ipv4Addr>,
    /// When the first lease runs out (renewed well before); `None` for a permanent mapping.
    pub lease_expires: Option<SystemTime>,
    /// The ports asked for.
    pub ports: Vec<Port>,
    /// This machine's LAN address, towards the router (the target of a manual forward).
    pub lan_ip: Option<Ipv4Addr>,
    pub problem: Option<Problem>,
    /// Leases renewed since start.
    pub renewals: u64,
}

impl State {
    /// Before the first attempt.
    pub fn starting(ports: Vec<Port>) -> State {
        State {
            status: Status::Starting,
            protocol: None,
            public_ip: None,
            lease_expires: None,
            ports,
            lan_ip: None,
            problem: None,
            renewals: 0,
        }
    }

    /// Mapped: the router's address is public and every port is forwarded.
    pub fn is_mapped(&self) -> bool {
        self.status == Status::Mapped
    }

    /// The plain sentence for the journal, `/stats` and the panel.
    pub fn message(&self) -> String {
        match (&self.status, &self.problem) {
            (Status::Starting, _) => "asking the router to forward the ports".into(),
            (Status::Mapped, _) => {
                let ip = self.public_ip.map(|ip| ip.to_string()).unwrap_or_default();
                let by = self.protocol.map(Protocol::name).unwrap_or("the router");
                format!(
                    "{} forwarded to this machine by {by}; public address {ip}",
                    self.port_list()
                )
            }
            (Status::Failed, Some(p)) => self.failure(p),
            (Status::Failed, None) => "the ports are not forwarded".into(),
        }
    }

    fn failure(&self, p: &Problem) -> String {
        let cannot = "remote access cannot work from this network";
        match p {
            Problem::NoGateway => "no router found (no default IPv4 route): remote access is off".into(),
            Problem::NoProtocol => format!(
                "the router answers neither UPnP IGD nor NAT-PMP nor PCP (or has them turned off); {}",
                self.manual_forward()
            ),
            Problem::NoPublicAddress => format!(
                "the router has no public IPv4 address of its own: it is behind the provider's \
                 carrier-grade NAT (or another router), so {cannot}; ask the provider for a \
                 public IPv4 address"
            ),
            Problem::CarrierGradeNat(ip) => format!(
                "the router's external address {ip} is a carrier-grade NAT address \
                 (100.64.0.0/10): the provider shares one public address among many homes, so \
                 {cannot}; ask the provider for a public IPv4 address"
            ),
            Problem::DoubleNat(ip) => format!(
                "the router's external address {ip} is private: a second router stands between \
                 it and the internet (double NAT), so {cannot} until that router forwards the \
                 ports too or is put in bridge mode"
            ),
            Problem::PortTaken(port) => format!(
                "the router already forwards {} {} to another device; free it there, then {}",
                port.transport.upper(),
                port.port,
                self.manual_forward()
            ),
            Problem::Refused(why) => {
                format!("the router refused to forward the ports ({why}); {}", self.manual_forward())
            }
        }
    }

    /// "forward TCP 8443 and UDP 3478 ... to 192.168.1.20 (this machine)".
    pub fn manual_forward(&self) -> String {
        let to = match self.lan_ip {
            Some(ip) => format!("{ip} (this machine)"),
            None => "this machine's LAN address".into(),
        };
        format!(
            "forward {} on the router by hand to {to}, same port numbers",
            self.port_list()
        )
    }

    fn port_list(&self) -> String {
        let mut s = String::new();
        for (i, p) in self.ports.iter().enumerate() {
            let sep = match i {
                0 => "",
                _ if i + 1 == self.ports.len() => " and ",
                _ => ", ",
            };
            let _ = write!(s, "{sep}{} {}", p.transport.upper(), p.port);
        }
        s
    }

    /// The JSON object of `/stats` (`portmap`).
    pub fn report(&self) -> Report {
        Report {
            status: self.status,
            protocol: self.protocol,
            public_address: self.public_ip.map(|ip| ip.to_string()),
            lease_expires: self.lease_expires.map(unix_seconds),
            problem: self.problem.as_ref().map(Problem::code),
            message: self.message(),
            ports: self.ports.clone(),
            renewals: self.renewals,
        }
    }
}

impl Problem {
    /// A stable machine-readable name (`problem` in `/stats`).
    pub fn code(&self) -> &'static str {
        match self {
            Problem::NoGateway => "no-gateway",
            Problem::NoProtocol => "no-mapping-protocol",
            Problem::NoPublicAddress => "no-public-address",
            Problem::CarrierGradeNat(_) => "carrier-grade-nat",
            Problem::DoubleNat(_) => "double-nat",
            Problem::PortTaken(_) => "port-taken",
            Problem::Refused(_) => "refused",
        }
    }
}

/// `/stats`' view of [`State`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_address: Option<String>,
    /// Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_expires: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<&'static str>,
    pub message: String,
    pub ports: Vec<Port>,
    pub renewals: u64,
}

pub fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Why an external address cannot take connections from the internet, if it cannot:
/// unspecified (the router has none), carrier-grade NAT, or private (double NAT).
pub fn address_problem(ip: Ipv4Addr) -> Option<Problem> {
    let o = ip.octets();
    if ip.is_unspecified() {
        Some(Problem::NoPublicAddress)
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some(Problem::CarrierGradeNat(ip))
    } else if ip.is_private() || ip.is_link_local() || ip.is_loopback() || o[0] == 0 {
        Some(Problem::DoubleNat(ip))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_addresses_are_classified() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(
            address_problem(ip("0.0.0.0")),
            Some(Problem::NoPublicAddress)
        );
        for cgn in ["100.64.0.1", "100.127.255.254", "100.100.1.1"] {
            assert_eq!(
                address_problem(ip(cgn)),
                Some(Problem::CarrierGradeNat(ip(cgn)))
            );
        }
        for private in ["10.0.0.138", "192.168.178.1", "172.16.0.2", "169.254.3.3"] {
            assert_eq!(
                address_problem(ip(private)),
                Some(Problem::DoubleNat(ip(private)))
            );
        }
        for public in ["100.63.255.255", "100.128.0.1", "77.77.0.1", "8.8.8.8"] {
            assert_eq!(address_problem(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn failures_read_plainly_and_name_the_manual_forward() {
        let ports = vec![
            Port {
                transport: Transport::Tcp,
                port: 443,
            },
            Port {
                transport: Transport::Udp,
                port: 3478,
            },
        ];
        let mut s = State::starting(ports);
        s.status = Status::Failed;
        s.lan_ip = Some(Ipv4Addr::new(192, 168, 1, 20));
        s.problem = Some(Problem::NoProtocol);
        assert!(
            s.message().contains(
                "forward TCP 443 and UDP 3478 on the router by hand to 192.168.1.20 (this machine)"
            ),
            "{}",
            s.message()
        );
        s.problem = Some(Problem::CarrierGradeNat(Ipv4Addr::new(100, 64, 1, 2)));
        assert!(s.message().contains("carrier-grade NAT"), "{}", s.message());
        s.problem = Some(Problem::NoPublicAddress);
        assert!(s.message().contains("carrier-grade NAT"), "{}", s.message());
        let json = serde_json::to_value(s.report()).unwrap();
        assert_eq!(json["status"], "failed");
        assert_eq!(json["problem"], "no-public-address");
        assert_eq!(json["ports"][0]["transport"], "tcp");
    }
}
