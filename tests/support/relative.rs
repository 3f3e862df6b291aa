//! A relative somewhere on the internet, behind a consumer router of its own, added to a
//! [`Home`] (`support::router`) for the end-to-end remote-access tests; and the home
//! router's WAN renumbered by the provider.
//!
//! ```text
//!  home router ns  wan WAN.1 ── internet ns WAN.2 / 203.0.113.254 ── rel router 203.0.113.1
//!                                                                    (masquerade) 10.9.9.1
//!                                                                          └─ relative 10.9.9.2
//! ```
//!
//! The relative's router masquerades and lets in only what answers the relative's own
//! traffic (address-dependent filtering), as a home router does; the internet namespace
//! routes between the two WANs. With `block_udp` the relative sends no UDP at all (a hotel
//! or office network): only TCP reaches homedrop. A DNS name for the home is given to the
//! relative's programs through `/etc/netns/<ns>/hosts` (bind-mounted over `/etc/hosts` by
//! `ip netns exec`), removed with the relative.

use std::path::PathBuf;

use super::netns::{forwarding, ip, nft, sh, wait_settled};
use super::router::Home;

/// What homedrop sees as the relative's address: its router's WAN address.
pub const RELATIVE_PUBLIC_IP: &str = "203.0.113.1";

/// The relative's router and the relative's own namespace.
pub struct Relative {
    pub router: String,
    /// The relative's device (where its browser runs).
    pub host: String,
    hosts_dir: Option<PathBuf>,
}

impl Drop for Relative {
    fn drop(&mut self) {
        if let Some(dir) = &self.hosts_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Relative {
    /// The relative's programs resolve `name` to `ip` (its `/etc/hosts`).
    pub fn resolve(&mut self, name: &str, ip: &str) {
        let dir = PathBuf::from("/etc/netns").join(&self.host);
        std::fs::create_dir_all(&dir).unwrap();
        let hosts = format!("127.0.0.1 localhost\n::1 localhost\n{ip} {name}\n");
        std::fs::write(dir.join("hosts"), hosts).unwrap();
        self.hosts_dir = Some(dir);
    }
}

impl Home {
    /// Adds a relative behind its own masquerading router on the internet side; with
    /// `block_udp`, the relative's device sends no UDP.
    pub fn add_relative(&mut self, block_udp: bool) -> &mut Relative {
        let rel = Relative {
            router: format!("hdpmq{}", self.tag()),
            host: format!("hdpmv{}", self.tag()),
            hosts_dir: None,
        };
        for ns in [&rel.router, &rel.host] {
            sh(&["ip", "netns", "add", ns]);
            ip(ns, "link set lo up");
        }
        let (inet, r, h) = (&self.internet, &rel.router, &rel.host);
        ip(
            inet,
            &format!("link add rel0 type veth peer name wan netns {r}"),
        );
        ip(inet, "addr add 203.0.113.254/24 dev rel0");
        ip(inet, "link set rel0 up");
        forwarding(inet);
        ip(r, &format!("addr add {RELATIVE_PUBLIC_IP}/24 dev wan"));
        ip(r, "link set wan up");
        ip(r, "route add default via 203.0.113.254");
        ip(
            r,
            &format!("link add lan type veth peer name eth0 netns {h}"),
        );
        ip(r, "addr add 10.9.9.1/24 dev lan");
        ip(r, "link set lan up");
        ip(h, "addr add 10.9.9.2/24 dev eth0");
        ip(h, "link set eth0 up");
        ip(h, "route add default via 10.9.9.1");
        forwarding(r);
        nft(
            r,
            r#"table inet relnat {
  chain forward { type filter hook forward priority 0; policy drop;
    ct state established,related accept; iifname "lan" accept; }
  chain postrouting { type nat hook postrouting priority 100; policy accept;
    oifname "wan" masquerade; }
}"#,
        );
        if block_udp {
            nft(
                h,
                r#"table inet noudp {
  chain output { type filter hook output priority 0; policy accept;
    oifname "lo" accept; meta l4proto udp drop; }
}"#,
            );
        }
        for ns in [&rel.router, &rel.host] {
            wait_settled(ns);
        }
        self.relative.insert(rel)
    }

    /// The provider renumbers the router's WAN: PREFIX.S.1 becomes `new_prefix`.S.1 (the
    /// internet side gets `new_prefix`.S.2 on the same link and stays the default route).
    /// Returns the new address.
    pub fn renumber_wan(&mut self, new_prefix: &str) -> String {
        let old = self.wan_ip.clone();
        let s = old.split('.').nth(2).unwrap().to_string();
        let new = format!("{new_prefix}.{s}.1");
        let (r, inet) = (self.router.clone(), self.internet.clone());
        ip(&inet, &format!("addr add {new_prefix}.{s}.2/24 dev eth0"));
        ip(&r, &format!("addr add {new}/24 dev wan"));
        ip(&r, &format!("addr del {old}/24 dev wan"));
        ip(&r, &format!("route replace default via {new_prefix}.{s}.2"));
        self.wan_ip = new.clone();
        new
    }
}
