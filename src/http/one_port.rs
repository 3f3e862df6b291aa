//! One TLS port for everything remote access needs, routed after the handshake.
//!
//! Why one port: a household forwards one TCP port (443) and many networks (hotels,
//! offices, mobile carriers) let nothing else out, so the page, its WebSocket, TURN for the
//! relay and the ACME TLS-ALPN-01 challenge all share it. The handshake tells them apart
//! before any byte of the application is read:
//! - ALPN `acme-tls/1`: the certificate store already answered with the challenge
//!   certificate during the handshake (`crate::certs`), which is all the CA checks (RFC 8737
//!   §3); the connection is closed;
//! - ALPN `stun.turn` or `stun.nat-discovery` (RFC 7443; coturn's client offers them, with
//!   `http/1.1` after): TURN over TLS;
//! - `http/1.1`, or no ALPN (Chromium's `turns:` sends SNI and no ALPN): the first eight
//!   decrypted bytes decide. A STUN message carries the magic cookie 0x2112A442 at bytes
//!   4..8 ([`is_stun`]): TURN over TLS, handed to the relay's stream serving, which applies
//!   the same per-source connection cap and 5 s authentication deadline as TURN/TCP. Anything
//!   else (an HTTP client that offers no ALPN) is HTTP.
//!
//! The eight bytes read to decide are handed on in front of the stream ([`Prefixed`]), so
//! neither hyper nor the relay knows a decision was made. A client that sends fewer than
//! eight bytes within the header timeout is closed, as a silent HTTP client would be.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::admission::Slot;
use super::{ConnInfo, Shared, HEADER_READ_TIMEOUT};

/// The STUN magic cookie (RFC 8489 §5), at bytes 4..8 of every STUN message.
pub const STUN_MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
/// Bytes read after a handshake without ALPN to tell STUN from HTTP.
pub const SNIFF_LEN: usize = 8;

/// Serve one connection whose TLS handshake is done, by its [`Route`]. `slot` (its place in
/// the HTTP connection pool) is given back when the connection goes to the relay, which
/// counts its own connections per source.
pub(super) async fn serve(
    mut tls: TlsStream<TcpStream>,
    shared: Arc<Shared>,
    peer: SocketAddr,
    info: ConnInfo,
    slot: Slot,
) {
    let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    let first = match route_by_alpn(alpn.as_deref()) {
        Some(Route::AcmeChallenge) => {
            // The CA has seen the certificate; it sends nothing more.
            let _ = tokio::time::timeout(HEADER_READ_TIMEOUT, tls.shutdown()).await;
            return;
        }
        Some(_) => Vec::new(),
        None => {
            // A STUN message and an HTTP request both start with at least eight bytes.
            let sniffed = tokio::select! {
                r = tokio::time::timeout(HEADER_READ_TIMEOUT, sniff(&mut tls)) => r,
                _ = shared.shutdown.cancelled() => return,
            };
            match sniffed {
                Ok(Ok(first)) if first.len() == SNIFF_LEN => first,
                Ok(Ok(_)) => return, // closed before a request
                Ok(Err(e)) => return tracing::debug!("TLS connection from {peer}: {e}"),
                Err(_) => return tracing::debug!("TLS connection from {peer} sent nothing"),
            }
        }
    };
    let turn = match alpn.as_deref() {
        Some(TURN_ALPN | STUN_ALPN) => true,
        _ => route_by_bytes(&first) == Route::Turn,
    };
    let stream = Prefixed::new(first, tls);
    if turn {
        if let Some(relay) = &shared.relay {
            drop(slot);
            crate::relay::serve_tls(relay, stream, peer);
            return;
        }
    }
    super::serve_connection(stream, shared, peer, info).await;
    drop(slot);
}

/// Where a TLS connection goes once its handshake is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The ACME TLS-ALPN-01 challenge: answered by the handshake, nothing more to do.
    AcmeChallenge,
    /// The page, the API and `/ws`.
    Http,
    /// TURN over TLS, into the relay.
    Turn,
}

