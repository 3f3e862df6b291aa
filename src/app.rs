//! Builds every component from the [`Config`] and runs them under one shutdown token.
//!
//! Like mini-redis, [`run`] takes already-bound sockets and a shutdown future, so tests start
//! the whole application in-process on port 0, and `main` stays a thin shell. On shutdown
//! it stops accepting, tells every connected client that homedrop is restarting, and waits
//! (at most [`DRAIN_TIMEOUT`]) for every task to finish. The STUN/TURN relay (when enabled)
//! is bound here too and drains under the same token.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::metrics::Snapshot;
use crate::net::{local_subnets, Subnet};
use crate::relay;
use crate::signaling::{Hub, HubSettings};

/// Longest wait for connections (and the relay) to close on shutdown, all together; systemd
/// and the tests expect the process gone within 5 s of SIGTERM.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(4);
/// How often the interface list (for the home group) is re-read.
const SUBNET_REFRESH: Duration = Duration::from_secs(5);

/// Everything the request handlers share.
pub struct Shared {
    pub config: Config,
    pub hub: Arc<Hub>,
    pub shutdown: CancellationToken,
    pub tasks: TaskTracker,
    pub started: Instant,
    /// WebSocket sessions currently open are limited like HTTP connections.
    pub ws_slots: Arc<Semaphore>,
    subnets: Mutex<(Instant, Arc<Vec<Subnet>>)>,
}

impl Shared {
    /// Our interfaces' subnets, re-read at most every few seconds (DHCP renewals, new links).
    pub fn subnets(&self) -> Arc<Vec<Subnet>> {
        let mut s = self.subnets.lock().unwrap_or_else(|e| e.into_inner());
        if s.0.elapsed() > SUBNET_REFRESH {
            *s = (Instant::now(), Arc::new(local_subnets()));
        }
        s.1.clone()
    }

    /// The numbers `/stats` and `/metrics` show (see [`crate::metrics`]).
    pub fn snapshot(&self) -> Snapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &self.hub.counters;
        Snapshot {
            version: env!("CARGO_PKG_VERSION"),
            uptime_seconds: self.started.elapsed().as_secs(),
            peers: self.hub.peer_count() as u64,
            rooms: self.hub.room_count() as u64,
            negotiating: self.hub.negotiating() as u64,
            connections_total: c.connections_total.load(Relaxed),
            signals_relayed: c.signals_relayed.load(Relaxed),
            errors_sent: c.errors_sent.load(Relaxed),
        }
    }
}

/// Hub settings derived from the configuration.
pub fn hub_settings(config: &Config) -> HubSettings {
    let mut s = HubSettings::default();
    s.registry.default_capacity = config.room_capacity;
    s.registry.room_idle_ttl = config.room_idle_ttl;
    s
}

/// Run homedrop on the given listener until `shutdown` resolves, then drain.
pub async fn run(
    config: Config,
    http: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let hub = Arc::new(Hub::new(hub_settings(&config)));
    run_with_hub(config, http, hub, shutdown).await
}

