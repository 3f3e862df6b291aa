//! Rooms as conversations, end to end: four headless Chromium processes, each in its own
//! network namespace on one LAN, against the real release binary served from a private
//! address over plain http (so capture goes through the file inputs, as on a phone).
//!
//! A room of capacity 3 is created, two join, the fourth gets "room is full"; chat text,
//! HTML/script payloads, a photo and an audio message reach the others over the data
//! channels; history survives a reload and `/clear` empties it on one device only; `/ping`
//! times every member; invitations are accepted and declined. The server's log and memory
//! never hold the chat text.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::netns::Lan;
use crate::support::page::{attr, js, Page};
use crate::support::{one_browser_at_a_time, TempDir};

mod server;

use crate::support::media::{write_bmp, write_wav};
use server::Server;

const LONG: Duration = Duration::from_secs(60);

fn open_page(br: &mut Page, url: &str) {
    br.load(url, Duration::from_secs(30));
    wait(br, "window.homedrop && window.homedrop.state().id");
    assert_eq!(
        br.eval("window.isSecureContext"),
        json!(false),
        "insecure context expected"
    );
}

/// `wait_for` that prints the page's diagnostics (chat state, console) before failing.
fn wait(br: &mut Page, expr: &str) -> Value {
    diagnosed(br, |br| br.wait_for(expr, LONG))
}

/// `wait` until an element matches `selector`.
fn wait_hook(br: &mut Page, selector: &str) {
    diagnosed(br, |br| br.wait_hook(selector, LONG));
}

/// `wait` until the first element matching `selector` has a `data-{key}`; returns it.
fn wait_data(br: &mut Page, selector: &str, key: &str) -> Value {
    diagnosed(br, |br| br.wait_data(selector, key, LONG))
}

/// `f` on the page; when it panics, the page's diagnostics (chat state, console) first.
fn diagnosed<T>(br: &mut Page, f: impl FnOnce(&mut Page) -> T) -> T {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&mut *br)));
    r.unwrap_or_else(|e| {
        let state = br.eval("JSON.stringify(window.homedrop?.state().chat)");
        eprintln!("chat state: {state}\nconsole: {:#?}", br.console());
        std::panic::resume_unwind(e)
    })
}

/// Type into the room message box and send.
fn say(br: &mut Page, text: &str) {
    br.fill("[data-chat-input]", text);
    br.click("[data-chat-send]");
}

fn log_sel(code: &str) -> String {
    attr("[data-chat-log]", "code", code)
}

/// Texts of the peers' messages in a room's log.
fn wait_text(br: &mut Page, code: &str, needle: &str) -> Value {
    let sel = format!(
        "{} [data-chat-msg][data-from=peer] [data-chat-text]",
        log_sel(code)
    );
    wait(
        br,
        &format!(
            "[...document.querySelectorAll({})].map(e => e.textContent).find(t => t.includes({}))",
            js(&sel),
            js(needle)
        ),
    )
}