/// The ALPN names of TURN and STUN (RFC 7443 §5).
pub const TURN_ALPN: &[u8] = b"stun.turn";
pub const STUN_ALPN: &[u8] = b"stun.nat-discovery";

/// The route for a connection that negotiated `alpn`; `None` means the first bytes decide
/// ([`route_by_bytes`]): `http/1.1` or none (only those and the ones above are offered).
pub fn route_by_alpn(alpn: Option<&[u8]>) -> Option<Route> {
    match alpn {
        Some(crate::certs::ACME_TLS_ALPN) => Some(Route::AcmeChallenge),
        Some(TURN_ALPN | STUN_ALPN) => Some(Route::Turn),
        _ => None,
    }
}

/// The route for a connection without ALPN whose first decrypted bytes are `first`.
pub fn route_by_bytes(first: &[u8]) -> Route {
    if is_stun(first) {
        Route::Turn
    } else {
        Route::Http
    }
}

/// Do these bytes start a STUN message? The two top bits of the type are zero (RFC 8489
/// §6: that is what sets STUN apart from ChannelData and other protocols) and the cookie
/// sits at bytes 4..8.
pub fn is_stun(first: &[u8]) -> bool {
    first.len() >= SNIFF_LEN && first[0] & 0xC0 == 0 && first[4..8] == STUN_MAGIC_COOKIE
}

/// Read up to [`SNIFF_LEN`] bytes (fewer only at end of stream).
pub async fn sniff<S: AsyncRead + Unpin>(stream: &mut S) -> io::Result<Vec<u8>> {
    let mut first = vec![0u8; SNIFF_LEN];
    let mut got = 0;
    while got < SNIFF_LEN {
        match stream.read(&mut first[got..]).await? {
            0 => break,
            n => got += n,
        }
    }
    first.truncate(got);
    Ok(first)
}

/// A stream whose first bytes were already read: they are read again first, then the
/// stream itself. Writes go straight through (vectored too: the relay writes batches).
pub struct Prefixed<S> {
    head: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S> Prefixed<S> {
    pub fn new(head: Vec<u8>, inner: S) -> Self {
        Prefixed { head, at: 0, inner }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.head.len() {
            let n = (this.head.len() - this.at).min(buf.remaining());
            buf.put_slice(&this.head[this.at..this.at + n]);
            this.at += n;
            if this.at == this.head.len() {
                this.head = Vec::new(); // nothing kept for the connection's lifetime
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn routes_by_alpn_then_by_first_bytes() {
        assert_eq!(
            route_by_alpn(Some(b"acme-tls/1")),
            Some(Route::AcmeChallenge)
        );
        assert_eq!(route_by_alpn(Some(b"stun.turn")), Some(Route::Turn));
        assert_eq!(route_by_alpn(Some(b"http/1.1")), None);
        assert_eq!(route_by_alpn(None), None);
        // A STUN Binding request header: type 0x0001, length 0, cookie.
        let stun = [0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xA4, 0x42];
        assert_eq!(route_by_bytes(&stun), Route::Turn);
        assert_eq!(route_by_bytes(b"GET / HTTP/1.1\r\n"), Route::Http);
        // The cookie alone is not enough: ChannelData (top bits 01) and short reads are HTTP.
        let channel = [0x40, 0x00, 0x00, 0x04, 0x21, 0x12, 0xA4, 0x42];
        assert_eq!(route_by_bytes(&channel), Route::Http);
        assert_eq!(route_by_bytes(&stun[..7]), Route::Http);
    }

    #[tokio::test]
    async fn the_sniffed_bytes_are_read_again() {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(b"GET /x HTTP/1.1\r\n").await.unwrap();
        drop(a);
        let mut b = b;
        let head = sniff(&mut b).await.unwrap();
        assert_eq!(head, b"GET /x H");
        let mut all = String::new();
        Prefixed::new(head, b)
            .read_to_string(&mut all)
            .await
            .unwrap();
        assert_eq!(all, "GET /x HTTP/1.1\r\n");
        // End of stream before eight bytes: what came is returned.
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(b"GE").await.unwrap();
        drop(a);
        assert_eq!(sniff(&mut b).await.unwrap(), b"GE");
    }
}
