//! What a RUN opened: columns, rows to stream, and what must happen once they are streamed.
//!
//! An auto-commit query's transaction commits after its last row (a failure mid-stream rolls it
//! back), and `RELOAD BOLT_SERVER TLS` runs when pulled, as in Memgraph. The session streams the
//! rows and calls [`Outcome::finish`] or [`Outcome::abort`]; it never sees a transaction.

use slog::Logger;

use crate::engine::exec::Stats;
use crate::engine::{EngineError, QueryResult, QueryType, Row, Rows, Transaction};
use crate::tls::{ReloadTrigger, TlsHandle};
use crate::value::Value;

use super::tls_statements;

/// A statement's category: the `type` label the query metrics count it under. `None` where a
/// statement failed before its kind was known (a syntax error, or a query that failed before
/// producing a result) counts as [`QueryKind::Unknown`].
pub use crate::metrics::QueryLabel as QueryKind;

fn kind_of(query_type: QueryType) -> QueryKind {
    match query_type {
        QueryType::Read => QueryKind::Read,
        QueryType::Write => QueryKind::Write,
        QueryType::ReadWrite => QueryKind::ReadWrite,
        QueryType::Schema => QueryKind::Schema,
    }
}

/// A statement's failure as the client sees it: a Bolt code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: String,
    pub message: String,
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        Failure {
            code: e.code,
            message: e.message,
        }
    }
}

/// A RUN that failed, with what was known of the statement's kind.
#[derive(Debug)]
pub struct Refused {
    pub failure: Failure,
    pub kind: Option<QueryKind>,
}

/// What happens after the last row.
enum Completion {
    Nothing,
    /// The auto-commit transaction around the query.
    Commit(Box<dyn Transaction>),
    /// `RELOAD BOLT_SERVER TLS`, run when pulled.
    Reload {
        tls: Option<TlsHandle>,
        trigger: ReloadTrigger,
        logger: Logger,
    },
}

/// An open result.
pub struct Outcome {
    /// Column names, for RUN's SUCCESS.
    pub fields: Vec<String>,
    pub kind: QueryKind,
    /// The result belongs to the explicit transaction: the client addresses it by `qid`, and it
    /// ends with the transaction.
    pub explicit: bool,
    query_type: QueryType,
    stats: Option<Stats>,
    rows: Rows,
    completion: Completion,
}

impl Outcome {
    /// An engine result; `tx` is the auto-commit transaction, committed after the last row.
    pub(super) fn query(
        result: QueryResult,
        tx: Option<Box<dyn Transaction>>,
        explicit: bool,
    ) -> Self {
        let QueryResult {
            fields,
            rows,
            query_type,
            stats,
            heavy,
        } = result;
        Outcome {
            fields,
            kind: kind_of(query_type),
            explicit,
            query_type,
            stats,
            rows: Rows::new(rows, heavy),
            completion: tx.map_or(Completion::Nothing, Completion::Commit),
        }
    }

    /// A server-produced table (user lists, TLS info).
    pub(super) fn table(result: QueryResult, kind: QueryKind, explicit: bool) -> Self {
        Outcome {
            kind,
            ..Outcome::query(result, None, explicit)
        }
    }

    /// No columns and no rows: transaction words.
    pub(super) fn empty(kind: QueryKind) -> Self {
        Outcome {
            fields: Vec::new(),
            kind,
            explicit: false,
            query_type: QueryType::ReadWrite,
            stats: None,
            rows: Rows::empty(),
            completion: Completion::Nothing,
        }
    }

    /// A reload that runs when the result is pulled.
    pub(super) fn reload(tls: Option<TlsHandle>, trigger: ReloadTrigger, logger: Logger) -> Self {
        Outcome {
            completion: Completion::Reload {
                tls,
                trigger,
                logger,
            },
            ..Outcome::empty(QueryKind::Admin)
        }
    }

    /// Up to `want` rows; an `Err` ends the result (the query failed mid-way).
    pub fn batch(&mut self, want: usize) -> Vec<Result<Row, Failure>> {
        self.rows.batch(want)
    }

    /// Whether rows remain.
    pub fn has_more(&mut self) -> bool {
        self.rows.has_more()
    }

    /// The summary's `type`, in Bolt's spelling.
    pub fn bolt_type(&self) -> &'static str {
        self.query_type.as_bolt()
    }

    /// Write counters for the summary, for queries that wrote.
    pub fn stats(&self) -> Option<&Stats> {
        self.stats.as_ref()
    }

    /// After the last row: commits the auto-commit transaction or runs the reload. Returns the
    /// notifications for the summary.
    pub async fn finish(&mut self) -> Result<Vec<Value>, Failure> {
        match std::mem::replace(&mut self.completion, Completion::Nothing) {
            Completion::Nothing => Ok(Vec::new()),
            Completion::Commit(tx) => tx
                .commit()
                .await
                .map(|()| Vec::new())
                .map_err(Failure::from),
            Completion::Reload {
                tls,
                trigger,
                logger,
            } => tls_statements::reload(tls.as_ref(), trigger, &logger)
                .await
                .map(|_| vec![tls_statements::reload_notification()])
                .map_err(Failure::from),
        }
    }

    /// The result is abandoned (a failure mid-stream, RESET, a dropped connection): the
    /// auto-commit transaction is rolled back and a pending reload does not run.
    pub async fn abort(&mut self) {
        if let Completion::Commit(tx) = std::mem::replace(&mut self.completion, Completion::Nothing)
        {
            tx.rollback().await;
        }
    }
}
