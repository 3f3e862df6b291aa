//! The HTTPS client the ACME protocol runs over: one HTTP/1.1 request per TLS connection,
//! with hyper's client half and rustls, both already linked for the server.
//!
//! Why not instant-acme's own client: its `hyper-rustls` feature brings HTTP/2 (h2),
//! hyper-util's pooled client and rustls-platform-verifier; a few dozen ACME requests a
//! week need none of them (numbers in the `acme` module doc). Trust: the roots of Let's
//! Encrypt (ISRG Root X1 and X2, shipped in the binary so a bare appliance without a CA
//! bundle still works), the system bundle when there is one, and `--acme-ca` (a test CA or
//! a private one).

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Let's Encrypt's roots (ISRG Root X1, RSA; ISRG Root X2, ECDSA).
const BUILT_IN_ROOTS: &str = include_str!("roots.pem");
/// Where Debian, Alpine and Fedora keep the system's CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];
/// Longest wait for one request (connect, handshake, response).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body read (a certificate chain is a few KB).
const MAX_BODY: usize = 1024 * 1024;

/// An HTTPS client for one ACME directory's host(s).
#[derive(Clone)]
pub struct Client {
    tls: TlsConnector,
}

impl Client {
    /// A client trusting the built-in roots, the system bundle and `extra` (a PEM file).
    pub fn new(extra: Option<&Path>) -> Result<Client, String> {
        let mut roots = rustls::RootCertStore::empty();
        add_pem(&mut roots, BUILT_IN_ROOTS.as_bytes());
        for bundle in SYSTEM_BUNDLES {
            if let Ok(bytes) = std::fs::read(bundle) {
                add_pem(&mut roots, &bytes);
            }
        }
        if let Some(path) = extra {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            if add_pem(&mut roots, &bytes) == 0 {
                return Err(format!("{}: no PEM certificate in it", path.display()));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Client {
            tls: TlsConnector::from(Arc::new(config)),
        })
    }

    async fn send(&self, req: http::Request<BodyWrapper<Bytes>>) -> Result<BytesResponse, String> {
        let uri = req.uri().clone();
        if uri.scheme_str() != Some("https") {
            return Err(format!("{uri}: only https:// ACME servers are supported"));
        }
        let host = uri.host().ok_or_else(|| format!("{uri}: no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = uri.port_u16().unwrap_or(443);
        let tcp = TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
        let name = ServerName::try_from(host.clone()).map_err(|e| format!("{host}: {e}"))?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS with {host}:{port}: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let (mut parts, body) = req.into_parts();
        let body = http_body_util::BodyExt::collect(body)
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        // Origin form on the request line, the authority in Host (RFC 9112 §3.2).
        parts.uri = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
            .parse()
            .map_err(|e: http::uri::InvalidUri| e.to_string())?;
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or(&host);
        let authority = http::HeaderValue::from_str(authority).map_err(|e| e.to_string())?;
        parts.headers.insert(http::header::HOST, authority);
        let rsp = sender
            .send_request(http::Request::from_parts(parts, Full::new(body)))
            .await
            .map_err(|e| format!("{uri}: {e}"))?;
        let (parts, body) = rsp.into_parts();
        let limited = http_body_util::Limited::new(body, MAX_BODY);
        let bytes = http_body_util::BodyExt::collect(limited)
            .await
            .map_err(|e| format!("{uri}: {e}"))?
            .to_bytes();
        Ok(BytesResponse::from(http::Response::from_parts(
            parts,
            Full::new(bytes),
        )))
    }
}

/// Adds every certificate of a PEM bundle; how many were taken.
fn add_pem(roots: &mut rustls::RootCertStore, pem: &[u8]) -> usize {
    let certs = CertificateDer::pem_slice_iter(pem).filter_map(Result::ok);
    roots.add_parsable_certificates(certs).0
}

impl HttpClient for Client {
    fn request(
        &self,
        req: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let client = self.clone();
        Box::pin(async move {
            match tokio::time::timeout(REQUEST_TIMEOUT, client.send(req)).await {
                Ok(Ok(rsp)) => Ok(rsp),
                Ok(Err(e)) => Err(Error::Other(e.into())),
                Err(_) => Err(Error::Other(
                    "the ACME server did not answer in 30 s".into(),
                )),
            }
        })
    }
}
