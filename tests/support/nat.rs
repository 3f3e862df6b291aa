//! A home, the internet and a relative behind NAT, in network namespaces the tests create
//! (and always delete), for the relay's end-to-end tests.
//!
//! ```text
//!  home hosts h0, h1 ── br0 ┐                                  ┌── relative 10.9.9.2
//!  192.168.77.11, .12       home ns ── wan ── internet ns ── rel router ns (masquerade)
//!  homedrop: 192.168.77.1 (br0), 198.51.100.1 (wan)  198.51.100.254    203.0.113.1 / 10.9.9.1
//!                                                    203.0.113.254
//! ```
//!
//! The home namespace is homedrop's machine and the home router in one: homedrop answers on
//! its WAN address as if the router forwarded the HTTP and TURN ports to it, and the LAN is
//! masqueraded. The WAN link is point to point (/32) so the internet's address is not
//! "on-link" for homedrop: a stranger there is a stranger, not a home device. The relative's
//! router masquerades like a consumer router (address-dependent filtering: nothing reaches
//! the relative that it did not send to first). `isolate()` turns on client isolation on the
//! home bridge: frames between home hosts are dropped, traffic to homedrop passes.

use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};

use super::netns::{forwarding, ip, nft, sh, spawn_in, teardown};

/// homedrop's LAN address (on the home bridge) and its WAN ("public") address.
pub const HOME_LAN_IP: &str = "192.168.77.1";
pub const HOME_WAN_IP: &str = "198.51.100.1";
/// The internet namespace's address towards the home (a stranger's source address).
pub const INTERNET_IP: &str = "198.51.100.254";
/// The relative's router WAN address (what homedrop sees for the relative).
pub const RELATIVE_PUBLIC_IP: &str = "203.0.113.1";

/// The namespaces of one topology; deleted (and processes started in them killed) on drop.
pub struct Nat {
    pub home: String,
    /// Home hosts on the bridge (h0 = 192.168.77.11, h1 = .12).
    pub hosts: Vec<String>,
    pub internet: String,
    pub router: String,
    pub relative: String,
    children: Vec<Child>,
}

impl Nat {
    /// Build the topology with `home_hosts` hosts on the home bridge.
    pub fn new(home_hosts: usize) -> Nat {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let tag = format!(
            "{}{}",
            std::process::id() % 100_000,
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let nat = Nat {
            home: format!("hdnh{tag}"),
            hosts: (0..home_hosts).map(|i| format!("hdnh{tag}h{i}")).collect(),
            internet: format!("hdni{tag}"),
            router: format!("hdnr{tag}"),
            relative: format!("hdnv{tag}"),
            children: Vec::new(),
        };
        let all: Vec<String> = nat.namespaces();
        for ns in &all {
            sh(&["ip", "netns", "add", ns]);
            ip(ns, "link set lo up");
        }
        nat.wire_home();
        nat.wire_internet();
        nat.wire_relative();
        nat
    }

    fn namespaces(&self) -> Vec<String> {
        let mut v = vec![self.home.clone()];
        v.extend(self.hosts.iter().cloned());
        v.extend([
            self.internet.clone(),
            self.router.clone(),
            self.relative.clone(),
        ]);
        v
    }

    /// The home bridge with its hosts, and the masquerade towards the WAN.
    fn wire_home(&self) {
        let home = &self.home;
        ip(home, "link add br0 type bridge");
        ip(home, &format!("addr add {HOME_LAN_IP}/24 dev br0"));
        ip(home, "link set br0 up");
        for (i, host) in self.hosts.iter().enumerate() {
            ip(
                home,
                &format!("link add p{i} type veth peer name eth0 netns {host}"),
            );
            ip(home, &format!("link set p{i} master br0"));
            ip(home, &format!("link set p{i} up"));
            ip(host, &format!("addr add 192.168.77.{}/24 dev eth0", 11 + i));
            ip(host, "link set eth0 up");
            ip(host, &format!("route add default via {HOME_LAN_IP}"));
        }
        forwarding(home);
        nft(
            home,
            r#"table ip hdhome {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" ip saddr 192.168.77.0/24 masquerade; }
}"#,
        );
    }

