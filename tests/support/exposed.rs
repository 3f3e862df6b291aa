//! homedrop facing the internet, in network namespaces the tests create (and always delete),
//! for the attack tests (`tests/attacks.rs`).
//!
//! ```text
//!  household 192.168.S.2 ── lan0 ┐
//!                               server ns: homedrop, 192.168.S.1/24 (lan0),
//!  internet ── wan0 (/32 links) ┘            198.51.100.1 and 2001:db8:1::1 (wan0)
//!  198.51.100.254, fe80::2; its lo holds 203.0.113.0/24 and 2001:db8:78::/64 … 2001:db8:7f::/64
//! ```
//!
//! The internet namespace owns whole public ranges through `local` routes on its `lo`
//! (and `ip_nonlocal_bind`), so one test process can open connections from any address of
//! 203.0.113.0/24 or of eight IPv6 /64s: a crowd of strangers, or one attacker rotating
//! addresses inside a /64. The WAN link is point to point, so none of these is on-link for
//! homedrop: they are the internet, not the household. homedrop listens on `[::]` (both
//! families) with its defaults otherwise: what `--public-host` deployments run.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::netns::{ip, sh, spawn_in_netns, teardown, wait_settled};
use super::ws::{tcp_from_with, Ws};
use super::TempDir;

/// homedrop's WAN addresses (what a relative types, what `--public-host` names).
pub const WAN_V4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const WAN_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
/// The HTTP port homedrop listens on inside the server namespace.
pub const HTTP_PORT: u16 = 8080;
/// Its STUN/TURN port.
pub const TURN_PORT: u16 = 3478;

/// The `n`-th address of the strangers' IPv4 range 203.0.113.0/24 (`n` < 254).
pub fn stranger_v4(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, n.saturating_add(1)))
}

/// The `n`-th extra household address (10.77.0.0/16, private: the home group).
pub fn household_v4(n: u16) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 77, (n / 250) as u8, (1 + n % 250) as u8))
}

/// Address `host` inside IPv6 /64 number `net` (0..8) of the internet namespace.
pub fn stranger_v6(net: u16, host: u64) -> IpAddr {
    let prefix: u128 = (0x2001_0db8_0078_0000u128 + u128::from(net)) << 64;
    IpAddr::V6(Ipv6Addr::from(prefix | u128::from(host)))
}

/// Where a connection comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The household's LAN.
    Home,
    /// The internet namespace (strangers, relatives, attackers).
    Internet,
}

/// The namespaces and the running binary; all removed on drop.
pub struct Exposed {
    pub server: String,
    pub home: String,
    pub internet: String,
    /// The household device's address.
    pub home_ip: IpAddr,
    /// homedrop's LAN address.
    pub lan_ip: IpAddr,
    pub pid: u32,
    children: Vec<Child>,
    _state: TempDir,
}

impl Exposed {
    /// Build the topology and start the release binary with `extra` flags.
    pub fn start(extra: &[&str]) -> Exposed {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{}", std::process::id() % 100_000, seq);
        let s = (150 + (std::process::id() + seq * 11) % 90) as u8;
        let (server, home, internet) = (
            format!("hdxs{tag}"),
            format!("hdxh{tag}"),
            format!("hdxi{tag}"),
        );
        for ns in [&server, &home, &internet] {
            sh(&["ip", "netns", "add", ns]);
            ip(ns, "link set lo up");
        }
        let state = TempDir::new("exposed");
        let mut me = Exposed {
            server: server.clone(),
            home: home.clone(),
            internet: internet.clone(),
            home_ip: format!("192.168.{s}.2").parse().unwrap(),
            lan_ip: format!("192.168.{s}.1").parse().unwrap(),
            pid: 0,
            children: Vec::new(),
            _state: state,
        };
        me.wire_home(s);
        me.wire_internet();
        for ns in [&server, &home, &internet] {
            wait_settled(ns);
        }
        me.launch(extra);
        me
    }

    fn wire_home(&self, s: u8) {
        let (sv, home) = (&self.server, &self.home);
        ip(
            sv,
            &format!("link add lan0 type veth peer name eth0 netns {home}"),
        );
        ip(sv, &format!("addr add 192.168.{s}.1/24 dev lan0"));
        ip(sv, "link set lan0 up");
        ip(home, &format!("addr add 192.168.{s}.2/24 dev eth0"));
        ip(home, "link set eth0 up");
        ip(home, &format!("route add default via 192.168.{s}.1"));
        // More household devices: the household namespace owns 10.77.0.0/16 too.
        ip(
            sv,
            &format!("route add 10.77.0.0/16 via 192.168.{s}.2 dev lan0"),
        );
        ip(home, "route add local 10.77.0.0/16 dev lo");
        sh(&[
            "ip",
            "netns",
            "exec",
            home,
            "sysctl",
            "-qw",
            "net.ipv4.ip_nonlocal_bind=1",
        ]);
    }

