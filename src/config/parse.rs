//! Parsing and validation of single values, shared by flags, environment and the file.

use std::net::{IpAddr, SocketAddr};

use super::{ConfigError, MIN_TURN_SECRET};

/// The environment variable of a flag: `room-capacity` → `HOMEDROP_ROOM_CAPACITY`.
pub(super) fn env_name(flag: &str) -> String {
    format!("HOMEDROP_{}", flag.to_ascii_uppercase().replace('-', "_"))
}

pub(super) fn flag_err(flag: &'static str, value: &str, reason: String) -> ConfigError {
    ConfigError::Flag {
        flag,
        value: value.to_string(),
        reason,
    }
}

pub(super) fn parse_ips(list: &[String]) -> Result<Vec<IpAddr>, (String, String)> {
    list.iter()
        .map(|p| {
            p.trim()
                .parse::<IpAddr>()
                .map_err(|e| (p.clone(), e.to_string()))
        })
        .collect()
}

pub(super) fn parse_addr(v: &str) -> Result<SocketAddr, String> {
    v.trim()
        .parse::<SocketAddr>()
        .map_err(|_| "expected IP:PORT, for example 0.0.0.0:8080 or [::]:8080".to_string())
}

pub(super) fn parse_num(v: &str, min: u64, max: u64) -> Result<u64, String> {
    let n = v
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("expected a whole number from {min} to {max}"))?;
    check_range(n, min, max)
}

pub(super) fn check_range(n: u64, min: u64, max: u64) -> Result<u64, String> {
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be from {min} to {max}"))
    }
}

pub(super) fn validate_secret(v: &str) -> Result<(), String> {
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

pub(super) fn parse_relay_ip(v: &str) -> Result<IpAddr, String> {
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

pub(super) fn validate_log(v: &str) -> Result<(), String> {
    if v.len() > 256 {
        return Err("longer than 256 characters".into());
    }
    tracing_subscriber::EnvFilter::try_new(v)
        .map(|_| ())
        .map_err(|e| format!("not a log level or filter ({e})"))
}
