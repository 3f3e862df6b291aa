//! ICE servers handed to each browser: homedrop's own STUN/TURN relay, nothing external.
//!
//! Why per client: a browser must reach the relay by the address it used to reach homedrop
//! (the LAN address at home, `--public-host` from outside), so the URL host comes from the
//! page's `Host` header when that names homedrop itself, else from `--public-host`.
//! Why `turns:` first from outside (`--remote`): a relative's network may block UDP and every
//! port but 443 (hotels, offices, mobile carriers), and the household forwards only the TLS
//! port and UDP 3478, so a client outside the home group gets TURN over TLS on the TLS port
//! first and TURN over UDP second, and no `turn:` over TCP 3478 (not forwarded). The
//! certificate must name that host: Chromium verifies the TURN server's certificate. Home
//! clients keep their LAN URLs (UDP and TCP 3478).
//! Why only once linked: TURN credentials let a client use the relay, so a stranger who shares
//! no home group, room or pairing with anyone gets STUN only (see [`Hub`](super::Hub)).

use std::net::IpAddr;
use std::time::Duration;

use super::protocol::IceServer;
use crate::config::validate::{parse_host, MAX_HOST_CHARS};
use crate::net::Subnet;
use crate::relay::issue_credentials;

/// What the hub needs to build ICE servers; set once the relay is listening.
#[derive(Clone)]
pub struct IceSettings {
    /// TURN REST secret shared with the relay.
    pub secret: Vec<u8>,
    pub udp_port: u16,
    pub tcp_port: u16,
    /// The TLS port, for `turns:` URLs to internet clients (`--remote`); `None`: LAN URLs
    /// for everyone.
    pub turns_port: Option<u16>,
    /// With `turns_port`: also offer internet clients `turn:` over UDP (false when UDP 3478
    /// is known not to be reachable from outside).
    pub remote_udp: bool,
    /// Host for clients that reached homedrop by a name that is not its own (`--public-host`).
    pub public_host: Option<String>,
    /// Host when neither the page's host nor `--public-host` fits: the relay's LAN address.
    pub fallback_host: String,
    /// Credential lifetime (at most 12 h); re-sent after half of it.
    pub ttl: Duration,
}

impl std::fmt::Debug for IceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IceSettings")
            .field("udp_port", &self.udp_port)
            .field("tcp_port", &self.tcp_port)
            .field("turns_port", &self.turns_port)
            .field("public_host", &self.public_host)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl IceSettings {
    /// The host a client should use for the relay: the page's own host when it is one of
    /// homedrop's (`own`), else `--public-host`, else the LAN address.
    pub fn host_for(&self, own: Option<&str>) -> String {
        own.map(str::to_string)
            .or_else(|| self.public_host.clone())
            .unwrap_or_else(|| self.fallback_host.clone())
    }

    /// STUN only: what every client gets in `welcome`.
    pub fn stun(&self, host: &str) -> Vec<IceServer> {
        vec![IceServer {
            urls: vec![format!("stun:{}:{}", url_host(host), self.udp_port)],
            username: None,
            credential: None,
        }]
    }

    /// STUN plus TURN with fresh credentials for `user`, valid `ttl` from `now_unix`, for a
    /// client whose page host is `own` (one of homedrop's, or `None`) and which is outside
    /// the home group (`internet`). Home: TURN over UDP and TCP. Internet with
    /// `turns_port`: TURN over TLS, then UDP.
    pub fn with_turn(
        &self,
        own: Option<&str>,
        internet: bool,
        user: &str,
        now_unix: u64,
    ) -> Vec<IceServer> {
        let host = self.host_for(own);
        let (username, credential) = issue_credentials(&self.secret, user, now_unix, self.ttl);
        let h = url_host(&host);
        let udp = format!("turn:{h}:{}?transport=udp", self.udp_port);
        let urls = match (internet, self.turns_port) {
            (true, Some(tls)) => {
                let turns = format!("turns:{h}:{tls}?transport=tcp");
                match self.remote_udp {
                    true => vec![turns, udp],
                    false => vec![turns],
                }
            }
            _ => vec![udp, format!("turn:{h}:{}?transport=tcp", self.tcp_port)],
        };
        let mut out = self.stun(&host);
        out.push(IceServer {
            urls,
            username: Some(username),
            credential: Some(credential),
        });
        out
    }
}

/// IPv6 literals go in brackets inside a URL.
fn url_host(host: &str) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        _ => host.to_string(),
    }
}

