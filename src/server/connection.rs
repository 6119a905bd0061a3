//! One Bolt connection: the TLS handshake when TLS is configured, a WebSocket upgrade when the
//! client asks for one (browsers: Bolt over `ws://`, or `wss://` inside the TLS), the Bolt
//! handshake, then a session until the client leaves or the server shuts down.
//!
//! With TLS configured, every connection is TLS from the first byte: there is no plaintext
//! fallback, and a plaintext `ws://` upgrade fails the TLS handshake as plaintext Bolt does. A connection's errors are logged with its id and peer address (the logger carries
//! both) and end that connection only.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use slog::{debug, error, info, o, Logger};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};

use crate::bolt::client::Stream;
use crate::bolt::handshake::{self, HandshakeError};
use crate::bolt::session::{MessageLimit, Session, SessionContext};
use crate::bolt::websocket::{self, UpgradeError};
use crate::metrics::{Metrics, OpenConnection};
use crate::shutdown::Shutdown;
use crate::tls::{AcceptError, Handshakes, TlsStream};

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
        let conn = Conn {
            peer,
            // The address this client reached us at, which ROUTE answers name (see session.rs).
            local: socket.local_addr().unwrap_or(peer),
            connection_id,
            shutdown,
        };
        match &self.handshakes {
            None => self.speak_bolt(socket, conn, logger).await,
            Some(handshakes) => {
                // The connection's logger gains the fingerprint of the certificate it was served.
                let Some((stream, logger)) = tls_handshake(handshakes, socket, logger).await else {
                    return;
                };
                self.speak_bolt(stream, conn, logger).await
            }
        }
    }

    /// Bolt on `stream`, directly or, when the first bytes are `GET `, after a WebSocket upgrade
    /// (`ws://`, or `wss://` when `stream` is TLS). `--bolt-handshake-timeout` covers the
    /// upgrade and the Bolt handshake together.
    async fn speak_bolt<S>(&self, mut stream: S, conn: Conn, logger: Logger)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let deadline = Instant::now() + self.handshake_timeout;
        let preamble = match timeout_at(deadline, handshake::read_preamble(&mut stream)).await {
            Err(_) => return self.handshake_timed_out(&logger),
            Ok(Err(HandshakeError::ClosedSilently)) => {
                debug!(logger, "closed before the Bolt handshake");
                return;
            }
            Ok(Err(e)) => {
                info!(logger, "Bolt handshake failed; closing"; "error" => %e);
                return;
            }
            Ok(Ok(preamble)) => preamble,
        };
        if !websocket::starts_upgrade(&preamble) {
            return self
                .negotiate_and_serve(stream, Some(preamble), deadline, None, conn, logger)
                .await;
        }
        let limits = self.session.limits;
        let limit = MessageLimit::new(limits.max_message_unauthenticated);
        let boxed: Box<dyn Stream> = Box::new(stream);
        let upgrade = websocket::accept(
            boxed,
            preamble,
            limit.clone(),
            limits.max_message,
            logger.clone(),
        );
        let ws = match timeout_at(deadline, upgrade).await {
            Ok(Ok(ws)) => ws.going_away_on(conn.shutdown.clone()),
            Ok(Err(e)) => return self.upgrade_failed(Some(e), &logger),
            Err(_) => return self.upgrade_failed(None, &logger),
        };
        self.metrics.websocket_upgrade(true);
        debug!(logger, "connection upgraded to WebSocket");
        self.negotiate_and_serve(ws, None, deadline, Some(limit), conn, logger)
            .await
    }

    /// The Bolt handshake (its first four bytes already read when `preamble` is given), then the
    /// session. `limit`, for a transport that needs it, is kept at the session's message limit.
    async fn negotiate_and_serve<S>(
        &self,
        mut stream: S,
        preamble: Option<[u8; 4]>,
        deadline: Instant,
        limit: Option<MessageLimit>,
        conn: Conn,
        logger: Logger,
    ) where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let negotiation = async {
            match preamble {
                Some(p) => handshake::negotiate_after(&mut stream, p, self.newest_bolt).await,
                None => handshake::negotiate(&mut stream, self.newest_bolt).await,
            }
        };
        let version = match timeout_at(deadline, negotiation).await {
            Err(_) => {
                self.handshake_timed_out(&logger);
                None
            }
            Ok(Err(HandshakeError::BadMagic(bytes))) => {
                let hint = if bytes.starts_with("16 03") {
                    " (this looks like a TLS ClientHello: the server runs without TLS, connect with sslmode=DISABLE, bolt:// or ws://)"
                } else {
                    ""
                };
                info!(logger, "not a Bolt client; closing{}", hint; "first_bytes" => bytes);
                None
            }
            Ok(Err(e)) => {
                info!(logger, "Bolt handshake failed; closing"; "error" => %e);
                None
            }
            Ok(Ok(v)) => Some(v),
        };
        let Some(version) = version else {
            // A WebSocket is closed with its close handshake (answering the client's close
            // frame, if that is what ended the Bolt handshake), not by dropping the socket.
            if limit.is_some() {
                let _ = stream.shutdown().await;
            }
            return;
        };
        debug!(logger, "Bolt version negotiated"; "bolt_version" => %version);
        let session = Session::new(
            stream,
            version,
            Arc::clone(&self.session),
            conn.connection_id,
            conn.peer,
            conn.local,
            logger,
        );
        let session = match limit {
            Some(limit) => session.publishing_limit(limit),
            None => session,
        };
        session.run(conn.shutdown).await;
    }

    /// Counts and logs a failed upgrade; `None` is a timeout.
    fn upgrade_failed(&self, error: Option<UpgradeError>, logger: &Logger) {
        self.metrics.websocket_upgrade(false);
        match error {
            None => {
                self.metrics.limit_hit("bolt_handshake_timeout");
                info!(logger, "WebSocket upgrade timed out; closing (--bolt-handshake-timeout)";
                    "timeout_s" => self.handshake_timeout.as_secs_f64());
            }
            Some(UpgradeError::TooLarge) => {
                self.metrics.limit_hit("websocket_upgrade_size");
                info!(logger, "WebSocket upgrade request too large; closing";
                    "limit_bytes" => websocket::MAX_UPGRADE_REQUEST);
            }
            Some(e) => {
                info!(logger, "not a Bolt client nor a WebSocket upgrade; closing (the Bolt port speaks Bolt, or Bolt over ws:// and wss://)";
                    "error" => %e);
            }
        }
    }

    fn handshake_timed_out(&self, logger: &Logger) {
        self.metrics.limit_hit("bolt_handshake_timeout");
        info!(logger, "Bolt handshake timed out; closing";
            "timeout_s" => self.handshake_timeout.as_secs_f64());
    }
}

/// What the session needs to know of its connection.
struct Conn {
    peer: SocketAddr,
    /// The address the client connected to (see `SessionContext::advertised_address`).
    local: SocketAddr,
    connection_id: String,
    shutdown: Shutdown,
}

/// The TLS handshake as the Bolt port tells it: failures are logged with the advice that fits a
/// Bolt client, and a client certificate's subject joins every later line.
async fn tls_handshake(
    handshakes: &Handshakes,
    socket: TcpStream,
    logger: Logger,
) -> Option<(TlsStream, Logger)> {
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
            info!(logger, "TLS handshake failed; closing (this port only accepts TLS: clients need sslmode=REQUIRE, bolt+s://, bolt+ssc:// or wss://)";
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
    Some((TlsStream::new(stream), logger))
}
