//! The `boltd` binary: flags → configuration → logger → server, until SIGINT or SIGTERM.

#![deny(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use slog::{crit, info, warn};
use tokio::signal::unix::{signal, Signal, SignalKind};

use boltd::tls::{ReloadTrigger, TlsHandle};

use boltd::cli::{Cli, Command};
use boltd::config::Config;
use boltd::engine::MemoryEngine;

fn main() -> ExitCode {
    boltd::alloc::configure();
    let cli = Cli::parse();
    if let Some(Command::Cert { command }) = &cli.command {
        return match boltd::cert::run(command) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("boltd cert: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(Command::Bench(_)) = &cli.command {
        let Some(Command::Bench(args)) = cli.command else {
            return ExitCode::FAILURE;
        };
        let runtime = match tokio::runtime::Runtime::new() {
            Ok(rt) => rt,
            Err(e) => {
                eprintln!("boltd bench: cannot start the runtime: {e}");
                return ExitCode::FAILURE;
            }
        };
        return match runtime.block_on(boltd::bench::run(*args)) {
            Ok(report) => {
                use std::io::Write;
                // A closed pipe (`| head`) is not worth a panic.
                let _ = std::io::stdout().write_all(report.as_bytes());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("boltd bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let loaded = match Config::load(cli.flag_file().as_ref(), cli.config.as_deref(), cli.flags()) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("boltd: {e}");
            return ExitCode::from(2);
        }
    };
    let config = loaded.config;
    // The log stream's hub: the logger copies every record it keeps to it, and the monitoring
    // WebSocket (when --monitoring-port is set) streams from it.
    let logs = boltd::logging::LogHub::new();
    let (logger, guard) =
        match boltd::logging::init(config.log_level, config.log_file.as_deref(), &logs) {
            Ok(pair) => pair,
            Err(e) => {
                eprintln!("boltd: {e}");
                return ExitCode::from(2);
            }
        };
    for ignored in &loaded.ignored {
        warn!(logger, "Memgraph flags that boltd does not implement are ignored";
            "file" => %ignored.file.display(), "flags" => ignored.flags.join(", "));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.bolt_num_workers)
        .thread_name("boltd-worker")
        // A worker with nothing left to run wakes the WAL writer for the records its sessions
        // queued, so that they are synced together (see storage::doorbell).
        .on_thread_park(boltd::storage::doorbell::worker_parks)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("boltd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let timeout = (config.query_execution_timeout_sec > 0)
        .then(|| std::time::Duration::from_secs(config.query_execution_timeout_sec));
    let memory_limit = match config.memory_limit {
        0 => boltd::alloc::default_limit(),
        mib => Some(mib.saturating_mul(1 << 20)),
    };
    // Recovery runs before the port is bound: a client never sees a graph still being rebuilt.
    let engine =
        match MemoryEngine::open(timeout, memory_limit, config.durability(), logger.clone()) {
            Ok(engine) => Arc::new(engine),
            Err(e) => {
                crit!(logger, "cannot start: {}", e);
                eprintln!("boltd: {e}");
                return ExitCode::FAILURE;
            }
        };
    let code = runtime.block_on(async {
        // Signal handlers are in place before the port is bound (and "listening" is logged), so
        // a SIGTERM or SIGHUP sent as soon as the server is up is never lost.
        let signals = Signals::install(&logger);
        let server = match boltd::server::start(&config, engine.clone(), logger.clone(), logs).await
        {
            Ok(s) => s,
            Err(e) => {
                crit!(logger, "cannot start: {}", e);
                if config.log_file.is_some() {
                    eprintln!("boltd: {e}");
                }
                return ExitCode::FAILURE;
            }
        };
        let Signals { hup, term, int } = signals;
        if let Some(hup) = hup {
            tokio::spawn(reload_on_sighup(hup, server.tls().cloned(), logger.clone()));
        }
        wait_for_signal(term, int).await;
        info!(logger, "signal received; shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    });
    drop(runtime);
    // After the last connection: the exit snapshot (if asked for) and a synced, closed WAL.
    if let Err(e) = engine.close() {
        crit!(logger, "shutdown snapshot failed; the WAL still holds every commit"; "error" => %e);
    }
    drop(guard);
    code
}

/// The signal streams, registered at startup.
struct Signals {
    hup: Option<Signal>,
    term: Option<Signal>,
    int: Option<Signal>,
}

impl Signals {
    fn install(logger: &slog::Logger) -> Self {
        let hup = match signal(SignalKind::hangup()) {
            Ok(s) => Some(s),
            Err(e) => {
                warn!(logger, "cannot listen for SIGHUP; reload with RELOAD BOLT_SERVER TLS instead"; "error" => %e);
                None
            }
        };
        Signals {
            hup,
            term: signal(SignalKind::terminate()).ok(),
            int: signal(SignalKind::interrupt()).ok(),
        }
    }
}

/// SIGHUP performs the same reload as `RELOAD BOLT_SERVER TLS` (systemd's `ExecReload`, `kill -HUP`).
/// The TLS manager logs the outcome.
async fn reload_on_sighup(mut hup: Signal, tls: Option<TlsHandle>, logger: slog::Logger) {
    while hup.recv().await.is_some() {
        match &tls {
            Some(tls) => {
                let _ = tls.reload(ReloadTrigger::Signal).await;
            }
            None => warn!(
                logger,
                "SIGHUP received, but TLS is not configured: nothing to reload"
            ),
        }
    }
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C, `systemctl stop`, `docker stop`).
async fn wait_for_signal(term: Option<Signal>, int: Option<Signal>) {
    async fn next(signal: Option<Signal>) {
        match signal {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        _ = next(term) => {}
        _ = next(int) => {}
    }
}
