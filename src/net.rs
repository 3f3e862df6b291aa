//! Where a client comes from: the home group or a public address.
//!
//! Discovery without any action only works for devices in the same home. A device is "home"
//! when its address is private (RFC 1918, ULA, link-local, loopback) or lies inside an
//! on-link subnet of one of homedrop's own interfaces: IPv6 homes use global addresses, so
//! "private" alone would split a dual-stack home in two. Everyone else is grouped by public
//! address (a hosted homedrop behaves like PairDrop: same public IP, same network).
//!
//! Also the other facts about this machine's network that several modules need: which
//! interfaces are the home LAN (mDNS advertises on them, the start-up log lists their URLs)
//! and how a URL is written for a host.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often [`SubnetCache`] re-reads the interface list.
pub const SUBNET_REFRESH: Duration = Duration::from_secs(5);
/// Name prefixes of virtual interfaces that are not the home LAN.
const VIRTUAL_PREFIXES: [&str; 4] = ["docker", "veth", "br-", "virbr"];

/// The discovery group a connection belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetGroup {
    /// Private or on-link: the household.
    Home,
    /// Seen from this public address (IPv6: its /64).
    Public(IpAddr),
}

/// Private, loopback, link-local or ULA: never routed on the internet.
pub fn is_private(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// An on-link subnet of one of our interfaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Subnet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => mask_eq(&net.octets(), &ip.octets(), self.prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask_eq(&net.octets(), &ip.octets(), self.prefix),
            _ => false,
        }
    }
}

fn mask_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let mut bits = prefix as usize;
    for (x, y) in a.iter().zip(b) {
        if bits == 0 {
            return true;
        }
        let take = bits.min(8);
        let mask = (0xffu16 << (8 - take)) as u8;
        if x & mask != y & mask {
            return false;
        }
        bits -= take;
    }
    true
}

/// The address the TURN relay advertises by default: the first private IPv4 address of a
/// non-loopback interface, else 127.0.0.1.
pub fn default_relay_ip() -> IpAddr {
    let ifaces = if_addrs::get_if_addrs().unwrap_or_default();
    ifaces
        .iter()
        .filter(|i| !i.is_loopback())
        .find_map(|i| match i.addr {
            if_addrs::IfAddr::V4(ref a) if a.ip.is_private() => Some(IpAddr::V4(a.ip)),
            _ => None,
        })
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The subnets of this machine's interfaces (loopback excluded: it is private anyway).
pub fn local_subnets() -> Vec<Subnet> {
    let Ok(ifaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    ifaces
        .into_iter()
        .filter(|i| !i.is_loopback())
        .map(|i| match i.addr {
            if_addrs::IfAddr::V4(a) => Subnet {
                addr: IpAddr::V4(a.ip),
                prefix: prefix_len(&a.netmask.octets()),
            },
            if_addrs::IfAddr::V6(a) => Subnet {
                addr: IpAddr::V6(a.ip),
                prefix: prefix_len(&a.netmask.octets()),
            },
        })
        .collect()
}

fn prefix_len(mask: &[u8]) -> u8 {
    mask.iter().map(|b| b.count_ones() as u8).sum()
}

/// Our interfaces' subnets, re-read at most every [`SUBNET_REFRESH`] (DHCP renewals, new
/// links), so classifying a connection does not list the interfaces each time.
pub struct SubnetCache {
    read: Mutex<(Instant, Arc<Vec<Subnet>>)>,
}

impl SubnetCache {
    /// Reads the subnets now.
    pub fn new() -> Self {
        SubnetCache {
            read: Mutex::new((Instant::now(), Arc::new(local_subnets()))),
        }
    }

    /// The subnets, read again when the last read is older than [`SUBNET_REFRESH`].
    pub fn get(&self) -> Arc<Vec<Subnet>> {
        let mut s = self.read.lock().unwrap_or_else(|e| e.into_inner());
        if s.0.elapsed() > SUBNET_REFRESH {
            *s = (Instant::now(), Arc::new(local_subnets()));
        }
        s.1.clone()
    }
}

impl Default for SubnetCache {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether homedrop advertises on (and lists URLs for) this interface: the ones named by
/// the user (`--mdns-interface`) if any, else every one but loopback and virtual ones
/// (`docker*`, `veth*`, `br-*`, `virbr*`).
pub fn is_lan_interface(name: &str, is_loopback: bool, named: &[String]) -> bool {
    if !named.is_empty() {
        return named.iter().any(|n| n == name);
    }
    !is_loopback && !VIRTUAL_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// `http://host:port/`, without the port when it is 80.
pub fn url_for_host(host: &str, port: u16) -> String {
    if port == 80 {
        format!("http://{host}/")
    } else {
        format!("http://{host}:{port}/")
    }
}

/// Classify a client address.
pub fn classify(ip: IpAddr, subnets: &[Subnet]) -> NetGroup {
    let ip = ip.to_canonical();
    if is_private(ip) || subnets.iter().any(|s| s.contains(ip)) {
        return NetGroup::Home;
    }
    match ip {
        IpAddr::V4(_) => NetGroup::Public(ip),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            NetGroup::Public(IpAddr::V6(Ipv6Addr::new(
                s[0], s[1], s[2], s[3], 0, 0, 0, 0,
            )))
        }
    }
}

/// The client's address: the TCP peer, or the right-most X-Forwarded-For entry that is not
/// itself a trusted proxy, but only when the TCP peer is a trusted proxy. A client can
/// prepend anything to X-Forwarded-For, so the left-most entry is never believed.
pub fn client_ip(peer: SocketAddr, xff: Option<&str>, trusted: &[IpAddr]) -> IpAddr {
    let peer_ip = peer.ip().to_canonical();
    if !trusted.contains(&peer_ip) {
        return peer_ip;
    }
    let Some(xff) = xff else { return peer_ip };
    for part in xff.rsplit(',') {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip.to_canonical()) => continue,
            Ok(ip) => return ip.to_canonical(),
            Err(_) => return peer_ip,
        }
    }
    peer_ip
}

/// Who a limit counts against: an IPv4 address, or an IPv6 /64 (one subscriber's prefix: a
/// host picks any of its 2^64 addresses at will, so a per-address limit would mean nothing).
/// An IPv4-mapped IPv6 address is its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SourceKey {
    V4(Ipv4Addr),
    /// The upper 64 bits of the address.
    V6Prefix(u64),
}

