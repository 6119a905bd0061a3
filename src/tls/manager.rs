//! The `TlsManager` actor, sole owner of the live `SslAcceptor`, and its cloneable `TlsHandle`.
//!
//! Connections ask the manager for the current acceptor at handshake time and keep the `Arc` they
//! get for their whole life, so a reload only affects connections accepted after it. A reload
//! re-reads the configured paths and builds a complete new acceptor on a blocking thread; only if
//! every step succeeded is it swapped in. A failed reload changes nothing but the counters.
//!
//! Reloads are serialised: one build at a time, queued requests after it in arrival order. While
//! a build runs the actor keeps answering acceptor requests with the current acceptor, so new
//! connections are never held up by a slow key parse (an RSA 4096 load takes milliseconds).

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use slog::{error, info, o, warn, Logger};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::acceptor::{self, CertSummary, LoadedAcceptor, TlsSettings};
use super::time::format_unix;
use super::TlsError;
use crate::metrics::{Metrics, ReloadLabels};

/// How many requests may wait for the actor. Requests are tiny and answered in microseconds;
/// the bound gives back-pressure instead of unbounded memory if the actor ever stalls.
const CHANNEL_CAPACITY: usize = 1024;

/// What asked for a reload; logged with every attempt so operators can tell who rotated what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadTrigger {
    /// `RELOAD BOLT_SERVER TLS` from a Bolt session.
    Query {
        connection_id: String,
        peer: SocketAddr,
        /// `None` for an anonymous session.
        user: Option<String>,
    },
    /// A signal (SIGHUP).
    Signal,
    /// A change of the certificate or key file.
    FileWatch,
}

impl ReloadTrigger {
    /// The metrics label.
    pub fn label(&self) -> &'static str {
        match self {
            ReloadTrigger::Query { .. } => "query",
            ReloadTrigger::Signal => "signal",
            ReloadTrigger::FileWatch => "file_watch",
        }
    }
}

impl fmt::Display for ReloadTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadTrigger::Query {
                connection_id,
                peer,
                user,
            } => {
                let user = user.as_deref().unwrap_or("anonymous");
                write!(f, "query on {connection_id} by {user} from {peer}")
            }
            ReloadTrigger::Signal => f.write_str("signal"),
            ReloadTrigger::FileWatch => f.write_str("file watch"),
        }
    }
}

/// A snapshot of the TLS state, answered by [`TlsHandle::status`] and by a successful reload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsStatus {
    pub paths: TlsSettings,
    /// The certificate being served to new connections.
    pub summary: CertSummary,
    /// When the served acceptor was built.
    pub loaded_at: SystemTime,
    /// 1 for the acceptor built at startup, +1 for each successful reload.
    pub generation: u64,
    /// Successful reloads since startup.
    pub reloads: u64,
    /// Failed reloads since startup.
    pub reloads_failed: u64,
    /// The last reload's error, cleared by a successful reload.
    pub last_error: Option<String>,
    /// Whether client certificates are requested: `none` until client authentication exists.
    pub client_auth: String,
}

enum Request {
    Acceptor(oneshot::Sender<Arc<LoadedAcceptor>>),
    Reload(ReloadTrigger, oneshot::Sender<Result<TlsStatus, TlsError>>),
    Status(oneshot::Sender<TlsStatus>),
}

type ReloadReply = oneshot::Sender<Result<TlsStatus, TlsError>>;

/// A reload in progress: what asked for it, where to answer, and the blocking build.
type Build = (
    ReloadTrigger,
    ReloadReply,
    JoinHandle<Result<LoadedAcceptor, TlsError>>,
);

/// The actor. Created by [`TlsManager::start`], which hands back the only way to reach it.
pub struct TlsManager {
    rx: mpsc::Receiver<Request>,
    paths: TlsSettings,
    /// The acceptor handed to new connections, with its certificate summary. Shared by `Arc` so
    /// that handing it out is a reference-count increment.
    current: Arc<LoadedAcceptor>,
    loaded_at: SystemTime,
    generation: u64,
    reloads: u64,
    reloads_failed: u64,
    last_error: Option<String>,
    /// Reload requests waiting for the build in progress to finish.
    queued: VecDeque<(ReloadTrigger, ReloadReply)>,
    /// The build in progress, with the request it answers.
    building: Option<Build>,
    logger: Logger,
    metrics: Arc<Metrics>,
}

/// A cheap, cloneable way to talk to the [`TlsManager`]. The actor stops when the last handle is
/// dropped.
#[derive(Clone)]
pub struct TlsHandle {
    tx: mpsc::Sender<Request>,
}

impl fmt::Debug for TlsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsHandle").finish_non_exhaustive()
    }
}

