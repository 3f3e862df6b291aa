//! A home router in namespaces for the router-mapping tests: miniupnpd (nftables backend)
//! as the router, homedrop (the release binary) and a second device on its LAN, and an
//! "internet" host on its WAN side.
//!
//! ```text
//!  homedrop 192.168.S.2 ─┐                                   
//!  lan host 192.168.S.3 ─┴ br0 192.168.S.1  router ns  wan WAN.1 ── internet ns WAN.2
//! ```
//!
//! miniupnpd refuses private and test-net WAN addresses (RFC 1918, 100.64/10, the
//! documentation nets), so the WAN is a routable-looking 81.2.S.0/24 unless a test asks for
//! another one (the carrier-grade case gives 100.64.S.1). The router masquerades the LAN and
//! forwards everything; miniupnpd's chains are made beforehand, as its `nft_init.sh` would.
//! Every namespace starts with `hdpm` and is deleted on drop, with every process started.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::netns::{forwarding, in_netns, ip, nft, sh, teardown, wait_settled};
use super::relative::Relative;
use super::TempDir;

/// Which mapping protocols the router runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    /// miniupnpd with UPnP IGD and NAT-PMP/PCP.
    Both,
    /// miniupnpd with NAT-PMP/PCP only (`enable_upnp=no`).
    PmpOnly,
    /// miniupnpd with UPnP IGD only (`enable_natpmp=no`).
    UpnpOnly,
    /// No miniupnpd at all: a router that maps nothing.
    None,
}

pub struct Home {
    pub router: String,
    /// homedrop's namespace.
    pub server: String,
    /// Another device at home.
    pub lan_host: String,
    pub internet: String,
    /// The router's WAN address.
    pub wan_ip: String,
    /// homedrop's LAN address.
    pub server_ip: String,
    pub homedrop_pid: u32,
    /// A relative's masquerading router and the relative behind it ([`Home::add_relative`]).
    pub relative: Option<Relative>,
    tag: String,
    children: Vec<Child>,
    homedrop: Option<Child>,
    pub dir: TempDir,
}

impl Home {
    /// The namespaces and the router; `wan_prefix` like "81.2" (the WAN is PREFIX.S.0/24).
    pub fn new(daemon: Daemon, wan_prefix: &str) -> Home {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{}", std::process::id() % 100_000, seq);
        let s = 10 + (std::process::id() + seq * 13) % 200;
        let mut home = Home {
            router: format!("hdpmr{tag}"),
            server: format!("hdpms{tag}"),
            lan_host: format!("hdpml{tag}"),
            internet: format!("hdpmi{tag}"),
            wan_ip: format!("{wan_prefix}.{s}.1"),
            server_ip: format!("192.168.{s}.2"),
            homedrop_pid: 0,
            relative: None,
            tag: tag.clone(),
            children: Vec::new(),
            homedrop: None,
            dir: TempDir::new("portmap"),
        };
        for ns in home.names() {
            sh(&["ip", "netns", "add", &ns]);
            ip(&ns, "link set lo up");
        }
        home.wire(s, wan_prefix);
        for ns in home.names() {
            wait_settled(&ns);
        }
        if daemon != Daemon::None {
            home.start_miniupnpd(s, daemon);
        }
        home
    }

    /// This topology's namespace suffix.
    pub fn tag(&self) -> String {
        self.tag.clone()
    }

    fn names(&self) -> Vec<String> {
        let mut names = vec![
            self.router.clone(),
            self.server.clone(),
            self.lan_host.clone(),
            self.internet.clone(),
        ];
        if let Some(r) = &self.relative {
            names.extend([r.router.clone(), r.host.clone()]);
        }
        names
    }

