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
    /// The connection check; `None` when off (or its port was taken).
    pub probe: Option<crate::probe::Probe>,
    /// The STUN/TURN relay's counters (`None` with `--no-turn`).
    pub relay_counters: Option<Arc<relay::Counters>>,
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
            probe_ready: self.probe.as_ref().is_some_and(|p| p.status() == "ready") as u64,
            relay: self.relay_counters.as_ref().map(|r| r.snapshot()),
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
    let probe = start_probe(&config, &token);
    let https = bind_https(&config).await?;
    let relay = match config.turn {
        Some(addr) => Some(start_relay(&config, &hub, addr, token.clone()).await?),
        None => None,
    };
    let shared = Arc::new(Shared {
        probe: probe.as_ref().map(|(p, _)| p.clone()),
        ws_slots: Arc::new(Semaphore::new(config.max_connections)),
        relay_counters: relay.as_ref().map(|(shell, _)| shell.counters()),
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
    let server = tokio::spawn(crate::http::serve(http, shared.clone()));
    let https_port = match &https {
        Some((l, _)) => Some(l.local_addr()?.port()),
        None => None,
    };
    let https = https.map(|(l, tls)| tokio::spawn(crate::http::serve_tls(l, shared.clone(), tls)));
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
    let mdns = start_mdns(&shared.config, bound.port(), https_port);
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
    if let Some(h) = https {
        let _ = h.await;
    }
    if let Some((_, task)) = probe {
        let _ = task.await;
    }
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

/// Starts the connection check. Its key is generated in the background; a taken port only
/// turns the check off (with a warning): it is a diagnostic, not worth refusing to start.
fn start_probe(
    config: &Config,
    token: &CancellationToken,
) -> Option<(crate::probe::Probe, tokio::task::JoinHandle<()>)> {
    let addr = config.probe?;
    match crate::probe::Probe::start(addr, token.clone()) {
        Ok((probe, task)) => {
            tracing::info!(
                "connection check on udp {} (generating its key)",
                probe.udp_addr()
            );
            Some((probe, task))
        }
        Err(e) => {
            tracing::warn!(
                "the connection check is off: cannot listen on udp {addr} (--probe): {e}"
            );
            None
        }
    }
}

/// Binds the HTTPS listener and loads (or generates) its certificate, when `--https` is set.
async fn bind_https(
    config: &Config,
) -> anyhow::Result<Option<(TcpListener, tokio_rustls::TlsAcceptor)>> {
    use anyhow::Context;
    let Some(addr) = config.https else {
        return Ok(None);
    };
    let tls = crate::http::tls::acceptor(config).context("cannot set up HTTPS")?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--https)"))?;
    tracing::info!("serving https on {}", listener.local_addr()?);
    Ok(Some((listener, tls)))
}

type RelayTask = tokio::task::JoinHandle<std::io::Result<()>>;

/// Binds the STUN/TURN relay on `addr` (UDP and TCP) and runs it until `token` is cancelled.
async fn start_relay(
    config: &Config,
    hub: &Hub,
    addr: std::net::SocketAddr,
    token: CancellationToken,
) -> anyhow::Result<(relay::Shell, RelayTask)> {
    use anyhow::Context;
    let secret = crate::config::turn_secret(config).context("cannot set up the TURN secret")?;
    let core = relay::Config {
        secret: secret.clone().into_bytes(),
        advertised_ip: config.relay_ip,
        max_allocations_per_user: config.turn_user_quota,
        max_allocations: config.turn_total_quota,
        allocation_bandwidth: config.turn_allocation_bandwidth,
        total_bandwidth: config.turn_total_bandwidth,
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
    // Browsers get this relay (and credentials for it) through signaling.
    hub.enable_ice(crate::signaling::ice::IceSettings {
        secret: secret.into_bytes(),
        udp_port: udp.port(),
        tcp_port: tcp.port(),
        public_host: config.public_host.clone(),
        fallback_host: config.relay_ip.to_string(),
        ttl: config.turn_credential_ttl,
    });
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
