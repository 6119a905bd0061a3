//! The Bolt server state machine for one connection.
//!
//! A session runs after the handshake: it reads requests in order, answers each with zero or more
//! RECORDs and one summary, and keeps what Bolt needs: the authentication phase, the FAILED state,
//! and the open results (the auto-commit one, and those of the explicit transaction by `qid`).
//! Statements themselves are the dispatcher's: each RUN's text goes to the connection's
//! [`Conversation`], which parses it, checks it and carries it out, and Bolt's `BEGIN`, `COMMIT`
//! and `ROLLBACK` go to the same conversation as the Cypher words do. RESET, GOODBYE and a dropped
//! connection all end the transaction; it is rolled back when the session ends for any reason.
//!
//! Error handling follows the Bolt spec: a failed request moves the session to FAILED, where
//! everything but RESET is answered with IGNORED. A request that makes no sense in the current state
//! (a protocol violation) gets a FAILURE and the connection is closed, because client and server no
//! longer agree on where they are.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use slog::{debug, info, warn, Logger};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};

use crate::admin::{Conversation, Dispatcher, Failure, Outcome, QueryKind};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::value::{Map, Value};

use super::chunk::{ChunkError, ChunkReader};
use super::handshake::Version;
use super::message::{self, Meta, Request, ResponseWriter};
use super::packstream::StructLayout;
use super::route;
use super::target::{Target, DATABASE};

/// Output is written to the socket whenever this much has accumulated, so a large result streams
/// instead of being buffered whole.
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// The code for requests that break the protocol's state rules.
const PROTOCOL_VIOLATION: &str = "Memgraph.ClientError.Request.Invalid";
const UNAUTHENTICATED: &str = "Memgraph.ClientError.Security.Unauthenticated";

/// What every session of a server shares.
pub struct SessionContext {
    /// Carries out statements; also checks logins.
    pub dispatcher: Arc<Dispatcher>,
    /// The HELLO SUCCESS `server` agent; left out when `None`.
    pub server_name: Option<String>,
    /// Queries are counted by type and result.
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// `--bolt-advertised-address`: what ROUTE answers name as this server; when `None`, the
    /// address the client connected to.
    pub advertised_address: Option<String>,
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

/// The message size limit in force now (`max_message_unauthenticated` until the client has
/// authenticated, then `max_message`), published by the session before each read for a transport
/// under it that buffers whole messages of its own (WebSocket), so that it can hold a client to
/// the same limit instead of buffering up to the largest one first. Cloning shares the value.
#[derive(Debug, Clone)]
pub struct MessageLimit(Arc<AtomicUsize>);

impl MessageLimit {
    pub fn new(bytes: usize) -> Self {
        MessageLimit(Arc::new(AtomicUsize::new(bytes)))
    }

    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    pub fn set(&self, bytes: usize) {
        self.0.store(bytes, Ordering::Relaxed);
    }
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

/// A result that RUN opened and PULL/DISCARD have not finished.
struct OpenResult {
    /// Its id within the explicit transaction; -1 for the auto-commit result.
    qid: i64,
    outcome: Outcome,
    /// When RUN arrived; the query's duration is measured to its last record.
    started: Instant,
}

/// How a PULL or DISCARD ended.
enum Streamed {
    /// More rows remain.
    More,
    /// All rows sent.
    Done,
    Failed(Failure),
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
    /// The client's address, for slowing down repeated failed logins.
    peer: SocketAddr,
    /// The address the client connected to (never 0.0.0.0): ROUTE names it when no
    /// advertised address is configured.
    local: SocketAddr,
    logger: Logger,
    phase: Phase,
    /// A request failed; everything but RESET is IGNORED until RESET.
    failed: bool,
    /// The statements of this connection and its explicit transaction.
    conversation: Conversation,
    /// The auto-commit result being streamed.
    auto: Option<OpenResult>,
    /// The results opened inside the explicit transaction, addressed by `qid`.
    explicit: Vec<OpenResult>,
    next_qid: i64,
    /// When an unauthenticated session is closed: set at the start and again at LOGOFF.
    auth_deadline: tokio::time::Instant,
    /// Where the limit in force is published, when the transport asked ([`Session::publishing_limit`]).
    published_limit: Option<MessageLimit>,
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
        peer: SocketAddr,
        local: SocketAddr,
        logger: Logger,
    ) -> Self {
        let (reader, writer) = tokio::io::split(stream);
        let auth_deadline = tokio::time::Instant::now() + ctx.limits.auth_timeout;
        let conversation = ctx
            .dispatcher
            .conversation(connection_id.clone(), peer, logger.clone());
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
            peer,
            local,
            logger,
            phase: Phase::Connected,
            failed: false,
            conversation,
            auto: None,
            explicit: Vec::new(),
            next_qid: 0,
            auth_deadline,
            published_limit: None,
        }
    }

