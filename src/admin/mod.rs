//! The dispatcher: every statement a client sends, from parsed text to rows or a refusal.
//!
//! The Bolt session hands each RUN's text to a [`Conversation`] (one per connection). The text is
//! parsed once by [`crate::cypher`]; the statement then passes the transaction-state guard
//! ([`guard`]) and the privilege check (`privileges.rs`), and is routed: queries and schema
//! statements to the engine, user statements to [`crate::auth`], `RELOAD BOLT_SERVER TLS` as a
//! message to the TlsManager, `SHOW BOLT_SERVER TLS INFO` to its status. The session gets back an
//! [`Outcome`] to stream, or a [`Refused`] with Memgraph's code and text.
//!
//! This module never touches sockets or Bolt messages; the session never touches the engine, the
//! users or TLS.

mod auth_statements;
mod conversation;
pub mod guard;
mod login;
mod outcome;
mod privileges;
mod server_statements;
mod tls_statements;
pub mod transactions;

pub use conversation::Conversation;
pub use login::{LoggedIn, LoginRefused};
pub use outcome::{Failure, Outcome, QueryKind, Refused};
pub use server_statements::{unknown_database_message, DATABASE};

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use slog::Logger;

use crate::auth::Auth;
use crate::engine::QueryEngine;
use crate::tls::TlsHandle;
use crate::value::Map;

/// What statements need, shared by every connection of a server.
pub struct Dispatcher {
    engine: Arc<dyn QueryEngine>,
    /// Users and privileges; also who may log in.
    auth: Arc<Auth>,
    /// The TLS manager, when the server runs TLS; reloads and TLS info go through it.
    tls: Option<TlsHandle>,
    /// Open transactions and sessions, for SHOW/TERMINATE TRANSACTIONS and active users.
    transactions: Arc<transactions::Registry>,
    /// `SHOW CONFIG`'s rows, from the configuration the server runs with.
    config_rows: Vec<crate::engine::Row>,
}

impl Dispatcher {
    pub fn new(engine: Arc<dyn QueryEngine>, auth: Arc<Auth>, tls: Option<TlsHandle>) -> Self {
        Dispatcher {
            engine,
            auth,
            tls,
            transactions: Arc::default(),
            config_rows: server_statements::config_rows(&crate::config::Config::default()),
        }
    }

    /// `SHOW CONFIG` reports `config` (the settings the server was started with).
    pub fn with_config(mut self, config: &crate::config::Config) -> Self {
        self.config_rows = server_statements::config_rows(config);
        self
    }

    /// The statement state of a new connection.
    pub fn conversation(
        self: &Arc<Self>,
        connection_id: String,
        peer: SocketAddr,
        logger: Logger,
    ) -> Conversation {
        Conversation::new(Arc::clone(self), connection_id, peer, logger)
    }

    /// Checks a HELLO or LOGON auth token from `peer` (see `login.rs`).
    pub async fn login(&self, token: &Map, peer: IpAddr) -> Result<LoggedIn, LoginRefused> {
        login::check(&self.auth, token, peer).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::MemoryEngine;

    fn dispatcher() -> (Arc<Dispatcher>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let auth = Arc::new(Auth::open(dir.path()).unwrap());
        let engine = Arc::new(MemoryEngine::new());
        (Arc::new(Dispatcher::new(engine, auth, None)), dir)
    }

    fn conversation(d: &Arc<Dispatcher>) -> Conversation {
        d.conversation(
            "bolt-test".into(),
            "127.0.0.1:1".parse().unwrap(),
            crate::logging::discard(),
        )
    }

    async fn classify(c: &mut Conversation, q: &str) -> Result<Outcome, Failure> {
        c.run(q, Map::new()).await.map_err(|r| r.failure)
    }

    #[tokio::test]
    async fn partial_reload_forms_are_syntax_errors() {
        let (d, _dir) = dispatcher();
        let mut c = conversation(&d);
        for q in [
            "RELOAD BOLT_SERVER",
            "RELOAD TLS;",
            "RELOAD TLS BOLT_SERVER",
            "RELOAD",
        ] {
            let err = classify(&mut c, q).await.err().unwrap();
            assert_eq!(err.code, "Memgraph.ClientError.MemgraphError.MemgraphError");
            assert!(
                err.message.contains("RELOAD BOLT_SERVER TLS"),
                "{}",
                err.message
            );
        }
    }

    #[tokio::test]
    async fn cypher_and_bolt_transaction_words_share_one_transaction() {
        let (d, _dir) = dispatcher();
        let mut c = conversation(&d);
        assert!(classify(&mut c, "BEGIN").await.is_ok());
        assert!(c.in_transaction());
        let err = c.begin().await.unwrap_err();
        assert_eq!(err.message, guard::NESTED_TRANSACTION);
        let r = classify(&mut c, "CREATE (:T)").await.ok().unwrap();
        assert!(r.explicit);
        c.rollback().await.unwrap();
        let err = classify(&mut c, "COMMIT").await.err().unwrap();
        assert_eq!(err.message, guard::NO_TRANSACTION_TO_COMMIT);
    }

    #[tokio::test]
    async fn schema_and_reload_are_refused_inside_transactions() {
        let (d, _dir) = dispatcher();
        let mut c = conversation(&d);
        c.begin().await.unwrap();
        let err = classify(&mut c, "CREATE INDEX ON :U(id)")
            .await
            .err()
            .unwrap();
        assert_eq!(
            err.message,
            "Index manipulation not allowed in multicommand transactions."
        );
        let err = classify(&mut c, "RELOAD BOLT_SERVER TLS")
            .await
            .err()
            .unwrap();
        assert_eq!(err.message, guard::RELOAD_IN_TRANSACTION);
    }
}
