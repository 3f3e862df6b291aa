//! Network namespaces the tests create (and always delete) for LAN topologies.
//!
//! `Lan::new(n)` makes a "router" namespace holding a bridge at 10.X.0.1/24 (where homedrop
//! runs) and `n` host namespaces at 10.X.0.2.. each with a veth into the bridge and a default
//! route (Chromium gathers no ICE candidates without one). Pages are then served from a
//! private, non-loopback address: exactly the insecure context phones get.

use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::delayline::DelayLine;

/// `ip -n <ns> <args>` (`args` split at whitespace), panicking with its stderr on failure.
pub fn ip(ns: &str, args: &str) {
    let mut v = vec!["ip", "-n", ns];
    v.extend(args.split_whitespace());
    sh(&v);
}

/// Start `program` inside namespace `ns` (stdin and stdout closed, stderr inherited).
pub fn spawn_in(ns: &str, program: &str, args: &[&str]) -> Child {
    Command::new("ip")
        .args(["netns", "exec", ns, program])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn in namespace")
}

/// Kill and reap `children`, then delete namespaces `names` (errors ignored: teardown).
pub fn teardown<'a>(children: &mut [Child], names: impl IntoIterator<Item = &'a String>) {
    for c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    for ns in names {
        let _ = Command::new("ip").args(["netns", "del", ns]).status();
    }
}

/// Wait until the links of namespace `ns` have stopped changing: every interface but `lo` has
/// carrier and (IPv6 on) a usable, not tentative, link-local address. A fresh veth gets its
/// carrier about 1 s after `link set up` and its link-local address about 1 s later
/// (`ip monitor`); a browser started in the namespace before then may see the change as a
/// network change and fail every request in flight with ERR_NETWORK_CHANGED. A full test run
/// saw exactly that: a page opened about 1 s after its namespace was made lost 17 modules or more,
/// with nothing else changing in that namespace.
pub fn wait_settled(ns: &str) {
    fn name_of(l: &str) -> Option<&str> {
        l.split(": ")
            .nth(1)
            .map(|n| n.split('@').next().unwrap_or(n))
    }
    let end = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let links = Command::new("ip")
            .args(["-n", ns, "-o", "link", "show"])
            .output()
            .expect("ip link show");
        let addrs = Command::new("ip")
            .args(["-n", ns, "-o", "-6", "addr", "show"])
            .output()
            .expect("ip addr show");
        let links = String::from_utf8_lossy(&links.stdout).into_owned();
        let addrs = String::from_utf8_lossy(&addrs.stdout).into_owned();
        // No ::1 on lo: IPv6 is off in this namespace and no link-local will come.
        let v6 = addrs
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("lo"));
        let pending: Vec<&str> = links
            .lines()
            // Links the test brought up (a fallback tunnel such as sit0 stays down).
            .filter(|l| name_of(l) != Some("lo") && (l.contains("<UP") || l.contains(",UP")))
            .filter(|l| {
                let name = name_of(l);
                let ll = !v6
                    || addrs.lines().any(|a| {
                        a.split_whitespace().nth(1) == name
                            && a.contains("scope link")
                            && !a.contains("tentative")
                    });
                !(l.contains("state UP") && ll)
            })
            .filter_map(name_of)
            .collect();
        if pending.is_empty() {
            return;
        }
        assert!(
            std::time::Instant::now() < end,
            "links of {ns} still settling after 15 s: {pending:?}\n{links}{addrs}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `Udp: RcvbufErrors` of namespace `ns` (0 when unreadable): datagrams the kernel dropped
/// because a socket's receive buffer was full.
pub fn rcvbuf_errors(ns: &str) -> u64 {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "cat", "/proc/net/snmp"])
        .output()
        .expect("read /proc/net/snmp");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut udp = text.lines().filter(|l| l.starts_with("Udp: "));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    let at = names.split_whitespace().position(|n| n == "RcvbufErrors");
    at.and_then(|i| values.split_whitespace().nth(i)?.parse().ok())
        .unwrap_or(0)
}

