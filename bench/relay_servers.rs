//! The two servers the relay bench compares, started by the bench inside the
//! LAN's router namespace (never as a service), with equivalent settings:
//! UDP+TCP on one port, TURN REST credentials from one shared secret, relayed
//! addresses on the router's bridge address, no per-user or total quota in
//! the way (homedrop gets `--turn-user-quota/--turn-total-quota 16000`,
//! `--turn-tcp-source-limit 100000`;
//! coturn has none by default), no DTLS, and TLS on a port of its own for
//! the TURN-over-TLS load (homedrop's TLS port, `--https`, port + 2, where
//! it routes STUN after the handshake to the relay; coturn's
//! `--tls-listening-port`, port + 2), both serving one self-signed
//! certificate ([`write_certificate`]). homedrop runs with
//! `--no-probe --no-mdns` (its idle HTTP/signaling listener stays; no
//! connection check with its OpenSSL/DTLS state, no mDNS responder,
//! `--max-connections 100000` so uclient's burst of TLS handshakes from one
//! address is not capped per source) and coturn with `--no-cli --no-dtls`:
//! each process is the relay plus
//! what it cannot switch off, so peak RSS compares the relays.
//!
//! Why a namespace and not 127.0.0.1: coturn refuses loopback peers (403
//! "Forbidden IP") even between its own relayed addresses, and allowing them
//! would open it to the host's loopback services. On the bridge address both
//! servers relay between their own allocations with default policies.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::support::procfs;

pub const SECRET: &str = "relay-bench-secret-0123456789";
pub const REALM: &str = "homedrop";
/// Clock ticks per second of /proc/PID/stat (USER_HZ; 100 on Linux).
const TICKS: f64 = 100.0;

/// The transport of one uclient load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn name(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
        }
    }
}

/// An OpenSSL configuration asking for TLS 1.2 at least (for uclient `-S`, which picks
/// TLS contexts at random, TLS 1.0 ones among them; homedrop refuses those, coturn not).
pub fn tls12_conf() -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("homedrop-bench-tls12-{}.cnf", std::process::id()));
    if !path.exists() {
        let text = "openssl_conf = conf\n[conf]\nssl_conf = ssl\n[ssl]\nsystem_default = sys\n\
                    [sys]\nMinProtocol = TLSv1.2\n";
        std::fs::write(&path, text).unwrap();
    }
    path
}

/// The certificate both servers serve for TLS, written into `dir`.
pub fn write_certificate(dir: &Path) {
    let made = rcgen::generate_simple_self_signed(vec!["relay.test".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.signing_key.serialize_pem()).unwrap();
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Homedrop,
    Coturn,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Homedrop => "homedrop",
            Kind::Coturn => "coturn",
        }
    }
}

/// A running server; killed (by its own pid) when dropped.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    pub log: PathBuf,
}

impl Server {
    /// Starts `kind` in namespace `ns` on `ip:port` and waits until a STUN
    /// Binding over UDP is answered.
    pub fn start(kind: Kind, ns: &str, ip: &str, port: u16, dir: &Path) -> Server {
        let log = dir.join(format!("{}-{port}.log", kind.name()));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]);
        match kind {
            Kind::Homedrop => {
                let state = dir.join(format!("state-{port}"));
                cmd.arg(env!("CARGO_BIN_EXE_homedrop")).args([
                    format!("--http={ip}:{}", port + 1),
                    format!("--state-dir={}", state.display()),
                    "--no-mdns".into(),
                    "--no-probe".into(),
                    "--log=info".into(),
                    format!("--turn={ip}:{port}"),
                    format!("--turn-secret={SECRET}"),
                    format!("--relay-ip={ip}"),
                    "--turn-user-quota=16000".into(),
                    "--turn-total-quota=16000".into(),
                    // uclient opens every TCP pair from one address.
                    "--turn-tcp-source-limit=100000".into(),
                    "--max-connections=100000".into(),
                    format!("--https={ip}:{}", port + 2),
                    format!("--tls-cert={}", dir.join("cert.pem").display()),
                    format!("--tls-key={}", dir.join("key.pem").display()),
                ]);
            }
            Kind::Coturn => {
                cmd.arg("turnserver").args([
                    "-n".into(),
                    format!("--listening-ip={ip}"),
                    format!("--relay-ip={ip}"),
                    format!("--listening-port={port}"),
                    "--min-port=49152".into(),
                    "--max-port=65535".into(),
                    "--use-auth-secret".into(),
                    format!("--static-auth-secret={SECRET}"),
                    format!("--realm={REALM}"),
                    "--no-cli".into(),
                    "--no-dtls".into(),
                    format!("--tls-listening-port={}", port + 2),
                    format!("--cert={}", dir.join("cert.pem").display()),
                    format!("--pkey={}", dir.join("key.pem").display()),
                    format!("--log-file={}", log.display()),
                    "--simple-log".into(),
                ]);
            }
        }
        let out = std::fs::File::create(dir.join(format!("{}-{port}.out", kind.name()))).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", kind.name()));
        let log = match kind {
            Kind::Homedrop => dir.join(format!("{}-{port}.out", kind.name())),
            Kind::Coturn => log,
        };
        let server = Server {
            kind,
            port,
            child,
            log,
        };
        server.wait_ready(ns, ip);
        server
    }

    fn wait_ready(&self, ns: &str, ip: &str) {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let out = Command::new("ip")
                // stunclient never retransmits: a request sent before the
                // server listened would hang it.
                .args([
                    "netns",
                    "exec",
                    ns,
                    "timeout",
                    "2",
                    "turnutils_stunclient",
                    "-p",
                ])
                .arg(self.port.to_string())
                .arg(ip)
                .output()
                .expect("turnutils_stunclient");
            if String::from_utf8_lossy(&out.stdout).contains("UDP reflexive addr") {
                return;
            }
            assert!(Instant::now() < end, "{} never answered", self.kind.name());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The TLS port (TURN over TLS) for uclient `-S`.
    pub fn tls_port(&self) -> u16 {
        self.port + 2
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU seconds so far (all threads).
    pub fn cpu_secs(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        procfs::cpu_ticks(&stat).unwrap() as f64 / TICKS
    }

    /// Peak resident set size (VmHWM) in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        procfs::status_kib(self.pid(), "VmHWM:").unwrap_or(0)
    }

    /// homedrop only: SIGTERM, wait for the drained exit, return its final
    /// relay counters line ("relay stopped; Stats { .. }").
    pub fn stop(mut self) -> String {
        // SAFETY: plain kill(2) on the pid of the child this bench started.
        unsafe { libc::kill(self.pid() as i32, libc::SIGTERM) };
        let end = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(50));
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        text.lines()
            .find(|l| l.contains("relay stopped"))
            .unwrap_or("")
            .to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The number after `key` in a `Stats { .. }` debug line.
pub fn stat_field(line: &str, key: &str) -> Option<u64> {
    let at = line.find(&format!("{key}: "))? + key.len() + 2;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// TURN REST credentials valid for an hour (same scheme for both servers).
pub fn credentials(id: &str) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    homedrop::relay::issue_credentials(SECRET.as_bytes(), id, now, Duration::from_secs(3600))
}
