//! [`Shared`]: what every request handler may use. `app` builds it once from the running
//! components; the handlers only read it (the hub and the probe have their own locks).

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::metrics::Snapshot;
use crate::net::SubnetCache;
use crate::probe::Probe;
use crate::relay;
use crate::signaling::Hub;

/// Everything the request handlers share.
pub struct Shared {
    pub config: Config,
    pub hub: Arc<Hub>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    pub started: Instant,
    /// WebSocket sessions currently open are limited like HTTP connections.
    pub ws_slots: Arc<Semaphore>,
    /// The connection check; `None` when off (or its port was taken).
    pub probe: Option<Probe>,
    /// The STUN/TURN relay's counters (`None` with `--no-turn`).
    pub relay_counters: Option<Arc<relay::Counters>>,
    /// Our interfaces' subnets (who is in the home group).
    pub subnets: SubnetCache,
}

impl Shared {
    /// The numbers `/stats` and `/metrics` show (see [`crate::metrics`]).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::collect(
            &self.hub,
            self.started,
            self.probe.as_ref(),
            self.relay_counters.as_deref(),
        )
    }
}
