//! HTTPS: the same routes over TLS (rustls with the ring provider, TLS 1.2 and 1.3 only).
//!
//! Why: browsers give a page on plain http from a LAN address no secure context, so no OPFS
//! (bounded-memory receive), camera, `crypto.subtle` or MediaRecorder. With `--https` the
//! appliance serves the page over TLS too, with a given certificate (`--tls-cert` and
//! `--tls-key`) or a self-signed one generated on first start and kept in the state directory
//! ([`CERT_FILE`], [`KEY_FILE`] with mode 0600), so the browser's "accept this certificate"
//! decision survives restarts. Its names: `<--name>.local`, `homedrop.local`, `localhost` and
//! each LAN address at the time it was made.
//!
//! A client speaking plain HTTP to the HTTPS port gets a short 400 telling it to use https://;
//! one offering only TLS 1.1 or older fails the handshake (rustls implements neither). Both
//! happen inside that connection's task, under [`HANDSHAKE_TIMEOUT`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use rustls::sign::CertifiedKey;

use crate::certs::{CertStore, ACME_TLS_ALPN};
use crate::config::Config;

/// Time a client has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The generated certificate in the state directory.
pub const CERT_FILE: &str = "tls-cert.pem";
/// The generated certificate's private key in the state directory (mode 0600).
pub const KEY_FILE: &str = "tls-key.pem";
/// Largest certificate or key file read.
const MAX_PEM: u64 = 1024 * 1024;

/// Why HTTPS could not be set up: one readable line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("the certificate and key do not go together: {0}")]
    Mismatch(String),
    #[error("cannot generate a certificate: {0}")]
    Generate(String),
}

fn file_err(path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}

/// The TLS acceptor for the configured certificate, or the generated one (made on first use).
pub fn acceptor(config: &Config) -> Result<TlsAcceptor, TlsError> {
    Ok(acceptor_with_store(config)?.0)
}

/// The TLS acceptor and the [`CertStore`] it resolves through: it serves the configured (or
/// generated) certificate until something (ACME) sets another, and answers TLS-ALPN-01
/// challenge handshakes (`acme-tls/1`) from the store.
pub fn acceptor_with_store(config: &Config) -> Result<(TlsAcceptor, Arc<CertStore>), TlsError> {
    let (cert, key) = match &config.tls {
        Some(files) => (files.cert.clone(), files.key.clone()),
        None => generated(&config.state_dir, &config.name)?,
    };
    let chain = read_pem(&cert, |b| {
        CertificateDer::pem_slice_iter(b).collect::<Result<Vec<_>, _>>()
    })?;
    if chain.is_empty() {
        return Err(file_err(&cert, "no PEM certificate in this file"));
    }
    let key = read_pem(&key, PrivateKeyDer::from_pem_slice)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let initial = CertifiedKey::from_der(chain, key, &provider)
        .map_err(|e| TlsError::Mismatch(e.to_string()))?;
    let store = CertStore::new(Arc::new(initial));
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Generate(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(store.clone());
    server.alpn_protocols = vec![b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
    Ok((TlsAcceptor::from(Arc::new(server)), store))
}

/// Did this connection's handshake answer a TLS-ALPN-01 challenge? Then it is over: the
/// validator only looks at the certificate (RFC 8737 §3).
pub fn was_acme_challenge(stream: &TlsStream<TcpStream>) -> bool {
    stream.get_ref().1.alpn_protocol() == Some(ACME_TLS_ALPN)
}

fn read_pem<T, E: std::fmt::Display>(
    path: &Path,
    parse: impl FnOnce(&[u8]) -> Result<T, E>,
) -> Result<T, TlsError> {
    let meta = std::fs::metadata(path).map_err(|e| file_err(path, e))?;
    if meta.len() > MAX_PEM {
        return Err(file_err(path, "larger than 1 MiB"));
    }
    let bytes = std::fs::read(path).map_err(|e| file_err(path, e))?;
    parse(&bytes).map_err(|e| file_err(path, format!("not a PEM file of the expected kind ({e})")))
}

/// Paths of the generated certificate and key, generating them if either is missing.
fn generated(dir: &Path, name: &str) -> Result<(PathBuf, PathBuf), TlsError> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let (cert, key) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| file_err(dir, e))?;
    let made = rcgen::generate_simple_self_signed(subject_names(name))
        .map_err(|e| TlsError::Generate(e.to_string()))?;
    let write = |path: &Path, text: String, mode: u32| -> Result<(), TlsError> {
        // Written beside, then renamed: a crash never leaves half a key behind.
        let tmp = path.with_extension("tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| file_err(&tmp, e))?;
        use std::io::Write;
        f.write_all(text.as_bytes())
            .and_then(|_| f.sync_all())
            .and_then(|_| std::fs::rename(&tmp, path))
            .map_err(|e| file_err(path, e))
    };
    write(&key, made.signing_key.serialize_pem(), 0o600)?;
    write(&cert, made.cert.pem(), 0o644)?;
    tracing::info!(
        "generated a self-signed HTTPS certificate in {}",
        cert.display()
    );
    Ok((cert, key))
}

/// `<name>.local` (`--name`), `homedrop.local`, `localhost`, and every address of this machine.
fn subject_names(name: &str) -> Vec<String> {
    let mut names = vec![format!("{name}.local")];
    for n in ["homedrop.local", "localhost", "127.0.0.1"] {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    if let Ok(ifs) = if_addrs::get_if_addrs() {
        for i in ifs.iter().filter(|i| !i.is_loopback()) {
            let ip = i.ip().to_string();
            if !names.contains(&ip) {
                names.push(ip);
            }
        }
    }
    names
}

/// Finish the TLS handshake (within [`HANDSHAKE_TIMEOUT`]). A client that starts with plain
/// HTTP instead gets a 400 naming the right scheme, and an error here.
pub async fn handshake(
    acceptor: &TlsAcceptor,
    stream: TcpStream,
) -> io::Result<TlsStream<TcpStream>> {
    tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        let mut first = [0u8; 1];
        let n = stream.peek(&mut first).await?;
        // A TLS connection opens with a handshake record (content type 22).
        if n == 1 && first[0].is_ascii_uppercase() {
            refuse_plain_http(stream).await;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "plain HTTP on the HTTPS port",
            ));
        }
        acceptor.accept(stream).await
    })
    .await
    .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
}

async fn refuse_plain_http(mut stream: TcpStream) {
    let body = "This port speaks HTTPS: open this address with https:// instead.\n";
    let msg = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(msg.as_bytes()).await;
    let _ = stream.shutdown().await;
    // Drain what the client sent so the close is clean rather than a reset.
    let mut sink = [0u8; 1024];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        use tokio::io::AsyncReadExt;
        while stream.read(&mut sink).await.unwrap_or(0) > 0 {}
    })
    .await;
}
