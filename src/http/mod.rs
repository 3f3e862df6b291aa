//! The HTTP server: hyper 1 over TCP, one task per connection.
//!
//! Slow or idle clients cannot exhaust it: headers must arrive within
//! [`HEADER_READ_TIMEOUT`], and at most `max_connections` connections are served at once
//! (more are closed straight away with a 503).

pub mod assets;
pub mod error;
pub mod routes;

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::app::Shared;

/// Time a client has to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Accept connections until shutdown; each is served in the shared task tracker.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let limit = Arc::new(Semaphore::new(shared.config.max_connections));
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
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            tracing::warn!("connection limit reached, refusing {peer}");
            shared.tasks.spawn(refuse_busy(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let shared2 = shared.clone();
        let shutdown = shared.shutdown.clone();
        shared.tasks.spawn(async move {
            let svc = service_fn(move |req| {
                let shared = shared2.clone();
                async move { Ok::<_, std::convert::Infallible>(routes::handle(shared, req, peer).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .max_buf_size(64 * 1024)
                .serve_connection(TokioIo::new(stream), svc)
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
            drop(permit);
        });
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
