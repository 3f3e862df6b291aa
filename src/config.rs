//! Command line, environment and config file, turned once into a validated [`Config`].
//!
//! Every flag is also an environment variable `HOMEDROP_*`, and every flag can be set in a
//! TOML file named by `--config` (key = the long flag, with `-` or `_`). Precedence: flags >
//! environment > file > built-in defaults. Anything invalid is reported as one line naming
//! the flag (or the key and the file) and the process exits with status 2.
//!
//! ## One table
//! Every setting is one entry of the `settings!` table below; the macro (`config/table.rs`)
//! turns the table into the clap flags and variables, the file's keys, the [`Config`] fields
//! and their defaults, and the `--print-config` lines, so they cannot drift apart. An entry:
//!
//! ```text
//! /// --help text, one line, with its [default: ...]
//! "key" field: Kind [validator], "VALUE" => FieldType = default;
//! ```
//!
//! - `"key"`: the long flag, the file key (`-` or `_`), and `HOMEDROP_KEY` (spelled by the
//!   macro);
//! - `Kind` ([`kinds`]): `Text<T>` (checked by `fn(&str) -> Result<T, String>`), `Secret`,
//!   `Num<FileInt, T>` (the check is `(min, max)`), `Switch` (`--no-x[=BOOL]`, no check),
//!   `List<T>` (repeatable or comma separated), `Path`;
//! - `=> FieldType = default`: the [`Config`] field; the validated value goes in with `into()`
//!   (`SocketAddr` into `Option<SocketAddr>`). An entry without it (the `no-*` switches, the
//!   TLS pair) only changes other fields: `Config::finish` holds those rules, and
//!   `, print |c| ...` says what `--print-config` shows for it (any entry may give `print`).
//!
//! Adding a setting is one entry. For example a cap on rooms:
//!
//! ```text
//! /// Most rooms at once, 1 to 1000 [default: 100]
//! "max-rooms" max_rooms: Num<u32, usize> [(1, 1000)], "N" => usize = 100;
//! ```
//!
//! gives `--max-rooms N`, `HOMEDROP_MAX_ROOMS`, `max-rooms = 50` in the file (a number; `"50"`
//! is a type error), `config.max_rooms: usize` defaulting to 100, its `--help` line and
//! `max-rooms = 100` in `--print-config`. Then explain it in `systemd/homedrop.toml`, naming
//! `` `--max-rooms` ``: the config tests fail until the example documents every flag.
//!
//! Config imports nothing above it: its validators are in [`validate`] (the mDNS name, the
//! public host), which `mdns` and `signaling::ice` import from here.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[macro_use]
mod table;
mod file;
pub mod kinds;
pub mod validate;

pub use file::config_path;
use kinds::{any_path, Kind, List, Num, Path as PathKind, Print, Secret, Switch, Text};
use validate::*;

