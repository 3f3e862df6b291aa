//! Request routing: assets, `/healthz`, `/qr.svg`, `/stats`, `/metrics`, the household's
//! `/remote` and `/api/logs`, the `/ws` upgrade, the connection check's `POST /probe`
//! ([`super::probe`]) and the share target's `/share-target` without a service worker
//! ([`super::share`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::admission::Source;
use super::error::HttpError;
use super::host::{check_host, same_origin, split_host, HostPort};
use super::{assets, probe, share, ConnInfo, Shared};
use crate::net::{classify, client_ip, NetGroup, SourceKey};
use crate::signaling::ice::own_host;
use crate::signaling::session::{self, Origin};

pub type Res = Response<Full<Bytes>>;

/// Longest text a QR code is drawn for.
pub const MAX_QR_TEXT: usize = 512;

/// The Content-Security-Policy: no inline script or style anywhere; WebAssembly (the SHA-256
/// hasher) may compile; connections only back to this server.
pub const CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; \
worker-src 'self' blob:; frame-src blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Route one request. Never fails: errors become responses here.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Res {
    let mut res = match route(&shared, req, peer).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    security_headers(&mut res);
    res
}

async fn route(
    shared: &Arc<Shared>,
    mut req: Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Result<Res, HttpError> {
    let path = req.uri().path().to_string();
    let host = own_host_or_refuse(shared, &req, &path)?;
    // These take other methods than GET; every other path is GET (or HEAD) only. The first
    // two act for the page that calls them, so they also want its own origin; the share
    // target only redirects (an app's share sheet posts it with no page of ours behind).
    match path.as_str() {
        "/ws" => {
            check_origin(shared, &req, host.as_ref(), peer)?;
            return upgrade(shared, &mut req, peer);
        }
        "/probe" => {
            check_origin(shared, &req, host.as_ref(), peer)?;
            return probe::handle(shared.probe.as_ref(), req).await;
        }
        "/share-target" => return share::handle(req).await,
        _ => {}
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Err(HttpError::MethodNotAllowed);
    }
    match path.as_str() {
        "/healthz" => Ok(text(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            "ok\n".into(),
        )),
        "/qr.svg" => qr(req.uri().query().unwrap_or("")),
        "/remote" => remote(shared, &req, peer),
        "/api/logs" => logs(shared, &req, host.as_ref(), peer),
        "/stats" => Ok(text(
            StatusCode::OK,
            "application/json",
            shared.snapshot().to_json(),
        )),
        "/metrics" => Ok(text(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            shared.snapshot().to_prometheus(),
        )),
        _ => asset(&req, &path),
    }
}

/// The Host, when it is one of ours ([`super::host`]); else 421 (403 on `/ws`, before the
/// upgrade), or 400 when HTTP/1.1 comes without one.
fn own_host_or_refuse(
    shared: &Shared,
    req: &Request<Incoming>,
    path: &str,
) -> Result<Option<HostPort>, HttpError> {
    // A Host that is not text is malformed: "\0" never passes.
    let header = req
        .headers()
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or("\0"));
    let http10 = req.version() <= hyper::Version::HTTP_10;
    let subnets = shared.subnets.get();
    let local = req.extensions().get::<ConnInfo>().map(|c| c.local.ip());
    match check_host(header, http10, &shared.config, &subnets, local) {
        // The public address the router reports is ours too (a relative's invite link).
        Err(HttpError::MisdirectedHost) if is_learned_host(shared, header) => {
            Ok(header.and_then(split_host))
        }
        Err(HttpError::MisdirectedHost) => {
            shared.cross_site_refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!("refused Host {header:?} on {path}");
            Err(if path == "/ws" {
                HttpError::Forbidden("This server does not answer to that Host name.")
            } else {
                HttpError::MisdirectedHost
            })
        }
        other => other,
    }
}

