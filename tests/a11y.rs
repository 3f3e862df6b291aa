//! Accessibility of every view (issue 15): axe-core finds no serious or critical violation in
//! light or dark, with the states that matter on screen (device tiles, an incoming request, a
//! transfer row, a received file and text, a room with a message); every control takes the
//! keyboard focus and shows it; reduced motion stops every transition and animation; progress
//! and incoming requests are live regions. Two Chromium on a LAN in namespaces (Setup).

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::axe::{emulate, focus_page, press_tab, serious_violations};
use crate::support::files::generate;
use crate::support::media::write_bmp;
use crate::support::one_browser_at_a_time;
use crate::support::page::{attr, js, Page};
use crate::support::setup::{room_of_two, Setup};
use crate::support::shots::{viewport, DESKTOP, PHONE};
use crate::support::TempDir;

const WAIT: Duration = Duration::from_secs(30);

/// The views of the bottom bar (`[data-nav]`), or the single page before there were views.
fn views(p: &mut Page) -> Vec<String> {
    let v = p.eval("[...document.querySelectorAll('[data-nav]')].map(e => e.dataset.nav)");
    let v: Vec<String> = serde_json::from_value(v).unwrap();
    if v.is_empty() {
        vec!["page".into()]
    } else {
        v
    }
}

/// Show `view` as a user would, through its button in the bottom bar.
fn show(p: &mut Page, view: &str) {
    if view == "page" {
        return;
    }
    p.click(&format!("[data-nav={}]", js(view)));
    p.wait_hook(&format!("[data-view={}][data-active]", js(view)), WAIT);
}

/// A room of A's that B joined, with a message from A; its code.
fn room_with_message(s: &mut Setup) -> String {
    let code = room_of_two(&mut s.a, &mut s.b, WAIT);
    s.a.fill("[data-chat-input]", "Hello **room**");
    s.a.click("[data-chat-send]");
    s.b.wait_hook("[data-chat-msg][data-from=peer]", WAIT);
    code
}

/// A sends B a photo (accepted: a transfer row and a received file on B), a text, a room
/// message and another text (unread on B); then offers a second file, so B shows an incoming
/// request.
fn states(s: &mut Setup, dir: &TempDir) {
    let (one, two) = (dir.0.join("photo.bmp"), dir.0.join("second.bin"));
    write_bmp(&one, 160, 120);
    generate(&two, 3000, 2);
    let b_name = s.b.text("[data-self-name]").trim().to_string();
    s.a.click(&attr("[data-peer]", "peer-name", &b_name));
    s.offer(&[&one]);
    s.b.click("[data-accept]");
    s.b.wait_hook("[data-received-file]", WAIT);
    s.a.wait_hook("[data-transfer][data-state=done]", WAIT);
    // A text file too: the viewer shows it (audit_dialogs).
    let notes = dir.0.join("notes.txt");
    std::fs::write(&notes, "Shopping: bread, milk\n").unwrap();
    s.offer(&[&notes]);
    s.b.click("[data-accept]");
    s.b.wait_count("[data-received-file]", 2, WAIT);
    s.a.fill("[data-text-input]", "Dinner at 7");
    s.a.click("[data-send-text]");
    s.b.wait_hook("[data-received-text]", WAIT);
    room_with_message(s);
    // A text while B reads the room: the bottom bar's inbox button shows an unread badge.
    s.a.fill("[data-text-input]", "See you");
    s.a.click("[data-send-text]");
    if s.b.count("[data-nav-badge]") > 0 {
        s.b.wait_hook("[data-nav=inbox] [data-nav-badge]:not([hidden])", WAIT);
    }
    s.offer(&[&two]);
}

/// axe over each view of `p` in both `themes`, in that order (the first theme sees the
/// bottom bar's unread badges, which showing their views clears): one line per view and
/// theme for the log, every violation into `found`.
fn audit(p: &mut Page, who: &str, themes: [&str; 2], views: &[String], found: &mut Vec<String>) {
    for theme in themes {
        emulate(p, theme, false);
        for view in views {
            show(p, view);
            let v = serious_violations(p);
            let nodes: usize = v.iter().map(|v| v.nodes.len()).sum();
            eprintln!(
                "axe {who} {view} {theme}: {} serious/critical rules, {nodes} nodes",
                v.len()
            );
            for one in v {
                found.push(format!("{who}, view {view}, {theme}: {one}"));
            }
        }
    }
}

/// (button, dialog, shown when ready) of every dialog a click opens, on a page that
/// received the photo and the notes of [`states`].
const DIALOGS: [(&str, &str, &str); 6] = [
    (
        "[data-share-page]",
        "[data-qr-dialog]",
        "[data-qr-dialog] [data-qr]",
    ),
    (
        "[data-pair-start]",
        "[data-pair-dialog]",
        "[data-pair-key]:not(:empty)",
    ),
    (
        "[data-verify-start]",
        "[data-verify-dialog]",
        "[data-verify-dialog][data-code]",
    ),
    (
        "[data-message-open]",
        "[data-message-dialog]",
        "[data-message-dialog] [data-text-input]",
    ),
    (
        "[data-received-file][data-name=\"photo.bmp\"] [data-open]",
        "[data-viewer]",
        "[data-viewer] img[data-viewer-content]",
    ),
    (
        "[data-received-file][data-name=\"notes.txt\"] [data-open]",
        "[data-viewer]",
        "[data-viewer] [data-viewer-content]",
    ),
];

