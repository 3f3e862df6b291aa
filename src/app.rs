//! Builds every component from the [`Config`] and runs them under one shutdown token.
//!
//! Like mini-redis, [`run`] takes already-bound sockets and a shutdown future, so tests start
//! the whole application in-process on port 0, and `main` stays a thin shell. On shutdown
//! it stops accepting, tells every connected client that homedrop is restarting, and waits
//! (at most [`DRAIN_TIMEOUT`]) for every task to finish. The STUN/TURN relay (when enabled)
//! is bound here too and drains under the same token. A start-up error (a port taken) ends
//! [`run`] with that token cancelled too, so nothing started before it keeps running.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

mod remote;

use remote::{bind_https, follow_portmap, start_acme, start_portmap, Acme};

use crate::config::Config;
use crate::http::admission::Pool;
use crate::http::Shared;
use crate::mdns::Mdns;
use crate::net::SubnetCache;
use crate::probe::Probe;
use crate::relay;
use crate::remote::RemoteStatus;
use crate::signaling::registry::PairTagKey;
use crate::signaling::{Hub, HubSettings};

/// Longest wait for connections (and the relay) to close on shutdown, all together; systemd
/// and the tests expect the process gone within 5 s of SIGTERM.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(4);
/// How often the hub does its housekeeping (idle rooms, old keys, limiter entries).
const SWEEP_EVERY: Duration = Duration::from_secs(5);

/// Hub settings derived from the configuration.
fn hub_settings(config: &Config) -> HubSettings {
    let mut s = HubSettings::default();
    s.registry.default_capacity = config.room_capacity;
    s.registry.room_idle_ttl = config.room_idle_ttl;
    s.registry.open_rooms = config.open_rooms;
    s.registry.pair_tag_key = pair_tag_key(config);
    s
}

/// The key that tags pairings made from home, kept in the state directory so that pairings
/// keep their standing across restarts. Without a usable state directory homedrop still
/// runs, with a key in memory: pairings made from home then lose that standing (no room
/// creation, no relay through them) at the next restart, until they are made again.
fn pair_tag_key(config: &Config) -> PairTagKey {
    let kept = crate::config::kept_secret(&config.state_dir, crate::config::PAIR_TAG_KEY_FILE);
    let parsed = kept.and_then(|hex| {
        parse_key(&hex).ok_or_else(|| std::io::Error::other("not 64 hex characters"))
    });
    match parsed {
        Ok(key) => PairTagKey::new(key),
        Err(e) => {
            tracing::warn!(
                "cannot keep the pairing key in {}: {e}; pairings made from home will lose their standing at restart",
                config.state_dir.display()
            );
            PairTagKey::random()
        }
    }
}

