//! Router mapping against miniupnpd as the home router, in namespaces (needs root and the
//! apt package miniupnpd-nftables; see `support/router.rs`): the release binary with
//! `--map-ports` forwards its HTTPS port (TCP 8443) and TURN port (UDP 3478) by UPnP IGD, or
//! by PCP when the router runs NAT-PMP/PCP only; miniupnpd's dnat rules appear, a client on
//! the WAN side reaches homedrop through the router's public address, the address homedrop
//! learns is the router's WAN address, the leases are renewed, and SIGTERM removes the
//! rules. When mapping cannot work (a carrier-grade NAT address on the WAN, a router with no
//! mapping protocol) `/stats`, the log and the household's panel in Chromium say so plainly,
//! and the LAN keeps working.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};

use crate::support::netns::in_netns;
use crate::support::router::{read_response, Daemon, Home};

/// The forwards miniupnpd holds for homedrop: TCP 8443 and UDP 3478 to its LAN address.
pub(crate) fn assert_forwards(home: &Home) {
    let rules = home.dnat_rules();
    for (proto, port) in [("0x6", 8443), ("0x11", 3478)] {
        let want = format!(
            "{proto} th dport {port} dnat ip to {}:{port}",
            home.server_ip
        );
        assert!(
            rules.iter().any(|r| r.contains(&want)),
            "no `{want}` in miniupnpd's rules: {rules:?}"
        );
    }
}

/// GET /healthz over TLS from the internet namespace to the router's public address.
fn healthz_from_the_internet(home: &Home) -> String {
    let target: SocketAddr = format!("{}:8443", home.wan_ip).parse().unwrap();
    let host = home.wan_ip.clone();
    in_netns(&home.internet, move || {
        let tcp = std::net::TcpStream::connect_timeout(&target, Duration::from_secs(3))
            .unwrap_or_else(|e| panic!("the internet cannot reach {target}: {e}"));
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
        b.set_verify(SslVerifyMode::NONE);
        let mut tls = b
            .build()
            .connect(&host, tcp)
            .expect("TLS through the router");
        let req =
            format!("GET /healthz HTTP/1.1\r\nHost: {host}:8443\r\nConnection: close\r\n\r\n");
        std::io::Write::write_all(&mut tls, req.as_bytes()).unwrap();
        let (status, body) = read_response(&mut tls).expect("an HTTP answer");
        assert_eq!(status, 200, "{body}");
        body
    })
}

/// A STUN Binding request from the internet to the public address answers (UDP forward).
fn stun_from_the_internet(home: &Home) {
    let target: SocketAddr = format!("{}:3478", home.wan_ip).parse().unwrap();
    in_netns(&home.internet, move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut req = vec![0, 1, 0, 0, 0x21, 0x12, 0xa4, 0x42];
        req.extend([9u8; 12]);
        let mut buf = [0u8; 512];
        for _ in 0..6 {
            s.send_to(&req, target).unwrap();
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                assert!(
                    n >= 20 && buf[..2] == [1, 1],
                    "a Binding success: {:?}",
                    &buf[..n]
                );
                return;
            }
        }
        panic!("no STUN answer through the router's UDP forward to {target}");
    });
}

