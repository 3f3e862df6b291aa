//! One snapshot of the server's counters, rendered as `/stats` (JSON) and `/metrics`
//! (Prometheus text format 0.0.4).
//!
//! Both endpoints render the same [`Snapshot`], declared once in the [`snapshot!`] list below:
//! a new number is one line there (name, kind, help) plus filling it in [`Snapshot::collect`],
//! and it appears in both. The text format is small enough to write here; a metrics registry
//! crate would add a second set of atomics next to the hub's.

use std::fmt::Write;
use std::time::Instant;

use crate::acme;
use crate::portmap;
use crate::probe::Probe;
use crate::relay;
use crate::signaling::Hub;

/// How Prometheus should treat a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Goes up and down (current peers, rooms).
    Gauge,
    /// Only goes up while the process runs (connections since start).
    Counter,
}

/// Declares [`Snapshot`]: a `u64` field per line, with its kind and help text.
macro_rules! snapshot {
    ($( $(#[doc = $help:literal])+ $field:ident: $kind:ident, )*) => {
        /// What `/stats` and `/metrics` show; JSON keys are the field names in camelCase.
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        pub struct Snapshot {
            /// The homedrop version (`homedrop_build_info{version=...}` in `/metrics`).
            pub version: &'static str,
            $( $(#[doc = $help])+ pub $field: u64, )*
            /// The STUN/TURN relay's counters (`relay` object in `/stats`,
            /// `homedrop_relay_*` in `/metrics`); absent with `--no-turn`.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub relay: Option<relay::Stats>,
            /// The ACME client's state (`acme` object in `/stats`, `homedrop_acme_*` in
            /// `/metrics`); absent when homedrop does not use ACME.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub acme: Option<acme::Stats>,
            /// The router mapping (`portmap` object in `/stats`, `homedrop_portmap_*` in
            /// `/metrics`); absent when remote access is off or with `--no-upnp`.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub portmap: Option<portmap::Report>,
        }

        impl Snapshot {
            /// Every number with its metric name, kind and help text, in declaration order.
            pub fn metrics(&self) -> Vec<(&'static str, Kind, &'static str, u64)> {
                let mut all = vec![$(
                    (stringify!($field), Kind::$kind, concat!($($help),+), self.$field),
                )*];
                if let Some(r) = &self.relay {
                    all.extend(relay_metrics(r));
                }
                if let Some(a) = &self.acme {
                    all.extend(acme_metrics(a));
                }
                if let Some(p) = &self.portmap {
                    all.extend(portmap_metrics(p));
                }
                all
            }
        }
    };
}

snapshot! {
    /// Seconds since homedrop started.
    uptime_seconds: Gauge,
    /// Open signaling WebSocket connections (peers).
    peers: Gauge,
    /// Rooms that exist (including empty ones waiting to expire).
    rooms: Gauge,
    /// Pairs of peers that exchanged a WebRTC signal (SDP or ICE) in the last 30 seconds:
    /// connections being negotiated, i.e. transfers about to start (one connection per pair
    /// of devices, negotiated once and reused).
    negotiating: Gauge,
    /// Signaling WebSocket connections accepted since start.
    connections_total: Counter,
    /// Signals (SDP/ICE) forwarded between peers since start.
    signals_relayed: Counter,
    /// Error messages sent to clients since start (bad input, limits).
    errors_sent: Counter,
    /// Signaling connections closed since start for not reading what they were sent: their
    /// outgoing queue went over its byte budget, or a write to them stalled.
    too_slow: Counter,
    /// 1 when the connection check answers offers (its key is generated), else 0 (starting,
    /// or off with `--no-probe`).
    probe_ready: Gauge,
    /// HTTP connections refused since start (every slot, the internet's share, or the
    /// source's cap taken: 503).
    http_refused: Counter,
    /// WebSocket upgrades refused since start for want of a slot (503).
    ws_refused: Counter,
    /// Requests refused since start for a Host that is not ours (421, 403 on `/ws`) or a
    /// cross-site Origin or content type (403, 415).
    cross_site_refused: Counter,
}

/// The admission counters (kept by the HTTP server, handed in as numbers).
#[derive(Debug, Clone, Copy, Default)]
pub struct Refusals {
    pub http: u64,
    pub ws: u64,
    pub cross_site: u64,
}

/// The relay's counters as metrics (names get the `homedrop_` prefix like the rest). long: over 60
/// lines only because it is a table, one entry per counter, best read in one piece.
fn relay_metrics(r: &relay::Stats) -> Vec<(&'static str, Kind, &'static str, u64)> {
    use Kind::{Counter, Gauge};
    vec![
        (
            "relay_allocations",
            Gauge,
            "TURN allocations alive now.",
            r.allocations_current,
        ),
        (
            "relay_allocations",
            Counter,
            "TURN allocations granted since start.",
            r.allocations_total,
        ),
        (
            "relay_bytes",
            Counter,
            "Bytes relayed between allocations since start.",
            r.bytes_relayed,
        ),
        (
            "relay_packets",
            Counter,
            "Packets relayed between allocations since start.",
            r.packets_relayed,
        ),
        (
            "relay_auth_failures",
            Counter,
            "TURN requests refused for credentials presented (401, 441).",
            r.auth_failures,
        ),
        (
            "relay_policy_refusals",
            Counter,
            "Peers refused by the relay-to-relay policy (403).",
            r.policy_refusals,
        ),
        (
            "relay_quota_refusals",
            Counter,
            "Allocations refused by quota or capacity (486, 508).",
            r.quota_refusals,
        ),
        (
            "relay_dropped_bandwidth",
            Counter,
            "Packets dropped by a bandwidth cap.",
            r.dropped_bandwidth,
        ),
        (
            "relay_reservations",
            Gauge,
            "Ports reserved for a RESERVATION-TOKEN now.",
            r.reservations_current,
        ),
        (
            "relay_reservations_redeemed",
            Counter,
            "Allocations that redeemed a RESERVATION-TOKEN.",
            r.reservations_redeemed,
        ),
    ]
}

/// The ACME client's numbers (its last error's text is in `/stats` only).
fn acme_metrics(a: &acme::Stats) -> Vec<(&'static str, Kind, &'static str, u64)> {
    use Kind::{Counter, Gauge};
    vec![
        (
            "acme_certificate_expiry_seconds",
            Gauge,
            "When the certificate from ACME expires, Unix seconds (0: none yet).",
            a.not_after,
        ),
        (
            "acme_renewal_seconds",
            Gauge,
            "When it is to be renewed, Unix seconds (0: none yet).",
            a.renew_at,
        ),
        (
            "acme_issued",
            Counter,
            "Certificates issued by ACME since start.",
            a.issued,
        ),
        (
            "acme_failures",
            Counter,
            "Failed ACME attempts since start.",
            a.failures,
        ),
        (
            "acme_last_error_seconds",
            Gauge,
            "When the last ACME attempt failed, Unix seconds (0: none since the last issuance).",
            if a.last_error.is_some() {
                a.last_error_at
            } else {
                0
            },
        ),
    ]
}

/// The router mapping as metrics (its reasons are words: those are in `/stats`).
fn portmap_metrics(p: &portmap::Report) -> Vec<(&'static str, Kind, &'static str, u64)> {
    use Kind::{Counter, Gauge};
    let mapped = (p.status == portmap::Status::Mapped) as u64;
    vec![
        (
            "portmap_mapped",
            Gauge,
            "1 when the router forwards the remote-access ports, else 0.",
            mapped,
        ),
        (
            "portmap_lease_expiry_seconds",
            Gauge,
            "Unix time the router's first lease ends (0: none, or permanent).",
            p.lease_expires.unwrap_or(0),
        ),
        (
            "portmap_renewals",
            Counter,
            "Router leases renewed since start.",
            p.renewals,
        ),
    ]
}

impl Snapshot {
    /// The numbers now: the hub's, the connection check's (`None`: off) and the relay's
    /// (`None`: `--no-turn`) and ACME's (`None`: not used), for a server running since `started`.
    pub fn collect(
        hub: &Hub,
        started: Instant,
        probe: Option<&Probe>,
        relay: Option<&relay::Counters>,
        acme: Option<&acme::Status>,
        portmap: Option<&portmap::State>,
        refused: Refusals,
    ) -> Snapshot {
        use std::sync::atomic::Ordering::Relaxed;
        let c = &hub.counters;
        Snapshot {
            version: env!("CARGO_PKG_VERSION"),
            uptime_seconds: started.elapsed().as_secs(),
            peers: hub.peer_count() as u64,
            rooms: hub.room_count() as u64,
            negotiating: hub.negotiating() as u64,
            connections_total: c.connections_total.load(Relaxed),
            signals_relayed: c.signals_relayed.load(Relaxed),
            errors_sent: c.errors_sent.load(Relaxed),
            too_slow: c.too_slow.load(Relaxed),
            probe_ready: probe.is_some_and(|p| p.status() == "ready") as u64,
            http_refused: refused.http,
            ws_refused: refused.ws,
            cross_site_refused: refused.cross_site,
            relay: relay.map(|r| r.snapshot()),
            acme: acme.map(|a| a.stats()),
            portmap: portmap.map(portmap::State::report),
        }
    }

    /// `/stats` body.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }

    /// `/metrics` body: Prometheus text format; counters get the `_total` suffix.
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP homedrop_build_info homedrop version.\n# TYPE homedrop_build_info gauge\n\
             homedrop_build_info{{version=\"{}\"}} 1",
            self.version.escape_default()
        );
        for (field, kind, help, value) in self.metrics() {
            let (name, ty) = match kind {
                Kind::Gauge => (format!("homedrop_{field}"), "gauge"),
                Kind::Counter if field.ends_with("_total") => {
                    (format!("homedrop_{field}"), "counter")
                }
                Kind::Counter => (format!("homedrop_{field}_total"), "counter"),
            };
            let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {ty}\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_carry_every_field() {
        let s = Snapshot {
            version: "1.2.3",
            peers: 2,
            rooms: 1,
            connections_total: 7,
            signals_relayed: 5,
            ..Snapshot::default()
        };
        let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(json["version"], "1.2.3");
        assert_eq!(json["peers"], 2);
        assert_eq!(json["connectionsTotal"], 7);
        assert_eq!(json["signalsRelayed"], 5);
        assert_eq!(json.as_object().unwrap().len(), s.metrics().len() + 1);
        let text = s.to_prometheus();
        assert!(
            text.contains("homedrop_build_info{version=\"1.2.3\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE homedrop_peers gauge\nhomedrop_peers 2\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE homedrop_connections_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("\nhomedrop_signals_relayed_total 5\n"),
            "{text}"
        );
        for line in text.lines().filter(|l| l.starts_with("# HELP")) {
            assert!(line.split(' ').count() > 3, "help text present: {line}");
        }
    }
}