impl TlsManager {
    /// Builds the first acceptor from `paths` and spawns the actor on the current runtime. Fails,
    /// with the file named, if the pair cannot be loaded: the server must not start half-secure.
    pub async fn start(
        paths: TlsSettings,
        logger: Logger,
        metrics: Arc<Metrics>,
    ) -> Result<TlsHandle, TlsError> {
        let build_paths = paths.clone();
        let current = tokio::task::spawn_blocking(move || acceptor::build(&build_paths))
            .await
            .map_err(|e| TlsError::Context {
                cert: paths.cert.clone(),
                key: paths.key.clone(),
                reason: format!("loader task failed: {e}"),
            })??;
        let logger = logger.new(o!("component" => "tls"));
        log_certificate(&logger, "TLS certificate loaded", &current.summary);
        log_warnings(&logger, &current.warnings);
        check_expiry(&logger, &current.summary, paths.expiry_warning_days);
        metrics.cert_generation.set(1);
        metrics.cert_not_after.set(current.summary.not_after);
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let manager = TlsManager {
            metrics,
            rx,
            paths,
            current: Arc::new(current),
            loaded_at: SystemTime::now(),
            generation: 1,
            reloads: 0,
            reloads_failed: 0,
            last_error: None,
            queued: VecDeque::new(),
            building: None,
            logger,
        };
        tokio::spawn(manager.run());
        Ok(TlsHandle { tx })
    }

    async fn run(mut self) {
        loop {
            tokio::select! {
                request = self.rx.recv() => match request {
                    Some(request) => self.handle(request),
                    None => break,
                },
                built = async {
                    match self.building.as_mut() {
                        Some((_, _, task)) => task.await,
                        None => std::future::pending().await,
                    }
                }, if self.building.is_some() => {
                    if let Some((trigger, reply, _)) = self.building.take() {
                        let built = built.unwrap_or_else(|e| Err(TlsError::Context {
                            cert: self.paths.cert.clone(),
                            key: self.paths.key.clone(),
                            reason: format!("loader task failed: {e}"),
                        }));
                        let outcome = self.finish_reload(&trigger, built);
                        let _ = reply.send(outcome);
                    }
                    self.start_next_build();
                }
            }
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Acceptor(reply) => {
                let _ = reply.send(Arc::clone(&self.current));
            }
            Request::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Request::Reload(trigger, reply) => {
                self.queued.push_back((trigger, reply));
                self.start_next_build();
            }
        }
    }

    fn start_next_build(&mut self) {
        if self.building.is_some() {
            return;
        }
        if let Some((trigger, reply)) = self.queued.pop_front() {
            let paths = self.paths.clone();
            let task = tokio::task::spawn_blocking(move || acceptor::build(&paths));
            self.building = Some((trigger, reply, task));
        }
    }

    fn finish_reload(
        &mut self,
        trigger: &ReloadTrigger,
        built: Result<LoadedAcceptor, TlsError>,
    ) -> Result<TlsStatus, TlsError> {
        let result = if built.is_ok() { "success" } else { "failure" };
        self.metrics
            .reloads
            .get_or_create(&ReloadLabels {
                trigger: trigger.label(),
                result,
            })
            .inc();
        match built {
            Ok(next) => {
                let old = std::mem::replace(&mut self.current, Arc::new(next));
                self.loaded_at = SystemTime::now();
                self.generation += 1;
                self.reloads += 1;
                self.last_error = None;
                let new = &self.current.summary;
                self.metrics.cert_generation.set(self.generation as i64);
                self.metrics.cert_not_after.set(new.not_after);
                info!(self.logger, "TLS certificate reloaded";
                    "trigger" => %trigger,
                    "old_fingerprint" => &old.summary.sha256_fingerprint,
                    "new_fingerprint" => &new.sha256_fingerprint,
                    "subject" => &new.subject,
                    "not_after" => format_unix(new.not_after),
                    "generation" => self.generation);
                check_expiry(&self.logger, new, self.paths.expiry_warning_days);
                log_warnings(&self.logger, &self.current.warnings);
                Ok(self.status())
            }
            Err(e) => {
                self.reloads_failed += 1;
                self.last_error = Some(e.to_string());
                error!(self.logger, "TLS reload failed; still serving the previous certificate";
                    "trigger" => %trigger,
                    "error" => %e,
                    "fingerprint" => &self.current.summary.sha256_fingerprint);
                Err(e)
            }
        }
    }

    fn status(&self) -> TlsStatus {
        TlsStatus {
            paths: self.paths.clone(),
            summary: self.current.summary.clone(),
            loaded_at: self.loaded_at,
            generation: self.generation,
            reloads: self.reloads,
            reloads_failed: self.reloads_failed,
            last_error: self.last_error.clone(),
            client_auth: self.paths.client_auth.as_str().to_owned(),
        }
    }
}

