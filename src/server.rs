//! The `Listener` (accept loop and shutdown) and the per-connection `Handler`.
//!
//! The listener only accepts: each connection gets its own task, so one slow or hostile client
//! never holds up another, and a connection's errors are logged with its id and peer address and
//! end that connection only. With TLS configured, every connection is TLS from the first byte:
//! the handler asks the `TlsManager` for the current acceptor, handshakes under a deadline, and
//! only then speaks Bolt. There is no plaintext fallback.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openssl::ssl::Ssl;
use slog::{debug, error, info, o, warn, Logger};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio_openssl::SslStream;

use crate::admin::Dispatcher;
use crate::auth::Auth;
use crate::bolt::handshake::{self, HandshakeError};
use crate::bolt::session::{Limits, Session, SessionContext};
use crate::config::Config;
use crate::engine::QueryEngine;
use crate::metrics::{Metrics, OpenConnection, ResultLabel};
use crate::shutdown::{self, Shutdown, ShutdownTrigger};
use crate::tls::pool::HandshakePool;
use crate::tls::{TlsError, TlsHandle, TlsManager};

/// At most one "connection limit reached" warning per this interval.
const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// How long shutdown waits for open connections to finish their current request.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Watch(String),
    #[error("{0}")]
    Auth(String),
    #[error("cannot start the TLS handshake threads (--bolt-num-workers): {0}")]
    Threads(std::io::Error),
    #[error("cannot listen on {address} (--bolt-address/--bolt-port): {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
}

/// A started server. Dropping it does not stop the server; call [`RunningServer::shutdown`].
pub struct RunningServer {
    local_addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    metrics: Arc<Metrics>,
    tls: Option<TlsHandle>,
    trigger: ShutdownTrigger,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The metrics endpoint's address, when enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The server's counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The TLS manager, when TLS is on.
    pub fn tls(&self) -> Option<&TlsHandle> {
        self.tls.as_ref()
    }

    /// Stops accepting, tells every connection to close, and waits (briefly) for them.
    pub async fn shutdown(self) {
        self.trigger.trigger();
        let _ = self.task.await;
    }

