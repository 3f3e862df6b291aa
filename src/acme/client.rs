//! The HTTPS client the ACME protocol runs over: one HTTP/1.1 request per connection
//! (`Connection: close`), over OpenSSL's TLS client, in a blocking task.
//!
//! Why this and not instant-acme's own client or hyper's: the binary already links OpenSSL
//! (vendored, for the connection check's DTLS), client handshake and X.509 chain
//! verification included, while instant-acme's `hyper-rustls` client (HTTP/2, hyper-util's
//! pool, rustls-platform-verifier) and even hyper's client half over a rustls client would
//! add a second HTTP client and rustls's client side with webpki's verifier. Measured on the
//! static x86-64 musl binary: hyper's client over rustls's cost about 213 KB more than this
//! one (`docs/decisions.md`). A few dozen ACME requests a week need no connection reuse,
//! HTTP/2 or async I/O.
//!
//! Trust: the roots of Let's Encrypt (ISRG Root X1 and X2, shipped in the binary so a bare
//! appliance without a CA bundle still works), the system bundle when there is one, and
//! `--acme-ca` (a test CA or a private one). Names and addresses are checked by OpenSSL.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openssl::ssl::{SslConnector, SslMethod, SslVersion};
use openssl::x509::X509;

/// Let's Encrypt's roots (ISRG Root X1, RSA; ISRG Root X2, ECDSA).
const BUILT_IN_ROOTS: &str = include_str!("roots.pem");
/// Where Debian, Alpine and Fedora keep the system's CA bundle.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];
/// Longest wait for connecting, and for each read or write.
const IO_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response read, head and body (a certificate chain is a few KB).
const MAX_RESPONSE: usize = 1024 * 1024;

/// An HTTPS client for ACME directories.
#[derive(Clone)]
pub struct Client {
    tls: Arc<SslConnector>,
}

impl Client {
    /// A client trusting the built-in roots, the system bundle and `extra` (a PEM file).
    pub fn new(extra: Option<&Path>) -> Result<Client, String> {
        let e = |e: openssl::error::ErrorStack| e.to_string();
        let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(e)?;
        b.set_min_proto_version(Some(SslVersion::TLS1_2))
            .map_err(e)?;
        let store = b.cert_store_mut();
        let mut add = |pem: &[u8]| -> usize {
            let certs = X509::stack_from_pem(pem).unwrap_or_default();
            certs
                .into_iter()
                .filter(|c| store.add_cert(c.clone()).is_ok())
                .count()
        };
        add(BUILT_IN_ROOTS.as_bytes());
        for bundle in SYSTEM_BUNDLES {
            if let Ok(bytes) = std::fs::read(bundle) {
                add(&bytes);
            }
        }
        if let Some(path) = extra {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            if add(&bytes) == 0 {
                return Err(format!("{}: no PEM certificate in it", path.display()));
            }
        }
        Ok(Client {
            tls: Arc::new(b.build()),
        })
    }
}

/// A response: status, headers (names in lower case), body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        let h = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name));
        h.map(|(_, v)| v.as_str())
    }
}

impl Client {
    /// One request: `method` to `url`, with `body` of `content_type` (POST), or none.
    pub async fn request(
        &self,
        method: &str,
        url: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<Response, String> {
        let out = encode(method, url, body)?;
        let tls = self.tls.clone();
        tokio::task::spawn_blocking(move || exchange(&tls, &out))
            .await
            .map_err(|e| e.to_string())?
    }

    /// GET `url` and its JSON body (the directory, ARI's renewal information), on 200.
    pub async fn get_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let rsp = self.request("GET", url, None).await?;
        if rsp.status != 200 {
            return Err(format!("{url}: status {}", rsp.status));
        }
        serde_json::from_slice(&rsp.body).map_err(|e| format!("{url}: {e}"))
    }
}

/// One request, as bytes to send, and where to.
struct Outgoing {
    host: String,
    port: u16,
    head_only: bool,
    bytes: Vec<u8>,
}

