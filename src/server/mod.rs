//! Starting and stopping the server: TLS, the Bolt listener, the metrics endpoint and the
//! monitoring WebSocket.
//!
//! [`start`] loads TLS (if configured) before anything is bound, then starts the Bolt accept loop
//! (`listener.rs`), whose connections each run in a task of their own (`connection.rs`), the
//! metrics endpoint ([`metrics_endpoint`]) and the log stream ([`monitoring`]). With TLS
//! configured, every port handshakes through the one `tls::accept`, on the same handshake pool and
//! under the same deadline. There is no plaintext fallback.

mod connection;
mod listener;
pub mod metrics_endpoint;
pub mod monitoring;

use std::net::SocketAddr;
use std::sync::Arc;

use slog::{info, warn, Logger};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::admin::Dispatcher;
use crate::auth::Auth;
use crate::bolt::session::SessionContext;
use crate::config::Config;
use crate::engine::QueryEngine;
use crate::logging::LogHub;
use crate::metrics::Metrics;
use crate::shutdown::{self, ShutdownTrigger};
use crate::tls::pool::HandshakePool;
use crate::tls::{Handshakes, TlsError, TlsHandle, TlsManager};
use connection::Handler;

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
    monitoring_addr: Option<SocketAddr>,
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

    /// The monitoring WebSocket's address, when enabled.
    pub fn monitoring_addr(&self) -> Option<SocketAddr> {
        self.monitoring_addr
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

/// Loads TLS (if configured), binds, and starts accepting. TLS problems are reported before the
/// port is bound, so a misconfigured server never listens. `logs` is the hub the logger feeds
/// (see [`crate::logging::init`]); the monitoring WebSocket streams from it.
pub async fn start(
    config: &Config,
    engine: Arc<dyn QueryEngine>,
    logger: Logger,
    logs: LogHub,
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
            // The library's version, because a `vendored-openssl` build carries its own: which
            // one runs decides the record layer's cost and which fixes are in.
            info!(logger, "Using secure Bolt connection (with SSL)";
                "cert_file" => %settings.cert.display(), "key_file" => %settings.key.display(),
                "openssl" => openssl::version::version());
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
    info!(logger, "Bolt server listening";
        "address" => %local_addr, "tls" => tls.is_some(),
        "heap_purge_delay_ms" => crate::alloc::purge_delay(),
        "openssl_heap" => crate::alloc::openssl_heap());

    let (trigger, shutdown) = shutdown::channel();
    // One handshake pool for both ports: handshakes are CPU work wherever they come from.
    let pool = match &tls {
        Some(_) => Some(Arc::new(
            HandshakePool::new(config.bolt_num_workers).map_err(StartError::Threads)?,
        )),
        None => None,
    };
    let handshakes = |tls: &TlsHandle, pool: &Arc<HandshakePool>| {
        Handshakes::new(
            tls.clone(),
            Arc::clone(pool),
            config.tls_handshake_timeout(),
        )
    };
    let metrics_addr = match config.metrics_port {
        None => None,
        Some(port) => {
            let address = format!("{}:{}", config.metrics_address, port);
            let bound = metrics_endpoint::serve(
                address.clone(),
                Arc::clone(&metrics),
                tls.as_ref()
                    .zip(pool.as_ref())
                    .map(|(t, p)| handshakes(t, p)),
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
    let dispatcher =
        Arc::new(Dispatcher::new(engine, Arc::clone(&auth), tls.clone()).with_config(config));
    let monitoring_addr = match config.monitoring_port {
        None => None,
        Some(port) => {
            let address = format!("{}:{}", config.monitoring_address, port);
            let monitoring = monitoring::Monitoring {
                hub: logs,
                auth,
                dispatcher: Arc::clone(&dispatcher),
                metrics: Arc::clone(&metrics),
                tls: tls
                    .as_ref()
                    .zip(pool.as_ref())
                    .map(|(t, p)| handshakes(t, p)),
                upgrade_timeout: config.handshake_timeout(),
                auth_timeout: config.limits().auth_timeout,
            };
            let bound = monitoring::serve(
                address.clone(),
                monitoring,
                shutdown.clone(),
                logger.clone(),
            )
            .await
            .map_err(|source| StartError::Bind {
                address: format!("{address} (--monitoring-address/--monitoring-port)"),
                source,
            })?;
            Some(bound)
        }
    };
    let handler = Arc::new(Handler {
        session: Arc::new(SessionContext {
            dispatcher,
            server_name: Some(config.bolt_server_name_for_init.clone()).filter(|n| !n.is_empty()),
            metrics: Arc::clone(&metrics),
            limits: config.limits(),
            advertised_address: Some(config.bolt_advertised_address.clone())
                .filter(|a| !a.is_empty()),
        }),
        metrics: Arc::clone(&metrics),
        slots: Arc::new(Semaphore::new(config.bolt_max_connections)),
        handshakes: tls
            .as_ref()
            .zip(pool.as_ref())
            .map(|(t, p)| handshakes(t, p).counted_in(Arc::clone(&metrics))),
        handshake_timeout: config.handshake_timeout(),
        newest_bolt: config.bolt_max_version,
    });
    let task = tokio::spawn(listener::run(listener, handler, shutdown, logger));
    Ok(RunningServer {
        local_addr,
        metrics_addr,
        monitoring_addr,
        metrics,
        tls,
        trigger,
        task,
    })
}
