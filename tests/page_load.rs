//! The page recovers when its own modules are lost in flight (`web/js/boot.js`).
//!
//! Chromium fails every request in flight with ERR_NETWORK_CHANGED when an interface or an
//! address changes under it. Measured here: a fresh veth's IPv6 link-local address arriving
//! while a page loaded cost it 15 of its modules, left it with no app and "Connecting…" for
//! ever (CI saw exactly that page). Here the DevTools Fetch domain fails one module's request
//! the same way: the page loads itself again and comes online; when the module keeps failing
//! it stops after three tries and says so, with a Reload button that works once the network
//! does.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::browser::Browser;
use crate::support::netns::Lan;
use crate::support::page::Page;
use crate::support::{one_browser_at_a_time, release_binary};

const STATUS: &str = "document.querySelector('[data-status]')?.dataset.state";
/// A module deep in the graph: main.js imports it, so losing it stops the app.
const MODULE: &str = "*/js/ui/qr.js";

/// Answers the requests paused so far and not answered yet: failed while `fail()` says so,
/// let through otherwise. Returns how many it failed.
fn answer(br: &mut Browser, seen: &mut HashSet<String>, fail: &mut dyn FnMut() -> bool) -> usize {
    let mut failed = 0;
    for p in br.events("Fetch.requestPaused") {
        let id = p["requestId"].as_str().unwrap_or_default().to_string();
        if !seen.insert(id.clone()) {
            continue;
        }
        // A request of a page that is already gone cannot be answered: that is fine.
        if fail() {
            failed += 1;
            let why = json!({"requestId": id, "errorReason": "ConnectionReset"});
            let _ = br.try_call("Fetch.failRequest", why);
        } else {
            let _ = br.try_call("Fetch.continueRequest", json!({"requestId": id}));
        }
    }
    failed
}

/// Answers paused requests until `done` holds for the page (or 60 s pass); returns the
/// number of requests failed.
fn drive(
    br: &mut Browser,
    seen: &mut HashSet<String>,
    fail: &mut dyn FnMut() -> bool,
    done: &str,
) -> usize {
    let end = Instant::now() + Duration::from_secs(60);
    let mut failed = 0;
    loop {
        failed += answer(br, seen, fail);
        if br.try_eval(done) == Ok(json!(true)) {
            return failed;
        }
        assert!(
            Instant::now() < end,
            "page never reached `{done}`: status {:?}, console {:#?}",
            br.try_eval(STATUS),
            br.console()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn warnings(br: &Browser, needle: &str) -> usize {
    br.console().iter().filter(|l| l.contains(needle)).count()
}

#[test]
fn a_page_that_lost_a_module_loads_itself_again_and_says_so_when_it_cannot() {
    let _one = one_browser_at_a_time();
    let mut lan = Lan::new(1);
    let http = format!("{}:8080", lan.server_ip());
    let bin = release_binary();
    lan.spawn_in_router(
        bin.to_str().unwrap(),
        &["--http", &http, "--no-mdns", "--no-turn", "--log", "warn"],
    );
    let url = format!("http://{http}/");
    let mut br = Page::launch(Some(&lan.hosts[0]));
    br.open(&url);
    // Every load asks the network again (versioned modules are otherwise cached for a year).
    br.call("Network.enable", json!({}));
    br.call("Network.setCacheDisabled", json!({"cacheDisabled": true}));
    br.call(
        "Fetch.enable",
        json!({"patterns": [{"urlPattern": MODULE}]}),
    );
    let mut seen = HashSet::new();
    let online = "document.querySelector('[data-status]')?.dataset.state === 'online' \
                  && typeof window.homedrop === 'object'";

    // The module is lost once: the page loads again by itself and comes online.
    let mut first = true;
    let mut once = || std::mem::replace(&mut first, false);
    br.call("Page.navigate", json!({"url": url}));
    let failed = drive(&mut br, &mut seen, &mut once, online);
    assert_eq!(failed, 1, "exactly one module request was failed");
    assert!(seen.len() >= 2, "the module was asked for again: {seen:?}");
    assert_eq!(
        warnings(&br, "loading the page again (1 of 3)"),
        1,
        "{:#?}",
        br.console()
    );

    // The module is lost every time: three more loads, then a clear message, no loop.
    assert_eq!(br.eval("sessionStorage.clear(), true"), json!(true));
    br.call("Page.navigate", json!({"url": url}));
    let shown = "!document.querySelector('[data-boot-error]').hidden";
    let failed = drive(&mut br, &mut seen, &mut || true, shown);
    assert_eq!(failed, 4, "the first load and three more");
    assert_eq!(br.eval(STATUS), json!("offline"));
    assert_eq!(br.text("[data-status]"), "Not loaded");
    let asked = seen.len();
    std::thread::sleep(Duration::from_secs(3));
    answer(&mut br, &mut seen, &mut || true);
    assert_eq!(seen.len(), asked, "the page stopped loading itself again");
    assert_eq!(
        warnings(&br, "the app did not load; check the connection"),
        1
    );

    // The network is back: the Reload button brings the app.
    br.click("[data-boot-reload]");
    let failed = drive(&mut br, &mut seen, &mut || false, online);
    assert_eq!(failed, 0);
    let v: Value = br.eval("!!window.homedrop.state");
    assert_eq!(v, json!(true));
}