/// The request line, headers and body (origin form; the authority in Host).
fn encode(method: &str, url: &str, body: Option<(&str, Vec<u8>)>) -> Result<Outgoing, String> {
    let uri: http::Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("{uri}: only https:// ACME servers are supported"));
    }
    let host = uri.host().ok_or_else(|| format!("{uri}: no host"))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let authority = uri.authority().map_or(host.as_str(), |a| a.as_str());
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!("{method} {target} HTTP/1.1\r\nhost: {authority}\r\n");
    let (kind, body) = body.unwrap_or(("", Vec::new()));
    if !kind.is_empty() {
        head.push_str(&format!("content-type: {kind}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\nuser-agent: homedrop/{}\r\n\r\n",
        body.len(),
        env!("CARGO_PKG_VERSION")
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(&body);
    Ok(Outgoing {
        port: uri.port_u16().unwrap_or(443),
        host,
        head_only: method == "HEAD",
        bytes,
    })
}

/// Sends `out` and reads the whole response (blocking).
fn exchange(tls: &SslConnector, out: &Outgoing) -> Result<Response, String> {
    let (host, port) = (out.host.as_str(), out.port);
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host} has no address");
    let tcp = addrs
        .into_iter()
        .find_map(|a| {
            TcpStream::connect_timeout(&a, IO_TIMEOUT)
                .inspect_err(|e| last = format!("cannot connect to {a}: {e}"))
                .ok()
        })
        .ok_or(last)?;
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
    let mut s = tls
        .connect(host, tcp)
        .map_err(|e| format!("TLS with {host}:{port}: {e}"))?;
    s.write_all(&out.bytes)
        .map_err(|e| format!("{host}:{port}: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(rsp) = complete(&buf, out.head_only)? {
            return Ok(rsp);
        }
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) if buf.len() + n <= MAX_RESPONSE => buf.extend_from_slice(&chunk[..n]),
            Ok(_) => return Err(format!("{host}: response larger than 1 MiB")),
            Err(e) => return Err(format!("{host}:{port}: {e}")),
        }
    }
    complete(&buf, out.head_only)?.ok_or_else(|| format!("{host}: the response was cut short"))
}

/// The response in `buf`, once all of it is there (`None`: read on).
fn complete(buf: &[u8], head_only: bool) -> Result<Option<Response>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut headers);
    let start = match parsed
        .parse(buf)
        .map_err(|e| format!("bad response: {e}"))?
    {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    let mut rsp_headers = Vec::new();
    let (mut length, mut chunked) = (None, false);
    for h in parsed.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
        }
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = h.value.eq_ignore_ascii_case(b"chunked");
        }
        let value = String::from_utf8_lossy(h.value).into_owned();
        rsp_headers.push((h.name.to_ascii_lowercase(), value));
    }
    let rest = &buf[start..];
    let body = if head_only {
        Vec::new()
    } else if chunked {
        match dechunk(rest)? {
            Some(body) => body,
            None => return Ok(None),
        }
    } else {
        match length {
            Some(n) if rest.len() >= n => rest[..n].to_vec(),
            _ => return Ok(None),
        }
    };
    Ok(Some(Response {
        status: parsed.code.unwrap_or(500),
        headers: rsp_headers,
        body,
    }))
}

/// A chunked body (RFC 9112 §7.1), once its last chunk has arrived (`None`: read on).
fn dechunk(mut rest: &[u8]) -> Result<Option<Vec<u8>>, String> {
    let mut body = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| "bad chunk size")?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size, 16).map_err(|_| "bad chunk size")?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(Some(body));
        }
        if rest.len() < size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_complete_by_length_or_last_chunk() {
        let partial = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nab";
        assert!(complete(partial, false).unwrap().is_none());
        let whole = b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nreplay-nonce: n1\r\n\r\nok";
        let rsp = complete(whole, false).unwrap().unwrap();
        assert_eq!(rsp.status, 201);
        assert_eq!(rsp.header("Replay-Nonce"), Some("n1"));
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert!(complete(&chunked[..chunked.len() - 7], false)
            .unwrap()
            .is_none());
        let rsp = complete(chunked, false).unwrap().unwrap();
        assert_eq!(rsp.body, b"abcde");
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 99\r\n\r\n";
        assert!(complete(head, true).unwrap().is_some());
        assert!(complete(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            false
        )
        .is_err());
    }
}
