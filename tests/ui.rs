//! The phone UI as a household uses it: three Chromium at 390×844 on a namespaced LAN with
//! the release binary, driven only through the hooks and the bottom bar (`[data-nav]`), the
//! way a thumb would go: photos to one device and to two, a message, the request sheet with
//! its previews, the gallery and its viewer, Save all, rooms (create, join by code and by
//! name, conversation, snap, audio), pairing, the remote access panel and the connection check.
//! With `HOMEDROP_SCREENSHOTS=<dir>` it also leaves a PNG of each view there
//! (`scripts/screenshots.sh` sets it to `docs/screenshots`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;

use crate::support::media::{write_bmp, write_wav};
use crate::support::netns::Lan;
use crate::support::page::{attr, js, Page};
use crate::support::setup::{room_of_two, serve};
use crate::support::shots::{self, DESKTOP, PHONE};
use crate::support::{one_browser_at_a_time, TempDir};

const T: Duration = Duration::from_secs(30);
const VIEWS: [&str; 5] = ["devices", "inbox", "rooms", "pairing", "more"];

struct Household {
    _lan: Lan,
    pages: Vec<Page>,
    names: Vec<String>,
    shots: Option<PathBuf>,
    _state: TempDir,
}

impl Household {
    fn start() -> Household {
        let mut lan = Lan::new(3);
        let flags = [
            "--probe",
            "0.0.0.0:3479",
            "--remote",
            "--https",
            "0.0.0.0:8443",
            "--no-acme",
            "--no-upnp",
            "--public-host",
            "relatives.example",
        ];
        let (url, state) = serve(&mut lan, &flags);
        let mut pages: Vec<Page> = (0..3).map(|i| Page::launch(Some(&lan.hosts[i]))).collect();
        for p in pages.iter_mut() {
            shots::viewport(p, PHONE, true);
            p.open(&url);
        }
        for p in pages.iter_mut() {
            p.wait_count("[data-peer]", 2, Duration::from_secs(60));
        }
        let names = pages
            .iter_mut()
            .map(|p| p.text("[data-self-name]").trim().to_string())
            .collect();
        let shots = std::env::var_os("HOMEDROP_SCREENSHOTS").map(PathBuf::from);
        Household {
            _lan: lan,
            pages,
            names,
            shots,
            _state: state,
        }
    }

    fn tile(&self, of: usize) -> String {
        attr("[data-peer]", "peer-name", &self.names[of])
    }

    /// A screenshot of page `i` as it is now, when screenshots were asked for.
    fn shot(&mut self, i: usize, name: &str) {
        if let Some(dir) = &self.shots {
            std::fs::create_dir_all(dir).unwrap();
            // Toasts go by in seconds; a picture of the view is taken without them.
            self.pages[i]
                .eval("document.querySelectorAll('[data-notice]').forEach(n => n.remove())");
            shots::capture(&mut self.pages[i], &dir.join(format!("{name}.png")));
        }
    }
}

/// Tap a bar button: that view alone is shown, its button marked current, and at 390 px
/// nothing is wider than the screen.
fn go(p: &mut Page, view: &str) {
    p.click(&attr("[data-nav]", "nav", view));
    let state = p.eval(
        "[...document.querySelectorAll('[data-view]')].filter(v => !v.hidden).map(v => v.dataset.view).join() + '|' + \
         document.querySelector('[aria-current=page][data-nav]')?.dataset.nav + '|' + \
         (document.documentElement.scrollWidth <= window.innerWidth)",
    );
    let wide = p.eval("window.innerWidth >= 1024").as_bool().unwrap();
    let shown = if wide && view != "devices" {
        format!("devices,{view}")
    } else if wide {
        "devices,inbox".into()
    } else {
        view.into()
    };
    assert_eq!(state, json!(format!("{shown}|{view}|true")), "view {view}");
}