/// The host part of a `Host` header when it names homedrop itself: one of its interface
/// addresses, a loopback address, or an mDNS `.local` name. `None` otherwise (the client came
/// through a name or address homedrop cannot vouch for: use `--public-host`).
pub fn own_host(header: Option<&str>, subnets: &[Subnet]) -> Option<String> {
    let header = header?.trim();
    if header.len() > MAX_HOST_CHARS + 8 {
        return None;
    }
    let host = match header.rsplit_once(':') {
        // "[v6]:port", "v4:port", "name:port"; a bare IPv6 literal has more colons.
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':') => h,
        _ => header,
    };
    let host = parse_host(host).ok()?;
    match host.parse::<IpAddr>() {
        Ok(ip) => (ip.is_loopback() || subnets.iter().any(|s| s.addr == ip)).then_some(host),
        Err(_) => host.ends_with(".local").then_some(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> IceSettings {
        IceSettings {
            secret: b"0123456789abcdef".to_vec(),
            udp_port: 3478,
            tcp_port: 3479,
            turns_port: None,
            remote_udp: true,
            public_host: Some("home.example.org".into()),
            fallback_host: "192.168.1.2".into(),
            ttl: Duration::from_secs(3600),
        }
    }

    #[test]
    fn hosts_are_validated() {
        assert_eq!(parse_host("Home.Example.org.").unwrap(), "home.example.org");
        assert_eq!(parse_host("[2001:db8::1]").unwrap(), "2001:db8::1");
        assert_eq!(parse_host("203.0.113.5").unwrap(), "203.0.113.5");
        for bad in [
            "",
            "a b",
            "-x.org",
            "x..org",
            "0.0.0.0",
            "evil.org/x",
            "a:b:c",
        ] {
            assert!(parse_host(bad).is_err(), "{bad}");
        }
        assert!(parse_host(&"a".repeat(254)).is_err());
    }

    #[test]
    fn own_host_only_for_our_addresses_and_mdns() {
        let subnets = [Subnet {
            addr: "192.168.1.2".parse().unwrap(),
            prefix: 24,
        }];
        assert_eq!(
            own_host(Some("192.168.1.2:8080"), &subnets).as_deref(),
            Some("192.168.1.2")
        );
        assert_eq!(
            own_host(Some("homedrop.local"), &subnets).as_deref(),
            Some("homedrop.local")
        );
        assert_eq!(own_host(Some("[::1]:80"), &subnets).as_deref(), Some("::1"));
        assert_eq!(own_host(Some("192.168.1.3:8080"), &subnets), None);
        assert_eq!(own_host(Some("evil.example:80"), &subnets), None);
        assert_eq!(own_host(None, &subnets), None);
    }

    #[test]
    fn urls_and_credentials() {
        let s = settings();
        assert_eq!(s.host_for(None), "home.example.org");
        assert_eq!(s.host_for(Some("10.0.0.1")), "10.0.0.1");
        let v = s.with_turn(Some("2001:db8::1"), false, "peer", 1000);
        assert_eq!(v[0].urls, ["stun:[2001:db8::1]:3478"]);
        assert_eq!(
            v[1].urls,
            [
                "turn:[2001:db8::1]:3478?transport=udp",
                "turn:[2001:db8::1]:3479?transport=tcp"
            ]
        );
        let user = v[1].username.clone().unwrap();
        assert_eq!(user, "4600:peer");
        assert_eq!(
            v[1].credential.as_deref(),
            Some(crate::relay::auth::rest_password(&s.secret, &user).as_str())
        );
        let none = IceSettings {
            public_host: None,
            ..s.clone()
        };
        assert_eq!(none.host_for(None), "192.168.1.2");
        // From the internet without --remote: the same URLs on the public host.
        let v = s.with_turn(None, true, "peer", 1000);
        assert_eq!(v[1].urls[0], "turn:home.example.org:3478?transport=udp");
    }

    #[test]
    fn internet_clients_get_turns_first_with_remote_and_home_clients_keep_lan_urls() {
        let mut s = IceSettings {
            turns_port: Some(443),
            ..settings()
        };
        let v = s.with_turn(None, true, "peer", 1000);
        assert_eq!(v[0].urls, ["stun:home.example.org:3478"]);
        assert_eq!(
            v[1].urls,
            [
                "turns:home.example.org:443?transport=tcp",
                "turn:home.example.org:3478?transport=udp"
            ]
        );
        assert!(v[1].credential.is_some());
        // A relative whose page host is one of ours (a box with the public address on an
        // interface) is still from the internet: turns: on that host.
        let direct = s.with_turn(Some("198.51.100.1"), true, "peer", 1000);
        assert_eq!(direct[1].urls[0], "turns:198.51.100.1:443?transport=tcp");
        let home = s.with_turn(Some("192.168.1.2"), false, "peer", 1000);
        assert_eq!(
            home[1].urls,
            [
                "turn:192.168.1.2:3478?transport=udp",
                "turn:192.168.1.2:3479?transport=tcp"
            ]
        );
        s.remote_udp = false;
        let v = s.with_turn(None, true, "peer", 1000);
        assert_eq!(v[1].urls, ["turns:home.example.org:443?transport=tcp"]);
    }
}
