//! The HTTP server: hyper 1 over TCP (and over TLS, [`tls`], where [`one_port`] also routes
//! TURN over TLS to the relay and answers ACME challenges), one task per connection;
//! [`routes`] sends each request to its handler, and every handler gets the [`Shared`] state.
//!
//! Slow or idle clients cannot exhaust it: headers must arrive within
//! [`HEADER_READ_TIMEOUT`] (the TLS handshake within [`tls::HANDSHAKE_TIMEOUT`], inside the
//! connection's task so accepting never waits for it), and at most `max_connections`
//! connections (both listeners together) are served at once, admitted per source by
//! [`admission`]: a connection holds its source's slot from accept to close, slowloris
//! included, so one address (or one IPv6 /64) holds at most its cap and the household keeps
//! its share; more are closed straight away with a 503. Requests must name one of
//! homedrop's own hosts ([`host`]).

pub mod admission;
pub mod assets;
pub mod error;
pub mod host;
pub mod one_port;
pub mod probe;
pub mod routes;
pub mod share;
mod shared;
pub mod tls;

pub use shared::Shared;

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::net::{classify, NetGroup, SourceKey};

/// Time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// What a handler may want to know about the connection a request came on (a request
/// extension).
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// Our side of the connection: the address the client used to reach us.
    pub local: std::net::SocketAddr,
    pub tls: bool,
}

/// Accept plain-HTTP connections until shutdown; each is served in the shared task tracker.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    serve_with(listener, shared, None).await
}

/// The same routes over TLS.
pub async fn serve_tls(listener: TcpListener, shared: Arc<Shared>, tls: tokio_rustls::TlsAcceptor) {
    serve_with(listener, shared, Some(tls)).await
}

async fn serve_with(
    listener: TcpListener,
    shared: Arc<Shared>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shared.shutdown.cancelled() => break,
        };
        let permit = match shared.http_slots.admit(tcp_source(&shared, peer)) {
            Ok(p) => p,
            Err(why) => {
                admission::log_refusal("connection", why, peer);
                shared.tasks.spawn(refuse_busy(stream));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let info = ConnInfo {
            local: stream.local_addr().unwrap_or(peer),
            tls: tls.is_some(),
        };
        let shared = shared.clone();
        let tls = tls.clone();
        shared.clone().tasks.spawn(async move {
            match tls {
                None => {
                    serve_connection(stream, shared, peer, info).await;
                    drop(permit);
                }
                Some(acceptor) => {
                    let handshake = tokio::select! {
                        r = tls::handshake(&acceptor, stream) => r,
                        _ = shared.shutdown.cancelled() => return,
                    };
                    match handshake {
                        Ok(s) => one_port::serve(s, shared, peer, info, permit).await,
                        Err(e) => tracing::debug!("TLS handshake with {peer} failed: {e}"),
                    }
                }
            }
        });
    }
}

/// Who a TCP connection counts against: its peer. A trusted proxy's connections are neither
/// capped per source nor held to the internet's share, even from a public address: they
/// carry every client, the household's too (`/ws` keys on the forwarded address).
pub fn tcp_source(shared: &Shared, peer: std::net::SocketAddr) -> admission::Source {
    let ip = peer.ip().to_canonical();
    let proxy = shared.config.trusted_proxies.contains(&ip);
    admission::Source {
        key: SourceKey::of(ip),
        home: proxy || classify(ip, &shared.subnets.get()) == NetGroup::Home,
        uncapped: proxy,
    }
}

/// Serve HTTP/1.1 (with upgrades, for `/ws`) on one connection, plain or TLS.
pub(crate) async fn serve_connection<S>(
    io: S,
    shared: Arc<Shared>,
    peer: std::net::SocketAddr,
    info: ConnInfo,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let shutdown = shared.shutdown.clone();
    let svc = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        let shared = shared.clone();
        req.extensions_mut().insert(info);
        async move { Ok::<_, std::convert::Infallible>(routes::handle(shared, req, peer).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    tokio::pin!(conn);
    // On shutdown, idle keep-alive connections close now, busy ones after their response.
    let done = tokio::select! {
        r = conn.as_mut() => r,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = done {
        tracing::debug!("connection from {peer} ended: {e}");
    }
}

async fn refuse_busy(mut stream: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt;
    let body = error::HttpError::Busy.to_string();
    let msg = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    // Write, close our side, then drain what the client sent so the close is clean (an
    // unread request would turn it into a reset and lose the 503).
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        use tokio::io::AsyncReadExt;
        stream.write_all(msg.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}
