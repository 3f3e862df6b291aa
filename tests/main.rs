//! One integration-test crate (fast to link); each module is one topic.

mod support;

/// The real binary: flags, exit codes, shutdown.
mod binary;
/// Browsers in network namespaces driving the real UI (needs root, Chromium).
mod browser;
/// HTTP: assets, caching, headers, limits.
mod http;
/// Static musl builds (qemu for aarch64), the .deb packages and Cross.toml.
mod packaging;
/// Unauthenticated Allocate flood against the real binary: RSS stays flat, clients still served.
mod relay_flood;
/// The relay against coturn's client tools (turnutils_uclient/_peer/_stunclient).
mod relay_interop;
/// The relay's stream limits (connections, framing, first-frame timeout) and drain.
mod relay_shell;
/// Signaling over real WebSocket clients against the in-process app.
mod signaling;
