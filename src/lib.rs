//! homedrop: send files, text and photos between devices, at home and beyond, with no
//! outside service. One binary serves the web client, WebSocket signaling and its own
//! STUN/TURN relay; file bytes travel browser to browser over WebRTC data channels.
//!
//! # Layout
//! - [`config`]: flags / environment / file → one validated [`config::Config`].
//! - [`app`]: builds the components and runs them under one shutdown token.
//! - [`http`]: hyper server, embedded assets, routes, errors → status codes.
//! - [`metrics`]: one counters snapshot, rendered as `/stats` (JSON) and `/metrics` (Prometheus).
//! - [`signaling`]: the WebSocket protocol, discovery groups, rooms and pairing.
//! - [`net`]: which clients form the home group.
//! - [`mdns`]: `<name>.local` and `_http._tcp` on the LAN (mDNS / DNS-SD).
//! - [`startup`]: the URLs to open, logged, and a QR code on a terminal.
//! - [`relay`]: STUN/TURN relay: a sans-IO core on the `stun` codec plus its tokio shell.

pub mod app;
pub mod config;
pub mod http;
pub mod mdns;
pub mod metrics;
pub mod net;
pub mod relay;
pub mod signaling;
pub mod startup;
