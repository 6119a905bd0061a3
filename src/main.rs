//! The `boltd` binary: flags → configuration → logger → server, until SIGINT or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use slog::{crit, info};

use boltd::config::{Cli, Config};
use boltd::engine::MemoryEngine;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("boltd: {e}");
            return ExitCode::from(2);
        }
    };
    let (logger, guard) = match boltd::logging::init(&config.log_level, &config.log_file) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("boltd: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(config.bolt_num_workers)
        .thread_name("boltd-worker")
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("boltd: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        let engine = Arc::new(MemoryEngine::new());
        let server = match boltd::server::start(&config, engine, logger.clone()).await {
            Ok(s) => s,
            Err(e) => {
                crit!(logger, "cannot start: {}", e);
                if !config.log_file.is_empty() {
                    eprintln!("boltd: {e}");
                }
                return ExitCode::FAILURE;
            }
        };
        wait_for_signal().await;
        info!(logger, "signal received; shutting down");
        server.shutdown().await;
        ExitCode::SUCCESS
    });
    drop(runtime);
    drop(guard);
    code
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C, `systemctl stop`, `docker stop`).
async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
