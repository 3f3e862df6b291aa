//! Typed HTTP errors, mapped to a status and a readable body in one place.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};

use crate::probe::ProbeError;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("Not found.")]
    NotFound,
    #[error("Method not allowed.")]
    MethodNotAllowed,
    #[error("{0}")]
    BadRequest(&'static str),
    #[error("Too many connections; try again shortly.")]
    Busy,
    #[error("{0}")]
    TooLarge(&'static str),
    #[error("{0}")]
    Unavailable(&'static str),
    /// The Host names someone else (DNS rebinding, or a name to add with `--allowed-host`).
    #[error("This server does not answer to that Host name.")]
    MisdirectedHost,
    /// A cross-site request (its Origin is not the page's own).
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// The connection check refused an offer (its text is the message).
    #[error(transparent)]
    Probe(ProbeError),
}

impl HttpError {
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::NotFound => StatusCode::NOT_FOUND,
            HttpError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            HttpError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HttpError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::MisdirectedHost => StatusCode::MISDIRECTED_REQUEST,
            HttpError::Forbidden(_) => StatusCode::FORBIDDEN,
            HttpError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::Probe(ProbeError::BadOffer | ProbeError::WrongFamily(_)) => {
                StatusCode::BAD_REQUEST
            }
            HttpError::Probe(ProbeError::Starting | ProbeError::Failed | ProbeError::Busy) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut res = Response::new(Full::new(Bytes::from(format!("{self}\n"))));
        *res.status_mut() = self.status();
        res.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        res
    }
}
