//! The Bolt server state machine for one connection.
//!
//! A session runs after the handshake: it reads requests in order, answers each with zero or more
//! RECORDs and one summary, and holds the connection's transaction state. There is one transaction
//! state per session, whether it was opened by a Bolt `BEGIN` or by the Cypher word `BEGIN` (as
//! pymgclient does); RESET, GOODBYE and a dropped connection all end it, and an open transaction is
//! rolled back when the session ends for any reason.
//!
//! Error handling follows the Bolt spec: a failed request moves the session to FAILED, where
//! everything but RESET is answered with IGNORED. A request that makes no sense in the current state
//! (a protocol violation) gets a FAILURE and the connection is closed, because client and server no
//! longer agree on where they are.

use std::iter::Peekable;
use std::sync::Arc;
use std::time::Instant;

use slog::{debug, info, warn, Logger};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::admin::{self, Statement};
use crate::auth::{Auth, Principal};
use crate::engine::{
    EngineError, QueryEngine, QueryResult, QueryType, RowStream, Transaction, TxKind,
};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::tls::{ReloadTrigger, TlsHandle};
use crate::value::{Map, Value};

use super::chunk::{ChunkError, ChunkReader};
use super::handshake::Version;
use super::message::{self, Request, ResponseWriter};
use super::packstream::StructLayout;

/// Output is written to the socket whenever this much has accumulated, so a large result streams
/// instead of being buffered whole.
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// The code for requests that break the protocol's state rules.
const PROTOCOL_VIOLATION: &str = "Memgraph.ClientError.Request.Invalid";
const UNAUTHENTICATED: &str = "Memgraph.ClientError.Security.Unauthenticated";
/// The only database name boltd has, reported as the summary's `db`.
const DATABASE: &str = "memgraph";

/// What every session of a server shares.
pub struct SessionContext {
    pub engine: Arc<dyn QueryEngine>,
    /// The TLS manager, when the server runs TLS; `RELOAD BOLT_SERVER TLS` goes through it.
    pub tls: Option<TlsHandle>,
    /// The HELLO SUCCESS `server` agent; left out when empty.
    pub server_name: String,
    /// Queries are counted by type and result.
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Users and privileges.
    pub auth: Arc<Auth>,
}

/// What one client may use. Every limit hit is logged with the connection and counted.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time from the end of the Bolt handshake to a completed HELLO (and LOGON).
    pub auth_timeout: std::time::Duration,
    /// Silence allowed from an authenticated client; None disables.
    pub inactivity_timeout: Option<std::time::Duration>,
    /// Largest message from an authenticated client (1 MB queries are normal, parameters can be
    /// large).
    pub max_message: usize,
    /// Largest message before authentication: HELLO and LOGON are small, and a peer that sends
    /// megabytes before saying who it is gets cut off early.
    pub max_message_unauthenticated: usize,
}

/// Where the session is in authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for HELLO.
    Connected,
    /// Bolt 5.1+: HELLO done, waiting for LOGON.
    Authentication,
    /// Authenticated: queries allowed.
    Ready,
}

/// Whether the connection goes on after a request.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
}

/// Where an open result's rows come from.
enum Source {
    Rows(Peekable<RowStream>),
    /// `RELOAD BOLT_SERVER TLS`: runs when pulled, as in Memgraph.
    Reload,
}

/// A result that RUN opened and PULL/DISCARD have not finished.
struct OpenResult {
    qid: i64,
    source: Source,
    query_type: QueryType,
    /// Write counters for the final summary.
    stats: Option<Map>,
    /// Rows cost CPU to produce: pull them where blocking is allowed.
    heavy: bool,
    /// The metrics label of the statement.
    kind: &'static str,
    /// When RUN arrived; the query's duration is measured to its last record.
    started: Instant,
}

impl OpenResult {
    fn new(qid: i64, result: QueryResult, run: RunInfo) -> Self {
        OpenResult {
            qid,
            source: Source::Rows(result.rows.peekable()),
            query_type: result.query_type,
            stats: result.stats,
            heavy: result.heavy,
            kind: run.kind,
            started: run.started,
        }
    }
}

impl OpenResult {
    fn run_info(&self) -> RunInfo {
        RunInfo {
            kind: self.kind,
            started: self.started,
        }
    }
}

