//! `/share-target`: where the web app manifest's share target posts (the Web Share Target
//! API). With homedrop installed over https the service worker (`web/sw.js`) answers that
//! POST itself and the server never sees it. It reaches the server only without a service
//! worker (plain http, or a first visit): the server keeps nothing, reads at most
//! [`MAX_BODY`] of the form within [`BODY_TIMEOUT`] (so the browser, still sending, gets
//! the answer instead of a reset), and answers 303 to `/?share-target`, where the page says
//! that sharing needs the installed app.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::error::HttpError;
use super::routes::Res;

/// Most of a shared form the server reads (and throws away) before it answers.
pub const MAX_BODY: usize = 1024 * 1024;

/// Time a client has to send that much.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the page picks a share up (or says why there is none).
pub const LANDING: &str = "/?share-target";

const TOO_LARGE: &str = "Sharing files to homedrop needs its https address with the app \
installed; this server keeps nothing shared to it.";

/// `GET` or `POST /share-target`: 303 to [`LANDING`]; 405 for other methods, 413 for a form
/// larger than [`MAX_BODY`].
pub async fn handle(req: Request<Incoming>) -> Result<Res, HttpError> {
    match *req.method() {
        Method::GET | Method::HEAD => {}
        Method::POST => drain(req).await?,
        _ => return Err(HttpError::MethodNotAllowed),
    }
    let mut res = Response::new(Full::new(Bytes::from_static(
        b"See /?share-target: sharing to homedrop needs the installed app (https).\n",
    )));
    *res.status_mut() = StatusCode::SEE_OTHER;
    let h = res.headers_mut();
    h.insert(header::LOCATION, HeaderValue::from_static(LANDING));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// Read and drop the body, at most [`MAX_BODY`] bytes within [`BODY_TIMEOUT`].
async fn drain(req: Request<Incoming>) -> Result<(), HttpError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(HttpError::TooLarge(TOO_LARGE));
    }
    let body = Limited::new(req.into_body(), MAX_BODY);
    match tokio::time::timeout(BODY_TIMEOUT, body.collect()).await {
        Err(_) => Err(HttpError::BadRequest(
            "The shared form took too long to arrive.",
        )),
        Ok(Err(e)) if e.is::<LengthLimitError>() => Err(HttpError::TooLarge(TOO_LARGE)),
        Ok(Err(_)) => Err(HttpError::BadRequest("The shared form could not be read.")),
        Ok(Ok(_)) => Ok(()),
    }
}
