//! Issue 13 end to end, as a household meets it: homedrop at home starts with `--remote` and
//! nothing else about remote access (the ACME directory is the test's CA instead of Let's
//! Encrypt), and everything else follows from the network.
//!
//! Namespaces (`support::router`, `support::relative`): homedrop and a home Chromium on the
//! LAN of a router running miniupnpd with a public-looking WAN address; on the WAN side
//! "the internet", where pebble (the ACME test CA) and its DNS run; a relative behind its
//! own masquerading router, sending no UDP at all, with a Chromium whose NSS database
//! trusts pebble's root. homedrop maps its ports through the router (miniupnpd's dnat rules),
//! learns the public address, gets a certificate from pebble by TLS-ALPN-01 through that
//! forward, and the household's panel makes the invite link; the relative opens it in a
//! secure context, joins the room, and 100 MiB goes each way through `turns:` on the one TLS
//! port. Then the provider renumbers the WAN: a new mapping, certificate and invite link.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::remote_tls::{pick_the_peer, relative_connections, transfer};
use crate::support::files::generate;
use crate::support::netns::in_netns;
use crate::support::page::{attr, Page};
use crate::support::pebble::{served_serial, Pebble};
use crate::support::router::{Daemon, Home};
use crate::support::{one_browser_at_a_time, TempDir};

const MIB: u64 = 1024 * 1024;
/// `--remote`'s TLS port outside systemd; the router forwards the same port.
const TLS_PORT: u16 = 8443;

/// The home behind a router running `daemon`, pebble on the internet side (certificates of
/// a week, like a short-lived profile), and the relative with no UDP.
fn world(daemon: Daemon) -> (Home, Pebble) {
    let mut home = Home::new(daemon, "81.2");
    let s = home.wan_ip.split('.').nth(2).unwrap().to_string();
    let ca_ip = format!("81.2.{s}.2");
    let wan = home.wan_ip.clone();
    let pebble = Pebble::start_in(&home.internet, &ca_ip, &wan, TLS_PORT, Some(7 * 86_400));
    home.add_relative(true);
    (home, pebble)
}

/// homedrop with `--remote`, pebble as its ACME CA, plus `extra`.
fn start(home: &mut Home, pebble: &Pebble, extra: &[&str]) {
    let ca = pebble.ca.display().to_string();
    let mut args = vec![
        "--remote",
        "--acme-directory",
        &pebble.directory,
        "--acme-ca",
        &ca,
    ];
    args.extend(extra);
    home.launch_homedrop(&args);
}

/// `/stats`' ACME part once it shows `n` certificates issued for `host` (at most 90 s: a
/// first order may race the router's forward and be retried).
fn until_certified(home: &Home, host: &str, n: u64) -> Value {
    let mut acme = Value::Null;
    home.wait_for(Duration::from_secs(90), "a certificate from pebble", || {
        acme = home.stats()["acme"].clone();
        acme["issued"].as_u64() >= Some(n) && acme["identifier"] == host
    });
    acme
}

/// The certificate served at the router's public address, seen from the internet: its
/// serial, once it verifies for `host` against pebble's root.
fn served_from_the_internet(home: &Home, pebble: &Pebble, host: &str) -> String {
    let addr: SocketAddr = format!("{}:{TLS_PORT}", home.wan_ip).parse().unwrap();
    let (host, root) = (host.to_string(), pebble.root.clone());
    in_netns(&home.internet, move || served_serial(addr, &host, &root))
        .unwrap_or_else(|e| panic!("no certificate for the public address that verifies: {e}"))
}

/// The home page on the other LAN device, its panel shown and settled.
fn household_page(home: &Home) -> Page {
    let mut page = Page::launch(Some(&home.lan_host));
    page.open(&format!("http://{}:8080/", home.server_ip));
    page.wait_for(
        "!document.querySelector('[data-remote]').hidden && \
         document.querySelector('[data-remote]').dataset.state === 'mapped'",
        Duration::from_secs(20),
    );
    page
}

/// "Invite a relative" on the household's page: the link it shows.
fn invite(page: &mut Page) -> String {
    let before = page.count("[data-room-list] [data-room]");
    page.wait_for(
        "!document.querySelector('[data-remote-invite]').disabled",
        Duration::from_secs(20),
    );
    page.click("[data-remote-invite]");
    page.wait_count(
        "[data-room-list] [data-room]",
        before + 1,
        Duration::from_secs(10),
    );
    page.wait_for(
        "!document.querySelector('[data-remote-link-box]').hidden && \
         document.querySelector('[data-remote-link]').textContent",
        Duration::from_secs(10),
    )
    .as_str()
    .unwrap()
    .to_string()
}

/// The room's token in an invite link for `host`, or a panic saying what the link was.
fn token_in(link: &str, host: &str) -> String {
    let token = link
        .strip_prefix(&format!("https://{host}:{TLS_PORT}/#room="))
        .unwrap_or_else(|| panic!("invite link {link:?} is not for https://{host}:{TLS_PORT}/"));
    assert!(
        token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{link}"
    );
    token.to_string()
}

