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
pub use file::config_path;

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
    /// The config file that was read, if any (`--config`, else [`DEFAULT_CONFIG_FILE`] when it
    /// exists).
    pub config_file: Option<PathBuf>,
}

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
            config_file: None,
        }
    }
}

impl Config {
    /// A configuration for tests: loopback, port 0, no mDNS, no TURN relay.
    pub fn for_tests(state_dir: &Path) -> Self {
        Config {
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: state_dir.to_path_buf(),
            mdns: false,
            turn: None,
            ..Config::default()
        }
    }

    /// Merge flags/env over the file over the defaults, validating every value.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        Self::from_args_with_default(args, Path::new(DEFAULT_CONFIG_FILE))
    }

    /// [`Config::from_args`] with the file read when `--config` is not given (tests).
    pub fn from_args_with_default(args: Args, default: &Path) -> Result<Config, ConfigError> {
        let path = file::config_path(args.config.clone(), default);
        let file: FileConfig = match &path {
            Some(path) => file::load(path)?,
            None => FileConfig::default(),
        };
        let file_name = path.as_ref().map(|p| p.display().to_string());
        let mut c = Config {
            config_file: path,
            ..Config::default()
        };
        // File values first (errors name the key and the file), then flags/env over them.
        if let Some(v) = file.http {
            c.http = parse_addr(&v).map_err(|r| file_err(&file_name, "http", &v, r))?;
        }
        if let Some(v) = args.http {
            c.http = parse_addr(&v).map_err(|reason| flag_err("http", &v, reason))?;
        }
        // systemd's StateDirectory= (exported as $STATE_DIRECTORY) is a default, below the file.
        if let Some(dir) = std::env::var_os("STATE_DIRECTORY").filter(|d| !d.is_empty()) {
            c.state_dir = PathBuf::from(dir);
        }
        if let Some(v) = file.state_dir {
            if v.as_os_str().is_empty() {
                return Err(file_err(
                    &file_name,
                    "state-dir",
                    "",
                    "must not be empty".into(),
                ));
            }
            c.state_dir = v;
        }
        if let Some(v) = args.state_dir {
            if v.as_os_str().is_empty() {
                return Err(flag_err("state-dir", "", "must not be empty".into()));
            }
            c.state_dir = v;
        }
        c.mdns = !args.no_mdns.or(file.no_mdns).unwrap_or(false);
        if let Some(v) = file.name {
            crate::mdns::validate_name(&v).map_err(|r| file_err(&file_name, "name", &v, r))?;
            c.name = v;
        }
        if let Some(v) = args.name {
            crate::mdns::validate_name(&v).map_err(|reason| flag_err("name", &v, reason))?;
            c.name = v;
        }
        let from_file = args.mdns_interface.is_empty();
        let interfaces = match from_file {
            true => file.mdns_interface.unwrap_or_default(),
            false => args.mdns_interface,
        };
        for i in interfaces {
            let i = i.trim().to_string();
            crate::mdns::validate_interface(&i).map_err(|r| match from_file {
                true => file_err(&file_name, "mdns-interface", &i, r),
                false => flag_err("mdns-interface", &i, r),
            })?;
            c.mdns_interfaces.push(i);
        }
        if c.mdns_interfaces.len() > 32 {
            return Err(flag_err(
                "mdns-interface",
                "…",
                "at most 32 interfaces".into(),
            ));
        }
        if let Some(v) = file.log {
            validate_log(&v).map_err(|r| file_err(&file_name, "log", &v, r))?;
            c.log = v;
        }
        if let Some(v) = args.log {
            validate_log(&v).map_err(|reason| flag_err("log", &v, reason))?;
            c.log = v;
        }
        if let Some(list) = file.trusted_proxy {
            c.trusted_proxies =
                parse_ips(&list).map_err(|(p, r)| file_err(&file_name, "trusted-proxy", &p, r))?;
        }
        if !args.trusted_proxy.is_empty() {
            c.trusted_proxies = parse_ips(&args.trusted_proxy)
                .map_err(|(p, r)| flag_err("trusted-proxy", &p, r))?;
        }
        if let Some(v) = file.room_capacity {
            c.room_capacity = check_range(v as u64, 2, 50)
                .map_err(|r| file_err(&file_name, "room-capacity", &v.to_string(), r))?
                as u32;
        }
        if let Some(v) = args.room_capacity {
            c.room_capacity =
                parse_num(&v, 2, 50).map_err(|r| flag_err("room-capacity", &v, r))? as u32;
        }
        if let Some(v) = file.max_connections {
            c.max_connections = check_range(v as u64, 1, 100_000)
                .map_err(|r| file_err(&file_name, "max-connections", &v.to_string(), r))?
                as usize;
        }
        if let Some(v) = args.max_connections {
            c.max_connections =
                parse_num(&v, 1, 100_000).map_err(|r| flag_err("max-connections", &v, r))? as usize;
        }
        if let Some(v) = file.turn {
            c.turn = Some(parse_addr(&v).map_err(|r| file_err(&file_name, "turn", &v, r))?);
        }
        if let Some(v) = args.turn {
            c.turn = Some(parse_addr(&v).map_err(|reason| flag_err("turn", &v, reason))?);
        }
        if args.no_turn.or(file.no_turn).unwrap_or(false) {
            c.turn = None;
        }
        if let Some(v) = file.turn_secret {
            validate_secret(&v).map_err(|r| file_err(&file_name, "turn-secret", "…", r))?;
            c.turn_secret = Some(v);
        }
        if let Some(v) = args.turn_secret {
            // The value is a secret: never echoed in the error.
            validate_secret(&v).map_err(|reason| flag_err("turn-secret", "…", reason))?;
            c.turn_secret = Some(v);
        }
        c.relay_ip = match (args.relay_ip, file.relay_ip) {
            (Some(v), _) => parse_relay_ip(&v).map_err(|r| flag_err("relay-ip", &v, r))?,
            (None, Some(v)) => {
                parse_relay_ip(&v).map_err(|r| file_err(&file_name, "relay-ip", &v, r))?
            }
            (None, None) => crate::net::default_relay_ip(),
        };
        Ok(c)
    }
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

