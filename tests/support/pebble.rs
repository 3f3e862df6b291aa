//! pebble (the ACME test CA) and pebble-challtestsrv (its DNS) in a network namespace of
//! their own, for tests/acme.rs; openssl clients that verify what homedrop serves.
//!
//! Layout: namespace `acme<N>` with pebble (ACME on 10.77.N.2:14000, its own HTTPS with a CA
//! made here, management with its root on :15000) and challtestsrv (DNS on 10.77.N.2:8053
//! answering every name with 10.77.N.1); the veth's other end, 10.77.N.1, stays in the
//! test's namespace, where homedrop runs. Validation reaches homedrop's TLS port there.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslMethod, SslStream};

use super::TempDir;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// pebble and its DNS in their namespace; everything removed on drop.
pub struct Pebble {
    /// The namespace pebble made for itself (removed on drop), if it made one.
    own_ns: Option<String>,
    /// homedrop's side of the veth.
    pub host_dev: String,
    children: Vec<Child>,
    /// The address homedrop has on the veth (what the fake DNS answers).
    pub home: IpAddr,
    pub directory: String,
    /// The CA of pebble's own HTTPS (for `--acme-ca`).
    pub ca: PathBuf,
    /// The root pebble issues under (PEM), for clients verifying homedrop.
    pub root: PathBuf,
    _dir: TempDir,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(ns) = &self.own_ns {
            quiet(&["ip", "link", "del", &self.host_dev]);
            quiet(&["ip", "netns", "del", ns]);
        }
    }
}

/// Runs a clean-up command, whatever it says.
pub fn quiet(args: &[&str]) {
    let _ = Command::new(args[0]).args(&args[1..]).output();
}

pub fn run(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Namespaces need root: without it the test says so and passes. As root, pebble must be
/// there (scripts/test.sh installs it): its absence fails the test.
pub fn can_run() -> bool {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (network namespaces)");
        return false;
    }
    let found = Command::new("pebble-challtestsrv")
        .arg("-h")
        .output()
        .is_ok()
        && Command::new("pebble").arg("-version").output().is_ok();
    assert!(
        found,
        "pebble is missing: apt-get install pebble (scripts/test.sh does)"
    );
    true
}

/// A CA and a certificate for `ip` it signed: (ca.pem, cert.pem, key.pem) in `dir`.
pub fn pebble_tls(dir: &Path, ip: IpAddr) -> (PathBuf, PathBuf, PathBuf) {
    super::certs::ca_and_leaf(dir, "acme test: pebble's HTTPS CA", &ip.to_string())
}

impl Pebble {
    /// pebble validating on homedrop's TLS port `tls_port`; `validity`: its certificates'
    /// lifetime in seconds (`None`: pebble's default).
    pub fn start(tls_port: u16, validity: Option<u64>) -> Pebble {
        let n = (std::process::id() % 50) * 4 + NEXT.fetch_add(1, Ordering::Relaxed) % 4 + 20;
        let ns = format!("acme{n}");
        let (host_dev, ns_dev) = (format!("acmh{n}"), format!("acmp{n}"));
        let (home, ca_ip) = (format!("10.77.{n}.1"), format!("10.77.{n}.2"));
        quiet(&["ip", "netns", "del", &ns]);
        quiet(&["ip", "link", "del", &host_dev]);
        run(&["ip", "netns", "add", &ns]);
        run(&[
            "ip", "link", "add", &host_dev, "type", "veth", "peer", "name", &ns_dev,
        ]);
        run(&["ip", "link", "set", &ns_dev, "netns", &ns]);
        run(&["ip", "addr", "add", &format!("{home}/24"), "dev", &host_dev]);
        run(&["ip", "link", "set", &host_dev, "up"]);
        for a in [
            format!("addr add {ca_ip}/24 dev {ns_dev}"),
            format!("link set {ns_dev} up"),
            "link set lo up".into(),
        ] {
            let mut v = vec!["ip", "-n", &ns];
            v.extend(a.split(' '));
            run(&v);
        }
        let mut pebble = Pebble::start_in(&ns, &ca_ip, &home, tls_port, validity);
        (pebble.own_ns, pebble.host_dev) = (Some(ns), host_dev);
        pebble
    }