/// Each of [`DIALOGS`] that `p` has (before the views: the first three), opened by its
/// button, audited in light and dark, then closed.
fn audit_dialogs(p: &mut Page, who: &str, found: &mut Vec<String>) {
    for (button, dialog, ready) in DIALOGS {
        if p.count(button) == 0 {
            continue;
        }
        p.click(button);
        p.wait_hook(&format!("{dialog}[open]"), WAIT);
        p.wait_hook(ready, WAIT);
        for theme in ["light", "dark"] {
            emulate(p, theme, false);
            let v = serious_violations(p);
            eprintln!(
                "axe {who} {button} {theme}: {} serious/critical rules",
                v.len()
            );
            for one in v {
                found.push(format!("{who}, dialog of {button}, {theme}: {one}"));
            }
        }
        p.eval(&format!("document.querySelector({}).close()", js(dialog)));
    }
}

#[test]
fn axe_finds_no_serious_violation_on_any_view_in_light_or_dark() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("a11y");
    let mut s = Setup::new(None);
    viewport(&mut s.a, PHONE, true);
    viewport(&mut s.b, PHONE, true);
    states(&mut s, &dir);
    let mut found = Vec::new();
    // B with the request open (the dialog is modal: the view behind stays as it was).
    let b_views = views(&mut s.b);
    for theme in ["light", "dark"] {
        emulate(&mut s.b, theme, false);
        let v = serious_violations(&mut s.b);
        eprintln!(
            "axe B with the request open {theme}: {} serious/critical rules",
            v.len()
        );
        for one in v {
            found.push(format!("B with the request open, {theme}: {one}"));
        }
    }
    s.b.click("[data-decline]");
    let a_views = views(&mut s.a);
    audit(&mut s.a, "A", ["light", "dark"], &a_views, &mut found);
    audit(&mut s.b, "B", ["dark", "light"], &b_views, &mut found);
    audit_dialogs(&mut s.a, "A", &mut found);
    audit_dialogs(&mut s.b, "B", &mut found);
    // A laptop: the devices beside the chosen view.
    viewport(&mut s.a, DESKTOP, false);
    audit(
        &mut s.a,
        "A at 1280 px",
        ["light", "dark"],
        &a_views,
        &mut found,
    );
    // The dark theme is a theme: the page's colours change with the system's.
    let bg = "getComputedStyle(document.body).backgroundColor";
    emulate(&mut s.a, "light", false);
    let light = s.a.eval(bg);
    emulate(&mut s.a, "dark", false);
    assert_ne!(light, s.a.eval(bg), "the page looks the same in dark mode");
    assert!(
        found.is_empty(),
        "{} serious or critical axe violations:\n{}",
        found.len(),
        found.join("\n")
    );
}

/// In the page: what the keyboard test needs. `look` is how an element shows focus (outline
/// and box shadow) on the element that shows it: a visually hidden input's label. `all`: the
/// visible controls a keyboard user must reach (those of the modal dialog when one is open),
/// each with how it looks unfocused.
const KEYBOARD_SETUP: &str = r#"(() => {
  document.activeElement?.blur();
  const look = (e) => { const s = getComputedStyle(e); return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow].join(' | '); };
  const shown = (e) => (e.getBoundingClientRect().width <= 1 && e.closest('label')) || e;
  const name = (e) => e.tagName.toLowerCase() + [...e.attributes].filter(a => a.name.startsWith('data-') || a.name === 'id')
    .slice(0, 2).map(a => `[${a.name}${a.value ? '=' + JSON.stringify(a.value.slice(0, 24)) : ''}]`).join('')
    + ` "${(e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 24)}"`;
  const scope = document.querySelector('dialog:modal') ?? document;
  const all = [...scope.querySelectorAll('button, a[href], input, textarea, select, summary')]
    .filter(e => !e.disabled && e.tabIndex >= 0 && e.checkVisibility() && e.getClientRects().length && !e.closest('dialog:not([open]), [inert]'));
  const base = new Map(all.map(e => [e, look(shown(e))]));
  window.__a11y = { look, shown, name, all, base, seen: new Set(), first: null };
  return all.length;
})()"#;

/// In the page, after one Tab: the focused element, whether it was focused before, and
/// whether it shows focus (differs from how it looked unfocused; an element not listed
/// must have an outline or box shadow at all).
const KEYBOARD_STEP: &str = r#"(() => {
  const a = window.__a11y, e = document.activeElement;
  if (!e || e === document.body) return null;
  const again = a.first === e;
  a.first ??= e;
  a.seen.add(e);
  const now = a.look(a.shown(e));
  const before = a.base.get(e);
  const shows = before !== undefined ? now !== before : !/^none/.test(now) || !/none$/.test(now);
  return { name: a.name(e), again, shows, now, before: before ?? null };
})()"#;

