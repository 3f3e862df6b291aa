//! The parts of [`super::run`] that face the internet: the TLS listener and its certificate
//! store, the ACME client filling it, and the router mapping whose learned public address
//! the ACME client certifies and the household's panel shows.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::certs::CertStore;
use crate::config::Config;
use crate::http::Shared;
use crate::portmap;
use crate::remote::{Mapping, MappingState};

/// The ACME client and its input: the public host (`--public-host`, else the address the
/// router mapping learns, see [`follow_portmap`]).
pub(super) struct Acme {
    pub(super) task: JoinHandle<()>,
    pub(super) public_host: watch::Sender<Option<String>>,
}

/// The router mapping's state and its task (which removes the forwards on shutdown).
pub(super) type Portmap = (watch::Receiver<portmap::State>, JoinHandle<()>);

/// The TLS listener, its acceptor and the certificate store it resolves through.
pub(super) type Https = (
    TcpListener,
    tokio_rustls::TlsAcceptor,
    Arc<crate::certs::CertStore>,
);

/// Binds the TLS listener (`--https`, or `--remote`'s default) and loads (or generates) its
/// certificate into the store every handshake resolves through.
pub(super) async fn bind_https(config: &Config) -> anyhow::Result<Option<Https>> {
    use anyhow::Context;
    let Some(addr) = config.https else {
        return Ok(None);
    };
    let (tls, store) = crate::http::tls::setup(config).context("cannot set up HTTPS")?;
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (--https)"))?;
    tracing::info!(
        "serving https on {} (also TURN over TLS and ACME challenges)",
        listener.local_addr()?
    );
    Ok(Some((listener, tls, store)))
}

/// Starts getting a certificate by ACME into `store` in the background, when
/// [`Config::acme_active`].
pub(super) fn start_acme(
    config: &Config,
    store: &Arc<CertStore>,
    token: &CancellationToken,
) -> Option<(Arc<crate::acme::Status>, Acme)> {
    if !config.acme_active() {
        return None;
    }
    let mut settings =
        crate::acme::Settings::new(config.acme_directory.clone(), config.state_dir.clone());
    settings.contact = config.acme_contact.clone();
    settings.ca = config.acme_ca.clone();
    settings.retry_min = config.acme_retry_min;
    let (tx, rx) = tokio::sync::watch::channel(config.public_host.clone());
    tracing::info!(
        "ACME: getting a certificate for {} from {} in the background",
        config.public_host.as_deref().unwrap_or("?"),
        config.acme_directory
    );
    let (status, task) = crate::acme::start(settings, store.clone(), rx, token.clone());
    Some((
        status,
        Acme {
            task,
            public_host: tx,
        },
    ))
}

/// Router mapping of the TLS port (TCP) and the TURN port (UDP), when remote access asks
/// for it (`--remote`, or `--map-ports` alone) and not `--no-upnp`.
pub(super) fn start_portmap(
    config: &Config,
    tls_port: Option<u16>,
    token: &CancellationToken,
) -> Option<Portmap> {
    use portmap::{Port, Transport};
    if !(config.remote || config.map_ports) || !config.upnp {
        return None;
    }
    let tcp = tls_port.map(|port| Port {
        transport: Transport::Tcp,
        port,
    });
    let udp = config.turn.map(|a| Port {
        transport: Transport::Udp,
        port: a.port(),
    });
    let ports: Vec<Port> = tcp.into_iter().chain(udp).filter(|p| p.port != 0).collect();
    if ports.is_empty() {
        tracing::warn!("--map-ports: nothing to forward (no --https listener, no TURN relay)");
        return None;
    }
    let settings = portmap::Settings {
        ports,
        lease: config.map_lease,
    };
    Some(portmap::start(settings, token.clone()))
}

/// The router mapping's state, as the household's panel shows it and as the ACME client
/// needs it: without `--public-host`, the public address the router reports is the name
/// relatives use and the one to certify.
pub(super) async fn follow_portmap(
    mut rx: watch::Receiver<portmap::State>,
    shared: Arc<Shared>,
    acme_host: Option<watch::Sender<Option<String>>>,
    token: CancellationToken,
) {
    loop {
        let state = rx.borrow_and_update().clone();
        let learned = state
            .public_ip
            .filter(|_| state.is_mapped())
            .map(|ip| ip.to_string());
        let configured = shared.config.public_host.is_some();
        shared.remote.update(|v| {
            v.mapping = Mapping {
                state: mapping_state(&state),
                protocol: state.protocol.map(|p| p.name().to_string()),
                public_ip: state.public_ip.map(|ip| ip.to_string()),
                message: state.message(),
            };
            if !configured && learned.is_some() {
                v.public_host = learned.clone();
            }
        });
        if let (false, Some(host)) = (configured, &learned) {
            shared.hub.set_public_host(host.clone());
        }
        if let (false, Some(tx), Some(host)) = (configured, &acme_host, &learned) {
            tx.send_if_modified(|h| {
                let changed = h.as_deref() != Some(host.as_str());
                *h = Some(host.clone());
                changed
            });
        }
        tokio::select! {
            r = rx.changed() => if r.is_err() { return },
            _ = token.cancelled() => return,
        }
    }
}

/// The panel's words for the mapping's state.
fn mapping_state(state: &portmap::State) -> MappingState {
    use portmap::{Problem as P, Status as S};
    match (&state.status, &state.problem) {
        (S::Mapped, _) => MappingState::Mapped,
        (S::Starting, _) => MappingState::Pending,
        (_, Some(P::CarrierGradeNat(_) | P::DoubleNat(_) | P::NoPublicAddress)) => {
            MappingState::BehindAnotherNat
        }
        (_, Some(P::PortTaken(_) | P::Refused(_))) => MappingState::Refused,
        _ => MappingState::Manual,
    }
}
