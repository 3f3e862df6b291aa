//! One integration-test crate (fast to link); each module is one topic.

mod support;

/// The real binary: flags, exit codes, shutdown.
mod binary;
/// Browsers in network namespaces driving the real UI (needs root, Chromium).
mod browser;
/// HTTP: assets, caching, headers, limits.
mod http;
/// Signaling over real WebSocket clients against the in-process app.
mod signaling;
