//! The query engine behind the Bolt layer.
//!
//! The engine knows nothing of sockets, TLS, Bolt or the dispatcher: it takes parsed queries (the
//! [`crate::cypher`] AST) and parameters and hands back columns and a lazy stream of rows, all in
//! terms of [`crate::value`]. The dispatcher drives it through the [`QueryEngine`] and
//! [`Transaction`] traits, so another engine (an on-disk store, a remote backend) can be slotted
//! in without touching the protocol code.
//!
//! Every query runs inside a [`Transaction`]: an explicit one the client opened with `BEGIN`, or an
//! implicit one the dispatcher opens around a single auto-commit query.
//!
//! The embedded engine, file by file: [`memory`] is the [`QueryEngine`] itself; [`offload`]
//! decides, in one place, which work leaves the async workers, and [`rows`] pulls results in
//! batches under that rule; [`store`] keeps the committed [`graph`] and decides
//! commits; [`exec`] runs a query's clauses, with [`pattern`] matching, [`project`] for
//! WITH/RETURN (its aggregates in [`aggregate`]), [`foreach`] for FOREACH, [`load_csv`] for
//! LOAD CSV, [`eval`] for expressions, [`functions`] and [`temporal`] for built-ins, [`call`]
//! with [`procedures`] for `CALL`, [`subquery`] for subqueries and pattern comprehensions,
//! [`plan`] and [`profile`] for EXPLAIN and PROFILE, [`schema`] for index and constraint
//! statements, and [`dump`] (with [`literal`] for values) for `DUMP DATABASE`.

pub mod aggregate;
pub mod blind_writes;
pub mod call;
pub mod count;
pub mod direct_reads;
pub mod dump;
pub mod eval;
pub mod exec;
pub mod foreach;
pub mod functions;
pub mod graph;
pub mod group_key;
pub mod light_writes;
pub mod literal;
pub mod load_csv;
pub mod memory;
pub mod offload;
pub mod pattern;
pub mod persist;
pub mod plan;
pub mod prefetch;
pub mod procedures;
pub mod profile;
pub mod project;
pub mod rel_types;
pub mod rows;
pub mod schema;
pub mod snapshotter;
pub mod store;
pub mod subquery;
pub mod temporal;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests_functions;

pub use memory::MemoryEngine;
pub use rows::Rows;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::cypher::ast::{Query, SchemaCommand};
use crate::cypher::SyntaxError;
use crate::value::Value;

/// Query parameters, by name.
pub type Params = BTreeMap<String, Value>;

/// One result row, in column order.
pub type Row = Vec<Value>;

/// Rows produced on demand, so that `PULL {n}` can stop early and large results never have to be
/// held in memory at once. An `Err` item ends the stream: the query failed mid-way (Memgraph's
/// `assert()` does this) and the session reports it as a FAILURE after the rows already sent.
pub type RowStream = Box<dyn Iterator<Item = Result<Row, EngineError>> + Send>;

/// What a successful `run` hands back.
pub struct QueryResult {
    /// Column names, sent in the RUN SUCCESS `fields`.
    pub fields: Vec<String>,
    /// The rows, pulled lazily by the session.
    pub rows: RowStream,
    /// Whether the query read, wrote or both; reported as the summary's `type`.
    pub query_type: QueryType,
    /// Write counters for the summary's `stats` (`nodes-created`, ...), for queries that write.
    pub stats: Option<exec::Stats>,
    /// Producing the rows may take real CPU time (graph matching, sorting, grouping), so the
    /// session pulls them where blocking is allowed instead of on an async worker.
    pub heavy: bool,
}

impl QueryResult {
    /// A result with no columns and no rows, as transaction-control statements give.
    pub fn empty(query_type: QueryType) -> Self {
        QueryResult {
            fields: Vec::new(),
            rows: Box::new(std::iter::empty()),
            query_type,
            stats: None,
            heavy: false,
        }
    }
}

impl fmt::Debug for QueryResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryResult")
            .field("fields", &self.fields)
            .field("query_type", &self.query_type)
            .finish_non_exhaustive()
    }
}

/// The summary `type` of a query, with Bolt's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryType {
    Read,
    Write,
    ReadWrite,
    Schema,
}