/// The statement RUN is working on, for metrics.
#[derive(Debug, Clone, Copy)]
struct RunInfo {
    kind: &'static str,
    started: Instant,
}

/// The metrics label for a query type.
fn kind_of(query_type: QueryType) -> &'static str {
    match query_type {
        QueryType::Read => "read",
        QueryType::Write => "write",
        QueryType::ReadWrite => "read_write",
        QueryType::Schema => "schema",
    }
}

/// An auto-commit query in flight: its own transaction (none for server statements) and result.
struct AutoCommit {
    tx: Option<Box<dyn Transaction>>,
    result: OpenResult,
}

/// An explicit transaction and the results opened inside it, addressed by `qid`.
struct ExplicitTx {
    tx: Box<dyn Transaction>,
    results: Vec<OpenResult>,
    next_qid: i64,
}

/// How a PULL or DISCARD ended.
enum Streamed {
    /// More rows remain.
    More,
    /// All rows sent; the summary may carry notifications.
    Done {
        notifications: Vec<Value>,
    },
    Failed(EngineError),
}

/// One Bolt connection after the handshake.
pub struct Session<S> {
    ctx: Arc<SessionContext>,
    reader: ChunkReader<ReadHalf<S>>,
    writer: WriteHalf<S>,
    /// Responses not yet written; flushed after each request and whenever it grows large.
    out: Vec<u8>,
    responses: ResponseWriter,
    version: Version,
    connection_id: String,
    peer: String,
    logger: Logger,
    phase: Phase,
    /// A request failed; everything but RESET is IGNORED until RESET.
    failed: bool,
    tx: Option<ExplicitTx>,
    auto: Option<AutoCommit>,
    /// The RUN being handled.
    run: RunInfo,
    /// The user name the client authenticated with (empty when anonymous), for audit logs.
    user: String,
    /// When an unauthenticated session is closed: set at the start and again at LOGOFF.
    auth_deadline: tokio::time::Instant,
    /// The client's address, for slowing down repeated failed logins.
    peer_ip: Option<std::net::IpAddr>,
}