/// 32 bytes from 64 hex characters.
fn parse_key(hex: &str) -> Option<[u8; 32]> {
    let b = hex.as_bytes();
    if b.len() != 64 || !b.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut key = [0u8; 32];
    for (i, pair) in b.chunks(2).enumerate() {
        key[i] = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(key)
}

/// Run homedrop on the given listener until `shutdown` resolves, then drain.
pub async fn run(
    config: Config,
    http: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    run_observed(config, http, shutdown, |_| {}).await
}

/// [`run`], handing the shared state to `observe` once everything listens (tests reach the
/// certificate store through it).
pub async fn run_observed(
    config: Config,
    http: TcpListener,
    shutdown: impl Future<Output = ()>,
    observe: impl FnOnce(Arc<Shared>),
) -> anyhow::Result<()> {
    let token = CancellationToken::new();
    // A start-up error (a port taken) returns early through `?`: dropping the guard then
    // cancels the token, so whatever was already spawned (the probe, the relay) stops too.
    let _cancel_on_return = token.clone().drop_guard();
    let running = start(config, http, &token).await?;
    observe(running.shared.clone());
    notify(&[sd_notify::NotifyState::Ready]);
    shutdown.await;
    notify(&[sd_notify::NotifyState::Stopping]);
    tracing::info!("shutting down: telling clients, draining connections");
    running.drain(&token).await;
    Ok(())
}

/// Everything [`run`] started, to be drained on shutdown.
struct Running {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
    https: Option<JoinHandle<()>>,
    probe: Option<JoinHandle<()>>,
    sweeper: JoinHandle<()>,
    watchdog: JoinHandle<()>,
    relay: Option<(relay::Shell, RelayTask)>,
    mdns: Option<Mdns>,
    acme: Option<Acme>,
    /// The router mapping (removes its forwards once the token is cancelled).
    portmap: Option<JoinHandle<()>>,
}

/// Binds and starts every component under `token`. long: over 60 lines, one step per
/// component in the order they depend on each other (certificates before ACME, the relay
/// before the shared state, the listeners last); split up, that order would be hidden.
async fn start(
    config: Config,
    http: TcpListener,
    token: &CancellationToken,
) -> anyhow::Result<Running> {
    let hub = Arc::new(Hub::new(hub_settings(&config)));
    let probe = start_probe(&config, token);
    let https = bind_https(&config).await?;
    let tls_port = match &https {
        Some((l, _, _)) => Some(l.local_addr()?.port()),
        None => None,
    };
    // Internet clients get `turns:` on the TLS port first when remote access is on.
    let turns_port = tls_port.filter(|_| config.remote);
    let acme = https
        .as_ref()
        .and_then(|(_, _, store)| start_acme(&config, store, token));
    let relay = match config.turn {
        Some(addr) => Some(start_relay(&config, &hub, addr, turns_port, token.clone()).await?),
        None => None,
    };
    let remote = RemoteStatus::new(config.remote, config.public_host.clone(), turns_port);
    let portmap = start_portmap(&config, tls_port, token);
    let shared = Arc::new(Shared {
        probe: probe.as_ref().map(|(p, _)| p.clone()),
        http_slots: Pool::new(config.max_connections),
        ws_slots: Pool::new(config.max_connections),
        cross_site_refused: Default::default(),
        relay_counters: relay.as_ref().map(|(shell, _)| shell.counters()),
        relay: relay.as_ref().map(|(shell, _)| shell.clone()),
        certs: https.as_ref().map(|(_, _, store)| store.clone()),
        acme: acme.as_ref().map(|(status, _)| status.clone()),
        portmap: portmap.as_ref().map(|(rx, _)| rx.clone()),
        config,
        hub: hub.clone(),
        shutdown: token.clone(),
        tasks: TaskTracker::new(),
        started: Instant::now(),
        subnets: SubnetCache::new(),
        remote: Arc::new(remote),
    });
    let bound = http.local_addr()?;
    tracing::info!("serving http on {bound}");
    crate::startup::announce(&shared.config, bound);
    let server = tokio::spawn(crate::http::serve(http, shared.clone()));
    let https =
        https.map(|(l, tls, _)| tokio::spawn(crate::http::serve_tls(l, shared.clone(), tls)));
    if let Some(rx) = shared.portmap.clone() {
        let host = acme.as_ref().map(|(_, a)| a.public_host.clone());
        (shared.tasks).spawn(follow_portmap(rx, shared.clone(), host, token.clone()));
    }
    Ok(Running {
        sweeper: tokio::spawn(sweep(hub.clone(), token.clone())),
        watchdog: tokio::spawn(systemd_watchdog(hub, token.clone())),
        mdns: start_mdns(&shared.config, bound.port(), tls_port),
        portmap: portmap.map(|(_, task)| task),
        probe: probe.map(|(_, task)| task),
        shared,
        server,
        https,
        relay,
        acme: acme.map(|(_, acme)| acme),
    })
}

impl Running {
    /// Cancels `token` and waits for every task, at most [`DRAIN_TIMEOUT`] in all.
    async fn drain(self, token: &CancellationToken) {
        // One deadline for everything, so the process exits within DRAIN_TIMEOUT (+ a little).
        let deadline = tokio::time::Instant::now() + DRAIN_TIMEOUT;
        // Each WebSocket session sees the token, sends `restarting` and closes with 1012.
        token.cancel();
        if let Some(mdns) = self.mdns {
            mdns.stop().await;
        }
        let _ = self.server.await;
        if let Some(h) = self.https {
            let _ = h.await;
        }
        if let Some(acme) = self.acme {
            let _ = acme.task.await;
        }
        if let Some(task) = self.probe {
            let _ = task.await;
        }
        let _ = self.sweeper.await;
        let _ = self.watchdog.await;
        if let Some(task) = self.portmap {
            // It removes the router's forwards (bounded by its own wait) and ends.
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                tracing::warn!("the router mapping did not end within {DRAIN_TIMEOUT:?}");
            }
        }
        if let Some((shell, task)) = self.relay {
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
        let tasks = &self.shared.tasks;
        tasks.close();
        if tokio::time::timeout_at(deadline, tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close within {DRAIN_TIMEOUT:?}");
        }
    }
}

/// Lets the hub expire what timed out, every [`SWEEP_EVERY`] until `token` is cancelled.
async fn sweep(hub: Arc<Hub>, token: CancellationToken) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => hub.sweep(),
            _ = token.cancelled() => break,
        }
    }
}

