//! Named rooms ("Family", docs/protocol.md): the household's devices join by name, rejoin
//! by themselves after a reload, and catch up on what each missed; strangers are refused.
//!
//! The browser test: two Chromium on a LAN in namespaces (`support::setup::Setup`) join
//! "Family" by name and talk; B reloads (and is back in "Family" by itself), then leaves the
//! page while A sends two messages; A leaves, B comes back alone (the room, which had
//! ended, is made again) and sends one; A comes back. Both must then show exactly the same
//! messages, in the same order, each once. The signaling test, against the binary facing
//! the internet (`support::exposed`): a stranger can neither join nor probe "Family" (by
//! name, code or token), a relative paired with a household device joins it from outside.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::exposed::{stranger_v4, Exposed, Side};
use crate::support::page::{attr, js, Page, PageObject};
use crate::support::setup::Setup;
use crate::support::ws::Ws;

const LONG: Duration = Duration::from_secs(60);

/// The named room's element, once the page is in "Family".
fn family() -> String {
    attr("[data-room]", "room-name", "Family")
}

/// Join "Family" through the form, spelled `spelling`; returns the room's code.
fn join_by_name(p: &mut Page, spelling: &str) -> String {
    p.click("[data-nav=rooms]");
    p.wait_hook(
        "[data-view=rooms][data-active] [data-room-name-input]",
        LONG,
    );
    p.fill("[data-room-name-input]", spelling);
    p.click("[data-room-join-name]");
    in_family(p)
}

/// Wait until the page is in "Family" (joined or rejoined); its current code.
fn in_family(p: &mut Page) -> String {
    let code = p.wait_data(&family(), "code", LONG);
    code.as_str().unwrap().to_string()
}

fn say(p: &mut Page, text: &str) {
    p.fill("[data-chat-input]", text);
    p.click("[data-chat-send]");
}

/// The messages of room `code`'s log, in the order shown: [[id, text], ...].
fn messages(p: &mut Page, code: &str) -> Value {
    let sel = format!("{} [data-chat-msg]", attr("[data-chat-log]", "code", code));
    p.eval(&format!(
        "[...document.querySelectorAll({})].map(e => [e.dataset.msgId, e.querySelector('[data-chat-text]')?.textContent ?? ''])",
        js(&sel)
    ))
}

/// Wait until room `code`'s log shows `n` messages; returns them.
fn wait_messages(p: &mut Page, code: &str, n: usize) -> Value {
    let sel = format!("{} [data-chat-msg]", attr("[data-chat-log]", "code", code));
    let expr = format!("document.querySelectorAll({}).length === {n}", js(&sel));
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| p.wait_for(&expr, LONG)));
    if let Err(e) = waited {
        let shown = messages(p, code);
        eprintln!(
            "expected {n} messages, the page shows {shown}\nconsole: {:#?}",
            p.console()
        );
        std::panic::resume_unwind(e);
    }
    messages(p, code)
}

/// Wait until this device's stored history of "Family" holds `text` (so that leaving the
/// page cannot lose it).
fn stored(p: &mut Page, text: &str) {
    p.wait_for(
        &format!(
            "(async () => {{ const u = new URL('history.js', document.querySelector('script[type=module]').src); \
             const h = await import(u.href); \
             return (await h.loadRoom('name:family')).some(r => r.text === {}); }})()",
            js(text)
        ),
        LONG,
    );
}

/// Leave the page (the device disconnects) and wait until `other` no longer lists it.
fn go_away(p: &mut Page, other: &mut Page) {
    p.goto("about:blank");
    other.wait_for("window.homedrop.state().peers.length === 0", LONG);
}

