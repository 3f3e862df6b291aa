//! Command line, environment and config file, turned once into a validated [`Config`].
//!
//! Every flag is also an environment variable `HOMEDROP_*` (clap's `env`), and every flag can
//! be set in a TOML file named by `--config`. Precedence: flags > environment > file >
//! built-in defaults. Anything invalid is reported as one line naming the flag (or the key
//! and the file) and the process exits with status 2.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::Deserialize;

mod file;
mod parse;
pub use file::config_path;
use parse::*;

use crate::signaling::ice::parse_host;

/// Raw command line / environment, before validation. Options are `Option` so that the
/// file and the defaults can fill what is not given.
#[derive(Debug, Parser, Default)]
#[command(
    name = "homedrop",
    version,
    about = "Send files, text and photos between devices at home and beyond, with no outside service."
)]
pub struct Args {
    /// Address and port for plain HTTP (web client and signaling) [default: 0.0.0.0:8080]
    #[arg(long, env = "HOMEDROP_HTTP", value_name = "ADDR")]
    pub http: Option<String>,

    /// Directory for persistent state (secrets, certificates) [default: $STATE_DIRECTORY, else ./homedrop-state]
    #[arg(long, env = "HOMEDROP_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Do not advertise homedrop on the LAN with mDNS (`--no-mdns=false` undoes a file's `no-mdns = true`)
    #[arg(long, env = "HOMEDROP_NO_MDNS", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_mdns: Option<bool>,

    /// Name on the LAN, advertised as NAME.local with mDNS: letters, digits and hyphens, at most 63 [default: homedrop]
    #[arg(long, env = "HOMEDROP_NAME", value_name = "NAME")]
    pub name: Option<String>,

    /// Advertise with mDNS only on these interfaces (repeatable, or comma separated) [default: every interface except loopback, docker*, veth*, br-*, virbr*]
    #[arg(
        long,
        env = "HOMEDROP_MDNS_INTERFACE",
        value_name = "IFACE",
        value_delimiter = ','
    )]
    pub mdns_interface: Vec<String>,

    /// TOML file with the same keys as the long flags (e.g. `http = "0.0.0.0:80"`) [default: /etc/homedrop/homedrop.toml when it exists]
    #[arg(long, env = "HOMEDROP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the effective configuration (as a config file) and exit
    #[arg(long)]
    pub print_config: bool,

    /// Log level or filter: error, warn, info, debug, trace, or a tracing filter [default: info]
    #[arg(long, env = "HOMEDROP_LOG", value_name = "LEVEL")]
    pub log: Option<String>,

    /// Reverse proxy whose X-Forwarded-For is trusted (repeatable, or comma separated). Never trusted by default
    #[arg(
        long,
        env = "HOMEDROP_TRUSTED_PROXY",
        value_name = "IP",
        value_delimiter = ','
    )]
    pub trusted_proxy: Vec<String>,

    /// Default room capacity, 2 to 50 [default: 10]
    #[arg(long, env = "HOMEDROP_ROOM_CAPACITY", value_name = "N")]
    pub room_capacity: Option<String>,

    /// Most simultaneous HTTP/WebSocket connections, 1 to 100000 [default: 1024]
    #[arg(long, env = "HOMEDROP_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<String>,

    /// Address and port of the STUN/TURN relay, UDP and TCP [default: 0.0.0.0:3478]
    #[arg(long, env = "HOMEDROP_TURN", value_name = "ADDR")]
    pub turn: Option<String>,

    /// Do not run the STUN/TURN relay (`--no-turn=false` undoes a file's `no-turn = true`)
    #[arg(long, env = "HOMEDROP_NO_TURN", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_turn: Option<bool>,

    /// Shared secret for TURN credentials, at least 16 characters [default: generated once, kept in <state-dir>/turn-secret]
    #[arg(
        long,
        env = "HOMEDROP_TURN_SECRET",
        value_name = "SECRET",
        hide_env_values = true
    )]
    pub turn_secret: Option<String>,

    /// IPv4 address the relay advertises in relayed addresses [default: first private IPv4 of a non-loopback interface, else 127.0.0.1]
    #[arg(long, env = "HOMEDROP_RELAY_IP", value_name = "IP")]
    pub relay_ip: Option<String>,

    /// Address and UDP port of the connection check (webrtc-unreliable echo) [default: 0.0.0.0:3479]
    #[arg(long, env = "HOMEDROP_PROBE", value_name = "ADDR")]
    pub probe: Option<String>,

    /// Do not run the connection check (`--no-probe=false` undoes a file's `no-probe = true`)
    #[arg(long, env = "HOMEDROP_NO_PROBE", value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub no_probe: Option<bool>,

    /// Also serve the page and signaling over HTTPS on this address, e.g. 0.0.0.0:8443 [default: off]
    #[arg(long, env = "HOMEDROP_HTTPS", value_name = "ADDR")]
    pub https: Option<String>,

    /// PEM certificate chain for HTTPS (with --tls-key) [default: self-signed, kept in <state-dir>]
    #[arg(long, env = "HOMEDROP_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key for HTTPS (with --tls-cert)
    #[arg(long, env = "HOMEDROP_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// DNS name or address remote clients use to reach this homedrop (its TURN port) from the internet
    #[arg(long, env = "HOMEDROP_PUBLIC_HOST", value_name = "HOST")]
    pub public_host: Option<String>,

    /// Most TURN allocations per username (one device), 1 to 16000 [default: 20]
    #[arg(long, env = "HOMEDROP_TURN_USER_QUOTA", value_name = "N")]
    pub turn_user_quota: Option<String>,

    /// Most TURN allocations in total, 1 to 16000 [default: 200]
    #[arg(long, env = "HOMEDROP_TURN_TOTAL_QUOTA", value_name = "N")]
    pub turn_total_quota: Option<String>,

    /// Relayed bytes per second for one TURN allocation, 0 for no cap [default: 0]
    #[arg(long, env = "HOMEDROP_TURN_ALLOCATION_BANDWIDTH", value_name = "BYTES")]
    pub turn_allocation_bandwidth: Option<String>,

    /// Relayed bytes per second for the whole relay, 0 for no cap [default: 0]
    #[arg(long, env = "HOMEDROP_TURN_TOTAL_BANDWIDTH", value_name = "BYTES")]
    pub turn_total_bandwidth: Option<String>,
}

