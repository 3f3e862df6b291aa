//! Two browsers on a LAN with the release binary on its router: the start of the browser
//! tests and of the transfer bench. Two Chromium [`Page`]s by default; any two
//! [`PageObject`]s (`Setup<Page, Firefox>`) for the cross-browser tests.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::netns::Lan;
use super::page::{Page, PageObject};
use super::{release_binary, TempDir};

/// A LAN with homedrop on the router and two browsers that see each other.
pub struct Setup<A = Page, B = Page> {
    pub lan: Lan,
    pub a: A,
    pub b: B,
    pub url: String,
    /// homedrop's state directory (its pairing key), removed with the setup.
    _state: TempDir,
}

impl Setup {
    /// `rtt_ms` is added to the A↔B round trip: half of it each way on A's link only, so
    /// every frame crosses one delay line (the line's own CPU, on this 2-core machine, is
    /// taken from the browsers it carries).
    pub fn new(rtt_ms: Option<u32>) -> Setup {
        Self::with_flags(rtt_ms, &[])
    }

    /// [`Setup::new`] with more flags for homedrop.
    pub fn with_flags(rtt_ms: Option<u32>, extra: &[&str]) -> Setup {
        Setup::launch(rtt_ms, extra)
    }

    /// [`Setup::with_flags`] whose two Chromiums get `chromium` flags too (fake capture
    /// devices for tests/screen.rs); every other setup keeps the defaults.
    pub fn with_browser_flags(extra: &[&str], chromium: &[&str]) -> Setup {
        Setup::launch_with(
            None,
            extra,
            |ns| Page::launch_with_flags(Some(ns), chromium),
            |ns| Page::launch_with_flags(Some(ns), chromium),
        )
    }
}

impl<A: PageObject, B: PageObject> Setup<A, B> {
    /// Browser `A` on the first host, `B` on the second; otherwise [`Setup::with_flags`].
    pub fn launch(rtt_ms: Option<u32>, extra: &[&str]) -> Setup<A, B> {
        Self::launch_with(
            rtt_ms,
            extra,
            |ns| A::start(Some(ns)),
            |ns| B::start(Some(ns)),
        )
    }

    /// [`Setup::launch`] with the two browsers started by `start_a` and `start_b` (each
    /// given its host's namespace).
    fn launch_with(
        rtt_ms: Option<u32>,
        extra: &[&str],
        start_a: impl FnOnce(&str) -> A,
        start_b: impl FnOnce(&str) -> B,
    ) -> Setup<A, B> {
        let mut lan = Lan::new(2);
        if let Some(ms) = rtt_ms {
            lan.delay(0, ms / 2);
        }
        let (url, state) = serve(&mut lan, extra);
        let mut a = start_a(&lan.hosts[0]);
        let mut b = start_b(&lan.hosts[1]);
        a.open(&url);
        b.open(&url);
        for secure in [
            a.eval("window.isSecureContext"),
            b.eval("window.isSecureContext"),
        ] {
            assert_eq!(secure, json!(false), "the page must be an insecure context");
        }
        // Generous: on the shared 2-core machine a loaded run once took over 20 s here.
        a.wait_count("[data-peer]", 1, Duration::from_secs(60));
        b.wait_count("[data-peer]", 1, Duration::from_secs(60));
        Setup {
            lan,
            a,
            b,
            url,
            _state: state,
        }
    }

    /// A picks `files` for the selected device; wait until B shows the request.
    pub fn offer(&mut self, files: &[&Path]) {
        offer(&mut self.a, &mut self.b, files);
    }
}

/// Start the release binary on `lan`'s router (no mDNS, no relay, a temporary state
/// directory, which the caller keeps as long as the server runs); its page's URL.
pub fn serve(lan: &mut Lan, extra: &[&str]) -> (String, TempDir) {
    let bin = release_binary();
    let http = format!("{}:8080", lan.server_ip());
    let state = TempDir::new("lan-state");
    // HOMEDROP_E2E_LOG=debug shows the server's view when a test fails.
    let log = std::env::var("HOMEDROP_E2E_LOG").unwrap_or_else(|_| "warn".into());
    lan.spawn_in_router(
        bin.to_str().unwrap(),
        // LAN tests run without the relay; the pairing key goes to a temporary directory.
        &[
            &[
                "--http",
                &http,
                "--no-mdns",
                "--no-turn",
                "--log",
                &log,
                "--state-dir",
                state.0.to_str().unwrap(),
            ],
            extra,
        ]
        .concat(),
    );
    (format!("http://{http}/"), state)
}

/// `from` picks `files` for its selected device; wait until `to` shows the request.
pub fn offer(from: &mut impl PageObject, to: &mut impl PageObject, files: &[&Path]) {
    from.set_files("[data-file-input]", files);
    to.wait_hook("[data-request]", Duration::from_secs(20));
}

/// `a` creates a room and `b` joins it by its code, as their users would; the room's code.
pub fn room_of_two(a: &mut impl PageObject, b: &mut impl PageObject, within: Duration) -> String {
    a.click("[data-room-create]");
    let code = a.wait_data("[data-room]", "code", within);
    let code = code.as_str().expect("a room code").to_string();
    b.fill("[data-room-code-input]", &code);
    b.click("[data-room-join]");
    b.wait_hook(&super::page::attr("[data-room]", "code", &code), within);
    code
}
