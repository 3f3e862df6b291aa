//! Rooms as conversations, end to end: four headless Chromium processes, each in its own
//! network namespace on one LAN, against the real release binary served from a private
//! address over plain http (so capture goes through the file inputs, as on a phone).
//!
//! A room of capacity 3 is created, two join, the fourth gets "room is full"; chat text,
//! HTML/script payloads, a photo and an audio message reach the others over the data
//! channels; history survives a reload and `/clear` empties it on one device only; `/ping`
//! times every member; invitations are accepted and declined. The server's log and memory
//! never hold the chat text.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::browser::{hex, release_binary};
use crate::support::browser::Browser;
use crate::support::netns::Lan;
use crate::support::TempDir;

const LONG: Duration = Duration::from_secs(60);

/// homedrop in the router namespace, its stderr kept in a file; killed when dropped.
struct Server {
    child: Child,
}

impl Server {
    fn start(lan: &Lan, http: &str, log: &Path) -> Server {
        let child = Command::new("ip")
            .args(["netns", "exec", &lan.router])
            .arg(release_binary())
            .args(["--http", http, "--no-mdns", "--no-turn", "--log", "debug"])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log.with_extension("out")).unwrap())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("start homedrop");
        Server { child }
    }

    /// Whether `needle` occurs anywhere in the server's readable memory.
    fn memory_contains(&self, needle: &[u8]) -> bool {
        use std::io::{Read, Seek, SeekFrom};
        let pid = self.child.id();
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
        let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
        for line in maps.lines() {
            let mut f = line.split_whitespace();
            let (Some(range), Some(perms)) = (f.next(), f.next()) else {
                continue;
            };
            if !perms.starts_with('r') || line.ends_with("[vvar]") || line.ends_with("[vsyscall]") {
                continue;
            }
            let Some((lo, hi)) = range.split_once('-') else {
                continue;
            };
            let lo = u64::from_str_radix(lo, 16).unwrap();
            let hi = u64::from_str_radix(hi, 16).unwrap();
            let mut buf = vec![0u8; (hi - lo) as usize];
            if mem.seek(SeekFrom::Start(lo)).is_err() || mem.read_exact(&mut buf).is_err() {
                continue;
            }
            if buf.windows(needle.len()).any(|w| w == needle) {
                return true;
            }
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A 24-bit BMP of `w`×`h` with a colour pattern; returns its SHA-256.
fn write_bmp(path: &Path, w: u32, h: u32) -> String {
    let row = (w * 3).div_ceil(4) * 4;
    let size = 54 + row * h;
    let mut b = Vec::with_capacity(size as usize);
    b.extend_from_slice(b"BM");
    for v in [size, 0, 54, 40, w, h] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&24u16.to_le_bytes());
    for v in [0, row * h, 2835, 2835, 0, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for y in 0..h {
        for x in 0..w {
            b.extend_from_slice(&[
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x ^ y) & 0xff) as u8,
            ]);
        }
        b.resize(b.len() + (row - w * 3) as usize, 0);
    }
    std::fs::File::create(path).unwrap().write_all(&b).unwrap();
    hex(&Sha256::digest(&b))
}

/// One second of a 440 Hz tone as 8 kHz 16-bit mono WAV; returns its SHA-256.
fn write_wav(path: &Path) -> String {
    let rate = 8000u32;
    let samples: Vec<i16> = (0..rate)
        .map(|i| ((i as f64 * 440.0 * std::f64::consts::TAU / rate as f64).sin() * 8000.0) as i16)
        .collect();
    let data = samples.len() as u32 * 2;
    let mut b = Vec::new();
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    for v in [1u16, 1] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [rate, rate * 2] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for v in [2u16, 16] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::File::create(path).unwrap().write_all(&b).unwrap();
    hex(&Sha256::digest(&b))
}

fn open_page(br: &mut Browser, url: &str) {
    let end = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        br.goto(url);
        if br.eval("!!document.querySelector('[data-room-chat]')") == json!(true) {
            break;
        }
        assert!(
            std::time::Instant::now() < end,
            "page never loaded from {url}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        br.eval("window.isSecureContext"),
        json!(false),
        "insecure context expected"
    );
    wait(br, "window.homedrop && window.homedrop.state().id");
}

/// `wait_for` that prints the page's diagnostics (chat state, console) before failing.
fn wait(br: &mut Browser, expr: &str) -> Value {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| br.wait_for(expr, LONG)));
    r.unwrap_or_else(|e| {
        let state = br.eval("JSON.stringify(window.homedrop?.state().chat)");
        eprintln!("chat state: {state}\nconsole: {:#?}", br.console());
        std::panic::resume_unwind(e)
    })
}

fn js(v: &str) -> String {
    serde_json::to_string(v).unwrap()
}

/// Type into the room message box and send.
fn say(br: &mut Browser, text: &str) {
    br.fill("[data-chat-input]", text);
    br.click("[data-chat-send]");
}

fn log_sel(code: &str) -> String {
    format!("[data-chat-log][data-code=\"{code}\"]")
}

