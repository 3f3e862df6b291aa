//! Same origin only: which `Host` names homedrop, and whether an `Origin` is the page's own.
//!
//! DNS rebinding points a foreign name (`evil.example`) at homedrop's address, so that a page
//! of that site can read homedrop's answers as its own origin; every request naming a Host
//! homedrop does not know is refused ([`HttpError::MisdirectedHost`], 421; 403 on `/ws`).
//! Homedrop's own names: `<name>.local` (and the `<name>-N.local` mDNS picks after a name
//! conflict), the addresses of its interfaces (from the [`crate::net::SubnetCache`], read
//! every few seconds, not per request, and the address the connection itself reached), loopback (`localhost`, `127.0.0.1`, `[::1]`), `--public-host`
//! and every `--allowed-host`. `X-Forwarded-Host` is never read, from a trusted proxy neither:
//! a reverse proxy passes the `Host` on (nginx `proxy_set_header Host $host`), and its
//! public name goes in `--public-host` or `--allowed-host`.
//!
//! Cross-site WebSocket hijacking: a page on any site may open `ws://homedrop.local/ws`; the
//! browser then sends that page's `Origin`. `/ws` and `POST /probe` accept an `Origin` only
//! when it is `scheme://Host` of the request itself (scheme `https` on the TLS listener, `http`
//! on the plain one; either through a trusted proxy, which may terminate TLS). A request
//! without `Origin` is not a browser page (browsers always send it on WebSocket upgrades and
//! cross-site POSTs): command-line clients may connect, still under the Host check.
//! `Origin: null` (sandboxed frames, `file:` pages) is refused.

use std::net::IpAddr;

use super::error::HttpError;
use crate::config::Config;
use crate::net::Subnet;

/// Longest Host header looked at (a DNS name is at most 253 characters, then a port).
const MAX_HOST_HEADER: usize = 300;

/// A Host (or an Origin's host part), lower case, without brackets and trailing dot, and
/// its port if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host: String,
    pub port: Option<u16>,
}

/// Split `name`, `name:port`, `1.2.3.4:port`, `[v6]` or `[v6]:port`. `None` when malformed.
pub fn split_host(header: &str) -> Option<HostPort> {
    let h = header.trim();
    if h.is_empty() || h.len() > MAX_HOST_HEADER {
        return None;
    }
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        v6.parse::<std::net::Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (v6, port)
    } else {
        match h.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (h, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => Some(p.parse::<u16>().ok()?),
    };
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let ok = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_');
    if host.is_empty() || !host.bytes().all(ok) {
        return None;
    }
    Some(HostPort { host, port })
}

/// Whether `host` (from [`split_host`]) is one of homedrop's own names (see the module doc).
/// `local`: the address this connection reached, ours by definition (an address that came up
/// since the cache was last read is accepted at once).
pub fn is_own_host(host: &str, config: &Config, subnets: &[Subnet], local: Option<IpAddr>) -> bool {
    if let Ok(ip) = host.parse::<IpAddr>() {
        let ip = ip.to_canonical();
        return ip.is_loopback()
            || local.is_some_and(|l| l.to_canonical() == ip)
            || subnets.iter().any(|s| s.addr == ip)
            || named(&ip.to_string(), config);
    }
    if host == "localhost" || named(host, config) {
        return true;
    }
    // <name>.local, or <name>-2.local after an mDNS conflict.
    let Some(label) = host.strip_suffix(".local") else {
        return false;
    };
    let name = config.name.to_ascii_lowercase();
    label == name
        || label.strip_prefix(name.as_str()).is_some_and(|n| {
            n.strip_prefix('-')
                .is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        })
}

fn named(host: &str, config: &Config) -> bool {
    config.public_host.as_deref() == Some(host) || config.allowed_hosts.iter().any(|h| h == host)
}

/// The request's Host, checked: `Ok(None)` without one on HTTP/1.0 (no name to rebind),
/// 400 without one on HTTP/1.1, 421 for a name that is not ours.
pub fn check_host(
    header: Option<&str>,
    http10: bool,
    config: &Config,
    subnets: &[Subnet],
    local: Option<IpAddr>,
) -> Result<Option<HostPort>, HttpError> {
    let Some(header) = header else {
        return if http10 {
            Ok(None)
        } else {
            Err(HttpError::BadRequest("A Host header is required."))
        };
    };
    match split_host(header) {
        Some(hp) if is_own_host(&hp.host, config, subnets, local) => Ok(Some(hp)),
        _ => Err(HttpError::MisdirectedHost),
    }
}

