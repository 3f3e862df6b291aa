//! What the household sees of remote access: is the router mapping homedrop's ports, at
//! which public address, with which certificate, and the base of the invite link.
//!
//! Why one place: the port mapping and the certificate come from background tasks (the
//! router, the ACME CA) that may take minutes or fail, while the page's "Remote access"
//! panel, `/stats` and the journal must all tell the same story. Those tasks write here
//! ([`RemoteStatus::update`]); `GET /remote` (home-group devices only) reads a copy.
//! Plain data: no I/O.

use std::sync::RwLock;

use serde::Serialize;

/// How the router's mapping stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum MappingState {
    /// Remote access is off (`--remote` not given).
    #[default]
    Off,
    /// Asking the router.
    Pending,
    /// The router forwards the ports (UPnP IGD, NAT-PMP or PCP).
    Mapped,
    /// No mapping by homedrop (`--no-upnp`, or no router answered): forward by hand.
    Manual,
    /// The router's own external address is private or shared (100.64.0.0/10): a second
    /// router or the carrier's NAT is in the way, and no forward can help.
    BehindAnotherNat,
    /// The router refused the mapping (a port taken, say).
    Refused,
}

/// The router mapping, as the panel shows it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Mapping {
    pub state: MappingState,
    /// "UPnP IGD", "NAT-PMP", "PCP".
    pub protocol: Option<String>,
    /// The public address the router reports.
    pub public_ip: Option<String>,
    /// One plain sentence: what works, or what the household must do.
    pub message: String,
}

/// The certificate the TLS port serves.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// "acme", "self-signed" or "file".
    pub source: String,
    /// The names (DNS names or IP addresses) it is for.
    pub names: Vec<String>,
    /// Expiry, Unix seconds.
    pub not_after: u64,
    /// The last issuance error, if the last try failed.
    pub error: Option<String>,
}

/// Everything `GET /remote` answers.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RemoteView {
    pub enabled: bool,
    /// The host relatives use (`--public-host`, else the router's public address).
    pub public_host: Option<String>,
    /// The TLS port relatives reach.
    pub tls_port: Option<u16>,
    pub mapping: Mapping,
    pub certificate: Option<Certificate>,
    /// `https://<public host>[:port]/`, the start of every invite link; `None` until a
    /// public host is known.
    pub invite_base: Option<String>,
}

/// The shared, updatable status.
#[derive(Debug, Default)]
pub struct RemoteStatus {
    view: RwLock<RemoteView>,
}

impl RemoteStatus {
    /// Status for a start with remote access `enabled`, `public_host` from the config and
    /// the TLS port relatives reach.
    pub fn new(enabled: bool, public_host: Option<String>, tls_port: Option<u16>) -> Self {
        let mut view = RemoteView {
            enabled,
            public_host,
            tls_port,
            ..RemoteView::default()
        };
        if enabled {
            view.mapping = Mapping {
                state: MappingState::Pending,
                message: "Asking the router to forward homedrop's ports…".into(),
                ..Mapping::default()
            };
        } else {
            view.mapping.message = "Remote access is off (start homedrop with --remote).".into();
        }
        view.invite_base = invite_base(&view);
        RemoteStatus {
            view: RwLock::new(view),
        }
    }

    /// A copy of the current status.
    pub fn view(&self) -> RemoteView {
        self.view.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Change the status; the invite base follows the public host.
    pub fn update(&self, f: impl FnOnce(&mut RemoteView)) {
        let mut v = self.view.write().unwrap_or_else(|e| e.into_inner());
        f(&mut v);
        v.invite_base = invite_base(&v);
    }
}

/// `https://host[:port]/` (IPv6 in brackets; no port for 443).
fn invite_base(v: &RemoteView) -> Option<String> {
    let host = v.public_host.as_deref()?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Some(match v.tls_port {
        None | Some(443) => format!("https://{host}/"),
        Some(p) => format!("https://{host}:{p}/"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invite_links_follow_the_public_host_and_port() {
        let s = RemoteStatus::new(true, None, Some(443));
        assert_eq!(s.view().invite_base, None);
        assert_eq!(s.view().mapping.state, MappingState::Pending);
        s.update(|v| v.public_host = Some("198.51.100.1".into()));
        assert_eq!(
            s.view().invite_base.as_deref(),
            Some("https://198.51.100.1/")
        );
        s.update(|v| {
            v.public_host = Some("2001:db8::1".into());
            v.tls_port = Some(8443);
        });
        assert_eq!(
            s.view().invite_base.as_deref(),
            Some("https://[2001:db8::1]:8443/")
        );
        let off = RemoteStatus::new(false, Some("home.example".into()), None);
        assert_eq!(off.view().mapping.state, MappingState::Off);
        let json = serde_json::to_string(&off.view()).unwrap();
        assert!(json.contains("\"state\":\"off\""), "{json}");
        assert!(
            json.contains("\"inviteBase\":\"https://home.example/\""),
            "{json}"
        );
    }
}