/// Starts the connection check. Its key is generated in the background; a taken port only
/// turns the check off (with a warning): it is a diagnostic, not worth refusing to start.
fn start_probe(config: &Config, token: &CancellationToken) -> Option<(Probe, JoinHandle<()>)> {
    let addr = config.probe?;
    match Probe::start(addr, token.clone()) {
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

type RelayTask = JoinHandle<std::io::Result<()>>;

/// Binds the STUN/TURN relay on `addr` (UDP and TCP) and runs it until `token` is cancelled;
/// `turns_port`: the TLS port internet clients reach it on too (`--remote`).
async fn start_relay(
    config: &Config,
    hub: &Hub,
    addr: std::net::SocketAddr,
    turns_port: Option<u16>,
    token: CancellationToken,
) -> anyhow::Result<(relay::Shell, RelayTask)> {
    use anyhow::Context;
    let secret = crate::config::turn_secret(config).context("cannot set up the TURN secret")?;
    let core = relay::Config {
        secret: secret.clone().into_bytes(),
        advertised_ip: config.relay_ip,
        max_allocations_per_user: config.turn_user_quota,
        max_allocations: config.turn_total_quota,
        max_allocations_per_source: config.turn_source_quota,
        allocation_bandwidth: config.turn_allocation_bandwidth,
        total_bandwidth: config.turn_total_bandwidth,
        ..relay::Config::default()
    };
    let shell = relay::ShellConfig {
        max_connections_per_source: config.turn_tcp_source_limit,
        ..relay::ShellConfig::default()
    };
    let relay = relay::Relay::bind_with(core, shell, addr, addr)
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
        turns_port,
        // Whether UDP 3478 is reachable from outside is not known here: offered.
        remote_udp: true,
        public_host: config.public_host.clone(),
        fallback_host: config.relay_ip.to_string(),
        ttl: config.turn_credential_ttl,
    });
    let shell = relay.shell();
    Ok((shell, tokio::spawn(relay.run(token))))
}

/// Advertise on the LAN unless `--no-mdns`; a failure (no multicast here) is logged, not
/// fatal: the URLs with IP addresses still work. `https_port`: `_https._tcp` too.
fn start_mdns(config: &Config, http_port: u16, https_port: Option<u16>) -> Option<Mdns> {
    if !config.mdns {
        return None;
    }
    let settings = crate::mdns::Settings {
        name: config.name.clone(),
        http_port,
        https_port,
        interfaces: config.mdns_interfaces.clone(),
    };
    Mdns::start(&settings)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A UDP port nobody listens on (bound once, then let go).
    fn free_udp_addr() -> std::net::SocketAddr {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    }

    /// The relay's port is taken: `run` fails, and the connection check started before it
    /// lets go of its UDP port (its task saw the token cancelled) instead of running on.
    #[tokio::test]
    async fn a_start_up_error_stops_what_was_started_before_it() {
        let state = state_dir("start-up-error");
        let mut config = Config::for_tests(&state);
        let probe = free_udp_addr();
        config.probe = Some(probe);
        let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        config.turn = Some(taken.local_addr().unwrap());
        config.turn_secret = Some("s".repeat(32));
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let err = run(config, http, std::future::pending()).await.unwrap_err();
        assert!(format!("{err:#}").contains("(--turn)"), "{err:#}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while let Err(e) = std::net::UdpSocket::bind(probe) {
            assert!(
                Instant::now() < deadline,
                "the connection check still holds {probe}: {e}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = std::fs::remove_dir_all(&state);
    }

    /// A fresh state directory path for one test (not created).
    fn state_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("homedrop-app-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// The pairing key is made once, kept 0600 and read back on the next start; without a
    /// usable state directory a key in memory serves (each start its own).
    #[test]
    fn the_pairing_key_survives_restarts_and_falls_back_to_memory() {
        use std::os::unix::fs::PermissionsExt;
        let state = state_dir("pair-key");
        let config = Config::for_tests(&state);
        let (first, again) = (pair_tag_key(&config), pair_tag_key(&config));
        let file = state.join(crate::config::PAIR_TAG_KEY_FILE);
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&file).unwrap().trim().len(), 64);
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
        let secret = first.new_secret(&mut rng, true);
        assert!(again.is_from_home(&secret), "the same key after a restart");
        // A state "directory" that is a file: a warning and a key in memory.
        let blocked = Config::for_tests(&file);
        let (m1, m2) = (pair_tag_key(&blocked), pair_tag_key(&blocked));
        let s1 = m1.new_secret(&mut rng, true);
        assert!(m1.is_from_home(&s1));
        assert!(!m2.is_from_home(&s1), "a new key at each start");
        assert!(!again.is_from_home(&s1));
        let _ = std::fs::remove_dir_all(&state);
    }
}
