//! Router mapping for remote access: asks the home router to forward the TLS port (TCP) and
//! the TURN port (UDP) to this machine by PCP, NAT-PMP or UPnP IGD, keeps the leases
//! renewed, learns the public address from the router itself (no outside service) and
//! removes the forwards on shutdown. When remote access cannot work it says why in plain
//! words: carrier-grade or double NAT, no mapping protocol (with the exact forward to make
//! by hand), a port taken by another device.
//!
//! The state is published on a `tokio::sync::watch` channel ([`start`]): `/stats`,
//! `/metrics`, the certificate logic and the household's panel follow it; each change of
//! what it means (mapped or not, why, the address, the protocol) is one journal line.
//!
//! ## Why a small client of its own
//! Measured on the static x86-64 musl binary (`cargo build --release --target
//! x86_64-unknown-linux-musl`), whose limit is 10,000,000 bytes: 9,746,664 bytes before, so
//! 253,336 left for all of remote access (TLS port, ACME, mapping).
//! - `igd-next` 0.18 (`aio_tokio`, no default features) with `crab_nat` 0.8 (no default
//!   features), only search, external address, add/remove and a PCP/NAT-PMP map, renew and
//!   drop called: 10,770,600 bytes, +1,023,936. They bring hyper's client with h2, xmltree
//!   and xml-rs, tower-service, num_enum.
//! - `portmapper` 0.20 (no default features) holds `igd-next` 0.17 and adds 45 crates this
//!   binary does not link (netwatch, netlink-*, iroh-metrics, n0-future, ...): more than the
//!   line above, so not built.
//! - This module (PCP and NAT-PMP as fixed-layout UDP messages in `pmp.rs`, UPnP IGD as one
//!   multicast search, one GET and three SOAP calls whose answers are a few known elements in
//!   `upnp.rs`, on the tokio sockets already linked): 9,824,680 bytes, +78,016.
//!
//! ## When it runs, who follows it
//! `app::start_portmap` starts it when remote access is on and `--no-upnp` is not given:
//! today `--map-ports` turns it on and the TCP port is the `--https` listener's; under the
//! `--remote` switch the condition becomes `remote && upnp` and the TCP port the one TLS
//! listener's (443 under systemd, 8443 otherwise). The UDP port is the TURN relay's
//! (`--turn`, 3478). The receiver sits in `http::Shared::portmap`; the certificate logic
//! and the panel clone it and wait on `changed()`: [`State::public_ip`] (with
//! [`State::is_mapped`]) is the address to certify and to put in invite links.
//!
//! Order: PCP first (one round trip that also returns the external address), then NAT-PMP
//! (a router answering PCP with "unsupported version"), then UPnP (a multicast search,
//! then HTTP). Whichever answers first keeps serving renewals and the removal.

mod pmp;
pub mod state;
mod upnp;

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use state::{Port, Problem, Protocol, Report, State, Status, Transport};

/// After a failure, try again this often (the router may come up, the user may turn UPnP
/// on in its settings).
const RETRY_EVERY: Duration = Duration::from_secs(300);
/// Longest time spent removing the forwards on shutdown (inside the app's drain).
const UNMAP_WAIT: Duration = Duration::from_secs(2);
/// A permanent UPnP mapping (lease 0) is still checked (and the address re-read) this often.
const RECHECK_PERMANENT: Duration = Duration::from_secs(600);
/// Renewal is never sooner than this after a grant (a router granting 1 s leases).
const MIN_RENEW: Duration = Duration::from_secs(5);

/// What to map, and for how long each lease is asked.
#[derive(Debug, Clone)]
pub struct Settings {
    pub ports: Vec<Port>,
    /// Lease asked of the router, in seconds; renewed at half of what is granted.
    pub lease: u32,
}

/// What the router granted for one port.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Granted {
    pub external_port: u16,
    /// Seconds; 0 for a permanent mapping.
    pub lifetime: u32,
    /// The external address, when the protocol tells it with the mapping (PCP).
    pub public_ip: Option<Ipv4Addr>,
}

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Nothing answered (or a NAT-PMP-only router was spoken to in PCP).
    NoAnswer,
    /// A UPnP error code not turned into a [`Problem`] yet.
    Upnp(u16),
    Problem(Problem),
}

/// The router, as the protocol that answered.
enum Router {
    /// NAT-PMP, or PCP when `pcp` (with a nonce per port, the same for renewals).
    Pmp {
        sock: pmp::Pmp,
        pcp: bool,
        nonces: Vec<[u8; 12]>,
    },
    Upnp(upnp::Igd),
}

/// Start mapping `settings.ports` until `token` is cancelled, then remove the forwards.
/// The receiver always holds the state now.
pub fn start(
    settings: Settings,
    token: CancellationToken,
) -> (watch::Receiver<State>, JoinHandle<()>) {
    let (tx, rx) = watch::channel(State::starting(settings.ports.clone()));
    (rx, tokio::spawn(run(settings, tx, token)))
}