settings! {
    /// Address and port for plain HTTP (web client and signaling) [default: 0.0.0.0:8080]
    "http" http: Text<SocketAddr> [parse_addr], "ADDR" => SocketAddr = addr([0, 0, 0, 0], 8080);
    /// Directory for persistent state (secrets, certificates) [default: $STATE_DIRECTORY, else ./homedrop-state]
    "state-dir" state_dir: PathKind [not_empty], "DIR" => PathBuf = "homedrop-state".into();
    /// Do not advertise homedrop on the LAN with mDNS (`--no-mdns=false` undoes a file's `no-mdns = true`)
    "no-mdns" no_mdns: Switch, "BOOL", print |c| !c.mdns;
    /// Name on the LAN, advertised as NAME.local with mDNS: letters, digits and hyphens, at most 63 [default: homedrop]
    "name" name: Text<String> [|v| validate_name(v).map(|()| v.into())], "NAME" => String = "homedrop".into();
    /// Advertise with mDNS only on these interfaces (repeatable, or comma separated) [default: every interface except loopback, docker*, veth*, br-*, virbr*]
    "mdns-interface" mdns_interfaces: List<String> [parse_interfaces], "IFACE" => Vec<String> = Vec::new();
    /// Log level or filter: error, warn, info, debug, trace, off, or target=level pairs, e.g. info,homedrop::relay=debug [default: info]
    "log" log: Text<String> [|v| validate_log(v).map(|()| v.into())], "LEVEL" => String = "info".into();
    /// Reverse proxy whose X-Forwarded-For is trusted (repeatable, or comma separated). Never trusted by default
    "trusted-proxy" trusted_proxies: List<IpAddr> [parse_ips], "IP" => Vec<IpAddr> = Vec::new();
    /// Default room capacity, 2 to 50 [default: 10]
    "room-capacity" room_capacity: Num<u32, u32> [(2, 50)], "N" => u32 = 10;
    /// Let every device create rooms, not only devices at home and devices paired from home (a hosted deployment); creation stays limited per source [default: off]
    "open-rooms" open_rooms: Switch, "BOOL" => bool = false;
    /// Most simultaneous HTTP/WebSocket connections, 1 to 100000 [default: 1024]
    "max-connections" max_connections: Num<u32, usize> [(1, 100_000)], "N" => usize = 1024;
    /// Address and port of the STUN/TURN relay, UDP and TCP [default: 0.0.0.0:3478]
    "turn" turn: Text<SocketAddr> [parse_addr], "ADDR" => Option<SocketAddr> = Some(addr([0, 0, 0, 0], 3478));
    /// Do not run the STUN/TURN relay (`--no-turn=false` undoes a file's `no-turn = true`)
    "no-turn" no_turn: Switch, "BOOL", print |c| c.turn.is_none();
    /// Shared secret for TURN credentials, at least 16 characters [default: generated once, kept in <state-dir>/turn-secret]
    "turn-secret" turn_secret: Secret [validate_secret], "SECRET" => Option<String> = None, print |_| None::<String>;
    /// IPv4 address the relay advertises in relayed addresses [default: first private IPv4 of a non-loopback interface, else 127.0.0.1]
    "relay-ip" relay_ip: Text<IpAddr> [parse_relay_ip], "IP" => IpAddr = IpAddr::from([127, 0, 0, 1]);
    /// Address and UDP port of the connection check (webrtc-unreliable echo) [default: 0.0.0.0:3479]
    "probe" probe: Text<SocketAddr> [parse_addr], "ADDR" => Option<SocketAddr> = Some(addr([0, 0, 0, 0], 3479));
    /// Do not run the connection check (`--no-probe=false` undoes a file's `no-probe = true`)
    "no-probe" no_probe: Switch, "BOOL", print |c| c.probe.is_none();
    /// Also serve the page and signaling over HTTPS on this address, e.g. 0.0.0.0:8443; it is also the TLS port of --remote (TURN over TLS, ACME) [default: off; with --remote 0.0.0.0:443 under systemd, else 0.0.0.0:8443]
    "https" https: Text<SocketAddr> [parse_addr], "ADDR" => Option<SocketAddr> = None;
    /// Remote access: serve page, WebSocket, TURN over TLS and ACME challenges on one TLS port (--https), and give internet clients turns: URLs for it [default: off]
    "remote" remote: Switch, "BOOL" => bool = false;
    /// PEM certificate chain for HTTPS (with --tls-key) [default: self-signed, kept in <state-dir>]
    "tls-cert" tls_cert: PathKind [any_path], "FILE", print |c| c.tls.as_ref().map(|t| t.cert.clone());
    /// PEM private key for HTTPS (with --tls-cert)
    "tls-key" tls_key: PathKind [any_path], "FILE", print |c| c.tls.as_ref().map(|t| t.key.clone());
    /// DNS name or address remote clients use to reach this homedrop (its TURN port) from the internet
    "public-host" public_host: Text<String> [parse_host], "HOST" => Option<String> = None;
    /// ACME directory that issues the HTTPS certificate for --public-host (TLS-ALPN-01 on the --https port; active with --https and --public-host, without --tls-cert) [default: Let's Encrypt]
    "acme-directory" acme_directory: Text<String> [parse_https_url], "URL" => String = LETS_ENCRYPT_DIRECTORY.into();
    /// E-mail address the ACME CA may write to about the certificate [default: none]
    "acme-contact" acme_contact: Text<String> [parse_email], "EMAIL" => Option<String> = None;
    /// Extra PEM root certificate trusted for the ACME directory only (a private or test CA)
    "acme-ca" acme_ca: PathKind [any_path], "FILE" => Option<PathBuf> = None;
    /// Do not get a certificate by ACME; HTTPS keeps the self-signed one (`--no-acme=false` undoes a file's `no-acme = true`)
    "no-acme" no_acme: Switch, "BOOL", print |c| !c.acme;
    /// More names (or addresses) this homedrop answers to besides its own: NAME.local, its interface addresses, localhost and --public-host; requests naming any other Host are refused (repeatable, or comma separated)
    "allowed-host" allowed_hosts: List<String> [parse_hosts], "HOST" => Vec<String> = Vec::new();
    /// Most TURN allocations per username (one device), 1 to 16000 [default: 20]
    "turn-user-quota" turn_user_quota: Num<u32, usize> [(1, MAX_TURN_QUOTA)], "N" => usize = 20;
    /// Most TURN allocations in total, 1 to 16000 [default: 200]
    "turn-total-quota" turn_total_quota: Num<u32, usize> [(1, MAX_TURN_QUOTA)], "N" => usize = 200;
    /// Most simultaneous TURN/TCP connections from one client source (an IPv4 address or an IPv6 /64), 1 to 100000 [default: 16]
    "turn-tcp-source-limit" turn_tcp_source_limit: Num<u32, usize> [(1, 100_000)], "N" => usize = 16;
    /// Most TURN allocations per client source (an IPv4 address or an IPv6 /64), 0 to 16000; 0 means the larger of 20 and turn-total-quota / 8 [default: 0]
    "turn-source-quota" turn_source_quota: Num<u32, usize> [(0, MAX_TURN_QUOTA)], "N" => usize = 0;
    /// Relayed bytes per second for one TURN allocation, 0 for no cap [default: 0]
    "turn-allocation-bandwidth" turn_allocation_bandwidth: Num<u64, u64> [(0, MAX_BANDWIDTH)], "BYTES" => u64 = 0;
    /// Relayed bytes per second for the whole relay, 0 for no cap [default: 0]
    "turn-total-bandwidth" turn_total_bandwidth: Num<u64, u64> [(0, MAX_BANDWIDTH)], "BYTES" => u64 = 0;
    /// Ask the home router (PCP, NAT-PMP or UPnP IGD) to forward the HTTPS port (TCP) and the TURN port (UDP) to this machine, and learn the public address from it; off with --no-upnp [default: off]
    "map-ports" map_ports: Switch, "BOOL" => bool = false;
    /// Never ask the router to forward ports, for households that forward by hand (`--no-upnp=false` undoes a file's `no-upnp = true`)
    "no-upnp" no_upnp: Switch, "BOOL", print |c| !c.upnp;
    /// Lease asked of the router for each forward, 20 to 86400 seconds, renewed at half [default: 7200]
    "map-lease" map_lease: Num<u32, u32> [(20, 86_400)], "SECS" => u32 = 7200;
    more {
        /// Advertise with mDNS (not `--no-mdns`).
        mdns: bool = true,
        /// ACME allowed (not `--no-acme`); it runs only where [`Config::acme_active`] says.
        acme: bool = true,
        /// Router mapping allowed (not `--no-upnp`); it runs when remote access is on
        /// (`--map-ports`) and this is true.
        upnp: bool = true,
        /// Given certificate chain and key (both or neither); `None`: self-signed, in the state dir.
        tls: Option<TlsFiles> = None,
        /// First ACME retry delay, doubled per failure up to 1 h (not a flag: 5 s; tests shorten it).
        acme_retry_min: Duration = Duration::from_secs(5),
        /// How long an empty room lives (not a flag: 10 minutes; tests shorten it).
        room_idle_ttl: Duration = Duration::from_secs(600),
        /// Lifetime of TURN credentials handed to browsers (not a flag: 12 h; tests shorten it).
        turn_credential_ttl: Duration = Duration::from_secs(12 * 3600),
        /// The config file that was read, if any (`--config`, else [`DEFAULT_CONFIG_FILE`] when
        /// it exists).
        config_file: Option<PathBuf> = None,
    }
}

