//! HTTP: embedded assets, caching, security headers, QR codes, limits.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{header, http_get, TestApp};

#[tokio::test]
async fn serves_the_embedded_page_with_security_headers() {
    let app = TestApp::spawn().await;
    let (status, h, body) = http_get(app.addr, "/", "").await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), Some("text/html; charset=utf-8"));
    let csp = header(&h, "content-security-policy").unwrap();
    assert!(
        !csp.contains("unsafe-inline") && csp.contains("default-src 'self'"),
        "{csp}"
    );
    assert_eq!(header(&h, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&h, "referrer-policy"), Some("no-referrer"));
    assert_eq!(header(&h, "cache-control"), Some("no-cache"));
    let html = String::from_utf8(body).unwrap();
    assert!(
        html.contains("<script type=\"module\""),
        "module entry point"
    );
    assert!(
        !html.contains("/v/VERSION/"),
        "version placeholder filled in"
    );

    let (status, h, _) = http_get(app.addr, "/js/main.js", "").await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&h, "content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let (_, h, _) = http_get(app.addr, "/css/app.css", "").await;
    assert_eq!(header(&h, "content-type"), Some("text/css; charset=utf-8"));
}

/// Browsers get the embedded, deflated bytes as they are (a quarter of the size); a client
/// that does not take `deflate` (or refuses it with q=0) gets the same file inflated; each
/// form has its own ETag.
#[tokio::test]
async fn assets_go_deflated_to_clients_that_take_it_and_plain_to_others() {
    let app = TestApp::spawn().await;
    for path in ["/js/main.js", "/css/app.css", "/i18n/en.json"] {
        let (status, plain_h, plain) = http_get(app.addr, path, "").await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&plain_h, "content-encoding"), None);
        let (_, h, packed) =
            http_get(app.addr, path, "accept-encoding: gzip, deflate, br\r\n").await;
        assert_eq!(header(&h, "content-encoding"), Some("deflate"), "{path}");
        assert_eq!(header(&h, "vary"), Some("Accept-Encoding"));
        assert_ne!(header(&h, "etag"), header(&plain_h, "etag"));
        assert!(
            packed.len() * 2 < plain.len(),
            "{path}: {} of {}",
            packed.len(),
            plain.len()
        );
        let inflated = miniz_oxide::inflate::decompress_to_vec_zlib(&packed).unwrap();
        assert_eq!(inflated, plain, "{path}");
        let (_, h, _) = http_get(app.addr, path, "accept-encoding: deflate;q=0, gzip\r\n").await;
        assert_eq!(
            header(&h, "content-encoding"),
            None,
            "{path}: q=0 refuses deflate"
        );
    }
}

#[tokio::test]
async fn etags_give_304_and_versioned_assets_are_immutable() {
    let app = TestApp::spawn().await;
    let (_, h, _) = http_get(app.addr, "/js/main.js", "").await;
    let etag = header(&h, "etag").unwrap().to_string();
    let (status, _, body) = http_get(
        app.addr,
        "/js/main.js",
        &format!("if-none-match: {etag}\r\n"),
    )
    .await;
    assert_eq!(status, 304);
    assert!(body.is_empty());
    let (status, _, _) = http_get(app.addr, "/js/main.js", "if-none-match: \"other\"\r\n").await;
    assert_eq!(status, 200);

    let version = homedrop::http::assets::version();
    let (status, h, _) = http_get(app.addr, &format!("/v/{version}/js/main.js"), "").await;
    assert_eq!(status, 200);
    assert!(header(&h, "cache-control").unwrap().contains("immutable"));
    let (_, _, body) = http_get(app.addr, "/", "").await;
    assert!(String::from_utf8(body)
        .unwrap()
        .contains(&format!("/v/{version}/")));
}

#[tokio::test]
async fn health_qr_404_and_traversal() {
    let app = TestApp::spawn().await;
    let (status, _, body) = http_get(app.addr, "/healthz", "").await;
    assert_eq!((status, body.as_slice()), (200, b"ok\n".as_slice()));
    let (status, h, body) = http_get(
        app.addr,
        "/qr.svg?d=http%3A%2F%2F192.168.1.2%3A8080%2F%23room%3DABCDEF",
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(header(&h, "content-type"), Some("image/svg+xml"));
    assert!(String::from_utf8(body).unwrap().contains("<svg"));
    let (status, _, _) = http_get(app.addr, &format!("/qr.svg?d={}", "a".repeat(600)), "").await;
    assert_eq!(status, 400);
    for p in [
        "/nope",
        "/js/../index.html",
        "/..%2f..%2fetc/passwd",
        "/js//main.js",
    ] {
        let (status, h, _) = http_get(app.addr, p, "").await;
        assert_eq!(status, 404, "{p}");
        assert_eq!(header(&h, "x-content-type-options"), Some("nosniff"));
    }
    let (status, _, _) = http_get(app.addr, "/ws", "").await;
    assert_eq!(status, 400, "plain GET on /ws is refused");
}

#[tokio::test]
async fn slow_header_clients_are_cut_off_and_connections_are_limited() {
    let app = TestApp::spawn_with(|c| c.max_connections = 3).await;
    // Three idle connections that never finish their headers take all the slots...
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut s = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        idle.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...so the next one is refused at once with 503 instead of queueing forever.
    let (status, _, _) = http_get(app.addr, "/healthz", "").await;
    assert_eq!(status, 503);
    // The header-read timeout closes the idle ones; then service resumes.
    let mut buf = Vec::new();
    let t = std::time::Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(15), idle[0].read_to_end(&mut buf)).await;
    assert!(n.is_ok(), "idle connection was not closed");
    assert!(t.elapsed() >= Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, _) = http_get(app.addr, "/healthz", "").await;
    assert_eq!(status, 200);
}