/// The keys a config file may hold: the long flags, with `-` or `_`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct FileConfig {
    #[serde(alias = "http")]
    http: Option<String>,
    #[serde(alias = "state_dir")]
    state_dir: Option<PathBuf>,
    #[serde(alias = "no_mdns")]
    no_mdns: Option<bool>,
    name: Option<String>,
    #[serde(alias = "mdns_interface")]
    mdns_interface: Option<Vec<String>>,
    log: Option<String>,
    #[serde(alias = "trusted_proxy")]
    trusted_proxy: Option<Vec<String>>,
    #[serde(alias = "room_capacity")]
    room_capacity: Option<u32>,
    #[serde(alias = "max_connections")]
    max_connections: Option<u32>,
    turn: Option<String>,
    #[serde(alias = "no_turn")]
    no_turn: Option<bool>,
    #[serde(alias = "turn_secret")]
    turn_secret: Option<String>,
    #[serde(alias = "relay_ip")]
    relay_ip: Option<String>,
    probe: Option<String>,
    #[serde(alias = "no_probe")]
    no_probe: Option<bool>,
    https: Option<String>,
    #[serde(alias = "tls_cert")]
    tls_cert: Option<PathBuf>,
    #[serde(alias = "tls_key")]
    tls_key: Option<PathBuf>,
    #[serde(alias = "public_host")]
    public_host: Option<String>,
    #[serde(alias = "turn_user_quota")]
    turn_user_quota: Option<u32>,
    #[serde(alias = "turn_total_quota")]
    turn_total_quota: Option<u32>,
    #[serde(alias = "turn_allocation_bandwidth")]
    turn_allocation_bandwidth: Option<u64>,
    #[serde(alias = "turn_total_bandwidth")]
    turn_total_bandwidth: Option<u64>,
}

