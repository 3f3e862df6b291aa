//! One integration-test crate (fast to link); each module is one topic.

mod support;

/// The real binary: flags, exit codes, shutdown.
mod binary;
/// Browsers in network namespaces driving the real UI (needs root, Chromium).
mod browser;
/// HTTP: assets, caching, headers, limits.
mod http;
/// HTTPS: given and generated certificates, WebSocket over TLS, refused plain/old clients.
mod https;
/// The connection check (`POST /probe`, webrtc-unreliable echo), up to Chromium in a namespace.
mod probe;
/// Unauthenticated Allocate flood against the real binary: RSS stays flat, clients still served.
mod relay_flood;
/// The relay against coturn's client tools (turnutils_uclient/_peer/_stunclient).
mod relay_interop;
/// The relay's stream limits (connections, framing, first-frame timeout) and drain.
mod relay_shell;
/// Signaling over real WebSocket clients against the in-process app.
mod signaling;