/// A certificate chain and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Let's Encrypt's production ACME directory, the default `--acme-directory`.
pub const LETS_ENCRYPT_DIRECTORY: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// Largest TURN quota (the relay port range 49152-65535 holds 16384 ports).
pub const MAX_TURN_QUOTA: u64 = 16_000;

/// Largest relay bandwidth cap in bytes/s (100 Gbit/s: beyond it a cap means nothing).
pub const MAX_BANDWIDTH: u64 = 12_500_000_000;

/// Read when `--config` is not given, if it exists (the packaged, systemd-managed setup).
pub const DEFAULT_CONFIG_FILE: &str = "/etc/homedrop/homedrop.toml";

/// Shortest accepted TURN secret (characters).
pub const MIN_TURN_SECRET: usize = 16;
/// File in the state directory holding the generated TURN secret.
pub const TURN_SECRET_FILE: &str = "turn-secret";
/// File in the state directory holding the key that tags pairings made from home (64 hex
/// characters; see `signaling::registry`).
pub const PAIR_TAG_KEY_FILE: &str = "pair-tag-key";

/// A configuration problem, printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "invalid value {value:?} for --{flag} (or {}): {reason}",
        env_name(flag)
    )]
    Flag {
        flag: &'static str,
        value: String,
        reason: String,
    },
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
}