    /// The internet: routes between the home's WAN and the relative's router.
    fn wire_internet(&self) {
        let (home, inet, router) = (&self.home, &self.internet, &self.router);
        ip(
            home,
            &format!("link add wan type veth peer name home netns {inet}"),
        );
        ip(
            home,
            &format!("addr add {HOME_WAN_IP} peer {INTERNET_IP} dev wan"),
        );
        ip(home, "link set wan up");
        ip(home, &format!("route add default via {INTERNET_IP}"));
        ip(
            inet,
            &format!("addr add {INTERNET_IP} peer {HOME_WAN_IP} dev home"),
        );
        ip(inet, "link set home up");
        ip(
            inet,
            &format!("link add rel type veth peer name wan netns {router}"),
        );
        ip(inet, "addr add 203.0.113.254/24 dev rel");
        ip(inet, "link set rel up");
        forwarding(inet);
    }

    /// The relative's home: one host behind a masquerading router.
    fn wire_relative(&self) {
        let (router, rel) = (&self.router, &self.relative);
        ip(router, &format!("addr add {RELATIVE_PUBLIC_IP}/24 dev wan"));
        ip(router, "link set wan up");
        ip(router, "route add default via 203.0.113.254");
        ip(
            router,
            &format!("link add lan type veth peer name eth0 netns {rel}"),
        );
        ip(router, "addr add 10.9.9.1/24 dev lan");
        ip(router, "link set lan up");
        ip(rel, "addr add 10.9.9.2/24 dev eth0");
        ip(rel, "link set eth0 up");
        ip(rel, "route add default via 10.9.9.1");
        forwarding(router);
        nft(
            router,
            r#"table ip hdrel {
  chain postrouting { type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade; }
  chain forward { type filter hook forward priority filter; policy drop;
    ct state established,related accept
    iifname "lan" accept; }
}"#,
        );
    }

    /// Client isolation on the home bridge: frames between home hosts are dropped (the
    /// bridge's forward hook sees only host-to-host frames); traffic to and from homedrop's
    /// own address is delivered locally and passes.
    pub fn isolate(&self) {
        nft(
            &self.home,
            "table bridge hdiso {\n  chain isolate { type filter hook forward priority 0; policy accept; drop; }\n}\n",
        );
    }

    /// Drop STUN/TURN (port 3478, UDP and TCP) on its way into homedrop: browsers gather no
    /// relay candidates. Undone by [`Nat::unblock_relay`].
    pub fn block_relay(&self) {
        nft(
            &self.home,
            "table inet hdnorelay {\n  chain input { type filter hook input priority 0; policy accept;\n    udp dport 3478 drop; tcp dport 3478 drop; }\n}\n",
        );
    }

    pub fn unblock_relay(&self) {
        sh(&[
            "ip",
            "netns",
            "exec",
            &self.home,
            "nft",
            "delete",
            "table",
            "inet",
            "hdnorelay",
        ]);
    }

    /// No UDP at all in and out of namespace `ns` (loopback aside): a network that blocks UDP.
    pub fn block_udp(&self, ns: &str) {
        nft(
            ns,
            "table inet hdnoudp {\n  chain output { type filter hook output priority 0; policy accept;\n    oifname != \"lo\" meta l4proto udp drop; }\n  chain input { type filter hook input priority 0; policy accept;\n    iifname != \"lo\" meta l4proto udp drop; }\n}\n",
        );
    }

    /// Start a process in namespace `ns`; killed when the topology is dropped.
    pub fn spawn(&mut self, ns: &str, program: &str, args: &[&str]) -> u32 {
        let child = spawn_in(ns, program, args);
        let pid = child.id();
        self.children.push(child);
        pid
    }
}

impl Drop for Nat {
    fn drop(&mut self) {
        let names = self.namespaces();
        teardown(&mut self.children, &names);
    }
}