/// Load nftables `ruleset` (`nft -f -` syntax) in namespace `ns`, panicking with nft's stderr.
pub fn nft(ns: &str, ruleset: &str) {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nft");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ruleset.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "nft in {ns}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run a command, panicking with its stderr on failure.
pub fn sh(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bridge LAN in namespaces.
pub struct Lan {
    pub router: String,
    pub hosts: Vec<String>,
    pub subnet: u8,
    children: Vec<Child>,
    lines: Vec<DelayLine>,
}

impl Lan {
    pub fn new(n: usize) -> Lan {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let tag = format!("{}{}", std::process::id() % 100_000, seq);
        let subnet = (100 + (std::process::id() + seq * 7) % 100) as u8;
        let router = format!("hdr{tag}");
        let mut lan = Lan {
            router: router.clone(),
            hosts: Vec::new(),
            subnet,
            children: Vec::new(),
            lines: Vec::new(),
        };
        sh(&["ip", "netns", "add", &router]);
        ip(&router, "link set lo up");
        ip(&router, "link add br0 type bridge");
        ip(&router, &format!("addr add 10.{subnet}.0.1/24 dev br0"));
        ip(&router, "link set br0 up");
        for i in 0..n {
            let host = format!("hdh{tag}x{i}");
            sh(&["ip", "netns", "add", &host]);
            lan.hosts.push(host.clone());
            ip(
                &router,
                &format!("link add p{i} type veth peer name eth0 netns {host}"),
            );
            ip(&router, &format!("link set p{i} master br0"));
            ip(&router, &format!("link set p{i} up"));
            ip(&host, "link set lo up");
            ip(
                &host,
                &format!("addr add 10.{subnet}.0.{}/24 dev eth0", i + 2),
            );
            ip(&host, "link set eth0 up");
            ip(&host, &format!("route add default via 10.{subnet}.0.1"));
        }
        lan
    }

    /// The router's (homedrop's) address.
    pub fn server_ip(&self) -> String {
        format!("10.{}.0.1", self.subnet)
    }

    /// Add `ms` of delay each way on a host's link: the host's port leaves the bridge and a
    /// user-space delay line (`delayline.rs`; this kernel has no netem qdisc) joins it back.
    pub fn delay(&mut self, host: usize, ms: u32) {
        let r = &self.router.clone();
        let (port, near, far) = (format!("p{host}"), format!("d{host}a"), format!("d{host}b"));
        sh(&["ip", "-n", r, "link", "set", &port, "nomaster"]);
        sh(&[
            "ip", "-n", r, "link", "add", &near, "type", "veth", "peer", "name", &far,
        ]);
        sh(&["ip", "-n", r, "link", "set", &near, "master", "br0"]);
        for dev in [&port, &near, &far] {
            sh(&["ip", "-n", r, "link", "set", dev, "up", "promisc", "on"]);
        }
        for dev in [&port, &near, &far, &"br0".to_string()] {
            no_offloads(r, dev);
        }
        no_offloads(&self.hosts[host].clone(), "eth0");
        let line = DelayLine::start(r, &port, &far, Duration::from_millis(ms.into()))
            .expect("start the delay line");
        self.lines.push(line);
    }

    /// Start a process inside the router namespace; killed when the LAN is dropped.
    pub fn spawn_in_router(&mut self, program: &str, args: &[&str]) -> u32 {
        let child = spawn_in(&self.router, program, args);
        let pid = child.id();
        self.children.push(child);
        pid
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        self.lines.clear();
        let names = self.hosts.iter().chain(std::iter::once(&self.router));
        teardown(&mut self.children, names);
    }
}

/// Frames cross the delay line as captured: checksums must be complete (no tx offload) and
/// no frame may exceed the MTU (no segmentation offloads).
pub fn no_offloads(ns: &str, dev: &str) {
    sh(&[
        "ip", "netns", "exec", ns, "ethtool", "-K", dev, "tx", "off", "tso", "off", "gso", "off",
        "gro", "off",
    ]);
}

/// IPv4 forwarding on in namespace `ns` (a router).
pub fn forwarding(ns: &str) {
    sh(&[
        "ip",
        "netns",
        "exec",
        ns,
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
    ]);
}

/// Run `f` on a thread that has entered namespace `ns` (sockets it opens stay there, so a
/// test can talk from "the internet" of `nat.rs` with ordinary std/tokio sockets).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    spawn_in_netns(ns, f).join().expect("thread in namespace")
}

/// Start `f` on a new thread inside namespace `ns`.
pub fn spawn_in_netns<T: Send + 'static>(
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // SAFETY: setns(2) on a namespace fd we own; it changes only this thread.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
}