async fn run(settings: Settings, tx: watch::Sender<State>, token: CancellationToken) {
    loop {
        let attempt = tokio::select! {
            a = establish(&settings) => a,
            _ = token.cancelled() => return,
        };
        let wait = match attempt {
            Ok((router, state)) => {
                publish(&tx, state);
                match keep(&settings, &router, &tx, &token).await {
                    Kept::Stopped => {
                        unmap(&router, &settings.ports).await;
                        return;
                    }
                    Kept::Lost => MIN_RENEW,
                }
            }
            Err(state) => {
                publish(&tx, state);
                RETRY_EVERY
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = token.cancelled() => return,
        }
    }
}

/// Sets the new state; logs it when what it says changed (not for a mere renewal).
fn publish(tx: &watch::Sender<State>, mut new: State) {
    tx.send_if_modified(|old| {
        if *old == new {
            return false;
        }
        let meaning = |s: &State| (s.status, s.protocol, s.public_ip, s.problem.clone());
        if meaning(old) != meaning(&new) {
            match new.status {
                Status::Failed => tracing::warn!("remote access: {}", new.message()),
                _ => tracing::info!("remote access: {}", new.message()),
            }
        }
        new.renewals = new.renewals.max(old.renewals);
        *old = new;
        true
    });
}

enum Kept {
    /// The token was cancelled.
    Stopped,
    /// A renewal failed: start over.
    Lost,
}

/// Renew at half the lease until cancelled or a renewal fails.
async fn keep(
    settings: &Settings,
    router: &Router,
    tx: &watch::Sender<State>,
    token: &CancellationToken,
) -> Kept {
    loop {
        let state = tx.borrow().clone();
        let wait = renew_after(&state);
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = token.cancelled() => return Kept::Stopped,
        }
        let renewed = tokio::select! {
            r = map_all(router, settings) => r,
            _ = token.cancelled() => return Kept::Stopped,
        };
        match renewed {
            Ok(mut next) => {
                next.renewals = state.renewals + 1;
                tracing::debug!("remote access: leases renewed ({})", next.message());
                publish(tx, next);
            }
            Err(failed) => {
                publish(tx, failed);
                return Kept::Lost;
            }
        }
    }
}

/// Half the time left on the lease (at least [`MIN_RENEW`]).
fn renew_after(state: &State) -> Duration {
    match state.lease_expires {
        None => RECHECK_PERMANENT,
        Some(t) => {
            let left = t.duration_since(SystemTime::now()).unwrap_or_default();
            (left / 2).max(MIN_RENEW)
        }
    }
}

/// Find the router and map every port; the failed state says why not.
async fn establish(settings: &Settings) -> Result<(Router, State), State> {
    let mut state = State::starting(settings.ports.clone());
    state.status = Status::Failed;
    let Some(gateway) = default_gateway() else {
        state.problem = Some(Problem::NoGateway);
        return Err(state);
    };
    let pmp = match pmp::Pmp::connect(gateway).await {
        Ok(p) => p,
        Err(_) => {
            state.problem = Some(Problem::NoGateway);
            return Err(state);
        }
    };
    state.lan_ip = Some(pmp.local);
    let nonces = settings.ports.iter().map(|_| rand::random()).collect();
    let mut router = Router::Pmp {
        sock: pmp,
        pcp: true,
        nonces,
    };
    for pcp in [true, false] {
        if let Router::Pmp { pcp: p, .. } = &mut router {
            *p = pcp;
        }
        match map_all(&router, settings).await {
            Ok(s) => return Ok((router, s)),
            Err(s) if s.problem.is_some() => return Err(s),
            Err(_) => {}
        }
    }
    if let Some(igd) = upnp::discover().await {
        let router = Router::Upnp(igd);
        return match map_all(&router, settings).await {
            Ok(s) => Ok((router, s)),
            Err(s) if s.problem.is_some() => Err(s),
            Err(mut s) => {
                s.problem = Some(Problem::NoProtocol);
                Err(s)
            }
        };
    }
    state.problem = Some(Problem::NoProtocol);
    Err(state)
}