/// The environment variable of a flag: `room-capacity` → `HOMEDROP_ROOM_CAPACITY`.
fn env_name(flag: &str) -> String {
    format!("HOMEDROP_{}", flag.to_ascii_uppercase().replace('-', "_"))
}

fn flag_err(flag: &'static str, value: &str, reason: String) -> ConfigError {
    ConfigError::Flag {
        flag,
        value: value.to_string(),
        reason,
    }
}

fn addr(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::from((ip, port))
}

/// What `--print-config` shows for an entry that is not a field (`print |c| ...`).
fn show<P: Print>(c: &Config, print: impl FnOnce(&Config) -> P) -> Option<String> {
    print(c).toml()
}

/// The command line without the table's settings: name, version, `--config`, `--print-config`.
fn base_command() -> clap::Command {
    use clap::{Arg, ArgAction};
    let about =
        "Send files, text and photos between devices at home and beyond, with no outside service.";
    let config_help = format!(
        "TOML file with the same keys as the long flags (e.g. `http = \"0.0.0.0:80\"`) [default: {DEFAULT_CONFIG_FILE} when it exists]"
    );
    clap::Command::new("homedrop")
        .version(env!("CARGO_PKG_VERSION"))
        .about(about)
        .arg(
            Arg::new("config")
                .long("config")
                .env("HOMEDROP_CONFIG")
                .value_name("FILE")
                .action(ArgAction::Set)
                .value_parser(clap::value_parser!(PathBuf))
                .help(config_help),
        )
        .arg(
            Arg::new("print-config")
                .long("print-config")
                .action(ArgAction::SetTrue)
                .help("Print the effective configuration (as a config file) and exit"),
        )
}

impl Config {
    /// A configuration for tests: loopback, port 0, no mDNS, no TURN relay, no connection
    /// check, no HTTPS.
    pub fn for_tests(state_dir: &Path) -> Self {
        Config {
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: state_dir.to_path_buf(),
            mdns: false,
            turn: None,
            probe: None,
            ..Config::default()
        }
    }

    /// Whether homedrop gets its TLS certificate by ACME: `--remote` on (so the TLS port is
    /// too), no certificate of the user's (`--tls-cert` wins), and not `--no-acme`. The
    /// name to certify is `--public-host`, else the public address the router reports.
    pub fn acme_active(&self) -> bool {
        self.acme && self.remote && self.https.is_some() && self.tls.is_none()
    }