impl QueryType {
    pub fn as_bolt(self) -> &'static str {
        match self {
            QueryType::Read => "r",
            QueryType::Write => "w",
            QueryType::ReadWrite => "rw",
            QueryType::Schema => "s",
        }
    }
}

/// How clients should treat a failure; the second part of the Bolt error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    /// The query or its input is wrong: retrying will fail again.
    ClientError,
    /// A conflict or a temporary condition: clients retry these.
    TransientError,
    /// The server failed: a bug or an unexpected condition.
    DatabaseError,
}

impl Classification {
    fn as_str(self) -> &'static str {
        match self {
            Classification::ClientError => "ClientError",
            Classification::TransientError => "TransientError",
            Classification::DatabaseError => "DatabaseError",
        }
    }
}

/// A query failure, carrying the Bolt `code` clients dispatch on and a message a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    pub classification: Classification,
    /// The full code, e.g. `Memgraph.ClientError.MemgraphError.MemgraphError`.
    pub code: String,
    pub message: String,
}

impl EngineError {
    /// Memgraph reports every query exception (syntax, semantic, runtime) under one client code;
    /// scripts match on it, so we do the same.
    pub fn client(message: impl Into<String>) -> Self {
        Self::with_class(Classification::ClientError, message)
    }

    /// A retryable failure (serialization conflicts and the like).
    pub fn transient(message: impl Into<String>) -> Self {
        Self::with_class(Classification::TransientError, message)
    }

    /// A failure of the server itself.
    pub fn database(message: impl Into<String>) -> Self {
        Self::with_class(Classification::DatabaseError, message)
    }

    fn with_class(classification: Classification, message: impl Into<String>) -> Self {
        EngineError {
            classification,
            code: format!(
                "Memgraph.{}.MemgraphError.MemgraphError",
                classification.as_str()
            ),
            message: message.into(),
        }
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for EngineError {}

/// The engine as the dispatcher sees it: a factory of transactions, and the schema statements,
/// which run outside transactions.
#[async_trait]
pub trait QueryEngine: Send + Sync + 'static {
    /// Opens a transaction: for Bolt/Cypher `BEGIN`, and around every auto-commit query.
    async fn begin(&self) -> Result<Box<dyn Transaction>, EngineError>;

    /// Opens the auto-commit transaction that will run `query` and nothing else. An engine may
    /// start it somewhere cheaper to commit from when the query cannot tell the difference (see
    /// `blind_writes.rs`).
    async fn begin_auto(&self, _query: &Query) -> Result<Box<dyn Transaction>, EngineError> {
        self.begin().await
    }

    /// Runs an index, constraint, storage or info statement. The dispatcher refuses these inside
    /// explicit transactions, as Memgraph does, so they always see and change the committed graph.
    async fn schema(&self, command: SchemaCommand) -> Result<QueryResult, EngineError>;
}

/// One transaction. Dropping it without `commit` must discard its writes, because a dropped
/// connection simply drops the session and everything it holds.
#[async_trait]
pub trait Transaction: Send {
    /// Starts one parsed query. The query is shared with the parse cache, and the parameters are
    /// moved in, not copied: parameters can be hundreds of megabytes. Rows are produced lazily by
    /// the returned stream.
    async fn run(&mut self, query: Arc<Query>, params: Params) -> Result<QueryResult, EngineError>;

    /// `EXPLAIN` (`profile` false: the plan, nothing runs) or `PROFILE` (runs the query, its
    /// writes included, and returns the plan with the rows and time of each operator).
    async fn explain(
        &mut self,
        query: Arc<Query>,
        params: Params,
        profile: bool,
    ) -> Result<QueryResult, EngineError>;

    /// Makes the transaction's writes visible to others.
    async fn commit(self: Box<Self>) -> Result<(), EngineError>;

    /// Discards the transaction's writes.
    async fn rollback(self: Box<Self>);

    /// Hands the transaction the flag `TERMINATE TRANSACTIONS` sets: its queries check it
    /// with their deadline and stop once it is set. Engines that cannot stop a query ignore it.
    fn set_abort(&mut self, _flag: std::sync::Arc<std::sync::atomic::AtomicBool>) {}
}

impl From<SyntaxError> for EngineError {
    /// Memgraph reports syntax errors under its one client code.
    fn from(e: SyntaxError) -> Self {
        EngineError::client(e.message)
    }
}