/// Map (or renew) every port with `router`; `Err` with `problem: None` when it did not
/// answer at all (try the next protocol).
async fn map_all(router: &Router, settings: &Settings) -> Result<State, State> {
    let mut state = State::starting(settings.ports.clone());
    state.lan_ip = Some(router.local());
    state.protocol = Some(router.protocol());
    let mut shortest: Option<u32> = None;
    let mut public_ip = None;
    let fail = |mut s: State, f: Failure| {
        s.status = Status::Failed;
        s.problem = match f {
            Failure::Problem(p) => Some(p),
            Failure::NoAnswer => None,
            Failure::Upnp(c) => Some(Problem::Refused(format!("UPnP error {c}"))),
        };
        s
    };
    if !matches!(router, Router::Pmp { pcp: true, .. }) {
        public_ip = Some(
            router
                .public_ip()
                .await
                .map_err(|f| fail(state.clone(), f))?,
        );
    }
    for (i, port) in settings.ports.iter().enumerate() {
        let g = match router.map(i, *port, settings.lease).await {
            Ok(g) => g,
            Err(f) => return Err(fail(state, explain(router, f).await)),
        };
        if g.external_port != port.port {
            // The router offered another port: ours is someone else's.
            let _ = router.unmap(i, *port).await;
            return Err(fail(state, Failure::Problem(Problem::PortTaken(*port))));
        }
        public_ip = public_ip.or(g.public_ip);
        if g.lifetime > 0 {
            shortest = Some(shortest.map_or(g.lifetime, |s| s.min(g.lifetime)));
        }
    }
    state.status = Status::Mapped;
    state.public_ip = public_ip;
    state.lease_expires = shortest.map(|s| SystemTime::now() + Duration::from_secs(s.into()));
    Ok(state)
}

/// A refusal without a reason the household can act on: when the router's external address
/// explains it (miniupnpd answers PCP with "no resources" when its own address is a
/// carrier-grade one), that is the reason.
async fn explain(router: &Router, f: Failure) -> Failure {
    if !matches!(f, Failure::Problem(Problem::Refused(_))) {
        return f;
    }
    match router.public_ip().await {
        Err(Failure::Problem(p)) if p != Problem::NoProtocol => Failure::Problem(p),
        _ => f,
    }
}

/// Remove every forward, within [`UNMAP_WAIT`].
async fn unmap(router: &Router, ports: &[Port]) {
    let all =
        futures_util::future::join_all(ports.iter().enumerate().map(|(i, p)| router.unmap(i, *p)));
    match tokio::time::timeout(UNMAP_WAIT, all).await {
        Ok(results) if results.iter().all(Result::is_ok) => {
            tracing::info!("remote access: the router's forwards are removed");
        }
        _ => tracing::warn!("remote access: the router did not confirm removing the forwards (they expire with their lease)"),
    }
}

impl Router {
    fn protocol(&self) -> Protocol {
        match self {
            Router::Pmp { pcp: true, .. } => Protocol::Pcp,
            Router::Pmp { pcp: false, .. } => Protocol::NatPmp,
            Router::Upnp(_) => Protocol::Upnp,
        }
    }

    fn local(&self) -> Ipv4Addr {
        match self {
            Router::Pmp { sock, .. } => sock.local,
            Router::Upnp(igd) => igd.local,
        }
    }

    async fn public_ip(&self) -> Result<Ipv4Addr, Failure> {
        match self {
            Router::Pmp { sock, .. } => sock.natpmp_public_ip().await,
            Router::Upnp(igd) => igd.external_ip().await,
        }
    }

    /// Map port number `i` of the settings (its PCP nonce).
    async fn map(&self, i: usize, port: Port, lease: u32) -> Result<Granted, Failure> {
        match self {
            Router::Pmp {
                sock,
                pcp: true,
                nonces,
            } => sock.pcp_map(port, lease, nonces[i]).await,
            Router::Pmp { sock, .. } => sock.natpmp_map(port, lease).await,
            Router::Upnp(igd) => match igd.add(port, lease).await {
                // The router keeps only permanent mappings: one, removed on shutdown.
                Err(Failure::Upnp(725)) => igd.add(port, 0).await,
                other => other,
            },
        }
    }

    async fn unmap(&self, i: usize, port: Port) -> Result<(), Failure> {
        match self {
            Router::Pmp {
                sock,
                pcp: true,
                nonces,
            } => sock.pcp_map(port, 0, nonces[i]).await.map(|_| ()),
            Router::Pmp { sock, .. } => sock.natpmp_map(port, 0).await.map(|_| ()),
            Router::Upnp(igd) => igd.delete(port).await,
        }
    }
}

/// The default IPv4 gateway, from `/proc/net/route` (Linux).
fn default_gateway() -> Option<Ipv4Addr> {
    let table = std::fs::read_to_string("/proc/net/route").ok()?;
    parse_route_table(&table)
}

/// The gateway of the first default route (destination 0, flags RTF_UP|RTF_GATEWAY).
fn parse_route_table(table: &str) -> Option<Ipv4Addr> {
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let flags = u16::from_str_radix(f.get(3)?, 16).ok()?;
        if *f.get(1)? != "00000000" || flags & 0x3 != 0x3 {
            return None;
        }
        // The kernel prints the address's bytes in memory (network) order as a native int.
        let raw = u32::from_str_radix(f.get(2)?, 16).ok()?;
        Some(Ipv4Addr::from(raw.to_ne_bytes()))
    })
}

#[cfg(test)]
mod tests;
