//! A man in the middle of the signaling, for the verification tests: a TCP proxy (run inside
//! a test namespace) between one browser and homedrop that passes HTTP through and, inside
//! the WebSocket, rewrites every `a=fingerprint:sha-256` that homedrop relays to the browser
//! (one hex digit changed, so frame lengths stay). It is what a compromised homedrop or
//! anyone on a plain-http path could do; the counter says how many it rewrote.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::netns::spawn_in_netns;

const MARK: &[u8] = b"a=fingerprint:sha-256 ";

pub struct Mitm {
    pub rewrites: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Mitm {
    /// Listens on `listen` in namespace `ns`, forwarding to `upstream`.
    pub fn start(ns: &str, listen: SocketAddr, upstream: SocketAddr) -> Mitm {
        let rewrites = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s) = (rewrites.clone(), stop.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        spawn_in_netns(ns, move || {
            let listener = TcpListener::bind(listen).expect("bind the proxy");
            listener.set_nonblocking(true).unwrap();
            ready_tx.send(()).unwrap();
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let r = r.clone();
                        // Threads inherit this thread's namespace: the upstream is reachable.
                        std::thread::spawn(move || {
                            let _ = proxy(client, upstream, &r);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        ready_rx.recv().expect("proxy started");
        Mitm { rewrites, stop }
    }

    pub fn rewritten(&self) -> usize {
        self.rewrites.load(Ordering::Relaxed)
    }
}

impl Drop for Mitm {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Bytes up to and including the blank line that ends an HTTP head.
fn head(from: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut b = [0u8; 1];
    while !out.ends_with(b"\r\n\r\n") {
        from.read_exact(&mut b)?;
        out.push(b[0]);
    }
    Ok(out)
}

fn proxy(
    mut client: TcpStream,
    upstream: SocketAddr,
    rewrites: &AtomicUsize,
) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    let mut server = TcpStream::connect(upstream)?;
    let request = head(&mut client)?;
    server.write_all(&request)?;
    let upgrade = String::from_utf8_lossy(&request)
        .to_ascii_lowercase()
        .contains("upgrade: websocket");
    let (mut c2, mut s2) = (client.try_clone()?, server.try_clone()?);
    std::thread::spawn(move || std::io::copy(&mut c2, &mut s2));
    if !upgrade {
        std::io::copy(&mut server, &mut client)?;
        return Ok(());
    }
    client.write_all(&head(&mut server)?)?;
    loop {
        let (header, mut payload) = frame(&mut server)?;
        let opcode = header[0] & 0x0f;
        if opcode <= 2 {
            rewrite(&mut payload, rewrites);
        }
        client.write_all(&header)?;
        client.write_all(&payload)?;
    }
}

/// One WebSocket frame from the server (unmasked): (header bytes, payload).
fn frame(from: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut h = [0u8; 2];
    from.read_exact(&mut h)?;
    let mut header = h.to_vec();
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            from.read_exact(&mut b)?;
            header.extend_from_slice(&b);
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            from.read_exact(&mut b)?;
            header.extend_from_slice(&b);
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    if h[1] & 0x80 != 0 {
        let mut m = [0u8; 4];
        from.read_exact(&mut m)?;
        header.extend_from_slice(&m);
    }
    let mut payload = vec![0u8; len];
    from.read_exact(&mut payload)?;
    Ok((header, payload))
}

/// Changes the first hex digit after every fingerprint mark.
fn rewrite(payload: &mut [u8], rewrites: &AtomicUsize) {
    let mut i = 0;
    while let Some(at) = payload[i..].windows(MARK.len()).position(|w| w == MARK) {
        let p = i + at + MARK.len();
        if p < payload.len() && payload[p].is_ascii_hexdigit() {
            payload[p] = if payload[p] == b'0' { b'1' } else { b'0' };
            rewrites.fetch_add(1, Ordering::Relaxed);
        }
        i = p;
    }
}