#[test]
fn a_room_of_three_chats_shares_photos_and_audio_peer_to_peer() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("rooms");
    let photo = dir.0.join("snap.bmp");
    let photo_sha = write_bmp(&photo, 120, 80);
    let audio = dir.0.join("voice.wav");
    let audio_sha = write_wav(&audio);
    let lan = Lan::new(4);
    let http = format!("{}:8080", lan.server_ip());
    let log = dir.0.join("server.log");
    let server = Server::start(&lan, &http, &log);
    let url = format!("http://{http}/");
    let mut br: Vec<Page> = (0..4).map(|i| Page::launch(Some(&lan.hosts[i]))).collect();
    for b in br.iter_mut() {
        open_page(b, &url);
    }
    let ids: Vec<String> = br
        .iter_mut()
        .map(|b| {
            b.eval("window.homedrop.state().id")
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let [a, b, c, d] = &mut br[..] else {
        unreachable!()
    };

    let code = create_join_and_fill(a, b, c, d);
    // A sees both joiners as members (they leave its list of devices to invite).
    wait(a, &members_seen(&ids[1], &ids[2]));
    let marker = format!("zq{}marker", std::process::id());
    chat_reaches_both(a, [b, c], &code, &marker);
    payloads_stay_text(a, [b, c], &code);
    photo_reaches_both(a, [b, c], &code, &photo, &photo_sha);
    audio_plays_at_both(c, [a, b], &code, &audio, &audio_sha);
    avatar_picture_and_nick(b, [a, c], &code, &photo);
    ping_times_members(b, &ids);
    history_reload_and_clear(b, [a, c], &code, &marker, &photo_sha);
    invitations(a, c, d, &code, &ids);

    // The server never saw the chat: not in its log, not in its memory.
    assert!(
        server.memory_contains(code.as_bytes()),
        "memory scan sees the room code"
    );
    assert!(
        !server.memory_contains(marker.as_bytes()),
        "chat text in server memory"
    );
    drop(br);
    drop(server);
    let out = std::fs::read_to_string(&log).unwrap()
        + &std::fs::read_to_string(log.with_extension("out")).unwrap();
    assert!(out.contains("connected"), "the server log was captured");
    assert!(!out.contains(&marker), "chat text in the server log");
}

/// The invite list once `x` and `y` are members: neither is offered for an invitation.
fn members_seen(x: &str, y: &str) -> String {
    format!("document.querySelector('[data-invite-box]') && !document.querySelector('[data-invite-peer][data-peer-id=\"{x}\"]') && !document.querySelector('[data-invite-peer][data-peer-id=\"{y}\"]')")
}

/// Selector of a finished media line of `kind` (photo, audio) in room `code`'s log.
fn done(code: &str, kind: &str) -> String {
    format!(
        "{} [data-chat-msg][data-kind={kind}] [data-chat-media][data-state=done]",
        log_sel(code)
    )
}

/// A picks an avatar and creates a room of capacity 3 that asks joiners for a snap; B and C
/// join, D finds it full. Returns the room code.
fn create_join_and_fill(a: &mut Page, b: &mut Page, c: &mut Page, d: &mut Page) -> String {
    // A picks an avatar and creates a room of capacity 3 that asks joiners for a snap.
    a.eval("(() => { const e = document.querySelector('[data-avatar-emoji]'); e.value = '🦊'; e.dispatchEvent(new Event('change')); })()");
    a.fill("[data-room-capacity]", "3");
    a.eval("document.querySelector('[data-room-snap-on-join]').checked = true");
    a.click("[data-room-create]");
    let code = wait_data(a, "[data-room]", "code");
    let code = code.as_str().unwrap().to_string();
    // B joins with the /join command, C with the form; D finds the room full.
    say(b, &format!("/join {code}"));
    c.fill("[data-room-code-input]", &code);
    c.click("[data-room-join]");
    for x in [&mut *b, &mut *c] {
        wait_hook(x, &attr("[data-room]", "code", &code));
        wait_hook(x, &format!("{} [data-snap-prompt]", log_sel(&code)));
    }
    assert_eq!(
        a.count(&format!("{} [data-snap-prompt]", log_sel(&code))),
        0,
        "the creator is not asked"
    );
    d.fill("[data-room-code-input]", &code);
    d.click("[data-room-join]");
    wait(d, "[...document.querySelectorAll('[data-notice]')].some(e => /room is full/i.test(e.textContent))");
    assert_eq!(d.count("[data-room]"), 0);
    code
}

/// A chat message from `a` reaches both `others`, with name, avatar, time and Markdown.
fn chat_reaches_both(a: &mut Page, others: [&mut Page; 2], code: &str, marker: &str) {
    let a_name = a.text("[data-self-name]").trim().to_string();
    say(a, &format!("hello **world** {marker}"));
    for x in others {
        wait_text(x, code, marker);
        let last = format!(
            "[...document.querySelectorAll('{} [data-chat-msg][data-from=peer]')].pop()",
            log_sel(code)
        );
        let got = x.eval(&format!(
            "(() => {{ const m = {last}; return [m.querySelector('[data-chat-name]').textContent, m.querySelector('[data-chat-avatar]').textContent, !!m.querySelector('[data-chat-time]').getAttribute('datetime'), m.querySelector('[data-chat-text] strong')?.textContent]; }})()"
        ));
        assert_eq!(got, json!([a_name, "🦊", true, "world"]));
    }
}

/// HTML and script payloads from `a` show as text at both `others` and run nothing.
fn payloads_stay_text(a: &mut Page, others: [&mut Page; 2], code: &str) {
    let evil = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script> [x](javascript:window.__pwned=3) <b>b</b> [ok](https://example.org/p) [d](data:text/html,<script>x</script>)\n```\n<i>code</i>\n```\n- one\n- two";
    say(a, evil);
    for x in others {
        let text = wait_text(x, code, "<script>");
        assert!(
            text.as_str().unwrap().contains("<img src=x onerror="),
            "{text}"
        );
        let sel = format!("{} [data-chat-text]", log_sel(code));
        for bad in [
            "img",
            "script",
            "b",
            "i",
            "a[href^=javascript]",
            "a[href^=data]",
            "[onerror]",
        ] {
            assert_eq!(x.count(&format!("{sel} {bad}")), 0, "{bad} element created");
        }
        assert_eq!(
            x.count(&format!(
                "{sel} a[href=\"https://example.org/p\"][rel=\"noopener noreferrer\"]"
            )),
            1
        );
        assert_eq!(x.eval("typeof window.__pwned"), json!("undefined"));
        let last = format!("[...document.querySelectorAll({})].pop()", js(&sel));
        let blocks = x.eval(&format!(
            "[{last}.querySelector('pre code')?.textContent, {last}.querySelectorAll('ul li').length]"
        ));
        assert_eq!(blocks, json!(["<i>code</i>", 2]), "code block and list");
    }
}

/// A photo through `a`'s capture input reaches both `others`, byte for byte.
fn photo_reaches_both(
    a: &mut Page,
    others: [&mut Page; 2],
    code: &str,
    photo: &Path,
    photo_sha: &str,
) {
    let accept = a.eval("[document.querySelector('[data-snap-input]').accept, document.querySelector('[data-snap-input]').getAttribute('capture')]");
    assert_eq!(accept, json!(["image/*", "environment"]));
    a.set_files("[data-snap-input]", &[photo]);
    for x in others {
        let sha = wait_data(x, &done(code, "photo"), "sha256");
        assert_eq!(sha, json!(photo_sha));
        wait(
            x,
            &format!(
                "document.querySelector('{} [data-chat-photo]')?.naturalWidth === 120",
                done(code, "photo")
            ),
        );
        assert_eq!(x.count("[data-request]"), 0, "room media is not asked for");
    }
    let own = format!(
        "{} [data-chat-msg][data-from=self][data-kind=photo] [data-chat-media][data-state=done]",
        log_sel(code)
    );
    let sha = wait_data(a, &own, "sha256");
    assert_eq!(
        sha,
        json!(photo_sha),
        "the sender's line is done once both have the photo"
    );
}

/// An audio message from `c` (the recorder's file input on http) plays inline at both
/// `others`.
fn audio_plays_at_both(
    c: &mut Page,
    others: [&mut Page; 2],
    code: &str,
    audio: &Path,
    audio_sha: &str,
) {
    c.set_files("[data-audio-input]", &[audio]);
    for x in others {
        let sha = wait_data(x, &done(code, "audio"), "sha256");
        assert_eq!(sha, json!(audio_sha));
        let dur = wait(x, &format!("(() => {{ const e = document.querySelector('{} audio[data-chat-audio]'); return e && e.readyState >= 1 && e.duration; }})()", done(code, "audio")));
        assert!((dur.as_f64().unwrap() - 1.0).abs() < 0.05, "duration {dur}");
    }
}

/// `b` picks a picture as avatar (resized to at most 64 px) and a new name with /nick; both
/// `others` see them on its next message.
fn avatar_picture_and_nick(b: &mut Page, others: [&mut Page; 2], code: &str, photo: &Path) {
    b.set_files("[data-avatar-file]", &[photo]);
    wait(
        b,
        "document.querySelector('[data-avatar] img')?.naturalWidth === 64",
    );
    say(b, "/nick Grandma B");
    wait(
        b,
        "document.querySelector('[data-self-name]').textContent.trim() === 'Grandma B'",
    );
    say(b, "from _grandma_");
    for x in others {
        wait_text(x, code, "from grandma");
        let got = x.eval(&format!(
            "(() => {{ const m = [...document.querySelectorAll('{} [data-chat-msg][data-from=peer]')].pop(); const i = m.querySelector('img[data-chat-avatar]'); return [m.querySelector('[data-chat-name]').textContent, i && Math.max(i.naturalWidth, i.naturalHeight), m.querySelector('[data-chat-text] em')?.textContent]; }})()",
            log_sel(code)
        ));
        assert_eq!(got, json!(["Grandma B", 64, "grandma"]));
    }
}

/// /ping from `b` times each member over the data channel; unknown commands say so.
fn ping_times_members(b: &mut Page, ids: &[String]) {
    say(b, "/ping");
    let pings = wait(b, "(() => { const r = [...document.querySelectorAll('[data-ping-result]')]; return r.length === 2 && r.map(e => [e.dataset.peerId, Number(e.dataset.rtt)]); })()");
    let mut peers: Vec<String> = pings
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[0].as_str().unwrap().to_string())
        .collect();
    peers.sort();
    let mut want = vec![ids[0].clone(), ids[2].clone()];
    want.sort();
    assert_eq!(peers, want);
    for p in pings.as_array().unwrap() {
        let ms = p[1].as_f64().unwrap();
        assert!(ms > 0.0 && ms < 5000.0, "rtt {ms}");
    }
    eprintln!("/ping: {pings}");
    say(b, "/frobnicate");
    wait(b, "[...document.querySelectorAll('[data-chat-system]')].some(e => e.textContent.includes('Unknown command /frobnicate'))");
}

/// History survives a reload of `b`; /clear empties it on that device only (`others` keep
/// theirs).
fn history_reload_and_clear(
    b: &mut Page,
    others: [&mut Page; 2],
    code: &str,
    marker: &str,
    photo_sha: &str,
) {
    let msgs = format!("{} [data-chat-msg]", log_sel(code));
    let before = b.count(&msgs);
    assert_eq!(
        before, 5,
        "A's two texts and photo, C's audio, B's own text"
    );
    b.reload();
    wait(
        b,
        &format!(
            "document.querySelectorAll({}).length === {before}",
            js(&msgs)
        ),
    );
    wait_text(b, code, marker);
    let sha = wait_data(b, &done(code, "photo"), "sha256");
    assert_eq!(sha, json!(photo_sha), "the photo itself is kept");
    say(b, "/clear");
    wait(
        b,
        &format!("document.querySelectorAll({}).length === 0", js(&msgs)),
    );
    for x in others {
        assert_eq!(x.count(&msgs), before, "other devices keep their history");
    }
    b.reload();
    wait_hook(b, &attr("[data-room]", "code", code));
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(b.count(&msgs), 0, "cleared history stays cleared");
}

/// Invitations: C leaves; A invites D (declines) and C (accepts).
fn invitations(a: &mut Page, c: &mut Page, d: &mut Page, code: &str, ids: &[String]) {
    c.click(&format!(
        "{} [data-room-leave]",
        attr("[data-room]", "code", code)
    ));
    let (c_id, d_id) = (ids[2].clone(), ids[3].clone());
    let invite_peer = |id: &str| attr("[data-invite-peer]", "peer-id", id);
    wait_hook(a, &invite_peer(&c_id));
    a.click(&invite_peer(&d_id));
    wait_hook(d, &attr("[data-invite]", "code", code));
    d.click("[data-invite-decline]");
    wait_hook(a, "[data-invite-answer][data-accept=false]");
    assert_eq!(d.count("[data-room]"), 0);
    a.click(&invite_peer(&c_id));
    wait_hook(c, &attr("[data-invite]", "code", code));
    c.click("[data-invite-accept]");
    wait_hook(c, &attr("[data-room]", "code", code));
    wait_hook(a, "[data-invite-answer][data-accept=true]");
    wait(c, &members_seen(&ids[0], &ids[0]));
    say(c, "back again");
    wait_text(a, code, "back again");
}