fn select(p: &mut Page, tile: &str, on: bool) {
    if p.data(tile, "peer-id").is_null() {
        panic!("no tile {tile}");
    }
    let pressed = p.eval(&format!(
        "document.querySelector({}).getAttribute('aria-pressed') === 'true'",
        js(tile)
    ));
    if pressed != json!(on) {
        p.click(tile);
    }
}

#[test]
fn the_phone_ui_does_every_flow_through_its_hooks() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("ui");
    let photos: Vec<PathBuf> = (0..2)
        .map(|i| {
            let p = dir.0.join(format!("photo-{i}.bmp"));
            write_bmp(&p, 120 + i * 40, 80);
            p
        })
        .collect();
    let mut h = Household::start();
    for v in VIEWS {
        go(&mut h.pages[0], v);
    }
    go(&mut h.pages[0], "devices");
    h.shot(0, "phone-devices-light");

    photos_to_one(&mut h, &photos);
    to_two_and_a_message(&mut h, &photos[0]);
    save_all(&mut h, &dir.0);
    room_flows(&mut h, &dir.0, &photos[0]);
    pairing_remote_and_check(&mut h);
    every_view_light_dark_and_wide(&mut h);
}

/// A sends two photos to B: B's request sheet says who and how much first and shows both
/// photos large; after Accept the gallery has them and the viewer opens one.
fn photos_to_one(h: &mut Household, photos: &[PathBuf]) {
    let b_tile = h.tile(1);
    select(&mut h.pages[0], &b_tile, true);
    let paths: Vec<&Path> = photos.iter().map(|p| p.as_path()).collect();
    h.pages[0].set_files("[data-file-input]", &paths);
    let b = &mut h.pages[1];
    b.wait_hook("[data-request][open]", T);
    let from = b.text("[data-request] [data-request-from]");
    assert_eq!(from, h.names[0]);
    let summary = b.text("[data-request] [data-request-summary]");
    assert!(
        summary.starts_with("photo-0.bmp and 1 other file,"),
        "{summary}"
    );
    b.wait_for(
        "[...document.querySelectorAll('[data-request] [data-request-preview]')].filter(i => i.complete && i.naturalWidth > 0).length === 2",
        T,
    );
    assert_eq!(
        b.eval("document.querySelector('[data-request]').scrollTop"),
        json!(0)
    );
    shots::scheme(b, "dark", false);
    h.shot(1, "phone-request-dark");
    let b = &mut h.pages[1];
    shots::scheme(b, "light", false);
    b.click("[data-request] [data-accept]");
    b.wait_count("[data-received-file]", 2, T);
    let badge = b.text(&format!(
        "{} [data-nav-badge]",
        attr("[data-nav]", "nav", "inbox")
    ));
    assert_eq!(
        badge, "2",
        "the bar counts what arrived while another view was shown"
    );
    go(b, "inbox");
    b.wait_for("[...document.querySelectorAll('[data-received-file] img')].every(i => i.complete && i.naturalWidth > 0)", T);
    assert!(b
        .eval(&format!(
            "document.querySelector({}).hidden",
            js(&format!(
                "{} [data-nav-badge]",
                attr("[data-nav]", "nav", "inbox")
            ))
        ))
        .as_bool()
        .unwrap());
    b.click(&format!(
        "{} [data-open]",
        attr("[data-received-file]", "name", "photo-1.bmp")
    ));
    b.wait_for("document.querySelector('[data-viewer][open] img[data-viewer-content]')?.naturalWidth === 160", T);
    h.shot(1, "phone-viewer-light");
    let b = &mut h.pages[1];
    b.click("[data-viewer-close]");
    b.wait_for("!document.querySelector('[data-viewer]').open && !document.querySelector('[data-viewer-content]')", T);
    // Closed and another opened at once (a quick thumb): the late `close` must not empty it.
    let other = js(&format!(
        "{} [data-open]",
        attr("[data-received-file]", "name", "photo-0.bmp")
    ));
    b.eval(&format!("document.querySelector('[data-viewer]').showModal(); document.querySelector('[data-viewer-close]').click(); document.querySelector({other}).click()"));
    b.wait_for("document.querySelector('[data-viewer][open] img[data-viewer-content]')?.naturalWidth === 120", T);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        b.count("[data-viewer][open] img[data-viewer-content]"),
        1,
        "the viewer kept its photo"
    );
    b.click("[data-viewer-close]");
    go(b, "devices");
    h.pages[0].wait_for("[...document.querySelectorAll('[data-transfer][data-direction=send]')].some(e => e.dataset.state === 'done')", T);
}