/// Load homedrop's `/stats` in `p` until it counts no room.
fn wait_no_rooms(p: &mut Page, url: &str) {
    let end = std::time::Instant::now() + LONG;
    loop {
        p.goto(&format!("{url}stats"));
        let stats = p.eval("document.body.textContent");
        let rooms = serde_json::from_str::<Value>(stats.as_str().unwrap_or("{}"))
            .map(|v| v["rooms"].clone())
            .unwrap_or(Value::Null);
        if rooms == json!(0) {
            return;
        }
        assert!(std::time::Instant::now() < end, "rooms left: {stats}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn two_devices_rejoin_family_by_name_and_catch_up_on_what_each_missed() {
    let _one = crate::support::one_browser_at_a_time();
    let mut s = Setup::new(None);
    let url = s.url.clone();
    let (a, b) = (&mut s.a, &mut s.b);
    let code = join_by_name(a, "Family");
    // Another spelling is the same room; the room keeps its first member's spelling.
    assert_eq!(join_by_name(b, "  fAMILY "), code);
    assert_eq!(b.text(&format!("{} .room-name", family())), "Family");
    assert_eq!(
        b.count(&format!("{} [data-room-link]", family())),
        0,
        "no link to share"
    );
    say(a, "m0 before anyone left");
    wait_messages(b, &code, 1);

    // B reloads: back in "Family" by itself, with its history; then B goes away.
    b.reload();
    let code_b = in_family(b);
    assert_eq!(code_b, code, "A kept the room alive");
    wait_messages(b, &code, 1);
    go_away(b, a);
    say(a, "m1 while B was away");
    say(a, "m2 while B was away");
    wait_messages(a, &code, 3);
    stored(a, "m2 while B was away");
    // Nobody else is left to notice: the server's `/stats` shows the room end.
    a.goto("about:blank");
    wait_no_rooms(b, &url);

    // B comes back alone: "Family" had ended with A, B makes it again by name.
    b.open(&url);
    let code2 = in_family(b);
    assert_ne!(code2, code, "a new room with the same name");
    wait_messages(b, &code2, 1);
    say(b, "m3 while A was away");
    wait_messages(b, &code2, 2);
    stored(b, "m3 while A was away");

    // A comes back: rejoins by itself, and both catch up.
    a.open(&url);
    assert_eq!(in_family(a), code2);
    let at_a = wait_messages(a, &code2, 4);
    let at_b = wait_messages(b, &code2, 4);
    println!("A shows {at_a}\nB shows {at_b}");
    assert_eq!(at_a, at_b, "the same messages in the same order");
    let texts: Vec<&str> = at_a
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m[1].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "m0 before anyone left",
            "m1 while B was away",
            "m2 while B was away",
            "m3 while A was away"
        ]
    );
    // Nothing arrives twice later either, and a reload shows the merged history.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(messages(a, &code2), at_a);
    assert_eq!(messages(b, &code2), at_b);
    a.reload();
    assert_eq!(in_family(a), code2);
    assert_eq!(wait_messages(a, &code2, 4), at_a, "stored merged, in order");

    // Leaving forgets it: the next load does not rejoin.
    a.click(&format!("{} [data-room-leave]", family()));
    a.wait_for(&format!("!document.querySelector({})", js(&family())), LONG);
    a.reload();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(a.count("[data-room]"), 0, "a room left stays left");
    assert_eq!(b.count(&family()), 1);
}

/// The next message of type `ty` or an `error`.
async fn answer(ws: &mut Ws, ty: &str) -> Value {
    loop {
        let m = ws.recv().await;
        if m["type"] == ty || m["type"] == "error" {
            return m;
        }
    }
}

#[tokio::test]
async fn strangers_cannot_join_or_probe_family_and_a_relative_paired_from_home_can() {
    let x = Exposed::start(&[]);
    let (lan, home, wan) = (x.lan_http(), x.home_ip, x.wan_http());
    let mut mum = x.tab(Side::Home, home, lan, "Mum's phone").await;
    mum.send(json!({"type":"roomJoinNamed","name":"Family"}))
        .await;
    let joined = answer(&mut mum, "roomJoined").await;
    assert_eq!(joined["name"], "Family", "{joined}");
    let (code, token) = (joined["code"].clone(), joined["token"].clone());

    // A stranger: refused alike for the name in use and a free one, and by code or token.
    let mut s = x
        .tab(Side::Internet, stranger_v4(40), wan, "stranger")
        .await;
    let mut refusals = Vec::new();
    for name in ["Family", "family", "Nobody here"] {
        s.send(json!({"type":"roomJoinNamed","name":name})).await;
        let e = answer(&mut s, "roomJoined").await;
        refusals.push((e["code"].clone(), e["message"].clone(), e["ref"].clone()));
    }
    println!("stranger's roomJoinNamed: {:?}", refusals[0]);
    assert_eq!(refusals[0].0, "notAllowed");
    assert_eq!(refusals[0].2, "roomJoinNamed");
    assert!(refusals.iter().all(|r| *r == refusals[0]), "{refusals:?}");
    for c in [&code, &token] {
        s.send(json!({"type":"roomJoin","code":c})).await;
        let e = answer(&mut s, "roomJoined").await;
        assert_eq!(e["code"], "noSuchRoom", "{c}: {e}");
    }

    // Gran pairs with Mum's phone (from home), then joins from her own network.
    mum.send(json!({"type":"pairStart"})).await;
    let key = mum.expect("pairKey").await["token"].clone();
    let mut gran = x.tab(Side::Internet, stranger_v4(41), wan, "Gran").await;
    gran.send(json!({"type":"pairJoin","key":key})).await;
    let secret = gran.expect("paired").await["secret"].clone();
    drop(gran);
    let stream = x
        .tcp(Side::Internet, stranger_v4(42), wan)
        .await
        .expect("connect");
    let mut gran = Ws::over(stream, &wan.to_string(), None).await.unwrap();
    gran.send(json!({"type":"hello","v":1,"name":"Gran","kind":"phone","pairs":[secret]}))
        .await;
    gran.send(json!({"type":"roomJoinNamed","name":"FAMILY"}))
        .await;
    let in_room = answer(&mut gran, "roomJoined").await;
    assert_eq!(in_room["code"], code, "{in_room}");
    assert_eq!(in_room["name"], "Family");
    let gran_id = gran.id.clone();
    mum.peers_until(|ids| ids.contains(&gran_id)).await;
}
