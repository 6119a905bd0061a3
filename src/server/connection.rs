//! One Bolt connection: the TLS handshake when TLS is configured, the Bolt handshake, then a
//! session until the client leaves or the server shuts down.
//!
//! With TLS configured, every connection is TLS from the first byte: there is no plaintext
//! fallback. A connection's errors are logged with its id and peer address (the logger carries
//! both) and end that connection only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use slog::{debug, error, info, o, Logger};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_openssl::SslStream;

use crate::bolt::handshake::{self, HandshakeError};
use crate::bolt::session::{Session, SessionContext};
use crate::metrics::{Metrics, OpenConnection};
use crate::shutdown::Shutdown;
use crate::tls::{AcceptError, Handshakes};

/// Shared by every connection task.
pub(super) struct Handler {
    pub(super) session: Arc<SessionContext>,
    pub(super) metrics: Arc<Metrics>,
    /// One permit per open connection (`--bolt-max-connections`); the listener takes it before
    /// any work and the connection task gives it back when it ends.
    pub(super) slots: Arc<Semaphore>,
    /// Present with TLS: every connection then handshakes through it (see `tls/accept.rs`).
    pub(super) handshakes: Option<Handshakes>,
    /// `--bolt-handshake-timeout`.
    pub(super) handshake_timeout: Duration,
    /// `--bolt-max-version`.
    pub(super) newest_bolt: handshake::Version,
}

impl Handler {
    pub(super) async fn serve(
        &self,
        socket: TcpStream,
        peer: SocketAddr,
        connection_id: String,
        shutdown: Shutdown,
        logger: Logger,
    ) {
        let _open = OpenConnection::new(Arc::clone(&self.metrics));
        // Small replies must not wait for the peer's delayed ACK (40 ms per round trip).
        let _ = socket.set_nodelay(true);
        // The address this client reached us at, which ROUTE answers name (see session.rs).
        let local = socket.local_addr().unwrap_or(peer);
        match &self.handshakes {
            None => {
                self.speak_bolt(socket, peer, local, connection_id, shutdown, logger)
                    .await
            }
            Some(handshakes) => {
                // The connection's logger gains the fingerprint of the certificate it was served.
                let Some((stream, logger)) = tls_handshake(handshakes, socket, logger).await else {
                    return;
                };
                self.speak_bolt(stream, peer, local, connection_id, shutdown, logger)
                    .await
            }
        }
    }

    async fn speak_bolt<S>(
        &self,
        mut stream: S,
        peer: SocketAddr,
        local: SocketAddr,
        connection_id: String,
        shutdown: Shutdown,
        logger: Logger,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let version = match tokio::time::timeout(
            self.handshake_timeout,
            handshake::negotiate(&mut stream, self.newest_bolt),
        )
        .await
        {
            Err(_) => {
                self.metrics.limit_hit("bolt_handshake_timeout");
                info!(logger, "Bolt handshake timed out; closing";
                        "timeout_s" => self.handshake_timeout.as_secs_f64());
                return;
            }
            Ok(Err(HandshakeError::BadMagic(bytes))) => {
                let hint = if bytes.starts_with("16 03") {
                    " (this looks like a TLS ClientHello: the server runs without TLS, connect with sslmode=DISABLE or bolt://)"
                } else {
                    ""
                };
                info!(logger, "not a Bolt client; closing{}", hint; "first_bytes" => bytes);
                return;
            }
            Ok(Err(e)) => {
                info!(logger, "Bolt handshake failed; closing"; "error" => %e);
                return;
            }
            Ok(Ok(v)) => v,
        };
        debug!(logger, "Bolt version negotiated"; "bolt_version" => %version);
        Session::new(
            stream,
            version,
            Arc::clone(&self.session),
            connection_id,
            peer,
            local,
            logger,
        )
        .run(shutdown)
        .await;
    }
}

/// The TLS handshake as the Bolt port tells it: failures are logged with the advice that fits a
/// Bolt client, and a client certificate's subject joins every later line.
async fn tls_handshake(
    handshakes: &Handshakes,
    socket: TcpStream,
    logger: Logger,
) -> Option<(SslStream<TcpStream>, Logger)> {
    let done = crate::tls::accept(handshakes, socket, &logger).await;
    let logger = done.logger;
    let stream = match done.outcome {
        Ok(stream) => stream,
        Err(AcceptError::NoAcceptor(e)) => {
            debug!(logger, "no TLS acceptor"; "error" => %e);
            return None;
        }
        Err(AcceptError::Session(e)) => {
            error!(logger, "cannot create a TLS session"; "error" => %e);
            return None;
        }
        Err(AcceptError::PoolGone) => return None,
        Err(AcceptError::TimedOut(timeout)) => {
            info!(logger, "TLS handshake timed out; closing";
                "timeout_s" => timeout.as_secs_f64());
            return None;
        }
        Err(AcceptError::Failed(detail)) => {
            // The commonest cause by far is a client speaking plaintext Bolt to a TLS port.
            info!(logger, "TLS handshake failed; closing (this port only accepts TLS: clients need sslmode=REQUIRE, bolt+s:// or bolt+ssc://)";
                "error" => detail);
            return None;
        }
    };
    let ssl = stream.ssl();
    // With client authentication, who connected is worth keeping on every line.
    let logger = match ssl.peer_certificate() {
        Some(cert) => {
            let subject = crate::tls::acceptor::name_to_string(cert.subject_name());
            info!(logger, "client certificate accepted"; "client_subject" => &subject);
            logger.new(o!("client_subject" => subject))
        }
        None => logger,
    };
    debug!(logger, "TLS established";
        "tls_version" => ssl.version_str(),
        "cipher" => ssl.current_cipher().map(|c| c.name()).unwrap_or("?"),
        "resumed" => ssl.session_reused());
    Some((stream, logger))
}