/// Validated configuration the whole application runs from.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: SocketAddr,
    pub state_dir: PathBuf,
    pub mdns: bool,
    /// The LAN name: `<name>.local` (mDNS host and service instance).
    pub name: String,
    /// Interfaces mDNS is limited to; empty: every LAN interface.
    pub mdns_interfaces: Vec<String>,
    pub log: String,
    pub trusted_proxies: Vec<IpAddr>,
    pub room_capacity: u32,
    pub max_connections: usize,
    /// How long an empty room lives (not a flag: 10 minutes; tests shorten it).
    pub room_idle_ttl: std::time::Duration,
    /// STUN/TURN relay address (UDP and TCP); `None` with `--no-turn`.
    pub turn: Option<SocketAddr>,
    /// The TURN REST secret given by flag/env/file; `None`: the one kept in the state
    /// directory (see [`turn_secret`]).
    pub turn_secret: Option<String>,
    /// The IPv4 address put in relayed addresses.
    pub relay_ip: IpAddr,
    /// UDP address of the connection check; `None` with `--no-probe`.
    pub probe: Option<SocketAddr>,
    /// HTTPS address; `None` (the default): no HTTPS.
    pub https: Option<SocketAddr>,
    /// Given certificate chain and key (both or neither); `None`: self-signed, in the state dir.
    pub tls: Option<TlsFiles>,
    /// Host remote clients use for the TURN port (`--public-host`).
    pub public_host: Option<String>,
    /// Lifetime of TURN credentials handed to browsers (not a flag: 12 h; tests shorten it).
    pub turn_credential_ttl: std::time::Duration,
    /// TURN allocations per username (486 beyond).
    pub turn_user_quota: usize,
    /// TURN allocations in total (508 beyond).
    pub turn_total_quota: usize,
    /// Relayed bytes/s per allocation; 0 = no cap.
    pub turn_allocation_bandwidth: u64,
    /// Relayed bytes/s for the whole relay; 0 = no cap.
    pub turn_total_bandwidth: u64,
    /// The config file that was read, if any (`--config`, else [`DEFAULT_CONFIG_FILE`] when it
    /// exists).
    pub config_file: Option<PathBuf>,
}

/// A certificate chain and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

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

impl Default for Config {
    fn default() -> Self {
        Config {
            http: SocketAddr::from(([0, 0, 0, 0], 8080)),
            state_dir: PathBuf::from("homedrop-state"),
            mdns: true,
            name: "homedrop".into(),
            mdns_interfaces: Vec::new(),
            log: "info".into(),
            trusted_proxies: Vec::new(),
            room_capacity: 10,
            max_connections: 1024,
            room_idle_ttl: std::time::Duration::from_secs(600),
            turn: Some(SocketAddr::from(([0, 0, 0, 0], 3478))),
            turn_secret: None,
            relay_ip: IpAddr::from([127, 0, 0, 1]),
            probe: Some(SocketAddr::from(([0, 0, 0, 0], 3479))),
            https: None,
            tls: None,
            public_host: None,
            turn_credential_ttl: std::time::Duration::from_secs(12 * 3600),
            turn_user_quota: 20,
            turn_total_quota: 200,
            turn_allocation_bandwidth: 0,
            turn_total_bandwidth: 0,
            config_file: None,
        }
    }
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