    /// Waits until the server stops by itself (it does not, short of a shutdown).
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

/// Shared by every connection task.
struct Handler {
    session: Arc<SessionContext>,
    metrics: Arc<Metrics>,
    /// One permit per open connection (`--bolt-max-connections`).
    slots: Arc<Semaphore>,
    tls: Option<TlsHandle>,
    /// Where TLS handshakes run (see `tls/pool.rs`); present with TLS.
    handshakes: Option<HandshakePool>,
    tls_handshake_timeout: Duration,
    handshake_timeout: Duration,
    /// `--bolt-max-version`.
    newest_bolt: handshake::Version,
}

/// Loads TLS (if configured), binds, and starts accepting. TLS problems are reported before the
/// port is bound, so a misconfigured server never listens.
pub async fn start(
    config: &Config,
    engine: Arc<dyn QueryEngine>,
    logger: Logger,
) -> Result<RunningServer, StartError> {
    let metrics = Arc::new(Metrics::new());
    let data_dir = config.data_dir();
    let auth = Arc::new(Auth::open(&data_dir).map_err(StartError::Auth)?);
    if let Some(user) = crate::auth::bootstrap_from_env(&auth).map_err(StartError::Auth)? {
        info!(logger, "created the initial user from the environment"; "user" => user);
    }
    info!(logger, "authentication"; "data_directory" => %data_dir.display(),
        "users" => auth.users().len(),
        "mode" => if auth.enabled() { "users must authenticate" } else { "open: no users exist" });
    let tls = match config.tls_settings() {
        Some(settings) => {
            let handle =
                TlsManager::start(settings.clone(), logger.clone(), Arc::clone(&metrics)).await?;
            if config.bolt_tls_watch {
                crate::tls::watch::spawn(&settings, handle.clone(), logger.clone())
                    .map_err(StartError::Watch)?;
            }
            info!(logger, "Using secure Bolt connection (with SSL)";
                "cert_file" => &config.bolt_cert_file, "key_file" => &config.bolt_key_file);
            Some(handle)
        }
        None => {
            warn!(logger, "Using non-secure Bolt connection (without SSL). Set --bolt-cert-file and --bolt-key-file to require TLS.");
            None
        }
    };
    let address = format!("{}:{}", config.bolt_address, config.bolt_port);
    let listener = TcpListener::bind(&address)
        .await
        .map_err(|source| StartError::Bind {
            address: address.clone(),
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
        address: address.clone(),
        source,
    })?;
    info!(logger, "Bolt server listening"; "address" => %local_addr, "tls" => tls.is_some());

    let (trigger, shutdown) = shutdown::channel();
    let metrics_addr = match config.metrics_port {
        None => None,
        Some(port) => {
            let address = format!("{}:{}", config.metrics_address, port);
            let bound = crate::metrics::serve(
                address.clone(),
                Arc::clone(&metrics),
                tls.clone(),
                shutdown.clone(),
                logger.clone(),
            )
            .await
            .map_err(|source| StartError::Bind {
                address: format!("{address} (--metrics-address/--metrics-port)"),
                source,
            })?;
            Some(bound)
        }
    };
    let handler = Arc::new(Handler {
        session: Arc::new(SessionContext {
            dispatcher: Arc::new(Dispatcher::new(engine, auth, tls.clone())),
            server_name: Some(config.bolt_server_name_for_init.clone()).filter(|n| !n.is_empty()),
            metrics: Arc::clone(&metrics),
            limits: Limits {
                auth_timeout: Duration::from_secs_f64(config.bolt_auth_timeout),
                inactivity_timeout: (config.bolt_session_inactivity_timeout > 0)
                    .then(|| Duration::from_secs(config.bolt_session_inactivity_timeout)),
                max_message: config.bolt_max_message_size,
                max_message_unauthenticated: config.bolt_max_message_size_unauthenticated,
            },
        }),
        metrics: Arc::clone(&metrics),
        slots: Arc::new(Semaphore::new(config.bolt_max_connections)),
        handshakes: match &tls {
            Some(_) => {
                Some(HandshakePool::new(config.bolt_num_workers).map_err(StartError::Threads)?)
            }
            None => None,
        },
        tls: tls.clone(),
        tls_handshake_timeout: config.tls_handshake_timeout(),
        handshake_timeout: config.handshake_timeout(),
        newest_bolt: config.newest_bolt(),
    });
    let task = tokio::spawn(accept_loop(listener, handler, shutdown, logger));
    Ok(RunningServer {
        local_addr,
        metrics_addr,
        metrics,
        tls,
        trigger,
        task,
    })
}

/// Accepts until shutdown, then waits for connections to drain.
async fn accept_loop(
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

impl Handler {
    async fn serve(
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
        match &self.tls {
            None => {
                self.speak_bolt(socket, peer, connection_id, shutdown, logger)
                    .await
            }
            Some(tls) => {
                // The connection's logger gains the fingerprint of the certificate it was served.
                let Some((stream, logger)) = self.tls_handshake(tls, socket, logger).await else {
                    return;
                };
                self.speak_bolt(stream, peer, connection_id, shutdown, logger)
                    .await
            }
        }
    }

    /// Takes the acceptor current at this moment and completes the handshake under a deadline.
    /// The stream keeps a reference to that acceptor's context for the life of the connection, so
    /// later reloads never affect it.
    async fn tls_handshake(
        &self,
        tls: &TlsHandle,
        socket: TcpStream,
        logger: Logger,
    ) -> Option<(SslStream<TcpStream>, Logger)> {
        let loaded = match tls.acceptor().await {
            Ok(a) => a,
            Err(e) => {
                debug!(logger, "no TLS acceptor"; "error" => %e);
                return None;
            }
        };
        let logger =
            logger.new(o!("cert_fingerprint" => loaded.summary.sha256_fingerprint.clone()));
        let mut stream = match Ssl::new(&loaded.context).and_then(|ssl| SslStream::new(ssl, socket))
        {
            Ok(s) => s,
            Err(e) => {
                error!(logger, "cannot create a TLS session"; "error" => %e);
                return None;
            }
        };
        let started = std::time::Instant::now();
        let timeout = self.tls_handshake_timeout;
        let handshake = async move {
            let outcome = tokio::time::timeout(timeout, Pin::new(&mut stream).accept()).await;
            (stream, outcome)
        };
        let (stream, outcome) = match &self.handshakes {
            Some(pool) => pool.run(handshake).await?,
            None => handshake.await,
        };
        let result = match &outcome {
            Ok(Ok(())) => "ok",
            Ok(Err(_)) => "failed",
            Err(_) => "timeout",
        };
        self.metrics
            .tls_handshakes
            .get_or_create(&ResultLabel { result })
            .inc();
        self.metrics
            .tls_handshake_seconds
            .observe(started.elapsed().as_secs_f64());
        match outcome {
            Err(_) => {
                self.metrics.limit_hit("tls_handshake_timeout");
                info!(logger, "TLS handshake timed out; closing";
                    "timeout_s" => self.tls_handshake_timeout.as_secs_f64());
                None
            }
            Ok(Err(e)) => {
                let detail = e
                    .ssl_error()
                    .map(crate::tls::acceptor::openssl_reason)
                    .unwrap_or_else(|| e.to_string());
                // The commonest cause by far is a client speaking plaintext Bolt to a TLS port.
                info!(logger, "TLS handshake failed; closing (this port only accepts TLS: clients need sslmode=REQUIRE, bolt+s:// or bolt+ssc://)";
                    "error" => detail);
                None
            }
            Ok(Ok(())) => {
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
        }
    }

    async fn speak_bolt<S>(
        &self,
        mut stream: S,
        peer: SocketAddr,
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
            logger,
        )
        .run(shutdown)
        .await;
    }
}
