//! [`Shared`]: what every request handler may use. `app` builds it once from the running
//! components; the handlers only read it (the hub and the probe have their own locks).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::admission::Pool;
use crate::certs::CertStore;
use crate::config::Config;
use crate::metrics::{Refusals, Snapshot};
use crate::net::SubnetCache;
use crate::probe::Probe;
use crate::relay;
use crate::remote::RemoteStatus;
use crate::signaling::Hub;

/// Everything the request handlers share.
pub struct Shared {
    pub config: Config,
    pub hub: Arc<Hub>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    pub started: Instant,
    /// HTTP connections (every listener), admitted per source ([`super::admission`]).
    pub http_slots: Arc<Pool>,
    /// WebSocket sessions, admitted like HTTP connections (by the forwarded address).
    pub ws_slots: Arc<Pool>,
    /// Requests refused by the Host / Origin / content-type checks ([`super::host`]).
    pub cross_site_refused: AtomicU64,
    /// The connection check; `None` when off (or its port was taken).
    pub probe: Option<Probe>,
    /// The STUN/TURN relay's counters (`None` with `--no-turn`).
    pub relay_counters: Option<Arc<relay::Counters>>,
    /// The relay itself, for TURN over TLS arriving on the TLS port (`None` with `--no-turn`).
    pub relay: Option<relay::Shell>,
    /// The certificates of the TLS listener (`None` without `--https` or `--remote`).
    pub certs: Option<Arc<CertStore>>,
    /// The ACME client's state (`None` when homedrop does not use ACME).
    pub acme: Option<Arc<crate::acme::Status>>,
    /// Our interfaces' subnets (who is in the home group).
    pub subnets: SubnetCache,
    /// Remote access as the household's panel shows it (`GET /remote`).
    pub remote: Arc<RemoteStatus>,
    /// The router mapping's state (`None`: remote access off, or `--no-upnp`).
    pub portmap: Option<tokio::sync::watch::Receiver<crate::portmap::State>>,
}

impl Shared {
    /// The TLS listener's certificate store, for a task that replaces its certificate or
    /// answers ACME challenges (`set_certificate`, `set_challenge`); `None` when there is no
    /// TLS listener.
    pub fn cert_store(&self) -> Option<&Arc<CertStore>> {
        self.certs.as_ref()
    }

    /// The numbers `/stats` and `/metrics` show (see [`crate::metrics`]).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::collect(
            &self.hub,
            self.started,
            self.probe.as_ref(),
            self.relay_counters.as_deref(),
            self.acme.as_deref(),
            self.portmap.as_ref().map(|rx| rx.borrow().clone()).as_ref(),
            Refusals {
                http: self.http_slots.refused(),
                ws: self.ws_slots.refused(),
                cross_site: self.cross_site_refused.load(Ordering::Relaxed),
            },
        )
    }
}
