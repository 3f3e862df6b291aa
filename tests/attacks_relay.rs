//! Issue 12, attack 5 against the real binary: the relay for strangers.
//!
//! Before: every relayed address shares one IP and permissions matched the IP only, so any
//! allocation could inject packets into any other allocation's relayed address; ten tabs of
//! one stranger took all 200 allocations and the family's next Allocate got 508.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use homedrop::relay::issue_credentials;

use crate::relay_credentials::unix_now;
use crate::support::exposed::{stranger_v4, Exposed, TURN_PORT, WAN_V4};
use crate::turn_client::TurnClient;

const SECRET: &str = "attack-relay-secret-0123";

fn creds(id: &str) -> (String, String) {
    issue_credentials(SECRET.as_bytes(), id, unix_now(), Duration::from_secs(3600))
}

fn wan_turn() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(WAN_V4), TURN_PORT)
}

#[test]
fn a_relayed_address_takes_only_the_relayed_addresses_it_permitted() {
    let x = Exposed::start(&["--turn-secret", SECRET]);
    let got = x.in_internet(|| {
        let turn = wan_turn();
        let alloc = |n: u8, id: &str| {
            let (u, p) = creds(id);
            TurnClient::allocate(stranger_v4(n), turn, &u, &p).expect("allocate")
        };
        let (a, b, c) = (alloc(20, "alice"), alloc(21, "bob"), alloc(22, "mallory"));
        // Bob talks with Alice's relayed address only; Alice permits Bob's back.
        b.permit(a.relayed).expect("bob permits alice");
        a.permit(b.relayed).expect("alice permits bob");
        // Mallory permits Bob's relayed address (allowed: it is a peer like any other) and
        // sends from another port of the same relay IP.
        c.permit(b.relayed).expect("mallory permits bob");
        c.send(b.relayed, b"injected");
        a.send(b.relayed, b"hello bob");
        let at_bob = b.received(Duration::from_secs(2));
        (a.relayed, c.relayed, at_bob)
    });
    let (alice, mallory, at_bob) = got;
    println!("bob received: {at_bob:?}");
    assert!(
        at_bob
            .iter()
            .any(|(from, d)| *from == alice && d == b"hello bob"),
        "the permitted relayed address gets through: {at_bob:?}"
    );
    assert!(
        !at_bob.iter().any(|(from, _)| *from == mallory),
        "an unpermitted port of the same IP got through: {at_bob:?}"
    );
}

#[test]
fn one_source_cannot_take_the_relay_from_the_household() {
    let x = Exposed::start(&["--turn-secret", SECRET]);
    // Ten usernames (ten tabs) from one stranger address try 30 allocations each.
    let (won, refused) = x.in_internet(|| {
        let (mut won, mut refused) = (Vec::new(), Vec::new());
        for tab in 0..10 {
            let (u, p) = creds(&format!("tab{tab}"));
            for _ in 0..30 {
                match TurnClient::allocate(stranger_v4(30), wan_turn(), &u, &p) {
                    Ok(c) => won.push(c),
                    Err(code) => refused.push(code),
                }
            }
        }
        (won.len(), refused)
    });
    let lan_turn = SocketAddr::new(x.lan_ip, TURN_PORT);
    let home = x.home_ip;
    let household = x.in_home(move || {
        let (u, p) = creds("mum");
        (0..5)
            .map(|_| TurnClient::allocate(home, lan_turn, &u, &p).map(|c| c.relayed))
            .collect::<Vec<_>>()
    });
    println!(
        "one stranger: {won} allocations, {} refused ({:?})",
        refused.len(),
        refused.first()
    );
    assert!(won <= 25, "one source holds {won} allocations");
    assert!(
        refused.iter().all(|c| *c == 486),
        "refused with 486: {refused:?}"
    );
    assert!(
        household.iter().all(|r| r.is_ok()),
        "household allocations: {household:?}"
    );
}