    /// Merge flags/env over the file over the defaults, validating every value.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        Self::from_args_with_default(args, Path::new(DEFAULT_CONFIG_FILE))
    }

    /// [`Config::from_args`] with the file read when `--config` is not given (tests).
    pub fn from_args_with_default(args: Args, default: &Path) -> Result<Config, ConfigError> {
        let path = file::config_path(args.config.clone(), default);
        let file = match &path {
            Some(path) => file::load(path)?,
            None => FileConfig::default(),
        };
        let src = Sources {
            file_name: path.as_ref().map(|p| p.display().to_string()),
        };
        let layer = Layer::merge(args, file, &src)?;
        let mut c = Config {
            config_file: path,
            ..Config::default()
        };
        c.apply(&layer);
        c.finish(&layer)?;
        Ok(c)
    }

    /// The rules that join settings: `--no-x` over `x`, the TLS pair, the interface limit,
    /// and the defaults found at start (systemd's state directory, the relay's LAN address).
    fn finish(&mut self, l: &Layer) -> Result<(), ConfigError> {
        self.mdns = !l.no_mdns.unwrap_or(false);
        self.acme = !l.no_acme.unwrap_or(false);
        self.upnp = !l.no_upnp.unwrap_or(false);
        if l.no_turn == Some(true) {
            self.turn = None;
        }
        if l.no_probe == Some(true) {
            self.probe = None;
        }
        // systemd's StateDirectory= (exported as $STATE_DIRECTORY) is a default, below the file.
        let systemd_dir = std::env::var_os("STATE_DIRECTORY").filter(|d| !d.is_empty());
        if let (None, Some(dir)) = (&l.state_dir, systemd_dir) {
            self.state_dir = PathBuf::from(dir);
        }
        if self.remote && self.https.is_none() {
            self.https = Some(remote_tls_default());
        }
        if l.relay_ip.is_none() {
            self.relay_ip = crate::net::default_relay_ip();
        }
        if self.mdns_interfaces.len() > MAX_MDNS_INTERFACES {
            let reason = format!("at most {MAX_MDNS_INTERFACES} interfaces");
            return Err(flag_err("mdns-interface", "…", reason));
        }
        self.tls = match (l.tls_cert.clone(), l.tls_key.clone()) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(c), None) => {
                let c = c.display().to_string();
                return Err(flag_err("tls-cert", &c, "needs --tls-key too".into()));
            }
            (None, Some(k)) => {
                let k = k.display().to_string();
                return Err(flag_err("tls-key", &k, "needs --tls-cert too".into()));
            }
        };
        Ok(())
    }
}

/// The TLS port of `--remote` when `--https` is not given: 443 under systemd (the unit grants
/// CAP_NET_BIND_SERVICE; `$STATE_DIRECTORY` tells homedrop it runs there), 8443 elsewhere
/// (an ordinary user cannot bind a port below 1024).
pub fn remote_tls_default() -> SocketAddr {
    let systemd = std::env::var_os("STATE_DIRECTORY").is_some_and(|d| !d.is_empty());
    addr([0, 0, 0, 0], if systemd { 443 } else { 8443 })
}

/// Where a value may come from; errors name the flag (and its variable) or the file's key.
struct Sources {
    file_name: Option<String>,
}

impl Sources {
    fn file_err(&self, key: &str, value: &str, reason: String) -> ConfigError {
        ConfigError::File {
            file: self.file_name.clone().unwrap_or_default(),
            reason: format!("invalid value {value:?} for key `{key}`: {reason}"),
        }
    }
}

/// The TURN secret: the configured one, else the one kept in `<state-dir>/turn-secret`
/// (see [`kept_secret`]).
pub fn turn_secret(config: &Config) -> std::io::Result<String> {
    match &config.turn_secret {
        Some(s) => Ok(s.clone()),
        None => kept_secret(&config.state_dir, TURN_SECRET_FILE),
    }
}

/// A secret kept in the state directory's `file`, generated (32 random bytes, hex) on first
/// start. The state directory is created with mode 0700 and the file with 0600; a file
/// that holds less than [`MIN_TURN_SECRET`] characters is an error.
pub fn kept_secret(dir: &Path, file: &str) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Write};
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let path = dir.join(file);
    let invalid = |reason: String| {
        Error::new(
            ErrorKind::InvalidData,
            format!("{}: {reason}", path.display()),
        )
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let secret = text.trim().to_string();
            validate_secret(&secret).map_err(invalid)?;
            return Ok(secret);
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(Error::new(e.kind(), format!("{}: {e}", path.display()))),
    }
    let secret = random_secret();
    let mut f = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(f) => f,
        // Another process created it meanwhile: use that one.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return kept_secret(dir, file),
        Err(e) => return Err(Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    f.write_all(format!("{secret}\n").as_bytes())?;
    f.sync_all()?;
    Ok(secret)
}

/// 32 random bytes as lowercase hex.
fn random_secret() -> String {
    use rand::RngExt;
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes[..]);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
