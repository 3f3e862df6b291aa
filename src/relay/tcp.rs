//! Stream transport of the shell: TCP from its own listener, and TLS streams
//! handed over by the one TLS port ([`serve_tls`]: the HTTP layer terminates
//! TLS and routes STUN to here), both through the same generic
//! [`spawn_stream`] (any `AsyncRead + AsyncWrite`, tagged with
//! `Transport::Tcp` or `Transport::Tls` in its [`ClientAddr`]), so TURN over
//! TLS gets the same connection caps (per source, shared with TCP), the same
//! authentication deadline and the same timeouts. Frames go to the router
//! ([`Shell`]); what it routes to a stream client arrives in the queue this
//! connection registered with it.
//!
//! Per connection there is a reader (this task: framing, limits, core calls)
//! and a writer task draining a bounded queue, so a client that does not read
//! never blocks the reader of another client. RFC 8656 §3.1: when the
//! connection closes, the allocation is deleted (`client_disconnected`).
//! Limits: connection count (semaphore) and count per source (IPv4 address or
//! IPv6 /64), an authentication deadline (`auth_timeout`: the core says when
//! a client has authenticated), frame size, first-frame and idle
//! timeouts, and a bounded drain time for the writer when closing.

use std::io::{self, IoSlice};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::framing::StreamFramer;
use super::shell::{Shell, STREAM_QUEUE};
use super::{ClientAddr, Counters, Output};

/// Read chunk size. It lives as long as the connection, so it is much of a
/// connection's memory: 4 KiB (was 16, plus an 8 KiB write buffer now
/// replaced by vectored writes) cut the relay bench's peak RSS with 100 TCP
/// clients by ~1.5 MB. TURN frames are datagram-sized (~1.2 KB from
/// browsers), so a read still takes several frames at once; bigger frames
/// simply take more reads.
const READ_BUF: usize = 4 * 1024;
/// Most queued frames written with one vectored write.
const WRITE_BATCH: usize = 64;

/// Why a connection's read side ended.
#[derive(Debug, PartialEq, Eq)]
enum Close {
    Eof,
    Shutdown,
    Idle,
    /// No successfully authenticated request within `auth_timeout`.
    Unauthenticated,
    BadFrame,
    Io,
}

/// Accepts TCP connections until shutdown (only a listener error ends it
/// early; per-connection accept errors are retried after a pause).
pub(super) async fn accept_loop(shell: &Shell, tcp: TcpListener) -> io::Result<()> {
    let shutdown = shell.inner.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            r = tcp.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                spawn_stream(shell, stream, ClientAddr::tcp(peer));
            }
            // EMFILE and friends: back off instead of spinning.
            Err(e) => {
                tracing::warn!(error = %e, "tcp accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves a TURN-over-TLS connection from `peer` whose handshake is done (the
/// caller may already have read its first bytes and put them back in front).
/// Closed at once when its source, or the relay, has no connection slot left.
pub fn serve_tls<S>(shell: &Shell, stream: S, peer: std::net::SocketAddr)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    spawn_stream(shell, stream, ClientAddr::tls(peer));
}

/// Serves `stream` on its own task if a connection slot is free (else closes
/// it).
pub(super) fn spawn_stream<S>(shell: &Shell, stream: S, client: ClientAddr)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let c = &shell.inner.counters;
    // Per source first, so one source's flood never takes a global slot.
    let Some(source) = shell.source_slot(client.addr.ip()) else {
        Counters::bump(&c.stream_source_rejected);
        Counters::bump(&c.stream_rejected);
        return; // dropping `stream` closes it
    };
    let Ok(permit) = shell.inner.conn_slots.clone().try_acquire_owned() else {
        Counters::bump(&c.stream_rejected);
        return;
    };
    Counters::bump(&c.stream_accepted);
    let owned = shell.clone();
    shell.inner.tracker.spawn(async move {
        serve_stream(&owned, stream, client).await;
        drop((permit, source));
    });
}

/// Serves one stream connection to completion: registers its writer queue,
/// reads frames into the core, and on close tells the core and lets the
/// writer flush (bounded by `drain_timeout`).
async fn serve_stream<S>(shell: &Shell, stream: S, client: ClientAddr)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let c = &shell.inner.counters;
    c.stream_current
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (rd, wr) = tokio::io::split(stream);
    let (tx, rx) = mpsc::channel(STREAM_QUEUE);
    shell.streams().insert(client, tx.clone());
    let mut writer = tokio::spawn(write_loop(wr, rx));
    let why = read_loop(shell, rd, client, tx).await;
    tracing::debug!(client = %client.addr, ?why, "stream closed");
    match why {
        Close::Idle => Counters::bump(&c.stream_idle_closed),
        Close::Unauthenticated => Counters::bump(&c.stream_unauth_closed),
        Close::BadFrame => Counters::bump(&c.stream_frame_errors),
        _ => {}
    }
    shell.streams().remove(&client); // last sender gone: writer drains and ends
    shell.core().client_disconnected(client);
    let drain = shell.inner.opts.drain_timeout;
    if tokio::time::timeout(drain, &mut writer).await.is_err() {
        writer.abort();
    }
    c.stream_current
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
}