/// The whole chain for a router running `daemon` (whose protocol homedrop reports as
/// `protocol`) and the name relatives use: the router's address, or `--public-host NAME`.
fn relative_joins_through_the_router(daemon: Daemon, protocol: &str, name: Option<&str>) {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("remote-e2e");
    let (to_rel, to_home) = (dir.0.join("to-relative.bin"), dir.0.join("to-home.bin"));
    let sha_to_rel = generate(&to_rel, 100 * MIB, 41);
    let sha_to_home = generate(&to_home, 100 * MIB, 42);
    let (mut home, pebble) = world(daemon);
    let host = name.map_or(home.wan_ip.clone(), str::to_string);
    let wan = home.wan_ip.clone();
    if let Some(n) = name {
        home.relative.as_mut().unwrap().resolve(n, &wan);
    }
    let public_host = name.map(|n| vec!["--public-host", n]).unwrap_or_default();
    start(&mut home, &pebble, &public_host);
    let pm = home.settled_portmap();
    assert_eq!(pm["status"], "mapped", "{pm}\n{}", home.homedrop_log());
    assert_eq!(pm["protocol"], protocol, "{pm}");
    assert_eq!(pm["publicAddress"], wan.as_str(), "{pm}");
    crate::portmap::assert_forwards(&home);
    let acme = until_certified(&home, &host, 1);
    served_from_the_internet(&home, &pebble, &host);

    let mut household = household_page(&home);
    let cert = household.text("[data-remote-cert]");
    assert!(
        cert.starts_with(&format!("Trusted for {host}")),
        "{cert} / {acme}"
    );
    let link = invite(&mut household);
    token_in(&link, &host);
    let rel_ns = home.relative.as_ref().unwrap().host.clone();
    let mut rel = Page::launch_trusting(Some(&rel_ns), &pebble.root);
    rel.open(&link);
    assert_eq!(
        rel.eval("window.isSecureContext"),
        json!(true),
        "the relative's page is a secure context (pebble's certificate trusted)"
    );
    let code = household.data("[data-room-list] [data-room]", "code");
    rel.wait_hook(
        &attr(
            "[data-room-list] [data-room]",
            "code",
            code.as_str().unwrap(),
        ),
        Duration::from_secs(20),
    );
    pick_the_peer(&mut household);
    pick_the_peer(&mut rel);
    let down = transfer(&mut household, &mut rel, &to_rel, &sha_to_rel);
    let up = transfer(&mut rel, &mut household, &to_home, &sha_to_home);
    let (tls, turn) = relative_connections(&home.server);
    assert!(
        tls >= 2,
        "page socket and TURN over TLS on :{TLS_PORT}: {tls}"
    );
    assert_eq!(
        turn, 0,
        "the relative sent nothing to TCP 3478 (and no UDP at all)"
    );
    eprintln!(
        "{protocol}, certificate for {host}: 100 MiB home→relative {down:.1} MiB/s, \
         relative→home {up:.1} MiB/s"
    );
    drop((rel, household));
    assert_eq!(home.stop_homedrop(), Some(0), "{}", home.homedrop_log());
    assert!(
        home.dnat_rules().is_empty(),
        "forwards left: {:?}",
        home.dnat_rules()
    );
}

/// UPnP IGD maps the ports; the certificate is for the router's public IP address.
#[test]
fn a_relative_opens_the_invite_link_over_upnp_with_an_ip_certificate() {
    relative_joins_through_the_router(Daemon::UpnpOnly, "upnp", None);
}

/// NAT-PMP/PCP maps the ports; the certificate is for the household's DNS name.
#[test]
fn a_relative_opens_the_invite_link_over_pcp_with_a_dns_name() {
    relative_joins_through_the_router(Daemon::PmpOnly, "pcp", Some("home.remote.test"));
}

/// The provider renumbers the router's WAN while homedrop runs: the next lease renewal
/// learns the new address, the forward works through it, pebble certifies it, and the
/// household's next invite link names it; the household's page stays online throughout.
#[test]
fn a_new_wan_address_gets_a_new_mapping_certificate_and_invite_link() {
    let _one = one_browser_at_a_time();
    let (mut home, pebble) = world(Daemon::Both);
    start(&mut home, &pebble, &["--map-lease", "20"]);
    let old = home.wan_ip.clone();
    assert_eq!(home.settled_portmap()["status"], "mapped");
    until_certified(&home, &old, 1);
    let first = served_from_the_internet(&home, &pebble, &old);
    let mut household = household_page(&home);
    token_in(&invite(&mut household), &old);

    let new = home.renumber_wan("81.3");
    let started = Instant::now();
    home.wait_for(Duration::from_secs(30), "the new public address", || {
        home.stats()["portmap"]["publicAddress"] == new.as_str()
    });
    crate::portmap::assert_forwards(&home);
    let acme = until_certified(&home, &new, 2);
    let second = served_from_the_internet(&home, &pebble, &new);
    assert_ne!(first, second, "a new certificate: {acme}");
    eprintln!(
        "WAN {old} → {new}: mapped and certified again in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    household.wait_for(
        &format!(
            "document.querySelector('[data-remote-host]').textContent === {}",
            serde_json::to_string(&new).unwrap()
        ),
        Duration::from_secs(40),
    );
    token_in(&invite(&mut household), &new);
    assert_eq!(
        household.data("[data-status]", "state"),
        json!("online"),
        "the household's page stayed online"
    );
    let log = home.homedrop_log();
    assert!(log.contains(&format!("public address {new}")), "{log}");
    drop(household);
    assert_eq!(home.stop_homedrop(), Some(0), "{}", home.homedrop_log());
}