    fn wire(&self, s: u32, wan_prefix: &str) {
        let r = &self.router;
        ip(r, "link add br0 type bridge");
        ip(r, &format!("addr add 192.168.{s}.1/24 dev br0"));
        ip(r, "link set br0 up");
        for (i, host) in [&self.server, &self.lan_host].into_iter().enumerate() {
            ip(
                r,
                &format!("link add p{i} type veth peer name eth0 netns {host}"),
            );
            ip(r, &format!("link set p{i} master br0"));
            ip(r, &format!("link set p{i} up"));
            ip(host, &format!("addr add 192.168.{s}.{}/24 dev eth0", i + 2));
            ip(host, "link set eth0 up");
            ip(host, &format!("route add default via 192.168.{s}.1"));
        }
        let inet = &self.internet;
        ip(
            r,
            &format!("link add wan type veth peer name eth0 netns {inet}"),
        );
        ip(r, &format!("addr add {}/24 dev wan", self.wan_ip));
        ip(r, "link set wan up");
        ip(inet, &format!("addr add {wan_prefix}.{s}.2/24 dev eth0"));
        ip(inet, "link set eth0 up");
        ip(r, &format!("route add default via {wan_prefix}.{s}.2"));
        forwarding(r);
        // miniupnpd's nftables backend fills these chains (its defaults: table inet filter).
        nft(
            r,
            &format!(
                r#"table inet filter {{
  chain forward {{ type filter hook forward priority 0; policy accept; jump miniupnpd; }}
  chain miniupnpd {{ }}
  chain prerouting {{ type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }}
  chain postrouting {{ type nat hook postrouting priority 100; policy accept;
    oifname "wan" ip saddr 192.168.{s}.0/24 masquerade; jump postrouting_miniupnpd; }}
  chain prerouting_miniupnpd {{ }}
  chain postrouting_miniupnpd {{ }}
}}"#
            ),
        );
    }

    fn start_miniupnpd(&mut self, s: u32, daemon: Daemon) {
        let conf = self.dir.0.join("miniupnpd.conf");
        let upnp = if daemon == Daemon::PmpOnly {
            "no"
        } else {
            "yes"
        };
        let natpmp = if daemon == Daemon::UpnpOnly {
            "no"
        } else {
            "yes"
        };
        let text = format!(
            "ext_ifname=wan\nlistening_ip=br0\nhttp_port=0\nenable_natpmp={natpmp}\nenable_upnp={upnp}\n\
             secure_mode=yes\nsystem_uptime=yes\nmin_lifetime=10\nmax_lifetime=86400\n\
             lease_file={}\nuuid=3d3cec3a-8cf0-11e0-98ee-00{s:010}\n\
             allow 1024-65535 192.168.{s}.0/24 1024-65535\ndeny 0-65535 0.0.0.0/0 0-65535\n",
            self.dir.0.join("leases").display()
        );
        std::fs::write(&conf, text).unwrap();
        let log = std::fs::File::create(self.dir.0.join("miniupnpd.log")).unwrap();
        let pid = self.dir.0.join("miniupnpd.pid");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.router, "miniupnpd", "-d", "-f"])
            .arg(&conf)
            .arg("-P")
            .arg(&pid)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start miniupnpd (apt package miniupnpd-nftables)");
        self.children.push(child);
        // It answers once its sockets are bound.
        let ready = if daemon == Daemon::UpnpOnly {
            "HTTP listening"
        } else {
            "Listening for NAT-PMP"
        };
        self.wait_for(Duration::from_secs(10), "miniupnpd listening", || {
            self.miniupnpd_log().contains(ready)
        });
    }

    pub fn miniupnpd_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("miniupnpd.log")).unwrap_or_default()
    }

    /// homedrop's stderr (its journal).
    pub fn homedrop_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("homedrop.log")).unwrap_or_default()
    }

    /// Start the release binary in the server namespace: HTTP 8080, HTTPS 8443, TURN 3478,
    /// mapping on with the shortest lease, plus `extra`.
    pub fn start_homedrop(&mut self, extra: &[&str]) {
        let wan = self.wan_ip.clone();
        let mut args = vec![
            "--https",
            "0.0.0.0:8443",
            "--turn",
            "0.0.0.0:3478",
            "--map-ports",
            "--map-lease",
            "20",
            "--allowed-host",
            &wan,
        ];
        args.extend(extra);
        self.launch_homedrop(&args);
    }

    /// Start the release binary in the server namespace with its defaults (HTTP 8080, TURN
    /// 3478), its own state dir, no mDNS and no connection check, plus `args`.
    pub fn launch_homedrop(&mut self, args: &[&str]) {
        let state = self.dir.0.join("state");
        let log = std::fs::File::create(self.dir.0.join("homedrop.log")).unwrap();
        let bin: PathBuf = super::release_binary();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.server])
            .arg(bin)
            .args(["--no-mdns", "--no-probe", "--log", "info", "--state-dir"])
            .arg(&state)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start homedrop");
        self.homedrop_pid = child.id();
        self.homedrop = Some(child);
    }

    /// SIGTERM to homedrop; waits (at most 10 s) for it to exit and returns its status code.
    pub fn stop_homedrop(&mut self) -> Option<i32> {
        let mut child = self.homedrop.take()?;
        let pid = child.id().to_string();
        sh(&["kill", "-TERM", &pid]);
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        panic!("homedrop did not exit within 10 s of SIGTERM");
    }

    /// Whether homedrop still runs.
    pub fn homedrop_alive(&mut self) -> bool {
        matches!(self.homedrop.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// `/stats` from the other LAN device, parsed.
    pub fn stats(&self) -> serde_json::Value {
        let (status, body) = self.lan_get("/stats");
        assert_eq!(status, 200, "/stats: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("/stats {e}: {body}"))
    }

    /// A plain HTTP GET of homedrop's page server from the other LAN device.
    pub fn lan_get(&self, path: &str) -> (u16, String) {
        let addr: SocketAddr = format!("{}:8080", self.server_ip).parse().unwrap();
        let path = path.to_string();
        in_netns(&self.lan_host, move || http_get(addr, &path))
    }

    /// Poll `/stats` until `portmap.status` is no longer "starting" (at most 20 s).
    pub fn settled_portmap(&self) -> serde_json::Value {
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            let addr: SocketAddr = format!("{}:8080", self.server_ip).parse().unwrap();
            let got = in_netns(&self.lan_host, move || try_http_get(addr, "/stats"));
            if let Some((200, body)) = got {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                let pm = v["portmap"].clone();
                assert!(pm.is_object(), "no portmap in /stats: {body}");
                if pm["status"] != "starting" {
                    return pm;
                }
            }
            assert!(
                Instant::now() < end,
                "the mapping did not settle within 20 s\n{}",
                self.homedrop_log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// miniupnpd's dnat rules (`nft list chain inet filter prerouting_miniupnpd`).
    pub fn dnat_rules(&self) -> Vec<String> {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.router,
                "nft",
                "list",
                "chain",
                "inet",
                "filter",
            ])
            .arg("prerouting_miniupnpd")
            .output()
            .expect("nft list chain");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("dnat"))
            .map(|l| l.trim().to_string())
            .collect()
    }

    pub fn wait_for(&self, within: Duration, what: &str, mut ok: impl FnMut() -> bool) {
        let end = Instant::now() + within;
        while !ok() {
            assert!(
                Instant::now() < end,
                "{what}: not within {within:?}\nhomedrop:\n{}\nminiupnpd:\n{}",
                self.homedrop_log(),
                self.miniupnpd_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        if let Some(mut c) = self.homedrop.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let names = self.names();
        teardown(&mut self.children, names.iter());
    }
}

/// GET over plain HTTP/1.1 (`Connection: close`); `None` when nothing answered.
pub fn try_http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    read_response(&mut s)
}

pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    try_http_get(addr, path).unwrap_or_else(|| panic!("no answer from {addr}{path}"))
}

/// Status and body of a whole response read to its end.
pub fn read_response(s: &mut impl Read) -> Option<(u16, String)> {
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    Some((status, body.to_string()))
}
