//! The installable app (issue 15): manifest, service worker, share target, https hint.
//!
//! Served parts against the in-process app; then Chromium in a namespace on a LAN, once over
//! https with a leaf certificate for the server's address signed by a CA of the test's own
//! that only this browser's NSS database trusts (a real secure context, no certificate
//! error ignored: a service worker does not register otherwise), once over plain http.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::certs::ca_and_leaf;
use crate::support::netns::{nft, Lan};
use crate::support::page::{attr, Page};
use crate::support::setup::{offer, serve};
use crate::support::{header, http_get, one_browser_at_a_time, TempDir, TestApp};

const TLS_PORT: u16 = 8443;

/// One raw request with a body; (status, headers).
async fn request(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    (status, text.to_ascii_lowercase())
}

#[tokio::test]
async fn manifest_and_service_worker_are_served_for_this_build() {
    let app = TestApp::spawn().await;
    let (status, h, body) = http_get(app.addr, "/manifest.webmanifest", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("application/manifest+json; charset=utf-8")
    );
    let m: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (m["start_url"].clone(), m["scope"].clone()),
        (json!("/"), json!("/"))
    );
    assert_eq!(m["display"], "standalone");
    assert_eq!(m["share_target"]["action"], "/share-target");
    assert_eq!(m["share_target"]["params"]["files"][0]["name"], "files");
    for icon in m["icons"].as_array().unwrap() {
        let src = icon["src"].as_str().unwrap();
        let (status, h, _) = http_get(app.addr, src, "").await;
        assert_eq!(status, 200, "{src}");
        assert_eq!(header(&h, "content-type"), icon["type"].as_str(), "{src}");
    }
    let (status, h, body) = http_get(app.addr, "/sw.js", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let sw = String::from_utf8(body).unwrap();
    let version = homedrop::http::assets::version();
    assert!(
        sw.contains(&format!("'/v/{version}/'")),
        "version filled in"
    );
    assert!(
        !sw.contains("/*FILES*/")
            && sw.contains("\"js/main.js\"")
            && sw.contains("\"css/app.css\""),
        "file list filled in"
    );
    let csp = header(&h, "content-security-policy").unwrap();
    assert!(csp.contains("worker-src 'self'") && csp.contains("default-src 'self'"));
}

#[tokio::test]
async fn share_target_without_a_service_worker_is_a_redirect_never_an_error() {
    let app = TestApp::spawn().await;
    let host = app.addr;
    let form = "--b\r\ncontent-disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\nhello\r\n--b--\r\n";
    let head = format!(
        "POST /share-target HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\
         content-type: multipart/form-data; boundary=b\r\ncontent-length: {}\r\n\r\n",
        form.len()
    );
    let (status, res) = request(app.addr, &head, form.as_bytes()).await;
    assert_eq!(status, 303, "{res}");
    assert!(res.contains("\r\nlocation: /?share-target\r\n"), "{res}");
    let (status, h, _) = http_get(app.addr, "/share-target", "").await;
    assert_eq!(
        (status, header(&h, "location")),
        (303, Some("/?share-target"))
    );
    // Larger than the server reads: a readable 413 before any byte of the body.
    let head = format!(
        "POST /share-target HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\
         content-type: multipart/form-data; boundary=b\r\ncontent-length: {}\r\n\r\n",
        homedrop::http::share::MAX_BODY + 1
    );
    let (status, res) = request(app.addr, &head, b"").await;
    assert_eq!(status, 413, "{res}");
    assert!(res.contains("https"), "{res}");
    let head = format!("PUT /share-target HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    assert_eq!(request(app.addr, &head, b"").await.0, 405);
}

/// homedrop on the LAN's router with https on `TLS_PORT` and a certificate for its address
/// signed by a CA made here; (CA file, https URL, state directory).
fn serve_https(lan: &mut Lan, dir: &Path) -> (std::path::PathBuf, String, TempDir) {
    let ip = lan.server_ip();
    let (ca, cert, key) = ca_and_leaf(dir, "homedrop pwa test CA", &ip);
    let https = format!("{ip}:{TLS_PORT}");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let flags = ["--https", &https, "--tls-cert", cert, "--tls-key", key];
    let (_, state) = serve(lan, &flags);
    (ca, format!("https://{https}/"), state)
}

/// Wait until the service worker controls the page.
fn wait_controlled(page: &mut Page) {
    page.wait_for(
        "navigator.serviceWorker?.controller?.state === 'activated'",
        Duration::from_secs(30),
    );
}

#[test]
fn over_trusted_https_it_installs_takes_shares_and_opens_offline() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("pwa");
    let mut lan = Lan::new(1);
    let (ca, url, _state) = serve_https(&mut lan, &dir.0);
    let mut page = Page::launch_trusting(Some(&lan.hosts[0]), &ca);
    page.open(&url);
    assert_eq!(page.eval("window.isSecureContext"), json!(true));
    assert_eq!(
        page.count("[data-https-hint]:not([hidden])"),
        0,
        "no https hint on https"
    );
    wait_controlled(&mut page);

    // (a) Installable: the manifest parsed without errors, and Chromium names no reason
    // it could not be installed.
    let m = page.call("Page.getAppManifest", json!({}));
    assert!(
        m["url"]
            .as_str()
            .unwrap()
            .ends_with("/manifest.webmanifest"),
        "{m}"
    );
    assert_eq!(m["errors"], json!([]), "manifest errors");
    let e = page.call("Page.getInstallabilityErrors", json!({}));
    assert_eq!(
        e["installabilityErrors"],
        json!([]),
        "installability errors"
    );

    // (c) Share target: two files posted as a share sheet does; the worker keeps them and
    // the page opens the send sheet with both.
    let (a, b) = (dir.0.join("photo one.jpg"), dir.0.join("notes.txt"));
    crate::support::files::generate(&a, 300_000, 1);
    crate::support::files::generate(&b, 1_000, 2);
    page.share_files("/share-target", "look at these", &[&a, &b]);
    page.wait_for(
        "typeof window.homedrop === 'object'",
        Duration::from_secs(20),
    );
    let shared = page.wait_for(
        "window.homedrop.state().pwa.shared",
        Duration::from_secs(20),
    );
    assert_eq!(
        shared,
        json!({"files": [{"name": "photo one.jpg", "size": 300_000}, {"name": "notes.txt", "size": 1_000}], "text": "look at these"}),
    );
    assert_eq!(page.eval("location.pathname + location.search"), json!("/"));
    assert_send_sheet(&mut page, &["photo one.jpg", "notes.txt"]);

    // (b) Offline: the server's port answers with resets; a reload shows the shell from
    // the worker's cache.
    let rules = format!(
        "table inet pwa {{\n chain input {{\n type filter hook input priority 0; policy accept;\n \
         tcp dport {TLS_PORT} reject with tcp reset\n }}\n}}\n"
    );
    nft(&lan.router, &rules);
    let probe = "fetch('/healthz', {cache: 'no-store'}).then(() => 'reached', () => 'unreachable')";
    assert_eq!(
        page.eval(probe),
        json!("unreachable"),
        "the server is cut off"
    );
    page.reload();
    assert_eq!(
        page.count("[data-peer-list]"),
        1,
        "the shell loaded offline"
    );
    assert_eq!(page.eval(probe), json!("unreachable"), "still cut off");
    assert_eq!(
        page.eval("!!navigator.serviceWorker.controller"),
        json!(true)
    );
}

