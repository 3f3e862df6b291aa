//! mDNS / DNS-SD: homedrop is found as `http://<name>.local` on the home network.
//!
//! Why: a home appliance gets its address from DHCP and nobody remembers it. Phones and laptops
//! (iOS, macOS, Windows 10+, Linux with nss-mdns) resolve `.local` names themselves, and
//! service browsers list `_http._tcp` services, so the box is reachable by name with no
//! router setup. Android resolves `.local` only in recent versions: the startup log and the
//! page always show the IP address and a QR code too (see [`crate::startup`]).
//!
//! What it advertises, with the `mdns-sd` responder (its own thread, no async runtime):
//! - the host name `<name>.local.` (default `homedrop`, `--name`) with an A/AAAA record for
//!   every address of every LAN interface: loopback and virtual interfaces (`docker*`,
//!   `veth*`, `br-*`, `virbr*`) are left out unless named with `--mdns-interface`, which
//!   then restricts advertising to exactly the named interfaces;
//! - the DNS-SD service `<name>._http._tcp.local.` on the HTTP port with TXT `path=/`, and
//!   `<name>._https._tcp.local.` when an HTTPS port is given (see [`Settings::https_port`]).
//!
//! Name conflicts: `mdns-sd` probes every name before announcing it (RFC 6762 §8) and, when
//! another device already answers for it, renames ours (`homedrop-2.local.`, instance
//! `homedrop (2)`) and reports a `NameChange`, which is logged with the new URL.
//!
//! Following addresses: the services use `addr_auto`, so the responder re-reads the interface
//! addresses every [`IP_CHECK_SECS`] seconds (DHCP renewal, a link going up or down),
//! announces added addresses and stops answering with removed ones: a change is visible on
//! the LAN within about that interval plus the announcement, well under 10 s.
//!
//! Shutdown: [`Mdns::stop`] unregisters the services, which sends goodbye records (TTL 0)
//! so browsers drop homedrop at once instead of after the records' TTL, then stops the thread.

use std::time::Duration;

use mdns_sd::{DaemonEvent, IfKind, IfPredicate, RRType, ServiceDaemon, ServiceInfo};

use crate::net::{is_lan_interface, url_for_host};

/// How often the responder re-reads interface addresses (seconds).
pub const IP_CHECK_SECS: u32 = 3;
/// How long shutdown waits for the goodbye records and the responder thread.
const STOP_TIMEOUT: Duration = Duration::from_secs(2);

/// What to advertise.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The host label: `<name>.local.` and the service instance name.
    pub name: String,
    /// Port of the plain HTTP server (`_http._tcp`).
    pub http_port: u16,
    /// Port of the HTTPS server, if one runs (`_https._tcp`).
    pub https_port: Option<u16>,
    /// Interfaces named by the user; empty: every LAN interface (see
    /// [`is_lan_interface`](crate::net::is_lan_interface)).
    pub interfaces: Vec<String>,
}

/// Why advertising could not start.
#[derive(Debug, thiserror::Error)]
pub enum MdnsError {
    #[error("mDNS responder: {0}")]
    Daemon(#[from] mdns_sd::Error),
}

/// A running responder; [`Mdns::stop`] says goodbye.
pub struct Mdns {
    daemon: ServiceDaemon,
    fullnames: Vec<String>,
    events: tokio::task::JoinHandle<()>,
}

impl Mdns {
    /// Start the responder and register the services. Needs a tokio runtime (the event
    /// logger is a task).
    pub fn start(settings: &Settings) -> Result<Mdns, MdnsError> {
        let daemon = ServiceDaemon::new()?;
        let named = settings.interfaces.clone();
        daemon.disable_interface(IfKind::Predicate(IfPredicate::new(move |i| {
            !is_lan_interface(&i.name, i.is_loopback(), &named)
        })))?;
        daemon.set_ip_check_interval(IP_CHECK_SECS)?;
        let events = tokio::spawn(log_events(daemon.monitor()?, settings.clone()));
        let host = format!("{}.local.", settings.name);
        let mut services = vec![("_http._tcp.local.", settings.http_port)];
        if let Some(port) = settings.https_port {
            services.push(("_https._tcp.local.", port));
        }
        let mut fullnames = Vec::new();
        for (ty, port) in services {
            let info = ServiceInfo::new(ty, &settings.name, &host, "", port, &[("path", "/")][..])?
                .enable_addr_auto();
            fullnames.push(info.get_fullname().to_string());
            daemon.register(info)?;
        }
        tracing::info!(
            "mDNS: advertising {host} and {} on port {}",
            fullnames.join(", "),
            settings.http_port
        );
        Ok(Mdns {
            daemon,
            fullnames,
            events,
        })
    }

    /// Unregister (goodbye records) and stop the responder thread.
    pub async fn stop(self) {
        for name in &self.fullnames {
            match self.daemon.unregister(name) {
                Ok(rx) => {
                    if tokio::time::timeout(STOP_TIMEOUT, rx.recv_async())
                        .await
                        .is_err()
                    {
                        tracing::warn!("mDNS: no goodbye for {name} within {STOP_TIMEOUT:?}");
                    }
                }
                Err(e) => tracing::warn!("mDNS: cannot unregister {name}: {e}"),
            }
        }
        match self.daemon.shutdown() {
            Ok(rx) => {
                let _ = tokio::time::timeout(STOP_TIMEOUT, rx.recv_async()).await;
            }
            Err(e) => tracing::warn!("mDNS: cannot stop the responder: {e}"),
        }
        self.events.abort();
        tracing::info!("mDNS: goodbye sent, responder stopped");
    }
}

/// Log what the responder reports: renames after a conflict (with the new URL), address
/// changes, errors. Ends when the responder stops.
async fn log_events(events: mdns_sd::Receiver<DaemonEvent>, settings: Settings) {
    let mut host = format!("{}.local.", settings.name);
    while let Ok(event) = events.recv_async().await {
        match event {
            DaemonEvent::NameChange(c)
                if matches!(c.rr_type, RRType::A | RRType::AAAA) && c.new_name != host =>
            {
                let shown = c.new_name.trim_end_matches('.');
                tracing::warn!(
                    "mDNS: {} is taken on this network; now advertised as {shown}: open {}",
                    c.original.trim_end_matches('.'),
                    url_for_host(shown, settings.http_port)
                );
                host = c.new_name;
            }
            DaemonEvent::NameChange(c) if matches!(c.rr_type, RRType::A | RRType::AAAA) => {}
            DaemonEvent::NameChange(c) => {
                tracing::info!("mDNS: service {} renamed to {}", c.original, c.new_name);
            }
            DaemonEvent::IpAdd(ip) => tracing::info!("mDNS: now answering with {ip}"),
            DaemonEvent::IpDel(ip) => tracing::info!("mDNS: no longer answering with {ip}"),
            DaemonEvent::Error(e) => tracing::warn!("mDNS: {e}"),
            _ => {}
        }
    }
}