/// A selects B and C: one photo reaches both, then a message through the Message sheet.
fn to_two_and_a_message(h: &mut Household, photo: &Path) {
    let (b_tile, c_tile) = (h.tile(1), h.tile(2));
    select(&mut h.pages[0], &b_tile, true);
    select(&mut h.pages[0], &c_tile, true);
    let hint = h.pages[0].text("[data-target-hint]");
    assert!(hint.contains('2'), "{hint}");
    h.pages[0].set_files("[data-file-input]", &[photo]);
    for i in [1, 2] {
        let p = &mut h.pages[i];
        p.wait_hook("[data-request][open]", T);
        p.click("[data-request] [data-accept]");
        p.wait_hook(&attr("[data-received-file]", "name", "photo-0.bmp"), T);
    }
    let a = &mut h.pages[0];
    a.click("[data-message-open]");
    a.wait_hook("[data-message-dialog][open]", T);
    a.fill("[data-text-input]", "Dinner at seven?");
    a.click("[data-send-text]");
    a.wait_for("!document.querySelector('[data-message-dialog]').open", T);
    for i in [1, 2] {
        h.pages[i].wait_for(
            "[...document.querySelectorAll('[data-received-text]')].some(e => e.textContent === 'Dinner at seven?')",
            T,
        );
    }
    select(&mut h.pages[0], &c_tile, false);
}

/// Three files to B arrive as one batch; Save all downloads one ZIP of them.
fn save_all(h: &mut Household, dir: &Path) {
    let files: Vec<PathBuf> = (0..3)
        .map(|i| {
            let p = dir.join(format!("note-{i}.txt"));
            std::fs::write(&p, format!("note {i}\n").repeat(100)).unwrap();
            p
        })
        .collect();
    let paths: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    h.pages[0].set_files("[data-file-input]", &paths);
    let b = &mut h.pages[1];
    b.wait_hook("[data-request][open]", T);
    let summary = b.text("[data-request] [data-request-summary]");
    assert!(
        summary.starts_with("note-0.txt and 2 other files,"),
        "{summary}"
    );
    b.click("[data-request] [data-accept]");
    go(b, "inbox");
    b.wait_for("document.querySelector('[data-received-batch] [data-batch-count]')?.textContent.startsWith('3 of 3')", T);
    b.click(&format!(
        "{} [data-open]",
        attr("[data-received-file]", "name", "note-1.txt")
    ));
    b.wait_for("document.querySelector('[data-viewer][open] pre[data-viewer-content]')?.textContent.startsWith('note 1')", T);
    b.click("[data-viewer-close]");
    b.click("[data-received-batch] [data-save-all]");
    let name = b.wait_data("[data-received-batch] [data-save-all]", "zip-name", T);
    let zip = b.wait_download(name.as_str().unwrap(), T);
    let listing = std::process::Command::new("unzip")
        .arg("-l")
        .arg(&zip)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for i in 0..3 {
        assert!(listing.contains(&format!("note-{i}.txt")), "{listing}");
    }
    go(b, "devices");
}

