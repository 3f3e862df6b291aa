//! Screen sharing through the real UI of two Chromium on a namespaced LAN over https (a secure
//! context: getDisplayMedia exists only there). Chromium's fake capture
//! (`--use-fake-ui-for-media-stream --use-fake-device-for-media-stream`) answers
//! getDisplayMedia headless with its test pattern: an animated green picture, 800×450. A frame
//! of it must be decoded on the other browser (green, changing, of a size), and stopping on
//! either side must end the share on both.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::one_browser_at_a_time;
use crate::support::page::{attr, Page, PageObject};
use crate::support::setup::{room_of_two, Setup};

const FAKE_CAPTURE: &[&str] = &[
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
];
const WAIT: Duration = Duration::from_secs(30);

/// Both pages reopened over https, certificate warnings clicked through (as tests/resume.rs).
fn secure_setup() -> (Setup, String) {
    let mut s = Setup::with_browser_flags(&["--https", "0.0.0.0:8443"], FAKE_CAPTURE);
    let url = format!("https://{}:8443/", s.lan.server_ip());
    for p in [&mut s.a, &mut s.b] {
        // Over plain http from a LAN address there is no getDisplayMedia: no card, no button.
        assert_eq!(
            p.count("[data-screen][hidden]"),
            1,
            "the card shows on http"
        );
        p.call_browser(
            "Security.setIgnoreCertificateErrors",
            json!({"ignore": true}),
        );
        p.open(&url);
        assert_eq!(p.eval("window.isSecureContext"), json!(true));
        p.wait_hook("[data-screen]:not([hidden])", WAIT);
    }
    (s, url)
}

fn id(p: &mut Page) -> String {
    p.eval("homedrop.state().id").as_str().unwrap().to_string()
}

/// Two grabs of the viewer's <video> 800 ms apart, scaled to 64×36: its size, the share of
/// green pixels (the fake pattern's colour) and of pixels that changed (it is animated).
fn sample(p: &mut Page) -> Value {
    p.eval(
        "(async () => {
          const v = document.querySelector('[data-screen-view] [data-screen-video]');
          const grab = () => {
            const c = document.createElement('canvas'); c.width = 64; c.height = 36;
            const g = c.getContext('2d'); g.drawImage(v, 0, 0, 64, 36);
            return g.getImageData(0, 0, 64, 36).data;
          };
          const f1 = grab();
          await new Promise((r) => setTimeout(r, 800));
          const f2 = grab();
          let green = 0, changed = 0, n = 0;
          for (let i = 0; i < f1.length; i += 4) {
            n++;
            const [r, g, b] = [f1[i], f1[i + 1], f1[i + 2]];
            if (g > 100 && g > r + 40 && g > b + 40) green++;
            const d = Math.abs(f1[i] - f2[i]) + Math.abs(f1[i + 1] - f2[i + 1]) + Math.abs(f1[i + 2] - f2[i + 2]);
            if (d > 24) changed++;
          }
          return { w: v.videoWidth, h: v.videoHeight, green: green / n, changed: changed / n };
        })()",
    )
}

/// B shows A's screen: the viewer names A, and its video is A's fake pattern, decoded.
fn viewer_shows_pattern(b: &mut Page, a_id: &str, a_name: &str) {
    let view = attr("[data-screen-view]", "peer-id", a_id);
    b.wait_hook(&view, WAIT);
    let from = b.text(&format!("{view} [data-screen-from]"));
    assert!(
        from.contains(a_name),
        "viewer caption {from:?} names {a_name:?}"
    );
    b.wait_for(
        "document.querySelector('[data-screen-view] [data-screen-video]')?.videoWidth > 0",
        WAIT,
    );
    let px = sample(b);
    eprintln!("received frame: {px}");
    assert!(px["w"].as_u64().unwrap() >= 320, "video width: {px}");
    assert!(px["h"].as_u64().unwrap() >= 180, "video height: {px}");
    assert!(
        px["green"].as_f64().unwrap() > 0.8,
        "not the green test pattern: {px}"
    );
    assert!(
        px["changed"].as_f64().unwrap() > 0.01,
        "frames do not change: {px}"
    );
}

/// How soon the other side must see a stop: the `stop` message takes milliseconds, while a
/// media connection closed without it is only noticed by ICE/DTLS after 10 s or more.
const STOP_SEEN: Duration = Duration::from_secs(5);

/// The sharer's capture is over: no receiver left, the track stopped, the bar hidden.
fn share_ended(a: &mut Page, within: Duration) {
    a.wait_for(
        "(() => { const s = homedrop.state().screen; return s.sharing === null && s.track === 'ended'; })()",
        within,
    );
    a.wait_hook("[data-screen-sending][hidden]", within);
}

#[test]
fn a_screen_shared_with_one_device_is_decoded_there_and_the_viewer_stops_it() {
    let _one = one_browser_at_a_time();
    let (mut s, _url) = secure_setup();
    let (a_id, b_id) = (id(&mut s.a), id(&mut s.b));
    let a_name = s.a.text("[data-self-name]").trim().to_string();
    // The http pages may linger in the back/forward cache (still listed): pick B by id.
    let share = attr("[data-screen-share]", "peer-id", &b_id);
    s.a.wait_hook(&share, WAIT);
    s.a.click(&share);
    s.a.wait_hook("[data-screen-sending]:not([hidden])", WAIT);
    viewer_shows_pattern(&mut s.b, &a_id, &a_name);
    assert_eq!(s.a.eval("homedrop.state().screen.sharing"), json!([b_id]));
    // The receiver stops: its viewer goes, and the sharer's capture ends with it.
    s.b.click("[data-screen-view] [data-screen-stop]");
    s.b.wait_count("[data-screen-view]", 0, WAIT);
    share_ended(&mut s.a, STOP_SEEN);
    assert_eq!(s.b.eval("homedrop.state().screen.views"), json!([]));
}

#[test]
fn a_screen_shared_with_a_room_reaches_its_member_and_the_sharer_stops_it() {
    let _one = one_browser_at_a_time();
    let (mut s, _url) = secure_setup();
    let a_id = id(&mut s.a);
    let a_name = s.a.text("[data-self-name]").trim().to_string();
    let code = room_of_two(&mut s.a, &mut s.b, WAIT);
    let b_id = id(&mut s.b);
    // A sees B as a member of the room before sharing with the room.
    s.a.wait_for(
        &format!(
            "homedrop.state().peers.some(p => p.id === {b:?} && p.links.some(l => l.via === 'room' && l.code === {code:?}))",
            b = b_id
        ),
        WAIT,
    );
    let share = attr("[data-screen-share]", "room-code", &code);
    s.a.wait_hook(&share, WAIT);
    s.a.click(&share);
    viewer_shows_pattern(&mut s.b, &a_id, &a_name);
    // The sharer stops: the receiver's viewer goes too.
    s.a.click("[data-screen-sending] [data-screen-stop]");
    share_ended(&mut s.a, WAIT);
    s.b.wait_count("[data-screen-view]", 0, STOP_SEEN);
}