fn file_err(file: &Option<String>, key: &str, value: &str, reason: String) -> ConfigError {
    ConfigError::File {
        file: file.clone().unwrap_or_default(),
        reason: format!("invalid value {value:?} for key `{key}`: {reason}"),
    }
}

fn parse_ips(list: &[String]) -> Result<Vec<IpAddr>, (String, String)> {
    list.iter()
        .map(|p| {
            p.trim()
                .parse::<IpAddr>()
                .map_err(|e| (p.clone(), e.to_string()))
        })
        .collect()
}

fn parse_addr(v: &str) -> Result<SocketAddr, String> {
    v.trim()
        .parse::<SocketAddr>()
        .map_err(|_| "expected IP:PORT, for example 0.0.0.0:8080 or [::]:8080".to_string())
}

fn parse_num(v: &str, min: u64, max: u64) -> Result<u64, String> {
    let n = v
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("expected a whole number from {min} to {max}"))?;
    check_range(n, min, max)
}

fn check_range(n: u64, min: u64, max: u64) -> Result<u64, String> {
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(format!("must be from {min} to {max}"))
    }
}

fn validate_secret(v: &str) -> Result<(), String> {
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

fn parse_relay_ip(v: &str) -> Result<IpAddr, String> {
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

fn validate_log(v: &str) -> Result<(), String> {
    if v.len() > 256 {
        return Err("longer than 256 characters".into());
    }
    tracing_subscriber::EnvFilter::try_new(v)
        .map(|_| ())
        .map_err(|e| format!("not a log level or filter ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut all = vec!["homedrop"];
        all.extend_from_slice(args);
        Config::from_args(Args::try_parse_from(all).unwrap())
    }

    #[test]
    fn defaults_and_flag_errors() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.http.port(), 8080);
        assert_eq!(c.room_capacity, 10);
        let e = parse(&["--http", "nonsense"]).unwrap_err().to_string();
        assert!(e.contains("--http"), "{e}");
        let e = parse(&["--room-capacity", "1"]).unwrap_err().to_string();
        assert!(
            e.contains("--room-capacity") && e.contains("HOMEDROP_ROOM_CAPACITY"),
            "{e}"
        );
        let e = parse(&["--log", "a=b=c=["]).unwrap_err().to_string();
        assert!(e.contains("--log"), "{e}");
    }

    #[test]
    fn name_and_mdns_interfaces() {
        let c = parse(&[]).unwrap();
        assert_eq!((c.name.as_str(), c.mdns), ("homedrop", true));
        let c = parse(&["--name", "kitchen", "--mdns-interface", "eth0,wlan0"]).unwrap();
        assert_eq!(c.name, "kitchen");
        assert_eq!(c.mdns_interfaces, ["eth0", "wlan0"]);
        let e = parse(&["--name", "a.b"]).unwrap_err().to_string();
        assert!(e.contains("--name"), "{e}");
    }

    #[test]
    fn turn_flags() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.turn, Some("0.0.0.0:3478".parse().unwrap()));
        assert!(c.turn_secret.is_none());
        assert!(c.relay_ip.is_ipv4() && !c.relay_ip.is_unspecified());
        assert_eq!(parse(&["--no-turn"]).unwrap().turn, None);
        let c = parse(&["--turn", "127.0.0.1:5000", "--relay-ip", "10.0.0.2"]).unwrap();
        assert_eq!(c.turn, Some("127.0.0.1:5000".parse().unwrap()));
        assert_eq!(c.relay_ip, "10.0.0.2".parse::<IpAddr>().unwrap());
        let c = parse(&["--turn-secret", "0123456789abcdef"]).unwrap();
        assert_eq!(c.turn_secret.as_deref(), Some("0123456789abcdef"));
        let e = parse(&["--turn-secret", "0123456789abcde"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--turn-secret") && !e.contains("abcde"), "{e}");
        for bad in ["::1", "0.0.0.0", "224.0.0.1", "host"] {
            let e = parse(&["--relay-ip", bad]).unwrap_err().to_string();
            assert!(e.contains("--relay-ip"), "{e}");
        }
        assert!(parse(&["--turn", "3478"]).is_err());
    }

    #[test]
    fn turn_secret_is_generated_once_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("hd-secret-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let state = dir.join("state");
        let c = Config::for_tests(&state);
        let first = turn_secret(&c).unwrap();
        assert_eq!(first.len(), 64, "32 bytes as hex");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&state), 0o700);
        assert_eq!(mode(&state.join(TURN_SECRET_FILE)), 0o600);
        assert_eq!(turn_secret(&c).unwrap(), first, "read back on later starts");
        let given = Config {
            turn_secret: Some("given-secret-0123".into()),
            ..c.clone()
        };
        assert_eq!(turn_secret(&given).unwrap(), "given-secret-0123");
        std::fs::write(state.join(TURN_SECRET_FILE), "short\n").unwrap();
        assert!(
            turn_secret(&c).is_err(),
            "a bad file is an error, not replaced"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn file_is_below_flags() {
        let dir = std::env::temp_dir().join(format!("hd-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(
            &f,
            "http = \"127.0.0.1:9000\"\nroom-capacity = 3\nturn = \"127.0.0.1:3479\"\nrelay-ip = \"10.1.2.3\"\n",
        )
        .unwrap();
        let c = parse(&["--config", f.to_str().unwrap()]).unwrap();
        assert_eq!(c.http.port(), 9000);
        assert_eq!(c.room_capacity, 3);
        assert_eq!(c.turn, Some("127.0.0.1:3479".parse().unwrap()));
        assert_eq!(c.relay_ip, "10.1.2.3".parse::<IpAddr>().unwrap());
        let c = parse(&["--config", f.to_str().unwrap(), "--http", "127.0.0.1:9001"]).unwrap();
        assert_eq!(c.http.port(), 9001);
        std::fs::write(&f, "htp = \"x\"\n").unwrap();
        let e = parse(&["--config", f.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("htp") && e.contains("c.toml"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