/// Mapped by `protocol`: rules, reachability, address, renewal, removal on SIGTERM.
fn maps_renews_and_removes(daemon: Daemon, protocol: &str, change_address: bool) {
    let mut home = Home::new(daemon, "81.2");
    home.start_homedrop(&[]);
    let pm = home.settled_portmap();
    assert_eq!(pm["status"], "mapped", "{pm}\n{}", home.homedrop_log());
    assert_eq!(pm["protocol"], protocol, "{pm}");
    assert_eq!(
        pm["publicAddress"],
        home.wan_ip.as_str(),
        "the router's WAN address: {pm}"
    );
    let first_expiry = pm["leaseExpires"].as_u64().expect("a lease expiry");
    assert_forwards(&home);
    assert_eq!(healthz_from_the_internet(&home).trim(), "ok");
    stun_from_the_internet(&home);
    let log = home.homedrop_log();
    let mapped_lines = log.lines().filter(|l| l.contains("remote access:")).count();
    assert!(
        log.contains(&format!("public address {}", home.wan_ip)),
        "{log}"
    );
    // The lease is 20 s: renewed at about 10 s, with a later expiry.
    let mut renewed = serde_json::Value::Null;
    home.wait_for(Duration::from_secs(25), "a lease renewal", || {
        renewed = home.stats()["portmap"].clone();
        renewed["renewals"].as_u64() >= Some(1)
    });
    assert_eq!(renewed["status"], "mapped", "{renewed}");
    assert!(
        renewed["leaseExpires"].as_u64() > Some(first_expiry),
        "{renewed}"
    );
    assert_forwards(&home);
    if change_address {
        return new_address(&mut home);
    }
    let metrics = home.lan_get("/metrics").1;
    assert!(
        metrics.contains("\nhomedrop_portmap_mapped 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("homedrop_portmap_renewals_total "),
        "{metrics}"
    );
    // A renewal that changes nothing writes no journal line.
    let log = home.homedrop_log();
    assert_eq!(
        log.lines().filter(|l| l.contains("remote access:")).count(),
        mapped_lines,
        "{log}"
    );
    let started = Instant::now();
    assert_eq!(home.stop_homedrop(), Some(0), "{}", home.homedrop_log());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(
        home.dnat_rules(),
        Vec::<String>::new(),
        "forwards left after SIGTERM"
    );
    assert!(
        home.homedrop_log().contains("forwards are removed"),
        "{}",
        home.homedrop_log()
    );
}

/// Renumber the router's WAN (81.2.S.1 → 81.3.S.1) and wait for homedrop to report it.
fn new_address(home: &mut Home) {
    let new = home.renumber_wan("81.3");
    let mut seen = serde_json::Value::Null;
    home.wait_for(Duration::from_secs(25), "the new public address", || {
        seen = home.stats()["portmap"].clone();
        seen["publicAddress"] == new.as_str()
    });
    assert_eq!(seen["status"], "mapped", "{seen}");
    let log = home.homedrop_log();
    assert!(log.contains(&format!("public address {new}")), "{log}");
    assert_eq!(home.stop_homedrop(), Some(0));
}

#[test]
fn upnp_maps_the_ports_renews_and_removes_them() {
    maps_renews_and_removes(Daemon::UpnpOnly, "upnp", false);
}

#[test]
fn pcp_maps_the_ports_when_the_router_has_no_upnp() {
    maps_renews_and_removes(Daemon::PmpOnly, "pcp", false);
}

/// The provider gives the router a new address: the next renewal learns it, publishes it
/// and logs it (the certificate and the invite link follow the published address).
#[test]
fn a_new_wan_address_is_learned_at_the_next_renewal() {
    maps_renews_and_removes(Daemon::PmpOnly, "pcp", true);
}

/// The LAN page still loads and homedrop still runs.
fn lan_unaffected(home: &mut Home) {
    let (status, body) = home.lan_get("/");
    assert_eq!(status, 200);
    assert!(
        body.contains("<html") || body.contains("<!doctype") || body.contains("<!DOCTYPE"),
        "{body}"
    );
    assert!(home.homedrop_alive(), "{}", home.homedrop_log());
}

/// The household's "Remote access" panel (Chromium on the other LAN device) shows `state`
/// and the sentence `/stats` gives, offers no invite link, and the page is online: the LAN
/// works as before.
fn panel_explains(home: &Home, state: &str, message: &str) {
    use crate::support::page::{js, Page};
    let _one = crate::support::one_browser_at_a_time();
    let mut page = Page::launch(Some(&home.lan_host));
    page.open(&format!("http://{}:8080/", home.server_ip));
    page.wait_for(
        &format!(
            "document.querySelector('[data-remote]:not([hidden])')?.dataset.state === {}",
            js(state)
        ),
        Duration::from_secs(20),
    );
    assert_eq!(page.text("[data-remote-mapping]").trim(), message.trim());
    assert_eq!(
        page.eval("document.querySelector('[data-remote-invite]').disabled"),
        serde_json::json!(true),
        "no invite link that could not work"
    );
}

#[test]
fn a_carrier_grade_nat_wan_address_is_explained() {
    let mut home = Home::new(Daemon::Both, "100.64");
    home.start_homedrop(&["--remote", "--no-acme"]);
    let pm = home.settled_portmap();
    assert_eq!(pm["status"], "failed", "{pm}");
    let message = pm["message"].as_str().unwrap().to_string();
    assert!(message.contains("carrier-grade NAT"), "{pm}");
    assert!(message.contains("remote access cannot work"), "{pm}");
    let log = home.homedrop_log();
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("carrier-grade NAT")),
        "{log}"
    );
    assert!(home.dnat_rules().is_empty(), "{:?}", home.dnat_rules());
    panel_explains(&home, "behindAnotherNat", &message);
    lan_unaffected(&mut home);
    assert_eq!(home.stop_homedrop(), Some(0));
}

#[test]
fn a_router_without_a_mapping_protocol_gets_the_manual_forward() {
    let mut home = Home::new(Daemon::None, "81.2");
    home.start_homedrop(&["--remote", "--no-acme"]);
    let pm = home.settled_portmap();
    assert_eq!(pm["status"], "failed", "{pm}");
    assert_eq!(pm["problem"], "no-mapping-protocol", "{pm}");
    let want = format!(
        "forward TCP 8443 and UDP 3478 on the router by hand to {} (this machine)",
        home.server_ip
    );
    assert!(pm["message"].as_str().unwrap().contains(&want), "{pm}");
    let log = home.homedrop_log();
    assert!(
        log.lines().any(|l| l.contains("WARN") && l.contains(&want)),
        "{log}"
    );
    panel_explains(&home, "manual", pm["message"].as_str().unwrap());
    lan_unaffected(&mut home);
    assert_eq!(home.stop_homedrop(), Some(0));
}

#[test]
fn no_upnp_leaves_the_router_alone() {
    let mut home = Home::new(Daemon::Both, "81.2");
    home.start_homedrop(&["--no-upnp"]);
    home.wait_for(Duration::from_secs(10), "homedrop serving", || {
        let addr: SocketAddr = format!("{}:8080", home.server_ip).parse().unwrap();
        in_netns(&home.lan_host, move || {
            crate::support::router::try_http_get(addr, "/healthz")
        })
        .is_some()
    });
    // Give a mapping the time it would take (UPnP answers within a second here).
    std::thread::sleep(Duration::from_secs(3));
    assert!(home.stats().get("portmap").is_none(), "{}", home.stats());
    assert!(home.dnat_rules().is_empty(), "{:?}", home.dnat_rules());
    assert!(
        !home.miniupnpd_log().contains("AddPortMapping"),
        "{}",
        home.miniupnpd_log()
    );
    lan_unaffected(&mut home);
}