/// Is `header`'s host the public address the router reported (no `--public-host` given)?
fn is_learned_host(shared: &Shared, header: Option<&str>) -> bool {
    let Some(h) = header.and_then(split_host) else {
        return false;
    };
    shared.config.public_host.is_none()
        && shared.remote.view().public_host.as_deref() == Some(h.host.as_str())
}

/// A request with an `Origin` must come from a page of this very Host (a request without one
/// is no browser page: see [`super::host`]). 403 otherwise.
fn check_origin(
    shared: &Shared,
    req: &Request<Incoming>,
    host: Option<&HostPort>,
    peer: std::net::SocketAddr,
) -> Result<(), HttpError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let tls = req.extensions().get::<ConnInfo>().is_some_and(|c| c.tls);
    let proxied = shared
        .config
        .trusted_proxies
        .contains(&peer.ip().to_canonical());
    match (origin.to_str(), host) {
        (Ok(o), Some(h)) if same_origin(o, h, tls, proxied) => Ok(()),
        _ => {
            shared.cross_site_refused.fetch_add(1, Ordering::Relaxed);
            Err(HttpError::Forbidden(
                "Cross-site request refused: use homedrop from its own page.",
            ))
        }
    }
}

fn upgrade(
    shared: &Arc<Shared>,
    req: &mut Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Result<Res, HttpError> {
    if !hyper_tungstenite::is_upgrade_request(req) {
        return Err(HttpError::BadRequest(
            "This address takes WebSocket connections only.",
        ));
    }
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ip = client_ip(peer, xff, &shared.config.trusted_proxies);
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let subnets = shared.subnets.get();
    let origin = Origin {
        ip,
        group: classify(ip, &subnets),
        own_host: own_host(host, &subnets),
    };
    let source = Source {
        key: SourceKey::of(ip),
        home: origin.group == NetGroup::Home,
        uncapped: false,
    };
    let slot = shared.ws_slots.admit(source).map_err(|why| {
        super::admission::log_refusal("WebSocket", why, ip);
        HttpError::Busy
    })?;
    let (res, ws) = hyper_tungstenite::upgrade(req, Some(session::ws_config()))
        .map_err(|_| HttpError::BadRequest("Invalid WebSocket upgrade request."))?;
    let hub = shared.hub.clone();
    let shutdown = shared.shutdown.clone();
    shared.tasks.spawn(async move {
        session::serve(hub, ws, origin, shutdown).await;
        drop(slot);
    });
    Ok(res)
}

fn asset(req: &Request<Incoming>, path: &str) -> Result<Res, HttpError> {
    let (a, versioned) = assets::lookup(path).ok_or(HttpError::NotFound)?;
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let (body, etag, deflated) = a.body(accepts_deflate(req));
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if fresh {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else {
        let mut r = Response::new(Full::new(body));
        r.headers_mut().insert(header::CONTENT_TYPE, hv(&a.mime));
        if deflated {
            r.headers_mut().insert(
                header::CONTENT_ENCODING,
                HeaderValue::from_static("deflate"),
            );
        }
        r
    };
    res.headers_mut().insert(header::ETAG, hv(&etag));
    res.headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(res)
}

/// Whether `Accept-Encoding` lists `deflate` (or `*`) without `q=0`.
fn accepts_deflate(req: &Request<Incoming>) -> bool {
    let Some(v) = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    v.split(',').any(|item| {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (coding.eq_ignore_ascii_case("deflate") || coding == "*") && !refused
    })
}

/// `GET /remote`: remote access as the household's panel shows it ([`crate::remote`]);
/// devices outside the home group get 403 (a relative needs only the invite link, and the
/// public address and mapping are the household's business).
fn remote(
    shared: &Shared,
    req: &Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Result<Res, HttpError> {
    if !from_home(shared, req, peer) {
        return Err(HttpError::Forbidden(
            "Remote access is managed from a device at home.",
        ));
    }
    let mut view = shared.remote.view();
    view.certificate = served_certificate(shared);
    let body = serde_json::to_string(&view).unwrap_or_else(|_| "{}".into());
    Ok(text(StatusCode::OK, "application/json", body))
}

/// Is the request's source (the proxy's client when the proxy is trusted) in the home
/// group, as the signaling registry decides it ([`classify`])?
fn from_home(shared: &Shared, req: &Request<Incoming>, peer: std::net::SocketAddr) -> bool {
    let xff = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let ip = client_ip(peer, xff, &shared.config.trusted_proxies);
    classify(ip, &shared.subnets.get()) == NetGroup::Home
}

/// `GET /api/logs`: homedrop's recent log lines ([`crate::logring`]) for a bug report,
/// for home-group devices only, and only to a page of homedrop's own (the Host was checked
/// in [`route`]; a cross-site page is refused by its Origin, and by its `Sec-Fetch-Site`
/// where the browser sends no Origin).
fn logs(
    shared: &Shared,
    req: &Request<Incoming>,
    host: Option<&HostPort>,
    peer: std::net::SocketAddr,
) -> Result<Res, HttpError> {
    check_origin(shared, req, host, peer)?;
    let fetch_site = req.headers().get("sec-fetch-site").map(|v| v.as_bytes());
    if !matches!(fetch_site, None | Some(b"same-origin" | b"none")) {
        shared.cross_site_refused.fetch_add(1, Ordering::Relaxed);
        return Err(HttpError::Forbidden(
            "Cross-site request refused: use homedrop from its own page.",
        ));
    }
    if !from_home(shared, req, peer) {
        return Err(HttpError::Forbidden(
            "The diagnostics are for the devices at home.",
        ));
    }
    let body = serde_json::json!({
        "lines": crate::logring::recent(),
        "maxLines": crate::logring::MAX_LINES,
        "maxBytes": crate::logring::MAX_BYTES,
    });
    Ok(text(StatusCode::OK, "application/json", body.to_string()))
}

/// What the TLS port serves, for the panel: the ACME certificate once issued (with the last
/// failure, if the last try failed), else the given files or the self-signed fallback.
fn served_certificate(shared: &Shared) -> Option<crate::remote::Certificate> {
    use crate::remote::Certificate;
    shared.config.https?;
    let acme = shared.acme.as_ref().map(|a| a.stats());
    let error = acme.as_ref().and_then(|a| a.last_error.clone());
    if let Some(a) = acme.as_ref().filter(|a| a.not_after > 0) {
        return Some(Certificate {
            source: "acme".into(),
            names: a.identifier.iter().cloned().collect(),
            not_after: a.not_after,
            error,
        });
    }
    let source = if shared.config.tls.is_some() {
        "file"
    } else {
        "self-signed"
    };
    Some(Certificate {
        source: source.into(),
        error,
        ..Certificate::default()
    })
}

/// `/qr.svg?d=<percent-encoded text>`: a QR code drawn on the server, so the client needs
/// no QR library and the page works offline.
fn qr(query: &str) -> Result<Res, HttpError> {
    let data = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("d="))
        .ok_or(HttpError::BadRequest("Missing d= parameter."))?;
    let text = percent_encoding::percent_decode_str(&data.replace('+', " "))
        .decode_utf8()
        .map_err(|_| HttpError::BadRequest("d= is not valid UTF-8."))?
        .into_owned();
    if text.is_empty() || text.len() > MAX_QR_TEXT {
        return Err(HttpError::BadRequest("d= must be 1 to 512 bytes."));
    }
    let code = qrcode::QrCode::new(text.as_bytes())
        .map_err(|_| HttpError::BadRequest("Text too long for a QR code."))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build();
    let mut r = text_res(StatusCode::OK, "image/svg+xml", svg);
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    Ok(r)
}

fn text(status: StatusCode, mime: &'static str, body: String) -> Res {
    let mut r = text_res(status, mime, body);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn text_res(status: StatusCode, mime: &'static str, body: String) -> Res {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    r
}

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn security_headers(res: &mut Res) {
    let h = res.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(self), microphone=(self), geolocation=()"),
    );
}