/// [`run`] with a hub built by the caller (tests tune its timers).
pub async fn run_with_hub(
    config: Config,
    http: TcpListener,
    hub: Arc<Hub>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let token = CancellationToken::new();
    let shared = Arc::new(Shared {
        ws_slots: Arc::new(Semaphore::new(config.max_connections)),
        config,
        hub: hub.clone(),
        shutdown: token.clone(),
        tasks: TaskTracker::new(),
        started: Instant::now(),
        subnets: Mutex::new((Instant::now(), Arc::new(local_subnets()))),
    });
    let bound = http.local_addr()?;
    tracing::info!("serving http on {bound}");
    crate::startup::announce(&shared.config, bound);
    let relay = match shared.config.turn {
        Some(addr) => Some(start_relay(&shared.config, addr, token.clone()).await?),
        None => None,
    };
    let server = tokio::spawn(crate::http::serve(http, shared.clone()));
    let sweeper = {
        let (hub, token) = (hub.clone(), token.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tokio::select! {
                    _ = tick.tick() => hub.sweep(),
                    _ = token.cancelled() => break,
                }
            }
        })
    };
    let watchdog = tokio::spawn(systemd_watchdog(hub.clone(), token.clone()));
    let mdns = start_mdns(&shared.config, bound.port(), None);
    notify(&[sd_notify::NotifyState::Ready]);
    shutdown.await;
    notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("shutting down: telling clients, draining connections");
    // One deadline for everything, so the process exits within DRAIN_TIMEOUT (+ a little).
    let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
    // Each WebSocket session sees the token, sends `restarting` and closes with 1012.
    token.cancel();
    if let Some(mdns) = mdns {
        mdns.stop().await;
    }
    let _ = server.await;
    let _ = sweeper.await;
    let _ = watchdog.await;
    if let Some((shell, task)) = relay {
        match tokio::time::timeout_at(deadline, task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!("relay stopped with an error: {e}"),
            Ok(Err(e)) => tracing::warn!("relay task failed: {e}"),
            Err(_) => tracing::warn!("the relay did not drain within {DRAIN_TIMEOUT:?}"),
        }
        tracing::info!(
            "relay stopped; {:?}; {:?}",
            shell.stats(),
            shell.shell_stats()
        );
    }
    shared.tasks.close();
    if tokio::time::timeout_at(deadline, shared.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within {DRAIN_TIMEOUT:?}");
    }
    Ok(())
}

type RelayTask = tokio::task::JoinHandle<std::io::Result<()>>;

/// Binds the STUN/TURN relay on `addr` (UDP and TCP) and runs it until `token` is cancelled.
async fn start_relay(
    config: &Config,
    addr: std::net::SocketAddr,
    token: CancellationToken,
) -> anyhow::Result<(relay::Shell, RelayTask)> {
    use anyhow::Context;
    let secret = crate::config::turn_secret(config).context("cannot set up the TURN secret")?;
    let core = relay::Config {
        secret: secret.into_bytes(),
        advertised_ip: config.relay_ip,
        ..relay::Config::default()
    };
    let relay = relay::Relay::bind(core, addr, addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--turn)"))?;
    let (udp, tcp) = relay.local_addrs();
    tracing::info!(
        "STUN/TURN relay on udp {udp} and tcp {tcp}, relayed addresses on {}",
        config.relay_ip
    );
    let shell = relay.shell();
    Ok((shell, tokio::spawn(relay.run(token))))
}

/// Advertise on the LAN unless `--no-mdns`; a failure (no multicast here) is logged, not
/// fatal: the URLs with IP addresses still work. `https_port`: `_https._tcp` too.
fn start_mdns(
    config: &Config,
    http_port: u16,
    https_port: Option<u16>,
) -> Option<crate::mdns::Mdns> {
    if !config.mdns {
        return None;
    }
    let settings = crate::mdns::Settings {
        name: config.name.clone(),
        http_port,
        https_port,
        interfaces: config.mdns_interfaces.clone(),
    };
    crate::mdns::Mdns::start(&settings)
        .inspect_err(|e| tracing::warn!("not advertising on the LAN: {e}"))
        .ok()
}

/// Tell systemd (when it started us with `Type=notify`); a no-op elsewhere.
fn notify(state: &[sd_notify::NotifyState]) {
    if let Err(e) = sd_notify::notify(state) {
        tracing::debug!("sd_notify: {e}");
    }
}

/// Pet the systemd watchdog at half its interval while the server runs. Each pet first takes
/// the signaling hub's lock, so a stuck hub (not only a stuck runtime) gets homedrop restarted.
async fn systemd_watchdog(hub: Arc<Hub>, token: CancellationToken) {
    let Some(every) = sd_notify::watchdog_enabled() else {
        return;
    };
    let mut tick = tokio::time::interval(every / 2);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let _ = hub.peer_count();
                notify(&[sd_notify::NotifyState::Watchdog]);
            }
            _ = token.cancelled() => break,
        }
    }
}
