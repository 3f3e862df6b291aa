//! One integration-test crate (fast to link); each module is one topic.

/// The harness, public because the benches include it too (see its module docs).
pub mod support;

/// Accessibility of every view (axe-core in Chromium, light and dark), keyboard focus,
/// reduced motion and live regions (needs root, Chromium and tests/a11y's axe-core).
mod a11y;
/// ACME against pebble in a namespace: IP and DNS certificates, reuse, renewal, address
/// change, an unreachable CA (needs root and pebble).
mod acme;
/// Same origin (Origin, Host: DNS rebinding, the probe's type) and per-source admission caps.
mod admission;
/// Issue 12's attacks against the real binary facing the internet, beside the legitimate path.
mod attacks;
/// Issue 12's memory attack (stalled tabs, a rename storm) against the real binary.
mod attacks_memory;
/// Issue 12's relay attacks (relayed-address isolation, per-source quota) against the real binary.
mod attacks_relay;
/// Issue 12's signaling attacks (rooms, guessing, strangers' relay, names) against the real binary.
mod attacks_rules;
/// Issue 14's many files: 200 files verified, rapid saves lose nothing, Save all as one ZIP.
mod batch;
/// The real binary: flags, exit codes, shutdown.
mod binary;
/// Browsers in network namespaces driving the real UI (needs root, Chromium).
mod browser;
/// Configuration through the real binary: precedence, file errors, the example config.
mod config;
/// `web/js/protocol.js` against the serde enums of the wire contract: the same message names.
mod contract;
/// The delivery path: `hello` deadline, `rename`/`hello` rate limits, clients that stop reading.
mod delivery;
/// The household's diagnostics (`GET /api/logs`: home devices, own pages, no secrets) and
/// capabilities up front (`hello.caps`; a browser without WebRTC told so, shown as unable).
mod diag;
/// Firefox ESR ↔ Chromium over the real UI in namespaces; Firefox's memory for a large file
/// (needs root, firefox-esr and tests/firefox's puppeteer-core: the test command installs them).
mod firefox;
/// Guessing pairing keys and room codes: one IPv6 /64 is one source, a global budget of
/// wrong guesses, tokens for the household; who may create rooms.
mod guessing;
/// The `data-*` hooks: every one the client uses is listed in docs/testing.md, none ambiguous.
mod hooks;
/// HTTP: assets, caching, headers, limits.
mod http;
/// HTTPS: given and generated certificates, WebSocket over TLS, refused plain/old clients.
mod https;
/// The web client's languages: complete catalogs, no text around them, German/French/Polish in Chromium.
mod i18n;
/// `src/` has no import circle and no upward import (`scripts/check-layers.py`).
mod layers;
/// mDNS / DNS-SD between namespaces against python-zeroconf (needs root).
mod mdns;
/// Named rooms ("Family"): two Chromium rejoin by name after reloads and catch up on the
/// messages each missed; strangers are refused, a device paired from home is admitted.
mod named_rooms;
/// Both browsers dial each other at the same instant (glare): perfect negotiation connects.
mod negotiation;
/// One TLS port (`--remote`): HTTP, WSS, TURN over TLS (coturn's client) and ACME challenges.
mod one_port;
/// `/stats`, `/metrics`, SIGTERM with clients connected, the "session ended" log line.
mod ops;
/// Static musl builds (qemu for aarch64), the .deb packages and Cross.toml.
mod packaging;
/// A page that lost its own modules to a network change loads itself again.
mod page_load;
/// Router mapping against miniupnpd in namespaces: UPnP IGD and PCP forwards, renewal,
/// removal on SIGTERM, carrier-grade NAT and a router that maps nothing explained (needs root).
mod portmap;
/// The connection check (`POST /probe`, webrtc-unreliable echo), up to Chromium in a namespace.
mod probe;
/// The installable app: manifest, service worker (offline shell, share target) over https
/// with a CA-trusted certificate (Chromium in a namespace), the https hint on plain http.
mod pwa;
/// TURN/TCP admission: per-source connection cap, 5 s authentication deadline (real relay).
mod relay_abuse;
/// TURN credentials over signaling: when, for whom, which host; they open the relay.
mod relay_credentials;
/// The relay wired to browsers: credentials over signaling, NAT, client isolation, strangers.
mod relay_e2e;
/// Unauthenticated Allocate flood against the real binary: RSS stays flat, clients still served.
mod relay_flood;
/// The relay against coturn's client tools (turnutils_uclient/_peer/_stunclient).
mod relay_interop;
/// The relay's stream limits (connections, framing, first-frame timeout) and drain.
mod relay_shell;
/// The household's remote-access status (`GET /remote`): home devices only, the invite base.
mod remote;
/// Remote access end to end: router mapping, a certificate from pebble for the public
/// address or name, a relative's Chromium behind its own NAT opening the invite link.
mod remote_e2e;
/// A relative with no UDP reaches home through `turns:` on the one TLS port (Chromium, NSS-trusted CA).
mod remote_tls;
/// Resume of an interrupted 300 MiB transfer: a 15 s link cut, a receiver reload, a sender
/// reload (two Chromium on a LAN in namespaces).
mod resume;
/// Room settings (capacity, snap on join) and invitations over real WebSocket clients.
mod room_signaling;
/// Rooms as conversations: three (and a fourth) Chromium processes on a LAN in namespaces.
mod rooms;
/// Screen sharing over https between two Chromium with fake capture: a frame decoded on the
/// other side, stopped by the viewer or the sharer (a room too).
mod screen;
/// Signaling over real WebSocket clients against the in-process app.
mod signaling;
/// Churn soak against the release binary: 1,000 clients join and leave, RSS stays flat.
mod soak;
/// The shipped systemd unit through `systemd-analyze verify` / `security --offline=yes`.
mod systemd;
/// A small TURN client (Allocate, CreatePermission, Send/Data) acting as one relay user.
mod turn_client;
/// The phone UI through its hooks and bottom bar: every flow, every view light and dark.
mod ui;
/// Security codes: the same code on both pages from the live fingerprints, a changed
/// certificate warned about, a man in the middle of the signaling never matching.
mod verify;
