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

    /// Do not advertise homedrop on the LAN with mDNS
    #[arg(long, env = "HOMEDROP_NO_MDNS")]
    pub no_mdns: bool,

    /// TOML file with the same keys as the long flags (e.g. `http = "0.0.0.0:80"`)
    #[arg(long, env = "HOMEDROP_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

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
    log: Option<String>,
    #[serde(alias = "trusted_proxy")]
    trusted_proxy: Option<Vec<String>>,
    #[serde(alias = "room_capacity")]
    room_capacity: Option<u32>,
    #[serde(alias = "max_connections")]
    max_connections: Option<u32>,
}

/// Validated configuration the whole application runs from.
#[derive(Debug, Clone)]
pub struct Config {
    pub http: SocketAddr,
    pub state_dir: PathBuf,
    pub mdns: bool,
    pub log: String,
    pub trusted_proxies: Vec<IpAddr>,
    pub room_capacity: u32,
    pub max_connections: usize,
    /// How long an empty room lives (not a flag: 10 minutes; tests shorten it).
    pub room_idle_ttl: std::time::Duration,
}

/// A configuration problem, printed as one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid value {value:?} for --{flag}: {reason}")]
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
            log: "info".into(),
            trusted_proxies: Vec::new(),
            room_capacity: 10,
            max_connections: 1024,
            room_idle_ttl: std::time::Duration::from_secs(600),
        }
    }
}

impl Config {
    /// A configuration for tests: loopback, port 0, no mDNS.
    pub fn for_tests(state_dir: &Path) -> Self {
        Config {
            http: SocketAddr::from(([127, 0, 0, 1], 0)),
            state_dir: state_dir.to_path_buf(),
            mdns: false,
            ..Config::default()
        }
    }

    /// Merge flags/env over the file over the defaults, validating every value.
    pub fn from_args(args: Args) -> Result<Config, ConfigError> {
        let file = match &args.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };
        let file_name = args.config.as_ref().map(|p| p.display().to_string());
        let mut c = Config::default();
        // File values first (errors name the key and the file), then flags/env over them.
        if let Some(v) = file.http {
            c.http = parse_addr(&v).map_err(|r| file_err(&file_name, "http", &v, r))?;
        }
        if let Some(v) = args.http {
            c.http = parse_addr(&v).map_err(|reason| flag_err("http", &v, reason))?;
        }
        c.state_dir = args
            .state_dir
            .or(file.state_dir)
            .or_else(|| std::env::var_os("STATE_DIRECTORY").map(PathBuf::from))
            .unwrap_or(c.state_dir);
        if c.state_dir.as_os_str().is_empty() {
            return Err(flag_err("state-dir", "", "must not be empty".into()));
        }
        c.mdns = !(args.no_mdns || file.no_mdns.unwrap_or(false));
        if let Some(v) = args.log.or(file.log) {
            validate_log(&v).map_err(|reason| flag_err("log", &v, reason))?;
            c.log = v;
        }
        let proxies = if args.trusted_proxy.is_empty() {
            file.trusted_proxy.unwrap_or_default()
        } else {
            args.trusted_proxy
        };
        for p in proxies {
            let ip = p.trim().parse::<IpAddr>();
            c.trusted_proxies
                .push(ip.map_err(|e| flag_err("trusted-proxy", &p, e.to_string()))?);
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
        Ok(c)
    }
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

fn load_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        file: name.clone(),
        reason: format!("cannot read: {e}"),
    })?;
    if text.len() > 64 * 1024 {
        return Err(ConfigError::File {
            file: name,
            reason: "larger than 64 KiB".into(),
        });
    }
    toml::from_str(&text).map_err(|e| ConfigError::File {
        file: name,
        reason: e.message().to_string()
            + &e.span()
                .map(|s| format!(" (at byte {})", s.start))
                .unwrap_or_default(),
    })
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
        assert!(e.contains("--room-capacity"), "{e}");
        let e = parse(&["--log", "a=b=c=["]).unwrap_err().to_string();
        assert!(e.contains("--log"), "{e}");
    }

    #[test]
    fn file_is_below_flags() {
        let dir = std::env::temp_dir().join(format!("hd-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("c.toml");
        std::fs::write(&f, "http = \"127.0.0.1:9000\"\nroom-capacity = 3\n").unwrap();
        let c = parse(&["--config", f.to_str().unwrap()]).unwrap();
        assert_eq!(c.http.port(), 9000);
        assert_eq!(c.room_capacity, 3);
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