impl TlsHandle {
    /// The acceptor new connections must use now, with the summary of the certificate it serves.
    pub async fn acceptor(&self) -> Result<Arc<LoadedAcceptor>, TlsError> {
        self.ask(Request::Acceptor).await
    }

    /// Re-reads the configured files and swaps in the new acceptor if all checks pass.
    pub async fn reload(&self, trigger: ReloadTrigger) -> Result<TlsStatus, TlsError> {
        self.ask(|reply| Request::Reload(trigger, reply)).await?
    }

    /// What is being served, and how reloads went.
    pub async fn status(&self) -> Result<TlsStatus, TlsError> {
        self.ask(Request::Status).await
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Request,
    ) -> Result<T, TlsError> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| TlsError::ManagerGone)?;
        answer.await.map_err(|_| TlsError::ManagerGone)
    }
}

fn log_certificate(logger: &Logger, msg: &str, summary: &CertSummary) {
    info!(logger, "{}", msg;
        "fingerprint" => &summary.sha256_fingerprint,
        "subject" => &summary.subject,
        "issuer" => &summary.issuer,
        "key_type" => &summary.key_type,
        "not_after" => format_unix(summary.not_after));
}

fn log_warnings(logger: &Logger, warnings: &[String]) {
    for w in warnings {
        warn!(logger, "{}", w);
    }
}

/// An expired certificate is still served (as Memgraph does, unless `--bolt-tls-refuse-expired`),
/// but operators must hear about it, and about one that is about to expire.
fn check_expiry(logger: &Logger, summary: &CertSummary, warning_days: u32) {
    let days_left = summary.days_left(acceptor::now_unix());
    if days_left < 0 {
        error!(logger, "the TLS certificate has expired and is still being served; clients that verify it will refuse to connect. Install a renewed certificate and run RELOAD BOLT_SERVER TLS";
            "fingerprint" => &summary.sha256_fingerprint,
            "subject" => &summary.subject,
            "not_after" => format_unix(summary.not_after));
    } else if days_left < i64::from(warning_days) {
        warn!(logger, "the TLS certificate expires soon; renew it and run RELOAD BOLT_SERVER TLS";
            "days_left" => days_left,
            "fingerprint" => &summary.sha256_fingerprint,
            "subject" => &summary.subject,
            "not_after" => format_unix(summary.not_after));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/ssl")
            .join(name)
    }

    #[test]
    fn a_query_trigger_names_the_session_and_says_anonymous_for_no_user() {
        let peer: SocketAddr = "127.0.0.1:4242".parse().unwrap();
        let trigger = |user: Option<&str>| ReloadTrigger::Query {
            connection_id: "bolt-7".into(),
            peer,
            user: user.map(str::to_owned),
        };
        assert_eq!(
            trigger(None).to_string(),
            "query on bolt-7 by anonymous from 127.0.0.1:4242"
        );
        assert_eq!(
            trigger(Some("alice")).to_string(),
            "query on bolt-7 by alice from 127.0.0.1:4242"
        );
    }

    #[tokio::test]
    async fn reload_swaps_only_on_success() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        std::fs::copy(fixture("server.pem"), &cert).unwrap();
        std::fs::copy(fixture("server.key"), &key).unwrap();
        let handle = TlsManager::start(
            TlsSettings::new(&cert, &key),
            crate::logging::discard(),
            Arc::new(Metrics::new()),
        )
        .await
        .unwrap();
        let first = handle.status().await.unwrap();
        assert_eq!(first.generation, 1);

        std::fs::copy(fixture("garbage.pem"), &cert).unwrap();
        let err = handle.reload(ReloadTrigger::Signal).await.unwrap_err();
        assert!(matches!(err, TlsError::Certificate { .. }));
        let after_failure = handle.status().await.unwrap();
        assert_eq!(after_failure.summary, first.summary);
        assert_eq!(after_failure.reloads_failed, 1);
        assert!(after_failure.last_error.is_some());

        std::fs::copy(fixture("server2.pem"), &cert).unwrap();
        std::fs::copy(fixture("server2.key"), &key).unwrap();
        let ok = handle.reload(ReloadTrigger::Signal).await.unwrap();
        assert_eq!(ok.generation, 2);
        assert_ne!(
            ok.summary.sha256_fingerprint,
            first.summary.sha256_fingerprint
        );
        assert_eq!(ok.last_error, None);
    }

    #[tokio::test]
    async fn concurrent_reloads_are_all_answered() {
        let handle = TlsManager::start(
            TlsSettings::new(fixture("server.pem"), fixture("server.key")),
            crate::logging::discard(),
            Arc::new(Metrics::new()),
        )
        .await
        .unwrap();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let h = handle.clone();
            tasks.push(tokio::spawn(async move {
                h.reload(ReloadTrigger::Signal).await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(handle.status().await.unwrap().generation, 9);
    }
}