/// Tab through the view on screen: every listed control takes focus and shows it. Problems
/// into `bad`.
fn tab_through(p: &mut Page, view: &str, bad: &mut Vec<String>) {
    let n = p.eval(KEYBOARD_SETUP).as_u64().unwrap();
    let mut steps = 0;
    for _ in 0..(2 * n + 10) {
        press_tab(p, false);
        let step = p.eval(KEYBOARD_STEP);
        if step.is_null() {
            continue;
        }
        if step["again"] == json!(true) {
            break;
        }
        steps += 1;
        if step["shows"] != json!(true) {
            bad.push(format!(
                "view {view}: {} shows no focus (focused: {}, unfocused: {})",
                step["name"], step["now"], step["before"]
            ));
        }
    }
    let missed = p.eval(
        "window.__a11y.all.filter(e => !window.__a11y.seen.has(e)).map(e => window.__a11y.name(e))",
    );
    eprintln!("keyboard {view}: {n} controls, {steps} Tab stops, missed {missed}");
    for m in missed.as_array().unwrap() {
        bad.push(format!("view {view}: Tab never reaches {m}"));
    }
}

/// In the page: elements (and their ::before/::after) whose transitions or animations last
/// longer than 10 ms, and a smooth scroll.
const MOTION: &str = r#"(() => {
  const secs = (v) => Math.max(0, ...v.split(',').map(x => parseFloat(x) * (x.trim().endsWith('ms') ? 0.001 : 1)));
  const moving = [];
  for (const e of document.querySelectorAll('*')) for (const pseudo of [null, '::before', '::after']) {
    const s = getComputedStyle(e, pseudo);
    const anim = s.animationName !== 'none' ? secs(s.animationDuration) : 0;
    if (secs(s.transitionDuration) > 0.01 || anim > 0.01)
      moving.push(`${e.tagName.toLowerCase()}.${[...e.classList].join('.')}${pseudo ?? ''}: transition ${s.transitionDuration}, animation ${s.animationName} ${s.animationDuration}`);
  }
  if (getComputedStyle(document.documentElement).scrollBehavior === 'smooth') moving.push('html: scroll-behavior smooth');
  return moving;
})()"#;

/// What moves on `p` without a preference (for the log) and, into `bad`, what still moves
/// with reduced motion; back to no preference after.
fn still_with_reduced_motion(p: &mut Page, when: &str, bad: &mut Vec<String>) {
    emulate(p, "light", false);
    let moving = p.eval(MOTION);
    eprintln!("motion without a preference, {when}: {moving}");
    emulate(p, "dark", true);
    for m in p.eval(MOTION).as_array().unwrap() {
        bad.push(format!("{when}: moves with reduced motion: {m}"));
    }
    emulate(p, "light", false);
}

/// The closest live region (aria-live, or a role that is one) holding `selector`'s element.
fn live_region(p: &mut Page, selector: &str) -> Value {
    p.eval(&format!(
        "(() => {{ const e = document.querySelector({})?.closest('[aria-live]:not([aria-live=off]), [role=status], [role=alert], [role=log], [role=alertdialog]'); \
           return e ? (e.getAttribute('role') || 'aria-live=' + e.getAttribute('aria-live')) : null; }})()",
        js(selector)
    ))
}

#[test]
fn keyboard_reaches_and_shows_every_control_motion_stops_and_news_is_announced() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("a11y-keys");
    let file = dir.0.join("note.txt");
    generate(&file, 1500, 3);
    let mut s = Setup::new(None);
    viewport(&mut s.b, PHONE, true);
    let mut bad = Vec::new();
    s.a.click("[data-peer]");
    s.offer(&[&file]);
    let request = live_region(&mut s.b, "[data-request]");
    if request.is_null() {
        bad.push("the incoming request ([data-request]) is in no live region".to_string());
    }
    focus_page(&mut s.b);
    tab_through(&mut s.b, "request dialog", &mut bad);
    // The request sheet slides in: not with reduced motion.
    still_with_reduced_motion(&mut s.b, "request open", &mut bad);
    s.b.click("[data-accept]");
    s.b.wait_hook("[data-received-file]", WAIT);
    let progress = live_region(&mut s.b, "[data-transfer] [data-progress]");
    if progress.is_null() {
        bad.push("transfer progress ([data-transfer] [data-progress]) is in no live region".into());
    }
    eprintln!("live regions: request {request}, transfers {progress}");
    room_with_message(&mut s);

    for view in views(&mut s.b) {
        show(&mut s.b, &view);
        tab_through(&mut s.b, &view, &mut bad);
    }

    still_with_reduced_motion(&mut s.b, "the page", &mut bad);
    assert!(
        bad.is_empty(),
        "{} accessibility problems:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