/// Whether `origin` is the origin of a page served by this request's `host`: the same host
/// and port (default ports filled in), with the scheme of this listener (`tls`), or either
/// scheme when a trusted proxy forwarded the request (`proxied`).
pub fn same_origin(origin: &str, host: &HostPort, tls: bool, proxied: bool) -> bool {
    let Some((scheme, rest)) = origin.trim().split_once("://") else {
        return false;
    };
    let scheme = scheme.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "http" => 80,
        "https" => 443,
        _ => return false,
    };
    if !proxied && (scheme == "https") != tls {
        return false;
    }
    let Some(o) = split_host(rest) else {
        return false;
    };
    let host_default = if proxied {
        default
    } else if tls {
        443
    } else {
        80
    };
    o.host == host.host && o.port.unwrap_or(default) == host.port.unwrap_or(host_default)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let mut c = Config::for_tests(std::path::Path::new("/nonexistent"));
        c.name = "kitchen".into();
        c.public_host = Some("home.example.org".into());
        c.allowed_hosts = vec!["proxy.example".into()];
        c
    }

    fn own(h: &str) -> bool {
        let subnets = [Subnet {
            addr: "192.168.1.2".parse().unwrap(),
            prefix: 24,
        }];
        let hp = split_host(h).unwrap_or_else(|| panic!("{h}"));
        is_own_host(&hp.host, &config(), &subnets, None)
    }

    #[test]
    fn own_names_and_addresses_only() {
        for h in [
            "kitchen.local",
            "Kitchen.local.:8080",
            "kitchen-2.local",
            "192.168.1.2:8080",
            "127.0.0.1",
            "127.0.0.1:9",
            "localhost:8080",
            "[::1]:8080",
            "[::1]",
            "home.example.org",
            "proxy.example:443",
        ] {
            assert!(own(h), "{h}");
        }
        for h in [
            "evil.example",
            "kitchen.local.evil.example",
            "other.local",
            "kitchen-x.local",
            "192.168.1.3",
            "10.0.0.1:8080",
            "[2001:db8::1]",
        ] {
            assert!(!own(h), "{h}");
        }
        for bad in ["", "a b", "x:99999", "[::1", "[zz]", "x:y", "a/b"] {
            assert!(split_host(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn missing_host_is_400_on_http11_and_unknown_421() {
        let c = config();
        assert!(matches!(
            check_host(None, false, &c, &[], None),
            Err(HttpError::BadRequest(_))
        ));
        assert_eq!(check_host(None, true, &c, &[], None).unwrap(), None);
        assert!(matches!(
            check_host(Some("evil.example"), false, &c, &[], None),
            Err(HttpError::MisdirectedHost)
        ));
        // The address the connection reached is ours even before the cache knows it.
        let local = Some("10.9.0.50".parse().unwrap());
        assert!(check_host(Some("10.9.0.50:8080"), false, &c, &[], local).is_ok());
        assert!(check_host(Some("10.9.0.51:8080"), false, &c, &[], local).is_err());
    }

    #[test]
    fn origin_must_be_the_request_host_and_scheme() {
        let h = split_host("127.0.0.1:8080").unwrap();
        assert!(same_origin("http://127.0.0.1:8080", &h, false, false));
        assert!(!same_origin("https://127.0.0.1:8080", &h, false, false));
        assert!(!same_origin("http://evil.example", &h, false, false));
        assert!(!same_origin("http://127.0.0.1:8081", &h, false, false));
        assert!(!same_origin("null", &h, false, false));
        let h = split_host("kitchen.local").unwrap();
        assert!(same_origin("http://kitchen.local", &h, false, false));
        assert!(same_origin("http://kitchen.local:80", &h, false, false));
        assert!(!same_origin("http://kitchen.local", &h, true, false));
        assert!(same_origin("https://kitchen.local", &h, true, false));
        // Through a TLS-terminating proxy.
        assert!(same_origin("https://kitchen.local", &h, false, true));
    }
}
