//! homedrop: send files, text and photos between devices, at home and beyond, with no
//! outside service. One binary serves the web client, WebSocket signaling and its own
//! STUN/TURN relay; file bytes travel browser to browser over WebRTC data channels.
//!
//! # Layout
//! Top floor first: a module uses only the ones below it (on one floor, only one way), never
//! one above. `scripts/check-layers.py` (run by `tests/layers.rs`) fails on an upward import
//! or an import circle.
//! - [`app`]: builds the components from the [`config::Config`] and runs them under one
//!   shutdown token (a start-up error cancels it too).
//! - [`http`]: hyper server, embedded assets, routes, errors → status codes; the state every
//!   handler shares ([`http::Shared`]) and the connection check's `POST /probe`
//!   ([`http::probe`]).
//! - [`metrics`]: one counters snapshot collected from the hub, the probe and the relay,
//!   rendered as `/stats` (JSON) and `/metrics` (Prometheus).
//! - [`signaling`]: the WebSocket protocol, discovery groups, rooms and pairing; beside it
//!   [`acme`]: certificates by ACME (TLS-ALPN-01) in the background, into [`certs`].
//! - One floor of independent parts:
//!   - [`relay`]: STUN/TURN relay: a sans-IO core on the `stun` codec, below its tokio shell
//!     (the router, then the UDP and TCP transports, then the assembly [`relay::Relay`]).
//!   - [`probe`]: the connection check (does UDP reach homedrop? RTT and loss); no HTTP.
//!   - [`mdns`]: `<name>.local` and `_http._tcp` on the LAN (mDNS / DNS-SD).
//!   - [`startup`]: the URLs to open, logged, and a QR code on a terminal.
//!   - [`portmap`]: the home router's port forwards for remote access (PCP, NAT-PMP, UPnP
//!     IGD) and the public address it reports.
//! - [`config`]: flags / environment / file → one validated [`config::Config`].
//! - [`net`]: which clients form the home group (and the cached subnets that decide it),
//!   which interfaces are the LAN, how a URL for a host is written; beside it [`logring`]:
//!   the recent log lines in memory, for the household's diagnostics (`GET /api/logs`).

pub mod acme;
pub mod app;
pub mod certs;
pub mod config;
pub mod http;
pub mod logring;
pub mod mdns;
pub mod metrics;
pub mod net;
pub mod portmap;
pub mod probe;
pub mod relay;
pub mod remote;
pub mod signaling;
pub mod startup;