/// A creates a room from the rooms view, B joins it by its code; a message, a snap and an
/// audio message go from A to B.
fn room_flows(h: &mut Household, dir: &Path, photo: &Path) {
    let a = &mut h.pages[0];
    go(a, "rooms");
    assert!(
        a.eval("document.querySelector('[data-chat-form]').hidden")
            .as_bool()
            .unwrap(),
        "no room, no message box"
    );
    go(&mut h.pages[1], "rooms");
    let [a, b, ..] = &mut h.pages[..] else {
        unreachable!()
    };
    let code = room_of_two(a, b, T);
    assert!(!b
        .eval("document.querySelector('[data-chat-form]').hidden")
        .as_bool()
        .unwrap());
    let a = &mut h.pages[0];
    a.wait_for(&format!("window.homedrop.state().peers.some(p => p.links.some(l => l.via === 'room' && l.code === {}))", js(&code)), T);
    a.fill("[data-chat-input]", "hello room");
    a.click("[data-chat-send]");
    h.pages[1].wait_for("[...document.querySelectorAll('[data-chat-msg][data-from=peer] [data-chat-text]')].some(e => e.textContent.includes('hello room'))", T);
    h.pages[0].set_files("[data-snap-input]", &[photo]);
    h.pages[1].wait_for(
        "[...document.querySelectorAll('[data-chat-photo]')].some(i => i.naturalWidth === 120)",
        T,
    );
    let wav = dir.join("voice.wav");
    write_wav(&wav);
    h.pages[0].set_files("[data-audio-input]", &[wav.as_path()]);
    h.pages[1].wait_hook("[data-chat-msg][data-from=peer] [data-chat-audio]", T);
    // The household's named room: A and B join "Family" by its name.
    for i in [0, 1] {
        let p = &mut h.pages[i];
        p.fill("[data-room-name-input]", "Family");
        p.click("[data-room-join-name]");
        p.wait_hook(&attr("[data-room]", "room-name", "Family"), T);
    }
    // A's tile for B names the household room, not its code.
    let b_tile = h.tile(1);
    h.pages[0].wait_for(
        &format!(
            "[...document.querySelectorAll({})].some(e => e.textContent === 'Family')",
            js(&format!("{b_tile} [data-via=room]"))
        ),
        T,
    );
    h.shot(1, "phone-rooms-light");
}

/// C pairs with A by key from the pairing view; A's more view shows remote access and runs
/// the connection check.
fn pairing_remote_and_check(h: &mut Household) {
    let a = &mut h.pages[0];
    go(a, "pairing");
    a.click("[data-pair-start]");
    let key = a.wait_for(
        "document.querySelector('[data-pair-dialog][open] [data-pair-key]')?.textContent",
        T,
    );
    h.shot(0, "phone-pairing-dialog-light");
    let c = &mut h.pages[2];
    go(c, "pairing");
    c.fill("[data-pair-key-input]", key.as_str().unwrap());
    c.click("[data-pair-join]");
    c.wait_count("[data-pair]", 1, T);
    let a = &mut h.pages[0];
    a.wait_count("[data-pair]", 1, T);
    a.eval("document.querySelector('[data-pair-dialog]').close()");
    go(a, "more");
    a.wait_for("!document.querySelector('[data-remote]').hidden", T);
    assert!(!a.text("[data-remote-mapping]").is_empty());
    a.click("[data-remote-invite]");
    a.wait_for(
        "!document.querySelector('[data-remote-link-box]').hidden",
        T,
    );
    a.click("[data-probe]");
    let state = a.wait_for("['ok', 'lossy', 'blocked', 'error'].includes(document.querySelector('[data-probe-result]').dataset.state) && document.querySelector('[data-probe-result]').dataset.state", Duration::from_secs(60));
    assert_eq!(state, json!("ok"), "{}", a.text("[data-probe-result]"));
}

/// Every view at 390×844 light and dark and at 1280×800: shown alone (or beside the devices
/// when wide), nothing wider than the window; a screenshot of each when asked for.
fn every_view_light_dark_and_wide(h: &mut Household) {
    for (size, mobile, tag) in [(PHONE, true, "phone"), (DESKTOP, false, "desktop")] {
        for colors in ["light", "dark"] {
            shots::viewport(&mut h.pages[1], size, mobile);
            shots::scheme(&mut h.pages[1], colors, false);
            for v in VIEWS {
                go(&mut h.pages[1], v);
                h.shot(1, &format!("{tag}-{v}-{colors}"));
            }
        }
    }
}
