//! Thin entry point: parse, validate (or `--print-config`), bind, run until SIGINT/SIGTERM.

use std::process::ExitCode;

use clap::Parser;
use homedrop::config::{Args, Config};

fn main() -> ExitCode {
    let args = Args::parse();
    let print_config = args.print_config;
    let config = match Config::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("homedrop: {e}");
            return ExitCode::from(2);
        }
    };
    if print_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    init_logging(&config.log);
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("homedrop: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("homedrop: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr and to the in-memory ring of recent lines, filtered by `--log`: a level,
/// or `target=level` pairs (tracing's `Targets`, not `EnvFilter`: the same syntax without
/// span and field filters, and without the regex engine EnvFilter links, ~0.3 MB of the
/// static binary).
fn init_logging(log: &str) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    // Validated by the config already; a level is the fallback all the same.
    let filter: tracing_subscriber::filter::Targets = log.parse().unwrap_or_else(|_| {
        tracing_subscriber::filter::Targets::new().with_default(tracing::Level::INFO)
    });
    // Plain text unless a person is watching: journald stores stderr as is.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    // The same lines, kept in memory for the household's diagnostics (`GET /api/logs`).
    tracing_subscriber::registry()
        .with(fmt)
        .with(homedrop::logring::layer())
        .with(filter)
        .init();
}

async fn serve(config: Config) -> anyhow::Result<()> {
    use anyhow::Context;
    // Handlers first: a SIGTERM that comes right after READY=1 must drain, not kill.
    let shutdown = shutdown_signal().context("cannot watch SIGTERM/SIGINT")?;
    let http = tokio::net::TcpListener::bind(config.http)
        .await
        .with_context(|| format!("cannot listen on {} (--http)", config.http))?;
    homedrop::app::run(config, http, shutdown).await
}

/// Registers the SIGTERM and SIGINT handlers now; the future resolves on either.
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}