    /// Keeps `limit` set to the message size limit in force before every read.
    pub fn publishing_limit(mut self, limit: MessageLimit) -> Self {
        self.published_limit = Some(limit);
        self
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
            if let Some(published) = &self.published_limit {
                published.set(limit);
            }
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
            Request::Run {
                query,
                params,
                target,
                ..
            } => self.run_query(query, params, target).await,
            Request::Pull { n, qid } => self.pull(n, qid, false).await,
            Request::Discard { n, qid } => self.pull(n, qid, true).await,
            Request::Begin { target, .. } => self.begin(target).await,
            Request::Commit => self.commit().await,
            Request::Rollback => self.rollback().await,
            Request::Route { target, .. } => self.route(target),
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
        // neo4j:// clients send the routing context they were given; its content is not used
        // (one server, one table), only its shape is checked.
        let routing = match extra.get("routing") {
            None | Some(Value::Null) => false,
            Some(Value::Map(_)) => true,
            Some(other) => {
                self.violation(&format!(
                    "HELLO's routing must be a map or null, got {}",
                    other.type_name()
                ));
                return Flow::Close;
            }
        };
        info!(self.logger, "client connected";
            "user_agent" => &user_agent, "bolt_version" => %self.version, "routing" => routing);
        if !self.version.has_logon() {
            if let Err(flow) = self.authenticate(&extra).await {
                return flow;
            }
        }
        let patches = ["utc".to_owned()];
        let mut metadata = vec![("connection_id", Meta::Str(&self.connection_id))];
        if let Some(name) = &self.ctx.server_name {
            metadata.push(("server", Meta::Str(name)));
        }
        if utc_patch {
            metadata.push(("patch_bolt", Meta::Strings(&patches)));
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
        if self.conversation.in_transaction() || self.auto.is_some() {
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

    /// Checks the auth token with the dispatcher. A refusal closes the connection.
    async fn authenticate(&mut self, token: &Map) -> Result<(), Flow> {
        match self.ctx.dispatcher.login(token, self.peer.ip()).await {
            Ok(user) => {
                self.ctx.metrics.login(true);
                self.conversation.set_user(user);
                Ok(())
            }
            Err(refused) => {
                self.ctx.metrics.login(false);
                warn!(self.logger, "authentication failed";
                    "user" => &refused.user, "scheme" => &refused.scheme);
                self.responses
                    .failure(&mut self.out, UNAUTHENTICATED, "Authentication failure");
                Err(Flow::Close)
            }
        }
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

    async fn run_query(&mut self, query: String, params: Map, target: Target) -> Flow {
        if self.auto.is_some() {
            self.violation("RUN while the previous result is still open: PULL or DISCARD it first");
            return Flow::Close;
        }
        let started = Instant::now();
        if let Err(refusal) = target.check() {
            self.fail(refusal.failure());
            self.count_query(None, started, false);
            return Flow::Continue;
        }
        match self.conversation.run(&query, params).await {
            Ok(outcome) => self.open_result(outcome, started),
            Err(refused) => {
                self.fail(refused.failure);
                self.count_query(refused.kind, started, false);
            }
        }
        // A COMMIT or ROLLBACK among the statements ends the explicit transaction's results.
        if !self.conversation.in_transaction() {
            self.end_explicit_results();
        }
        Flow::Continue
    }

    fn limit_hit(&self, limit: &'static str) {
        self.ctx.metrics.limit_hit(limit);
    }

    fn count_query(&self, kind: Option<QueryKind>, started: Instant, ok: bool) {
        self.ctx
            .metrics
            .query(kind.unwrap_or(QueryKind::Unknown), ok, started.elapsed());
    }

    /// Registers a result RUN produced and answers RUN's SUCCESS. A result of the explicit
    /// transaction gets the next `qid`; any other is the auto-commit result.
    fn open_result(&mut self, outcome: Outcome, started: Instant) {
        let fields = ("fields", Meta::Strings(&outcome.fields));
        let t_first = ("t_first", Meta::Int(millis_since(started)));
        if outcome.explicit {
            let qid = self.next_qid;
            self.next_qid += 1;
            self.responses
                .success(&mut self.out, &[fields, t_first, ("qid", Meta::Int(qid))]);
            self.explicit.push(OpenResult {
                qid,
                outcome,
                started,
            });
        } else {
            self.responses.success(&mut self.out, &[fields, t_first]);
            self.auto = Some(OpenResult {
                qid: -1,
                outcome,
                started,
            });
        }
    }

    async fn pull(&mut self, n: i64, qid: i64, discard: bool) -> Flow {
        if let Some(mut auto) = self.auto.take() {
            match self.stream(&mut auto, n, discard).await {
                Streamed::More => {
                    self.auto = Some(auto);
                    self.responses
                        .success(&mut self.out, &[("has_more", Meta::Bool(true))]);
                }
                Streamed::Done => self.finish(auto).await,
                Streamed::Failed(e) => {
                    auto.outcome.abort().await;
                    self.count_query(Some(auto.outcome.kind), auto.started, false);
                    self.fail(e);
                }
            }
            return Flow::Continue;
        }
        if !self.conversation.in_transaction() {
            self.fail(client_error(format!(
                "There is no result to {}: send RUN first.",
                if discard { "DISCARD" } else { "PULL" }
            )));
            return Flow::Continue;
        }
        let index = if qid == -1 {
            self.explicit.len().checked_sub(1)
        } else {
            self.explicit.iter().position(|r| r.qid == qid)
        };
        let Some(index) = index else {
            self.fail(client_error(format!(
                "There is no open result with qid {qid} in this transaction."
            )));
            return Flow::Continue;
        };
        let mut result = self.explicit.remove(index);
        match self.stream(&mut result, n, discard).await {
            Streamed::More => {
                self.explicit.insert(index, result);
                self.responses
                    .success(&mut self.out, &[("has_more", Meta::Bool(true))]);
            }
            Streamed::Done => self.finish(result).await,
            Streamed::Failed(e) => {
                self.count_query(Some(result.outcome.kind), result.started, false);
                self.fail(e)
            }
        }
        Flow::Continue
    }

    /// After the last row: the outcome commits or reloads, then the summary (or the failure).
    async fn finish(&mut self, mut result: OpenResult) {
        let finished = result.outcome.finish().await;
        self.count_query(Some(result.outcome.kind), result.started, finished.is_ok());
        match finished {
            Ok(notifications) => self.summary(&result, notifications),
            Err(e) => self.fail(e),
        }
    }

    /// Sends up to `n` rows (all when `n` is -1) of `result`, or skips them for DISCARD.
    async fn stream(&mut self, result: &mut OpenResult, n: i64, discard: bool) -> Streamed {
        let mut sent: i64 = 0;
        while n == -1 || sent < n {
            let want = if n == -1 {
                usize::MAX
            } else {
                usize::try_from(n - sent).unwrap_or(usize::MAX)
            };
            let batch = result.outcome.batch(want);
            if batch.is_empty() {
                return Streamed::Done;
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
                    return Streamed::Failed(client_error(format!(
                        "cannot send a result value: {e}"
                    )));
                }
                if self.out.len() >= FLUSH_THRESHOLD {
                    if let Err(e) = self.flush().await {
                        return Streamed::Failed(Failure {
                            code: DATABASE_ERROR.to_owned(),
                            message: format!("writing results failed: {e}"),
                        });
                    }
                }
            }
        }
        if result.outcome.has_more() {
            Streamed::More
        } else {
            Streamed::Done
        }
    }

    fn summary(&mut self, result: &OpenResult, notifications: Vec<Value>) {
        let mut metadata = [
            ("has_more", Meta::Bool(false)),
            ("type", Meta::Str(result.outcome.bolt_type())),
            ("t_last", Meta::Int(millis_since(result.started))),
            ("db", Meta::Str(DATABASE)),
            // Room for the two optional entries, so that no summary allocates.
            ("", Meta::Bool(false)),
            ("", Meta::Bool(false)),
        ];
        let mut len = 4;
        let counters = result.outcome.stats().map(|s| s.counters());
        if let Some(counters) = &counters {
            metadata[len] = ("stats", Meta::Counters(counters));
            len += 1;
        }
        if !notifications.is_empty() {
            metadata[len] = ("notifications", Meta::List(&notifications));
            len += 1;
        }
        self.responses.success(&mut self.out, &metadata[..len]);
    }

    async fn begin(&mut self, target: Target) -> Flow {
        if self.auto.is_some() {
            self.violation("BEGIN while a result is still open: PULL or DISCARD it first");
            return Flow::Close;
        }
        if let Err(refusal) = target.check() {
            self.fail(refusal.failure());
            return Flow::Continue;
        }
        match self.conversation.begin().await {
            Ok(()) => self.responses.success(&mut self.out, &[]),
            Err(e) => self.fail(e),
        }
        Flow::Continue
    }

    async fn commit(&mut self) -> Flow {
        // Open results are dropped: the client chose to commit without reading them.
        let committed = self.conversation.commit().await;
        self.end_explicit_results();
        match committed {
            Ok(()) => self.responses.success(&mut self.out, &[]),
            Err(e) => self.fail(e),
        }
        Flow::Continue
    }

    async fn rollback(&mut self) -> Flow {
        let rolled_back = self.conversation.rollback().await;
        self.end_explicit_results();
        match rolled_back {
            Ok(()) => self.responses.success(&mut self.out, &[]),
            Err(e) => self.fail(e),
        }
        Flow::Continue
    }

    /// Answers ROUTE with this server's table (see `route.rs`). ROUTE belongs between
    /// transactions: inside one, or with a result still open, client and server disagree about
    /// the state, which is a protocol violation like BEGIN inside a transaction.
    fn route(&mut self, target: Target) -> Flow {
        if self.auto.is_some() || self.conversation.in_transaction() {
            self.violation(
                "ROUTE inside a transaction or while a result is open: it is only valid \
                 between transactions",
            );
            return Flow::Close;
        }
        let advertised = self.ctx.advertised_address.as_deref();
        match route::routing_table(&target, advertised, self.local) {
            Ok(rt) => self
                .responses
                .success(&mut self.out, &[("rt", Meta::Value(&rt))]),
            Err(e) => self.fail(e),
        }
        Flow::Continue
    }

    /// The explicit transaction ended: its results go with it.
    fn end_explicit_results(&mut self) {
        self.explicit.clear();
        self.next_qid = 0;
    }

    /// Rolls back whatever is open: the auto-commit query's transaction and the explicit one.
    async fn end_transactions(&mut self) {
        if let Some(mut auto) = self.auto.take() {
            auto.outcome.abort().await;
        }
        self.end_explicit_results();
        self.conversation.end().await;
    }

    /// Reports a failed request; the session is FAILED until RESET.
    fn fail(&mut self, error: Failure) {
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

/// Memgraph's codes for failures the session itself reports (no result to pull, a value that
/// cannot be encoded, a failed write).
const CLIENT_ERROR: &str = "Memgraph.ClientError.MemgraphError.MemgraphError";
const DATABASE_ERROR: &str = "Memgraph.DatabaseError.MemgraphError.MemgraphError";

pub(super) fn client_error(message: String) -> Failure {
    Failure {
        code: CLIENT_ERROR.to_owned(),
        message,
    }
}

/// Milliseconds since `t`, as Bolt's `t_first` (RUN until the result is available) and `t_last`
/// (RUN until the last record), which drivers report as `result_available_after` and
/// `result_consumed_after`.
fn millis_since(t: Instant) -> i64 {
    i64::try_from(t.elapsed().as_millis()).unwrap_or(i64::MAX)
}
