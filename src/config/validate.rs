//! Validators of single values, shared by flags, environment and the file, and by the
//! modules that check the same kind of value at run time (`mdns` names, `signaling::ice`
//! hosts). They live here because config is the lowest floor that needs them: config
//! imports nothing above it, and those modules import these from here.
//!
//! Each returns the reason a value is refused, written to follow "invalid value X for
//! --flag: " (or "... for key `k`: ").

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use super::MIN_TURN_SECRET;

/// Longest accepted `--public-host` / `Host` name (DNS limit).
pub const MAX_HOST_CHARS: usize = 253;

/// Most interfaces `--mdns-interface` may name.
pub const MAX_MDNS_INTERFACES: usize = 32;

pub fn parse_addr(v: &str) -> Result<SocketAddr, String> {
    v.trim()
        .parse::<SocketAddr>()
        .map_err(|_| "expected IP:PORT, for example 0.0.0.0:8080 or [::]:8080".to_string())
}

/// A whole number given as text (a flag or its variable).
pub fn parse_num(v: &str, min: u64, max: u64) -> Result<u64, String> {
    let n = v
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("expected a whole number from {min} to {max}"))?;
    check_range(n, min, max)
}

/// A whole number (the file's are TOML integers, checked as they are).
pub fn check_range(n: u64, min: u64, max: u64) -> Result<u64, String> {
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be from {min} to {max}"))
    }
}

/// IP addresses (`--trusted-proxy`); the refused one is reported as given.
pub fn parse_ips(list: &[String]) -> Result<Vec<IpAddr>, (String, String)> {
    list.iter()
        .map(|p| {
            p.trim()
                .parse::<IpAddr>()
                .map_err(|e| (p.clone(), e.to_string()))
        })
        .collect()
}

/// Interface names (`--mdns-interface`), trimmed; the refused one is reported trimmed.
pub fn parse_interfaces(list: &[String]) -> Result<Vec<String>, (String, String)> {
    list.iter()
        .map(|i| {
            let i = i.trim().to_string();
            validate_interface(&i)
                .map(|()| i.clone())
                .map_err(|r| (i, r))
        })
        .collect()
}

pub fn validate_secret(v: &str) -> Result<(), String> {
    let n = v.chars().count();
    if n < MIN_TURN_SECRET {
        return Err(format!("at least {MIN_TURN_SECRET} characters"));
    }
    if n > 256 {
        return Err("longer than 256 characters".into());
    }
    if v.trim() != v || v.chars().any(char::is_control) {
        return Err("no surrounding spaces or control characters".into());
    }
    Ok(())
}

pub fn parse_relay_ip(v: &str) -> Result<IpAddr, String> {
    let ip = v
        .trim()
        .parse::<IpAddr>()
        .map_err(|_| "expected an IPv4 address, for example 192.168.1.10".to_string())?;
    match ip {
        IpAddr::V4(v4) if !v4.is_unspecified() && !v4.is_multicast() && !v4.is_broadcast() => {
            Ok(ip)
        }
        IpAddr::V4(_) => Err("must be an address clients can reach".into()),
        IpAddr::V6(_) => Err("the relay hands out IPv4 relayed addresses only".into()),
    }
}

pub fn validate_log(v: &str) -> Result<(), String> {
    if v.len() > 256 {
        return Err("longer than 256 characters".into());
    }
    v.parse::<tracing_subscriber::filter::Targets>()
        .map(|_| ())
        .map_err(|e| format!("not a log level or filter ({e})"))
}

/// A directory or file name that is not empty (`--state-dir`).
pub fn not_empty(v: &Path) -> Result<(), String> {
    match v.as_os_str().is_empty() {
        true => Err("must not be empty".into()),
        false => Ok(()),
    }
}

/// A DNS label (RFC 1035 / 1123): 1 to 63 ASCII letters, digits and inner hyphens.
pub fn validate_name(v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > 63 {
        return Err("must be 1 to 63 characters".into());
    }
    if !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err("only letters a-z, digits and hyphens (it becomes NAME.local)".into());
    }
    if v.starts_with('-') || v.ends_with('-') {
        return Err("must not start or end with a hyphen".into());
    }
    Ok(())
}

/// A Linux interface name: 1 to 15 bytes, no spaces, `/` or `:`.
pub fn validate_interface(v: &str) -> Result<(), String> {
    if v.is_empty() || v.len() > 15 {
        return Err("an interface name is 1 to 15 characters".into());
    }
    if v.chars()
        .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == ':')
    {
        return Err("not an interface name".into());
    }
    Ok(())
}

/// `--allowed-host`: each a DNS name or an address, as [`parse_host`] reads it.
pub fn parse_hosts(list: &[String]) -> Result<Vec<String>, (String, String)> {
    list.iter()
        .map(|h| parse_host(h).map_err(|r| (h.clone(), r)))
        .collect()
}

/// A valid host: an IP address (IPv6 with or without brackets) or a DNS name of letters,
/// digits, `-` and `.`, at most 253 characters. Returns it normalised (lowercase, no
/// brackets, no trailing dot).
pub fn parse_host(v: &str) -> Result<String, String> {
    let v = v.trim();
    let bare = v
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(v);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        if ip.is_unspecified() || ip.is_multicast() {
            return Err("must be an address clients can reach".into());
        }
        return Ok(ip.to_string());
    }
    let name = v.strip_suffix('.').unwrap_or(v).to_ascii_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if name.is_empty() || name.len() > MAX_HOST_CHARS || !name.split('.').all(label_ok) {
        return Err("expected a DNS name or an IP address, for example home.example.org".into());
    }
    Ok(name)
}

/// An `https://` URL with a host (`--acme-directory`).
pub fn parse_https_url(v: &str) -> Result<String, String> {
    let v = v.trim();
    let uri: http::Uri = v.parse().map_err(|e| format!("not a URL ({e})"))?;
    if uri.scheme_str() != Some("https") || uri.host().is_none_or(str::is_empty) {
        return Err("must be an https:// URL".into());
    }
    if v.len() > 2048 {
        return Err("longer than 2048 characters".into());
    }
    Ok(v.to_string())
}

/// An e-mail address for ACME's `mailto:` contact (`--acme-contact`): one `@` between a
/// local part and a domain, no spaces, commas or URL characters, at most 254 characters.
pub fn parse_email(v: &str) -> Result<String, String> {
    let v = v.trim().trim_start_matches("mailto:");
    let ok_char = |c: char| c.is_ascii_graphic() && !",;<>?#%/\\\"\'()[]".contains(c);
    match v.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && v.len() <= 254
                && v.chars().all(ok_char) =>
        {
            Ok(v.to_string())
        }
        _ => Err("must be an e-mail address like name@example.org".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_filters_are_levels_and_target_pairs() {
        for ok in [
            "info",
            "DEBUG",
            "off",
            "warn,homedrop::relay=debug",
            "homedrop=trace",
        ] {
            assert!(validate_log(ok).is_ok(), "{ok}");
        }
        // A bare word is a target (all its levels), as with EnvFilter: "loud" is valid.
        for bad in ["homedrop=loud", "a=b=c", &"a".repeat(257)] {
            assert!(validate_log(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_dns_labels() {
        for ok in ["homedrop", "Kitchen-2", "a", &"x".repeat(63)] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "-a", "a-", "a.b", "a b", "café", &"x".repeat(64)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert!(validate_interface("eth0").is_ok());
        for bad in ["", "a/b", "a b", "sixteen-chars-xx"] {
            assert!(validate_interface(bad).is_err(), "{bad}");
        }
    }
}