    /// pebble and its DNS in an existing namespace `ns` at its address `ca_ip`, validating
    /// on port `tls_port`; its DNS answers every name with `answer` (what homedrop is
    /// reached at). The namespace stays when pebble goes.
    pub fn start_in(
        ns: &str,
        ca_ip: &str,
        answer: &str,
        tls_port: u16,
        validity: Option<u64>,
    ) -> Pebble {
        let dir = TempDir::new("acme-pebble");
        let (ca, cert, key) = pebble_tls(&dir.0, ca_ip.parse().unwrap());
        let mut config = serde_json::json!({"pebble": {
            "listenAddress": format!("{ca_ip}:14000"),
            "managementListenAddress": format!("{ca_ip}:15000"),
            "certificate": cert, "privateKey": key,
            "httpPort": 5002, "tlsPort": tls_port,
            "ocspResponderURL": "", "externalAccountBindingRequired": false,
        }});
        if let Some(v) = validity {
            config["pebble"]["certificateValidityPeriod"] = v.into();
        }
        let file = dir.0.join("pebble.json");
        std::fs::write(&file, config.to_string()).unwrap();
        let dns = format!("{ca_ip}:8053");
        let spawn = |prog: &str, args: &[&str]| {
            Command::new("ip")
                .args(["netns", "exec", ns, prog])
                .args(args)
                .env("PEBBLE_VA_NOSLEEP", "1")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let mut pebble = Pebble {
            children: vec![],
            home: answer.parse().unwrap(),
            directory: format!("https://{ca_ip}:14000/dir"),
            ca,
            root: dir.0.join("root.pem"),
            _dir: dir,
            own_ns: None,
            host_dev: String::new(),
        };
        pebble.children.push(spawn(
            "pebble-challtestsrv",
            &[
                "-dns01",
                &dns,
                "-http01",
                "",
                "-https01",
                "",
                "-tlsalpn01",
                "",
                "-management",
                &format!("{ca_ip}:8055"),
                "-defaultIPv4",
                answer,
                "-defaultIPv6",
                "",
            ],
        ));
        let file = file.display().to_string();
        pebble
            .children
            .push(spawn("pebble", &["-config", &file, "-dnsserver", &dns]));
        let (ca_ip, ca) = (ca_ip.to_string(), pebble.ca.clone());
        let root = super::netns::in_netns(ns, move || wait_for_root(&ca_ip, &ca));
        std::fs::write(&pebble.root, root).unwrap();
        pebble
    }
}

/// pebble's issuing root from its management port, once it answers.
fn wait_for_root(ca_ip: &str, ca: &Path) -> String {
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let got = https_get(
            &format!("{ca_ip}:15000").parse().unwrap(),
            ca_ip,
            ca,
            "/roots/0",
        );
        match got {
            Ok(body) if body.contains("BEGIN CERTIFICATE") => return body,
            _ if Instant::now() > end => panic!("pebble never served its root: {got:?}"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// An openssl client verifying against `ca` and `name` (a DNS name, or an address).
pub fn tls(addr: &SocketAddr, name: &str, ca: &Path) -> Result<SslStream<TcpStream>, String> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_ca_file(ca).unwrap();
    let tcp =
        TcpStream::connect_timeout(addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    b.build().connect(name, tcp).map_err(|e| e.to_string())
}

pub fn https_get(addr: &SocketAddr, name: &str, ca: &Path, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = tls(addr, name, ca)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: {name}\r\nconnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    Ok(text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default())
}

/// The serial (hex) of the certificate served at `addr` for `name`, verified against `root`.
pub fn served_serial(addr: SocketAddr, name: &str, root: &Path) -> Result<String, String> {
    let s = tls(&addr, name, root)?;
    let cert = s.ssl().peer_certificate().ok_or("no certificate")?;
    Ok(cert
        .serial_number()
        .to_bn()
        .unwrap()
        .to_hex_str()
        .unwrap()
        .to_string())
}