impl<S> Session<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    pub fn new(
        stream: S,
        version: Version,
        ctx: Arc<SessionContext>,
        connection_id: String,
        peer: String,
        logger: Logger,
    ) -> Self {
        let (reader, writer) = tokio::io::split(stream);
        let ctx_auth_timeout = ctx.limits.auth_timeout;
        Session {
            ctx,
            reader: ChunkReader::new(reader),
            writer,
            out: Vec::new(),
            responses: ResponseWriter::new(StructLayout::for_version(
                version.major,
                version.minor,
                false,
            )),
            version,
            connection_id,
            peer: peer.clone(),
            logger,
            phase: Phase::Connected,
            failed: false,
            tx: None,
            auto: None,
            run: RunInfo {
                kind: "unknown",
                started: Instant::now(),
            },
            user: String::new(),
            auth_deadline: tokio::time::Instant::now() + ctx_auth_timeout,
            peer_ip: peer.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()),
        }
    }

    /// Serves requests until the client leaves, the protocol breaks, or the server shuts down.
    /// Whatever happens, an open transaction is rolled back before returning.
    pub async fn run(mut self, mut shutdown: Shutdown) {
        let limits = self.ctx.limits;
        let reason = loop {
            let ready = self.phase == Phase::Ready;
            let (limit, deadline) = if ready {
                (
                    limits.max_message,
                    limits
                        .inactivity_timeout
                        .map(|t| tokio::time::Instant::now() + t),
                )
            } else {
                (limits.max_message_unauthenticated, Some(self.auth_deadline))
            };
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let message = tokio::select! {
                m = self.reader.read_message(limit) => m,
                _ = shutdown.recv() => break "server shutting down",
                _ = timer => {
                    if ready {
                        let secs = limits.inactivity_timeout.map_or(0, |t| t.as_secs());
                        self.limit_hit("inactivity");
                        info!(self.logger, "Shutting down session after {} seconds of inactivity", secs);
                        break "inactivity timeout";
                    }
                    self.limit_hit("auth_timeout");
                    info!(self.logger, "authentication deadline passed; closing";
                        "timeout_s" => limits.auth_timeout.as_secs_f64());
                    break "authentication timeout";
                }
            };
            let bytes = match message {
                Ok(Some(bytes)) => bytes,
                Ok(None) => break "client closed the connection",
                Err(ChunkError::TooLarge { limit }) => {
                    self.limit_hit("message_size");
                    warn!(self.logger, "message too large; closing"; "limit_bytes" => limit);
                    let text = format!(
                        "The message is larger than the limit of {limit} bytes{}. \
                         Split the data into several queries.",
                        if self.phase == Phase::Ready {
                            ""
                        } else {
                            " before authentication"
                        }
                    );
                    self.responses
                        .failure(&mut self.out, PROTOCOL_VIOLATION, &text);
                    let _ = self.flush().await;
                    break "message too large";
                }
                Err(e) => {
                    debug!(self.logger, "read failed"; "error" => %e);
                    break "read error";
                }
            };
            let flow = match message::decode(&bytes, self.version) {
                Ok(request) => self.handle(request).await,
                Err(e) => {
                    warn!(self.logger, "malformed message; closing"; "error" => %e);
                    self.violation(&e.to_string());
                    Flow::Close
                }
            };
            // Pipelined requests already buffered are answered in the same write.
            if flow == Flow::Close || !self.reader.has_complete_message() {
                if let Err(e) = self.flush().await {
                    debug!(self.logger, "write failed"; "error" => %e);
                    break "write error";
                }
            }
            if flow == Flow::Close {
                break "session closed";
            }
        };
        self.end_transactions().await;
        let _ = self.writer.shutdown().await;
        debug!(self.logger, "connection closed"; "reason" => reason);
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            self.writer.write_all(&self.out).await?;
            self.writer.flush().await?;
            self.out.clear();
            // A large result must not leave a large buffer behind on an idle connection.
            if self.out.capacity() > 2 * FLUSH_THRESHOLD {
                self.out.shrink_to(4096);
            }
        }
        Ok(())
    }

    async fn handle(&mut self, request: Request) -> Flow {
        match request {
            Request::Hello { extra } => self.hello(extra).await,
            Request::Logon { auth } => self.logon(auth).await,
            Request::Goodbye => Flow::Close,
            Request::Reset => self.reset().await,
            _ if self.phase != Phase::Ready => {
                self.violation(&format!(
                    "{} before authentication: send HELLO{} first",
                    request.name(),
                    if self.version.has_logon() {
                        " and LOGON"
                    } else {
                        ""
                    }
                ));
                Flow::Close
            }
            _ if self.failed => {
                self.responses.ignored(&mut self.out);
                Flow::Continue
            }
            Request::Logoff => self.logoff().await,
            Request::Run { query, params, .. } => self.run_query(query, params).await,
            Request::Pull { n, qid } => self.pull(n, qid, false).await,
            Request::Discard { n, qid } => self.pull(n, qid, true).await,
            Request::Begin { .. } => self.begin().await,
            Request::Commit => self.commit().await,
            Request::Rollback => self.rollback().await,
            Request::Route => {
                self.fail(EngineError::client(
                    "Route message is not supported in Memgraph! boltd is a single server: \
                     connect with bolt:// (or bolt+s:// / bolt+ssc://) instead of neo4j://.",
                ));
                Flow::Continue
            }
            Request::Telemetry { .. } => {
                self.responses.success(&mut self.out, &[]);
                Flow::Continue
            }
        }
    }

    async fn hello(&mut self, extra: Map) -> Flow {
        if self.phase != Phase::Connected {
            self.violation("HELLO was already received");
            return Flow::Close;
        }
        let user_agent = match extra.get("user_agent") {
            Some(Value::String(agent)) => agent.clone(),
            _ => {
                self.violation("HELLO must carry a user_agent string");
                return Flow::Close;
            }
        };
        // The neo4j drivers ask for UTC datetimes on 4.3/4.4 with `patch_bolt: ["utc"]`; agreeing
        // fixes the legacy encoding's DST ambiguity. mgclient never asks, so it keeps legacy.
        let utc_patch = self.version >= Version::new(4, 3)
            && self.version.major == 4
            && matches!(extra.get("patch_bolt"), Some(Value::List(p))
                if p.iter().any(|v| v == &Value::String("utc".into())));
        if utc_patch {
            self.responses.set_layout(StructLayout::for_version(
                self.version.major,
                self.version.minor,
                true,
            ));
        }
        info!(self.logger, "client connected";
            "user_agent" => &user_agent, "bolt_version" => %self.version);
        if !self.version.has_logon() {
            if let Err(flow) = self.authenticate(&extra).await {
                return flow;
            }
        }
        let mut metadata: Vec<(&str, Value)> =
            vec![("connection_id", Value::String(self.connection_id.clone()))];
        if !self.ctx.server_name.is_empty() {
            metadata.push(("server", Value::String(self.ctx.server_name.clone())));
        }
        if utc_patch {
            metadata.push(("patch_bolt", Value::List(vec!["utc".into()])));
        }
        self.responses.success(&mut self.out, &metadata);
        self.phase = if self.version.has_logon() {
            Phase::Authentication
        } else {
            Phase::Ready
        };
        Flow::Continue
    }

    async fn logon(&mut self, auth: Map) -> Flow {
        if self.phase != Phase::Authentication {
            self.violation("LOGON is only valid after HELLO, or after LOGOFF");
            return Flow::Close;
        }
        if let Err(flow) = self.authenticate(&auth).await {
            return flow;
        }
        self.responses.success(&mut self.out, &[]);
        self.phase = Phase::Ready;
        Flow::Continue
    }

    async fn logoff(&mut self) -> Flow {
        if self.tx.is_some() || self.auto.is_some() {
            self.violation(
                "LOGOFF with an open transaction or result: COMMIT, ROLLBACK or PULL first",
            );
            return Flow::Close;
        }
        self.responses.success(&mut self.out, &[]);
        self.phase = Phase::Authentication;
        self.auth_deadline = tokio::time::Instant::now() + self.ctx.limits.auth_timeout;
        Flow::Continue
    }

    /// Checks the auth token. While no user exists, the `none` and `basic` schemes (with any
    /// credentials, including the empty ones GQLAlchemy sends) are let in, as in Memgraph; a
    /// missing scheme counts as `none`. Once users exist, `basic` with a valid user and password
    /// is required; a failure is answered after a delay that grows with recent failures from the
    /// same address, and the connection is closed. Credentials are never logged.
    async fn authenticate(&mut self, token: &Map) -> Result<(), Flow> {
        let text = |key: &str| match token.get(key) {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        let scheme = match token.get("scheme") {
            None | Some(Value::Null) => "none".to_owned(),
            Some(Value::String(s)) => s.clone(),
            Some(_) => String::new(),
        };
        let principal = text("principal");
        let auth = Arc::clone(&self.ctx.auth);
        let accepted = if !auth.enabled() {
            scheme == "none" || scheme == "basic"
        } else if scheme == "basic" {
            let (user, password) = (principal.clone(), text("credentials"));
            let checker = Arc::clone(&auth);
            // Argon2 is slow by design: keep it off the async workers.
            tokio::task::spawn_blocking(move || checker.verify(&user, &password))
                .await
                .unwrap_or(false)
        } else {
            false
        };
        if accepted {
            self.user = if scheme == "basic" {
                principal
            } else {
                String::new()
            };
            if let Some(ip) = self.peer_ip {
                auth.login_succeeded(ip);
            }
            self.ctx.metrics.login(true);
            return Ok(());
        }
        self.ctx.metrics.login(false);
        warn!(self.logger, "authentication failed"; "user" => &principal, "scheme" => &scheme);
        if let Some(ip) = self.peer_ip {
            tokio::time::sleep(auth.failure_delay(ip)).await;
        }
        self.responses
            .failure(&mut self.out, UNAUTHENTICATED, "Authentication failure");
        Err(Flow::Close)
    }

    async fn reset(&mut self) -> Flow {
        if self.phase == Phase::Connected {
            self.violation("RESET before HELLO");
            return Flow::Close;
        }
        self.end_transactions().await;
        self.failed = false;
        self.responses.success(&mut self.out, &[]);
        Flow::Continue
    }

    async fn run_query(&mut self, query: String, params: Map) -> Flow {
        if self.auto.is_some() {
            self.violation("RUN while the previous result is still open: PULL or DISCARD it first");
            return Flow::Close;
        }
        self.run = RunInfo {
            kind: "unknown",
            started: Instant::now(),
        };
        let statement = match admin::classify(&query) {
            Ok(s) => s,
            Err(e) => {
                self.fail(e);
                self.count_query(self.run, false);
                return Flow::Continue;
            }
        };
        self.run.kind = match statement {
            Statement::Auth(_) => "auth",
            Statement::Begin | Statement::Commit | Statement::Rollback => "transaction",
            Statement::ReloadTls | Statement::ShowTlsInfo => "admin",
            Statement::Query => "unknown",
        };
        self.run_statement(statement, &query, &params).await;
        if self.failed {
            self.count_query(self.run, false);
        }
        Flow::Continue
    }

    fn limit_hit(&self, limit: &'static str) {
        self.ctx.metrics.limit_hit(limit);
    }

    /// Who is running statements on this session.
    fn principal(&self) -> Principal {
        Principal {
            user: (!self.user.is_empty()).then(|| self.user.clone()),
        }
    }

    fn count_query(&self, run: RunInfo, ok: bool) {
        self.ctx.metrics.query(run.kind, ok, run.started.elapsed());
    }

    async fn run_statement(&mut self, statement: Statement, query: &str, params: &Map) {
        match statement {
            Statement::Begin => {
                if self.tx.is_some() {
                    self.fail(EngineError::client(admin::NESTED_TRANSACTION));
                } else if let Some(tx) = self.open_transaction().await {
                    self.tx = Some(tx);
                    self.open_server_result(Source::Rows(empty_rows()));
                }
            }
            Statement::Commit => match self.tx.take() {
                None => self.fail(EngineError::client(admin::NO_TRANSACTION_TO_COMMIT)),
                Some(tx) => match tx.tx.commit().await {
                    Ok(()) => self.open_server_result(Source::Rows(empty_rows())),
                    Err(e) => self.fail(e),
                },
            },
            Statement::Rollback => match self.tx.take() {
                None => self.fail(EngineError::client(admin::NO_TRANSACTION_TO_ROLLBACK)),
                Some(tx) => {
                    tx.tx.rollback().await;
                    self.open_server_result(Source::Rows(empty_rows()));
                }
            },
            Statement::Auth(statement) => {
                if self.tx.is_some() {
                    return self.fail(EngineError::client(admin::AUTH_IN_TRANSACTION));
                }
                if let Err(e) = admin::require(&self.ctx.auth, &self.principal(), &["AUTH"]) {
                    return self.fail(e);
                }
                let auth = Arc::clone(&self.ctx.auth);
                let outcome =
                    tokio::task::spawn_blocking(move || admin::run_auth(&auth, &statement)).await;
                match outcome {
                    Ok(Ok(result)) => self.open_result(result, None),
                    Ok(Err(e)) => self.fail(e),
                    Err(e) => self.fail(EngineError::database(format!("auth task failed: {e}"))),
                }
            }
            Statement::ShowTlsInfo => {
                let principal = self.principal();
                if let Err(e) = admin::require(&self.ctx.auth, &principal, &["STATS", "RELOAD_TLS"])
                {
                    return self.fail(e);
                }
                let status = match &self.ctx.tls {
                    Some(tls) => match tls.status().await {
                        Ok(status) => Some(status),
                        Err(e) => {
                            self.fail(EngineError::database(e.to_string()));
                            return;
                        }
                    },
                    None => None,
                };
                let row = admin::tls_info_row(status.as_ref(), crate::tls::acceptor::now_unix());
                let rows: RowStream = Box::new(std::iter::once(Ok(row)));
                let fields = admin::TLS_INFO_COLUMNS
                    .iter()
                    .map(|c| c.to_string())
                    .collect();
                self.open_result(
                    QueryResult {
                        fields,
                        rows,
                        query_type: QueryType::Read,
                        stats: None,
                        heavy: false,
                    },
                    None,
                );
            }
            Statement::ReloadTls => {
                // As in Memgraph: the transaction check comes first, then the privilege.
                let checked = admin::guard_reload(self.tx.is_some()).and_then(|()| {
                    admin::require(&self.ctx.auth, &self.principal(), &["RELOAD_TLS"])
                });
                match checked {
                    Ok(()) => self.open_server_result(Source::Reload),
                    Err(e) => self.fail(e),
                }
            }
            Statement::Query => {
                if let Err(e) = self.check_clause_privileges(query) {
                    return self.fail(e);
                }
                self.run_engine_query(query, params).await
            }
        }
    }

    /// With users configured, each clause needs its Memgraph privilege (MATCH, CREATE, ...). A
    /// query that does not parse is left to the engine, which reports the syntax error.
    fn check_clause_privileges(&self, query: &str) -> Result<(), EngineError> {
        if !self.ctx.auth.enabled() {
            return Ok(());
        }
        let Ok(statement) = crate::engine::parser::parse(query) else {
            return Ok(());
        };
        let principal = self.principal();
        for privilege in statement.privileges() {
            admin::require(&self.ctx.auth, &principal, &[privilege])?;
        }
        Ok(())
    }

    async fn run_engine_query(&mut self, query: &str, params: &Map) {
        if let Some(explicit) = self.tx.as_mut() {
            match explicit.tx.run(query, params).await {
                Ok(result) => self.open_result(result, None),
                Err(e) => self.fail(e),
            }
            return;
        }
        let Some(mut tx) = self.open_transaction_raw(TxKind::Implicit).await else {
            return;
        };
        match tx.run(query, params).await {
            Ok(result) => self.open_result(result, Some(tx)),
            Err(e) => {
                tx.rollback().await;
                self.fail(e);
            }
        }
    }

    /// Registers a result RUN produced and answers RUN's SUCCESS. Inside an explicit transaction
    /// the result gets the next `qid`; otherwise it is the auto-commit result, owning `tx` (none
    /// for server statements).
    fn open_result(&mut self, result: QueryResult, tx: Option<Box<dyn Transaction>>) {
        if self.run.kind == "unknown" {
            self.run.kind = kind_of(result.query_type);
        }
        let run = self.run;
        let fields = fields_value(&result.fields);
        if let Some(explicit) = self.tx.as_mut() {
            let qid = explicit.next_qid;
            explicit.next_qid += 1;
            explicit.results.push(OpenResult::new(qid, result, run));
            self.responses.success(
                &mut self.out,
                &[
                    ("fields", fields),
                    ("t_first", millis_since(run.started)),
                    ("qid", Value::Int(qid)),
                ],
            );
        } else {
            self.auto = Some(AutoCommit {
                tx,
                result: OpenResult::new(-1, result, run),
            });
            self.responses.success(
                &mut self.out,
                &[("fields", fields), ("t_first", millis_since(run.started))],
            );
        }
    }

    /// A server statement's result: no columns, rows (if any) produced by the server itself.
    fn open_server_result(&mut self, source: Source) {
        self.auto = Some(AutoCommit {
            tx: None,
            result: OpenResult {
                qid: -1,
                source,
                query_type: QueryType::ReadWrite,
                stats: None,
                heavy: false,
                kind: self.run.kind,
                started: self.run.started,
            },
        });
        self.responses
            .success(&mut self.out, &[("fields", Value::List(Vec::new()))]);
    }

    async fn pull(&mut self, n: i64, qid: i64, discard: bool) -> Flow {
        if let Some(mut auto) = self.auto.take() {
            match self.stream(&mut auto.result, n, discard).await {
                Streamed::More => {
                    self.auto = Some(auto);
                    self.responses
                        .success(&mut self.out, &[("has_more", Value::Bool(true))]);
                }
                Streamed::Done { notifications } => {
                    let committed = match auto.tx {
                        Some(tx) => tx.commit().await,
                        None => Ok(()),
                    };
                    self.count_query(auto.result.run_info(), committed.is_ok());
                    match committed {
                        Ok(()) => self.summary(&auto.result, notifications),
                        Err(e) => self.fail(e),
                    }
                }
                Streamed::Failed(e) => {
                    if let Some(tx) = auto.tx {
                        tx.rollback().await;
                    }
                    self.count_query(auto.result.run_info(), false);
                    self.fail(e);
                }
            }
            return Flow::Continue;
        }
        let Some(explicit) = self.tx.as_mut() else {
            self.fail(EngineError::client(format!(
                "There is no result to {}: send RUN first.",
                if discard { "DISCARD" } else { "PULL" }
            )));
            return Flow::Continue;
        };
        let index = if qid == -1 {
            explicit.results.len().checked_sub(1)
        } else {
            explicit.results.iter().position(|r| r.qid == qid)
        };
        let Some(index) = index else {
            self.fail(EngineError::client(format!(
                "There is no open result with qid {qid} in this transaction."
            )));
            return Flow::Continue;
        };
        let mut result = explicit.results.remove(index);
        match self.stream(&mut result, n, discard).await {
            Streamed::More => {
                if let Some(explicit) = self.tx.as_mut() {
                    explicit.results.insert(index, result);
                }
                self.responses
                    .success(&mut self.out, &[("has_more", Value::Bool(true))]);
            }
            Streamed::Done { notifications } => {
                self.count_query(result.run_info(), true);
                self.summary(&result, notifications)
            }
            Streamed::Failed(e) => {
                self.count_query(result.run_info(), false);
                self.fail(e)
            }
        }
        Flow::Continue
    }

    /// Sends up to `n` rows (all when `n` is -1) of `result`, or skips them for DISCARD.
    async fn stream(&mut self, result: &mut OpenResult, n: i64, discard: bool) -> Streamed {
        let rows = match &mut result.source {
            Source::Reload => {
                let trigger = ReloadTrigger::Query {
                    connection_id: self.connection_id.clone(),
                    peer: self.peer.parse().unwrap_or(([0, 0, 0, 0], 0).into()),
                    user: (!self.user.is_empty()).then(|| self.user.clone()),
                };
                return match admin::reload_tls(self.ctx.tls.as_ref(), trigger, &self.logger).await {
                    Ok(_) => Streamed::Done {
                        notifications: vec![admin::reload_notification()],
                    },
                    Err(e) => Streamed::Failed(e),
                };
            }
            Source::Rows(rows) => rows,
        };
        let heavy = result.heavy;
        let mut sent: i64 = 0;
        while n == -1 || sent < n {
            let want = if n == -1 {
                PULL_BATCH
            } else {
                (n - sent).clamp(1, PULL_BATCH as i64) as usize
            };
            let batch = pull_batch(rows, want, heavy);
            if batch.is_empty() {
                return Streamed::Done {
                    notifications: Vec::new(),
                };
            }
            for item in batch {
                let row = match item {
                    Ok(row) => row,
                    Err(e) => return Streamed::Failed(e),
                };
                sent += 1;
                if discard {
                    continue;
                }
                if let Err(e) = self.responses.record(&mut self.out, &row) {
                    return Streamed::Failed(EngineError::client(format!(
                        "cannot send a result value: {e}"
                    )));
                }
                if self.out.len() >= FLUSH_THRESHOLD {
                    if let Err(e) = self.flush().await {
                        return Streamed::Failed(EngineError::database(format!(
                            "writing results failed: {e}"
                        )));
                    }
                }
            }
        }
        if off_worker(heavy, || rows.peek().is_some()) {
            Streamed::More
        } else {
            Streamed::Done {
                notifications: Vec::new(),
            }
        }
    }

    fn summary(&mut self, result: &OpenResult, notifications: Vec<Value>) {
        let mut metadata = vec![
            ("has_more", Value::Bool(false)),
            (
                "type",
                Value::String(result.query_type.as_bolt().to_owned()),
            ),
            ("t_last", millis_since(result.started)),
            ("db", Value::String(DATABASE.to_owned())),
        ];
        if let Some(stats) = &result.stats {
            metadata.push(("stats", Value::Map(stats.clone())));
        }
        if !notifications.is_empty() {
            metadata.push(("notifications", Value::List(notifications)));
        }
        self.responses.success(&mut self.out, &metadata);
    }

    async fn begin(&mut self) -> Flow {
        if self.auto.is_some() {
            self.violation("BEGIN while a result is still open: PULL or DISCARD it first");
            return Flow::Close;
        }
        if self.tx.is_some() {
            self.fail(EngineError::client(admin::NESTED_TRANSACTION));
            return Flow::Continue;
        }
        if let Some(tx) = self.open_transaction().await {
            self.tx = Some(tx);
            self.responses.success(&mut self.out, &[]);
        }
        Flow::Continue
    }

    async fn commit(&mut self) -> Flow {
        match self.tx.take() {
            None => self.fail(EngineError::client(admin::NO_TRANSACTION_TO_COMMIT)),
            // Open results are dropped: the client chose to commit without reading them.
            Some(explicit) => match explicit.tx.commit().await {
                Ok(()) => self.responses.success(&mut self.out, &[]),
                Err(e) => self.fail(e),
            },
        }
        Flow::Continue
    }

    async fn rollback(&mut self) -> Flow {
        match self.tx.take() {
            None => self.fail(EngineError::client(admin::NO_TRANSACTION_TO_ROLLBACK)),
            Some(explicit) => {
                explicit.tx.rollback().await;
                self.responses.success(&mut self.out, &[]);
            }
        }
        Flow::Continue
    }

    async fn open_transaction(&mut self) -> Option<ExplicitTx> {
        self.open_transaction_raw(TxKind::Explicit)
            .await
            .map(|tx| ExplicitTx {
                tx,
                results: Vec::new(),
                next_qid: 0,
            })
    }

    async fn open_transaction_raw(&mut self, kind: TxKind) -> Option<Box<dyn Transaction>> {
        match self.ctx.engine.begin(kind).await {
            Ok(tx) => Some(tx),
            Err(e) => {
                self.fail(e);
                None
            }
        }
    }

    /// Rolls back whatever is open: the auto-commit query's transaction and the explicit one.
    async fn end_transactions(&mut self) {
        if let Some(auto) = self.auto.take() {
            if let Some(tx) = auto.tx {
                tx.rollback().await;
            }
        }
        if let Some(explicit) = self.tx.take() {
            explicit.tx.rollback().await;
        }
    }

    /// Reports a failed request; the session is FAILED until RESET.
    fn fail(&mut self, error: EngineError) {
        debug!(self.logger, "query failed"; "code" => &error.code, "message" => &error.message);
        self.responses
            .failure(&mut self.out, &error.code, &error.message);
        self.failed = true;
    }

    /// Reports a protocol violation; the caller closes the connection.
    fn violation(&mut self, what: &str) {
        warn!(self.logger, "protocol violation; closing"; "detail" => what);
        let message = format!("Protocol violation: {what}. The connection will be closed.");
        self.responses
            .failure(&mut self.out, PROTOCOL_VIOLATION, &message);
    }
}