/// Reads and frames until EOF, error, timeout, missed authentication
/// deadline, bad frame or shutdown.
async fn read_loop<R>(
    shell: &Shell,
    mut rd: R,
    client: ClientAddr,
    own: mpsc::Sender<Bytes>,
) -> Close
where
    R: AsyncRead + Unpin,
{
    let opts = &shell.inner.opts;
    let shutdown = shell.inner.shutdown.clone();
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; READ_BUF];
    let mut framed_any = false;
    let mut auth = AuthDeadline::new(opts.auth_timeout);
    loop {
        let limit = if framed_any {
            opts.idle_timeout
        } else {
            opts.first_frame_timeout
        };
        let (limit, why) = auth.limit(limit, framed_any);
        let read = tokio::select! {
            _ = shutdown.cancelled() => return Close::Shutdown,
            r = tokio::time::timeout(limit, rd.read(&mut buf)) => r,
        };
        let n = match read {
            Err(_) => return why,
            Ok(Ok(0)) => return Close::Eof,
            Ok(Ok(n)) => n,
            Ok(Err(_)) => return Close::Io,
        };
        framer.push(&buf[..n]);
        while let Ok(Some(frame)) = framer.next_frame() {
            if frame.len() > opts.max_frame {
                return Close::BadFrame;
            }
            framed_any = true;
            if !stream_frame(shell, &frame, client, &own).await {
                return Close::Io;
            }
        }
        if !auth.passed(shell, client) {
            return Close::Unauthenticated;
        }
        // Either unframeable bytes, or a partial frame already bigger than
        // allowed: nothing sensible can follow.
        if framer.next_frame().is_err() || framer.buffered() > opts.max_frame {
            return Close::BadFrame;
        }
        // Nothing partial left: give the framer's buffer back, so an idle or
        // between-reads connection holds none (its capacity grows to 2 x
        // READ_BUF; releasing it cut peak RSS with 100 uclient connections
        // from 8.7 to 8.4 MB). A new one costs one allocation on the next read.
        if framer.buffered() == 0 {
            framer = StreamFramer::new();
        }
    }
}

/// The authentication deadline of one connection: until the core says the
/// client has authenticated, reads wait no longer than the deadline, and a
/// connection that keeps sending unauthenticated frames past it is closed
/// too.
struct AuthDeadline {
    /// `None` once the client has authenticated.
    at: Option<tokio::time::Instant>,
}

impl AuthDeadline {
    fn new(timeout: Duration) -> Self {
        Self {
            at: Some(tokio::time::Instant::now() + timeout),
        }
    }

    /// The read timeout (`limit`, shortened to the deadline) and what to
    /// report when it runs out: silence before any frame stays `Idle` (the
    /// first-frame timeout), otherwise the missed deadline.
    fn limit(&self, limit: Duration, framed_any: bool) -> (Duration, Close) {
        let Some(at) = self.at else {
            return (limit, Close::Idle);
        };
        let left = at.saturating_duration_since(tokio::time::Instant::now());
        if left < limit && framed_any {
            (left, Close::Unauthenticated)
        } else {
            (limit.min(left), Close::Idle)
        }
    }

    /// After a read: false when the client is still unauthenticated and the
    /// deadline has passed. Asks the core only until it says yes.
    fn passed(&mut self, shell: &Shell, client: ClientAddr) -> bool {
        let Some(at) = self.at else { return true };
        if shell.is_authenticated(client) {
            self.at = None;
            return true;
        }
        tokio::time::Instant::now() < at
    }
}

/// One frame from a stream client. Replies to this connection wait for queue
/// room (back-pressure on this client only); anything else is routed.
/// Returns false when the writer is gone.
async fn stream_frame(
    shell: &Shell,
    frame: &[u8],
    client: ClientAddr,
    own: &mpsc::Sender<Bytes>,
) -> bool {
    match shell.feed(frame, client) {
        Some(Output::Reply { to, bytes }) if to == client => {
            own.send(Bytes::from(bytes)).await.is_ok()
        }
        Some(out) => {
            shell.route(out);
            true
        }
        None => true,
    }
}

/// Writes queued frames until every sender is dropped or a write fails.
/// Frames already queued go out together in one vectored write (one
/// syscall for a burst instead of one per frame, and no copy into a
/// per-connection buffer that would live as long as the connection).
async fn write_loop<W>(mut wr: W, mut rx: mpsc::Receiver<Bytes>)
where
    W: AsyncWrite + Unpin,
{
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        if write_batch(&mut wr, &mut batch).await.is_err() || wr.flush().await.is_err() {
            return;
        }
    }
    let _ = wr.shutdown().await;
}

/// Writes every frame of `batch` (emptied on success).
async fn write_batch<W>(wr: &mut W, batch: &mut Vec<Bytes>) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let mut first = 0;
    while first < batch.len() {
        let mut slices = [IoSlice::new(&[]); WRITE_BATCH];
        let pending = &batch[first..];
        for (slot, frame) in slices.iter_mut().zip(pending) {
            *slot = IoSlice::new(frame);
        }
        let mut written = wr
            .write_vectored(&slices[..pending.len().min(WRITE_BATCH)])
            .await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        // Skip whole frames written, then the written part of the next.
        while first < batch.len() && written >= batch[first].len() {
            written -= batch[first].len();
            first += 1;
        }
        if written > 0 {
            batch[first].advance(written);
        }
    }
    batch.clear();
    Ok(())
}