    /// Merge flags/env over the file over the defaults, validating every value.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        Self::from_args_with_default(args, Path::new(DEFAULT_CONFIG_FILE))
    }

    /// [`Config::from_args`] with the file read when `--config` is not given (tests).
    pub fn from_args_with_default(mut args: Args, default: &Path) -> Result<Config, ConfigError> {
        let path = file::config_path(args.config.clone(), default);
        let mut file: FileConfig = match &path {
            Some(path) => file::load(path)?,
            None => FileConfig::default(),
        };
        let src = Sources {
            file_name: path.as_ref().map(|p| p.display().to_string()),
        };
        let mut c = Config {
            config_file: path,
            ..Config::default()
        };
        c.apply_server(&src, &mut args, &mut file)?;
        c.apply_mdns(&src, &mut args, &mut file)?;
        c.apply_relay(&src, &mut args, &mut file)?;
        c.apply_tls_and_probe(&src, &mut args, &mut file)?;
        Ok(c)
    }

    /// HTTP address, state directory, log, proxies, rooms, connections.
    fn apply_server(
        &mut self,
        src: &Sources,
        a: &mut Args,
        f: &mut FileConfig,
    ) -> Result<(), ConfigError> {
        if let Some(v) = src.pick("http", a.http.take(), f.http.take(), parse_addr)? {
            self.http = v;
        }
        // systemd's StateDirectory= (exported as $STATE_DIRECTORY) is a default, below the file.
        if let Some(dir) = std::env::var_os("STATE_DIRECTORY").filter(|d| !d.is_empty()) {
            self.state_dir = PathBuf::from(dir);
        }
        if let Some(v) = f.state_dir.take() {
            if v.as_os_str().is_empty() {
                return Err(src.file_err("state-dir", "", "must not be empty".into()));
            }
            self.state_dir = v;
        }
        if let Some(v) = a.state_dir.take() {
            if v.as_os_str().is_empty() {
                return Err(flag_err("state-dir", "", "must not be empty".into()));
            }
            self.state_dir = v;
        }
        let check_log = |v: &str| validate_log(v).map(|_| v.to_string());
        if let Some(v) = src.pick("log", a.log.take(), f.log.take(), check_log)? {
            self.log = v;
        }
        if let Some(list) = f.trusted_proxy.take() {
            self.trusted_proxies =
                parse_ips(&list).map_err(|(p, r)| src.file_err("trusted-proxy", &p, r))?;
        }
        if !a.trusted_proxy.is_empty() {
            self.trusted_proxies =
                parse_ips(&a.trusted_proxy).map_err(|(p, r)| flag_err("trusted-proxy", &p, r))?;
        }
        let file_capacity = f.room_capacity.take().map(|v| v.to_string());
        let capacity = |v: &str| parse_num(v, 2, 50);
        if let Some(n) = src.pick(
            "room-capacity",
            a.room_capacity.take(),
            file_capacity,
            capacity,
        )? {
            self.room_capacity = n as u32;
        }
        let file_max = f.max_connections.take().map(|v| v.to_string());
        let max = |v: &str| parse_num(v, 1, 100_000);
        if let Some(n) = src.pick("max-connections", a.max_connections.take(), file_max, max)? {
            self.max_connections = n as usize;
        }
        Ok(())
    }

    /// mDNS on or off, the LAN name, the interfaces it is limited to.
    fn apply_mdns(
        &mut self,
        src: &Sources,
        a: &mut Args,
        f: &mut FileConfig,
    ) -> Result<(), ConfigError> {
        self.mdns = !a.no_mdns.or(f.no_mdns).unwrap_or(false);
        let check_name = |v: &str| crate::mdns::validate_name(v).map(|_| v.to_string());
        if let Some(v) = src.pick("name", a.name.take(), f.name.take(), check_name)? {
            self.name = v;
        }
        let from_file = a.mdns_interface.is_empty();
        let interfaces = match from_file {
            true => f.mdns_interface.take().unwrap_or_default(),
            false => std::mem::take(&mut a.mdns_interface),
        };
        for i in interfaces {
            let i = i.trim().to_string();
            crate::mdns::validate_interface(&i).map_err(|r| match from_file {
                true => src.file_err("mdns-interface", &i, r),
                false => flag_err("mdns-interface", &i, r),
            })?;
            self.mdns_interfaces.push(i);
        }
        if self.mdns_interfaces.len() > 32 {
            return Err(flag_err(
                "mdns-interface",
                "…",
                "at most 32 interfaces".into(),
            ));
        }
        Ok(())
    }

    /// The STUN/TURN relay: address, secret, relayed address, public host, quotas, caps.
    fn apply_relay(
        &mut self,
        src: &Sources,
        a: &mut Args,
        f: &mut FileConfig,
    ) -> Result<(), ConfigError> {
        if let Some(v) = src.pick("turn", a.turn.take(), f.turn.take(), parse_addr)? {
            self.turn = Some(v);
        }
        if a.no_turn.or(f.no_turn).unwrap_or(false) {
            self.turn = None;
        }
        // The value is a secret: never echoed in an error.
        if let Some(v) = f.turn_secret.take() {
            validate_secret(&v).map_err(|r| src.file_err("turn-secret", "…", r))?;
            self.turn_secret = Some(v);
        }
        if let Some(v) = a.turn_secret.take() {
            validate_secret(&v).map_err(|reason| flag_err("turn-secret", "…", reason))?;
            self.turn_secret = Some(v);
        }
        self.relay_ip = src
            .pick(
                "relay-ip",
                a.relay_ip.take(),
                f.relay_ip.take(),
                parse_relay_ip,
            )?
            .unwrap_or_else(crate::net::default_relay_ip);
        self.public_host = src.pick(
            "public-host",
            a.public_host.take(),
            f.public_host.take(),
            parse_host,
        )?;
        let quota = |v: &str| parse_num(v, 1, MAX_TURN_QUOTA).map(|n| n as usize);
        let file_user = f.turn_user_quota.take().map(|v| v.to_string());
        if let Some(n) = src.pick(
            "turn-user-quota",
            a.turn_user_quota.take(),
            file_user,
            quota,
        )? {
            self.turn_user_quota = n;
        }
        let file_total = f.turn_total_quota.take().map(|v| v.to_string());
        if let Some(n) = src.pick(
            "turn-total-quota",
            a.turn_total_quota.take(),
            file_total,
            quota,
        )? {
            self.turn_total_quota = n;
        }
        let cap = |v: &str| parse_num(v, 0, MAX_BANDWIDTH);
        let file_alloc = f.turn_allocation_bandwidth.take().map(|v| v.to_string());
        let alloc = src.pick(
            "turn-allocation-bandwidth",
            a.turn_allocation_bandwidth.take(),
            file_alloc,
            cap,
        )?;
        self.turn_allocation_bandwidth = alloc.unwrap_or(0);
        let file_all = f.turn_total_bandwidth.take().map(|v| v.to_string());
        let all = src.pick(
            "turn-total-bandwidth",
            a.turn_total_bandwidth.take(),
            file_all,
            cap,
        )?;
        self.turn_total_bandwidth = all.unwrap_or(0);
        Ok(())
    }

    /// The connection check's port, HTTPS and its certificate files.
    fn apply_tls_and_probe(
        &mut self,
        src: &Sources,
        a: &mut Args,
        f: &mut FileConfig,
    ) -> Result<(), ConfigError> {
        if let Some(v) = src.pick("probe", a.probe.take(), f.probe.take(), parse_addr)? {
            self.probe = Some(v);
        }
        if a.no_probe.or(f.no_probe).unwrap_or(false) {
            self.probe = None;
        }
        self.https = src.pick("https", a.https.take(), f.https.take(), parse_addr)?;
        self.tls = match (
            a.tls_cert.take().or(f.tls_cert.take()),
            a.tls_key.take().or(f.tls_key.take()),
        ) {
            (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
            (None, None) => None,
            (Some(c), None) => {
                return Err(flag_err(
                    "tls-cert",
                    &c.display().to_string(),
                    "needs --tls-key too".into(),
                ))
            }
            (None, Some(k)) => {
                return Err(flag_err(
                    "tls-key",
                    &k.display().to_string(),
                    "needs --tls-cert too".into(),
                ))
            }
        };
        Ok(())
    }
}