/// Milliseconds since `t`, as Bolt's `t_first` (RUN until the result is available) and `t_last`
/// (RUN until the last record), which drivers report as `result_available_after` and
/// `result_consumed_after`.
fn millis_since(t: Instant) -> Value {
    Value::Int(i64::try_from(t.elapsed().as_millis()).unwrap_or(i64::MAX))
}

/// Rows pulled from the engine at a time; small enough to keep memory flat, large enough that
/// handing a heavy query to a blocking-capable thread is paid once per batch, not per row.
const PULL_BATCH: usize = 256;

/// Pulls up to `want` rows, stopping after an error or at the end of the stream.
fn pull_batch(
    rows: &mut Peekable<RowStream>,
    want: usize,
    heavy: bool,
) -> Vec<Result<crate::engine::Row, EngineError>> {
    off_worker(heavy, || {
        let mut batch = Vec::with_capacity(want.min(PULL_BATCH));
        while batch.len() < want {
            match rows.next() {
                None => break,
                Some(Err(e)) => {
                    batch.push(Err(e));
                    break;
                }
                Some(Ok(row)) => batch.push(Ok(row)),
            }
        }
        batch
    })
}

/// Runs CPU-heavy work (graph matching, sorting) so that it does not stall the other sessions on
/// this async worker: on the multi-threaded server runtime the worker hands its other tasks
/// away for the duration. Light work, and single-threaded runtimes (tests), run it in place.
fn off_worker<R>(heavy: bool, work: impl FnOnce() -> R) -> R {
    let multi = heavy
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    if multi {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}

fn empty_rows() -> Peekable<RowStream> {
    let rows: RowStream = Box::new(std::iter::empty());
    rows.peekable()
}

fn fields_value(fields: &[String]) -> Value {
    Value::List(fields.iter().map(|f| Value::String(f.clone())).collect())
}