    fn wire_internet(&self) {
        let (sv, net) = (&self.server, &self.internet);
        ip(
            sv,
            &format!("link add wan0 type veth peer name eth0 netns {net}"),
        );
        ip(sv, "addr add 198.51.100.1/32 dev wan0");
        ip(sv, "-6 addr add 2001:db8:1::1/128 dev wan0 nodad");
        ip(sv, "-6 addr add fe80::1/64 dev wan0 nodad");
        ip(sv, "link set wan0 up");
        ip(sv, "route add 198.51.100.254/32 dev wan0");
        ip(sv, "route add 203.0.113.0/24 via 198.51.100.254 dev wan0");
        ip(sv, "-6 route add 2001:db8:78::/45 via fe80::2 dev wan0");
        ip(net, "addr add 198.51.100.254/32 dev eth0");
        ip(net, "-6 addr add fe80::2/64 dev eth0 nodad");
        ip(net, "link set eth0 up");
        ip(net, "route add 198.51.100.1/32 dev eth0");
        ip(net, "route add default via 198.51.100.1 dev eth0");
        ip(net, "-6 route add 2001:db8:1::1/128 via fe80::1 dev eth0");
        ip(net, "route add local 203.0.113.0/24 dev lo");
        ip(net, "-6 route add local 2001:db8:78::/45 dev lo");
        for knob in ["net.ipv4.ip_nonlocal_bind=1", "net.ipv6.ip_nonlocal_bind=1"] {
            sh(&["ip", "netns", "exec", net, "sysctl", "-qw", knob]);
        }
    }

    fn launch(&mut self, extra: &[&str]) {
        let state = self._state.0.to_string_lossy().to_string();
        let http = format!("[::]:{HTTP_PORT}");
        let turn = format!("0.0.0.0:{TURN_PORT}");
        let mut args = vec![
            "--http",
            &http,
            "--turn",
            &turn,
            "--no-mdns",
            "--no-probe",
            "--state-dir",
            &state,
            "--relay-ip",
            "198.51.100.1",
            "--public-host",
            "198.51.100.1",
            "--log",
            "warn",
        ];
        args.extend_from_slice(extra);
        let bin = super::release_binary();
        let child = super::netns::spawn_in(&self.server, bin.to_str().unwrap(), &args);
        self.pid = child.id();
        self.children.push(child);
        let target = SocketAddr::new(self.lan_ip, HTTP_PORT);
        let ok = self.in_home(move || {
            let end = Instant::now() + Duration::from_secs(20);
            while Instant::now() < end {
                if std::net::TcpStream::connect_timeout(&target, Duration::from_millis(200)).is_ok()
                {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            false
        });
        assert!(ok, "homedrop did not listen on {target} within 20 s");
    }

    /// The page's address for the household (LAN) and for the internet (WAN).
    pub fn lan_http(&self) -> SocketAddr {
        SocketAddr::new(self.lan_ip, HTTP_PORT)
    }
    pub fn wan_http(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(WAN_V4), HTTP_PORT)
    }
    pub fn wan_http_v6(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V6(WAN_V6), HTTP_PORT)
    }

    /// Run `f` (a tokio runtime of its own) inside the household's namespace.
    pub fn in_home<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        spawn_in_netns(&self.home, f)
            .join()
            .expect("household thread")
    }

    /// Run `f` inside the internet's namespace.
    pub fn in_internet<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        spawn_in_netns(&self.internet, f)
            .join()
            .expect("internet thread")
    }

    /// Start `f` inside the internet's namespace without waiting for it.
    pub fn spawn_internet<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        spawn_in_netns(&self.internet, f)
    }

    /// A TCP connection from `from` (an address of `side`'s namespace) to `to`, made on a
    /// thread inside that namespace and handed to the caller's runtime: a socket stays in
    /// the namespace it was made in, so the whole test can run on one runtime.
    pub async fn tcp(
        &self,
        side: Side,
        from: IpAddr,
        to: SocketAddr,
    ) -> std::io::Result<TcpStream> {
        self.tcp_with(side, from, to, None).await
    }

    /// [`Exposed::tcp`] with a small receive buffer (see [`tcp_from_with`]).
    pub async fn tcp_with(
        &self,
        side: Side,
        from: IpAddr,
        to: SocketAddr,
        rcvbuf: Option<u32>,
    ) -> std::io::Result<TcpStream> {
        let ns = self.ns(side).to_string();
        let std = tokio::task::spawn_blocking(move || {
            spawn_in_netns(&ns, move || {
                runtime().block_on(async move { tcp_from_with(from, to, rcvbuf).await?.into_std() })
            })
            .join()
            .expect("socket thread")
        })
        .await
        .expect("socket task")?;
        TcpStream::from_std(std)
    }

    /// A signaling tab from `from` on `side` to `to` (Host: `to`, no Origin) that said
    /// `hello` as `name`.
    pub async fn tab(&self, side: Side, from: IpAddr, to: SocketAddr, name: &str) -> Ws {
        let s = self.tcp(side, from, to).await.expect("connect");
        let mut ws = Ws::over(s, &to.to_string(), None)
            .await
            .unwrap_or_else(|st| panic!("tab from {from} refused: {st}"));
        ws.hello(name).await;
        ws
    }

    fn ns(&self, side: Side) -> &str {
        match side {
            Side::Home => &self.home,
            Side::Internet => &self.internet,
        }
    }

    /// homedrop's resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        super::procfs::status_kib(self.pid, "VmRSS:").expect("VmRSS")
    }

    /// Is the binary still running?
    pub fn alive(&mut self) -> bool {
        matches!(self.children[0].try_wait(), Ok(None))
    }
}

impl Drop for Exposed {
    fn drop(&mut self) {
        let names = [
            self.server.clone(),
            self.home.clone(),
            self.internet.clone(),
        ];
        teardown(&mut self.children, names.iter());
    }
}

/// A current-thread tokio runtime for a namespace thread.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