/// The send sheet is open and lists exactly `names`.
fn assert_send_sheet(page: &mut Page, names: &[&str]) {
    page.wait_hook("[data-send-sheet][open]", Duration::from_secs(10));
    let shown = page.eval(
        "[...document.querySelectorAll('[data-send-sheet] [data-send-file]')].map((e) => e.dataset.name)",
    );
    assert_eq!(shown, json!(names));
}

#[test]
fn on_plain_http_no_worker_registers_and_the_page_says_what_https_adds() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("pwa-http");
    let mut lan = Lan::new(1);
    let (url, _state) = serve(&mut lan, &[]);
    let mut page = Page::launch(Some(&lan.hosts[0]));
    page.open(&url);
    assert_eq!(page.eval("window.isSecureContext"), json!(false));
    assert_eq!(page.eval("'serviceWorker' in navigator"), json!(false));
    assert_eq!(
        page.eval("window.homedrop.state().pwa.worker"),
        json!("unsupported")
    );
    page.click(&attr("[data-nav]", "nav", "more"));
    page.wait_hook(
        "[data-view=more]:not([hidden]) [data-https-hint]:not([hidden])",
        Duration::from_secs(5),
    );
    assert!(page
        .text("[data-https-hint]")
        .contains("install it as an app"));
    assert_eq!(page.count("[data-app-settings]:not([hidden])"), 0);
    // A share posted to the server itself: a redirect back to the page, which says why
    // nothing arrived.
    let f = dir.0.join("a.bin");
    crate::support::files::generate(&f, 10_000, 3);
    page.share_files("/share-target", "", &[&f]);
    page.wait_for(
        "typeof window.homedrop === 'object'",
        Duration::from_secs(20),
    );
    page.wait_hook("[data-notice][data-kind=error]", Duration::from_secs(10));
    assert_eq!(page.eval("window.homedrop.state().pwa.shared"), Value::Null);
    assert_eq!(page.eval("location.pathname + location.search"), json!("/"));
}

#[test]
fn a_running_transfer_holds_the_screen_wake_lock_on_both_sides_until_it_ends() {
    let _one = one_browser_at_a_time();
    let dir = TempDir::new("pwa-wake");
    let file = dir.0.join("big.bin");
    let sha = crate::support::files::generate(&file, 64 * 1024 * 1024, 4);
    let mut lan = Lan::new(2);
    let (ca, url, _state) = serve_https(&mut lan, &dir.0);
    let mut a = Page::launch_trusting(Some(&lan.hosts[0]), &ca);
    let mut b = Page::launch_trusting(Some(&lan.hosts[1]), &ca);
    a.open(&url);
    b.open(&url);
    for p in [&mut a, &mut b] {
        p.wait_count("[data-peer]", 1, Duration::from_secs(60));
        assert_eq!(p.eval("window.homedrop.state().pwa.wakeLock"), json!(false));
    }
    a.click("[data-peer]");
    offer(&mut a, &mut b, &[&file]);
    b.click("[data-accept]");
    let held = "window.homedrop.state().pwa.wakeLock === true";
    for p in [&mut a, &mut b] {
        p.wait_for(held, Duration::from_secs(30));
    }
    let got = attr("[data-received-file]", "name", "big.bin");
    b.wait_hook(&got, Duration::from_secs(180));
    assert_eq!(b.data(&got, "sha256"), json!(sha));
    let released = "(s => !s.wakeLock && s.running === 0)(window.homedrop.state().pwa)";
    for p in [&mut a, &mut b] {
        p.wait_for(released, Duration::from_secs(10));
    }
}
