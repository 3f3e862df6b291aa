//! [`Relay`], the assembly: bind sockets, build the core and the router
//! ([`Shell`]), start the transports, drain on shutdown. The one-call way to
//! get a TURN server (what homedrop's app and the interop tests use).

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::shell::{Shell, ShellConfig, ShellStats};
use super::udp::bind_udp;
use super::{tcp, udp, Config, Server, Stats};

/// Attempts at giving TCP the same ephemeral port as UDP.
const SAME_PORT_TRIES: usize = 16;

/// A bound, not yet running relay.
pub struct Relay {
    shell: Shell,
    tcp: TcpListener,
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    shutdown: CancellationToken,
}

impl Relay {
    /// Binds UDP on `udp_addr` and TCP on `tcp_addr` with default shell
    /// settings and a random core seed. When both are the same address with
    /// port 0, TCP gets the port UDP was given (TURN clients use one port
    /// for both; `turnutils_uclient -t` does).
    pub async fn bind(
        config: Config,
        udp_addr: SocketAddr,
        tcp_addr: SocketAddr,
    ) -> io::Result<Relay> {
        Self::bind_with(config, ShellConfig::default(), udp_addr, tcp_addr).await
    }

    /// [`Relay::bind`] with explicit shell settings.
    pub async fn bind_with(
        config: Config,
        opts: ShellConfig,
        udp_addr: SocketAddr,
        tcp_addr: SocketAddr,
    ) -> io::Result<Relay> {
        let (udp, tcp) = bind_pair(udp_addr, tcp_addr, opts.udp_sockets).await?;
        let (udp_addr, tcp_addr) = (udp[0].local_addr()?, tcp.local_addr()?);
        let core = Arc::new(Mutex::new(Server::new(config, seed())));
        let shutdown = CancellationToken::new();
        let shell = Shell::new(core, udp, opts, shutdown.clone());
        Ok(Relay {
            shell,
            tcp,
            udp_addr,
            tcp_addr,
            shutdown,
        })
    }

    /// The bound (UDP, TCP) addresses.
    pub fn local_addrs(&self) -> (SocketAddr, SocketAddr) {
        (self.udp_addr, self.tcp_addr)
    }

    /// A handle for stats and for adding TLS connections while running.
    pub fn shell(&self) -> Shell {
        self.shell.clone()
    }

    /// The core's counters.
    pub fn stats(&self) -> Stats {
        self.shell.stats()
    }

    /// The shell's counters.
    pub fn shell_stats(&self) -> ShellStats {
        self.shell.shell_stats()
    }

    /// Serves until `shutdown` is cancelled, then drains every task.
    pub async fn run(self, shutdown: CancellationToken) -> io::Result<()> {
        let Relay {
            shell,
            tcp,
            shutdown: own,
            ..
        } = self;
        // Link the caller's token to the shell's own one.
        let link = tokio::spawn(async move {
            shutdown.cancelled().await;
            own.cancel();
        });
        let result = serve(&shell, tcp).await;
        link.abort();
        result
    }
}

/// Runs the UDP threads, the TCP accept loop and the core's timer until the
/// shell's token is cancelled, then waits for every connection task and
/// thread.
async fn serve(shell: &Shell, tcp: TcpListener) -> io::Result<()> {
    let inner = &shell.inner;
    let started = udp::start(shell);
    inner.tracker.spawn(shell.clone().timer_loop());
    let accept = match started {
        Ok(()) => tcp::accept_loop(shell, tcp).await,
        Err(e) => Err(e),
    };
    inner.shutdown.cancel(); // a failed listener stops everything
    inner.tracker.close();
    inner.tracker.wait().await;
    accept
}

/// `udp_sockets` UDP sockets on `udp_addr` (see `udp::bind_udp`) and the
/// TCP listener.
async fn bind_pair(
    udp_addr: SocketAddr,
    tcp_addr: SocketAddr,
    udp_sockets: usize,
) -> io::Result<(Vec<UdpSocket>, TcpListener)> {
    let same_ephemeral = udp_addr == tcp_addr && udp_addr.port() == 0;
    if same_ephemeral {
        for _ in 0..SAME_PORT_TRIES {
            let udp = bind_udp(udp_addr, udp_sockets)?;
            let mut want = udp_addr;
            want.set_port(udp[0].local_addr()?.port());
            if let Ok(tcp) = TcpListener::bind(want).await {
                return Ok((udp, tcp));
            }
        }
    }
    Ok((
        bind_udp(udp_addr, udp_sockets)?,
        TcpListener::bind(tcp_addr).await?,
    ))
}

/// A core seed from the OS-seeded hasher keys (no extra dependency).
fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}