impl SourceKey {
    pub fn of(ip: IpAddr) -> SourceKey {
        match ip.to_canonical() {
            IpAddr::V4(v4) => SourceKey::V4(v4),
            IpAddr::V6(v6) => SourceKey::V6Prefix((u128::from(v6) >> 64) as u64),
        }
    }
}

impl std::fmt::Display for SourceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceKey::V4(a) => write!(f, "{a}"),
            SourceKey::V6Prefix(p) => write!(f, "{}/64", Ipv6Addr::from(u128::from(*p) << 64)),
        }
    }
}

/// Unspecified addresses used as "any" in configuration.
pub fn is_unspecified(ip: IpAddr) -> bool {
    ip == IpAddr::V4(Ipv4Addr::UNSPECIFIED) || ip == IpAddr::V6(Ipv6Addr::UNSPECIFIED)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_public() {
        for p in [
            "10.1.2.3",
            "192.168.1.5",
            "172.16.0.1",
            "127.0.0.1",
            "169.254.1.1",
            "fd00::1",
            "fe80::1",
            "::1",
            "::ffff:192.168.1.2",
        ] {
            assert_eq!(classify(ip(p), &[]), NetGroup::Home, "{p}");
        }
        assert_eq!(
            classify(ip("8.8.8.8"), &[]),
            NetGroup::Public(ip("8.8.8.8"))
        );
        assert_eq!(
            classify(ip("2001:db8:1:2:3::4"), &[]),
            NetGroup::Public(ip("2001:db8:1:2::"))
        );
        assert_eq!(
            classify(ip("100.64.0.1"), &[]),
            NetGroup::Public(ip("100.64.0.1"))
        );
    }

    #[test]
    fn on_link_global_ipv6_is_home() {
        let net = Subnet {
            addr: ip("2001:db8:1:2::10"),
            prefix: 64,
        };
        assert_eq!(classify(ip("2001:db8:1:2::99"), &[net]), NetGroup::Home);
        assert_ne!(classify(ip("2001:db8:1:3::99"), &[net]), NetGroup::Home);
        let v4 = Subnet {
            addr: ip("203.0.113.7"),
            prefix: 24,
        };
        assert_eq!(classify(ip("203.0.113.200"), &[v4]), NetGroup::Home);
        assert_ne!(classify(ip("203.0.114.1"), &[v4]), NetGroup::Home);
    }

    #[test]
    fn lan_interfaces_leave_out_loopback_and_virtual_ones_unless_named() {
        assert!(is_lan_interface("eth0", false, &[]));
        assert!(is_lan_interface("wlan0", false, &[]));
        assert!(is_lan_interface("br0", false, &[]));
        for virt in ["docker0", "veth12ab", "br-5f3a", "virbr0"] {
            assert!(!is_lan_interface(virt, false, &[]), "{virt}");
        }
        assert!(!is_lan_interface("lo", true, &[]));
        let named = vec!["veth1".to_string(), "lo".to_string()];
        assert!(is_lan_interface("veth1", false, &named));
        assert!(is_lan_interface("lo", true, &named));
        assert!(!is_lan_interface("eth0", false, &named));
    }

    #[test]
    fn urls_leave_out_port_80() {
        assert_eq!(url_for_host("kitchen.local", 80), "http://kitchen.local/");
        assert_eq!(url_for_host("10.0.0.7", 8080), "http://10.0.0.7:8080/");
    }

    #[test]
    fn source_keys_are_the_v4_address_or_the_v6_slash_64() {
        let k = |s| SourceKey::of(ip(s));
        assert_eq!(k("203.0.113.7"), k("::ffff:203.0.113.7"));
        assert_ne!(k("203.0.113.7"), k("203.0.113.8"));
        assert_eq!(k("2001:db8:78::1"), k("2001:db8:78:0:ffff:1:2:3"));
        assert_ne!(k("2001:db8:78::1"), k("2001:db8:78:1::1"));
        assert_eq!(k("2001:db8:78::1").to_string(), "2001:db8:78::/64");
        assert_eq!(k("203.0.113.7").to_string(), "203.0.113.7");
    }

    #[test]
    fn forwarded_for_only_from_trusted() {
        let proxy: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let direct: SocketAddr = "8.8.4.4:5000".parse().unwrap();
        let trusted = [ip("10.0.0.1")];
        assert_eq!(client_ip(direct, Some("1.2.3.4"), &trusted), ip("8.8.4.4"));
        assert_eq!(client_ip(proxy, Some("1.2.3.4"), &[]), ip("10.0.0.1"));
        assert_eq!(
            client_ip(proxy, Some("6.6.6.6, 1.2.3.4"), &trusted),
            ip("1.2.3.4")
        );
        assert_eq!(client_ip(proxy, Some("garbage"), &trusted), ip("10.0.0.1"));
    }
}
