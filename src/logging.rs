//! The root slog logger.
//!
//! Records are formatted by slog-term and written by slog-async's background thread, so a slow
//! terminal or disk never stalls a connection task. The async drain buffers records; the returned
//! [`LogGuard`] must be kept alive for the life of the process and dropped last, which flushes
//! what is still queued.

use std::fs::OpenOptions;

use slog::{o, Drain, Level, Logger};

/// Keeps the async drain's worker alive; dropping it flushes pending records.
pub struct LogGuard {
    _guard: Option<slog_async::AsyncGuard>,
}

/// Parses Memgraph's level names (and slog's), case-insensitively.
pub fn parse_level(name: &str) -> Result<Level, String> {
    match name.to_ascii_lowercase().as_str() {
        "trace" => Ok(Level::Trace),
        "debug" => Ok(Level::Debug),
        "info" => Ok(Level::Info),
        "warning" | "warn" => Ok(Level::Warning),
        "error" => Ok(Level::Error),
        "critical" | "crit" => Ok(Level::Critical),
        other => Err(format!(
            "--log-level must be one of trace, debug, info, warning, error, critical; got {other:?}"
        )),
    }
}

/// Builds the root logger writing to `file` (appending) or, when empty, to standard error.
pub fn init(level: &str, file: &str) -> Result<(Logger, LogGuard), String> {
    let level = parse_level(level)?;
    let (drain, guard) = if file.is_empty() {
        let decorator = slog_term::TermDecorator::new().stderr().build();
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        slog_async::Async::new(drain)
            .chan_size(8192)
            .overflow_strategy(slog_async::OverflowStrategy::DropAndReport)
            .build_with_guard()
    } else {
        let handle = OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .map_err(|e| format!("cannot open --log-file {file}: {e}"))?;
        let decorator = slog_term::PlainSyncDecorator::new(handle);
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        slog_async::Async::new(drain)
            .chan_size(8192)
            .overflow_strategy(slog_async::OverflowStrategy::DropAndReport)
            .build_with_guard()
    };
    let drain = drain.filter_level(level).fuse();
    let logger = Logger::root(drain, o!());
    Ok((
        logger,
        LogGuard {
            _guard: Some(guard),
        },
    ))
}

/// A logger that discards everything, for tests and embedding.
pub fn discard() -> Logger {
    Logger::root(slog::Discard, o!())
}
