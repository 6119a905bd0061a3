//! The root slog logger.
//!
//! Records are formatted by slog-term and written by slog-async's background thread, so a slow
//! terminal or disk never stalls a connection task. The async drain buffers records; the returned
//! [`LogGuard`] must be kept alive for the life of the process and dropped last, which flushes
//! what is still queued.
//!
//! Every record that passes `--log-level` is also offered to the [`LogHub`] (see [`stream`]),
//! from which the monitoring WebSocket streams it; with nobody connected that costs nothing.

pub mod stream;

pub use stream::LogHub;

use std::fs::OpenOptions;
use std::path::Path;

use slog::{o, Drain, Level, Logger};

/// Keeps the async drain's worker alive; dropping it flushes pending records.
pub struct LogGuard {
    _guard: Option<slog_async::AsyncGuard>,
}

/// The lowest level logged (`--log-level`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLevel(pub Level);

impl LogLevel {
    /// Memgraph's name for the level, which [`parse_level`] accepts.
    pub fn name(self) -> &'static str {
        match self.0 {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
        }
    }
}

/// A level equals its name (`LogLevel(Level::Warning) == "warning"`), case-insensitively.
impl PartialEq<&str> for LogLevel {
    fn eq(&self, other: &&str) -> bool {
        parse_level(other).is_ok_and(|level| level == self.0)
    }
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

/// Builds the root logger writing to `file` (appending) or, when there is none, to standard
/// error, and copying every record it keeps to `hub`.
pub fn init(
    level: LogLevel,
    file: Option<&Path>,
    hub: &LogHub,
) -> Result<(Logger, LogGuard), String> {
    let level = level.0;
    let (drain, guard) = if let Some(file) = file {
        let handle = OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .map_err(|e| format!("cannot open --log-file {}: {e}", file.display()))?;
        let decorator = slog_term::PlainSyncDecorator::new(handle);
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        slog_async::Async::new(drain)
            .chan_size(8192)
            .overflow_strategy(slog_async::OverflowStrategy::DropAndReport)
            .build_with_guard()
    } else {
        let decorator = slog_term::TermDecorator::new().stderr().build();
        let drain = slog_term::FullFormat::new(decorator).build().fuse();
        slog_async::Async::new(drain)
            .chan_size(8192)
            .overflow_strategy(slog_async::OverflowStrategy::DropAndReport)
            .build_with_guard()
    };
    let drain = slog::Duplicate::new(drain, stream::StreamDrain::new(hub.clone()))
        .filter_level(level)
        .fuse();
    let logger = Logger::root(drain, o!());
    Ok((
        logger,
        LogGuard {
            _guard: Some(guard),
        },
    ))
}

/// A logger whose records at `level` and above go only to `hub`, for tests and embedding that
/// want the log stream without a terminal.
pub fn to_hub(level: LogLevel, hub: &LogHub) -> Logger {
    let drain = stream::StreamDrain::new(hub.clone())
        .filter_level(level.0)
        .fuse();
    Logger::root(drain, o!())
}

/// A logger that discards everything, for tests and embedding.
pub fn discard() -> Logger {
    Logger::root(slog::Discard, o!())
}
