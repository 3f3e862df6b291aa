//! `POST /probe`: the HTTP side of the connection check ([`crate::probe`]): read the SDP
//! offer, bounded in size and time, and answer it with the probe's SDP answer.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response};

use super::error::HttpError;
use super::routes::Res;
use super::ConnInfo;
use crate::probe::{Probe, ProbeError, MAX_OFFER};

/// The offer's content type.
pub const SDP_TYPE: &str = "application/sdp";

/// Time a client has to send its offer's body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// A refused offer is answered with [`ProbeError`]'s own text (see [`HttpError::status`] for
/// its status).
impl From<ProbeError> for HttpError {
    fn from(e: ProbeError) -> Self {
        HttpError::Probe(e)
    }
}

/// `POST /probe` (`probe`: `None` when the check is off).
pub async fn handle(probe: Option<&Probe>, req: Request<Incoming>) -> Result<Res, HttpError> {
    if req.method() != Method::POST {
        return Err(HttpError::MethodNotAllowed);
    }
    require_json(&req)?;
    let probe = probe.ok_or(HttpError::Unavailable(
        "The connection check is turned off on this server (--no-probe).",
    ))?;
    // Our side of the connection: the candidate the browser gets is the address it used.
    let local = req.extensions().get::<ConnInfo>().map(|c| c.local.ip());
    let local = local.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let offer = read_offer(req).await?;
    let json = probe.answer(&offer, local).await?;
    let mut res = Response::new(Full::new(Bytes::from(json)));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// The offer comes as `application/sdp` (RFC 4566's type for the SDP text it is): a
/// cross-site page can POST `text/plain` or a form without asking, but any other type needs
/// a CORS preflight, which homedrop never grants (it sends no `Access-Control-Allow-*`
/// header). 415 otherwise.
fn require_json(req: &Request<Incoming>) -> Result<(), HttpError> {
    let mime = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase());
    if mime.as_deref() == Some(SDP_TYPE) {
        Ok(())
    } else {
        Err(HttpError::UnsupportedMediaType(
            "The SDP offer must be sent as Content-Type: application/sdp.",
        ))
    }
}

/// The request body, at most [`MAX_OFFER`] bytes within [`BODY_TIMEOUT`].
async fn read_offer(req: Request<Incoming>) -> Result<Bytes, HttpError> {
    let too_large = HttpError::TooLarge("The SDP offer must be at most 16 KiB.");
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_OFFER as u64) {
        return Err(too_large);
    }
    let body = Limited::new(req.into_body(), MAX_OFFER);
    match tokio::time::timeout(BODY_TIMEOUT, body.collect()).await {
        Err(_) => Err(HttpError::BadRequest(
            "The SDP offer took too long to arrive.",
        )),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(too_large),
        Ok(Err(_)) => Err(HttpError::BadRequest("The SDP offer could not be read.")),
        Ok(Ok(b)) => Ok(b.to_bytes()),
    }
}
