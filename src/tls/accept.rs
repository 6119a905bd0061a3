//! The one server-side TLS handshake, used by the Bolt listener and the metrics endpoint alike.
//!
//! Each handshake asks the `TlsManager` for the acceptor current at that moment (so a reload
//! applies from the next connection on, and the connection keeps its acceptor for life), runs
//! where it was accepted or, when its crypto is costly, on the handshake pool (`placement.rs`
//! decides, `pool.rs` runs), all under the one handshake deadline, and is counted when the
//! listener wants it counted. What to tell the operator about the outcome is the listener's
//! business: this module returns a typed outcome and never logs, because a Bolt port and an
//! HTTPS port give different advice about the same failure.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openssl::error::ErrorStack;
use openssl::ssl::{ErrorCode, Ssl};
use slog::{o, Logger};
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use super::pool::HandshakePool;
use super::{TlsError, TlsHandle};
use crate::metrics::{Metrics, ResultLabel};

/// What every handshake on one listener needs. Built once per listener at start-up.
pub struct Handshakes {
    /// Asked for the current acceptor at every handshake; never cached here, because the
    /// manager alone decides what is served.
    tls: TlsHandle,
    /// Where the CPU-heavy part runs, away from the Bolt workers. Shared by every listener of a
    /// server, hence the `Arc`.
    pool: Arc<HandshakePool>,
    /// `--bolt-tls-handshake-timeout`: a silent or very slow peer loses its connection.
    timeout: Duration,
    /// Where outcomes and durations are counted. `None` for listeners whose handshakes are not
    /// Bolt traffic (the metrics endpoint), so that the Bolt handshake counters stay what their
    /// help text says.
    metrics: Option<Arc<Metrics>>,
}

impl Handshakes {
    /// Handshakes through `tls`'s current acceptor, on `pool`, each within `timeout`; not counted.
    pub fn new(tls: TlsHandle, pool: Arc<HandshakePool>, timeout: Duration) -> Self {
        Handshakes {
            tls,
            pool,
            timeout,
            metrics: None,
        }
    }

    /// The same, with every outcome counted in `metrics` (`tls_handshakes`,
    /// `tls_handshake_duration_seconds`, and `limits_hit{limit="tls_handshake_timeout"}`).
    pub fn counted_in(self, metrics: Arc<Metrics>) -> Self {
        Handshakes {
            metrics: Some(metrics),
            ..self
        }
    }

    /// The handshake deadline, for log lines.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

/// Why a handshake produced no encrypted stream.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The manager is gone (the server is shutting down).
    #[error("no TLS acceptor: {0}")]
    NoAcceptor(TlsError),
    /// OpenSSL could not create the per-connection state (out of memory, in practice).
    #[error("cannot create a TLS session: {0}")]
    Session(ErrorStack),
    /// The handshake pool is shutting down; the connection is dropped without a word.
    #[error("the TLS handshake threads have stopped")]
    PoolGone,
    /// The peer did not finish within the deadline.
    #[error("TLS handshake timed out after {}s", .0.as_secs_f64())]
    TimedOut(Duration),
    /// The handshake failed; the text is OpenSSL's reason (or the I/O error).
    #[error("TLS handshake failed: {0}")]
    Failed(String),
}

/// The outcome of one handshake.
pub struct Handshake {
    /// The connection's logger; once the acceptor is known it carries `cert_fingerprint`, the
    /// certificate this connection was served, so every later line says which one it was.
    pub logger: Logger,
    /// The encrypted stream, ready for the protocol, or why there is none.
    pub outcome: Result<SslStream<TcpStream>, AcceptError>,
}

/// Takes the acceptor current at this moment and completes the handshake under the deadline.
/// The stream keeps a reference to that acceptor's context for the life of the connection, so
/// later reloads never affect it.
pub async fn accept(handshakes: &Handshakes, socket: TcpStream, logger: &Logger) -> Handshake {
    let loaded = match handshakes.tls.acceptor().await {
        Ok(a) => a,
        Err(e) => {
            return Handshake {
                logger: logger.clone(),
                outcome: Err(AcceptError::NoAcceptor(e)),
            }
        }
    };
    let logger = logger.new(o!("cert_fingerprint" => loaded.summary.sha256_fingerprint.clone()));
    let mut stream = match Ssl::new(&loaded.context).and_then(|ssl| SslStream::new(ssl, socket)) {
        Ok(s) => s,
        Err(e) => {
            return Handshake {
                logger,
                outcome: Err(AcceptError::Session(e)),
            }
        }
    };
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + handshakes.timeout;
    // Up to the ClientHello, and to the end when it asks for cheap crypto, the handshake runs
    // here; otherwise the ClientHello callback suspends it and it moves (see `tls/placement.rs`).
    let first = tokio::time::timeout_at(deadline, Pin::new(&mut stream).accept()).await;
    let (stream, outcome) = match first {
        Ok(Err(e)) if e.code() == ErrorCode::WANT_CLIENT_HELLO_CB => {
            if let Some(metrics) = &handshakes.metrics {
                metrics.tls_handshakes_offloaded.inc();
            }
            let job = async move {
                let outcome =
                    tokio::time::timeout_at(deadline, Pin::new(&mut stream).accept()).await;
                (stream, outcome)
            };
            let Some(done) = handshakes.pool.run(job).await else {
                return Handshake {
                    logger,
                    outcome: Err(AcceptError::PoolGone),
                };
            };
            done
        }
        first => (stream, first),
    };
    let timeout = handshakes.timeout;
    let outcome = match outcome {
        Ok(Ok(())) => Ok(stream),
        Ok(Err(e)) => {
            discard_unread(stream.get_ref());
            Err(AcceptError::Failed(
                e.ssl_error()
                    .map(super::acceptor::openssl_reason)
                    .unwrap_or_else(|| e.to_string()),
            ))
        }
        Err(_) => Err(AcceptError::TimedOut(timeout)),
    };
    if let Some(metrics) = &handshakes.metrics {
        count(metrics, &outcome, started.elapsed());
    }
    Handshake { logger, outcome }
}

/// At most this much of what a failed handshake left unread is read away before the close.
const DISCARD_LIMIT: usize = 64 << 10;

/// Reads and drops what the peer sent that the failed handshake did not read (a plaintext Bolt
/// client's whole handshake, say), as far as it has arrived. Closing a socket with unread bytes
/// makes the kernel answer with a reset instead of an orderly close, which clients report as
/// "connection reset" rather than as the closed port it is; how much OpenSSL reads before it
/// gives up differs between versions (3.0, reading ahead, takes what has arrived; 3.5 only a
/// record header). Never waits: bytes still on their way are not waited for.
fn discard_unread(socket: &TcpStream) {
    let mut buf = [0u8; 4096];
    let mut read = 0;
    while read < DISCARD_LIMIT {
        match socket.try_read(&mut buf) {
            Ok(n) if n > 0 => read += n,
            _ => break,
        }
    }
}

fn count(metrics: &Metrics, outcome: &Result<SslStream<TcpStream>, AcceptError>, took: Duration) {
    let result = match outcome {
        Ok(_) => "ok",
        Err(AcceptError::TimedOut(_)) => "timeout",
        Err(_) => "failed",
    };
    metrics
        .tls_handshakes
        .get_or_create(&ResultLabel { result })
        .inc();
    metrics.tls_handshake_seconds.observe(took.as_secs_f64());
    if matches!(outcome, Err(AcceptError::TimedOut(_))) {
        metrics.limit_hit("tls_handshake_timeout");
    }
}