/// Where a value may come from; errors name the flag (and its variable) or the file's key.
struct Sources {
    file_name: Option<String>,
}

impl Sources {
    /// The flag's (or environment's) value over the file's, each parsed by `parse`; a bad
    /// value in the file is an error even when a flag overrides it.
    fn pick<T>(
        &self,
        key: &'static str,
        flag: Option<String>,
        file: Option<String>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let file = file
            .map(|v| parse(&v).map_err(|r| self.file_err(key, &v, r)))
            .transpose()?;
        let flag = flag
            .map(|v| parse(&v).map_err(|r| flag_err(key, &v, r)))
            .transpose()?;
        Ok(flag.or(file))
    }

    fn file_err(&self, key: &str, value: &str, reason: String) -> ConfigError {
        ConfigError::File {
            file: self.file_name.clone().unwrap_or_default(),
            reason: format!("invalid value {value:?} for key `{key}`: {reason}"),
        }
    }
}

/// The TURN secret: the configured one, else the one kept in `<state-dir>/turn-secret`,
/// generated (32 random bytes, hex) on first start. The state directory is created with
/// mode 0700 and the file with 0600.
pub fn turn_secret(config: &Config) -> std::io::Result<String> {
    use std::io::{Error, ErrorKind, Write};
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(s) = &config.turn_secret {
        return Ok(s.clone());
    }
    let dir = &config.state_dir;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let path = dir.join(TURN_SECRET_FILE);
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
    let secret = crate::signaling::registry::random_hex(32);
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(f) => f,
        // Another process created it meanwhile: use that one.
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return turn_secret(config),
        Err(e) => return Err(Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    file.write_all(format!("{secret}\n").as_bytes())?;
    file.sync_all()?;
    Ok(secret)
}

#[cfg(test)]
mod tests;
