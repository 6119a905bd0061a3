//! The Bolt accept loop: the connection limit, accept errors, and shutdown with a drain.
//!
//! It only accepts: each connection gets its own task (see `connection.rs`), so one slow or
//! hostile client never holds up another, and the loop itself never dies because of one client.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use slog::{error, info, o, warn, Logger};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::connection::Handler;
use crate::shutdown::Shutdown;

/// At most one "connection limit reached" warning per this interval.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// How long shutdown waits for open connections to finish their current request.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Accepts until shutdown, then waits for connections to drain.
pub(super) async fn run(
    listener: TcpListener,
    handler: Arc<Handler>,
    mut shutdown: Shutdown,
    logger: Logger,
) {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    // Each connection task holds a clone of `done_tx`; when all are dropped, `done_rx` returns
    // None, which is how shutdown knows every connection has finished.
    let (done_tx, mut done_rx) = mpsc::channel::<()>(1);
    let mut backoff = Duration::from_millis(5);
    let mut refused: u64 = 0;
    let mut last_refusal_log: Option<std::time::Instant> = None;
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.recv() => break,
        };
        let (socket, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::from_millis(5);
                pair
            }
            Err(e) => {
                // Running out of file descriptors must not kill the listener: back off and retry.
                error!(logger, "accept failed; retrying"; "error" => %e, "retry_in_ms" => backoff.as_millis() as u64);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&handler.slots).try_acquire_owned() else {
            // Over the limit: close at once, before any TLS or Bolt work, so a flood costs little.
            // The warning is rate-limited so that the flood does not also flood the log.
            handler.metrics.limit_hit("max_connections");
            refused += 1;
            if last_refusal_log
                .is_none_or(|t: std::time::Instant| t.elapsed() >= REFUSAL_LOG_INTERVAL)
            {
                warn!(logger, "connection limit reached; refusing new connections (--bolt-max-connections)";
                    "peer" => %peer, "refused_since_last_warning" => refused);
                last_refusal_log = Some(std::time::Instant::now());
                refused = 0;
            }
            drop(socket);
            continue;
        };
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let connection_id = format!("bolt-{id}");
        let log = logger.new(o!("conn" => connection_id.clone(), "peer" => peer.to_string()));
        let handler = Arc::clone(&handler);
        let shutdown = shutdown.clone();
        let done = done_tx.clone();
        tokio::spawn(async move {
            handler
                .serve(socket, peer, connection_id, shutdown, log)
                .await;
            drop(slot);
            drop(done);
        });
    }
    drop(done_tx);
    info!(logger, "shutting down: waiting for connections to close");
    if tokio::time::timeout(DRAIN_TIMEOUT, done_rx.recv())
        .await
        .is_err()
    {
        warn!(logger, "some connections did not close in time");
    }
}