fn count(br: &mut Browser, sel: &str) -> u64 {
    br.eval(&format!("document.querySelectorAll({}).length", js(sel)))
        .as_u64()
        .unwrap()
}

/// Texts of the peers' messages in a room's log.
fn wait_text(br: &mut Browser, code: &str, needle: &str) -> Value {
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
    let _one = crate::browser::ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|e| e.into_inner());
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
    let mut br: Vec<Browser> = (0..4)
        .map(|i| Browser::launch(Some(&lan.hosts[i])))
        .collect();
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

    // A picks an avatar and creates a room of capacity 3 that asks joiners for a snap.
    a.eval("(() => { const e = document.querySelector('[data-avatar-emoji]'); e.value = '🦊'; e.dispatchEvent(new Event('change')); })()");
    a.fill("[data-room-capacity]", "3");
    a.eval("document.querySelector('[data-room-snap-on-join]').checked = true");
    a.click("[data-room-create]");
    let code = wait(a, "document.querySelector('[data-room]')?.dataset.code");
    let code = code.as_str().unwrap().to_string();
    // B joins with the /join command, C with the form; D finds the room full.
    say(b, &format!("/join {code}"));
    c.fill("[data-room-code-input]", &code);
    c.click("[data-room-join]");
    for x in [&mut *b, &mut *c] {
        wait(
            x,
            &format!("document.querySelector('[data-room][data-code=\"{code}\"]')"),
        );
        wait(
            x,
            &format!(
                "document.querySelector('{} [data-snap-prompt]')",
                log_sel(&code)
            ),
        );
    }
    assert_eq!(
        count(a, &format!("{} [data-snap-prompt]", log_sel(&code))),
        0,
        "the creator is not asked"
    );
    d.fill("[data-room-code-input]", &code);
    d.click("[data-room-join]");
    wait(d, "[...document.querySelectorAll('[data-notice]')].some(e => /room is full/i.test(e.textContent))");
    assert_eq!(count(d, "[data-room]"), 0);

    // A sees both joiners as members (they leave its list of devices to invite).
    let members_seen = |x: &str, y: &str| {
        format!("document.querySelector('[data-invite-box]') && !document.querySelector('[data-invite-peer][data-peer-id=\"{x}\"]') && !document.querySelector('[data-invite-peer][data-peer-id=\"{y}\"]')")
    };
    wait(a, &members_seen(&ids[1], &ids[2]));

    // A chat message reaches both others, with name, avatar, time and Markdown.
    let marker = format!("zq{}marker", std::process::id());
    let a_name = a.eval("document.querySelector('[data-self-name]').textContent.trim()");
    say(a, &format!("hello **world** {marker}"));
    for x in [&mut *b, &mut *c] {
        wait_text(x, &code, &marker);
        let last = format!(
            "[...document.querySelectorAll('{} [data-chat-msg][data-from=peer]')].pop()",
            log_sel(&code)
        );
        let got = x.eval(&format!(
            "(() => {{ const m = {last}; return [m.querySelector('[data-chat-name]').textContent, m.querySelector('[data-chat-avatar]').textContent, !!m.querySelector('[data-chat-time]').getAttribute('datetime'), m.querySelector('[data-chat-text] strong')?.textContent]; }})()"
        ));
        assert_eq!(got, json!([a_name, "🦊", true, "world"]));
    }

    // HTML and script payloads show as text and run nothing.
    let evil = "<img src=x onerror=\"window.__pwned=1\"><script>window.__pwned=2</script> [x](javascript:window.__pwned=3) <b>b</b> [ok](https://example.org/p) [d](data:text/html,<script>x</script>)\n```\n<i>code</i>\n```\n- one\n- two";
    say(a, evil);
    for x in [&mut *b, &mut *c] {
        let text = wait_text(x, &code, "<script>");
        assert!(
            text.as_str().unwrap().contains("<img src=x onerror="),
            "{text}"
        );
        let sel = format!("{} [data-chat-text]", log_sel(&code));
        for bad in [
            "img",
            "script",
            "b",
            "i",
            "a[href^=javascript]",
            "a[href^=data]",
            "[onerror]",
        ] {
            assert_eq!(
                count(x, &format!("{sel} {bad}")),
                0,
                "{bad} element created"
            );
        }
        assert_eq!(
            count(
                x,
                &format!("{sel} a[href=\"https://example.org/p\"][rel=\"noopener noreferrer\"]")
            ),
            1
        );
        assert_eq!(x.eval("typeof window.__pwned"), json!("undefined"));
        let last = format!("[...document.querySelectorAll({})].pop()", js(&sel));
        let blocks = x.eval(&format!(
            "[{last}.querySelector('pre code')?.textContent, {last}.querySelectorAll('ul li').length]"
        ));
        assert_eq!(blocks, json!(["<i>code</i>", 2]), "code block and list");
    }

    // A photo through the capture input reaches both others, byte for byte.
    let accept = a.eval("[document.querySelector('[data-snap-input]').accept, document.querySelector('[data-snap-input]').getAttribute('capture')]");
    assert_eq!(accept, json!(["image/*", "environment"]));
    a.set_files("[data-snap-input]", &[&photo]);
    let done = |kind: &str| {
        format!(
            "{} [data-chat-msg][data-kind={kind}] [data-chat-media][data-state=done]",
            log_sel(&code)
        )
    };
    for x in [&mut *b, &mut *c] {
        let sha = wait(
            x,
            &format!(
                "document.querySelector('{}')?.dataset.sha256",
                done("photo")
            ),
        );
        assert_eq!(sha, json!(photo_sha));
        wait(
            x,
            &format!(
                "document.querySelector('{} [data-chat-photo]')?.naturalWidth === 120",
                done("photo")
            ),
        );
        assert_eq!(count(x, "[data-request]"), 0, "room media is not asked for");
    }
    let own = format!(
        "{} [data-chat-msg][data-from=self][data-kind=photo] [data-chat-media][data-state=done]",
        log_sel(&code)
    );
    let sha = wait(
        a,
        &format!("document.querySelector('{own}')?.dataset.sha256"),
    );
    assert_eq!(
        sha,
        json!(photo_sha),
        "the sender's line is done once both have the photo"
    );

    // An audio message (the recorder's file input on http) plays inline at both others.
    c.set_files("[data-audio-input]", &[&audio]);
    for x in [&mut *a, &mut *b] {
        let sha = wait(
            x,
            &format!(
                "document.querySelector('{}')?.dataset.sha256",
                done("audio")
            ),
        );
        assert_eq!(sha, json!(audio_sha));
        let dur = wait(x, &format!("(() => {{ const e = document.querySelector('{} audio[data-chat-audio]'); return e && e.readyState >= 1 && e.duration; }})()", done("audio")));
        assert!((dur.as_f64().unwrap() - 1.0).abs() < 0.05, "duration {dur}");
    }

    // B picks a picture as avatar (resized to at most 64 px) and a new name with /nick.
    b.set_files("[data-avatar-file]", &[&photo]);
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
    for x in [&mut *a, &mut *c] {
        wait_text(x, &code, "from grandma");
        let got = x.eval(&format!(
            "(() => {{ const m = [...document.querySelectorAll('{} [data-chat-msg][data-from=peer]')].pop(); const i = m.querySelector('img[data-chat-avatar]'); return [m.querySelector('[data-chat-name]').textContent, i && Math.max(i.naturalWidth, i.naturalHeight), m.querySelector('[data-chat-text] em')?.textContent]; }})()",
            log_sel(&code)
        ));
        assert_eq!(got, json!(["Grandma B", 64, "grandma"]));
    }

    // /ping times each member over the data channel.
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

    // History survives a reload; /clear empties it on that device only.
    let msgs = format!("{} [data-chat-msg]", log_sel(&code));
    let before = count(b, &msgs);
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
    wait_text(b, &code, &marker);
    let sha = wait(
        b,
        &format!(
            "document.querySelector('{}')?.dataset.sha256",
            done("photo")
        ),
    );
    assert_eq!(sha, json!(photo_sha), "the photo itself is kept");
    say(b, "/clear");
    wait(
        b,
        &format!("document.querySelectorAll({}).length === 0", js(&msgs)),
    );
    for x in [&mut *a, &mut *c] {
        assert_eq!(count(x, &msgs), before, "other devices keep their history");
    }
    b.reload();
    wait(
        b,
        &format!("document.querySelector('[data-room][data-code=\"{code}\"]')"),
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count(b, &msgs), 0, "cleared history stays cleared");

    // Invitations: C leaves; A invites D (declines) and C (accepts).
    c.click(&format!(
        "[data-room][data-code=\"{code}\"] [data-room-leave]"
    ));
    let (c_id, d_id) = (ids[2].clone(), ids[3].clone());
    wait(
        a,
        &format!("document.querySelector('[data-invite-peer][data-peer-id=\"{c_id}\"]')"),
    );
    a.click(&format!("[data-invite-peer][data-peer-id=\"{d_id}\"]"));
    wait(
        d,
        &format!("document.querySelector('[data-invite][data-code=\"{code}\"]')"),
    );
    d.click("[data-invite-decline]");
    wait(
        a,
        "document.querySelector('[data-invite-answer][data-accept=false]')",
    );
    assert_eq!(count(d, "[data-room]"), 0);
    a.click(&format!("[data-invite-peer][data-peer-id=\"{c_id}\"]"));
    wait(
        c,
        &format!("document.querySelector('[data-invite][data-code=\"{code}\"]')"),
    );
    c.click("[data-invite-accept]");
    wait(
        c,
        &format!("document.querySelector('[data-room][data-code=\"{code}\"]')"),
    );
    wait(
        a,
        "document.querySelector('[data-invite-answer][data-accept=true]')",
    );
    wait(c, &members_seen(&ids[0], &ids[0]));
    say(c, "back again");
    wait_text(a, &code, "back again");

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
