//! One client's statements over time: who it is, and its explicit transaction.
//!
//! There is one transaction state per connection, whether it was opened by a Bolt `BEGIN` or by
//! the Cypher word `BEGIN` (as pymgclient does): both go through [`Conversation::begin`], and
//! likewise for `COMMIT` and `ROLLBACK`. Each RUN's text is parsed once here; the parsed
//! statement then passes the transaction-state guard and the privilege check and is carried out.

use std::net::SocketAddr;
use std::sync::Arc;

use slog::Logger;

use crate::auth::Principal;
use crate::cypher::ast::Query;
use crate::cypher::{self, Statement};
use crate::engine::{EngineError, Params, QueryResult, QueryType, RowStream, Transaction};
use crate::tls::ReloadTrigger;

use super::outcome::{Failure, Outcome, QueryKind, Refused};
use super::transactions::{Entry, SessionGuard};
use super::{auth_statements, guard, privileges, server_statements, tls_statements, Dispatcher};

/// The statement state of one connection.
pub struct Conversation {
    dispatcher: Arc<Dispatcher>,
    /// Who runs the statements; anonymous until a login with a user name.
    principal: Principal,
    /// For the reload audit line: which connection asked, from where.
    connection_id: String,
    peer: SocketAddr,
    /// The connection's logger (connection id, peer, certificate fingerprint).
    logger: Logger,
    /// The explicit transaction, while one is open.
    tx: Option<Box<dyn Transaction>>,
    /// The explicit transaction's registry entry, where its queries' texts are recorded.
    tx_entry: Option<Arc<Entry>>,
    /// Lists the connection in `SHOW ACTIVE USERS INFO` while it lives.
    session: SessionGuard,
}

impl Conversation {
    pub(super) fn new(
        dispatcher: Arc<Dispatcher>,
        connection_id: String,
        peer: SocketAddr,
        logger: Logger,
    ) -> Self {
        let session = dispatcher.transactions.session(connection_id.clone());
        Conversation {
            dispatcher,
            principal: Principal { user: None },
            connection_id,
            peer,
            logger,
            tx: None,
            tx_entry: None,
            session,
        }
    }

    /// Records who logged in (`None`: anonymous) for privilege checks and audit lines.
    pub fn set_user(&mut self, user: Option<String>) {
        self.session.set_user(user.clone());
        self.principal = Principal { user };
    }

    /// Whether an explicit transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.tx.is_some()
    }

    /// Parses and carries out one RUN.
    pub async fn run(&mut self, text: &str, params: Params) -> Result<Outcome, Refused> {
        let statement =
            cypher::parse(text).map_err(|e| refused(EngineError::from(e).into(), None))?;
        let kind = match &statement {
            Statement::Auth(_) => Some(QueryKind::Auth),
            Statement::Begin | Statement::Commit | Statement::Rollback => {
                Some(QueryKind::Transaction)
            }
            Statement::ReloadTls | Statement::ShowTlsInfo => Some(QueryKind::Admin),
            Statement::Server(_) => Some(QueryKind::Admin),
            // Known from the result.
            Statement::Query(_)
            | Statement::Schema(_)
            | Statement::Explain(_)
            | Statement::Profile(_) => None,
        };
        self.carry_out(statement, params, text)
            .await
            .map_err(|e| refused(e, kind))
    }

    /// Runs a query (`explain` `None`), or EXPLAINs or PROFILEs it (`Some(profile)`), in the open
    /// explicit transaction or in an auto-commit one that commits after the last row.
    async fn query(
        &mut self,
        query: Arc<Query>,
        params: Params,
        explain: Option<bool>,
        text: &str,
    ) -> Result<Outcome, Failure> {
        async fn go(
            tx: &mut Box<dyn Transaction>,
            query: Arc<Query>,
            params: Params,
            explain: Option<bool>,
        ) -> Result<QueryResult, EngineError> {
            match explain {
                None => tx.run(query, params).await,
                Some(profile) => tx.explain(query, params, profile).await,
            }
        }
        if let Some(tx) = self.tx.as_mut() {
            if let Some(entry) = &self.tx_entry {
                record(entry, text);
            }
            return Ok(Outcome::query(
                go(tx, query, params, explain).await?,
                None,
                true,
            ));
        }
        let dispatcher = Arc::clone(&self.dispatcher);
        // EXPLAIN and PROFILE report the plan of a plain transaction.
        let begun = match explain {
            None => dispatcher.engine.begin_auto(&query).await?,
            Some(_) => dispatcher.engine.begin().await?,
        };
        let (mut tx, entry) = dispatcher
            .transactions
            .track(begun, self.principal.user.clone());
        record(&entry, text);
        match go(&mut tx, query, params, explain).await {
            Ok(result) => Ok(Outcome::query(result, Some(tx), false)),
            Err(e) => {
                tx.rollback().await;
                Err(e.into())
            }
        }
    }

    async fn carry_out(
        &mut self,
        statement: Statement,
        params: Params,
        text: &str,
    ) -> Result<Outcome, Failure> {
        // As in Memgraph: the transaction check comes first, then the privilege.
        guard::check(&statement, self.in_transaction())?;
        let dispatcher = Arc::clone(&self.dispatcher);
        if dispatcher.auth.enabled() {
            privileges::check(&dispatcher.auth, &self.principal, &statement)?;
        }
        let explicit = self.in_transaction();
        match statement {
            Statement::Begin => self.begin().await.map(|()| transaction_done()),
            Statement::Commit => self.commit().await.map(|()| transaction_done()),
            Statement::Rollback => self.rollback().await.map(|()| transaction_done()),
            Statement::Query(query) => self.query(query, params, None, text).await,
            Statement::Explain(query) => self.query(query, params, Some(false), text).await,
            Statement::Profile(query) => self.query(query, params, Some(true), text).await,
            Statement::Server(statement) => {
                let server = server_statements::Server {
                    engine: &dispatcher.engine,
                    auth: &dispatcher.auth,
                    registry: &dispatcher.transactions,
                    config: &dispatcher.config_rows,
                };
                let result = server_statements::run(server, &self.principal, statement).await?;
                Ok(Outcome::table(result, QueryKind::Admin, explicit))
            }
            Statement::Schema(command) => Ok(Outcome::query(
                dispatcher.engine.schema(command).await?,
                None,
                false,
            )),
            Statement::Auth(statement) => {
                let auth = Arc::clone(&dispatcher.auth);
                let result =
                    tokio::task::spawn_blocking(move || auth_statements::run(&auth, &statement))
                        .await
                        .map_err(|e| EngineError::database(format!("auth task failed: {e}")))??;
                Ok(Outcome::table(result, QueryKind::Auth, false))
            }
            Statement::ShowTlsInfo => {
                let status = match &dispatcher.tls {
                    Some(tls) => Some(
                        tls.status()
                            .await
                            .map_err(|e| EngineError::database(e.to_string()))?,
                    ),
                    None => None,
                };
                let row =
                    tls_statements::tls_info_row(status.as_ref(), crate::tls::acceptor::now_unix());
                let rows: RowStream = Box::new(std::iter::once(Ok(row)));
                let result = QueryResult {
                    fields: tls_statements::TLS_INFO_COLUMNS
                        .iter()
                        .map(|c| c.to_string())
                        .collect(),
                    rows,
                    query_type: QueryType::Read,
                    stats: None,
                    heavy: false,
                };
                Ok(Outcome::table(result, QueryKind::Admin, explicit))
            }
            Statement::ReloadTls => {
                let trigger = ReloadTrigger::Query {
                    connection_id: self.connection_id.clone(),
                    peer: self.peer,
                    user: self.principal.user.clone(),
                };
                Ok(Outcome::reload(
                    dispatcher.tls.clone(),
                    trigger,
                    self.logger.clone(),
                ))
            }
        }
    }

    /// Opens the explicit transaction (Bolt `BEGIN` or Cypher `BEGIN`).
    pub async fn begin(&mut self) -> Result<(), Failure> {
        if self.tx.is_some() {
            return Err(EngineError::client(guard::NESTED_TRANSACTION).into());
        }
        let (tx, entry) = self.dispatcher.transactions.track(
            self.dispatcher.engine.begin().await?,
            self.principal.user.clone(),
        );
        self.tx = Some(tx);
        self.tx_entry = Some(entry);
        Ok(())
    }

    /// Commits the explicit transaction (Bolt or Cypher `COMMIT`).
    pub async fn commit(&mut self) -> Result<(), Failure> {
        self.tx_entry = None;
        match self.tx.take() {
            None => Err(EngineError::client(guard::NO_TRANSACTION_TO_COMMIT).into()),
            Some(tx) => Ok(tx.commit().await?),
        }
    }

    /// Rolls back the explicit transaction (Bolt or Cypher `ROLLBACK`).
    pub async fn rollback(&mut self) -> Result<(), Failure> {
        self.tx_entry = None;
        match self.tx.take() {
            None => Err(EngineError::client(guard::NO_TRANSACTION_TO_ROLLBACK).into()),
            Some(tx) => {
                tx.rollback().await;
                Ok(())
            }
        }
    }

    /// Rolls back whatever is open (RESET, a closed connection).
    pub async fn end(&mut self) {
        self.tx_entry = None;
        if let Some(tx) = self.tx.take() {
            tx.rollback().await;
        }
    }
}

/// Records a query's text for `SHOW TRANSACTIONS`.
fn record(entry: &Entry, text: &str) {
    if let Ok(mut queries) = entry.queries.lock() {
        queries.push(text.to_owned());
    }
}

fn transaction_done() -> Outcome {
    Outcome::empty(QueryKind::Transaction)
}

fn refused(failure: Failure, kind: Option<QueryKind>) -> Refused {
    Refused { failure, kind }
}
